//! [`Pager`]: answers [`Query`]s from the journal on disk through its offset index, one
//! bounded slice of work at a time.
//!
//! Memory: the rows of the page, the row [`Cache`] (bounded), the remembered [`Matches`]
//! (bounded) and one chunk of journal lines while searching ([`CHUNK`] events, at most
//! [`CHUNK_BYTES`] unless one line alone is longer). Work per call: at most
//! [`Limits::events_per_slice`] events scanned or [`Limits::time_per_slice`] spent searching
//! (checked between chunks), plus reading the rows of the page.
//!
//! Every line read is checked to be the seq the index says; a mismatch (the journal was
//! rewritten since the index was checked) rebuilds the index and answers again, once.

use std::borrow::Cow;
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::cache::Cache;
use super::search::Matches;
use super::{Anchor, Page, Query, Row, Search, matches};
use crate::journal::index::{Index, IndexError};
use crate::journal::{Event, Kind};

/// Events scanned per chunk of a search.
pub const CHUNK: u64 = 2048;
/// Bytes read per chunk of a search (fewer events when lines are long).
pub const CHUNK_BYTES: u64 = 2 << 20;
/// A tail search this far behind the end starts again at the end rather than catch up.
const TAIL_GAP: u64 = 100_000;

#[derive(Debug, thiserror::Error)]
pub enum PagerError {
    #[error(transparent)]
    Index(#[from] IndexError),
    #[error("journal line of seq {seq} is not an event: {reason}")]
    Unreadable { seq: u64, reason: String },
}

/// How much one call may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    pub events_per_slice: u64,
    pub time_per_slice: Duration,
}

impl Default for Limits {
    /// Half a 60 Hz frame: the screen stays live while a search runs.
    fn default() -> Self {
        Self {
            events_per_slice: 1_000_000,
            time_per_slice: Duration::from_millis(8),
        }
    }
}

struct Budget {
    events_left: u64,
    deadline: Instant,
}

impl Budget {
    fn new(limits: Limits) -> Self {
        Self {
            events_left: limits.events_per_slice.max(1),
            deadline: Instant::now() + limits.time_per_slice,
        }
    }

    fn spent(&self) -> bool {
        self.events_left == 0 || Instant::now() >= self.deadline
    }
}

/// What a search settled on: the page's anchor, its seqs, and whether it is final.
type Found = (Anchor, Vec<u64>, Search);

/// The timeline of one journal, read page by page.
pub struct Pager {
    index: Index,
    cache: Cache,
    matches: Matches,
    limits: Limits,
    /// The query being searched for, continued by [`Pager::resume`].
    pending: Option<Query>,
    /// Events scanned for the pending query so far.
    scanned: u64,
}

impl Pager {
    /// Open the journal in `dir` through its index (built or extended here: the slow part on
    /// a first open, to run off the UI thread).
    pub fn open(dir: &Path) -> Result<Self, PagerError> {
        Ok(Self {
            index: Index::open(dir)?,
            cache: Cache::default(),
            matches: Matches::default(),
            limits: Limits::default(),
            pending: None,
            scanned: 0,
        })
    }

    #[must_use]
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Smaller caches (tests).
    #[must_use]
    pub fn with_memory(mut self, cache: Cache, matches: Matches) -> Self {
        self.cache = cache;
        self.matches = matches;
        self
    }

    /// Events indexed so far.
    pub fn indexed(&self) -> u64 {
        self.index.len()
    }

    /// Rows held in the cache.
    pub fn cached(&self) -> usize {
        self.cache.len()
    }

    /// Matches remembered for the current filter.
    pub fn remembered(&self) -> usize {
        self.matches.len()
    }

    /// A search is under way: [`Pager::resume`] has more to do.
    pub fn is_searching(&self) -> bool {
        self.pending.is_some()
    }

    /// Answer `query` with at most one slice of work; a search that needs more answers with
    /// what it found so far and [`Search::Running`], and continues on [`Pager::resume`].
    pub fn serve(&mut self, query: &Query) -> Result<Page, PagerError> {
        let same_search = self
            .pending
            .as_ref()
            .is_some_and(|p| p.filter == query.filter && p.anchor == query.anchor);
        if !same_search {
            self.scanned = 0;
        }
        self.pending = Some(query.clone());
        self.slice(query)
    }

