//! Two responders, two real `stanch` processes in two tmux panes, one shared incident on a
//! real PostgreSQL 15: alice opens it with `run --team` and runs a step; bob's screen
//! (`resume --team`, his own data dir) shows it done and held by `@alice` without a key
//! pressed; bob's attempt to run it asks for a take-over, which he gives with a reason, and
//! alice's screen shows `@bob`; `stanch team role` hands command to bob and both status
//! lines say so. Every wait is on the screen's content, with a deadline.
//! Then the headless runner in team mode: a step a teammate holds is left to them, the step
//! that needs it waits on the live feed and runs once the teammate has finished it.
//!
//! Requires `tmux` on PATH (the project's CI image has it).

use crate::support::engine as support;
use crate::support::pg;
use crate::support::team::{Lines, TeamDb};
use crate::support::tmux;

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;
use stanch::engine::{Decision, Engine, EngineOptions};
use stanch::incident::Incident;
use stanch::journal::{Journal, Kind, NewEvent};
use stanch::secret::Secrets;
use stanch::team::Session;
use stanch::team::follow::Pace;
use tokio_util::sync::CancellationToken;

struct Pane {
    target: String,
}

impl Pane {
    fn screen(&self) -> String {
        tmux::capture(&[], &self.target)
    }

    /// Poll the pane until `ready` holds, with a deadline (20 s: two processes and a
    /// database share two cores).
    fn wait_until(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let what = format!("{what} in {}", self.target);
        tmux::poll(&what, Duration::from_secs(20), || self.screen(), ready)
    }

    fn wait_for(&self, text: &str) -> String {
        self.wait_until(&format!("{text:?}"), |s| s.contains(text))
    }

    /// The step list's line (left of the detail panel) showing `text`.
    fn line_with(screen: &str, text: &str) -> String {
        screen
            .lines()
            .filter_map(|l| l.split('│').next())
            .find(|l| l.contains(text))
            .unwrap_or_default()
            .to_owned()
    }

    /// Send keys and wait until the screen changes.
    fn send(&self, args: &[&str]) {
        let before = self.screen();
        tmux::send_keys(&[], &self.target, args);
        self.wait_until(&format!("the screen to answer {args:?}"), |s| s != before);
    }
}

struct Session2 {
    name: String,
}

impl Drop for Session2 {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.name])
            .status();
    }
}

fn runbook(dir: &Path, url: &str) -> std::path::PathBuf {
    let path = dir.join("team.toml");
    std::fs::write(
        &path,
        format!(
            r#"
[runbook]
id = "team-tmux"
title = "Team tmux"

[targets.api]
url = "{url}"
timeout = "5s"

[[steps]]
id = "check-cluster"
phase = "confirm"
title = "Check the cluster"
http = {{ target = "api", method = "GET", path = "/json" }}

[[steps]]
id = "count-docs"
phase = "confirm"
title = "Count the documents"
needs = ["check-cluster"]
http = {{ target = "api", method = "GET", path = "/json" }}
"#
        ),
    )
    .unwrap();
    path
}

/// alice (commander) and bob (ops), members of `incident` on a fresh database; the HTTP
/// server the runbook's steps call; a work dir holding the runbook.
struct Team {
    db: TeamDb<'static>,
    server: support::Server,
    work: tempfile::TempDir,
    runbook: std::path::PathBuf,
}

impl Team {
    async fn new(incident: &str) -> Self {
        let db = TeamDb::new(pg::shared()).await;
        db.add("alice", "commander", Some(incident)).await;
        db.add("bob", "ops", Some(incident)).await;
        let server = support::server().await;
        let work = tempfile::tempdir().unwrap();
        let runbook = runbook(work.path(), &server.url);
        Self {
            db,
            server,
            work,
            runbook,
        }
    }
}

