//! Two responders on one shared incident through the library, as `stanch run --team` wires
//! it: each has a [`Session`] behind a `Journal` and an `Engine`, against a real PostgreSQL 15
//! and a real HTTP server on 127.0.0.1. Claim, run, a refused run of a held step, an explicit
//! take-over, who confirmed a destructive step, a commander hand-over, the "journal
//! rewritten" alarm stopping writes, and the runbook secret never reaching the database.

use crate::support::engine as support;
use crate::support::pg;
use crate::support::team::TeamDb;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde_json::json;
use stanch::engine::{Decision, Engine, EngineOptions, Outcome, Progress};
use stanch::incident::Incident;
use stanch::journal::shared::News;
use stanch::journal::{Journal, JournalError, Kind, NewEvent};
use stanch::runbook::Loaded;
use stanch::secret::Secrets;
use stanch::team::Session;
use stanch::team::follow::Pace;
use tokio::sync::mpsc::UnboundedReceiver;
use tokio_util::sync::CancellationToken;

const INC: &str = "INC-WIRE";
const TOKEN: &str = "tw-canary-7f3a/+=Qx91";

fn runbook(dir: &Path, url: &str) -> Arc<Loaded> {
    support::load(
        dir,
        &format!(
            r#"
[runbook]
id = "team-wire"
title = "Team wire"

[secrets.token]
env = "STANCH_TEAM_WIRE_TOKEN"

[targets.api]
url = "{url}"
auth = {{ bearer = "{{{{ secrets.token }}}}" }}

[[steps]]
id = "look"
phase = "confirm"
http = {{ target = "api", method = "GET", path = "/echo", query = {{ key = "{{{{ secrets.token }}}}" }} }}
capture = {{ seen = "response.json.headers.authorization" }}

[[steps]]
id = "close"
phase = "contain"
needs = ["look"]
confirm = "close it"
http = {{ target = "api", method = "POST", path = "/echo", json = {{ body = "k {{{{ secrets.token }}}}" }} }}
"#
        ),
    )
}

/// One responder: a session on the shared chain, its journal, engine and folded incident.
struct Responder {
    journal: Journal,
    engine: Engine,
    news: UnboundedReceiver<News>,
    incident: Incident,
    dir: std::path::PathBuf,
    _data: tempfile::TempDir,
}

impl Responder {
    fn join(db: &TeamDb<'_>, login: &str, rb: &Arc<Loaded>) -> Self {
        let data = tempfile::tempdir().unwrap();
        let dir = data.path().join(INC);
        let pace = Pace {
            poll: Duration::from_hours(1),
            reconnect: Duration::from_millis(100),
        };
        let session = Session::open(&db.as_user(login), INC, &dir, pace).unwrap();
        let journal = Journal::shared(session);
        let news = journal.take_news().expect("the first caller gets the feed");
        let secrets = Secrets::from_values([("token".to_owned(), TOKEN.to_owned())]);
        let engine = Engine::new(
            Arc::clone(rb),
            journal.clone(),
            secrets,
            EngineOptions::default(),
        )
        .unwrap();
        let incident = Incident::replay(stanch::journal::read(&dir).unwrap());
        Self {
            journal,
            engine,
            news,
            incident,
            dir,
            _data: data,
        }
    }

    /// Fold the feed until the incident holds `seq` (a deadline, never a sleep).
    async fn through(&mut self, seq: u64) {
        while self.incident.last_seq < seq {
            let news = tokio::time::timeout(Duration::from_secs(20), self.news.recv())
                .await
                .expect("news in time")
                .expect("the session runs");
            if let News::Events(events) = news {
                for event in events {
                    if event.seq > self.incident.last_seq {
                        self.incident.apply(event);
                    }
                }
            }
        }
    }

    async fn run(&mut self, step: &str, decision: Decision) -> Outcome {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let outcome = self
            .engine
            .execute(step, &self.incident, decision, tx, CancellationToken::new())
            .await;
        let mut last = self.incident.last_seq;
        while let Ok(progress) = rx.try_recv() {
            if let Progress::Journalled(event) = progress {
                last = last.max(event.seq);
            }
        }
        self.through(last).await;
        outcome
    }

