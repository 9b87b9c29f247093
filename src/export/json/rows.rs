//! The JSON timeline's rows written without serde's per-token calls: each [`TimelineRow`]
//! laid out as `serde_json`'s pretty printer lays it out inside the report's `timeline`
//! array, every string, number and time written through the same serializer and
//! [`Escaping`] formatter as the rest of the document, so JSON's escapes and the hostile
//! characters' escapes have one rule, the serializer's. Only the layout (braces, keys,
//! indentation) is written here, and a change of [`TimelineRow`]'s fields must be made here
//! too: the tests compare this writer with serde's for every shape a row takes.

use jiff::Timestamp;
use serde::Serializer as _;
use serde_json::ser::Formatter as _;

use super::Escaping;
use crate::export::report::{CorrectionRow, TimelineRow};

/// Writes rows, keeping what it wrote of the last time and the last offset (rows share their
/// millisecond by the hundred and their offset by the thousand, and an exchange row's two
/// times are one).
#[derive(Default)]
pub struct Writer {
    time: Option<(Timestamp, Vec<u8>)>,
    offset: (String, Vec<u8>),
}

impl Writer {
    /// `row` as an element of the report's `timeline` (its indentation; the separator before
    /// it is the caller's).
    pub fn write(&mut self, row: &TimelineRow, out: &mut Vec<u8>) {
        out.extend_from_slice(b"{\n      \"seq\": ");
        number(out, row.seq);
        out.extend_from_slice(b",\n      \"at\": ");
        self.time(out, row.at);
        out.extend_from_slice(b",\n      \"offset\": ");
        if self.offset.1.is_empty() || self.offset.0 != row.offset {
            self.offset.0.clone_from(&row.offset);
            self.offset.1.clear();
            string(&mut self.offset.1, &row.offset);
        }
        out.extend_from_slice(&self.offset.1);
        out.extend_from_slice(b",\n      \"offset_ms\": ");
        let _ = Escaping::default().write_i64(out, row.offset_ms);
        out.extend_from_slice(b",\n      \"recorded_at\": ");
        self.time(out, row.recorded_at);
        out.extend_from_slice(if row.backdated {
            b",\n      \"backdated\": true,\n      \"actor\": "
        } else {
            b",\n      \"backdated\": false,\n      \"actor\": "
        });
        string(out, &row.actor);
        out.extend_from_slice(b",\n      \"kind\": ");
        string(out, row.kind);
        out.extend_from_slice(b",\n      \"step\": ");
        optional(out, row.step.as_deref());
        out.extend_from_slice(b",\n      \"text\": ");
        string(out, &row.text);
        out.extend_from_slice(b",\n      \"corrections\": [");
        for (i, correction) in row.corrections.iter().enumerate() {
            out.extend_from_slice(if i == 0 {
                b"\n        "
            } else {
                b",\n        "
            });
            write_correction(correction, out);
        }
        if !row.corrections.is_empty() {
            out.extend_from_slice(b"\n      ");
        }
        out.extend_from_slice(b"]\n    }");
    }

    /// A row's time as its `serialize_recent` writes it.
    fn time(&mut self, out: &mut Vec<u8>, at: Timestamp) {
        match &mut self.time {
            Some((kept, written)) if *kept == at => out.extend_from_slice(written),
            _ => {
                let mut written = Vec::new();
                string(&mut written, &at.to_string());
                out.extend_from_slice(&written);
                self.time = Some((at, written));
            }
        }
    }
}

fn write_correction(correction: &CorrectionRow, out: &mut Vec<u8>) {
    out.extend_from_slice(b"{\n          \"seq\": ");
    number(out, correction.seq);
    out.extend_from_slice(b",\n          \"text\": ");
    string(out, &correction.text);
    out.extend_from_slice(b",\n          \"occurred_at\": ");
    optional(
        out,
        correction.occurred_at.map(|t| t.to_string()).as_deref(),
    );
    out.extend_from_slice(b",\n          \"recorded_at\": ");
    string(out, &correction.recorded_at.to_string());
    out.extend_from_slice(b",\n          \"actor\": ");
    string(out, &correction.actor);
    out.extend_from_slice(b"\n        }");
}

/// A string as the document's serializer writes it: quoted, JSON's escapes and [`Escaping`]'s.
fn string(out: &mut Vec<u8>, text: &str) {
    // What the serializer writes of printable ASCII without a quote or backslash, JSON's only
    // escapes there (the tests hold it to the serializer): the text between quotes.
    if Escaping::printable_ascii(text)
        && text.bytes().filter(|&b| b == b'"' || b == b'\\').count() == 0
    {
        out.push(b'"');
        out.extend_from_slice(text.as_bytes());
        out.push(b'"');
        return;
    }
    // Writing into memory cannot fail.
    let _ = serde_json::Serializer::with_formatter(out, Escaping::default()).serialize_str(text);
}

