//! The offset index: seq → byte offset of its line in `journal.jsonl`, so a reader can fetch
//! any event with one `pread` instead of reading (or holding) the journal up to it.
//!
//! `journal.idx` sits beside the journal (mode 0600 via [`crate::private`]):
//!
//! ```text
//! 0   magic "STNCHIX1"      8 bytes
//! 8   format version (u32 LE) and 4 reserved bytes
//! 16  covered: journal bytes indexed, through the last indexed line's newline (u64 LE)
//! 24  count: events indexed, seq 1..=count (u64 LE)
//! 32  hash of event `count`, 64 hex digits ("" as zeros when count is 0)
//! 96  count × u64 LE: where line `seq` starts (entry `seq - 1`)
//! ```
//!
//! The header binds the index to the journal it was built from: [`Index::open`] and
//! [`Index::refresh`] re-read the line at entry `count` and accept the index only if it ends
//! at `covered` and is event `count` with that hash. A journal longer than `covered` is indexed
//! incrementally from `covered`; a shorter one, a different last indexed event, or an index
//! file that is short, foreign or of another version, is rebuilt from the start. Entries
//! beyond `count` (a crash between writing entries and the header, which is written last)
//! are cut off. The index is a cache, never synced: anything it says is checked before use.
//!
//! Built and extended by one streaming pass over the new bytes (a bounded buffer, only each
//! line's first and last bytes kept), it trusts nothing it cannot check cheaply: line `n` must
//! start `{"seq":n,` (a re-formatted line is read whole and parsed instead) and indexing stops
//! at the first line that is not the next seq or has no newline yet (a torn tail, damage, or
//! a write in progress), to be picked up by a later refresh. The index locates lines; it does
//! not verify the chain (opening and `verify` do). Readers check each line they read against
//! the seq they asked for ([`IndexError::Stale`]) and rebuild when it does not match.
//!
//! Who extends it: whoever reads through it, lazily. The TUI's pager calls
//! [`Index::refresh`] before serving a page whose last seq it has not indexed yet, so events
//! this process (or a teammate) appended are indexed from the last covered offset on, without
//! the writer knowing the index exists.

use std::fs::File;
use std::io::{BufRead, BufReader, Seek, SeekFrom};
use std::ops::Range;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use super::writer::JOURNAL_FILE;

/// The index file, beside the journal.
pub const INDEX_FILE: &str = "journal.idx";

const MAGIC: &[u8; 8] = b"STNCHIX1";
const VERSION: u32 = 1;
const HEADER: u64 = 96;
const ENTRY: u64 = 8;
/// Entries written per write while building (512 KiB).
const FLUSH_ENTRIES: usize = 64 * 1024;
/// Bytes kept from the start of a line while streaming (`{"seq":<20 digits>,`).
const PREFIX: usize = 32;
/// Bytes kept from the end of a line (`,"hash":"<64 hex>"}`).
const SUFFIX: usize = 80;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("journal index: I/O on {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// The line the index points at is not the event asked for: the journal was rewritten
    /// since the index was checked. Rebuild and ask again.
    #[error("journal index of {path} is stale: seq {seq} is not where it says")]
    Stale { path: PathBuf, seq: u64 },
    #[error("seq {seq} is not in the journal index of {path} (it holds 1..={count})")]
    OutOfRange { path: PathBuf, seq: u64, count: u64 },
}

/// The offset index of one journal, open for reading and extending.
pub struct Index {
    dir: PathBuf,
    journal: File,
    idx: File,
    count: u64,
    covered: u64,
    last_hash: String,
}

impl Index {
    /// Open (or build) the index of the journal in `dir`, checked against the journal and
    /// extended to its end.
    pub fn open(dir: &Path) -> Result<Self, IndexError> {
        let journal_path = dir.join(JOURNAL_FILE);
        let journal = crate::private::open_read(&journal_path).map_err(io(&journal_path))?;
        let idx_path = dir.join(INDEX_FILE);
        let (idx, tightened) = crate::private::open_or_create(&idx_path).map_err(io(&idx_path))?;
        if let Some(tightened) = tightened {
            tracing::warn!("{tightened}");
        }
        let mut index = Self {
            dir: dir.to_path_buf(),
            journal,
            idx,
            count: 0,
            covered: 0,
            last_hash: String::new(),
        };
        if !index.load_header()? {
            tracing::info!("{}: building the journal index", idx_path.display());
            index.reset()?;
        }
        index.refresh()?;
        Ok(index)
    }

