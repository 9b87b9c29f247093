//! The bundled runbook's token steps, unchanged, against a real authorization server:
//! oidc-provider (OpenID Certified, from npm), started with node on 127.0.0.1 by this test
//! (`tests/oidc/server.mjs`), holding tokens it issued itself through real grants (client
//! credentials, and the authorization code flow with refresh tokens).
//!
//! Elasticsearch and the comms services are the lab's (no Elasticsearch can run here); the
//! authorization server is not. The runbook must find oidc-provider's endpoints by discovery
//! (they are not the lab's paths), revoke each client's tokens as that client, and see them
//! inactive by introspection; oidc-provider itself refuses a cross-client revocation.
//!
//! oidc-provider has no admin API, so `server.mjs` serves Keycloak's session calls (the same
//! paths and shapes as the lab's `keycloak_admin.rs`) over oidc-provider's own grants; the
//! second test ends a client's offline sessions through them and checks that oidc-provider
//! itself then refuses that client's refresh tokens and no other client's.
//!
//! Needs node and `npm ci` in `tests/oidc` (`.ci/run` does both). Without them the test is
//! skipped loudly, except under `CI=true`, where it fails.

use crate::support::lab_http;

use lab_http::{basic, client};

use crate::support::bundled;

use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::{Value, json};
use stanch::cli::headless::LineState;
use stanch::lab::{Lab, LabOptions};
use tokio::io::{AsyncBufReadExt, BufReader};

const CLIENTS: [(&str, &str); 3] = [
    ("alexa-skill", "alexa_client_secret"),
    ("google-assistant", "google_client_secret"),
    ("ifttt", "ifttt_client_secret"),
];
const RESPONDER: &str = "stanch-responder";
/// How long oidc-provider may take to start and issue its tokens on a loaded machine.
const READY_WITHIN: Duration = Duration::from_mins(2);

/// Whether node and the installed package are here; `None` (skip) outside CI, panic in CI.
fn prerequisites(dir: &Path) -> Option<()> {
    let node = std::process::Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let package = dir
        .join("node_modules/oidc-provider/package.json")
        .is_file();
    if node && package {
        return Some(());
    }
    let why = if node {
        "tests/oidc/node_modules is missing: run `npm ci` in tests/oidc"
    } else {
        "node is not installed"
    };
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "the oidc-provider test cannot run in CI: {why}"
    );
    eprintln!("SKIPPED lab_oidc_provider: {why}");
    None
}

struct Provider {
    _child: tokio::process::Child,
    issuer: String,
    secrets: Vec<(String, String)>,
    http: reqwest::Client,
}

impl Provider {
    async fn start(dir: &Path) -> Provider {
        let mut secrets: Vec<(String, String)> = CLIENTS
            .iter()
            .map(|(id, _)| {
                (
                    (*id).to_owned(),
                    format!("secret-of-{id}-{}", std::process::id()),
                )
            })
            .collect();
        secrets.push((
            RESPONDER.to_owned(),
            format!("responder-{}", std::process::id()),
        ));
        let map: serde_json::Map<String, Value> = secrets
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect();
        let mut child = tokio::process::Command::new("node")
            .arg("server.mjs")
            .current_dir(dir)
            .env("STANCH_OIDC_SECRETS", Value::Object(map).to_string())
            .env("STANCH_OIDC_USERS", "3")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .expect("node starts");
        let stdout = child.stdout.take().unwrap();
        // oidc-provider prints its own notices on stdout too: the readiness line is the JSON one.
        let mut lines = BufReader::new(stdout).lines();
        let ready = tokio::time::timeout(READY_WITHIN, async {
            while let Some(line) = lines.next_line().await.unwrap() {
                if let Ok(value) = serde_json::from_str::<Value>(&line) {
                    return value;
                }
            }
            panic!("oidc-provider exited before saying it was ready");
        })
        .await
        .expect("oidc-provider said it was ready in time");
        // Keep reading: a closed pipe would kill node at its next notice.
        tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
        assert_eq!(ready["ready"], true, "{ready}");
        for (client, _) in CLIENTS {
            // One client-credentials token, then a refresh and an access token per user.
            assert_eq!(ready["issued"][client], 7, "{ready}");
        }
        Provider {
            _child: child,
            issuer: ready["issuer"].as_str().unwrap().to_owned(),
            secrets,
            http: client(),
        }
    }

    fn secret(&self, id: &str) -> &str {
        &self.secrets.iter().find(|(k, _)| k == id).unwrap().1
    }

