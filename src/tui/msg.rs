//! [`Msg`]: everything that can change the [`App`](super::app::App), in one enum.
//!
//! Terminal input, ticks, journal events as they are synced, the engine's readiness, step
//! progress and outcomes reported by background tasks, drill injects. Tasks hold a clone of
//! the loop's `msg_tx` and report back with these; nothing else mutates the model.
//!
//! Step progress, outcomes and previews are the engine's own types ([`Progress`],
//! [`Outcome`], [`Preview`]): the TUI keeps no mirror of them, so nothing the engine says
//! (a preview's warnings) can be lost on the way to the screen.
//!
//! This module only defines data; it must not do I/O.

use crossterm::event::KeyEvent;
use jiff::Timestamp;

use super::error::TuiError;
use crate::engine::{Outcome, Preview, Progress};
use crate::journal::shared::News;
use crate::journal::{Event, Journal};
use crate::timeline::Page;

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
    /// The engine finished starting (`Err`: it never will; steps that send cannot run).
    EngineReady(Result<(), TuiError>),
    /// An event is durable in the journal (from an append task or the engine).
    Journalled(Event),
    /// Team mode, link down: an own event durable on the pending sub-chain only (its seq is
    /// provisional: folded through the overlay, see [`crate::incident::Overlay`]).
    JournalledPending(Event),
    /// The events on disk after the last one the model has, after events may have been
    /// missed.
    Resynced(Vec<Event>),
    /// What a running step reports (its journalled events arrive as [`Msg::Journalled`]).
    Progress {
        step: String,
        progress: Progress,
    },
    Finished {
        step: String,
        outcome: Outcome,
    },
    Preview {
        step: String,
        preview: Result<Preview, TuiError>,
    },
    /// The rendered text of a draft (saved file, else the template rendered now).
    Draft {
        step: String,
        text: Result<String, TuiError>,
    },
    /// `$EDITOR` closed; the terminal is ours again.
    DraftEdited {
        step: String,
        result: Result<(), TuiError>,
    },
    Inject(InjectMsg),
    /// The pager's answer to the Timeline view's query (a search still running answers
    /// again as it finds more).
    Paged(Page),
    /// Fresh lab status lines (drill mode).
    Panel(Vec<(String, String)>),
    /// Something failed outside `update`; shown in a modal and logged.
    Failed(TuiError),
    /// Team mode: what the shared chain's session says (teammates' events, the link, the
    /// "journal rewritten" alarm).
    Team(News),
}

/// The message for an event `journal` just returned: pending (team mode, offline) or synced.
pub fn journalled(journal: &Journal, event: Event) -> Msg {
    if journal.is_pending(&event) {
        Msg::JournalledPending(event)
    } else {
        Msg::Journalled(event)
    }
}
