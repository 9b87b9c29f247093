//! Notification windows: a fixed period from the `aware` mark (GDPR Art. 33: 72 hours). One
//! rule for every reader (the TUI status bar, the exports, the notice drafts' deadline table in
//! `draft::deadline`): once `notified` is marked a window is judged at that moment and stops
//! counting; until then it is judged at the time the caller gives.

use jiff::{SignedDuration, Timestamp};

use super::Incident;

/// GDPR Art. 33: notify within 72 hours of becoming aware.
pub const NOTIFICATION_WINDOW_HOURS: i64 = 72;

/// Where the window stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WindowState {
    /// Notified inside the window.
    Met,
    /// Notified after the deadline.
    Missed,
    /// Not notified yet, time left.
    Open,
    /// Not notified, deadline passed.
    Overdue,
}

impl WindowState {
    pub fn as_str(self) -> &'static str {
        match self {
            WindowState::Met => "met",
            WindowState::Missed => "missed",
            WindowState::Open => "open",
            WindowState::Overdue => "overdue",
        }
    }
}

/// The window as of one moment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Window {
    pub aware_at: Timestamp,
    pub deadline: Timestamp,
    pub notified_at: Option<Timestamp>,
    pub state: WindowState,
    /// Milliseconds from awareness to notification (or to `now` while not notified).
    pub used_ms: i64,
    /// Milliseconds left at notification (or at `now`); negative past the deadline.
    pub remaining_ms: i64,
}

impl Incident {
    /// The notification window judged at `notified` if marked, else at `now`; `None` until
    /// `aware` is marked.
    pub fn notification_window(&self, now: Timestamp) -> Option<Window> {
        self.window_of(NOTIFICATION_WINDOW_HOURS, now)
    }

    /// A window of `hours` from `aware`, judged as [`Incident::notification_window`].
    pub fn window_of(&self, hours: i64, now: Timestamp) -> Option<Window> {
        let aware_at = self.marks.get("aware")?.at;
        let deadline = aware_at
            .checked_add(SignedDuration::from_hours(hours))
            .ok()?;
        let notified_at = self.marks.get("notified").map(|m| m.at);
        let judged_at = notified_at.unwrap_or(now);
        let used_ms = millis_between(aware_at, judged_at);
        let remaining_ms = millis_between(judged_at, deadline);
        let state = match (notified_at.is_some(), remaining_ms >= 0) {
            (true, true) => WindowState::Met,
            (true, false) => WindowState::Missed,
            (false, true) => WindowState::Open,
            (false, false) => WindowState::Overdue,
        };
        Some(Window {
            aware_at,
            deadline,
            notified_at,
            state,
            used_ms,
            remaining_ms,
        })
    }
}

fn millis_between(from: Timestamp, to: Timestamp) -> i64 {
    to.as_millisecond() - from.as_millisecond()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::incident::Mark;

    fn mark(name: &str, at: &str) -> (String, Mark) {
        (
            name.to_owned(),
            Mark {
                name: name.to_owned(),
                at: at.parse().unwrap(),
                seq: 1,
                actor: "alice".into(),
                step: None,
                previous: Vec::new(),
            },
        )
    }

    #[test]
    fn the_window_counts_until_notified_and_then_stops() {
        let mut incident = Incident::default();
        let now: Timestamp = "2026-11-04T00:00:00Z".parse().unwrap();
        assert_eq!(incident.notification_window(now), None);
        incident
            .marks
            .extend([mark("aware", "2026-11-01T00:00:00Z")]);
        let w = incident.notification_window(now).unwrap();
        assert_eq!((w.state, w.remaining_ms), (WindowState::Open, 0));
        let earlier: Timestamp = "2026-11-02T00:00:00Z".parse().unwrap();
        let w = incident.notification_window(earlier).unwrap();
        assert_eq!(
            (w.state, w.remaining_ms),
            (WindowState::Open, 48 * 3_600_000)
        );
        let later: Timestamp = "2026-11-05T00:00:00Z".parse().unwrap();
        let w = incident.notification_window(later).unwrap();
        assert_eq!(
            (w.state, w.remaining_ms),
            (WindowState::Overdue, -24 * 3_600_000)
        );
        incident
            .marks
            .extend([mark("notified", "2026-11-02T12:00:00Z")]);
        // Judged at notification, whatever the clock says now.
        for now in [earlier, later] {
            let w = incident.notification_window(now).unwrap();
            assert_eq!(
                (w.state, w.used_ms, w.remaining_ms),
                (WindowState::Met, 36 * 3_600_000, 36 * 3_600_000)
            );
        }
    }
}
