//! Post-mortem export: Markdown, HTML (with an SVG timeline) and JSON.
//!
//! ```text
//! journal ──replay──▶ Incident ─┐
//! runbook file (if unchanged) ──┼─▶ report::build ─▶ Report ─┬─▶ markdown::render
//! drafts/ files ── Sources::read┘   (pure)                   ├─▶ html::render (+ svg::render)
//!                                                            └─▶ json::render
//! ```
//!
//! Everything a post-mortem says is derived once, in [`report::build`], into a plain
//! [`Report`] value; each format is a thin renderer of that value (hurl's pattern), so the three
//! formats can never disagree. Exports are pure functions of the replayed [`Incident`] plus the
//! runbook metadata it records: this module never reads TUI state, never asks the clock (the
//! "as of" time is the journal's last event, so an export is reproducible), and does I/O only
//! in [`Sources::read`]. Secret values are already masked in the journal by the writer's
//! redactor; nothing here adds any.

pub mod html;
pub mod json;
pub mod markdown;
pub mod report;
pub mod svg;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use report::{Report, SCHEMA_VERSION};

use crate::incident::Incident;
use crate::runbook::Runbook;

/// The formats `stanch export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Markdown,
    Html,
    Json,
}

impl Format {
    /// The usual file extension, for default output names.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Markdown => "md",
            Format::Html => "html",
            Format::Json => "json",
        }
    }
}

/// What an export reads besides the journal: the runbook (for step titles and phases) when it
/// is still where the incident recorded it and unchanged, and the saved draft files.
#[derive(Debug, Clone, Default)]
pub struct Sources {
    /// The runbook the incident was opened with; `None` when it moved or changed.
    pub runbook: Option<Runbook>,
    /// Why the runbook is missing, shown in the export's warnings.
    pub runbook_note: Option<String>,
    /// Draft files by their journalled relative path (`drafts/forum-post.md`).
    pub draft_files: BTreeMap<String, Vec<u8>>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("{path}:{line}: not a journal event: {reason}")]
    Corrupt {
        path: PathBuf,
        line: usize,
        reason: String,
    },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl Sources {
    /// Read the runbook (only if its SHA-256 still matches `incident.opened`) and every draft
    /// file the journal mentions. A missing runbook or draft is not an error: the export says
    /// so instead, because a post-mortem must still be producible after files moved.
    pub fn read(incident_dir: &Path, incident: &Incident) -> Self {
        let mut sources = Sources::default();
        match incident.runbook_path.as_deref() {
            None => sources.runbook_note = Some("the journal records no runbook path".into()),
            Some(path) => {
                let unchanged = std::fs::read(path).map(|bytes| {
                    crate::journal::event::sha256_hex(&bytes) == incident.runbook_sha256
                });
                match unchanged {
                    Ok(true) => match crate::runbook::load(Path::new(path)) {
                        Ok(loaded) => sources.runbook = Some(loaded.runbook),
                        Err(err) => {
                            sources.runbook_note = Some(format!(
                                "the runbook at {path} could not be parsed ({err}); step titles and phases are not shown"
                            ));
                        }
                    },
                    Ok(false) => {
                        sources.runbook_note = Some(format!(
                            "the runbook at {path} changed since the incident opened; step titles and phases are not shown"
                        ));
                    }
                    Err(err) => {
                        sources.runbook_note = Some(format!(
                            "the runbook at {path} could not be read ({err}); step titles and phases are not shown"
                        ));
                    }
                }
            }
        }
        for draft in &incident.drafts {
            if sources.draft_files.contains_key(&draft.file) || !is_relative_inside(&draft.file) {
                continue;
            }
            if let Ok(bytes) = std::fs::read(incident_dir.join(&draft.file)) {
                sources.draft_files.insert(draft.file.clone(), bytes);
            }
        }
        sources
    }
}

/// A journalled file name must stay inside the incident dir (no `..`, no absolute path): a
/// tampered journal must not make an export read arbitrary files.
fn is_relative_inside(file: &str) -> bool {
    let path = Path::new(file);
    path.is_relative()
        && path
            .components()
            .all(|c| matches!(c, std::path::Component::Normal(_)))
}

/// Build the report and render it in one format.
pub fn render(incident: &Incident, sources: &Sources, format: Format) -> String {
    let report = report::build(incident, sources);
    render_report(&report, format)
}

/// Render an already built report.
pub fn render_report(report: &Report, format: Format) -> String {
    match format {
        Format::Markdown => markdown::render(report),
        Format::Html => html::render(report),
        Format::Json => json::render(report),
    }
}

/// Render into `sink` piece by piece (the whole document is never held in memory).
pub fn render_to(
    report: &Report,
    format: Format,
    sink: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    match format {
        Format::Markdown => markdown::render_to(report, sink),
        Format::Html => html::render_to(report, sink),
        Format::Json => json::render_to(report, sink),
    }
}

/// Replay the journal in `incident_dir` line by line into a [`Report`], keeping memory
/// proportional to the report, not to the journal (see [`report::Builder`]). Lines are parsed
/// exactly as `journal::read` parses them; a line that is not an event is an error.
pub fn build_from_journal(incident_dir: &Path) -> Result<Report, ExportError> {
    use std::io::BufRead;
    let path = incident_dir.join(crate::journal::writer::JOURNAL_FILE);
    let io = |source| ExportError::Io {
        path: path.clone(),
        source,
    };
    let file = std::fs::File::open(&path).map_err(io)?;
    let mut builder = report::Builder::default();
    for (n, line) in std::io::BufReader::new(file).lines().enumerate() {
        let line = line.map_err(io)?;
        let event = serde_json::from_str(&line).map_err(|e| ExportError::Corrupt {
            path: path.clone(),
            line: n + 1,
            reason: e.to_string(),
        })?;
        builder.push(event);
    }
    let sources = Sources::read(incident_dir, builder.incident());
    Ok(builder.finish(&sources))
}

/// Write an export to a file, creating parent directories; used by `stanch export -o`.
pub fn write_file(path: &Path, report: &Report, format: Format) -> Result<(), ExportError> {
    let io = |source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
    render_to(report, format, &mut out)
        .and_then(|()| std::io::Write::flush(&mut out))
        .map_err(io)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journalled_draft_paths_must_stay_inside_the_incident() {
        assert!(is_relative_inside("drafts/forum-post.md"));
        assert!(!is_relative_inside("../../etc/passwd"));
        assert!(!is_relative_inside("/etc/passwd"));
        assert!(!is_relative_inside("drafts/../../x"));
    }
}
