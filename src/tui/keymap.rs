//! Key bindings as data: one table ([`BINDINGS`]) of action → keys → help text, from which
//! `update` dispatches ([`action`]), the help overlay and the hint line are drawn
//! ([`for_view`], [`Binding::label`]). A key that does something is listed in the help by
//! construction, and the help cannot list a key that does nothing.
//!
//! Keys inside an open dialog (typing, Enter, Esc, Tab) belong to that dialog and are handled
//! in its own file under `dialog/`, next to the hint line that names them.
//!
//! Pure data and lookups: no state, no I/O.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

use super::app::View;

/// What a key asks for, before the view or the selection gives it a meaning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Up,
    Down,
    First,
    Last,
    PageUp,
    PageDown,
    Run,
    Retry,
    Cancel,
    Skip,
    /// Tick checklist item N: the digit comes with the key.
    Tick,
    EditDraft,
    Note,
    Fact,
    CorrectFact,
    Mark,
    RunbookView,
    TimelineView,
    EvidenceView,
    DraftsView,
    NextView,
    LabPanel,
    Filter,
    ClearFilter,
    Help,
    Quit,
}

/// Where a binding applies: everywhere, in every list view, or in one view.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    Global,
    Lists,
    Only(View),
}

impl Scope {
    fn covers(self, view: View) -> bool {
        match self {
            Scope::Global | Scope::Lists => true,
            Scope::Only(only) => only == view,
        }
    }
}

/// One key, with Ctrl or without (Shift is part of the character: `G`, `F`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

const fn key(code: KeyCode) -> Key {
    Key { code, ctrl: false }
}

const fn ch(c: char) -> Key {
    key(KeyCode::Char(c))
}

impl Key {
    fn matches(self, event: KeyEvent) -> bool {
        self.code == event.code && self.ctrl == event.modifiers.contains(KeyModifiers::CONTROL)
    }

    /// How the help names the key.
    pub fn label(self) -> String {
        let name = match self.code {
            KeyCode::Up => "↑".to_owned(),
            KeyCode::Down => "↓".to_owned(),
            KeyCode::Enter => "Enter".to_owned(),
            KeyCode::Esc => "Esc".to_owned(),
            KeyCode::Tab => "Tab".to_owned(),
            KeyCode::Backspace => "Backspace".to_owned(),
            KeyCode::Home => "Home".to_owned(),
            KeyCode::End => "End".to_owned(),
            KeyCode::PageUp => "PgUp".to_owned(),
            KeyCode::PageDown => "PgDn".to_owned(),
            KeyCode::Char(c) if self.ctrl => c.to_ascii_uppercase().to_string(),
            KeyCode::Char(c) => c.to_string(),
            other => format!("{other:?}"),
        };
        if self.ctrl {
            format!("Ctrl-{name}")
        } else {
            name
        }
    }
}

/// One row of the help: the keys, each with its action (a row may pair opposites, ↑ and ↓),
/// what the row does, and its word in the hint line, if it has one.
#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub scope: Scope,
    pub keys: &'static [(Key, Action)],
    pub help: &'static str,
    pub hint: Option<&'static str>,
}

impl Binding {
    /// The keys as the help shows them: `↑ ↓ j k`, `1-9`, `q Ctrl-C`.
    pub fn label(&self) -> String {
        let labels: Vec<String> = self.keys.iter().map(|(k, _)| k.label()).collect();
        // A run of three or more consecutive characters (the digits) reads as a range.
        let next = |a: &Key, b: &Key| match (a.code, b.code) {
            (KeyCode::Char(a), KeyCode::Char(b)) => u32::from(b) == u32::from(a) + 1,
            _ => false,
        };
        let mut parts = Vec::new();
        let mut at = 0;
        while at < self.keys.len() {
            let mut end = at;
            while end + 1 < self.keys.len() && next(&self.keys[end].0, &self.keys[end + 1].0) {
                end += 1;
            }
            if end - at >= 2 {
                parts.push(format!("{}-{}", labels[at], labels[end]));
            } else {
                parts.extend(labels[at..=end].iter().cloned());
            }
            at = end + 1;
        }
        parts.join(" ")
    }

