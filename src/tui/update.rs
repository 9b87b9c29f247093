//! `update(&mut App, Msg) -> Vec<Effect>`: every state change of the TUI, in one place.
//!
//! Pure: no I/O, no clock reads (the time comes in `Msg::Tick` and lives in `App::now`), no
//! terminal. What must happen in the world (run a step, append an event, open the editor) is
//! returned as [`Effect`]s for the loop to execute. Keys go to the open dialog first, then to
//! the global bindings, then to the current view.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

mod dialogs;
mod steps;

use super::app::{App, FactField, Modal, View};
use super::effect::Effect;
use super::input::Input;
use super::msg::{InjectMsg, Msg, StepOutcome, StepProgress};
use crate::journal::{Kind, NewEvent};
use dialogs::on_modal_key;
use steps::{on_runbook_key, open_confirm};

pub fn update(app: &mut App, msg: Msg) -> Vec<Effect> {
    let effects = apply(app, msg);
    app.timeline.refresh(&app.incident.events);
    effects
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
            // The engine may have finished starting since the preview was asked for.
            match (
                app.selected_id(),
                app.selected_id().and_then(|s| app.previews.get(&s)),
            ) {
                (Some(step), Some(Err(e))) if e == super::engine_runner::STARTING => {
                    vec![Effect::Preview { step }]
                }
                _ => Vec::new(),
            }
        }
        Msg::Journalled(event) => {
            // A step's captures may change what the selected step will send.
            let captured = matches!(event.kind, Kind::StepSucceeded | Kind::StepFailed);
            app.absorb(event);
            if captured {
                refresh_preview(app)
            } else {
                Vec::new()
            }
        }
        Msg::Resynced(events) => {
            for event in events {
                app.absorb(event);
            }
            app.pending_events.clear();
            app.selected_id()
                .map(|step| vec![Effect::Preview { step }])
                .unwrap_or_default()
        }
        Msg::Progress { step, progress } => {
            if let Some(run) = app.running.get_mut(&step) {
                match progress {
                    StepProgress::Attempt { n, status } => run.attempt = Some((n, status)),
                    StepProgress::Items {
                        done,
                        total,
                        failed,
                    } => run.items = Some((done, total, failed)),
                }
            }
            Vec::new()
        }
        Msg::Finished { step, outcome } => on_finished(app, step, outcome),
        Msg::Preview { step, preview } => {
            app.previews.insert(step, preview);
            Vec::new()
        }
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
            Err(message) => {
                app.modal = Some(Modal::Error { message });
                Vec::new()
            }
        },
        Msg::Inject(InjectMsg {
            offset,
            title,
            body,
        }) => {
            let event = NewEvent::incident(crate::journal::payload::Inject {
                title: title.clone(),
                body: body.clone(),
                offset: offset.clone(),
            });
            app.modal = Some(Modal::Inject {
                offset,
                title,
                body,
            });
            vec![Effect::Append(vec![event])]
        }
        Msg::Panel(lines) => {
            if let Some(drill) = &mut app.drill {
                drill.panel = lines;
            }
            Vec::new()
        }
        Msg::Failed(message) => {
            app.modal = Some(Modal::Error { message });
            Vec::new()
        }
    }
}

fn refresh_preview(app: &App) -> Vec<Effect> {
    app.selected_id()
        .map(|step| vec![Effect::Preview { step }])
        .unwrap_or_default()
}

fn on_finished(app: &mut App, step: String, outcome: StepOutcome) -> Vec<Effect> {
    app.running.remove(&step);
    let mut effects = Vec::new();
    if !app.pending_events.is_empty() {
        effects.push(Effect::Resync);
    }
    match outcome {
        StepOutcome::Succeeded { summary } => app.flash = Some(format!("{step}: {summary}")),
        StepOutcome::Failed { error } => {
            app.flash = Some(format!("{step} failed: {error} (r retries)"));
        }
        StepOutcome::Skipped { reason } => app.flash = Some(format!("{step} skipped: {reason}")),
        StepOutcome::NeedsHuman { reason } => {
            app.flash = Some(format!("{step} needs a human: {reason}"));
        }
        StepOutcome::NeedsConfirmation { expected } => {
            open_confirm(app, &step, expected, false);
        }
        StepOutcome::Cancelled => app.flash = Some(format!("{step} cancelled")),
        StepOutcome::Interrupted => {
            app.flash = Some(format!("{step} interrupted — outcome unknown"));
        }
    }
    effects.push(Effect::Preview { step });
    effects
}

