//! Checkpoints: an incident's folded state through some seq, saved beside the journal, so that
//! opening a journal of millions of events reads only the events after it.
//!
//! ```text
//! checkpoints/<seq>.json   {"format":1,"seq":N,"hash":"<hash of event N>","offset":O,"state":{…}}
//!        │ sha256                           O = byte just past event N's line
//!        ▼
//! journal.jsonl  … event N … event M {"kind":"checkpoint","data":{"seq":N,"sha256":…,"format":1,"file":…}} … end
//! ```
//!
//! Writing ([`write`]): the file first (create-new under a temporary name, synced, renamed into
//! place, the directory synced), then the caller appends the `checkpoint` event naming its seq,
//! SHA-256 and format. The event follows the file, so a crash between the two leaves a file no
//! event names, which nothing ever uses; a file is trusted only through the event.
//!
//! Reading: [`find_last`] scans the journal back from its end (never the whole file forward)
//! to the last line that is a `checkpoint` event; [`load`] reads the file it names and accepts
//! it only when its SHA-256, format and seq are the event's and the seq is before the event.
//! The caller then streams the journal from the file's [`Position`] and must see event M (the
//! `checkpoint` event) go by with the hash [`find_last`] read: only then is that event part of
//! the chain it read. Any miss is a [`Fallback`], and the caller replays the whole journal.
//!
//! This module never interprets the state (it is the incident's serde form, opaque here) and
//! never decides when to checkpoint (`store::checkpoint` does). Files are private
//! ([`crate::private`]). `verify` checks every file the chain names with [`check`].

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use serde_json::value::RawValue;

use sha2::{Digest, Sha256};

use super::event::{Event, Kind, hex, sha256_hex};
use super::payload::{Checkpoint, Payload};
use super::stream::Position;
use super::writer::JOURNAL_FILE;

/// The file format written; a file of another format is not read (the journal is replayed).
pub const FORMAT: u32 = 1;
/// The directory, inside the incident's, that holds the files.
pub const DIR: &str = "checkpoints";

/// How far back [`find_last`] reads at a time.
const CHUNK: u64 = 1 << 20;
/// How every `checkpoint` event's line spells its kind (serde writes no spaces).
const NEEDLE: &[u8] = b"\"kind\":\"checkpoint\"";

/// Why a checkpoint was not used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fallback {
    #[error("{file} is missing")]
    Missing { file: String },
    #[error("{file} cannot be read: {reason}")]
    Unreadable { file: String, reason: String },
    #[error("{file} is not the file the journal recorded at seq {event_seq} (SHA-256 differs)")]
    Sha256 { file: String, event_seq: u64 },
    #[error("{file} is format {found}; this stanch reads format {FORMAT}")]
    Format { file: String, found: u32 },
    #[error("{file} does not hold the state through seq {seq} that the journal recorded")]
    Seq { file: String, seq: u64 },
    #[error("the checkpoint event at seq {event_seq} names seq {seq}, which is not before it")]
    PastEnd { event_seq: u64, seq: u64 },
    #[error("the checkpoint event at seq {event_seq} names the path {file:?}")]
    BadPath { event_seq: u64, file: String },
    #[error(
        "the journal after seq {seq} does not continue the chain {file} was saved from (or does not reach its event)"
    )]
    Chain { file: String, seq: u64 },
}

/// The last `checkpoint` event in a journal, as read back from its end.
#[derive(Debug, Clone)]
pub struct Found {
    pub event: Event,
    pub checkpoint: Checkpoint,
}

/// A checkpoint accepted against its event: where to stream from, and the state's JSON.
#[derive(Debug)]
pub struct Loaded {
    pub from: Position,
    pub state: Box<RawValue>,
}

/// The file's layout. `state` is written from the caller's value and read back raw.
#[derive(Serialize)]
struct Header<'a, S: Serialize> {
    format: u32,
    seq: u64,
    hash: &'a str,
    offset: u64,
    state: &'a S,
}

#[derive(Deserialize)]
struct Read {
    seq: u64,
    hash: String,
    offset: u64,
    state: Box<RawValue>,
}

/// Only the format, read first so that a file of another format is named as such.
#[derive(Deserialize)]
struct Version {
    format: u32,
}