    /// The next slice of the search under way, if any.
    pub fn resume(&mut self) -> Option<Result<Page, PagerError>> {
        let query = self.pending.clone()?;
        Some(self.slice(&query))
    }

    fn slice(&mut self, query: &Query) -> Result<Page, PagerError> {
        let mut budget = Budget::new(self.limits);
        let page = match self.page(query, &mut budget) {
            Err(PagerError::Index(IndexError::Stale { .. }) | PagerError::Unreadable { .. }) => {
                tracing::info!("journal changed under its index: rebuilding it");
                self.index.rebuild()?;
                self.cache.clear();
                self.matches.reset("", 1);
                self.page(query, &mut budget)
            }
            other => other,
        };
        if !matches!(&page, Ok(p) if matches!(p.search, Search::Running { .. })) {
            self.pending = None;
        }
        page
    }

    fn page(&mut self, query: &Query, budget: &mut Budget) -> Result<Page, PagerError> {
        if self.index.len() < query.upto {
            self.index.refresh()?;
        }
        let total = query.upto.min(self.index.len());
        let height = query.height.max(1) as u64;
        let (anchor, seqs, search) = if query.filter.is_empty() {
            let (anchor, first) = place(query.anchor, total, height);
            let last = (first + height - 1).min(total);
            (anchor, (first..=last).collect(), Search::Done)
        } else if total == 0 {
            (Anchor::Tail, Vec::new(), Search::Done)
        } else {
            self.search(query, total, height, budget)?
        };
        let matched = if query.filter.is_empty() {
            Some(total)
        } else {
            self.matches.count_of_all(total)
        };
        Ok(Page {
            query: query.clone(),
            anchor,
            rows: self.rows(&seqs)?,
            total,
            matched,
            search,
        })
    }

    fn search(
        &mut self,
        query: &Query,
        total: u64,
        height: u64,
        budget: &mut Budget,
    ) -> Result<Found, PagerError> {
        let filter = query.filter.as_str();
        match query.anchor {
            Anchor::Tail => self.search_tail(filter, total, height, budget),
            Anchor::Top(top) => self.search_top(filter, top.clamp(1, total), total, height, budget),
            Anchor::Bottom(0) => self.search_top(filter, 1, total, height, budget),
            Anchor::Bottom(bottom) if bottom >= total => {
                self.search_tail(filter, total, height, budget)
            }
            Anchor::Bottom(bottom) => self.search_bottom(filter, bottom, total, height, budget),
        }
    }

    /// The last `height` matches.
    fn search_tail(
        &mut self,
        filter: &str,
        total: u64,
        height: u64,
        budget: &mut Budget,
    ) -> Result<Found, PagerError> {
        let h = usize::try_from(height).unwrap_or(usize::MAX);
        self.matches
            .keep_or_reset(filter, total, total + 1, |m| m.hi() + TAIL_GAP >= total);
        while self.matches.hi() < total {
            if !self.scan_next(filter, total, total, budget)? {
                return Ok((Anchor::Tail, self.matches.through(total, h), self.running()));
            }
        }
        loop {
            let found = self.matches.through(total, h);
            if found.len() >= h || self.matches.lo() <= 1 {
                return Ok((Anchor::Tail, found, Search::Done));
            }
            if !self.scan_previous(filter, total, budget)? {
                return Ok((Anchor::Tail, found, self.running()));
            }
        }
    }

    /// The first `height` matches at or after `top`; the tail when fewer remain.
    fn search_top(
        &mut self,
        filter: &str,
        top: u64,
        total: u64,
        height: u64,
        budget: &mut Budget,
    ) -> Result<Found, PagerError> {
        let h = usize::try_from(height).unwrap_or(usize::MAX);
        self.matches
            .keep_or_reset(filter, total, top, |m| m.lo() <= top && top <= m.hi() + 1);
        loop {
            let mut found = self.matches.from(top, h + 1);
            if found.len() > h {
                found.truncate(h);
                return Ok((Anchor::Top(top), found, Search::Done));
            }
            if self.matches.hi() >= total {
                // The end is on this page: it follows the tail from now on.
                return self.search_tail(filter, total, height, budget);
            }
            if !self.scan_next(filter, total, top, budget)? {
                found.truncate(h);
                return Ok((Anchor::Top(top), found, self.running()));
            }
        }
    }

