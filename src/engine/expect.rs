//! `expect`, `capture` and `when`: bare expressions evaluated against the template context
//! (with `response` once there is one).
//!
//! A failed expectation names the expression and the actual values of every name it reads
//! (`response.status = 404`), so a responder sees why without opening the journal. Reading
//! `response.json` when the body is not JSON, or `response.xml` when it is not XML, is its own
//! clear failure. Nothing here sends or journals.

use minijinja::Value;
use serde_json::json;

use super::prepare::{Parts, explain};
use super::send::Exchange;
use crate::template::{Templates, to_json};

/// One expectation that did not hold.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Failed {
    pub expr: String,
    pub actual: String,
}

/// `response` for templates, plus why `response.json` or `response.xml` is missing when the
/// body is not JSON or XML.
pub struct Response {
    pub value: Value,
    json_error: Option<String>,
    xml_error: Option<String>,
    pub status: u16,
    content_type: String,
}

/// The expression given when a step has no `expect`: any 2xx passes. A 3xx does not: stanch
/// never follows a redirect, so the request was not carried out where it was sent (a POST
/// `_close` answered 301 closed nothing).
pub const DEFAULT_EXPECT: &str = "response.status >= 200 and response.status < 300";
/// The same for a step with `allow_redirect_status = true`: any 2xx or 3xx passes.
pub const DEFAULT_EXPECT_REDIRECT_OK: &str = "response.status >= 200 and response.status < 400";

impl Response {
    pub fn new(ex: &Exchange) -> Self {
        let text = String::from_utf8_lossy(&ex.body);
        let headers: serde_json::Map<String, serde_json::Value> = ex
            .headers
            .iter()
            .map(|(k, v)| (k.to_ascii_lowercase(), v.clone().into()))
            .collect();
        let content_type = headers
            .get("content-type")
            .and_then(serde_json::Value::as_str)
            .unwrap_or("no Content-Type")
            .to_owned();
        let (json, json_error) = if ex.body.is_empty() {
            (None, Some("the body is empty".to_owned()))
        } else {
            match serde_json::from_slice::<serde_json::Value>(&ex.body) {
                Ok(v) => (Some(v), None),
                Err(e) => (None, Some(format!("the body is not valid JSON ({e})"))),
            }
        };
        // XML only for a body that is not JSON: the same bytes are never parsed twice.
        let (xml, xml_error) = match (&json, ex.body.is_empty()) {
            (_, true) => (None, Some("the body is empty".to_owned())),
            (Some(_), false) => (None, Some("the body is JSON, not XML".to_owned())),
            (None, false) => match super::xml::parse(&ex.body) {
                Ok(v) => (Some(v), None),
                Err(e) => (None, Some(e.to_string())),
            },
        };
        let mut map = json!({ "status": ex.status, "headers": headers, "text": text });
        if let Some(json) = json {
            map["json"] = json;
        }
        if let Some(xml) = xml {
            map["xml"] = xml;
        }
        Self {
            value: Value::from(minijinja::value::Serde(&map)),
            json_error,
            xml_error,
            status: ex.status,
            content_type,
        }
    }

    /// If `expr` reads `response.json` or `response.xml` and there is none, the sentence
    /// saying so.
    pub(super) fn body_problem(
        &self,
        templates: &Templates,
        what: &str,
        expr: &str,
    ) -> Option<String> {
        let vars = templates.expression_variables(expr).unwrap_or_default();
        let reads = |name: &str| {
            vars.iter()
                .any(|v| v == name || v.strip_prefix(name).is_some_and(|r| r.starts_with('.')))
        };
        let (name, why, format) = if reads("response.json") {
            ("response.json", self.json_error.as_ref()?, "JSON")
        } else if reads("response.xml") {
            ("response.xml", self.xml_error.as_ref()?, "XML")
        } else {
            return None;
        };
        Some(format!(
            "{what} `{expr}` reads {name}, but {why}; the service answered {} ({}): check that \
             the endpoint returns {format} (a proxy error page?)",
            self.status, self.content_type
        ))
    }
}

/// Evaluate the step's expectations. `Ok(failures)` (empty = all hold); `Err` when an
/// expression cannot be evaluated at all.
pub fn check(
    parts: Parts<'_>,
    exprs: &[String],
    allow_redirect: bool,
    ctx: &Value,
    response: &Response,
) -> Result<Vec<Failed>, String> {
    let default = [if allow_redirect {
        DEFAULT_EXPECT_REDIRECT_OK
    } else {
        DEFAULT_EXPECT
    }
    .to_owned()];
    let exprs = if exprs.is_empty() {
        &default[..]
    } else {
        exprs
    };
    let mut failed = Vec::new();
    for expr in exprs {
        match parts.templates.eval(expr, ctx) {
            Ok(v) if v.is_true() => {}
            Ok(_) => failed.push(Failed {
                expr: expr.clone(),
                actual: actuals(parts, expr, ctx),
            }),
            Err(e) => {
                return Err(response
                    .body_problem(parts.templates, "expect", expr)
                    .unwrap_or_else(|| explain(parts, "expect", expr, &e.message, true)));
            }
        }
    }
    Ok(failed)
}

/// Evaluate `capture` into JSON values.
pub fn capture<'a>(
    parts: Parts<'_>,
    captures: impl Iterator<Item = (&'a String, &'a String)>,
    ctx: &Value,
    response: &Response,
) -> Result<serde_json::Map<String, serde_json::Value>, String> {
    let mut out = serde_json::Map::new();
    for (name, expr) in captures {
        let value = parts.templates.eval(expr, ctx).map_err(|e| {
            response
                .body_problem(parts.templates, &format!("capture `{name}`"), expr)
                .unwrap_or_else(|| {
                    explain(parts, &format!("capture `{name}`"), expr, &e.message, true)
                })
        })?;
        if value.is_undefined() {
            return Err(format!(
                "capture `{name}` = `{expr}` has no value in this response"
            ));
        }
        out.insert(name.clone(), to_json(&value));
    }
    Ok(out)
}

/// `when`: true means run the step.
/// Why a step whose `when` is false is skipped: one wording for the journal and the preview.
pub fn skip_reason(when: &str) -> String {
    format!("`when = {when}` is false")
}

pub fn when(templates: &Templates, expr: &str, ctx: &Value) -> Result<bool, String> {
    templates
        .eval(expr, ctx)
        .map(|v| v.is_true())
        .map_err(|e| format!("when `{expr}` cannot be evaluated: {}", e.message))
}

/// `name = value` for every name the expression reads, values cut to a readable length.
fn actuals(parts: Parts<'_>, expr: &str, ctx: &Value) -> String {
    let names = parts
        .templates
        .expression_variables(expr)
        .unwrap_or_default();
    let redactor = parts.mask.redactor();
    let shown: Vec<String> = names
        .iter()
        .filter(|n| !n.starts_with("secrets"))
        .map(|name| {
            // Masked before it is cut: a cut through a secret leaves a prefix no form matches.
            let value = parts.templates.eval(name, ctx).map_or_else(
                |_| "undefined".to_owned(),
                |v| short(&redactor.redact(&to_json(&v).to_string())),
            );
            format!("{name} = {value}")
        })
        .collect();
    redactor.redact(&shown.join(", "))
}

/// At most 120 characters, cut on a char boundary.
pub fn short(text: &str) -> String {
    const MAX: usize = 120;
    if text.chars().count() <= MAX {
        text.to_owned()
    } else {
        let cut: String = text.chars().take(MAX).collect();
        format!("{cut}…")
    }
}
