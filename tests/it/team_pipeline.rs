//! A foreach on the shared chain (team mode), through the library as `stanch run --team`
//! wires it, on a current-thread runtime as the headless runner uses: the items' exchanges
//! are pipelined (many share one commit) and the write-ahead rule still holds for every
//! item. The HTTP server on 127.0.0.1 asks the real PostgreSQL 15, the moment each POST
//! arrives, whether that item's `http.request` is committed there already; and a server that
//! refuses one item's event keeps that item's POST from ever being sent.

use crate::support::pg;
use crate::support::team::TeamDb;

use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::routing::post;
use serde_json::json;
use stanch::engine::{Decision, Engine, EngineOptions, Outcome};
use stanch::incident::Incident;
use stanch::journal::{Journal, Kind, NewEvent};
use stanch::runbook::Loaded;
use stanch::secret::Secrets;
use stanch::team::Session;
use stanch::team::follow::Pace;
use tokio_util::sync::CancellationToken;

const ITEMS: usize = 120;

/// What the server saw: per POST, the item and whether its request was on the chain then.
struct Seen {
    db: tokio_postgres::Client,
    incident: String,
    arrived: Mutex<Vec<(u64, i64)>>,
}

async fn revoke(State(seen): State<Arc<Seen>>, UrlPath(item): UrlPath<u64>) -> StatusCode {
    let on_chain: i64 = seen
        .db
        .query_one(
            "SELECT count(*) FROM stanch.event WHERE incident_id = $1 AND kind = 'http.request'
               AND step = 'revoke'
               AND (convert_from(canonical, 'UTF8')::jsonb #>> '{data,item}')::bigint = $2",
            &[&seen.incident, &i64::try_from(item).unwrap()],
        )
        .await
        .unwrap()
        .get(0);
    seen.arrived.lock().unwrap().push((item, on_chain));
    StatusCode::OK
}

async fn server(db: &TeamDb<'_>, incident: &str) -> (String, Arc<Seen>) {
    let seen = Arc::new(Seen {
        db: db.admin().connect().await.unwrap(),
        incident: incident.to_owned(),
        arrived: Mutex::new(Vec::new()),
    });
    let app = Router::new()
        .route("/revoke/{item}", post(revoke))
        .with_state(Arc::clone(&seen));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, seen)
}

fn runbook(dir: &Path, url: &str) -> Arc<Loaded> {
    let ids: Vec<String> = (0..ITEMS).map(|i| i.to_string()).collect();
    crate::support::engine::load(
        dir,
        &format!(
            r#"
[runbook]
id = "team-pipe"
title = "Team pipeline"

[inputs.ids]
prompt = "ids"
default = "{ids}"

[targets.api]
url = "{url}"

[[steps]]
id = "revoke"
phase = "contain"
foreach = "inputs.ids"
concurrency = 8
http = {{ target = "api", method = "POST", path = "/revoke/{{{{ item }}}}" }}
"#,
            ids = ids.join(",")
        ),
    )
}

/// alice's session on `incident` (opened by her), its journal, engine and folded incident.
async fn alice(db: &TeamDb<'_>, incident: &str, url: &str) -> (Journal, Engine, Incident) {
    db.add("alice", "commander", Some(incident)).await;
    let data = tempfile::tempdir().unwrap().keep();
    let dir = data.join(incident);
    let rb = runbook(&data, url);
    let pace = Pace {
        poll: Duration::from_hours(1),
        reconnect: Duration::from_millis(100),
    };
    let session = Session::open(&db.as_user("alice"), incident, &dir, pace).unwrap();
    let journal = Journal::shared(session);
    journal
        .append_blocking(NewEvent::new(
            Kind::IncidentOpened,
            json!({"incident_id": incident, "runbook_id": "team-pipe", "inputs": {},
                   "responder": "alice", "drill": false}),
        ))
        .unwrap();
    let engine = Engine::new(
        rb,
        journal.clone(),
        Secrets::default(),
        EngineOptions::default(),
    )
    .unwrap();
    let incident = Incident::replay(stanch::journal::read(&dir).unwrap());
    (journal, engine, incident)
}

async fn run(engine: &Engine, incident: &Incident) -> Outcome {
    let (tx, _) = tokio::sync::mpsc::unbounded_channel();
    engine
        .execute(
            "revoke",
            incident,
            Decision::default(),
            tx,
            CancellationToken::new(),
        )
        .await
}

/// The server's `(seq, kind, item)` of the incident's events, in seq order.
fn chain(db: &TeamDb<'_>, incident: &str) -> Vec<(u64, String, Option<u64>)> {
    db.psql(&format!(
        "SELECT seq, kind, coalesce(convert_from(canonical, 'UTF8')::jsonb #>> '{{data,item}}', '')
         FROM stanch.event WHERE incident_id = '{incident}' ORDER BY seq"
    ))
    .lines()
    .map(|line| {
        let mut cols = line.split('|');
        let seq = cols.next().unwrap().parse().unwrap();
        let kind = cols.next().unwrap().to_owned();
        let item = cols.next().unwrap().parse().ok();
        (seq, kind, item)
    })
    .collect()
}

