//! Shared by the `engine_*` integration tests: a local axum server with the behaviours the
//! engine must cope with, raw TCP/TLS servers for the faults axum cannot produce, and a
//! harness that runs steps and checks the journal.
#![allow(dead_code, clippy::missing_panics_doc)]

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path as UrlPath, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};
use stanch::engine::{Decision, Engine, EngineOptions, Outcome, Progress};
use stanch::incident::Incident;
use stanch::journal::{Event, Journal, Kind, NewEvent};
use stanch::runbook;
use stanch::secret::Secrets;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// What the server saw, for assertions on what was really sent.
#[derive(Default)]
pub struct Seen {
    pub requests: Mutex<Vec<Value>>,
    pub counters: Mutex<HashMap<String, u32>>,
    /// Signalled whenever a request is recorded, so a test waits on the server, not a clock.
    pub arrived: tokio::sync::Notify,
}

pub struct Server {
    pub url: String,
    pub seen: Arc<Seen>,
}

impl Server {
    pub fn requests(&self) -> Vec<Value> {
        self.seen.requests.lock().unwrap().clone()
    }
}

#[allow(clippy::needless_pass_by_value)] // axum hands the query over by value
fn record(
    seen: &Seen,
    path: &str,
    headers: &HeaderMap,
    query: Option<String>,
    body: &str,
) -> Value {
    let headers: serde_json::Map<String, Value> = headers
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_str().unwrap_or("").into()))
        .collect();
    let entry = json!({ "path": path, "headers": headers, "query": query, "body": body });
    seen.requests.lock().unwrap().push(entry.clone());
    seen.arrived.notify_waiters();
    entry
}

