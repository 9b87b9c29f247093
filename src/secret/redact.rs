//! Redaction by header name and by value: [`MASK`], [`is_sensitive_header`] and [`Redactor`],
//! which scrubs given secret values, in every form a server can echo them, from text, JSON and
//! raw bytes (a body that is not UTF-8 can still echo a secret).
//!
//! The forms of one value ([`forms`]): the raw text; base64 and base64url, padded and not, of
//! the value and of any text that contains it (the value's base64 at each of the three byte
//! alignments, cut to the characters only its own bytes decide, so `base64("ApiKey " + key)`
//! is caught without knowing the prefix); JSON string escapes (with and without `\/`, and
//! ASCII-only `\u00e9`); percent-encodings (every non-alphanumeric, URL path segment, the url
//! crate's path, query and userinfo sets, form encoding); and hex. All forms of all values go
//! into one Aho-Corasick automaton, matched leftmost-longest in one pass and ignoring ASCII
//! case, so `%2f` and `%2F`, `DEADBEEF` and `deadbeef` are the same form. The cost: a text that
//! differs from a secret only in ASCII case is masked too.
//!
//! Matching must not corrupt data, so values shorter than [`MIN_SECRET_LEN`] bytes are refused
//! where secrets are loaded (`secret::Secrets`), and JSON object keys are never rewritten.
//!
//! It knows values only as the strings it was built from; it never loads or prints a secret.

use std::borrow::Cow;
use std::fmt::Write as _;
use std::sync::Arc;

use aho_corasick::{AhoCorasick, MatchKind};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};

/// What replaces a secret value wherever it would have appeared.
pub const MASK: &str = "••••••";

/// The shortest secret value accepted: a shorter one would match ordinary words and numbers
/// (a one-letter secret masked every `a` in the journal).
pub const MIN_SECRET_LEN: usize = 8;

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
    /// Every form of every value; `None` when there is nothing to mask.
    matcher: Option<Arc<Matcher>>,
}

enum Matcher {
    /// The automaton over every form, built once (building per call would cost more than
    /// the search).
    Forms {
        automaton: AhoCorasick,
        forms: usize,
    },
    /// The automaton could not be built (never seen: it would need millions of forms): mask
    /// every text whole rather than let a value through.
    Everything,
}

/// Says how many forms it scrubs, never which: a `{:?}` in a log line must not print them.
impl std::fmt::Debug for Redactor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let forms = match self.matcher.as_deref() {
            Some(Matcher::Forms { forms, .. }) => *forms,
            Some(Matcher::Everything) => usize::MAX,
            None => 0,
        };
        f.debug_struct("Redactor").field("forms", &forms).finish()
    }
}

