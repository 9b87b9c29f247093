//! [`App`]: the TUI's whole model. Plain data, mutated only by `update`, read by `view`.
//!
//! The incident itself is the replayed [`Incident`]: every journal event the process learns of
//! is folded in with `Incident::apply`, in seq order (a small reorder buffer absorbs events
//! that arrive out of order from concurrent tasks), so the screen shows exactly what the
//! journal says. The incident keeps no events (see [`Incident::drop_timeline`]): the Timeline
//! view's rows come from the pager, one screen at a time ([`TimelineState`]). What the journal
//! does not know (which steps this process is running, the open dialog, the cursor) lives
//! beside it.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;

use jiff::Timestamp;
use jiff::tz::TimeZone;

use super::dialog::{Confirm, Fact, Mark, Note, Skip, TakeOver};
use super::error::TuiError;
use super::input::Input;
use super::keymap;
use super::msg::InjectMsg;
use crate::engine::Preview;
use crate::incident::{Incident, Overlay, StepStatus};
use crate::journal::Event;
use crate::runbook::{Action, Loaded, Step};
use crate::timeline::{Anchor, Page, Query};

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

/// The Timeline view's state. The events themselves stay on disk: the view asks the pager
/// (run by the event loop) for a [`Query`] and shows the [`Page`] it answers with, so the
/// model holds one screen of rows whatever the journal's length.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TimelineState {
    pub filter: Input,
    pub editing_filter: bool,
    /// Where the view stands, as the pager last normalised it ([`Anchor::Tail`] follows new
    /// events).
    pub anchor: Anchor,
    /// The pager's latest answer: the rows on screen. `None` until the first arrives.
    pub page: Option<Page>,
    /// The last query sent to the pager (answers to older ones are dropped).
    sent: Option<Query>,
    /// `sent` as answered: with the anchor the pager normalised it to.
    settled: Option<Query>,
}

impl TimelineState {
    /// The query for a view of `height` rows over events `1..=upto`, if the pager has not been
    /// asked it yet (it is then recorded as sent).
    pub fn ask(&mut self, height: usize, upto: u64) -> Option<Query> {
        let query = Query {
            anchor: self.anchor,
            filter: self.filter.value().to_lowercase(),
            height: height.max(1),
            upto,
        };
        if let Some(page) = self.page.as_ref().filter(|p| p.query == query) {
            // Answered already (a key asked again for where the view just was).
            self.anchor = page.anchor;
            return None;
        }
        if self.settled.as_ref() == Some(&query) || self.unanswered() == Some(&query) {
            return None;
        }
        self.sent = Some(query.clone());
        Some(query)
    }

    /// The last query sent, while no answer to it has arrived.
    pub fn unanswered(&self) -> Option<&Query> {
        self.sent
            .as_ref()
            .filter(|sent| self.page.as_ref().map(|p| &p.query) != Some(*sent))
    }

    /// Take the pager's answer, if it answers the last query sent.
    pub fn receive(&mut self, page: Page) {
        if self.sent.as_ref() != Some(&page.query) {
            return;
        }
        self.anchor = page.anchor;
        self.settled = Some(Query {
            anchor: page.anchor,
            ..page.query.clone()
        });
        self.page = Some(page);
    }

    /// Move the view for a key, from the rows on screen: by a row, by a screen, or to either
    /// end. Nothing moves while everything fits on one screen.
    pub fn navigate(&mut self, action: keymap::Action, height: usize) {
        use keymap::Action;
        let rows = self.page.as_ref().map_or(&[][..], |p| p.rows.as_slice());
        let (Some(first), Some(last)) = (rows.first(), rows.last()) else {
            match action {
                Action::First => self.anchor = Anchor::Top(1),
                Action::Last => self.anchor = Anchor::Tail,
                _ => {}
            }
            return;
        };
        let full = rows.len() >= height.max(1);
        self.anchor = match action {
            Action::First => Anchor::Top(1),
            Action::Last => Anchor::Tail,
            _ if !full => return,
            Action::Up => Anchor::Bottom(
                rows.len()
                    .checked_sub(2)
                    .map_or(first.seq - 1, |i| rows[i].seq),
            ),
            Action::Down => Anchor::Top(rows.get(1).map_or(last.seq + 1, |r| r.seq)),
            Action::PageUp => Anchor::Bottom(first.seq - 1),
            Action::PageDown => Anchor::Top(last.seq + 1),
            _ => return,
        };
    }
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

    /// Rows the Timeline view shows: the screen less the status bar, the key hints and the
    /// view's title line (the layout in `view`).
    pub fn timeline_height(&self) -> usize {
        usize::from(self.size.1.saturating_sub(3)).max(1)
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
        // (The Timeline pages the mirror from disk, so a rebuilt view moves nothing there;
        // pending events are not in the mirror and show on the status line, not the Timeline.)
        self.pending_events.insert(event.seq, event);
        while let Some(next) = self.pending_events.remove(&(seq(self) + 1)) {
            self.overlay.push_shared(&mut self.incident, [next]);
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
