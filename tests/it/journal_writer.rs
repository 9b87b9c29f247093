//! The journal writer as its callers see it: group commit under concurrent appends, the
//! one-writer lock, redaction before hashing, torn-tail recovery, refusal of damaged
//! journals, `store::mark_interrupted`, and the `stanch list` / `stanch verify` commands.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;

use serde_json::json;
use stanch::incident::{Incident, StepStatus};
use stanch::journal::{self, Event, Fault, Journal, JournalError, Kind, NewEvent};
use stanch::secret::{MASK, Redactor};

fn note(text: &str) -> NewEvent {
    NewEvent::new(Kind::Note, json!({ "text": text, "tags": [] }))
}

fn journal_bytes(dir: &Path) -> Vec<u8> {
    std::fs::read(dir.join("journal.jsonl")).unwrap()
}

#[test]
fn concurrent_blocking_appends_keep_each_threads_order_and_one_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::create(tmp.path(), "alice").unwrap();
    let threads: u64 = 32;
    let per_thread: u64 = 25;
    let handles: Vec<_> = (0..threads)
        .map(|t| {
            let journal = journal.clone();
            std::thread::spawn(move || {
                (0..per_thread)
                    .map(|n| {
                        journal
                            .append_blocking(NewEvent::new(
                                Kind::Note,
                                json!({ "thread": t, "n": n }),
                            ))
                            .unwrap()
                    })
                    .collect::<Vec<Event>>()
            })
        })
        .collect();
    let acked: Vec<Event> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    let stats = journal.stats();
    drop(journal);

    let on_disk = journal::read(tmp.path()).unwrap();
    assert_eq!(on_disk.len() as u64, threads * per_thread);
    assert_eq!(stats.events, threads * per_thread);
    assert!(stats.syncs >= 1 && stats.syncs <= stats.events);
    for (i, event) in on_disk.iter().enumerate() {
        assert_eq!(event.seq, i as u64 + 1);
    }
    // What each caller was told is exactly what is on disk.
    let by_seq: BTreeMap<u64, &Event> = on_disk.iter().map(|e| (e.seq, e)).collect();
    for event in &acked {
        assert_eq!(by_seq[&event.seq], event);
    }
    // Each thread's events appear in the order that thread appended them.
    let mut last_n: BTreeMap<u64, u64> = BTreeMap::new();
    for event in &on_disk {
        let t = event.data_value()["thread"].as_u64().unwrap();
        let n = event.data_value()["n"].as_u64().unwrap();
        assert_eq!(last_n.insert(t, n).map_or(0, |p| p + 1), n, "thread {t}");
    }
    assert!(journal::verify(tmp.path()).unwrap().is_ok());
}

#[test]
fn async_appends_from_many_tasks_are_all_acknowledged_once() {
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::create(tmp.path(), "alice").unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .build()
        .unwrap();
    let mut seqs: Vec<u64> = runtime.block_on(async {
        let tasks: Vec<_> = (0..64)
            .map(|i| {
                let journal = journal.clone();
                tokio::spawn(async move { journal.append(note(&format!("task {i}"))).await })
            })
            .collect();
        let mut seqs = Vec::new();
        for task in tasks {
            seqs.push(task.await.unwrap().unwrap().seq);
        }
        seqs
    });
    seqs.sort_unstable();
    assert_eq!(seqs, (1..=64).collect::<Vec<_>>());
    drop(journal);
    assert!(journal::verify(tmp.path()).unwrap().is_ok());
}

#[test]
fn second_writer_is_refused_with_the_holder_named() {
    let tmp = tempfile::tempdir().unwrap();
    let first = Journal::create(tmp.path(), "alice").unwrap();
    first.append_blocking(note("one")).unwrap();

    let Err(err) = Journal::open(tmp.path(), "bob") else {
        panic!("a second writer was let in")
    };
    assert!(matches!(err, JournalError::Locked(_)), "{err:?}");
    let text = err.to_string();
    assert!(
        text.contains(&format!("(pid {})", std::process::id())),
        "{text}"
    );
    assert!(text.contains("already open for writing by"), "{text}");
    assert!(matches!(
        Journal::create(tmp.path(), "bob"),
        Err(JournalError::Locked(_))
    ));

    drop(first);
    let (again, events) = Journal::open(tmp.path(), "bob").unwrap();
    assert_eq!(events.len(), 1);
    assert_eq!(again.append_blocking(note("two")).unwrap().seq, 2);
}

