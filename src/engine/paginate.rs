//! `paginate = { next, param, max_pages? }`: list all of something from an API that answers a
//! page at a time (S3 `ListObjectsV2`'s `NextContinuationToken`, IAM's `Marker`, CloudTrail's
//! `NextToken`, EC2's `nextToken`).
//!
//! Lifecycle: prepare the step's request once → send it (with `retry` if the step has one) →
//! `expect` and `capture` on the page → `next`, an expression read against that response,
//! gives the following page's token; none, false or `""` ends the listing → the same request
//! is sent again with `param = token` added: to the form body for a form request, to the top
//! level of a JSON body, otherwise to the query string. Every page is an exchange in the
//! journal like any other.
//!
//! Captures accumulate: a capture that is a list on every page is the concatenation of the
//! pages, anything else is the last page's value. A token the service already gave, or more
//! than `max_pages` pages (default 100), ends the step as a failure, so a faulty API cannot
//! loop it forever. Nothing here renders request templates.

use minijinja::Value;
use serde_json::Value as Json;

use super::expect::Response;
use super::poll::{Run, Settled, StepResult, attempts};
use super::prepare::{self, Body, Parts, Prepared, explain};
use crate::incident::Captures;
use crate::runbook::{DEFAULT_MAX_PAGES, Paginate};
use crate::template::to_json;

/// The next page's token from `next`, read against one response; `None` ends the listing.
pub fn next_token(
    parts: Parts<'_>,
    paginate: &Paginate,
    ctx: &Value,
    response: &Response,
) -> Result<Option<String>, String> {
    let expr = paginate.next.get_ref();
    let value = parts.templates.eval(expr, ctx).map_err(|e| {
        response
            .body_problem(parts.templates, "paginate.next", expr)
            .unwrap_or_else(|| explain(parts, "paginate.next", expr, &e.message, true))
    })?;
    if value.is_undefined() || value.is_none() || !value.is_true() {
        return Ok(None);
    }
    Ok(Some(match to_json(&value) {
        Json::String(s) => s,
        other => other.to_string(),
    }))
}

/// The request for the page after `token`: the first page's request with `param` set.
fn with_token(first: &Prepared, param: &str, token: &str) -> Result<Prepared, String> {
    let mut url = first.url.clone();
    let body = match &first.body {
        Some(body) if body.content_type == "application/x-www-form-urlencoded" => {
            let mut pairs: Vec<(String, String)> = url::form_urlencoded::parse(&body.bytes)
                .into_owned()
                .filter(|(k, _)| k != param)
                .collect();
            pairs.push((param.to_owned(), token.to_owned()));
            let mut bytes = url::form_urlencoded::Serializer::new(String::new())
                .extend_pairs(pairs)
                .finish()
                .into_bytes();
            if first.signer.is_some() {
                bytes = super::sigv4::canonical_form(&bytes);
            }
            Some(Body {
                bytes,
                content_type: body.content_type,
            })
        }
        Some(body) if body.content_type == "application/json" => {
            let mut json: Json = serde_json::from_slice(&body.bytes)
                .map_err(|e| format!("paginate: the JSON body cannot be re-read ({e})"))?;
            let Some(object) = json.as_object_mut() else {
                return Err("paginate: the JSON body must be an object to carry a token".into());
            };
            object.insert(param.to_owned(), token.into());
            Some(Body {
                bytes: serde_json::to_vec(&json).unwrap_or_default(),
                content_type: body.content_type,
            })
        }
        other => {
            let pairs: Vec<(String, String)> = url
                .query_pairs()
                .into_owned()
                .filter(|(k, _)| k != param)
                .collect();
            url.query_pairs_mut()
                .clear()
                .extend_pairs(pairs)
                .append_pair(param, token);
            other.as_ref().map(|b| Body {
                bytes: b.bytes.clone(),
                content_type: b.content_type,
            })
        }
    };
    Ok(Prepared {
        target: first.target.clone(),
        method: first.method.clone(),
        url,
        headers: first.headers.clone(),
        body,
        derived: first.derived.clone(),
        signer: first.signer.clone(),
    })
}

/// Fold one page's captures into the listing's.
fn merge(all: &mut Captures, page: Captures) {
    for (name, value) in page {
        let joined = all.get(&name).and_then(|items| items.concat(&value));
        all.insert(name, joined.unwrap_or(value));
    }
}

