//! Journalling for one step run: synced-now events and group-committed exchange events.
//!
//! `now` appends and waits for the sync (step.started, outcomes, confirm, mark). An exchange's
//! `http.request` is appended while the request is on the wire, and its `http.response` (plus
//! any `evidence.captured`) is chained after it in a background task, so journal syncs overlap
//! with network I/O instead of sitting between requests. `flush` waits for all of them; the
//! engine calls it before writing the step's outcome.
//!
//! Every event goes to the progress channel only after its own sync. This module decides
//! nothing about what to journal; the engine does.

use std::sync::Mutex;

use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use super::Progress;
use crate::journal::{Event, Journal, JournalError, Kind, NewEvent};

pub struct Recorder {
    journal: Journal,
    progress: UnboundedSender<Progress>,
    step: String,
    pending: Mutex<Vec<JoinHandle<Result<(), JournalError>>>>,
}

/// The `http.request` of an exchange, being appended; finish it with the response.
pub struct ExchangeLog {
    request: JoinHandle<Result<(), JournalError>>,
}

impl Recorder {
    pub fn new(journal: Journal, progress: UnboundedSender<Progress>, step: &str) -> Self {
        Self {
            journal,
            progress,
            step: step.to_owned(),
            pending: Mutex::new(Vec::new()),
        }
    }

    /// Who is acting (the responder), for custody records.
    pub fn actor(&self) -> &str {
        self.journal.actor()
    }

    /// The incident directory (evidence goes under it).
    pub fn dir(&self) -> &std::path::Path {
        self.journal.dir()
    }

    fn event(&self, kind: Kind, data: Value) -> NewEvent {
        NewEvent::for_step(kind, self.step.clone(), data)
    }

    /// Append, wait for the sync, then report.
    pub async fn now(&self, kind: Kind, data: Value) -> Result<Event, JournalError> {
        let event = self.journal.append(self.event(kind, data)).await?;
        // A closed receiver means nobody is watching; the journal is what counts.
        let _ = self.progress.send(Progress::Journalled(event.clone()));
        Ok(event)
    }

    /// Report something that is not an event (attempts, item counts).
    pub fn progress(&self, progress: Progress) {
        let _ = self.progress.send(progress);
    }

    /// Start appending an exchange's `http.request` without waiting for it.
    pub fn request(&self, data: Value) -> ExchangeLog {
        let journal = self.journal.clone();
        let progress = self.progress.clone();
        let event = self.event(Kind::HttpRequest, data);
        ExchangeLog {
            request: tokio::spawn(async move {
                let event = journal.append(event).await?;
                let _ = progress.send(Progress::Journalled(event));
                Ok(())
            }),
        }
    }

    /// Append the exchange's response (and any evidence record) after its request, in the
    /// background; `flush` waits for it.
    pub fn response(&self, log: ExchangeLog, events: Vec<(Kind, Value)>) {
        let journal = self.journal.clone();
        let progress = self.progress.clone();
        let events: Vec<NewEvent> = events
            .into_iter()
            .map(|(kind, data)| self.event(kind, data))
            .collect();
        let task = tokio::spawn(async move {
            log.request.await.map_err(|_| JournalError::Closed)??;
            for event in events {
                let event = journal.append(event).await?;
                let _ = progress.send(Progress::Journalled(event));
            }
            Ok(())
        });
        if let Ok(mut pending) = self.pending.lock() {
            pending.push(task);
        }
    }

    /// Wait until every background append of this step is durable; the first error wins.
    pub async fn flush(&self) -> Result<(), JournalError> {
        let tasks = self
            .pending
            .lock()
            .map(|mut p| std::mem::take(&mut *p))
            .unwrap_or_default();
        let mut first_err = None;
        for task in tasks {
            let result = task.await.map_err(|_| JournalError::Closed).and_then(|r| r);
            if let Err(err) = result {
                first_err.get_or_insert(err);
            }
        }
        first_err.map_or(Ok(()), Err)
    }
}
