//! A foreach step's exchange rows, kept on disk while a journal streams, so that the JSON
//! export and `--timeline full` list every exchange of a 2,000,000-event incident without
//! holding its rows in memory.
//!
//! ```text
//! Rows::push ──exchange row──▶ Writer::push ──▶ unnamed temp file (0600, gone on close)
//!                                                  │ runs: stretches in time order
//! Timeline::walk ◀── merge by (at, seq) ◀── Spill::reader (one buffer and row per run)
//! ```
//!
//! Rows are written in journal order, which is time order unless the clock stepped back;
//! each step back starts a new *run*, and reading merges the runs by `(at, seq)`, the order a
//! stable sort by time gives. Reading holds one small buffer per run; past [`MAX_RUNS`] runs
//! (a journal whose clock went back and forth hundreds of times) the rows are read into
//! memory and sorted instead: the order stays right, only the memory bound is given up.
//!
//! A record is binary (fixed-width numbers, length-prefixed UTF-8), written and read only
//! here, within one export; it is never a file format anyone else sees. Offsets are not
//! stored: they depend on the opening, computed when rows are read. Each run decodes into a
//! row of its own whose strings are reused ([`Reader`]), so reading 2,000,000 rows back
//! allocates nothing per row.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::os::unix::fs::FileExt;

use jiff::Timestamp;

use super::TimelineRow;
use crate::journal::Kind;

/// Runs merged while streaming; more are sorted in memory.
pub const MAX_RUNS: usize = 64;

/// Bytes each run's reader holds.
const READ_BUF: usize = 64 * 1024;

/// Exchange rows being written.
pub struct Writer {
    out: BufWriter<File>,
    /// `(start, end)` byte ranges of the runs so far.
    runs: Vec<(u64, u64)>,
    written: u64,
    rows: u64,
    last: Option<(Timestamp, u64)>,
    /// The first write error; the export reports it when the rows are read.
    failed: Option<std::io::Error>,
    /// The record being written (its allocation reused).
    record: Vec<u8>,
}

/// What a written row holds (an exchange's row: `recorded_at` is `at`, never back-dated).
pub struct Parts<'a> {
    pub seq: u64,
    pub at: Timestamp,
    pub item: Option<u64>,
    /// `http.response` (else `http.request`).
    pub response: bool,
    pub actor: &'a str,
    pub step: Option<&'a str>,
    pub text: &'a str,
}

/// Exchange rows written, ready to be read in time order.
#[derive(Debug)]
pub struct Spill {
    /// `None` when the buffered rows could not be written out (`failed` says why).
    file: Option<File>,
    runs: Vec<(u64, u64)>,
    rows: u64,
    failed: Option<String>,
}

impl Writer {
    pub fn new() -> std::io::Result<Self> {
        Ok(Self {
            out: BufWriter::with_capacity(256 * 1024, tempfile::tempfile()?),
            runs: Vec::new(),
            written: 0,
            rows: 0,
            last: None,
            failed: None,
            record: Vec::new(),
        })
    }

    /// Write one exchange row (its offset is left out: see the module doc).
    pub fn push(&mut self, row: &TimelineRow) {
        self.push_parts(&Parts {
            seq: row.seq,
            at: row.at,
            item: row.item,
            response: row.kind == Kind::HttpResponse.as_str(),
            actor: &row.actor,
            step: row.step.as_deref(),
            text: &row.text,
        });
    }

    /// [`Writer::push`] of a row not built yet: what it would hold.
    pub fn push_parts(&mut self, parts: &Parts<'_>) {
        if self.failed.is_some() {
            return;
        }
        let key = (parts.at, parts.seq);
        if self.last.is_none_or(|last| key < last) {
            self.runs.push((self.written, self.written));
        }
        self.last = Some(key);
        encode(parts, &mut self.record);
        match self.out.write_all(&self.record) {
            Ok(()) => {
                self.written += self.record.len() as u64;
                self.rows += 1;
                if let Some(run) = self.runs.last_mut() {
                    run.1 = self.written;
                }
            }
            Err(e) => self.failed = Some(e),
        }
    }

    pub fn finish(self) -> Spill {
        let (file, failed) = match self.out.into_inner() {
            Ok(file) => (Some(file), self.failed),
            Err(e) => (None, Some(e.into_error())),
        };
        Spill {
            file,
            runs: self.runs,
            rows: self.rows,
            failed: failed.map(|e| e.to_string()),
        }
    }
}

