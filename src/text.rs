//! Outside text, encoded for where it goes: a terminal or a report ([`escape`], [`Escaping`],
//! [`is_hostile`]) and a URL path segment ([`PATH_SEGMENT`]).
//!
//! Every response, capture, journal text and file name may come from an attacker. On a
//! terminal, control characters are commands: ESC starts sequences that retitle the window,
//! write the clipboard (OSC 52) or move the cursor to overwrite a line, CR rewrites the current
//! line, C1 CSI (U+009B) is ESC `[` on some terminals, and bidi overrides reorder what is shown.
//! So every text that reaches a terminal or a report passes through [`escape`], which shows
//! each such character visibly instead:
//!
//! - C0 controls except newline and tab, and DEL: `\x1b`, `\x0d`, `\x7f` (two lowercase hex
//!   digits);
//! - C1 controls U+0080–U+009F, bidi embeddings and overrides U+202A–U+202E and isolates
//!   U+2066–U+2069, and the invisible marks U+200B–U+200F (zero-width space/joiners, LRM/RLM),
//!   U+2028/U+2029 (line/paragraph separators), U+FEFF: `\u{9b}`, `\u{202e}` (Rust's escape).
//!
//! A backslash is left as it is, so an escape reads the same as the characters typed to
//! produce it: a confirm text is shown escaped and confirmed by typing what is shown. This
//! module is a leaf: it depends on no other stanch module.

use std::borrow::Cow;
use std::fmt::Write as _;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC};

/// What a rendered value is percent-encoded with inside a URL path segment: everything but the
/// unreserved characters (`A–Z a–z 0–9 - . _ ~`), so `/ ? # % ;` and spaces in a value cannot
/// end the segment, start a query or fragment, or be decoded into one by a proxy.
pub const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// True for a character that must not reach a terminal as it is (see the module doc).
pub fn is_hostile(c: char) -> bool {
    matches!(
        c,
        '\u{0}'..='\u{8}'
            | '\u{b}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'..='\u{202e}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}'
    )
}

/// The text with every hostile character shown escaped; borrowed when there is none.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(is_hostile) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 16);
    for c in text.chars() {
        push(&mut out, c);
    }
    Cow::Owned(out)
}

/// One character as [`escape`] shows it.
fn push(out: &mut String, c: char) {
    if !is_hostile(c) {
        out.push(c);
    } else if c.is_ascii() {
        let _ = write!(out, "\\x{:02x}", u32::from(c));
    } else {
        let _ = write!(out, "{}", c.escape_unicode());
    }
}

/// A writer that [`escape`]s everything written through it, for a stream of UTF-8 text (an
/// export printed to the terminal). A character split across two writes is held until its
/// last byte arrives; a byte that is not UTF-8 is shown as `\xNN`.
pub struct Escaping<W: std::io::Write> {
    inner: W,
    /// The start of a character whose remaining bytes have not been written yet.
    pending: Vec<u8>,
}

impl<W: std::io::Write> Escaping<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            pending: Vec::new(),
        }
    }

    /// The writer underneath, for stanch's own styled text (colour codes must not be
    /// escaped); whoever writes there escapes any outside text with [`escape`] first. Flush
    /// this writer before switching, so a held partial character is not reordered.
    pub fn get_mut(&mut self) -> &mut W {
        &mut self.inner
    }

    fn emit(&mut self, bytes: &[u8], last: bool) -> std::io::Result<()> {
        if let Ok(text) = std::str::from_utf8(bytes) {
            return self.inner.write_all(escape(text).as_bytes());
        }
        let mut out = String::new();
        let mut rest = bytes;
        loop {
            match std::str::from_utf8(rest) {
                Ok(text) => {
                    out.push_str(&escape(text));
                    break;
                }
                Err(e) => {
                    let (good, bad) = rest.split_at(e.valid_up_to());
                    out.push_str(&escape(std::str::from_utf8(good).unwrap_or_default()));
                    match e.error_len() {
                        Some(n) => {
                            for b in &bad[..n] {
                                let _ = write!(out, "\\x{b:02x}");
                            }
                            rest = &bad[n..];
                        }
                        // An incomplete character at the end: wait for the rest of it.
                        None if !last => {
                            self.pending = bad.to_vec();
                            break;
                        }
                        None => {
                            for b in bad {
                                let _ = write!(out, "\\x{b:02x}");
                            }
                            break;
                        }
                    }
                }
            }
        }
        self.inner.write_all(out.as_bytes())
    }
}

