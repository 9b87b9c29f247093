//! Exports are safe to publish: the secret canary (a random secret fed through a journal
//! with a `Redactor`, in raw, base64 and URL-encoded forms) appears in no export, and hostile
//! text (`<script>`, quotes, Markdown control characters) in titles, notes, facts, captures,
//! inputs, URLs and drafts stays inert text in all three formats.

use crate::support::export_fixture as fixture;

use base64::Engine as _;
use serde_json::{Value, json};
use stanch::export::{self, Format, Sources};
use stanch::incident::Incident;
use stanch::journal::event::sha256_hex;
use stanch::journal::{Journal, Kind, NewEvent};
use stanch::secret::{MASK, Redactor};

/// A random value nobody would write by accident.
const CANARY: &str = "cNry-7Qe9xZ2/vB+k41Lw=Tg8";

fn canary_forms() -> Vec<String> {
    vec![
        CANARY.to_owned(),
        base64::engine::general_purpose::STANDARD.encode(CANARY),
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(CANARY),
        url::form_urlencoded::byte_serialize(CANARY.as_bytes()).collect(),
        percent_encoding::utf8_percent_encode(CANARY, percent_encoding::NON_ALPHANUMERIC)
            .to_string(),
        // Fragments long enough to identify the secret.
        CANARY[..12].to_owned(),
    ]
}

#[test]
fn the_secret_canary_appears_in_no_export() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("INC-CANARY");
    let journal = Journal::create(&dir, "alice").unwrap();
    journal.set_redactor(Redactor::new([CANARY]));
    let basic =
        base64::engine::general_purpose::STANDARD.encode(format!("stanch-responder:{CANARY}"));
    let urlenc: String = url::form_urlencoded::byte_serialize(CANARY.as_bytes()).collect();
    let events = vec![
        NewEvent::new(
            Kind::IncidentOpened,
            json!({
                "incident_id": "INC-CANARY", "runbook_id": "rb", "runbook_title": "Canary",
                "runbook_sha256": "", "inputs": {"es_url": format!("http://127.0.0.1:9200/?k={CANARY}")},
                "responder": "alice", "drill": false,
            }),
        ),
        NewEvent::new(
            Kind::Mark,
            json!({"name": "aware", "at": "2019-12-26T18:00:00Z"}),
        ),
        NewEvent::for_step(Kind::StepStarted, "revoke", json!({"attempt": 1})),
        NewEvent::for_step(
            Kind::HttpRequest,
            "revoke",
            json!({
                "method": "POST", "url": format!("http://127.0.0.1:9300/oauth/revoke?token={urlenc}"),
                "headers": {"authorization": format!("Basic {basic}"), "x-debug": CANARY},
            }),
        ),
        NewEvent::for_step(
            Kind::HttpResponse,
            "revoke",
            json!({"status": 401, "elapsed_ms": 3, "bytes": 9, "error": format!("rejected {CANARY}")}),
        ),
        NewEvent::for_step(
            Kind::EvidenceCaptured,
            "revoke",
            json!({
                "file": "evidence/x", "sha256": sha256_hex(b"x"), "bytes": 1, "method": "POST",
                "url": format!("http://127.0.0.1:9300/?t={CANARY}"), "captured_at": "2019-12-26T18:01:00Z",
                "by": "alice", "tool_version": "stanch",
            }),
        ),
        NewEvent::for_step(
            Kind::StepFailed,
            "revoke",
            json!({
                "duration_ms": 3, "error": format!("token {CANARY} rejected"),
                "failed_expectations": [{"expr": "response.status == 200", "actual": CANARY}],
                "captures": {"api_key_count": 1, "leaked": CANARY, "tokens": [CANARY, CANARY]},
            }),
        ),
        NewEvent::new(
            Kind::Note,
            json!({"text": format!("pasted by mistake: {CANARY}"), "tags": ["follow-up"]}),
        ),
        NewEvent::new(
            Kind::Fact,
            json!({"text": format!("key {} seen", base64::engine::general_purpose::STANDARD.encode(CANARY)), "occurred_at": "2019-12-26T17:00:00Z"}),
        ),
        NewEvent::new(
            Kind::Inject,
            json!({"title": CANARY, "body": CANARY, "offset": "+1m"}),
        ),
    ];
    for event in events {
        journal.append_blocking(event).unwrap();
    }
    let raw_journal = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap();
    assert!(raw_journal.contains(MASK), "the redactor ran");
    let incident = Incident::replay(stanch::journal::read(&dir).unwrap());
    let sources = Sources::read(&dir, &incident);
    for format in [Format::Markdown, Format::Html, Format::Json] {
        let text = export::render(&incident, &sources, format);
        assert!(
            text.contains(MASK) || text.contains("\\u2022"),
            "{format:?}: masked values are shown as masked"
        );
        for form in canary_forms() {
            assert!(
                !text.contains(&form),
                "{format:?} export contains the secret form {form:?}"
            );
        }
    }
}

