//! The selected step: what it is for (notes), what it will send (the masked preview), and
//! what happened when it ran (status, timing, captures, failed expectations, evidence).

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Borders, Padding, Paragraph, Wrap};

use super::{Theme, duration, markdown};
use crate::runbook::{Action, Step};
use crate::text::escape;
use crate::tui::app::{App, DisplayStatus, EngineState};

pub fn render(app: &App, frame: &mut Frame, area: Rect, theme: Theme) {
    let Some(step) = app.selected_step() else {
        frame.render_widget(Paragraph::new("This runbook has no steps."), area);
        return;
    };
    let status = app.display_status(step);
    let record = app.incident.steps.get(step.id());
    let mut lines: Vec<Line<'static>> = Vec::new();
    header_lines(app, step, status, theme, &mut lines);
    lines.push(Line::default());

    if let Some(notes) = &step.notes {
        lines.extend(markdown::render(notes, theme));
        lines.push(Line::default());
    }

    action_lines(app, step, theme, &mut lines);

    if let Some(record) = record {
        result_lines(record, theme, &mut lines);
    }
    let block = Block::new()
        .borders(Borders::NONE)
        .padding(Padding::horizontal(1));
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}

/// Title, state (with a running step's progress), needs, warnings and the mark it sets.
fn header_lines(
    app: &App,
    step: &Step,
    status: DisplayStatus,
    theme: Theme,
    lines: &mut Vec<Line<'static>>,
) {
    let label = |text: &str| Span::styled(format!("{text} "), theme.dim());
    lines.push(Line::from(vec![
        Span::styled(step.title().to_owned(), theme.heading()),
        Span::styled(format!("  {} · {}", step.id(), step.phase), theme.dim()),
    ]));
    let mut state = vec![
        label("state"),
        Span::styled(status.label().to_owned(), theme.status(status)),
    ];
    if let Some(run) = app.running.get(step.id()) {
        state.push(Span::raw(format!(
            "  {}",
            duration(super::elapsed_ms(app.now, run.since))
        )));
        if let Some((n, code)) = run.attempt {
            let code = code.map_or_else(|| "error".to_owned(), |c| c.to_string());
            state.push(Span::raw(format!("  attempt {n}: {code}")));
        }
        if let Some((done, total, failed)) = run.items {
            state.push(Span::raw(format!(
                "  items {done}/{total}, {failed} failed"
            )));
        }
        if run.cancelling {
            state.push(Span::styled("  cancelling…", theme.warn()));
        }
    }
    lines.push(Line::from(state));
    if !step.needs.is_empty() {
        let needs: Vec<&str> = step.needs().collect();
        lines.push(Line::from(vec![
            label("needs"),
            Span::raw(needs.join(", ")),
        ]));
    }
    if step.is_destructive() {
        lines.push(Line::from(Span::styled(
            "⚠ destructive: asks for typed confirmation",
            theme.warn(),
        )));
    }
    if status == DisplayStatus::Interrupted {
        lines.push(Line::from(Span::styled(
            "! started before the last exit with no recorded outcome: it may have reached the \
             server. Check, then r to re-run or s to skip.",
            theme.warn(),
        )));
    }
    if let Some(mark) = &step.mark {
        lines.push(Line::from(vec![
            label("sets mark"),
            Span::raw(mark.get_ref().clone()),
        ]));
    }
}

/// What the step does: the request it will send, its checklist, or its draft.
fn action_lines(app: &App, step: &Step, theme: Theme, lines: &mut Vec<Line<'static>>) {
    let label = |text: &str| Span::styled(format!("{text} "), theme.dim());
    let record = app.incident.steps.get(step.id());
    match step.action() {
        Some(Action::Http(_)) => request_lines(app, step.id(), theme, lines),
        Some(Action::Manual(items)) => {
            lines.push(Line::from(Span::styled("Checklist", theme.heading())));
            for (i, item) in items.iter().enumerate() {
                let ticked = record
                    .and_then(|r| r.checklist.get(&(i as u64)))
                    .copied()
                    .unwrap_or(false);
                let (mark, style) = if ticked {
                    ("[x]", theme.good())
                } else {
                    ("[ ]", ratatui::style::Style::new())
                };
                lines.push(Line::from(vec![
                    Span::styled(format!("{} {mark} ", i + 1), style),
                    Span::raw(item.clone()),
                ]));
            }
            lines.push(Line::default());
        }
        Some(Action::Draft(draft)) => {
            lines.push(Line::from(vec![
                label("draft"),
                Span::raw(format!(
                    "{} → drafts/{}",
                    draft.template.get_ref(),
                    draft.output.get_ref()
                )),
            ]));
            let versions = app
                .incident
                .drafts
                .iter()
                .filter(|d| d.step.as_deref() == Some(step.id()))
                .count();
            lines.push(Line::from(vec![
                label("saved versions"),
                Span::raw(versions.to_string()),
                Span::styled("  (e edits in $EDITOR)", theme.dim()),
            ]));
            lines.push(Line::default());
        }
        None => {}
    }
}

/// Outside text (responses, captures, errors) as the screen shows it: control and invisible
/// characters escaped, one rule for every output (`crate::text`).
fn shown(text: &str) -> String {
    escape(text).into_owned()
}

