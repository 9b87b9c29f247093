//! One responder's live session on a shared incident: the team backend of
//! [`Journal`](crate::journal::Journal) (it implements [`SharedChain`]).
//!
//! ```text
//!  Journal::enqueue ─▶ Session::append ─▶ Inner::queue ─▶ Appender (group commit)
//!  Journal::submit  ─▶ Session::submit ─┘   (own runtime) Inner::settle ◀─┘
//!        ▲                                                  └─▶ catch_up: mirror ← server
//!        └── Event (or Ticket), durable on the server and in the mirror ◀┘      │
//!  Follower (LISTEN/NOTIFY, poll) ─▶ the same mirror, under the same lock ─────┤
//!                                                       News::Events ◀────────┘ (each event
//!                                                        once, in seq order), Alarm, …
//! ```
//!
//! The session runs on its own small runtime, so a caller on any thread (the TUI's
//! multi-threaded runtime, the headless runner's current-thread one, plain code) can wait
//! for an append without starving the task that performs it.
//!
//! Every own append goes through ONE path, [`Inner::queue`] then [`Inner::settle`]: queued
//! on the caller's thread (so events keep the order they were handed over in, and events
//! submitted while a commit is in flight share the next one: a foreach's items pipeline),
//! answered on the session's runtime. Queued to the offline
//! capable [`Appender`] (group commit; an event is answered only once durable), with whether
//! this login holds the event's step (the offline rule reads it; from the session's own fold
//! of the claims, [`Team::fold`] over every event that reaches the mirror: claims need the
//! link, so they are all there). Committed on the server, a submitted event's ticket says
//! so at once ([`Ticket::recorded`]: enough for the write-ahead rule), then the mirror is
//! caught up through it, so it is contiguous and current when the caller gets the event
//! (drafts and `verify` read it; if the link drops right after the commit the follower
//! brings it later). The commit's own batch is written to the mirror as it was sealed when
//! it follows on from the mirror's head (the server took it after the event verified there);
//! otherwise (a teammate's events came between) the server's chain is read.
//! With the link down the event goes to the pending sub-chain (`pending.jsonl` in the
//! mirror's directory, rooted at the mirror's head) and is returned at once, durable there;
//! [`SharedChain::is_pending`] names it so consumers fold it through
//! [`Overlay`](crate::incident::Overlay) only. Kinds the rule refuses offline fail with the
//! "needs the team link" error. Teammates' events (and the merged copies of pending ones)
//! arrive through the [`Follower`] into the same mirror; both announce what they wrote as
//! [`News`] (`Journal::take_news`), so a consumer folds every shared event exactly once, in
//! seq order; the writer's merge results come as `News::Merged` (conflicts as
//! [`conflict_line`] says them) or `News::MergeFailed`.
//!
//! The "journal rewritten" alarm (from either path) is kept: every later append is refused
//! with it, and the feed carries it once for the screen.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex as StdMutex};

use tokio::sync::{Mutex, mpsc};

use super::chain::Fetched;
use super::follow::{Following, Pace};
use super::pending::Pending;
use super::writer::{Appended, LinkNews, OfflineSetup, Queued};
use super::{Appender, Chain, Follower, Mirror, Target, TeamError, Update, mirror};
use crate::incident::{Incident, Keep, Team, conflict_line};
use crate::journal::shared::{News, Ticket, off_the_executor};
use crate::journal::{Event, JournalError, NewEvent, SharedChain};
use crate::secret::Redactor;

/// A live session; hand it to [`Journal::shared`](crate::journal::Journal::shared).
pub struct Session {
    inner: Arc<Inner>,
    login: String,
    dir: PathBuf,
    runtime: Option<tokio::runtime::Runtime>,
    /// What reached the mirror, for the consumer ([`SharedChain::take_news`]).
    news_rx: StdMutex<Option<mpsc::UnboundedReceiver<News>>>,
    _following: Following,
}

struct Inner {
    target: Target,
    incident: String,
    appender: Appender,
    /// For catching the mirror up after an own append (`None` after its link was lost).
    reader: Mutex<Option<Chain>>,
    mirror: Arc<Mutex<Mirror>>,
    /// Into the relay, under the mirror's lock (the follower sends there too): one order.
    updates_tx: mpsc::UnboundedSender<Update>,
    alarm: StdMutex<Option<Arc<TeamError>>>,
    login: String,
    /// Who holds which step, folded from the mirror (for the offline rule).
    claims: StdMutex<Claims>,
    /// Local hashes of own events returned as pending (provisional).
    pending: StdMutex<HashSet<String>>,
    /// Events made pending minus events merged (signed: the writer's merge news may be
    /// read before the reply of an event it merged).
    waiting: AtomicI64,
    /// The consumer's feed, for the pending count.
    news_tx: mpsc::UnboundedSender<News>,
    /// Own events on the pending sub-chain when the session opened (an earlier run's).
    at_open: Vec<Event>,
}

