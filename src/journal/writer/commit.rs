//! Group commit: callers chain and serialize their events into one shared buffer; the writer
//! thread swaps that buffer out, writes it (one `write_all`, or a few when a large `data` is
//! written from its own text: see below), makes it durable with one `sync_data`, and raises
//! the *durable watermark* (the highest seq on disk).
//!
//! ```text
//!  enqueue (caller's thread, under the queue lock):
//!      seq, at, prev ─▶ canonical JSON into the shared buffer ─▶ hash ─▶ `,"hash":…}\n`
//!  writer thread:
//!      wait for bytes ─▶ swap buffers ─▶ write_all ─▶ sync_data ─▶ journal.head
//!        ─▶ watermark := last seq of the swap ─▶ wake blocking and async waiters
//! ```
//!
//! Why the chain is built by the caller and not by the writer: an event is final (seq, time,
//! hash) the moment it is queued, so the engine can use it at once (apply it, decide the next
//! step) while the sync overlaps with the network; only *reporting* waits for the watermark.
//! Why one watermark instead of an acknowledgement per event: the file is written in seq
//! order and each sync covers everything written before it, so "durable through seq N" says
//! all there is to say, costs no allocation per event, and lets any number of waiters (the
//! reporter, a write-ahead request, a blocking caller) share one wake-up per sync.
//!
//! The line is serialized once: the hashed form is every field but `hash`, in declaration
//! order, so the line is that same text with `,"hash":"…"` spliced in before the final `}`.
//!
//! A large `data` (a step outcome carrying a 16 MB capture) is not copied into the buffer:
//! the buffer keeps the line without it and a [`Batch`] notes where the event's shared text
//! goes, so the writer writes the bytes around it and the text itself in order. The hash
//! covers the same bytes either way. The buffer is given back to the allocator when a burst
//! made it large, so a long run keeps what its steady state needs, not its peak.
//!
//! A follower (the checkpointer, through `Watch::follow`) may ask for every event queued from
//! then on: each is kept, as the caller got it, with the byte offset its line ends at, until
//! the follower takes them. Its `data` is shared, so a 16 MB capture is not copied for it.
//! At most [`FED_MOST`] are kept: past that they are let go and the follower is told so.
//!
//! When the writer ends it logs (at debug) how group commit went: syncs, events per sync,
//! time in write + `sync_data` (`bench/foreach-scale.sh` prints it).
//!
//! After a failed write the file may end in part of a batch, so the queue refuses every later
//! event and waiters past the watermark get the failure; reopening the journal quarantines
//! the partial line.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use sha2::{Digest, Sha256};

use super::JournalError;
use crate::journal::event::{Data, Event, Hashed, Kind, hex};
use crate::journal::lock::Lock;
use crate::journal::replay::Head;

/// An event as the caller asks for it, already redacted.
pub(super) struct Request {
    pub(super) kind: Kind,
    pub(super) step: Option<String>,
    /// Redacted, canonical JSON text.
    pub(super) data: Data,
    pub(super) actor: String,
}

#[derive(Default)]
pub(super) struct Stats {
    pub(super) events: AtomicU64,
    pub(super) syncs: AtomicU64,
}

/// What the queue lock guards: the chain's tip and the bytes waiting for the writer.
struct Pending {
    /// seq of the last event queued.
    seq: u64,
    /// hash of the last event queued.
    prev: String,
    buf: Vec<u8>,
    /// Large `data` texts left out of `buf`: each goes at its offset in `buf` (ascending).
    shared: Vec<(usize, Data)>,
    /// Events whose lines are in `buf`.
    queued: u64,
    /// No more events: the last handle is gone.
    closed: bool,
    /// Someone waits for a seq that is queued but not synced: sync now, do not linger.
    urgent: bool,
    /// The writer sleeps on `work` (nothing queued, or lingering): wake it when it matters.
    writer_waiting: bool,
    /// A write failed; every later event is refused.
    failed: Option<String>,
    /// Bytes of the file through the last event queued (where the next line starts).
    offset: u64,
    /// Every event queued since a follower asked ([`Queue::follow`]), until it takes them.
    fed: Feed,
}

