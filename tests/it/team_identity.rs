//! Team identity on real sockets: client-certificate logins against a real PostgreSQL 15
//! (`hostssl … cert`, the certificate's CN is the login), and hostile servers on 127.0.0.1
//! that offer less than stanch requires (no TLS; TLS but no channel binding): stanch refuses
//! them before the login's password or even its name leaves the machine.

use crate::support::pg;
use crate::support::team;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use stanch::journal;
use stanch::secret::Redactor;
use stanch::team::{Chain, Target, TeamError};
use team::{TeamDb, note};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

const INC: &str = "INC-IDENTITY";

fn stanch_verify(data: &Path, url: &str) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_stanch"))
        .args(["verify", INC, "--team", url])
        .env("STANCH_DATA_DIR", data)
        .env_remove("STANCH_TEAM")
        .output()
        .unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_certificate_login_appends_as_its_cn_and_any_other_certificate_is_refused() {
    let cluster = pg::Cluster::start_with_certs();
    let db = TeamDb::new(&cluster).await;
    db.add("carol", "ops", Some(INC)).await;
    db.psql("GRANT stanch_cert TO carol");
    let certs = tempfile::tempdir().unwrap();
    let (crt, key) = cluster.client_cert("carol", certs.path(), false);
    let url = cluster.cert_url("carol", &db.name, &crt, &key);

    let mut chain = Chain::open(&Target::parse(&url).unwrap(), INC)
        .await
        .unwrap();
    assert_eq!(chain.login(), "carol");
    let stored = chain
        .append(
            vec![note("signed in with a certificate")],
            &Redactor::default(),
        )
        .await
        .unwrap();
    assert_eq!(stored[0].actor, "carol");
    assert_eq!(
        db.psql(&format!(
            "SELECT actor FROM stanch.event WHERE incident_id = '{INC}'"
        )),
        "carol\n"
    );
    // As a user runs it: `stanch verify --team` over the certificate login.
    let data = tempfile::tempdir().unwrap();
    let out = stanch_verify(data.path(), &url);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        journal::verify(&data.path().join("incidents").join(INC))
            .unwrap()
            .is_ok()
    );

    // mallory's certificate (same CA) presented as carol: the CN is not the login.
    let (mallory_crt, mallory_key) = cluster.client_cert("mallory", certs.path(), false);
    let wrong_cn = cluster.cert_url("carol", &db.name, &mallory_crt, &mallory_key);
    let err = refused(&wrong_cn).await;
    assert!(
        err.contains("certificate authentication failed for user \"carol\""),
        "{err}"
    );
    // A certificate for carol from a CA the server does not trust.
    let elsewhere = tempfile::tempdir().unwrap();
    let (foreign_crt, foreign_key) = cluster.client_cert("carol", elsewhere.path(), true);
    refused(&cluster.cert_url("carol", &db.name, &foreign_crt, &foreign_key)).await;
    // No certificate at all: the server's `cert` rule wants one.
    let bare = cluster.tcp_url("carol", "correct%20horse%20battery%20staple", &db.name);
    refused(&bare).await;
    // A key others can read is refused before any connection, as libpq does.
    std::fs::set_permissions(&key, std::os::unix::fs::PermissionsExt::from_mode(0o644)).unwrap();
    let err = Target::parse(&url).unwrap_err();
    assert!(err.to_string().contains("can be read by others"), "{err}");
    assert_eq!(
        db.psql(&format!(
            "SELECT count(*) FROM stanch.event WHERE incident_id = '{INC}'"
        )),
        "1\n",
        "nothing was appended by anyone else"
    );
}

/// Connecting with `url` must fail; returns what the user is told.
async fn refused(url: &str) -> String {
    match Chain::open(&Target::parse(url).unwrap(), INC).await {
        Ok(_) => panic!("{url} was accepted"),
        Err(e) => e.to_string(),
    }
}

