//! The measures taken: steps that succeeded and changed something, with the marks they set.
//! One list, read by the post-mortem's Resolution section and by the notice drafts ("measures
//! taken", GDPR Art. 33(3)(d)).
//!
//! A step counts as a measure when it succeeded, its phase is not `confirm` (finding out),
//! `notify` (telling people) or `review` (looking back), and it either changed something (an
//! HTTP request other than GET/HEAD/OPTIONS, or work a person did: a manual or draft step) or
//! set a mark (`evidence_preserved` set by a read-only wait still ends a stage). Without the
//! runbook neither phase nor method is known and every succeeded step counts. Measures are in
//! the order they finished.

use jiff::Timestamp;
use serde::Serialize;

use super::time::mark_label;
use crate::incident::{Incident, StepStatus};
use crate::runbook::{Action, Runbook, Step};

/// Phases whose steps find out or tell, rather than act.
const NOT_MEASURES: &[&str] = &["confirm", "notify", "review"];

/// HTTP methods that only read.
const READ_ONLY: &[&str] = &["GET", "HEAD", "OPTIONS"];

fn reads_only(step: &Step) -> bool {
    matches!(step.action(), Some(Action::Http(http))
        if READ_ONLY.iter().any(|m| m.eq_ignore_ascii_case(http.method.get_ref())))
}

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
    /// A foreach step's items: how many there were and how many succeeded.
    pub items: Option<ItemCount>,
    pub marks: Vec<MarkSet>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ItemCount {
    pub total: u64,
    pub done: u64,
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
            if marks.is_empty() && step.is_some_and(reads_only) {
                return None;
            }
            Some(Measure {
                step: id.clone(),
                title: step.map_or_else(|| id.clone(), |s| s.title().to_owned()),
                phase,
                summary: rec.summary.clone().filter(|s| !s.is_empty()),
                finished_at: rec.finished_at,
                items: rec.items.map(|(total, failed)| ItemCount {
                    total,
                    done: total.saturating_sub(failed),
                }),
                marks,
            })
        })
        .collect();
    list.sort_by_key(|m| m.finished_at);
    list
}
