//! Whether one variable a template reads exists where it is read: the namespace is allowed at
//! that place, and the name under it is declared (an input, a secret, a known mark or incident
//! field), captured by a step that is sure to have run first (`vars`), or a draft step that
//! is needed (`drafts`). Each problem comes back with the words and the help to show.
//!
//! This module must not parse templates (that is `templates`); it gets dotted paths.

use std::collections::HashMap;
use std::ops::Range;

use super::graph::Graph;
use super::templates::Site;
use super::{Seg, Validator, closest};
use crate::runbook::{MARKS, Step};

pub(super) const INPUTS: u8 = 1;
pub(super) const SECRETS: u8 = 1 << 1;
pub(super) const VARS: u8 = 1 << 2;
pub(super) const INCIDENT: u8 = 1 << 3;
pub(super) const MARKS_NS: u8 = 1 << 4;
pub(super) const ITEM: u8 = 1 << 5;
pub(super) const RESPONSE: u8 = 1 << 6;
pub(super) const DRAFTS: u8 = 1 << 7;

/// Every namespace a runbook template may read: the shared ones plus `drafts`, the saved text
/// of draft steps (`drafts['forum-post']`), which only requests may send.
pub(super) const ALL_NAMESPACES: &[&str] = &[
    "inputs", "secrets", "vars", "incident", "marks", "item", "response", "drafts",
];

pub(super) const INCIDENT_FIELDS: &[&str] = &["id", "opened_at", "responder", "drill"];
pub(super) const RESPONSE_FIELDS: &[&str] = &["status", "headers", "json", "xml", "text"];

/// What is wrong with one variable at one site.
pub(super) struct Problem {
    pub(super) message: String,
    pub(super) label: String,
    pub(super) related: Option<(Range<usize>, String)>,
    pub(super) help: Option<String>,
}

impl Problem {
    fn new(message: String, label: &str, help: Option<String>) -> Self {
        Self {
            message,
            label: label.to_owned(),
            related: None,
            help,
        }
    }
}

pub(super) fn resolve(
    v: &Validator<'_, '_>,
    graph: &mut Graph,
    captures: &HashMap<&str, Vec<usize>>,
    site: &Site<'_>,
    var: &str,
) -> Option<Problem> {
    let mut parts = var.split('.');
    let ns = parts.next().unwrap_or(var);
    let name = parts.next();
    let bit = match ns {
        "inputs" => INPUTS,
        "secrets" => SECRETS,
        "vars" => VARS,
        "incident" => INCIDENT,
        "marks" => MARKS_NS,
        "item" => ITEM,
        "response" => RESPONSE,
        "drafts" => DRAFTS,
        _ => {
            let help = match closest(ns, ALL_NAMESPACES) {
                Some(near) => format!("did you mean `{near}`?"),
                None => format!("templates read from {}", ALL_NAMESPACES.join(", ")),
            };
            return Some(Problem::new(
                format!("unknown variable `{var}` in {}", site.place),
                "not a template namespace",
                Some(help),
            ));
        }
    };
    if site.allow & bit == 0 {
        return Some(Problem::new(
            format!("`{ns}` cannot be used in {}", site.place),
            "not available here",
            Some(why_not(ns).to_owned()),
        ));
    }
    let name = name?;
    let known = |names: &[&str], what: &str, list_help: String| {
        if names.contains(&name) {
            return None;
        }
        let help = closest(name, names).map_or(list_help, |near| format!("did you mean `{near}`?"));
        Some(Problem::new(
            format!("undeclared {what} `{name}` in {}", site.place),
            "not declared",
            Some(help),
        ))
    };
    match ns {
        "inputs" => {
            let names: Vec<&str> = v.rb.inputs.keys().map(String::as_str).collect();
            known(
                &names,
                "input",
                format!("declare it: `[inputs.{name}]` with a `prompt`"),
            )
        }
        "secrets" => {
            let names: Vec<&str> = v.rb.secrets.keys().map(String::as_str).collect();
            known(
                &names,
                "secret",
                format!("declare it: `[secrets.{name}]` with `env`, `file` or `prompt`"),
            )
        }
        "incident" => known(
            INCIDENT_FIELDS,
            "incident field",
            format!("incident has {}", INCIDENT_FIELDS.join(", ")),
        ),
        "marks" => known(MARKS, "mark", format!("known marks: {}", MARKS.join(", "))),
        "response" => known(
            RESPONSE_FIELDS,
            "response field",
            format!("response has {}", RESPONSE_FIELDS.join(", ")),
        ),
        "vars" => resolve_var(v, graph, captures, site, name),
        "drafts" => resolve_draft(v, graph, site, name),
        _ => None,
    }
}

