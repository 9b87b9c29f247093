//! Every fault the issue lists, each against a real local server: the step fails with a message
//! saying what happened and what to try, the journal stays intact (chain verifies, the failure
//! is recorded), and the next step still runs.

use crate::support::engine as support;

use rstest::rstest;
use stanch::engine::EngineOptions;
use stanch::incident::StepStatus;
use stanch::secret::Secrets;
use support::{Harness, failed, succeeded};

enum Where {
    /// The behaviour server (the step names the path).
    Server,
    Refused,
    Dns,
    ResetMidBody,
    Tls,
}

/// A runbook with the faulty step `fault` (target `bad`) and a healthy step `after`.
fn runbook(bad_url: &str, good_url: &str, fault_step: &str) -> String {
    format!(
        r#"
[runbook]
id = "faults"
title = "Faults"

[secrets.missing]
env = "STANCH_TEST_SECRET_THAT_IS_NOT_SET"

[targets.bad]
url = "{bad_url}"
timeout = "500ms"
[targets.good]
url = "{good_url}"

[[steps]]
id = "fault"
phase = "confirm"
{fault_step}

[[steps]]
id = "after"
phase = "confirm"
http = {{ target = "good", method = "GET", path = "/json" }}
expect = ["response.json.count == 3"]
"#
    )
}

#[rstest]
#[case::connection_refused(Where::Refused, r#"http = { target = "bad", method = "GET", path = "/" }"#,
    &["connection refused", "check the target URL and that the service is up"])]
#[case::dns_failure(Where::Dns, r#"http = { target = "bad", method = "GET", path = "/" }"#,
    &["cannot resolve host `no-such-host.invalid:80`", "check the spelling"])]
#[case::timeout(Where::Server, r#"http = { target = "bad", method = "GET", path = "/slow" }"#,
    &["within 0.5s (timeout)", "raise the target's `timeout`"])]
#[case::tls_unknown_ca(Where::Tls, r#"http = { target = "bad", method = "GET", path = "/" }"#,
    &["TLS handshake with localhost", "unknown certificate authority", "ca = \"ca.pem\""])]
#[case::server_error_5xx(Where::Server, r#"http = { target = "bad", method = "GET", path = "/status/503" }"#,
    &["server answered 503", "the service itself is failing", "test_exception"])]
#[case::reset_mid_body(Where::ResetMidBody, r#"http = { target = "bad", method = "GET", path = "/" }"#,
    &["cut while reading the response body", "retry the step"])]
#[case::body_over_cap(Where::Server, r#"http = { target = "bad", method = "GET", path = "/big/40000", max_body = "16KiB" }"#,
    &["larger than the 16384-byte cap", "raise the step's `max_body`"])]
#[case::body_over_cap_content_length(Where::Server, r#"http = { target = "bad", method = "GET", path = "/sized/40000", max_body = "16KiB" }"#,
    &["larger than the 16384-byte cap", "stopped reading at 0 bytes"])]
#[case::invalid_json(Where::Server, "http = { target = \"bad\", method = \"GET\", path = \"/html\" }\ncapture = { n = \"response.json.count\" }",
    &["reads response.json, but the body is not valid JSON", "text/html", "check that the endpoint returns JSON"])]
#[case::invalid_json_in_expect(Where::Server, "http = { target = \"bad\", method = \"GET\", path = \"/html\" }\nexpect = [\"response.json.count > 0\"]",
    &["expect `response.json.count > 0` reads response.json"])]
#[case::template_out_of_fuel(Where::Server, r#"http = { target = "bad", method = "GET", path = "/{% for i in range(100000) %}{{ i }}{% endfor %}" }"#,
    &["path", "ran out of fuel", "simplify it"])]
#[case::missing_secret_env_var(Where::Server, r#"http = { target = "bad", method = "GET", path = "/json", headers = { Authorization = "Bearer {{ secrets.missing }}" } }"#,
    &["environment variable STANCH_TEST_SECRET_THAT_IS_NOT_SET is not set", "export it"])]
#[tokio::test]
async fn fault_fails_the_step_clearly_keeps_the_journal_and_the_next_step_runs(
    #[case] place: Where,
    #[case] step: &str,
    #[case] expected: &[&str],
) {
    let srv = support::server().await;
    let bad = match place {
        Where::Server => srv.url.clone(),
        Where::Refused => support::refused_url().await,
        Where::Dns => "http://no-such-host.invalid".to_owned(),
        Where::ResetMidBody => support::reset_mid_body_server().await,
        Where::Tls => support::tls_server().await,
    };
    let dir = tempfile::tempdir().unwrap();
    let rb = support::load(dir.path(), &runbook(&bad, &srv.url, step));
    // Loaded the headless way: the unset env var is remembered with its reason.
    let secrets = Secrets::load_noninteractive(&rb);
    let mut h = Harness::with_options(
        &runbook(&bad, &srv.url, step),
        secrets,
        EngineOptions::default(),
    );

    let error = failed(&h.run("fault").await).to_owned();
    for needle in expected {
        assert!(error.contains(needle), "missing {needle:?} in: {error}");
    }
    assert_eq!(h.incident.status("fault"), StepStatus::Failed);
    let last = h.events("fault").pop().unwrap();
    assert_eq!(last.kind.as_str(), "step.failed");
    assert_eq!(last.data_value()["error"].as_str().unwrap(), error);

    succeeded(&h.run("after").await);
    // The whole journal still verifies, and replays to the same state.
    let events = h.journal_verified();
    let replayed = stanch::incident::Incident::replay(events);
    assert_eq!(replayed.status("fault"), StepStatus::Failed);
    assert_eq!(replayed.status("after"), StepStatus::Succeeded);
}

