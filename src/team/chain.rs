//! The shared chain of one incident: append a batch, fetch what follows a verified event.
//!
//! ```text
//! append(batch):  [BEGIN, pg_advisory_xact_lock(hash of "stanch:<id>"), read head]
//!                 ─▶ build seq, prev, hash per event (redacted first) ─▶ [one INSERT, COMMIT]
//!                 (each [...] one pipelined round trip: the lock is held until the flush)
//!                 retried whole on 23505 / 40001 / 40P01 (someone raced without the lock,
//!                 a serialization failure, a deadlock); anything else is the error
//! fetch_after(seq, hash): rows in seq order, each checked by the journal's own line check
//!                 (seq, prev, hash) against the last verified event before it is returned
//! append_planned(from, plan): [BEGIN, lock] ─▶ fetch_after(from) to the head, under the lock
//!                 ─▶ plan(what was read) chooses the batch ─▶ [INSERT, COMMIT] (the merge's
//!                 way: its decision cannot be overtaken by another appender)
//! ```
//!
//! Events are built exactly as the file journal builds them (in one place, `seal`, which the
//! pending sub-chain uses too): the same [`Event`] fields, `at` rounded to the millisecond,
//! `mono_ms` from this process's clock, the hash from [`Event::compute_hash`]; the stored `canonical` column is the crate's canonical
//! serialization, and the line a reader gets is that text with `,"hash":"…"` spliced in, as
//! the file writer does. The database re-checks the hash, the links and the actor; this
//! module never trusts a row it did not verify. A commit is acknowledged only when durable:
//! the session turns `synchronous_commit` back on if the server has it off. When the link is
//! lost while a commit is in flight, the batch's hashes stay in [`Chain::in_doubt`]: the
//! server holds exactly those if the commit went through.

use std::time::{Duration, Instant};

use jiff::Timestamp;
use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, Statement};

use super::{Target, TeamError};
use crate::journal::Kind;
use crate::journal::event::{Data, Event, GENESIS, Hashed, NewEvent};
use crate::journal::replay::check_line;
use crate::secret::Redactor;

/// How many times an append is retried after a conflict before the error is returned.
const RETRIES: u32 = 50;

/// Events read per round trip under the lock by [`Chain::append_planned`].
const PLAN_FETCH: i64 = 5_000;

/// An event to append, as the chain takes it: `data` already redacted, the actor is the login.
#[derive(Debug, Clone)]
pub struct Proposed {
    pub kind: Kind,
    pub step: Option<String>,
    pub data: Data,
}

impl Proposed {
    /// A caller's event (redact it first).
    pub fn of(new: &NewEvent) -> Self {
        Self {
            kind: new.kind,
            step: new.step.clone(),
            data: new.to_data(),
        }
    }
}

/// `event` with its hash, and the canonical bytes that were hashed: the one place a team
/// event (shared or pending) is sealed, by the file journal's rule ([`Event::compute_hash`]).
pub(crate) fn seal(mut event: Event) -> (Event, Vec<u8>) {
    event.hash = event.compute_hash();
    // Plain data into a Vec cannot fail to serialize (string keys only).
    let canonical = serde_json::to_vec(&Hashed::of(&event, event.data.raw())).unwrap_or_default();
    (event, canonical)
}

/// Now, to the millisecond, as the file journal writes `at`.
pub(crate) fn now_ms() -> Timestamp {
    let now = Timestamp::now();
    now.round(jiff::Unit::Millisecond).unwrap_or(now)
}

/// One verified event and its journal line (without the newline), as the mirror writes it.
#[derive(Debug, Clone)]
pub struct Fetched {
    pub event: Event,
    pub line: Vec<u8>,
}

impl Fetched {
    /// The line of an event this client sealed itself (an own commit), as a fetch would
    /// return it: its canonical text with the hash spliced in, as [`seal`] hashed it.
    pub(crate) fn own(event: &Event) -> Self {
        // Plain data into a Vec cannot fail to serialize (string keys only).
        let canonical =
            serde_json::to_vec(&Hashed::of(event, event.data.raw())).unwrap_or_default();
        Self {
            line: splice_hash(canonical, &event.hash),
            event: event.clone(),
        }
    }
}

