//! The write-ahead rule at foreach scale, with group commit sharing syncs: a 127.0.0.1 server
//! looks, as each POST arrives, for that item's `http.request` in the journal file and for the
//! journal's durable mark (`journal.head`, which the writer moves only after the sync that
//! covers it). Every write must find its record there, synced, before the server saw it, while
//! many items are in flight and share syncs (group commit: see `journal::writer::commit`).

use std::path::PathBuf;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::routing::post;
use stanch::secret::Secrets;

use crate::support::engine::{Harness, succeeded};

const ITEMS: usize = 240;

/// What the server found for each POST: the item, its `http.request` seq in the file (if
/// there), and the durable mark at that moment.
#[derive(Default)]
struct Probe {
    dir: Mutex<Option<PathBuf>>,
    seen: Mutex<Vec<(String, Option<u64>, u64)>>,
}

impl Probe {
    fn look(&self, item: &str) {
        let dir = self
            .dir
            .lock()
            .unwrap()
            .clone()
            .expect("the incident dir is set");
        // The mark first: it only grows, and it is written after the sync of what it names.
        let head = std::fs::read_to_string(dir.join("journal.head"))
            .ok()
            .and_then(|text| serde_json::from_str::<serde_json::Value>(&text).ok())
            .and_then(|head| head["seq"].as_u64())
            .unwrap_or(0);
        let journal = std::fs::read_to_string(dir.join("journal.jsonl")).unwrap();
        // `i-0042` is item 42: its `http.request` names the index (the URL may be left to the
        // step's request shape).
        let index: u64 = item.trim_start_matches("i-").parse().unwrap();
        let seq = journal
            .lines()
            .filter(|line| line.contains("\"kind\":\"http.request\""))
            .filter_map(|line| serde_json::from_str::<serde_json::Value>(line).ok())
            .find(|event| event["data"]["item"].as_u64() == Some(index))
            .and_then(|event| event["seq"].as_u64());
        self.seen.lock().unwrap().push((item.to_owned(), seq, head));
    }
}

async fn server(probe: Arc<Probe>) -> String {
    let app = Router::new()
        .route(
            "/revoke/{item}",
            post(
                |State(probe): State<Arc<Probe>>, UrlPath(item): UrlPath<String>| async move {
                    probe.look(&item);
                    ""
                },
            ),
        )
        .with_state(probe);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_foreach_write_is_synced_before_it_is_sent_while_items_share_syncs() {
    let probe = Arc::new(Probe::default());
    let url = server(Arc::clone(&probe)).await;
    let items: Vec<String> = (0..ITEMS).map(|i| format!("'i-{i:04}'")).collect();
    let toml = format!(
        r#"
[runbook]
id = "write-ahead"
title = "Write-ahead at foreach scale"

[targets.api]
url = "{url}"

[[steps]]
id = "revoke"
phase = "eradicate"
foreach = "[{items}]"
concurrency = 16
http = {{ target = "api", method = "POST", path = "/revoke/{{{{ item }}}}" }}
"#,
        items = items.join(", ")
    );
    let mut h = Harness::new(&toml, Secrets::default());
    *probe.dir.lock().unwrap() = Some(h.incident_dir());
    let summary = succeeded(&h.run("revoke").await).to_owned();
    assert!(
        summary.starts_with(&format!("{ITEMS} items, all succeeded")),
        "{summary}"
    );
    let seen = probe.seen.lock().unwrap().clone();
    assert_eq!(seen.len(), ITEMS);
    for (item, seq, head) in &seen {
        let seq =
            seq.unwrap_or_else(|| panic!("{item} was sent before its http.request was written"));
        assert!(
            seq <= *head,
            "{item} was sent before its http.request (seq {seq}) was synced (durable through {head})"
        );
    }
    // The syncs were shared: fewer than one per item.
    let stats = h.journal.stats();
    assert!(
        stats.syncs < ITEMS as u64,
        "{} syncs for {} events of {ITEMS} items",
        stats.syncs,
        stats.events
    );
    h.journal_verified();
}
