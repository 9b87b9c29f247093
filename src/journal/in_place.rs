//! A journal line's fields read in place (`InPlace`), for the readers that hash a line's own
//! bytes instead of building its [`Event`](super::Event) (`stanch verify`, a report's
//! [`lean`](super::lean) reading).
//!
//! `read` takes the line as the writer writes it by position, in one pass:
//!
//! ```text
//! {"seq":N,"at":"…","mono_ms":N,"actor":"…","kind":"…"[,"step":"…"],"data":V,"prev":"…","hash":"…"}
//! ```
//!
//! every string without escapes or control characters, `V` one JSON value checked by
//! `serde_json`, the time and kind read by their own `Deserialize`. Any other line (keys
//! reordered, spaces, escapes, `"step":null`, an unknown key) goes to `serde_json` with
//! `InPlace`'s derived `Deserialize`, which has `Event`'s names, types and strictness. A line
//! the first way accepts, the second accepts with the same values, and what the second refuses
//! the first refuses (the tests read each layout both ways), so a verdict never depends on
//! which way read it.

use jiff::Timestamp;
use serde::Deserialize;
use serde::de::value::{BorrowedStrDeserializer, Error as ValueError};
use serde_json::value::RawValue;

use super::event::Kind;

/// An event's fields as the writer writes them, borrowed from the line: the same names,
/// types and strictness as [`Event`](super::Event)'s `Deserialize`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub(super) struct InPlace<'a> {
    pub(super) seq: u64,
    pub(super) at: Timestamp,
    pub(super) mono_ms: u64,
    pub(super) actor: &'a str,
    pub(super) kind: Kind,
    #[serde(default)]
    pub(super) step: Option<&'a str>,
    pub(super) data: &'a RawValue,
    pub(super) prev: &'a str,
    #[serde(default)]
    pub(super) hash: &'a str,
}

/// The fields of `line`, or `None` when it is not an event's JSON object.
pub(super) fn read(line: &[u8]) -> Option<InPlace<'_>> {
    by_position(line).or_else(|| serde_json::from_slice(line).ok())
}

/// The writer's layout, or `None` (then `serde_json` decides).
fn by_position(line: &[u8]) -> Option<InPlace<'_>> {
    // The end first: `,"prev":"P","hash":"H"}` with P and H plain strings.
    let body = line.strip_suffix(b"\"}")?;
    let hash_at = memchr::memrchr(b'"', body)? + 1;
    let (body, hash) = body.split_at(hash_at);
    let body = body.strip_suffix(b",\"hash\":\"")?;
    let body = body.strip_suffix(b"\"")?;
    let prev_at = memchr::memrchr(b'"', body)? + 1;
    let (body, prev) = body.split_at(prev_at);
    let body = body.strip_suffix(b",\"prev\":\"")?;

    let mut cursor = Cursor(body);
    cursor.token(b"{\"seq\":")?;
    let seq = cursor.number()?;
    cursor.token(b",\"at\":\"")?;
    let at = cursor.string()?;
    cursor.token(b",\"mono_ms\":")?;
    let mono_ms = cursor.number()?;
    cursor.token(b",\"actor\":\"")?;
    let actor = cursor.string()?;
    cursor.token(b",\"kind\":\"")?;
    let kind = cursor.string()?;
    let step = if cursor.token(b",\"step\":\"").is_some() {
        Some(cursor.string()?)
    } else {
        None
    };
    cursor.token(b",\"data\":")?;
    let data = cursor.0;
    // One value, nothing around it (the serde reading's raw value has no spaces either).
    if data.first().is_none_or(u8::is_ascii_whitespace)
        || data.last().is_none_or(u8::is_ascii_whitespace)
    {
        return None;
    }
    let data: &RawValue = serde_json::from_slice(data).ok()?;
    Some(InPlace {
        seq,
        at: Timestamp::deserialize(BorrowedStrDeserializer::<ValueError>::new(at)).ok()?,
        mono_ms,
        actor,
        kind: Kind::deserialize(BorrowedStrDeserializer::<ValueError>::new(kind)).ok()?,
        step,
        data,
        prev: plain(prev)?,
        hash: plain(hash)?,
    })
}

/// A JSON string's content that reads as itself: UTF-8 with no escape, quote or control
/// character (serde would refuse a control character, and unescape the rest).
fn plain(bytes: &[u8]) -> Option<&str> {
    if bytes.iter().any(|&b| b < 0x20 || b == b'\\' || b == b'"') {
        return None;
    }
    std::str::from_utf8(bytes).ok()
}

struct Cursor<'a>(&'a [u8]);

