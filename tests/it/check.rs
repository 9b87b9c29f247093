//! `stanch check` and the runbook validator, end to end.
//!
//! Every file in `tests/fixtures/bad/` is an invalid runbook with one mistake; its exact
//! rendered diagnostic is in the `.expected` file beside it, so a change in wording, span or
//! layout fails here. Regenerate after an intended change with
//! `UPDATE_EXPECT=1 cargo test --test it check::` and review the diff.
//!
//! The bundled runbook must pass, and its expressions must mean what its notes say when
//! evaluated against responses shaped like the real Elasticsearch and OAuth APIs.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;
use stanch::runbook;
use stanch::template::Templates;

const BAD: &str = "tests/fixtures/bad";
const BUNDLED: &str = "runbooks/elasticsearch-exposure.toml";

/// Check one fixture against its `.expected` rendering; exactly one problem per fixture, so
/// each file proves that its own mistake is caught (and nothing else fires by accident).
fn check_fixture(name: &str) {
    check_fixture_in(BAD, name);
}

/// [`check_fixture`] for the fixtures under `dir` (the AWS ones live in their own folder).
pub(crate) fn check_fixture_in(dir: &str, name: &str) {
    let path = PathBuf::from(dir).join(format!("{name}.toml"));
    let source = std::fs::read_to_string(&path).unwrap();
    let display = path.display().to_string();
    let problems = runbook::check_source(&display, &source);
    let rendered = runbook::render_diagnostics(&display, &source, &problems);
    let expected_path = path.with_extension("expected");
    if std::env::var_os("UPDATE_EXPECT").is_some() {
        std::fs::write(&expected_path, &rendered).unwrap();
    }
    let expected = std::fs::read_to_string(&expected_path).unwrap_or_else(|_| {
        panic!(
            "missing {}; run with UPDATE_EXPECT=1",
            expected_path.display()
        )
    });
    assert_eq!(
        problems.len(),
        1,
        "{name}: want exactly one problem, got:\n{rendered}"
    );
    assert_eq!(rendered, expected, "{name}: rendered diagnostic changed");
}

macro_rules! bad_fixtures {
    ($($name:ident),* $(,)?) => {
        const FIXTURES: &[&str] = &[$(stringify!($name)),*];
        $(
            #[test]
            fn $name() {
                check_fixture(stringify!($name));
            }
        )*
    };
}

bad_fixtures!(
    toml_syntax,
    unknown_field,
    unknown_http_field,
    wrong_type,
    expect_not_a_list,
    missing_field,
    no_action,
    two_actions,
    two_actions_manual_first,
    duplicate_id,
    unknown_needs,
    dependency_cycle,
    needs_itself,
    template_syntax_target,
    template_syntax_path,
    template_syntax_json,
    template_syntax_confirm,
    expression_syntax_expect,
    expression_syntax_capture,
    expression_syntax_when,
    unknown_test,
    unknown_filter,
    undeclared_input,
    undeclared_secret,
    vars_never_captured,
    vars_not_needed,
    vars_own_capture,
    item_outside_foreach,
    response_in_path,
    secret_in_confirm,
    unknown_namespace,
    unknown_mark_in_template,
    unknown_incident_field,
    unknown_target,
    unknown_method,
    bad_duration,
    duration_without_unit,
    zero_duration,
    retry_every_after_deadline,
    retry_post_without_expect,
    bad_size,
    missing_draft_template,
    draft_template_syntax,
    draft_not_needed,
    unknown_mark,
    secret_without_source,
    secret_two_sources,
    foreach_without_http,
    concurrency_zero,
    concurrency_without_foreach,
    empty_checklist,
    capture_name_not_identifier,
    bad_step_id,
    expect_on_manual,
    allow_redirect_with_expect,
);

