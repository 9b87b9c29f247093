//! The post-mortem as JSON: the [`Report`] serialized as is. Field names are the schema in
//! `schema/postmortem.schema.json` (versioned by `schema_version`); times are RFC 3339 UTC.
//! Nothing is added or renamed here, so the schema and the type cannot drift apart.
//!
//! Strings are escaped for whoever reads the file on a terminal: besides JSON's own escapes
//! (C0 controls), every character [`crate::text::is_hostile`] names (DEL, C1 controls such as
//! U+009B, bidi overrides such as U+202E, invisible marks) is written as `\u009b`, so the file
//! holds only printable text and still parses to the same strings.
//!
//! The timeline (2,000,000 rows in a large incident) is written apart from serde: the rest
//! of the report is serialized with its timeline left empty, and the rows are written into
//! that empty array by [`rows`], which lays each row out as serde's pretty printer does and
//! writes every string and number through the same serializer and [`Escaping`] formatter,
//! so the bytes are the ones serde would write (`rows::tests` compares them, hostile text
//! included).

use std::io::Write as _;

use serde_json::ser::{Formatter, PrettyFormatter};

use super::report::Report;

mod rows;

/// Bytes gathered before each write to the sink.
const CHUNK: usize = 1 << 20;

/// Chunks in flight between the serializing thread and the writing one.
const IN_FLIGHT: usize = 2;

/// Write the JSON into `sink` a chunk at a time (the document is never held whole: a
/// 2,000,000-event timeline streams through). The report is serialized on a thread of its own
/// while the calling thread writes the chunks already made (the sink need not be `Send`), so
/// writing a large export overlaps with making it; a few chunks' buffers go round.
pub fn render_to(report: &Report, sink: &mut dyn std::io::Write) -> std::io::Result<()> {
    let (full_tx, full_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT);
    let (empty_tx, empty_rx) = std::sync::mpsc::sync_channel::<Vec<u8>>(IN_FLIGHT + 1);
    std::thread::scope(|scope| {
        let serializer = scope.spawn(move || {
            let mut out = Chunks {
                buf: Vec::with_capacity(CHUNK + 64 * 1024),
                full_tx,
                empty_rx,
            };
            write_document(report, &mut out)?;
            out.hand_over()
        });
        let mut written = Ok(());
        for mut chunk in full_rx {
            written = sink.write_all(&chunk);
            if written.is_err() {
                // Dropping the receiver stops the serializer at its next hand-over.
                break;
            }
            chunk.clear();
            // The serializer may have finished: then the buffer is not needed.
            let _ = empty_tx.send(chunk);
        }
        // Serializing does not panic; if it ever did, a silently short file would be worse.
        let serialized = serializer
            .join()
            .unwrap_or_else(|p| std::panic::resume_unwind(p));
        written.and(serialized)
    })
}

/// Where the timeline's rows go in the report serialized without them: its empty array (a
/// raw newline and two spaces precede only the top-level keys, which are unique).
const EMPTY_TIMELINE: &[u8] = b"\n  \"timeline\": []";

/// The whole document into `out`: the report without its timeline rows through serde (into
/// memory first: without its rows a report is small), with the rows written into its
/// `timeline` array as they are read.
fn write_document(report: &Report, out: &mut Chunks) -> std::io::Result<()> {
    let mut shell = Vec::new();
    serialize(&without_timeline(report), &mut shell)?;
    shell.push(b'\n');
    let at = memchr::memmem::find(&shell, EMPTY_TIMELINE)
        .ok_or_else(|| std::io::Error::other("the report has no timeline"))?;
    let (head, tail) = shell.split_at(at + EMPTY_TIMELINE.len() - 1);
    out.write_all(head)?;
    let mut walk = report.timeline.walk_all()?;
    let mut writer = rows::Writer::default();
    let mut any = false;
    while let Some(row) = walk.step()? {
        out.buf
            .extend_from_slice(if any { b",\n    " } else { b"\n    " });
        any = true;
        writer.write(row.row(), &mut out.buf);
        out.handed_over_when_full()?;
    }
    if any {
        out.write_all(b"\n  ")?;
    }
    out.write_all(tail)
}

/// A copy of the report with an empty timeline, everything else cloned. Every field is
/// named, so a field added to [`Report`] cannot be left out of the JSON unnoticed.
fn without_timeline(report: &Report) -> Report {
    let Report {
        schema_version,
        generator,
        drill,
        watermark,
        summary,
        review,
        impact,
        marks,
        durations,
        metrics,
        notification_window,
        deadlines,
        timeline: _,
        exchanges: _,
        steps,
        notes,
        action_items,
        evidence,
        journal,
        drafts,
        injects,
        warnings,
        score,
        comparison,
    } = report;
    Report {
        schema_version: *schema_version,
        generator: generator.clone(),
        drill: *drill,
        watermark: watermark.clone(),
        summary: summary.clone(),
        review: review.clone(),
        impact: impact.clone(),
        marks: marks.clone(),
        durations: durations.clone(),
        metrics: metrics.clone(),
        notification_window: notification_window.clone(),
        deadlines: deadlines.clone(),
        timeline: super::report::timeline::Timeline::default(),
        // Not part of the JSON (`serde(skip)`).
        exchanges: Vec::new(),
        steps: steps.clone(),
        notes: notes.clone(),
        action_items: action_items.clone(),
        evidence: evidence.clone(),
        journal: journal.clone(),
        drafts: drafts.clone(),
        injects: injects.clone(),
        warnings: warnings.clone(),
        score: score.clone(),
        comparison: comparison.clone(),
    }
}

