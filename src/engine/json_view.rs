//! JSON for templates without a tree: `response.json` and captured `vars` are MiniJinja
//! objects over the JSON *text* (a response body or a capture, shared, never copied), parsed
//! one level at a time when a template reads into them.
//!
//! A 50 MB body that a step only captures (`response.json.hits`) is scanned, never built: the
//! root's keys are found once, `hits` is a span of the body, and the capture is that span's
//! text ([`to_capture`]). Reading `response.json.hits | length` lists the spans of the items;
//! `response.json.hits[3].id` parses item 3's keys. Children are cached, so an expression read
//! twice (or once per foreach item) does not scan twice. Scalars become MiniJinja values as
//! the old tree gave them (numbers through `serde_json::Number`).
//!
//! Objects enumerate their keys sorted (as a `serde_json::Map` did), the last of duplicate keys
//! wins. This module evaluates nothing and redacts nothing: the journal redacts what is
//! captured, callers redact what they show.

use std::ops::Range;
use std::sync::{Arc, OnceLock};

use minijinja::Value;
use minijinja::value::{Enumerator, Object, ObjectRepr};
use serde_json::value::RawValue;

use crate::incident::Capture;
use crate::journal::payload::Minified;

/// Shared JSON text: a body read as UTF-8, or a capture.
#[derive(Clone)]
pub enum Source {
    Body(Arc<String>),
    Capture(Capture),
}

impl Source {
    fn text(&self) -> &str {
        match self {
            Source::Body(body) => body,
            Source::Capture(capture) => capture.json(),
        }
    }
}

/// An array or object inside a [`Source`].
pub struct JsonView {
    source: Source,
    span: Range<usize>,
    kids: OnceLock<Kids>,
}

/// The direct children of a view, found on first read; each converted on first read.
enum Kids {
    Array(Vec<Child>),
    /// Sorted by key, unique.
    Object(Vec<(String, Child)>),
}

struct Child {
    span: Range<usize>,
    value: OnceLock<Value>,
}

impl std::fmt::Debug for JsonView {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the text: it may be 50 MB, and it is outside data.
        f.debug_struct("JsonView")
            .field("bytes", &self.span.len())
            .finish_non_exhaustive()
    }
}

/// The whole source as a template value, or why it is not one JSON value (serde_json's
/// message). Validated in one scan that builds nothing.
pub fn parse(source: &Source) -> Result<Value, serde_json::Error> {
    let span = {
        let text = source.text();
        let raw: &RawValue = serde_json::from_str(text)?;
        offset(text, raw.get())
    };
    Ok(value_at(source, span))
}

/// A value as a capture's text: the text of a view as received (see [`Capture::from_raw`]);
/// any other value serialized as it streams (a view inside a list too), never as a tree.
/// Not yet a [`Capture`]: the caller lets the body go first (see [`Minified`]).
pub fn to_capture(value: &Value) -> Minified {
    if let Some(view) = value.downcast_object_ref::<JsonView>()
        && let Ok(raw) = serde_json::from_str::<&RawValue>(view.text())
    {
        return Minified::of(raw);
    }
    let null = || Minified::of(RawValue::NULL);
    serde_json::to_string(value)
        .ok()
        .and_then(|text| RawValue::from_string(text).ok())
        .map_or_else(null, |raw| Minified::of(&raw))
}

/// At most about `max` bytes of a value's JSON text from its start, on one line (for a
/// failure message that shows the start of a 50 MB list without serializing all of it).
pub fn excerpt(value: &Value, max: usize) -> String {
    let Some(view) = value.downcast_object_ref::<JsonView>() else {
        return serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned());
    };
    let text = view.text();
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let head = text[..end].split_whitespace().collect::<Vec<_>>().join(" ");
    if end < text.len() {
        format!("{head}…")
    } else {
        head
    }
}

/// The items of `value` when it is a view of an array: its length and the items read from
/// the text in order, one at a time, cached nowhere. A foreach over a captured list of a
/// million tokens then holds the list's text and nothing per item (reading the view's
/// children would keep every item's span and value). `None` for any other value.
pub fn array_items(
    value: &Value,
) -> Option<(usize, impl Iterator<Item = Value> + Send + Sync + 'static)> {
    let view = value.downcast_object_ref::<JsonView>()?;
    if !view.is_array() {
        return None;
    }
    let items = ArrayItems {
        source: view.source.clone(),
        // Just inside the `[`.
        at: view.span.start + 1,
        end: view.span.end,
    };
    let len = items.clone().spans().count();
    Some((
        len,
        items
            .spans()
            .map(move |(source, span)| value_at(&source, span)),
    ))
}

