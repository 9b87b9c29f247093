//! `stanch run RUNBOOK --headless [--yes]`: every step without the TUI, for automation, and the
//! printing [`run_all`] that `stanch drill --auto` shares. The scheduling itself is the
//! engine's ([`crate::engine::schedule`]); this module parses arguments and prints.
//!
//! Steps run in dependency order (file order among equals), one line each: state, duration,
//! short result. Destructive steps run only with `--yes` (journalled as `confirm` via "--yes");
//! manual and draft steps are journalled `step.pending` and listed for a human; steps left
//! interrupted by a crash are journalled `step.interrupted` and never re-sent. The exit code is
//! 0 only if every automatable step succeeded (or was skipped by its `when`). Every line is
//! redacted, then escaped for the terminal (`text::escape` per step line, `text::Escaping` for
//! the rest: a response cannot send control sequences, while stanch's own state colours pass);
//! nothing here reads a secret value. With `--team`, the incident is on the shared chain:
//! steps teammates hold are left to them (`held`) and steps needing them wait up to
//! `--team-wait` seconds for the teammate to finish.

pub use crate::engine::schedule::{HeadlessReport, LineState, StepLine, order};

use std::collections::HashMap;
use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::{Context as _, bail};

use crate::engine::schedule::{self, Emit};

use crate::engine::{Engine, EngineOptions};
use crate::runbook::{Loaded, Runbook};
use crate::secret::Secrets;
use crate::store::{self, Opened};
use crate::text::{Escaping, escape};

/// Resolve inputs: `--set` first, then defaults; every missing one is named.
pub fn inputs(
    rb: &Runbook,
    set: &[String],
) -> anyhow::Result<serde_json::Map<String, serde_json::Value>> {
    let mut given: HashMap<&str, &str> = HashMap::new();
    for pair in set {
        let Some((key, value)) = pair.split_once('=') else {
            bail!("--set `{pair}`: write it as KEY=VALUE");
        };
        if !rb.inputs.contains_key(key.trim()) {
            let known: Vec<&str> = rb.inputs.keys().map(String::as_str).collect();
            bail!(
                "--set {key}: the runbook has no input `{key}` (its inputs: {})",
                known.join(", ")
            );
        }
        given.insert(key.trim(), value);
    }
    let mut out = serde_json::Map::new();
    let mut missing = Vec::new();
    for (name, input) in &rb.inputs {
        match given
            .get(name.as_str())
            .copied()
            .or(input.default.as_deref())
        {
            Some(value) => {
                out.insert(name.clone(), value.into());
            }
            None => missing.push(format!("  --set {name}=…   ({})", input.prompt)),
        }
    }
    if !missing.is_empty() {
        bail!(
            "headless runs cannot ask for inputs; these have no default:\n{}",
            missing.join("\n")
        );
    }
    Ok(out)
}

/// Open the incident named by `--incident` if it exists, else create one (on the shared
/// chain in team mode).
fn open_or_create(args: &super::RunArgs, rb: &Loaded, actor: &str) -> anyhow::Result<Opened> {
    if let Some(url) = super::team::url(&args.team) {
        let team = super::team::open::Team::parse(&url, args.responder.as_deref())?;
        if let Some(id) = &args.incident
            && team.has(id)?
        {
            return team.join(id);
        }
        let inputs = inputs(&rb.runbook, &args.set)?;
        return team.create(
            args.incident.as_deref(),
            "INC",
            store::Opening {
                runbook: rb,
                inputs,
                responder: &team.login,
                drill: None,
            },
        );
    }
    if let Some(id) = &args.incident
        && crate::paths::incident_dir(id)?
            .join(crate::journal::writer::JOURNAL_FILE)
            .exists()
    {
        super::secure_and_warn(id)?;
        // Nothing here shows a timeline: state only, however long the journal.
        let opened = store::open_keeping(id, actor, crate::incident::Keep::State)?;
        if let Some(notice) = &opened.notice {
            eprintln!("stanch: {id}: {notice}");
        }
        return Ok(opened);
    }
    let inputs = inputs(&rb.runbook, &args.set)?;
    Ok(store::create(
        args.incident.as_deref(),
        "INC",
        actor,
        store::Opening {
            runbook: rb,
            inputs,
            responder: actor,
            drill: None,
        },
    )?)
}

