//! The pipelined scheduler behind `stanch run --headless` and `stanch drill --auto`: every
//! step in dependency order, a [`StepLine`] each, and a [`HeadlessReport`] of what happened.
//!
//! Destructive steps run only with `assume_yes`; manual and draft steps are journalled
//! `step.pending`; steps a crash left started are journalled `step.interrupted` (by
//! [`crate::store::mark_interrupted`]) and never re-sent. This module prints nothing: it hands
//! each line (and each journal warning) to the caller's sink, which formats and prints it.
//!
//! Pipelined: the next step starts as soon as this one's outcome is decided
//! ([`Engine::run`]), while its last events are still being synced; each line goes to the
//! sink only once its step's events are durable, in order. The incident is updated from the step's own
//! events (not its HTTP exchanges, which nothing here reads: a foreach of 10,000 items keeps no
//! 20,000 events in memory).
//!
//! Team mode ([`run_all_team`]): the incident is folded from the shared chain's feed only (own
//! events come back on it too, in seq order with teammates'), steps a teammate holds are left
//! to them (said so on their line), and a step whose `needs` a teammate is working on waits
//! for them, on the feed, up to [`Teammates::wait`]; then it is reported blocked. A step's
//! own events are folded once the feed has delivered them (it always does: the session
//! writes them to the mirror before the append returns). Offline, own events on the pending
//! sub-chain are folded through the [`Teammates`] overlay at once, so held-step work, notes
//! and evidence go on; a step whose line has events still pending says so.

mod teammates;

use std::collections::HashSet;
use std::sync::Arc;
use std::time::Instant;

use tokio_util::sync::CancellationToken;

use super::{Decision, Engine, EngineError, Outcome};
use crate::incident::StepStatus;
use crate::journal::{Event, JournalError, NewEvent, Payload};
use crate::runbook::{Action, Runbook};
use crate::store::{Opened, StoreError};

pub use teammates::Teammates;

