//! The set-up form shown by `stanch run` before the incident exists: the runbook's inputs
//! (defaults and `--set` values filled in), hidden fields for secrets that are neither in the
//! environment nor in a file, and the responder's name.
//!
//! [`SetupForm`] is plain state with a key handler (tested without a terminal);
//! [`ask`](super::terminal) draws it. Secret fields are [`Input::masked`]: never drawn.

use crossterm::event::{KeyCode, KeyEvent};
use indexmap::IndexMap;

use super::input::Input;
use crate::runbook::Loaded;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FieldKind {
    Input,
    Secret,
    Responder,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Field {
    pub key: String,
    pub label: String,
    pub kind: FieldKind,
    pub input: Input,
    pub required: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetupForm {
    pub title: String,
    pub fields: Vec<Field>,
    pub focus: usize,
    pub error: Option<String>,
}

/// What the responder answered.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Answers {
    pub inputs: IndexMap<String, String>,
    /// Secret name → value; handed to `Secrets::from_values`, never shown or journalled.
    pub secrets: Vec<(String, String)>,
    pub responder: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FormStep {
    Editing,
    Submit,
    Abort,
}

impl SetupForm {
    /// `preset`: `--set` values; `missing_secrets`: secrets the form must ask for.
    pub fn new(
        rb: &Loaded,
        preset: &IndexMap<String, String>,
        missing_secrets: &[String],
        responder: &str,
    ) -> Self {
        let mut fields = Vec::new();
        for (key, input) in &rb.runbook.inputs {
            let value = preset
                .get(key)
                .cloned()
                .or_else(|| input.default.clone())
                .unwrap_or_default();
            fields.push(Field {
                key: key.clone(),
                label: input.prompt.clone(),
                kind: FieldKind::Input,
                input: Input::new(&value),
                required: true,
            });
        }
        for name in missing_secrets {
            fields.push(Field {
                key: name.clone(),
                label: format!("secret {name} (hidden; not in the environment)"),
                kind: FieldKind::Secret,
                input: Input::masked(),
                required: true,
            });
        }
        fields.push(Field {
            key: "responder".into(),
            label: "Your name (journalled as the actor)".into(),
            kind: FieldKind::Responder,
            input: Input::new(responder),
            required: true,
        });
        Self {
            title: rb.runbook.runbook.title.clone(),
            fields,
            focus: 0,
            error: None,
        }
    }

    /// Resuming: only the secrets that are not in the environment, and the responder.
    pub fn secrets_only(title: &str, missing_secrets: &[String], responder: &str) -> Self {
        let mut fields: Vec<Field> = missing_secrets
            .iter()
            .map(|name| Field {
                key: name.clone(),
                label: format!("secret {name} (hidden; not in the environment)"),
                kind: FieldKind::Secret,
                input: Input::masked(),
                required: true,
            })
            .collect();
        fields.push(Field {
            key: "responder".into(),
            label: "Your name (journalled as the actor)".into(),
            kind: FieldKind::Responder,
            input: Input::new(responder),
            required: true,
        });
        Self {
            title: title.to_owned(),
            fields,
            focus: 0,
            error: None,
        }
    }

    /// Nothing to ask: every field already has a value and no secret is missing.
    pub fn is_complete(&self) -> bool {
        self.first_empty().is_none()
    }

    fn first_empty(&self) -> Option<usize> {
        self.fields
            .iter()
            .position(|f| f.required && f.input.value().trim().is_empty())
    }

    pub fn handle(&mut self, key: KeyEvent) -> FormStep {
        let last = self.fields.len().saturating_sub(1);
        match key.code {
            KeyCode::Esc => return FormStep::Abort,
            KeyCode::Up | KeyCode::BackTab => self.focus = self.focus.saturating_sub(1),
            KeyCode::Down | KeyCode::Tab => self.focus = (self.focus + 1).min(last),
            KeyCode::Enter if self.focus < last => self.focus += 1,
            KeyCode::Enter => {
                if let Some(empty) = self.first_empty() {
                    self.error = Some(format!("{} is required", self.fields[empty].key));
                    self.focus = empty;
                } else {
                    return FormStep::Submit;
                }
            }
            _ => {
                if let Some(field) = self.fields.get_mut(self.focus) {
                    field.input.handle(key);
                    self.error = None;
                }
            }
        }
        FormStep::Editing
    }

    pub fn answers(&self) -> Answers {
        let mut answers = Answers::default();
        for field in &self.fields {
            let value = field.input.value().trim().to_owned();
            match field.kind {
                FieldKind::Input => {
                    answers.inputs.insert(field.key.clone(), value);
                }
                // Secrets are kept as typed (leading spaces may be part of them).
                FieldKind::Secret => answers
                    .secrets
                    .push((field.key.clone(), field.input.value().to_owned())),
                FieldKind::Responder => answers.responder = value,
            }
        }
        answers
    }
}
