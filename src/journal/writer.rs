//! [`Journal`]: the single writer of one incident's `journal.jsonl`.
//!
//! ```text
//! enqueue()  ──redact──▶ seq, prev, hash, line ──▶ shared buffer ──▶ writer thread
//!   └─▶ Event (final, not yet durable)                               │ write in order,
//! durable(seq) / append() / append_blocking()                        │ ONE sync_data per swap
//!   ◀──────────── "durable through seq N" watermark ◀───────────────┘ journal.head ← N
//! ```
//!
//! Two ways to write: [`Journal::append`] (and `append_blocking`) returns the event only once
//! it is durable; [`Journal::enqueue`] returns it at once, final (seq, time, hash), and
//! [`Journal::durable`] waits for the sync later. The engine queues, keeps working while the
//! sync runs, and reports nothing before the watermark passes it (see `writer::commit`).
//! Seq order is queue order and the chain can never fork: the chain tip and the bytes waiting
//! for the writer sit behind one lock. After a failed write the journal refuses everything
//! (the file may end in a partial line that only a reopen, which quarantines it, can clear).
//! The exclusive lock on `<dir>/lock` is held by the writer thread and released when the last
//! [`Journal`] clone drops. This module must not interpret events; that is `incident`'s job.
//!
//! The same handle fronts the other backend, a chain kept elsewhere ([`Journal::shared`], team
//! mode; see [`super::shared`]): there `enqueue` returns only once the server committed the
//! event and `durable` returns at once. [`Journal::submit`] is `enqueue` for the file and, on a
//! shared chain, hands the event over without waiting ([`Queued::InFlight`]), so many events
//! share one commit. The file path pays one `match` per call, nothing more.
//!
//! Files are opened through [`crate::private`]: the incident dir is 0700, the journal, head
//! and quarantined tails 0600, and none of them is ever opened through a symbolic link.
//!
//! Opening reads the journal as a stream ([`super::stream`]) from a [`Position`]: the start,
//! or a checkpoint's (`Journal::open_from`), so recovery (torn tail, `journal.head`) costs the
//! tail read, not the journal. A [`Watch`] follows the durable watermark without keeping the
//! journal open (the checkpointer's trigger), and hands out a [`Follower`] of the events as
//! they are queued (the checkpointer folds those instead of reading the lines back).

mod commit;

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, RwLock, Weak};
use std::thread::JoinHandle;

use jiff::Timestamp;

pub use self::commit::Fed;
use self::commit::{Queue, Request, Writer};
use super::event::{Event, NewEvent};
use super::lock::{Lock, LockError};
use super::payload::JournalRecovered;
use super::replay::{self, Broken, HEAD_FILE};
use super::shared::{SharedChain, Ticket, off_the_executor};
use super::stream::{self, Position, Streamed};
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
    /// The shared chain (team mode) did not take the event: the server refused it, the link
    /// is down, or the chain was found rewritten. Nothing was recorded.
    #[error("{0}")]
    Shared(Arc<dyn std::error::Error + Send + Sync>),
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
    queue: Arc<Queue>,
    thread: Option<JoinHandle<()>>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Closing the queue ends the writer thread once it has written everything; joining it
        // releases the lock before the last handle is gone, so a reopen right after never sees
        // a stale holder.
        self.queue.close();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Handle to an open incident journal. Clone freely; all clones share one writer.
#[derive(Clone)]
pub struct Journal {
    backend: Backend,
}

/// Where the events go: this machine's file (default), or a chain kept elsewhere (team mode,
/// see [`super::shared`]). One branch per call; the file path is otherwise unchanged.
#[derive(Clone)]
enum Backend {
    File(Arc<Inner>),
    Shared(Arc<Shared>),
}

struct Shared {
    chain: Box<dyn SharedChain>,
    redactor: RwLock<Redactor>,
    events: std::sync::atomic::AtomicU64,
    /// The seq of the last event this handle appended.
    last: std::sync::atomic::AtomicU64,
}

impl Shared {
    fn redact(&self, new: &mut NewEvent) {
        if let Ok(redactor) = self.redactor.read() {
            new.redact(&redactor);
        }
    }

