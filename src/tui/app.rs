//! [`App`]: the TUI's whole model. Plain data, mutated only by `update`, read by `view`.
//!
//! The incident itself is the replayed [`Incident`]: every journal event the process learns of
//! is folded in with `Incident::apply`, in seq order (a small reorder buffer absorbs events
//! that arrive out of order from concurrent tasks), so the screen shows exactly what the
//! journal says. What the journal does not know (which steps this process is running, the
//! open dialog, the cursor) lives beside it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::dialog::{Confirm, Fact, Mark, Note, Skip, TakeOver};
use super::error::TuiError;
use super::input::Input;
use super::msg::InjectMsg;
use crate::engine::Preview;
use crate::incident::{Incident, Overlay, StepStatus};
use crate::journal::Event;
use crate::runbook::{Action, Loaded, Step};

/// Which main view fills the screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum View {
    #[default]
    Runbook,
    Timeline,
    Evidence,
    Drafts,
}

/// Whether the engine can run steps yet (it is built while the first frame is drawn).
#[derive(Debug, Clone, Default)]
pub enum EngineState {
    Starting,
    #[default]
    Ready,
    /// It will never start: steps that send fail with this error.
    Failed(TuiError),
}

/// A step this process is executing right now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Running {
    pub since: Timestamp,
    /// Last (poll) attempt: number and HTTP status.
    pub attempt: Option<(u32, Option<u16>)>,
    /// foreach: done, total, failed.
    pub items: Option<(u64, u64, u64)>,
    pub cancelling: bool,
}

/// The dialog on top of the view, if any. Only one at a time; keys go to it first. Each
/// dialog's state, keys and drawing live in its own file under `dialog/`.
#[derive(Debug, Clone, PartialEq)]
pub enum Modal {
    /// A destructive step: the responder types the expected text exactly.
    Confirm(Confirm),
    Skip(Skip),
    Note(Note),
    /// Record a fact, or correct an earlier one: the journal keeps both.
    Fact(Fact),
    Mark(Mark),
    /// Team mode: a step a teammate holds; the reason to take it over.
    TakeOver(TakeOver),
    Inject(InjectMsg),
    Error {
        message: String,
    },
    Help,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimelineState {
    pub filter: Input,
    pub editing_filter: bool,
    /// Lines scrolled up from the newest event (0 = follow the tail).
    pub scroll_back: usize,
    /// Indices into `incident.events` matching `filter` (kept up to date by `update`, so a
    /// frame never scans a 100,000-event journal).
    pub matches: Vec<usize>,
    /// The filter `matches` was computed for, and how many events it has looked at.
    matched_filter: String,
    scanned: usize,
}

impl TimelineState {
    /// Forget what was matched: the next [`TimelineState::refresh`] scans every event again
    /// (the events were rebuilt, not only added to).
    pub fn rescan(&mut self) {
        self.scanned = usize::MAX;
    }

    /// Bring `matches` up to date with the filter and the events; incremental when only new
    /// events arrived.
    pub fn refresh(&mut self, events: &[Event]) {
        let filter = self.filter.value().to_lowercase();
        if filter != self.matched_filter || self.scanned > events.len() {
            self.matches.clear();
            self.scanned = 0;
            self.matched_filter.clone_from(&filter);
        }
        if filter.is_empty() {
            self.scanned = events.len();
            return;
        }
        for (i, event) in events.iter().enumerate().skip(self.scanned) {
            if event_matches(event, &filter) {
                self.matches.push(i);
            }
        }
        self.scanned = events.len();
    }
}

/// A lowercase `filter` matches an event by a substring of its kind or its step.
pub fn event_matches(event: &Event, filter: &str) -> bool {
    event.kind.as_str().contains(filter)
        || event
            .step
            .as_deref()
            .is_some_and(|s| s.to_lowercase().contains(filter))
}

/// Drill mode: the lab panel lines and the injects that arrived.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Drill {
    pub panel: Vec<(String, String)>,
    pub show_panel: bool,
}

