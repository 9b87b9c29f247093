//! One reqwest client per runbook target: timeout, extra CA certificates, mTLS client
//! certificate, and `insecure` (certificate checks off, with a warning the engine journals).
//!
//! Clients are built once per engine so connections are reused (keep-alive, HTTP/2 where the
//! server offers it). Redirects are not followed: a responder must see what the service said,
//! and following a redirect could carry credentials to another host. This module renders no
//! templates and knows nothing of steps.
//!
//! Each target has two clients, because a target's URL is often a template and its scheme is
//! known only per request. The plain-HTTP one trusts no certificate at all (it never speaks
//! TLS: redirects are off) and costs nothing to build. The HTTPS one loads the system trust
//! store, about 150 files and several milliseconds, so it is built on the first HTTPS request
//! only; its CA file and client certificate are read and checked up front, so a bad path
//! still fails before the incident starts.
//!
//! TLS is rustls with the `ring` crypto provider, installed once per process by
//! [`Clients::build`]: reqwest's default `rustls` feature pulls in aws-lc-rs, whose C build
//! dominates a cold compile, so the crate enables `rustls-no-provider` instead. Behaviour
//! (platform verifier, custom CA, mTLS) is the same.

use std::collections::HashMap;
use std::path::Path;
use std::sync::OnceLock;
use std::time::Duration;

use super::EngineError;
use crate::runbook::{Loaded, Target, parse_duration};

pub struct Clients {
    by_target: HashMap<String, TargetClient>,
    warnings: Vec<String>,
}

pub struct TargetClient {
    pub timeout: Duration,
    /// The warning for `insecure = true`, journalled before the target is first used.
    pub insecure_warning: Option<String>,
    plain: reqwest::Client,
    tls: Tls,
    https: OnceLock<Result<reqwest::Client, String>>,
}

/// What the HTTPS client is built from, checked when the engine is built.
struct Tls {
    timeout: Duration,
    roots: Vec<reqwest::Certificate>,
    identity: Option<reqwest::Identity>,
    insecure: bool,
}

impl TargetClient {
    /// The client for this URL's scheme (the HTTPS one is built on first use).
    pub fn for_url(&self, url: &url::Url) -> Result<&reqwest::Client, String> {
        if url.scheme() != "https" {
            return Ok(&self.plain);
        }
        self.https
            .get_or_init(|| self.tls.build())
            .as_ref()
            .map_err(Clone::clone)
    }
}

fn builder(timeout: Duration) -> reqwest::ClientBuilder {
    reqwest::Client::builder()
        .user_agent(concat!("stanch/", env!("CARGO_PKG_VERSION")))
        .timeout(timeout)
        .connect_timeout(timeout.min(Duration::from_secs(10)))
        .redirect(reqwest::redirect::Policy::none())
        .pool_max_idle_per_host(64)
}

impl Tls {
    fn build(&self) -> Result<reqwest::Client, String> {
        let mut builder = builder(self.timeout);
        for cert in &self.roots {
            builder = builder.add_root_certificate(cert.clone());
        }
        if let Some(identity) = &self.identity {
            builder = builder.identity(identity.clone());
        }
        if self.insecure {
            builder = builder.tls_danger_accept_invalid_certs(true);
        }
        builder
            .build()
            .map_err(|e| format!("cannot build the HTTPS client: {e}"))
    }
}

impl Clients {
    pub fn build(rb: &Loaded, default_timeout: Duration) -> Result<Self, EngineError> {
        // reqwest is built without a default crypto provider; install ring once per process.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut by_target = HashMap::new();
        let mut warnings = Vec::new();
        for (name, target) in &rb.runbook.targets {
            let mut client = build_one(name, target, rb.base_dir(), default_timeout)?;
            if target.insecure {
                let warning = format!(
                    "target `{name}` has insecure = true: TLS certificates are NOT checked, \
                     so anyone on the path can read and alter its traffic (credentials included)"
                );
                warnings.push(warning.clone());
                client.insecure_warning = Some(warning);
            }
            by_target.insert(name.clone(), client);
        }
        Ok(Self {
            by_target,
            warnings,
        })
    }

    pub fn get(&self, target: &str) -> Option<&TargetClient> {
        self.by_target.get(target)
    }

    pub fn warnings(&self) -> &[String] {
        &self.warnings
    }
}

fn build_one(
    name: &str,
    target: &Target,
    base: &Path,
    default_timeout: Duration,
) -> Result<TargetClient, EngineError> {
    let err = |reason: String| EngineError::Client {
        target: name.to_owned(),
        reason,
    };
    let timeout = match &target.timeout {
        Some(text) => parse_duration(text.get_ref()).map_err(|e| err(format!("timeout: {e}")))?,
        None => default_timeout,
    };
    let mut roots = Vec::new();
    if let Some(ca) = &target.ca {
        let path = base.join(ca.get_ref());
        let pem = std::fs::read(&path)
            .map_err(|e| err(format!("cannot read CA file {}: {e}", path.display())))?;
        let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
            err(format!(
                "{} holds no usable PEM certificate: {e}",
                path.display()
            ))
        })?;
        if certs.is_empty() {
            return Err(err(format!(
                "{} holds no PEM certificate (expected -----BEGIN CERTIFICATE-----)",
                path.display()
            )));
        }
        roots = certs;
    }
    let mut identity = None;
    if let Some(cert) = &target.client_cert {
        let path = base.join(cert.get_ref());
        let pem = std::fs::read(&path).map_err(|e| {
            err(format!(
                "cannot read client certificate {}: {e}",
                path.display()
            ))
        })?;
        identity = Some(reqwest::Identity::from_pem(&pem).map_err(|e| {
            err(format!(
                "{} must hold the client certificate and its private key in PEM: {e}",
                path.display()
            ))
        })?);
    }
    // Plain HTTP never verifies a certificate, so it needs no trust store.
    let plain = builder(timeout)
        .tls_certs_only(Vec::new())
        .build()
        .map_err(|e| err(format!("cannot build the HTTP client: {e}")))?;
    Ok(TargetClient {
        timeout,
        insecure_warning: None,
        plain,
        tls: Tls {
            timeout,
            roots,
            identity,
            insecure: target.insecure,
        },
        https: OnceLock::new(),
    })
}
