//! What a filter search remembers: one contiguous stretch of seqs `lo..=hi` already scanned
//! for the filter, and the matches in it (ascending). Scans extend the stretch at either end;
//! a jump elsewhere starts a new one. At most [`MAX_REMEMBERED`] matches are kept: beyond
//! that the end farther from the view is forgotten (the stretch shrinks with it), so memory
//! does not grow with the journal.

use std::collections::VecDeque;

/// Matches remembered at most (8 bytes each).
pub const MAX_REMEMBERED: usize = 64 * 1024;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Matches {
    filter: String,
    /// First seq scanned; the stretch is empty when `hi < lo`.
    lo: u64,
    hi: u64,
    seqs: VecDeque<u64>,
    /// Some matches were forgotten: the stretch no longer starts at 1 or ends at the end
    /// just because it was scanned there.
    trimmed: bool,
    limit: usize,
}

impl Default for Matches {
    fn default() -> Self {
        Self::with_limit(MAX_REMEMBERED)
    }
}

impl Matches {
    pub fn with_limit(limit: usize) -> Self {
        Self {
            filter: String::new(),
            lo: 1,
            hi: 0,
            seqs: VecDeque::new(),
            trimmed: false,
            limit: limit.max(1),
        }
    }

    pub fn filter(&self) -> &str {
        &self.filter
    }

    /// The stretch scanned: `lo..=hi` (empty when `hi < lo`).
    pub fn lo(&self) -> u64 {
        self.lo
    }

    pub fn hi(&self) -> u64 {
        self.hi
    }

    pub fn len(&self) -> usize {
        self.seqs.len()
    }

    pub fn is_empty(&self) -> bool {
        self.seqs.is_empty()
    }

    /// Forget everything; the new stretch starts empty just before `at` (scans forward start
    /// at `at`, backward at `at - 1`).
    pub fn reset(&mut self, filter: &str, at: u64) {
        filter.clone_into(&mut self.filter);
        self.lo = at.max(1);
        self.hi = self.lo - 1;
        self.seqs.clear();
        self.trimmed = false;
    }

    /// Keep the stretch for a search that goes on from it: it is for `filter`, within
    /// `1..=total`, and `fits` where the search starts; else start a new one at `at`.
    pub fn keep_or_reset(
        &mut self,
        filter: &str,
        total: u64,
        at: u64,
        fits: impl Fn(&Self) -> bool,
    ) {
        if self.filter != filter || self.hi > total || !fits(self) {
            self.reset(filter, at);
        }
    }

    /// `seq` (the next one after `hi`) was scanned; `matched` if it matches.
    pub fn scanned_next(&mut self, seq: u64, matched: bool) {
        debug_assert_eq!(seq, self.hi + 1);
        self.hi = seq;
        if matched {
            self.seqs.push_back(seq);
        }
    }

    /// `seq` (the one before `lo`) was scanned; `matched` if it matches.
    pub fn scanned_previous(&mut self, seq: u64, matched: bool) {
        debug_assert_eq!(seq + 1, self.lo);
        self.lo = seq;
        if matched {
            self.seqs.push_front(seq);
        }
    }

    /// Beyond the limit, forget the matches farthest from `near` (where the view is), and
    /// the part of the stretch they were in.
    pub fn forget_far_from(&mut self, near: u64) {
        while self.seqs.len() > self.limit {
            let (Some(&first), Some(&last)) = (self.seqs.front(), self.seqs.back()) else {
                break;
            };
            if near.abs_diff(first) > near.abs_diff(last) {
                self.seqs.pop_front();
                self.lo = first + 1;
            } else {
                self.seqs.pop_back();
                self.hi = last - 1;
            }
            self.trimmed = true;
        }
    }

    /// Whether `seq` is in the stretch or next to it (a scan from there extends it).
    pub fn reaches(&self, seq: u64) -> bool {
        seq + 1 >= self.lo && seq <= self.hi + 1
    }

    /// The first `n` remembered matches at or after `seq`.
    pub fn from(&self, seq: u64, n: usize) -> Vec<u64> {
        let at = self.seqs.partition_point(|&s| s < seq);
        self.seqs.range(at..).take(n).copied().collect()
    }

    /// The last `n` remembered matches at or before `seq`, oldest first.
    pub fn through(&self, seq: u64, n: usize) -> Vec<u64> {
        let end = self.seqs.partition_point(|&s| s <= seq);
        let start = end.saturating_sub(n);
        self.seqs.range(start..end).copied().collect()
    }

    /// Every match in `1..=total`, when the stretch is all of it and nothing was forgotten.
    pub fn count_of_all(&self, total: u64) -> Option<u64> {
        (self.lo == 1 && self.hi >= total && !self.trimmed).then_some(self.seqs.len() as u64)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_stretch_grows_at_both_ends_and_answers_around_a_seq() {
        let mut m = Matches::default();
        m.reset("step", 50);
        for seq in 50..=60 {
            m.scanned_next(seq, seq % 3 == 0);
        }
        for seq in (40..50).rev() {
            m.scanned_previous(seq, seq % 3 == 0);
        }
        assert_eq!((m.lo(), m.hi()), (40, 60));
        assert_eq!(m.from(50, 3), vec![51, 54, 57]);
        assert_eq!(m.through(50, 3), vec![42, 45, 48]);
        assert!(m.reaches(39) && m.reaches(61) && !m.reaches(62) && !m.reaches(38));
        assert_eq!(m.count_of_all(60), None);
        for seq in (1..40).rev() {
            m.scanned_previous(seq, false);
        }
        assert_eq!(m.count_of_all(60), Some(7));
    }

    #[test]
    fn beyond_the_limit_the_far_end_is_forgotten_and_the_stretch_shrinks() {
        let mut m = Matches::with_limit(4);
        m.reset("x", 1);
        for seq in 1..=10 {
            m.scanned_next(seq, true);
        }
        m.forget_far_from(10);
        assert_eq!((m.len(), m.lo(), m.hi()), (4, 7, 10));
        assert_eq!(m.count_of_all(10), None);
        m.reset("x", 100);
        for seq in (90..100).rev() {
            m.scanned_previous(seq, true);
        }
        m.forget_far_from(90);
        assert_eq!((m.len(), m.lo(), m.hi()), (4, 90, 93));
    }
}
