//! The bundled runbook's forum-post template renders through `draft::render` with the context
//! drafts get (inputs, vars, marks, timeline, incident) and says what a public notice must:
//! what happened and when (with the time zone), what data was and was not involved, what was
//! done, what users must do, where to ask and when the next update comes.

use serde_json::json;
use stanch::draft;
use stanch::journal::{Journal, Kind, NewEvent};

#[test]
fn bundled_forum_post_renders_every_part_of_a_public_notice() {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("runbooks/elasticsearch-exposure.toml");
    let rb = stanch::runbook::load(&path).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let journal = Journal::create(tmp.path(), "alice").unwrap();
    let mut events = vec![journal.append_blocking(NewEvent::new(Kind::IncidentOpened, json!({
        "incident_id": "INC-20191226-1802", "runbook_id": rb.runbook.id(), "runbook_title": rb.runbook.runbook.title,
        "runbook_sha256": rb.sha256, "runbook_path": path.to_string_lossy(), "inputs": {"index": "customers"},
        "responder": "alice", "drill": false,
    }))).unwrap()];
    for (name, at) in [
        ("exposure_began", "2019-12-04T00:00:00Z"),
        ("aware", "2019-12-26T18:00:00Z"),
        ("contained", "2019-12-26T18:09:02Z"),
    ] {
        events.push(
            journal
                .append_blocking(NewEvent::new(Kind::Mark, json!({"name": name, "at": at})))
                .unwrap(),
        );
    }
    events.push(journal.append_blocking(NewEvent::for_step(Kind::StepSucceeded, "count-exposed",
        json!({"duration_ms": 5, "summary": "counted", "captures": {"exposed_docs": 2_400_000}}))).unwrap());
    let incident = stanch::incident::Incident::replay(events);
    let text = draft::render(
        &rb,
        "forum-post",
        &incident,
        draft::timeline::of(&incident).unwrap(),
    )
    .unwrap();
    for part in [
        "## What happened",
        "2019-12-26 18:00 UTC",
        "2019-12-04 00:00 UTC",
        "2019-12-26 18:09 UTC",
        "2.4 million",
        "## What data was involved",
        "## What was not involved",
        "No passwords",
        "## What we have done",
        "## What you need to do",
        "Log in again",
        "Re-link your integrations",
        "## Questions",
        "## Next update",
        "INC-20191226-1802",
    ] {
        assert!(text.contains(part), "missing {part:?} in:\n{text}");
    }
}
