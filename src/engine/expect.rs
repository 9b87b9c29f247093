//! `expect`, `capture` and `when`: bare expressions evaluated against the template context
//! (with `response` once there is one).
//!
//! A failed expectation names the expression and the actual values of every name it reads
//! (`response.status = 404`), so a responder sees why without opening the journal. Reading
//! `response.json` when the body is not JSON, or `response.xml` when it is not XML, is its own
//! clear failure. Nothing here sends or journals.
//!
//! `response` is built without copying or parsing the body into a tree: the body moves out of
//! the exchange, is checked as JSON in one scan, and `response.json` reads into it on demand
//! ([`json_view`]); a capture is the captured part's text. So a step over a 50 MB body holds
//! the body and what it captures, nothing more.

use std::borrow::Cow;
use std::sync::{Arc, OnceLock};

use minijinja::Value;
use minijinja::value::{Enumerator, Object};

use super::json_view;
use super::prepare::{Parts, explain};
use super::send::Exchange;
use crate::journal::payload::Minified;
use crate::template::Templates;

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
    /// The body, shared with `value` (for the failure text).
    body: Body,
    json_error: Option<String>,
    xml_error: Option<String>,
    pub status: u16,
    content_type: String,
}

/// A response body, owned once and shared (evidence, `response`): UTF-8 text (what
/// `response.json` reads without copying), or bytes that are not.
#[derive(Clone)]
pub enum Body {
    Text(Arc<String>),
    Bytes(Arc<Vec<u8>>),
}

impl Body {
    /// Takes the bytes as they are: no copy.
    pub fn new(bytes: Vec<u8>) -> Self {
        match String::from_utf8(bytes) {
            Ok(text) => Body::Text(Arc::new(text)),
            Err(e) => Body::Bytes(Arc::new(e.into_bytes())),
        }
    }

    fn lossy(&self) -> Cow<'_, str> {
        match self {
            Body::Text(text) => Cow::Borrowed(text),
            Body::Bytes(bytes) => String::from_utf8_lossy(bytes),
        }
    }

    pub fn bytes(&self) -> &[u8] {
        match self {
            Body::Text(text) => text.as_bytes(),
            Body::Bytes(bytes) => bytes,
        }
    }
}

/// The `response` object: `status`, `headers`, `text`, and `json` or `xml` when the body is
/// one. `text` is copied for templates only when one reads it; `json` is a [`json_view`].
#[derive(Debug)]
struct ResponseObject {
    status: u16,
    headers: Value,
    body: Body,
    text: OnceLock<Value>,
    json: Option<Value>,
    xml: Option<Value>,
}

impl AsRef<[u8]> for Body {
    fn as_ref(&self) -> &[u8] {
        self.bytes()
    }
}

impl std::fmt::Debug for Body {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Body({} bytes)", self.bytes().len())
    }
}

impl Object for ResponseObject {
    fn get_value(self: &Arc<Self>, key: &Value) -> Option<Value> {
        match key.as_str()? {
            "status" => Some(Value::from(self.status)),
            "headers" => Some(self.headers.clone()),
            "text" => Some(
                self.text
                    .get_or_init(|| Value::from(self.body.lossy().into_owned()))
                    .clone(),
            ),
            "json" => self.json.clone(),
            "xml" => self.xml.clone(),
            _ => None,
        }
    }

    fn enumerate(self: &Arc<Self>) -> Enumerator {
        Enumerator::Str(match (&self.json, &self.xml) {
            (Some(_), _) => &["headers", "json", "status", "text"],
            (None, Some(_)) => &["headers", "status", "text", "xml"],
            (None, None) => &["headers", "status", "text"],
        })
    }
}

/// The expression given when a step has no `expect`: any 2xx passes. A 3xx does not: stanch
/// never follows a redirect, so the request was not carried out where it was sent (a POST
/// `_close` answered 301 closed nothing).
pub const DEFAULT_EXPECT: &str = "response.status >= 200 and response.status < 300";
/// The same for a step with `allow_redirect_status = true`: any 2xx or 3xx passes.
pub const DEFAULT_EXPECT_REDIRECT_OK: &str = "response.status >= 200 and response.status < 400";

impl Response {
    /// `body` is the exchange's, shared (no copy); the JSON is validated in one scan and read
    /// into only as far as templates go (see [`json_view`]).
    pub fn new(ex: &Exchange, body: Body) -> Self {
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
        let (json, json_error) = match &body {
            _ if body.bytes().is_empty() => (None, Some("the body is empty".to_owned())),
            Body::Text(text) => match json_view::parse(&json_view::Source::Body(text.clone())) {
                Ok(v) => (Some(v), None),
                Err(e) => (None, Some(format!("the body is not valid JSON ({e})"))),
            },
            Body::Bytes(bytes) => {
                let why = serde_json::from_slice::<serde::de::IgnoredAny>(bytes)
                    .map_or_else(|e| e.to_string(), |_| "it is not UTF-8 text".to_owned());
                (None, Some(format!("the body is not valid JSON ({why})")))
            }
        };
        // XML only for a body that is not JSON: the same bytes are never parsed twice.
        let (xml, xml_error) = match (&json, body.bytes().is_empty()) {
            (_, true) => (None, Some("the body is empty".to_owned())),
            (Some(_), false) => (None, Some("the body is JSON, not XML".to_owned())),
            (None, false) => match super::xml::parse(body.bytes()) {
                Ok(v) => (Some(Value::from(minijinja::value::Serde(&v))), None),
                Err(e) => (None, Some(e.to_string())),
            },
        };
        let value = Value::from_object(ResponseObject {
            status: ex.status,
            headers: Value::from(minijinja::value::Serde(&headers)),
            body: body.clone(),
            text: OnceLock::new(),
            json,
            xml,
        });
        Self {
            value,
            body,
            json_error,
            xml_error,
            status: ex.status,
            content_type,
        }
    }

    /// The body as text (invalid UTF-8 replaced), for a failure message.
    pub fn text(&self) -> Cow<'_, str> {
        self.body.lossy()
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

/// Evaluate `capture` into JSON text (a part of the body is captured as its text, never as
/// a tree: see [`json_view::to_capture`]), by name; make them [`crate::incident::Captures`] once the body is
/// let go.
pub fn capture<'a>(
    parts: Parts<'_>,
    captures: impl Iterator<Item = (&'a String, &'a String)>,
    ctx: &Value,
    response: &Response,
) -> Result<Vec<(String, Minified)>, String> {
    let mut out = Vec::new();
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
        out.push((name.clone(), json_view::to_capture(&value)));
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
                |v| short(&redactor.redact(&json_view::excerpt(&v, EXCERPT_BYTES))),
            );
            format!("{name} = {value}")
        })
        .collect();
    redactor.redact(&shown.join(", "))
}

/// How much of a value's JSON text a failure message reads before cutting it to [`short`]:
/// far more than it shows, so that a secret is masked whole before the cut.
const EXCERPT_BYTES: usize = 64 * 1024;

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