/// A hostile "server" on 127.0.0.1: answers stanch's SSLRequest with `tls` ('N': no TLS; or
/// TLS with the test CA's server certificate, then the authentication request `auth`), and
/// returns every byte the client sent after that.
async fn hostile_server(
    listener: TcpListener,
    tls: Option<Arc<tokio_rustls::rustls::ServerConfig>>,
    auth: Vec<u8>,
) -> Vec<u8> {
    let (mut socket, _) = listener.accept().await.unwrap();
    let mut request = [0u8; 8];
    socket.read_exact(&mut request).await.unwrap();
    assert_eq!(request, [0, 0, 0, 8, 4, 210, 22, 47], "an SSLRequest first");
    let Some(tls) = tls else {
        socket.write_all(b"N").await.unwrap();
        let mut rest = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(10), socket.read_to_end(&mut rest)).await;
        return rest;
    };
    socket.write_all(b"S").await.unwrap();
    let mut stream = tokio_rustls::TlsAcceptor::from(tls)
        .accept(socket)
        .await
        .unwrap();
    let len = stream.read_u32().await.unwrap();
    let mut startup = vec![0u8; len as usize - 4];
    stream.read_exact(&mut startup).await.unwrap();
    assert!(
        startup.windows(4).any(|w| w == b"user"),
        "a startup message"
    );
    stream.write_all(&auth).await.unwrap();
    stream.flush().await.unwrap();
    let mut rest = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut rest)).await;
    rest
}

fn server_tls(cluster: &pg::Cluster) -> Arc<tokio_rustls::rustls::ServerConfig> {
    use tokio_rustls::rustls::pki_types::pem::PemObject;
    use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let dir = cluster.socket_dir();
    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(dir.join("server.crt"))
        .unwrap()
        .collect::<Result<_, _>>()
        .unwrap();
    let key = PrivateKeyDer::from_pem_file(dir.join("server.key")).unwrap();
    Arc::new(
        tokio_rustls::rustls::ServerConfig::builder_with_provider(Arc::new(
            tokio_rustls::rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .unwrap(),
    )
}

/// `R` message: authentication request `code` with `body`.
fn auth_request(code: u32, body: &[u8]) -> Vec<u8> {
    let mut message = b"R".to_vec();
    message.extend_from_slice(&u32::try_from(8 + body.len()).unwrap().to_be_bytes());
    message.extend_from_slice(&code.to_be_bytes());
    message.extend_from_slice(body);
    message
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn servers_offering_less_than_tls_with_channel_binding_never_get_the_login() {
    let cluster = pg::shared();
    let password = "s3cret-pw";
    let cases: [(&str, Option<Arc<_>>, Vec<u8>, &str); 3] = [
        ("no TLS", None, Vec::new(), "TLS"),
        (
            "SCRAM without channel binding",
            Some(server_tls(cluster)),
            auth_request(10, b"SCRAM-SHA-256\0\0"),
            "channel binding",
        ),
        (
            "a cleartext password request",
            Some(server_tls(cluster)),
            auth_request(3, b""),
            "channel binding",
        ),
    ];
    for (case, tls, auth, why) in cases {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let server = tokio::spawn(hostile_server(listener, tls, auth));
        let url = format!(
            "postgresql://bob:{password}@127.0.0.1:{port}/stanch?sslrootcert={}",
            pg::percent_encode(&cluster.ca_file().display().to_string())
        );
        let err = Chain::open(&Target::parse(&url).unwrap(), INC)
            .await
            .err()
            .unwrap_or_else(|| panic!("{case}: accepted"));
        assert!(matches!(err, TeamError::Connect { .. }), "{case}: {err}");
        let text = err.to_string();
        assert!(text.contains(why), "{case}: {text}");
        assert!(!text.contains(password), "{case}: {text}");
        let received = tokio::time::timeout(Duration::from_secs(20), server)
            .await
            .expect("the hostile server finishes")
            .unwrap();
        // Nothing after the refusal: no startup message without TLS, no SASL response or
        // password message after an authentication request that skips channel binding.
        let shown = String::from_utf8_lossy(&received);
        assert!(
            received.is_empty(),
            "{case}: the client went on to send {shown:?}"
        );
    }
}