/// A cursor over an array's text.
#[derive(Clone)]
struct ArrayItems {
    source: Source,
    at: usize,
    end: usize,
}

impl ArrayItems {
    /// Each item's span (with the source, to make its value).
    fn spans(mut self) -> impl Iterator<Item = (Source, Range<usize>)> {
        std::iter::from_fn(move || {
            let whole = self.source.text();
            let rest = whole.get(self.at..self.end)?;
            let rest = rest.trim_start_matches(|c: char| c == ',' || c.is_ascii_whitespace());
            if rest.starts_with(']') {
                return None;
            }
            // The text was validated when the root was parsed: an item always reads.
            let mut de = serde_json::Deserializer::from_str(rest);
            let raw = <&RawValue as serde::Deserialize>::deserialize(&mut de).ok()?;
            let span = offset(whole, raw.get());
            self.at = span.end;
            Some((self.source.clone(), span))
        })
    }
}

/// Where `part` (a slice of `whole`) starts and ends in it.
fn offset(whole: &str, part: &str) -> Range<usize> {
    let start = part.as_ptr().addr() - whole.as_ptr().addr();
    start..start + part.len()
}

/// The value at `span`: a view for an array or object, else the scalar itself.
fn value_at(source: &Source, span: Range<usize>) -> Value {
    let text = &source.text()[span.clone()];
    if text.starts_with(['{', '[']) {
        return Value::from_object(JsonView {
            source: source.clone(),
            span,
            kids: OnceLock::new(),
        });
    }
    serde_json::from_str::<serde_json::Value>(text).map_or(Value::UNDEFINED, |v| {
        Value::from(minijinja::value::Serde(&v))
    })
}

impl JsonView {
    fn text(&self) -> &str {
        &self.source.text()[self.span.clone()]
    }

    fn is_array(&self) -> bool {
        self.text().starts_with('[')
    }

    fn kids(&self) -> &Kids {
        self.kids.get_or_init(|| {
            let whole = self.source.text();
            let text = self.text();
            let child = |raw: &RawValue| Child {
                span: offset(whole, raw.get()),
                value: OnceLock::new(),
            };
            // The text was validated when the root was parsed: these cannot fail.
            if self.is_array() {
                let items: Vec<&RawValue> = serde_json::from_str(text).unwrap_or_default();
                Kids::Array(items.into_iter().map(child).collect())
            } else {
                let map: std::collections::BTreeMap<String, &RawValue> =
                    serde_json::from_str(text).unwrap_or_default();
                Kids::Object(map.into_iter().map(|(k, raw)| (k, child(raw))).collect())
            }
        })
    }

    fn child(&self, child: &Child) -> Value {
        child
            .value
            .get_or_init(|| value_at(&self.source, child.span.clone()))
            .clone()
    }
}

impl Object for JsonView {
    fn repr(self: &Arc<Self>) -> ObjectRepr {
        if self.is_array() {
            ObjectRepr::Seq
        } else {
            ObjectRepr::Map
        }
    }

    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match self.kids() {
            Kids::Array(items) => items.get(key.as_usize()?).map(|c| self.child(c)),
            Kids::Object(entries) => {
                let key = key.as_str()?;
                let at = entries
                    .binary_search_by(|(k, _)| k.as_str().cmp(key))
                    .ok()?;
                Some(self.child(&entries[at].1))
            }
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        match self.kids() {
            Kids::Array(items) => Enumerator::Seq(items.len()),
            Kids::Object(entries) => Enumerator::Values(
                entries
                    .iter()
                    .map(|(k, _)| Value::from(k.as_str()))
                    .collect(),
            ),
        }
    }

    fn enumerator_len(self: &Arc<Self>) -> Option<usize> {
        Some(match self.kids() {
            Kids::Array(items) => items.len(),
            Kids::Object(entries) => entries.len(),
        })
    }

