//! [`EngineRunner`]: the [`Runner`] the program uses, wrapping `engine::Engine` (previews,
//! step execution) and `draft` (render, `$EDITOR`, `draft.saved`); [`spawn`] builds one on
//! another thread so the first frame does not wait for HTTP clients and TLS roots.
//!
//! Engine progress is forwarded as messages in order, and the step's `Msg::Finished` is sent
//! only after every progress message: the loop never sees an outcome before its events.
//! Readiness is a message too: [`spawn`] answers once on a oneshot channel that the event
//! loop selects on; nothing polls.
//!
//! The TUI's incident keeps no events (its Timeline pages them from disk), and a draft quotes
//! the incident's timeline: a draft is rendered from the TUI's folded state and the timeline
//! streamed from the journal on disk ([`draft::timeline::read`]: the post-mortem's lines, each
//! foreach step summarised), so rendering takes memory bounded by the report, not by the
//! journal (the event loop calls [`Runner::draft_text`] off its thread: a first render reads
//! the whole journal). Whether an edited draft is new is judged against the state's last
//! `draft.saved`.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc::UnboundedSender;
use tokio::sync::oneshot;
use tokio_util::sync::CancellationToken;

use super::effect::{Runner, StepFuture};
use super::error::TuiError;
use super::msg::Msg;
use crate::draft::{self, DraftError};
use crate::engine::{Decision, Engine, EngineError, Preview, Progress};
use crate::incident::Incident;
use crate::journal::{Event, Journal};
use crate::runbook::Loaded;

pub struct EngineRunner {
    engine: Engine,
    rb: Arc<Loaded>,
    journal: Journal,
    dir: PathBuf,
}

impl EngineRunner {
    pub fn new(engine: Engine, rb: Arc<Loaded>, journal: Journal, dir: PathBuf) -> Self {
        Self {
            engine,
            rb,
            journal,
            dir,
        }
    }

    fn step(&self, step: &str) -> Result<&crate::runbook::Step, DraftError> {
        self.rb
            .runbook
            .step(step)
            .ok_or_else(|| DraftError::UnknownStep(step.to_owned()))
    }
}

/// The engine's answer for a runner built in the background: the runner, or why it is not.
pub type Ready = Result<Arc<dyn Runner>, TuiError>;

/// Build the runner on another thread; the receiver answers once, when it is built or failed.
pub fn spawn(
    build: impl FnOnce() -> Result<EngineRunner, EngineError> + Send + 'static,
) -> oneshot::Receiver<Ready> {
    let (ready_tx, ready_rx) = oneshot::channel();
    std::thread::spawn(move || {
        let ready: Ready = match build() {
            Ok(runner) => Ok(Arc::new(runner)),
            Err(e) => Err(TuiError::EngineStart(Arc::new(e))),
        };
        // The loop may have quit before the engine was up; nothing is waiting then.
        let _ = ready_tx.send(ready);
    });
    ready_rx
}

impl Runner for EngineRunner {
    fn preview(&self, step: &str, incident: &Incident) -> Result<Preview, TuiError> {
        Ok(self.engine.preview(step, incident)?)
    }

    fn execute(
        &self,
        step: String,
        incident: Incident,
        decision: Decision,
        msg_tx: UnboundedSender<Msg>,
        cancel: CancellationToken,
    ) -> StepFuture {
        let engine = self.engine.clone();
        Box::pin(async move {
            let (progress_tx, mut progress_rx) = tokio::sync::mpsc::unbounded_channel();
            let forward_tx = msg_tx.clone();
            let forward_step = step.clone();
            let journal = engine.journal().clone();
            let forward = tokio::spawn(async move {
                while let Some(progress) = progress_rx.recv().await {
                    let msg = match progress {
                        Progress::Journalled(event) => super::msg::journalled(&journal, event),
                        progress => Msg::Progress {
                            step: forward_step.clone(),
                            progress,
                        },
                    };
                    let _ = forward_tx.send(msg);
                }
            });
            let result = engine
                .execute(&step, &incident, decision, progress_tx, cancel)
                .await;
            // The sender was moved into `execute` and is dropped now: the forwarder drains.
            let _ = forward.await;
            result
        })
    }

    fn draft_text(&self, step: &str, incident: &Incident) -> Result<String, TuiError> {
        let file = draft::path(&self.dir, self.step(step)?)?;
        // Never through a link planted under the draft's name.
        match crate::private::read(&file).map(String::from_utf8) {
            Ok(Ok(text)) => Ok(text),
            _ => Ok(draft::render(
                &self.rb,
                step,
                incident,
                draft::timeline::read(&self.dir)?,
            )?),
        }
    }

    fn edit_draft(&self, step: &str, incident: &Incident) -> Result<Option<Event>, TuiError> {
        let s = self.step(step)?;
        let prepared = draft::prepare(&self.rb, step, incident, &self.journal, &self.dir)?;
        draft::edit_in_editor(&prepared.file)?;
        Ok(draft::record(
            &self.journal,
            &self.dir,
            s,
            prepared.last_saved.as_deref(),
        )?)
    }
}
