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

use std::borrow::Cow;
use std::collections::HashMap;
use std::sync::Arc;

use jiff::Timestamp;

use super::exchanges::{ExchangeSummary, Exchanges};
use super::spill::{self, Spill};
use super::time::{millis_between, offset_label, utc};
use super::{CorrectionRow, Report, TimelineRow};
pub use crate::incident::short_hash;
use crate::incident::{Fact, describe_payload, given_time};
use crate::journal::lean::Exchange;
use crate::journal::payload::Shapes;
use crate::journal::{Event, Kind, Payload};

/// Where a foreach step's exchange rows go while the timeline is collected.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Keep {
    /// Every row in memory (a replayed incident: drafts, tests).
    #[default]
    All,
    /// Exchange rows to a temporary file ([`spill`](super::spill)): the JSON export and
    /// `--timeline full` of a streamed journal, whatever its size.
    Spilled,
    /// Only each step's first exchange row, where its summary line goes: the Markdown and
    /// HTML summaries of a streamed journal. Such a timeline cannot be written as JSON.
    Summaries,
}

/// Timeline rows collected one event at a time (see [`super::Builder`]); offsets and fact
/// corrections are filled in by [`Rows::finish`], once the opening and every correction are
/// known.
#[derive(Default)]
pub struct Rows {
    collected: Vec<TimelineRow>,
    keep: Keep,
    spill: Option<spill::Writer>,
    /// [`Keep::Summaries`]: per step, the index in `collected` of its first exchange row.
    firsts: HashMap<String, usize>,
    /// Each step's request shape, to say its requests whole.
    shapes: Shapes,
    exchanges: Exchanges,
    count: u64,
    first_at: Option<Timestamp>,
    last_at: Option<Timestamp>,
}

impl Rows {
    pub fn new(keep: Keep) -> std::io::Result<Self> {
        Ok(Self {
            keep,
            spill: match keep {
                Keep::Spilled => Some(spill::Writer::new()?),
                Keep::All | Keep::Summaries => None,
            },
            ..Self::default()
        })
    }

    /// Add one event's row. `facts` are the facts recorded *before* this event: a correction
    /// always refers to an earlier fact, so it is folded into that fact's row (and skipped
    /// here) exactly when the fact is already known.
    pub fn push(&mut self, event: &Event, facts: &[Fact]) {
        let head = Head {
            seq: event.seq,
            at: event.at,
            actor: &event.actor,
            kind: event.kind,
            step: event.step.as_deref(),
        };
        self.note(&head);
        // Decoded once, for the summary and the words (a step outcome without its captures,
        // which no timeline shows).
        let payload = match event.payload_for_words() {
            Ok(payload) => payload,
            Err(err) => {
                self.add(row(&head, None, format!("Unreadable: {err}"), None));
                return;
            }
        };
        if let Payload::FactCorrected(p) = &payload
            && p.corrects < event.seq
            && facts.iter().any(|f| f.seq == p.corrects)
        {
            return;
        }
        let item = self.exchanges.push(&head, &payload);
        if item.is_some() && !self.wants_exchange_row(&head) {
            return;
        }
        self.describe(&head, given_time(event), payload, item);
    }

    /// [`Rows::push`] of a foreach exchange read without its event ([`journal::lean`]): the
    /// same summary and row.
    ///
    /// [`journal::lean`]: crate::journal::lean
    pub fn push_exchange(&mut self, exchange: &Exchange) {
        let head = Head {
            seq: exchange.seq,
            at: exchange.at,
            actor: &exchange.actor,
            kind: exchange.kind(),
            step: Some(&exchange.step),
        };
        self.note(&head);
        let item = self.exchanges.push(&head, &exchange.payload);
        if item.is_some() && !self.wants_exchange_row(&head) {
            return;
        }
        let text = match &exchange.payload {
            Payload::HttpRequest(_) => {
                describe_payload(&self.shapes.resolve(head.step, exchange.payload.clone()))
            }
            // A response needs no shape: described as it is, not copied.
            response => describe_payload(response),
        };
        if let (Keep::Spilled, Some(spill)) = (self.keep, &mut self.spill) {
            // Straight to disk, as `add` would send its row, without building the row.
            spill.push_parts(&spill::Parts {
                seq: head.seq,
                at: head.at,
                item,
                response: head.kind == Kind::HttpResponse,
                actor: head.actor,
                step: head.step,
                text: &text,
            });
            return;
        }
        self.add(row(&head, None, text, item));
    }

    fn note(&mut self, head: &Head<'_>) {
        self.count += 1;
        self.first_at.get_or_insert(head.at);
        self.last_at = Some(head.at);
    }

    /// The row of an event, in words (a request made whole from its step's shape).
    fn describe(
        &mut self,
        head: &Head<'_>,
        given: Option<Timestamp>,
        payload: Payload,
        item: Option<u64>,
    ) {
        let payload = self.shapes.resolve(head.step, payload);
        self.add(row(head, given, describe_payload(&payload), item));
    }

