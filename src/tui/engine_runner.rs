//! [`EngineRunner`]: the [`Runner`] the program uses, wrapping `engine::Engine` (previews,
//! step execution) and `draft` (render, `$EDITOR`, `draft.saved`).
//!
//! Engine progress is forwarded as messages in order, and the step's `Msg::Finished` is sent
//! only after every progress message: the loop never sees an outcome before its events.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::effect::{Decision, Runner, StepFuture};
use super::msg::{Msg, Preview, StepOutcome, StepProgress};
use crate::draft;
use crate::engine::{self, Engine, Outcome, Progress};
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
}

fn outcome(outcome: Outcome) -> StepOutcome {
    match outcome {
        Outcome::Succeeded { summary } => StepOutcome::Succeeded { summary },
        Outcome::Failed { error } => StepOutcome::Failed { error },
        Outcome::Skipped { reason } => StepOutcome::Skipped { reason },
        Outcome::NeedsHuman { reason } => StepOutcome::NeedsHuman { reason },
        Outcome::NeedsConfirmation { expected } => StepOutcome::NeedsConfirmation { expected },
        Outcome::Cancelled => StepOutcome::Cancelled,
        Outcome::Interrupted => StepOutcome::Interrupted,
    }
}

impl Runner for EngineRunner {
    fn preview(&self, step: &str, incident: &Incident) -> Result<Preview, String> {
        self.engine
            .preview(step, incident)
            .map(|p| Preview {
                method: p.method,
                url: p.url,
                headers: p.headers,
                body: p.body,
                confirm: p.confirm,
            })
            .map_err(|e| e.to_string())
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
            let forward = tokio::spawn(async move {
                while let Some(progress) = progress_rx.recv().await {
                    let msg = match progress {
                        Progress::Journalled(event) => Msg::Journalled(event),
                        Progress::Attempt { n, status } => Msg::Progress {
                            step: forward_step.clone(),
                            progress: StepProgress::Attempt { n, status },
                        },
                        Progress::Items {
                            done,
                            total,
                            failed,
                        } => Msg::Progress {
                            step: forward_step.clone(),
                            progress: StepProgress::Items {
                                done,
                                total,
                                failed,
                            },
                        },
                    };
                    let _ = forward_tx.send(msg);
                }
            });
            let decision = engine::Decision {
                typed_confirmation: decision.typed_confirmation,
                assume_yes: false,
                rerun: decision.rerun,
            };
            let result = engine
                .execute(&step, &incident, decision, progress_tx, cancel)
                .await;
            // The sender was moved into `execute` and is dropped now: the forwarder drains.
            let _ = forward.await;
            outcome(result)
        })
    }

    fn draft_text(&self, step: &str, incident: &Incident) -> Result<String, String> {
        let Some(s) = self.rb.runbook.step(step) else {
            return Err(format!("no step {step}"));
        };
        let file = draft::path(&self.dir, s).map_err(|e| e.to_string())?;
        // Never through a link planted under the draft's name.
        match crate::private::read(&file).map(String::from_utf8) {
            Ok(Ok(text)) => Ok(text),
            _ => draft::render(&self.rb, step, incident).map_err(|e| e.to_string()),
        }
    }

    fn edit_draft(&self, step: &str, incident: &Incident) -> Result<Option<Event>, String> {
        let Some(s) = self.rb.runbook.step(step) else {
            return Err(format!("no step {step}"));
        };
        let file = draft::prepare(&self.rb, step, incident, &self.journal, &self.dir)
            .map_err(|e| e.to_string())?;
        draft::edit_in_editor(&file).map_err(|e| e.to_string())?;
        draft::record(&self.journal, &self.dir, s).map_err(|e| e.to_string())
    }
}

/// What a preview says while [`Deferred`] is still building the engine.
pub const STARTING: &str = "starting the engine…";

/// A [`Runner`] whose engine is built on another thread, so the first frame does not wait for
/// HTTP clients and TLS roots (tens of milliseconds per target). Until it is ready, previews
/// say [`STARTING`] and a step that is started waits for it.
pub struct Deferred {
    slot: Arc<std::sync::OnceLock<Result<EngineRunner, String>>>,
}

impl Deferred {
    pub fn spawn(build: impl FnOnce() -> Result<EngineRunner, String> + Send + 'static) -> Self {
        let slot = Arc::new(std::sync::OnceLock::new());
        let filler = Arc::clone(&slot);
        std::thread::spawn(move || {
            let _ = filler.set(build());
        });
        Self { slot }
    }

    fn ready(&self) -> Result<&EngineRunner, String> {
        match self.slot.get() {
            Some(Ok(runner)) => Ok(runner),
            Some(Err(e)) => Err(e.clone()),
            None => Err(STARTING.to_owned()),
        }
    }
}

impl Runner for Deferred {
    fn preview(&self, step: &str, incident: &Incident) -> Result<Preview, String> {
        self.ready()?.preview(step, incident)
    }

    fn execute(
        &self,
        step: String,
        incident: Incident,
        decision: Decision,
        msg_tx: UnboundedSender<Msg>,
        cancel: CancellationToken,
    ) -> StepFuture {
        let slot = Arc::clone(&self.slot);
        Box::pin(async move {
            loop {
                match slot.get() {
                    Some(Ok(runner)) => {
                        return runner
                            .execute(step, incident, decision, msg_tx, cancel)
                            .await;
                    }
                    Some(Err(error)) => {
                        return StepOutcome::Failed {
                            error: error.clone(),
                        };
                    }
                    None if cancel.is_cancelled() => return StepOutcome::Cancelled,
                    None => tokio::time::sleep(std::time::Duration::from_millis(5)).await,
                }
            }
        })
    }

    fn draft_text(&self, step: &str, incident: &Incident) -> Result<String, String> {
        self.ready()?.draft_text(step, incident)
    }

    fn edit_draft(&self, step: &str, incident: &Incident) -> Result<Option<Event>, String> {
        self.ready()?.edit_draft(step, incident)
    }
}