    /// Events indexed (seq 1..=len).
    pub fn len(&self) -> u64 {
        self.count
    }

    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Bring the index up to the journal as it is now: extend it over lines appended since,
    /// or rebuild it when the journal no longer matches. Returns the events indexed.
    pub fn refresh(&mut self) -> Result<u64, IndexError> {
        let len = self.journal_len()?;
        if len < self.covered || !self.binding_holds()? {
            tracing::info!(
                "{}: journal changed; rebuilding its index",
                self.dir.display()
            );
            self.reset()?;
        }
        if len > self.covered {
            self.extend()?;
        }
        Ok(self.count)
    }

    /// Throw the index away and build it again from the start of the journal.
    pub fn rebuild(&mut self) -> Result<u64, IndexError> {
        self.reset()?;
        self.extend()?;
        Ok(self.count)
    }

    /// The byte range of line `seq` (without its newline).
    pub fn span(&self, seq: u64) -> Result<Range<u64>, IndexError> {
        let starts = self.starts(seq, 1)?;
        Ok(starts[0]..starts[1] - 1)
    }

    /// Where lines `first..first + n` start, plus where the last one ends (after its
    /// newline): `n + 1` offsets, read in one `pread`.
    pub fn starts(&self, first: u64, n: u64) -> Result<Vec<u64>, IndexError> {
        let last = first + n.max(1) - 1;
        if first == 0 || last > self.count {
            return Err(IndexError::OutOfRange {
                path: self.idx_path(),
                seq: if first == 0 { 0 } else { last },
                count: self.count,
            });
        }
        // Entries first..=last, and the entry after (or `covered` for the last event).
        let through = (last + 1).min(self.count);
        let entries = usize::try_from(through - first + 1).unwrap_or(usize::MAX);
        let mut bytes = vec![0; entries * 8];
        self.idx
            .read_exact_at(&mut bytes, HEADER + (first - 1) * ENTRY)
            .map_err(io(&self.idx_path()))?;
        let mut starts: Vec<u64> = bytes.chunks_exact(8).map(le_u64).collect();
        if last == self.count {
            starts.push(self.covered);
        }
        if starts.windows(2).any(|w| w[0] >= w[1]) {
            return Err(self.stale(first));
        }
        Ok(starts)
    }

    /// Read line `seq` (without its newline).
    pub fn line(&self, seq: u64) -> Result<Vec<u8>, IndexError> {
        let span = self.span(seq)?;
        self.read(span)
    }

    /// Read the journal bytes in `span`.
    pub fn read(&self, span: Range<u64>) -> Result<Vec<u8>, IndexError> {
        let len = usize::try_from(span.end.saturating_sub(span.start)).unwrap_or(0);
        let mut bytes = vec![0; len];
        self.journal
            .read_exact_at(&mut bytes, span.start)
            .map_err(io(&self.dir.join(JOURNAL_FILE)))?;
        Ok(bytes)
    }

    /// [`IndexError::Stale`] for `seq`: what a reader reports when a line is not its seq.
    pub fn stale(&self, seq: u64) -> IndexError {
        IndexError::Stale {
            path: self.dir.join(JOURNAL_FILE),
            seq,
        }
    }

    fn idx_path(&self) -> PathBuf {
        self.dir.join(INDEX_FILE)
    }

    fn journal_len(&self) -> Result<u64, IndexError> {
        self.journal
            .metadata()
            .map(|m| m.len())
            .map_err(io(&self.dir.join(JOURNAL_FILE)))
    }

