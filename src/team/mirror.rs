//! The local mirror of a shared chain: `<data>/incidents/<id>/journal.jsonl` and
//! `journal.head`, byte for byte what the file journal would have written, so `stanch verify`
//! and `stanch export` read it unchanged and work offline.
//!
//! Only verified events are written (see [`Chain::fetch_after`]), in seq order, appended and
//! synced before `journal.head` moves; applying is idempotent by seq (an event already here
//! must carry the same hash). The mirror remembers the last `(seq, hash)` it verified; when the
//! server no longer holds that hash at that seq, [`sync`] returns
//! [`TeamError::Rewritten`], the "journal rewritten" alarm, and writes nothing. A torn last
//! line (a crash mid-write) is cut, since the server still has the event; damage elsewhere is
//! [`TeamError::MirrorBroken`] and the file is left as it is.
//!
//! The mirror holds the incident directory's writer lock while open, so a local `stanch run`
//! cannot write into it at the same time.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::TeamError;
use super::chain::{Chain, Fetched};
use crate::journal::Event;
use crate::journal::lock::{Lock, LockError};
use crate::journal::replay::{self, HEAD_FILE, Head};
use crate::journal::writer::JOURNAL_FILE;

/// Events fetched per round trip while catching up.
const FETCH_BATCH: i64 = 5_000;

pub struct Mirror {
    dir: PathBuf,
    file: File,
    seq: u64,
    hash: String,
    _lock: Lock,
}

impl Mirror {
    /// Open (or start) the mirror in `dir`, taking its writer lock as `actor`.
    pub fn open(dir: &Path, actor: &str) -> Result<Self, TeamError> {
        let io = |source| TeamError::Mirror {
            path: dir.to_path_buf(),
            source,
        };
        std::fs::create_dir_all(dir).map_err(io)?;
        let lock = Lock::acquire(dir, actor).map_err(|e| match e {
            LockError::Held { holder, .. } => TeamError::MirrorInUse {
                path: dir.to_path_buf(),
                holder,
            },
            LockError::Io { source, .. } => TeamError::Mirror {
                path: dir.to_path_buf(),
                source,
            },
        })?;
        let path = dir.join(JOURNAL_FILE);
        let file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(&path)
            .map_err(|source| TeamError::Mirror {
                path: path.clone(),
                source,
            })?;
        let (_, replayed) = replay::replay_file(dir).map_err(|source| TeamError::Mirror {
            path: path.clone(),
            source,
        })?;
        if let Some(broken) = replayed.broken {
            return Err(TeamError::MirrorBroken { path, broken });
        }
        if replayed.torn_bytes > 0 {
            file.set_len(replayed.good_len)
                .and_then(|()| file.sync_all())
                .map_err(|source| TeamError::Mirror {
                    path: path.clone(),
                    source,
                })?;
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            file,
            seq: replayed.last_seq(),
            hash: replayed.last_hash().to_owned(),
            _lock: lock,
        })
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The last event verified here: `(0, 64 zeros)` for an empty mirror.
    pub fn last(&self) -> (u64, &str) {
        (self.seq, &self.hash)
    }

    /// Write verified events (in seq order, following on from [`Mirror::last`]); events at or
    /// below the last seq are skipped if they match and an alarm if they do not.
    pub fn apply(&mut self, incident: &str, fetched: &[Fetched]) -> Result<(), TeamError> {
        let mut buf = Vec::new();
        let (mut seq, mut hash) = (self.seq, self.hash.clone());
        for f in fetched {
            if f.event.seq <= seq {
                if f.event.seq == seq && f.event.hash != hash {
                    return Err(TeamError::Rewritten {
                        incident: incident.to_owned(),
                        seq,
                        expected: hash,
                        found: format!("holds hash {}", f.event.hash),
                    });
                }
                continue;
            }
            buf.extend_from_slice(&f.line);
            buf.push(b'\n');
            seq = f.event.seq;
            hash.clone_from(&f.event.hash);
        }
        if buf.is_empty() {
            return Ok(());
        }
        let path = self.dir.join(JOURNAL_FILE);
        let io = |source| TeamError::Mirror {
            path: path.clone(),
            source,
        };
        self.file.write_all(&buf).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        self.seq = seq;
        self.hash = hash;
        self.write_head()
    }

    fn write_head(&self) -> Result<(), TeamError> {
        let path = self.dir.join(HEAD_FILE);
        let mut line = serde_json::to_vec(&Head {
            seq: self.seq,
            hash: self.hash.clone(),
        })
        .unwrap_or_default();
        line.push(b'\n');
        // Like the file writer's head: written after the journal's sync and never synced
        // itself, so it can lag the journal but never lead it.
        std::fs::write(&path, line).map_err(|source| TeamError::Mirror { path, source })
    }
}

/// Catch the mirror up with the server: first check that the server still holds the hash this
/// mirror verified last ("journal rewritten" otherwise), then fetch and verify everything after
/// it in batches. `on_batch` sees each batch once it is written. Returns how many were new.
pub async fn sync(
    chain: &Chain,
    mirror: &mut Mirror,
    mut on_batch: impl FnMut(&[Event]),
) -> Result<u64, TeamError> {
    check_remembered(chain, mirror).await?;
    let mut count = 0;
    loop {
        let (seq, hash) = mirror.last();
        let batch = chain.fetch_after(seq, hash, FETCH_BATCH).await?;
        if batch.is_empty() {
            return Ok(count);
        }
        // The write and its sync block; on a multi-threaded runtime, tell it so that other
        // tasks (the UI, the engine) move to another worker meanwhile.
        off_the_executor(|| mirror.apply(chain.incident(), &batch))?;
        count += batch.len() as u64;
        let events: Vec<Event> = batch.into_iter().map(|f| f.event).collect();
        on_batch(&events);
    }
}

/// The "journal rewritten" check: the server must still hold, at the last seq verified here,
/// the hash verified here.
pub async fn check_remembered(chain: &Chain, mirror: &Mirror) -> Result<(), TeamError> {
    let (seq, hash) = mirror.last();
    if seq == 0 {
        return Ok(());
    }
    match chain.hash_at(seq).await? {
        Some(found) if found == hash => Ok(()),
        found => Err(TeamError::Rewritten {
            incident: chain.incident().to_owned(),
            seq,
            expected: hash.to_owned(),
            found: found.map_or_else(
                || "has no such event".to_owned(),
                |h| format!("holds hash {h}"),
            ),
        }),
    }
}

fn off_the_executor<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}
