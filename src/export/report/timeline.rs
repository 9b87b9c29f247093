//! Timeline rows: every journal event as one line of text, placed at the time it happened.
//!
//! Facts and back-dated marks are placed at the time a person gave (`occurred_at`, a mark's
//! `at`) with the recorded time beside; `fact.corrected` events are folded into the fact they
//! correct (shown beside it, both kept), so the row for "exposure began 14 Dec" also says it
//! was corrected to 4 Dec and when. Rows are sorted by that time, ties by `seq`.

use std::collections::HashMap;
use std::fmt::Write;

use jiff::Timestamp;
use serde_json::Value;

use super::time::{mark_label, millis_between, offset_label, utc};
use super::{CorrectionRow, TimelineRow};
use crate::incident::{Fact, Incident};
use crate::journal::{Event, Kind};

/// Timeline rows collected one event at a time (see [`super::Builder`]); offsets and fact
/// corrections are filled in by [`Rows::finish`], once the opening and every correction are
/// known.
#[derive(Default)]
pub struct Rows {
    collected: Vec<TimelineRow>,
    count: u64,
    first_at: Option<Timestamp>,
    last_at: Option<Timestamp>,
}

impl Rows {
    /// Add one event's row. `facts` are the facts recorded *before* this event: a correction
    /// always refers to an earlier fact, so it is folded into that fact's row (and skipped
    /// here) exactly when the fact is already known.
    pub fn push(&mut self, event: &Event, facts: &[Fact]) {
        self.count += 1;
        self.first_at.get_or_insert(event.at);
        self.last_at = Some(event.at);
        if event.kind == Kind::FactCorrected
            && event
                .data
                .get("corrects")
                .and_then(Value::as_u64)
                .is_some_and(|seq| seq < event.seq && facts.iter().any(|f| f.seq == seq))
        {
            return;
        }
        let given = given_time(event);
        self.collected.push(TimelineRow {
            seq: event.seq,
            at: given.unwrap_or(event.at),
            offset: String::new(),
            offset_ms: 0,
            recorded_at: event.at,
            // Under a second apart is clock rounding, not a time someone gave.
            backdated: given.is_some_and(|g| millis_between(g, event.at).abs() >= 1000),
            actor: event.actor.clone(),
            kind: event.kind.as_str(),
            step: event.step.clone(),
            text: describe(event),
            corrections: Vec::new(),
        });
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn first_at(&self) -> Option<Timestamp> {
        self.first_at
    }

    pub fn last_at(&self) -> Option<Timestamp> {
        self.last_at
    }

    /// Offsets from `origin`, corrections beside their facts, sorted by when things happened.
    pub fn finish(mut self, origin: Option<Timestamp>, facts: &[Fact]) -> Vec<TimelineRow> {
        let origin = origin.or(self.first_at).unwrap_or_default();
        let corrected: HashMap<u64, &Fact> = facts
            .iter()
            .filter(|f| !f.corrections.is_empty())
            .map(|f| (f.seq, f))
            .collect();
        for row in &mut self.collected {
            row.offset_ms = millis_between(origin, row.at);
            row.offset = offset_label(row.offset_ms);
            if row.kind == Kind::Fact.as_str()
                && let Some(fact) = corrected.get(&row.seq)
            {
                row.corrections = fact
                    .corrections
                    .iter()
                    .map(|c| CorrectionRow {
                        seq: c.seq,
                        text: c.text.clone(),
                        occurred_at: c.occurred_at,
                        recorded_at: c.recorded_at,
                        actor: c.actor.clone(),
                    })
                    .collect();
            }
        }
        // Journal order is already time order for almost every row; a stable sort keeps ties
        // in seq order and only moves the back-dated ones.
        self.collected.sort_by_key(|r| r.at);
        self.collected
    }
}

/// Rows of a whole replayed incident (what drafts quote as `timeline`).
pub fn rows(incident: &Incident, opened_at: Option<Timestamp>) -> Vec<TimelineRow> {
    let mut rows = Rows::default();
    for event in &incident.events {
        rows.push(event, &incident.facts);
    }
    rows.finish(opened_at, &incident.facts)
}

/// The time a person gave for an event, when it has one.
fn given_time(event: &Event) -> Option<Timestamp> {
    let field = match event.kind {
        Kind::Fact | Kind::FactCorrected => "occurred_at",
        Kind::Mark => "at",
        _ => return None,
    };
    event.data_str(field).and_then(|s| s.parse().ok())
}

fn s<'a>(event: &'a Event, field: &str) -> &'a str {
    event.data_str(field).unwrap_or_default()
}

fn n(event: &Event, field: &str) -> Option<u64> {
    event.data.get(field).and_then(Value::as_u64)
}

