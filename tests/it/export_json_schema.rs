//! The JSON export validates against `schema/postmortem.schema.json`: with a small validator
//! for the subset of JSON Schema 2020-12 the schema uses (here, always), and with Python's
//! `jsonschema` via `schema/validate.py` (when installed; skipped with a loud message if not).
//! Both are shown to reject broken documents, so a pass means something.

use crate::support::export_fixture as fixture;
use crate::support::schema_check;

use schema_check::errors_of;

use std::path::PathBuf;

use serde_json::{Value, json};
use stanch::export::{self, Format};

fn export_json(drill: bool) -> Value {
    let text = export::render(
        &fixture::recorded(drill).incident(),
        &fixture::sources(),
        Format::Json,
    );
    serde_json::from_str(&text).unwrap()
}

type Breakage = Box<dyn Fn(&mut Value)>;

#[test]
fn json_export_of_real_and_drill_incidents_validates_against_the_schema() {
    for drill in [false, true] {
        let value = export_json(drill);
        assert_eq!(value["schema_version"], 1);
        assert_eq!(value["drill"], drill);
        assert_eq!(value.get("watermark").is_some(), drill);
        let errors = errors_of(&value);
        assert!(errors.is_empty(), "drill={drill}: {errors:#?}");
    }
}

#[test]
fn the_validator_rejects_broken_documents() {
    let good = export_json(true);
    let breakages: Vec<(&str, Breakage)> = vec![
        (
            "missing field",
            Box::new(|v| {
                v.as_object_mut().unwrap().remove("timeline");
            }),
        ),
        (
            "renamed field",
            Box::new(|v| {
                v["summary"]["incidentId"] = json!("x");
            }),
        ),
        (
            "wrong type",
            Box::new(|v| v["journal"]["final_seq"] = json!("41")),
        ),
        (
            "bad enum",
            Box::new(|v| v["steps"][0]["status"] = json!("done")),
        ),
        (
            "local time",
            Box::new(|v| v["timeline"][0]["at"] = json!("2019-12-26T18:02:00+01:00")),
        ),
        (
            "unknown deadline status",
            Box::new(|v| v["deadlines"][1]["status"] = json!("late")),
        ),
        (
            "review section without its prompt field",
            Box::new(|v| {
                v["review"]["lessons"]
                    .as_object_mut()
                    .unwrap()
                    .remove("prompt");
            }),
        ),
        (
            "comparison row with a text time",
            Box::new(|v| v["comparison"][0]["team_ms"] = json!("39m")),
        ),
        (
            "wrong version",
            Box::new(|v| v["schema_version"] = json!(2)),
        ),
    ];
    for (what, breakage) in breakages {
        let mut broken = good.clone();
        breakage(&mut broken);
        assert!(!errors_of(&broken).is_empty(), "{what} was not caught");
    }
}

#[test]
fn times_are_rfc3339_utc_and_field_names_are_stable() {
    let value = export_json(false);
    assert_eq!(value["summary"]["opened_at"], "2019-12-26T18:02:00Z");
    assert_eq!(
        value["notification_window"]["deadline"],
        "2019-12-29T18:00:00Z"
    );
    assert_eq!(value["notification_window"]["status"], "met");
    assert_eq!(value["journal"]["final_seq"], 41);
    assert_eq!(value["action_items"].as_array().unwrap().len(), 2);
    assert_eq!(value["action_items"][0]["owner"], "bob");
    assert_eq!(value["action_items"][0]["due"], "2019-12-27");
    assert_eq!(value["action_items"][1]["owner"], Value::Null);
    assert_eq!(value["deadlines"][0]["id"], "gdpr-art33");
    assert_eq!(value["deadlines"][0]["due"], "2019-12-29T18:00:00Z");
    assert_eq!(value["deadlines"][0]["status"], "met");
    assert_eq!(value["review"]["lucky"]["prompt"], Value::Null);
    assert!(value["review"]["lessons"]["prompt"].is_string());
}

#[test]
fn python_jsonschema_accepts_the_export_and_rejects_a_broken_one() {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema/validate.py");
    let dir = tempfile::tempdir().unwrap();
    let good = dir.path().join("good.json");
    let bad = dir.path().join("bad.json");
    let mut value = export_json(true);
    std::fs::write(&good, serde_json::to_string(&value).unwrap()).unwrap();
    value["evidence"][0]["sha256"] = json!("not-a-hash");
    std::fs::write(&bad, serde_json::to_string(&value).unwrap()).unwrap();
    let run = |file: &PathBuf| {
        std::process::Command::new("python3")
            .arg(&script)
            .arg(file)
            .output()
    };
    let Ok(out) = run(&good) else {
        eprintln!(
            "\n!!!!! SKIPPED: python3 is not installed; the Rust validator above still ran !!!!!\n"
        );
        return;
    };
    if out.status.code() == Some(2) {
        eprintln!(
            "\n!!!!! SKIPPED: python3 jsonschema is not installed (apt-get install python3-jsonschema) !!!!!\n"
        );
        return;
    }
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = run(&bad).unwrap();
    assert_eq!(
        out.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("sha256"));
}