    /// Count an event the chain stored for this handle.
    fn stored(&self, event: &Event) {
        self.events.fetch_add(1, Ordering::Relaxed);
        self.last.fetch_max(event.seq, Ordering::Relaxed);
    }
}

/// An event handed over by [`Journal::submit`].
pub enum Queued {
    /// Final (seq, time, hash) and queued: wait for [`Journal::durable`] before reporting it.
    Final(Event),
    /// On its way to a shared chain: not final before the server commits it.
    InFlight(InFlight),
}

/// An event submitted to a shared chain, until the server answers.
pub struct InFlight {
    ticket: Ticket,
    shared: Arc<Shared>,
}

impl InFlight {
    /// Wait until the event is durable where it is recorded (committed on the server, or on
    /// the pending sub-chain), before the local mirror holds it: enough for the write-ahead
    /// rule, not yet to report it.
    pub async fn recorded(&mut self) -> Result<(), JournalError> {
        self.ticket.recorded().await
    }

    /// The event as stored, once durable (committed on the server and in the local mirror, or
    /// on the pending sub-chain: [`Journal::is_pending`]), or why it was not recorded.
    pub async fn durable(self) -> Result<Event, JournalError> {
        let event = self.ticket.wait().await?;
        self.shared.stored(&event);
        Ok(event)
    }
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
        crate::private::ensure_dir(dir).map_err(io(dir))?;
        let lock = Lock::acquire(dir, actor)?;
        let path = dir.join(JOURNAL_FILE);
        // `symlink_metadata`: a dangling link under the name counts as taken.
        if std::fs::symlink_metadata(&path).is_ok() {
            return Err(JournalError::Exists(dir.to_path_buf()));
        }
        let file = crate::private::create_new(&path).map_err(io(&path))?;
        sync_dir(dir)?;
        Self::start(dir, actor, lock, file, Position::genesis())
    }

    /// Open an existing journal for appending; returns the events already in it.
    ///
    /// A torn last line is moved to `journal.torn-<UTC time>`, the file is cut back to the
    /// last good event and a `journal.recovered` event is appended (it is the last event
    /// returned). Damage anywhere else is [`JournalError::Broken`] and nothing is written.
    pub fn open(dir: &Path, actor: &str) -> Result<(Self, Vec<Event>), JournalError> {
        let mut events = Vec::new();
        let (journal, _) = Self::open_from(dir, actor, &Position::genesis(), |e| events.push(e))?;
        Ok((journal, events))
    }

    /// [`Journal::open`] reading only the events after `from` (a checkpoint's position),
    /// handing each to `each` as it is read (then the `journal.recovered` event, if any) and
    /// keeping none: the cost of opening is the tail, not the journal. The events before
    /// `from` are taken as they are; the caller vouches for `from` (see `journal::checkpoint`),
    /// and a tail that does not continue it is [`JournalError::Broken`].
    pub fn open_from(
        dir: &Path,
        actor: &str,
        from: &Position,
        mut each: impl FnMut(Event),
    ) -> Result<(Self, Streamed), JournalError> {
        let path = dir.join(JOURNAL_FILE);
        if !path.exists() {
            return Err(JournalError::Missing(dir.to_path_buf()));
        }
        let lock = Lock::acquire(dir, actor)?;
        let streamed = stream::stream_from(dir, from, &mut each).map_err(io(&path))?;
        if let Some(broken) = streamed.broken.clone() {
            return Err(JournalError::Broken { path, broken });
        }
        let (file, tightened) = crate::private::open_append(&path).map_err(io(&path))?;
        if let Some(tightened) = tightened {
            tracing::warn!("{tightened}");
        }
        let quarantined = if streamed.torn_bytes > 0 {
            let mut tail = vec![0; usize::try_from(streamed.torn_bytes).unwrap_or(0)];
            crate::private::open_read(&path)
                .and_then(|f| f.read_exact_at(&mut tail, streamed.good_len))
                .map_err(io(&path))?;
            let name = quarantine(dir, &tail)?;
            file.set_len(streamed.good_len).map_err(io(&path))?;
            file.sync_all().map_err(io(&path))?;
            Some(name)
        } else {
            None
        };
        let journal = Self::start(
            dir,
            actor,
            lock,
            file,
            Position {
                seq: streamed.last_seq,
                hash: streamed.last_hash.clone(),
                offset: streamed.good_len,
            },
        )?;
        if let Some(name) = quarantined {
            each(
                journal.append_blocking(NewEvent::incident(JournalRecovered {
                    quarantined: name,
                    bytes: streamed.torn_bytes,
                    last_good_seq: streamed.last_seq,
                }))?,
            );
        }
        Ok((journal, streamed))
    }

    fn start(
        dir: &Path,
        actor: &str,
        lock: Lock,
        file: File,
        end: Position,
    ) -> Result<Self, JournalError> {
        let head_path = dir.join(HEAD_FILE);
        let (head, tightened) =
            crate::private::open_or_create(&head_path).map_err(io(&head_path))?;
        if let Some(tightened) = tightened {
            tracing::warn!("{tightened}");
        }
        let queue = Arc::new(Queue::new(
            dir.join(JOURNAL_FILE),
            end.seq,
            end.hash,
            end.offset,
        ));
        let writer = Writer {
            queue: Arc::clone(&queue),
            file,
            head,
            _lock: lock,
        };
        let thread = std::thread::Builder::new()
            .name("journal-writer".into())
            .spawn(move || writer.run())
            .map_err(io(dir))?;
        Ok(Self {
            backend: Backend::File(Arc::new(Inner {
                dir: dir.to_path_buf(),
                actor: actor.to_owned(),
                redactor: RwLock::new(Redactor::default()),
                queue,
                thread: Some(thread),
            })),
        })
    }

    /// A journal whose events go to a chain kept elsewhere (team mode): see
    /// [`super::shared`]. Every method keeps its contract; `enqueue` waits for the server.
    pub fn shared(chain: impl SharedChain) -> Self {
        Self {
            backend: Backend::Shared(Arc::new(Shared {
                chain: Box::new(chain),
                redactor: RwLock::new(Redactor::default()),
                events: std::sync::atomic::AtomicU64::new(0),
                last: std::sync::atomic::AtomicU64::new(0),
            })),
        }
    }

    /// The login events are recorded as when this journal is a shared chain (team mode);
    /// `None` for the local file. Team rules (claims) apply only when this is `Some`.
    pub fn shared_login(&self) -> Option<&str> {
        match &self.backend {
            Backend::File(_) => None,
            Backend::Shared(shared) => Some(shared.chain.login()),
        }
    }

    /// Team mode: the live feed of the shared chain (teammates' events and own, in seq order;
    /// the alarm). The first caller gets it; `None` for a file journal and after that.
    pub fn take_news(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<super::shared::News>> {
        match &self.backend {
            Backend::File(_) => None,
            Backend::Shared(shared) => shared.chain.take_news(),
        }
    }

    /// Team mode: whether `event` (as this handle returned it) is only on the local pending
    /// sub-chain, provisional, because the link was down (see [`super::shared`]); fold it with
    /// [`crate::incident::Overlay`], never as a shared event. Always `false` for a file.
    pub fn is_pending(&self, event: &Event) -> bool {
        match &self.backend {
            Backend::File(_) => false,
            Backend::Shared(shared) => shared.chain.is_pending(event),
        }
    }

    /// Team mode: own events left on the pending sub-chain by an earlier run, as they were
    /// when the session opened (see [`super::shared`]). Empty for a file.
    pub fn pending_at_open(&self) -> Vec<Event> {
        match &self.backend {
            Backend::File(_) => Vec::new(),
            Backend::Shared(shared) => shared.chain.pending_at_open(),
        }
    }

    /// Team mode: how many own events wait on the pending sub-chain for the merge (the
    /// "offline — N pending" figure). Always 0 for a file.
    pub fn pending_count(&self) -> usize {
        match &self.backend {
            Backend::File(_) => 0,
            Backend::Shared(shared) => shared.chain.pending_count(),
        }
    }

    /// The incident directory (for a shared chain, its local mirror's).
    pub fn dir(&self) -> &Path {
        match &self.backend {
            Backend::File(inner) => &inner.dir,
            Backend::Shared(shared) => shared.chain.dir(),
        }
    }

    /// The default actor (the responder; for a shared chain, the login).
    pub fn actor(&self) -> &str {
        match &self.backend {
            Backend::File(inner) => &inner.actor,
            Backend::Shared(shared) => shared.chain.login(),
        }
    }

    /// Scrub these secret values from every event appended from now on.
    pub fn set_redactor(&self, redactor: Redactor) {
        let lock = match &self.backend {
            Backend::File(inner) => &inner.redactor,
            Backend::Shared(shared) => &shared.redactor,
        };
        if let Ok(mut current) = lock.write() {
            *current = redactor;
        }
    }

    /// The seq of the last event queued (durable or not); on a shared chain, the last this
    /// handle appended (0: none yet).
    pub fn last_seq(&self) -> u64 {
        match &self.backend {
            Backend::File(inner) => inner.queue.last_seq(),
            Backend::Shared(shared) => shared.last.load(Ordering::Relaxed),
        }
    }

    /// A handle that does not keep the journal open (see [`Watch`]). On a shared chain every
    /// appended event is already durable and there is no local writer to follow: its watch
    /// waits for nothing and never hands out the journal (checkpoints are the file
    /// journal's).
    pub fn watch(&self) -> Watch {
        match &self.backend {
            Backend::File(inner) => Watch {
                queue: Some(Arc::clone(&inner.queue)),
                inner: Arc::downgrade(inner),
            },
            Backend::Shared(_) => Watch {
                queue: None,
                inner: Weak::new(),
            },
        }
    }

    /// Events written and syncs done by this handle's writer so far (for a shared chain, the
    /// events it stored and the server transactions that committed them).
    pub fn stats(&self) -> WriterStats {
        match &self.backend {
            Backend::File(inner) => {
                let stats = &inner.queue.stats;
                WriterStats {
                    events: stats.events.load(Ordering::Relaxed),
                    syncs: stats.syncs.load(Ordering::Relaxed),
                }
            }
            Backend::Shared(shared) => {
                let events = shared.events.load(Ordering::Relaxed);
                WriterStats {
                    events,
                    syncs: shared.chain.commits().unwrap_or(events),
                }
            }
        }
    }

    /// Redact, chain and queue an event; it is final (seq, time, hash) but not yet durable.
    /// It reaches the disk in seq order whatever happens to the caller; use
    /// [`Journal::durable`] before reporting it to anyone. (A shared chain returns only once
    /// the server committed it: there the event is durable too.)
    pub fn enqueue(&self, new: NewEvent) -> Result<Event, JournalError> {
        let mut new = new;
        match &self.backend {
            Backend::File(inner) => {
                if let Ok(redactor) = inner.redactor.read() {
                    new.redact(&redactor);
                }
                let kind = new.kind;
                let step = new.step.take();
                let actor = new.actor.take().unwrap_or_else(|| inner.actor.clone());
                inner.queue.enqueue(Request {
                    kind,
                    step,
                    data: new.into_data(),
                    actor,
                })
            }
            Backend::Shared(shared) => {
                shared.redact(&mut new);
                let event = off_the_executor(|| shared.chain.append(new))?;
                shared.stored(&event);
                Ok(event)
            }
        }
    }

    /// [`Journal::enqueue`] without waiting for a shared chain's server: on the file the
    /// event is final and queued ([`Queued::Final`]); on a shared chain it is redacted and
    /// handed over ([`Queued::InFlight`]), after every event handed over before it, and is
    /// final only once [`InFlight::durable`] answers. Events submitted while a commit is in
    /// flight share the next one: a caller with many in flight (a foreach's items) pays one
    /// round trip for all of them, not one each. Report nothing before it is durable.
    pub fn submit(&self, new: NewEvent) -> Result<Queued, JournalError> {
        match &self.backend {
            Backend::File(_) => self.enqueue(new).map(Queued::Final),
            Backend::Shared(shared) => {
                let mut new = new;
                shared.redact(&mut new);
                Ok(Queued::InFlight(InFlight {
                    ticket: shared.chain.submit(new),
                    shared: Arc::clone(shared),
                }))
            }
        }
    }

    /// Wait until every event through `seq` is synced. Returns the durable watermark (which
    /// may be past `seq`), or the write failure that means `seq` never will be.
    pub async fn durable(&self, seq: u64) -> Result<u64, JournalError> {
        match &self.backend {
            Backend::File(inner) => inner.queue.wait(seq).await,
            // Shared events are committed before `enqueue` returns them.
            Backend::Shared(_) => Ok(seq),
        }
    }

    /// Sync what is queued now rather than lingering, without waiting for it (for events worth
    /// making durable promptly that nobody waits for, such as the outcome of a write).
    pub fn sync_soon(&self) {
        if let Backend::File(inner) = &self.backend {
            inner.queue.hurry();
        }
    }

    /// Whether every event through `seq` is synced yet, without waiting.
    pub fn is_durable(&self, seq: u64) -> Result<bool, JournalError> {
        match &self.backend {
            Backend::File(inner) => inner.queue.is_durable(seq),
            Backend::Shared(_) => Ok(true),
        }
    }

    /// Append and sync; returns the event as written, only after it is durable.
    pub fn append_blocking(&self, new: NewEvent) -> Result<Event, JournalError> {
        let event = self.enqueue(new)?;
        if let Backend::File(inner) = &self.backend {
            inner.queue.wait_blocking(event.seq)?;
        }
        Ok(event)
    }

    /// Async append: waits for the writer thread's sync without blocking the runtime.
    ///
    /// The event is queued before the first await; dropping the future after that does not
    /// un-write it (it is still recorded, just not reported).
    pub async fn append(&self, new: NewEvent) -> Result<Event, JournalError> {
        let event = self.enqueue(new)?;
        self.durable(event.seq).await?;
        Ok(event)
    }
}