/// An event as queued, for a follower that folds the events it needs instead of reading back
/// the lines just written: the same value the caller got (its `data` shared, not copied),
/// and the byte just past its line.
pub struct Fed {
    pub event: Event,
    pub end: u64,
}

/// What the queue keeps for a follower.
#[derive(Default)]
enum Feed {
    #[default]
    Off,
    On(Vec<Fed>),
    /// The follower fell [`FED_MOST`] events behind: they were let go (memory stays bounded
    /// whatever the follower does); it must read the file for them.
    Dropped,
}

/// The most events kept for a follower that does not take them (a few MB).
const FED_MOST: usize = 16_384;

/// What the durability lock guards.
#[derive(Clone)]
struct Durable {
    /// Every event with seq ≤ this is on disk and synced.
    through: u64,
    /// A write failed after `through`: nothing later will ever be durable.
    failed: Option<String>,
    /// The writer thread has ended.
    stopped: bool,
}

/// Shared by every [`super::Journal`] clone and the writer thread.
pub(super) struct Queue {
    path: PathBuf,
    started: Instant,
    pending: Mutex<Pending>,
    /// Wakes the writer thread when bytes are queued or the journal closes.
    work: Condvar,
    durable: Mutex<Durable>,
    /// Wakes blocking waiters when the watermark moves.
    synced: Condvar,
    /// Wakes async waiters when the watermark moves.
    notify: tokio::sync::Notify,
    pub(super) stats: Stats,
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding either lock leaves plain data behind (no invariant spans a
    // panic point), so a poisoned lock is still safe to use.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Queue {
    /// A queue whose file holds `offset` bytes, the last line event `seq` (hash `prev`).
    pub(super) fn new(path: PathBuf, seq: u64, prev: String, offset: u64) -> Self {
        Self {
            path,
            started: Instant::now(),
            pending: Mutex::new(Pending {
                seq,
                prev,
                buf: Vec::with_capacity(BUF),
                shared: Vec::new(),
                queued: 0,
                closed: false,
                urgent: false,
                writer_waiting: false,
                failed: None,
                offset,
                fed: Feed::Off,
            }),
            work: Condvar::new(),
            durable: Mutex::new(Durable {
                through: seq,
                failed: None,
                stopped: false,
            }),
            synced: Condvar::new(),
            notify: tokio::sync::Notify::new(),
            stats: Stats::default(),
        }
    }

    fn write_failed(&self, reason: String) -> JournalError {
        JournalError::WriteFailed {
            path: self.path.clone(),
            reason,
        }
    }

    /// Chain the event, queue its line for the writer, return it (final, not yet durable).
    pub(super) fn enqueue(&self, request: Request) -> Result<Event, JournalError> {
        let mut pending = lock(&self.pending);
        if let Some(reason) = &pending.failed {
            return Err(self.write_failed(reason.clone()));
        }
        if pending.closed {
            return Err(JournalError::Closed);
        }
        let now = Timestamp::now();
        let mut event = Event {
            seq: pending.seq + 1,
            at: now.round(jiff::Unit::Millisecond).unwrap_or(now),
            mono_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            actor: request.actor,
            kind: request.kind,
            step: request.step,
            data: request.data,
            prev: std::mem::take(&mut pending.prev),
            hash: String::new(),
        };
        let start = pending.buf.len();
        let big = event.data.get().len() >= SHARED_DATA;
        let data = if big {
            serde_json::value::RawValue::NULL
        } else {
            event.data.raw()
        };
        if let Err(e) = serde_json::to_writer(&mut pending.buf, &Hashed::of(&event, data)) {
            pending.buf.truncate(start);
            pending.prev = event.prev;
            return Err(JournalError::Io {
                path: self.path.clone(),
                source: std::io::Error::other(e),
            });
        }
        let mut hasher = Sha256::new();
        hasher.update(event.prev.as_bytes());
        let mut spliced = 0;
        match big
            .then(|| data_at(&pending.buf[start..], &event.prev))
            .flatten()
        {
            Some(at) => {
                // `…"data":null,"prev":…}` without the `null`: the text goes there.
                let at = start + at;
                pending.buf.drain(at..at + NULL.len());
                hasher.update(&pending.buf[start..at]);
                hasher.update(event.data.get().as_bytes());
                hasher.update(&pending.buf[at..]);
                pending.shared.push((at, event.data.clone()));
                spliced = event.data.get().len();
            }
            None if big => {
                // Unreachable (serde writes the fields in order); never a line without its data.
                pending.buf.truncate(start);
                pending.prev = event.prev;
                return Err(JournalError::Io {
                    path: self.path.clone(),
                    source: std::io::Error::other("the event line has no `data` to splice"),
                });
            }
            None => hasher.update(&pending.buf[start..]),
        }
        event.hash = hex(&hasher.finalize());
        // `{…,"prev":"…"}` becomes `{…,"prev":"…","hash":"…"}\n`: the line as serde writes
        // an `Event` (checked by a test below).
        pending.buf.pop();
        pending.buf.extend_from_slice(b",\"hash\":\"");
        pending.buf.extend_from_slice(event.hash.as_bytes());
        pending.buf.extend_from_slice(b"\"}\n");
        pending.seq = event.seq;
        pending.queued += 1;
        pending.prev.clone_from(&event.hash);
        pending.offset += (pending.buf.len() - start + spliced) as u64;
        let end = pending.offset;
        if let Feed::On(fed) = &mut pending.fed {
            if fed.len() < FED_MOST {
                fed.push(Fed {
                    event: event.clone(),
                    end,
                });
            } else {
                pending.fed = Feed::Dropped;
            }
        }
        // Only the first event of a batch wakes a sleeping writer (a lingering one is woken
        // by the batch filling up or by a waiter): no futex call per event.
        let wake = pending.writer_waiting && (pending.queued == 1 || pending.urgent);
        drop(pending);
        if wake {
            self.work.notify_one();
        }
        Ok(event)
    }

    /// The seq of the last event queued.
    pub(super) fn last_seq(&self) -> u64 {
        lock(&self.pending).seq
    }

    /// Keep every event queued from now on for [`Queue::take_fed`]; returns where the last
    /// event queued before ends (`seq`, `hash`, byte offset): the follower's starting point.
    pub(super) fn follow(&self) -> (u64, String, u64) {
        let mut pending = lock(&self.pending);
        pending.fed = Feed::On(Vec::new());
        (pending.seq, pending.prev.clone(), pending.offset)
    }

    /// The events queued since the last call (in seq order), or since [`Queue::follow`];
    /// `None` when the follower fell too far behind and they were let go (it follows no more).
    pub(super) fn take_fed(&self) -> Option<Vec<Fed>> {
        match &mut lock(&self.pending).fed {
            Feed::On(fed) => Some(std::mem::take(fed)),
            Feed::Off | Feed::Dropped => None,
        }
    }

    /// Keep no more events for a follower.
    pub(super) fn unfollow(&self) {
        lock(&self.pending).fed = Feed::Off;
    }

    /// No more events; the writer thread drains what is queued and ends.
    pub(super) fn close(&self) {
        lock(&self.pending).closed = true;
        self.work.notify_one();
    }

    /// Make the writer sync what is queued without lingering (someone waits for it, or it
    /// records a change that should not sit unsynced).
    pub(super) fn hurry(&self) {
        let mut pending = lock(&self.pending);
        pending.urgent = true;
        let wake = pending.writer_waiting;
        drop(pending);
        if wake {
            self.work.notify_one();
        }
    }

    /// `Some` once `seq` is durable (`Ok`) or never will be (`Err`).
    fn decided(&self, seq: u64) -> Option<Result<u64, JournalError>> {
        let durable = lock(&self.durable);
        Self::decide(&durable, seq).map(|r| r.map_err(|reason| self.closed_or_failed(reason)))
    }

    fn decide(durable: &Durable, seq: u64) -> Option<Result<u64, Option<String>>> {
        if durable.through >= seq {
            Some(Ok(durable.through))
        } else if let Some(reason) = &durable.failed {
            Some(Err(Some(reason.clone())))
        } else if durable.stopped {
            Some(Err(None))
        } else {
            None
        }
    }

    fn closed_or_failed(&self, reason: Option<String>) -> JournalError {
        reason.map_or(JournalError::Closed, |r| self.write_failed(r))
    }

    /// Whether `seq` is durable yet, without waiting (`Err` if it never will be).
    pub(super) fn is_durable(&self, seq: u64) -> Result<bool, JournalError> {
        self.decided(seq).map_or(Ok(false), |r| r.map(|_| true))
    }

    /// Wait until every event through `seq` is durable; returns the watermark.
    pub(super) async fn wait(&self, seq: u64) -> Result<u64, JournalError> {
        if let Some(result) = self.decided(seq) {
            return result;
        }
        self.hurry();
        loop {
            // Register interest before checking, so a sync between the check and the await
            // still wakes this task.
            let notified = self.notify.notified();
            let mut notified = std::pin::pin!(notified);
            notified.as_mut().enable();
            if let Some(result) = self.decided(seq) {
                return result;
            }
            notified.await;
        }
    }

    /// [`Queue::wait`] for plain threads.
    pub(super) fn wait_blocking(&self, seq: u64) -> Result<u64, JournalError> {
        if let Some(result) = self.decided(seq) {
            return result;
        }
        self.hurry();
        self.wait_lazily(seq)
    }

    /// [`Queue::wait_blocking`] without hurrying the writer: for a follower that must not
    /// cost the engine a sync.
    pub(super) fn wait_lazily(&self, seq: u64) -> Result<u64, JournalError> {
        let mut durable = lock(&self.durable);
        loop {
            if let Some(result) = Self::decide(&durable, seq) {
                return result.map_err(|reason| self.closed_or_failed(reason));
            }
            durable = self
                .synced
                .wait(durable)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    fn publish(&self, change: impl FnOnce(&mut Durable)) {
        change(&mut lock(&self.durable));
        self.synced.notify_all();
        self.notify.notify_waiters();
    }
}

/// How long the writer may hold a batch open while nobody waits for it. Events nobody waits
/// for are reads' records and outcomes a pipelined run reports later (see
/// `engine::recorder`); gathering them costs no one latency and saves a sync (a virtio
/// round trip and CPU on both cores) per event. A waiter ends the linger at once.
const LINGER: Duration = Duration::from_millis(2);
/// A batch this big is written at once, linger or not.
const LINGER_BYTES: usize = 256 << 10;
/// The buffer's usual capacity; one grown past [`SHRINK_PAST`] by a burst is freed after
/// its write and replaced by one of this size.
const BUF: usize = 64 << 10;
const SHRINK_PAST: usize = 4 * LINGER_BYTES;
/// `data` at least this long is written from the event's shared text, not copied into the
/// buffer (a step outcome with a large capture; exchanges are a few hundred bytes).
const SHARED_DATA: usize = 64 << 10;
const NULL: &[u8] = b"null";

/// Where `null` (the placeholder for `data`) starts in `line`, the hashed form of an event
/// whose `prev` is `prev`: just before its closing `,"prev":"…"}`.
fn data_at(line: &[u8], prev: &str) -> Option<usize> {
    let tail = format!(",\"prev\":{}}}", serde_json::to_string(prev).ok()?);
    let at = line.len().checked_sub(tail.len() + NULL.len())?;
    (line.ends_with(tail.as_bytes()) && line[at..].starts_with(NULL)).then_some(at)
}

/// One swap of the queue: the lines, the large texts that go inside them, and the chain's tip.
#[derive(Default)]
pub(super) struct Batch {
    buf: Vec<u8>,
    shared: Vec<(usize, Data)>,
    seq: u64,
    hash: String,
    events: u64,
}

impl Batch {
    /// Write the batch in order: the lines, each large text at its place.
    fn write_to(&self, file: &mut File) -> std::io::Result<()> {
        let mut from = 0;
        for (at, data) in &self.shared {
            file.write_all(&self.buf[from..*at])?;
            file.write_all(data.get().as_bytes())?;
            from = *at;
        }
        file.write_all(&self.buf[from..])
    }
}

/// How group commit went, logged when the writer ends (`STANCH_LOG=stanch=debug`): the
/// figures that say whether syncs are shared as widely as they can be, and what they cost.
#[derive(Default)]
struct Syncs {
    count: u64,
    events: u64,
    most_events: u64,
    /// Time in `write` + `sync_data`.
    busy: Duration,
    longest: Duration,
}

impl Syncs {
    fn add(&mut self, took: Duration, events: u64) {
        self.count += 1;
        self.events += events;
        self.most_events = self.most_events.max(events);
        self.busy += took;
        self.longest = self.longest.max(took);
    }

    fn log(&self, path: &std::path::Path) {
        if self.count == 0 {
            return;
        }
        // Tenths, in integers: `12.3` events per sync.
        let tenths = self.events * 10 / self.count;
        tracing::debug!(
            path = %path.display(),
            events = self.events,
            syncs = self.count,
            events_per_sync = format!("{}.{}", tenths / 10, tenths % 10),
            most_events = self.most_events,
            write_sync_ms = self.busy.as_millis(),
            mean_sync_us = (self.busy / u32::try_from(self.count).unwrap_or(u32::MAX)).as_micros(),
            longest_sync_ms = self.longest.as_millis(),
            "journal writer: group commit"
        );
    }
}

/// Wait for the next batch and swap it into `batch`: `false` once closed and drained.
fn take_batch(queue: &Queue, batch: &mut Batch) -> bool {
    let mut pending = lock(&queue.pending);
    let mut deadline: Option<Instant> = None;
    loop {
        if pending.buf.is_empty() {
            if pending.closed {
                return false;
            }
            deadline = None;
            pending = sleep(queue, pending, None);
            continue;
        }
        let now = Instant::now();
        let until = *deadline.get_or_insert(now + LINGER);
        if pending.urgent || pending.closed || pending.buf.len() >= LINGER_BYTES || now >= until {
            break;
        }
        pending = sleep(queue, pending, Some(until - now));
    }
    pending.urgent = false;
    batch.buf.clear();
    std::mem::swap(&mut pending.buf, &mut batch.buf);
    batch.shared.clear();
    std::mem::swap(&mut pending.shared, &mut batch.shared);
    batch.events = std::mem::take(&mut pending.queued);
    batch.seq = pending.seq;
    batch.hash.clone_from(&pending.prev);
    true
}

fn sleep<'a>(
    queue: &Queue,
    mut pending: MutexGuard<'a, Pending>,
    timeout: Option<Duration>,
) -> MutexGuard<'a, Pending> {
    pending.writer_waiting = true;
    let mut pending = match timeout {
        None => queue
            .work
            .wait(pending)
            .unwrap_or_else(PoisonError::into_inner),
        Some(timeout) => {
            queue
                .work
                .wait_timeout(pending, timeout)
                .unwrap_or_else(PoisonError::into_inner)
                .0
        }
    };
    pending.writer_waiting = false;
    pending
}

/// The writer thread's state: the only code that touches the journal file once open.
pub(super) struct Writer {
    pub(super) queue: Arc<Queue>,
    pub(super) file: File,
    pub(super) head: File,
    // Never read: the thread holding it is what keeps the incident locked.
    pub(super) _lock: Lock,
}

impl Writer {
    pub(super) fn run(mut self) {
        let queue = Arc::clone(&self.queue);
        let mut batch = Batch {
            buf: Vec::with_capacity(BUF),
            ..Batch::default()
        };
        let mut syncs = Syncs::default();
        while take_batch(&queue, &mut batch) {
            let began = Instant::now();
            let written = batch
                .write_to(&mut self.file)
                .and_then(|()| self.file.sync_data());
            syncs.add(began.elapsed(), batch.events);
            // The large texts are the events' own: let them go once written.
            batch.shared.clear();
            if batch.buf.capacity() > SHRINK_PAST {
                batch.buf = Vec::with_capacity(BUF);
            }
            if let Err(e) = written {
                // The file may now end in part of this batch: stop here, a reopen quarantines it.
                let reason = e.to_string();
                lock(&queue.pending).failed = Some(reason.clone());
                queue.publish(|d| d.failed = Some(reason));
                continue;
            }
            queue
                .stats
                .events
                .fetch_add(batch.events, Ordering::Relaxed);
            queue.stats.syncs.fetch_add(1, Ordering::Relaxed);
            let seq = batch.seq;
            self.write_head(seq, &batch.hash);
            queue.publish(|d| d.through = seq);
        }
        queue.publish(|d| d.stopped = true);
        syncs.log(&queue.path);
    }

