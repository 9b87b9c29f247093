//! The step engine: runs one runbook step against real services and journals what happened.
//!
//! A step moves through three states, each its own type, so a request cannot be sent before it
//! is prepared and an outcome cannot exist without the exchange that produced it:
//!
//! ```text
//!                 when / confirm / interrupted gates (nothing sent)
//!   Step ──prepare::prepare──▶ Prepared ──send::send──▶ Exchange ──expect::check──▶ Outcome
//!          templates rendered,   (method, url,   status, headers,  expect/capture,
//!          secrets resolved       headers, body)  capped body        retry, foreach
//!
//!   journal:  confirm?  step.started + first http.request   http.response  evidence.captured?
//!                       ─ synced before a write is sent ─     ─ queued after judging ─
//!                       (a read goes at once; see below)
//!                                          mark?  step.succeeded|failed|skipped
//!                                          ─ usually the same sync ─
//! ```
//!
//! Journal-before-report: a request that can change something leaves only once its
//! `step.started` and `http.request` are synced; a read (GET/HEAD/OPTIONS of a step without
//! `confirm`) leaves at once and its sync overlaps with the network, because a crash can only
//! lose the unsynced tail of the journal and that tail then never holds the start of a write
//! (the `recorder` module has the argument). Events are final when queued; [`Engine::run`] returns once the
//! outcome is decided, [`Engine::execute`] once every event of the step is durable, and each
//! event is sent on the `progress` channel only after its sync.
//!
//! This module knows HTTP and the journal; it never draws, prints or prompts. Secret values
//! reach only the request being sent: every text that leaves (journal, progress, outcome,
//! preview) is built from masked data or passed through the [`Redactor`].

mod client;
mod context;
mod evidence;
mod expect;
mod foreach;
mod json_view;
mod mask;
mod paginate;
mod poll;
mod prepare;
mod preview;
mod recorder;
mod request_url;
pub mod schedule;
mod send;
pub mod sigv4;
mod step;
pub mod xml;

use std::sync::Arc;
use std::time::Duration;

use crate::incident::Incident;
use crate::journal::{Event, Journal, JournalError};
use crate::runbook::{self, Step};
use crate::secret::{Redactor, Secrets};
use crate::template::Templates;

pub use evidence::EVIDENCE_DIR;
pub use preview::Preview;
pub use recorder::{Settle, WriteAhead};
pub use send::SendError;
pub use step::Ran;

/// Response bodies larger than this are refused unless a step sets `max_body`.
pub const DEFAULT_MAX_BODY: u64 = 16 << 20;
/// Parallel requests for `foreach` when a step does not say.
pub const DEFAULT_CONCURRENCY: u32 = 8;
/// Per-target timeout when a target does not say.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Knobs the caller may turn; defaults suit real incidents.
#[derive(Debug, Clone)]
pub struct EngineOptions {
    pub max_body: u64,
    pub default_timeout: Duration,
    /// Written into custody records (`tool_version`).
    pub tool_version: String,
}

impl Default for EngineOptions {
    fn default() -> Self {
        Self {
            max_body: DEFAULT_MAX_BODY,
            default_timeout: DEFAULT_TIMEOUT,
            tool_version: format!("stanch {}", env!("CARGO_PKG_VERSION")),
        }
    }
}

/// Why the engine could not be built or could not describe a step.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error("no step `{0}` in the runbook")]
    UnknownStep(String),
    #[error("step `{step}` is a {kind} step: it sends no request")]
    NotHttp { step: String, kind: &'static str },
    #[error("step `{step}` uses target `{target}`, which the runbook does not define")]
    UnknownTarget { step: String, target: String },
    #[error("target `{target}`: {reason}")]
    Client { target: String, reason: String },
    #[error("step `{step}`: {reason}")]
    Prepare { step: String, reason: String },
    #[error(transparent)]
    Journal(#[from] JournalError),
}

/// What the responder decided before the step runs.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Decision {
    /// The text typed in the confirmation dialog (destructive steps).
    pub typed_confirmation: Option<String>,
    /// Headless `--yes`: destructive steps run without typing; journalled as `via: "--yes"`.
    pub assume_yes: bool,
    /// Explicitly re-run a step that was interrupted (outcome unknown).
    pub rerun: bool,
    /// Team mode: take the step over from the teammate who holds it, for this reason
    /// (journalled as `step.taken_over`). Without it a step someone else holds does not run.
    pub take_over: Option<String>,
}

