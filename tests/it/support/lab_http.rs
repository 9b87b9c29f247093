//! HTTP helpers the lab tests share: a client with the crypto provider installed, and HTTP
//! Basic credentials.

use base64::Engine as _;

pub fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

pub fn basic(user: &str, password: &str) -> String {
    let raw = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// An access token of the `client_id` client from the lab realm's token endpoint (client
/// credentials): the responder's is what Keycloak's admin API takes as `Bearer`.
#[allow(
    dead_code,
    reason = "not every test file that shares this module uses it"
)]
pub async fn client_token(
    http: &reqwest::Client,
    auth_url: &str,
    client_id: &str,
    secret: &str,
) -> String {
    let answer: serde_json::Value = http
        .post(format!(
            "{auth_url}/realms/lab/protocol/openid-connect/token"
        ))
        .header("authorization", basic(client_id, secret))
        .form(&[("grant_type", "client_credentials")])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    answer["access_token"].as_str().unwrap().to_owned()
}