    /// The view this row switches to, if it does.
    pub fn view(&self) -> Option<View> {
        match self.keys.first().map(|(_, action)| action) {
            Some(Action::RunbookView) => Some(View::Runbook),
            Some(Action::TimelineView) => Some(View::Timeline),
            Some(Action::EvidenceView) => Some(View::Evidence),
            Some(Action::DraftsView) => Some(View::Drafts),
            _ => None,
        }
    }

    /// The first key, as the hint line shows it (Enter is `⏎` there, to fit 80 columns).
    pub fn hint_key(&self) -> String {
        match self.keys.first() {
            Some((k, _)) if k.code == KeyCode::Enter => "⏎".to_owned(),
            Some((k, _)) => k.label(),
            None => String::new(),
        }
    }
}

const MOVE: &[(Key, Action)] = &[
    (key(KeyCode::Up), Action::Up),
    (key(KeyCode::Down), Action::Down),
    (ch('j'), Action::Down),
    (ch('k'), Action::Up),
];
const JUMP: &[(Key, Action)] = &[
    (ch('g'), Action::First),
    (ch('G'), Action::Last),
    (key(KeyCode::Home), Action::First),
    (key(KeyCode::End), Action::Last),
    (key(KeyCode::PageUp), Action::PageUp),
    (key(KeyCode::PageDown), Action::PageDown),
];
const TICK: &[(Key, Action)] = &[
    (ch('1'), Action::Tick),
    (ch('2'), Action::Tick),
    (ch('3'), Action::Tick),
    (ch('4'), Action::Tick),
    (ch('5'), Action::Tick),
    (ch('6'), Action::Tick),
    (ch('7'), Action::Tick),
    (ch('8'), Action::Tick),
    (ch('9'), Action::Tick),
];

const fn row(
    scope: Scope,
    keys: &'static [(Key, Action)],
    help: &'static str,
    hint: Option<&'static str>,
) -> Binding {
    Binding {
        scope,
        keys,
        help,
        hint,
    }
}