pub struct App {
    pub runbook: Arc<Loaded>,
    pub incident: Incident,
    /// The clock, injected: set by ticks in the loop, by hand in tests.
    pub now: Timestamp,
    /// The responder's zone, for the local clock beside UTC.
    pub tz: TimeZone,
    /// `false` under `NO_COLOR`: styles use bold/reverse/underline only.
    pub color: bool,
    pub view: View,
    /// Index into `order`.
    pub selected: usize,
    /// Runbook step indices in display order (grouped by phase, file order within).
    pub order: Vec<usize>,
    pub running: BTreeMap<String, Running>,
    pub engine: EngineState,
    pub previews: HashMap<String, Result<Preview, TuiError>>,
    pub drafts: HashMap<String, Result<String, TuiError>>,
    pub modal: Option<Modal>,
    pub timeline: TimelineState,
    pub evidence_selected: usize,
    pub drafts_selected: usize,
    pub drill: Option<Drill>,
    /// Drill injects that arrived while the responder was typing, shown in turn after.
    pub injects_waiting: VecDeque<InjectMsg>,
    /// One line of feedback for the last action ("note recorded", "waits for …").
    pub flash: Option<String>,
    /// Events that arrived ahead of a gap, by seq.
    pub pending_events: BTreeMap<u64, Event>,
    /// The step the selection moved to by itself after a finished step; cleared by any key.
    /// Its preview saying "would be skipped" moves the selection on again.
    pub following: Option<String>,
    pub size: (u16, u16),
    pub quitting: bool,
    /// Team mode: this responder's login (`None` on a local journal).
    pub team_login: Option<String>,
    /// Team mode: take-over reasons typed for steps about to run (taken by `start`).
    pub take_overs: HashMap<String, String>,
    /// Team mode: why the link to the team database is down, while it is.
    pub link_down: Option<String>,
    /// Team mode: the "journal rewritten" alarm; writing has stopped.
    pub alarm: Option<String>,
    /// Team mode: own events only on the pending sub-chain (link down), over `incident`.
    pub overlay: Overlay,
    /// Team mode: own events waiting on the pending sub-chain for the merge (link down).
    pub offline_pending: usize,
    /// Team mode: the last merge's conflicts (steps done twice), as the commander reads them.
    pub merge_conflicts: Vec<String>,
}

impl App {
    pub fn new(runbook: Arc<Loaded>, incident: Incident, now: Timestamp) -> Self {
        let phases = runbook.runbook.phases();
        let mut order: Vec<usize> = (0..runbook.runbook.steps.len()).collect();
        order.sort_by_key(|&i| {
            let phase = runbook.runbook.steps[i].phase.as_str();
            phases
                .iter()
                .position(|p| *p == phase)
                .unwrap_or(usize::MAX)
        });
        Self {
            runbook,
            incident,
            now,
            tz: TimeZone::UTC,
            color: true,
            view: View::Runbook,
            selected: 0,
            order,
            running: BTreeMap::new(),
            engine: EngineState::Ready,
            previews: HashMap::new(),
            drafts: HashMap::new(),
            modal: None,
            timeline: TimelineState::default(),
            evidence_selected: 0,
            drafts_selected: 0,
            drill: None,
            injects_waiting: VecDeque::new(),
            flash: None,
            pending_events: BTreeMap::new(),
            following: None,
            size: (80, 24),
            quitting: false,
            team_login: None,
            take_overs: HashMap::new(),
            link_down: None,
            alarm: None,
            overlay: Overlay::default(),
            offline_pending: 0,
            merge_conflicts: Vec::new(),
        }
    }

    /// The step under the cursor.
    pub fn selected_step(&self) -> Option<&Step> {
        let index = *self.order.get(self.selected)?;
        self.runbook.runbook.steps.get(index)
    }

    pub fn selected_id(&self) -> Option<String> {
        self.selected_step().map(|s| s.id().to_owned())
    }

