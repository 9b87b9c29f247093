//! The post-mortem as one plain value: [`build`] derives everything the three formats show
//! (summary, impact, durations between marks, the 72-hour window and every notification
//! deadline, the review sections, timeline rows, steps, evidence, drafts, action items with
//! owner and due date, a drill's times beside the reference case) from the replayed
//! [`Incident`] and the [`Sources`].
//!
//! [`Report`] is also the JSON export: its `serde` field names are the documented, versioned
//! schema (`schema/postmortem.schema.json`). Renaming a field is a schema change: bump
//! [`SCHEMA_VERSION`]. This module must not format for a particular output (no Markdown or
//! HTML here) and must not read files or the clock.

pub mod actions;
mod comparison;
pub mod exchanges;
pub mod impact;
pub mod measures;
pub mod review;
mod rows;
pub mod spill;
pub mod time;
pub mod timeline;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

pub use actions::ActionItem;
pub use comparison::ComparisonRow;
pub use review::{Entry, Review, Section};
pub use rows::summarise_value;
pub use time::{human_duration, offset_label};

use super::Sources;
use crate::draft::deadline::{self, Deadline};
use crate::incident::{Incident, StepStatus};
use crate::journal::Event;
use crate::journal::lean::Exchange;

/// Version of the JSON export's shape. Bump on any incompatible change.
pub const SCHEMA_VERSION: u32 = 1;

