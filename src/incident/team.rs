//! Who does what in a shared incident: which responder holds each step and who commands.
//!
//! Folded from the journal like everything else in [`Incident`](super::Incident), by the same
//! rules the team database enforces on append (migration `0002_roles_claims.sql`), so what the
//! screen says and what the server allows cannot drift apart:
//!
//! - a step's holder is the actor of its last `step.claimed` or `step.taken_over`, none after
//!   a `step.released` by the holder;
//! - the commander is the actor of `incident.opened` until a `role.changed` gives `commander`
//!   to someone else (a hand-over by the commander, or a journalled take-over of command);
//! - each login's role is the last `role.changed` for it (the commander's is `commander`).
//!
//! File journals have no claims and one responder: everything here stays empty but the
//! commander, and nothing reads it outside team mode.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::journal::payload::{Payload, RoleChanged, StepTakenOver};
use crate::journal::{Event, Kind};

/// The role the old commander keeps after handing command over, when they had no other.
pub const AFTER_COMMAND: &str = "ops";

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Team {
    /// Step id → the login holding it.
    pub holders: BTreeMap<String, String>,
    pub commander: Option<String>,
    /// Login → role, as changed in this incident (the commander is not listed here).
    pub roles: BTreeMap<String, String>,
}

impl Team {
    pub fn is_empty(&self) -> bool {
        self.holders.is_empty() && self.commander.is_none() && self.roles.is_empty()
    }

    /// Who holds `step`, if anyone.
    pub fn holder(&self, step: &str) -> Option<&str> {
        self.holders.get(step).map(String::as_str)
    }

    /// Whether `login` may run `step` without a take-over (it is free or theirs).
    pub fn may_run(&self, step: &str, login: &str) -> bool {
        self.holder(step).is_none_or(|h| h == login)
    }

    /// A login's role: `commander`, else the last one given to it.
    pub fn role_of(&self, login: &str) -> Option<&str> {
        if self.commander.as_deref() == Some(login) {
            return Some("commander");
        }
        self.roles.get(login).map(String::as_str)
    }

    /// Fold the team part of one event on its own, decoding only the kinds this reads: for a
    /// fold of who holds what outside an [`Incident`](super::Incident) (the team session's
    /// offline rule), by the same rules.
    pub fn fold(&mut self, event: &Event) {
        if Self::changes(event.kind)
            && let Ok(payload) = event.payload()
        {
            self.apply(event, &payload);
        }
    }

    /// Whether an event of `kind` can change who holds what or who has which role.
    pub fn changes(kind: Kind) -> bool {
        matches!(
            kind,
            Kind::IncidentOpened
                | Kind::StepClaimed
                | Kind::StepTakenOver
                | Kind::StepReleased
                | Kind::RoleChanged
        )
    }

    /// Fold the team part of one event (its payload already decoded).
    pub(super) fn apply(&mut self, event: &Event, payload: &Payload) {
        match payload {
            Payload::IncidentOpened(_) if self.commander.is_none() => {
                self.commander = Some(event.actor.clone());
            }
            Payload::StepClaimed(_) | Payload::StepTakenOver(StepTakenOver { .. }) => {
                if let Some(step) = &event.step {
                    self.holders.insert(step.clone(), event.actor.clone());
                }
            }
            Payload::StepReleased(_) => {
                if let Some(step) = &event.step
                    && self.holder(step) == Some(event.actor.as_str())
                {
                    self.holders.remove(step);
                }
            }
            Payload::RoleChanged(RoleChanged { login, role, .. }) if role == "commander" => {
                if let Some(old) = self.commander.replace(login.clone())
                    && old != *login
                {
                    self.roles
                        .entry(old)
                        .or_insert_with(|| AFTER_COMMAND.to_owned());
                }
                self.roles.remove(login);
            }
            Payload::RoleChanged(RoleChanged { login, role, .. }) => {
                if self.commander.as_deref() == Some(login.as_str()) {
                    // Only a hand-over ends command: a commander given another role keeps it.
                    return;
                }
                self.roles.insert(login.clone(), role.clone());
            }
            _ => {}
        }
    }
}
