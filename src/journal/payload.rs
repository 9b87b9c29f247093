//! The typed `data` of every journal kind: one payload struct per [`Kind`], gathered in
//! [`Payload`]. This is the contract between the engine, the TUI, incident replay and the
//! exports; JSON is only its wire format.
//!
//! - Writing: build a payload struct, turn it into a [`NewEvent`](super::NewEvent) with
//!   [`NewEvent::incident`](super::NewEvent::incident) or
//!   [`NewEvent::step`](super::NewEvent::step); the writer redacts and serializes it.
//! - Reading: [`Event::payload`](super::Event::payload) decodes an event's `data` by its kind.
//!   Nothing outside the journal module reads event JSON by key.
//!
//! Decoding is as tolerant as the journals already on disk need (absent fields take their
//! defaults, as replay always did) and strict about what no stanch ever wrote: an unknown field
//! is an error naming it (`deny_unknown_fields`), except in `drill.score`, whose shape the lab
//! owns. Field names and JSON types are exactly those of the journals written before the payloads
//! were typed, so every existing hash chain still verifies (tests/fixtures/journal).
//!
//! Captured values ([`Capture`]) stay raw JSON text, shared, never a parsed tree: one 16 MB
//! capture costs 16 MB once, however many places (step record, `vars`, timeline) hold it.

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::event::{Kind, Text};

mod capture;
pub mod exchange;
pub use capture::{Capture, Captures, Minified};
pub use exchange::{HttpRequest, HttpResponse, RequestShape, Shapes};

/// `incident.opened`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IncidentOpened {
    pub incident_id: String,
    pub runbook_id: String,
    pub runbook_title: String,
    pub runbook_sha256: String,
    /// Canonical (absolute) path, so the incident finds its runbook from any directory.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub runbook_path: Option<String>,
    /// Non-secret inputs.
    pub inputs: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub responder: Option<String>,
    pub drill: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub severity: Option<String>,
    /// Drills: the scenario's title.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scenario: Option<String>,
    /// Drills: the time compression factor.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub speed: Option<f64>,
}

/// `step.started`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StepStarted {
    /// 1-based.
    pub attempt: u32,
    /// An explicit re-run of an interrupted or failed step.
    pub rerun: bool,
    /// What this attempt's requests share (its first request's method, URL and headers);
    /// each `http.request` then carries only what differs ([`exchange`]).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<RequestShape>,
}

/// foreach totals of a finished step.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Items {
    pub total: u64,
    pub failed: u64,
}

/// One expectation that did not hold.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FailedExpectation {
    pub expr: String,
    pub actual: String,
}

/// `step.succeeded`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StepSucceeded {
    pub duration_ms: u64,
    pub summary: String,
    pub captures: Captures,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Items>,
}

/// `step.failed`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StepFailed {
    pub duration_ms: u64,
    /// What happened and what to try.
    pub error: String,
    pub failed_expectations: Vec<FailedExpectation>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub items: Option<Items>,
    /// Never written by stanch; read because replay always honoured it.
    #[serde(skip_serializing_if = "Captures::is_empty")]
    pub captures: Captures,
}

/// `step.skipped`, `step.pending` (a manual or draft step left for a person).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Reason {
    pub reason: String,
}

/// `step.interrupted`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StepInterrupted {
    /// The `step.started` left without an outcome.
    pub started_seq: u64,
}

/// How a confirmation was given.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Via {
    #[default]
    #[serde(rename = "typed")]
    Typed,
    #[serde(rename = "--yes")]
    AssumeYes,
}

impl Via {
    pub fn as_str(self) -> &'static str {
        match self {
            Via::Typed => "typed",
            Via::AssumeYes => "--yes",
        }
    }
}

/// `confirm`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Confirm {
    /// The rendered text the responder had to type.
    pub expected: String,
    pub typed_matched: bool,
    pub via: Via,
}

impl Confirm {
    pub fn new(expected: String, via: Via) -> Self {
        Self {
            expected,
            typed_matched: via == Via::Typed,
            via,
        }
    }
}

/// `checklist.ticked`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ChecklistTicked {
    pub item: u64,
    pub text: String,
    pub checked: bool,
}

