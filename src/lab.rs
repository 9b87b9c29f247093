//! The drill lab: the reference incident's systems, in-process, on 127.0.0.1.
//!
//! Three HTTP listeners share one [`state::World`]:
//!
//! ```text
//!   es    ── es.rs     Elasticsearch as its profile's version and security mode behave;
//!                      `customers` readable anonymously
//!   auth  ── oauth.rs  OAuth 2.0: discovery, token, RFC 7009 revoke, RFC 7662 introspect,
//!                      the operator's token list
//!   comms ── comms.rs  a user forum and a chat webhook that keep what is posted
//! ```
//!
//! [`LabOptions`] fix what the lab models for its whole life (`profile.rs`: version and
//! security; `path.repo`; the reopen inject), as node settings are fixed for a running
//! cluster: nothing a request does changes them.
//!
//! [`Lab::start`] binds the listeners synchronously (so a busy port is an error the caller
//! sees at once), then serves them from a dedicated thread with its own small tokio runtime:
//! the lab therefore works the same under a sync caller (the TUI owns its own runtime) and an
//! async one (tests). [`Lab::shutdown`] (or dropping the handle) stops it gracefully.
//!
//! Everything the lab holds is synthetic and deterministic from the seed: customer records are
//! computed on demand (`records.rs`), never stored, so the lab stays small with 2.4 M of them.
//! The lab must not know about runbooks, the journal or the terminal; `scenario.rs` and
//! `score.rs` read it from the outside, `clock.rs` runs a facilitator's scenario time and
//! `scoreboard.rs` puts several teams' scores side by side.

pub mod clock;
pub mod comms;
pub mod credentials;
pub mod es;
pub mod es_errors;
pub mod keycloak_admin;
pub mod oauth;
pub mod profile;
pub mod records;
pub mod scenario;
pub mod score;
pub mod scoreboard;
pub mod state;
pub mod status;

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use tokio_util::sync::CancellationToken;

pub use credentials::Credentials;
pub use profile::{EsVersion, Profile, Security};
pub use status::{IndexStatus, LabStatus, SnapshotStatus};

/// How long the lab waits for open connections to finish when it shuts down.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum LabError {
    #[error("the lab cannot listen on 127.0.0.1:{port} ({service}): {source}")]
    Bind {
        service: &'static str,
        port: u16,
        source: std::io::Error,
    },
    #[error("the lab cannot start its runtime: {0}")]
    Runtime(std::io::Error),
    #[error("port {0} is too high: the lab needs it and the next two ports")]
    PortRange(u16),
}

/// Settings a drill scenario, `stanch lab` or a test may change; [`Lab::start`] uses the
/// defaults (the reference case: 7.4.2, security off, `path.repo` set).
#[derive(Debug, Clone)]
pub struct LabOptions {
    /// How long a snapshot stays IN_PROGRESS.
    pub snapshot_duration: Duration,
    /// Which Elasticsearch the cluster is (version and security mode).
    pub profile: Profile,
    /// The nodes' `path.repo`; `None` is the default of a real install: empty, so every `fs`
    /// repository is refused.
    pub path_repo: Option<String>,
    /// The "someone reopens it" inject: this long after an outsider's read first finds the
    /// exposed index closed (the team verified containment), an anonymous outsider reopens it
    /// (only a security-off cluster lets them).
    pub reopen_after_close: Option<Duration>,
}

impl Default for LabOptions {
    fn default() -> Self {
        Self {
            snapshot_duration: state::SNAPSHOT_DURATION,
            profile: Profile::default(),
            path_repo: Some(state::PATH_REPO.to_owned()),
            reopen_after_close: None,
        }
    }
}

/// The base URL of each lab service (no trailing slash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LabUrls {
    pub es: String,
    pub auth: String,
    pub comms: String,
}

/// The shared state behind every handler: the mutable world and the fixed credentials.
#[derive(Clone)]
pub struct Shared {
    pub world: Arc<Mutex<state::World>>,
    pub credentials: Arc<Credentials>,
    /// Base URL of the comms service, for the `url` of forum posts.
    pub comms_url: Arc<str>,
    /// Base URL of the authorization server: its issuer, in discovery metadata.
    pub auth_url: Arc<str>,
    /// Fixed for the lab's life, as node settings are for a running cluster.
    pub profile: Profile,
    pub path_repo: Option<Arc<str>>,
}

impl Shared {
    /// Lock the world. A handler that panicked mid-update leaves the lab usable: the world is
    /// plain data, so the poisoned value is taken as it is.
    pub fn world(&self) -> std::sync::MutexGuard<'_, state::World> {
        self.world
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

/// A running lab. Dropping it shuts it down.
pub struct Lab {
    urls: LabUrls,
    shared: Shared,
    cancel: CancellationToken,
    thread: Option<JoinHandle<()>>,
}

impl Lab {
    /// Start the lab. `port` 0 picks free ports; `port` N uses N (es), N+1 (auth), N+2 (comms).
    pub fn start(seed: u64, port: u16) -> Result<Lab, LabError> {
        Self::start_with(seed, port, &LabOptions::default())
    }

