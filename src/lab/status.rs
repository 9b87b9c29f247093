//! What the lab looks like from the outside, as plain data: the drill panel, the score and
//! tests read [`LabStatus`]; nothing here changes the world.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::state::EXPOSED_INDEX;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IndexStatus {
    pub name: String,
    /// Readable anonymously right now.
    pub exposed: bool,
    pub closed: bool,
    pub read_blocked: bool,
    pub docs: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SnapshotStatus {
    pub repository: String,
    pub name: String,
    /// `IN_PROGRESS` or `SUCCESS`, as `GET /_snapshot/{repo}/{snap}` says it.
    pub state: String,
    pub indices: Vec<String>,
}

/// What the lab looks like now: the drill panel and the score read this.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LabStatus {
    pub indices: Vec<IndexStatus>,
    pub snapshots: Vec<SnapshotStatus>,
    /// Active (not revoked) tokens per third-party client.
    pub active_tokens: BTreeMap<String, usize>,
    /// Names of invalidated Elasticsearch API keys.
    pub invalidated_api_keys: Vec<String>,
    /// Titles of forum posts made.
    pub forum_posts: Vec<String>,
    pub chat_messages: usize,
}

impl LabStatus {
    pub fn index(&self, name: &str) -> Option<&IndexStatus> {
        self.indices.iter().find(|i| i.name == name)
    }

    /// Whether the exposed index is still readable anonymously.
    pub fn exposed(&self) -> bool {
        self.index(EXPOSED_INDEX).is_some_and(|i| i.exposed)
    }

    /// Label/value lines for the TUI's lab panel.
    pub fn panel_lines(&self) -> Vec<(String, String)> {
        let mut lines = Vec::new();
        if let Some(i) = self.index(EXPOSED_INDEX) {
            let state = if i.closed {
                "closed".to_owned()
            } else if i.read_blocked {
                "read-blocked".to_owned()
            } else {
                format!("EXPOSED ({} docs readable)", i.docs)
            };
            lines.push((format!("index {}", i.name), state));
        }
        let snapshots = if self.snapshots.is_empty() {
            "none".to_owned()
        } else {
            self.snapshots
                .iter()
                .map(|s| format!("{} {}", s.name, s.state))
                .collect::<Vec<_>>()
                .join(", ")
        };
        lines.push(("snapshots".to_owned(), snapshots));
        for (client, n) in &self.active_tokens {
            lines.push((format!("tokens {client}"), format!("{n} active")));
        }
        lines.push((
            "api keys invalidated".to_owned(),
            if self.invalidated_api_keys.is_empty() {
                "none".to_owned()
            } else {
                self.invalidated_api_keys.join(", ")
            },
        ));
        lines.push(("forum posts".to_owned(), self.forum_posts.len().to_string()));
        lines.push(("chat messages".to_owned(), self.chat_messages.to_string()));
        lines
    }
}
