//! The lab's Elasticsearch cluster: routes, who may do what, and `GET /`, `_cat/indices`.
//! Index admin is in `es/indices.rs`, reading documents in `es/search.rs`, snapshots in
//! `es/snapshot.rs`, `_xpack` / `_cluster` / `_security` in `es/cluster.rs`.
//!
//! The cluster is what its [`Profile`](super::Profile) says, for its whole life:
//!
//! - **security off** (7.x basic licence, the reference case): nothing is authenticated and
//!   any `Authorization` header is ignored (x-pack `SecurityActionFilter` authenticates only
//!   when security is enabled); anyone may close, open, block, snapshot. Every `/_security/*`
//!   call is 500 `exception` "Security must be explicitly enabled when using a [basic]
//!   license…" (the same filter's `SECURITY_ACTION_MATCHER` branch).
//! - **security on**, with anonymous access granted a read role
//!   (`xpack.security.authc.anonymous.roles`): anonymous reads pass, anonymous admin calls are
//!   403 `security_exception` "action [...] is unauthorized for user [_anonymous]", a wrong or
//!   invalidated key is 401 everywhere.
//!
//! Sources for every behaviour are named beside the code and gathered in the README's profile
//! matrix. Wrong methods are 405 with ES's JSON body and an `Allow` header (7.x
//! `RestController`); unknown paths are 400 "no handler found"; from 7.14 every response
//! carries `X-elastic-product: Elasticsearch`.

mod cluster;
mod indices;
mod search;
mod snapshot;

use std::collections::HashMap;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{any, delete, get, post, put};
use serde_json::{Value, json};

use super::Shared;
use super::es_errors::{EsError, no_handler};
use super::profile::Feature;
use super::state::Index;

pub use snapshot::snapshot_bytes;

const CLUSTER_NAME: &str = "metrics-prod";

pub type EsResult = Result<Response, EsError>;
type Params = Query<HashMap<String, String>>;

pub fn router(shared: Shared) -> Router {
    let routes = Router::new()
        .route("/", get(info))
        .route("/_cat/indices", get(cat_indices))
        .route("/_xpack", get(cluster::xpack))
        .route("/_nodes/settings", get(cluster::node_settings))
        .route(
            "/_cluster/settings",
            get(cluster::settings).put(cluster::put_settings),
        )
        .route(
            "/_security/api_key",
            delete(cluster::invalidate_api_keys).get(cluster::list_api_keys),
        )
        .route("/_security/{*rest}", any(cluster::other_security))
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
                .get(snapshot::get)
                .delete(snapshot::delete),
        )
        .route("/_snapshot/{repo}/{snap}/_status", get(snapshot::status))
        .route("/{index}/_count", get(search::count).post(search::count))
        .route("/{index}/_search", get(search::search).post(search::search))
        .route("/{index}/_mapping", get(indices::mapping))
        .route(
            "/{index}/_settings",
            get(indices::settings).put(indices::put_settings),
        )
        .route("/{index}/_close", post(indices::close))
        .route("/{index}/_open", post(indices::open))
        .route("/{index}/_block/{block}", put(indices::add_block))
        .fallback(|method: Method, uri: Uri| async move {
            no_handler(method.as_str(), &uri.to_string())
        })
        .with_state(shared.clone());
    // Wrapped whole, so that the middleware sees the `Allow` header axum adds to a 405.
    Router::new()
        .fallback_service(routes)
        .layer(axum::middleware::from_fn_with_state(
            shared,
            as_elasticsearch,
        ))
}

/// What every response gets on its way out: ES's 405 body for a wrong method (axum answers
/// those with an empty body and the `Allow` header), and the product header from 7.14.
async fn as_elasticsearch(State(shared): State<Shared>, request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let uri = request.uri().to_string();
    let mut response = next.run(request).await;
    if response.status() == StatusCode::METHOD_NOT_ALLOWED {
        let allow = response
            .headers()
            .get(header::ALLOW)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .replace(',', ", ");
        let body = json!({
            "error": format!(
                "Incorrect HTTP method for uri [{uri}] and method [{method}], allowed: [{allow}]"
            ),
            "status": 405,
        });
        let headers = response.headers().clone();
        response = (StatusCode::METHOD_NOT_ALLOWED, axum::Json(body)).into_response();
        if let Some(allow) = headers.get(header::ALLOW) {
            response.headers_mut().insert(header::ALLOW, allow.clone());
        }
    }
    if shared.profile.version.at_least(Feature::ProductHeader) {
        response.headers_mut().insert(
            "x-elastic-product",
            HeaderValue::from_static("Elasticsearch"),
        );
    }
    response
}

/// Who is asking, once the profile has had its say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Caller {
    /// No credentials on a security-on cluster: the anonymous read role.
    Anonymous,
    /// The responder's API key on a security-on cluster, or anyone on a security-off one.
    Admin,
}

/// Check credentials if security is on: a wrong or invalidated key is refused everywhere.
/// With security off, headers are not even read.
pub fn authenticate(shared: &Shared, headers: &HeaderMap) -> Result<Caller, EsError> {
    if !shared.profile.security.enabled() {
        return Ok(Caller::Admin);
    }
    let Some(value) = headers.get(header::AUTHORIZATION) else {
        return Ok(Caller::Anonymous);
    };
    let value = value.to_str().map_err(|_| EsError::bad_credentials())?;
    // The scheme is case-insensitive (x-pack `api_key/10_basic.yml` sends `apikey`).
    let key = value
        .split_once(' ')
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("ApiKey"))
        .map(|(_, key)| key)
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

/// Endpoints beyond the anonymous read role: `action` is the transport action name the 403
/// names (`indices:admin/close`).
pub fn require_admin(shared: &Shared, headers: &HeaderMap, action: &str) -> Result<(), EsError> {
    match authenticate(shared, headers)? {
        Caller::Admin => Ok(()),
        Caller::Anonymous => Err(EsError::unauthorized_action(action, "_anonymous")),
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

/// [`find`] for changing the index.
pub fn find_mut<'w>(indices: &'w mut [Index], name: &str) -> Result<&'w mut Index, EsError> {
    indices
        .iter_mut()
        .find(|i| i.name == name)
        .ok_or_else(|| EsError::index_not_found(name))
}

async fn info(State(shared): State<Shared>, headers: HeaderMap) -> EsResult {
    authenticate(&shared, &headers)?;
    let uuid = shared.world().cluster_uuid.clone();
    let version = shared.profile.version;
    ok(json!({
        "name": "lab-node-1",
        "cluster_name": CLUSTER_NAME,
        "cluster_uuid": uuid,
        "version": {
            "number": version.to_string(),
            "build_flavor": "default",
            "build_type": "docker",
            // Not the real build's hash: the lab is not that build.
            "build_hash": "0000000000000000000000000000000000000000",
            "build_date": "2019-10-28T20:40:44.881551Z",
            "build_snapshot": false,
            "lucene_version": version.lucene(),
            "minimum_wire_compatibility_version": version.minimum_wire(),
            "minimum_index_compatibility_version": version.minimum_index()
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
