//! The one expression language: MiniJinja in strict mode, with fuel and recursion limits.
//!
//! `{{ … }}` inside strings ([`Templates::render`]) and bare expressions in `expect`, `capture`,
//! `when`, `foreach` ([`Templates::eval`]). Filters beyond MiniJinja's own: `b64encode`,
//! `urlencode` (built in), `sha256`, `tojson` (built in), `as_list` (a list as it is, none as
//! `[]`, one value as a one-item list). Tests beyond MiniJinja's own:
//! `version_at_least` (`vars.es_version is version_at_least("7.9")`), which compares dotted
//! release numbers numerically (7.10 is after 7.9) and ignores a `-SNAPSHOT`-style suffix; a
//! value that is not a version is an error, never a silent `false`.
//!
//! Namespaces a runbook may use: `inputs`, `secrets`, `vars`, `incident`, `marks`, `item`,
//! `response`. Rendering never sees a secret unless the caller put it in the context; callers
//! that build text for the journal or the screen render with masked secrets.
//!
//! MiniJinja 3: contexts are passed as `Value::from(Serde(&ctx))`; the fuel and recursion
//! limits are set once, on the one shared environment.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, OnceLock};

use minijinja::{Environment, Expression, UndefinedBehavior, Value};
use sha2::{Digest, Sha256};

/// Fuel for one render or evaluation: generous for real runbooks, small enough that a runaway
/// loop fails in milliseconds instead of hanging a responder's terminal.
pub const FUEL: u64 = 50_000;
/// Maximum nesting (macros, includes, recursion) in one render.
pub const RECURSION_LIMIT: usize = 64;

/// Tests and filters stanch adds to MiniJinja's own (registered in `environment`).
pub const STANCH_TESTS: &[&str] = &["version_at_least"];
pub const STANCH_FILTERS: &[&str] = &["b64encode", "sha256", "as_list", "path_segments"];

/// Namespaces that may appear as the first name of a template variable.
pub const NAMESPACES: &[&str] = &[
    "inputs", "secrets", "vars", "incident", "marks", "item", "response",
];

#[derive(Debug, thiserror::Error)]
#[error("{message}")]
pub struct TemplateError {
    /// Human text, including MiniJinja's own detail (line, what was undefined…).
    pub message: String,
    /// MiniJinja's error kind, for callers that distinguish syntax from runtime faults.
    pub kind: minijinja::ErrorKind,
}

impl From<minijinja::Error> for TemplateError {
    fn from(err: minijinja::Error) -> Self {
        let mut message = err.to_string();
        let mut source = std::error::Error::source(&err);
        while let Some(cause) = source {
            message.push_str(": ");
            message.push_str(&cause.to_string());
            source = cause.source();
        }
        Self {
            message,
            kind: err.kind(),
        }
    }
}

/// A configured MiniJinja environment and a cache of compiled expressions. Cheap to share
/// (`&Templates`).
///
/// The environment is one per process (its configuration never changes), which is what lets
/// compiled expressions be cached: they borrow it. A foreach of ten thousand items evaluates
/// the same `expect` and renders the same `{{ item.token }}` each time; compiling them once
/// took a fifth of the per-item CPU off.
pub struct Templates {
    env: &'static Environment<'static>,
    exprs: Mutex<HashMap<String, Arc<Expression<'static, 'static>>>>,
}

/// Distinct expressions kept compiled; runbooks have far fewer, and past it nothing breaks
/// (expressions are compiled per use).
const CACHED_EXPRESSIONS: usize = 4096;

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

fn environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(configured)
}

fn configured() -> Environment<'static> {
    let mut env = Environment::new();
    env.set_undefined_behavior(UndefinedBehavior::Strict);
    env.set_fuel(Some(FUEL));
    env.set_recursion_limit(RECURSION_LIMIT);
    // Templates produce URLs, JSON strings and Markdown, never HTML: no auto-escaping.
    env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
    env.add_filter("b64encode", b64encode);
    env.add_filter("sha256", sha256);
    env.add_filter("as_list", as_list);
    env.add_filter("path_segments", path_segments);
    env.add_test("version_at_least", version_at_least);
    env
}

