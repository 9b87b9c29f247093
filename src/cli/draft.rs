//! `stanch draft ID STEP`: render a draft step's document (the first time), open it in
//! `$EDITOR`, and journal the saved version when it changed. Needs the runbook the incident
//! was opened with, at the path `incident.opened` recorded. The incident is opened for its
//! state only (from the last checkpoint); the draft's timeline is streamed from the journal
//! when it is rendered (`draft::timeline::read`), so no event is held.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, bail};

use super::DraftArgs;
use crate::draft;

pub fn run(args: &DraftArgs) -> anyhow::Result<ExitCode> {
    let actor = std::env::var("USER")
        .ok()
        .filter(|u| !u.is_empty())
        .unwrap_or_else(|| "responder".to_owned());
    super::secure_and_warn(&args.id)?;
    // The state only (from the last checkpoint): the draft's timeline is streamed from the
    // journal when it is rendered, so no event is held here.
    let opened = crate::store::open_keeping(&args.id, &actor, crate::incident::Keep::State)?;
    let incident = &opened.incident;
    let Some(runbook_path) = incident.runbook_path.as_deref() else {
        bail!(
            "incident {} records no runbook path, so its draft templates cannot be found",
            args.id
        );
    };
    if !Path::new(runbook_path).exists() {
        bail!(
            "the runbook incident {} was opened with is no longer at {runbook_path}; put it back (SHA-256 {}) and run `stanch draft {} {}` again",
            args.id,
            incident.runbook_sha256,
            args.id,
            args.step
        );
    }
    let rb = crate::runbook::load(Path::new(runbook_path))
        .with_context(|| format!("loading the runbook {runbook_path}"))?;
    if rb.sha256 != incident.runbook_sha256 {
        eprintln!(
            "stanch: warning: {runbook_path} changed since incident {} opened; drafting with the current file",
            args.id
        );
    }
    let prepared = draft::prepare(&rb, &args.step, incident, &opened.journal, &opened.dir)?;
    let file = &prepared.file;
    draft::edit_in_editor(file)?;
    let step = rb
        .runbook
        .step(&args.step)
        .context("the draft step vanished from the runbook")?;
    let last = prepared.last_saved.as_deref();
    match draft::record(&opened.journal, &opened.dir, step, last)? {
        Some(event) => println!(
            "saved {} (journal seq {}, SHA-256 {})",
            file.display(),
            event.seq,
            draft::saved_sha256(&event).unwrap_or_default()
        ),
        None => println!("{} unchanged since its last saved version", file.display()),
    }
    Ok(crate::cli::exit::code(crate::cli::exit::SUCCESS))
}
