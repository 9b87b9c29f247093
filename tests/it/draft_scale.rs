//! Drafts of a large incident (issue 13): a notice quotes the timeline the Markdown
//! post-mortem shows, row for row, with a `foreach` of 50,000 items summarised in one line,
//! whether it is drafted with `stanch draft` or from the TUI's Drafts view; a second
//! `stanch draft` with nothing changed journals nothing (the last saved version comes from
//! the folded state, which checkpoints carry). The incident is written with the journal's own
//! writer as the engine writes a foreach (lean exchanges, checkpoints every 20,000 events),
//! and drafted and exported by the real binary.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use serde_json::{Value, json};
use stanch::export::markdown::escape;
use stanch::export::report::time::utc;
use stanch::journal::payload::exchange::EMPTY_SHA256;
use stanch::journal::payload::{HttpRequest, HttpResponse, IncidentOpened, StepStarted};
use stanch::journal::{Journal, Kind, NewEvent};
use stanch::store::checkpoint::{Cadence, Checkpointer};

use crate::support::cli;
use crate::support::tmux::Tmux;

const ID: &str = "SCALE-DRAFT";
const ITEMS: u64 = 50_000;
const STEP: &str = "revoke-tokens";

const RUNBOOK: &str = r#"[runbook]
id = "token-leak"
title = "Leaked OAuth tokens"

[[steps]]
id = "timeline-notice"
phase = "notify"
title = "Timeline for the authority"
draft = { template = "notice.md.j2", output = "notice.md" }

[[steps]]
id = "timeline-rows"
phase = "notify"
title = "The timeline as a template sees it"
draft = { template = "rows.j2", output = "rows.jsonl" }
"#;

/// Every entry a template sees, one JSON object a line.
const ROWS_TEMPLATE: &str = "{% for r in timeline %}{{ r | tojson }}\n{% endfor %}";

const NOTICE_TEMPLATE: &str = "Timeline of {{ incident.id }} ({{ timeline | length }} lines)\n\n\
{% for r in timeline %}{{ r.offset }} {{ r.text }}\n{% endfor %}";

/// The runbook above in `root/runbook`, and an incident of it under `root/data`: notes, a
/// foreach of [`ITEMS`] (every 1,000th answered 404, item 7 no response), its outcome, more
/// notes; checkpoints as `stanch` writes them.
fn setup(root: &Path) -> (PathBuf, PathBuf) {
    let rb_dir = root.join("runbook");
    std::fs::create_dir_all(&rb_dir).unwrap();
    let runbook = rb_dir.join("runbook.toml");
    std::fs::write(&runbook, RUNBOOK).unwrap();
    std::fs::write(rb_dir.join("rows.j2"), ROWS_TEMPLATE).unwrap();
    std::fs::write(rb_dir.join("notice.md.j2"), NOTICE_TEMPLATE).unwrap();
    let data = root.join("data");
    let dir = data.join("incidents").join(ID);
    let journal = Journal::create(&dir, "alice").unwrap();
    let checkpoints = Checkpointer::start(
        &journal,
        0,
        Cadence {
            every: 20_000,
            ..Cadence::default()
        },
    );
    journal
        .enqueue(NewEvent::incident(IncidentOpened {
            incident_id: ID.to_owned(),
            runbook_id: "token-leak".to_owned(),
            runbook_title: "Leaked OAuth tokens".to_owned(),
            runbook_sha256: stanch::journal::event::sha256_hex(RUNBOOK.as_bytes()),
            runbook_path: Some(runbook.display().to_string()),
            responder: Some("alice".to_owned()),
            ..IncidentOpened::default()
        }))
        .unwrap();
    let note = |text: &str| NewEvent::new(Kind::Note, json!({"text": text, "tags": []}));
    journal
        .enqueue(note("tokens leaked in a public gist"))
        .unwrap();
    // Given times (placed back, "recorded …" beside) and a correction folded into its fact.
    let given = [
        (
            Kind::Fact,
            json!({"text": "the gist was public", "occurred_at": "2026-11-01T10:00:00Z"}),
        ),
        (
            Kind::FactCorrected,
            json!({"corrects": 3, "text": "public since 28 October",
                   "occurred_at": "2026-10-28T09:00:00Z"}),
        ),
        (
            Kind::Mark,
            json!({"name": "aware", "at": "2026-11-01T11:00:00Z"}),
        ),
    ];
    for (kind, data) in given {
        journal.enqueue(NewEvent::new(kind, data)).unwrap();
    }
    foreach(&journal);
    for n in 0..5 {
        journal
            .enqueue(note(&format!("checked the dashboards ({n})")))
            .unwrap();
    }
    journal
        .append_blocking(note("every token revoked but the failures"))
        .unwrap();
    checkpoints.close().unwrap();
    (data, runbook)
}

