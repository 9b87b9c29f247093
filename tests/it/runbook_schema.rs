//! `schema/runbook.schema.json` kept in step with the parser: every struct of the runbook
//! model, every field serde accepts in it and which of them are required are read from the
//! serde derives themselves (a tracing deserializer) and must match the schema exactly; the
//! bundled runbooks and `stanch new`'s starter validate against it with Python's jsonschema
//! (TOML → JSON by the toml crate), and runbooks the parser rejects for shape fail it too.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde::de::value::{BorrowedStrDeserializer, Error as DeError};
use serde::de::{DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::Value;
use stanch::runbook::Runbook;

/// What the tracer saw: struct name → the fields its derive accepts.
#[derive(Default)]
struct Trace {
    structs: BTreeMap<&'static str, Vec<&'static str>>,
    /// Leave this (struct, field) out, to learn whether serde insists on it.
    omit: Option<(&'static str, &'static str)>,
}

/// A deserializer that offers every field of every struct it is asked for, once, with a
/// placeholder value of the type asked for, and records the structs and fields.
#[derive(Clone, Copy)]
struct Tracer<'t> {
    trace: &'t RefCell<Trace>,
}

impl<'de> Deserializer<'de> for Tracer<'_> {
    type Error = DeError;

    // `toml::Value` (a JSON body) deserializes from anything: a string ends it.
    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_str("x")
    }
    fn deserialize_bool<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_bool(true)
    }
    fn deserialize_u32<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_u32(1)
    }
    fn deserialize_u64<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_u64(1)
    }
    fn deserialize_str<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_str("x")
    }
    fn deserialize_string<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_str("x")
    }
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_some(self)
    }
    fn deserialize_seq<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_seq(One {
            tracer: self,
            done: false,
        })
    }
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, DeError> {
        visitor.visit_map(Fields {
            tracer: self,
            keys: vec!["k"],
            next: 0,
        })
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, DeError> {
        let omit = self.trace.borrow().omit;
        // `toml::Spanned` is a struct on the wire; it is the value inside that counts.
        if !name.starts_with("$__") {
            self.trace
                .borrow_mut()
                .structs
                .insert(name, fields.to_vec());
        }
        let keys = fields
            .iter()
            .copied()
            .filter(|f| omit != Some((name, f)))
            .collect();
        visitor.visit_map(Fields {
            tracer: self,
            keys,
            next: 0,
        })
    }

    serde::forward_to_deserialize_any! {
        i8 i16 i32 i64 i128 u8 u16 u128 f32 f64 char bytes byte_buf unit unit_struct
        newtype_struct tuple tuple_struct enum identifier ignored_any
    }
}

struct One<'t> {
    tracer: Tracer<'t>,
    done: bool,
}

impl<'de> SeqAccess<'de> for One<'_> {
    type Error = DeError;
    fn next_element_seed<T: DeserializeSeed<'de>>(
        &mut self,
        seed: T,
    ) -> Result<Option<T::Value>, DeError> {
        if std::mem::replace(&mut self.done, true) {
            return Ok(None);
        }
        seed.deserialize(self.tracer).map(Some)
    }
}

struct Fields<'t> {
    tracer: Tracer<'t>,
    keys: Vec<&'static str>,
    next: usize,
}

impl<'de> MapAccess<'de> for Fields<'_> {
    type Error = DeError;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, DeError> {
        let Some(key) = self.keys.get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        seed.deserialize(BorrowedStrDeserializer::<DeError>::new(key))
            .map(Some)
    }
    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, DeError> {
        seed.deserialize(self.tracer)
    }
}

/// Trace `Runbook`'s derives, leaving out `omit`; the structs seen, or serde's error.
fn trace(omit: Option<(&'static str, &'static str)>) -> Result<Trace, String> {
    let cell = RefCell::new(Trace {
        omit,
        ..Trace::default()
    });
    <Runbook as serde::Deserialize>::deserialize(Tracer { trace: &cell })
        .map_err(|e| e.to_string())?;
    Ok(cell.into_inner())
}

