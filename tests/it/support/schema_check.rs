//! A validator for the subset of JSON Schema 2020-12 that `schema/postmortem.schema.json`
//! uses (type, const, enum, required, properties, additionalProperties, items, $ref, oneOf,
//! minimum, format date-time). It refuses keywords it does not know, so the schema cannot
//! grow a rule this check silently ignores. `pattern` is left to `schema/validate.py`.

#![allow(dead_code)]

use std::path::PathBuf;

use serde_json::Value;

pub fn schema() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema/postmortem.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Validate `value` against `node` of `root`; push "path: problem" for each violation.
#[expect(
    clippy::too_many_lines,
    reason = "one match over the JSON Schema keywords the schemas use"
)]
pub fn validate(root: &Value, node: &Value, value: &Value, path: &str, errors: &mut Vec<String>) {
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

pub fn errors_of(value: &Value) -> Vec<String> {
    let root = schema();
    let mut errors = Vec::new();
    validate(&root, &root, value, "", &mut errors);
    errors
}
