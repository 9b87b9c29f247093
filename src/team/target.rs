//! The team URL and how stanch connects to it.
//!
//! A libpq-style URL (`postgresql://alice@db.example:5432/stanch?channel_binding=require`),
//! plus keys libpq knows and tokio-postgres does not: `sslrootcert=FILE`, a PEM CA to trust
//! instead of the platform's roots, and `sslmode=verify-ca|verify-full` (both stripped before
//! the rest is parsed).
//!
//! The rule, enforced here and nowhere else: over TCP, TLS is required and the server's
//! certificate is verified (rustls, SCRAM channel binding available); a URL asking for less
//! (`sslmode=disable|prefer`) is refused. Only a local unix socket goes without TLS. Passwords
//! never appear in [`Target`]'s display form (errors, logs).

use std::path::PathBuf;
use std::sync::Arc;

use tokio_postgres::config::{Host, SslMode};
use tokio_postgres::tls::MakeTlsConnect;
use tokio_postgres::{Client, Config, Connection, Socket};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::TeamError;

/// The connection's stream: TLS over TCP, plain on a unix socket.
pub type Stream = <MakeRustlsConnect as MakeTlsConnect<Socket>>::Stream;

/// Where the team database is, and how to reach it safely.
#[derive(Clone)]
pub struct Target {
    config: Config,
    tls: MakeRustlsConnect,
    shown: String,
}

impl std::fmt::Debug for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl std::fmt::Display for Target {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.shown)
    }
}

impl Target {
    pub fn parse(url: &str) -> Result<Self, TeamError> {
        let bad = |reason: String| TeamError::Url {
            url: redact_password(url),
            reason,
        };
        let (rest, ca_file) = take_param(url, "sslrootcert");
        // libpq's names for "verify the certificate" are what stanch always does over TCP.
        let (rest, sslmode) = take_param(&rest, "sslmode");
        let mut config: Config = rest.parse().map_err(|e| bad(format!("{e}")))?;
        let hosts = config.get_hosts();
        if hosts.is_empty() {
            return Err(bad(
                "no host (give host[:port] or a unix socket directory)".into()
            ));
        }
        let local_only = hosts.iter().all(|h| matches!(h, Host::Unix(_)));
        if local_only {
            // TLS does not exist on a unix socket; the kernel is the transport.
            config.ssl_mode(SslMode::Disable);
        } else {
            if sslmode
                .as_deref()
                .is_some_and(|m| !matches!(m, "require" | "verify-ca" | "verify-full"))
            {
                return Err(bad(
                    "team mode requires TLS over TCP: remove sslmode or set sslmode=verify-full"
                        .into(),
                ));
            }
            config.ssl_mode(SslMode::Require);
        }
        if config.get_user().is_none() {
            return Err(bad(
                "no user: the login is who you are in the journal".into()
            ));
        }
        if config.get_dbname().is_none() {
            return Err(bad("no database name".into()));
        }
        config.application_name("stanch");
        let shown = redact_password(url);
        let tls = tls_config(ca_file.map(PathBuf::from), &shown)?;
        Ok(Self { config, tls, shown })
    }

    /// The login, which is the responder's name in every event they append.
    pub fn user(&self) -> &str {
        self.config.get_user().unwrap_or_default()
    }

    /// Connect; the caller drives the returned [`Connection`] (spawn it, or poll its messages).
    pub async fn connect_raw(&self) -> Result<(Client, Connection<Socket, Stream>), TeamError> {
        self.config
            .connect(self.tls.clone())
            .await
            .map_err(|source| TeamError::Connect {
                target: self.shown.clone(),
                source,
            })
    }

    /// Connect and drive the connection on a background task (queries only, no notifications).
    pub async fn connect(&self) -> Result<Client, TeamError> {
        let (client, connection) = self.connect_raw().await?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::warn!("team database connection ended: {}", super::describe(&e));
            }
        });
        Ok(client)
    }
}

