//! Runbooks: the TOML file a responder follows, as typed and checked data.
//!
//! ```text
//! text ──parse──▶ Parsed { Runbook, Doc (span tree) } ──validate──▶ Vec<Diagnostic>
//!                                                                      │ render
//!                                       caret snippets headed file:line:col ◀┘
//! ```
//!
//! `model` holds the types (with source spans on the values a diagnostic points at), `parse`
//! turns text into a [`Runbook`] (TOML syntax, unknown fields, wrong types), `validate` checks
//! what serde cannot (one action per step, known `needs`, no cycles, template syntax, declared
//! variables, durations, files…) and `diagnostics` renders problems for people.
//!
//! [`load`] is the one door the rest of the program uses: a [`Loaded`] runbook has passed every
//! check (`LoadError::Invalid { rendered, count }` carries the full report). [`check_source`]
//! lists every problem in a runbook's text and [`render_diagnostics`] renders them as `stanch
//! check` prints them. This module knows nothing of HTTP, the journal or the terminal.

pub mod diagnostics;
pub mod model;
pub mod parse;
pub mod validate;

pub use diagnostics::{Diagnostic, Label};
pub use model::*;
pub use parse::parse;

use std::path::{Path, PathBuf};

/// A runbook read from disk and validated, with what the journal records about its source.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub runbook: Runbook,
    pub path: PathBuf,
    pub source: String,
    /// SHA-256 of the file's bytes (journalled in `incident.opened`).
    pub sha256: String,
}

impl Loaded {
    /// The directory relative paths in the runbook (draft templates, CA files) start from.
    pub fn base_dir(&self) -> &Path {
        base_dir(&self.path)
    }
}

/// Why a runbook could not be loaded. `Display` is the full rendered report.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("cannot read runbook {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Rendered diagnostics (caret snippets with file:line:col), one or more.
    #[error("{rendered}")]
    Invalid { rendered: String, count: usize },
}

/// Read, parse and validate a runbook file. `Err(Invalid)` carries every problem found,
/// rendered; a runbook that loads has passed all of `stanch check`.
pub fn load(path: &Path) -> Result<Loaded, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let name = path.display().to_string();
    let source = match String::from_utf8(bytes) {
        Ok(source) => source,
        Err(err) => {
            let diagnostic = not_utf8(&err);
            return Err(LoadError::Invalid {
                rendered: diagnostics::render(&name, "", &[diagnostic]),
                count: 1,
            });
        }
    };
    let runbook = match parse_and_validate(&source, base_dir(path)) {
        Ok(runbook) => runbook,
        Err(problems) => {
            return Err(LoadError::Invalid {
                rendered: diagnostics::render(&name, &source, &problems),
                count: problems.len(),
            });
        }
    };
    Ok(Loaded {
        runbook,
        path: path.to_path_buf(),
        sha256: crate::journal::event::sha256_hex(source.as_bytes()),
        source,
    })
}

/// Every problem in a runbook's text, in source order; empty when it is valid. `name` is the
/// file's path: relative paths inside the runbook (draft templates) are resolved against its
/// directory.
pub fn check_source(name: &str, source: &str) -> Vec<Diagnostic> {
    match parse_and_validate(source, base_dir(Path::new(name))) {
        Ok(_) => Vec::new(),
        Err(problems) => problems,
    }
}

/// Render diagnostics for `name` as `stanch check` prints them.
pub fn render_diagnostics(name: &str, source: &str, problems: &[Diagnostic]) -> String {
    diagnostics::render(name, source, problems)
}

fn parse_and_validate(source: &str, base_dir: &Path) -> Result<Runbook, Vec<Diagnostic>> {
    let parsed = parse(source).map_err(|d| vec![d])?;
    let problems = validate::validate(&parsed, source, base_dir);
    if problems.is_empty() {
        Ok(parsed.runbook)
    } else {
        Err(problems)
    }
}

fn base_dir(path: &Path) -> &Path {
    match path.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir,
        _ => Path::new("."),
    }
}

fn not_utf8(err: &std::string::FromUtf8Error) -> Diagnostic {
    Diagnostic::unlocated(format!(
        "not UTF-8 text (invalid byte at offset {}); runbooks are TOML, which is UTF-8",
        err.utf8_error().valid_up_to()
    ))
}
