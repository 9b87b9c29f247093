//! `--color auto|always|never` and `NO_COLOR`: decided once at start-up for the whole
//! process, then read by whatever styles text for standard output (the headless runner's
//! state words, `check`'s miette diagnostics via `runbook::diagnostics`).
//!
//! `always` and `never` are taken as given (an explicit flag beats `NO_COLOR`, as
//! <https://no-color.org> asks); `auto` means colour only when `NO_COLOR` is unset or empty,
//! standard output is a terminal and `TERM` is not `dumb`. The decision is stored in the
//! `colorchoice` global (the convention clap's own crates follow), as `Always` or `Never`.
//! The TUI keeps its own `NO_COLOR` switch.

use std::io::IsTerminal as _;

use clap::ValueEnum;
use colorchoice::ColorChoice;

/// When to colour output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum When {
    /// Colour when standard output is a terminal and `NO_COLOR` is not set.
    #[default]
    Auto,
    Always,
    Never,
}

/// Whether `when` means colour, given `NO_COLOR`, whether stdout is a terminal and `TERM`.
pub fn decide(when: When, no_color: Option<&str>, stdout_is_terminal: bool, term: &str) -> bool {
    match when {
        When::Always => true,
        When::Never => false,
        When::Auto => no_color.is_none_or(str::is_empty) && stdout_is_terminal && term != "dumb",
    }
}

/// Decide for this process and store the answer for [`enabled`].
pub fn apply(when: When) {
    let no_color = std::env::var("NO_COLOR").ok();
    let term = std::env::var("TERM").unwrap_or_default();
    let on = decide(
        when,
        no_color.as_deref(),
        std::io::stdout().is_terminal(),
        &term,
    );
    if on {
        ColorChoice::Always.write_global();
    } else {
        ColorChoice::Never.write_global();
    }
}

/// Whether output is coloured (false until [`apply`] says otherwise).
pub fn enabled() -> bool {
    ColorChoice::global() == ColorChoice::Always
}

/// What a piece of text says, for its colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tone {
    Good,
    Bad,
    Attention,
    Quiet,
}

/// `text` in the colour of `tone` when colour is on, else unchanged. Only for text stanch
/// itself writes (labels): outside text is sanitized by its own rules, never painted.
pub fn paint(text: &str, tone: Tone) -> String {
    if !enabled() {
        return text.to_owned();
    }
    let code = match tone {
        Tone::Good => "32",
        Tone::Bad => "1;31",
        Tone::Attention => "33",
        Tone::Quiet => "2",
    };
    format!("\x1b[{code}m{text}\x1b[0m")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_beat_no_color_and_auto_needs_a_terminal() {
        assert!(decide(When::Always, Some("1"), false, "dumb"));
        assert!(!decide(When::Never, None, true, "xterm"));
        assert!(decide(When::Auto, None, true, "xterm"));
        assert!(
            decide(When::Auto, Some(""), true, "xterm"),
            "empty NO_COLOR is unset"
        );
        assert!(!decide(When::Auto, Some("1"), true, "xterm"));
        assert!(!decide(When::Auto, None, false, "xterm"));
        assert!(!decide(When::Auto, None, true, "dumb"));
    }
}
