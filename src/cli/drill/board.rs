//! `stanch drill --team URL --score EXERCISE [--format text|md|json]`: an exercise's teams
//! side by side, from the `drill.score` each team's incident holds (no lab needed: it runs
//! anywhere, later). Row-level security decides which teams a login sees: the facilitator all,
//! a player their own. The connection helpers the facilitator shares are here too.
//!
//! Each team's incident is folded batch by batch as its chain is read ([`exercise::fold`],
//! every link verified), keeping no events: the board needs the state and the score, so its memory does
//! not grow with a team's journal.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;

use crate::cli::BoardFormat;
use crate::lab::score;
use crate::lab::scoreboard::{Board, Row};
use crate::team::exercise;
use crate::team::{Chain, Target};

pub(super) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

pub(super) fn team_url(args: &crate::cli::DrillArgs) -> anyhow::Result<Target> {
    let url = crate::cli::team::url(&args.team).context(
        "a team drill needs the team database: --team URL, STANCH_TEAM or team.url in config.toml",
    )?;
    Ok(Target::parse(&url)?)
}

/// `stanch drill --team URL --score EXERCISE`: every team this login may read, side by side,
/// from the scores journalled in their incidents.
pub fn run(args: &crate::cli::DrillArgs, id: &str) -> anyhow::Result<ExitCode> {
    let target = team_url(args)?;
    let board = runtime()?.block_on(async {
        let client = target.connect().await?;
        let found = exercise::load(&client, id).await?;
        let mut rows = Vec::with_capacity(found.teams.len());
        for team in &found.teams {
            let chain = Chain::open(&target, &team.incident).await?;
            let incident = exercise::fold(&chain).await?;
            let scored = match &incident.score {
                Some(value) => Some(
                    serde_json::from_value::<score::Score>(value.clone()).with_context(|| {
                        format!("the drill.score journalled in {}", team.incident)
                    })?,
                ),
                None => None,
            };
            rows.push(Row::new(&team.team, &incident, scored));
        }
        anyhow::Ok(Board::new(&found.id, &found.scenario, rows))
    })?;
    let text = match args.format {
        BoardFormat::Text => board.render_text(),
        BoardFormat::Md => board.render_markdown(),
        BoardFormat::Json => board.to_json() + "\n",
    };
    let mut out = crate::text::Escaping::new(std::io::stdout().lock());
    out.write_all(text.as_bytes())?;
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}
