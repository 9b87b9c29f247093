//! The HTML review sections (summary, detection, trigger and root cause, resolution, went
//! well / wrong / lucky, decisions, lessons), action items with owner and due date, the
//! notification deadlines and a drill's times beside the reference case. Each review section
//! lists what the journal says, then its prompt in a boxed "To write" paragraph, so what is
//! recorded and what people still owe never look alike. Every piece of text is escaped.

use std::fmt::Write;

use super::{escape, opt};
use crate::export::report::actions::{self, Cell};
use crate::export::report::time::utc;
use crate::export::report::{Report, Section};

fn section(out: &mut String, id: &str, heading: &str, section: &Section) {
    let _ = writeln!(out, "<section id=\"{id}\">\n<h2>{heading}</h2>");
    if !section.entries.is_empty() {
        out.push_str("<ul class=\"entries\">\n");
        for e in &section.entries {
            let _ = writeln!(
                out,
                "<li>{} <span class=\"source\">({})</span></li>",
                escape(&e.text),
                escape(&e.source)
            );
        }
        out.push_str("</ul>\n");
    }
    if let Some(prompt) = &section.prompt {
        let _ = writeln!(
            out,
            "<p class=\"prompt\"><b>To write:</b> {}</p>",
            escape(prompt)
        );
    }
    out.push_str("</section>\n");
}

/// `What went well` → `what-went-well`.
fn anchor(heading: &str) -> String {
    heading.to_ascii_lowercase().replace(' ', "-")
}

pub fn summary(out: &mut String, r: &Report) {
    section(out, "summary-section", "Summary", &r.review.summary);
}

/// Detection, trigger and root cause, resolution: after impact.
pub fn story(out: &mut String, r: &Report) {
    for (heading, s) in &r.review.sections()[1..4] {
        section(out, &anchor(heading), heading, s);
    }
}

/// Went well / wrong / lucky, decisions, action items, lessons: after the timeline.
pub fn reflection(out: &mut String, r: &Report) {
    let sections = r.review.sections();
    for (heading, s) in &sections[4..8] {
        section(out, &anchor(heading), heading, s);
    }
    action_items(out, r);
    let (heading, lessons) = sections[8];
    section(out, &anchor(heading), heading, lessons);
}

fn action_items(out: &mut String, r: &Report) {
    out.push_str("<section id=\"action-items\">\n<h2>Action items</h2>\n");
    if r.action_items.is_empty() {
        let _ = writeln!(
            out,
            "<p class=\"muted\">No notes were tagged <code>follow-up</code>.</p>\n<p class=\"prompt\"><b>To write:</b> {}</p>\n</section>",
            escape(actions::PROMPT)
        );
        return;
    }
    out.push_str("<table><thead><tr><th>Action</th><th>Owner</th><th>Due</th><th>Raised by</th></tr></thead><tbody>\n");
    for a in &r.action_items {
        let _ = writeln!(
            out,
            "<tr><td>☐ {}</td><td>{}</td><td class=\"t\">{}</td><td>{}, seq {}</td></tr>",
            escape(&a.text),
            cell(a.owner_cell()),
            cell(a.due_cell()),
            escape(&a.actor),
            a.seq
        );
    }
    out.push_str("</tbody></table>\n</section>\n");
}

fn cell(cell: Cell) -> String {
    match cell {
        Cell::Value(text) => escape(&text),
        Cell::Todo(text) => format!("<b class=\"todo\">{}</b>", escape(&text)),
    }
}

pub fn deadlines(out: &mut String, r: &Report) {
    out.push_str("<h3>Notification deadlines</h3>\n");
    let Some(first) = r.deadlines.first() else {
        out.push_str("<p class=\"muted\">The <code>aware</code> mark was not set, so no deadline can be counted.</p>\n");
        return;
    };
    let _ = writeln!(
        out,
        "<p>Counted from <code>aware</code> ({}); each clock stops at <code>notified</code>.</p>",
        utc(first.aware_at)
    );
    out.push_str("<table><thead><tr><th>Who must be told</th><th>Deadline (UTC)</th><th>Status</th><th>Where it stands</th></tr></thead><tbody>\n");
    for d in &r.deadlines {
        let status = d.status.as_str();
        let _ = writeln!(
            out,
            "<tr><td>{}<br><span class=\"muted\">{}</span></td><td class=\"t\">{}</td><td class=\"t\"><b class=\"w-{status}\">{status}</b></td><td>{}</td></tr>",
            escape(&d.label),
            escape(&d.basis),
            d.due.map_or_else(|| "without undue delay".to_owned(), utc),
            escape(&d.text)
        );
    }
    out.push_str("</tbody></table>\n");
}

pub fn comparison(out: &mut String, r: &Report) {
    if !r.drill {
        return;
    }
    out.push_str("<section id=\"comparison\">\n<h2>The team beside the reference case</h2>\n");
    if r.comparison.is_empty() {
        out.push_str("<p class=\"muted\">The drill was not scored, so the team's times cannot be compared with the reference case.</p>\n</section>\n");
        return;
    }
    out.push_str("<p class=\"muted\">Times after the <code>reported</code> mark.</p>\n<table><thead><tr><th>Mark</th><th>Team</th><th>Reference case</th><th>Difference</th><th>In the reference case</th></tr></thead><tbody>\n");
    for c in &r.comparison {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"t\">{}</td><td>{}</td></tr>",
            escape(&c.mark.replace('_', " ")),
            escape(&c.team_text()),
            escape(&c.reference_text()),
            opt(c.difference.as_deref()),
            opt(c.note.as_deref())
        );
    }
    out.push_str("</tbody></table>\n</section>\n");
}
