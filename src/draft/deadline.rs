//! Notification deadlines counted from the `aware` mark: what the status bar, the post-mortem
//! and the notice drafts all show, from this one table and this one tracker.
//!
//! Each [`Duty`] is a notice some law asks for, with its period from awareness when the law
//! fixes one. [`track`] judges every duty at a given time: a duty with a fixed period is
//! `open` (time left) or `overdue` until the `notified` mark is set, then `met` or `missed`
//! for good (the clock stops at `notified`); a duty the law words as "without undue delay"
//! has no countdown and is `pending` until `notified`, then `notified`. Nothing is tracked
//! before `aware` is set. This module reads the incident's marks and nothing else; it never
//! asks the clock (callers pass `now`), so a post-mortem judged at its last event is
//! reproducible.

use jiff::Timestamp;
use serde::Serialize;

use crate::export::report::time::{human_duration, millis_between};
use crate::incident::Incident;

/// A notice some law requires, and how long it allows from awareness.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Duty {
    /// Stable id, used in JSON and by templates (`deadlines` entries).
    pub id: &'static str,
    /// Who must be told, and under which rule.
    pub label: &'static str,
    /// A few characters for the status bar (`72h`, `30d`).
    pub short: &'static str,
    /// The period from awareness, when the law fixes one.
    pub hours: Option<i64>,
    /// The rule in words, for readers who must check it.
    pub basis: &'static str,
}

/// Every duty tracked, in the order they fall due.
pub const DUTIES: &[Duty] = &[
    Duty {
        id: "gdpr-art33",
        label: "Supervisory authority (GDPR Art. 33)",
        short: "72h",
        hours: Some(crate::incident::NOTIFICATION_WINDOW_HOURS),
        basis: "GDPR Art. 33(1): without undue delay and, where feasible, not later than 72 hours after becoming aware; a later notice must give the reasons for the delay",
    },
    Duty {
        id: "gdpr-art34",
        label: "People affected (GDPR Art. 34)",
        short: "Art.34",
        hours: None,
        basis: "GDPR Art. 34(1): without undue delay when the breach is likely to result in a high risk to their rights and freedoms",
    },
    Duty {
        id: "us-state-consumers",
        label: "US residents affected (state breach laws)",
        short: "30d",
        hours: Some(30 * 24),
        basis: "the shortest fixed period in US state breach laws (30 days, e.g. Colorado, Florida, Washington); California asks for the most expedient time possible and without unreasonable delay; check every state where affected people live",
    },
];

/// Where a duty stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// Notified before the deadline.
    Met,
    /// Notified after the deadline.
    Missed,
    /// Not notified; time left.
    Open,
    /// Not notified; the deadline has passed.
    Overdue,
    /// No fixed period, notified.
    Notified,
    /// No fixed period, not notified yet.
    Pending,
}

impl Standing {
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Met => "met",
            Standing::Missed => "missed",
            Standing::Open => "open",
            Standing::Overdue => "overdue",
            Standing::Notified => "notified",
            Standing::Pending => "pending",
        }
    }

    /// True once `notified` stopped the clock.
    pub fn is_stopped(self) -> bool {
        matches!(self, Standing::Met | Standing::Missed | Standing::Notified)
    }
}

/// One duty judged at a time.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Deadline {
    pub id: String,
    pub label: String,
    pub short: String,
    pub basis: String,
    pub aware_at: Timestamp,
    /// `aware` plus the fixed period; `None` for "without undue delay".
    pub due: Option<Timestamp>,
    pub notified_at: Option<Timestamp>,
    pub status: Standing,
    /// Seconds from awareness to notification, or to the time judged while not notified.
    pub used_seconds: i64,
    /// Seconds left at notification (or at the time judged); negative past the deadline;
    /// `None` without a fixed period.
    pub remaining_seconds: Option<i64>,
    /// One sentence: where it stands, in words.
    pub text: String,
}

/// Every duty judged at `now` (at notification for the notified ones); empty until `aware`.
pub fn track(incident: &Incident, now: Timestamp) -> Vec<Deadline> {
    let Some(aware_at) = incident.marks.get("aware").map(|m| m.at) else {
        return Vec::new();
    };
    let notified_at = incident.marks.get("notified").map(|m| m.at);
    DUTIES
        .iter()
        .map(|duty| judge(incident, duty, aware_at, notified_at, now))
        .collect()
}