/// The behaviours the engine tests use, on 127.0.0.1:0.
#[expect(
    clippy::too_many_lines,
    reason = "the test server's routes, one per behaviour, in one table"
)]
pub async fn server() -> Server {
    let seen = Arc::new(Seen::default());
    let app = Router::new()
        .route(
            "/json",
            get(|| async { axum::Json(json!({ "count": 3, "items": ["a", "b", "c"], "name": "demo" })) }),
        )
        .route(
            "/html",
            get(|| async {
                (
                    [("content-type", "text/html")],
                    "<html><body>502 Bad Gateway (proxy)</body></html>",
                )
            }),
        )
        .route(
            "/status/{code}",
            get(|UrlPath(code): UrlPath<u16>| async move {
                (
                    StatusCode::from_u16(code).unwrap(),
                    axum::Json(json!({ "error": { "type": "test_exception", "reason": "boom" } })),
                )
            }),
        )
        .route(
            "/echo",
            get(
                |State(seen): State<Arc<Seen>>, headers: HeaderMap, RawQuery(q): RawQuery| async move {
                    axum::Json(record(&seen, "/echo", &headers, q, ""))
                },
            )
            .post(
                |State(seen): State<Arc<Seen>>, headers: HeaderMap, RawQuery(q): RawQuery, body: String| async move {
                    axum::Json(record(&seen, "/echo", &headers, q, &body))
                },
            ),
        )
        .route(
            "/echo-bytes",
            get(|State(seen): State<Arc<Seen>>, headers: HeaderMap, RawQuery(q): RawQuery| async move {
                // A binary body (not UTF-8) echoing the request: every header, the raw query and
                // the Authorization credential base64-encoded, between invalid UTF-8 bytes.
                record(&seen, "/echo-bytes", &headers, q.clone(), "");
                let mut body = vec![0xff, 0xfe, 0x00];
                for (name, value) in &headers {
                    body.extend_from_slice(name.as_str().as_bytes());
                    body.extend_from_slice(b": ");
                    body.extend_from_slice(value.as_bytes());
                    body.push(0x80);
                }
                body.extend_from_slice(q.unwrap_or_default().as_bytes());
                let credential = headers
                    .get("authorization")
                    .and_then(|v| v.as_bytes().splitn(2, |b| *b == b' ').nth(1));
                if let Some(credential) = credential {
                    body.push(0xc3);
                    body.extend_from_slice(STANDARD.encode(credential).as_bytes());
                }
                body.push(0xff);
                ([("content-type", "application/octet-stream")], body)
            }),
        )
        .route(
            "/flaky/{n}",
            get(|State(seen): State<Arc<Seen>>, UrlPath(n): UrlPath<u32>| async move {
                let mut counters = seen.counters.lock().unwrap();
                let count = counters.entry(format!("flaky{n}")).or_default();
                *count += 1;
                if *count <= n {
                    (StatusCode::SERVICE_UNAVAILABLE, axum::Json(json!({ "ready": false })))
                } else {
                    (StatusCode::OK, axum::Json(json!({ "ready": true, "calls": *count })))
                }
            }),
        )
        .route(
            "/count/{name}",
            get(|State(seen): State<Arc<Seen>>, UrlPath(name): UrlPath<String>| async move {
                let mut counters = seen.counters.lock().unwrap();
                let count = counters.entry(name).or_default();
                *count += 1;
                axum::Json(json!({ "calls": *count }))
            })
            .post(|State(seen): State<Arc<Seen>>, UrlPath(name): UrlPath<String>| async move {
                let mut counters = seen.counters.lock().unwrap();
                let count = counters.entry(name).or_default();
                *count += 1;
                axum::Json(json!({ "calls": *count }))
            }),
        )
        .route(
            "/slow",
            get(|| async {
                tokio::time::sleep(Duration::from_secs(3)).await;
                "late"
            })
            .post(|State(seen): State<Arc<Seen>>| async move {
                *seen.counters.lock().unwrap().entry("slow-post".into()).or_default() += 1;
                seen.arrived.notify_waiters();
                tokio::time::sleep(Duration::from_secs(3)).await;
                "late"
            }),
        )
        .route(
            "/big/{bytes}",
            get(|UrlPath(bytes): UrlPath<usize>| async move {
                // Streamed in 64 KiB chunks without Content-Length: the cap must cut the stream.
                let chunks = (0..bytes.div_ceil(65_536)).map(move |i| {
                    let n = (bytes - i * 65_536).min(65_536);
                    Ok::<_, std::io::Error>(vec![b'x'; n])
                });
                let stream = futures_util::stream::iter(chunks);
                Response::new(Body::from_stream(stream))
            }),
        )
        .route(
            "/sized/{bytes}",
            get(|UrlPath(bytes): UrlPath<usize>| async move { vec![b'y'; bytes].into_response() }),
        )
        .route(
            "/revoke",
            post(|State(seen): State<Arc<Seen>>, headers: HeaderMap, body: String| async move {
                record(&seen, "/revoke", &headers, None, &body);
                if body.contains("token=bad") {
                    (StatusCode::INTERNAL_SERVER_ERROR, "revocation backend down").into_response()
                } else if body.contains("token=slow") {
                    tokio::time::sleep(Duration::from_secs(5)).await;
                    StatusCode::OK.into_response()
                } else {
                    StatusCode::OK.into_response()
                }
            }),
        )
        .route(
            "/journal-check",
            get(journal_check).post(journal_check).delete(journal_check),
        )
        .route(
            "/tokens/{n}",
            get(|UrlPath(n): UrlPath<usize>| async move {
                let tokens: Vec<Value> = (0..n)
                    .map(|i| json!({ "token": format!("tok-{i:05}"), "token_type": "refresh_token" }))
                    .collect();
                axum::Json(json!({ "count": n, "tokens": tokens }))
            }),
        )
        .with_state(Arc::clone(&seen));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    Server {
        url: format!("http://{addr}"),
        seen,
    }
}

/// A server that promises 1000 bytes, sends 100, then resets the connection.
pub async fn reset_mid_body_server() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((mut sock, _)) = listener.accept().await else {
                return;
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = sock.read(&mut buf).await;
                let _ = sock
                    .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n")
                    .await;
                let _ = sock.write_all(&[b' '; 100]).await;
                let _ = sock.flush().await;
                // Linger 0: close with RST, as a crashing proxy would.
                let _ = sock.set_zero_linger();
                drop(sock);
            });
        }
    });
    format!("http://{addr}")
}

