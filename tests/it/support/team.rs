//! Team-mode fixtures over [`pg`](crate::support::pg): a migrated database per test and responders in it,
//! made through stanch's own library calls (the same ones `stanch team init/add` make).

#![allow(dead_code)]

use serde_json::json;
use stanch::journal::event::GENESIS;
use stanch::journal::{Event, Kind, NewEvent};
use stanch::team::schema::{self, NewResponder};
use stanch::team::{Chain, Follower, Target, TeamError, Update};
use std::time::Duration;

use crate::support::pg::Cluster;

/// Every responder's password in these fixtures.
pub const PASSWORD: &str = "correct horse battery staple";

pub struct TeamDb<'c> {
    pub cluster: &'c Cluster,
    pub name: String,
}

impl<'c> TeamDb<'c> {
    /// A fresh database with the team schema.
    pub async fn new(cluster: &'c Cluster) -> TeamDb<'c> {
        let name = cluster.database();
        let target = Target::parse(&cluster.admin_url(&name)).unwrap();
        let mut client = target.connect().await.unwrap();
        schema::migrate(&mut client, "test").await.unwrap();
        TeamDb { cluster, name }
    }

    pub fn admin(&self) -> Target {
        Target::parse(&self.cluster.admin_url(&self.name)).unwrap()
    }

    /// `login` over the unix socket (trusted locally; TCP needs SCRAM and TLS).
    pub fn as_user(&self, login: &str) -> Target {
        Target::parse(&self.cluster.socket_url(login, &self.name)).unwrap()
    }

    /// `team add LOGIN --role ROLE [--incident ID]`.
    pub async fn add(&self, login: &str, role: &str, incident: Option<&str>) {
        let mut client = self.admin().connect().await.unwrap();
        schema::add_responder(
            &mut client,
            &NewResponder {
                login,
                role,
                incident,
                password: Some(PASSWORD),
            },
        )
        .await
        .unwrap();
    }

    pub async fn chain(&self, login: &str, incident: &str) -> Chain {
        Chain::open(&self.as_user(login), incident).await.unwrap()
    }

    /// The server's last seq of `incident` (read as the superuser).
    pub fn head(&self, incident: &str) -> u64 {
        self.psql(&format!(
            "SELECT coalesce(max(seq), 0) FROM stanch.event WHERE incident_id = '{incident}'"
        ))
        .trim()
        .parse()
        .expect("a seq")
    }

    /// Run SQL as the superuser in this database.
    pub fn psql(&self, sql: &str) -> String {
        self.cluster.psql(&self.name, sql)
    }
}

pub fn note(text: &str) -> NewEvent {
    NewEvent::new(Kind::Note, json!({"text": text, "tags": []}))
}

/// Wait (a minute at most) until `follower` has caught up through `head`; returns whether it
/// reported the link down on the way. A rewritten chain fails the test.
pub async fn caught_up(follower: &mut Follower, head: u64) -> bool {
    let mut disconnected = false;
    loop {
        match tokio::time::timeout(Duration::from_mins(1), follower.updates_rx.recv())
            .await
            .expect("the follower reports")
            .expect("the follower runs")
        {
            Update::Disconnected(_) => disconnected = true,
            Update::CaughtUp(seq) if seq >= head => return disconnected,
            Update::CaughtUp(_) | Update::Events(_) => {}
            Update::Rewritten(e) => panic!("{e}"),
        }
    }
}

/// A child's standard output, line by line as it comes (read on a thread of its own), for
/// tests that drive a real `stanch` process and wait on what it says.
pub struct Lines {
    rx: std::sync::mpsc::Receiver<String>,
    /// Every line read so far, for failure messages.
    pub seen: Vec<String>,
}

impl Lines {
    /// Take `child`'s piped standard output.
    pub fn of(child: &mut std::process::Child) -> Lines {
        use std::io::BufRead;
        let (tx, rx) = std::sync::mpsc::channel();
        let stdout = child.stdout.take().expect("stdout is piped");
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Lines {
            rx,
            seen: Vec::new(),
        }
    }

    /// The next line containing `what`; each line must come within `within`.
    pub fn next(&mut self, what: &str, within: Duration) -> String {
        loop {
            let line = self
                .rx
                .recv_timeout(within)
                .unwrap_or_else(|e| panic!("no line with {what:?} after {:?}: {e}", self.seen));
            self.seen.push(line.clone());
            if line.contains(what) {
                return line;
            }
        }
    }

    /// Whether no line comes within `within`.
    pub fn quiet_for(&self, within: Duration) -> bool {
        self.rx.recv_timeout(within).is_err()
    }
}

/// Every event of an incident's chain, each link verified (what a test compares; stanch itself
/// folds chains batch by batch: `exercise::fold`).
pub async fn read_events(chain: &Chain) -> Result<Vec<Event>, TeamError> {
    let mut events: Vec<Event> = Vec::new();
    loop {
        let (seq, hash) = events
            .last()
            .map_or((0, GENESIS), |e| (e.seq, e.hash.as_str()));
        let batch = chain.fetch_after(seq, hash, 5_000).await?;
        if batch.is_empty() {
            return Ok(events);
        }
        events.extend(batch.into_iter().map(|f| f.event));
    }
}
