//! A hostile server answers with JSON the engine captures as *text* (never a tree): spread
//! over many lines, with the runbook's secret echoed behind JSON escapes of the server's
//! choosing (`\u0073…`), JSON-escaped with `\/`, and as an object key. The real binary runs the
//! step headless; the journal must stay one event per line, verify, hold no secret in any
//! value (the key stays: keys are never rewritten), and a later step must read the capture.

use crate::support::hostile;

use hostile::{Hostile, Reply, journal, stanch};

const SECRET: &str = "s3cr3t/Tok+en";

#[tokio::test]
async fn a_captured_part_of_a_pretty_printed_body_is_one_line_masked_and_readable() {
    // `s3cr3t/Tok+en` as `\u0073\u0033cr3t\/Tok+en`: no byte-level form of the secret.
    let body = "{\n  \"hits\": [\n    {\"id\": \"k1\",\n     \"token\": \"\\u0073\\u0033cr3t\\/Tok+en\"},\n    \
                {\"id\": \"k2\", \"note\": \"was s3cr3t\\/Tok+en\", \"s3cr3t/Tok+en\": 1}\n  ],\n  \"total\": 2\n}\n";
    let srv = Hostile::start(move |seen| match seen.path() {
        "/keys" => Reply {
            headers: vec![("Content-Type".into(), "application/json".into())],
            ..Reply::raw(200, body)
        },
        _ => Reply::json(200, &serde_json::json!({ "ok": true })),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let rb = dir.path().join("rb.toml");
    std::fs::write(
        &rb,
        format!(
            r#"[runbook]
id = "capture"
title = "Capture"

[secrets.api]
env = "STANCH_TEST_API"

[targets.es]
url = "{url}"
headers = {{ Authorization = "ApiKey {{{{ secrets.api }}}}" }}

[[steps]]
id = "list"
phase = "preserve"
http = {{ target = "es", method = "GET", path = "/keys" }}
expect = ["response.json.hits | length == 2", "response.json.hits[1].id == 'k2'"]
capture = {{ hits = "response.json.hits", ids = "response.json.hits | map(attribute='id') | list" }}

[[steps]]
id = "use"
phase = "preserve"
needs = ["list"]
http = {{ target = "es", method = "GET", path = "/use/{{{{ vars.hits[1].id }}}}/{{{{ vars.ids | length }}}}" }}
"#,
            url = srv.url
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let out = stanch(
        &data,
        &[
            "run",
            rb.to_str().unwrap(),
            "--headless",
            "--incident",
            "INC-CAP",
        ],
        &[("STANCH_TEST_API", SECRET)],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The later step read the capture (a view over its text) and built its request from it.
    let paths: Vec<String> = srv.requests().iter().map(|s| s.path().to_owned()).collect();
    assert_eq!(paths, ["/keys", "/use/k2/2"]);

    // One event per line, every line parses, and the chain verifies.
    let events = journal(&data, "INC-CAP");
    let succeeded = events
        .iter()
        .find(|e| e["kind"] == "step.succeeded" && e["step"] == "list")
        .unwrap();
    let hits = &succeeded["data"]["captures"]["hits"];
    assert_eq!(hits[0]["token"], "••••••");
    assert_eq!(hits[1]["note"], "was ••••••");
    assert_eq!(hits[1][SECRET], 1, "keys are never rewritten");
    assert_eq!(
        succeeded["data"]["captures"]["ids"],
        serde_json::json!(["k1", "k2"])
    );
    let verify = stanch(&data, &["verify", "INC-CAP"], &[]).await;
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stdout)
    );

    // No value holds the secret in any spelling once decoded (only the key does).
    let text = std::fs::read_to_string(data.join("incidents/INC-CAP/journal.jsonl")).unwrap();
    for line in text.lines() {
        let decoded: serde_json::Value = serde_json::from_str(line).unwrap();
        let mut values = Vec::new();
        collect_strings(&decoded, &mut values);
        for value in values {
            assert!(
                !value.contains(SECRET),
                "secret in a journal value: {value}"
            );
        }
    }
    assert!(
        !text.contains("\\u0073\\u0033cr3t"),
        "the escaped spelling was kept"
    );
}

/// Every string value (not key) in `value`.
fn collect_strings<'a>(value: &'a serde_json::Value, out: &mut Vec<&'a str>) {
    match value {
        serde_json::Value::String(s) => out.push(s),
        serde_json::Value::Array(items) => items.iter().for_each(|v| collect_strings(v, out)),
        serde_json::Value::Object(map) => map.values().for_each(|v| collect_strings(v, out)),
        _ => {}
    }
}