/// For a background task that follows a journal without keeping it open (the checkpointer):
/// once every [`Journal`] is dropped the journal closes as usual, [`Watch::wait`] then fails
/// with [`JournalError::Closed`] and [`Watch::journal`] gives `None`.
#[derive(Clone)]
pub struct Watch {
    /// `None` for a shared chain: nothing local to wait for.
    queue: Option<Arc<commit::Queue>>,
    inner: Weak<Inner>,
}

impl Watch {
    /// Block until every event through `seq` is durable, without hurrying the writer (unlike
    /// [`Journal::durable`]: nobody is waiting to report anything).
    pub fn wait(&self, seq: u64) -> Result<u64, JournalError> {
        match &self.queue {
            Some(queue) => queue.wait_lazily(seq),
            None => Ok(seq),
        }
    }

    /// The journal, while it is still open (never for a shared chain's watch).
    pub fn journal(&self) -> Option<Journal> {
        self.inner.upgrade().map(|inner| Journal {
            backend: Backend::File(inner),
        })
    }

    /// Follow the events queued from now on (`None` for a shared chain): the [`Follower`]
    /// and where the last event queued before it ends, which is where its events continue.
    pub fn follow(&self) -> Option<(Follower, Position)> {
        let queue = Arc::clone(self.queue.as_ref()?);
        let (seq, hash, offset) = queue.follow();
        Some((Follower { queue }, Position { seq, hash, offset }))
    }
}

/// Every event queued after [`Watch::follow`], as the writer chained it: the checkpointer folds
/// these rather than reading back (and parsing again) the lines just written, so a 16 MB
/// capture it keeps is the engine's own text, never a second copy. The events wait in the
/// queue until taken: take them often. Dropping the follower stops the keeping.
pub struct Follower {
    queue: Arc<commit::Queue>,
}

impl Follower {
    /// The events queued since the last call, in seq order, each with the byte just past its
    /// line. Queued is not durable: wait for the watermark before relying on one being on disk.
    /// `None` once the follower fell too far behind (the queue keeps a few MB of events at
    /// most): those events were let go, and this follower gets no more; read the file.
    pub fn take(&self) -> Option<Vec<Fed>> {
        self.queue.take_fed()
    }
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.queue.unfollow();
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
    let mut file = crate::private::create_new(&path).map_err(io(&path))?;
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
