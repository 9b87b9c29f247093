//! [`Engine::execute`]: one step from its gates to its journalled outcome.
//!
//! Order: unknown step → team claim (see [`claim`]) → interrupted/manual gates → `when` →
//! confirmation → `step.started` (queued with the first request; synced before it leaves if
//! it can change something) → requests
//! (`poll` or `foreach`) → closing events (`mark`, outcome) queued behind every exchange.
//! [`Engine::run`] returns there, with the outcome and the step's events (final, perhaps not
//! yet durable) and a [`Settle`] handle; [`Engine::execute`] also waits for it, so its outcome
//! is only ever returned once every event of the step is durable and reported. Every text
//! that leaves is redacted.

use std::time::Instant;

use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::recorder::{Recorder, Settle};
use super::{Decision, Engine, Outcome, Progress, expect, foreach, poll, prepare};
use crate::incident::{Incident, StepStatus};
use crate::journal::payload::{
    Captures, Confirm, FailedExpectation, Items, Mark, StepFailed, StepStarted, StepSucceeded,
    StepTakenOver, Via, Warning,
};
use crate::journal::{Event, JournalError, Payload};
use crate::runbook::Action;
use crate::secret::Redactor;

/// Team mode: a step is claimed (journalled) before it runs. A step the responder holds runs
/// as it is; a free one is claimed; one a teammate holds runs only with an explicit
/// take-over (`step.taken_over`, with the typed reason), else [`Outcome::Held`]. The database
/// checks the same rules, so a claim that loses a race is refused there (a journal error).
async fn claim(
    step_id: &str,
    incident: &Incident,
    decision: &Decision,
    rec: &Recorder,
    login: &str,
) -> Result<Option<Outcome>, JournalError> {
    match incident.team.holder(step_id) {
        Some(holder) if holder == login => Ok(None),
        Some(holder) => match decision.take_over.as_deref().map(str::trim) {
            Some(reason) if !reason.is_empty() => {
                rec.now(StepTakenOver {
                    from: holder.to_owned(),
                    reason: reason.to_owned(),
                })
                .await?;
                Ok(None)
            }
            _ => Ok(Some(Outcome::Held {
                by: holder.to_owned(),
            })),
        },
        None => {
            rec.now(Payload::claimed()).await?;
            Ok(None)
        }
    }
}

/// A step whose outcome is decided: see [`Engine::run`].
pub struct Ran {
    pub outcome: Outcome,
    /// The step's events other than its HTTP exchanges, in seq order: final (seq, time,
    /// hash) but not necessarily durable yet. Apply them to the incident to decide what runs
    /// next; report nothing before `settle` says it is durable.
    pub events: Vec<Event>,
    pub settle: Settle,
}

impl Engine {
    /// Run one step to its outcome and return once every event of it is durable and has
    /// been sent on `progress` (see the module doc).
    pub async fn execute(
        &self,
        step_id: &str,
        incident: &Incident,
        decision: Decision,
        progress: UnboundedSender<Progress>,
        cancel: CancellationToken,
    ) -> Outcome {
        let ran = self
            .run(step_id, incident, decision, progress, cancel)
            .await;
        match ran.settle.wait().await {
            Ok(()) => ran.outcome,
            Err(err) => journal_failed(&err, &self.inner.mask.redactor()),
        }
    }

    /// Run one step until its outcome is decided: every request is answered and every event
    /// queued (requests that can change something waited for their journal entry to be
    /// durable), but the last syncs may still be running. For callers that go on to the next
    /// step while they finish; [`Ran::settle`] says when the step may be reported.
    pub async fn run(
        &self,
        step_id: &str,
        incident: &Incident,
        decision: Decision,
        progress: UnboundedSender<Progress>,
        cancel: CancellationToken,
    ) -> Ran {
        let started = Instant::now();
        let rec = Recorder::new(self.inner.journal.clone(), progress, step_id);
        let redactor = self.inner.mask.redactor();
        let outcome = match self
            .execute_inner(step_id, incident, &decision, &rec, &cancel, started)
            .await
        {
            Ok(outcome) => redact_outcome(outcome, &redactor),
            Err(err) => journal_failed(&err, &redactor),
        };
        Ran {
            outcome,
            events: rec.kept(),
            settle: rec.settle(),
        }
    }

