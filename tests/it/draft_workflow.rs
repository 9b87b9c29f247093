//! Drafts: rendering a draft step's template against an incident, saving (journalled only on
//! change), editing with a fake `$EDITOR`, refusing secrets, and `stanch draft ID STEP` end to
//! end with the real binary.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;
use stanch::draft::{self, DraftError};
use stanch::incident::Incident;
use stanch::journal::{Journal, Kind, NewEvent};
use stanch::runbook;

struct Setup {
    _tmp: tempfile::TempDir,
    data: PathBuf,
    incident_dir: PathBuf,
    runbook: runbook::Loaded,
    /// `None` once closed, so the real binary can take the journal's writer lock.
    journal: Option<Journal>,
}

impl Setup {
    fn journal(&self) -> &Journal {
        self.journal.as_ref().expect("journal open")
    }
}

/// A runbook copied into a temp dir and an incident (real journal) opened from it.
fn setup() -> Setup {
    let tmp = tempfile::tempdir().unwrap();
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/draft");
    let rb_dir = tmp.path().join("runbooks");
    std::fs::create_dir_all(&rb_dir).unwrap();
    for f in ["runbook.toml", "forum-post.md.j2", "leaky.md.j2"] {
        std::fs::copy(fixtures.join(f), rb_dir.join(f)).unwrap();
    }
    let runbook = runbook::load(&rb_dir.join("runbook.toml")).unwrap();
    let data = tmp.path().join("data");
    let incident_dir = data.join("incidents").join("INC-1");
    let journal = Journal::create(&incident_dir, "alice").unwrap();
    let append = |kind, step: Option<&str>, data| {
        let event = match step {
            Some(step) => NewEvent::for_step(kind, step, data),
            None => NewEvent::new(kind, data),
        };
        journal.append_blocking(event).unwrap();
    };
    append(
        Kind::IncidentOpened,
        None,
        json!({
            "incident_id": "INC-1", "runbook_id": "draft-test", "runbook_title": "Draft test runbook",
            "runbook_sha256": runbook.sha256, "runbook_path": runbook.path.to_string_lossy(),
            "inputs": {"index": "customers"}, "responder": "alice", "drill": false,
        }),
    );
    append(
        Kind::Mark,
        None,
        json!({"name": "aware", "at": "2019-12-26T18:00:00Z"}),
    );
    append(
        Kind::Mark,
        None,
        json!({"name": "contained", "at": "2019-12-26T18:09:02Z"}),
    );
    append(
        Kind::StepSucceeded,
        Some("count-exposed"),
        json!({"duration_ms": 5, "summary": "counted", "captures": {"exposed_docs": 2_400_000}}),
    );
    Setup {
        _tmp: tmp,
        data,
        incident_dir,
        runbook,
        journal: Some(journal),
    }
}

fn incident(s: &Setup) -> Incident {
    Incident::replay(stanch::journal::read(&s.incident_dir).unwrap())
}

/// Render against an incident replayed in memory, quoting its own timeline.
fn render(rb: &runbook::Loaded, step: &str, incident: &Incident) -> Result<String, DraftError> {
    draft::render(rb, step, incident, draft::timeline::of(incident)?)
}

/// The SHA-256 of the step's last saved version, as the journal's folded state says.
fn last(s: &Setup, step: &str) -> Option<String> {
    draft::last_saved(&incident(s), step).map(str::to_owned)
}

fn draft_events(s: &Setup) -> usize {
    incident(s).drafts.len()
}

fn step<'a>(s: &'a Setup, id: &str) -> &'a runbook::Step {
    s.runbook.runbook.step(id).unwrap()
}

