//! The post-mortem as JSON: the [`Report`] serialized as is. Field names are the schema in
//! `schema/postmortem.schema.json` (versioned by `schema_version`); times are RFC 3339 UTC.
//! Nothing is added or renamed here, so the schema and the type cannot drift apart.

use super::report::Report;

/// Write the JSON straight into `sink` (no intermediate string).
pub fn render_to(report: &Report, sink: &mut dyn std::io::Write) -> std::io::Result<()> {
    serde_json::to_writer_pretty(&mut *sink, report).map_err(std::io::Error::other)?;
    sink.write_all(b"\n")
}

pub fn render(report: &Report) -> String {
    // Serializing plain data (string keys, no non-finite floats) cannot fail.
    let mut text = serde_json::to_string_pretty(report).unwrap_or_default();
    text.push('\n');
    text
}