/// Opens and closes a printed value in [`Templates::render_pieces`]' output; between them the
/// value's bytes in hex, so nothing a value holds can look like a bracket.
const VALUE_OPEN: char = '\u{e000}';
const VALUE_CLOSE: char = '\u{e001}';
/// Opens a value marked `| path_segments` (closed by [`VALUE_CLOSE`]).
const SEGMENTS_OPEN: char = '\u{e002}';

/// The same environment, printing every `{{ … }}` value bracketed (see [`Piece`]).
fn marking_environment() -> &'static Environment<'static> {
    static ENV: OnceLock<Environment<'static>> = OnceLock::new();
    ENV.get_or_init(|| {
        let mut env = configured();
        env.set_formatter(|out, _state, value| {
            use std::fmt::Write as _;
            let text = value.to_string();
            let open = if value.downcast_object_ref::<PathSegments>().is_some() {
                SEGMENTS_OPEN
            } else {
                VALUE_OPEN
            };
            out.write_char(open)?;
            for b in text.bytes() {
                write!(out, "{b:02x}")?;
            }
            out.write_char(VALUE_CLOSE)?;
            Ok(())
        });
        env
    })
}

/// One piece of a rendered template: text the template's author wrote, or a value a
/// `{{ … }}` printed. Callers that build structure from a template (a URL) encode each value
/// for its place, so a value can never change the structure the text gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Piece {
    Text(String),
    Value(String),
    /// A value the template marked `| path_segments`: its `/` separate path segments (each
    /// still encoded as one segment; `.`, `..` and empty segments refused by the URL builder).
    Segments(String),
}

/// Split the marking environment's output back into pieces.
fn pieces(rendered: &str) -> Option<Vec<Piece>> {
    let mut out = Vec::new();
    let mut rest = rendered;
    while let Some(open) = rest.find([VALUE_OPEN, SEGMENTS_OPEN]) {
        if open > 0 {
            out.push(Piece::Text(rest[..open].to_owned()));
        }
        let segments = rest[open..].starts_with(SEGMENTS_OPEN);
        let after = &rest[open + VALUE_OPEN.len_utf8()..];
        let close = after.find(VALUE_CLOSE)?;
        let hex = &after.as_bytes()[..close];
        let bytes = hex
            .chunks(2)
            .map(|pair| {
                std::str::from_utf8(pair)
                    .ok()
                    .and_then(|p| u8::from_str_radix(p, 16).ok())
            })
            .collect::<Option<Vec<u8>>>()?;
        let value = String::from_utf8(bytes).ok()?;
        out.push(if segments {
            Piece::Segments(value)
        } else {
            Piece::Value(value)
        });
        rest = &after[close + VALUE_CLOSE.len_utf8()..];
    }
    if rest.contains(VALUE_CLOSE) {
        return None;
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest.to_owned()));
    }
    Some(out)
}

/// `path` when a template is nothing but `{{ path }}` (dotted names, no filters): the commonest
/// template in runbooks, rendered by evaluating the cached expression.
fn bare_path(source: &str) -> Option<&str> {
    let inner = source.strip_prefix("{{")?.strip_suffix("}}")?.trim();
    let ok = !inner.is_empty()
        && inner.split('.').all(|name| {
            name.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        });
    ok.then_some(inner)
}

impl Templates {
    pub fn new() -> Self {
        Self {
            env: environment(),
            exprs: Mutex::new(HashMap::new()),
        }
    }

