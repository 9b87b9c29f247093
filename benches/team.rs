//! Team-mode figures on a real PostgreSQL 15 (started here, durable: fsync and synchronous
//! commit on), run by `bench/team-bench.sh`:
//!
//! 1. appends per second with 8 responders into one chain (goal ≥ 1,000/s): first each
//!    append its own transaction under the incident's advisory lock (bound by one WAL flush
//!    per append), then each responder's events group-committed by an [`Appender`];
//! 2. a teammate's event visible to LISTENing followers, p50/p95, with 4 responders (from the
//!    moment the appender calls `append` to the moment another responder's follower has it
//!    verified in its mirror; goal p95 < 50 ms on loopback);
//! 3. catch-up of 100,000 events into an empty mirror (fetch, verify every link, write);
//! 4. the offline merge: a pending sub-chain of 2,000 events (each synced to disk as it is
//!    written) re-sequenced onto the shared chain after 1,000 teammates' events.
//!
//! `cargo bench --bench team -- --bench [--appends N] [--group N] [--tasks N] [--samples N]
//! [--catchup N] [--merge N] [--only appends|group|visibility|catchup|merge] [--no-fsync]`

#[path = "../tests/it/support/pg.rs"]
#[allow(dead_code, clippy::all, clippy::pedantic)]
mod pg;

use std::sync::{Arc, Barrier};
use std::time::{Duration, Instant};

use serde_json::json;
use stanch::journal::{Kind, NewEvent};
use stanch::secret::Redactor;
use stanch::team::chain::Proposed;
use stanch::team::follow::Pace;
use stanch::team::merge::{MERGE_BATCH, merge};
use stanch::team::pending::Pending;
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

/// Run `work` as one responder would: its own OS thread and its own single-threaded runtime
/// (responders are separate processes on separate machines; one shared runtime would make
/// them wait on each other's wake-ups).
fn responder<T: Send + 'static>(
    work: impl FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = T>>> + Send + 'static,
) -> std::thread::JoinHandle<T> {
    std::thread::spawn(move || {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(work())
    })
}

async fn chain_for(socket_url: String, inc: &'static str) -> Chain {
    Chain::open(&Target::parse(&socket_url).unwrap(), inc)
        .await
        .unwrap()
}

