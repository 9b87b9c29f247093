//! One responder's live session on a shared incident: the team backend of
//! [`Journal`](crate::journal::Journal) (it implements [`SharedChain`]).
//!
//! ```text
//!  Journal::enqueue ─▶ Session::append ─(own runtime)─▶ Inner::append: Appender (commit)
//!        ▲                                                  └─▶ catch_up: mirror ← server
//!        └────────── Event, durable on the server and in the mirror ◀──┘      │
//!  Follower (LISTEN/NOTIFY, poll) ─▶ the same mirror, under the same lock ─────┤
//!                                                       News::Events ◀────────┘ (each event
//!                                                        once, in seq order), Alarm, …
//! ```
//!
//! The session runs on its own small runtime, so a caller on any thread (the TUI's
//! multi-threaded runtime, the headless runner's current-thread one, plain code) can wait
//! for an append without starving the task that performs it.
//!
//! Every own append goes through ONE function, [`Inner::append`]: commit through the
//! [`Appender`] (group commit; an event is answered only once committed), then catch the
//! mirror up through it, so the mirror is contiguous and current when the caller gets the
//! event (drafts and `verify` read it). A later offline layer slots in there. Teammates'
//! events arrive through the [`Follower`] into the same mirror; both announce what they wrote
//! as [`News`] (`Journal::take_news`), so a consumer folds every event exactly once, in
//! seq order.
//!
//! The "journal rewritten" alarm (from either path) is kept: every later append is refused
//! with it, and the feed carries it once for the screen.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex as StdMutex};

use tokio::sync::{Mutex, mpsc};

use super::follow::{Following, Pace};
use super::{Appender, Chain, Follower, Mirror, Target, TeamError, Update, mirror};
use crate::journal::shared::News;
use crate::journal::shared::off_the_executor;
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
            async move { start(target, incident, &dir, pace).await }
        })?;
        let (inner, login, following, news_rx) = opened?;
        Ok(Self {
            inner,
            login,
            dir,
            runtime: Some(runtime),
            news_rx: StdMutex::new(Some(news_rx)),
            _following: following,
        })
    }

    fn runtime(&self) -> Result<&tokio::runtime::Runtime, TeamError> {
        self.runtime.as_ref().ok_or(TeamError::WriterStopped)
    }
}

async fn start(
    target: Target,
    incident: String,
    dir: &Path,
    pace: Pace,
) -> Result<(Arc<Inner>, String, Following, mpsc::UnboundedReceiver<News>), TeamError> {
    let reader = Chain::open(&target, &incident).await?;
    let login = reader.login().to_owned();
    let mut local = Mirror::open(dir, &login)?;
    mirror::sync(&reader, &mut local, |_| {}).await?;
    let writer = Chain::open(&target, &incident).await?;
    // `Journal` redacts before the event reaches the session.
    let appender = Appender::spawn(writer, target.clone(), Redactor::default());
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
    });
    let following = Follower::spawn_shared(target, incident, mirror, pace, updates_tx);
    // Everything written to the mirror passes through here, in order; an alarm from either
    // path is kept (it stops writes) before it is told.
    let relay = Arc::downgrade(&inner);
    tokio::spawn(async move {
        while let Some(update) = updates_rx.recv().await {
            let Some(inner) = relay.upgrade() else { return };
            let news = match update {
                Update::Events(events) => News::Events(events),
                Update::CaughtUp(seq) => News::CaughtUp(seq),
                Update::Disconnected(error) => News::Disconnected(error.to_string()),
                Update::Rewritten(error) => News::Alarm(inner.raise(error).to_string()),
            };
            if news_tx.send(news).is_err() {
                return;
            }
        }
    });
    Ok((inner, login, following, news_rx))
}

impl Inner {
    /// THE team append: every own event goes through here. Committed on the server (group
    /// commit), then the mirror caught up through it; returned only then.
    async fn append(self: Arc<Self>, new: NewEvent) -> Result<Event, Arc<TeamError>> {
        if let Some(alarm) = self.alarmed() {
            return Err(alarm);
        }
        let event = self.appender.append(new).await?;
        self.catch_up(event.seq).await?;
        Ok(event)
    }

    /// Bring the mirror to at least `through`, announcing what was written.
    async fn catch_up(&self, through: u64) -> Result<(), Arc<TeamError>> {
        let mut reader = self.reader.lock().await;
        let mut local = self.mirror.lock().await;
        if local.last().0 >= through {
            return Ok(());
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

impl SharedChain for Session {
    fn append(&self, new: NewEvent) -> Result<Event, JournalError> {
        let shared = |e: Arc<TeamError>| JournalError::Shared(e);
        let runtime = self.runtime().map_err(|e| shared(Arc::new(e)))?;
        let inner = Arc::clone(&self.inner);
        run_on(runtime, inner.append(new))
            .map_err(|e| shared(Arc::new(e)))?
            .map_err(shared)
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
