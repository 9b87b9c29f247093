//! `update()`: messages in, state and effects out, for every action a responder has.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_json::json;
use stanch::draft::DraftError;
use stanch::engine::{Decision, Outcome, Preview, Progress};
use stanch::journal::{Kind, NewEvent};
use stanch::timeline::{Anchor, Pager};
use stanch::tui::app::{App, DisplayStatus, EngineState, Modal, View};
use stanch::tui::dialog::{Confirm, Fact, Skip};
use stanch::tui::effect::Effect;
use stanch::tui::error::TuiError;
use stanch::tui::fixture::{self, Chain, shown};
use stanch::tui::msg::{InjectMsg, Msg};
use stanch::tui::update::update;

fn key(app: &mut App, code: KeyCode) -> Vec<Effect> {
    update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

fn ch(app: &mut App, c: char) -> Vec<Effect> {
    key(app, KeyCode::Char(c))
}

fn typed(app: &mut App, text: &str) {
    for c in text.chars() {
        ch(app, c);
    }
}

fn select(app: &mut App, id: &str) {
    app.selected = app
        .order
        .iter()
        .position(|&i| app.runbook.runbook.steps[i].id() == id)
        .expect("step in fixture");
}

/// Journal `events` the way the loop does: each one synced, then `Msg::Journalled`.
fn journal(app: &mut App, events: &[(Kind, Option<&str>, serde_json::Value)]) {
    let mut chain = Chain::new(app.now);
    chain.events.clone_from(&app.incident.events);
    for (kind, step, data) in events {
        let event = chain.push(1, *kind, *step, data.clone()).clone();
        update(app, Msg::Journalled(event));
    }
}

fn appended(effects: &[Effect]) -> Vec<NewEvent> {
    effects
        .iter()
        .filter_map(|e| match e {
            Effect::Append(events) => Some(events.clone()),
            _ => None,
        })
        .flatten()
        .collect()
}

#[test]
fn moving_the_cursor_asks_for_the_new_steps_preview() {
    let mut app = fixture::fresh_app();
    let effects = ch(&mut app, 'j');
    assert_eq!(app.selected, 1);
    assert_eq!(
        effects,
        vec![Effect::Preview {
            step: "count-exposed".into()
        }]
    );
    assert!(ch(&mut app, 'k').contains(&Effect::Preview {
        step: "cluster-info".into()
    }));
    assert!(
        ch(&mut app, 'k').is_empty(),
        "already at the top: nothing to do"
    );
    ch(&mut app, 'G');
    assert_eq!(app.selected_id().as_deref(), Some("forum-post"));
}

#[test]
fn enter_runs_a_ready_step_and_marks_it_running() {
    let mut app = fixture::fresh_app();
    let effects = key(&mut app, KeyCode::Enter);
    assert_eq!(
        effects,
        vec![Effect::Run {
            step: "cluster-info".into(),
            decision: Decision::default()
        }]
    );
    assert!(app.running.contains_key("cluster-info"));
    let step = app.selected_step().unwrap().clone();
    assert_eq!(app.display_status(&step), DisplayStatus::Running);
    assert!(
        key(&mut app, KeyCode::Enter).is_empty(),
        "no second run of a running step"
    );
}

#[test]
fn several_independent_steps_run_at_once() {
    let mut app = fixture::fresh_app();
    key(&mut app, KeyCode::Enter);
    ch(&mut app, 'j');
    let effects = key(&mut app, KeyCode::Enter);
    assert!(matches!(&effects[..], [Effect::Run { step, .. }] if step == "count-exposed"));
    assert_eq!(app.running.len(), 2);
    assert!(app.is_busy());
}

#[test]
fn a_step_waiting_for_its_needs_does_not_run() {
    let mut app = fixture::fresh_app();
    select(&mut app, "close-index");
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert_eq!(
        app.flash.as_deref(),
        Some("close-index waits for: cluster-info, count-exposed")
    );
}

#[test]
fn destructive_step_needs_the_text_typed_exactly_and_shows_target_and_identity() {
    let mut app = fixture::busy_app();
    select(&mut app, "close-index");
    assert!(
        key(&mut app, KeyCode::Enter).is_empty(),
        "nothing runs before confirmation"
    );
    let Some(Modal::Confirm(Confirm {
        expected,
        target,
        identity,
        ..
    })) = &app.modal
    else {
        panic!("confirm dialog expected, got {:?}", app.modal);
    };
    assert_eq!(expected, "customers");
    assert_eq!(target, "POST http://127.0.0.1:9200/customers/_close");
    assert_eq!(
        identity,
        &vec![("vars.cluster_name".to_owned(), "metrics-prod".to_owned())]
    );

    typed(&mut app, "Customers");
    assert!(
        key(&mut app, KeyCode::Enter).is_empty(),
        "a near miss runs nothing"
    );
    assert!(matches!(
        app.modal,
        Some(Modal::Confirm(Confirm { mismatch: true, .. }))
    ));
    for _ in 0..9 {
        key(&mut app, KeyCode::Backspace);
    }
    typed(&mut app, "customers");
    let effects = key(&mut app, KeyCode::Enter);
    assert_eq!(
        effects,
        vec![Effect::Run {
            step: "close-index".into(),
            decision: Decision {
                typed_confirmation: Some("customers".into()),
                ..Decision::default()
            },
        }]
    );
    assert!(app.modal.is_none());
}

#[test]
fn escape_cancels_a_confirmation_without_running() {
    let mut app = fixture::busy_app();
    select(&mut app, "close-index");
    key(&mut app, KeyCode::Enter);
    typed(&mut app, "customers");
    assert!(key(&mut app, KeyCode::Esc).is_empty());
    assert!(app.modal.is_none());
    assert!(!app.running.contains_key("close-index"));
}

#[test]
fn engine_asking_for_confirmation_opens_the_dialog() {
    let mut app = fixture::busy_app();
    app.previews.clear();
    select(&mut app, "close-index");
    let effects = key(&mut app, KeyCode::Enter);
    assert!(
        matches!(&effects[..], [Effect::Run { decision, .. }] if decision.typed_confirmation.is_none())
    );
    update(
        &mut app,
        Msg::Finished {
            step: "close-index".into(),
            outcome: Outcome::NeedsConfirmation {
                expected: "customers".into(),
            },
        },
    );
    assert!(
        matches!(&app.modal, Some(Modal::Confirm(Confirm { expected, .. })) if expected == "customers")
    );
    assert!(!app.running.contains_key("close-index"));
}

#[test]
fn c_cancels_a_running_step_only() {
    let mut app = fixture::busy_app();
    select(&mut app, "verify-closed");
    assert_eq!(
        ch(&mut app, 'c'),
        vec![Effect::Cancel {
            step: "verify-closed".into()
        }]
    );
    assert!(app.running["verify-closed"].cancelling);
    select(&mut app, "cluster-info");
    assert!(ch(&mut app, 'c').is_empty());
    assert_eq!(app.flash.as_deref(), Some("cluster-info is not running"));
}

#[test]
fn r_retries_a_failed_step_as_a_rerun() {
    let mut app = fixture::busy_app();
    app.running.clear();
    select(&mut app, "verify-closed");
    let step = app.selected_step().unwrap().clone();
    assert_eq!(app.display_status(&step), DisplayStatus::Failed);
    assert_eq!(
        ch(&mut app, 'r'),
        vec![Effect::Run {
            step: "verify-closed".into(),
            decision: Decision {
                rerun: true,
                ..Decision::default()
            },
        }]
    );
}

#[test]
fn an_interrupted_step_is_never_rerun_silently() {
    let mut app = fixture::fresh_app();
    journal(
        &mut app,
        &[(
            Kind::StepStarted,
            Some("cluster-info"),
            json!({"attempt": 1}),
        )],
    );
    let step = app.selected_step().unwrap().clone();
    assert_eq!(app.display_status(&step), DisplayStatus::Interrupted);
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert!(
        app.flash
            .as_deref()
            .unwrap()
            .contains("r re-runs it deliberately")
    );
    let effects = ch(&mut app, 'r');
    assert!(matches!(&effects[..], [Effect::Run { decision, .. }] if decision.rerun));
}

#[test]
fn skip_asks_for_a_reason_and_journals_it() {
    let mut app = fixture::fresh_app();
    assert!(ch(&mut app, 's').is_empty());
    assert!(
        key(&mut app, KeyCode::Enter).is_empty(),
        "an empty reason is not accepted"
    );
    assert!(matches!(app.modal, Some(Modal::Skip(Skip { .. }))));
    typed(&mut app, "cluster known");
    let events = appended(&key(&mut app, KeyCode::Enter));
    assert_eq!(
        events,
        vec![NewEvent::for_step(
            Kind::StepSkipped,
            "cluster-info",
            json!({"reason": "cluster known"})
        )]
    );
    assert!(app.modal.is_none());
}

#[test]
fn digits_tick_and_untick_checklist_items_and_enter_completes_the_step_with_its_mark() {
    let mut app = fixture::fresh_app();
    select(&mut app, "legal");
    assert!(
        key(&mut app, KeyCode::Enter).is_empty(),
        "not every item ticked yet"
    );
    let tick = appended(&ch(&mut app, '1'));
    assert_eq!(
        tick,
        vec![NewEvent::for_step(
            Kind::ChecklistTicked,
            "legal",
            json!({"item": 0, "text": "Counsel informed", "checked": true})
        )]
    );
    journal(
        &mut app,
        &[(
            Kind::ChecklistTicked,
            Some("legal"),
            json!({"item": 0, "checked": true}),
        )],
    );
    assert_eq!(
        appended(&ch(&mut app, '1'))[0].data["checked"],
        json!(false),
        "toggles"
    );
    assert!(ch(&mut app, '9').is_empty(), "no item 9");
    journal(
        &mut app,
        &[(
            Kind::ChecklistTicked,
            Some("legal"),
            json!({"item": 1, "checked": true}),
        )],
    );
    let done = appended(&key(&mut app, KeyCode::Enter));
    assert_eq!(done.len(), 2);
    assert_eq!(done[0].kind, Kind::StepSucceeded);
    assert_eq!(done[1].kind, Kind::Mark);
    assert_eq!(done[1].data["name"], "notified");
    assert_eq!(done[1].data["at"], "2019-12-26T19:00:00Z");
}

#[rstest::rstest]
#[case::hashtag_in_text("check the access logs #follow-up", false, true)]
#[case::toggle("check the access logs", true, true)]
#[case::plain("looked fine", false, false)]
fn notes_attach_to_the_selected_step_and_tag_follow_ups(
    #[case] text: &str,
    #[case] toggle: bool,
    #[case] follow_up: bool,
) {
    let mut app = fixture::fresh_app();
    ch(&mut app, 'n');
    typed(&mut app, text);
    if toggle {
        key(&mut app, KeyCode::Tab);
    }
    let events = appended(&key(&mut app, KeyCode::Enter));
    assert_eq!(events.len(), 1);
    assert_eq!(events[0].kind, Kind::Note);
    assert_eq!(events[0].step.as_deref(), Some("cluster-info"));
    assert_eq!(events[0].data["text"], text);
    let tags: Vec<&str> = if follow_up { vec!["follow-up"] } else { vec![] };
    assert_eq!(events[0].data["tags"], json!(tags));
}

#[rstest::rstest]
#[case::utc("17:21Z", "2019-12-26T17:21:00Z")]
#[case::local_pacific("09:21", "2019-12-26T17:21:00Z")]
#[case::with_offset("2019-12-26T09:21-08:00", "2019-12-26T17:21:00Z")]
#[case::ago("-15m", "2019-12-26T18:45:00Z")]
fn a_fact_records_when_it_happened(#[case] when: &str, #[case] occurred: &str) {
    let mut app = fixture::fresh_app();
    ch(&mut app, 'f');
    typed(&mut app, "Reporter opened a ticket");
    key(&mut app, KeyCode::Tab);
    for _ in 0..3 {
        key(&mut app, KeyCode::Backspace);
    }
    typed(&mut app, when);
    let events = appended(&key(&mut app, KeyCode::Enter));
    assert_eq!(
        events,
        vec![NewEvent::new(
            Kind::Fact,
            json!({"text": "Reporter opened a ticket", "occurred_at": occurred})
        )]
    );
}

#[test]
fn a_fact_with_an_unreadable_time_stays_open_with_the_reason() {
    let mut app = fixture::fresh_app();
    ch(&mut app, 'f');
    typed(&mut app, "something");
    key(&mut app, KeyCode::Tab);
    typed(&mut app, "ish");
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    let Some(Modal::Fact(Fact {
        error: Some(error), ..
    })) = &app.modal
    else {
        panic!("fact dialog with an error expected");
    };
    assert!(error.contains("is not a time"), "{error}");
}

#[test]
fn a_recorded_fact_can_be_corrected_and_both_versions_are_kept() {
    let mut app = fixture::fresh_app();
    journal(
        &mut app,
        &[
            (
                Kind::Fact,
                None,
                json!({"text": "Exposure began 14 Dec", "occurred_at": "2019-12-14T00:00:00Z"}),
            ),
            (
                Kind::Fact,
                None,
                json!({"text": "Report received", "occurred_at": "2019-12-26T17:21:00Z"}),
            ),
        ],
    );
    let first = app.incident.facts[0].seq;
    let second = app.incident.facts[1].seq;

    // F opens the newest fact, pre-filled; PgUp steps back to the older one.
    key(&mut app, KeyCode::Char('F'));
    let Some(Modal::Fact(Fact { corrects, text, .. })) = &app.modal else {
        panic!("correction dialog expected");
    };
    assert_eq!((*corrects, text.value()), (Some(second), "Report received"));
    key(&mut app, KeyCode::PageUp);
    let Some(Modal::Fact(Fact {
        corrects,
        text,
        when,
        ..
    })) = &app.modal
    else {
        panic!("correction dialog expected");
    };
    assert_eq!(*corrects, Some(first));
    assert_eq!(text.value(), "Exposure began 14 Dec");
    assert_eq!(when.value(), "2019-12-14T00:00:00Z");

    // Rewrite the text and the time, then Enter journals a correction, not a new fact.
    for _ in 0.."Exposure began 14 Dec".len() {
        key(&mut app, KeyCode::Backspace);
    }
    typed(&mut app, "Exposure began 4 Dec (company forum post)");
    key(&mut app, KeyCode::Tab);
    for _ in 0.."2019-12-14T00:00:00Z".len() {
        key(&mut app, KeyCode::Backspace);
    }
    typed(&mut app, "2019-12-04T00:00Z");
    let events = appended(&key(&mut app, KeyCode::Enter));
    assert_eq!(
        events,
        vec![NewEvent::new(
            Kind::FactCorrected,
            json!({
                "corrects": first,
                "text": "Exposure began 4 Dec (company forum post)",
                "occurred_at": "2019-12-04T00:00:00Z"
            })
        )]
    );
    journal(
        &mut app,
        &[(Kind::FactCorrected, None, events[0].data.clone())],
    );
    let fact = &app.incident.facts[0];
    assert_eq!(fact.text, "Exposure began 14 Dec", "the original is kept");
    assert_eq!(fact.corrections.len(), 1);
    assert_eq!(
        fact.current().0,
        "Exposure began 4 Dec (company forum post)"
    );
    assert_eq!(
        app.incident.facts.len(),
        2,
        "a correction is not a new fact"
    );
}

#[test]
fn correcting_with_no_fact_recorded_says_so() {
    let mut app = fixture::fresh_app();
    assert!(key(&mut app, KeyCode::Char('F')).is_empty());
    assert!(app.modal.is_none());
    assert!(app.flash.as_deref().unwrap_or_default().contains("no fact"));
}

#[test]
fn setting_a_mark_and_setting_it_again_corrects_it() {
    let mut app = fixture::fresh_app();
    ch(&mut app, 'm');
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    let events = appended(&key(&mut app, KeyCode::Enter));
    assert_eq!(
        events,
        vec![NewEvent::new(
            Kind::Mark,
            json!({"name": "aware", "at": "2019-12-26T19:00:00Z"})
        )]
    );
    journal(&mut app, &[(Kind::Mark, None, events[0].data.clone())]);
    let first_seq = app.incident.marks["aware"].seq;
    ch(&mut app, 'm');
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    for _ in 0..3 {
        key(&mut app, KeyCode::Backspace);
    }
    typed(&mut app, "18:00Z");
    let events = appended(&key(&mut app, KeyCode::Enter));
    assert_eq!(
        events[0].data,
        json!({"name": "aware", "at": "2019-12-26T18:00:00Z", "corrects": first_seq})
    );
}

#[test]
fn drafts_open_in_the_editor_and_enter_completes_a_saved_draft() {
    let mut app = fixture::fresh_app();
    select(&mut app, "forum-post");
    assert_eq!(
        ch(&mut app, 'e'),
        vec![Effect::EditDraft {
            step: "forum-post".into()
        }]
    );
    assert_eq!(
        key(&mut app, KeyCode::Enter),
        vec![Effect::EditDraft {
            step: "forum-post".into()
        }]
    );
    journal(
        &mut app,
        &[(
            Kind::DraftSaved,
            Some("forum-post"),
            json!({"file": "drafts/forum-post.md", "sha256": "aa", "bytes": 10}),
        )],
    );
    let events = appended(&key(&mut app, KeyCode::Enter));
    assert_eq!(events[0].kind, Kind::StepSucceeded);
    select(&mut app, "cluster-info");
    assert!(
        ch(&mut app, 'e').is_empty(),
        "only draft steps have an editor"
    );
}

#[test]
fn editor_outcome_reloads_the_draft_or_shows_the_error() {
    let mut app = fixture::fresh_app();
    let effects = update(
        &mut app,
        Msg::DraftEdited {
            step: "forum-post".into(),
            result: Ok(()),
        },
    );
    assert_eq!(
        effects,
        vec![
            Effect::Resync,
            Effect::LoadDraft {
                step: "forum-post".into()
            }
        ],
        "the draft module journals its versions itself: read them back"
    );
    update(
        &mut app,
        Msg::DraftEdited {
            step: "forum-post".into(),
            result: Err(TuiError::from(DraftError::EditorFailed {
                editor: "vi".into(),
                status: "exit status: 1".into(),
            })),
        },
    );
    assert!(
        matches!(&app.modal, Some(Modal::Error { message }) if message.contains("vi") && message.contains("exit status: 1")),
        "{:?}",
        app.modal
    );
}

#[test]
fn view_keys_switch_views_and_drafts_load_their_text() {
    let mut app = fixture::fresh_app();
    ch(&mut app, 't');
    assert_eq!(app.view, View::Timeline);
    ch(&mut app, 'v');
    assert_eq!(app.view, View::Evidence);
    assert_eq!(
        ch(&mut app, 'd'),
        vec![Effect::LoadDraft {
            step: "forum-post".into()
        }]
    );
    assert_eq!(app.view, View::Drafts);
    ch(&mut app, 'b');
    assert_eq!(app.view, View::Runbook);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.view, View::Timeline);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.view, View::Runbook);
}

