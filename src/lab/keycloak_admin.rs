//! The operator's side of the lab's authorization server: the part of Keycloak's admin REST API
//! an incident responder uses to find and end a client's grants.
//!
//! A real product's paths and answer shapes, not invented ones: Keycloak's admin API lists
//! **sessions**, never token values, so a grant is ended by deleting its session (or the user's
//! consent), and RFC 7009 stays for token values the company holds itself. Read from the
//! Keycloak Admin REST API reference (`docs-api/<version>/rest-api`) and its source,
//! `services/src/main/java/org/keycloak/services/resources/admin/` (`RealmAdminResource`,
//! `ClientsResource`, `ClientResource`, `UserResource`) and
//! `org.keycloak.models.utils.ModelToRepresentation.toRepresentation(UserSessionModel)`:
//!
//! | path (under `/admin/realms/{realm}`) | answer | source |
//! |---|---|---|
//! | `GET /clients?clientId=X` | array of `ClientRepresentation` (`id` is the uuid every other path takes) | `ClientsResource.getClients` |
//! | `GET /clients/{uuid}/user-sessions?first&max` | array of `UserSessionRepresentation`; **`max` defaults to 100** | `ClientResource.getUserSessions`, `Constants.DEFAULT_MAX_RESULTS` |
//! | `GET /clients/{uuid}/offline-sessions?first&max` | the same for offline sessions (`offline_access`) | `ClientResource.getOfflineUserSessions` |
//! | `GET /clients/{uuid}/session-count`, `/offline-session-count` | `{"count": n}`: the check that nothing is left | `ClientResource.getApplicationSessionCount`, `getOfflineSessionCount` |
//! | `DELETE /sessions/{session}?isOffline=true\|false` | 204; 404 `Sesssion not found` (sic) when no session of that kind | `RealmAdminResource.deleteSession` |
//! | `DELETE /users/{user-id}/consents/{clientId}` | 204: consent, offline tokens and the client's sessions of that user end; 404 `User not found`, `Client not found`, `Consent nor offline token not found` | `UserResource.revokeConsent`, `UserConsentManager.revokeConsentToClient` |
//!
//! Authentication is Keycloak's: `Authorization: Bearer <access token>` from the realm's token
//! endpoint, here a client-credentials token of the responder's client (its service account
//! holds `realm-management` `manage-users`); 401 `HTTP 401 Unauthorized` without a valid token,
//! 403 `HTTP 403 Forbidden` with another client's token. Errors are `{"error": "<message>"}`,
//! as Keycloak's `KeycloakErrorHandler` writes a `NotFoundException`. Only the `lab` realm
//! exists. Ending a session revokes every token of its grant in the lab's world, so RFC 7662
//! introspection of those tokens answers `{"active": false}` afterwards, as on Keycloak.

use std::collections::BTreeMap;

use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get};
use serde::Deserialize;
use serde_json::{Value, json};

use super::Shared;
use super::records::mix;
use super::state::{Token, TokenType, World};

/// The only realm the lab serves.
const REALM: &str = "lab";

/// `org.keycloak.models.Constants.DEFAULT_MAX_RESULTS`: what a session list returns when the
/// caller gives no `max`.
pub const DEFAULT_MAX_RESULTS: usize = 100;

/// The admin routes, merged into the authorization server's router (one service, as in
/// Keycloak).
pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/admin/realms/{realm}/clients", get(clients))
        .route(
            "/admin/realms/{realm}/clients/{client}/user-sessions",
            get(user_sessions),
        )
        .route(
            "/admin/realms/{realm}/clients/{client}/offline-sessions",
            get(offline_sessions),
        )
        .route(
            "/admin/realms/{realm}/clients/{client}/session-count",
            get(session_count),
        )
        .route(
            "/admin/realms/{realm}/clients/{client}/offline-session-count",
            get(offline_session_count),
        )
        .route(
            "/admin/realms/{realm}/sessions/{session}",
            delete(delete_session),
        )
        .route(
            "/admin/realms/{realm}/users/{user}/consents/{client}",
            delete(revoke_consent),
        )
}

/// A Keycloak admin error, before it becomes `{"error": message}` with its status.
#[derive(Debug, Clone, Copy)]
struct AdminError {
    status: StatusCode,
    message: &'static str,
}

const fn error(status: StatusCode, message: &'static str) -> AdminError {
    AdminError { status, message }
}

