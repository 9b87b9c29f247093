//! Golden tests of the notice drafts the bundled runbook uses (GDPR Art. 33 to the authority,
//! Art. 34 to the people affected, the US consumer notice), rendered through `draft::render`
//! from journals with fixed times: once with the facts a response has after a few hours, once
//! early (only `reported` and `aware`: the Art. 33(4) phased case), once as a drill. Each
//! draft must end with the list of what it could not fill. Rewrite the golden files after an
//! intended change with `UPDATE_GOLDEN=1 cargo test --test it draft_notices::`, then read the diff.

use crate::support::export_fixture as fixture;

use std::path::{Path, PathBuf};

use fixture::Chain;
use serde_json::json;
use stanch::draft;
use stanch::journal::Kind;

const NOTICES: &[&str] = &["notice-authority", "notice-people", "notice-us-consumers"];

fn bundled() -> stanch::runbook::Loaded {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("runbooks/elasticsearch-exposure.toml");
    stanch::runbook::load(&path).unwrap()
}

fn opened(c: &mut Chain, drill: bool) {
    let id = if drill {
        "DRILL-20191226-1802"
    } else {
        "INC-20191226-1802"
    };
    c.push("2019-12-26T18:02:00Z", "alice", Kind::IncidentOpened, None, json!({
        "incident_id": id, "runbook_id": "elasticsearch-exposure",
        "runbook_title": "Elasticsearch index exposed to the internet", "runbook_sha256": "",
        "inputs": {"index": "customers"}, "responder": "alice", "drill": drill, "severity": "SEV1",
    }));
    for (at, name, when) in [
        ("2019-12-26T18:04:30Z", "reported", "2019-12-26T17:21:00Z"),
        ("2019-12-26T18:04:40Z", "aware", "2019-12-26T18:00:00Z"),
    ] {
        c.push(
            at,
            "alice",
            Kind::Mark,
            None,
            json!({"name": name, "at": when}),
        );
    }
}

fn succeeded(c: &mut Chain, at: &str, step: &str, summary: &str, captures: &serde_json::Value) {
    c.push(
        at,
        "alice",
        Kind::StepStarted,
        Some(step),
        json!({"attempt": 1, "rerun": false}),
    );
    c.push(
        at,
        "alice",
        Kind::StepSucceeded,
        Some(step),
        json!({
            "duration_ms": 1000, "summary": summary, "captures": captures.clone(),
        }),
    );
}

fn mark(c: &mut Chain, at: &str, step: Option<&str>, name: &str) {
    c.push(
        at,
        "alice",
        Kind::Mark,
        step,
        json!({"name": name, "at": at}),
    );
}

/// A few hours in: counted, contained, evidence kept, tokens revoked, everyone logged out.
fn hours_in(drill: bool) -> Chain {
    let mut c = Chain::new();
    opened(&mut c, drill);
    c.push(
        "2019-12-26T18:05:05Z",
        "alice",
        Kind::Mark,
        None,
        json!({"name": "exposure_began", "at": "2019-12-04T00:00:00Z"}),
    );
    succeeded(
        &mut c,
        "2019-12-26T18:06:01Z",
        "count-exposed",
        "2400000 documents readable",
        &json!({"exposed_docs": 2_400_000}),
    );
    succeeded(
        &mut c,
        "2019-12-26T18:09:02Z",
        "close-index",
        "index closed",
        &json!({}),
    );
    mark(
        &mut c,
        "2019-12-26T18:09:02Z",
        Some("close-index"),
        "contained",
    );
    succeeded(
        &mut c,
        "2019-12-26T18:12:03Z",
        "verify-contained",
        "outsiders get 400 index_closed_exception",
        &json!({}),
    );
    succeeded(
        &mut c,
        "2019-12-26T18:40:00Z",
        "snapshot-status",
        "snapshot SUCCESS",
        &json!({}),
    );
    mark(
        &mut c,
        "2019-12-26T18:40:00Z",
        Some("snapshot-status"),
        "evidence_preserved",
    );
    c.push(
        "2019-12-26T18:45:00Z",
        "alice",
        Kind::StepStarted,
        Some("revoke-alexa-tokens"),
        json!({"attempt": 1, "rerun": false}),
    );
    c.push(
        "2019-12-26T19:10:00Z",
        "alice",
        Kind::StepSucceeded,
        Some("revoke-alexa-tokens"),
        json!({
            "duration_ms": 1_500_000, "summary": "3410 items, 2 failed", "captures": {},
            "items": {"total": 3412, "failed": 2},
        }),
    );
    succeeded(
        &mut c,
        "2019-12-26T19:20:00Z",
        "force-logout",
        "every session ended",
        &json!({}),
    );
    c.push(
        "2019-12-26T19:30:00Z",
        "alice",
        Kind::StepPending,
        Some("legal"),
        json!({"reason": "manual checklist"}),
    );
    c
}

/// Minutes in: only the report and awareness are known.
fn early() -> Chain {
    let mut c = Chain::new();
    opened(&mut c, false);
    c
}

fn golden(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/drafts")
        .join(name)
}

fn assert_golden(name: &str, actual: &str) {
    let path = golden(name);
    if std::env::var_os("UPDATE_GOLDEN").is_some() {
        std::fs::write(&path, actual).unwrap();
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "missing golden {}; run with UPDATE_GOLDEN=1",
            path.display()
        )
    });
    assert!(
        expected == actual,
        "{name} differs from its golden file (UPDATE_GOLDEN=1 rewrites it):\n{actual}"
    );
}

