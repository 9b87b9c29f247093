//! The incident store: incident directories under the data dir, their ids, and opening one.
//!
//! FIRST CUT (the journal work extends it: lock holder errors, recovery on open, list).
//! `create` writes `incident.opened` as the first event; `open` replays what is there.

use std::path::PathBuf;

use jiff::Timestamp;

use crate::incident::Incident;
use crate::journal::{Journal, JournalError, Kind, NewEvent};
use crate::paths::{self, PathsError};

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
}

/// An incident open for writing.
pub struct Opened {
    pub id: String,
    pub dir: PathBuf,
    pub journal: Journal,
    pub incident: Incident,
}

/// `INC-20261128-0347` (or `DRILL-…`), from the UTC time.
pub fn default_id(prefix: &str, now: Timestamp) -> String {
    format!("{prefix}-{}", now.strftime("%Y%m%d-%H%M"))
}

fn check_id(id: &str) -> Result<(), StoreError> {
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

/// Create a new incident. With no id, `<prefix>-<UTC yyyymmdd-hhmm>`, suffixed `-2`, `-3`…
/// if taken. `opened` is the `incident.opened` data (the store adds `incident_id`).
pub fn create(
    id: Option<&str>,
    prefix: &str,
    actor: &str,
    mut opened: serde_json::Value,
) -> Result<Opened, StoreError> {
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
    let journal = Journal::create(&dir, actor)?;
    if let Some(obj) = opened.as_object_mut() {
        obj.insert("incident_id".into(), serde_json::Value::String(id.clone()));
    }
    let event = journal.append_blocking(NewEvent::new(Kind::IncidentOpened, opened))?;
    let incident = Incident::replay([event]);
    Ok(Opened {
        id,
        dir,
        journal,
        incident,
    })
}

/// Open an existing incident for writing and replay it.
pub fn open(id: &str, actor: &str) -> Result<Opened, StoreError> {
    check_id(id)?;
    let dir = paths::incident_dir(id)?;
    if !dir.join(crate::journal::writer::JOURNAL_FILE).exists() {
        return Err(StoreError::NotFound {
            id: id.to_owned(),
            dir: paths::incidents_dir()?,
        });
    }
    let (journal, events) = Journal::open(&dir, actor)?;
    Ok(Opened {
        id: id.to_owned(),
        dir,
        journal,
        incident: Incident::replay(events),
    })
}

/// Read an incident without opening it for writing (export, list).
pub fn load(id: &str) -> Result<Incident, StoreError> {
    check_id(id)?;
    let dir = paths::incident_dir(id)?;
    if !dir.join(crate::journal::writer::JOURNAL_FILE).exists() {
        return Err(StoreError::NotFound {
            id: id.to_owned(),
            dir: paths::incidents_dir()?,
        });
    }
    Ok(Incident::replay(crate::journal::read(&dir)?))
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
    Ok(dir)
}
