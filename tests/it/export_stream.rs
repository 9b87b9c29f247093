//! `export::build_from_journal` streams the journal but must judge it exactly as
//! `journal::read` does: a torn tail is left out, any other damage refuses the export.
//! Each case is run through both and the verdicts compared.

use crate::support::export_fixture as fixture;

use std::path::Path;

use serde_json::json;
use stanch::export::{self, ExportError, Format, TimelineView};
use stanch::journal::Kind;

fn write(dir: &Path, bytes: &[u8]) {
    std::fs::write(dir.join("journal.jsonl"), bytes).unwrap();
}

/// `chain` as a journal in `dir`, one event per line as the writer writes it.
fn write_chain(dir: &Path, chain: &fixture::Chain) {
    let lines: Vec<String> = chain
        .events
        .iter()
        .map(|e| serde_json::to_string(e).unwrap())
        .collect();
    write(dir, (lines.join("\n") + "\n").as_bytes());
}

fn journal_bytes() -> Vec<u8> {
    let mut out = Vec::new();
    for event in &fixture::recorded(false).events {
        out.extend(serde_json::to_vec(event).unwrap());
        out.push(b'\n');
    }
    out
}

/// (events exported, or the damage), and whether `journal::read` agrees.
fn judge(dir: &Path) -> Result<u64, String> {
    let streamed = export::build_from_journal(dir, Format::Json, TimelineView::Full);
    let read = stanch::journal::read(dir);
    match (&streamed, &read) {
        (Ok(report), Ok(events)) => {
            assert_eq!(report.journal.events, events.len() as u64, "same events");
            Ok(report.journal.events)
        }
        (Err(ExportError::Broken { broken, .. }), Err(err)) => {
            assert!(
                err.to_string().contains(&broken.to_string()),
                "{err} vs {broken}"
            );
            Err(broken.to_string())
        }
        _ => panic!(
            "verdicts differ: export {:?} vs journal::read {:?}",
            streamed.as_ref().err().map(ToString::to_string),
            read.as_ref().err().map(ToString::to_string)
        ),
    }
}

#[test]
fn a_clean_journal_exports_every_event() {
    let tmp = tempfile::tempdir().unwrap();
    write(tmp.path(), &journal_bytes());
    assert_eq!(judge(tmp.path()), Ok(41));
}

#[test]
fn a_torn_tail_is_left_out_like_journal_read_does() {
    let tmp = tempfile::tempdir().unwrap();
    let mut bytes = journal_bytes();
    bytes.extend(b"{\"seq\":42,\"at\":\"2019-12-26T21:");
    write(tmp.path(), &bytes);
    assert_eq!(judge(tmp.path()), Ok(41));
    let mut zeroed = journal_bytes();
    zeroed.extend([0_u8; 300]);
    zeroed.push(b'\n');
    write(tmp.path(), &zeroed);
    assert_eq!(judge(tmp.path()), Ok(41));
}

#[test]
fn a_changed_event_refuses_the_export() {
    let tmp = tempfile::tempdir().unwrap();
    let text = String::from_utf8(journal_bytes()).unwrap();
    write(
        tmp.path(),
        text.replacen("2400000 documents readable", "24 documents readable", 1)
            .as_bytes(),
    );
    let err = judge(tmp.path()).unwrap_err();
    assert!(
        err.contains("seq 11") && err.contains("does not match"),
        "{err}"
    );
}

#[test]
fn a_removed_event_refuses_the_export() {
    let tmp = tempfile::tempdir().unwrap();
    let text = String::from_utf8(journal_bytes()).unwrap();
    let lines: Vec<&str> = text
        .lines()
        .filter(|l| !l.starts_with("{\"seq\":20,"))
        .collect();
    write(tmp.path(), (lines.join("\n") + "\n").as_bytes());
    let err = judge(tmp.path()).unwrap_err();
    assert!(err.contains("seq 20"), "{err}");
}

