//! The real binary in tmux against a local HTTP server started by the test: open an incident
//! through the set-up form, run steps, confirm a destructive one by typing, record a fact,
//! quit, resume, and check the journal (kinds, chain, no secret).
//!
//! Requires `tmux` on PATH (the project's CI image has it).

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use axum::Json;
use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use serde_json::{Value, json};
use stanch::journal::Kind;

use crate::support::tmux;

const API_KEY: &str = "e2e-secret-api-key-123";

/// An Elasticsearch-shaped server: `GET /`, `GET /customers/_count` (answers until closed),
/// `POST /customers/_close` (needs the API key).
fn start_server() -> SocketAddr {
    let closed = Arc::new(AtomicBool::new(false));
    let (addr_tx, addr_rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let c1 = Arc::clone(&closed);
            let c2 = Arc::clone(&closed);
            let app = Router::new()
                .route(
                    "/",
                    get(|| async {
                        Json(json!({"name": "node-1", "cluster_name": "metrics-prod",
                                    "cluster_uuid": "u-1", "version": {"number": "7.4.2"},
                                    "tagline": "You Know, for Search"}))
                    }),
                )
                .route(
                    "/customers/_count",
                    get(move || async move {
                        if c1.load(Ordering::SeqCst) {
                            (StatusCode::BAD_REQUEST, Json(json!({"error": {"type": "index_closed_exception"}, "status": 400})))
                        } else {
                            (StatusCode::OK, Json(json!({"count": 2_400_000})))
                        }
                    }),
                )
                .route(
                    "/customers/_close",
                    post(move |headers: HeaderMap| async move {
                        let ok = headers.get("authorization").and_then(|v| v.to_str().ok())
                            == Some(&format!("ApiKey {API_KEY}"));
                        if ok {
                            c2.store(true, Ordering::SeqCst);
                            (StatusCode::OK, Json(json!({"acknowledged": true})))
                        } else {
                            (StatusCode::UNAUTHORIZED, Json(json!({"error": {"type": "security_exception"}, "status": 401})))
                        }
                    }),
                );
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            addr_tx.send(listener.local_addr().unwrap()).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    addr_rx.recv().unwrap()
}

struct Tmux {
    session: String,
}

impl Tmux {
    fn start(session: &str, command: &str) -> Self {
        let status = Command::new("tmux")
            .args(["new", "-d", "-s", session, "-x", "100", "-y", "30", command])
            .status()
            .expect("tmux runs");
        assert!(status.success(), "tmux new failed");
        Self {
            session: session.to_owned(),
        }
    }

    /// Send keys one at a time, each once the pane shows the previous one's effect, so each
    /// is its own terminal read (the set-up form and the TUI read the terminal in turn).
    fn keys(&self, keys: &[&str]) {
        for key in keys {
            self.send(&[key]);
        }
    }

    fn literal(&self, text: &str) {
        self.send(&["-l", text]);
    }

    /// Send to the pane and wait until the screen changes (10 s).
    fn send(&self, args: &[&str]) {
        let before = self.screen();
        tmux::send_keys(&[], &self.session, args);
        self.wait_until(&format!("the screen to answer {args:?}"), |s| s != before);
    }

    fn query(&self, format: &str) -> String {
        let out = Command::new("tmux")
            .args(["display", "-p", "-t", &self.session, format])
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).trim().to_owned()
    }

    fn alternate_screen(&self) -> String {
        self.query("#{alternate_on}")
    }

    fn screen(&self) -> String {
        tmux::capture(&[], &self.session)
    }

    /// Wait until the screen shows `text` (10 s), returning the screen.
    fn wait_for(&self, text: &str) -> String {
        self.wait_until(&format!("{text:?}"), |s| s.contains(text))
    }

    /// Poll the pane until `ready` holds, with a deadline (10 s).
    fn wait_until(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        tmux::poll(what, Duration::from_secs(10), || self.screen(), ready)
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .status();
    }
}

/// An `$EDITOR` that appends a line and records whether it could see the secret.
fn fake_editor(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("fake-editor.sh");
    std::fs::write(
        &path,
        "#!/bin/sh\necho 'Edited in the e2e editor.' >> \"$1\"\nenv | grep -c STANCH_ES_API_KEY > \"$1.env\"\nexit 0\n",
    )
    .unwrap();
    let mut perms = std::fs::metadata(&path).unwrap().permissions();
    std::os::unix::fs::PermissionsExt::set_mode(&mut perms, 0o755);
    std::fs::set_permissions(&path, perms).unwrap();
    path
}

fn stanch_command(data: &Path, args: &str) -> String {
    format!(
        "env STANCH_DATA_DIR={} STANCH_ES_API_KEY={API_KEY} EDITOR={} USER=e2e NO_COLOR= TERM=xterm-256color {} {args}; echo EXITED $?; sleep 30",
        data.display(),
        fake_editor(data).display(),
        env!("CARGO_BIN_EXE_stanch"),
    )
}

