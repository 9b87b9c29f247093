//! Communication drafts: a runbook's `draft` step renders a MiniJinja template (a file next to
//! the runbook) into `<incident>/drafts/<output>`, the responder edits it in `$EDITOR`, and
//! every changed version is journalled as `draft.saved` with its SHA-256.
//!
//! ```text
//! render (template + context) ─▶ save (write file, journal if changed) ─▶ edit_in_editor
//!                                        ▲                                     │
//!                                        └──────────── record (re-read) ◀──────┘
//! ```
//!
//! The template context is the typed [`Context`] ([`context`] module): `inputs`, `vars`,
//! `marks` (name → RFC 3339), `timeline` (the Markdown post-mortem's lines, streamed from the
//! journal by [`timeline::read`] in bounded memory), `incident` (`id`,
//! `opened_at`, `responder`, `drill`, `title`, `summary`, `severity`, `as_of`), `impact`
//! (figures with how each was derived), `measures` (steps that changed something, with their
//! marks) and `deadlines` (each notification duty from `aware`, see [`deadline`]). Secrets
//! are never in it: a template that names `secrets` is refused before rendering, and the
//! editor runs with only the environment variables in [`EDITOR_ENV`] (plus `LC_*`), so a
//! secret loaded from any variable never reaches it.
//!
//! A template writes `[to fill: what]` where the journal has no answer; [`render`] appends the
//! list of those gaps to the draft, so every notice says what it could not fill. This module
//! knows nothing of the terminal; the TUI suspends itself around [`edit_in_editor`].
//!
//! Whether a version is new is judged against the last `draft.saved` of the step in the
//! incident's folded state ([`last_saved`]: `Incident::drafts`, which checkpoints carry), never
//! by reading the journal back; callers pass it to [`save`] and [`record`], and [`prepare`]
//! says what it is after a first render.
//!
//! Draft files are private (0600 in a 0700 `drafts/`) and never read or written through a
//! link: a link planted under a draft's name is refused by [`prepare`] and [`record`], and
//! [`save`] replaces it (fresh temporary, then rename) rather than writing through it.

use std::path::{Component, Path, PathBuf};
use std::process::Command;

use crate::export::ExportError;
use crate::incident::Incident;
use crate::journal::event::sha256_hex;
use crate::journal::payload::DraftSaved;
use crate::journal::{Event, Journal, JournalError, NewEvent, Payload};
use crate::runbook::{self, Action, Step};
use crate::template::{TemplateError, Templates};

pub mod context;
pub mod deadline;
pub mod timeline;

pub use context::{Context, TimelineEntry, context};

/// The directory inside an incident that holds drafts.
pub const DRAFTS_DIR: &str = "drafts";

#[derive(Debug, thiserror::Error)]
pub enum DraftError {
    #[error("no step `{0}` in the runbook")]
    UnknownStep(String),
    #[error("step `{0}` is not a draft step (it has no `draft = {{ template, output }}`)")]
    NotADraft(String),
    #[error(
        "draft output `{output}` of step `{step}` must be a plain file name (no directories, no `..`)"
    )]
    BadOutput { step: String, output: String },
    #[error("cannot read the draft template {path} of step `{step}`: {source}")]
    TemplateFile {
        step: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "the draft template {path} of step `{step}` uses `secrets`; drafts are shared documents, so secrets are not available to them"
    )]
    SecretsInTemplate { step: String, path: PathBuf },
    #[error("the draft template {path} of step `{step}` failed to render: {source}")]
    Render {
        step: String,
        path: PathBuf,
        source: TemplateError,
    },
    #[error("draft file {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(transparent)]
    Journal(#[from] JournalError),
    #[error("cannot read the incident's timeline for the draft: {0}")]
    Timeline(#[from] ExportError),
    #[error("cannot start the editor `{editor}`: {source}")]
    EditorSpawn {
        editor: String,
        source: std::io::Error,
    },
    #[error("the editor `{editor}` exited with {status}; the draft was not recorded")]
    EditorFailed { editor: String, status: String },
}

/// The step and its draft action, or why not.
fn draft_step<'a>(
    rb: &'a runbook::Runbook,
    step_id: &str,
) -> Result<(&'a Step, &'a runbook::Draft), DraftError> {
    let step = rb
        .step(step_id)
        .ok_or_else(|| DraftError::UnknownStep(step_id.to_owned()))?;
    match step.action() {
        Some(Action::Draft(draft)) => Ok((step, draft)),
        _ => Err(DraftError::NotADraft(step_id.to_owned())),
    }
}

