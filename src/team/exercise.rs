//! Team drills in the database (migration `0004_drills.sql`): one exercise, one incident per
//! team, and the facilitator's appends to them.
//!
//! ```text
//! create(id, scenario, [red, blue])  stanch.exercise + stanch.incident `<id>-<team>` per team,
//!                                    in one transaction; the opener becomes each incident's
//!                                    `facilitator` member (the database does that, not us)
//! Facilitation::open(target, ex)     one Chain per team, as the facilitator's login
//!   append(team, events)             incident.opened, facts, marks, drill.score
//!   inject(team, Inject)             the inject, its `target` the team or one role in it
//!   clock(DrillClock)                pause / resume / speed: every team's chain
//!   incident(team)                   the chain folded batch by batch (every link verified),
//!                                    state only: memory does not grow with the chain
//! ```
//!
//! The database decides who may do what (only a facilitator appends injects, clock changes and
//! an exercise's score; players read only their own team's incident; acknowledgements must
//! name an inject): this module asks, it never enforces. Players are added by whoever runs
//! `stanch team add NAME --role ROLE --incident <id>-<team>`.

use tokio_postgres::{Client, GenericClient};

use super::chain::Chain;
use super::{Target, TeamError};
use crate::incident::{Incident, Keep};
use crate::journal::event::GENESIS;
use crate::journal::payload::{DrillClock, Inject, InjectTarget};
use crate::journal::{Event, NewEvent};
use crate::secret::Redactor;

/// Events fetched per round trip when a team's chain is folded.
const READ_BATCH: i64 = 5_000;

/// One team of an exercise and the incident it works.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TeamIncident {
    pub team: String,
    pub incident: String,
}

/// An exercise as the database holds it; teams in name order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exercise {
    pub id: String,
    /// The scenario's title.
    pub scenario: String,
    pub teams: Vec<TeamIncident>,
}

/// A team name: lowercase, short, safe in an incident id and a terminal.
pub fn check_team(name: &str) -> Result<(), TeamError> {
    let mut chars = name.chars();
    let ok = name.len() <= 32
        && chars
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '-'));
    if ok {
        Ok(())
    } else {
        Err(TeamError::BadTeam(name.to_owned()))
    }
}

/// The incident a team works in an exercise.
pub fn incident_id(exercise: &str, team: &str) -> String {
    format!("{exercise}-{team}")
}

/// `red,blue` → the team names, checked, in the order given.
pub fn parse_teams(list: &str) -> Result<Vec<String>, TeamError> {
    let mut teams: Vec<String> = Vec::new();
    for name in list.split(',').map(str::trim).filter(|n| !n.is_empty()) {
        check_team(name)?;
        if teams.iter().any(|t| t == name) {
            return Err(TeamError::DuplicateTeam(name.to_owned()));
        }
        teams.push(name.to_owned());
    }
    if teams.is_empty() {
        return Err(TeamError::NoTeams);
    }
    Ok(teams)
}

/// Open an exercise and its teams' incidents (the caller must be a facilitator login).
pub async fn create(
    client: &mut Client,
    id: &str,
    scenario: &str,
    teams: &[String],
) -> Result<Exercise, TeamError> {
    super::schema::check_incident(id)?;
    if teams.is_empty() {
        return Err(TeamError::NoTeams);
    }
    for team in teams {
        check_team(team)?;
        super::schema::check_incident(&incident_id(id, team))?;
    }
    let tx = client
        .transaction()
        .await
        .map_err(TeamError::db("starting the exercise"))?;
    tx.execute(
        "INSERT INTO stanch.exercise (id, scenario) VALUES ($1, $2)",
        &[&id, &scenario],
    )
    .await
    .map_err(TeamError::db(format!("opening exercise {id}")))?;
    for team in teams {
        let incident = incident_id(id, team);
        tx.execute(
            "INSERT INTO stanch.incident (id, exercise_id, team) VALUES ($1, $2, $3)",
            &[&incident, &id, team],
        )
        .await
        .map_err(TeamError::db(format!("opening {incident} for team {team}")))?;
    }
    tx.commit()
        .await
        .map_err(TeamError::db(format!("committing exercise {id}")))?;
    load(client, id).await
}

/// An exercise and the teams' incidents this login may see (the facilitator sees them all).
pub async fn load(client: &impl GenericClient, id: &str) -> Result<Exercise, TeamError> {
    let Some(row) = client
        .query_opt("SELECT scenario FROM stanch.exercise WHERE id = $1", &[&id])
        .await
        .map_err(TeamError::db(format!("reading exercise {id}")))?
    else {
        return Err(TeamError::NoExercise(id.to_owned()));
    };
    let teams = client
        .query(
            "SELECT team, id FROM stanch.incident WHERE exercise_id = $1 ORDER BY team",
            &[&id],
        )
        .await
        .map_err(TeamError::db(format!("reading the teams of {id}")))?
        .into_iter()
        .map(|row| TeamIncident {
            team: row.get(0),
            incident: row.get(1),
        })
        .collect();
    Ok(Exercise {
        id: id.to_owned(),
        scenario: row.get(0),
        teams,
    })
}

