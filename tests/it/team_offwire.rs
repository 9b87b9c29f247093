//! The offline chain through the real binary: bob's `stanch run --headless --team` reaches
//! PostgreSQL through a loopback proxy. His first step calls an HTTP service that cuts the
//! proxy and, once PostgreSQL has seen bob's connections close, has alice (online) take the
//! step over and do it too, then answers: bob's outcome is written with the link down, goes
//! to the pending sub-chain (he held the step), and the run goes on and says so. His next
//! step, not claimed before the drop, is refused with "needs the team link" and never sent.
//! The test heals the link when the run says it is waiting to merge; bob's writer merges, the
//! run prints the conflict (the step done twice) and the merge, and exits with its verdict (1:
//! one step refused); `stanch verify` passes on his mirror, and the shared chain holds every
//! pending event once (copied with `data.offline`, or as its own commit when that was in flight as
//! the link dropped), one `sync.merged`, no pending file left.
//! Then a run that ends while the link is still down: its wait runs out, it says where the
//! pending events are kept; the next run (link back) counts the step as done, never sends it
//! again, runs the rest, and the kept events are merged.
//!
//! Every wait is on a signal with a deadline: the run's output lines, PostgreSQL's view of
//! bob's connections (polled with a deadline), the process's exit.

use crate::support::pg;
use crate::support::proxy::Proxy;
use crate::support::team::{Lines, TeamDb};

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::json;
use stanch::journal::{Journal, Kind, NewEvent};
use stanch::team::Session;
use stanch::team::follow::Pace;

const INC: &str = "INC-OFFWIRE";

