//! The help overlay: the bindings of the current view, drawn from the key table
//! ([`keymap::BINDINGS`](crate::tui::keymap::BINDINGS)) that `update` dispatches with, so
//! the two cannot disagree.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::{Theme, centered};
use crate::tui::app::View;
use crate::tui::keymap;

pub fn render(frame: &mut Frame, area: Rect, view: View, theme: Theme) {
    let rows: Vec<(String, &str)> = keymap::for_view(view)
        .map(|b| (b.label(), b.help))
        .collect();
    let key_width = rows
        .iter()
        .map(|(keys, _)| keys.chars().count())
        .max()
        .unwrap_or(0);
    let text_width = rows
        .iter()
        .map(|(_, t)| t.chars().count())
        .max()
        .unwrap_or(0);
    let width = u16::try_from(key_width + text_width + 4).unwrap_or(u16::MAX);
    let height = u16::try_from(rows.len()).unwrap_or(u16::MAX) + 4;
    let rect = centered(area, width, height);
    frame.render_widget(Clear, rect);
    let mut lines: Vec<Line> = rows
        .into_iter()
        .map(|(keys, what)| {
            Line::from(vec![
                Span::styled(format!("{keys:>key_width$}  "), theme.heading()),
                Span::raw(what),
            ])
        })
        .collect();
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        "Every action is journalled before it shows. Esc closes.",
        theme.dim(),
    )));
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::new()
                .borders(Borders::ALL)
                .title(Span::styled(" Keys ", theme.heading())),
        ),
        rect,
    );
}