    fn append(&self, event: NewEvent) -> Result<stanch::journal::Event, JournalError> {
        self.journal.append_blocking(event)
    }
}

fn count(db: &TeamDb<'_>) -> u64 {
    db.psql(&format!(
        "SELECT count(*) FROM stanch.event WHERE incident_id = '{INC}'"
    ))
    .trim()
    .parse()
    .unwrap()
}

/// Every encoding of the token the redactor promises to catch.
fn forms(value: &str) -> Vec<String> {
    use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
    vec![
        value.to_owned(),
        STANDARD.encode(value),
        URL_SAFE_NO_PAD.encode(value),
        percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
            .to_string(),
        url::form_urlencoded::byte_serialize(value.as_bytes()).collect(),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "one incident worked by two responders, in order"
)]
async fn two_responders_claim_run_take_over_confirm_and_hand_over_on_one_chain() {
    let db = TeamDb::new(pg::shared()).await;
    db.add("alice", "commander", Some(INC)).await;
    db.add("bob", "ops", Some(INC)).await;
    let server = support::server().await;
    let rbdir = tempfile::tempdir().unwrap();
    let rb = runbook(rbdir.path(), &server.url);

    let mut alice = Responder::join(&db, "alice", &rb);
    let opened = alice
        .append(NewEvent::new(
            Kind::IncidentOpened,
            json!({"incident_id": INC, "runbook_id": "team-wire", "inputs": {},
                   "responder": "alice", "drill": false}),
        ))
        .unwrap();
    assert_eq!(opened.seq, 1);
    alice.through(1).await;
    assert_eq!(alice.incident.team.commander.as_deref(), Some("alice"));

    // Alice claims and runs `look`: the claim is journalled before the step starts.
    let outcome = alice.run("look", Decision::default()).await;
    assert!(outcome.is_success(), "{outcome:?}");
    let kinds: Vec<Kind> = alice.incident.events.iter().map(|e| e.kind).collect();
    assert_eq!(
        kinds[1..3],
        [Kind::StepClaimed, Kind::StepStarted],
        "{kinds:?}"
    );
    assert_eq!(alice.incident.team.holder("look"), Some("alice"));

    // Bob joins later: his mirror catches up, he sees the step done and who holds it.
    let mut bob = Responder::join(&db, "bob", &rb);
    assert_eq!(bob.incident.last_seq, alice.incident.last_seq);
    assert!(bob.incident.status("look").is_done());
    assert_eq!(bob.incident.team.holder("look"), Some("alice"));

    // Bob cannot run alice's step without taking it over; nothing is journalled or sent.
    let before = (count(&db), server.requests().len());
    let rerun = Decision {
        rerun: true,
        ..Decision::default()
    };
    assert_eq!(
        bob.run("look", rerun.clone()).await,
        Outcome::Held { by: "alice".into() }
    );
    assert_eq!((count(&db), server.requests().len()), before);

    // An explicit take-over, with a reason, then it runs as bob's.
    let take_over = Decision {
        take_over: Some("alice is on the phone with counsel".into()),
        ..rerun
    };
    assert!(bob.run("look", take_over).await.is_success());
    let last = bob.incident.last_seq;
    alice.through(last).await;
    assert_eq!(alice.incident.team.holder("look"), Some("bob"));
    let taken = alice
        .incident
        .events
        .iter()
        .find(|e| e.kind == Kind::StepTakenOver)
        .expect("a take-over event");
    assert_eq!(taken.actor, "bob");
    match taken.payload().unwrap() {
        stanch::journal::Payload::StepTakenOver(p) => {
            assert_eq!(p.from, "alice");
            assert_eq!(p.reason, "alice is on the phone with counsel");
        }
        other => panic!("{other:?}"),
    }

    // Bob runs the destructive step, typing the confirmation: alice sees who confirmed it.
    let typed = Decision {
        typed_confirmation: Some("close it".into()),
        ..Decision::default()
    };
    assert!(bob.run("close", typed).await.is_success());
    alice.through(bob.incident.last_seq).await;
    let close = alice.incident.step("close");
    assert_eq!(close.confirmed_by.as_deref(), Some("bob"));
    assert_eq!(close.confirmed_via.as_deref(), Some("typed"));

    // Hand-over: alice gives command to bob; she can no longer close, he can.
    let handed = alice
        .append(NewEvent::new(
            Kind::RoleChanged,
            json!({"login": "bob", "role": "commander"}),
        ))
        .unwrap();
    bob.through(handed.seq).await;
    assert_eq!(bob.incident.team.commander.as_deref(), Some("bob"));
    assert_eq!(bob.incident.team.role_of("alice"), Some("ops"));
    let refused = alice
        .append(NewEvent::new(Kind::IncidentClosed, json!({})))
        .unwrap_err();
    assert!(
        refused
            .to_string()
            .contains("only the commander (bob) closes"),
        "{refused}"
    );
    let closed = bob
        .append(NewEvent::new(
            Kind::IncidentClosed,
            json!({"summary": "contained"}),
        ))
        .unwrap();
    alice.through(closed.seq).await;
    assert!(alice.incident.closed_at.is_some());

    // Both mirrors are the same bytes and verify; the server never saw the secret.
    let a = std::fs::read(alice.dir.join("journal.jsonl")).unwrap();
    let b = std::fs::read(bob.dir.join("journal.jsonl")).unwrap();
    assert_eq!(a, b);
    assert!(stanch::journal::verify(&alice.dir).unwrap().is_ok());
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.to_string().contains(TOKEN)),
        "the test server did receive the token (the canary is live)"
    );
    let dump = db.psql(&format!(
        "SELECT string_agg(convert_from(canonical, 'UTF8') || hash || actor || kind || coalesce(step, ''), E'\\n') \
         FROM stanch.event WHERE incident_id = '{INC}'"
    ));
    assert!(dump.contains("close it"), "the dump is the chain: {dump}");
    for form in forms(TOKEN) {
        assert!(!dump.contains(&form), "the database holds {form:?}");
        let mirror = String::from_utf8_lossy(&a);
        assert!(!mirror.contains(&form), "the mirror holds {form:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_chain_raises_the_alarm_on_the_feed_and_stops_every_write() {
    let db = TeamDb::new(pg::shared()).await;
    db.add("alice", "commander", Some(INC)).await;
    let server = support::server().await;
    let rbdir = tempfile::tempdir().unwrap();
    let rb = runbook(rbdir.path(), &server.url);
    let mut alice = Responder::join(&db, "alice", &rb);
    for text in ["one", "two"] {
        alice
            .append(NewEvent::new(Kind::Note, json!({"text": text, "tags": []})))
            .unwrap();
    }
    alice.through(2).await;
    // A superuser rewrites the last event consistently (new text, recomputed hash).
    db.psql(&format!(
        "SET session_replication_role = replica;
         WITH forged AS (SELECT convert_to(replace(convert_from(canonical, 'UTF8'), 'two', 'TWO'), 'UTF8') AS c
                         FROM stanch.event WHERE incident_id = '{INC}' AND seq = 2)
         UPDATE stanch.event SET canonical = forged.c,
           hash = encode(sha256(convert_to(prev, 'UTF8') || forged.c), 'hex')
         FROM forged WHERE incident_id = '{INC}' AND seq = 2;"
    ));
    let err = alice
        .append(NewEvent::new(
            Kind::Note,
            json!({"text": "three", "tags": []}),
        ))
        .unwrap_err();
    assert!(err.to_string().contains("JOURNAL REWRITTEN"), "{err}");
    let alarm = loop {
        if let News::Alarm(text) = tokio::time::timeout(Duration::from_secs(20), alice.news.recv())
            .await
            .expect("news in time")
            .expect("the session runs")
        {
            break text;
        }
    };
    assert!(
        alarm.contains("JOURNAL REWRITTEN: INC-WIRE seq 2"),
        "{alarm}"
    );
    // From now on nothing reaches the server: writing has stopped.
    let stored = count(&db);
    let again = alice
        .append(NewEvent::new(
            Kind::Note,
            json!({"text": "four", "tags": []}),
        ))
        .unwrap_err();
    assert!(again.to_string().contains("writing is stopped"), "{again}");
    assert_eq!(count(&db), stored);
}
