//! The engine's features against a real local server, asserting on outcomes, on what the
//! server received, and on the journal.

use crate::support::engine as support;

use base64::Engine as _;
use serde_json::json;
use stanch::engine::{Decision, Outcome, Progress};
use stanch::incident::StepStatus;
use stanch::journal::payload::{HttpRequest, Shapes};
use stanch::journal::{Event, Payload};
use stanch::secret::{MASK, Secrets};
use support::{Harness, failed, server, succeeded};
use tokio_util::sync::CancellationToken;

const SECRET: &str = "s3cr3t-T0ken/with+chars";

fn runbook(url: &str, steps: &str) -> String {
    format!(
        r#"
[runbook]
id = "engine-test"
title = "Engine test"

[inputs.base]
prompt = "base URL"
default = "{url}"
[inputs.index]
prompt = "index"
default = "customers"

[secrets.api]
env = "STANCH_TEST_NEVER_SET"

[targets.svc]
url = "{{{{ inputs.base }}}}"
headers = {{ Authorization = "ApiKey {{{{ secrets.api }}}}", X-Index = "{{{{ inputs.index }}}}" }}
timeout = "2s"
[targets.basic]
url = "{{{{ inputs.base }}}}"
auth = {{ basic = {{ user = "stanch-responder", password = "{{{{ secrets.api }}}}" }} }}
[targets.bearer]
url = "{{{{ inputs.base }}}}/"
auth = {{ bearer = "{{{{ secrets.api }}}}" }}
[targets.anon]
url = "{{{{ inputs.base }}}}"

{steps}
"#
    )
}

/// Event `index` of a step's `events` as the whole request it stands for (its step's shape
/// applied), as every reader of the journal sees it.
fn whole_request(events: &[Event], index: usize) -> HttpRequest {
    let mut shapes = Shapes::default();
    let mut whole = None;
    for event in &events[..=index] {
        whole = Some(shapes.resolve(event.step.as_deref(), event.payload().unwrap()));
    }
    match whole {
        Some(Payload::HttpRequest(request)) => request,
        other => panic!("not a request: {other:?}"),
    }
}

fn secrets() -> Secrets {
    Secrets::from_values([("api".to_owned(), SECRET.to_owned())])
}

