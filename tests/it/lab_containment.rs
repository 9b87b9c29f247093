//! The whole containment of the reference incident driven through the lab's HTTP API, as the
//! bundled runbook does it, then checked against `Lab::status()`.

use crate::support::lab_http;

use lab_http::{basic, client};

use serde_json::{Value, json};
use stanch::lab::{Lab, LabOptions, Profile, Security};

#[tokio::test]
#[expect(clippy::too_many_lines, reason = "one scenario told in order")]
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
        // RFC 7009 §2.1: each client revokes its own tokens.
        let own = basic(client_id, creds.client_secret(client_id).unwrap());
        for chunk in tokens.chunks(64) {
            let sends = chunk.iter().map(|t| {
                http.post(format!("{}/oauth/revoke", urls.auth))
                    .header("authorization", &own)
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
    let cat: Value = http
        .get(format!("{es}/_cat/indices?format=json&bytes=b"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    for row in cat.as_array().unwrap() {
        let size = row["store.size"].as_str().unwrap();
        assert!(
            size.parse::<u64>().is_ok(),
            "bytes=b gives plain bytes: {size}"
        );
    }
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

#[tokio::test]
async fn revoking_a_refresh_token_kills_its_access_token_but_not_other_grants() {
    let lab = Lab::start(5, 0).unwrap();
    let http = client();
    let auth = lab.urls().auth.clone();
    let creds = lab.credentials().clone();
    let responder = basic(&creds.oauth_client_id, &creds.oauth_client_secret);
    let list: Value = http
        .get(format!("{auth}/admin/clients/ifttt/tokens"))
        .header("authorization", &responder)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(list["count"], 200);
    let tokens = list["tokens"].as_array().unwrap();
    // Seeded grants list their refresh token, then its access token.
    let (refresh, access, other) = (
        tokens[0]["token"].as_str().unwrap(),
        tokens[1]["token"].as_str().unwrap(),
        tokens[3]["token"].as_str().unwrap(),
    );
    assert_eq!(tokens[0]["token_type"], "refresh_token");
    assert_eq!(tokens[1]["token_type"], "access_token");
    let ifttt = basic("ifttt", creds.client_secret("ifttt").unwrap());
    let revoked = http
        .post(format!("{auth}/oauth/revoke"))
        .header("authorization", &ifttt)
        .form(&[("token", refresh)])
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), 200);
    let introspect = |token: String| {
        let http = http.clone();
        let responder = responder.clone();
        let auth = auth.clone();
        async move {
            http.post(format!("{auth}/oauth/introspect"))
                .header("authorization", responder)
                .form(&[("token", token)])
                .send()
                .await
                .unwrap()
                .json::<Value>()
                .await
                .unwrap()["active"]
                .clone()
        }
    };
    assert_eq!(introspect(access.to_owned()).await, false);
    assert_eq!(introspect(other.to_owned()).await, true);
    assert_eq!(lab.status().active_tokens["ifttt"], 198);

    // A third-party client may not revoke another client's token (RFC 7009 §2.1).
    let alexa = basic("alexa-skill", creds.client_secret("alexa-skill").unwrap());
    let refused = http
        .post(format!("{auth}/oauth/revoke"))
        .header("authorization", alexa)
        .form(&[("token", other)])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    // Nor may the responder: the operator revokes as the client the token was issued to.
    let refused = http
        .post(format!("{auth}/oauth/revoke"))
        .header("authorization", &responder)
        .form(&[("token", other)])
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 400);
    assert_eq!(introspect(other.to_owned()).await, true);
    lab.shutdown();
}

#[tokio::test]
async fn invalidating_the_responders_own_api_key_locks_the_responder_out() {
    // Only a security-on cluster has API keys to lose.
    let options = LabOptions {
        profile: Profile {
            version: "7.10.2".parse().unwrap(),
            security: Security::On,
        },
        ..LabOptions::default()
    };
    let lab = Lab::start_with(5, 0, &options).unwrap();
    let http = client();
    let es = lab.urls().es.clone();
    let api_key = format!("ApiKey {}", lab.credentials().es_api_key);
    let gone: Value = http
        .delete(format!("{es}/_security/api_key"))
        .header("authorization", &api_key)
        .json(&json!({"name": "stanch-responder"}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(
        gone["invalidated_api_keys"][0],
        lab.credentials().es_api_key_id
    );
    let locked_out = http
        .post(format!("{es}/customers/_close"))
        .header("authorization", &api_key)
        .send()
        .await
        .unwrap();
    assert_eq!(locked_out.status(), 401);
    assert!(lab.status().exposed(), "nothing was closed");
    assert_eq!(
        lab.status().invalidated_api_keys,
        vec!["stanch-responder".to_owned()]
    );
    lab.shutdown();
}
