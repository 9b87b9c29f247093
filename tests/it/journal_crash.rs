//! Crash safety, for real: a child process (this test binary, re-executed into
//! `child_appender`) appends from several threads and prints `ack <seq> <hash>` after each
//! append returns (i.e. after its sync). The parent SIGKILLs it at random moments (60 kills,
//! twenty per journal), and after every kill checks that every acknowledged event is
//! there with the hash it was acknowledged with, that nothing complete was dropped, that the
//! chain verifies, and that a torn tail is quarantined byte for byte.
//!
//! SIGKILL cannot interrupt a single `write` to a regular file halfway on Linux, so the torn
//! lines a power cut would leave are simulated: every few rounds the parent appends a
//! partial line or a zeroed block before replaying.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::json;
use stanch::journal::replay::{self, HEAD_FILE};
use stanch::journal::{self, Journal, JournalError, Kind, NewEvent};

/// Set (to the incident dir) in the child's environment.
const CHILD_ENV: &str = "STANCH_TEST_CRASH_CHILD_DIR";
const ROUNDS: u32 = 60;
const THREADS: u64 = 4;
/// Kills survived by one journal before the next starts (replay cost grows with length).
const ROUNDS_PER_JOURNAL: u32 = 20;

/// The child's work: open (or create) the journal, then append forever (or `limit` times per
/// thread), printing each ack only after `append_blocking` returned.
fn append_and_ack(dir: &Path, limit: Option<u64>) {
    let journal = if dir.join("journal.jsonl").exists() {
        Journal::open(dir, "child").map(|(j, _)| j)
    } else {
        Journal::create(dir, "child")
    }
    .unwrap();
    writeln!(std::io::stdout().lock(), "ready {}", std::process::id()).unwrap();
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let journal = journal.clone();
            std::thread::spawn(move || {
                for n in 0..limit.unwrap_or(u64::MAX) {
                    let event = journal
                        .append_blocking(NewEvent::new(
                            Kind::Note,
                            json!({ "text": format!("thread {t} note {n}"), "tags": [] }),
                        ))
                        .unwrap();
                    // Direct write to stdout (not `println!`), so libtest never captures it.
                    writeln!(std::io::stdout().lock(), "ack {} {}", event.seq, event.hash).unwrap();
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
}

/// Child entry point when re-executed by the crash test; otherwise the same workload
/// in-process, bounded, as a check of what the child relies on.
#[test]
fn child_appender() {
    if let Some(dir) = std::env::var_os(CHILD_ENV) {
        append_and_ack(Path::new(&dir), None);
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    append_and_ack(tmp.path(), Some(25));
    let report = journal::verify(tmp.path()).unwrap();
    assert!(report.is_ok(), "{report}");
    assert_eq!(report.events, THREADS * 25);
}

/// Tiny xorshift: reproducible from the printed seed, no dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// One child life: returns the acks it printed before being killed.
fn run_child(dir: &Path, rng: &mut Rng, round: u32) -> Vec<(u64, String)> {
    let mut child = Command::new(std::env::current_exe().unwrap())
        .args([
            // The test's full name in the one integration-test binary (`tests/it`).
            "journal_crash::child_appender",
            "--exact",
            "--nocapture",
            "--test-threads=1",
        ])
        .env(CHILD_ENV, dir)
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let (line_tx, line_rx) = mpsc::channel::<String>();
    let reader = std::thread::spawn(move || {
        let mut reader = BufReader::new(stdout);
        let mut line = String::new();
        // Only whole lines count: a kill can cut the last one short.
        while reader.read_line(&mut line).unwrap_or(0) > 0 && line.ends_with('\n') {
            if line_tx.send(std::mem::take(&mut line)).is_err() {
                break;
            }
        }
    });

    let mut lines = Vec::new();
    if round.is_multiple_of(3) {
        // Kill at a random moment from spawn on: sometimes before the journal is even open.
        std::thread::sleep(Duration::from_millis(rng.below(40)));
    } else {
        // libtest's own chatter comes first; "ready <pid>" may share a line with it.
        let pid = loop {
            let line = line_rx
                .recv_timeout(Duration::from_secs(30))
                .expect("child never became ready");
            if let Some((_, pid)) = line.trim().split_once("ready ") {
                break pid.to_owned();
            }
        };
        if round % 5 == 1 {
            // While the child writes, nobody else may: the error names the child.
            match Journal::open(dir, "intruder") {
                Err(JournalError::Locked(e)) => {
                    assert!(e.to_string().contains(&format!("(pid {pid})")), "{e}");
                }
                Err(e) => panic!("round {round}: {e}"),
                Ok(_) => panic!("round {round}: second writer got in"),
            }
        }
        std::thread::sleep(Duration::from_millis(rng.below(60)));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    reader.join().unwrap();
    lines.extend(line_rx.try_iter());
    lines
        .iter()
        .filter_map(|l| {
            let mut parts = l.trim().strip_prefix("ack ")?.split(' ');
            Some((parts.next()?.parse().ok()?, parts.next()?.to_owned()))
        })
        .collect()
}

/// What a power cut could leave after the last whole line.
fn simulate_torn_tail(dir: &Path, rng: &mut Rng) -> Vec<u8> {
    let path = dir.join("journal.jsonl");
    let bytes = std::fs::read(&path).unwrap();
    let last_line = bytes
        .strip_suffix(b"\n")
        .and_then(|b| b.rsplit(|&c| c == b'\n').next())
        .unwrap_or(b"{\"seq\":1");
    let torn: Vec<u8> = if rng.below(2) == 0 {
        let cut = usize::try_from(rng.below(last_line.len() as u64)).unwrap() + 1;
        last_line[..cut].to_vec()
    } else {
        vec![0; usize::try_from(rng.below(4096)).unwrap() + 1]
    };
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap();
    file.write_all(&torn).unwrap();
    torn
}

#[test]
fn sigkill_at_random_moments_loses_no_acknowledged_event() {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
    let seed = (now.as_secs() << 32) ^ u64::from(now.subsec_nanos()) | 1;
    let mut rng = Rng(seed);
    let tmp = tempfile::tempdir().unwrap();
    let mut acked: BTreeMap<u64, String> = BTreeMap::new();
    let mut quarantines = 0;
    let mut total_acks = 0;

    for round in 0..ROUNDS {
        let dir = tmp
            .path()
            .join(format!("INC-CRASH-{}", round / ROUNDS_PER_JOURNAL));
        if round % ROUNDS_PER_JOURNAL == 0 {
            acked.clear();
        }
        let context = format!("seed {seed}, round {round}");
        for (seq, hash) in run_child(&dir, &mut rng, round) {
            total_acks += 1;
            if let Some(earlier) = acked.insert(seq, hash.clone()) {
                assert_eq!(earlier, hash, "{context}: seq {seq} acknowledged twice");
            }
        }
        if !dir.join("journal.jsonl").exists() {
            continue; // killed before it created the journal
        }
        let torn = (round % 4 == 3).then(|| simulate_torn_tail(&dir, &mut rng));

        // Before recovery: the file is a good prefix plus, at most, a torn tail.
        let bytes = std::fs::read(dir.join("journal.jsonl")).unwrap();
        let head = replay::read_head(&dir);
        let before = replay::replay(&bytes, head.as_ref());
        assert_eq!(before.broken, None, "{context}");
        if let Some(torn) = &torn {
            // At least what was simulated (a kill could, in principle, have torn a line too).
            assert!(before.torn_bytes >= torn.len() as u64, "{context}");
        }

        let (journal, events) = Journal::open(&dir, "parent").unwrap();
        drop(journal);
        if before.torn_bytes > 0 {
            quarantines += 1;
            let recovered = events.last().unwrap();
            assert_eq!(recovered.kind, Kind::JournalRecovered, "{context}");
            assert_eq!(
                recovered.data_value()["bytes"],
                before.torn_bytes,
                "{context}"
            );
            assert_eq!(
                recovered.data_value()["last_good_seq"],
                before.last_seq(),
                "{context}"
            );
            let data = recovered.data_value();
            let name = data["quarantined"].as_str().unwrap();
            let start = usize::try_from(before.good_len).unwrap();
            assert_eq!(
                std::fs::read(dir.join(name)).unwrap(),
                &bytes[start..],
                "{context}"
            );
            assert_eq!(events.len(), before.events.len() + 1, "{context}");
        } else {
            assert_eq!(events.len(), before.events.len(), "{context}");
        }
        // Nothing complete was dropped, and every ack is there with its hash.
        assert_eq!(
            &events[..before.events.len()],
            &before.events[..],
            "{context}"
        );
        for (seq, hash) in &acked {
            let index = usize::try_from(*seq - 1).unwrap();
            assert_eq!(
                events.get(index).map(|e| &e.hash),
                Some(hash),
                "{context}: acknowledged seq {seq}"
            );
        }
        let report = journal::verify(&dir).unwrap();
        assert!(report.is_ok(), "{context}: {report}");
        assert!(dir.join(HEAD_FILE).exists());
    }
    eprintln!("{ROUNDS} kills, {total_acks} acks, {quarantines} torn tails quarantined");
    assert!(
        total_acks > u64::from(ROUNDS),
        "children acknowledged only {total_acks} events; the test proved little"
    );
    assert!(
        quarantines >= ROUNDS / 4 - 1,
        "only {quarantines} torn tails"
    );
}
