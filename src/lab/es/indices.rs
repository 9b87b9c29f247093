//! Index admin: mapping, settings (including the `index.blocks.read` setting every version
//! has), close, open, and `_block` (7.9+).
//!
//! Sources: index-modules "blocks" docs (`index.blocks.read`; `null` or `false` lifts it);
//! PR #58094 and the API docs "Added in 7.9.0" for `PUT /{index}/_block/{block}`; the close
//! API docs (the response names `indices` from 7.3).

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use serde_json::{Value, json};

use super::{EsResult, authenticate, find, find_mut, json_body, ok, require_admin};
use crate::lab::Shared;
use crate::lab::es_errors::EsError;
use crate::lab::profile::Feature;
use crate::lab::state::{Docs, EXPOSED_INDEX};

pub async fn mapping(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(index): Path<String>,
) -> EsResult {
    authenticate(&shared, &headers)?;
    let docs = find(&shared.world().indices, &index)?.docs;
    let properties = match docs {
        Docs::Customers => json!({
            "customer_id": { "type": "keyword" },
            "email": { "type": "keyword" },
            "camera_nickname": { "type": "text", "fields": { "keyword": { "type": "keyword", "ignore_above": 256 } } },
            "wifi_ssid": { "type": "keyword" },
            "alexa_token_id": { "type": "keyword" },
            "device_model": { "type": "keyword" },
            "created_at": { "type": "date" },
            "health": { "properties": {
                "height_cm": { "type": "integer" },
                "weight_kg": { "type": "integer" },
                "birth_year": { "type": "integer" },
                "resting_heart_rate": { "type": "integer" }
            } }
        }),
        Docs::Metrics(_) => json!({
            "@timestamp": { "type": "date" },
            "device_model": { "type": "keyword" },
            "region": { "type": "keyword" },
            "activations": { "type": "long" },
            "failed_connection_rate": { "type": "float" }
        }),
    };
    ok(json!({ index: { "mappings": { "properties": properties } } }))
}

pub async fn settings(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(index): Path<String>,
) -> EsResult {
    authenticate(&shared, &headers)?;
    let world = shared.world();
    let i = find(&world.indices, &index)?;
    let mut settings = json!({
        "creation_date": i.created.as_millisecond().to_string(),
        "number_of_shards": "1",
        "number_of_replicas": "1",
        "uuid": i.uuid,
        "version": { "created": shared.profile.version.id().to_string() },
        "provided_name": i.name,
    });
    if i.read_blocked || i.write_blocked {
        let mut blocks = serde_json::Map::new();
        if i.read_blocked {
            blocks.insert("read".into(), "true".into());
        }
        if i.write_blocked {
            blocks.insert("write".into(), "true".into());
        }
        settings["blocks"] = Value::Object(blocks);
    }
    if i.closed {
        settings["verified_before_close"] = "true".into();
    }
    ok(json!({ index: { "settings": { "index": settings } } }))
}

pub async fn close(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(index): Path<String>,
) -> EsResult {
    require_admin(&shared, &headers, "indices:admin/close")?;
    let mut world = shared.world();
    let i = find_mut(&mut world.indices, &index)?;
    if i.closed {
        // Elasticsearch acknowledges closing a closed index, with nothing in `indices`.
        return ok(json!({ "acknowledged": true, "shards_acknowledged": false, "indices": {} }));
    }
    i.closed = true;
    ok(json!({
        "acknowledged": true,
        "shards_acknowledged": true,
        "indices": { index: { "closed": true } }
    }))
}

pub async fn open(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(index): Path<String>,
) -> EsResult {
    require_admin(&shared, &headers, "indices:admin/open")?;
    let mut world = shared.world();
    let i = find_mut(&mut world.indices, &index)?;
    i.closed = false;
    ok(json!({ "acknowledged": true, "shards_acknowledged": true }))
}

pub async fn add_block(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path((index, block)): Path<(String, String)>,
) -> EsResult {
    if !shared.profile.version.at_least(Feature::AddIndexBlock) {
        // Before 7.9 the path is the (deprecated) typed index-document route
        // `PUT /{index}/{type}/{id}`, and without a body it stops at "request body is
        // required" (`RestRequest.requiredContent`). Inferred: no 7.4 test pins this.
        return Err(EsError::parse("request body is required"));
    }
    require_admin(&shared, &headers, "indices:admin/block/add")?;
    let mut world = shared.world();
    let i = find_mut(&mut world.indices, &index)?;
    match block.as_str() {
        "read" => i.read_blocked = true,
        "write" | "read_only" => i.write_blocked = true,
        "metadata" => {}
        other => {
            return Err(EsError::bad_request(
                "illegal_argument_exception",
                &format!("No block found with name [{other}]"),
            ));
        }
    }
    ok(json!({
        "acknowledged": true,
        "shards_acknowledged": true,
        "indices": [ { "name": index, "blocked": true } ]
    }))
}

/// `PUT /{index}/_settings`: the read block as a setting, which every version has. Flat
/// (`{"index.blocks.read": true}`) and nested (`{"index": {"blocks": {"read": true}}}`) bodies
/// are both accepted, as Elasticsearch flattens settings; `null` or `false` lifts the block.
pub async fn put_settings(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(index): Path<String>,
    body: Bytes,
) -> EsResult {
    require_admin(&shared, &headers, "indices:admin/settings/update")?;
    let body = json_body(&body)?.ok_or_else(EsError::no_settings)?;
    let mut flat = serde_json::Map::new();
    flatten("", body.get("settings").unwrap_or(&body), &mut flat);
    let mut world = shared.world();
    let i = find_mut(&mut world.indices, &index)?;
    for (key, value) in &flat {
        let on = match value {
            Value::Null => false,
            Value::Bool(b) => *b,
            Value::String(s) if s == "true" || s == "false" => s == "true",
            other => {
                return Err(EsError::bad_request(
                    "illegal_argument_exception",
                    &format!(
                        "Failed to parse value [{other}] as only [true] or [false] are allowed."
                    ),
                ));
            }
        };
        match key.as_str() {
            "index.blocks.read" => i.read_blocked = on,
            "index.blocks.write" | "index.blocks.read_only" => i.write_blocked = on,
            other => {
                return Err(EsError::bad_request(
                    "illegal_argument_exception",
                    &format!("the drill lab does not model the index setting [{other}]"),
                ));
            }
        }
    }
    ok(json!({ "acknowledged": true }))
}

fn flatten(prefix: &str, value: &Value, out: &mut serde_json::Map<String, Value>) {
    match value {
        Value::Object(map) => {
            for (k, v) in map {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        other => {
            let key = if prefix.starts_with("index.") {
                prefix.to_owned()
            } else {
                format!("index.{prefix}")
            };
            out.insert(key, other.clone());
        }
    }
}

/// The "someone reopens it" inject ([`crate::lab::LabOptions::reopen_after_close`]): called
/// when an outsider's read finds the exposed index closed, i.e. once the team has verified
/// containment. That long after, an anonymous `POST /{index}/_open` happens, which only a
/// security-off cluster lets through. Taken once.
pub fn outsider_reopens(shared: &Shared, world: &mut crate::lab::state::World, index: &str) {
    if index != EXPOSED_INDEX || shared.profile.security.enabled() {
        return;
    }
    let Some(after) = world.reopen_after_close.take() else {
        return;
    };
    let outsider = shared.clone();
    tokio::spawn(async move {
        tokio::time::sleep(after).await;
        if let Some(i) = outsider.world().index_mut(EXPOSED_INDEX) {
            i.closed = false;
        }
    });
}
