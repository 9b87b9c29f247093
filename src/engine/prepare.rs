//! Step → [`Prepared`]: every template rendered, secrets resolved, the URL built from structure
//! (`request_url`: each value encoded for the URL part its template names), query, form and
//! JSON values encoded for their place, header values refused if they hold a line break.
//!
//! A `Prepared` request is the only thing `send` accepts. It holds raw secret values (the
//! server needs them), so it is never shown: [`Prepared::request_data`] and the `preview`
//! module give the masked forms, by header name and by value. Nothing here touches the network or the journal.

use std::collections::HashMap;
use std::sync::Mutex;

use base64::Engine as _;
use minijinja::Value;
use serde_json::json;

use super::context::Context;
use crate::journal::event::sha256_hex;
use crate::journal::payload::HttpRequest;
use crate::runbook::{Http, Loaded, Step};
use crate::secret::{MASK, Redactor, Secrets, is_sensitive_header};
use crate::template::{Piece, Templates};

/// What preparing needs from the engine.
#[derive(Clone, Copy)]
pub struct Parts<'a> {
    pub rb: &'a Loaded,
    pub templates: &'a Templates,
    pub secrets: &'a Secrets,
    pub mask: &'a super::mask::Mask,
}

/// A request ready to send. Contains secrets: never display it, use the masked forms.
pub struct Prepared {
    pub target: String,
    pub method: reqwest::Method,
    pub url: url::Url,
    pub headers: Vec<(String, String)>,
    pub body: Option<Body>,
    /// Rendered values built from secrets (see `mask`): masked wherever they appear.
    pub derived: Vec<String>,
    /// Signs the final request just before it is sent (`auth.aws_sigv4`).
    pub signer: Option<std::sync::Arc<super::sigv4::Signer>>,
}

/// Renders the templates of one request and remembers which outputs came from secrets.
struct Renderer<'a, 'c> {
    parts: Parts<'a>,
    ctx: &'c Value,
    derived: Vec<String>,
    cache: Option<&'c RenderCache>,
}

/// Renders of templates that do not read `item`, shared by the items of one foreach run (the
/// target URL and credentials are the same for ten thousand revocations): source → (value,
/// derived secrets).
pub type RenderCache = Mutex<HashMap<String, (String, Vec<String>)>>;

impl Renderer<'_, '_> {
    fn render(&mut self, field: &str, source: &str) -> Result<String, String> {
        let cacheable = self.cache.filter(|_| !source.contains("item"));
        if let Some(hit) = cacheable
            .and_then(|c| c.lock().ok())
            .and_then(|c| c.get(source).cloned())
        {
            self.derived.extend(hit.1);
            return Ok(hit.0);
        }
        let value = render(self.parts, field, source, self.ctx)?;
        let derived_before = self.derived.len();
        if source.contains("secrets") {
            self.learn(&value);
        }
        if let Some(mut cache) = cacheable.and_then(|c| c.lock().ok()) {
            let derived = self.derived[derived_before..].to_vec();
            cache.insert(source.to_owned(), (value.clone(), derived));
        }
        Ok(value)
    }

    /// A template rendered into its text and printed values (for the URL path).
    fn render_pieces(&mut self, field: &str, source: &str) -> Result<Vec<Piece>, String> {
        let pieces = self
            .parts
            .templates
            .render_pieces(source, self.ctx)
            .map_err(|e| explain(self.parts, field, source, &e.message, false))?;
        if source.contains("secrets") {
            for piece in &pieces {
                if let Piece::Value(value) = piece {
                    self.learn(value);
                }
            }
        }
        Ok(pieces)
    }

    /// Remember a value rendered from a secret. Only values that hide a secret behind a
    /// transformation (a hash, a slice) need learning: where the raw secret shows, every form
    /// of it (base64 of the whole value included) is masked anyway, and masking only that
    /// keeps the rest of the text readable.
    fn learn(&mut self, value: &str) {
        let redactor = self.parts.mask.redactor();
        for part in std::iter::once(value).chain(value.split_once(' ').map(|(_, r)| r)) {
            if redactor.redact(part) == part {
                self.derived.push(part.to_owned());
            }
        }
    }
}

