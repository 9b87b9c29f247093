//! Every lab endpoint against its documented example body, kept as a fixture in
//! `tests/fixtures/lab/<case>.json`:
//!
//! ```json
//! { "doc": "where the example comes from", "service": "es" | "auth" | "comms",
//!   "options": { "snapshot_duration_ms": 60000 }?,
//!   "setup": [ request… ]?, "request": { "method", "path", "auth", "body"?, "form"? },
//!   "status": 200, "body": <expected>, "exact": bool? }
//! ```
//!
//! In `body`, `"<string>"`, `"<number>"`, `"<bool>"` and `"<any>"` match any value of that
//! kind; every other value must be equal. An object lists the keys that must be present (all
//! of them, and no others, when `exact`); an array of one element means "non-empty, and every
//! element matches it"; an empty array means empty. `auth` is `none`, `bad` (wrong
//! credentials), `es` (ApiKey), `responder`, `alexa` (OAuth Basic) or `forum` (Bearer).
//! `{alexa_refresh}` in a path or form value is replaced by an active alexa-skill refresh
//! token.

use std::time::Duration;

use base64::Engine as _;
use rstest::rstest;
use serde_json::Value;
use stanch::lab::{Lab, LabOptions};

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

fn basic(user: &str, password: &str) -> String {
    let raw = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

struct Ctx {
    lab: Lab,
    http: reqwest::Client,
    alexa_refresh: String,
}

impl Ctx {
    async fn new(options: &LabOptions) -> Self {
        let lab = Lab::start_with(2019, 0, options).expect("lab starts");
        let http = client();
        let c = lab.credentials();
        let list: Value = http
            .get(format!(
                "{}/admin/clients/alexa-skill/tokens?token_type=refresh_token",
                lab.urls().auth
            ))
            .header(
                "authorization",
                basic(&c.oauth_client_id, &c.oauth_client_secret),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let alexa_refresh = list["tokens"][0]["token"].as_str().unwrap().to_owned();
        Self {
            lab,
            http,
            alexa_refresh,
        }
    }

    fn fill(&self, text: &str) -> String {
        text.replace("{alexa_refresh}", &self.alexa_refresh)
    }

    async fn send(&self, service: &str, req: &Value) -> reqwest::Response {
        let urls = self.lab.urls();
        let base = match service {
            "es" => &urls.es,
            "auth" => &urls.auth,
            "comms" => &urls.comms,
            other => panic!("unknown service {other}"),
        };
        let method: reqwest::Method = req["method"].as_str().unwrap().parse().unwrap();
        let url = format!("{base}{}", self.fill(req["path"].as_str().unwrap()));
        let mut builder = self.http.request(method, url);
        let c = self.lab.credentials();
        let alexa_secret = c.client_secret("alexa-skill").unwrap();
        let auth = match req["auth"].as_str().unwrap_or("none") {
            "none" => None,
            "bad" if service == "es" => Some("ApiKey bm90OmEta2V5".to_owned()),
            "bad" => Some(basic("stanch-responder", "wrong")),
            "es" => Some(format!("ApiKey {}", c.es_api_key)),
            "responder" => Some(basic(&c.oauth_client_id, &c.oauth_client_secret)),
            "alexa" => Some(basic("alexa-skill", alexa_secret)),
            "forum" => Some(format!("Bearer {}", c.forum_token)),
            other => panic!("unknown auth {other}"),
        };
        if let Some(auth) = auth {
            builder = builder.header("authorization", auth);
        }
        if let Some(body) = req.get("body").filter(|b| !b.is_null()) {
            builder = builder.json(body);
        }
        if let Some(form) = req.get("form").and_then(Value::as_object) {
            let pairs: Vec<(String, String)> = form
                .iter()
                .map(|(k, v)| (k.clone(), self.fill(v.as_str().unwrap())))
                .collect();
            builder = builder.form(&pairs);
        }
        builder.send().await.unwrap()
    }
}

/// Where `actual` departs from `expected`, as `path: why` lines.
fn mismatches(expected: &Value, actual: &Value, exact: bool, path: &str, out: &mut Vec<String>) {
    match expected {
        Value::String(s) if s == "<any>" => {}
        Value::String(s) if s == "<string>" => {
            if !actual.is_string() {
                out.push(format!("{path}: want a string, got {actual}"));
            }
        }
        Value::String(s) if s == "<number>" => {
            if !actual.is_number() {
                out.push(format!("{path}: want a number, got {actual}"));
            }
        }
        Value::String(s) if s == "<bool>" => {
            if !actual.is_boolean() {
                out.push(format!("{path}: want a bool, got {actual}"));
            }
        }
        Value::Object(want) => {
            let Some(got) = actual.as_object() else {
                out.push(format!("{path}: want an object, got {actual}"));
                return;
            };
            for (k, v) in want {
                match got.get(k) {
                    Some(a) => mismatches(v, a, exact, &format!("{path}.{k}"), out),
                    None => out.push(format!("{path}: missing key `{k}`")),
                }
            }
            if exact {
                for k in got.keys().filter(|k| !want.contains_key(*k)) {
                    out.push(format!("{path}: unexpected key `{k}`"));
                }
            }
        }
        Value::Array(want) => {
            let Some(got) = actual.as_array() else {
                out.push(format!("{path}: want an array, got {actual}"));
                return;
            };
            match want.first() {
                None if !got.is_empty() => out.push(format!("{path}: want [], got {actual}")),
                None => {}
                Some(_) if got.is_empty() => out.push(format!("{path}: want items, got []")),
                Some(item) => {
                    for (n, a) in got.iter().enumerate() {
                        mismatches(item, a, exact, &format!("{path}[{n}]"), out);
                    }
                }
            }
        }
        other => {
            if other != actual {
                out.push(format!("{path}: want {other}, got {actual}"));
            }
        }
    }
}

#[rstest]
#[case::es_root("es_root")]
#[case::es_cat_indices_json("es_cat_indices_json")]
#[case::es_count("es_count")]
#[case::es_search_first_page("es_search_first_page")]
#[case::es_search_scroll_first_page("es_search_scroll_first_page")]
#[case::es_search_window_too_large("es_search_window_too_large")]
#[case::es_mapping("es_mapping")]
#[case::es_settings("es_settings")]
#[case::es_index_not_found("es_index_not_found")]
#[case::es_close_needs_credentials("es_close_needs_credentials")]
#[case::es_wrong_api_key("es_wrong_api_key")]
#[case::es_close("es_close")]
#[case::es_close_already_closed("es_close_already_closed")]
#[case::es_count_after_close("es_count_after_close")]
#[case::es_cat_indices_after_close("es_cat_indices_after_close")]
#[case::es_block_read("es_block_read")]
#[case::es_search_after_block("es_search_after_block")]
#[case::es_cluster_settings("es_cluster_settings")]
#[case::es_cluster_settings_put("es_cluster_settings_put")]
#[case::es_xpack_security_off("es_xpack_security_off")]
#[case::es_snapshot_repository("es_snapshot_repository")]
#[case::es_snapshot_repository_outside_path_repo("es_snapshot_repository_outside_path_repo")]
#[case::es_snapshot_create("es_snapshot_create")]
#[case::es_snapshot_create_wait("es_snapshot_create_wait")]
#[case::es_snapshot_duplicate("es_snapshot_duplicate")]
#[case::es_snapshot_status_in_progress("es_snapshot_status_in_progress")]
#[case::es_snapshot_missing("es_snapshot_missing")]
#[case::es_snapshot_repository_missing("es_snapshot_repository_missing")]
#[case::es_invalidate_api_key("es_invalidate_api_key")]
#[case::es_invalidate_api_key_again("es_invalidate_api_key_again")]
#[case::auth_client_credentials("auth_client_credentials")]
#[case::auth_refresh("auth_refresh")]
#[case::auth_bad_client("auth_bad_client")]
#[case::auth_unsupported_grant("auth_unsupported_grant")]
#[case::auth_refresh_revoked("auth_refresh_revoked")]
#[case::auth_revoke("auth_revoke")]
#[case::auth_revoke_unknown_token("auth_revoke_unknown_token")]
#[case::auth_introspect_active("auth_introspect_active")]
#[case::auth_introspect_revoked("auth_introspect_revoked")]
#[case::auth_introspect_needs_responder("auth_introspect_needs_responder")]
#[case::auth_admin_tokens("auth_admin_tokens")]
#[case::comms_forum_post("comms_forum_post")]
#[case::comms_forum_post_needs_token("comms_forum_post_needs_token")]
#[case::comms_forum_list("comms_forum_list")]
#[case::comms_status_hook("comms_status_hook")]
#[case::comms_status_hook_no_text("comms_status_hook_no_text")]
#[tokio::test]
async fn endpoint_matches_documented_example(#[case] name: &str) {
    let path = format!(
        "{}/tests/fixtures/lab/{name}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let mut options = LabOptions::default();
    if let Some(ms) = fixture
        .pointer("/options/snapshot_duration_ms")
        .and_then(Value::as_u64)
    {
        options.snapshot_duration = Duration::from_millis(ms);
    }
    let ctx = Ctx::new(&options).await;
    let service = fixture["service"].as_str().unwrap();
    for step in fixture
        .get("setup")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
    {
        let status = ctx.send(service, step).await.status();
        assert!(
            status.is_success(),
            "{name}: setup {step} answered {status}"
        );
    }
    let response = ctx.send(service, &fixture["request"]).await;
    let status = response.status().as_u16();
    let challenge = response.headers().contains_key("www-authenticate");
    let text = response.text().await.unwrap();
    assert_eq!(
        u64::from(status),
        fixture["status"].as_u64().unwrap(),
        "{name}: {text}"
    );
    if status == 401 {
        assert!(challenge, "{name}: a 401 must carry WWW-Authenticate");
    }
    let actual = if text.is_empty() {
        Value::String(String::new())
    } else {
        serde_json::from_str(&text).unwrap_or_else(|e| panic!("{name}: not JSON ({e}): {text}"))
    };
    let exact = fixture["exact"].as_bool().unwrap_or(false);
    let mut out = Vec::new();
    mismatches(&fixture["body"], &actual, exact, "$", &mut out);
    assert!(
        out.is_empty(),
        "{name}:\n{}\nbody: {actual}",
        out.join("\n")
    );
    ctx.lab.shutdown();
}

#[test]
fn the_matcher_reports_wrong_types_missing_keys_and_extra_keys() {
    let want: Value = serde_json::json!({"a": "<number>", "b": ["<string>"], "c": {"d": true}});
    let got: Value = serde_json::json!({"a": "1", "b": [], "c": {"d": false}, "e": 1});
    let mut out = Vec::new();
    mismatches(&want, &got, true, "$", &mut out);
    assert_eq!(out.len(), 4, "{out:?}");
}
