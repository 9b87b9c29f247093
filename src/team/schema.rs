//! The team schema as versioned migrations, and the responders who may use it.
//!
//! `stanch team init URL` runs [`migrate`]: in one transaction, under a constant advisory lock
//! (two inits at once take turns), it creates schema `stanch` and `stanch.schema_version` if
//! absent, then applies every migration newer than the highest recorded version, recording
//! each. Running it again changes nothing. A database newer than this binary is refused.
//!
//! `stanch team add NAME --role ROLE [--incident ID]` runs [`add_responder`]: the login (if
//! new, with a SCRAM verifier computed here, so the password never reaches the server or its
//! logs), membership of the `stanch_responder` group, the default role, and with an incident
//! the incident row and the membership. Identifiers and literals that cannot be bind
//! parameters (role names, the verifier) are validated and quoted here, in one place.

use tokio_postgres::error::SqlState;
use tokio_postgres::{Client, GenericClient};

use super::TeamError;

/// Every migration, in order; index + 1 is its version. Released files are never edited.
/// (File numbers were reserved per feature while they were built; they are in order now.)
const MIGRATIONS: &[&str] = &[
    include_str!("migrations/0001_chain.sql"),
    include_str!("migrations/0002_roles_claims.sql"),
    include_str!("migrations/0003_presence.sql"),
    include_str!("migrations/0004_drills.sql"),
    include_str!("migrations/0005_drill_rules_when.sql"),
];

/// The schema version this binary writes and reads.
pub const VERSION: i32 = 5;

/// Team roles (checked by the database too).
pub const ROLES: &[&str] = crate::journal::payload::TEAM_ROLES;

/// Any advisory-lock key distinct from the per-incident ones (those are hashed ids).
const MIGRATION_LOCK: i64 = 0x7374_616e_6368; // "stanch"

/// What [`migrate`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Migrated {
    pub from: i32,
    pub to: i32,
}

pub async fn migrate(client: &mut Client, target: &str) -> Result<Migrated, TeamError> {
    let tx = client
        .transaction()
        .await
        .map_err(TeamError::db("starting the migration"))?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await
        .map_err(TeamError::db("waiting for other migrations"))?;
    tx.batch_execute(
        "CREATE SCHEMA IF NOT EXISTS stanch;
         CREATE TABLE IF NOT EXISTS stanch.schema_version (
           version int PRIMARY KEY,
           applied_at timestamptz NOT NULL DEFAULT clock_timestamp(),
           applied_by name NOT NULL DEFAULT session_user);",
    )
    .await
    .map_err(TeamError::db("creating stanch.schema_version"))?;
    let from = recorded_version(&tx).await?;
    if from > VERSION {
        return Err(TeamError::SchemaTooNew {
            target: target.to_owned(),
            found: from,
            known: VERSION,
        });
    }
    for (version, sql) in (1..)
        .zip(MIGRATIONS)
        .skip(usize::try_from(from).unwrap_or(0))
    {
        tx.batch_execute(sql)
            .await
            .map_err(TeamError::db(format!("applying migration {version}")))?;
        tx.execute(
            "INSERT INTO stanch.schema_version (version) VALUES ($1)",
            &[&version],
        )
        .await
        .map_err(TeamError::db(format!("recording migration {version}")))?;
    }
    tx.commit()
        .await
        .map_err(TeamError::db("committing the migration"))?;
    Ok(Migrated { from, to: VERSION })
}

/// The schema version of the database; [`TeamError::NoSchema`] before `team init`.
pub async fn version(client: &Client) -> Result<i32, TeamError> {
    let exists: bool = client
        .query_one(
            "SELECT to_regclass('stanch.schema_version') IS NOT NULL",
            &[],
        )
        .await
        .map_err(TeamError::db("looking for the stanch schema"))?
        .get(0);
    if !exists {
        return Err(TeamError::NoSchema);
    }
    recorded_version(client).await
}

/// The highest version in `stanch.schema_version` (0 when empty).
async fn recorded_version(client: &impl GenericClient) -> Result<i32, TeamError> {
    client
        .query_one(
            "SELECT coalesce(max(version), 0) FROM stanch.schema_version",
            &[],
        )
        .await
        .map(|row| row.get(0))
        .map_err(TeamError::db("reading the schema version"))
}

/// A responder to add.
#[derive(Debug, Clone)]
pub struct NewResponder<'a> {
    pub login: &'a str,
    pub role: &'a str,
    pub incident: Option<&'a str>,
    /// The login's password when it is created; `None` for a login without one (unix-socket
    /// or certificate logins). An existing login's password is left alone.
    pub password: Option<&'a str>,
}

