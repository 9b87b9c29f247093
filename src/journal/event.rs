//! One journal line.
//!
//! ```json
//! {"seq":7,"at":"2026-11-28T03:47:11.123Z","mono_ms":84211,"actor":"alice","kind":"http.response",
//!  "step":"close-index","data":{…},"prev":"<hash of event 6>","hash":"<hex sha256>"}
//! ```
//!
//! `hash = sha256(prev ‖ canonical_json(event without "hash"))`, hex. Canonical JSON is
//! `serde_json` output of [`Event`] with `hash` omitted: struct fields in declaration order,
//! `data` object keys sorted (serde_json's default `Map` is a `BTreeMap`). The first event's
//! `prev` is 64 zeros.
//!
//! # `data` per kind (the contract between engine, TUI, incident replay and export)
//!
//! | kind | data fields |
//! | --- | --- |
//! | `incident.opened` | `incident_id`, `runbook_id`, `runbook_title`, `runbook_sha256`, `runbook_path`, `inputs` (object, non-secret), `responder`, `drill` (bool), `severity`? |
//! | `step.started` | `attempt` (1-based), `rerun` (bool, an explicit re-run of an interrupted/failed step) |
//! | `http.request` | `method`, `url` (redacted), `headers` (object, redacted), `body_sha256`?, `body_bytes`?, `item`? (foreach index), `attempt`? (poll attempt), `signed`? (`aws_sigv4 <region>/<service>`) |
//! | `http.response` | `status`, `elapsed_ms`, `bytes`, `body_sha256`, `remote_addr`?, `item`?, `attempt`?, `error`? (transport failure text, redacted; then no status) |
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
//! | `inject` | `title`, `body`, `offset` (e.g. "+14m") |
//! | `warning` | `text` (e.g. a target with `insecure = true`) |
//! | `incident.closed` | `summary`? |
//! | `journal.recovered` | `quarantined` (file name), `bytes`, `last_good_seq` |
//! | `drill.score` | scoring object (lab checks and mark durations) |

use jiff::Timestamp;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

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
        }
    }
}

impl std::fmt::Display for Kind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An event as asked for by a caller; the writer assigns seq, times and the chain.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEvent {
    pub kind: Kind,
    pub step: Option<String>,
    pub data: serde_json::Value,
    /// Who did it; `None` means the journal's default actor (the responder).
    pub actor: Option<String>,
}

impl NewEvent {
    pub fn new(kind: Kind, data: serde_json::Value) -> Self {
        Self {
            kind,
            step: None,
            data,
            actor: None,
        }
    }

    pub fn for_step(kind: Kind, step: impl Into<String>, data: serde_json::Value) -> Self {
        Self {
            kind,
            step: Some(step.into()),
            data,
            actor: None,
        }
    }
}

/// One line of `journal.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
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
    pub data: serde_json::Value,
    pub prev: String,
    #[serde(default)]
    pub hash: String,
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
    data: &'a serde_json::Value,
    prev: &'a str,
}

impl<'a> Hashed<'a> {
    pub(crate) fn of(event: &'a Event) -> Self {
        Hashed {
            seq: event.seq,
            at: &event.at,
            mono_ms: event.mono_ms,
            actor: &event.actor,
            kind: event.kind,
            step: event.step.as_deref(),
            data: &event.data,
            prev: &event.prev,
        }
    }
}

impl Event {
    /// `sha256(prev ‖ canonical JSON without hash)`, lowercase hex.
    pub fn compute_hash(&self) -> String {
        // Serializing plain data into a Vec cannot fail (no maps with non-string keys).
        let canonical = serde_json::to_vec(&Hashed::of(self)).unwrap_or_default();
        let mut hasher = Sha256::new();
        hasher.update(self.prev.as_bytes());
        hasher.update(&canonical);
        hex(&hasher.finalize())
    }

    /// A string field of `data`, if present.
    pub fn data_str(&self, field: &str) -> Option<&str> {
        self.data.get(field).and_then(serde_json::Value::as_str)
    }
}

/// Lowercase hex of bytes (hashes everywhere in stanch are written this way).
pub fn hex(bytes: &[u8]) -> String {
    // A table, not `write!("{b:02x}")` per byte: the formatter showed in profiles of long
    // foreach runs (every event's chain hash, every response body's digest).
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// SHA-256 of bytes, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lowercase_two_digits_per_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
