//! The note dialog: a note on the selected step (or the incident), tagged as a follow-up
//! action item with Tab or by writing `#follow-up`.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::text::{Line, Span};

use super::{Answer, Boxed, field_line, hint};
use crate::journal::NewEvent;
use crate::journal::payload::Note as NoteEvent;
use crate::tui::app::App;
use crate::tui::effect::Effect;
use crate::tui::input::Input;
use crate::tui::view::Theme;

#[derive(Debug, Clone, PartialEq)]
pub struct Note {
    pub step: Option<String>,
    pub input: Input,
    pub follow_up: bool,
}

impl Note {
    pub fn new(step: Option<String>) -> Self {
        Self {
            step,
            input: Input::default(),
            follow_up: false,
        }
    }

    pub fn on_key(&mut self, app: &mut App, key: KeyEvent) -> Answer {
        match key.code {
            KeyCode::Enter => {}
            KeyCode::Tab => {
                self.follow_up = !self.follow_up;
                return Answer::Stay;
            }
            _ => {
                self.input.handle(key);
                return Answer::Stay;
            }
        }
        let text = self.input.value().trim().to_owned();
        if text.is_empty() {
            return Answer::Stay;
        }
        let tagged = self.follow_up
            || text
                .split_whitespace()
                .any(|w| w.eq_ignore_ascii_case("#follow-up"));
        let tags = if tagged {
            vec!["follow-up".to_owned()]
        } else {
            Vec::new()
        };
        let note = NoteEvent { text, tags };
        let event = match &self.step {
            Some(step) => NewEvent::step(step.clone(), note),
            None => NewEvent::incident(note),
        };
        app.flash = Some(if tagged {
            "follow-up recorded".into()
        } else {
            "note recorded".into()
        });
        Answer::Close(vec![Effect::Append(vec![event])])
    }

    pub fn render(&self, theme: Theme) -> Boxed {
        Boxed {
            title: " Note ",
            style: theme.heading(),
            lines: vec![
                Line::from(match &self.step {
                    Some(step) => format!("Note on {step}:"),
                    None => "Note:".to_owned(),
                }),
                field_line("", &self.input, true, theme),
                Line::from(vec![
                    Span::raw(if self.follow_up { "[x]" } else { "[ ]" }),
                    Span::raw(" follow-up action item (Tab, or write #follow-up)"),
                ]),
                hint("Enter save · Esc cancel", theme),
            ],
        }
    }
}
