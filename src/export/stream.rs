//! Streaming replay for `stanch export`: the journal is read with [`journal::stream_lean`] into
//! a [`report::Builder`], so a 100,000-event incident exports in memory proportional to the
//! report, not to the journal (`journal::read` holds the file's bytes and every event at once).
//! A foreach exchange comes without its event ([`journal::lean`]) and is folded as one
//! ([`report::Builder::push_exchange`]): at 2,000,000 events, building and dropping an event
//! per exchange was most of an export's cost.
//!
//! The checks are the journal module's own, applied as lines arrive: each line must be an
//! event with the next `seq`, the previous event's hash as `prev`, and a `hash` matching its
//! content; `journal.head` must not be ahead of (or disagree with) the file. A torn tail (an
//! unterminated last line, or NUL/blank lines from a zeroed block) is left out, as a reader of
//! a live incident must; anything else is damage, reported as [`ExportError::Broken`] with the
//! same [`Broken`](crate::journal::Broken) value `stanch verify` shows. Nothing here writes
//! to the incident; an export that lists every exchange keeps their rows in an unnamed
//! temporary file (0600, gone when the export ends: [`spill`](super::report::spill)).
//!
//! [`journal::stream_lean`]: crate::journal::stream::stream_lean
//! [`journal::lean`]: crate::journal::lean

use std::path::Path;

use super::report::timeline::Keep;
use super::{ExportError, Format, Report, Sources, TimelineView, report};
use crate::journal::lean::Record;
use crate::journal::stream::stream_lean;
use crate::journal::writer::JOURNAL_FILE;

/// Replay the journal in `incident_dir` as it is read into a [`Report`] for `format` in
/// `view`: a foreach step's exchange rows are kept on disk when the output lists every one
/// (JSON, `--timeline full`), else only counted into its summary (see
/// [`Keep`](report::timeline::Keep)); either way memory does not grow with the items.
pub fn build_from_journal(
    incident_dir: &Path,
    format: Format,
    view: TimelineView,
) -> Result<Report, ExportError> {
    let path = incident_dir.join(JOURNAL_FILE);
    let keep = if format == Format::Json || view == TimelineView::Full {
        Keep::Spilled
    } else {
        Keep::Summaries
    };
    let mut builder = report::Builder::new(keep).map_err(|source| ExportError::Io {
        path: std::env::temp_dir(),
        source,
    })?;
    let streamed = stream_lean(incident_dir, |record| match record {
        Record::Exchange(exchange) => builder.push_exchange(&exchange),
        Record::Event(event) => builder.push(event),
    })
    .map_err(|source| ExportError::Io {
        path: path.clone(),
        source,
    })?;
    if let Some(broken) = streamed.broken {
        return Err(ExportError::Broken { path, broken });
    }
    let sources = Sources::read(incident_dir, builder.incident());
    Ok(builder.finish(&sources))
}
