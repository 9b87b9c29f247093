//! An incident as the journal tells it: the replayed, derived state that the TUI, the headless
//! runner and every exporter read.
//!
//! [`Incident::apply`] folds one [`Event`]'s typed payload into the state; replay is `apply`
//! over the journal, and the live TUI calls the same `apply` for each event as it is synced, so
//! what the screen shows and what a post-mortem says can never disagree. Captured values stay
//! JSON text shared between the step record, `vars` and the timeline's event: memory follows
//! the journal, not the shape of what was captured.
//!
//! Also here, because every reader needs them the same way: [`describe`] (an event in words,
//! for the TUI timeline and the exports) and [`Incident::notification_window`] (the 72-hour
//! rule, stopped at `notified`).
//!
//! A step whose `step.started` has no outcome stays [`StepStatus::Running`] here; whoever
//! reopens a journal after a crash turns those into `step.interrupted` events (see
//! [`Incident::unfinished_steps`]) and the responder decides whether to re-run them.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::journal::Event;
use crate::journal::lean::Exchange;
pub use crate::journal::payload::{Capture, Captures, FailedExpectation};
use crate::journal::payload::{
    DrillClock, InjectTarget, Items, JournalRecovered, Payload, SyncMerged,
};

mod describe;
mod overlay;
pub mod team;
mod window;
pub use describe::{conflict_line, describe, describe_payload, given_time, mark_label, short_hash};
pub use overlay::Overlay;
pub use team::Team;
pub use window::{NOTIFICATION_WINDOW_HOURS, Window, WindowState};

/// Where a step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum StepStatus {
    /// Not started (whether it is *ready* depends on its `needs`; see [`Incident::is_ready`]).
    #[default]
    Pending,
    Running,
    Succeeded,
    Failed,
    Skipped,
    /// Started before a crash, outcome unknown: never re-sent without a decision.
    Interrupted,
    /// A manual or draft step that headless runs left for a person.
    NeedsHuman,
}