    /// Read the header; `false` when the file is not a usable index of this journal.
    fn load_header(&mut self) -> Result<bool, IndexError> {
        let path = self.idx_path();
        let len = self.idx.metadata().map_err(io(&path))?.len();
        let mut header = [0_u8; 96];
        if len < HEADER || self.idx.read_exact_at(&mut header, 0).is_err() {
            return Ok(false);
        }
        if &header[..8] != MAGIC || le_u32(&header[8..12]) != VERSION {
            return Ok(false);
        }
        let covered = le_u64(&header[16..24]);
        let count = le_u64(&header[24..32]);
        let Ok(hash) = std::str::from_utf8(&header[32..96]) else {
            return Ok(false);
        };
        let Some(expected) = count.checked_mul(ENTRY).and_then(|e| e.checked_add(HEADER)) else {
            return Ok(false);
        };
        if len < expected {
            return Ok(false);
        }
        if len > expected {
            // Entries written after the header last was: never confirmed, dropped.
            self.idx.set_len(expected).map_err(io(&path))?;
        }
        self.count = count;
        self.covered = covered;
        self.last_hash = hash.to_owned();
        Ok(self.journal_len()? >= covered && self.binding_holds()?)
    }

    /// The last indexed line is still event `count` with the recorded hash, ending at
    /// `covered`.
    fn binding_holds(&self) -> Result<bool, IndexError> {
        if self.count == 0 {
            return Ok(self.covered == 0);
        }
        let Ok(starts) = self.starts(self.count, 1) else {
            return Ok(false);
        };
        if starts[1] > self.journal_len()? {
            return Ok(false);
        }
        let line = self.read(starts[0]..starts[1])?;
        let Some(body) = line.strip_suffix(b"\n") else {
            return Ok(false);
        };
        Ok(seq_and_hash(body)
            .is_some_and(|(seq, hash)| seq == self.count && hash == self.last_hash))
    }

    fn reset(&mut self) -> Result<(), IndexError> {
        self.count = 0;
        self.covered = 0;
        self.last_hash.clear();
        let path = self.idx_path();
        self.idx.set_len(0).map_err(io(&path))?;
        self.write_header()
    }

    fn write_header(&self) -> Result<(), IndexError> {
        let mut header = Vec::with_capacity(96);
        header.extend_from_slice(MAGIC);
        header.extend_from_slice(&VERSION.to_le_bytes());
        header.extend_from_slice(&[0; 4]);
        header.extend_from_slice(&self.covered.to_le_bytes());
        header.extend_from_slice(&self.count.to_le_bytes());
        let mut hash = [b'0'; 64];
        let given = self.last_hash.as_bytes();
        hash[..given.len().min(64)].copy_from_slice(&given[..given.len().min(64)]);
        header.extend_from_slice(&hash);
        self.idx
            .write_all_at(&header, 0)
            .map_err(io(&self.idx_path()))
    }

    /// Index the complete lines after `covered`, stopping at the first line that is not the
    /// next event. Streams: one buffer, and of each line only its ends.
    fn extend(&mut self) -> Result<(), IndexError> {
        let journal_path = self.dir.join(JOURNAL_FILE);
        let mut file = self.journal.try_clone().map_err(io(&journal_path))?;
        file.seek(SeekFrom::Start(self.covered))
            .map_err(io(&journal_path))?;
        let mut reader = BufReader::with_capacity(1 << 20, file);
        let mut pending: Vec<u8> = Vec::with_capacity(FLUSH_ENTRIES * 8);
        let mut flushed = self.count;
        let mut line = LineEnds::default();
        let mut at = self.covered;
        loop {
            let chunk = reader.fill_buf().map_err(io(&journal_path))?;
            if chunk.is_empty() {
                break; // A last line without its newline is not written yet (or torn).
            }
            let Some(newline) = memchr::memchr(b'\n', chunk) else {
                line.take(chunk);
                let n = chunk.len();
                reader.consume(n);
                continue;
            };
            line.take(&chunk[..newline]);
            reader.consume(newline + 1);
            let end = at + line.len + 1;
            let Some((seq, hash)) = self.check_line(&line, at..end - 1)? else {
                break;
            };
            if seq != self.count + 1 {
                break;
            }
            pending.extend_from_slice(&at.to_le_bytes());
            self.count = seq;
            self.covered = end;
            self.last_hash = hash;
            at = end;
            line = LineEnds::default();
            if pending.len() >= FLUSH_ENTRIES * 8 {
                self.flush(&mut pending, &mut flushed)?;
            }
        }
        self.flush(&mut pending, &mut flushed)?;
        self.write_header()
    }