impl Default for ChecklistTicked {
    fn default() -> Self {
        // Journals before `checked` existed only recorded ticks.
        Self {
            item: 0,
            text: String::new(),
            checked: true,
        }
    }
}

/// `note`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Note {
    pub text: String,
    /// `follow-up` marks an action item.
    pub tags: Vec<String>,
}

/// `fact`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Fact {
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<Timestamp>,
}

/// `fact.corrected`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FactCorrected {
    /// Seq of the fact.
    pub corrects: u64,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub occurred_at: Option<Timestamp>,
}

/// `mark`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Mark {
    /// One of `runbook::MARKS`.
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub at: Option<Timestamp>,
    /// Seq of the mark this one corrects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corrects: Option<u64>,
}

/// `evidence.captured`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct EvidenceCaptured {
    /// Relative to the incident directory.
    pub file: String,
    pub sha256: String,
    pub bytes: u64,
    pub method: String,
    /// Redacted.
    pub url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub captured_at: Option<Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by: Option<String>,
    pub tool_version: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_addr: Option<String>,
    /// The stored body is the masked form of the original.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub redacted: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub original_sha256: Option<String>,
}

/// `draft.saved`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DraftSaved {
    /// Relative to the incident directory.
    pub file: String,
    pub sha256: String,
    pub bytes: u64,
}

/// `inject` (a drill scenario's message).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Inject {
    pub title: String,
    pub body: String,
    /// e.g. `+14m`.
    pub offset: String,
    /// Team drills: who the inject is for (absent: everyone on the incident).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub target: Option<InjectTarget>,
}

/// The roles of a team (the team database checks the same list).
pub const TEAM_ROLES: &[&str] = &[
    "commander",
    "ops",
    "comms",
    "scribe",
    "observer",
    "facilitator",
];

/// Who a team drill's inject is for: a whole team, or one role in it ([`TEAM_ROLES`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase", deny_unknown_fields)]
pub enum InjectTarget {
    Team(String),
    Role(String),
}

impl std::fmt::Display for InjectTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            InjectTarget::Team(team) => write!(f, "team {team}"),
            InjectTarget::Role(role) => write!(f, "role {role}"),
        }
    }
}

/// `warning`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Warning {
    pub text: String,
}

/// `incident.closed`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct IncidentClosed {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub summary: Option<String>,
}

/// `journal.recovered`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct JournalRecovered {
    /// File name of the quarantined tail.
    pub quarantined: String,
    pub bytes: u64,
    pub last_good_seq: u64,
}

/// `drill.score`: the lab's scoring object, whose shape the lab owns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct DrillScore(pub Value);

/// `sync.merged`: a team responder's pending sub-chain (written while the link was down),
/// re-sequenced onto the shared chain just before this event.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SyncMerged {
    /// Events of the sub-chain now on the shared chain (each with `data.offline`).
    pub count: u64,
    /// Local hash of the sub-chain's last event.
    pub subchain_head: String,
    /// The shared-chain seq the sub-chain was rooted at (the last verified server head).
    pub root_seq: u64,
    /// Steps done twice: by this responder offline and by a teammate meanwhile.
    pub conflicts: Vec<Conflict>,
}

/// A step done twice: this responder worked it offline while a teammate worked it online.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Conflict {
    pub step: String,
    /// Shared seq of this responder's first merged event on the step.
    pub ours: u64,
    /// Shared seq of the teammate's first event on the step after the sub-chain's root.
    pub theirs: u64,
    /// The teammate.
    pub by: String,
}

/// `data.offline` of a merged event: where it was first written (not a kind of its own).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Offline {
    // Fields in key order: `data` is canonical JSON, keys sorted at every level.
    /// Its original time.
    pub at: Timestamp,
    /// Its hash on the pending sub-chain.
    pub hash: String,
    /// Its original `mono_ms`.
    pub mono_ms: u64,
    /// Its seq on the pending sub-chain.
    pub seq: u64,
}

/// `inject.acknowledged`: a player read an inject.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct InjectAcknowledged {
    /// Seq of the `inject` event.
    pub inject: u64,
}