/// As the engine's recorder writes a foreach: the request shape once in `step.started`, then
/// per item only what differs.
fn foreach(journal: &Journal) {
    let whole = |item: u64| HttpRequest {
        method: Some("POST".to_owned()),
        url: Some("http://127.0.0.1:9/oauth/revoke".to_owned()),
        headers: Some(serde_json::Map::new()),
        body_sha256: Some(stanch::journal::event::sha256_hex(&item.to_le_bytes())),
        body_bytes: Some(96),
        item: Some(item),
        ..HttpRequest::default()
    };
    let shape = whole(0).shape();
    journal
        .enqueue(NewEvent::step(
            STEP,
            StepStarted {
                attempt: 1,
                request: Some(shape.clone()),
                ..StepStarted::default()
            },
        ))
        .unwrap();
    for item in 0..ITEMS {
        journal
            .enqueue(NewEvent::step(STEP, whole(item).lean(&shape)))
            .unwrap();
        let response = HttpResponse {
            status: (item != 7).then_some(if item % 1000 == 999 { 404 } else { 200 }),
            error: (item == 7).then(|| "connection refused".to_owned()),
            elapsed_ms: 3,
            bytes: Some(0),
            body_sha256: Some(EMPTY_SHA256.to_owned()),
            item: Some(item),
            ..HttpResponse::default()
        };
        journal
            .enqueue(NewEvent::step(STEP, response.lean()))
            .unwrap();
    }
    journal
        .enqueue(NewEvent::for_step(
            Kind::StepFailed,
            STEP,
            json!({"error": "51 items failed", "duration_ms": 1000,
                   "items": {"total": ITEMS, "failed": 51}}),
        ))
        .unwrap();
}

fn stanch(data: &Path, args: &[&str]) -> Output {
    cli::succeeded(
        cli::stanch(data)
            .args(args)
            .env("EDITOR", "true")
            .env("NO_COLOR", "1"),
    )
}

/// The Markdown export's timeline table rows.
fn markdown_rows(md: &str) -> Vec<&str> {
    let header = "| T | UTC | Seq | Who | Step | What |\n| --- | --- | --- | --- | --- | --- |\n";
    let start = md.find(header).expect("a timeline table") + header.len();
    md[start..]
        .lines()
        .take_while(|l| l.starts_with('|'))
        .collect()
}

/// A draft's timeline entry written as the Markdown export writes a row.
fn as_markdown_row(entry: &Value) -> String {
    let at: jiff::Timestamp = entry["at"].as_str().unwrap().parse().unwrap();
    let (seq, last) = (
        entry["seq"].as_u64().unwrap(),
        entry["last_seq"].as_u64().unwrap(),
    );
    let seqs = if seq == last {
        seq.to_string()
    } else {
        format!("{seq}–{last}")
    };
    let time = |v: &Value| utc(v.as_str().unwrap().parse().unwrap());
    let mut what = escape(entry["text"].as_str().unwrap());
    if entry["backdated"] == true {
        let _ = write!(what, " *(recorded {})*", time(&entry["recorded_at"]));
    }
    for c in entry["corrections"].as_array().unwrap() {
        let _ = write!(
            what,
            " **Corrected** (seq {}, by {}, recorded {}): {}{}",
            c["seq"],
            escape(c["actor"].as_str().unwrap()),
            time(&c["recorded_at"]),
            escape(c["text"].as_str().unwrap()),
            c["occurred_at"]
                .as_str()
                .map(|_| format!(", happened {}", time(&c["occurred_at"])))
                .unwrap_or_default()
        );
    }
    format!(
        "| {} | {} | {seqs} | {} | {} | {what} |",
        entry["offset"].as_str().unwrap(),
        utc(at),
        escape(entry["actor"].as_str().unwrap()),
        entry["step"]
            .as_str()
            .map_or_else(|| "—".to_owned(), escape),
    )
}

