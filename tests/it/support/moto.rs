//! A real AWS emulator for the `aws_*` tests: moto's server mode (`moto[server]` from PyPI,
//! installed by `.ci/run`), started on 127.0.0.1 on a free port and killed on drop.
//!
//! [`Moto::start`] waits for moto's own "Running on" line (a signal, with a deadline), then
//! bootstraps an administrator: an IAM user with an allow-all inline policy and an access key,
//! created while moto still accepts unsigned requests. It then switches moto's IAM
//! authentication on (`POST /moto-api/reset-auth` with `0`, the server-mode form of
//! `INITIAL_NO_AUTH_ACTION_COUNT=0`): from then on every AWS call must carry a SigV4 signature
//! that moto recomputes with the key's secret, and an unknown key or a wrong signature is
//! refused. [`Moto::unsigned`] switches verification off again so a test can read the
//! emulator's state with requests that do not go through stanch's signer at all.
#![allow(dead_code, clippy::missing_panics_doc)]

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

/// How long moto may take to start (first start imports every AWS service model).
const START_DEADLINE: Duration = Duration::from_mins(1);

pub struct Moto {
    pub url: String,
    pub access_key: String,
    pub secret_key: String,
    _child: Killed,
    http: reqwest::Client,
    /// moto's stderr, for the failure message of a test.
    log: mpsc::Receiver<String>,
}

/// The emulator process, killed when dropped: owned from the moment it is spawned, so a test
/// that panics while moto starts does not leave it running.
struct Killed(Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `moto_server` on PATH, or `None` (outside CI) so the test can say it skipped; in CI
/// (`CI=true`) a missing emulator fails the test, because a skip there would hide a gap.
pub fn available() -> bool {
    let found = Command::new("moto_server")
        .arg("--help")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !found {
        assert!(
            std::env::var("CI").is_err(),
            "moto_server is not installed: `python3 -m pip install 'moto[server]'` (see .ci/run)"
        );
        eprintln!("SKIPPED: moto_server not found (pip install 'moto[server]')");
    }
    found
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Pull one XML element's text out of a moto answer (test-side parsing, independent of the
/// XML module under test).
pub fn xml_text(body: &str, element: &str) -> Option<String> {
    let open = format!("<{element}>");
    let start = body.find(&open)? + open.len();
    let end = body[start..].find(&format!("</{element}>"))? + start;
    Some(body[start..end].to_owned())
}

/// An Authorization header moto can route by (service in the scope); its signature is junk, so
/// it passes only while verification is off.
pub fn routing_header(service: &str) -> String {
    format!(
        "AWS4-HMAC-SHA256 Credential=AKIAROUTINGONLY/20260101/us-east-1/{service}/aws4_request, \
         SignedHeaders=host, Signature=0"
    )
}

impl Moto {
    /// Start moto with signature verification on and an administrator key (see module doc).
    pub async fn start() -> Self {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let port = free_port();
        let mut child = Killed(
            Command::new("moto_server")
                .args(["-H", "127.0.0.1", "-p", &port.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .expect("spawn moto_server"),
        );
        let stderr = child.0.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let deadline = std::time::Instant::now() + START_DEADLINE;
        let mut seen = Vec::new();
        loop {
            let left = deadline.saturating_duration_since(std::time::Instant::now());
            match rx.recv_timeout(left) {
                Ok(line) if line.contains("Running on") => break,
                Ok(line) => seen.push(line),
                Err(e) => {
                    panic!(
                        "moto_server did not start ({e:?}); it said:\n{}",
                        seen.join("\n")
                    );
                }
            }
        }
        let mut moto = Moto {
            url: format!("http://127.0.0.1:{port}"),
            access_key: String::new(),
            secret_key: String::new(),
            _child: child,
            http: reqwest::Client::new(),
            log: rx,
        };
        moto.bootstrap().await;
        moto
    }

    /// An unsigned query-API call to `service` (iam, sts…), only while verification is off.
    /// moto picks the service from the credential scope, so the call carries a dummy one.
    pub async fn query(&self, service: &str, params: &[(&str, &str)]) -> String {
        let res = self
            .http
            .post(format!("{}/", self.url))
            .header("Authorization", routing_header(service))
            .form(params)
            .send()
            .await
            .unwrap();
        let status = res.status();
        let body = res.text().await.unwrap();
        assert!(status.is_success(), "{params:?} → {status}: {body}");
        body
    }

    /// An unsigned S3 request (only while verification is off, except anonymous object reads).
    pub async fn s3(
        &self,
        method: reqwest::Method,
        path: &str,
        headers: &[(&str, &str)],
        body: &str,
    ) -> (u16, String) {
        let mut req = self
            .http
            .request(method, format!("{}{path}", self.url))
            .body(body.to_owned());
        for (name, value) in headers {
            req = req.header(*name, *value);
        }
        let res = req.send().await.unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }

    async fn bootstrap(&mut self) {
        let version = ("Version", "2010-05-08");
        self.query(
            "iam",
            &[
                ("Action", "CreateUser"),
                ("UserName", "stanch-admin"),
                version,
            ],
        )
        .await;
        let allow_all = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"*","Resource":"*"}]}"#;
        self.query(
            "iam",
            &[
                ("Action", "PutUserPolicy"),
                ("UserName", "stanch-admin"),
                ("PolicyName", "admin"),
                ("PolicyDocument", allow_all),
                version,
            ],
        )
        .await;
        let body = self
            .query(
                "iam",
                &[
                    ("Action", "CreateAccessKey"),
                    ("UserName", "stanch-admin"),
                    version,
                ],
            )
            .await;
        self.access_key = xml_text(&body, "AccessKeyId").unwrap();
        self.secret_key = xml_text(&body, "SecretAccessKey").unwrap();
        self.verify(true).await;
    }

    /// Switch moto's signature and permission checks on or off.
    pub async fn verify(&self, on: bool) {
        let count = if on { "0" } else { "inf" };
        let res = self
            .http
            .post(format!("{}/moto-api/reset-auth", self.url))
            .body(count)
            .send()
            .await
            .unwrap();
        assert!(res.status().is_success(), "reset-auth: {}", res.status());
    }

    /// Run `f` with verification off (for setup and state checks), then switch it back on.
    pub async fn unsigned<T>(&self, f: impl AsyncFnOnce(&Self) -> T) -> T {
        self.verify(false).await;
        let out = f(self).await;
        self.verify(true).await;
        out
    }

    /// What moto has said on stderr since it started (request log, tracebacks).
    pub fn log(&self) -> String {
        self.log.try_iter().collect::<Vec<_>>().join("\n")
    }
}
