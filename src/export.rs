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
//!
//! The Markdown and HTML renderers are parallel on purpose: they walk the same sections of one
//! [`Report`] in the same order, so `duplicates` pairs them. What is logic lives once, in the
//! report (which pieces make a step's Detail cell and in what order, the Duration text, the
//! failed expectations, the timeline rows and their chunked streaming); what stays parallel is
//! markup, the same cells written as a Markdown table row or an HTML `<tr>`. A shared markup
//! trait could fold even that, at the cost of making either format harder to read on its own;
//! the golden files pin both outputs, so it can be done later without risk.
//!
//! Markdown and HTML are for people: their timeline shows a `foreach` step's exchanges as one
//! summary line per step ([`TimelineView::Summary`], the default), so their size does not
//! grow with the number of items; [`TimelineView::Full`] lists every exchange. JSON is the
//! full record and always has every exchange.

pub mod html;
pub mod json;
pub mod markdown;
pub mod report;
pub mod stream;
pub mod svg;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

pub use report::timeline::View as TimelineView;
pub use report::{Report, SCHEMA_VERSION};
pub use stream::build_from_journal;

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
    /// The journal is damaged (not merely torn at the end): exactly what `journal::read` and
    /// `stanch verify` report, and no export is made from it.
    #[error("{path}: {broken}; run `stanch verify` for details")]
    Broken {
        path: PathBuf,
        broken: crate::journal::Broken,
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
                // The hash proves this is the file the incident ran with, so it is only
                // parsed for titles and phases, not validated again (a template that has
                // since moved must not hide the steps from a post-mortem).
                let unchanged = std::fs::read(path).map(|bytes| {
                    let same = crate::journal::event::sha256_hex(&bytes) == incident.runbook_sha256;
                    (same, String::from_utf8_lossy(&bytes).into_owned())
                });
                match unchanged {
                    Ok((true, text)) => match toml::from_str::<Runbook>(&text) {
                        Ok(runbook) => sources.runbook = Some(runbook),
                        Err(err) => {
                            sources.runbook_note = Some(format!(
                                "the runbook at {path} could not be parsed ({}); step titles and phases are not shown",
                                err.message()
                            ));
                        }
                    },
                    Ok((false, _)) => {
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
            // Never through a link: a link planted in drafts/ must not put an outside file
            // into the post-mortem.
            if let Ok(bytes) = crate::private::read(&incident_dir.join(&draft.file)) {
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

/// Build the report and render it in one format (the timeline summarised).
pub fn render(incident: &Incident, sources: &Sources, format: Format) -> String {
    let report = report::build(incident, sources);
    render_report(&report, format)
}

/// Render an already built report (the timeline summarised).
pub fn render_report(report: &Report, format: Format) -> String {
    match format {
        Format::Markdown => markdown::render(report),
        Format::Html => html::render(report),
        Format::Json => json::render(report),
    }
}

/// Render into `sink` piece by piece (the whole document is never held in memory). `view`
/// chooses the Markdown and HTML timeline; JSON always has every event.
pub fn render_to(
    report: &Report,
    format: Format,
    view: TimelineView,
    sink: &mut dyn std::io::Write,
) -> std::io::Result<()> {
    match format {
        Format::Markdown => markdown::render_to(report, view, sink),
        Format::Html => html::render_to(report, view, sink),
        Format::Json => json::render_to(report, sink),
    }
}

/// Write an export to a file, creating parent directories; used by `stanch export -o`.
pub fn write_file(
    path: &Path,
    report: &Report,
    format: Format,
    view: TimelineView,
) -> Result<(), ExportError> {
    let io = |source| ExportError::Io {
        path: path.to_path_buf(),
        source,
    };
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(io)?;
    }
    let mut out = std::io::BufWriter::new(std::fs::File::create(path).map_err(io)?);
    render_to(report, format, view, &mut out)
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
