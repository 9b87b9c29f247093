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