    /// The operator's list of a client's active tokens.
    async fn tokens(&self, client: &str) -> Vec<(String, String)> {
        let list: Value = self
            .http
            .get(format!("{}/admin/clients/{client}/tokens", self.issuer))
            .header("authorization", basic(RESPONDER, self.secret(RESPONDER)))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        list["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                (
                    t["token"].as_str().unwrap().to_owned(),
                    t["token_type"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// A Keycloak admin call under `/admin/realms/lab`, with `token` as the Bearer.
    async fn admin(&self, token: &str, method: reqwest::Method, path: &str) -> reqwest::Response {
        self.http
            .request(method, format!("{}/admin/realms/lab{path}", self.issuer))
            .bearer_auth(token)
            .send()
            .await
            .unwrap()
    }

    /// A Keycloak admin `GET` that must answer 200, as JSON.
    async fn admin_json(&self, token: &str, path: &str) -> Value {
        let r = self.admin(token, reqwest::Method::GET, path).await;
        assert_eq!(r.status(), 200, "GET {path}");
        r.json().await.unwrap()
    }

    async fn post(&self, path: &str, client: &str, form: &[(&str, &str)]) -> (u16, Value) {
        let r = self
            .http
            .post(format!("{}{path}", self.issuer))
            .header("authorization", basic(client, self.secret(client)))
            .form(form)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        let text = r.text().await.unwrap();
        (
            status,
            serde_json::from_str(&text).unwrap_or(Value::String(text)),
        )
    }
}

#[expect(
    clippy::too_many_lines,
    reason = "one end-to-end scenario read top to bottom"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bundled_runbook_revokes_real_oidc_provider_tokens_per_client() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
    if prerequisites(&dir).is_none() {
        return;
    }
    let provider = Provider::start(&dir).await;
    let before: Vec<Vec<(String, String)>> =
        futures_util::future::join_all(CLIENTS.iter().map(|(client, _)| provider.tokens(client)))
            .await;
    for (tokens, (client, _)) in before.iter().zip(CLIENTS) {
        assert_eq!(tokens.len(), 7, "{client}");
        assert_eq!(
            tokens.iter().filter(|(_, t)| t == "refresh_token").count(),
            3,
            "{client}"
        );
    }

    // The real server's ownership rule (RFC 7009 §2.1): another client may not revoke it.
    let alexa_refresh = &before[0]
        .iter()
        .find(|(_, t)| t == "refresh_token")
        .unwrap()
        .0;
    let (status, body) = provider
        .post(
            "/token/revocation",
            "google-assistant",
            &[("token", alexa_refresh)],
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_request", "{body}");
    let (_, still) = provider
        .post(
            "/token/introspection",
            "alexa-skill",
            &[("token", alexa_refresh)],
        )
        .await;
    assert_eq!(still["active"], true, "{still}");

    // The bundled runbook, unchanged: the lab for Elasticsearch and comms, oidc-provider for
    // tokens.
    let lab = Lab::start_with(
        7,
        0,
        &LabOptions {
            snapshot_duration: Duration::from_millis(100),
            ..LabOptions::default()
        },
    )
    .unwrap();
    let urls = lab.urls().clone();
    let creds = lab.credentials().clone();
    let mut secrets = vec![
        ("es_api_key".to_owned(), creds.es_api_key.clone()),
        ("forum_token".to_owned(), creds.forum_token.clone()),
        (
            "oauth_client_secret".to_owned(),
            provider.secret(RESPONDER).to_owned(),
        ),
    ];
    for (client, secret) in CLIENTS {
        secrets.push((secret.to_owned(), provider.secret(client).to_owned()));
    }
    let run = bundled::run_bundled(
        json!({
            "es_url": urls.es,
            "auth_url": provider.issuer,
            "issuer": provider.issuer,
            "forum_url": urls.comms,
            "status_webhook_url": format!("{}/hooks/status", urls.comms),
        }),
        secrets,
    )
    .await;
    let text = &run.text;
    let line = |step: &str| {
        run.report
            .lines
            .iter()
            .find(|l| l.step == step)
            .unwrap_or_else(|| panic!("no {step} in\n{text}"))
    };
    let token_steps = [
        "discover-auth-server",
        "list-alexa-tokens",
        "revoke-alexa-tokens",
        "verify-alexa-revoked",
        "list-google-tokens",
        "revoke-google-tokens",
        "verify-google-revoked",
        "list-ifttt-tokens",
        "revoke-ifttt-tokens",
        "verify-ifttt-revoked",
        "confirm-rotation",
    ];
    for step in token_steps {
        assert_eq!(line(step).state, LineState::Succeeded, "{step}:\n{text}");
    }
    // The endpoints came from oidc-provider's discovery document, not from the lab's layout.
    let discovered = &line("discover-auth-server").detail;
    assert!(
        discovered.contains("revocation_path = \"/token/revocation\"")
            && discovered.contains("introspection_path = \"/token/introspection\""),
        "{discovered}"
    );
    assert!(
        line("revoke-alexa-tokens")
            .detail
            .contains("7 items, all succeeded"),
        "{text}"
    );

    // Every token oidc-provider issued is dead, seen by the client it was issued to, and a
    // revoked refresh token can no longer mint access tokens: the grant is over.
    for (tokens, (client, _)) in before.iter().zip(CLIENTS) {
        assert!(provider.tokens(client).await.is_empty(), "{client}");
        for (token, _) in tokens {
            let (status, body) = provider
                .post("/token/introspection", client, &[("token", token)])
                .await;
            assert_eq!(
                (status, &body),
                (200, &json!({"active": false})),
                "{client}"
            );
        }
    }
    let (status, body) = provider
        .post(
            "/token",
            "alexa-skill",
            &[
                ("grant_type", "refresh_token"),
                ("refresh_token", alexa_refresh),
            ],
        )
        .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_grant", "{body}");

    // The client secrets never reached the journal or the screen.
    let journal = std::fs::read_to_string(run.incident_dir.join("journal.jsonl")).unwrap();
    for (_, secret) in &provider.secrets {
        assert!(
            !journal.contains(secret.as_str()),
            "a client secret reached the journal"
        );
        assert!(
            !text.contains(secret.as_str()),
            "a client secret reached the output"
        );
    }
    lab.shutdown();
}

/// Keycloak's admin calls, as the lab serves them, over oidc-provider's own grants: the
/// operator lists a client's offline sessions and ends them, and oidc-provider itself then
/// refuses every refresh token of that client, while another client's grants live on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keycloak_session_calls_end_real_oidc_provider_grants() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/oidc");
    if prerequisites(&dir).is_none() {
        return;
    }
    let provider = Provider::start(&dir).await;
    let refresh_tokens = |tokens: Vec<(String, String)>| {
        tokens
            .into_iter()
            .filter(|(_, t)| t == "refresh_token")
            .map(|(v, _)| v)
            .collect::<Vec<_>>()
    };
    let alexa_refresh = refresh_tokens(provider.tokens("alexa-skill").await);
    let google_refresh = refresh_tokens(provider.tokens("google-assistant").await);
    let (status, token) = provider
        .post("/token", RESPONDER, &[("grant_type", "client_credentials")])
        .await;
    assert_eq!(status, 200, "{token}");
    let admin_token = token["access_token"].as_str().unwrap();
    // Another client's token is not an admin's.
    let (_, google) = provider
        .post(
            "/token",
            "google-assistant",
            &[("grant_type", "client_credentials")],
        )
        .await;
    let refused = provider
        .admin(
            google["access_token"].as_str().unwrap(),
            reqwest::Method::GET,
            "/clients",
        )
        .await;
    assert_eq!(refused.status(), 403);

    let clients = provider
        .admin_json(admin_token, "/clients?clientId=alexa-skill")
        .await;
    let uuid = clients[0]["id"].as_str().unwrap();
    let sessions = provider
        .admin_json(admin_token, &format!("/clients/{uuid}/offline-sessions"))
        .await;
    let sessions = sessions.as_array().unwrap();
    // Three users linked their accounts with offline_access: three offline sessions.
    assert_eq!(sessions.len(), 3, "{sessions:?}");
    for session in sessions {
        assert_eq!(session["clients"][uuid], "alexa-skill", "{session}");
        let id = session["id"].as_str().unwrap();
        let ended = provider
            .admin(
                admin_token,
                reqwest::Method::DELETE,
                &format!("/sessions/{id}?isOffline=true"),
            )
            .await;
        assert_eq!(ended.status(), 204);
    }
    let count = provider
        .admin_json(
            admin_token,
            &format!("/clients/{uuid}/offline-session-count"),
        )
        .await;
    assert_eq!(count, json!({ "count": 0 }));

    // oidc-provider's own answers: alexa-skill's grants are over, google-assistant's are not.
    for token in &alexa_refresh {
        let (status, body) = provider
            .post(
                "/token",
                "alexa-skill",
                &[("grant_type", "refresh_token"), ("refresh_token", token)],
            )
            .await;
        assert_eq!((status, &body["error"]), (400, &json!("invalid_grant")));
        let (_, seen) = provider
            .post("/token/introspection", "alexa-skill", &[("token", token)])
            .await;
        assert_eq!(seen, json!({ "active": false }));
    }
    for token in &google_refresh {
        let (_, seen) = provider
            .post(
                "/token/introspection",
                "google-assistant",
                &[("token", token)],
            )
            .await;
        assert_eq!(seen["active"], true, "{seen}");
    }
}
