//! A recorded incident for the export tests, built from `Event` values with fixed timestamps
//! and real hashes (`Event::compute_hash`), so golden files are stable and `verify` would
//! accept the chain. The story follows SCENARIO.md (times in UTC, December 2019).

#![allow(dead_code)]

use jiff::Timestamp;
use serde_json::{Value, json};
use stanch::export::Sources;
use stanch::incident::Incident;
use stanch::journal::event::{GENESIS, sha256_hex};
use stanch::journal::{Event, Kind};

/// Builds a hash chain of events one by one.
pub struct Chain {
    pub events: Vec<Event>,
}

impl Chain {
    pub fn new() -> Self {
        Self { events: Vec::new() }
    }

    /// Append an event at `at` (RFC 3339) by `actor`.
    pub fn push(
        &mut self,
        at: &str,
        actor: &str,
        kind: Kind,
        step: Option<&str>,
        data: Value,
    ) -> u64 {
        let seq = self.events.len() as u64 + 1;
        let at: Timestamp = at.parse().expect("fixture timestamp");
        let prev = self
            .events
            .last()
            .map_or_else(|| GENESIS.to_owned(), |e| e.hash.clone());
        let first = self.events.first().map_or(at, |e| e.at);
        let mut event = Event {
            seq,
            at,
            mono_ms: u64::try_from(at.as_millisecond() - first.as_millisecond()).unwrap_or(0),
            actor: actor.to_owned(),
            kind,
            step: step.map(str::to_owned),
            data: data.into(),
            prev,
            hash: String::new(),
        };
        event.hash = event.compute_hash();
        self.events.push(event);
        seq
    }

    pub fn incident(&self) -> Incident {
        Incident::replay(self.events.clone())
    }
}

/// The forum post as saved in the fixture's `drafts/`.
pub const FORUM_POST: &str = "# Security incident: customer data exposed\n\nOn 26 December 2019 at 18:00 UTC we learned that a database was readable from the internet.\n\n```\nlog in again\n```\n";

pub fn runbook_source() -> &'static str {
    include_str!("../../fixtures/export/runbook.toml")
}

/// The runbook and draft files the export reads besides the journal.
pub fn sources() -> Sources {
    let runbook = toml::from_str(runbook_source()).expect("fixture runbook parses");
    let mut sources = Sources {
        runbook: Some(runbook),
        ..Sources::default()
    };
    sources.draft_files.insert(
        "drafts/forum-post.md".into(),
        FORUM_POST.as_bytes().to_vec(),
    );
    sources
}

