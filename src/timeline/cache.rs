//! A least-recently-used cache of described [`Row`]s by seq, bounded by count and by bytes
//! ([`MAX_ROWS`], [`MAX_BYTES`]): what makes scrolling back and forth over the same stretch
//! cost no reads, without the cache growing with the journal.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use super::Row;

/// At most this many rows (about a hundred screens).
pub const MAX_ROWS: usize = 4096;
/// At most this many bytes of rows (their text included).
pub const MAX_BYTES: usize = 4 << 20;

#[derive(Debug)]
pub struct Cache {
    rows: HashMap<u64, (Arc<Row>, u64)>,
    /// Last use → seq, oldest first.
    by_use: BTreeMap<u64, u64>,
    clock: u64,
    bytes: usize,
    max_rows: usize,
    max_bytes: usize,
}

impl Default for Cache {
    fn default() -> Self {
        Self::with_limits(MAX_ROWS, MAX_BYTES)
    }
}

impl Cache {
    pub fn with_limits(max_rows: usize, max_bytes: usize) -> Self {
        Self {
            rows: HashMap::new(),
            by_use: BTreeMap::new(),
            clock: 0,
            bytes: 0,
            max_rows: max_rows.max(1),
            max_bytes,
        }
    }

    pub fn len(&self) -> usize {
        self.rows.len()
    }

    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    pub fn bytes(&self) -> usize {
        self.bytes
    }

    pub fn contains(&self, seq: u64) -> bool {
        self.rows.contains_key(&seq)
    }

    /// The row for `seq`, now the most recently used.
    pub fn get(&mut self, seq: u64) -> Option<Arc<Row>> {
        self.clock += 1;
        let (row, used) = self.rows.get_mut(&seq)?;
        self.by_use.remove(used);
        *used = self.clock;
        self.by_use.insert(self.clock, seq);
        Some(Arc::clone(row))
    }

    pub fn put(&mut self, row: Arc<Row>) {
        self.clock += 1;
        let seq = row.seq;
        self.bytes += row.bytes();
        if let Some((old, used)) = self.rows.insert(seq, (row, self.clock)) {
            self.by_use.remove(&used);
            self.bytes -= old.bytes();
        }
        self.by_use.insert(self.clock, seq);
        while self.rows.len() > self.max_rows
            || (self.bytes > self.max_bytes && self.rows.len() > 1)
        {
            let Some((_, oldest)) = self.by_use.pop_first() else {
                break;
            };
            if let Some((row, _)) = self.rows.remove(&oldest) {
                self.bytes -= row.bytes();
            }
        }
    }

    pub fn clear(&mut self) {
        self.rows.clear();
        self.by_use.clear();
        self.bytes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(seq: u64, text_len: usize) -> Arc<Row> {
        Arc::new(Row {
            seq,
            at: jiff::Timestamp::UNIX_EPOCH,
            kind: crate::journal::Kind::Note,
            step: None,
            actor: "alice".into(),
            text: "t".repeat(text_len),
            given: None,
        })
    }

    #[test]
    fn the_least_recently_used_row_goes_first_when_full() {
        let mut cache = Cache::with_limits(3, usize::MAX);
        for seq in 1..=3 {
            cache.put(row(seq, 1));
        }
        assert!(cache.get(1).is_some()); // 2 is now the oldest use
        cache.put(row(4, 1));
        assert_eq!(cache.len(), 3);
        assert!(cache.get(2).is_none());
        assert!(cache.get(1).is_some() && cache.get(3).is_some() && cache.get(4).is_some());
    }

    #[test]
    fn bytes_bound_the_cache_as_well_as_rows() {
        let one = row(1, 1000).bytes();
        let mut cache = Cache::with_limits(100, one * 5 / 2);
        for seq in 1..=10 {
            cache.put(row(seq, 1000));
        }
        assert_eq!(cache.len(), 2);
        assert!(cache.bytes() <= one * 5 / 2);
        assert!(cache.get(10).is_some() && cache.get(9).is_some());
        // Replacing a row keeps the byte count exact.
        cache.put(row(10, 10));
        assert_eq!(cache.bytes(), row(9, 1000).bytes() + row(10, 10).bytes());
    }
}
