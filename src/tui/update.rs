//! `update(&mut App, Msg) -> Vec<Effect>`: every state change of the TUI, in one place.
//!
//! Pure: no I/O, no clock reads (the time comes in `Msg::Tick` and lives in `App::now`), no
//! terminal. What must happen in the world (run a step, append an event, open the editor) is
//! returned as [`Effect`]s for the loop to execute. Keys go to the open dialog first
//! ([`dialog::on_key`]); otherwise the key table ([`keymap`]) names the action, which is
//! global or belongs to the current view. The Timeline's rows are one such effect: after every
//! message, if the view needs rows it has not asked for, `Effect::Timeline` asks the pager.

use crossterm::event::{KeyCode, KeyEvent};

mod progress;
mod steps;

pub(crate) use steps::{run_again, start};

use super::app::{App, Modal, View};
use super::dialog;
use super::effect::Effect;
use super::keymap::{self, Action};
use super::msg::{InjectMsg, Msg};
use crate::journal::NewEvent;
use crate::timeline::Query;
use steps::on_runbook_action;

pub fn update(app: &mut App, msg: Msg) -> Vec<Effect> {
    let mut effects = apply(app, msg);
    if !app.is_typing()
        && let Some(inject) = app.injects_waiting.pop_front()
    {
        app.modal = Some(Modal::Inject(inject));
    }
    effects.extend(ask_timeline(app).map(Effect::Timeline));
    effects
}

/// The Timeline view's query, when it is on screen and needs rows it has not asked for
/// (it moved, the filter or the size changed, or new events arrived).
pub fn ask_timeline(app: &mut App) -> Option<Query> {
    if app.view != View::Timeline {
        return None;
    }
    let height = app.timeline_height();
    app.timeline.ask(height, app.incident.last_seq)
}

fn apply(app: &mut App, msg: Msg) -> Vec<Effect> {
    match msg {
        Msg::Key(key) => on_key(app, key),
        Msg::Resize(w, h) => {
            app.size = (w, h);
            Vec::new()
        }
        Msg::Tick(now) => {
            app.now = now;
            Vec::new()
        }
        Msg::EngineReady(ready) => progress::on_engine_ready(app, ready),
        Msg::Journalled(event) => progress::on_journalled(app, event, false),
        Msg::JournalledPending(event) => progress::on_journalled(app, event, true),
        Msg::Team(news) => progress::on_team(app, news),
        Msg::Resynced(events) => {
            for event in events {
                app.absorb(event);
            }
            app.pending_events.clear();
            app.selected_id()
                .map(|step| vec![Effect::Preview { step }])
                .unwrap_or_default()
        }
        Msg::Progress { step, progress } => progress::on_progress(app, &step, progress),
        Msg::Finished { step, outcome } => progress::on_finished(app, step, outcome),
        Msg::Preview { step, preview } => progress::on_preview(app, step, preview),
        Msg::Draft { step, text } => {
            app.drafts.insert(step, text);
            Vec::new()
        }
        Msg::DraftEdited { step, result } => match result {
            Ok(()) => {
                app.flash = Some(format!("draft {step} saved; Enter marks it done"));
                // The draft module journals versions itself: read back what it wrote.
                vec![Effect::Resync, Effect::LoadDraft { step }]
            }
            Err(error) => {
                app.modal = Some(Modal::Error {
                    message: error.to_string(),
                });
                Vec::new()
            }
        },
        Msg::Inject(inject) => on_inject(app, inject),
        Msg::Paged(page) => {
            app.timeline.receive(page);
            Vec::new()
        }
        Msg::Panel(lines) => {
            if let Some(drill) = &mut app.drill {
                drill.panel = lines;
            }
            Vec::new()
        }
        Msg::Failed(error) => {
            app.modal = Some(Modal::Error {
                message: error.to_string(),
            });
            Vec::new()
        }
    }
}

/// Journalled when it arrives; shown once the responder is not typing, so keys meant for an
/// open dialog are never taken by the inject.
fn on_inject(app: &mut App, inject: InjectMsg) -> Vec<Effect> {
    let event = NewEvent::incident(crate::journal::payload::Inject {
        title: inject.title.clone(),
        body: inject.body.clone(),
        offset: inject.offset.clone(),
        target: None,
    });
    if app.is_typing() && !matches!(app.modal, Some(Modal::Inject(_))) {
        app.flash = Some(format!(
            "DRILL inject {} arrived; it shows when you close this",
            inject.offset
        ));
    }
    app.injects_waiting.push_back(inject);
    vec![Effect::Append(vec![event])]
}

