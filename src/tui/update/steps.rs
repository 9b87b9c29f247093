//! Actions on the Runbook view that act on the selected step: run (with the destructive-step
//! dialog, and in team mode the take-over dialog for a step a teammate holds), retry, cancel,
//! skip, checklist ticks, draft editing. Part of `update`: pure,
//! effects returned as values.

use crossterm::event::{KeyCode, KeyEvent};

use super::move_cursor;
use crate::engine::Decision;
use crate::journal::NewEvent;
use crate::journal::payload::{ChecklistTicked, Mark, StepSucceeded};
use crate::runbook::Action;
use crate::tui::app::{App, DisplayStatus, Modal, Running};
use crate::tui::dialog;
use crate::tui::effect::Effect;
use crate::tui::keymap::Action as Key;

/// `key` carries the digit of [`Key::Tick`].
pub(super) fn on_runbook_action(app: &mut App, action: Key, key: KeyEvent) -> Vec<Effect> {
    let before = app.selected;
    if move_cursor(&mut app.selected, app.order.len(), action) {
        return if before == app.selected {
            Vec::new()
        } else {
            app.selected_id()
                .map(|step| vec![Effect::Preview { step }])
                .unwrap_or_default()
        };
    }
    let Some(step) = app.selected_step().cloned() else {
        return Vec::new();
    };
    let id = step.id().to_owned();
    let status = app.display_status(&step);
    match action {
        Key::Run => run_selected(app, &step, status, false),
        Key::Retry => match status {
            DisplayStatus::Failed
            | DisplayStatus::Interrupted
            | DisplayStatus::NeedsHuman
            | DisplayStatus::Succeeded
            | DisplayStatus::Skipped => run_selected(app, &step, status, true),
            _ => {
                app.flash = Some(format!("{id} has not run; Enter runs it"));
                Vec::new()
            }
        },
        Key::Cancel => {
            if let Some(run) = app.running.get_mut(&id) {
                run.cancelling = true;
                app.flash = Some(format!("cancelling {id}…"));
                vec![Effect::Cancel { step: id }]
            } else {
                app.flash = Some(format!("{id} is not running"));
                Vec::new()
            }
        }
        Key::Skip => {
            if status == DisplayStatus::Running {
                app.flash = Some(format!("{id} is running; c cancels it first"));
            } else {
                app.modal = Some(Modal::Skip(dialog::Skip::new(id)));
            }
            Vec::new()
        }
        Key::EditDraft => {
            if matches!(step.action(), Some(Action::Draft(_))) {
                vec![Effect::EditDraft { step: id }]
            } else {
                app.flash = Some(format!("{id} is not a draft step"));
                Vec::new()
            }
        }
        Key::Tick => {
            let KeyCode::Char(c @ '1'..='9') = key.code else {
                return Vec::new();
            };
            let Some(Action::Manual(items)) = step.action() else {
                app.flash = Some("digits tick checklist items of manual steps".into());
                return Vec::new();
            };
            let index = (c as usize) - ('1' as usize);
            let Some(text) = items.get(index) else {
                app.flash = Some(format!("{id} has {} checklist items", items.len()));
                return Vec::new();
            };
            let checked = !app
                .incident
                .steps
                .get(&id)
                .and_then(|r| r.checklist.get(&(index as u64)))
                .copied()
                .unwrap_or(false);
            vec![Effect::Append(vec![NewEvent::step(
                id,
                ChecklistTicked {
                    item: index as u64,
                    text: text.clone(),
                    checked,
                },
            )])]
        }
        _ => Vec::new(),
    }
}