impl Redactor {
    /// Build from the raw values: every [`forms`] of each. An empty value is ignored (it would
    /// match everywhere); callers refuse short ones (see [`MIN_SECRET_LEN`]).
    pub fn new<'a>(values: impl IntoIterator<Item = &'a str>) -> Self {
        let mut needles: Vec<String> = values
            .into_iter()
            .filter(|v| !v.is_empty())
            .flat_map(forms)
            .filter(|f| !f.is_empty())
            .collect();
        if needles.is_empty() {
            return Self::default();
        }
        needles.sort_unstable();
        needles.dedup();
        let matcher = AhoCorasick::builder()
            .match_kind(MatchKind::LeftmostLongest)
            .ascii_case_insensitive(true)
            .build(&needles)
            .map_or(Matcher::Everything, |automaton| Matcher::Forms {
                automaton,
                forms: needles.len(),
            });
        Self {
            matcher: Some(Arc::new(matcher)),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.matcher.is_none()
    }

    /// The text with every secret form replaced by [`MASK`]: [`Self::redact_bytes`] on its
    /// UTF-8 bytes.
    pub fn redact(&self, text: &str) -> String {
        match self.redact_bytes(text.as_bytes()) {
            Cow::Borrowed(_) => text.to_owned(),
            // Every form is UTF-8 and case folding touches ASCII bytes only, so a match starts
            // and ends on char boundaries and MASK is UTF-8: the lossy branch is never taken.
            Cow::Owned(bytes) => String::from_utf8(bytes)
                .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned()),
        }
    }

    /// The bytes with every secret form replaced by [`MASK`], whether or not they are UTF-8:
    /// leftmost-longest, non-overlapping; `Borrowed` when nothing matched.
    pub fn redact_bytes<'b>(&self, bytes: &'b [u8]) -> Cow<'b, [u8]> {
        let automaton = match self.matcher.as_deref() {
            None => return Cow::Borrowed(bytes),
            Some(Matcher::Everything) => return Cow::Owned(MASK.as_bytes().to_vec()),
            Some(Matcher::Forms { automaton, .. }) => automaton,
        };
        let mut found = automaton.find_iter(bytes).peekable();
        if found.peek().is_none() {
            return Cow::Borrowed(bytes);
        }
        let mut out = Vec::with_capacity(bytes.len());
        let mut rest = 0;
        for m in found {
            out.extend_from_slice(&bytes[rest..m.start()]);
            out.extend_from_slice(MASK.as_bytes());
            rest = m.end();
        }
        out.extend_from_slice(&bytes[rest..]);
        Cow::Owned(out)
    }

    /// Redact every string value inside a JSON value, in place. Object keys are left alone:
    /// they are names the runbook and the journal chose (capture names, field names), and
    /// rewriting one would lose the data under it.
    pub fn redact_json(&self, value: &mut serde_json::Value) {
        if self.is_empty() {
            return;
        }
        match value {
            serde_json::Value::String(s) => {
                if let Cow::Owned(bytes) = self.redact_bytes(s.as_bytes()) {
                    *s = String::from_utf8(bytes)
                        .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned());
                }
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|v| self.redact_json(v)),
            serde_json::Value::Object(map) => map.values_mut().for_each(|v| self.redact_json(v)),
            _ => {}
        }
    }

    /// [`Self::redact_json`] on JSON *text* (one valid JSON value), for values kept as text
    /// (a 50 MB capture is never a tree): every string value masked as its decoded form would
    /// be, object keys left alone. `Borrowed` when nothing matched.
    pub fn redact_json_text<'t>(&self, text: &'t str) -> Cow<'t, str> {
        if self.is_empty() {
            return Cow::Borrowed(text);
        }
        let bytes = text.as_bytes();
        let mut out: Option<String> = None;
        let mut copied = 0;
        // Per open container, whether it is an object; and whether the next string is a key.
        let mut objects: Vec<bool> = Vec::new();
        let mut key_next = false;
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'{' => {
                    objects.push(true);
                    key_next = true;
                }
                b'[' => {
                    objects.push(false);
                    key_next = false;
                }
                b'}' | b']' => {
                    objects.pop();
                }
                b',' => key_next = objects.last() == Some(&true),
                b':' => key_next = false,
                b'"' => {
                    let end = string_end(bytes, i);
                    let inner = text.get(i + 1..end.saturating_sub(1)).unwrap_or_default();
                    if !key_next && let Some(masked) = self.redact_json_string(inner) {
                        let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
                        out.push_str(&text[copied..=i]);
                        out.push_str(&masked);
                        out.push('"');
                        copied = end;
                    }
                    i = end;
                    continue;
                }
                _ => {}
            }
            i += 1;
        }
        match out {
            None => Cow::Borrowed(text),
            Some(mut out) => {
                out.push_str(&text[copied..]);
                Cow::Owned(out)
            }
        }
    }

    /// The escaped contents of one JSON string, masked and escaped again; `None` when nothing
    /// matched. Matched on the decoded text, as [`Self::redact_json`] does (an escape must
    /// not hide a secret, and a mask must not cut an escape in two).
    fn redact_json_string(&self, escaped: &str) -> Option<String> {
        if !escaped.contains('\\') {
            // Nothing escaped: the text is the value. MASK needs no escaping.
            return match self.redact_bytes(escaped.as_bytes()) {
                Cow::Borrowed(_) => None,
                Cow::Owned(bytes) => Some(String::from_utf8(bytes).unwrap_or_else(|_| MASK.into())),
            };
        }
        let Ok(decoded) = serde_json::from_str::<String>(&format!("\"{escaped}\"")) else {
            // Not a JSON string after all: mask it whole rather than let anything through.
            return Some(MASK.to_owned());
        };
        let masked = self.redact(&decoded);
        if masked == decoded {
            return None;
        }
        let quoted = serde_json::to_string(&masked).unwrap_or_else(|_| format!("\"{MASK}\""));
        Some(quoted[1..quoted.len() - 1].to_owned())
    }
}

