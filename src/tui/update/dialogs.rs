//! Keys while a dialog is open: confirmation (typed text must match exactly), skip reason,
//! note (follow-up toggle), fact (text + when), mark (name + when), and the dismiss-only
//! dialogs (help, error, inject). Part of `update`: pure, effects returned as values.

use crossterm::event::{KeyCode, KeyEvent};

use super::steps::start;
use crate::journal::payload::{Fact, FactCorrected, Mark, Note};
use crate::journal::{NewEvent, Payload};
use crate::runbook::MARKS;
use crate::tui::app::{App, FactField, Modal};
use crate::tui::effect::Effect;
use crate::tui::input::Input;
use crate::tui::timeparse;

pub(super) fn on_modal_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
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
                    let event = NewEvent::step(step.clone(), Payload::skipped(reason));
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
                    let tags = if tagged {
                        vec!["follow-up".to_owned()]
                    } else {
                        Vec::new()
                    };
                    let note = Note { text, tags };
                    let event = match step {
                        Some(step) => NewEvent::step(step.clone(), note),
                        None => NewEvent::incident(note),
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
            corrects: Some(seq),
        } if matches!(key.code, KeyCode::PageUp | KeyCode::PageDown) => {
            // Step through the recorded facts to choose the one to correct.
            let facts = &app.incident.facts;
            let at = facts.iter().position(|f| f.seq == *seq).unwrap_or(0);
            let next = if key.code == KeyCode::PageUp {
                at.checked_sub(1).unwrap_or(facts.len().saturating_sub(1))
            } else {
                (at + 1) % facts.len().max(1)
            };
            if let Some(fact) = facts.get(next) {
                let (current, occurred) = fact.current();
                *seq = fact.seq;
                *text = Input::new(current);
                *when = Input::new(&occurred.map_or_else(|| "now".into(), |t| t.to_string()));
                *focus = FactField::Text;
                *error = None;
            }
            (true, Vec::new())
        }
        Modal::Fact {
            text,
            when,
            focus,
            error,
            corrects,
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
                            let event = if let Some(seq) = *corrects {
                                app.flash = Some(format!("fact #{seq} corrected (happened {at})"));
                                NewEvent::incident(FactCorrected {
                                    corrects: seq,
                                    text: body,
                                    occurred_at: Some(at),
                                })
                            } else {
                                app.flash = Some(format!("fact recorded (happened {at})"));
                                NewEvent::incident(Fact {
                                    text: body,
                                    occurred_at: Some(at),
                                })
                            };
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
                    let mark = Mark {
                        name: name.to_owned(),
                        at: Some(at),
                        // Setting a mark again corrects it; the journal keeps both.
                        corrects: app.incident.marks.get(name).map(|old| old.seq),
                    };
                    app.flash = Some(format!("mark {name} = {at}"));
                    (false, vec![Effect::Append(vec![NewEvent::incident(mark)])])
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

/// The dialog that corrects fact `seq`, pre-filled with its current text and time.
pub fn correct_fact(app: &App, seq: u64) -> Modal {
    let fact = app.incident.facts.iter().find(|f| f.seq == seq);
    let (text, occurred) = fact.map_or(("", None), crate::incident::Fact::current);
    Modal::Fact {
        text: Input::new(text),
        when: Input::new(&occurred.map_or_else(|| "now".into(), |t| t.to_string())),
        focus: FactField::Text,
        error: None,
        corrects: Some(seq),
    }
}