#[test]
fn every_fixture_file_has_a_test_and_there_are_at_least_25() {
    let mut on_disk: Vec<String> = std::fs::read_dir(BAD)
        .unwrap()
        .filter_map(|e| {
            let path = e.unwrap().path();
            (path.extension()? == "toml").then(|| path.file_stem()?.to_str().map(str::to_owned))?
        })
        .collect();
    on_disk.sort();
    let mut listed: Vec<String> = FIXTURES.iter().map(|s| (*s).to_owned()).collect();
    listed.sort();
    assert_eq!(
        on_disk, listed,
        "fixture files and tests must match one to one"
    );
    assert!(listed.len() >= 25, "only {} fixtures", listed.len());
}

#[test]
fn bundled_runbook_passes_check() {
    let source = std::fs::read_to_string(BUNDLED).unwrap();
    let problems = runbook::check_source(BUNDLED, &source);
    assert!(
        problems.is_empty(),
        "{}",
        runbook::render_diagnostics(BUNDLED, &source, &problems)
    );
}

#[test]
fn bundled_runbook_loads_with_the_contract_inputs_secrets_and_targets() {
    let loaded = runbook::load(Path::new(BUNDLED)).unwrap();
    let rb = &loaded.runbook;
    for input in [
        "es_url",
        "index",
        "snapshot_repo",
        "snapshot_location",
        "auth_url",
        "oauth_client_id",
        "third_party_clients",
        "forum_url",
        "status_webhook_url",
    ] {
        assert!(rb.inputs.contains_key(input), "input {input}");
    }
    assert_eq!(rb.inputs["index"].default.as_deref(), Some("customers"));
    assert_eq!(
        rb.inputs["third_party_clients"].default.as_deref(),
        Some("alexa-skill,google-assistant,ifttt")
    );
    for (secret, env) in [
        ("es_api_key", "STANCH_ES_API_KEY"),
        ("oauth_client_secret", "STANCH_OAUTH_SECRET"),
        ("forum_token", "STANCH_FORUM_TOKEN"),
    ] {
        assert_eq!(
            rb.secrets[secret].env.as_deref(),
            Some(env),
            "secret {secret}"
        );
    }
    for target in ["es", "outside", "auth", "forum", "chat"] {
        assert!(rb.targets.contains_key(target), "target {target}");
    }
    assert!(
        rb.targets["outside"].auth.is_none() && rb.targets["outside"].headers.is_empty(),
        "the outsider probe must carry no credentials"
    );
    assert_eq!(
        rb.phases(),
        [
            "confirm",
            "contain",
            "preserve",
            "eradicate",
            "notify",
            "recover",
            "review"
        ]
    );
    let marks: Vec<&str> = rb
        .steps
        .iter()
        .filter_map(|s| s.mark.as_ref().map(|m| m.get_ref().as_str()))
        .collect();
    for mark in [
        "contained",
        "evidence_preserved",
        "rotated",
        "notified",
        "resolved",
    ] {
        assert!(marks.contains(&mark), "mark {mark} set by some step");
    }
    assert!(
        rb.steps
            .iter()
            .all(|s| s.notes.as_deref().is_some_and(|n| n.len() > 40)),
        "every step explains itself"
    );
    let close = rb.step("close-index").unwrap();
    assert_eq!(
        close.confirm.as_ref().unwrap().get_ref(),
        "{{ inputs.index }}"
    );
}