/// Every binding outside dialogs, in help order. The first match wins, so a view's own
/// bindings come before the global ones.
pub const BINDINGS: &[Binding] = &[
    row(Scope::Lists, MOVE, "move / scroll", None),
    row(Scope::Lists, JUMP, "first / last / page", None),
    row(
        Scope::Only(View::Runbook),
        &[(key(KeyCode::Enter), Action::Run)],
        "run the step (destructive: type to confirm)",
        Some("run"),
    ),
    row(
        Scope::Only(View::Runbook),
        &[(ch('r'), Action::Retry)],
        "retry a failed step / re-run deliberately",
        Some("retry"),
    ),
    row(
        Scope::Only(View::Runbook),
        &[(ch('c'), Action::Cancel)],
        "cancel the running step",
        Some("cancel"),
    ),
    row(
        Scope::Only(View::Runbook),
        &[(ch('s'), Action::Skip)],
        "skip the step, with a reason",
        Some("skip"),
    ),
    row(
        Scope::Only(View::Runbook),
        TICK,
        "tick checklist item N (manual steps)",
        None,
    ),
    row(
        Scope::Only(View::Runbook),
        &[(ch('e'), Action::EditDraft)],
        "edit the draft in $EDITOR",
        None,
    ),
    row(
        Scope::Only(View::Drafts),
        &[
            (ch('e'), Action::EditDraft),
            (key(KeyCode::Enter), Action::EditDraft),
        ],
        "edit the draft in $EDITOR",
        Some("edit"),
    ),
    row(
        Scope::Only(View::Timeline),
        &[
            (ch('/'), Action::Filter),
            (key(KeyCode::Backspace), Action::ClearFilter),
        ],
        "filter by kind or step / clear the filter",
        Some("filter"),
    ),
    row(
        Scope::Global,
        &[(ch('n'), Action::Note)],
        "add a note (Tab or #follow-up: action item)",
        Some("note"),
    ),
    row(
        Scope::Global,
        &[(ch('f'), Action::Fact)],
        "record a fact + when it happened",
        Some("fact"),
    ),
    row(
        Scope::Global,
        &[(ch('F'), Action::CorrectFact)],
        "correct a recorded fact (the original is kept)",
        None,
    ),
    row(
        Scope::Global,
        &[(ch('m'), Action::Mark)],
        "set or correct a time mark",
        Some("mark"),
    ),
    row(
        Scope::Global,
        &[
            (ch('b'), Action::RunbookView),
            (key(KeyCode::Esc), Action::RunbookView),
        ],
        "Runbook view",
        Some("runbook"),
    ),
    row(
        Scope::Global,
        &[(ch('t'), Action::TimelineView)],
        "Timeline view",
        None,
    ),
    row(
        Scope::Global,
        &[(ch('v'), Action::EvidenceView)],
        "Evidence view",
        None,
    ),
    row(
        Scope::Global,
        &[(ch('d'), Action::DraftsView)],
        "Drafts view",
        None,
    ),
    row(
        Scope::Global,
        &[(key(KeyCode::Tab), Action::NextView)],
        "next view",
        None,
    ),
    row(
        Scope::Global,
        &[(ch('l'), Action::LabPanel)],
        "lab panel (drills)",
        None,
    ),
    row(
        Scope::Global,
        &[(ch('?'), Action::Help)],
        "this help",
        Some("help"),
    ),
    row(
        Scope::Global,
        &[
            (ch('q'), Action::Quit),
            (
                Key {
                    code: KeyCode::Char('c'),
                    ctrl: true,
                },
                Action::Quit,
            ),
        ],
        "quit (safe at any time; resume later)",
        Some("quit"),
    ),
];

/// The bindings that apply in `view`, in help order.
pub fn for_view(view: View) -> impl Iterator<Item = &'static Binding> {
    BINDINGS.iter().filter(move |b| b.scope.covers(view))
}

/// What `key` does in `view`, if anything.
pub fn action(view: View, key: KeyEvent) -> Option<Action> {
    for_view(view)
        .flat_map(|b| b.keys.iter())
        .find(|(k, _)| k.matches(key))
        .map(|(_, action)| *action)
}

/// Ctrl-C quits from anywhere, dialogs included: the one binding checked before a dialog.
pub fn is_quit_anywhere(key: KeyEvent) -> bool {
    key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn labels_join_keys_and_fold_the_digits_into_a_range() {
        let labels: Vec<String> = BINDINGS.iter().map(Binding::label).collect();
        assert!(labels.contains(&"↑ ↓ j k".to_owned()), "{labels:?}");
        assert!(labels.contains(&"1-9".to_owned()));
        assert!(labels.contains(&"q Ctrl-C".to_owned()));
        assert!(labels.contains(&"g G Home End PgUp PgDn".to_owned()));
    }

    #[test]
    fn a_view_binding_wins_over_nothing_and_keys_outside_the_view_do_nothing() {
        let enter = KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE);
        assert_eq!(action(View::Runbook, enter), Some(Action::Run));
        assert_eq!(action(View::Drafts, enter), Some(Action::EditDraft));
        assert_eq!(action(View::Timeline, enter), None);
        let shift_g = KeyEvent::new(KeyCode::Char('G'), KeyModifiers::SHIFT);
        assert_eq!(action(View::Evidence, shift_g), Some(Action::Last));
        let ctrl_c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL);
        assert_eq!(action(View::Runbook, ctrl_c), Some(Action::Quit));
        let c = KeyEvent::new(KeyCode::Char('c'), KeyModifiers::NONE);
        assert_eq!(action(View::Runbook, c), Some(Action::Cancel));
        assert_eq!(action(View::Timeline, c), None);
    }
}
