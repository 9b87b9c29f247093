//! The set-up form (before the incident exists): one row per input, hidden secrets, the
//! responder's name. Secret fields show bullets only.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::Theme;
use crate::tui::setup::{FieldKind, SetupForm};

pub fn render(form: &SetupForm, frame: &mut Frame, theme: Theme) {
    let [body, hints] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(frame.area());
    let mut lines = vec![
        Line::from(Span::styled(
            "Open an incident: answer what the runbook needs.",
            theme.dim(),
        )),
        Line::default(),
    ];
    for (i, field) in form.fields.iter().enumerate() {
        let focused = i == form.focus;
        let marker = if focused { "▸ " } else { "  " };
        let label_style = if field.kind == FieldKind::Secret {
            theme.warn()
        } else {
            theme.heading()
        };
        lines.push(Line::from(vec![
            Span::raw(marker),
            Span::styled(field.key.clone(), label_style),
            Span::styled(format!("  {}", field.label), theme.dim()),
        ]));
        let value = field.input.display();
        let style = if focused {
            theme.selected()
        } else {
            ratatui::style::Style::new()
        };
        lines.push(Line::from(vec![
            Span::raw("    "),
            Span::styled(format!("{value} "), style),
        ]));
    }
    if let Some(error) = &form.error {
        lines.push(Line::default());
        lines.push(Line::from(Span::styled(error.clone(), theme.bad())));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .block(
                Block::new()
                    .borders(Borders::ALL)
                    .title(Span::styled(format!(" {} ", form.title), theme.heading())),
            )
            .wrap(Wrap { trim: false }),
        body,
    );
    frame.render_widget(
        Paragraph::new(Span::styled(
            "↑↓/Tab move · Enter next (on the last field: open the incident) · Esc abort",
            theme.dim(),
        )),
        hints,
    );
}
