//! `stanch drill --auto` on the bundled runbook and reference scenario, as the real binary:
//! it passes, and the score it journals shows the lab contained (index closed, a SUCCESS
//! snapshot, zero active Alexa tokens), with no lab secret in the journal.

use std::process::Command;

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

#[test]
fn drill_auto_passes_and_leaves_the_lab_contained() {
    let data = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_stanch"))
        .args(["drill", "--auto", "--incident", "DRILL-TEST"])
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
    for mark in [
        "exposure_began",
        "reported",
        "contained",
        "evidence_preserved",
    ] {
        assert!(marks.contains(&mark), "mark {mark} missing: {marks:?}");
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
    assert!(
        lab["snapshots"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["state"] == "SUCCESS"),
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
        "evidence snapshot succeeded",
    ] {
        assert!(passed.contains(&check), "{check} not passed: {score}");
    }

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
