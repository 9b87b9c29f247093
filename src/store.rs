//! The incident store: incident directories under the data dir, their ids, and opening one.
//!
//! `create` writes `incident.opened` as the first event (in a staging directory renamed into
//! place, so no incident ever exists without it); `open` takes the writer lock and loads the
//! state from the last checkpoint plus the events after it, else replays what is there
//! (quarantining a torn tail, refusing a damaged journal: see [`Journal::open_from`]), and
//! writes checkpoints while the incident is open ([`checkpoint`]); `load` reads the state
//! without the lock; `list` summarises every incident. None of them reads a whole journal
//! when a trusted checkpoint is near its end: their cost is the tail (damage before the
//! checkpoint is `stanch verify`'s to find).
//!
//! Opening never decides anything for the responder: steps a crash left running stay
//! `Running` until a caller (TUI, headless runner) calls [`mark_interrupted`].
//!
//! A directory is an incident only if its journal's first event is `incident.opened`:
//! `open`, `load` and `locate` refuse anything else (an empty journal, one without its
//! opening event) before reading it for a report or writing to it. Incident files are
//! private (see [`crate::private`] for the modes): `create` makes them so, `open` tightens
//! looser ones and logs it; [`secure`] does the same and returns what it changed, for
//! commands that show it to the responder.

use std::io::{BufRead as _, BufReader, Read as _};
use std::path::{Path, PathBuf};

use jiff::Timestamp;

use crate::incident::{Incident, Keep, StepStatus};
use crate::journal::payload::{IncidentOpened, StepInterrupted};
use crate::journal::{Journal, JournalError, Kind, NewEvent};
use crate::paths::{self, PathsError};
use crate::private::{self, Tightened};
use crate::runbook::Loaded;
use checkpoint::{Cadence, Checkpointer};

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Paths(#[from] PathsError),
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("incident id `{0}` is not valid: use letters, digits, '-', '_' and '.' only")]
    BadId(String),
    #[error("no incident `{id}` in {dir}")]
    NotFound { id: String, dir: PathBuf },
    /// The journal does not start with `incident.opened`: never read as one, never written.
    #[error(
        "{path} is not an incident journal: {reason}; stanch will not use it (an incident's first event is `incident.opened`)"
    )]
    NotAnIncident { path: PathBuf, reason: String },
    #[error("cannot create the incident at {path}: {source}")]
    Create {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("cannot make {path} private: {source}")]
    Private {
        path: PathBuf,
        source: std::io::Error,
    },
}

pub mod checkpoint;

/// An incident open for writing.
pub struct Opened {
    pub id: String,
    pub dir: PathBuf,
    pub journal: Journal,
    /// The state, with the events folded by this open (those after the checkpoint).
    pub incident: Incident,
    /// Writes checkpoints while the incident is open, and one on close (when dropped).
    pub checkpoints: Option<Checkpointer>,
    /// Said once to the responder: why the last checkpoint was not used.
    pub notice: Option<String>,
}

/// `INC-20261128-0347` (or `DRILL-…`), from the UTC time.
pub fn default_id(prefix: &str, now: Timestamp) -> String {
    format!("{prefix}-{}", now.strftime("%Y%m%d-%H%M"))
}

/// Letters, digits, '-', '_' and '.', not starting with '.' (also the team database's rule).
pub fn check_id(id: &str) -> Result<(), StoreError> {
    let ok = !id.is_empty()
        && !id.starts_with('.')
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(StoreError::BadId(id.to_owned()))
    }
}

/// What an incident is opened with: [`create`] turns it into `incident.opened`, the same way
/// for every command (run, headless, drill).
pub struct Opening<'a> {
    pub runbook: &'a Loaded,
    /// Non-secret inputs as resolved.
    pub inputs: serde_json::Map<String, serde_json::Value>,
    pub responder: &'a str,
    /// Drills: the scenario's title and the time compression factor.
    pub drill: Option<(String, f64)>,
}

impl Opening<'_> {
    /// `incident.opened` for `id`: the runbook's canonical path (so the incident finds it from
    /// any directory) and its SHA-256 (so a resume can tell it changed). Team mode appends it
    /// to the shared chain with this too.
    pub fn payload(self, id: String) -> IncidentOpened {
        let rb = self.runbook;
        let path = std::fs::canonicalize(&rb.path).unwrap_or_else(|_| rb.path.clone());
        let (scenario, speed) = self.drill.clone().unzip();
        IncidentOpened {
            incident_id: id,
            runbook_id: rb.runbook.id().to_owned(),
            runbook_title: rb.runbook.runbook.title.clone(),
            runbook_sha256: rb.sha256.clone(),
            runbook_path: Some(path.display().to_string()),
            inputs: self.inputs,
            responder: Some(self.responder.to_owned()),
            drill: self.drill.is_some(),
            severity: rb.runbook.runbook.severity.clone(),
            scenario,
            speed,
        }
    }
}

