//! The event loop: one `tokio::select!` (biased) over queued messages, terminal input, the
//! tick and termination signals; `update` for each message; effects executed here; a draw
//! only once the queue is empty.
//!
//! ```text
//!  terminal keys ─┐                          ┌─▶ Effect::Run ──spawn──▶ Runner::execute ─┐
//!  tick / signal ─┼─▶ Msg ─▶ update(&mut App) ┼─▶ Effect::Append ─spawn─▶ Journal::append ─┼─▶ msg_tx
//!  msg_rx ◀───────┘                          └─▶ draw (queue empty)                        │
//!     ▲────────────────────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! Nothing here blocks the draw path on the network or on long disk work: appends and steps
//! run in tasks that report back on `msg_tx`. In team mode the shared chain's news
//! (teammates' events as they commit, the link, the alarm) is one more branch, turned into
//! `Msg::Team`. Only `$EDITOR` blocks, with the terminal handed over. The Timeline's pager
//! ([`Feed`]) is the one exception by design: its answer to the latest query is a few
//! `pread`s (or one bounded search slice), made just before the draw so the frame shows it; a
//! longer search continues slice by slice only when no message or key is waiting (the last
//! branch of the `select!`).
//!
//! The engine may still be starting when the loop begins ([`Engine::Starting`]): its answer
//! is one more branch of the `select!`, turned into `Msg::EngineReady`. Until then effects
//! that need it wait in a queue (previews are dropped: `update` asks again once it is
//! ready); if it failed, they are answered with its error.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{Event as TermEvent, EventStream, KeyCode, KeyEventKind};
use futures_util::StreamExt;
use tokio::sync::mpsc::{UnboundedReceiver, UnboundedSender};
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

use super::app::{App, View};
use super::effect::{Effect, Runner};
use super::engine_runner::Ready;
use super::error::TuiError;
use super::feed::Feed;
use super::msg::{InjectMsg, Msg};
use super::terminal::{self, Term};
use super::update::update;
use super::view;
use super::{DrillSetup, ScheduledInject};
use crate::engine::Outcome;
use crate::journal::shared::News;
use crate::journal::{self, Event, Journal, JournalError};
use crate::timeline::Query;

/// How long quitting waits for appends and cancelled steps to reach the journal.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// The runner the loop executes effects with, as far as the loop knows.
pub enum Engine {
    Ready(Arc<dyn Runner>),
    /// Being built elsewhere; effects that need it wait in `queued`.
    Starting {
        ready_rx: oneshot::Receiver<Ready>,
        queued: Vec<Effect>,
    },
    /// It will never run: effects that need it are answered with this error.
    Failed(TuiError),
}

pub struct Loop {
    pub engine: Engine,
    pub journal: Journal,
    /// Team mode: the shared chain's news (teammates' events, link, alarm).
    news_rx: Option<UnboundedReceiver<News>>,
    pub msg_tx: UnboundedSender<Msg>,
    pub msg_rx: UnboundedReceiver<Msg>,
    pub drill: Option<DrillSetup>,
    cancels: HashMap<String, CancellationToken>,
    /// Effects that waited for the engine, run after the next message's own effects.
    requeued: Vec<Effect>,
    /// Steps and appends: waited for on quit.
    tasks: JoinSet<()>,
    /// Drill injects sleeping until their time: aborted on quit.
    injects: JoinSet<()>,
    /// The Timeline view's pager.
    feed: Feed,
    /// The Timeline view's latest query, served before the next draw.
    wanted: Option<Query>,
}

impl Loop {
    pub fn new(engine: Engine, journal: Journal, drill: Option<DrillSetup>) -> Self {
        let (msg_tx, msg_rx) = tokio::sync::mpsc::unbounded_channel();
        Self {
            engine,
            news_rx: journal.take_news(),
            journal,
            msg_tx,
            msg_rx,
            drill,
            cancels: HashMap::new(),
            requeued: Vec::new(),
            tasks: JoinSet::new(),
            injects: JoinSet::new(),
            feed: Feed::Closed,
            wanted: None,
        }
    }