/// A connection working on one incident's chain.
pub struct Chain {
    client: Client,
    incident: String,
    login: String,
    started: Instant,
    lock: Statement,
    head: Statement,
    insert: Statement,
    fetch: Statement,
    hash_at: Statement,
    /// Conflicts retried so far (for tests and benchmarks).
    pub retries: u64,
    /// Hashes of the batch whose commit was in flight when the link was lost (it may have
    /// gone through): empty after any definite outcome.
    in_doubt: Vec<String>,
}

impl Chain {
    /// Connect (queries only) and prepare the statements.
    pub async fn open(target: &Target, incident: &str) -> Result<Self, TeamError> {
        let client = target.connect().await?;
        Self::with_client(client, incident).await
    }

    /// Work on `incident` over an existing connection (the follower's listening one).
    pub async fn with_client(client: Client, incident: &str) -> Result<Self, TeamError> {
        super::schema::check_incident(incident)?;
        super::schema::version(&client).await?;
        // An append is reported only once it is durable: with `synchronous_commit = off` a
        // server crash can lose a commit it already acknowledged (and hand its seq to the next
        // event). Any other setting is at least locally durable and is left as the DBA set it.
        client
            .batch_execute(
                "DO $$ BEGIN
                   IF current_setting('synchronous_commit') = 'off' THEN
                     SET synchronous_commit = on;
                   END IF;
                 END $$",
            )
            .await
            .map_err(TeamError::db("making commits durable"))?;
        let prepare = |sql: &'static str| client.prepare(sql);
        let lock = prepare("SELECT pg_advisory_xact_lock(hashtextextended('stanch:' || $1, 0))")
            .await
            .map_err(TeamError::db("preparing the lock"))?;
        let head = prepare(
            "SELECT seq, hash FROM stanch.event WHERE incident_id = $1 ORDER BY seq DESC LIMIT 1",
        )
        .await
        .map_err(TeamError::db("preparing the head query"))?;
        let insert = prepare(
            "INSERT INTO stanch.event (incident_id, seq, prev, hash, canonical, actor, kind, step)
             SELECT $1, s, p, h, c, a::name, k, st
             FROM unnest($2::bigint[], $3::text[], $4::text[], $5::bytea[], $6::text[],
                         $7::text[], $8::text[]) AS u(s, p, h, c, a, k, st)",
        )
        .await
        .map_err(TeamError::db("preparing the insert"))?;
        let fetch = prepare(
            "SELECT canonical, hash FROM stanch.event
             WHERE incident_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        )
        .await
        .map_err(TeamError::db("preparing the fetch"))?;
        let hash_at = prepare("SELECT hash FROM stanch.event WHERE incident_id = $1 AND seq = $2")
            .await
            .map_err(TeamError::db("preparing the hash lookup"))?;
        let login: String = client
            .query_one("SELECT session_user::text", &[])
            .await
            .map_err(TeamError::db("asking who we are"))?
            .get(0);
        Ok(Self {
            client,
            incident: incident.to_owned(),
            login,
            started: Instant::now(),
            lock,
            head,
            insert,
            fetch,
            hash_at,
            retries: 0,
            in_doubt: Vec::new(),
        })
    }

    pub fn incident(&self) -> &str {
        &self.incident
    }

    /// The login this connection appends as (every event's actor).
    pub fn login(&self) -> &str {
        &self.login
    }

    /// Open the incident on the server if it is new (the opener becomes its commander);
    /// nothing happens when it exists.
    pub async fn create_incident(&self) -> Result<(), TeamError> {
        self.client
            .execute(
                "INSERT INTO stanch.incident (id) VALUES ($1) ON CONFLICT DO NOTHING",
                &[&self.incident],
            )
            .await
            .map_err(TeamError::db(format!("opening incident {}", self.incident)))?;
        Ok(())
    }

