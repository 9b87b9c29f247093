//! Every templated string and bare expression: syntax, and whether each variable it reads is
//! declared and available where it is used.
//!
//! Which namespaces a place may read is decided here, once:
//!
//! | place                                   | inputs | secrets | vars | incident, marks | item | response |
//! |-----------------------------------------|--------|---------|------|-----------------|------|----------|
//! | target url, headers, auth               | ✓      | ✓       |      | incident only   |      |          |
//! | http path, query, headers, form, json   | ✓      | ✓       | ✓    | ✓               | foreach | |
//! | confirm, when, foreach                  | ✓      |         | ✓    | ✓               |      |          |
//! | expect, capture                         | ✓      |         | ✓    | ✓               | foreach | ✓     |
//!
//! Secrets only where a request is built: anywhere else they would reach the screen or the
//! journal. `vars.X` must be captured by a step the reading step transitively `needs`, or it
//! may not exist yet when the step runs. Draft template files are checked for syntax only:
//! what they read is rendered leniently by the draft module.

use std::ops::Range;

use super::graph::Graph;
use super::{Diagnostic, Seg, Validator, closest};
use crate::runbook::{MARKS, Step};
use crate::template::Templates;

const INPUTS: u8 = 1;
const SECRETS: u8 = 1 << 1;
const VARS: u8 = 1 << 2;
const INCIDENT: u8 = 1 << 3;
const MARKS_NS: u8 = 1 << 4;
const ITEM: u8 = 1 << 5;
const RESPONSE: u8 = 1 << 6;
const DRAFTS: u8 = 1 << 7;

/// Every namespace a runbook template may read: the shared ones plus `drafts`, the saved text
/// of draft steps (`drafts['forum-post']`), which only requests may send.
const ALL_NAMESPACES: &[&str] = &[
    "inputs", "secrets", "vars", "incident", "marks", "item", "response", "drafts",
];

const INCIDENT_FIELDS: &[&str] = &["id", "opened_at", "responder", "drill"];
const RESPONSE_FIELDS: &[&str] = &["status", "headers", "json", "text"];

#[derive(Clone, Copy, PartialEq)]
enum Syntax {
    /// `{{ … }}` inside a string.
    Template,
    /// A bare expression (`expect`, `capture`, `when`, `foreach`).
    Expression,
}

/// One string to check and what it may read.
struct Site<'a> {
    text: &'a str,
    span: Range<usize>,
    syntax: Syntax,
    /// How messages name the place: "`http.path` of step `close-index`".
    place: String,
    allow: u8,
    step: Option<usize>,
}

pub(super) fn check(v: &mut Validator<'_, '_>, graph: &mut Graph) {
    let templates = Templates::new();
    let mut sites = Vec::new();
    collect_targets(v, &mut sites);
    for (i, step) in v.rb.steps.iter().enumerate() {
        collect_step(v, i, step, &mut sites);
    }
    let captures = captures(v);
    for site in &sites {
        check_site(v, graph, &templates, &captures, site);
    }
    check_draft_files(v, &templates);
}

fn collect_targets<'a>(v: &Validator<'a, '_>, sites: &mut Vec<Site<'a>>) {
    let allow = INPUTS | SECRETS | INCIDENT;
    for (name, target) in &v.rb.targets {
        let mut add = |field: &str, value: &'a toml::Spanned<String>| {
            sites.push(Site {
                text: value.get_ref(),
                span: value.span(),
                syntax: Syntax::Template,
                place: format!("`{field}` of target `{name}`"),
                allow,
                step: None,
            });
        };
        add("url", &target.url);
        for value in target.headers.values() {
            add("headers", value);
        }
        if let Some(auth) = &target.auth {
            if let Some(bearer) = &auth.bearer {
                add("auth.bearer", bearer);
            }
            if let Some(basic) = &auth.basic {
                add("auth.basic.user", &basic.user);
                add("auth.basic.password", &basic.password);
            }
        }
    }
}

