//! Cluster-wide endpoints: `_cluster/settings`, `_xpack` (security status) and
//! `_security/api_key` (list, invalidate). The responder's own key is one of the keys here:
//! invalidating it locks the responder out, as it would on a real cluster.

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, Uri};
use serde_json::{Value, json};

use super::{EsResult, authenticate, json_body, ok, require_admin};
use crate::lab::Shared;
use crate::lab::es_errors::EsError;
use crate::lab::state::{EXPOSED_INDEX, Index};

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
    uri: Uri,
    body: Bytes,
) -> EsResult {
    require_admin(&shared, &headers, &uri)?;
    let body = json_body(&body)?.unwrap_or_default();
    let part = |name: &str| {
        body.get(name)
            .and_then(Value::as_object)
            .cloned()
            .unwrap_or_default()
    };
    let (persistent, transient) = (part("persistent"), part("transient"));
    if persistent.is_empty() && transient.is_empty() {
        return Err(EsError::new(
            StatusCode::BAD_REQUEST,
            "action_request_validation_exception",
            "Validation Failed: 1: no settings to update;",
            &[],
        ));
    }
    let mut world = shared.world();
    world.persistent_settings.extend(persistent.clone());
    world.transient_settings.extend(transient.clone());
    ok(json!({ "acknowledged": true, "persistent": persistent, "transient": transient }))
}

pub async fn xpack(State(shared): State<Shared>, headers: HeaderMap) -> EsResult {
    authenticate(&shared, &headers)?;
    let world = shared.world();
    // The lab's fiction: security counts as on once nothing is readable anonymously.
    let exposed = world.index(EXPOSED_INDEX).is_some_and(Index::exposed);
    ok(json!({
        "build": { "hash": "2f90bbf7b93631e52bafb59b3b049cb44ec25e96", "date": "2019-10-28T20:40:44.881551Z" },
        "license": { "uid": world.cluster_uuid, "type": "basic", "mode": "basic", "status": "active" },
        "features": {
            "security": { "available": true, "enabled": !exposed },
            "monitoring": { "available": true, "enabled": true },
            "ml": { "available": false, "enabled": true },
            "watcher": { "available": false, "enabled": true }
        },
        "tagline": "You know, for X"
    }))
}

pub async fn list_api_keys(State(shared): State<Shared>, headers: HeaderMap, uri: Uri) -> EsResult {
    require_admin(&shared, &headers, &uri)?;
    let world = shared.world();
    let keys: Vec<Value> = world
        .api_keys
        .iter()
        .map(|k| {
            json!({ "id": k.id, "name": k.name, "creation": 1_572_566_400_000_u64,
                    "invalidated": k.invalidated, "username": "elastic", "realm": "reserved" })
        })
        .collect();
    ok(json!({ "api_keys": keys }))
}

pub async fn invalidate_api_keys(
    State(shared): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    body: Bytes,
) -> EsResult {
    require_admin(&shared, &headers, &uri)?;
    let body = json_body(&body)?.unwrap_or_default();
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
        return Err(EsError::new(
            StatusCode::BAD_REQUEST,
            "action_request_validation_exception",
            "Validation Failed: 1: One of [api key id(s), api key name, username, realm name] must be specified if [owner] flag is false;",
            &[],
        ));
    }
    let mut world = shared.world();
    let (mut invalidated, mut previously) = (Vec::new(), Vec::new());
    for key in &mut world.api_keys {
        if name.as_deref() == Some(key.name.as_str()) || ids.contains(&key.id) {
            if key.invalidated {
                previously.push(key.id.clone());
            } else {
                key.invalidated = true;
                invalidated.push(key.id.clone());
            }
        }
    }
    ok(json!({
        "invalidated_api_keys": invalidated,
        "previously_invalidated_api_keys": previously,
        "error_count": 0
    }))
}