/// The word stamped on every drill export.
pub const DRILL_WATERMARK: &str = "DRILL";

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub schema_version: u32,
    /// `stanch <version>`, so a reader knows which tool derived the figures.
    pub generator: String,
    pub drill: bool,
    /// `"DRILL"` for drills, absent for real incidents.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub watermark: Option<String>,
    pub summary: Summary,
    /// The blameless post-mortem's sections: what the journal says, and prompts for the rest.
    pub review: Review,
    pub impact: Vec<ImpactItem>,
    pub marks: Vec<MarkRow>,
    /// Between consecutive marks, in the order of `runbook::MARKS`.
    pub durations: Vec<DurationRow>,
    /// Headline measures (time to contain, to rotate, …) where both marks exist.
    pub metrics: Vec<DurationRow>,
    pub notification_window: Option<NotificationWindow>,
    /// Every notification duty from `aware`, judged at notification or at `as_of`.
    pub deadlines: Vec<Deadline>,
    /// Every event's row (the JSON export's full per-exchange record), a streamed journal's
    /// foreach exchanges read back from disk as it is written ([`timeline::Timeline`]).
    pub timeline: timeline::Timeline,
    /// Each foreach step's exchanges summarised, for the Markdown and HTML timeline
    /// ([`timeline::lines`]); not part of the JSON schema, whose `timeline` has every exchange.
    #[serde(skip)]
    pub exchanges: Vec<exchanges::ExchangeSummary>,
    pub steps: Vec<StepRow>,
    pub notes: Vec<NoteRow>,
    /// Notes tagged `follow-up`, with owner and due date where the note gives them.
    pub action_items: Vec<ActionItem>,
    pub evidence: Vec<EvidenceRow>,
    pub journal: JournalSeal,
    pub drafts: Vec<DraftRow>,
    pub injects: Vec<InjectRow>,
    pub warnings: Vec<String>,
    /// The drill score as the lab recorded it (`drill.score`), unchanged.
    pub score: Option<Value>,
    /// A drill's times beside the reference case's, from the score.
    pub comparison: Vec<ComparisonRow>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub incident_id: String,
    pub title: String,
    pub runbook_id: String,
    pub runbook_sha256: String,
    pub runbook_path: Option<String>,
    /// The runbook's own summary line, when the runbook file was available.
    pub runbook_summary: Option<String>,
    pub severity: Option<String>,
    pub responder: String,
    /// Everyone who acted, in order of first appearance.
    pub responders: Vec<String>,
    pub opened_at: Option<Timestamp>,
    pub closed_at: Option<Timestamp>,
    /// `open` or `closed`.
    pub state: String,
    /// The last journal event's time: what "now" means in this report.
    pub as_of: Option<Timestamp>,
    pub inputs: serde_json::Map<String, Value>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ImpactItem {
    pub label: String,
    pub value: u64,
    /// How the figure was derived, so a reader can check it.
    pub source: String,
    pub step: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MarkRow {
    pub name: String,
    pub label: String,
    pub at: Timestamp,
    pub seq: u64,
    pub set_by: String,
    pub step: Option<String>,
    /// Earlier values this mark replaced.
    pub previous: Vec<Timestamp>,
}

#[derive(Debug, Clone, Serialize)]
pub struct DurationRow {
    pub label: String,
    pub from: String,
    pub to: String,
    pub from_at: Timestamp,
    pub to_at: Timestamp,
    pub seconds: i64,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct NotificationWindow {
    pub aware_at: Timestamp,
    pub deadline: Timestamp,
    pub notified_at: Option<Timestamp>,
    /// `met`, `missed`, `open` (not notified yet, time left) or `overdue`.
    pub status: String,
    /// Seconds from awareness to notification (or to `as_of` while open).
    pub used_seconds: i64,
    /// Seconds left at notification (or at `as_of`); negative once past the deadline.
    pub remaining_seconds: i64,
    pub text: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct TimelineRow {
    pub seq: u64,
    /// When it happened: the event time, or for facts and back-dated marks the time given.
    #[serde(serialize_with = "time::serialize_recent")]
    pub at: Timestamp,
    /// `T+hh:mm:ss` from the opening (`T-` for things that happened before).
    pub offset: String,
    pub offset_ms: i64,
    /// When the journal recorded it.
    #[serde(serialize_with = "time::serialize_recent")]
    pub recorded_at: Timestamp,
    /// True when `at` was given by a person rather than taken from the clock.
    pub backdated: bool,
    pub actor: String,
    pub kind: &'static str,
    pub step: Option<String>,
    pub text: String,
    /// Corrections of a fact, shown beside it (their own events are folded in here).
    pub corrections: Vec<CorrectionRow>,
    /// The foreach item of an exchange row (summarised per step in Markdown and HTML).
    #[serde(skip)]
    pub item: Option<u64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CorrectionRow {
    pub seq: u64,
    pub text: String,
    pub occurred_at: Option<Timestamp>,
    pub recorded_at: Timestamp,
    pub actor: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepRow {
    pub id: String,
    pub title: String,
    pub phase: Option<String>,
    pub status: StepStatus,
    pub attempts: u32,
    pub started_at: Option<Timestamp>,
    pub finished_at: Option<Timestamp>,
    pub duration_ms: Option<u64>,
    pub summary: Option<String>,
    pub error: Option<String>,
    pub failed_expectations: Vec<FailedExpectationRow>,
    pub skip_reason: Option<String>,
    pub pending_reason: Option<String>,
    pub items: Option<Items>,
    pub requests: u64,
    pub evidence: Vec<String>,
    pub confirmed_via: Option<String>,
    /// `draft.saved` events of this step (a draft step has no other outcome until posted).
    pub drafts_saved: u32,
    /// Captured values, summarised: lists and objects by size, long text cut, so an export
    /// never dumps thousands of captured tokens.
    pub captures: Vec<CaptureRow>,
}

/// One piece of a step's "Detail" cell, for the Markdown and HTML renderers alike: they
/// differ only in how they mark a capture's name up and join the pieces.
pub enum Detail<'a> {
    /// Plain text, not yet escaped.
    Text(String),
    Capture(&'a CaptureRow),
}

impl StepRow {
    /// The Detail cell, in order: summary, error, skip/pending reasons, confirmation, drafts
    /// saved, foreach items, captures.
    pub fn detail(&self) -> Vec<Detail<'_>> {
        let mut out = Vec::new();
        for (label, value) in [
            ("", self.summary.as_deref()),
            ("error: ", self.error.as_deref()),
            ("skipped: ", self.skip_reason.as_deref()),
            ("left for a person: ", self.pending_reason.as_deref()),
            ("confirmed via ", self.confirmed_via.as_deref()),
        ] {
            if let Some(v) = value.filter(|v| !v.is_empty()) {
                out.push(Detail::Text(format!("{label}{v}")));
            }
        }
        if self.drafts_saved > 0 {
            out.push(Detail::Text(format!(
                "draft saved {} time(s)",
                self.drafts_saved
            )));
        }
        if let Some(items) = self.items {
            out.push(Detail::Text(format!(
                "{} items, {} failed",
                time::grouped(items.total),
                time::grouped(items.failed)
            )));
        }
        out.extend(self.captures.iter().map(Detail::Capture));
        out
    }

    /// The Duration cell: whole seconds, humanised, or a dash.
    pub fn duration_text(&self) -> String {
        self.duration_ms.map_or_else(
            || "—".to_owned(),
            |ms| time::human_duration(i64::try_from(ms / 1000).unwrap_or(i64::MAX)),
        )
    }
}

impl Report {
    /// Every failed expectation with the step it belongs to, in step order.
    pub fn failed_expectations(&self) -> impl Iterator<Item = (&StepRow, &FailedExpectationRow)> {
        self.steps
            .iter()
            .flat_map(|s| s.failed_expectations.iter().map(move |f| (s, f)))
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct FailedExpectationRow {
    pub expr: String,
    pub actual: String,
}

#[derive(Debug, Clone, Copy, Serialize)]
pub struct Items {
    pub total: u64,
    pub failed: u64,
}

#[derive(Debug, Clone, Serialize)]
pub struct CaptureRow {
    pub name: String,
    pub value: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct NoteRow {
    pub seq: u64,
    pub at: Timestamp,
    pub actor: String,
    pub step: Option<String>,
    pub text: String,
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvidenceRow {
    pub seq: u64,
    pub step: Option<String>,
    pub file: String,
    pub sha256: String,
    pub bytes: u64,
    /// The request that produced it, URL as journalled (redacted).
    pub method: String,
    pub url: String,
    pub captured_at: Timestamp,
    pub by: String,
    pub tool_version: String,
    pub remote_addr: Option<String>,
}

/// What a reader needs to check the export against the journal (`stanch verify`).
#[derive(Debug, Clone, Serialize)]
pub struct JournalSeal {
    pub events: u64,
    pub final_seq: u64,
    pub final_hash: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct DraftRow {
    pub step: Option<String>,
    pub file: String,
    /// SHA-256 of the last `draft.saved` for this file.
    pub sha256: String,
    pub bytes: u64,
    pub saved_at: Timestamp,
    pub versions: u32,
    /// `verified` (file matches the last saved hash), `modified` (differs) or `missing`.
    pub check: String,
    /// The file's text when it could be read (also when modified: the reader is told).
    pub content: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct InjectRow {
    pub seq: u64,
    pub at: Timestamp,
    pub offset: String,
    pub title: String,
    pub body: String,
}

/// Derive the post-mortem from a replayed incident.
pub fn build(incident: &Incident, sources: &Sources) -> Report {
    let mut timeline = timeline::Rows::default();
    for event in &incident.events {
        timeline.push(event, &incident.facts);
    }
    assemble(incident, sources, timeline)
}

/// Builds a report while a journal streams past, keeping memory proportional to the report
/// rather than to the journal: each event is folded into the incident and turned into its
/// timeline row, then dropped (the incident's own copy of the event list stays empty). A
/// foreach step's exchange rows go where `keep` says ([`timeline::Keep`]): with
/// [`timeline::Keep::Spilled`] or [`timeline::Keep::Summaries`] memory does not grow with
/// the number of items.
#[derive(Default)]
pub struct Builder {
    incident: Incident,
    timeline: timeline::Rows,
}

impl Builder {
    pub fn new(keep: timeline::Keep) -> std::io::Result<Self> {
        Ok(Self {
            incident: Incident::default(),
            timeline: timeline::Rows::new(keep)?,
        })
    }

    pub fn push(&mut self, event: Event) {
        self.timeline.push(&event, &self.incident.facts);
        self.incident.apply(event);
        self.incident.events.clear();
    }

    /// [`Builder::push`] of a foreach exchange read without its event
    /// ([`journal::lean`](crate::journal::lean)).
    pub fn push_exchange(&mut self, exchange: &Exchange) {
        self.timeline.push_exchange(exchange);
        self.incident.apply_exchange(exchange);
    }

    /// The incident so far, without its event list (enough for [`Sources::read`]).
    pub fn incident(&self) -> &Incident {
        &self.incident
    }

    pub fn finish(self, sources: &Sources) -> Report {
        assemble(&self.incident, sources, self.timeline)
    }
}

fn assemble(incident: &Incident, sources: &Sources, mut timeline: timeline::Rows) -> Report {
    let as_of = timeline.last_at();
    let opened_at = incident.opened_at.or_else(|| timeline.first_at());
    let mut warnings: Vec<String> = sources.runbook_note.iter().cloned().collect();
    warnings.extend(incident.warnings.iter().cloned());
    warnings.extend(incident.recovered.iter().map(|r| {
        format!(
            "the journal was recovered after a torn write: {} ({} bytes) quarantined after seq {}",
            r.quarantined, r.bytes, r.last_good_seq,
        )
    }));
    let drill = incident.drill;
    let marks = impact::marks(incident);
    let runbook = sources.runbook.as_ref();
    let impact = impact::impact(incident, runbook);
    let metrics = impact::metrics(&marks);
    let deadlines = as_of.map_or_else(Vec::new, |now| deadline::track(incident, now));
    let measures = measures::measures(incident, runbook);
    let events = timeline.count();
    let exchanges = timeline.take_exchanges();
    let timeline = timeline.finish(opened_at, &incident.facts);
    let summary = summary(incident, sources, opened_at, as_of);
    let review = review::build(&review::Inputs {
        incident,
        title: &summary.title,
        metrics: &metrics,
        measures: &measures,
        deadlines: &deadlines,
        timeline: &timeline.rows,
    });
    Report {
        schema_version: SCHEMA_VERSION,
        generator: format!("stanch {}", env!("CARGO_PKG_VERSION")),
        drill,
        watermark: drill.then(|| DRILL_WATERMARK.to_owned()),
        summary,
        review,
        impact,
        durations: impact::durations(&marks),
        metrics,
        notification_window: impact::notification_window(incident, as_of),
        deadlines,
        marks,
        journal: JournalSeal {
            events,
            final_seq: incident.last_seq,
            final_hash: incident.last_hash.clone(),
        },
        timeline,
        exchanges,
        steps: rows::steps(incident, sources),
        notes: incident.notes.iter().map(note_row).collect(),
        action_items: actions::items(&incident.notes),
        evidence: incident
            .evidence
            .iter()
            .map(|e| EvidenceRow {
                seq: e.seq,
                step: e.step.clone(),
                file: e.file.clone(),
                sha256: e.sha256.clone(),
                bytes: e.bytes,
                method: e.method.clone(),
                url: e.url.clone(),
                captured_at: e.captured_at,
                by: e.by.clone(),
                tool_version: e.tool_version.clone(),
                remote_addr: e.remote_addr.clone(),
            })
            .collect(),
        drafts: rows::drafts(incident, sources),
        injects: incident
            .injects
            .iter()
            .map(|i| InjectRow {
                seq: i.seq,
                at: i.at,
                offset: i.offset.clone(),
                title: i.title.clone(),
                body: i.body.clone(),
            })
            .collect(),
        warnings,
        score: incident.score.clone(),
        comparison: comparison::rows(incident.score.as_ref()),
    }
}

fn summary(
    incident: &Incident,
    sources: &Sources,
    opened_at: Option<Timestamp>,
    as_of: Option<Timestamp>,
) -> Summary {
    let meta = sources.runbook.as_ref().map(|rb| &rb.runbook);
    Summary {
        incident_id: incident.id.clone(),
        title: if incident.runbook_title.is_empty() {
            meta.map(|m| m.title.clone()).unwrap_or_default()
        } else {
            incident.runbook_title.clone()
        },
        runbook_id: incident.runbook_id.clone(),
        runbook_sha256: incident.runbook_sha256.clone(),
        runbook_path: incident.runbook_path.clone(),
        runbook_summary: meta.and_then(|m| m.summary.clone()),
        severity: incident
            .severity
            .clone()
            .or_else(|| meta.and_then(|m| m.severity.clone())),
        responder: incident.responder.clone(),
        responders: incident.responders.clone(),
        opened_at,
        closed_at: incident.closed_at,
        state: if incident.closed_at.is_some() {
            "closed"
        } else {
            "open"
        }
        .to_owned(),
        as_of,
        inputs: incident.inputs.clone(),
    }
}

fn note_row(note: &crate::incident::Note) -> NoteRow {
    NoteRow {
        seq: note.seq,
        at: note.at,
        actor: note.actor.clone(),
        step: note.step.clone(),
        text: note.text.clone(),
        tags: note.tags.clone(),
    }
}
