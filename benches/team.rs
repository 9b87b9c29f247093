//! Team-mode figures on a real PostgreSQL 15 (started here, durable: fsync and synchronous
//! commit on), run by `bench/team-bench.sh`:
//!
//! 1. appends per second with 8 responders into one chain (goal ≥ 1,000/s): first each
//!    append its own transaction under the incident's advisory lock (bound by one WAL flush
//!    per append), then each responder's events group-committed by an [`Appender`];
//! 2. a teammate's event visible to LISTENing followers, p50/p95, with 4 responders (from the
//!    moment the appender calls `append` to the moment another responder's follower has it
//!    verified in its mirror; goal p95 < 50 ms on loopback);
//! 3. catch-up of 100,000 events into an empty mirror (fetch, verify every link, write).
//!
//! `cargo bench --bench team -- --bench [--appends N] [--group N] [--samples N] [--catchup N]`

#[path = "../tests/support/pg.rs"]
#[allow(dead_code, clippy::all, clippy::pedantic)]
mod pg;

use std::time::{Duration, Instant};

use serde_json::json;
use stanch::journal::{Kind, NewEvent};
use stanch::secret::Redactor;
use stanch::team::follow::Pace;
use stanch::team::schema::{self, NewResponder};
use stanch::team::{Appender, Chain, Follower, Mirror, Target, Update, mirror};

fn note(text: &str) -> NewEvent {
    NewEvent::new(Kind::Note, json!({"text": text, "tags": ["bench"]}))
}

fn arg(name: &str, default: usize) -> usize {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
    sorted[i]
}

async fn add(cluster: &pg::Cluster, db: &str, login: &str, incident: &str) {
    let mut client = Target::parse(&cluster.admin_url(db))
        .unwrap()
        .connect()
        .await
        .unwrap();
    schema::add_responder(
        &mut client,
        &NewResponder {
            login,
            role: "ops",
            incident: Some(incident),
            password: None,
        },
    )
    .await
    .unwrap();
}

async fn fresh_db(cluster: &pg::Cluster) -> String {
    let db = cluster.database();
    let mut client = Target::parse(&cluster.admin_url(&db))
        .unwrap()
        .connect()
        .await
        .unwrap();
    schema::migrate(&mut client, "bench").await.unwrap();
    db
}

