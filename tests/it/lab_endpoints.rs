//! Every lab endpoint against its documented example body, kept as a fixture in
//! `tests/fixtures/lab/<case>.json`:
//!
//! ```json
//! { "doc": "where the behaviour is written down", "service": "es" | "auth" | "comms",
//!   "options": { "snapshot_duration_ms": 60000, "es_version": "7.10.2", "security": "on",
//!                "path_repo": "" }?,                  (default: 7.4.2, security off)
//!   "setup": [ request… ]?, "request": { "method", "path", "auth", "body"?, "form"? },
//!   "status": 200, "body": <expected>, "exact": bool?, "headers": { name: value|null }? }
//! ```
//!
//! In `body`, `"<string>"`, `"<number>"`, `"<bool>"` and `"<any>"` match any value of that
//! kind; every other value must be equal. An object lists the keys that must be present (all
//! of them, and no others, when `exact`); a `"<any-key>"` key matches every entry (node ids);
//! an array of one element means "non-empty, and every element matches it", of several "these
//! items in this order"; an empty array means empty. `auth` is `none`, `bad` (wrong
//! credentials), `es` (ApiKey), `es_lowercase` (`apikey` scheme), `responder`, `alexa` (OAuth
//! Basic), `post_alexa` (client_secret_post), `both_alexa` (Basic and post at once), `forum`
//! (Bearer), `admin` (Bearer: the responder's client-credentials token, as Keycloak's admin
//! API takes it) or `alexa_bearer` (Bearer: alexa-skill's own client-credentials token). In
//! paths, bodies and expected bodies `{alexa_refresh}` is an active alexa-skill refresh token,
//! `{metrics_key_id}` the id of the `metrics-ingest` API key, `{issuer}` the lab realm's
//! issuer, `{forged_scroll}` a scroll id asking for 2.4 M documents at once, `{alexa_uuid}`
//! the alexa-skill client's uuid, `{alexa_offline_session}` / `{alexa_online_session}` the id
//! of its first offline / online session (the lab's first alexa-skill grant is online, so
//! `{alexa_refresh}` belongs to `{alexa_online_session}`) and `{alexa_user}` the user id of
//! that offline session.

use crate::support::lab_http;

use lab_http::{basic, client, client_token};

use std::time::Duration;

use base64::Engine as _;
use rstest::rstest;
use serde_json::Value;
use stanch::lab::{Lab, LabOptions};

