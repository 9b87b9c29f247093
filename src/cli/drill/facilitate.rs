//! `stanch drill --team URL --facilitate --teams red,blue [--scenario S] [--speed N]
//! [--incident EXERCISE] [--auto]`: the facilitator's side of a team drill.
//!
//! ```text
//! scenario ─▶ one lab per team (own ports, own state) ─▶ exercise + one incident per team in
//!   the database ─▶ each incident opened as the facilitator: incident.opened (its inputs are
//!   that team's lab URLs, exactly as a single drill's), drill.clock (paused), facts, marks
//!   ─▶ the hand-out printed (ids, lab URLs, the `team add` and `resume --team` commands)
//!   ─▶ loop: a command line │ the next inject's time on the clock │ Ctrl-C
//!   ─▶ end: each team scored by the single drill's scorer against its own lab, `drill.score`
//!      journalled in its incident, the table printed; the labs shut down
//! ```
//!
//! The clock stands still until `start` (at once with --auto), so players can join first;
//! standard input closing is `end` (with --auto, once the scenario's last inject is out: a
//! scripted run is `drill --team URL --facilitate --auto … < /dev/null`). Every team's incident is followed live into a local mirror
//! (`<data>/incidents/<id>`): the players' events show as they commit. Everything printed that came from outside (titles, lab
//! answers) is escaped for the terminal. `board.rs` prints the table again later.

use std::io::Write;
use std::process::ExitCode;
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::board::{runtime, team_url};
use super::console::{self, Command};
use super::feeds::{follow, read_lines, show, sleep_for};
use crate::incident::Incident;
use crate::journal::NewEvent;
use crate::journal::payload::{DrillClock, DrillScore, IncidentOpened, Inject};
use crate::lab::clock::{Clock, Schedule};
use crate::lab::scenario::{self, Resolved};
use crate::lab::scoreboard::{Board, Row};
use crate::lab::{Lab, score};
use crate::runbook::Loaded;
use crate::secret::Secrets;
use crate::team::exercise::{self, Facilitation};
use crate::team::{Target, Update};

/// One team's lab and what the scenario resolved against it.
struct TeamLab {
    team: String,
    lab: Lab,
    resolved: Resolved,
}

pub(super) type Out = crate::text::Escaping<std::io::Stdout>;

/// `stanch drill --facilitate`.
pub fn run(args: &crate::cli::DrillArgs) -> anyhow::Result<ExitCode> {
    let target = team_url(args)?;
    let teams = exercise::parse_teams(args.teams.as_deref().unwrap_or_default())?;
    let (scenario, runbook, options) = super::load(args)?;
    let seed = super::seed(args, &scenario);
    let mut labs = Vec::with_capacity(teams.len());
    for team in teams {
        let lab = Lab::start_with(seed, 0, &options)
            .with_context(|| format!("starting team {team}'s lab"))?;
        let resolved = scenario.resolve(&lab.template_context())?;
        labs.push(TeamLab {
            team,
            lab,
            resolved,
        });
    }
    // Every lab's secrets are scrubbed from whatever the facilitator journals.
    let secrets = Secrets::from_values(labs.iter().flat_map(|l| l.resolved.secrets.clone()));
    let id = args
        .incident
        .clone()
        .unwrap_or_else(|| crate::store::default_id("EX", jiff::Timestamp::now()));
    let mut out = crate::text::Escaping::new(std::io::stdout());
    let exercise = Exercise {
        id: &id,
        args,
        scenario: &scenario,
        runbook: &runbook,
        labs: &labs,
    };
    let ran = runtime()?.block_on(exercise.run(&target, secrets.redactor(), &mut out));
    for team in labs {
        team.lab.shutdown();
    }
    ran.map(|()| ExitCode::SUCCESS)
}

/// What one exercise runs with.
struct Exercise<'a> {
    id: &'a str,
    args: &'a crate::cli::DrillArgs,
    scenario: &'a scenario::Loaded,
    runbook: &'a Loaded,
    labs: &'a [TeamLab],
}

/// What the loop waits for next.
enum Wake {
    Line(Option<String>),
    Due,
    /// A team's events as they commit (through its local mirror).
    Team(Option<(String, Update)>),
    Interrupted,
}