/// `value` serialized as this module writes JSON (pretty, hostile characters escaped).
fn serialize<T: serde::Serialize>(value: &T, out: &mut Vec<u8>) -> std::io::Result<()> {
    let mut ser = serde_json::Serializer::with_formatter(out, Escaping::default());
    value
        .serialize(&mut ser)
        .map_err(|e| match e.io_error_kind() {
            // `stanch export … | head`: a closed pipe stays a closed pipe.
            Some(kind) => std::io::Error::new(kind, e),
            None => std::io::Error::other(e),
        })
}

/// The serializer's many small writes gathered in memory (in a type the compiler can see
/// through) and handed to the writing thread a chunk at a time.
struct Chunks {
    buf: Vec<u8>,
    full_tx: std::sync::mpsc::SyncSender<Vec<u8>>,
    empty_rx: std::sync::mpsc::Receiver<Vec<u8>>,
}

impl Chunks {
    fn handed_over_when_full(&mut self) -> std::io::Result<()> {
        if self.buf.len() >= CHUNK {
            self.hand_over()?;
        }
        Ok(())
    }

    fn hand_over(&mut self) -> std::io::Result<()> {
        let fresh = self
            .empty_rx
            .try_recv()
            .unwrap_or_else(|_| Vec::with_capacity(CHUNK + 64 * 1024));
        let full = std::mem::replace(&mut self.buf, fresh);
        self.full_tx
            .send(full)
            .map_err(|_| std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the sink failed"))
    }
}

impl std::io::Write for Chunks {
    fn write(&mut self, data: &[u8]) -> std::io::Result<usize> {
        self.write_all(data)?;
        Ok(data.len())
    }

    #[inline]
    fn write_all(&mut self, data: &[u8]) -> std::io::Result<()> {
        self.buf.extend_from_slice(data);
        self.handed_over_when_full()
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

pub fn render(report: &Report) -> String {
    let mut out = Vec::new();
    // Serializing plain data (string keys, no non-finite floats) into memory cannot fail.
    let _ = render_to(report, &mut out);
    String::from_utf8(out).unwrap_or_default()
}

/// serde_json's pretty layout, with hostile characters inside strings escaped.
#[derive(Default)]
struct Escaping(PrettyFormatter<'static>);

impl Escaping {
    /// Printable ASCII (nearly every byte of a large export) holds nothing hostile.
    fn printable_ascii(text: &str) -> bool {
        // Without an early exit: the compiler makes it a vector loop.
        text.bytes()
            .fold(true, |plain, b| plain & (0x20..0x7f).contains(&b))
    }
}

impl Formatter for Escaping {
    fn write_string_fragment<W: ?Sized + std::io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> std::io::Result<()> {
        if Escaping::printable_ascii(fragment) {
            return writer.write_all(fragment.as_bytes());
        }
        let mut rest = fragment;
        while let Some((at, c)) = rest
            .char_indices()
            .find(|(_, c)| crate::text::is_hostile(*c))
        {
            writer.write_all(&rest.as_bytes()[..at])?;
            write!(writer, "\\u{:04x}", u32::from(c))?;
            rest = &rest[at + c.len_utf8()..];
        }
        writer.write_all(rest.as_bytes())
    }

    fn begin_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_array(w)
    }

    fn end_array<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array(w)
    }

    fn begin_array_value<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_array_value(w, first)
    }

    fn end_array_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_array_value(w)
    }

    fn begin_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object(w)
    }

    fn end_object<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object(w)
    }

    fn begin_object_key<W: ?Sized + std::io::Write>(
        &mut self,
        w: &mut W,
        first: bool,
    ) -> std::io::Result<()> {
        self.0.begin_object_key(w, first)
    }

    fn begin_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.begin_object_value(w)
    }

    fn end_object_value<W: ?Sized + std::io::Write>(&mut self, w: &mut W) -> std::io::Result<()> {
        self.0.end_object_value(w)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde::Serialize as _;

    #[test]
    fn hostile_characters_are_escaped_and_parse_back_to_the_same_string() {
        let text = "a\u{1b}[2J\u{9b}1m\u{202e}txt.exe\u{2066}é\u{7f}";
        let mut out = Vec::new();
        let mut ser = serde_json::Serializer::with_formatter(&mut out, Escaping::default());
        serde_json::json!({ "k": [text] })
            .serialize(&mut ser)
            .unwrap();
        let json = String::from_utf8(out).unwrap();
        assert!(!json.chars().any(crate::text::is_hostile), "{json}");
        for escaped in [r"\u001b", r"\u009b", r"\u202e", r"\u2066", r"\u007f"] {
            assert!(json.contains(escaped), "{escaped} in {json}");
        }
        assert!(json.contains('é'));
        assert!(
            json.contains("\n  \"k\": [\n"),
            "pretty layout kept: {json}"
        );
        let back: serde_json::Value = serde_json::from_str(&json).unwrap();
        assert_eq!(back["k"][0], text);
    }
}
