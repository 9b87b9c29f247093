//! What can be wrong with a scenario beyond its TOML shape, and how it is shown: through the
//! runbooks' renderer ([`crate::runbook::diagnostics::render`]), a message headed by
//! `file:line:col` with the offending value underlined.
//!
//! Validation needs the runbook the scenario names (its inputs and secrets), so it loads it;
//! it never starts the lab.

use std::ops::Range;
use std::path::Path;

use super::{LAB_VARIABLES, Scenario, is_mark, parse_offset, parse_when};
use crate::journal::payload::TEAM_ROLES;
use crate::runbook::{Diagnostic, parse_duration};

/// One problem, at a byte range of the scenario source.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub message: String,
    pub span: Range<usize>,
    pub help: Option<String>,
}

impl Problem {
    pub fn new(message: impl Into<String>, span: Range<usize>, help: Option<String>) -> Self {
        Self {
            message: message.into(),
            span,
            help,
        }
    }
}

impl Problem {
    fn to_diagnostic(&self) -> Diagnostic {
        let diagnostic = Diagnostic::new(self.message.clone(), self.span.clone(), "here");
        match &self.help {
            Some(help) => diagnostic.with_help(help.clone()),
            None => diagnostic,
        }
    }
}

fn marks_help() -> String {
    format!("marks are: {}", crate::runbook::MARKS.join(", "))
}

pub fn validate(path: &Path, s: &Scenario) -> Vec<Problem> {
    let mut out = Vec::new();
    let templates = crate::template::Templates::new();
    for (kind, map) in [("inputs", &s.inputs), ("secrets", &s.secrets)] {
        for (name, value) in map {
            match templates.template_variables(value.get_ref()) {
                Err(e) => out.push(Problem::new(
                    format!("{kind}.{name}: bad template: {}", e.message),
                    value.span(),
                    None,
                )),
                Ok(vars) => {
                    for var in vars {
                        let known = var
                            .strip_prefix("lab.")
                            .is_some_and(|v| LAB_VARIABLES.contains(&v));
                        if !known {
                            out.push(Problem::new(
                                format!("{kind}.{name}: unknown variable `{var}`"),
                                value.span(),
                                Some(format!(
                                    "a scenario can use lab.{}",
                                    LAB_VARIABLES.join(", lab.")
                                )),
                            ));
                        }
                    }
                }
            }
        }
    }
    out.extend(validate_lab(&s.lab));
    for fact in &s.facts {
        if let Err(e) = parse_when(fact.occurred_at.get_ref()) {
            out.push(Problem::new(
                format!("occurred_at: {e}"),
                fact.occurred_at.span(),
                Some("write an offset from drill start (\"+0m\", \"-22d17h21m\") or an RFC 3339 time".into()),
            ));
        }
        if let Some(mark) = &fact.mark
            && !is_mark(mark.get_ref())
        {
            out.push(Problem::new(
                format!("unknown mark `{}`", mark.get_ref()),
                mark.span(),
                Some(marks_help()),
            ));
        }
    }
    for r in &s.reference {
        if !is_mark(r.mark.get_ref()) {
            out.push(Problem::new(
                format!("unknown mark `{}`", r.mark.get_ref()),
                r.mark.span(),
                Some(marks_help()),
            ));
        }
        if let Err(e) = parse_duration(r.after.get_ref()) {
            out.push(Problem::new(format!("after: {e}"), r.after.span(), None));
        }
    }
    for inject in &s.injects {
        match parse_offset(inject.at.get_ref()) {
            Err(e) => out.push(Problem::new(format!("at: {e}"), inject.at.span(), None)),
            Ok(d) if d.is_negative() => out.push(Problem::new(
                "an inject cannot arrive before the drill starts",
                inject.at.span(),
                Some("write a time after start, e.g. \"+14m\"".into()),
            )),
            Ok(_) => {}
        }
        if let Some(role) = &inject.role
            && !TEAM_ROLES.contains(&role.get_ref().as_str())
        {
            out.push(Problem::new(
                format!("unknown role `{}`", role.get_ref()),
                role.span(),
                Some(format!("one of: {}", TEAM_ROLES.join(", "))),
            ));
        }
    }
    if let Some(runbook) = &s.scenario.runbook {
        let base = path.parent().unwrap_or_else(|| Path::new("."));
        let file = base.join(runbook.get_ref());
        match crate::runbook::load(&file) {
            Err(e) => out.push(Problem::new(
                format!("runbook {} cannot be loaded", file.display()),
                runbook.span(),
                Some(first_line(&e.to_string())),
            )),
            Ok(rb) => check_mapping(s, &rb.runbook, runbook.span(), &mut out),
        }
    }
    out.sort_by_key(|p| p.span.start);
    out
}