/// The bundled runbook's expressions, evaluated on responses shaped like the real APIs.
#[expect(
    clippy::too_many_lines,
    reason = "one end-to-end scenario read top to bottom"
)]
#[test]
fn bundled_runbook_expressions_mean_what_the_notes_say() {
    let loaded = runbook::load(Path::new(BUNDLED)).unwrap();
    let rb = &loaded.runbook;
    let t = Templates::new();
    let eval = |step: &str, expr: &str, ctx: &serde_json::Value| {
        let s = rb.step(step).unwrap();
        let found = s.expect.iter().any(|e| e.get_ref() == expr)
            || s.capture.values().any(|e| e.get_ref() == expr)
            || s.when.as_ref().is_some_and(|w| w.get_ref() == expr);
        assert!(found, "{step} has no expression `{expr}`");
        t.eval(expr, ctx).unwrap()
    };

    let stale = rb.step("list-api-keys").unwrap().capture["stale_api_keys"]
        .get_ref()
        .clone();
    let keys = json!({
        "inputs": {"responder_key_name": "stanch-responder"},
        "response": {"json": {"api_keys": [
            {"id": "own", "name": "stanch-responder", "invalidated": false},
            {"id": "k1", "name": "metrics-ingest", "invalidated": false},
            {"id": "k2", "name": "kibana-dashboards", "invalidated": true},
        ]}}
    });
    let ids = eval("list-api-keys", &stale, &keys);
    assert_eq!(
        stanch::template::to_json(&ids),
        json!(["k1"]),
        "never our own key, never an invalidated one"
    );

    let status = |state: &str| json!({"response": {"status": 200, "json": {"snapshots": [{"state": state}]}}});
    let done = "response.json.snapshots[0].state == 'SUCCESS'";
    assert!(eval("snapshot-status", done, &status("SUCCESS")).is_true());
    assert!(!eval("snapshot-status", done, &status("IN_PROGRESS")).is_true());

    // The read block: by the `_block` API from 7.9, by the index setting before; never once
    // the index is contained.
    let block = "'contained' not in marks and vars.es_version is version_at_least('7.9')";
    let setting = "'contained' not in marks and not (vars.es_version is version_at_least('7.9'))";
    let at = |version: &str, contained: bool| {
        let marks = if contained {
            json!({"contained": "2019-12-26T18:30:00Z"})
        } else {
            json!({})
        };
        json!({"marks": marks, "vars": {"es_version": version}})
    };
    for (version, api) in [
        ("7.4.2", false),
        ("7.9.0", true),
        ("7.10.2", true),
        ("8.15.0", true),
    ] {
        assert_eq!(
            eval("block-reads", block, &at(version, false)).is_true(),
            api,
            "{version}"
        );
        assert_eq!(
            eval("block-reads-setting", setting, &at(version, false)).is_true(),
            !api,
            "{version}"
        );
        assert!(!eval("block-reads", block, &at(version, true)).is_true());
        assert!(!eval("block-reads-setting", setting, &at(version, true)).is_true());
    }

    // Containment is the exact answer of a closed or read-blocked index, nothing else.
    let contained = "(response.status == 400 and response.json.error.type == 'index_closed_exception') or (response.status == 403 and response.json.error.type == 'cluster_block_exception')";
    let answer = |status: u16, kind: &str| json!({"response": {"status": status, "json": {"error": {"type": kind}}}});
    assert!(
        eval(
            "verify-contained",
            contained,
            &answer(400, "index_closed_exception")
        )
        .is_true()
    );
    assert!(
        eval(
            "verify-contained",
            contained,
            &answer(403, "cluster_block_exception")
        )
        .is_true()
    );
    for (status, kind) in [
        (404, "index_not_found_exception"),
        (401, "security_exception"),
        (403, "security_exception"),
        (503, "unavailable_shards_exception"),
    ] {
        assert!(
            !eval("verify-contained", contained, &answer(status, kind)).is_true(),
            "{status} {kind}"
        );
    }

    // A PARTIAL snapshot is SUCCESS in `_status`: the failed shards decide.
    let no_failed = "response.json.snapshots[0].shards_stats.failed == 0";
    let partial = json!({"response": {"json": {"snapshots": [{"state": "SUCCESS", "shards_stats": {"failed": 1}}]}}});
    assert!(!eval("snapshot-status", no_failed, &partial).is_true());

    // path.repo from the nodes info API: absent is empty.
    let repo = rb.step("check-path-repo").unwrap().capture["path_repo"]
        .get_ref()
        .clone();
    let nodes = |settings: serde_json::Value| json!({"response": {"json": {"nodes": {"n1": {"settings": settings}}}}});
    assert_eq!(
        stanch::template::to_json(&eval(
            "check-path-repo",
            &repo,
            &nodes(json!({"path": {"repo": ["/mnt/snap"]}}))
        )),
        json!(["/mnt/snap"])
    );
    assert_eq!(
        stanch::template::to_json(&eval(
            "check-path-repo",
            &repo,
            &nodes(json!({"path": {"home": "/usr/share"}}))
        )),
        json!([])
    );

    // Discovery: endpoints are taken relative to the issuer, and only when under it.
    let under = "response.json.revocation_endpoint is startingwith(inputs.issuer ~ '/')";
    let doc = |endpoint: &str| json!({"inputs": {"issuer": "https://id.example/realms/x"}, "response": {"json": {"revocation_endpoint": endpoint}}});
    assert!(
        eval(
            "discover-auth-server",
            under,
            &doc("https://id.example/realms/x/protocol/openid-connect/revoke")
        )
        .is_true()
    );
    assert!(
        !eval(
            "discover-auth-server",
            under,
            &doc("https://evil.example/revoke")
        )
        .is_true()
    );
    assert!(
        !eval(
            "discover-auth-server",
            under,
            &doc("https://id.example/realms/xy/revoke")
        )
        .is_true()
    );
    let path = rb.step("discover-auth-server").unwrap().capture["revocation_path"]
        .get_ref()
        .clone();
    assert_eq!(
        stanch::template::to_json(&eval(
            "discover-auth-server",
            &path,
            &doc("https://id.example/realms/x/protocol/openid-connect/revoke")
        )),
        json!("/protocol/openid-connect/revoke")
    );

    let alexa = "'alexa-skill' in inputs.third_party_clients";
    assert!(
        eval(
            "list-alexa-tokens",
            alexa,
            &json!({"inputs": {"third_party_clients": "alexa-skill,ifttt"}})
        )
        .is_true()
    );
    assert!(
        !eval(
            "list-alexa-tokens",
            alexa,
            &json!({"inputs": {"third_party_clients": "ifttt"}})
        )
        .is_true()
    );

    let dead = "response.json.active == false";
    assert!(
        eval(
            "verify-alexa-revoked",
            dead,
            &json!({"response": {"json": {"active": false}}})
        )
        .is_true()
    );
    assert!(
        !eval(
            "verify-alexa-revoked",
            dead,
            &json!({"response": {"json": {"active": true, "client_id": "alexa-skill"}}})
        )
        .is_true()
    );

    // A 200 is never contained, however the body looks.
    assert!(
        !eval(
            "verify-contained",
            contained,
            &answer(200, "index_closed_exception")
        )
        .is_true()
    );
}