/// A port with nothing listening.
pub async fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/tls")
}

/// An HTTPS server whose certificate is signed by the test CA in `tests/fixtures/tls/ca.pem`
/// (unknown to the system). It answers every request with `{"tls":true}`.
pub async fn tls_server() -> String {
    tls_server_with(false).await
}

/// The same, demanding a client certificate issued by `tests/fixtures/tls/client-ca.pem` (mTLS).
pub async fn mtls_server() -> String {
    tls_server_with(true).await
}

async fn tls_server_with(client_auth: bool) -> String {
    use tokio_rustls::rustls::pki_types::pem::PemObject as _;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let _ = tokio_rustls::rustls::crypto::ring::default_provider().install_default();
    let certs = CertificateDer::pem_file_iter(fixtures().join("server.pem"))
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(fixtures().join("server.key")).unwrap();
    let builder = tokio_rustls::rustls::ServerConfig::builder();
    let builder = if client_auth {
        let mut roots = tokio_rustls::rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(fixtures().join("client-ca.pem")).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
        let verifier = tokio_rustls::rustls::server::WebPkiClientVerifier::builder(Arc::new(roots))
            .build()
            .unwrap();
        builder.with_client_cert_verifier(verifier)
    } else {
        builder.with_no_client_auth()
    };
    let config = builder.with_single_cert(certs, key).unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((sock, _)) = listener.accept().await else {
                return;
            };
            let acceptor = acceptor.clone();
            tokio::spawn(async move {
                let Ok(mut tls) = acceptor.accept(sock).await else {
                    return;
                };
                let mut buf = [0u8; 4096];
                let _ = tls.read(&mut buf).await;
                let body = br#"{"tls":true}"#;
                let head = format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                    body.len()
                );
                let _ = tls.write_all(head.as_bytes()).await;
                let _ = tls.write_all(body).await;
                let _ = tls.shutdown().await;
            });
        }
    });
    format!("https://localhost:{}", addr.port())
}

pub fn client_cert_path() -> String {
    fixtures().join("client.pem").display().to_string()
}

pub fn ca_path() -> String {
    fixtures().join("ca.pem").display().to_string()
}

/// A runbook written to a temp dir (with `post.md.j2` for draft steps) and loaded the way the
/// CLI loads it.
pub fn load(dir: &Path, toml: &str) -> Arc<runbook::Loaded> {
    let path = dir.join("runbook.toml");
    std::fs::write(&path, toml).unwrap();
    // The draft template test runbooks name.
    std::fs::write(dir.join("post.md.j2"), "# {{ incident.id }}\n").unwrap();
    Arc::new(runbook::load(&path).unwrap())
}

/// An incident journal, an engine, and the replayed incident, kept in step.
pub struct Harness {
    pub dir: tempfile::TempDir,
    pub engine: Engine,
    pub journal: Journal,
    pub incident: Incident,
    pub progress: Vec<Progress>,
}

impl Harness {
    pub fn new(toml: &str, secrets: Secrets) -> Self {
        Self::with_options(toml, secrets, EngineOptions::default())
    }

    pub fn with_options(toml: &str, secrets: Secrets, opts: EngineOptions) -> Self {
        Self::build(|_| toml.to_owned(), secrets, opts)
    }

    /// A runbook that needs to know the incident directory (e.g. to name the journal).
    pub fn knowing_dir(toml_for: impl FnOnce(&Path) -> String, secrets: Secrets) -> Self {
        Self::build(toml_for, secrets, EngineOptions::default())
    }