fn on_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    // The responder acts: the selection is theirs again.
    app.following = None;
    if keymap::is_quit_anywhere(key) {
        return quit(app);
    }
    if app.modal.is_some() {
        return dialog::on_key(app, key);
    }
    if app.view == View::Timeline && app.timeline.editing_filter {
        match key.code {
            KeyCode::Enter | KeyCode::Esc => app.timeline.editing_filter = false,
            // The search starts from where the view stands.
            _ => _ = app.timeline.filter.handle(key),
        }
        return Vec::new();
    }
    app.flash = None;
    let Some(action) = keymap::action(app.view, key) else {
        return Vec::new();
    };
    on_action(app, action, key)
}

/// What an action of the key table means here: the global ones at once, the rest in the
/// current view.
fn on_action(app: &mut App, action: Action, key: KeyEvent) -> Vec<Effect> {
    match action {
        Action::Quit => return quit(app),
        Action::Help => app.modal = Some(Modal::Help),
        Action::RunbookView => app.view = View::Runbook,
        Action::TimelineView => app.view = View::Timeline,
        Action::EvidenceView => app.view = View::Evidence,
        Action::DraftsView => return enter_drafts(app),
        Action::NextView => {
            app.view = match app.view {
                View::Runbook => View::Timeline,
                View::Timeline => View::Evidence,
                View::Evidence => return enter_drafts(app),
                View::Drafts => View::Runbook,
            };
        }
        Action::Note => {
            let step = (app.view == View::Runbook)
                .then(|| app.selected_id())
                .flatten();
            app.modal = Some(Modal::Note(dialog::Note::new(step)));
        }
        Action::Fact => app.modal = Some(Modal::Fact(dialog::Fact::new())),
        Action::CorrectFact => match app.incident.facts.last().map(|f| f.seq) {
            Some(seq) => app.modal = Some(Modal::Fact(dialog::Fact::correcting(app, seq))),
            None => app.flash = Some("no fact recorded yet; f records one".into()),
        },
        Action::Mark => app.modal = Some(Modal::Mark(dialog::Mark::new())),
        Action::LabPanel => {
            if let Some(drill) = &mut app.drill {
                drill.show_panel = !drill.show_panel;
            }
        }
        _ => {
            return match app.view {
                View::Runbook => on_runbook_action(app, action, key),
                View::Timeline => on_timeline_action(app, action),
                View::Evidence => {
                    let len = app.incident.evidence.len();
                    move_cursor(&mut app.evidence_selected, len, action);
                    Vec::new()
                }
                View::Drafts => on_drafts_action(app, action),
            };
        }
    }
    Vec::new()
}

fn on_drafts_action(app: &mut App, action: Action) -> Vec<Effect> {
    if action == Action::EditDraft {
        return draft_at_cursor(app)
            .map(|step| vec![Effect::EditDraft { step }])
            .unwrap_or_default();
    }
    let len = app.draft_steps().len();
    let before = app.drafts_selected;
    move_cursor(&mut app.drafts_selected, len, action);
    if before == app.drafts_selected {
        Vec::new()
    } else {
        load_draft_at_cursor(app)
    }
}

fn quit(app: &mut App) -> Vec<Effect> {
    app.quitting = true;
    vec![Effect::Quit]
}

fn draft_at_cursor(app: &App) -> Option<String> {
    app.draft_steps()
        .get(app.drafts_selected)
        .map(|s| s.id().to_owned())
}

fn load_draft_at_cursor(app: &App) -> Vec<Effect> {
    draft_at_cursor(app)
        .map(|step| vec![Effect::LoadDraft { step }])
        .unwrap_or_default()
}

fn enter_drafts(app: &mut App) -> Vec<Effect> {
    app.view = View::Drafts;
    load_draft_at_cursor(app)
}

/// Up/down, first/last, page over a list of `len`; `true` when the action was a move.
pub(super) fn move_cursor(cursor: &mut usize, len: usize, action: Action) -> bool {
    let last = len.saturating_sub(1);
    *cursor = match action {
        Action::Up => cursor.saturating_sub(1),
        Action::Down => (*cursor + 1).min(last),
        Action::PageUp => cursor.saturating_sub(10),
        Action::PageDown => (*cursor + 10).min(last),
        Action::First => 0,
        Action::Last => last,
        _ => return false,
    };
    true
}

fn on_timeline_action(app: &mut App, action: Action) -> Vec<Effect> {
    match action {
        Action::Filter => app.timeline.editing_filter = true,
        Action::ClearFilter => app.timeline.filter.set(""),
        _ => {
            let height = app.timeline_height();
            app.timeline.navigate(action, height);
        }
    }
    Vec::new()
}