#[test]
fn timeline_filter_is_typed_after_slash_and_scrolling_stops_at_the_oldest_event() {
    let mut app = fixture::busy_app();
    app.size = (80, 7); // 4 rows: the 6 `step.` events need scrolling
    let dir = tempfile::tempdir().unwrap();
    fixture::write_journal(dir.path(), &app.incident.events);
    let mut pager = Pager::open(dir.path()).unwrap();
    ch(&mut app, 't');
    ch(&mut app, '/');
    typed(&mut app, "step.");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.timeline.filter.value(), "step.");
    assert!(!app.timeline.editing_filter);
    fixture::settle(&mut app, &mut pager);
    assert_eq!(shown(&app), vec![8, 11, 13, 14]);
    for _ in 0..100 {
        ch(&mut app, 'k');
        fixture::settle(&mut app, &mut pager);
    }
    assert_eq!(shown(&app), vec![4, 7, 8, 11]);
    assert_eq!(app.timeline.anchor, Anchor::Top(1));
    ch(&mut app, 'G');
    fixture::settle(&mut app, &mut pager);
    assert_eq!(shown(&app), vec![8, 11, 13, 14]);
    assert_eq!(app.timeline.anchor, Anchor::Tail);
}

#[test]
fn help_opens_and_closes() {
    let mut app = fixture::fresh_app();
    ch(&mut app, '?');
    assert_eq!(app.modal, Some(Modal::Help));
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.modal, None);
}

