//! Group commit for one responder: [`Appender`] queues events from any number of tasks and a
//! single writer task appends whatever has queued as ONE transaction ([`Chain::append`]),
//! then answers every caller.
//!
//! ```text
//! append(e) ──▶ queue ──▶ writer: take everything queued (≤ MAX_BATCH) ──▶ Chain::append
//!   ◀── Event (durable on the server) ◀──────── one answer per event ◀──────┘
//! ```
//!
//! Why: a durable commit costs one WAL flush, and the incident's append lock is held through
//! it, so one chain takes at most one transaction per flush whatever the number of responders
//! (about 170/s on a disk that does 170 fdatasync/s). Events that queue while a transaction is
//! in flight share the next one, as the file journal's writer shares one `sync_data`. Order is
//! queue order; an event is answered only after its transaction committed; a failed
//! transaction fails every event in it (none of them was acknowledged, so none is lost),
//! except that a batch the server refused (one event broke a rule, say a claim that lost a
//! race) is tried again event by event, so only the event refused on its own account fails.
//! When the connection is lost the writer drops it and connects again for the next batch
//! (once per batch, no waiting of its own: a batch that cannot connect fails at once and the
//! caller decides when to try again).

use std::sync::Arc;

use tokio::sync::{mpsc, oneshot};

use super::Target;
use super::TeamError;
use super::chain::Chain;
use crate::journal::{Event, NewEvent};
use crate::secret::Redactor;

/// Most events in one transaction (bounds the statement's size).
const MAX_BATCH: usize = 1_000;

type Reply = oneshot::Sender<Result<Event, Arc<TeamError>>>;

/// A cloneable handle to one responder's writer task; the task ends with the last handle.
#[derive(Clone)]
pub struct Appender {
    queue_tx: mpsc::UnboundedSender<(NewEvent, Reply)>,
}

impl Appender {
    /// Start the writer task over `chain` (reconnecting through `target` when its connection
    /// is lost), redacting every event with `redactor`.
    pub fn spawn(chain: Chain, target: Target, redactor: Redactor) -> Self {
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        tokio::spawn(write(chain, target, redactor, queue_rx));
        Self { queue_tx }
    }

    /// Queue an event now; the answer comes once its transaction has committed.
    pub async fn append(&self, new: NewEvent) -> Result<Event, Arc<TeamError>> {
        let (reply_tx, reply_rx) = oneshot::channel();
        self.queue_tx
            .send((new, reply_tx))
            .map_err(|_| Arc::new(TeamError::WriterStopped))?;
        reply_rx
            .await
            .map_err(|_| Arc::new(TeamError::WriterStopped))?
    }
}

async fn write(
    chain: Chain,
    target: Target,
    redactor: Redactor,
    mut queue_rx: mpsc::UnboundedReceiver<(NewEvent, Reply)>,
) {
    let incident = chain.incident().to_owned();
    let mut chain = Some(chain);
    let mut events = Vec::with_capacity(MAX_BATCH);
    let mut replies = Vec::with_capacity(MAX_BATCH);
    while let Some((first, reply)) = queue_rx.recv().await {
        events.push(first);
        replies.push(reply);
        while events.len() < MAX_BATCH {
            match queue_rx.try_recv() {
                Ok((new, reply)) => {
                    events.push(new);
                    replies.push(reply);
                }
                Err(_) => break,
            }
        }
        // A refused event refuses the whole transaction it shares: keep a copy of a batch
        // of several, to try each again on its own.
        let again = (events.len() > 1).then(|| events.clone());
        let result = commit(
            &mut chain,
            &target,
            &incident,
            std::mem::take(&mut events),
            &redactor,
        )
        .await;
        match result {
            Ok(stored) => {
                for (event, reply) in stored.into_iter().zip(replies.drain(..)) {
                    // A caller that stopped waiting still had its event recorded.
                    let _ = reply.send(Ok(event));
                }
            }
            Err(error) if !error.is_link_lost() && again.is_some() => {
                for (new, reply) in again.into_iter().flatten().zip(replies.drain(..)) {
                    let alone = commit(&mut chain, &target, &incident, vec![new], &redactor)
                        .await
                        .and_then(|stored| {
                            stored.into_iter().next().ok_or(TeamError::WriterStopped)
                        });
                    let _ = reply.send(alone.map_err(Arc::new));
                }
            }
            Err(error) => {
                let error = Arc::new(error);
                for reply in replies.drain(..) {
                    let _ = reply.send(Err(Arc::clone(&error)));
                }
            }
        }
    }
}

/// One transaction over the writer's connection, opened again if it was lost.
async fn commit(
    chain: &mut Option<Chain>,
    target: &Target,
    incident: &str,
    batch: Vec<NewEvent>,
    redactor: &Redactor,
) -> Result<Vec<Event>, TeamError> {
    let mut c = match chain.take() {
        Some(c) => c,
        None => Chain::open(target, incident).await?,
    };
    let appended = c.append(batch, redactor).await;
    // A refusal leaves the connection usable; a lost link does not.
    if !matches!(&appended, Err(e) if e.is_link_lost()) {
        *chain = Some(c);
    }
    appended
}
