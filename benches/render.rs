//! Render time of one TUI frame: a 1,000-step runbook with a 100,000-event journal
//! (goal < 5 ms), in each view, on an off-screen 120×40 terminal.
//!
//! `cargo bench --bench render`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use stanch::tui::app::View;
use stanch::tui::fixture;
use stanch::tui::view;

fn render(c: &mut Criterion) {
    let mut app = fixture::large_app(1_000, 100_000);
    // The Timeline pages its rows from the journal on disk, as the TUI does.
    let dir = tempfile::tempdir().expect("temp dir");
    fixture::write_journal(dir.path(), &app.incident.events);
    let mut pager = stanch::timeline::Pager::open(dir.path()).expect("pager");
    let mut term = Terminal::new(TestBackend::new(120, 40)).expect("test backend");
    for (name, v) in [
        ("runbook", View::Runbook),
        ("timeline", View::Timeline),
        ("evidence", View::Evidence),
        ("drafts", View::Drafts),
    ] {
        app.view = v;
        fixture::settle(&mut app, &mut pager);
        c.bench_function(&format!("frame_1000_steps_100k_events_{name}"), |b| {
            b.iter(|| {
                term.draw(|f| view::render(black_box(&app), f))
                    .expect("draw");
            });
        });
    }
    app.view = View::Timeline;
    app.timeline.filter = stanch::tui::input::Input::new("s999");
    // The pager answers the filter's query (a search of the journal) before the frame.
    fixture::settle(&mut app, &mut pager);
    c.bench_function("frame_1000_steps_100k_events_timeline_filtered", |b| {
        b.iter(|| {
            term.draw(|f| view::render(black_box(&app), f))
                .expect("draw");
        });
    });
}

criterion_group!(benches, render);
criterion_main!(benches);