pub struct Body {
    pub bytes: Vec<u8>,
    pub content_type: &'static str,
}

/// Render one template; on failure say which field, why, and what to try.
pub fn render(parts: Parts<'_>, field: &str, source: &str, ctx: &Value) -> Result<String, String> {
    // Plain text needs no template engine (MiniJinja would only drop one trailing newline).
    if !source.contains(['{', '\n']) {
        return Ok(source.to_owned());
    }
    parts
        .templates
        .render(source, ctx)
        .map_err(|e| explain(parts, field, source, &e.message, false))
}

/// Turn a template failure into a sentence a responder can act on.
pub fn explain(parts: Parts<'_>, field: &str, source: &str, message: &str, expr: bool) -> String {
    let vars = if expr {
        parts.templates.expression_variables(source)
    } else {
        parts.templates.template_variables(source)
    }
    .unwrap_or_default();
    for var in &vars {
        if let Some(name) = var.strip_prefix("secrets.") {
            let name = name.split('.').next().unwrap_or(name);
            if parts.secrets.expose(name).is_none() {
                let why = parts.secrets.unavailable(name).map_or_else(
                    || format!("secret `{name}` is not loaded (is it declared under [secrets]?)"),
                    str::to_owned,
                );
                return format!("{field} needs {why}");
            }
        }
    }
    if vars
        .iter()
        .any(|v| v == "drafts" || v.starts_with("drafts."))
    {
        // `drafts['forum-post']` is reported as plain `drafts`: read the key from the text.
        let name = source
            .split_once("drafts")
            .map(|(_, rest)| rest.trim_start_matches(['.', '[', '\'', '"']))
            .and_then(|rest| rest.split(['\'', '"', ']', '.', ' ', '}']).next())
            .unwrap_or("?");
        return format!(
            "{field} sends the draft `{name}`, which has no saved version matching the journal: \
             write and save it first (stanch draft <incident> {name})"
        );
    }
    let hint = if message.contains("fuel") {
        format!(
            "the template ran out of fuel (limit {} steps): it loops too long; simplify it",
            crate::template::FUEL
        )
    } else if message.contains("undefined") {
        format!(
            "it reads a name that has no value ({}); check inputs, and that the steps whose \
             captures it reads have succeeded",
            vars.join(", ")
        )
    } else {
        "check the template's syntax".to_owned()
    };
    parts
        .mask
        .redactor()
        .redact(&format!("{field} `{source}` failed: {message}: {hint}"))
}

pub fn render_confirm(parts: Parts<'_>, source: &str, ctx: &Context) -> Result<String, String> {
    render(parts, "confirm", source, &ctx.base())
}

