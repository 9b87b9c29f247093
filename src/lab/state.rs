//! The lab's mutable world: what the handlers change and what [`LabStatus`] reports.
//!
//! Plain data behind one mutex; handlers lock it for a few microseconds and never across an
//! await. Customer documents are not here (they are computed by `records.rs`); tokens are
//! (a few thousand small entries), because revocation must be remembered.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde::Serialize;

use super::credentials::{self, Credentials, THIRD_PARTY_CLIENTS};
use super::records::{CUSTOMER_RECORDS, hex_token, mix};
use super::status::{IndexStatus, LabStatus, SnapshotStatus};

/// The index the scenario is about.
pub const EXPOSED_INDEX: &str = "customers";

/// How long a snapshot stays IN_PROGRESS before it is SUCCESS, unless the lab is started
/// with other [`crate::lab::LabOptions`].
pub const SNAPSHOT_DURATION: Duration = Duration::from_millis(600);

/// The lab cluster's `path.repo`: fs repositories must be under it.
pub const PATH_REPO: &str = "/var/lib/elasticsearch/snapshots";

/// What kind of documents an index serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Docs {
    Customers,
    /// A metrics index; the number selects its document stream.
    Metrics(u64),
}

#[derive(Debug, Clone)]
pub struct Index {
    pub name: String,
    pub uuid: String,
    pub docs: Docs,
    pub count: u64,
    pub closed: bool,
    pub read_blocked: bool,
    pub write_blocked: bool,
    pub created: Timestamp,
}

impl Index {
    /// Readable by an anonymous outsider: the leak itself.
    pub fn exposed(&self) -> bool {
        !self.closed && !self.read_blocked
    }
}

#[derive(Debug, Clone)]
pub struct Repository {
    pub kind: String,
    pub location: String,
}

#[derive(Debug, Clone)]
pub struct Snapshot {
    pub repository: String,
    pub name: String,
    pub uuid: String,
    pub indices: Vec<String>,
    pub started_at: Timestamp,
    pub started: Instant,
    /// How long this snapshot takes (the lab's setting when it started).
    pub duration: Duration,
    /// The user `metadata` object given at creation (7.3+).
    pub metadata: Option<serde_json::Value>,
}

impl Snapshot {
    pub fn done(&self) -> bool {
        self.started.elapsed() >= self.duration
    }

    pub fn state(&self) -> &'static str {
        if self.done() {
            "SUCCESS"
        } else {
            "IN_PROGRESS"
        }
    }
}