impl Exercise<'_> {
    fn title(&self) -> &str {
        &self.scenario.scenario.scenario.title
    }

    async fn run(
        &self,
        target: &Target,
        redactor: crate::secret::Redactor,
        out: &mut Out,
    ) -> anyhow::Result<()> {
        let mut client = target.connect().await?;
        let teams: Vec<String> = self.labs.iter().map(|l| l.team.clone()).collect();
        let created = exercise::create(&mut client, self.id, self.title(), &teams)
            .await
            .with_context(|| format!("opening exercise {} as {}", self.id, target.user()))?;
        let mut fac = Facilitation::open(target, created, redactor).await?;
        let (now, at) = (Instant::now(), super::now_ms());
        let mut clock = Clock::stopped(self.args.speed, now);
        let clock_at_opening = clock_state(&clock, now, at);
        for team in self.labs {
            let events = vec![
                NewEvent::incident(self.opened(team, target.user())?),
                NewEvent::incident(clock_at_opening.clone()),
            ];
            fac.append(&team.team, events).await?;
        }
        // The facts (and the `reported` mark scores count from) come after the stopped clock,
        // so no scenario time passes before `start`.
        let start = super::now_ms();
        for team in self.labs {
            fac.append(&team.team, super::facts(self.scenario, start))
                .await?;
        }
        self.handout(out, target)?;
        let mut updates_rx = follow(target, &fac.exercise)?;
        let mut schedule = Schedule::new(self.scenario.injects());
        let mut lines_rx = read_lines();
        let (mut following, mut reading) = (true, true);
        if self.args.auto {
            self.set_clock(&mut fac, &mut clock, out, Clock::resume)
                .await?;
        }
        loop {
            let wait = schedule
                .upcoming()
                .and_then(|i| clock.until(i.after, Instant::now()));
            let wake = tokio::select! {
                biased;
                _ = tokio::signal::ctrl_c() => Wake::Interrupted,
                () = sleep_for(wait) => Wake::Due,
                line = lines_rx.recv(), if reading => Wake::Line(line),
                update = updates_rx.recv(), if following => Wake::Team(update),
            };
            // --auto runs the whole scenario: the end of input waits for the last inject.
            let scripted_done =
                |schedule: &Schedule| self.args.auto && schedule.upcoming().is_none();
            let command = match wake {
                Wake::Interrupted => Command::End,
                Wake::Line(None) if !self.args.auto || scripted_done(&schedule) => Command::End,
                Wake::Line(None) => {
                    reading = false;
                    continue;
                }
                Wake::Due => {
                    let now = clock.scenario(Instant::now());
                    for inject in schedule.due(now) {
                        self.deliver(&mut fac, out, &inject, None).await?;
                    }
                    if reading || !scripted_done(&schedule) {
                        continue;
                    }
                    Command::End
                }
                Wake::Team(Some((team, update))) => {
                    show(out, &team, update, target.user())?;
                    continue;
                }
                Wake::Team(None) => {
                    following = false;
                    writeln!(out, "no longer following the teams' incidents")?;
                    continue;
                }
                Wake::Line(Some(line)) => match console::parse(&line) {
                    Ok(Some(command)) => command,
                    Ok(None) => continue,
                    Err(message) => {
                        writeln!(out, "{message}")?;
                        continue;
                    }
                },
            };
            if matches!(command, Command::End) {
                return self.end(&mut fac, out).await;
            }
            // A failed command (the link down, a refusal) is reported; the exercise goes on.
            if let Err(e) = self
                .command(command, &mut fac, &mut clock, &schedule, out)
                .await
            {
                writeln!(out, "error: {e:#}")?;
            }
        }
    }

    /// Score every team, journal each score, print the table.
    async fn end(&self, fac: &mut Facilitation, out: &mut Out) -> anyhow::Result<()> {
        let rows = self.score(fac).await?;
        for row in &rows {
            if let Some(score) = &row.score {
                let event = NewEvent::incident(DrillScore(serde_json::to_value(score)?));
                fac.append(&row.team, vec![event]).await?;
            }
        }
        let board = Board::new(self.id, self.title(), rows);
        write!(out, "{}", board.render_text())?;
        writeln!(
            out,
            "Exercise {} ended: each team's score is journalled in its incident. Again: stanch drill --team URL --score {}",
            self.id, self.id
        )?;
        Ok(())
    }

    /// Carry out one command (not `end`).
    async fn command(
        &self,
        command: Command,
        fac: &mut Facilitation,
        clock: &mut Clock,
        schedule: &Schedule,
        out: &mut Out,
    ) -> anyhow::Result<()> {
        match command {
            Command::Start | Command::Resume => {
                self.set_clock(fac, clock, out, Clock::resume).await?;
            }
            Command::Pause => self.set_clock(fac, clock, out, Clock::pause).await?,
            Command::Speed(speed) => {
                self.set_clock(fac, clock, out, |c, now| c.set_speed(speed, now))
                    .await?;
            }
            Command::Inject {
                team,
                role,
                title,
                body,
            } => {
                if let Some(team) = &team
                    && !fac.teams().any(|t| t == team)
                {
                    writeln!(out, "no team `{team}` in this exercise")?;
                    return Ok(());
                }
                let ms = millis(clock.scenario(Instant::now()));
                let inject = scenario::Inject {
                    after: Duration::ZERO,
                    offset: score::format_offset(ms),
                    title,
                    body,
                    role,
                };
                self.deliver(fac, out, &inject, team.as_deref()).await?;
            }
            Command::Status => {
                let (sent, total) = schedule.progress();
                writeln!(
                    out,
                    "clock {} at {} (×{}); scenario injects {sent}/{total}{}",
                    if clock.paused() { "paused" } else { "running" },
                    score::format_offset(millis(clock.scenario(Instant::now()))),
                    clock.speed(),
                    schedule
                        .upcoming()
                        .map(|i| format!(", next {} {}", i.offset, i.title))
                        .unwrap_or_default()
                )?;
                for team in self.labs {
                    let incident = fac.incident(&team.team).await?;
                    writeln!(out, "{}", status_line(&team.team, &incident))?;
                }
            }
            Command::Score => {
                let rows = self.score(fac).await?;
                let board = Board::new(self.id, self.title(), rows);
                write!(out, "{}", board.render_text())?;
            }
            // The loop ends the exercise itself.
            Command::End => {}
            Command::Help => writeln!(out, "{}", console::HELP)?,
        }
        Ok(())
    }

    /// Change the clock and journal its new state in every team's incident.
    async fn set_clock(
        &self,
        fac: &mut Facilitation,
        clock: &mut Clock,
        out: &mut Out,
        change: impl FnOnce(&mut Clock, Instant),
    ) -> anyhow::Result<()> {
        let (now, at) = (Instant::now(), super::now_ms());
        change(clock, now);
        let state = clock_state(clock, now, at);
        fac.clock(&state).await?;
        writeln!(
            out,
            "clock {} at {} (×{})",
            if state.paused { "paused" } else { "running" },
            score::format_offset(millis(clock.scenario(now))),
            state.speed
        )?;
        Ok(())
    }

    /// An inject to one team (or all), for the team or the inject's role in it.
    async fn deliver(
        &self,
        fac: &mut Facilitation,
        out: &mut Out,
        inject: &scenario::Inject,
        team: Option<&str>,
    ) -> std::io::Result<()> {
        let (offset, role) = (&inject.offset, inject.role.as_deref());
        let payload = Inject {
            title: inject.title.clone(),
            body: inject.body.clone(),
            offset: offset.clone(),
            target: None,
        };
        let teams: Vec<String> = fac
            .teams()
            .filter(|t| team.is_none_or(|only| only == *t))
            .map(str::to_owned)
            .collect();
        let to_role = role.map(|r| format!(" @{r}")).unwrap_or_default();
        for name in &teams {
            match fac.inject(name, &payload, role).await {
                Ok(event) => writeln!(
                    out,
                    "{offset} inject \"{}\" → {name}{to_role} (seq {})",
                    inject.title, event.seq
                )?,
                // Not retried: it may have committed before the link went. `status` tells.
                Err(e) => writeln!(
                    out,
                    "{offset} inject \"{}\" NOT delivered to {name}{to_role}: {e}",
                    inject.title
                )?,
            }
        }
        Ok(())
    }

    /// Every team scored now: its chain replayed, its own lab checked.
    async fn score(&self, fac: &mut Facilitation) -> anyhow::Result<Vec<Row>> {
        let reference = self.scenario.reference();
        let mut rows = Vec::with_capacity(self.labs.len());
        for team in self.labs {
            let incident = fac.incident(&team.team).await?;
            let index = super::index(&team.resolved, self.runbook);
            let checks = score::check_lab(&team.lab, &index).await;
            let scored = score::score(
                self.title(),
                &incident,
                &reference,
                checks,
                team.lab.status(),
            );
            rows.push(Row::new(&team.team, &incident, Some(scored)));
        }
        Ok(rows)
    }

    /// `incident.opened` for a team: the runbook, the team's lab in its inputs.
    fn opened(&self, team: &TeamLab, login: &str) -> anyhow::Result<IncidentOpened> {
        let rb = self.runbook;
        let path = std::fs::canonicalize(&rb.path).unwrap_or_else(|_| rb.path.clone());
        Ok(IncidentOpened {
            incident_id: exercise::incident_id(self.id, &team.team),
            runbook_id: rb.runbook.id().to_owned(),
            runbook_title: rb.runbook.runbook.title.clone(),
            runbook_sha256: rb.sha256.clone(),
            runbook_path: Some(path.display().to_string()),
            inputs: super::inputs(rb, &team.resolved)?,
            responder: Some(login.to_owned()),
            drill: true,
            severity: rb.runbook.runbook.severity.clone(),
            scenario: Some(self.title().to_owned()),
            speed: Some(self.args.speed),
        })
    }

    /// What the facilitator hands out: per team its incident, its lab and the commands.
    fn handout(&self, out: &mut Out, target: &Target) -> std::io::Result<()> {
        writeln!(
            out,
            "EXERCISE {} · {} · speed ×{} · facilitator {}",
            self.id,
            self.title(),
            self.args.speed,
            target.user()
        )?;
        for team in self.labs {
            let urls = team.lab.urls();
            let incident = exercise::incident_id(self.id, &team.team);
            writeln!(
                out,
                "team {}: incident {incident} · lab es {} · auth {} · comms {}",
                team.team, urls.es, urls.auth, urls.comms
            )?;
            writeln!(
                out,
                "  add each player (database admin): stanch team add NAME --role ROLE --incident {incident} --team ADMIN_URL"
            )?;
            writeln!(
                out,
                "  each player joins: stanch resume --team postgresql://NAME@HOST/DB {incident}"
            )?;
        }
        let (_, total) = Schedule::new(self.scenario.injects()).progress();
        writeln!(
            out,
            "{total} scenario injects; the clock {}",
            if self.args.auto {
                "starts now"
            } else {
                "starts on `start`"
            }
        )?;
        writeln!(out, "{}", console::HELP)?;
        out.flush()
    }
}

/// The clock as journalled, changed at `now` (`at` on the wall clock).
fn clock_state(clock: &Clock, now: Instant, at: jiff::Timestamp) -> DrillClock {
    DrillClock {
        paused: clock.paused(),
        speed: clock.speed(),
        scenario_ms: u64::try_from(clock.scenario(now).as_millis()).unwrap_or(u64::MAX),
        at,
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

/// `red: 2/3 injects acknowledged · marks aware, contained · 14 events`.
fn status_line(team: &str, incident: &Incident) -> String {
    let acked = incident
        .injects
        .iter()
        .filter(|i| !i.acknowledged_by.is_empty())
        .count();
    let marks: Vec<&str> = score::SCORED_MARKS
        .iter()
        .copied()
        .filter(|m| incident.marks.contains_key(*m))
        .collect();
    format!(
        "{team}: {acked}/{} injects acknowledged · marks {} · {} events",
        incident.injects.len(),
        if marks.is_empty() {
            "none".to_owned()
        } else {
            marks.join(", ")
        },
        incident.last_seq
    )
}
