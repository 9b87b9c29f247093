//! The step list: phases as headings, steps with state glyph, title and duration. Only the
//! visible window is built, so a 1,000-step runbook costs what a screenful does.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::{Theme, duration, glyph};
use crate::tui::app::{App, DisplayStatus};

enum Row {
    Phase(String),
    Step(usize),
}

pub fn render(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let block = Block::new()
        .borders(Borders::RIGHT)
        .border_style(theme.dim());
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let steps = &app.runbook.runbook.steps;
    let mut rows = Vec::with_capacity(app.order.len() + 8);
    let mut phase: Option<&str> = None;
    let mut selected_row = 0;
    for (pos, &index) in app.order.iter().enumerate() {
        let step = &steps[index];
        if phase != Some(step.phase.as_str()) {
            phase = Some(step.phase.as_str());
            rows.push(Row::Phase(step.phase.to_uppercase()));
        }
        if pos == app.selected {
            selected_row = rows.len();
        }
        rows.push(Row::Step(pos));
    }
    let height = usize::from(inner.height);
    // Keep the cursor in view, a little above the middle once the list scrolls.
    let offset = selected_row
        .saturating_sub(height / 3)
        .min(rows.len().saturating_sub(height));
    let width = usize::from(inner.width);
    let lines: Vec<Line> = rows
        .iter()
        .skip(offset)
        .take(height)
        .map(|row| match row {
            Row::Phase(name) => Line::from(Span::styled(name.clone(), theme.heading())),
            Row::Step(pos) => step_line(app, *pos, width, theme),
        })
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

fn step_line(app: &App, pos: usize, width: usize, theme: Theme) -> Line<'static> {
    let step = &app.runbook.runbook.steps[app.order[pos]];
    let status = app.display_status(step);
    let record = app.incident.steps.get(step.id());
    let time = match status {
        DisplayStatus::Running => app
            .running
            .get(step.id())
            .map(|r| duration(super::elapsed_ms(app.now, r.since)))
            .unwrap_or_default(),
        _ => record
            .and_then(|r| r.duration_ms)
            .map(|ms| duration(i64::try_from(ms).unwrap_or(i64::MAX)))
            .unwrap_or_default(),
    };
    // Team mode: who holds the step (a login: escaped like all journal text).
    let holder = app
        .incident
        .team
        .holder(step.id())
        .map(|h| format!(" @{}", crate::text::escape(h)))
        .unwrap_or_default();
    let title_width = width.saturating_sub(4 + time.chars().count() + 1 + holder.chars().count());
    let mut title: String = step.title().chars().take(title_width).collect();
    if step.title().chars().count() > title_width && title_width > 1 {
        title.pop();
        title.push('…');
    }
    let pad = title_width.saturating_sub(title.chars().count());
    let selected = pos == app.selected;
    let base = if selected {
        theme.selected()
    } else {
        ratatui::style::Style::new()
    };
    Line::from(vec![
        Span::styled(if selected { "▸ " } else { "  " }, base),
        Span::styled(glyph(status, app.now), theme.status(status).patch(base)),
        Span::styled(format!(" {title}{}", " ".repeat(pad)), base),
        Span::styled(holder, theme.accent().patch(base)),
        Span::styled(format!(" {time}"), theme.dim().patch(base)),
    ])
}
