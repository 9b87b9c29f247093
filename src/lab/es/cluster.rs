//! Cluster-wide endpoints: `_cluster/settings`, `_xpack` (security status) and
//! `_security/api_key` (list, invalidate). The responder's own key is one of the keys here:
//! invalidating it locks the responder out, as it would on a real cluster.
//!
//! `_xpack`'s `features.security.enabled` is the profile's, for the lab's life: a real cluster
//! changes it only with a config change and a full restart (Elastic "minimal security" docs).
//! With security off every `/_security/*` call is 500 (`EsError::security_disabled`).
//! API-key parameters by version: `ids` from 7.10 (PRs #63224, #63320), before only `id`,
//! `name`, `realm_name`, `username` (7.4 `InvalidateApiKeyRequest`); `GET` with no parameter is
//! a 400 before 7.10 (7.4 API docs). An already invalidated key is filtered out of the
//! answer's lists (`ApiKeyService.invalidateApiKeys`).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use serde_json::{Value, json};

use super::{EsResult, Params, authenticate, json_body, ok, require_admin};
use crate::lab::Shared;
use crate::lab::es_errors::EsError;
use crate::lab::profile::Feature;

pub async fn settings(State(shared): State<Shared>, headers: HeaderMap) -> EsResult {
    authenticate(&shared, &headers)?;
    let world = shared.world();
    ok(json!({
        "persistent": world.persistent_settings,
        "transient": world.transient_settings,
    }))
}