fn tls_config(ca_file: Option<PathBuf>, shown: &str) -> Result<MakeRustlsConnect, TeamError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    use rustls_platform_verifier::ConfigVerifierExt;

    let _ = rustls::crypto::ring::default_provider().install_default();
    let bad = |reason: String| TeamError::Tls {
        target: shown.to_owned(),
        reason,
    };
    let config = match ca_file {
        Some(path) => {
            let mut roots = rustls::RootCertStore::empty();
            let certs = CertificateDer::pem_file_iter(&path)
                .map_err(|e| bad(format!("sslrootcert {}: {e}", path.display())))?;
            for cert in certs {
                let cert = cert.map_err(|e| bad(format!("sslrootcert {}: {e}", path.display())))?;
                roots
                    .add(cert)
                    .map_err(|e| bad(format!("sslrootcert {}: {e}", path.display())))?;
            }
            if roots.is_empty() {
                return Err(bad(format!(
                    "sslrootcert {}: no certificate in it",
                    path.display()
                )));
            }
            rustls::ClientConfig::builder()
                .with_root_certificates(Arc::new(roots))
                .with_no_client_auth()
        }
        None => rustls::ClientConfig::with_platform_verifier()
            .map_err(|e| bad(format!("the platform's certificate verifier: {e}")))?,
    };
    Ok(MakeRustlsConnect::new(config))
}

/// Remove `key=value` from a URL's query; returns the URL without it and the decoded value.
fn take_param(url: &str, key: &str) -> (String, Option<String>) {
    let Some((base, query)) = url.split_once('?') else {
        return (url.to_owned(), None);
    };
    let mut value = None;
    let kept: Vec<&str> = query
        .split('&')
        .filter(|pair| match pair.split_once('=') {
            Some((k, v)) if k == key => {
                value = Some(
                    percent_encoding::percent_decode_str(v)
                        .decode_utf8_lossy()
                        .into_owned(),
                );
                false
            }
            _ => true,
        })
        .collect();
    if kept.is_empty() {
        (base.to_owned(), value)
    } else {
        (format!("{base}?{}", kept.join("&")), value)
    }
}

/// The URL with any password replaced by `***` (for errors and logs).
pub fn redact_password(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_password_never_shows() {
        assert_eq!(
            redact_password("postgresql://alice:s3cret@db:5432/stanch?x=1"),
            "postgresql://alice:***@db:5432/stanch?x=1"
        );
        assert_eq!(
            redact_password("postgresql://alice@db/stanch"),
            "postgresql://alice@db/stanch"
        );
        let err = Target::parse("postgresql://alice:s3cret@db/stanch?sslmode=disable")
            .expect_err("plain TCP is refused");
        assert!(!err.to_string().contains("s3cret"), "{err}");
        assert!(err.to_string().contains("requires TLS"), "{err}");
    }

    #[test]
    fn sslrootcert_is_taken_out_of_the_query() {
        assert_eq!(
            take_param(
                "postgresql://a@h/d?sslrootcert=%2Ftmp%2Fca.pem&channel_binding=require",
                "sslrootcert"
            ),
            (
                "postgresql://a@h/d?channel_binding=require".to_owned(),
                Some("/tmp/ca.pem".to_owned())
            )
        );
        assert_eq!(
            take_param("postgresql://a@h/d", "sslrootcert"),
            ("postgresql://a@h/d".to_owned(), None)
        );
    }

    #[test]
    fn tcp_requires_tls_and_a_socket_goes_without() {
        let tcp = Target::parse("postgresql://alice@127.0.0.1:5432/stanch").unwrap();
        assert_eq!(tcp.config.get_ssl_mode(), SslMode::Require);
        for mode in ["require", "verify-ca", "verify-full"] {
            let url = format!("postgresql://alice@db.example/stanch?sslmode={mode}");
            assert_eq!(
                Target::parse(&url).unwrap().config.get_ssl_mode(),
                SslMode::Require
            );
        }
        for mode in ["disable", "allow", "prefer"] {
            let url = format!("postgresql://alice@db.example/stanch?sslmode={mode}");
            assert!(
                Target::parse(&url).is_err(),
                "{mode} must be refused over TCP"
            );
        }
        let local = Target::parse("postgresql://alice@%2Frun%2Fpostgresql:5432/stanch").unwrap();
        assert_eq!(local.config.get_ssl_mode(), SslMode::Disable);
        assert_eq!(local.user(), "alice");
        assert!(
            Target::parse("postgresql://127.0.0.1/stanch").is_err(),
            "no user"
        );
    }
}
