//! The [`Runner`] the real program uses. PLACEHOLDER until `engine` and `draft` are on main:
//! previews and runs report that the engine is missing; drafts are read from disk only.

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::effect::{Decision, Runner, StepFuture};
use super::msg::{Msg, Preview, StepOutcome};
use crate::incident::Incident;
use crate::journal::Event;
use crate::runbook::{Action, Loaded};

pub struct EngineRunner {
    rb: Arc<Loaded>,
    dir: PathBuf,
}

impl EngineRunner {
    pub fn new(rb: Arc<Loaded>, dir: PathBuf) -> Self {
        Self { rb, dir }
    }
}

const MISSING: &str = "this build has no step engine yet";

impl Runner for EngineRunner {
    fn preview(&self, _step: &str, _incident: &Incident) -> Result<Preview, String> {
        Err(MISSING.into())
    }

    fn execute(
        &self,
        _step: String,
        _incident: Incident,
        _decision: Decision,
        _msg_tx: UnboundedSender<Msg>,
        _cancel: CancellationToken,
    ) -> StepFuture {
        Box::pin(async {
            StepOutcome::Failed {
                error: MISSING.into(),
            }
        })
    }

    fn draft_text(&self, step: &str, _incident: &Incident) -> Result<String, String> {
        let Some(Action::Draft(draft)) = self
            .rb
            .runbook
            .step(step)
            .and_then(crate::runbook::Step::action)
        else {
            return Err(format!("{step} is not a draft step"));
        };
        std::fs::read_to_string(self.dir.join("drafts").join(draft.output.get_ref()))
            .map_err(|e| format!("not drafted yet ({e}); press e to write it"))
    }

    fn edit_draft(&self, _step: &str, _incident: &Incident) -> Result<Option<Event>, String> {
        Err(MISSING.into())
    }
}
