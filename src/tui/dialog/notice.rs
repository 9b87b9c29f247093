//! The dismiss-only dialogs: a drill inject, an error, the help overlay. Enter, Esc, `?` or
//! `q` closes them; every other key is ignored, never passed on.

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::text::{Line, Span};

use super::{Answer, Boxed, hint};
use crate::tui::msg::InjectMsg;
use crate::tui::view::Theme;

pub fn on_key(key: KeyEvent) -> Answer {
    if matches!(
        key.code,
        KeyCode::Esc | KeyCode::Enter | KeyCode::Char('?' | 'q')
    ) {
        Answer::Close(Vec::new())
    } else {
        Answer::Stay
    }
}

pub fn render_inject(inject: &InjectMsg, theme: Theme) -> Boxed {
    Boxed {
        title: " DRILL inject ",
        style: theme.warn(),
        lines: vec![
            Line::from(vec![
                Span::styled(format!("{} ", inject.offset), theme.warn()),
                Span::styled(inject.title.clone(), theme.heading()),
            ]),
            Line::default(),
            Line::from(inject.body.clone()),
            hint("Enter dismiss", theme),
        ],
    }
}

pub fn render_error(message: &str, theme: Theme) -> Boxed {
    Boxed {
        title: " Error ",
        style: theme.bad(),
        lines: vec![
            Line::from(Span::styled(message.to_owned(), theme.bad())),
            hint("Enter dismiss (details in the log)", theme),
        ],
    }
}
