//! One journal line.
//!
//! ```json
//! {"seq":7,"at":"2026-11-28T03:47:11.123Z","mono_ms":84211,"actor":"alice","kind":"http.response",
//!  "step":"close-index","data":{…},"prev":"<hash of event 6>","hash":"<hex sha256>"}
//! ```
//!
//! `hash = sha256(prev ‖ canonical_json(event without "hash"))`, hex. Canonical JSON is
//! `serde_json` output of [`Event`] with `hash` omitted: struct fields in declaration order,
//! `data` object keys sorted (serde_json's default `Map` is a `BTreeMap`), except inside a
//! captured value, which is written as the text the server sent without whitespace between
//! tokens (its keys in the server's order: sorting them would need the tree a 50 MB capture
//! must not cost). The first event's `prev` is 64 zeros. The writer serializes `data` once and
//! keeps that text ([`Data`]); readers hash the text as read and, only if that does not match,
//! the text made canonical again ([`Event::hash_is_valid`]), so a hand-reformatted line still
//! verifies (one holding a capture whose object keys the server sent unsorted does not).
//!
//! # `data` per kind (summary; the types are the contract: [`super::payload`])
//!
//! | kind | data fields |
//! | --- | --- |
//! | `incident.opened` | `incident_id`, `runbook_id`, `runbook_title`, `runbook_sha256`, `runbook_path`, `inputs` (object, non-secret), `responder`, `drill` (bool), `severity`? |
//! | `step.started` | `attempt` (1-based), `rerun` (bool, an explicit re-run of an interrupted/failed step), `request`? (the attempt's request shape: `method`, `url`, `headers`) |
//! | `http.request` | `method`?, `url`? or `path`? (redacted), `headers`? (object, redacted): each absent when it is the step's `request` shape's; `body_sha256`?, `body_bytes`?, `item`? (foreach index), `attempt`? (poll attempt), `signed`? (`aws_sigv4 <region>/<service>`) |
//! | `http.response` | `status`, `elapsed_ms`, `bytes`, `body_sha256` (absent for an empty body), `remote_addr`?, `item`?, `attempt`?, `error`? (transport failure text, redacted; then no status) |
//! | `step.succeeded` | `duration_ms`, `summary` (short text), `captures` (object name → JSON value, redacted), `items`? {`total`,`failed`} |
//! | `step.failed` | `duration_ms`, `error` (what happened + what to try), `failed_expectations` ([{`expr`,`actual`}]), `items`? |
//! | `step.skipped` | `reason` |
//! | `step.interrupted` | `started_seq` (seq of the `step.started` without outcome) |
//! | `step.pending` | `reason` (manual/draft step left for a human by headless runs) |
//! | `confirm` | `expected` (rendered text), `typed_matched` (bool), `via` ("typed" or "--yes") |
//! | `checklist.ticked` | `item` (index), `text`, `checked` (bool) |
//! | `note` | `text`, `tags` ([string]; "follow-up" marks an action item) |
//! | `fact` | `text`, `occurred_at` (RFC 3339 UTC) |
//! | `fact.corrected` | `corrects` (seq of the fact), `text`, `occurred_at` |
//! | `mark` | `name` (one of `runbook::MARKS`), `at` (RFC 3339 UTC), `corrects`? (seq of an earlier mark) |
//! | `evidence.captured` | `file` (relative path), `sha256`, `bytes`, `method`, `url` (redacted), `captured_at`, `by`, `tool_version`, `remote_addr`? |
//! | `draft.saved` | `file` (relative path), `sha256`, `bytes` |
//! | `inject` | `title`, `body`, `offset` (e.g. "+14m"), `target`? (`{"team": …}` or `{"role": …}`: team drills) |
//! | `warning` | `text` (e.g. a target with `insecure = true`) |
//! | `incident.closed` | `summary`? |
//! | `journal.recovered` | `quarantined` (file name), `bytes`, `last_good_seq` |
//! | `drill.score` | scoring object (lab checks and mark durations) |
//! | `sync.merged` | `count`, `subchain_head`, `root_seq`, `conflicts` ([{`step`, `ours`, `theirs`, `by`}]): a team responder's offline events re-sequenced onto the shared chain |
//!
//! Any kind but `drill.score` may carry `data.offline` {`at`, `seq`, `mono_ms`, `hash`}: it was
//! written on a pending sub-chain while the team link was down and merged later (see
//! [`super::offline`]); typed decoding never sees that key.
//! | `inject.acknowledged` | `inject` (seq of the `inject` event) |
//! | `drill.clock` | `paused` (bool), `speed`, `scenario_ms` (scenario time at the change), `at` (when the facilitator made it): a facilitator paused, resumed or changed speed |
//! | `step.claimed` | (none: the actor holds the step; team mode, before it runs) |
//! | `step.released` | (none: the actor lets the step go) |
//! | `step.taken_over` | `from` (the holder), `reason` (typed, required) |
//! | `role.changed` | `login`, `role`, `take_over`? (reason: a take-over of command) |
//! | `checkpoint` | `seq` (last event the saved state covers), `sha256` (of the file), `format`, `file` (relative path): see [`super::checkpoint`] |

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::sync::Arc;

