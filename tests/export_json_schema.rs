//! The JSON export validates against `schema/postmortem.schema.json`: with a small validator
//! for the subset of JSON Schema 2020-12 the schema uses (here, always), and with Python's
//! `jsonschema` via `schema/validate.py` (when installed; skipped with a loud message if not).
//! Both are shown to reject broken documents, so a pass means something.

#[path = "support/export_fixture.rs"]
mod fixture;

use std::path::PathBuf;

use serde_json::{Value, json};
use stanch::export::{self, Format};

fn schema() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema/postmortem.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

fn export_json(drill: bool) -> Value {
    let text = export::render(
        &fixture::recorded(drill).incident(),
        &fixture::sources(),
        Format::Json,
    );
    serde_json::from_str(&text).unwrap()
}

/// Validate `value` against `node` of `root`; push "path: problem" for each violation.
fn validate(root: &Value, node: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
    let Some(node) = node.as_object() else {
        errors.push(format!("{path}: schema node is not an object"));
        return;
    };
    for key in node.keys() {
        let known = [
            "$schema",
            "$id",
            "title",
            "description",
            "type",
            "const",
            "enum",
            "required",
            "properties",
            "additionalProperties",
            "items",
            "$ref",
            "$defs",
            "oneOf",
            "minimum",
            "format",
            "pattern",
        ];
        assert!(
            known.contains(&key.as_str()),
            "validator does not know keyword {key}"
        );
    }
    if let Some(reference) = node.get("$ref").and_then(Value::as_str) {
        let name = reference.strip_prefix("#/$defs/").expect("local $ref");
        validate(root, &root["$defs"][name], value, path, errors);
    }
    if let Some(ty) = node.get("type") {
        let types: Vec<&str> = match ty {
            Value::String(s) => vec![s.as_str()],
            Value::Array(a) => a.iter().filter_map(Value::as_str).collect(),
            _ => vec![],
        };
        let ok = types.iter().any(|t| match *t {
            "object" => value.is_object(),
            "array" => value.is_array(),
            "string" => value.is_string(),
            "integer" => value.is_i64() || value.is_u64(),
            "number" => value.is_number(),
            "boolean" => value.is_boolean(),
            "null" => value.is_null(),
            _ => false,
        });
        if !ok {
            errors.push(format!("{path}: expected {types:?}, got {value}"));
            return;
        }
    }
    if let Some(c) = node.get("const").filter(|c| *c != value) {
        errors.push(format!("{path}: expected const {c}, got {value}"));
    }
    if let Some(options) = node
        .get("enum")
        .and_then(Value::as_array)
        .filter(|o| !o.contains(value))
    {
        errors.push(format!("{path}: {value} not in {options:?}"));
    }
    if let (Some(min), Some(n)) = (node.get("minimum").and_then(Value::as_i64), value.as_i64())
        && n < min
    {
        errors.push(format!("{path}: {n} < minimum {min}"));
    }
    if node.get("format").and_then(Value::as_str) == Some("date-time")
        && let Some(s) = value.as_str()
        && (s.parse::<jiff::Timestamp>().is_err() || !s.ends_with('Z'))
    {
        errors.push(format!("{path}: {s} is not an RFC 3339 UTC time"));
    }
    if let Some(options) = node.get("oneOf").and_then(Value::as_array) {
        let matching = options
            .iter()
            .filter(|o| {
                let mut sub = Vec::new();
                validate(root, o, value, path, &mut sub);
                sub.is_empty()
            })
            .count();
        if matching != 1 {
            errors.push(format!(
                "{path}: matches {matching} of oneOf, not exactly one"
            ));
        }
    }
    if let Some(obj) = value.as_object() {
        for field in node
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            let field = field.as_str().unwrap();
            if !obj.contains_key(field) {
                errors.push(format!("{path}: missing required {field}"));
            }
        }
        let props = node.get("properties").and_then(Value::as_object);
        for (key, v) in obj {
            match props.and_then(|p| p.get(key)) {
                Some(sub) => validate(root, sub, v, &format!("{path}/{key}"), errors),
                None if node.get("additionalProperties") == Some(&Value::Bool(false)) => {
                    errors.push(format!("{path}: unexpected field {key}"));
                }
                None => {}
            }
        }
    }
    if let (Some(items), Some(list)) = (node.get("items"), value.as_array()) {
        for (i, v) in list.iter().enumerate() {
            validate(root, items, v, &format!("{path}/{i}"), errors);
        }
    }
}

type Breakage = Box<dyn Fn(&mut Value)>;

fn errors_of(value: &Value) -> Vec<String> {
    let root = schema();
    let mut errors = Vec::new();
    validate(&root, &root, value, "", &mut errors);
    errors
}

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
            Box::new(|v| v["journal"]["final_seq"] = json!("37")),
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
    assert_eq!(value["journal"]["final_seq"], 37);
    assert_eq!(value["action_items"].as_array().unwrap().len(), 2);
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