/// The index just past the closing quote of the JSON string opening at `start`.
fn string_end(bytes: &[u8], start: usize) -> usize {
    let mut i = start + 1;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => i += 2,
            b'"' => return i + 1,
            _ => i += 1,
        }
    }
    bytes.len()
}

/// Every form of `value` a server may echo (see the module doc).
pub fn forms(value: &str) -> Vec<String> {
    let mut out = vec![value.to_owned()];
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        out.push(engine.encode(value));
    }
    out.extend(base64_cores(value.as_bytes()));
    out.extend(json_escapes(value));
    out.extend(percent_encodings(value));
    out.push(hex(value.as_bytes()));
    out
}

/// The base64 (standard and URL alphabets) of `value` as it appears inside the base64 of any
/// text holding it at each of the three byte alignments: only the characters whose six bits
/// all come from `value`.
fn base64_cores(value: &[u8]) -> Vec<String> {
    let mut out = Vec::new();
    for lead in 0..3usize {
        let mut padded = vec![0u8; lead];
        padded.extend_from_slice(value);
        let first = (lead * 8).div_ceil(6);
        let last = (padded.len() * 8) / 6;
        for engine in [&STANDARD_NO_PAD, &URL_SAFE_NO_PAD] {
            let encoded = engine.encode(&padded);
            if let Some(core) = encoded.get(first..last)
                && core.len() >= 4
            {
                out.push(core.to_owned());
            }
        }
    }
    out
}

/// The value inside a JSON string: serde's escaping, the same with `/` as `\/` (PHP, some
/// Java encoders), and ASCII-only escaping (`\u00e9`, Python's default), each both ways.
fn json_escapes(value: &str) -> Vec<String> {
    let plain = serde_json::to_string(value).unwrap_or_default();
    let plain = plain
        .strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(&plain)
        .to_owned();
    let mut ascii = String::new();
    for c in plain.chars() {
        if c.is_ascii() {
            ascii.push(c);
        } else {
            let mut units = [0u16; 2];
            for unit in c.encode_utf16(&mut units) {
                let _ = write!(ascii, "\\u{unit:04x}");
            }
        }
    }
    let slashed = |s: &str| s.replace('/', "\\/");
    vec![slashed(&plain), slashed(&ascii), plain, ascii]
}

