//! `export::build_from_journal` streams the journal but must judge it exactly as
//! `journal::read` does: a torn tail is left out, any other damage refuses the export.
//! Each case is run through both and the verdicts compared.

use crate::support::export_fixture as fixture;

use std::path::Path;

use stanch::export::{self, ExportError};

fn write(dir: &Path, bytes: &[u8]) {
    std::fs::write(dir.join("journal.jsonl"), bytes).unwrap();
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
    let streamed = export::build_from_journal(dir);
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
