//! A journal written before event payloads were typed (tests/fixtures/journal/DRILL-GOLDEN: a
//! full `drill --auto` run, foreach exchanges thinned, chain re-linked and checked with that
//! release's `stanch verify`) still verifies, replays and exports exactly as that release did.
//! The expected outputs beside it were produced by that release's binary. And the contract
//! stays typed: no event JSON is built or read by key outside the journal module.

use std::path::{Path, PathBuf};

use crate::support::cli;
use stanch::journal::{self, Payload};

const ID: &str = "DRILL-GOLDEN";

fn fixture() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/journal")
}

/// A data dir holding a copy of the golden incident (commands never touch the fixture).
fn data_dir() -> tempfile::TempDir {
    let data = tempfile::tempdir().unwrap();
    let from = fixture().join(ID);
    let to = data.path().join("incidents").join(ID);
    std::fs::create_dir_all(to.join("evidence")).unwrap();
    for name in ["journal.jsonl", "journal.head"] {
        std::fs::copy(from.join(name), to.join(name)).unwrap();
    }
    for entry in std::fs::read_dir(from.join("evidence")).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), to.join("evidence").join(entry.file_name())).unwrap();
    }
    data
}

/// Run stanch from the package root (the journal names its runbook relative to it).
fn stanch(data: &Path, args: &[&str]) -> String {
    let out = cli::succeeded(
        cli::stanch(data)
            .args(args)
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env("NO_COLOR", "1"),
    );
    String::from_utf8(out.stdout).unwrap()
}

fn expected(ext: &str) -> String {
    std::fs::read_to_string(fixture().join(format!("{ID}.{ext}"))).unwrap()
}

#[test]
fn an_old_journal_verifies_lists_and_exports_as_it_always_did() {
    let data = data_dir();
    let data = data.path();
    assert_eq!(stanch(data, &["verify", ID]), expected("verify"));
    assert_eq!(stanch(data, &["list"]), expected("list"));
    for format in ["md", "json", "html"] {
        assert_eq!(
            stanch(data, &["export", ID, "--format", format]),
            expected(format),
            "export --format {format}"
        );
    }
}

#[test]
fn every_old_event_decodes_as_its_kind_and_encodes_back_to_the_same_bytes() {
    let events = journal::read(&fixture().join(ID)).unwrap();
    assert_eq!(events.len(), 164);
    for event in &events {
        let payload = event
            .payload()
            .unwrap_or_else(|e| panic!("seq {}: {e}", event.seq));
        assert_eq!(payload.kind(), event.kind);
        // The typed payload carries every field, in the wire's own JSON types.
        assert_eq!(
            serde_json::to_string(&payload.to_value()).unwrap(),
            event.data.get(),
            "seq {} ({})",
            event.seq,
            event.kind
        );
        assert!(event.hash_is_valid(), "seq {}", event.seq);
    }
    assert!(
        events
            .iter()
            .any(|e| matches!(e.payload(), Ok(Payload::DrillScore(_))))
    );
    let incident = stanch::incident::Incident::replay(events);
    assert!(incident.unreadable.is_empty(), "{:?}", incident.unreadable);
}

#[test]
fn a_hand_reformatted_line_still_verifies_by_its_canonical_form() {
    let text = std::fs::read_to_string(fixture().join(ID).join("journal.jsonl")).unwrap();
    let mut event: journal::Event = serde_json::from_str(text.lines().nth(1).unwrap()).unwrap();
    let spaced = serde_json::to_string_pretty(&event.data_value()).unwrap();
    event.data = journal::event::Data::from_json(&spaced).unwrap();
    assert!(event.hash_is_valid());
    event.data = journal::event::Data::from_json(r#"{"text":"forged"}"#).unwrap();
    assert!(!event.hash_is_valid());
}

/// The contract is typed everywhere: outside `src/journal/`, production code builds events
/// only from payloads and reads them only through `Payload` (test modules and the TUI's
/// test fixture aside). A grep, so a new `json!` event or `data.get("…")` fails here.
#[test]
fn no_event_json_is_built_or_read_by_key_outside_the_journal() {
    const FORBIDDEN: &[&str] = &[
        "NewEvent::new(",
        "NewEvent::for_step(",
        "NewEvent {",
        "data_value()",
        ".data.get(",
        "data_str(",
        "raw_data(",
    ];
    fn visit(dir: &std::path::Path, found: &mut Vec<String>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                if !path.ends_with("journal") {
                    visit(&path, found);
                }
                continue;
            }
            if path.extension().is_none_or(|e| e != "rs") || path.ends_with("fixture.rs") {
                continue;
            }
            let text = std::fs::read_to_string(&path).unwrap();
            let production = text.split("#[cfg(test)]").next().unwrap_or_default();
            for (n, line) in production.lines().enumerate() {
                if FORBIDDEN.iter().any(|f| line.contains(f)) {
                    found.push(format!("{}:{}: {}", path.display(), n + 1, line.trim()));
                }
            }
        }
    }
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    visit(&src, &mut found);
    assert!(
        found.is_empty(),
        "event JSON outside the journal:\n{}",
        found.join("\n")
    );
}