/// Dispatch and help come from one table; this checks the other direction too: a key the
/// table does not list for a view does nothing there, and every listed key does something.
#[rstest::rstest]
fn every_key_a_view_answers_is_in_its_help_and_no_other(
    #[values(View::Runbook, View::Timeline, View::Evidence, View::Drafts)] view: View,
) {
    let listed: Vec<String> = stanch::tui::keymap::for_view(view)
        .flat_map(|b| b.keys.iter().map(|(k, _)| k.label()))
        .collect();
    for c in ('a'..='z')
        .chain('A'..='Z')
        .chain(['?', '/'])
        .chain('1'..='9')
    {
        let mut app = fixture::busy_app();
        select(&mut app, "legal");
        // A key that switches to the view it is pressed in shows nothing: press it elsewhere.
        let own = matches!(
            (view, c),
            (View::Runbook, 'b')
                | (View::Timeline, 't')
                | (View::Evidence, 'v')
                | (View::Drafts, 'd')
        );
        let start = match (own, view) {
            (true, View::Runbook) => View::Timeline,
            (true, _) => View::Runbook,
            (false, _) => view,
        };
        app.view = start;
        // The view's first query is not the key's doing.
        let _ = stanch::tui::update::ask_timeline(&mut app);
        app.drill = Some(stanch::tui::app::Drill::default());
        let (selected, anchor) = (app.selected, app.timeline.anchor);
        let effects = ch(&mut app, c);
        let answered = !effects.is_empty()
            || app.modal.is_some()
            || app.view != start
            || app.flash.is_some()
            || app.quitting
            || app.selected != selected
            || app.timeline.anchor != anchor
            || app.timeline.editing_filter
            || app.drill.as_ref().is_some_and(|d| d.show_panel);
        let in_help = listed.contains(&c.to_string());
        // A listed move key may find the cursor already at the end (`G` on the last item).
        let moves = ['j', 'k', 'g', 'G'].contains(&c);
        assert!(
            answered == in_help || (moves && in_help),
            "{view:?} key {c:?}: answered={answered}, in help={in_help}"
        );
    }
}

