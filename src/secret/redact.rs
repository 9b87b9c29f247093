//! Redaction by header name and by value: [`MASK`], [`is_sensitive_header`] and [`Redactor`],
//! which scrubs given secret values and their base64 and URL-encoded forms from text, JSON and
//! raw bytes (a body that is not UTF-8 can still echo a secret).
//!
//! It knows values only as the strings it was built from; it never loads or prints a secret.

use std::borrow::Cow;
use std::sync::Arc;

use memchr::memmem;

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
#[derive(Clone, Default)]
pub struct Redactor {
    /// Every form of every secret, longest first so a longer encoding is replaced whole, each
    /// with its searcher built once (building one per call cost more than the search).
    needles: Arc<Vec<memmem::Finder<'static>>>,
}

/// Says how many forms it scrubs, never which: a `{:?}` in a log line must not print them.
impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Redactor")
            .field("forms", &self.needles.len())
            .finish()
    }
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
        let finders = needles
            .iter()
            .map(|n| memmem::Finder::new(n.as_bytes()).into_owned())
            .collect();
        Self {
            needles: Arc::new(finders),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.needles.is_empty()
    }

    /// The text with every secret form replaced by [`MASK`]: [`Self::redact_bytes`] on its
    /// UTF-8 bytes.
    pub fn redact(&self, text: &str) -> String {
        match self.redact_bytes(text.as_bytes()) {
            Cow::Borrowed(_) => text.to_owned(),
            // A UTF-8 needle matches UTF-8 text only on char boundaries and MASK is UTF-8, so
            // the result is UTF-8 and the lossy branch is never taken.
            Cow::Owned(bytes) => String::from_utf8(bytes)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        }
    }

    /// The bytes with every secret form replaced by [`MASK`], whether or not they are UTF-8.
    /// Needles go longest first, each replacing its leftmost non-overlapping occurrences (as
    /// `str::replace`); `Borrowed` when nothing matched.
    pub fn redact_bytes<'b>(&self, bytes: &'b [u8]) -> Cow<'b, [u8]> {
        let mut out = Cow::Borrowed(bytes);
        for needle in self.needles.iter() {
            if let Some(replaced) = replace_all(&out, needle, MASK.as_bytes()) {
                out = Cow::Owned(replaced);
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

/// `haystack` with each non-overlapping occurrence of `needle`, leftmost first, replaced by
/// `with`; `None` when there is none. The needle is never empty (see [`Redactor::new`]).
fn replace_all(haystack: &[u8], needle: &memmem::Finder<'_>, with: &[u8]) -> Option<Vec<u8>> {
    let mut found = needle.find_iter(haystack).peekable();
    found.peek()?;
    let mut out = Vec::with_capacity(haystack.len());
    let mut rest = 0;
    for start in found {
        out.extend_from_slice(&haystack[rest..start]);
        out.extend_from_slice(with);
        rest = start + needle.needle().len();
    }
    out.extend_from_slice(&haystack[rest..]);
    Some(out)
}

/// `application/x-www-form-urlencoded` form of a value (space as `+`).
fn form_urlencoded(value: &str) -> String {
    url::form_urlencoded::byte_serialize(value.as_bytes()).collect()
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    const M: &[u8] = MASK.as_bytes();

    fn b64(value: &str) -> String {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(value)
    }

    fn concat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

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
    fn redact_bytes_masks_every_form_in_a_body_that_is_not_utf8() {
        let secret = "s3cr3t/+value";
        let r = Redactor::new([secret]);
        let forms = [
            secret.to_owned(),
            b64(secret),
            "s3cr3t%2F%2Bvalue".to_owned(),
        ];
        let body = concat(&[
            &[0xff, 0xfe],
            forms[0].as_bytes(),
            &[0x80],
            forms[1].as_bytes(),
            &[0xc3, 0x28],
            forms[2].as_bytes(),
            &[0xff],
        ]);
        assert!(std::str::from_utf8(&body).is_err());
        let out = r.redact_bytes(&body);
        assert_eq!(
            *out,
            concat(&[&[0xff, 0xfe], M, &[0x80], M, &[0xc3, 0x28], M, &[0xff]])
        );
        for form in &forms {
            assert!(!contains(&out, form.as_bytes()), "{form}");
        }
    }

    #[test]
    fn redact_bytes_borrows_when_nothing_matches() {
        let body = [0xff, 0xfe, b's', b'3', b'c', 0x00];
        let out = Redactor::new(["s3cr3t"]).redact_bytes(&body);
        assert!(matches!(out, Cow::Borrowed(_)));
        assert_eq!(*out, body);
        assert!(matches!(
            Redactor::default().redact_bytes(&body),
            Cow::Borrowed(_)
        ));
    }

    #[rstest]
    #[case::whole_body(b"abab", &[M])]
    #[case::at_start(b"abab\xff", &[M, b"\xff"])]
    #[case::at_end(b"\xffabab", &[b"\xff", M])]
    #[case::at_start_and_end(b"abab\xfe\xffabab", &[M, b"\xfe\xff", M])]
    #[case::adjacent(b"\x80abababab\x80", &[b"\x80", M, M, b"\x80"])]
    #[case::overlapping_leftmost_wins(b"\xc3ababab", &[b"\xc3", M, b"ab"])]
    #[case::adjacent_then_overlapping(b"ababababab\xff", &[M, M, b"ab\xff"])]
    fn redact_bytes_replaces_leftmost_non_overlapping(
        #[case] body: &[u8],
        #[case] expected: &[&[u8]],
    ) {
        let out = Redactor::new(["abab"]).redact_bytes(body);
        assert_eq!(*out, concat(expected));
    }

    #[test]
    fn longest_form_is_replaced_whole() {
        // The shorter secret is a prefix of the longer one: the longer must not leave a tail.
        let r = Redactor::new(["abcd", "abcdefgh"]);
        assert_eq!(
            *r.redact_bytes(b"\xffabcdefgh abcd"),
            concat(&[b"\xff", M, b" ", M])
        );
        assert_eq!(r.redact("abcdefgh abcd"), format!("{MASK} {MASK}"));
    }

    proptest::proptest! {
        /// On text, masking bytes gives what replacing each needle in the string would, so
        /// `redact` and `redact_bytes` cannot disagree.
        #[test]
        fn byte_masking_matches_string_replacement(text in "[ab€•é/+=%2F ]{0,40}") {
            let r = Redactor::new(["ab€", "a", "é/+", "•"]);
            let mut reference = text.clone();
            for finder in r.needles.iter() {
                let needle = std::str::from_utf8(finder.needle()).unwrap();
                reference = reference.replace(needle, MASK);
            }
            proptest::prop_assert_eq!(&*r.redact_bytes(text.as_bytes()), reference.as_bytes());
            proptest::prop_assert_eq!(r.redact(&text), reference);
        }
    }

    #[test]
    fn sensitive_headers() {
        assert!(is_sensitive_header("Authorization"));
        assert!(is_sensitive_header("X-Api-Key"));
        assert!(!is_sensitive_header("Content-Type"));
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let r = Redactor::new(["hunter2-canary"]);
        let shown = format!("{r:?}");
        assert!(!shown.contains("hunter2"), "{shown}");
        assert!(!shown.contains("aHVudGVy"), "{shown}");
        assert!(shown.starts_with("Redactor { forms: "), "{shown}");
    }
}
