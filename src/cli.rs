//! Command-line surface: the clap definitions and one file per command under `cli/`.
//! Commands are the edge of the program, so they may use `anyhow`; everything they call
//! returns typed errors.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand, ValueEnum};

mod check;
mod draft;
mod drill;
mod export;
pub mod headless;
mod lab;
mod list;
mod resume;
mod run;
mod verify;

/// stanch: stop the leak. A terminal runbook runner for data-exposure incidents.
#[derive(Debug, Parser)]
#[command(name = "stanch", version, about, long_about = None)]
pub struct Cli {
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
    /// List incidents in the data directory.
    List,
    /// Re-check an incident's journal hash chain and every evidence file.
    Verify(VerifyArgs),
    /// Export the post-mortem of an incident.
    Export(ExportArgs),
    /// Render a draft step's document and open it in $EDITOR; journal each saved version.
    Draft(DraftArgs),
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
    /// Responder name (default: config, then $USER).
    #[arg(long)]
    pub responder: Option<String>,
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
    /// Elasticsearch version the lab models, over the scenario's (7.4.2, 7.10.2, 8.15.0).
    #[arg(long)]
    pub es_version: Option<crate::lab::EsVersion>,
    /// Security mode the lab models (`off` or `on`), over the scenario's.
    #[arg(long)]
    pub security: Option<crate::lab::Security>,
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
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    Md,
    Html,
    Json,
}

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Incident id.
    pub id: String,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExportFormat::Md)]
    pub format: ExportFormat,
    /// Write to this file instead of standard output.
    #[arg(short = 'o', long = "output")]
    pub output: Option<PathBuf>,
}

#[derive(Debug, clap::Args)]
pub struct DraftArgs {
    /// Incident id.
    pub id: String,
    /// The draft step's id.
    pub step: String,
}

/// Run one command; the exit code is the command's verdict (e.g. `check` exits 1 on errors).
pub fn dispatch(cli: Cli) -> anyhow::Result<ExitCode> {
    // Every command logs to the file, none to the terminal (the TUI owns it). The guard
    // flushes the log when the command returns.
    let _log = init_logging();
    match cli.command {
        Command::Run(args) => run::run(&args),
        Command::Drill(args) => drill::run(&args),
        Command::Lab(args) => lab::run(&args),
        Command::Resume(args) => resume::run(&args),
        Command::Check(args) => check::run(&args),
        Command::List => list::run(),
        Command::Verify(args) => verify::run(&args),
        Command::Export(args) => export::run(&args),
        Command::Draft(args) => draft::run(&args),
    }
}

/// Log to `<data>/logs/stanch.log`, never to the terminal; `STANCH_LOG` sets the filter
/// (default `stanch=info`). Logging is best effort: without a writable data dir the command
/// still runs.
fn init_logging() -> Option<tracing_appender::non_blocking::WorkerGuard> {
    let dir = crate::paths::log_dir().ok()?;
    std::fs::create_dir_all(&dir).ok()?;
    // Buffered: the worker thread flushes whenever its queue runs dry, so a burst of lines (a
    // headless run logs one per step) is one write, not one each.
    let file = std::io::BufWriter::new(tracing_appender::rolling::never(dir, "stanch.log"));
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
    Some(guard)
}