#[test]
fn several_mistakes_are_all_reported_in_source_order() {
    let source = r#"
[runbook]
id = "multi"
title = "Multi"

[[steps]]
id = "b"
phase = "confirm"
needs = ["nope"]
manual = ["x"]

[[steps]]
id = "a"
phase = "contain"
mark = "done"

[[steps]]
id = "a"
phase = "contain"
http = { target = "es", method = "GET", path = "/{{ inputs.x }}" }
"#;
    let problems = runbook::check_source("multi.toml", source);
    let messages: Vec<&str> = problems.iter().map(|p| p.message.as_str()).collect();
    assert_eq!(
        messages,
        [
            "step `b` needs unknown step `nope`",
            "step `a` has no action",
            "unknown mark `done`",
            "duplicate step id `a`",
            "unknown target `es`",
            "undeclared input `x` in `http.path` of step `a`",
        ]
    );
}

#[test]
fn load_error_carries_the_full_report_and_count() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rb.toml");
    std::fs::write(
        &path,
        "[runbook]\nid = \"x\"\ntitle = \"X\"\n[[steps]]\nid = \"a\"\nphase = \"p\"\n",
    )
    .unwrap();
    match runbook::load(&path) {
        Err(runbook::LoadError::Invalid { rendered, count }) => {
            assert_eq!(count, 1);
            assert!(rendered.contains("step `a` has no action"), "{rendered}");
            assert!(
                rendered.contains(&format!("[{}:5:6]", path.display())),
                "{rendered}"
            );
        }
        other => panic!("expected Invalid, got {other:?}"),
    }
}

#[test]
fn load_rejects_non_utf8_without_panicking() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("rb.toml");
    std::fs::write(&path, b"[runbook]\nid = \"\xff\"\n").unwrap();
    let err = runbook::load(&path).unwrap_err().to_string();
    assert!(
        err.contains("not UTF-8 text (invalid byte at offset 16)"),
        "{err}"
    );
}

