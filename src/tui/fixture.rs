//! Test and benchmark scenes: a runbook parsed from text, a hash-chained journal built in
//! memory (or written to disk for the Timeline's pager), and ready-made [`App`]s with the
//! clock and time zone pinned. Used by `tests/tui_*.rs` and `benches/render.rs`; never by the
//! running program.

use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use jiff::{SignedDuration, Timestamp};
use serde_json::{Value, json};

use super::app::{App, Running, View};
use super::msg::Msg;
use super::update::{ask_timeline, update};
use crate::engine::Preview;
use crate::incident::Incident;
use crate::journal::event::{Event, GENESIS, Kind, sha256_hex};
use crate::journal::writer::JOURNAL_FILE;
use crate::runbook::{Loaded, Runbook};
use crate::timeline::Pager;

/// The TUI's test runbook (also the end-to-end runbook).
pub const E2E_RUNBOOK: &str = include_str!("../../tests/fixtures/tui/e2e.toml");

/// The pinned "now" of every scene: 26 Dec 2019, 19:00Z (11:00 Pacific).
pub fn now() -> Timestamp {
    Timestamp::from_second(1_577_386_800).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// Parse a runbook from text (panics on a bad fixture: this is test support).
pub fn runbook(source: &str) -> Arc<Loaded> {
    let runbook: Runbook = toml::from_str(source).expect("fixture runbook parses"); // ok: the fixture text is ours, not a user's
    Arc::new(Loaded {
        runbook,
        path: PathBuf::from(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/fixtures/tui/e2e.toml"
        )),
        source: source.to_owned(),
        sha256: sha256_hex(source.as_bytes()),
    })
}

/// Builds a hash-chained journal in memory, one event a second from `start`.
pub struct Chain {
    pub events: Vec<Event>,
    pub at: Timestamp,
    pub actor: String,
}

impl Chain {
    pub fn new(start: Timestamp) -> Self {
        Self {
            events: Vec::new(),
            at: start,
            actor: "alice".into(),
        }
    }

    /// Append an event `secs` after the previous one.
    pub fn push(&mut self, secs: i64, kind: Kind, step: Option<&str>, data: Value) -> &Event {
        self.at = self
            .at
            .checked_add(SignedDuration::from_secs(secs))
            .unwrap_or(self.at);
        let prev = self
            .events
            .last()
            .map_or_else(|| GENESIS.to_owned(), |e| e.hash.clone());
        let mut event = Event {
            seq: self.events.len() as u64 + 1,
            at: self.at,
            mono_ms: 0,
            actor: self.actor.clone(),
            kind,
            step: step.map(str::to_owned),
            data: data.into(),
            prev,
            hash: String::new(),
        };
        event.hash = event.compute_hash();
        self.events.push(event);
        self.events.last().expect("just pushed") // ok: pushed on the line above
    }

    pub fn opened(start: Timestamp, drill: bool) -> Self {
        let mut chain = Self::new(start);
        chain.push(
            0,
            Kind::IncidentOpened,
            None,
            json!({"incident_id": "INC-20191226-1800", "runbook_id": "tui-e2e",
                   "runbook_title": "Exposed index (TUI test)", "runbook_sha256": "ab12",
                   "inputs": {"es_url": "http://127.0.0.1:9200", "index": "customers"},
                   "responder": "alice", "drill": drill}),
        );
        chain
    }
}

/// A fresh incident on the test runbook, nothing run yet.
pub fn fresh_app() -> App {
    let start = now()
        .checked_sub(SignedDuration::from_mins(60))
        .unwrap_or(now());
    let chain = Chain::opened(start, false);
    let mut app = App::new(runbook(E2E_RUNBOOK), Incident::replay(chain.events), now());
    app.tz = jiff::tz::TimeZone::fixed(jiff::tz::offset(-8));
    app
}

