//! The operator's way to end a client's grants on the lab's Keycloak-shaped server, end to
//! end: an admin token from the token endpoint, the client's uuid from `GET /clients`, every
//! online and offline session paged through (`max` defaults to 100, as on Keycloak), each one
//! deleted, and then the lab's own count and RFC 7662 introspection agree that nothing of the
//! client is alive, while the other clients are untouched.

use crate::support::lab_http;

use lab_http::{basic, client, client_token};

use serde_json::Value;
use stanch::lab::Lab;
use stanch::lab::keycloak_admin::DEFAULT_MAX_RESULTS;

struct Admin {
    http: reqwest::Client,
    base: String,
    token: String,
}

impl Admin {
    async fn new(lab: &Lab) -> Self {
        let http = client();
        let c = lab.credentials();
        let auth = lab.urls().auth.clone();
        let token = client_token(&http, &auth, &c.oauth_client_id, &c.oauth_client_secret).await;
        Self {
            http,
            base: format!("{auth}/admin/realms/lab"),
            token,
        }
    }

    async fn get(&self, path: &str) -> Value {
        let response = self
            .http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "GET {path}");
        response.json().await.unwrap()
    }

    async fn delete(&self, path: &str) -> u16 {
        self.http
            .delete(format!("{}{path}", self.base))
            .bearer_auth(&self.token)
            .send()
            .await
            .unwrap()
            .status()
            .as_u16()
    }

    async fn client_uuid(&self, client_id: &str) -> String {
        let found = self.get(&format!("/clients?clientId={client_id}")).await;
        assert_eq!(found.as_array().unwrap().len(), 1, "{found}");
        found[0]["id"].as_str().unwrap().to_owned()
    }

    /// Every session of one kind, paged as a Keycloak client must page.
    async fn all_sessions(&self, uuid: &str, kind: &str) -> Vec<Value> {
        let mut all = Vec::new();
        loop {
            let page = self
                .get(&format!(
                    "/clients/{uuid}/{kind}?first={}&max=250",
                    all.len()
                ))
                .await;
            let page = page.as_array().unwrap().clone();
            if page.is_empty() {
                return all;
            }
            all.extend(page);
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deleting_every_session_of_a_client_ends_all_its_tokens_and_nothing_else() {
    let lab = Lab::start(2019, 0).unwrap();
    let admin = Admin::new(&lab).await;
    let uuid = admin.client_uuid("alexa-skill").await;

    let unpaged = admin
        .get(&format!("/clients/{uuid}/offline-sessions"))
        .await;
    assert_eq!(unpaged.as_array().unwrap().len(), DEFAULT_MAX_RESULTS);

    let offline = admin.all_sessions(&uuid, "offline-sessions").await;
    let online = admin.all_sessions(&uuid, "user-sessions").await;
    // 1500 seeded alexa-skill grants: four in five offline (account linking), one in five online.
    assert_eq!((offline.len(), online.len()), (1200, 300));
    let ids: std::collections::HashSet<&str> = offline
        .iter()
        .chain(&online)
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids.len(), 1500, "session ids are distinct");

    for (sessions, query) in [(&offline, "?isOffline=true"), (&online, "")] {
        for session in sessions {
            let id = session["id"].as_str().unwrap();
            assert_eq!(admin.delete(&format!("/sessions/{id}{query}")).await, 204);
        }
    }

    assert!(
        admin
            .all_sessions(&uuid, "offline-sessions")
            .await
            .is_empty()
    );
    assert!(admin.all_sessions(&uuid, "user-sessions").await.is_empty());
    let status = lab.status();
    assert_eq!(status.active_tokens["alexa-skill"], 0);
    assert_eq!(status.active_tokens["google-assistant"], 300);
    assert_eq!(status.active_tokens["ifttt"], 200);
    lab.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revoking_a_users_consent_ends_that_users_grants_of_the_client_only() {
    let lab = Lab::start(2019, 0).unwrap();
    let admin = Admin::new(&lab).await;
    let uuid = admin.client_uuid("ifttt").await;
    let offline = admin.all_sessions(&uuid, "offline-sessions").await;
    let user = offline[0]["userId"].as_str().unwrap();
    let before = offline.len();

    assert_eq!(
        admin.delete(&format!("/users/{user}/consents/ifttt")).await,
        204
    );
    let after = admin.all_sessions(&uuid, "offline-sessions").await;
    assert_eq!(after.len(), before - 1);
    assert!(after.iter().all(|s| s["userId"] != user));
    assert_eq!(
        admin.delete(&format!("/users/{user}/consents/ifttt")).await,
        404
    );
    assert_eq!(lab.status().active_tokens["ifttt"], 198);
    assert_eq!(lab.status().active_tokens["alexa-skill"], 3000);
    lab.shutdown();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ended_session_introspects_inactive_for_its_own_client() {
    let lab = Lab::start(2019, 0).unwrap();
    let admin = Admin::new(&lab).await;
    let c = lab.credentials();
    let auth = lab.urls().auth.clone();
    let secret = c.client_secret("google-assistant").unwrap();
    // The client's own fresh grant: an online session, whose token value the test holds.
    let token = client_token(&admin.http, &auth, "google-assistant", secret).await;
    let introspect = || async {
        admin
            .http
            .post(format!(
                "{auth}/realms/lab/protocol/openid-connect/token/introspect"
            ))
            .header("authorization", basic("google-assistant", secret))
            .form(&[("token", token.as_str())])
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    assert_eq!(introspect().await["active"], true);

    let uuid = admin.client_uuid("google-assistant").await;
    let online = admin.all_sessions(&uuid, "user-sessions").await;
    // A client-credentials grant's subject is the client itself.
    let mine = online
        .iter()
        .find(|s| s["username"] == "google-assistant")
        .unwrap();
    let id = mine["id"].as_str().unwrap();
    assert_eq!(admin.delete(&format!("/sessions/{id}")).await, 204);

    assert_eq!(introspect().await, serde_json::json!({ "active": false }));
    lab.shutdown();
}