/// `drill.clock`: a facilitator paused, resumed or changed the speed of a team drill; the
/// clock's whole state after the change, so any reader can place later injects in scenario time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DrillClock {
    pub paused: bool,
    pub speed: f64,
    /// Scenario time at the change, in milliseconds since the drill started.
    pub scenario_ms: u64,
    /// When the facilitator made the change: the same instant in every team's incident (each
    /// event's own `at` is when it reached that chain).
    pub at: Timestamp,
}

/// `step.claimed`, `step.released`: the actor takes or lets go of a step (team mode). The
/// data is empty: who is the event's actor, which step is its `step`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Claim {}

/// `step.taken_over`: the actor takes a step someone else holds, explicitly and with a reason.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StepTakenOver {
    /// Who held it.
    pub from: String,
    /// Why (typed by the responder; required).
    pub reason: String,
}

/// `role.changed`: `login` now has `role` in this incident. Handing over command is
/// `role: "commander"` for the new commander, by the current one; `take_over` (a reason)
/// marks a responder taking command themselves without a hand-over.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RoleChanged {
    pub login: String,
    pub role: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub take_over: Option<String>,
}

/// `checkpoint`: the folded state through `seq` was saved in `file` (see
/// [`super::checkpoint`]); its SHA-256 and format here let a reader trust the file only when
/// it is the one the chain recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Checkpoint {
    /// The last event whose effect the saved state includes (always before this event).
    pub seq: u64,
    /// SHA-256 of the file's bytes, hex.
    pub sha256: String,
    /// The file's format version ([`super::checkpoint::FORMAT`] when written).
    pub format: u32,
    /// Relative to the incident directory: `checkpoints/<seq>.json`.
    pub file: String,
}

macro_rules! payloads {
    ($($variant:ident($ty:ty)),* $(,)?) => {
        /// The decoded `data` of an event, by kind.
        #[derive(Debug, Clone, PartialEq)]
        pub enum Payload {
            $($variant($ty),)*
        }

        impl Payload {
            /// The kind this payload is written as.
            pub fn kind(&self) -> Kind {
                match self {
                    $(Payload::$variant(_) => Kind::$variant,)*
                }
            }

            /// Decode `data` as the payload of `kind`.
            pub fn decode(kind: Kind, data: &str) -> Result<Self, serde_json::Error> {
                Ok(match kind {
                    $(Kind::$variant => Payload::$variant(serde_json::from_str(data)?),)*
                })
            }

            /// The wire JSON, with a step outcome's `captures` apart as JSON text (never a
            /// tree: see [`Capture`]); [`NewEvent`](super::NewEvent) writes them back in.
            pub fn into_wire(mut self) -> (Value, Option<String>) {
                let captures = match &mut self {
                    Payload::StepSucceeded(p) => Some(std::mem::take(&mut p.captures)),
                    Payload::StepFailed(p) if !p.captures.is_empty() => {
                        Some(std::mem::take(&mut p.captures))
                    }
                    _ => None,
                };
                let mut data = self.to_value();
                let captures = captures.map(|captures| {
                    if let Value::Object(map) = &mut data {
                        map.remove("captures");
                    }
                    // Each capture is written as the raw JSON text it is: no tree, into a
                    // buffer of about its size (a 14 MB list grown by doubling takes 16 MB)
                    // with room for the rest of `data` (`NewEvent::into_data` ends it there).
                    let size = captures
                        .iter()
                        .map(|(name, c)| name.len() + c.json().len() + 4)
                        .sum::<usize>();
                    let mut text = Vec::with_capacity(size + 4096);
                    serde_json::to_writer(&mut text, &captures)
                        .ok()
                        .and_then(|()| String::from_utf8(text).ok())
                        .unwrap_or_else(|| "{}".to_owned())
                });
                (data, captures)
            }

            /// The wire JSON (a `Value`, so the writer can redact it before it is chained).
            pub fn to_value(&self) -> Value {
                // Plain data with string keys: serializing cannot fail.
                match self {
                    $(Payload::$variant(p) => serde_json::to_value(p).unwrap_or_default(),)*
                }
            }
        }
    };
}

