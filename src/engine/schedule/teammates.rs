//! Team mode of the scheduler: the shared chain's feed as the one source of the incident's
//! state (own events come back on it too, in seq order with teammates'), and waiting on it,
//! with a deadline, for a step a teammate holds.
//!
//! Offline, own events that went to the pending sub-chain are folded through an
//! [`Overlay`] (never as shared events: their seqs are provisional), so the run goes on with
//! them; their merged copies later replace them (see [`Overlay`]). What the merge reports
//! (its conflicts, or why it failed) is kept in [`Teammates::notices`] for the caller to show.

use std::time::Duration;

use super::ScheduleError;
use crate::incident::{Incident, Overlay};
use crate::journal::shared::News;
use crate::journal::{Event, Journal};

/// Team mode for [`run_all_team`](super::run_all_team): the shared chain's feed, who this is, and how long to wait
/// for steps that teammates hold.
pub struct Teammates {
    pub feed_rx: tokio::sync::mpsc::UnboundedReceiver<News>,
    pub login: String,
    /// How long a step waits for a `needs` step a teammate holds to be done.
    pub wait: Duration,
    /// Own pending events over the incident (offline).
    pub overlay: Overlay,
    /// Lines from the merge for the caller to show (conflicts, failures), in order.
    pub notices: Vec<String>,
    /// Merge reports (done or failed) on the feed so far.
    merge_reports: u64,
}

impl Teammates {
    /// Team mode for a run as `login`, waiting up to `wait` for teammates.
    pub fn new(
        feed_rx: tokio::sync::mpsc::UnboundedReceiver<News>,
        login: String,
        wait: Duration,
    ) -> Self {
        Self {
            feed_rx,
            login,
            wait,
            overlay: Overlay::default(),
            notices: Vec::new(),
            merge_reports: 0,
        }
    }

    /// Fold own events that are on the pending sub-chain.
    pub(super) fn pending(&mut self, incident: &mut Incident, events: Vec<Event>) {
        for event in events {
            self.overlay.push_pending(incident, event);
        }
    }

    /// After the run: while own events are pending (on `journal`'s sub-chain, or folded
    /// provisionally), wait on the feed (up to the wait) for their merge's report and their
    /// merged copies; returns how many are still pending.
    pub async fn settle(
        &mut self,
        incident: &mut Incident,
        journal: &Journal,
    ) -> Result<usize, ScheduleError> {
        let deadline = tokio::time::Instant::now() + self.wait;
        // Counted down before its report is sent: while anything is counted, a report comes.
        let awaiting = journal.pending_count() > 0;
        let before = self.merge_reports;
        self.drain(incident)?;
        while self.overlay.pending() > 0 || (awaiting && self.merge_reports == before) {
            match tokio::time::timeout_at(deadline, self.feed_rx.recv()).await {
                Ok(Some(news)) => self.take(incident, news)?,
                Ok(None) | Err(_) => break,
            }
        }
        Ok(journal.pending_count().max(self.overlay.pending()))
    }

    /// Fold whatever the feed has now (events at or below the incident's last seq were
    /// folded already and are skipped).
    pub(super) fn drain(&mut self, incident: &mut Incident) -> Result<(), ScheduleError> {
        while let Ok(news) = self.feed_rx.try_recv() {
            self.take(incident, news)?;
        }
        Ok(())
    }

    /// Fold until the incident holds `through` (an own event: the feed has it or is about to;
    /// the mirror holds it before the append returned).
    pub(super) async fn catch_up(
        &mut self,
        incident: &mut Incident,
        through: u64,
    ) -> Result<(), ScheduleError> {
        while self.overlay.shared_seq(incident) < through {
            match self.feed_rx.recv().await {
                Some(news) => self.take(incident, news)?,
                None => return Err(ScheduleError::Alarm("the team session stopped".into())),
            }
        }
        Ok(())
    }

    /// Wait on the feed until `done` holds or the wait runs out; `true` if it holds.
    pub(super) async fn wait_until(
        &mut self,
        incident: &mut Incident,
        done: impl Fn(&Incident) -> bool,
    ) -> Result<bool, ScheduleError> {
        let deadline = tokio::time::Instant::now() + self.wait;
        loop {
            self.drain(incident)?;
            if done(incident) {
                return Ok(true);
            }
            match tokio::time::timeout_at(deadline, self.feed_rx.recv()).await {
                Ok(Some(news)) => self.take(incident, news)?,
                Ok(None) | Err(_) => return Ok(done(incident)),
            }
        }
    }
}

impl Teammates {
    fn take(&mut self, incident: &mut Incident, news: News) -> Result<(), ScheduleError> {
        match news {
            News::Events(events) => {
                self.overlay.push_shared(incident, events);
                Ok(())
            }
            News::Alarm(text) => Err(ScheduleError::Alarm(text)),
            News::CaughtUp(_) | News::Pending(_) => Ok(()),
            News::Disconnected(why) => {
                tracing::warn!("team link down: {why}");
                Ok(())
            }
            News::Merged { count, conflicts } => {
                tracing::info!(count, "pending events merged onto the shared chain");
                self.merge_reports += 1;
                self.notices.extend(conflicts);
                Ok(())
            }
            News::MergeFailed(why) => {
                self.merge_reports += 1;
                self.notices
                    .push(format!("merge of pending events failed: {why}"));
                Ok(())
            }
        }
    }
}