/// `checkpoints/<seq>.json`.
pub fn file_name(seq: u64) -> String {
    format!("{DIR}/{seq}.json")
}

/// Save `state`, the fold of every event through `at.seq`, as `checkpoints/<seq>.json`;
/// returns the payload of the `checkpoint` event the caller appends next.
pub fn write<S: Serialize>(dir: &Path, at: &Position, state: &S) -> std::io::Result<Checkpoint> {
    let header = Header {
        format: FORMAT,
        seq: at.seq,
        hash: &at.hash,
        offset: at.offset,
        state,
    };
    let folder = dir.join(DIR);
    crate::private::ensure_dir(&folder)?;
    let file = file_name(at.seq);
    // Streamed to the file and hashed on the way: a state holding a 14 MB capture (twice: in
    // `vars` and its step) is never a 28 MB buffer.
    let mut sha256 = String::new();
    crate::private::write_atomic_with(&dir.join(&file), crate::private::FILE_MODE, |out| {
        let hashing = Hashing {
            out,
            hasher: Sha256::new(),
        };
        let mut out = std::io::BufWriter::with_capacity(64 << 10, hashing);
        serde_json::to_writer(&mut out, &header).map_err(std::io::Error::other)?;
        let hashing = out
            .into_inner()
            .map_err(std::io::IntoInnerError::into_error)?;
        sha256 = hex(&hashing.hasher.finalize());
        Ok(())
    })?;
    File::open(&folder)?.sync_all()?;
    Ok(Checkpoint {
        seq: at.seq,
        sha256,
        format: FORMAT,
        file,
    })
}

/// A writer that hashes what it passes on.
struct Hashing<W> {
    out: W,
    hasher: Sha256,
}

impl<W: Write> Write for Hashing<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.out.write(buf)?;
        self.hasher.update(&buf[..n]);
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.out.flush()
    }
}

/// The last `checkpoint` event of the journal in `dir`, read back from the end: the cost is
/// the bytes after it, not the journal. A torn last line is skipped; a line that only looks
/// like one (the text inside a capture) is parsed and passed over.
pub fn find_last(dir: &Path) -> std::io::Result<Option<Found>> {
    let file = crate::private::open_read(&dir.join(JOURNAL_FILE))?;
    let mut end = file.metadata()?.len();
    // The start of a line cut by the previous chunk's start, with its newline.
    let mut carry: Vec<u8> = Vec::new();
    let mut first = true;
    while end > 0 {
        let start = end.saturating_sub(CHUNK);
        let mut buf = vec![0; usize::try_from(end - start).unwrap_or(0)];
        file.read_exact_at(&mut buf, start)?;
        buf.append(&mut carry);
        if first {
            // What follows the last newline was never a whole line.
            let complete = memchr::memrchr(b'\n', &buf).map_or(0, |i| i + 1);
            buf.truncate(complete);
            first = false;
        }
        let from = if start == 0 {
            0
        } else if let Some(i) = memchr::memchr(b'\n', &buf) {
            i + 1
        } else {
            carry = buf;
            end = start;
            continue;
        };
        let lines = &buf[from..];
        for hit in memchr::memmem::rfind_iter(lines, NEEDLE) {
            let line_start = memchr::memrchr(b'\n', &lines[..hit]).map_or(0, |i| i + 1);
            let line_end = memchr::memchr(b'\n', &lines[hit..]).map_or(lines.len(), |i| hit + i);
            if let Some(found) = parse(&lines[line_start..line_end]) {
                return Ok(Some(found));
            }
        }
        buf.truncate(from);
        carry = buf;
        end = start;
    }
    Ok(None)
}

fn parse(line: &[u8]) -> Option<Found> {
    let event: Event = serde_json::from_slice(line).ok()?;
    if event.kind != Kind::Checkpoint {
        return None;
    }
    match event.payload() {
        Ok(Payload::Checkpoint(checkpoint)) => Some(Found { event, checkpoint }),
        _ => None,
    }
}