fn resolve_var(
    v: &Validator<'_, '_>,
    graph: &mut Graph,
    captures: &HashMap<&str, Vec<usize>>,
    site: &Site<'_>,
    name: &str,
) -> Option<Problem> {
    let Some(capturers) = captures.get(name) else {
        let names: Vec<&str> = captures.keys().copied().collect();
        let help = closest(name, &names).map_or_else(
            || {
                format!(
                    "capture it in an earlier step: `capture = {{ {name} = \"response.json…\" }}`"
                )
            },
            |near| format!("did you mean `vars.{near}`?"),
        );
        return Some(Problem::new(
            format!("`vars.{name}` is never captured (used in {})", site.place),
            "no step captures this",
            Some(help),
        ));
    };
    let step = site.step?;
    if capturers.iter().any(|&c| graph.needs(step, c)) {
        return None;
    }
    let reader = v.rb.steps[step].id();
    let first = capturers[0];
    let capturer = &v.rb.steps[first];
    let (message, help) = if first == step {
        (
            format!(
                "step `{reader}` reads `vars.{name}` in {}, which it only captures after its request",
                site.place
            ),
            "read the value from `response` instead".to_owned(),
        )
    } else {
        (
            format!(
                "`vars.{name}` may not exist yet when step `{reader}` runs (used in {})",
                site.place
            ),
            format!(
                "add `\"{}\"` to the `needs` of step `{reader}`",
                capturer.id()
            ),
        )
    };
    let mut problem = Problem::new(message, "read here", Some(help));
    let captured_at = v
        .doc
        .key_span(&[
            Seg::Key("steps"),
            Seg::Index(first),
            Seg::Key("capture"),
            Seg::Key(name),
        ])
        .unwrap_or_else(|| capturer.id.span());
    problem.related = Some((captured_at, format!("captured by `{}`", capturer.id())));
    Some(problem)
}

fn resolve_draft(
    v: &Validator<'_, '_>,
    graph: &mut Graph,
    site: &Site<'_>,
    name: &str,
) -> Option<Problem> {
    let steps = &v.rb.steps;
    let drafts: Vec<&str> = steps
        .iter()
        .filter(|s| s.draft.is_some())
        .map(Step::id)
        .collect();
    let Some(index) = steps
        .iter()
        .position(|s| s.id() == name && s.draft.is_some())
    else {
        let help = closest(name, &drafts).map_or_else(
            || "`drafts['<id>']` names a step with a `draft` action".to_owned(),
            |near| format!("did you mean `drafts['{near}']`?"),
        );
        return Some(Problem::new(
            format!(
                "`drafts['{name}']` is not a draft step (used in {})",
                site.place
            ),
            "no draft step has this id",
            Some(help),
        ));
    };
    let step = site.step?;
    if graph.needs(step, index) {
        return None;
    }
    let reader = steps[step].id();
    Some(Problem::new(
        format!(
            "step `{reader}` sends draft `{name}` without needing it (in {})",
            site.place
        ),
        "may not be written yet",
        Some(format!(
            "add `\"{name}\"` to the `needs` of step `{reader}`"
        )),
    ))
}

/// Keys of `drafts['x']` / `drafts["x"]` subscripts in a template's text.
pub(super) fn draft_subscripts(text: &str) -> impl Iterator<Item = &str> {
    text.match_indices("drafts[").filter_map(move |(at, m)| {
        let rest = &text[at + m.len()..];
        let quote = rest.chars().next().filter(|c| *c == '\'' || *c == '"')?;
        let rest = &rest[1..];
        rest.find(quote).map(|end| &rest[..end])
    })
}

fn why_not(ns: &str) -> &'static str {
    match ns {
        "secrets" => {
            "secrets may only appear where a request is built (a target, or a step's http); anywhere else they would reach the screen or the journal"
        }
        "item" => {
            "`item` exists only in the request, `expect` and `capture` of a step with `foreach`"
        }
        "response" => {
            "`response` exists only in `expect`, `capture` and `paginate.next`, after the request"
        }
        "drafts" => "`drafts` (saved draft text) may only be sent in a step's http request",
        "vars" | "marks" => {
            "targets are rendered without a step: use `inputs` (or move the value into the step's http)"
        }
        _ => "this namespace is not available here",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draft_subscripts_reads_both_quote_styles_and_skips_expressions() {
        let text = r#"{{ drafts['forum-post'] }} {{ drafts["notice"] }} {{ drafts[name] }}"#;
        assert_eq!(
            draft_subscripts(text).collect::<Vec<_>>(),
            ["forum-post", "notice"]
        );
        assert_eq!(draft_subscripts("{{ drafts['unterminated }}").count(), 0);
    }

    #[test]
    fn every_namespace_has_a_bit_of_its_own() {
        let bits = [
            INPUTS, SECRETS, VARS, INCIDENT, MARKS_NS, ITEM, RESPONSE, DRAFTS,
        ];
        assert_eq!(bits.iter().fold(0u8, |acc, b| acc | b).count_ones(), 8);
        assert_eq!(ALL_NAMESPACES.len(), bits.len());
    }
}
