//! Text → [`Runbook`], keeping the span tree of the document for diagnostics.
//!
//! The typed model is deserialized straight from the text. toml's spanned document tree
//! ([`DeTable`]) is available as a [`Doc`] so that validation can point at any value (a
//! secret's `env`, a string inside an http `json` body) without the model carrying a span on
//! every field; it is built lazily, on the first lookup, because only a runbook with problems
//! needs it and `check` of a valid 1,000-step runbook should not pay for a second tree.
//!
//! This module must not judge meaning (that is `validate`); it only reports what TOML and
//! serde reject: syntax, unknown fields, wrong types, missing fields.

use std::cell::OnceCell;
use std::ops::Range;

use toml::Spanned;
use toml::de::{DeTable, DeValue};

use super::Runbook;
use super::diagnostics::Diagnostic;

/// A parsed runbook and the document tree it came from.
pub struct Parsed<'s> {
    pub runbook: Runbook,
    pub doc: Doc<'s>,
}

/// The spanned document tree, for locating values by path; parsed on first use.
pub struct Doc<'s> {
    source: &'s str,
    root: OnceCell<Option<Spanned<DeTable<'s>>>>,
}

/// One step of a path into the document: a table key or an array index.
#[derive(Debug, Clone, Copy)]
pub enum Seg<'a> {
    Key(&'a str),
    Index(usize),
}

/// Parse runbook text. The one diagnostic on failure points at what TOML or serde rejected.
pub fn parse(source: &str) -> Result<Parsed<'_>, Diagnostic> {
    let runbook: Runbook = toml::from_str(source).map_err(|e| toml_diagnostic(&e, source))?;
    Ok(Parsed {
        runbook,
        doc: Doc {
            source,
            root: OnceCell::new(),
        },
    })
}

/// Turn a toml/serde error into a diagnostic. toml's message may span several lines
/// ("invalid string\nexpected `\"`"); the first is the headline, the rest the label.
fn toml_diagnostic(err: &toml::de::Error, source: &str) -> Diagnostic {
    let message = err.message().trim();
    let (headline, detail) = match message.split_once('\n') {
        Some((head, rest)) => (head.trim(), rest.trim().replace('\n', "; ")),
        None => (message, String::new()),
    };
    let headline = headline.trim_end_matches('.');
    let label = if detail.is_empty() {
        label_for(headline).to_owned()
    } else {
        detail
    };
    match err.span() {
        Some(span) => {
            let span = narrow(source, span);
            Diagnostic::new(headline, span, label)
        }
        None => Diagnostic::unlocated(headline),
    }
}

/// A short label for serde's usual complaints, so the caret says what is wrong right there.
fn label_for(headline: &str) -> &'static str {
    if headline.starts_with("unknown field") {
        "unknown field"
    } else if headline.starts_with("missing field") {
        "in this table"
    } else if headline.starts_with("invalid type") {
        "wrong type"
    } else if headline.starts_with("invalid value") {
        "invalid value"
    } else if headline.starts_with("duplicate key") {
        "duplicate key"
    } else {
        "here"
    }
}

/// Spans of whole `[table]`s run to the next header; point at their first line instead, so a
/// "missing field" snippet stays one line long.
fn narrow(source: &str, span: Range<usize>) -> Range<usize> {
    let start = span.start.min(source.len());
    let end = span.end.min(source.len()).max(start);
    match source[start..end].find('\n') {
        Some(nl) if nl > 0 => start..start + nl,
        _ => start..end,
    }
}

impl<'s> Doc<'s> {
    /// The root table. The text already parsed once as a runbook, so this cannot fail; if it
    /// somehow did, lookups find nothing and diagnostics fall back to coarser spans.
    fn root(&self) -> Option<&DeTable<'s>> {
        self.root
            .get_or_init(|| DeTable::parse(self.source).ok())
            .as_ref()
            .map(Spanned::get_ref)
    }

    /// The value at `path`, if the document has it.
    pub fn get(&self, path: &[Seg<'_>]) -> Option<&Spanned<DeValue<'s>>> {
        let (first, rest) = path.split_first()?;
        let Seg::Key(key) = first else { return None };
        let mut value = lookup(self.root()?, key)?;
        for seg in rest {
            value = match (seg, value.get_ref()) {
                (Seg::Key(key), DeValue::Table(table)) => lookup(table, key)?,
                (Seg::Index(i), DeValue::Array(items)) => items.get(*i)?,
                _ => return None,
            };
        }
        Some(value)
    }

    /// Span of the value at `path`.
    pub fn span(&self, path: &[Seg<'_>]) -> Option<Range<usize>> {
        self.get(path).map(Spanned::span)
    }

    /// Span of the *key* that ends `path` (`env` in `env = "X"`), falling back to the value.
    pub fn key_span(&self, path: &[Seg<'_>]) -> Option<Range<usize>> {
        let (Seg::Key(last), parent) = path.split_last()? else {
            return self.span(path);
        };
        let table = if parent.is_empty() {
            self.root()?
        } else {
            self.get(parent)?.get_ref().as_table()?
        };
        table.get_key_value(*last).map(|(k, _)| k.span())
    }
}

fn lookup<'t, 's>(table: &'t DeTable<'s>, key: &str) -> Option<&'t Spanned<DeValue<'s>>> {
    table.get(key)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"
[runbook]
id = "x"
title = "X"

[secrets.key]
env = "KEY"

[[steps]]
id = "a"
phase = "confirm"
manual = ["one"]
"#;

    #[test]
    fn parses_and_locates_values_by_path() {
        let parsed = parse(MINIMAL).unwrap();
        assert_eq!(parsed.runbook.steps.len(), 1);
        let env = parsed
            .doc
            .span(&[Seg::Key("secrets"), Seg::Key("key"), Seg::Key("env")])
            .unwrap();
        assert_eq!(&MINIMAL[env], "\"KEY\"");
        let key = parsed
            .doc
            .key_span(&[Seg::Key("steps"), Seg::Index(0), Seg::Key("manual")])
            .unwrap();
        assert_eq!(&MINIMAL[key], "manual");
    }

    #[test]
    fn syntax_error_points_into_the_source() {
        let err = parse("[runbook]\nid = \"x\ntitle = \"X\"\n").err().unwrap();
        assert_eq!(err.labels[0].span.start, 17, "{err:?}");
    }

    #[test]
    fn unknown_field_is_labelled() {
        let err = parse("[runbook]\nid = \"x\"\ntitle = \"X\"\ncolour = 1\n")
            .err()
            .unwrap();
        assert!(err.message.starts_with("unknown field `colour`"), "{err:?}");
        assert_eq!(err.labels[0].text, "unknown field");
    }
}
