//! `stanch run RUNBOOK --headless`: the real binary against a local server, asserting on its
//! output, its exit code and the journal it leaves.

use crate::support::engine as support;

use std::path::Path;
use std::process::Output;

use serde_json::json;
use stanch::journal::{Event, Journal, Kind, NewEvent};

fn runbook() -> String {
    r#"
[runbook]
id = "headless-test"
title = "Headless test"

[inputs.base]
prompt = "Base URL of the service"
[inputs.index]
prompt = "Exposed index"
default = "customers"

[targets.svc]
url = "{{ inputs.base }}"

# Declared before the step it needs: headless runs in dependency order.
[[steps]]
id = "close"
phase = "contain"
needs = ["count"]
confirm = "{{ inputs.index }}"
mark = "contained"
http = { target = "svc", method = "POST", path = "/count/close" }

[[steps]]
id = "count"
phase = "confirm"
http = { target = "svc", method = "GET", path = "/json" }
capture = { exposed = "response.json.count" }

[[steps]]
id = "legal"
phase = "notify"
manual = ["Counsel informed", "GDPR clock started"]

[[steps]]
id = "forum-post"
phase = "notify"
needs = ["legal"]
draft = { template = "forum.md.j2", output = "forum-post.md" }
"#
    .to_owned()
}

/// The runbook and the draft template it names.
fn write_runbook(path: &Path) {
    std::fs::write(path, runbook()).unwrap();
    std::fs::write(path.with_file_name("forum.md.j2"), "# {{ incident.id }}\n").unwrap();
}

async fn stanch(data: &Path, args: &[&str]) -> Output {
    tokio::process::Command::new(env!("CARGO_BIN_EXE_stanch"))
        .args(args)
        .env("STANCH_DATA_DIR", data)
        .env("USER", "ci-responder")
        .output()
        .await
        .unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn journal(data: &Path, id: &str) -> Vec<Event> {
    support::verify_chain(&data.join("incidents").join(id))
}

fn line<'a>(text: &'a str, step: &str) -> &'a str {
    text.lines()
        .find(|l| l.split_whitespace().any(|w| w == step))
        .unwrap_or_else(|| panic!("no line for {step} in:\n{text}"))
}