payloads! {
    IncidentOpened(IncidentOpened),
    StepStarted(StepStarted),
    HttpRequest(HttpRequest),
    HttpResponse(HttpResponse),
    StepSucceeded(StepSucceeded),
    StepFailed(StepFailed),
    StepSkipped(Reason),
    StepInterrupted(StepInterrupted),
    StepPending(Reason),
    Confirm(Confirm),
    ChecklistTicked(ChecklistTicked),
    Note(Note),
    Fact(Fact),
    FactCorrected(FactCorrected),
    Mark(Mark),
    EvidenceCaptured(EvidenceCaptured),
    DraftSaved(DraftSaved),
    Inject(Inject),
    Warning(Warning),
    IncidentClosed(IncidentClosed),
    JournalRecovered(JournalRecovered),
    DrillScore(DrillScore),
    SyncMerged(SyncMerged),
    InjectAcknowledged(InjectAcknowledged),
    DrillClock(DrillClock),
    StepClaimed(Claim),
    StepReleased(Claim),
    StepTakenOver(StepTakenOver),
    RoleChanged(RoleChanged),
    Checkpoint(Checkpoint),
}

/// Payloads of one kind convert straight into [`Payload`]; `Reason` and `Claim` serve two
/// kinds each, so they are wrapped by hand (`Payload::StepSkipped(..)`,
/// `Payload::StepClaimed(Claim {})`).
macro_rules! into_payload {
    ($($ty:ident),* $(,)?) => {
        $(impl From<$ty> for Payload {
            fn from(p: $ty) -> Self {
                Payload::$ty(p)
            }
        })*
    };
}

into_payload! {
    IncidentOpened, StepStarted, HttpRequest, HttpResponse, StepSucceeded, StepFailed,
    StepInterrupted, Confirm, ChecklistTicked, Note, Fact, FactCorrected, Mark,
    EvidenceCaptured, DraftSaved, Inject, Warning, IncidentClosed, JournalRecovered, DrillScore,
    SyncMerged,
    InjectAcknowledged, DrillClock,
    StepTakenOver, RoleChanged,
    Checkpoint,
}

/// A step outcome with its captures borrowed from the text: skipped or shared, never copied.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
#[derive(Default)]
struct OutcomeText<'a> {
    duration_ms: u64,
    summary: String,
    error: String,
    failed_expectations: Vec<FailedExpectation>,
    items: Option<Items>,
    #[serde(borrow)]
    captures: std::collections::BTreeMap<String, &'a serde_json::value::RawValue>,
}

impl Payload {
    /// [`Payload::decode`], but a step outcome comes without its captures (empty): for
    /// describing events, which never shows them, a 16 MB capture is scanned, not copied.
    pub fn decode_without_captures(kind: Kind, data: &str) -> Result<Self, serde_json::Error> {
        Self::decode_outcome(kind, data, |_| Captures::new())
    }

    /// [`Payload::decode`] of an event's shared `data`: a step outcome's captures are parts
    /// of that text, not copies of them.
    pub fn decode_shared(kind: Kind, data: &Text) -> Result<Self, serde_json::Error> {
        Self::decode_outcome(kind, data, |raw| {
            raw.into_iter()
                .map(|(name, raw)| (name, Capture::shared(data, raw)))
                .collect()
        })
    }