    /// Append events in one transaction, in order, after whatever the chain holds now.
    /// Returns them as stored, after the commit (they are durable on the server).
    pub async fn append(
        &mut self,
        batch: Vec<NewEvent>,
        redactor: &Redactor,
    ) -> Result<Vec<Event>, TeamError> {
        let mut batch = batch;
        for new in &mut batch {
            new.redact(redactor);
        }
        self.append_redacted(&batch).await
    }

    /// [`Chain::append`] of events the caller has already redacted.
    pub async fn append_redacted(&mut self, batch: &[NewEvent]) -> Result<Vec<Event>, TeamError> {
        let mut attempt = 0;
        loop {
            match self.try_append(batch).await {
                Err(e) if attempt < RETRIES && is_conflict(&e) => {
                    attempt += 1;
                    self.retries += 1;
                    tokio::time::sleep(Duration::from_millis(u64::from(attempt.min(10)))).await;
                }
                other => return other,
            }
        }
    }

    async fn try_append(&mut self, batch: &[NewEvent]) -> Result<Vec<Event>, TeamError> {
        self.in_doubt.clear();
        if let Some((i, actor)) = batch.iter().enumerate().find_map(|(i, new)| {
            new.actor
                .as_ref()
                .filter(|a| **a != self.login)
                .map(|a| (i, a))
        }) {
            return Err(TeamError::ForeignActor {
                incident: self.incident.clone(),
                position: i + 1,
                actor: actor.clone(),
                login: self.login.clone(),
            });
        }
        // The lock is held from its grant to the commit's WAL flush, so every round trip
        // inside it costs the whole chain: BEGIN, lock and head go in one pipeline (the head is
        // read the moment the lock is granted), and so do the INSERT and the COMMIT.
        let client = &self.client;
        let incident: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&self.incident];
        let (begun, locked, head) = tokio::join!(
            client.batch_execute("BEGIN"),
            client.execute(&self.lock, &incident),
            client.query_opt(&self.head, &incident),
        );
        let head = match begun
            .map_err(TeamError::db("starting an append"))
            .and(locked.map_err(TeamError::db("waiting for the incident's append lock")))
            .and(head.map_err(TeamError::db("reading the chain's head")))
        {
            Ok(head) => head,
            Err(e) => return Err(self.roll_back(e).await),
        };
        let head = match head {
            Some(row) => (seq_u64(row.get(0)), row.get::<_, String>(1)),
            None => (0, GENESIS.to_owned()),
        };
        let proposed = batch.iter().map(Proposed::of).collect();
        self.insert_after(head, proposed).await
    }

    /// Under the incident's append lock, read every event after `from` (verified link by link
    /// from it), let `plan` choose what to append after them, append that and commit: what
    /// `plan` decides cannot be overtaken by another appender. Retried whole on a conflict.
    /// Returns what was read and what was appended; when `plan` chooses nothing, nothing is
    /// written. `from` must be an event this client verified (or `(0, GENESIS)`).
    pub async fn append_planned<P>(
        &mut self,
        from: (u64, &str),
        mut plan: P,
    ) -> Result<(Vec<Fetched>, Vec<Event>), TeamError>
    where
        P: FnMut(&[Fetched]) -> Result<Vec<Proposed>, TeamError>,
    {
        let mut attempt = 0;
        loop {
            match self.try_planned(from, &mut plan).await {
                Err(e) if attempt < RETRIES && is_conflict(&e) => {
                    attempt += 1;
                    self.retries += 1;
                    tokio::time::sleep(Duration::from_millis(u64::from(attempt.min(10)))).await;
                }
                other => return other,
            }
        }
    }

    async fn try_planned<P>(
        &mut self,
        from: (u64, &str),
        plan: &mut P,
    ) -> Result<(Vec<Fetched>, Vec<Event>), TeamError>
    where
        P: FnMut(&[Fetched]) -> Result<Vec<Proposed>, TeamError>,
    {
        self.in_doubt.clear();
        let incident: [&(dyn tokio_postgres::types::ToSql + Sync); 1] = [&self.incident];
        let (begun, locked) = tokio::join!(
            self.client.batch_execute("BEGIN"),
            self.client.execute(&self.lock, &incident),
        );
        if let Err(e) = begun
            .map_err(TeamError::db("starting an append"))
            .and(locked.map_err(TeamError::db("waiting for the incident's append lock")))
        {
            return Err(self.roll_back(e).await);
        }
        let mut since: Vec<Fetched> = Vec::new();
        let mut head = (from.0, from.1.to_owned());
        loop {
            let batch = match self.fetch_after(head.0, &head.1, PLAN_FETCH).await {
                Ok(batch) => batch,
                Err(e) => return Err(self.roll_back(e).await),
            };
            let Some(last) = batch.last() else { break };
            head = (last.event.seq, last.event.hash.clone());
            since.extend(batch);
        }
        let proposed = match plan(&since) {
            Ok(proposed) => proposed,
            Err(e) => return Err(self.roll_back(e).await),
        };
        if proposed.is_empty() {
            self.client
                .batch_execute("ROLLBACK")
                .await
                .map_err(TeamError::db("ending a read under the append lock"))?;
            return Ok((since, Vec::new()));
        }
        let appended = self.insert_after(head, proposed).await?;
        Ok((since, appended))
    }

    /// Roll an open transaction back (best effort: the link may be gone) and hand `error` on.
    async fn roll_back(&self, error: TeamError) -> TeamError {
        let _ = self.client.batch_execute("ROLLBACK").await;
        error
    }

    /// Build `proposed` after `head` (inside a transaction holding the lock), insert, commit.
    async fn insert_after(
        &mut self,
        head: (u64, String),
        proposed: Vec<Proposed>,
    ) -> Result<Vec<Event>, TeamError> {
        let (mut seq, mut prev) = head;
        let mut events = Vec::with_capacity(proposed.len());
        let mut rows = Rows::with_capacity(proposed.len());
        for p in proposed {
            seq += 1;
            let (event, canonical) = seal(Event {
                seq,
                at: now_ms(),
                mono_ms: u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX),
                actor: self.login.clone(),
                kind: p.kind,
                step: p.step,
                data: p.data,
                prev: std::mem::take(&mut prev),
                hash: String::new(),
            });
            rows.push(&event, canonical);
            prev.clone_from(&event.hash);
            events.push(event);
        }
        let params: [&(dyn tokio_postgres::types::ToSql + Sync); 8] = [
            &self.incident,
            &rows.seq,
            &rows.prev,
            &rows.hash,
            &rows.canonical,
            &rows.actor,
            &rows.kind,
            &rows.step,
        ];
        self.in_doubt = events.iter().map(|e| e.hash.clone()).collect();
        // After a failed INSERT the transaction is aborted and COMMIT only rolls it back.
        let (inserted, committed) = tokio::join!(
            self.client.execute(&self.insert, &params),
            self.client.batch_execute("COMMIT"),
        );
        let result = inserted
            .map_err(TeamError::db(format!("appending to {}", self.incident)))
            .and(committed.map_err(TeamError::db(format!(
                "committing events to {}",
                self.incident
            ))));
        // Only a lost link leaves the outcome unknown; a refusal is a definite no.
        if !matches!(&result, Err(e) if e.is_link_lost()) {
            self.in_doubt.clear();
        }
        result.map(|()| events)
    }

    /// Up to `limit` events after `(seq, hash)`, each verified against the one before it.
    /// `hash` is what this client verified at `seq` (64 zeros for seq 0).
    pub async fn fetch_after(
        &self,
        seq: u64,
        hash: &str,
        limit: i64,
    ) -> Result<Vec<Fetched>, TeamError> {
        let rows = self
            .client
            .query(&self.fetch, &[&self.incident, &seq_i64(seq), &limit])
            .await
            .map_err(TeamError::db(format!(
                "fetching {} after seq {seq}",
                self.incident
            )))?;
        let mut out = Vec::with_capacity(rows.len());
        let mut prev_seq = seq;
        let mut prev_hash = hash.to_owned();
        for row in rows {
            let canonical: Vec<u8> = row.get(0);
            let stored: String = row.get(1);
            let line = splice_hash(canonical, &stored);
            let event =
                check_line(&line, prev_seq + 1, &prev_hash).map_err(|fault| TeamError::Chain {
                    incident: self.incident.clone(),
                    seq: prev_seq + 1,
                    fault,
                })?;
            prev_seq = event.seq;
            prev_hash.clone_from(&event.hash);
            out.push(Fetched { event, line });
        }
        Ok(out)
    }

    /// The hash the server holds at `seq`, if it has that event.
    pub async fn hash_at(&self, seq: u64) -> Result<Option<String>, TeamError> {
        Ok(self
            .client
            .query_opt(&self.hash_at, &[&self.incident, &seq_i64(seq)])
            .await
            .map_err(TeamError::db("reading a remembered seq"))?
            .map(|row| row.get(0)))
    }

    /// The hashes of the last batch if its commit was in flight when the link was lost (the
    /// server holds them if it went through); empty otherwise.
    pub fn in_doubt(&self) -> &[String] {
        &self.in_doubt
    }

    /// The underlying connection (tests use it to try what a hostile client would).
    pub fn client(&self) -> &Client {
        &self.client
    }
}

