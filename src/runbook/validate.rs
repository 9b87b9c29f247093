//! What serde cannot check: the meaning of a parsed runbook.
//!
//! This file checks each declaration on its own (names, secret sources, targets, a step's
//! action and the options that only make sense with some actions, durations, sizes, marks,
//! draft files); `graph` checks how steps relate (duplicate ids, unknown `needs`, cycles) and
//! `templates` checks every templated string and expression (syntax, declared variables).
//!
//! Every problem becomes a [`Diagnostic`] with a span; nothing here stops at the first one, so
//! a responder fixing a runbook sees all of it at once. This module must not read anything but
//! the runbook and the files it names.

mod graph;
mod templates;

use std::ops::Range;
use std::path::Path;

use super::diagnostics::Diagnostic;
use super::parse::{Doc, Parsed, Seg};
use super::{Action, MARKS, Runbook, Spanned, Step, parse_duration, parse_size};

/// HTTP methods a step may use. Upper case only: the journal and previews show them verbatim.
const METHODS: &[&str] = &["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"];
/// Methods that are safe to send twice, hence to retry without an `expect` to poll for.
const IDEMPOTENT: &[&str] = &["GET", "HEAD", "PUT", "DELETE", "OPTIONS"];

/// Check a parsed runbook; the result is sorted into source order and empty when it is valid.
/// `base_dir` is where relative paths (draft templates, CA files) are resolved.
pub fn validate(parsed: &Parsed<'_>, source: &str, base_dir: &Path) -> Vec<Diagnostic> {
    let mut v = Validator {
        rb: &parsed.runbook,
        doc: &parsed.doc,
        source,
        base_dir,
        out: Vec::new(),
    };
    v.meta();
    v.inputs_and_secrets();
    v.targets();
    for (i, step) in parsed.runbook.steps.iter().enumerate() {
        v.step(i, step);
    }
    let mut graph = graph::check(&mut v);
    templates::check(&mut v, &mut graph);
    // Stable sort: problems at the same place keep the order they were found in.
    v.out.sort_by_key(Diagnostic::start);
    v.out
}

/// Shared state of one validation run; `graph` and `templates` add to `out` too.
struct Validator<'a, 's> {
    rb: &'a Runbook,
    doc: &'a Doc<'s>,
    source: &'s str,
    base_dir: &'a Path,
    out: Vec<Diagnostic>,
}

impl Validator<'_, '_> {
    fn push(&mut self, diagnostic: Diagnostic) {
        self.out.push(diagnostic);
    }

    /// Span of key `key` of step `i`, or of the step's id when the key is not in the document.
    fn step_key(&self, i: usize, key: &str) -> Range<usize> {
        self.doc
            .key_span(&[Seg::Key("steps"), Seg::Index(i), Seg::Key(key)])
            .unwrap_or_else(|| self.rb.steps[i].id.span())
    }