#[test]
fn a_draft_quotes_the_post_mortems_timeline_rows_with_a_50000_item_foreach_summarised() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, _) = setup(tmp.path());
    let dir = data.join("incidents").join(ID);
    let checkpoints = stanch::journal::read(&dir)
        .unwrap()
        .iter()
        .filter(|e| e.kind == Kind::Checkpoint)
        .count();
    assert!(
        checkpoints >= 2,
        "checkpoints as it grew and on close: {checkpoints}"
    );

    let out = stanch(&data, &["draft", ID, "timeline-rows"]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("saved"));
    let drafted = std::fs::read_to_string(dir.join("drafts/rows.jsonl")).unwrap();
    let entries: Vec<Value> = drafted
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let md = String::from_utf8(stanch(&data, &["export", ID, "--format", "md"]).stdout).unwrap();
    let mut expected = markdown_rows(&md);
    // The post-mortem has one more line: the draft's own `draft.saved`, after it was drawn.
    let saved = expected.pop().unwrap_or_default();
    assert!(
        saved.contains("| timeline-rows | Draft saved: drafts/rows.jsonl"),
        "{saved}"
    );
    let quoted: Vec<String> = entries.iter().map(as_markdown_row).collect();
    assert_eq!(quoted, expected, "draft:\n{drafted}");

    // From the opening before the foreach to the notes after it (and the chain's checkpoint
    // events), the foreach in one line.
    assert!(entries.len() < 25, "{drafted}");
    // Placed at the times given, before the opening, the fact with its correction beside.
    assert_eq!(entries[0]["text"], "Fact: the gist was public", "{drafted}");
    assert_eq!(
        entries[0]["offset"].as_str().map(|o| o.starts_with("T-")),
        Some(true)
    );
    assert_eq!(
        entries[0]["corrections"][0]["text"],
        "public since 28 October"
    );
    assert_eq!(entries[1]["kind"], "mark");
    assert_eq!(entries[2]["seq"], 1);
    let summaries: Vec<&Value> = entries.iter().filter(|e| e["items"].is_u64()).collect();
    assert_eq!(summaries.len(), 1, "{drafted}");
    let summary = summaries[0];
    assert_eq!(summary["items"], ITEMS);
    let (first, last) = (
        summary["seq"].as_u64().unwrap(),
        summary["last_seq"].as_u64().unwrap(),
    );
    assert!(last - first + 1 >= 2 * ITEMS, "{first}–{last}");
    let text = summary["text"].as_str().unwrap();
    assert!(
        text.starts_with("foreach: 50,000 items, 50,000 requests, 50,000 responses (HTTP 200 × 49,949, HTTP 404 × 50, no response × 1)"),
        "{text}"
    );
    assert!(
        text.contains("item 7 no response: connection refused"),
        "{text}"
    );
    assert!(
        entries
            .iter()
            .any(|e| e["text"] == "Note: every token revoked but the failures"),
        "the last note, after every checkpoint but the one on close: {drafted}"
    );

    // Drafted again with nothing changed: the state's last saved version matches, nothing
    // is journalled.
    let again = stanch(&data, &["draft", ID, "timeline-rows"]);
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("unchanged since its last saved version"),
        "{}",
        String::from_utf8_lossy(&again.stdout)
    );
    let saved = stanch::journal::read(&dir)
        .unwrap()
        .iter()
        .filter(|e| e.kind == Kind::DraftSaved)
        .count();
    assert_eq!(saved, 1);
}

#[test]
fn the_tuis_drafts_view_renders_the_summarised_timeline() {
    let tmp = tempfile::tempdir().unwrap();
    let (data, _) = setup(tmp.path());
    let command = format!(
        "env STANCH_DATA_DIR={} EDITOR=true USER=alice NO_COLOR= TERM=xterm-256color {} resume {ID}; echo EXITED $?; sleep 30",
        data.display(),
        env!("CARGO_BIN_EXE_stanch"),
    );
    let tui = Tmux::start(
        &format!("stanch-draft-scale-{}", std::process::id()),
        140,
        40,
        &command,
    );
    tui.wait_until("the resumed TUI", Duration::from_secs(30), |s| {
        s.contains("Timeline for the authority")
    });
    tui.send(&["d"]);
    // The preview shows the Markdown as paragraphs: the lines wrap into one.
    let screen = tui.wait_until("the rendered notice", Duration::from_mins(1), |s| {
        s.contains("foreach: 50,000 items,")
    });
    assert!(screen.contains("Timeline of SCALE-DRAFT ("), "{screen}");
    assert!(screen.contains("51 failed"), "{screen}");
    assert!(screen.contains("every token revoked"), "{screen}");
    assert!(
        !screen.contains("(item 0)") && !screen.contains("HTTP 200 in"),
        "no exchange quoted one by one:\n{screen}"
    );
    tui.send(&["q"]);
    tui.wait_until("exit", Duration::from_secs(30), |s| s.contains("EXITED 0"));
}