/// [`Team`] folded from the mirror's events, in seq order through `seq`, each once. Two
/// paths tell it events (an own append's catch-up, and the relay, which sees everything the
/// follower and the catch-up wrote), so either may be ahead: events past `seq + 1` wait in
/// `ahead` (only those that change the team are kept) until the gap is filled.
#[derive(Default)]
struct Claims {
    seq: u64,
    team: Team,
    ahead: BTreeMap<u64, Option<Event>>,
}

impl Drop for Session {
    fn drop(&mut self) {
        // The last journal handle may go inside an async context, where a runtime may not be
        // dropped by blocking on it.
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

impl Session {
    /// Connect to `incident` on `target`, open its mirror in `dir` and catch it up, then
    /// follow it live. The incident must exist on the server and the login be a member.
    pub fn open(
        target: &Target,
        incident: &str,
        dir: &Path,
        pace: Pace,
    ) -> Result<Self, TeamError> {
        Self::start(target, incident, dir, pace, None).map(|(session, _)| session)
    }

    /// [`Session::open`], also folding every event of the mirror into an [`Incident`] in the
    /// passes that open and catch it up (the mirror is read once): the incident's state as of
    /// the open, no event kept; later events come on the feed.
    pub fn open_folded(
        target: &Target,
        incident: &str,
        dir: &Path,
        pace: Pace,
    ) -> Result<(Self, Incident), TeamError> {
        Self::start(
            target,
            incident,
            dir,
            pace,
            Some(Incident::keeping(Keep::State)),
        )
        .map(|(session, folded)| (session, folded.unwrap_or_default()))
    }

    fn start(
        target: &Target,
        incident: &str,
        dir: &Path,
        pace: Pace,
        fold: Option<Incident>,
    ) -> Result<(Self, Option<Incident>), TeamError> {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("stanch-team")
            .enable_all()
            .build()
            .map_err(|source| TeamError::Mirror {
                path: dir.to_path_buf(),
                source,
            })?;
        let (target, incident, dir) = (target.clone(), incident.to_owned(), dir.to_path_buf());
        let opened = run_on(&runtime, {
            let dir = dir.clone();
            async move { start(target, incident, &dir, pace, fold).await }
        })?;
        let Started {
            inner,
            login,
            following,
            news_rx,
            folded,
        } = opened?;
        let session = Self {
            inner,
            login,
            dir,
            runtime: Some(runtime),
            news_rx: StdMutex::new(Some(news_rx)),
            _following: following,
        };
        Ok((session, folded))
    }

    fn runtime(&self) -> Result<&tokio::runtime::Runtime, TeamError> {
        self.runtime.as_ref().ok_or(TeamError::WriterStopped)
    }
}

/// What [`start`] opened.
struct Started {
    inner: Arc<Inner>,
    login: String,
    following: Following,
    news_rx: mpsc::UnboundedReceiver<News>,
    /// The incident folded from the mirror, when asked for.
    folded: Option<Incident>,
}

/// Open the mirror and catch it up, folding the claims (and `folded`, if asked for) in the
/// passes that do it: the mirror is read once.
async fn open_mirror(
    reader: &Chain,
    dir: &Path,
    login: &str,
    folded: &mut Option<Incident>,
) -> Result<(Mirror, Claims), TeamError> {
    let mut claims = Claims::default();
    let mut local = off_the_executor(|| {
        Mirror::open_with(dir, login, |event| {
            claims.fold(&event);
            if let Some(incident) = folded.as_mut() {
                incident.apply(event);
            }
        })
    })?;
    mirror::sync(reader, &mut local, |events| {
        for event in events {
            claims.fold(event);
            if let Some(incident) = folded.as_mut() {
                incident.apply(event.clone());
            }
        }
    })
    .await?;
    Ok((local, claims))
}

async fn start(
    target: Target,
    incident: String,
    dir: &Path,
    pace: Pace,
    mut folded: Option<Incident>,
) -> Result<Started, TeamError> {
    let reader = Chain::open(&target, &incident).await?;
    let login = reader.login().to_owned();
    let (local, claims) = open_mirror(&reader, dir, &login, &mut folded).await?;
    // After the mirror: the pending file sits under the mirror's writer lock.
    let pending = off_the_executor(|| Pending::open(dir))?;
    // Left from an earlier run: merged on the first event or the first retry.
    let waiting = pending.len();
    let at_open: Vec<Event> = pending.events().iter().map(|p| p.event.clone()).collect();
    let writer = Chain::open(&target, &incident).await?;
    let setup = OfflineSetup {
        pending,
        verified: (local.last().0, local.last().1.to_owned()),
        retry: pace.reconnect,
    };
    // `Journal` redacts before the event reaches the session.
    let (appender, mut link_rx) = Appender::spawn_offline(
        Some(writer),
        target.clone(),
        &incident,
        Redactor::default(),
        setup,
    );
    let mirror = Arc::new(Mutex::new(local));
    let (updates_tx, mut updates_rx) = mpsc::unbounded_channel();
    let (news_tx, news_rx) = mpsc::unbounded_channel();
    let inner = Arc::new(Inner {
        target: target.clone(),
        incident: incident.clone(),
        appender,
        reader: Mutex::new(Some(reader)),
        mirror: Arc::clone(&mirror),
        updates_tx: updates_tx.clone(),
        alarm: StdMutex::new(None),
        login: login.clone(),
        claims: StdMutex::new(claims),
        pending: StdMutex::new(HashSet::new()),
        waiting: AtomicI64::new(i64::try_from(waiting).unwrap_or(i64::MAX)),
        news_tx: news_tx.clone(),
        at_open,
    });
    if waiting > 0 {
        // Left from an earlier run: the screen says so from the start.
        inner.tell_pending();
    }
    // The writer's word on the link and the merge, for the screen.
    let merges_tx = news_tx.clone();
    let counted = Arc::downgrade(&inner);
    tokio::spawn(async move {
        while let Some(news) = link_rx.recv().await {
            let news = match news {
                LinkNews::Offline(error) => News::Disconnected(error.to_string()),
                LinkNews::Merged(merged) => {
                    if let Some(inner) = counted.upgrade() {
                        // Every pending event is settled: copied by the merge, or found on the
                        // chain already (its commit went through as the link dropped).
                        let settled = merged.summary.count.saturating_add(merged.committed_before);
                        let count = i64::try_from(settled).unwrap_or(i64::MAX);
                        inner.waiting.fetch_sub(count, Ordering::Relaxed);
                        inner.tell_pending();
                    }
                    News::Merged {
                        count: merged.summary.count,
                        conflicts: merged.summary.conflicts.iter().map(conflict_line).collect(),
                    }
                }
                LinkNews::MergeFailed(error) => News::MergeFailed(error.to_string()),
            };
            if merges_tx.send(news).is_err() {
                return;
            }
        }
    });
    let following = Follower::spawn_shared(target, incident, mirror, pace, updates_tx);
    // Everything written to the mirror passes through here, in order; an alarm from either
    // path is kept (it stops writes) before it is told.
    let relay = Arc::downgrade(&inner);
    tokio::spawn(async move {
        while let Some(update) = updates_rx.recv().await {
            let Some(inner) = relay.upgrade() else { return };
            let news = match update {
                Update::Events(events) => {
                    inner.fold_claims(&events);
                    News::Events(events)
                }
                Update::CaughtUp(seq) => News::CaughtUp(seq),
                Update::Disconnected(error) => News::Disconnected(error.to_string()),
                Update::Rewritten(error) => News::Alarm(inner.raise(error).to_string()),
            };
            if news_tx.send(news).is_err() {
                return;
            }
        }
    });
    Ok(Started {
        inner,
        login,
        following,
        news_rx,
        folded,
    })
}

impl Inner {
    /// THE team append, first half: every own event is queued here, on the caller's thread,
    /// in the order it is handed over (refused at once after the alarm).
    fn queue(&self, new: NewEvent) -> Result<Queued, Arc<TeamError>> {
        if let Some(alarm) = self.alarmed() {
            return Err(alarm);
        }
        let holds_step = new.step.as_deref().is_some_and(|step| self.holds(step));
        self.appender.queue(new, holds_step)
    }

    /// THE team append, second half: committed on the server (group commit), then the mirror
    /// caught up through it; answered only then (if the link drops between the two, the event
    /// is committed: it is answered and the follower brings it to the mirror on reconnect).
    /// Link down: on the pending sub-chain, answered at once and remembered as pending;
    /// refused with "needs the team link" when the rule says so.
    async fn settle(
        self: Arc<Self>,
        queued: Queued,
        recorded: impl FnOnce(),
    ) -> Result<Event, Arc<TeamError>> {
        let answer = queued.answer_in_batch().await?;
        recorded();
        match answer {
            (Appended::Shared(event), batch) => match self.catch_up(event.seq, batch).await {
                // Committed: the follower brings it to the mirror once the link is back.
                Err(e) if !e.is_link_lost() => Err(e),
                _ => Ok(event),
            },
            (Appended::Pending(event), _) => {
                self.pending
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .insert(event.hash.clone());
                self.waiting.fetch_add(1, Ordering::Relaxed);
                self.tell_pending();
                Ok(event)
            }
        }
    }

    /// How many own events wait on the pending sub-chain.
    fn waiting(&self) -> usize {
        usize::try_from(self.waiting.load(Ordering::Relaxed)).unwrap_or(0)
    }

    fn tell_pending(&self) {
        // A consumer that went away does not stop the session.
        let _ = self.news_tx.send(News::Pending(self.waiting()));
    }

    /// Whether this login holds `step`, by the session's fold of the claims.
    fn holds(&self, step: &str) -> bool {
        let claims = self
            .claims
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        claims.team.holder(step) == Some(self.login.as_str())
    }

    fn fold_claims(&self, events: &[Event]) {
        let mut claims = self
            .claims
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        for event in events {
            claims.fold(event);
        }
    }

    /// Bring the mirror to at least `through`, announcing what was written. `own`: the
    /// transaction that committed it (own events, contiguous): written as they are when they
    /// follow on from the mirror's head (the server took them after the event verified
    /// there, so nothing is read back), else the server's chain is read.
    async fn catch_up(
        &self,
        through: u64,
        own: Option<Arc<[Event]>>,
    ) -> Result<(), Arc<TeamError>> {
        let mut reader = self.reader.lock().await;
        let mut local = self.mirror.lock().await;
        if local.last().0 >= through {
            return Ok(());
        }
        if let Some(fresh) = own.as_deref().and_then(|own| follows(&local, own)) {
            let fetched: Vec<Fetched> = fresh.iter().map(Fetched::own).collect();
            off_the_executor(|| local.apply(&self.incident, &fetched))?;
            let events = fresh.to_vec();
            self.fold_claims(&events);
            // A consumer that went away does not make the append fail: it is recorded.
            let _ = self.updates_tx.send(Update::Events(events));
            if local.last().0 >= through {
                return Ok(());
            }
        }
        if reader.is_none() {
            *reader = Some(Chain::open(&self.target, &self.incident).await?);
        }
        let Some(chain) = reader.as_ref() else {
            return Err(Arc::new(TeamError::WriterStopped));
        };
        let mut batches = Vec::new();
        let synced = mirror::sync(chain, &mut local, |events| batches.push(events.to_vec())).await;
        for events in batches {
            // Folded here too (not only in the relay): an own claim counts for the next append.
            self.fold_claims(&events);
            // A consumer that went away does not make the append fail: it is recorded.
            let _ = self.updates_tx.send(Update::Events(events));
        }
        match synced {
            Ok(_) => Ok(()),
            Err(e) if e.is_link_lost() => {
                *reader = None;
                Err(Arc::new(e))
            }
            Err(e @ (TeamError::Rewritten { .. } | TeamError::Chain { .. })) => {
                let text = e.to_string();
                let kept = self.raise(e);
                // Told through the relay like the follower's, so the screen hears it once.
                let _ = self
                    .updates_tx
                    .send(Update::Rewritten(TeamError::Alarm(text)));
                Err(kept)
            }
            Err(e) => Err(Arc::new(e)),
        }
    }

    /// Keep the alarm (the first one wins: every later append is refused with it).
    fn raise(&self, error: TeamError) -> Arc<TeamError> {
        let mut alarm = self
            .alarm
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let kept = alarm.get_or_insert_with(|| {
            Arc::new(match error {
                TeamError::Alarm(_) => error,
                other => TeamError::Alarm(other.to_string()),
            })
        });
        Arc::clone(kept)
    }

    fn alarmed(&self) -> Option<Arc<TeamError>> {
        self.alarm
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }
}

/// The part of `own` (own events committed together, in seq order) past the mirror's head,
/// if it follows on from it: the next seq, linked to the hash verified there.
fn follows<'a>(mirror: &Mirror, own: &'a [Event]) -> Option<&'a [Event]> {
    let (seq, hash) = mirror.last();
    let start = own.iter().position(|e| e.seq > seq)?;
    let fresh = &own[start..];
    let first = fresh.first()?;
    (first.seq == seq + 1 && first.prev == hash).then_some(fresh)
}