    /// Render a `{{ … }}` template string against a context (usually a `serde_json::Value`).
    pub fn render<S: serde::Serialize>(
        &self,
        source: &str,
        ctx: S,
    ) -> Result<String, TemplateError> {
        let ctx = Value::from(minijinja::value::Serde(&ctx));
        if let Some(path) = bare_path(source)
            && let Ok(value) = self.compiled(path).and_then(|e| Ok(e.eval(&ctx)?))
            && !value.is_undefined()
        {
            // What `{{ path }}` prints: the value's display form (no auto-escaping here). An
            // undefined value or an error goes the slow way, for the template's own message.
            return Ok(value.to_string());
        }
        Ok(self.env.render_str(source, ctx)?)
    }

    /// Render a template into the text its author wrote and the values it printed, in order
    /// (one `Text` for each stretch between values). A template whose own text holds U+E000 or U+E001
    /// (private-use characters this uses as brackets) is refused.
    pub fn render_pieces<S: serde::Serialize>(
        &self,
        source: &str,
        ctx: S,
    ) -> Result<Vec<Piece>, TemplateError> {
        if source.contains([VALUE_OPEN, VALUE_CLOSE]) {
            return Err(minijinja::Error::new(
                minijinja::ErrorKind::SyntaxError,
                "the template holds U+E000 or U+E001, private-use characters stanch reserves",
            )
            .into());
        }
        if !source.contains(['{', '\n']) {
            return Ok(vec![Piece::Text(source.to_owned())]);
        }
        let ctx = Value::from(minijinja::value::Serde(&ctx));
        let rendered = marking_environment().render_str(source, ctx)?;
        pieces(&rendered).ok_or_else(|| {
            minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                "the template's output could not be split into text and values",
            )
            .into()
        })
    }

    /// Evaluate a bare expression (`response.status == 200`).
    pub fn eval<S: serde::Serialize>(&self, expr: &str, ctx: S) -> Result<Value, TemplateError> {
        Ok(self
            .compiled(expr)?
            .eval(Value::from(minijinja::value::Serde(&ctx)))?)
    }

    fn compiled(&self, expr: &str) -> Result<Arc<Expression<'static, 'static>>, TemplateError> {
        let mut cache = self
            .exprs
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(hit) = cache.get(expr) {
            return Ok(Arc::clone(hit));
        }
        let compiled = Arc::new(self.env.compile_expression_owned(expr.to_owned())?);
        if cache.len() < CACHED_EXPRESSIONS {
            cache.insert(expr.to_owned(), Arc::clone(&compiled));
        }
        Ok(compiled)
    }

    /// Check a template's syntax and return the variables it reads (dotted paths such as
    /// `inputs.index`), for `stanch check`.
    pub fn template_variables(&self, source: &str) -> Result<Vec<String>, TemplateError> {
        let tmpl = self.env.template_from_str(source)?;
        let mut vars: Vec<String> = tmpl.undeclared_variables(true).into_iter().collect();
        vars.sort();
        Ok(vars)
    }

    /// The same for a bare expression.
    pub fn expression_variables(&self, expr: &str) -> Result<Vec<String>, TemplateError> {
        let compiled = self.env.compile_expression(expr)?;
        let mut vars: Vec<String> = compiled.undeclared_variables(true).into_iter().collect();
        vars.sort();
        Ok(vars)
    }

    /// Tests (`is name`) and filters (`| name`) that `source` uses but the environment does
    /// not have, as `test `name`` / `filter `name``: MiniJinja only finds them when it runs,
    /// `stanch check` must find them before. `expression` is a bare expression; otherwise
    /// only the text inside `{{ }}` and `{% %}` is read.
    pub fn unknown_tests_and_filters(&self, source: &str, expression: bool) -> Vec<String> {
        let code = if expression {
            vec![source]
        } else {
            template_code(source)
        };
        let mut unknown = Vec::new();
        for part in code {
            let words = code_words(part);
            for (i, word) in words.iter().enumerate() {
                let (kind, name) = match *word {
                    "|" => ("filter", words.get(i + 1)),
                    "is" => match words.get(i + 1) {
                        Some(&"not") => ("test", words.get(i + 2)),
                        next => ("test", next),
                    },
                    _ => continue,
                };
                let Some(name) =
                    name.filter(|n| n.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_'))
                else {
                    continue;
                };
                let probe = if kind == "test" {
                    format!("1 is {name}")
                } else {
                    format!("1 | {name}")
                };
                let missing = self
                    .env
                    .compile_expression(&probe)
                    .and_then(|e| e.eval(()))
                    .err()
                    .is_some_and(|e| {
                        matches!(
                            e.kind(),
                            minijinja::ErrorKind::UnknownTest | minijinja::ErrorKind::UnknownFilter
                        )
                    });
                let entry = format!("{kind} `{name}`");
                if missing && !unknown.contains(&entry) {
                    unknown.push(entry);
                }
            }
        }
        unknown
    }

    /// The underlying environment, for callers that need more (e.g. draft rendering).
    pub fn env(&self) -> &'static Environment<'static> {
        self.env
    }
}

