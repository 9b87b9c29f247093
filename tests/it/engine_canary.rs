//! The secret canary: random secret values go through a full headless run that uses them every
//! way a runbook can (headers, Basic and Bearer auth, query, form and JSON bodies, a server that
//! echoes them back into captures, evidence and error messages, and one that echoes them into a
//! binary, non-UTF-8 body kept as evidence). Then the journal, every evidence file, the log file
//! and the captured stdout/stderr are searched, as bytes, for the raw, base64 and URL-encoded
//! forms: zero hits.
//!
//! The second test is the hostile version: a server on 127.0.0.1 echoes the secrets back in
//! every encoding a real one might (JSON-escaped with and without `\/`, ASCII-only JSON,
//! base64 of the whole `ApiKey …` header, hex in both cases, lowercase percent-escapes, the
//! url crate's path encoding of a secret sent in the path), and the search covers every output
//! a responder or a reader of the incident sees: stdout, stderr, journal, evidence, log, the
//! Markdown, JSON and HTML exports, and the TUI screen of every step.

use crate::support::engine as support;
use crate::support::hostile;

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

/// Every form of a value the redactor promises to catch, computed here independently of it.
fn forms(value: &str) -> Vec<(String, String)> {
    use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
    let percent = percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
        .to_string();
    let json = json_escaped(value);
    let mut url = url::Url::parse("http://h/").unwrap();
    url.set_path(value);
    let url_path = url.path()[1..].to_owned();
    vec![
        ("raw".into(), value.to_owned()),
        ("base64".into(), STANDARD.encode(value)),
        ("base64-nopad".into(), STANDARD_NO_PAD.encode(value)),
        ("base64-url".into(), URL_SAFE_NO_PAD.encode(value)),
        ("percent-lowercase".into(), lower_escapes(&percent)),
        ("percent-encoded".into(), percent),
        (
            "form-encoded".into(),
            url::form_urlencoded::byte_serialize(value.as_bytes()).collect(),
        ),
        ("url-crate-path".into(), url_path),
        ("json-slashed".into(), json.replace('/', "\\/")),
        ("json-escaped".into(), json),
        ("hex".into(), hex(value, false)),
        ("HEX".into(), hex(value, true)),
    ]
}

fn json_escaped(value: &str) -> String {
    let quoted = serde_json::to_string(value).unwrap();
    quoted[1..quoted.len() - 1].to_owned()
}

fn lower_escapes(percent: &str) -> String {
    let mut out = String::new();
    let mut rest = percent;
    while let Some(at) = rest.find('%') {
        out.push_str(&rest[..at]);
        out.push_str(&rest[at..at + 3].to_ascii_lowercase());
        rest = &rest[at + 3..];
    }
    out.push_str(rest);
    out
}

