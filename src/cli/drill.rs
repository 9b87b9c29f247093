//! `stanch drill [RUNBOOK] [--scenario FILE] [--speed N] [--auto] [--es-version V]
//! [--security off|on]`: a drill against the built-in lab, modelling the scenario's `[lab]`
//! profile unless the flags say otherwise.
//!
//! ```text
//!  scenario ──load──▶ lab::Lab::start ──resolve inputs/secrets──▶ DRILL incident
//!      (facts + marks journalled) ──▶ --auto: headless run_all │ default: the TUI with the
//!      lab panel and injects ──▶ score (live lab checks) ──▶ `drill.score` event + printout
//! ```
//!
//! Everything is torn down with the drill: the lab is in-process and stops when this returns.
//!
//! Team drills (`--team URL`): `--facilitate --teams red,blue` runs an exercise as its
//! facilitator, one lab and one incident per team (`facilitate.rs`, commands in `console.rs`,
//! what it waits on in `feeds.rs`); `--score EXERCISE` prints its teams side by side
//! (`board.rs`). Both reuse this file's loading, inputs,
//! facts and index, so a team's incident opens exactly as a single drill's does.
//!
//! A player's side (`--team URL` without `--facilitate`): the DRILL incident is on the shared
//! chain: created (this player commands it) or, with `--incident ID` of an existing one,
//! joined as a player (its opener journalled the facts; injects come from the facilitator,
//! not from this terminal).

mod board;
mod console;
mod facilitate;
mod feeds;
mod run;

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{Context as _, bail};
use jiff::Timestamp;

use crate::journal::NewEvent;
use crate::journal::payload::{DrillScore, Fact, Mark};
use crate::lab::scenario::{self, Resolved};
use crate::lab::state::EXPOSED_INDEX;
use crate::lab::{Lab, LabOptions, score};
use crate::runbook::Loaded;
use crate::store::{self, Opened};

/// The reference scenario, relative to the repository (or the current directory).
pub const DEFAULT_SCENARIO: &str = "runbooks/drills/reference-2019.toml";

/// `--auto` runs in CI: snapshots finish at once so the run is not paced by the lab's clock.
const AUTO_SNAPSHOT_DURATION: Duration = Duration::ZERO;

/// Everything a drill runs with besides its incident (which the TUI takes by value).
pub struct Drill {
    pub lab: Lab,
    pub scenario: scenario::Loaded,
    pub runbook: Loaded,
    pub resolved: Resolved,
}

/// The bundled drills (the reference scenario, one per profile, the injects), compiled in so
/// that an installed binary can drill anywhere: (path relative to the repository, contents).
const BUNDLED: &[(&str, &str)] = &[
    (
        DEFAULT_SCENARIO,
        include_str!("../../runbooks/drills/reference-2019.toml"),
    ),
    (
        "runbooks/drills/es-7.10-security-on.toml",
        include_str!("../../runbooks/drills/es-7.10-security-on.toml"),
    ),
    (
        "runbooks/drills/es-8-security-on.toml",
        include_str!("../../runbooks/drills/es-8-security-on.toml"),
    ),
    (
        "runbooks/drills/path-repo-empty.toml",
        include_str!("../../runbooks/drills/path-repo-empty.toml"),
    ),
    (
        "runbooks/drills/reopened-index.toml",
        include_str!("../../runbooks/drills/reopened-index.toml"),
    ),
    (
        "runbooks/elasticsearch-exposure.toml",
        include_str!("../../runbooks/elasticsearch-exposure.toml"),
    ),
    (
        "runbooks/drafts/forum-post.md.j2",
        include_str!("../../runbooks/drafts/forum-post.md.j2"),
    ),
    (
        "runbooks/drafts/gdpr-art33-authority.md.j2",
        include_str!("../../runbooks/drafts/gdpr-art33-authority.md.j2"),
    ),
    (
        "runbooks/drafts/gdpr-art34-people.md.j2",
        include_str!("../../runbooks/drafts/gdpr-art34-people.md.j2"),
    ),
    (
        "runbooks/drafts/us-consumer-notice.md.j2",
        include_str!("../../runbooks/drafts/us-consumer-notice.md.j2"),
    ),
];

