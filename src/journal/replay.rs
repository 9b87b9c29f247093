//! Reading a journal back: parse every line, check seq continuity, `prev` and `hash`, and
//! classify whatever follows the last good event.
//!
//! ```text
//! bytes ──lines──▶ event 1 ✓ … event n ✓ ──▶ rest?
//!                                            ├─ nothing                    → clean
//!                                            ├─ partial line / NULs only   → torn tail (quarantinable)
//!                                            └─ anything else              → broken at seq n+1
//! ```
//!
//! A torn tail is what a crash mid-`write_all` (or a power cut that zeroed the last block)
//! leaves: it was never acknowledged, so moving it aside loses nothing. Anything else is
//! damage to recorded history and is only ever *reported* (first bad seq and line), never
//! repaired. This module is pure: it reads bytes and never writes; the writer quarantines and
//! `verify` reports.
//!
//! `journal.head` (written by the writer after each sync) records the last acknowledged seq
//! and hash, so that deleting the last events, which leaves a valid chain behind, is still
//! detected.

use std::path::Path;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use super::event::{Event, GENESIS};

/// File holding the last acknowledged `{seq, hash}`.
pub const HEAD_FILE: &str = "journal.head";

/// The last acknowledged event as recorded in `journal.head`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Head {
    pub seq: u64,
    pub hash: String,
}

/// Why an event is not the one the chain expects.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Fault {
    #[error("not a journal event ({0})")]
    Unreadable(String),
    #[error("found seq {found} where seq {expected} belongs (an event is missing or out of order)")]
    Seq { expected: u64, found: u64 },
    #[error("`prev` is not the hash of the event before it (the chain is broken)")]
    Prev,
    #[error("`hash` does not match the event's content (the event was changed)")]
    Hash,
    #[error(
        "the journal ends at seq {last} but journal.head records seq {head} (events were removed from the end)"
    )]
    Truncated { last: u64, head: u64 },
    #[error(
        "the hash differs from the one journal.head recorded for this seq (the event was replaced)"
    )]
    HeadMismatch,
}

/// The first bad event: where recorded history stops being trustworthy.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("seq {seq} (line {line}): {fault}")]
pub struct Broken {
    pub seq: u64,
    /// 1-based line number in `journal.jsonl`.
    pub line: usize,
    pub fault: Fault,
}

/// What a journal holds.
#[derive(Debug, Clone, Default)]
pub struct Replay {
    /// Every good event, in order (all of them up to the first bad one, if any).
    pub events: Vec<Event>,
    /// Length of the good prefix in bytes (through the last good event's newline); only
    /// meaningful when the journal is not `broken` (it is where a writer would append).
    pub good_len: u64,
    /// Bytes after the good prefix that form a torn tail (0 when there is none).
    pub torn_bytes: u64,
    /// The first bad event, when the journal is damaged beyond a torn tail.
    pub broken: Option<Broken>,
}

impl Replay {
    pub fn last_seq(&self) -> u64 {
        self.events.last().map_or(0, |e| e.seq)
    }

    pub fn last_hash(&self) -> &str {
        self.events.last().map_or(GENESIS, |e| e.hash.as_str())
    }
}

/// Replay journal bytes, checked against `head` when there is one.
pub fn replay(bytes: &[u8], head: Option<&Head>) -> Replay {
    let mut out = Replay::default();
    let lines = split_lines(bytes);
    let parsed = parse_all(bytes, &lines);
    for (n, (&(start, end), parsed)) in lines.iter().zip(parsed).enumerate() {
        match parsed.and_then(|p| link(p, out.last_seq() + 1, out.last_hash())) {
            Ok(event) => {
                out.events.push(event);
                out.good_len = end as u64 + 1;
            }
            Err(_) if is_torn(&bytes[start..]) => break,
            Err(fault) => {
                out.broken = Some(Broken {
                    seq: out.last_seq() + 1,
                    line: n + 1,
                    fault,
                });
                return out;
            }
        }
    }
    // Whatever follows the good prefix is torn: a line without its newline was never fully
    // written, hence never acknowledged (and `is_torn` vouched for anything else).
    out.torn_bytes = bytes.len() as u64 - out.good_len;
    if let Some(head) = head {
        out.broken = check_head(&out, head);
        if let Some(broken) = &out.broken {
            // Only the events before the first bad one are trustworthy.
            out.events
                .truncate(usize::try_from(broken.seq - 1).unwrap_or(usize::MAX));
        }
    }
    out
}

/// Read and replay the journal in `dir` (with its head, if readable).
pub fn replay_file(dir: &Path) -> std::io::Result<(Vec<u8>, Replay)> {
    // Head first: a live writer only moves it forward after syncing more journal, so a head
    // read before the journal can never claim more than the bytes read after it.
    let head = read_head(dir);
    let bytes = std::fs::read(dir.join(super::writer::JOURNAL_FILE))?;
    let replayed = replay(&bytes, head.as_ref());
    Ok((bytes, replayed))
}