fn fake_editor(dir: &Path, body: &str) -> PathBuf {
    let path = dir.join("fake-editor.sh");
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

#[test]
fn render_fills_the_template_from_inputs_vars_marks_and_incident() {
    let s = setup();
    let text = render(&s.runbook, "forum-post", &incident(&s)).unwrap();
    assert!(text.contains("About 2400000 customer records"), "{text}");
    assert!(
        text.contains("We learned of it at\n2019-12-26T18:00:00Z (UTC)"),
        "{text}"
    );
    assert!(text.contains("until\n2019-12-26T18:09:02Z (UTC)"), "{text}");
    assert!(text.contains("Reference: INC-1."));
    assert!(
        text.contains("For a period we are still establishing"),
        "no exposure_began mark yet"
    );
    assert!(text.contains("Re-link Alexa, Google Assistant and IFTTT"));
    assert!(!text.contains("DRILL"));
}

#[test]
fn context_holds_no_secrets_namespace_and_templates_naming_secrets_are_refused() {
    let s = setup();
    let replayed = incident(&s);
    let ctx = serde_json::to_value(draft::context(
        &replayed,
        Some(&s.runbook.runbook),
        draft::timeline::of(&replayed).unwrap(),
    ))
    .unwrap();
    assert!(ctx.get("secrets").is_none());
    for key in [
        "inputs",
        "vars",
        "marks",
        "timeline",
        "incident",
        "impact",
        "measures",
        "deadlines",
    ] {
        assert!(ctx.get(key).is_some(), "{key}");
    }
    assert_eq!(ctx["timeline"].as_array().unwrap().len(), 4);
    let err = render(&s.runbook, "leaky", &incident(&s)).unwrap_err();
    assert!(matches!(err, DraftError::SecretsInTemplate { .. }), "{err}");
    assert!(
        err.to_string().contains("secrets are not available"),
        "{err}"
    );
}

#[test]
fn non_draft_steps_unknown_steps_and_escaping_outputs_are_errors() {
    let s = setup();
    let inc = incident(&s);
    assert!(matches!(
        render(&s.runbook, "legal", &inc),
        Err(DraftError::NotADraft(_))
    ));
    assert!(matches!(
        render(&s.runbook, "nope", &inc),
        Err(DraftError::UnknownStep(_))
    ));
    // `stanch check` rejects such a runbook; `draft::path` refuses it on its own as well.
    let unchecked: runbook::Runbook = toml::from_str(
        "[runbook]\nid = \"x\"\ntitle = \"x\"\n[[steps]]\nid = \"escape\"\nphase = \"notify\"\ndraft = { template = \"t.j2\", output = \"../escape.md\" }\n",
    )
    .unwrap();
    assert!(matches!(
        draft::path(&s.incident_dir, unchecked.step("escape").unwrap()),
        Err(DraftError::BadOutput { .. })
    ));
    assert_eq!(
        draft::path(&s.incident_dir, step(&s, "forum-post")).unwrap(),
        s.incident_dir.join("drafts/forum-post.md")
    );
}

#[test]
fn save_journals_only_when_the_content_changes() {
    let s = setup();
    let st = step(&s, "forum-post");
    let first = draft::save(s.journal(), &s.incident_dir, st, "v1\n", None)
        .unwrap()
        .expect("first save journals");
    assert_eq!(first.kind, Kind::DraftSaved);
    assert_eq!(first.data_value()["file"], "drafts/forum-post.md");
    assert_eq!(
        first.data_value()["sha256"],
        stanch::journal::event::sha256_hex(b"v1\n")
    );
    assert_eq!(first.data_value()["bytes"], 3);
    assert!(
        draft::save(
            s.journal(),
            &s.incident_dir,
            st,
            "v1\n",
            last(&s, "forum-post").as_deref()
        )
        .unwrap()
        .is_none(),
        "same text: no event"
    );
    assert!(
        draft::save(
            s.journal(),
            &s.incident_dir,
            st,
            "v2\n",
            last(&s, "forum-post").as_deref()
        )
        .unwrap()
        .is_some()
    );
    assert_eq!(draft_events(&s), 2);
    assert_eq!(
        std::fs::read_to_string(s.incident_dir.join("drafts/forum-post.md")).unwrap(),
        "v2\n"
    );
}

#[test]
fn editing_with_a_fake_editor_records_the_new_version() {
    let s = setup();
    let inc = incident(&s);
    let prepared =
        draft::prepare(&s.runbook, "forum-post", &inc, s.journal(), &s.incident_dir).unwrap();
    let file = prepared.file;
    assert_eq!(
        draft_events(&s),
        1,
        "prepare renders and saves the first version"
    );
    let editor = fake_editor(
        s.data.parent().unwrap(),
        "echo 'Edited by counsel.' >> \"$1\"",
    );
    draft::edit_with(editor.to_str().unwrap(), &file).unwrap();
    let saved = draft::record(
        s.journal(),
        &s.incident_dir,
        step(&s, "forum-post"),
        prepared.last_saved.as_deref(),
    )
    .unwrap()
    .expect("changed");
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.ends_with("Edited by counsel.\n"));
    assert_eq!(
        saved.data_value()["sha256"],
        stanch::journal::event::sha256_hex(text.as_bytes())
    );
    // A second prepare keeps the edits instead of re-rendering.
    let again = draft::prepare(
        &s.runbook,
        "forum-post",
        &incident(&s),
        s.journal(),
        &s.incident_dir,
    )
    .unwrap();
    assert_eq!(
        again.last_saved.as_deref(),
        Some(stanch::journal::event::sha256_hex(text.as_bytes()).as_str())
    );
    assert!(
        std::fs::read_to_string(&file)
            .unwrap()
            .ends_with("Edited by counsel.\n")
    );
    assert!(
        draft::record(
            s.journal(),
            &s.incident_dir,
            step(&s, "forum-post"),
            again.last_saved.as_deref()
        )
        .unwrap()
        .is_none()
    );
    assert_eq!(draft_events(&s), 2);
}

