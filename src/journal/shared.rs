//! The seam for a journal kept somewhere else: team mode's shared chain in PostgreSQL.
//!
//! [`Journal`](super::Journal) has two backends behind one handle: the local file (default;
//! `writer`) and a [`SharedChain`]. Everything above the journal (engine, recorder, draft,
//! mask, TUI, headless runner) writes through the same `Journal` methods and cannot tell them
//! apart, except by [`Journal::shared_login`](super::Journal::shared_login) where team rules
//! (claims) apply. The journal's contract holds for both: an event is reported only once it is
//! durable. A shared chain orders events on the server, so an event is not final (seq, prev,
//! hash) before the server committed it: for this backend `enqueue` waits for the commit (and
//! for the local mirror to hold it), and `durable` has nothing left to wait for.
//!
//! [`Journal::submit`](super::Journal::submit) is the pipelined way in: the event takes its
//! place among this responder's events at once and a [`Ticket`] answers once it is durable, so
//! a caller with many events in flight (a foreach) shares one commit among them instead of
//! paying a round trip each. Events handed over one after another (by `submit` or `enqueue`)
//! reach the chain in that order.
//!
//! Offline, `enqueue` returns an event that is durable on a local pending sub-chain instead
//! ([`SharedChain::is_pending`] says so): its seq and hash are provisional until the merge
//! puts a copy on the shared chain. Consumers fold such events only through
//! [`crate::incident::Overlay`] (the headless runner and the TUI do), never as shared ones.
//!
//! This module knows nothing of PostgreSQL: `team::session` implements the trait. Redaction
//! happens in `Journal` before the event is handed over, as for the file, so no secret reaches
//! the implementation.

use std::path::Path;
use std::sync::Arc;

use tokio::sync::oneshot;

use super::{Event, JournalError, NewEvent};

/// A journal kept elsewhere and mirrored locally.
pub trait SharedChain: Send + Sync + 'static {
    /// Append one (redacted) event as [`SharedChain::login`]; return it as stored, only once
    /// it is durable on the server and written to the local mirror. Blocks the calling thread.
    fn append(&self, new: NewEvent) -> Result<Event, JournalError>;
    /// Hand one (redacted) event over without waiting: it takes its place after every event
    /// handed over before it (by this method or [`SharedChain::append`]) and the [`Ticket`]
    /// answers as `append` would, once it is durable. Never blocks.
    fn submit(&self, new: NewEvent) -> Ticket {
        Ticket::answered(self.append(new))
    }
    /// The login every event is recorded as (the actor).
    fn login(&self) -> &str;
    /// The local mirror's directory (the incident directory: evidence and drafts go there).
    fn dir(&self) -> &Path;
    /// The live feed of what reaches the mirror ([`News`]); the first caller gets it, later
    /// ones `None`.
    fn take_news(&self) -> Option<tokio::sync::mpsc::UnboundedReceiver<News>>;
    /// Whether `event`, as [`SharedChain::append`] returned it, is only on a local pending
    /// sub-chain (the link was down): its seq and hash are provisional, the shared chain will
    /// carry it later under another seq (see [`crate::incident::Overlay`]). Never folded as a
    /// shared event.
    fn is_pending(&self, event: &Event) -> bool {
        let _ = event;
        false
    }
    /// How many transactions have committed this responder's events so far, if the chain
    /// counts them (group commit: many events share one).
    fn commits(&self) -> Option<u64> {
        None
    }
    /// How many own events wait on the pending sub-chain for the merge (0 when online).
    fn pending_count(&self) -> usize {
        0
    }
    /// Own events that were on the pending sub-chain when this chain was opened (left by an
    /// earlier run that ended offline), in order: fold them with
    /// [`Overlay::resume`](crate::incident::Overlay::resume).
    fn pending_at_open(&self) -> Vec<Event> {
        Vec::new()
    }
}

/// The answer to [`SharedChain::submit`], in two steps: [`Ticket::recorded`] once the event
/// is durable where it is recorded (committed on the server, or on the pending sub-chain),
/// which is what the write-ahead rule needs; [`Ticket::wait`] for the event as stored, once
/// the local mirror holds it too (what may be reported), or why it was not recorded.
pub struct Ticket {
    recorded: Option<oneshot::Receiver<()>>,
    answer: Option<oneshot::Receiver<Result<Event, JournalError>>>,
    /// The answer, when [`Ticket::recorded`] had to read it.
    early: Option<Result<Event, JournalError>>,
}

