//! Every templated string and bare expression: syntax, and whether each variable it reads is
//! declared and available where it is used.
//!
//! Which namespaces a place may read is decided here, once:
//!
//! | place                                 | inputs | secrets | vars | incident, marks | item    | response | drafts |
//! |---------------------------------------|--------|---------|------|-----------------|---------|----------|--------|
//! | target url, headers, auth (all forms) | ✓      | ✓       |      | incident only   |         |          |        |
//! | http path, query, headers, form, json | ✓      | ✓       | ✓    | ✓               | foreach |          | ✓      |
//! | confirm, when, foreach                | ✓      |         | ✓    | ✓               |         |          |        |
//! | expect, capture, paginate.next        | ✓      |         | ✓    | ✓               | foreach | ✓        |        |
//!
//! Secrets only where a request is built: anywhere else they would reach the screen or the
//! journal. `vars.X` must be captured by a step the reading step transitively `needs`, or it
//! may not exist yet when the step runs; likewise `drafts['<step id>']` must name a draft step
//! the reader transitively needs. Draft template files are checked for syntax only:
//! what they read is rendered leniently by the draft module.

use std::collections::HashMap;
use std::ops::Range;

use super::graph::Graph;
use super::variables::{
    DRAFTS, INCIDENT, INPUTS, ITEM, MARKS_NS, RESPONSE, SECRETS, VARS, draft_subscripts, resolve,
};
use super::{Diagnostic, Seg, Validator};
use crate::runbook::Step;
use crate::template::Templates;

#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum Syntax {
    /// `{{ … }}` inside a string.
    Template,
    /// A bare expression (`expect`, `capture`, `when`, `foreach`).
    Expression,
}

/// One string to check and what it may read.
pub(super) struct Site<'a> {
    text: &'a str,
    /// The string's span; for a string inside an http `json` body, the span of the `http`
    /// table, narrowed through `json_path` only when there is a problem to show.
    span: Range<usize>,
    json_path: Option<Vec<Seg<'a>>>,
    syntax: Syntax,
    /// How messages name the place: "`http.path` of step `close-index`".
    pub(super) place: String,
    /// Namespaces this place may read (bits from `variables`).
    pub(super) allow: u8,
    pub(super) step: Option<usize>,
}

pub(super) fn check(v: &mut Validator<'_, '_>, graph: &mut Graph) {
    let templates = Templates::new();
    let mut sites = Vec::new();
    collect_targets(v, &mut sites);
    for (i, step) in v.rb.steps.iter().enumerate() {
        collect_step(i, step, &mut sites);
    }
    let captures = captures(v);
    // Runbooks repeat the same expressions (`response.status == 200`) on many steps: parse
    // each distinct text once.
    let mut parsed: HashMap<(Syntax, &str), Vec<String>> = HashMap::new();
    for site in &sites {
        check_site(v, graph, &templates, &captures, &mut parsed, site);
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
                json_path: None,
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
            if let Some(aws) = &auth.aws_sigv4 {
                let aws = aws.get_ref();
                add("auth.aws_sigv4.region", &aws.region);
                add("auth.aws_sigv4.service", &aws.service);
                for (field, value) in [
                    ("auth.aws_sigv4.access_key", &aws.access_key),
                    ("auth.aws_sigv4.secret_key", &aws.secret_key),
                    ("auth.aws_sigv4.session_token", &aws.session_token),
                ] {
                    if let Some(value) = value {
                        add(field, value);
                    }
                }
            }
        }
    }
}