#[test]
fn redactor_scrubs_secrets_before_hashing_and_writing() {
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::create(tmp.path(), "alice").unwrap();
    journal.set_redactor(Redactor::new(["hunter2-secret"]));
    let event = journal
        .append_blocking(NewEvent::new(
            Kind::HttpRequest,
            json!({ "url": "https://x/?token=hunter2-secret", "headers": {} }),
        ))
        .unwrap();
    drop(journal);
    assert_eq!(
        event.data_value()["url"],
        format!("https://x/?token={MASK}")
    );
    assert_eq!(event.hash, event.compute_hash());
    let text = String::from_utf8(journal_bytes(tmp.path())).unwrap();
    assert!(!text.contains("hunter2"), "{text}");
    assert!(journal::verify(tmp.path()).unwrap().is_ok());
}

#[test]
fn events_carry_utc_millisecond_times_and_monotonic_clock() {
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::create(tmp.path(), "alice").unwrap();
    let events: Vec<Event> = (0..5)
        .map(|i| journal.append_blocking(note(&i.to_string())).unwrap())
        .collect();
    for pair in events.windows(2) {
        assert!(pair[0].mono_ms <= pair[1].mono_ms);
        assert_eq!(pair[1].prev, pair[0].hash);
    }
    let line = String::from_utf8(journal_bytes(tmp.path())).unwrap();
    let at = line.split("\"at\":\"").nth(1).unwrap();
    let at = &at[..at.find('"').unwrap()];
    // RFC 3339 in UTC ("Z"), at millisecond precision (jiff drops trailing zeros).
    assert!(at.ends_with('Z'), "{at}");
    let parsed: jiff::Timestamp = at.parse().unwrap();
    assert_eq!(parsed, events[0].at);
    assert_eq!(parsed.subsec_nanosecond() % 1_000_000, 0, "{at}");
}

#[test]
fn reopen_continues_the_chain() {
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::create(tmp.path(), "alice").unwrap();
    journal.append_blocking(note("a")).unwrap();
    let second = journal.append_blocking(note("b")).unwrap();
    drop(journal);
    let (journal, events) = Journal::open(tmp.path(), "alice").unwrap();
    assert_eq!(events.len(), 2);
    let third = journal.append_blocking(note("c")).unwrap();
    assert_eq!((third.seq, third.prev.as_str()), (3, second.hash.as_str()));
    drop(journal);
    assert!(journal::verify(tmp.path()).unwrap().is_ok());
}

#[test]
fn torn_last_line_is_quarantined_truncated_and_recorded() {
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::create(tmp.path(), "alice").unwrap();
    for text in ["a", "b", "c"] {
        journal.append_blocking(note(text)).unwrap();
    }
    drop(journal);
    let good = journal_bytes(tmp.path());
    let torn: &[u8] = b"{\"seq\":4,\"at\":\"2026-11-28T03:4\0\0\0\0";
    let mut bytes = good.clone();
    bytes.extend_from_slice(torn);
    std::fs::write(tmp.path().join("journal.jsonl"), &bytes).unwrap();

    let (journal, events) = Journal::open(tmp.path(), "alice").unwrap();
    drop(journal);
    assert_eq!(events.len(), 4);
    let recovered = events.last().unwrap();
    assert_eq!(recovered.kind, Kind::JournalRecovered);
    assert_eq!(recovered.data_value()["bytes"], torn.len());
    assert_eq!(recovered.data_value()["last_good_seq"], 3);
    let data = recovered.data_value();
    let name = data["quarantined"].as_str().unwrap();
    assert!(name.starts_with("journal.torn-"), "{name}");
    assert_eq!(std::fs::read(tmp.path().join(name)).unwrap(), torn);
    // The good prefix is byte-for-byte what it was; only the recovery event follows it.
    assert!(journal_bytes(tmp.path()).starts_with(&good));
    assert!(journal::verify(tmp.path()).unwrap().is_ok());
}

