//! The payloads of one HTTP exchange (`http.request`, `http.response`) and what a step's
//! requests share ([`RequestShape`], recorded once in its `step.started`).
//!
//! A `foreach` of a million revocations sends a million requests that differ only in their
//! body and item: the same method, URL and headers each time. So a step's first request's
//! method, URL and headers are written once, in the `step.started` that opens the attempt,
//! and each `http.request` carries only what differs from that shape:
//!
//! | `http.request` field | absent means |
//! | --- | --- |
//! | `method` | the shape's method |
//! | `url`, `path` | `url` absent and `path` absent: the shape's URL; `path` (starts with `/`): the shape's scheme, host and port, then `path` |
//! | `headers` | the shape's headers |
//!
//! and an `http.response` with `bytes` 0 leaves out `body_sha256` (the empty body's digest,
//! [`EMPTY_SHA256`]). Each exchange still names its item, status, time and bytes, and
//! [`HttpRequest::resolve`] rebuilds the whole request from the shape, as the export does.
//! Journals written before this (every field on every request) read as they always did: a
//! request that carries its fields needs no shape.

use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::Payload;

/// SHA-256 of zero bytes: the digest of every empty body, which a response leaves out.
pub const EMPTY_SHA256: &str = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

/// What a step's requests share: written once in `step.started` (`request`); url and headers
/// already masked by the engine.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct RequestShape {
    pub method: String,
    pub url: String,
    pub headers: Map<String, Value>,
}

/// `http.request` (url and headers already masked by the engine). `method`, `url` and
/// `headers` are absent when they are the step's [`RequestShape`]'s (see the module doc).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpRequest {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// The path and query, when only they differ from the shape's URL.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub headers: Option<Map<String, Value>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_bytes: Option<u64>,
    /// foreach index.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<u64>,
    /// Poll attempt.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// How the request was signed, e.g. `aws_sigv4 eu-west-1/s3` (never the signature).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed: Option<String>,
}

impl HttpRequest {
    /// The shape this request would set for its step: its method, URL and headers.
    pub fn shape(&self) -> RequestShape {
        RequestShape {
            method: self.method.clone().unwrap_or_default(),
            url: self.url.clone().unwrap_or_default(),
            headers: self.headers.clone().unwrap_or_default(),
        }
    }

    /// This request as written after `shape`: what equals the shape left out, a URL on the
    /// shape's origin written as its path.
    #[must_use]
    pub fn lean(mut self, shape: &RequestShape) -> Self {
        if self.method.as_deref() == Some(shape.method.as_str()) {
            self.method = None;
        }
        if self.headers.as_ref() == Some(&shape.headers) {
            self.headers = None;
        }
        if let Some(url) = self.url.take()
            && url != shape.url
        {
            match path_on(&url, origin(&shape.url)) {
                Some(path) => self.path = Some(path.to_owned()),
                None => self.url = Some(url),
            }
        }
        self
    }

    /// The whole request: what it leaves out taken from `shape` (its step's, when it has
    /// one). A request written whole comes back as it is.
    #[must_use]
    pub fn resolve(mut self, shape: Option<&RequestShape>) -> Self {
        let Some(shape) = shape else {
            return self;
        };
        self.method.get_or_insert_with(|| shape.method.clone());
        self.headers.get_or_insert_with(|| shape.headers.clone());
        if self.url.is_none() {
            self.url = Some(match self.path.take() {
                Some(path) => format!("{}{path}", origin(&shape.url)),
                None => shape.url.clone(),
            });
        }
        self
    }
}

/// Each step's request shape as a journal is read in order (its latest `step.started`), to
/// give every request back whole: the one reading of the rule above, for every reader.
#[derive(Debug, Clone, Default)]
pub struct Shapes(HashMap<String, RequestShape>);

impl Shapes {
    /// Note what `payload` (of an event of `step`) says about shapes, and return it with a
    /// request made whole ([`HttpRequest::resolve`]).
    pub fn resolve(&mut self, step: Option<&str>, payload: Payload) -> Payload {
        match (payload, step) {
            (Payload::StepStarted(started), Some(step)) => {
                match &started.request {
                    Some(shape) => self.0.insert(step.to_owned(), shape.clone()),
                    None => self.0.remove(step),
                };
                Payload::StepStarted(started)
            }
            (Payload::HttpRequest(request), step) => {
                Payload::HttpRequest(request.resolve(step.and_then(|s| self.0.get(s))))
            }
            (payload, _) => payload,
        }
    }
}

