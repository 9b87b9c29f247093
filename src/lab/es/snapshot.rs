//! Snapshot repositories and snapshots: the evidence-preservation half of the drill.
//!
//! An fs repository must live under the cluster's `path.repo`, as on a real node; an empty
//! `path.repo` (the default of a real install) refuses every location (`FsRepository`). A
//! snapshot runs for the lab's snapshot duration, then succeeds; nothing is copied (the
//! documents are computed anyway), but names, states and statistics are what a responder
//! would see.
//!
//! | behaviour | source |
//! |---|---|
//! | `_status` states INIT/STARTED/SUCCESS/FAILED/ABORTED; IN_PROGRESS only in `GET /_snapshot/{repo}/{snap}` | `TransportSnapshotsStatusAction`; HLRC `SnapshotStatus.PARSER` |
//! | `GET` returns user `metadata` (7.3+) and `shards.failed` | PRs #41281, #42902 |
//! | a second running snapshot before 7.9: 503 `concurrent_snapshot_execution_exception` | `SnapshotsService`; 7.9 release notes |
//! | names: lower case, no leading `_`, none of `\ / * ? " < > \| , #` or space: 400 `invalid_snapshot_name_exception` | `SnapshotsService.validate` |
//! | `DELETE` → 200 `{"acknowledged":true}`, then `GET` → 404 `snapshot_missing_exception` | rest-api-spec `snapshot.create/10_basic.yml` |
//! | `_status?ignore_unavailable=true` of a missing snapshot → 200 `{"snapshots":[]}` | rest-api-spec `snapshot.status/10_basic.yml` |
//! | a closed index named explicitly is snapshotted (7.2+); wildcards and the default expand to open indices only | PR #39644; `SharedClusterSnapshotRestoreIT.testSnapshotClosedIndex` |
//! | a read-blocked index is snapshotted | `SnapshotBlocksIT.testCreateSnapshotWithIndexBlocks` |

use std::path::{Component, Path as FsPath};
use std::time::Instant;

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::{EsResult, Params, authenticate, json_body, ok, require_admin};
use crate::lab::Shared;
use crate::lab::es_errors::EsError;
use crate::lab::profile::{EsVersion, Feature};
use crate::lab::state::{Docs, Repository, Snapshot, World, es_uuid};

/// Bytes a snapshot of an index would hold (for the statistics).
pub fn snapshot_bytes(docs: Docs) -> u64 {
    match docs {
        Docs::Customers => 1_035_337_318,
        Docs::Metrics(_) => 422_400,
    }
}

/// Resolve `location` against `path.repo`; `None` when it escapes it.
fn resolve_location(path_repo: &str, location: &str) -> Option<String> {
    let path = FsPath::new(location);
    let joined = if path.is_absolute() {
        path.to_path_buf()
    } else {
        FsPath::new(path_repo).join(path)
    };
    if joined.components().any(|c| c == Component::ParentDir) {
        return None;
    }
    joined
        .starts_with(path_repo)
        .then(|| joined.to_string_lossy().into_owned())
}

pub async fn put_repository(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(repo): Path<String>,
    body: Bytes,
) -> EsResult {
    require_admin(&shared, &headers, "cluster:admin/repository/put")?;
    let body = json_body(&body)?.unwrap_or_default();
    let kind = body.get("type").and_then(Value::as_str).unwrap_or_default();
    if kind != "fs" {
        return Err(EsError::repository(
            &repo,
            &format!("repository type [{kind}] does not exist"),
        ));
    }
    let location = body
        .pointer("/settings/location")
        .and_then(Value::as_str)
        .ok_or_else(|| EsError::repository(&repo, "missing location"))?;
    let Some(path_repo) = shared.path_repo.as_deref() else {
        return Err(EsError::repository(
            &repo,
            &format!(
                "location [{location}] doesn't match any of the locations specified by path.repo because this setting is empty"
            ),
        ));
    };
    let resolved = resolve_location(path_repo, location).ok_or_else(|| {
        EsError::repository(
            &repo,
            &format!(
                "location [{location}] doesn't match any of the locations specified by path.repo"
            ),
        )
    })?;
    shared.world().repositories.insert(
        repo,
        Repository {
            kind: kind.to_owned(),
            location: resolved,
        },
    );
    ok(json!({ "acknowledged": true }))
}

