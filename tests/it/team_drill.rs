//! Team drills on a real PostgreSQL 15: a facilitator and two teams in one exercise. What the
//! database refuses players (injects, clock changes, the score, another team's incident), where
//! injects land and with which target, and the facilitator's binary running an exercise end to
//! end, its side-by-side table ranking the team that contained faster first.

use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use stanch::incident::Incident;
use stanch::journal::payload::{Inject, InjectAcknowledged, InjectTarget, Mark, Payload};
use stanch::journal::{Event, Kind, NewEvent};
use stanch::secret::Redactor;
use stanch::team::exercise::{self, Facilitation};
use stanch::team::{TeamError, chain};

use crate::support::cli;
use crate::support::lab_http;
use crate::support::pg;
use crate::support::team::{TeamDb, note, read_events};

const DEADLINE: Duration = Duration::from_mins(1);

fn inject(title: &str) -> Inject {
    Inject {
        title: title.to_owned(),
        body: "body".to_owned(),
        offset: "+1m".to_owned(),
        target: None,
    }
}

fn refused(result: Result<Vec<Event>, TeamError>, sqlstate: &str, what: &str) -> String {
    let err = result.expect_err(what);
    assert_eq!(err.sqlstate(), Some(sqlstate), "{what}: {err}");
    err.to_string()
}

