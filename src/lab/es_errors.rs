//! Elasticsearch error bodies, shaped as the real server writes them:
//!
//! ```json
//! {"error":{"root_cause":[{"type":"…","reason":"…", …}],"type":"…","reason":"…", …},"status":N}
//! ```
//!
//! Runbooks match on `error.type` and on the status, so both must be exactly what a responder
//! would meet on a real cluster. This module only builds responses; it decides nothing.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::{Map, Value, json};

/// An Elasticsearch error response.
#[derive(Debug, Clone)]
pub struct EsError {
    pub status: StatusCode,
    pub body: Value,
    /// 401s carry `WWW-Authenticate`, as the real cluster's do.
    pub challenge: bool,
}

impl EsError {
    /// The common shape: the same cause at the top and in `root_cause`, with extra fields.
    pub fn new(status: StatusCode, kind: &str, reason: &str, extra: &[(&str, Value)]) -> Self {
        let mut cause = Map::new();
        cause.insert("type".into(), kind.into());
        cause.insert("reason".into(), reason.into());
        for (k, v) in extra {
            cause.insert((*k).into(), v.clone());
        }
        let mut top = cause.clone();
        top.insert(
            "root_cause".into(),
            Value::Array(vec![Value::Object(cause)]),
        );
        Self {
            status,
            body: json!({ "error": top, "status": status.as_u16() }),
            challenge: false,
        }
    }

    pub fn index_not_found(index: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "index_not_found_exception",
            &format!("no such index [{index}]"),
            &[
                ("resource.type", "index_or_alias".into()),
                ("resource.id", index.into()),
                ("index_uuid", "_na_".into()),
                ("index", index.into()),
            ],
        )
    }

    pub fn index_closed(index: &str, uuid: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "index_closed_exception",
            "closed",
            &[("index_uuid", uuid.into()), ("index", index.into())],
        )
    }

    pub fn read_blocked(index: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "cluster_block_exception",
            &format!("index [{index}] blocked by: [FORBIDDEN/7/index read (api)];"),
            &[],
        )
    }

    /// An authenticated (or anonymous) user without the privilege: 403, no challenge
    /// (x-pack `AuthorizationService.denialException`).
    pub fn unauthorized_action(action: &str, user: &str) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "security_exception",
            &format!("action [{action}] is unauthorized for user [{user}]"),
            &[],
        )
    }

    /// Any `/_security/*` call on a cluster without security (x-pack `SecurityActionFilter`).
    pub fn security_disabled() -> Self {
        Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "exception",
            "Security must be explicitly enabled when using a [basic] license. Enable security by setting [xpack.security.enabled] to [true] in the elasticsearch.yml file and restart the node.",
            &[],
        )
    }

    /// A search-phase failure on every shard (one, in the lab): the top level is
    /// `search_phase_execution_exception`, the cause in `root_cause`, `failed_shards` and
    /// `caused_by` (index-modules `max_result_window`; `SearchService` checks).
    pub fn all_shards_failed(index: &str, kind: &str, reason: &str) -> Self {
        let cause = json!({ "type": kind, "reason": reason });
        Self {
            status: StatusCode::BAD_REQUEST,
            body: json!({
                "error": {
                    "root_cause": [cause],
                    "type": "search_phase_execution_exception",
                    "reason": "all shards failed",
                    "phase": "query",
                    "grouped": true,
                    "failed_shards": [
                        { "shard": 0, "index": index, "node": "lab-node-1", "reason": cause }
                    ],
                    "caused_by": cause,
                },
                "status": 400,
            }),
            challenge: false,
        }
    }

    /// Credentials that do not authenticate (wrong or invalidated key).
    pub fn bad_credentials() -> Self {
        let mut e = Self::new(
            StatusCode::UNAUTHORIZED,
            "security_exception",
            "unable to authenticate with provided credentials",
            &[("header", challenge_header())],
        );
        e.challenge = true;
        e
    }

    pub fn bad_request(kind: &str, reason: &str) -> Self {
        Self::new(StatusCode::BAD_REQUEST, kind, reason, &[])
    }

    pub fn repository_missing(repo: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "repository_missing_exception",
            &format!("[{repo}] missing"),
            &[],
        )
    }

    /// A repository that cannot be created: the real body wraps the cause in `caused_by`.
    pub fn repository(repo: &str, cause: &str) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "repository_exception",
            &format!("[{repo}] {cause}"),
            &[],
        );
        e.body["error"]["reason"] = format!("[{repo}] failed to create repository").into();
        e.body["error"]["caused_by"] = json!({
            "type": "repository_exception",
            "reason": format!("[{repo}] {cause}"),
        });
        e
    }

    pub fn snapshot_exists(repo: &str, snapshot: &str) -> Self {
        Self::invalid_snapshot_name(repo, snapshot, "snapshot with the same name already exists")
    }

    /// `SnapshotsService.validate`: lower case, no leading `_`, none of `\\/*?"<>| ,#`.
    pub fn invalid_snapshot_name(repo: &str, snapshot: &str, why: &str) -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "invalid_snapshot_name_exception",
            &format!("[{repo}:{snapshot}] Invalid snapshot name [{snapshot}], {why}"),
            &[],
        )
    }

    /// A second snapshot before 7.9 (`SnapshotsService`, pre-concurrent-snapshots).
    pub fn concurrent_snapshot(repo: &str, snapshot: &str) -> Self {
        Self::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "concurrent_snapshot_execution_exception",
            &format!("[{repo}:{snapshot}] a snapshot is already running"),
            &[],
        )
    }

    pub fn snapshot_missing(repo: &str, snapshot: &str) -> Self {
        Self::new(
            StatusCode::NOT_FOUND,
            "snapshot_missing_exception",
            &format!("[{repo}:{snapshot}] is missing"),
            &[],
        )
    }

    /// A settings update with nothing in it.
    pub fn no_settings() -> Self {
        Self::new(
            StatusCode::BAD_REQUEST,
            "action_request_validation_exception",
            "Validation Failed: 1: no settings to update;",
            &[],
        )
    }

    /// A body that is not valid JSON.
    pub fn parse(detail: &str) -> Self {
        Self::bad_request("parse_exception", detail)
    }
}

