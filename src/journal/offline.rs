//! `data.offline`: the original place of an event that a team responder wrote on their pending
//! sub-chain while the link was down, kept when the merge re-sequences it onto the shared chain
//! (`{"offline":{"at":…,"hash":…,"mono_ms":…,"seq":…}}` beside the kind's own fields).
//!
//! The key is added in one place ([`attach`], the merge's) and read in one place ([`read`]);
//! typed decoding of the kind's payload never sees it ([`without`]), so every payload keeps
//! `deny_unknown_fields`. `drill.score`, whose shape the lab owns, never carries it. Values
//! stay the text they were (no tree is built of a step's captures): the object is read as
//! raw values by key, and written back with its keys sorted, as canonical `data` is.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde_json::value::RawValue;

use super::event::{Data, Event, Kind, Text};
use super::payload::Offline;

/// The key in `data`.
pub const KEY: &str = "offline";

/// Whether `data` of `kind` may hold the key at all (a cheap test before any parse).
pub(super) fn may_hold(kind: Kind, data: &str) -> bool {
    kind != Kind::DrillScore && data.contains("\"offline\"")
}

/// `data` (a JSON object's text) with `offline` added, keys sorted. An object that already has
/// the key, or text that is not an object, is an error.
pub fn attach(data: &str, offline: &Offline) -> Result<String, AttachError> {
    let mut fields: BTreeMap<&str, &RawValue> =
        serde_json::from_str(data).map_err(AttachError::NotAnObject)?;
    if fields.contains_key(KEY) {
        return Err(AttachError::AlreadyOffline);
    }
    let value = serde_json::value::to_raw_value(offline).map_err(AttachError::NotAnObject)?;
    fields.insert(KEY, &value);
    serde_json::to_string(&fields).map_err(AttachError::NotAnObject)
}

/// `event`'s data as it goes onto the shared chain when merged: the same fields plus
/// `data.offline` naming where it was first written (its time, hash, `mono_ms` and seq).
pub fn merged_data(event: &Event) -> Result<Data, AttachError> {
    let offline = Offline {
        at: event.at,
        hash: event.hash.clone(),
        mono_ms: event.mono_ms,
        seq: event.seq,
    };
    let text = attach(event.data.get(), &offline)?;
    Data::from_json(&text).map_err(AttachError::NotAnObject)
}

/// Why [`attach`] refused.
#[derive(Debug, thiserror::Error)]
pub enum AttachError {
    #[error("event data is not a JSON object: {0}")]
    NotAnObject(serde_json::Error),
    #[error("the event was already merged from a pending chain (it has data.offline)")]
    AlreadyOffline,
}

/// `data.offline`, if the event has one.
pub fn read(kind: Kind, data: &str) -> Option<Offline> {
    if !may_hold(kind, data) {
        return None;
    }
    let fields: BTreeMap<&str, &RawValue> = serde_json::from_str(data).ok()?;
    serde_json::from_str(fields.get(KEY)?.get()).ok()
}

/// `data` without `offline` (the text itself, shared, when it has none).
pub(crate) fn without(kind: Kind, data: &Text) -> Text {
    if !may_hold(kind, data) {
        return Arc::clone(data);
    }
    let Ok(mut fields) = serde_json::from_str::<BTreeMap<&str, &RawValue>>(data) else {
        return Arc::clone(data);
    };
    if fields.remove(KEY).is_none() {
        return Arc::clone(data);
    }
    serde_json::to_string(&fields).map_or_else(|_| Arc::clone(data), Arc::new)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::Payload;
    use crate::journal::payload::Note;

    fn offline() -> Offline {
        Offline {
            at: "2026-11-30T10:00:00.123Z".parse().unwrap(),
            seq: 8,
            mono_ms: 42,
            hash: "ab".repeat(32),
        }
    }

    #[test]
    fn attached_keys_stay_sorted_and_typed_decoding_never_sees_them() {
        let data = attach(r#"{"tags":[],"text":"rotate keys"}"#, &offline()).unwrap();
        assert_eq!(
            data,
            format!(
                r#"{{"offline":{{"at":"2026-11-30T10:00:00.123Z","hash":"{}","mono_ms":42,"seq":8}},"tags":[],"text":"rotate keys"}}"#,
                "ab".repeat(32)
            )
        );
        assert_eq!(read(Kind::Note, &data), Some(offline()));
        let plain = without(Kind::Note, &Arc::new(data.clone()));
        assert_eq!(
            Payload::decode(Kind::Note, &plain).unwrap(),
            Payload::Note(Note {
                text: "rotate keys".into(),
                tags: vec![]
            })
        );
        assert!(matches!(
            attach(&data, &offline()),
            Err(AttachError::AlreadyOffline)
        ));
        assert!(attach("[1]", &offline()).is_err());
    }

    #[test]
    fn text_that_only_mentions_the_key_is_left_alone() {
        let data: Text = Arc::new(r#"{"tags":[],"text":"went \"offline\" at 3"}"#.to_owned());
        assert!(Arc::ptr_eq(&without(Kind::Note, &data), &data));
        assert_eq!(read(Kind::Note, &data), None);
        let score: Text = Arc::new(r#"{"offline":1}"#.to_owned());
        assert!(Arc::ptr_eq(&without(Kind::DrillScore, &score), &score));
    }
}