/// Render a draft step's template (path relative to the runbook file) against the incident
/// and its `timeline` ([`timeline::read`] from the journal on disk, or [`timeline::of`] an
/// incident replayed in memory).
pub fn render(
    rb: &runbook::Loaded,
    step_id: &str,
    incident: &Incident,
    timeline: Vec<TimelineEntry>,
) -> Result<String, DraftError> {
    let (_, draft) = draft_step(&rb.runbook, step_id)?;
    let path = rb.base_dir().join(draft.template.get_ref());
    let source = std::fs::read_to_string(&path).map_err(|source| DraftError::TemplateFile {
        step: step_id.to_owned(),
        path: path.clone(),
        source,
    })?;
    let templates = Templates::new();
    let render_error = |source| DraftError::Render {
        step: step_id.to_owned(),
        path: path.clone(),
        source,
    };
    let variables = templates
        .template_variables(&source)
        .map_err(render_error)?;
    if variables
        .iter()
        .any(|v| v == "secrets" || v.starts_with("secrets."))
    {
        return Err(DraftError::SecretsInTemplate {
            step: step_id.to_owned(),
            path,
        });
    }
    let text = templates
        .render(&source, context(incident, Some(&rb.runbook), timeline))
        .map_err(render_error)?;
    Ok(with_gaps_listed(text))
}

/// How a template marks what the journal could not fill: `[to fill: contact point]`.
pub const GAP: &str = "[to fill: ";

/// Every `[to fill: …]` in `text`, in order, each once.
pub fn gaps(text: &str) -> Vec<&str> {
    let mut found: Vec<&str> = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(GAP) {
        let after = &rest[start + GAP.len()..];
        let Some(end) = after.find(']') else { break };
        let what = after[..end].trim();
        if !what.is_empty() && !found.contains(&what) {
            found.push(what);
        }
        rest = &after[end..];
    }
    found
}

/// A rendered draft ends with the list of what it could not fill, so nobody sends a notice
/// with a gap in it unnoticed.
fn with_gaps_listed(mut text: String) -> String {
    let list: Vec<String> = gaps(&text)
        .into_iter()
        .map(|g| format!("- [ ] {g}\n"))
        .collect();
    if !list.is_empty() {
        if !text.ends_with('\n') {
            text.push('\n');
        }
        text.push_str("\n---\n\n**Not filled from the journal**: complete every `[to fill: …]` above before sending.\n\n");
        text.push_str(&list.concat());
    }
    text
}

/// `<incident>/drafts/<output>`; the output must be a plain file name.
pub fn path(incident_dir: &Path, step: &Step) -> Result<PathBuf, DraftError> {
    let Some(Action::Draft(draft)) = step.action() else {
        return Err(DraftError::NotADraft(step.id().to_owned()));
    };
    let output = draft.output.get_ref();
    let mut components = Path::new(output).components();
    match (components.next(), components.next()) {
        (Some(Component::Normal(_)), None) => {
            Ok(incident_dir.join(DRAFTS_DIR).join(output.as_str()))
        }
        _ => Err(DraftError::BadOutput {
            step: step.id().to_owned(),
            output: output.clone(),
        }),
    }
}

/// SHA-256 of the last `draft.saved` of `step_id` in the incident's folded state (see the
/// module doc): what [`save`] and [`record`] compare a version with.
pub fn last_saved<'a>(incident: &'a Incident, step_id: &str) -> Option<&'a str> {
    incident
        .drafts
        .iter()
        .rev()
        .find(|d| d.step.as_deref() == Some(step_id))
        .map(|d| d.sha256.as_str())
}

