//! The offline chain through the real binary: bob's `stanch run --headless --team` reaches
//! PostgreSQL through a loopback proxy. His first step calls an HTTP service that cuts the
//! proxy and, once PostgreSQL has seen bob's connections close, has alice (online) take the
//! step over and do it too, then answers: bob's outcome is written with the link down, goes
//! to the pending sub-chain (he held the step), and the run goes on and says so. His next
//! step, not claimed before the drop, is refused with "needs the team link" and never sent.
//! The test heals the link when the run says it is waiting to merge; bob's writer merges, the
//! run prints the conflict (the step done twice) and the merge, and exits with its verdict (1:
//! one step refused); `stanch verify` passes on his mirror, and the shared chain holds every
//! pending event once (copied with `data.offline`), one `sync.merged`, no pending file left.
//!
//! Every wait is on a signal with a deadline: the run's output lines, PostgreSQL's view of
//! bob's connections (polled with a deadline), the process's exit.

use crate::support::pg;
use crate::support::proxy::Proxy;
use crate::support::team::{Lines, TeamDb};

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use stanch::journal::{Journal, Kind, NewEvent};
use stanch::team::Session;
use stanch::team::follow::Pace;

const INC: &str = "INC-OFFWIRE";

/// An HTTP service whose `/cut` drops the team link, and once bob is cut off has alice (still
/// online) take his step over and do it, then answers.
async fn cutting_service(
    proxy: Arc<Proxy>,
    cluster: &'static pg::Cluster,
    db: String,
    alice: Journal,
) -> String {
    let app = axum::Router::new().route(
        "/cut",
        axum::routing::get(move || {
            let (proxy, db, alice) = (Arc::clone(&proxy), db.clone(), alice.clone());
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "one scenario in the order it happens: online, cut mid-step, pending, heal, merge, verify"
)]
async fn a_headless_run_goes_on_offline_and_merges_when_the_link_heals() {
    let cluster = pg::shared();
    let db = TeamDb::new(cluster).await;
    db.add("alice", "commander", Some(INC)).await;
    db.add("bob", "ops", Some(INC)).await;
    let proxy = Arc::new(Proxy::start(cluster.port).await);
    let work = tempfile::tempdir().unwrap();
    let rb_path = work.path().join("offwire.toml");

    // Alice opens the incident (directly, over the socket).
    let alice_dir = work.path().join("alice").join(INC);
    let session = Session::open(&db.as_user("alice"), INC, &alice_dir, Pace::default()).unwrap();
    let journal = Journal::shared(session);
    journal
        .append_blocking(NewEvent::new(
            Kind::IncidentOpened,
            json!({"incident_id": INC, "runbook_id": "offwire", "inputs": {},
                   "runbook_path": rb_path.display().to_string(), "drill": false}),
        ))
        .unwrap();

    let service = cutting_service(
        Arc::clone(&proxy),
        cluster,
        db.name.clone(),
        journal.clone(),
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
http = {{ target = "api", method = "GET", path = "/cut" }}
"#
        ),
    )
    .unwrap();

    // Bob's headless run, through the proxy (TLS + SCRAM end to end).
    let bob_data = work.path().join("bob");
    let mut bob = Command::new(env!("CARGO_BIN_EXE_stanch"))
        .args([
            "run",
            &rb_path.display().to_string(),
            "--headless",
            "--team",
        ])
        .arg(proxy.url(cluster, "bob", &db.name))
        .args(["--incident", INC, "--team-wait", "60"])
        .env("STANCH_DATA_DIR", &bob_data)
        .env("NO_COLOR", "1")
        .env_remove("STANCH_TEAM")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
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