/// The incident on `chain`, folded a batch at a time (each event verified against the one
/// before it), keeping its state and no event: what scoring, the status line and the board
/// need, in memory that does not grow with the chain.
pub async fn fold(chain: &Chain) -> Result<Incident, TeamError> {
    let mut incident = Incident::keeping(Keep::State);
    loop {
        let after = match incident.last_seq {
            0 => GENESIS,
            _ => incident.last_hash.as_str(),
        };
        let batch = chain
            .fetch_after(incident.last_seq, after, READ_BATCH)
            .await?;
        if batch.is_empty() {
            return Ok(incident);
        }
        for fetched in batch {
            incident.apply(fetched.event);
        }
    }
}

/// The facilitator's connections: one chain per team of an exercise. A chain whose link was
/// lost is dropped and connected again at its next use; what failed is not retried here (the
/// commit may have happened: the caller says so and the facilitator decides).
pub struct Facilitation {
    pub exercise: Exercise,
    target: Target,
    chains: Vec<Option<Chain>>,
    redactor: Redactor,
}

impl Facilitation {
    /// Connect to every team's incident as the target's login. `redactor` scrubs what is
    /// appended (the labs' secrets).
    pub async fn open(
        target: &Target,
        exercise: Exercise,
        redactor: Redactor,
    ) -> Result<Self, TeamError> {
        let mut chains = Vec::with_capacity(exercise.teams.len());
        for team in &exercise.teams {
            chains.push(Some(Chain::open(target, &team.incident).await?));
        }
        Ok(Self {
            exercise,
            target: target.clone(),
            chains,
            redactor,
        })
    }

    /// A team's chain, connected again if its link was lost.
    async fn chain(&mut self, team: &str) -> Result<&mut Chain, TeamError> {
        let at = self.position(team)?;
        let slot = &mut self.chains[at];
        if slot.is_none() {
            *slot = Some(Chain::open(&self.target, &self.exercise.teams[at].incident).await?);
        }
        slot.as_mut().ok_or(TeamError::WriterStopped)
    }

    /// Forget a team's chain when `result` says its link is gone.
    fn check_link<T>(&mut self, team: &str, result: &Result<T, TeamError>) {
        if let Err(e) = result
            && e.is_link_lost()
            && let Ok(at) = self.position(team)
        {
            self.chains[at] = None;
        }
    }

    /// Where a team's chain is (the order of `exercise.teams`).
    fn position(&self, team: &str) -> Result<usize, TeamError> {
        self.exercise
            .teams
            .iter()
            .position(|t| t.team == team)
            .ok_or_else(|| TeamError::BadTeam(team.to_owned()))
    }

    /// Append to one team's incident, as the facilitator.
    pub async fn append(
        &mut self,
        team: &str,
        events: Vec<NewEvent>,
    ) -> Result<Vec<Event>, TeamError> {
        let redactor = self.redactor.clone();
        let appended = self.chain(team).await?.append(events, &redactor).await;
        self.check_link(team, &appended);
        appended
    }

    /// Deliver an inject to one team: for the whole team, or for one role in it.
    pub async fn inject(
        &mut self,
        team: &str,
        inject: &Inject,
        role: Option<&str>,
    ) -> Result<Event, TeamError> {
        if let Some(role) = role
            && !super::schema::ROLES.contains(&role)
        {
            return Err(TeamError::BadRole(role.to_owned()));
        }
        let target = match role {
            Some(role) => InjectTarget::Role(role.to_owned()),
            None => InjectTarget::Team(team.to_owned()),
        };
        let event = NewEvent::incident(Inject {
            target: Some(target),
            ..inject.clone()
        });
        let mut stored = self.append(team, vec![event]).await?;
        stored.pop().ok_or(TeamError::WriterStopped)
    }

    /// A pause, resume or speed change: journalled in every team's incident.
    pub async fn clock(&mut self, clock: &DrillClock) -> Result<(), TeamError> {
        let teams: Vec<String> = self.teams().map(str::to_owned).collect();
        for team in teams {
            self.append(&team, vec![NewEvent::incident(clock.clone())])
                .await?;
        }
        Ok(())
    }

    /// One team's incident as its chain says now (state only: see [`fold`]).
    pub async fn incident(&mut self, team: &str) -> Result<Incident, TeamError> {
        let folded = fold(self.chain(team).await?).await;
        self.check_link(team, &folded);
        folded
    }

    pub fn teams(&self) -> impl Iterator<Item = &str> {
        self.exercise.teams.iter().map(|t| t.team.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn team_lists_are_checked_names_without_repeats() {
        assert_eq!(parse_teams("red, blue,").unwrap(), ["red", "blue"]);
        assert!(matches!(parse_teams(""), Err(TeamError::NoTeams)));
        assert!(matches!(
            parse_teams("red,red"),
            Err(TeamError::DuplicateTeam(t)) if t == "red"
        ));
        for bad in ["Red", "-x", "a b", "a/b", "x\u{1b}[2J", &"x".repeat(33)] {
            assert!(
                matches!(parse_teams(bad), Err(TeamError::BadTeam(_))),
                "{bad:?}"
            );
        }
        assert_eq!(incident_id("EX-1", "red"), "EX-1-red");
    }
}
