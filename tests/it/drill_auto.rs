//! `stanch drill --auto` on the bundled runbook, as the real binary, on every profile's
//! scenario (7.4.2 security off, 7.10.2 on, 8.x on; or the flags): it passes, and the score it
//! journals shows the lab contained (index closed, zero active Alexa tokens, a SUCCESS snapshot
//! where `path.repo` allows one), with no lab secret in the journal. The inject scenarios: an
//! empty `path.repo` is handled (the snapshot steps give way to a manual volume copy); an
//! index reopened by an outsider on a security-off cluster is caught, and the drill fails.

use std::process::Command;

use rstest::rstest;
use serde_json::Value;
use stanch::lab::Credentials;

fn events(dir: &std::path::Path, id: &str) -> (String, Vec<Value>) {
    let text = std::fs::read_to_string(dir.join("incidents").join(id).join("journal.jsonl"))
        .expect("the drill wrote a journal");
    let events = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    (text, events)
}

fn step_line<'a>(stdout: &'a str, step: &str) -> &'a str {
    stdout
        .lines()
        .find(|l| {
            l.split_whitespace().nth(1) == Some(step) || l.split_whitespace().nth(2) == Some(step)
        })
        .unwrap_or_else(|| panic!("no line for {step} in\n{stdout}"))
}

#[rstest]
#[case::reference_7_4_security_off(&[], "7.4.2", false, true)]
#[case::v7_10_security_on(&["--scenario", "runbooks/drills/es-7.10-security-on.toml"], "7.10.2", true, true)]
#[case::v8_security_on(&["--scenario", "runbooks/drills/es-8-security-on.toml"], "8.15.0", true, true)]
#[case::flags_override_the_scenario(&["--es-version", "7.10.2", "--security", "on"], "7.10.2", true, true)]
#[case::inject_path_repo_empty(&["--scenario", "runbooks/drills/path-repo-empty.toml"], "7.4.2", false, false)]
fn drill_auto_passes_and_leaves_the_lab_contained(
    #[case] args: &[&str],
    #[case] version: &str,
    #[case] security_on: bool,
    #[case] snapshot: bool,
) {
    let data = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_stanch"))
        .args(["drill", "--auto", "--incident", "DRILL-TEST"])
        .args(args)
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("STANCH_DATA_DIR", data.path())
        .env_remove("STANCH_ES_API_KEY")
        .env_remove("STANCH_OAUTH_SECRET")
        .env_remove("STANCH_FORUM_TOKEN")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("DRILL SCORE"), "{stdout}");

    let (text, events) = events(data.path(), "DRILL-TEST");
    let opened = &events[0];
    assert_eq!(opened["kind"], "incident.opened");
    assert_eq!(
        opened["data"]["drill"], true,
        "drill incidents are watermarked"
    );

    let kinds: Vec<&str> = events.iter().map(|e| e["kind"].as_str().unwrap()).collect();
    assert!(kinds.contains(&"fact"));
    let marks: Vec<&str> = events
        .iter()
        .filter(|e| e["kind"] == "mark")
        .map(|e| e["data"]["name"].as_str().unwrap())
        .collect();
    for mark in ["exposure_began", "reported", "contained"] {
        assert!(marks.contains(&mark), "mark {mark} missing: {marks:?}");
    }
    assert_eq!(marks.contains(&"evidence_preserved"), snapshot, "{marks:?}");
    // The runbook read the version the lab reports, and took that version's calls.
    assert!(
        step_line(&stdout, "probe-outside").contains(&format!("es_version = \"{version}\"")),
        "{stdout}"
    );
    assert!(
        step_line(&stdout, "security-status")
            .contains(&format!("security_enabled = {security_on}")),
        "{stdout}"
    );
    let api_keys = step_line(
        &stdout,
        if version == "7.4.2" {
            "invalidate-api-keys-by-id"
        } else {
            "invalidate-api-keys"
        },
    );
    assert_eq!(api_keys.starts_with("ok"), security_on, "{api_keys}");
    if snapshot {
        assert!(
            step_line(&stdout, "snapshot-status").starts_with("ok"),
            "{stdout}"
        );
    } else {
        assert!(
            step_line(&stdout, "register-snapshot-repo").starts_with("skipped"),
            "{stdout}"
        );
        assert!(
            step_line(&stdout, "snapshot-status").starts_with("skipped"),
            "{stdout}"
        );
    }

    let score = &events
        .iter()
        .rfind(|e| e["kind"] == "drill.score")
        .expect("a drill.score event")["data"];
    let lab = &score["lab"];
    let customers = lab["indices"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "customers")
        .unwrap();
    assert_eq!(customers["closed"], true);
    assert_eq!(customers["exposed"], false);
    assert_eq!(
        lab["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["state"] == "SUCCESS"),
        snapshot,
        "{lab}"
    );
    assert_eq!(
        lab["invalidated_api_keys"].as_array().unwrap().len(),
        if security_on { 2 } else { 0 },
        "{lab}"
    );
    assert_eq!(lab["active_tokens"]["alexa-skill"], 0);
    let passed: Vec<&str> = score["checks"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["passed"] == true)
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    for check in [
        "index unreadable from outside",
        "leaked tokens inactive (RFC 7662)",
    ] {
        assert!(passed.contains(&check), "{check} not passed: {score}");
    }
    assert_eq!(
        passed.contains(&"evidence snapshot succeeded"),
        snapshot,
        "{score}"
    );

    for secret in Credentials::from_seed(2019).values() {
        assert!(!text.contains(secret), "a lab secret reached the journal");
        assert!(
            !stdout.contains(secret),
            "a lab secret reached the terminal"
        );
    }
}

