//! Journalling for one step run. Events are *queued* in the order the engine decides them
//! (each is final at once: seq, time, hash) and become *durable* in the background, so syncs
//! overlap with the network. Nothing is reported before it is durable.
//!
//! ```text
//!  start(step.started) ─ kept until the first request ─┐
//!  request(http.request) ─ queue both ─┬─ changes something? wait for the sync ─▶ send
//!                                      └─ a read?           send now (sync overlaps)
//!  response(http.response, evidence.captured) ─ queue
//!  finish(mark, step.succeeded|failed) ─ queue ─▶ outcome decided (the caller may go on)
//!  settle() ─ wait until the step's last event is durable, every event reported ─▶ done
//! ```
//!
//! The first request gives `step.started` the attempt's request shape (method, URL, headers);
//! every `http.request` is then written with only what differs from it, and a response with an
//! empty body without that body's well-known digest (`journal::payload::exchange`): a foreach
//! of a million items repeats none of it.
//!
//! # The write-ahead rule, and why reads are exempt
//!
//! A request that can change something (any method but GET, HEAD or OPTIONS, or any request of
//! a step with `confirm`) leaves only once its `step.started` and `http.request` are synced:
//! after a crash the journal then always shows that it may have been sent, and the step is
//! reported interrupted, never re-sent blindly. A read leaves as soon as its events are
//! queued, and the sync runs while it is on the wire. The journal is written in seq order and
//! every sync covers all that came before, so what a crash can lose is only a tail of
//! not-yet-synced events. By the rule above, that tail never holds the start of a write: it
//! holds reads (which change nothing and run again on resume) and perhaps the outcome of a
//! write whose start is durable (that step comes back *interrupted*: checked by a person, never
//! re-sent). A step that sent a write asks for its outcome to be synced at once rather than
//! after the writer's linger, so that window is one sync long. A sync costs 0.15–0.2 ms here,
//! more than a loopback request: making reads wait would put it between every two requests.
//!
//! Reporting is on the progress channel, by one reporter task per step that waits on the
//! journal's durable watermark: one wake-up per sync reports a whole group commit. Nobody
//! listening (a closed channel) means no reporter at all. This module decides nothing about
//! what to journal; the engine does.
//!
//! # Exchanges on a shared chain (team mode)
//!
//! A shared chain's event is final only once the server committed it, so `enqueue` waits for
//! that. Exchanges (`http.request`, `http.response`) are *submitted* instead
//! ([`Journal::submit`]): handed over in order without waiting, so a foreach's items keep many
//! in flight and share commits. The reporter (then started whoever listens) waits for each in
//! queue order until the local mirror holds it; a request that needs write-ahead leaves once
//! its event is committed on the server (`InFlight::recorded`), without waiting for the
//! mirror; [`Recorder::flush`] waits for all of them before the outcome is queued, so a
//! refused exchange fails the step as any journal error does. Every other event (the claim,
//! `step.started`, evidence, the outcome) is enqueued as before: nothing is sent before the
//! step's `step.started` is on the server.

use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

use super::Progress;
use crate::journal::payload::{HttpRequest, RequestShape, StepStarted};
use crate::journal::{Event, Journal, JournalError, Kind, NewEvent, Payload, Queued};

/// Whether a request must wait for its journal entry to be durable before it is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteAhead {
    /// It can change something: synced first.
    Required,
    /// A safe read of a step that needs no confirmation: the sync overlaps with the request.
    Overlapped,
}

impl WriteAhead {
    pub fn for_request(method: &reqwest::Method, destructive: bool) -> Self {
        use reqwest::Method;
        let safe = [Method::GET, Method::HEAD, Method::OPTIONS].contains(method);
        if safe && !destructive {
            WriteAhead::Overlapped
        } else {
            WriteAhead::Required
        }
    }
}

