//! Attacks on what stanch prints: a hostile server on 127.0.0.1 answers with terminal escape
//! sequences (retitle the pane, write the clipboard with OSC 52, overwrite a `FAILED` line with
//! a fake `ok`), C1 controls and bidi overrides, in failed bodies and in captures that a
//! confirm text is rendered from. Every byte the real binary writes to stdout and stderr, the
//! Markdown export on the terminal, `verify`, `list` and error text must show them escaped
//! (`\x1b`, `\u{202e}`); the JSON export escapes them as `\u009b`; a confirm text is shown
//! escaped and confirmed by typing it as shown.

use crate::support::engine as support;
use crate::support::hostile;

use hostile::{Hostile, Reply, journal, run_headless, stanch};
use serde_json::json;
use stanch::engine::{Decision, Outcome};
use stanch::secret::Secrets;
use tokio_util::sync::CancellationToken;

/// Retitle the window, write the clipboard, erase the line and print a fake success, erase the
/// screen with a C1 CSI, and reverse the rest with a bidi override.
const ATTACK: &str = "\u{1b}]0;pwned\u{7}\u{1b}]52;c;cm0gLXJmIC8K\u{7}\r\u{1b}[2Kok          \
                      close-index\u{9b}2J\u{202e}gnp.exe\u{2066}";

/// What must never be written raw: ESC, BEL, CR, C1 CSI, RLO, LRI.
const RAW: [&[u8]; 6] = [
    b"\x1b",
    b"\x07",
    b"\r",
    "\u{9b}".as_bytes(),
    "\u{202e}".as_bytes(),
    "\u{2066}".as_bytes(),
];

fn assert_clean(place: &str, bytes: &[u8]) {
    for raw in RAW {
        assert!(
            !bytes.windows(raw.len()).any(|w| w == raw),
            "{place} holds the raw bytes {raw:?}:\n{}",
            String::from_utf8_lossy(bytes)
        );
    }
}

/// The attack as `text::escape` shows it.
const SHOWN: &str = "\\x1b]0;pwned\\x07\\x1b]52;c;cm0gLXJmIC8K\\x07\\x0d\\x1b[2Kok          \
                     close-index\\u{9b}2J\\u{202e}gnp.exe\\u{2066}";

/// The runbook written to `dir` (with its draft template); its path.
fn runbook(dir: &std::path::Path, url: &str) -> String {
    std::fs::write(dir.join("post.md.j2"), "Update on {{ incident.id }}\n").unwrap();
    let path = dir.join("rb.toml");
    std::fs::write(&path, runbook_text(url)).unwrap();
    path.display().to_string()
}

fn runbook_text(url: &str) -> String {
    format!(
        r#"[runbook]
id = "hostile-output"
title = "Hostile output"

[targets.es]
url = "{url}"

[[steps]]
id = "cluster-name"
phase = "identify"
http = {{ target = "es", method = "GET", path = "/name" }}
capture = {{ name = "response.json.name" }}

[[steps]]
id = "close-index"
phase = "contain"
needs = ["cluster-name"]
confirm = "close {{{{ vars.name }}}}"
http = {{ target = "es", method = "POST", path = "/close" }}

[[steps]]
id = "read-errors"
phase = "confirm"
http = {{ target = "es", method = "GET", path = "/fail" }}

[[steps]]
id = "post"
phase = "notify"
draft = {{ template = "post.md.j2", output = "post.md" }}
"#
    )
}

async fn hostile_server() -> Hostile {
    Hostile::start(|seen| match seen.path() {
        "/name" => Reply::json(200, &json!({ "name": ATTACK })),
        "/fail" => Reply::raw(500, ATTACK),
        _ => Reply::json(200, &json!({ "acknowledged": true })),
    })
    .await
}

