//! Journalling for one step run: events are *queued* in the order the engine decides them and
//! *acknowledged* (synced) in the background, so syncs overlap with the network.
//!
//! ```text
//!  start(step.started) ─ queue ─┐
//!  request(http.request) ─ queue ─ wait for step.started's sync ─▶ send   (write-ahead)
//!                                 (usually one group commit covers both)
//!  response(http.response, evidence.captured) ─ queue ─┐     (group-committed)
//!  finish(mark, step.succeeded) ─ queue ─ wait for ALL acks ─▶ report
//! ```
//!
//! The journal writer assigns seq in queue order and group-commits whatever is waiting, so the
//! outcome event usually shares one sync with the last response. Each event is sent on the
//! progress channel only after its own sync, and `finish` returns only when every event of the
//! step is durable. Exchange events are reported by one reporter task per step, fed in queue
//! order: a task per exchange cost a spawn and a cross-thread wake-up each (10,000 items meant
//! 10,000 tasks), while one reporter waiting on the oldest ack finds the rest of its group
//! commit already acknowledged. This relies on [`Journal::append`] queueing its event on the first poll (it
//! does: the request goes to the writer's channel before the first await). This module decides
//! nothing about what to journal; the engine does.

use std::future::Future;
use std::pin::Pin;
use std::sync::Mutex;

use serde_json::Value;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use super::Progress;
use crate::journal::{Event, Journal, JournalError, Kind, NewEvent};

type Ack = Pin<Box<dyn Future<Output = Result<Event, JournalError>> + Send>>;

pub struct Recorder {
    journal: Journal,
    progress: UnboundedSender<Progress>,
    step: String,
    /// Acks waiting to be reported, in queue order, and the task reporting them.
    reporter: Mutex<Option<Reporter>>,
    /// `step.started`: queued by `start`, awaited before the first request is sent.
    started: tokio::sync::Mutex<Started>,
}

enum Started {
    NotQueued,
    /// Decided, not yet queued: it goes in right before the first request.
    Ready(Value),
    Queued(Ack),
    Durable,
    Failed(String),
}

struct Reporter {
    acks: UnboundedSender<Ack>,
    task: JoinHandle<Result<(), JournalError>>,
}

/// Proof that an exchange's `http.request` is queued; needed to record its response.
pub struct ExchangeLog(());