fn b64encode(value: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(value.as_bytes())
}

fn sha256(value: &str) -> String {
    crate::journal::event::hex(&Sha256::digest(value.as_bytes()))
}

/// The code parts of a template: what is inside `{{ }}` and `{% %}`.
fn template_code(source: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let mut rest = source;
    while let Some(start) = rest.find(['{']) {
        let after = &rest[start..];
        let close = match after.get(..2) {
            Some("{{") => "}}",
            Some("{%") => "%}",
            _ => {
                rest = &rest[start + 1..];
                continue;
            }
        };
        let Some(end) = after[2..].find(close) else {
            break;
        };
        parts.push(&after[2..2 + end]);
        rest = &after[2 + end + 2..];
    }
    parts
}

/// Identifiers and `|` of an expression, string literals left out (`||` is not a filter).
fn code_words(code: &str) -> Vec<&str> {
    let mut words = Vec::new();
    let bytes = code.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        let c = bytes[i];
        if c == b'\'' || c == b'"' {
            i += 1;
            while i < bytes.len() && bytes[i] != c {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            i += 1;
        } else if c == b'|' {
            if bytes.get(i + 1) == Some(&b'|') {
                i += 2;
                continue;
            }
            words.push("|");
            i += 1;
        } else if c.is_ascii_alphabetic() || c == b'_' {
            let start = i;
            while i < bytes.len() && (bytes[i].is_ascii_alphanumeric() || bytes[i] == b'_') {
                i += 1;
            }
            words.push(&code[start..i]);
        } else {
            i += 1;
        }
    }
    words
}

/// `major.minor.patch…` as numbers; a missing part is 0, a `-suffix` is dropped.
fn release_numbers(text: &str) -> Result<Vec<u64>, minijinja::Error> {
    let core = text.trim().split(['-', '+']).next().unwrap_or_default();
    core.split('.')
        .map(str::parse::<u64>)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| {
            minijinja::Error::new(
                minijinja::ErrorKind::InvalidOperation,
                format!("version_at_least: `{text}` is not a version such as 7.10.2"),
            )
        })
}

fn version_at_least(value: &str, minimum: &str) -> Result<bool, minijinja::Error> {
    let (mut have, mut want) = (release_numbers(value)?, release_numbers(minimum)?);
    let len = have.len().max(want.len());
    have.resize(len, 0);
    want.resize(len, 0);
    Ok(have >= want)
}

/// A value that is a path of several segments, such as an endpoint path read from a discovery
/// document (`{{ vars.revocation_path | path_segments }}`). Printed as the text itself; in a
/// request's `path` its `/` separate segments, where any other value is one segment.
#[derive(Debug)]
struct PathSegments(String);

