//! The incident's timeline, read from disk a page at a time: what the TUI's Timeline view
//! shows, in memory bounded by the screen and a cache, whatever the journal's length.
//!
//! ```text
//! Query { anchor, filter, height, upto } ──Pager::serve──▶ Page { anchor, rows, search }
//!                      │                                     ▲
//!                      ▼                                     │ Pager::resume (next slice)
//!          journal.idx (seq → offset) ──pread──▶ lines ──▶ Row cache (LRU)
//! ```
//!
//! - [`Anchor`]: where the view stands: following the tail, or pinned with a seq at its top or
//!   its bottom. The pager normalises it (a top too near the end follows the tail again; a
//!   bottom too near the start becomes the top of the journal).
//! - Unfiltered pages are arithmetic on seqs; rows come from the [`Index`](crate::journal::index)
//!   with one `pread` per run of rows and are kept, described, in a bounded LRU ([`cache`]).
//! - A filter (a lowercase substring of the kind or the step: [`matches`], the one rule) is
//!   searched by streaming the journal forward or backward from the anchor in chunks; each
//!   call does at most one slice of work ([`Limits`]) and answers with what it found so far
//!   and [`Search::Running`]; [`Pager::resume`] continues. Matches found are remembered for
//!   one contiguous stretch of seqs, at most [`search::MAX_REMEMBERED`] of them.
//! - `upto` is the last seq the caller knows to be durable: pages never show more, and the
//!   index is extended (lazily, from its last covered offset) when it lags behind.
//!
//! Plain data and file reads: no terminal, no clock but the slice deadline.

pub mod cache;
mod pager;
mod row;
pub mod search;

use std::sync::Arc;

pub use pager::{Limits, Pager, PagerError};
pub use row::Row;

use crate::journal::Kind;

/// Where the view stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Anchor {
    /// The newest events, following new ones as they arrive.
    #[default]
    Tail,
    /// The first row shown is the first match at or after this seq.
    Top(u64),
    /// The last row shown is the last match at or before this seq.
    Bottom(u64),
}

/// What a view asks to see.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Query {
    pub anchor: Anchor,
    /// Lowercase; empty shows every event.
    pub filter: String,
    /// Rows on screen.
    pub height: usize,
    /// The last durable seq the caller knows of: nothing after it is shown.
    pub upto: u64,
}

/// Whether a page is final.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Search {
    #[default]
    Done,
    /// The filter is still being searched for this page; events scanned so far.
    Running { scanned: u64 },
}

/// The answer to a [`Query`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Page {
    pub query: Query,
    /// The query's anchor, normalised.
    pub anchor: Anchor,
    /// Oldest first, at most `query.height`.
    pub rows: Vec<Arc<Row>>,
    /// Events the page was cut from (`upto`, or fewer while the index catches up).
    pub total: u64,
    /// Events matching the filter, once the whole journal has been searched for it.
    pub matched: Option<u64>,
    pub search: Search,
}

/// A lowercase `filter` matches an event by a substring of its kind or its step.
pub fn matches(kind: Kind, step: Option<&str>, filter: &str) -> bool {
    kind.as_str().contains(filter) || step.is_some_and(|s| s.to_lowercase().contains(filter))
}
