//! The reconnect merge: a pending sub-chain ([`super::pending`]) re-sequenced onto the shared
//! chain, in order, nothing dropped or rewritten, then one `sync.merged` event.
//!
//! ```text
//! check the root (the server still holds the hash the sub-chain hangs from, else the
//!   "journal rewritten" alarm) ─▶ BEGIN; advisory lock; read every event after the root,
//!   verified link by link ─▶ plan ─▶ INSERT the next ≤ batch pending events (each with
//!   data.offline {at, hash, mono_ms, seq}: its original time, local hash and seq) [+ sync.merged
//!   {count, subchain_head, root_seq, conflicts} with the last batch] ─▶ COMMIT ─▶ … ─▶ clear
//!   the pending file
//! ```
//!
//! Idempotent, so a crash anywhere resumes without a duplicate: the plan is made under the
//! lock from what the server holds after the root. A pending event is already merged when an
//! event by this login carries its local hash in `data.offline`; it is already there when its
//! `tried` hash (a commit in flight when the link dropped) is on the chain; the whole merge is
//! done when a `sync.merged` by this login names the sub-chain's head. The pending file is
//! cleared only after that, so it is never lost before the server has every event.
//!
//! Conflicts: a step done twice, by this responder offline and by a teammate after the root
//! ([`works_step`] decides which kinds are "doing a step"). They are listed in `sync.merged`
//! (the commander sees them in the timeline, in exports, and in `Incident::merges`); nothing
//! is undone. Teammates' events after the root are caught up by the follower into the
//! mirror (it listens first, then catches up, as always); the merge reads them for its plan.

use std::collections::{BTreeMap, HashMap, HashSet};

use super::TeamError;
use super::chain::{Chain, Fetched, Proposed};
use super::mirror::check_held;
use super::pending::{Pending, PendingEvent};
use crate::journal::offline::merged_data;
use crate::journal::payload::{Conflict, SyncMerged};
use crate::journal::shared::off_the_executor;
use crate::journal::{Event, Kind, NewEvent, Payload};

/// Pending events per transaction (bounds the statement, as the writer's batch does).
pub const MERGE_BATCH: usize = 1_000;

/// A finished merge.
#[derive(Debug, Clone)]
pub struct Merged {
    /// The `sync.merged` event as stored (found, when an earlier run had committed it).
    pub event: Event,
    pub summary: SyncMerged,
    /// Pending events found on the chain already: their commit went through as the link dropped.
    pub committed_before: u64,
}

/// Where a merge stands after one transaction.
#[derive(Debug)]
pub enum Step {
    /// Nothing pending.
    Nothing,
    /// A batch committed; more to go.
    More,
    /// Every event is on the shared chain and so is `sync.merged` (the pending file is not
    /// cleared yet: [`merge`] does that).
    Done(Box<Merged>),
}

/// Merge the whole sub-chain and clear the pending file; `None` when nothing was pending.
pub async fn merge(
    chain: &mut Chain,
    pending: &mut Pending,
    batch: usize,
) -> Result<Option<Box<Merged>>, TeamError> {
    loop {
        match merge_step(chain, pending, batch).await? {
            Step::Nothing => return Ok(None),
            Step::More => {}
            Step::Done(merged) => {
                off_the_executor(|| pending.clear())?;
                return Ok(Some(merged));
            }
        }
    }
}

/// One transaction of a merge (a crash between two leaves a state [`merge`] resumes from).
pub async fn merge_step(
    chain: &mut Chain,
    pending: &Pending,
    batch: usize,
) -> Result<Step, TeamError> {
    let Some((root_seq, root_hash)) = pending.root() else {
        return Ok(Step::Nothing);
    };
    let root_hash = root_hash.to_owned();
    check_held(chain, root_seq, &root_hash).await?;
    let incident = chain.incident().to_owned();
    let login = chain.login().to_owned();
    let mut decided = None;
    let (_, appended) = chain
        .append_planned((root_seq, &root_hash), |since| {
            let plan = plan(since, pending.events(), &login, root_seq, batch.max(1)).map_err(
                |reason| TeamError::Merge {
                    incident: incident.clone(),
                    reason,
                },
            )?;
            decided = Some(plan.outcome);
            Ok(plan.proposals)
        })
        .await?;
    Ok(match decided {
        None => Step::Nothing,
        Some(Outcome::More) => Step::More,
        Some(Outcome::Found {
            event,
            summary,
            committed_before,
        }) => Step::Done(Box::new(Merged {
            event,
            summary,
            committed_before,
        })),
        Some(Outcome::Final {
            summary,
            committed_before,
        }) => match appended.last() {
            Some(event) => Step::Done(Box::new(Merged {
                event: event.clone(),
                summary,
                committed_before,
            })),
            None => Step::More,
        },
    })
}

/// Kinds that mean "this responder is doing this step": the same step with such events from
/// two responders is a conflict.
pub fn works_step(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::StepStarted
            | Kind::StepSucceeded
            | Kind::StepFailed
            | Kind::StepSkipped
            | Kind::StepClaimed
            | Kind::StepTakenOver
    )
}