impl minijinja::value::Object for PathSegments {
    fn render(self: &Arc<Self>, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn path_segments(value: &str) -> Value {
    Value::from_object(PathSegments(value.to_owned()))
}

/// Always a list: a list as it is, nothing (none or a missing key) as `[]`, anything else as a
/// one-item list. For XML answers, where an element that repeats is a list but a single one
/// is not (`response.xml.….member | as_list`).
fn as_list(value: &Value) -> Value {
    if value.is_undefined() || value.is_none() {
        Value::from(Vec::<Value>::new())
    } else if value.kind() == minijinja::value::ValueKind::Seq {
        value.clone()
    } else {
        Value::from(vec![value.clone()])
    }
}

/// Convert a MiniJinja value to JSON (for captures and the journal).
pub fn to_json(value: &Value) -> serde_json::Value {
    serde_json::to_value(value).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn unknown_tests_and_filters_are_found_before_anything_runs() {
        let t = Templates::new();
        assert_eq!(
            t.unknown_tests_and_filters(
                "vars.v is version_at_leest('7.9') and x | lenght > 0",
                true
            ),
            ["test `version_at_leest`", "filter `lenght`"]
        );
        assert!(
            t.unknown_tests_and_filters(
                "vars.v is not version_at_least('7.9') and 'a | nope' == x | length | string",
                true
            )
            .is_empty()
        );
        assert_eq!(
            t.unknown_tests_and_filters(
                "a | b {{ x | sha256 }} {{ y | nope }} {% if z is odd %}",
                false
            ),
            ["filter `nope`"]
        );
    }

    #[test]
    fn version_at_least_compares_release_numbers_not_text() {
        let t = Templates::new();
        let at_least = |have: &str, want: &str| {
            let ctx = json!({ "vars": { "v": have }, "inputs": { "w": want } });
            t.eval("vars.v is version_at_least(inputs.w)", &ctx)
                .unwrap()
                .is_true()
        };
        assert!(at_least("7.10.2", "7.9"), "7.10 is after 7.9");
        assert!(!at_least("7.4.2", "7.9"));
        assert!(at_least("7.9.0", "7.9"));
        assert!(at_least("8.15.0", "7.10"));
        assert!(at_least("8.0.0-SNAPSHOT", "8.0"));
        assert!(!at_least("7.9", "7.9.1"));
        let bad = t
            .eval("'seven' is version_at_least('7.9')", json!({}))
            .unwrap_err();
        assert!(
            bad.message.contains("`seven` is not a version"),
            "{}",
            bad.message
        );
    }

    #[test]
    fn renders_and_evaluates_with_strict_undefined() {
        let t = Templates::new();
        let ctx = json!({"inputs": {"index": "customers"}, "response": {"status": 200}});
        assert_eq!(
            t.render("/{{ inputs.index }}/_count", &ctx).unwrap(),
            "/customers/_count"
        );
        assert!(t.eval("response.status == 200", &ctx).unwrap().is_true());
        assert!(t.render("{{ inputs.nope }}", &ctx).is_err());
    }

    #[test]
    fn filters_exist() {
        let t = Templates::new();
        let ctx = json!({"s": "a b"});
        assert_eq!(t.render("{{ s | b64encode }}", &ctx).unwrap(), "YSBi");
        assert_eq!(t.render("{{ s | urlencode }}", &ctx).unwrap(), "a%20b");
        assert_eq!(t.render("{{ s | sha256 }}", &ctx).unwrap().len(), 64);
    }

    #[test]
    fn render_pieces_keeps_the_authors_text_apart_from_printed_values() {
        let t = Templates::new();
        let ctx = json!({"inputs": {"index": "../x?a=1#\u{e000}"}, "n": 3});
        assert_eq!(
            t.render_pieces(
                "/{{ inputs.index }}/_close{% if n > 1 %}?n={{ n }}{% endif %}",
                &ctx
            )
            .unwrap(),
            [
                Piece::Text("/".into()),
                Piece::Value("../x?a=1#\u{e000}".into()),
                Piece::Text("/_close?n=".into()),
                Piece::Value("3".into()),
            ]
        );
        assert_eq!(
            t.render_pieces("/plain", &ctx).unwrap(),
            [Piece::Text("/plain".into())]
        );
        let err = t.render_pieces("/{{ nope }}", &ctx).unwrap_err();
        assert!(err.message.contains("undefined"), "{}", err.message);
        assert!(t.render_pieces("/\u{e000}", &ctx).is_err());
    }

    #[test]
    fn as_list_makes_zero_one_or_many_a_list() {
        let t = Templates::new();
        let ctx = json!({"one": {"k": "a"}, "many": ["a", "b"], "empty": ""});
        let len = |expr: &str| t.eval(expr, &ctx).unwrap().len();
        assert_eq!(len("one | as_list"), Some(1));
        assert_eq!(len("many | as_list"), Some(2));
        assert_eq!(len("one.missing | as_list"), Some(0));
        assert_eq!(len("empty.member | as_list"), Some(0));
        assert_eq!(len("none | as_list"), Some(0));
    }

    #[test]
    fn runaway_loops_run_out_of_fuel() {
        let t = Templates::new();
        let err = t
            .render("{% for i in range(100000) %}{{ i }}{% endfor %}", json!({}))
            .unwrap_err();
        assert!(err.message.contains("fuel"), "{}", err.message);
    }

    #[test]
    fn lists_variables() {
        let t = Templates::new();
        assert_eq!(
            t.template_variables("{{ inputs.index }}/{{ vars.x }}")
                .unwrap(),
            vec!["inputs.index", "vars.x"]
        );
        assert_eq!(
            t.expression_variables("response.status == 200").unwrap(),
            vec!["response.status"]
        );
    }

    #[test]
    fn a_bare_path_renders_exactly_as_the_template_engine_would() {
        let t = Templates::new();
        let ctx = json!({
            "item": {"token": "rt_1", "n": 3, "f": 1.5, "yes": true, "none": null,
                     "list": [1, "a"], "map": {"k": "v"}},
            "_x": {"y_2": "deep"}
        });
        let paths = [
            "{{ item.token }}",
            "{{item.n}}",
            "{{ item.f }}",
            "{{ item.yes }}",
            "{{ item.none }}",
            "{{ item.list }}",
            "{{ item.map }}",
            "{{ _x.y_2 }}",
        ];
        for source in paths {
            assert!(bare_path(source).is_some(), "{source}");
            let slow = t
                .env
                .render_str(source, Value::from(minijinja::value::Serde(&ctx)))
                .unwrap();
            assert_eq!(t.render(source, &ctx).unwrap(), slow, "{source}");
        }
        for not_bare in [
            "{{ item.n + 1 }}",
            "{{ item.token | upper }}",
            "x {{ item.n }}",
            "{{ item..n }}",
            "{{ 1a }}",
            "{{ }}",
            "{{ item['n'] }}",
        ] {
            assert!(bare_path(not_bare).is_none(), "{not_bare}");
        }
        // Undefined names fail as the template engine says, not as an empty string.
        let fast = t.render("{{ item.missing }}", &ctx).unwrap_err().message;
        let slow = TemplateError::from(
            t.env
                .render_str(
                    "{{ item.missing }}",
                    Value::from(minijinja::value::Serde(&ctx)),
                )
                .unwrap_err(),
        )
        .message;
        assert_eq!(fast, slow);
    }

    #[test]
    fn expressions_are_compiled_once_and_still_see_each_context() {
        let t = Templates::new();
        for n in 0..3 {
            let v = t.eval("item.n * 2", json!({"item": {"n": n}})).unwrap();
            assert_eq!(v.as_i64(), Some(n * 2));
        }
        assert_eq!(t.exprs.lock().unwrap().len(), 1);
    }
}