fn first_line(text: &str) -> String {
    text.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or(text)
        .trim()
        .to_owned()
}

/// Inputs and secrets must exist in the runbook; inputs without a default must be mapped.
fn check_mapping(
    s: &Scenario,
    rb: &crate::runbook::Runbook,
    runbook_span: Range<usize>,
    out: &mut Vec<Problem>,
) {
    for (name, value) in &s.inputs {
        if !rb.inputs.contains_key(name) {
            out.push(Problem::new(
                format!("the runbook has no input `{name}`"),
                value.span(),
                Some(format!(
                    "its inputs are: {}",
                    rb.inputs.keys().cloned().collect::<Vec<_>>().join(", ")
                )),
            ));
        }
    }
    for (name, value) in &s.secrets {
        if !rb.secrets.contains_key(name) {
            out.push(Problem::new(
                format!("the runbook has no secret `{name}`"),
                value.span(),
                Some(format!(
                    "its secrets are: {}",
                    rb.secrets.keys().cloned().collect::<Vec<_>>().join(", ")
                )),
            ));
        }
    }
    for (name, input) in &rb.inputs {
        if input.default.is_none() && !s.inputs.contains_key(name) {
            out.push(Problem::new(
                format!("runbook input `{name}` has no default and the scenario does not map it"),
                runbook_span.clone(),
                Some(format!("add `{name} = \"{{{{ lab.… }}}}\"` under [inputs]")),
            ));
        }
    }
    for name in rb.secrets.keys() {
        if !s.secrets.contains_key(name) {
            out.push(Problem::new(
                format!("runbook secret `{name}` is not mapped to a lab credential"),
                runbook_span.clone(),
                Some(format!(
                    "add `{name} = \"{{{{ lab.… }}}}\"` under [secrets]"
                )),
            ));
        }
    }
}

/// Render problems with the one renderer runbooks use (miette's, colourless): a scenario and
/// a runbook checked together by `stanch check` read the same.
pub fn render(name: &str, source: &str, problems: &[Problem]) -> String {
    let diagnostics: Vec<Diagnostic> = problems.iter().map(Problem::to_diagnostic).collect();
    crate::runbook::diagnostics::render(name, source, &diagnostics)
}

/// The `[lab]` table: a version and security mode the lab models, a duration.
fn validate_lab(lab: &super::LabSpec) -> Vec<Problem> {
    let mut out = Vec::new();
    if let Some(v) = &lab.es_version
        && let Err(e) = v.get_ref().parse::<crate::lab::EsVersion>()
    {
        out.push(Problem::new(format!("es_version: {e}"), v.span(), None));
    }
    if let Some(v) = &lab.security
        && let Err(e) = v.get_ref().parse::<crate::lab::Security>()
    {
        out.push(Problem::new(format!("security: {e}"), v.span(), None));
    }
    if let Some(v) = &lab.reopen_after_close
        && let Err(e) = parse_duration(v.get_ref())
    {
        out.push(Problem::new(
            format!("reopen_after_close: {e}"),
            v.span(),
            None,
        ));
    }
    out
}