/// The reference scene: cluster identified, count captured with evidence, the destructive
/// close pending confirmation, a fact, a note and marks recorded; `verify-closed` running.
pub fn busy_app() -> App {
    let start = now()
        .checked_sub(SignedDuration::from_mins(60))
        .unwrap_or(now());
    let mut c = Chain::opened(start, false);
    c.push(
        60,
        Kind::Mark,
        None,
        json!({"name": "aware", "at": "2019-12-26T18:00:00Z"}),
    );
    c.push(
        5,
        Kind::Fact,
        None,
        json!({"text": "Reporter opened a support ticket", "occurred_at": "2019-12-26T17:21:00Z"}),
    );
    c.push(
        5,
        Kind::StepStarted,
        Some("cluster-info"),
        json!({"attempt": 1, "rerun": false}),
    );
    c.push(
        0,
        Kind::HttpRequest,
        Some("cluster-info"),
        json!({"method": "GET", "url": "http://127.0.0.1:9200/", "headers": {}}),
    );
    c.push(
        1,
        Kind::HttpResponse,
        Some("cluster-info"),
        json!({"status": 200, "elapsed_ms": 12, "bytes": 310, "body_sha256": "00"}),
    );
    c.push(0, Kind::StepSucceeded, Some("cluster-info"), json!({"duration_ms": 40, "summary": "200 OK; 1 capture", "captures": {"cluster_name": "metrics-prod"}}));
    c.push(
        5,
        Kind::StepStarted,
        Some("count-exposed"),
        json!({"attempt": 1, "rerun": false}),
    );
    c.push(
        1,
        Kind::HttpResponse,
        Some("count-exposed"),
        json!({"status": 200, "elapsed_ms": 31, "bytes": 52, "body_sha256": "11"}),
    );
    c.push(0, Kind::EvidenceCaptured, Some("count-exposed"), json!({"file": "evidence/9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "sha256": "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08", "bytes": 52, "method": "GET", "url": "http://127.0.0.1:9200/customers/_count", "captured_at": "2019-12-26T18:01:12Z", "by": "alice", "tool_version": "0.1.0", "remote_addr": "127.0.0.1:9200"}));
    c.push(0, Kind::StepSucceeded, Some("count-exposed"), json!({"duration_ms": 1200, "summary": "200 OK; 2400000 documents", "captures": {"exposed_docs": 2_400_000}}));
    c.push(
        30,
        Kind::Note,
        Some("count-exposed"),
        json!({"text": "Count matches the reporter's figure #follow-up", "tags": ["follow-up"]}),
    );
    c.push(
        10,
        Kind::StepStarted,
        Some("verify-closed"),
        json!({"attempt": 1, "rerun": false}),
    );
    c.push(0, Kind::StepFailed, Some("verify-closed"), json!({"duration_ms": 2000, "error": "expectation failed", "failed_expectations": [{"expr": "response.status != 200", "actual": "200"}]}));
    c.push(
        10,
        Kind::ChecklistTicked,
        Some("legal"),
        json!({"item": 0, "text": "Counsel informed", "checked": true}),
    );
    let mut app = App::new(runbook(E2E_RUNBOOK), Incident::replay(c.events), now());
    app.tz = jiff::tz::TimeZone::fixed(jiff::tz::offset(-8));
    app.previews.insert(
        "close-index".into(),
        Ok(Preview {
            target: "es".into(),
            method: "POST".into(),
            url: "http://127.0.0.1:9200/customers/_close".into(),
            headers: vec![(
                "Authorization".into(),
                format!("ApiKey {}", crate::secret::MASK),
            )],
            body: None,
            confirm: Some("customers".into()),
            items: None,
            warnings: Vec::new(),
            skip: None,
        }),
    );
    app.running.insert(
        "verify-closed".into(),
        Running {
            since: now()
                .checked_sub(SignedDuration::from_secs(7))
                .unwrap_or(now()),
            attempt: Some((3, Some(200))),
            items: None,
            cancelling: false,
        },
    );
    app
}

/// A large scene for the render benchmark: `steps` http steps in 7 phases and a journal of
/// `events` events.
pub fn large_app(steps: usize, events: usize) -> App {
    use std::fmt::Write;
    let phases = [
        "confirm",
        "contain",
        "preserve",
        "eradicate",
        "notify",
        "recover",
        "review",
    ];
    let mut source = String::from(
        "[runbook]\nid = \"big\"\ntitle = \"Big\"\n[targets.t]\nurl = \"http://127.0.0.1:1\"\n",
    );
    for i in 0..steps {
        let _ = write!(
            source,
            "[[steps]]\nid = \"s{i}\"\nphase = \"{}\"\ntitle = \"Step number {i} of the big runbook\"\nnotes = \"## Step {i}\\nDo **this** then `that`.\"\nhttp = {{ target = \"t\", method = \"GET\", path = \"/{i}\" }}\n",
            phases[i * phases.len() / steps.max(1)]
        );
    }
    let start = now()
        .checked_sub(SignedDuration::from_hours(30))
        .unwrap_or(now());
    let mut chain = Chain::opened(start, true);
    let mut i = 0;
    while chain.events.len() < events {
        let step = format!("s{}", i % steps.max(1));
        let kind = if i % 2 == 0 {
            Kind::StepStarted
        } else {
            Kind::StepSucceeded
        };
        chain.push(
            0,
            kind,
            Some(&step),
            json!({"attempt": 1, "duration_ms": 10, "summary": "ok", "captures": {}}),
        );
        i += 1;
    }
    let mut app = App::new(runbook(&source), Incident::replay(chain.events), now());
    app.selected = steps / 2;
    app
}

/// Write `events` to `dir/journal.jsonl`, one line each, as the writer writes them.
pub fn write_journal(dir: &Path, events: &[Event]) {
    let file = std::fs::File::create(dir.join(JOURNAL_FILE)).expect("journal file"); // ok: test support
    let mut out = std::io::BufWriter::new(file);
    for event in events {
        serde_json::to_writer(&mut out, event).expect("event serializes"); // ok: test support
        out.write_all(b"\n").expect("journal written"); // ok: test support
    }
    out.flush().expect("journal written"); // ok: test support
}

/// The text of every 1000th event of [`long_timeline`]: a note trying to clear the screen and
/// retitle the terminal.
pub const HOSTILE_NOTE: &str = "pwned \u{1b}[2J\u{1b}]0;owned\u{7} done";

/// A long incident for the Timeline: `events` events written to `dir` line by line (never all
/// in memory), one a second: the opening, then steps `s0`…`s9` starting and succeeding in
/// turn, every 1000th event a note with [`HOSTILE_NOTE`]. Returns the app on it, Timeline view
/// open at 120×40, clock and zone pinned; its incident keeps no events, as the TUI's does.
pub fn long_timeline(dir: &Path, events: u64) -> App {
    let start = now()
        .checked_sub(SignedDuration::from_hours(60))
        .unwrap_or(now());
    let mut incident = Incident::default();
    incident.drop_timeline();
    let file = std::fs::File::create(dir.join(JOURNAL_FILE)).expect("journal file"); // ok: test support
    let mut out = std::io::BufWriter::new(file);
    let opened = Chain::opened(start, false).events.remove(0);
    let mut prev = opened.hash.clone();
    let mut write = |event: Event, incident: &mut Incident| {
        serde_json::to_writer(&mut out, &event).expect("event serializes"); // ok: test support
        out.write_all(b"\n").expect("journal written"); // ok: test support
        incident.apply(event);
    };
    write(opened, &mut incident);
    for seq in 2..=events {
        let step = format!("s{}", (seq / 2) % 10);
        let (kind, step, data) = if seq.is_multiple_of(1000) {
            (Kind::Note, None, json!({"text": HOSTILE_NOTE, "tags": []}))
        } else if seq.is_multiple_of(2) {
            (
                Kind::StepStarted,
                Some(step),
                json!({"attempt": 1, "rerun": false}),
            )
        } else {
            (
                Kind::StepSucceeded,
                Some(step),
                json!({"duration_ms": 10, "summary": format!("ok {seq}"), "captures": {}}),
            )
        };
        let mut event = Event {
            seq,
            at: start
                .checked_add(SignedDuration::from_secs(i64::try_from(seq).unwrap_or(0)))
                .unwrap_or(start),
            mono_ms: seq,
            actor: "alice".into(),
            kind,
            step,
            data: data.into(),
            prev: std::mem::take(&mut prev),
            hash: String::new(),
        };
        event.hash = event.compute_hash();
        prev.clone_from(&event.hash);
        write(event, &mut incident);
    }
    out.flush().expect("journal written"); // ok: test support
    let mut app = App::new(runbook(E2E_RUNBOOK), incident, now());
    app.tz = jiff::tz::TimeZone::fixed(jiff::tz::offset(-8));
    app.view = View::Timeline;
    app.size = (120, 40);
    app
}

/// The seqs of the rows on the Timeline view.
pub fn shown(app: &App) -> Vec<u64> {
    app.timeline
        .page
        .as_ref()
        .map(|p| p.rows.iter().map(|r| r.seq).collect())
        .unwrap_or_default()
}

/// Answer the Timeline view's queries with `pager` as the event loop does, until the view is
/// settled: its last query answered and no search running.
pub fn settle(app: &mut App, pager: &mut Pager) {
    let _ = ask_timeline(app);
    loop {
        let page = if let Some(query) = app.timeline.unanswered().cloned() {
            pager.serve(&query)
        } else if pager.is_searching() {
            match pager.resume() {
                Some(page) => page,
                None => break,
            }
        } else {
            break;
        };
        let page = page.expect("the pager reads the fixture journal"); // ok: test support
        let _ = update(app, Msg::Paged(page));
    }
}
