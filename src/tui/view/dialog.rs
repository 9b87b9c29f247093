//! Dialogs drawn over the view: destructive-step confirmation, skip reason, note, fact, mark,
//! drill inject, error, help. The open dialog is `App::modal`; its keys are in `update`.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Clear, Paragraph, Wrap};

use super::{Theme, centered, help};
use crate::runbook::MARKS;
use crate::text::escape;
use crate::tui::app::{App, FactField, Modal};
use crate::tui::input::Input;

pub fn render(app: &App, modal: &Modal, frame: &mut Frame, theme: Theme) {
    let area = frame.area();
    let (title, lines, title_style) = match modal {
        Modal::Help => {
            help::render(frame, area, theme);
            return;
        }
        Modal::Confirm {
            step,
            expected,
            target,
            identity,
            input,
            mismatch,
            ..
        } => {
            let mut lines = vec![
                Line::from(vec![
                    Span::raw("Step "),
                    Span::styled(step.clone(), theme.heading()),
                    Span::raw(" changes a live system."),
                ]),
                Line::default(),
                Line::from(vec![
                    Span::styled("target   ", theme.dim()),
                    Span::raw(escape(target).into_owned()),
                ]),
            ];
            for (name, value) in identity {
                lines.push(Line::from(vec![
                    Span::styled(format!("{name:<8} "), theme.dim()),
                    Span::styled(escape(value).into_owned(), theme.heading()),
                ]));
            }
            lines.push(Line::default());
            lines.push(Line::from(vec![
                Span::raw("Type "),
                // Already escaped by the engine (typed as shown); escaping again is a no-op.
                Span::styled(escape(expected).into_owned(), theme.warn()),
                Span::raw(" exactly to proceed:"),
            ]));
            lines.push(field_line("", input, true, theme));
            if *mismatch {
                lines.push(Line::from(Span::styled(
                    "does not match; nothing was sent",
                    theme.bad(),
                )));
            }
            lines.push(hint("Enter confirm · Esc cancel", theme));
            (" Destructive step ", lines, theme.bad())
        }
        Modal::Skip { step, input } => (
            " Skip ",
            vec![
                Line::from(format!("Why skip {step}? (journalled)")),
                field_line("", input, true, theme),
                hint("Enter skip · Esc cancel", theme),
            ],
            theme.heading(),
        ),
        Modal::Note {
            step,
            input,
            follow_up,
        } => (
            " Note ",
            vec![
                Line::from(match step {
                    Some(step) => format!("Note on {step}:"),
                    None => "Note:".to_owned(),
                }),
                field_line("", input, true, theme),
                Line::from(vec![
                    Span::raw(if *follow_up { "[x]" } else { "[ ]" }),
                    Span::raw(" follow-up action item (Tab, or write #follow-up)"),
                ]),
                hint("Enter save · Esc cancel", theme),
            ],
            theme.heading(),
        ),
        Modal::Fact {
            text,
            when,
            focus,
            error,
            corrects,
        } => {
            let original =
                corrects.and_then(|seq| app.incident.facts.iter().find(|f| f.seq == seq));
            let mut lines = vec![match original {
                Some(fact) => Line::from(vec![
                    Span::styled("was: ", theme.dim()),
                    Span::raw(fact.current().0.to_owned()),
                ]),
                None => Line::from("Something that happened (e.g. \"report received\"):"),
            }];
            lines.extend([
                field_line("what ", text, *focus == FactField::Text, theme),
                field_line("when ", when, *focus == FactField::When, theme),
                Line::from(Span::styled(
                    "17:21 local · 17:21Z · 2019-12-26T09:21-08:00 · -15m · now",
                    theme.dim(),
                )),
            ]);
            if let Some(e) = error {
                lines.push(Line::from(Span::styled(e.clone(), theme.bad())));
            }
            if corrects.is_some() {
                lines.push(hint(
                    "PgUp/PgDn other fact · Tab switch field · Enter correct · Esc cancel",
                    theme,
                ));
                (" Correct fact (both kept) ", lines, theme.heading())
            } else {
                lines.push(hint("Tab switch field · Enter record · Esc cancel", theme));
                (" Fact ", lines, theme.heading())
            }
        }
        Modal::Mark {
            choice,
            when,
            error,
        } => {
            let mut lines = Vec::new();
            for (i, name) in MARKS.iter().enumerate() {
                let current = app
                    .incident
                    .marks
                    .get(*name)
                    .map(|m| format!("  {}", m.at.strftime("%Y-%m-%d %H:%MZ")))
                    .unwrap_or_default();
                let style = if i == *choice {
                    theme.selected()
                } else {
                    ratatui::style::Style::new()
                };
                lines.push(Line::from(vec![
                    Span::styled(format!(" {name:<20}"), style),
                    Span::styled(current, theme.dim()),
                ]));
            }
            lines.push(field_line("at   ", when, true, theme));
            if let Some(e) = error {
                lines.push(Line::from(Span::styled(e.clone(), theme.bad())));
            }
            lines.push(hint("↑↓ choose · Enter set (again = correct) · Esc", theme));
            (" Mark ", lines, theme.heading())
        }
        Modal::Inject {
            offset,
            title,
            body,
        } => (
            " DRILL inject ",
            vec![
                Line::from(vec![
                    Span::styled(format!("{offset} "), theme.warn()),
                    Span::styled(title.clone(), theme.heading()),
                ]),
                Line::default(),
                Line::from(body.clone()),
                hint("Enter dismiss", theme),
            ],
            theme.warn(),
        ),
        Modal::Error { message } => (
            " Error ",
            vec![
                Line::from(Span::styled(message.clone(), theme.bad())),
                hint("Enter dismiss (details in the log)", theme),
            ],
            theme.bad(),
        ),
    };
    draw_box(frame, area, title, title_style, lines);
}

fn hint(text: &str, theme: Theme) -> Line<'static> {
    Line::from(Span::styled(text.to_owned(), theme.dim()))
}

fn field_line(label: &str, input: &Input, focused: bool, theme: Theme) -> Line<'static> {
    let mut spans = vec![Span::styled(label.to_owned(), theme.dim())];
    let text = input.display();
    if focused {
        let chars: Vec<char> = text.chars().collect();
        let at = input.cursor().min(chars.len());
        let before: String = chars[..at].iter().collect();
        let cursor: String = chars
            .get(at)
            .map_or_else(|| " ".to_owned(), char::to_string);
        let after: String = chars
            .get(at + 1..)
            .map(|c| c.iter().collect())
            .unwrap_or_default();
        spans.push(Span::raw(format!("› {before}")));
        spans.push(Span::styled(cursor, theme.selected()));
        spans.push(Span::raw(after));
    } else {
        spans.push(Span::raw(format!("  {text}")));
    }
    Line::from(spans)
}

fn draw_box(
    frame: &mut Frame,
    area: Rect,
    title: &str,
    title_style: ratatui::style::Style,
    lines: Vec<Line<'static>>,
) {
    let width = area.width.saturating_sub(4).min(72);
    let inner_width = usize::from(width.saturating_sub(2)).max(1);
    // Wrapped height: each line takes ceil(len / width) rows.
    let rows: usize = lines
        .iter()
        .map(|l| l.width().max(1).div_ceil(inner_width))
        .sum();
    let height = u16::try_from(rows + 2).unwrap_or(u16::MAX);
    let rect = centered(area, width, height);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines)
            .block(
                Block::new()
                    .borders(Borders::ALL)
                    .border_style(title_style)
                    .title(Span::styled(title.to_owned(), title_style)),
            )
            .wrap(Wrap { trim: false }),
        rect,
    );
}
