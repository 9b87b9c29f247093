//! Messages from the engine and the journal: readiness, synced events, step progress and
//! outcomes. The selection follows a finished step to the next ready one when the responder
//! has not moved. Part of `update`: pure, effects returned as values.

use super::steps::open_confirm;
use crate::engine::{Outcome, Preview, Progress};
use crate::journal::shared::News;
use crate::journal::{Event, Kind};
use crate::tui::app::{App, DisplayStatus, EngineState, Modal};
use crate::tui::effect::Effect;
use crate::tui::error::TuiError;

pub(super) fn on_engine_ready(app: &mut App, ready: Result<(), TuiError>) -> Vec<Effect> {
    app.engine = match ready {
        Ok(()) => EngineState::Ready,
        Err(error) => {
            app.modal = Some(Modal::Error {
                message: error.to_string(),
            });
            EngineState::Failed(error)
        }
    };
    // Previews asked for while it was starting were not computed.
    refresh_preview(app)
}

/// An own event, synced (`pending`: on the pending sub-chain only, team mode offline).
pub(super) fn on_journalled(app: &mut App, event: Event, pending: bool) -> Vec<Effect> {
    // A step's captures may change what the selected step will send.
    let captured = matches!(event.kind, Kind::StepSucceeded | Kind::StepFailed);
    // The responder is still on the step that just finished: take them to the next.
    let done_here = matches!(event.kind, Kind::StepSucceeded | Kind::StepSkipped)
        && event.step.is_some()
        && event.step == app.selected_id();
    if pending {
        app.absorb_pending(event);
    } else {
        app.absorb(event);
    }
    if done_here {
        select_next_ready(app, true);
    }
    if captured || done_here {
        refresh_preview(app)
    } else {
        Vec::new()
    }
}

/// Team mode: the shared chain's news. Events (teammates' and own, each once, in seq order)
/// are folded like own ones (`absorb` skips what is there already) without moving the
/// responder's selection; the alarm is kept for the status line and shown in a dialog.
pub(super) fn on_team(app: &mut App, news: News) -> Vec<Effect> {
    match news {
        News::Events(events) => {
            let captured = events
                .iter()
                .any(|e| matches!(e.kind, Kind::StepSucceeded | Kind::StepFailed));
            for event in events {
                app.absorb(event);
            }
            if captured {
                return refresh_preview(app);
            }
        }
        News::CaughtUp(_) => app.link_down = None,
        News::Disconnected(why) => app.link_down = Some(why),
        News::Alarm(text) => {
            app.modal = Some(Modal::Error {
                message: text.clone(),
            });
            app.alarm = Some(text);
        }
        // The merged events arrive as `Events`; the conflicts are for the commander's eyes.
        News::Merged { conflicts, .. } if !conflicts.is_empty() => {
            app.modal = Some(Modal::Error {
                message: conflicts.join("\n"),
            });
            app.merge_conflicts = conflicts;
        }
        News::Merged { .. } => {}
        News::Pending(n) => app.offline_pending = n,
        News::MergeFailed(why) => {
            app.modal = Some(Modal::Error {
                message: format!("pending events not merged: {why}"),
            });
        }
    }
    Vec::new()
}

pub(super) fn on_progress(app: &mut App, step: &str, progress: Progress) -> Vec<Effect> {
    let run = match progress {
        // The runner sends journalled events as their own messages (pending or not).
        Progress::Journalled(event) => return on_journalled(app, event, false),
        progress => (app.running.get_mut(step), progress),
    };
    if let (Some(run), progress) = run {
        match progress {
            Progress::Attempt { n, status } => run.attempt = Some((n, status)),
            Progress::Items {
                done,
                total,
                failed,
            } => run.items = Some((done, total, failed)),
            Progress::Journalled(_) => {}
        }
    }
    Vec::new()
}

/// Select the first ready step after the selected one (wrapping if `wrap`); stay if there is
/// none. The step moved to is `following` until the responder presses a key.
pub(super) fn select_next_ready(app: &mut App, wrap: bool) {
    let len = app.order.len();
    let next = (1..len)
        .map(|offset| app.selected + offset)
        .filter(|&at| wrap || at < len)
        .map(|at| at % len)
        .find(|&at| {
            app.order
                .get(at)
                .and_then(|&i| app.runbook.runbook.steps.get(i))
                .is_some_and(|step| app.display_status(step) == DisplayStatus::Ready)
        });
    if let Some(next) = next {
        app.selected = next;
        app.following = app.selected_id();
    }
}

/// A preview arrived. If the selection moved to this step by itself and the step would be
/// skipped (its `when` is false, e.g. an alternative to a step that worked), move on to the
/// next ready step after it (without wrapping, so a run of skipped steps ends).
pub(super) fn on_preview(
    app: &mut App,
    step: String,
    preview: Result<Preview, TuiError>,
) -> Vec<Effect> {
    let skipped = preview.as_ref().is_ok_and(|p| p.skip.is_some());
    let followed = app.following.as_deref() == Some(step.as_str())
        && app.selected_id().as_deref() == Some(step.as_str());
    app.previews.insert(step, preview);
    if skipped && followed {
        let before = app.selected;
        select_next_ready(app, false);
        if app.selected != before {
            return refresh_preview(app);
        }
        app.following = None;
    }
    Vec::new()
}

fn refresh_preview(app: &App) -> Vec<Effect> {
    app.selected_id()
        .map(|step| vec![Effect::Preview { step }])
        .unwrap_or_default()
}

pub(super) fn on_finished(app: &mut App, step: String, outcome: Outcome) -> Vec<Effect> {
    app.running.remove(&step);
    let mut effects = Vec::new();
    if !app.pending_events.is_empty() {
        effects.push(Effect::Resync);
    }
    match outcome {
        Outcome::Succeeded { summary } => app.flash = Some(format!("{step}: {summary}")),
        Outcome::Failed { error } => {
            app.flash = Some(format!("{step} failed: {error} (r retries)"));
        }
        Outcome::Skipped { reason } => app.flash = Some(format!("{step} skipped: {reason}")),
        Outcome::NeedsHuman { reason } => {
            app.flash = Some(format!("{step} needs a human: {reason}"));
        }
        Outcome::NeedsConfirmation { expected } => {
            open_confirm(app, &step, expected, false);
        }
        Outcome::Cancelled => app.flash = Some(format!("{step} cancelled")),
        Outcome::Interrupted => {
            app.flash = Some(format!("{step} interrupted — outcome unknown"));
        }
        // A teammate claimed it first: offer the take-over.
        Outcome::Held { by } => {
            app.modal = Some(Modal::TakeOver(crate::tui::dialog::TakeOver::new(
                &step, &by, false,
            )));
        }
    }
    effects.push(Effect::Preview { step });
    effects
}
