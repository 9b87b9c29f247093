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

use std::borrow::Cow;
use std::io::{BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::Path;

use super::event::{Event, GENESIS, Kind};
use super::in_place;
use super::lean::{Lean, Names, Record};
use super::replay::{
    Broken, Fault, Head, check_link, parse_all_with, parse_line, raw_hash_matches, read_head,
    split_lines,
};
use super::writer::JOURNAL_FILE;

/// Lines read (and parsed in parallel) at a time.
pub const BATCH_BYTES: usize = 4 << 20;

/// Bytes asked of the file per read.
const READ_CHUNK: usize = 1 << 20;

/// Where a stream starts: after event `seq` (hash `hash`), whose line ends just before byte
/// `offset`. [`Position::genesis`] is the start of the file; a checkpoint names another.
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
///
/// Reading, parsing and checking run on their own threads, a few thousand events ahead of
/// `each` (which runs on the calling thread): folding an event overlaps with parsing the
/// next ones, and memory stays bounded by two hand-overs and a batch.
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
    each: impl FnMut(Event),
) -> std::io::Result<Streamed> {
    handed_over::<Whole, Event>(dir, from, until, each, |event| event)
}

/// [`stream_with`] on its own threads, each good line made a `T` there by `own` and handed
/// to `each` on the calling thread in batches: folding overlaps with parsing the next lines,
/// and memory stays bounded by two hand-overs and a batch.
fn handed_over<P: Parse, T: Send>(
    dir: &Path,
    from: &Position,
    until: Option<u64>,
    mut each: impl FnMut(T),
    mut own: impl FnMut(P::Out<'_>) -> T + Send,
) -> std::io::Result<Streamed> {
    const HAND_OVER: usize = 4096;
    let (items_tx, items_rx) = std::sync::mpsc::sync_channel::<Vec<T>>(1);
    std::thread::scope(|scope| {
        let reader = scope.spawn(move || {
            let mut pending = Vec::with_capacity(HAND_OVER);
            let streamed = stream_with::<P>(dir, from, until, |item| {
                pending.push(own(item));
                if pending.len() == HAND_OVER {
                    let full = std::mem::replace(&mut pending, Vec::with_capacity(HAND_OVER));
                    // The receiver lives until every hand-over is in.
                    let _ = items_tx.send(full);
                }
            });
            if !pending.is_empty() {
                let _ = items_tx.send(pending);
            }
            streamed
        });
        for items in items_rx {
            items.into_iter().for_each(&mut each);
        }
        // Reading does not panic; if it ever did, losing events silently would be worse.
        reader
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p))
    })
}

/// How a streaming reader parses one line, and where the parts the chain needs are.
trait Parse {
    type Out<'a>: Send;
    fn parse(line: &[u8]) -> Result<(Self::Out<'_>, bool), Fault>;
    /// `(seq, prev, hash)`.
    fn chain<'b>(out: &'b Self::Out<'_>) -> (u64, &'b str, &'b str);
}

/// Whole events ([`stream`]).
struct Whole;

impl Parse for Whole {
    type Out<'a> = Event;

    fn parse(line: &[u8]) -> Result<(Event, bool), Fault> {
        parse_line(line)
    }

    fn chain(event: &Event) -> (u64, &str, &str) {
        (event.seq, &event.prev, &event.hash)
    }
}

/// Lines read in place ([`stream_lines`]).
struct InPlaceLines;

impl Parse for InPlaceLines {
    type Out<'a> = Line<'a>;

    fn parse(line: &[u8]) -> Result<(Line<'_>, bool), Fault> {
        parse_in_place(line)
    }

    fn chain<'b>(line: &'b Line<'_>) -> (u64, &'b str, &'b str) {
        (line.seq, &line.prev, &line.hash)
    }
}

/// Foreach exchanges read in place, other lines as events ([`stream_lean`]).
struct LeanLines;

impl Parse for LeanLines {
    type Out<'a> = Lean<'a>;

    fn parse(line: &[u8]) -> Result<(Lean<'_>, bool), Fault> {
        super::lean::parse(line)
    }

    fn chain<'b>(lean: &'b Lean<'_>) -> (u64, &'b str, &'b str) {
        lean.chain()
    }
}

/// One good line of a journal as [`stream_lines`] hands it over: what the chain needs, read
/// in place; [`Line::event`] parses the whole event when a caller needs more.
#[derive(Debug)]
pub struct Line<'a> {
    pub seq: u64,
    pub kind: Kind,
    prev: Cow<'a, str>,
    hash: Cow<'a, str>,
    bytes: &'a [u8],
}

impl Line<'_> {
    /// The whole event (parsed again; the line is known good).
    pub fn event(&self) -> Result<Event, Fault> {
        parse_line(self.bytes).map(|(event, _)| event)
    }
}