    #[expect(
        clippy::too_many_lines,
        reason = "the step lifecycle gates (when, confirm, interrupted, send, judge) read best in order"
    )]
    async fn execute_inner(
        &self,
        step_id: &str,
        incident: &Incident,
        decision: &Decision,
        rec: &Recorder,
        cancel: &CancellationToken,
        started: Instant,
    ) -> Result<Outcome, JournalError> {
        let Ok(step) = self.step(step_id) else {
            return Ok(Outcome::Failed {
                error: format!("no step `{step_id}` in the runbook"),
            });
        };
        if let Some(login) = self.inner.journal.shared_login()
            && matches!(step.action(), Some(Action::Http(_)))
            && let Some(held) = claim(step_id, incident, decision, rec, login).await?
        {
            return Ok(held);
        }
        let status = incident.status(step_id);
        if matches!(status, StepStatus::Running | StepStatus::Interrupted) && !decision.rerun {
            return Ok(Outcome::Interrupted);
        }
        let http = match step.action() {
            Some(Action::Http(http)) => http,
            Some(Action::Manual(_)) => {
                return Ok(Outcome::NeedsHuman {
                    reason: "manual checklist: a person ticks it off".into(),
                });
            }
            Some(Action::Draft(_)) => {
                return Ok(Outcome::NeedsHuman {
                    reason: "draft document: a person writes and saves it".into(),
                });
            }
            None => {
                return Ok(Outcome::Failed {
                    error: "step has no action (http, manual or draft)".into(),
                });
            }
        };
        let ctx = self.context(incident);
        let parts = self.parts();

        if let Some(when) = &step.when {
            match expect::when(parts.templates, when.get_ref(), &ctx.base()) {
                Ok(true) => {}
                Ok(false) => {
                    let reason = expect::skip_reason(when.get_ref());
                    rec.now(Payload::skipped(reason.clone())).await?;
                    return Ok(Outcome::Skipped { reason });
                }
                Err(err) => return Self::fail(rec, started, &err, &[], None),
            }
        }

        // An insecure target is warned about in the journal before it is first used, whoever
        // drives the engine.
        if let Some(warning) = self
            .inner
            .clients
            .get(http.target.get_ref())
            .and_then(|c| c.insecure_warning.as_ref())
            && !incident.warnings.contains(warning)
        {
            rec.now_incident(Warning {
                text: warning.clone(),
            })
            .await?;
        }

        if let Some(confirm) = &step.confirm {
            let expected = match prepare::render_confirm(parts, confirm.get_ref(), &ctx) {
                Ok(text) => text,
                Err(err) => return Self::fail(rec, started, &err, &[], None),
            };
            // Shown with control and invisible characters escaped, and typed as shown.
            let shown = crate::text::escape(&expected);
            let via = if decision.typed_confirmation.as_deref() == Some(&*shown) {
                Via::Typed
            } else if decision.assume_yes {
                Via::AssumeYes
            } else {
                return Ok(Outcome::NeedsConfirmation {
                    expected: shown.into_owned(),
                });
            };
            rec.now(Confirm::new(expected, via)).await?;
        }

        let attempt = incident.step(step_id).attempts + 1;
        // Queued just before the first request event (after the request is prepared), so one
        // group commit usually covers both; nothing is sent before it is durable.
        rec.start(StepStarted {
            attempt,
            rerun: decision.rerun,
            // The recorder gives it the first request's shape.
            request: None,
        });

        let run = poll::Run {
            parts,
            ctx: &ctx,
            step,
            http,
            rec,
            cancel,
            clients: &self.inner.clients,
            opts: &self.inner.opts,
        };
        let result = if step.foreach.is_some() {
            foreach::run(&run).await
        } else {
            poll::run(&run).await
        };
        // Team mode: every exchange on the server before the outcome (see `recorder`).
        rec.flush().await?;
        // The outcome is queued behind every exchange event; it is reported only once all of
        // them are durable (`Settle`).
        match result {
            poll::StepResult::Passed {
                summary,
                captures,
                items,
            } => {
                let mut closing = Vec::new();
                if let Some(mark) = &step.mark {
                    let now = jiff::Timestamp::now();
                    let at = now.round(jiff::Unit::Millisecond).unwrap_or(now);
                    closing.push(Payload::from(Mark {
                        name: mark.get_ref().clone(),
                        at: Some(at),
                        corrects: None,
                    }));
                }
                closing.push(Payload::from(StepSucceeded {
                    duration_ms: elapsed_ms(started),
                    summary,
                    captures,
                    items: items.map(|(total, failed)| Items { total, failed }),
                }));
                let done = rec.finish(closing)?;
                // What was journalled (redacted), not what was asked for.
                let summary = match done.last().map(Event::payload) {
                    Some(Ok(Payload::StepSucceeded(p))) => p.summary,
                    _ => String::new(),
                };
                Ok(Outcome::Succeeded { summary })
            }
            poll::StepResult::Failed {
                error,
                expectations,
                items,
            } => Self::fail(rec, started, &error, &expectations, items),
            poll::StepResult::Cancelled => {
                let error =
                    "cancelled by the responder; requests already sent may have taken effect";
                Self::fail(rec, started, error, &[], None)?;
                Ok(Outcome::Cancelled)
            }
        }
    }

    fn fail(
        rec: &Recorder,
        started: Instant,
        error: &str,
        expectations: &[expect::Failed],
        items: Option<(u64, u64)>,
    ) -> Result<Outcome, JournalError> {
        let done = rec.finish(vec![Payload::from(StepFailed {
            duration_ms: elapsed_ms(started),
            error: error.to_owned(),
            failed_expectations: expectations
                .iter()
                .map(|f| FailedExpectation {
                    expr: f.expr.clone(),
                    actual: f.actual.clone(),
                })
                .collect(),
            items: items.map(|(total, failed)| Items { total, failed }),
            captures: Captures::new(),
        })])?;
        // What was journalled (redacted), not what was asked for.
        let error = match done.last().map(Event::payload) {
            Some(Ok(Payload::StepFailed(p))) => p.error,
            _ => error.to_owned(),
        };
        Ok(Outcome::Failed { error })
    }
}

