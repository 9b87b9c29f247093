//! Tamper evidence, exhaustively over a small journal: changing any field of any event,
//! deleting, duplicating or swapping any event makes `verify` (and `Journal::open`) name the
//! first bad seq. Plus the replay properties: a journal cut or zeroed at any byte is always
//! recoverable, and arbitrary bytes, after a journal or instead of one, never panic.

use std::path::Path;

use proptest::prelude::*;
use serde_json::{Value, json};
use stanch::journal::replay::{self, HEAD_FILE};
use stanch::journal::{self, Fault, Journal, JournalError, Kind, NewEvent};

const EVENTS: usize = 6;

/// One way to tamper with an event's JSON, and the fault it must be caught as.
type Change = fn(&mut serde_json::Map<String, Value>);
type Expected = fn(&Fault) -> bool;

/// A real journal of `EVENTS` events (several kinds, some with a step), as lines + head.
fn sample() -> (Vec<String>, Vec<u8>) {
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::create(tmp.path(), "alice").unwrap();
    let events = [
        NewEvent::new(
            Kind::IncidentOpened,
            json!({"incident_id": "INC-1", "drill": false}),
        ),
        NewEvent::for_step(Kind::StepStarted, "close-index", json!({"attempt": 1})),
        NewEvent::for_step(
            Kind::HttpResponse,
            "close-index",
            json!({"status": 200, "bytes": 21}),
        ),
        NewEvent::for_step(Kind::StepSucceeded, "close-index", json!({"summary": "ok"})),
        NewEvent::new(
            Kind::Mark,
            json!({"name": "contained", "at": "2019-12-26T18:40:00Z"}),
        ),
        NewEvent::new(Kind::Note, json!({"text": "done", "tags": []})),
    ];
    assert_eq!(events.len(), EVENTS);
    for event in events {
        journal.append_blocking(event).unwrap();
    }
    drop(journal);
    let text = std::fs::read_to_string(tmp.path().join("journal.jsonl")).unwrap();
    let head = std::fs::read(tmp.path().join(HEAD_FILE)).unwrap();
    (text.lines().map(str::to_owned).collect(), head)
}

/// Write `lines` (+ the original head) into a fresh incident dir and verify it.
fn verify_lines(lines: &[String], head: &[u8]) -> (journal::VerifyReport, tempfile::TempDir) {
    let tmp = tempfile::tempdir().unwrap();
    let mut text = lines.join("\n");
    text.push('\n');
    std::fs::write(tmp.path().join("journal.jsonl"), text).unwrap();
    std::fs::write(tmp.path().join(HEAD_FILE), head).unwrap();
    (journal::verify(tmp.path()).unwrap(), tmp)
}

/// Assert verify and open both name `seq` as the first bad event.
fn assert_first_bad(lines: &[String], head: &[u8], seq: u64, what: &str) -> Fault {
    let (report, tmp) = verify_lines(lines, head);
    let broken = report
        .broken
        .clone()
        .unwrap_or_else(|| panic!("{what}: verify found nothing"));
    assert_eq!(broken.seq, seq, "{what}: {broken}");
    assert!(!report.is_ok(), "{what}");
    assert_eq!(report.last_seq, seq - 1, "{what}: intact prefix");
    assert!(
        report.to_string().starts_with(&format!(
            "DAMAGED: first bad event is seq {seq} (line {})",
            broken.line
        )),
        "{what}: {report}"
    );
    let before = std::fs::read(tmp.path().join("journal.jsonl")).unwrap();
    match Journal::open(tmp.path(), "mallory") {
        Err(JournalError::Broken { broken: b, .. }) => assert_eq!(b.seq, seq, "{what}"),
        Err(e) => panic!("{what}: {e}"),
        Ok(_) => panic!("{what}: opened a tampered journal for writing"),
    }
    let after = std::fs::read(tmp.path().join("journal.jsonl")).unwrap();
    assert_eq!(
        before, after,
        "{what}: open must not write to a damaged journal"
    );
    broken.fault
}

fn edit(line: &str, f: impl FnOnce(&mut serde_json::Map<String, Value>)) -> String {
    let mut value: Value = serde_json::from_str(line).unwrap();
    f(value.as_object_mut().unwrap());
    serde_json::to_string(&value).unwrap()
}

#[test]
fn untouched_sample_verifies() {
    let (lines, head) = sample();
    let (report, _tmp) = verify_lines(&lines, &head);
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.events, EVENTS as u64);
}

