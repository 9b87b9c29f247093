//! The measures taken: steps that succeeded outside the investigation and communication
//! phases, with the marks they set. One list, read by the post-mortem's Resolution section and
//! by the notice drafts ("measures taken", GDPR Art. 33(3)(d)).
//!
//! A step counts as a measure when it succeeded and its phase is not `confirm` (finding out),
//! `notify` (telling people) or `review` (looking back); without the runbook the phase is
//! unknown and every succeeded step counts. Measures are in the order they finished.

use jiff::Timestamp;
use serde::Serialize;

use super::time::mark_label;
use crate::incident::{Incident, StepStatus};
use crate::runbook::Runbook;

/// Phases whose steps find out or tell, rather than act.
const NOT_MEASURES: &[&str] = &["confirm", "notify", "review"];

/// A mark a measure set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MarkSet {
    pub name: String,
    /// `contained`, `evidence preserved`: the name in words.
    pub label: String,
    pub at: Timestamp,
}

/// One step that changed something, as the journal recorded it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Measure {
    pub step: String,
    pub title: String,
    pub phase: Option<String>,
    /// The step's own outcome summary (`index closed`, `3410 of 3412 tokens revoked`).
    pub summary: Option<String>,
    pub finished_at: Option<Timestamp>,
    pub marks: Vec<MarkSet>,
}

pub fn measures(incident: &Incident, runbook: Option<&Runbook>) -> Vec<Measure> {
    let mut list: Vec<Measure> = incident
        .steps
        .iter()
        .filter(|(_, rec)| rec.status == StepStatus::Succeeded)
        .filter_map(|(id, rec)| {
            let step = runbook.and_then(|rb| rb.step(id));
            let phase = step.map(|s| s.phase.clone());
            if phase.as_deref().is_some_and(|p| NOT_MEASURES.contains(&p)) {
                return None;
            }
            let mut marks: Vec<MarkSet> = incident
                .marks
                .values()
                .filter(|m| m.step.as_deref() == Some(id.as_str()))
                .map(|m| MarkSet {
                    name: m.name.clone(),
                    label: mark_label(&m.name),
                    at: m.at,
                })
                .collect();
            marks.sort_by_key(|m| m.at);
            Some(Measure {
                step: id.clone(),
                title: step.map_or_else(|| id.clone(), |s| s.title().to_owned()),
                phase,
                summary: rec.summary.clone().filter(|s| !s.is_empty()),
                finished_at: rec.finished_at,
                marks,
            })
        })
        .collect();
    list.sort_by_key(|m| m.finished_at);
    list
}