#[tokio::test]
async fn runs_in_dependency_order_needs_yes_for_destructive_steps_and_lists_human_steps() {
    let srv = support::server().await;
    let dir = tempfile::tempdir().unwrap();
    let rb = dir.path().join("rb.toml");
    write_runbook(&rb);
    let data = dir.path().join("data");
    let set = format!("base={}", srv.url);
    let rb_arg = rb.to_str().unwrap();

    let out = stanch(
        &data,
        &[
            "run",
            rb_arg,
            "--headless",
            "--incident",
            "INC-H",
            "--set",
            &set,
        ],
    )
    .await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    let order: Vec<&str> = text
        .lines()
        .skip(1)
        .take(4)
        .filter_map(|l| {
            l.split_whitespace()
                .find(|w| ["count", "close", "legal", "forum-post"].contains(w))
        })
        .collect();
    assert_eq!(order, ["count", "close", "legal", "forum-post"], "{text}");
    assert!(line(&text, "count").starts_with("ok"), "{text}");
    assert!(line(&text, "count").contains("exposed = 3"), "{text}");
    assert!(line(&text, "close").contains("NEEDS --yes"), "{text}");
    assert!(line(&text, "close").contains("pass --yes"), "{text}");
    assert!(
        line(&text, "legal").contains("manual checklist (2 items)"),
        "{text}"
    );
    assert!(
        line(&text, "forum-post").starts_with("needs human"),
        "{text}"
    );
    assert!(text.contains("for a human: legal, forum-post"), "{text}");
    assert!(
        srv.seen.counters.lock().unwrap().get("close").is_none(),
        "destructive step ran without --yes"
    );

    let events = journal(&data, "INC-H");
    assert_eq!(events[0].kind, Kind::IncidentOpened);
    assert_eq!(
        events[0].data_value()["inputs"],
        json!({ "base": srv.url, "index": "customers" })
    );
    assert_eq!(events[0].actor, "ci-responder");
    let pending: Vec<_> = events
        .iter()
        .filter(|e| e.kind == Kind::StepPending)
        .collect();
    assert_eq!(pending[0].step.as_deref(), Some("legal"));
    assert!(events.iter().all(|e| e.kind != Kind::Confirm));

    // Same incident, now with --yes: only the destructive step runs; it is recorded as --yes.
    let out = stanch(
        &data,
        &["run", rb_arg, "--headless", "--yes", "--incident", "INC-H"],
    )
    .await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(line(&text, "count").starts_with("done"), "{text}");
    assert!(line(&text, "close").starts_with("ok"), "{text}");
    assert!(text.contains("done: "), "{text}");
    assert_eq!(srv.seen.counters.lock().unwrap()["close"], 1);
    let events = journal(&data, "INC-H");
    let confirm = events.iter().find(|e| e.kind == Kind::Confirm).unwrap();
    assert_eq!(confirm.data_value()["via"], "--yes");
    assert_eq!(confirm.data_value()["expected"], "customers");
    assert!(
        events
            .iter()
            .any(|e| e.kind == Kind::Mark && e.data_value()["name"] == "contained")
    );
    // Step events of a run come before its outcome, and the outcome is last for the step.
    let close: Vec<_> = events
        .iter()
        .filter(|e| e.step.as_deref() == Some("close"))
        .map(|e| e.kind.as_str())
        .collect();
    assert_eq!(
        close,
        [
            "confirm",
            "step.started",
            "http.request",
            "http.response",
            "mark",
            "step.succeeded"
        ]
    );
}

#[tokio::test]
async fn a_missing_input_is_named_with_its_prompt_and_no_incident_is_created() {
    let dir = tempfile::tempdir().unwrap();
    let rb = dir.path().join("rb.toml");
    write_runbook(&rb);
    let data = dir.path().join("data");
    let out = stanch(&data, &["run", rb.to_str().unwrap(), "--headless"]).await;
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("--set base=…   (Base URL of the service)"),
        "{err}"
    );
    assert!(
        !err.contains("index="),
        "inputs with defaults are not missing: {err}"
    );
    assert!(
        !data.join("incidents").exists()
            || std::fs::read_dir(data.join("incidents")).unwrap().count() == 0
    );

    let out = stanch(
        &data,
        &["run", rb.to_str().unwrap(), "--headless", "--set", "nope=1"],
    )
    .await;
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("the runbook has no input `nope` (its inputs: base, index)"),
        "{err}"
    );
}

#[tokio::test]
async fn an_interrupted_step_is_reported_on_resume_and_not_resent() {
    let srv = support::server().await;
    let dir = tempfile::tempdir().unwrap();
    let rb = dir.path().join("rb.toml");
    write_runbook(&rb);
    let data = dir.path().join("data");
    let set = format!("base={}", srv.url);
    let rb_arg = rb.to_str().unwrap();
    let out = stanch(
        &data,
        &[
            "run",
            rb_arg,
            "--headless",
            "--incident",
            "INC-I",
            "--set",
            &set,
        ],
    )
    .await;
    assert_eq!(out.status.code(), Some(1));

    // Simulate a crash during `close`: started, synced, no outcome.
    let inc = data.join("incidents/INC-I");
    {
        let (journal, _) = Journal::open(&inc, "ci-responder").unwrap();
        journal
            .append_blocking(NewEvent::for_step(
                Kind::StepStarted,
                "close",
                json!({ "attempt": 1, "rerun": false }),
            ))
            .unwrap();
    }
    let out = stanch(
        &data,
        &["run", rb_arg, "--headless", "--yes", "--incident", "INC-I"],
    )
    .await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(line(&text, "close").starts_with("INTERRUPTED"), "{text}");
    assert!(line(&text, "close").contains("NOT re-sent"), "{text}");
    assert!(
        srv.seen.counters.lock().unwrap().get("close").is_none(),
        "an interrupted step was re-sent"
    );
    let events = journal(&data, "INC-I");
    let interrupted = events
        .iter()
        .find(|e| e.kind == Kind::StepInterrupted)
        .unwrap();
    let started = events
        .iter()
        .rev()
        .find(|e| e.kind == Kind::StepStarted)
        .unwrap();
    assert_eq!(interrupted.data_value()["started_seq"], started.seq);
}

