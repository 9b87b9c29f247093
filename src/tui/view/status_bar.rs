//! The status bar: incident id, responder, T+ since opened, time since `aware` and each
//! notification deadline with a fixed period (`72h`, `30d`; see `draft::deadline`), stopped at
//! `notified`, DRILL watermark, last journal seq and hash prefix. Team mode: the login and its
//! role, "team link down" while it is ("offline — N pending" while own events wait on the
//! pending sub-chain), the last merge's conflicts, and the "journal rewritten" alarm over
//! everything.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::{Theme, duration};
use crate::draft::deadline::Standing;
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
    if let Some(alarm) = &app.alarm {
        // Nothing else matters until a person has looked: the whole bar says so.
        let text = format!(
            " JOURNAL REWRITTEN — writing stopped: {} ",
            crate::text::escape(alarm)
        );
        frame.render_widget(
            Paragraph::new(Span::styled(
                text,
                theme.bad().add_modifier(Modifier::REVERSED),
            )),
            area,
        );
        return;
    }
    spans.push(Span::styled(
        format!(" {} ", incident.id),
        bar.add_modifier(Modifier::BOLD),
    ));
    match &app.team_login {
        // Team mode: who this terminal is, and their role in the incident.
        Some(login) => spans.push(Span::styled(
            format!(
                " {} ({}) ",
                crate::text::escape(login),
                incident.team.role_of(login).unwrap_or("member")
            ),
            bar,
        )),
        None => spans.push(Span::styled(format!(" {} ", incident.responder), bar)),
    }
    link_spans(app, theme, &mut spans);
    if let Some(opened) = incident.opened_at {
        let t = super::elapsed_ms(app.now, opened);
        spans.push(Span::raw(format!(" T+{} ", duration(t))));
    }
    let deadlines = crate::draft::deadline::track(incident, app.now);
    match incident.marks.get("aware") {
        Some(aware) => {
            let since_ms = super::elapsed_ms(app.now, aware.at);
            spans.push(Span::styled(
                format!(" aware+{}", hours(since_ms)),
                theme.warn(),
            ));
            // Each deadline with a fixed period, until `notified` stops its clock.
            for d in deadlines.iter().filter(|d| d.due.is_some()) {
                let left_ms = d.remaining_seconds.unwrap_or_default() * 1000;
                let (text, style) = match d.status {
                    Standing::Met => ("met".to_owned(), theme.good()),
                    Standing::Missed => ("missed".to_owned(), theme.bad()),
                    _ if left_ms >= 0 => (
                        format!("{} left", span(left_ms)),
                        if left_ms < 12 * 3_600_000 {
                            theme.bad()
                        } else {
                            theme.warn()
                        },
                    ),
                    _ => (format!("{} OVER", span(-left_ms)), theme.bad()),
                };
                spans.push(Span::styled(format!(" {}:{text}", d.short), style));
            }
            spans.push(Span::raw(" "));
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

/// Hours up to three days (`70h59m`, as regulators write the 72-hour window), days beyond
/// (`29d23h`).
fn span(ms: i64) -> String {
    if ms < 3 * 86_400_000 {
        hours(ms)
    } else {
        duration(ms)
    }
}

/// `70h59m`: the notification window is counted in hours, as regulators write it.
fn hours(ms: i64) -> String {
    let minutes = ms.max(0) / 60_000;
    format!("{}h{:02}m", minutes / 60, minutes % 60)
}

/// Team mode: the link's state ("offline — N pending" while own events wait for the merge)
/// and the last merge's conflicts, for the commander.
fn link_spans(app: &App, theme: Theme, spans: &mut Vec<Span<'static>>) {
    match app.offline_pending {
        0 if app.link_down.is_some() => {
            spans.push(Span::styled(" team link down ", theme.bad()));
        }
        0 => {}
        n => spans.push(Span::styled(
            format!(" offline — {n} pending "),
            theme.bad(),
        )),
    }
    if !app.merge_conflicts.is_empty() {
        let n = app.merge_conflicts.len();
        let s = if n == 1 { "" } else { "s" };
        spans.push(Span::styled(
            format!(" {n} merge conflict{s} "),
            theme.bad(),
        ));
    }
}

#[cfg(test)]
mod tests {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use serde_json::json;

    use super::*;
    use crate::incident::Incident;
    use crate::journal::Kind;
    use crate::tui::fixture::{self, Chain};

    /// The status bar of an incident aware at 18:00Z, with `extra` marks, drawn at `now`.
    fn bar(extra: &[(&str, &str)], now: &str) -> String {
        let start: jiff::Timestamp = "2019-12-26T18:00:00Z".parse().unwrap();
        let mut chain = Chain::opened(start, false);
        for (name, at) in std::iter::once(&("aware", "2019-12-26T18:00:00Z")).chain(extra) {
            chain.push(0, Kind::Mark, None, json!({"name": name, "at": at}));
        }
        let mut app = crate::tui::app::App::new(
            fixture::runbook(fixture::E2E_RUNBOOK),
            Incident::replay(chain.events),
            now.parse().unwrap(),
        );
        app.now = now.parse().unwrap();
        let mut term = Terminal::new(TestBackend::new(120, 1)).unwrap();
        term.draw(|f| render(&app, f, f.area(), Theme { color: false }))
            .unwrap();
        let buffer = term.backend().buffer();
        buffer
            .content()
            .iter()
            .map(ratatui::buffer::Cell::symbol)
            .collect()
    }

    #[test]
    fn every_fixed_deadline_counts_down_from_aware() {
        let text = bar(&[], "2019-12-26T20:30:00Z");
        assert!(
            text.contains(" aware+2h30m 72h:69h30m left 30d:29d21h left "),
            "{text}"
        );
    }

    #[test]
    fn a_deadline_past_its_period_shows_how_far_over() {
        let text = bar(&[], "2019-12-30T00:00:00Z");
        assert!(text.contains(" 72h:6h00m OVER 30d:26d18h left "), "{text}");
    }

    #[test]
    fn notified_stops_every_clock() {
        let text = bar(
            &[("notified", "2019-12-29T20:00:00Z")],
            "2020-02-01T00:00:00Z",
        );
        assert!(text.contains(" 72h:missed 30d:met "), "{text}");
        assert!(!text.contains("OVER"), "{text}");
    }
}