pub struct Recorder {
    journal: Journal,
    progress: UnboundedSender<Progress>,
    step: String,
    /// `step.started`, decided but not queued yet: it goes in right before the first request
    /// (or the outcome), so one group commit usually covers both.
    start: Mutex<Option<StepStarted>>,
    /// What this attempt's `step.started` recorded as its requests' shape: each request is
    /// written with only what differs from it (`journal::payload::exchange`).
    shape: Mutex<Option<RequestShape>>,
    /// This step's events other than exchanges, in queue order: what a caller applies at once.
    kept: Mutex<Vec<Event>>,
    /// seq of the last event this step queued.
    last_seq: AtomicU64,
    /// A request of this step needed write-ahead: its outcome is synced promptly.
    wrote: AtomicBool,
    /// An exchange went to a shared chain without waiting: [`Recorder::flush`] waits for it.
    in_flight: AtomicBool,
    /// The first journal error, as text; every later event is refused anyway (see
    /// `journal::writer`), and `finish` reports it.
    error: Mutex<Option<String>>,
    reporter: Mutex<Option<Reporter>>,
}

struct Reporter {
    events: UnboundedSender<Queued>,
    /// The last seq reported, or the first journal error (the rest were still reported).
    task: JoinHandle<Result<u64, JournalError>>,
}

/// An exchange handed over: final (its seq), or in flight to a shared chain.
enum Submitted {
    Final(u64),
    InFlight(crate::journal::InFlight),
}

/// Proof that an exchange's `http.request` is queued; needed to record its response.
pub struct ExchangeLog(());

/// The end of a step's journalling: wait for it with [`Settle::wait`].
pub struct Settle {
    journal: Journal,
    through: u64,
    reporter: Option<Reporter>,
}

impl Settle {
    /// Every event of the step durable (through its last seq) and reported.
    pub async fn wait(self) -> Result<(), JournalError> {
        let durable = self.journal.durable(self.through).await.map(drop);
        let Some(reporter) = self.reporter else {
            return durable;
        };
        durable.and(reporter.finish().await.map(drop))
    }

    /// The last seq the step queued (0 if none).
    pub fn through(&self) -> u64 {
        self.through
    }
}

