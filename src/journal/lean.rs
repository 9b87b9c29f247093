//! A journal read for a report ([`stream_lean`](super::stream::stream_lean)): a foreach
//! exchange (`http.request` or `http.response` of a step, with an `item`) comes as an
//! [`Exchange`]: its line's fields read in place, its payload decoded once, no [`Event`] built;
//! every other line as the [`Event`] it is. A 2,000,000-event incident is almost all
//! exchanges, and its export's cost is building and dropping their events.
//!
//! The verdict is the full reading's: a line is an [`Exchange`] only when it reads in place
//! with `Event`'s strictness and its own bytes hash to its `hash` (as `stanch verify` reads
//! it), and its `data` decodes as its kind's payload without a `data.offline` (see
//! [`super::offline`]); anything else (escapes where the writer writes none, a re-formatted
//! line, a payload that does not decode) takes the full parse and comes as an [`Event`], so a
//! reader folds the same values either way (the export's streamed-vs-replayed goldens compare
//! the two). Parsing and decoding run on the stream's parser threads; names are shared
//! (`Names`) so an exchange costs no allocation beyond its payload's own.

use std::sync::Arc;

use jiff::Timestamp;

use super::event::{Data, Event, Kind};
use super::in_place::{self, InPlace};
use super::payload::Payload;
use super::replay::{Fault, parse_line, raw_hash_matches};

/// One good line as [`stream_lean`](super::stream::stream_lean) hands it over.
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "exchanges are nearly every record: boxing would allocate once per exchange"
)]
pub enum Record {
    Exchange(Exchange),
    Event(Event),
}

/// A foreach exchange: what a report reads of an `http.request`/`http.response` event with an
/// `item`, without the rest of its event (`mono_ms`, `prev`, the `data` text).
#[derive(Debug, Clone)]
pub struct Exchange {
    pub seq: u64,
    pub at: Timestamp,
    pub actor: Arc<str>,
    pub step: Arc<str>,
    /// The foreach index (the payload's `item`).
    pub item: u64,
    /// [`Payload::HttpRequest`] or [`Payload::HttpResponse`], decoded as [`Event::payload`]
    /// decodes it.
    pub payload: Payload,
    hash: [u8; 64],
}

impl Exchange {
    pub fn kind(&self) -> Kind {
        self.payload.kind()
    }

    /// The event's `hash` (64 lowercase hex digits).
    pub fn hash(&self) -> &str {
        // Made only from a hash checked to be hex (ASCII).
        std::str::from_utf8(&self.hash).unwrap_or_default()
    }
}

/// A line as the parser threads leave it: borrowed from the batch until [`Lean::own`].
#[derive(Debug)]
#[expect(
    clippy::large_enum_variant,
    reason = "exchanges are nearly every line: boxing would allocate once per exchange"
)]
pub(super) enum Lean<'a> {
    Exchange {
        fields: InPlace<'a>,
        step: &'a str,
        item: u64,
        payload: Payload,
    },
    Event(Event),
}

impl Lean<'_> {
    /// `(seq, prev, hash)`.
    pub(super) fn chain(&self) -> (u64, &str, &str) {
        match self {
            Lean::Exchange { fields, .. } => (fields.seq, fields.prev, fields.hash),
            Lean::Event(event) => (event.seq, &event.prev, &event.hash),
        }
    }

    /// The owned [`Record`], its names from `names`.
    pub(super) fn own(self, names: &mut Names) -> Record {
        match self {
            Lean::Exchange {
                fields,
                step,
                item,
                payload,
            } => {
                let mut hash = [0; 64];
                hash.copy_from_slice(fields.hash.as_bytes());
                Record::Exchange(Exchange {
                    seq: fields.seq,
                    at: fields.at,
                    actor: names.get(fields.actor),
                    step: names.get(step),
                    item,
                    payload,
                    hash,
                })
            }
            Lean::Event(event) => Record::Event(event),
        }
    }
}

/// Parse one line (on a parser thread): an exchange read in place when it can be, else the
/// event (in place, or by the full parse when it does not read in place); `bool` is whether
/// its hash matches its content, as [`parse_line`] says it.
pub(super) fn parse(bytes: &[u8]) -> Result<(Lean<'_>, bool), Fault> {
    let Some(fields) = in_place::read(bytes) else {
        return parse_line(bytes).map(|(event, ok)| (Lean::Event(event), ok));
    };
    if !raw_hash_matches(bytes, fields.prev, fields.hash) {
        return parse_line(bytes).map(|(event, ok)| (Lean::Event(event), ok));
    }
    if let Some((step, item, payload)) = exchange(&fields) {
        return Ok((
            Lean::Exchange {
                fields,
                step,
                item,
                payload,
            },
            true,
        ));
    }
    let event = Event {
        seq: fields.seq,
        at: fields.at,
        mono_ms: fields.mono_ms,
        actor: fields.actor.to_owned(),
        kind: fields.kind,
        step: fields.step.map(str::to_owned),
        data: Data::from(fields.data),
        prev: fields.prev.to_owned(),
        hash: fields.hash.to_owned(),
    };
    Ok((Lean::Event(event), true))
}

