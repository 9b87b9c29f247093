//! The terminal UI (`stanch run`, `stanch resume`, `stanch drill`): Elm-style.
//!
//! - [`app`]: the model ([`App`](app::App)); [`msg`]: the one message type;
//!   [`update`](update::update): every state change, pure; [`keymap`]: the key table that
//!   dispatch, the help overlay and the hint line are built from; [`dialog`]: one file per
//!   dialog (state, keys, drawing); [`effect`]: side effects as values plus the
//!   [`Runner`](effect::Runner) seam to the engine, speaking the engine's own types;
//!   [`error`]: the typed [`TuiError`](error::TuiError); [`engine_runner`]: the real runner,
//!   built in the background with readiness reported as a message; [`event_loop`]: executes
//!   effects and feeds messages back; [`feed`]: the Timeline's pager, owned by the loop;
//!   [`view`]: pure rendering, one widget per file;
//!   [`terminal`]: raw mode, restore on every exit; [`input`], [`timeparse`], [`setup`].
//!
//! Only this module imports ratatui and crossterm. It never writes to stdout/stderr while it
//! owns the screen: errors go to a dialog and the log. Rendering is a pure function of the
//! [`App`](app::App) with the clock injected.
//!
//! Front ends (`run`, `resume`, `drill`) call [`run`] with a [`Setup`] (runbook, opened
//! incident, engine, optional drill); a [`DrillSetup`] adds the lab panel and timed injects.

pub mod app;
pub mod dialog;
pub mod effect;
pub mod engine_runner;
pub mod error;
pub mod event_loop;
pub mod feed;
#[doc(hidden)]
pub mod fixture;
pub mod input;
pub mod keymap;
pub mod msg;
pub mod setup;
pub mod terminal;
pub mod timeparse;
pub mod update;
pub mod view;

use std::sync::Arc;
use std::time::Duration;

use jiff::Timestamp;

use crate::runbook::Loaded;
use crate::store::Opened;

/// What `run` needs: an opened incident and an engine ready to run its steps.
pub struct Setup {
    pub runbook: Arc<Loaded>,
    pub opened: Opened,
    pub engine: crate::engine::Engine,
    pub drill: Option<DrillSetup>,
}

/// Run the TUI on an opened incident until the responder quits (the contract entry point
/// for `stanch run`, `stanch resume` and `stanch drill`). Restores the terminal on every exit.
pub fn run(setup: Setup) -> anyhow::Result<()> {
    run_with_notice(setup, None)
}

/// [`run`], with a line to show in the hint bar at start (e.g. what resuming found).
pub fn run_with_notice(setup: Setup, notice: Option<String>) -> anyhow::Result<()> {
    let Setup {
        runbook,
        opened,
        engine,
        drill,
    } = setup;
    let runner = Arc::new(engine_runner::EngineRunner::new(
        engine,
        Arc::clone(&runbook),
        opened.journal.clone(),
        opened.dir.clone(),
    ));
    run_on(
        event_loop::Engine::Ready(runner),
        runbook,
        &opened,
        drill,
        notice,
    )
}

/// Like [`run_with_notice`], but the engine is built by `build` on another thread while the
/// first frame is drawn (what `stanch run` and `stanch resume` do).
pub fn run_deferred(
    runbook: Arc<Loaded>,
    opened: &Opened,
    build: impl FnOnce() -> Result<crate::engine::Engine, crate::engine::EngineError> + Send + 'static,
    notice: Option<String>,
) -> anyhow::Result<()> {
    let (rb, journal, dir) = (
        Arc::clone(&runbook),
        opened.journal.clone(),
        opened.dir.clone(),
    );
    let ready_rx = engine_runner::spawn(move || {
        build().map(|engine| engine_runner::EngineRunner::new(engine, rb, journal, dir))
    });
    let engine = event_loop::Engine::Starting {
        ready_rx,
        queued: Vec::new(),
    };
    run_on(engine, runbook, opened, None, notice)
}

/// Drill mode: the lab's status lines and the scenario's injects.
#[derive(Clone)]
pub struct DrillSetup {
    /// (label, value) status lines of the lab, refreshed on every tick.
    pub panel: Arc<dyn Fn() -> Vec<(String, String)> + Send + Sync>,
    pub injects: Vec<ScheduledInject>,
}

/// An inject of the scenario, due `after` the drill starts (already divided by `--speed`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScheduledInject {
    pub after: Duration,
    /// As the scenario writes it, e.g. "+14m".
    pub offset: String,
    pub title: String,
    pub body: String,
}

/// The wall clock to the millisecond: every time the TUI shows or journals comes from here
/// or from [`timeparse`], and people do not read nanoseconds.
pub fn now() -> Timestamp {
    timeparse::to_millisecond(Timestamp::now())
}

/// Whether the screen uses colour: what `--color` decided for this process (`always` beats
/// `NO_COLOR`, `never` turns colour off), else `NO_COLOR` set to anything non-empty turns
/// colours off (<https://no-color.org>).
pub fn color_enabled() -> bool {
    use colorchoice::ColorChoice;
    match ColorChoice::global() {
        ColorChoice::Always | ColorChoice::AlwaysAnsi => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

/// The model for an opened incident, as `run` starts it (tests build it the same way).
pub fn new_app(runbook: Arc<Loaded>, opened: &Opened, drill: bool) -> app::App {
    let mut incident = opened.incident.clone();
    // The Timeline view pages events from disk; the model keeps none.
    incident.drop_timeline();
    let mut app = app::App::new(runbook, incident, now());
    app.team_login = opened.journal.shared_login().map(str::to_owned);
    // An earlier run ended offline: its work shows (and counts) until the merge's copies come.
    app.overlay
        .resume(&mut app.incident, opened.journal.pending_at_open());
    app.tz = jiff::tz::TimeZone::system();
    app.color = color_enabled();
    if drill {
        app.drill = Some(app::Drill {
            panel: Vec::new(),
            show_panel: true,
        });
    }
    app
}

/// Run the TUI on an opened incident with any [`effect::Runner`] until the responder quits.
/// Restores the terminal on every exit path.
/// `notice` is shown in the hint line at start (e.g. what resuming found).
pub fn run_with(
    runner: Arc<dyn effect::Runner>,
    runbook: Arc<Loaded>,
    opened: &Opened,
    drill: Option<DrillSetup>,
    notice: Option<String>,
) -> anyhow::Result<()> {
    run_on(
        event_loop::Engine::Ready(runner),
        runbook,
        opened,
        drill,
        notice,
    )
}

fn run_on(
    engine: event_loop::Engine,
    runbook: Arc<Loaded>,
    opened: &Opened,
    drill: Option<DrillSetup>,
    notice: Option<String>,
) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let mut app = new_app(runbook, opened, drill.is_some());
    if matches!(engine, event_loop::Engine::Starting { .. }) {
        app.engine = app::EngineState::Starting;
    }
    app.flash = notice;
    let mut term = terminal::enter()?;
    if let Ok(size) = term.size() {
        app.size = (size.width, size.height);
    }
    let event_loop = event_loop::Loop::new(engine, opened.journal.clone(), drill);
    let result = runtime.block_on(event_loop.run(&mut term, &mut app));
    terminal::restore()?;
    result
}

/// Show the set-up form full screen and give the terminal back: `None` when aborted.
pub fn ask(form: setup::SetupForm) -> anyhow::Result<Option<setup::Answers>> {
    let mut term = terminal::enter()?;
    let answers = terminal::ask(&mut term, form, color_enabled());
    terminal::restore()?;
    Ok(answers?)
}