    /// Empty or not, read from the brackets: `if response.json.hits` lists nothing.
    fn is_true(self: &Arc<Self>) -> bool {
        let text = self.text();
        !text[1..text.len() - 1].trim().is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::template::Templates;
    use serde_json::json;

    #[test]
    fn an_array_view_gives_its_items_one_by_one_from_the_text() {
        let text = r#"[ 1, "a" ,{"b": 2}, [3, [4]] ,null]"#;
        let root = parse(&Source::Body(Arc::new(text.to_owned()))).unwrap();
        let (len, items) = array_items(&root).unwrap();
        let items: Vec<String> = items.map(|v| v.to_string()).collect();
        assert_eq!(len, 5);
        assert_eq!(items.len(), 5);
        assert_eq!(&items[..2], ["1", "a"]);
        assert_eq!(items[3], "[3, [4]]");
        assert_eq!(items[4], "None");
        let empty = parse(&Source::Body(Arc::new(" [ ] ".to_owned()))).unwrap();
        assert_eq!(
            array_items(&empty).map(|(len, items)| (len, items.count())),
            Some((0, 0))
        );
        let object = parse(&Source::Body(Arc::new(r#"{"a": [1]}"#.to_owned()))).unwrap();
        assert!(array_items(&object).is_none());
        assert!(array_items(&Value::from(3)).is_none());
    }

    fn view(text: &str) -> Value {
        parse(&Source::Body(Arc::new(text.to_owned()))).unwrap()
    }

    #[test]
    fn templates_read_a_view_as_they_read_the_tree() {
        let t = Templates::new();
        let body = r#" {"hits": [ {"id": "a", "n": 1.5}, {"id": "b", "n": -2} ], "z": null,
                      "total": 18446744073709551615, "s": "x\u00e9\"", "a": true} "#;
        let tree: serde_json::Value = serde_json::from_str(body).unwrap();
        for expr in [
            "response.json.hits | length",
            "response.json.hits[1].id",
            "response.json.hits[-1].n",
            "response.json.hits | map(attribute='id') | join(',')",
            "response.json.total",
            "response.json.s",
            "response.json.s[1:]",
            "response.json.hits[0].id ~ response.json.s[2:]",
            "response.json.z is none",
            "response.json | list | join(',')",
            "response.json.hits[0] == {'id': 'a', 'n': 1.5}",
            "response.json.hits[0].n > 1",
            "'hits' in response.json",
            "response.json.missing is defined",
            "response.json.hits | tojson",
            "response.json.a and response.json.hits",
        ] {
            let from_tree = t
                .eval(expr, json!({ "response": { "json": tree.clone() } }))
                .map(|v| v.to_string());
            let ctx =
                minijinja::context! { response => minijinja::context! { json => view(body) } };
            let from_view = t.eval(expr, ctx).map(|v| v.to_string());
            assert_eq!(
                from_view.map_err(|e| e.message),
                from_tree.map_err(|e| e.message),
                "{expr}"
            );
        }
    }

    #[test]
    fn a_captured_view_is_its_text_and_anything_else_streams() {
        let t = Templates::new();
        let ctx = minijinja::context! {
            response => minijinja::context! { json => view("{\"hits\": [1, {\"b\": 2, \"a\": [ ]}]}") }
        };
        let hits = t.eval("response.json.hits", &ctx).unwrap();
        assert_eq!(
            Capture::from(to_capture(&hits)).json(),
            r#"[1,{"b":2,"a":[]}]"#
        );
        let built = t.eval("response.json.hits | reverse | list", &ctx).unwrap();
        assert_eq!(
            Capture::from(to_capture(&built)).json(),
            r#"[{"a":[],"b":2},1]"#
        );
        let scalar = t.eval("response.json.hits[0]", &ctx).unwrap();
        assert_eq!(Capture::from(to_capture(&scalar)).json(), "1");
        assert_eq!(excerpt(&hits, 6), "[1, {\"…");
    }

    #[test]
    fn a_body_that_is_not_one_json_value_says_why() {
        let err = parse(&Source::Body(Arc::new("{\"a\": 1} x".into()))).unwrap_err();
        assert_eq!(err.to_string(), "trailing characters at line 1 column 10");
    }
}