    /// Run until the responder quits or a signal arrives; the caller restores the terminal.
    pub async fn run(mut self, term: &mut Term, app: &mut App) -> anyhow::Result<()> {
        self.schedule_injects(app);
        self.feed = Feed::open(self.journal.dir().to_path_buf());
        if let Some(step) = app.selected_id() {
            self.execute(app, Effect::Preview { step });
        }
        let mut input = EventStream::new();
        let mut term_signal = signal(tokio::signal::unix::SignalKind::terminate())?;
        let mut hangup = signal(tokio::signal::unix::SignalKind::hangup())?;
        let mut busy = app.is_busy();
        let mut ticker = ticker_for(busy);
        self.refresh_panel(app);
        term.draw(|f| view::render(app, f))?;
        // A key and when it arrived, until the frame that shows its effect is drawn (logged at
        // debug level: what `bench/timeline-keys.sh` reads for the TUI's own latency).
        let mut key_at: Option<(KeyCode, Instant)> = None;
        loop {
            let msg: Option<Msg> = tokio::select! {
                biased;
                Some(msg) = self.msg_rx.recv() => Some(msg),
                ready = engine_ready(&mut self.engine) => Some(self.install(ready)),
                Some(news) = next_news(&mut self.news_rx) => Some(Msg::Team(news)),
                next = input.next() => match next {
                    Some(Ok(TermEvent::Key(key))) if key.kind == KeyEventKind::Press => Some(Msg::Key(key)),
                    Some(Ok(TermEvent::Resize(w, h))) => Some(Msg::Resize(w, h)),
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => Some(Msg::Failed(TuiError::Input(Arc::new(e)))),
                    None => break,
                },
                _ = term_signal.recv() => { tracing::info!("SIGTERM: quitting"); break }
                _ = hangup.recv() => { tracing::info!("SIGHUP: quitting"); break }
                _ = ticker.tick() => {
                    self.refresh_panel(app);
                    Some(Msg::Tick(super::now()))
                }
                // The pager is open: the Timeline query waiting for it is served below.
                opened = self.feed.opened() => opened,
                // Idle: the next slice of a Timeline search still under way.
                () = std::future::ready(()), if app.view == View::Timeline && self.feed.is_searching() => {
                    self.feed.resume()
                }
            };
            if let Some(Msg::Key(key)) = &msg {
                key_at = Some((key.code, Instant::now()));
            }
            let mut quit = match msg {
                Some(msg) => self.dispatch(term, &mut input, app, msg)?,
                None => false,
            };
            // Draw only once the queue is empty: a burst of progress costs one frame.
            while !quit && let Ok(msg) = self.msg_rx.try_recv() {
                quit = self.dispatch(term, &mut input, app, msg)?;
            }
            // The Timeline's rows for this frame (an answer never asks again for the same
            // query; the bound is a guard, not a loop).
            for _ in 0..2 {
                if quit {
                    break;
                }
                let Some(msg) = self.serve_timeline() else {
                    break;
                };
                quit = self.dispatch(term, &mut input, app, msg)?;
            }
            if quit {
                break;
            }
            while self.tasks.try_join_next().is_some() {}
            if busy != app.is_busy() {
                busy = app.is_busy();
                ticker = ticker_for(busy);
            }
            term.draw(|f| view::render(app, f))?;
            if let Some((code, at)) = key_at.take() {
                tracing::debug!("key {code:?} to frame in {} µs", at.elapsed().as_micros());
            }
        }
        self.shutdown().await;
        Ok(())
    }

    /// The pager's answer to the latest Timeline query, once the pager is open.
    fn serve_timeline(&mut self) -> Option<Msg> {
        if !self.feed.is_ready() {
            return None;
        }
        let query = self.wanted.take()?;
        self.feed.serve(&query)
    }

