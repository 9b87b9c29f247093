//! One line of plain text per journal event, in words: the one wording the TUI timeline and
//! every export use. Plain text only; each renderer escapes it for where it goes (terminal,
//! Markdown, HTML).

use std::fmt::Write;

use jiff::Timestamp;

use crate::journal::payload::{Confirm, Conflict, Payload, Via};
use crate::journal::{Event, Kind};

/// `exposure_began` → `exposure began`.
pub fn mark_label(name: &str) -> String {
    name.replace('_', " ")
}

/// First 12 hex digits: enough to find the full hash in the manifest.
pub fn short_hash(hash: &str) -> &str {
    hash.get(..12).unwrap_or(hash)
}

/// The time a person gave for an event (a fact's `occurred_at`, a mark's `at`), when it has
/// one: timelines place the event there, beside the time it was recorded.
pub fn given_time(event: &Event) -> Option<Timestamp> {
    if !matches!(event.kind, Kind::Fact | Kind::FactCorrected | Kind::Mark) {
        return None;
    }
    match event.payload().ok()? {
        Payload::Fact(p) => p.occurred_at,
        Payload::FactCorrected(p) => p.occurred_at,
        Payload::Mark(p) => p.at,
        _ => None,
    }
}

/// What the event recorded, in one line.
pub fn describe(event: &Event) -> String {
    let mut text = match event.payload_for_words() {
        Ok(payload) => describe_payload(&payload),
        Err(err) => format!("Unreadable: {err}"),
    };
    if let Some(offline) = event.offline() {
        let _ = write!(
            text,
            " (written offline at {}, local seq {})",
            offline.at, offline.seq
        );
    }
    text
}

/// [`describe`] of an already decoded payload (a reader that decoded it for itself, or
/// rebuilt a request from its step's shape).
#[expect(
    clippy::too_many_lines,
    reason = "one short arm per journal kind: the wording reads best as one table"
)]
pub fn describe_payload(payload: &Payload) -> String {
    match payload {
        Payload::IncidentOpened(p) => format!(
            "Incident {} opened from runbook \"{}\" ({}){}",
            p.incident_id,
            p.runbook_title,
            p.runbook_id,
            if p.drill { " (DRILL)" } else { "" }
        ),
        Payload::StepStarted(p) => format!(
            "Step started (attempt {}{})",
            p.attempt.max(1),
            if p.rerun { ", an explicit re-run" } else { "" }
        ),
        Payload::HttpRequest(p) => {
            // A request written after its step's shape, read without it (see
            // `journal::payload::exchange`): what it has, in words.
            let mut text = match (&p.method, &p.url) {
                (Some(method), Some(url)) => format!("{method} {url}"),
                (method, url) => format!(
                    "{} {}",
                    method.as_deref().unwrap_or("Request"),
                    url.as_deref()
                        .or(p.path.as_deref())
                        .unwrap_or("as the step started")
                ),
            };
            if let Some(item) = p.item {
                let _ = write!(text, " (item {item})");
            }
            if let Some(attempt) = p.attempt {
                let _ = write!(text, " (poll {attempt})");
            }
            text
        }
        Payload::HttpResponse(p) => match p.status {
            Some(status) => format!(
                "HTTP {status} in {} ms, {} bytes",
                p.elapsed_ms,
                p.bytes.unwrap_or_default()
            ),
            None => format!(
                "No response: {}",
                p.error.as_deref().unwrap_or("unknown error")
            ),
        },
        Payload::StepSucceeded(p) if p.summary.is_empty() => {
            format!("Succeeded in {} ms", p.duration_ms)
        }
        Payload::StepSucceeded(p) => format!("Succeeded in {} ms: {}", p.duration_ms, p.summary),
        Payload::StepFailed(p) => {
            let mut text = format!("Failed: {}", p.error);
            if !p.failed_expectations.is_empty() {
                let _ = write!(
                    text,
                    " ({} expectation(s) failed)",
                    p.failed_expectations.len()
                );
            }
            text
        }
        Payload::StepSkipped(p) => format!("Skipped: {}", p.reason),
        Payload::StepInterrupted(p) => format!(
            "Interrupted, outcome unknown (started at seq {})",
            p.started_seq
        ),
        Payload::StepPending(p) => format!("Left for a person: {}", p.reason),
        Payload::Confirm(Confirm {
            via: Via::AssumeYes,
            ..
        }) => "Confirmed with --yes (no typed confirmation)".to_owned(),
        Payload::Confirm(p) if p.typed_matched => {
            format!("Confirmed by typing \"{}\"", p.expected)
        }
        Payload::Confirm(p) => format!("Confirmation did not match \"{}\"", p.expected),
        Payload::ChecklistTicked(p) => format!(
            "{} {}",
            if p.checked { "Checked:" } else { "Unchecked:" },
            p.text
        ),
        Payload::Note(p) if p.tags.is_empty() => format!("Note: {}", p.text),
        Payload::Note(p) => format!("Note [{}]: {}", p.tags.join(", "), p.text),
        Payload::Fact(p) => format!("Fact: {}", p.text),
        Payload::FactCorrected(p) => format!("Correction of seq {}: {}", p.corrects, p.text),
        Payload::Mark(p) => {
            let mut text = format!("Mark: {}", mark_label(&p.name));
            if let Some(seq) = p.corrects {
                let _ = write!(text, " (corrects seq {seq})");
            }
            text
        }
        Payload::EvidenceCaptured(p) => format!(
            "Evidence {} ({} bytes, SHA-256 {}) from {} {}",
            p.file,
            p.bytes,
            short_hash(&p.sha256),
            p.method,
            p.url,
        ),
        Payload::DraftSaved(p) => format!(
            "Draft saved: {} ({} bytes, SHA-256 {})",
            p.file,
            p.bytes,
            short_hash(&p.sha256)
        ),
        Payload::Inject(p) => match &p.target {
            Some(target) => format!("Inject {} for {target}: {}: {}", p.offset, p.title, p.body),
            None => format!("Inject {}: {}: {}", p.offset, p.title, p.body),
        },
        Payload::Warning(p) => format!("Warning: {}", p.text),
        Payload::IncidentClosed(p) => match p.summary.as_deref() {
            Some(summary) if !summary.is_empty() => format!("Incident closed: {summary}"),
            _ => "Incident closed".to_owned(),
        },
        Payload::JournalRecovered(p) => format!(
            "Journal recovered: {} ({} bytes) quarantined after seq {}",
            p.quarantined, p.bytes, p.last_good_seq
        ),
        Payload::DrillScore(_) => "Drill scored".to_owned(),
        Payload::SyncMerged(p) => {
            let mut text = format!(
                "Merged {} event(s) written offline after seq {} (sub-chain head {})",
                p.count,
                p.root_seq,
                short_hash(&p.subchain_head)
            );
            for conflict in &p.conflicts {
                text.push_str("; ");
                text.push_str(&conflict_line(conflict));
            }
            text
        }
        Payload::InjectAcknowledged(p) => format!("Inject (seq {}) acknowledged", p.inject),
        Payload::DrillClock(p) if p.paused => {
            format!("Drill paused at {}", scenario_time(p.scenario_ms))
        }
        Payload::DrillClock(p) => format!(
            "Drill clock running at ×{} from {}",
            p.speed,
            scenario_time(p.scenario_ms)
        ),
        Payload::StepClaimed(_) => "Claimed the step".to_owned(),
        Payload::StepReleased(_) => "Released the step".to_owned(),
        Payload::StepTakenOver(p) => format!("Took the step over from {}: {}", p.from, p.reason),
        Payload::RoleChanged(p) => match p.take_over.as_deref() {
            Some(reason) => format!("{} took over as {}: {reason}", p.login, p.role),
            None if p.role == "commander" => format!("Command handed over to {}", p.login),
            None => format!("{} is now {}", p.login, p.role),
        },
        Payload::Checkpoint(p) => format!(
            "State saved through seq {} in {} ({})",
            p.seq,
            p.file,
            short_hash(&p.sha256)
        ),
    }
}

