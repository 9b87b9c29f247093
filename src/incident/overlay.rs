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

    /// Fold own events an earlier run left on the pending sub-chain (in order), unless the
    /// view already holds the merge that named their head (it happened before this was
    /// called: the copies are in the view already).
    pub fn resume(&mut self, view: &mut Incident, left: Vec<Event>) {
        let Some(head) = left.last() else { return };
        if view
            .merges
            .iter()
            .any(|m| m.merged.subchain_head == head.hash)
        {
            return;
        }
        for event in left {
            self.push_pending(view, event);
        }
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
        if let Some(copy) = event.offline() {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Kind;
    use serde_json::{Value, json};

    fn event(seq: u64, actor: &str, kind: Kind, step: Option<&str>, data: Value) -> Event {
        Event::for_test(seq, actor, kind, step, data)
    }

    fn done(seq: u64, offline: Option<&Event>) -> Event {
        let mut data = json!({"duration_ms": 9, "summary": "closed", "captures": {}});
        if let Some(local) = offline {
            data["offline"] = json!({"at": local.at, "hash": local.hash,
                                     "mono_ms": local.mono_ms, "seq": local.seq});
        }
        event(seq, "bob", Kind::StepSucceeded, Some("snap"), data)
    }

    fn note(seq: u64, actor: &str, text: &str) -> Event {
        event(
            seq,
            actor,
            Kind::Note,
            None,
            json!({"text": text, "tags": []}),
        )
    }

    #[test]
    fn a_pending_event_shows_at_once_and_is_replaced_by_its_merged_copy_never_twice() {
        let mut view = Incident::replay([note(1, "ann", "opened")]);
        let mut overlay = Overlay::default();
        // Offline: bob's outcome on the sub-chain, provisional seq 2.
        let local = done(2, None);
        overlay.push_pending(&mut view, local.clone());
        assert_eq!(view.status("snap"), super::super::StepStatus::Succeeded);
        assert_eq!((overlay.pending(), overlay.shared_seq(&view)), (1, 1));

        // ann's seq 2 on the shared chain: same number, another event; both are shown.
        overlay.push_shared(&mut view, [note(2, "ann", "meanwhile")]);
        assert_eq!(view.notes.len(), 2);
        assert_eq!(view.status("snap"), super::super::StepStatus::Succeeded);
        assert_eq!((overlay.pending(), overlay.shared_seq(&view)), (1, 2));
        // Seen already: skipped.
        overlay.push_shared(&mut view, [note(2, "ann", "meanwhile")]);
        assert_eq!(view.notes.len(), 2);

        // The merged copy (seq 3, data.offline naming the local hash) replaces it.
        overlay.push_shared(&mut view, [done(3, Some(&local))]);
        assert_eq!(overlay.pending(), 0);
        assert_eq!(view.last_seq, 3);
        let outcomes = view
            .events
            .iter()
            .filter(|e| e.kind == Kind::StepSucceeded)
            .count();
        assert_eq!(outcomes, 1, "folded once: {:?}", view.events);
        assert_eq!(view.events.len(), 3);
    }

    #[test]
    fn sync_merged_naming_the_head_settles_every_pending_event_up_to_it() {
        let mut view = Incident::replay([note(1, "ann", "opened")]);
        let mut overlay = Overlay::default();
        let first = note(2, "bob", "offline one");
        let head = note(3, "bob", "offline two");
        overlay.push_pending(&mut view, first.clone());
        overlay.push_pending(&mut view, head.clone());
        assert_eq!(view.notes.len(), 3);
        // The server already had the first (its commit went through as the link dropped):
        // the merge copies only the second, then names the sub-chain's head.
        let copy_of_first = note(2, "bob", "offline one");
        let merged = event(
            3,
            "bob",
            Kind::SyncMerged,
            None,
            json!({"count": 1, "subchain_head": head.hash, "root_seq": 1, "conflicts": []}),
        );
        overlay.push_shared(&mut view, [copy_of_first]);
        assert_eq!(overlay.pending(), 2, "not a copy: data.offline is missing");
        overlay.push_shared(&mut view, [merged]);
        assert_eq!(overlay.pending(), 0);
        assert_eq!(view.notes.len(), 2, "{:?}", view.notes);
        assert_eq!(view.last_seq, 3);
    }

    #[test]
    fn an_earlier_runs_pending_work_is_shown_unless_its_merge_is_already_folded() {
        let opened = note(1, "ann", "opened");
        let left = vec![note(2, "bob", "kept offline")];
        let mut view = Incident::replay([opened.clone()]);
        let mut overlay = Overlay::default();
        overlay.resume(&mut view, left.clone());
        assert_eq!((overlay.pending(), view.notes.len()), (1, 2));

        // The merge landed before the caller looked: its copy and sync.merged are in the view.
        let mut copy = json!({"text": "kept offline", "tags": []});
        copy["offline"] = json!({"at": left[0].at, "hash": left[0].hash, "mono_ms": 2, "seq": 2});
        let merged = event(
            3,
            "bob",
            Kind::SyncMerged,
            None,
            json!({"count": 1, "subchain_head": left[0].hash, "root_seq": 1, "conflicts": []}),
        );
        let mut view = Incident::replay([opened, event(2, "bob", Kind::Note, None, copy), merged]);
        let mut overlay = Overlay::default();
        overlay.resume(&mut view, left);
        assert_eq!((overlay.pending(), view.notes.len()), (0, 2));
    }
}