#[test]
fn quitting_works_from_anywhere() {
    let mut app = fixture::busy_app();
    assert_eq!(ch(&mut app, 'q'), vec![Effect::Quit]);
    assert!(app.quitting);
    let mut app = fixture::fresh_app();
    ch(&mut app, 'n');
    let effects = update(
        &mut app,
        Msg::Key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL)),
    );
    assert_eq!(
        effects,
        vec![Effect::Quit],
        "Ctrl-C quits even with a dialog open"
    );
}

#[test]
fn journal_events_are_applied_in_seq_order_whatever_order_they_arrive_in() {
    let mut app = fixture::fresh_app();
    let mut chain = Chain::new(app.now);
    chain.events.clone_from(&app.incident.events);
    let started = chain
        .push(
            1,
            Kind::StepStarted,
            Some("cluster-info"),
            json!({"attempt": 1}),
        )
        .clone();
    let done = chain
        .push(
            1,
            Kind::StepSucceeded,
            Some("cluster-info"),
            json!({"duration_ms": 5, "captures": {"cluster_name": "x"}}),
        )
        .clone();
    update(&mut app, Msg::Journalled(done.clone()));
    assert_eq!(app.incident.last_seq, 1, "held back until the gap fills");
    update(&mut app, Msg::Journalled(started));
    assert_eq!(app.incident.last_seq, 3);
    assert_eq!(app.incident.vars["cluster_name"].to_value(), "x");
    update(&mut app, Msg::Journalled(done));
    assert_eq!(app.incident.events.len(), 3, "a duplicate is ignored");
}

