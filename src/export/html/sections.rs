//! The HTML sections after the review: steps, notes, evidence and chain of
//! custody, drafts as saved, drill injects and score. Every piece of user text is escaped.

use std::fmt::Write;

use super::{escape, opt};
use crate::export::report::time::{grouped, utc};
use crate::export::report::timeline::short_hash;
use crate::export::report::{Detail, Report};

pub fn steps(out: &mut String, r: &Report) {
    out.push_str("<section id=\"steps\">\n<h2>Steps</h2>\n<table><thead><tr><th>Step</th><th>Phase</th><th>Outcome</th><th>Attempts</th><th>Duration</th><th>Detail</th></tr></thead><tbody>\n");
    for s in &r.steps {
        let detail: Vec<String> = s
            .detail()
            .into_iter()
            .map(|d| match d {
                Detail::Text(text) => escape(&text),
                Detail::Capture(c) => {
                    format!("<code>{}</code> = {}", escape(&c.name), escape(&c.value))
                }
            })
            .collect();
        let status = s.status.as_str();
        let _ = writeln!(
            out,
            "<tr><td>{} <span class=\"muted\">({})</span></td><td>{}</td><td class=\"status s-{}\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td>{}</td></tr>",
            escape(&s.title),
            escape(&s.id),
            opt(s.phase.as_deref()),
            status.replace(' ', "_"),
            status,
            s.attempts,
            s.duration_text(),
            if detail.is_empty() {
                "—".to_owned()
            } else {
                detail.join("<br>")
            }
        );
    }
    out.push_str("</tbody></table>\n");
    let failed: Vec<_> = r.failed_expectations().collect();
    if !failed.is_empty() {
        out.push_str("<h3>Failed expectations</h3>\n<ul>\n");
        for (s, f) in failed {
            let _ = writeln!(
                out,
                "<li>{}: expected <code>{}</code>, got <code>{}</code></li>",
                escape(&s.id),
                escape(&f.expr),
                escape(&f.actual)
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
}

pub fn notes(out: &mut String, r: &Report) {
    out.push_str("<section id=\"notes\">\n<h2>Notes</h2>\n");
    if r.notes.is_empty() {
        out.push_str("<p class=\"muted\">No notes.</p>\n");
    } else {
        out.push_str("<ul>\n");
        for n in &r.notes {
            let _ = writeln!(
                out,
                "<li><span class=\"t\">{}</span> {}{}: {}{}</li>",
                utc(n.at),
                escape(&n.actor),
                n.step
                    .as_deref()
                    .map(|s| format!(" on {}", escape(s)))
                    .unwrap_or_default(),
                escape(&n.text),
                if n.tags.is_empty() {
                    String::new()
                } else {
                    format!(
                        " <span class=\"muted\">[{}]</span>",
                        escape(&n.tags.join(", "))
                    )
                }
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
}

pub fn evidence(out: &mut String, r: &Report) {
    out.push_str("<section id=\"evidence\">\n<h2>Evidence and chain of custody</h2>\n");
    if r.evidence.is_empty() {
        out.push_str("<p class=\"muted\">No evidence was captured.</p>\n");
    } else {
        out.push_str("<table><thead><tr><th>File</th><th>SHA-256</th><th>Bytes</th><th>Source request</th><th>Captured (UTC)</th><th>By</th><th>Step</th><th>Tool</th></tr></thead><tbody>\n");
        for e in &r.evidence {
            let _ = writeln!(
                out,
                "<tr><td class=\"hash\">{}</td><td class=\"hash\">{}</td><td class=\"num\">{}</td><td>{} {}</td><td class=\"t\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&e.file),
                escape(&e.sha256),
                grouped(e.bytes),
                escape(&e.method),
                escape(&e.url),
                utc(e.captured_at),
                escape(&e.by),
                opt(e.step.as_deref()),
                escape(&e.tool_version)
            );
        }
        out.push_str("</tbody></table>\n");
    }
    let _ = writeln!(
        out,
        "<p>The journal holds {} events; the last is seq {} with hash <span class=\"hash\">{}</span>. <code>stanch verify {}</code> re-checks the chain and every evidence file against it.</p>\n</section>",
        r.journal.events,
        r.journal.final_seq,
        escape(&r.journal.final_hash),
        escape(&r.summary.incident_id)
    );
}

pub fn drafts(out: &mut String, r: &Report) {
    out.push_str("<section id=\"drafts\">\n<h2>Drafts as saved</h2>\n");
    if r.drafts.is_empty() {
        out.push_str("<p class=\"muted\">No drafts were saved.</p>\n");
    }
    for d in &r.drafts {
        let verdict = match d.check.as_str() {
            "verified" => "the file matches this hash",
            "modified" => {
                "the file on disk differs from the last saved version (edited outside stanch); its current text is shown"
            }
            _ => "the file is missing from the incident directory",
        };
        let _ = writeln!(
            out,
            "<h3>{}</h3>\n<p>Step {}, {} version(s), last saved {} ({} bytes, SHA-256 <span class=\"hash\">{}</span>): <span class=\"check-{}\">{verdict}</span>.</p>",
            escape(&d.file),
            opt(d.step.as_deref()),
            d.versions,
            utc(d.saved_at),
            grouped(d.bytes),
            escape(short_hash(&d.sha256)),
            escape(&d.check)
        );
        if let Some(content) = &d.content {
            let _ = writeln!(out, "<pre>{}</pre>", escape(content));
        }
    }
    out.push_str("</section>\n");
}

pub fn drill(out: &mut String, r: &Report) {
    if r.injects.is_empty() && r.score.is_none() {
        return;
    }
    out.push_str("<section id=\"drill\">\n<h2>Drill</h2>\n");
    if !r.injects.is_empty() {
        out.push_str("<h3>Injects</h3>\n<ul>\n");
        for i in &r.injects {
            let _ = writeln!(
                out,
                "<li><span class=\"t\">{}</span> ({}): <b>{}</b>: {}</li>",
                utc(i.at),
                escape(&i.offset),
                escape(&i.title),
                escape(&i.body)
            );
        }
        out.push_str("</ul>\n");
    }
    if let Some(score) = &r.score {
        let text = serde_json::to_string_pretty(score).unwrap_or_default();
        let _ = writeln!(out, "<h3>Score</h3>\n<pre>{}</pre>", escape(&text));
    }
    out.push_str("</section>\n");
}
