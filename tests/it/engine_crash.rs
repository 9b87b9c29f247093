//! The write-ahead rule across real crashes: `stanch run --headless` is SIGKILLed at moments
//! spread over its run while it alternates reads (GET, whose sync overlaps the request) and
//! writes (POST, sent only once their journal entry is durable). Whatever the moment:
//!
//! - every write the server received is in the journal, with its `step.started` and
//!   `http.request`: the journal never forgets a request that may have changed something;
//! - the journal left behind verifies (a valid prefix of the run);
//! - resuming the incident never sends a write twice: a write step the crash left started is
//!   reported interrupted, not re-sent.
//!
//! Reads may be missing from the journal's lost tail; that is allowed and re-run on resume.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::routing::{get, post};
use stanch::journal::payload::Shapes;
use stanch::journal::{self, Event, Kind, Payload};

const STEPS: usize = 240;
const KILLS: u64 = 24;

/// Writes the server received: `r<round>/w<i>` → how many times.
type Writes = Arc<Mutex<HashMap<String, u32>>>;

async fn server() -> (String, Writes) {
    let writes: Writes = Arc::default();
    let app = Router::new()
        .route("/r{round}/read/{i}", get(|| async { "{\"ok\":true}" }))
        .route(
            "/r{round}/write/{i}",
            post(
                |State(writes): State<Writes>, UrlPath((round, i)): UrlPath<(u64, usize)>| async move {
                    *writes
                        .lock()
                        .unwrap()
                        .entry(format!("r{round}/w{i}"))
                        .or_default() += 1;
                    "{\"ok\":true}"
                },
            ),
        )
        .with_state(Arc::clone(&writes));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, writes)
}

fn runbook(url: &str, round: u64) -> String {
    let mut text = format!(
        "[runbook]\nid = \"crash\"\ntitle = \"Crash\"\n[targets.svc]\nurl = \"{url}/r{round}\"\n"
    );
    for i in 0..STEPS {
        let (method, path) = if i % 2 == 0 {
            ("GET", "read")
        } else {
            ("POST", "write")
        };
        let _ = write!(
            text,
            "[[steps]]\nid = \"s{i:03}\"\nphase = \"contain\"\n\
             http = {{ target = \"svc\", method = \"{method}\", path = \"/{path}/{i}\" }}\n"
        );
    }
    text
}

fn stanch(data: &Path, rb: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_stanch"));
    cmd.args([
        "run",
        rb.to_str().unwrap(),
        "--headless",
        "--incident",
        "CRASH",
    ])
    .env("STANCH_DATA_DIR", data)
    .env("USER", "ci-responder")
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    cmd
}

/// Write steps with an `http.request` in the journal, by index.
fn journalled_writes(events: &[Event]) -> Vec<usize> {
    let started: Vec<&str> = events
        .iter()
        .filter(|e| e.kind == Kind::StepStarted)
        .filter_map(|e| e.step.as_deref())
        .collect();
    // Requests name their method only where it differs from their step's shape.
    let mut shapes = Shapes::default();
    events
        .iter()
        .filter(|e| {
            let whole = shapes.resolve(e.step.as_deref(), e.payload().unwrap());
            matches!(whole, Payload::HttpRequest(r) if r.method.as_deref() == Some("POST"))
        })
        .filter_map(|e| {
            let step = e.step.as_deref()?;
            assert!(
                started.contains(&step),
                "{step}: request without step.started"
            );
            step.trim_start_matches('s').parse().ok()
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_run_never_loses_a_write_and_a_resumed_run_never_repeats_one() {
    let (url, writes) = server().await;
    let tmp = tempfile::tempdir().unwrap();
    let mut interrupted_writes = 0;
    for round in 0..KILLS {
        let dir = tmp.path().join(format!("round{round}"));
        std::fs::create_dir_all(&dir).unwrap();
        let rb = dir.join("rb.toml");
        std::fs::write(&rb, runbook(&url, round)).unwrap();
        let data = dir.join("data");

        // Moments from start-up to the end of the run (about 30 ms on an idle machine).
        let delay = Duration::from_micros(2_000 + round * 1_700);
        let mut child = stanch(&data, &rb).spawn().unwrap();
        tokio::time::sleep(delay).await;
        child.kill().unwrap(); // SIGKILL
        let _ = child.wait();

        let received: Vec<usize> = {
            let writes = writes.lock().unwrap();
            (0..STEPS)
                .filter(|i| writes.contains_key(&format!("r{round}/w{i}")))
                .collect()
        };
        let incident = data.join("incidents").join("CRASH");
        if !incident.join("journal.jsonl").exists() {
            assert!(
                received.is_empty(),
                "round {round}: writes sent before the journal existed"
            );
            continue;
        }
        let events = journal::read(&incident).unwrap();
        assert!(journal::verify(&incident).unwrap().is_ok(), "round {round}");
        let journalled = journalled_writes(&events);
        for i in &received {
            assert!(
                journalled.contains(i),
                "round {round} (killed after {delay:?}): the server got write s{i:03} but the journal does not have it"
            );
        }

        // Resume: finish the run. Nothing the crash left started is sent again.
        let out = stanch(&data, &rb).output().unwrap();
        let text = String::from_utf8_lossy(&out.stdout);
        let writes = writes.lock().unwrap();
        for i in (1..STEPS).step_by(2) {
            let sent = writes.get(&format!("r{round}/w{i}")).copied().unwrap_or(0);
            assert!(
                sent <= 1,
                "round {round}: write s{i:03} sent {sent} times\n{text}"
            );
            let line = text
                .lines()
                .find(|l| l.split_whitespace().nth(1) == Some(&format!("s{i:03}")))
                .unwrap_or_else(|| panic!("round {round}: no line for s{i:03}\n{text}"));
            if line.starts_with("INTERRUPTED") {
                interrupted_writes += 1;
            } else {
                assert_eq!(sent, 1, "round {round}: s{i:03} was never sent\n{line}");
            }
        }
        assert!(journal::verify(&incident).unwrap().is_ok(), "round {round}");
    }
    // Kills that land mid-request are what this test is for; with the delays above some must.
    eprintln!("writes left interrupted by a kill: {interrupted_writes}");
}
