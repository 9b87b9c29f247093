//! The Markdown review sections (summary, detection, trigger and root cause, resolution, went
//! well / wrong / lucky, decisions, lessons), action items with owner and due date, the
//! notification deadlines and a drill's times beside the reference case. Each review section
//! lists what the journal says, then its prompt as a quoted "To write" line: a reader sees at
//! once what is recorded and what people still owe. User text is escaped.

use std::fmt::Write;

use super::{escape, opt};
use crate::export::report::actions::{self, Cell};
use crate::export::report::time::utc;
use crate::export::report::{Report, Section};

fn section(out: &mut String, heading: &str, section: &Section) {
    let _ = writeln!(out, "## {heading}\n");
    for e in &section.entries {
        let _ = writeln!(out, "- {} *({})*", escape(&e.text), escape(&e.source));
    }
    if !section.entries.is_empty() {
        out.push('\n');
    }
    if let Some(prompt) = &section.prompt {
        let _ = writeln!(out, "> **To write:** {}\n", escape(prompt));
    }
}

/// The sections before the timeline: summary (after the header), then detection, trigger and
/// resolution (after impact).
pub fn summary(out: &mut String, r: &Report) {
    section(out, "Summary", &r.review.summary);
}

pub fn story(out: &mut String, r: &Report) {
    for (heading, s) in &r.review.sections()[1..4] {
        section(out, heading, s);
    }
}

/// The sections after the timeline: went well / wrong / lucky, decisions, action items,
/// lessons.
pub fn reflection(out: &mut String, r: &Report) {
    let sections = r.review.sections();
    for (heading, s) in &sections[4..8] {
        section(out, heading, s);
    }
    action_items(out, r);
    let (heading, lessons) = sections[8];
    section(out, heading, lessons);
}

fn action_items(out: &mut String, r: &Report) {
    out.push_str("## Action items\n\n");
    if r.action_items.is_empty() {
        let _ = writeln!(
            out,
            "No notes were tagged `follow-up`.\n\n> **To write:** {}\n",
            escape(actions::PROMPT)
        );
        return;
    }
    out.push_str("| Action | Owner | Due | Raised by |\n| --- | --- | --- | --- |\n");
    for a in &r.action_items {
        let _ = writeln!(
            out,
            "| \\[ \\] {} | {} | {} | {}, seq {} |",
            escape(&a.text),
            cell(a.owner_cell()),
            cell(a.due_cell()),
            escape(&a.actor),
            a.seq
        );
    }
    out.push('\n');
}

fn cell(cell: Cell) -> String {
    match cell {
        Cell::Value(text) => escape(&text),
        Cell::Todo(text) => format!("**{}**", escape(&text)),
    }
}

pub fn deadlines(out: &mut String, r: &Report) {
    out.push_str("### Notification deadlines\n\n");
    let Some(first) = r.deadlines.first() else {
        out.push_str("The `aware` mark was not set, so no deadline can be counted.\n\n");
        return;
    };
    let _ = writeln!(
        out,
        "Counted from `aware` ({}); each clock stops at `notified`.\n",
        utc(first.aware_at)
    );
    out.push_str("| Who must be told | Deadline (UTC) | Status | Where it stands |\n| --- | --- | --- | --- |\n");
    for d in &r.deadlines {
        let _ = writeln!(
            out,
            "| {} | {} | **{}** | {} |",
            escape(&d.label),
            d.due.map_or_else(|| "without undue delay".to_owned(), utc),
            d.status.as_str(),
            escape(&d.text)
        );
    }
    out.push('\n');
    for d in &r.deadlines {
        let _ = writeln!(out, "- {}: {}", escape(&d.label), escape(&d.basis));
    }
    out.push('\n');
}

pub fn comparison(out: &mut String, r: &Report) {
    if !r.drill {
        return;
    }
    out.push_str("## The team beside the reference case\n\n");
    if r.comparison.is_empty() {
        out.push_str("The drill was not scored, so the team's times cannot be compared with the reference case.\n\n");
        return;
    }
    out.push_str("Times after the `reported` mark.\n\n| Mark | Team | Reference case | Difference | In the reference case |\n| --- | --- | --- | --- | --- |\n");
    for c in &r.comparison {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            escape(&c.mark.replace('_', " ")),
            c.team_text(),
            c.reference_text(),
            opt(c.difference.as_deref()),
            opt(c.note.as_deref())
        );
    }
    out.push('\n');
}
