//! One exchange (request → journal → response → expectations) and the retry/poll loop around
//! it for ordinary http steps.
//!
//! `retry = { every, within }` repeats the exchange until `expect` holds or `within` has passed;
//! every attempt is journalled with its number. A transport error (no complete response) is
//! retried only for idempotent methods: a POST that timed out may already have closed the index
//! or revoked the token, so a person decides. Nothing here decides the step's journal outcome;
//! it returns a [`StepResult`] the engine records.

use std::fmt::Write as _;
use std::time::{Duration, Instant};

use minijinja::Value;
use tokio_util::sync::CancellationToken;

use super::client::Clients;
use super::context::Context;
use super::evidence::{self, Custody};
use super::expect::{self, Failed, Response, short};
use super::prepare::{self, Parts, Prepared};
use super::recorder::{Recorder, WriteAhead};
use super::send::{self, SendError};
use super::{EngineOptions, Progress};
use crate::incident::{Capture, Captures, short_hash};
use crate::journal::Payload;
use crate::journal::event::sha256_hex;
use crate::journal::payload::HttpResponse;
use crate::runbook::{Http, Step, parse_duration, parse_size};

/// Everything a step run needs.
pub struct Run<'a> {
    pub parts: Parts<'a>,
    pub ctx: &'a Context,
    pub step: &'a Step,
    pub http: &'a Http,
    pub rec: &'a Recorder,
    pub cancel: &'a CancellationToken,
    pub clients: &'a Clients,
    pub opts: &'a EngineOptions,
}

/// How the requests of a step went; the engine turns this into the outcome event.
pub enum StepResult {
    Passed {
        summary: String,
        captures: Captures,
        items: Option<(u64, u64)>,
    },
    Failed {
        error: String,
        expectations: Vec<Failed>,
        items: Option<(u64, u64)>,
    },
    Cancelled,
}

impl StepResult {
    pub fn failed(error: impl Into<String>) -> Self {
        StepResult::Failed {
            error: error.into(),
            expectations: Vec::new(),
            items: None,
        }
    }
}

/// How one exchange went.
pub enum Attempt {
    Pass {
        status: u16,
        summary: String,
        captures: Captures,
        /// The token for the next page (`paginate`), if there is one.
        next: Option<String>,
    },
    /// A response arrived but an expectation did not hold.
    Expect {
        status: u16,
        error: String,
        failures: Vec<Failed>,
    },
    /// No complete response.
    Transport(SendError),
    /// Not worth retrying: a template, JSON or evidence problem.
    Fatal(String),
    Cancelled,
}

