//! The one expression language: MiniJinja in strict mode, with fuel and recursion limits.
//!
//! `{{ … }}` inside strings ([`Templates::render`]) and bare expressions in `expect`, `capture`,
//! `when`, `foreach` ([`Templates::eval`]). Filters beyond MiniJinja's own: `b64encode`,
//! `urlencode` (built in), `sha256`, `tojson` (built in).
//!
//! Namespaces a runbook may use: `inputs`, `secrets`, `vars`, `incident`, `marks`, `item`,
//! `response`. Rendering never sees a secret unless the caller put it in the context; callers
//! that build text for the journal or the screen render with masked secrets.

use minijinja::{Environment, UndefinedBehavior, Value};
use sha2::{Digest, Sha256};

/// Fuel for one render or evaluation: generous for real runbooks, small enough that a runaway
/// loop fails in milliseconds instead of hanging a responder's terminal.
pub const FUEL: u64 = 50_000;
/// Maximum nesting (macros, includes, recursion) in one render.
pub const RECURSION_LIMIT: usize = 64;

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

/// A configured MiniJinja environment. Cheap to share (`&Templates`); build one per process.
pub struct Templates {
    env: Environment<'static>,
}

impl Default for Templates {
    fn default() -> Self {
        Self::new()
    }
}

impl Templates {
    pub fn new() -> Self {
        let mut env = Environment::new();
        env.set_undefined_behavior(UndefinedBehavior::Strict);
        env.set_fuel(Some(FUEL));
        env.set_recursion_limit(RECURSION_LIMIT);
        // Templates produce URLs, JSON strings and Markdown, never HTML: no auto-escaping.
        env.set_auto_escape_callback(|_| minijinja::AutoEscape::None);
        env.add_filter("b64encode", b64encode);
        env.add_filter("sha256", sha256);
        Self { env }
    }

    /// Render a `{{ … }}` template string against a context (usually a `serde_json::Value`).
    pub fn render<S: serde::Serialize>(
        &self,
        source: &str,
        ctx: S,
    ) -> Result<String, TemplateError> {
        Ok(self
            .env
            .render_str(source, Value::from(minijinja::value::Serde(&ctx)))?)
    }

    /// Evaluate a bare expression (`response.status == 200`).
    pub fn eval<S: serde::Serialize>(&self, expr: &str, ctx: S) -> Result<Value, TemplateError> {
        let compiled = self.env.compile_expression(expr)?;
        Ok(compiled.eval(Value::from(minijinja::value::Serde(&ctx)))?)
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

    /// The underlying environment, for callers that need more (e.g. draft rendering).
    pub fn env(&self) -> &Environment<'static> {
        &self.env
    }
}

fn b64encode(value: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD.encode(value.as_bytes())
}

fn sha256(value: &str) -> String {
    crate::journal::event::hex(&Sha256::digest(value.as_bytes()))
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
}