/// Read the file `found` names and accept it only as the one its event recorded.
pub fn load(dir: &Path, found: &Found) -> Result<Loaded, Fallback> {
    let checkpoint = &found.checkpoint;
    let file = checkpoint.file.clone();
    if checkpoint.seq >= found.event.seq {
        return Err(Fallback::PastEnd {
            event_seq: found.event.seq,
            seq: checkpoint.seq,
        });
    }
    let bytes = read_file(dir, found)?;
    if sha256_hex(&bytes) != checkpoint.sha256 {
        return Err(Fallback::Sha256 {
            file,
            event_seq: found.event.seq,
        });
    }
    let unreadable = |e: serde_json::Error| Fallback::Unreadable {
        file: file.clone(),
        reason: e.to_string(),
    };
    let version: Version = serde_json::from_slice(&bytes).map_err(unreadable)?;
    if version.format != FORMAT || checkpoint.format != FORMAT {
        return Err(Fallback::Format {
            file,
            found: if version.format == FORMAT {
                checkpoint.format
            } else {
                version.format
            },
        });
    }
    let read: Read = serde_json::from_slice(&bytes).map_err(unreadable)?;
    if read.seq != checkpoint.seq {
        return Err(Fallback::Seq {
            file,
            seq: checkpoint.seq,
        });
    }
    let from = Position {
        seq: read.seq,
        hash: read.hash,
        offset: read.offset,
    };
    if !ends_event(dir, &from) {
        return Err(Fallback::Chain {
            file,
            seq: checkpoint.seq,
        });
    }
    Ok(Loaded {
        from,
        state: read.state,
    })
}

/// Whether the journal's line ending just before `at.offset` is event `at.seq` with hash
/// `at.hash`: a stream from the position then starts on a line boundary after that very event
/// (and a writer opening from it could never cut good lines as a torn tail).
fn ends_event(dir: &Path, at: &Position) -> bool {
    let Ok(file) = crate::private::open_read(&dir.join(JOURNAL_FILE)) else {
        return false;
    };
    let Some(end) = at.offset.checked_sub(1) else {
        return at.seq == 0;
    };
    let mut want = CHUNK.min(end + 1);
    loop {
        let start = end + 1 - want;
        let mut buf = vec![0; usize::try_from(want).unwrap_or(0)];
        if file.read_exact_at(&mut buf, start).is_err() || buf.last() != Some(&b'\n') {
            return false;
        }
        buf.pop();
        match memchr::memrchr(b'\n', &buf) {
            Some(i) => {
                buf.drain(..=i);
            }
            // The line started before what was read: read further back.
            None if start > 0 => {
                want = (want * 2).min(end + 1);
                continue;
            }
            None => {}
        }
        return serde_json::from_slice::<Event>(&buf)
            .is_ok_and(|e| e.seq == at.seq && e.hash == at.hash);
    }
}

/// The file's bytes, read only from inside `checkpoints/` and never through a link.
fn read_file(dir: &Path, found: &Found) -> Result<Vec<u8>, Fallback> {
    let file = &found.checkpoint.file;
    let path = inside(dir, file).ok_or_else(|| Fallback::BadPath {
        event_seq: found.event.seq,
        file: file.clone(),
    })?;
    crate::private::read(&path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            Fallback::Missing { file: file.clone() }
        } else {
            Fallback::Unreadable {
                file: file.clone(),
                reason: e.to_string(),
            }
        }
    })
}

/// `dir/<file>` when `file` is `checkpoints/<name>` and nothing else.
fn inside(dir: &Path, file: &str) -> Option<PathBuf> {
    let name = file.strip_prefix(DIR)?.strip_prefix('/')?;
    let plain =
        !name.is_empty() && !name.starts_with('.') && !name.contains(['/', '\\']) && name != "..";
    plain.then(|| dir.join(DIR).join(name))
}

/// What `verify` found wrong with a checkpoint file the chain names (a file that is absent
/// is not a fault: checkpoints are a cache and older ones are removed).
pub fn check(dir: &Path, event: &Event) -> Option<(String, Fallback)> {
    let Ok(Payload::Checkpoint(checkpoint)) = event.payload() else {
        return None;
    };
    let found = Found {
        event: event.clone(),
        checkpoint,
    };
    match load(dir, &found) {
        Ok(_) | Err(Fallback::Missing { .. }) => None,
        Err(fault) => Some((found.checkpoint.file, fault)),
    }
}

