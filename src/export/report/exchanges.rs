//! A `foreach` step's HTTP exchanges, summarised per step for the Markdown and HTML timeline:
//! how many items and exchanges, a status histogram, first and last times, the duration, and
//! the failed exchanges with their item. The summary's size does not grow with the number of
//! items (the histogram has one entry per status seen; at most [`FAILURES_LISTED`] failures
//! are kept, the rest counted), so a post-mortem of 2,000,000 revocations stays readable.
//!
//! An exchange belongs to a foreach when its `http.request` or `http.response` carries an
//! `item` index. A *failed exchange* is what the journal shows as one: no response (transport
//! error) or an HTTP status of 400 or more. Whether an item failed by its expectations is the
//! step's own verdict (its `items` totals and error), not recorded per exchange. The full
//! per-exchange record stays in the JSON export and in `stanch export --timeline full`.

use std::collections::BTreeMap;
use std::fmt::Write;

use jiff::Timestamp;

use super::time::{grouped, human_duration, millis_between, utc};
use super::timeline::Head;
use crate::journal::Payload;

/// Failed exchanges listed by item in a step's summary; more are counted, not listed.
pub const FAILURES_LISTED: usize = 10;

/// One step's foreach exchanges.
#[derive(Debug, Clone)]
pub struct ExchangeSummary {
    pub step: String,
    pub first_seq: u64,
    pub last_seq: u64,
    pub first_at: Timestamp,
    pub last_at: Timestamp,
    /// Items seen: the highest `item` index plus one (indices are list positions from 0).
    pub items: u64,
    pub requests: u64,
    pub responses: u64,
    /// Responses by HTTP status.
    pub statuses: BTreeMap<u16, u64>,
    /// Responses that were a transport error rather than a status.
    pub no_response: u64,
    pub failed: u64,
    /// The first [`FAILURES_LISTED`] failed exchanges.
    pub failures: Vec<ItemFailure>,
}

/// A failed exchange of one item.
#[derive(Debug, Clone)]
pub struct ItemFailure {
    pub item: u64,
    pub seq: u64,
    /// `HTTP 404` or `no response: <error>`.
    pub what: String,
}

/// Summaries collected one event at a time, one per step in the order steps first exchanged.
#[derive(Debug, Default, Clone)]
pub struct Exchanges {
    steps: Vec<ExchangeSummary>,
}

impl Exchanges {
    /// Count the event of `head` (its decoded `payload`) if it is a foreach exchange; returns
    /// its item index when it is (the timeline row is then summarised rather than shown).
    pub fn push(&mut self, event: &Head<'_>, payload: &Payload) -> Option<u64> {
        let step = event.step?;
        let (item, response) = match payload {
            Payload::HttpRequest(p) => (p.item?, None),
            Payload::HttpResponse(p) => (p.item?, Some(p)),
            _ => return None,
        };
        let summary = self.for_step(step, event);
        summary.last_seq = event.seq;
        summary.last_at = event.at;
        summary.items = summary.items.max(item.saturating_add(1));
        let Some(response) = response else {
            summary.requests += 1;
            return Some(item);
        };
        summary.responses += 1;
        let failure = if let Some(status) = response.status {
            *summary.statuses.entry(status).or_default() += 1;
            (status >= 400).then(|| format!("HTTP {status}"))
        } else {
            summary.no_response += 1;
            Some(format!(
                "no response: {}",
                response.error.as_deref().unwrap_or("unknown error")
            ))
        };
        if let Some(what) = failure {
            summary.failed += 1;
            if summary.failures.len() < FAILURES_LISTED {
                summary.failures.push(ItemFailure {
                    item,
                    seq: event.seq,
                    what,
                });
            }
        }
        Some(item)
    }

    fn for_step(&mut self, step: &str, event: &Head<'_>) -> &mut ExchangeSummary {
        let index = if let Some(index) = self.steps.iter().position(|s| s.step == step) {
            index
        } else {
            self.steps.push(ExchangeSummary {
                step: step.to_owned(),
                first_seq: event.seq,
                last_seq: event.seq,
                first_at: event.at,
                last_at: event.at,
                items: 0,
                requests: 0,
                responses: 0,
                statuses: BTreeMap::new(),
                no_response: 0,
                failed: 0,
                failures: Vec::new(),
            });
            self.steps.len() - 1
        };
        &mut self.steps[index]
    }

    pub fn finish(self) -> Vec<ExchangeSummary> {
        self.steps
    }
}

impl ExchangeSummary {
    /// The timeline's "What" cell, as plain text (each format escapes it):
    /// `foreach: 3 items, 3 requests, 3 responses (HTTP 200 × 2, HTTP 404 × 1); 12:00:00Z to
    /// 12:00:01Z (1s); 1 failed exchange: item 2 HTTP 404 (seq 9)`.
    pub fn text(&self) -> String {
        let mut histogram: Vec<String> = self
            .statuses
            .iter()
            .map(|(status, n)| format!("HTTP {status} × {}", grouped(*n)))
            .collect();
        if self.no_response > 0 {
            histogram.push(format!("no response × {}", grouped(self.no_response)));
        }
        let duration = human_duration(millis_between(self.first_at, self.last_at) / 1000);
        let mut text = format!(
            "foreach: {} items, {} requests, {} responses ({}); {} to {} ({duration})",
            grouped(self.items),
            grouped(self.requests),
            grouped(self.responses),
            if histogram.is_empty() {
                "none".to_owned()
            } else {
                histogram.join(", ")
            },
            utc(self.first_at),
            utc(self.last_at),
        );
        if self.failed == 0 {
            text.push_str("; no failed exchange");
            return text;
        }
        let listed: Vec<String> = self
            .failures
            .iter()
            .map(|f| format!("item {} {} (seq {})", f.item, f.what, f.seq))
            .collect();
        let _ = write!(
            text,
            "; {} failed exchange{}: {}",
            grouped(self.failed),
            if self.failed == 1 { "" } else { "s" },
            listed.join(", ")
        );
        let unlisted = self.failed - self.failures.len() as u64;
        if unlisted > 0 {
            let _ = write!(
                text,
                ", and {} more (every exchange: stanch export --timeline full, or the JSON export)",
                grouped(unlisted)
            );
        }
        text
    }

    /// `12–4,011`: the seq range the summary stands for.
    pub fn seq_range(&self) -> String {
        format!("{}–{}", self.first_seq, self.last_seq)
    }
}