impl<W: std::io::Write> std::io::Write for Escaping<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let mut bytes = std::mem::take(&mut self.pending);
        bytes.extend_from_slice(buf);
        self.emit(&bytes, false)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let pending = std::mem::take(&mut self.pending);
        if !pending.is_empty() {
            self.emit(&pending, true)?;
        }
        self.inner.flush()
    }
}

/// A character cut short by the last write is shown (as `\xNN`) rather than lost.
impl<W: std::io::Write> Drop for Escaping<W> {
    fn drop(&mut self) {
        let _ = std::io::Write::flush(self);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;

    use rstest::rstest;

    use super::*;

    #[rstest]
    #[case::plain("ok close-index 200", "ok close-index 200")]
    #[case::newline_and_tab_kept("a\n\tb", "a\n\tb")]
    #[case::esc_title("\u{1b}]0;pwned\u{7}", "\\x1b]0;pwned\\x07")]
    #[case::osc52_clipboard("\u{1b}]52;c;cm0gLXJm\u{1b}\\", "\\x1b]52;c;cm0gLXJm\\x1b\\")]
    #[case::carriage_return_overwrite("FAILED x\rok    x", "FAILED x\\x0dok    x")]
    #[case::del("a\u{7f}b", "a\\x7fb")]
    #[case::c1_csi("a\u{9b}2Jb", "a\\u{9b}2Jb")]
    #[case::bidi_override("invoice\u{202e}fdp.exe", "invoice\\u{202e}fdp.exe")]
    #[case::bidi_isolate("\u{2066}x\u{2069}", "\\u{2066}x\\u{2069}")]
    #[case::zero_width("pass\u{200b}word", "pass\\u{200b}word")]
    #[case::bom("\u{feff}x", "\\u{feff}x")]
    #[case::backslash_kept("C:\\x1b", "C:\\x1b")]
    #[case::unicode_kept("é € 日本", "é € 日本")]
    fn escapes_what_a_terminal_would_obey(#[case] text: &str, #[case] shown: &str) {
        assert_eq!(escape(text), shown);
        assert!(!escape(text).chars().any(is_hostile));
    }

    #[test]
    fn borrows_clean_text() {
        assert!(matches!(escape("plain"), Cow::Borrowed("plain")));
    }

    #[test]
    fn writer_escapes_across_split_characters() {
        let text = "a\u{1b}[2J é\u{202e}€ z".as_bytes();
        for cut in 0..text.len() {
            let mut w = Escaping::new(Vec::new());
            w.write_all(&text[..cut]).unwrap();
            w.write_all(&text[cut..]).unwrap();
            w.flush().unwrap();
            assert_eq!(
                String::from_utf8(w.inner.clone()).unwrap(),
                "a\\x1b[2J é\\u{202e}€ z",
                "cut at {cut}"
            );
        }
    }

    #[test]
    fn writer_shows_bytes_that_are_not_utf8() {
        let mut w = Escaping::new(Vec::new());
        w.write_all(b"a\xffb\xe2\x82").unwrap();
        w.flush().unwrap();
        assert_eq!(
            String::from_utf8(w.inner.clone()).unwrap(),
            "a\\xffb\\xe2\\x82"
        );
    }

    proptest::proptest! {
        #[test]
        fn nothing_hostile_survives(text in "\\PC*|[\\x00-\\x{a0}\\x{2028}-\\x{206f}]{0,30}") {
            proptest::prop_assert!(!escape(&text).chars().any(is_hostile));
        }
    }
}