impl<'a> Cursor<'a> {
    fn token(&mut self, token: &[u8]) -> Option<()> {
        self.0 = self.0.strip_prefix(token)?;
        Some(())
    }

    /// A JSON number that is a `u64`: `0` or digits without a leading zero.
    fn number(&mut self) -> Option<u64> {
        let digits = self.0.iter().take_while(|b| b.is_ascii_digit()).count();
        let (number, rest) = self.0.split_at(digits);
        if number.is_empty() || (number.len() > 1 && number[0] == b'0') {
            return None;
        }
        let value = number.iter().try_fold(0u64, |n, &d| {
            n.checked_mul(10)?.checked_add(u64::from(d - b'0'))
        })?;
        self.0 = rest;
        Some(value)
    }

    /// A plain string's content up to its closing quote (consumed).
    fn string(&mut self) -> Option<&'a str> {
        let end = memchr::memchr(b'"', self.0)?;
        let text = plain(&self.0[..end])?;
        self.0 = &self.0[end + 1..];
        Some(text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"seq":7,"at":"2026-11-28T03:47:11.123Z","mono_ms":84211,"actor":"alice","kind":"http.response","step":"close-index","data":{"bytes":0,"item":3,"status":200},"prev":"ab","hash":"cd"}"#;

    /// Both readings, field by field (`None` when a reading refuses the line).
    fn both(line: &str) -> (Option<String>, Option<String>) {
        let show = |f: InPlace<'_>| {
            format!(
                "{} {} {} {} {} {:?} {} {} {}",
                f.seq,
                f.at,
                f.mono_ms,
                f.actor,
                f.kind,
                f.step,
                f.data.get(),
                f.prev,
                f.hash
            )
        };
        (
            by_position(line.as_bytes()).map(show),
            serde_json::from_slice(line.as_bytes()).ok().map(show),
        )
    }

    #[test]
    fn the_writers_layout_reads_by_position_as_serde_reads_it() {
        for line in [
            LINE.to_owned(),
            LINE.replace(r#","step":"close-index""#, ""),
            LINE.replace(r#""mono_ms":84211"#, r#""mono_ms":0"#),
            LINE.replace("alice", "é—ü"),
            LINE.replace(
                r#"{"bytes":0,"item":3,"status":200}"#,
                r#"["a\"b",null,{"x":"\u009b"}]"#,
            ),
        ] {
            let (position, serde) = both(&line);
            assert!(position.is_some(), "{line}");
            assert_eq!(position, serde, "{line}");
        }
    }

    #[rstest::rstest]
    #[case::step_null(LINE.replace(r#""close-index""#, "null"))]
    #[case::space(LINE.replace(r#""data":{"#, r#""data": {"#))]
    #[case::space_after_data(LINE.replace(r#"},"prev""#, r#"} ,"prev""#))]
    #[case::reordered(LINE.replace(r#""seq":7,"at":"2026-11-28T03:47:11.123Z""#, r#""at":"2026-11-28T03:47:11.123Z","seq":7"#))]
    fn other_layouts_are_left_to_serde(#[case] line: String) {
        let (position, serde) = both(&line);
        assert_eq!(position, None, "{line}");
        assert!(serde.is_some(), "serde reads it: {line}");
    }

    #[rstest::rstest]
    #[case::leading_zero(LINE.replace(r#""seq":7"#, r#""seq":07"#))]
    #[case::negative(LINE.replace(r#""seq":7"#, r#""seq":-7"#))]
    #[case::too_big(LINE.replace(r#""seq":7"#, r#""seq":18446744073709551616"#))]
    #[case::bad_time(LINE.replace("2026-11-28T03", "2026-13-28T03"))]
    #[case::unknown_kind(LINE.replace("http.response", "http.nope"))]
    #[case::data_not_one_value(LINE.replace(r#"{"bytes":0,"item":3,"status":200}"#, r#"{"a":1},"prev":"x""#))]
    #[case::data_bad_json(LINE.replace(r#"{"bytes":0,"item":3,"status":200}"#, r#"{"a":}"#))]
    #[case::control_character(LINE.replace("alice", "al\u{1}ice"))]
    #[case::unknown_key(LINE.replace(r#""actor""#, r#""extra":1,"actor""#))]
    // Borrowed, an escaped string cannot be read in place either way: the full parse reads it.
    #[case::escape_in_actor(LINE.replace("alice", r"\u0061lice"))]
    #[case::escape_in_hash(LINE.replace(r#""hash":"cd""#, r#""hash":"c\u0064""#))]
    fn what_serde_refuses_is_not_read_by_position(#[case] line: String) {
        assert_eq!(both(&line), (None, None), "{line}");
    }
}
