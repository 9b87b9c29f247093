//! `stanch export` end to end with the real binary: Markdown to stdout by default, `--format`
//! and `-o`, the runbook and drafts read from disk, and a clear error for an unknown incident.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::json;
use stanch::journal::{Journal, Kind, NewEvent};

fn export(data: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_stanch"))
        .arg("export")
        .args(args)
        .env("STANCH_DATA_DIR", data)
        .output()
        .unwrap()
}

/// An incident in `<tmp>/data` opened from a runbook in `<tmp>`, with one saved draft.
fn recorded(tmp: &Path, drill: bool) -> PathBuf {
    let fixtures = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/export");
    let rb_path = tmp.join("runbook.toml");
    std::fs::copy(fixtures.join("runbook.toml"), &rb_path).unwrap();
    // The export only parses the runbook for titles and phases (its hash proves it is the
    // one the incident ran with), so this fixture need not pass `stanch check` on its own.
    let rb_sha = stanch::journal::event::sha256_hex(&std::fs::read(&rb_path).unwrap());
    let data = tmp.join("data");
    let dir = data.join("incidents/INC-CLI");
    let journal = Journal::create(&dir, "alice").unwrap();
    let draft = "Dear users,\n";
    std::fs::create_dir_all(dir.join("drafts")).unwrap();
    std::fs::write(dir.join("drafts/forum-post.md"), draft).unwrap();
    for event in [
        NewEvent::new(
            Kind::IncidentOpened,
            json!({
                "incident_id": "INC-CLI", "runbook_id": "elasticsearch-exposure", "runbook_title": "Elasticsearch index exposed to the internet",
                "runbook_sha256": rb_sha, "runbook_path": rb_path.to_string_lossy(), "inputs": {},
                "responder": "alice", "drill": drill,
            }),
        ),
        NewEvent::for_step(
            Kind::StepSkipped,
            "block-read",
            json!({"reason": "closed instead"}),
        ),
        NewEvent::for_step(
            Kind::DraftSaved,
            "forum-post",
            json!({
                "file": "drafts/forum-post.md", "sha256": stanch::journal::event::sha256_hex(draft.as_bytes()), "bytes": draft.len(),
            }),
        ),
    ] {
        journal.append_blocking(event).unwrap();
    }
    data
}

#[test]
fn markdown_goes_to_stdout_by_default_with_runbook_titles_and_drafts() {
    let tmp = tempfile::tempdir().unwrap();
    let data = recorded(tmp.path(), false);
    let out = export(&data, &["INC-CLI"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let md = String::from_utf8(out.stdout).unwrap();
    assert!(md.starts_with("# Post-mortem: Elasticsearch index exposed to the internet (INC-CLI)"));
    assert!(
        md.contains("| Put a read block on the index (block-read) | contain | skipped |"),
        "titles and phases from the runbook"
    );
    assert!(md.contains("Dear users,") && md.contains("the file matches this hash"));
}

#[test]
fn format_and_output_file_are_honoured_and_a_changed_runbook_is_reported() {
    let tmp = tempfile::tempdir().unwrap();
    let data = recorded(tmp.path(), true);
    std::fs::write(
        tmp.path().join("runbook.toml"),
        "# edited after the incident\n",
    )
    .unwrap();
    std::fs::write(
        data.join("incidents/INC-CLI/drafts/forum-post.md"),
        "edited outside\n",
    )
    .unwrap();
    let file = tmp.path().join("out/pm.json");
    let out = export(
        &data,
        &["INC-CLI", "--format", "json", "-o", file.to_str().unwrap()],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.stdout.is_empty());
    let json: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    assert_eq!(json["watermark"], "DRILL");
    assert_eq!(json["drafts"][0]["check"], "modified");
    assert!(
        json["warnings"][0]
            .as_str()
            .unwrap()
            .contains("changed since the incident opened")
    );
    let out = export(&data, &["INC-CLI", "--format", "html"]);
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("<!DOCTYPE html>"));
}

#[test]
fn an_unknown_incident_is_a_clear_error() {
    let tmp = tempfile::tempdir().unwrap();
    let out = export(tmp.path(), &["INC-NOPE"]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no incident `INC-NOPE`"), "{err}");
}