fn collect_step<'a>(v: &Validator<'a, '_>, i: usize, step: &'a Step, sites: &mut Vec<Site<'a>>) {
    let id = step.id();
    let item = if step.foreach.is_some() { ITEM } else { 0 };
    let plain = INPUTS | VARS | INCIDENT | MARKS_NS;
    let mut add = |field: &str, value: &'a toml::Spanned<String>, syntax, allow| {
        sites.push(Site {
            text: value.get_ref(),
            span: value.span(),
            syntax,
            place: format!("`{field}` of step `{id}`"),
            allow,
            step: Some(i),
        });
    };
    if let Some(when) = &step.when {
        add("when", when, Syntax::Expression, plain);
    }
    if let Some(foreach) = &step.foreach {
        add("foreach", foreach, Syntax::Expression, plain);
    }
    if let Some(confirm) = &step.confirm {
        add("confirm", confirm, Syntax::Template, plain);
    }
    for expect in &step.expect {
        add(
            "expect",
            expect,
            Syntax::Expression,
            plain | RESPONSE | item,
        );
    }
    for capture in step.capture.values() {
        add(
            "capture",
            capture,
            Syntax::Expression,
            plain | RESPONSE | item,
        );
    }
    let Some(http) = &step.http else { return };
    let http = http.get_ref();
    let request = plain | SECRETS | DRAFTS | item;
    add("http.path", &http.path, Syntax::Template, request);
    for value in http.query.values() {
        add("http.query", value, Syntax::Template, request);
    }
    for value in http.headers.values() {
        add("http.headers", value, Syntax::Template, request);
    }
    for value in http.form.values() {
        add("http.form", value, Syntax::Template, request);
    }
    if let Some(json) = &http.json {
        let mut path = vec![
            Seg::Key("steps"),
            Seg::Index(i),
            Seg::Key("http"),
            Seg::Key("json"),
        ];
        collect_json(v, json, &mut path, &mut |text, span| {
            sites.push(Site {
                text,
                span,
                syntax: Syntax::Template,
                place: format!("`http.json` of step `{id}`"),
                allow: request,
                step: Some(i),
            });
        });
    }
}

