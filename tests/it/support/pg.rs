//! A real PostgreSQL for tests: `initdb` + `pg_ctl` from `pg_config --bindir` in a temp dir,
//! no mock. One cluster per test binary ([`shared`]), a fresh database per test
//! ([`Cluster::database`]); a test that stops and restarts the server makes its own
//! ([`Cluster::start`]).
//!
//! - As root the server runs as `postgres` (`runuser -u postgres --`), the temp dir owned by it.
//! - fsync off (tests measure logic, not the disk; a killed server keeps what it wrote), and
//!   `synchronous_commit = off` as a careless DBA might set it: stanch's sessions must turn it
//!   back on, or a crash loses acknowledged events (`team_faults` catches that).
//! - A unix socket in the temp dir for the admin and trusted local logins, and 127.0.0.1 on a
//!   free port where every login needs SCRAM over TLS (`hostssl … scram-sha-256`, plain `host` rejected), with a throwaway CA
//!   made by `openssl` whose PEM file the test hands to the client (`sslrootcert=`).
//!   [`Cluster::start_with_certs`] adds certificate logins for members of `stanch_cert`
//!   (`hostssl … cert`, the CN is the login) and [`Cluster::client_cert`] signs one.
//! - Stopped on drop; and because a static is never dropped, a watchdog shell holds the read
//!   end of a pipe whose write end only this process has: when the test binary exits however
//!   it exits, `read` sees EOF and the watchdog stops the server and removes the temp dir.
//!
//! Missing PostgreSQL is a failure, never a skip (`.ci/run` installs the Debian package).

#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

pub struct Cluster {
    root: tempfile::TempDir,
    bindir: PathBuf,
    pub port: u16,
    /// Owned by this process: dropping it (or exiting) makes the watchdog stop the server.
    watchdog: Option<Child>,
    next_db: AtomicU32,
}

/// The cluster this test binary shares.
pub fn shared() -> &'static Cluster {
    static CLUSTER: OnceLock<Cluster> = OnceLock::new();
    CLUSTER.get_or_init(Cluster::start)
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
}

