//! The help overlay: every key, from one table ([`KEYS`]) that tests check against `update`.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph};

use super::{Theme, centered};

/// (keys, what they do). Grouped by where they apply.
pub const KEYS: &[(&str, &str)] = &[
    ("↑↓ j k", "move / scroll"),
    ("g G PgUp PgDn", "first / last / page"),
    ("Enter", "run the step (destructive: type to confirm)"),
    ("r", "retry a failed step / re-run deliberately"),
    ("c", "cancel the running step"),
    ("s", "skip the step, with a reason"),
    ("1-9", "tick checklist item N (manual steps)"),
    ("e", "edit the draft in $EDITOR"),
    ("n", "add a note (Tab or #follow-up: action item)"),
    ("f", "record a fact + when it happened"),
    ("F", "correct a recorded fact (the original is kept)"),
    ("m", "set or correct a time mark"),
    ("b Esc", "Runbook view"),
    ("t", "Timeline view (/ filters by kind or step)"),
    ("v", "Evidence view"),
    ("d", "Drafts view"),
    ("Tab", "next view"),
    ("l", "lab panel (drills)"),
    ("?", "this help"),
    ("q Ctrl-C", "quit (safe at any time; resume later)"),
];

pub fn render(frame: &mut Frame, area: Rect, theme: Theme) {
    let height = u16::try_from(KEYS.len()).unwrap_or(u16::MAX) + 4;
    let rect = centered(area, 64, height);
    frame.render_widget(Clear, rect);
    let mut lines: Vec<Line> = KEYS
        .iter()
        .map(|(keys, what)| {
            Line::from(vec![
                Span::styled(format!("{keys:>14}  "), theme.heading()),
                Span::raw(*what),
            ])
        })
        .collect();
    lines.push(Line::default());
    lines.push(Line::from(Span::styled(
        "Every action is journalled before it shows. Esc closes.",
        theme.dim(),
    )));
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::new()
                .borders(Borders::ALL)
                .title(Span::styled(" Keys ", theme.heading())),
        ),
        rect,
    );
}