fn challenge_header() -> Value {
    json!({ "WWW-Authenticate": ["Basic realm=\"security\" charset=\"UTF-8\"", "ApiKey"] })
}

impl IntoResponse for EsError {
    fn into_response(self) -> Response {
        let mut response = (self.status, axum::Json(self.body)).into_response();
        if self.challenge {
            let headers = response.headers_mut();
            headers.append(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Basic realm=\"security\" charset=\"UTF-8\""),
            );
            headers.append(header::WWW_AUTHENTICATE, HeaderValue::from_static("ApiKey"));
        }
        response
    }
}

/// A request for an endpoint the lab does not have, answered as Elasticsearch does.
pub fn no_handler(method: &str, uri: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({
            "error": format!("no handler found for uri [{uri}] and method [{method}]")
        })),
    )
        .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_cause_repeats_the_top_level_cause() {
        let e = EsError::index_not_found("nope");
        assert_eq!(e.status, StatusCode::NOT_FOUND);
        assert_eq!(e.body["status"], 404);
        assert_eq!(e.body["error"]["type"], "index_not_found_exception");
        assert_eq!(
            e.body["error"]["root_cause"][0]["type"],
            "index_not_found_exception"
        );
        assert_eq!(e.body["error"]["root_cause"][0]["index"], "nope");
        assert_eq!(e.body["error"]["reason"], "no such index [nope]");
    }

    #[test]
    fn repository_error_keeps_the_cause_in_caused_by() {
        let e = EsError::repository("r", "location [/tmp] doesn't match");
        assert_eq!(e.body["error"]["reason"], "[r] failed to create repository");
        assert_eq!(
            e.body["error"]["caused_by"]["reason"],
            "[r] location [/tmp] doesn't match"
        );
        assert_eq!(e.body["status"], 500);
    }
}