/// What the scheduler hands its caller to show, in order.
#[derive(Debug, Clone, Copy)]
pub enum Emit<'a> {
    /// A journalled warning (an insecure target), before any step runs.
    Warning(&'a str),
    /// A step's line, once its events are durable.
    Line(&'a StepLine),
}

#[derive(Debug, thiserror::Error)]
pub enum ScheduleError {
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Engine(#[from] EngineError),
    #[error("the journal could not record the run; lines not shown are not recorded: {0}")]
    Unrecorded(#[source] JournalError),
    #[error("cannot write the run's output: {0}")]
    Output(#[source] std::io::Error),
    /// Team mode: the shared chain raised the "journal rewritten" alarm.
    #[error("{0}")]
    Alarm(String),
}

/// What a headless run did, step by step.
#[derive(Debug, Default, Clone)]
pub struct HeadlessReport {
    pub lines: Vec<StepLine>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StepLine {
    pub step: String,
    pub state: LineState,
    pub duration_ms: Option<u64>,
    pub detail: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineState {
    Succeeded,
    Skipped,
    /// Succeeded or skipped in an earlier run of this incident.
    AlreadyDone,
    Failed,
    /// A destructive step without `--yes`.
    NeedsConfirmation,
    /// Manual/draft step, or a step waiting for one.
    NeedsHuman,
    /// Started before a crash; outcome unknown; not re-sent.
    Interrupted,
    /// A step it needs failed or could not run.
    Blocked,
    Cancelled,
    /// Team mode: a teammate holds the step; left to them.
    Held,
}

impl LineState {
    pub fn label(self) -> &'static str {
        match self {
            LineState::Succeeded => "ok",
            LineState::Skipped => "skipped",
            LineState::AlreadyDone => "done",
            LineState::Failed => "FAILED",
            LineState::NeedsConfirmation => "NEEDS --yes",
            LineState::NeedsHuman => "needs human",
            LineState::Interrupted => "INTERRUPTED",
            LineState::Blocked => "blocked",
            LineState::Cancelled => "cancelled",
            LineState::Held => "held",
        }
    }

    /// Whether this line keeps the run's exit code at 0.
    pub fn is_ok(self) -> bool {
        matches!(
            self,
            LineState::Succeeded
                | LineState::Skipped
                | LineState::AlreadyDone
                | LineState::NeedsHuman
                | LineState::Held
        )
    }
}

impl HeadlessReport {
    /// Every automatable step succeeded (human steps are listed, not counted as failures).
    pub fn all_ok(&self) -> bool {
        self.lines.iter().all(|l| l.state.is_ok())
    }

    pub fn count(&self, state: LineState) -> usize {
        self.lines.iter().filter(|l| l.state == state).count()
    }

    pub fn line(&self, step: &str) -> Option<&StepLine> {
        self.lines.iter().find(|l| l.step == step)
    }
}

/// Steps in dependency order; ties keep file order. Steps in a cycle come last (they will be
/// reported blocked).
pub fn order(rb: &Runbook) -> Vec<&str> {
    let ids: Vec<&str> = rb.steps.iter().map(crate::runbook::Step::id).collect();
    let mut done: HashSet<&str> = HashSet::new();
    let mut out = Vec::new();
    while out.len() < ids.len() {
        let next = rb.steps.iter().find(|s| {
            !done.contains(s.id()) && s.needs().all(|n| done.contains(n) || !ids.contains(&n))
        });
        let Some(step) = next else {
            out.extend(ids.iter().filter(|id| !done.contains(*id)));
            break;
        };
        done.insert(step.id());
        out.push(step.id());
    }
    out
}

/// Run every step that can run, handing warnings and lines to `emit` in order.
pub async fn run_all(
    engine: &Engine,
    opened: &mut Opened,
    assume_yes: bool,
    emit: &mut dyn FnMut(Emit<'_>) -> std::io::Result<()>,
) -> Result<HeadlessReport, ScheduleError> {
    run_all_team(engine, opened, assume_yes, None, emit).await
}

/// [`run_all`], in team mode when `team` is given (see the module doc).
pub async fn run_all_team(
    engine: &Engine,
    opened: &mut Opened,
    assume_yes: bool,
    mut team: Option<&mut Teammates>,
    emit: &mut dyn FnMut(Emit<'_>) -> std::io::Result<()>,
) -> Result<HeadlessReport, ScheduleError> {
    let rb = Arc::clone(engine.runbook());
    let mut report = HeadlessReport::default();
    // Nothing here shows a timeline; the incident keeps state only (scoring and export read
    // the journal again).
    opened.incident.drop_timeline();
    if let Some(team) = team.as_deref_mut() {
        // An earlier run ended offline: its work counts (a step it did is not run again).
        let left = opened.journal.pending_at_open();
        team.overlay.resume(&mut opened.incident, left);
    }

    for event in engine.journal_warnings(&opened.incident).await? {
        if let Ok(Payload::Warning(warning)) = event.payload() {
            emit(Emit::Warning(&warning.text)).map_err(ScheduleError::Output)?;
        }
        fold(opened, team.as_deref_mut(), vec![event]).await?;
    }

    // A crash left these started with no outcome: record that, and never re-send them here.
    crate::store::mark_interrupted(opened)?;

    // Lines are printed in order, each once its step's last event is durable.
    let mut through: Vec<u64> = Vec::new();
    let mut printed = 0;
    for id in order(&rb.runbook) {
        if rb.runbook.step(id).is_none() {
            continue;
        }
        if let Some(team) = team.as_deref_mut() {
            team.drain(&mut opened.incident)?;
        }
        let status = opened.incident.status(id);
        let held_by = team.as_deref().and_then(|t| {
            opened
                .incident
                .team
                .holder(id)
                .filter(|holder| *holder != t.login)
                .map(str::to_owned)
        });
        let mut line = StepLine {
            step: id.to_owned(),
            state: LineState::Succeeded,
            duration_ms: None,
            detail: String::new(),
        };
        let mut last_seq = 0;
        match status {
            StepStatus::Succeeded | StepStatus::Skipped => {
                line.state = LineState::AlreadyDone;
                line.detail = match &held_by {
                    Some(holder) => format!("{} by {holder}", status.as_str()),
                    None => format!("{} in an earlier run", status.as_str()),
                };
            }
            _ if held_by.is_some() => {
                line.state = LineState::Held;
                line.detail = format!(
                    "held by {}: left to them (not run here)",
                    held_by.unwrap_or_default()
                );
            }
            StepStatus::Interrupted | StepStatus::Running => {
                line.state = LineState::Interrupted;
                let seq = opened.incident.step(id).started_seq.unwrap_or_default();
                line.detail = format!(
                    "outcome unknown (started at seq {seq}, no result before the crash); NOT re-sent: \
                     check the service, then re-run it from the TUI"
                );
            }
            StepStatus::NeedsHuman => {
                line.state = LineState::NeedsHuman;
                line.detail = opened.incident.step(id).pending_reason.unwrap_or_default();
            }
            StepStatus::Pending | StepStatus::Failed => {
                last_seq = run_step(
                    engine,
                    opened,
                    &mut line,
                    &report,
                    assume_yes,
                    team.as_deref_mut(),
                )
                .await?;
            }
        }
        report.lines.push(line);
        through.push(last_seq);
        while printed < report.lines.len() && opened.journal.is_durable(through[printed])? {
            emit(Emit::Line(&report.lines[printed])).map_err(ScheduleError::Output)?;
            printed += 1;
        }
    }
    for (line, &seq) in report.lines.iter().zip(&through).skip(printed) {
        opened
            .journal
            .durable(seq)
            .await
            .map_err(ScheduleError::Unrecorded)?;
        emit(Emit::Line(line)).map_err(ScheduleError::Output)?;
    }
    Ok(report)
}

/// Decide and run one step that has not succeeded yet; returns the last seq it queued (its
/// line may be printed once that is durable).
async fn run_step(
    engine: &Engine,
    opened: &mut Opened,
    line: &mut StepLine,
    report: &HeadlessReport,
    assume_yes: bool,
    mut team: Option<&mut Teammates>,
) -> Result<u64, ScheduleError> {
    let rb = Arc::clone(engine.runbook());
    let Some(step) = rb.runbook.step(&line.step) else {
        return Ok(0);
    };
    // Needs: every needed step must have succeeded (or been skipped) in this incident.
    for need in step.needs() {
        let earlier = report.line(need).map(|l| l.state);
        if opened.incident.status(need).is_done() {
            continue;
        }
        // A teammate holds it: wait for them to finish it (driven by the feed).
        if let Some(team) = team.as_deref_mut()
            && earlier == Some(LineState::Held)
        {
            let done = team
                .wait_until(&mut opened.incident, |i| i.status(need).is_done())
                .await?;
            if done {
                continue;
            }
            line.state = LineState::Blocked;
            line.detail = format!(
                "needs `{need}`, held by {}, not done within {}s",
                opened.incident.team.holder(need).unwrap_or("a teammate"),
                team.wait.as_secs()
            );
            return Ok(0);
        }
        // Waiting for a person is not a failure of the automation; a failed need is.
        let waiting_for_human = earlier == Some(LineState::NeedsHuman);
        line.state = if waiting_for_human {
            LineState::NeedsHuman
        } else {
            LineState::Blocked
        };
        line.detail = format!(
            "needs `{need}`, which is {}",
            earlier.map_or("not done", LineState::label)
        );
        return Ok(0);
    }
    match step.action() {
        Some(Action::Manual(items)) => {
            let reason = match items.len() {
                1 => "manual checklist (1 item)".to_owned(),
                n => format!("manual checklist ({n} items)"),
            };
            line.detail = pending(opened, team.as_deref_mut(), &line.step, reason).await?;
            line.state = LineState::NeedsHuman;
            return Ok(0);
        }
        Some(Action::Draft(draft)) => {
            let reason = format!("draft `{}` to write and save", draft.output.get_ref());
            line.detail = pending(opened, team.as_deref_mut(), &line.step, reason).await?;
            line.state = LineState::NeedsHuman;
            return Ok(0);
        }
        Some(Action::Http(_)) | None => {}
    }
    // Nobody listens to progress here: the lines are printed from the outcome.
    let (tx, _) = tokio::sync::mpsc::unbounded_channel();
    let started = Instant::now();
    let decision = Decision {
        assume_yes,
        ..Decision::default()
    };
    let ran = engine
        .run(
            &line.step,
            &opened.incident,
            decision,
            tx,
            CancellationToken::new(),
        )
        .await;
    let offline = fold(opened, team, ran.events).await?;
    let outcome = ran.outcome;
    line.duration_ms = Some(u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX));
    (line.state, line.detail) = match outcome {
        Outcome::Succeeded { summary } => (LineState::Succeeded, summary),
        Outcome::Failed { error } => (LineState::Failed, error),
        Outcome::Skipped { reason } => (LineState::Skipped, reason),
        Outcome::NeedsHuman { reason } => (LineState::NeedsHuman, reason),
        Outcome::NeedsConfirmation { expected } => (
            LineState::NeedsConfirmation,
            format!("destructive (confirm text `{expected}`): not run; pass --yes to allow it"),
        ),
        Outcome::Cancelled => (LineState::Cancelled, "cancelled".into()),
        Outcome::Interrupted => (
            LineState::Interrupted,
            "outcome unknown; not re-sent".into(),
        ),
        Outcome::Held { by } => (
            LineState::Held,
            format!("held by {by}: left to them (not run here)"),
        ),
    };
    say_offline(line, offline);
    Ok(ran.settle.through())
}

async fn pending(
    opened: &mut Opened,
    team: Option<&mut Teammates>,
    step: &str,
    reason: String,
) -> Result<String, ScheduleError> {
    let appended = opened
        .journal
        .append(NewEvent::step(step, Payload::pending(&reason)))
        .await;
    let event = match appended {
        Ok(event) => event,
        // Team link down and the step is not held here: the mark waits for the link (a
        // person takes the step up anyway); the line says why it is not recorded.
        Err(JournalError::Shared(error))
            if matches!(
                error.downcast_ref::<crate::team::TeamError>(),
                Some(crate::team::TeamError::NeedsLink { .. })
            ) =>
        {
            return Ok(format!("{reason} (not recorded: {error})"));
        }
        Err(error) => return Err(error.into()),
    };
    fold(opened, team, vec![event]).await?;
    Ok(reason)
}

/// A step whose events went to the pending sub-chain (team link down) says so on its line.
fn say_offline(line: &mut StepLine, offline: bool) {
    if offline {
        line.detail
            .push_str(" (offline: pending, merged when the team link is back)");
    }
}

/// Fold the run's own events: directly from a file journal; in team mode from the feed, which
/// carries them too (in seq order with teammates'), so nothing is folded twice or out of order.
/// Returns whether any of them is on the pending sub-chain (team mode, offline).
async fn fold(
    opened: &mut Opened,
    team: Option<&mut Teammates>,
    own: Vec<Event>,
) -> Result<bool, ScheduleError> {
    match team {
        None => {
            for event in own {
                opened.incident.apply(event);
            }
            Ok(false)
        }
        Some(team) => {
            // Offline: events on the pending sub-chain are folded through the overlay.
            let (pending, shared): (Vec<Event>, Vec<Event>) =
                own.into_iter().partition(|e| opened.journal.is_pending(e));
            let through = shared.iter().map(|e| e.seq).max().unwrap_or(0);
            team.catch_up(&mut opened.incident, through).await?;
            let offline = !pending.is_empty();
            team.pending(&mut opened.incident, pending);
            Ok(offline)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runbook(steps: &str) -> Runbook {
        toml::from_str(&format!("[runbook]\nid = \"t\"\ntitle = \"t\"\n{steps}")).unwrap()
    }

    fn step(id: &str, needs: &[&str]) -> String {
        format!("[[steps]]\nid = \"{id}\"\nphase = \"p\"\nneeds = {needs:?}\nmanual = [\"x\"]\n")
    }

    #[test]
    fn order_puts_needs_first_and_keeps_file_order_among_equals() {
        let rb = runbook(
            &[
                step("c", &["b"]),
                step("a", &[]),
                step("b", &["a"]),
                step("d", &[]),
            ]
            .concat(),
        );
        assert_eq!(order(&rb), ["a", "b", "c", "d"]);
    }

    #[test]
    fn order_puts_a_cycle_last_instead_of_looping() {
        let rb = runbook(&[step("x", &["y"]), step("y", &["x"]), step("z", &[])].concat());
        assert_eq!(order(&rb), ["z", "x", "y"]);
    }

    #[test]
    fn only_automation_failures_make_the_run_fail() {
        let line = |state| StepLine {
            step: "s".into(),
            state,
            duration_ms: None,
            detail: String::new(),
        };
        let ok = HeadlessReport {
            lines: vec![
                line(LineState::Succeeded),
                line(LineState::NeedsHuman),
                line(LineState::Skipped),
            ],
        };
        assert!(ok.all_ok());
        for bad in [
            LineState::Failed,
            LineState::NeedsConfirmation,
            LineState::Interrupted,
            LineState::Blocked,
            LineState::Cancelled,
        ] {
            let report = HeadlessReport {
                lines: vec![line(LineState::Succeeded), line(bad)],
            };
            assert!(!report.all_ok(), "{bad:?}");
        }
    }
}
