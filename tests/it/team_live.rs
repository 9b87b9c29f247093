//! Team mode live, on a real PostgreSQL 15: a teammate's event reaches a follower through
//! LISTEN/NOTIFY, a rewritten chain raises the alarm, the CLI's `--team` commands work over
//! TCP with SCRAM and verified TLS, and no runbook secret ever reaches the database.

use crate::support::pg;
use crate::support::team;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use serde_json::json;
use stanch::journal::{self, Kind, NewEvent};
use stanch::secret::Redactor;
use stanch::team::follow::Pace;
use stanch::team::{Follower, Mirror, TeamError, Update, mirror};
use team::{TeamDb, note};

const INC: &str = "INC-LIVE";

/// The next update, or a failure after `secs` (never a sleep: the channel is the signal).
async fn next(follower: &mut Follower, secs: u64) -> Update {
    tokio::time::timeout(Duration::from_secs(secs), follower.updates_rx.recv())
        .await
        .expect("an update in time")
        .expect("the follower is running")
}

/// Wait until the follower has caught up through `seq`.
async fn caught_up_through(follower: &mut Follower, seq: u64) -> Vec<u64> {
    let mut seen = Vec::new();
    loop {
        match next(follower, 20).await {
            Update::Events(events) => seen.extend(events.iter().map(|e| e.seq)),
            Update::CaughtUp(n) if n >= seq => return seen,
            Update::CaughtUp(_) => {}
            other => panic!("unexpected {other:?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_teammates_event_reaches_a_listening_follower_and_its_mirror() {
    let db = TeamDb::new(pg::shared()).await;
    db.add("alice", "commander", Some(INC)).await;
    db.add("bob", "ops", Some(INC)).await;
    let mut alice = db.chain("alice", INC).await;
    alice
        .append(vec![note("before bob listens")], &Redactor::default())
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join(INC);
    // A poll far longer than the test: only a notification can wake the follower.
    let pace = Pace {
        poll: Duration::from_hours(1),
        reconnect: Duration::from_millis(100),
    };
    let mut bob = Follower::spawn(
        db.as_user("bob"),
        INC.to_owned(),
        Mirror::open(&dir, "bob").unwrap(),
        pace,
    );
    assert_eq!(
        caught_up_through(&mut bob, 1).await,
        vec![1],
        "catch-up on start"
    );
    for i in 2..=4 {
        alice
            .append(vec![note(&format!("live {i}"))], &Redactor::default())
            .await
            .unwrap();
        assert_eq!(caught_up_through(&mut bob, i).await, vec![i]);
    }
    // Alice's events are in bob's mirror, verified, readable as a file journal.
    drop(bob);
    let report = journal::verify(&dir).unwrap();
    assert!(report.is_ok(), "{report}");
    let events = journal::read(&dir).unwrap();
    assert_eq!(events.len(), 4);
    assert!(events.iter().all(|e| e.actor == "alice"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_slow_poll_catches_what_no_notification_announced() {
    let db = TeamDb::new(pg::shared()).await;
    db.add("alice", "commander", Some(INC)).await;
    db.add("bob", "ops", Some(INC)).await;
    let data = tempfile::tempdir().unwrap();
    let mut bob = Follower::spawn(
        db.as_user("bob"),
        INC.to_owned(),
        Mirror::open(&data.path().join(INC), "bob").unwrap(),
        Pace {
            poll: Duration::from_millis(200),
            reconnect: Duration::from_millis(100),
        },
    );
    assert!(caught_up_through(&mut bob, 0).await.is_empty());
    // A lost notification: this database announces nothing any more.
    db.psql("ALTER TABLE stanch.event DISABLE TRIGGER event_notify");
    let mut alice = db.chain("alice", INC).await;
    alice
        .append(vec![note("unannounced")], &Redactor::default())
        .await
        .unwrap();
    assert_eq!(
        caught_up_through(&mut bob, 1).await,
        vec![1],
        "the poll found it"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rewritten_chain_raises_the_alarm_and_the_mirror_is_left_alone() {
    let db = TeamDb::new(pg::shared()).await;
    db.add("alice", "commander", Some(INC)).await;
    let mut alice = db.chain("alice", INC).await;
    alice
        .append(
            vec![note("one"), note("the original text")],
            &Redactor::default(),
        )
        .await
        .unwrap();
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join(INC);
    let mut local = Mirror::open(&dir, "alice").unwrap();
    mirror::sync(&alice, &mut local, |_| {}).await.unwrap();
    let before = std::fs::read(dir.join("journal.jsonl")).unwrap();
    // A superuser rewrites event 2 consistently (new text, recomputed hash), past every
    // trigger and constraint: only a client that remembers what it verified can tell.
    db.psql(&format!(
        "SET session_replication_role = replica;
         WITH forged AS (
           SELECT convert_to(replace(convert_from(canonical, 'UTF8'), 'the original text', 'a forged text'), 'UTF8') AS c
           FROM stanch.event WHERE incident_id = '{INC}' AND seq = 2)
         UPDATE stanch.event SET canonical = forged.c,
           hash = encode(sha256(convert_to(prev, 'UTF8') || forged.c), 'hex')
         FROM forged
         WHERE incident_id = '{INC}' AND seq = 2;"
    ));
    let err = mirror::sync(&alice, &mut local, |_| {}).await.unwrap_err();
    assert!(matches!(err, TeamError::Rewritten { seq: 2, .. }), "{err}");
    assert!(
        err.to_string()
            .starts_with("JOURNAL REWRITTEN: INC-LIVE seq 2"),
        "{err}"
    );
    assert_eq!(std::fs::read(dir.join("journal.jsonl")).unwrap(), before);
    drop(local);
    // A follower raises the same alarm and stops.
    let mut follower = Follower::spawn(
        db.as_user("alice"),
        INC.to_owned(),
        Mirror::open(&dir, "alice").unwrap(),
        Pace::default(),
    );
    match next(&mut follower, 20).await {
        Update::Rewritten(TeamError::Rewritten { seq: 2, .. }) => {}
        other => panic!("expected the alarm, got {other:?}"),
    }
    assert!(
        follower.updates_rx.recv().await.is_none(),
        "the follower stopped"
    );
}

fn stanch(data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_stanch"))
        .args(args)
        .env("STANCH_DATA_DIR", data)
        .env_remove("STANCH_TEAM")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "one scenario: a login, its refusals and three commands over one shared chain"
)]
async fn verify_export_and_list_read_the_shared_chain_over_scram_and_tls() {
    let cluster = pg::shared();
    let db = TeamDb::new(cluster).await;
    db.add("alice", "commander", Some(INC)).await;
    db.add("bob", "ops", Some(INC)).await;
    db.add("mallory", "ops", Some("INC-ELSEWHERE")).await;
    let mut alice = db.chain("alice", INC).await;
    alice
        .append(
            vec![
                NewEvent::new(
                    Kind::IncidentOpened,
                    json!({"incident_id": INC, "runbook_id": "es-exposure", "runbook_title": "ES exposure",
                           "runbook_sha256": "00", "runbook_path": "/nowhere.toml", "inputs": {},
                           "responder": "alice", "drill": false}),
                ),
                note("index closed at 03:52"),
            ],
            &Redactor::default(),
        )
        .await
        .unwrap();
    let password = "correct horse battery staple";
    let url = cluster.tcp_url("bob", &password.replace(' ', "%20"), &db.name);
    let data = tempfile::tempdir().unwrap();

    let out = stanch(data.path(), &["verify", INC, "--team", &url]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("2 events"), "{stdout}");

    let out = stanch(
        data.path(),
        &["export", INC, "--format", "md", "--team", &url],
    );
    let md = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(md.contains("index closed at 03:52"), "{md}");

    // config.toml's [team] url works like --team; list shows the team's incidents only.
    std::fs::write(
        data.path().join("config.toml"),
        format!("[team]\nurl = \"{url}\"\n"),
    )
    .unwrap();
    std::fs::create_dir_all(data.path().join("incidents/LOCAL-ONLY")).unwrap();
    std::fs::copy(
        data.path()
            .join("incidents")
            .join(INC)
            .join("journal.jsonl"),
        data.path().join("incidents/LOCAL-ONLY/journal.jsonl"),
    )
    .unwrap();
    let out = stanch(data.path(), &["list"]);
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        listing.contains(INC) && !listing.contains("LOCAL-ONLY"),
        "{listing}"
    );

    // A wrong password, a CA that did not sign the server, plain TCP: all refused, and the
    // password never appears in what stanch prints.
    let wrong = cluster.tcp_url("bob", "not-it", &db.name);
    let stderr = refused(data.path(), &wrong, "password authentication failed");
    assert!(!stderr.contains("not-it"), "{stderr}");
    let other_ca = data.path().join("other-ca.crt");
    std::fs::write(&other_ca, include_str!("../fixtures/team/unrelated-ca.pem")).unwrap();
    let bad_ca = url.replace(
        &format!(
            "sslrootcert={}",
            pg::percent_encode(&cluster.ca_file().display().to_string())
        ),
        &format!(
            "sslrootcert={}",
            pg::percent_encode(&other_ca.display().to_string())
        ),
    );
    assert_ne!(bad_ca, url);
    refused(data.path(), &bad_ca, "certificate");
    let stderr = refused(
        data.path(),
        &format!("{url}&sslmode=disable"),
        "team mode requires TLS over TCP",
    );
    assert!(!stderr.contains("horse"), "{stderr}");

    // mallory, not a member, gets nothing of INC.
    let mallory = cluster.tcp_url("mallory", &password.replace(' ', "%20"), &db.name);
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::write(
        elsewhere.path().join("config.toml"),
        format!("[team]\nurl = \"{mallory}\"\n"),
    )
    .unwrap();
    let out = stanch(elsewhere.path(), &["list"]);
    let listing = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!listing.contains(INC), "{listing}");
}

/// `stanch verify INC --team URL` must fail, saying `why`; returns its stderr.
fn refused(data: &Path, url: &str, why: &str) -> String {
    let out = stanch(data, &["verify", INC, "--team", url]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "accepted {url}");
    assert!(stderr.contains(why), "{stderr}");
    stderr
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn canary_no_runbook_secret_ever_reaches_the_database() {
    use base64::Engine as _;
    let db = TeamDb::new(pg::shared()).await;
    db.add("alice", "ops", Some(INC)).await;
    let secret = "CANARY-sk_live_51HzQ+/=pw";
    let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
    let url_encoded: String =
        percent_encoding::utf8_percent_encode(secret, percent_encoding::NON_ALPHANUMERIC)
            .to_string();
    let redactor =
        stanch::secret::Secrets::from_values([("es_api_key".to_owned(), secret.to_owned())])
            .redactor();
    let mut alice = db.chain("alice", INC).await;
    alice
        .append(
            vec![
                NewEvent::for_step(
                    Kind::HttpRequest,
                    "close-index",
                    json!({"method": "POST", "url": format!("https://es.example/_close?key={url_encoded}"),
                           "headers": {"authorization": format!("ApiKey {b64}")}}),
                ),
                NewEvent::for_step(
                    Kind::StepSucceeded,
                    "close-index",
                    json!({"duration_ms": 5, "summary": format!("closed with {secret}"),
                           "captures": {"echo": secret}}),
                ),
            ],
            &redactor,
        )
        .await
        .unwrap();
    // Everything the database holds for this incident, as text.
    let dump = db.psql(&format!(
        "SELECT string_agg(convert_from(canonical, 'UTF8') || actor || kind || coalesce(step, ''), '|') \
         FROM stanch.event WHERE incident_id = '{INC}'"
    ));
    assert!(
        dump.contains("close-index") && dump.contains("••••••"),
        "{dump}"
    );
    for form in [secret, b64.as_str(), url_encoded.as_str(), "sk_live_51HzQ"] {
        assert!(!dump.contains(form), "the database holds {form:?}: {dump}");
    }
    // And the server's own hash check passed on the redacted bytes: the chain verifies.
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join(INC);
    let mut local = Mirror::open(&dir, "alice").unwrap();
    assert_eq!(mirror::sync(&alice, &mut local, |_| {}).await.unwrap(), 2);
    assert!(journal::verify(&dir).unwrap().is_ok());
}