    fn flush(&self, pending: &mut Vec<u8>, flushed: &mut u64) -> Result<(), IndexError> {
        self.idx
            .write_all_at(pending, HEADER + *flushed * ENTRY)
            .map_err(io(&self.idx_path()))?;
        *flushed += pending.len() as u64 / ENTRY;
        pending.clear();
        Ok(())
    }

    /// Seq and hash of a streamed line from its ends; a line not in the writer's form is read
    /// whole and parsed. `None` when it is not an event.
    fn check_line(
        &self,
        line: &LineEnds,
        span: Range<u64>,
    ) -> Result<Option<(u64, String)>, IndexError> {
        if let (Some(seq), Some(hash)) = (prefix_seq(&line.prefix), suffix_hash(&line.suffix)) {
            return Ok(Some((seq, hash.to_owned())));
        }
        let whole = self.read(span)?;
        Ok(seq_and_hash(&whole))
    }
}

/// The first and last bytes of a line being streamed, and its length.
#[derive(Default)]
struct LineEnds {
    prefix: Vec<u8>,
    suffix: Vec<u8>,
    len: u64,
}

impl LineEnds {
    fn take(&mut self, bytes: &[u8]) {
        self.len += bytes.len() as u64;
        let room = PREFIX.saturating_sub(self.prefix.len());
        self.prefix
            .extend_from_slice(&bytes[..room.min(bytes.len())]);
        if bytes.len() >= SUFFIX {
            self.suffix.clear();
            self.suffix
                .extend_from_slice(&bytes[bytes.len() - SUFFIX..]);
        } else {
            self.suffix.extend_from_slice(bytes);
            let extra = self.suffix.len().saturating_sub(SUFFIX);
            self.suffix.drain(..extra);
        }
    }
}

/// `n` from a line starting `{"seq":n,` (the writer's form: `seq` is the first field).
fn prefix_seq(prefix: &[u8]) -> Option<u64> {
    let rest = prefix.strip_prefix(b"{\"seq\":")?;
    let digits = rest.iter().take_while(|b| b.is_ascii_digit()).count();
    if digits == 0 || digits > 19 || rest.get(digits) != Some(&b',') {
        return None;
    }
    std::str::from_utf8(&rest[..digits]).ok()?.parse().ok()
}

/// The hash from a line ending `,"hash":"<64 hex>"}` (the writer's form).
fn suffix_hash(suffix: &[u8]) -> Option<&str> {
    let tail = suffix.get(suffix.len().checked_sub(2 + 64 + 9)?..)?;
    let hex = tail.strip_prefix(b",\"hash\":\"")?.strip_suffix(b"\"}")?;
    let hex = std::str::from_utf8(hex).ok()?;
    hex.bytes().all(|b| b.is_ascii_hexdigit()).then_some(hex)
}

/// Seq and hash of a whole line, parsed (any field order or spacing).
fn seq_and_hash(line: &[u8]) -> Option<(u64, String)> {
    #[derive(serde::Deserialize)]
    struct Ends {
        seq: u64,
        hash: String,
    }
    let ends: Ends = serde_json::from_slice(line).ok()?;
    Some((ends.seq, ends.hash))
}

fn le_u64(bytes: &[u8]) -> u64 {
    let mut word = [0; 8];
    word.copy_from_slice(&bytes[..8]);
    u64::from_le_bytes(word)
}