impl Claims {
    fn fold(&mut self, event: &Event) {
        if event.seq <= self.seq {
            return;
        }
        let kept = Team::changes(event.kind).then(|| event.clone());
        self.ahead.insert(event.seq, kept);
        while let Some(next) = self.ahead.remove(&(self.seq + 1)) {
            if let Some(event) = next {
                self.team.fold(&event);
            }
            self.seq += 1;
        }
    }
}

impl SharedChain for Session {
    fn append(&self, new: NewEvent) -> Result<Event, JournalError> {
        let runtime = self.runtime().map_err(|e| shared(Arc::new(e)))?;
        let queued = self.inner.queue(new).map_err(shared)?;
        let inner = Arc::clone(&self.inner);
        run_on(runtime, inner.settle(queued, || {}))
            .map_err(|e| shared(Arc::new(e)))?
            .map_err(shared)
    }

    fn submit(&self, new: NewEvent) -> Ticket {
        let queued = self.runtime().map_err(Arc::new).and_then(|runtime| {
            let queued = self.inner.queue(new)?;
            Ok((runtime, queued))
        });
        match queued {
            Ok((runtime, queued)) => {
                let (mut answer, ticket) = Ticket::channel();
                let inner = Arc::clone(&self.inner);
                runtime.spawn(async move {
                    let settled = inner.settle(queued, || answer.recorded()).await;
                    answer.send(settled.map_err(shared));
                });
                ticket
            }
            Err(e) => Ticket::answered(Err(shared(e))),
        }
    }

