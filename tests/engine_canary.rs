//! The secret canary: random secret values go through a full headless run that uses them every
//! way a runbook can (headers, Basic and Bearer auth, query, form and JSON bodies, a server that
//! echoes them back into captures, evidence and error messages, and one that echoes them into a
//! binary, non-UTF-8 body kept as evidence). Then the journal, every evidence file, the log file
//! and the captured stdout/stderr are searched, as bytes, for the raw, base64 and URL-encoded
//! forms: zero hits.

#[path = "support/engine.rs"]
mod support;

use std::path::Path;

use base64::Engine as _;
use sha2::{Digest, Sha256};

/// A value nobody else will produce, with characters that URL-encoding changes.
fn canary(label: &str) -> String {
    let seed = format!(
        "{label}-{}-{:?}",
        std::process::id(),
        std::time::SystemTime::now()
    );
    let hash = stanch::journal::event::hex(&Sha256::digest(seed.as_bytes()));
    format!("cn{}/+={}", &hash[..20], &hash[20..28])
}

/// Every form of a value the redactor promises to catch.
fn forms(value: &str) -> Vec<(String, String)> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    vec![
        ("raw".into(), value.to_owned()),
        ("base64".into(), STANDARD.encode(value)),
        ("base64-nopad".into(), STANDARD_NO_PAD.encode(value)),
        ("base64-url".into(), URL_SAFE_NO_PAD.encode(value)),
        (
            "percent-encoded".into(),
            percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
                .to_string(),
        ),
        (
            "form-encoded".into(),
            url::form_urlencoded::byte_serialize(value.as_bytes()).collect(),
        ),
    ]
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            files_under(&path, out);
        } else {
            out.push(path);
        }
    }
}