    /// The engine answered: keep it (or its error), release what waited for it, and tell
    /// `update` with a message.
    fn install(&mut self, ready: Ready) -> Msg {
        let queued = match &mut self.engine {
            Engine::Starting { queued, .. } => std::mem::take(queued),
            Engine::Ready(_) | Engine::Failed(_) => Vec::new(),
        };
        let answer = ready.as_ref().map(|_| ()).map_err(Clone::clone);
        self.engine = match ready {
            Ok(runner) => Engine::Ready(runner),
            Err(e) => Engine::Failed(e),
        };
        // Queued effects go back through the queue, so `$EDITOR` still gets the terminal.
        self.requeued.extend(queued);
        Msg::EngineReady(answer)
    }

    /// One message through `update`, then its effects. `true` when the app quits.
    fn dispatch(
        &mut self,
        term: &mut Term,
        input: &mut EventStream,
        app: &mut App,
        msg: Msg,
    ) -> anyhow::Result<bool> {
        if let Msg::Failed(error) = &msg {
            tracing::error!("{error}");
        }
        let mut effects = update(app, msg);
        effects.append(&mut self.requeued);
        for effect in effects {
            match effect {
                Effect::Quit => return Ok(true),
                Effect::EditDraft { step } => {
                    let Some(runner) = self.runner_for(Effect::EditDraft { step: step.clone() })
                    else {
                        continue;
                    };
                    // The input reader would steal the editor's keys: stop it while suspended.
                    let stream = std::mem::replace(input, EventStream::new());
                    drop(stream);
                    let incident = &app.incident;
                    let result = terminal::suspended(term, || {
                        tokio::task::block_in_place(|| runner.edit_draft(&step, incident))
                    })?;
                    *input = EventStream::new();
                    let result = match result {
                        Ok(Some(event)) => {
                            let msg = super::msg::journalled(&self.journal, event);
                            let _ = self.msg_tx.send(msg);
                            Ok(())
                        }
                        Ok(None) => Ok(()),
                        Err(e) => Err(e),
                    };
                    let _ = self.msg_tx.send(Msg::DraftEdited { step, result });
                }
                other => self.execute(app, other),
            }
        }
        Ok(false)
    }

    /// The runner for an effect that needs it; `None` when the effect was queued (engine
    /// starting) or answered with the engine's error (engine failed).
    fn runner_for(&mut self, effect: Effect) -> Option<Arc<dyn Runner>> {
        match &mut self.engine {
            Engine::Ready(runner) => Some(Arc::clone(runner)),
            Engine::Starting { queued, .. } => {
                if !matches!(effect, Effect::Preview { .. }) {
                    queued.push(effect);
                }
                None
            }
            Engine::Failed(error) => {
                let error = error.clone();
                let _ = self.msg_tx.send(match effect {
                    Effect::Run { step, .. } => Msg::Finished {
                        step,
                        outcome: Outcome::Failed {
                            error: error.to_string(),
                        },
                    },
                    Effect::Preview { step } => Msg::Preview {
                        step,
                        preview: Err(error),
                    },
                    Effect::LoadDraft { step } => Msg::Draft {
                        step,
                        text: Err(error),
                    },
                    Effect::EditDraft { step } => Msg::DraftEdited {
                        step,
                        result: Err(error),
                    },
                    _ => Msg::Failed(error),
                });
                None
            }
        }
    }

