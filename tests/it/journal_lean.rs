//! Leaner exchange events (issue 13 item 5): the engine writes a step's request shape once in
//! `step.started` and each `http.request` with only what differs, each empty-bodied
//! `http.response` without the empty body's digest; the export rebuilds every request whole.
//! Asserted on the journal a real foreach against a local server wrote, and on its export.

use crate::support::engine as support;

use serde_json::json;
use stanch::export::{self, Format, TimelineView};
use stanch::journal::payload::exchange::EMPTY_SHA256;
use stanch::journal::{Kind, Payload};
use stanch::secret::{MASK, Secrets};
use support::{Harness, server, succeeded};

fn runbook(url: &str) -> String {
    format!(
        r#"
[runbook]
id = "lean"
title = "Lean exchanges"

[secrets.api]
env = "STANCH_TEST_NEVER_SET"

[targets.basic]
url = "{url}"
auth = {{ basic = {{ user = "stanch-responder", password = "{{{{ secrets.api }}}}" }} }}

[[steps]]
id = "revoke"
phase = "eradicate"
foreach = "['tok-0', 'tok-1', 'tok-2', 'tok-3', 'tok-4']"
concurrency = 2
http = {{ target = "basic", method = "POST", path = "/revoke", form = {{ token = "{{{{ item }}}}" }} }}

[[steps]]
id = "per-item-path"
phase = "eradicate"
foreach = "['200', '201']"
http = {{ target = "basic", method = "GET", path = "/status/{{{{ item }}}}" }}
"#
    )
}

#[tokio::test]
async fn a_foreach_journals_its_request_shape_once_and_the_export_rebuilds_each_request() {
    let srv = server().await;
    let secrets = Secrets::from_values([("api".to_owned(), "lean-s3cret".to_owned())]);
    let mut h = Harness::new(&runbook(&srv.url), secrets);
    succeeded(&h.run("revoke").await);
    succeeded(&h.run("per-item-path").await);

    let events = h.events("revoke");
    let Ok(Payload::StepStarted(started)) = events[0].payload() else {
        panic!("step.started first: {:?}", events[0]);
    };
    let shape = started.request.expect("the request shape in step.started");
    let url = format!("{}/revoke", srv.url);
    assert_eq!(
        (shape.method.as_str(), shape.url.as_str()),
        ("POST", url.as_str())
    );
    assert_eq!(
        shape.headers["Authorization"],
        json!(format!("Basic {MASK}"))
    );
    let mut items = Vec::new();
    for event in &events[1..] {
        let data = event.data_value();
        match event.kind {
            Kind::HttpRequest => {
                // Only what differs per item: the body's digest and size, the item.
                let keys: Vec<&str> = data
                    .as_object()
                    .unwrap()
                    .keys()
                    .map(String::as_str)
                    .collect();
                assert_eq!(keys, ["body_bytes", "body_sha256", "item"], "{data}");
                items.push(data["item"].as_u64().unwrap());
            }
            Kind::HttpResponse => {
                assert_eq!(data["status"], 200, "{data}");
                assert!(data.get("body_sha256").is_none(), "empty body: {data}");
                let Ok(Payload::HttpResponse(response)) = event.payload() else {
                    panic!("{data}");
                };
                assert_eq!(response.digest(), Some(EMPTY_SHA256));
            }
            _ => {}
        }
    }
    items.sort_unstable();
    assert_eq!(items, [0, 1, 2, 3, 4]);

    // A URL that differs per item keeps only its path (the first request is the shape).
    let mut paths: Vec<Option<String>> = h
        .events("per-item-path")
        .iter()
        .filter(|e| e.kind == Kind::HttpRequest)
        .map(|e| e.data_value()["path"].as_str().map(str::to_owned))
        .collect();
    paths.sort();
    assert!(
        paths == [None, Some("/status/200".to_owned())]
            || paths == [None, Some("/status/201".to_owned())],
        "{paths:?}"
    );

    // The export (streamed, exchange rows on disk) says each request whole.
    let report =
        export::build_from_journal(&h.incident_dir(), Format::Json, TimelineView::Full).unwrap();
    let json: serde_json::Value =
        serde_json::from_str(&export::render_report(&report, Format::Json)).unwrap();
    let texts: Vec<&str> = json["timeline"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["kind"] == "http.request")
        .map(|r| r["text"].as_str().unwrap())
        .collect();
    for item in 0..5 {
        let text = format!("POST {url} (item {item})");
        assert!(texts.contains(&text.as_str()), "{text} in {texts:#?}");
    }
    for item in ["200", "201"] {
        assert!(
            texts
                .iter()
                .any(|t| t.starts_with(&format!("GET {}/status/{item} (item ", srv.url))),
            "{item} in {texts:#?}"
        );
    }
}