impl IntoResponse for AdminError {
    fn into_response(self) -> Response {
        let mut response =
            (self.status, axum::Json(json!({ "error": self.message }))).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            // `AdminRoot` throws `NotAuthorizedException("Bearer")`: the challenge names the
            // scheme.
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// A Keycloak-style UUID (version 4 layout) for item `n` of `stream`.
fn uuid(seed: u64, stream: u64, n: u64) -> String {
    let (a, b) = (mix(seed, stream, n), mix(seed, stream ^ 0xFF, n));
    format!(
        "{:08x}-{:04x}-4{:03x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xFFFF,
        a & 0xFFF,
        0x8000 | ((b >> 48) & 0x3FFF),
        b & 0xFFFF_FFFF_FFFF
    )
}

/// The uuid of an OAuth client (`ClientRepresentation.id`), from its place in the realm.
fn client_uuid(seed: u64, n: u64) -> String {
    uuid(seed, 0xC11E, n)
}

/// The id of a grant's user session (what Keycloak calls `session_state`).
pub fn session_id(seed: u64, grant: u64) -> String {
    uuid(seed, 0x5E55, grant)
}

/// The user id of a token subject (the lab's subjects are usernames).
pub fn user_id(seed: u64, subject: &str) -> String {
    let n = subject.bytes().fold(0xCBF2_9CE4_8422_2325_u64, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x100_0000_01B3)
    });
    uuid(seed, 0x05E2, n)
}

/// The realm's clients in order: the responder's, then the third-party integrations.
fn client_ids(shared: &Shared) -> Vec<&str> {
    std::iter::once(shared.credentials.oauth_client_id.as_str())
        .chain(shared.credentials.clients.iter().map(|(id, _)| id.as_str()))
        .collect()
}

/// The `clientId` of the client with this uuid.
fn client_by_uuid<'a>(shared: &'a Shared, uuid: &str) -> Option<&'a str> {
    let seed = shared.world().seed;
    client_ids(shared)
        .into_iter()
        .zip(0u64..)
        .find(|(_, n)| client_uuid(seed, *n) == uuid)
        .map(|(id, _)| id)
}

/// Keycloak's admin bearer check: a live access token of the responder's service account.
fn authorize(shared: &Shared, headers: &HeaderMap) -> Result<(), AdminError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("Bearer"))
        .map(|(_, token)| token.trim());
    let world = shared.world();
    match bearer.and_then(|b| world.token(b)) {
        Some(t) if !t.revoked && t.token_type == TokenType::AccessToken => {
            if t.client_id == shared.credentials.oauth_client_id {
                Ok(())
            } else {
                Err(error(StatusCode::FORBIDDEN, "HTTP 403 Forbidden"))
            }
        }
        _ => Err(error(StatusCode::UNAUTHORIZED, "HTTP 401 Unauthorized")),
    }
}

/// The realm check and the bearer check every admin call starts with.
fn admit(shared: &Shared, headers: &HeaderMap, realm: &str) -> Result<(), AdminError> {
    authorize(shared, headers)?;
    if realm == REALM {
        Ok(())
    } else {
        Err(error(StatusCode::NOT_FOUND, "Realm not found."))
    }
}

/// [`admit`], then the `clientId` of the client whose uuid the path names.
fn admit_client<'a>(
    shared: &'a Shared,
    headers: &HeaderMap,
    realm: &str,
    uuid: &str,
) -> Result<&'a str, AdminError> {
    admit(shared, headers, realm)?;
    client_by_uuid(shared, uuid).ok_or(error(StatusCode::NOT_FOUND, "Could not find client"))
}

#[derive(Debug, Deserialize)]
struct ClientsQuery {
    #[serde(rename = "clientId")]
    client_id: Option<String>,
}

async fn clients(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(realm): Path<String>,
    Query(query): Query<ClientsQuery>,
) -> Response {
    if let Err(e) = admit(&shared, &headers, &realm) {
        return e.into_response();
    }
    let seed = shared.world().seed;
    let list: Vec<Value> = client_ids(&shared)
        .into_iter()
        .zip(0u64..)
        .filter(|(id, _)| query.client_id.as_deref().is_none_or(|want| want == *id))
        .map(|(id, n)| {
            json!({
                "id": client_uuid(seed, n),
                "clientId": id,
                "enabled": true,
                "clientAuthenticatorType": "client-secret",
                "publicClient": false,
                "serviceAccountsEnabled": id == shared.credentials.oauth_client_id,
                "protocol": "openid-connect",
            })
        })
        .collect();
    axum::Json(list).into_response()
}

#[derive(Debug, Deserialize)]
struct Page {
    first: Option<usize>,
    max: Option<usize>,
}

/// One session per live grant of `client_id`, online or offline, in grant order.
fn sessions<'w>(world: &'w World, client_id: &str, offline: bool) -> Vec<(u64, &'w Token)> {
    let mut grants: BTreeMap<u64, &Token> = BTreeMap::new();
    for t in world
        .tokens
        .iter()
        .filter(|t| t.client_id == client_id && !t.revoked && world.offline(t.grant) == offline)
    {
        grants.entry(t.grant).or_insert(t);
    }
    grants.into_iter().collect()
}