fn le_u32(bytes: &[u8]) -> u32 {
    let mut word = [0; 4];
    word.copy_from_slice(&bytes[..4]);
    u32::from_le_bytes(word)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> IndexError + '_ {
    move |source| IndexError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Event, Journal, Kind, NewEvent};

    fn note(i: u64) -> NewEvent {
        NewEvent::new(
            Kind::Note,
            serde_json::json!({ "text": format!("note {i} {}", "x".repeat((i % 7) as usize * 40)), "tags": [] }),
        )
    }

    /// An incident with `n` notes after nothing else (seq i is note i).
    fn journal(dir: &Path, from: u64, to: u64) {
        let journal = if from == 1 {
            Journal::create(dir, "alice").unwrap()
        } else {
            Journal::open(dir, "alice").unwrap().0
        };
        for i in from..=to {
            if i == to {
                journal.append_blocking(note(i)).unwrap();
            } else {
                journal.enqueue(note(i)).unwrap();
            }
        }
    }

    /// Every indexed line is its seq, and the index covers exactly `n` events.
    fn assert_indexes(index: &Index, n: u64) {
        assert_eq!(index.len(), n);
        for seq in 1..=n {
            let event: Event = serde_json::from_slice(&index.line(seq).unwrap()).unwrap();
            assert_eq!(event.seq, seq);
        }
        assert!(matches!(
            index.line(n + 1),
            Err(IndexError::OutOfRange { .. })
        ));
    }

    fn idx_len(dir: &Path) -> u64 {
        std::fs::metadata(dir.join(INDEX_FILE)).unwrap().len()
    }

    #[test]
    fn builds_then_reopens_without_rebuilding_and_extends_incrementally() {
        let tmp = tempfile::tempdir().unwrap();
        journal(tmp.path(), 1, 300);
        let index = Index::open(tmp.path()).unwrap();
        assert_indexes(&index, 300);
        assert_eq!(idx_len(tmp.path()), HEADER + 300 * ENTRY);
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(tmp.path().join(INDEX_FILE))
                .unwrap()
                .permissions(),
        );
        assert_eq!(mode & 0o777, 0o600);
        drop(index);

        // Reopened: the header still binds it, nothing is rebuilt; the new lines are added.
        journal(tmp.path(), 301, 450);
        let mut index = Index::open(tmp.path()).unwrap();
        assert_indexes(&index, 450);

        // Appends while it is open are picked up by a refresh.
        journal(tmp.path(), 451, 460);
        assert_eq!(index.len(), 450);
        assert_eq!(index.refresh().unwrap(), 460);
        assert_indexes(&index, 460);
    }

    #[test]
    fn a_torn_last_line_is_left_out_until_it_is_complete() {
        let tmp = tempfile::tempdir().unwrap();
        journal(tmp.path(), 1, 20);
        let path = tmp.path().join(JOURNAL_FILE);
        let full = std::fs::read(&path).unwrap();
        let lines: Vec<&[u8]> = full.split_inclusive(|&b| b == b'\n').collect();
        let cut = full.len() - lines[19].len() / 2;
        std::fs::write(&path, &full[..cut]).unwrap();
        let mut index = Index::open(tmp.path()).unwrap();
        assert_indexes(&index, 19);

        // The rest of the line arrives (a write that was in progress).
        std::fs::write(&path, &full).unwrap();
        assert_eq!(index.refresh().unwrap(), 20);
        assert_indexes(&index, 20);

        // A zeroed block with a newline after the last event is not an event either.
        let mut zeroed = full.clone();
        zeroed.extend_from_slice(b"\0\0\0\0\n");
        std::fs::write(&path, &zeroed).unwrap();
        assert_eq!(index.refresh().unwrap(), 20);
    }

    #[rstest::rstest]
    #[case::shorter(|b: &mut Vec<u8>| { let n = b.len(); b.truncate(n - 200); })]
    #[case::last_event_replaced(|b: &mut Vec<u8>| {
        let at = b.len() - 30;
        b[at] = if b[at] == b'a' { b'b' } else { b'a' };
    })]
    fn a_journal_that_no_longer_matches_its_header_is_reindexed(#[case] change: fn(&mut Vec<u8>)) {
        let tmp = tempfile::tempdir().unwrap();
        journal(tmp.path(), 1, 50);
        drop(Index::open(tmp.path()).unwrap());
        let path = tmp.path().join(JOURNAL_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        change(&mut bytes);
        std::fs::write(&path, &bytes).unwrap();
        let index = Index::open(tmp.path()).unwrap();
        // Whatever survives is indexed from the start, each line its own seq.
        let complete = memchr::memchr_iter(b'\n', &bytes).count() as u64;
        assert!(
            index.len() <= complete && index.len() >= 48,
            "{}",
            index.len()
        );
        assert_indexes(&index, index.len());
    }

    #[test]
    fn a_journal_rewritten_under_an_open_index_is_rebuilt_not_misread() {
        let tmp = tempfile::tempdir().unwrap();
        journal(tmp.path(), 1, 40);
        let mut index = Index::open(tmp.path()).unwrap();
        // Another incident's journal (longer lines, more of them) replaces this one.
        let other = tempfile::tempdir().unwrap();
        let journal_b = Journal::create(other.path(), "mallory").unwrap();
        for i in 0..60 {
            journal_b
                .append_blocking(NewEvent::new(
                    Kind::Warning,
                    serde_json::json!({ "text": format!("rewritten {i} {}", "y".repeat(100)) }),
                ))
                .unwrap();
        }
        drop(journal_b);
        std::fs::copy(
            other.path().join(JOURNAL_FILE),
            tmp.path().join(JOURNAL_FILE),
        )
        .unwrap();
        assert_eq!(index.refresh().unwrap(), 60);
        for seq in 1..=60 {
            let event: Event = serde_json::from_slice(&index.line(seq).unwrap()).unwrap();
            assert_eq!(
                (event.seq, event.kind, event.actor.as_str()),
                (seq, Kind::Warning, "mallory")
            );
        }
    }

    #[rstest::rstest]
    #[case::foreign_magic(|b: &mut Vec<u8>| b[0] = b'X')]
    #[case::other_version(|b: &mut Vec<u8>| b[8] = 9)]
    #[case::entries_missing(|b: &mut Vec<u8>| { let n = b.len(); b.truncate(n - 8); })]
    #[case::count_beyond_the_entries(|b: &mut Vec<u8>| b[24] = b[24].wrapping_add(1))]
    #[case::wrong_hash(|b: &mut Vec<u8>| b[40] = if b[40] == b'0' { b'1' } else { b'0' })]
    #[case::empty(|b: &mut Vec<u8>| b.clear())]
    fn a_damaged_index_file_is_rebuilt(#[case] change: fn(&mut Vec<u8>)) {
        let tmp = tempfile::tempdir().unwrap();
        journal(tmp.path(), 1, 30);
        drop(Index::open(tmp.path()).unwrap());
        let path = tmp.path().join(INDEX_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        change(&mut bytes);
        std::fs::write(&path, &bytes).unwrap();
        let index = Index::open(tmp.path()).unwrap();
        assert_indexes(&index, 30);
        assert_eq!(idx_len(tmp.path()), HEADER + 30 * ENTRY);
    }

    #[test]
    fn entries_written_after_the_last_header_are_dropped() {
        let tmp = tempfile::tempdir().unwrap();
        journal(tmp.path(), 1, 10);
        drop(Index::open(tmp.path()).unwrap());
        let path = tmp.path().join(INDEX_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(&u64::MAX.to_le_bytes());
        std::fs::write(&path, &bytes).unwrap();
        let index = Index::open(tmp.path()).unwrap();
        assert_indexes(&index, 10);
        assert_eq!(idx_len(tmp.path()), HEADER + 10 * ENTRY);
    }

    #[test]
    fn a_reformatted_line_is_parsed_whole() {
        let tmp = tempfile::tempdir().unwrap();
        journal(tmp.path(), 1, 3);
        let path = tmp.path().join(JOURNAL_FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        let second: serde_json::Value = serde_json::from_str(&lines[1]).unwrap();
        // Same event, keys in another order and spaced: still line 2.
        let mut spaced = serde_json::to_string_pretty(&second)
            .unwrap()
            .replace('\n', " ");
        spaced.insert(1, ' ');
        lines[1] = spaced;
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        let index = Index::open(tmp.path()).unwrap();
        assert_indexes(&index, 3);
    }

    #[test]
    fn line_ends_keep_the_first_and_last_bytes_across_chunks() {
        let line = format!(
            "{{\"seq\":12345,{}\"hash\":\"{}\"}}",
            "z".repeat(500),
            "a".repeat(64)
        );
        let line = line.replace("zz\"hash", "z,\"hash");
        let mut ends = LineEnds::default();
        for chunk in line.as_bytes().chunks(7) {
            ends.take(chunk);
        }
        assert_eq!(ends.len, line.len() as u64);
        assert_eq!(prefix_seq(&ends.prefix), Some(12345));
        assert_eq!(suffix_hash(&ends.suffix), Some("a".repeat(64).as_str()));
    }
}
