//! stanch: a terminal runbook runner for data-leak incident response.
//!
//! Data flows one way:
//!
//! ```text
//! runbook.toml ──runbook::parse/validate──▶ Runbook ──▶ engine ──HTTP──▶ services (or lab)
//!                                              │           │ events
//!                 responder ◀──tui──▶ App ◀────┴───────────┘
//!                                              │ journal::Journal (hash chain, fsync)
//!                                              ▼
//!                         incident dir: journal.jsonl + evidence/ + drafts/
//!                                              │ journal::replay → incident::Incident
//!                                              ▼
//!                                  export: markdown / html / json
//! ```
//!
//! Dependencies point inward: `cli`, `tui` → `timeline` (the journal paged from disk),
//! `incident`, `engine`, `export`, `lab` →
//! `journal`, `template`, `secret` → `runbook`. Only `tui` knows ratatui/crossterm; only
//! `engine` and `lab` know HTTP.

pub mod cli;
pub mod digest;
pub mod draft;
pub mod engine;
pub mod export;
pub mod incident;
pub mod journal;
pub mod lab;
pub mod markup;
pub mod paths;
pub mod private;
pub mod runbook;
pub mod secret;
pub mod store;
pub mod team;
pub mod template;
pub mod text;
pub mod timeline;
pub mod tui;
