//! [`Capture`]: a captured value kept as its JSON text, shared. Never a parsed tree, so one
//! 16 MB capture costs 16 MB once however many places (step record, `vars`, the timeline's
//! event, whose `data` text it is a part of once replayed) hold it; the few questions readers
//! ask (is it a number, how long is the list) are answered by scanning the text. A capture
//! the engine makes from a response is the text the server sent, whitespace between tokens
//! dropped ([`Capture::from_raw`]); lists of captures (foreach items, pages) are joined as
//! text.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use serde_json::Value;
use serde_json::value::RawValue;

use crate::journal::event::Text;

/// A value a step captured, kept as its JSON text (shared, cheap to clone). The text is
/// always one valid JSON value: it is only made from a `Value` or read as a raw JSON value.
/// It may be a part of a larger shared text: the `data` of the journal event that holds it,
/// so the incident keeps a capture once, not once in its event and once in its step.
#[derive(Clone)]
pub struct Capture {
    text: Text,
    span: std::ops::Range<usize>,
}

/// A step's captures by name (sorted, as on the wire).
pub type Captures = BTreeMap<String, Capture>;

impl Capture {
    /// Capture a value (the engine's side).
    pub fn from_value(value: &Value) -> Self {
        // A `Value` always serializes; the fallback is never taken.
        Self::whole(Arc::new(serde_json::to_string(value).unwrap_or_default()))
    }

    fn whole(text: Text) -> Self {
        let span = 0..text.len();
        Self { text, span }
    }

    /// `raw`, a value inside `text` (an event's data, read borrowed), shared with it rather
    /// than copied; copied only if `raw` is not a part of `text` after all.
    pub fn shared(text: &Text, raw: &RawValue) -> Self {
        let start = raw.get().as_ptr().addr().wrapping_sub(text.as_ptr().addr());
        let span = start..start.wrapping_add(raw.get().len());
        if text.get(span.clone()) == Some(raw.get()) {
            Self {
                text: Arc::clone(text),
                span,
            }
        } else {
            Self::whole(Arc::new(raw.get().to_owned()))
        }
    }

    /// Capture a JSON value as it was received: its text without the whitespace between
    /// tokens (a journal line is one line), never parsed into a tree. Object keys keep the
    /// order the server sent.
    pub fn from_raw(raw: &RawValue) -> Self {
        Self::whole(Arc::new(minify(raw.get()).into_owned()))
    }

    /// A list of captures, `null` where there is none (one per foreach item).
    pub fn list(items: impl IntoIterator<Item = Option<Capture>>) -> Self {
        let mut text = String::from("[");
        for (i, item) in items.into_iter().enumerate() {
            if i > 0 {
                text.push(',');
            }
            text.push_str(item.as_ref().map_or("null", Capture::json));
        }
        text.push(']');
        Self::whole(Arc::new(text))
    }

    /// Two lists as one (pages of a listing); `None` unless both are lists.
    pub fn concat(&self, more: &Capture) -> Option<Self> {
        let head = self.json().strip_prefix('[')?.strip_suffix(']')?;
        let tail = more.json().strip_prefix('[')?.strip_suffix(']')?;
        let comma = if head.is_empty() || tail.is_empty() {
            ""
        } else {
            ","
        };
        Some(Self::whole(Arc::new(format!("[{head}{comma}{tail}]"))))
    }

    /// The JSON text as journalled.
    pub fn json(&self) -> &str {
        &self.text[self.span.clone()]
    }

    /// The value as a tree: parses the text, so keep it to small values or one use at a time.
    pub fn to_value(&self) -> Value {
        serde_json::from_str(self.json()).unwrap_or(Value::Null)
    }

    /// The text of a JSON string, else the JSON text itself, borrowed (for showing a value on
    /// one line: callers cut it, and a 16 MB list is not copied to show 120 characters).
    pub fn display(&self) -> Cow<'_, str> {
        match self.as_str() {
            Some(text) => Cow::Owned(text),
            None => Cow::Borrowed(self.json()),
        }
    }

    /// The string, when the value is a JSON string.
    pub fn as_str(&self) -> Option<String> {
        self.json()
            .starts_with('"')
            .then(|| serde_json::from_str(self.json()).ok())
            .flatten()
    }

    /// The number, when the value is a non-negative integer.
    pub fn as_u64(&self) -> Option<u64> {
        self.json().parse().ok()
    }

    pub fn is_number(&self) -> bool {
        matches!(self.json().as_bytes().first(), Some(b'-' | b'0'..=b'9'))
    }

    /// The length of a list, counted without building it.
    pub fn list_len(&self) -> Option<usize> {
        if !self.json().starts_with('[') {
            return None;
        }
        serde_json::from_str::<Vec<serde::de::IgnoredAny>>(self.json())
            .ok()
            .map(|list| list.len())
    }

    /// The number of keys of an object, counted without building it.
    #[expect(
        clippy::zero_sized_map_values,
        reason = "counts distinct keys as a JSON object does; the values are skipped unread"
    )]
    pub fn object_len(&self) -> Option<usize> {
        if !self.json().starts_with('{') {
            return None;
        }
        serde_json::from_str::<BTreeMap<String, serde::de::IgnoredAny>>(self.json())
            .ok()
            .map(|map| map.len())
    }
}

