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
//!
//! Offline ([`Appender::spawn_offline`]): when the link is lost, events go to the pending
//! sub-chain instead ([`super::pending`], durable locally, rooted at the last server event this
//! client knows: the mirror's head at start, then each event this writer committed), and
//! the caller learns which with [`Appended`]. What may go there is the one rule
//! [`offline_rule`](super::pending::offline_rule); the rest is refused with
//! [`TeamError::NeedsLink`]. While anything is pending every event goes there too (order is
//! kept), and the writer tries the merge ([`super::merge`]) before each batch and every
//! `retry` interval; [`LinkNews`] tells the owner when the link went, when a merge finished
//! (its conflicts for the commander) and when one could not (a rewritten chain stops the
//! retries until the next event).
//!
//! For the engine and TUI side: call [`Appender::submit`] with whether this responder holds
//! the event's step (their fold of the claims); `Appended::Shared(e)` is on the server,
//! `Appended::Pending(e)` is local (its seq and hash are the sub-chain's, not the shared
//! chain's: show it as pending; the shared copy arrives through the follower after the merge,
//! with `data.offline` naming this local hash).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::sync::{mpsc, oneshot};

use super::Target;
use super::TeamError;
use super::chain::{Chain, Proposed};
use super::merge::{MERGE_BATCH, Merged, merge};
use super::pending::{Pending, offline_rule};
use crate::journal::shared::off_the_executor;
use crate::journal::{Event, NewEvent};
use crate::secret::Redactor;

/// Most events in one transaction (bounds the statement's size).
const MAX_BATCH: usize = 1_000;

/// Where an event went.
#[derive(Debug, Clone)]
pub enum Appended {
    /// Committed on the shared chain (durable on the server).
    Shared(Event),
    /// The link is down: on the pending sub-chain (durable here), merged on reconnect. Its seq
    /// and hash are local ones.
    Pending(Event),
}

impl Appended {
    pub fn event(&self) -> &Event {
        match self {
            Appended::Shared(e) | Appended::Pending(e) => e,
        }
    }

    pub fn into_event(self) -> Event {
        match self {
            Appended::Shared(e) | Appended::Pending(e) => e,
        }
    }
}

/// What the writer tells its owner about the link (offline writers only).
#[derive(Debug)]
pub enum LinkNews {
    /// The link was lost: events now go to the pending sub-chain.
    Offline(Arc<TeamError>),
    /// The sub-chain is on the shared chain (with its `sync.merged`, conflicts included).
    Merged(Box<Merged>),
    /// A merge failed for a reason other than the link (a rewritten chain is an alarm).
    MergeFailed(Arc<TeamError>),
}

/// What an offline-capable writer starts from.
pub struct OfflineSetup {
    /// The incident's pending sub-chain (may hold events from before a restart).
    pub pending: Pending,
    /// The last server event this client verified: the mirror's head.
    pub verified: (u64, String),
    /// How often to try the merge while something is pending and no event comes.
    pub retry: Duration,
}

type Reply = oneshot::Sender<Result<Answer, Arc<TeamError>>>;

/// Where an event went, with every event its transaction committed (shared ones only): the
/// session writes its own batch to the mirror without reading it back.
struct Answer {
    appended: Appended,
    batch: Option<Arc<[Event]>>,
}

impl Answer {
    fn pending(event: Event) -> Self {
        Self {
            appended: Appended::Pending(event),
            batch: None,
        }
    }
}

struct Job {
    new: NewEvent,
    holds_step: bool,
    reply: Reply,
}

/// A queued event's caller, while the event is being written.
struct Waiting {
    holds_step: bool,
    reply: Reply,
}

/// A cloneable handle to one responder's writer task; the task ends with the last handle.
#[derive(Clone)]
pub struct Appender {
    queue_tx: mpsc::UnboundedSender<Job>,
    /// Transactions that appended this writer's events (how well group commit batches).
    commits: Arc<AtomicU64>,
}