#[tokio::test]
async fn headless_lines_show_hostile_bodies_and_confirm_texts_escaped() {
    let srv = hostile_server().await;
    let dir = tempfile::tempdir().unwrap();
    let rb = runbook(dir.path(), &srv.url);
    let data = dir.path().join("data");
    let out = run_headless(&data, &rb, "INC-OUT", &[]).await;
    assert_clean("stdout", &out.stdout);
    assert_clean("stderr", &out.stderr);
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert!(
        stdout
            .lines()
            .any(|l| l.starts_with("NEEDS --yes close-index")
                && l.ends_with(&format!(
                    "destructive (confirm text `close {SHOWN}`): not run; pass --yes to allow it"
                ))),
        "{stdout}"
    );
    assert!(
        stdout.contains(&format!(
            "server answered 500; expectation failed: `response.status >= 200 and \
             response.status < 300` (response.status = 500); the service itself is failing \
             (server error): retry later, or check its health and logs; body: {SHOWN}"
        )),
        "{stdout}"
    );
    // The fake `ok` stays on the FAILED line it tried to overwrite.
    let failed = stdout
        .lines()
        .find(|l| l.starts_with("FAILED      read-errors"))
        .unwrap();
    assert!(
        failed.contains("\\x0d\\x1b[2Kok          close-index"),
        "{failed}"
    );
    // The journal keeps the data as received (it is evidence); only its display is escaped.
    let events = journal(&data, "INC-OUT");
    let captured = events
        .iter()
        .find(|e| e["kind"] == "step.succeeded" && e["step"] == "cluster-name")
        .unwrap();
    assert_eq!(captured["data"]["captures"]["name"], ATTACK);
}

#[expect(
    clippy::too_many_lines,
    reason = "one end-to-end scenario read top to bottom"
)]
#[tokio::test]
async fn exports_verify_list_and_errors_never_write_a_control_sequence() {
    let srv = hostile_server().await;
    let dir = tempfile::tempdir().unwrap();
    let rb = runbook(dir.path(), &srv.url);
    let data = dir.path().join("data");
    let out = run_headless(&data, &rb, "INC-EXP", &[]).await;
    assert!(!out.status.success());
    // A draft edited with the attack in it (an editor, a paste from a ticket).
    let editor = dir.path().join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nprintf 'pasted: \\033]0;pwned\\007\\302\\233\\342\\200\\256 end\\n' >> \"$1\"\n",
    )
    .unwrap();
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&editor, std::fs::Permissions::from_mode(0o700)).unwrap();
    }
    let out = stanch(
        &data,
        &["draft", "INC-EXP", "post"],
        &[("EDITOR", editor.to_str().unwrap())],
    )
    .await;
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let on_disk = std::fs::read(data.join("incidents/INC-EXP/drafts/post.md")).unwrap();
    assert!(
        on_disk.windows(1).any(|w| w == b"\x1b"),
        "the draft holds the attack"
    );

    let md = stanch(&data, &["export", "INC-EXP", "--format", "md"], &[]).await;
    assert!(md.status.success());
    assert_clean("markdown on stdout", &md.stdout);
    let md = String::from_utf8(md.stdout).unwrap();
    assert!(
        md.contains("pasted: \\x1b]0;pwned\\x07\\u{9b}\\u{202e} end"),
        "{md}"
    );

    let json_out = stanch(&data, &["export", "INC-EXP", "--format", "json"], &[]).await;
    assert!(json_out.status.success());
    assert_clean("json on stdout", &json_out.stdout);
    let text = String::from_utf8(json_out.stdout.clone()).unwrap();
    for escaped in [
        r"\u001b]0;pwned\u0007",
        r"\u009b2J",
        r"\u202egnp.exe",
        r"\u2066",
    ] {
        assert!(
            text.contains(escaped),
            "{escaped} missing from the JSON export"
        );
    }
    // Still the same data once parsed.
    let report: serde_json::Value = serde_json::from_slice(&json_out.stdout).unwrap();
    assert!(report.to_string().contains("pwned"));
    let dir_json = dir.path().join("report.json");
    let file = stanch(
        &data,
        &[
            "export",
            "INC-EXP",
            "--format",
            "json",
            "-o",
            dir_json.to_str().unwrap(),
        ],
        &[],
    )
    .await;
    assert!(file.status.success());
    assert_clean("json file", &std::fs::read(&dir_json).unwrap());

    // A crafted journal line: its kind is quoted by verify, list and every error.
    let journal_path = data.join("incidents/INC-EXP/journal.jsonl");
    let last: serde_json::Value = journal(&data, "INC-EXP").pop().unwrap();
    let mut crafted = last.clone();
    crafted["seq"] = (last["seq"].as_u64().unwrap() + 1).into();
    crafted["prev"] = last["hash"].clone();
    crafted["kind"] = ATTACK.into();
    let mut text = std::fs::read_to_string(&journal_path).unwrap();
    text.push_str(&crafted.to_string());
    text.push('\n');
    std::fs::write(&journal_path, text).unwrap();

    let verify = stanch(&data, &["verify", "INC-EXP"], &[]).await;
    assert!(!verify.status.success());
    assert_clean("verify stdout", &verify.stdout);
    assert_clean("verify stderr", &verify.stderr);
    let shown = String::from_utf8(verify.stdout).unwrap();
    assert!(
        shown.contains(&format!("unknown variant `{SHOWN}`")),
        "{shown}"
    );

    let list = stanch(&data, &["list"], &[]).await;
    assert_clean("list", &list.stdout);
    let shown = String::from_utf8(list.stdout).unwrap();
    assert!(
        shown.contains("DAMAGED") && shown.contains(SHOWN),
        "{shown}"
    );

    let export = stanch(&data, &["export", "INC-EXP"], &[]).await;
    assert!(!export.status.success());
    assert_clean("export error", &export.stderr);
    let shown = String::from_utf8(export.stderr).unwrap();
    assert!(
        shown.starts_with("stanch: error: ") && shown.contains(SHOWN),
        "{shown}"
    );
}