#[test]
fn events_cut_from_the_end_are_caught_by_the_head_file() {
    let tmp = tempfile::tempdir().unwrap();
    let text = String::from_utf8(journal_bytes()).unwrap();
    let last = fixture::recorded(false).events.last().unwrap().clone();
    std::fs::write(
        tmp.path().join("journal.head"),
        serde_json::json!({"seq": last.seq, "hash": last.hash}).to_string(),
    )
    .unwrap();
    let lines: Vec<&str> = text.lines().take(30).collect();
    write(tmp.path(), (lines.join("\n") + "\n").as_bytes());
    let err = judge(tmp.path()).unwrap_err();
    assert!(err.contains("journal.head records seq 41"), "{err}");
}

/// An incident `id` opened at 10:00:00 whose foreach step `revoke` started at 10:00:01,
/// its request shape `POST http://h:1/revoke` with `headers`.
fn foreach_started(id: &str, headers: &serde_json::Value) -> fixture::Chain {
    let mut chain = fixture::Chain::new();
    let opened = json!({"incident_id": id, "runbook_id": "r", "runbook_title": "t"});
    chain.push(
        "2026-12-01T10:00:00Z",
        "alice",
        Kind::IncidentOpened,
        None,
        opened,
    );
    let shape = json!({"method": "POST", "url": "http://h:1/revoke", "headers": headers});
    chain.push(
        "2026-12-01T10:00:01Z",
        "alice",
        Kind::StepStarted,
        Some("revoke"),
        json!({"attempt": 1, "request": shape}),
    );
    chain
}

/// A foreach whose clock stepped back twice mid-run, its requests written lean after the
/// step's shape (as the engine writes them), and a rerun written whole.
fn clock_stepping_chain() -> fixture::Chain {
    let mut chain = foreach_started("CLOCK", &json!({"a": "b"}));
    let step = Some("revoke");
    let times = [
        "10:00:02",
        "10:00:03",
        "10:00:01.500",
        "10:00:04",
        "10:00:02.500",
        "10:00:05",
    ];
    for (item, time) in times.iter().enumerate() {
        let at = format!("2026-12-01T{time}Z");
        let request = if item == 2 {
            json!({"item": item, "path": "/other"})
        } else {
            json!({"item": item})
        };
        chain.push(&at, "alice", Kind::HttpRequest, step, request);
        chain.push(
            &at,
            "alice",
            Kind::HttpResponse,
            step,
            json!({"status": 200, "elapsed_ms": 1, "bytes": 0, "item": item}),
        );
    }
    chain.push(
        "2026-12-01T10:00:06Z",
        "bob",
        Kind::Note,
        None,
        json!({"text": "between", "tags": []}),
    );
    chain.push(
        "2026-12-01T10:00:07Z",
        "alice",
        Kind::StepStarted,
        step,
        json!({"attempt": 2, "rerun": true}),
    );
    chain.push(
        "2026-12-01T10:00:08Z",
        "alice",
        Kind::HttpRequest,
        step,
        json!({"method": "GET", "url": "http://other/x", "headers": {}, "item": 0}),
    );
    chain
}

