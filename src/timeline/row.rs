//! [`Row`]: one event as the timeline shows it, described once and cached; plain text (each
//! renderer escapes it for where it goes).

use jiff::Timestamp;

use crate::incident::{describe, given_time};
use crate::journal::{Event, Kind};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub seq: u64,
    pub at: Timestamp,
    pub kind: Kind,
    pub step: Option<String>,
    pub actor: String,
    /// [`describe`]'s words for the event.
    pub text: String,
    /// The time a person gave for it (a fact's `occurred_at`, a mark's `at`).
    pub given: Option<Timestamp>,
}

impl Row {
    pub fn of(event: &Event) -> Self {
        Self {
            seq: event.seq,
            at: event.at,
            kind: event.kind,
            step: event.step.clone(),
            actor: event.actor.clone(),
            text: describe(event),
            given: given_time(event),
        }
    }

    /// Heap and inline bytes, for the cache's budget.
    pub fn bytes(&self) -> usize {
        std::mem::size_of::<Self>()
            + self.step.as_ref().map_or(0, String::capacity)
            + self.actor.capacity()
            + self.text.capacity()
    }
}