#[test]
fn damaged_middle_is_refused_and_left_untouched() {
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::create(tmp.path(), "alice").unwrap();
    for text in ["a", "b", "c"] {
        journal.append_blocking(note(text)).unwrap();
    }
    drop(journal);
    let text = String::from_utf8(journal_bytes(tmp.path())).unwrap();
    let damaged = text.replacen("\"text\":\"b\"", "\"text\":\"B\"", 1);
    std::fs::write(tmp.path().join("journal.jsonl"), &damaged).unwrap();

    let Err(err) = Journal::open(tmp.path(), "alice") else {
        panic!("opened a damaged journal for writing")
    };
    let JournalError::Broken { broken, .. } = &err else {
        panic!("{err:?}")
    };
    assert_eq!(
        (broken.seq, broken.line, &broken.fault),
        (2, 2, &Fault::Hash)
    );
    assert!(err.to_string().contains("seq 2 (line 2)"), "{err}");
    assert_eq!(journal_bytes(tmp.path()), damaged.as_bytes());
    assert!(!std::fs::read_dir(tmp.path()).unwrap().any(|e| {
        e.unwrap()
            .file_name()
            .to_string_lossy()
            .starts_with("journal.torn-")
    }));
}

#[test]
fn mark_interrupted_records_only_steps_left_running() {
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::create(tmp.path(), "alice").unwrap();
    let started = |step: &str| NewEvent::for_step(Kind::StepStarted, step, json!({"attempt": 1}));
    let running = journal.append_blocking(started("close-index")).unwrap();
    journal.append_blocking(started("count-exposed")).unwrap();
    journal
        .append_blocking(NewEvent::for_step(
            Kind::StepSucceeded,
            "count-exposed",
            json!({"duration_ms": 5, "summary": "ok", "captures": {}}),
        ))
        .unwrap();
    drop(journal);

    let (journal, events) = Journal::open(tmp.path(), "alice").unwrap();
    let mut opened = stanch::store::Opened {
        id: "INC-T".into(),
        dir: tmp.path().to_path_buf(),
        journal,
        incident: Incident::replay(events),
        checkpoints: None,
        notice: None,
    };
    let ids = stanch::store::mark_interrupted(&mut opened).unwrap();
    let started = opened.incident.step("close-index").started_seq.unwrap();
    assert_eq!(ids, [("close-index".to_owned(), started)]);
    assert_eq!(
        opened.incident.status("close-index"),
        StepStatus::Interrupted
    );
    assert_eq!(
        opened.incident.status("count-exposed"),
        StepStatus::Succeeded
    );
    let last = opened.incident.events.last().unwrap();
    assert_eq!(last.kind, Kind::StepInterrupted);
    assert_eq!(last.data_value()["started_seq"], running.seq);
    // A second call finds nothing left to mark.
    assert!(
        stanch::store::mark_interrupted(&mut opened)
            .unwrap()
            .is_empty()
    );
}

/// An incident under `<data>/incidents/<id>` with an `incident.opened` event.
fn incident(data: &Path, id: &str, drill: bool) -> Journal {
    let journal = Journal::create(&data.join("incidents").join(id), "alice").unwrap();
    journal
        .append_blocking(NewEvent::new(
            Kind::IncidentOpened,
            json!({"incident_id": id, "runbook_id": "elasticsearch-exposure",
                   "runbook_title": "t", "runbook_sha256": "0", "inputs": {},
                   "responder": "alice", "drill": drill}),
        ))
        .unwrap();
    journal
}

fn stanch(data: &Path, args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stanch"))
        .args(args)
        .env("STANCH_DATA_DIR", data)
        .output()
        .unwrap();
    let text =
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr);
    (out.status.code().unwrap_or(-1), text)
}

