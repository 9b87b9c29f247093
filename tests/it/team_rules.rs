//! Who does what, enforced by the team database itself (migration 0002), on a real
//! PostgreSQL 15: each rule is tried through the chain API as a client would (a valid,
//! correctly hashed event) and refused by the server, the chain left as it was; what the
//! database allows is what stanch's own fold (`incident::team`) says.

use crate::support::pg;
use crate::support::team;

use serde_json::json;
use stanch::incident::Incident;
use stanch::journal::{Kind, NewEvent};
use stanch::secret::Redactor;
use stanch::team::{Chain, TeamError};
use team::TeamDb;

const INC: &str = "INC-RULES";

fn opened() -> NewEvent {
    NewEvent::new(
        Kind::IncidentOpened,
        json!({"incident_id": INC, "runbook_id": "r", "inputs": {}, "drill": false}),
    )
}

fn claim(step: &str) -> NewEvent {
    NewEvent::for_step(Kind::StepClaimed, step, json!({}))
}

fn release(step: &str) -> NewEvent {
    NewEvent::for_step(Kind::StepReleased, step, json!({}))
}

fn started(step: &str) -> NewEvent {
    NewEvent::for_step(
        Kind::StepStarted,
        step,
        json!({"attempt": 1, "rerun": false}),
    )
}

fn take_over(step: &str, from: &str, reason: &str) -> NewEvent {
    NewEvent::for_step(
        Kind::StepTakenOver,
        step,
        json!({"from": from, "reason": reason}),
    )
}

fn role(login: &str, role: &str, take_over: Option<&str>) -> NewEvent {
    let mut data = json!({"login": login, "role": role});
    if let Some(reason) = take_over {
        data["take_over"] = reason.into();
    }
    NewEvent::new(Kind::RoleChanged, data)
}

fn closed() -> NewEvent {
    NewEvent::new(Kind::IncidentClosed, json!({"summary": "done"}))
}

async fn ok(chain: &mut Chain, event: NewEvent) {
    let kind = event.kind;
    chain
        .append(vec![event], &Redactor::default())
        .await
        .unwrap_or_else(|e| panic!("{kind} by {} refused: {e}", chain.login()));
}

/// The server refuses `event` with a check violation whose message contains `says`.
async fn refused(chain: &mut Chain, event: NewEvent, says: &str) {
    let kind = event.kind;
    let err = chain
        .append(vec![event], &Redactor::default())
        .await
        .expect_err(&format!("{kind} by {} must be refused", chain.login()));
    assert_eq!(err.sqlstate(), Some("23514"), "{kind}: {err}");
    assert!(
        err.to_string().contains(says),
        "{kind}: expected {says:?} in: {err}"
    );
}

fn count(db: &TeamDb<'_>) -> String {
    db.psql(&format!(
        "SELECT count(*) FROM stanch.event WHERE incident_id = '{INC}'"
    ))
}

