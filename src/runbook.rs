//! Runbooks: the TOML file a responder follows, as typed data.
//!
//! `model` holds the types (with source spans on every value a diagnostic may point at),
//! `parse` turns text into a [`Runbook`], `validate` checks what serde cannot (one action per
//! step, known `needs`, no cycles, declared template variables, …) and `diagnostics` renders
//! problems as caret snippets with `file:line:col`.
//!
//! This module knows nothing of HTTP, the journal or the terminal.

pub mod model;

pub use model::*;

use std::path::{Path, PathBuf};

/// A runbook read from disk, with what the journal records about its source.
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
        self.path.parent().unwrap_or_else(|| Path::new("."))
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

/// Read, parse and validate a runbook file.
///
/// FIRST CUT: parse only (the runbook work adds validation and caret diagnostics).
pub fn load(path: &Path) -> Result<Loaded, LoadError> {
    let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let source = String::from_utf8_lossy(&bytes).into_owned();
    let runbook: Runbook = toml::from_str(&source).map_err(|e| LoadError::Invalid {
        rendered: format!("{}: {e}", path.display()),
        count: 1,
    })?;
    Ok(Loaded {
        runbook,
        path: path.to_path_buf(),
        sha256: crate::journal::event::sha256_hex(&bytes),
        source,
    })
}
