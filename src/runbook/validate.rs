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

mod auth;
mod graph;
mod paginate;
mod steps;
mod templates;
mod variables;

use std::ops::Range;
use std::path::Path;

use super::diagnostics::Diagnostic;
use super::parse::{Doc, Parsed, Seg};
use super::{Runbook, Spanned, Step, parse_duration};

/// Check a parsed runbook; the result is sorted into source order and empty when it is valid.
/// `base_dir` is where relative paths (draft templates, CA files) are resolved.
pub fn validate<'s>(parsed: &Parsed<'s>, source: &'s str, base_dir: &Path) -> Vec<Diagnostic> {
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
        v.paginate(i, step);
    }
    let mut graph = graph::check(&mut v);
    templates::check(&mut v, &mut graph);
    // Stable sort: problems at the same place keep the order they were found in.
    v.out.sort_by_key(Diagnostic::start);
    v.out
}

/// What is worth a warning in a valid runbook (see `templates::warnings`), in source order.
pub fn warnings(rb: &Runbook) -> Vec<Diagnostic> {
    let mut out = templates::warnings(rb);
    out.sort_by_key(Diagnostic::start);
    out
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
            if let Some(auth) = &target.auth {
                self.auth(name, auth);
            }
            for (field, path) in [("ca", &target.ca), ("client_cert", &target.client_cert)] {
                if let Some(path) = path {
                    self.file_exists(path, field);
                }
            }
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
