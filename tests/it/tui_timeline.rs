//! The Timeline view over long journals, paged from disk: the view at the top, middle and end
//! of a 200,000-event journal (insta snapshots), the keys moving it, new events followed at the
//! tail, hostile text escaped; and the real binary in tmux resuming a 200,000-event incident.

use std::path::Path;
use std::time::Duration;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use serde_json::json;
use stanch::journal::payload::IncidentOpened;
use stanch::journal::{Journal, Kind, NewEvent};
use stanch::timeline::cache::MAX_ROWS;
use stanch::timeline::{Anchor, Pager};
use stanch::tui::app::App;
use stanch::tui::fixture::{self, shown};
use stanch::tui::msg::Msg;
use stanch::tui::update::update;
use stanch::tui::view;

use crate::support::tmux::Tmux;

const EVENTS: u64 = 200_000;

fn press(app: &mut App, pager: &mut Pager, code: KeyCode) {
    update(app, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    fixture::settle(app, pager);
}

fn screen(app: &App) -> String {
    let mut term = Terminal::new(TestBackend::new(120, 40)).unwrap();
    term.draw(|f| view::render(app, f)).unwrap();
    term.backend().to_string()
}

#[test]
fn a_200000_event_journal_shows_its_end_top_middle_and_a_filter() {
    let dir = tempfile::tempdir().unwrap();
    let mut app = fixture::long_timeline(dir.path(), EVENTS);
    let mut pager = Pager::open(dir.path()).unwrap();
    assert!(app.incident.events.is_empty(), "the model keeps no events");
    assert_eq!(app.incident.last_seq, EVENTS);
    let height = app.timeline_height() as u64;

    fixture::settle(&mut app, &mut pager);
    assert_eq!(
        shown(&app),
        (EVENTS - height + 1..=EVENTS).collect::<Vec<_>>()
    );
    insta::assert_snapshot!("timeline_long_end", screen(&app));

    press(&mut app, &mut pager, KeyCode::Char('g'));
    assert_eq!(shown(&app), (1..=height).collect::<Vec<_>>());
    insta::assert_snapshot!("timeline_long_top", screen(&app));

    // The middle, with a hostile note on screen: shown escaped.
    app.timeline.anchor = Anchor::Top(99_990);
    fixture::settle(&mut app, &mut pager);
    assert_eq!(shown(&app), (99_990..99_990 + height).collect::<Vec<_>>());
    let middle = screen(&app);
    assert!(!middle.contains('\u{1b}') && !middle.contains('\u{7}'));
    assert!(
        middle.contains(r"pwned \x1b[2J\x1b]0;owned\x07 done"),
        "{middle}"
    );
    insta::assert_snapshot!("timeline_long_middle", middle);

    // A filter searches forward from where the view stands.
    press(&mut app, &mut pager, KeyCode::Char('/'));
    for c in "note".chars() {
        press(&mut app, &mut pager, KeyCode::Char(c));
    }
    press(&mut app, &mut pager, KeyCode::Enter);
    assert_eq!(
        shown(&app),
        (100..100 + height).map(|i| i * 1000).collect::<Vec<_>>()
    );
    insta::assert_snapshot!("timeline_long_filtered", screen(&app));

    // Memory: one screen of rows in the model, the pager's cache bounded.
    assert!(pager.cached() <= MAX_ROWS);
    assert_eq!(
        app.timeline.page.as_ref().map(|p| p.rows.len() as u64),
        Some(height)
    );
}

#[test]
fn keys_move_by_a_row_and_a_page_to_either_end_and_the_tail_follows_new_events() {
    let dir = tempfile::tempdir().unwrap();
    let total = 5_000;
    let mut app = fixture::long_timeline(dir.path(), total);
    let mut pager = Pager::open(dir.path()).unwrap();
    let h = app.timeline_height() as u64;
    fixture::settle(&mut app, &mut pager);
    let tail: Vec<u64> = (total - h + 1..=total).collect();
    assert_eq!(shown(&app), tail);

    press(&mut app, &mut pager, KeyCode::Up);
    assert_eq!(shown(&app), (total - h..total).collect::<Vec<_>>());
    press(&mut app, &mut pager, KeyCode::Char('k'));
    press(&mut app, &mut pager, KeyCode::PageUp);
    let first = total - h - 1 - h;
    assert_eq!(shown(&app), (first..first + h).collect::<Vec<_>>());
    press(&mut app, &mut pager, KeyCode::Char('j'));
    press(&mut app, &mut pager, KeyCode::PageDown);
    let first = first + 1 + h;
    assert_eq!(shown(&app), (first..first + h).collect::<Vec<_>>());
    // Down to the end: following again.
    press(&mut app, &mut pager, KeyCode::Down);
    assert_eq!(shown(&app), tail);
    assert_eq!(app.timeline.anchor, Anchor::Tail);
    press(&mut app, &mut pager, KeyCode::Home);
    assert_eq!(shown(&app), (1..=h).collect::<Vec<_>>());
    press(&mut app, &mut pager, KeyCode::Up);
    assert_eq!(
        shown(&app),
        (1..=h).collect::<Vec<_>>(),
        "nothing before seq 1"
    );
    press(&mut app, &mut pager, KeyCode::End);
    assert_eq!(app.timeline.anchor, Anchor::Tail);

    // New events (from this process or a teammate) appear at the bottom while following.
    let journal = Journal::open(dir.path(), "bob").unwrap().0;
    let mut last = None;
    for i in 0..3 {
        let event = journal
            .append_blocking(NewEvent::new(
                Kind::Note,
                json!({"text": format!("live {i}"), "tags": []}),
            ))
            .unwrap();
        last = Some(event.clone());
        update(&mut app, Msg::Journalled(event));
        fixture::settle(&mut app, &mut pager);
    }
    let last = last.unwrap();
    assert_eq!(shown(&app).last(), Some(&last.seq));
    assert_eq!(
        app.timeline
            .page
            .as_ref()
            .unwrap()
            .rows
            .last()
            .unwrap()
            .text,
        "Note: live 2"
    );
    // Pinned elsewhere, the view stays put when events arrive.
    press(&mut app, &mut pager, KeyCode::Char('g'));
    let event = journal
        .append_blocking(NewEvent::new(
            Kind::Note,
            json!({"text": "later", "tags": []}),
        ))
        .unwrap();
    update(&mut app, Msg::Journalled(event));
    fixture::settle(&mut app, &mut pager);
    assert_eq!(shown(&app), (1..=h).collect::<Vec<_>>());
}

/// A resumable incident of `events` events: opened on `runbook`, one step sending
/// `http.request`/`http.response` pairs, every 10,000th event a note carrying terminal
/// control sequences, written by the journal's own writer.
fn long_incident(data: &Path, id: &str, runbook: &Path, events: u64) {
    let dir = data.join("incidents").join(id);
    std::fs::create_dir_all(data.join("incidents")).unwrap();
    let journal = Journal::create(&dir, "alice").unwrap();
    let source = std::fs::read(runbook).unwrap();
    journal
        .enqueue(NewEvent::incident(IncidentOpened {
            incident_id: id.to_owned(),
            runbook_id: "long".to_owned(),
            runbook_title: "Long timeline".to_owned(),
            runbook_sha256: stanch::journal::event::sha256_hex(&source),
            runbook_path: Some(runbook.display().to_string()),
            responder: Some("alice".to_owned()),
            ..IncidentOpened::default()
        }))
        .unwrap();
    journal
        .enqueue(NewEvent::for_step(
            Kind::StepStarted,
            "revoke",
            json!({"attempt": 1, "rerun": false}),
        ))
        .unwrap();
    for seq in 3..events {
        let event = if seq.is_multiple_of(10_000) {
            NewEvent::new(
                Kind::Note,
                json!({"text": format!("note {seq} \u{1b}[2J\u{7}"), "tags": []}),
            )
        } else if seq % 2 == 1 {
            NewEvent::for_step(
                Kind::HttpRequest,
                "revoke",
                json!({"method": "POST", "url": "http://127.0.0.1:9/revoke", "headers": {}, "item": seq / 2}),
            )
        } else {
            NewEvent::for_step(
                Kind::HttpResponse,
                "revoke",
                json!({"status": 200, "elapsed_ms": 3, "bytes": 0, "item": seq / 2 - 1}),
            )
        };
        journal.enqueue(event).unwrap();
    }
    journal
        .append_blocking(NewEvent::for_step(
            Kind::StepSucceeded,
            "revoke",
            json!({"duration_ms": 1000, "summary": "revoked", "captures": {}}),
        ))
        .unwrap();
}

/// The row of `seq` is on screen (seqs are right-aligned at the start of a row).
fn row(screen: &str, seq: u64) -> bool {
    screen
        .lines()
        .any(|l| l.trim_start().starts_with(&format!("{seq} ")))
}

#[test]
fn resume_pages_a_200000_event_incident_in_the_real_binary() {
    let work = tempfile::tempdir().unwrap();
    let runbook = work.path().join("long.toml");
    std::fs::write(
        &runbook,
        "[runbook]\nid = \"long\"\ntitle = \"Long timeline\"\n[targets.t]\nurl = \"http://127.0.0.1:9\"\n\
         [[steps]]\nid = \"revoke\"\nphase = \"contain\"\ntitle = \"Revoke\"\n\
         http = { target = \"t\", method = \"POST\", path = \"/revoke\" }\n",
    )
    .unwrap();
    let data = work.path().join("data");
    long_incident(&data, "LONG", &runbook, EVENTS);
    let tmux = Tmux::start(
        &format!("stanch-timeline-{}", std::process::id()),
        100,
        30,
        &format!(
            "env STANCH_DATA_DIR={} NO_COLOR=1 {} resume LONG --responder alice; sleep 60",
            data.display(),
            env!("CARGO_BIN_EXE_stanch")
        ),
    );
    let slow = Duration::from_mins(2);
    let quick = Duration::from_secs(10);
    tmux.wait_until("the first frame", slow, |s| s.contains("q quit"));
    // 30 rows: 27 on the Timeline.
    tmux.send(&["t"]);
    let tail = tmux.wait_until("the tail", slow, |s| row(s, EVENTS) && row(s, EVENTS - 26));
    assert!(
        tail.contains(&format!("Timeline · {EVENTS} events")),
        "{tail}"
    );
    assert!(!row(&tail, EVENTS - 27));

    tmux.send(&["PPage"]);
    let before = tmux.wait_until("the page before", quick, |s| {
        row(s, EVENTS - 27) && row(s, EVENTS - 53)
    });
    assert!(
        !row(&before, EVENTS) && !row(&before, EVENTS - 54),
        "{before}"
    );

    tmux.send(&["g"]);
    let top = tmux.wait_until("the top", quick, |s| row(s, 1) && row(s, 27));
    assert!(top.contains("incident.opened"), "{top}");

    tmux.send(&["G"]);
    tmux.wait_until("the tail again", quick, |s| row(s, EVENTS));

    // A filter by kind: every note, found by a search that streams the journal.
    tmux.send(&["/"]);
    tmux.send(&["-l", "note"]);
    tmux.send(&["Enter"]);
    let notes = tmux.wait_until("the notes", slow, |s| s.contains("filter: note · 19 of"));
    for seq in (1..=19).map(|i| i * 10_000) {
        assert!(row(&notes, seq), "note {seq} missing:\n{notes}");
    }
    assert!(!row(&notes, EVENTS), "{notes}");
    // The notes' control sequences are shown escaped, never sent to the terminal.
    assert!(notes.contains(r"\x1b[2J\x07"), "{notes}");

    tmux.send(&["q"]);
    tmux.wait_until("the TUI to quit", quick, |s| s.contains("is saved"));
    // The index it built sits beside the journal, private.
    let idx = data.join("incidents/LONG/journal.idx");
    let mode =
        std::os::unix::fs::PermissionsExt::mode(&std::fs::metadata(&idx).unwrap().permissions());
    assert_eq!(mode & 0o777, 0o600);
}
