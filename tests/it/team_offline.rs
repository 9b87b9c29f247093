//! Team mode offline, on a real PostgreSQL 15: the pending sub-chain, the reconnect merge
//! (order, origin kept in `data.offline`, conflicts named), its idempotence across a crash at
//! every point, a commit that went through as the link dropped, a rewritten root, and the
//! offline writer end to end through a cut link with a secret canary.

use crate::support::pg;
use crate::support::proxy::Proxy;
use crate::support::team;

use std::time::Duration;

use serde_json::json;
use stanch::incident::Incident;
use stanch::incident::describe;
use stanch::journal::event::GENESIS;
use stanch::journal::payload::{Conflict, Payload};
use stanch::journal::{self, Event, Kind, NewEvent};
use stanch::secret::Redactor;
use stanch::team::chain::Proposed;
use stanch::team::merge::{self, Step, merge, merge_step};
use stanch::team::pending::{PENDING_FILE, Pending};
use stanch::team::{Appended, Appender, Chain, LinkNews, Mirror, OfflineSetup, TeamError, mirror};
use team::{TeamDb, note};

const INC: &str = "INC-OFFLINE";
/// The one evidence file the tests capture: its path and bytes.
const EVIDENCE: (&str, &[u8]) = ("evidence/1.json", b"{\"indices\":3}");

fn step_event(kind: Kind, step: &str, data: serde_json::Value) -> Proposed {
    Proposed::of(&NewEvent::for_step(kind, step, data))
}

/// Everything on the server, verified (chain and evidence), through a fresh mirror.
async fn shared_chain(db: &TeamDb<'_>, login: &str) -> Vec<Event> {
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join(INC);
    let chain = db.chain(login, INC).await;
    let mut local = Mirror::open(&dir, login).unwrap();
    mirror::sync(&chain, &mut local, |_| {}).await.unwrap();
    // The evidence file, as the responder who captured it has it.
    std::fs::create_dir_all(dir.join("evidence")).unwrap();
    std::fs::write(dir.join(EVIDENCE.0), EVIDENCE.1).unwrap();
    let report = journal::verify(&dir).unwrap();
    assert!(report.is_ok(), "{report}");
    journal::read(&dir).unwrap()
}

