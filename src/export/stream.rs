//! Streaming replay for `stanch export`: the journal is read with [`journal::stream`] into a
//! [`report::Builder`], so a 100,000-event incident exports in memory proportional to the
//! report, not to the journal (`journal::read` holds the file's bytes and every event at once).
//!
//! The checks are the journal module's own, applied as lines arrive: each line must be an
//! event with the next `seq`, the previous event's hash as `prev`, and a `hash` matching its
//! content; `journal.head` must not be ahead of (or disagree with) the file. A torn tail (an
//! unterminated last line, or NUL/blank lines from a zeroed block) is left out, as a reader of
//! a live incident must; anything else is damage, reported as [`ExportError::Broken`] with the
//! same [`Broken`](crate::journal::Broken) value `stanch verify` shows. This module never
//! writes.
//!
//! [`journal::stream`]: crate::journal::stream::stream

use std::path::Path;

use super::{ExportError, Report, Sources, report};
use crate::journal::stream::stream;
use crate::journal::writer::JOURNAL_FILE;

/// Replay the journal in `incident_dir` as it is read into a [`Report`].
pub fn build_from_journal(incident_dir: &Path) -> Result<Report, ExportError> {
    let path = incident_dir.join(JOURNAL_FILE);
    let mut builder = report::Builder::default();
    let streamed =
        stream(incident_dir, |event| builder.push(event)).map_err(|source| ExportError::Io {
            path: path.clone(),
            source,
        })?;
    if let Some(broken) = streamed.broken {
        return Err(ExportError::Broken { path, broken });
    }
    let sources = Sources::read(incident_dir, builder.incident());
    Ok(builder.finish(&sources))
}
