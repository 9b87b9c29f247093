//! Write a synthetic incident for the scale benchmarks with the journal's own writer (real
//! chain hashes, the same bytes `stanch` writes), so anyone can reproduce the figures:
//!
//! ```text
//! cargo run --release --example gen_incident -- DATA_DIR ID EVENTS ITEMS
//! ```
//!
//! The incident `DATA_DIR/incidents/ID` holds exactly `EVENTS` events: `incident.opened`, a
//! `foreach` step revoking `ITEMS` tokens (one `http.request` and one `http.response` per
//! item, written lean as the engine writes them, every 1,000th item answered 404), its
//! `step.failed`, and notes for the rest. Used by `bench/gen-incident.sh`. Checkpoints are
//! written as `stanch` writes them (`STANCH_CHECKPOINT_EVERY`, default 20,000 events); with
//! `GEN_RUNBOOK=PATH` the incident names that runbook (so `stanch resume` can open it).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::json;
use stanch::journal::payload::exchange::EMPTY_SHA256;
use stanch::journal::payload::{HttpRequest, HttpResponse, IncidentOpened, StepStarted};
use stanch::journal::{Journal, Kind, NewEvent};
use stanch::store::checkpoint::{Cadence, Checkpointer};

const STEP: &str = "revoke-tokens";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen_incident: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [data, id, events, items] = args.as_slice() else {
        bail!("usage: gen_incident DATA_DIR ID EVENTS ITEMS");
    };
    let events: u64 = events.parse().context("EVENTS must be a number")?;
    let items: u64 = items.parse().context("ITEMS must be a number")?;
    let fixed = 3 + 2 * items;
    if events < fixed {
        bail!("{events} events cannot hold a foreach of {items} items (at least {fixed} needed)");
    }
    let dir = PathBuf::from(data).join("incidents").join(id);
    std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
    let journal = Journal::create(&dir, "alice")?;
    // Checkpoints as `stanch` writes them while an incident is open (and one at the end).
    let checkpoints = Checkpointer::start(&journal, 0, Cadence::from_env());
    opened(&journal, id)?;
    // As the engine's recorder writes a foreach: the first request's method, URL and headers
    // once in `step.started`, then per item only what differs (see
    // `stanch::journal::payload::exchange`).
    let whole = |item: u64| HttpRequest {
        method: Some("POST".to_owned()),
        url: Some("http://127.0.0.1:9300/oauth/revoke".to_owned()),
        headers: Some(serde_json::Map::from_iter([(
            "content-type".to_owned(),
            json!("application/x-www-form-urlencoded"),
        )])),
        body_sha256: Some(stanch::journal::event::sha256_hex(&item.to_le_bytes())),
        body_bytes: Some(96),
        item: Some(item),
        ..HttpRequest::default()
    };
    let shape = whole(0).shape();
    journal.enqueue(NewEvent::step(
        STEP,
        StepStarted {
            attempt: 1,
            request: Some(shape.clone()),
            ..StepStarted::default()
        },
    ))?;
    for item in 0..items {
        journal.enqueue(NewEvent::step(STEP, whole(item).lean(&shape)))?;
        let status = if item % 1000 == 999 { 404 } else { 200 };
        let response = HttpResponse {
            status: Some(status),
            elapsed_ms: 3,
            bytes: Some(0),
            body_sha256: Some(EMPTY_SHA256.to_owned()),
            remote_addr: Some("127.0.0.1:9300".to_owned()),
            item: Some(item),
            ..HttpResponse::default()
        };
        journal.enqueue(NewEvent::step(STEP, response.lean()))?;
    }
    let failed = items / 1000;
    let outcome = NewEvent::for_step(
        Kind::StepFailed,
        STEP,
        json!({"error": format!("{failed} of {items} items failed"), "duration_ms": 1000,
               "items": {"total": items, "failed": failed}}),
    );
    // The last event waits until everything before it is on disk.
    if events == fixed {
        journal.append_blocking(outcome)?;
    } else {
        journal.enqueue(outcome)?;
    }
    for n in fixed..events {
        let note = NewEvent::new(
            Kind::Note,
            json!({"text": format!("note {n}: checked the dashboards"), "tags": []}),
        );
        if n + 1 == events {
            journal.append_blocking(note)?;
        } else {
            journal.enqueue(note)?;
        }
    }
    checkpoints.close()?;
    // `GEN_TAIL=K`: K more notes after the checkpoint on close, and none after them: the
    // worst case a resume meets (a crash just before the next checkpoint).
    let tail: u64 = std::env::var("GEN_TAIL")
        .ok()
        .and_then(|k| k.parse().ok())
        .unwrap_or(0);
    for n in 0..tail {
        let note = NewEvent::new(Kind::Note, json!({"text": format!("tail {n}"), "tags": []}));
        journal.enqueue(note)?;
    }
    if tail > 0 {
        journal.append_blocking(NewEvent::new(
            Kind::Note,
            json!({"text": "end", "tags": []}),
        ))?;
        // Not closed: closing would checkpoint that tail.
        std::mem::forget(checkpoints);
    }
    println!("{}", dir.join("journal.jsonl").display());
    Ok(())
}

/// `incident.opened`, naming `GEN_RUNBOOK` when it is set (so `stanch resume` can open it).
fn opened(journal: &Journal, id: &str) -> anyhow::Result<()> {
    let runbook = std::env::var_os("GEN_RUNBOOK")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from);
    let runbook_sha256 = match &runbook {
        Some(path) => stanch::journal::event::sha256_hex(
            &std::fs::read(path).with_context(|| format!("reading {}", path.display()))?,
        ),
        None => stanch::journal::event::sha256_hex(b"synthetic runbook"),
    };
    journal.enqueue(NewEvent::incident(IncidentOpened {
        incident_id: id.to_owned(),
        runbook_id: "token-leak".to_owned(),
        runbook_title: "Leaked OAuth tokens".to_owned(),
        runbook_sha256,
        runbook_path: runbook.map(|p| std::fs::canonicalize(&p).unwrap_or(p).display().to_string()),
        inputs: serde_json::Map::from_iter([(
            "auth_url".to_owned(),
            json!("http://127.0.0.1:9300"),
        )]),
        responder: Some("alice".to_owned()),
        ..IncidentOpened::default()
    }))?;
    Ok(())
}
