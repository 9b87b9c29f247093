//! A hostile HTTP/1.1 server on 127.0.0.1 for attack tests: it records every request exactly
//! as it arrived on the socket (method, raw request-target, headers, body) and answers with
//! whatever the test scripts, byte for byte (status, headers, body: escape sequences, secrets
//! in any encoding, redirects). Keep-alive is honoured so reqwest's pooled connections work.

#![allow(dead_code)]

use std::fmt::Write as _;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::TcpListener;

/// One request, as received.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    /// The request-target exactly as sent (`/a%2Fb?x=1`).
    pub target: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Seen {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// The path part of the target (before any `?`).
    pub fn path(&self) -> &str {
        self.target.split('?').next().unwrap_or_default()
    }
}

/// What the server answers.
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(status: u16, body: &serde_json::Value) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), "application/json".into())],
            body: serde_json::to_vec(body).unwrap(),
        }
    }

    pub fn raw(status: u16, body: impl Into<Vec<u8>>) -> Self {
        Self {
            status,
            headers: vec![("Content-Type".into(), "text/plain".into())],
            body: body.into(),
        }
    }

    #[must_use]
    pub fn with_header(mut self, name: &str, value: &str) -> Self {
        self.headers.push((name.into(), value.into()));
        self
    }
}

type Script = dyn Fn(&Seen) -> Reply + Send + Sync;

pub struct Hostile {
    /// `http://127.0.0.1:PORT` (no trailing slash).
    pub url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl Hostile {
    /// Start answering with `script`; runs until the test's runtime ends.
    pub async fn start(script: impl Fn(&Seen) -> Reply + Send + Sync + 'static) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen = Arc::new(Mutex::new(Vec::new()));
        let script: Arc<Script> = Arc::new(script);
        let log = Arc::clone(&seen);
        tokio::spawn(async move {
            loop {
                let Ok((socket, _)) = listener.accept().await else {
                    return;
                };
                let script = Arc::clone(&script);
                let log = Arc::clone(&log);
                tokio::spawn(async move {
                    let _ = serve(socket, &*script, &log).await;
                });
            }
        });
        Self { url, seen }
    }

    /// Every request so far, in arrival order.
    pub fn requests(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

async fn serve(
    socket: tokio::net::TcpStream,
    script: &Script,
    log: &Mutex<Vec<Seen>>,
) -> std::io::Result<()> {
    let (read, mut write) = socket.into_split();
    let mut read = BufReader::new(read);
    loop {
        let mut line = String::new();
        if read.read_line(&mut line).await? == 0 {
            return Ok(());
        }
        let mut parts = line.trim_end().splitn(3, ' ');
        let method = parts.next().unwrap_or_default().to_owned();
        let target = parts.next().unwrap_or_default().to_owned();
        let mut headers = Vec::new();
        loop {
            let mut h = String::new();
            read.read_line(&mut h).await?;
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            if let Some((n, v)) = h.split_once(':') {
                headers.push((n.trim().to_owned(), v.trim().to_owned()));
            }
        }
        let len = headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
            .and_then(|(_, v)| v.parse::<usize>().ok())
            .unwrap_or(0);
        let mut body = vec![0; len];
        tokio::time::timeout(Duration::from_secs(10), read.read_exact(&mut body)).await??;
        let seen = Seen {
            method,
            target,
            headers,
            body,
        };
        let reply = script(&seen);
        log.lock().unwrap().push(seen);
        let mut head = format!("HTTP/1.1 {} X\r\n", reply.status);
        for (n, v) in &reply.headers {
            let _ = write!(head, "{n}: {v}\r\n");
        }
        let _ = write!(head, "Content-Length: {}\r\n\r\n", reply.body.len());
        write.write_all(head.as_bytes()).await?;
        write.write_all(&reply.body).await?;
        write.flush().await?;
    }
}

/// Run the real binary with `args`, data in `data`, extra environment `env`.
pub async fn stanch(
    data: &std::path::Path,
    args: &[&str],
    env: &[(&str, &str)],
) -> std::process::Output {
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_stanch"));
    cmd.args(args).env("STANCH_DATA_DIR", data);
    for (k, v) in env {
        cmd.env(k, v);
    }
    tokio::time::timeout(Duration::from_mins(1), cmd.output())
        .await
        .expect("stanch finished within 60 s")
        .unwrap()
}

/// `stanch run RUNBOOK --headless --incident ID [extra…]`.
pub async fn run_headless(
    data: &std::path::Path,
    runbook: &str,
    incident: &str,
    extra: &[&str],
) -> std::process::Output {
    let mut args = vec!["run", runbook, "--headless", "--incident", incident];
    args.extend_from_slice(extra);
    stanch(data, &args, &[]).await
}

/// The journal's events as JSON values, in order.
pub fn journal(data: &std::path::Path, incident: &str) -> Vec<serde_json::Value> {
    let text =
        std::fs::read_to_string(data.join(format!("incidents/{incident}/journal.jsonl"))).unwrap();
    text.lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}