/// Build the request of an http step for one context (with `item` inside foreach).
#[expect(
    clippy::too_many_lines,
    reason = "one request from its parts: target, path, query, headers, body, auth"
)]
pub fn prepare(
    parts: Parts<'_>,
    step: &Step,
    http: &Http,
    ctx: &Value,
    cache: Option<&RenderCache>,
) -> Result<Prepared, String> {
    let mut r = Renderer {
        parts,
        ctx,
        derived: Vec::new(),
        cache,
    };
    let target_name = http.target.get_ref();
    let target = parts
        .rb
        .runbook
        .targets
        .get(target_name)
        .ok_or_else(|| format!("target `{target_name}` is not defined under [targets]"))?;
    let method =
        reqwest::Method::from_bytes(http.method.get_ref().trim().to_ascii_uppercase().as_bytes())
            .map_err(|_| format!("`{}` is not an HTTP method", http.method.get_ref()))?;

    let base = r.render(&format!("target `{target_name}` url"), target.url.get_ref())?;
    let url = url::Url::parse(base.trim()).map_err(|e| {
        parts.mask.redactor().redact(&format!(
            "target `{target_name}` url `{base}` is not a URL ({e}): give a full URL such as https://host:9200"
        ))
    })?;
    if url.cannot_be_a_base() || !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "target `{target_name}` url must start with http:// or https://"
        ));
    }
    let pieces = r.render_pieces("path", http.path.get_ref())?;
    let mut url =
        super::request_url::build(&url, &pieces).map_err(|e| parts.mask.redactor().redact(&e))?;
    for (key, value) in &http.query {
        let value = r.render(&format!("query `{key}`"), value.get_ref())?;
        url.query_pairs_mut().append_pair(key, &value);
    }

    let mut headers: Vec<(String, String)> = Vec::new();
    let mut signer = None;
    let mut set_header = |name: &str, value: String| {
        headers.retain(|(n, _)| !n.eq_ignore_ascii_case(name));
        headers.push((name.to_owned(), value));
    };
    if let Some(auth) = &target.auth {
        if let Some(bearer) = &auth.bearer {
            let token = r.render("auth bearer", bearer.get_ref())?;
            set_header("Authorization", format!("Bearer {token}"));
        }
        if let Some(basic) = &auth.basic {
            let user = r.render("auth basic user", basic.user.get_ref())?;
            let password = r.render("auth basic password", basic.password.get_ref())?;
            // Its base64 is what travels: learn the pair so that form is masked too.
            r.derived.push(format!("{user}:{password}"));
            let encoded =
                base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
            set_header("Authorization", format!("Basic {encoded}"));
        }
        if let Some(aws) = &auth.aws_sigv4 {
            signer = Some(std::sync::Arc::new(prepare_sigv4(
                &mut r,
                target_name,
                aws.get_ref(),
            )?));
        }
    }
    for (name, value) in target.headers.iter().chain(&http.headers) {
        let value = r.render(&format!("header `{name}`"), value.get_ref())?;
        check_header(name, &value)?;
        set_header(name, value);
    }

    let body = if let Some(json) = &http.json {
        let rendered = render_json(&mut r, json)?;
        Some(Body {
            bytes: serde_json::to_vec(&rendered).unwrap_or_default(),
            content_type: "application/json",
        })
    } else if let Some(xml) = &http.xml {
        let text = super::xml::write(xml, &mut |s| r.render("xml body", s))?;
        Some(Body {
            bytes: text.into_bytes(),
            content_type: "application/xml",
        })
    } else if http.form.is_empty() {
        None
    } else {
        let mut form = url::form_urlencoded::Serializer::new(String::new());
        for (key, value) in &http.form {
            let value = r.render(&format!("form `{key}`"), value.get_ref())?;
            form.append_pair(key, &value);
        }
        Some(Body {
            bytes: form.finish().into_bytes(),
            content_type: "application/x-www-form-urlencoded",
        })
    };
    // Signed form bodies take AWS's own encoding (see `sigv4::canonical_form`).
    let body = match body {
        Some(b) if signer.is_some() && b.content_type == "application/x-www-form-urlencoded" => {
            Some(Body {
                bytes: super::sigv4::canonical_form(&b.bytes),
                content_type: b.content_type,
            })
        }
        other => other,
    };
    let _ = step;
    Ok(Prepared {
        target: target_name.clone(),
        method,
        url,
        headers,
        body,
        derived: r.derived,
        signer,
    })
}

