//! Presence, outside the chain: who has an incident open and which step they look at.
//!
//! One row per (incident, login) in `stanch.presence` (migration 0003): a [`Presence::heartbeat`]
//! upserts this login's row, the server stamps `last_seen` with its own clock (a trigger), and
//! row-level security lets members read every row and write only their own. [`Presence::list`]
//! returns each row with its age measured on the server, so clock skew between responders does
//! not make anyone look absent. Nothing here is journalled: presence is a hint, not a record.

use jiff::Timestamp;
use tokio_postgres::{Client, Statement};

use super::TeamError;

/// One responder as last seen.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Seen {
    pub login: String,
    pub last_seen: Timestamp,
    /// How long ago, by the server's clock.
    pub age_ms: u64,
    pub focus_step: Option<String>,
}

/// Presence of one incident over a connection.
pub struct Presence {
    client: Client,
    incident: String,
    beat: Statement,
    list: Statement,
}

impl Presence {
    pub async fn new(client: Client, incident: &str) -> Result<Self, TeamError> {
        super::schema::check_incident(incident)?;
        let beat = client
            .prepare(
                "INSERT INTO stanch.presence (incident_id, focus_step) VALUES ($1, $2)
                 ON CONFLICT (incident_id, login)
                 DO UPDATE SET focus_step = excluded.focus_step, last_seen = DEFAULT",
            )
            .await
            .map_err(TeamError::db("preparing the presence heartbeat"))?;
        let list = client
            .prepare(
                "SELECT login::text,
                        (extract(epoch FROM last_seen) * 1000)::bigint,
                        greatest(0, (extract(epoch FROM clock_timestamp() - last_seen) * 1000))::bigint,
                        focus_step
                 FROM stanch.presence WHERE incident_id = $1 ORDER BY login",
            )
            .await
            .map_err(TeamError::db("preparing the presence list"))?;
        Ok(Self {
            client,
            incident: incident.to_owned(),
            beat,
            list,
        })
    }

    /// "I am here, looking at `focus_step`."
    pub async fn heartbeat(&self, focus_step: Option<&str>) -> Result<(), TeamError> {
        self.client
            .execute(&self.beat, &[&self.incident, &focus_step])
            .await
            .map_err(TeamError::db(format!(
                "recording presence on {}",
                self.incident
            )))?;
        Ok(())
    }

    /// Everyone seen on the incident, by login.
    pub async fn list(&self) -> Result<Vec<Seen>, TeamError> {
        let rows = self
            .client
            .query(&self.list, &[&self.incident])
            .await
            .map_err(TeamError::db(format!(
                "listing presence on {}",
                self.incident
            )))?;
        Ok(rows
            .into_iter()
            .map(|row| Seen {
                login: row.get(0),
                last_seen: Timestamp::from_millisecond(row.get(1)).unwrap_or_default(),
                age_ms: u64::try_from(row.get::<_, i64>(2)).unwrap_or_default(),
                focus_step: row.get(3),
            })
            .collect())
    }

    /// The connection (tests try what a hostile client would with it).
    pub fn client(&self) -> &Client {
        &self.client
    }
}