use serde_json::value::RawValue;
use sha2::{Digest, Sha256};

use super::payload::Payload;
pub use crate::digest::{hex, sha256_hex};
use crate::secret::Redactor;

/// The `prev` of the first event.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened. Serialized as dotted lowercase names (`step.started`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Kind {
    #[serde(rename = "incident.opened")]
    IncidentOpened,
    #[serde(rename = "step.started")]
    StepStarted,
    #[serde(rename = "http.request")]
    HttpRequest,
    #[serde(rename = "http.response")]
    HttpResponse,
    #[serde(rename = "step.succeeded")]
    StepSucceeded,
    #[serde(rename = "step.failed")]
    StepFailed,
    #[serde(rename = "step.skipped")]
    StepSkipped,
    #[serde(rename = "step.interrupted")]
    StepInterrupted,
    #[serde(rename = "step.pending")]
    StepPending,
    #[serde(rename = "confirm")]
    Confirm,
    #[serde(rename = "checklist.ticked")]
    ChecklistTicked,
    #[serde(rename = "note")]
    Note,
    #[serde(rename = "fact")]
    Fact,
    #[serde(rename = "fact.corrected")]
    FactCorrected,
    #[serde(rename = "mark")]
    Mark,
    #[serde(rename = "evidence.captured")]
    EvidenceCaptured,
    #[serde(rename = "draft.saved")]
    DraftSaved,
    #[serde(rename = "inject")]
    Inject,
    #[serde(rename = "warning")]
    Warning,
    #[serde(rename = "incident.closed")]
    IncidentClosed,
    #[serde(rename = "journal.recovered")]
    JournalRecovered,
    #[serde(rename = "drill.score")]
    DrillScore,
    #[serde(rename = "sync.merged")]
    SyncMerged,
    #[serde(rename = "inject.acknowledged")]
    InjectAcknowledged,
    #[serde(rename = "drill.clock")]
    DrillClock,
    #[serde(rename = "step.claimed")]
    StepClaimed,
    #[serde(rename = "step.released")]
    StepReleased,
    #[serde(rename = "step.taken_over")]
    StepTakenOver,
    #[serde(rename = "role.changed")]
    RoleChanged,
    #[serde(rename = "checkpoint")]
    Checkpoint,
}

