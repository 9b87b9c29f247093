//! The destructive-step dialog: shows the target and the identity the runbook fetched, and
//! starts the step only when the typed text matches the expected text exactly.

use crate::text::escape;
use crossterm::event::{KeyCode, KeyEvent};
use ratatui::text::{Line, Span};

use super::{Answer, Boxed, field_line, hint};
use crate::tui::app::App;
use crate::tui::input::Input;
use crate::tui::update::start;
use crate::tui::view::Theme;

#[derive(Debug, Clone, PartialEq)]
pub struct Confirm {
    pub step: String,
    /// What must be typed, exactly.
    pub expected: String,
    /// `METHOD url` of the request, from the preview.
    pub target: String,
    /// (name, value) of the system the runbook identified earlier.
    pub identity: Vec<(String, String)>,
    pub input: Input,
    pub rerun: bool,
    /// The last Enter did not match: nothing was sent.
    pub mismatch: bool,
}

impl Confirm {
    pub fn on_key(&mut self, app: &mut App, key: KeyEvent) -> Answer {
        if key.code != KeyCode::Enter {
            self.input.handle(key);
            self.mismatch = false;
            return Answer::Stay;
        }
        if self.input.value() == self.expected.as_str() {
            let typed = self.input.value().to_owned();
            Answer::Close(start(app, self.step.clone(), Some(typed), self.rerun))
        } else {
            self.mismatch = true;
            Answer::Stay
        }
    }

    pub fn render(&self, theme: Theme) -> Boxed {
        let mut lines = vec![
            Line::from(vec![
                Span::raw("Step "),
                Span::styled(self.step.clone(), theme.heading()),
                Span::raw(" changes a live system."),
            ]),
            Line::default(),
            Line::from(vec![
                Span::styled("target   ", theme.dim()),
                Span::raw(escape(&self.target).into_owned()),
            ]),
        ];
        for (name, value) in &self.identity {
            lines.push(Line::from(vec![
                Span::styled(format!("{name:<8} "), theme.dim()),
                Span::styled(escape(value).into_owned(), theme.heading()),
            ]));
        }
        lines.push(Line::default());
        lines.push(Line::from(vec![
            Span::raw("Type "),
            // Already escaped by the engine (typed as shown); escaping again is a no-op.
            Span::styled(escape(&self.expected).into_owned(), theme.warn()),
            Span::raw(" exactly to proceed:"),
        ]));
        lines.push(field_line("", &self.input, true, theme));
        if self.mismatch {
            lines.push(Line::from(Span::styled(
                "does not match; nothing was sent",
                theme.bad(),
            )));
        }
        lines.push(hint("Enter confirm · Esc cancel", theme));
        Boxed {
            title: " Destructive step ",
            style: theme.bad(),
            lines,
        }
    }
}