/// A value's JSON text as [`Capture::from_raw`] keeps it, not yet shared: for a caller that
/// lets the text it came from (a 16 MB body) go before the copy into a [`Capture`], so the
/// two large texts are never held with a third.
pub struct Minified(String);

impl Minified {
    pub fn of(raw: &RawValue) -> Self {
        Self(minify(raw.get()).into_owned())
    }
}

impl From<Minified> for Capture {
    fn from(text: Minified) -> Self {
        Self::whole(Arc::new(text.0))
    }
}

/// `text` (valid JSON) without whitespace outside strings; borrowed when there is none, else
/// built in a buffer of exactly its size (counted first: a 16 MB list grown by doubling
/// would take 32 MB for a while).
fn minify(text: &str) -> Cow<'_, str> {
    let kept = outside_whitespace(text, |_| {});
    if kept == text.len() {
        return Cow::Borrowed(text);
    }
    let mut out = Vec::with_capacity(kept);
    outside_whitespace(text, |b| out.push(b));
    // Only ASCII whitespace between tokens was dropped: still UTF-8.
    Cow::Owned(String::from_utf8(out).unwrap_or_default())
}

/// Hand every byte of `text` but the whitespace between tokens to `keep`; returns how many.
fn outside_whitespace(text: &str, mut keep: impl FnMut(u8)) -> usize {
    let (mut in_string, mut escaped, mut kept) = (false, false, 0);
    for &b in text.as_bytes() {
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
        } else if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            continue;
        }
        keep(b);
        kept += 1;
    }
    kept
}

impl std::fmt::Debug for Capture {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.json())
    }
}

impl PartialEq for Capture {
    fn eq(&self, other: &Self) -> bool {
        self.json() == other.json()
    }
}

impl From<Value> for Capture {
    fn from(value: Value) -> Self {
        Self::from_value(&value)
    }
}

impl Serialize for Capture {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        // Re-borrowing the text as a raw value scans it (no copy); it is valid JSON by
        // construction, so the error is unreachable in practice.
        let raw: &RawValue =
            serde_json::from_str(self.json()).map_err(serde::ser::Error::custom)?;
        raw.serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for Capture {
    /// Borrows the raw text from the input and copies it once into the shared buffer (a
    /// `Box<RawValue>` first would copy a 16 MB capture twice). Needs a borrowing
    /// deserializer (`serde_json::from_str`, as [`Payload::decode`] uses).
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        <&RawValue>::deserialize(deserializer)
            .map(|raw| Self::whole(Arc::new(raw.get().to_owned())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn a_capture_is_read_without_building_a_tree() {
        let list = Capture::from(json!([1, [2, 3], {"a": 4}]));
        assert_eq!((list.list_len(), list.object_len()), (Some(3), None));
        let text = Capture::from(json!("a \"b\""));
        assert_eq!(text.as_str().as_deref(), Some("a \"b\""));
        assert_eq!(text.display(), "a \"b\"");
        let n = Capture::from(json!(2_400_000));
        assert_eq!((n.as_u64(), n.is_number()), (Some(2_400_000), true));
        assert_eq!(Capture::from(json!({"x": 1})).display(), r#"{"x":1}"#);
    }

    #[test]
    fn a_raw_value_is_kept_as_sent_without_whitespace_between_tokens() {
        let raw: &RawValue =
            serde_json::from_str("{ \"b\" : [1, \"x \\\" y\\n\"],\n \"a\":\t{} }").unwrap();
        let capture = Capture::from_raw(raw);
        assert_eq!(capture.json(), r#"{"b":[1,"x \" y\n"],"a":{}}"#);
        assert_eq!(capture.to_value(), json!({"a": {}, "b": [1, "x \" y\n"]}));
    }

    #[test]
    fn a_capture_read_from_event_data_shares_that_text() {
        let data: Text = Arc::new(r#"{"captures":{"a":[1, 2]}}"#.to_owned());
        let map: BTreeMap<String, BTreeMap<String, &RawValue>> =
            serde_json::from_str(&data).unwrap();
        let shared = Capture::shared(&data, map["captures"]["a"]);
        assert_eq!(shared.json(), "[1, 2]");
        assert!(Arc::ptr_eq(&shared.text, &data));
        let elsewhere: &RawValue = serde_json::from_str("[3]").unwrap();
        let copied = Capture::shared(&data, elsewhere);
        assert_eq!(copied.json(), "[3]");
        assert!(!Arc::ptr_eq(&copied.text, &data));
    }

    #[test]
    fn lists_are_built_and_joined_as_text() {
        let one = Capture::from(json!([1]));
        let list = Capture::list([Some(one.clone()), None, Some(Capture::from(json!("t")))]);
        assert_eq!(list.json(), r#"[[1],null,"t"]"#);
        let empty = Capture::from(json!([]));
        assert_eq!(one.concat(&empty).unwrap().json(), "[1]");
        assert_eq!(empty.concat(&one).unwrap().json(), "[1]");
        assert_eq!(one.concat(&list).unwrap().json(), r#"[1,[1],null,"t"]"#);
        assert!(one.concat(&Capture::from(json!("t"))).is_none());
    }
}