impl Kind {
    /// The dotted name as written in the journal.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::IncidentOpened => "incident.opened",
            Kind::StepStarted => "step.started",
            Kind::HttpRequest => "http.request",
            Kind::HttpResponse => "http.response",
            Kind::StepSucceeded => "step.succeeded",
            Kind::StepFailed => "step.failed",
            Kind::StepSkipped => "step.skipped",
            Kind::StepInterrupted => "step.interrupted",
            Kind::StepPending => "step.pending",
            Kind::Confirm => "confirm",
            Kind::ChecklistTicked => "checklist.ticked",
            Kind::Note => "note",
            Kind::Fact => "fact",
            Kind::FactCorrected => "fact.corrected",
            Kind::Mark => "mark",
            Kind::EvidenceCaptured => "evidence.captured",
            Kind::DraftSaved => "draft.saved",
            Kind::Inject => "inject",
            Kind::Warning => "warning",
            Kind::IncidentClosed => "incident.closed",
            Kind::JournalRecovered => "journal.recovered",
            Kind::DrillScore => "drill.score",
            Kind::SyncMerged => "sync.merged",
            Kind::InjectAcknowledged => "inject.acknowledged",
            Kind::DrillClock => "drill.clock",
            Kind::StepClaimed => "step.claimed",
            Kind::StepReleased => "step.released",
            Kind::StepTakenOver => "step.taken_over",
            Kind::RoleChanged => "role.changed",
            Kind::Checkpoint => "checkpoint",
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event as asked for by a caller; the writer assigns seq, times and the chain.
///
/// Build it from a typed payload ([`NewEvent::incident`], [`NewEvent::step`]); `new` and
/// `for_step` take raw JSON for tests and tools that write journals by hand.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub kind: Kind,
    pub step: Option<String>,
    pub data: serde_json::Value,
    /// A step outcome's `captures` (name → value) as JSON text, kept out of `data` so that a
    /// 50 MB capture is never a tree; [`NewEvent::to_data`] writes them back in.
    captures: Option<String>,
    /// Who did it; `None` means the journal's default actor (the responder).
    pub actor: Option<String>,
}

impl NewEvent {
    pub fn new(kind: Kind, data: serde_json::Value) -> Self {
        Self {
            kind,
            step: None,
            data,
            captures: None,
            actor: None,
        }
    }

    pub fn for_step(kind: Kind, step: impl Into<String>, data: serde_json::Value) -> Self {
        Self {
            step: Some(step.into()),
            ..Self::new(kind, data)
        }
    }

    /// An incident-level event (no step).
    pub fn incident(payload: impl Into<Payload>) -> Self {
        let payload = payload.into();
        let kind = payload.kind();
        let (data, captures) = payload.into_wire();
        Self {
            captures,
            ..Self::new(kind, data)
        }
    }

    /// An event about one step.
    pub fn step(step: impl Into<String>, payload: impl Into<Payload>) -> Self {
        Self {
            step: Some(step.into()),
            ..Self::incident(payload)
        }
    }

    /// Mask every secret form in the string values of `data` and the captures (never in
    /// keys: see [`Redactor::redact_json`]).
    pub fn redact(&mut self, redactor: &Redactor) {
        redactor.redact_json(&mut self.data);
        if let Some(text) = &mut self.captures {
            let masked = match redactor.redact_json_text(text) {
                Cow::Owned(masked) => Some(masked),
                Cow::Borrowed(_) => None,
            };
            if let Some(masked) = masked {
                *text = masked;
            }
        }
    }

    /// `data` as written: canonical JSON text, the captures' text in its place.
    pub fn to_data(&self) -> Data {
        let captures = self.captures.as_deref().map(|text| {
            let mut room = String::with_capacity(text.len() + 4096);
            room.push_str(text);
            room
        });
        Data(Arc::new(data_text(&self.data, captures)))
    }

    /// [`NewEvent::to_data`] written into the captures' own text (which has room for the rest:
    /// see `Payload::into_wire`), so a 16 MB capture is not copied again.
    pub fn into_data(self) -> Data {
        Data(Arc::new(data_text(&self.data, self.captures)))
    }

    /// Written as `actor` instead of the journal's default.
    #[must_use]
    pub fn by(mut self, actor: impl Into<String>) -> Self {
        self.actor = Some(actor.into());
        self
    }
}

