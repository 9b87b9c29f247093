//! Reading documents: `_count`, `_search` (first page) and the scroll API.
//!
//! Pages are computed from the seed, so a scroll through 2.4 M customers never holds more than
//! one page. Scroll ids are self-describing (index, next offset, page size) instead of server
//! contexts: the lab keeps no per-scroll memory, and an id still works after the keep-alive,
//! which a real cluster would refuse (documented lab simplification).
//!
//! Queries: only `match_all` (or none); anything else is a 400 saying so, never a silently
//! wrong answer.
//!
//! `index.max_result_window` (10,000, index-modules docs) bounds every page: `from + size`
//! of a search and the `size` of a scroll batch, including a batch size carried in a scroll
//! id (the lab's ids are self-describing, so a forged one must not page past it). Above it the
//! answer is 400 `search_phase_execution_exception` with an `illegal_argument_exception` root
//! cause, worded as `SearchService` words it.

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::IntoResponse;
use base64::Engine as _;
use serde::Serialize;
use serde_json::{Value, json};

use super::{EsResult, Params, authenticate, find, json_body, ok};
use crate::lab::Shared;
use crate::lab::es_errors::EsError;
use crate::lab::profile::Feature;
use crate::lab::records::{self, Customer, Metric};
use crate::lab::state::{Docs, Index};

/// `index.max_result_window`'s default.
const MAX_RESULT_WINDOW: u64 = 10_000;
/// Without `track_total_hits`, totals above this are reported as a lower bound.
const TRACK_TOTAL_HITS: u64 = 10_000;

/// The index if an outsider could read it now, else the error a real cluster gives.
fn readable(shared: &Shared, name: &str) -> Result<Index, EsError> {
    let mut world = shared.world();
    let index = find(&world.indices, name)?.clone();
    if index.closed {
        super::indices::outsider_reopens(shared, &mut world, &index.name);
        return Err(EsError::index_closed(&index.name, &index.uuid));
    }
    if index.read_blocked {
        return Err(EsError::read_blocked(&index.name));
    }
    Ok(index)
}

fn check_query(body: Option<&Value>) -> Result<(), EsError> {
    let Some(query) = body.and_then(|b| b.get("query")) else {
        return Ok(());
    };
    let kind = query
        .as_object()
        .and_then(|o| (o.len() == 1).then(|| o.keys().next().cloned()).flatten())
        .unwrap_or_default();
    if kind == "match_all" {
        Ok(())
    } else {
        Err(EsError::bad_request(
            "parsing_exception",
            &format!("the drill lab answers only [match_all] queries, not [{kind}]"),
        ))
    }
}

const SHARDS: Shards = Shards {
    total: 1,
    successful: 1,
    skipped: 0,
    failed: 0,
};

#[derive(Serialize)]
struct Shards {
    total: u32,
    successful: u32,
    skipped: u32,
    failed: u32,
}

pub async fn count(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(index): Path<String>,
    body: Bytes,
) -> EsResult {
    authenticate(&shared, &headers)?;
    let body = json_body(&body)?;
    check_query(body.as_ref())?;
    let index = readable(&shared, &index)?;
    ok(json!({ "count": index.count, "_shards": SHARDS }))
}

#[derive(Serialize)]
#[serde(untagged)]
enum Source {
    Customer(Customer),
    Metric(Metric),
}

#[derive(Serialize)]
struct Hit<'a> {
    _index: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    _type: Option<&'static str>,
    _id: String,
    _score: f64,
    _source: Source,
}

#[derive(Serialize)]
#[serde(untagged)]
enum Total {
    Object { value: u64, relation: &'static str },
    Int(u64),
}

#[derive(Serialize)]
#[allow(
    clippy::struct_field_names,
    reason = "Elasticsearch names it hits.hits"
)]
struct Hits<'a> {
    total: Total,
    max_score: Option<f64>,
    hits: Vec<Hit<'a>>,
}

#[derive(Serialize)]
struct SearchResponse<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    _scroll_id: Option<String>,
    took: u64,
    timed_out: bool,
    _shards: Shards,
    hits: Hits<'a>,
}

/// What a page request asks for, from query string and body.
struct Page {
    from: u64,
    size: u64,
    exact_total: bool,
    total_as_int: bool,
}

fn param_u64(params: &Params, body: Option<&Value>, name: &str) -> Result<Option<u64>, EsError> {
    if let Some(v) = body.and_then(|b| b.get(name)) {
        return v.as_u64().map(Some).ok_or_else(|| {
            EsError::bad_request(
                "x_content_parse_exception",
                &format!("[{name}] must be a non-negative number"),
            )
        });
    }
    params
        .get(name)
        .map(|v| {
            v.parse().map_err(|_| {
                EsError::bad_request(
                    "number_format_exception",
                    &format!("For input string: \"{v}\""),
                )
            })
        })
        .transpose()
}