/// `ModelToRepresentation.toRepresentation(UserSessionModel)`: times in milliseconds, and
/// `clients` maps each client uuid of the session to its `clientId`.
fn session_representation(seed: u64, grant: u64, token: &Token, client_uuid: &str) -> Value {
    json!({
        "id": session_id(seed, grant),
        "username": token.subject,
        "userId": user_id(seed, &token.subject),
        "ipAddress": "127.0.0.1",
        "start": token.issued_at * 1000,
        "lastAccess": token.issued_at * 1000,
        "rememberMe": false,
        "clients": { client_uuid: token.client_id },
        "transientUser": false,
    })
}

fn list_sessions(
    shared: &Shared,
    headers: &HeaderMap,
    (realm, client): (String, String),
    page: &Page,
    offline: bool,
) -> Response {
    let client_id = match admit_client(shared, headers, &realm, &client) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let world = shared.world();
    let list: Vec<Value> = sessions(&world, client_id, offline)
        .into_iter()
        .skip(page.first.unwrap_or(0))
        .take(page.max.unwrap_or(DEFAULT_MAX_RESULTS))
        .map(|(grant, token)| session_representation(world.seed, grant, token, &client))
        .collect();
    axum::Json(list).into_response()
}

async fn user_sessions(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(path): Path<(String, String)>,
    Query(page): Query<Page>,
) -> Response {
    list_sessions(&shared, &headers, path, &page, false)
}

async fn offline_sessions(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(path): Path<(String, String)>,
    Query(page): Query<Page>,
) -> Response {
    list_sessions(&shared, &headers, path, &page, true)
}

fn count_sessions(
    shared: &Shared,
    headers: &HeaderMap,
    (realm, client): (String, String),
    offline: bool,
) -> Response {
    let client_id = match admit_client(shared, headers, &realm, &client) {
        Ok(id) => id,
        Err(e) => return e.into_response(),
    };
    let count = sessions(&shared.world(), client_id, offline).len();
    axum::Json(json!({ "count": count })).into_response()
}

async fn session_count(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(path): Path<(String, String)>,
) -> Response {
    count_sessions(&shared, &headers, path, false)
}

async fn offline_session_count(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(path): Path<(String, String)>,
) -> Response {
    count_sessions(&shared, &headers, path, true)
}

#[derive(Debug, Deserialize)]
struct SessionKind {
    #[serde(rename = "isOffline", default)]
    is_offline: bool,
}

async fn delete_session(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path((realm, session)): Path<(String, String)>,
    Query(kind): Query<SessionKind>,
) -> Response {
    if let Err(e) = admit(&shared, &headers, &realm) {
        return e.into_response();
    }
    let mut world = shared.world();
    let seed = world.seed;
    let live = (0..world.next_grant).find(|&g| {
        world.offline(g) == kind.is_offline
            && session_id(seed, g) == session
            && world.tokens.iter().any(|t| t.grant == g && !t.revoked)
    });
    match live {
        Some(grant) => {
            world.end_grant(grant);
            StatusCode::NO_CONTENT.into_response()
        }
        // Keycloak's own spelling.
        None => error(StatusCode::NOT_FOUND, "Sesssion not found").into_response(),
    }
}

async fn revoke_consent(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path((realm, user, client)): Path<(String, String, String)>,
) -> Response {
    if let Err(e) = admit(&shared, &headers, &realm) {
        return e.into_response();
    }
    let mut world = shared.world();
    let seed = world.seed;
    let Some(subject) = world
        .tokens
        .iter()
        .find(|t| user_id(seed, &t.subject) == user)
        .map(|t| t.subject.clone())
    else {
        return error(StatusCode::NOT_FOUND, "User not found").into_response();
    };
    // The `{client}` segment is a clientId, not a uuid (`realm.getClientByClientId`).
    if shared.credentials.client_secret(&client).is_none() {
        return error(StatusCode::NOT_FOUND, "Client not found").into_response();
    }
    let grants: Vec<u64> = world
        .tokens
        .iter()
        .filter(|t| t.subject == subject && t.client_id == client && !t.revoked)
        .map(|t| t.grant)
        .collect();
    if grants.is_empty() {
        return error(StatusCode::NOT_FOUND, "Consent nor offline token not found").into_response();
    }
    for grant in grants {
        world.end_grant(grant);
    }
    StatusCode::NO_CONTENT.into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_uuids_and_differ_per_item() {
        let id = session_id(2019, 7);
        let parts: Vec<usize> = id.split('-').map(str::len).collect();
        assert_eq!(parts, [8, 4, 4, 4, 12], "{id}");
        assert!(id.chars().all(|c| c == '-' || c.is_ascii_hexdigit()));
        assert_eq!(&id[14..15], "4", "{id}");
        assert_ne!(session_id(2019, 7), session_id(2019, 8));
        assert_ne!(user_id(2019, "user-1"), user_id(2019, "user-2"));
        assert_ne!(client_uuid(2019, 0), client_uuid(2019, 1));
    }
}
