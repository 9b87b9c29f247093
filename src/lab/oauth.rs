//! The lab's OAuth 2.0 authorization server: the third-party integration tokens that leaked.
//!
//! Shaped as Keycloak lays out a realm, so that a runbook must discover its endpoints rather
//! than assume them (oidc-provider, the other server the tests run, uses other paths):
//!
//! | path (under the issuer `/realms/lab`) | what | source |
//! |---|---|---|
//! | `/.well-known/openid-configuration`; RFC 8414's `/.well-known/oauth-authorization-server/realms/lab` at the root | discovery metadata: `issuer`, `token_endpoint`, `revocation_endpoint`, `introspection_endpoint`, auth methods | OpenID Connect Discovery 1.0 §3-4; RFC 8414 §2-3 |
//! | `POST /protocol/openid-connect/token` | client credentials (RFC 6749 §4.4), refresh (§6) | RFC 6749 |
//! | `POST /protocol/openid-connect/revoke` | 200 for any token, known or not (§2.2); a token of another client is 400 `invalid_request` (§2.1); revoking a refresh token ends its grant (§2.1) | RFC 7009; oidc-provider `revocationAllowedPolicy` default; Keycloak `TokenRevocationEndpoint.checkIssuedFor` |
//! | `POST /protocol/openid-connect/token/introspect` | `{"active":false}` and nothing else for revoked or unknown tokens (§2.2); any confidential client may ask | RFC 7662; oidc-provider `introspectionAllowedPolicy` default |
//!
//! Every endpoint takes `client_secret_basic` or `client_secret_post` (RFC 6749 §2.3.1), never
//! both at once (§2.3). The operator's side is Keycloak's admin REST API, served from the same
//! origin (`keycloak_admin.rs`: a client's online and offline sessions, ending a session or a
//! user's consent). `GET /admin/clients/{client_id}/tokens` (responder client, Basic) is the
//! lab's own, not any product's: no admin API returns token values. It stays only while the
//! bundled runbook's token steps still read it (they need the token values for RFC 7009); it
//! goes when they move to the Keycloak session calls. `/oauth/token`, `/oauth/revoke` and
//! `/oauth/introspect` stay as aliases for callers written before discovery (the drill score).
//! Tokens never expire during a drill.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::Shared;
use super::records::hex_token;
use super::state::{TokenType, World};

const ACCESS_TOKEN_LIFETIME: i64 = 3600;

/// The lab realm's issuer path, under the auth service's base URL.
pub const ISSUER_PATH: &str = "/realms/lab";

pub fn router(shared: Shared) -> Router {
    Router::new()
        .route(
            "/realms/lab/.well-known/openid-configuration",
            get(discovery),
        )
        .route(
            "/.well-known/oauth-authorization-server/realms/lab",
            get(discovery),
        )
        .route("/realms/lab/protocol/openid-connect/token", post(token))
        .route("/realms/lab/protocol/openid-connect/revoke", post(revoke))
        .route(
            "/realms/lab/protocol/openid-connect/token/introspect",
            post(introspect),
        )
        .route("/oauth/token", post(token))
        .route("/oauth/revoke", post(revoke))
        .route("/oauth/introspect", post(introspect))
        .route("/admin/clients/{client_id}/tokens", get(list_tokens))
        .merge(super::keycloak_admin::routes())
        .fallback(|| async { oauth_error(StatusCode::NOT_FOUND, "not_found", "no such endpoint") })
        .with_state(shared)
}

/// An RFC 6749 §5.2 error, before it becomes a response.
#[derive(Debug)]
struct OAuthError {
    status: StatusCode,
    error: &'static str,
    description: &'static str,
}

impl IntoResponse for OAuthError {
    fn into_response(self) -> Response {
        oauth_error(self.status, self.error, self.description)
    }
}

/// An RFC 6749 §5.2 error response.
fn oauth_error(status: StatusCode, error: &str, description: &str) -> Response {
    let mut response = (
        status,
        axum::Json(json!({ "error": error, "error_description": description })),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Basic realm=\"stanch-lab\""),
        );
    }
    no_store(response)
}

/// Token responses must not be cached (RFC 6749 §5.1).
fn no_store(mut response: Response) -> Response {
    let headers = response.headers_mut();
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    response
}

