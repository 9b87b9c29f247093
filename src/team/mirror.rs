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
//! cannot write into it at the same time. Its writes are blocking file I/O; [`sync`] moves
//! them off the executor on a multi-threaded runtime.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use super::TeamError;
use super::chain::{Chain, Fetched};
use crate::journal::Event;
use crate::journal::lock::{Lock, LockError};
use crate::journal::replay::{HEAD_FILE, Head};
use crate::journal::shared::off_the_executor;
use crate::journal::stream;
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
        Self::open_with(dir, actor, |_| {})
    }

    /// [`Mirror::open`], handing each good event to `each` as the one pass that checks the
    /// mirror reads it (the session folds its claims there), keeping none.
    pub fn open_with(dir: &Path, actor: &str, each: impl FnMut(Event)) -> Result<Self, TeamError> {
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
        let streamed = stream::stream(dir, each).map_err(|source| TeamError::Mirror {
            path: path.clone(),
            source,
        })?;
        if let Some(broken) = streamed.broken {
            return Err(TeamError::MirrorBroken { path, broken });
        }
        if streamed.torn_bytes > 0 {
            file.set_len(streamed.good_len)
                .and_then(|()| file.sync_all())
                .map_err(|source| TeamError::Mirror {
                    path: path.clone(),
                    source,
                })?;
        }
        Ok(Self {
            dir: dir.to_path_buf(),
            file,
            seq: streamed.last_seq,
            hash: streamed.last_hash,
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
    check_held(chain, seq, hash).await
}

/// The "journal rewritten" rule, for any `(seq, hash)` this client verified (seq 0 is the
/// genesis, always held): the server must still hold that hash at that seq.
pub async fn check_held(chain: &Chain, seq: u64, hash: &str) -> Result<(), TeamError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Journal, Kind, NewEvent};

    /// Three events as the file journal writes them, with their lines.
    fn file_journal_lines(dir: &Path) -> Vec<Fetched> {
        let journal = Journal::create(dir, "alice").unwrap();
        for text in ["one", "two", "three"] {
            journal
                .append_blocking(NewEvent::new(
                    Kind::Note,
                    serde_json::json!({"text": text, "tags": []}),
                ))
                .unwrap();
        }
        drop(journal);
        std::fs::read(dir.join(JOURNAL_FILE))
            .unwrap()
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty())
            .map(|line| Fetched {
                event: serde_json::from_slice(line).unwrap(),
                line: line.to_vec(),
            })
            .collect()
    }

    #[test]
    fn applying_is_idempotent_by_seq_and_the_copy_is_byte_identical() {
        let tmp = tempfile::tempdir().unwrap();
        let fetched = file_journal_lines(&tmp.path().join("file"));
        let dir = tmp.path().join("mirror");
        let mut mirror = Mirror::open(&dir, "alice").unwrap();
        mirror.apply("INC", &fetched[..2]).unwrap();
        // Overlap: 1 and 2 again, then 3.
        mirror.apply("INC", &fetched).unwrap();
        assert_eq!(mirror.last(), (3, fetched[2].event.hash.as_str()));
        assert_eq!(
            std::fs::read(dir.join(JOURNAL_FILE)).unwrap(),
            std::fs::read(tmp.path().join("file").join(JOURNAL_FILE)).unwrap()
        );
        assert!(crate::journal::verify(&dir).unwrap().is_ok());
        // Reopened, it remembers where it was.
        drop(mirror);
        let mut mirror = Mirror::open(&dir, "alice").unwrap();
        assert_eq!(mirror.last().0, 3);
        // The same seq with another hash is the rewritten alarm, and nothing is written.
        let mut forged = fetched[2].clone();
        forged.event.hash = "f".repeat(64);
        let err = mirror.apply("INC", &[forged]).unwrap_err();
        assert!(matches!(err, TeamError::Rewritten { seq: 3, .. }), "{err}");
        assert_eq!(crate::journal::read(&dir).unwrap().len(), 3);
    }

    #[test]
    fn a_torn_last_line_is_cut_and_damage_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let fetched = file_journal_lines(&tmp.path().join("file"));
        let dir = tmp.path().join("mirror");
        let mut mirror = Mirror::open(&dir, "alice").unwrap();
        mirror.apply("INC", &fetched[..2]).unwrap();
        drop(mirror);
        let path = dir.join(JOURNAL_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(&fetched[2].line[..20]);
        std::fs::write(&path, &bytes).unwrap();
        let mut mirror = Mirror::open(&dir, "alice").unwrap();
        assert_eq!(mirror.last().0, 2, "the torn line is gone");
        mirror.apply("INC", &fetched[2..]).unwrap();
        assert!(crate::journal::verify(&dir).unwrap().is_ok());
        drop(mirror);
        let text = std::fs::read_to_string(&path)
            .unwrap()
            .replace("two", "TWO");
        std::fs::write(&path, text).unwrap();
        let err = Mirror::open(&dir, "alice")
            .err()
            .expect("damage is refused");
        assert!(matches!(err, TeamError::MirrorBroken { .. }), "{err}");
    }
}
