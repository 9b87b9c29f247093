//! Opening an incident on the shared chain for `run`, `resume` and `drill` with `--team`:
//! create it (the caller becomes its commander) or join it by id, then hand back a
//! [`store::Opened`] whose journal is the team session, so the TUI and the headless runner
//! work on it exactly as on a local file.
//!
//! ```text
//! create: INSERT stanch.incident (the id; -2, -3… when a default id is taken) ─▶ session
//!         (mirror under <data>/incidents/<id>, caught up, followed) ─▶ incident.opened
//! join:   member of it? ─▶ session (the mirror folded as it is opened) ─▶ first event incident.opened
//! ```
//!
//! The session folds the mirror as it opens and catches it up (`Session::open_folded`: the
//! journal's own checks, state only, no event kept), so opening a shared incident of millions
//! of events reads it once and holds its state, not its events (the TUI pages its timeline
//! from disk; the headless runner keeps none). Only the first line is read again, for its kind.
//!
//! In team mode the responder is the database login: every event is recorded as it, and a
//! `--responder` that says otherwise is refused rather than ignored.

use std::path::Path;

use anyhow::{Context as _, bail};

use crate::journal::{Event, Journal, Kind, NewEvent};
use crate::store::{self, Opened, Opening};
use crate::team::follow::Pace;
use crate::team::{Session, Target, chain};

/// Where and as whom: the parsed team URL and the login it connects as.
pub struct Team {
    pub target: Target,
    pub login: String,
}

impl Team {
    pub fn parse(url: &str, responder: Option<&str>) -> anyhow::Result<Self> {
        let target = Target::parse(url)?;
        let login = target.user().to_owned();
        if let Some(name) = responder.map(str::trim).filter(|n| !n.is_empty())
            && name != login
        {
            bail!(
                "--responder {name}: in team mode you are your database login `{login}` (every event is recorded as it)"
            );
        }
        Ok(Self { target, login })
    }

    /// Whether `id` is an opened incident on the server (it has its first event) that this
    /// login is a member of: one to join rather than to open.
    pub fn has(&self, id: &str) -> anyhow::Result<bool> {
        let target = self.target.clone();
        super::runtime()?.block_on(async move {
            let client = target.connect().await?;
            if !chain::incidents(&client).await?.iter().any(|i| i == id) {
                return Ok(false);
            }
            let opened: bool = client
                .query_one(
                    "SELECT EXISTS (SELECT 1 FROM stanch.event WHERE incident_id = $1 AND seq = 1)",
                    &[&id],
                )
                .await
                .map_err(crate::team::TeamError::db(format!("looking up {id}")))?
                .get(0);
            Ok(opened)
        })
    }

    /// Create the incident on the server (this login commands it), open it and write
    /// `incident.opened`. With no id, `<prefix>-<UTC yyyymmdd-hhmm>`, suffixed until free.
    /// An id the admin made already (`team add --incident`) with no events yet is opened
    /// here the same way.
    pub fn create(
        &self,
        id: Option<&str>,
        prefix: &str,
        opening: Opening<'_>,
    ) -> anyhow::Result<Opened> {
        let id = self.claim_id(id, prefix)?;
        let opened = self.join_new(&id)?;
        if opened.incident.last_seq == 0 {
            let event = opened
                .journal
                .append_blocking(NewEvent::incident(opening.payload(id.clone())))
                .with_context(|| format!("opening {id} on the team database"))?;
            let mut opened = opened;
            if event.seq == opened.incident.last_seq + 1 {
                opened.incident.apply(event);
            }
            return Ok(opened);
        }
        Ok(opened)
    }

    /// Join an incident the login is a member of.
    pub fn join(&self, id: &str) -> anyhow::Result<Opened> {
        if !self.has(id)? {
            bail!(
                "no opened incident `{id}` on the team database {} that {} is a member of (the admin adds you: stanch team add {} --role ROLE --incident {id}; an incident nobody opened yet is opened with `stanch run RUNBOOK --team URL --incident {id}`)",
                self.target,
                self.login,
                self.login
            );
        }
        let (opened, first) = self.open_mirror(id)?;
        match first {
            Some(Kind::IncidentOpened) => Ok(opened),
            Some(kind) => bail!("{id}: the shared journal starts with {kind}, not incident.opened"),
            None => bail!(
                "{id} has no events yet: its opener has not written incident.opened (try again in a moment)"
            ),
        }
    }

    fn join_new(&self, id: &str) -> anyhow::Result<Opened> {
        Ok(self.open_mirror(id)?.0)
    }