#[allow(clippy::cast_precision_loss)]
async fn appends(cluster: &pg::Cluster, per_responder: usize) {
    let db = fresh_db(cluster).await;
    let inc = "BENCH-APPEND";
    let start_line = Arc::new(Barrier::new(9));
    let mut threads = Vec::new();
    for i in 0..8 {
        let login = format!("r{i}");
        add(cluster, &db, &login, inc).await;
        let url = cluster.socket_url(&login, &db);
        let start_line = Arc::clone(&start_line);
        threads.push(responder(move || {
            Box::pin(async move {
                let mut chain = chain_for(url, inc).await;
                start_line.wait();
                for i in 0..per_responder {
                    chain
                        .append(vec![note(&format!("event {i}"))], &Redactor::default())
                        .await
                        .unwrap();
                }
                chain.retries
            })
        }));
    }
    start_line.wait();
    let start = Instant::now();
    let retries: u64 = threads.into_iter().map(|t| t.join().unwrap()).sum();
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
    let start_line = Arc::new(Barrier::new(9));
    let mut threads = Vec::new();
    let n = per_responder / tasks;
    for i in 0..8 {
        let login = format!("g{i}");
        add(cluster, &db, &login, inc).await;
        let url = cluster.socket_url(&login, &db);
        let start_line = Arc::clone(&start_line);
        threads.push(responder(move || {
            Box::pin(async move {
                let target = Target::parse(&url).unwrap();
                let appender =
                    Appender::spawn(chain_for(url, inc).await, target, Redactor::default());
                start_line.wait();
                let handles: Vec<_> = (0..tasks)
                    .map(|t| {
                        let appender = appender.clone();
                        tokio::spawn(async move {
                            for i in 0..n {
                                appender
                                    .append(note(&format!("task {t} event {i}")))
                                    .await
                                    .unwrap();
                            }
                        })
                    })
                    .collect();
                for h in handles {
                    h.await.unwrap();
                }
            })
        }));
    }
    start_line.wait();
    let start = Instant::now();
    for t in threads {
        t.join().unwrap();
    }
    let elapsed = start.elapsed();
    let total = 8 * n * tasks;
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

/// What the responders of the visibility run tell the conductor.
enum Seen {
    Appended { seq: u64, at: Instant },
    Verified { who: usize, seq: u64, at: Instant },
}

/// 4 responders, each appending on the conductor's cue and following the chain; the latency
/// is from a responder calling `append` to another responder's follower having the event.
#[expect(
    clippy::too_many_lines,
    reason = "one measurement: start the followers, append, time each arrival, report"
)]
async fn visibility(cluster: &pg::Cluster, samples: usize) {
    let db = fresh_db(cluster).await;
    let inc = "BENCH-LIVE";
    let dirs = tempfile::tempdir().unwrap();
    let (seen_tx, seen_rx) = std::sync::mpsc::channel::<Seen>();
    let mut cues = Vec::new();
    let ready = Arc::new(Barrier::new(5));
    for who in 0..4 {
        let login = format!("v{who}");
        add(cluster, &db, &login, inc).await;
        let url = cluster.socket_url(&login, &db);
        let dir = dirs.path().join(&login);
        let (cue_tx, mut cue_rx) = tokio::sync::mpsc::unbounded_channel::<usize>();
        cues.push(cue_tx);
        let seen_tx = seen_tx.clone();
        let ready = Arc::clone(&ready);
        responder(move || {
            Box::pin(async move {
                let target = Target::parse(&url).unwrap();
                let mut chain = Chain::open(&target, inc).await.unwrap();
                let pace = Pace {
                    poll: Duration::from_hours(1),
                    reconnect: Duration::from_millis(100),
                };
                let mut follower = Follower::spawn(
                    target,
                    inc.to_owned(),
                    Mirror::open(&dir, &login).unwrap(),
                    pace,
                );
                // Listening from its first catch-up on.
                while !matches!(follower.updates_rx.recv().await, Some(Update::CaughtUp(_))) {}
                ready.wait();
                loop {
                    tokio::select! {
                        cue = cue_rx.recv() => {
                            let Some(i) = cue else { return };
                            let at = Instant::now();
                            let events = chain
                                .append(vec![note(&format!("sample {i}"))], &Redactor::default())
                                .await
                                .unwrap();
                            let _ = seen_tx.send(Seen::Appended { seq: events[0].seq, at });
                        }
                        update = follower.updates_rx.recv() => match update {
                            Some(Update::Events(events)) => {
                                let at = Instant::now();
                                for e in events {
                                    let _ = seen_tx.send(Seen::Verified { who, seq: e.seq, at });
                                }
                            }
                            Some(Update::Disconnected(e) | Update::Rewritten(e)) => panic!("{e}"),
                            Some(Update::CaughtUp(_)) => {}
                            None => return,
                        },
                    }
                }
            })
        });
    }
    ready.wait();
    let mut latencies = Vec::with_capacity(samples * 3);
    let mut early: Vec<(usize, u64, Instant)> = Vec::new();
    for i in 0..samples {
        let author = i % 4;
        cues[author].send(i).unwrap();
        let (mut seq, mut start) = (None, None);
        let mut verified: Vec<(usize, Instant)> = Vec::new();
        while seq.is_none() || verified.len() < 3 {
            match seen_rx.recv_timeout(Duration::from_secs(30)).unwrap() {
                Seen::Appended { seq: s, at } => {
                    seq = Some(s);
                    start = Some(at);
                    verified.extend(
                        early
                            .drain(..)
                            .filter(|(w, es, _)| *es == s && *w != author)
                            .map(|(w, _, at)| (w, at)),
                    );
                }
                Seen::Verified { who, seq: s, at } => match seq {
                    Some(expected) if s == expected && who != author => verified.push((who, at)),
                    Some(_) => {}
                    None => early.push((who, s, at)),
                },
            }
        }
        let start = start.unwrap();
        latencies.extend(verified.iter().map(|(_, at)| at.duration_since(start)));
        early.clear();
        // A responder's pace, not a flood: each sample measures one event on a quiet chain.
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(cues);
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

#[allow(clippy::cast_precision_loss)]
async fn offline_merge(cluster: &pg::Cluster, events: usize) {
    let db = fresh_db(cluster).await;
    let inc = "BENCH-MERGE";
    add(cluster, &db, "w", inc).await;
    add(cluster, &db, "t", inc).await;
    let mut chain = chain_for(cluster.socket_url("w", &db), inc).await;
    let mut teammate = chain_for(cluster.socket_url("t", &db), inc).await;
    let root = chain
        .append(vec![note("before the link dropped")], &Redactor::default())
        .await
        .unwrap()
        .remove(0);
    let dir = tempfile::tempdir().unwrap();
    let mut pending = Pending::open(dir.path()).unwrap();
    let write = Instant::now();
    for i in 0..events {
        let proposed = Proposed::of(&note(&format!(
            "offline {i}: a line of ordinary incident text"
        )));
        pending
            .push((root.seq, &root.hash), "w", proposed, None)
            .unwrap();
    }
    let write = write.elapsed();
    let batch = (0..1_000).map(|i| note(&format!("teammate {i}"))).collect();
    teammate.append(batch, &Redactor::default()).await.unwrap();
    let start = Instant::now();
    let merged = merge(&mut chain, &mut pending, MERGE_BATCH)
        .await
        .unwrap()
        .unwrap();
    let elapsed = start.elapsed();
    println!(
        "offline merge: {} pending events re-sequenced after 1,000 teammates' events in {:.2} s \
         ({:.0} events/s, batches of {MERGE_BATCH}); writing them to the pending file took \
         {:.2} s ({:.0} synced events/s)",
        merged.summary.count,
        elapsed.as_secs_f64(),
        events as f64 / elapsed.as_secs_f64(),
        write.as_secs_f64(),
        events as f64 / write.as_secs_f64()
    );
}

/// Whether `part` runs: all of them, or only the one `--only` names.
fn runs(part: &str) -> bool {
    let args: Vec<String> = std::env::args().collect();
    args.iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1))
        .is_none_or(|only| only == part)
}

fn main() {
    // `cargo bench` passes `--bench`; `cargo test --benches` would run this too: only run
    // when asked for as a benchmark.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    // Set-up and the catch-up run here; each simulated responder gets its own thread.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // `--no-fsync` shows what the software alone allows (the WAL flush taken out).
    let cluster = if std::env::args().any(|a| a == "--no-fsync") {
        pg::Cluster::start()
    } else {
        pg::Cluster::start_durable()
    };
    runtime.block_on(async {
        if runs("appends") {
            appends(&cluster, arg("--appends", 200)).await;
        }
        if runs("group") {
            group_commit_appends(&cluster, arg("--group", 2_000), arg("--tasks", 16)).await;
        }
        if runs("visibility") {
            visibility(&cluster, arg("--samples", 200)).await;
        }
        if runs("catchup") {
            catch_up(&cluster, arg("--catchup", 100_000)).await;
        }
        if runs("merge") {
            offline_merge(&cluster, arg("--merge", 2_000)).await;
        }
    });
}