#[tokio::test]
async fn a_failed_step_blocks_what_needs_it_and_the_exit_code_is_nonzero() {
    let srv = support::server().await;
    let dir = tempfile::tempdir().unwrap();
    let rb = dir.path().join("rb.toml");
    std::fs::write(
        &rb,
        format!(
            r#"
[runbook]
id = "fail"
title = "Fail"
[targets.svc]
url = "{url}"
[[steps]]
id = "broken"
phase = "confirm"
http = {{ target = "svc", method = "GET", path = "/status/500" }}
[[steps]]
id = "dependent"
phase = "contain"
needs = ["broken"]
http = {{ target = "svc", method = "GET", path = "/json" }}
[[steps]]
id = "independent"
phase = "contain"
http = {{ target = "svc", method = "GET", path = "/json" }}
"#,
            url = srv.url
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let out = stanch(
        &data,
        &[
            "run",
            rb.to_str().unwrap(),
            "--headless",
            "--incident",
            "INC-F",
        ],
    )
    .await;
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(line(&text, "broken").starts_with("FAILED"), "{text}");
    assert!(
        line(&text, "broken").contains("server answered 500"),
        "{text}"
    );
    assert!(line(&text, "dependent").starts_with("blocked"), "{text}");
    assert!(
        line(&text, "dependent").contains("needs `broken`, which is FAILED"),
        "{text}"
    );
    assert!(line(&text, "independent").starts_with("ok"), "{text}");
    assert!(
        text.contains("NOT DONE: 1 ok, 1 failed, 0 need a human, 0 interrupted, 1 blocked"),
        "{text}"
    );
    let events = journal(&data, "INC-F");
    assert!(
        events
            .iter()
            .all(|e| e.step.as_deref() != Some("dependent"))
    );
}

/// `store::create` writes `incident.opened` for every command: a headless run started with a
/// relative runbook path records the canonical path, so the incident finds its runbook from
/// any directory (it used to record the path as typed).
#[tokio::test]
async fn a_headless_incident_opened_from_a_relative_path_records_the_canonical_one() {
    let dir = tempfile::tempdir().unwrap();
    write_runbook(&dir.path().join("rb.toml"));
    let data = dir.path().join("data");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_stanch"))
        .args(["run", "rb.toml", "--headless", "--incident", "INC-REL"])
        .args(["--set", "base=http://127.0.0.1:9"])
        .current_dir(dir.path())
        .env("STANCH_DATA_DIR", &data)
        .env("USER", "ci-responder")
        .output()
        .await
        .unwrap();
    assert!(
        data.join("incidents/INC-REL").exists(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let opened = &journal(&data, "INC-REL")[0];
    let Ok(stanch::journal::Payload::IncidentOpened(p)) = opened.payload() else {
        panic!("first event: {opened:?}");
    };
    let canonical = std::fs::canonicalize(dir.path().join("rb.toml")).unwrap();
    assert_eq!(p.runbook_path.as_deref(), canonical.to_str());
    assert_eq!(
        (p.responder.as_deref(), p.drill, p.incident_id.as_str()),
        (Some("ci-responder"), false, "INC-REL")
    );
    assert_eq!(p.runbook_sha256.len(), 64);
}
