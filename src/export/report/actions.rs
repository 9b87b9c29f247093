//! Action items: notes tagged `follow-up`, with the owner and due date their author gave.
//!
//! An owner is written `@name` (or tagged `owner:name`), a due date `due:YYYY-MM-DD` (or
//! tagged so). Either may be missing: the renderers then show it as still to assign, never a
//! guess (the person who raised an item is not assumed to own it). A `due:` that is not a
//! calendar date is kept as written in `due_text` and flagged, so a typo is seen, not lost.

use jiff::civil::Date;
use serde::Serialize;

use crate::incident::Note;

#[derive(Debug, Clone, Serialize)]
pub struct ActionItem {
    pub seq: u64,
    pub at: jiff::Timestamp,
    /// Who raised it.
    pub actor: String,
    pub step: Option<String>,
    pub text: String,
    pub tags: Vec<String>,
    /// `@name` or tag `owner:name`; `None` when nobody was named.
    pub owner: Option<String>,
    /// `due:YYYY-MM-DD` when it is a valid date.
    pub due: Option<Date>,
    /// The `due:` value as written when it is not a valid date.
    pub due_text: Option<String>,
}

/// What people are asked to write when no note was tagged `follow-up`.
pub const PROMPT: &str = "Tag a note #follow-up for each change that would stop this happening again, with @owner and due:YYYY-MM-DD.";

/// An Owner or Due cell, for every renderer alike: the value, or what is still to do (which
/// renderers emphasise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Value(String),
    Todo(String),
}

impl ActionItem {
    pub fn owner_cell(&self) -> Cell {
        self.owner
            .clone()
            .map_or_else(|| Cell::Todo("to assign".to_owned()), Cell::Value)
    }

    pub fn due_cell(&self) -> Cell {
        match (self.due, &self.due_text) {
            (Some(date), _) => Cell::Value(date.to_string()),
            (None, Some(text)) => Cell::Todo(format!("not a date: {text}")),
            (None, None) => Cell::Todo("to set".to_owned()),
        }
    }
}

pub fn items(notes: &[Note]) -> Vec<ActionItem> {
    notes
        .iter()
        .filter(|n| n.is_follow_up())
        .map(|n| {
            let words = n
                .text
                .split_whitespace()
                .map(|w| w.trim_end_matches([',', '.', ';', ')']))
                .chain(n.tags.iter().map(String::as_str));
            let mut owner = None;
            let mut due_word = None;
            for word in words {
                if let Some(name) = word
                    .strip_prefix('@')
                    .or_else(|| word.strip_prefix("owner:"))
                    .filter(|name| !name.is_empty())
                {
                    owner.get_or_insert_with(|| name.to_owned());
                } else if let Some(date) = word.strip_prefix("due:").filter(|d| !d.is_empty()) {
                    due_word.get_or_insert_with(|| date.to_owned());
                }
            }
            let due = due_word.as_deref().and_then(|d| d.parse::<Date>().ok());
            ActionItem {
                seq: n.seq,
                at: n.at,
                actor: n.actor.clone(),
                step: n.step.clone(),
                text: n.text.clone(),
                tags: n.tags.clone(),
                owner,
                due,
                due_text: due_word.filter(|_| due.is_none()),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn note(text: &str, tags: &[&str]) -> Note {
        Note {
            seq: 7,
            at: jiff::Timestamp::UNIX_EPOCH,
            actor: "bob".into(),
            step: None,
            text: text.into(),
            tags: tags.iter().map(|t| (*t).to_owned()).collect(),
        }
    }

    #[test]
    fn owner_and_due_come_from_the_text_or_the_tags() {
        let list = items(&[
            note("Retry two tokens @carol due:2020-01-03.", &["follow-up"]),
            note(
                "Alert on security off",
                &["follow-up", "owner:dave", "due:2020-02-01"],
            ),
            note("Nobody named", &["follow-up"]),
            note("Typo due:2020-13-40 #follow-up", &["follow-up"]),
            note("Not an action @erin", &[]),
        ]);
        let got: Vec<_> = list
            .iter()
            .map(|a| {
                (
                    a.owner.as_deref(),
                    a.due.map(|d| d.to_string()),
                    a.due_text.as_deref(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (Some("carol"), Some("2020-01-03".to_owned()), None),
                (Some("dave"), Some("2020-02-01".to_owned()), None),
                (None, None, None),
                (None, None, Some("2020-13-40")),
            ]
        );
    }
}