    /// The last `height` matches at or before `bottom`; the first page when fewer precede.
    fn search_bottom(
        &mut self,
        filter: &str,
        bottom: u64,
        total: u64,
        height: u64,
        budget: &mut Budget,
    ) -> Result<Found, PagerError> {
        let h = usize::try_from(height).unwrap_or(usize::MAX);
        self.matches.keep_or_reset(filter, total, bottom + 1, |m| {
            m.lo() <= bottom + 1 && bottom <= m.hi()
        });
        loop {
            let found = self.matches.through(bottom, h);
            if found.len() >= h {
                return Ok((Anchor::Bottom(bottom), found, Search::Done));
            }
            if self.matches.lo() <= 1 {
                return self.search_top(filter, 1, total, height, budget);
            }
            if !self.scan_previous(filter, bottom, budget)? {
                return Ok((Anchor::Bottom(bottom), found, self.running()));
            }
        }
    }

    fn running(&self) -> Search {
        Search::Running {
            scanned: self.scanned,
        }
    }

    /// Scan the chunk after the remembered stretch (not past `limit`), keeping the matches
    /// `near` the view; `false` when the slice's budget is spent.
    fn scan_next(
        &mut self,
        filter: &str,
        limit: u64,
        near: u64,
        budget: &mut Budget,
    ) -> Result<bool, PagerError> {
        if budget.spent() {
            return Ok(false);
        }
        let first = self.matches.hi() + 1;
        let (first, matched) =
            self.match_chunk(first, CHUNK.min(limit + 1 - first), filter, false)?;
        for (i, hit) in matched.iter().enumerate() {
            self.matches.scanned_next(first + i as u64, *hit);
        }
        self.matches.forget_far_from(near);
        self.spend(budget, matched.len() as u64);
        Ok(true)
    }

    /// Scan the chunk before the remembered stretch, keeping the matches `near` the view;
    /// `false` when the budget is spent.
    fn scan_previous(
        &mut self,
        filter: &str,
        near: u64,
        budget: &mut Budget,
    ) -> Result<bool, PagerError> {
        if budget.spent() {
            return Ok(false);
        }
        let end = self.matches.lo() - 1;
        let start = end.saturating_sub(CHUNK - 1).max(1);
        let (first, matched) = self.match_chunk(start, end + 1 - start, filter, true)?;
        for (i, hit) in matched.iter().enumerate().rev() {
            self.matches.scanned_previous(first + i as u64, *hit);
        }
        self.matches.forget_far_from(near);
        self.spend(budget, matched.len() as u64);
        Ok(true)
    }

    fn spend(&mut self, budget: &mut Budget, n: u64) {
        budget.events_left = budget.events_left.saturating_sub(n);
        self.scanned += n;
    }

    /// Whether each of lines `first..first + n` matches `filter`, read in one `pread` of at
    /// most [`CHUNK_BYTES`] (at least one line): fewer lines are taken from the front, or
    /// from the back when `keep_end`. Returns the first seq actually read.
    fn match_chunk(
        &self,
        first: u64,
        n: u64,
        filter: &str,
        keep_end: bool,
    ) -> Result<(u64, Vec<bool>), PagerError> {
        let starts = self.index.starts(first, n)?;
        let (mut lo, mut hi) = (0, starts.len() - 1);
        while hi - lo > 1 && starts[hi] - starts[lo] > CHUNK_BYTES {
            if keep_end {
                lo += 1;
            } else {
                hi -= 1;
            }
        }
        let base = starts[lo];
        let bytes = self.index.read(base..starts[hi])?;
        let first = first + lo as u64;
        let mut matched = Vec::with_capacity(hi - lo);
        for (i, w) in starts[lo..=hi].windows(2).enumerate() {
            let seq = first + i as u64;
            let line = slice(&bytes, base, w[0]..w[1] - 1);
            let head: Head<'_> =
                serde_json::from_slice(line).map_err(|e| PagerError::Unreadable {
                    seq,
                    reason: e.to_string(),
                })?;
            if head.seq != seq {
                return Err(self.index.stale(seq).into());
            }
            matched.push(matches(head.kind, head.step.as_deref(), filter));
        }
        Ok((first, matched))
    }