    fn execute(&mut self, app: &App, effect: Effect) {
        let tx = self.msg_tx.clone();
        match effect {
            Effect::Run { step, decision } => {
                let Some(runner) = self.runner_for(Effect::Run {
                    step: step.clone(),
                    decision: decision.clone(),
                }) else {
                    return;
                };
                let cancel = CancellationToken::new();
                self.cancels.insert(step.clone(), cancel.clone());
                let future = runner.execute(
                    step.clone(),
                    app.incident.clone(),
                    decision,
                    tx.clone(),
                    cancel,
                );
                self.tasks.spawn(async move {
                    let outcome = future.await;
                    let _ = tx.send(Msg::Finished { step, outcome });
                });
            }
            Effect::Cancel { step } => {
                if let Some(token) = self.cancels.get(&step) {
                    token.cancel();
                } else if let Engine::Starting { queued, .. } = &mut self.engine {
                    // Still waiting for the engine: it never starts.
                    let before = queued.len();
                    queued.retain(|e| !matches!(e, Effect::Run { step: s, .. } if *s == step));
                    if queued.len() < before {
                        let _ = tx.send(Msg::Finished {
                            step,
                            outcome: Outcome::Cancelled,
                        });
                    }
                }
            }
            Effect::Append(events) => {
                let journal = self.journal.clone();
                self.tasks.spawn(async move {
                    for event in events {
                        match journal.append(event).await {
                            Ok(event) => {
                                let _ = tx.send(super::msg::journalled(&journal, event));
                            }
                            Err(e) => {
                                let _ = tx.send(Msg::Failed(TuiError::JournalWrite(Arc::new(e))));
                                break;
                            }
                        }
                    }
                });
            }
            Effect::Preview { step } => {
                if let Some(runner) = self.runner_for(Effect::Preview { step: step.clone() }) {
                    let preview = runner.preview(&step, &app.incident);
                    let _ = tx.send(Msg::Preview { step, preview });
                }
            }
            Effect::LoadDraft { step } => {
                if let Some(runner) = self.runner_for(Effect::LoadDraft { step: step.clone() }) {
                    // A first render streams the whole journal for its timeline (seconds at
                    // millions of events): off the loop, which keeps answering keys.
                    let incident = app.incident.clone();
                    self.tasks.spawn(async move {
                        let shown = step.clone();
                        let text = tokio::task::spawn_blocking(move || {
                            runner.draft_text(&shown, &incident)
                        })
                        .await
                        .unwrap_or_else(|e| {
                            Err(TuiError::Task {
                                what: "draft render",
                                source: Arc::new(e),
                            })
                        });
                        let _ = tx.send(Msg::Draft { step, text });
                    });
                }
            }
            Effect::Resync => {
                let dir = self.journal.dir().to_path_buf();
                let after = app.incident.last_seq;
                self.tasks.spawn(async move {
                    let read = tokio::task::spawn_blocking(move || read_after(&dir, after)).await;
                    let _ = tx.send(match read {
                        Ok(Ok(events)) => Msg::Resynced(events),
                        Ok(Err(e)) => Msg::Failed(TuiError::JournalRead(Arc::new(e))),
                        Err(e) => Msg::Failed(TuiError::Task {
                            what: "journal re-read",
                            source: Arc::new(e),
                        }),
                    });
                });
            }
            // The latest query wins; served before the next draw.
            Effect::Timeline(query) => self.wanted = Some(query),
            // Handled by `dispatch`, which owns the terminal.
            Effect::Quit | Effect::EditDraft { .. } => {}
        }
    }

    fn schedule_injects(&mut self, app: &App) {
        let Some(drill) = &self.drill else {
            return;
        };
        // On resume, injects already journalled are not shown again.
        let seen: Vec<&str> = app
            .incident
            .injects
            .iter()
            .map(|i| i.title.as_str())
            .collect();
        let pending: Vec<ScheduledInject> = drill
            .injects
            .iter()
            .filter(|i| !seen.contains(&i.title.as_str()))
            .cloned()
            .collect();
        for inject in pending {
            let tx = self.msg_tx.clone();
            self.injects.spawn(async move {
                tokio::time::sleep(inject.after).await;
                let _ = tx.send(Msg::Inject(InjectMsg {
                    offset: inject.offset,
                    title: inject.title,
                    body: inject.body,
                }));
            });
        }
    }