pub async fn get_repository(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(repo): Path<String>,
) -> EsResult {
    authenticate(&shared, &headers)?;
    let world = shared.world();
    let r = world
        .repositories
        .get(&repo)
        .ok_or_else(|| EsError::repository_missing(&repo))?;
    ok(json!({ repo: { "type": r.kind, "settings": { "location": r.location } } }))
}

fn requested_indices(world: &World, body: &Value) -> Result<Vec<String>, EsError> {
    let names: Vec<String> = match body.get("indices") {
        Some(Value::String(s)) => s
            .split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect(),
        Some(Value::Array(a)) => a
            .iter()
            .filter_map(Value::as_str)
            .map(str::to_owned)
            .collect(),
        // The default (`_all`) expands to open indices only, as wildcards do in 7.x.
        _ => world
            .indices
            .iter()
            .filter(|i| !i.closed)
            .map(|i| i.name.clone())
            .collect(),
    };
    let ignore_unavailable = body
        .get("ignore_unavailable")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    let mut found = Vec::new();
    for name in names {
        if world.index(&name).is_some() {
            found.push(name);
        } else if !ignore_unavailable {
            return Err(EsError::index_not_found(&name));
        }
    }
    Ok(found)
}

fn info(s: &Snapshot, version: EsVersion) -> Value {
    let done = s.done();
    let start_ms = s.started_at.as_millisecond();
    let duration_ms = i64::try_from(s.duration.as_millis()).unwrap_or(0);
    let mut info = json!({
        "snapshot": s.name,
        "uuid": s.uuid,
        "version_id": version.id(),
        "version": version.to_string(),
        "indices": s.indices,
        "include_global_state": false,
        "state": s.state(),
        "start_time": s.started_at.to_string(),
        "start_time_in_millis": start_ms,
        "failures": [],
        "metadata": s.metadata.clone().unwrap_or(Value::Null),
        "shards": { "total": s.indices.len(), "failed": 0, "successful": if done { s.indices.len() } else { 0 } }
    });
    if done {
        let end = s.started_at.checked_add(s.duration).unwrap_or(s.started_at);
        info["end_time"] = end.to_string().into();
        info["end_time_in_millis"] = (start_ms + duration_ms).into();
        info["duration_in_millis"] = duration_ms.into();
    }
    info
}

pub async fn create(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path((repo, snap)): Path<(String, String)>,
    params: Params,
    body: Bytes,
) -> EsResult {
    require_admin(&shared, &headers, "cluster:admin/snapshot/create")?;
    let body = json_body(&body)?.unwrap_or_default();
    validate_name(&repo, &snap)?;
    let version = shared.profile.version;
    let wait = params
        .get("wait_for_completion")
        .is_some_and(|v| v == "true" || v.is_empty());
    let (started, duration) = {
        let mut world = shared.world();
        if !world.repositories.contains_key(&repo) {
            return Err(EsError::repository_missing(&repo));
        }
        if world
            .snapshots
            .iter()
            .any(|s| s.repository == repo && s.name == snap)
        {
            return Err(EsError::snapshot_exists(&repo, &snap));
        }
        if !version.at_least(Feature::ConcurrentSnapshots)
            && world.snapshots.iter().any(|s| !s.done())
        {
            return Err(EsError::concurrent_snapshot(&repo, &snap));
        }
        let indices = requested_indices(&world, &body)?;
        let n = world.snapshots.len() as u64 + 100;
        let uuid = es_uuid(world.seed, n);
        let duration = world.snapshot_duration;
        world.snapshots.push(Snapshot {
            repository: repo.clone(),
            name: snap.clone(),
            uuid,
            indices,
            started_at: Timestamp::now(),
            started: Instant::now(),
            duration,
            metadata: body.get("metadata").filter(|m| m.is_object()).cloned(),
        });
        (Instant::now(), duration)
    };
    if !wait {
        return ok(json!({ "accepted": true }));
    }
    tokio::time::sleep(duration.saturating_sub(started.elapsed())).await;
    let world = shared.world();
    let s = world
        .snapshots
        .iter()
        .find(|s| s.repository == repo && s.name == snap)
        .ok_or_else(|| EsError::snapshot_missing(&repo, &snap))?;
    ok(json!({ "snapshot": info(s, version) }))
}

pub async fn get(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path((repo, snap)): Path<(String, String)>,
) -> EsResult {
    authenticate(&shared, &headers)?;
    let world = shared.world();
    if !world.repositories.contains_key(&repo) {
        return Err(EsError::repository_missing(&repo));
    }
    let s = world
        .snapshots
        .iter()
        .find(|s| s.repository == repo && s.name == snap)
        .ok_or_else(|| EsError::snapshot_missing(&repo, &snap))?;
    ok(json!({ "snapshots": [info(s, shared.profile.version)] }))
}