/// Sent on the progress channel while a step runs.
#[derive(Debug, Clone)]
pub enum Progress {
    /// An event, already synced to the journal.
    Journalled(Event),
    /// A poll attempt finished (`status` is `None` on a transport error).
    Attempt { n: u32, status: Option<u16> },
    /// foreach progress.
    Items { done: u64, total: u64, failed: u64 },
}

/// How a step ended. Every text is redacted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    Succeeded {
        summary: String,
    },
    Failed {
        error: String,
    },
    Skipped {
        reason: String,
    },
    /// A manual or draft step: a person has to do it.
    NeedsHuman {
        reason: String,
    },
    /// A destructive step without the exact confirmation text (nothing was sent or journalled).
    /// `expected` is shown and typed with control characters escaped (`crate::text::escape`).
    NeedsConfirmation {
        expected: String,
    },
    Cancelled,
    /// Started before a crash, outcome unknown: not re-sent without `Decision::rerun`.
    Interrupted,
    /// Team mode: a teammate holds the step; it runs here only after an explicit take-over
    /// (`Decision::take_over`). Nothing was sent or journalled.
    Held {
        by: String,
    },
}

impl Outcome {
    pub fn is_success(&self) -> bool {
        matches!(self, Outcome::Succeeded { .. } | Outcome::Skipped { .. })
    }
}

/// Runs steps. Cheap to clone: everything is shared.
#[derive(Clone)]
pub struct Engine {
    inner: Arc<Inner>,
}

struct Inner {
    rb: Arc<runbook::Loaded>,
    journal: Journal,
    secrets: Secrets,
    mask: mask::Mask,
    templates: Templates,
    clients: client::Clients,
    opts: EngineOptions,
}

impl Engine {
    /// Build one HTTP client per target (timeouts, CA files, client certificates). Installs the
    /// secrets' redactor on the journal, so nothing appended from now on can carry a value.
    pub fn new(
        rb: Arc<runbook::Loaded>,
        journal: Journal,
        secrets: Secrets,
        opts: EngineOptions,
    ) -> Result<Self, EngineError> {
        let clients = client::Clients::build(&rb, opts.default_timeout)?;
        let mask = mask::Mask::new(&secrets, journal.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                rb,
                journal,
                secrets,
                mask,
                templates: Templates::new(),
                clients,
                opts,
            }),
        })
    }

    pub fn runbook(&self) -> &Arc<runbook::Loaded> {
        &self.inner.rb
    }

    pub fn journal(&self) -> &Journal {
        &self.inner.journal
    }

    /// Scrubs every loaded secret, every value derived from one, and their encodings from a
    /// text: use it on anything shown. It grows as steps run; take a fresh one per text.
    pub fn redactor(&self) -> Redactor {
        self.inner.mask.redactor()
    }

    pub fn secrets(&self) -> &Secrets {
        &self.inner.secrets
    }

    /// Targets with `insecure = true`, with the warning text to show (journalled once per
    /// incident by [`Engine::journal_warnings`]).
    pub fn warnings(&self) -> Vec<String> {
        self.inner.clients.warnings().to_vec()
    }

    /// Journal a `warning` for each insecure target not yet warned about in this incident.
    pub async fn journal_warnings(&self, incident: &Incident) -> Result<Vec<Event>, EngineError> {
        let mut out = Vec::new();
        for text in self.inner.clients.warnings() {
            if !incident.warnings.iter().any(|w| w == text) {
                out.push(
                    self.inner
                        .journal
                        .append(crate::journal::NewEvent::incident(
                            crate::journal::payload::Warning { text: text.clone() },
                        ))
                        .await?,
                );
            }
        }
        Ok(out)
    }

    fn step(&self, step_id: &str) -> Result<&Step, EngineError> {
        self.inner
            .rb
            .runbook
            .step(step_id)
            .ok_or_else(|| EngineError::UnknownStep(step_id.to_owned()))
    }

    /// The request a step will send, secrets masked, and its rendered confirmation text.
    pub fn preview(&self, step_id: &str, incident: &Incident) -> Result<Preview, EngineError> {
        let step = self.step(step_id)?;
        let ctx = self.context(incident);
        preview::preview(self.parts(), step, &ctx)
    }

    fn context(&self, incident: &Incident) -> context::Context {
        context::Context::new(
            &self.inner.rb,
            incident,
            &self.inner.secrets,
            self.inner.journal.dir(),
        )
    }

    fn parts(&self) -> prepare::Parts<'_> {
        prepare::Parts {
            rb: &self.inner.rb,
            templates: &self.inner.templates,
            secrets: &self.inner.secrets,
            mask: &self.inner.mask,
        }
    }
}
