//! [`Preview`]: the request a step will send, as the TUI's detail pane and confirmation dialog
//! show it, with every secret masked. Sends nothing and journals nothing.

use super::EngineError;
use super::context::Context;
use super::prepare::{Parts, Prepared, prepare, render_confirm};
use crate::runbook::{Action, Step};
use crate::secret::Redactor;

/// The request a step will send, as the TUI shows it: every secret masked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Preview {
    pub target: String,
    pub method: String,
    pub url: String,
    pub headers: Vec<(String, String)>,
    pub body: Option<String>,
    /// The text a responder must type (destructive steps), control and invisible characters
    /// escaped (`crate::text::escape`): typing it as shown confirms.
    pub confirm: Option<String>,
    /// foreach: how many requests (the preview shows the first).
    pub items: Option<usize>,
    /// e.g. the target skips TLS verification.
    pub warnings: Vec<String>,
    /// Why the step would be skipped if run now (its `when` is false); `None` if it would run
    /// (or its `when` cannot be evaluated yet: running it reports that).
    pub skip: Option<String>,
}

impl Prepared {
    pub(super) fn preview(&self, redactor: &Redactor) -> Preview {
        Preview {
            target: self.target.clone(),
            method: self.method.to_string(),
            url: self.masked_url(redactor),
            headers: self.masked_headers(redactor),
            body: self
                .body
                .as_ref()
                .map(|b| redactor.redact(&String::from_utf8_lossy(&b.bytes))),
            confirm: None,
            items: None,
            warnings: Vec::new(),
            skip: None,
        }
    }
}

/// The preview of a step's request; for foreach, the first item's request.
pub fn preview(parts: Parts<'_>, step: &Step, ctx: &Context) -> Result<Preview, EngineError> {
    let id = step.id().to_owned();
    let err = |reason: String| EngineError::Prepare {
        step: id.clone(),
        reason,
    };
    let http = match step.action() {
        Some(Action::Http(http)) => http,
        Some(Action::Manual(_)) => {
            return Err(EngineError::NotHttp {
                step: id,
                kind: "manual",
            });
        }
        Some(Action::Draft(_)) => {
            return Err(EngineError::NotHttp {
                step: id,
                kind: "draft",
            });
        }
        None => {
            return Err(EngineError::NotHttp {
                step: id,
                kind: "empty",
            });
        }
    };
    if !parts.rb.runbook.targets.contains_key(http.target.get_ref()) {
        return Err(EngineError::UnknownTarget {
            step: id,
            target: http.target.get_ref().clone(),
        });
    }
    // The same gate the step runs through (`step.rs`): a step whose `when` is false is
    // previewed as skipped, whatever its request would be.
    let skip = step.when.as_ref().and_then(|when| {
        match super::expect::when(parts.templates, when.get_ref(), &ctx.base()) {
            Ok(false) => Some(super::expect::skip_reason(when.get_ref())),
            Ok(true) | Err(_) => None,
        }
    });
    if let Some(reason) = skip {
        return Ok(Preview {
            target: http.target.get_ref().clone(),
            method: http.method.get_ref().clone(),
            url: String::new(),
            headers: Vec::new(),
            body: None,
            confirm: None,
            items: None,
            warnings: Vec::new(),
            skip: Some(reason),
        });
    }
    let (items, first) = match &step.foreach {
        Some(expr) => {
            let list = super::foreach::items(parts, expr.get_ref(), ctx).map_err(err)?;
            (Some(list.len()), list.next().map(|(_, first)| first))
        }
        None => (None, None),
    };
    let full = ctx.with(first.as_ref(), None);
    let prepared = prepare(parts, step, http, &full, None).map_err(err)?;
    parts.mask.learn(parts.secrets, &prepared.derived);
    let mut preview = prepared.preview(&parts.mask.redactor());
    preview.items = items;
    if let Some(confirm) = &step.confirm {
        let text = render_confirm(parts, confirm.get_ref(), ctx).map_err(err)?;
        preview.confirm = Some(crate::text::escape(&text).into_owned());
    }
    if parts
        .rb
        .runbook
        .targets
        .get(http.target.get_ref())
        .is_some_and(|t| t.insecure)
    {
        preview
            .warnings
            .push("TLS certificate checks are OFF for this target (insecure = true)".into());
    }
    Ok(preview)
}