fn stanch_command(data: &Path, args: &str) -> String {
    format!(
        "env STANCH_DATA_DIR={} USER=nobody-else NO_COLOR= TERM=xterm-256color {} {args}; echo EXITED $?; sleep 30",
        data.display(),
        env!("CARGO_BIN_EXE_stanch"),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "one scenario on two screens, each wait beside what it waits for"
)]
async fn a_teammates_run_shows_live_in_the_other_pane_and_running_it_there_asks_for_a_take_over() {
    const INC: &str = "INC-TMUX";
    let cluster = pg::shared();
    let Team {
        db,
        server,
        work,
        runbook: rb,
    } = Team::new(INC).await;
    let (data_a, data_b) = (work.path().join("alice"), work.path().join("bob"));
    let url_a = cluster.socket_url("alice", &db.name);
    let url_b = cluster.socket_url("bob", &db.name);

    let name = format!("stanch-team-{}", std::process::id());
    let run_a = stanch_command(
        &data_a,
        &format!("run {} --team '{url_a}' --incident {INC}", rb.display()),
    );
    let status = Command::new("tmux")
        .args(["new", "-d", "-s", &name, "-x", "110", "-y", "30", &run_a])
        .status()
        .expect("tmux runs");
    assert!(status.success());
    let _session = Session2 { name: name.clone() };
    let a = Pane {
        target: format!("{name}:0.0"),
    };
    // Alice opened it: she commands it.
    a.wait_for("alice (commander)");

    let resume_b = stanch_command(&data_b, &format!("resume {INC} --team '{url_b}'"));
    let status = Command::new("tmux")
        .args(["split-window", "-v", "-t", &name, &resume_b])
        .status()
        .unwrap();
    assert!(status.success());
    let b = Pane {
        target: format!("{name}:0.1"),
    };
    b.wait_for("bob (member)");
    assert!(!b.screen().contains("@alice"), "nothing is held yet");

    // Alice runs the first step (selected): claimed, run, done.
    a.send(&["Enter"]);
    let screen = a.wait_until("the step done and held by alice", |s| {
        let line = Pane::line_with(s, "Check the cluster");
        line.contains('✓') && line.contains("@alice")
    });
    assert!(screen.contains("alice (commander)"), "{screen}");

    // Bob's screen shows it without a key pressed: the follower folded alice's events.
    let screen = b.wait_until("alice's step, live", |s| {
        let line = Pane::line_with(s, "Check the cluster");
        line.contains('✓') && line.contains("@alice")
    });
    assert!(
        Pane::line_with(&screen, "Count the documents").contains('○'),
        "its dependent is ready for bob now:\n{screen}"
    );

    // Bob re-runs it: not without an explicit take-over.
    b.send(&["r"]);
    let screen = b.wait_for("Take over");
    assert!(screen.contains("is held by @alice"), "{screen}");
    let requests = server.requests().len();
    // Enter without a reason does nothing.
    b.send(&["Enter"]);
    b.wait_for("a take-over needs a reason");
    assert_eq!(server.requests().len(), requests, "nothing was sent");
    b.send(&["-l", "alice is in the bridge call"]);
    b.send(&["Enter"]);
    b.wait_until("the step held by bob", |s| {
        Pane::line_with(s, "Check the cluster").contains("@bob")
    });
    a.wait_until("bob's take-over, live", |s| {
        Pane::line_with(s, "Check the cluster").contains("@bob")
    });

    // The shared chain says the same, in order, attributed.
    let rows = db.psql(&format!(
        "SELECT actor || ' ' || kind || ' ' || coalesce(step, '-') FROM stanch.event \
         WHERE incident_id = '{INC}' ORDER BY seq"
    ));
    let rows: Vec<&str> = rows.lines().collect();
    assert_eq!(rows[0], "alice incident.opened -");
    assert_eq!(rows[1], "alice step.claimed check-cluster");
    assert_eq!(rows[2], "alice step.started check-cluster");
    let taken = rows
        .iter()
        .position(|r| *r == "bob step.taken_over check-cluster")
        .expect("bob's take-over is journalled");
    assert!(
        rows[taken + 1..].contains(&"bob step.started check-cluster"),
        "{rows:?}"
    );

    // Command: bob cannot give roles; alice hands command over to him, both screens show it.
    let role = |url: &str, args: &[&str]| {
        Command::new(env!("CARGO_BIN_EXE_stanch"))
            .args(["team", "role", INC])
            .args(args)
            .args(["--team", url])
            .env("STANCH_DATA_DIR", work.path().join("cli"))
            .env_remove("STANCH_TEAM")
            .output()
            .unwrap()
    };
    let refused = role(&url_b, &["bob", "scribe"]);
    assert!(!refused.status.success());
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(stderr.contains("only the commander (alice)"), "{stderr}");
    let handed = role(&url_a, &["bob", "commander"]);
    assert!(
        handed.status.success(),
        "{}",
        String::from_utf8_lossy(&handed.stderr)
    );
    assert!(
        String::from_utf8_lossy(&handed.stdout).contains("Command handed over to bob"),
        "{}",
        String::from_utf8_lossy(&handed.stdout)
    );
    b.wait_for("bob (commander)");
    a.wait_for("alice (ops)");

    // Both quit; each one's local copy verifies.
    a.send(&["q"]);
    a.wait_for("EXITED 0");
    b.send(&["q"]);
    b.wait_for("EXITED 0");
    for data in [&data_a, &data_b] {
        let out = Command::new(env!("CARGO_BIN_EXE_stanch"))
            .args(["verify", INC])
            .env("STANCH_DATA_DIR", data)
            .env_remove("STANCH_TEAM")
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_headless_team_run_leaves_a_held_step_to_its_holder_and_waits_for_it() {
    const INC: &str = "INC-HEADLESS";
    let cluster = pg::shared();
    let Team {
        db,
        server: _server,
        work,
        runbook: rb_path,
    } = Team::new(INC).await;
    let rb = Arc::new(stanch::runbook::load(&rb_path).unwrap());

    // Alice opens the incident and claims the first step, but has not run it yet.
    let alice_dir = work.path().join("alice").join(INC);
    let session = Session::open(&db.as_user("alice"), INC, &alice_dir, Pace::default()).unwrap();
    let journal = Journal::shared(session);
    journal
        .append_blocking(NewEvent::new(
            Kind::IncidentOpened,
            json!({"incident_id": INC, "runbook_id": "team-tmux", "inputs": {},
                   "runbook_path": rb_path.display().to_string(), "drill": false}),
        ))
        .unwrap();
    journal
        .append_blocking(NewEvent::for_step(
            Kind::StepClaimed,
            "check-cluster",
            json!({}),
        ))
        .unwrap();

    // Bob's headless run: leaves it to alice and waits for it before its dependent.
    let mut bob = Command::new(env!("CARGO_BIN_EXE_stanch"))
        .args([
            "run",
            &rb_path.display().to_string(),
            "--headless",
            "--team",
            &cluster.socket_url("bob", &db.name),
            "--incident",
            INC,
            "--team-wait",
            "60",
        ])
        .env("STANCH_DATA_DIR", work.path().join("bob"))
        .env("NO_COLOR", "1")
        .env_remove("STANCH_TEAM")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = Lines::of(&mut bob);
    let held = lines.next("check-cluster", Duration::from_secs(30));
    assert!(held.starts_with("held"), "{held}");
    assert!(held.contains("held by alice: left to them"), "{held}");
    assert!(
        lines.quiet_for(Duration::from_millis(300)),
        "count-docs waits for alice"
    );

    // Alice runs her step; bob's run, woken by the feed, runs the dependent and finishes.
    let engine = Engine::new(
        Arc::clone(&rb),
        journal.clone(),
        Secrets::default(),
        EngineOptions::default(),
    )
    .unwrap();
    let incident = Incident::replay(stanch::journal::read(&alice_dir).unwrap());
    let (tx, _rx) = tokio::sync::mpsc::unbounded_channel();
    let outcome = engine
        .execute(
            "check-cluster",
            &incident,
            Decision::default(),
            tx,
            CancellationToken::new(),
        )
        .await;
    assert!(outcome.is_success(), "{outcome:?}");
    let ran = lines.next("count-docs", Duration::from_secs(30));
    assert!(ran.starts_with("ok"), "{ran}");
    let status = bob.wait().unwrap();
    assert!(status.success(), "bob's run exits 0");
    let rows = db.psql(&format!(
        "SELECT actor || ' ' || kind || ' ' || coalesce(step, '-') FROM stanch.event \
         WHERE incident_id = '{INC}' AND step IS NOT NULL ORDER BY seq"
    ));
    let rows: Vec<&str> = rows.lines().collect();
    assert!(
        !rows
            .iter()
            .any(|r| r.starts_with("bob") && r.ends_with("check-cluster")),
        "bob never touched alice's step: {rows:?}"
    );
    let done = rows
        .iter()
        .position(|r| *r == "alice step.succeeded check-cluster")
        .expect("alice finished it");
    let started = rows
        .iter()
        .position(|r| *r == "bob step.started count-docs")
        .expect("bob ran the dependent");
    assert!(done < started, "{rows:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_team_drill_runs_on_the_shared_chain_as_the_login_and_scores_there() {
    const INC: &str = "DRILL-TEAM";
    let cluster = pg::shared();
    let db = TeamDb::new(cluster).await;
    db.add("alice", "commander", None).await;
    let data = tempfile::tempdir().unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_stanch"))
        .args(["drill", "--auto", "--incident", INC, "--team"])
        .arg(cluster.socket_url("alice", &db.name))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env("STANCH_DATA_DIR", data.path())
        .env_remove("STANCH_TEAM")
        .env_remove("STANCH_ES_API_KEY")
        .env_remove("STANCH_OAUTH_SECRET")
        .env_remove("STANCH_FORUM_TOKEN")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    // Created on the server by alice (she commands it); every event hers, the score included.
    let actors = db.psql(&format!(
        "SELECT DISTINCT actor FROM stanch.event WHERE incident_id = '{INC}'"
    ));
    assert_eq!(actors.trim(), "alice");
    let kinds = db.psql(&format!(
        "SELECT kind FROM stanch.event WHERE incident_id = '{INC}' ORDER BY seq"
    ));
    assert!(kinds.starts_with("incident.opened\nfact"), "{kinds}");
    assert!(kinds.contains("step.claimed"), "{kinds}");
    assert!(kinds.trim_end().ends_with("drill.score"), "{kinds}");
    let verify = Command::new(env!("CARGO_BIN_EXE_stanch"))
        .args(["verify", INC])
        .env("STANCH_DATA_DIR", data.path())
        .env_remove("STANCH_TEAM")
        .output()
        .unwrap();
    assert!(verify.status.success(), "the local copy verifies");
}
