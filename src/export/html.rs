//! The post-mortem as one self-contained HTML file: inline CSS, an inline SVG timeline chart,
//! no scripts, no external resources (a Content-Security-Policy meta tag forbids them too),
//! readable on screen and on paper (`@media print`). Drill exports carry a DRILL watermark on
//! every printed page (a fixed-position element, which print engines repeat per page).
//!
//! Every piece of text from the report goes through [`escape`], the one escaping function of
//! both the HTML and the SVG, so user text (titles, notes, captured values, URLs) can never
//! become markup.

use std::fmt::Write;

use super::report::time::{grouped, human_duration, utc};
use super::report::timeline::{recorded_note, short_hash};
use super::report::{Report, TimelineRow};

/// Escape text for HTML/SVG element content and double- or single-quoted attribute values.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            // Control characters other than whitespace are not allowed in HTML or XML text.
            c if c.is_control() && !matches!(c, '\n' | '\t' | '\r') => out.push('\u{fffd}'),
            c => out.push(c),
        }
    }
    out
}

const STYLE: &str = r#"
:root { --ink: #1b1f24; --muted: #5b6470; --line: #d5d9de; --ok: #2e7d32; --bad: #c62828;
  --skip: #8d8d8d; --warn: #ef6c00; --info: #1565c0; --paper: #ffffff; }
* { box-sizing: border-box; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; color: var(--ink);
  background: var(--paper); margin: 0 auto; padding: 24px 32px 48px; max-width: 1180px; }
h1 { font-size: 26px; margin: 0 0 8px; }
h2 { font-size: 19px; margin: 32px 0 10px; padding-bottom: 4px; border-bottom: 2px solid var(--line); }
h3 { font-size: 15px; margin: 18px 0 6px; }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; }
th, td { border: 1px solid var(--line); padding: 4px 7px; text-align: left; vertical-align: top;
  overflow-wrap: anywhere; }