impl Appender {
    /// Start the writer task over `chain` (reconnecting through `target` when its connection
    /// is lost), redacting every event with `redactor`. Without a link, appends fail.
    pub fn spawn(chain: Chain, target: Target, redactor: Redactor) -> Self {
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        let (incident, login) = (chain.incident().to_owned(), chain.login().to_owned());
        let writer = Writer::new(Some(chain), incident, login, target, redactor, None, None);
        let commits = Arc::clone(&writer.commits);
        tokio::spawn(writer.run(queue_rx));
        Self { queue_tx, commits }
    }

    /// Like [`Appender::spawn`], but when the link is lost events go to the pending
    /// sub-chain and are merged when it is back (see the module doc). `chain`: a connection
    /// if there is one; without (stanch started while the link is down) the writer starts
    /// offline and connects when it can. The login is the chain's, else the URL's user.
    pub fn spawn_offline(
        chain: Option<Chain>,
        target: Target,
        incident: &str,
        redactor: Redactor,
        setup: OfflineSetup,
    ) -> (Self, mpsc::UnboundedReceiver<LinkNews>) {
        let (queue_tx, queue_rx) = mpsc::unbounded_channel();
        let (news_tx, news_rx) = mpsc::unbounded_channel();
        let login = chain
            .as_ref()
            .map_or_else(|| target.user().to_owned(), |c| c.login().to_owned());
        let writer = Writer::new(
            chain,
            incident.to_owned(),
            login,
            target,
            redactor,
            Some(setup),
            Some(news_tx),
        );
        let commits = Arc::clone(&writer.commits);
        tokio::spawn(writer.run(queue_rx));
        (Self { queue_tx, commits }, news_rx)
    }

    /// How many transactions have appended this writer's events so far (merges aside).
    pub fn commits(&self) -> u64 {
        self.commits.load(Ordering::Relaxed)
    }

    /// Queue an event now; the answer comes once it is durable (on the server, or on the
    /// pending sub-chain for an offline writer: use [`Appender::submit`] to know which).
    pub async fn append(&self, new: NewEvent) -> Result<Event, Arc<TeamError>> {
        self.submit(new, false).await.map(Appended::into_event)
    }

    /// Queue an event; `holds_step`: this responder holds the event's step (the offline rule
    /// reads it). The answer says where the event went.
    pub async fn submit(
        &self,
        new: NewEvent,
        holds_step: bool,
    ) -> Result<Appended, Arc<TeamError>> {
        self.queue(new, holds_step)?.answer().await
    }

    /// Queue an event at once, from any thread, without waiting: its place in the queue (and
    /// so on the chain, among this responder's events) is taken now. The answer comes through
    /// the returned [`Queued`]. Many events queued before the writer is free share one
    /// transaction: this is how a caller keeps appends in flight.
    pub fn queue(&self, new: NewEvent, holds_step: bool) -> Result<Queued, Arc<TeamError>> {
        let (reply, reply_rx) = oneshot::channel();
        self.queue_tx
            .send(Job {
                new,
                holds_step,
                reply,
            })
            .map_err(|_| Arc::new(TeamError::WriterStopped))?;
        Ok(Queued(reply_rx))
    }
}

/// An event in the writer's queue ([`Appender::queue`]); its answer once it is durable.
pub struct Queued(oneshot::Receiver<Result<Answer, Arc<TeamError>>>);

impl Queued {
    /// Where the event went, once durable (or why it was not recorded).
    pub async fn answer(self) -> Result<Appended, Arc<TeamError>> {
        self.answer_in_batch().await.map(|(appended, _)| appended)
    }

    /// [`Queued::answer`], with every event (in seq order) of the transaction that committed
    /// it when it went to the shared chain: this responder's, contiguous on the chain.
    pub async fn answer_in_batch(self) -> Result<(Appended, Option<Arc<[Event]>>), Arc<TeamError>> {
        let answer = self
            .0
            .await
            .map_err(|_| Arc::new(TeamError::WriterStopped))??;
        Ok((answer.appended, answer.batch))
    }
}

struct Offline {
    pending: Pending,
    verified: (u64, String),
    retry: Duration,
    /// A merge failed for a reason other than the link: no timed retries until the next event.
    stalled: bool,
}

