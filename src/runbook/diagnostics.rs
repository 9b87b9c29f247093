//! Problems found in a runbook, and their rendering as caret snippets headed `file:line:col`.
//!
//! A [`Diagnostic`] is plain data (message, labelled byte spans, optional help) so that parse
//! and validation code never formats text for a terminal. [`render`] turns a list of them into
//! the text `stanch check` prints and `LoadError::Invalid` carries, through miette's graphical
//! handler with a colourless theme: the output is the same on every terminal, so tests can
//! assert it byte for byte.
//!
//! This module must not decide what is wrong with a runbook; it only says it well.

use std::fmt;
use std::ops::Range;

use miette::{GraphicalReportHandler, GraphicalTheme, LabeledSpan, NamedSource, SourceCode};

/// Width the report is wrapped at: wide enough that messages naming a cycle or listing
/// expected fields stay on one line, narrow enough for a split tmux pane.
const WIDTH: usize = 100;

/// One problem in a runbook. The first label is the primary location (its line and column
/// head the snippet); further labels point at related places ("first defined here").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub message: String,
    pub labels: Vec<Label>,
    pub help: Option<String>,
    /// A warning: worth reading, but the runbook still loads (`stanch check` prints it and
    /// exits 0).
    pub warning: bool,
}

/// A byte range of the runbook source with a short explanation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    pub span: Range<usize>,
    pub text: String,
}

impl Diagnostic {
    /// A problem at `span`, explained there by `label`.
    pub fn new(message: impl Into<String>, span: Range<usize>, label: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            labels: vec![Label {
                span,
                text: label.into(),
            }],
            help: None,
            warning: false,
        }
    }

    /// A problem with no location (e.g. a file that is not UTF-8 at all).
    pub fn unlocated(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            labels: Vec::new(),
            help: None,
            warning: false,
        }
    }

    #[must_use]
    pub fn with_help(mut self, help: impl Into<String>) -> Self {
        self.help = Some(help.into());
        self
    }

    /// The same, as a warning.
    #[must_use]
    pub fn as_warning(mut self) -> Self {
        self.warning = true;
        self
    }

    /// Add a secondary location.
    #[must_use]
    pub fn with_label(mut self, span: Range<usize>, text: impl Into<String>) -> Self {
        self.labels.push(Label {
            span,
            text: text.into(),
        });
        self
    }

    /// Where the problem starts, for sorting diagnostics into source order.
    pub fn start(&self) -> usize {
        self.labels.first().map_or(0, |l| l.span.start)
    }
}

/// Render diagnostics for the file `name` (shown in the `╭─[name:line:col]` header) with
/// `source` as the text the spans index into. Reports are separated by a blank line.
pub fn render(name: &str, source: &str, diagnostics: &[Diagnostic]) -> String {
    // Coloured only when the process decided so (`--color`, `NO_COLOR`: see `cli::color`);
    // a library caller that decided nothing gets plain text.
    let theme = if colorchoice::ColorChoice::global() == colorchoice::ColorChoice::Always {
        GraphicalTheme::unicode()
    } else {
        GraphicalTheme::unicode_nocolor()
    };
    let handler = GraphicalReportHandler::new_themed(theme)
        .with_links(false)
        .with_width(WIDTH)
        .without_syntax_highlighting();
    let named = NamedSource::new(name, source.to_owned());
    let mut out = String::new();
    for (n, diagnostic) in diagnostics.iter().enumerate() {
        if n > 0 {
            out.push('\n');
        }
        let report = Report {
            diagnostic,
            name,
            source: &named,
            len: source.len(),
        };
        // Writing to a String cannot fail; a formatting error here would be a miette bug,
        // and the message alone is still worth showing.
        if handler.render_report(&mut out, &report).is_err() {
            out.push_str(&diagnostic.message);
            out.push('\n');
        }
    }
    out
}

/// Adapter from our plain [`Diagnostic`] to miette's trait, borrowing everything.
struct Report<'a> {
    diagnostic: &'a Diagnostic,
    name: &'a str,
    source: &'a NamedSource<String>,
    len: usize,
}

impl fmt::Debug for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.diagnostic, f)
    }
}

impl fmt::Display for Report<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.diagnostic.labels.is_empty() {
            // Without a snippet there is no `[file:line:col]` header: name the file here.
            write!(f, "{}: {}", self.name, self.diagnostic.message)
        } else {
            f.write_str(&self.diagnostic.message)
        }
    }
}

impl std::error::Error for Report<'_> {}

impl miette::Diagnostic for Report<'_> {
    fn severity(&self) -> Option<miette::Severity> {
        self.diagnostic.warning.then_some(miette::Severity::Warning)
    }

    fn help<'b>(&'b self) -> Option<Box<dyn fmt::Display + 'b>> {
        self.diagnostic
            .help
            .as_ref()
            .map(|h| Box::new(h) as Box<dyn fmt::Display>)
    }

    fn source_code(&self) -> Option<&dyn SourceCode> {
        Some(self.source)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        if self.diagnostic.labels.is_empty() {
            return None;
        }
        let len = self.len;
        Some(Box::new(self.diagnostic.labels.iter().enumerate().map(
            move |(n, label)| {
                // Clamp: a span past the end (an "unexpected end of file") must still render.
                let start = label.span.start.min(len);
                let end = label.span.end.clamp(start, len);
                let text = (!label.text.is_empty()).then(|| label.text.clone());
                if n == 0 {
                    LabeledSpan::new_primary_with_span(text, start..end)
                } else {
                    LabeledSpan::new_with_span(text, start..end)
                }
            },
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_caret_snippet_headed_by_file_line_col() {
        let source = "[runbook]\nid = \"x\"\ntitel = \"y\"\n";
        let start = source.find("titel").unwrap();
        let d = Diagnostic::new("unknown field `titel`", start..start + 5, "not a field")
            .with_help("did you mean `title`?");
        let out = render("rb.toml", source, &[d]);
        assert!(out.contains("[rb.toml:3:1]"), "{out}");
        assert!(out.contains("× unknown field `titel`"), "{out}");
        assert!(out.contains("not a field"), "{out}");
        assert!(out.contains("help: did you mean `title`?"), "{out}");
        assert!(!out.contains('\u{1b}'), "no escape codes: {out:?}");
    }

    #[test]
    fn unlocated_diagnostic_names_the_file() {
        let out = render("rb.toml", "", &[Diagnostic::unlocated("not UTF-8")]);
        assert!(out.contains("rb.toml: not UTF-8"), "{out}");
    }

    #[test]
    fn span_past_the_end_is_clamped() {
        let out = render("rb.toml", "a", &[Diagnostic::new("eof", 5..9, "here")]);
        assert!(out.contains("[rb.toml:1:"), "{out}");
    }
}