impl Spill {
    /// How many rows were written.
    pub fn len(&self) -> u64 {
        self.rows
    }

    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Every row in `(at, seq)` order (offsets still to be filled in), each read into one
    /// row the reader keeps reusing: no allocation per row once its strings have grown.
    pub fn reader(&self) -> std::io::Result<Reader<'_>> {
        let file = match (&self.file, &self.failed) {
            (Some(file), None) => file,
            (_, reason) => {
                return Err(std::io::Error::other(format!(
                    "writing the exchange rows to a temporary file failed: {}",
                    reason.as_deref().unwrap_or("unknown error")
                )));
            }
        };
        let mut runs: Vec<Run<'_>> = self
            .runs
            .iter()
            .map(|&(start, end)| Run::new(file, start, end))
            .collect();
        if runs.len() > MAX_RUNS {
            let mut all = Vec::with_capacity(usize::try_from(self.rows).unwrap_or(0));
            for run in &mut runs {
                let mut row = blank();
                while run.read_into(&mut row)? {
                    all.push(std::mem::replace(&mut row, blank()));
                }
            }
            all.sort_by_key(|r| (r.at, r.seq));
            let mut sorted = all.into_iter();
            let current = sorted.next();
            return Ok(Reader::Sorted { sorted, current });
        }
        let mut heads = Vec::with_capacity(runs.len());
        for mut run in runs {
            let mut row = blank();
            if run.read_into(&mut row)? {
                heads.push((run, row));
            }
        }
        let mut reader = Reader::Runs {
            heads,
            current: None,
        };
        reader.pick();
        Ok(reader)
    }
}

/// Spilled rows read back in `(at, seq)` order, one at a time: [`Reader::current`] is the
/// next row, [`Reader::advance`] moves past it.
pub enum Reader<'a> {
    /// Each run's next row read into its own reused row; `current` names the smallest.
    Runs {
        heads: Vec<(Run<'a>, TimelineRow)>,
        current: Option<usize>,
    },
    /// Past [`MAX_RUNS`]: every row in memory, sorted.
    Sorted {
        sorted: std::vec::IntoIter<TimelineRow>,
        current: Option<TimelineRow>,
    },
}

impl Reader<'_> {
    /// The next row in time order (its offset still to be filled in), `None` at the end.
    pub fn current(&mut self) -> Option<&mut TimelineRow> {
        match self {
            Reader::Runs { heads, current } => current.map(|i| &mut heads[i].1),
            Reader::Sorted { current, .. } => current.as_mut(),
        }
    }

    /// Move past [`Reader::current`].
    pub fn advance(&mut self) -> std::io::Result<()> {
        match self {
            Reader::Runs { heads, current } => {
                if let Some(i) = current.take() {
                    let (run, row) = &mut heads[i];
                    if !run.read_into(row)? {
                        heads.swap_remove(i);
                    }
                }
                self.pick();
            }
            Reader::Sorted { sorted, current } => *current = sorted.next(),
        }
        Ok(())
    }

    /// The run whose head is smallest by `(at, seq)` becomes the current one.
    fn pick(&mut self) {
        if let Reader::Runs { heads, current } = self {
            *current = heads
                .iter()
                .enumerate()
                .min_by_key(|(_, (_, row))| (row.at, row.seq))
                .map(|(i, _)| i);
        }
    }
}

/// One run's bytes, read through a small buffer at its own position (`pread`: the runs
/// share the file but not a cursor).
pub struct Run<'a> {
    file: &'a File,
    at: u64,
    end: u64,
    buf: Vec<u8>,
    pos: usize,
}

impl<'a> Run<'a> {
    fn new(file: &'a File, start: u64, end: u64) -> Self {
        Run {
            file,
            at: start,
            end,
            buf: Vec::new(),
            pos: 0,
        }
    }

    /// Make at least `n` unread bytes available, or fewer at the run's end.
    fn fill(&mut self, n: usize) -> std::io::Result<()> {
        if self.buf.len() - self.pos >= n {
            return Ok(());
        }
        self.buf.drain(..self.pos);
        self.pos = 0;
        let want = n.max(READ_BUF) - self.buf.len();
        let left = usize::try_from(self.end - self.at).unwrap_or(usize::MAX);
        let take = want.min(left);
        let old = self.buf.len();
        self.buf.resize(old + take, 0);
        self.file.read_exact_at(&mut self.buf[old..], self.at)?;
        self.at += take as u64;
        Ok(())
    }