/// `journal.head`, or `None` when it is absent or unreadable (a journal written before heads
/// existed, or a head cut short by a power loss: it is written after the journal's sync and
/// never synced itself, so it can only lag, never lead).
pub fn read_head(dir: &Path) -> Option<Head> {
    let text = std::fs::read(dir.join(HEAD_FILE)).ok()?;
    let text = text
        .split(|&b| b == b'\n' || b == 0)
        .next()
        .unwrap_or_default();
    serde_json::from_slice(text).ok()
}

/// `(start, end)` of every newline-terminated line (`end` is the newline's index).
pub(super) fn split_lines(bytes: &[u8]) -> Vec<(usize, usize)> {
    let mut lines = Vec::with_capacity(bytes.len() / 256);
    let mut start = 0;
    for end in memchr::memchr_iter(b'\n', bytes) {
        lines.push((start, end));
        start = end + 1;
    }
    lines
}

/// A line parsed on its own, with whether its `hash` matches its content.
pub(super) type Parsed = Result<(Event, bool), Fault>;

/// Parsing and self-hashing need nothing from earlier lines, so long journals are split
/// across threads; linking (`seq`, `prev`) then runs in order over the results.
pub(super) fn parse_all(bytes: &[u8], lines: &[(usize, usize)]) -> Vec<Parsed> {
    parse_all_with(bytes, lines, parse_line)
}

