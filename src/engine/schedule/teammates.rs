//! Team mode of the scheduler: the shared chain's feed as the one source of the incident's
//! state (own events come back on it too, in seq order with teammates'), and waiting on it,
//! with a deadline, for a step a teammate holds.

use std::time::Duration;

use super::ScheduleError;
use crate::incident::Incident;
use crate::journal::shared::News;

/// Team mode for [`run_all_team`](super::run_all_team): the shared chain's feed, who this is, and how long to wait
/// for steps that teammates hold.
pub struct Teammates {
    pub feed_rx: tokio::sync::mpsc::UnboundedReceiver<News>,
    pub login: String,
    /// How long a step waits for a `needs` step a teammate holds to be done.
    pub wait: Duration,
}

impl Teammates {
    /// Fold whatever the feed has now (events at or below the incident's last seq were
    /// folded already and are skipped).
    pub(super) fn drain(&mut self, incident: &mut Incident) -> Result<(), ScheduleError> {
        while let Ok(news) = self.feed_rx.try_recv() {
            take(incident, news)?;
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
        while incident.last_seq < through {
            match self.feed_rx.recv().await {
                Some(news) => take(incident, news)?,
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
                Ok(Some(news)) => take(incident, news)?,
                Ok(None) | Err(_) => return Ok(done(incident)),
            }
        }
    }
}

fn take(incident: &mut Incident, news: News) -> Result<(), ScheduleError> {
    match news {
        News::Events(events) => {
            for event in events {
                if event.seq > incident.last_seq {
                    incident.apply(event);
                }
            }
            Ok(())
        }
        News::Alarm(text) => Err(ScheduleError::Alarm(text)),
        News::CaughtUp(_) => Ok(()),
        News::Disconnected(why) => {
            tracing::warn!("team link down: {why}");
            Ok(())
        }
    }
}
