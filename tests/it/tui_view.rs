//! Views as insta snapshots on `TestBackend` at 80×24 and 120×40, clock and zone injected.

use indexmap::IndexMap;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;
use stanch::timeline::Pager;
use stanch::tui::app::{App, Drill, Modal, View};
use stanch::tui::dialog::{Confirm, Fact, FactField, Mark, Note, Skip};
use stanch::tui::fixture;
use stanch::tui::input::Input;
use stanch::tui::msg::InjectMsg;
use stanch::tui::setup::SetupForm;
use stanch::tui::view;

fn draw(app: &App, width: u16, height: u16) -> Terminal<TestBackend> {
    let mut term = Terminal::new(TestBackend::new(width, height)).unwrap();
    term.draw(|f| view::render(app, f)).unwrap();
    term
}

fn snap(name: &str, app: &App) {
    for (w, h) in [(80, 24), (120, 40)] {
        let term = draw(app, w, h);
        insta::assert_snapshot!(format!("{name}_{w}x{h}"), term.backend());
    }
}

fn select(app: &mut App, id: &str) {
    app.selected = app
        .order
        .iter()
        .position(|&i| app.runbook.runbook.steps[i].id() == id)
        .unwrap();
}

#[test]
fn runbook_view_fresh_incident() {
    snap("runbook_fresh", &fixture::fresh_app());
}

#[test]
fn runbook_view_with_every_state_and_a_completed_steps_result() {
    let mut app = fixture::busy_app();
    select(&mut app, "count-exposed");
    snap("runbook_busy_result", &app);
}

#[test]
fn runbook_view_running_step_with_spinner_and_elapsed() {
    let mut app = fixture::busy_app();
    select(&mut app, "verify-closed");
    snap("runbook_running", &app);
}

#[test]
fn runbook_view_destructive_step_preview_with_masked_secret() {
    let mut app = fixture::busy_app();
    select(&mut app, "close-index");
    snap("runbook_destructive_preview", &app);
}

#[test]
fn runbook_view_manual_checklist() {
    let mut app = fixture::busy_app();
    select(&mut app, "legal");
    snap("runbook_checklist", &app);
}

#[test]
fn confirm_dialog_shows_target_identity_and_the_text_to_type() {
    let mut app = fixture::busy_app();
    app.modal = Some(Modal::Confirm(Confirm {
        step: "close-index".into(),
        expected: "customers".into(),
        target: "POST http://127.0.0.1:9200/customers/_close".into(),
        identity: vec![("vars.cluster_name".into(), "metrics-prod".into())],
        input: Input::new("custom"),
        rerun: false,
        mismatch: true,
    }));
    snap("dialog_confirm", &app);
}

#[test]
fn fact_dialog() {
    let mut app = fixture::fresh_app();
    app.modal = Some(Modal::Fact(Fact {
        text: Input::new("Reporter opened a support ticket"),
        when: Input::new("9:21x"),
        focus: FactField::When,
        error: Some("`9:21x` is not a time; write 17:21 (local), 17:21Z (UTC), 2019-12-26T09:21-08:00 or -15m".into()),
        corrects: None,
    }));
    snap("dialog_fact", &app);
}

#[test]
fn mark_dialog_shows_current_marks() {
    let mut app = fixture::busy_app();
    app.modal = Some(Modal::Mark(Mark {
        choice: 2,
        when: Input::new("now"),
        error: None,
    }));
    snap("dialog_mark", &app);
}

#[test]
fn note_and_skip_dialogs() {
    let mut app = fixture::fresh_app();
    app.modal = Some(Modal::Note(Note {
        step: Some("cluster-info".into()),
        input: Input::new("check logs"),
        follow_up: true,
    }));
    snap("dialog_note", &app);
    app.modal = Some(Modal::Skip(Skip {
        step: "cluster-info".into(),
        input: Input::new("known"),
    }));
    snap("dialog_skip", &app);
}

#[test]
fn help_overlay() {
    let mut app = fixture::fresh_app();
    app.modal = Some(Modal::Help);
    snap("help", &app);
}

#[test]
fn error_dialog() {
    let mut app = fixture::fresh_app();
    app.modal = Some(Modal::Error {
        message: "could not write the journal: disk full".into(),
    });
    snap("dialog_error", &app);
}

/// Page `app`'s journal from disk as the TUI does: its events written to a temporary
/// directory, indexed, and the Timeline view's queries answered.
fn paged(app: &mut App) {
    let dir = tempfile::tempdir().unwrap();
    fixture::write_journal(dir.path(), &app.incident.events);
    let mut pager = Pager::open(dir.path()).unwrap();
    fixture::settle(app, &mut pager);
}

#[test]
fn timeline_view_both_clocks_newest_last() {
    let mut app = fixture::busy_app();
    app.view = View::Timeline;
    paged(&mut app);
    snap("timeline", &app);
}

#[test]
fn timeline_view_filtered_by_step() {
    let mut app = fixture::busy_app();
    app.view = View::Timeline;
    app.timeline.filter = Input::new("count-exposed");
    paged(&mut app);
    snap("timeline_filtered", &app);
}

#[test]
fn evidence_view_with_custody() {
    let mut app = fixture::busy_app();
    app.view = View::Evidence;
    snap("evidence", &app);
}

#[test]
fn drafts_view_renders_markdown() {
    let mut app = fixture::busy_app();
    app.view = View::Drafts;
    app.drafts.insert(
        "forum-post".into(),
        Ok("# What happened\n\nAn index was **readable** without authentication.\n\n- closed\n- tokens revoked\n".into()),
    );
    snap("drafts", &app);
}