#[test]
fn a_failing_editor_is_reported_and_nothing_is_recorded() {
    let s = setup();
    let file = draft::prepare(
        &s.runbook,
        "forum-post",
        &incident(&s),
        s.journal(),
        &s.incident_dir,
    )
    .unwrap()
    .file;
    let editor = fake_editor(s.data.parent().unwrap(), "echo junk >> \"$1\"; exit 3");
    let err = draft::edit_with(editor.to_str().unwrap(), &file).unwrap_err();
    assert!(matches!(err, DraftError::EditorFailed { .. }), "{err}");
    assert!(matches!(
        draft::edit_with("/nonexistent/editor", &file),
        Err(DraftError::EditorSpawn { .. })
    ));
}

fn stanch(s: &Setup, editor: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_stanch"))
        .args(args)
        .env("STANCH_DATA_DIR", &s.data)
        .env("EDITOR", editor)
        .env("STANCH_ES_API_KEY", "canary-3f9a1c")
        .env("GITHUB_TOKEN", "canary-token")
        .output()
        .unwrap()
}

#[test]
fn stanch_draft_renders_edits_and_journals_without_leaking_secret_env_to_the_editor() {
    let mut s = setup();
    s.journal = None;
    let editor = fake_editor(
        s.data.parent().unwrap(),
        "printf 'secret env seen by the editor: %s\\n' \"$(env | grep -c -e '^STANCH_' -e '_TOKEN=')\" >> \"$1\"",
    );
    let out = stanch(&s, &editor, &["draft", "INC-1", "forum-post"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("saved"));
    let text = std::fs::read_to_string(s.incident_dir.join("drafts/forum-post.md")).unwrap();
    assert!(text.contains("About 2400000 customer records"));
    assert!(text.contains("secret env seen by the editor: 0"), "{text}");
    assert_eq!(draft_events(&s), 2, "rendered version + edited version");

    let unchanged = fake_editor(s.data.parent().unwrap(), "true");
    let out = stanch(&s, &unchanged, &["draft", "INC-1", "forum-post"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("unchanged"));
    assert_eq!(draft_events(&s), 2);
}

#[test]
fn stanch_draft_fails_clearly_when_the_runbook_moved() {
    let mut s = setup();
    s.journal = None;
    std::fs::rename(&s.runbook.path, s.runbook.path.with_extension("moved")).unwrap();
    let editor = fake_editor(s.data.parent().unwrap(), "true");
    let out = stanch(&s, &editor, &["draft", "INC-1", "forum-post"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("is no longer at") && err.contains("runbook.toml"),
        "{err}"
    );
}