/// Run a PostgreSQL program as the server's OS user.
fn as_server_user(program: &Path) -> Command {
    if is_root() {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

fn run_ok(cmd: &mut Command, what: &str) {
    let out = cmd
        .output()
        .unwrap_or_else(|e| panic!("{what}: cannot start: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

impl Cluster {
    /// initdb, configure, start; waits for the server (pg_ctl -w) before returning.
    pub fn start() -> Cluster {
        Self::start_with(false, false)
    }

    /// Like [`Cluster::start`], with `durable`: fsync and synchronous commit on, as a
    /// production server runs (benchmarks).
    pub fn start_durable() -> Cluster {
        Self::start_with(true, false)
    }

    /// Like [`Cluster::start`], plus client-certificate logins over TCP: members of the group
    /// `stanch_cert` log in with a certificate signed by the cluster's CA whose CN is the
    /// login (`hostssl … cert`), everyone else with SCRAM as before. See [`Cluster::client_cert`].
    pub fn start_with_certs() -> Cluster {
        let cluster = Self::start_with(false, true);
        cluster.psql("postgres", "CREATE ROLE stanch_cert NOLOGIN");
        cluster
    }

    /// A client certificate for `cn` and its key (mode 600), made in `dir` and signed by the
    /// cluster's CA, or (`foreign_ca`) by a throwaway CA made there, which the server does not
    /// trust.
    pub fn client_cert(&self, cn: &str, dir: &Path, foreign_ca: bool) -> (PathBuf, PathBuf) {
        let (ca_crt, ca_key) = if foreign_ca {
            openssl(
                dir,
                &format!("req -x509 {NEW_KEY} -keyout other-ca.key -out other-ca.crt -days 2"),
                &["-subj", "/CN=someone else's CA"],
                "openssl: a CA the server does not trust",
            );
            (dir.join("other-ca.crt"), dir.join("other-ca.key"))
        } else {
            (self.ca_file(), self.root.path().join("ca.key"))
        };
        std::fs::write(
            dir.join("client.ext"),
            "basicConstraints=critical,CA:FALSE\nextendedKeyUsage=clientAuth\n",
        )
        .expect("write client.ext");
        openssl(
            dir,
            &format!("req {NEW_KEY} -keyout {cn}.key -out {cn}.csr"),
            &["-subj", &format!("/CN={cn}")],
            "openssl: a client key",
        );
        openssl(
            dir,
            &format!(
                "x509 -req -in {cn}.csr -CAcreateserial -out {cn}.crt -days 2 -extfile client.ext"
            ),
            &[
                std::ffi::OsStr::new("-CA"),
                ca_crt.as_os_str(),
                std::ffi::OsStr::new("-CAkey"),
                ca_key.as_os_str(),
            ],
            "openssl: sign the client certificate",
        );
        let key = dir.join(format!("{cn}.key"));
        run_ok(
            Command::new("chmod").arg("600").arg(&key),
            "chmod the client key",
        );
        (dir.join(format!("{cn}.crt")), key)
    }

    /// A certificate login's URL over TCP (no password), TLS verified against the CA.
    pub fn cert_url(&self, user: &str, db: &str, cert: &Path, key: &Path) -> String {
        format!(
            "postgresql://{user}@127.0.0.1:{}/{db}?sslrootcert={}&sslcert={}&sslkey={}",
            self.port,
            percent_encode(&self.ca_file().display().to_string()),
            percent_encode(&cert.display().to_string()),
            percent_encode(&key.display().to_string()),
        )
    }

    fn start_with(durable: bool, certs: bool) -> Cluster {
        let bindir = Command::new("pg_config")
            .arg("--bindir")
            .output()
            .map(|o| PathBuf::from(String::from_utf8_lossy(&o.stdout).trim()))
            .expect(
                "pg_config not found: install PostgreSQL 15 (`apt-get install -y postgresql`; \
                 .ci/run does this)",
            );
        let root = tempfile::Builder::new()
            .prefix("stanch-pg-")
            .tempdir()
            .expect("temp dir");
        if is_root() {
            run_ok(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(root.path()),
                "chown the cluster dir to postgres",
            );
        }
        let data = root.path().join("data");
        run_ok(
            as_server_user(&bindir.join("initdb"))
                .args(["-D"])
                .arg(&data)
                .args(["-U", "postgres", "--auth-local=trust", "--auth-host=reject"])
                .args(["-E", "UTF8", "--no-instructions"]),
            "initdb",
        );
        make_tls(root.path(), &data);
        let port = free_port();
        let speed = if durable {
            ""
        } else {
            "fsync = off\nsynchronous_commit = off\nfull_page_writes = off\n"
        };
        let conf = format!(
            "{speed}listen_addresses = '127.0.0.1'\nport = {port}\n\
             unix_socket_directories = '{sock}'\nmax_connections = 200\n\
             shared_buffers = 32MB\nssl = on\nssl_cert_file = 'server.crt'\n\
             ssl_key_file = 'server.key'\npassword_encryption = 'scram-sha-256'\n",
            sock = root.path().display()
        );
        append(&data.join("postgresql.conf"), &conf);
        // Certificate logins: the server checks client certificates against the test CA, and
        // members of `stanch_cert` log in with one (its CN is the login).
        let cert_line = if certs {
            std::fs::copy(root.path().join("ca.crt"), data.join("ca.crt")).expect("copy the CA");
            append(&data.join("postgresql.conf"), "ssl_ca_file = 'ca.crt'\n");
            "hostssl all +stanch_cert 127.0.0.1/32 cert\n"
        } else {
            ""
        };
        std::fs::write(
            data.join("pg_hba.conf"),
            format!(
                "local all all trust\n{cert_line}\
                 hostssl all all 127.0.0.1/32 scram-sha-256\n\
                 host all all 127.0.0.1/32 reject\n"
            ),
        )
        .expect("write pg_hba.conf");
        if is_root() {
            run_ok(
                Command::new("chown")
                    .args(["-R", "postgres:postgres"])
                    .arg(&data),
                "chown the cluster's files",
            );
        }
        let cluster = Cluster {
            root,
            bindir,
            port,
            watchdog: None,
            next_db: AtomicU32::new(0),
        };
        cluster.pg_ctl_start();
        let mut cluster = cluster;
        cluster.watchdog = Some(cluster.spawn_watchdog());
        cluster
    }

    fn data(&self) -> PathBuf {
        self.root.path().join("data")
    }

    /// The directory holding the unix socket.
    pub fn socket_dir(&self) -> &Path {
        self.root.path()
    }

    /// PEM of the CA that signed the server certificate.
    pub fn ca_file(&self) -> PathBuf {
        self.root.path().join("ca.crt")
    }

    fn pg_ctl_start(&self) {
        run_ok(
            as_server_user(&self.bindir.join("pg_ctl"))
                .arg("-D")
                .arg(self.data())
                .arg("-l")
                .arg(self.root.path().join("server.log"))
                .args(["-w", "-t", "60", "start"]),
            "pg_ctl start",
        );
    }

    /// `pg_ctl stop -m immediate`: a crash as far as the clients can tell.
    pub fn kill(&self) {
        run_ok(
            as_server_user(&self.bindir.join("pg_ctl"))
                .arg("-D")
                .arg(self.data())
                .args(["-w", "-m", "immediate", "stop"]),
            "pg_ctl stop -m immediate",
        );
    }

    /// Start again after [`Cluster::kill`] (crash recovery runs; waits until it accepts).
    pub fn restart(&self) {
        self.pg_ctl_start();
    }

    fn spawn_watchdog(&self) -> Child {
        let pg_ctl = self.bindir.join("pg_ctl");
        let stop = if is_root() {
            format!(
                "runuser -u postgres -- '{}' -D '{}' -m immediate stop",
                pg_ctl.display(),
                self.data().display()
            )
        } else {
            format!(
                "'{}' -D '{}' -m immediate stop",
                pg_ctl.display(),
                self.data().display()
            )
        };
        Command::new("sh")
            .args([
                "-c",
                &format!(
                    "read _ignored; {stop} >/dev/null 2>&1; rm -rf '{}'",
                    self.root.path().display()
                ),
            ])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the cluster watchdog")
    }

    /// The admin's URL for `db` over the unix socket (superuser `postgres`, trusted).
    pub fn admin_url(&self, db: &str) -> String {
        format!(
            "postgresql://postgres@{}:{}/{db}",
            percent_encode(&self.socket_dir().display().to_string()),
            self.port
        )
    }

    /// A responder's URL for `db` over the unix socket (trusted local login, no password).
    pub fn socket_url(&self, user: &str, db: &str) -> String {
        format!(
            "postgresql://{user}@{}:{}/{db}",
            percent_encode(&self.socket_dir().display().to_string()),
            self.port
        )
    }

    /// A responder's URL over TCP: SCRAM with channel binding, TLS verified against the CA.
    pub fn tcp_url(&self, user: &str, password: &str, db: &str) -> String {
        format!(
            "postgresql://{user}:{password}@127.0.0.1:{}/{db}?channel_binding=require&sslrootcert={}",
            self.port,
            percent_encode(&self.ca_file().display().to_string())
        )
    }

    /// A fresh, empty database for one test; returns its name.
    pub fn database(&self) -> String {
        let n = self.next_db.fetch_add(1, Ordering::Relaxed);
        let name = format!("t{}_{n}", std::process::id());
        self.psql("postgres", &format!("CREATE DATABASE {name}"));
        name
    }

    /// Run SQL as the superuser over the socket; returns stdout (unaligned, tuples only).
    pub fn psql(&self, db: &str, sql: &str) -> String {
        self.psql_as("postgres", db, sql)
            .unwrap_or_else(|e| panic!("psql {sql}: {e}"))
    }

    /// Like [`Cluster::psql`] as another login; returns the error text when it fails.
    pub fn psql_as(&self, user: &str, db: &str, sql: &str) -> Result<String, String> {
        let out = Command::new(self.bindir.join("psql"))
            .args(["-X", "-q", "-A", "-t", "-v", "ON_ERROR_STOP=1", "-h"])
            .arg(self.socket_dir())
            .args([
                "-p",
                &self.port.to_string(),
                "-U",
                user,
                "-d",
                db,
                "-c",
                sql,
            ])
            .output()
            .expect("run psql");
        if out.status.success() {
            Ok(String::from_utf8_lossy(&out.stdout).into_owned())
        } else {
            Err(String::from_utf8_lossy(&out.stderr).into_owned())
        }
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        // Closing the pipe makes the watchdog stop the server; wait so the temp dir can go.
        if let Some(mut watchdog) = self.watchdog.take() {
            drop(watchdog.stdin.take());
            let _ = watchdog.wait();
        }
    }
}

fn append(path: &Path, text: &str) {
    use std::io::Write;
    let mut file = std::fs::OpenOptions::new()
        .append(true)
        .open(path)
        .expect("open postgresql.conf");
    file.write_all(text.as_bytes())
        .expect("append to postgresql.conf");
}

/// openssl's options for a new P-256 key without a passphrase.
const NEW_KEY: &str = "-newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes";

/// Run the openssl CLI in `dir`: `args` split on spaces, then `extra` as they are (a subject
/// with spaces, a path).
fn openssl(dir: &Path, args: &str, extra: &[impl AsRef<std::ffi::OsStr>], what: &str) {
    run_ok(
        Command::new("openssl")
            .current_dir(dir)
            .args(args.split_whitespace())
            .args(extra),
        what,
    );
}

/// A CA and a server certificate for 127.0.0.1/localhost, signed by it (openssl CLI).
fn make_tls(root: &Path, data: &Path) {
    let openssl = |args: &str, extra: &[&str], what: &str| openssl(root, args, extra, what);
    openssl(
        &format!("req -x509 {NEW_KEY} -keyout ca.key -out ca.crt -days 2"),
        &["-subj", "/CN=stanch test CA"],
        "openssl: make the test CA",
    );
    openssl(
        &format!("req {NEW_KEY} -keyout server.key -out server.csr"),
        &["-subj", "/CN=localhost"],
        "openssl: make the server key",
    );
    std::fs::write(
        root.join("server.ext"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nbasicConstraints=critical,CA:FALSE\n",
    )
    .expect("write server.ext");
    openssl(
        "x509 -req -in server.csr -CA ca.crt -CAkey ca.key -CAcreateserial -out server.crt \
         -days 2 -extfile server.ext",
        &[],
        "openssl: sign the server certificate",
    );
    for file in ["server.crt", "server.key"] {
        std::fs::copy(root.join(file), data.join(file)).expect("copy the server certificate");
    }
    if is_root() {
        run_ok(
            Command::new("chown")
                .args(["postgres:postgres"])
                .arg(data.join("server.crt"))
                .arg(data.join("server.key")),
            "chown the server key",
        );
    }
    run_ok(
        Command::new("chmod")
            .arg("600")
            .arg(data.join("server.key")),
        "chmod the server key",
    );
    // The client (this process, maybe not root) reads the CA certificate; it is public.
    run_ok(
        Command::new("chmod").arg("644").arg(root.join("ca.crt")),
        "chmod the CA",
    );
}

/// Percent-encode a path for the host part of a URL (slashes included).
pub fn percent_encode(text: &str) -> String {
    text.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                char::from(b).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}
