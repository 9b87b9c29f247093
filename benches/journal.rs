//! Journal benchmarks: durable append throughput (one thread; 32 concurrent appenders sharing
//! syncs through group commit) and replay + verify of a 100,000-event journal.
//!
//! Run: `cargo bench --bench journal`. Journals live in a temp dir on the default temp
//! filesystem; `TMPDIR` chooses another (the figures only mean something on a real disk,
//! since `sync_data` is free on tmpfs).

use std::hint::black_box;
use std::path::Path;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use serde_json::json;
use stanch::journal::event::GENESIS;
use stanch::journal::{self, Event, Journal, Kind, NewEvent};

/// Concurrent appenders in the group-commit case, and appends each per iteration.
const APPENDERS: u64 = 32;
const EACH: u64 = 32;
/// Events in the replay benchmark's journal.
const EVENTS: u64 = 100_000;

fn note(n: u64) -> NewEvent {
    NewEvent::for_step(
        Kind::HttpResponse,
        "revoke-alexa",
        json!({ "status": 200, "elapsed_ms": 31, "bytes": 112, "item": n,
                "body_sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" }),
    )
}

fn append(c: &mut Criterion) {
    let mut group = c.benchmark_group("journal_append_synced");
    group.sample_size(20);

    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::create(&tmp.path().join("one"), "bench").unwrap();
    let mut n = 0;
    group.throughput(Throughput::Elements(1));
    group.bench_function("1_thread", |b| {
        b.iter(|| {
            n += 1;
            black_box(journal.append_blocking(note(n)).unwrap())
        });
    });
    let single = journal.stats();
    drop(journal);

    let journal = Journal::create(&tmp.path().join("many"), "bench").unwrap();
    group.throughput(Throughput::Elements(APPENDERS * EACH));
    group.bench_function("32_appenders", |b| {
        b.iter(|| {
            std::thread::scope(|scope| {
                for t in 0..APPENDERS {
                    let journal = &journal;
                    scope.spawn(move || {
                        for i in 0..EACH {
                            black_box(journal.append_blocking(note(t * EACH + i)).unwrap());
                        }
                    });
                }
            });
        });
    });
    let many = journal.stats();
    group.finish();
    eprintln!(
        "events per sync: 1 thread {:.2}, 32 appenders {:.2}",
        ratio(single),
        ratio(many)
    );
}

#[allow(clippy::cast_precision_loss)] // counts far below 2^52
fn ratio(stats: journal::WriterStats) -> f64 {
    stats.events as f64 / stats.syncs.max(1) as f64
}

/// A valid 100,000-event journal written directly (syncing each would take minutes).
fn write_journal(dir: &Path, events: u64) {
    std::fs::create_dir_all(dir).unwrap();
    let mut out = Vec::new();
    let mut prev = GENESIS.to_owned();
    let at: jiff::Timestamp = "2019-12-26T18:00:00.123Z".parse().unwrap();
    for seq in 1..=events {
        let new = note(seq);
        let mut event = Event {
            seq,
            at,
            mono_ms: seq,
            actor: "alice".into(),
            kind: new.kind,
            step: new.step,
            data: stanch::journal::event::raw_data(&new.data),
            prev: std::mem::take(&mut prev),
            hash: String::new(),
        };
        event.hash = event.compute_hash();
        prev.clone_from(&event.hash);
        serde_json::to_writer(&mut out, &event).unwrap();
        out.push(b'\n');
    }
    std::fs::write(dir.join("journal.jsonl"), out).unwrap();
}

fn replay(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    write_journal(tmp.path(), EVENTS);
    let bytes = std::fs::metadata(tmp.path().join("journal.jsonl"))
        .unwrap()
        .len();
    eprintln!("100k-event journal: {bytes} bytes");

    let mut group = c.benchmark_group("journal_replay");
    group.sample_size(10);
    group.throughput(Throughput::Elements(EVENTS));
    group.bench_function("verify_100k", |b| {
        b.iter(|| {
            let report = journal::verify(tmp.path()).unwrap();
            assert!(report.is_ok() && report.events == EVENTS);
        });
    });
    group.bench_function("open_100k", |b| {
        b.iter(|| {
            let (journal, events) = Journal::open(tmp.path(), "bench").unwrap();
            assert_eq!(events.len() as u64, EVENTS);
            drop(journal);
        });
    });
    group.finish();

    // Wall time above depends on how busy the machine is; CPU time (all threads) much less.
    if let Some(before) = cpu_seconds() {
        const RUNS: u32 = 5;
        for _ in 0..RUNS {
            black_box(journal::verify(tmp.path()).unwrap());
        }
        if let Some(after) = cpu_seconds() {
            eprintln!(
                "verify_100k: {:.0} ms CPU per run (user+system, all threads)",
                (after - before) * 1000.0 / f64::from(RUNS)
            );
        }
    }
    // Where that time goes: JSON parsing and SHA-256 over the bytes, each alone.
    let bytes = std::fs::read(tmp.path().join("journal.jsonl")).unwrap();
    let lines = || bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty());
    let parse = cpu_ms(|| {
        for line in lines() {
            black_box(serde_json::from_slice::<Event>(line).unwrap());
        }
    });
    let hash = cpu_ms(|| {
        for line in lines() {
            black_box(journal::event::sha256_hex(line));
        }
    });
    if let (Some(parse), Some(hash)) = (parse, hash) {
        eprintln!("of which, single-threaded: parse {parse:.0} ms CPU, SHA-256 {hash:.0} ms CPU");
    }
}

/// CPU milliseconds `f` takes (one run).
fn cpu_ms(f: impl FnOnce()) -> Option<f64> {
    let before = cpu_seconds()?;
    f();
    Some((cpu_seconds()? - before) * 1000.0)
}

/// This process's user+system CPU seconds, from `/proc/self/stat` (Linux; 100 ticks/s).
fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let fields: Vec<&str> = stat.rsplit(')').next()?.split_whitespace().collect();
    let ticks = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

criterion_group!(benches, append, replay);
criterion_main!(benches);
