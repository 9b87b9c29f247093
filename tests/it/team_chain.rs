//! Team mode on a real PostgreSQL 15: the schema, the shared chain under 8 concurrent
//! appenders, and every attack the database itself must refuse.

use crate::support::pg;
use crate::support::team;

use std::collections::BTreeSet;

use stanch::journal::{self, Event};
use stanch::secret::Redactor;
use stanch::team::{Mirror, TeamError, mirror};
use team::{TeamDb, note};

const INC: &str = "INC-TEAM-1";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn team_init_is_versioned_and_idempotent_through_the_binary() {
    let cluster = pg::shared();
    let db = cluster.database();
    for _ in 0..2 {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_stanch"))
            .args(["team", "init", &cluster.admin_url(&db)])
            .env("STANCH_DATA_DIR", tempfile::tempdir().unwrap().path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let every_version: String = (1..=stanch::team::schema::VERSION)
        .map(|v| v.to_string() + "\n")
        .collect();
    assert_eq!(
        cluster.psql(
            &db,
            "SELECT version FROM stanch.schema_version ORDER BY version"
        ),
        every_version,
        "each migration, recorded once"
    );
    // team add through the binary: a login in the group, its password printed once.
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_stanch"))
        .args([
            "team",
            "add",
            "carol",
            "--role",
            "comms",
            "--incident",
            "INC-BIN",
        ])
        .args(["--team", &cluster.admin_url(&db)])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        stdout.contains("added login carol as comms, member of INC-BIN"),
        "{stdout}"
    );
    let password = stdout
        .lines()
        .find_map(|l| l.split_once("): ").map(|(_, p)| p.to_owned()))
        .expect("a generated password");
    assert_eq!(password.len(), 24, "144 bits of base64");
    assert_eq!(
        cluster.psql(&db, "SELECT role FROM stanch.member WHERE login = 'carol'"),
        "comms\n"
    );
    // The server holds a SCRAM verifier, never the password.
    let stored = cluster.psql(
        "postgres",
        "SELECT rolpassword FROM pg_authid WHERE rolname = 'carol'",
    );
    assert!(stored.starts_with("SCRAM-SHA-256$"), "{stored}");
    assert!(!stored.contains(&password));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eight_concurrent_appenders_make_one_chain_without_a_gap() {
    let db = TeamDb::new(pg::shared()).await;
    let logins: Vec<String> = (0..8).map(|i| format!("resp{i}")).collect();
    for login in &logins {
        db.add(login, "ops", Some(INC)).await;
    }
    let mut tasks = Vec::new();
    for login in logins.clone() {
        let mut chain = db.chain(&login, INC).await;
        tasks.push(tokio::spawn(async move {
            let mut mine = Vec::new();
            for i in 0..25 {
                let batch = vec![
                    note(&format!("{login} {i}a")),
                    note(&format!("{login} {i}b")),
                ];
                let events = chain.append(batch, &Redactor::default()).await.unwrap();
                mine.extend(events.into_iter().map(|e| (e.seq, e.hash)));
            }
            mine
        }));
    }
    let mut acknowledged = Vec::new();
    for task in tasks {
        acknowledged.extend(task.await.unwrap());
    }
    assert_eq!(acknowledged.len(), 8 * 25 * 2);
    // Fetch as one member into a mirror: every link verified, the file journal's verify agrees.
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join(INC);
    let chain = db.chain("resp0", INC).await;
    let mut local = Mirror::open(&dir, "resp0").unwrap();
    let n = mirror::sync(&chain, &mut local, |_| {}).await.unwrap();
    assert_eq!(n, 400);
    let events = journal::read(&dir).unwrap();
    let seqs: Vec<u64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=400).collect::<Vec<_>>(), "no gap, no duplicate");
    // Every acknowledged event is in the chain with the hash its appender was told.
    let stored: BTreeSet<(u64, String)> = events.iter().map(|e| (e.seq, e.hash.clone())).collect();
    for ack in &acknowledged {
        assert!(stored.contains(ack), "acknowledged {ack:?} missing");
    }
    let report = journal::verify(&dir).unwrap();
    assert!(report.is_ok(), "{report}");
    // Each event is by the login that appended it, and a batch stays contiguous.
    for pair in events.chunks(2) {
        assert_eq!(pair[0].actor, pair[1].actor);
        assert!(
            pair[0].data_value()["text"]
                .as_str()
                .unwrap()
                .starts_with(&pair[0].actor)
        );
    }
    // The mirror is byte for byte the server's canonical bytes with the hash spliced in.
    let server = db.psql(&format!(
        "SELECT string_agg(convert_from(substring(canonical FROM 1 FOR length(canonical) - 1), 'UTF8') \
         || ',\"hash\":\"' || hash || '\"}}' || chr(10), '' ORDER BY seq) FROM stanch.event \
         WHERE incident_id = '{INC}'"
    ));
    let file = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap();
    assert_eq!(server.trim_end_matches('\n'), file.trim_end_matches('\n'));
}