#[test]
fn verify_command_checks_chain_and_evidence_and_exits_1_on_a_problem() {
    let data = tempfile::tempdir().unwrap();
    let journal = incident(data.path(), "INC-1", false);
    let body = b"{\"count\": 2400000}";
    let sha = journal::event::sha256_hex(body);
    let evidence = journal.dir().join("evidence");
    std::fs::create_dir_all(&evidence).unwrap();
    std::fs::write(evidence.join(&sha), body).unwrap();
    let last = journal
        .append_blocking(NewEvent::for_step(
            Kind::EvidenceCaptured,
            "count-exposed",
            json!({"file": format!("evidence/{sha}"), "sha256": sha, "bytes": body.len()}),
        ))
        .unwrap();
    drop(journal);

    let (code, text) = stanch(data.path(), &["verify", "INC-1"]);
    assert_eq!(
        (code, text),
        (
            0,
            format!(
                "INC-1: ok: 2 events, last seq 2 hash {}…, 1 evidence files\n",
                &last.hash[..12]
            )
        )
    );

    std::fs::write(evidence.join(&sha), b"{\"count\": 0}").unwrap();
    let (code, text) = stanch(data.path(), &["verify", "INC-1"]);
    assert_eq!(code, 1, "{text}");
    assert!(
        text.starts_with(&format!(
            "INC-1: EVIDENCE: evidence/{sha} (seq 2): SHA-256 is "
        )),
        "{text}"
    );

    let (code, text) = stanch(data.path(), &["verify", "NOPE"]);
    assert_ne!(code, 0);
    assert!(text.contains("no incident `NOPE`"), "{text}");
}

#[test]
fn list_command_shows_every_incident_with_state_and_kind() {
    let data = tempfile::tempdir().unwrap();
    let real = incident(data.path(), "INC-20261226-1800", false);
    real.append_blocking(NewEvent::for_step(
        Kind::StepSkipped,
        "probe",
        json!({"reason": "known"}),
    ))
    .unwrap();
    real.append_blocking(NewEvent::new(Kind::IncidentClosed, json!({})))
        .unwrap();
    drop(real);
    let drill = Arc::new(incident(data.path(), "DRILL-20261226-1900", true));

    let (code, text) = stanch(data.path(), &["list"]);
    assert_eq!(code, 0, "{text}");
    let lines: Vec<&str> = text.lines().collect();
    assert_eq!(lines.len(), 3, "{text}");
    assert!(lines[0].starts_with("ID "), "{text}");
    let row = |id: &str| *lines.iter().find(|l| l.starts_with(id)).unwrap();
    let real_row = row("INC-20261226-1800");
    assert!(real_row.contains("elasticsearch-exposure"), "{real_row}");
    assert!(real_row.contains("closed 1 steps done"), "{real_row}");
    assert!(real_row.ends_with("real"), "{real_row}");
    let drill_row = row("DRILL-20261226-1900");
    assert!(
        drill_row.contains("open 0 steps done, in use ("),
        "{drill_row}"
    );
    assert!(
        drill_row.contains(&format!(" pid {})", std::process::id())),
        "{drill_row}"
    );
    assert!(drill_row.ends_with("DRILL"), "{drill_row}");
    drop(drill);

    let empty = tempfile::tempdir().unwrap();
    let (code, text) = stanch(empty.path(), &["list"]);
    assert_eq!(
        (code, text.starts_with("no incidents in ")),
        (0, true),
        "{text}"
    );
}

#[test]
fn a_damaged_incident_is_listed_as_damaged_and_fails_verify() {
    let data = tempfile::tempdir().unwrap();
    let journal = incident(data.path(), "INC-BAD", false);
    journal.append_blocking(note("original")).unwrap();
    journal.append_blocking(note("later")).unwrap();
    drop(journal);
    let path = data.path().join("incidents/INC-BAD/journal.jsonl");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, text.replacen("original", "rewritten", 1)).unwrap();

    let (code, text) = stanch(data.path(), &["verify", "INC-BAD"]);
    assert_eq!(code, 1, "{text}");
    assert_eq!(
        text,
        "INC-BAD: DAMAGED: first bad event is seq 2 (line 2): `hash` does not match the event's \
         content (the event was changed)\n  event 1 is intact; nothing after it can be trusted\n"
    );

    let (code, text) = stanch(data.path(), &["list"]);
    assert_eq!(code, 0, "{text}");
    assert!(
        text.contains("open 0 steps done, DAMAGED at seq 2 (line 2): `hash` does not match"),
        "{text}"
    );
}
