//! Team mode: one incident's journal shared by several responders through PostgreSQL.
//!
//! ```text
//!  responder A ─append (one txn, advisory lock)─▶ stanch.event ◀─append─ responder B
//!        ▲                                          │ constraints: no gap, fork, wrong prev
//!        │ fetch seq > last verified, check links   │ or hash; append-only; RLS: actor =
//!        │ ◀──── NOTIFY stanch '<incident id>' ─────┘ session_user, members only
//!        ▼
//!  local mirror: <data>/incidents/<id>/journal.jsonl + journal.head, byte-identical to a file
//!  journal, so `verify` and `export` read it unchanged
//! ```
//!
//! - `target`: the team URL, the TLS rule (required except on a local unix socket), connect.
//! - `schema`: versioned migrations (`stanch team init`), responders (`stanch team add`).
//! - `chain`: append a batch under the incident's advisory lock; fetch and verify links.
//! - `writer`: group commit for one responder ([`Appender`]): what queues shares a transaction.
//! - `mirror`: the local JSONL copy and the "journal rewritten" check.
//! - `follow`: LISTEN first, then catch up; a slow poll as a backstop.
//! - `pending`: the offline sub-chain (link down) and the one rule of what may go there.
//! - `merge`: on reconnect, re-sequence the sub-chain onto the shared chain, idempotently.
//! - `presence`: who is looking at what, outside the chain (heartbeat + list).
//! - `exercise`: team drills: one exercise, one incident per team, the facilitator's appends.
//! - `session`: one responder's live session, the team backend of `Journal` (appends through
//!   the offline-capable appender: link down, safe work goes to the pending sub-chain and is
//!   merged on reconnect; the mirror kept current, teammates' events on a feed, the alarm kept).
//! - `migrations/0002_roles_claims.sql`: claims, roles and closing checked by the database.
//!
//! Events keep the file journal's form and hash rule exactly: this module builds them with
//! `journal::event` ([`compute_hash`](crate::journal::Event::compute_hash), the crate's
//! canonical serialization) and never re-implements either; redaction happens before
//! hashing, so no runbook secret reaches the server. The module is a leaf below `cli`:
//! nothing in the core or the TUI imports it (they reach it only through the journal's
//! `SharedChain` seam and its `News`).

pub mod chain;
pub mod exercise;
pub mod follow;
pub mod merge;
pub mod mirror;
pub mod pending;
pub mod presence;
pub mod schema;
pub mod session;
pub mod target;
pub mod writer;

use std::path::PathBuf;

use crate::journal::{Broken, Fault};

pub use chain::Chain;
pub use follow::{Follower, Update};
pub use mirror::Mirror;
pub use session::Session;
pub use target::Target;
pub use writer::{Appended, Appender, LinkNews, OfflineSetup};

