//! The lab's Elasticsearch-like cluster: routes, authentication, and the index/cluster admin
//! endpoints. Reading documents is in `es/search.rs`, snapshots in `es/snapshot.rs`.
//!
//! Like the leaky cluster of the reference case, reads need no credentials while the exposed
//! index is open and unblocked. Unlike it, every mutating or admin endpoint wants
//! `Authorization: ApiKey <key>` (the responder's key), and a wrong key is refused on any
//! endpoint, as a real cluster with security on would. Bodies and statuses follow the public
//! Elasticsearch 7.x REST documentation; the cluster reports version 7.4.2 (December 2019).

mod cluster;
mod search;
mod snapshot;

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, post, put};
use serde_json::{Value, json};

use super::Shared;
use super::es_errors::{EsError, no_handler};
use super::state::{Docs, Index};

pub use snapshot::snapshot_bytes;

/// Elasticsearch version the lab cluster reports.
pub const VERSION: &str = "7.4.2";
const VERSION_ID: &str = "7040299";
const CLUSTER_NAME: &str = "metrics-prod";

pub type EsResult = Result<Response, EsError>;
type Params = Query<HashMap<String, String>>;

pub fn router(shared: Shared) -> Router {
    Router::new()
        .route("/", get(info))
        .route("/_cat/indices", get(cat_indices))
        .route("/_xpack", get(cluster::xpack))
        .route(
            "/_cluster/settings",
            get(cluster::settings).put(cluster::put_settings),
        )
        .route(
            "/_security/api_key",
            delete(cluster::invalidate_api_keys).get(cluster::list_api_keys),
        )
        .route(
            "/_search/scroll",
            get(search::scroll)
                .post(search::scroll)
                .delete(search::clear_scroll),
        )
        .route(
            "/_snapshot/{repo}",
            put(snapshot::put_repository)
                .post(snapshot::put_repository)
                .get(snapshot::get_repository),
        )
        .route(
            "/_snapshot/{repo}/{snap}",
            put(snapshot::create)
                .post(snapshot::create)
                .get(snapshot::get),
        )
        .route("/_snapshot/{repo}/{snap}/_status", get(snapshot::status))
        .route("/{index}/_count", get(search::count).post(search::count))
        .route("/{index}/_search", get(search::search).post(search::search))
        .route("/{index}/_mapping", get(mapping))
        .route("/{index}/_settings", get(settings))
        .route("/{index}/_close", post(close))
        .route("/{index}/_open", post(open))
        .route("/{index}/_block/{block}", put(add_block))
        .fallback(|method: Method, uri: Uri| async move {
            no_handler(method.as_str(), &uri.to_string())
        })
        .with_state(shared)
}

/// Who is asking: nobody in particular, or the holder of the responder's API key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    Anonymous,
    Admin,
}

/// Check credentials if any were sent: a wrong or invalidated key is refused everywhere.
pub fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<Caller, EsError> {
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(Caller::Anonymous);
    };
    let value = value.to_str().map_err(|_| EsError::bad_credentials())?;
    let key = value
        .strip_prefix("ApiKey ")
        .ok_or_else(EsError::bad_credentials)?;
    let world = shared.world();
    let revoked = world
        .api_keys
        .iter()
        .any(|k| k.id == shared.credentials.es_api_key_id && k.invalidated);
    if key.trim() == shared.credentials.es_api_key && !revoked {
        Ok(Caller::Admin)
    } else {
        Err(EsError::bad_credentials())
    }
}

/// Admin endpoints: credentials are required.
pub fn require_admin(shared: &Shared, headers: &HeaderMap, uri: &Uri) -> Result<(), EsError> {
    match authenticate(shared, headers)? {
        Caller::Admin => Ok(()),
        Caller::Anonymous => Err(EsError::missing_credentials(uri.path())),
    }
}

/// The request body as JSON; an empty body is `None`.
pub fn json_body(body: &Bytes) -> Result<Option<Value>, EsError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    serde_json::from_slice(body)
        .map(Some)
        .map_err(|e| EsError::parse(&format!("request body is not valid JSON: {e}")))
}

pub fn ok(body: Value) -> EsResult {
    Ok((StatusCode::OK, axum::Json(body)).into_response())
}

/// Find an index or answer 404 the way Elasticsearch does.
pub fn find<'w>(indices: &'w [Index], name: &str) -> Result<&'w Index, EsError> {
    indices
        .iter()
        .find(|i| i.name == name)
        .ok_or_else(|| EsError::index_not_found(name))
}