/// `stanch run RUNBOOK --headless`.
pub fn run(args: &super::RunArgs) -> anyhow::Result<ExitCode> {
    let rb = crate::runbook::load(&args.runbook)?;
    let actor = super::run::default_responder(args.responder.as_deref());
    let secrets = Secrets::load_noninteractive(&rb);
    // Responses, captures and errors are outside text: everything printed is escaped.
    let mut stderr = Escaping::new(std::io::stderr());
    for (name, why) in secrets.unavailable_all() {
        writeln!(stderr, "warning: secret `{name}` unavailable: {why}")?;
    }
    let mut opened = open_or_create(args, &rb, &actor)?;
    // Team mode: teammates' events (and own) arrive on the session's feed.
    let mut team = opened.journal.take_news().map(|feed_rx| {
        schedule::Teammates::new(
            feed_rx,
            opened.journal.actor().to_owned(),
            std::time::Duration::from_secs(args.team_wait),
        )
    });
    let rb = Arc::new(rb);
    // One thread: the steps run inside `block_on`, on this thread. With worker threads, the
    // workers drove the sockets and woke this thread for every readiness event (a futex
    // wake-up and a context switch per request of a foreach); here one thread drives both.
    // The journal's writer thread still hashes, writes and syncs in parallel.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let _enter = runtime.enter();
    let engine = Engine::new(
        rb,
        opened.journal.clone(),
        secrets,
        EngineOptions::default(),
    )?;
    // `run --headless | head`: the run goes on to its verdict whoever stops reading.
    let mut stdout = Escaping::new(super::exit::QuietPipe::new(std::io::stdout().lock()));
    writeln!(
        stdout,
        "incident {} · runbook {} · journal {}",
        opened.id,
        engine.runbook().runbook.id(),
        opened
            .dir
            .join(crate::journal::writer::JOURNAL_FILE)
            .display()
    )?;
    tracing::info!(incident = %opened.id, "headless run started");
    stdout.flush()?;
    // Step lines carry stanch's colours: written underneath, outside text escaped per line.
    let out = stdout.get_mut();
    let report = runtime.block_on(run_all_async_team(
        &engine,
        &mut opened,
        out,
        args.yes,
        team.as_mut(),
    ))?;
    if let Some(team) = team.as_mut() {
        runtime.block_on(settle_offline(team, &mut opened, out, args.team_wait))?;
    }
    let ok = report.all_ok();
    writeln!(
        out,
        "{}: {} ok, {} failed, {} need a human, {} interrupted, {} blocked",
        if ok {
            super::color::paint("done", super::color::Tone::Good)
        } else {
            super::color::paint("NOT DONE", super::color::Tone::Bad)
        },
        report.count(LineState::Succeeded)
            + report.count(LineState::Skipped)
            + report.count(LineState::AlreadyDone),
        report.count(LineState::Failed)
            + report.count(LineState::NeedsConfirmation)
            + report.count(LineState::Cancelled),
        report.count(LineState::NeedsHuman),
        report.count(LineState::Interrupted),
        report.count(LineState::Blocked),
    )?;
    out.flush()?;
    tracing::info!(incident = %opened.id, ok, "headless run finished");
    Ok(super::exit::verdict(ok))
}

/// Run every step (blocking), printing as [`run_all_async`]. Works from plain threads and from
/// inside a multi-thread runtime.
pub fn run_all(
    engine: &Engine,
    opened: &mut Opened,
    out: &mut dyn Write,
    assume_yes: bool,
) -> anyhow::Result<HeadlessReport> {
    let fut = run_all_async(engine, opened, out, assume_yes);
    if let Ok(handle) = tokio::runtime::Handle::try_current() {
        tokio::task::block_in_place(|| handle.block_on(fut))
    } else {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .context("cannot start the async runtime")?
            .block_on(fut)
    }
}

/// Run every step with the engine's scheduler ([`schedule::run_all`]) and print what it hands
/// back: one redacted line per step, then the steps left for a person.
pub async fn run_all_async(
    engine: &Engine,
    opened: &mut Opened,
    out: &mut dyn Write,
    assume_yes: bool,
) -> anyhow::Result<HeadlessReport> {
    run_all_async_team(engine, opened, out, assume_yes, None).await
}

