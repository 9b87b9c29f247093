//! The pending sub-chain: what a responder records while the team link is down, until the
//! merge ([`super::merge`]) re-sequences it onto the shared chain.
//!
//! ```text
//! shared:  … ─ 41 ─ 42 (last verified server head = the root)
//!                     └─ pending: 43' ─ 44' ─ 45'   (<incident dir>/pending.jsonl, local seqs)
//! ```
//!
//! - What may go there is decided by ONE rule, [`offline_rule`]: a function of the event's
//!   kind and of local state (whether this responder holds the event's step). Notes, facts and
//!   their corrections, marks, evidence, checklist ticks, draft saves and warnings always;
//!   step work (`step.started`, `http.*`, outcomes, `confirm`, …) only on a step this
//!   responder holds; everything that needs the team to agree (claims, take-overs, role
//!   changes, closing, injects, opening) is refused with [`TeamError::NeedsLink`].
//! - Each line is `{"event":<journal line>,"tried":"<hash>"?}`: the event exactly as the file
//!   journal would write it (same fields, same hash rule, its own links: the first event's
//!   `prev` is the root's hash and its seq the root's + 1), already redacted, so no runbook
//!   secret is ever on disk here either. `tried` is the hash the server holds for the event if
//!   the commit that was in flight when the link dropped went through after all: the merge
//!   then finds it there and does not append it twice.
//! - An event is acknowledged only once its line is synced (`sync_data`), like the file
//!   journal. On open the file is read back and every link checked: a torn last line (a crash
//!   mid-write, never acknowledged) is cut; damage elsewhere is [`TeamError::PendingBroken`]
//!   and the file is left as it is. The file is private (0600, never through a link).
//! - [`Pending::clear`] empties it, and only the merge calls it, after its last commit.
//! - One writer: the file sits in the incident directory whose writer lock the mirror holds
//!   ([`super::Mirror::open`]); open the mirror first, then this, in the same process.
//!
//! Blocking file I/O; callers on a runtime move it off the executor.

use std::fs::File;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::Deserialize;
use serde_json::value::RawValue;

use super::TeamError;
use super::chain::{Proposed, now_ms, seal, splice_hash};
use crate::journal::replay::check_line;
use crate::journal::{Event, Fault, Kind};

/// The pending file's name, beside the mirror's `journal.jsonl`.
pub const PENDING_FILE: &str = "pending.jsonl";

/// Whether an event of `kind` may be recorded while the team link is down. `holds_step`: the
/// responder holds (has claimed) the event's step, by their own fold of the chain.
///
/// The match is exhaustive on purpose: a new kind does not compile until someone decides.
pub fn offline_rule(kind: Kind, holds_step: bool) -> Result<(), TeamError> {
    let needs = |why: &'static str| Err(TeamError::NeedsLink { kind, why });
    match kind {
        // Single-owner records: nobody else can contradict them.
        Kind::Note
        | Kind::Fact
        | Kind::FactCorrected
        | Kind::Mark
        | Kind::EvidenceCaptured
        | Kind::ChecklistTicked
        | Kind::DraftSaved
        | Kind::InjectAcknowledged
        | Kind::Warning => Ok(()),
        // Work on a step: safe only on a step this responder already holds.
        Kind::StepStarted
        | Kind::HttpRequest
        | Kind::HttpResponse
        | Kind::StepSucceeded
        | Kind::StepFailed
        | Kind::StepSkipped
        | Kind::StepInterrupted
        | Kind::StepPending
        | Kind::Confirm => {
            if holds_step {
                Ok(())
            } else {
                needs("the step is not yours: claiming it needs the team link")
            }
        }
        Kind::StepClaimed | Kind::StepReleased | Kind::StepTakenOver => {
            needs("claims and take-overs need the team link")
        }
        Kind::RoleChanged => needs("role changes need the team link"),
        Kind::IncidentOpened => needs("opening an incident needs the team link"),
        Kind::Inject | Kind::DrillClock => needs("injects and the drill clock need the team link"),
        Kind::IncidentClosed => needs("closing the incident needs the team link"),
        Kind::DrillScore => needs("scoring a drill needs the team link"),
        Kind::JournalRecovered | Kind::SyncMerged | Kind::Checkpoint => {
            needs("this event is written by stanch itself, never offline")
        }
    }
}

/// One event of the sub-chain.
#[derive(Debug, Clone)]
pub struct PendingEvent {
    pub event: Event,
    /// The hash the server holds for it if an in-flight commit went through (see the module doc).
    pub tried: Option<String>,
}

/// The pending sub-chain of one incident, open for appending.
pub struct Pending {
    path: PathBuf,
    file: File,
    events: Vec<PendingEvent>,
    started: Instant,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Line<'a> {
    #[serde(borrow)]
    event: &'a RawValue,
    #[serde(default)]
    tried: Option<String>,
}

