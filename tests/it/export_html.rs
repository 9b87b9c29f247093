//! The HTML export is one self-contained file (no scripts, no external resources) and renders
//! in a real browser: headless Chromium screenshots it (via `bench/html-screenshot.sh`) and
//! the PNG is checked for the expected size, for not being blank and for the DRILL banner.
//! Without Chromium the browser tests SKIP WITH A LOUD MESSAGE (install: `apt-get install -y
//! chromium`), except in CI (`CI=true`), where they fail; the structural checks always run.

use crate::support::export_fixture as fixture;

use std::path::PathBuf;
use std::process::Command;

use stanch::export::{self, Format};

fn html(drill: bool) -> String {
    export::render(
        &fixture::recorded(drill).incident(),
        &fixture::sources(),
        Format::Html,
    )
}

#[test]
fn html_is_self_contained_without_scripts_or_external_resources() {
    for drill in [false, true] {
        let page = html(drill).to_ascii_lowercase();
        for forbidden in [
            "<script", "src=", "href=", "url(", "@import", "<link", "<iframe",
        ] {
            assert!(
                !page.contains(forbidden),
                "drill={drill}: found {forbidden}"
            );
        }
        assert!(page.contains("<style>") && page.contains("@media print"));
        assert!(page.contains("content-security-policy"));
        assert!(page.contains("<svg xmlns=\"http://www.w3.org/2000/svg\""));
        assert_eq!(page.matches("<svg").count(), 1, "one chart");
    }
}

#[test]
fn svg_chart_has_a_lane_per_phase_bars_markers_and_a_legend() {
    let page = html(true);
    let svg = &page[page.find("<svg").unwrap()..page.find("</svg>").unwrap()];
    for lane in [
        "confirm",
        "contain",
        "preserve",
        "eradicate",
        "marks",
        "facts",
        "injects",
    ] {
        assert!(svg.contains(&format!(">{lane}</text>")), "lane {lane}");
    }
    // Phases of steps that never started get no lane.
    assert!(!svg.contains(">review</text>"));
    assert!(svg.contains("revoke-alexa"), "bar label");
    assert!(svg.contains("snapshot (interrupted)"));
    assert!(
        svg.contains("exposure began (04 Dec)"),
        "old marks sit in the earlier gutter with their date"
    );
    for legend in ["succeeded", "failed", "skipped", "mark", "drill inject"] {
        assert!(svg.contains(&format!(">{legend}")), "legend {legend}");
    }
}

/// Screenshot `page` with `bench/html-screenshot.sh`; `None` when Chromium is missing outside
/// CI (a loud skip). In CI (`CI=true`) a missing browser is a failure, not a skip.
fn screenshot(name: &str, page: &str, drill: bool) -> Option<Vec<u8>> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join(format!("{name}.html"));
    let png = dir.path().join(format!("{name}.png"));
    std::fs::write(&html, page).unwrap();
    let mut command = Command::new("bash");
    command
        .arg(root.join("bench/html-screenshot.sh"))
        .arg(&html)
        .arg(&png);
    if drill {
        command.arg("--drill");
    }
    let out = command.output().expect("bash runs");
    let stderr = String::from_utf8_lossy(&out.stderr);
    if out.status.code() == Some(3) {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "chromium is not installed in CI: the HTML export was not rendered ({stderr})"
        );
        eprintln!(
            "\n!!!!!!!! SKIPPED: chromium is not installed, the HTML export was NOT rendered in a browser !!!!!!!!\n!!!!!!!! install it with: apt-get update && apt-get install -y chromium !!!!!!!!\n"
        );
        return None;
    }
    assert!(
        out.status.success(),
        "screenshot check failed: {stderr}{}",
        String::from_utf8_lossy(&out.stdout)
    );
    Some(std::fs::read(&png).unwrap())
}

/// Width and height from the PNG's IHDR (big-endian u32 at bytes 16..24).
fn png_size(bytes: &[u8]) -> (u32, u32) {
    (
        u32::from_be_bytes(bytes[16..20].try_into().unwrap()),
        u32::from_be_bytes(bytes[20..24].try_into().unwrap()),
    )
}

#[test]
fn headless_chromium_renders_the_drill_export() {
    if let Some(png) = screenshot("drill", &html(true), true) {
        assert_eq!(png_size(&png), (1200, 1600));
    }
}

#[test]
fn headless_chromium_renders_the_real_incident_export_with_its_review_sections() {
    let page = html(false);
    for section in [
        "<section id=\"summary-section\">",
        "<section id=\"detection\">",
        "<section id=\"trigger-and-root-cause\">",
        "<section id=\"resolution\">",
        "<section id=\"what-went-well\">",
        "<section id=\"what-went-wrong\">",
        "<section id=\"where-we-got-lucky\">",
        "<section id=\"decisions\">",
        "<section id=\"action-items\">",
        "<section id=\"lessons\">",
        "<h3>Notification deadlines</h3>",
    ] {
        assert!(page.contains(section), "missing {section}");
    }
    assert!(
        !page.contains("DRILL"),
        "a real incident carries no drill banner"
    );
    if let Some(png) = screenshot("incident", &page, false) {
        assert_eq!(png_size(&png), (1200, 1600));
    }
}