/// Create a new incident. With no id, `<prefix>-<UTC yyyymmdd-hhmm>`, suffixed `-2`, `-3`…
/// if taken.
pub fn create(
    id: Option<&str>,
    prefix: &str,
    actor: &str,
    opening: Opening<'_>,
) -> Result<Opened, StoreError> {
    secure_root()?;
    let root = paths::incidents_dir()?;
    let (id, dir) = if let Some(id) = id {
        check_id(id)?;
        (id.to_owned(), root.join(id))
    } else {
        let base = default_id(prefix, Timestamp::now());
        let mut candidate = base.clone();
        let mut n = 2;
        while root.join(&candidate).exists() {
            candidate = format!("{base}-{n}");
            n += 1;
        }
        let dir = root.join(&candidate);
        (candidate, dir)
    };
    publish(
        &root,
        &id,
        &dir,
        actor,
        NewEvent::incident(opening.payload(id.clone())),
    )?;
    open_dir(id, dir, actor, Keep::Timeline)
}

/// Open the incident in `dir` for writing: its state from the last checkpoint and the events
/// after it (see [`checkpoint::fold`]), checkpoints written from now on.
fn open_dir(id: String, dir: PathBuf, actor: &str, keep: Keep) -> Result<Opened, StoreError> {
    let mut folded = checkpoint::fold(&dir, keep, |from, each| {
        Journal::open_from(&dir, actor, from, each)
    })?;
    let saved = match &folded.source {
        checkpoint::Source::Checkpoint { seq, .. } => *seq,
        checkpoint::Source::Replay { .. } => 0,
    };
    // The state as folded, for the checkpointer to go on from (not a summary's: no captures),
    // without the timeline: captures are shared, so this copies no large value.
    let cadence = Cadence::from_env();
    let checkpoints = if keep == Keep::Summary {
        Checkpointer::start(&folded.with, saved, cadence)
    } else {
        let events = std::mem::take(&mut folded.incident.events);
        let state = folded.incident.clone();
        folded.incident.events = events;
        Checkpointer::start_from(&folded.with, saved, cadence, state)
    };
    Ok(Opened {
        id,
        dir,
        journal: folded.with,
        incident: folded.incident,
        checkpoints: Some(checkpoints),
        notice: folded.source.notice(),
    })
}

/// Create the incident under a hidden staging name, make `opening` its first (durable)
/// event, then rename the directory to `dir`: an incident directory never exists without
/// `incident.opened`, even if stanch dies half-way (a crash leaves only a hidden
/// `.<id>.creating-<pid>` that `list` and `open` ignore). The rename never replaces a
/// directory with anything in it, so a directory planted under the id is not adopted.
fn publish(
    root: &Path,
    id: &str,
    dir: &Path,
    actor: &str,
    opening: NewEvent,
) -> Result<(), StoreError> {
    let staging = root.join(format!(".{id}.creating-{}", std::process::id()));
    let staged = (|| {
        let journal = Journal::create(&staging, actor)?;
        journal.append_blocking(opening)?;
        Ok::<_, StoreError>(())
    })();
    let renamed = staged.and_then(|()| {
        std::fs::rename(&staging, dir).map_err(|source| {
            if matches!(source.raw_os_error(), Some(libc::ENOTEMPTY | libc::EEXIST)) {
                JournalError::Exists(dir.to_path_buf()).into()
            } else {
                StoreError::Create {
                    path: dir.to_path_buf(),
                    source,
                }
            }
        })
    });
    if renamed.is_err() {
        // Best effort: the error that matters is the one returned.
        let _ = std::fs::remove_dir_all(&staging);
    }
    renamed?;
    std::fs::File::open(root)
        .and_then(|d| d.sync_all())
        .map_err(|source| StoreError::Create {
            path: root.to_path_buf(),
            source,
        })
}

/// Open an existing incident for writing, keeping the events it folds for a timeline.
pub fn open(id: &str, actor: &str) -> Result<Opened, StoreError> {
    open_keeping(id, actor, Keep::Timeline)
}

/// Open an existing incident for writing and load its state (from its last checkpoint and
/// the events after it, else from a full replay), keeping what `keep` says.
pub fn open_keeping(id: &str, actor: &str, keep: Keep) -> Result<Opened, StoreError> {
    check_id(id)?;
    let dir = paths::incident_dir(id)?;
    if !dir.join(crate::journal::writer::JOURNAL_FILE).exists() {
        return Err(StoreError::NotFound {
            id: id.to_owned(),
            dir: paths::incidents_dir()?,
        });
    }
    secure_dir(&dir)?;
    check_opened(&dir)?;
    open_dir(id.to_owned(), dir, actor, keep)
}

