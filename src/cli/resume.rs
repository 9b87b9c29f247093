//! `stanch resume ID`: reopen an incident from its journal, flag steps a crash left without
//! an outcome (`step.interrupted`), ask for secrets that are not in the environment, and hand
//! it to the TUI exactly where it stood. With `--team`, join the incident on the shared chain
//! (a member's local mirror is caught up first) and follow teammates live.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, anyhow};

use crate::secret::Secrets;
use crate::store;
use crate::tui;
use crate::tui::setup::SetupForm;

use super::team::open::Team;

pub fn run(args: &super::ResumeArgs) -> anyhow::Result<ExitCode> {
    let team = super::team::url(&args.team)
        .map(|url| Team::parse(&url, args.responder.as_deref()))
        .transpose()?;
    open_and_run(&args.id, args.responder.as_deref(), team.as_ref())
}

/// Open `id` (from the shared chain with `team`) and hand it to the TUI.
pub fn open_and_run(
    id: &str,
    responder: Option<&str>,
    team: Option<&Team>,
) -> anyhow::Result<ExitCode> {
    let responder = team.map_or_else(
        || super::run::default_responder(responder),
        |t| t.login.clone(),
    );
    let opened = if let Some(team) = team {
        team.join(id)
    } else {
        super::secure_and_warn(id)?;
        // The state only: the TUI pages its timeline from disk, so no event folded on open
        // is kept (not even those of a full replay when there is no checkpoint).
        store::open_keeping(id, &responder, crate::incident::Keep::State).map_err(Into::into)
    };
    let mut opened = opened.with_context(|| format!("cannot resume {id}"))?;
    // A shared incident's fold keeps none either; this says so whatever opened it.
    opened.incident.drop_timeline();
    let path = opened
        .incident
        .runbook_path
        .clone()
        .ok_or_else(|| anyhow!("{id}: the journal does not say which runbook it ran"))?;
    let rb = Arc::new(
        crate::runbook::load(std::path::Path::new(&path))
            .map_err(|e| anyhow!("{id}: cannot load its runbook: {e}"))?,
    );
    let mut notes: Vec<String> = opened.notice.iter().cloned().collect();
    if rb.sha256 != opened.incident.runbook_sha256 {
        notes.push(format!("the runbook changed since {id} opened"));
    }
    let interrupted = store::mark_interrupted(&mut opened)?;
    if !interrupted.is_empty() {
        notes.push(format!(
            "interrupted, outcome unknown: {} (r re-runs, s skips)",
            interrupted
                .iter()
                .map(|(id, _)| id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    let missing = Secrets::missing(&rb);
    let mut answered = Vec::new();
    if !missing.is_empty() {
        let form = SetupForm::secrets_only(&rb.runbook.runbook.title, &missing, &responder);
        let Some(answers) = tui::ask(form)? else {
            eprintln!("stanch: aborted; {id} is unchanged");
            return Ok(super::exit::code(super::exit::ABORTED));
        };
        answered = answers.secrets;
    }
    let secrets = super::run::load_secrets(&rb, answered)?;
    let notice = (!notes.is_empty()).then(|| notes.join("; "));
    super::run::launch(rb, &opened, secrets, notice)?;
    println!(
        "Incident {id} is saved. Resume it with: stanch resume {id}{}",
        super::run::resume_hint(team)
    );
    Ok(super::exit::code(super::exit::SUCCESS))
}