/// One line of `journal.jsonl`. `data` stays the JSON text it was read or written as (never a
/// parsed tree: a 16 MB capture costs 16 MB); [`Event::payload`] decodes it by kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Event {
    pub seq: u64,
    /// UTC wall clock, RFC 3339 with milliseconds.
    pub at: Timestamp,
    /// Monotonic milliseconds since the journal was opened by this process (orders events
    /// even if the wall clock jumps).
    pub mono_ms: u64,
    pub actor: String,
    pub kind: Kind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub step: Option<String>,
    pub data: Data,
    pub prev: String,
    #[serde(default)]
    pub hash: String,
}

impl PartialEq for Event {
    fn eq(&self, other: &Self) -> bool {
        self.seq == other.seq
            && self.at == other.at
            && self.mono_ms == other.mono_ms
            && self.actor == other.actor
            && self.kind == other.kind
            && self.step == other.step
            && self.data.get() == other.data.get()
            && self.prev == other.prev
            && self.hash == other.hash
    }
}

/// An event's `data`: its JSON text, shared, so cloning an event (the TUI's model, a step's
/// snapshot of the incident) copies no data. Always one valid JSON value: it is only made by
/// reading a raw JSON value or by serializing one.
#[derive(Clone)]
pub struct Data(Text);

/// JSON text shared by the events, captures and views that read it. An `Arc<String>`, not an
/// `Arc<str>`: it is made from the `String` it was written into without copying it (a 16 MB
/// capture or step outcome would otherwise be held twice while it is copied).
pub type Text = Arc<String>;

impl Data {
    /// The JSON text.
    pub fn get(&self) -> &str {
        &self.0
    }

    /// JSON text as it is (not made canonical), checked to be one JSON value.
    pub fn from_json(text: &str) -> Result<Self, serde_json::Error> {
        let raw: &RawValue = serde_json::from_str(text)?;
        Ok(Self(Arc::new(raw.get().to_owned())))
    }

    /// The text as a raw JSON value (a scan, no copy).
    pub(crate) fn raw(&self) -> &RawValue {
        serde_json::from_str(&self.0).unwrap_or_else(|_| null())
    }
}

fn null() -> &'static RawValue {
    serde_json::from_str("null").unwrap_or_else(|_| unreachable!("`null` is JSON"))
}

impl std::fmt::Debug for Data {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl Serialize for Data {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.raw().serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Data {
    /// Borrows the raw text from the line and copies it once (needs a borrowing deserializer,
    /// as `serde_json::from_slice`/`from_str` are).
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <&RawValue>::deserialize(deserializer).map(|raw| Self(Arc::new(raw.get().to_owned())))
    }
}

impl From<&RawValue> for Data {
    /// The raw value's text, copied once (as [`Data`]'s `Deserialize` does).
    fn from(raw: &RawValue) -> Self {
        Self(Arc::new(raw.get().to_owned()))
    }
}

impl From<serde_json::Value> for Data {
    fn from(data: serde_json::Value) -> Self {
        raw_data(&data)
    }
}

/// An event whose `data` does not decode as its kind's payload.
#[derive(Debug, thiserror::Error)]
#[error("event {seq} ({kind}): data: {source}")]
pub struct PayloadError {
    pub seq: u64,
    pub kind: Kind,
    #[source]
    pub source: serde_json::Error,
}

/// The event as hashed: every field but `hash`, in declaration order.
#[derive(Serialize)]
pub(crate) struct Hashed<'a> {
    seq: u64,
    at: &'a Timestamp,
    mono_ms: u64,
    actor: &'a str,
    kind: Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    step: Option<&'a str>,
    data: &'a RawValue,
    prev: &'a str,
}

impl<'a> Hashed<'a> {
    pub(crate) fn of(event: &'a Event, data: &'a RawValue) -> Self {
        Hashed {
            seq: event.seq,
            at: &event.at,
            mono_ms: event.mono_ms,
            actor: &event.actor,
            kind: event.kind,
            step: event.step.as_deref(),
            data,
            prev: &event.prev,
        }
    }
}

impl Event {
    /// `sha256(prev ‖ canonical JSON without hash)`, lowercase hex. `data` is hashed as the
    /// text it is: the writer wrote it canonical (sorted keys, compact); see
    /// [`Event::hash_is_valid`] for text that was re-formatted since.
    pub fn compute_hash(&self) -> String {
        self.hash_with(self.data.raw())
    }

