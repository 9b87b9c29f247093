//! Command-line surface: the clap definitions and one file per command under `cli/`.
//! Commands are the edge of the program, so they may use `anyhow`; everything they call
//! returns typed errors. Exit codes come from [`exit`] only; `--color` is decided once in
//! [`dispatch`] (see [`color`]).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod check;
pub mod color;
pub mod completions;
mod draft;
mod drill;
pub mod exit;
mod export;
pub mod headless;
mod lab;
mod list;
pub mod man;
pub mod new;
mod resume;
mod run;
mod team;
mod verify;

/// stanch: stop the leak. A terminal runbook runner for data-exposure incidents.
#[derive(Debug, Parser)]
#[command(name = "stanch", version, about, long_about = None, after_long_help = exit::HELP)]
pub struct Cli {
    /// When to colour output (diagnostics, headless lines); `NO_COLOR` turns `auto` off.
    #[arg(long, value_enum, global = true, default_value_t = color::When::Auto)]
    pub color: color::When,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Open (or resume) an incident from a runbook and start the terminal UI.
    Run(RunArgs),
    /// Run a drill against the built-in lab (default: the bundled runbook and reference scenario).
    Drill(DrillArgs),
    /// Start the drill lab alone and print its URLs and credentials.
    Lab(LabArgs),
    /// Reopen an incident from its journal.
    Resume(ResumeArgs),
    /// Parse and validate runbooks; exit 1 on any error.
    Check(CheckArgs),
    /// List incidents in the data directory (with --team, the team's, synced first).
    List(ListArgs),
    /// Re-check an incident's journal hash chain and every evidence file.
    Verify(VerifyArgs),
    /// Export the post-mortem of an incident.
    Export(ExportArgs),
    /// Render a draft step's document and open it in $EDITOR; journal each saved version.
    Draft(DraftArgs),
    /// Write a commented starter runbook that passes `check`.
    New(NewArgs),
    /// Print the shell completion script (bash, zsh, fish, powershell).
    Completions(CompletionsArgs),
    /// Print the man page (roff), or write one page per command into a directory.
    Man(ManArgs),
    /// Team mode: set up the shared journal in PostgreSQL and its responders.
    Team(TeamArgs),
}

/// Where the team's shared journal is; without it everything stays on this machine.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct TeamOpt {
    /// Team mode: the shared journal's PostgreSQL URL (else $STANCH_TEAM, else `url` under
    /// `[team]` in config.toml). The local copy is synced from it first; `run`, `resume` and
    /// `drill` write to it and follow teammates live.
    #[arg(
        long = "team",
        env = "STANCH_TEAM",
        hide_env_values = true,
        value_name = "URL"
    )]
    pub url: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub team: TeamOpt,
}

#[derive(Debug, clap::Args)]
pub struct TeamArgs {
    #[command(subcommand)]
    pub command: TeamCommand,
}

#[derive(Debug, Subcommand)]
pub enum TeamCommand {
    /// Create or migrate the team schema (idempotent; run as the database's admin).
    Init {
        /// The admin's PostgreSQL URL.
        url: String,
    },
    /// Add a responder: a database login in the responder group, with a role, optionally a
    /// member of an incident (created if new). Prints a new login's password once.
    Add {
        /// The login, which is the responder's name in the journal.
        name: String,
        /// commander, ops, comms, scribe, observer or facilitator.
        #[arg(long)]
        role: String,
        /// Make the responder a member of this incident.
        #[arg(long)]
        incident: Option<String>,
        /// Read a new login's password from standard input instead of generating one.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        team: TeamOpt,
    },
    /// Give a responder a role in an incident, journalled as `role.changed`: the commander
    /// does it (`commander` hands command over); anyone may take command themselves with
    /// `--take-over REASON`. Open terminals show it live.
    Role {
        /// The incident.
        incident: String,
        /// The responder (a login that is a member of the incident).
        login: String,
        /// commander, ops, comms, scribe, observer or facilitator.
        role: String,
        /// Take command yourself without a hand-over, for this reason (journalled).
        #[arg(long, value_name = "REASON")]
        take_over: Option<String>,
        #[command(flatten)]
        team: TeamOpt,
    },
}

