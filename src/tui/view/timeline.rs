//! The Timeline view: every journal event, newest last, with UTC and local clocks, filtered
//! by a substring of the kind or the step (`/`). Only the visible window is formatted, so a
//! 100,000-event journal draws as fast as a short one. Each event reads as
//! [`describe`](crate::incident::describe) words it, as in the exports.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::{Theme, both_clocks};
use crate::incident::{describe, given_time};
use crate::journal::{Event, Kind};
use crate::tui::app::App;

pub fn render(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let filter = app.timeline.filter.value().to_lowercase();
    let title = if filter.is_empty() && !app.timeline.editing_filter {
        format!(" Timeline · {} events ", app.incident.events.len())
    } else {
        let cursor = if app.timeline.editing_filter {
            "▏"
        } else {
            ""
        };
        format!(
            " Timeline · filter: {filter}{cursor} · {} of {} ",
            app.timeline.matches.len(),
            app.incident.events.len()
        )
    };
    let block = Block::new()
        .borders(Borders::TOP)
        .title(Span::styled(title, theme.heading()))
        .border_style(theme.dim());
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let height = usize::from(inner.height);
    let events = &app.incident.events;
    // Newest last: skip `scroll_back` from the end, then take a screenful.
    let visible: Vec<&Event> = if filter.is_empty() {
        let end = events.len().saturating_sub(app.timeline.scroll_back);
        events[end.saturating_sub(height)..end].iter().collect()
    } else {
        let matches = &app.timeline.matches;
        let end = matches.len().saturating_sub(app.timeline.scroll_back);
        matches[end.saturating_sub(height)..end]
            .iter()
            .filter_map(|&i| events.get(i))
            .collect()
    };
    let lines: Vec<Line> = visible.iter().map(|e| event_line(app, e, theme)).collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

fn event_line(app: &App, event: &Event, theme: Theme) -> Line<'static> {
    let kind_style = match event.kind {
        Kind::StepFailed | Kind::StepInterrupted | Kind::JournalRecovered => theme.bad(),
        Kind::StepSucceeded | Kind::EvidenceCaptured => theme.good(),
        Kind::Mark | Kind::Fact | Kind::FactCorrected | Kind::Inject | Kind::Confirm => {
            theme.warn()
        }
        _ => theme.accent(),
    };
    let mut spans = vec![
        Span::styled(format!("{:>5} ", event.seq), theme.dim()),
        Span::raw(format!("{} ", both_clocks(app, event.at))),
        Span::styled(format!("{:<18}", event.kind.as_str()), kind_style),
    ];
    if let Some(step) = &event.step {
        spans.push(Span::styled(format!("{step} "), theme.heading()));
    }
    // Journal text may carry control sequences: shown escaped, as everywhere (`crate::text`).
    spans.push(Span::raw(
        crate::text::escape(&describe(event)).into_owned(),
    ));
    if let Some(given) = given_time(event) {
        spans.push(Span::styled(format!(" (happened {given})"), theme.dim()));
    }
    spans.push(Span::styled(format!("  {}", event.actor), theme.dim()));
    Line::from(spans)
}