    /// Record the last durable event in `journal.head`. Not synced: it may lag after a power
    /// loss (harmless) but, written after the journal's sync, it never leads. Its length
    /// never shrinks (seq only grows), so overwriting in place needs no truncate.
    fn write_head(&mut self, seq: u64, hash: &str) {
        let Ok(mut line) = serde_json::to_vec(&Head {
            seq,
            hash: hash.to_owned(),
        }) else {
            return;
        };
        line.push(b'\n');
        let written = self
            .head
            .seek(SeekFrom::Start(0))
            .and_then(|_| self.head.write_all(&line));
        if let Err(e) = written {
            tracing::warn!(path = %self.queue.path.display(), error = %e, "could not update journal.head");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::event::GENESIS;

    fn request(text: &str) -> Request {
        Request {
            kind: Kind::Note,
            step: Some("s".into()),
            data: crate::journal::event::raw_data(
                &serde_json::json!({ "text": text, "quote": "\"\n<>" }),
            ),
            actor: "alice".into(),
        }
    }

    fn start(dir: &std::path::Path, file: File) -> (Arc<Queue>, std::thread::JoinHandle<()>) {
        let queue = Arc::new(Queue::new(
            dir.join("journal.jsonl"),
            0,
            GENESIS.to_owned(),
            0,
        ));
        let writer = Writer {
            queue: Arc::clone(&queue),
            file,
            head: File::create(dir.join("journal.head")).unwrap(),
            _lock: Lock::acquire(dir, "alice").unwrap(),
        };
        (queue, std::thread::spawn(move || writer.run()))
    }

    #[test]
    fn the_spliced_line_is_exactly_what_serde_writes_for_the_event() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("journal.jsonl")).unwrap();
        let (queue, thread) = start(dir.path(), file);
        let a = queue.enqueue(request("a")).unwrap();
        let b = queue.enqueue(request("b")).unwrap();
        assert_eq!(queue.wait_blocking(b.seq).unwrap(), 2);
        queue.close();
        thread.join().unwrap();
        let text = std::fs::read_to_string(dir.path().join("journal.jsonl")).unwrap();
        let expected = format!(
            "{}\n{}\n",
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
        assert_eq!(text, expected);
        assert_eq!(a.hash, a.compute_hash());
        assert_eq!(b.prev, a.hash);
        assert_eq!(
            crate::journal::replay::read_head(dir.path()).map(|h| h.seq),
            Some(2)
        );
    }

    #[test]
    fn a_large_data_is_written_from_its_shared_text_as_the_same_line() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("journal.jsonl")).unwrap();
        let (queue, thread) = start(dir.path(), file);
        let big = "x\"y".repeat(SHARED_DATA);
        let a = queue.enqueue(request("a")).unwrap();
        let b = queue.enqueue(request(&big)).unwrap();
        let c = queue.enqueue(request(&big[1..])).unwrap();
        let d = queue.enqueue(request("d")).unwrap();
        assert_eq!(queue.wait_blocking(d.seq).unwrap(), 4);
        queue.close();
        thread.join().unwrap();
        let text = std::fs::read_to_string(dir.path().join("journal.jsonl")).unwrap();
        let expected: String = [&a, &b, &c, &d]
            .iter()
            .map(|e| serde_json::to_string(e).unwrap() + "\n")
            .collect();
        assert!(text == expected, "the lines differ from serde's");
        for e in [&a, &b, &c, &d] {
            assert_eq!(e.hash, e.compute_hash(), "seq {}", e.seq);
        }
        assert_eq!((b.prev.as_str(), c.prev.as_str()), (&*a.hash, &*b.hash));
        assert_eq!(
            crate::journal::replay::read_head(dir.path()).map(|h| h.seq),
            Some(4)
        );
    }

