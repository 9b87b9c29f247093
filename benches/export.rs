//! Export of a 100,000-event incident in each format (goal: under 1 s each).
//!
//! `cargo bench --bench export` times the stages of `stanch export`: streaming the journal into
//! a report, and rendering the report in each format (plus the in-memory replay path). `cargo bench --bench export -- --write-journal DIR` only writes the synthetic
//! incident (`DIR/incidents/BENCH-100K/journal.jsonl`) for `bench/export-bench.sh`, which runs
//! the real binary on it and measures wall time and peak memory against the journal's size.
//!
//! The incident is shaped like a real one: a few dozen steps, facts, notes and marks, and one
//! `foreach` revocation step whose request/response pairs make up almost all the events.

use std::hint::black_box;
use std::io::Write;
use std::path::Path;

use criterion::{Criterion, criterion_group};
use jiff::Timestamp;
use serde_json::{Value, json};
use stanch::export::{self, Format, Sources};
use stanch::incident::Incident;
use stanch::journal::event::{GENESIS, sha256_hex};
use stanch::journal::{Event, Kind};

const EVENTS: usize = 100_000;
const ID: &str = "BENCH-100K";

struct Gen {
    events: Vec<Event>,
    t0: i64,
}

impl Gen {
    fn push(&mut self, kind: Kind, step: Option<&str>, data: Value) {
        let seq = self.events.len() as u64 + 1;
        let mono_ms = seq * 37;
        let at = Timestamp::from_millisecond(self.t0 + i64::try_from(mono_ms).unwrap()).unwrap();
        let prev = self
            .events
            .last()
            .map_or_else(|| GENESIS.to_owned(), |e| e.hash.clone());
        let mut event = Event {
            seq,
            at,
            mono_ms,
            actor: if seq.is_multiple_of(3) {
                "bob"
            } else {
                "alice"
            }
            .to_owned(),
            kind,
            step: step.map(str::to_owned),
            data: data.into(),
            prev,
            hash: String::new(),
        };
        event.hash = event.compute_hash();
        self.events.push(event);
    }
}

fn incident_events() -> Vec<Event> {
    let t0 = "2019-12-26T18:02:00Z"
        .parse::<Timestamp>()
        .unwrap()
        .as_millisecond();
    let mut g = Gen {
        events: Vec::with_capacity(EVENTS),
        t0,
    };
    g.push(Kind::IncidentOpened, None, json!({
        "incident_id": ID, "runbook_id": "elasticsearch-exposure",
        "runbook_title": "Elasticsearch index exposed to the internet", "runbook_sha256": sha256_hex(b"rb"),
        "runbook_path": "/nonexistent/runbook.toml", "inputs": {"es_url": "http://127.0.0.1:9200", "index": "customers"},
        "responder": "alice", "drill": true, "severity": "SEV1",
    }));
    for (name, at) in [
        ("exposure_began", "2019-12-04T00:00:00Z"),
        ("reported", "2019-12-26T17:21:00Z"),
        ("aware", "2019-12-26T18:00:00Z"),
    ] {
        g.push(Kind::Mark, None, json!({"name": name, "at": at}));
    }
    for i in 0..40 {
        let step = format!("step-{i}");
        let phase_url = format!("http://127.0.0.1:9200/customers/_op{i}");
        g.push(
            Kind::StepStarted,
            Some(&step),
            json!({"attempt": 1, "rerun": false}),
        );
        g.push(
            Kind::HttpRequest,
            Some(&step),
            json!({"method": "GET", "url": phase_url, "headers": {"authorization": "••••••"}}),
        );
        g.push(Kind::HttpResponse, Some(&step), json!({"status": 200, "elapsed_ms": 12, "bytes": 512, "body_sha256": sha256_hex(step.as_bytes())}));
        g.push(Kind::EvidenceCaptured, Some(&step), json!({
            "file": format!("evidence/{}", sha256_hex(step.as_bytes())), "sha256": sha256_hex(step.as_bytes()), "bytes": 512,
            "method": "GET", "url": phase_url, "captured_at": "2019-12-26T18:10:00Z", "by": "alice", "tool_version": "stanch 0.1.0",
        }));
        g.push(Kind::StepSucceeded, Some(&step), json!({"duration_ms": 40, "summary": "ok", "captures": {format!("count_{i}"): i * 1000}}));
        g.push(Kind::Note, None, json!({"text": format!("note {i}: looked at the output"), "tags": if i % 10 == 0 { json!(["follow-up"]) } else { json!([]) }}));
        g.push(Kind::Fact, None, json!({"text": format!("fact {i} learned from the reporter"), "occurred_at": "2019-12-26T17:30:00Z"}));
    }
    g.push(
        Kind::StepStarted,
        Some("revoke-alexa"),
        json!({"attempt": 1, "rerun": false}),
    );
    let mut item = 0u64;
    while g.events.len() < EVENTS - 3 {
        let token_sha = sha256_hex(&item.to_le_bytes());
        g.push(Kind::HttpRequest, Some("revoke-alexa"), json!({
            "method": "POST", "url": "http://127.0.0.1:9300/oauth/revoke",
            "headers": {"authorization": "••••••", "content-type": "application/x-www-form-urlencoded"},
            "body_sha256": token_sha, "body_bytes": 96, "item": item,
        }));
        g.push(Kind::HttpResponse, Some("revoke-alexa"), json!({"status": 200, "elapsed_ms": 4, "bytes": 0, "body_sha256": sha256_hex(b""), "item": item}));
        item += 1;
    }
    g.push(Kind::StepSucceeded, Some("revoke-alexa"), json!({"duration_ms": 3_600_000, "summary": "revoked", "captures": {}, "items": {"total": item, "failed": 0}}));
    g.push(
        Kind::Mark,
        Some("revoke-alexa"),
        json!({"name": "rotated", "at": "2019-12-26T19:10:00Z"}),
    );
    while g.events.len() < EVENTS {
        g.push(Kind::IncidentClosed, None, json!({"summary": "done"}));
    }
    g.events
}