/// The reference incident, as a responder team would have recorded it.
#[expect(
    clippy::too_many_lines,
    reason = "the reference incident's journal, event by event"
)]
pub fn recorded(drill: bool) -> Chain {
    let mut c = Chain::new();
    let step = Some;
    c.push(
        "2019-12-26T18:02:00Z",
        "alice",
        Kind::IncidentOpened,
        None,
        json!({
            "incident_id": if drill { "DRILL-20191226-1802" } else { "INC-20191226-1802" },
            "runbook_id": "elasticsearch-exposure",
            "runbook_title": "Elasticsearch index exposed to the internet",
            "runbook_sha256": sha256_hex(runbook_source().as_bytes()),
            "runbook_path": "runbooks/elasticsearch-exposure.toml",
            "inputs": {"es_url": "http://127.0.0.1:9200", "index": "customers"},
            "responder": "alice",
            "drill": drill,
            "severity": "SEV1",
        }),
    );
    c.push(
        "2019-12-26T18:04:10Z",
        "alice",
        Kind::Fact,
        None,
        json!({
            "text": "Reporter opened a support ticket about an open database",
            "occurred_at": "2019-12-26T17:21:00Z",
        }),
    );
    c.push(
        "2019-12-26T18:04:30Z",
        "alice",
        Kind::Mark,
        None,
        json!({"name": "reported", "at": "2019-12-26T17:21:00Z"}),
    );
    c.push(
        "2019-12-26T18:04:40Z",
        "alice",
        Kind::Mark,
        None,
        json!({"name": "aware", "at": "2019-12-26T18:00:00Z"}),
    );
    let exposure = c.push(
        "2019-12-26T18:05:00Z",
        "alice",
        Kind::Fact,
        None,
        json!({
            "text": "Exposure began (first press reports)",
            "occurred_at": "2019-12-14T00:00:00Z",
        }),
    );
    c.push(
        "2019-12-26T18:05:05Z",
        "alice",
        Kind::Mark,
        None,
        json!({"name": "exposure_began", "at": "2019-12-14T00:00:00Z"}),
    );
    if drill {
        c.push("2019-12-26T18:05:30Z", "stanch-lab", Kind::Inject, None, json!({
            "title": "The reporter has published", "body": "The finding is public; press is calling.", "offset": "+14m",
        }));
    }
    c.push(
        "2019-12-26T18:06:00Z",
        "alice",
        Kind::StepStarted,
        step("count-exposed"),
        json!({"attempt": 1, "rerun": false}),
    );
    c.push(
        "2019-12-26T18:06:00Z",
        "alice",
        Kind::HttpRequest,
        step("count-exposed"),
        json!({
            "method": "GET", "url": "http://127.0.0.1:9200/customers/_count", "headers": {},
        }),
    );
    let body_sha = sha256_hex(b"{\"count\":2400000}");
    c.push(
        "2019-12-26T18:06:01Z",
        "alice",
        Kind::HttpResponse,
        step("count-exposed"),
        json!({
            "status": 200, "elapsed_ms": 41, "bytes": 17, "body_sha256": body_sha,
        }),
    );
    c.push("2019-12-26T18:06:01Z", "alice", Kind::EvidenceCaptured, step("count-exposed"), json!({
        "file": format!("evidence/{body_sha}"), "sha256": body_sha, "bytes": 17, "method": "GET",
        "url": "http://127.0.0.1:9200/customers/_count", "captured_at": "2019-12-26T18:06:01Z",
        "by": "alice", "tool_version": "stanch 0.1.0", "remote_addr": "127.0.0.1:9200",
    }));
    c.push("2019-12-26T18:06:01Z", "alice", Kind::StepSucceeded, step("count-exposed"), json!({
        "duration_ms": 1200, "summary": "2400000 documents readable", "captures": {"exposed_docs": 2_400_000},
    }));
    c.push(
        "2019-12-26T18:09:00Z",
        "alice",
        Kind::Confirm,
        step("close-index"),
        json!({
            "expected": "customers", "typed_matched": true, "via": "typed",
        }),
    );
    c.push(
        "2019-12-26T18:09:00Z",
        "alice",
        Kind::StepStarted,
        step("close-index"),
        json!({"attempt": 1, "rerun": false}),
    );
    c.push("2019-12-26T18:09:00Z", "alice", Kind::HttpRequest, step("close-index"), json!({
        "method": "POST", "url": "http://127.0.0.1:9200/customers/_close", "headers": {"authorization": "••••••"},
    }));
    c.push("2019-12-26T18:09:02Z", "alice", Kind::HttpResponse, step("close-index"), json!({
        "status": 200, "elapsed_ms": 1800, "bytes": 21, "body_sha256": sha256_hex(b"{\"acknowledged\":true}"),
    }));
    c.push(
        "2019-12-26T18:09:02Z",
        "alice",
        Kind::StepSucceeded,
        step("close-index"),
        json!({
            "duration_ms": 2000, "summary": "index closed", "captures": {},
        }),
    );
    c.push(
        "2019-12-26T18:09:02Z",
        "alice",
        Kind::Mark,
        step("close-index"),
        json!({"name": "contained", "at": "2019-12-26T18:09:02Z"}),
    );
    c.push("2019-12-26T18:09:30Z", "alice", Kind::Note, step("close-index"), json!({
        "text": "Closed the index rather than deleting it, so the evidence survives #decision", "tags": [],
    }));
    c.push(
        "2019-12-26T18:10:00Z",
        "bob",
        Kind::StepStarted,
        step("verify-closed"),
        json!({"attempt": 1, "rerun": false}),
    );
    c.push("2019-12-26T18:11:00Z", "bob", Kind::StepFailed, step("verify-closed"), json!({
        "duration_ms": 60_000, "error": "still answering after 1m; check the proxy in front of the cluster",
        "failed_expectations": [{"expr": "response.status != 200", "actual": "200"}], "captures": {},
    }));
    c.push(
        "2019-12-26T18:12:00Z",
        "bob",
        Kind::StepStarted,
        step("verify-closed"),
        json!({"attempt": 2, "rerun": true}),
    );
    c.push("2019-12-26T18:12:03Z", "bob", Kind::StepSucceeded, step("verify-closed"), json!({
        "duration_ms": 3000, "summary": "outsiders get 400 index_closed_exception", "captures": {},
    }));
    c.push("2019-12-26T18:12:10Z", "bob", Kind::Note, step("verify-closed"), json!({
        "text": "A proxy in front of the cluster kept answering after the close; nobody knew it was there #went-wrong", "tags": [],
    }));
    c.push(
        "2019-12-26T18:12:30Z",
        "bob",
        Kind::StepSkipped,
        step("block-read"),
        json!({"reason": "index already closed"}),
    );
    c.push(
        "2019-12-26T18:20:00Z",
        "alice",
        Kind::StepStarted,
        step("snapshot"),
        json!({"attempt": 1, "rerun": false}),
    );
    c.push(
        "2019-12-26T18:25:00Z",
        "alice",
        Kind::StepInterrupted,
        step("snapshot"),
        json!({"started_seq": c.events.len()}),
    );
    c.push(
        "2019-12-26T18:30:00Z",
        "bob",
        Kind::StepStarted,
        step("revoke-alexa"),
        json!({"attempt": 1, "rerun": false}),
    );
    c.push(
        "2019-12-26T19:10:00Z",
        "bob",
        Kind::StepSucceeded,
        step("revoke-alexa"),
        json!({
            "duration_ms": 2_400_000, "summary": "3410 of 3412 tokens revoked",
            "captures": {}, "items": {"total": 3412, "failed": 2},
        }),
    );
    c.push(
        "2019-12-26T19:10:00Z",
        "bob",
        Kind::Mark,
        step("revoke-alexa"),
        json!({"name": "rotated", "at": "2019-12-26T19:10:00Z"}),
    );
    c.push("2019-12-26T19:20:00Z", "alice", Kind::FactCorrected, None, json!({
        "corrects": exposure, "text": "Exposure began when an employee removed the cluster's protections (company forum post)",
        "occurred_at": "2019-12-04T00:00:00Z",
    }));
    c.push(
        "2019-12-26T19:21:00Z",
        "alice",
        Kind::Mark,
        None,
        json!({"name": "exposure_began", "at": "2019-12-04T00:00:00Z", "corrects": 6}),
    );
    c.push(
        "2019-12-26T19:30:00Z",
        "bob",
        Kind::Note,
        step("revoke-alexa"),
        json!({
            "text": "Two tokens failed to revoke: retry them @bob due:2019-12-27", "tags": ["follow-up"],
        }),
    );
    c.push("2019-12-26T19:30:30Z", "bob", Kind::Note, None, json!({
        "text": "The runbook's close-then-verify steps had containment done nine minutes after awareness", "tags": ["went-well"],
    }));
    c.push("2019-12-26T19:30:40Z", "alice", Kind::Note, None, json!({
        "text": "The reporter wrote to support before publishing the details #lucky", "tags": [],
    }));
    c.push(
        "2019-12-26T19:31:00Z",
        "alice",
        Kind::Note,
        None,
        json!({"text": "Press enquiries go to comms", "tags": []}),
    );
    c.push(
        "2019-12-26T19:40:00Z",
        "alice",
        Kind::StepPending,
        step("legal"),
        json!({"reason": "manual checklist"}),
    );
    c.push(
        "2019-12-26T20:00:00Z",
        "alice",
        Kind::DraftSaved,
        step("forum-post"),
        json!({
            "file": "drafts/forum-post.md", "sha256": sha256_hex(b"first version"), "bytes": 13,
        }),
    );
    c.push("2019-12-26T20:30:00Z", "alice", Kind::DraftSaved, step("forum-post"), json!({
        "file": "drafts/forum-post.md", "sha256": sha256_hex(FORUM_POST.as_bytes()), "bytes": FORUM_POST.len(),
    }));
    c.push(
        "2019-12-26T21:00:00Z",
        "alice",
        Kind::Mark,
        None,
        json!({"name": "notified", "at": "2019-12-26T21:00:00Z"}),
    );
    c.push("2019-12-26T21:05:00Z", "alice", Kind::Note, None, json!({
        "text": "Alert when xpack security is disabled on any cluster", "tags": ["follow-up", "monitoring"],
    }));
    if drill {
        c.push(
            "2019-12-26T21:06:00Z",
            "stanch-lab",
            Kind::DrillScore,
            None,
            json!({
                "scenario": "Elasticsearch exposure, December 2019",
                "reported_at": "2019-12-26T17:21:00Z",
                "marks": [
                    {"mark": "aware", "team_ms": 2_340_000, "reference_ms": 2_340_000,
                     "note": "the company noticed at about 10:00 Pacific (18:00Z), after the finding was already public"},
                    {"mark": "contained", "team_ms": 2_882_000, "reference_ms": null, "note": null},
                    {"mark": "evidence_preserved", "team_ms": null, "reference_ms": null, "note": null},
                    {"mark": "rotated", "team_ms": 6_540_000, "reference_ms": 23_940_000,
                     "note": "about six hours after awareness every user was logged out and the Alexa, Google Assistant and IFTTT links were reset"},
                    {"mark": "notified", "team_ms": 13_140_000, "reference_ms": null, "note": null},
                    {"mark": "resolved", "team_ms": null, "reference_ms": null, "note": null},
                ],
                "checks": [{"name": "index unreadable from outside", "passed": true,
                            "detail": "anonymous GET /customers/_count → 400 index_closed_exception"}],
                "checks_passed": 1, "checks_total": 1,
            }),
        );
    }
    c.push(
        "2019-12-26T21:10:00Z",
        "alice",
        Kind::IncidentClosed,
        None,
        json!({"summary": "contained, rotated, notified"}),
    );
    c
}