/// `scheme://host:port` of a URL as written (no parsing: a masked URL must come back byte for
/// byte), or the whole text when it has no path.
fn origin(url: &str) -> &str {
    let after_scheme = url.find("://").map_or(0, |i| i + 3);
    url[after_scheme..]
        .find('/')
        .map_or(url, |slash| &url[..after_scheme + slash])
}

/// The rest of `url` after `origin`, when it starts there and the rest is a path.
fn path_on<'a>(url: &'a str, origin: &str) -> Option<&'a str> {
    url.strip_prefix(origin)
        .filter(|rest| rest.starts_with('/') && origin.contains("://"))
}

/// `http.response`: a status, or a transport `error` (then no status). An empty body's
/// `body_sha256` is left out ([`HttpResponse::digest`] gives it back).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct HttpResponse {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    pub elapsed_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub bytes: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub body_sha256: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote_addr: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub item: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attempt: Option<u32>,
    /// Transport failure, redacted.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl HttpResponse {
    /// As written: an empty body's digest left out.
    #[must_use]
    pub fn lean(mut self) -> Self {
        if self.bytes == Some(0) && self.body_sha256.as_deref() == Some(EMPTY_SHA256) {
            self.body_sha256 = None;
        }
        self
    }

    /// The body's SHA-256: as recorded, or the empty body's when it had no bytes.
    pub fn digest(&self) -> Option<&str> {
        self.body_sha256
            .as_deref()
            .or_else(|| (self.bytes == Some(0)).then_some(EMPTY_SHA256))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn request(method: &str, url: &str, headers: Value) -> HttpRequest {
        HttpRequest {
            method: Some(method.into()),
            url: Some(url.into()),
            headers: serde_json::from_value(headers).unwrap(),
            body_sha256: Some("ab".into()),
            body_bytes: Some(2),
            item: Some(7),
            ..HttpRequest::default()
        }
    }

    #[rstest::rstest]
    #[case::same_as_the_shape("POST", "http://h:1/oauth/revoke", json!({"Authorization": "Basic ••••"}),
        json!({"body_bytes": 2, "body_sha256": "ab", "item": 7}))]
    #[case::another_path_on_the_same_origin("DELETE", "http://h:1/tokens/7?x=••", json!({"Authorization": "Basic ••••"}),
        json!({"method": "DELETE", "path": "/tokens/7?x=••", "body_bytes": 2, "body_sha256": "ab", "item": 7}))]
    #[case::another_host("POST", "https://other/oauth/revoke", json!({}),
        json!({"url": "https://other/oauth/revoke", "headers": {}, "body_bytes": 2, "body_sha256": "ab", "item": 7}))]
    #[case::a_host_that_starts_alike("POST", "http://h:10/oauth/revoke", json!({"Authorization": "Basic ••••"}),
        json!({"url": "http://h:10/oauth/revoke", "body_bytes": 2, "body_sha256": "ab", "item": 7}))]
    fn a_request_keeps_what_differs_and_resolves_back_whole(
        #[case] method: &str,
        #[case] url: &str,
        #[case] headers: Value,
        #[case] wire: Value,
    ) {
        let shape = request(
            "POST",
            "http://h:1/oauth/revoke",
            json!({"Authorization": "Basic ••••"}),
        )
        .shape();
        let whole = request(method, url, headers);
        let lean = whole.clone().lean(&shape);
        assert_eq!(serde_json::to_value(&lean).unwrap(), wire);
        assert_eq!(lean.resolve(Some(&shape)), whole);
    }

    #[test]
    fn an_old_request_written_whole_needs_no_shape() {
        let old: HttpRequest =
            serde_json::from_str(r#"{"method":"GET","url":"http://h/x","headers":{},"item":1}"#)
                .unwrap();
        assert_eq!(old.clone().resolve(None), old);
        let shape = request("POST", "http://other/y", json!({"a": "b"})).shape();
        assert_eq!(old.clone().resolve(Some(&shape)), old);
    }

    #[test]
    fn an_empty_body_digest_is_left_out_and_given_back() {
        let response = HttpResponse {
            status: Some(200),
            bytes: Some(0),
            body_sha256: Some(EMPTY_SHA256.into()),
            ..HttpResponse::default()
        };
        assert_eq!(crate::digest::sha256_hex(b""), EMPTY_SHA256);
        let lean = response.clone().lean();
        assert_eq!(lean.body_sha256, None);
        assert_eq!(lean.digest(), Some(EMPTY_SHA256));
        let body = HttpResponse {
            bytes: Some(3),
            body_sha256: Some("abc".into()),
            ..response
        };
        assert_eq!(body.clone().lean(), body);
    }
}