/// Read an incident's state without opening it for writing (no timeline; from its last
/// checkpoint when it holds). A damaged journal is an error.
pub fn load(id: &str) -> Result<Incident, StoreError> {
    check_id(id)?;
    let dir = paths::incident_dir(id)?;
    if !dir.join(crate::journal::writer::JOURNAL_FILE).exists() {
        return Err(StoreError::NotFound {
            id: id.to_owned(),
            dir: paths::incidents_dir()?,
        });
    }
    check_opened(&dir)?;
    load_dir(&dir)
}

/// [`load`] of an incident directory.
pub fn load_dir(dir: &Path) -> Result<Incident, StoreError> {
    // A checkpoint not used is logged by `fold`; the state is the same either way.
    let folded = checkpoint::read(dir, Keep::State)?;
    match folded.streamed.broken {
        Some(broken) => Err(JournalError::Broken {
            path: dir.join(crate::journal::writer::JOURNAL_FILE),
            broken,
        }
        .into()),
        None => Ok(folded.incident),
    }
}

/// Journal `step.interrupted` for every step a crash left started without an outcome, and
/// return their ids with the seq of their `step.started`. Callers decide when (after showing
/// the responder what was found); the steps are then never re-sent without an explicit re-run.
/// The one place this rule lives: the TUI's resume and the headless runner both call it.
///
/// In team mode only the responder's own steps (or free ones) are theirs to mark: a step a
/// teammate is running is not interrupted. There the event is folded only when it is the next
/// one; otherwise the session's feed brings it with the teammates' events before it.
pub fn mark_interrupted(opened: &mut Opened) -> Result<Vec<(String, u64)>, StoreError> {
    let mut ids = Vec::new();
    let me = opened.journal.shared_login().map(str::to_owned);
    for (step, started_seq) in opened.incident.unfinished_steps() {
        if let Some(me) = &me
            && !opened.incident.team.may_run(&step, me)
        {
            continue;
        }
        let event = opened.journal.append_blocking(NewEvent::step(
            step.clone(),
            StepInterrupted { started_seq },
        ))?;
        if me.is_none() || event.seq == opened.incident.last_seq + 1 {
            opened.incident.apply(event);
        }
        ids.push((step, started_seq));
    }
    Ok(ids)
}

/// One incident as `stanch list` shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Listing {
    pub id: String,
    pub runbook: String,
    pub opened_at: Option<Timestamp>,
    pub closed: bool,
    /// Steps succeeded or skipped, per the journal.
    pub steps_done: usize,
    /// Steps in the runbook, when its file is still where the journal says it was.
    pub steps_total: Option<usize>,
    pub drill: bool,
    /// The lock holder, when the incident is open for writing somewhere right now.
    pub in_use_by: Option<String>,
    /// The first bad event, when the journal is damaged (the rest is read up to it).
    pub damaged: Option<String>,
}

/// Every incident in the data dir, oldest first (by opening time, then id).
pub fn list() -> Result<Vec<Listing>, StoreError> {
    let root = paths::incidents_dir()?;
    let entries = match std::fs::read_dir(&root) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => return Err(JournalError::Io { path: root, source }.into()),
    };
    let mut listings = Vec::new();
    for entry in entries.flatten() {
        let dir = entry.path();
        let Some(id) = dir.file_name().and_then(|n| n.to_str()).map(str::to_owned) else {
            continue;
        };
        if check_id(&id).is_err() || !dir.join(crate::journal::writer::JOURNAL_FILE).is_file() {
            continue;
        }
        listings.push(summarise(id, &dir)?);
    }
    listings.sort_by(|a, b| (a.opened_at, &a.id).cmp(&(b.opened_at, &b.id)));
    Ok(listings)
}

fn summarise(id: String, dir: &Path) -> Result<Listing, StoreError> {
    if let Err(err) = check_opened(dir) {
        return Ok(Listing {
            id,
            runbook: String::new(),
            opened_at: None,
            closed: false,
            steps_done: 0,
            steps_total: None,
            drill: false,
            in_use_by: None,
            damaged: Some(err.to_string()),
        });
    }
    // From the last checkpoint: damage before it is `verify`'s to find, not `list`'s.
    let folded = checkpoint::read(dir, Keep::Summary)?;
    let damaged = folded.streamed.broken.as_ref().map(ToString::to_string);
    let incident = folded.incident;
    let steps_total = incident
        .runbook_path
        .as_deref()
        .and_then(|path| crate::runbook::load(Path::new(path)).ok())
        .map(|loaded| loaded.runbook.steps.len());
    Ok(Listing {
        id,
        runbook: incident.runbook_id.clone(),
        opened_at: incident.opened_at,
        closed: incident.closed_at.is_some(),
        steps_done: incident
            .steps
            .values()
            .filter(|s| matches!(s.status, StepStatus::Succeeded | StepStatus::Skipped))
            .count(),
        steps_total,
        drill: incident.drill,
        in_use_by: crate::journal::lock::holder_of(dir),
        damaged,
    })
}