/// One line of plain text per event (renderers escape it for their format).
#[expect(
    clippy::too_many_lines,
    reason = "one arm per journal kind; typed events (issue 12 item 1) replace it"
)]
pub fn describe(event: &Event) -> String {
    match event.kind {
        Kind::IncidentOpened => {
            let drill = if event.data.get("drill").and_then(Value::as_bool) == Some(true) {
                " (DRILL)"
            } else {
                ""
            };
            format!(
                "Incident {} opened from runbook \"{}\" ({}){drill}",
                s(event, "incident_id"),
                s(event, "runbook_title"),
                s(event, "runbook_id"),
            )
        }
        Kind::StepStarted => {
            let rerun = if event.data.get("rerun").and_then(Value::as_bool) == Some(true) {
                ", an explicit re-run"
            } else {
                ""
            };
            format!(
                "Step started (attempt {}{rerun})",
                n(event, "attempt").unwrap_or(1)
            )
        }
        Kind::HttpRequest => {
            let mut text = format!("{} {}", s(event, "method"), s(event, "url"));
            if let Some(item) = n(event, "item") {
                let _ = write!(text, " (item {item})");
            }
            if let Some(attempt) = n(event, "attempt") {
                let _ = write!(text, " (poll {attempt})");
            }
            text
        }
        Kind::HttpResponse => match (n(event, "status"), event.data_str("error")) {
            (Some(status), _) => format!(
                "HTTP {status} in {} ms, {} bytes",
                n(event, "elapsed_ms").unwrap_or_default(),
                n(event, "bytes").unwrap_or_default()
            ),
            (None, error) => format!("No response: {}", error.unwrap_or("unknown error")),
        },
        Kind::StepSucceeded => {
            let summary = s(event, "summary");
            let took = n(event, "duration_ms").unwrap_or_default();
            if summary.is_empty() {
                format!("Succeeded in {took} ms")
            } else {
                format!("Succeeded in {took} ms: {summary}")
            }
        }
        Kind::StepFailed => {
            let failed = event
                .data
                .get("failed_expectations")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            let mut text = format!("Failed: {}", s(event, "error"));
            if failed > 0 {
                let _ = write!(text, " ({failed} expectation(s) failed)");
            }
            text
        }
        Kind::StepSkipped => format!("Skipped: {}", s(event, "reason")),
        Kind::StepInterrupted => format!(
            "Interrupted, outcome unknown (started at seq {})",
            n(event, "started_seq").unwrap_or_default()
        ),
        Kind::StepPending => format!("Left for a person: {}", s(event, "reason")),
        Kind::Confirm => {
            let matched = event.data.get("typed_matched").and_then(Value::as_bool) == Some(true);
            match s(event, "via") {
                "--yes" => "Confirmed with --yes (no typed confirmation)".to_owned(),
                _ if matched => format!("Confirmed by typing \"{}\"", s(event, "expected")),
                _ => format!("Confirmation did not match \"{}\"", s(event, "expected")),
            }
        }
        Kind::ChecklistTicked => {
            let checked = event.data.get("checked").and_then(Value::as_bool) != Some(false);
            format!(
                "{} {}",
                if checked { "Checked:" } else { "Unchecked:" },
                s(event, "text")
            )
        }
        Kind::Note => {
            let tags: Vec<&str> = event
                .data
                .get("tags")
                .and_then(Value::as_array)
                .map(|t| t.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if tags.is_empty() {
                format!("Note: {}", s(event, "text"))
            } else {
                format!("Note [{}]: {}", tags.join(", "), s(event, "text"))
            }
        }
        Kind::Fact => format!("Fact: {}", s(event, "text")),
        Kind::FactCorrected => format!(
            "Correction of seq {}: {}",
            n(event, "corrects").unwrap_or_default(),
            s(event, "text")
        ),
        Kind::Mark => {
            let mut text = format!("Mark: {}", mark_label(s(event, "name")));
            if let Some(seq) = n(event, "corrects") {
                let _ = write!(text, " (corrects seq {seq})");
            }
            text
        }
        Kind::EvidenceCaptured => format!(
            "Evidence {} ({} bytes, SHA-256 {}) from {} {}",
            s(event, "file"),
            n(event, "bytes").unwrap_or_default(),
            short_hash(s(event, "sha256")),
            s(event, "method"),
            s(event, "url"),
        ),
        Kind::DraftSaved => format!(
            "Draft saved: {} ({} bytes, SHA-256 {})",
            s(event, "file"),
            n(event, "bytes").unwrap_or_default(),
            short_hash(s(event, "sha256"))
        ),
        Kind::Inject => format!(
            "Inject {}: {}: {}",
            s(event, "offset"),
            s(event, "title"),
            s(event, "body")
        ),
        Kind::Warning => format!("Warning: {}", s(event, "text")),
        Kind::IncidentClosed => match event.data_str("summary") {
            Some(summary) if !summary.is_empty() => format!("Incident closed: {summary}"),
            _ => "Incident closed".to_owned(),
        },
        Kind::JournalRecovered => format!(
            "Journal recovered: {} ({} bytes) quarantined after seq {}",
            s(event, "quarantined"),
            n(event, "bytes").unwrap_or_default(),
            n(event, "last_good_seq").unwrap_or_default()
        ),
        Kind::DrillScore => "Drill scored".to_owned(),
    }
}

/// First 12 hex digits: enough to find the full hash in the manifest.
pub fn short_hash(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// `recorded 2026-12-26 18:05:00Z` beside a back-dated row.
pub fn recorded_note(row: &TimelineRow) -> Option<String> {
    row.backdated
        .then(|| format!("recorded {}", utc(row.recorded_at)))
}