fn write_journal(data_dir: &Path) {
    let dir = data_dir.join("incidents").join(ID);
    std::fs::create_dir_all(&dir).unwrap();
    let mut out =
        std::io::BufWriter::new(std::fs::File::create(dir.join("journal.jsonl")).unwrap());
    for event in incident_events() {
        serde_json::to_writer(&mut out, &event).unwrap();
        out.write_all(b"\n").unwrap();
    }
    out.flush().unwrap();
}

fn bench_export(c: &mut Criterion) {
    let tmp = tempfile::tempdir().unwrap();
    write_journal(tmp.path());
    let dir = tmp.path().join("incidents").join(ID);
    let mut group = c.benchmark_group("export-100k-events");
    group.sample_size(10);
    // What `stanch export` does: stream the journal into a report, then render it out.
    group.bench_function("journal-to-report", |b| {
        b.iter(|| {
            export::build_from_journal(black_box(&dir), Format::Json, export::TimelineView::Full)
                .unwrap()
        });
    });
    let report =
        export::build_from_journal(&dir, Format::Json, export::TimelineView::Full).unwrap();
    assert_eq!(report.journal.events, EVENTS as u64);
    for (name, format) in [
        ("render-markdown", Format::Markdown),
        ("render-html", Format::Html),
        ("render-json", Format::Json),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| {
                export::render_to(
                    black_box(&report),
                    format,
                    export::TimelineView::Full,
                    &mut std::io::sink(),
                )
                .unwrap();
            });
        });
    }
    // The in-memory path the TUI would use: replay everything, then build.
    group.bench_function("replay-then-build", |b| {
        b.iter(|| {
            let incident = Incident::replay(stanch::journal::read(black_box(&dir)).unwrap());
            export::report::build(&incident, &Sources::default())
        });
    });
    group.finish();
}

criterion_group!(benches, bench_export);

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--write-journal") {
        let dir = args.get(i + 1).expect("--write-journal DIR");
        write_journal(Path::new(dir));
        return;
    }
    benches();
    Criterion::default().configure_from_args().final_summary();
}
