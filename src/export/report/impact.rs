//! The measured part of a post-mortem: impact figures from captures, the marks in reading
//! order, durations between them, and the GDPR Art. 33 window (72 hours from `aware`).
//!
//! Impact is derived generically, never from names this runbook happens to use: a numeric
//! capture (or a list capture, by its length) whose name says it counts something, and the
//! item totals of `foreach` steps (called "tokens revoked" when the step id says `revoke` and
//! not `verify`/`check`/`confirm`). A list capture is skipped when its step also captured a
//! count, which would say the same thing twice. Each figure carries a `source` sentence saying
//! how it was derived, so a reader can check it against the journal.

use jiff::Timestamp;

use super::time::{human_duration, mark_label, millis_between};
use super::{DurationRow, ImpactItem, MarkRow, NotificationWindow};
use crate::incident::{Incident, NOTIFICATION_WINDOW_HOURS, WindowState};
use crate::runbook::{MARKS, Runbook};

/// Words in a capture name that make it an impact figure.
const COUNTING_WORDS: &[&str] = &[
    "exposed",
    "count",
    "records",
    "docs",
    "documents",
    "affected",
    "users",
    "tokens",
    "revoked",
    "total",
    "sessions",
    "keys",
];

pub fn impact(incident: &Incident, runbook: Option<&Runbook>) -> Vec<ImpactItem> {
    let title = |id: &str| {
        runbook
            .and_then(|rb| rb.step(id))
            .map_or_else(|| id.to_owned(), |s| s.title().to_owned())
    };
    let mut items = Vec::new();
    for (step_id, rec) in &incident.steps {
        // A step that captured a count and the list it counts would otherwise say it twice.
        let has_count = rec
            .captures
            .iter()
            .any(|(name, value)| name.contains("count") && value.is_number());
        for (name, value) in &rec.captures {
            let lower = name.to_ascii_lowercase();
            if !COUNTING_WORDS.iter().any(|w| lower.contains(w)) {
                continue;
            }
            let (figure, how) = if value.is_number() {
                (value.as_u64(), "captured")
            } else if let Some(text) = value.as_str() {
                (text.trim().parse::<u64>().ok(), "captured (as text)")
            } else if has_count {
                (None, "")
            } else {
                match value.list_len() {
                    Some(len) => (Some(len as u64), "length of the list captured"),
                    None => (None, ""),
                }
            };
            if let Some(figure) = figure {
                items.push(ImpactItem {
                    label: mark_label(name),
                    value: figure,
                    source: format!("{how} as vars.{name} by step {step_id}"),
                    step: Some(step_id.clone()),
                });
            }
        }
        if let Some((total, failed)) = rec.items {
            let done = total.saturating_sub(failed);
            // Verification steps (`verify-alexa-revoked`) count checks, not revocations.
            let verifies = ["verify", "check", "confirm"]
                .iter()
                .any(|w| step_id.contains(w));
            let label = if step_id.contains("revoke") && !verifies {
                format!("tokens revoked ({})", title(step_id))
            } else {
                format!("items processed ({})", title(step_id))
            };
            items.push(ImpactItem {
                label,
                value: done,
                source: format!(
                    "foreach items of step {step_id} that succeeded: {done} of {total} ({failed} failed)"
                ),
                step: Some(step_id.clone()),
            });
        }
    }
    items
}

/// Marks in `MARKS` order, then any others by name.
pub fn marks(incident: &Incident) -> Vec<MarkRow> {
    let mut names: Vec<&str> = MARKS
        .iter()
        .copied()
        .filter(|m| incident.marks.contains_key(*m))
        .collect();
    names.extend(
        incident
            .marks
            .keys()
            .map(String::as_str)
            .filter(|m| !MARKS.contains(m)),
    );
    names
        .into_iter()
        .filter_map(|name| incident.marks.get(name))
        .map(|m| MarkRow {
            name: m.name.clone(),
            label: mark_label(&m.name),
            at: m.at,
            seq: m.seq,
            set_by: m.actor.clone(),
            step: m.step.clone(),
            previous: m.previous.clone(),
        })
        .collect()
}

fn duration(label: String, from: &MarkRow, to: &MarkRow) -> DurationRow {
    let seconds = millis_between(from.at, to.at) / 1000;
    DurationRow {
        label,
        from: from.name.clone(),
        to: to.name.clone(),
        from_at: from.at,
        to_at: to.at,
        seconds,
        text: human_duration(seconds),
    }
}

/// Between each pair of consecutive marks that are set (the standard ones, in order).
pub fn durations(marks: &[MarkRow]) -> Vec<DurationRow> {
    let standard: Vec<&MarkRow> = marks
        .iter()
        .filter(|m| MARKS.contains(&m.name.as_str()))
        .collect();
    standard
        .windows(2)
        .map(|pair| {
            duration(
                format!("{} → {}", pair[0].label, pair[1].label),
                pair[0],
                pair[1],
            )
        })
        .collect()
}

/// The measures reviews ask for, where both ends are marked.
pub fn metrics(marks: &[MarkRow]) -> Vec<DurationRow> {
    const MEASURES: &[(&str, &str, &str)] = &[
        ("time to detect", "exposure_began", "aware"),
        ("time to acknowledge a report", "reported", "aware"),
        ("time to contain", "aware", "contained"),
        ("time to preserve evidence", "aware", "evidence_preserved"),
        ("time to rotate credentials", "aware", "rotated"),
        ("time to notify", "aware", "notified"),
        ("time to resolve", "aware", "resolved"),
        ("exposure open in total", "exposure_began", "contained"),
    ];
    let find = |name: &str| marks.iter().find(|m| m.name == name);
    MEASURES
        .iter()
        .filter_map(|(label, from, to)| Some(duration((*label).to_owned(), find(from)?, find(to)?)))
        .collect()
}

/// The 72-hour window from `aware` ([`Incident::notification_window`]); judged at
/// notification, else at the journal's last event.
pub fn notification_window(
    incident: &Incident,
    as_of: Option<Timestamp>,
) -> Option<NotificationWindow> {
    let aware_at = incident.marks.get("aware")?.at;
    let window = incident.notification_window(as_of.unwrap_or(aware_at))?;
    let used = human_duration(window.used_ms / 1000);
    let remaining_seconds = window.remaining_ms / 1000;
    let text = match window.state {
        WindowState::Met => format!(
            "notified {used} after becoming aware, {} inside the {NOTIFICATION_WINDOW_HOURS}-hour window",
            human_duration(remaining_seconds)
        ),
        WindowState::Missed => format!(
            "notified {used} after becoming aware, {} past the {NOTIFICATION_WINDOW_HOURS}-hour window",
            human_duration(-remaining_seconds)
        ),
        WindowState::Open => format!(
            "not notified yet: {used} used, {} left at the last journal event",
            human_duration(remaining_seconds)
        ),
        WindowState::Overdue => format!(
            "not notified, {} past the {NOTIFICATION_WINDOW_HOURS}-hour window at the last journal event",
            human_duration(-remaining_seconds)
        ),
    };
    Some(NotificationWindow {
        aware_at: window.aware_at,
        deadline: window.deadline,
        notified_at: window.notified_at,
        status: window.state.as_str().to_owned(),
        used_seconds: window.used_ms / 1000,
        remaining_seconds,
        text,
    })
}