#[expect(
    clippy::too_many_lines,
    reason = "every templated field of a step, one after the other"
)]
fn collect_step<'a>(i: usize, step: &'a Step, sites: &mut Vec<Site<'a>>) {
    let id = step.id();
    let item = if step.foreach.is_some() { ITEM } else { 0 };
    let plain = INPUTS | VARS | INCIDENT | MARKS_NS;
    let mut add = |field: &str, value: &'a toml::Spanned<String>, syntax, allow| {
        sites.push(Site {
            text: value.get_ref(),
            span: value.span(),
            json_path: None,
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
    if let Some(paginate) = &step.paginate {
        add(
            "paginate.next",
            &paginate.get_ref().next,
            Syntax::Expression,
            plain | RESPONSE,
        );
    }
    let Some(http_spanned) = &step.http else {
        return;
    };
    let http = http_spanned.get_ref();
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
        collect_json(json, &mut path, &mut |text, json_path| {
            sites.push(Site {
                text,
                span: http_spanned.span(),
                json_path: Some(json_path),
                syntax: Syntax::Template,
                place: format!("`http.json` of step `{id}`"),
                allow: request,
                step: Some(i),
            });
        });
    }
    if let Some(xml) = &http.xml {
        for (key, value) in xml {
            let mut path = vec![
                Seg::Key("steps"),
                Seg::Index(i),
                Seg::Key("http"),
                Seg::Key("xml"),
                Seg::Key(key),
            ];
            collect_json(value, &mut path, &mut |text, json_path| {
                sites.push(Site {
                    text,
                    span: http_spanned.span(),
                    json_path: Some(json_path),
                    syntax: Syntax::Template,
                    place: format!("`http.xml` of step `{id}`"),
                    allow: request,
                    step: Some(i),
                });
            });
        }
    }
}

/// Warnings (the runbook still loads): an http `path` that puts a `?` after a `{{ … }}`.
/// Values there are form-encoded into the query (see `engine::request_url`), but a query
/// written into the path text is easy to misread; `query = { … }` says which value is which.
pub(super) fn warnings(rb: &crate::runbook::Runbook) -> Vec<Diagnostic> {
    let mut out = Vec::new();
    for step in &rb.steps {
        let Some(http) = &step.http else { continue };
        let path = &http.get_ref().path;
        let text = path.get_ref();
        let Some(open) = text.find("{{") else {
            continue;
        };
        let Some(question) = text[open..].find('?').map(|q| open + q) else {
            continue;
        };
        // The span is of the quoted string: its text starts one byte in.
        let at = path.span().start + 1 + question;
        out.push(
            Diagnostic::new(
                format!(
                    "`http.path` of step `{}` puts a `?` after a `{{{{ }}}}`",
                    step.id()
                ),
                at..at + 1,
                "the query starts here, after a value",
            )
            .with_help(
                "a value's own `?` stays in its path segment, but move query parameters to \
                 `query = { name = \"{{ … }}\" }` so each value is encoded as one parameter",
            )
            .as_warning(),
        );
    }
    out
}

/// Every string inside a JSON body, with its path in the document.
fn collect_json<'a>(
    value: &'a toml::Value,
    path: &mut Vec<Seg<'a>>,
    found: &mut dyn FnMut(&'a str, Vec<Seg<'a>>),
) {
    match value {
        toml::Value::String(text) => found(text, path.clone()),
        toml::Value::Array(items) => {
            for (n, item) in items.iter().enumerate() {
                path.push(Seg::Index(n));
                collect_json(item, path, found);
                path.pop();
            }
        }
        toml::Value::Table(table) => {
            for (key, item) in table {
                path.push(Seg::Key(key));
                collect_json(item, path, found);
                path.pop();
            }
        }
        _ => {}
    }
}

/// Where a site's string is, as precisely as the document allows.
fn locate(v: &Validator<'_, '_>, site: &Site<'_>) -> Range<usize> {
    site.json_path
        .as_deref()
        .and_then(|path| v.doc.span(path))
        .unwrap_or_else(|| site.span.clone())
}

/// Capture name → indices of the steps that capture it.
fn captures<'a>(v: &Validator<'a, '_>) -> HashMap<&'a str, Vec<usize>> {
    let mut map: HashMap<&str, Vec<usize>> = HashMap::new();
    for (i, step) in v.rb.steps.iter().enumerate() {
        for name in step.capture.keys() {
            map.entry(name.as_str()).or_default().push(i);
        }
    }
    map
}

