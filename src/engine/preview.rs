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
    let (items, first) = match &step.foreach {
        Some(expr) => {
            let list = super::foreach::items(parts, expr.get_ref(), ctx).map_err(err)?;
            (Some(list.len()), list.into_iter().next())
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
