//! [`Journal`]: the single writer of one incident's `journal.jsonl`.
//!
//! FIRST CUT (to be replaced by the journal work): a mutex around the file, one
//! `write_all` + `sync_data` per append, no group commit, no lock file, no torn-tail handling.
//! The public API below is the contract other modules code against.

use std::fs::{File, OpenOptions};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use jiff::Timestamp;

use super::event::{Event, GENESIS, NewEvent};
use crate::secret::Redactor;

pub const JOURNAL_FILE: &str = "journal.jsonl";

#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    #[error("journal I/O on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path}:{line}: not a journal event: {reason}")]
    Corrupt {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("incident already exists at {0}")]
    Exists(PathBuf),
    #[error("no incident journal at {0}")]
    Missing(PathBuf),
    #[error("the journal writer has stopped")]
    Closed,
}

struct Inner {
    dir: PathBuf,
    actor: String,
    started: Instant,
    state: Mutex<State>,
}

struct State {
    file: File,
    seq: u64,
    prev: String,
    redactor: Redactor,
}

/// Handle to an open incident journal. Clone freely; all clones share one writer.
#[derive(Clone)]
pub struct Journal {
    inner: Arc<Inner>,
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> JournalError + '_ {
    move |source| JournalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

impl Journal {
    /// Create a new incident journal in `dir` (created; must not hold a journal yet).
    pub fn create(dir: &Path, actor: &str) -> Result<Self, JournalError> {
        let path = dir.join(JOURNAL_FILE);
        if path.exists() {
            return Err(JournalError::Exists(dir.to_path_buf()));
        }
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        Ok(Self::from_parts(dir, actor, file, 0, GENESIS.to_owned()))
    }

    /// Open an existing journal for appending; returns the events already in it.
    pub fn open(dir: &Path, actor: &str) -> Result<(Self, Vec<Event>), JournalError> {
        let events = read(dir)?;
        let path = dir.join(JOURNAL_FILE);
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        let (seq, prev) = events
            .last()
            .map_or((0, GENESIS.to_owned()), |e| (e.seq, e.hash.clone()));
        Ok((Self::from_parts(dir, actor, file, seq, prev), events))
    }

    fn from_parts(dir: &Path, actor: &str, file: File, seq: u64, prev: String) -> Self {
        Self {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                actor: actor.to_owned(),
                started: Instant::now(),
                state: Mutex::new(State {
                    file,
                    seq,
                    prev,
                    redactor: Redactor::default(),
                }),
            }),
        }
    }

    /// The incident directory.
    pub fn dir(&self) -> &Path {
        &self.inner.dir
    }

    /// The default actor (the responder).
    pub fn actor(&self) -> &str {
        &self.inner.actor
    }

    /// Scrub these secret values from every event appended from now on.
    pub fn set_redactor(&self, redactor: Redactor) {
        if let Ok(mut state) = self.inner.state.lock() {
            state.redactor = redactor;
        }
    }

    /// Append and sync; returns the event as written, only after it is durable.
    pub fn append_blocking(&self, new: NewEvent) -> Result<Event, JournalError> {
        let mut state = self.inner.state.lock().map_err(|_| JournalError::Closed)?;
        let mut data = new.data;
        state.redactor.redact_json(&mut data);
        let now = Timestamp::now();
        let at = now.round(jiff::Unit::Millisecond).unwrap_or(now);
        let mut event = Event {
            seq: state.seq + 1,
            at,
            mono_ms: u64::try_from(self.inner.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            actor: new.actor.unwrap_or_else(|| self.inner.actor.clone()),
            kind: new.kind,
            step: new.step,
            data,
            prev: state.prev.clone(),
            hash: String::new(),
        };
        event.hash = event.compute_hash();
        let mut line = serde_json::to_vec(&event).map_err(|e| JournalError::Corrupt {
            path: self.inner.dir.join(JOURNAL_FILE),
            line: 0,
            reason: e.to_string(),
        })?;
        line.push(b'\n');
        let path = self.inner.dir.join(JOURNAL_FILE);
        state.file.write_all(&line).map_err(io(&path))?;
        state.file.sync_data().map_err(io(&path))?;
        state.seq = event.seq;
        state.prev.clone_from(&event.hash);
        Ok(event)
    }

    /// Async append: the sync happens off the runtime's worker threads.
    pub async fn append(&self, new: NewEvent) -> Result<Event, JournalError> {
        let this = self.clone();
        tokio::task::spawn_blocking(move || this.append_blocking(new))
            .await
            .map_err(|_| JournalError::Closed)?
    }
}

/// Read every event of the journal in `dir` without taking the writer lock (list, export).
pub fn read(dir: &Path) -> Result<Vec<Event>, JournalError> {
    let path = dir.join(JOURNAL_FILE);
    let file = File::open(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            JournalError::Missing(dir.to_path_buf())
        } else {
            JournalError::Io {
                path: path.clone(),
                source: e,
            }
        }
    })?;
    let mut events = Vec::new();
    for (n, line) in BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io(&path))?;
        let event: Event = serde_json::from_str(&line).map_err(|e| JournalError::Corrupt {
            path: path.clone(),
            line: n + 1,
            reason: e.to_string(),
        })?;
        events.push(event);
    }
    Ok(events)
}
