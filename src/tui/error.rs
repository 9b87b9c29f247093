//! [`TuiError`]: every failure the TUI reports, typed, on its one path to the screen
//! (`Msg::Failed` → the error dialog and the log; a failed preview or draft → the pane that
//! asked for it).
//!
//! Variants wrap the library errors they came from, so the message the responder reads is
//! the library's own wording with its ids and paths. They are `Arc`-wrapped because a message
//! and the model must be cloneable while the library errors (I/O inside) are not.

use std::sync::Arc;

use crate::draft::DraftError;
use crate::engine::EngineError;
use crate::journal::JournalError;
use crate::timeline::PagerError;

#[derive(Debug, Clone, thiserror::Error)]
pub enum TuiError {
    /// The engine could not be built (TLS roots, a target's client), so no step can run.
    #[error("the engine could not start: {0}")]
    EngineStart(Arc<EngineError>),
    /// The thread building the engine ended without an answer (it panicked).
    #[error("the engine could not start: its builder stopped without an answer (see the log)")]
    EngineLost,
    /// The engine could not describe a step (its preview).
    #[error(transparent)]
    Engine(Arc<EngineError>),
    #[error(transparent)]
    Draft(Arc<DraftError>),
    #[error("could not write the journal: {0}")]
    JournalWrite(Arc<JournalError>),
    #[error("could not re-read the journal: {0}")]
    JournalRead(Arc<JournalError>),
    /// The Timeline view's pager could not read the journal or its index.
    #[error("the timeline cannot read the journal: {0}")]
    Timeline(Arc<PagerError>),
    #[error("terminal input: {0}")]
    Input(Arc<std::io::Error>),
    /// A background task died (panicked or was aborted) before it reported.
    #[error("{what} task: {source}")]
    Task {
        what: &'static str,
        source: Arc<tokio::task::JoinError>,
    },
}

impl From<EngineError> for TuiError {
    fn from(e: EngineError) -> Self {
        Self::Engine(Arc::new(e))
    }
}

impl From<DraftError> for TuiError {
    fn from(e: DraftError) -> Self {
        Self::Draft(Arc::new(e))
    }
}

impl From<PagerError> for TuiError {
    fn from(e: PagerError) -> Self {
        Self::Timeline(Arc::new(e))
    }
}