/// An HTTP service whose `/cut` drops the team link, and once bob is cut off has alice (still
/// online) take his step over and do it, then answers.
/// `/ok` just answers. `cuts` counts the calls of `/cut`.
async fn cutting_service(
    proxy: Arc<Proxy>,
    cluster: &'static pg::Cluster,
    db: String,
    alice: Journal,
    cuts: Arc<AtomicUsize>,
) -> String {
    let app = axum::Router::new()
        .route(
            "/ok",
            axum::routing::get(|| async { axum::Json(json!({"ok": true})) }),
        )
        .route(
            "/cut",
            axum::routing::get(move || {
                let (proxy, db, alice) = (Arc::clone(&proxy), db.clone(), alice.clone());
                cuts.fetch_add(1, Ordering::SeqCst);
                async move {
                    proxy.cut();
                    tokio::task::spawn_blocking(move || {
                        let deadline = Instant::now() + Duration::from_secs(20);
                        loop {
                            let n = cluster.psql(
                                &db,
                                "SELECT count(*) FROM pg_stat_activity WHERE usename = 'bob'",
                            );
                            if n.trim() == "0" {
                                break;
                            }
                            assert!(
                                Instant::now() < deadline,
                                "bob's connections stay open: {n}"
                            );
                            std::thread::sleep(Duration::from_millis(50));
                        }
                        for (kind, data) in [
                            (
                                Kind::StepTakenOver,
                                json!({"from": "bob", "reason": "bob is gone"}),
                            ),
                            (Kind::StepStarted, json!({"attempt": 1, "rerun": false})),
                            (
                                Kind::StepSucceeded,
                                json!({"duration_ms": 9, "summary": "done", "captures": {}}),
                            ),
                        ] {
                            alice
                                .append_blocking(NewEvent::for_step(kind, "snapshot", data))
                                .unwrap();
                        }
                    })
                    .await
                    .unwrap();
                    axum::Json(json!({"cut": true}))
                }
            }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

/// The incident alice opened, the proxy bob goes through, the service, the runbook.
struct Setup {
    cluster: &'static pg::Cluster,
    db: TeamDb<'static>,
    proxy: Arc<Proxy>,
    work: tempfile::TempDir,
    rb_path: std::path::PathBuf,
    inc: String,
    /// Alice's session (kept open: she is online throughout).
    _alice: Journal,
    cuts: Arc<AtomicUsize>,
}

impl Setup {
    async fn new(inc: &str) -> Setup {
        let cluster = pg::shared();
        let db = TeamDb::new(cluster).await;
        db.add("alice", "commander", Some(inc)).await;
        db.add("bob", "ops", Some(inc)).await;
        let proxy = Arc::new(Proxy::start(cluster.port).await);
        let cuts = Arc::new(AtomicUsize::new(0));
        let work = tempfile::tempdir().unwrap();
        let rb_path = work.path().join("offwire.toml");

        // Alice opens the incident (directly, over the socket).
        let alice_dir = work.path().join("alice").join(inc);
        let session =
            Session::open(&db.as_user("alice"), inc, &alice_dir, Pace::default()).unwrap();
        let journal = Journal::shared(session);
        journal
            .append_blocking(NewEvent::new(
                Kind::IncidentOpened,
                json!({"incident_id": inc, "runbook_id": "offwire", "inputs": {},
                   "runbook_path": rb_path.display().to_string(), "drill": false}),
            ))
            .unwrap();

        let service = cutting_service(
            Arc::clone(&proxy),
            cluster,
            db.name.clone(),
            journal.clone(),
            Arc::clone(&cuts),
        )
        .await;
        std::fs::write(
            &rb_path,
            format!(
                r#"
[runbook]
id = "offwire"
title = "Offwire"

[targets.api]
url = "{service}"
timeout = "30s"

[[steps]]
id = "snapshot"
phase = "confirm"
title = "Snapshot, while the link drops"
http = {{ target = "api", method = "GET", path = "/cut" }}

[[steps]]
id = "rotate"
phase = "contain"
title = "Rotate, not claimed before the link dropped"
http = {{ target = "api", method = "GET", path = "/ok" }}
"#
            ),
        )
        .unwrap();

        Setup {
            cluster,
            db,
            proxy,
            work,
            rb_path,
            inc: inc.to_owned(),
            _alice: journal,
            cuts,
        }
    }

    /// Bob's headless run, through the proxy (TLS + SCRAM end to end), waiting up to
    /// `wait_s` for teammates and the merge.
    fn bob_run(&self, data: &std::path::Path, wait_s: u64) -> std::process::Child {
        Command::new(env!("CARGO_BIN_EXE_stanch"))
            .args([
                "run",
                &self.rb_path.display().to_string(),
                "--headless",
                "--team",
            ])
            .arg(self.proxy.url(self.cluster, "bob", &self.db.name))
            .args(["--incident", &self.inc, "--team-wait", &wait_s.to_string()])
            .env("STANCH_DATA_DIR", data)
            .env("NO_COLOR", "1")
            .env_remove("STANCH_TEAM")
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_headless_run_goes_on_offline_and_merges_when_the_link_heals() {
    let team = Setup::new(INC).await;
    let (db, proxy, work) = (&team.db, &team.proxy, &team.work);
    let bob_data = work.path().join("bob");
    let mut bob = team.bob_run(&bob_data, 60);
    let mut lines = Lines::of(&mut bob);
    let mut next_line = |what: &str| lines.next(what, Duration::from_mins(1));

    // The step's outcome was written offline: the run goes on and says it is pending.
    let step = next_line("snapshot");
    assert!(step.starts_with("ok"), "{step}");
    assert!(step.contains("offline: pending"), "{step}");
    // A step not claimed yet cannot be claimed offline: refused, said on its line, not sent.
    let refused = next_line("rotate");
    assert!(refused.starts_with("FAILED"), "{refused}");
    assert!(
        refused
            .contains("step.claimed needs the team link: claims and take-overs need the team link"),
        "{refused}"
    );
    let waiting = next_line("offline — ");
    assert!(waiting.contains("pending: waiting up to 60s"), "{waiting}");
    let pending_file = bob_data
        .join("incidents")
        .join(INC)
        .join(stanch::team::pending::PENDING_FILE);
    let pending_lines = std::fs::read_to_string(&pending_file)
        .expect("the pending sub-chain is on disk")
        .lines()
        .count();
    assert!(pending_lines >= 1, "at least the outcome is pending");
    assert!(
        waiting.contains(&format!("{pending_lines} pending")),
        "{waiting}"
    );

    // Heal: the writer merges, the follower brings the merged copies, the run says so.
    proxy.heal();
    // Alice did the step too while bob was cut off: the merge names the conflict.
    let conflict = next_line("CONFLICT");
    assert!(
        conflict.starts_with("CONFLICT: step snapshot was also done by alice (seq "),
        "{conflict}"
    );
    let merged = next_line("merged:");
    assert!(
        merged.contains(&format!("merged: {pending_lines} pending events")),
        "{merged}"
    );
    let status = bob.wait().unwrap();
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut bob.stderr.take().unwrap(), &mut stderr).unwrap();
    // The verdict is the run's: one step done (offline), one refused.
    assert_eq!(status.code(), Some(1), "{stderr}");
    let done = next_line("NOT DONE");
    assert!(done.contains("1 ok, 1 failed"), "{done}");
    assert!(
        std::fs::read_to_string(&pending_file)
            .unwrap_or_default()
            .is_empty(),
        "the merge cleared the pending file"
    );

    // Bob's mirror verifies.
    let verify = Command::new(env!("CARGO_BIN_EXE_stanch"))
        .args(["verify", INC])
        .env("STANCH_DATA_DIR", &bob_data)
        .env_remove("STANCH_TEAM")
        .output()
        .unwrap();
    assert!(
        verify.status.success(),
        "{}",
        String::from_utf8_lossy(&verify.stderr)
    );

    // The shared chain: each pending event copied once (by its local hash), one merge event,
    // the step done once, and the claim before the copies.
    let rows = db.psql(&format!(
        "SELECT actor || ' ' || kind || ' ' || coalesce(step, '-') || ' ' || \
         coalesce(convert_from(canonical, 'UTF8')::jsonb->'data'->'offline'->>'hash', '-') \
         FROM stanch.event \
         WHERE incident_id = '{INC}' ORDER BY seq"
    ));
    let rows: Vec<&str> = rows.lines().collect();
    let copies: Vec<&str> = rows
        .iter()
        .copied()
        .filter(|r| !r.ends_with(" -"))
        .collect();
    assert_eq!(copies.len(), pending_lines, "{rows:?}");
    let mut hashes: Vec<&str> = copies.iter().filter_map(|r| r.rsplit(' ').next()).collect();
    hashes.sort_unstable();
    hashes.dedup();
    assert_eq!(
        hashes.len(),
        pending_lines,
        "each pending event once: {rows:?}"
    );
    assert!(copies.iter().all(|r| r.starts_with("bob ")), "{rows:?}");
    let count = |what: &str| rows.iter().filter(|r| r.starts_with(what)).count();
    assert_eq!(count("bob step.succeeded snapshot"), 1, "{rows:?}");
    assert_eq!(count("alice step.succeeded snapshot"), 1, "{rows:?}");
    assert_eq!(count("bob step.claimed snapshot"), 1, "{rows:?}");
    assert_eq!(count("bob sync.merged"), 1, "{rows:?}");
    assert_eq!(count("bob step.claimed rotate"), 0, "{rows:?}");
    assert!(
        copies
            .iter()
            .any(|r| r.starts_with("bob step.succeeded snapshot")),
        "the outcome was written offline: {rows:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_that_ends_offline_keeps_its_work_and_the_next_run_counts_it_and_merges_it() {
    const INC2: &str = "INC-OFFWIRE-2";
    let team = Setup::new(INC2).await;
    let bob_data = team.work.path().join("bob");
    let pending_file = bob_data
        .join("incidents")
        .join(INC2)
        .join(stanch::team::pending::PENDING_FILE);

    // First run: the link drops during the step and does not come back within its 1 s wait.
    let mut first = team.bob_run(&bob_data, 1);
    let mut lines = Lines::of(&mut first);
    let step = lines.next("snapshot", Duration::from_mins(1));
    assert!(step.contains("offline: pending"), "{step}");
    let waiting = lines.next("offline — ", Duration::from_mins(1));
    assert!(waiting.contains("waiting up to 1s"), "{waiting}");
    let kept = lines.next("kept in", Duration::from_mins(1));
    assert!(kept.contains(&pending_file.display().to_string()), "{kept}");
    first.wait().unwrap();
    // Each kept line: the event as written locally, and `tried` when its commit was in flight
    // as the link dropped (the server may hold it already: then the merge must not copy it).
    let kept: Vec<(String, Option<String>)> = std::fs::read_to_string(&pending_file)
        .unwrap()
        .lines()
        .map(|line| {
            let line: serde_json::Value = serde_json::from_str(line).unwrap();
            let hash = line["event"]["hash"].as_str().unwrap().to_owned();
            (hash, line["tried"].as_str().map(str::to_owned))
        })
        .collect();
    assert!(!kept.is_empty(), "the outcome is kept pending");

    // Second run, link healed: the step done offline counts (not sent again), the rest runs,
    // and the kept events are merged.
    team.proxy.heal();
    let mut second = team.bob_run(&bob_data, 60);
    let mut lines = Lines::of(&mut second);
    let again = lines.next("snapshot", Duration::from_mins(1));
    assert!(again.starts_with("done"), "{again}");
    let rotate = lines.next("rotate", Duration::from_mins(1));
    assert!(rotate.starts_with("ok"), "{rotate}");
    let status = second.wait().unwrap();
    assert!(status.success(), "{:?}", lines.seen);
    assert_eq!(
        team.cuts.load(Ordering::SeqCst),
        1,
        "the step was sent once"
    );
    assert!(
        std::fs::read_to_string(&pending_file)
            .unwrap_or_default()
            .is_empty(),
        "merged and cleared"
    );
    // Every kept event is on the shared chain exactly once: copied with `data.offline` naming
    // its local hash, or (only if its commit was in flight when the link dropped) as that
    // commit. Which of the two depends on when the link dropped; the sum never does.
    let count = |sql: String| team.db.psql(&sql).trim().parse::<usize>().unwrap();
    for (hash, tried) in &kept {
        let copied = count(format!(
            "SELECT count(*) FROM stanch.event WHERE incident_id = '{INC2}' AND \
             convert_from(canonical, 'UTF8')::jsonb->'data'->'offline'->>'hash' = '{hash}'"
        ));
        let committed = tried.as_ref().map_or(0, |tried| {
            count(format!(
                "SELECT count(*) FROM stanch.event WHERE incident_id = '{INC2}' AND hash = '{tried}'"
            ))
        });
        assert_eq!(copied + committed, 1, "kept event {hash} (tried {tried:?})");
    }
    let copies = count(format!(
        "SELECT count(*) FROM stanch.event WHERE incident_id = '{INC2}' AND \
         convert_from(canonical, 'UTF8')::jsonb->'data' ? 'offline'"
    ));
    assert!(
        copies <= kept.len(),
        "{copies} copies of {} kept events",
        kept.len()
    );
}
