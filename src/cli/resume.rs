//! `stanch resume ID`: reopen an incident from its journal, flag steps a crash left without
//! an outcome (`step.interrupted`), ask for secrets that are not in the environment, and hand
//! it to the TUI exactly where it stood.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, anyhow};

use crate::journal::{Kind, NewEvent};
use crate::store;
use crate::tui;
use crate::tui::setup::SetupForm;

pub fn run(args: &super::ResumeArgs) -> anyhow::Result<ExitCode> {
    open_and_run(&args.id, None)
}

pub fn open_and_run(id: &str, responder: Option<&str>) -> anyhow::Result<ExitCode> {
    let responder = super::run::default_responder(responder);
    let mut opened = store::open(id, &responder).with_context(|| format!("cannot resume {id}"))?;
    let path = opened
        .incident
        .runbook_path
        .clone()
        .ok_or_else(|| anyhow!("{id}: the journal does not say which runbook it ran"))?;
    let rb = Arc::new(
        crate::runbook::load(std::path::Path::new(&path))
            .map_err(|e| anyhow!("{id}: cannot load its runbook: {e}"))?,
    );
    let mut notes = Vec::new();
    if rb.sha256 != opened.incident.runbook_sha256 {
        notes.push(format!("the runbook changed since {id} opened"));
    }
    let interrupted = mark_interrupted(&mut opened)?;
    if !interrupted.is_empty() {
        notes.push(format!(
            "interrupted, outcome unknown: {} (r re-runs, s skips)",
            interrupted.join(", ")
        ));
    }
    let missing: Vec<String> = rb
        .runbook
        .secrets
        .iter()
        .filter(|(_, spec)| {
            spec.prompt == Some(true)
                || spec
                    .env
                    .as_ref()
                    .is_some_and(|var| std::env::var_os(var).is_none_or(|v| v.is_empty()))
                    && spec.file.is_none()
        })
        .map(|(name, _)| name.clone())
        .collect();
    if !missing.is_empty() {
        let form = SetupForm::secrets_only(&rb.runbook.runbook.title, &missing, &responder);
        if tui::ask(form)?.is_none() {
            eprintln!("stanch: aborted; {id} is unchanged");
            return Ok(ExitCode::from(130));
        }
    }
    let runner = Arc::new(tui::engine_runner::EngineRunner::new(
        Arc::clone(&rb),
        opened.dir.clone(),
    ));
    let notice = (!notes.is_empty()).then(|| notes.join("; "));
    tui::run_with(runner, rb, &opened, None, notice)?;
    println!("Incident {id} is saved. Resume it with: stanch resume {id}");
    Ok(ExitCode::SUCCESS)
}

/// `step.interrupted` for each step started without an outcome (until `store::mark_interrupted`
/// is on main).
fn mark_interrupted(opened: &mut store::Opened) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::new();
    for (step, started_seq) in opened.incident.unfinished_steps() {
        let event = opened.journal.append_blocking(NewEvent::for_step(
            Kind::StepInterrupted,
            step.clone(),
            serde_json::json!({ "started_seq": started_seq }),
        ))?;
        opened.incident.apply(event);
        ids.push(step);
    }
    Ok(ids)
}