    /// [`Lab::start`] with non-default [`LabOptions`].
    pub fn start_with(seed: u64, port: u16, options: &LabOptions) -> Result<Lab, LabError> {
        let ports = if port == 0 {
            [0, 0, 0]
        } else {
            let last = port.checked_add(2).ok_or(LabError::PortRange(port))?;
            [port, port + 1, last]
        };
        let es = bind("es", ports[0])?;
        let auth = bind("auth", ports[1])?;
        let comms = bind("comms", ports[2])?;
        let url = |l: &TcpListener, service| -> Result<String, LabError> {
            let addr = l.local_addr().map_err(|source| LabError::Bind {
                service,
                port: 0,
                source,
            })?;
            Ok(format!("http://{addr}"))
        };
        let urls = LabUrls {
            es: url(&es, "es")?,
            auth: url(&auth, "auth")?,
            comms: url(&comms, "comms")?,
        };
        let credentials = Arc::new(Credentials::from_seed(seed));
        let mut world = state::World::new(seed, &credentials);
        world.snapshot_duration = options.snapshot_duration;
        world.reopen_after_close = options.reopen_after_close;
        let shared = Shared {
            world: Arc::new(Mutex::new(world)),
            credentials,
            comms_url: Arc::from(urls.comms.as_str()),
            auth_url: Arc::from(urls.auth.as_str()),
            profile: options.profile,
            path_repo: options.path_repo.as_deref().map(Arc::from),
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(LabError::Runtime)?;
        let cancel = CancellationToken::new();
        let routers = [
            es::router(shared.clone()),
            oauth::router(shared.clone()),
            comms::router(shared.clone()),
        ];
        let thread_cancel = cancel.clone();
        let thread = std::thread::Builder::new()
            .name("stanch-lab".into())
            .spawn(move || runtime.block_on(serve([es, auth, comms], routers, thread_cancel)))
            .map_err(LabError::Runtime)?;
        Ok(Lab {
            urls,
            shared,
            cancel,
            thread: Some(thread),
        })
    }

    pub fn urls(&self) -> &LabUrls {
        &self.urls
    }

    pub fn credentials(&self) -> &Credentials {
        &self.shared.credentials
    }

    pub fn profile(&self) -> Profile {
        self.shared.profile
    }

    /// The `lab.*` values scenario templates render against. Holds the lab's credentials:
    /// feed it to `scenario::Loaded::resolve`, never to the journal or the screen.
    pub fn template_context(&self) -> serde_json::Value {
        let c = &self.shared.credentials;
        serde_json::json!({
            "es_url": self.urls.es,
            "auth_url": self.urls.auth,
            "issuer": format!("{}{}", self.urls.auth, oauth::ISSUER_PATH),
            "comms_url": self.urls.comms,
            "forum_url": self.urls.comms,
            "status_webhook_url": format!("{}/hooks/status", self.urls.comms),
            "es_api_key": c.es_api_key,
            "es_api_key_id": c.es_api_key_id,
            "oauth_client_id": c.oauth_client_id,
            "oauth_client_secret": c.oauth_client_secret,
            "alexa_client_secret": c.client_secret("alexa-skill"),
            "google_client_secret": c.client_secret("google-assistant"),
            "ifttt_client_secret": c.client_secret("ifttt"),
            "forum_token": c.forum_token,
            "es_version": self.shared.profile.version.to_string(),
            "security": self.shared.profile.security.to_string(),
        })
    }

    /// Up to `n` of the tokens a client held when the lab started (revoked or not), spread
    /// over the whole list: what the score introspects to prove revocation.
    pub fn sample_seeded_tokens(&self, client_id: &str, n: usize) -> Vec<String> {
        let world = self.shared.world();
        let seeded: Vec<&state::Token> = world
            .tokens
            .iter()
            .filter(|t| t.client_id == client_id && t.grant < world.seeded_grants)
            .collect();
        let step = (seeded.len() / n.max(1)).max(1);
        seeded
            .iter()
            .step_by(step)
            .take(n)
            .map(|t| t.value.clone())
            .collect()
    }

    /// What the world looks like now (for the TUI panel, the score and tests).
    pub fn status(&self) -> LabStatus {
        self.shared.world().status()
    }

    /// A cheap, thread-safe way to read the status later without holding the handle (the TUI
    /// panel closure).
    pub fn status_reader(&self) -> impl Fn() -> LabStatus + Send + Sync + 'static {
        let world = Arc::clone(&self.shared.world);
        move || {
            world
                .lock()
                .unwrap_or_else(std::sync::PoisonError::into_inner)
                .status()
        }
    }

    /// Stop serving and wait (briefly) for open connections to finish.
    pub fn shutdown(mut self) {
        self.stop();
    }

    fn stop(&mut self) {
        self.cancel.cancel();
        if let Some(thread) = self.thread.take() {
            // A panicked lab thread has nothing left to clean up.
            let _ = thread.join();
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop();
    }
}

fn bind(service: &'static str, port: u16) -> Result<TcpListener, LabError> {
    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
    let listener = TcpListener::bind(addr).map_err(|source| LabError::Bind {
        service,
        port,
        source,
    })?;
    listener
        .set_nonblocking(true)
        .map_err(|source| LabError::Bind {
            service,
            port,
            source,
        })?;
    Ok(listener)
}

async fn serve(listeners: [TcpListener; 3], routers: [axum::Router; 3], cancel: CancellationToken) {
    let mut tasks = tokio::task::JoinSet::new();
    for (listener, router) in listeners.into_iter().zip(routers) {
        let Ok(listener) = tokio::net::TcpListener::from_std(listener) else {
            tracing::error!("lab: cannot hand a listener to tokio");
            continue;
        };
        let cancel = cancel.clone();
        tasks.spawn(async move {
            let served = axum::serve(listener, router)
                .with_graceful_shutdown(cancel.cancelled_owned())
                .await;
            if let Err(error) = served {
                tracing::error!(%error, "lab listener stopped");
            }
        });
    }
    cancel.cancelled().await;
    // Idle keep-alive connections close at once; a client still mid-request gets the grace.
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, async {
        while tasks.join_next().await.is_some() {}
    })
    .await;
}
