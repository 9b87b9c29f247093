//! The TUI in team mode, pure: the shared chain's news in (`Msg::Team`), state, effects and
//! the drawn screen out. A teammate's claim shows as `@bob` on the step list; running that
//! step opens the take-over dialog, whose reason goes into the run's `Decision`; a teammate
//! running a step shows as running, not as interrupted; the "journal rewritten" alarm takes
//! the status line and opens a dialog; a lost link is said on the status line.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;
use stanch::engine::Decision;
use stanch::journal::Kind;
use stanch::journal::shared::News;
use stanch::tui::app::{App, DisplayStatus, Modal};
use stanch::tui::effect::Effect;
use stanch::tui::fixture::{self, Chain};
use stanch::tui::msg::Msg;
use stanch::tui::update::update;

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn select(app: &mut App, id: &str) {
    app.selected = app
        .order
        .iter()
        .position(|&i| app.runbook.runbook.steps[i].id() == id)
        .expect("step in fixture");
}

/// Alice's terminal on a shared incident.
fn alices_app() -> App {
    let mut app = fixture::fresh_app();
    app.team_login = Some("alice".into());
    app
}

/// `events` by `actor`, arriving on the feed after what the app has.
fn teammate(app: &mut App, actor: &str, events: &[(Kind, Option<&str>, serde_json::Value)]) {
    let mut chain = Chain::new(app.now);
    chain.events.clone_from(&app.incident.events);
    actor.clone_into(&mut chain.actor);
    let mut new = Vec::new();
    for (kind, step, data) in events {
        new.push(chain.push(1, *kind, *step, data.clone()).clone());
    }
    update(app, Msg::Team(News::Events(new)));
}

fn screen(app: &App) -> String {
    let mut term = Terminal::new(TestBackend::new(110, 24)).unwrap();
    term.draw(|f| stanch::tui::view::render(app, f)).unwrap();
    let buffer = term.backend().buffer();
    (0..buffer.area.height)
        .map(|y| {
            (0..buffer.area.width)
                .map(|x| buffer[(x, y)].symbol())
                .collect::<String>()
                + "\n"
        })
        .collect()
}

/// Whether a screen line shows both `a` and `b`.
fn on_one_line(screen: &str, a: &str, b: &str) -> bool {
    screen.lines().any(|l| l.contains(a) && l.contains(b))
}

#[test]
fn a_step_a_teammate_holds_shows_their_name_and_runs_here_only_after_a_take_over() {
    let mut app = alices_app();
    teammate(
        &mut app,
        "bob",
        &[(Kind::StepClaimed, Some("cluster-info"), json!({}))],
    );
    assert_eq!(app.incident.team.holder("cluster-info"), Some("bob"));
    let shown = screen(&app);
    assert!(
        on_one_line(&shown, "Identify the cluster", "@bob"),
        "{shown}"
    );
    assert!(shown.contains("alice (commander)"), "{shown}");

    select(&mut app, "cluster-info");
    let effects = key(&mut app, KeyCode::Enter);
    assert!(effects.is_empty(), "nothing runs: {effects:?}");
    let Some(Modal::TakeOver(dialog)) = &app.modal else {
        panic!("the take-over dialog, not {:?}", app.modal);
    };
    assert_eq!(dialog.holder, "bob");
    assert!(screen(&app).contains("is held by @bob"));
    // No reason, no run.
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert!(matches!(app.modal, Some(Modal::TakeOver(ref d)) if d.empty));
    for c in "bob is asleep".chars() {
        key(&mut app, KeyCode::Char(c));
    }
    let effects = key(&mut app, KeyCode::Enter);
    assert_eq!(
        effects,
        vec![Effect::Run {
            step: "cluster-info".into(),
            decision: Decision {
                take_over: Some("bob is asleep".into()),
                ..Decision::default()
            },
        }]
    );
    assert!(
        app.take_overs.is_empty(),
        "the reason went with that run only"
    );
}

#[test]
fn a_teammates_running_step_is_running_here_and_their_result_folds_in_order() {
    let mut app = alices_app();
    teammate(
        &mut app,
        "bob",
        &[
            (Kind::StepClaimed, Some("cluster-info"), json!({})),
            (
                Kind::StepStarted,
                Some("cluster-info"),
                json!({"attempt": 1, "rerun": false}),
            ),
        ],
    );
    let step = app.runbook.runbook.step("cluster-info").unwrap().clone();
    assert_eq!(app.display_status(&step), DisplayStatus::Running);
    select(&mut app, "cluster-info");
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        app.flash.as_deref(),
        Some("cluster-info is running at @bob")
    );
    // The same events again (own and teammates' may overlap) change nothing.
    let before = app.incident.last_seq;
    let again = app.incident.events[1..].to_vec();
    update(&mut app, Msg::Team(News::Events(again)));
    assert_eq!(app.incident.last_seq, before);
    teammate(
        &mut app,
        "bob",
        &[(
            Kind::StepSucceeded,
            Some("cluster-info"),
            json!({"duration_ms": 5, "summary": "200", "captures": {}}),
        )],
    );
    assert_eq!(app.display_status(&step), DisplayStatus::Succeeded);
}

