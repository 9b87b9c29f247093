//! Team mode under faults, on a real PostgreSQL 15 of its own (this binary stops it):
//! the server is killed (`pg_ctl stop -m immediate`) while four responders append and a fifth
//! follows; after the restart no acknowledged event is missing, the follower catches up by
//! itself, and the chain verifies.

use crate::support::pg;
use crate::support::team;

use std::collections::BTreeMap;
use std::time::Duration;

use stanch::journal;
use stanch::secret::Redactor;
use stanch::team::follow::Pace;
use stanch::team::{Appender, Chain, Follower, Mirror, Target};
use team::{TeamDb, note};
use tokio::sync::mpsc;

const INC: &str = "INC-CRASH";
const PER_APPENDER: usize = 40;

/// What an appender reports.
enum Report {
    /// Connected: the server may be killed from now on (an appender that had not connected
    /// yet would only test the connect, not a crash mid-incident).
    Ready,
    Acked(u64, String),
    Failed(&'static str),
    Done,
}

/// A responder appending through stanch's own [`Appender`] (which reconnects by itself),
/// retrying what was not acknowledged, as a responder's client does.
async fn appender(target: Target, login: &'static str, reports: mpsc::UnboundedSender<Report>) {
    let chain = Chain::open(&target, INC).await.unwrap();
    let appender = Appender::spawn(chain, target, Redactor::default());
    let _ = reports.send(Report::Ready);
    let mut acked = 0;
    while acked < PER_APPENDER {
        if let Ok(e) = appender.append(note(&format!("{login} {acked}"))).await {
            acked += 1;
            let _ = reports.send(Report::Acked(e.seq, e.hash));
        } else {
            // Not acknowledged: it may or may not have committed; it goes again as a new
            // event. The pause is the client's back-off, not a test waiting for an event.
            let _ = reports.send(Report::Failed(login));
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
    let _ = reports.send(Report::Done);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_crash_loses_no_acknowledged_event_and_everyone_catches_up() {
    let cluster = pg::Cluster::start();
    let db = TeamDb::new(&cluster).await;
    let logins = ["ann", "ben", "cat", "dan"];
    for login in logins {
        db.add(login, "ops", Some(INC)).await;
    }
    db.add("eve", "observer", Some(INC)).await;
    let data = tempfile::tempdir().unwrap();
    let dir = data.path().join(INC);
    let mut follower = Follower::spawn(
        db.as_user("eve"),
        INC.to_owned(),
        Mirror::open(&dir, "eve").unwrap(),
        Pace {
            poll: Duration::from_hours(1),
            reconnect: Duration::from_millis(100),
        },
    );
    let (reports_tx, mut reports_rx) = mpsc::unbounded_channel();
    for login in logins {
        tokio::spawn(appender(db.as_user(login), login, reports_tx.clone()));
    }
    drop(reports_tx);

    let mut acked = BTreeMap::new();
    let mut felt_it = std::collections::BTreeSet::new();
    let mut done = 0;
    let mut ready = 0;
    let mut killed = false;
    let mut restarted = false;
    while done < logins.len() {
        let report = tokio::time::timeout(Duration::from_mins(1), reports_rx.recv())
            .await
            .expect("appenders make progress")
            .expect("appenders report until done");
        match report {
            Report::Acked(seq, hash) => {
                assert!(
                    acked.insert(seq, hash).is_none(),
                    "seq {seq} acknowledged twice"
                );
            }
            Report::Failed(login) => {
                felt_it.insert(login);
            }
            Report::Ready => ready += 1,
            Report::Done => done += 1,
        }
        if !killed && ready == logins.len() && acked.len() >= 30 {
            cluster.kill();
            killed = true;
        }
        // Restart once every appender has felt the crash (or finished).
        if killed && !restarted && felt_it.len() + done >= logins.len() {
            cluster.restart();
            restarted = true;
        }
    }
    assert!(killed && restarted, "the crash happened mid-stream");
    assert!(!felt_it.is_empty(), "the appenders saw the crash");
    assert_eq!(acked.len(), logins.len() * PER_APPENDER);

    // The follower lost the link, reconnected by itself and caught up with the server's head.
    let head = db.head(INC);
    let disconnected = team::caught_up(&mut follower, head).await;
    assert!(disconnected, "the follower saw the link drop");
    drop(follower);

    // Every acknowledged event is in the follower's mirror with the hash its appender got,
    // and the whole chain verifies as a file journal.
    let events = journal::read(&dir).unwrap();
    assert_eq!(events.len() as u64, head);
    for (seq, hash) in &acked {
        let event = &events[usize::try_from(*seq).unwrap() - 1];
        assert_eq!(&event.hash, hash, "acknowledged seq {seq} changed or lost");
    }
    let report = journal::verify(&dir).unwrap();
    assert!(report.is_ok(), "{report}");
}
