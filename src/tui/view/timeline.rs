//! The Timeline view: the journal's events, newest last, with UTC and local clocks, filtered
//! by a substring of the kind or the step (`/`). It draws the rows of the pager's last
//! [`Page`](crate::timeline::Page) (one screen of them, whatever the journal's length) and
//! says when a filter is still being searched. Each event reads as
//! [`describe`](crate::incident::describe) words it, as in the exports, escaped for the
//! terminal (`crate::text`).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Paragraph};

use super::{Theme, both_clocks};
use crate::journal::Kind;
use crate::timeline::{Row, Search};
use crate::tui::app::App;

pub fn render(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let timeline = &app.timeline;
    let filter = timeline.filter.value().to_lowercase();
    let total = app.incident.last_seq;
    let searching = timeline.page.as_ref().and_then(|p| match p.search {
        Search::Running { scanned } => Some(scanned),
        Search::Done => None,
    });
    let title = if filter.is_empty() && !timeline.editing_filter {
        format!(" Timeline · {total} events ")
    } else {
        let cursor = if timeline.editing_filter { "▏" } else { "" };
        let found = match (searching, timeline.page.as_ref().and_then(|p| p.matched)) {
            (Some(scanned), _) => format!("searching… {scanned} scanned"),
            (None, Some(matched)) => format!("{matched} of {total}"),
            (None, None) => format!("{total} events"),
        };
        format!(" Timeline · filter: {filter}{cursor} · {found} ")
    };
    let block = Block::new()
        .borders(Borders::TOP)
        .title(Span::styled(title, theme.heading()))
        .border_style(theme.dim());
    let inner = block.inner(area);
    frame.render_widget(block, area);

    let Some(page) = &timeline.page else {
        let waiting = Line::from(Span::styled("reading the journal…", theme.dim()));
        frame.render_widget(Paragraph::new(waiting), inner);
        return;
    };
    // Newest last: if the screen shrank since the page was asked for, its last rows.
    let height = usize::from(inner.height);
    let rows = &page.rows[page.rows.len().saturating_sub(height)..];
    // Seqs right-aligned to the widest the journal has, so long journals keep their columns.
    let width = total.to_string().len().max(5);
    let lines: Vec<Line> = rows
        .iter()
        .map(|r| row_line(app, r, width, theme))
        .collect();
    frame.render_widget(Paragraph::new(lines), inner);
}

fn row_line(app: &App, row: &Row, width: usize, theme: Theme) -> Line<'static> {
    let kind_style = match row.kind {
        Kind::StepFailed | Kind::StepInterrupted | Kind::JournalRecovered => theme.bad(),
        Kind::StepSucceeded | Kind::EvidenceCaptured => theme.good(),
        Kind::Mark | Kind::Fact | Kind::FactCorrected | Kind::Inject | Kind::Confirm => {
            theme.warn()
        }
        _ => theme.accent(),
    };
    let mut spans = vec![
        Span::styled(format!("{:>width$} ", row.seq), theme.dim()),
        Span::raw(format!("{} ", both_clocks(app, row.at))),
        Span::styled(format!("{:<18}", row.kind.as_str()), kind_style),
    ];
    // Journal text (steps, actors, descriptions) may carry control sequences: shown escaped,
    // as everywhere (`crate::text`).
    if let Some(step) = &row.step {
        spans.push(Span::styled(
            format!("{} ", crate::text::escape(step)),
            theme.heading(),
        ));
    }
    spans.push(Span::raw(crate::text::escape(&row.text).into_owned()));
    if let Some(given) = row.given {
        spans.push(Span::styled(format!(" (happened {given})"), theme.dim()));
    }
    spans.push(Span::styled(
        format!("  {}", crate::text::escape(&row.actor)),
        theme.dim(),
    ));
    Line::from(spans)
}
