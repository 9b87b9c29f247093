//! The Evidence view: every captured file with its SHA-256 and chain of custody (who took
//! it, when, from which request), newest last; the selected one in full below the list.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph, Wrap};

use super::{Theme, both_clocks};
use crate::tui::app::App;

pub fn render(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let evidence = &app.incident.evidence;
    let block = Block::new()
        .borders(Borders::TOP)
        .title(Span::styled(
            format!(" Evidence · {} files ", evidence.len()),
            theme.heading(),
        ))
        .border_style(theme.dim());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    if evidence.is_empty() {
        frame.render_widget(
            Paragraph::new(Span::styled(
                "No evidence yet. Steps with `evidence = true` keep their responses here.",
                theme.dim(),
            )),
            inner,
        );
        return;
    }
    let [list, detail] = Layout::vertical([Constraint::Min(3), Constraint::Length(8)]).areas(inner);
    let selected = app.evidence_selected.min(evidence.len() - 1);
    let height = usize::from(list.height);
    let offset = selected.saturating_sub(height.saturating_sub(1));
    let lines: Vec<Line> = evidence
        .iter()
        .enumerate()
        .skip(offset)
        .take(height)
        .map(|(i, e)| {
            let style = if i == selected {
                theme.selected()
            } else {
                ratatui::style::Style::new()
            };
            Line::from(vec![
                Span::styled(
                    format!("{} ", e.sha256.get(..16).unwrap_or(&e.sha256)),
                    style,
                ),
                Span::styled(format!("{:>9} B ", e.bytes), theme.dim().patch(style)),
                Span::styled(
                    format!("{} ", e.step.as_deref().unwrap_or("-")),
                    theme.heading().patch(style),
                ),
                Span::styled(format!("{} {}", e.method, e.url), style),
            ])
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), list);

    let e = &evidence[selected];
    let dim = |t: &str| Span::styled(format!("{t:<10}"), theme.dim());
    let detail_lines = vec![
        Line::from(vec![dim("sha256"), Span::raw(e.sha256.clone())]),
        Line::from(vec![dim("file"), Span::raw(e.file.clone())]),
        Line::from(vec![
            dim("source"),
            Span::raw(format!("{} {}", e.method, e.url)),
        ]),
        Line::from(vec![
            dim("taken"),
            Span::raw(format!("{} by {}", both_clocks(app, e.captured_at), e.by)),
        ]),
        Line::from(vec![
            dim("tool"),
            Span::raw(format!(
                "stanch {}  remote {}",
                e.tool_version,
                e.remote_addr.as_deref().unwrap_or("-")
            )),
        ]),
        Line::from(vec![dim("journal"), Span::raw(format!("#{}", e.seq))]),
    ];
    frame.render_widget(
        Paragraph::new(detail_lines)
            .block(Block::new().borders(Borders::TOP).border_style(theme.dim()))
            .wrap(Wrap { trim: false }),
        detail,
    );
}