/// The streamed export, whose exchange rows go through a temporary file, lists every row in
/// the order and words of the in-memory replay.
#[test]
fn exchange_rows_kept_on_disk_come_back_in_time_order_and_rebuilt_whole() {
    let chain = clock_stepping_chain();
    let tmp = tempfile::tempdir().unwrap();
    write_chain(tmp.path(), &chain);

    let incident = chain.incident();
    let replayed = export::report::build(&incident, &export::Sources::read(tmp.path(), &incident));
    let streamed =
        export::build_from_journal(tmp.path(), Format::Json, TimelineView::Full).unwrap();
    let json = export::render_report(&streamed, Format::Json);
    assert_eq!(json, export::render_report(&replayed, Format::Json));
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let rows: Vec<(u64, &str)> = value["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| (r["seq"].as_u64().unwrap(), r["text"].as_str().unwrap()))
        .collect();
    let seqs: Vec<u64> = rows.iter().map(|(seq, _)| *seq).collect();
    assert_eq!(
        seqs,
        [1, 2, 7, 8, 3, 4, 11, 12, 5, 6, 9, 10, 13, 14, 15, 16, 17]
    );
    assert!(
        rows.contains(&(3, "POST http://h:1/revoke (item 0)")),
        "{rows:#?}"
    );
    assert!(
        rows.contains(&(7, "POST http://h:1/other (item 2)")),
        "{rows:#?}"
    );
    assert!(
        rows.contains(&(17, "GET http://other/x (item 0)")),
        "{rows:#?}"
    );
}

/// A sink that takes `left` bytes, then fails as a closed pipe does.
struct ClosingPipe {
    left: usize,
}

impl std::io::Write for ClosingPipe {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        if self.left == 0 {
            return Err(std::io::ErrorKind::BrokenPipe.into());
        }
        let n = data.len().min(self.left);
        self.left -= n;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The JSON is made on one thread and written on another: a sink that fails mid-document
/// (`stanch export … | head`) ends the export with the sink's own error, whether the
/// document is made yet or not, and nothing waits forever.
#[test]
fn a_sink_that_closes_mid_json_ends_the_export_with_its_error() {
    let mut chain = foreach_started("BIG", &json!({}));
    for i in 0..6000 {
        let text = format!("note {i} {}", "x".repeat(1000));
        chain.push(
            "2026-12-01T10:00:01Z",
            "alice",
            Kind::Note,
            None,
            json!({"text": text, "tags": []}),
        );
    }
    let tmp = tempfile::tempdir().unwrap();
    write_chain(tmp.path(), &chain);
    let report = export::build_from_journal(tmp.path(), Format::Json, TimelineView::Full).unwrap();
    let mut whole = Vec::new();
    export::render_to(&report, Format::Json, TimelineView::Full, &mut whole).unwrap();
    assert!(whole.len() > 8 << 20, "several chunks: {}", whole.len());
    for left in [0, 100, 3 << 20] {
        let err = export::render_to(
            &report,
            Format::Json,
            TimelineView::Full,
            &mut ClosingPipe { left },
        )
        .unwrap_err();
        assert_eq!(
            err.kind(),
            std::io::ErrorKind::BrokenPipe,
            "after {left} bytes"
        );
    }
}

/// A foreach exchange read lean (no event built) still reaches the JSON through its words:
/// hostile characters a server put in a transport error come out escaped, as from the replay.
#[test]
fn a_lean_exchange_with_hostile_text_is_escaped_in_the_json() {
    let mut chain = foreach_started("HOSTILE", &json!({}));
    let step = Some("revoke");
    chain.push(
        "2026-12-01T10:00:02Z",
        "alice",
        Kind::HttpRequest,
        step,
        json!({"item": 0}),
    );
    let error = "refused \u{9b}31m \u{202e}exe.txt \u{1b}[2J";
    chain.push(
        "2026-12-01T10:00:02Z",
        "alice",
        Kind::HttpResponse,
        step,
        json!({"elapsed_ms": 1, "item": 0, "error": error}),
    );
    let tmp = tempfile::tempdir().unwrap();
    write_chain(tmp.path(), &chain);
    // The line is in the writer's layout (the C1 and bidi characters raw, as the writer
    // writes them), so the export reads it lean.
    let journal = std::fs::read_to_string(tmp.path().join("journal.jsonl")).unwrap();
    assert!(journal.contains('\u{9b}') && journal.contains('\u{202e}'));

    let streamed =
        export::build_from_journal(tmp.path(), Format::Json, TimelineView::Full).unwrap();
    let json = export::render_report(&streamed, Format::Json);
    let incident = chain.incident();
    let replayed = export::report::build(&incident, &export::Sources::read(tmp.path(), &incident));
    assert_eq!(json, export::render_report(&replayed, Format::Json));
    assert!(!json.chars().any(stanch::text::is_hostile), "{json}");
    for escaped in [r"\u009b31m", r"\u202eexe.txt", r"\u001b[2J"] {
        assert!(json.contains(escaped), "{escaped} in {json}");
    }
    let value: serde_json::Value = serde_json::from_str(&json).unwrap();
    let texts: Vec<&str> = value["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["text"].as_str().unwrap())
        .collect();
    assert!(
        texts.contains(&format!("No response: {error}").as_str()),
        "{texts:?}"
    );
}