const HOSTILE: &str = "<script>alert(\"x\")</script> 'q' | # *b* _i_ [l](javascript:alert(1)) `c` <img src=x onerror=alert(1)> &amp;\n# heading\n| a | b |";

#[expect(
    clippy::too_many_lines,
    reason = "one end-to-end scenario read top to bottom"
)]
fn hostile_incident() -> (Incident, Sources) {
    let mut c = fixture::Chain::new();
    c.push("2019-12-26T18:00:00Z", "mallory<evil>", Kind::IncidentOpened, None, json!({
        "incident_id": "INC-H", "runbook_id": "x<script>", "runbook_title": HOSTILE,
        "runbook_sha256": "", "inputs": {"index": HOSTILE}, "responder": HOSTILE, "drill": true, "severity": HOSTILE,
    }));
    c.push(
        "2019-12-26T18:00:01Z",
        "alice",
        Kind::Mark,
        None,
        json!({"name": "aware", "at": "2019-12-26T18:00:00Z"}),
    );
    c.push(
        "2019-12-26T18:01:00Z",
        "alice",
        Kind::StepStarted,
        Some("s<1>"),
        json!({"attempt": 1}),
    );
    c.push(
        "2019-12-26T18:01:00Z",
        "alice",
        Kind::HttpRequest,
        Some("s<1>"),
        json!({"method": "GET", "url": format!("http://h/\"><script>{HOSTILE}"), "headers": {}}),
    );
    c.push("2019-12-26T18:01:00Z", "alice", Kind::EvidenceCaptured, Some("s<1>"), json!({
        "file": "evidence/\"><script>", "sha256": HOSTILE, "bytes": 1, "method": HOSTILE,
        "url": HOSTILE, "captured_at": "2019-12-26T18:01:00Z", "by": HOSTILE, "tool_version": HOSTILE,
    }));
    c.push("2019-12-26T18:02:00Z", "alice", Kind::StepFailed, Some("s<1>"), json!({
        "duration_ms": 1, "error": HOSTILE, "failed_expectations": [{"expr": HOSTILE, "actual": HOSTILE}],
        "captures": {"exposed_count": "12", "title": HOSTILE},
    }));
    c.push(
        "2019-12-26T18:03:00Z",
        "alice",
        Kind::StepSkipped,
        Some("skip"),
        json!({"reason": HOSTILE}),
    );
    let fact = c.push(
        "2019-12-26T18:04:00Z",
        "alice",
        Kind::Fact,
        None,
        json!({"text": HOSTILE, "occurred_at": "2019-12-26T17:00:00Z"}),
    );
    c.push(
        "2019-12-26T18:05:00Z",
        "alice",
        Kind::FactCorrected,
        None,
        json!({"corrects": fact, "text": HOSTILE, "occurred_at": "2019-12-26T16:00:00Z"}),
    );
    c.push(
        "2019-12-26T18:06:00Z",
        "alice",
        Kind::Note,
        None,
        json!({"text": HOSTILE, "tags": ["follow-up", HOSTILE]}),
    );
    // Routed into the review sections and the action items' owner and due columns.
    c.push(
        "2019-12-26T18:06:30Z",
        "alice",
        Kind::Note,
        None,
        json!({"text": format!("{HOSTILE} @{HOSTILE} due:{HOSTILE}"), "tags": ["follow-up", "went-well", "lucky", "decision"]}),
    );
    c.push(
        "2019-12-26T18:07:00Z",
        "lab",
        Kind::Inject,
        None,
        json!({"title": HOSTILE, "body": HOSTILE, "offset": HOSTILE}),
    );
    let draft = format!("{HOSTILE}\n```\n</pre><script>alert(2)</script>\n````\n");
    c.push("2019-12-26T18:08:00Z", "alice", Kind::DraftSaved, Some("post"), json!({"file": "drafts/post.md", "sha256": sha256_hex(draft.as_bytes()), "bytes": draft.len()}));
    c.push(
        "2019-12-26T18:09:00Z",
        "lab",
        Kind::DrillScore,
        None,
        json!({"note": HOSTILE, "marks": [{"mark": HOSTILE, "team_ms": 1000, "reference_ms": 2000, "note": HOSTILE}]}),
    );
    c.push(
        "2019-12-26T18:10:00Z",
        "alice",
        Kind::Warning,
        None,
        json!({"text": HOSTILE}),
    );
    // Team mode: who does what, with text a teammate typed.
    c.push(
        "2019-12-26T18:10:10Z",
        "alice",
        Kind::StepTakenOver,
        Some("s<1>"),
        json!({"from": HOSTILE, "reason": HOSTILE}),
    );
    c.push(
        "2019-12-26T18:10:20Z",
        "alice",
        Kind::RoleChanged,
        None,
        json!({"login": HOSTILE, "role": "commander", "take_over": HOSTILE}),
    );
    let runbook_toml = format!(
        "[runbook]\nid = \"h\"\ntitle = {t}\nsummary = {t}\n[[steps]]\nid = \"s<1>\"\nphase = {t}\ntitle = {t}\nmanual = [\"x\"]\n",
        t = toml::Value::String(HOSTILE.to_owned())
    );
    let mut sources = Sources {
        runbook: Some(toml::from_str(&runbook_toml).unwrap()),
        ..Sources::default()
    };
    sources
        .draft_files
        .insert("drafts/post.md".into(), draft.into_bytes());
    (c.incident(), sources)
}