/// The columns of a batch, as the arrays `unnest` takes.
struct Rows {
    seq: Vec<i64>,
    prev: Vec<String>,
    hash: Vec<String>,
    canonical: Vec<Vec<u8>>,
    actor: Vec<String>,
    kind: Vec<&'static str>,
    step: Vec<Option<String>>,
}

impl Rows {
    fn with_capacity(n: usize) -> Self {
        Self {
            seq: Vec::with_capacity(n),
            prev: Vec::with_capacity(n),
            hash: Vec::with_capacity(n),
            canonical: Vec::with_capacity(n),
            actor: Vec::with_capacity(n),
            kind: Vec::with_capacity(n),
            step: Vec::with_capacity(n),
        }
    }

    fn push(&mut self, event: &Event, canonical: Vec<u8>) {
        self.seq.push(seq_i64(event.seq));
        self.prev.push(event.prev.clone());
        self.hash.push(event.hash.clone());
        self.canonical.push(canonical);
        self.actor.push(event.actor.clone());
        self.kind.push(event.kind.as_str());
        self.step.push(event.step.clone());
    }
}

/// `{…,"prev":"…"}` + hash → `{…,"prev":"…","hash":"…"}`: the journal line, as the file
/// writer makes it (anything else fails the line check that follows).
pub(crate) fn splice_hash(mut canonical: Vec<u8>, hash: &str) -> Vec<u8> {
    if canonical.last() == Some(&b'}') {
        canonical.pop();
        canonical.extend_from_slice(b",\"hash\":\"");
        canonical.extend_from_slice(hash.as_bytes());
        canonical.extend_from_slice(b"\"}");
    }
    canonical
}

fn is_conflict(error: &TeamError) -> bool {
    let TeamError::Db { source, .. } = error else {
        return false;
    };
    source.code().is_some_and(|code| {
        *code == SqlState::UNIQUE_VIOLATION
            || *code == SqlState::T_R_SERIALIZATION_FAILURE
            || *code == SqlState::T_R_DEADLOCK_DETECTED
    })
}

fn seq_i64(seq: u64) -> i64 {
    i64::try_from(seq).unwrap_or(i64::MAX)
}

fn seq_u64(seq: i64) -> u64 {
    u64::try_from(seq).unwrap_or(0)
}

impl Chain {
    /// Give the connection back (to work on another incident over it).
    pub fn into_client(self) -> Client {
        self.client
    }
}

/// The incidents this login may see (members only, through row-level security), by id.
pub async fn incidents(client: &Client) -> Result<Vec<String>, TeamError> {
    Ok(client
        .query("SELECT id FROM stanch.incident ORDER BY id", &[])
        .await
        .map_err(TeamError::db("listing incidents"))?
        .into_iter()
        .map(|row| row.get(0))
        .collect())
}
