//! The skip dialog: a step is skipped only with a reason, and the reason is journalled.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::text::Line;

use super::{Answer, Boxed, field_line, hint};
use crate::journal::{NewEvent, Payload};
use crate::tui::app::App;
use crate::tui::effect::Effect;
use crate::tui::input::Input;
use crate::tui::view::Theme;

#[derive(Debug, Clone, PartialEq)]
pub struct Skip {
    pub step: String,
    pub input: Input,
}

impl Skip {
    pub fn new(step: String) -> Self {
        Self {
            step,
            input: Input::default(),
        }
    }

    pub fn on_key(&mut self, app: &mut App, key: KeyEvent) -> Answer {
        if key.code != KeyCode::Enter {
            self.input.handle(key);
            return Answer::Stay;
        }
        let reason = self.input.value().trim().to_owned();
        if reason.is_empty() {
            return Answer::Stay;
        }
        app.flash = Some(format!("{} skipped", self.step));
        let event = NewEvent::step(self.step.clone(), Payload::skipped(reason));
        Answer::Close(vec![Effect::Append(vec![event])])
    }

    pub fn render(&self, theme: Theme) -> Boxed {
        Boxed {
            title: " Skip ",
            style: theme.heading(),
            lines: vec![
                Line::from(format!("Why skip {}? (journalled)", self.step)),
                field_line("", &self.input, true, theme),
                hint("Enter skip · Esc cancel", theme),
            ],
        }
    }
}