struct Ctx {
    lab: Lab,
    http: reqwest::Client,
    alexa_refresh: String,
    admin_token: String,
    alexa_token: String,
    alexa_uuid: String,
    alexa_offline_session: String,
    alexa_online_session: String,
    alexa_user: String,
    /// A scroll id as the lab encodes them, asking for a batch of 2.4 M documents.
    forged_scroll: String,
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
        let auth = &lab.urls().auth;
        let alexa_secret = c.client_secret("alexa-skill").unwrap();
        let admin_token =
            client_token(&http, auth, &c.oauth_client_id, &c.oauth_client_secret).await;
        let alexa_token = client_token(&http, auth, "alexa-skill", alexa_secret).await;
        let admin_get = |path: String| {
            http.get(format!("{auth}/admin/realms/lab{path}"))
                .bearer_auth(&admin_token)
                .send()
        };
        let clients: Value = admin_get("/clients?clientId=alexa-skill".into())
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let alexa_uuid = clients[0]["id"].as_str().unwrap().to_owned();
        let first_session = |kind: &'static str| {
            let get = admin_get(format!("/clients/{alexa_uuid}/{kind}?max=1"));
            async move { get.await.unwrap().json::<Value>().await.unwrap()[0].clone() }
        };
        let offline = first_session("offline-sessions").await;
        let online = first_session("user-sessions").await;
        let forged_scroll =
            base64::engine::general_purpose::URL_SAFE.encode("lab-scroll;customers;0;2400000;0;0");
        Self {
            lab,
            http,
            alexa_refresh,
            alexa_offline_session: offline["id"].as_str().unwrap().to_owned(),
            alexa_online_session: online["id"].as_str().unwrap().to_owned(),
            alexa_user: offline["userId"].as_str().unwrap().to_owned(),
            admin_token,
            alexa_token,
            alexa_uuid,
            forged_scroll,
        }
    }

    fn fill(&self, text: &str) -> String {
        text.replace("{alexa_refresh}", &self.alexa_refresh)
            .replace("{forged_scroll}", &self.forged_scroll)
            .replace(
                "{metrics_key_id}",
                &stanch::lab::credentials::api_key_id(2019, 1),
            )
            .replace("{issuer}", &format!("{}/realms/lab", self.lab.urls().auth))
            .replace("{alexa_uuid}", &self.alexa_uuid)
            .replace("{alexa_offline_session}", &self.alexa_offline_session)
            .replace("{alexa_online_session}", &self.alexa_online_session)
            .replace("{alexa_user}", &self.alexa_user)
    }

    /// `fill` in every string and object key of a JSON value.
    fn fill_value(&self, value: &Value) -> Value {
        match value {
            Value::String(s) => Value::String(self.fill(s)),
            Value::Array(a) => Value::Array(a.iter().map(|v| self.fill_value(v)).collect()),
            Value::Object(o) => Value::Object(
                o.iter()
                    .map(|(k, v)| (self.fill(k), self.fill_value(v)))
                    .collect(),
            ),
            other => other.clone(),
        }
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
        let kind = req["auth"].as_str().unwrap_or("none");
        let auth = match kind {
            "none" | "post_alexa" => None,
            "bad" if service == "es" => Some("ApiKey bm90OmEta2V5".to_owned()),
            "bad" => Some(basic("stanch-responder", "wrong")),
            "es" => Some(format!("ApiKey {}", c.es_api_key)),
            "es_lowercase" => Some(format!("apikey {}", c.es_api_key)),
            "responder" => Some(basic(&c.oauth_client_id, &c.oauth_client_secret)),
            "alexa" | "both_alexa" => Some(basic("alexa-skill", alexa_secret)),
            "forum" => Some(format!("Bearer {}", c.forum_token)),
            "admin" => Some(format!("Bearer {}", self.admin_token)),
            "alexa_bearer" => Some(format!("Bearer {}", self.alexa_token)),
            other => panic!("unknown auth {other}"),
        };
        if let Some(auth) = auth {
            builder = builder.header("authorization", auth);
        }
        if let Some(body) = req.get("body").filter(|b| !b.is_null()) {
            builder = builder.json(&self.fill_value(body));
        }
        if let Some(form) = req.get("form").and_then(Value::as_object) {
            let mut pairs: Vec<(String, String)> = form
                .iter()
                .map(|(k, v)| (k.clone(), self.fill(v.as_str().unwrap())))
                .collect();
            // client_secret_post (RFC 6749 §2.3.1), alone or (wrongly) beside Basic.
            if kind == "post_alexa" || kind == "both_alexa" {
                pairs.push(("client_id".into(), "alexa-skill".into()));
                pairs.push(("client_secret".into(), alexa_secret.to_owned()));
            }
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
            if let Some(v) = want.get("<any-key>") {
                // Keys that are ids (node ids): every value must match.
                if got.is_empty() {
                    out.push(format!("{path}: want entries, got {{}}"));
                }
                for (k, a) in got {
                    mismatches(v, a, exact, &format!("{path}.{k}"), out);
                }
                return;
            }
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
            if want.len() > 1 {
                // Several items: the same items in the same order.
                if want.len() != got.len() {
                    out.push(format!("{path}: want {} items, got {actual}", want.len()));
                }
                for (n, (w, a)) in want.iter().zip(got).enumerate() {
                    mismatches(w, a, exact, &format!("{path}[{n}]"), out);
                }
                return;
            }
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
#[case::auth_admin_tokens("auth_admin_tokens")]
#[case::auth_admin_clients_by_client_id("auth_admin_clients_by_client_id")]
#[case::auth_admin_delete_offline_session("auth_admin_delete_offline_session")]
#[case::auth_admin_delete_online_session("auth_admin_delete_online_session")]
#[case::auth_admin_delete_session_twice("auth_admin_delete_session_twice")]
#[case::auth_admin_delete_session_wrong_kind("auth_admin_delete_session_wrong_kind")]
#[case::auth_admin_deleted_session_ends_refresh("auth_admin_deleted_session_ends_refresh")]
#[case::auth_admin_forbidden_without_role("auth_admin_forbidden_without_role")]
#[case::auth_admin_needs_bearer("auth_admin_needs_bearer")]
#[case::auth_admin_offline_session_count("auth_admin_offline_session_count")]
#[case::auth_admin_offline_sessions("auth_admin_offline_sessions")]
#[case::auth_admin_revoke_consent("auth_admin_revoke_consent")]
#[case::auth_admin_revoke_consent_takes_client_id("auth_admin_revoke_consent_takes_client_id")]
#[case::auth_admin_revoke_consent_twice("auth_admin_revoke_consent_twice")]
#[case::auth_admin_revoke_consent_unknown_user("auth_admin_revoke_consent_unknown_user")]
#[case::auth_admin_session_count_after_delete("auth_admin_session_count_after_delete")]
#[case::auth_admin_unknown_client_uuid("auth_admin_unknown_client_uuid")]
#[case::auth_admin_unknown_realm("auth_admin_unknown_realm")]
#[case::auth_admin_user_sessions("auth_admin_user_sessions")]
#[case::auth_bad_client("auth_bad_client")]
#[case::auth_client_credentials("auth_client_credentials")]
#[case::auth_discovery_oidc("auth_discovery_oidc")]
#[case::auth_discovery_rfc8414("auth_discovery_rfc8414")]
#[case::auth_introspect_active("auth_introspect_active")]
#[case::auth_introspect_needs_responder("auth_introspect_needs_responder")]
#[case::auth_introspect_own_token("auth_introspect_own_token")]
#[case::auth_introspect_revoked("auth_introspect_revoked")]
#[case::auth_refresh("auth_refresh")]
#[case::auth_refresh_after_revoke_ends_grant("auth_refresh_after_revoke_ends_grant")]
#[case::auth_refresh_revoked("auth_refresh_revoked")]
#[case::auth_revoke("auth_revoke")]
#[case::auth_revoke_client_secret_post("auth_revoke_client_secret_post")]
#[case::auth_revoke_other_clients_token("auth_revoke_other_clients_token")]
#[case::auth_revoke_unknown_token("auth_revoke_unknown_token")]
#[case::auth_two_client_auth_methods("auth_two_client_auth_methods")]
#[case::auth_unsupported_grant("auth_unsupported_grant")]
#[case::comms_forum_list("comms_forum_list")]
#[case::comms_forum_post("comms_forum_post")]
#[case::comms_forum_post_needs_token("comms_forum_post_needs_token")]
#[case::comms_status_hook("comms_status_hook")]
#[case::comms_status_hook_no_text("comms_status_hook_no_text")]
#[case::es_710_concurrent_snapshot("es_710_concurrent_snapshot")]
#[case::es_710_invalidate_by_ids("es_710_invalidate_by_ids")]
#[case::es_710_root("es_710_root")]
#[case::es_74_block_api_absent("es_74_block_api_absent")]
#[case::es_74_concurrent_snapshot("es_74_concurrent_snapshot")]
#[case::es_74_get_api_keys_by_realm("es_74_get_api_keys_by_realm")]
#[case::es_74_get_api_keys_needs_a_parameter("es_74_get_api_keys_needs_a_parameter")]
#[case::es_74_invalidate_by_id("es_74_invalidate_by_id")]
#[case::es_74_invalidate_ids_unknown("es_74_invalidate_ids_unknown")]
#[case::es_8_hits_typeless("es_8_hits_typeless")]
#[case::es_8_root("es_8_root")]
#[case::es_block_read("es_block_read")]
#[case::es_cat_indices_after_close("es_cat_indices_after_close")]
#[case::es_cat_indices_json("es_cat_indices_json")]
#[case::es_close("es_close")]
#[case::es_close_already_closed("es_close_already_closed")]
#[case::es_cluster_settings("es_cluster_settings")]
#[case::es_cluster_settings_put("es_cluster_settings_put")]
#[case::es_count("es_count")]
#[case::es_count_after_close("es_count_after_close")]
#[case::es_index_not_found("es_index_not_found")]
#[case::es_invalidate_api_key("es_invalidate_api_key")]
#[case::es_invalidate_api_key_again("es_invalidate_api_key_again")]
#[case::es_mapping("es_mapping")]
#[case::es_nodes_settings_path_repo("es_nodes_settings_path_repo")]
#[case::es_off_anonymous_close("es_off_anonymous_close")]
#[case::es_off_bad_key_ignored("es_off_bad_key_ignored")]
#[case::es_off_invalidate_api_key_500("es_off_invalidate_api_key_500")]
#[case::es_off_security_api_500("es_off_security_api_500")]
#[case::es_off_security_user_500("es_off_security_user_500")]
#[case::es_off_xpack_stays_off_after_close("es_off_xpack_stays_off_after_close")]
#[case::es_on_anonymous_close_forbidden("es_on_anonymous_close_forbidden")]
#[case::es_on_anonymous_read("es_on_anonymous_read")]
#[case::es_on_api_key_scheme_case_insensitive("es_on_api_key_scheme_case_insensitive")]
#[case::es_on_bad_key_root("es_on_bad_key_root")]
#[case::es_on_xpack_security_on("es_on_xpack_security_on")]
#[case::es_path_repo_empty("es_path_repo_empty")]
#[case::es_read_block_setting("es_read_block_setting")]
#[case::es_read_block_setting_blocks_reads("es_read_block_setting_blocks_reads")]
#[case::es_read_block_setting_null_lifts("es_read_block_setting_null_lifts")]
#[case::es_root("es_root")]
#[case::es_scroll_batch_too_large("es_scroll_batch_too_large")]
#[case::es_scroll_forged_id_too_large("es_scroll_forged_id_too_large")]
#[case::es_search_after_block("es_search_after_block")]
#[case::es_search_first_page("es_search_first_page")]
#[case::es_search_scroll_first_page("es_search_scroll_first_page")]
#[case::es_search_window_too_large("es_search_window_too_large")]
#[case::es_settings("es_settings")]
#[case::es_snapshot_closed_index_named("es_snapshot_closed_index_named")]
#[case::es_snapshot_create("es_snapshot_create")]
#[case::es_snapshot_create_wait("es_snapshot_create_wait")]
#[case::es_snapshot_default_skips_closed("es_snapshot_default_skips_closed")]
#[case::es_snapshot_delete("es_snapshot_delete")]
#[case::es_snapshot_duplicate("es_snapshot_duplicate")]
#[case::es_snapshot_get_after_delete("es_snapshot_get_after_delete")]
#[case::es_snapshot_get_metadata_and_failed_shards("es_snapshot_get_metadata_and_failed_shards")]
#[case::es_snapshot_missing("es_snapshot_missing")]
#[case::es_snapshot_name_comma("es_snapshot_name_comma")]
#[case::es_snapshot_name_hash("es_snapshot_name_hash")]
#[case::es_snapshot_name_space("es_snapshot_name_space")]
#[case::es_snapshot_name_underscore("es_snapshot_name_underscore")]
#[case::es_snapshot_name_upper("es_snapshot_name_upper")]
#[case::es_snapshot_repository("es_snapshot_repository")]
#[case::es_snapshot_repository_missing("es_snapshot_repository_missing")]
#[case::es_snapshot_repository_outside_path_repo("es_snapshot_repository_outside_path_repo")]
#[case::es_snapshot_status_ignore_unavailable("es_snapshot_status_ignore_unavailable")]
#[case::es_snapshot_status_in_progress("es_snapshot_status_in_progress")]
#[case::es_wrong_api_key("es_wrong_api_key")]
#[case::es_wrong_method_405("es_wrong_method_405")]
#[case::es_xpack_security_off("es_xpack_security_off")]
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
    if let Some(v) = fixture
        .pointer("/options/es_version")
        .and_then(Value::as_str)
    {
        options.profile.version = v.parse().unwrap();
    }
    if let Some(v) = fixture.pointer("/options/security").and_then(Value::as_str) {
        options.profile.security = v.parse().unwrap();
    }
    if let Some(v) = fixture
        .pointer("/options/path_repo")
        .and_then(Value::as_str)
    {
        options.path_repo = (!v.is_empty()).then(|| v.to_owned());
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
    // Headers the fixture names: a value to match, or null for "absent".
    for (name, want) in fixture
        .get("headers")
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
    {
        let got = response.headers().get(name).map(|v| v.to_str().unwrap());
        assert_eq!(got, want.as_str(), "{name}: header {name}");
    }
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
    mismatches(
        &ctx.fill_value(&fixture["body"]),
        &actual,
        exact,
        "$",
        &mut out,
    );
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
