//! The incident journal: append-only JSONL, SHA-256 hash chain, fsync before acknowledging.
//!
//! - `event`: the [`Event`] record, its [`Kind`]s and the canonical hashing rule.
//! - `payload`: the typed `data` of each kind ([`Payload`]); nothing else reads event JSON.
//! - `offline`: `data.offline`, the original place of an event merged from a team pending chain.
//! - `lock`: the one-writer rule (`<incident>/lock`, holder named in errors).
//! - `writer`: [`Journal`], the one writer of an incident (group commit, recovery on open).
//! - `shared`: the seam for the other backend of [`Journal`], a chain kept elsewhere (team
//!   mode's PostgreSQL, implemented in `team::session`) and mirrored locally.
//! - `replay`: read a journal back, classify a torn tail vs. damage, never write.
//! - `stream`: the same reading as `replay`, batch by batch, in bounded memory.
//! - `in_place`: a line's fields read where they are, for readers that hash its own bytes.
//! - `lean`: a report's reading of that stream: foreach exchanges read in place, not as events.
//! - `verify`: [`verify()`], the chain plus every evidence file, as a [`VerifyReport`].
//! - `index`: `journal.idx`, seq → byte offset of each line, so readers page by seq.
//! - `checkpoint`: a saved state through some seq, recorded in the chain, found from the end.
//!
//! Contract every other module relies on: an event is reported (to the UI, to stdout, to a
//! caller) only once it is durable: `append` returns only after `sync_data`, and an event
//! from `enqueue` (final at once: seq, time, hash) is reported only after `durable(seq)`.

pub mod checkpoint;
pub mod event;
pub mod in_place;
pub mod index;
pub mod lean;
pub mod lock;
pub mod offline;
pub mod payload;
pub mod replay;
pub mod shared;
pub mod stream;
pub mod verify;
pub mod writer;

pub use event::{Event, Kind, NewEvent, PayloadError};
pub use payload::Payload;
pub use replay::{Broken, Fault};
pub use shared::SharedChain;
pub use verify::{VerifyReport, verify};
pub use writer::{InFlight, Journal, JournalError, Queued, Watch, WriterStats, read};

/// Hand every good event of the journal in `dir` to `each`, in order, keeping none: the
/// checks of [`read`] (a torn tail left out, damage an error naming the first bad seq) in the
/// bounded memory of [`stream::stream`]. For readers that fold as they go.
pub fn for_each(dir: &std::path::Path, each: impl FnMut(Event)) -> Result<(), JournalError> {
    let path = dir.join(writer::JOURNAL_FILE);
    let streamed = stream::stream(dir, each).map_err(|source| JournalError::Io {
        path: path.clone(),
        source,
    })?;
    match streamed.broken {
        Some(broken) => Err(JournalError::Broken { path, broken }),
        None => Ok(()),
    }
}
