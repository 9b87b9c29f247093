//! `stanch team init|add|role`, and the `--team` hook of `list`, `verify` and `export`: sync the
//! local mirror of the shared chain, then let the command's usual code read it.
//!
//! The URL comes from `--team`, else `$STANCH_TEAM` (both through clap), else `url` under
//! `[team]` in config.toml. Without one, nothing here runs and nothing changes.

use std::io::{BufRead, Read, Write};
use std::process::ExitCode;

use anyhow::Context;

pub mod open;

use super::{TeamArgs, TeamCommand, TeamOpt};
use crate::journal::NewEvent;
use crate::journal::payload::RoleChanged;
use crate::secret::Redactor;
use crate::team::schema::{self, NewResponder};
use crate::team::{Chain, Mirror, Target, TeamError, chain, mirror};

pub fn run(args: TeamArgs) -> anyhow::Result<ExitCode> {
    match args.command {
        TeamCommand::Init { url } => init(&url),
        TeamCommand::Add {
            name,
            role,
            incident,
            password_stdin,
            team,
        } => {
            let url = url(&team).context(
                "team add needs the team database: --team URL, STANCH_TEAM or team.url in config.toml",
            )?;
            add(&url, &name, &role, incident.as_deref(), password_stdin)
        }
        TeamCommand::Role {
            incident,
            login,
            role,
            take_over,
            team,
        } => {
            let url = url(&team).context(
                "team role needs the team database: --team URL, STANCH_TEAM or team.url in config.toml",
            )?;
            change_role(&url, &incident, &login, &role, take_over)
        }
    }
}

/// `stanch team role`: one `role.changed` appended as this login; the database checks that
/// the commander does it (or that it is a take-over of command, with its reason).
fn change_role(
    url: &str,
    incident: &str,
    login: &str,
    role: &str,
    take_over: Option<String>,
) -> anyhow::Result<ExitCode> {
    let target = Target::parse(url)?;
    schema::check_login(login)?;
    if !schema::ROLES.contains(&role) {
        return Err(TeamError::BadRole(role.to_owned()).into());
    }
    let event = NewEvent::incident(RoleChanged {
        login: login.to_owned(),
        role: role.to_owned(),
        take_over: take_over.filter(|r| !r.trim().is_empty()),
    });
    let stored = runtime()?.block_on(async {
        let mut chain = Chain::open(&target, incident).await?;
        chain.append(vec![event], &Redactor::default()).await
    })?;
    let mut out = crate::text::Escaping::new(std::io::stdout().lock());
    for event in stored {
        writeln!(
            out,
            "{incident} seq {}: {}",
            event.seq,
            crate::incident::describe(&event)
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// The team URL, if team mode is on.
pub fn url(opt: &TeamOpt) -> Option<String> {
    if let Some(url) = opt.url.as_deref().filter(|u| !u.trim().is_empty()) {
        return Some(url.trim().to_owned());
    }
    crate::paths::config_file()
        .ok()
        .and_then(|path| std::fs::read_to_string(path).ok())
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|table| {
            table
                .get("team")?
                .get("url")?
                .as_str()
                .map(|u| u.trim().to_owned())
        })
        .filter(|u| !u.is_empty())
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")
}

fn init(url: &str) -> anyhow::Result<ExitCode> {
    let target = Target::parse(url)?;
    let done = runtime()?.block_on(async {
        let mut client = target.connect().await?;
        schema::migrate(&mut client, &target.to_string()).await
    })?;
    if done.from == done.to {
        println!(
            "team schema at {target} is up to date (version {})",
            done.to
        );
    } else {
        println!(
            "team schema at {target}: version {} → {}",
            done.from, done.to
        );
    }
    Ok(ExitCode::SUCCESS)
}

fn add(
    url: &str,
    name: &str,
    role: &str,
    incident: Option<&str>,
    password_stdin: bool,
) -> anyhow::Result<ExitCode> {
    let target = Target::parse(url)?;
    schema::check_login(name)?;
    let password = if password_stdin {
        let mut line = String::new();
        std::io::stdin()
            .lock()
            .read_line(&mut line)
            .context("reading the password from standard input")?;
        let line = line.trim_end_matches(['\r', '\n']).to_owned();
        anyhow::ensure!(!line.is_empty(), "--password-stdin: the password is empty");
        line
    } else {
        generate_password()?
    };
    let added = runtime()?.block_on(async {
        let mut client = target.connect().await?;
        schema::add_responder(
            &mut client,
            &NewResponder {
                login: name,
                role,
                incident,
                password: Some(&password),
            },
        )
        .await
    })?;
    let mut out = std::io::stdout().lock();
    let member = incident
        .map(|id| format!(", member of {id}"))
        .unwrap_or_default();
    if added.created_login {
        writeln!(out, "added login {name} as {role}{member}")?;
        if !password_stdin {
            writeln!(
                out,
                "password for {name} (shown once; hand it over privately): {password}"
            )?;
        }
    } else {
        writeln!(
            out,
            "login {name} exists (password unchanged); role {role}{member}"
        )?;
    }
    Ok(ExitCode::SUCCESS)
}

/// 144 random bits as URL-safe base64 (from the kernel's generator).
fn generate_password() -> anyhow::Result<String> {
    use base64::Engine as _;
    let mut bytes = [0u8; 18];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .context("reading /dev/urandom for a password")?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes))
}

/// Bring the local mirror of `id` up to date with the shared chain. A mirror open for writing
/// elsewhere on this machine (a live session keeps it current) is left to it, with a note.
pub fn sync_incident(url: &str, id: &str) -> anyhow::Result<()> {
    let target = Target::parse(url)?;
    let dir = crate::paths::incident_dir(id)?;
    runtime()?.block_on(async {
        let client = target.connect().await?;
        // Row-level security hides what is not yours: never start an empty local copy of an
        // incident the server will not show.
        if !chain::incidents(&client).await?.iter().any(|i| i == id) {
            anyhow::bail!(
                "no incident `{id}` on the team database {target} that {} is a member of",
                target.user()
            );
        }
        sync_one(client, &target, id, &dir).await.map(drop)
    })
}

/// Sync every incident this login is a member of; returns their ids.
pub fn sync_all(url: &str) -> anyhow::Result<Vec<String>> {
    let target = Target::parse(url)?;
    runtime()?.block_on(async {
        let mut client = target.connect().await?;
        let ids = chain::incidents(&client).await?;
        for id in &ids {
            let dir = crate::paths::incident_dir(id)?;
            client = sync_one(client, &target, id, &dir).await?;
        }
        Ok(ids)
    })
}

async fn sync_one(
    client: tokio_postgres::Client,
    target: &Target,
    id: &str,
    dir: &std::path::Path,
) -> anyhow::Result<tokio_postgres::Client> {
    let chain = Chain::with_client(client, id).await?;
    match Mirror::open(dir, target.user()) {
        Ok(mut local) => {
            mirror::sync(&chain, &mut local, |_| {})
                .await
                .with_context(|| format!("syncing {id} from {target}"))?;
        }
        Err(e @ TeamError::MirrorInUse { .. }) => eprintln!("stanch: {e}"),
        Err(e) => return Err(e.into()),
    }
    Ok(chain.into_client())
}