fn request_lines(app: &App, id: &str, theme: Theme, lines: &mut Vec<Line<'static>>) {
    lines.push(Line::from(Span::styled("Request", theme.heading())));
    match app.previews.get(id) {
        Some(Ok(preview)) if preview.skip.is_some() => {
            let reason = preview.skip.as_deref().unwrap_or_default();
            lines.push(Line::from(Span::styled(
                format!("would be skipped: {}", shown(reason)),
                theme.dim(),
            )));
        }
        Some(Ok(preview)) => {
            // Warnings first: "TLS checks are OFF" must be read before the request is sent.
            for warning in &preview.warnings {
                lines.push(Line::from(Span::styled(
                    format!("⚠ {warning}"),
                    theme.warn(),
                )));
            }
            lines.push(Line::from(vec![
                Span::styled(format!("{} ", preview.method), theme.accent()),
                Span::raw(preview.url.clone()),
            ]));
            for (name, value) in &preview.headers {
                lines.push(Line::from(vec![
                    Span::styled(format!("{name}: "), theme.dim()),
                    Span::raw(shown(value)),
                ]));
            }
            if let Some(body) = &preview.body {
                for line in body.lines().take(12) {
                    lines.push(Line::from(Span::raw(format!("  {}", escape(line)))));
                }
            }
            if let Some(items) = preview.items {
                lines.push(Line::from(Span::styled(
                    format!("(the first of {items} requests, one per item)"),
                    theme.dim(),
                )));
            }
            if let Some(confirm) = &preview.confirm {
                lines.push(Line::from(vec![
                    Span::styled("confirm by typing ", theme.dim()),
                    Span::styled(confirm.clone(), theme.warn()),
                ]));
            }
        }
        Some(Err(e)) => lines.push(Line::from(Span::styled(
            format!("cannot preview yet: {}", escape(&e.to_string())),
            theme.warn(),
        ))),
        None => {
            let waiting = match app.engine {
                EngineState::Starting => "starting the engine…",
                EngineState::Ready | EngineState::Failed(_) => "…",
            };
            lines.push(Line::from(Span::styled(waiting, theme.dim())));
        }
    }
    lines.push(Line::default());
}

fn result_lines(
    record: &crate::incident::StepRecord,
    theme: Theme,
    lines: &mut Vec<Line<'static>>,
) {
    if record.attempts == 0 && record.skip_reason.is_none() && record.pending_reason.is_none() {
        return;
    }
    lines.push(Line::from(Span::styled("Result", theme.heading())));
    let dim = |t: &str| Span::styled(format!("{t} "), theme.dim());
    if let Some(started) = record.started_at {
        let mut spans = vec![
            dim("started"),
            Span::raw(started.strftime("%H:%M:%SZ").to_string()),
        ];
        if let Some(ms) = record.duration_ms {
            spans.push(dim("  took"));
            spans.push(Span::raw(duration(i64::try_from(ms).unwrap_or(i64::MAX))));
        }
        spans.push(dim("  attempts"));
        spans.push(Span::raw(record.attempts.to_string()));
        lines.push(Line::from(spans));
    }
    if let Some(resp) = &record.last_response {
        let status = resp
            .status
            .map_or_else(|| "no response".to_owned(), |s| format!("HTTP {s}"));
        let style = match resp.status {
            Some(200..=299) => theme.good(),
            Some(_) => theme.warn(),
            None => theme.bad(),
        };
        lines.push(Line::from(vec![
            dim("response"),
            Span::styled(status, style),
            Span::raw(format!("  {} ms  {} bytes", resp.elapsed_ms, resp.bytes)),
        ]));
        if let Some(error) = &resp.error {
            lines.push(Line::from(Span::styled(shown(error), theme.bad())));
        }
    }
    if let Some((total, failed)) = record.items {
        lines.push(Line::from(vec![
            dim("items"),
            Span::raw(format!("{total}, {failed} failed")),
        ]));
    }
    if let (Some(via), Some(by)) = (&record.confirmed_via, &record.confirmed_by) {
        // Destructive steps: who confirmed (the `confirm` event's actor), and how.
        lines.push(Line::from(vec![
            dim("confirmed by"),
            Span::raw(shown(by)),
            dim(&format!("  via {via}")),
        ]));
    }
    if let Some(summary) = &record.summary {
        lines.push(Line::from(vec![dim("summary"), Span::raw(shown(summary))]));
    }
    if let Some(error) = &record.error {
        lines.push(Line::from(vec![
            dim("error"),
            Span::styled(shown(error), theme.bad()),
        ]));
    }
    for failed in &record.failed_expectations {
        lines.push(Line::from(vec![
            Span::styled("✗ expected ", theme.bad()),
            Span::raw(failed.expr.clone()),
            Span::styled("  got ", theme.dim()),
            Span::raw(shown(&failed.actual)),
        ]));
    }
    for (name, value) in &record.captures {
        let value = value.display();
        let value: String = escape(&value).chars().take(120).collect();
        lines.push(Line::from(vec![
            Span::styled(format!("vars.{name} = "), theme.dim()),
            Span::raw(value),
        ]));
    }
    for sha in &record.evidence {
        lines.push(Line::from(vec![
            dim("evidence sha256"),
            Span::raw(sha.clone()),
        ]));
    }
    if let Some(reason) = &record.skip_reason {
        lines.push(Line::from(vec![dim("skipped:"), Span::raw(shown(reason))]));
    }
    if let Some(reason) = &record.pending_reason {
        lines.push(Line::from(vec![
            dim("left for a human:"),
            Span::raw(reason.clone()),
        ]));
    }
}
