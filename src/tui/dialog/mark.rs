//! The mark dialog: choose one of `runbook::MARKS` and when it happened; setting a mark
//! again corrects it (the journal keeps both).

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::text::{Line, Span};

use super::{Answer, Boxed, field_line, hint};
use crate::journal::NewEvent;
use crate::journal::payload::Mark as MarkSet;
use crate::runbook::MARKS;
use crate::tui::app::App;
use crate::tui::effect::Effect;
use crate::tui::input::Input;
use crate::tui::timeparse;
use crate::tui::view::Theme;

#[derive(Debug, Clone, PartialEq)]
pub struct Mark {
    /// Index into `runbook::MARKS`.
    pub choice: usize,
    pub when: Input,
    pub error: Option<String>,
}

impl Mark {
    pub fn new() -> Self {
        Self {
            choice: 0,
            when: Input::new("now"),
            error: None,
        }
    }

    pub fn on_key(&mut self, app: &mut App, key: KeyEvent) -> Answer {
        match key.code {
            KeyCode::Up | KeyCode::BackTab => {
                self.choice = self.choice.checked_sub(1).unwrap_or(MARKS.len() - 1);
                Answer::Stay
            }
            KeyCode::Down | KeyCode::Tab => {
                self.choice = (self.choice + 1) % MARKS.len();
                Answer::Stay
            }
            KeyCode::Enter => match timeparse::parse(self.when.value(), app.now, &app.tz) {
                Ok(at) => {
                    let name = MARKS[self.choice];
                    let mark = MarkSet {
                        name: name.to_owned(),
                        at: Some(at),
                        // Setting a mark again corrects it; the journal keeps both.
                        corrects: app.incident.marks.get(name).map(|old| old.seq),
                    };
                    app.flash = Some(format!(
                        "mark {name} = {}",
                        at.strftime("%Y-%m-%d %H:%M:%SZ")
                    ));
                    Answer::Close(vec![Effect::Append(vec![NewEvent::incident(mark)])])
                }
                Err(e) => {
                    self.error = Some(e.to_string());
                    Answer::Stay
                }
            },
            _ => {
                self.when.handle(key);
                self.error = None;
                Answer::Stay
            }
        }
    }

    pub fn render(&self, app: &App, theme: Theme) -> Boxed {
        let mut lines = Vec::new();
        for (i, name) in MARKS.iter().enumerate() {
            let current = app
                .incident
                .marks
                .get(*name)
                .map(|m| format!("  {}", m.at.strftime("%Y-%m-%d %H:%MZ")))
                .unwrap_or_default();
            let style = if i == self.choice {
                theme.selected()
            } else {
                ratatui::style::Style::new()
            };
            lines.push(Line::from(vec![
                Span::styled(format!(" {name:<20}"), style),
                Span::styled(current, theme.dim()),
            ]));
        }
        lines.push(field_line("at   ", &self.when, true, theme));
        if let Some(e) = &self.error {
            lines.push(Line::from(Span::styled(e.clone(), theme.bad())));
        }
        lines.push(hint("↑↓ choose · Enter set (again = correct) · Esc", theme));
        Boxed {
            title: " Mark ",
            style: theme.heading(),
            lines,
        }
    }
}

impl Default for Mark {
    fn default() -> Self {
        Self::new()
    }
}