/// `SnapshotsService.validate`.
fn validate_name(repo: &str, snap: &str) -> Result<(), EsError> {
    let why = if snap.is_empty() {
        Some("cannot be empty")
    } else if snap.contains('#') {
        Some("must not contain '#'")
    } else if snap.starts_with('_') {
        Some("must not start with '_'")
    } else if snap.to_lowercase() != snap {
        Some("must be lowercase")
    } else if snap.chars().any(|c| {
        matches!(
            c,
            '\\' | '/' | '*' | '?' | '"' | '<' | '>' | '|' | ' ' | ','
        )
    }) {
        Some("must not contain the following characters [\\, /, *, ?, \", <, >, |,  , ,]")
    } else {
        None
    };
    why.map_or(Ok(()), |why| {
        Err(EsError::invalid_snapshot_name(repo, snap, why))
    })
}

/// `DELETE /_snapshot/{repo}/{snap}`.
pub async fn delete(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path((repo, snap)): Path<(String, String)>,
) -> EsResult {
    require_admin(&shared, &headers, "cluster:admin/snapshot/delete")?;
    let mut world = shared.world();
    if !world.repositories.contains_key(&repo) {
        return Err(EsError::repository_missing(&repo));
    }
    let before = world.snapshots.len();
    world
        .snapshots
        .retain(|s| !(s.repository == repo && s.name == snap));
    if world.snapshots.len() == before {
        return Err(EsError::snapshot_missing(&repo, &snap));
    }
    ok(json!({ "acknowledged": true }))
}

fn shard_stats(done: bool) -> Value {
    json!({
        "initializing": 0,
        "started": u8::from(!done),
        "finalizing": 0,
        "done": u8::from(done),
        "failed": 0,
        "total": 1
    })
}

pub async fn status(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path((repo, snap)): Path<(String, String)>,
    params: Params,
) -> EsResult {
    authenticate(&shared, &headers)?;
    let world = shared.world();
    if !world.repositories.contains_key(&repo) {
        return Err(EsError::repository_missing(&repo));
    }
    let found = world
        .snapshots
        .iter()
        .find(|s| s.repository == repo && s.name == snap);
    let Some(s) = found else {
        if params
            .get("ignore_unavailable")
            .is_some_and(|v| v == "true")
        {
            return ok(json!({ "snapshots": [] }));
        }
        return Err(EsError::snapshot_missing(&repo, &snap));
    };
    let done = s.done();
    let elapsed = u64::try_from(s.started.elapsed().min(s.duration).as_millis()).unwrap_or(0);
    let total_ms = u64::try_from(s.duration.as_millis()).unwrap_or(1).max(1);
    let stats = |bytes: u64| {
        json!({
            "incremental": { "file_count": 42, "size_in_bytes": bytes },
            "total": { "file_count": 42, "size_in_bytes": bytes },
            "start_time_in_millis": s.started_at.as_millisecond(),
            "time_in_millis": elapsed
        })
    };
    let mut indices = serde_json::Map::new();
    let mut total_bytes = 0;
    for name in &s.indices {
        let bytes = world.index(name).map_or(0, |i| snapshot_bytes(i.docs));
        total_bytes += bytes;
        let stage = if done { "DONE" } else { "STARTED" };
        indices.insert(
            name.clone(),
            json!({
                "shards_stats": shard_stats(done),
                "stats": stats(bytes),
                "shards": { "0": { "stage": stage, "stats": stats(bytes) } }
            }),
        );
    }
    let processed = if done {
        total_bytes
    } else {
        total_bytes / total_ms * elapsed
    };
    let mut overall = stats(total_bytes);
    overall["processed"] = json!({ "file_count": 42, "size_in_bytes": processed });
    ok(json!({
        "snapshots": [{
            "snapshot": s.name,
            "repository": s.repository,
            "uuid": s.uuid,
            // `_status` never says IN_PROGRESS: a running snapshot is STARTED here.
            "state": if done { "SUCCESS" } else { "STARTED" },
            "include_global_state": false,
            "shards_stats": {
                "initializing": 0,
                "started": if done { 0 } else { s.indices.len() },
                "finalizing": 0,
                "done": if done { s.indices.len() } else { 0 },
                "failed": 0,
                "total": s.indices.len()
            },
            "stats": overall,
            "indices": indices
        }]
    }))
}
