//! Write a synthetic incident for the scale benchmarks with the journal's own writer (real
//! chain hashes, the same bytes `stanch` writes), so anyone can reproduce the figures:
//!
//! ```text
//! cargo run --release --example gen_incident -- DATA_DIR ID EVENTS ITEMS [RUNBOOK]
//! ```
//!
//! The incident `DATA_DIR/incidents/ID` holds exactly `EVENTS` events: `incident.opened`, a
//! `foreach` step revoking `ITEMS` tokens (one `http.request` and one `http.response` per
//! item, every 1,000th item answered 404), its `step.failed`, and notes for the rest. With
//! `RUNBOOK`, the incident names that runbook file (and its SHA-256), so `stanch resume ID`
//! can open it. Used by `bench/gen-incident.sh`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde_json::json;
use stanch::journal::payload::IncidentOpened;
use stanch::journal::{Journal, Kind, NewEvent};

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
    let (data, id, events, items, runbook) = match args.as_slice() {
        [data, id, events, items] => (data, id, events, items, None),
        [data, id, events, items, runbook] => (data, id, events, items, Some(runbook)),
        _ => bail!("usage: gen_incident DATA_DIR ID EVENTS ITEMS [RUNBOOK]"),
    };
    let (runbook_path, runbook_sha256) = match runbook {
        Some(path) => {
            let path = std::fs::canonicalize(path).with_context(|| format!("runbook {path}"))?;
            let source =
                std::fs::read(&path).with_context(|| format!("reading {}", path.display()))?;
            (
                Some(path.display().to_string()),
                stanch::journal::event::sha256_hex(&source),
            )
        }
        None => (
            None,
            stanch::journal::event::sha256_hex(b"synthetic runbook"),
        ),
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
    journal.enqueue(NewEvent::incident(IncidentOpened {
        incident_id: id.clone(),
        runbook_id: "token-leak".to_owned(),
        runbook_title: "Leaked OAuth tokens".to_owned(),
        runbook_sha256,
        runbook_path,
        inputs: serde_json::Map::from_iter([(
            "auth_url".to_owned(),
            json!("http://127.0.0.1:9300"),
        )]),
        responder: Some("alice".to_owned()),
        ..IncidentOpened::default()
    }))?;
    journal.enqueue(NewEvent::for_step(
        Kind::StepStarted,
        STEP,
        json!({"attempt": 1}),
    ))?;
    for item in 0..items {
        journal.enqueue(NewEvent::for_step(
            Kind::HttpRequest,
            STEP,
            json!({
                "method": "POST", "url": "http://127.0.0.1:9300/oauth/revoke",
                "headers": {"content-type": "application/x-www-form-urlencoded"},
                "body_sha256": stanch::journal::event::sha256_hex(&item.to_le_bytes()),
                "body_bytes": 96, "item": item,
            }),
        ))?;
        let status = if item % 1000 == 999 { 404 } else { 200 };
        journal.enqueue(NewEvent::for_step(
            Kind::HttpResponse,
            STEP,
            json!({"status": status, "elapsed_ms": 3, "bytes": 0, "item": item}),
        ))?;
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
    println!("{}", dir.join("journal.jsonl").display());
    Ok(())
}