#[test]
fn open_run_confirm_fact_quit_resume_and_the_journal_tells_it_all() {
    let addr = start_server();
    let data = tempfile::tempdir().unwrap();
    let runbook = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tui/e2e.toml");
    let session = format!("stanch-e2e-{}", std::process::id());

    let tui = Tmux::start(
        &session,
        &stanch_command(
            data.path(),
            &format!("run {runbook} --incident E2E-1 --set es_url=http://{addr}"),
        ),
    );
    // The set-up form: inputs with defaults filled in, then the responder.
    let form = tui.wait_for("Your name");
    assert!(form.contains("customers"), "default shown:\n{form}");
    tui.keys(&["Enter", "Enter", "Enter"]);
    tui.wait_for("E2E-1");

    // Run the first step and see its capture.
    tui.keys(&["Enter"]);
    tui.wait_for("✓ Identify the cluster");
    // The selection follows to the next ready step: Enter runs the second.
    tui.wait_for("▸ ○ Count");
    tui.keys(&["Enter"]);
    tui.wait_for("✓ Count what an outsider");
    // Then it is on the destructive one, which asks for the index name, showing target and
    // cluster identity.
    tui.wait_for("POST http://");
    tui.keys(&["Enter"]);
    let dialog = tui.wait_for("exactly to proceed");
    assert!(dialog.contains("metrics-prod"), "identity shown:\n{dialog}");
    assert!(
        dialog.contains("/customers/_close"),
        "target shown:\n{dialog}"
    );
    assert!(!dialog.contains(API_KEY), "secret on screen:\n{dialog}");
    tui.literal("customer");
    tui.keys(&["Enter"]);
    tui.wait_for("does not match");
    tui.literal("s");
    tui.keys(&["Enter"]);
    tui.wait_for("✓ Close the exposed index");

    // A fact, with when it happened.
    tui.keys(&["f"]);
    tui.wait_for("Something that happened");
    tui.literal("Reporter opened a support ticket");
    tui.keys(&["Tab", "BSpace", "BSpace", "BSpace"]);
    tui.literal("17:21Z");
    tui.keys(&["Enter"]);
    tui.wait_for("fact recorded");

    // The draft goes through $EDITOR (terminal handed over and taken back) and is journalled.
    tui.keys(&["G"]);
    tui.wait_for("▸ ○ Draft the forum post");
    tui.keys(&["e"]);
    tui.wait_for("draft forum-post saved");
    tui.keys(&["d"]);
    let drafts = tui.wait_for("Edited in the e2e editor.");
    assert!(
        drafts.contains("What happened"),
        "rendered preview:\n{drafts}"
    );
    tui.keys(&["b"]);

    tui.keys(&["q"]);
    let after = tui.wait_for("EXITED 0");
    assert!(after.contains("stanch resume E2E-1"), "{after}");
    drop(tui);

    // Resume: exactly where it stood.
    let tui = Tmux::start(
        &format!("{session}-r"),
        &stanch_command(data.path(), "resume E2E-1"),
    );
    // The resumed TUI's own screen (stderr may first say which file modes it tightened).
    let screen = tui.wait_for("✓ Identify the cluster");
    assert!(screen.contains("✓ Close the exposed index"), "{screen}");
    tui.keys(&["t"]);
    tui.wait_for("Reporter opened a support ticket");
    tui.keys(&["q"]);
    tui.wait_for("EXITED 0");
    drop(tui);

    journal_tells_it_all(&data.path().join("incidents/E2E-1"), addr);
}

/// The journal of the run: everything is there, chained, with no secret.
fn journal_tells_it_all(dir: &Path, addr: SocketAddr) {
    let text = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap();
    assert!(!text.contains(API_KEY), "secret in the journal");
    let events = stanch::journal::read(dir).unwrap();
    for pair in events.windows(2) {
        assert_eq!(
            pair[1].prev, pair[0].hash,
            "chain broken at seq {}",
            pair[1].seq
        );
        assert_eq!(pair[1].hash, pair[1].compute_hash());
    }
    let has = |kind: Kind, step: Option<&str>| {
        events
            .iter()
            .any(|e| e.kind == kind && e.step.as_deref() == step)
    };
    assert!(has(Kind::IncidentOpened, None));
    for step in ["cluster-info", "count-exposed", "close-index"] {
        assert!(has(Kind::StepStarted, Some(step)), "{step} started");
        assert!(has(Kind::StepSucceeded, Some(step)), "{step} succeeded");
    }
    assert!(has(Kind::Confirm, Some("close-index")));
    let fact = events
        .iter()
        .find(|e| e.kind == Kind::Fact)
        .expect("fact journalled");
    assert_eq!(
        fact.data_value()["text"],
        "Reporter opened a support ticket"
    );
    assert!(
        fact.data_value()["occurred_at"]
            .as_str()
            .unwrap()
            .ends_with("T17:21:00Z"),
        "{fact:?}"
    );
    let mark = events
        .iter()
        .find(|e| e.kind == Kind::Mark)
        .expect("contained mark");
    assert_eq!(mark.data_value()["name"], Value::from("contained"));
    assert_eq!(
        events[0].data_value()["inputs"]["es_url"],
        Value::from(format!("http://{addr}"))
    );
    assert_eq!(events[0].actor, "e2e");
    assert!(has(Kind::DraftSaved, Some("forum-post")));
    let editor_env = std::fs::read_to_string(dir.join("drafts/forum-post.md.env")).unwrap();
    assert_eq!(
        editor_env.trim(),
        "0",
        "the editor saw a STANCH_ secret variable"
    );
}

