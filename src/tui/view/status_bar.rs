//! The status bar: incident id, responder, T+ since opened, time since `aware` against the
//! 72-hour notification window (stopped at `notified`; the rule is
//! [`Incident::notification_window`](crate::incident::Incident::notification_window)), DRILL watermark, last journal seq and hash prefix.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Theme, duration};
use crate::incident::{Window, WindowState};
use crate::tui::app::App;

pub fn render(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let incident = &app.incident;
    let bar = theme.selected();
    let mut spans = Vec::new();
    if incident.drill {
        spans.push(Span::styled(
            " DRILL ",
            theme.warn().add_modifier(Modifier::REVERSED),
        ));
    }
    spans.push(Span::styled(
        format!(" {} ", incident.id),
        bar.add_modifier(Modifier::BOLD),
    ));
    spans.push(Span::styled(format!(" {} ", incident.responder), bar));
    if let Some(opened) = incident.opened_at {
        let t = super::elapsed_ms(app.now, opened);
        spans.push(Span::raw(format!(" T+{} ", duration(t))));
    }
    match incident.notification_window(app.now) {
        Some(window) => spans.push(window_span(&window, theme)),
        None => spans.push(Span::styled(" aware: not set (m) ", theme.dim())),
    }
    if !app.running.is_empty() {
        spans.push(Span::styled(
            format!(" {} running ", app.running.len()),
            theme.accent(),
        ));
    }
    let hash = incident.last_hash.get(..8).unwrap_or(&incident.last_hash);
    // The journal position is right-aligned and drawn whole, whatever the width.
    let position = format!(" #{} {hash} ", incident.last_seq);
    let width = u16::try_from(position.chars().count()).unwrap_or(u16::MAX);
    let [left, right] =
        Layout::horizontal([Constraint::Min(0), Constraint::Length(width)]).areas(area);
    frame.render_widget(Paragraph::new(Line::from(spans)), left);
    frame.render_widget(Paragraph::new(Span::styled(position, theme.dim())), right);
}

/// Time since `aware` against the window; once `notified` is marked the count stops there.
fn window_span(window: &Window, theme: Theme) -> Span<'static> {
    let used = hours(window.used_ms);
    let left = hours(window.remaining_ms.abs());
    let (text, style) = match window.state {
        WindowState::Open if window.remaining_ms < 12 * 3_600_000 => {
            (format!(" aware+{used} 72h:{left} left "), theme.bad())
        }
        WindowState::Open => (format!(" aware+{used} 72h:{left} left "), theme.warn()),
        WindowState::Overdue => (format!(" aware+{used} 72h:{left} OVER "), theme.bad()),
        WindowState::Met => (format!(" notified at aware+{used} 72h: met "), theme.dim()),
        WindowState::Missed => (
            format!(" notified at aware+{used} 72h: {left} late "),
            theme.bad(),
        ),
    };
    Span::styled(text, style)
}

/// `70h59m`: the notification window is counted in hours, as regulators write it.
fn hours(ms: i64) -> String {
    let minutes = ms.max(0) / 60_000;
    format!("{}h{:02}m", minutes / 60, minutes % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::{Incident, Mark};

    fn mark(name: &str, at: &str) -> (String, Mark) {
        let mark = Mark {
            name: name.to_owned(),
            at: at.parse().unwrap(),
            seq: 1,
            actor: "alice".into(),
            step: None,
            previous: Vec::new(),
        };
        (name.to_owned(), mark)
    }

    fn text(incident: &Incident, now: &str) -> String {
        let window = incident.notification_window(now.parse().unwrap()).unwrap();
        window_span(&window, Theme { color: false })
            .content
            .into_owned()
    }

    #[test]
    fn the_window_stops_counting_once_notified() {
        let mut incident = Incident::default();
        incident
            .marks
            .extend([mark("aware", "2026-11-01T00:00:00Z")]);
        assert_eq!(
            text(&incident, "2026-11-02T00:00:00Z"),
            " aware+24h00m 72h:48h00m left "
        );
        assert_eq!(
            text(&incident, "2026-11-05T00:00:00Z"),
            " aware+96h00m 72h:24h00m OVER "
        );
        incident
            .marks
            .extend([mark("notified", "2026-11-02T12:00:00Z")]);
        for now in ["2026-11-02T13:00:00Z", "2026-11-09T00:00:00Z"] {
            assert_eq!(text(&incident, now), " notified at aware+36h00m 72h: met ");
        }
        incident
            .marks
            .extend([mark("notified", "2026-11-04T06:00:00Z")]);
        assert_eq!(
            text(&incident, "2026-11-09T00:00:00Z"),
            " notified at aware+78h00m 72h: 6h00m late "
        );
    }
}