struct Writer {
    chain: Option<Chain>,
    target: Target,
    redactor: Redactor,
    incident: String,
    login: String,
    offline: Option<Offline>,
    news_tx: Option<mpsc::UnboundedSender<LinkNews>>,
    commits: Arc<AtomicU64>,
}

impl Writer {
    fn new(
        chain: Option<Chain>,
        incident: String,
        login: String,
        target: Target,
        redactor: Redactor,
        setup: Option<OfflineSetup>,
        news_tx: Option<mpsc::UnboundedSender<LinkNews>>,
    ) -> Self {
        Self {
            incident,
            login,
            chain,
            target,
            redactor,
            offline: setup.map(|s| Offline {
                pending: s.pending,
                verified: s.verified,
                retry: s.retry,
                stalled: false,
            }),
            news_tx,
            commits: Arc::new(AtomicU64::new(0)),
        }
    }

    /// The retry interval while something is pending, else `None`.
    fn merge_due(&self) -> Option<Duration> {
        self.offline
            .as_ref()
            .filter(|o| !o.pending.is_empty() && !o.stalled)
            .map(|o| o.retry)
    }

    fn has_pending(&self) -> bool {
        self.offline.as_ref().is_some_and(|o| !o.pending.is_empty())
    }

    async fn run(mut self, mut queue_rx: mpsc::UnboundedReceiver<Job>) {
        loop {
            let first = match self.merge_due() {
                Some(retry) => tokio::select! {
                    job = queue_rx.recv() => job,
                    () = tokio::time::sleep(retry) => {
                        self.try_merge().await;
                        continue;
                    }
                },
                None => queue_rx.recv().await,
            };
            let Some(first) = first else { return };
            let mut jobs = vec![first];
            while jobs.len() < MAX_BATCH {
                match queue_rx.try_recv() {
                    Ok(job) => jobs.push(job),
                    Err(_) => break,
                }
            }
            self.handle(jobs).await;
        }
    }

    async fn handle(&mut self, jobs: Vec<Job>) {
        // The events apart from who waits for them: the append borrows them, and they are
        // still here for the pending sub-chain if the link turns out to be down.
        let (mut events, waiting): (Vec<NewEvent>, Vec<Waiting>) = jobs
            .into_iter()
            .map(|job| {
                let Job {
                    new,
                    holds_step,
                    reply,
                } = job;
                (new, Waiting { holds_step, reply })
            })
            .unzip();
        for new in &mut events {
            new.redact(&self.redactor);
        }
        if self.has_pending() {
            if let Some(offline) = &mut self.offline {
                offline.stalled = false;
            }
            self.try_merge().await;
            if self.has_pending() {
                self.record_offline(events, waiting, &[]);
                return;
            }
        }
        let chain = match self.chain.take() {
            Some(c) => Ok(c),
            None => Chain::open(&self.target, &self.incident).await,
        };
        let (result, in_doubt) = match chain {
            Ok(mut c) => {
                let appended = c.append_redacted(&events).await;
                let in_doubt = c.in_doubt().to_vec();
                // A refusal leaves the connection usable; a lost link does not.
                if !matches!(&appended, Err(e) if e.is_link_lost()) {
                    self.chain = Some(c);
                }
                (appended, in_doubt)
            }
            Err(e) => (Err(e), Vec::new()),
        };
        match result {
            Ok(stored) => {
                self.commits.fetch_add(1, Ordering::Relaxed);
                if let (Some(offline), Some(last)) = (&mut self.offline, stored.last()) {
                    offline.verified = (last.seq, last.hash.clone());
                }
                let batch: Arc<[Event]> = Arc::from(stored);
                for (event, w) in batch.iter().zip(waiting) {
                    // A caller that stopped waiting still had its event recorded.
                    let _ = w.reply.send(Ok(Answer {
                        appended: Appended::Shared(event.clone()),
                        batch: Some(Arc::clone(&batch)),
                    }));
                }
            }
            Err(error) if error.is_link_lost() && self.offline.is_some() => {
                self.tell(LinkNews::Offline(Arc::new(error)));
                self.record_offline(events, waiting, &in_doubt);
            }
            // A refused event refuses the whole transaction it shares (a claim that lost a
            // race, say): each is tried again on its own, so only the guilty one fails.
            Err(error) if events.len() > 1 && !error.is_link_lost() => {
                drop(error);
                for (new, w) in events.iter().zip(waiting) {
                    let alone = self.commit_one(new).await;
                    if let (Ok(event), Some(offline)) = (&alone, &mut self.offline) {
                        offline.verified = (event.seq, event.hash.clone());
                    }
                    let _ = w.reply.send(
                        alone
                            .map(|event| Answer {
                                batch: Some(Arc::from([event.clone()])),
                                appended: Appended::Shared(event),
                            })
                            .map_err(Arc::new),
                    );
                }
            }
            Err(error) => {
                let error = Arc::new(error);
                for w in waiting {
                    let _ = w.reply.send(Err(Arc::clone(&error)));
                }
            }
        }
    }

