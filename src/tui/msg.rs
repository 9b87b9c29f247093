//! [`Msg`]: everything that can change the [`App`](super::app::App), in one enum.
//!
//! Terminal input, ticks, journal events as they are synced, step progress and outcomes
//! reported by background tasks, drill injects. Tasks hold a clone of the loop's `msg_tx`
//! and report back with these; nothing else mutates the model.
//!
//! This module only defines data; it must not do I/O.

use crossterm::event::KeyEvent;
use jiff::Timestamp;

use crate::journal::Event;

/// What a running step reports besides its journal events.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepProgress {
    /// A (poll) attempt finished with this HTTP status (`None`: transport error).
    Attempt { n: u32, status: Option<u16> },
    /// foreach progress.
    Items { done: u64, total: u64, failed: u64 },
}

/// How one execution of a step ended (mirrors `engine::Outcome`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    Succeeded {
        summary: String,
    },
    Failed {
        error: String,
    },
    Skipped {
        reason: String,
    },
    NeedsHuman {
        reason: String,
    },
    /// The step is destructive and was started without the typed text.
    NeedsConfirmation {
        expected: String,
    },
    Cancelled,
    Interrupted,
}

/// The request a step will send, secrets already masked (from `Engine::preview`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Preview {
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// The rendered text a destructive step asks to be typed.
    pub confirm: Option<String>,
}

/// A drill inject as it pops up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InjectMsg {
    pub offset: String,
    pub title: String,
    pub body: String,
}

#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    Resize(u16, u16),
    /// The clock moved (only sent while something is in flight).
    Tick(Timestamp),
    /// An event is durable in the journal (from an append task or the engine).
    Journalled(Event),
    /// The journal as it is on disk, after events may have been missed.
    Resynced(Vec<Event>),
    Progress {
        step: String,
        progress: StepProgress,
    },
    Finished {
        step: String,
        outcome: StepOutcome,
    },
    Preview {
        step: String,
        preview: Result<Preview, String>,
    },
    /// The rendered text of a draft (saved file, else the template rendered now).
    Draft {
        step: String,
        text: Result<String, String>,
    },
    /// `$EDITOR` closed; the terminal is ours again.
    DraftEdited {
        step: String,
        result: Result<(), String>,
    },
    Inject(InjectMsg),
    /// Fresh lab status lines (drill mode).
    Panel(Vec<(String, String)>),
    /// Something failed outside `update`; shown in a modal and logged.
    Failed(String),
}