fn judge(
    incident: &Incident,
    duty: &Duty,
    aware_at: Timestamp,
    notified_at: Option<Timestamp>,
    now: Timestamp,
) -> Deadline {
    let judged_at = notified_at.unwrap_or(now);
    let used_seconds = millis_between(aware_at, judged_at) / 1000;
    let used = human_duration(used_seconds.max(0));
    // A fixed period is a window from `aware` that `notified` stops: the incident's one rule.
    let window = duty.hours.and_then(|h| incident.window_of(h, now));
    let due = window.map(|w| w.deadline);
    let remaining_seconds = window.map(|w| w.remaining_ms / 1000);
    let (status, text) = match (notified_at, remaining_seconds) {
        (Some(_), Some(left)) if left >= 0 => (
            Standing::Met,
            format!(
                "notified {used} after becoming aware, {} before the deadline",
                human_duration(left)
            ),
        ),
        (Some(_), Some(left)) => (
            Standing::Missed,
            format!(
                "notified {used} after becoming aware, {} after the deadline",
                human_duration(-left)
            ),
        ),
        (None, Some(left)) if left >= 0 => (
            Standing::Open,
            format!(
                "not notified yet: {used} used, {} left",
                human_duration(left)
            ),
        ),
        (None, Some(left)) => (
            Standing::Overdue,
            format!("not notified, {} past the deadline", human_duration(-left)),
        ),
        (Some(_), None) => (
            Standing::Notified,
            format!("notified {used} after becoming aware"),
        ),
        (None, None) => (
            Standing::Pending,
            format!("not notified yet, {used} after becoming aware (no fixed period)"),
        ),
    };
    Deadline {
        id: duty.id.to_owned(),
        label: duty.label.to_owned(),
        short: duty.short.to_owned(),
        basis: duty.basis.to_owned(),
        aware_at,
        due,
        notified_at,
        status,
        used_seconds,
        remaining_seconds,
        text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::Mark;

    fn incident(marks: &[(&str, &str)]) -> Incident {
        let mut incident = Incident::default();
        for (seq, (name, at)) in (1..).zip(marks) {
            incident.marks.insert(
                (*name).to_owned(),
                Mark {
                    name: (*name).to_owned(),
                    at: at.parse().unwrap(),
                    seq,
                    actor: "alice".into(),
                    step: None,
                    previous: Vec::new(),
                },
            );
        }
        incident
    }

    fn at(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    #[test]
    fn nothing_is_tracked_before_aware() {
        assert!(track(&incident(&[]), at("2019-12-26T18:00:00Z")).is_empty());
    }

    #[test]
    fn each_duty_counts_from_aware_while_open() {
        let list = track(
            &incident(&[("aware", "2019-12-26T18:00:00Z")]),
            at("2019-12-26T19:00:00Z"),
        );
        let got: Vec<_> = list
            .iter()
            .map(|d| {
                (
                    d.id.as_str(),
                    d.status,
                    d.remaining_seconds,
                    d.text.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (
                    "gdpr-art33",
                    Standing::Open,
                    Some(71 * 3600),
                    "not notified yet: 1h used, 2d 23h left"
                ),
                (
                    "gdpr-art34",
                    Standing::Pending,
                    None,
                    "not notified yet, 1h after becoming aware (no fixed period)"
                ),
                (
                    "us-state-consumers",
                    Standing::Open,
                    Some(30 * 86_400 - 3600),
                    "not notified yet: 1h used, 29d 23h left"
                ),
            ]
        );
        assert_eq!(list[0].due, Some(at("2019-12-29T18:00:00Z")));
    }

    #[test]
    fn the_clock_stops_at_notified() {
        let marks = [
            ("aware", "2019-12-26T18:00:00Z"),
            ("notified", "2019-12-30T18:00:00Z"),
        ];
        // Judged long after: the result is the same as at notification.
        for now in ["2019-12-30T18:00:00Z", "2020-06-01T00:00:00Z"] {
            let list = track(&incident(&marks), at(now));
            let got: Vec<_> = list.iter().map(|d| (d.status, d.used_seconds)).collect();
            assert_eq!(
                got,
                [
                    (Standing::Missed, 4 * 86_400),
                    (Standing::Notified, 4 * 86_400),
                    (Standing::Met, 4 * 86_400),
                ]
            );
            assert_eq!(
                list[0].text,
                "notified 4d after becoming aware, 1d after the deadline"
            );
            assert!(list.iter().all(|d| d.status.is_stopped()));
        }
    }

    #[test]
    fn past_the_period_without_notice_is_overdue() {
        let list = track(
            &incident(&[("aware", "2019-12-26T18:00:00Z")]),
            at("2019-12-29T20:00:00Z"),
        );
        assert_eq!(list[0].status, Standing::Overdue);
        assert_eq!(list[0].remaining_seconds, Some(-7200));
        assert_eq!(list[0].text, "not notified, 2h past the deadline");
    }
}
