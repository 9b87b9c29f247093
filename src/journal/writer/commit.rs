//! The writer thread: group commit. It owns the journal file once open; every request that
//! is waiting when it wakes goes into one `write_all` and one `sync_data`, and each is
//! acknowledged only after that sync.
//!
//! ```text
//! recv (block) ─▶ try_recv until empty (≤ MAX_BATCH) ─▶ seq, prev, hash each
//!   ─▶ write_all ─▶ sync_data ─▶ journal.head ─▶ ack each ─▶ recv …
//! ```
//!
//! After a failed write the file may end in part of a batch, so the thread refuses every
//! later request; reopening the journal quarantines the partial line.

use std::fs::File;
use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, mpsc};
use std::time::Instant;

use jiff::Timestamp;

use super::JournalError;
use crate::journal::event::{Event, Kind};
use crate::journal::lock::Lock;
use crate::journal::replay::Head;

/// Most requests one group commit takes, so one huge burst cannot delay acks unboundedly.
const MAX_BATCH: usize = 4096;
pub(super) type Ack = Result<Event, JournalError>;

pub(super) enum Reply {
    Blocking(mpsc::SyncSender<Ack>),
    Async(tokio::sync::oneshot::Sender<Ack>),
}

impl Reply {
    fn send(self, ack: Ack) {
        // A caller that stopped waiting (a cancelled future) still had its event recorded.
        let _ = match self {
            Reply::Blocking(tx) => tx.send(ack).map_err(drop),
            Reply::Async(tx) => tx.send(ack).map_err(drop),
        };
    }
}

/// A request already redacted, waiting for its seq.
pub(super) struct Request {
    pub(super) kind: Kind,
    pub(super) step: Option<String>,
    pub(super) data: serde_json::Value,
    pub(super) actor: String,
    pub(super) reply: Reply,
}

#[derive(Default)]
pub(super) struct Stats {
    pub(super) events: AtomicU64,
    pub(super) syncs: AtomicU64,
}

/// The writer thread's state: the only code that touches the journal file once open.
pub(super) struct Writer {
    pub(super) path: PathBuf,
    pub(super) file: File,
    pub(super) head: File,
    pub(super) seq: u64,
    pub(super) prev: String,
    pub(super) started: Instant,
    pub(super) failed: Option<String>,
    pub(super) stats: Arc<Stats>,
    pub(super) buf: Vec<u8>,
    // Never read: the thread holding it is what keeps the incident locked.
    pub(super) _lock: Lock,
}

impl Writer {
    pub(super) fn run(&mut self, request_rx: &mpsc::Receiver<Request>) {
        while let Ok(first) = request_rx.recv() {
            let mut batch = vec![first];
            while batch.len() < MAX_BATCH {
                match request_rx.try_recv() {
                    Ok(request) => batch.push(request),
                    Err(_) => break,
                }
            }
            match self.commit(&mut batch) {
                Ok(events) => {
                    for (request, event) in batch.into_iter().zip(events) {
                        request.reply.send(Ok(event));
                    }
                }
                Err(reason) => {
                    for request in batch {
                        request.reply.send(Err(JournalError::WriteFailed {
                            path: self.path.clone(),
                            reason: reason.clone(),
                        }));
                    }
                }
            }
        }
    }

    /// Chain, write and sync a batch; `Err` is the reason, shared by every request in it.
    fn commit(&mut self, batch: &mut [Request]) -> Result<Vec<Event>, String> {
        if let Some(reason) = &self.failed {
            return Err(reason.clone());
        }
        let now = Timestamp::now();
        let at = now.round(jiff::Unit::Millisecond).unwrap_or(now);
        let mono_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let mut prev = self.prev.clone();
        let mut events = Vec::with_capacity(batch.len());
        self.buf.clear();
        for (n, request) in (1..).zip(batch) {
            let mut event = Event {
                seq: self.seq + n,
                at,
                mono_ms,
                actor: std::mem::take(&mut request.actor),
                kind: request.kind,
                step: request.step.take(),
                data: request.data.take(),
                prev: std::mem::take(&mut prev),
                hash: String::new(),
            };
            event.hash = event.compute_hash();
            serde_json::to_writer(&mut self.buf, &event).map_err(|e| e.to_string())?;
            self.buf.push(b'\n');
            prev.clone_from(&event.hash);
            events.push(event);
        }
        let written = self
            .file
            .write_all(&self.buf)
            .and_then(|()| self.file.sync_data());
        if let Err(e) = written {
            // The file may now end in part of this batch: stop here, a reopen quarantines it.
            let reason = e.to_string();
            self.failed = Some(reason.clone());
            return Err(reason);
        }
        self.seq += events.len() as u64;
        self.prev = prev;
        self.stats
            .events
            .fetch_add(events.len() as u64, Ordering::Relaxed);
        self.stats.syncs.fetch_add(1, Ordering::Relaxed);
        self.write_head();
        Ok(events)
    }