    /// Whether a foreach exchange of `head`'s step needs its row: always, but with
    /// [`Keep::Summaries`] only the step's earliest (no words are made for the rest).
    fn wants_exchange_row(&self, head: &Head<'_>) -> bool {
        self.keep != Keep::Summaries
            || head
                .step
                .and_then(|step| self.firsts.get(step))
                .is_none_or(|&index| head.at < self.collected[index].at)
    }

    fn add(&mut self, row: TimelineRow) {
        let Some(step) = row.step.as_deref().filter(|_| row.item.is_some()) else {
            self.collected.push(row);
            return;
        };
        match (self.keep, &mut self.spill) {
            (Keep::Spilled, Some(spill)) => spill.push(&row),
            (Keep::Summaries, _) => {
                if let Some(&index) = self.firsts.get(step) {
                    // The summary goes where the step's earliest exchange stands.
                    if row.at < self.collected[index].at {
                        self.collected[index] = row;
                    }
                } else {
                    self.firsts.insert(step.to_owned(), self.collected.len());
                    self.collected.push(row);
                }
            }
            _ => self.collected.push(row),
        }
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
    pub fn finish(mut self, origin: Option<Timestamp>, facts: &[Fact]) -> Timeline {
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
        self.collected.sort_by_key(|r| (r.at, r.seq));
        Timeline {
            rows: self.collected,
            spill: self.spill.map(|w| Arc::new(w.finish())),
            summaries_only: self.keep == Keep::Summaries,
            origin,
        }
    }
}

/// What a row says of the event it stands for, besides its words: from an [`Event`] or an
/// [`Exchange`] alike.
pub struct Head<'a> {
    pub seq: u64,
    pub at: Timestamp,
    pub actor: &'a str,
    pub kind: Kind,
    pub step: Option<&'a str>,
}

/// One event's row, before offsets (see [`Rows::finish`]).
fn row(head: &Head<'_>, given: Option<Timestamp>, text: String, item: Option<u64>) -> TimelineRow {
    TimelineRow {
        seq: head.seq,
        at: given.unwrap_or(head.at),
        offset: String::new(),
        offset_ms: 0,
        recorded_at: head.at,
        // Under a second apart is clock rounding, not a time someone gave.
        backdated: given.is_some_and(|g| millis_between(g, head.at).abs() >= 1000),
        actor: head.actor.to_owned(),
        kind: head.kind.as_str(),
        step: head.step.map(str::to_owned),
        text,
        corrections: Vec::new(),
        item,
    }
}

/// A report's timeline: the rows in memory, in time order, and for a streamed journal the
/// foreach exchange rows on disk ([`Keep`]). [`Timeline::all`] reads them merged; the JSON
/// export is that sequence.
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    /// Every row ([`Keep::All`]), or all but the foreach exchanges ([`Keep::Spilled`]), or
    /// those and each step's first exchange ([`Keep::Summaries`]).
    pub rows: Vec<TimelineRow>,
    spill: Option<Arc<Spill>>,
    summaries_only: bool,
    origin: Timestamp,
}

/// A row of [`Timeline::all`]: borrowed from memory or read back from disk.
pub type RowRef<'a> = Cow<'a, TimelineRow>;

/// Rows in time order, as [`Timeline::all`] reads them.
pub type AllRows<'a> = Box<dyn Iterator<Item = std::io::Result<RowRef<'a>>> + 'a>;

