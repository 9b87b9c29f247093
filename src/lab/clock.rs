//! The drill clock a facilitator runs: scenario time that runs `speed` times as fast as the
//! wall clock, can be paused and resumed, and can change speed mid-drill, and the scenario's
//! injects falling due on it.
//!
//! ```text
//!   scenario(now) = at_anchor + (now − anchor) × speed      (running)
//!                 = at_anchor                               (paused)
//!   every change (pause, resume, speed) re-anchors at the current scenario time
//! ```
//!
//! Plain arithmetic over instants the caller passes in: nothing here sleeps, reads the time
//! or journals (the facilitator journals each change as `drill.clock`), so it tests without
//! waiting.

use std::time::{Duration, Instant};

use super::scenario::Inject;

#[derive(Debug, Clone)]
pub struct Clock {
    speed: f64,
    paused: bool,
    at_anchor: Duration,
    anchor: Instant,
}

impl Clock {
    /// A clock at scenario time zero, stopped until [`Clock::resume`].
    pub fn stopped(speed: f64, now: Instant) -> Self {
        Self {
            speed,
            paused: true,
            at_anchor: Duration::ZERO,
            anchor: now,
        }
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    pub fn paused(&self) -> bool {
        self.paused
    }

    /// Scenario time at `now`.
    pub fn scenario(&self, now: Instant) -> Duration {
        if self.paused {
            return self.at_anchor;
        }
        self.at_anchor
            + now
                .saturating_duration_since(self.anchor)
                .mul_f64(self.speed)
    }

    fn reanchor(&mut self, now: Instant) {
        self.at_anchor = self.scenario(now);
        self.anchor = now;
    }

    pub fn pause(&mut self, now: Instant) {
        self.reanchor(now);
        self.paused = true;
    }

    pub fn resume(&mut self, now: Instant) {
        self.reanchor(now);
        self.paused = false;
    }

    /// Change the speed from now on (scenario time so far is kept). The caller checks that
    /// `speed` is a positive number.
    pub fn set_speed(&mut self, speed: f64, now: Instant) {
        self.reanchor(now);
        self.speed = speed;
    }

    /// Wall-clock time from `now` until scenario time reaches `at`; `None` while paused.
    pub fn until(&self, at: Duration, now: Instant) -> Option<Duration> {
        if self.paused {
            return None;
        }
        Some(at.saturating_sub(self.scenario(now)).div_f64(self.speed))
    }
}

/// The scenario's injects, in time order, each handed out once.
#[derive(Debug, Clone)]
pub struct Schedule {
    injects: Vec<Inject>,
    next: usize,
}

impl Schedule {
    pub fn new(mut injects: Vec<Inject>) -> Self {
        injects.sort_by_key(|i| i.after);
        Self { injects, next: 0 }
    }

    /// The next inject not yet due.
    pub fn upcoming(&self) -> Option<&Inject> {
        self.injects.get(self.next)
    }

    /// Every inject due at scenario time `now`, in order; each is returned once.
    pub fn due(&mut self, now: Duration) -> Vec<Inject> {
        let start = self.next;
        while self.injects.get(self.next).is_some_and(|i| i.after <= now) {
            self.next += 1;
        }
        self.injects[start..self.next].to_vec()
    }

    /// (delivered, total).
    pub fn progress(&self) -> (usize, usize) {
        (self.next, self.injects.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inject(minutes: u64) -> Inject {
        Inject {
            after: Duration::from_mins(minutes),
            offset: format!("+{minutes}m"),
            title: format!("t{minutes}"),
            body: String::new(),
            role: None,
        }
    }

    #[test]
    fn scenario_time_runs_at_speed_stops_when_paused_and_keeps_its_place_on_a_change() {
        let t0 = Instant::now();
        let mut clock = Clock::stopped(10.0, t0);
        assert_eq!(clock.scenario(t0 + Duration::from_secs(5)), Duration::ZERO);
        assert_eq!(clock.until(Duration::from_mins(1), t0), None);
        clock.resume(t0);
        let t1 = t0 + Duration::from_secs(6);
        assert_eq!(clock.scenario(t1), Duration::from_mins(1));
        assert_eq!(
            clock.until(Duration::from_mins(2), t1),
            Some(Duration::from_secs(6))
        );
        clock.pause(t1);
        let t2 = t1 + Duration::from_secs(100);
        assert_eq!(clock.scenario(t2), Duration::from_mins(1));
        clock.resume(t2);
        clock.set_speed(60.0, t2);
        assert_eq!(
            clock.scenario(t2 + Duration::from_secs(2)),
            Duration::from_mins(3)
        );
        assert_eq!(
            clock.until(Duration::from_secs(30), t2),
            Some(Duration::ZERO),
            "a time already past is due now"
        );
    }

    #[test]
    fn injects_fall_due_once_in_time_order() {
        let mut schedule = Schedule::new(vec![inject(25), inject(14), inject(40)]);
        assert_eq!(schedule.upcoming().map(|i| i.after.as_secs()), Some(840));
        assert!(schedule.due(Duration::from_mins(13)).is_empty());
        let due: Vec<String> = schedule
            .due(Duration::from_mins(30))
            .into_iter()
            .map(|i| i.title)
            .collect();
        assert_eq!(due, ["t14", "t25"]);
        assert!(schedule.due(Duration::from_mins(30)).is_empty());
        assert_eq!(schedule.progress(), (2, 3));
        assert_eq!(schedule.due(Duration::from_hours(9)).len(), 1);
        assert_eq!(schedule.upcoming(), None);
    }
}