#[derive(Debug, thiserror::Error)]
pub enum TeamError {
    #[error("team URL {url}: {reason}")]
    Url { url: String, reason: String },
    #[error("TLS set-up for {target}: {reason}")]
    Tls { target: String, reason: String },
    #[error("cannot connect to the team database {target}: {}", describe(.source))]
    Connect {
        target: String,
        source: tokio_postgres::Error,
    },
    #[error("team database, {context}: {}", describe(.source))]
    Db {
        context: String,
        source: tokio_postgres::Error,
    },
    #[error(
        "the team database {target} has schema version {found}; this stanch knows up to {known} (upgrade stanch)"
    )]
    SchemaTooNew {
        target: String,
        found: i32,
        known: i32,
    },
    #[error("the team database has no stanch schema (run `stanch team init URL` first)")]
    NoSchema,
    #[error(
        "`{0}` is not a valid responder login: use a-z, 0-9, '_', '.' and '-', starting with a letter or '_', at most 63 bytes"
    )]
    BadLogin(String),
    #[error("`{0}` is not a team role (commander, ops, comms, scribe, observer, facilitator)")]
    BadRole(String),
    #[error("incident id `{0}` is not valid: use letters, digits, '-', '_' and '.' only")]
    BadIncident(String),
    #[error(
        "event {position} of a batch for {incident} is by `{actor}`, but you are connected as `{login}`: in team mode you append only as yourself"
    )]
    ForeignActor {
        incident: String,
        /// 1-based place in the batch.
        position: usize,
        actor: String,
        login: String,
    },
    #[error("the shared chain of {incident} is broken at seq {seq}: {fault}")]
    Chain {
        incident: String,
        seq: u64,
        fault: Fault,
    },
    #[error(
        "JOURNAL REWRITTEN: {incident} seq {seq} was verified here as {expected}, but the server now {found}; stop and compare the local mirror with the server"
    )]
    Rewritten {
        incident: String,
        seq: u64,
        expected: String,
        /// What the server has at that seq ("holds hash …" or "has no such event").
        found: String,
    },
    #[error("local mirror {path}: {source}")]
    Mirror {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "local mirror {path} is damaged at {broken}; it is left as it is (run `stanch verify`)"
    )]
    MirrorBroken { path: PathBuf, broken: Broken },
    #[error("local mirror {path} is open for writing by {holder}; it is kept current there")]
    MirrorInUse { path: PathBuf, holder: String },
    #[error("the team journal writer has stopped")]
    WriterStopped,
    #[error("the LISTEN connection to the team database closed")]
    ListenClosed,
    #[error("{kind} needs the team link: {why}")]
    NeedsLink {
        kind: crate::journal::Kind,
        why: &'static str,
    },
    #[error("pending sub-chain {path}: {source}")]
    Pending {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "pending sub-chain {path} is damaged at line {line}: {fault}; it is left as it is (nothing was merged)"
    )]
    PendingBroken {
        path: PathBuf,
        line: usize,
        fault: Fault,
    },
    #[error("merging the pending sub-chain of {incident}: {reason}")]
    Merge { incident: String, reason: String },
    #[error(
        "`{0}` is not a team name: use a-z, 0-9, '_' and '-', starting with a letter or digit, at most 32 bytes"
    )]
    BadTeam(String),
    #[error("team `{0}` is named twice")]
    DuplicateTeam(String),
    #[error("an exercise needs at least one team (--teams red,blue)")]
    NoTeams,
    #[error("no exercise `{0}` on the team database that you run or play in")]
    NoExercise(String),
    /// The "journal rewritten" alarm as kept by a session: nothing more is written.
    #[error("{0}; writing is stopped")]
    Alarm(String),
}

/// A database error with what PostgreSQL said (SQLSTATE, message, detail), not just "db error";
/// any other error with its causes ("authentication error: server did not use channel
/// binding").
pub fn describe(error: &tokio_postgres::Error) -> String {
    let Some(db) = error.as_db_error() else {
        let mut text = error.to_string();
        let mut cause = std::error::Error::source(error);
        while let Some(c) = cause {
            text.push_str(": ");
            text.push_str(&c.to_string());
            cause = c.source();
        }
        return text;
    };
    let mut text = format!("{} (SQLSTATE {})", db.message(), db.code().code());
    if let Some(detail) = db.detail() {
        text.push_str(": ");
        text.push_str(detail);
    }
    text
}

impl TeamError {
    pub(crate) fn db(context: impl Into<String>) -> impl FnOnce(tokio_postgres::Error) -> Self {
        let context = context.into();
        move |source| TeamError::Db { context, source }
    }

    /// Whether the connection is gone (as opposed to the server refusing a statement): closed,
    /// no SQLSTATE (I/O), or the server ending the session (class 08 connection exception,
    /// class 57P operator intervention: an administrator's terminate, a shutdown).
    pub fn is_link_lost(&self) -> bool {
        match self {
            TeamError::Db { source, .. } | TeamError::Connect { source, .. } => {
                source.is_closed()
                    || source.code().is_none_or(|code| {
                        code.code().starts_with("08") || code.code().starts_with("57P")
                    })
            }
            TeamError::ListenClosed => true,
            _ => false,
        }
    }

    /// The SQLSTATE when the server refused something (tests and retry decisions read it).
    pub fn sqlstate(&self) -> Option<&str> {
        match self {
            TeamError::Db { source, .. } | TeamError::Connect { source, .. } => {
                source.code().map(tokio_postgres::error::SqlState::code)
            }
            _ => None,
        }
    }
}