#[derive(Debug, Clone)]
pub struct ApiKey {
    pub id: String,
    pub name: String,
    pub invalidated: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenType {
    AccessToken,
    RefreshToken,
}

impl TokenType {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenType::AccessToken => "access_token",
            TokenType::RefreshToken => "refresh_token",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Token {
    pub value: String,
    pub client_id: String,
    pub token_type: TokenType,
    /// Tokens of one grant die together when its refresh token is revoked (RFC 7009 §2.1).
    pub grant: u64,
    pub scope: String,
    pub subject: String,
    pub issued_at: i64,
    pub expires_at: i64,
    pub revoked: bool,
}

#[derive(Debug, Clone, Serialize)]
pub struct ForumPost {
    pub id: u64,
    pub title: String,
    pub body: String,
    pub url: String,
    pub posted_at: Timestamp,
}

#[derive(Debug, Clone, Serialize)]
pub struct ChatMessage {
    pub text: String,
    pub posted_at: Timestamp,
}

/// Everything that can change while the lab runs.
#[derive(Debug)]
pub struct World {
    pub seed: u64,
    pub snapshot_duration: Duration,
    /// The reopen inject, still to happen (taken when the exposed index is first closed).
    pub reopen_after_close: Option<Duration>,
    pub cluster_uuid: String,
    pub indices: Vec<Index>,
    pub repositories: BTreeMap<String, Repository>,
    pub snapshots: Vec<Snapshot>,
    pub persistent_settings: serde_json::Map<String, serde_json::Value>,
    pub transient_settings: serde_json::Map<String, serde_json::Value>,
    pub api_keys: Vec<ApiKey>,
    pub tokens: Vec<Token>,
    /// Token value → position in `tokens`.
    pub token_index: HashMap<String, usize>,
    pub next_grant: u64,
    /// Grants below this number were seeded at start (the leaked ones).
    pub seeded_grants: u64,
    pub posts: Vec<ForumPost>,
    pub chat: Vec<ChatMessage>,
}

/// Elasticsearch-style 22-character id.
pub fn es_uuid(seed: u64, n: u64) -> String {
    use base64::Engine as _;
    let mut bytes = mix(seed, 0x55, n).to_be_bytes().to_vec();
    bytes.extend_from_slice(&mix(seed, 0x56, n).to_be_bytes());
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl World {
    pub fn new(seed: u64, credentials: &Credentials) -> Self {
        let created = Timestamp::from_second(1_572_566_400).unwrap_or_default();
        let index = |name: &str, n, docs, count| Index {
            name: name.to_owned(),
            uuid: es_uuid(seed, n),
            docs,
            count,
            closed: false,
            read_blocked: false,
            write_blocked: false,
            created,
        };
        let indices = vec![
            index(EXPOSED_INDEX, 1, Docs::Customers, CUSTOMER_RECORDS),
            index("device-activations", 2, Docs::Metrics(2), 1_392),
            index("connection-failures", 3, Docs::Metrics(3), 1_392),
        ];
        let api_keys = vec![
            ApiKey {
                id: credentials.es_api_key_id.clone(),
                name: credentials::RESPONDER_API_KEY_NAME.to_owned(),
                invalidated: false,
            },
            ApiKey {
                id: credentials::api_key_id(seed, 1),
                name: "metrics-ingest".to_owned(),
                invalidated: false,
            },
            ApiKey {
                id: credentials::api_key_id(seed, 2),
                name: "kibana-dashboards".to_owned(),
                invalidated: false,
            },
        ];
        let mut world = Self {
            seed,
            snapshot_duration: SNAPSHOT_DURATION,
            reopen_after_close: None,
            cluster_uuid: es_uuid(seed, 0),
            indices,
            repositories: BTreeMap::new(),
            snapshots: Vec::new(),
            persistent_settings: serde_json::Map::new(),
            transient_settings: serde_json::Map::new(),
            api_keys,
            tokens: Vec::new(),
            token_index: HashMap::new(),
            next_grant: 0,
            seeded_grants: 0,
            posts: Vec::new(),
            chat: Vec::new(),
        };
        world.seed_tokens();
        world.seeded_grants = world.next_grant;
        world
    }

    fn seed_tokens(&mut self) {
        let now = Timestamp::now().as_second();
        for (n, (client, grants)) in (0u64..).zip(THIRD_PARTY_CLIENTS) {
            for g in 0..u64::from(*grants) {
                let subject = format!("user-{:07}", mix(self.seed, 0x5B + n, g) % 2_400_000);
                let stream = (n + 1) << 8;
                let refresh = format!("rt_{}", hex_token(self.seed, stream | 1, g, 40));
                let access = format!("at_{}", hex_token(self.seed, stream | 2, g, 40));
                let grant = self.next_grant;
                self.add_token(
                    refresh,
                    client,
                    TokenType::RefreshToken,
                    grant,
                    &subject,
                    now,
                    90 * 86_400,
                );
                self.add_token(
                    access,
                    client,
                    TokenType::AccessToken,
                    grant,
                    &subject,
                    now,
                    86_400,
                );
                self.next_grant += 1;
            }
        }
    }

    /// Record a token of `grant`.
    #[allow(
        clippy::too_many_arguments,
        reason = "one plain record, built in two places"
    )]
    pub fn add_token(
        &mut self,
        value: String,
        client_id: &str,
        token_type: TokenType,
        grant: u64,
        subject: &str,
        now: i64,
        lifetime_secs: i64,
    ) {
        self.token_index.insert(value.clone(), self.tokens.len());
        self.tokens.push(Token {
            value,
            client_id: client_id.to_owned(),
            token_type,
            grant,
            scope: "profile devices:control".to_owned(),
            subject: subject.to_owned(),
            issued_at: now,
            expires_at: now + lifetime_secs,
            revoked: false,
        });
    }

    pub fn token(&self, value: &str) -> Option<&Token> {
        self.token_index.get(value).map(|&i| &self.tokens[i])
    }

    pub fn index(&self, name: &str) -> Option<&Index> {
        self.indices.iter().find(|i| i.name == name)
    }

    pub fn index_mut(&mut self, name: &str) -> Option<&mut Index> {
        self.indices.iter_mut().find(|i| i.name == name)
    }

    /// Whether `grant` is an offline session (Keycloak's `offline_access`: it outlives the
    /// user's login and is listed by `offline-sessions`, not `user-sessions`). Account linking
    /// asks for offline access, so four in five of the seeded grants are offline; the fifth is
    /// a user still logged in. Grants issued while the lab runs (client credentials) are online.
    pub fn offline(&self, grant: u64) -> bool {
        grant < self.seeded_grants && !grant.is_multiple_of(5)
    }

    /// Revoke every token of `grant`: what ending its session does.
    pub fn end_grant(&mut self, grant: u64) {
        for t in self.tokens.iter_mut().filter(|t| t.grant == grant) {
            t.revoked = true;
        }
    }

    pub fn active_tokens(&self, client_id: &str) -> impl Iterator<Item = &Token> {
        self.tokens
            .iter()
            .filter(move |t| t.client_id == client_id && !t.revoked)
    }

    pub fn status(&self) -> LabStatus {
        let mut active_tokens = BTreeMap::new();
        for (client, _) in THIRD_PARTY_CLIENTS {
            active_tokens.insert((*client).to_owned(), self.active_tokens(client).count());
        }
        LabStatus {
            indices: self
                .indices
                .iter()
                .map(|i| IndexStatus {
                    name: i.name.clone(),
                    exposed: i.exposed(),
                    closed: i.closed,
                    read_blocked: i.read_blocked,
                    docs: i.count,
                })
                .collect(),
            snapshots: self
                .snapshots
                .iter()
                .map(|s| SnapshotStatus {
                    repository: s.repository.clone(),
                    name: s.name.clone(),
                    state: s.state().to_owned(),
                    indices: s.indices.clone(),
                })
                .collect(),
            active_tokens,
            invalidated_api_keys: self
                .api_keys
                .iter()
                .filter(|k| k.invalidated)
                .map(|k| k.name.clone())
                .collect(),
            forum_posts: self.posts.iter().map(|p| p.title.clone()).collect(),
            chat_messages: self.chat.len(),
        }
    }
}