fn targets(events: &[Event]) -> Vec<(String, Option<InjectTarget>)> {
    events
        .iter()
        .filter_map(|e| match e.payload() {
            Ok(Payload::Inject(i)) => Some((i.title, i.target)),
            _ => None,
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "one exercise, every refusal in order: the story reads top to bottom"
)]
async fn only_the_facilitator_injects_and_each_team_reads_only_its_own_incident() {
    let cluster = pg::shared();
    let db = TeamDb::new(cluster).await;
    db.add("fay", "facilitator", None).await;
    db.add("mallory", "ops", None).await;
    // Only a facilitator opens an exercise.
    let mut client = db.as_user("mallory").connect().await.unwrap();
    let err = exercise::create(&mut client, "EX-FAKE", "s", &["red".into()])
        .await
        .expect_err("a player cannot open an exercise");
    assert_eq!(err.sqlstate(), Some("42501"), "{err}");

    let mut client = db.as_user("fay").connect().await.unwrap();
    let teams = exercise::parse_teams("red,blue").unwrap();
    let created = exercise::create(&mut client, "EX1", "Reference drill", &teams)
        .await
        .unwrap();
    assert_eq!(
        created
            .teams
            .iter()
            .map(|t| (t.team.as_str(), t.incident.as_str()))
            .collect::<Vec<_>>(),
        [("blue", "EX1-blue"), ("red", "EX1-red")]
    );
    // The facilitator facilitates each team's incident; nobody commands it yet.
    assert_eq!(
        db.psql("SELECT incident_id, login, role FROM stanch.member ORDER BY 1"),
        "EX1-blue|fay|facilitator\nEX1-red|fay|facilitator\n"
    );
    // Nobody but its facilitator adds a team to an exercise.
    let joined = cluster.psql_as(
        "mallory",
        &db.name,
        "INSERT INTO stanch.incident (id, exercise_id, team) VALUES ('EX1-green', 'EX1', 'green')",
    );
    assert!(
        joined
            .as_ref()
            .is_err_and(|e| e.contains("row-level security")),
        "{joined:?}"
    );
    db.add("alice", "ops", Some("EX1-red")).await;
    db.add("bob", "comms", Some("EX1-red")).await;
    db.add("carol", "comms", Some("EX1-blue")).await;

    let mut fac = Facilitation::open(&db.as_user("fay"), created, Redactor::default())
        .await
        .unwrap();
    fac.inject("red", &inject("for red"), None).await.unwrap();
    fac.inject("red", &inject("for comms in red"), Some("comms"))
        .await
        .unwrap();
    let to_blue = fac.inject("blue", &inject("for blue"), None).await.unwrap();
    assert_eq!(to_blue.actor, "fay");
    // A target naming another team is refused by the database, even from the facilitator.
    let mut misdirected = inject("for blue, sent to red");
    misdirected.target = Some(InjectTarget::Team("blue".into()));
    refused(
        fac.append("red", vec![NewEvent::incident(misdirected)])
            .await,
        "23514",
        "an inject for another team",
    );

    // Players see their own team's injects, with their targets; the other team's not at all.
    let mut alice = db.chain("alice", "EX1-red").await;
    let red = read_events(&alice).await.unwrap();
    assert_eq!(
        targets(&red),
        [
            ("for red".to_owned(), Some(InjectTarget::Team("red".into()))),
            (
                "for comms in red".to_owned(),
                Some(InjectTarget::Role("comms".into()))
            ),
        ]
    );
    let alice_on_blue = db.chain("alice", "EX1-blue").await;
    assert!(
        read_events(&alice_on_blue).await.unwrap().is_empty(),
        "row-level security hides blue's events from red's player"
    );
    let alice_client = db.as_user("alice").connect().await.unwrap();
    assert_eq!(chain::incidents(&alice_client).await.unwrap(), ["EX1-red"]);
    let seen = exercise::load(&alice_client, "EX1").await.unwrap();
    assert_eq!(seen.teams.len(), 1, "{seen:?}");
    let outsider = db.as_user("mallory").connect().await.unwrap();
    assert!(matches!(
        exercise::load(&outsider, "EX1").await,
        Err(TeamError::NoExercise(id)) if id == "EX1"
    ));
    assert_eq!(
        cluster.psql_as(
            "alice",
            &db.name,
            "SELECT count(*) FROM stanch.event WHERE incident_id = 'EX1-blue'"
        ),
        Ok("0\n".to_owned())
    );
    // Appending into the other team's incident is refused too.
    let mut alice_into_blue = db.chain("alice", "EX1-blue").await;
    refused(
        alice_into_blue
            .append(vec![note("hello blue")], &Redactor::default())
            .await,
        "42501",
        "a note into another team's incident",
    );

    // A player cannot inject, change the clock or score an exercise's incident.
    for (what, event) in [
        ("an inject", NewEvent::incident(inject("fake"))),
        (
            "a clock change",
            NewEvent::incident(stanch::journal::payload::DrillClock {
                paused: true,
                speed: 1.0,
                scenario_ms: 0,
                at: jiff::Timestamp::now(),
            }),
        ),
        (
            "a score",
            NewEvent::incident(stanch::journal::payload::DrillScore(json!({}))),
        ),
    ] {
        let message = refused(
            alice.append(vec![event], &Redactor::default()).await,
            "42501",
            what,
        );
        assert!(
            message.contains("only a facilitator of the drill may append"),
            "{message}"
        );
    }
    // Players acknowledge injects, and only injects.
    let first = red.iter().find(|e| e.kind == Kind::Inject).unwrap().seq;
    alice
        .append(
            vec![NewEvent::incident(InjectAcknowledged { inject: first })],
            &Redactor::default(),
        )
        .await
        .unwrap();
    refused(
        alice
            .append(
                vec![NewEvent::incident(InjectAcknowledged { inject: 999 })],
                &Redactor::default(),
            )
            .await,
        "23514",
        "an acknowledgement of no inject",
    );
    // The facilitator reads every team's incident, acknowledgements included.
    let red_now = fac.incident("red").await.unwrap();
    assert_eq!(red_now.injects[0].acknowledged_by, ["alice"]);
    assert_eq!(
        red_now.injects[1].target,
        Some(InjectTarget::Role("comms".into()))
    );
    assert_eq!(fac.incident("blue").await.unwrap().injects.len(), 1);
    // The link drops (the server ends the facilitator's sessions): that append fails and says
    // so, the next one connects again.
    // (Logins are cluster-wide: only this test's database, not a concurrent test's sessions.)
    db.psql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity
         WHERE usename = 'fay' AND datname = current_database()",
    );
    let lost = fac.inject("blue", &inject("in the outage"), None).await;
    assert!(
        lost.as_ref().is_err_and(TeamError::is_link_lost),
        "{lost:?}"
    );
    fac.inject("blue", &inject("after the outage"), None)
        .await
        .unwrap();
    assert_eq!(fac.incident("blue").await.unwrap().injects.len(), 2);
    // Every chain still verifies link by link on a plain read.
    let all = read_events(&db.chain("bob", "EX1-red").await)
        .await
        .unwrap();
    assert_eq!(all.len(), 3);

    // A team drill nobody facilitates takes its injects from the players' terminals; once a
    // facilitator joins the incident, only they inject.
    db.add("alice", "ops", Some("INC-SOLO")).await;
    let mut solo = db.chain("alice", "INC-SOLO").await;
    solo.append(
        vec![NewEvent::incident(inject("from the scenario"))],
        &Redactor::default(),
    )
    .await
    .unwrap();
    db.add("fay", "facilitator", Some("INC-SOLO")).await;
    refused(
        solo.append(
            vec![NewEvent::incident(inject("now facilitated"))],
            &Redactor::default(),
        )
        .await,
        "42501",
        "an inject by a player once a facilitator runs the drill",
    );
}