#[test]
fn a_finished_step_with_events_still_missing_asks_for_a_resync() {
    let mut app = fixture::fresh_app();
    let mut chain = Chain::new(app.now);
    chain.events.clone_from(&app.incident.events);
    chain.push(1, Kind::StepStarted, Some("cluster-info"), json!({}));
    let late = chain
        .push(1, Kind::StepFailed, Some("cluster-info"), json!({}))
        .clone();
    app.running.insert(
        "cluster-info".into(),
        stanch::tui::app::Running {
            since: app.now,
            attempt: None,
            items: None,
            cancelling: false,
        },
    );
    update(&mut app, Msg::Journalled(late));
    let effects = update(
        &mut app,
        Msg::Finished {
            step: "cluster-info".into(),
            outcome: Outcome::Failed { error: "x".into() },
        },
    );
    assert!(effects.contains(&Effect::Resync));
    update(&mut app, Msg::Resynced(chain.events.clone()));
    assert_eq!(app.incident.last_seq, 3);
    assert!(app.pending_events.is_empty());
}

#[test]
fn progress_and_outcomes_update_the_running_step() {
    let mut app = fixture::fresh_app();
    key(&mut app, KeyCode::Enter);
    update(
        &mut app,
        Msg::Progress {
            step: "cluster-info".into(),
            progress: Progress::Attempt {
                n: 2,
                status: Some(503),
            },
        },
    );
    update(
        &mut app,
        Msg::Progress {
            step: "cluster-info".into(),
            progress: Progress::Items {
                done: 3,
                total: 10,
                failed: 1,
            },
        },
    );
    let run = &app.running["cluster-info"];
    assert_eq!(run.attempt, Some((2, Some(503))));
    assert_eq!(run.items, Some((3, 10, 1)));
    let effects = update(
        &mut app,
        Msg::Finished {
            step: "cluster-info".into(),
            outcome: Outcome::Succeeded {
                summary: "200 OK".into(),
            },
        },
    );
    assert!(app.running.is_empty());
    assert_eq!(app.flash.as_deref(), Some("cluster-info: 200 OK"));
    assert_eq!(
        effects,
        vec![Effect::Preview {
            step: "cluster-info".into()
        }]
    );
}