impl Timeline {
    /// Every row, in time order (ties by seq), exchange rows read back from disk as needed.
    /// An error when the timeline was collected for summaries only, or the disk fails.
    pub fn all(&self) -> std::io::Result<AllRows<'_>> {
        self.walk_all().map(Walk::into_rows)
    }

    /// The rows as collected: [`Timeline::all`], or with [`Keep::Summaries`] each step's
    /// first exchange in place of all of them (what a summary line needs).
    fn merged(&self) -> std::io::Result<AllRows<'_>> {
        self.walk().map(Walk::into_rows)
    }

    /// Every row in time order (ties by seq) without copying any: [`Timeline::all`] for a
    /// writer that needs each row only while it writes it (the JSON export). An error as
    /// [`Timeline::all`]'s.
    pub fn walk_all(&self) -> std::io::Result<Walk<'_>> {
        if self.summaries_only {
            return Err(std::io::Error::other(
                "this timeline holds each foreach step's summary, not every exchange",
            ));
        }
        self.walk()
    }

    fn walk(&self) -> std::io::Result<Walk<'_>> {
        Ok(Walk {
            memory: self.rows.iter().peekable(),
            spilled: self.spill.as_deref().map(Spill::reader).transpose()?,
            advance: false,
            origin: self.origin,
            second: None,
            label: String::new(),
        })
    }

    /// How many rows there are in memory and on disk.
    pub fn len(&self) -> u64 {
        self.rows.len() as u64 + self.spill.as_ref().map_or(0, |s| s.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// A timeline's rows in time order, memory and disk merged by `(at, seq)`, one at a time
/// ([`Walk::step`]): a row from disk is read into a row the walk reuses, its offset filled
/// in, so walking 2,000,000 exchange rows allocates nothing per row.
pub struct Walk<'t> {
    memory: std::iter::Peekable<std::slice::Iter<'t, TimelineRow>>,
    spilled: Option<spill::Reader<'t>>,
    /// The spilled row handed out last is still current: move past it first.
    advance: bool,
    origin: Timestamp,
    /// What `offset_label` reads of the last spilled row's offset (its sign and whole
    /// seconds) and the label made of it: rows share their second by the thousand.
    second: Option<(bool, u64)>,
    label: String,
}

/// A row of a [`Walk`]: held by the timeline, or read from disk (valid until the next step).
pub enum Walked<'t, 'w> {
    Memory(&'t TimelineRow),
    Spilled(&'w TimelineRow),
}

impl<'t> Walk<'t> {
    /// The rest of the walk as an iterator, rows from disk copied out.
    fn into_rows(mut self) -> AllRows<'t> {
        Box::new(std::iter::from_fn(move || match self.step() {
            Ok(Some(Walked::Memory(row))) => Some(Ok(Cow::Borrowed(row))),
            Ok(Some(Walked::Spilled(row))) => Some(Ok(Cow::Owned(row.clone()))),
            Ok(None) => None,
            Err(e) => Some(Err(e)),
        }))
    }

    /// The next row, `None` after the last.
    pub fn step(&mut self) -> std::io::Result<Option<Walked<'t, '_>>> {
        if std::mem::take(&mut self.advance)
            && let Some(spilled) = &mut self.spilled
        {
            spilled.advance()?;
        }
        let key = |r: &TimelineRow| (r.at, r.seq);
        let spilled_key = self
            .spilled
            .as_mut()
            .and_then(spill::Reader::current)
            .map(|r| key(r));
        let from_disk = match (self.memory.peek(), spilled_key) {
            (Some(m), Some(s)) => s < key(m),
            (None, Some(_)) => true,
            (_, None) => false,
        };
        if !from_disk {
            return Ok(self.memory.next().map(Walked::Memory));
        }
        let Some(row) = self.spilled.as_mut().and_then(spill::Reader::current) else {
            return Ok(None);
        };
        row.offset_ms = millis_between(self.origin, row.at);
        let second = (row.offset_ms < 0, row.offset_ms.unsigned_abs() / 1000);
        if self.second != Some(second) {
            self.second = Some(second);
            self.label = offset_label(row.offset_ms);
        }
        row.offset.clone_from(&self.label);
        self.advance = true;
        Ok(Some(Walked::Spilled(row)))
    }
}

impl Walked<'_, '_> {
    pub fn row(&self) -> &TimelineRow {
        match self {
            Walked::Memory(row) | Walked::Spilled(row) => row,
        }
    }
}

impl serde::Serialize for Timeline {
    /// Every row ([`Timeline::all`]), read from disk as they are reached. The JSON export
    /// writes its timeline itself (`export::json`), faster; this is for any other serializer.
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeSeq};
        let mut seq = serializer.serialize_seq(usize::try_from(self.len()).ok())?;
        let mut walk = self.walk_all().map_err(S::Error::custom)?;
        while let Some(row) = walk.step().map_err(S::Error::custom)? {
            seq.serialize_element(row.row())?;
        }
        seq.end()
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
    Event(RowRef<'a>),
    /// A foreach step's exchanges, placed at its first exchange's row.
    Exchanges {
        first: RowRef<'a>,
        summary: &'a ExchangeSummary,
    },
}

/// The timeline lines of `report` as `view` shows them, in time order (exchange rows read back
/// from disk as they are reached: an I/O error ends the document).
pub fn lines(
    report: &Report,
    view: View,
) -> std::io::Result<impl Iterator<Item = std::io::Result<Line<'_>>>> {
    let rows = match view {
        View::Summary => report.timeline.merged()?,
        View::Full => report.timeline.all()?,
    };
    let mut shown: Vec<String> = Vec::new();
    Ok(rows.filter_map(move |row| {
        let row = match row {
            Ok(row) => row,
            Err(e) => return Some(Err(e)),
        };
        let step = row.step.as_deref().filter(|_| row.item.is_some());
        let Some(step) = step.filter(|_| view == View::Summary) else {
            return Some(Ok(Line::Event(row)));
        };
        if shown.iter().any(|s| s == step) {
            return None;
        }
        shown.push(step.to_owned());
        Some(Ok(match report.exchanges.iter().find(|s| s.step == step) {
            Some(summary) => Line::Exchanges {
                first: row,
                summary,
            },
            None => Line::Event(row),
        }))
    }))
}

/// `recorded 2026-12-26 18:05:00Z` beside a back-dated row.
pub fn recorded_note(row: &TimelineRow) -> Option<String> {
    row.backdated
        .then(|| format!("recorded {}", utc(row.recorded_at)))
}
