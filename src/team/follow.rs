//! Following a shared chain live: teammates' events reach this terminal as they commit.
//!
//! ```text
//! connect ─▶ LISTEN stanch ─▶ catch up (mirror::sync) ─▶ wait for ─┬─ NOTIFY '<this id>' ─▶ catch up
//!    ▲                                                             ├─ the poll interval   ─▶ catch up
//!    └──────────── connection lost: Update::Disconnected, retry ◀──┘
//! ```
//!
//! Listen first, then catch up: an event committed between the two is then either in the
//! catch-up or announced after it, never lost (and applying is idempotent by seq). Nothing is
//! stored for a disconnected listener, so every reconnect catches up from the last verified
//! seq; the poll is a backstop for a lost notification. tokio-postgres's `Connection` future
//! drops notifications, so the connection is driven here with `poll_message` and every
//! notification for this incident is forwarded into a channel (coalesced: one pending wake-up
//! is enough, the catch-up reads everything). A rewritten chain ends the follower with
//! [`Update::Rewritten`]: it is an alarm for a human, not something to retry.
//!
//! [`Follower::spawn`] owns its mirror; [`Follower::spawn_shared`] shares one with a writer
//! (`team::session`, which catches the same mirror up after its own appends): each catch-up
//! holds the mirror's lock, so every event is written and announced exactly once, by
//! whichever of the two fetched it first.

use std::sync::Arc;
use std::time::Duration;

use futures_util::future::poll_fn;
use tokio::sync::{Mutex, mpsc};
use tokio::task::JoinHandle;
use tokio_postgres::AsyncMessage;

use super::chain::Chain;
use super::mirror::{self, Mirror};
use super::{Target, TeamError};
use crate::journal::Event;

/// What the follower tells its owner.
#[derive(Debug)]
pub enum Update {
    /// Newly verified events, in seq order, already in the mirror.
    Events(Vec<Event>),
    /// Caught up with the server through this seq (after connecting and after each wake-up).
    CaughtUp(u64),
    /// The link is down; the follower reconnects by itself.
    Disconnected(TeamError),
    /// The server's chain no longer holds what was verified here: the "journal rewritten"
    /// alarm (or a chain that fails verification). The follower has stopped.
    Rewritten(TeamError),
}

/// A running follower; dropping it stops it.
pub struct Follower {
    pub updates_rx: mpsc::Receiver<Update>,
    task: JoinHandle<()>,
}

impl Drop for Follower {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How the follower paces itself.
#[derive(Debug, Clone, Copy)]
pub struct Pace {
    /// The backstop poll.
    pub poll: Duration,
    /// Wait before reconnecting after the link drops.
    pub reconnect: Duration,
}

impl Default for Pace {
    fn default() -> Self {
        Self {
            poll: Duration::from_secs(15),
            reconnect: Duration::from_secs(1),
        }
    }
}

impl Follower {
    /// Follow `incident` into `mirror` until dropped (or until the chain is found rewritten).
    pub fn spawn(target: Target, incident: String, mirror: Mirror, pace: Pace) -> Self {
        let (updates_tx, updates_rx) = mpsc::channel(256);
        let mirror = Arc::new(Mutex::new(mirror));
        let task = tokio::spawn(run(
            target,
            incident,
            mirror,
            pace,
            Sink::Bounded(updates_tx),
        ));
        Self { updates_rx, task }
    }

    /// Follow `incident` into a mirror shared with a writer, announcing on `updates_tx`
    /// (unbounded: a writer catching up must never wait for the reader). Stops when the
    /// returned handle drops or the receiver closes.
    pub fn spawn_shared(
        target: Target,
        incident: String,
        mirror: Arc<Mutex<Mirror>>,
        pace: Pace,
        updates_tx: mpsc::UnboundedSender<Update>,
    ) -> Following {
        Following(tokio::spawn(run(
            target,
            incident,
            mirror,
            pace,
            Sink::Unbounded(updates_tx),
        )))
    }
}

/// A follower started with [`Follower::spawn_shared`]; dropping it stops it.
pub struct Following(JoinHandle<()>);

impl Drop for Following {
    fn drop(&mut self) {
        self.0.abort();
    }
}

/// Where updates go.
enum Sink {
    Bounded(mpsc::Sender<Update>),
    Unbounded(mpsc::UnboundedSender<Update>),
}

impl Sink {
    /// `false` when nobody listens any more.
    async fn send(&self, update: Update) -> bool {
        match self {
            Sink::Bounded(tx) => tx.send(update).await.is_ok(),
            Sink::Unbounded(tx) => tx.send(update).is_ok(),
        }
    }

    async fn closed(&self) {
        match self {
            Sink::Bounded(tx) => tx.closed().await,
            Sink::Unbounded(tx) => tx.closed().await,
        }
    }
}

async fn run(
    target: Target,
    incident: String,
    mirror: Arc<Mutex<Mirror>>,
    pace: Pace,
    updates_tx: Sink,
) {
    loop {
        let error = match follow_once(&target, &incident, &mirror, pace, &updates_tx).await {
            Ok(()) => return, // the owner is gone
            Err(e) => e,
        };
        let update = if matches!(
            error,
            TeamError::Rewritten { .. } | TeamError::Chain { .. } | TeamError::MirrorBroken { .. }
        ) {
            Update::Rewritten(error)
        } else {
            Update::Disconnected(error)
        };
        let stop = matches!(update, Update::Rewritten(_));
        if !updates_tx.send(update).await || stop {
            return;
        }
        tokio::time::sleep(pace.reconnect).await;
    }
}

/// One connection's life: `Ok` when the owner went away, `Err` when the link or chain failed.
async fn follow_once(
    target: &Target,
    incident: &str,
    mirror: &Mutex<Mirror>,
    pace: Pace,
    updates_tx: &Sink,
) -> Result<(), TeamError> {
    let (client, mut connection) = target.connect_raw().await?;
    let (wake_tx, mut wake_rx) = mpsc::channel::<()>(1);
    let wanted = incident.to_owned();
    let driver = tokio::spawn(async move {
        while let Some(message) = poll_fn(|cx| connection.poll_message(cx)).await {
            match message {
                Ok(AsyncMessage::Notification(n)) if n.payload() == wanted => {
                    // Full means a wake-up is already pending: the catch-up will read this too.
                    let _ = wake_tx.try_send(());
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!("team LISTEN connection: {}", super::describe(&e));
                    break;
                }
            }
        }
        // Dropping `wake_tx` tells the follower the link is gone.
    });
    let _driver = AbortOnDrop(driver);
    client
        .batch_execute("LISTEN stanch")
        .await
        .map_err(TeamError::db("LISTEN stanch"))?;
    let chain = Chain::with_client(client, incident).await?;
    loop {
        let mut batches = Vec::new();
        let last = {
            let mut mirror = mirror.lock().await;
            // Announced under the lock: a writer sharing the mirror announces its own
            // catch-ups under it too, so updates arrive in seq order.
            let synced =
                mirror::sync(&chain, &mut mirror, |events| batches.push(events.to_vec())).await;
            for events in batches {
                if !updates_tx.send(Update::Events(events)).await {
                    return Ok(());
                }
            }
            synced?;
            mirror.last().0
        };
        if !updates_tx.send(Update::CaughtUp(last)).await {
            return Ok(());
        }
        tokio::select! {
            biased;
            () = updates_tx.closed() => return Ok(()),
            woke = wake_rx.recv() => if woke.is_none() { return Err(TeamError::ListenClosed) },
            () = tokio::time::sleep(pace.poll) => {}
        }
    }
}

struct AbortOnDrop(JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
