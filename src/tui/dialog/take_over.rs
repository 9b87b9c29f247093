//! Team mode: running a step a teammate holds. The responder types why they take it over;
//! Enter with a reason runs the step, which journals `step.taken_over {from, reason}` before
//! anything else (the engine does it; the database refuses a take-over without a reason).
//! Esc leaves the step to its holder.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::text::{Line, Span};

use super::{Answer, Boxed, field_line, hint};
use crate::text::escape;
use crate::tui::app::App;
use crate::tui::input::Input;
use crate::tui::update::run_again;
use crate::tui::view::Theme;

#[derive(Debug, Clone, PartialEq)]
pub struct TakeOver {
    pub step: String,
    /// Who holds it now.
    pub holder: String,
    /// Re-run a done or interrupted step (as the key that opened this asked).
    pub rerun: bool,
    pub input: Input,
    /// The last Enter had no reason: nothing happened.
    pub empty: bool,
}

impl TakeOver {
    pub fn new(step: &str, holder: &str, rerun: bool) -> Self {
        Self {
            step: step.to_owned(),
            holder: holder.to_owned(),
            rerun,
            input: Input::default(),
            empty: false,
        }
    }

    pub fn on_key(&mut self, app: &mut App, key: KeyEvent) -> Answer {
        if key.code != KeyCode::Enter {
            self.input.handle(key);
            self.empty = false;
            return Answer::Stay;
        }
        let reason = self.input.value().trim().to_owned();
        if reason.is_empty() {
            self.empty = true;
            return Answer::Stay;
        }
        app.take_overs.insert(self.step.clone(), reason);
        Answer::Close(run_again(app, &self.step, self.rerun))
    }

    pub fn render(&self, theme: Theme) -> Boxed {
        let mut lines = vec![
            Line::from(vec![
                Span::raw("Step "),
                Span::styled(escape(&self.step).into_owned(), theme.heading()),
                Span::raw(" is held by "),
                Span::styled(format!("@{}", escape(&self.holder)), theme.warn()),
                Span::raw("."),
            ]),
            Line::default(),
            Line::from(Span::raw(
                "To take it over, type why (journalled as step.taken_over, seen by the team):",
            )),
            field_line("", &self.input, true, theme),
        ];
        if self.empty {
            lines.push(Line::from(Span::styled(
                "a take-over needs a reason; nothing was run",
                theme.bad(),
            )));
        }
        lines.push(hint(
            "Enter take over and run · Esc leave it to them",
            theme,
        ));
        Boxed {
            title: " Take over ",
            style: theme.warn(),
            lines,
        }
    }
}