/// The scenario to use: the flag, else the bundled one from the current directory or the
/// source tree this binary was built from, else the compiled-in copy written under the data
/// dir (`bundled/`, rewritten each time so it matches this binary).
fn scenario_path(flag: Option<&Path>) -> anyhow::Result<PathBuf> {
    if let Some(path) = flag {
        return Ok(path.to_path_buf());
    }
    for root in [Path::new("."), Path::new(env!("CARGO_MANIFEST_DIR"))] {
        if BUNDLED.iter().all(|(rel, _)| root.join(rel).is_file()) {
            return Ok(root.join(DEFAULT_SCENARIO));
        }
    }
    materialize(&crate::paths::data_dir()?.join("bundled"))
}

/// Write the compiled-in drill under `root`; the scenario's path.
fn materialize(root: &Path) -> anyhow::Result<PathBuf> {
    for (rel, text) in BUNDLED {
        let path = root.join(rel);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    Ok(root.join(DEFAULT_SCENARIO))
}

/// The scenario, its runbook and the lab options a drill runs with (flags over the scenario).
pub(crate) fn load(
    args: &super::DrillArgs,
) -> anyhow::Result<(scenario::Loaded, Loaded, LabOptions)> {
    if !(args.speed.is_finite() && args.speed > 0.0) {
        bail!("--speed must be a positive number, not {}", args.speed);
    }
    let scenario = scenario::load(&scenario_path(args.scenario.as_deref())?)?;
    let Some(runbook_path) = args.runbook.clone().or_else(|| scenario.runbook_path()) else {
        bail!(
            "scenario {} names no runbook: give one (`stanch drill RUNBOOK`)",
            scenario.path.display()
        );
    };
    let runbook = crate::runbook::load(&runbook_path)?;
    let mut options = scenario.lab_options(&LabOptions::default());
    if args.auto {
        options.snapshot_duration = AUTO_SNAPSHOT_DURATION;
    }
    if let Some(version) = args.es_version {
        options.profile.version = version;
    }
    if let Some(security) = args.security {
        options.profile.security = security;
    }
    Ok((scenario, runbook, options))
}

/// The lab's seed: the scenario's, else the flag's.
pub(crate) fn seed(args: &super::DrillArgs, scenario: &scenario::Loaded) -> u64 {
    scenario.scenario.scenario.seed.unwrap_or(args.seed)
}

/// Start the lab, load scenario and runbook, open the DRILL incident with the starting facts.
pub fn prepare(args: &super::DrillArgs) -> anyhow::Result<(Drill, Opened)> {
    let (scenario, runbook, options) = load(args)?;
    let lab =
        Lab::start_with(seed(args, &scenario), 0, &options).context("starting the drill lab")?;
    let resolved = scenario.resolve(&lab.template_context())?;
    let opened = open_incident(args, &scenario, &runbook, &resolved)?;
    Ok((
        Drill {
            lab,
            scenario,
            runbook,
            resolved,
        },
        opened,
    ))
}

/// The runbook's inputs for a drill: its defaults, under the scenario's values for the lab
/// (its URLs: this is how a drill's runbook targets its lab). Every input must have a value.
pub(crate) fn inputs(
    rb: &Loaded,
    resolved: &Resolved,
) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let mut inputs = serde_json::Map::new();
    for (name, input) in &rb.runbook.inputs {
        if let Some(default) = &input.default {
            inputs.insert(name.clone(), default.clone().into());
        }
    }
    for (name, value) in &resolved.inputs {
        inputs.insert(name.clone(), value.clone().into());
    }
    let missing: Vec<&String> = rb
        .runbook
        .inputs
        .keys()
        .filter(|k| !inputs.contains_key(*k))
        .collect();
    if !missing.is_empty() {
        bail!(
            "the scenario leaves runbook inputs without a value: {}",
            missing
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(inputs)
}

fn open_incident(
    args: &super::DrillArgs,
    scenario: &scenario::Loaded,
    rb: &Loaded,
    resolved: &Resolved,
) -> anyhow::Result<Opened> {
    let inputs = inputs(rb, resolved)?;
    let team = team(args)?;
    let secrets = crate::secret::Secrets::from_values(resolved.secrets.iter().cloned());
    if let (Some(team), Some(id)) = (&team, &args.incident)
        && team.has(id)?
    {
        // A player joining the team's drill incident: its opener journalled the facts.
        let opened = team.join(id)?;
        opened.journal.set_redactor(secrets.redactor());
        return Ok(opened);
    }
    let actor = match &team {
        Some(team) => team.login.clone(),
        None => super::run::default_responder(args.responder.as_deref()),
    };
    let opening = store::Opening {
        runbook: rb,
        inputs,
        responder: &actor,
        drill: Some((scenario.scenario.scenario.title.clone(), args.speed)),
    };
    let mut opened = match &team {
        Some(team) => team.create(args.incident.as_deref(), "DRILL", opening)?,
        None => store::create(args.incident.as_deref(), "DRILL", &actor, opening)?,
    };
    // From the first event on, the lab's secrets are scrubbed from anything journalled.
    opened.journal.set_redactor(secrets.redactor());
    for mut event in facts(scenario, now_ms()) {
        event.actor = scenario_actor(&opened);
        let written = opened.journal.append_blocking(event)?;
        opened.incident.apply(written);
    }
    Ok(opened)
}

/// `--team` of a drill, parsed (the responder is the login).
pub fn team(args: &super::DrillArgs) -> anyhow::Result<Option<super::team::open::Team>> {
    super::team::url(&args.team)
        .map(|url| super::team::open::Team::parse(&url, args.responder.as_deref()))
        .transpose()
}

/// Who the scenario's own events are recorded as: `scenario`; on a shared chain every event
/// is its login's (the database refuses anything else), so there they stay the responder's.
fn scenario_actor(opened: &Opened) -> Option<String> {
    opened
        .journal
        .shared_login()
        .is_none()
        .then(|| "scenario".to_owned())
}

/// Now, to the millisecond (the journal's precision).
pub(crate) fn now_ms() -> Timestamp {
    Timestamp::now()
        .round(jiff::Unit::Millisecond)
        .unwrap_or_else(|_| Timestamp::now())
}

/// The starting facts, each followed by the mark it carries, as of `start`.
pub(crate) fn facts(scenario: &scenario::Loaded, start: Timestamp) -> Vec<NewEvent> {
    let mut events = Vec::new();
    for fact in scenario.facts(start) {
        events.push(NewEvent::incident(Fact {
            text: fact.text.clone(),
            occurred_at: Some(fact.occurred_at),
        }));
        if let Some(mark) = fact.mark {
            events.push(NewEvent::incident(Mark {
                name: mark.clone(),
                at: Some(fact.occurred_at),
                corrects: None,
            }));
        }
    }
    events
}

/// The exposed index as the drill's inputs name it.
pub(crate) fn index(resolved: &Resolved, runbook: &Loaded) -> String {
    resolved
        .inputs
        .iter()
        .find(|(k, _)| k == "index")
        .map(|(_, v)| v.clone())
        .or_else(|| {
            runbook
                .runbook
                .inputs
                .get("index")
                .and_then(|i| i.default.clone())
        })
        .unwrap_or_else(|| EXPOSED_INDEX.to_owned())
}

/// Score a drill: live lab checks, the journal's marks against the reference; journal
/// `drill.score` on `opened` (the drill's incident, possibly reopened after the TUI).
pub fn finish(drill: &Drill, opened: &mut Opened) -> anyhow::Result<score::Score> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting a runtime for the lab checks")?;
    let checks = runtime.block_on(score::check_lab(
        &drill.lab,
        &index(&drill.resolved, &drill.runbook),
    ));
    // The TUI may have journalled marks since set-up: score what the journal says now.
    let incident = store::load_dir(&opened.dir)?;
    let result = score::score(
        &drill.scenario.scenario.scenario.title,
        &incident,
        &drill.scenario.reference(),
        checks,
        drill.lab.status(),
    );
    let mut event = NewEvent::incident(DrillScore(serde_json::to_value(&result)?));
    event.actor = scenario_actor(opened);
    let written = opened.journal.append_blocking(event)?;
    opened.incident.apply(written);
    Ok(result)
}

pub fn run(args: &super::DrillArgs) -> anyhow::Result<ExitCode> {
    if let Some(exercise) = &args.score {
        return board::run(args, exercise);
    }
    if args.facilitate {
        return facilitate::run(args);
    }
    if args.auto {
        run::auto(args)
    } else {
        run::interactive(args)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_compiled_in_drill_is_a_valid_scenario_on_its_own() {
        let dir = tempfile::tempdir().unwrap();
        let path = materialize(dir.path()).unwrap();
        assert_eq!(scenario::check(&path).unwrap(), "");
        for (rel, _) in BUNDLED
            .iter()
            .filter(|(rel, _)| rel.starts_with("runbooks/drills/"))
        {
            assert_eq!(scenario::check(&dir.path().join(rel)).unwrap(), "", "{rel}");
        }
        let loaded = scenario::load(&path).unwrap();
        assert!(loaded.runbook_path().unwrap().starts_with(dir.path()));
    }
}