/// The step, item and payload of a foreach exchange line, when it is one that reads lean.
fn exchange<'a>(fields: &InPlace<'a>) -> Option<(&'a str, u64, Payload)> {
    if !matches!(fields.kind, Kind::HttpRequest | Kind::HttpResponse) {
        return None;
    }
    let step = fields.step?;
    let data = fields.data.get();
    if super::offline::may_hold(fields.kind, data) {
        return None;
    }
    let payload = Payload::decode(fields.kind, data).ok()?;
    let item = match &payload {
        Payload::HttpRequest(p) => p.item?,
        Payload::HttpResponse(p) => p.item?,
        _ => return None,
    };
    Some((step, item, payload))
}

/// Actor and step names shared between exchanges: a foreach has one step and a few actors,
/// so each name is allocated once (a journal of more distinct names than [`Names::KEPT`]
/// allocates the rest per exchange).
#[derive(Debug, Default)]
pub(super) struct Names(Vec<Arc<str>>);

impl Names {
    const KEPT: usize = 64;

    fn get(&mut self, name: &str) -> Arc<str> {
        if let Some(kept) = self.0.iter().find(|kept| ***kept == *name) {
            return Arc::clone(kept);
        }
        let new: Arc<str> = Arc::from(name);
        if self.0.len() < Self::KEPT {
            self.0.push(Arc::clone(&new));
        }
        new
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::stream::stream_lean;
    use crate::journal::writer::JOURNAL_FILE;
    use crate::journal::{Journal, NewEvent};
    use serde_json::json;

    /// A foreach's exchanges, some of which cannot read lean.
    fn incident() -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(dir.path(), "alice").unwrap();
        let events = [
            NewEvent::for_step(
                Kind::StepStarted,
                "revoke",
                json!({"attempt": 1, "rerun": false, "request": {"method": "POST", "url": "http://h/r", "headers": {}}}),
            ),
            // 1 is the step.started. 2, 3: lean.
            NewEvent::for_step(
                Kind::HttpRequest,
                "revoke",
                json!({"item": 0, "body_bytes": 3}),
            ),
            NewEvent::for_step(
                Kind::HttpResponse,
                "revoke",
                json!({"item": 0, "status": 404, "elapsed_ms": 2, "bytes": 0}),
            ),
            // 4: a transport failure, lean.
            NewEvent::for_step(
                Kind::HttpResponse,
                "revoke",
                json!({"item": 1, "elapsed_ms": 9, "error": "connection refused"}),
            ),
            // 5: no item (not a foreach exchange): an event.
            NewEvent::for_step(Kind::HttpRequest, "revoke", json!({"path": "/x"})),
            // 6: merged from offline: an event.
            NewEvent::for_step(
                Kind::HttpRequest,
                "revoke",
                json!({"item": 2, "offline": {"at": "2026-12-01T10:00:00Z", "hash": "00", "mono_ms": 1, "seq": 9}}),
            ),
            // 7: a payload that does not decode: an event (the fold names it unreadable).
            NewEvent::for_step(
                Kind::HttpResponse,
                "revoke",
                json!({"item": 3, "status": "teapot"}),
            ),
            // 8: by another actor, lean.
            NewEvent::for_step(Kind::HttpRequest, "revoke", json!({"item": 4})).by("bob"),
            // 9: an escape where the writer writes none (edited below): an event.
            NewEvent::for_step(Kind::HttpRequest, "revoke", json!({"item": 5})),
        ];
        for event in events {
            journal.append_blocking(event).unwrap();
        }
        drop(journal);
        let path = dir.path().join(JOURNAL_FILE);
        let text = std::fs::read_to_string(&path).unwrap();
        let mut lines: Vec<String> = text.lines().map(str::to_owned).collect();
        lines[8] = lines[8].replacen("\"alice\"", "\"\\u0061lice\"", 1);
        std::fs::write(&path, lines.join("\n") + "\n").unwrap();
        dir
    }

    #[test]
    fn exchanges_read_lean_and_everything_else_as_the_event_it_is() {
        let dir = incident();
        let (_, replayed) = crate::journal::replay::replay_file(dir.path()).unwrap();
        assert_eq!(replayed.broken, None);
        let mut records = Vec::new();
        stream_lean(dir.path(), |r| records.push(r)).unwrap();
        assert_eq!(records.len(), replayed.events.len());
        let mut lean = Vec::new();
        for (record, event) in records.iter().zip(&replayed.events) {
            match record {
                Record::Exchange(x) => {
                    lean.push(x.seq);
                    // What a reader folds is what the whole event says.
                    assert_eq!((x.seq, x.at, x.kind()), (event.seq, event.at, event.kind));
                    assert_eq!(
                        (&*x.actor, Some(&*x.step)),
                        (event.actor.as_str(), event.step.as_deref())
                    );
                    assert_eq!(x.hash(), event.hash);
                    assert_eq!(
                        format!("{:?}", x.payload),
                        format!("{:?}", event.payload().unwrap())
                    );
                }
                Record::Event(e) => assert_eq!(e, event),
            }
        }
        assert_eq!(lean, [2, 3, 4, 8]);
        // One allocation per name, shared by every exchange.
        let actors: Vec<&Arc<str>> = records
            .iter()
            .filter_map(|r| match r {
                Record::Exchange(x) if &*x.actor == "alice" => Some(&x.actor),
                _ => None,
            })
            .collect();
        assert!(Arc::ptr_eq(actors[0], actors[2]));
    }
}