/// The client authenticated by `client_secret_basic` or `client_secret_post`, or the error to
/// send (401 `invalid_client`; 400 `invalid_request` when both are used, RFC 6749 §2.3).
fn client(
    shared: &Shared,
    headers: &HeaderMap,
    form: &[(String, String)],
) -> Result<String, OAuthError> {
    let invalid = || OAuthError {
        status: StatusCode::UNAUTHORIZED,
        error: "invalid_client",
        description: "client authentication failed",
    };
    let basic = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Basic"))
        .map(|(_, value)| value);
    let posted = field(form, "client_secret");
    let (id, secret) = match (basic, posted) {
        (Some(_), Some(_)) => {
            return Err(OAuthError {
                status: StatusCode::BAD_REQUEST,
                error: "invalid_request",
                description: "client authentication must only be provided using one mechanism",
            });
        }
        (Some(value), None) => {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(value.trim())
                .ok()
                .and_then(|b| String::from_utf8(b).ok())
                .ok_or_else(invalid)?;
            let (id, secret) = decoded.split_once(':').ok_or_else(invalid)?;
            // RFC 6749 §2.3.1: both halves are form-urlencoded before base64.
            let decode = |s: &str| {
                url::form_urlencoded::parse(format!("x={s}").as_bytes())
                    .next()
                    .map(|(_, v)| v.into_owned())
                    .unwrap_or_default()
            };
            (decode(id), decode(secret))
        }
        (None, Some(secret)) => (
            field(form, "client_id").ok_or_else(invalid)?.to_owned(),
            secret.to_owned(),
        ),
        (None, None) => return Err(invalid()),
    };
    match shared.credentials.client_secret(&id) {
        Some(expected) if expected == secret => Ok(id),
        _ => Err(invalid()),
    }
}

/// RFC 8414 / OpenID Connect Discovery metadata for the lab realm.
async fn discovery(State(shared): State<Shared>) -> Response {
    let issuer = format!("{}{ISSUER_PATH}", shared.auth_url);
    let endpoint = |path: &str| format!("{issuer}/protocol/openid-connect/{path}");
    let methods = json!(["client_secret_basic", "client_secret_post"]);
    axum::Json(json!({
        "issuer": issuer,
        "authorization_endpoint": endpoint("auth"),
        "token_endpoint": endpoint("token"),
        "revocation_endpoint": endpoint("revoke"),
        "introspection_endpoint": endpoint("token/introspect"),
        "jwks_uri": endpoint("certs"),
        "grant_types_supported": ["authorization_code", "client_credentials", "refresh_token"],
        "response_types_supported": ["code"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": ["RS256"],
        "token_endpoint_auth_methods_supported": methods,
        "revocation_endpoint_auth_methods_supported": methods,
        "introspection_endpoint_auth_methods_supported": methods,
        "scopes_supported": ["openid", "profile", "devices:control"],
    }))
    .into_response()
}

fn responder(shared: &Shared, headers: &HeaderMap) -> Result<String, OAuthError> {
    let id = client(shared, headers, &[])?;
    if id == shared.credentials.oauth_client_id {
        Ok(id)
    } else {
        Err(OAuthError {
            status: StatusCode::FORBIDDEN,
            error: "access_denied",
            description: "only the responder client may do this",
        })
    }
}

fn form(body: &Bytes) -> Vec<(String, String)> {
    url::form_urlencoded::parse(body).into_owned().collect()
}

fn field<'a>(form: &'a [(String, String)], name: &str) -> Option<&'a str> {
    form.iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
}

/// A new access token in `grant`: a refreshed token joins its refresh token's grant, so
/// revoking the refresh token later kills it too.
fn issue_access(world: &mut World, client_id: &str, grant: u64, subject: &str, now: i64) -> String {
    let value = format!(
        "at_{}",
        hex_token(
            world.seed,
            0x1_0000 + world.next_grant,
            world.tokens.len() as u64,
            40
        )
    );
    world.add_token(
        value.clone(),
        client_id,
        TokenType::AccessToken,
        grant,
        subject,
        now,
        ACCESS_TOKEN_LIFETIME,
    );
    value
}

