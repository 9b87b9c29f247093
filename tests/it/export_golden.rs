//! Golden files of all three export formats for the recorded reference incident (real and
//! drill). Rewrite them after an intended change with `UPDATE_GOLDEN=1 cargo test --test
//! it export_golden::`, then read the diff.

use crate::support::export_fixture as fixture;

use std::path::PathBuf;

use stanch::export::{self, Format, TimelineView};

fn golden_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/export")
        .join(name)
}

fn assert_golden(name: &str, actual: &str) {
    let path = golden_path(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).expect("write golden");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing golden {}; run with UPDATE_GOLDEN=1",
            path.display()
        )
    });
    if expected != actual {
        let first = expected
            .lines()
            .zip(actual.lines())
            .position(|(e, a)| e != a)
            .unwrap_or(expected.lines().count().min(actual.lines().count()));
        panic!(
            "{name} differs from its golden file at line {}:\n  expected: {:?}\n  actual:   {:?}\n(UPDATE_GOLDEN=1 rewrites it)",
            first + 1,
            expected.lines().nth(first),
            actual.lines().nth(first)
        );
    }
}

fn render(drill: bool, format: Format) -> String {
    export::render(
        &fixture::recorded(drill).incident(),
        &fixture::sources(),
        format,
    )
}

#[test]
fn markdown_of_the_recorded_incident_matches_golden() {
    assert_golden("incident.md", &render(false, Format::Markdown));
}

#[test]
fn markdown_of_a_drill_matches_golden_and_is_watermarked() {
    let md = render(true, Format::Markdown);
    assert!(md.starts_with("# DRILL"), "{}", &md[..80]);
    assert_golden("drill.md", &md);
}

#[test]
fn json_of_the_recorded_incident_matches_golden() {
    assert_golden("incident.json", &render(false, Format::Json));
}

#[test]
fn json_of_a_drill_matches_golden_and_is_watermarked() {
    let json = render(true, Format::Json);
    assert!(json.contains("\"watermark\": \"DRILL\""));
    assert_golden("drill.json", &json);
}

#[test]
fn html_of_the_recorded_incident_matches_golden() {
    assert_golden("incident.html", &render(false, Format::Html));
}

#[test]
fn html_of_a_drill_matches_golden_and_is_watermarked() {
    let html = render(true, Format::Html);
    assert!(html.contains("<title>DRILL — Post-mortem"));
    assert!(html.contains("<body class=\"drill\">"));
    assert!(html.contains("<div class=\"watermark\" aria-hidden=\"true\">DRILL</div>"));
    assert_golden("drill.html", &html);
}

#[test]
fn streaming_the_journal_gives_the_same_report_as_replaying_it() {
    let tmp = tempfile::tempdir().unwrap();
    for drill in [false, true] {
        let chain = fixture::recorded(drill);
        let lines: Vec<String> = chain
            .events
            .iter()
            .map(|e| serde_json::to_string(e).unwrap())
            .collect();
        std::fs::write(tmp.path().join("journal.jsonl"), lines.join("\n") + "\n").unwrap();
        let incident = chain.incident();
        let replayed =
            export::report::build(&incident, &export::Sources::read(tmp.path(), &incident));
        // Each output built as `stanch export` builds it: exchange rows kept on disk for JSON
        // and the full timeline, only summarised otherwise.
        for format in [Format::Markdown, Format::Html, Format::Json] {
            for view in [TimelineView::Summary, TimelineView::Full] {
                let streamed = export::build_from_journal(tmp.path(), format, view).unwrap();
                let render = |report| {
                    let mut out = Vec::new();
                    export::render_to(report, format, view, &mut out).unwrap();
                    String::from_utf8(out).unwrap()
                };
                assert_eq!(
                    render(&streamed),
                    render(&replayed),
                    "drill={drill} {format:?} {view:?}"
                );
            }
        }
    }
}
