//! A loopback TCP proxy between stanch and PostgreSQL that a test cuts and heals: the link
//! drop of team mode's fault tests, with real sockets and no mock.
//!
//! [`Proxy::cut`] drops every open connection (both sides see the socket close mid-stream) and
//! closes the listening socket, so a new connection is refused by the kernel, as with a dead
//! link; [`Proxy::heal`] listens on the same port again. TLS runs end to end through it (the
//! proxy only copies bytes), so the server certificate and channel binding are the server's.

#![allow(dead_code)]

use std::net::SocketAddr;

use tokio::io::copy_bidirectional;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;
use tokio::task::JoinHandle;

use crate::support::pg::Cluster;

pub struct Proxy {
    pub port: u16,
    cut_tx: watch::Sender<bool>,
    /// Connections accepted so far (tests wait on it to see a client come back).
    accepted_rx: watch::Receiver<u64>,
    task: JoinHandle<()>,
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Proxy {
    /// Listen on a free loopback port, forwarding to `127.0.0.1:upstream`.
    pub async fn start(upstream: u16) -> Proxy {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the proxy");
        let addr = listener.local_addr().expect("the proxy's address");
        let (cut_tx, cut_rx) = watch::channel(false);
        let (accepted_tx, accepted_rx) = watch::channel(0);
        let task = tokio::spawn(serve(listener, addr, upstream, cut_rx, accepted_tx));
        Proxy {
            port: addr.port(),
            cut_tx,
            accepted_rx,
            task,
        }
    }

    /// Drop every connection and refuse new ones until [`Proxy::heal`].
    pub fn cut(&self) {
        self.cut_tx.send_replace(true);
    }

    pub fn heal(&self) {
        self.cut_tx.send_replace(false);
    }

    /// `login`'s SCRAM + TLS URL for `db` on `cluster` (see [`Cluster::tcp_url`]), through
    /// this proxy; the password is the test fixtures' ([`crate::support::team::PASSWORD`]).
    pub fn url(&self, cluster: &Cluster, login: &str, db: &str) -> String {
        let password = crate::support::team::PASSWORD.replace(' ', "%20");
        cluster
            .tcp_url(login, &password, db)
            .replace(&format!(":{}/", cluster.port), &format!(":{}/", self.port))
    }

    /// A receiver of the count of accepted connections.
    pub fn accepted(&self) -> watch::Receiver<u64> {
        self.accepted_rx.clone()
    }
}

async fn serve(
    mut listener: TcpListener,
    addr: SocketAddr,
    upstream: u16,
    mut cut_rx: watch::Receiver<bool>,
    accepted_tx: watch::Sender<u64>,
) {
    // Each connection's copy of the cut signal (`wait_for` reads the current value first).
    let for_pipes = cut_rx.clone();
    loop {
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let Ok((client, _)) = accepted else { continue };
                    accepted_tx.send_modify(|n| *n += 1);
                    tokio::spawn(pipe(client, upstream, for_pipes.clone()));
                }
                changed = cut_rx.wait_for(|cut| *cut) => {
                    if changed.is_err() { return; }
                    break;
                }
            }
        }
        // Cut: no one listens on the port (connections are refused) until healed.
        drop(listener);
        if cut_rx.wait_for(|cut| !*cut).await.is_err() {
            return;
        }
        listener = TcpListener::bind(addr)
            .await
            .expect("listen again on the proxy's port");
    }
}

async fn pipe(mut client: TcpStream, upstream: u16, mut cut_rx: watch::Receiver<bool>) {
    let Ok(mut server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
        return;
    };
    tokio::select! {
        _ = copy_bidirectional(&mut client, &mut server) => {}
        _ = cut_rx.wait_for(|cut| *cut) => {}
    }
    // Dropping both sockets closes them: each side sees the link go mid-stream.
}
