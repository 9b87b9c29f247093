//! Reading a journal as a stream: the same checks as [`replay`](super::replay) (seq, `prev`,
//! `hash`, `journal.head`, torn tail vs damage) applied batch by batch as the file is read,
//! handing each good event to the caller and keeping none. Memory is bounded by one batch
//! (about [`BATCH_BYTES`] of lines and their parsed events), not by the journal, so `stanch
//! verify` and `stanch export` of a journal of millions of events stay small.
//!
//! Each batch of whole lines is parsed and self-hashed in parallel (`replay::parse_all`, the
//! fast raw-bytes hash), then linked in order. The verdict is `replay`'s exactly: the same
//! [`Broken`] (seq, line, fault) for the same bytes, the same torn-tail length. This module
//! never writes.

use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::event::{Event, GENESIS};
use super::replay::{Broken, Fault, Head, link, parse_all, read_head, split_lines};
use super::writer::JOURNAL_FILE;

/// Lines read (and parsed in parallel) at a time.
pub const BATCH_BYTES: usize = 4 << 20;

/// Where a stream starts: after event `seq` (hash `hash`), whose line ends just before byte
/// `offset`. [`Position::GENESIS`] is the start of the file; a checkpoint names another.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub seq: u64,
    pub hash: String,
    pub offset: u64,
}

impl Position {
    /// Before the first event.
    pub fn genesis() -> Self {
        Self {
            seq: 0,
            hash: GENESIS.to_owned(),
            offset: 0,
        }
    }
}

/// What a streamed journal held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Streamed {
    /// Good events handed to the caller (all of them up to the first bad one).
    pub events: u64,
    pub last_seq: u64,
    pub last_hash: String,
    /// Bytes from the start of the file through the last good event's newline (where a
    /// writer appends; a torn tail starts here).
    pub good_len: u64,
    /// Bytes of a torn tail after the last good event (0 when there is none).
    pub torn_bytes: u64,
    /// The first bad event, when the journal is damaged beyond a torn tail.
    pub broken: Option<Broken>,
}

/// Stream the journal in `dir`, checked against its `journal.head`, calling `each` with every
/// good event in order. Damage stops the stream and is reported in [`Streamed::broken`];
/// only I/O errors (the journal cannot be opened or read) are errors.
pub fn stream(dir: &Path, each: impl FnMut(Event)) -> std::io::Result<Streamed> {
    stream_from(dir, &Position::genesis(), each)
}

/// [`stream`] from `from` on: the first line read must be event `from.seq + 1` chained to
/// `from.hash`. Line numbers in a [`Broken`] count from the start of the file (line `n` holds
/// event `n` in any journal good up to `from`).
pub fn stream_from(
    dir: &Path,
    from: &Position,
    each: impl FnMut(Event),
) -> std::io::Result<Streamed> {
    stream_between(dir, from, None, each)
}

/// [`stream_from`] reading no further than byte `until` when it is given (a snapshot of a
/// journal a writer keeps appending to); `journal.head`, which speaks of the end of the file,
/// is then not checked, and a line cut at `until` counts as a torn tail.
pub fn stream_between(
    dir: &Path,
    from: &Position,
    until: Option<u64>,
    mut each: impl FnMut(Event),
) -> std::io::Result<Streamed> {
    // Head first: a live writer only moves it forward after syncing more journal, so a head
    // read before the journal can never claim more than the bytes read after it.
    let head = if until.is_some() {
        None
    } else {
        read_head(dir)
    };
    let mut file = std::fs::File::open(dir.join(JOURNAL_FILE))?;
    file.seek(SeekFrom::Start(from.offset))?;
    let limit = until.map_or(u64::MAX, |until| until.saturating_sub(from.offset));
    let mut reader = BufReader::with_capacity(256 * 1024, file.take(limit));
    let mut out = Streamed {
        events: 0,
        last_seq: from.seq,
        last_hash: from.hash.clone(),
        good_len: from.offset,
        torn_bytes: 0,
        broken: None,
    };
    let mut batch = Vec::with_capacity(BATCH_BYTES + 64 * 1024);
    let mut line_number = usize::try_from(from.seq).unwrap_or(usize::MAX);
    let mut batch_start = from.offset;
    loop {
        batch.clear();
        if batch.capacity() > 2 * BATCH_BYTES {
            // One huge line (a large capture) must not stay allocated for the rest.
            batch = Vec::with_capacity(BATCH_BYTES + 64 * 1024);
        }
        let mut at_end = false;
        while batch.len() < BATCH_BYTES {
            if reader.read_until(b'\n', &mut batch)? == 0 || !batch.ends_with(b"\n") {
                at_end = true;
                break;
            }
        }
        let complete = batch.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let lines = split_lines(&batch[..complete]);
        for (&(start, end), parsed) in lines.iter().zip(parse_all(&batch, &lines)) {
            line_number += 1;
            match parsed.and_then(|p| link(p, out.last_seq + 1, &out.last_hash)) {
                Ok(event) => {
                    if let Some(head) = &head
                        && head.seq == event.seq
                        && head.hash != event.hash
                    {
                        out.broken = Some(Broken {
                            seq: event.seq,
                            line: line_number,
                            fault: Fault::HeadMismatch,
                        });
                        return Ok(out);
                    }
                    out.events += 1;
                    out.good_len = batch_start + end as u64 + 1;
                    out.last_seq = event.seq;
                    out.last_hash.clone_from(&event.hash);
                    each(event);
                }
                Err(fault) => {
                    if let Some(torn) = torn_rest(&batch[start..], &mut reader)? {
                        out.torn_bytes = torn;
                        return Ok(check_head(out, head.as_ref()));
                    }
                    out.broken = Some(Broken {
                        seq: out.last_seq + 1,
                        line: line_number,
                        fault,
                    });
                    return Ok(out);
                }
            }
        }
        if at_end {
            // A line without its newline was never fully written, hence never acknowledged.
            out.torn_bytes = (batch.len() - complete) as u64;
            return Ok(check_head(out, head.as_ref()));
        }
        batch_start += batch.len() as u64;
    }
}