    /// The rows of `seqs`, from the cache or read (each run of consecutive misses in one
    /// `pread`) and described.
    fn rows(&mut self, seqs: &[u64]) -> Result<Vec<Arc<Row>>, PagerError> {
        let mut rows = Vec::with_capacity(seqs.len());
        let mut i = 0;
        while i < seqs.len() {
            if let Some(row) = self.cache.get(seqs[i]) {
                rows.push(row);
                i += 1;
                continue;
            }
            let mut j = i + 1;
            while j < seqs.len() && seqs[j] == seqs[j - 1] + 1 && !self.cache.contains(seqs[j]) {
                j += 1;
            }
            for row in self.read_rows(seqs[i], (j - i) as u64)? {
                self.cache.put(Arc::clone(&row));
                rows.push(row);
            }
            i = j;
        }
        Ok(rows)
    }

    fn read_rows(&self, first: u64, n: u64) -> Result<Vec<Arc<Row>>, PagerError> {
        let starts = self.index.starts(first, n)?;
        let base = starts[0];
        let bytes = self.index.read(base..starts[starts.len() - 1])?;
        let mut rows = Vec::with_capacity(starts.len() - 1);
        for (i, w) in starts.windows(2).enumerate() {
            let seq = first + i as u64;
            let event: Event = serde_json::from_slice(slice(&bytes, base, w[0]..w[1] - 1))
                .map_err(|e| PagerError::Unreadable {
                    seq,
                    reason: e.to_string(),
                })?;
            if event.seq != seq {
                return Err(self.index.stale(seq).into());
            }
            rows.push(Arc::new(Row::of(&event)));
        }
        Ok(rows)
    }
}

/// The fields a filter needs, parsed from a line (the rest is skipped, not built).
#[derive(serde::Deserialize)]
struct Head<'a> {
    seq: u64,
    kind: Kind,
    #[serde(borrow, default)]
    step: Option<Cow<'a, str>>,
}

/// `span` (journal offsets) of `bytes`, which were read from `base`.
fn slice(bytes: &[u8], base: u64, span: std::ops::Range<u64>) -> &[u8] {
    let start = usize::try_from(span.start - base).unwrap_or(usize::MAX);
    let end = usize::try_from(span.end - base).unwrap_or(usize::MAX);
    bytes.get(start..end).unwrap_or_default()
}

