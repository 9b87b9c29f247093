//! An incident as the journal tells it: the replayed, derived state that the TUI, the headless
//! runner and every exporter read.
//!
//! [`Incident::apply`] folds one [`Event`] into the state; replay is `apply` over the journal,
//! and the live TUI calls the same `apply` for each event as it is synced, so what the screen
//! shows and what a post-mortem says can never disagree.
//!
//! A step whose `step.started` has no outcome stays [`StepStatus::Running`] here; whoever
//! reopens a journal after a crash turns those into `step.interrupted` events (see
//! [`Incident::unfinished_steps`]) and the responder decides whether to re-run them.

use std::collections::BTreeMap;

use indexmap::IndexMap;
use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use crate::journal::{Event, Kind};

/// Where a step stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Default)]
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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedExpectation {
    pub expr: String,
    pub actual: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ResponseSummary {
    pub status: Option<u16>,
    pub elapsed_ms: u64,
    pub bytes: u64,
    pub error: Option<String>,
}

/// Everything the journal says about one step.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
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
    pub captures: serde_json::Map<String, Value>,
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
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Fact {
    pub seq: u64,
    pub text: String,
    pub occurred_at: Option<Timestamp>,
    pub recorded_at: Timestamp,
    pub actor: String,
    /// Later corrections, oldest first (both the fact and its corrections are kept).
    pub corrections: Vec<Correction>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Mark {
    pub name: String,
    pub at: Timestamp,
    pub seq: u64,
    pub actor: String,
    pub step: Option<String>,
    /// Earlier values this mark replaced (corrections keep history).
    pub previous: Vec<Timestamp>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
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

#[derive(Debug, Clone, PartialEq, Serialize)]
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

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DraftVersion {
    pub seq: u64,
    pub at: Timestamp,
    pub step: Option<String>,
    pub file: String,
    pub sha256: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inject {
    pub seq: u64,
    pub at: Timestamp,
    pub title: String,
    pub body: String,
    pub offset: String,
}

/// The replayed incident.
#[derive(Debug, Clone, Default, Serialize)]
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
    pub inputs: serde_json::Map<String, Value>,
    /// Captures of all steps (`vars` in templates).
    pub vars: serde_json::Map<String, Value>,
    pub marks: BTreeMap<String, Mark>,
    /// Keyed by step id, in order of first appearance in the journal.
    pub steps: IndexMap<String, StepRecord>,
    pub facts: Vec<Fact>,
    pub notes: Vec<Note>,
    pub evidence: Vec<Evidence>,
    pub drafts: Vec<DraftVersion>,
    pub injects: Vec<Inject>,
    pub warnings: Vec<String>,
    pub closed_at: Option<Timestamp>,
    pub score: Option<Value>,
    pub recovered: Vec<Value>,
    pub last_seq: u64,
    pub last_hash: String,
    /// Every event, in order (the timeline). Empty after [`Incident::drop_timeline`].
    pub events: Vec<Event>,
    /// Callers that never show a timeline (headless runs) keep no events.
    #[serde(skip)]
    timeless: bool,
}

fn ts(value: Option<&Value>) -> Option<Timestamp> {
    value.and_then(Value::as_str).and_then(|s| s.parse().ok())
}

fn text(value: Option<&Value>) -> String {
    value.and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn num(value: Option<&Value>) -> Option<u64> {
    value.and_then(Value::as_u64)
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

    /// Stop keeping events for the timeline (and drop those kept): for callers that only need
    /// the state, such as a headless run, whose memory then does not grow with every event.
    pub fn drop_timeline(&mut self) {
        self.timeless = true;
        self.events = Vec::new();
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

    /// Fold one event into the state.
    #[expect(
        clippy::too_many_lines,
        reason = "one arm per journal kind; typed payloads (issue 12 item 1) shrink it"
    )]
    pub fn apply(&mut self, mut event: Event) {
        // Without a timeline the event is dropped after this: move its captures (a foreach
        // can capture a list of ten thousand) instead of copying them.
        let taken = if self.timeless {
            event.data.get_mut("captures").map(Value::take)
        } else {
            None
        };
        let data = &event.data;
        if !self.responders.contains(&event.actor) {
            self.responders.push(event.actor.clone());
        }
        match event.kind {
            Kind::IncidentOpened => {
                self.id = text(data.get("incident_id"));
                self.runbook_id = text(data.get("runbook_id"));
                self.runbook_title = text(data.get("runbook_title"));
                self.runbook_sha256 = text(data.get("runbook_sha256"));
                self.runbook_path = data
                    .get("runbook_path")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                self.severity = data
                    .get("severity")
                    .and_then(Value::as_str)
                    .map(str::to_owned);
                self.responder = data
                    .get("responder")
                    .and_then(Value::as_str)
                    .map_or_else(|| event.actor.clone(), str::to_owned);
                self.drill = data.get("drill").and_then(Value::as_bool).unwrap_or(false);
                self.inputs = data
                    .get("inputs")
                    .and_then(Value::as_object)
                    .cloned()
                    .unwrap_or_default();
                self.opened_at = Some(event.at);
            }
            Kind::StepStarted => {
                if let Some(rec) = self.step_mut(&event) {
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
            Kind::HttpRequest => {
                if let Some(rec) = self.step_mut(&event) {
                    rec.requests += 1;
                }
            }
            Kind::HttpResponse => {
                if let Some(rec) = self.step_mut(&event) {
                    rec.last_response = Some(ResponseSummary {
                        status: num(data.get("status")).and_then(|s| u16::try_from(s).ok()),
                        elapsed_ms: num(data.get("elapsed_ms")).unwrap_or_default(),
                        bytes: num(data.get("bytes")).unwrap_or_default(),
                        error: data.get("error").and_then(Value::as_str).map(str::to_owned),
                    });
                }
            }
            Kind::StepSucceeded | Kind::StepFailed => {
                let captures = match taken {
                    Some(Value::Object(map)) => map,
                    _ => data
                        .get("captures")
                        .and_then(Value::as_object)
                        .cloned()
                        .unwrap_or_default(),
                };
                for (k, v) in &captures {
                    self.vars.insert(k.clone(), v.clone());
                }
                if let Some(rec) = self.step_mut(&event) {
                    rec.status = if event.kind == Kind::StepSucceeded {
                        StepStatus::Succeeded
                    } else {
                        StepStatus::Failed
                    };
                    rec.finished_at = Some(event.at);
                    rec.duration_ms = num(data.get("duration_ms"));
                    rec.summary = data
                        .get("summary")
                        .and_then(Value::as_str)
                        .map(str::to_owned);
                    rec.error = data.get("error").and_then(Value::as_str).map(str::to_owned);
                    rec.captures = captures;
                    rec.failed_expectations = data
                        .get("failed_expectations")
                        .and_then(Value::as_array)
                        .map(|list| {
                            list.iter()
                                .map(|f| FailedExpectation {
                                    expr: text(f.get("expr")),
                                    actual: text(f.get("actual")),
                                })
                                .collect()
                        })
                        .unwrap_or_default();
                    rec.items = data.get("items").map(|i| {
                        (
                            num(i.get("total")).unwrap_or_default(),
                            num(i.get("failed")).unwrap_or_default(),
                        )
                    });
                }
            }
            Kind::StepSkipped => {
                if let Some(rec) = self.step_mut(&event) {
                    rec.status = StepStatus::Skipped;
                    rec.finished_at = Some(event.at);
                    rec.skip_reason = Some(text(data.get("reason")));
                }
            }
            Kind::StepInterrupted => {
                if let Some(rec) = self.step_mut(&event) {
                    rec.status = StepStatus::Interrupted;
                }
            }
            Kind::StepPending => {
                if let Some(rec) = self.step_mut(&event) {
                    rec.status = StepStatus::NeedsHuman;
                    rec.pending_reason = Some(text(data.get("reason")));
                }
            }
            Kind::Confirm => {
                if let Some(rec) = self.step_mut(&event) {
                    rec.confirmed_via = Some(text(data.get("via")));
                }
            }
            Kind::ChecklistTicked => {
                if let Some(rec) = self.step_mut(&event) {
                    let checked = data.get("checked").and_then(Value::as_bool).unwrap_or(true);
                    rec.checklist
                        .insert(num(data.get("item")).unwrap_or_default(), checked);
                }
            }
            Kind::Note => self.notes.push(Note {
                seq: event.seq,
                at: event.at,
                actor: event.actor.clone(),
                step: event.step.clone(),
                text: text(data.get("text")),
                tags: data
                    .get("tags")
                    .and_then(Value::as_array)
                    .map(|t| {
                        t.iter()
                            .filter_map(Value::as_str)
                            .map(str::to_owned)
                            .collect()
                    })
                    .unwrap_or_default(),
            }),
            Kind::Fact => self.facts.push(Fact {
                seq: event.seq,
                text: text(data.get("text")),
                occurred_at: ts(data.get("occurred_at")),
                recorded_at: event.at,
                actor: event.actor.clone(),
                corrections: Vec::new(),
            }),
            Kind::FactCorrected => {
                let target = num(data.get("corrects"));
                if let Some(fact) = self.facts.iter_mut().find(|f| Some(f.seq) == target) {
                    fact.corrections.push(Correction {
                        seq: event.seq,
                        text: text(data.get("text")),
                        occurred_at: ts(data.get("occurred_at")),
                        recorded_at: event.at,
                        actor: event.actor.clone(),
                    });
                }
            }
            Kind::Mark => {
                let name = text(data.get("name"));
                let at = ts(data.get("at")).unwrap_or(event.at);
                let previous = self.marks.get(&name).map(|m| {
                    let mut p = m.previous.clone();
                    p.push(m.at);
                    p
                });
                self.marks.insert(
                    name.clone(),
                    Mark {
                        name,
                        at,
                        seq: event.seq,
                        actor: event.actor.clone(),
                        step: event.step.clone(),
                        previous: previous.unwrap_or_default(),
                    },
                );
            }
            Kind::EvidenceCaptured => {
                let sha = text(data.get("sha256"));
                if let Some(rec) = self.step_mut(&event) {
                    rec.evidence.push(sha.clone());
                }
                self.evidence.push(Evidence {
                    seq: event.seq,
                    step: event.step.clone(),
                    file: text(data.get("file")),
                    sha256: sha,
                    bytes: num(data.get("bytes")).unwrap_or_default(),
                    method: text(data.get("method")),
                    url: text(data.get("url")),
                    captured_at: ts(data.get("captured_at")).unwrap_or(event.at),
                    by: data
                        .get("by")
                        .and_then(Value::as_str)
                        .map_or_else(|| event.actor.clone(), str::to_owned),
                    tool_version: text(data.get("tool_version")),
                    remote_addr: data
                        .get("remote_addr")
                        .and_then(Value::as_str)
                        .map(str::to_owned),
                });
            }
            Kind::DraftSaved => self.drafts.push(DraftVersion {
                seq: event.seq,
                at: event.at,
                step: event.step.clone(),
                file: text(data.get("file")),
                sha256: text(data.get("sha256")),
                bytes: num(data.get("bytes")).unwrap_or_default(),
            }),
            Kind::Inject => self.injects.push(Inject {
                seq: event.seq,
                at: event.at,
                title: text(data.get("title")),
                body: text(data.get("body")),
                offset: text(data.get("offset")),
            }),
            Kind::Warning => self.warnings.push(text(data.get("text"))),
            Kind::IncidentClosed => self.closed_at = Some(event.at),
            Kind::JournalRecovered => self.recovered.push(data.clone()),
            Kind::DrillScore => self.score = Some(data.clone()),
        }
        self.last_seq = event.seq;
        self.last_hash.clone_from(&event.hash);
        if !self.timeless {
            self.events.push(event);
        }
    }

    fn step_mut(&mut self, event: &Event) -> Option<&mut StepRecord> {
        let id = event.step.as_ref()?;
        Some(self.steps.entry(id.clone()).or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event(seq: u64, kind: Kind, step: &str, data: Value) -> Event {
        let mut e = Event {
            seq,
            at: jiff::Timestamp::UNIX_EPOCH,
            mono_ms: seq,
            actor: "alice".into(),
            kind,
            step: Some(step.into()),
            data,
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
        assert_eq!(lean.vars["tokens"], json!(["a", "b"]));
        assert_eq!(full.steps, lean.steps);
        assert_eq!(lean.step("list").captures["tokens"], json!(["a", "b"]));
        assert_eq!((full.events.len(), lean.events.len()), (2, 0));
        assert_eq!(
            (lean.last_seq, lean.last_hash.as_str()),
            (2, full.last_hash.as_str())
        );
    }
}