    fn refresh_panel(&self, app: &mut App) {
        if let Some(drill) = &self.drill {
            let lines = (drill.panel)();
            update(app, Msg::Panel(lines));
        }
    }

    /// Cancel running steps and give appends and outcomes a moment to reach the journal.
    async fn shutdown(mut self) {
        self.injects.abort_all();
        for token in self.cancels.values() {
            token.cancel();
        }
        let drained = tokio::time::timeout(SHUTDOWN_GRACE, async {
            while self.tasks.join_next().await.is_some() {}
        })
        .await;
        if drained.is_err() {
            tracing::warn!(
                "quit: {} task(s) still running after {SHUTDOWN_GRACE:?}",
                self.tasks.len()
            );
        }
    }
}

/// The good events after seq `after`, streamed (the ones before are neither kept nor held,
/// so a re-read of a long journal stays small); damage is an error, as for `journal::read`.
fn read_after(dir: &std::path::Path, after: u64) -> Result<Vec<Event>, JournalError> {
    let mut events = Vec::new();
    journal::for_each(dir, |event| {
        if event.seq > after {
            events.push(event);
        }
    })?;
    Ok(events)
}

/// The next news of the shared chain (team mode); never on a local journal.
async fn next_news(news_rx: &mut Option<UnboundedReceiver<News>>) -> Option<News> {
    match news_rx {
        Some(rx) => rx.recv().await,
        None => std::future::pending().await,
    }
}

/// Resolves once with the engine's answer while it is starting; never otherwise.
async fn engine_ready(engine: &mut Engine) -> Ready {
    match engine {
        Engine::Starting { ready_rx, .. } => ready_rx.await.unwrap_or(Err(TuiError::EngineLost)),
        Engine::Ready(_) | Engine::Failed(_) => std::future::pending().await,
    }
}

fn signal(kind: tokio::signal::unix::SignalKind) -> anyhow::Result<tokio::signal::unix::Signal> {
    Ok(tokio::signal::unix::signal(kind)?)
}