    #[test]
    fn the_watermark_covers_every_event_queued_before_a_sync() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("journal.jsonl")).unwrap();
        let (queue, thread) = start(dir.path(), file);
        let seqs: Vec<u64> = (0..50)
            .map(|i| queue.enqueue(request(&i.to_string())).unwrap().seq)
            .collect();
        assert_eq!(queue.wait_blocking(50).unwrap(), 50);
        assert!(seqs.iter().all(|&s| queue.is_durable(s).unwrap()));
        let syncs = queue.stats.syncs.load(Ordering::Relaxed);
        assert!((1..=50).contains(&syncs), "{syncs} syncs");
        assert_eq!(queue.stats.events.load(Ordering::Relaxed), 50);
        queue.close();
        thread.join().unwrap();
        // Once the writer is gone, a seq that was never queued is refused, not waited for.
        assert!(matches!(queue.wait_blocking(51), Err(JournalError::Closed)));
    }

    #[test]
    fn a_follower_gets_every_event_queued_with_its_end_or_none_once_too_far_behind() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("journal.jsonl")).unwrap();
        let (queue, thread) = start(dir.path(), file);
        queue.enqueue(request("before")).unwrap();
        let (seq, _, offset) = queue.follow();
        assert_eq!(seq, 1);
        let a = queue.enqueue(request("a")).unwrap();
        let b = queue.enqueue(request("b")).unwrap();
        let fed = queue.take_fed().unwrap();
        assert_eq!(fed.iter().map(|f| f.event.seq).collect::<Vec<_>>(), [2, 3]);
        assert_eq!(fed[0].event, a);
        // Each end is where the line ends in the file.
        let line = |e: &Event| serde_json::to_string(e).unwrap().len() as u64 + 1;
        assert_eq!(fed[0].end, offset + line(&a));
        assert_eq!(fed[1].end, offset + line(&a) + line(&b));
        assert!(queue.take_fed().unwrap().is_empty());
        // A follower that does not take them: kept up to FED_MOST, then let go.
        for i in 0..=FED_MOST {
            queue.enqueue(request(&i.to_string())).unwrap();
        }
        assert!(queue.take_fed().is_none());
        queue.enqueue(request("after")).unwrap();
        assert!(
            queue.take_fed().is_none(),
            "a dropped follower gets no more"
        );
        queue.wait_blocking(queue.last_seq()).unwrap();
        // Written as fed: the file holds `a` and `b` just where their ends said.
        let text = std::fs::read(dir.path().join("journal.jsonl")).unwrap();
        assert_eq!(text[usize::try_from(fed[1].end).unwrap() - 1], b'\n');
        assert_eq!(
            &text[usize::try_from(offset).unwrap()..usize::try_from(fed[1].end).unwrap()],
            format!(
                "{}\n{}\n",
                serde_json::to_string(&a).unwrap(),
                serde_json::to_string(&b).unwrap()
            )
            .as_bytes()
        );
        queue.close();
        thread.join().unwrap();
    }

    #[test]
    fn after_a_failed_write_every_later_event_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("journal.jsonl"), b"").unwrap();
        // Read-only: the write fails as a full disk or a yanked device would.
        let file = File::open(dir.path().join("journal.jsonl")).unwrap();
        let (queue, thread) = start(dir.path(), file);
        let lost = queue.enqueue(request("lost")).unwrap();
        let err = queue.wait_blocking(lost.seq).unwrap_err();
        assert!(matches!(err, JournalError::WriteFailed { .. }), "{err}");
        assert!(matches!(
            queue.enqueue(request("after")),
            Err(JournalError::WriteFailed { .. })
        ));
        assert!(queue.is_durable(lost.seq).is_err());
        queue.close();
        thread.join().unwrap();
    }
}