    /// Read the run's next row into `row` (its strings reused); `false` at the run's end.
    fn read_into(&mut self, row: &mut TimelineRow) -> std::io::Result<bool> {
        self.fill(4)?;
        if self.buf.len() == self.pos {
            return Ok(false);
        }
        let len = u32::from_le_bytes(Cursor(&self.buf[self.pos..]).take()?);
        let len = usize::try_from(len).unwrap_or(usize::MAX);
        self.pos += 4;
        self.fill(len)?;
        let record = self
            .buf
            .get(self.pos..self.pos.saturating_add(len))
            .ok_or_else(|| corrupt("a record runs past its run"))?;
        decode(record, row)?;
        self.pos += len;
        Ok(true)
    }
}

fn corrupt(what: &str) -> std::io::Error {
    std::io::Error::new(
        std::io::ErrorKind::InvalidData,
        format!("the export's temporary file of exchange rows: {what}"),
    )
}

/// `len ‖ seq ‖ at (ns) ‖ item ‖ kind ‖ actor ‖ step ‖ text`, numbers little-endian, strings
/// as `u32 length ‖ UTF-8` (`step` absent: length `u32::MAX`).
fn encode(row: &Parts<'_>, out: &mut Vec<u8>) {
    out.clear();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&row.seq.to_le_bytes());
    out.extend_from_slice(&row.at.as_nanosecond().to_le_bytes());
    out.extend_from_slice(&row.item.unwrap_or(u64::MAX).to_le_bytes());
    out.push(u8::from(row.response));
    put_str(out, Some(row.actor));
    put_str(out, row.step);
    put_str(out, Some(row.text));
    let len = u32::try_from(out.len() - 4).unwrap_or(u32::MAX);
    out[..4].copy_from_slice(&len.to_le_bytes());
}

fn put_str(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        // A row's text is far below 4 GiB (one journal line); cut rather than wrap if not.
        Some(text) => {
            let len = u32::try_from(text.len()).unwrap_or(u32::MAX - 1);
            out.extend_from_slice(&len.to_le_bytes());
            out.extend_from_slice(&text.as_bytes()[..len as usize]);
        }
        None => out.extend_from_slice(&u32::MAX.to_le_bytes()),
    }
}

/// An exchange row with nothing in it yet, for [`decode`] to fill.
fn blank() -> TimelineRow {
    TimelineRow {
        seq: 0,
        at: Timestamp::UNIX_EPOCH,
        offset: String::new(),
        offset_ms: 0,
        recorded_at: Timestamp::UNIX_EPOCH,
        backdated: false,
        actor: String::new(),
        kind: Kind::HttpRequest.as_str(),
        step: None,
        text: String::new(),
        corrections: Vec::new(),
        item: None,
    }
}