/// The SHA-256 a journalled `draft.saved` records (`None` for any other event).
pub fn saved_sha256(event: &Event) -> Option<String> {
    match event.payload() {
        Ok(Payload::DraftSaved(saved)) => Some(saved.sha256),
        _ => None,
    }
}

/// Write `text` to the step's draft file and journal `draft.saved` (file, SHA-256, bytes) when
/// it differs from `last`, the SHA-256 of the last saved version ([`last_saved`]). Returns the
/// journalled event, or `None` when the content was unchanged.
pub fn save(
    journal: &Journal,
    incident_dir: &Path,
    step: &Step,
    text: &str,
    last: Option<&str>,
) -> Result<Option<Event>, DraftError> {
    let file = path(incident_dir, step)?;
    let io = |source| DraftError::Io {
        path: file.clone(),
        source,
    };
    if let Some(dir) = file.parent() {
        crate::private::ensure_dir(dir).map_err(io)?;
    }
    // Write-then-rename so an editor or export never sees half a draft.
    crate::private::write_atomic(&file, text.as_bytes(), crate::private::FILE_MODE).map_err(io)?;
    journal_if_changed(journal, incident_dir, step, text.as_bytes(), last)
}

fn journal_if_changed(
    journal: &Journal,
    incident_dir: &Path,
    step: &Step,
    bytes: &[u8],
    last: Option<&str>,
) -> Result<Option<Event>, DraftError> {
    let sha256 = sha256_hex(bytes);
    if last == Some(sha256.as_str()) {
        return Ok(None);
    }
    let file = path(incident_dir, step)?;
    let relative = file
        .strip_prefix(incident_dir)
        .unwrap_or(&file)
        .to_string_lossy()
        .replace('\\', "/");
    let event = journal.append_blocking(NewEvent::step(
        step.id(),
        DraftSaved {
            file: relative,
            sha256,
            bytes: bytes.len() as u64,
        },
    ))?;
    Ok(Some(event))
}

/// After an edit: read the draft file back and journal it if it differs from `last` (the
/// SHA-256 of the last saved version: [`Prepared::last_saved`] after [`prepare`]).
pub fn record(
    journal: &Journal,
    incident_dir: &Path,
    step: &Step,
    last: Option<&str>,
) -> Result<Option<Event>, DraftError> {
    let file = path(incident_dir, step)?;
    let bytes = crate::private::read(&file).map_err(|source| DraftError::Io {
        path: file.clone(),
        source,
    })?;
    journal_if_changed(journal, incident_dir, step, &bytes, last)
}

/// A draft file ready for the editor ([`prepare`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    pub file: PathBuf,
    /// SHA-256 of the step's last saved version now: the incident's, or the first render's
    /// when `prepare` saved one. What [`record`] compares the edited file with.
    pub last_saved: Option<String>,
}

/// Make sure the draft file exists: render it (its timeline streamed from the journal in
/// `incident_dir`, see [`timeline::read`]) and save it the first time; afterwards keep the
/// responder's edits (re-rendering would overwrite them). `incident` is the folded state
/// (no events needed).
pub fn prepare(
    rb: &runbook::Loaded,
    step_id: &str,
    incident: &Incident,
    journal: &Journal,
    incident_dir: &Path,
) -> Result<Prepared, DraftError> {
    let (step, _) = draft_step(&rb.runbook, step_id)?;
    let file = path(incident_dir, step)?;
    let mut last = last_saved(incident, step_id).map(str::to_owned);
    match std::fs::symlink_metadata(&file) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let text = render(rb, step_id, incident, timeline::read(incident_dir)?)?;
            if let Some(saved) = save(journal, incident_dir, step, &text, last.as_deref())? {
                last = saved_sha256(&saved);
            }
        }
        Ok(meta) if !meta.is_file() => {
            // A link (or anything else) under the draft's name: the editor would write
            // through it, so the responder has to look at it first.
            return Err(DraftError::Io {
                path: file,
                source: std::io::Error::other(
                    "not a regular file (a symbolic link?); stanch will not edit through it: remove it and try again",
                ),
            });
        }
        Ok(_) => {}
        Err(source) => return Err(DraftError::Io { path: file, source }),
    }
    Ok(Prepared {
        file,
        last_saved: last,
    })
}