/// A step done twice, for the commander: the `sync.merged` line and the team view say it
/// this way.
pub fn conflict_line(conflict: &Conflict) -> String {
    format!(
        "CONFLICT: step {} was also done by {} (seq {}) while this was offline (seq {})",
        conflict.step, conflict.by, conflict.theirs, conflict.ours
    )
}

/// Scenario time as `+14m05s`.
fn scenario_time(ms: u64) -> String {
    let secs = ms / 1000;
    format!("+{}m{:02}s", secs / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::payload::{HttpResponse, Note, SyncMerged};

    #[test]
    fn events_are_described_in_words() {
        let cases = [
            (
                Payload::from(Confirm::new("customers".into(), Via::Typed)),
                "Confirmed by typing \"customers\"",
            ),
            (
                Payload::from(Confirm::new("customers".into(), Via::AssumeYes)),
                "Confirmed with --yes (no typed confirmation)",
            ),
            (
                Payload::from(HttpResponse {
                    error: Some("connection refused".into()),
                    ..HttpResponse::default()
                }),
                "No response: connection refused",
            ),
            (
                Payload::from(Note {
                    text: "call legal".into(),
                    tags: vec!["follow-up".into()],
                }),
                "Note [follow-up]: call legal",
            ),
            (
                Payload::skipped("`when` is false"),
                "Skipped: `when` is false",
            ),
            (
                Payload::from(SyncMerged {
                    count: 3,
                    subchain_head: "0123456789abcdef".repeat(4),
                    root_seq: 40,
                    conflicts: vec![Conflict {
                        step: "close-index".into(),
                        ours: 45,
                        theirs: 42,
                        by: "bob".into(),
                    }],
                }),
                "Merged 3 event(s) written offline after seq 40 (sub-chain head 0123456789ab); \
                 CONFLICT: step close-index was also done by bob (seq 42) while this was offline (seq 45)",
            ),
        ];
        for (payload, text) in cases {
            assert_eq!(describe_payload(&payload), text);
        }
    }
}