/// Lines of the facilitator's stdout, read on a thread, awaited with a deadline.
struct Facilitator {
    child: Child,
    stdin: ChildStdin,
    lines_rx: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Facilitator {
    fn spawn(args: &[&str], data: &std::path::Path) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_stanch"))
            .args(args)
            .env("STANCH_DATA_DIR", data)
            .env_remove("STANCH_TEAM")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap();
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (lines_tx, lines_rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if lines_tx.send(line).is_err() {
                    break;
                }
            }
        });
        Self {
            child,
            stdin,
            lines_rx,
            seen: Vec::new(),
        }
    }

    fn send(&mut self, command: &str) {
        writeln!(self.stdin, "{command}").unwrap();
        self.stdin.flush().unwrap();
    }

    /// Wait until `count` lines so far satisfy `matches`; every line read is kept in `seen`.
    fn wait_for(&mut self, count: usize, matches: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + DEADLINE;
        while self.seen.iter().filter(|l| matches(l)).count() < count {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.lines_rx.recv_timeout(left) {
                Ok(line) => self.seen.push(line),
                Err(e) => panic!(
                    "facilitator output did not arrive ({e}); so far:\n{}",
                    self.seen.join("\n")
                ),
            }
        }
    }

    fn line(&self, prefix: &str) -> &str {
        self.seen
            .iter()
            .find(|l| l.starts_with(prefix))
            .unwrap_or_else(|| panic!("no line `{prefix}…` in:\n{}", self.seen.join("\n")))
    }
}