#[test]
fn the_rewritten_alarm_takes_the_status_line_and_a_lost_link_is_said() {
    let mut app = alices_app();
    update(
        &mut app,
        Msg::Team(News::Disconnected("server closed".into())),
    );
    assert!(screen(&app).contains("team link down"));
    update(&mut app, Msg::Team(News::CaughtUp(1)));
    assert!(!screen(&app).contains("team link down"));
    update(
        &mut app,
        Msg::Team(News::Alarm(
            "JOURNAL REWRITTEN: INC seq 2 was verified here as abc".into(),
        )),
    );
    assert!(matches!(app.modal, Some(Modal::Error { .. })));
    // Dismissed, the status line still says it.
    key(&mut app, KeyCode::Esc);
    let shown = screen(&app);
    assert!(
        shown.contains("JOURNAL REWRITTEN — writing stopped: JOURNAL REWRITTEN: INC seq 2"),
        "{shown}"
    );
}

#[test]
fn offline_work_shows_at_once_says_pending_and_the_merge_folds_it_once_and_shows_conflicts() {
    let mut app = alices_app();
    let step = app.runbook.runbook.step("cluster-info").unwrap().clone();
    // The shared chain as the server has it (the view will hold provisional events too).
    let mut shared = Chain::new(app.now);
    shared.events.clone_from(&app.incident.events);
    // Link down: alice's outcome lands on her pending sub-chain (a provisional seq).
    let mut local = Chain::new(app.now);
    local.events.clone_from(&app.incident.events);
    let outcome = local
        .push(
            1,
            Kind::StepSucceeded,
            Some("cluster-info"),
            json!({"duration_ms": 5, "summary": "200", "captures": {}}),
        )
        .clone();
    update(&mut app, Msg::JournalledPending(outcome.clone()));
    update(&mut app, Msg::Team(News::Pending(1)));
    assert_eq!(app.display_status(&step), DisplayStatus::Succeeded);
    assert!(
        screen(&app).contains("offline — 1 pending"),
        "{}",
        screen(&app)
    );

    // Meanwhile bob's note took that seq on the shared chain: both are shown.
    "bob".clone_into(&mut shared.actor);
    let note = shared
        .push(
            1,
            Kind::Note,
            None,
            json!({"text": "meanwhile", "tags": []}),
        )
        .clone();
    assert_eq!(note.seq, outcome.seq, "the same seq, another event");
    update(&mut app, Msg::Team(News::Events(vec![note])));
    assert_eq!(app.incident.notes.len(), 1);
    assert_eq!(app.display_status(&step), DisplayStatus::Succeeded);

    // The merge: her copy with data.offline, then sync.merged naming a conflict.
    let copy = json!({"duration_ms": 5, "summary": "200", "captures": {},
        "offline": {"at": outcome.at, "hash": outcome.hash, "mono_ms": 0, "seq": outcome.seq}});
    "alice".clone_into(&mut shared.actor);
    let copy = shared
        .push(1, Kind::StepSucceeded, Some("cluster-info"), copy)
        .clone();
    update(&mut app, Msg::Team(News::Events(vec![copy])));
    let conflict =
        "CONFLICT: step cluster-info was also done by bob (seq 3) while this was offline (seq 4)";
    update(
        &mut app,
        Msg::Team(News::Merged {
            count: 1,
            conflicts: vec![conflict.into()],
        }),
    );
    update(&mut app, Msg::Team(News::Pending(0)));
    let outcomes = app
        .incident
        .events
        .iter()
        .filter(|e| e.kind == Kind::StepSucceeded)
        .count();
    assert_eq!(outcomes, 1, "folded once");
    assert_eq!(app.incident.notes.len(), 1);
    assert!(matches!(&app.modal, Some(Modal::Error { message }) if message == conflict));
    key(&mut app, KeyCode::Esc);
    let shown = screen(&app);
    assert!(!shown.contains("pending"), "{shown}");
    assert!(shown.contains("1 merge conflict"), "{shown}");
}