fn stanch(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_stanch"))
        .args(args)
        .output()
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn cli_check_bundled_runbook_prints_summary_and_exits_0() {
    let (code, stdout, stderr) = stanch(&["check", BUNDLED]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let rb = runbook::load(Path::new(BUNDLED)).unwrap().runbook;
    let destructive = rb.steps.iter().filter(|s| s.is_destructive()).count();
    assert_eq!(
        stdout,
        format!(
            "ok  {BUNDLED}: {} steps in 7 phases, {destructive} destructive\n",
            rb.steps.len()
        )
    );
}

#[test]
fn cli_check_prints_the_fixture_diagnostic_and_exits_1() {
    let path = format!("{BAD}/dependency_cycle.toml");
    let (code, stdout, _) = stanch(&["check", &path]);
    assert_eq!(code, 1);
    let expected = std::fs::read_to_string(format!("{BAD}/dependency_cycle.expected")).unwrap();
    assert_eq!(stdout, format!("{expected}error: {path}: 1 problem\n\n"));
}

#[test]
fn cli_check_reports_every_file_and_fails_if_any_is_bad() {
    let bad = format!("{BAD}/unknown_target.toml");
    let (code, stdout, _) = stanch(&["check", BUNDLED, &bad, "no/such/runbook.toml"]);
    assert_eq!(code, 1);
    assert!(stdout.starts_with(&format!("ok  {BUNDLED}: ")), "{stdout}");
    assert!(stdout.contains("× unknown target `ouside`"), "{stdout}");
    assert!(
        stdout.contains("error: cannot read runbook no/such/runbook.toml"),
        "{stdout}"
    );
}

#[test]
fn cli_check_validates_drill_scenarios_by_their_own_rules() {
    let scenario = "runbooks/drills/reference-2019.toml";
    let (code, stdout, stderr) = stanch(&["check", BUNDLED, scenario]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(
        stdout.ends_with(&format!("ok  {scenario}: drill scenario\n")),
        "{stdout}"
    );

    // The same scenario with a misspelt field must fail and point at it.
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.toml");
    let text = std::fs::read_to_string(scenario).unwrap();
    std::fs::write(
        &broken,
        text.replacen("[scenario]\n", "[scenario]\ntitel = \"x\"\n", 1),
    )
    .unwrap();
    let broken = broken.display().to_string();
    let (code, stdout, _) = stanch(&["check", &broken]);
    assert_eq!(code, 1, "{stdout}");
    assert!(stdout.contains("titel"), "{stdout}");
    assert!(
        stdout.contains(&format!("error: {broken}: invalid drill scenario")),
        "{stdout}"
    );
    // Rendered like a runbook's problems (one renderer: miette), not in a style of its own.
    assert!(
        stdout.contains("  × unknown field `titel`, expected one of"),
        "{stdout}"
    );
    assert!(stdout.contains(&format!("╭─[{broken}:15:1]")), "{stdout}");
    assert!(stdout.contains("15 │ titel = \"x\""), "{stdout}");
    assert!(!stdout.contains(" --> "), "{stdout}");
}

#[test]
fn a_cycle_through_thousands_of_steps_is_named_without_overflowing_the_stack() {
    use std::fmt::Write as _;
    let n = 5_000;
    let mut source = String::from("[runbook]\nid = \"long\"\ntitle = \"Long\"\n");
    for i in 0..n {
        let next = (i + 1) % n;
        let _ = write!(
            source,
            "[[steps]]\nid = \"s{i}\"\nphase = \"p\"\nneeds = [\"s{next}\"]\nmanual = [\"x\"]\n"
        );
    }
    let problems = runbook::check_source("long.toml", &source);
    assert_eq!(problems.len(), 1);
    let message = &problems[0].message;
    assert!(
        message.starts_with("dependency cycle: s0 → s1 → s2 → "),
        "{message}"
    );
    assert!(message.ends_with(" → s4998 → s4999 → s0"), "{message}");
}