impl StepStatus {
    pub fn is_done(self) -> bool {
        matches!(self, StepStatus::Succeeded | StepStatus::Skipped)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            StepStatus::Pending => "pending",
            StepStatus::Running => "running",
            StepStatus::Succeeded => "succeeded",
            StepStatus::Failed => "failed",
            StepStatus::Skipped => "skipped",
            StepStatus::Interrupted => "interrupted",
            StepStatus::NeedsHuman => "needs human",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResponseSummary {
    pub status: Option<u16>,
    pub elapsed_ms: u64,
    pub bytes: u64,
    pub error: Option<String>,
}

/// Everything the journal says about one step.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StepRecord {
    pub status: StepStatus,
    pub attempts: u32,
    pub started_at: Option<Timestamp>,
    pub started_seq: Option<u64>,
    pub finished_at: Option<Timestamp>,
    pub duration_ms: Option<u64>,
    pub summary: Option<String>,
    pub error: Option<String>,
    pub failed_expectations: Vec<FailedExpectation>,
    pub captures: Captures,
    pub skip_reason: Option<String>,
    pub pending_reason: Option<String>,
    /// SHA-256 of evidence files captured by this step.
    pub evidence: Vec<String>,
    pub last_response: Option<ResponseSummary>,
    pub requests: u64,
    /// Manual checklist: item index → checked.
    pub checklist: BTreeMap<u64, bool>,
    /// foreach: (total, failed).
    pub items: Option<(u64, u64)>,
    pub confirmed_via: Option<String>,
    /// Who typed (or passed `--yes` for) the confirmation: the `confirm` event's actor.
    pub confirmed_by: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    pub seq: u64,
    pub text: String,
    pub occurred_at: Option<Timestamp>,
    pub recorded_at: Timestamp,
    pub actor: String,
    /// Later corrections, oldest first (both the fact and its corrections are kept).
    pub corrections: Vec<Correction>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Correction {
    pub seq: u64,
    pub text: String,
    pub occurred_at: Option<Timestamp>,
    pub recorded_at: Timestamp,
    pub actor: String,
}

impl Fact {
    /// The current version: the latest correction, else the fact as first recorded.
    pub fn current(&self) -> (&str, Option<Timestamp>) {
        self.corrections
            .last()
            .map_or((self.text.as_str(), self.occurred_at), |c| {
                (c.text.as_str(), c.occurred_at)
            })
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Mark {
    pub name: String,
    pub at: Timestamp,
    pub seq: u64,
    pub actor: String,
    pub step: Option<String>,
    /// Earlier values this mark replaced (corrections keep history).
    pub previous: Vec<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Note {
    pub seq: u64,
    pub at: Timestamp,
    pub actor: String,
    pub step: Option<String>,
    pub text: String,
    pub tags: Vec<String>,
}

impl Note {
    pub fn is_follow_up(&self) -> bool {
        self.tags.iter().any(|t| t == "follow-up")
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    pub seq: u64,
    pub step: Option<String>,
    pub file: String,
    pub sha256: String,
    pub bytes: u64,
    pub method: String,
    pub url: String,
    pub captured_at: Timestamp,
    pub by: String,
    pub tool_version: String,
    pub remote_addr: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DraftVersion {
    pub seq: u64,
    pub at: Timestamp,
    pub step: Option<String>,
    pub file: String,
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Inject {
    pub seq: u64,
    pub at: Timestamp,
    pub title: String,
    pub body: String,
    pub offset: String,
    /// Team drills: the team or role it is for.
    pub target: Option<InjectTarget>,
    /// Team drills: who acknowledged it (`inject.acknowledged`), in order, each once.
    pub acknowledged_by: Vec<String>,
}

/// A step's closing event, whichever the outcome.
struct Outcome {
    status: StepStatus,
    duration_ms: u64,
    summary: Option<String>,
    error: Option<String>,
    failed_expectations: Vec<FailedExpectation>,
    captures: Captures,
    items: Option<Items>,
}

/// A team responder's offline sub-chain merged onto the shared chain (`sync.merged`): the
/// commander reads `merged.conflicts`, steps done twice, from here.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Merge {
    pub seq: u64,
    pub at: Timestamp,
    /// Who was offline.
    pub actor: String,
    pub merged: SyncMerged,
}

/// What a replayed incident keeps besides its state.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    /// The events folded, for a timeline (the TUI until it pages from disk).
    Timeline,
    /// State only (headless runs, scoring, checkpoints).
    State,
    /// State without captured values (`stanch list`).
    Summary,
}

/// The replayed incident. Its serde form is the folded state without the timeline (`events`
/// and the keep flags are skipped): what a checkpoint saves (see `store::checkpoint`).
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Incident {
    pub id: String,
    pub runbook_id: String,
    pub runbook_title: String,
    pub runbook_sha256: String,
    pub runbook_path: Option<String>,
    pub severity: Option<String>,
    pub opened_at: Option<Timestamp>,
    pub responder: String,
    /// Everyone who acted, in order of first appearance.
    pub responders: Vec<String>,
    pub drill: bool,
    /// Drills: the time compression factor `incident.opened` recorded.
    #[serde(default)]
    pub speed: Option<f64>,
    pub inputs: serde_json::Map<String, Value>,
    /// Captures of all steps (`vars` in templates), shared with the step records.
    pub vars: Captures,
    pub marks: BTreeMap<String, Mark>,
    /// Keyed by step id, in order of first appearance in the journal.
    pub steps: IndexMap<String, StepRecord>,
    pub facts: Vec<Fact>,
    pub notes: Vec<Note>,
    pub evidence: Vec<Evidence>,
    pub drafts: Vec<DraftVersion>,
    pub injects: Vec<Inject>,
    /// A team drill's clock changes (`drill.clock`), in journal order: scoring turns wall
    /// time into scenario time with them, so they are state, not timeline (a facilitator's
    /// handful per exercise). Absent from a checkpoint when there are none; drill clocks occur
    /// only on team chains, which are folded from the database, not from checkpoints.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub clock: Vec<DrillClock>,
    pub warnings: Vec<String>,
    pub closed_at: Option<Timestamp>,
    pub score: Option<Value>,
    pub recovered: Vec<JournalRecovered>,
    /// Offline sub-chains merged (team mode), in order.
    pub merges: Vec<Merge>,
    /// Claims and roles (team mode; see [`team`]).
    #[serde(default, skip_serializing_if = "Team::is_empty")]
    pub team: Team,
    /// Events whose data did not decode as their kind (each error names the seq and field).
    pub unreadable: Vec<String>,
    pub last_seq: u64,
    pub last_hash: String,
    /// The last event's time (what "now" means in a draft).
    #[serde(default)]
    pub last_at: Option<Timestamp>,
    /// The events folded by this process, in order (the timeline; only those after the
    /// checkpoint when the state was loaded from one). Empty after [`Incident::drop_timeline`].
    #[serde(skip)]
    pub events: Vec<Event>,
    /// Callers that never show a timeline (headless runs) keep no events.
    #[serde(skip)]
    timeless: bool,
    /// Callers that only summarise (`list`) keep no captures.
    #[serde(skip)]
    captureless: bool,
}

impl Incident {
    /// Replay a whole journal.
    pub fn replay(events: impl IntoIterator<Item = Event>) -> Self {
        let mut incident = Self::default();
        for event in events {
            incident.apply(event);
        }
        incident
    }

    /// An empty incident to fold events into, keeping what `keep` says.
    pub fn keeping(keep: Keep) -> Self {
        let mut incident = Self::default();
        incident.keep(keep);
        incident
    }

    /// From now on keep what `keep` says (a state loaded from a checkpoint is set this way
    /// before its tail is folded in); [`Keep::Summary`] also drops the captures held.
    pub fn keep(&mut self, keep: Keep) {
        match keep {
            Keep::Timeline => self.timeless = false,
            Keep::State => self.drop_timeline(),
            Keep::Summary => {
                self.drop_timeline();
                self.captureless = true;
                self.vars = Captures::new();
                for step in self.steps.values_mut() {
                    step.captures = Captures::new();
                }
            }
        }
    }

    /// Stop keeping events for the timeline (and drop those kept): for callers that only need
    /// the state, such as a headless run, whose memory then does not grow with every event.
    pub fn drop_timeline(&mut self) {
        self.timeless = true;
        self.events = Vec::new();
    }

    /// A replay for a summary (`stanch list`): states, marks and the opening, but neither the
    /// timeline nor any captured value, so its memory does not grow with what steps captured.
    pub fn summarise(events: impl IntoIterator<Item = Event>) -> Self {
        let mut incident = Self::keeping(Keep::Summary);
        for event in events {
            incident.apply(event);
        }
        incident
    }

    /// The record of a step (default: pending, never seen).
    pub fn step(&self, id: &str) -> StepRecord {
        self.steps.get(id).cloned().unwrap_or_default()
    }

    pub fn status(&self, id: &str) -> StepStatus {
        self.steps.get(id).map_or(StepStatus::Pending, |s| s.status)
    }

    /// A step is ready when it has not run and every step it needs succeeded or was skipped.
    pub fn is_ready(&self, step: &crate::runbook::Step) -> bool {
        matches!(
            self.status(step.id()),
            StepStatus::Pending | StepStatus::Failed
        ) && step.needs().all(|n| self.status(n).is_done())
    }

    /// Steps started with no outcome (after a crash: interrupted, outcome unknown).
    pub fn unfinished_steps(&self) -> Vec<(String, u64)> {
        self.steps
            .iter()
            .filter(|(_, s)| s.status == StepStatus::Running)
            .map(|(id, s)| (id.clone(), s.started_seq.unwrap_or_default()))
            .collect()
    }

    /// Fold one event into the state. An event whose data does not decode as its kind stays
    /// on the timeline, changes nothing else and is listed in [`Incident::unreadable`].
    pub fn apply(&mut self, event: Event) {
        if !self.responders.contains(&event.actor) {
            self.responders.push(event.actor.clone());
        }
        let payload = if self.captureless {
            event.payload_for_words()
        } else {
            event.payload()
        };
        match payload {
            Ok(payload) => self.apply_payload(&event, payload),
            Err(err) => self.unreadable.push(err.to_string()),
        }
        self.last_seq = event.seq;
        self.last_hash.clone_from(&event.hash);
        self.last_at = Some(event.at);
        if !self.timeless {
            self.events.push(event);
        }
    }

    #[expect(
        clippy::too_many_lines,
        reason = "one arm per journal kind, each a few lines of typed folding"
    )]
    fn apply_payload(&mut self, event: &Event, payload: Payload) {
        self.team.apply(event, &payload);
        match payload {
            Payload::IncidentOpened(p) => {
                self.id = p.incident_id;
                self.runbook_id = p.runbook_id;
                self.runbook_title = p.runbook_title;
                self.runbook_sha256 = p.runbook_sha256;
                self.runbook_path = p.runbook_path;
                self.severity = p.severity;
                self.responder = p.responder.unwrap_or_else(|| event.actor.clone());
                self.drill = p.drill;
                self.speed = p.speed;
                self.inputs = p.inputs;
                self.opened_at = Some(event.at);
            }
            Payload::StepStarted(_) => {
                if let Some(rec) = self.step_mut(event) {
                    rec.status = StepStatus::Running;
                    rec.attempts += 1;
                    rec.started_at = Some(event.at);
                    rec.started_seq = Some(event.seq);
                    rec.finished_at = None;
                    rec.error = None;
                    rec.failed_expectations.clear();
                    rec.items = None;
                }
            }
            Payload::HttpRequest(_) | Payload::HttpResponse(_) => {
                if let Some(step) = &event.step {
                    self.apply_http(step, &payload);
                }
            }
            Payload::StepSucceeded(p) => self.finish(
                event,
                Outcome {
                    status: StepStatus::Succeeded,
                    duration_ms: p.duration_ms,
                    summary: Some(p.summary),
                    error: None,
                    failed_expectations: Vec::new(),
                    captures: p.captures,
                    items: p.items,
                },
            ),
            Payload::StepFailed(p) => self.finish(
                event,
                Outcome {
                    status: StepStatus::Failed,
                    duration_ms: p.duration_ms,
                    summary: None,
                    error: Some(p.error),
                    failed_expectations: p.failed_expectations,
                    captures: p.captures,
                    items: p.items,
                },
            ),
            Payload::StepSkipped(p) => {
                if let Some(rec) = self.step_mut(event) {
                    rec.status = StepStatus::Skipped;
                    rec.finished_at = Some(event.at);
                    rec.skip_reason = Some(p.reason);
                }
            }
            Payload::StepInterrupted(_) => {
                if let Some(rec) = self.step_mut(event) {
                    rec.status = StepStatus::Interrupted;
                }
            }
            Payload::StepPending(p) => {
                if let Some(rec) = self.step_mut(event) {
                    rec.status = StepStatus::NeedsHuman;
                    rec.pending_reason = Some(p.reason);
                }
            }
            Payload::Confirm(p) => {
                if let Some(rec) = self.step_mut(event) {
                    rec.confirmed_via = Some(p.via.as_str().to_owned());
                    rec.confirmed_by = Some(event.actor.clone());
                }
            }
            Payload::ChecklistTicked(p) => {
                if let Some(rec) = self.step_mut(event) {
                    rec.checklist.insert(p.item, p.checked);
                }
            }
            Payload::Note(p) => self.notes.push(Note {
                seq: event.seq,
                at: event.at,
                actor: event.actor.clone(),
                step: event.step.clone(),
                text: p.text,
                tags: p.tags,
            }),
            Payload::Fact(p) => self.facts.push(Fact {
                seq: event.seq,
                text: p.text,
                occurred_at: p.occurred_at,
                recorded_at: event.at,
                actor: event.actor.clone(),
                corrections: Vec::new(),
            }),
            Payload::FactCorrected(p) => {
                if let Some(fact) = self.facts.iter_mut().find(|f| f.seq == p.corrects) {
                    fact.corrections.push(Correction {
                        seq: event.seq,
                        text: p.text,
                        occurred_at: p.occurred_at,
                        recorded_at: event.at,
                        actor: event.actor.clone(),
                    });
                }
            }
            Payload::Mark(p) => {
                let mut previous = Vec::new();
                if let Some(old) = self.marks.remove(&p.name) {
                    previous = old.previous;
                    previous.push(old.at);
                }
                self.marks.insert(
                    p.name.clone(),
                    Mark {
                        name: p.name,
                        at: p.at.unwrap_or(event.at),
                        seq: event.seq,
                        actor: event.actor.clone(),
                        step: event.step.clone(),
                        previous,
                    },
                );
            }
            Payload::EvidenceCaptured(p) => {
                if let Some(rec) = self.step_mut(event) {
                    rec.evidence.push(p.sha256.clone());
                }
                self.evidence.push(Evidence {
                    seq: event.seq,
                    step: event.step.clone(),
                    file: p.file,
                    sha256: p.sha256,
                    bytes: p.bytes,
                    method: p.method,
                    url: p.url,
                    captured_at: p.captured_at.unwrap_or(event.at),
                    by: p.by.unwrap_or_else(|| event.actor.clone()),
                    tool_version: p.tool_version,
                    remote_addr: p.remote_addr,
                });
            }
            Payload::DraftSaved(p) => self.drafts.push(DraftVersion {
                seq: event.seq,
                at: event.at,
                step: event.step.clone(),
                file: p.file,
                sha256: p.sha256,
                bytes: p.bytes,
            }),
            Payload::Inject(p) => self.injects.push(Inject {
                seq: event.seq,
                at: event.at,
                title: p.title,
                body: p.body,
                offset: p.offset,
                target: p.target,
                acknowledged_by: Vec::new(),
            }),
            Payload::Warning(p) => self.warnings.push(p.text),
            Payload::IncidentClosed(_) => self.closed_at = Some(event.at),
            Payload::JournalRecovered(p) => self.recovered.push(p),
            Payload::DrillScore(p) => self.score = Some(p.0),
            Payload::SyncMerged(merged) => self.merges.push(Merge {
                seq: event.seq,
                at: event.at,
                actor: event.actor.clone(),
                merged,
            }),
            Payload::InjectAcknowledged(p) => {
                if let Some(inject) = self.injects.iter_mut().find(|i| i.seq == p.inject)
                    && !inject.acknowledged_by.contains(&event.actor)
                {
                    inject.acknowledged_by.push(event.actor.clone());
                }
            }
            Payload::DrillClock(clock) => self.clock.push(clock),
            // Claims and roles are folded by `team` above.
            Payload::StepClaimed(_)
            | Payload::StepReleased(_)
            | Payload::StepTakenOver(_)
            | Payload::RoleChanged(_)
            // Bookkeeping: the state is what it was; only the position moves.
            | Payload::Checkpoint(_) => {}
        }
    }

    /// A step's outcome: its record, and its captures into `vars` (shared, not copied).
    fn finish(&mut self, event: &Event, outcome: Outcome) {
        for (name, value) in &outcome.captures {
            self.vars.insert(name.clone(), value.clone());
        }
        if let Some(rec) = self.step_mut(event) {
            rec.status = outcome.status;
            rec.finished_at = Some(event.at);
            rec.duration_ms = Some(outcome.duration_ms);
            rec.summary = outcome.summary;
            rec.error = outcome.error;
            rec.captures = outcome.captures;
            rec.failed_expectations = outcome.failed_expectations;
            rec.items = outcome.items.map(|i| (i.total, i.failed));
        }
    }

    fn step_mut(&mut self, event: &Event) -> Option<&mut StepRecord> {
        Some(self.step_record(event.step.as_deref()?))
    }

    /// A step's record, made on its first mention (the id is copied only then: a foreach
    /// folds a million exchanges into one record).
    fn step_record(&mut self, id: &str) -> &mut StepRecord {
        match self.steps.get_index_of(id) {
            Some(index) => &mut self.steps[index],
            None => self.steps.entry(id.to_owned()).or_default(),
        }
    }

    /// Fold a foreach exchange read without its event ([`journal::lean`]): what
    /// [`Incident::apply`] does with that event, which is not kept for a timeline.
    ///
    /// [`journal::lean`]: crate::journal::lean
    pub fn apply_exchange(&mut self, exchange: &Exchange) {
        if !self.responders.iter().any(|r| **r == *exchange.actor) {
            self.responders.push(exchange.actor.to_string());
        }
        self.apply_http(&exchange.step, &exchange.payload);
        self.last_seq = exchange.seq;
        self.last_hash.clear();
        self.last_hash.push_str(exchange.hash());
        self.last_at = Some(exchange.at);
    }

    /// An `http.request` counts a request of its step; an `http.response` is its last.
    fn apply_http(&mut self, step: &str, payload: &Payload) {
        match payload {
            Payload::HttpRequest(_) => self.step_record(step).requests += 1,
            Payload::HttpResponse(p) => {
                self.step_record(step).last_response = Some(ResponseSummary {
                    status: p.status,
                    elapsed_ms: p.elapsed_ms,
                    bytes: p.bytes.unwrap_or_default(),
                    error: p.error.clone(),
                });
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Kind;
    use serde_json::json;

    fn event(seq: u64, kind: Kind, step: &str, data: Value) -> Event {
        let mut e = Event {
            seq,
            at: jiff::Timestamp::UNIX_EPOCH,
            mono_ms: seq,
            actor: "alice".into(),
            kind,
            step: Some(step.into()),
            data: data.into(),
            prev: String::new(),
            hash: String::new(),
        };
        e.hash = e.compute_hash();
        e
    }

    #[test]
    fn without_a_timeline_the_state_is_the_same_and_no_event_is_kept() {
        let events = [
            event(
                1,
                Kind::StepStarted,
                "list",
                json!({ "attempt": 1, "rerun": false }),
            ),
            event(
                2,
                Kind::StepSucceeded,
                "list",
                json!({ "duration_ms": 3, "summary": "ok", "captures": { "tokens": ["a", "b"] } }),
            ),
        ];
        let full = Incident::replay(events.clone());
        let mut lean = Incident::default();
        lean.drop_timeline();
        for e in events {
            lean.apply(e);
        }
        assert_eq!(full.vars, lean.vars);
        assert_eq!(lean.vars["tokens"].to_value(), json!(["a", "b"]));
        assert_eq!(full.steps, lean.steps);
        assert_eq!(
            lean.step("list").captures["tokens"].to_value(),
            json!(["a", "b"])
        );
        assert_eq!((full.events.len(), lean.events.len()), (2, 0));
        assert_eq!(
            (lean.last_seq, lean.last_hash.as_str()),
            (2, full.last_hash.as_str())
        );
    }
}