async fn info(State(shared): State<Shared>, headers: HeaderMap) -> EsResult {
    authenticate(&shared, &headers)?;
    let uuid = shared.world().cluster_uuid.clone();
    ok(json!({
        "name": "lab-node-1",
        "cluster_name": CLUSTER_NAME,
        "cluster_uuid": uuid,
        "version": {
            "number": VERSION,
            "build_flavor": "default",
            "build_type": "docker",
            "build_hash": "2f90bbf7b93631e52bafb59b3b049cb44ec25e96",
            "build_date": "2019-10-28T20:40:44.881551Z",
            "build_snapshot": false,
            "lucene_version": "8.2.0",
            "minimum_wire_compatibility_version": "6.8.0",
            "minimum_index_compatibility_version": "6.0.0-beta1"
        },
        "tagline": "You Know, for Search"
    }))
}

/// Store size as `_cat` prints it: human units, or plain bytes with `?bytes=b`.
fn store_size(index: &Index, in_bytes: bool) -> String {
    let bytes = snapshot_bytes(index.docs);
    if in_bytes {
        return bytes.to_string();
    }
    #[allow(clippy::cast_precision_loss, reason = "a size rounded for display")]
    let b = bytes as f64;
    if b >= 1024.0 * 1024.0 * 1024.0 {
        format!("{:.1}gb", b / (1024.0 * 1024.0 * 1024.0))
    } else if b >= 1024.0 * 1024.0 {
        format!("{:.1}mb", b / (1024.0 * 1024.0))
    } else {
        format!("{:.1}kb", b / 1024.0)
    }
}

async fn cat_indices(State(shared): State<Shared>, headers: HeaderMap, params: Params) -> EsResult {
    authenticate(&shared, &headers)?;
    let in_bytes = params.get("bytes").map(String::as_str) == Some("b");
    let world = shared.world();
    let rows: Vec<Value> = world
        .indices
        .iter()
        .map(|i| {
            let (count, size) = if i.closed {
                (Value::Null, Value::Null)
            } else {
                (i.count.to_string().into(), store_size(i, in_bytes).into())
            };
            json!({
                "health": "yellow",
                "status": if i.closed { "close" } else { "open" },
                "index": i.name,
                "uuid": i.uuid,
                "pri": "1",
                "rep": "1",
                "docs.count": count,
                "docs.deleted": if i.closed { Value::Null } else { "0".into() },
                "store.size": size,
                "pri.store.size": size,
            })
        })
        .collect();
    if params.get("format").map(String::as_str) == Some("json") {
        return ok(Value::Array(rows));
    }
    let columns = [
        "health",
        "status",
        "index",
        "uuid",
        "pri",
        "rep",
        "docs.count",
        "docs.deleted",
        "store.size",
        "pri.store.size",
    ];
    let mut text = String::new();
    for row in &rows {
        let cells: Vec<&str> = columns
            .iter()
            .map(|c| row[*c].as_str().unwrap_or(""))
            .collect();
        text.push_str(&cells.join(" "));
        text.push('\n');
    }
    Ok(([(header::CONTENT_TYPE, "text/plain; charset=UTF-8")], text).into_response())
}

async fn mapping(
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

async fn settings(
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
        "version": { "created": VERSION_ID },
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

async fn close(
    State(shared): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Path(index): Path<String>,
) -> EsResult {
    require_admin(&shared, &headers, &uri)?;
    let mut world = shared.world();
    let i = world
        .index_mut(&index)
        .ok_or_else(|| EsError::index_not_found(&index))?;
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

async fn open(
    State(shared): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Path(index): Path<String>,
) -> EsResult {
    require_admin(&shared, &headers, &uri)?;
    let mut world = shared.world();
    let i = world
        .index_mut(&index)
        .ok_or_else(|| EsError::index_not_found(&index))?;
    i.closed = false;
    ok(json!({ "acknowledged": true, "shards_acknowledged": true }))
}

async fn add_block(
    State(shared): State<Shared>,
    headers: HeaderMap,
    uri: Uri,
    Path((index, block)): Path<(String, String)>,
) -> EsResult {
    require_admin(&shared, &headers, &uri)?;
    let mut world = shared.world();
    let i = world
        .index_mut(&index)
        .ok_or_else(|| EsError::index_not_found(&index))?;
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