/// Run SQL as a responder over the socket; the error text when refused.
fn as_responder(db: &TeamDb<'_>, login: &str, sql: &str) -> Result<String, String> {
    db.cluster.psql_as(login, &db.name, sql)
}

fn assert_refused(result: Result<String, String>, why: &str, expect: &str) {
    match result {
        Ok(out) => panic!("{why}: accepted ({out})"),
        Err(err) => assert!(
            err.contains(expect),
            "{why}: refused, but for another reason: {err}"
        ),
    }
}

#[expect(
    clippy::too_many_lines,
    reason = "one end-to-end scenario read top to bottom"
)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_database_refuses_every_attack_on_the_chain() {
    let db = TeamDb::new(pg::shared()).await;
    db.add("alice", "commander", Some(INC)).await;
    db.add("bob", "ops", Some(INC)).await;
    db.add("mallory", "ops", Some("INC-OTHER")).await;
    let mut alice = db.chain("alice", INC).await;
    let events = alice
        .append(
            vec![note("one"), note("two"), note("three")],
            &Redactor::default(),
        )
        .await
        .unwrap();
    let count = || {
        db.psql(&format!(
            "SELECT count(*) FROM stanch.event WHERE incident_id = '{INC}'"
        ))
    };
    assert_eq!(count(), "3\n");

    // A row built like event 3 but re-sequenced, with a valid hash of its own (unless
    // `hash` overrides it) and the columns stanch would write (unless `kind` overrides).
    let forge_with = |seq: u64,
                      prev: &str,
                      actor: &str,
                      text: &str,
                      hash: Option<&str>,
                      kind: &str| {
        let mut e: Event = events[2].clone();
        e.seq = seq;
        e.prev = prev.to_owned();
        e.actor = actor.to_owned();
        e.data = serde_json::json!({"text": text, "tags": []}).into();
        e.hash = e.compute_hash();
        // The line without its hash is exactly the hashed bytes (field order kept).
        let line = serde_json::to_string(&e).unwrap();
        let canonical = line
            .replace(&format!(",\"hash\":\"{}\"}}", e.hash), "}")
            .replace('\'', "''");
        format!(
            "INSERT INTO stanch.event (incident_id, seq, prev, hash, canonical, actor, kind) \
             VALUES ('{INC}', {seq}, '{prev}', '{hash}', convert_to('{canonical}', 'UTF8'), '{actor}', '{kind}')",
            hash = hash.unwrap_or(&e.hash)
        )
    };
    let forge = |seq: u64, prev: &str, actor: &str, text: &str| {
        forge_with(seq, prev, actor, text, None, "note")
    };
    let head = events[2].hash.clone();

    // Forged actor: bob writes an event claiming to be alice (also after SET ROLE).
    assert_refused(
        as_responder(&db, "bob", &forge(4, &head, "alice", "I resign")),
        "forged actor",
        "actor alice is not the login bob",
    );
    // A non-member appends to an incident that is not theirs, as themselves.
    assert_refused(
        as_responder(&db, "mallory", &forge(4, &head, "mallory", "hi")),
        "non-member",
        "row-level security",
    );
    // …and cannot read it either.
    assert_eq!(
        as_responder(
            &db,
            "mallory",
            &format!("SELECT count(*) FROM stanch.event WHERE incident_id = '{INC}'")
        )
        .unwrap(),
        "0\n"
    );
    // A fork: a second seq 3 on seq 2.
    assert_refused(
        as_responder(&db, "bob", &forge(3, &events[1].hash, "bob", "fork")),
        "fork",
        "duplicate key",
    );
    // A gap: seq 5 with nothing at 4.
    assert_refused(
        as_responder(&db, "bob", &forge(5, &head, "bob", "gap")),
        "gap",
        "foreign key",
    );
    // A wrong prev: seq 4 pointing at event 2's hash.
    assert_refused(
        as_responder(&db, "bob", &forge(4, &events[1].hash, "bob", "wrong prev")),
        "wrong prev",
        "foreign key",
    );
    // A hash that does not match the bytes.
    let wrong_hash = forge_with(4, &head, "bob", "x", Some(&"f".repeat(64)), "note");
    assert_refused(
        as_responder(&db, "bob", &wrong_hash),
        "wrong hash",
        "event_hash_rule",
    );
    // Columns that disagree with the hashed bytes.
    assert_refused(
        as_responder(
            &db,
            "bob",
            &forge_with(4, &head, "bob", "x", None, "incident.closed"),
        ),
        "columns disagree",
        "disagree with the hashed JSON",
    );
    // Append-only: no UPDATE, DELETE or TRUNCATE for a responder…
    for (sql, why) in [
        (
            format!("UPDATE stanch.event SET step = 'x' WHERE incident_id = '{INC}'"),
            "update",
        ),
        (
            format!("DELETE FROM stanch.event WHERE incident_id = '{INC}'"),
            "delete",
        ),
        ("TRUNCATE stanch.event".to_owned(), "truncate"),
    ] {
        assert_refused(as_responder(&db, "alice", &sql), why, "permission denied");
    }
    // …nor for the schema's owner, who has the privileges: the triggers refuse.
    for (sql, why) in [
        (
            format!("UPDATE stanch.event SET step = 'x' WHERE incident_id = '{INC}'"),
            "owner update",
        ),
        (
            format!("DELETE FROM stanch.event WHERE incident_id = '{INC}'"),
            "owner delete",
        ),
        ("TRUNCATE stanch.event CASCADE".to_owned(), "owner truncate"),
    ] {
        assert_refused(
            db.cluster.psql_as("postgres", &db.name, &sql),
            why,
            "append-only",
        );
    }
    assert_eq!(count(), "3\n", "nothing changed");
    // The honest next event still goes in.
    as_responder(&db, "bob", &forge(4, &head, "bob", "honest")).unwrap();
    assert_eq!(count(), "4\n");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_event_by_someone_else_is_refused_before_it_is_sent() {
    let db = TeamDb::new(pg::shared()).await;
    db.add("alice", "commander", Some(INC)).await;
    let mut alice = db.chain("alice", INC).await;
    let mut forged = note("as bob");
    forged.actor = Some("bob".into());
    let err = alice
        .append(vec![forged], &Redactor::default())
        .await
        .unwrap_err();
    assert!(matches!(err, TeamError::ForeignActor { .. }), "{err}");
    assert_eq!(db.psql("SELECT count(*) FROM stanch.event"), "0\n");
}

#[tokio::test]
async fn events_queued_together_share_one_transaction_in_queue_order() {
    use stanch::team::Appender;
    let db = TeamDb::new(pg::shared()).await;
    db.add("alice", "commander", Some(INC)).await;
    let appender = Appender::spawn(
        db.chain("alice", INC).await,
        db.as_user("alice"),
        Redactor::default(),
    );
    // On this single-threaded runtime every append below is queued before the writer task
    // runs, so they must go as one transaction.
    let appends = (0..50).map(|i| appender.append(note(&format!("queued {i}"))));
    let events = futures_util::future::join_all(appends).await;
    let seqs: Vec<u64> = events.into_iter().map(|e| e.unwrap().seq).collect();
    assert_eq!(
        seqs,
        (1..=50).collect::<Vec<_>>(),
        "answered in queue order"
    );
    assert_eq!(
        db.psql(&format!(
            "SELECT count(DISTINCT xmin::text) || ' ' || count(*) FROM stanch.event WHERE incident_id = '{INC}'"
        )),
        "1 50\n",
        "one transaction for the 50 events"
    );
    // Text order is queue order too.
    let texts = db.psql(&format!(
        "SELECT string_agg(convert_from(canonical, 'UTF8')::jsonb #>> '{{data,text}}', ',' ORDER BY seq) \
         FROM stanch.event WHERE incident_id = '{INC}'"
    ));
    let expected: Vec<String> = (0..50).map(|i| format!("queued {i}")).collect();
    assert_eq!(texts.trim_end(), expected.join(","));
}
