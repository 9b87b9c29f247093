//! [`Journal`]: the single writer of one incident's `journal.jsonl`.
//!
//! ```text
//! append()/append_blocking() ──redact──▶ channel ──▶ writer thread
//!                                                     │ drain every waiting request
//!                                                     │ seq, prev, hash for each
//!                                                     │ ONE write_all, ONE sync_data (group commit)
//!                                                     │ journal.head ← last {seq, hash}
//!      caller ◀──────────── Event (durable) ◀─────────┘ acknowledge each request
//! ```
//!
//! Nothing is acknowledged before its sync. One writer thread per open journal owns the
//! file, so seq order is the order requests reached the channel and the chain can never
//! fork. After a failed write the writer refuses everything (the file may end in a partial
//! line that only a reopen, which quarantines it, can clear). The exclusive lock on
//! `<dir>/lock` is held by the writer thread and released when the last [`Journal`] clone
//! drops. Here: the handle, create/open (with recovery) and lock-free `read`; the thread
//! itself is `writer::commit`. This module must not interpret events; that is `incident`'s
//! job.

mod commit;

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock, mpsc};
use std::thread::JoinHandle;
use std::time::Instant;

use jiff::Timestamp;

use self::commit::{Reply, Request, Stats, Writer};
use super::event::{Event, GENESIS, Kind, NewEvent};
use super::lock::{Lock, LockError};
use super::replay::{self, Broken, HEAD_FILE};
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
    #[error(transparent)]
    Locked(#[from] LockError),
    /// Recorded history is damaged: never repaired, never written after.
    #[error(
        "{path} is damaged at {broken}; stanch will not write to a damaged journal (run `stanch verify` for the full report)"
    )]
    Broken { path: PathBuf, broken: Broken },
    /// An earlier write failed; the journal takes no more events until it is reopened.
    #[error("an earlier write to {path} failed ({reason}); reopen the incident to recover")]
    WriteFailed { path: PathBuf, reason: String },
}

/// Counters for benchmarks and tests: how well group commit is batching.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct WriterStats {
    pub events: u64,
    pub syncs: u64,
}