    /// Span of the key at `path`, or the start of the file as a last resort.
    fn key(&self, path: &[Seg<'_>]) -> Range<usize> {
        self.doc.key_span(path).unwrap_or(0..0)
    }

    fn meta(&mut self) {
        let id = &self.rb.runbook.id;
        if !is_slug(id.get_ref()) {
            self.push(
                Diagnostic::new(
                    format!("runbook id `{}` is not a plain name", id.get_ref()),
                    id.span(),
                    "use letters, digits, `-` and `_`",
                )
                .with_help("the id is journalled and names the runbook in `stanch list`"),
            );
        }
    }

    fn inputs_and_secrets(&mut self) {
        for name in self.rb.inputs.keys() {
            self.identifier(&[Seg::Key("inputs"), Seg::Key(name)], "input", name);
        }
        for (name, spec) in &self.rb.secrets {
            let path = [Seg::Key("secrets"), Seg::Key(name)];
            self.identifier(&path, "secret", name);
            let sources: Vec<&str> = [
                spec.env.as_ref().map(|_| "env"),
                spec.file.as_ref().map(|_| "file"),
                spec.prompt.filter(|p| *p).map(|_| "prompt"),
            ]
            .into_iter()
            .flatten()
            .collect();
            match sources.as_slice() {
                [_] => {}
                [] => self.push(
                    Diagnostic::new(
                        format!("secret `{name}` has no source"),
                        self.key(&path),
                        "where does this secret come from?",
                    )
                    .with_help(
                        "set exactly one of `env = \"VAR\"`, `file = \"path\"` or `prompt = true`",
                    ),
                ),
                [first, second, ..] => {
                    let mut at = path.to_vec();
                    at.push(Seg::Key(second));
                    let mut first_at = path.to_vec();
                    first_at.push(Seg::Key(first));
                    self.push(
                        Diagnostic::new(
                            format!("secret `{name}` has more than one source"),
                            self.key(&at),
                            "second source",
                        )
                        .with_label(self.key(&first_at), "first source")
                        .with_help("keep exactly one of `env`, `file` or `prompt`"),
                    );
                }
            }
            if spec.env.as_deref() == Some("") {
                let mut at = path.to_vec();
                at.push(Seg::Key("env"));
                let span = self.doc.span(&at).unwrap_or_else(|| self.key(&path));
                self.push(Diagnostic::new(
                    format!("secret `{name}` reads an empty environment variable name"),
                    span,
                    "empty name",
                ));
            }
        }
    }

    /// Names used after a dot in templates (`inputs.X`, `vars.X`) must be identifiers.
    fn identifier(&mut self, path: &[Seg<'_>], what: &str, name: &str) {
        if !is_identifier(name) {
            self.push(
                Diagnostic::new(
                    format!("{what} name `{name}` cannot be used in templates"),
                    self.key(path),
                    "not an identifier",
                )
                .with_help("use letters, digits and `_`, starting with a letter or `_`"),
            );
        }
    }

    fn targets(&mut self) {
        for (name, target) in &self.rb.targets {
            self.identifier(&[Seg::Key("targets"), Seg::Key(name)], "target", name);
            if let Some(timeout) = &target.timeout {
                self.duration(timeout, "timeout");
            }
            for (field, path) in [("ca", &target.ca), ("client_cert", &target.client_cert)] {
                if let Some(path) = path {
                    self.file_exists(path, field);
                }
            }
        }
    }

    fn step(&mut self, i: usize, step: &Step) {
        if !is_slug(step.id()) {
            self.push(Diagnostic::new(
                format!("step id `{}` is not a plain name", step.id()),
                step.id.span(),
                "use letters, digits, `-` and `_`",
            ));
        }
        if step.phase.trim().is_empty() {
            self.push(Diagnostic::new(
                format!("step `{}` has an empty phase", step.id()),
                self.step_key(i, "phase"),
                "empty",
            ));
        }
        self.action(i, step);
        if let Some(mark) = &step.mark
            && !MARKS.contains(&mark.get_ref().as_str())
        {
            self.push(
                Diagnostic::new(
                    format!("unknown mark `{}`", mark.get_ref()),
                    mark.span(),
                    "not a known mark",
                )
                .with_help(format!("known marks: {}", MARKS.join(", "))),
            );
        }
        for name in step.capture.keys() {
            let path = [
                Seg::Key("steps"),
                Seg::Index(i),
                Seg::Key("capture"),
                Seg::Key(name),
            ];
            self.identifier(&path, "capture", name);
        }
        self.foreach_and_retry(step);
    }

    /// Exactly one action, and only the options that action supports.
    fn action(&mut self, i: usize, step: &Step) {
        let present: Vec<&str> = [
            step.http.as_ref().map(|_| "http"),
            step.manual.as_ref().map(|_| "manual"),
            step.draft.as_ref().map(|_| "draft"),
        ]
        .into_iter()
        .flatten()
        .collect();
        match present.as_slice() {
            [] => self.push(
                Diagnostic::new(
                    format!("step `{}` has no action", step.id()),
                    step.id.span(),
                    "this step does nothing",
                )
                .with_help("give it exactly one of `http`, `manual` or `draft`"),
            ),
            [_] => {}
            [first, second, ..] => self.push(
                Diagnostic::new(
                    format!("step `{}` has more than one action", step.id()),
                    self.step_key(i, second),
                    "second action",
                )
                .with_label(self.step_key(i, first), "first action")
                .with_help("split it into two steps, the second with `needs`"),
            ),
        }
        match step.action() {
            Some(Action::Http(http)) => self.http(i, step, http),
            Some(Action::Manual([])) => self.push(Diagnostic::new(
                format!("step `{}` has an empty checklist", step.id()),
                self.step_key(i, "manual"),
                "no items",
            )),
            Some(Action::Draft(draft)) => self.draft(draft),
            _ => {}
        }
        if step.http.is_none() && !present.is_empty() {
            let only_http = [
                ("expect", !step.expect.is_empty()),
                ("capture", !step.capture.is_empty()),
                ("evidence", step.evidence),
                ("retry", step.retry.is_some()),
                ("foreach", step.foreach.is_some()),
            ];
            for (key, set) in only_http {
                if set {
                    self.push(
                        Diagnostic::new(
                            format!("`{key}` needs an `http` action"),
                            self.step_key(i, key),
                            format!("step `{}` sends no request", step.id()),
                        )
                        .with_help(format!("remove `{key}`, or make this an http step")),
                    );
                }
            }
        }
    }

    fn http(&mut self, i: usize, step: &Step, http: &super::Http) {
        if !self.rb.targets.contains_key(http.target.get_ref()) {
            let declared: Vec<&str> = self.rb.targets.keys().map(String::as_str).collect();
            let help = match closest(http.target.get_ref(), &declared) {
                Some(near) => format!("did you mean `{near}`?"),
                None if declared.is_empty() => "declare it under `[targets.<name>]`".to_owned(),
                None => format!("declared targets: {}", declared.join(", ")),
            };
            self.push(
                Diagnostic::new(
                    format!("unknown target `{}`", http.target.get_ref()),
                    http.target.span(),
                    "no such target",
                )
                .with_help(help),
            );
        }
        let method = http.method.get_ref();
        if !METHODS.contains(&method.as_str()) {
            let upper = method.to_ascii_uppercase();
            let help = if METHODS.contains(&upper.as_str()) {
                format!("write it in upper case: `{upper}`")
            } else {
                format!("use one of {}", METHODS.join(", "))
            };
            self.push(
                Diagnostic::new(
                    format!("unknown HTTP method `{method}`"),
                    http.method.span(),
                    "not a method",
                )
                .with_help(help),
            );
        } else if step.retry.is_some()
            && step.expect.is_empty()
            && !IDEMPOTENT.contains(&method.as_str())
        {
            self.push(
                Diagnostic::new(
                    format!(
                        "step `{}` retries a {method} with nothing to wait for",
                        step.id()
                    ),
                    self.step_key(i, "retry"),
                    format!("would resend a non-idempotent {method}"),
                )
                .with_label(http.method.span(), "not safe to repeat")
                .with_help("add an `expect` that the retry polls for, or remove `retry`"),
            );
        }
        if let Some(max) = &http.max_body
            && let Err(why) = parse_size(max.get_ref())
        {
            self.push(Diagnostic::new(
                format!("bad size in `max_body`: {why}"),
                max.span(),
                "not a size",
            ));
        }
    }

    fn draft(&mut self, draft: &super::Draft) {
        self.file_exists(&draft.template, "draft template");
        let output = draft.output.get_ref();
        let plain =
            !output.is_empty() && !output.contains(['/', '\\']) && output != "." && output != "..";
        if !plain {
            self.push(
                Diagnostic::new(
                    format!("draft output `{output}` is not a plain file name"),
                    draft.output.span(),
                    "must be a file name",
                )
                .with_help("drafts are written inside the incident's `drafts/` directory"),
            );
        }
    }

    fn file_exists(&mut self, path: &Spanned<String>, what: &str) {
        let full = self.base_dir.join(path.get_ref());
        if !full.is_file() {
            self.push(
                Diagnostic::new(
                    format!("{what} `{}` not found", path.get_ref()),
                    path.span(),
                    format!("no file at {}", full.display()),
                )
                .with_help("paths in a runbook are relative to the runbook file"),
            );
        }
    }

    fn foreach_and_retry(&mut self, step: &Step) {
        if let Some(concurrency) = &step.concurrency {
            if *concurrency.get_ref() == 0 {
                self.push(
                    Diagnostic::new(
                        "`concurrency` must be at least 1",
                        concurrency.span(),
                        "no request would ever be sent",
                    )
                    .with_help("the default is 8; use 1 to send one request at a time"),
                );
            }
            if step.foreach.is_none() {
                self.push(
                    Diagnostic::new(
                        "`concurrency` without `foreach`",
                        concurrency.span(),
                        "only a foreach step sends several requests",
                    )
                    .with_help("add `foreach = \"vars.<list>\"`, or remove `concurrency`"),
                );
            }
        }
        if let Some(retry) = &step.retry {
            let retry = retry.get_ref();
            let every = self.duration(&retry.every, "retry.every");
            let within = self.duration(&retry.within, "retry.within");
            if let (Some(every), Some(within)) = (every, within)
                && every > within
            {
                self.push(
                    Diagnostic::new(
                        "`retry.every` is longer than `retry.within`",
                        retry.every.span(),
                        "the first retry would come after the deadline",
                    )
                    .with_label(retry.within.span(), "deadline"),
                );
            }
        }
    }

    /// Check a duration field; `None` when it is bad (already reported).
    fn duration(&mut self, text: &Spanned<String>, field: &str) -> Option<std::time::Duration> {
        match parse_duration(text.get_ref()) {
            Ok(d) if d.is_zero() => {
                self.push(Diagnostic::new(
                    format!("`{field}` must be longer than zero"),
                    text.span(),
                    "zero",
                ));
                None
            }
            Ok(d) => Some(d),
            Err(why) => {
                self.push(Diagnostic::new(
                    format!("bad duration in `{field}`: {why}"),
                    text.span(),
                    "not a duration",
                ));
                None
            }
        }
    }
}

/// Usable after a dot in a template: `[A-Za-z_][A-Za-z0-9_]*`.
fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Safe in file names, command lines and journal lines: `[A-Za-z0-9][A-Za-z0-9_-]*`.
fn is_slug(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
}

/// The candidate nearest to a misspelt name, if it is near enough to be the intended one.
fn closest<'c>(name: &str, candidates: &[&'c str]) -> Option<&'c str> {
    let limit = (name.chars().count() / 3).max(1);
    candidates
        .iter()
        .map(|c| (edit_distance(name, c), *c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            let next = (row[j + 1] + 1).min(row[j] + 1).min(prev + cost);
            prev = row[j + 1];
            row[j + 1] = next;
        }
    }
    row[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_and_slugs() {
        assert!(is_identifier("es_api_key"));
        assert!(!is_identifier("es-api-key"));
        assert!(!is_identifier("1x"));
        assert!(is_slug("count-exposed"));
        assert!(!is_slug("count exposed"));
        assert!(!is_slug("-x"));
    }

    #[test]
    fn closest_suggests_only_near_names() {
        assert_eq!(closest("ouside", &["es", "outside"]), Some("outside"));
        assert_eq!(closest("forum", &["es", "outside"]), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