fn on_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    if key.modifiers.contains(KeyModifiers::CONTROL) && key.code == KeyCode::Char('c') {
        return quit(app);
    }
    if app.modal.is_some() {
        return on_modal_key(app, key);
    }
    if app.view == View::Timeline && app.timeline.editing_filter {
        match key.code {
            KeyCode::Enter | KeyCode::Esc => app.timeline.editing_filter = false,
            _ => {
                app.timeline.filter.handle(key);
                app.timeline.scroll_back = 0;
            }
        }
        return Vec::new();
    }
    app.flash = None;
    match key.code {
        KeyCode::Char('q') => return quit(app),
        KeyCode::Char('?') => app.modal = Some(Modal::Help),
        KeyCode::Char('t') => app.view = View::Timeline,
        KeyCode::Char('v') => app.view = View::Evidence,
        KeyCode::Char('d') => return enter_drafts(app),
        KeyCode::Char('b') | KeyCode::Esc => app.view = View::Runbook,
        KeyCode::Tab => {
            app.view = match app.view {
                View::Runbook => View::Timeline,
                View::Timeline => View::Evidence,
                View::Evidence => return enter_drafts(app),
                View::Drafts => View::Runbook,
            };
        }
        KeyCode::Char('n') => {
            let step = (app.view == View::Runbook)
                .then(|| app.selected_id())
                .flatten();
            app.modal = Some(Modal::Note {
                step,
                input: Input::default(),
                follow_up: false,
            });
        }
        KeyCode::Char('f') => {
            app.modal = Some(Modal::Fact {
                text: Input::default(),
                when: Input::new("now"),
                focus: FactField::Text,
                error: None,
                corrects: None,
            });
        }
        KeyCode::Char('F') => match app.incident.facts.last().map(|f| f.seq) {
            Some(seq) => app.modal = Some(dialogs::correct_fact(app, seq)),
            None => app.flash = Some("no fact recorded yet; f records one".into()),
        },
        KeyCode::Char('m') => {
            app.modal = Some(Modal::Mark {
                choice: 0,
                when: Input::new("now"),
                error: None,
            });
        }
        KeyCode::Char('l') => {
            if let Some(drill) = &mut app.drill {
                drill.show_panel = !drill.show_panel;
            }
        }
        _ => {
            return match app.view {
                View::Runbook => on_runbook_key(app, key),
                View::Timeline => on_timeline_key(app, key),
                View::Evidence => {
                    let len = app.incident.evidence.len();
                    move_cursor(&mut app.evidence_selected, len, key);
                    Vec::new()
                }
                View::Drafts => {
                    let len = app.draft_steps().len();
                    let before = app.drafts_selected;
                    move_cursor(&mut app.drafts_selected, len, key);
                    if key.code == KeyCode::Char('e') || key.code == KeyCode::Enter {
                        return draft_at_cursor(app)
                            .map(|step| vec![Effect::EditDraft { step }])
                            .unwrap_or_default();
                    }
                    if before == app.drafts_selected {
                        Vec::new()
                    } else {
                        load_draft_at_cursor(app)
                    }
                }
            };
        }
    }
    Vec::new()
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

/// ↑↓ jk, g/G, PgUp/PgDn over a list of `len`; `true` when the key was a move.
pub(super) fn move_cursor(cursor: &mut usize, len: usize, key: KeyEvent) -> bool {
    let last = len.saturating_sub(1);
    *cursor = match key.code {
        KeyCode::Up | KeyCode::Char('k') => cursor.saturating_sub(1),
        KeyCode::Down | KeyCode::Char('j') => (*cursor + 1).min(last),
        KeyCode::PageUp => cursor.saturating_sub(10),
        KeyCode::PageDown => (*cursor + 10).min(last),
        KeyCode::Home | KeyCode::Char('g') => 0,
        KeyCode::End | KeyCode::Char('G') => last,
        _ => return false,
    };
    true
}

fn on_timeline_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let scroll = &mut app.timeline.scroll_back;
    match key.code {
        KeyCode::Char('/') => app.timeline.editing_filter = true,
        KeyCode::Backspace => app.timeline.filter.set(""),
        KeyCode::Up | KeyCode::Char('k') => *scroll += 1,
        KeyCode::Down | KeyCode::Char('j') => *scroll = scroll.saturating_sub(1),
        KeyCode::PageUp => *scroll += 10,
        KeyCode::PageDown => *scroll = scroll.saturating_sub(10),
        KeyCode::Home | KeyCode::Char('g') => *scroll = app.incident.events.len(),
        KeyCode::End | KeyCode::Char('G') => *scroll = 0,
        _ => {}
    }
    // Never scroll past the oldest event.
    app.timeline.scroll_back = app
        .timeline
        .scroll_back
        .min(app.incident.events.len().saturating_sub(1));
    Vec::new()
}