/// Run a paginated http step (see the module doc).
pub async fn run(run: &Run<'_>, paginate: &Paginate) -> StepResult {
    let first = match prepare::prepare(run.parts, run.step, run.http, &run.ctx.base(), None) {
        Ok(p) => p,
        Err(e) => return StepResult::failed(e),
    };
    let (cap, retry) = match (run.cap(), run.retry()) {
        (Ok(cap), Ok(retry)) => (cap, retry),
        (Err(e), _) | (_, Err(e)) => return StepResult::failed(e),
    };
    let max_pages = paginate
        .max_pages
        .as_ref()
        .map_or(DEFAULT_MAX_PAGES, |m| *m.get_ref());
    let param = paginate.param.get_ref();
    let mut captures = Captures::new();
    let mut seen: Vec<String> = Vec::new();
    let mut page = first;
    for n in 1..=max_pages {
        let (summary, next) = match attempts(run, &page, None, retry, cap).await {
            Settled::Passed {
                summary,
                captures: got,
                next,
            } => {
                merge(&mut captures, got);
                (summary, next)
            }
            Settled::Failed {
                error,
                expectations,
            } => {
                return StepResult::Failed {
                    error: format!("page {n}: {error}"),
                    expectations,
                    items: None,
                };
            }
            Settled::Cancelled => return StepResult::Cancelled,
        };
        let Some(token) = next else {
            return StepResult::Passed {
                summary: summary_for(&summary, n, &captures),
                captures,
                items: None,
            };
        };
        if seen.contains(&token) {
            return StepResult::failed(format!(
                "page {n}: the service gave a continuation token it already gave; stopped so \
                 the listing does not loop (check `paginate.next` reads the *next* token)"
            ));
        }
        page = match with_token(&page, param, &token) {
            Ok(p) => p,
            Err(e) => return StepResult::failed(e),
        };
        seen.push(token);
    }
    StepResult::failed(format!(
        "still more pages after {max_pages}; raise `paginate.max_pages` if the listing is \
         really that long"
    ))
}

/// The last page's summary, with the page count and the accumulated captures' sizes.
fn summary_for(last: &str, pages: u32, captures: &Captures) -> String {
    // Status and time of the last page; its own capture glances would show one page only.
    let head = last.split(" · ").take(2).collect::<Vec<_>>().join(" · ");
    let plural = if pages == 1 { "" } else { "s" };
    let glances = captures.iter().map(|(name, value)| {
        let shown = match value.list_len() {
            Some(items) => format!("[{items} items]"),
            None => super::expect::short(value.json()),
        };
        format!(" · {name} = {shown}")
    });
    format!(
        "{head} · {pages} page{plural}{}",
        glances.collect::<String>()
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn prepared(url: &str, body: Option<(&str, &'static str)>) -> Prepared {
        Prepared {
            target: "t".into(),
            method: reqwest::Method::POST,
            url: url.parse().unwrap(),
            headers: Vec::new(),
            body: body.map(|(b, ct)| Body {
                bytes: b.as_bytes().to_vec(),
                content_type: ct,
            }),
            derived: Vec::new(),
            signer: None,
        }
    }

    #[test]
    fn the_token_goes_where_the_request_carries_its_parameters() {
        let form = prepared(
            "http://h/",
            Some((
                "Action=ListUsers&Marker=old",
                "application/x-www-form-urlencoded",
            )),
        );
        let next = with_token(&form, "Marker", "a b&c").unwrap();
        assert_eq!(
            next.body.unwrap().bytes,
            b"Action=ListUsers&Marker=a+b%26c".to_vec()
        );

        let json_body = prepared(
            "http://h/",
            Some((r#"{"MaxResults":50}"#, "application/json")),
        );
        let next = with_token(&json_body, "NextToken", "t1").unwrap();
        let body: Json = serde_json::from_slice(&next.body.unwrap().bytes).unwrap();
        assert_eq!(body, json!({"MaxResults": 50, "NextToken": "t1"}));

        let query = prepared("http://h/b?list-type=2&continuation-token=x", None);
        let next = with_token(&query, "continuation-token", "y/z").unwrap();
        assert_eq!(
            next.url.as_str(),
            "http://h/b?list-type=2&continuation-token=y%2Fz"
        );
    }

    #[test]
    fn lists_concatenate_and_scalars_keep_the_last_page() {
        let page = |v: Json| -> Captures {
            v.as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), crate::incident::Capture::from_value(v)))
                .collect()
        };
        let mut all = Captures::new();
        merge(&mut all, page(json!({"keys": ["a"], "truncated": "true"})));
        merge(
            &mut all,
            page(json!({"keys": ["b", "c"], "truncated": "false"})),
        );
        assert_eq!(
            all,
            page(json!({"keys": ["a", "b", "c"], "truncated": "false"}))
        );
    }
}