    fn hash_with(&self, data: &RawValue) -> String {
        // Serializing plain data into a Vec cannot fail (no maps with non-string keys).
        let canonical = serde_json::to_vec(&Hashed::of(self, data)).unwrap_or_default();
        let mut hasher = Sha256::new();
        hasher.update(self.prev.as_bytes());
        hasher.update(&canonical);
        hex(&hasher.finalize())
    }

    /// Whether `hash` is this event's hash: over `data` as read, else over `data` made
    /// canonical again (a line whose JSON was re-formatted still verifies, as it always did).
    pub fn hash_is_valid(&self) -> bool {
        if self.compute_hash() == self.hash {
            return true;
        }
        serde_json::from_str::<serde_json::Value>(self.data.get())
            .ok()
            .and_then(|tree| serde_json::value::to_raw_value(&tree).ok())
            .is_some_and(|canonical| self.hash_with(&canonical) == self.hash)
    }

    /// The typed `data`; a step outcome's captures share this event's `data` text (see
    /// [`Payload::decode_shared`]).
    pub fn payload(&self) -> Result<Payload, PayloadError> {
        let data = super::offline::without(self.kind, &self.data.0);
        Payload::decode_shared(self.kind, &data).map_err(|source| PayloadError {
            seq: self.seq,
            kind: self.kind,
            source,
        })
    }

    /// The typed `data` for showing the event: a step outcome comes without its captures
    /// (see [`Payload::decode_without_captures`]).
    pub fn payload_for_words(&self) -> Result<Payload, PayloadError> {
        let data = super::offline::without(self.kind, &self.data.0);
        Payload::decode_without_captures(self.kind, &data).map_err(|source| PayloadError {
            seq: self.seq,
            kind: self.kind,
            source,
        })
    }

    /// Where this event was first written, when it was written offline and merged later
    /// (`data.offline`, see [`super::offline`]).
    pub fn offline(&self) -> Option<super::payload::Offline> {
        super::offline::read(self.kind, self.data.get())
    }

    /// `data` as a JSON tree, built on each call: for tests and tools, never for replay.
    pub fn data_value(&self) -> serde_json::Value {
        serde_json::from_str(self.data.get()).unwrap_or_default()
    }
}

const CAPTURES: &str = "{\"captures\":";

/// `data` with `captures` (JSON text of an object) as its first key, where canonical order
/// puts it: no other field of a step outcome sorts before `captures` (tested in
/// `payload`). Written into the captures' text itself, in place when it has room.
fn data_text(data: &serde_json::Value, captures: Option<String>) -> String {
    let rest = serde_json::to_string(data).unwrap_or_default();
    let Some(mut text) = captures else {
        return rest;
    };
    let rest = rest.strip_prefix('{').unwrap_or(&rest);
    text.insert_str(0, CAPTURES);
    if rest != "}" {
        text.push(',');
    }
    text.push_str(rest);
    text
}

/// `data` for an event: canonical JSON text (sorted keys, compact), as the writer makes it
/// and as tests and tools building events by hand need it.
pub fn raw_data(data: &serde_json::Value) -> Data {
    Data(Arc::new(serde_json::to_string(data).unwrap_or_default()))
}

#[cfg(test)]
impl Event {
    /// An event for unit tests: at the epoch, `mono_ms` = seq, no `prev`, its hash computed.
    pub(crate) fn for_test(
        seq: u64,
        actor: &str,
        kind: Kind,
        step: Option<&str>,
        data: serde_json::Value,
    ) -> Event {
        let mut e = Event {
            seq,
            at: Timestamp::UNIX_EPOCH,
            mono_ms: seq,
            actor: actor.into(),
            kind,
            step: step.map(str::to_owned),
            data: data.into(),
            prev: String::new(),
            hash: String::new(),
        };
        e.hash = e.compute_hash();
        e
    }
}
