//! The team URL and how stanch connects to it.
//!
//! A libpq-style URL (`postgresql://alice@db.example:5432/stanch?channel_binding=require`),
//! plus keys libpq knows and tokio-postgres does not (all stripped before the rest is parsed):
//! `sslrootcert=FILE`, a PEM CA to trust instead of the platform's roots;
//! `sslmode=verify-ca|verify-full`; and a client certificate, `sslcert=FILE` + `sslkey=FILE`
//! (PEM, loaded into rustls; the key must be private to its owner, as libpq insists).
//!
//! The rule, enforced here and nowhere else: over TCP, TLS is required and the server's
//! certificate is verified (rustls); a URL asking for less (`sslmode=disable|prefer`) is
//! refused. The login is proved one of two ways: a client certificate (the server's `cert`
//! method maps its CN to the login), or SCRAM with channel binding REQUIRED (SCRAM-SHA-256-PLUS
//! over the verified TLS session, so a relay in the middle cannot pass the login on; a URL
//! asking for `channel_binding=disable|prefer` without a certificate is refused). A server
//! that cannot do TLS, or that skips channel binding, is refused before the password is used.
//! Only a local unix socket goes without TLS. A TCP connect gives up after 10 s unless the URL
//! says otherwise (`connect_timeout`). Passwords never appear in [`Target`]'s display form
//! (errors, logs).

use std::path::PathBuf;
use std::sync::Arc;

use tokio_postgres::config::{ChannelBinding, Host, SslMode};
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
        let (rest, cert_file) = take_param(&rest, "sslcert");
        let (rest, key_file) = take_param(&rest, "sslkey");
        // libpq's names for "verify the certificate" are what stanch always does over TCP.
        let (rest, sslmode) = take_param(&rest, "sslmode");
        let (rest, binding) = take_param(&rest, "channel_binding");
        let mut config: Config = rest.parse().map_err(|e| bad(format!("{e}")))?;
        let client_cert = match (cert_file, key_file) {
            (Some(cert), Some(key)) => Some((PathBuf::from(cert), PathBuf::from(key))),
            (None, None) => None,
            _ => {
                return Err(bad(
                    "a client certificate needs both sslcert=FILE and sslkey=FILE".into(),
                ));
            }
        };
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
            config.channel_binding(
                channel_binding(binding.as_deref(), client_cert.is_some()).map_err(bad)?,
            );
            if config.get_connect_timeout().is_none() {
                config.connect_timeout(std::time::Duration::from_secs(10));
            }
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
        let client_cert = client_cert.filter(|_| !local_only);
        let tls = tls_config(ca_file.map(PathBuf::from), client_cert, &shown)?;
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

/// The channel-binding setting over TCP: required for a password login (SCRAM-SHA-256-PLUS);
/// with a client certificate the server asks for no password, so it is as the URL says.
fn channel_binding(asked: Option<&str>, client_cert: bool) -> Result<ChannelBinding, String> {
    let parsed = match asked {
        None => None,
        Some("require") => Some(ChannelBinding::Require),
        Some("prefer") => Some(ChannelBinding::Prefer),
        Some("disable") => Some(ChannelBinding::Disable),
        Some(other) => return Err(format!("channel_binding={other}: use require")),
    };
    match (parsed, client_cert) {
        (Some(ChannelBinding::Require) | None, false) => Ok(ChannelBinding::Require),
        (Some(_), false) => Err(
            "a password login over TCP needs channel_binding=require (or log in with a client \
             certificate: sslcert=FILE&sslkey=FILE)"
                .into(),
        ),
        (asked, true) => Ok(asked.unwrap_or(ChannelBinding::Prefer)),
    }
}

fn tls_config(
    ca_file: Option<PathBuf>,
    client_cert: Option<(PathBuf, PathBuf)>,
    shown: &str,
) -> Result<MakeRustlsConnect, TeamError> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    use rustls_platform_verifier::BuilderVerifierExt;

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
            rustls::ClientConfig::builder().with_root_certificates(Arc::new(roots))
        }
        None => rustls::ClientConfig::builder()
            .with_platform_verifier()
            .map_err(|e| bad(format!("the platform's certificate verifier: {e}")))?,
    };
    let config = match client_cert {
        None => config.with_no_client_auth(),
        Some((cert_file, key_file)) => {
            let (chain, key) = load_client_cert(&cert_file, &key_file).map_err(bad)?;
            config
                .with_client_auth_cert(chain, key)
                .map_err(|e| bad(format!("sslcert {}: {e}", cert_file.display())))?
        }
    };
    Ok(MakeRustlsConnect::new(config))
}

/// The client certificate chain and its key (PEM), the key private to its owner.
fn load_client_cert(
    cert_file: &std::path::Path,
    key_file: &std::path::Path,
) -> Result<
    (
        Vec<rustls::pki_types::CertificateDer<'static>>,
        rustls::pki_types::PrivateKeyDer<'static>,
    ),
    String,
> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    use std::os::unix::fs::PermissionsExt;

    let chain = CertificateDer::pem_file_iter(cert_file)
        .and_then(Iterator::collect::<Result<Vec<_>, _>>)
        .map_err(|e| format!("sslcert {}: {e}", cert_file.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "sslcert {}: no certificate in it",
            cert_file.display()
        ));
    }
    let mode = std::fs::metadata(key_file)
        .map_err(|e| format!("sslkey {}: {e}", key_file.display()))?
        .permissions()
        .mode();
    if mode & 0o077 != 0 {
        return Err(format!(
            "sslkey {} can be read by others (mode {:o}): chmod 600 it",
            key_file.display(),
            mode & 0o777
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key_file)
        .map_err(|e| format!("sslkey {}: {e}", key_file.display()))?;
    Ok((chain, key))
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
    fn a_password_login_over_tcp_requires_channel_binding() {
        let tcp = Target::parse("postgresql://alice@127.0.0.1:5432/stanch").unwrap();
        assert_eq!(tcp.config.get_channel_binding(), ChannelBinding::Require);
        for weaker in ["disable", "prefer"] {
            let url = format!("postgresql://alice@127.0.0.1/stanch?channel_binding={weaker}");
            let err = Target::parse(&url).expect_err("weaker binding is refused");
            assert!(err.to_string().contains("channel_binding=require"), "{err}");
        }
        let local = Target::parse("postgresql://alice@%2Ftmp/stanch?channel_binding=disable");
        assert!(local.is_ok(), "a unix socket has no TLS to bind to");
        let half = Target::parse("postgresql://alice@127.0.0.1/stanch?sslcert=%2Ftmp%2Fa.crt")
            .expect_err("a certificate without its key");
        assert!(half.to_string().contains("both sslcert"), "{half}");
        assert_eq!(
            channel_binding(None, true),
            Ok(ChannelBinding::Prefer),
            "a certificate login is asked for no password"
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