#[derive(Debug, clap::Args)]
pub struct RunArgs {
    /// The runbook file (TOML).
    pub runbook: PathBuf,
    /// Incident id to open or resume (default: INC-<UTC yyyymmdd-hhmm>).
    #[arg(long)]
    pub incident: Option<String>,
    /// Answer an input up front: `--set index=customers`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub set: Vec<String>,
    /// Run every step without the TUI (for automation).
    #[arg(long)]
    pub headless: bool,
    /// Allow destructive steps in headless mode (recorded in the journal).
    #[arg(long)]
    pub yes: bool,
    /// Responder name (default: config, then $USER; in team mode, the database login).
    #[arg(long)]
    pub responder: Option<String>,
    #[command(flatten)]
    pub team: TeamOpt,
    /// Team mode, headless: how long (seconds) a step waits for a step it needs that a
    /// teammate holds, before it is reported blocked; and, at the end of a run whose link
    /// dropped, how long it waits for the link and the merge of its pending events.
    #[arg(long, value_name = "SECONDS", default_value_t = 600)]
    pub team_wait: u64,
}

#[derive(Debug, clap::Args)]
pub struct DrillArgs {
    /// Runbook to drill (default: the bundled Elasticsearch-exposure runbook).
    pub runbook: Option<PathBuf>,
    /// Scenario file (default: the reference scenario).
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Compress scenario time by this factor (injects arrive N times sooner).
    #[arg(long, default_value_t = 1.0)]
    pub speed: f64,
    /// Run every automatable step headless against the lab; exit non-zero on any failure.
    #[arg(long)]
    pub auto: bool,
    /// Incident id for the drill (default: DRILL-<UTC yyyymmdd-hhmm>).
    #[arg(long)]
    pub incident: Option<String>,
    /// Seed for the lab's synthetic data.
    #[arg(long, default_value_t = 2019)]
    pub seed: u64,
    /// Responder name (default: config, then $USER).
    #[arg(long)]
    pub responder: Option<String>,
    /// Elasticsearch version the lab models, over the scenario's (7.4.2, 7.10.2, 8.15.0).
    #[arg(long)]
    pub es_version: Option<crate::lab::EsVersion>,
    /// Security mode the lab models (`off` or `on`), over the scenario's.
    #[arg(long)]
    pub security: Option<crate::lab::Security>,
    #[command(flatten)]
    pub team: TeamOpt,
    /// Team drill: run the exercise as its facilitator (one lab and one incident per team of
    /// --teams; the scenario's injects on the clock; commands on standard input). --incident
    /// names the exercise (default EX-<UTC yyyymmdd-hhmm>).
    #[arg(long, requires = "teams", conflicts_with = "score")]
    pub facilitate: bool,
    /// Team drill: the teams, comma-separated (`red,blue`).
    #[arg(long, value_name = "LIST", requires = "facilitate")]
    pub teams: Option<String>,
    /// Team drill: print the exercise's teams side by side from their journalled scores.
    #[arg(long, value_name = "EXERCISE")]
    pub score: Option<String>,
    /// Format of the side-by-side score (--score).
    #[arg(long, value_enum, default_value_t = BoardFormat::Text, requires = "score")]
    pub format: BoardFormat,
}

/// How `stanch drill --score` prints the exercise's table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum BoardFormat {
    Text,
    Md,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct LabArgs {
    /// Port to listen on (127.0.0.1 only; 0 picks a free one).
    #[arg(long, default_value_t = 0)]
    pub port: u16,
    /// Seed for the synthetic customer records and tokens.
    #[arg(long, default_value_t = 2019)]
    pub seed: u64,
    /// Elasticsearch version the cluster reports and behaves as (7.4.2, 7.10.2, 8.15.0).
    #[arg(long, default_value = "7.4.2")]
    pub es_version: crate::lab::EsVersion,
    /// Whether the cluster authenticates (`off`: the reference case, anyone may do anything).
    #[arg(long, default_value = "off")]
    pub security: crate::lab::Security,
}

#[derive(Debug, clap::Args)]
pub struct ResumeArgs {
    /// Incident id.
    pub id: String,
    /// Responder name (default: config, then $USER; in team mode, the database login).
    #[arg(long)]
    pub responder: Option<String>,
    #[command(flatten)]
    pub team: TeamOpt,
}