fn render(chain: &Chain, step: &str) -> String {
    let incident = chain.incident();
    let timeline = draft::timeline::of(&incident).unwrap();
    draft::render(&bundled(), step, &incident, timeline).unwrap()
}

/// The gaps listed at the end, as the draft says them.
fn listed_gaps(text: &str) -> Vec<&str> {
    text.split("**Not filled from the journal**")
        .nth(1)
        .map(|tail| {
            tail.lines()
                .filter_map(|l| l.strip_prefix("- [ ] "))
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn each_notice_a_few_hours_in_matches_golden_and_lists_its_gaps() {
    let chain = hours_in(false);
    for step in NOTICES {
        let text = render(&chain, step);
        assert_golden(&format!("{step}.md"), &text);
        let gaps = listed_gaps(&text);
        assert!(!gaps.is_empty(), "{step}: no gap list");
        assert_eq!(
            gaps,
            draft::gaps(text.split("\n---\n").next().unwrap()),
            "{step}"
        );
        for filled in ["2019-12-04", "2019-12-26", "2,400,000", "INC-20191226-1802"] {
            assert!(text.contains(filled), "{step}: {filled} missing");
        }
        assert!(!text.contains("DRILL"), "{step}");
    }
}

#[test]
fn the_authority_notice_names_the_deadline_measures_and_the_required_parts() {
    let text = render(&hours_in(false), "notice-authority");
    for part in [
        "## 1. Nature of the breach",
        "## 2. Personal data concerned",
        "## 3. Contact point",
        "## 4. Likely consequences",
        "## 5. Measures taken or proposed",
        "We became aware: **2019-12-26 18:00 UTC**, after a report received 2019-12-26 17:21 UTC",
        "the 72-hour deadline is **2019-12-29 18:00 UTC**",
        "- 2019-12-26 18:09 UTC: Close the exposed index; contained at 2019-12-26 18:09 UTC",
        "- 2019-12-26 18:40 UTC: Wait for the snapshot to succeed with no failed shard; evidence preserved at 2019-12-26 18:40 UTC",
        "- 2019-12-26 19:10 UTC: Revoke every Alexa skill token as that client (RFC 7009): 3,410 of 3,412 done",
        "- 2019-12-26 19:20 UTC: Log every user out",
        "Approximate number of personal data records: **2,400,000**",
    ] {
        assert!(text.contains(part), "missing {part:?} in:\n{text}");
    }
    // Counting, checking from outside and the pending checklist are not measures.
    for not_a_measure in ["Count what an outsider", "Verify from outside", "Legal"] {
        assert!(!text.contains(not_a_measure), "{not_a_measure}: {text}");
    }
    assert!(
        !text.contains("Art. 33(4)"),
        "every phased fact is known: {text}"
    );
    assert!(listed_gaps(&text).contains(
        &"name and contact details of the data protection officer or other contact point"
    ));
}

#[test]
fn early_notices_are_phased_and_fill_nothing_they_do_not_know() {
    let chain = early();
    for step in NOTICES {
        let text = render(&chain, step);
        assert_golden(&format!("{step}-early.md"), &text);
        assert!(!text.contains("2,400,000"), "{step}");
    }
    let text = render(&chain, "notice-authority");
    assert!(
        text.contains("initial notification under Art. 33(4)"),
        "{text}"
    );
    for open in [
        "- When the breach began",
        "- How many records and people are concerned",
        "- Whether and when the breach was contained",
    ] {
        assert!(text.contains(open), "missing {open:?}:\n{text}");
    }
    assert!(
        listed_gaps(&text).contains(&"measures taken to address the breach"),
        "{text}"
    );
}

#[test]
fn notices_to_people_speak_in_milestones_not_runbook_step_titles() {
    let chain = hours_in(false);
    for step in ["notice-people", "notice-us-consumers"] {
        let text = render(&chain, step);
        for milestone in [
            "- We stopped the data being reachable on 2019-12-26.",
            "- We kept a secure copy on 2019-12-26",
        ] {
            assert!(
                text.contains(milestone),
                "{step}: missing {milestone:?}:\n{text}"
            );
        }
        assert!(!text.contains("Wait for the snapshot"), "{step}: {text}");
        assert!(!text.contains("RFC 7009"), "{step}: {text}");
    }
}

#[test]
fn a_drill_notice_says_it_must_not_be_sent() {
    let text = render(&hours_in(true), "notice-authority");
    assert_golden("notice-authority-drill.md", &text);
    assert!(text.starts_with("> **DRILL**: written during an exercise; do not send."));
    assert!(text.contains("DRILL-20191226-1802"));
}

#[test]
fn a_late_notification_must_give_its_reasons() {
    let mut chain = hours_in(false);
    chain.push(
        "2019-12-30T09:00:00Z",
        "alice",
        Kind::Note,
        None,
        json!({"text": "still drafting", "tags": []}),
    );
    let text = render(&chain, "notice-authority");
    assert!(
        text.contains("not notified, 15h past the deadline"),
        "{text}"
    );
    assert!(
        listed_gaps(&text).contains(&"reasons the notification was not made within 72 hours"),
        "{text}"
    );
}