#[test]
fn ticks_move_the_injected_clock() {
    let mut app = fixture::fresh_app();
    let later = app
        .now
        .checked_add(jiff::SignedDuration::from_secs(5))
        .unwrap();
    update(&mut app, Msg::Tick(later));
    assert_eq!(app.now, later);
}

#[test]
fn a_drill_inject_pops_up_and_is_journalled() {
    let mut app = fixture::fresh_app();
    let effects = update(
        &mut app,
        Msg::Inject(InjectMsg {
            offset: "+14m".into(),
            title: "Published".into(),
            body: "The reporter has published.".into(),
        }),
    );
    assert_eq!(
        appended(&effects),
        vec![NewEvent::new(
            Kind::Inject,
            json!({"title": "Published", "body": "The reporter has published.", "offset": "+14m"})
        )]
    );
    assert!(matches!(app.modal, Some(Modal::Inject(_))));
    assert!(key(&mut app, KeyCode::Enter).is_empty());
    assert!(app.modal.is_none());
}

#[test]
fn lab_panel_lines_replace_the_old_ones_in_drill_mode_only() {
    let mut app = fixture::fresh_app();
    update(&mut app, Msg::Panel(vec![("index".into(), "open".into())]));
    assert!(app.drill.is_none());
    app.drill = Some(stanch::tui::app::Drill::default());
    update(
        &mut app,
        Msg::Panel(vec![("index".into(), "closed".into())]),
    );
    assert_eq!(
        app.drill.as_ref().unwrap().panel,
        vec![("index".into(), "closed".into())]
    );
    ch(&mut app, 'l');
    assert!(app.drill.as_ref().unwrap().show_panel);
}