    fn login(&self) -> &str {
        &self.login
    }

    fn dir(&self) -> &Path {
        &self.dir
    }

    fn take_news(&self) -> Option<mpsc::UnboundedReceiver<News>> {
        self.news_rx
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .take()
    }

    fn is_pending(&self, event: &Event) -> bool {
        self.inner
            .pending
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .contains(&event.hash)
    }

    fn pending_at_open(&self) -> Vec<Event> {
        self.inner.at_open.clone()
    }

    fn pending_count(&self) -> usize {
        self.inner.waiting()
    }

    fn commits(&self) -> Option<u64> {
        Some(self.inner.appender.commits())
    }
}

fn shared(error: Arc<TeamError>) -> JournalError {
    JournalError::Shared(error)
}

/// Run `future` on the session's runtime and wait for it from wherever the caller is.
fn run_on<T: Send + 'static>(
    runtime: &tokio::runtime::Runtime,
    future: impl Future<Output = T> + Send + 'static,
) -> Result<T, TeamError> {
    let (done_tx, done_rx) = std::sync::mpsc::sync_channel(1);
    runtime.spawn(async move {
        let _ = done_tx.send(future.await);
    });
    off_the_executor(|| done_rx.recv()).map_err(|_| TeamError::WriterStopped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Kind;
    use serde_json::json;

    fn event(seq: u64, actor: &str, kind: Kind, step: Option<&str>) -> Event {
        let data = match kind {
            Kind::StepTakenOver => json!({"from": "bob", "reason": "gone"}),
            Kind::Note => json!({"text": "n", "tags": []}),
            _ => json!({}),
        };
        Event::for_test(seq, actor, kind, step, data)
    }

    #[test]
    fn claims_fold_in_seq_order_whichever_path_tells_them_first() {
        let mut claims = Claims::default();
        claims.fold(&event(1, "bob", Kind::StepClaimed, Some("snap")));
        // The catch-up folds 3 before the relay has told 2 (a teammate's take-over).
        claims.fold(&event(3, "bob", Kind::Note, None));
        assert_eq!(claims.team.holder("snap"), Some("bob"));
        claims.fold(&event(2, "ann", Kind::StepTakenOver, Some("snap")));
        assert_eq!(claims.team.holder("snap"), Some("ann"));
        assert_eq!((claims.seq, claims.ahead.len()), (3, 0));
        // Told again by the other path: once only.
        claims.fold(&event(1, "bob", Kind::StepClaimed, Some("snap")));
        assert_eq!(claims.team.holder("snap"), Some("ann"));
    }
}