/// What [`add_responder`] did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Added {
    pub created_login: bool,
}

pub async fn add_responder(
    client: &mut Client,
    new: &NewResponder<'_>,
) -> Result<Added, TeamError> {
    check_login(new.login)?;
    if !ROLES.contains(&new.role) {
        return Err(TeamError::BadRole(new.role.to_owned()));
    }
    if let Some(id) = new.incident {
        check_incident(id)?;
    }
    version(client).await?;
    let mut tx = client
        .transaction()
        .await
        .map_err(TeamError::db("starting team add"))?;
    let ident = quote_ident(new.login);
    let password = match new.password {
        Some(p) => format!(
            " PASSWORD {}",
            quote_literal(&postgres_protocol::password::scram_sha_256(p.as_bytes()))
        ),
        None => String::new(),
    };
    // Logins are cluster-wide: the login may exist already (another database, or a race),
    // and then it is left as it is. A savepoint keeps the transaction usable either way.
    let attempt = tx
        .savepoint("create_login")
        .await
        .map_err(TeamError::db("starting team add"))?;
    let created = match attempt
        .batch_execute(&format!(
            "CREATE ROLE {ident} LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS{password}"
        ))
        .await
    {
        Ok(()) => {
            attempt
                .commit()
                .await
                .map_err(TeamError::db("creating the login"))?;
            true
        }
        Err(e)
            if e.code() == Some(&SqlState::DUPLICATE_OBJECT)
                || e.code() == Some(&SqlState::UNIQUE_VIOLATION) =>
        {
            attempt
                .rollback()
                .await
                .map_err(TeamError::db("creating the login"))?;
            false
        }
        Err(source) => {
            return Err(TeamError::Db {
                context: format!("creating login {}", new.login),
                source,
            });
        }
    };
    tx.batch_execute(&format!("GRANT stanch_responder TO {ident}"))
        .await
        .map_err(TeamError::db(format!(
            "adding {} to stanch_responder",
            new.login
        )))?;
    tx.execute(
        "INSERT INTO stanch.responder (login, role) VALUES ($1, $2)
         ON CONFLICT (login) DO UPDATE SET role = excluded.role",
        &[&new.login, &new.role],
    )
    .await
    .map_err(TeamError::db("recording the responder"))?;
    if let Some(id) = new.incident {
        tx.execute(
            "INSERT INTO stanch.incident (id) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&id],
        )
        .await
        .map_err(TeamError::db(format!("creating incident {id}")))?;
        tx.execute(
            "INSERT INTO stanch.member (incident_id, login, role) VALUES ($1, $2, $3)
             ON CONFLICT DO NOTHING",
            &[&id, &new.login, &new.role],
        )
        .await
        .map_err(TeamError::db(format!("adding {} to {id}", new.login)))?;
    }
    tx.commit()
        .await
        .map_err(TeamError::db("committing team add"))?;
    Ok(Added {
        created_login: created,
    })
}

/// A login is the journal's actor and a PostgreSQL role name: keep it plain.
pub fn check_login(login: &str) -> Result<(), TeamError> {
    let mut chars = login.chars();
    let ok = login.len() <= 63
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && chars
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-'))
        && !login.starts_with("pg_");
    if ok {
        Ok(())
    } else {
        Err(TeamError::BadLogin(login.to_owned()))
    }
}

/// The file store's incident id rule (the database's CHECK says the same, within 200 bytes).
pub fn check_incident(id: &str) -> Result<(), TeamError> {
    crate::store::check_id(id).map_err(|_| TeamError::BadIncident(id.to_owned()))
}

fn quote_ident(name: &str) -> String {
    format!("\"{}\"", name.replace('"', "\"\""))
}

fn quote_literal(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn logins_are_plain_names() {
        assert!(check_login("alice").is_ok());
        assert!(check_login("bob.smith-2").is_ok());
        for bad in [
            "",
            "Alice",
            "1bob",
            "a\"b",
            "a b",
            "pg_monitor",
            &"x".repeat(64),
        ] {
            assert!(check_login(bad).is_err(), "{bad:?} must be refused");
        }
    }

    #[test]
    fn quoting_doubles_the_quote() {
        assert_eq!(quote_ident("a\"b"), "\"a\"\"b\"");
        assert_eq!(quote_literal("it's"), "'it''s'");
    }
}