fn ticker_for(busy: bool) -> tokio::time::Interval {
    // Spinners move every 100 ms; otherwise only the clocks in the status bar move.
    let period = if busy {
        Duration::from_millis(100)
    } else {
        Duration::from_secs(1)
    };
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    interval
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::{Decision, Preview};
    use crate::incident::Incident;
    use crate::journal::Event;
    use crate::tui::effect::StepFuture;

    /// A runner that answers every step with success and every preview with one warning.
    struct Fake;

    impl Runner for Fake {
        fn preview(&self, _: &str, _: &Incident) -> Result<Preview, TuiError> {
            Ok(Preview {
                target: "t".into(),
                method: "GET".into(),
                url: "http://127.0.0.1:1/".into(),
                headers: Vec::new(),
                body: None,
                confirm: None,
                items: None,
                warnings: vec!["w".into()],
                skip: None,
            })
        }
        fn execute(
            &self,
            _: String,
            _: Incident,
            _: Decision,
            _: UnboundedSender<Msg>,
            _: CancellationToken,
        ) -> StepFuture {
            Box::pin(async {
                Outcome::Succeeded {
                    summary: "ok".into(),
                }
            })
        }
        fn draft_text(&self, _: &str, _: &Incident) -> Result<String, TuiError> {
            Ok(String::new())
        }
        fn edit_draft(&self, _: &str, _: &Incident) -> Result<Option<Event>, TuiError> {
            Ok(None)
        }
    }

    fn starting() -> (Loop, oneshot::Sender<Ready>, App, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(&dir.path().join("i"), "t").unwrap();
        let (ready_tx, ready_rx) = oneshot::channel();
        let engine = Engine::Starting {
            ready_rx,
            queued: Vec::new(),
        };
        let app = crate::tui::fixture::fresh_app();
        (Loop::new(engine, journal, None), ready_tx, app, dir)
    }

    fn run(step: &str) -> Effect {
        Effect::Run {
            step: step.into(),
            decision: Decision::default(),
        }
    }

    #[tokio::test]
    async fn effects_wait_for_the_engine_and_readiness_arrives_as_a_message() {
        let (mut event_loop, ready_tx, app, _dir) = starting();
        event_loop.execute(&app, run("cluster-info"));
        event_loop.execute(
            &app,
            Effect::Preview {
                step: "cluster-info".into(),
            },
        );
        assert!(event_loop.msg_rx.try_recv().is_err(), "nothing runs yet");

        let runner: Arc<dyn Runner> = Arc::new(Fake);
        assert!(ready_tx.send(Ok(runner)).is_ok());
        let ready = engine_ready(&mut event_loop.engine).await;
        let msg = event_loop.install(ready);
        assert!(matches!(msg, Msg::EngineReady(Ok(()))));
        assert!(matches!(event_loop.engine, Engine::Ready(_)));
        assert_eq!(
            event_loop.requeued,
            vec![run("cluster-info")],
            "the queued run goes again; the preview is asked for anew by update"
        );
    }

    #[tokio::test]
    async fn an_engine_that_failed_answers_every_effect_with_its_error() {
        let (mut event_loop, ready_tx, app, _dir) = starting();
        event_loop.execute(&app, run("cluster-info"));
        assert!(ready_tx.send(Err(TuiError::EngineLost)).is_ok());
        let ready = engine_ready(&mut event_loop.engine).await;
        assert!(matches!(
            event_loop.install(ready),
            Msg::EngineReady(Err(TuiError::EngineLost))
        ));
        for effect in std::mem::take(&mut event_loop.requeued) {
            event_loop.execute(&app, effect);
        }
        let Ok(Msg::Finished { step, outcome }) = event_loop.msg_rx.try_recv() else {
            panic!("the queued run is answered");
        };
        assert_eq!(step, "cluster-info");
        assert_eq!(
            outcome,
            Outcome::Failed {
                error: TuiError::EngineLost.to_string()
            }
        );
        event_loop.execute(
            &app,
            Effect::Preview {
                step: "count-exposed".into(),
            },
        );
        assert!(matches!(
            event_loop.msg_rx.try_recv(),
            Ok(Msg::Preview {
                preview: Err(TuiError::EngineLost),
                ..
            })
        ));
    }

    #[tokio::test]
    async fn cancelling_a_step_that_waits_for_the_engine_drops_it() {
        let (mut event_loop, _ready_tx, app, _dir) = starting();
        event_loop.execute(&app, run("cluster-info"));
        event_loop.execute(
            &app,
            Effect::Cancel {
                step: "cluster-info".into(),
            },
        );
        assert!(matches!(
            event_loop.msg_rx.try_recv(),
            Ok(Msg::Finished {
                outcome: Outcome::Cancelled,
                ..
            })
        ));
        assert!(matches!(&event_loop.engine, Engine::Starting { queued, .. } if queued.is_empty()));
    }

    #[tokio::test]
    async fn a_builder_that_dies_is_reported_not_awaited_forever() {
        let (mut event_loop, ready_tx, _app, _dir) = starting();
        drop(ready_tx);
        assert!(matches!(
            engine_ready(&mut event_loop.engine).await,
            Err(TuiError::EngineLost)
        ));
    }

    #[test]
    fn a_resync_reads_only_the_events_after_the_models_last() {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(dir.path(), "t").unwrap();
        for i in 0..10 {
            journal
                .append_blocking(crate::journal::NewEvent::new(
                    crate::journal::Kind::Note,
                    serde_json::json!({"text": format!("n{i}"), "tags": []}),
                ))
                .unwrap();
        }
        let seqs: Vec<u64> = read_after(dir.path(), 7)
            .unwrap()
            .iter()
            .map(|e| e.seq)
            .collect();
        assert_eq!(seqs, vec![8, 9, 10]);
        assert!(read_after(dir.path(), 10).unwrap().is_empty());
    }
}
