//! The Markdown sections after the review: steps, notes, evidence and chain
//! of custody, drafts as saved (fenced), drill injects and score. User text is escaped.

use std::fmt::Write;

use super::fenced;
use super::{escape, opt};
use crate::export::report::time::{grouped, utc};
use crate::export::report::timeline::short_hash;
use crate::export::report::{Detail, Report};

pub fn steps(out: &mut String, r: &Report) {
    out.push_str("## Steps\n\n| Step | Phase | Outcome | Attempts | Duration | Detail |\n| --- | --- | --- | --- | --- | --- |\n");
    for s in &r.steps {
        let detail: Vec<String> = s
            .detail()
            .into_iter()
            .map(|d| match d {
                Detail::Text(text) => escape(&text),
                Detail::Capture(c) => format!("{} = {}", escape(&c.name), escape(&c.value)),
            })
            .collect();
        let _ = writeln!(
            out,
            "| {} ({}) | {} | {} | {} | {} | {} |",
            escape(&s.title),
            escape(&s.id),
            opt(s.phase.as_deref()),
            s.status.as_str(),
            s.attempts,
            s.duration_text(),
            if detail.is_empty() {
                "—".to_owned()
            } else {
                detail.join("; ")
            }
        );
    }
    out.push('\n');
    let failed: Vec<_> = r.failed_expectations().collect();
    if !failed.is_empty() {
        out.push_str("### Failed expectations\n\n");
        for (s, f) in failed {
            let _ = writeln!(
                out,
                "- {}: expected {}, got {}",
                escape(&s.id),
                escape(&f.expr),
                escape(&f.actual)
            );
        }
        out.push('\n');
    }
}

pub fn notes(out: &mut String, r: &Report) {
    out.push_str("## Notes\n\n");
    if r.notes.is_empty() {
        out.push_str("No notes.\n\n");
    }
    for n in &r.notes {
        let tags = if n.tags.is_empty() {
            String::new()
        } else {
            format!(" \\[{}\\]", escape(&n.tags.join(", ")))
        };
        let _ = writeln!(
            out,
            "- {} {}{}: {}{}",
            utc(n.at),
            escape(&n.actor),
            n.step
                .as_deref()
                .map(|s| format!(" on {}", escape(s)))
                .unwrap_or_default(),
            escape(&n.text),
            tags
        );
    }
    if !r.notes.is_empty() {
        out.push('\n');
    }
}

pub fn evidence(out: &mut String, r: &Report) {
    out.push_str("## Evidence and chain of custody\n\n");
    if r.evidence.is_empty() {
        out.push_str("No evidence was captured.\n\n");
    } else {
        out.push_str("| File | SHA-256 | Bytes | Source request | Captured (UTC) | By | Step | Tool |\n| --- | --- | --- | --- | --- | --- | --- | --- |\n");
        for e in &r.evidence {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} {} | {} | {} | {} | {} |",
                escape(&e.file),
                escape(&e.sha256),
                grouped(e.bytes),
                escape(&e.method),
                escape(&e.url),
                utc(e.captured_at),
                escape(&e.by),
                opt(e.step.as_deref()),
                escape(&e.tool_version),
            );
        }
        out.push('\n');
    }
    let _ = writeln!(
        out,
        "The journal holds {} events; the last is seq {} with hash {}. `stanch verify {}` re-checks the chain and every evidence file against it.\n",
        r.journal.events,
        r.journal.final_seq,
        escape(&r.journal.final_hash),
        escape(&r.summary.incident_id)
    );
}

pub fn drafts(out: &mut String, r: &Report) {
    out.push_str("## Drafts as saved\n\n");
    if r.drafts.is_empty() {
        out.push_str("No drafts were saved.\n\n");
        return;
    }
    for d in &r.drafts {
        let _ = writeln!(out, "### {}\n", escape(&d.file));
        let verdict = match d.check.as_str() {
            "verified" => "the file matches this hash".to_owned(),
            "modified" => "**the file on disk differs from the last saved version** (edited outside stanch); its current text is shown".to_owned(),
            _ => "**the file is missing** from the incident directory".to_owned(),
        };
        let _ = writeln!(
            out,
            "Step {}, {} version(s), last saved {} ({} bytes, SHA-256 {}): {verdict}.\n",
            opt(d.step.as_deref()),
            d.versions,
            utc(d.saved_at),
            grouped(d.bytes),
            short_hash(&d.sha256),
        );
        if let Some(content) = &d.content {
            fenced(out, "text", content);
        }
    }
}

pub fn drill(out: &mut String, r: &Report) {
    if !r.injects.is_empty() {
        out.push_str("## Drill injects\n\n");
        for i in &r.injects {
            let _ = writeln!(
                out,
                "- {} ({}): **{}**: {}",
                utc(i.at),
                escape(&i.offset),
                escape(&i.title),
                escape(&i.body)
            );
        }
        out.push('\n');
    }
    if let Some(score) = &r.score {
        out.push_str("## Drill score\n\n");
        let text = serde_json::to_string_pretty(score).unwrap_or_default();
        fenced(out, "json", &text);
    }
}