    /// What the step list shows: the journal's status, refined by what this process knows
    /// (a pending step whose needs are met is *ready*).
    pub fn display_status(&self, step: &Step) -> DisplayStatus {
        if self.running.contains_key(step.id()) {
            return DisplayStatus::Running;
        }
        match self.incident.status(step.id()) {
            StepStatus::Pending if self.incident.is_ready(step) => DisplayStatus::Ready,
            StepStatus::Pending => DisplayStatus::Pending,
            // Team mode: a teammate is running it.
            StepStatus::Running if self.held_by_other(step.id()).is_some() => {
                DisplayStatus::Running
            }
            // Running in the journal but not in this process: started before a crash.
            StepStatus::Running | StepStatus::Interrupted => DisplayStatus::Interrupted,
            StepStatus::Succeeded => DisplayStatus::Succeeded,
            StepStatus::Failed => DisplayStatus::Failed,
            StepStatus::Skipped => DisplayStatus::Skipped,
            StepStatus::NeedsHuman => DisplayStatus::NeedsHuman,
        }
    }

    /// A dialog is open or the timeline filter is being typed: keys belong to it, and
    /// nothing may pop up over it.
    pub fn is_typing(&self) -> bool {
        self.modal.is_some() || (self.view == View::Timeline && self.timeline.editing_filter)
    }

    /// Something moves on screen (a spinner, a foreach counter): tick fast.
    pub fn is_busy(&self) -> bool {
        !self.running.is_empty()
    }

    /// Team mode: who holds `step`, when it is someone else.
    pub fn held_by_other(&self, step: &str) -> Option<&str> {
        let me = self.team_login.as_deref()?;
        self.incident.team.holder(step).filter(|h| *h != me)
    }

    /// Fold a synced event into the incident, in seq order (team mode: through the overlay
    /// of own pending events, whose seqs are not the shared chain's).
    pub fn absorb(&mut self, event: Event) {
        let seq = |app: &Self| app.overlay.shared_seq(&app.incident);
        if event.seq <= seq(self) {
            return;
        }
        let offline = self.overlay.pending() > 0;
        self.pending_events.insert(event.seq, event);
        while let Some(next) = self.pending_events.remove(&(seq(self) + 1)) {
            self.overlay.push_shared(&mut self.incident, [next]);
        }
        if offline {
            // The incident was rebuilt under the pending events: the timeline's indices moved.
            self.timeline.rescan();
        }
    }

    /// Team mode, link down: fold an own event that is on the pending sub-chain only.
    pub fn absorb_pending(&mut self, event: Event) {
        self.overlay.push_pending(&mut self.incident, event);
    }

    /// Steps whose checklist items are all ticked (manual steps only).
    pub fn checklist_done(&self, step: &Step) -> Option<bool> {
        let Some(Action::Manual(items)) = step.action() else {
            return None;
        };
        let record = self.incident.steps.get(step.id());
        let ticked = |i: usize| {
            record
                .and_then(|r| r.checklist.get(&(i as u64)))
                .copied()
                .unwrap_or(false)
        };
        Some((0..items.len()).all(ticked))
    }

    /// Draft steps, in display order (the Drafts view lists these).
    pub fn draft_steps(&self) -> Vec<&Step> {
        self.order
            .iter()
            .filter_map(|&i| self.runbook.runbook.steps.get(i))
            .filter(|s| matches!(s.action(), Some(Action::Draft(_))))
            .collect()
    }
}

/// A step's state as drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DisplayStatus {
    Pending,
    Ready,
    Running,
    Succeeded,
    Failed,
    Skipped,
    Interrupted,
    NeedsHuman,
}

impl DisplayStatus {
    pub fn label(self) -> &'static str {
        match self {
            DisplayStatus::Pending => "pending",
            DisplayStatus::Ready => "ready",
            DisplayStatus::Running => "running",
            DisplayStatus::Succeeded => "succeeded",
            DisplayStatus::Failed => "failed",
            DisplayStatus::Skipped => "skipped",
            DisplayStatus::Interrupted => "interrupted — outcome unknown",
            DisplayStatus::NeedsHuman => "needs a human",
        }
    }
}
