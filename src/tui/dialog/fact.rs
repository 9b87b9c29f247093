//! The fact dialog: something that happened and when (`17:21`, `-15m`, `now`, …), or, with
//! `corrects`, the correction of an earlier fact (PgUp/PgDn choose which); the journal keeps
//! both versions.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::text::{Line, Span};

use super::{Answer, Boxed, field_line, hint};
use crate::journal::NewEvent;
use crate::journal::payload::{Fact as FactRecorded, FactCorrected};
use crate::tui::app::App;
use crate::tui::effect::Effect;
use crate::tui::input::Input;
use crate::tui::timeparse;
use crate::tui::view::Theme;

/// Which field of the fact dialog has the cursor.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FactField {
    Text,
    When,
}

/// Record a fact, or (with `corrects`) correct an earlier one: the journal keeps both.
#[derive(Debug, Clone, PartialEq)]
pub struct Fact {
    pub text: Input,
    pub when: Input,
    pub focus: FactField,
    pub error: Option<String>,
    /// Seq of the fact being corrected; `None` records a new fact.
    pub corrects: Option<u64>,
}

impl Fact {
    pub fn new() -> Self {
        Self {
            text: Input::default(),
            when: Input::new("now"),
            focus: FactField::Text,
            error: None,
            corrects: None,
        }
    }

    /// The dialog that corrects fact `seq`, pre-filled with its current text and time.
    pub fn correcting(app: &App, seq: u64) -> Self {
        let fact = app.incident.facts.iter().find(|f| f.seq == seq);
        let (text, occurred) = fact.map_or(("", None), crate::incident::Fact::current);
        Self {
            text: Input::new(text),
            when: when_input(occurred),
            focus: FactField::Text,
            error: None,
            corrects: Some(seq),
        }
    }

    pub fn on_key(&mut self, app: &mut App, key: KeyEvent) -> Answer {
        match key.code {
            KeyCode::PageUp | KeyCode::PageDown if self.corrects.is_some() => {
                self.choose_other(app, key.code == KeyCode::PageUp);
                Answer::Stay
            }
            KeyCode::Tab | KeyCode::BackTab | KeyCode::Up | KeyCode::Down => {
                self.focus = match self.focus {
                    FactField::Text => FactField::When,
                    FactField::When => FactField::Text,
                };
                Answer::Stay
            }
            KeyCode::Enter => self.record(app),
            _ => {
                match self.focus {
                    FactField::Text => self.text.handle(key),
                    FactField::When => self.when.handle(key),
                };
                self.error = None;
                Answer::Stay
            }
        }
    }

    /// Step through the recorded facts to choose the one to correct.
    fn choose_other(&mut self, app: &App, back: bool) {
        let Some(seq) = self.corrects else {
            return;
        };
        let facts = &app.incident.facts;
        let at = facts.iter().position(|f| f.seq == seq).unwrap_or(0);
        let next = if back {
            at.checked_sub(1).unwrap_or(facts.len().saturating_sub(1))
        } else {
            (at + 1) % facts.len().max(1)
        };
        if let Some(fact) = facts.get(next) {
            let (current, occurred) = fact.current();
            self.corrects = Some(fact.seq);
            self.text = Input::new(current);
            self.when = when_input(occurred);
            self.focus = FactField::Text;
            self.error = None;
        }
    }

    fn record(&mut self, app: &mut App) -> Answer {
        let body = self.text.value().trim().to_owned();
        if body.is_empty() {
            self.error = Some("say what happened".into());
            return Answer::Stay;
        }
        match timeparse::parse(self.when.value(), app.now, &app.tz) {
            Ok(at) => {
                let event = if let Some(seq) = self.corrects {
                    app.flash = Some(format!("fact #{seq} corrected (happened {at})"));
                    NewEvent::incident(FactCorrected {
                        corrects: seq,
                        text: body,
                        occurred_at: Some(at),
                    })
                } else {
                    app.flash = Some(format!("fact recorded (happened {at})"));
                    NewEvent::incident(FactRecorded {
                        text: body,
                        occurred_at: Some(at),
                    })
                };
                Answer::Close(vec![Effect::Append(vec![event])])
            }
            Err(e) => {
                self.error = Some(e.to_string());
                self.focus = FactField::When;
                Answer::Stay
            }
        }
    }

    pub fn render(&self, app: &App, theme: Theme) -> Boxed {
        let original = self
            .corrects
            .and_then(|seq| app.incident.facts.iter().find(|f| f.seq == seq));
        let mut lines = vec![match original {
            Some(fact) => Line::from(vec![
                Span::styled("was: ", theme.dim()),
                Span::raw(fact.current().0.to_owned()),
            ]),
            None => Line::from("Something that happened (e.g. \"report received\"):"),
        }];
        lines.extend([
            field_line("what ", &self.text, self.focus == FactField::Text, theme),
            field_line("when ", &self.when, self.focus == FactField::When, theme),
            Line::from(Span::styled(
                "17:21 local · 17:21Z · 2019-12-26T09:21-08:00 · -15m · now",
                theme.dim(),
            )),
        ]);
        if let Some(e) = &self.error {
            lines.push(Line::from(Span::styled(e.clone(), theme.bad())));
        }
        let title = if self.corrects.is_some() {
            lines.push(hint(
                "PgUp/PgDn other fact · Tab switch field · Enter correct · Esc cancel",
                theme,
            ));
            " Correct fact (both kept) "
        } else {
            lines.push(hint("Tab switch field · Enter record · Esc cancel", theme));
            " Fact "
        };
        Boxed {
            title,
            style: theme.heading(),
            lines,
        }
    }
}

/// The "when" field for a recorded fact: its time to the millisecond, else `now`.
fn when_input(occurred: Option<jiff::Timestamp>) -> Input {
    Input::new(&occurred.map_or_else(
        || "now".into(),
        |t| timeparse::to_millisecond(t).to_string(),
    ))
}

impl Default for Fact {
    fn default() -> Self {
        Self::new()
    }
}