/// [`parse_all`] with any per-line parser (results may borrow from `bytes`).
pub(super) fn parse_all_with<'a, T: Send>(
    bytes: &'a [u8],
    lines: &[(usize, usize)],
    parse: impl Fn(&'a [u8]) -> T + Sync,
) -> Vec<T> {
    const PER_THREAD_MIN: usize = 4096;
    if lines.len() < 2 * PER_THREAD_MIN {
        // Short journals (the common case) skip the thread set-up, and the cgroup reads
        // behind `available_parallelism`.
        return lines
            .iter()
            .map(|&(start, end)| parse(&bytes[start..end]))
            .collect();
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, std::num::NonZero::get)
        .clamp(1, lines.len() / PER_THREAD_MIN);
    let parse = &parse;
    let parse_chunk = |chunk: &[(usize, usize)]| -> Vec<T> {
        chunk
            .iter()
            .map(|&(start, end)| parse(&bytes[start..end]))
            .collect()
    };
    std::thread::scope(|scope| {
        let workers: Vec<_> = lines
            .chunks(lines.len().div_ceil(threads))
            .map(|chunk| scope.spawn(move || parse_chunk(chunk)))
            .collect();
        workers
            .into_iter()
            // Parsing does not panic; if it ever did, losing lines silently would be worse.
            .flat_map(|w| w.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

pub(super) fn parse_line(line: &[u8]) -> Parsed {
    let event: Event =
        serde_json::from_slice(line).map_err(|e| Fault::Unreadable(e.to_string()))?;
    let hash_ok = raw_hash_matches(line, &event.prev, &event.hash) || event.hash_is_valid();
    Ok((event, hash_ok))
}

/// Fast path: a line as the writer wrote it is the canonical JSON with `,"hash":"…"` spliced
/// in before the closing brace, so hashing the raw bytes skips re-serializing. A match proves
/// the content (SHA-256); a miss (say, a line re-formatted by hand) falls back to the
/// canonical recomputation. `prev` and `hash` are the line's own fields, as parsed.
pub(super) fn raw_hash_matches(line: &[u8], prev: &str, hash: &str) -> bool {
    const FIELD: &[u8] = b",\"hash\":\"";
    const HEX: usize = 64;
    let Some(cut) = line.len().checked_sub(FIELD.len() + HEX + 2) else {
        return false;
    };
    let (body, tail) = line.split_at(cut);
    let (field, rest) = tail.split_at(FIELD.len());
    let (written, close) = rest.split_at(HEX);
    if hash.len() != HEX || field != FIELD || written != hash.as_bytes() || close != b"\"}" {
        return false;
    }
    let mut hasher = Sha256::new();
    hasher.update(prev.as_bytes());
    hasher.update(body);
    hasher.update(b"}");
    is_hex_of(hash.as_bytes(), &hasher.finalize())
}

/// `hex` (lowercase) spells `bytes`; compared in place, without building the text.
fn is_hex_of(hex: &[u8], bytes: &[u8]) -> bool {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    hex.len() == 2 * bytes.len()
        && bytes.iter().zip(hex.chunks_exact(2)).all(|(b, pair)| {
            pair[0] == DIGITS[usize::from(b >> 4)] && pair[1] == DIGITS[usize::from(b & 0x0f)]
        })
}

/// Parse one journal line (without its newline) and check its place in the chain: seq, then
/// `prev`, then its own hash. The one line check every reader shares (replay, and export's
/// streaming reader).
pub fn check_line(line: &[u8], expected: u64, prev: &str) -> Result<Event, Fault> {
    link(parse_line(line)?, expected, prev)
}

/// Check a parsed event's place in the chain: seq, then `prev`, then its own hash.
pub(super) fn link(parsed: (Event, bool), expected: u64, prev: &str) -> Result<Event, Fault> {
    let (event, hash_ok) = parsed;
    check_link(event.seq, &event.prev, hash_ok, expected, prev)?;
    Ok(event)
}

/// [`link`]'s checks on an event's parts: `seq` is `expected`, `prev` is the hash before it,
/// and its own hash held.
pub(super) fn check_link(
    seq: u64,
    prev: &str,
    hash_ok: bool,
    expected: u64,
    expected_prev: &str,
) -> Result<(), Fault> {
    if seq != expected {
        return Err(Fault::Seq {
            expected,
            found: seq,
        });
    }
    if prev != expected_prev {
        return Err(Fault::Prev);
    }
    if !hash_ok {
        return Err(Fault::Hash);
    }
    Ok(())
}

/// True when `rest` holds no complete line with content: every newline-terminated line is
/// blank or NULs (a zeroed block), and only the final, unterminated piece may hold bytes.
pub fn is_torn(rest: &[u8]) -> bool {
    let mut pieces: Vec<&[u8]> = rest.split(|&b| b == b'\n').collect();
    pieces.pop();
    pieces
        .iter()
        .all(|p| p.iter().all(|&b| b == 0 || b.is_ascii_whitespace()))
}

fn check_head(replayed: &Replay, head: &Head) -> Option<Broken> {
    let last = replayed.last_seq();
    let lines = replayed.events.len();
    if head.seq > last {
        return Some(Broken {
            seq: last + 1,
            line: lines + 1,
            fault: Fault::Truncated {
                last,
                head: head.seq,
            },
        });
    }
    let index = usize::try_from(head.seq).ok()?.checked_sub(1)?;
    let event = replayed.events.get(index)?;
    (event.hash != head.hash).then(|| Broken {
        seq: head.seq,
        line: index + 1,
        fault: Fault::HeadMismatch,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Kind;

    fn journal(n: u64) -> Vec<u8> {
        let mut prev = GENESIS.to_owned();
        let mut out = Vec::new();
        for seq in 1..=n {
            let mut event = Event {
                seq,
                at: jiff::Timestamp::UNIX_EPOCH,
                mono_ms: seq,
                actor: "alice".into(),
                kind: Kind::Note,
                step: None,
                data: crate::journal::event::raw_data(
                    &serde_json::json!({ "text": format!("note {seq}") }),
                ),
                prev: prev.clone(),
                hash: String::new(),
            };
            event.hash = event.compute_hash();
            prev.clone_from(&event.hash);
            out.extend(serde_json::to_vec(&event).unwrap());
            out.push(b'\n');
        }
        out
    }

    #[test]
    fn clean_journal_replays_every_event() {
        let bytes = journal(5);
        let r = replay(&bytes, None);
        assert_eq!(r.events.len(), 5);
        assert_eq!(r.good_len, bytes.len() as u64);
        assert_eq!((r.torn_bytes, r.broken), (0, None));
    }

    #[test]
    fn partial_last_line_is_a_torn_tail() {
        let mut bytes = journal(3);
        let good = bytes.len();
        let partial = b"{\"seq\":4,\"at\":\"2026";
        bytes.extend_from_slice(partial);
        let r = replay(&bytes, None);
        assert_eq!((r.events.len(), r.good_len), (3, good as u64));
        assert_eq!(r.torn_bytes, partial.len() as u64);
        assert_eq!(r.broken, None);
    }

    #[test]
    fn zeroed_tail_with_newlines_is_torn() {
        let mut bytes = journal(2);
        bytes.extend_from_slice(b"\0\0\0\0\n\0\0");
        let r = replay(&bytes, None);
        assert_eq!((r.events.len(), r.torn_bytes, r.broken), (2, 7, None));
    }

    #[test]
    fn garbage_line_followed_by_an_event_is_broken_not_torn() {
        let mut bytes = journal(4);
        let second = bytes.iter().position(|&b| b == b'\n').unwrap() + 1;
        bytes[second] = b'#';
        let r = replay(&bytes, None);
        let broken = r.broken.unwrap();
        assert_eq!((broken.seq, broken.line), (2, 2));
        assert!(matches!(broken.fault, Fault::Unreadable(_)));
        assert_eq!(r.events.len(), 1);
    }

    #[test]
    fn head_beyond_the_end_names_the_first_missing_seq() {
        let bytes = journal(3);
        let head = Head {
            seq: 4,
            hash: "x".into(),
        };
        let broken = replay(&bytes, Some(&head)).broken.unwrap();
        assert_eq!(broken.seq, 4);
        assert_eq!(broken.fault, Fault::Truncated { last: 3, head: 4 });
    }
}
