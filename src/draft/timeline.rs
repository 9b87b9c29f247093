//! The `timeline` a draft quotes: the Markdown post-mortem's timeline lines, row for row, so
//! a notice and the post-mortem cannot disagree about what happened when.
//!
//! Both come from the export's own lines ([`lines`] in the summary view): one
//! line per journal event, except that each `foreach` step's exchanges are one summary line
//! (items, statuses, first and last times, the failures by item), placed at its first
//! exchange. A draft of an incident with 2,000,000 exchanges therefore quotes a few lines, not
//! 2,000,000.
//!
//! [`read`] is what every command and the TUI use: it streams the journal on disk through the
//! export's report builder ([`export::build_from_journal`]), so memory is bounded by the
//! report, not by the journal, whatever the caller holds in memory (the TUI and `stanch draft`
//! keep no events). [`of`] derives the same lines from an incident replayed in memory with
//! its events (tests, callers that already hold a whole small journal). Nothing here writes.
//!
//! [`export::build_from_journal`]: crate::export::build_from_journal

use std::path::Path;

use super::DraftError;
use super::context::TimelineEntry;
use crate::export::report::timeline::{Line, View, lines};
use crate::export::{self, ExportError, Format, Report, Sources, TimelineView};
use crate::incident::Incident;

/// The timeline of the incident in `incident_dir`, streamed from its journal (see the module
/// doc). A damaged journal is an error naming the first bad seq, as `stanch export` says.
pub fn read(incident_dir: &Path) -> Result<Vec<TimelineEntry>, DraftError> {
    let report = export::build_from_journal(incident_dir, Format::Markdown, TimelineView::Summary)?;
    entries(&report)
}

/// The same lines from an incident replayed with its events in memory.
pub fn of(incident: &Incident) -> Result<Vec<TimelineEntry>, DraftError> {
    entries(&export::report::build(incident, &Sources::default()))
}

/// The report's timeline as the Markdown export shows it, one entry per line.
fn entries(report: &Report) -> Result<Vec<TimelineEntry>, DraftError> {
    // Only a streamed report's exchange rows are read back from disk (a temporary file).
    let io = |source| {
        DraftError::Timeline(ExportError::Io {
            path: std::env::temp_dir(),
            source,
        })
    };
    lines(report, View::Summary)
        .map_err(io)?
        .map(|line| line.map(entry).map_err(io))
        .collect()
}

fn entry(line: Line<'_>) -> TimelineEntry {
    match line {
        Line::Event(row) => TimelineEntry {
            seq: row.seq,
            last_seq: row.seq,
            at: row.at,
            offset: row.offset.clone(),
            kind: row.kind,
            step: row.step.clone(),
            actor: row.actor.clone(),
            text: row.text.clone(),
            items: None,
            recorded_at: row.recorded_at,
            backdated: row.backdated,
            corrections: row.corrections.clone(),
        },
        Line::Exchanges { first, summary } => TimelineEntry {
            seq: summary.first_seq,
            last_seq: summary.last_seq,
            at: summary.first_at,
            offset: first.offset.clone(),
            kind: first.kind,
            step: Some(summary.step.clone()),
            actor: first.actor.clone(),
            text: summary.text(),
            items: Some(summary.items),
            recorded_at: first.recorded_at,
            backdated: false,
            corrections: Vec::new(),
        },
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::journal::{Journal, Kind, NewEvent};

    /// An incident with a three-item foreach between two notes, written to a real journal.
    fn incident(dir: &Path) -> Incident {
        let journal = Journal::create(dir, "alice").unwrap();
        let append = |event| journal.append_blocking(event).unwrap();
        append(NewEvent::new(
            Kind::IncidentOpened,
            json!({"incident_id": "INC-1", "runbook_id": "r", "runbook_title": "R",
                   "runbook_sha256": "00", "inputs": {}}),
        ));
        append(NewEvent::new(
            Kind::Note,
            json!({"text": "before", "tags": []}),
        ));
        for item in 0..3_u64 {
            append(NewEvent::for_step(
                Kind::HttpRequest,
                "revoke",
                json!({"method": "POST", "url": "http://127.0.0.1:9/r", "headers": {}, "item": item}),
            ));
            let status = if item == 1 { 404 } else { 200 };
            append(NewEvent::for_step(
                Kind::HttpResponse,
                "revoke",
                json!({"status": status, "elapsed_ms": 1, "item": item}),
            ));
        }
        append(NewEvent::new(
            Kind::Note,
            json!({"text": "after", "tags": []}),
        ));
        Incident::replay(crate::journal::read(dir).unwrap())
    }

    #[test]
    fn a_foreach_is_one_summary_line_streamed_or_in_memory_alike() {
        let tmp = tempfile::tempdir().unwrap();
        let replayed = incident(tmp.path());
        let streamed = read(tmp.path()).unwrap();
        let texts: Vec<&str> = streamed.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(texts.len(), 4, "{texts:?}");
        assert_eq!(texts[1], "Note: before");
        assert!(
            texts[2].starts_with("foreach: 3 items, 3 requests, 3 responses"),
            "{}",
            texts[2]
        );
        assert!(texts[2].contains("item 1 HTTP 404 (seq 6)"), "{}", texts[2]);
        assert_eq!(texts[3], "Note: after");
        let summary = &streamed[2];
        assert_eq!(
            (summary.seq, summary.last_seq, summary.items),
            (3, 8, Some(3))
        );
        assert_eq!(summary.step.as_deref(), Some("revoke"));
        assert_eq!((streamed[3].seq, streamed[3].last_seq), (9, 9));
        let in_memory = of(&replayed).unwrap();
        assert_eq!(
            serde_json::to_value(&in_memory).unwrap(),
            serde_json::to_value(&streamed).unwrap()
        );
    }

    #[test]
    fn a_damaged_journal_is_named_not_quoted() {
        let tmp = tempfile::tempdir().unwrap();
        incident(tmp.path());
        let path = tmp.path().join(crate::journal::writer::JOURNAL_FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        std::fs::write(&path, text.replacen("before", "BEFORE", 1)).unwrap();
        let err = read(tmp.path()).unwrap_err();
        assert!(
            matches!(err, DraftError::Timeline(ExportError::Broken { .. })),
            "{err}"
        );
    }
}
