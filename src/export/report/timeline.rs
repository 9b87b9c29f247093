//! Timeline rows: every journal event as one line of text, placed at the time it happened.
//!
//! Facts and back-dated marks are placed at the time a person gave (`occurred_at`, a mark's
//! `at`) with the recorded time beside; `fact.corrected` events are folded into the fact they
//! correct (shown beside it, both kept), so the row for "exposure began 14 Dec" also says it
//! was corrected to 4 Dec and when. Rows are sorted by that time, ties by `seq`.
//!
//! A `foreach` step's exchanges keep their rows here (the JSON export has every one), and are
//! also counted into an [`ExchangeSummary`] per step; [`lines`] is what the Markdown and HTML
//! timelines show: by default ([`View::Summary`]) one summary line per foreach step, at its
//! first exchange, in place of that step's exchange rows, so their size does not depend on
//! the number of items; [`View::Full`] (`stanch export --timeline full`) shows every row.

use std::collections::HashMap;

use jiff::Timestamp;

use super::exchanges::{ExchangeSummary, Exchanges};
use super::time::{millis_between, offset_label, utc};
use super::{CorrectionRow, Report, TimelineRow};
pub use crate::incident::short_hash;
use crate::incident::{Fact, Incident, describe, given_time};
use crate::journal::{Event, Kind, Payload};

/// Timeline rows collected one event at a time (see [`super::Builder`]); offsets and fact
/// corrections are filled in by [`Rows::finish`], once the opening and every correction are
/// known.
#[derive(Default)]
pub struct Rows {
    collected: Vec<TimelineRow>,
    exchanges: Exchanges,
    count: u64,
    first_at: Option<Timestamp>,
    last_at: Option<Timestamp>,
}

impl Rows {
    /// Add one event's row. `facts` are the facts recorded *before* this event: a correction
    /// always refers to an earlier fact, so it is folded into that fact's row (and skipped
    /// here) exactly when the fact is already known.
    pub fn push(&mut self, event: &Event, facts: &[Fact]) {
        self.count += 1;
        self.first_at.get_or_insert(event.at);
        self.last_at = Some(event.at);
        if event.kind == Kind::FactCorrected
            && corrects(event)
                .is_some_and(|seq| seq < event.seq && facts.iter().any(|f| f.seq == seq))
        {
            return;
        }
        let given = given_time(event);
        let item = self.exchanges.push(event);
        self.collected.push(TimelineRow {
            seq: event.seq,
            at: given.unwrap_or(event.at),
            offset: String::new(),
            offset_ms: 0,
            recorded_at: event.at,
            // Under a second apart is clock rounding, not a time someone gave.
            backdated: given.is_some_and(|g| millis_between(g, event.at).abs() >= 1000),
            actor: event.actor.clone(),
            kind: event.kind.as_str(),
            step: event.step.clone(),
            text: describe(event),
            corrections: Vec::new(),
            item,
        });
    }

    /// The foreach summaries so far, one per step (taken: a second call returns none).
    pub fn take_exchanges(&mut self) -> Vec<ExchangeSummary> {
        std::mem::take(&mut self.exchanges).finish()
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn first_at(&self) -> Option<Timestamp> {
        self.first_at
    }

    pub fn last_at(&self) -> Option<Timestamp> {
        self.last_at
    }

    /// Offsets from `origin`, corrections beside their facts, sorted by when things happened.
    pub fn finish(mut self, origin: Option<Timestamp>, facts: &[Fact]) -> Vec<TimelineRow> {
        let origin = origin.or(self.first_at).unwrap_or_default();
        let corrected: HashMap<u64, &Fact> = facts
            .iter()
            .filter(|f| !f.corrections.is_empty())
            .map(|f| (f.seq, f))
            .collect();
        for row in &mut self.collected {
            row.offset_ms = millis_between(origin, row.at);
            row.offset = offset_label(row.offset_ms);
            if row.kind == Kind::Fact.as_str()
                && let Some(fact) = corrected.get(&row.seq)
            {
                row.corrections = fact
                    .corrections
                    .iter()
                    .map(|c| CorrectionRow {
                        seq: c.seq,
                        text: c.text.clone(),
                        occurred_at: c.occurred_at,
                        recorded_at: c.recorded_at,
                        actor: c.actor.clone(),
                    })
                    .collect();
            }
        }
        // Journal order is already time order for almost every row; a stable sort keeps ties
        // in seq order and only moves the back-dated ones.
        self.collected.sort_by_key(|r| r.at);
        self.collected
    }
}

/// How much of the timeline the Markdown and HTML exports show.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum View {
    /// Each foreach step's exchanges as one summary line.
    #[default]
    Summary,
    /// Every event, one row each.
    Full,
}

/// The sentence above the Markdown and HTML timeline, saying what its lines are.
pub fn intro(view: View) -> &'static str {
    match view {
        View::Summary => {
            "Every journal event in UTC, with the offset from the opening, except that each foreach step's exchanges are summarised in one line (every exchange: stanch export --timeline full, or the JSON export). Facts and back-dated marks stand at the time they happened, with the time they were recorded beside them."
        }
        View::Full => {
            "Every journal event in UTC, with the offset from the opening. Facts and back-dated marks stand at the time they happened, with the time they were recorded beside them."
        }
    }
}

/// One line of the rendered timeline.
pub enum Line<'a> {
    Event(&'a TimelineRow),
    /// A foreach step's exchanges, placed at its first exchange's row.
    Exchanges {
        first: &'a TimelineRow,
        summary: &'a ExchangeSummary,
    },
}

/// The timeline lines of `report` as `view` shows them, in time order.
pub fn lines(report: &Report, view: View) -> impl Iterator<Item = Line<'_>> {
    let mut shown: Vec<&str> = Vec::new();
    report.timeline.iter().filter_map(move |row| {
        let step = row.step.as_deref().filter(|_| row.item.is_some());
        let Some(step) = step.filter(|_| view == View::Summary) else {
            return Some(Line::Event(row));
        };
        if shown.contains(&step) {
            return None;
        }
        shown.push(step);
        match report.exchanges.iter().find(|s| s.step == step) {
            Some(summary) => Some(Line::Exchanges {
                first: row,
                summary,
            }),
            None => Some(Line::Event(row)),
        }
    })
}

/// Rows of a whole replayed incident (what drafts quote as `timeline`).
pub fn rows(incident: &Incident, opened_at: Option<Timestamp>) -> Vec<TimelineRow> {
    let mut rows = Rows::default();
    for event in &incident.events {
        rows.push(event, &incident.facts);
    }
    rows.finish(opened_at, &incident.facts)
}

/// The fact a `fact.corrected` event corrects.
fn corrects(event: &Event) -> Option<u64> {
    match event.payload().ok()? {
        Payload::FactCorrected(p) => Some(p.corrects),
        _ => None,
    }
}

/// `recorded 2026-12-26 18:05:00Z` beside a back-dated row.
pub fn recorded_note(row: &TimelineRow) -> Option<String> {
    row.backdated
        .then(|| format!("recorded {}", utc(row.recorded_at)))
}