#[tokio::test]
async fn a_foreach_shares_commits_and_every_post_leaves_only_once_its_request_is_on_the_server() {
    const INC: &str = "INC-PIPE";
    let db = TeamDb::new(pg::shared()).await;
    let (url, seen) = server(&db, INC).await;
    let (journal, engine, incident) = alice(&db, INC, &url).await;
    let before = journal.stats();

    let outcome = run(&engine, &incident).await;
    assert!(outcome.is_success(), "{outcome:?}");

    // Every item was sent once, and each POST found its request committed on the server.
    let mut arrived = seen.arrived.lock().unwrap().clone();
    arrived.sort_unstable();
    assert_eq!(arrived.len(), ITEMS);
    for (i, (item, on_chain)) in arrived.iter().enumerate() {
        assert_eq!(*item, i as u64);
        assert_eq!(
            *on_chain, 1,
            "item {item}'s POST left before its request was committed"
        );
    }
    // On the chain: claim, start, a request then its response per item, the outcome.
    let events = chain(&db, INC);
    let kinds = |kind: &str| events.iter().filter(|(_, k, _)| k == kind).count();
    assert_eq!(kinds("http.request"), ITEMS);
    assert_eq!(kinds("http.response"), ITEMS);
    for item in 0..ITEMS as u64 {
        let at = |kind: &str| {
            events
                .iter()
                .find(|(_, k, i)| k == kind && *i == Some(item))
                .map(|(seq, ..)| *seq)
                .unwrap()
        };
        assert!(at("http.request") < at("http.response"), "item {item}");
    }
    assert_eq!(events.last().unwrap().1, "step.succeeded");
    // Pipelined: the exchanges shared commits (one round trip each would be a commit each).
    let after = journal.stats();
    let (written, commits) = (after.events - before.events, after.syncs - before.syncs);
    assert!(written >= 2 * ITEMS as u64 + 3, "{written} events");
    assert!(
        commits * 2 <= written,
        "{commits} commits for {written} events: the exchanges were not pipelined"
    );
    // The local copy holds the whole chain and verifies.
    let dir = journal.dir().to_path_buf();
    let report = stanch::journal::verify(&dir).unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.events, events.len() as u64);

    // Joining again folds the incident in the pass that opens the mirror: the same state as
    // a replay of the copy.
    drop((engine, journal));
    let pace = Pace {
        poll: Duration::from_hours(1),
        reconnect: Duration::from_millis(100),
    };
    // The dropped session's runtime lets go of the mirror's lock in the background: retried
    // while it is held, with a deadline (a file lock cannot signal).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let (_session, folded) = loop {
        match Session::open_folded(&db.as_user("alice"), INC, &dir, pace) {
            Err(stanch::team::TeamError::MirrorInUse { .. })
                if std::time::Instant::now() < deadline =>
            {
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            opened => break opened.unwrap(),
        }
    };
    // A teammate joining on a fresh machine folds the same state from the catch-up pass.
    let fresh = tempfile::tempdir().unwrap();
    let (_other, caught_up) =
        Session::open_folded(&db.as_user("alice"), INC, &fresh.path().join(INC), pace).unwrap();
    assert_eq!(caught_up.last_seq, events.len() as u64);
    assert!(caught_up.status("revoke").is_done());
    let replayed = Incident::replay(stanch::journal::read(&dir).unwrap());
    assert_eq!(folded.last_seq, events.len() as u64);
    assert_eq!(folded.last_seq, replayed.last_seq);
    assert!(folded.status("revoke").is_done());
    assert_eq!(folded.team.holder("revoke"), Some("alice"));
}

#[tokio::test]
async fn an_item_whose_request_the_server_refuses_is_never_sent_and_the_step_fails_with_why() {
    const INC: &str = "INC-PIPE-REFUSED";
    let db = TeamDb::new(pg::shared()).await;
    // The server refuses item 7's request (as it would refuse any event breaking its rules).
    db.psql(&format!(
        "CREATE FUNCTION refuse_seven() RETURNS trigger LANGUAGE plpgsql AS $$
         BEGIN
           IF NEW.incident_id = '{INC}' AND NEW.kind = 'http.request'
              AND convert_from(NEW.canonical, 'UTF8')::jsonb #>> '{{data,item}}' = '7' THEN
             RAISE EXCEPTION 'item 7 refused by the test';
           END IF;
           RETURN NEW;
         END $$;
         CREATE TRIGGER refuse_seven BEFORE INSERT ON stanch.event
           FOR EACH ROW EXECUTE FUNCTION refuse_seven();"
    ));
    let (url, seen) = server(&db, INC).await;
    let (journal, engine, incident) = alice(&db, INC, &url).await;

    let outcome = run(&engine, &incident).await;
    let Outcome::Failed { error } = &outcome else {
        panic!("{outcome:?}");
    };
    assert!(error.contains("item 7 refused by the test"), "{error}");

    // Item 7 never left; whatever else was sent found its request on the server first.
    let arrived = seen.arrived.lock().unwrap().clone();
    assert!(!arrived.iter().any(|(item, _)| *item == 7), "{arrived:?}");
    assert_eq!(arrived.len(), ITEMS - 1, "the other items went on");
    for (item, on_chain) in &arrived {
        assert_eq!(
            *on_chain, 1,
            "item {item}'s POST left before its request was committed"
        );
    }
    let events = chain(&db, INC);
    assert!(
        !events
            .iter()
            .any(|(_, kind, item)| kind == "http.request" && *item == Some(7))
    );
    // Nothing the server took is missing from the local copy, which verifies.
    let report = stanch::journal::verify(journal.dir()).unwrap();
    assert!(report.is_ok(), "{report:?}");
    assert_eq!(report.events, events.len() as u64);
}