/// Every string inside a JSON body, with its span looked up in the document tree.
fn collect_json<'a, 'p>(
    v: &Validator<'_, '_>,
    value: &'a toml::Value,
    path: &mut Vec<Seg<'p>>,
    found: &mut dyn FnMut(&'a str, Range<usize>),
) where
    'a: 'p,
{
    match value {
        toml::Value::String(text) => {
            let span = v
                .doc
                .span(path)
                .or_else(|| v.doc.span(&path[..3]))
                .unwrap_or(0..0);
            found(text, span);
        }
        toml::Value::Array(items) => {
            for (n, item) in items.iter().enumerate() {
                path.push(Seg::Index(n));
                collect_json(v, item, path, found);
                path.pop();
            }
        }
        toml::Value::Table(table) => {
            for (key, item) in table {
                path.push(Seg::Key(key));
                collect_json(v, item, path, found);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Capture name → indices of the steps that capture it.
fn captures<'a>(v: &Validator<'a, '_>) -> std::collections::HashMap<&'a str, Vec<usize>> {
    let mut map: std::collections::HashMap<&str, Vec<usize>> = std::collections::HashMap::new();
    for (i, step) in v.rb.steps.iter().enumerate() {
        for name in step.capture.keys() {
            map.entry(name.as_str()).or_default().push(i);
        }
    }
    map
}

fn check_site(
    v: &mut Validator<'_, '_>,
    graph: &mut Graph,
    templates: &Templates,
    captures: &std::collections::HashMap<&str, Vec<usize>>,
    site: &Site<'_>,
) {
    // Fast path: most strings are literal text, with nothing to parse or resolve.
    if site.syntax == Syntax::Template && !site.text.contains(['{', '}']) {
        return;
    }
    let env = templates.env();
    let compiled = match site.syntax {
        Syntax::Template => env
            .template_from_str(site.text)
            .map(|t| t.undeclared_variables(true)),
        Syntax::Expression => env
            .compile_expression(site.text)
            .map(|e| e.undeclared_variables(true)),
    };
    let variables = match compiled {
        Ok(vars) => vars,
        Err(err) => {
            syntax_error(v, site, &err);
            return;
        }
    };
    // Functions such as `range` and `dict` are globals, not data the runbook must declare.
    let mut variables: Vec<String> = variables
        .into_iter()
        .filter(|var| {
            let root = var.split('.').next().unwrap_or(var);
            !env.globals().any(|(name, _)| name == root)
        })
        .collect();
    variables.sort();
    // `drafts['forum-post']` is reported as plain `drafts`: read the subscripts from the text.
    if variables.iter().any(|var| var == "drafts") {
        variables.extend(draft_subscripts(site.text).map(|id| format!("drafts.{id}")));
        variables.retain(|var| var != "drafts");
    }
    for var in &variables {
        if let Some(problem) = resolve(v, graph, captures, site, var) {
            let span = narrow_to(v.source, &site.span, var);
            let mut d = Diagnostic::new(problem.message, span, problem.label);
            if let Some((span, text)) = problem.related {
                d = d.with_label(span, text);
            }
            if let Some(help) = problem.help {
                d = d.with_help(help);
            }
            v.push(d);
        }
    }
}

fn syntax_error(v: &mut Validator<'_, '_>, site: &Site<'_>, err: &minijinja::Error) {
    let what = match site.syntax {
        Syntax::Template => "template",
        Syntax::Expression => "expression",
    };
    let detail = err.detail().unwrap_or("cannot parse");
    let span = match (content_offset(v.source, &site.span, site.text), err.range()) {
        (Some(start), Some(range)) if site.syntax == Syntax::Template => {
            let end = (start + range.end).min(site.span.end);
            (start + range.start).min(end)..end
        }
        _ => site.span.clone(),
    };
    v.push(Diagnostic::new(
        format!("{what} syntax error in {}", site.place),
        span,
        detail,
    ));
}

/// What is wrong with one variable at one site.
struct Problem {
    message: String,
    label: String,
    related: Option<(Range<usize>, String)>,
    help: Option<String>,
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

fn resolve(
    v: &Validator<'_, '_>,
    graph: &mut Graph,
    captures: &std::collections::HashMap<&str, Vec<usize>>,
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
    captures: &std::collections::HashMap<&str, Vec<usize>>,
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
fn draft_subscripts(text: &str) -> impl Iterator<Item = &str> {
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
        "response" => "`response` exists only in `expect` and `capture`, after the request",
        "drafts" => "`drafts` (saved draft text) may only be sent in a step's http request",
        "vars" | "marks" => {
            "targets are rendered without a step: use `inputs` (or move the value into the step's http)"
        }
        _ => "this namespace is not available here",
    }
}

/// Byte offset in the runbook source where a string value's text starts, when it appears
/// there verbatim (no escapes); lets a caret point inside the string.
fn content_offset(source: &str, span: &Range<usize>, text: &str) -> Option<usize> {
    let raw = source.get(span.clone())?;
    raw.find(text).map(|off| span.start + off)
}

/// Narrow a string's span to where `var` appears in it (its first dotted part), if it does.
fn narrow_to(source: &str, span: &Range<usize>, var: &str) -> Range<usize> {
    source
        .get(span.clone())
        .and_then(|raw| raw.find(var))
        .map_or_else(
            || span.clone(),
            |off| span.start + off..span.start + off + var.len(),
        )
}

fn check_draft_files(v: &mut Validator<'_, '_>, templates: &Templates) {
    for step in &v.rb.steps {
        let Some(draft) = &step.draft else { continue };
        let path = v.base_dir.join(draft.get_ref().template.get_ref());
        // A missing file is reported by `validate`; unreadable text is reported here.
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if let Err(err) = templates.env().template_from_str(&text) {
            let line = err
                .line()
                .map(|l| format!(" (line {l})"))
                .unwrap_or_default();
            let template = &draft.get_ref().template;
            v.out.push(Diagnostic::new(
                format!(
                    "template syntax error in draft `{}`{line}",
                    template.get_ref()
                ),
                template.span(),
                err.detail().unwrap_or("cannot parse"),
            ));
        }
    }
}
