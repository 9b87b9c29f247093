//! `stanch run RUNBOOK` (interactive): load the runbook, ask the set-up form (inputs, secrets
//! not in the environment, responder), create the incident, hand it to the TUI. With
//! `--incident ID` naming an existing incident, resume it instead. With `--team`, the incident
//! is created on (or joined from) the shared chain and the responder is the database login.

use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, anyhow, bail};
use indexmap::IndexMap;

use crate::engine::{Engine, EngineOptions};
use crate::runbook::{self, Loaded};
use crate::secret::Secrets;
use crate::store;
use crate::tui;
use crate::tui::setup::SetupForm;

use super::team::open::Team;

/// ` --team URL` (password hidden) after a resume command, in team mode.
pub fn resume_hint(team: Option<&Team>) -> String {
    team.map(|t| format!(" --team {}", t.target))
        .unwrap_or_default()
}

pub fn run(args: &super::RunArgs) -> anyhow::Result<ExitCode> {
    if args.headless {
        return super::headless::run(args);
    }
    let rb = Arc::new(runbook::load(&args.runbook).map_err(|e| anyhow!("{e}"))?);
    let preset = parse_sets(&args.set, &rb)?;
    let team = super::team::url(&args.team)
        .map(|url| Team::parse(&url, args.responder.as_deref()))
        .transpose()?;
    if let Some(id) = &args.incident {
        if let Some(team) = &team {
            if team.has(id)? {
                return super::resume::open_and_run(id, args.responder.as_deref(), Some(team));
            }
        } else {
            match store::locate(id) {
                Ok(_) => return super::resume::open_and_run(id, args.responder.as_deref(), None),
                Err(store::StoreError::NotFound { .. }) => {}
                // A journal that is there but not an incident (or unreadable) is never replaced.
                Err(err) => return Err(err.into()),
            }
        }
    }
    let responder = match &team {
        Some(team) => team.login.clone(),
        None => default_responder(args.responder.as_deref()),
    };
    let missing = Secrets::missing(&rb);
    let form = SetupForm::new(&rb, &preset, &missing, &responder);
    // Everything given on the command line: no form to fill.
    let answers = if form.is_complete() && (args.responder.is_some() || team.is_some()) {
        form.answers()
    } else {
        let Some(answers) = tui::ask(form)? else {
            eprintln!("stanch: aborted; no incident was opened");
            return Ok(super::exit::code(super::exit::ABORTED));
        };
        answers
    };
    // In team mode the responder is the login, whatever the form says.
    let responder = if team.is_some() {
        responder
    } else {
        answers.responder.clone()
    };
    let opening = store::Opening {
        runbook: &rb,
        inputs: answers
            .inputs
            .iter()
            .map(|(k, v)| (k.clone(), v.clone().into()))
            .collect(),
        responder: &responder,
        drill: None,
    };
    let opened = match &team {
        Some(team) => team.create(args.incident.as_deref(), "INC", opening),
        None => {
            store::create(args.incident.as_deref(), "INC", &responder, opening).map_err(Into::into)
        }
    }
    .context("could not open the incident")?;
    let id = opened.id.clone();
    let secrets = load_secrets(&rb, answers.secrets)?;
    launch(rb, &opened, secrets, None)?;
    println!(
        "Incident {id} is saved. Resume it with: stanch resume {id}{}",
        resume_hint(team.as_ref())
    );
    Ok(super::exit::code(super::exit::SUCCESS))
}

/// Hand an open incident to the TUI; the engine is built off the UI thread so the first frame
/// does not wait for it (shared by `run` and `resume`).
pub fn launch(
    rb: Arc<Loaded>,
    opened: &store::Opened,
    secrets: Secrets,
    notice: Option<String>,
) -> anyhow::Result<()> {
    // Scrub secrets from everything journalled from now on, before the engine exists.
    opened.journal.set_redactor(secrets.redactor());
    let (engine_rb, journal) = (Arc::clone(&rb), opened.journal.clone());
    tui::run_deferred(
        rb,
        opened,
        move || Engine::new(engine_rb, journal, secrets, EngineOptions::default()),
        notice,
    )
}

/// Environment/file secrets, with the form's answers for the ones that were missing.
pub fn load_secrets(rb: &Loaded, answered: Vec<(String, String)>) -> anyhow::Result<Secrets> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let answered: IndexMap<String, String> = answered.into_iter().collect();
    Ok(Secrets::load(rb, &mut |name, _why| {
        answered.get(name).cloned()
    })?)
}

/// `--set k=v` pairs, checked against the runbook's inputs.
fn parse_sets(sets: &[String], rb: &Loaded) -> anyhow::Result<IndexMap<String, String>> {
    let mut out = IndexMap::new();
    for set in sets {
        let Some((key, value)) = set.split_once('=') else {
            bail!("--set {set}: write --set name=value");
        };
        if !rb.runbook.inputs.contains_key(key) {
            let known: Vec<&str> = rb.runbook.inputs.keys().map(String::as_str).collect();
            bail!(
                "--set {key}: the runbook has no such input (it has: {})",
                known.join(", ")
            );
        }
        out.insert(key.to_owned(), value.to_owned());
    }
    Ok(out)
}

/// `--responder`, else `responder` in config.toml, else `$USER`.
pub fn default_responder(given: Option<&str>) -> String {
    if let Some(name) = given.filter(|n| !n.trim().is_empty()) {
        return name.trim().to_owned();
    }
    let from_config = crate::paths::config_file()
        .ok()
        .and_then(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|table| table.get("responder")?.as_str().map(str::to_owned));
    from_config
        .or_else(|| std::env::var("USER").ok())
        .filter(|n| !n.trim().is_empty())
        .unwrap_or_else(|| "responder".to_owned())
}