fn render(seed: u64, index: &Index, page: &Page, scroll: bool, typeless: bool) -> EsResult {
    let end = page.from.saturating_add(page.size).min(index.count);
    let hits: Vec<Hit> = (page.from.min(end)..end)
        .map(|i| {
            let (id, source) = match index.docs {
                Docs::Customers => {
                    let c = records::customer(seed, i);
                    (c.customer_id.clone(), Source::Customer(c))
                }
                Docs::Metrics(stream) => (
                    format!("{}-{i}", index.name),
                    Source::Metric(records::metric(seed, stream, i)),
                ),
            };
            Hit {
                _index: &index.name,
                _type: (!typeless).then_some("_doc"),
                _id: id,
                _score: 1.0,
                _source: source,
            }
        })
        .collect();
    let total = if page.total_as_int {
        Total::Int(index.count)
    } else if page.exact_total || index.count <= TRACK_TOTAL_HITS {
        Total::Object {
            value: index.count,
            relation: "eq",
        }
    } else {
        Total::Object {
            value: TRACK_TOTAL_HITS,
            relation: "gte",
        }
    };
    let scroll_id = scroll.then(|| encode_scroll(index, end, page));
    let response = SearchResponse {
        _scroll_id: scroll_id,
        took: 1,
        timed_out: false,
        _shards: SHARDS,
        hits: Hits {
            total,
            max_score: (!hits.is_empty()).then_some(1.0),
            hits,
        },
    };
    let bytes = serde_json::to_vec(&response).map_err(|e| {
        EsError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "exception",
            &e.to_string(),
            &[],
        )
    })?;
    Ok((
        StatusCode::OK,
        [(header::CONTENT_TYPE, "application/json; charset=UTF-8")],
        bytes,
    )
        .into_response())
}

pub async fn search(
    State(shared): State<Shared>,
    headers: HeaderMap,
    Path(index): Path<String>,
    params: Params,
    body: Bytes,
) -> EsResult {
    authenticate(&shared, &headers)?;
    let body = json_body(&body)?;
    check_query(body.as_ref())?;
    let size = param_u64(&params, body.as_ref(), "size")?.unwrap_or(10);
    let from = param_u64(&params, body.as_ref(), "from")?.unwrap_or(0);
    let exact_total = match body.as_ref().and_then(|b| b.get("track_total_hits")) {
        Some(v) => v.as_bool().unwrap_or(false),
        None => params.get("track_total_hits").is_some_and(|v| v == "true"),
    };
    let page = Page {
        from,
        size,
        exact_total,
        total_as_int: params
            .get("rest_total_hits_as_int")
            .is_some_and(|v| v == "true"),
    };
    let index = readable(&shared, &index)?;
    let scroll = params.contains_key("scroll");
    check_window(&index.name, &page, scroll)?;
    let seed = shared.world().seed;
    render(seed, &index, &page, scroll, typeless(&shared))
}

fn typeless(shared: &Shared) -> bool {
    shared.profile.version.at_least(Feature::TypelessHits)
}

/// The one `index.max_result_window` rule, for searches and scroll batches alike.
fn check_window(index: &str, page: &Page, scroll: bool) -> Result<(), EsError> {
    let reason = if scroll && page.size > MAX_RESULT_WINDOW {
        format!(
            "Batch size is too large, size must be less than or equal to: [{MAX_RESULT_WINDOW}] but was [{}]. Scroll batch sizes cost as much memory as result windows so they are controlled by the [index.max_result_window] index level setting.",
            page.size
        )
    } else if !scroll && page.from.saturating_add(page.size) > MAX_RESULT_WINDOW {
        format!(
            "Result window is too large, from + size must be less than or equal to: [{MAX_RESULT_WINDOW}] but was [{}]. See the scroll api for a more efficient way to request large data sets. This limit can be set by changing the [index.max_result_window] index level setting.",
            page.from.saturating_add(page.size)
        )
    } else {
        return Ok(());
    };
    Err(EsError::all_shards_failed(
        index,
        "illegal_argument_exception",
        &reason,
    ))
}

const SCROLL_PREFIX: &str = "lab-scroll";

fn encode_scroll(index: &Index, next: u64, page: &Page) -> String {
    let text = format!(
        "{SCROLL_PREFIX};{};{next};{};{};{}",
        index.name,
        page.size,
        u8::from(page.exact_total),
        u8::from(page.total_as_int)
    );
    base64::engine::general_purpose::URL_SAFE.encode(text)
}

fn decode_scroll(id: &str) -> Option<(String, Page)> {
    let bytes = base64::engine::general_purpose::URL_SAFE
        .decode(id.trim())
        .ok()?;
    let text = String::from_utf8(bytes).ok()?;
    let mut parts = text.split(';');
    if parts.next()? != SCROLL_PREFIX {
        return None;
    }
    let index = parts.next()?.to_owned();
    let from = parts.next()?.parse().ok()?;
    let size = parts.next()?.parse().ok()?;
    let exact_total = parts.next()? == "1";
    let total_as_int = parts.next()? == "1";
    Some((
        index,
        Page {
            from,
            size,
            exact_total,
            total_as_int,
        },
    ))
}

fn scroll_id_of(params: &Params, body: Option<&Value>) -> Option<String> {
    body.and_then(|b| b.get("scroll_id"))
        .and_then(Value::as_str)
        .map(str::to_owned)
        .or_else(|| params.get("scroll_id").cloned())
}

pub async fn scroll(
    State(shared): State<Shared>,
    headers: HeaderMap,
    params: Params,
    body: Bytes,
) -> EsResult {
    authenticate(&shared, &headers)?;
    let body = json_body(&body)?;
    let id = scroll_id_of(&params, body.as_ref()).ok_or_else(|| {
        EsError::new(
            StatusCode::BAD_REQUEST,
            "action_request_validation_exception",
            "Validation Failed: 1: scrollId is missing;",
            &[],
        )
    })?;
    let (index, page) = decode_scroll(&id).ok_or_else(|| {
        EsError::bad_request("illegal_argument_exception", "Cannot parse scroll id")
    })?;
    let index = readable(&shared, &index)?;
    check_window(&index.name, &page, true)?;
    let seed = shared.world().seed;
    render(seed, &index, &page, true, typeless(&shared))
}

pub async fn clear_scroll(State(shared): State<Shared>, headers: HeaderMap) -> EsResult {
    authenticate(&shared, &headers)?;
    ok(json!({ "succeeded": true, "num_freed": 1 }))
}