impl Attempt {
    fn status(&self) -> Option<u16> {
        match self {
            Attempt::Pass { status, .. } | Attempt::Expect { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl Run<'_> {
    /// The body cap for this step.
    pub fn cap(&self) -> Result<u64, String> {
        self.http
            .max_body
            .as_ref()
            .map_or(Ok(self.opts.max_body), |s| {
                parse_size(s.get_ref()).map_err(|e| format!("max_body: {e}"))
            })
    }

    /// Send one prepared request, journal the exchange, check expectations.
    pub async fn exchange(
        &self,
        prepared: &Prepared,
        item: Option<(usize, &Value)>,
        attempt: Option<u32>,
        cap: u64,
    ) -> Attempt {
        // Derived secrets must be known before the request event can carry them.
        self.parts.mask.learn(self.parts.secrets, &prepared.derived);
        let redactor = &self.parts.mask.redactor();
        let Some(target) = self.clients.get(&prepared.target) else {
            return Attempt::Fatal(format!("target `{}` is not defined", prepared.target));
        };
        let client = match target.for_url(&prepared.url) {
            Ok(client) => client,
            Err(e) => return Attempt::Fatal(format!("target `{}`: {e}", prepared.target)),
        };
        let index = item.map(|(i, _)| i);
        let write_ahead = WriteAhead::for_request(&prepared.method, self.step.confirm.is_some());
        let log = match self
            .rec
            .request(prepared.request_data(redactor, index, attempt), write_ahead)
            .await
        {
            Ok(log) => log,
            Err(e) => {
                return Attempt::Fatal(format!(
                    "the journal could not record the step's start ({e}), so nothing was sent; \
                     check the disk and `stanch verify`"
                ));
            }
        };
        let mut response = HttpResponse {
            item: index.map(|i| i as u64),
            attempt,
            ..HttpResponse::default()
        };
        let started = Instant::now();
        let sent = tokio::select! {
            biased;
            () = self.cancel.cancelled() => None,
            sent = send::send(client, target.timeout, prepared, cap) => Some(sent),
        };
        let exchange = match sent {
            None => {
                response.error = Some("cancelled before the response arrived".into());
                response.elapsed_ms = millis(started.elapsed());
                self.rec.response(log, vec![response.into()]);
                return Attempt::Cancelled;
            }
            Some(Err(err)) => {
                response.error = Some(err.to_string());
                response.elapsed_ms = millis(started.elapsed());
                self.rec.response(log, vec![response.into()]);
                return Attempt::Transport(err);
            }
            Some(Ok(exchange)) => exchange,
        };
        // Moved out, never copied: shared by the evidence writer and `response`, freed once
        // both are done.
        let mut exchange = exchange;
        let body = expect::Body::new(std::mem::take(&mut exchange.body));
        // A server that echoes the Authorization header must not leak the signature.
        if let Some(signature) = &exchange.signature {
            self.parts
                .mask
                .learn(self.parts.secrets, std::slice::from_ref(signature));
        }
        // Redact with what was just learned.
        let redactor = &self.parts.mask.redactor();
        let remote = exchange.remote_addr.map(|a| a.to_string());
        response.status = Some(exchange.status);
        response.elapsed_ms = millis(exchange.elapsed);
        response.bytes = Some(body.bytes().len() as u64);
        response.body_sha256 = Some(sha256_hex(body.bytes()));
        response.remote_addr.clone_from(&remote);
        let mut events = vec![Payload::from(response)];
        let mut evidence_note = String::new();
        if self.step.evidence {
            let url = prepared.masked_url(redactor);
            let custody = Custody {
                method: prepared.method.as_str(),
                url: &url,
                by: self.rec.actor(),
                tool_version: &self.opts.tool_version,
                remote_addr: remote,
            };
            match evidence::store(self.rec.dir(), body.clone(), &custody, redactor).await {
                Ok(record) => {
                    evidence_note = format!(" · evidence {}", short_hash(&record.sha256));
                    events.push(record.into());
                }
                Err(e) => {
                    self.rec.response(log, events);
                    return Attempt::Fatal(format!(
                        "could not store the response as evidence: {e}; check free space and \
                         permissions of the incident directory"
                    ));
                }
            }
        }
        // Judge first, then queue the response with its evidence record: the outcome the engine
        // queues next then usually joins the same group commit.
        let verdict = self.judge(&exchange, body, item, &evidence_note);
        self.rec.response(log, events);
        verdict
    }

    /// Expectations and captures against one response; the body is freed once the verdict
    /// is made.
    fn judge(
        &self,
        exchange: &send::Exchange,
        body: expect::Body,
        item: Option<(usize, &Value)>,
        evidence_note: &str,
    ) -> Attempt {
        let redactor = &self.parts.mask.redactor();
        let response = Response::new(exchange, body);
        let ctx = self.ctx.with(item.map(|(_, v)| v), Some(&response.value));
        let exprs: Vec<String> = self
            .step
            .expect
            .iter()
            .map(|e| e.get_ref().clone())
            .collect();
        let allow_redirect = self
            .http
            .allow_redirect_status
            .as_ref()
            .is_some_and(|a| *a.get_ref());
        let failures = match expect::check(self.parts, &exprs, allow_redirect, &ctx, &response) {
            Ok(f) => f,
            Err(msg) => return Attempt::Fatal(msg),
        };
        if !failures.is_empty() {
            let error = describe_failure(&failures, exchange, &response, redactor);
            return Attempt::Expect {
                status: exchange.status,
                error,
                failures,
            };
        }
        let list = self.step.capture.iter().map(|(k, v)| (k, v.get_ref()));
        let captures = match expect::capture(self.parts, list, &ctx, &response) {
            Ok(c) => c,
            Err(msg) => return Attempt::Fatal(msg),
        };
        let next = match &self.step.paginate {
            Some(p) => {
                match super::paginate::next_token(self.parts, p.get_ref(), &ctx, &response) {
                    Ok(next) => next,
                    Err(msg) => return Attempt::Fatal(msg),
                }
            }
            None => None,
        };
        // The body goes before the captures are copied into their shared text: a capture of
        // most of a 16 MB body is then never held beside both.
        drop((ctx, response));
        let captures: Captures = captures
            .into_iter()
            .map(|(name, text)| (name, Capture::from(text)))
            .collect();
        let mut summary = format!("{} · {} ms", exchange.status, millis(exchange.elapsed));
        summary.push_str(evidence_note);
        for (name, value) in &captures {
            let _ = write!(summary, " · {name} = {}", glance(value, redactor));
        }
        Attempt::Pass {
            status: exchange.status,
            summary: redactor.redact(&summary),
            captures,
            next,
        }
    }
}

/// What went wrong with a response, with a hint by status class and the start of the body.
fn describe_failure(
    failures: &[Failed],
    exchange: &send::Exchange,
    response: &Response,
    redactor: &crate::secret::Redactor,
) -> String {
    let list: Vec<String> = failures
        .iter()
        .map(|f| format!("`{}` ({})", f.expr, f.actual))
        .collect();
    let hint = match exchange.status {
        500..=599 => {
            "; the service itself is failing (server error): retry later, or check its health and logs"
        }
        401 | 403 => {
            "; the service refused the request: check the target's credentials and the secret's value"
        }
        404 => "; not found: check the path and the inputs it uses",
        300..=399 => {
            "; the service answered with a redirect, which stanch does not follow, so the \
             request was not carried out there: point the target at the final URL, or set \
             `allow_redirect_status = true` if a redirect is the expected answer"
        }
        _ => "",
    };
    let location = exchange
        .headers
        .iter()
        .find(|(name, _)| name.eq_ignore_ascii_case("location"))
        .filter(|_| (300..400).contains(&exchange.status))
        .map(|(_, to)| format!(" (Location: {})", short(&redactor.redact(to))))
        .unwrap_or_default();
    // Masked before it is cut: a cut through a secret would leave a prefix no form matches.
    let body = redactor.redact(&response.text());
    let body = body.trim();
    let aws = super::sigv4::explain_refusal(body)
        .map(|why| format!("; {why}"))
        .unwrap_or_default();
    let body = if body.is_empty() {
        String::new()
    } else {
        format!("; body: {}", short(body))
    };
    redactor.redact(&format!(
        "server answered {}{location}; expectation failed: {}{hint}{aws}{body}",
        exchange.status,
        list.join(", ")
    ))
}

/// A capture as the one-line summary shows it: scalars in full (cut), lists and objects by size
/// (a list of 3000 leaked tokens belongs in the journal, not on the screen).
fn glance(value: &Capture, redactor: &crate::secret::Redactor) -> String {
    if let Some(items) = value.list_len() {
        format!("[{items} items]")
    } else if let Some(fields) = value.object_len() {
        format!("{{{fields} fields}}")
    } else {
        // Masked before it is cut (see `describe_failure`).
        short(&redactor.redact(value.json()))
    }
}

pub fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn is_idempotent(method: &reqwest::Method) -> bool {
    use reqwest::Method;
    [
        Method::GET,
        Method::HEAD,
        Method::PUT,
        Method::DELETE,
        Method::OPTIONS,
        Method::TRACE,
    ]
    .contains(method)
}

/// `retry = { every, within }` of a step, parsed.
#[derive(Debug, Clone, Copy)]
pub struct Retry {
    every: Duration,
    within: Duration,
}

impl Run<'_> {
    /// The step's retry policy, if it has one.
    pub fn retry(&self) -> Result<Option<Retry>, String> {
        let Some(r) = &self.step.retry else {
            return Ok(None);
        };
        let r = r.get_ref();
        match (
            parse_duration(r.every.get_ref()),
            parse_duration(r.within.get_ref()),
        ) {
            (Ok(every), Ok(within)) => Ok(Some(Retry { every, within })),
            (Err(e), _) | (_, Err(e)) => Err(format!("retry: {e}")),
        }
    }
}

/// How one request ended after its attempts (one, or several under `retry`).
pub enum Settled {
    Passed {
        summary: String,
        captures: Captures,
        next: Option<String>,
    },
    Failed {
        error: String,
        expectations: Vec<Failed>,
    },
    Cancelled,
}

/// Send one prepared request until it passes, fails for good, or is cancelled. Under `retry`
/// an unmet expectation is tried again every `every` until `within` has passed, and so is a
/// transport error, but only for an idempotent method: a POST that timed out may already
/// have taken effect. Every attempt is journalled with its number; `item` is the foreach
/// index, if any (then attempts are not reported one by one: the item counts are).
pub async fn attempts(
    run: &Run<'_>,
    prepared: &Prepared,
    item: Option<(usize, &Value)>,
    retry: Option<Retry>,
    cap: u64,
) -> Settled {
    let started = Instant::now();
    let mut n = 1;
    loop {
        let attempt = run.exchange(prepared, item, retry.map(|_| n), cap).await;
        if item.is_none() {
            run.rec.progress(Progress::Attempt {
                n,
                status: attempt.status(),
            });
        }
        let time_left = retry.is_some_and(|r| started.elapsed() + r.every <= r.within);
        let error = match attempt {
            Attempt::Pass {
                summary,
                captures,
                next,
                ..
            } => {
                let summary = if n > 1 {
                    format!("{summary} · after {n} attempts")
                } else {
                    summary
                };
                return Settled::Passed {
                    summary,
                    captures,
                    next,
                };
            }
            Attempt::Cancelled => return Settled::Cancelled,
            Attempt::Fatal(error) => {
                return Settled::Failed {
                    error,
                    expectations: Vec::new(),
                };
            }
            Attempt::Transport(err) if time_left && is_idempotent(&prepared.method) => {
                err.to_string()
            }
            Attempt::Transport(err) => {
                let mut error = err.to_string();
                if retry.is_some() && !is_idempotent(&prepared.method) {
                    let _ = write!(
                        error,
                        "; not retried automatically: a {} may already have taken effect, so check \
                         before re-running",
                        prepared.method
                    );
                }
                return Settled::Failed {
                    error,
                    expectations: Vec::new(),
                };
            }
            Attempt::Expect {
                error, failures, ..
            } if !time_left => {
                let error = if retry.is_some() {
                    format!(
                        "still failing after {n} attempts over {}s: {error}",
                        started.elapsed().as_secs()
                    )
                } else {
                    error
                };
                return Settled::Failed {
                    error,
                    expectations: failures,
                };
            }
            Attempt::Expect { error, .. } => error,
        };
        tracing::debug!(
            step = run.step.id(),
            item = item.map(|(i, _)| i),
            attempt = n,
            "retrying: {}",
            run.parts.mask.redactor().redact(&error)
        );
        let every = retry.map_or(Duration::ZERO, |r| r.every);
        tokio::select! {
            biased;
            () = run.cancel.cancelled() => return Settled::Cancelled,
            () = tokio::time::sleep(every) => {}
        }
        n += 1;
    }
}

/// An ordinary (not foreach) http step: prepare once, then one exchange or a poll loop (or,
/// with `paginate`, one of those per page).
pub async fn run(run: &Run<'_>) -> StepResult {
    if let Some(paginate) = &run.step.paginate {
        return super::paginate::run(run, paginate.get_ref()).await;
    }
    let prepared = match prepare::prepare(run.parts, run.step, run.http, &run.ctx.base(), None) {
        Ok(p) => p,
        Err(e) => return StepResult::failed(e),
    };
    let (cap, retry) = match (run.cap(), run.retry()) {
        (Ok(cap), Ok(retry)) => (cap, retry),
        (Err(e), _) | (_, Err(e)) => return StepResult::failed(e),
    };
    match attempts(run, &prepared, None, retry, cap).await {
        Settled::Passed {
            summary, captures, ..
        } => StepResult::Passed {
            summary,
            captures,
            items: None,
        },
        Settled::Failed {
            error,
            expectations,
        } => StepResult::Failed {
            error,
            expectations,
            items: None,
        },
        Settled::Cancelled => StepResult::Cancelled,
    }
}
