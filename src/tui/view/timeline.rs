//! The Timeline view: every journal event, newest last, with UTC and local clocks, filtered
//! by a substring of the kind or the step (`/`). Only the visible window is formatted, so a
//! 100,000-event journal draws as fast as a short one.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};
use serde_json::Value;

use super::{Theme, both_clocks};
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
    spans.push(Span::raw(crate::text::escape(&summary(event)).into_owned()));
    spans.push(Span::styled(format!("  {}", event.actor), theme.dim()));
    Line::from(spans)
}

fn s(data: &Value, field: &str) -> String {
    match data.get(field) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// One line saying what the event recorded.
pub fn summary(event: &Event) -> String {
    let d = &event.data;
    match event.kind {
        Kind::IncidentOpened => format!("{} ({})", s(d, "runbook_title"), s(d, "runbook_id")),
        Kind::StepStarted => format!("attempt {}", s(d, "attempt")),
        Kind::HttpRequest => format!("{} {}", s(d, "method"), s(d, "url")),
        Kind::HttpResponse => {
            let err = s(d, "error");
            if err.is_empty() {
                format!(
                    "{} in {} ms, {} bytes",
                    s(d, "status"),
                    s(d, "elapsed_ms"),
                    s(d, "bytes")
                )
            } else {
                err
            }
        }
        Kind::StepSucceeded | Kind::IncidentClosed => s(d, "summary"),
        Kind::StepFailed => s(d, "error"),
        Kind::StepSkipped | Kind::StepPending => s(d, "reason"),
        Kind::StepInterrupted => format!("outcome unknown (started at #{})", s(d, "started_seq")),
        Kind::Confirm => format!("typed \"{}\" via {}", s(d, "expected"), s(d, "via")),
        Kind::ChecklistTicked => {
            let mark = if d.get("checked").and_then(Value::as_bool).unwrap_or(true) {
                "[x]"
            } else {
                "[ ]"
            };
            format!("{mark} {}", s(d, "text"))
        }
        Kind::Note => {
            let text = s(d, "text");
            let tags: String = d
                .get("tags")
                .and_then(Value::as_array)
                .map(|t| {
                    t.iter()
                        .filter_map(Value::as_str)
                        // A tag the text already says (`#follow-up`) is not repeated.
                        .filter(|t| !text.contains(&format!("#{t}")))
                        .flat_map(|t| [" #", t])
                        .collect()
                })
                .unwrap_or_default();
            format!("{text}{tags}")
        }
        Kind::Fact => format!("{} (happened {})", s(d, "text"), s(d, "occurred_at")),
        Kind::FactCorrected => format!(
            "#{} → {} (happened {})",
            s(d, "corrects"),
            s(d, "text"),
            s(d, "occurred_at")
        ),
        Kind::Mark => format!("{} = {}", s(d, "name"), s(d, "at")),
        Kind::EvidenceCaptured => {
            let sha = s(d, "sha256");
            format!(
                "{} sha256 {}… {} bytes",
                s(d, "file"),
                sha.get(..12).unwrap_or(&sha),
                s(d, "bytes")
            )
        }
        Kind::DraftSaved => format!("{} {} bytes", s(d, "file"), s(d, "bytes")),
        Kind::Inject => format!("{} {}", s(d, "offset"), s(d, "title")),
        Kind::Warning => s(d, "text"),
        Kind::JournalRecovered => format!("torn tail quarantined to {}", s(d, "quarantined")),
        Kind::DrillScore => "drill scored".to_owned(),
    }
}