#[test]
fn hostile_text_is_inert_in_html() {
    let (incident, sources) = hostile_incident();
    let html = export::render(&incident, &sources, Format::Html);
    let lower = html.to_ascii_lowercase();
    for tag in ["<script", "<img", "<evil", "</pre><"] {
        assert!(!lower.contains(tag), "raw {tag} in HTML");
    }
    assert!(html.contains("&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &#39;q&#39;"));
    assert!(
        html.contains("&amp;amp;"),
        "entities are escaped, not passed through"
    );
    for (open, close) in [
        ("<td", "</td>"),
        ("<tr", "</tr>"),
        ("<pre", "</pre>"),
        ("<text", "</text>"),
        ("<title", "</title>"),
    ] {
        assert_eq!(
            html.matches(open).count(),
            html.matches(close).count(),
            "{open} balanced"
        );
    }
}

/// `pattern` occurs with its first character not backslash-escaped.
fn has_unescaped(line: &str, pattern: &str) -> bool {
    line.match_indices(pattern)
        .any(|(i, _)| i == 0 || line.as_bytes()[i - 1] != b'\\')
}

/// `|` not preceded by a backslash.
fn unescaped_pipes(line: &str) -> usize {
    let bytes = line.as_bytes();
    (0..bytes.len())
        .filter(|&i| bytes[i] == b'|' && (i == 0 || bytes[i - 1] != b'\\'))
        .count()
}

#[test]
fn hostile_text_is_inert_in_markdown() {
    let (incident, sources) = hostile_incident();
    let md = export::render(&incident, &sources, Format::Markdown);
    let mut in_fence: Option<String> = None;
    let mut columns = None;
    for line in md.lines() {
        if let Some(fence) = &in_fence {
            if line == fence {
                in_fence = None;
            }
            continue;
        }
        if line.starts_with("```") {
            in_fence = Some(
                line.trim_end_matches(|c: char| c.is_alphanumeric())
                    .to_owned(),
            );
            continue;
        }
        for active in ["<script", "<img", "](javascript:", "`c`", "*b*"] {
            assert!(
                !has_unescaped(line, active),
                "active {active} outside a fence: {line}"
            );
        }
        if line.starts_with('#') {
            let known = ["# DRILL — Post-mortem: ", "## ", "### "];
            assert!(
                known.iter().any(|k| line.starts_with(k)),
                "stray heading: {line}"
            );
        }
        if line.starts_with('|') {
            let n = unescaped_pipes(line);
            if line.starts_with("| --- ") || columns.is_none() {
                columns = Some(n);
            }
            assert_eq!(
                Some(n),
                columns,
                "a table row with a different number of cells: {line}"
            );
        } else {
            columns = None;
        }
    }
    assert!(in_fence.is_none(), "the draft's fence never closed");
    assert!(md.contains("\\<script\\>alert(\"x\")\\</script\\>"));
}

#[test]
fn hostile_text_round_trips_exactly_in_json() {
    let (incident, sources) = hostile_incident();
    let json: Value =
        serde_json::from_str(&export::render(&incident, &sources, Format::Json)).unwrap();
    assert_eq!(json["summary"]["title"], HOSTILE);
    assert_eq!(json["notes"][0]["text"], HOSTILE);
    assert_eq!(
        json["timeline"][0]["corrections"][0]["text"], HOSTILE,
        "the fact (16:00 after correction, placed at 17:00) comes first"
    );
    assert_eq!(json["steps"][0]["title"], HOSTILE);
    assert!(
        json["drafts"][0]["content"]
            .as_str()
            .unwrap()
            .contains("</pre><script>")
    );
    assert_eq!(json["drafts"][0]["check"], "verified");
}
