//! Streaming replay for `stanch export`: read the journal line by line into a
//! [`report::Builder`], so a 100,000-event incident exports in memory proportional to the
//! report, not to the journal (`journal::read` holds the file's bytes and every event at once).
//!
//! The checks are the ones `journal::replay` makes, applied as lines arrive: each line must be
//! an event with the next `seq`, the previous event's hash as `prev`, and a `hash` matching its
//! content; `journal.head` must not be ahead of (or disagree with) the file. A torn tail (an
//! unterminated last line, or NUL/blank lines from a zeroed block) is left out, as a reader of
//! a live incident must; anything else is damage, reported as [`ExportError::Broken`] with the
//! same [`Broken`] value `stanch verify` shows. This module never writes.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use sha2::{Digest, Sha256};

use super::{ExportError, Report, Sources, report};
use crate::journal::event::{GENESIS, hex};
use crate::journal::replay::read_head;
use crate::journal::writer::JOURNAL_FILE;
use crate::journal::{Broken, Event, Fault};

/// Replay the journal in `incident_dir` line by line into a [`Report`].
pub fn build_from_journal(incident_dir: &Path) -> Result<Report, ExportError> {
    let path = incident_dir.join(JOURNAL_FILE);
    let io = |source| ExportError::Io {
        path: path.clone(),
        source,
    };
    let broken = |broken| ExportError::Broken {
        path: path.clone(),
        broken,
    };
    // Head first: a live writer only moves it forward after syncing more journal.
    let head = read_head(incident_dir);
    let mut reader = BufReader::new(std::fs::File::open(&path).map_err(io)?);
    let mut builder = report::Builder::default();
    let (mut last_seq, mut last_hash) = (0_u64, GENESIS.to_owned());
    let mut line = Vec::with_capacity(1024);
    let mut number = 0_usize;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).map_err(io)? == 0 {
            break;
        }
        number += 1;
        let Some(content) = line.strip_suffix(b"\n") else {
            break; // an unterminated last line was never acknowledged
        };
        match parse_and_link(content, last_seq + 1, &last_hash) {
            Ok(event) => {
                if let Some(head) = &head
                    && head.seq == event.seq
                    && head.hash != event.hash
                {
                    return Err(broken(Broken {
                        seq: event.seq,
                        line: number,
                        fault: Fault::HeadMismatch,
                    }));
                }
                last_seq = event.seq;
                last_hash.clone_from(&event.hash);
                builder.push(event);
            }
            Err(fault) => {
                let mut rest = line.clone();
                reader.read_to_end(&mut rest).map_err(io)?;
                if is_torn(&rest) {
                    break;
                }
                return Err(broken(Broken {
                    seq: last_seq + 1,
                    line: number,
                    fault,
                }));
            }
        }
    }
    if let Some(head) = head.filter(|h| h.seq > last_seq) {
        return Err(broken(Broken {
            seq: last_seq + 1,
            line: number + 1,
            fault: Fault::Truncated {
                last: last_seq,
                head: head.seq,
            },
        }));
    }
    let sources = Sources::read(incident_dir, builder.incident());
    Ok(builder.finish(&sources))
}

/// Parse one line and check its place in the chain: seq, then `prev`, then its own hash.
fn parse_and_link(line: &[u8], expected: u64, prev: &str) -> Result<Event, Fault> {
    let event: Event =
        serde_json::from_slice(line).map_err(|e| Fault::Unreadable(e.to_string()))?;
    if event.seq != expected {
        return Err(Fault::Seq {
            expected,
            found: event.seq,
        });
    }
    if event.prev != prev {
        return Err(Fault::Prev);
    }
    if !(raw_hash_matches(line, &event) || event.compute_hash() == event.hash) {
        return Err(Fault::Hash);
    }
    Ok(event)
}

/// Fast path (as in `journal::replay`): a line as the writer wrote it is the canonical JSON
/// with `,"hash":"…"` spliced in before the closing brace, so hashing the raw bytes skips
/// re-serializing; a miss falls back to the canonical recomputation.
fn raw_hash_matches(line: &[u8], event: &Event) -> bool {
    const FIELD: &[u8] = b",\"hash\":\"";
    if event.hash.len() != 64 {
        return false;
    }
    let Some(cut) = line.len().checked_sub(FIELD.len() + event.hash.len() + 2) else {
        return false;
    };
    let (body, tail) = line.split_at(cut);
    if tail != [FIELD, event.hash.as_bytes(), b"\"}"].concat().as_slice() {
        return false;
    }
    let mut hasher = Sha256::new();
    hasher.update(event.prev.as_bytes());
    hasher.update(body);
    hasher.update(b"}");
    hex(&hasher.finalize()) == event.hash
}

/// No complete line with content: every newline-terminated piece is blank or NULs, and only
/// the final unterminated piece may hold bytes.
fn is_torn(rest: &[u8]) -> bool {
    let mut pieces: Vec<&[u8]> = rest.split(|&b| b == b'\n').collect();
    pieces.pop();
    pieces
        .iter()
        .all(|p| p.iter().all(|&b| b == 0 || b.is_ascii_whitespace()))
}