#[allow(clippy::cast_precision_loss)]
async fn appends(cluster: &pg::Cluster, per_responder: usize) {
    let db = fresh_db(cluster).await;
    let inc = "BENCH-APPEND";
    let mut chains = Vec::new();
    for i in 0..8 {
        let login = format!("r{i}");
        add(cluster, &db, &login, inc).await;
        let target = Target::parse(&cluster.socket_url(&login, &db)).unwrap();
        chains.push(Chain::open(&target, inc).await.unwrap());
    }
    let start = Instant::now();
    let mut tasks = Vec::new();
    for mut chain in chains {
        tasks.push(tokio::spawn(async move {
            for i in 0..per_responder {
                chain
                    .append(vec![note(&format!("event {i}"))], &Redactor::default())
                    .await
                    .unwrap();
            }
            chain.retries
        }));
    }
    let mut retries = 0;
    for t in tasks {
        retries += t.await.unwrap();
    }
    let elapsed = start.elapsed();
    let total = 8 * per_responder;
    println!(
        "appends: 8 responders x {per_responder} single-event transactions = {total} events in {:.2} s: {:.0} appends/s ({retries} conflict retries)",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
}

/// 8 responders, each with one group-committing [`Appender`] shared by `tasks` concurrent
/// tasks (a responder's engine, foreach items and notes all append at once).
#[allow(clippy::cast_precision_loss)]
async fn group_commit_appends(cluster: &pg::Cluster, per_responder: usize, tasks: usize) {
    let db = fresh_db(cluster).await;
    let inc = "BENCH-GROUP";
    let mut appenders = Vec::new();
    for i in 0..8 {
        let login = format!("g{i}");
        add(cluster, &db, &login, inc).await;
        let target = Target::parse(&cluster.socket_url(&login, &db)).unwrap();
        let chain = Chain::open(&target, inc).await.unwrap();
        appenders.push(Appender::spawn(chain, Redactor::default()));
    }
    let start = Instant::now();
    let mut handles = Vec::new();
    for appender in &appenders {
        for t in 0..tasks {
            let appender = appender.clone();
            let n = per_responder / tasks;
            handles.push(tokio::spawn(async move {
                for i in 0..n {
                    appender
                        .append(note(&format!("task {t} event {i}")))
                        .await
                        .unwrap();
                }
            }));
        }
    }
    for h in handles {
        h.await.unwrap();
    }
    let elapsed = start.elapsed();
    let total = 8 * (per_responder / tasks) * tasks;
    let transactions: usize = cluster
        .psql(
            &db,
            &format!(
                "SELECT count(DISTINCT xmin::text) FROM stanch.event WHERE incident_id = '{inc}'"
            ),
        )
        .trim()
        .parse()
        .unwrap();
    println!(
        "appends, group commit: 8 responders x {tasks} concurrent tasks = {total} events in {:.2} s: {:.0} events/s in {transactions} transactions",
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64()
    );
}

async fn visibility(cluster: &pg::Cluster, samples: usize) {
    let db = fresh_db(cluster).await;
    let inc = "BENCH-LIVE";
    let logins = ["a", "b", "c", "d"];
    let dirs = tempfile::tempdir().unwrap();
    let mut chains = Vec::new();
    let mut followers = Vec::new();
    for login in logins {
        add(cluster, &db, login, inc).await;
        let target = Target::parse(&cluster.socket_url(login, &db)).unwrap();
        chains.push(Chain::open(&target, inc).await.unwrap());
        let local = Mirror::open(&dirs.path().join(login), login).unwrap();
        let pace = Pace {
            poll: Duration::from_hours(1),
            reconnect: Duration::from_millis(100),
        };
        let mut follower = Follower::spawn(target, inc.to_owned(), local, pace);
        // Wait for its first catch-up (it is listening from then on).
        loop {
            if let Some(Update::CaughtUp(_)) = follower.updates_rx.recv().await {
                break;
            }
        }
        followers.push(follower);
    }
    let mut latencies = Vec::with_capacity(samples * 3);
    for i in 0..samples {
        let who = i % logins.len();
        let start = Instant::now();
        let seq = chains[who]
            .append(vec![note(&format!("sample {i}"))], &Redactor::default())
            .await
            .unwrap()[0]
            .seq;
        for (j, follower) in followers.iter_mut().enumerate() {
            if j == who {
                continue;
            }
            'wait: loop {
                match follower.updates_rx.recv().await {
                    Some(Update::Events(events)) if events.iter().any(|e| e.seq == seq) => {
                        latencies.push(start.elapsed());
                        break 'wait;
                    }
                    Some(Update::Disconnected(e) | Update::Rewritten(e)) => panic!("{e}"),
                    Some(_) => {}
                    None => panic!("follower stopped"),
                }
            }
        }
        // Drain the appender's own follower so its queue never fills.
        while let Ok(update) = followers[who].updates_rx.try_recv() {
            drop(update);
        }
        // A responder's pace, not a flood: each sample measures one event on a quiet chain.
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    latencies.sort();
    println!(
        "visible to teammates: 4 responders, {} observations ({samples} events x 3 followers): p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        latencies.len(),
        percentile(&latencies, 0.50).as_secs_f64() * 1e3,
        percentile(&latencies, 0.95).as_secs_f64() * 1e3,
        latencies.last().copied().unwrap_or_default().as_secs_f64() * 1e3,
    );
}

#[allow(clippy::cast_precision_loss)]
async fn catch_up(cluster: &pg::Cluster, events: usize) {
    let db = fresh_db(cluster).await;
    let inc = "BENCH-CATCHUP";
    add(cluster, &db, "w", inc).await;
    let target = Target::parse(&cluster.socket_url("w", &db)).unwrap();
    let mut chain = Chain::open(&target, inc).await.unwrap();
    let fill = Instant::now();
    let mut left = events;
    while left > 0 {
        let n = left.min(1_000);
        let batch = (0..n)
            .map(|i| note(&format!("filler {i}: a line of ordinary incident text")))
            .collect();
        chain.append(batch, &Redactor::default()).await.unwrap();
        left -= n;
    }
    let fill = fill.elapsed();
    let dir = tempfile::tempdir().unwrap();
    let mut local = Mirror::open(&dir.path().join(inc), "w").unwrap();
    let start = Instant::now();
    let n = mirror::sync(&chain, &mut local, |_| {}).await.unwrap();
    let elapsed = start.elapsed();
    let bytes =
        std::fs::metadata(dir.path().join(inc).join("journal.jsonl")).map_or(0, |m| m.len());
    println!(
        "catch-up: {n} events ({:.1} MiB of journal) fetched, verified and mirrored in {:.2} s ({:.0} events/s); filling them took {:.2} s in batches of 1,000",
        bytes as f64 / 1_048_576.0,
        elapsed.as_secs_f64(),
        n as f64 / elapsed.as_secs_f64(),
        fill.as_secs_f64()
    );
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would run this too: only run
    // when asked for as a benchmark.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let cluster = pg::Cluster::start_durable();
    runtime.block_on(async {
        appends(&cluster, arg("--appends", 200)).await;
        group_commit_appends(&cluster, arg("--group", 2_000), arg("--tasks", 16)).await;
        visibility(&cluster, arg("--samples", 200)).await;
        catch_up(&cluster, arg("--catchup", 100_000)).await;
    });
}
