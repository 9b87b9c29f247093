//! [`Input`]: a one-line text field (dialogs, filters, the set-up form).
//!
//! Editing keys only: characters, Backspace, Delete, ←/→, Home/End, Ctrl-U. Keys it does not
//! use (Enter, Esc, Tab, ↑/↓) are left to the dialog that owns it. A masked field never
//! shows its text, only bullets, so a typed secret cannot appear on screen.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Input {
    text: String,
    /// Cursor position in chars (not bytes).
    cursor: usize,
    masked: bool,
}

impl Input {
    pub fn new(text: &str) -> Self {
        Self {
            text: text.to_owned(),
            cursor: text.chars().count(),
            masked: false,
        }
    }

    pub fn masked() -> Self {
        Self {
            masked: true,
            ..Self::default()
        }
    }

    pub fn value(&self) -> &str {
        &self.text
    }

    pub fn is_masked(&self) -> bool {
        self.masked
    }

    pub fn set(&mut self, text: &str) {
        text.clone_into(&mut self.text);
        self.cursor = text.chars().count();
    }

    pub fn cursor(&self) -> usize {
        self.cursor
    }

    /// What the screen shows: the text, or one bullet per char when masked.
    pub fn display(&self) -> String {
        if self.masked {
            "•".repeat(self.text.chars().count())
        } else {
            self.text.clone()
        }
    }

    fn byte_at(&self, char_idx: usize) -> usize {
        self.text
            .char_indices()
            .nth(char_idx)
            .map_or(self.text.len(), |(i, _)| i)
    }

    /// Apply an editing key; `false` when the key is not an editing key.
    pub fn handle(&mut self, key: KeyEvent) -> bool {
        let len = self.text.chars().count();
        match key.code {
            KeyCode::Char('u') if key.modifiers.contains(KeyModifiers::CONTROL) => {
                self.text.clear();
                self.cursor = 0;
            }
            KeyCode::Char(c) if !key.modifiers.contains(KeyModifiers::CONTROL) => {
                let at = self.byte_at(self.cursor);
                self.text.insert(at, c);
                self.cursor += 1;
            }
            KeyCode::Backspace if self.cursor > 0 => {
                self.cursor -= 1;
                let at = self.byte_at(self.cursor);
                self.text.remove(at);
            }
            KeyCode::Delete if self.cursor < len => {
                let at = self.byte_at(self.cursor);
                self.text.remove(at);
            }
            KeyCode::Left => self.cursor = self.cursor.saturating_sub(1),
            KeyCode::Right => self.cursor = (self.cursor + 1).min(len),
            KeyCode::Home => self.cursor = 0,
            KeyCode::End => self.cursor = len,
            KeyCode::Backspace | KeyCode::Delete => {}
            _ => return false,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(code: KeyCode) -> KeyEvent {
        KeyEvent::new(code, KeyModifiers::NONE)
    }

    #[test]
    fn typing_editing_and_cursor_moves_work_on_multibyte_text() {
        let mut input = Input::new("é1");
        assert!(input.handle(key(KeyCode::Left)));
        assert!(input.handle(key(KeyCode::Char('x'))));
        assert_eq!(input.value(), "éx1");
        input.handle(key(KeyCode::Home));
        input.handle(key(KeyCode::Delete));
        assert_eq!(input.value(), "x1");
        input.handle(key(KeyCode::End));
        input.handle(key(KeyCode::Backspace));
        assert_eq!(input.value(), "x");
        assert!(!input.handle(key(KeyCode::Enter)));
        input.handle(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL));
        assert_eq!(input.value(), "");
    }

    #[test]
    fn masked_field_never_displays_its_text() {
        let mut input = Input::masked();
        for c in "hunter2".chars() {
            input.handle(key(KeyCode::Char(c)));
        }
        assert_eq!(input.value(), "hunter2");
        assert_eq!(input.display(), "•••••••");
    }
}