    /// Record the last durable event in `journal.head`. Not synced: it may lag after a power
    /// loss (harmless) but, written after the journal's sync, it never leads. Its length
    /// never shrinks (seq only grows), so overwriting in place needs no truncate.
    fn write_head(&mut self) {
        let head = Head {
            seq: self.seq,
            hash: self.prev.clone(),
        };
        let Ok(mut line) = serde_json::to_vec(&head) else {
            return;
        };
        line.push(b'\n');
        let written = self
            .head
            .seek(SeekFrom::Start(0))
            .and_then(|_| self.head.write_all(&line));
        if let Err(e) = written {
            tracing::warn!(path = %self.path.display(), error = %e, "could not update journal.head");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::event::GENESIS;

    fn request(text: &str) -> (Request, mpsc::Receiver<Ack>) {
        let (ack_tx, ack_rx) = mpsc::sync_channel(1);
        let request = Request {
            kind: Kind::Note,
            step: None,
            data: serde_json::json!({ "text": text }),
            actor: "alice".into(),
            reply: Reply::Blocking(ack_tx),
        };
        (request, ack_rx)
    }

    fn writer(dir: &std::path::Path, file: File) -> Writer {
        Writer {
            path: dir.join("journal.jsonl"),
            file,
            head: File::create(dir.join("journal.head")).unwrap(),
            seq: 0,
            prev: GENESIS.to_owned(),
            started: Instant::now(),
            failed: None,
            stats: Arc::default(),
            buf: Vec::new(),
            _lock: Lock::acquire(dir, "alice").unwrap(),
        }
    }

    #[test]
    fn one_batch_is_one_sync_and_acks_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = File::create(dir.path().join("journal.jsonl")).unwrap();
        let mut writer = writer(dir.path(), file);
        let (request_tx, request_rx) = mpsc::channel();
        let acks: Vec<_> = ["a", "b", "c"]
            .into_iter()
            .map(|text| {
                let (request, ack_rx) = request(text);
                request_tx.send(request).unwrap();
                ack_rx
            })
            .collect();
        drop(request_tx);
        writer.run(&request_rx);
        let events: Vec<Event> = acks.iter().map(|a| a.recv().unwrap().unwrap()).collect();
        assert_eq!(events.iter().map(|e| e.seq).collect::<Vec<_>>(), [1, 2, 3]);
        assert_eq!(events[1].prev, events[0].hash);
        assert_eq!(writer.stats.syncs.load(Ordering::Relaxed), 1);
        assert_eq!(
            crate::journal::replay::read_head(dir.path()).map(|h| h.seq),
            Some(3)
        );
    }

    #[test]
    fn after_a_failed_write_every_later_request_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("journal.jsonl"), b"").unwrap();
        // Read-only: the write fails as a full disk or a yanked device would.
        let file = File::open(dir.path().join("journal.jsonl")).unwrap();
        let mut writer = writer(dir.path(), file);
        let (mut first, _) = request("lost");
        assert!(writer.commit(std::slice::from_mut(&mut first)).is_err());
        let (mut second, _) = request("after");
        let err = writer
            .commit(std::slice::from_mut(&mut second))
            .unwrap_err();
        assert_eq!(Some(err), writer.failed.clone());
        assert_eq!((writer.seq, writer.prev.as_str()), (0, GENESIS));
    }
}