/// `replay::is_torn` over `first` and everything left in `reader`, without holding it: the
/// rest is torn when no newline-terminated piece has content other than blanks and NULs.
/// Returns its length when torn.
fn torn_rest(first: &[u8], reader: &mut impl BufRead) -> std::io::Result<Option<u64>> {
    let mut content = false;
    let mut scan = |chunk: &[u8]| {
        for &b in chunk {
            if b == b'\n' {
                if content {
                    return false;
                }
            } else if b != 0 && !b.is_ascii_whitespace() {
                content = true;
            }
        }
        true
    };
    if !scan(first) {
        return Ok(None);
    }
    let mut total = first.len() as u64;
    loop {
        let chunk = reader.fill_buf()?;
        if chunk.is_empty() {
            return Ok(Some(total));
        }
        if !scan(chunk) {
            return Ok(None);
        }
        let n = chunk.len();
        total += n as u64;
        reader.consume(n);
    }
}

/// `journal.head` must not be ahead of the good events (that would mean events were removed
/// from the end).
fn check_head(mut out: Streamed, head: Option<&Head>) -> Streamed {
    if let Some(head) = head.filter(|h| h.seq > out.last_seq) {
        out.broken = Some(Broken {
            seq: out.last_seq + 1,
            line: usize::try_from(out.last_seq).unwrap_or(usize::MAX) + 1,
            fault: Fault::Truncated {
                last: out.last_seq,
                head: head.seq,
            },
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::replay::replay_file;
    use crate::journal::{Journal, Kind, NewEvent};

    /// A journal spanning several batches: `n` notes of about 1 KiB.
    fn incident(n: u64) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(dir.path(), "alice").unwrap();
        for i in 0..n {
            let text = format!("note {i} {}", "x".repeat(1000));
            let note = NewEvent::new(Kind::Note, serde_json::json!({ "text": text, "tags": [] }));
            if i + 1 == n {
                journal.append_blocking(note).unwrap();
            } else {
                journal.enqueue(note).unwrap();
            }
        }
        dir
    }

    /// `stream`'s verdict must be `replay`'s, event for event.
    fn assert_same_verdict(dir: &Path) -> Streamed {
        let mut seqs = Vec::new();
        let streamed = stream(dir, |e| seqs.push(e.seq)).unwrap();
        let (_, replayed) = replay_file(dir).unwrap();
        let replayed_seqs: Vec<u64> = replayed.events.iter().map(|e| e.seq).collect();
        assert_eq!(seqs, replayed_seqs);
        assert_eq!(streamed.events, seqs.len() as u64);
        assert_eq!(streamed.last_seq, replayed.last_seq());
        assert_eq!(streamed.last_hash, replayed.last_hash());
        assert_eq!(streamed.torn_bytes, replayed.torn_bytes);
        assert_eq!(streamed.broken, replayed.broken);
        streamed
    }

    fn edit(dir: &Path, change: impl FnOnce(&mut Vec<u8>)) {
        let path = dir.join(JOURNAL_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        change(&mut bytes);
        std::fs::write(&path, bytes).unwrap();
    }

    /// Byte offset of the start of line `n` (1-based).
    fn line_start(bytes: &[u8], n: usize) -> usize {
        bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .nth(n - 2)
            .map_or(0, |(i, _)| i + 1)
    }

    #[test]
    fn a_journal_of_several_batches_reads_as_replay_reads_it() {
        let events = 9000; // about 9.5 MiB: three batches
        let dir = incident(events);
        let clean = assert_same_verdict(dir.path());
        assert_eq!(
            (clean.events, clean.broken, clean.torn_bytes),
            (events, None, 0)
        );

        // A changed byte in the third batch.
        edit(dir.path(), |b| {
            let at = line_start(b, 8500) + 40;
            b[at] = if b[at] == b'x' { b'y' } else { b'x' };
        });
        let changed = assert_same_verdict(dir.path());
        assert_eq!(changed.broken.map(|b| (b.seq, b.line)), Some((8500, 8500)));
    }

    #[test]
    fn torn_tails_garbage_and_a_lagging_journal_read_as_replay_reads_them() {
        let dir = incident(5000);
        edit(dir.path(), |b| {
            b.extend_from_slice(b"\0\0\n\0{\"seq\":5001,");
        });
        assert_eq!(assert_same_verdict(dir.path()).torn_bytes, 16);

        edit(dir.path(), |b| {
            b.extend_from_slice(b"\n{\"not\":\"an event\"}\n");
        });
        let broken = assert_same_verdict(dir.path()).broken.unwrap();
        assert!(matches!(broken.fault, Fault::Unreadable(_)), "{broken:?}");

        // Remove the last 100 events: journal.head still names seq 5000.
        edit(dir.path(), |b| {
            let cut = line_start(b, 4901);
            b.truncate(cut);
        });
        let truncated = assert_same_verdict(dir.path()).broken.unwrap();
        assert_eq!(
            truncated.fault,
            Fault::Truncated {
                last: 4900,
                head: 5000
            }
        );
    }
}