/// Decode `record` into `row`, reusing its strings (offsets are left as they are).
fn decode(record: &[u8], row: &mut TimelineRow) -> std::io::Result<()> {
    let mut cursor = Cursor(record);
    row.seq = u64::from_le_bytes(cursor.take()?);
    let nanos = i128::from_le_bytes(cursor.take()?);
    row.at = Timestamp::from_nanosecond(nanos).map_err(|_| corrupt("a time out of range"))?;
    row.recorded_at = row.at;
    let item = u64::from_le_bytes(cursor.take()?);
    row.item = (item != u64::MAX).then_some(item);
    let [kind] = cursor.take()?;
    row.kind = if kind == 1 {
        Kind::HttpResponse.as_str()
    } else {
        Kind::HttpRequest.as_str()
    };
    row.actor.clear();
    if let Some(actor) = cursor.text()? {
        row.actor.push_str(actor);
    }
    match (cursor.text()?, &mut row.step) {
        (Some(step), Some(kept)) => {
            kept.clear();
            kept.push_str(step);
        }
        (step, kept) => *kept = step.map(str::to_owned),
    }
    row.text.clear();
    if let Some(text) = cursor.text()? {
        row.text.push_str(text);
    }
    Ok(())
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn take<const N: usize>(&mut self) -> std::io::Result<[u8; N]> {
        let (head, rest) = self
            .0
            .split_at_checked(N)
            .ok_or_else(|| corrupt("a record ends early"))?;
        self.0 = rest;
        <[u8; N]>::try_from(head).map_err(|_| corrupt("a record ends early"))
    }

    fn text(&mut self) -> std::io::Result<Option<&'a str>> {
        let len = u32::from_le_bytes(self.take()?);
        if len == u32::MAX {
            return Ok(None);
        }
        let (head, rest) = self
            .0
            .split_at_checked(len as usize)
            .ok_or_else(|| corrupt("a record ends early"))?;
        self.0 = rest;
        std::str::from_utf8(head)
            .map(Some)
            .map_err(|_| corrupt("text that is not UTF-8"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: u64, at_ms: i64, text: &str) -> TimelineRow {
        let at = Timestamp::from_millisecond(at_ms).unwrap();
        TimelineRow {
            seq,
            at,
            offset: String::new(),
            offset_ms: 0,
            recorded_at: at,
            backdated: false,
            actor: "alice".into(),
            kind: if seq.is_multiple_of(2) {
                "http.response"
            } else {
                "http.request"
            },
            step: (seq != 3).then(|| "revoke".to_owned()),
            text: text.into(),
            corrections: Vec::new(),
            item: Some(seq / 2),
        }
    }

    fn rows(spill: &Spill) -> Vec<TimelineRow> {
        let mut reader = spill.reader().unwrap();
        let mut rows = Vec::new();
        while let Some(row) = reader.current() {
            rows.push(row.clone());
            reader.advance().unwrap();
        }
        rows
    }

    fn read(spill: &Spill) -> Vec<(u64, String)> {
        rows(spill).into_iter().map(|r| (r.seq, r.text)).collect()
    }

    #[test]
    fn rows_come_back_whole_and_in_time_order_across_clock_steps() {
        let mut writer = Writer::new().unwrap();
        // The clock steps back twice: three runs, merged as a stable sort by time would.
        let times = [10, 20, 20, 5, 25, 15, 15, 30];
        for (i, at) in times.iter().enumerate() {
            writer.push(&row(i as u64 + 1, *at, &format!("row {} é", i + 1)));
        }
        let spill = writer.finish();
        assert_eq!(spill.len(), 8);
        assert_eq!(spill.runs.len(), 3);
        let seqs: Vec<u64> = read(&spill).into_iter().map(|(seq, _)| seq).collect();
        assert_eq!(seqs, [4, 1, 6, 7, 2, 3, 5, 8]);
        let third = rows(&spill).swap_remove(5);
        assert_eq!(
            (third.seq, third.step, third.text.as_str()),
            (3, None, "row 3 é")
        );
    }

    #[test]
    fn more_runs_than_readers_are_sorted_in_memory_in_the_same_order() {
        let mut writer = Writer::new().unwrap();
        let n = 2 * MAX_RUNS as u64 + 3;
        for seq in 1..=n {
            // Back and forth: every other row steps back.
            let at = if seq.is_multiple_of(2) {
                1000 - seq.cast_signed()
            } else {
                2000 + seq.cast_signed()
            };
            writer.push(&row(seq, at, "x"));
        }
        let spill = writer.finish();
        assert!(spill.runs.len() > MAX_RUNS);
        let mut expected: Vec<(i64, u64)> = (1..=n)
            .map(|seq| {
                (
                    if seq.is_multiple_of(2) {
                        1000 - seq.cast_signed()
                    } else {
                        2000 + seq.cast_signed()
                    },
                    seq,
                )
            })
            .collect();
        expected.sort_unstable();
        let seqs: Vec<u64> = read(&spill).into_iter().map(|(seq, _)| seq).collect();
        assert_eq!(seqs, expected.iter().map(|(_, s)| *s).collect::<Vec<_>>());
    }

    #[test]
    fn a_row_read_into_the_last_ones_place_keeps_nothing_of_it() {
        let mut writer = Writer::new().unwrap();
        let mut written = vec![
            row(1, 1, "a long first text"),
            row(2, 2, "b"),
            row(4, 3, ""),
        ];
        written[0].actor = "a long actor name".into();
        written[1].step = None;
        written[1].item = None;
        written[2].actor = "c".into();
        for row in &written {
            writer.push(row);
        }
        let read = rows(&writer.finish());
        let fields = |r: &TimelineRow| {
            (
                r.seq,
                r.at,
                r.recorded_at,
                r.kind,
                r.item,
                r.actor.clone(),
                r.step.clone(),
                r.text.clone(),
            )
        };
        assert_eq!(
            read.iter().map(fields).collect::<Vec<_>>(),
            written.iter().map(fields).collect::<Vec<_>>()
        );
    }

    #[test]
    fn a_long_text_crosses_the_read_buffer() {
        let mut writer = Writer::new().unwrap();
        let long = "y".repeat(3 * READ_BUF);
        writer.push(&row(1, 1, "short"));
        writer.push(&row(2, 2, &long));
        writer.push(&row(3, 3, "after"));
        let rows = read(&writer.finish());
        assert_eq!(rows[1].1, long);
        assert_eq!(rows[2], (3, "after".to_owned()));
    }
}