fn preview() -> Preview {
    Preview {
        target: "es".into(),
        method: "GET".into(),
        url: "https://127.0.0.1:9200/".into(),
        headers: Vec::new(),
        body: None,
        confirm: None,
        items: None,
        warnings: vec!["TLS certificate checks are OFF for this target (insecure = true)".into()],
        skip: None,
    }
}

#[test]
fn previews_and_errors_land_in_the_model() {
    let mut app = fixture::fresh_app();
    update(
        &mut app,
        Msg::Preview {
            step: "cluster-info".into(),
            preview: Ok(preview()),
        },
    );
    assert_eq!(
        app.previews["cluster-info"].as_ref().ok(),
        Some(&preview()),
        "the engine's preview is kept whole, warnings included"
    );
    let lost = TuiError::EngineLost;
    update(&mut app, Msg::Failed(lost.clone()));
    assert_eq!(
        app.modal,
        Some(Modal::Error {
            message: lost.to_string()
        })
    );
}

#[test]
fn engine_readiness_is_a_message_that_asks_for_the_selected_preview() {
    let mut app = fixture::fresh_app();
    app.engine = EngineState::Starting;
    assert!(
        !app.is_busy(),
        "no fast ticks while waiting: readiness is a message"
    );
    let now = app.now;
    assert!(
        update(&mut app, Msg::Tick(now)).is_empty(),
        "ticks poll nothing"
    );
    assert_eq!(
        update(&mut app, Msg::EngineReady(Ok(()))),
        vec![Effect::Preview {
            step: "cluster-info".into()
        }]
    );
    assert!(matches!(app.engine, EngineState::Ready));
    assert_eq!(app.modal, None);
}

#[test]
fn an_engine_that_cannot_start_says_why_in_a_dialog() {
    let mut app = fixture::fresh_app();
    app.engine = EngineState::Starting;
    update(&mut app, Msg::EngineReady(Err(TuiError::EngineLost)));
    assert!(matches!(
        app.engine,
        EngineState::Failed(TuiError::EngineLost)
    ));
    assert_eq!(
        app.modal,
        Some(Modal::Error {
            message:
                "the engine could not start: its builder stopped without an answer (see the log)"
                    .into()
        })
    );
}