/// Whether the file a `checkpoint` event names is there.
pub fn present(dir: &Path, event: &Event) -> bool {
    match event.payload() {
        Ok(Payload::Checkpoint(checkpoint)) => inside(dir, &checkpoint.file)
            .is_some_and(|path| std::fs::symlink_metadata(path).is_ok()),
        _ => false,
    }
}

/// Remove the files of checkpoints before `keep_from` (they will never be read again: open
/// reads the last one only) and temporaries a crash left. Best effort.
pub fn prune(dir: &Path, keep_from: u64) {
    let Ok(entries) = std::fs::read_dir(dir.join(DIR)) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(name) = name.to_str() else {
            continue;
        };
        let old = name
            .strip_suffix(".json")
            .and_then(|seq| seq.parse::<u64>().ok())
            .is_some_and(|seq| seq < keep_from);
        if old || name.starts_with('.') {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Journal, NewEvent};
    use serde_json::json;

    fn note(journal: &Journal, text: &str) -> Event {
        journal
            .append_blocking(NewEvent::new(
                Kind::Note,
                json!({ "text": text, "tags": [] }),
            ))
            .unwrap()
    }

    #[test]
    fn the_last_checkpoint_event_is_found_from_the_end_and_its_file_accepted() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(dir.path(), "alice").unwrap();
        let two = (note(&journal, "one"), note(&journal, "two")).1;
        let at = Position {
            seq: 2,
            hash: two.hash.clone(),
            offset: std::fs::metadata(dir.path().join(JOURNAL_FILE))
                .unwrap()
                .len(),
        };
        let written = write(dir.path(), &at, &json!({ "x": 1 })).unwrap();
        journal
            .append_blocking(NewEvent::incident(written.clone()))
            .unwrap();
        // A capture that spells the kind must not be taken for the event.
        note(&journal, r#"{"kind":"checkpoint"}"#);
        std::fs::OpenOptions::new()
            .append(true)
            .open(dir.path().join(JOURNAL_FILE))
            .and_then(|mut f| {
                std::io::Write::write_all(&mut f, b"{\"seq\":5,\"kind\":\"checkpoint\"")
            })
            .unwrap();
        let found = find_last(dir.path()).unwrap().unwrap();
        assert_eq!((found.event.seq, &found.checkpoint), (3, &written));
        let loaded = load(dir.path(), &found).unwrap();
        assert_eq!(loaded.from, at);
        assert_eq!(loaded.state.get(), r#"{"x":1}"#);
        assert!(check(dir.path(), &found.event).is_none());

        std::fs::write(dir.path().join(&written.file), b"{}").unwrap();
        assert!(matches!(
            load(dir.path(), &found),
            Err(Fallback::Sha256 { event_seq: 3, .. })
        ));
        assert!(check(dir.path(), &found.event).is_some());
    }

    #[test]
    fn a_position_that_is_not_the_end_of_its_event_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(dir.path(), "alice").unwrap();
        let one = note(&journal, "one");
        let end = std::fs::metadata(dir.path().join(JOURNAL_FILE))
            .unwrap()
            .len();
        note(&journal, "two");
        let good = Position {
            seq: 1,
            hash: one.hash.clone(),
            offset: end,
        };
        assert!(ends_event(dir.path(), &good));
        for bad in [
            Position {
                offset: end - 5,
                ..good.clone()
            },
            Position {
                offset: end + 10,
                ..good.clone()
            },
            Position {
                seq: 2,
                ..good.clone()
            },
            Position {
                hash: "0".repeat(64),
                ..good.clone()
            },
        ] {
            assert!(!ends_event(dir.path(), &bad), "{bad:?}");
        }
        assert!(ends_event(dir.path(), &Position::genesis()));
    }

    #[test]
    fn a_path_outside_the_checkpoint_directory_is_refused() {
        for bad in [
            "../journal.jsonl",
            "checkpoints/../x",
            "checkpoints/",
            "evidence/x",
        ] {
            assert_eq!(inside(Path::new("/i"), bad), None, "{bad}");
        }
        assert_eq!(
            inside(Path::new("/i"), "checkpoints/7.json"),
            Some(PathBuf::from("/i/checkpoints/7.json"))
        );
    }
}
