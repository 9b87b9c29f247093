//! The whole containment of the reference incident driven through the lab's HTTP API, as the
//! bundled runbook does it, then checked against `Lab::status()`.

use base64::Engine as _;
use serde_json::{Value, json};
use stanch::lab::Lab;

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

#[tokio::test]
async fn containment_through_http_changes_the_lab_state() {
    let lab = Lab::start(2019, 0).unwrap();
    let http = client();
    let urls = lab.urls().clone();
    let creds = lab.credentials().clone();
    let api_key = format!("ApiKey {}", creds.es_api_key);
    let responder = basic(&creds.oauth_client_id, &creds.oauth_client_secret);

    let before = lab.status();
    assert!(before.exposed());
    assert_eq!(before.active_tokens["alexa-skill"], 3000);
    assert!(before.snapshots.is_empty());

    // Confirm: an outsider can count the records.
    let count: Value = http
        .get(format!("{}/customers/_count", urls.es))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(count["count"], 2_400_000);

    // Contain.
    let closed = http
        .post(format!("{}/customers/_close", urls.es))
        .header("authorization", &api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(closed.status(), 200);
    let outside = http
        .get(format!("{}/customers/_count", urls.es))
        .send()
        .await
        .unwrap();
    assert_eq!(outside.status(), 400);

    // Preserve evidence.
    let repo = http
        .put(format!("{}/_snapshot/incident-evidence", urls.es))
        .header("authorization", &api_key)
        .json(&json!({"type": "fs", "settings": {"location": "/var/lib/elasticsearch/snapshots/incident"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(repo.status(), 200);
    let snap: Value = http
        .put(format!(
            "{}/_snapshot/incident-evidence/customers-1?wait_for_completion=true",
            urls.es
        ))
        .header("authorization", &api_key)
        .json(&json!({"indices": "customers"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(snap["snapshot"]["state"], "SUCCESS");

    // Rotate: revoke every refresh token of every third-party client.
    let mut one_alexa_token = String::new();
    for client_id in ["alexa-skill", "google-assistant", "ifttt"] {
        let list: Value = http
            .get(format!(
                "{}/admin/clients/{client_id}/tokens?token_type=refresh_token",
                urls.auth
            ))
            .header("authorization", &responder)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let tokens: Vec<String> = list["tokens"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["token"].as_str().unwrap().to_owned())
            .collect();
        assert!(!tokens.is_empty());
        if client_id == "alexa-skill" {
            one_alexa_token.clone_from(&tokens[0]);
        }
        for chunk in tokens.chunks(64) {
            let sends = chunk.iter().map(|t| {
                http.post(format!("{}/oauth/revoke", urls.auth))
                    .header("authorization", &responder)
                    .form(&[("token", t.as_str()), ("token_type_hint", "refresh_token")])
                    .send()
            });
            for r in futures_join(sends).await {
                assert_eq!(r.status(), 200);
            }
        }
    }
    let introspected: Value = http
        .post(format!("{}/oauth/introspect", urls.auth))
        .header("authorization", &responder)
        .form(&[("token", one_alexa_token.as_str())])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(introspected, json!({"active": false}));

    // Notify.
    let post = http
        .post(format!("{}/forum/posts", urls.comms))
        .header("authorization", format!("Bearer {}", creds.forum_token))
        .json(&json!({"title": "Security incident", "body": "What happened, what we did."}))
        .send()
        .await
        .unwrap();
    assert_eq!(post.status(), 201);

    let after = lab.status();
    assert!(!after.exposed());
    assert!(after.index("customers").unwrap().closed);
    assert_eq!(after.snapshots.len(), 1);
    assert_eq!(after.snapshots[0].state, "SUCCESS");
    assert!(
        after.active_tokens.values().all(|&n| n == 0),
        "{:?}",
        after.active_tokens
    );
    assert_eq!(after.forum_posts, vec!["Security incident".to_owned()]);
    let panel = lab.status_reader()();
    assert_eq!(panel, after);
    lab.shutdown();
}

/// Await a batch of requests concurrently (no extra dependency for `join_all`).
async fn futures_join<F, T>(futures: impl Iterator<Item = F>) -> Vec<T>
where
    F: std::future::Future<Output = Result<T, reqwest::Error>> + Send + 'static,
    T: Send + 'static,
{
    let mut set = tokio::task::JoinSet::new();
    for f in futures {
        set.spawn(f);
    }
    let mut out = Vec::new();
    while let Some(r) = set.join_next().await {
        out.push(r.unwrap().unwrap());
    }
    out
}

#[tokio::test]
async fn scroll_pages_continue_where_the_last_one_ended_and_end_empty() {
    let lab = Lab::start(7, 0).unwrap();
    let http = client();
    let es = lab.urls().es.clone();
    let first: Value = http
        .post(format!("{es}/device-activations/_search?scroll=1m"))
        .json(&json!({"size": 1000}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let mut seen = first["hits"]["hits"].as_array().unwrap().len();
    let mut scroll_id = first["_scroll_id"].as_str().unwrap().to_owned();
    let mut last_page = usize::MAX;
    while last_page != 0 {
        let page: Value = http
            .post(format!("{es}/_search/scroll"))
            .json(&json!({"scroll": "1m", "scroll_id": scroll_id}))
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        last_page = page["hits"]["hits"].as_array().unwrap().len();
        seen += last_page;
        scroll_id = page["_scroll_id"].as_str().unwrap().to_owned();
    }
    assert_eq!(seen, 1392, "every document exactly once");
    let bad = http
        .post(format!("{es}/_search/scroll"))
        .json(&json!({"scroll_id": "not-a-scroll"}))
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status(), 400);
    lab.shutdown();
}

#[tokio::test]
async fn the_same_seed_serves_the_same_records_and_credentials() {
    let a = Lab::start(11, 0).unwrap();
    let b = Lab::start(11, 0).unwrap();
    assert_eq!(a.credentials(), b.credentials());
    let http = client();
    let page = |url: String| {
        let http = http.clone();
        async move {
            http.get(format!("{url}/customers/_search?from=5000&size=5"))
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()["hits"]["hits"]
                .clone()
        }
    };
    assert_eq!(
        page(a.urls().es.clone()).await,
        page(b.urls().es.clone()).await
    );
    a.shutdown();
    b.shutdown();
}

#[test]
fn a_fixed_port_uses_three_consecutive_ports_and_a_busy_one_is_an_error() {
    // A freed probe port (and the two after it) may be taken by another process before the
    // lab binds them, so try a few.
    let (lab, port) = (0..20)
        .find_map(|_| {
            let probe = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
            let port = probe.local_addr().unwrap().port();
            drop(probe);
            Lab::start(1, port).ok().map(|lab| (lab, port))
        })
        .expect("some free port triple among 20 tries");
    assert_eq!(lab.urls().es, format!("http://127.0.0.1:{port}"));
    assert_eq!(lab.urls().auth, format!("http://127.0.0.1:{}", port + 1));
    assert_eq!(lab.urls().comms, format!("http://127.0.0.1:{}", port + 2));
    let err = Lab::start(1, port).err().expect("the port is taken");
    assert!(err.to_string().contains(&port.to_string()), "{err}");
    lab.shutdown();
}