fn optional(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        Some(text) => string(out, text),
        None => out.extend_from_slice(b"null"),
    }
}

fn number(out: &mut Vec<u8>, n: u64) {
    // Writing into memory cannot fail.
    let _ = Escaping::default().write_u64(out, n);
}

#[cfg(test)]
mod tests {
    use super::*;

    const HOSTILE: &str =
        "a\u{1b}[2J\u{9b}1m\u{202e}txt.exe\u{2066}é\u{7f}\"q\" back\\slash\n\t\u{0}\u{8}\u{c}\r€😀";

    fn row(seq: u64, text: &str) -> TimelineRow {
        let at = Timestamp::from_millisecond(1_790_000_000_123 + seq.cast_signed()).unwrap();
        TimelineRow {
            seq,
            at,
            offset: "T+00:00:01".into(),
            offset_ms: 1_234,
            recorded_at: at,
            backdated: false,
            actor: "alice".into(),
            kind: "http.request",
            step: Some("revoke".into()),
            text: text.into(),
            corrections: Vec::new(),
            item: Some(seq),
        }
    }

    /// Rows of every shape: plain, hostile in each string, back-dated and negative offset,
    /// no step, whole-second and nanosecond times, with one and with two corrections.
    fn rows() -> Vec<TimelineRow> {
        let mut hostile = row(2, HOSTILE);
        hostile.actor = HOSTILE.into();
        hostile.step = Some(HOSTILE.into());
        hostile.offset = HOSTILE.into();
        let mut backdated = row(3, "exposure began");
        backdated.kind = "fact";
        backdated.step = None;
        backdated.backdated = true;
        backdated.offset_ms = -1_900_800_000;
        backdated.offset = "T-22d 00:00:00".into();
        backdated.at = Timestamp::from_second(1_788_000_000).unwrap();
        let mut corrected = row(4, "fact");
        corrected.recorded_at = Timestamp::from_nanosecond(1_790_000_000_123_456_789).unwrap();
        corrected.corrections = vec![CorrectionRow {
            seq: 9,
            text: HOSTILE.into(),
            occurred_at: None,
            recorded_at: corrected.at,
            actor: HOSTILE.into(),
        }];
        let mut twice = row(5, "fact");
        twice.corrections = vec![
            CorrectionRow {
                seq: 10,
                text: "4 Dec".into(),
                occurred_at: Some(Timestamp::from_second(1_788_000_000).unwrap()),
                recorded_at: twice.at,
                actor: "bob".into(),
            },
            CorrectionRow {
                seq: u64::MAX,
                text: String::new(),
                occurred_at: Some(twice.at),
                recorded_at: twice.at,
                actor: String::new(),
            },
        ];
        // Printable ASCII, but with JSON's own escapes.
        let quoted = row(6, r#"say "hi" to C:\dir"#);
        vec![
            row(1, "POST http://h/r (item 0)"),
            hostile,
            backdated,
            corrected,
            twice,
            quoted,
        ]
    }

    /// The rows as serde writes them inside a report's `timeline`: the same nesting and
    /// formatter.
    fn by_serde(rows: &[TimelineRow]) -> String {
        #[derive(serde::Serialize)]
        struct Report<'a> {
            timeline: &'a [TimelineRow],
        }
        let mut out = Vec::new();
        super::super::serialize(&Report { timeline: rows }, &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    fn by_hand(rows: &[TimelineRow]) -> String {
        let mut out = b"{\n  \"timeline\": [".to_vec();
        let mut writer = Writer::default();
        for (i, row) in rows.iter().enumerate() {
            out.extend_from_slice(if i == 0 { b"\n    " } else { b",\n    " });
            writer.write(row, &mut out);
        }
        out.extend_from_slice(if rows.is_empty() {
            b"]\n}"
        } else {
            b"\n  ]\n}"
        });
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn rows_written_by_hand_are_the_bytes_serde_writes() {
        let rows = rows();
        for one in &rows {
            assert_eq!(
                by_hand(std::slice::from_ref(one)),
                by_serde(std::slice::from_ref(one))
            );
        }
        let json = by_hand(&rows);
        assert_eq!(json, by_serde(&rows));
        assert!(!json.chars().any(crate::text::is_hostile), "{json}");
        for escaped in [
            r"\u001b", r"\u009b", r"\u202e", r"\u2066", r"\u007f", r#"\"q\""#, r"\\", r"\n",
            r"\u0000",
        ] {
            assert!(json.contains(escaped), "{escaped} in {json}");
        }
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["timeline"][1]["text"], HOSTILE);
        assert_eq!(back["timeline"][3]["corrections"][0]["actor"], HOSTILE);
        assert_eq!(back["timeline"][5]["text"], r#"say "hi" to C:\dir"#);
    }

    #[test]
    fn no_rows_is_an_empty_array() {
        assert_eq!(by_hand(&[]), by_serde(&[]));
    }
}