#[test]
fn a_finished_step_moves_the_selection_to_the_next_ready_step_if_the_responder_stayed() {
    let mut app = fixture::fresh_app();
    // cluster-info runs and succeeds while selected: on to count-exposed (ready).
    key(&mut app, KeyCode::Enter);
    journal(
        &mut app,
        &[
            (
                Kind::StepStarted,
                Some("cluster-info"),
                json!({"attempt": 1}),
            ),
            (
                Kind::StepSucceeded,
                Some("cluster-info"),
                json!({"duration_ms": 5, "summary": "ok", "captures": {}}),
            ),
        ],
    );
    assert_eq!(app.selected_id().as_deref(), Some("count-exposed"));
    // close-index is not ready until count-exposed is done; skipping count-exposed makes
    // it ready, and the selection follows.
    ch(&mut app, 's');
    typed(&mut app, "not needed");
    let skip = appended(&key(&mut app, KeyCode::Enter));
    let mut chain = Chain::new(app.now);
    chain.events.clone_from(&app.incident.events);
    let skipped = chain.push(
        1,
        skip[0].kind,
        skip[0].step.as_deref(),
        skip[0].data.clone(),
    );
    let effects = update(&mut app, Msg::Journalled(skipped.clone()));
    assert_eq!(app.selected_id().as_deref(), Some("close-index"));
    assert_eq!(
        effects,
        vec![Effect::Preview {
            step: "close-index".into()
        }],
        "the new selection's preview is asked for"
    );

    // A responder who moved away keeps their place.
    let mut app = fixture::fresh_app();
    key(&mut app, KeyCode::Enter);
    select(&mut app, "legal");
    journal(
        &mut app,
        &[(
            Kind::StepSucceeded,
            Some("cluster-info"),
            json!({"duration_ms": 5, "summary": "ok", "captures": {}}),
        )],
    );
    assert_eq!(app.selected_id().as_deref(), Some("legal"));
    // A failed step keeps the selection, so r retries it.
    select(&mut app, "count-exposed");
    journal(
        &mut app,
        &[(
            Kind::StepFailed,
            Some("count-exposed"),
            json!({"duration_ms": 5, "error": "HTTP 500"}),
        )],
    );
    assert_eq!(app.selected_id().as_deref(), Some("count-exposed"));
}

fn inject() -> InjectMsg {
    InjectMsg {
        offset: "+14m".into(),
        title: "Published".into(),
        body: "The reporter has published.".into(),
    }
}

#[test]
fn an_inject_arriving_while_the_responder_types_waits_and_takes_none_of_their_keys() {
    let mut app = fixture::busy_app();
    select(&mut app, "close-index");
    key(&mut app, KeyCode::Enter);
    assert!(matches!(app.modal, Some(Modal::Confirm(_))));
    typed(&mut app, "cust");
    let effects = update(&mut app, Msg::Inject(inject()));
    assert_eq!(
        appended(&effects)[0].kind,
        Kind::Inject,
        "journalled when it arrives"
    );
    assert!(
        matches!(app.modal, Some(Modal::Confirm(_))),
        "the dialog stays"
    );
    assert_eq!(
        app.flash.as_deref(),
        Some("DRILL inject +14m arrived; it shows when you close this")
    );
    typed(&mut app, "omers");
    let effects = key(&mut app, KeyCode::Enter);
    assert!(
        matches!(&effects[..], [Effect::Run { step, decision }] if step == "close-index" && decision.typed_confirmation.as_deref() == Some("customers")),
        "every key reached the confirmation: {effects:?}"
    );
    assert_eq!(app.modal, Some(Modal::Inject(inject())), "now it shows");
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.modal, None);

    // The timeline filter is typing too.
    let mut app = fixture::busy_app();
    ch(&mut app, 't');
    ch(&mut app, '/');
    typed(&mut app, "cl");
    update(&mut app, Msg::Inject(inject()));
    typed(&mut app, "ose");
    assert_eq!(app.timeline.filter.value(), "close");
    assert_eq!(app.modal, None);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.modal, Some(Modal::Inject(inject())));
}

#[test]
fn times_shown_and_journalled_after_m_are_never_finer_than_milliseconds() {
    let mut app = fixture::fresh_app();
    app.now = "2019-12-26T19:00:00.123456789Z".parse().unwrap();
    ch(&mut app, 'm');
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    let events = appended(&key(&mut app, KeyCode::Enter));
    assert_eq!(
        app.flash.as_deref(),
        Some("mark aware = 2019-12-26 19:00:00Z")
    );
    assert_eq!(events[0].data["at"], "2019-12-26T19:00:00.123Z");
    ch(&mut app, 'f');
    typed(&mut app, "report received");
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        app.flash.as_deref(),
        Some("fact recorded (happened 2019-12-26T19:00:00.123Z)")
    );
}