/// The editor command: `$EDITOR`, else `$VISUAL`, else `vi`.
pub fn editor_command() -> String {
    ["EDITOR", "VISUAL"]
        .iter()
        .filter_map(|v| std::env::var(v).ok())
        .find(|v| !v.trim().is_empty())
        .unwrap_or_else(|| "vi".to_owned())
}

/// The environment variables the editor inherits (with every `LC_*`): what an editor needs
/// to find its program, configuration, terminal, locale and display. Nothing else passes, so
/// a secret loaded from any variable (`STANCH_*`, `ES_CREDS`, a cloud token) never reaches
/// the editor or the plug-ins it runs.
pub const EDITOR_ENV: &[&str] = &[
    "PATH",
    "HOME",
    "USER",
    "LOGNAME",
    "SHELL",
    "TERM",
    "COLORTERM",
    "TERMINFO",
    "TERMINFO_DIRS",
    "COLUMNS",
    "LINES",
    "NO_COLOR",
    "LANG",
    "LANGUAGE",
    "TZ",
    "TMPDIR",
    "TMUX",
    "TMUX_PANE",
    "DISPLAY",
    "WAYLAND_DISPLAY",
    "XAUTHORITY",
    "XDG_RUNTIME_DIR",
    "XDG_CONFIG_HOME",
    "XDG_CONFIG_DIRS",
    "XDG_DATA_HOME",
    "XDG_DATA_DIRS",
    "XDG_CACHE_HOME",
    "XDG_STATE_HOME",
    "EDITOR",
    "VISUAL",
    "VIMINIT",
    "NVIM_APPNAME",
];

/// Whether the editor may inherit the variable `name` (see [`EDITOR_ENV`]).
pub fn editor_may_inherit(name: &str) -> bool {
    EDITOR_ENV.contains(&name) || name.starts_with("LC_")
}

/// Open `path` in the user's editor and wait for it (see [`edit_with`]).
pub fn edit_in_editor(path: &Path) -> Result<(), DraftError> {
    edit_with(&editor_command(), path)
}