    /// One already-redacted event in a transaction of its own, over the writer's connection
    /// (opened again if it was lost).
    async fn commit_one(&mut self, new: &NewEvent) -> Result<Event, TeamError> {
        let mut c = match self.chain.take() {
            Some(c) => c,
            None => Chain::open(&self.target, &self.incident).await?,
        };
        let appended = c.append_redacted(std::slice::from_ref(new)).await;
        if !matches!(&appended, Err(e) if e.is_link_lost()) {
            self.chain = Some(c);
        }
        if appended.is_ok() {
            self.commits.fetch_add(1, Ordering::Relaxed);
        }
        appended.and_then(|stored| stored.into_iter().next().ok_or(TeamError::WriterStopped))
    }

    /// The link is down: each event to the pending sub-chain, or refused by the offline rule.
    /// `in_doubt`: the hashes the server holds for them if their lost commit went through.
    fn record_offline(
        &mut self,
        events: Vec<NewEvent>,
        waiting: Vec<Waiting>,
        in_doubt: &[String],
    ) {
        let Some(offline) = &mut self.offline else {
            return;
        };
        for (i, (new, w)) in events.into_iter().zip(waiting).enumerate() {
            let result = offline_rule(new.kind, w.holds_step).and_then(|()| {
                let root = (offline.verified.0, offline.verified.1.as_str());
                let tried = in_doubt.get(i).cloned();
                let proposed = Proposed::of(&new);
                drop(new);
                off_the_executor(|| offline.pending.push(root, &self.login, proposed, tried))
            });
            let _ = w.reply.send(result.map(Answer::pending).map_err(Arc::new));
        }
    }

    /// Try to put the pending sub-chain on the shared chain.
    async fn try_merge(&mut self) {
        let Some(offline) = &mut self.offline else {
            return;
        };
        let opened = match self.chain.take() {
            Some(c) => Ok(c),
            None => Chain::open(&self.target, &self.incident).await,
        };
        let news = match opened {
            Ok(mut chain) => {
                let result = merge(&mut chain, &mut offline.pending, MERGE_BATCH).await;
                if !matches!(&result, Err(e) if e.is_link_lost()) {
                    self.chain = Some(chain);
                }
                match result {
                    Ok(Some(merged)) => {
                        offline.verified = (merged.event.seq, merged.event.hash.clone());
                        Some(LinkNews::Merged(merged))
                    }
                    Ok(None) => None,
                    Err(e) => stalled(offline, e),
                }
            }
            Err(e) => stalled(offline, e),
        };
        if let (Some(news), Some(tx)) = (news, &self.news_tx) {
            // An owner that stopped listening does not stop the writer.
            let _ = tx.send(news);
        }
    }

    fn tell(&self, news: LinkNews) {
        if let Some(tx) = &self.news_tx {
            // An owner that stopped listening does not stop the writer.
            let _ = tx.send(news);
        }
    }
}

/// A failed merge: still offline when the link is the reason (retried on the timer), else
/// news for the owner and no timed retries until the next event.
fn stalled(offline: &mut Offline, error: TeamError) -> Option<LinkNews> {
    if error.is_link_lost() {
        return None;
    }
    offline.stalled = true;
    Some(LinkNews::MergeFailed(Arc::new(error)))
}