#[test]
fn drill_auto_exits_non_zero_when_a_step_fails_and_still_scores() {
    let data = tempfile::tempdir().unwrap();
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let reference =
        std::fs::read_to_string(root.join("runbooks/drills/reference-2019.toml")).unwrap();
    // The same drill, but the runbook is pointed at a port where nothing listens.
    let broken = reference
        .replace(
            "runbook = \"../elasticsearch-exposure.toml\"",
            &format!(
                "runbook = \"{}\"",
                root.join("runbooks/elasticsearch-exposure.toml").display()
            ),
        )
        .replace(
            "es_url = \"{{ lab.es_url }}\"",
            "es_url = \"http://127.0.0.1:9\"",
        );
    assert_ne!(broken, reference);
    let scenario = data.path().join("broken.toml");
    std::fs::write(&scenario, broken).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_stanch"))
        .args([
            "drill",
            "--auto",
            "--incident",
            "DRILL-BROKEN",
            "--scenario",
        ])
        .arg(&scenario)
        .env("STANCH_DATA_DIR", data.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    assert!(stdout.contains("FAILED"), "{stdout}");
    assert!(stdout.contains("DRILL FAILED"), "{stdout}");
    let (_, events) = events(data.path(), "DRILL-BROKEN");
    let score = &events
        .iter()
        .rfind(|e| e["kind"] == "drill.score")
        .expect("scored even when steps failed")["data"];
    assert_eq!(
        score["lab"]["indices"][0]["exposed"], true,
        "nothing was contained"
    );
}

#[test]
fn drill_auto_catches_an_index_reopened_by_an_outsider_on_a_security_off_cluster() {
    let data = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_stanch"))
        .args([
            "drill",
            "--auto",
            "--incident",
            "DRILL-REOPEN",
            "--scenario",
        ])
        .arg("runbooks/drills/reopened-index.toml")
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("STANCH_DATA_DIR", data.path())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(!output.status.success(), "{stdout}");
    // Containment was verified with the exact answer, then the late re-check caught the reopen.
    assert!(
        step_line(&stdout, "verify-contained").starts_with("ok"),
        "{stdout}"
    );
    let recheck = step_line(&stdout, "recheck-contained");
    assert!(recheck.starts_with("FAILED"), "{recheck}");
    assert!(recheck.contains("server answered 200"), "{recheck}");
    assert!(stdout.contains("DRILL FAILED"), "{stdout}");
    let (_, events) = events(data.path(), "DRILL-REOPEN");
    let score = &events
        .iter()
        .rfind(|e| e["kind"] == "drill.score")
        .expect("scored")["data"];
    assert_eq!(score["lab"]["indices"][0]["exposed"], true, "{score}");
}
