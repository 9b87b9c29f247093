//! Team mode, offline: own events that are only on the pending sub-chain, shown on top of
//! the incident folded from the shared chain, without ever folding one event twice.
//!
//! A pending event's seq and hash are the sub-chain's (provisional): its seq may be one a
//! teammate's event already has on the server. So it is never folded into the incident that
//! tracks the shared chain (the *base*): while anything is pending, the incident the caller
//! reads (the *view*) is the base plus the pending events applied on top, rebuilt from the
//! base whenever a shared event arrives. A pending event leaves the overlay exactly when its
//! merged copy is folded into the base: the copy carries its local hash in `data.offline`
//! ([`crate::journal::offline`]); and a `sync.merged` naming a pending event as the sub-chain's
//! head takes it and every earlier one (that also covers an event whose commit went through
//! as the link dropped: the merge did not copy it, the server already had it). When nothing
//! is pending the view is the base and folding costs what it always did.

use crate::journal::offline;
use crate::journal::{Event, Kind, Payload};

use super::Incident;

/// The pending events over an incident (see the module doc). Keep one beside the incident
/// it overlays and fold everything through it.
#[derive(Debug, Default)]
pub struct Overlay {
    /// The incident as folded from the shared chain alone, while anything is pending.
    base: Option<Incident>,
    /// Own pending events, in sub-chain order.
    pending: Vec<Event>,
}

impl Overlay {
    /// How many own events are waiting for the merge.
    pub fn pending(&self) -> usize {
        self.pending.len()
    }

    /// The last shared-chain seq folded (the view's own seq may be a provisional one).
    pub fn shared_seq(&self, view: &Incident) -> u64 {
        self.base.as_ref().unwrap_or(view).last_seq
    }

    /// Fold an own event that went to the pending sub-chain.
    pub fn push_pending(&mut self, view: &mut Incident, event: Event) {
        if self.base.is_none() {
            self.base = Some(view.clone());
        }
        self.pending.push(event.clone());
        view.apply(event);
    }

    /// Fold events from the shared chain (in seq order; those at or below the last shared
    /// seq folded are skipped).
    pub fn push_shared(&mut self, view: &mut Incident, events: impl IntoIterator<Item = Event>) {
        let Some(mut base) = self.base.take() else {
            for event in events {
                if event.seq > view.last_seq {
                    view.apply(event);
                }
            }
            return;
        };
        for event in events {
            if event.seq <= base.last_seq {
                continue;
            }
            self.settle(&event);
            base.apply(event);
        }
        if self.pending.is_empty() {
            *view = base;
            return;
        }
        let mut rebuilt = base.clone();
        for event in &self.pending {
            rebuilt.apply(event.clone());
        }
        *view = rebuilt;
        self.base = Some(base);
    }

    /// Drop the pending events that `event` (from the shared chain) shows merged.
    fn settle(&mut self, event: &Event) {
        if let Some(copy) = offline::read(event.kind, event.data.get()) {
            self.pending.retain(|p| p.hash != copy.hash);
        }
        if event.kind == Kind::SyncMerged
            && let Ok(Payload::SyncMerged(merged)) = event.payload()
            && let Some(at) = self
                .pending
                .iter()
                .position(|p| p.hash == merged.subchain_head)
        {
            self.pending.drain(..=at);
        }
    }
}