    fn decode_outcome<'a>(
        kind: Kind,
        data: &'a str,
        captures: impl FnOnce(
            std::collections::BTreeMap<String, &'a serde_json::value::RawValue>,
        ) -> Captures,
    ) -> Result<Self, serde_json::Error> {
        if !matches!(kind, Kind::StepSucceeded | Kind::StepFailed) {
            return Self::decode(kind, data);
        }
        let text: OutcomeText<'a> = serde_json::from_str(data)?;
        let captures = captures(text.captures);
        Ok(if kind == Kind::StepSucceeded {
            Payload::StepSucceeded(StepSucceeded {
                duration_ms: text.duration_ms,
                summary: text.summary,
                captures,
                items: text.items,
            })
        } else {
            Payload::StepFailed(StepFailed {
                duration_ms: text.duration_ms,
                error: text.error,
                failed_expectations: text.failed_expectations,
                items: text.items,
                captures,
            })
        })
    }

    pub fn skipped(reason: impl Into<String>) -> Self {
        Payload::StepSkipped(Reason {
            reason: reason.into(),
        })
    }

    pub fn pending(reason: impl Into<String>) -> Self {
        Payload::StepPending(Reason {
            reason: reason.into(),
        })
    }

    pub fn claimed() -> Self {
        Payload::StepClaimed(Claim {})
    }

    pub fn released() -> Self {
        Payload::StepReleased(Claim {})
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn an_unknown_field_is_named() {
        let err = Payload::decode(Kind::Note, r#"{"text":"x","colour":"red"}"#).unwrap_err();
        assert!(err.to_string().contains("unknown field `colour`"), "{err}");
    }

    #[test]
    fn absent_fields_take_the_defaults_replay_always_used() {
        let Payload::ChecklistTicked(t) = Payload::decode(Kind::ChecklistTicked, "{}").unwrap()
        else {
            panic!("wrong variant");
        };
        assert!(t.checked);
        let Payload::StepFailed(f) = Payload::decode(Kind::StepFailed, "{}").unwrap() else {
            panic!("wrong variant");
        };
        assert_eq!((f.error.as_str(), f.items), ("", None));
    }

    #[test]
    fn payloads_round_trip_through_the_wire_form() {
        let succeeded = Payload::StepSucceeded(StepSucceeded {
            duration_ms: 3,
            summary: "ok".into(),
            captures: [("ids".to_owned(), Capture::from(json!(["a", {"b": 1}])))].into(),
            items: Some(Items {
                total: 2,
                failed: 0,
            }),
        });
        let wire = succeeded.to_value();
        assert_eq!(
            wire,
            json!({"duration_ms": 3, "summary": "ok", "captures": {"ids": ["a", {"b": 1}]},
                   "items": {"total": 2, "failed": 0}})
        );
        let back = Payload::decode(Kind::StepSucceeded, &wire.to_string()).unwrap();
        assert_eq!(back, succeeded);
        let confirm = Payload::from(Confirm::new("customers".into(), Via::AssumeYes)).to_value();
        assert_eq!(
            confirm,
            json!({"expected": "customers", "typed_matched": false, "via": "--yes"})
        );
    }

    #[test]
    fn an_outcome_is_written_canonically_with_its_captures_as_text() {
        let captures: Captures = [
            ("b".to_owned(), Capture::from(json!({"z": 1, "a": [2]}))),
            ("a".to_owned(), Capture::from(json!("x"))),
        ]
        .into();
        let outcomes = [
            Payload::from(StepSucceeded {
                duration_ms: 3,
                summary: "ok".into(),
                captures: captures.clone(),
                items: Some(Items {
                    total: 2,
                    failed: 0,
                }),
            }),
            Payload::from(StepSucceeded::default()),
            Payload::from(StepFailed {
                error: "e".into(),
                failed_expectations: vec![FailedExpectation::default()],
                captures,
                ..StepFailed::default()
            }),
            Payload::from(StepFailed::default()),
        ];
        for payload in outcomes {
            // As a tree would write it: `captures` first, every key sorted.
            let canonical = payload.to_value().to_string();
            let data = super::super::NewEvent::step("s", payload).into_data();
            assert_eq!(data.get(), canonical);
        }
    }

    #[test]
    fn an_outcome_can_be_read_without_its_captures() {
        let data = r#"{"duration_ms":3,"summary":"ok","captures":{"big":[1,2,3]}}"#;
        let Payload::StepSucceeded(light) =
            Payload::decode_without_captures(Kind::StepSucceeded, data).unwrap()
        else {
            panic!("wrong variant");
        };
        assert_eq!((light.summary.as_str(), light.captures.len()), ("ok", 0));
        let err = Payload::decode_without_captures(Kind::StepFailed, r#"{"colour":1}"#);
        assert!(
            err.unwrap_err()
                .to_string()
                .contains("unknown field `colour`")
        );
    }
}