/// The implementation's end of a [`Ticket`].
pub struct Answer {
    recorded: Option<oneshot::Sender<()>>,
    answer: oneshot::Sender<Result<Event, JournalError>>,
}

impl Answer {
    /// The event is durable where it is recorded (the mirror may not hold it yet).
    pub fn recorded(&mut self) {
        if let Some(tx) = self.recorded.take() {
            // A ticket nobody holds any more: the event is recorded all the same.
            let _ = tx.send(());
        }
    }

    /// The event as stored (in the mirror too), or why it was not recorded.
    pub fn send(self, result: Result<Event, JournalError>) {
        // Recorded or not, the answer says it.
        drop(self.recorded);
        let _ = self.answer.send(result);
    }
}

impl Ticket {
    /// A ticket and the end that answers it.
    pub fn channel() -> (Answer, Self) {
        let (recorded_tx, recorded_rx) = oneshot::channel();
        let (answer_tx, answer_rx) = oneshot::channel();
        let answer = Answer {
            recorded: Some(recorded_tx),
            answer: answer_tx,
        };
        let ticket = Self {
            recorded: Some(recorded_rx),
            answer: Some(answer_rx),
            early: None,
        };
        (answer, ticket)
    }

    /// A ticket answered already.
    pub fn answered(result: Result<Event, JournalError>) -> Self {
        Self {
            recorded: None,
            answer: None,
            early: Some(result),
        }
    }

    /// Wait until the event is durable where it is recorded (see the type's doc), or for
    /// why it was not.
    pub async fn recorded(&mut self) -> Result<(), JournalError> {
        if let Some(recorded) = self.recorded.take()
            && recorded.await.is_ok()
        {
            return Ok(());
        }
        // No word before the answer: the answer says.
        if let Some(answer) = self.answer.take() {
            self.early = Some(
                answer
                    .await
                    .map_err(|_| JournalError::Closed)
                    .and_then(|r| r),
            );
        }
        match &self.early {
            Some(Ok(_)) => Ok(()),
            Some(Err(JournalError::Shared(error))) => Err(JournalError::Shared(Arc::clone(error))),
            Some(Err(error)) => Err(JournalError::Shared(Arc::new(std::io::Error::other(
                error.to_string(),
            )))),
            None => Err(JournalError::Closed),
        }
    }

    /// Wait for the answer (the chain went away without one: [`JournalError::Closed`]).
    pub async fn wait(self) -> Result<Event, JournalError> {
        if let Some(early) = self.early {
            return early;
        }
        match self.answer {
            Some(answer) => answer.await.map_err(|_| JournalError::Closed)?,
            None => Err(JournalError::Closed),
        }
    }
}

/// Run blocking work from wherever the caller is: on a multi-threaded runtime's worker, tell
/// the runtime (other tasks move to another worker meanwhile); anywhere else, just run it.
/// (A current-thread runtime has no other worker: the work must not wait on that runtime,
/// which is why a shared chain runs on its own.)
pub fn off_the_executor<T>(f: impl FnOnce() -> T) -> T {
    use tokio::runtime::{Handle, RuntimeFlavor};
    match Handle::try_current() {
        Ok(handle) if handle.runtime_flavor() == RuntimeFlavor::MultiThread => {
            tokio::task::block_in_place(f)
        }
        _ => f(),
    }
}

/// What a shared chain tells its consumer (the TUI, the headless runner) as it happens.
#[derive(Debug, Clone)]
pub enum News {
    /// Events newly in the local mirror, in seq order: teammates' and this responder's own
    /// (each exactly once; fold those above the last seq folded).
    Events(Vec<Event>),
    /// The link is up and the mirror caught up with the server through this seq.
    CaughtUp(u64),
    /// The link is down (why); the session reconnects by itself.
    Disconnected(String),
    /// "Journal rewritten" (or a chain that fails verification): writing has stopped.
    Alarm(String),
    /// The pending sub-chain is on the shared chain (its events arrive as `Events`, each with
    /// `data.offline`): how many, and each conflict as the commander reads it.
    Merged { count: u64, conflicts: Vec<String> },
    /// Pending events could not be merged for a reason other than the link (why).
    MergeFailed(String),
    /// Own events now waiting on the pending sub-chain for the merge (0 once merged).
    Pending(usize),
}