#[test]
fn sigterm_restores_the_terminal_and_keeps_what_was_journalled() {
    let data = tempfile::tempdir().unwrap();
    let runbook = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tui/e2e.toml");
    let session = format!("stanch-e2e-term-{}", std::process::id());
    let tui = Tmux::start(
        &session,
        &stanch_command(
            data.path(),
            &format!(
                "run {runbook} --incident TERM-1 --responder e2e --set es_url=http://127.0.0.1:9"
            ),
        ),
    );
    tui.wait_for("TERM-1");
    assert_eq!(
        tui.alternate_screen(),
        "1",
        "the TUI owns the alternate screen"
    );
    tui.keys(&["n"]);
    tui.literal("written before the signal");
    tui.keys(&["Enter"]);
    tui.wait_for("note recorded");
    // The pane runs `sh -c`; stanch is its child.
    let pane_pid = tui.query("#{pane_pid}");
    let out = Command::new("pgrep")
        .args(["-P", &pane_pid])
        .output()
        .unwrap();
    let pid = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap()
        .trim()
        .to_owned();
    let status = Command::new("kill").args(["-TERM", &pid]).status().unwrap();
    assert!(status.success());
    tui.wait_for("EXITED 0");
    assert_eq!(
        tui.alternate_screen(),
        "0",
        "terminal restored after SIGTERM"
    );
    let events = stanch::journal::read(&data.path().join("incidents/TERM-1")).unwrap();
    assert!(
        events
            .iter()
            .any(|e| e.kind == Kind::Note && e.data_value()["text"] == "written before the signal")
    );
}

#[test]
fn resume_after_a_crash_flags_the_step_that_had_no_outcome_and_never_resends_it() {
    let data = tempfile::tempdir().unwrap();
    let runbook = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/tui/e2e.toml");
    // A journal as a crash leaves it: a step started, no outcome.
    {
        let dir = data.path().join("incidents/CRASH-1");
        let journal = stanch::journal::Journal::create(&dir, "e2e").unwrap();
        let rb = stanch::runbook::load(Path::new(runbook)).unwrap();
        journal
            .append_blocking(stanch::journal::NewEvent::new(
                Kind::IncidentOpened,
                json!({"incident_id": "CRASH-1", "runbook_id": "tui-e2e",
                       "runbook_title": "Exposed index (TUI test)", "runbook_sha256": rb.sha256,
                       "runbook_path": runbook, "inputs": {"es_url": "http://127.0.0.1:9", "index": "customers"},
                       "responder": "e2e", "drill": false}),
            ))
            .unwrap();
        journal
            .append_blocking(stanch::journal::NewEvent::for_step(
                Kind::StepStarted,
                "cluster-info",
                json!({"attempt": 1, "rerun": false}),
            ))
            .unwrap();
    }
    let session = format!("stanch-e2e-crash-{}", std::process::id());
    let tui = Tmux::start(&session, &stanch_command(data.path(), "resume CRASH-1"));
    let screen = tui.wait_for("interrupted, outcome unknown: cluster-info");
    assert!(screen.contains("! Identify the cluster"), "{screen}");
    // Enter refuses to re-send it silently.
    tui.keys(&["Enter"]);
    tui.wait_for("r re-runs it deliberately");
    tui.keys(&["q"]);
    tui.wait_for("EXITED 0");
    let events = stanch::journal::read(&data.path().join("incidents/CRASH-1")).unwrap();
    let interrupted: Vec<_> = events
        .iter()
        .filter(|e| e.kind == Kind::StepInterrupted)
        .collect();
    assert_eq!(interrupted.len(), 1);
    assert_eq!(interrupted[0].data_value()["started_seq"], json!(2));
    let started = events
        .iter()
        .filter(|e| e.kind == Kind::StepStarted)
        .count();
    assert_eq!(started, 1, "nothing was re-sent");
}
