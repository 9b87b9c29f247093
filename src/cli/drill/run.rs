//! Running a prepared drill: headless (`--auto`, every automatable step, exit non-zero on a
//! failure) or interactive (the TUI with the lab panel and the scenario's injects). Both end
//! with the score.

use std::io::Write;
use std::process::ExitCode;
use std::sync::Arc;

use anyhow::Context as _;

use super::{Drill, finish, prepare};
use crate::cli::headless;
use crate::engine::{Engine, EngineOptions};
use crate::secret::Secrets;
use crate::store::{self, Opened};
use crate::tui;

/// Build the engine for a drill: secrets come from the lab, through the scenario's mapping.
fn engine(drill: &Drill, opened: &Opened) -> anyhow::Result<Engine> {
    let secrets = Secrets::from_values(drill.resolved.secrets.iter().cloned());
    Ok(Engine::new(
        Arc::new(drill.runbook.clone()),
        opened.journal.clone(),
        secrets,
        EngineOptions::default(),
    )?)
}

fn header(out: &mut dyn Write, drill: &Drill, opened: &Opened) -> std::io::Result<()> {
    let urls = drill.lab.urls();
    writeln!(
        out,
        "DRILL {} · {} · runbook {}",
        opened.id,
        drill.scenario.scenario.scenario.title,
        drill.runbook.runbook.id()
    )?;
    writeln!(
        out,
        "lab: es {} · auth {} · comms {}",
        urls.es, urls.auth, urls.comms
    )
}

/// `stanch drill --auto`.
pub fn auto(args: &crate::cli::DrillArgs) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let entered = runtime.enter();
    let (drill, mut opened) = prepare(args)?;
    let engine = engine(&drill, &opened)?;
    // `drill --auto | head`: the drill runs to its verdict whoever stops reading; lab answers
    // and captures are outside text, escaped like every terminal output.
    let mut stdout =
        crate::text::Escaping::new(crate::cli::exit::QuietPipe::new(std::io::stdout().lock()));
    header(&mut stdout, &drill, &opened)?;
    stdout.flush()?;
    // Step lines carry stanch's colours: written underneath, outside text escaped per line.
    let mut team = opened.journal.take_news().map(|feed_rx| {
        crate::engine::schedule::Teammates::new(
            feed_rx,
            opened.journal.actor().to_owned(),
            std::time::Duration::from_mins(10),
        )
    });
    let report = runtime.block_on(headless::run_all_async_team(
        &engine,
        &mut opened,
        stdout.get_mut(),
        true,
        team.as_mut(),
    ))?;
    // The lab checks start their own runtime, which cannot nest inside this one.
    drop(entered);
    let score = finish(&drill, &mut opened)?;
    write!(stdout, "{}", score.render_text())?;
    let ok = report.all_ok();
    writeln!(
        stdout,
        "{}: journal {}",
        if ok { "drill passed" } else { "DRILL FAILED" },
        opened
            .dir
            .join(crate::journal::writer::JOURNAL_FILE)
            .display()
    )?;
    drill.lab.shutdown();
    Ok(crate::cli::exit::verdict(ok))
}

/// The scenario's injects, on the drill's clock (`--speed` divides scenario time).
fn scheduled_injects(drill: &Drill, speed: f64) -> Vec<tui::ScheduledInject> {
    drill
        .scenario
        .injects()
        .into_iter()
        .map(|i| tui::ScheduledInject {
            after: i.after.div_f64(speed),
            offset: i.offset,
            title: i.title,
            body: i.body,
        })
        .collect()
}

/// `stanch drill`: the TUI with the lab panel and the injects, then the score.
pub fn interactive(args: &crate::cli::DrillArgs) -> anyhow::Result<ExitCode> {
    let team = super::team(args)?;
    let (drill, opened) = prepare(args)?;
    let status = drill.lab.status_reader();
    let setup = tui::DrillSetup {
        panel: Arc::new(move || status().panel_lines()),
        // In a team drill the facilitator sends the injects.
        injects: if team.is_some() {
            Vec::new()
        } else {
            scheduled_injects(&drill, args.speed)
        },
    };
    let engine = engine(&drill, &opened)?;
    let (id, actor) = (opened.id.clone(), opened.journal.actor().to_owned());
    let notice = format!(
        "DRILL against the built-in lab · {} · speed ×{}",
        drill.scenario.scenario.scenario.title, args.speed
    );
    tui::run_with_notice(
        tui::Setup {
            runbook: Arc::new(drill.runbook.clone()),
            opened,
            engine,
            drill: Some(setup),
        },
        Some(notice),
    )?;
    // The TUI took the incident and released its lock on quit: reopen it for the score.
    let mut opened = match &team {
        Some(team) => team.join(&id)?,
        // For the score: the state, no events (`finish` reads the journal's state anew).
        None => store::open_keeping(&id, &actor, crate::incident::Keep::State)?,
    };
    let score = finish(&drill, &mut opened)?;
    // Lab answers and captures are outside text: escaped like every terminal output.
    let mut stdout = crate::text::Escaping::new(std::io::stdout().lock());
    header(&mut stdout, &drill, &opened)?;
    write!(stdout, "{}", score.render_text())?;
    writeln!(
        stdout,
        "Drill {id} is saved. Resume it with: stanch resume {id}; export it with: stanch export {id}"
    )?;
    drill.lab.shutdown();
    Ok(crate::cli::exit::code(crate::cli::exit::SUCCESS))
}
