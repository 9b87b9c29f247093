//! What a draft template sees: a typed [`Context`], serialized into MiniJinja's context.
//!
//! Everything here is something a public notice may quote, derived from the incident's folded
//! state, its timeline and the runbook; secrets are never in it (there is no `secrets` field
//! to fill). Times are RFC 3339 strings in UTC. The same derivations as the post-mortem are
//! used (impact figures, measures taken, notification deadlines, and the timeline's lines from
//! [`super::timeline`]), so a notice and the post-mortem cannot disagree. The state may come
//! from a checkpoint and the timeline from a streamed journal: nothing here needs the events
//! in memory. Deadlines are judged at the journal's last event (`Incident::last_at`), never at
//! the wall clock, so rendering is reproducible (an incident with no event yet has no deadline:
//! the template then writes its gap).

use std::collections::BTreeMap;

use jiff::Timestamp;
use serde::Serialize;
use serde_json::{Map, Value};

use super::deadline::{self, Deadline};
use crate::export::report::measures::{self, Measure};
use crate::export::report::{CorrectionRow, ImpactItem, impact};
use crate::incident::Incident;
use crate::runbook::Runbook;

/// The template context of a draft step.
#[derive(Debug, Clone, Serialize)]
pub struct Context<'a> {
    /// The incident's inputs (`--set` values and answered prompts).
    pub inputs: &'a Map<String, Value>,
    /// Captures of every step (`vars.exposed_docs`).
    pub vars: Map<String, Value>,
    /// Mark name → RFC 3339 time (`marks.aware`).
    pub marks: BTreeMap<&'a str, String>,
    /// The Markdown post-mortem's timeline lines (each foreach step summarised in one).
    pub timeline: Vec<TimelineEntry>,
    pub incident: IncidentFacts<'a>,
    /// Impact figures, as the post-mortem derives them (label, value, how derived).
    pub impact: Vec<ImpactItem>,
    /// Steps that changed something, with the marks they set (GDPR Art. 33(3)(d)).
    pub measures: Vec<Measure>,
    /// Every notification duty judged at `incident.as_of`; empty until `aware` is set.
    pub deadlines: Vec<Deadline>,
}

/// One timeline line, as templates see it: one event, or a foreach step's exchanges.
#[derive(Debug, Clone, Serialize)]
pub struct TimelineEntry {
    /// The event's seq; a foreach summary's first exchange.
    pub seq: u64,
    pub at: Timestamp,
    /// `T+00:14:03` from the opening.
    pub offset: String,
    /// The journal kind (a foreach summary: its first exchange's, `http.request`).
    pub kind: &'static str,
    pub step: Option<String>,
    pub actor: String,
    pub text: String,
    /// `seq` itself, or a foreach summary's last exchange (the Markdown shows `seq–last_seq`).
    pub last_seq: u64,
    /// A foreach summary's item count; absent for a single event.
    pub items: Option<u64>,
    /// When the journal recorded it; differs from `at` for facts and marks given a time.
    pub recorded_at: Timestamp,
    /// True when `at` was given by a person (the post-mortem says "recorded …" beside it).
    pub backdated: bool,
    /// A fact's later corrections, oldest first (the post-mortem shows them beside it).
    pub corrections: Vec<CorrectionRow>,
}

/// About the incident itself.
#[derive(Debug, Clone, Serialize)]
pub struct IncidentFacts<'a> {
    pub id: &'a str,
    pub opened_at: Option<Timestamp>,
    pub responder: &'a str,
    pub drill: bool,
    /// The runbook's title (what kind of incident this is).
    pub title: &'a str,
    /// The runbook's summary, when the runbook is known.
    pub summary: Option<&'a str>,
    pub severity: Option<&'a str>,
    /// The last journal event's time: what "now" means in the draft.
    pub as_of: Option<Timestamp>,
}

/// Build the context of `incident` quoting `timeline` (from [`super::timeline`]); `runbook`
/// adds step titles, phases and the summary.
pub fn context<'a>(
    incident: &'a Incident,
    runbook: Option<&'a Runbook>,
    timeline: Vec<TimelineEntry>,
) -> Context<'a> {
    let as_of = incident.last_at;
    Context {
        inputs: &incident.inputs,
        // Captures are kept as JSON text in the incident; a draft is rendered once, so each is
        // parsed here into the value a template reads.
        vars: incident
            .vars
            .iter()
            .map(|(name, capture)| (name.clone(), capture.to_value()))
            .collect(),
        marks: incident
            .marks
            .iter()
            .map(|(name, m)| (name.as_str(), m.at.to_string()))
            .collect(),
        timeline,
        incident: IncidentFacts {
            id: &incident.id,
            opened_at: incident.opened_at,
            responder: &incident.responder,
            drill: incident.drill,
            title: &incident.runbook_title,
            summary: runbook.and_then(|rb| rb.runbook.summary.as_deref()),
            severity: incident.severity.as_deref(),
            as_of,
        },
        impact: impact::impact(incident, runbook),
        measures: measures::measures(incident, runbook),
        deadlines: as_of.map_or_else(Vec::new, |now| deadline::track(incident, now)),
    }
}
