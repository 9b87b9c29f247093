//! The per-item parts of a report: step rows (runbook order, captures summarised), and draft
//! rows checked against the files on disk.

use super::{CaptureRow, DraftRow, FailedExpectationRow, Items, StepRow};
use serde_json::Value;

use crate::export::Sources;
use crate::incident::{Capture, Incident};
use crate::journal::event::sha256_hex;

/// Runbook order first (steps never started show as pending), then steps the journal knows
/// but the runbook does not (or every journalled step when the runbook is unavailable).
pub fn steps(incident: &Incident, sources: &Sources) -> Vec<StepRow> {
    let mut rows = Vec::new();
    if let Some(rb) = &sources.runbook {
        for step in &rb.steps {
            rows.push(step_row(
                incident,
                step.id(),
                step.title(),
                Some(&step.phase),
            ));
        }
    }
    for id in incident.steps.keys() {
        if !rows.iter().any(|r| &r.id == id) {
            rows.push(step_row(incident, id, id, None));
        }
    }
    rows
}

fn step_row(incident: &Incident, id: &str, title: &str, phase: Option<&String>) -> StepRow {
    let rec = incident.steps.get(id).cloned().unwrap_or_default();
    StepRow {
        id: id.to_owned(),
        title: title.to_owned(),
        phase: phase.cloned(),
        status: rec.status,
        attempts: rec.attempts,
        started_at: rec.started_at,
        finished_at: rec.finished_at,
        duration_ms: rec.duration_ms,
        summary: rec.summary,
        error: rec.error,
        failed_expectations: rec
            .failed_expectations
            .into_iter()
            .map(|f| FailedExpectationRow {
                expr: f.expr,
                actual: f.actual,
            })
            .collect(),
        skip_reason: rec.skip_reason,
        pending_reason: rec.pending_reason,
        items: rec.items.map(|(total, failed)| Items { total, failed }),
        requests: rec.requests,
        evidence: rec.evidence,
        confirmed_via: rec.confirmed_via,
        drafts_saved: u32::try_from(
            incident
                .drafts
                .iter()
                .filter(|d| d.step.as_deref() == Some(id))
                .count(),
        )
        .unwrap_or(u32::MAX),
        captures: rec
            .captures
            .iter()
            .map(|(name, value)| CaptureRow {
                name: name.clone(),
                value: summarise_capture(value),
            })
            .collect(),
    }
}

/// Longest captured text shown verbatim.
const CAPTURE_TEXT_MAX: usize = 120;

/// A captured value as one short line: scalars as they are (long text cut), lists and objects
/// by their size, because captures like `alexa_tokens` hold thousands of credentials.
pub fn summarise_value(value: &Value) -> String {
    match value {
        Value::String(s) => summarise_text(s),
        Value::Array(items) => format!("list of {} items", items.len()),
        Value::Object(map) => format!("object with {} fields", map.len()),
        other => other.to_string(),
    }
}

/// [`summarise_value`] of a captured value, read without building its tree.
pub fn summarise_capture(value: &Capture) -> String {
    if let Some(s) = value.as_str() {
        return summarise_text(&s);
    }
    if let Some(len) = value.list_len() {
        return format!("list of {len} items");
    }
    if let Some(len) = value.object_len() {
        return format!("object with {len} fields");
    }
    value.json().to_owned()
}

fn summarise_text(s: &str) -> String {
    let chars = s.chars().count();
    if chars > CAPTURE_TEXT_MAX {
        let cut: String = s.chars().take(CAPTURE_TEXT_MAX).collect();
        format!("{cut}… ({chars} characters)")
    } else {
        s.to_owned()
    }
}

/// One row per draft file: its last saved version, checked against the file on disk.
pub fn drafts(incident: &Incident, sources: &Sources) -> Vec<DraftRow> {
    let mut rows: Vec<DraftRow> = Vec::new();
    for version in &incident.drafts {
        if let Some(row) = rows.iter_mut().find(|r| r.file == version.file) {
            row.versions += 1;
            row.sha256.clone_from(&version.sha256);
            row.bytes = version.bytes;
            row.saved_at = version.at;
            row.step.clone_from(&version.step);
        } else {
            rows.push(DraftRow {
                step: version.step.clone(),
                file: version.file.clone(),
                sha256: version.sha256.clone(),
                bytes: version.bytes,
                saved_at: version.at,
                versions: 1,
                check: String::new(),
                content: None,
            });
        }
    }
    for row in &mut rows {
        match sources.draft_files.get(&row.file) {
            Some(bytes) => {
                let check = if sha256_hex(bytes) == row.sha256 {
                    "verified"
                } else {
                    "modified"
                };
                check.clone_into(&mut row.check);
                row.content = Some(String::from_utf8_lossy(bytes).into_owned());
            }
            None => "missing".clone_into(&mut row.check),
        }
    }
    rows
}