th { background: #f3f5f7; font-weight: 600; }
td.num, td.t { white-space: nowrap; font-variant-numeric: tabular-nums; }
code, .hash, pre { font-family: ui-monospace, "SFMono-Regular", Menlo, Consolas, monospace; font-size: 12px; }
.hash { overflow-wrap: anywhere; }
pre { background: #f6f8fa; border: 1px solid var(--line); padding: 10px 12px; white-space: pre-wrap;
  overflow-wrap: anywhere; }
dl.summary { display: grid; grid-template-columns: max-content 1fr; gap: 3px 16px; margin: 12px 0; }
dl.summary dt { color: var(--muted); }
dl.summary dd { margin: 0; overflow-wrap: anywhere; }
.muted, .recorded { color: var(--muted); }
.recorded { font-size: 12px; }
.correction { display: block; margin-top: 3px; padding-left: 8px; border-left: 3px solid var(--warn); }
.status { font-weight: 600; }
.s-succeeded { color: var(--ok); } .s-failed { color: var(--bad); } .s-skipped { color: var(--skip); }
.s-interrupted, .s-running, .s-needs_human { color: var(--warn); } .s-pending { color: var(--muted); }
.w-met { color: var(--ok); } .w-missed, .w-overdue { color: var(--bad); } .w-open { color: var(--warn); }
.check-verified { color: var(--ok); } .check-modified, .check-missing { color: var(--bad); }
ul.impact li { margin: 2px 0; } ul.impact b { font-size: 16px; }
.chart svg { width: 100%; height: auto; border: 1px solid var(--line); background: #fff; }
.drill-banner { background: #fdecea; color: var(--bad); border: 2px solid var(--bad); font-weight: 700;
  letter-spacing: 0.08em; padding: 6px 12px; margin: 0 0 12px; }
.watermark { display: none; }
body.drill .watermark { display: block; position: fixed; top: 42%; left: 0; right: 0; text-align: center;
  font-size: 150px; font-weight: 800; letter-spacing: 0.12em; color: rgba(198, 40, 40, 0.09);
  transform: rotate(-28deg); pointer-events: none; z-index: 10; }
footer { margin-top: 36px; color: var(--muted); font-size: 12px; }
@page { size: A4; margin: 14mm 12mm; }
@media print {
  body { font-size: 10.5px; padding: 0; max-width: none; }
  h2 { break-after: avoid; }
  tr, .chart, pre { break-inside: avoid; }
  thead { display: table-header-group; }
  th { background: #eee !important; -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  body.drill .watermark { color: rgba(198, 40, 40, 0.12); -webkit-print-color-adjust: exact; print-color-adjust: exact; }
  .chart svg { border: none; }
}
"#;

/// Rows rendered between two writes of the output buffer.
const CHUNK_ROWS: usize = 2048;

pub fn render(report: &Report) -> String {
    let mut out = Vec::with_capacity(8192 + report.timeline.len() * 260);
    // Writing into a Vec cannot fail.
    let _ = render_to(report, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// Render into `sink`, a section (or a chunk of timeline rows) at a time, so exporting a
/// large incident never holds the whole document in memory.
pub fn render_to(report: &Report, sink: &mut dyn std::io::Write) -> std::io::Result<()> {
    let mut out = String::with_capacity(64 * 1024);
    let s = &report.summary;
    let stamp = if report.drill { "DRILL — " } else { "" };
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'\">\n\
         <meta name=\"generator\" content=\"{}\">\n<title>{stamp}Post-mortem: {} ({})</title>\n<style>{STYLE}</style>\n</head>\n<body class=\"{}\">\n",
        escape(&report.generator),
        escape(&s.title),
        escape(&s.incident_id),
        if report.drill { "drill" } else { "real" },
    );
    if report.drill {
        out.push_str("<div class=\"watermark\" aria-hidden=\"true\">DRILL</div>\n");
    }
    header(&mut out, report);
    impact(&mut out, report);
    out.push_str("<section id=\"chart\" class=\"chart\">\n<h2>Timeline chart</h2>\n");
    out.push_str(&super::svg::render(report));
    out.push_str("</section>\n");
    times(&mut out, report);
    out.push_str("<section id=\"timeline\">\n<h2>Timeline</h2>\n<p class=\"muted\">Every journal event in UTC, with the offset from the opening. Facts and back-dated marks stand at the time they happened, with the time they were recorded beside them.</p>\n");
    out.push_str("<table><thead><tr><th>T</th><th>UTC</th><th>Seq</th><th>Who</th><th>Step</th><th>What</th></tr></thead><tbody>\n");
    for chunk in report.timeline.chunks(CHUNK_ROWS) {
        for row in chunk {
            timeline_row(&mut out, row);
        }
        sink.write_all(out.as_bytes())?;
        out.clear();
    }
    out.push_str("</tbody></table>\n</section>\n");
    steps(&mut out, report);
    notes(&mut out, report);
    evidence(&mut out, report);
    drafts(&mut out, report);
    drill(&mut out, report);
    if !report.warnings.is_empty() {
        out.push_str("<section id=\"warnings\">\n<h2>Warnings</h2>\n<ul>\n");
        for w in &report.warnings {
            let _ = writeln!(out, "<li>{}</li>", escape(w));
        }
        out.push_str("</ul>\n</section>\n");
    }
    let _ = write!(
        out,
        "<footer>Generated by {} from the journal (schema {}); journal final seq {}, hash <span class=\"hash\">{}</span>.{}</footer>\n</body>\n</html>\n",
        escape(&report.generator),
        report.schema_version,
        report.journal.final_seq,
        escape(&report.journal.final_hash),
        if report.drill {
            " DRILL: this is an exercise."
        } else {
            ""
        }
    );
    sink.write_all(out.as_bytes())
}

fn opt(value: Option<&str>) -> String {
    value.map_or_else(|| "—".to_owned(), escape)
}

fn header(out: &mut String, r: &Report) {
    let s = &r.summary;
    out.push_str("<header>\n");
    if r.drill {
        out.push_str("<p class=\"drill-banner\">DRILL — an exercise against the drill lab, not a real incident</p>\n");
    }
    let _ = writeln!(
        out,
        "<h1>{}Post-mortem: {}</h1>",
        if r.drill { "DRILL — " } else { "" },
        escape(&s.title)
    );
    if let Some(summary) = &s.runbook_summary {
        let _ = writeln!(out, "<p>{}</p>", escape(summary));
    }
    out.push_str("<dl class=\"summary\">\n");
    let state = match (s.closed_at, s.as_of) {
        (Some(closed), _) => format!("closed {}", utc(closed)),
        (None, Some(as_of)) => format!("open (last event {})", utc(as_of)),
        (None, None) => "open".to_owned(),
    };
    let inputs: Vec<String> = s
        .inputs
        .iter()
        .map(|(k, v)| format!("{k} = {}", super::report::summarise_value(v)))
        .collect();
    let rows = [
        ("Incident", escape(&s.incident_id)),
        (
            "Kind",
            if r.drill { "DRILL" } else { "real incident" }.to_owned(),
        ),
        (
            "Runbook",
            format!(
                "{} ({}), SHA-256 <span class=\"hash\">{}</span>",
                escape(&s.title),
                escape(&s.runbook_id),
                escape(&s.runbook_sha256)
            ),
        ),
        ("Severity", opt(s.severity.as_deref())),
        ("Responder", escape(&s.responder)),
        ("Everyone who acted", escape(&s.responders.join(", "))),
        ("Opened", s.opened_at.map_or_else(|| "—".into(), utc)),
        ("State", state),
        ("Inputs", escape(&inputs.join("; "))),
    ];
    for (k, v) in rows {
        let _ = writeln!(out, "<dt>{k}</dt><dd>{v}</dd>");
    }
    out.push_str("</dl>\n</header>\n");
}

fn impact(out: &mut String, r: &Report) {
    out.push_str("<section id=\"impact\">\n<h2>Impact</h2>\n");
    if r.impact.is_empty() {
        out.push_str("<p class=\"muted\">No impact figures were captured (no counting capture, no foreach step).</p>\n");
    } else {
        out.push_str("<ul class=\"impact\">\n");
        for item in &r.impact {
            let _ = writeln!(
                out,
                "<li><b>{}</b> {} <span class=\"muted\">({})</span></li>",
                grouped(item.value),
                escape(&item.label),
                escape(&item.source)
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
}

fn times(out: &mut String, r: &Report) {
    out.push_str("<section id=\"times\">\n<h2>Key times</h2>\n");
    if r.marks.is_empty() {
        out.push_str("<p class=\"muted\">No marks were set.</p>\n");
    } else {
        out.push_str("<table><thead><tr><th>Mark</th><th>When (UTC)</th><th>Set by</th><th>Step</th><th>Earlier values</th></tr></thead><tbody>\n");
        for m in &r.marks {
            let previous: Vec<String> = m.previous.iter().map(|p| utc(*p)).collect();
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td class=\"t\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                escape(&m.label),
                utc(m.at),
                escape(&m.set_by),
                opt(m.step.as_deref()),
                if previous.is_empty() {
                    "—".to_owned()
                } else {
                    previous.join(", ")
                }
            );
        }
        out.push_str("</tbody></table>\n");
    }
    for (title, rows) in [("Between marks", &r.durations), ("Measures", &r.metrics)] {
        if rows.is_empty() {
            continue;
        }
        let _ = writeln!(
            out,
            "<h3>{title}</h3>\n<table><thead><tr><th>{}</th><th>Duration</th></tr></thead><tbody>",
            if title == "Measures" {
                "Measure"
            } else {
                "From → to"
            }
        );
        for d in rows {
            let _ = writeln!(
                out,
                "<tr><td>{}</td><td class=\"num\">{}</td></tr>",
                escape(&d.label),
                escape(&d.text)
            );
        }
        out.push_str("</tbody></table>\n");
    }
    out.push_str("<h3>72-hour notification window</h3>\n");
    match &r.notification_window {
        Some(w) => {
            let _ = writeln!(
                out,
                "<p>Aware at {}, deadline {}: <b class=\"w-{}\">{}</b>, {}.</p>",
                utc(w.aware_at),
                utc(w.deadline),
                escape(&w.status),
                escape(&w.status),
                escape(&w.text)
            );
        }
        None => out.push_str("<p class=\"muted\">The <code>aware</code> mark was not set, so the window cannot be measured.</p>\n"),
    }
    out.push_str("</section>\n");
}

fn timeline_cell(row: &TimelineRow) -> String {
    let mut text = escape(&row.text);
    if let Some(recorded) = recorded_note(row) {
        let _ = write!(text, " <span class=\"recorded\">({recorded})</span>");
    }
    for c in &row.corrections {
        let _ = write!(
            text,
            "<span class=\"correction\"><b>Corrected</b> (seq {}, by {}, recorded {}): {}{}</span>",
            c.seq,
            escape(&c.actor),
            utc(c.recorded_at),
            escape(&c.text),
            c.occurred_at
                .map(|at| format!(", happened {}", utc(at)))
                .unwrap_or_default()
        );
    }
    text
}

fn timeline_row(out: &mut String, row: &TimelineRow) {
    let _ = writeln!(
        out,
        "<tr class=\"k-{}\"><td class=\"t\">{}</td><td class=\"t\">{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
        escape(&row.kind.replace('.', "-")),
        escape(&row.offset),
        utc(row.at),
        row.seq,
        escape(&row.actor),
        opt(row.step.as_deref()),
        timeline_cell(row)
    );
}

fn steps(out: &mut String, r: &Report) {
    out.push_str("<section id=\"steps\">\n<h2>Steps</h2>\n<table><thead><tr><th>Step</th><th>Phase</th><th>Outcome</th><th>Attempts</th><th>Duration</th><th>Detail</th></tr></thead><tbody>\n");
    for s in &r.steps {
        let mut detail: Vec<String> = Vec::new();
        for (label, value) in [
            ("", s.summary.as_deref()),
            ("error: ", s.error.as_deref()),
            ("skipped: ", s.skip_reason.as_deref()),
            ("left for a person: ", s.pending_reason.as_deref()),
            ("confirmed via ", s.confirmed_via.as_deref()),
        ] {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                detail.push(format!("{label}{}", escape(v)));
            }
        }
        if let Some(items) = s.items {
            detail.push(format!(
                "{} items, {} failed",
                grouped(items.total),
                grouped(items.failed)
            ));
        }
        for c in &s.captures {
            detail.push(format!(
                "<code>{}</code> = {}",
                escape(&c.name),
                escape(&c.value)
            ));
        }
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
            s.duration_ms.map_or_else(
                || "—".to_owned(),
                |ms| human_duration(i64::try_from(ms / 1000).unwrap_or(i64::MAX))
            ),
            if detail.is_empty() {
                "—".to_owned()
            } else {
                detail.join("<br>")
            }
        );
    }
    out.push_str("</tbody></table>\n");
    let failed: Vec<_> = r
        .steps
        .iter()
        .flat_map(|s| s.failed_expectations.iter().map(move |f| (s, f)))
        .collect();
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

fn notes(out: &mut String, r: &Report) {
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
    out.push_str("<h2>Action items</h2>\n");
    if r.action_items.is_empty() {
        out.push_str("<p class=\"muted\">No notes were tagged <code>follow-up</code>.</p>\n");
    } else {
        out.push_str("<ul>\n");
        for n in &r.action_items {
            let _ = writeln!(
                out,
                "<li>☐ {} <span class=\"muted\">(raised by {}, seq {})</span></li>",
                escape(&n.text),
                escape(&n.actor),
                n.seq
            );
        }
        out.push_str("</ul>\n");
    }
    out.push_str("</section>\n");
}

fn evidence(out: &mut String, r: &Report) {
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

fn drafts(out: &mut String, r: &Report) {
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

fn drill(out: &mut String, r: &Report) {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escape_covers_markup_and_both_quote_styles() {
        assert_eq!(
            escape(r#"<script>alert("x") & 'y'</script>"#),
            "&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;"
        );
        assert_eq!(escape("a\u{0}b"), "a\u{fffd}b");
    }
}
