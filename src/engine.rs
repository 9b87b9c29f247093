//! The step engine: runs one runbook step against real services and journals what happened.
//!
//! A step moves through three states, each its own type, so a request cannot be sent before it
//! is prepared and an outcome cannot exist without the exchange that produced it:
//!
//! ```text
//!                 when / confirm / interrupted gates (nothing sent)
//!   Step ──prepare::prepare──▶ Prepared ──send::send──▶ Exchange ──expect::check──▶ Outcome
//!          templates rendered,   (method, url,   status, headers,  expect/capture,
//!          secrets resolved       headers, body)  capped body        retry, foreach
//!
//!   journal:  confirm?  step.started (synced)  http.request  http.response  evidence.captured?
//!                        ─ before any byte ─    ─── group-committed while the network works ───
//!                                                                 mark?  step.succeeded|failed|skipped
//!                                                                        ─ all synced before Outcome ─
//! ```
//!
//! Journal-before-report: `step.started` is synced before the first request leaves; per-exchange
//! events are appended concurrently with the network (see [`recorder`]); [`Engine::execute`]
//! returns only after every event of the step is durable, and each event is sent on the
//! `progress` channel only after its own sync.
//!
//! This module knows HTTP and the journal; it never draws, prints or prompts. Secret values
//! reach only the request being sent: every text that leaves (journal, progress, outcome,
//! preview) is built from masked data or passed through the [`Redactor`].

mod client;
mod context;
mod evidence;
mod expect;
mod foreach;
mod mask;
mod poll;
mod prepare;
mod recorder;
mod send;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use crate::incident::{Incident, StepStatus};
use crate::journal::{Event, Journal, JournalError, Kind};
use crate::runbook::{self, Action, Step};
use crate::secret::{Redactor, Secrets};
use crate::template::Templates;

pub use prepare::Preview;
pub use send::SendError;

use recorder::Recorder;

/// Response bodies larger than this are refused unless a step sets `max_body`.
pub const DEFAULT_MAX_BODY: u64 = 16 << 20;
/// Parallel requests for `foreach` when a step does not say.
pub const DEFAULT_CONCURRENCY: u32 = 8;
/// Per-target timeout when a target does not say.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Knobs the caller may turn; defaults suit real incidents.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub max_body: u64,
    pub default_timeout: Duration,
    /// Written into custody records (`tool_version`).
    pub tool_version: String,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            max_body: DEFAULT_MAX_BODY,
            default_timeout: DEFAULT_TIMEOUT,
            tool_version: format!("stanch {}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// Why the engine could not be built or could not describe a step.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no step `{0}` in the runbook")]
    UnknownStep(String),
    #[error("step `{step}` is a {kind} step: it sends no request")]
    NotHttp { step: String, kind: &'static str },
    #[error("step `{step}` uses target `{target}`, which the runbook does not define")]
    UnknownTarget { step: String, target: String },
    #[error("target `{target}`: {reason}")]
    Client { target: String, reason: String },
    #[error("step `{step}`: {reason}")]
    Prepare { step: String, reason: String },
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// What the responder decided before the step runs.
#[derive(Debug, Clone, Default)]
pub struct Decision {
    /// The text typed in the confirmation dialog (destructive steps).
    pub typed_confirmation: Option<String>,
    /// Headless `--yes`: destructive steps run without typing; journalled as `via: "--yes"`.
    pub assume_yes: bool,
    /// Explicitly re-run a step that was interrupted (outcome unknown).
    pub rerun: bool,
}

/// Sent on the progress channel while a step runs.
#[derive(Debug, Clone)]
pub enum Progress {
    /// An event, already synced to the journal.
    Journalled(Event),
    /// A poll attempt finished (`status` is `None` on a transport error).
    Attempt { n: u32, status: Option<u16> },
    /// foreach progress.
    Items { done: u64, total: u64, failed: u64 },
}

/// How a step ended. Every text is redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Succeeded {
        summary: String,
    },
    Failed {
        error: String,
    },
    Skipped {
        reason: String,
    },
    /// A manual or draft step: a person has to do it.
    NeedsHuman {
        reason: String,
    },
    /// A destructive step without the exact confirmation text (nothing was sent or journalled).
    NeedsConfirmation {
        expected: String,
    },
    Cancelled,
    /// Started before a crash, outcome unknown: not re-sent without `Decision::rerun`.
    Interrupted,
}