fn journal_failed(err: &JournalError, r: &Redactor) -> Outcome {
    let error = match err {
        // The team chain says what happened itself (a refusal, "needs the team link", the
        // alarm): no disk to check.
        JournalError::Shared(_) => format!("{err}: not recorded"),
        _ => format!("{err}: the journal could not be written; check the disk and `stanch verify`"),
    };
    Outcome::Failed {
        error: r.redact(&error),
    }
}

fn elapsed_ms(since: Instant) -> u64 {
    u64::try_from(since.elapsed().as_millis()).unwrap_or(u64::MAX)
}

fn redact_outcome(outcome: Outcome, r: &Redactor) -> Outcome {
    match outcome {
        Outcome::Succeeded { summary } => Outcome::Succeeded {
            summary: r.redact(&summary),
        },
        Outcome::Failed { error } => Outcome::Failed {
            error: r.redact(&error),
        },
        Outcome::Skipped { reason } => Outcome::Skipped {
            reason: r.redact(&reason),
        },
        Outcome::NeedsHuman { reason } => Outcome::NeedsHuman {
            reason: r.redact(&reason),
        },
        Outcome::NeedsConfirmation { expected } => Outcome::NeedsConfirmation {
            expected: r.redact(&expected),
        },
        other => other,
    }
}