#[test]
fn changing_any_field_of_any_event_names_that_event() {
    let (lines, head) = sample();
    let changes: [(&str, Change, Expected); 9] = [
        (
            "seq",
            |e| e["seq"] = json!(e["seq"].as_u64().unwrap() + 100),
            |f| matches!(f, Fault::Seq { .. }),
        ),
        (
            "at",
            |e| e["at"] = json!("2019-12-26T17:21:00Z"),
            |f| *f == Fault::Hash,
        ),
        (
            "mono_ms",
            |e| e["mono_ms"] = json!(e["mono_ms"].as_u64().unwrap() + 1),
            |f| *f == Fault::Hash,
        ),
        (
            "actor",
            |e| e["actor"] = json!("mallory"),
            |f| *f == Fault::Hash,
        ),
        (
            "kind",
            |e| e["kind"] = json!("warning"),
            |f| *f == Fault::Hash,
        ),
        (
            "step",
            |e| {
                e.insert("step".into(), json!("tampered"));
            },
            |f| *f == Fault::Hash,
        ),
        (
            "data",
            |e| e["data"]["tampered"] = json!(true),
            |f| *f == Fault::Hash,
        ),
        (
            "prev",
            |e| e["prev"] = json!("f".repeat(64)),
            |f| *f == Fault::Prev,
        ),
        (
            "hash",
            |e| e["hash"] = json!("0".repeat(64)),
            |f| *f == Fault::Hash,
        ),
    ];
    for i in 0..EVENTS {
        for (field, change, expected) in &changes {
            let mut tampered = lines.clone();
            tampered[i] = edit(&lines[i], change);
            let what = format!("{field} of seq {}", i + 1);
            let fault = assert_first_bad(&tampered, &head, i as u64 + 1, &what);
            assert!(expected(&fault), "{what}: {fault:?}");
        }
    }
}

#[test]
fn changing_an_event_and_recomputing_its_hash_is_caught_at_the_next_link() {
    let (lines, head) = sample();
    for i in 0..EVENTS {
        let mut tampered = lines.clone();
        let mut event: journal::Event =
            serde_json::from_str(&edit(&lines[i], |e| e["actor"] = json!("mallory"))).unwrap();
        event.hash = event.compute_hash();
        tampered[i] = serde_json::to_string(&event).unwrap();
        let what = format!("rehashed seq {}", i + 1);
        let fault = if i + 1 < EVENTS {
            let fault = assert_first_bad(&tampered, &head, i as u64 + 2, &what);
            assert_eq!(fault, Fault::Prev, "{what}");
            fault
        } else {
            // The last event has no successor: journal.head still holds its real hash.
            assert_first_bad(&tampered, &head, i as u64 + 1, &what)
        };
        assert!(
            matches!(fault, Fault::Prev | Fault::HeadMismatch),
            "{what}: {fault:?}"
        );
    }
}

#[test]
fn deleting_any_event_names_its_seq() {
    let (lines, head) = sample();
    for i in 0..EVENTS {
        let mut tampered = lines.clone();
        tampered.remove(i);
        let what = format!("deleted seq {}", i + 1);
        let fault = assert_first_bad(&tampered, &head, i as u64 + 1, &what);
        if i + 1 == EVENTS {
            assert!(
                matches!(fault, Fault::Truncated { .. }),
                "{what}: {fault:?}"
            );
        } else {
            assert!(matches!(fault, Fault::Seq { .. }), "{what}: {fault:?}");
        }
    }
}

#[test]
fn swapping_any_two_neighbours_names_the_first() {
    let (lines, head) = sample();
    for i in 0..EVENTS - 1 {
        let mut tampered = lines.clone();
        tampered.swap(i, i + 1);
        assert_first_bad(
            &tampered,
            &head,
            i as u64 + 1,
            &format!("swapped {}", i + 1),
        );
    }
}

#[test]
fn duplicating_any_event_names_the_seq_after_it() {
    let (lines, head) = sample();
    for i in 0..EVENTS {
        let mut tampered = lines.clone();
        tampered.insert(i + 1, lines[i].clone());
        assert_first_bad(
            &tampered,
            &head,
            i as u64 + 2,
            &format!("duplicated {}", i + 1),
        );
    }
}

/// The sample's bytes, no head: what replay sees right after a crash.
fn sample_bytes() -> Vec<u8> {
    let (lines, _) = sample();
    let mut bytes = lines.join("\n").into_bytes();
    bytes.push(b'\n');
    bytes
}

#[test]
fn cutting_or_zeroing_the_journal_at_any_byte_is_always_recoverable() {
    let bytes = sample_bytes();
    let line_ends: Vec<usize> = bytes
        .iter()
        .enumerate()
        .filter(|(_, b)| **b == b'\n')
        .map(|(i, _)| i + 1)
        .collect();
    for cut in 0..=bytes.len() {
        let complete = line_ends.iter().filter(|&&end| end <= cut).count();
        let cut_bytes = &bytes[..cut];
        let mut zeroed = bytes.clone();
        zeroed[cut..].fill(0);
        for (what, input) in [("cut", cut_bytes), ("zeroed", &zeroed[..])] {
            let r = replay::replay(input, None);
            assert_eq!(r.broken, None, "{what} at {cut}");
            assert_eq!(r.events.len(), complete, "{what} at {cut}");
            assert_eq!(
                r.good_len + r.torn_bytes,
                input.len() as u64,
                "{what} at {cut}"
            );
        }
    }
}