/// [`stream`] for readers that need only the chain's verdict and a few events (`verify`): a
/// line the writer wrote is checked without building its [`Event`]: its fields are read in
/// place (`data` scanned as one JSON value, not copied) and its own bytes hashed. Any line
/// that does not pass that way (escapes where the writer writes none, a line re-formatted by
/// hand, a wrong hash) goes through [`stream`]'s full parse, so the verdict is the same.
pub fn stream_lines(dir: &Path, mut each: impl FnMut(&Line<'_>)) -> std::io::Result<Streamed> {
    stream_with::<InPlaceLines>(dir, &Position::genesis(), None, |line| each(&line))
}

/// [`stream`] for a report ([`super::lean`]): each foreach exchange as an
/// [`Exchange`](super::lean::Exchange) read in place, every other line as its [`Event`];
/// the same checks and verdict. `each` runs on the calling thread, a few thousand lines
/// behind the parsing, as in [`stream`].
pub fn stream_lean(dir: &Path, each: impl FnMut(Record)) -> std::io::Result<Streamed> {
    handed_over::<LeanLines, Record>(dir, &Position::genesis(), None, each, {
        let mut names = Names::default();
        move |lean| lean.own(&mut names)
    })
}

fn parse_in_place(bytes: &[u8]) -> Result<(Line<'_>, bool), Fault> {
    if let Some(fields) = in_place::read(bytes)
        && raw_hash_matches(bytes, fields.prev, fields.hash)
    {
        let line = Line {
            seq: fields.seq,
            kind: fields.kind,
            prev: Cow::Borrowed(fields.prev),
            hash: Cow::Borrowed(fields.hash),
            bytes,
        };
        return Ok((line, true));
    }
    let (event, hash_ok) = parse_line(bytes)?;
    let line = Line {
        seq: event.seq,
        kind: event.kind,
        prev: Cow::Owned(event.prev),
        hash: Cow::Owned(event.hash),
        bytes,
    };
    Ok((line, hash_ok))
}

/// The one streaming loop: batches of whole lines parsed by `P` in parallel, then linked in
/// order and handed to `each`.
fn stream_with<P: Parse>(
    dir: &Path,
    from: &Position,
    until: Option<u64>,
    mut each: impl FnMut(P::Out<'_>),
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
    // Bytes this stream may still read (all of them without `until`).
    let mut left = until.map_or(u64::MAX, |until| until.saturating_sub(from.offset));
    let mut out = Streamed {
        events: 0,
        last_seq: from.seq,
        last_hash: from.hash.clone(),
        good_len: from.offset,
        torn_bytes: 0,
        broken: None,
    };
    // The file offset of `batch[0]`.
    let mut batch_start = from.offset;
    // Read in large chunks; the piece of a line after a batch's last newline is carried over
    // to the next batch.
    let mut batch = Vec::with_capacity(BATCH_BYTES + READ_CHUNK);
    let mut at_end = false;
    let mut line_number = usize::try_from(from.seq).unwrap_or(usize::MAX);
    loop {
        let mut whole_line = memchr::memchr(b'\n', &batch).is_some();
        while !at_end && (batch.len() < BATCH_BYTES || !whole_line) {
            let old = batch.len();
            let ask = usize::try_from(left).map_or(READ_CHUNK, |left| left.min(READ_CHUNK));
            batch.resize(old + ask, 0);
            let n = read_some(&mut file, &mut batch[old..])?;
            batch.truncate(old + n);
            left -= n as u64;
            at_end = n == 0;
            whole_line = whole_line || memchr::memchr(b'\n', &batch[old..]).is_some();
        }
        let complete = memchr::memrchr(b'\n', &batch).map_or(0, |i| i + 1);
        let lines = split_lines(&batch[..complete]);
        for (&(start, end), parsed) in lines.iter().zip(parse_all_with(&batch, &lines, P::parse)) {
            line_number += 1;
            let linked = parsed.and_then(|(item, hash_ok)| {
                let (seq, prev, hash) = P::chain(&item);
                check_link(seq, prev, hash_ok, out.last_seq + 1, &out.last_hash)?;
                if let Some(head) = &head
                    && head.seq == seq
                    && head.hash != hash
                {
                    return Err(Fault::HeadMismatch);
                }
                // The allocation is reused: no copy per event.
                out.last_hash.clear();
                out.last_hash.push_str(hash);
                out.last_seq = seq;
                Ok(item)
            });
            match linked {
                Ok(item) => {
                    out.events += 1;
                    out.good_len = batch_start + end as u64 + 1;
                    each(item);
                }
                Err(Fault::HeadMismatch) => {
                    out.broken = Some(Broken {
                        seq: out.last_seq + 1,
                        line: line_number,
                        fault: Fault::HeadMismatch,
                    });
                    return Ok(out);
                }
                Err(fault) => {
                    let mut rest = BufReader::new((&mut file).take(left));
                    if let Some(torn) = torn_rest(&batch[start..], &mut rest)? {
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
        batch.copy_within(complete.., 0);
        batch.truncate(batch.len() - complete);
        batch_start += complete as u64;
        if batch.capacity() > 2 * BATCH_BYTES + READ_CHUNK {
            // One huge line (a large capture) must not stay allocated for the rest.
            let mut fresh = Vec::with_capacity(BATCH_BYTES + READ_CHUNK);
            fresh.extend_from_slice(&batch);
            batch = fresh;
        }
    }
}

/// `read`, again when interrupted by a signal.
fn read_some(file: &mut std::fs::File, buf: &mut [u8]) -> std::io::Result<usize> {
    loop {
        match file.read(buf) {
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            other => return other,
        }
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
        // The in-place reading (`verify`'s) judges every line as the full parse does.
        let mut lines = Vec::new();
        let in_place = stream_lines(dir, |l| lines.push((l.seq, l.kind))).unwrap();
        assert_eq!(in_place, streamed);
        let kinds: Vec<(u64, Kind)> = replayed.events.iter().map(|e| (e.seq, e.kind)).collect();
        assert_eq!(lines, kinds);
        // So does a report's (`stream_lean`).
        let mut records = Vec::new();
        let lean = stream_lean(dir, |r| {
            records.push(match r {
                Record::Exchange(x) => (x.seq, x.kind()),
                Record::Event(e) => (e.seq, e.kind),
            });
        })
        .unwrap();
        assert_eq!(lean, streamed);
        assert_eq!(records, kinds);
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

    /// Replace line `n` (1-based) of the journal with `change(line)`.
    fn edit_line(dir: &Path, n: usize, change: impl FnOnce(&str) -> String) {
        edit(dir, |b| {
            let text = String::from_utf8(std::mem::take(b)).unwrap();
            let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
            lines[n - 1] = change(&lines[n - 1]);
            *b = (lines.join("\n") + "\n").into_bytes();
        });
    }

    #[test]
    fn lines_the_writer_did_not_write_are_judged_by_the_full_parse() {
        // Re-formatted JSON (spaces), and an escape where the writer writes none: both still
        // verify (the full parse and canonical re-hash), as they always did.
        let dir = incident(3);
        edit_line(dir.path(), 1, |l| l.replace(",\"", ", \""));
        edit_line(dir.path(), 2, |l| {
            l.replacen("\"alice\"", "\"\\u0061lice\"", 1)
        });
        let clean = assert_same_verdict(dir.path());
        assert_eq!((clean.events, clean.broken), (3, None));
    }

    #[rstest::rstest]
    #[case::changed_data(|l: &str| l.replacen("note 1", "note 9", 1), Fault::Hash)]
    #[case::changed_data_reformatted(|l: &str| l.replacen("note 1", "note 9", 1).replace(",\"", ", \""), Fault::Hash)]
    #[case::changed_hash(|l: &str| { let at = l.len() - 3; format!("{}{}\"}}", &l[..at], if &l[at..=at] == "0" { "1" } else { "0" }) }, Fault::Hash)]
    #[case::changed_prev(|l: &str| l.replacen("\"prev\":\"", "\"prev\":\"0", 1), Fault::Prev)]
    #[case::escaped_and_changed(|l: &str| l.replacen("\"alice\"", "\"\\u0062lice\"", 1), Fault::Hash)]
    fn a_changed_line_is_caught_as_before(
        #[case] change: fn(&str) -> String,
        #[case] fault: Fault,
    ) {
        let dir = incident(3);
        edit_line(dir.path(), 2, change);
        let broken = assert_same_verdict(dir.path()).broken.unwrap();
        assert_eq!((broken.seq, broken.line), (2, 2));
        assert_eq!(broken.fault, fault);
    }

    #[test]
    fn an_unknown_field_or_a_bad_time_is_unreadable_as_before() {
        for change in [
            (|l: &str| l.replacen('{', "{\"extra\":1,", 1)) as fn(&str) -> String,
            |l: &str| l.replacen("\"at\":\"", "\"at\":\"x", 1),
            |l: &str| l.replacen("\"kind\":\"note\"", "\"kind\":\"nope\"", 1),
        ] {
            let dir = incident(3);
            edit_line(dir.path(), 2, change);
            let broken = assert_same_verdict(dir.path()).broken.unwrap();
            assert!(matches!(broken.fault, Fault::Unreadable(_)), "{broken:?}");
        }
    }
}
