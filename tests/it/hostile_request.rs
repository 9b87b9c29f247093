//! Attacks on how requests are built, run through the real binary against a hostile server on
//! 127.0.0.1 that records each request exactly as it arrived on the socket.
//!
//! A captured value or an input must land in exactly the URL part its template names: a value
//! in a path segment cannot add segments, climb with `..`, start a query or a fragment; a
//! request whose path leaves the target's base path is refused, journalled and shown; a 3xx
//! answer to a step without `expect` is a failure (a POST answered 301 did nothing).

use crate::support::hostile;

use hostile::{Hostile, Reply, journal, run_headless, stanch};
use serde_json::json;

fn write_runbook(dir: &std::path::Path, body: &str) -> String {
    let path = dir.join("rb.toml");
    std::fs::write(
        &path,
        format!(
            "[runbook]\nid = \"hostile\"\ntitle = \"Hostile\"\n\n[inputs.index]\nprompt = \"Index\"\n\
             default = \"customers\"\n\n{body}"
        ),
    )
    .unwrap();
    path.display().to_string()
}

fn failed_errors(events: &[serde_json::Value]) -> Vec<String> {
    events
        .iter()
        .filter(|e| e["kind"] == "step.failed")
        .map(|e| e["data"]["error"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn captured_ids_are_each_one_path_segment_and_never_reach_another_resource() {
    let srv = Hostile::start(|seen| match seen.target.as_str() {
        "/_security/_query/api_key" => Reply::json(
            200,
            &json!({ "api_keys": [{"id": "k1"}, {"id": "../../customers?"}, {"id": "k3#"}, {"id": ""}] }),
        ),
        "/_security/api_key/k1" => Reply::json(200, &json!({ "invalidated": ["k1"] })),
        _ => Reply::json(404, &json!({ "error": "no such key" })),
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let rb = write_runbook(
        dir.path(),
        &format!(
            r#"[targets.es]
url = "{url}"

[[steps]]
id = "find-keys"
phase = "identify"
http = {{ target = "es", method = "GET", path = "/_security/_query/api_key" }}
capture = {{ ids = "response.json.api_keys | map(attribute='id') | list" }}

[[steps]]
id = "revoke-keys"
phase = "eradicate"
needs = ["find-keys"]
foreach = "vars.ids"
concurrency = 1
http = {{ target = "es", method = "DELETE", path = "/_security/api_key/{{{{ item }}}}" }}
"#,
            url = srv.url
        ),
    );
    let data = dir.path().join("data");
    let out = run_headless(&data, &rb, "INC-IDS", &[]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);

    let targets: Vec<(String, String)> = srv
        .requests()
        .into_iter()
        .map(|s| (s.method, s.target))
        .collect();
    assert_eq!(
        targets,
        [
            ("GET".into(), "/_security/_query/api_key".into()),
            ("DELETE".into(), "/_security/api_key/k1".into()),
            (
                "DELETE".into(),
                "/_security/api_key/..%2F..%2Fcustomers%3F".into()
            ),
            ("DELETE".into(), "/_security/api_key/k3%23".into()),
        ],
        "{stdout}"
    );
    // The server did not know two of the ids: the step says so, it does not claim success.
    assert!(stdout.contains("FAILED      revoke-keys"), "{stdout}");
    // An empty id would have addressed `/_security/api_key/` itself: refused, never sent.
    assert!(stdout.contains("3 of 4 items failed"), "{stdout}");
    assert!(
        stdout.contains("is empty, which would leave its path segment empty"),
        "{stdout}"
    );
    assert!(!out.status.success());
}

#[tokio::test]
async fn an_input_cannot_climb_out_of_its_segment_or_move_the_path_into_the_query() {
    let srv = Hostile::start(|_| Reply::json(200, &json!({ "acknowledged": true }))).await;
    let dir = tempfile::tempdir().unwrap();
    let rb = write_runbook(
        dir.path(),
        &format!(
            r#"[targets.es]
url = "{url}"

[[steps]]
id = "close-index"
phase = "contain"
confirm = "close {{{{ inputs.index }}}}"
http = {{ target = "es", method = "POST", path = "/{{{{ inputs.index }}}}/_close" }}
"#,
            url = srv.url
        ),
    );
    let data = dir.path().join("data");
    for (n, index) in ["../../admin", "x?admin=true", "a/b#c", "%2e%2e"]
        .into_iter()
        .enumerate()
    {
        let set = format!("index={index}");
        let id = format!("INC-SET-{n}");
        let out = run_headless(&data, &rb, &id, &["--yes", "--set", &set]).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let seen: Vec<String> = srv.requests().into_iter().map(|s| s.target).collect();
    assert_eq!(
        seen,
        [
            "/..%2F..%2Fadmin/_close",
            "/x%3Fadmin%3Dtrue/_close",
            "/a%2Fb%23c/_close",
            "/%252e%252e/_close",
        ]
    );
}

#[tokio::test]
async fn a_dot_segment_from_a_value_is_refused_journalled_and_shown_and_nothing_is_sent() {
    let srv = Hostile::start(|_| Reply::json(200, &json!({}))).await;
    let dir = tempfile::tempdir().unwrap();
    let rb = write_runbook(
        dir.path(),
        &format!(
            r#"[targets.es]
url = "{url}/es/"

[[steps]]
id = "close-index"
phase = "contain"
http = {{ target = "es", method = "POST", path = "/{{{{ inputs.index }}}}/_close" }}

[[steps]]
id = "climb"
phase = "contain"
http = {{ target = "es", method = "GET", path = "/../../_cluster/settings" }}
"#,
            url = srv.url
        ),
    );
    let data = dir.path().join("data");
    let out = run_headless(&data, &rb, "INC-DOTS", &["--set", "index=.."]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(srv.requests().is_empty(), "{:?}", srv.requests());
    assert!(!out.status.success());
    let dots = "a value in the step's `path` makes the path segment `..`, which would move up \
                the path; refused";
    let leaves = "the request's path `/_cluster/settings` leaves the target's base path `/es/`; \
                  refused: check the step's `path`";
    assert!(stdout.contains("FAILED      close-index"), "{stdout}");
    assert!(stdout.contains(dots), "{stdout}");
    assert!(stdout.contains(leaves), "{stdout}");
    let events = journal(&data, "INC-DOTS");
    assert_eq!(failed_errors(&events), [dots, leaves]);
    assert!(!events.iter().any(|e| e["kind"] == "http.request"));
}

#[tokio::test]
async fn a_destructive_post_answered_301_fails_and_sets_no_mark_unless_the_step_allows_it() {
    let srv = Hostile::start(|seen| {
        Reply::raw(301, "moved").with_header(
            "Location",
            &format!("http://attacker.example{}", seen.target),
        )
    })
    .await;
    let dir = tempfile::tempdir().unwrap();
    let step = |id: &str, extra: &str| {
        format!(
            "[[steps]]\nid = \"{id}\"\nphase = \"contain\"\nconfirm = \"close\"\nmark = \
             \"contained\"\nhttp = {{ target = \"es\", method = \"POST\", path = \"/{id}/_close\"{extra} }}\n"
        )
    };
    let rb = write_runbook(
        dir.path(),
        &format!(
            "[targets.es]\nurl = \"{}\"\n\n{}",
            srv.url,
            step("close-index", "")
        ),
    );
    let data = dir.path().join("data");
    let out = run_headless(&data, &rb, "INC-301", &["--yes"]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(srv.requests().len(), 1);
    assert!(!out.status.success(), "{stdout}");
    assert!(stdout.contains("FAILED      close-index"), "{stdout}");
    assert!(
        stdout.contains(
            "server answered 301 (Location: http://attacker.example/close-index/_close); \
             expectation failed"
        ),
        "{stdout}"
    );
    assert!(
        stdout.contains("set `allow_redirect_status = true`"),
        "{stdout}"
    );
    let events = journal(&data, "INC-301");
    assert!(!events.iter().any(|e| e["kind"] == "mark"), "{events:?}");

    // A step that says a redirect is its expected answer passes, and its mark is set.
    let rb = write_runbook(
        dir.path(),
        &format!(
            "[targets.es]\nurl = \"{}\"\n\n{}",
            srv.url,
            step("close-index", ", allow_redirect_status = true")
        ),
    );
    let out = run_headless(&data, &rb, "INC-301-OK", &["--yes"]).await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    let events = journal(&data, "INC-301-OK");
    assert!(
        events
            .iter()
            .any(|e| e["kind"] == "mark" && e["data"]["name"] == "contained")
    );
}

#[tokio::test]
async fn check_warns_when_a_path_puts_a_query_after_a_value_and_still_passes() {
    let dir = tempfile::tempdir().unwrap();
    let rb = write_runbook(
        dir.path(),
        r#"[targets.es]
url = "http://127.0.0.1:9"

[[steps]]
id = "search"
phase = "identify"
http = { target = "es", method = "GET", path = "/{{ inputs.index }}/_search?q=leak" }
"#,
    );
    let out = stanch(&dir.path().join("data"), &["check", &rb], &[]).await;
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{stdout}");
    assert!(
        stdout.contains("⚠ `http.path` of step `search` puts a `?` after a `{{ }}`"),
        "{stdout}"
    );
    assert!(
        stdout.contains("rb.toml:15:76]"),
        "names line and column: {stdout}"
    );
    assert!(
        stdout.contains("the query starts here, after a value"),
        "{stdout}"
    );
    assert!(
        stdout.contains("ok  ") && stdout.contains("1 step in 1 phase"),
        "{stdout}"
    );
}