/// An unfiltered page: its normalised anchor and first seq.
fn place(anchor: Anchor, total: u64, height: u64) -> (Anchor, u64) {
    let tail = (Anchor::Tail, total.saturating_sub(height) + 1);
    match anchor {
        Anchor::Tail => tail,
        Anchor::Top(top) => {
            let top = top.max(1);
            if top.saturating_add(height) > total {
                tail
            } else {
                (Anchor::Top(top), top)
            }
        }
        Anchor::Bottom(bottom) if bottom >= total => tail,
        Anchor::Bottom(bottom) if bottom < height => place(Anchor::Top(1), total, height),
        Anchor::Bottom(bottom) => (Anchor::Bottom(bottom), bottom - height + 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Journal, NewEvent};
    use serde_json::json;

    /// Event `i` (seq `i`; seq 1 is a note too): a step event of step `s{i % 7}` when `i` is a
    /// multiple of 5, else a note.
    fn event(i: u64) -> NewEvent {
        if i.is_multiple_of(5) {
            NewEvent::for_step(
                Kind::StepStarted,
                format!("s{}", i % 7),
                json!({"attempt": 1, "rerun": false}),
            )
        } else {
            NewEvent::new(Kind::Note, json!({"text": format!("note {i}"), "tags": []}))
        }
    }

    fn write(dir: &Path, from: u64, to: u64) {
        let journal = if from == 1 {
            Journal::create(dir, "alice").unwrap()
        } else {
            Journal::open(dir, "alice").unwrap().0
        };
        for i in from..=to {
            journal.enqueue(event(i)).unwrap();
        }
        journal.append_blocking(event(to + 1)).unwrap();
    }

    /// The spec, by brute force over every seq.
    fn expected(total: u64, query: &Query) -> (Anchor, Vec<u64>) {
        let h = query.height;
        let all: Vec<u64> = (1..=total)
            .filter(|&i| {
                let e = event(i);
                matches(e.kind, e.step.as_deref(), &query.filter)
            })
            .collect();
        let tail = || (Anchor::Tail, all[all.len().saturating_sub(h)..].to_vec());
        let top = |t: u64| {
            let from: Vec<u64> = all.iter().copied().filter(|&s| s >= t).collect();
            if from.len() > h {
                (Anchor::Top(t), from[..h].to_vec())
            } else {
                tail()
            }
        };
        match query.anchor {
            Anchor::Tail => tail(),
            Anchor::Top(t) => top(t.clamp(1, total)),
            Anchor::Bottom(0) => top(1),
            Anchor::Bottom(b) if b >= total => tail(),
            Anchor::Bottom(b) => {
                let through: Vec<u64> = all.iter().copied().filter(|&s| s <= b).collect();
                if through.len() >= h {
                    (Anchor::Bottom(b), through[through.len() - h..].to_vec())
                } else {
                    top(1)
                }
            }
        }
    }

    /// Serve, then resume until the search is done; every slice's answer is a prefix or
    /// suffix of what is known, and the last is the spec's.
    fn settle(pager: &mut Pager, query: &Query) -> (Page, usize) {
        let mut page = pager.serve(query).unwrap();
        let mut slices = 1;
        while let Search::Running { .. } = page.search {
            assert!(page.rows.len() <= page.query.height);
            page = pager.resume().unwrap().unwrap();
            slices += 1;
        }
        assert!(!pager.is_searching());
        (page, slices)
    }

    fn seqs(page: &Page) -> Vec<u64> {
        page.rows.iter().map(|r| r.seq).collect()
    }

    fn query(anchor: Anchor, filter: &str, height: usize, upto: u64) -> Query {
        Query {
            anchor,
            filter: filter.into(),
            height,
            upto,
        }
    }

    #[rstest::rstest]
    #[case::tail(Anchor::Tail)]
    #[case::top(Anchor::Top(1))]
    #[case::middle_top(Anchor::Top(1500))]
    #[case::near_the_end_follows(Anchor::Top(2995))]
    #[case::middle_bottom(Anchor::Bottom(1700))]
    #[case::bottom_near_the_start_is_the_first_page(Anchor::Bottom(3))]
    #[case::bottom_past_the_end(Anchor::Bottom(9999))]
    #[case::bottom_zero(Anchor::Bottom(0))]
    fn every_anchor_pages_as_specified_with_and_without_a_filter(#[case] anchor: Anchor) {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), 1, 2999);
        let total = 3000;
        let mut pager = Pager::open(tmp.path()).unwrap().with_limits(Limits {
            events_per_slice: 300,
            time_per_slice: Duration::from_mins(1),
        });
        for filter in ["", "s3", "step.started", "no such thing"] {
            let q = query(anchor, filter, 10, total);
            let (page, slices) = settle(&mut pager, &q);
            let (want_anchor, want_seqs) = expected(total, &q);
            assert_eq!(
                (page.anchor, seqs(&page)),
                (want_anchor, want_seqs),
                "{filter:?}"
            );
            assert_eq!(page.total, total);
            if filter.is_empty() {
                assert_eq!(slices, 1, "no search without a filter");
            }
        }
    }

    #[test]
    fn a_search_works_in_slices_and_reports_what_it_scanned() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), 1, 2999);
        let mut pager = Pager::open(tmp.path()).unwrap().with_limits(Limits {
            events_per_slice: 1,
            time_per_slice: Duration::from_mins(1),
        });
        // Nothing matches: the whole journal is scanned, one chunk per slice.
        let mut page = pager
            .serve(&query(Anchor::Tail, "nothing", 10, 3000))
            .unwrap();
        let mut scanned = Vec::new();
        while let Search::Running { scanned: n } = page.search {
            scanned.push(n);
            page = pager.resume().unwrap().unwrap();
        }
        // 3000 events in chunks of 2048, one chunk a slice: one answer while searching.
        assert_eq!(scanned, vec![CHUNK]);
        assert!(page.rows.is_empty());
        assert_eq!(page.matched, Some(0));
        assert!(pager.resume().is_none());
    }

    #[test]
    fn memory_stays_bounded_by_the_cache_and_the_remembered_matches() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), 1, 2999);
        let mut pager = Pager::open(tmp.path())
            .unwrap()
            .with_memory(Cache::with_limits(50, usize::MAX), Matches::with_limit(100));
        for top in (1..3000).step_by(7) {
            let (page, _) = settle(&mut pager, &query(Anchor::Top(top), "", 20, 3000));
            assert!(!page.rows.is_empty());
            assert!(pager.cached() <= 50);
        }
        // step.started matches 600 events: only 100 are remembered, and paging still works.
        let (page, _) = settle(&mut pager, &query(Anchor::Top(1), "step.", 20, 3000));
        assert_eq!(seqs(&page), (1..=20).map(|i| i * 5).collect::<Vec<_>>());
        let (page, _) = settle(&mut pager, &query(Anchor::Tail, "step.", 20, 3000));
        assert_eq!(seqs(&page), (581..=600).map(|i| i * 5).collect::<Vec<_>>());
        assert!(pager.remembered() <= 100);
        assert_eq!(
            page.matched, None,
            "a count is only claimed when nothing was forgotten"
        );
    }

    #[test]
    fn events_appended_after_opening_appear_at_the_tail() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), 1, 99);
        let mut pager = Pager::open(tmp.path()).unwrap();
        let (page, _) = settle(&mut pager, &query(Anchor::Tail, "", 5, 100));
        assert_eq!(seqs(&page), vec![96, 97, 98, 99, 100]);
        write(tmp.path(), 101, 149);
        // Only what the caller knows to be durable is shown.
        let (page, _) = settle(&mut pager, &query(Anchor::Tail, "", 5, 120));
        assert_eq!(seqs(&page), vec![116, 117, 118, 119, 120]);
        let (page, _) = settle(&mut pager, &query(Anchor::Tail, "s1", 3, 150));
        assert_eq!(seqs(&page), vec![50, 85, 120]); // i % 5 == 0 and i % 7 == 1
        assert_eq!(pager.indexed(), 150);
    }

    #[test]
    fn a_journal_rewritten_under_the_pager_shows_the_new_rows_not_wrong_ones() {
        let tmp = tempfile::tempdir().unwrap();
        write(tmp.path(), 1, 199);
        let mut pager = Pager::open(tmp.path()).unwrap();
        let (page, _) = settle(&mut pager, &query(Anchor::Top(51), "", 5, 200));
        assert_eq!(page.rows[0].text, "Note: note 51");
        // Another journal of the same length in events, with other words, in its place.
        let other = tempfile::tempdir().unwrap();
        let journal = Journal::create(other.path(), "bob").unwrap();
        for i in 1..=200 {
            journal
                .append_blocking(NewEvent::new(
                    Kind::Note,
                    json!({"text": format!("rewritten {i} {}", "z".repeat(i % 13)), "tags": []}),
                ))
                .unwrap();
        }
        drop(journal);
        std::fs::copy(
            other.path().join(crate::journal::writer::JOURNAL_FILE),
            tmp.path().join(crate::journal::writer::JOURNAL_FILE),
        )
        .unwrap();
        // Rows not cached yet are read through the stale index: caught, rebuilt, right.
        let (page, _) = settle(&mut pager, &query(Anchor::Top(120), "", 5, 200));
        assert_eq!(seqs(&page), vec![120, 121, 122, 123, 124]);
        assert!(
            page.rows[0].text.starts_with("Note: rewritten 120"),
            "{}",
            page.rows[0].text
        );
        assert_eq!(page.rows[0].actor, "bob");
    }
}