/// Open (and so recover) a journal made of `bytes`; never panics, whatever the bytes.
fn open_bytes(dir: &Path, bytes: &[u8]) -> Result<usize, JournalError> {
    std::fs::write(dir.join("journal.jsonl"), bytes).unwrap();
    Journal::open(dir, "alice").map(|(_, events)| events.len())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]

    #[test]
    fn trailing_garbage_never_panics_and_never_costs_a_good_event(
        garbage in proptest::collection::vec(any::<u8>(), 0..300),
    ) {
        let good = sample_bytes();
        let mut bytes = good.clone();
        bytes.extend_from_slice(&garbage);
        let r = replay::replay(&bytes, None);
        prop_assert!(r.events.len() >= EVENTS);
        prop_assert_eq!(r.events.len(), EVENTS, "garbage cannot form a chained event");
        if !garbage.contains(&b'\n') {
            prop_assert_eq!(r.broken.clone(), None);
            prop_assert_eq!(r.torn_bytes, garbage.len() as u64);
        }
        let tmp = tempfile::tempdir().unwrap();
        match open_bytes(tmp.path(), &bytes) {
            Ok(n) => {
                prop_assert_eq!(n, EVENTS + usize::from(r.torn_bytes > 0));
                prop_assert!(journal::verify(tmp.path()).unwrap().is_ok());
            }
            Err(JournalError::Broken { broken, .. }) => {
                prop_assert_eq!(broken.seq, EVENTS as u64 + 1);
            }
            Err(e) => prop_assert!(false, "{e}"),
        }
    }

    #[test]
    fn arbitrary_bytes_as_a_journal_never_panic(
        bytes in proptest::collection::vec(any::<u8>(), 0..600),
    ) {
        let r = replay::replay(&bytes, None);
        prop_assert!(r.good_len + r.torn_bytes <= bytes.len() as u64);
        let tmp = tempfile::tempdir().unwrap();
        let _ = open_bytes(tmp.path(), &bytes);
    }

    #[test]
    fn arbitrary_text_lines_never_panic(lines in proptest::collection::vec("[ -~]{0,80}", 0..8)) {
        let text = lines.join("\n");
        let r = replay::replay(text.as_bytes(), None);
        prop_assert!(r.events.is_empty());
    }
}

/// A long journal built directly (syncing 20,000 appends would take a minute), so replay
/// takes its multi-threaded path.
fn long_journal(events: u64) -> Vec<String> {
    let mut prev = journal::event::GENESIS.to_owned();
    (1..=events)
        .map(|seq| {
            let mut event = journal::Event {
                seq,
                at: jiff::Timestamp::UNIX_EPOCH,
                mono_ms: seq,
                actor: "alice".into(),
                kind: Kind::Note,
                step: None,
                data: journal::event::raw_data(&json!({ "text": format!("note {seq}") })),
                prev: std::mem::take(&mut prev),
                hash: String::new(),
            };
            event.hash = event.compute_hash();
            prev.clone_from(&event.hash);
            serde_json::to_string(&event).unwrap()
        })
        .collect()
}

#[test]
fn long_journals_replayed_in_parallel_still_name_the_first_bad_seq() {
    let lines = long_journal(20_000);
    let joined = |lines: &[String]| {
        let mut text = lines.join("\n");
        text.push('\n');
        text.into_bytes()
    };
    let clean = replay::replay(&joined(&lines), None);
    assert_eq!((clean.events.len(), clean.broken), (20_000, None));
    for seq in [1, 4_096, 9_999, 15_000, 20_000] {
        let mut tampered = lines.clone();
        let i = seq - 1;
        tampered[i] = edit(&lines[i], |e| e["data"]["text"] = json!("changed"));
        let broken = replay::replay(&joined(&tampered), None).broken.unwrap();
        assert_eq!((broken.seq, broken.line), (seq as u64, seq), "seq {seq}");
        assert_eq!(broken.fault, Fault::Hash);
    }
}

#[test]
fn a_line_reformatted_without_changing_content_still_verifies() {
    let (lines, head) = sample();
    let mut reformatted = lines.clone();
    for line in &mut reformatted {
        // serde_json's Value sorts keys: same content, different bytes than the writer's.
        let value: Value = serde_json::from_str(line).unwrap();
        *line = serde_json::to_string(&value).unwrap();
        assert!(!line.starts_with("{\"seq\""));
    }
    assert_ne!(reformatted, lines);
    let (report, _tmp) = verify_lines(&reformatted, &head);
    assert!(report.is_ok(), "{report}");
}
