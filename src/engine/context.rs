//! The template context every render and evaluation sees:
//! `{inputs, secrets, vars, incident, marks, drafts, item?, response?}`.
//!
//! `drafts` maps a draft step's id to its saved text, but only when the file on disk is the
//! version the journal recorded (`draft.saved` SHA-256): a request never sends an unsaved or
//! tampered draft.
//!
//! Built once per step run as a MiniJinja value (reference-counted, so adding `item` for each of
//! ten thousand foreach items copies nothing big). `vars` stays the journal's JSON text: a
//! template reading a capture reads into that text as far as it goes ([`super::json_view`]),
//! so a 16 MB capture costs no tree, whether a step reads it or not. Secrets go in raw because the request needs
//! them; whatever is rendered from this context is redacted before anyone sees it.

use minijinja::value::{Enumerator, Object};
use minijinja::{Value, context};
use serde_json::Map;

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use crate::incident::{Capture, Captures, Incident};
use crate::journal::event::sha256_hex;
use crate::runbook::{Action, Loaded};
use crate::secret::Secrets;

pub struct Context {
    base: Value,
}

impl Context {
    pub fn new(rb: &Loaded, incident: &Incident, secrets: &Secrets, incident_dir: &Path) -> Self {
        // Runbook defaults first, then what the incident recorded (`--set`, prompts).
        let mut inputs = Map::new();
        for (name, input) in &rb.runbook.inputs {
            if let Some(default) = &input.default {
                inputs.insert(name.clone(), default.clone().into());
            }
        }
        for (name, value) in &incident.inputs {
            inputs.insert(name.clone(), value.clone());
        }
        let secret_values: Map<String, serde_json::Value> = secrets
            .names()
            .filter_map(|n| Some((n.to_owned(), secrets.expose(n)?.to_owned().into())))
            .collect();
        let marks: Map<String, serde_json::Value> = incident
            .marks
            .iter()
            .map(|(name, mark)| (name.clone(), mark.at.to_string().into()))
            .collect();
        let base = context! {
            inputs => Value::from(minijinja::value::Serde(&inputs)),
            secrets => Value::from(minijinja::value::Serde(&secret_values)),
            vars => Value::from_object(Vars::new(&incident.vars)),
            incident => context! {
                id => incident.id.clone(),
                opened_at => incident.opened_at.map(|t| t.to_string()),
                responder => incident.responder.clone(),
                drill => incident.drill,
            },
            marks => Value::from(minijinja::value::Serde(&marks)),
            drafts => Value::from(minijinja::value::Serde(&saved_drafts(rb, incident, incident_dir))),
        };
        Self { base }
    }

    /// The context without `item` or `response` (when, confirm, foreach, preview).
    pub fn base(&self) -> Value {
        self.base.clone()
    }

    /// The context with `item` (inside foreach) and/or `response` added.
    pub fn with(&self, item: Option<&Value>, response: Option<&Value>) -> Value {
        match (item, response) {
            (None, None) => self.base.clone(),
            (Some(item), None) => context! { item => item.clone(), ..self.base.clone() },
            (None, Some(response)) => {
                context! { response => response.clone(), ..self.base.clone() }
            }
            (Some(item), Some(response)) => context! {
                item => item.clone(),
                response => response.clone(),
                ..self.base.clone()
            },
        }
    }
}

/// Draft texts whose file matches the last journalled `draft.saved`.
fn saved_drafts(
    rb: &Loaded,
    incident: &Incident,
    incident_dir: &Path,
) -> Map<String, serde_json::Value> {
    let mut out = Map::new();
    for step in &rb.runbook.steps {
        if !matches!(step.action(), Some(Action::Draft(_))) {
            continue;
        }
        let Some(saved) = incident
            .drafts
            .iter()
            .rev()
            .find(|d| d.step.as_deref() == Some(step.id()))
        else {
            continue;
        };
        let Ok(path) = crate::draft::path(incident_dir, step) else {
            continue;
        };
        // Never through a link: a planted link must not put an outside file into a request.
        if let Ok(text) = crate::private::read(&path).map(String::from_utf8)
            && let Ok(text) = text
            && sha256_hex(text.as_bytes()) == saved.sha256
        {
            out.insert(step.id().to_owned(), text.into());
        }
    }
    out
}
/// `vars`: the incident's captures, each parsed on first read.
#[derive(Debug)]
struct Vars(BTreeMap<String, (Capture, OnceLock<Value>)>);

impl Vars {
    fn new(captures: &Captures) -> Self {
        Self(
            captures
                .iter()
                .map(|(name, value)| (name.clone(), (value.clone(), OnceLock::new())))
                .collect(),
        )
    }
}

impl Object for Vars {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        let (capture, parsed) = self.0.get(key.as_str()?)?;
        Some(
            parsed
                .get_or_init(|| {
                    super::json_view::parse(&super::json_view::Source::Capture(capture.clone()))
                        .unwrap_or(Value::from(()))
                })
                .clone(),
        )
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Values(self.0.keys().map(|k| Value::from(k.as_str())).collect())
    }
}