#[derive(Debug)]
enum Outcome {
    /// An earlier run committed everything, `sync.merged` included.
    Found {
        event: Event,
        summary: SyncMerged,
        committed_before: u64,
    },
    More,
    /// This transaction carries the last events and `sync.merged`.
    Final {
        summary: SyncMerged,
        committed_before: u64,
    },
}

struct Plan {
    proposals: Vec<Proposed>,
    outcome: Outcome,
}

/// Decide the next transaction from what the server holds after the root (`since`).
fn plan(
    since: &[Fetched],
    pending: &[PendingEvent],
    login: &str,
    root_seq: u64,
    batch: usize,
) -> Result<Plan, String> {
    let Some(head) = pending.last().map(|p| p.event.hash.as_str()) else {
        return Ok(Plan {
            proposals: Vec::new(),
            outcome: Outcome::More,
        });
    };
    let on_chain: HashSet<&str> = since.iter().map(|f| f.event.hash.as_str()).collect();
    let committed_before = pending
        .iter()
        .filter(|p| p.tried.as_deref().is_some_and(|t| on_chain.contains(t)))
        .count() as u64;
    // Local hash → shared seq, of what earlier runs merged.
    let mut merged: HashMap<String, u64> = HashMap::new();
    for f in since.iter().filter(|f| f.event.actor == login) {
        if f.event.kind == Kind::SyncMerged {
            if let Ok(Payload::SyncMerged(summary)) = f.event.payload()
                && summary.subchain_head == head
            {
                return Ok(Plan {
                    proposals: Vec::new(),
                    outcome: Outcome::Found {
                        event: f.event.clone(),
                        summary,
                        committed_before,
                    },
                });
            }
        } else if let Some(offline) = f.event.offline() {
            merged.insert(offline.hash, f.event.seq);
        }
    }
    let remaining: Vec<&PendingEvent> = pending
        .iter()
        .filter(|p| {
            !merged.contains_key(&p.event.hash)
                && !p.tried.as_deref().is_some_and(|t| on_chain.contains(t))
        })
        .collect();
    let next_seq = since.last().map_or(root_seq, |f| f.event.seq) + 1;
    let take = remaining.len().min(batch);
    let mut proposals = Vec::with_capacity(take + 1);
    for (i, p) in remaining[..take].iter().enumerate() {
        merged.insert(p.event.hash.clone(), next_seq + i as u64);
        proposals.push(resequenced(&p.event)?);
    }
    if remaining.len() > take {
        return Ok(Plan {
            proposals,
            outcome: Outcome::More,
        });
    }
    let count = pending
        .iter()
        .filter(|p| merged.contains_key(&p.event.hash))
        .count() as u64;
    let summary = SyncMerged {
        count,
        subchain_head: head.to_owned(),
        root_seq,
        conflicts: conflicts(since, pending, &merged, login),
    };
    proposals.push(Proposed::of(&NewEvent::incident(summary.clone())));
    Ok(Plan {
        proposals,
        outcome: Outcome::Final {
            summary,
            committed_before,
        },
    })
}

/// A pending event as it goes onto the shared chain: its kind, step and data, plus
/// `data.offline`. Its data was redacted before it was written to the pending file, and
/// `data.offline` adds only a time, seqs and a hash: nothing to mask.
fn resequenced(event: &Event) -> Result<Proposed, String> {
    let data = merged_data(event).map_err(|e| format!("pending seq {}: {e}", event.seq))?;
    Ok(Proposed {
        kind: event.kind,
        step: event.step.clone(),
        data,
    })
}

/// Steps this responder worked offline that a teammate worked after the root.
fn conflicts(
    since: &[Fetched],
    pending: &[PendingEvent],
    merged: &HashMap<String, u64>,
    login: &str,
) -> Vec<Conflict> {
    let mut ours: BTreeMap<&str, u64> = BTreeMap::new();
    for p in pending {
        let (Some(step), Some(&seq)) = (p.event.step.as_deref(), merged.get(&p.event.hash)) else {
            continue;
        };
        if works_step(p.event.kind) {
            let first = ours.entry(step).or_insert(seq);
            *first = (*first).min(seq);
        }
    }
    let mut theirs: BTreeMap<&str, (u64, &str)> = BTreeMap::new();
    for f in since {
        let Some(step) = f.event.step.as_deref() else {
            continue;
        };
        if f.event.actor != login && works_step(f.event.kind) && ours.contains_key(step) {
            theirs
                .entry(step)
                .or_insert((f.event.seq, f.event.actor.as_str()));
        }
    }
    theirs
        .into_iter()
        .filter_map(|(step, (seq, by))| {
            Some(Conflict {
                step: step.to_owned(),
                ours: *ours.get(step)?,
                theirs: seq,
                by: by.to_owned(),
            })
        })
        .collect()
}