#[tokio::test]
async fn get_step_sends_rendered_request_and_journals_exchange_with_secrets_masked() {
    let srv = server().await;
    let mut h = Harness::new(
        &runbook(
            &srv.url,
            r#"
[[steps]]
id = "look"
phase = "confirm"
http = { target = "svc", method = "GET", path = "/echo?format=json", query = { q = "{{ inputs.index }} & more" } }
"#,
        ),
        secrets(),
    );
    let outcome = h.run("look").await;
    assert!(succeeded(&outcome).starts_with("200"), "{outcome:?}");

    // The server got the real secret and the rendered query, encoded by the url crate.
    let seen = &srv.requests()[0];
    assert_eq!(seen["headers"]["authorization"], format!("ApiKey {SECRET}"));
    assert_eq!(seen["headers"]["x-index"], "customers");
    assert_eq!(seen["query"], "format=json&q=customers+%26+more");

    assert_eq!(
        h.kinds("look"),
        [
            "step.started",
            "http.request",
            "http.response",
            "step.succeeded"
        ]
    );
    let events = h.events("look");
    let request = whole_request(&events, 1);
    assert_eq!(request.method.as_deref(), Some("GET"));
    assert!(
        request
            .url
            .unwrap()
            .ends_with("/echo?format=json&q=customers+%26+more")
    );
    assert_eq!(
        request.headers.unwrap()["Authorization"],
        format!("ApiKey {MASK}")
    );
    let response = &events[2].data_value();
    assert_eq!(response["status"], 200);
    assert!(
        response["remote_addr"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    let text = std::fs::read_to_string(h.incident_dir().join("journal.jsonl")).unwrap();
    assert!(!text.contains(SECRET));
    assert_eq!(h.incident.status("look"), StepStatus::Succeeded);
}

#[tokio::test]
async fn basic_and_bearer_auth_reach_the_server_and_json_and_form_bodies_are_templated() {
    let srv = server().await;
    let mut h = Harness::new(
        &runbook(
            &srv.url,
            r#"
[[steps]]
id = "form"
phase = "eradicate"
http = { target = "basic", method = "POST", path = "/echo", form = { token = "{{ inputs.index }}", token_type_hint = "refresh_token" } }

[[steps]]
id = "json"
phase = "notify"
http = { target = "bearer", method = "POST", path = "echo", json = { title = "Index {{ inputs.index }}", n = 3, nested = { quote = "a \"b\" {{ inputs.index }}" } } }
"#,
        ),
        secrets(),
    );
    succeeded(&h.run("form").await);
    succeeded(&h.run("json").await);
    let seen = srv.requests();
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("stanch-responder:{SECRET}"));
    assert_eq!(
        seen[0]["headers"]["authorization"],
        format!("Basic {basic}")
    );
    assert_eq!(
        seen[0]["headers"]["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(
        seen[0]["body"],
        "token=customers&token_type_hint=refresh_token"
    );
    assert_eq!(
        seen[1]["headers"]["authorization"],
        format!("Bearer {SECRET}")
    );
    let body: serde_json::Value = serde_json::from_str(seen[1]["body"].as_str().unwrap()).unwrap();
    assert_eq!(
        body,
        json!({ "title": "Index customers", "n": 3, "nested": { "quote": "a \"b\" customers" } })
    );
    // Journal: Basic credentials masked, body recorded by hash only.
    let req = &h.events("form")[1].data_value();
    assert_eq!(
        whole_request(&h.events("form"), 1).headers.unwrap()["Authorization"],
        format!("Basic {MASK}")
    );
    assert_eq!(
        req["body_bytes"],
        "token=customers&token_type_hint=refresh_token".len()
    );
    assert_eq!(req["body_sha256"].as_str().unwrap().len(), 64);
}

#[tokio::test]
async fn capture_feeds_later_steps_and_a_failed_expectation_names_expression_and_values() {
    let srv = server().await;
    let mut h = Harness::new(
        &runbook(
            &srv.url,
            r#"
[[steps]]
id = "count"
phase = "confirm"
http = { target = "anon", method = "GET", path = "/json" }
expect = ["response.status == 200", "response.json.count > 0"]
capture = { exposed = "response.json.count", first = "response.json['items'][0]" }

[[steps]]
id = "use"
phase = "confirm"
needs = ["count"]
http = { target = "anon", method = "GET", path = "/echo", query = { n = "{{ vars.exposed }}-{{ vars.first }}" } }

[[steps]]
id = "wrong"
phase = "confirm"
needs = ["count"]
http = { target = "anon", method = "GET", path = "/json" }
expect = ["response.status == 200", "response.json.count == vars.exposed + 1"]
"#,
        ),
        secrets(),
    );
    let summary = succeeded(&h.run("count").await).to_owned();
    assert!(summary.contains("exposed = 3"), "{summary}");
    assert_eq!(h.incident.vars["exposed"].to_value(), 3);
    assert_eq!(
        h.events("count").last().unwrap().data_value()["captures"],
        json!({ "exposed": 3, "first": "a" })
    );

    succeeded(&h.run("use").await);
    assert_eq!(srv.requests()[0]["query"], "n=3-a");

    let error = failed(&h.run("wrong").await).to_owned();
    assert!(
        error.contains("`response.json.count == vars.exposed + 1`"),
        "{error}"
    );
    assert!(error.contains("response.json.count = 3"), "{error}");
    assert!(error.contains("vars.exposed = 3"), "{error}");
    let fail = h.events("wrong").last().unwrap().clone();
    assert_eq!(fail.kind.as_str(), "step.failed");
    assert_eq!(
        fail.data_value()["failed_expectations"][0]["expr"],
        "response.json.count == vars.exposed + 1"
    );
    assert_eq!(h.incident.step("wrong").failed_expectations.len(), 1);
}

#[tokio::test]
async fn when_false_skips_with_the_reason_and_sends_nothing() {
    let srv = server().await;
    let mut h = Harness::new(
        &runbook(
            &srv.url,
            r#"
[[steps]]
id = "maybe"
phase = "contain"
when = "inputs.index == 'other'"
http = { target = "anon", method = "GET", path = "/echo" }
"#,
        ),
        secrets(),
    );
    let outcome = h.run("maybe").await;
    assert!(
        matches!(&outcome, Outcome::Skipped { reason } if reason.contains("inputs.index == 'other'")),
        "{outcome:?}"
    );
    assert!(srv.requests().is_empty());
    assert_eq!(h.kinds("maybe"), ["step.skipped"]);
    assert_eq!(h.incident.status("maybe"), StepStatus::Skipped);
}

#[tokio::test]
async fn destructive_step_needs_the_exact_typed_text_or_yes_and_journals_how() {
    let srv = server().await;
    let mut h = Harness::new(
        &runbook(
            &srv.url,
            r#"
[[steps]]
id = "close"
phase = "contain"
confirm = "close {{ inputs.index }}"
mark = "contained"
http = { target = "anon", method = "POST", path = "/count/close" }
"#,
        ),
        secrets(),
    );
    // No text, then the wrong text: refused, nothing sent, nothing journalled.
    for typed in [None, Some("close customer".to_owned())] {
        let outcome = h
            .run_with(
                "close",
                Decision {
                    typed_confirmation: typed,
                    ..Decision::default()
                },
                CancellationToken::new(),
            )
            .await;
        assert_eq!(
            outcome,
            Outcome::NeedsConfirmation {
                expected: "close customers".into()
            }
        );
    }
    assert!(h.events("close").is_empty());
    assert!(srv.seen.counters.lock().unwrap().is_empty());

    let typed = Decision {
        typed_confirmation: Some("close customers".into()),
        ..Decision::default()
    };
    succeeded(&h.run_with("close", typed, CancellationToken::new()).await);
    assert_eq!(
        h.kinds("close"),
        [
            "confirm",
            "step.started",
            "http.request",
            "http.response",
            "mark",
            "step.succeeded"
        ]
    );
    let confirm = &h.events("close")[0].data_value();
    assert_eq!(confirm["via"], "typed");
    assert_eq!(confirm["typed_matched"], true);
    assert!(h.incident.marks.contains_key("contained"));

    let yes = Decision {
        assume_yes: true,
        rerun: false,
        typed_confirmation: None,
        take_over: None,
    };
    succeeded(&h.run_with("close", yes, CancellationToken::new()).await);
    let confirms: Vec<_> = h
        .events("close")
        .into_iter()
        .filter(|e| e.kind.as_str() == "confirm")
        .collect();
    assert_eq!(confirms[1].data_value()["via"], "--yes");
    assert_eq!(confirms[1].data_value()["typed_matched"], false);
    assert_eq!(h.incident.step("close").attempts, 2);
}

#[tokio::test]
async fn evidence_is_a_read_only_content_addressed_file_with_a_custody_record() {
    let srv = server().await;
    let mut h = Harness::new(
        &runbook(
            &srv.url,
            r#"
[[steps]]
id = "keep"
phase = "preserve"
http = { target = "svc", method = "GET", path = "/json" }
evidence = true
"#,
        ),
        secrets(),
    );
    succeeded(&h.run("keep").await);
    let events = h.events("keep");
    let record = events
        .iter()
        .find(|e| e.kind.as_str() == "evidence.captured")
        .unwrap();
    let sha = record.data_value()["sha256"].as_str().unwrap().to_owned();
    let path = h
        .incident_dir()
        .join(record.data_value()["file"].as_str().unwrap());
    let bytes = std::fs::read(&path).unwrap();
    assert_eq!(stanch::journal::event::sha256_hex(&bytes), sha);
    assert_eq!(record.data_value()["bytes"], bytes.len());
    assert!(std::fs::metadata(&path).unwrap().permissions().readonly());
    assert_eq!(record.data_value()["method"], "GET");
    assert_eq!(record.data_value()["by"], "tester");
    assert!(
        record.data_value()["tool_version"]
            .as_str()
            .unwrap()
            .starts_with("stanch ")
    );
    assert!(
        record.data_value()["remote_addr"]
            .as_str()
            .unwrap()
            .starts_with("127.0.0.1:")
    );
    assert!(
        record.data_value()["url"]
            .as_str()
            .unwrap()
            .ends_with("/json")
    );
    assert_eq!(h.incident.evidence.len(), 1);
}

#[tokio::test]
async fn retry_polls_until_expect_holds_and_journals_every_attempt() {
    let srv = server().await;
    let mut h = Harness::new(
        &runbook(
            &srv.url,
            r#"
[[steps]]
id = "wait"
phase = "contain"
http = { target = "anon", method = "GET", path = "/flaky/2" }
expect = ["response.status == 200", "response.json.ready"]
retry = { every = "50ms", within = "5s" }

[[steps]]
id = "never"
phase = "contain"
http = { target = "anon", method = "GET", path = "/flaky/1000" }
expect = ["response.status == 200"]
retry = { every = "50ms", within = "300ms" }
"#,
        ),
        secrets(),
    );
    let summary = succeeded(&h.run("wait").await).to_owned();
    assert!(summary.contains("after 3 attempts"), "{summary}");
    let attempts: Vec<_> = h
        .events("wait")
        .iter()
        .filter(|e| e.kind.as_str() == "http.response")
        .map(|e| {
            (
                e.data_value()["attempt"].as_u64().unwrap(),
                e.data_value()["status"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(attempts, [(1, 503), (2, 503), (3, 200)]);
    let reported: Vec<_> = h
        .progress
        .iter()
        .filter_map(|p| match p {
            Progress::Attempt { n, status } => Some((*n, *status)),
            _ => None,
        })
        .collect();
    assert_eq!(reported, [(1, Some(503)), (2, Some(503)), (3, Some(200))]);

    let error = failed(&h.run("never").await).to_owned();
    assert!(error.contains("still failing after"), "{error}");
    assert!(error.contains("response.status = 503"), "{error}");
}

#[tokio::test]
async fn transport_errors_on_a_post_are_never_retried_but_on_a_get_they_are() {
    let srv = server().await;
    let refused = support::refused_url().await;
    let mut h = Harness::new(
        &runbook(
            &srv.url,
            &format!(
                r#"
[targets.short]
url = "{url}"
timeout = "200ms"
[targets.gone]
url = "{refused}"

[[steps]]
id = "post"
phase = "contain"
http = {{ target = "short", method = "POST", path = "/slow" }}
expect = ["response.status == 200"]
retry = {{ every = "10ms", within = "5s" }}

[[steps]]
id = "get"
phase = "contain"
http = {{ target = "gone", method = "GET", path = "/x" }}
retry = {{ every = "10ms", within = "300ms" }}
"#,
                url = srv.url
            ),
        ),
        secrets(),
    );
    let error = failed(&h.run("post").await).to_owned();
    assert!(error.contains("timeout"), "{error}");
    assert!(error.contains("not retried automatically"), "{error}");
    assert_eq!(srv.seen.counters.lock().unwrap()["slow-post"], 1);
    assert_eq!(
        h.kinds("post")
            .iter()
            .filter(|k| **k == "http.request")
            .count(),
        1
    );

    failed(&h.run("get").await);
    let tries = h
        .kinds("get")
        .iter()
        .filter(|k| **k == "http.request")
        .count();
    assert!(
        tries > 1,
        "GET should have been retried, tried {tries} times"
    );
}

#[tokio::test]
async fn foreach_runs_every_item_with_bounded_concurrency_and_reports_failures() {
    let srv = server().await;
    let mut h = Harness::new(
        &runbook(
            &srv.url,
            r#"
[[steps]]
id = "list"
phase = "eradicate"
http = { target = "anon", method = "GET", path = "/tokens/40" }
capture = { tokens = "response.json.tokens | map(attribute='token') | list" }

[[steps]]
id = "revoke"
phase = "eradicate"
needs = ["list"]
foreach = "vars.tokens"
concurrency = 4
http = { target = "basic", method = "POST", path = "/revoke", form = { token = "{{ item }}", token_type_hint = "refresh_token" } }

[[steps]]
id = "revoke-some-bad"
phase = "eradicate"
foreach = "['ok-1', 'bad-1', 'ok-2', 'bad-2', 'bad-3', 'bad-4']"
http = { target = "basic", method = "POST", path = "/revoke", form = { token = "{{ item }}" } }

[[steps]]
id = "clients"
phase = "eradicate"
foreach = "'alexa-skill, ifttt'"
http = { target = "anon", method = "GET", path = "/echo", query = { client = "{{ item }}" } }
"#,
        ),
        secrets(),
    );
    succeeded(&h.run("list").await);
    let summary = succeeded(&h.run("revoke").await).to_owned();
    assert!(summary.starts_with("40 items, all succeeded"), "{summary}");
    let mut bodies: Vec<String> = srv
        .requests()
        .iter()
        .map(|r| r["body"].as_str().unwrap().to_owned())
        .collect();
    bodies.sort();
    let expected: Vec<String> = (0..40)
        .map(|i| format!("token=tok-{i:05}&token_type_hint=refresh_token"))
        .collect();
    assert_eq!(bodies, expected);
    let responses = h
        .events("revoke")
        .into_iter()
        .filter(|e| e.kind.as_str() == "http.response")
        .count();
    assert_eq!(responses, 40);
    assert_eq!(
        h.events("revoke").last().unwrap().data_value()["items"],
        json!({ "total": 40, "failed": 0 })
    );
    let last_items = h.progress.iter().rev().find_map(|p| match p {
        Progress::Items {
            done,
            total,
            failed,
        } => Some((*done, *total, *failed)),
        _ => None,
    });
    assert_eq!(last_items, Some((40, 40, 0)));

    let error = failed(&h.run("revoke-some-bad").await).to_owned();
    assert!(error.starts_with("4 of 6 items failed"), "{error}");
    assert!(error.contains("#1 `bad-1`"), "{error}");
    assert!(error.contains("#3 `bad-2`"), "{error}");
    assert!(error.contains("#4 `bad-3`"), "{error}");
    assert!(
        !error.contains("bad-4"),
        "only the first three are quoted: {error}"
    );
    assert!(error.contains("500"), "{error}");
    assert_eq!(h.incident.step("revoke-some-bad").items, Some((6, 4)));

    succeeded(&h.run("clients").await);
    let clients: Vec<_> = srv
        .requests()
        .iter()
        .filter(|r| r["path"] == "/echo")
        .map(|r| r["query"].clone())
        .collect();
    assert_eq!(clients.len(), 2);
}

#[tokio::test]
async fn foreach_retries_each_item_on_its_own_and_captures_a_list_in_item_order() {
    let srv = server().await;
    let mut h = Harness::new(
        &runbook(
            &srv.url,
            r#"
[[steps]]
id = "wait-each"
phase = "contain"
foreach = "[1, 2, 0, 3]"
concurrency = 2
http = { target = "anon", method = "GET", path = "/flaky/{{ item }}" }
expect = ["response.status == 200"]
capture = { calls = "response.json.calls" }
retry = { every = "20ms", within = "5s" }

[[steps]]
id = "one-never-ready"
phase = "contain"
foreach = "[4, 1000]"
http = { target = "anon", method = "GET", path = "/flaky/{{ item }}" }
expect = ["response.status == 200"]
capture = { calls = "response.json.calls" }
retry = { every = "20ms", within = "200ms" }

[[steps]]
id = "use-list"
phase = "contain"
needs = ["wait-each"]
http = { target = "anon", method = "GET", path = "/echo", query = { total = "{{ vars.calls | sum }}" } }
"#,
        ),
        secrets(),
    );
    let summary = succeeded(&h.run("wait-each").await).to_owned();
    assert!(summary.starts_with("4 items, all succeeded"), "{summary}");
    assert!(summary.contains("calls = list of 4"), "{summary}");
    // /flaky/N answers 503 N times, then 200 with the number of calls: each item needed its
    // own N + 1 attempts, and the list is in item order whatever order they finished in.
    assert_eq!(h.incident.vars["calls"].to_value(), json!([2, 3, 1, 4]));
    let mut attempts: Vec<(u64, u64, u64)> = h
        .events("wait-each")
        .iter()
        .filter(|e| e.kind.as_str() == "http.response")
        .map(|e| {
            (
                e.data_value()["item"].as_u64().unwrap(),
                e.data_value()["attempt"].as_u64().unwrap(),
                e.data_value()["status"].as_u64().unwrap(),
            )
        })
        .collect();
    attempts.sort_unstable();
    let expected: Vec<(u64, u64, u64)> = [(0, 1), (1, 2), (2, 0), (3, 3)]
        .into_iter()
        .flat_map(|(item, fails)| {
            (1..=fails + 1).map(move |n| (item, n, if n <= fails { 503 } else { 200 }))
        })
        .collect();
    assert_eq!(attempts, expected);

    let error = failed(&h.run("one-never-ready").await).to_owned();
    assert!(error.starts_with("1 of 2 items failed"), "{error}");
    assert!(error.contains("#1 `1000`: still failing after"), "{error}");
    assert!(
        !h.incident
            .step("one-never-ready")
            .captures
            .contains_key("calls"),
        "a failed foreach captures nothing"
    );

    succeeded(&h.run("use-list").await);
    let echoed = srv
        .requests()
        .into_iter()
        .find(|r| r["path"] == "/echo")
        .unwrap();
    assert_eq!(echoed["query"], json!("total=10"));
}

#[tokio::test]
async fn foreach_can_be_cancelled_and_says_so_in_the_journal() {
    let srv = server().await;
    let mut h = Harness::new(
        &runbook(
            &srv.url,
            r#"
[[steps]]
id = "slow-revoke"
phase = "eradicate"
foreach = "['slow-1', 'slow-2', 'slow-3', 'slow-4', 'slow-5']"
concurrency = 2
http = { target = "anon", method = "POST", path = "/revoke", form = { token = "{{ item }}" } }
"#,
        ),
        secrets(),
    );
    let cancel = CancellationToken::new();
    // Cancel once the server holds the first slow request: it is in flight.
    let trigger = cancel.clone();
    let seen = std::sync::Arc::clone(&srv.seen);
    tokio::spawn(async move {
        in_flight(&seen, |s| !s.requests.lock().unwrap().is_empty()).await;
        trigger.cancel();
    });
    let started = std::time::Instant::now();
    let outcome = h.run_with("slow-revoke", Decision::default(), cancel).await;
    assert_eq!(outcome, Outcome::Cancelled);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(4),
        "cancel must not wait for the 5 s responses"
    );
    let kinds = h.kinds("slow-revoke");
    assert_eq!(
        kinds.iter().filter(|k| **k == "http.request").count(),
        2,
        "{kinds:?}"
    );
    assert_eq!(*kinds.last().unwrap(), "step.failed");
    assert!(
        h.events("slow-revoke").last().unwrap().data_value()["error"]
            .as_str()
            .unwrap()
            .contains("cancelled")
    );
}

#[tokio::test]
async fn an_interrupted_step_is_not_resent_without_an_explicit_rerun() {
    let srv = server().await;
    let mut h = Harness::new(
        &runbook(
            &srv.url,
            r#"
[[steps]]
id = "close"
phase = "contain"
http = { target = "anon", method = "POST", path = "/count/close" }
"#,
        ),
        secrets(),
    );
    // A crash after step.started: the journal has a start and no outcome.
    let started = h
        .journal
        .append(stanch::journal::NewEvent::for_step(
            stanch::journal::Kind::StepStarted,
            "close",
            json!({ "attempt": 1, "rerun": false }),
        ))
        .await
        .unwrap();
    h.incident.apply(started);
    assert_eq!(h.run("close").await, Outcome::Interrupted);
    assert!(srv.seen.counters.lock().unwrap().is_empty());

    let rerun = Decision {
        rerun: true,
        ..Decision::default()
    };
    succeeded(&h.run_with("close", rerun, CancellationToken::new()).await);
    let starts: Vec<_> = h
        .events("close")
        .into_iter()
        .filter(|e| e.kind.as_str() == "step.started")
        .collect();
    assert_eq!(
        starts[1].data_value(),
        json!({ "attempt": 2, "rerun": true, "request": {
            "method": "POST", "url": format!("{}/count/close", srv.url), "headers": {}
        } })
    );
    assert_eq!(srv.seen.counters.lock().unwrap()["close"], 1);
}

#[tokio::test]
async fn preview_shows_the_request_with_secrets_masked_and_the_confirm_text() {
    let srv = server().await;
    let h = Harness::new(
        &runbook(
            &srv.url,
            r#"
[[steps]]
id = "close"
phase = "contain"
confirm = "{{ inputs.index }}"
http = { target = "svc", method = "POST", path = "/{{ inputs.index }}/_close", query = { key = "{{ secrets.api }}" }, json = { why = "leak {{ secrets.api }}" } }

[[steps]]
id = "revoke"
phase = "eradicate"
foreach = "['t1', 't2', 't3']"
http = { target = "basic", method = "POST", path = "/revoke", form = { token = "{{ item }}" } }

[[steps]]
id = "legal"
phase = "notify"
manual = ["Counsel informed"]
"#,
        ),
        secrets(),
    );
    let p = h.engine.preview("close", &h.incident).unwrap();
    assert_eq!(p.method, "POST");
    assert_eq!(p.confirm.as_deref(), Some("customers"));
    assert!(p.url.contains("/customers/_close?key="), "{}", p.url);
    assert!(!p.url.contains("s3cr3t"), "{}", p.url);
    assert!(
        p.headers
            .contains(&("Authorization".into(), format!("ApiKey {MASK}")))
    );
    assert!(p.headers.contains(&("X-Index".into(), "customers".into())));
    assert_eq!(
        p.body.as_deref(),
        Some(format!(r#"{{"why":"leak {MASK}"}}"#).as_str())
    );

    let p = h.engine.preview("revoke", &h.incident).unwrap();
    assert_eq!(p.items, Some(3));
    assert_eq!(p.body.as_deref(), Some("token=t1"));

    let err = h.engine.preview("legal", &h.incident).unwrap_err();
    assert!(err.to_string().contains("manual"), "{err}");
    assert!(h.engine.preview("nope", &h.incident).is_err());
}

#[tokio::test]
async fn manual_and_draft_steps_need_a_human() {
    let srv = server().await;
    let mut h = Harness::new(
        &runbook(
            &srv.url,
            r#"
[[steps]]
id = "legal"
phase = "notify"
manual = ["Counsel informed"]
"#,
        ),
        secrets(),
    );
    assert!(matches!(h.run("legal").await, Outcome::NeedsHuman { .. }));
    assert!(h.events("legal").is_empty());
}

#[tokio::test]
async fn every_journalled_event_is_reported_once_with_its_synced_hash() {
    let srv = server().await;
    let mut h = Harness::new(
        &runbook(
            &srv.url,
            r#"
[[steps]]
id = "revoke"
phase = "eradicate"
foreach = "['t1', 't2', 't3', 't4', 't5', 't6', 't7', 't8']"
concurrency = 3
mark = "rotated"
http = { target = "basic", method = "POST", path = "/revoke", form = { token = "{{ item }}" } }
evidence = true
"#,
        ),
        secrets(),
    );
    succeeded(&h.run("revoke").await);
    let on_disk = h.events("revoke");
    let mut reported: Vec<_> = h
        .progress
        .iter()
        .filter_map(|p| match p {
            Progress::Journalled(e) => Some(e.clone()),
            _ => None,
        })
        .collect();
    reported.sort_by_key(|e| e.seq);
    assert_eq!(reported, on_disk);
    // Write-ahead: step.started first; the outcome last, after every exchange; the mark just
    // before it.
    let kinds: Vec<_> = on_disk.iter().map(|e| e.kind.as_str()).collect();
    assert_eq!(kinds.first(), Some(&"step.started"));
    assert_eq!(&kinds[kinds.len() - 2..], ["mark", "step.succeeded"]);
    assert_eq!(kinds.iter().filter(|k| **k == "http.response").count(), 8);
    assert_eq!(
        kinds.iter().filter(|k| **k == "evidence.captured").count(),
        8
    );
    // Each response follows its own request.
    for item in 0..8 {
        let pos = |kind: &str| {
            on_disk
                .iter()
                .position(|e| e.kind.as_str() == kind && e.data_value()["item"] == item)
                .unwrap()
        };
        assert!(pos("http.request") < pos("http.response"), "item {item}");
    }
}

#[tokio::test]
async fn a_saved_draft_is_sent_and_an_unsaved_edit_is_refused() {
    let srv = server().await;
    let mut h = Harness::new(
        &runbook(
            &srv.url,
            r#"
[[steps]]
id = "forum-post"
phase = "notify"
draft = { template = "post.md.j2", output = "forum-post.md" }

[[steps]]
id = "publish"
phase = "notify"
needs = ["forum-post"]
http = { target = "bearer", method = "POST", path = "/echo", json = { body = "{{ drafts['forum-post'] }}" } }
"#,
        ),
        secrets(),
    );
    // Not saved yet: the step says so instead of sending an empty post.
    let error = failed(&h.run("publish").await).to_owned();
    assert!(error.contains("draft `forum-post`"), "{error}");
    assert!(error.contains("write and save it first"), "{error}");
    assert!(srv.requests().is_empty());

    let rb = h.engine.runbook().clone();
    let step = rb.runbook.step("forum-post").unwrap();
    let saved = stanch::draft::save(
        &h.journal,
        &h.incident_dir(),
        step,
        "We closed the index.\n",
        stanch::draft::last_saved(&h.incident, "forum-post"),
    )
    .unwrap()
    .unwrap();
    h.incident.apply(saved);
    succeeded(&h.run("publish").await);
    let body: serde_json::Value =
        serde_json::from_str(srv.requests()[0]["body"].as_str().unwrap()).unwrap();
    assert_eq!(body["body"], "We closed the index.\n");

    // Edited on disk but not saved through stanch: its hash no longer matches the journal.
    let file = stanch::draft::path(&h.incident_dir(), step).unwrap();
    std::fs::write(&file, "Something else entirely.\n").unwrap();
    let error = failed(&h.run("publish").await).to_owned();
    assert!(
        error.contains("no saved version matching the journal"),
        "{error}"
    );
    assert_eq!(srv.requests().len(), 1);
}

#[tokio::test]
async fn a_single_request_can_be_cancelled_in_flight() {
    let srv = server().await;
    let mut h = Harness::new(
        &runbook(
            &srv.url,
            r#"
[[steps]]
id = "slow"
phase = "confirm"
http = { target = "anon", method = "POST", path = "/slow" }
"#,
        ),
        secrets(),
    );
    let cancel = CancellationToken::new();
    // Cancel once the server holds the request (it counts it on arrival, then waits 3 s).
    let trigger = cancel.clone();
    let seen = std::sync::Arc::clone(&srv.seen);
    tokio::spawn(async move {
        in_flight(&seen, |s| {
            s.counters.lock().unwrap().contains_key("slow-post")
        })
        .await;
        trigger.cancel();
    });
    assert_eq!(
        h.run_with("slow", Decision::default(), cancel).await,
        Outcome::Cancelled
    );
    let events = h.events("slow");
    let response = events
        .iter()
        .find(|e| e.kind.as_str() == "http.response")
        .unwrap();
    assert!(
        response.data_value()["error"]
            .as_str()
            .unwrap()
            .contains("cancelled")
    );
    assert_eq!(h.incident.status("slow"), StepStatus::Failed);
}

#[tokio::test]
async fn a_write_is_journalled_before_it_reaches_the_server() {
    let srv = server().await;
    let mut h = Harness::knowing_dir(
        |incident_dir| {
            runbook(
                &srv.url,
                &format!(
                    r#"
[targets.check]
url = "{url}"
headers = {{ X-Journal = "{journal}" }}

[[steps]]
id = "single"
phase = "confirm"
http = {{ target = "check", method = "POST", path = "/journal-check", headers = {{ X-Step = "single" }} }}
expect = ["response.json.started_on_disk"]

[[steps]]
id = "confirmed-read"
phase = "confirm"
confirm = "read it"
http = {{ target = "check", method = "GET", path = "/journal-check", headers = {{ X-Step = "confirmed-read" }} }}
expect = ["response.json.started_on_disk"]

[[steps]]
id = "many"
phase = "confirm"
foreach = "[1, 2, 3, 4, 5, 6]"
concurrency = 6
http = {{ target = "check", method = "DELETE", path = "/journal-check", headers = {{ X-Step = "many" }} }}
expect = ["response.json.started_on_disk"]
"#,
                    url = srv.url,
                    journal = incident_dir.join("journal.jsonl").display()
                ),
            )
        },
        secrets(),
    );
    succeeded(&h.run("single").await);
    // A read of a destructive step waits too: `confirm` says it matters.
    let yes = Decision {
        assume_yes: true,
        ..Decision::default()
    };
    succeeded(
        &h.run_with("confirmed-read", yes, CancellationToken::new())
            .await,
    );
    succeeded(&h.run("many").await);
}

/// Wait until the server's record satisfies `arrived` (a request it holds), or fail after
/// 10 s: the server signals each arrival, so nothing here guesses how long sending takes.
async fn in_flight(seen: &support::Seen, arrived: impl Fn(&support::Seen) -> bool) {
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        // Register before checking, so an arrival between the check and the wait is not lost.
        let signal = seen.arrived.notified();
        if arrived(seen) {
            return;
        }
        assert!(
            tokio::time::timeout_at(deadline, signal).await.is_ok(),
            "the request never reached the server"
        );
    }
}
