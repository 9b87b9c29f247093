//! The post-mortem in the shape teams use: every review section holds what the journal says
//! (with where it came from) and a prompt until people wrote their part; notes tagged
//! `#decision`, `#went-well`, `#went-wrong`, `#lucky` land in their sections; action items
//! carry owner and due date or say they are unset; a drill's times stand beside the
//! reference case's; each notification deadline is tracked from `aware` and stops at
//! `notified`. The golden files (tests/export_golden.rs) pin the full text; these tests pin
//! the rules.

use crate::support::export_fixture as fixture;

use fixture::Chain;
use serde_json::json;
use stanch::export::report::{self, Report};
use stanch::export::{self, Format, Sources};
use stanch::journal::Kind;

fn report_of(chain: &Chain, sources: &Sources) -> Report {
    report::build(&chain.incident(), sources)
}

fn recorded(drill: bool) -> Report {
    report_of(&fixture::recorded(drill), &fixture::sources())
}

/// Opened, reported, aware, one step that failed: nothing written by people.
fn bare() -> Chain {
    let mut c = Chain::new();
    c.push(
        "2019-12-26T18:02:00Z",
        "alice",
        Kind::IncidentOpened,
        None,
        json!({
            "incident_id": "INC-1", "runbook_id": "r", "runbook_title": "Open index",
            "runbook_sha256": "", "inputs": {}, "responder": "alice", "drill": false,
        }),
    );
    c.push(
        "2019-12-26T18:03:00Z",
        "alice",
        Kind::Mark,
        None,
        json!({"name": "aware", "at": "2019-12-26T18:00:00Z"}),
    );
    c.push(
        "2019-12-26T18:04:00Z",
        "alice",
        Kind::StepStarted,
        Some("close"),
        json!({"attempt": 1, "rerun": false}),
    );
    c.push(
        "2019-12-26T18:05:00Z",
        "alice",
        Kind::StepFailed,
        Some("close"),
        json!({"duration_ms": 60_000, "error": "connection refused", "captures": {}}),
    );
    c
}

#[test]
fn without_notes_every_section_prompts_and_says_only_what_the_journal_holds() {
    let r = report_of(&bare(), &Sources::default());
    for (heading, section) in r.review.sections() {
        assert!(section.prompt.is_some(), "{heading} has no prompt");
        for entry in &section.entries {
            assert!(
                !entry.source.is_empty(),
                "{heading}: {entry:?} has no source"
            );
        }
    }
    for (heading, section) in &r.review.sections()[4..] {
        if *heading != "What went wrong" {
            assert!(
                section.entries.is_empty(),
                "{heading} invented {:?}",
                section.entries
            );
        }
    }
    let wrong = &r.review.went_wrong.entries;
    assert_eq!(wrong.len(), 1, "{wrong:?}");
    assert_eq!(wrong[0].text, "close: Failed: connection refused");
    assert_eq!(wrong[0].source, "journal seq 4");
    assert!(
        r.review.trigger_and_root_cause.entries.is_empty(),
        "no exposure_began, no trigger"
    );
    assert!(r.action_items.is_empty());
    let md = export::render_report(&r, Format::Markdown);
    // Nine sections and the action items.
    assert_eq!(md.matches("> **To write:**").count(), 10, "{md}");
    let html = export::render_report(&r, Format::Html);
    assert_eq!(
        html.matches("<p class=\"prompt\"><b>To write:</b>").count(),
        10
    );
}

#[test]
fn tagged_notes_land_in_their_sections_and_answer_the_prompt() {
    let r = recorded(false);
    let texts = |s: &report::Section| s.entries.iter().map(|e| e.text.clone()).collect::<Vec<_>>();
    assert_eq!(
        texts(&r.review.decisions),
        ["Closed the index rather than deleting it, so the evidence survives #decision"]
    );
    assert_eq!(r.review.decisions.entries[0].source, "note seq 18 by alice");
    assert!(texts(&r.review.went_well).contains(
        &"The runbook's close-then-verify steps had containment done nine minutes after awareness".to_owned()
    ));
    assert_eq!(
        texts(&r.review.lucky),
        ["The reporter wrote to support before publishing the details #lucky"]
    );
    // The journal's own setbacks come first, then what people wrote.
    assert_eq!(
        texts(&r.review.went_wrong),
        [
            "verify-closed: Failed: still answering after 1m; check the proxy in front of the cluster (1 expectation(s) failed)",
            "snapshot: Interrupted, outcome unknown (started at seq 25)",
            "A proxy in front of the cluster kept answering after the close; nobody knew it was there #went-wrong",
        ]
    );
    for answered in [
        &r.review.decisions,
        &r.review.went_well,
        &r.review.went_wrong,
        &r.review.lucky,
    ] {
        assert!(answered.prompt.is_none());
    }
    for open in [
        &r.review.summary,
        &r.review.trigger_and_root_cause,
        &r.review.lessons,
    ] {
        assert!(open.prompt.is_some());
    }
    // Met deadlines are a journal fact about what went well.
    assert!(texts(&r.review.went_well).iter().any(|t| {
        t.starts_with("Supervisory authority (GDPR Art. 33): notified 3h after becoming aware")
    }));
}

