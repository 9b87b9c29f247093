//! The incident journal: append-only JSONL, SHA-256 hash chain, fsync before acknowledging.
//!
//! - `event`: the [`Event`] record, its [`Kind`]s and the canonical hashing rule.
//! - `writer`: [`Journal`], the one writer of an incident (exclusive lock, group commit).
//! - `replay`: read a journal back, quarantine a torn tail, verify the chain.
//!
//! Contract every other module relies on: an event is reported (to the UI, to stdout, to a
//! caller) only after `append` returned, and `append` returns only after `sync_data`.

pub mod event;

pub use event::{Event, Kind, NewEvent};
pub mod writer;

pub use writer::{Journal, JournalError, read};