impl Recorder {
    pub fn new(journal: Journal, progress: UnboundedSender<Progress>, step: &str) -> Self {
        Self {
            journal,
            progress,
            step: step.to_owned(),
            reporter: Mutex::new(None),
            started: tokio::sync::Mutex::new(Started::NotQueued),
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

    /// Queue an event now; the returned future resolves when it is synced.
    async fn queue(&self, kind: Kind, data: Value) -> Ack {
        let journal = self.journal.clone();
        let event = NewEvent::for_step(kind, self.step.clone(), data);
        let mut ack: Ack = Box::pin(async move { journal.append(event).await });
        // Poll once so the event enters the writer's queue now, in call order.
        tokio::select! {
            biased;
            done = &mut ack => return Box::pin(std::future::ready(done)),
            () = std::future::ready(()) => {}
        }
        ack
    }

    /// Report each acknowledged event in the background; `finish` waits for these.
    fn report_later(&self, acks: Vec<Ack>) {
        let Ok(mut reporter) = self.reporter.lock() else {
            return;
        };
        let reporter = reporter.get_or_insert_with(|| {
            let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<Ack>();
            let progress = self.progress.clone();
            let task = tokio::spawn(async move {
                // Keep reporting after a failed ack: other events may be durable; the first
                // error is what `finish` returns.
                let mut first_err = None;
                while let Some(ack) = rx.recv().await {
                    match ack.await {
                        // A closed receiver means nobody is watching; the journal is what counts.
                        Ok(event) => {
                            let _ = progress.send(Progress::Journalled(event));
                        }
                        Err(err) => {
                            first_err.get_or_insert(err);
                        }
                    }
                }
                first_err.map_or(Ok(()), Err)
            });
            Reporter { acks: tx, task }
        });
        for ack in acks {
            // The receiver lives until `finish` drops the sender, so this cannot fail.
            let _ = reporter.acks.send(ack);
        }
    }

    /// Append, wait for the sync, then report.
    pub async fn now(&self, kind: Kind, data: Value) -> Result<Event, JournalError> {
        let event = self.queue(kind, data).await.await?;
        let _ = self.progress.send(Progress::Journalled(event.clone()));
        Ok(event)
    }

    /// Append an incident-level event (no step), wait for the sync, then report.
    pub async fn now_incident(&self, kind: Kind, data: Value) -> Result<Event, JournalError> {
        let event = self.journal.append(NewEvent::new(kind, data)).await?;
        let _ = self.progress.send(Progress::Journalled(event.clone()));
        Ok(event)
    }

    /// Record that the step starts; `step.started` is queued right before the first request
    /// event (or the outcome, if no request is sent), so both usually share one sync.
    pub async fn start(&self, data: Value) {
        *self.started.lock().await = Started::Ready(data);
    }

    /// Queue `step.started` now if it is only decided, then queue `then` (if any) right
    /// behind it.
    async fn queue_after_start(&self, then: Option<(Kind, Value)>) -> Option<Ack> {
        let mut started = self.started.lock().await;
        if let Started::Ready(data) = std::mem::replace(&mut *started, Started::NotQueued) {
            *started = Started::Queued(self.queue(Kind::StepStarted, data).await);
        }
        match then {
            Some((kind, data)) => Some(self.queue(kind, data).await),
            None => None,
        }
    }

    /// Wait until `step.started` is durable (once; concurrent callers wait on the lock).
    async fn started_durable(&self) -> Result<(), JournalError> {
        let mut started = self.started.lock().await;
        match std::mem::replace(&mut *started, Started::Durable) {
            Started::Queued(ack) => match ack.await {
                Ok(event) => {
                    let _ = self.progress.send(Progress::Journalled(event));
                    Ok(())
                }
                Err(err) => {
                    *started = Started::Failed(err.to_string());
                    Err(err)
                }
            },
            Started::Failed(reason) => {
                *started = Started::Failed(reason.clone());
                Err(JournalError::Io {
                    path: self.journal.dir().to_path_buf(),
                    source: std::io::Error::other(reason),
                })
            }
            Started::NotQueued | Started::Durable | Started::Ready(_) => Ok(()),
        }
    }

    /// Report something that is not an event (attempts, item counts).
    pub fn progress(&self, progress: Progress) {
        let _ = self.progress.send(progress);
    }

    /// Queue an exchange's `http.request`, then make sure `step.started` is durable: only then
    /// may the request leave. The request event itself is synced in the background.
    pub async fn request(&self, data: Value) -> Result<ExchangeLog, JournalError> {
        let ack = self
            .queue_after_start(Some((Kind::HttpRequest, data)))
            .await;
        self.started_durable().await?;
        // Reported after step.started, so watchers see the events in journal order.
        self.report_later(ack.into_iter().collect());
        Ok(ExchangeLog(()))
    }

    /// Queue the exchange's response (and any evidence record) after its request.
    pub async fn response(&self, log: ExchangeLog, events: Vec<(Kind, Value)>) {
        let ExchangeLog(()) = log;
        let mut acks = Vec::with_capacity(events.len());
        for (kind, data) in events {
            acks.push(self.queue(kind, data).await);
        }
        self.report_later(acks);
    }

    /// Queue the step's closing events (mark, outcome) after everything else, then wait until
    /// every event of the step is durable. Returns the closing events; the first error wins.
    pub async fn finish(&self, events: Vec<(Kind, Value)>) -> Result<Vec<Event>, JournalError> {
        self.queue_after_start(None).await;
        let mut acks = Vec::with_capacity(events.len());
        for (kind, data) in events {
            acks.push(self.queue(kind, data).await);
        }
        let mut first_err = self.started_durable().await.err();
        // Dropping the sender ends the reporter once it has reported everything queued.
        let reporter = self.reporter.lock().ok().and_then(|mut r| r.take());
        if let Some(Reporter { acks: queue, task }) = reporter {
            drop(queue);
            let result = task.await.map_err(|_| JournalError::Closed).and_then(|r| r);
            if let Err(err) = result {
                first_err.get_or_insert(err);
            }
        }
        let mut done = Vec::with_capacity(acks.len());
        for ack in acks {
            match ack.await {
                Ok(event) => done.push(event),
                Err(err) => {
                    first_err.get_or_insert(err);
                }
            }
        }
        if let Some(err) = first_err {
            return Err(err);
        }
        // Reported after the exchange events they close.
        for event in &done {
            let _ = self.progress.send(Progress::Journalled(event.clone()));
        }
        Ok(done)
    }
}