    fn build(
        toml_for: impl FnOnce(&Path) -> String,
        secrets: Secrets,
        opts: EngineOptions,
    ) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let toml = toml_for(&dir.path().join("incident"));
        let rb = load(dir.path(), &toml);
        let incident_dir = dir.path().join("incident");
        let journal = Journal::create(&incident_dir, "tester").unwrap();
        let opened = journal
            .append_blocking(NewEvent::new(
                Kind::IncidentOpened,
                json!({ "incident_id": "INC-TEST", "runbook_id": rb.runbook.id(),
                        "inputs": {}, "responder": "tester", "drill": false }),
            ))
            .unwrap();
        let engine = Engine::new(rb, journal.clone(), secrets, opts).unwrap();
        Self {
            dir,
            engine,
            journal,
            incident: Incident::replay([opened]),
            progress: Vec::new(),
        }
    }

    pub fn incident_dir(&self) -> std::path::PathBuf {
        self.dir.path().join("incident")
    }

    pub async fn run(&mut self, step: &str) -> Outcome {
        self.run_with(step, Decision::default(), CancellationToken::new())
            .await
    }

    /// Execute a step and fold its journalled events into the incident, in seq order.
    pub async fn run_with(
        &mut self,
        step: &str,
        decision: Decision,
        cancel: CancellationToken,
    ) -> Outcome {
        let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
        let outcome = self
            .engine
            .execute(step, &self.incident, decision, tx, cancel)
            .await;
        let mut events = Vec::new();
        while let Ok(p) = rx.try_recv() {
            if let Progress::Journalled(e) = &p {
                events.push(e.clone());
            }
            self.progress.push(p);
        }
        events.sort_by_key(|e| e.seq);
        for e in events {
            self.incident.apply(e);
        }
        outcome
    }

    /// The journal as on disk, after checking its hash chain and that every event reported on
    /// the progress channel is in it.
    pub fn journal_verified(&self) -> Vec<Event> {
        verify_chain(&self.incident_dir())
    }

    pub fn events(&self, step: &str) -> Vec<Event> {
        self.journal_verified()
            .into_iter()
            .filter(|e| e.step.as_deref() == Some(step))
            .collect()
    }

    pub fn kinds(&self, step: &str) -> Vec<&'static str> {
        self.events(step).iter().map(|e| e.kind.as_str()).collect()
    }
}

/// Read a journal and check seq, prev and hash of every event.
pub fn verify_chain(dir: &Path) -> Vec<Event> {
    let events = stanch::journal::read(dir).unwrap();
    let mut prev = stanch::journal::event::GENESIS.to_owned();
    for (i, e) in events.iter().enumerate() {
        assert_eq!(e.seq, i as u64 + 1, "seq gap at {i}");
        assert_eq!(e.prev, prev, "broken chain at seq {}", e.seq);
        assert_eq!(e.compute_hash(), e.hash, "bad hash at seq {}", e.seq);
        prev.clone_from(&e.hash);
    }
    events
}

pub fn failed(outcome: &Outcome) -> &str {
    match outcome {
        Outcome::Failed { error } => error,
        other => panic!("expected a failure, got {other:?}"),
    }
}

pub fn succeeded(outcome: &Outcome) -> &str {
    match outcome {
        Outcome::Succeeded { summary } => summary,
        other => panic!("expected success, got {other:?}"),
    }
}

/// Write-ahead check: when a request arrives, its step's `step.started` and an `http.request`
/// must be in the journal file and synced: `journal.head`, which the writer updates only after
/// each sync, already covers them.
async fn journal_check(headers: HeaderMap) -> axum::Json<Value> {
    let path = std::path::PathBuf::from(headers["x-journal"].to_str().unwrap());
    let step = headers["x-step"].to_str().unwrap().to_owned();
    let head: Value = std::fs::read_to_string(path.with_file_name("journal.head"))
        .ok()
        .and_then(|t| serde_json::from_str(t.trim()).ok())
        .unwrap_or_default();
    let synced = head["seq"].as_u64().unwrap_or(0);
    let text = std::fs::read_to_string(path).unwrap_or_default();
    let durable = |kind: &str| {
        text.lines().any(|l| {
            let e: Value = serde_json::from_str(l).unwrap_or_default();
            e["kind"] == kind && e["step"] == step.as_str() && e["seq"].as_u64() <= Some(synced)
        })
    };
    axum::Json(json!({ "started_on_disk": durable("step.started") && durable("http.request") }))
}