    /// The session on `id` and its incident folded from the mirror, with the kind of the
    /// mirror's first event (`None` when it has none yet).
    fn open_mirror(&self, id: &str) -> anyhow::Result<(Opened, Option<Kind>)> {
        store::secure(id)?;
        let dir = crate::paths::incident_dir(id)?;
        crate::private::ensure_dir(&dir)
            .with_context(|| format!("creating the local mirror {}", dir.display()))?;
        // The mirror is read once: the session folds the incident as it opens it.
        let (session, incident) = Session::open_folded(&self.target, id, &dir, Pace::default())
            .with_context(|| format!("joining {id} on the team database {}", self.target))?;
        let journal = Journal::shared(session);
        let first = first_kind(&dir)
            .with_context(|| format!("reading the local mirror {}", dir.display()))?;
        let opened = Opened {
            id: id.to_owned(),
            dir,
            journal,
            incident,
            // Checkpoints are the file journal's: a shared incident's mirror is replayed.
            checkpoints: None,
            notice: None,
        };
        Ok((opened, first))
    }

    /// Insert the incident row: the given id (which may exist already: then it is joined if
    /// this login is a member), or the first free default id.
    fn claim_id(&self, id: Option<&str>, prefix: &str) -> anyhow::Result<String> {
        let target = self.target.clone();
        let wanted = id.map(str::to_owned);
        let prefix = prefix.to_owned();
        super::runtime()?.block_on(async move {
            let client = target.connect().await?;
            let insert = |id: String| {
                let client = &client;
                async move {
                    crate::team::schema::check_incident(&id)?;
                    let inserted = client
                        .execute(
                            "INSERT INTO stanch.incident (id) VALUES ($1) ON CONFLICT DO NOTHING",
                            &[&id],
                        )
                        .await
                        .map_err(crate::team::TeamError::db(format!("creating incident {id}")))?;
                    Ok::<_, anyhow::Error>(inserted == 1)
                }
            };
            if let Some(id) = wanted {
                if insert(id.clone()).await?
                    || chain::incidents(&client).await?.contains(&id)
                {
                    return Ok(id);
                }
                bail!(
                    "incident `{id}` exists on the team database {target} and {} is not a member of it",
                    target.user()
                );
            }
            let base = store::default_id(&prefix, jiff::Timestamp::now());
            let mut candidate = base.clone();
            let mut n = 2;
            loop {
                if insert(candidate.clone()).await? {
                    return Ok(candidate);
                }
                candidate = format!("{base}-{n}");
                n += 1;
            }
        })
    }
}

/// The kind of the mirror's first event, reading only its first line (`None` while the mirror
/// has no whole line yet). The session has verified the mirror's chain as it opened it.
fn first_kind(dir: &Path) -> std::io::Result<Option<Kind>> {
    use std::io::BufRead as _;
    let file = std::fs::File::open(dir.join(crate::journal::writer::JOURNAL_FILE))?;
    let mut line = Vec::new();
    std::io::BufReader::new(file).read_until(b'\n', &mut line)?;
    if line.last() != Some(&b'\n') {
        return Ok(None);
    }
    serde_json::from_slice::<Event>(&line)
        .map(|event| Some(event.kind))
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn the_first_kind_is_read_from_the_first_whole_line_only() {
        let tmp = tempfile::tempdir().unwrap();
        assert!(first_kind(tmp.path()).is_err(), "no mirror is an error");
        let journal = Journal::create(tmp.path(), "alice").unwrap();
        assert_eq!(first_kind(tmp.path()).unwrap(), None);
        journal
            .append_blocking(NewEvent::new(Kind::Note, json!({"text": "hi", "tags": []})))
            .unwrap();
        journal
            .append_blocking(NewEvent::new(
                Kind::IncidentOpened,
                json!({"incident_id": "T-1", "runbook_id": "r", "runbook_title": "R",
                       "runbook_sha256": "00", "inputs": {}}),
            ))
            .unwrap();
        assert_eq!(first_kind(tmp.path()).unwrap(), Some(Kind::Note));
        // A torn first line is not an event yet.
        let path = tmp.path().join(crate::journal::writer::JOURNAL_FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        let first = text.find('\n').unwrap();
        std::fs::write(&path, &text[..first]).unwrap();
        assert_eq!(first_kind(tmp.path()).unwrap(), None);
        std::fs::write(&path, "not json\n").unwrap();
        assert!(first_kind(tmp.path()).is_err());
    }
}
