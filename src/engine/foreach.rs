//! `foreach`: one request per item of a list, at most `concurrency` in flight.
//!
//! A fixed pool of worker futures pulls the next item ([`Items`], iterated where the list lies,
//! never collected), so memory stays flat however long the list is. Each item's exchange is journalled with its index (`item`), expectations are
//! checked per item, and the
//! step fails if any item failed, with the count and the first failures. Cancelling stops
//! handing out items; requests already in flight are journalled as cancelled. `retry` applies
//! per item, exactly as to an ordinary step (`poll::attempts`): one item that keeps failing
//! retries on its own while the other workers go on. `capture` is evaluated per item too and
//! each name becomes a list in item order (`vars.active = [true, false, …]`), captured only
//! when every item succeeded.

use std::fmt::Write as _;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use minijinja::Value;
use minijinja::value::ValueKind;

use super::context::Context;
use super::expect::short;
use super::poll::{Retry, Run, Settled, StepResult, attempts, millis};
use super::prepare::{self, Parts};
use super::{DEFAULT_CONCURRENCY, Progress};
use crate::incident::{Capture, Captures};

/// How many failures the step's error quotes.
const QUOTED_FAILURES: usize = 3;

/// The items of a foreach, handed out one at a time with their index. A list is iterated
/// where it lies (a captured list is a view over the response's JSON text), never collected:
/// a million tokens cost their text once, not a million values besides.
pub struct Items {
    len: usize,
    next: Mutex<(usize, Box<dyn Iterator<Item = Value> + Send + Sync>)>,
}