impl Outcome {
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Succeeded { .. } | Outcome::Skipped { .. })
    }
}

/// Runs steps. Cheap to clone: everything is shared.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    rb: Arc<runbook::Loaded>,
    journal: Journal,
    secrets: Secrets,
    mask: mask::Mask,
    templates: Templates,
    clients: client::Clients,
    opts: EngineOptions,
}

impl Engine {
    /// Build one HTTP client per target (timeouts, CA files, client certificates). Installs the
    /// secrets' redactor on the journal, so nothing appended from now on can carry a value.
    pub fn new(
        rb: Arc<runbook::Loaded>,
        journal: Journal,
        secrets: Secrets,
        opts: EngineOptions,
    ) -> Result<Self, EngineError> {
        let clients = client::Clients::build(&rb, opts.default_timeout)?;
        let mask = mask::Mask::new(&secrets, journal.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                rb,
                journal,
                secrets,
                mask,
                templates: Templates::new(),
                clients,
                opts,
            }),
        })
    }

    pub fn runbook(&self) -> &Arc<runbook::Loaded> {
        &self.inner.rb
    }

    pub fn journal(&self) -> &Journal {
        &self.inner.journal
    }

    /// Scrubs every loaded secret, every value derived from one, and their encodings from a
    /// text: use it on anything shown. It grows as steps run; take a fresh one per text.
    pub fn redactor(&self) -> Redactor {
        self.inner.mask.redactor()
    }

    pub fn secrets(&self) -> &Secrets {
        &self.inner.secrets
    }

    /// Targets with `insecure = true`, with the warning text to show (journalled once per
    /// incident by [`Engine::journal_warnings`]).
    pub fn warnings(&self) -> Vec<String> {
        self.inner.clients.warnings().to_vec()
    }

    /// Journal a `warning` for each insecure target not yet warned about in this incident.
    pub async fn journal_warnings(&self, incident: &Incident) -> Result<Vec<Event>, EngineError> {
        let mut out = Vec::new();
        for text in self.inner.clients.warnings() {
            if !incident.warnings.iter().any(|w| w == text) {
                out.push(
                    self.inner
                        .journal
                        .append(crate::journal::NewEvent::new(
                            Kind::Warning,
                            json!({ "text": text }),
                        ))
                        .await?,
                );
            }
        }
        Ok(out)
    }

    fn step(&self, step_id: &str) -> Result<&Step, EngineError> {
        self.inner
            .rb
            .runbook
            .step(step_id)
            .ok_or_else(|| EngineError::UnknownStep(step_id.to_owned()))
    }

    /// The request a step will send, secrets masked, and its rendered confirmation text.
    pub fn preview(&self, step_id: &str, incident: &Incident) -> Result<Preview, EngineError> {
        let step = self.step(step_id)?;
        let ctx = self.context(incident);
        prepare::preview(self.parts(), step, &ctx)
    }

    fn context(&self, incident: &Incident) -> context::Context {
        context::Context::new(
            &self.inner.rb,
            incident,
            &self.inner.secrets,
            self.inner.journal.dir(),
        )
    }

    fn parts(&self) -> prepare::Parts<'_> {
        prepare::Parts {
            rb: &self.inner.rb,
            templates: &self.inner.templates,
            secrets: &self.inner.secrets,
            mask: &self.inner.mask,
        }
    }

    /// Run one step to its outcome (see the module doc for what is journalled, and when).
    pub async fn execute(
        &self,
        step_id: &str,
        incident: &Incident,
        decision: Decision,
        progress: UnboundedSender<Progress>,
        cancel: CancellationToken,
    ) -> Outcome {
        let started = Instant::now();
        let rec = Recorder::new(self.inner.journal.clone(), progress, step_id);
        let outcome = match self
            .execute_inner(step_id, incident, &decision, &rec, &cancel, started)
            .await
        {
            Ok(outcome) => outcome,
            Err(err) => Outcome::Failed {
                error: format!(
                    "{err}: the journal could not be written; check the disk and `stanch verify`"
                ),
            },
        };
        redact_outcome(outcome, &self.inner.mask.redactor())
    }

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
                    let reason = format!("`when = {}` is false", when.get_ref());
                    rec.now(Kind::StepSkipped, json!({ "reason": reason }))
                        .await?;
                    return Ok(Outcome::Skipped { reason });
                }
                Err(err) => return self.fail(rec, started, &err, &[], None).await,
            }
        }

        if let Some(confirm) = &step.confirm {
            let expected = match prepare::render_confirm(parts, confirm.get_ref(), &ctx) {
                Ok(text) => text,
                Err(err) => return self.fail(rec, started, &err, &[], None).await,
            };
            let via = if decision.typed_confirmation.as_deref() == Some(expected.as_str()) {
                "typed"
            } else if decision.assume_yes {
                "--yes"
            } else {
                return Ok(Outcome::NeedsConfirmation { expected });
            };
            rec.now(
                Kind::Confirm,
                json!({ "expected": expected, "typed_matched": via == "typed", "via": via }),
            )
            .await?;
        }

        let attempt = incident.step(step_id).attempts + 1;
        rec.now(
            Kind::StepStarted,
            json!({ "attempt": attempt, "rerun": decision.rerun }),
        )
        .await?;

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
        // The outcome is queued behind every exchange event and reported only once all of
        // them are durable (`Recorder::finish`).
        match result {
            poll::StepResult::Passed {
                summary,
                captures,
                items,
            } => {
                let mut closing = Vec::new();
                if let Some(mark) = &step.mark {
                    let now = jiff::Timestamp::now();
                    let at = now
                        .round(jiff::Unit::Millisecond)
                        .unwrap_or(now)
                        .to_string();
                    closing.push((Kind::Mark, json!({ "name": mark.get_ref(), "at": at })));
                }
                let mut data = json!({
                    "duration_ms": elapsed_ms(started),
                    "summary": summary,
                    "captures": captures,
                });
                if let Some((total, failed)) = items {
                    data["items"] = json!({ "total": total, "failed": failed });
                }
                closing.push((Kind::StepSucceeded, data));
                let done = rec.finish(closing).await?;
                Ok(Outcome::Succeeded {
                    summary: done
                        .last()
                        .and_then(|e| e.data_str("summary"))
                        .unwrap_or_default()
                        .to_owned(),
                })
            }
            poll::StepResult::Failed {
                error,
                expectations,
                items,
            } => self.fail(rec, started, &error, &expectations, items).await,
            poll::StepResult::Cancelled => {
                let error =
                    "cancelled by the responder; requests already sent may have taken effect";
                self.fail(rec, started, error, &[], None).await?;
                Ok(Outcome::Cancelled)
            }
        }
    }

    async fn fail(
        &self,
        rec: &Recorder,
        started: Instant,
        error: &str,
        expectations: &[expect::Failed],
        items: Option<(u64, u64)>,
    ) -> Result<Outcome, JournalError> {
        let mut data = json!({
            "duration_ms": elapsed_ms(started),
            "error": error,
            "failed_expectations": expectations
                .iter()
                .map(|f| json!({ "expr": f.expr, "actual": f.actual }))
                .collect::<Vec<_>>(),
        });
        if let Some((total, failed)) = items {
            data["items"] = json!({ "total": total, "failed": failed });
        }
        let done = rec.finish(vec![(Kind::StepFailed, data)]).await?;
        Ok(Outcome::Failed {
            error: done
                .last()
                .and_then(|e| e.data_str("error"))
                .unwrap_or(error)
                .to_owned(),
        })
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