fn schema() -> Value {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema/runbook.schema.json");
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The schema node for a model struct: the root for `Runbook`, else `definitions.<Name>`.
fn node<'s>(schema: &'s Value, name: &str) -> &'s Value {
    if name == "Runbook" {
        schema
    } else {
        schema["definitions"]
            .get(name)
            .unwrap_or_else(|| panic!("schema has no definitions.{name} for the model's struct"))
    }
}

#[test]
fn every_model_struct_field_and_required_field_is_in_the_schema_exactly() {
    let schema = schema();
    let traced = trace(None).expect("the tracer satisfies every derive");
    let names: BTreeSet<&str> = traced.structs.keys().copied().collect();
    // The tracer really walks the model: these are its structs today.
    for expected in [
        "Runbook",
        "Meta",
        "Input",
        "SecretSpec",
        "Target",
        "Auth",
        "BasicAuth",
        "Step",
        "Http",
        "Draft",
        "Retry",
    ] {
        assert!(
            names.contains(expected),
            "tracer missed {expected}: {names:?}"
        );
    }
    for (name, fields) in &traced.structs {
        let node = node(&schema, name);
        let in_schema: BTreeSet<&str> = node["properties"]
            .as_object()
            .unwrap_or_else(|| panic!("{name} has no properties in the schema"))
            .keys()
            .map(String::as_str)
            .collect();
        let in_model: BTreeSet<&str> = fields.iter().copied().collect();
        assert_eq!(in_schema, in_model, "fields of {name}: schema vs serde");
        assert_eq!(
            node["additionalProperties"],
            Value::Bool(false),
            "{name}: the parser denies unknown fields, so must the schema"
        );
        let required: BTreeSet<&str> = fields
            .iter()
            .copied()
            .filter(|field| match trace(Some((name, field))) {
                Ok(_) => false,
                Err(e) if e.contains(&format!("missing field `{field}`")) => true,
                Err(e) => panic!("omitting {name}.{field}: {e}"),
            })
            .collect();
        let required_in_schema: BTreeSet<&str> = node
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(
            required_in_schema, required,
            "required fields of {name}: schema vs serde"
        );
    }
    let marks: Vec<&str> = schema["definitions"]["Step"]["properties"]["mark"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(marks, stanch::runbook::MARKS, "marks: schema vs model");
}

/// TOML text → JSON file, through the toml crate (the parser's own TOML reader).
fn to_json(dir: &Path, name: &str, toml_text: &str) -> PathBuf {
    let value: toml::Value = toml::from_str(toml_text).unwrap();
    let path = dir.join(format!("{name}.json"));
    std::fs::write(&path, serde_json::to_string(&value).unwrap()).unwrap();
    path
}

/// `schema/validate_runbook.py` on `files`: exit code and output. Fails (never skips) in CI.
fn validate(files: &[PathBuf]) -> Option<(i32, String)> {
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("schema/validate_runbook.py");
    let out = std::process::Command::new("python3")
        .arg(&script)
        .args(files)
        .output();
    let missing = match &out {
        Err(_) => true,
        Ok(out) => out.status.code() == Some(2),
    };
    if missing {
        assert!(
            std::env::var_os("CI").is_none(),
            "python3 with jsonschema is required in CI (.ci/run installs it)"
        );
        eprintln!(
            "\n!!!!! SKIPPED: python3 jsonschema is not installed (apt-get install python3-jsonschema) !!!!!\n"
        );
        return None;
    }
    let out = out.unwrap();
    Some((
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    ))
}

#[test]
fn bundled_runbooks_and_the_starter_validate_and_misshapen_runbooks_do_not() {
    let tmp = tempfile::tempdir().unwrap();
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let mut good = Vec::new();
    for rel in [
        "runbooks/elasticsearch-exposure.toml",
        "tests/fixtures/draft/runbook.toml",
    ] {
        let text = std::fs::read_to_string(root.join(rel)).unwrap();
        assert!(
            stanch::runbook::check_source(&root.join(rel).to_string_lossy(), &text).is_empty(),
            "{rel} is a valid runbook"
        );
        good.push(to_json(tmp.path(), &rel.replace('/', "_"), &text));
    }
    good.push(to_json(
        tmp.path(),
        "starter",
        &stanch::cli::new::starter("starter"),
    ));
    let Some((code, out)) = validate(&good) else {
        return;
    };
    assert_eq!(code, 0, "{out}");

    let starter = stanch::cli::new::starter("x");
    let misshapen = [
        (
            "unknown_field",
            starter.replace("phase = \"notify\"", "phase = \"notify\"\nowner = \"me\""),
            "Additional properties are not allowed ('owner'",
        ),
        (
            "two_actions",
            starter.replace(
                "phase = \"notify\"",
                "phase = \"notify\"\ndraft = { template = \"t.j2\", output = \"o.md\" }",
            ),
            "is valid under each of",
        ),
        (
            "bad_mark",
            starter.replace("mark = \"contained\"", "mark = \"containd\""),
            "'containd' is not one of",
        ),
        (
            "two_secret_sources",
            starter.replace(
                "env = \"STANCH_API_KEY\"",
                "env = \"STANCH_API_KEY\"\nprompt = true",
            ),
            "has too many properties",
        ),
        (
            "missing_title",
            starter.replace("title = \"TODO: what is exposed, in one line\"", ""),
            "'title' is a required property",
        ),
    ];
    for (name, text, expected) in misshapen {
        assert_ne!(text, starter, "{name}: the edit applied");
        let file = to_json(tmp.path(), name, &text);
        let (code, out) = validate(&[file]).unwrap();
        assert_eq!(code, 1, "{name} must fail the schema: {out}");
        assert!(out.contains(expected), "{name}: {out}");
    }
}

/// Taplo (the TOML language server behind Even Better TOML) checks runbooks with the schema
/// through its `#:schema` directive, as an editor would. Fails (never skips) in CI.
#[test]
fn taplo_checks_runbooks_against_the_schema_as_editors_do() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let schema = root.join("schema/runbook.schema.json");
    let tmp = tempfile::tempdir().unwrap();
    let check = |name: &str, text: &str| {
        let path = tmp.path().join(name);
        std::fs::write(&path, format!("#:schema {}\n{text}", schema.display())).unwrap();
        std::process::Command::new("taplo")
            .arg("check")
            .arg(&path)
            .env("RUST_LOG", "error")
            .output()
    };
    let bundled =
        std::fs::read_to_string(root.join("runbooks/elasticsearch-exposure.toml")).unwrap();
    let Ok(out) = check("bundled.toml", &bundled) else {
        assert!(
            std::env::var_os("CI").is_none(),
            "taplo is required in CI (.ci/run installs @taplo/cli)"
        );
        eprintln!("\n!!!!! SKIPPED: taplo is not installed (npm install -g @taplo/cli) !!!!!\n");
        return;
    };
    let output = |out: &std::process::Output| {
        String::from_utf8_lossy(&out.stdout).into_owned() + &String::from_utf8_lossy(&out.stderr)
    };
    assert!(out.status.success(), "{}", output(&out));
    let out = check("starter.toml", &stanch::cli::new::starter("starter")).unwrap();
    assert!(out.status.success(), "{}", output(&out));
    let bad = stanch::cli::new::starter("x").replace(
        "mark = \"contained\"",
        "mark = \"containd\"\nowner = \"me\"",
    );
    let out = check("bad.toml", &bad).unwrap();
    assert!(!out.status.success(), "{}", output(&out));
    let text = output(&out);
    assert!(text.contains("'owner' was unexpected"), "{text}");
    assert!(text.contains("\"containd\" is not one of"), "{text}");
}
