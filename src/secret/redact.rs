//! Redaction by header name and by value: [`MASK`], [`is_sensitive_header`] and [`Redactor`],
//! which scrubs given secret values and their base64 and URL-encoded forms from text and JSON.
//!
//! It knows values only as the strings it was built from; it never loads or prints a secret.

use std::sync::Arc;

/// What replaces a secret value wherever it would have appeared.
pub const MASK: &str = "••••••";

/// Header names whose values are always masked, whatever they contain.
pub fn is_sensitive_header(name: &str) -> bool {
    let name = name.to_ascii_lowercase();
    [
        "authorization",
        "cookie",
        "set-cookie",
        "proxy-authorization",
    ]
    .contains(&name.as_str())
        || ["token", "secret", "key", "password", "auth"]
            .iter()
            .any(|w| name.contains(w))
}

/// Scrubs known secret values (and their encodings) from text. Cheap to clone.
#[derive(Debug, Clone, Default)]
pub struct Redactor {
    /// Every form of every secret, longest first so a longer encoding is replaced whole.
    needles: Arc<Vec<String>>,
}

impl Redactor {
    /// Build from the raw secret values. Values shorter than 4 bytes are still scrubbed; an
    /// empty value is ignored (it would match everywhere).
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        use base64::Engine as _;
        let mut needles = Vec::new();
        for value in values.into_iter().filter(|v| !v.is_empty()) {
            needles.push(value.to_owned());
            for engine in [
                &base64::engine::general_purpose::STANDARD,
                &base64::engine::general_purpose::URL_SAFE_NO_PAD,
                &base64::engine::general_purpose::STANDARD_NO_PAD,
            ] {
                needles.push(engine.encode(value.as_bytes()));
            }
            needles.push(
                percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
                    .to_string(),
            );
            needles.push(form_urlencoded(value));
        }
        needles.sort_by_key(|n| std::cmp::Reverse(n.len()));
        needles.dedup();
        Self {
            needles: Arc::new(needles),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// The text with every secret form replaced by [`MASK`].
    pub fn redact(&self, text: &str) -> String {
        let mut out = text.to_owned();
        for needle in self.needles.iter() {
            if out.contains(needle.as_str()) {
                out = out.replace(needle.as_str(), MASK);
            }
        }
        out
    }

    /// Redact every string (keys and values) inside a JSON value, in place.
    pub fn redact_json(&self, value: &mut serde_json::Value) {
        if self.is_empty() {
            return;
        }
        match value {
            serde_json::Value::String(s) => {
                let redacted = self.redact(s);
                if redacted != *s {
                    *s = redacted;
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| self.redact_json(v)),
            serde_json::Value::Object(map) => {
                let entries = std::mem::take(map);
                for (key, mut v) in entries {
                    self.redact_json(&mut v);
                    map.insert(self.redact(&key), v);
                }
            }
            _ => {}
        }
    }
}

/// `application/x-www-form-urlencoded` form of a value (space as `+`).
fn form_urlencoded(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrubs_raw_base64_and_urlencoded_forms() {
        let r = Redactor::new(["s3cr3t/+value"]);
        let b64 = {
            use base64::Engine as _;
            base64::engine::general_purpose::STANDARD.encode("s3cr3t/+value")
        };
        for text in [
            "x s3cr3t/+value y",
            &format!("Basic {b64}"),
            "token=s3cr3t%2F%2Bvalue",
        ] {
            let out = r.redact(text);
            assert!(out.contains(MASK), "{text} -> {out}");
            assert!(!out.contains("s3cr3t"), "{out}");
        }
    }

    #[test]
    fn sensitive_headers() {
        assert!(is_sensitive_header("Authorization"));
        assert!(is_sensitive_header("X-Api-Key"));
        assert!(!is_sensitive_header("Content-Type"));
    }
}