async fn token(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let form = form(&body);
    let client_id = match client(&shared, &headers, &form) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let now = Timestamp::now().as_second();
    let mut world = shared.world();
    match field(&form, "grant_type") {
        Some("client_credentials") => {
            let grant = world.next_grant;
            world.next_grant += 1;
            let access = issue_access(&mut world, &client_id, grant, &client_id, now);
            no_store(
                axum::Json(json!({
                    "access_token": access,
                    "token_type": "Bearer",
                    "expires_in": ACCESS_TOKEN_LIFETIME,
                    "scope": "profile devices:control"
                }))
                .into_response(),
            )
        }
        Some("refresh_token") => {
            let Some(refresh) = field(&form, "refresh_token") else {
                return oauth_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_request",
                    "refresh_token is required",
                );
            };
            let grant = match world.token(refresh) {
                Some(t)
                    if !t.revoked
                        && t.token_type == TokenType::RefreshToken
                        && t.client_id == client_id =>
                {
                    (t.grant, t.subject.clone())
                }
                _ => {
                    return oauth_error(
                        StatusCode::BAD_REQUEST,
                        "invalid_grant",
                        "the refresh token is invalid, revoked, or issued to another client",
                    );
                }
            };
            let access = issue_access(&mut world, &client_id, grant.0, &grant.1, now);
            no_store(
                axum::Json(json!({
                    "access_token": access,
                    "token_type": "Bearer",
                    "expires_in": ACCESS_TOKEN_LIFETIME,
                    "refresh_token": refresh,
                    "scope": "profile devices:control"
                }))
                .into_response(),
            )
        }
        Some(other) => oauth_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            &format!("grant type `{other}` is not supported"),
        ),
        None => oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "grant_type is required",
        ),
    }
}

async fn revoke(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let form = form(&body);
    let client_id = match client(&shared, &headers, &form) {
        Ok(c) => c,
        Err(e) => return e.into_response(),
    };
    let Some(value) = field(&form, "token") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is required",
        );
    };
    let mut world = shared.world();
    if let Some(&i) = world.token_index.get(value) {
        let t = &world.tokens[i];
        if t.client_id != client_id {
            // RFC 7009 §2.1: the server checks the token was issued to the client asking;
            // worded as oidc-provider's `revocationAllowedPolicy` default.
            return oauth_error(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "client is not authorized to revoke the presented token",
            );
        }
        let (grant, kind) = (t.grant, t.token_type);
        if kind == TokenType::RefreshToken {
            world.end_grant(grant);
        } else {
            world.tokens[i].revoked = true;
        }
    }
    // RFC 7009 §2.2: 200 whether or not the token was known; the body is ignored by clients.
    no_store(StatusCode::OK.into_response())
}

async fn introspect(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let form = form(&body);
    // Any confidential client may introspect (RFC 7662 §2.1 wants the caller authorised;
    // oidc-provider's default policy limits only public clients to their own tokens).
    if let Err(e) = client(&shared, &headers, &form) {
        return e.into_response();
    }
    let Some(value) = field(&form, "token") else {
        return oauth_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "token is required",
        );
    };
    let world = shared.world();
    let body = match world.token(value) {
        Some(t) if !t.revoked => json!({
            "active": true,
            "client_id": t.client_id,
            "token_type": match t.token_type {
                TokenType::AccessToken => "Bearer",
                TokenType::RefreshToken => "refresh_token",
            },
            "exp": t.expires_at,
            "iat": t.issued_at,
            "scope": t.scope,
            "sub": t.subject,
        }),
        _ => json!({ "active": false }),
    };
    no_store(axum::Json(body).into_response())
}

async fn list_tokens(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(client_id): Path<String>,
    Query(params): Query<std::collections::HashMap<String, String>>,
) -> Response {
    if let Err(e) = responder(&shared, &headers) {
        return e.into_response();
    }
    if shared.credentials.client_secret(&client_id).is_none() {
        return oauth_error(
            StatusCode::NOT_FOUND,
            "not_found",
            &format!("no client `{client_id}`"),
        );
    }
    let wanted = params.get("token_type").map(String::as_str);
    let world = shared.world();
    let tokens: Vec<Value> = world
        .active_tokens(&client_id)
        .filter(|t| wanted.is_none_or(|w| w == t.token_type.as_str()))
        .map(|t| json!({ "token": t.value, "token_type": t.token_type.as_str() }))
        .collect();
    axum::Json(json!({ "client_id": client_id, "count": tokens.len(), "tokens": tokens }))
        .into_response()
}
