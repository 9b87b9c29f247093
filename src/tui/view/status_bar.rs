//! The status bar: incident id, responder, T+ since opened, time since `aware` against the
//! 72-hour notification window, DRILL watermark, last journal seq and hash prefix.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Theme, duration};
use crate::tui::app::App;

/// GDPR Art. 33: notify within 72 hours of becoming aware.
pub const NOTIFY_WINDOW_HOURS: i64 = 72;

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
    match incident.marks.get("aware") {
        Some(aware) => {
            let since_ms = super::elapsed_ms(app.now, aware.at);
            let left_ms = NOTIFY_WINDOW_HOURS * 3_600_000 - since_ms;
            let style = if left_ms < 12 * 3_600_000 {
                theme.bad()
            } else {
                theme.warn()
            };
            let left = if left_ms >= 0 {
                format!("{} left", hours(left_ms))
            } else {
                format!("{} OVER", hours(-left_ms))
            };
            spans.push(Span::styled(
                format!(" aware+{} 72h:{left} ", hours(since_ms)),
                style,
            ));
        }
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

/// `70h59m`: the notification window is counted in hours, as regulators write it.
fn hours(ms: i64) -> String {
    let minutes = ms.max(0) / 60_000;
    format!("{}h{:02}m", minutes / 60, minutes % 60)
}