/// Lowercase hex of the bytes (matching ignores case, so this covers uppercase too).
fn hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// Every percent-encoding a URL or form can give the value.
fn percent_encodings(value: &str) -> Vec<String> {
    use percent_encoding::{NON_ALPHANUMERIC, utf8_percent_encode};
    let mut out = vec![
        utf8_percent_encode(value, NON_ALPHANUMERIC).to_string(),
        utf8_percent_encode(value, crate::text::PATH_SEGMENT).to_string(),
        url::form_urlencoded::byte_serialize(value.as_bytes()).collect(),
    ];
    // The url crate's own sets are private: let it encode the value where it would put it.
    if let Ok(mut url) = url::Url::parse("http://h/") {
        url.set_path(value);
        out.push(url.path().trim_start_matches('/').to_owned());
        url.set_query(Some(value));
        out.extend(url.query().map(str::to_owned));
        if url.set_username(value).is_ok() {
            out.push(url.username().to_owned());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use rstest::rstest;

    use super::*;

    const M: &[u8] = MASK.as_bytes();

    fn concat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    const SECRET: &str = "K3y\"q/z+ x\\abc-é#1";

    #[rstest]
    #[case::raw(SECRET.to_owned())]
    #[case::base64(STANDARD.encode(SECRET))]
    #[case::base64_nopad(STANDARD_NO_PAD.encode(SECRET))]
    #[case::base64url(URL_SAFE.encode(SECRET))]
    #[case::base64url_nopad(URL_SAFE_NO_PAD.encode(SECRET))]
    #[case::base64_of_a_header_holding_it(STANDARD.encode(format!("ApiKey {SECRET}")))]
    #[case::base64_of_a_pair_holding_it(STANDARD.encode(format!("id-17:{SECRET}")))]
    #[case::base64url_of_a_body_holding_it(URL_SAFE_NO_PAD.encode(format!("{{\"k\":\"{SECRET}\"}}")))]
    #[case::json_escaped(r#"K3y\"q/z+ x\\abc-é#1"#.to_owned())]
    #[case::json_escaped_slash(r#"K3y\"q\/z+ x\\abc-é#1"#.to_owned())]
    #[case::json_ascii_only(r#"K3y\"q/z+ x\\abc-\u00e9#1"#.to_owned())]
    #[case::json_ascii_only_slash(r#"K3y\"q\/z+ x\\abc-\u00e9#1"#.to_owned())]
    #[case::percent_all("K3y%22q%2Fz%2B%20x%5Cabc%2D%C3%A9%231".to_owned())]
    #[case::percent_lowercase_hex("K3y%22q%2fz%2b%20x%5cabc%2d%c3%a9%231".to_owned())]
    #[case::path_segment("K3y%22q%2Fz%2B%20x%5Cabc-%C3%A9%231".to_owned())]
    // An http URL's path reads `\` as `/`.
    #[case::url_crate_path("K3y%22q/z+%20x/abc-%C3%A9%231".to_owned())]
    #[case::url_crate_query("K3y%22q/z+%20x\\abc-%C3%A9%231".to_owned())]
    #[case::form("K3y%22q%2Fz%2B+x%5Cabc-%C3%A9%231".to_owned())]
    #[case::hex_upper(hex(SECRET.as_bytes()).to_ascii_uppercase())]
    #[case::hex_lower(hex(SECRET.as_bytes()))]
    fn every_echoed_form_is_masked(#[case] form: String) {
        let r = Redactor::new([SECRET]);
        let text = format!("before {form} after");
        let out = r.redact(&text);
        assert!(out.contains(MASK), "{form} -> {out}");
        assert!(!out.contains(&form), "{form} -> {out}");
        assert!(
            out.starts_with("before ") && out.ends_with(" after"),
            "{out}"
        );
    }

    #[test]
    fn redact_bytes_masks_every_form_in_a_body_that_is_not_utf8() {
        let secret = "s3cr3t/+value";
        let r = Redactor::new([secret]);
        let forms = [
            secret.to_owned(),
            STANDARD.encode(secret),
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
        let out = Redactor::new(["s3cr3t-long"]).redact_bytes(&body);
        assert!(matches!(out, Cow::Borrowed(_)));
        assert_eq!(*out, body);
        assert!(matches!(
            Redactor::default().redact_bytes(&body),
            Cow::Borrowed(_)
        ));
    }

    #[rstest]
    #[case::whole_body(b"abcdabcd", &[M])]
    #[case::at_start(b"abcdabcd\xff", &[M, b"\xff"])]
    #[case::at_end(b"\xffabcdabcd", &[b"\xff", M])]
    #[case::at_start_and_end(b"abcdabcd\xfe\xffabcdabcd", &[M, b"\xfe\xff", M])]
    #[case::adjacent(b"\x80abcdabcdabcdabcd\x80", &[b"\x80", M, M, b"\x80"])]
    #[case::overlapping_leftmost_wins(b"\xc3abcdabcdabcd", &[b"\xc3", M, b"abcd"])]
    #[case::other_case(b"ABCDabcd!", &[M, b"!"])]
    fn redact_bytes_replaces_leftmost_non_overlapping(
        #[case] body: &[u8],
        #[case] expected: &[&[u8]],
    ) {
        let out = Redactor::new(["abcdabcd"]).redact_bytes(body);
        assert_eq!(*out, concat(expected));
    }

    #[test]
    fn longest_form_is_replaced_whole() {
        // The shorter secret is a prefix of the longer one: the longer must not leave a tail.
        let r = Redactor::new(["abcdefgh", "abcdefghijkl"]);
        assert_eq!(
            *r.redact_bytes(b"\xffabcdefghijkl abcdefgh"),
            concat(&[b"\xff", M, b" ", M])
        );
        assert_eq!(r.redact("abcdefghijkl abcdefgh"), format!("{MASK} {MASK}"));
    }

    #[test]
    fn json_keys_are_never_rewritten() {
        let r = Redactor::new(["token-abcdefgh"]);
        let mut data = serde_json::json!({
            "token-abcdefgh": "token-abcdefgh",
            "list": [{"token-abcdefgh": 1}],
        });
        r.redact_json(&mut data);
        assert_eq!(
            data,
            serde_json::json!({
                "token-abcdefgh": MASK,
                "list": [{"token-abcdefgh": 1}],
            })
        );
    }

    #[test]
    fn json_text_is_masked_as_its_tree_would_be_and_keys_stay() {
        let r = Redactor::new(["token-abcdefgh", "K3y\"q/z+ x\\abc"]);
        let cases = [
            r#"{"token-abcdefgh":"token-abcdefgh","list":[{"token-abcdefgh":1},"a token-abcdefgh b"]}"#,
            // The secret behind escapes the server chose, and one needing escapes itself.
            r#"["\u0074oken-abcdefgh","K3y\"q/z+ x\\abc","K3y\"q\/z+ x\\abc!"]"#,
            // An escape right before a form must not be cut in two.
            r#"{"a":"\\token-abcdefgh\n","b":{"c":["x",{"d":"token-abcdefgh"}]},"e":null}"#,
            r#""token-abcdefgh""#,
            r#"{"token-abcdefgh":{"token-abcdefgh":[]}}"#,
        ];
        for text in cases {
            let mut tree: serde_json::Value = serde_json::from_str(text).unwrap();
            r.redact_json(&mut tree);
            let masked = r.redact_json_text(text);
            let reread: serde_json::Value = serde_json::from_str(&masked).unwrap();
            assert_eq!(reread, tree, "{text}");
        }
        let clean = r#"{"a":["b"]}"#;
        assert!(matches!(r.redact_json_text(clean), Cow::Borrowed(_)));
        assert!(matches!(
            Redactor::default().redact_json_text(cases[0]),
            Cow::Borrowed(_)
        ));
    }

    proptest::proptest! {
        /// Masking never lets a secret through and never touches text around it: removing
        /// every mask leaves no raw value, and text without one comes back unchanged.
        #[test]
        fn masking_leaves_no_value_and_nothing_else_changed(
            text in "[ab€•é/+=%2F ]{0,40}",
            at in 0usize..40,
        ) {
            let secret = "ab€é/+=%";
            let r = Redactor::new([secret]);
            let cut = text.char_indices().map(|(i, _)| i).find(|i| *i >= at).unwrap_or(text.len());
            let planted = format!("{}{secret}{}", &text[..cut], &text[cut..]);
            let out = r.redact(&planted);
            proptest::prop_assert!(!out.contains(secret));
            proptest::prop_assert_eq!(&*r.redact_bytes(planted.as_bytes()), out.as_bytes());
            if !text.to_lowercase().contains(&secret.to_lowercase()) && !text.contains("%2") {
                proptest::prop_assert_eq!(r.redact(&text), text);
            }
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