impl Reporter {
    /// Wait until everything handed to it is reported; the last seq, or the first error.
    async fn finish(self) -> Result<u64, JournalError> {
        // Dropping the sender ends the reporter once it has reported everything queued.
        drop(self.events);
        self.task.await.map_err(|_| JournalError::Closed)?
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl Recorder {
    pub fn new(journal: Journal, progress: UnboundedSender<Progress>, step: &str) -> Self {
        Self {
            journal,
            progress,
            step: step.to_owned(),
            start: Mutex::new(None),
            shape: Mutex::new(None),
            kept: Mutex::new(Vec::new()),
            last_seq: AtomicU64::new(0),
            wrote: AtomicBool::new(false),
            in_flight: AtomicBool::new(false),
            error: Mutex::new(None),
            reporter: Mutex::new(None),
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

    /// Queue an event now (final, not yet durable); hand it to the reporter.
    fn queue(&self, new: NewEvent) -> Result<Event, JournalError> {
        let event = self.journal.enqueue(new).inspect_err(|err| {
            lock(&self.error).get_or_insert_with(|| err.to_string());
        })?;
        self.last_seq.fetch_max(event.seq, Ordering::Relaxed);
        if !matches!(event.kind, Kind::HttpRequest | Kind::HttpResponse) {
            lock(&self.kept).push(event.clone());
        }
        self.report(Queued::Final(event.clone()));
        Ok(event)
    }

    /// Hand an exchange over ([`Journal::submit`]; never kept): a final one is queued and
    /// reported as any event ([`Submitted::Final`]); one in flight (a shared chain, see the
    /// module doc) is for the caller to hand to the reporter.
    fn submit_exchange(&self, payload: impl Into<Payload>) -> Result<Submitted, JournalError> {
        let new = NewEvent::step(self.step.clone(), payload);
        let queued = self.journal.submit(new).inspect_err(|err| {
            lock(&self.error).get_or_insert_with(|| err.to_string());
        })?;
        Ok(match queued {
            Queued::Final(event) => {
                let seq = event.seq;
                self.last_seq.fetch_max(seq, Ordering::Relaxed);
                self.report(Queued::Final(event));
                Submitted::Final(seq)
            }
            Queued::InFlight(in_flight) => {
                self.in_flight.store(true, Ordering::Relaxed);
                Submitted::InFlight(in_flight)
            }
        })
    }

    fn queue_step(&self, payload: impl Into<Payload>) -> Result<Event, JournalError> {
        self.queue(NewEvent::step(self.step.clone(), payload))
    }

    /// Hand an event to this step's reporter, which sends it once it is durable. A final
    /// event nobody listens for needs no reporter; one in flight always goes to it (its
    /// answer is awaited there).
    fn report(&self, queued: Queued) {
        if self.progress.is_closed() && matches!(queued, Queued::Final(_)) {
            return;
        }
        let mut reporter = lock(&self.reporter);
        let reporter = reporter.get_or_insert_with(|| {
            let (tx, rx) = tokio::sync::mpsc::unbounded_channel::<Queued>();
            let task = tokio::spawn(report_in_order(
                self.journal.clone(),
                self.progress.clone(),
                rx,
            ));
            Reporter { events: tx, task }
        });
        // The receiver lives until the sender is dropped (`Settle::wait`, `flush`).
        let _ = reporter.events.send(queued);
    }

    /// On a shared chain, wait until every exchange handed over so far is durable (and
    /// reported), before the step's outcome is queued, so an exchange the server refused
    /// fails the step (that error). Nothing to wait for on a file journal: there the outcome
    /// is queued behind the exchanges and `settle` waits for all.
    pub async fn flush(&self) -> Result<(), JournalError> {
        if !self.in_flight.swap(false, Ordering::Relaxed) {
            return Ok(());
        }
        let reporter = lock(&self.reporter).take();
        let Some(reporter) = reporter else {
            return Ok(());
        };
        let seq = reporter.finish().await.inspect_err(|err| {
            lock(&self.error).get_or_insert_with(|| err.to_string());
        })?;
        self.last_seq.fetch_max(seq, Ordering::Relaxed);
        Ok(())
    }

    /// Append, wait for the sync, return the event (reported in order by the reporter).
    pub async fn now(&self, payload: impl Into<Payload>) -> Result<Event, JournalError> {
        let event = self.queue_step(payload)?;
        self.journal.durable(event.seq).await?;
        Ok(event)
    }

    /// Append an incident-level event (no step), wait for the sync.
    pub async fn now_incident(&self, payload: impl Into<Payload>) -> Result<Event, JournalError> {
        let event = self.queue(NewEvent::incident(payload))?;
        self.journal.durable(event.seq).await?;
        Ok(event)
    }

    /// Record that the step starts; `step.started` is queued right before the first request
    /// event (or the outcome, if no request is sent).
    pub fn start(&self, started: StepStarted) {
        *lock(&self.start) = Some(started);
        *lock(&self.shape) = None;
    }

    /// Queue `step.started` if it is still waiting, with `first`'s method, URL and headers as
    /// the shape of the attempt's requests.
    fn queue_start(&self, first: Option<&HttpRequest>) -> Result<(), JournalError> {
        // Taken and queued under the lock, so concurrent items queue it exactly once and
        // before any of their requests.
        let mut start = lock(&self.start);
        if let Some(mut started) = start.take() {
            if let Some(first) = first {
                let shape = first.shape();
                started.request = Some(shape.clone());
                *lock(&self.shape) = Some(shape);
            }
            self.queue_step(started)?;
        }
        Ok(())
    }

    /// Report something that is not an event (attempts, item counts).
    pub fn progress(&self, progress: Progress) {
        let _ = self.progress.send(progress);
    }

    /// Queue an exchange's `http.request` (after `step.started`); with
    /// [`WriteAhead::Required`], return only once both are durable: only then may it leave.
    pub async fn request(
        &self,
        request: HttpRequest,
        write_ahead: WriteAhead,
    ) -> Result<ExchangeLog, JournalError> {
        self.queue_start(Some(&request))?;
        let request = match &*lock(&self.shape) {
            Some(shape) => request.lean(shape),
            None => request,
        };
        let submitted = self.submit_exchange(request)?;
        match (write_ahead, submitted) {
            (WriteAhead::Required, Submitted::Final(seq)) => {
                self.wrote.store(true, Ordering::Relaxed);
                self.journal.durable(seq).await?;
            }
            (WriteAhead::Required, Submitted::InFlight(mut in_flight)) => {
                self.wrote.store(true, Ordering::Relaxed);
                // On the server is enough to send; it is reported once the mirror has it.
                let recorded = in_flight.recorded().await;
                self.report(Queued::InFlight(in_flight));
                recorded?;
            }
            (WriteAhead::Overlapped, Submitted::InFlight(in_flight)) => {
                self.report(Queued::InFlight(in_flight));
            }
            (WriteAhead::Overlapped, Submitted::Final(_)) => {}
        }
        Ok(ExchangeLog(()))
    }

    /// Queue the exchange's response (and any evidence record) after its request. A journal
    /// failure here is kept and returned by [`Recorder::finish`].
    #[allow(clippy::needless_pass_by_value)] // consumed on purpose: one response per request
    pub fn response(&self, log: ExchangeLog, events: Vec<Payload>) {
        let ExchangeLog(()) = log;
        for payload in events {
            let queued = match payload {
                Payload::HttpResponse(response) => self
                    .submit_exchange(Payload::HttpResponse(response.lean()))
                    .map(|submitted| {
                        if let Submitted::InFlight(in_flight) = submitted {
                            self.report(Queued::InFlight(in_flight));
                        }
                    }),
                other => self.queue_step(other).map(drop),
            };
            if queued.is_err() {
                break;
            }
        }
    }

    /// Queue the step's closing events (mark, outcome) after everything else and return them.
    /// They are final but not yet durable: [`Recorder::settle`] waits for that. The first
    /// journal error of the step wins.
    pub fn finish(&self, events: Vec<Payload>) -> Result<Vec<Event>, JournalError> {
        if let Some(reason) = lock(&self.error).clone() {
            return Err(JournalError::WriteFailed {
                path: self
                    .journal
                    .dir()
                    .join(crate::journal::writer::JOURNAL_FILE),
                reason,
            });
        }
        self.queue_start(None)?;
        let closing = events
            .into_iter()
            .map(|payload| self.queue_step(payload))
            .collect();
        if self.wrote.load(Ordering::Relaxed) {
            self.journal.sync_soon();
        }
        closing
    }

    /// This step's events other than exchanges, in seq order.
    pub fn kept(&self) -> Vec<Event> {
        let mut kept = std::mem::take(&mut *lock(&self.kept));
        kept.sort_by_key(|e| e.seq);
        kept
    }

    /// Stop recording; the handle waits until everything is durable and reported.
    pub fn settle(&self) -> Settle {
        Settle {
            journal: self.journal.clone(),
            through: self.last_seq.load(Ordering::Relaxed),
            reporter: lock(&self.reporter).take(),
        }
    }
}

/// The reporter of one step: each event in queue order once durable (a final one by the
/// watermark, one in flight by its answer), then on `progress` (nobody listening is fine).
/// A refused event is not reported; the rest are, and the first error is the result.
async fn report_in_order(
    journal: Journal,
    progress: UnboundedSender<Progress>,
    mut rx: tokio::sync::mpsc::UnboundedReceiver<Queued>,
) -> Result<u64, JournalError> {
    let mut durable = 0;
    let mut last = 0;
    let mut failed = None;
    while let Some(queued) = rx.recv().await {
        let event = match queued {
            Queued::Final(event) if event.seq <= durable => Ok(event),
            Queued::Final(event) => journal.durable(event.seq).await.map(|through| {
                durable = through;
                event
            }),
            Queued::InFlight(in_flight) => in_flight.durable().await,
        };
        match event {
            Ok(event) => {
                last = last.max(event.seq);
                // A closed receiver means nobody is watching; the journal is what counts.
                let _ = progress.send(Progress::Journalled(event));
            }
            Err(err) => {
                failed.get_or_insert(err);
            }
        }
    }
    failed.map_or(Ok(last), Err)
}

#[cfg(test)]
mod tests {
    use super::*;
    use reqwest::Method;

    #[test]
    fn only_reads_of_steps_without_confirmation_skip_the_write_ahead_wait() {
        for method in [Method::GET, Method::HEAD, Method::OPTIONS] {
            assert_eq!(
                WriteAhead::for_request(&method, false),
                WriteAhead::Overlapped
            );
            assert_eq!(
                WriteAhead::for_request(&method, true),
                WriteAhead::Required,
                "{method} of a destructive step"
            );
        }
        for method in [
            Method::POST,
            Method::PUT,
            Method::PATCH,
            Method::DELETE,
            Method::TRACE,
            Method::from_bytes(b"PURGE").unwrap(),
        ] {
            assert_eq!(
                WriteAhead::for_request(&method, false),
                WriteAhead::Required,
                "{method}"
            );
        }
    }
}