/// The shared events carrying `data.offline.hash == local`.
fn copies_of<'a>(events: &'a [Event], local: &str) -> Vec<&'a Event> {
    events
        .iter()
        .filter(|e| e.offline().is_some_and(|o| o.hash == local))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "one scenario: offline work, a teammate online, the merge, and what each reader sees"
)]
async fn offline_events_merge_in_order_keeping_their_origin_and_a_step_done_twice_is_named() {
    let db = TeamDb::new(pg::shared()).await;
    db.add("ann", "commander", Some(INC)).await;
    db.add("bob", "ops", Some(INC)).await;
    let mut ann = db.chain("ann", INC).await;
    let mut bob = db.chain("bob", INC).await;
    let redactor = Redactor::default();
    let root = bob
        .append(
            vec![
                note("bob online"),
                NewEvent::for_step(Kind::StepClaimed, "close-index", json!({})),
            ],
            &redactor,
        )
        .await
        .unwrap();
    let root = (root[1].seq, root[1].hash.clone());

    // bob loses the link and keeps working: a note, and a step he holds, run to the end.
    let data = tempfile::tempdir().unwrap();
    let mut pending = Pending::open(data.path()).unwrap();
    let at = (root.0, root.1.as_str());
    let offline = [
        Proposed::of(&note("bob offline: index closed?")),
        step_event(
            Kind::StepStarted,
            "close-index",
            json!({"attempt": 1, "rerun": false}),
        ),
        step_event(
            Kind::StepSucceeded,
            "close-index",
            json!({"duration_ms": 40, "summary": "closed", "captures": {"ack": true}}),
        ),
    ];
    let mut local = Vec::new();
    for p in offline {
        local.push(pending.push(at, "bob", p, None).unwrap());
    }
    assert_eq!(local[0].seq, root.0 + 1, "rooted at the last verified head");
    assert_eq!(local[0].prev, root.1);
    // Meanwhile ann, online, takes the step over (bob is unreachable) and runs it.
    ann.append(
        vec![
            note("ann online"),
            NewEvent::for_step(
                Kind::StepTakenOver,
                "close-index",
                json!({"from": "bob", "reason": "bob is unreachable"}),
            ),
            NewEvent::for_step(
                Kind::StepStarted,
                "close-index",
                json!({"attempt": 1, "rerun": false}),
            ),
            NewEvent::for_step(
                Kind::StepSucceeded,
                "close-index",
                json!({"duration_ms": 9, "summary": "closed", "captures": {}}),
            ),
        ],
        &redactor,
    )
    .await
    .unwrap();

    let merged = merge(&mut bob, &mut pending, merge::MERGE_BATCH)
        .await
        .unwrap()
        .expect("something was pending");
    assert!(pending.is_empty());
    assert_eq!(
        std::fs::read(data.path().join(PENDING_FILE)).unwrap(),
        b"",
        "cleared"
    );
    assert_eq!(merged.summary.count, 3);
    assert_eq!(merged.summary.subchain_head, local[2].hash);
    assert_eq!(merged.summary.root_seq, root.0);

    let events = shared_chain(&db, "ann").await;
    // root, ann's four, bob's three re-sequenced in order, sync.merged.
    assert_eq!(events.len() as u64, root.0 + 8);
    let ann_took = events
        .iter()
        .find(|e| e.actor == "ann" && e.kind == Kind::StepTakenOver)
        .unwrap()
        .seq;
    let mut last_seq = 0;
    for original in &local {
        let copies = copies_of(&events, &original.hash);
        assert_eq!(copies.len(), 1, "exactly once: {original:?}");
        let copy = copies[0];
        let origin = copy.offline().unwrap();
        assert_eq!(
            (origin.at, origin.seq, origin.mono_ms),
            (original.at, original.seq, original.mono_ms)
        );
        assert_eq!(
            (copy.kind, &copy.step, &copy.actor),
            (original.kind, &original.step, &original.actor)
        );
        assert_eq!(
            copy.payload().unwrap(),
            original.payload().unwrap(),
            "the same payload"
        );
        assert!(copy.seq > last_seq, "in order");
        last_seq = copy.seq;
    }
    let ours = copies_of(&events, &local[1].hash)[0].seq;
    let expected = vec![Conflict {
        step: "close-index".into(),
        ours,
        theirs: ann_took,
        by: "ann".into(),
    }];
    assert_eq!(merged.summary.conflicts, expected);
    let last = events.last().unwrap();
    assert_eq!(last.kind, Kind::SyncMerged);
    assert_eq!(last.hash, merged.event.hash);
    let Payload::SyncMerged(stored) = last.payload().unwrap() else {
        panic!("a sync.merged payload")
    };
    assert_eq!(stored.conflicts, expected);
    // The commander sees it: in words (timeline, exports) and in the replayed incident.
    assert_eq!(
        describe(last),
        format!(
            "Merged 3 event(s) written offline after seq {} (sub-chain head {}); CONFLICT: step \
             close-index was also done by ann (seq {ann_took}) while this was offline (seq {ours})",
            root.0,
            &local[2].hash[..12]
        )
    );
    assert!(
        describe(copies_of(&events, &local[0].hash)[0])
            .starts_with("Note: bob offline: index closed? (written offline at ")
    );
    let incident = Incident::replay(events.clone());
    assert_eq!(incident.merges.len(), 1);
    assert_eq!(incident.merges[0].merged.conflicts, expected);
    assert!(incident.unreadable.is_empty(), "{:?}", incident.unreadable);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_merge_cut_short_anywhere_resumes_without_a_duplicate() {
    let db = TeamDb::new(pg::shared()).await;
    db.add("bob", "ops", Some(INC)).await;
    let mut bob = db.chain("bob", INC).await;
    let data = tempfile::tempdir().unwrap();
    let mut pending = Pending::open(data.path()).unwrap();
    let local: Vec<Event> = (0..5)
        .map(|i| {
            pending
                .push(
                    (0, GENESIS),
                    "bob",
                    Proposed::of(&note(&format!("offline {i}"))),
                    None,
                )
                .unwrap()
        })
        .collect();
    // A crash after each transaction: the process starts over from the file every time.
    drop(pending);
    let mut steps = Vec::new();
    loop {
        let pending = Pending::open(data.path()).unwrap();
        assert_eq!(
            pending.len(),
            5,
            "nothing leaves the file before the merge is done"
        );
        match merge_step(&mut bob, &pending, 2).await.unwrap() {
            Step::More => steps.push("more"),
            Step::Done(_) => {
                steps.push("done");
                break;
            }
            Step::Nothing => panic!("five were pending"),
        }
    }
    assert_eq!(
        steps,
        ["more", "more", "done"],
        "2 + 2 + (1 and sync.merged)"
    );
    // And a crash after the last commit, before the file was cleared: nothing new is written.
    let mut pending = Pending::open(data.path()).unwrap();
    let merged = merge(&mut bob, &mut pending, 2).await.unwrap().unwrap();
    assert_eq!(merged.summary.count, 5);
    assert!(Pending::open(data.path()).unwrap().is_empty());
    let events = shared_chain(&db, "bob").await;
    assert_eq!(
        events.len(),
        6,
        "five events and one sync.merged, each once"
    );
    for original in &local {
        assert_eq!(copies_of(&events, &original.hash).len(), 1);
    }
    assert_eq!(
        events.iter().filter(|e| e.kind == Kind::SyncMerged).count(),
        1
    );
    assert_eq!(merged.event.hash, events[5].hash);
}

/// Bob's chain and his pending sub-chain in `dir` as a link drop leaves them: the server
/// committed "x" but bob never heard back (his writer kept it pending, with the hash the
/// server holds if the commit went through), and "y" was never sent. Returns "y" as kept.
async fn x_committed_y_pending(db: &TeamDb<'_>, dir: &std::path::Path) -> (Chain, Pending, Event) {
    let mut bob = db.chain("bob", INC).await;
    let committed = bob
        .append(vec![note("x")], &Redactor::default())
        .await
        .unwrap()
        .remove(0);
    let mut pending = Pending::open(dir).unwrap();
    pending
        .push(
            (0, GENESIS),
            "bob",
            Proposed::of(&note("x")),
            Some(committed.hash.clone()),
        )
        .unwrap();
    let y = pending
        .push((0, GENESIS), "bob", Proposed::of(&note("y")), None)
        .unwrap();
    (bob, pending, y)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_commit_that_went_through_as_the_link_dropped_is_not_merged_twice() {
    let db = TeamDb::new(pg::shared()).await;
    db.add("bob", "ops", Some(INC)).await;
    let data = tempfile::tempdir().unwrap();
    let (mut bob, mut pending, y) = x_committed_y_pending(&db, data.path()).await;
    let merged = merge(&mut bob, &mut pending, 10).await.unwrap().unwrap();
    assert_eq!((merged.summary.count, merged.committed_before), (1, 1));
    let events = shared_chain(&db, "bob").await;
    let texts: Vec<String> = events
        .iter()
        .filter(|e| e.kind == Kind::Note)
        .map(|e| e.data_value()["text"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(texts, ["x", "y"], "x once, y merged");
    assert_eq!(copies_of(&events, &y.hash).len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_root_raises_the_alarm_and_keeps_everything_pending() {
    let db = TeamDb::new(pg::shared()).await;
    db.add("bob", "ops", Some(INC)).await;
    let mut bob = db.chain("bob", INC).await;
    let redactor = Redactor::default();
    let head = bob
        .append(vec![note("one")], &redactor)
        .await
        .unwrap()
        .remove(0);
    let data = tempfile::tempdir().unwrap();
    let mut pending = Pending::open(data.path()).unwrap();
    // bob verified another event 1 than the one the server holds now.
    let forged = "f".repeat(64);
    pending
        .push(
            (head.seq, &forged),
            "bob",
            Proposed::of(&note("kept")),
            None,
        )
        .unwrap();
    let err = merge(&mut bob, &mut pending, 10).await.unwrap_err();
    assert!(matches!(err, TeamError::Rewritten { seq: 1, .. }), "{err}");
    assert!(err.to_string().starts_with("JOURNAL REWRITTEN"), "{err}");
    assert_eq!(
        Pending::open(data.path()).unwrap().len(),
        1,
        "nothing dropped"
    );
    assert_eq!(shared_chain(&db, "bob").await.len(), 1, "nothing written");
}

/// The next news from an offline writer, within `secs`.
async fn news(rx: &mut tokio::sync::mpsc::UnboundedReceiver<LinkNews>, secs: u64) -> LinkNews {
    tokio::time::timeout(Duration::from_secs(secs), rx.recv())
        .await
        .expect("news in time")
        .expect("the writer runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "one scenario through a cut link: online, offline, refusals, the canary, the heal"
)]
async fn the_offline_writer_pends_what_is_safe_refuses_the_rest_and_merges_with_no_secret_anywhere()
{
    use base64::Engine as _;
    let cluster = pg::shared();
    let db = TeamDb::new(cluster).await;
    db.add("bob", "ops", Some(INC)).await;
    let proxy = Proxy::start(cluster.port).await;
    let url = proxy.url(cluster, "bob", &db.name);
    let target = stanch::team::Target::parse(&url).unwrap();
    let secret = "CANARY-sk_live_51HzQ+/=pw";
    let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
    let url_encoded =
        percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    let redactor =
        stanch::secret::Secrets::from_values([("es_api_key".to_owned(), secret.to_owned())])
            .redactor();
    let data = tempfile::tempdir().unwrap();
    let chain = Chain::open(&target, INC).await.unwrap();
    let (writer, mut news_rx) = Appender::spawn_offline(
        Some(chain),
        target,
        INC,
        redactor,
        OfflineSetup {
            pending: Pending::open(data.path()).unwrap(),
            verified: (0, GENESIS.to_owned()),
            retry: Duration::from_millis(100),
        },
    );
    let shared = writer
        .submit(note(&format!("online {secret}")), false)
        .await
        .unwrap();
    assert!(matches!(shared, Appended::Shared(_)));
    // bob holds `mine` before the link drops.
    let claimed = writer
        .submit(
            NewEvent::for_step(Kind::StepClaimed, "mine", json!({})),
            false,
        )
        .await
        .unwrap();
    assert!(matches!(claimed, Appended::Shared(_)));

    proxy.cut();
    let evidence = NewEvent::for_step(
        Kind::EvidenceCaptured,
        "snapshot",
        json!({"file": EVIDENCE.0, "sha256": stanch::digest::sha256_hex(EVIDENCE.1),
               "bytes": EVIDENCE.1.len(),
               "method": "GET", "url": format!("https://es.example/_snap?key={url_encoded}"),
               "tool_version": "test"}),
    );
    let first = writer
        .submit(note(&format!("offline {b64}")), false)
        .await
        .unwrap();
    assert!(matches!(first, Appended::Pending(_)), "{first:?}");
    assert!(matches!(news(&mut news_rx, 10).await, LinkNews::Offline(_)));
    let second = writer.submit(evidence, false).await.unwrap();
    assert!(matches!(second, Appended::Pending(_)));
    assert_eq!(second.event().prev, first.event().hash, "one sub-chain");
    for (refused, holds) in [
        (
            NewEvent::for_step(Kind::StepStarted, "close-index", json!({"attempt": 1})),
            false,
        ),
        (NewEvent::new(Kind::IncidentClosed, json!({})), true),
        (
            NewEvent::new(
                Kind::Inject,
                json!({"title": "t", "body": "b", "offset": "+1m"}),
            ),
            true,
        ),
    ] {
        let err = writer.submit(refused, holds).await.unwrap_err();
        assert!(err.to_string().contains("needs the team link"), "{err}");
    }
    // A step bob holds goes on offline.
    let held = writer
        .submit(
            NewEvent::for_step(
                Kind::StepStarted,
                "mine",
                json!({"attempt": 1, "rerun": false}),
            ),
            true,
        )
        .await
        .unwrap();
    assert!(matches!(held, Appended::Pending(_)));
    let file = std::fs::read_to_string(data.path().join(PENDING_FILE)).unwrap();
    assert_eq!(file.lines().count(), 3);
    assert!(file.contains("••••••"), "{file}");
    for form in [secret, b64.as_str(), url_encoded.as_str(), "sk_live_51HzQ"] {
        assert!(!file.contains(form), "the pending file holds {form:?}");
    }

    proxy.heal();
    let merged = loop {
        if let LinkNews::Merged(m) = news(&mut news_rx, 30).await {
            break m;
        }
    };
    assert_eq!(merged.summary.count, 3);
    // Online again: straight to the server.
    let after = writer.submit(note("back"), false).await.unwrap();
    assert!(matches!(after, Appended::Shared(ref e) if e.seq == merged.event.seq + 1));
    let dump = db.psql(&format!(
        "SELECT string_agg(convert_from(canonical, 'UTF8'), '|') FROM stanch.event \
         WHERE incident_id = '{INC}'"
    ));
    assert!(dump.contains("\"offline\":{"), "{dump}");
    for form in [secret, b64.as_str(), url_encoded.as_str(), "sk_live_51HzQ"] {
        assert!(!dump.contains(form), "the database holds {form:?}: {dump}");
    }
    let events = shared_chain(&db, "bob").await;
    for local in [&first, &second, &held] {
        assert_eq!(copies_of(&events, &local.event().hash).len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_writer_started_while_the_link_is_down_goes_on_with_the_pending_chain_it_finds() {
    let cluster = pg::shared();
    let db = TeamDb::new(cluster).await;
    db.add("bob", "ops", Some(INC)).await;
    let proxy = Proxy::start(cluster.port).await;
    let target = stanch::team::Target::parse(&proxy.url(cluster, "bob", &db.name)).unwrap();
    let data = tempfile::tempdir().unwrap();
    let setup = || OfflineSetup {
        pending: Pending::open(data.path()).unwrap(),
        verified: (0, GENESIS.to_owned()),
        retry: Duration::from_millis(100),
    };
    let chain = Chain::open(&target, INC).await.unwrap();
    proxy.cut();
    let (writer, _news_rx) = Appender::spawn_offline(
        Some(chain),
        target.clone(),
        INC,
        Redactor::default(),
        setup(),
    );
    let first = writer
        .submit(note("before the crash"), false)
        .await
        .unwrap();
    assert!(matches!(first, Appended::Pending(_)));
    // stanch is killed and started again, the link still down: no connection to start with.
    drop(writer);
    let (writer, mut news_rx) =
        Appender::spawn_offline(None, target, INC, Redactor::default(), setup());
    let second = writer
        .submit(note("after the restart"), false)
        .await
        .unwrap();
    assert!(matches!(second, Appended::Pending(_)));
    assert_eq!(
        second.event().prev,
        first.event().hash,
        "the same sub-chain, continued"
    );
    proxy.heal();
    let merged = loop {
        if let LinkNews::Merged(m) = news(&mut news_rx, 30).await {
            break m;
        }
    };
    assert_eq!(merged.summary.count, 2);
    let events = shared_chain(&db, "bob").await;
    assert_eq!(events.len(), 3, "two notes and the merge");
    for local in [&first, &second] {
        assert_eq!(copies_of(&events, &local.event().hash).len(), 1);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_counts_a_pending_commit_that_went_through_as_settled_by_the_merge() {
    use stanch::journal::shared::{News, SharedChain as _};
    use stanch::team::Session;
    use stanch::team::follow::Pace;

    let db = TeamDb::new(pg::shared()).await;
    db.add("bob", "ops", Some(INC)).await;
    // Left by an earlier run that ended offline.
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join(INC);
    drop(x_committed_y_pending(&db, &dir).await);

    let session = Session::open(&db.as_user("bob"), INC, &dir, Pace::default()).unwrap();
    let mut news = session.take_news().unwrap();
    // The merge copies "y" and finds "x" on the chain: nothing is left waiting, so a run
    // that waits for its pending events to merge is told 0 (it used to stay at 1).
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let mut merged = None;
    let mut left = usize::MAX;
    while merged.is_none() || left != 0 {
        match tokio::time::timeout_at(deadline, news.recv()).await {
            Ok(Some(News::Merged { count, .. })) => merged = Some(count),
            Ok(Some(News::Pending(n))) => left = n,
            Ok(Some(_)) => {}
            other => panic!("merged {merged:?}, {left} pending when the feed ended: {other:?}"),
        }
    }
    assert_eq!(merged, Some(1), "y copied, x found on the chain");
    assert_eq!(session.pending_count(), 0);
}