pub async fn put_settings(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> EsResult {
    require_admin(&shared, &headers, "cluster:admin/settings/update")?;
    let body = json_body(&body)?.unwrap_or_default();
    let part = |name: &str| {
        body.get(name)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let (persistent, transient) = (part("persistent"), part("transient"));
    if persistent.is_empty() && transient.is_empty() {
        return Err(EsError::no_settings());
    }
    let mut world = shared.world();
    world.persistent_settings.extend(persistent.clone());
    world.transient_settings.extend(transient.clone());
    ok(json!({ "acknowledged": true, "persistent": persistent, "transient": transient }))
}

/// `GET /_nodes/settings` (nodes info, settings nested as `elasticsearch.yml` writes them):
/// `path.repo` is absent when empty, as on a real node.
pub async fn node_settings(State(shared): State<Shared>, headers: HeaderMap) -> EsResult {
    authenticate(&shared, &headers)?;
    let world = shared.world();
    let mut path =
        json!({ "home": "/usr/share/elasticsearch", "logs": "/usr/share/elasticsearch/logs" });
    if let Some(repo) = shared.path_repo.as_deref() {
        path["repo"] = json!([repo]);
    }
    let version = shared.profile.version.to_string();
    ok(json!({
        "_nodes": { "total": 1, "successful": 1, "failed": 0 },
        "cluster_name": super::CLUSTER_NAME,
        "nodes": {
            world.cluster_uuid.clone(): {
                "name": "lab-node-1",
                "transport_address": "127.0.0.1:9300",
                "host": "127.0.0.1",
                "ip": "127.0.0.1",
                "version": version,
                "roles": ["data", "ingest", "master"],
                "settings": {
                    "cluster": { "name": super::CLUSTER_NAME },
                    "node": { "name": "lab-node-1" },
                    "path": path,
                    "xpack": { "security": { "enabled": shared.profile.security.enabled().to_string() } }
                }
            }
        }
    }))
}

pub async fn xpack(State(shared): State<Shared>, headers: HeaderMap) -> EsResult {
    authenticate(&shared, &headers)?;
    let world = shared.world();
    let enabled = shared.profile.security.enabled();
    ok(json!({
        "build": { "hash": "2f90bbf7b93631e52bafb59b3b049cb44ec25e96", "date": "2019-10-28T20:40:44.881551Z" },
        "license": { "uid": world.cluster_uuid, "type": "basic", "mode": "basic", "status": "active" },
        "features": {
            "security": { "available": true, "enabled": enabled },
            "monitoring": { "available": true, "enabled": true },
            "ml": { "available": false, "enabled": true },
            "watcher": { "available": false, "enabled": true }
        },
        "tagline": "You know, for X"
    }))
}

/// Any other `/_security/*` path: 500 with security off; the lab has no other security API.
pub async fn other_security(
    State(shared): State<Shared>,
    method: axum::http::Method,
    uri: axum::http::Uri,
) -> axum::response::Response {
    use axum::response::IntoResponse as _;
    if shared.profile.security.enabled() {
        crate::lab::es_errors::no_handler(method.as_str(), &uri.to_string())
    } else {
        EsError::security_disabled().into_response()
    }
}

/// Security APIs: 500 when security is off, else the caller must hold an admin key.
fn security_api(shared: &Shared, headers: &HeaderMap, action: &str) -> Result<(), EsError> {
    if !shared.profile.security.enabled() {
        return Err(EsError::security_disabled());
    }
    require_admin(shared, headers, action)
}

fn validation(message: &str) -> EsError {
    EsError::new(
        StatusCode::BAD_REQUEST,
        "action_request_validation_exception",
        &format!("Validation Failed: 1: {message};"),
        &[],
    )
}

pub async fn list_api_keys(
    State(shared): State<Shared>,
    headers: HeaderMap,
    params: Params,
) -> EsResult {
    security_api(
        &shared,
        &headers,
        "cluster:admin/xpack/security/api_key/get",
    )?;
    let filter = |name: &str| params.get(name).filter(|v| !v.is_empty()).cloned();
    let (id, name) = (filter("id"), filter("name"));
    let (realm, user) = (filter("realm_name"), filter("username"));
    let any_filter = id.is_some() || name.is_some() || realm.is_some() || user.is_some();
    if !any_filter && !shared.profile.version.at_least(Feature::GetAllApiKeys) {
        return Err(validation(
            "One of [api key id, api key name, username, realm name] must be specified if [owner] flag is false",
        ));
    }
    let world = shared.world();
    let keys: Vec<Value> = world
        .api_keys
        .iter()
        .filter(|k| id.as_ref().is_none_or(|i| *i == k.id))
        .filter(|k| name.as_ref().is_none_or(|n| *n == k.name))
        .filter(|_| realm.as_ref().is_none_or(|r| r == "native"))
        .filter(|_| user.as_ref().is_none_or(|u| u == "elastic"))
        .map(|k| {
            json!({ "id": k.id, "name": k.name, "creation": 1_572_566_400_000_u64,
                    "invalidated": k.invalidated, "username": "elastic", "realm": "native" })
        })
        .collect();
    ok(json!({ "api_keys": keys }))
}

pub async fn invalidate_api_keys(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> EsResult {
    security_api(
        &shared,
        &headers,
        "cluster:admin/xpack/security/api_key/invalidate",
    )?;
    let body = json_body(&body)?.unwrap_or_default();
    let with_ids = shared
        .profile
        .version
        .at_least(Feature::InvalidateApiKeyIds);
    if !with_ids && body.get("ids").is_some() {
        // Before 7.10 the request parser knows no `ids` field.
        return Err(EsError::new(
            StatusCode::BAD_REQUEST,
            "x_content_parse_exception",
            "[1:2] [invalidate_api_key_request] unknown field [ids]",
            &[],
        ));
    }
    let name = body.get("name").and_then(Value::as_str).map(str::to_owned);
    let mut ids: Vec<String> = body
        .get("ids")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default();
    if let Some(id) = body.get("id").and_then(Value::as_str) {
        ids.push(id.to_owned());
    }
    if name.is_none() && ids.is_empty() {
        return Err(validation(
            "One of [api key id(s), api key name, username, realm name] must be specified if [owner] flag is false",
        ));
    }
    let mut world = shared.world();
    let mut invalidated = Vec::new();
    for key in &mut world.api_keys {
        if (name.as_deref() == Some(key.name.as_str()) || ids.contains(&key.id)) && !key.invalidated
        {
            key.invalidated = true;
            invalidated.push(key.id.clone());
        }
    }
    ok(json!({
        "invalidated_api_keys": invalidated,
        "previously_invalidated_api_keys": [],
        "error_count": 0
    }))
}