/// The directory of an existing incident: checks the id and that it has a journal (for
/// readers that stream the journal themselves, like `export`).
pub fn locate(id: &str) -> Result<PathBuf, StoreError> {
    check_id(id)?;
    let dir = paths::incident_dir(id)?;
    if !dir.join(crate::journal::writer::JOURNAL_FILE).exists() {
        return Err(StoreError::NotFound {
            id: id.to_owned(),
            dir: paths::incidents_dir()?,
        });
    }
    check_opened(&dir)?;
    Ok(dir)
}

/// The data dir and `incidents/`: created private, tightened if looser.
fn secure_root() -> Result<Vec<Tightened>, StoreError> {
    let data = paths::data_dir()?;
    let incidents = paths::incidents_dir()?;
    let mut tightened: Vec<Tightened> = private::ensure_root(&data)
        .map_err(|source| StoreError::Private { path: data, source })?
        .into_iter()
        .collect();
    tightened.extend(
        private::ensure_dir(&incidents).map_err(|source| StoreError::Private {
            path: incidents,
            source,
        })?,
    );
    log_tightened(&tightened);
    Ok(tightened)
}

/// Make an existing incident private: the data dir, its directory and sub-directories 0700,
/// its files 0600, evidence 0400; returns (and logs) what was looser. [`open`] does this
/// itself; commands outside the TUI call it first to show the responder what changed.
pub fn secure(id: &str) -> Result<Vec<Tightened>, StoreError> {
    check_id(id)?;
    secure_dir(&paths::incident_dir(id)?)
}

/// [`secure`] for an incident directory. A link in place of the incident dir is refused.
fn secure_dir(dir: &Path) -> Result<Vec<Tightened>, StoreError> {
    let mut tightened = secure_root()?;
    if let Err(e) = std::fs::symlink_metadata(dir)
        && e.kind() == std::io::ErrorKind::NotFound
    {
        return Ok(tightened);
    }
    let private_err = |path: &Path| {
        let path = path.to_path_buf();
        move |source| StoreError::Private { path, source }
    };
    let before = tightened.len();
    tightened.extend(private::ensure_dir(dir).map_err(private_err(dir))?);
    tightened.extend(private::tighten_entries(dir, private::FILE_MODE).map_err(private_err(dir))?);
    let drafts = dir.join(crate::draft::DRAFTS_DIR);
    tightened.extend(
        private::tighten_entries(&drafts, private::FILE_MODE).map_err(private_err(&drafts))?,
    );
    let checkpoints = dir.join(crate::journal::checkpoint::DIR);
    tightened.extend(
        private::tighten_entries(&checkpoints, private::FILE_MODE)
            .map_err(private_err(&checkpoints))?,
    );
    let evidence = dir.join(crate::engine::EVIDENCE_DIR);
    tightened.extend(
        private::tighten_entries(&evidence, private::EVIDENCE_MODE)
            .map_err(private_err(&evidence))?,
    );
    log_tightened(&tightened[before..]);
    Ok(tightened)
}

fn log_tightened(tightened: &[Tightened]) {
    for t in tightened {
        tracing::warn!("{t}");
    }
}

/// The longest first line read when checking for `incident.opened` (the opening event holds
/// the runbook's inputs: a few KiB).
const MAX_OPENING_LINE: u64 = 1 << 20;

/// Refuse a journal whose first event is not `incident.opened` (read without following a
/// link, first line only).
fn check_opened(dir: &Path) -> Result<(), StoreError> {
    #[derive(serde::Deserialize)]
    struct First {
        kind: String,
    }
    let path = dir.join(crate::journal::writer::JOURNAL_FILE);
    let io = |source| JournalError::Io {
        path: path.clone(),
        source,
    };
    let file = private::open_read(&path).map_err(io)?;
    let mut line = Vec::new();
    BufReader::new(file)
        .take(MAX_OPENING_LINE)
        .read_until(b'\n', &mut line)
        .map_err(io)?;
    let reason = if line.is_empty() {
        "the journal is empty".to_owned()
    } else if !line.ends_with(b"\n") {
        "its first line is incomplete".to_owned()
    } else {
        match serde_json::from_slice::<First>(&line) {
            Ok(first) if first.kind == Kind::IncidentOpened.as_str() => return Ok(()),
            Ok(first) => format!("its first event is {:?}", first.kind),
            Err(err) => format!("its first line is not an event ({err})"),
        }
    };
    Err(StoreError::NotAnIncident { path, reason })
}