/// `team red: incident EXB-red · lab es http://… · auth … · comms …` → the es URL.
fn lab_es(line: &str) -> String {
    line.split(" · lab es ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap()
        .to_owned()
}

/// `stanch ARGS` with its data under `data`; its standard output, after it succeeded.
fn stanch(args: &[&str], data: &std::path::Path) -> Vec<u8> {
    cli::succeeded(cli::stanch(data).args(args).env_remove("STANCH_TEAM")).stdout
}

fn stanch_score(url: &str, exercise: &str) -> Value {
    let data = tempfile::tempdir().unwrap();
    let args = [
        "drill", "--team", url, "--score", exercise, "--format", "json",
    ];
    serde_json::from_slice(&stanch(&args, data.path())).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[expect(
    clippy::too_many_lines,
    reason = "one exercise from hand-out to the table, as a facilitator and two players see it"
)]
async fn the_facilitator_runs_an_exercise_and_the_faster_team_ranks_first() {
    let cluster = pg::shared();
    let db = TeamDb::new(cluster).await;
    db.add("fay", "facilitator", None).await;
    let fay_url = cluster.socket_url("fay", &db.name);
    let data = tempfile::tempdir().unwrap();
    // ×3600: the scenario's five injects (the last at +3h) arrive within three seconds.
    let mut fac = Facilitator::spawn(
        &[
            "drill",
            "--team",
            &fay_url,
            "--facilitate",
            "--teams",
            "red,blue",
            "--incident",
            "EXB",
            "--speed",
            "3600",
        ],
        data.path(),
    );
    fac.wait_for(1, |l| l.starts_with("commands:"));
    assert!(
        fac.line("EXERCISE EXB · Reference drill")
            .ends_with("· speed ×3600 · facilitator fay")
    );
    let red_es = lab_es(fac.line("team red: incident EXB-red"));
    let blue_es = lab_es(fac.line("team blue: incident EXB-blue"));
    assert_ne!(red_es, blue_es, "a lab per team");
    assert!(fac.seen.iter().any(|l| l
        == "  add each player (database admin): stanch team add NAME --role ROLE --incident EXB-red --team ADMIN_URL"));
    // The players, added as the hand-out says.
    db.add("alice", "ops", Some("EXB-red")).await;
    db.add("carol", "ops", Some("EXB-blue")).await;
    let mut alice = db.chain("alice", "EXB-red").await;
    let mut carol = db.chain("carol", "EXB-blue").await;
    // Each team's runbook targets its own lab: the lab URL is in its incident's inputs.
    let opened = Incident::replay(read_events(&alice).await.unwrap());
    assert_eq!(opened.inputs["es_url"], red_es.as_str());
    assert!(opened.drill);
    let blue_opened = Incident::replay(read_events(&carol).await.unwrap());
    assert_eq!(blue_opened.inputs["es_url"], blue_es.as_str());
    assert!(opened.injects.is_empty(), "the clock waits for `start`");

    fac.send("start");
    fac.wait_for(1, |l| l.starts_with("clock running at +0s (×3600)"));
    fac.wait_for(10, |l| l.contains(" inject \""));
    fac.send("inject red @comms Call the regulator | The DPA asks for a call today");
    fac.wait_for(1, |l| {
        l.contains("inject \"Call the regulator\" → red @comms")
    });

    // Red closes its index at once and marks containment; blue closes its own an hour of
    // scenario time later (its player marks a later time). Red acknowledges every inject.
    let http = lab_http::client();
    for es in [&red_es, &blue_es] {
        let closed = http
            .post(format!("{es}/customers/_close"))
            .send()
            .await
            .unwrap();
        assert_eq!(closed.status(), 200);
    }
    let now = jiff::Timestamp::now()
        .round(jiff::Unit::Millisecond)
        .unwrap();
    let contained = |at: jiff::Timestamp| {
        NewEvent::incident(Mark {
            name: "contained".into(),
            at: Some(at),
            corrects: None,
        })
    };
    alice
        .append(vec![contained(now)], &Redactor::default())
        .await
        .unwrap();
    carol
        .append(
            vec![contained(now + jiff::SignedDuration::from_secs(1))],
            &Redactor::default(),
        )
        .await
        .unwrap();
    let red_events = read_events(&alice).await.unwrap();
    let red_injects = Incident::replay(red_events.clone()).injects;
    assert_eq!(red_injects.len(), 6, "five from the scenario, one typed");
    assert_eq!(
        red_injects.last().unwrap().target,
        Some(InjectTarget::Role("comms".into()))
    );
    // The scenario's injects are for the team, the journalist's for its comms role.
    let scenario_targets: Vec<InjectTarget> = red_injects[..5]
        .iter()
        .map(|i| i.target.clone().unwrap())
        .collect();
    let team = InjectTarget::Team("red".into());
    assert_eq!(
        scenario_targets,
        [
            team.clone(),
            InjectTarget::Role("comms".into()),
            team.clone(),
            team.clone(),
            team
        ]
    );
    let acks = red_injects
        .iter()
        .map(|i| NewEvent::incident(InjectAcknowledged { inject: i.seq }))
        .collect();
    alice.append(acks, &Redactor::default()).await.unwrap();

    // The facilitator sees the players' events live, outside text escaped for the terminal.
    fac.wait_for(6, |l| {
        l.starts_with("red · alice: Inject (seq ") && l.ends_with(") acknowledged")
    });
    carol
        .append(vec![note("\u{1b}[2J blue is on it")], &Redactor::default())
        .await
        .unwrap();
    fac.wait_for(1, |l| l.starts_with("blue · carol: Note: "));
    let shown = fac.line("blue · carol: Note: ");
    assert!(
        shown.contains("\\x1b[2J blue is on it") && !shown.contains('\u{1b}'),
        "{shown:?}"
    );
    fac.send("status");
    fac.wait_for(1, |l| l.starts_with("red: 6/6 injects acknowledged"));
    fac.send("end");
    fac.wait_for(1, |l| l.starts_with("Exercise EXB ended"));
    let status = fac.child.wait().unwrap();
    assert!(status.success());
    let board_line = |rank: &str| {
        fac.seen
            .iter()
            .rev()
            .find(|l| l.starts_with(rank))
            .cloned()
            .unwrap()
    };
    assert!(
        board_line("1 ").contains(" red "),
        "{}",
        fac.seen.join("\n")
    );
    assert!(
        board_line("2 ").contains(" blue "),
        "{}",
        fac.seen.join("\n")
    );

    // The scores are in each incident; `--score` puts them side by side again, later.
    let board = stanch_score(&fay_url, "EXB");
    let rows = board["teams"].as_array().unwrap();
    assert_eq!(rows[0]["team"], "red");
    assert_eq!(rows[1]["team"], "blue");
    assert_eq!(rows[0]["unreadable"], true);
    assert_eq!(rows[1]["unreadable"], true, "both closed their index");
    let (red_ms, blue_ms) = (
        rows[0]["contained_ms"].as_i64().unwrap(),
        rows[1]["contained_ms"].as_i64().unwrap(),
    );
    // One wall-clock second at ×3600 is an hour of scenario time.
    assert!(
        (blue_ms - red_ms - 3_600_000).abs() < 5_000,
        "red {red_ms} ms, blue {blue_ms} ms"
    );
    assert_eq!(
        (
            &rows[0]["injects_acknowledged"],
            &rows[0]["injects"],
            &rows[1]["injects_acknowledged"],
            &rows[1]["injects"]
        ),
        (&json!(6), &json!(6), &json!(0), &json!(5))
    );
    // A player's view of the same exercise holds their own team only.
    let alice_board = stanch_score(&cluster.socket_url("alice", &db.name), "EXB");
    let teams: Vec<&str> = alice_board["teams"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["team"].as_str().unwrap())
        .collect();
    assert_eq!(teams, ["red"]);
    // The facilitator's local copies of the teams' chains verify offline.
    stanch(&["verify", "EXB-red"], data.path());
    // No lab secret reached the shared database (the runbook's secrets stay on each machine).
    let stored = db.psql("SELECT convert_from(canonical, 'UTF8') FROM stanch.event");
    assert!(stored.contains("customers"), "the dump holds the events");
    for secret in stanch::lab::Credentials::from_seed(2019).values() {
        assert!(!stored.contains(secret), "a lab secret is in the database");
    }
    // The clock's changes and the score are the facilitator's events in each chain.
    let red_all = read_events(&alice).await.unwrap();
    let by_fay: Vec<&str> = red_all
        .iter()
        .filter(|e| e.actor == "fay")
        .map(|e| e.kind.as_str())
        .collect();
    assert_eq!(by_fay.first(), Some(&"incident.opened"));
    assert_eq!(by_fay.last(), Some(&"drill.score"));
    assert_eq!(
        by_fay.iter().filter(|k| **k == "drill.clock").count(),
        2,
        "stopped at opening, started: {by_fay:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scripted_auto_exercise_delivers_every_inject_then_scores_and_exits() {
    let cluster = pg::shared();
    let db = TeamDb::new(cluster).await;
    db.add("fay", "facilitator", None).await;
    let data = tempfile::tempdir().unwrap();
    let url = cluster.socket_url("fay", &db.name);
    // No standard input at all: the clock starts at once and the run ends after the last inject.
    let out = Command::new(env!("CARGO_BIN_EXE_stanch"))
        .args(["drill", "--team", &url, "--facilitate", "--auto"])
        .args(["--teams", "solo", "--incident", "EXA", "--speed", "7200"])
        .env("STANCH_DATA_DIR", data.path())
        .env_remove("STANCH_TEAM")
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let delivered: Vec<&str> = stdout
        .lines()
        .filter(|l| l.contains(" inject \"") && l.contains("→ solo"))
        .collect();
    assert_eq!(delivered.len(), 5, "{stdout}");
    assert!(delivered[4].starts_with("+3h inject \"The exposure started earlier"));
    assert!(stdout.contains("1     solo"), "{stdout}");
    assert!(stdout.contains("Exercise EXA ended"), "{stdout}");
    let events = read_events(&db.chain("fay", "EXA-solo").await)
        .await
        .unwrap();
    assert_eq!(events.last().map(|e| e.kind), Some(Kind::DrillScore));
}