async fn fold(chain: &Chain) -> Incident {
    let fetched = chain
        .fetch_after(0, stanch::journal::event::GENESIS, 1000)
        .await
        .unwrap();
    Incident::replay(fetched.into_iter().map(|f| f.event))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "every rule in turn on one chain, each refusal beside what it refuses"
)]
async fn claims_take_overs_roles_and_closing_are_refused_by_the_database_unless_allowed() {
    let db = TeamDb::new(pg::shared()).await;
    db.add("alice", "commander", Some(INC)).await;
    db.add("bob", "ops", Some(INC)).await;
    db.add("carol", "comms", Some(INC)).await;
    db.add("mallory", "ops", Some("INC-ELSEWHERE")).await;
    let mut alice = db.chain("alice", INC).await;
    let mut bob = db.chain("bob", INC).await;
    let mut carol = db.chain("carol", INC).await;
    // The opener commands the incident.
    ok(&mut alice, opened()).await;

    // Claims: one holder at a time; only the holder runs or releases it.
    ok(&mut bob, claim("close-index")).await;
    ok(&mut bob, claim("close-index")).await; // claiming one's own again is harmless
    refused(&mut alice, claim("close-index"), "is held by bob").await;
    refused(&mut alice, started("close-index"), "must claim it").await;
    refused(&mut carol, started("free-step"), "held by nobody").await;
    refused(
        &mut alice,
        release("close-index"),
        "only its holder releases it",
    )
    .await;
    ok(&mut bob, started("close-index")).await;

    // Take-overs: of a held step only, naming its holder, with a reason.
    refused(
        &mut alice,
        take_over("free-step", "bob", "x"),
        "nothing to take over",
    )
    .await;
    refused(
        &mut bob,
        take_over("close-index", "bob", "x"),
        "nothing to take over",
    )
    .await;
    refused(
        &mut alice,
        take_over("close-index", "carol", "bob is away"),
        "not by carol",
    )
    .await;
    refused(
        &mut alice,
        take_over("close-index", "bob", "  "),
        "needs a reason",
    )
    .await;
    ok(
        &mut alice,
        take_over("close-index", "bob", "bob's laptop died"),
    )
    .await;
    refused(&mut bob, started("close-index"), "is held by alice").await;
    ok(&mut alice, release("close-index")).await;
    ok(&mut carol, claim("close-index")).await;

    // Roles: the commander changes them; others only by taking command, with a reason.
    refused(
        &mut bob,
        role("carol", "scribe", None),
        "only the commander (alice)",
    )
    .await;
    refused(
        &mut bob,
        role("bob", "commander", None),
        "only the commander (alice)",
    )
    .await;
    refused(&mut bob, closed(), "only the commander (alice) closes").await;
    refused(
        &mut alice,
        role("mallory", "ops", None),
        "mallory is not a member",
    )
    .await;
    refused(
        &mut alice,
        role("carol", "king", None),
        "king is not a team role",
    )
    .await;
    ok(&mut alice, role("carol", "scribe", None)).await;
    ok(
        &mut bob,
        role("bob", "commander", Some("alice is unreachable")),
    )
    .await;
    refused(
        &mut alice,
        role("carol", "comms", None),
        "only the commander (bob)",
    )
    .await;
    refused(&mut alice, closed(), "only the commander (bob) closes").await;
    // An explicit hand-over back; then the commander closes.
    ok(&mut bob, role("alice", "commander", None)).await;
    refused(&mut bob, closed(), "only the commander (alice) closes").await;
    ok(&mut alice, closed()).await;

    // Nothing refused was stored; the roster has the roles given in the chain.
    assert_eq!(count(&db).trim(), "11");
    let roster = db.psql(&format!(
        "SELECT login || ':' || role FROM stanch.member WHERE incident_id = '{INC}' ORDER BY 1"
    ));
    assert!(roster.contains("carol:scribe"), "{roster}");
    assert!(roster.contains("bob:commander"), "{roster}");

    // stanch's own fold says what the database decided.
    let incident = fold(&alice).await;
    assert_eq!(incident.team.holder("close-index"), Some("carol"));
    assert_eq!(incident.team.commander.as_deref(), Some("alice"));
    assert_eq!(incident.team.role_of("carol"), Some("scribe"));
    assert_eq!(incident.team.role_of("bob"), Some("ops"));
    assert!(incident.closed_at.is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_is_checked_row_by_row_and_a_refused_row_refuses_the_batch() {
    let db = TeamDb::new(pg::shared()).await;
    db.add("alice", "commander", Some(INC)).await;
    db.add("bob", "ops", Some(INC)).await;
    let mut alice = db.chain("alice", INC).await;
    let mut bob = db.chain("bob", INC).await;
    // Claim and start in one transaction: the start sees the claim before it.
    alice
        .append(
            vec![opened(), claim("s"), started("s")],
            &Redactor::default(),
        )
        .await
        .unwrap();
    // Bob's batch: a note, then a claim of alice's step: all or nothing.
    let err = bob
        .append(
            vec![team::note("fine on its own"), claim("s")],
            &Redactor::default(),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, TeamError::Db { .. }), "{err}");
    assert_eq!(count(&db).trim(), "3");
}

/// One thread: both appends are queued before the writer task runs, so they share a batch.
#[tokio::test(flavor = "current_thread")]
async fn an_event_refused_in_a_group_commit_fails_alone_and_its_batch_mates_go_in() {
    let db = TeamDb::new(pg::shared()).await;
    db.add("alice", "commander", Some(INC)).await;
    db.add("bob", "ops", Some(INC)).await;
    let mut alice = db.chain("alice", INC).await;
    ok(&mut alice, opened()).await;
    ok(&mut alice, claim("s")).await;
    let bob = stanch::team::Appender::spawn(
        db.chain("bob", INC).await,
        db.as_user("bob"),
        Redactor::default(),
    );
    let (note, stolen) = tokio::join!(bob.append(team::note("bob's note")), bob.append(claim("s")));
    let note = note.expect("the note goes in");
    assert_eq!(note.seq, 3);
    let err = stolen.expect_err("the claim of alice's step is refused");
    assert!(err.to_string().contains("is held by alice"), "{err}");
    assert_eq!(count(&db).trim(), "3");
}