#[tokio::test]
#[expect(
    clippy::too_many_lines,
    reason = "one scenario told in order: every artefact is grepped"
)]
async fn no_secret_form_reaches_journal_evidence_log_or_output() {
    let srv = support::server().await;
    let api = canary("api");
    let oauth = canary("oauth");
    let forum = canary("forum");
    let dir = tempfile::tempdir().unwrap();
    let secret_file = dir.path().join("oauth.secret");
    std::fs::write(&secret_file, format!("{oauth}\n")).unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&secret_file, std::fs::Permissions::from_mode(0o600)).unwrap();
    }
    let rb = dir.path().join("rb.toml");
    std::fs::write(
        &rb,
        format!(
            r#"
[runbook]
id = "canary"
title = "Canary"

[inputs.client]
prompt = "OAuth client"
default = "stanch-responder"

[secrets.api]
env = "STANCH_CANARY_API"
[secrets.oauth]
file = "oauth.secret"
[secrets.forum]
env = "STANCH_CANARY_FORUM"

[targets.es]
url = "{url}"
headers = {{ Authorization = "ApiKey {{{{ secrets.api }}}}", X-Digest = "{{{{ ('key-id:' ~ secrets.api) | b64encode }}}}" }}
[targets.auth]
url = "{url}"
auth = {{ basic = {{ user = "{{{{ inputs.client }}}}", password = "{{{{ secrets.oauth }}}}" }} }}
[targets.forum]
url = "{url}"
auth = {{ bearer = "{{{{ secrets.forum }}}}" }}

[[steps]]
id = "echo-headers"
phase = "confirm"
http = {{ target = "es", method = "GET", path = "/echo", query = {{ key = "{{{{ secrets.api }}}}" }} }}
capture = {{ seen = "response.json.headers", query = "response.json.query" }}
evidence = true

[[steps]]
id = "echo-form"
phase = "eradicate"
http = {{ target = "auth", method = "POST", path = "/echo", form = {{ token = "{{{{ secrets.forum }}}}", hint = "refresh_token" }} }}
capture = {{ body = "response.json.body", auth = "response.json.headers.authorization" }}
evidence = true

[[steps]]
id = "echo-json"
phase = "notify"
http = {{ target = "forum", method = "POST", path = "/echo", json = {{ title = "t", body = "key {{{{ secrets.api }}}} / {{{{ secrets.oauth }}}}" }} }}
evidence = true

[[steps]]
id = "fail-showing-values"
phase = "confirm"
http = {{ target = "es", method = "GET", path = "/echo", query = {{ key = "{{{{ secrets.api }}}}" }} }}
expect = ["response.json.headers.authorization == 'nope'", "response.json.query == 'nope'"]

[[steps]]
id = "retry-with-logs"
phase = "contain"
http = {{ target = "forum", method = "GET", path = "/flaky/2" }}
expect = ["response.status == 200"]
retry = {{ every = "20ms", within = "5s" }}

[[steps]]
id = "foreach-with-secrets"
phase = "eradicate"
foreach = "['a', 'b', 'c']"
http = {{ target = "auth", method = "POST", path = "/echo", form = {{ token = "{{{{ item }}}}-{{{{ secrets.api }}}}" }} }}
expect = ["response.json.body == 'nope'"]

[[steps]]
id = "echo-binary-apikey"
phase = "confirm"
http = {{ target = "es", method = "GET", path = "/echo-bytes", query = {{ key = "{{{{ secrets.api }}}}" }} }}
evidence = true

[[steps]]
id = "echo-binary-basic"
phase = "eradicate"
http = {{ target = "auth", method = "GET", path = "/echo-bytes" }}
evidence = true

[[steps]]
id = "echo-binary-bearer"
phase = "notify"
http = {{ target = "forum", method = "GET", path = "/echo-bytes" }}
evidence = true
"#,
            url = srv.url
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let out = tokio::process::Command::new(env!("CARGO_BIN_EXE_stanch"))
        .args([
            "run",
            rb.to_str().unwrap(),
            "--headless",
            "--incident",
            "INC-CANARY",
        ])
        .env("STANCH_DATA_DIR", &data)
        .env("STANCH_CANARY_API", &api)
        .env("STANCH_CANARY_FORUM", &forum)
        .env("STANCH_LOG", "stanch=trace")
        .output()
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();

    // The run really used the secrets (so a run that sent nothing cannot pass) …
    let seen = srv.requests();
    assert!(seen.len() >= 7, "{stdout}\n{stderr}");
    assert_eq!(seen[0]["headers"]["authorization"], format!("ApiKey {api}"));
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("stanch-responder:{oauth}"));
    assert_eq!(
        seen[1]["headers"]["authorization"],
        format!("Basic {basic}")
    );
    assert_eq!(
        seen[2]["headers"]["authorization"],
        format!("Bearer {forum}")
    );
    // … and produced the artefacts searched below.
    assert!(stdout.contains("ok          echo-headers"), "{stdout}");
    assert!(
        stdout.contains("FAILED      fail-showing-values"),
        "{stdout}"
    );
    assert!(
        stdout.contains("FAILED      foreach-with-secrets"),
        "{stdout}"
    );
    for step in ["apikey", "basic", "bearer"] {
        assert!(
            stdout.contains(&format!("ok          echo-binary-{step}")),
            "{stdout}"
        );
    }
    assert_eq!(
        seen.iter().filter(|r| r["path"] == "/echo-bytes").count(),
        3
    );
    let incident = data.join("incidents/INC-CANARY");
    let mut files = Vec::new();
    files_under(&incident, &mut files);
    files_under(&data.join("logs"), &mut files);
    assert!(files.iter().any(|f| f.ends_with("journal.jsonl")));
    let evidence: Vec<Vec<u8>> = files
        .iter()
        .filter(|f| f.parent().unwrap().ends_with("evidence"))
        .map(|f| std::fs::read(f).unwrap())
        .collect();
    assert!(evidence.len() >= 6);
    // The binary bodies were kept, masked where they echoed a secret, and are still not UTF-8.
    let binary: Vec<&Vec<u8>> = evidence
        .iter()
        .filter(|b| b.starts_with(&[0xff, 0xfe]))
        .collect();
    assert_eq!(binary.len(), 3);
    for body in binary {
        assert!(std::str::from_utf8(body).is_err());
        assert!(contains(body, stanch::secret::MASK.as_bytes()));
    }
    assert!(
        files
            .iter()
            .any(|f| f.extension().is_some_and(|e| e == "log"))
    );
    let log = std::fs::read_to_string(data.join("logs/stanch.log")).unwrap();
    assert!(log.contains("retrying"), "trace logging was on: {log}");

    let mut texts: Vec<(String, Vec<u8>)> =
        vec![("stdout".into(), out.stdout), ("stderr".into(), out.stderr)];
    for file in &files {
        texts.push((file.display().to_string(), std::fs::read(file).unwrap()));
    }
    let mut needles = Vec::new();
    for secret in [&api, &oauth, &forum] {
        needles.extend(forms(secret));
    }
    // Derived values: the Basic pair and the digest header travel encoded.
    needles.push(("basic pair".into(), basic));
    needles.push((
        "digest header".into(),
        base64::engine::general_purpose::STANDARD.encode(format!("key-id:{api}")),
    ));
    let mut hits = Vec::new();
    for (place, text) in &texts {
        for (form, needle) in &needles {
            if contains(text, needle.as_bytes()) {
                hits.push(format!("{form} form found in {place}"));
            }
        }
    }
    assert!(hits.is_empty(), "secret leaked:\n{}", hits.join("\n"));
}
