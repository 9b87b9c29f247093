//! Exports people can read at any size (issue 13 item 4): the Markdown and HTML timeline shows
//! a `foreach` step's exchanges as one summary line per step, so an incident of 10,000 items
//! has as many timeline rows as one of 100; `stanch export --timeline full` and the JSON
//! export keep every exchange. Incidents are written with the journal's own writer and
//! exported by the real binary.

use std::path::Path;

use crate::support::cli;
use serde_json::json;
use stanch::journal::payload::IncidentOpened;
use stanch::journal::{Journal, Kind, NewEvent};

const STEP: &str = "revoke-tokens";

/// A new incident `id` under `data`, its `incident.opened` written.
fn open(data: &Path, id: &str) -> Journal {
    let dir = data.join("incidents").join(id);
    std::fs::create_dir_all(&dir).unwrap();
    let journal = Journal::create(&dir, "alice").unwrap();
    journal
        .enqueue(NewEvent::incident(IncidentOpened {
            incident_id: id.to_owned(),
            runbook_id: "token-leak".to_owned(),
            runbook_title: "Leaked tokens".to_owned(),
            ..IncidentOpened::default()
        }))
        .unwrap();
    journal
}

/// An incident `id` under `data` whose foreach step revoked `items` tokens: item 7 got a
/// 404 and item 8 no response, every other item a 200.
fn incident(data: &Path, id: &str, items: u64) {
    let journal = open(data, id);
    journal
        .enqueue(NewEvent::for_step(
            Kind::StepStarted,
            STEP,
            json!({"attempt": 1}),
        ))
        .unwrap();
    for item in 0..items {
        journal
            .enqueue(NewEvent::for_step(
                Kind::HttpRequest,
                STEP,
                json!({"method": "POST", "url": "http://127.0.0.1:9/revoke", "headers": {}, "item": item}),
            ))
            .unwrap();
        let response = match item {
            7 => json!({"status": 404, "elapsed_ms": 1, "item": item}),
            8 => json!({"elapsed_ms": 1, "item": item, "error": "connection refused"}),
            _ => json!({"status": 200, "elapsed_ms": 1, "item": item}),
        };
        journal
            .enqueue(NewEvent::for_step(Kind::HttpResponse, STEP, response))
            .unwrap();
    }
    journal
        .append_blocking(NewEvent::for_step(
            Kind::StepFailed,
            STEP,
            json!({"error": "2 items failed", "duration_ms": 5, "items": {"total": items, "failed": 2}}),
        ))
        .unwrap();
}

fn export(data: &Path, id: &str, args: &[&str]) -> String {
    let out = cli::succeeded(
        cli::stanch(data)
            .args(["export", id])
            .args(args)
            .env("NO_COLOR", "1"),
    );
    String::from_utf8(out.stdout).unwrap()
}

/// The Markdown timeline's table rows (header and rule left out).
fn markdown_rows(md: &str) -> Vec<&str> {
    let section = md.split("## Timeline\n").nth(1).unwrap();
    let section = section.split("\n## ").next().unwrap();
    section
        .lines()
        .filter(|l| l.starts_with("| T"))
        .skip(1)
        .collect()
}

/// The HTML timeline's table rows.
fn html_rows(html: &str) -> usize {
    let section = html.split("<section id=\"timeline\">").nth(1).unwrap();
    let section = section.split("</section>").next().unwrap();
    section.matches("<tr class=").count()
}

#[test]
fn markdown_and_html_timelines_do_not_grow_with_foreach_items() {
    let data = tempfile::tempdir().unwrap();
    incident(data.path(), "SMALL", 100);
    incident(data.path(), "LARGE", 10_000);

    let small = export(data.path(), "SMALL", &["--format", "md"]);
    let large = export(data.path(), "LARGE", &["--format", "md"]);
    let (small_rows, large_rows) = (markdown_rows(&small), markdown_rows(&large));
    // incident.opened, step.started, the summary line, step.failed.
    assert_eq!(small_rows.len(), 4, "{small_rows:#?}");
    assert_eq!(large_rows.len(), small_rows.len());
    let summary = large_rows[2];
    assert!(
        summary.contains("| 3–20002 | alice | revoke-tokens |"),
        "{summary}"
    );
    assert!(
        summary.contains("foreach: 10,000 items, 10,000 requests, 10,000 responses (HTTP 200 × 9,998, HTTP 404 × 1, no response × 1)"),
        "{summary}"
    );
    assert!(
        summary.contains("2 failed exchanges: item 7 HTTP 404 (seq 18), item 8 no response: connection refused (seq 20)"),
        "{summary}"
    );

    let small_html = export(data.path(), "SMALL", &["--format", "html"]);
    let large_html = export(data.path(), "LARGE", &["--format", "html"]);
    assert_eq!(html_rows(&small_html), 4);
    assert_eq!(html_rows(&large_html), html_rows(&small_html));
    assert!(large_html.contains("<tr class=\"k-foreach\">"));
}

#[test]
fn the_full_timeline_and_the_json_keep_every_exchange() {
    let data = tempfile::tempdir().unwrap();
    incident(data.path(), "FULL", 100);
    let md = export(
        data.path(),
        "FULL",
        &["--format", "md", "--timeline", "full"],
    );
    let rows = markdown_rows(&md);
    assert_eq!(rows.len(), 203);
    assert!(
        rows.iter()
            .any(|r| r.contains("POST http://127.0.0.1:9/revoke (item 99)"))
    );
    assert!(!md.contains("foreach: "));
    let html = export(
        data.path(),
        "FULL",
        &["--format", "html", "--timeline", "full"],
    );
    assert_eq!(html_rows(&html), 203);

    let json: serde_json::Value =
        serde_json::from_str(&export(data.path(), "FULL", &["--format", "json"])).unwrap();
    assert_eq!(json["timeline"].as_array().unwrap().len(), 203);
    assert!(
        json.get("exchanges").is_none(),
        "the summaries are not in the JSON schema"
    );
}

#[test]
fn failures_beyond_the_listed_ones_are_counted_and_point_to_the_full_record() {
    let data = tempfile::tempdir().unwrap();
    let journal = open(data.path(), "MANY");
    for item in 0..25_u64 {
        journal
            .enqueue(NewEvent::for_step(
                Kind::HttpResponse,
                STEP,
                json!({"status": 500, "elapsed_ms": 1, "item": item}),
            ))
            .unwrap();
    }
    journal
        .append_blocking(NewEvent::for_step(
            Kind::StepFailed,
            STEP,
            json!({"error": "every item failed"}),
        ))
        .unwrap();
    let md = export(data.path(), "MANY", &[]);
    let summary = markdown_rows(&md)[1];
    assert!(
        summary.contains("25 failed exchanges: item 0 HTTP 500 (seq 2)"),
        "{summary}"
    );
    assert!(
        summary.contains("item 9 HTTP 500 (seq 11), and 15 more"),
        "{summary}"
    );
    assert!(!summary.contains("item 10 "), "{summary}");
}