struct Inner {
    dir: PathBuf,
    actor: String,
    redactor: RwLock<Redactor>,
    stats: Arc<Stats>,
    request_tx: Option<mpsc::Sender<Request>>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the channel ends the writer thread; joining it releases the lock before the
        // last handle is gone, so a reopen right after never sees a stale holder.
        self.request_tx.take();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
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
        std::fs::create_dir_all(dir).map_err(io(dir))?;
        let lock = Lock::acquire(dir, actor)?;
        let path = dir.join(JOURNAL_FILE);
        if path.exists() {
            return Err(JournalError::Exists(dir.to_path_buf()));
        }
        let file = OpenOptions::new()
            .create_new(true)
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        sync_dir(dir)?;
        Self::start(dir, actor, lock, file, 0, GENESIS.to_owned())
    }

    /// Open an existing journal for appending; returns the events already in it.
    ///
    /// A torn last line is moved to `journal.torn-<UTC time>`, the file is cut back to the
    /// last good event and a `journal.recovered` event is appended (it is the last event
    /// returned). Damage anywhere else is [`JournalError::Broken`] and nothing is written.
    pub fn open(dir: &Path, actor: &str) -> Result<(Self, Vec<Event>), JournalError> {
        let path = dir.join(JOURNAL_FILE);
        if !path.exists() {
            return Err(JournalError::Missing(dir.to_path_buf()));
        }
        let lock = Lock::acquire(dir, actor)?;
        let (bytes, replayed) = replay::replay_file(dir).map_err(io(&path))?;
        if let Some(broken) = replayed.broken {
            return Err(JournalError::Broken { path, broken });
        }
        let file = OpenOptions::new()
            .append(true)
            .open(&path)
            .map_err(io(&path))?;
        let quarantined = if replayed.torn_bytes > 0 {
            let start = usize::try_from(replayed.good_len).unwrap_or(bytes.len());
            let name = quarantine(dir, &bytes[start..])?;
            file.set_len(replayed.good_len).map_err(io(&path))?;
            file.sync_all().map_err(io(&path))?;
            Some(name)
        } else {
            None
        };
        let last_seq = replayed.last_seq();
        let journal = Self::start(
            dir,
            actor,
            lock,
            file,
            last_seq,
            replayed.last_hash().to_owned(),
        )?;
        let mut events = replayed.events;
        if let Some(name) = quarantined {
            events.push(journal.append_blocking(NewEvent::new(
                Kind::JournalRecovered,
                serde_json::json!({
                    "quarantined": name,
                    "bytes": replayed.torn_bytes,
                    "last_good_seq": last_seq,
                }),
            ))?);
        }
        Ok((journal, events))
    }

    fn start(
        dir: &Path,
        actor: &str,
        lock: Lock,
        file: File,
        seq: u64,
        prev: String,
    ) -> Result<Self, JournalError> {
        let head_path = dir.join(HEAD_FILE);
        let head = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(false)
            .open(&head_path)
            .map_err(io(&head_path))?;
        let stats = Arc::new(Stats::default());
        let (request_tx, request_rx) = mpsc::channel();
        let mut writer = Writer {
            path: dir.join(JOURNAL_FILE),
            file,
            head,
            seq,
            prev,
            started: Instant::now(),
            failed: None,
            stats: Arc::clone(&stats),
            buf: Vec::new(),
            _lock: lock,
        };
        let thread = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || writer.run(&request_rx))
            .map_err(io(dir))?;
        Ok(Self {
            inner: Arc::new(Inner {
                dir: dir.to_path_buf(),
                actor: actor.to_owned(),
                redactor: RwLock::new(Redactor::default()),
                stats,
                request_tx: Some(request_tx),
                thread: Some(thread),
            }),
        })
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
        if let Ok(mut current) = self.inner.redactor.write() {
            *current = redactor;
        }
    }

    /// Events written and syncs done by this handle's writer so far.
    pub fn stats(&self) -> WriterStats {
        WriterStats {
            events: self.inner.stats.events.load(Ordering::Relaxed),
            syncs: self.inner.stats.syncs.load(Ordering::Relaxed),
        }
    }

    fn request(&self, new: NewEvent, reply: Reply) -> Result<(), JournalError> {
        let mut data = new.data;
        if let Ok(redactor) = self.inner.redactor.read() {
            redactor.redact_json(&mut data);
        }
        let request = Request {
            kind: new.kind,
            step: new.step,
            data,
            actor: new.actor.unwrap_or_else(|| self.inner.actor.clone()),
            reply,
        };
        self.inner
            .request_tx
            .as_ref()
            .ok_or(JournalError::Closed)?
            .send(request)
            .map_err(|_| JournalError::Closed)
    }

    /// Append and sync; returns the event as written, only after it is durable.
    pub fn append_blocking(&self, new: NewEvent) -> Result<Event, JournalError> {
        let (ack_tx, ack_rx) = mpsc::sync_channel(1);
        self.request(new, Reply::Blocking(ack_tx))?;
        ack_rx.recv().map_err(|_| JournalError::Closed)?
    }

    /// Async append: waits for the writer thread's sync without blocking the runtime.
    ///
    /// The request is queued when the future is first polled; dropping the future after
    /// that does not un-write the event (it is still recorded, just not reported).
    pub async fn append(&self, new: NewEvent) -> Result<Event, JournalError> {
        let (ack_tx, ack_rx) = tokio::sync::oneshot::channel();
        self.request(new, Reply::Async(ack_tx))?;
        ack_rx.await.map_err(|_| JournalError::Closed)?
    }
}

/// Move a torn tail aside, durably, before the journal is cut back.
fn quarantine(dir: &Path, tail: &[u8]) -> Result<String, JournalError> {
    let stamp = Timestamp::now().strftime("%Y%m%dT%H%M%S%.3fZ").to_string();
    let mut name = format!("journal.torn-{stamp}");
    let mut n = 2;
    while dir.join(&name).exists() {
        name = format!("journal.torn-{stamp}-{n}");
        n += 1;
    }
    let path = dir.join(&name);
    let mut file = OpenOptions::new()
        .create_new(true)
        .write(true)
        .open(&path)
        .map_err(io(&path))?;
    file.write_all(tail).map_err(io(&path))?;
    file.sync_all().map_err(io(&path))?;
    sync_dir(dir)?;
    Ok(name)
}

/// Make a directory's entries (a new journal, a quarantine file) durable.
fn sync_dir(dir: &Path) -> Result<(), JournalError> {
    File::open(dir).and_then(|d| d.sync_all()).map_err(io(dir))
}

/// Read every good event of the journal in `dir` without taking the writer lock (list,
/// export). A torn tail (perhaps a write in progress) is left out; damage is an error.
pub fn read(dir: &Path) -> Result<Vec<Event>, JournalError> {
    let path = dir.join(JOURNAL_FILE);
    let (_, replayed) = replay::replay_file(dir).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            JournalError::Missing(dir.to_path_buf())
        } else {
            JournalError::Io {
                path: path.clone(),
                source: e,
            }
        }
    })?;
    match replayed.broken {
        Some(broken) => Err(JournalError::Broken { path, broken }),
        None => Ok(replayed.events),
    }
}