#[test]
fn detection_trigger_and_resolution_come_from_marks_facts_and_steps() {
    let r = recorded(false);
    let texts = |s: &report::Section| s.entries.iter().map(|e| e.text.clone()).collect::<Vec<_>>();
    assert_eq!(
        texts(&r.review.detection),
        [
            "Reported to the team 2019-12-26 17:21:00Z.",
            "2019-12-26 17:21:00Z: Reporter opened a support ticket about an open database",
            "The team became aware 2019-12-26 18:00:00Z, 39m after the report.",
            "22d 18h from the start of the exposure to awareness (time to detect).",
        ]
    );
    assert_eq!(
        texts(&r.review.trigger_and_root_cause),
        [
            "The exposure began 2019-12-04 00:00:00Z (corrected from 2019-12-14 00:00:00Z).",
            "2019-12-04 00:00:00Z: Exposure began when an employee removed the cluster's protections (company forum post)",
        ]
    );
    let resolution = texts(&r.review.resolution);
    assert_eq!(
        resolution[0],
        "Close the exposed index: index closed; contained 2019-12-26 18:09:02Z"
    );
    // Counting (confirm) and notify-phase steps are not measures.
    assert!(
        !resolution.iter().any(|t| t.contains("Count what")),
        "{resolution:?}"
    );
}

#[test]
fn action_items_carry_owner_and_due_or_say_they_are_unset() {
    let r = recorded(false);
    let items: Vec<_> = r
        .action_items
        .iter()
        .map(|a| (a.owner.as_deref(), a.due.map(|d| d.to_string())))
        .collect();
    assert_eq!(
        items,
        [(Some("bob"), Some("2019-12-27".to_owned())), (None, None)]
    );
    let md = export::render_report(&r, Format::Markdown);
    assert!(md.contains("| \\[ \\] Two tokens failed to revoke: retry them @bob due:2019-12-27 | bob | 2019-12-27 | bob, seq 32 |"), "{md}");
    assert!(md.contains("| \\[ \\] Alert when xpack security is disabled on any cluster | **to assign** | **to set** | alice, seq 40 |"), "{md}");
}

#[test]
fn each_deadline_is_tracked_from_aware_and_stops_at_notified() {
    let r = recorded(false);
    let got: Vec<_> = r
        .deadlines
        .iter()
        .map(|d| (d.id.as_str(), d.status.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            ("gdpr-art33", "met"),
            ("gdpr-art34", "notified"),
            ("us-state-consumers", "met")
        ]
    );
    let md = export::render_report(&r, Format::Markdown);
    assert!(md.contains("| Supervisory authority (GDPR Art. 33) | 2019-12-29 18:00:00Z | **met** | notified 3h after becoming aware, 2d 21h before the deadline |"), "{md}");
    // Without `notified` the clocks run to the last journal event.
    let open = report_of(&bare(), &Sources::default());
    assert_eq!(open.deadlines[0].status.as_str(), "open");
    assert_eq!(
        open.deadlines[0].text,
        "not notified yet: 5m used, 2d 23h left"
    );
}

#[test]
fn a_drill_shows_the_team_beside_the_reference_case() {
    let r = recorded(true);
    let md = export::render_report(&r, Format::Markdown);
    assert!(md.contains("## The team beside the reference case"), "{md}");
    assert!(
        md.contains(
            "| rotated | +1h 49m | +6h 39m | faster by 4h 50m | about six hours after awareness"
        ),
        "{md}"
    );
    assert!(md.contains("| aware | +39m | +39m | same |"), "{md}");
    let html = export::render_report(&r, Format::Html);
    assert!(html.contains("<tr><td>rotated</td><td class=\"num\">+1h 49m</td><td class=\"num\">+6h 39m</td><td class=\"t\">faster by 4h 50m</td>"));
    // A real incident has no such section; an unscored drill says why it has no figures.
    assert!(!export::render_report(&recorded(false), Format::Markdown).contains("reference case"));
    let mut unscored = fixture::recorded(true);
    unscored.events.retain(|e| e.kind != Kind::DrillScore);
    let md = export::render_report(&report_of(&unscored, &fixture::sources()), Format::Markdown);
    assert!(
        md.contains("The drill was not scored, so the team's times cannot be compared"),
        "{md}"
    );
}

#[test]
fn review_sections_come_in_the_order_teams_read_them() {
    let md = export::render_report(&recorded(true), Format::Markdown);
    let order = [
        "## Summary",
        "## Impact",
        "## Detection",
        "## Trigger and root cause",
        "## Resolution",
        "## Key times",
        "## Timeline",
        "## What went well",
        "## What went wrong",
        "## Where we got lucky",
        "## Decisions",
        "## Action items",
        "## Lessons",
        "## Steps",
        "## The team beside the reference case",
    ];
    let at: Vec<usize> = order
        .iter()
        .map(|h| md.find(h).unwrap_or_else(|| panic!("{h}")))
        .collect();
    assert!(at.windows(2).all(|w| w[0] < w[1]), "{order:?} at {at:?}");
}
