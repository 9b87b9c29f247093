//! Presence on a real PostgreSQL 15: heartbeats and the list, and what row-level security
//! and the server's clock refuse a responder (someone else's row, a forged time, a
//! non-member).

use crate::support::pg;
use crate::support::team;

use stanch::team::presence::Presence;
use team::TeamDb;

const INC: &str = "INC-PRESENCE";

async fn presence(db: &TeamDb<'_>, login: &str) -> Presence {
    let client = db.as_user(login).connect().await.unwrap();
    Presence::new(client, INC).await.unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn members_see_each_other_and_each_writes_only_their_own_row() {
    let db = TeamDb::new(pg::shared()).await;
    db.add("ann", "commander", Some(INC)).await;
    db.add("bob", "ops", Some(INC)).await;
    db.add("eve", "ops", None).await;
    let ann = presence(&db, "ann").await;
    let bob = presence(&db, "bob").await;
    ann.heartbeat(Some("close-index")).await.unwrap();
    bob.heartbeat(None).await.unwrap();
    let seen = bob.list().await.unwrap();
    let summary: Vec<(&str, Option<&str>)> = seen
        .iter()
        .map(|s| (s.login.as_str(), s.focus_step.as_deref()))
        .collect();
    assert_eq!(summary, [("ann", Some("close-index")), ("bob", None)]);
    assert!(seen.iter().all(|s| s.age_ms < 60_000), "{seen:?}");
    // A second beat moves the focus and the time.
    let before = seen[0].last_seen;
    ann.heartbeat(Some("revoke-tokens")).await.unwrap();
    let now = ann.list().await.unwrap();
    assert_eq!(now[0].focus_step.as_deref(), Some("revoke-tokens"));
    assert!(now[0].last_seen >= before);

    // bob cannot touch ann's row, forge a time, or remove anyone.
    let client = bob.client();
    let moved = client
        .execute(
            "UPDATE stanch.presence SET focus_step = 'forged' WHERE login = 'ann'",
            &[],
        )
        .await
        .unwrap();
    assert_eq!(
        moved, 0,
        "row-level security hides ann's row from bob's UPDATE"
    );
    let err = client
        .execute(
            "INSERT INTO stanch.presence (incident_id, login) VALUES ($1, 'ann')",
            &[&INC],
        )
        .await
        .unwrap_err();
    refused(&err);
    client
        .execute(
            "INSERT INTO stanch.presence (incident_id) VALUES ($1) ON CONFLICT (incident_id, login) \
             DO UPDATE SET last_seen = '2099-01-01'",
            &[&INC],
        )
        .await
        .unwrap();
    let err = client
        .execute("DELETE FROM stanch.presence", &[])
        .await
        .unwrap_err();
    refused(&err);
    let rows = db.psql(&format!(
        "SELECT login, focus_step, last_seen <= clock_timestamp() FROM stanch.presence \
         WHERE incident_id = '{INC}' ORDER BY login"
    ));
    assert_eq!(
        rows, "ann|revoke-tokens|t\nbob||t\n",
        "the server's clock, not bob's"
    );

    // eve is not a member: she sees nobody and cannot announce herself.
    let eve = presence(&db, "eve").await;
    assert!(eve.list().await.unwrap().is_empty());
    let err = eve.heartbeat(None).await.unwrap_err();
    assert_eq!(err.sqlstate(), Some("42501"), "{err}");
}

/// A refusal for lack of privilege (row-level security or a missing grant).
fn refused(err: &tokio_postgres::Error) {
    assert_eq!(
        err.code().map(tokio_postgres::error::SqlState::code),
        Some("42501"),
        "{err}"
    );
}
