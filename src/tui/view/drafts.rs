//! The Drafts view: the runbook's draft steps with their saved versions, and the selected
//! draft rendered as Markdown (the saved file, else the template as it would render now).

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::{Theme, markdown};
use crate::tui::app::App;

pub fn render(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let steps = app.draft_steps();
    let block = Block::new()
        .borders(Borders::TOP)
        .title(Span::styled(
            format!(" Drafts · {} ", steps.len()),
            theme.heading(),
        ))
        .border_style(theme.dim());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if steps.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled(
                "This runbook has no draft steps.",
                theme.dim(),
            )),
            inner,
        );
        return;
    }
    let list_width = (inner.width / 3).clamp(18, 32);
    let [list, preview] =
        Layout::horizontal([Constraint::Length(list_width), Constraint::Min(10)]).areas(inner);
    let selected = app.drafts_selected.min(steps.len() - 1);
    let lines: Vec<Line> = steps
        .iter()
        .enumerate()
        .map(|(i, step)| {
            let versions = app
                .incident
                .drafts
                .iter()
                .filter(|d| d.step.as_deref() == Some(step.id()))
                .count();
            let style = if i == selected {
                theme.selected()
            } else {
                ratatui::style::Style::new()
            };
            Line::from(vec![
                Span::styled(step.title().to_owned(), style),
                Span::styled(format!(" v{versions}"), theme.dim()),
            ])
        })
        .collect();
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::new()
                .borders(Borders::RIGHT)
                .border_style(theme.dim()),
        ),
        list,
    );
    let id = steps[selected].id();
    let body: Vec<Line> = match app.drafts.get(id) {
        Some(Ok(text)) => markdown::render(text, theme),
        Some(Err(e)) => vec![Line::from(Span::styled(
            format!("cannot render this draft yet: {e}"),
            theme.warn(),
        ))],
        None => vec![Line::from(Span::styled("loading…", theme.dim()))],
    };
    frame.render_widget(
        Paragraph::new(body)
            .block(Block::new().padding(ratatui::widgets::Padding::horizontal(1)))
            .wrap(Wrap { trim: false }),
        preview,
    );
}