impl Items {
    fn new(len: usize, iter: impl Iterator<Item = Value> + Send + Sync + 'static) -> Self {
        Self {
            len,
            next: Mutex::new((0, Box::new(iter))),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The next item and its index (from 0), or `None` once all have been handed out.
    pub fn next(&self) -> Option<(usize, Value)> {
        let mut next = self
            .next
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let (index, iter) = &mut *next;
        if *index >= self.len {
            return None;
        }
        let item = iter.next()?;
        *index += 1;
        Some((*index - 1, item))
    }
}

/// The list a foreach expression yields. A string is split on commas (inputs are strings:
/// `third_party_clients = "alexa-skill,ifttt"`).
pub fn items(parts: Parts<'_>, expr: &str, ctx: &Context) -> Result<Items, String> {
    let value = parts
        .templates
        .eval(expr, ctx.base())
        .map_err(|e| prepare::explain(parts, "foreach", expr, &e.message, true))?;
    let cannot = |e: minijinja::Error| format!("foreach `{expr}` cannot be iterated: {e}");
    match value.kind() {
        ValueKind::String => {
            let list: Vec<Value> = value
                .as_str()
                .unwrap_or_default()
                .split(',')
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(Value::from)
                .collect();
            Ok(Items::new(list.len(), list.into_iter()))
        }
        ValueKind::Seq | ValueKind::Iterable => {
            // A captured list (a view of JSON text) is read item by item from its text.
            if let Some((len, items)) = super::json_view::array_items(&value) {
                return Ok(Items::new(len, items));
            }
            if let Some(len) = value.len() {
                return Ok(Items::new(len, value.try_iter().map_err(cannot)?));
            }
            // A length known only by iterating: iterate once, keep the items.
            let list: Vec<Value> = value.try_iter().map_err(cannot)?.collect();
            Ok(Items::new(list.len(), list.into_iter()))
        }
        other => Err(format!(
            "foreach `{expr}` gave a {other}, not a list; capture a list in an earlier step (e.g. \
             `response.json.tokens | map(attribute=\"token\") | list`)"
        )),
    }
}

struct Tally {
    done: AtomicU64,
    failed: AtomicU64,
    /// (index, item label, message), the first few in completion order; sorted by index
    /// when quoted.
    first: Mutex<Vec<(usize, String, String)>>,
    /// (index, captures) of each item, when the step captures anything.
    captured: Mutex<Vec<(usize, Captures)>>,
    cache: prepare::RenderCache,
}

pub async fn run(run: &Run<'_>) -> StepResult {
    let Some(expr) = &run.step.foreach else {
        return StepResult::failed("not a foreach step");
    };
    let list = match items(run.parts, expr.get_ref(), run.ctx) {
        Ok(list) => list,
        Err(e) => return StepResult::failed(e),
    };
    let (cap, retry) = match (run.cap(), run.retry()) {
        (Ok(cap), Ok(retry)) => (cap, retry),
        (Err(e), _) | (_, Err(e)) => return StepResult::failed(e),
    };
    let total = list.len() as u64;
    if list.is_empty() {
        return StepResult::Passed {
            summary: "no items: nothing to do".into(),
            captures: Captures::new(),
            items: Some((0, 0)),
        };
    }
    let concurrency = run
        .step
        .concurrency
        .as_ref()
        .map_or(DEFAULT_CONCURRENCY, |c| *c.get_ref())
        .max(1) as usize;
    let tally = Tally {
        done: AtomicU64::new(0),
        failed: AtomicU64::new(0),
        first: Mutex::new(Vec::new()),
        captured: Mutex::new(Vec::new()),
        cache: prepare::RenderCache::default(),
    };
    let started = Instant::now();
    let workers = (0..concurrency.min(list.len())).map(|_| worker(run, &list, &tally, retry, cap));
    futures_util::future::join_all(workers).await;

    let done = tally.done.load(Ordering::Relaxed);
    let failed = tally.failed.load(Ordering::Relaxed);
    if run.cancel.is_cancelled() && done < total {
        return StepResult::Cancelled;
    }
    let elapsed = millis(started.elapsed());
    if failed == 0 {
        let captured = tally.captured.into_inner().unwrap_or_default();
        let captures = in_item_order(run, captured, list.len());
        let mut summary = format!("{total} items, all succeeded · {elapsed} ms");
        for name in captures.keys() {
            let _ = write!(summary, " · {name} = list of {total}");
        }
        return StepResult::Passed {
            summary,
            captures,
            items: Some((total, 0)),
        };
    }
    let mut first = tally.first.into_inner().unwrap_or_default();
    first.sort_by_key(|(i, _, _)| *i);
    let quoted: Vec<String> = first
        .iter()
        .take(QUOTED_FAILURES)
        .map(|(i, label, msg)| format!("#{i} {label}: {msg}"))
        .collect();
    StepResult::Failed {
        error: format!(
            "{failed} of {total} items failed; first failures: {}; re-run the step to retry them",
            quoted.join(" | ")
        ),
        expectations: Vec::new(),
        items: Some((total, failed)),
    }
}

/// Each capture name as a list with one value per item, in item order.
fn in_item_order(run: &Run<'_>, mut captured: Vec<(usize, Captures)>, total: usize) -> Captures {
    captured.sort_by_key(|(i, _)| *i);
    run.step
        .capture
        .keys()
        .map(|name| {
            let mut values = vec![None; total];
            for (i, map) in &mut captured {
                if let (Some(slot), Some(value)) = (values.get_mut(*i), map.remove(name)) {
                    *slot = Some(value);
                }
            }
            (name.clone(), Capture::list(values))
        })
        .collect()
}

/// A short label for an item (items may be tokens: show only their start).
fn label(item: &Value) -> String {
    let text = item
        .as_str()
        .map_or_else(|| item.to_string(), str::to_owned);
    let head: String = text.chars().take(10).collect();
    if head.len() < text.len() {
        format!("`{head}…`")
    } else {
        format!("`{head}`")
    }
}

async fn worker(run: &Run<'_>, list: &Items, tally: &Tally, retry: Option<Retry>, cap: u64) {
    let total = list.len() as u64;
    loop {
        if run.cancel.is_cancelled() {
            return;
        }
        let Some((i, item)) = list.next() else { return };
        let item = &item;
        let ctx = run.ctx.with(Some(item), None);
        let failure =
            match prepare::prepare(run.parts, run.step, run.http, &ctx, Some(&tally.cache)) {
                Err(e) => Some(e),
                Ok(prepared) => match attempts(run, &prepared, Some((i, item)), retry, cap).await {
                    Settled::Passed { captures, .. } => {
                        if !captures.is_empty()
                            && let Ok(mut captured) = tally.captured.lock()
                        {
                            captured.push((i, captures));
                        }
                        None
                    }
                    Settled::Failed { error, .. } => Some(error),
                    Settled::Cancelled => return,
                },
            };
        if let Some(msg) = failure {
            tally.failed.fetch_add(1, Ordering::Relaxed);
            if let Ok(mut first) = tally.first.lock()
                && first.len() < 64
            {
                // Masked before it is cut: a cut through a secret would leave a prefix.
                first.push((
                    i,
                    label(item),
                    short(&run.parts.mask.redactor().redact(&msg)),
                ));
            }
        }
        let done = tally.done.fetch_add(1, Ordering::Relaxed) + 1;
        run.rec.progress(Progress::Items {
            done,
            total,
            failed: tally.failed.load(Ordering::Relaxed),
        });
    }
}