fn run_selected(
    app: &mut App,
    step: &crate::runbook::Step,
    status: DisplayStatus,
    rerun: bool,
) -> Vec<Effect> {
    let id = step.id().to_owned();
    match status {
        DisplayStatus::Running => {
            app.flash = Some(match app.held_by_other(&id) {
                Some(holder) => format!("{id} is running at @{holder}"),
                None => format!("{id} is already running"),
            });
            return Vec::new();
        }
        DisplayStatus::Pending => {
            let waiting: Vec<&str> = step
                .needs()
                .filter(|n| !app.incident.status(n).is_done())
                .collect();
            app.flash = Some(format!("{id} waits for: {}", waiting.join(", ")));
            return Vec::new();
        }
        DisplayStatus::Interrupted if !rerun => {
            app.flash = Some(format!(
                "{id} may have reached the server before the crash; r re-runs it deliberately"
            ));
            return Vec::new();
        }
        DisplayStatus::Succeeded | DisplayStatus::Skipped if !rerun => {
            app.flash = Some(format!("{id} is done; r runs it again"));
            return Vec::new();
        }
        _ => {}
    }
    match step.action() {
        Some(Action::Manual(items)) => {
            if app.checklist_done(step) == Some(true) {
                complete(
                    app,
                    step,
                    &format!("checklist complete ({} items)", items.len()),
                )
            } else {
                app.flash = Some(format!("tick every item first (1–{})", items.len()));
                Vec::new()
            }
        }
        Some(Action::Draft(_)) => {
            let saved = app
                .incident
                .drafts
                .iter()
                .any(|d| d.step.as_deref() == Some(id.as_str()));
            if saved {
                complete(app, step, "draft saved")
            } else {
                vec![Effect::EditDraft { step: id }]
            }
        }
        Some(Action::Http(_)) | None => {
            // Team mode: a teammate's step runs here only after an explicit take-over.
            if let Some(holder) = app.held_by_other(&id)
                && !app.take_overs.contains_key(&id)
            {
                app.modal = Some(Modal::TakeOver(dialog::TakeOver::new(&id, holder, rerun)));
                return Vec::new();
            }
            if step.is_destructive() {
                let expected = match app.previews.get(&id) {
                    Some(Ok(preview)) => preview.confirm.clone(),
                    _ => None,
                };
                match expected {
                    Some(expected) => open_confirm(app, &id, expected, rerun),
                    // No preview yet: the engine answers NeedsConfirmation with the text.
                    None => return start(app, id, None, rerun),
                }
                Vec::new()
            } else {
                start(app, id, None, rerun)
            }
        }
    }
}

/// A manual or draft step done by hand: its outcome (and mark) are journalled by the TUI.
fn complete(app: &mut App, step: &crate::runbook::Step, summary: &str) -> Vec<Effect> {
    let id = step.id().to_owned();
    let mut events = vec![NewEvent::step(
        &id,
        StepSucceeded {
            summary: summary.to_owned(),
            ..StepSucceeded::default()
        },
    )];
    if let Some(mark) = &step.mark {
        events.push(NewEvent::step(
            &id,
            Mark {
                name: mark.get_ref().clone(),
                at: Some(app.now),
                corrects: None,
            },
        ));
    }
    app.flash = Some(format!("{id}: {summary}"));
    vec![Effect::Append(events)]
}

pub(crate) fn start(
    app: &mut App,
    step: String,
    typed: Option<String>,
    rerun: bool,
) -> Vec<Effect> {
    app.running.insert(
        step.clone(),
        Running {
            since: app.now,
            attempt: None,
            items: None,
            cancelling: false,
        },
    );
    let take_over = app.take_overs.remove(&step);
    vec![Effect::Run {
        step,
        decision: Decision {
            typed_confirmation: typed,
            assume_yes: false,
            rerun,
            take_over,
        },
    }]
}

/// Run `step` as the run key would (after a dialog that had to come first, such as a
/// take-over: the destructive-step dialog may still follow).
pub(crate) fn run_again(app: &mut App, step: &str, rerun: bool) -> Vec<Effect> {
    let Some(found) = app.runbook.runbook.step(step).cloned() else {
        return Vec::new();
    };
    let status = app.display_status(&found);
    run_selected(app, &found, status, rerun)
}

pub(super) fn open_confirm(app: &mut App, step: &str, expected: String, rerun: bool) {
    let target = match app.previews.get(step) {
        Some(Ok(p)) => format!("{} {}", p.method, p.url),
        _ => "(request preview unavailable)".to_owned(),
    };
    // The identity the runbook fetched earlier, so the responder sees *which* system.
    let identity = app
        .incident
        .vars
        .iter()
        .filter(|(k, _)| {
            ["cluster_name", "cluster_uuid", "cluster", "name"]
                .iter()
                .any(|w| k.contains(w))
        })
        .map(|(k, v)| {
            let v = v.display().into_owned();
            (format!("vars.{k}"), v)
        })
        .collect();
    app.modal = Some(Modal::Confirm(dialog::Confirm {
        step: step.to_owned(),
        expected,
        target,
        identity,
        input: crate::tui::input::Input::default(),
        rerun,
        mismatch: false,
    }));
}
