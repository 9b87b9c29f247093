//! The lab's communication channels: the user forum (where the company published its
//! statement) and the internal status chat webhook. Both keep what they receive so the score
//! can check that the public post was really published.
//!
//! - `POST /forum/posts` (`Authorization: Bearer <forum_token>`, `{"title","body"}`) → 201
//!   `{"id","url"}`; `GET /forum/posts` → `{"count","posts":[…]}`; `GET /forum/posts/{id}`.
//! - `POST /hooks/status` (`{"text"}`) → 200 `{"ok":true}` (Slack-style); `GET /hooks/status`.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use jiff::Timestamp;
use serde_json::{Value, json};

use super::Shared;
use super::state::{ChatMessage, ForumPost};

pub fn router(shared: Shared) -> Router {
    Router::new()
        .route("/forum/posts", get(list_posts).post(create_post))
        .route("/forum/posts/{id}", get(get_post))
        .route("/hooks/status", get(list_messages).post(post_message))
        // A runbook target whose URL is the whole webhook may send it with a trailing slash.
        .route("/hooks/status/", get(list_messages).post(post_message))
        .fallback(|| async { error(StatusCode::NOT_FOUND, "not_found") })
        .with_state(shared)
}

fn error(status: StatusCode, error: &str) -> Response {
    (status, axum::Json(json!({ "ok": false, "error": error }))).into_response()
}

fn string_field(body: &Value, name: &str) -> Option<String> {
    body.get(name)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned)
}

async fn create_post(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    let authorized = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|t| t.trim() == shared.credentials.forum_token);
    if !authorized {
        // RFC 6750 §3: a Bearer-protected resource names the scheme it wants.
        let mut response = error(StatusCode::UNAUTHORIZED, "invalid_token");
        response.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"forum\", error=\"invalid_token\""),
        );
        return response;
    }
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "invalid_json");
    };
    let (Some(title), Some(text)) = (string_field(&body, "title"), string_field(&body, "body"))
    else {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "title_and_body_required");
    };
    let mut world = shared.world();
    let id = world.posts.len() as u64 + 1;
    let url = format!("{}/forum/posts/{id}", shared.comms_url);
    world.posts.push(ForumPost {
        id,
        title,
        body: text,
        url: url.clone(),
        posted_at: Timestamp::now(),
    });
    (
        StatusCode::CREATED,
        axum::Json(json!({ "id": id, "url": url })),
    )
        .into_response()
}

async fn list_posts(State(shared): State<Shared>) -> Response {
    let world = shared.world();
    axum::Json(json!({ "count": world.posts.len(), "posts": world.posts })).into_response()
}

async fn get_post(State(shared): State<Shared>, Path(id): Path<String>) -> Response {
    let world = shared.world();
    match id
        .parse::<u64>()
        .ok()
        .and_then(|id| world.posts.iter().find(|p| p.id == id))
    {
        Some(post) => axum::Json(post).into_response(),
        None => error(StatusCode::NOT_FOUND, "not_found"),
    }
}

async fn post_message(State(shared): State<Shared>, body: Bytes) -> Response {
    let Ok(body) = serde_json::from_slice::<Value>(&body) else {
        return error(StatusCode::BAD_REQUEST, "invalid_payload");
    };
    let Some(text) = string_field(&body, "text") else {
        return error(StatusCode::BAD_REQUEST, "no_text");
    };
    shared.world().chat.push(ChatMessage {
        text,
        posted_at: Timestamp::now(),
    });
    axum::Json(json!({ "ok": true })).into_response()
}

async fn list_messages(State(shared): State<Shared>) -> Response {
    let world = shared.world();
    axum::Json(json!({ "count": world.chat.len(), "messages": world.chat })).into_response()
}