#[derive(Debug, clap::Args)]
pub struct CheckArgs {
    /// Runbook files to check.
    #[arg(required = true)]
    pub files: Vec<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct VerifyArgs {
    /// Incident id.
    pub id: String,
    #[command(flatten)]
    pub team: TeamOpt,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Md,
    Html,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TimelineArg {
    Summary,
    Full,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Incident id.
    pub id: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExportFormat::Md)]
    pub format: ExportFormat,
    /// Markdown and HTML timeline: each foreach step's exchanges summarised in one line
    /// (summary), or one row per exchange (full). JSON always has every exchange.
    #[arg(long, value_enum, default_value_t = TimelineArg::Summary)]
    pub timeline: TimelineArg,
    /// Write to this file instead of standard output.
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
    #[command(flatten)]
    pub team: TeamOpt,
}

#[derive(Debug, clap::Args)]
pub struct DraftArgs {
    /// Incident id.
    pub id: String,
    /// The draft step's id.
    pub step: String,
}

#[derive(Debug, clap::Args)]
pub struct NewArgs {
    /// The runbook's id (letters, digits, '-' and '_'); also the default file name.
    pub name: String,
    /// Write here instead of `NAME.toml` (never over an existing file).
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: completions::Shell,
}

#[derive(Debug, clap::Args)]
pub struct ManArgs {
    /// Write `stanch.1` and one `stanch-<command>.1` per command into this directory instead
    /// of printing `stanch.1`.
    #[arg(long)]
    pub dir: Option<PathBuf>,
}

/// Run one command; the exit code is the command's verdict (see [`exit`]).
pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    color::apply(cli.color);
    // Every command that touches incidents logs to the file, none to the terminal (the TUI
    // owns it); the guard flushes the log when the command returns. Commands that only
    // print generated text (`new`, `completions`, `man`) leave the data dir alone.
    let generated = matches!(
        cli.command,
        Command::New(_) | Command::Completions(_) | Command::Man(_)
    );
    let _log = if generated { None } else { init_logging() };
    match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Drill(args) => drill::run(&args),
        Command::Lab(args) => lab::run(&args),
        Command::Resume(args) => resume::run(&args),
        Command::Check(args) => check::run(&args),
        Command::List(args) => list::run(&args),
        Command::Verify(args) => verify::run(&args),
        Command::Export(args) => export::run(&args),
        Command::Draft(args) => draft::run(&args),
        Command::New(args) => new::run(&args),
        Command::Completions(args) => completions::run(&args),
        Command::Man(args) => man::run(&args),
        Command::Team(args) => team::run(args),
    }
}

/// Make an existing incident private before a command outside the TUI opens it, and say on
/// stderr what was readable by others (`store::open` does the same silently, into the log).
fn secure_and_warn(id: &str) -> anyhow::Result<()> {
    for tightened in crate::store::secure(id)? {
        eprintln!("stanch: warning: {tightened}");
    }
    Ok(())
}

/// Log to `<data>/logs/stanch.log` (0600 in a 0700 dir, never through a link), never to the
/// terminal; `STANCH_LOG` sets the filter (default `stanch=info`). Logging is best effort:
/// without a writable data dir the command still runs. A data dir, log dir or log that was
/// readable by others is tightened and logged (every command passes here, so stderr stays for
/// what is about one incident: see `secure_and_warn`).
fn init_logging() -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let data = crate::paths::data_dir().ok()?;
    let dir = crate::paths::log_dir().ok()?;
    let mut tightened: Vec<crate::private::Tightened> = Vec::new();
    tightened.extend(crate::private::ensure_root(&data).ok()?);
    tightened.extend(crate::private::ensure_dir(&dir).ok()?);
    let (file, log) = crate::private::open_append_or_create(&dir.join("stanch.log")).ok()?;
    tightened.extend(log);
    // Buffered: the worker thread flushes whenever its queue runs dry, so a burst of lines (a
    // headless run logs one per step) is one write, not one each.
    let file = std::io::BufWriter::new(file);
    // 1,024 lines, not the default 128,000: the channel's slots are initialised up front, and
    // touching 4 MiB of them cost 2 ms of every command's start-up. Lines beyond it are dropped
    // (lossy), never blocking a step.
    let (writer, guard) = tracing_appender::non_blocking::NonBlockingBuilder::default()
        .buffered_lines_limit(1024)
        .finish(file);
    let subscriber = tracing_subscriber::fmt()
        .with_writer(writer)
        .with_ansi(false)
        .with_env_filter(
            tracing_subscriber::EnvFilter::try_from_env("STANCH_LOG")
                .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("stanch=info")),
        )
        .finish();
    tracing::subscriber::set_global_default(subscriber).ok()?;
    for t in &tightened {
        tracing::warn!("{t}");
    }
    Some(guard)
}