/// Render `auth.aws_sigv4` and resolve its credentials; the keys are learned as secrets.
fn prepare_sigv4(
    r: &mut Renderer<'_, '_>,
    target: &str,
    aws: &crate::runbook::AwsSigV4,
) -> Result<super::sigv4::Signer, String> {
    let mut field = |name: &str, value: Option<&toml::Spanned<String>>| {
        value
            .map(|v| r.render(&format!("auth aws_sigv4 {name}"), v.get_ref()))
            .transpose()
    };
    let fields = super::sigv4::Fields {
        region: field("region", Some(&aws.region))?.unwrap_or_default(),
        service: field("service", Some(&aws.service))?.unwrap_or_default(),
        access_key: field("access_key", aws.access_key.as_ref())?,
        secret_key: field("secret_key", aws.secret_key.as_ref())?,
        session_token: field("session_token", aws.session_token.as_ref())?,
    };
    let signer = super::sigv4::Signer::new(target, fields, |name| std::env::var(name).ok())
        .map_err(|e| e.to_string())?;
    r.derived.extend(signer.secrets());
    Ok(signer)
}

fn check_header(name: &str, value: &str) -> Result<(), String> {
    reqwest::header::HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("`{name}` is not a valid header name"))?;
    reqwest::header::HeaderValue::from_str(value).map_err(|_| {
        format!("header `{name}` renders to a value with control characters or newlines")
    })?;
    Ok(())
}

/// A JSON body: every string is a template, rendered one by one (so a value can never break
/// the JSON around it).
fn render_json(r: &mut Renderer<'_, '_>, value: &toml::Value) -> Result<serde_json::Value, String> {
    Ok(match value {
        toml::Value::String(s) => r.render("json body", s)?.into(),
        toml::Value::Integer(i) => (*i).into(),
        toml::Value::Float(f) => json!(f),
        toml::Value::Boolean(b) => (*b).into(),
        toml::Value::Datetime(d) => d.to_string().into(),
        toml::Value::Array(items) => items
            .iter()
            .map(|v| render_json(r, v))
            .collect::<Result<Vec<_>, _>>()?
            .into(),
        toml::Value::Table(table) => {
            let mut map = serde_json::Map::new();
            for (k, v) in table {
                map.insert(k.clone(), render_json(r, v)?);
            }
            serde_json::Value::Object(map)
        }
    })
}

impl Prepared {
    /// The URL as it may be shown: password in the authority and secret values masked.
    pub fn masked_url(&self, redactor: &Redactor) -> String {
        let mut url = self.url.clone();
        if url.password().is_some() {
            let _ = url.set_password(Some(MASK));
        }
        redactor.redact(url.as_str())
    }

    /// Headers as they may be shown: sensitive names masked whole, other values scrubbed.
    pub fn masked_headers(&self, redactor: &Redactor) -> Vec<(String, String)> {
        self.headers
            .iter()
            .map(|(name, value)| {
                let shown = if is_sensitive_header(name) {
                    mask_credential(value)
                } else {
                    redactor.redact(value)
                };
                (name.clone(), shown)
            })
            .collect()
    }

    /// `http.request` data (see the journal's table).
    pub fn request_data(
        &self,
        redactor: &Redactor,
        item: Option<usize>,
        attempt: Option<u32>,
    ) -> HttpRequest {
        HttpRequest {
            method: Some(self.method.as_str().to_owned()),
            url: Some(self.masked_url(redactor)),
            path: None,
            headers: Some(
                self.masked_headers(redactor)
                    .into_iter()
                    .map(|(k, v)| (k, v.into()))
                    .collect(),
            ),
            body_sha256: self.body.as_ref().map(|body| sha256_hex(&body.bytes)),
            body_bytes: self.body.as_ref().map(|body| body.bytes.len() as u64),
            item: item.map(|i| i as u64),
            attempt,
            signed: self
                .signer
                .as_ref()
                .map(|s| format!("aws_sigv4 {}", s.scope())),
        }
    }
}

/// Keep the scheme word of an Authorization value (`Bearer`, `Basic`, `ApiKey`) so a responder
/// can see which kind of credential goes out, and mask the rest.
fn mask_credential(value: &str) -> String {
    match value.split_once(' ') {
        Some((scheme, _)) if !scheme.is_empty() && scheme.len() <= 16 => format!("{scheme} {MASK}"),
        _ => MASK.to_owned(),
    }
}
