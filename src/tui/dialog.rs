//! Dialogs: one file per dialog under `dialog/`, each owning its state, its keys and its
//! drawing. The open dialog is `App::modal`; keys go to it before the key table.
//!
//! - [`Confirm`]: a destructive step; the responder types the expected text exactly.
//! - [`Skip`]: why a step is skipped. [`Note`]: a note, or a follow-up action item.
//! - [`Fact`]: something that happened and when, or the correction of an earlier fact.
//! - [`Mark`]: a time mark (`aware`, `contained`, …), set or corrected.
//! - [`TakeOver`]: team mode, a step a teammate holds: the reason to take it over.
//! - [`notice`]: the dismiss-only ones: a drill inject, an error, the help.
//!
//! Pure like `update` and `view`: key handlers return [`Effect`]s, renderers read the model.

mod confirm;
mod fact;
mod mark;
mod note;
pub mod notice;
mod skip;
mod take_over;

use crossterm::event::{KeyCode, KeyEvent};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

pub use confirm::Confirm;
pub use fact::{Fact, FactField};
pub use mark::Mark;
pub use note::Note;
pub use skip::Skip;
pub use take_over::TakeOver;

use super::app::{App, Modal};
use super::effect::Effect;
use super::input::Input;
use super::view::{Theme, centered, help};

/// What a key did to the dialog.
#[derive(Debug, PartialEq)]
pub enum Answer {
    /// The dialog stays open.
    Stay,
    /// The dialog closes, asking for these effects.
    Close(Vec<Effect>),
}

/// What a dialog draws inside its frame.
pub struct Boxed {
    pub title: &'static str,
    pub style: Style,
    pub lines: Vec<Line<'static>>,
}

/// A key while a dialog is open. Esc closes every dialog; the rest is the dialog's.
pub fn on_key(app: &mut App, key: KeyEvent) -> Vec<Effect> {
    let Some(mut modal) = app.modal.take() else {
        return Vec::new();
    };
    let answer = match &mut modal {
        Modal::Help | Modal::Error { .. } | Modal::Inject(_) => notice::on_key(key),
        _ if key.code == KeyCode::Esc => Answer::Close(Vec::new()),
        Modal::Confirm(dialog) => dialog.on_key(app, key),
        Modal::Skip(dialog) => dialog.on_key(app, key),
        Modal::Note(dialog) => dialog.on_key(app, key),
        Modal::Fact(dialog) => dialog.on_key(app, key),
        Modal::Mark(dialog) => dialog.on_key(app, key),
        Modal::TakeOver(dialog) => dialog.on_key(app, key),
    };
    match answer {
        Answer::Stay => {
            app.modal = Some(modal);
            Vec::new()
        }
        Answer::Close(effects) => effects,
    }
}

/// Draw the open dialog over the view.
pub fn render(app: &App, modal: &Modal, frame: &mut Frame, theme: Theme) {
    let area = frame.area();
    let boxed = match modal {
        Modal::Help => {
            help::render(frame, area, app.view, theme);
            return;
        }
        Modal::Confirm(dialog) => dialog.render(theme),
        Modal::Skip(dialog) => dialog.render(theme),
        Modal::Note(dialog) => dialog.render(theme),
        Modal::Fact(dialog) => dialog.render(app, theme),
        Modal::Mark(dialog) => dialog.render(app, theme),
        Modal::TakeOver(dialog) => dialog.render(theme),
        Modal::Inject(inject) => notice::render_inject(inject, theme),
        Modal::Error { message } => notice::render_error(message, theme),
    };
    draw_box(frame, area, boxed);
}

/// The dim line of keys at the foot of a dialog.
fn hint(text: &str, theme: Theme) -> Line<'static> {
    Line::from(Span::styled(text.to_owned(), theme.dim()))
}

/// A labelled text field; the focused one shows its cursor.
fn field_line(label: &str, input: &Input, focused: bool, theme: Theme) -> Line<'static> {
    let mut spans = vec![Span::styled(label.to_owned(), theme.dim())];
    let text = input.display();
    if focused {
        let chars: Vec<char> = text.chars().collect();
        let at = input.cursor().min(chars.len());
        let before: String = chars[..at].iter().collect();
        let cursor: String = chars
            .get(at)
            .map_or_else(|| " ".to_owned(), char::to_string);
        let after: String = chars
            .get(at + 1..)
            .map(|c| c.iter().collect())
            .unwrap_or_default();
        spans.push(Span::raw(format!("› {before}")));
        spans.push(Span::styled(cursor, theme.selected()));
        spans.push(Span::raw(after));
    } else {
        spans.push(Span::raw(format!("  {text}")));
    }
    Line::from(spans)
}

fn draw_box(frame: &mut Frame, area: Rect, boxed: Boxed) {
    let Boxed {
        title,
        style,
        lines,
    } = boxed;
    let width = area.width.saturating_sub(4).min(72);
    let inner_width = usize::from(width.saturating_sub(2)).max(1);
    // Wrapped height: each line takes ceil(len / width) rows.
    let rows: usize = lines
        .iter()
        .map(|l| l.width().max(1).div_ceil(inner_width))
        .sum();
    let height = u16::try_from(rows + 2).unwrap_or(u16::MAX);
    let rect = centered(area, width, height);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .block(
                Block::new()
                    .borders(Borders::ALL)
                    .border_style(style)
                    .title(Span::styled(title.to_owned(), style)),
            )
            .wrap(Wrap { trim: false }),
        rect,
    );
}