#[tokio::test]
async fn default_cap_is_16_mib_and_a_bigger_streamed_body_is_cut() {
    let srv = support::server().await;
    let toml = runbook(
        &srv.url,
        &srv.url,
        r#"http = { target = "bad", method = "GET", path = "/big/17825792" }"#,
    );
    let mut h = Harness::new(&toml, Secrets::default());
    let error = failed(&h.run("fault").await).to_owned();
    assert!(
        error.contains("larger than the 16777216-byte cap"),
        "{error}"
    );
    // Stopped within one chunk of the cap: the rest of the 17 MiB was never read.
    let read: u64 = error
        .split("stopped reading at ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .and_then(|n| n.parse().ok())
        .unwrap();
    assert!(read <= 16 * 1024 * 1024 + 65_536, "read {read}");

    let mut h = Harness::with_options(
        &toml,
        Secrets::default(),
        EngineOptions {
            max_body: 32 << 20,
            ..EngineOptions::default()
        },
    );
    succeeded(&h.run("fault").await);
}

#[tokio::test]
async fn a_private_ca_file_makes_the_tls_target_work() {
    let srv = support::tls_server().await;
    let toml = format!(
        r#"
[runbook]
id = "tls"
title = "TLS"
[targets.tls]
url = "{srv}"
ca = "{ca}"
[[steps]]
id = "hello"
phase = "confirm"
http = {{ target = "tls", method = "GET", path = "/" }}
expect = ["response.json.tls"]
"#,
        ca = support::ca_path()
    );
    let mut h = Harness::new(&toml, Secrets::default());
    succeeded(&h.run("hello").await);
}

#[tokio::test]
async fn an_insecure_target_works_but_is_warned_about_in_the_journal() {
    let srv = support::tls_server().await;
    let toml = format!(
        r#"
[runbook]
id = "tls"
title = "TLS"
[targets.tls]
url = "{srv}"
insecure = true
[[steps]]
id = "hello"
phase = "confirm"
http = {{ target = "tls", method = "GET", path = "/" }}
"#
    );
    // Executing the step journals the warning first, even if nobody called journal_warnings.
    let mut first = Harness::new(&toml, Secrets::default());
    succeeded(&first.run("hello").await);
    let kinds: Vec<_> = first
        .journal_verified()
        .iter()
        .map(|e| e.kind.as_str())
        .collect();
    assert_eq!(kinds[1..3], ["warning", "step.started"]);
    assert_eq!(first.incident.warnings.len(), 1);
    succeeded(&first.run("hello").await);
    assert_eq!(first.incident.warnings.len(), 1, "warned once per incident");

    let mut h = Harness::new(&toml, Secrets::default());
    let warnings = h.engine.journal_warnings(&h.incident).await.unwrap();
    assert_eq!(warnings.len(), 1);
    assert!(
        warnings[0].data_value()["text"]
            .as_str()
            .unwrap()
            .contains("NOT checked")
    );
    for e in warnings {
        h.incident.apply(e);
    }
    // Journalled once per incident.
    assert!(
        h.engine
            .journal_warnings(&h.incident)
            .await
            .unwrap()
            .is_empty()
    );
    assert!(h.engine.preview("hello", &h.incident).unwrap().warnings[0].contains("OFF"));
    succeeded(&h.run("hello").await);
}

#[tokio::test]
async fn mtls_needs_the_client_certificate_and_works_with_it() {
    let srv = support::mtls_server().await;
    let toml = format!(
        r#"
[runbook]
id = "mtls"
title = "mTLS"
[targets.without]
url = "{srv}"
ca = "{ca}"
[targets.with]
url = "{srv}"
ca = "{ca}"
client_cert = "{cert}"
[[steps]]
id = "anonymous"
phase = "confirm"
http = {{ target = "without", method = "GET", path = "/" }}
[[steps]]
id = "identified"
phase = "confirm"
http = {{ target = "with", method = "GET", path = "/" }}
expect = ["response.json.tls"]
"#,
        ca = support::ca_path(),
        cert = support::client_cert_path()
    );
    let mut h = Harness::new(&toml, Secrets::default());
    let error = failed(&h.run("anonymous").await).to_owned();
    assert!(error.contains("requires a client certificate"), "{error}");
    assert!(error.contains("client_cert = "), "{error}");
    succeeded(&h.run("identified").await);
}