#[test]
fn drill_mode_watermark_panel_and_inject() {
    let mut app = fixture::busy_app();
    app.incident.drill = true;
    app.drill = Some(Drill {
        panel: vec![
            ("customers".into(), "open, 2400000 docs".into()),
            ("alexa tokens".into(), "3120 active".into()),
        ],
        show_panel: true,
    });
    snap("drill_panel", &app);
    app.modal = Some(Modal::Inject(InjectMsg {
        offset: "+14m".into(),
        title: "The reporter has published".into(),
        body: "The trade publication's article is live; your support queue is filling up.".into(),
    }));
    snap("drill_inject", &app);
}

#[test]
fn setup_form_masks_secrets() {
    let rb = fixture::runbook(fixture::E2E_RUNBOOK);
    let mut preset = IndexMap::new();
    preset.insert("es_url".to_owned(), "http://127.0.0.1:9200".to_owned());
    let mut form = SetupForm::new(&rb, &preset, &["es_api_key".to_owned()], "alice");
    form.fields[2].input = {
        let mut i = Input::masked();
        for c in "hunter2".chars() {
            i.handle(crossterm::event::KeyEvent::new(
                crossterm::event::KeyCode::Char(c),
                crossterm::event::KeyModifiers::NONE,
            ));
        }
        i
    };
    form.focus = 2;
    for (w, h) in [(80, 24), (120, 40)] {
        let mut term = Terminal::new(TestBackend::new(w, h)).unwrap();
        term.draw(|f| view::setup_form::render(&form, f, view::Theme { color: true }))
            .unwrap();
        let text = format!("{}", term.backend());
        assert!(
            !text.contains("hunter2"),
            "a typed secret never reaches the screen"
        );
        insta::assert_snapshot!(format!("setup_form_{w}x{h}"), text);
    }
}

#[test]
fn no_color_draws_no_colours_at_all() {
    let mut app = fixture::busy_app();
    app.color = false;
    for v in [View::Runbook, View::Timeline, View::Evidence, View::Drafts] {
        app.view = v;
        if v == View::Timeline {
            paged(&mut app);
        }
        let term = draw(&app, 120, 40);
        let buffer = term.backend().buffer();
        for cell in buffer.content() {
            assert_eq!(
                cell.fg,
                Color::Reset,
                "{v:?}: coloured cell {:?}",
                cell.symbol()
            );
            assert_eq!(
                cell.bg,
                Color::Reset,
                "{v:?}: background set on {:?}",
                cell.symbol()
            );
        }
    }
}

#[test]
fn colours_never_set_a_background_so_light_and_dark_terminals_both_read() {
    let app = fixture::busy_app();
    let term = draw(&app, 120, 40);
    assert!(
        term.backend()
            .buffer()
            .content()
            .iter()
            .all(|c| c.bg == Color::Reset)
    );
    assert!(
        term.backend()
            .buffer()
            .content()
            .iter()
            .any(|c| c.fg != Color::Reset),
        "colour is on"
    );
}

#[test]
fn resizing_to_tiny_and_huge_terminals_does_not_panic() {
    let mut app = fixture::busy_app();
    for v in [View::Runbook, View::Timeline, View::Evidence, View::Drafts] {
        app.view = v;
        if v == View::Timeline {
            paged(&mut app);
        }
        for (w, h) in [(20, 5), (80, 24), (300, 100), (1, 1)] {
            draw(&app, w, h);
        }
    }
    app.modal = Some(Modal::Help);
    draw(&app, 10, 4);
}

/// The real engine's preview of a step on an `insecure = true` target, through the real
/// runner, into the model and onto the screen: the warning must not be lost on the way.
#[test]
fn the_tls_checks_off_warning_of_a_real_preview_reaches_the_screen() {
    use stanch::engine::{Engine, EngineOptions};
    use stanch::incident::Incident;
    use stanch::journal::Journal;
    use stanch::secret::Secrets;
    use stanch::tui::effect::Runner;
    use stanch::tui::engine_runner::EngineRunner;
    use stanch::tui::msg::Msg;

    let _ = rustls::crypto::ring::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("runbook.toml");
    std::fs::write(
        &path,
        r#"
[runbook]
id = "tls"
title = "TLS"
[targets.es]
url = "https://127.0.0.1:9200"
insecure = true
[[steps]]
id = "cluster-info"
phase = "confirm"
title = "Which cluster is this?"
http = { target = "es", method = "GET", path = "/" }
"#,
    )
    .unwrap();
    let rb = std::sync::Arc::new(stanch::runbook::load(&path).unwrap());
    let incident_dir = dir.path().join("incident");
    let journal = Journal::create(&incident_dir, "tester").unwrap();
    let engine = Engine::new(
        std::sync::Arc::clone(&rb),
        journal.clone(),
        Secrets::default(),
        EngineOptions::default(),
    )
    .unwrap();
    let runner = EngineRunner::new(engine, std::sync::Arc::clone(&rb), journal, incident_dir);
    let incident = Incident::replay([]);
    let preview = runner.preview("cluster-info", &incident);

    let mut app = App::new(rb, incident, fixture::now());
    stanch::tui::update::update(
        &mut app,
        Msg::Preview {
            step: "cluster-info".into(),
            preview,
        },
    );
    let term = draw(&app, 120, 40);
    let screen: String = term
        .backend()
        .buffer()
        .content()
        .chunks(120)
        .map(|row| {
            row.iter()
                .map(ratatui::buffer::Cell::symbol)
                .collect::<String>()
                + "\n"
        })
        .collect();
    assert!(
        screen.contains("⚠ TLS certificate checks are OFF for this target (insecure = true)"),
        "{screen}"
    );
}