impl Pending {
    /// Open (or start) `<dir>/pending.jsonl`, reading back and checking what it holds.
    pub fn open(dir: &Path) -> Result<Self, TeamError> {
        let path = dir.join(PENDING_FILE);
        let io = |source| TeamError::Pending {
            path: path.clone(),
            source,
        };
        crate::private::ensure_dir(dir).map_err(io)?;
        let (file, _) = crate::private::open_or_create(&path).map_err(io)?;
        let bytes = crate::private::read(&path).map_err(io)?;
        let (events, good_len) =
            read_back(&bytes).map_err(|(line, fault)| TeamError::PendingBroken {
                path: path.clone(),
                line,
                fault,
            })?;
        if good_len < bytes.len() {
            // A torn last line: its event was never acknowledged.
            file.set_len(good_len as u64)
                .and_then(|()| file.sync_all())
                .map_err(io)?;
        }
        let mut file = file;
        std::io::Seek::seek(&mut file, std::io::SeekFrom::End(0)).map_err(io)?;
        Ok(Self {
            path,
            file,
            events,
            started: Instant::now(),
        })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn is_empty(&self) -> bool {
        self.events.is_empty()
    }

    pub fn len(&self) -> usize {
        self.events.len()
    }

    pub fn events(&self) -> &[PendingEvent] {
        &self.events
    }

    /// The shared event the sub-chain hangs from: `(seq, hash)`; `None` when empty.
    pub fn root(&self) -> Option<(u64, &str)> {
        self.events
            .first()
            .map(|p| (p.event.seq - 1, p.event.prev.as_str()))
    }

    /// The hash of the sub-chain's last event.
    pub fn head_hash(&self) -> Option<&str> {
        self.events.last().map(|p| p.event.hash.as_str())
    }

    /// Append `proposed` (already redacted) as `actor`, after the last pending event or, when
    /// there is none, after `root` (the last verified server head). Returns once synced.
    pub fn push(
        &mut self,
        root: (u64, &str),
        actor: &str,
        proposed: Proposed,
        tried: Option<String>,
    ) -> Result<Event, TeamError> {
        let (seq, prev) = match self.events.last() {
            Some(last) => (last.event.seq + 1, last.event.hash.clone()),
            None => (root.0 + 1, root.1.to_owned()),
        };
        let (event, canonical) = seal(Event {
            seq,
            at: now_ms(),
            mono_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
            actor: actor.to_owned(),
            kind: proposed.kind,
            step: proposed.step,
            data: proposed.data,
            prev,
            hash: String::new(),
        });
        let mut line = b"{\"event\":".to_vec();
        line.extend_from_slice(&splice_hash(canonical, &event.hash));
        if let Some(tried) = &tried {
            line.extend_from_slice(b",\"tried\":");
            // A hex hash from our own chain code: serializing a string cannot fail.
            line.extend_from_slice(&serde_json::to_vec(tried).unwrap_or_default());
        }
        line.extend_from_slice(b"}\n");
        let io = |source| TeamError::Pending {
            path: self.path.clone(),
            source,
        };
        self.file.write_all(&line).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        self.events.push(PendingEvent {
            event: event.clone(),
            tried,
        });
        Ok(event)
    }

    /// Empty the file: only after the merge's last commit.
    pub fn clear(&mut self) -> Result<(), TeamError> {
        let io = |source| TeamError::Pending {
            path: self.path.clone(),
            source,
        };
        self.file.set_len(0).map_err(io)?;
        self.file.sync_all().map_err(io)?;
        self.events.clear();
        Ok(())
    }
}

/// Check every complete line; returns the events and the length of the good part (a torn
/// last line is left out), or the 1-based line and fault of the first damage.
fn read_back(bytes: &[u8]) -> Result<(Vec<PendingEvent>, usize), (usize, Fault)> {
    let mut events: Vec<PendingEvent> = Vec::new();
    let mut good_len = 0;
    for (index, raw) in bytes.split_inclusive(|&b| b == b'\n').enumerate() {
        let Some(body) = raw.strip_suffix(b"\n") else {
            // An unterminated last piece: a torn write, never acknowledged.
            break;
        };
        let line: Line = serde_json::from_slice(body)
            .map_err(|e| (index + 1, Fault::Unreadable(e.to_string())))?;
        let text = line.event.get().as_bytes();
        let (expected, prev) = if let Some(last) = events.last() {
            (last.event.seq + 1, last.event.hash.clone())
        } else {
            // The first event names its root: its own seq − 1 and its prev.
            let first: Event = serde_json::from_slice(text)
                .map_err(|e| (index + 1, Fault::Unreadable(e.to_string())))?;
            (first.seq, first.prev)
        };
        let event = check_line(text, expected, &prev).map_err(|fault| (index + 1, fault))?;
        if expected == 0 {
            return Err((
                index + 1,
                Fault::Seq {
                    expected: 1,
                    found: 0,
                },
            ));
        }
        events.push(PendingEvent {
            event,
            tried: line.tried,
        });
        good_len += raw.len();
    }
    Ok((events, good_len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::event::GENESIS;
    use crate::journal::payload::Note;
    use crate::journal::{NewEvent, Payload};

    fn note(text: &str) -> Proposed {
        Proposed::of(&NewEvent::incident(Note {
            text: text.into(),
            tags: vec![],
        }))
    }

    const ROOT: (u64, &str) = (
        41,
        "4242424242424242424242424242424242424242424242424242424242424242",
    );

    #[test]
    fn events_chain_from_the_root_and_survive_a_reopen() {
        let tmp = tempfile::tempdir().unwrap();
        let mut pending = Pending::open(tmp.path()).unwrap();
        assert!(pending.is_empty() && pending.root().is_none());
        let first = pending.push(ROOT, "ann", note("one"), None).unwrap();
        assert_eq!((first.seq, first.prev.as_str()), (42, ROOT.1));
        let second = pending
            .push(ROOT, "ann", note("two"), Some("ab".repeat(32)))
            .unwrap();
        assert_eq!(
            (second.seq, second.prev.as_str()),
            (43, first.hash.as_str())
        );
        assert!(second.hash_is_valid());
        drop(pending);
        let mut pending = Pending::open(tmp.path()).unwrap();
        assert_eq!(pending.root(), Some(ROOT));
        assert_eq!(pending.head_hash(), Some(second.hash.as_str()));
        assert_eq!(pending.events()[1].tried, Some("ab".repeat(32)));
        assert_eq!(pending.events()[1].event, second);
        let Payload::Note(n) = pending.events()[0].event.payload().unwrap() else {
            panic!("a note")
        };
        assert_eq!(n.text, "one");
        // Appending after a reopen continues the chain; the root argument is then unused.
        let third = pending
            .push((0, GENESIS), "ann", note("three"), None)
            .unwrap();
        assert_eq!((third.seq, third.prev), (44, second.hash));
        pending.clear().unwrap();
        drop(pending);
        assert!(Pending::open(tmp.path()).unwrap().is_empty());
        assert_eq!(std::fs::read(tmp.path().join(PENDING_FILE)).unwrap(), b"");
    }

    #[test]
    fn a_torn_last_line_is_cut_and_damage_is_named_by_line() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join(PENDING_FILE);
        let mut pending = Pending::open(tmp.path()).unwrap();
        for text in ["one", "two"] {
            pending.push(ROOT, "ann", note(text), None).unwrap();
        }
        drop(pending);
        let good = std::fs::read(&path).unwrap();
        let mut torn = good.clone();
        torn.extend_from_slice(br#"{"event":{"seq":44,"at":"#);
        std::fs::write(&path, &torn).unwrap();
        let pending = Pending::open(tmp.path()).unwrap();
        assert_eq!(pending.len(), 2);
        drop(pending);
        assert_eq!(std::fs::read(&path).unwrap(), good, "the torn line is gone");
        std::fs::write(
            &path,
            String::from_utf8(good).unwrap().replace("two", "TWO"),
        )
        .unwrap();
        let err = Pending::open(tmp.path()).err().expect("damage is refused");
        assert!(
            matches!(
                err,
                TeamError::PendingBroken {
                    line: 2,
                    fault: Fault::Hash,
                    ..
                }
            ),
            "{err}"
        );
        let mode = std::os::unix::fs::PermissionsExt::mode(
            &std::fs::metadata(&path).unwrap().permissions(),
        );
        assert_eq!(mode & 0o777, 0o600, "private");
    }

    #[test]
    fn the_offline_rule_lets_single_owner_records_through_and_step_work_only_when_held() {
        for kind in [
            Kind::Note,
            Kind::Fact,
            Kind::FactCorrected,
            Kind::Mark,
            Kind::EvidenceCaptured,
            Kind::ChecklistTicked,
            Kind::DraftSaved,
        ] {
            assert!(offline_rule(kind, false).is_ok(), "{kind}");
        }
        for kind in [
            Kind::StepStarted,
            Kind::HttpRequest,
            Kind::HttpResponse,
            Kind::StepSucceeded,
            Kind::StepFailed,
            Kind::Confirm,
        ] {
            assert!(offline_rule(kind, true).is_ok(), "{kind}");
            assert!(offline_rule(kind, false).is_err(), "{kind}");
        }
        for kind in [
            Kind::IncidentClosed,
            Kind::Inject,
            Kind::IncidentOpened,
            Kind::SyncMerged,
        ] {
            let err = offline_rule(kind, true).unwrap_err();
            assert!(err.to_string().contains("needs the team link"), "{err}");
        }
        assert_eq!(
            offline_rule(Kind::StepStarted, false)
                .unwrap_err()
                .to_string(),
            "step.started needs the team link: the step is not yours: claiming it needs the team link"
        );
    }
}