fn hex(value: &str, upper: bool) -> String {
    value
        .bytes()
        .map(|b| {
            if upper {
                format!("{b:02X}")
            } else {
                format!("{b:02x}")
            }
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

/// Fail naming every (form, place) pair where a needle shows up.
fn assert_no_leak(texts: &[(String, Vec<u8>)], needles: &[(String, String)]) {
    let mut hits = Vec::new();
    for (place, text) in texts {
        for (form, needle) in needles {
            if contains(text, needle.as_bytes()) {
                hits.push(format!("{form} form found in {place}"));
            }
        }
    }
    assert!(hits.is_empty(), "secret leaked:\n{}", hits.join("\n"));
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
    assert_no_leak(&texts, &needles);
}

/// What the hostile server sends back: every encoding of the `ApiKey` it was given and of
/// the whole header, and the request target as it arrived (a secret in the path).
fn echo_everything(seen: &hostile::Seen) -> Vec<u8> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    let header = seen.header("authorization").unwrap_or_default().to_owned();
    let key = header.strip_prefix("ApiKey ").unwrap_or_default();
    let json = json_escaped(key);
    let ascii: String = json
        .chars()
        .map(|c| {
            if c.is_ascii() {
                c.to_string()
            } else {
                format!("\\u{:04x}", u32::from(c))
            }
        })
        .collect();
    let percent =
        percent_encoding::utf8_percent_encode(key, percent_encoding::NON_ALPHANUMERIC).to_string();
    format!(
        r#"{{"json": "{json}", "slashed": "{slashed}", "ascii": "{ascii}", "header_b64": "{hb}", "header_b64url": "{hbu}", "hex": "{hex}", "HEX": "{HEX}", "pct": "{pct}", "target": "{target}"}}"#,
        slashed = json.replace('/', "\\/"),
        hb = STANDARD.encode(&header),
        hbu = URL_SAFE_NO_PAD.encode(&header),
        hex = hex(key, false),
        HEX = hex(key, true),
        pct = lower_escapes(&percent),
        target = seen.target,
    )
    .into_bytes()
}

/// The TUI screen of every step of the incident, previews included, as text.
fn tui_screens(rb_path: &Path, incident_dir: &Path, secrets: &[(&str, &str)]) -> String {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    let rb = std::sync::Arc::new(stanch::runbook::load(rb_path).unwrap());
    let (journal, events) = stanch::journal::Journal::open(incident_dir, "canary").unwrap();
    let incident = stanch::incident::Incident::replay(events);
    let engine = stanch::engine::Engine::new(
        std::sync::Arc::clone(&rb),
        journal,
        stanch::secret::Secrets::from_values(
            secrets
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
        ),
        stanch::engine::EngineOptions::default(),
    )
    .unwrap();
    let mut app = stanch::tui::app::App::new(
        std::sync::Arc::clone(&rb),
        incident.clone(),
        stanch::tui::fixture::now(),
    );
    let mut screens = String::new();
    for n in 0..app.order.len() {
        app.selected = n;
        let id = app.selected_id().unwrap();
        let preview = engine.preview(&id, &incident);
        app.previews.insert(id.clone(), preview.map_err(Into::into));
        let mut term = Terminal::new(TestBackend::new(250, 80)).unwrap();
        term.draw(|f| stanch::tui::view::render(&app, f)).unwrap();
        let buffer = term.backend().buffer();
        let text: String = buffer
            .content()
            .iter()
            .map(ratatui::buffer::Cell::symbol)
            .collect();
        assert!(text.contains(&id), "screen of {id}");
        screens.push_str(&text);
    }
    screens
}

#[expect(
    clippy::too_many_lines,
    reason = "one end-to-end scenario read top to bottom"
)]
#[tokio::test]
async fn no_echoed_form_reaches_any_output_export_or_the_tui_screen() {
    let srv = hostile::Hostile::start(|seen| {
        hostile::Reply::raw(
            if seen.path() == "/fail" { 500 } else { 200 },
            echo_everything(seen),
        )
        .with_header("Content-Type", "application/json")
    })
    .await;
    let tag = &canary("hostile")[2..14];
    // Quote, backslash, slash, plus, space: JSON, URL and base64 each change some of them.
    let api = format!("K3y\"q/z+ x\\abc-{tag}");
    let path_secret = format!("p@ss+w rd#1é-{tag}");
    let dir = tempfile::tempdir().unwrap();
    let rb = dir.path().join("rb.toml");
    std::fs::write(
        &rb,
        format!(
            r#"
[runbook]
id = "canary-hostile"
title = "Canary against a hostile server"

[secrets.api]
env = "STANCH_CANARY_API"
[secrets.vault]
env = "STANCH_CANARY_VAULT"

[targets.es]
url = "{url}"
headers = {{ Authorization = "ApiKey {{{{ secrets.api }}}}" }}

[[steps]]
id = "echo"
phase = "identify"
http = {{ target = "es", method = "GET", path = "/echo" }}
capture = {{ all = "response.json", json = "response.json.json", b64 = "response.json.header_b64", hex = "response.json.HEX" }}
evidence = true

[[steps]]
id = "echo-fails"
phase = "confirm"
http = {{ target = "es", method = "GET", path = "/fail" }}
expect = ["response.json.slashed == 'x'", "response.json.header_b64url == 'x'"]

[[steps]]
id = "secret-in-path"
phase = "contain"
http = {{ target = "es", method = "GET", path = "/vault/{{{{ secrets.vault }}}}/read" }}
capture = {{ target = "response.json.target" }}
evidence = true
"#,
            url = srv.url
        ),
    )
    .unwrap();
    let data = dir.path().join("data");
    let env = [
        ("STANCH_CANARY_API", api.as_str()),
        ("STANCH_CANARY_VAULT", path_secret.as_str()),
        ("STANCH_LOG", "stanch=trace"),
    ];
    let run = hostile::stanch(
        &data,
        &[
            "run",
            rb.to_str().unwrap(),
            "--headless",
            "--incident",
            "INC-HOSTILE",
        ],
        &env,
    )
    .await;
    let stdout = String::from_utf8_lossy(&run.stdout).into_owned();

    // The secrets really went out and really came back …
    let seen = srv.requests();
    assert_eq!(seen.len(), 3, "{stdout}");
    assert_eq!(
        seen[0].header("authorization"),
        Some(format!("ApiKey {api}").as_str())
    );
    let encoded_path: String =
        percent_encoding::utf8_percent_encode(&path_secret, stanch::text::PATH_SEGMENT).to_string();
    assert_eq!(seen[2].target, format!("/vault/{encoded_path}/read"));
    assert!(stdout.contains("ok          echo "), "{stdout}");
    assert!(stdout.contains("FAILED      echo-fails"), "{stdout}");
    assert!(stdout.contains("ok          secret-in-path"), "{stdout}");

    // … and every place a person or a reader of the incident can see is searched.
    let mut texts: Vec<(String, Vec<u8>)> = vec![
        ("stdout".into(), run.stdout.clone()),
        ("stderr".into(), run.stderr.clone()),
    ];
    for format in ["md", "json", "html"] {
        let out = hostile::stanch(&data, &["export", "INC-HOSTILE", "--format", format], &[]).await;
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        texts.push((format!("export {format}"), out.stdout));
    }
    let incident = data.join("incidents/INC-HOSTILE");
    let mut files = Vec::new();
    files_under(&incident, &mut files);
    files_under(&data.join("logs"), &mut files);
    assert!(
        files
            .iter()
            .filter(|f| f.parent().unwrap().ends_with("evidence"))
            .count()
            >= 2
    );
    for file in &files {
        texts.push((file.display().to_string(), std::fs::read(file).unwrap()));
    }
    let screens = tui_screens(
        &rb,
        &incident,
        &[("api", api.as_str()), ("vault", path_secret.as_str())],
    );
    assert!(
        screens.contains("/vault/"),
        "the path step's preview is on screen"
    );
    texts.push(("TUI screens".into(), screens.into_bytes()));

    let mut needles = forms(&api);
    needles.extend(forms(&path_secret));
    needles.push((
        "base64 of the header".into(),
        base64::engine::general_purpose::STANDARD.encode(format!("ApiKey {api}")),
    ));
    needles.push((
        "base64url of the header".into(),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(format!("ApiKey {api}")),
    ));
    needles.push(("path segment".into(), encoded_path));
    assert_no_leak(&texts, &needles);
}