fn check_site<'a>(
    v: &mut Validator<'_, '_>,
    graph: &mut Graph,
    templates: &Templates,
    captures: &HashMap<&str, Vec<usize>>,
    parsed: &mut HashMap<(Syntax, &'a str), Vec<String>>,
    site: &Site<'a>,
) {
    // Fast path: most strings are literal text, with nothing to parse or resolve.
    if site.syntax == Syntax::Template && !site.text.contains(['{', '}']) {
        return;
    }
    let variables = match parsed.entry((site.syntax, site.text)) {
        std::collections::hash_map::Entry::Occupied(known) => known.into_mut(),
        std::collections::hash_map::Entry::Vacant(slot) => {
            let Some(variables) = variables(v, templates, site) else {
                return;
            };
            slot.insert(variables)
        }
    };
    for var in variables.iter() {
        if let Some(problem) = resolve(v, graph, captures, site, var) {
            let span = narrow_to(v.source, &locate(v, site), var);
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

/// Parse a site's text; its variables (sorted, globals removed), or `None` after reporting a
/// syntax error.
fn variables(
    v: &mut Validator<'_, '_>,
    templates: &Templates,
    site: &Site<'_>,
) -> Option<Vec<String>> {
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
            return None;
        }
    };
    for unknown in templates.unknown_tests_and_filters(site.text, site.syntax == Syntax::Expression)
    {
        let help = format!(
            "MiniJinja's own tests and filters, and stanch's: {} (tests); {} (filters)",
            crate::template::STANCH_TESTS.join(", "),
            crate::template::STANCH_FILTERS.join(", ")
        );
        v.push(Diagnostic::new(
            format!("unknown {unknown} in {}", site.place),
            locate(v, site),
            help,
        ));
    }
    // Functions such as `range` and `dict` are globals, not data the runbook must declare.
    let mut variables: Vec<String> = variables
        .into_iter()
        .filter(|var| {
            let root = var.split('.').next().unwrap_or(var);
            !env.globals().any(|(name, _)| name == root)
        })
        .collect();
    // `drafts['forum-post']` is reported as plain `drafts`: read the subscripts from the text.
    if variables.iter().any(|var| var == "drafts") {
        variables.extend(draft_subscripts(site.text).map(|id| format!("drafts.{id}")));
        variables.retain(|var| var != "drafts");
    }
    variables.sort();
    Some(variables)
}

fn syntax_error(v: &mut Validator<'_, '_>, site: &Site<'_>, err: &minijinja::Error) {
    let what = match site.syntax {
        Syntax::Template => "template",
        Syntax::Expression => "expression",
    };
    let detail = err.detail().unwrap_or("cannot parse");
    let whole = locate(v, site);
    let span = match (content_offset(v.source, &whole, site.text), err.range()) {
        (Some(start), Some(range)) if site.syntax == Syntax::Template => {
            let end = (start + range.end).min(whole.end);
            let start = (start + range.start).min(end);
            // MiniJinja's range can fall inside a multi-byte character of the source (its
            // offsets count the template's own text, which may differ from the TOML text
            // when escapes were present): widen to whole characters.
            floor_char_boundary(v.source, start)..ceil_char_boundary(v.source, end)
        }
        _ => whole,
    };
    v.push(Diagnostic::new(
        format!("{what} syntax error in {}", site.place),
        span,
        detail,
    ));
}

fn floor_char_boundary(source: &str, mut at: usize) -> usize {
    at = at.min(source.len());
    while !source.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn ceil_char_boundary(source: &str, mut at: usize) -> usize {
    at = at.min(source.len());
    while !source.is_char_boundary(at) {
        at += 1;
    }
    at
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn narrow_to_points_at_the_variable_inside_the_string() {
        let source = r#"path = "/{{ inputs.indx }}/_count""#;
        let span = 7..source.len();
        let narrowed = narrow_to(source, &span, "inputs.indx");
        assert_eq!(&source[narrowed], "inputs.indx");
        assert_eq!(narrow_to(source, &span, "vars.nope"), span);
    }

    #[test]
    fn content_offset_needs_the_text_verbatim() {
        let source = r#"a = "{{ x }}" b = "tab\t{{ y }""#;
        assert_eq!(content_offset(source, &(4..12), "{{ x }}"), Some(5));
        // An escape sequence means the value is not in the source as written.
        assert_eq!(content_offset(source, &(17..31), "tab\t{{ y }"), None);
    }
}
