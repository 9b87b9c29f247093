//! `update(&mut App, Msg) -> Vec<Effect>`: every state change of the TUI, in one place.
//!
//! Pure: no I/O, no clock reads (the time comes in `Msg::Tick` and lives in `App::now`), no
//! terminal. What must happen in the world (run a step, append an event, open the editor) is
//! returned as [`Effect`]s for the loop to execute. Keys go to the open dialog first, then to
//! the global bindings, then to the current view.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_json::json;

use super::app::{App, DisplayStatus, FactField, Modal, Running, View};
use super::effect::{Decision, Effect};
use super::input::Input;
use super::msg::{InjectMsg, Msg, StepOutcome, StepProgress};
use super::timeparse;
use crate::journal::{Kind, NewEvent};
use crate::runbook::{Action, MARKS};

pub fn update(app: &mut App, msg: Msg) -> Vec<Effect> {
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
                vec![Effect::LoadDraft { step }]
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
            let event = NewEvent::new(
                Kind::Inject,
                json!({"title": title, "body": body, "offset": offset}),
            );
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
            });
        }
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
fn move_cursor(cursor: &mut usize, len: usize, key: KeyEvent) -> bool {
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

fn on_runbook_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let before = app.selected;
    if move_cursor(&mut app.selected, app.order.len(), key) {
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
    match key.code {
        KeyCode::Enter => run_selected(app, &step, status, false),
        KeyCode::Char('r') => match status {
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
        KeyCode::Char('c') => {
            if let Some(run) = app.running.get_mut(&id) {
                run.cancelling = true;
                app.flash = Some(format!("cancelling {id}…"));
                vec![Effect::Cancel { step: id }]
            } else {
                app.flash = Some(format!("{id} is not running"));
                Vec::new()
            }
        }
        KeyCode::Char('s') => {
            if status == DisplayStatus::Running {
                app.flash = Some(format!("{id} is running; c cancels it first"));
            } else {
                app.modal = Some(Modal::Skip {
                    step: id,
                    input: Input::default(),
                });
            }
            Vec::new()
        }
        KeyCode::Char('e') => {
            if matches!(step.action(), Some(Action::Draft(_))) {
                vec![Effect::EditDraft { step: id }]
            } else {
                app.flash = Some(format!("{id} is not a draft step"));
                Vec::new()
            }
        }
        KeyCode::Char(c @ '1'..='9') => {
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
            vec![Effect::Append(vec![NewEvent::for_step(
                Kind::ChecklistTicked,
                id,
                json!({"item": index, "text": text, "checked": checked}),
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
            app.flash = Some(format!("{id} is already running"));
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
    let mut events = vec![NewEvent::for_step(
        Kind::StepSucceeded,
        &id,
        json!({"duration_ms": 0, "summary": summary, "captures": {}}),
    )];
    if let Some(mark) = &step.mark {
        events.push(NewEvent::for_step(
            Kind::Mark,
            &id,
            json!({"name": mark.get_ref(), "at": app.now.to_string()}),
        ));
    }
    app.flash = Some(format!("{id}: {summary}"));
    vec![Effect::Append(events)]
}

fn start(app: &mut App, step: String, typed: Option<String>, rerun: bool) -> Vec<Effect> {
    app.running.insert(
        step.clone(),
        Running {
            since: app.now,
            attempt: None,
            items: None,
            cancelling: false,
        },
    );
    vec![Effect::Run {
        step,
        decision: Decision {
            typed_confirmation: typed,
            rerun,
        },
    }]
}

fn open_confirm(app: &mut App, step: &str, expected: String, rerun: bool) {
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
            let v = v.as_str().map_or_else(|| v.to_string(), str::to_owned);
            (format!("vars.{k}"), v)
        })
        .collect();
    app.modal = Some(Modal::Confirm {
        step: step.to_owned(),
        expected,
        target,
        identity,
        input: Input::default(),
        rerun,
        mismatch: false,
    });
}

fn on_modal_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let Some(mut modal) = app.modal.take() else {
        return Vec::new();
    };
    let close = key.code == KeyCode::Esc;
    let enter = key.code == KeyCode::Enter;
    let (keep, effects) = match &mut modal {
        Modal::Help | Modal::Error { .. } | Modal::Inject { .. } => {
            let dismiss = close || enter || matches!(key.code, KeyCode::Char('?' | 'q'));
            (!dismiss, Vec::new())
        }
        _ if close => (false, Vec::new()),
        Modal::Confirm {
            step,
            expected,
            input,
            rerun,
            mismatch,
            ..
        } => {
            if enter {
                if input.value() == expected.as_str() {
                    let typed = input.value().to_owned();
                    let (step, rerun) = (step.clone(), *rerun);
                    (false, start(app, step, Some(typed), rerun))
                } else {
                    *mismatch = true;
                    (true, Vec::new())
                }
            } else {
                input.handle(key);
                *mismatch = false;
                (true, Vec::new())
            }
        }
        Modal::Skip { step, input } => {
            if enter {
                let reason = input.value().trim().to_owned();
                if reason.is_empty() {
                    (true, Vec::new())
                } else {
                    app.flash = Some(format!("{step} skipped"));
                    let event = NewEvent::for_step(
                        Kind::StepSkipped,
                        step.clone(),
                        json!({"reason": reason}),
                    );
                    (false, vec![Effect::Append(vec![event])])
                }
            } else {
                input.handle(key);
                (true, Vec::new())
            }
        }
        Modal::Note {
            step,
            input,
            follow_up,
        } => {
            if enter {
                let text = input.value().trim().to_owned();
                if text.is_empty() {
                    (true, Vec::new())
                } else {
                    let tagged = *follow_up
                        || text
                            .split_whitespace()
                            .any(|w| w.eq_ignore_ascii_case("#follow-up"));
                    let tags: Vec<&str> = if tagged { vec!["follow-up"] } else { vec![] };
                    let event = NewEvent {
                        kind: Kind::Note,
                        step: step.clone(),
                        data: json!({"text": text, "tags": tags}),
                        actor: None,
                    };
                    app.flash = Some(if tagged {
                        "follow-up recorded".into()
                    } else {
                        "note recorded".into()
                    });
                    (false, vec![Effect::Append(vec![event])])
                }
            } else if key.code == KeyCode::Tab {
                *follow_up = !*follow_up;
                (true, Vec::new())
            } else {
                input.handle(key);
                (true, Vec::new())
            }
        }
        Modal::Fact {
            text,
            when,
            focus,
            error,
        } => match key.code {
            KeyCode::Tab | KeyCode::BackTab | KeyCode::Up | KeyCode::Down => {
                *focus = match focus {
                    FactField::Text => FactField::When,
                    FactField::When => FactField::Text,
                };
                (true, Vec::new())
            }
            KeyCode::Enter => {
                let body = text.value().trim().to_owned();
                if body.is_empty() {
                    *error = Some("say what happened".into());
                    (true, Vec::new())
                } else {
                    match timeparse::parse(when.value(), app.now, &app.tz) {
                        Ok(at) => {
                            app.flash = Some(format!("fact recorded (happened {at})"));
                            let event = NewEvent::new(
                                Kind::Fact,
                                json!({"text": body, "occurred_at": at.to_string()}),
                            );
                            (false, vec![Effect::Append(vec![event])])
                        }
                        Err(e) => {
                            *error = Some(e.to_string());
                            *focus = FactField::When;
                            (true, Vec::new())
                        }
                    }
                }
            }
            _ => {
                match focus {
                    FactField::Text => text.handle(key),
                    FactField::When => when.handle(key),
                };
                *error = None;
                (true, Vec::new())
            }
        },
        Modal::Mark {
            choice,
            when,
            error,
        } => match key.code {
            KeyCode::Up | KeyCode::BackTab => {
                *choice = choice.checked_sub(1).unwrap_or(MARKS.len() - 1);
                (true, Vec::new())
            }
            KeyCode::Down | KeyCode::Tab => {
                *choice = (*choice + 1) % MARKS.len();
                (true, Vec::new())
            }
            KeyCode::Enter => match timeparse::parse(when.value(), app.now, &app.tz) {
                Ok(at) => {
                    let name = MARKS[*choice];
                    let mut data = json!({"name": name, "at": at.to_string()});
                    // Setting a mark again corrects it; the journal keeps both.
                    if let Some(old) = app.incident.marks.get(name) {
                        data["corrects"] = json!(old.seq);
                    }
                    app.flash = Some(format!("mark {name} = {at}"));
                    (
                        false,
                        vec![Effect::Append(vec![NewEvent::new(Kind::Mark, data)])],
                    )
                }
                Err(e) => {
                    *error = Some(e.to_string());
                    (true, Vec::new())
                }
            },
            _ => {
                when.handle(key);
                *error = None;
                (true, Vec::new())
            }
        },
    };
    if keep {
        app.modal = Some(modal);
    }
    effects
}