#[tokio::test]
async fn a_confirm_text_with_hidden_characters_is_shown_escaped_and_typed_as_shown() {
    let srv = hostile_server().await;
    let toml = runbook_text(&srv.url);
    let mut h = support::Harness::new(&toml, Secrets::default());
    support::succeeded(&h.run("cluster-name").await);

    let preview = h.engine.preview("close-index", &h.incident).unwrap();
    let shown = format!("close {SHOWN}");
    assert_eq!(preview.confirm.as_deref(), Some(shown.as_str()));

    let decide = |typed: &str| Decision {
        typed_confirmation: Some(typed.to_owned()),
        ..Decision::default()
    };
    // The raw text (which no one can type, and no one can see) does not confirm …
    let outcome = h
        .run_with(
            "close-index",
            decide(&format!("close {ATTACK}")),
            CancellationToken::new(),
        )
        .await;
    assert_eq!(
        outcome,
        Outcome::NeedsConfirmation {
            expected: shown.clone()
        }
    );
    assert!(!srv.requests().iter().any(|s| s.path() == "/close"));
    // … the text as shown does.
    let outcome = h
        .run_with("close-index", decide(&shown), CancellationToken::new())
        .await;
    support::succeeded(&outcome);
    assert_eq!(
        srv.requests()
            .iter()
            .filter(|s| s.path() == "/close")
            .count(),
        1
    );
    let confirm = h
        .journal_verified()
        .into_iter()
        .find(|e| e.kind.as_str() == "confirm")
        .unwrap();
    assert_eq!(confirm.data_value()["typed_matched"], true);
}

#[test]
fn the_tui_shows_hostile_text_escaped_in_the_step_detail_the_timeline_and_the_status_line() {
    use ratatui::Terminal;
    use ratatui::backend::TestBackend;
    use stanch::journal::Kind;
    use stanch::tui::app::{App, View};
    use stanch::tui::fixture::{self, Chain};

    let mut chain = Chain::opened(fixture::now(), false);
    chain.push(
        5,
        Kind::StepStarted,
        Some("cluster-info"),
        json!({ "attempt": 1, "rerun": false }),
    );
    chain.push(
        1,
        Kind::StepFailed,
        Some("cluster-info"),
        json!({ "duration_ms": 5, "error": ATTACK, "failed_expectations": [] }),
    );
    let incident = stanch::incident::Incident::replay(chain.events.clone());
    let mut app = App::new(
        fixture::runbook(fixture::E2E_RUNBOOK),
        incident,
        fixture::now(),
    );
    app.selected = app
        .order
        .iter()
        .position(|&i| app.runbook.runbook.steps[i].id() == "cluster-info")
        .unwrap();
    app.flash = Some(format!("cluster-info failed: {ATTACK}"));
    for view in [View::Runbook, View::Timeline] {
        app.view = view;
        if view == View::Timeline {
            // The Timeline pages the journal from disk, as the TUI does.
            let dir = tempfile::tempdir().unwrap();
            fixture::write_journal(dir.path(), &chain.events);
            let mut pager = stanch::timeline::Pager::open(dir.path()).unwrap();
            fixture::settle(&mut app, &mut pager);
        }
        let mut term = Terminal::new(TestBackend::new(250, 50)).unwrap();
        term.draw(|f| stanch::tui::view::render(&app, f)).unwrap();
        let screen: String = term
            .backend()
            .buffer()
            .content()
            .iter()
            .map(ratatui::buffer::Cell::symbol)
            .collect();
        assert_clean(&format!("{view:?} screen"), screen.as_bytes());
        // Detail or timeline, and the status line: each shows the escapes.
        assert!(
            screen.matches("\\x1b]0;pwned\\x07").count() >= 2,
            "{view:?}: {screen}"
        );
        assert!(screen.contains("\\u{202e}gnp.exe"), "{view:?}");
    }
}