/// Run `editor` (split on whitespace, so `code --wait` works) on `path`, with only the
/// environment in [`EDITOR_ENV`], and wait for it to exit successfully.
pub fn edit_with(editor: &str, path: &Path) -> Result<(), DraftError> {
    let mut words = editor.split_whitespace();
    let program = words.next().unwrap_or("vi");
    let mut command = Command::new(program);
    command.args(words).arg(path).env_clear();
    for (name, value) in std::env::vars_os() {
        if name.to_str().is_some_and(editor_may_inherit) {
            command.env(name, value);
        }
    }
    let status = command.status().map_err(|source| DraftError::EditorSpawn {
        editor: editor.to_owned(),
        source,
    })?;
    if status.success() {
        Ok(())
    } else {
        Err(DraftError::EditorFailed {
            editor: editor.to_owned(),
            status: status.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gaps_are_found_in_order_once_each_and_listed_at_the_end() {
        let text =
            "A [to fill: who] and [to fill:  when ] then [to fill: who] [to fill: ] [to fill: open";
        assert_eq!(gaps(text), ["who", "when"]);
        let listed = with_gaps_listed("Dear [to fill: name],".to_owned());
        assert!(
            listed.ends_with("before sending.\n\n- [ ] name\n"),
            "{listed}"
        );
        assert_eq!(with_gaps_listed("all known\n".to_owned()), "all known\n");
    }

    /// Two draft steps of a parsed runbook, and a fresh journal.
    fn drafts() -> (tempfile::TempDir, runbook::Runbook, Journal) {
        let rb: runbook::Runbook = toml::from_str(
            "[runbook]\nid = \"x\"\ntitle = \"x\"\n\
             [[steps]]\nid = \"a\"\nphase = \"notify\"\ndraft = { template = \"a.j2\", output = \"a.md\" }\n\
             [[steps]]\nid = \"b\"\nphase = \"notify\"\ndraft = { template = \"b.j2\", output = \"b.md\" }\n",
        )
        .unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let journal = Journal::create(tmp.path(), "alice").unwrap();
        (tmp, rb, journal)
    }

    #[test]
    fn last_saved_is_the_steps_latest_version_in_the_folded_state() {
        let (tmp, rb, journal) = drafts();
        let (a, b) = (rb.step("a").unwrap(), rb.step("b").unwrap());
        let mut incident = Incident::default();
        assert_eq!(last_saved(&incident, "a"), None);
        for (step, text) in [(a, "a1"), (b, "b1"), (a, "a2"), (b, "b2")] {
            let last = last_saved(&incident, step.id()).map(str::to_owned);
            let event = save(&journal, tmp.path(), step, text, last.as_deref())
                .unwrap()
                .expect("a new version is journalled");
            assert_eq!(saved_sha256(&event), Some(sha256_hex(text.as_bytes())));
            incident.apply(event);
        }
        assert_eq!(last_saved(&incident, "a"), Some(sha256_hex(b"a2").as_str()));
        assert_eq!(last_saved(&incident, "b"), Some(sha256_hex(b"b2").as_str()));
        assert_eq!(last_saved(&incident, "c"), None);
        // The state a checkpoint saves carries it.
        let restored: Incident =
            serde_json::from_str(&serde_json::to_string(&incident).unwrap()).unwrap();
        assert_eq!(last_saved(&restored, "a"), Some(sha256_hex(b"a2").as_str()));
    }

    #[test]
    fn unchanged_content_is_not_journalled_again() {
        let (tmp, rb, journal) = drafts();
        let (a, b) = (rb.step("a").unwrap(), rb.step("b").unwrap());
        let mut incident = Incident::default();
        let first = save(&journal, tmp.path(), a, "same", None)
            .unwrap()
            .unwrap();
        incident.apply(first);
        let last = last_saved(&incident, "a");
        assert!(
            save(&journal, tmp.path(), a, "same", last)
                .unwrap()
                .is_none()
        );
        assert!(record(&journal, tmp.path(), a, last).unwrap().is_none());
        // The same text in another step is that step's first version.
        assert!(
            save(&journal, tmp.path(), b, "same", last_saved(&incident, "b"))
                .unwrap()
                .is_some()
        );
        // Changed on disk (an editor): journalled once, then unchanged again.
        std::fs::write(tmp.path().join("drafts/a.md"), "edited").unwrap();
        let edited = record(&journal, tmp.path(), a, last).unwrap().unwrap();
        incident.apply(edited);
        assert!(
            record(&journal, tmp.path(), a, last_saved(&incident, "a"))
                .unwrap()
                .is_none()
        );
        let kinds: Vec<crate::journal::Kind> = crate::journal::read(tmp.path())
            .unwrap()
            .iter()
            .map(|e| e.kind)
            .collect();
        assert_eq!(kinds, [crate::journal::Kind::DraftSaved; 3]);
    }

    #[test]
    fn only_the_allow_list_reaches_the_editor() {
        for name in ["PATH", "HOME", "TERM", "LANG", "LC_ALL", "LC_CTYPE", "USER"] {
            assert!(editor_may_inherit(name), "{name}");
        }
        for name in [
            "STANCH_ES_API_KEY",
            "STANCH_DATA_DIR",
            "ES_CREDS",
            "GITHUB_TOKEN",
            "AWS_SECRET_ACCESS_KEY",
            "SSH_AUTH_SOCK",
            "LD_PRELOAD",
            "path",
        ] {
            assert!(!editor_may_inherit(name), "{name}");
        }
    }
}