/// [`run_all_async`] in team mode when `team` is given: steps teammates hold are left to them
/// and waited for ([`schedule::run_all_team`]).
pub async fn run_all_async_team(
    engine: &Engine,
    opened: &mut Opened,
    out: &mut dyn Write,
    assume_yes: bool,
    team: Option<&mut schedule::Teammates>,
) -> anyhow::Result<HeadlessReport> {
    let mut emit = |emitted: Emit<'_>| match emitted {
        Emit::Warning(text) => writeln!(out, "warning: {}", escape(text)),
        Emit::Line(line) => print_line(engine, out, line),
    };
    let report = schedule::run_all_team(engine, opened, assume_yes, team, &mut emit).await?;
    let pending: Vec<&str> = report
        .lines
        .iter()
        .filter(|l| l.state == LineState::NeedsHuman)
        .map(|l| l.step.as_str())
        .collect();
    if !pending.is_empty() {
        writeln!(
            out,
            "for a human: {} (open the incident in the TUI: stanch resume {})",
            escape(&pending.join(", ")),
            escape(&opened.id)
        )?;
    }
    Ok(report)
}

/// `ok          close-index                   0.31s  200 · …`, redacted.
/// The state word padded to its column, in its colour when `--color` says so.
fn painted(state: LineState) -> String {
    use super::color::{Tone, paint};
    let tone = match state {
        LineState::Succeeded | LineState::AlreadyDone => Tone::Good,
        LineState::Skipped | LineState::Cancelled => Tone::Quiet,
        LineState::NeedsHuman
        | LineState::NeedsConfirmation
        | LineState::Blocked
        | LineState::Held => Tone::Attention,
        LineState::Failed | LineState::Interrupted => Tone::Bad,
    };
    paint(&format!("{:<11}", state.label()), tone)
}

fn print_line(engine: &Engine, out: &mut dyn Write, line: &StepLine) -> std::io::Result<()> {
    let dur = line
        .duration_ms
        .map(|ms| format!("{}.{:02}s", ms / 1000, (ms % 1000) / 10))
        .unwrap_or_default();
    // The state word is stanch's own text, painted after the rest is redacted.
    let text = format!("{:<28} {:>7}  {}", line.step, dur, line.detail);
    writeln!(
        out,
        "{} {}",
        painted(line.state),
        escape(&engine.redactor().redact(&text))
    )?;
    // The log gets ids, states and durations only: never bodies, headers or details. Steps
    // that did not go through are logged at `warn`; the rest at `debug`
    // (`STANCH_LOG=stanch=debug`): stdout and the journal already have every step, and a log
    // line each kept the log thread busy on a 2-core machine.
    if line.state.is_ok() {
        tracing::debug!(
            step = line.step,
            state = line.state.label(),
            duration_ms = line.duration_ms,
            "step"
        );
    } else {
        tracing::warn!(
            step = line.step,
            state = line.state.label(),
            duration_ms = line.duration_ms,
            "step"
        );
    }
    Ok(())
}

/// Team mode, after the run: own events still on the pending sub-chain (the link went down)
/// wait up to `wait_s` for the link and their merge; say what happened, and the merge's
/// conflicts (for the commander) or failure.
async fn settle_offline(
    team: &mut schedule::Teammates,
    opened: &mut crate::store::Opened,
    out: &mut impl Write,
    wait_s: u64,
) -> anyhow::Result<()> {
    let pending = opened.journal.pending_count();
    if pending > 0 {
        writeln!(
            out,
            "offline — {pending} pending: waiting up to {wait_s}s for the team link to merge them"
        )?;
        out.flush()?;
    }
    let journal = opened.journal.clone();
    let left = team.settle(&mut opened.incident, &journal).await?;
    for notice in &team.notices {
        writeln!(out, "{notice}")?;
    }
    if pending > 0 && left == 0 {
        writeln!(
            out,
            "merged: {pending} pending events are on the shared chain"
        )?;
    } else if left > 0 {
        writeln!(
            out,
            "offline — {left} pending: kept in {}, merged when stanch next has the team link",
            opened
                .dir
                .join(crate::team::pending::PENDING_FILE)
                .display()
        )?;
    }
    Ok(())
}
