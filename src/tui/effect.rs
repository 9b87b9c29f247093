//! [`Effect`]: side effects that `update` asks for, as plain values, and [`Runner`], the
//! seam between the TUI and the engine/draft modules that the event loop executes them with.
//!
//! `update` stays pure because it only *returns* effects; the loop runs them (spawning a task
//! for anything that waits on the network or the disk) and the tasks report back as
//! [`Msg`](super::msg::Msg)s. The seam speaks the engine's types ([`Decision`], [`Preview`],
//! [`Outcome`]) and fails with [`TuiError`]; tests substitute a fake [`Runner`].

use std::future::Future;
use std::pin::Pin;

use tokio::sync::mpsc::UnboundedSender;
use tokio_util::sync::CancellationToken;

use super::error::TuiError;
use super::msg::Msg;
use crate::engine::{Decision, Outcome, Preview};
use crate::incident::Incident;
use crate::journal::{Event, NewEvent};
use crate::timeline::Query;

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Execute a step in a background task.
    Run { step: String, decision: Decision },
    /// Cancel a running step's token.
    Cancel { step: String },
    /// Append these events, in order, in one background task.
    Append(Vec<NewEvent>),
    /// Compute the request preview of a step.
    Preview { step: String },
    /// Load the text of a draft for the Drafts view.
    LoadDraft { step: String },
    /// Suspend the terminal, open the draft in `$EDITOR`, journal the saved version.
    EditDraft { step: String },
    /// Re-read the journal after the model's last seq (events were reported out of order or
    /// not at all), streamed so the rest is never held.
    Resync,
    /// Ask the pager for the Timeline view's rows (answered with `Msg::Paged`; only the
    /// latest query counts).
    Timeline(Query),
    /// Leave: cancel running steps, wait for pending appends, restore the terminal.
    Quit,
}

pub type StepFuture = Pin<Box<dyn Future<Output = Outcome> + Send>>;

/// What the TUI needs from the engine and the draft module. The real implementation wraps
/// `engine::Engine` + `draft`; tests use a fake.
pub trait Runner: Send + Sync + 'static {
    /// The request the step will send, secrets masked, with the engine's warnings. Cheap;
    /// called on the UI thread.
    fn preview(&self, step: &str, incident: &Incident) -> Result<Preview, TuiError>;
    /// Run a step; report every journalled event as `Msg::Journalled` (and progress as
    /// `Msg::Progress`) on `msg_tx` before resolving to the outcome.
    fn execute(
        &self,
        step: String,
        incident: Incident,
        decision: Decision,
        msg_tx: UnboundedSender<Msg>,
        cancel: CancellationToken,
    ) -> StepFuture;
    /// The draft's current text: the saved file, else the template rendered now.
    fn draft_text(&self, step: &str, incident: &Incident) -> Result<String, TuiError>;
    /// Blocking: render the draft if it has no file yet, open `$EDITOR` (secrets stripped from
    /// its environment) and journal the saved version. The terminal is suspended around it.
    fn edit_draft(&self, step: &str, incident: &Incident) -> Result<Option<Event>, TuiError>;
}
