//! The end-of-drill score: the team's marks as durations from the report, beside the
//! reference case's, and live checks that the lab really changed (asked over HTTP, from the
//! outside, not read from the lab's memory: the score trusts what a stranger would see).
//!
//! The result is plain data, journalled as `drill.score` (the export reads it from there) and
//! printed by `stanch drill`. This module does not write the journal itself.
//!
//! Times are scenario time, like the reference's: at `--speed N` the scenario clock runs N
//! times faster than the wall clock, so a team's wall-clock time after the report is
//! multiplied by N (the speed journalled in `incident.opened`), and the score says so.

use std::fmt::Write as _;

use base64::Engine as _;
use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use super::credentials::THIRD_PARTY_CLIENTS;
use super::scenario::Reference;
use super::{Lab, LabStatus};
use crate::incident::Incident;

/// Marks scored, in the order a response reaches them.
pub const SCORED_MARKS: &[&str] = &[
    "aware",
    "contained",
    "evidence_preserved",
    "rotated",
    "notified",
    "resolved",
];

/// The live checks, by name (the side-by-side board reads them by these names).
pub const CHECK_UNREADABLE: &str = "index unreadable from outside";
pub const CHECK_REVOKED: &str = "leaked tokens inactive (RFC 7662)";
pub const CHECK_EVIDENCE: &str = "evidence snapshot succeeded";
pub const CHECK_NOTICE: &str = "forum post published";

/// How many tokens per client the score introspects.
const TOKEN_SAMPLE: usize = 25;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarkScore {
    pub mark: String,
    /// Team's time after `reported`, in milliseconds (negative if set before the report).
    pub team_ms: Option<i64>,
    pub reference_ms: Option<i64>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Check {
    pub name: String,
    pub passed: bool,
    pub detail: String,
}

/// Deserialized too: `stanch drill --score` reads each team's journalled `drill.score` back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Score {
    pub scenario: String,
    pub reported_at: Option<Timestamp>,
    pub marks: Vec<MarkScore>,
    pub checks: Vec<Check>,
    pub checks_passed: usize,
    pub checks_total: usize,
    /// The lab as it was when the drill was scored.
    pub lab: LabStatus,
    /// `--speed`: team times were multiplied by it into scenario time (absent when 1).
    #[serde(skip_serializing_if = "is_real_time", default = "real_time")]
    pub speed: f64,
}

fn real_time() -> f64 {
    1.0
}

#[expect(
    clippy::trivially_copy_pass_by_ref,
    reason = "serde's skip_serializing_if passes a reference"
)]
fn is_real_time(speed: &f64) -> bool {
    (*speed - 1.0).abs() < f64::EPSILON
}

/// The drill's `--speed`, as journalled when it opened; 1 for a journal that does not say.
pub fn speed(incident: &Incident) -> f64 {
    incident
        .speed
        .filter(|s| s.is_finite() && *s > 0.0)
        .unwrap_or(1.0)
}

/// A team drill's clock changes (`drill.clock`): from the facilitator's time of each on
/// (the same in every team's incident), whether the clock ran and how fast.
fn clock_changes(incident: &Incident) -> Vec<(Timestamp, bool, f64)> {
    incident
        .clock
        .iter()
        .filter(|c| c.speed.is_finite() && c.speed > 0.0)
        .map(|c| (c.at, !c.paused, c.speed))
        .collect()
}

/// Scenario time from `from` to `to` (negative when `to` is earlier): wall-clock time × the
/// drill's [`speed`], except where a facilitator's `drill.clock` events paused the clock or
/// changed its speed (`changes`, in journal order).
fn scenario_ms(
    from: Timestamp,
    to: Timestamp,
    speed: f64,
    changes: &[(Timestamp, bool, f64)],
) -> i64 {
    if to < from {
        return -scenario_ms(to, from, speed, changes);
    }
    let (mut running, mut rate, mut cursor) = (true, speed, from);
    let mut total = 0.0;
    for &(at, runs, new_rate) in changes {
        if at > to {
            break;
        }
        if at > cursor {
            if running {
                total += at.duration_since(cursor).as_secs_f64() * 1000.0 * rate;
            }
            cursor = at;
        }
        (running, rate) = (runs, new_rate);
    }
    if running {
        total += to.duration_since(cursor).as_secs_f64() * 1000.0 * rate;
    }
    // Rounded to the millisecond, as the journal's times are.
    #[expect(
        clippy::cast_possible_truncation,
        reason = "a drill's scenario time in ms is far inside i64"
    )]
    let ms = total.round() as i64;
    ms
}

/// The team's marks against the reference, measured from the `reported` mark, in scenario
/// time (wall-clock time multiplied by the drill's [`speed`], the clock's pauses and speed
/// changes taken into account).
pub fn mark_scores(incident: &Incident, reference: &[Reference]) -> Vec<MarkScore> {
    let reported = incident.marks.get("reported").map(|m| m.at);
    let speed = speed(incident);
    let changes = clock_changes(incident);
    SCORED_MARKS
        .iter()
        .map(|&name| {
            let team_ms = reported
                .zip(incident.marks.get(name))
                .map(|(r, m)| scenario_ms(r, m.at, speed, &changes));
            let reference = reference.iter().find(|r| r.mark == name);
            MarkScore {
                mark: name.to_owned(),
                team_ms,
                reference_ms: reference
                    .map(|r| i64::try_from(r.after.as_millis()).unwrap_or(i64::MAX)),
                note: reference.and_then(|r| r.note.clone()),
            }
        })
        .collect()
}

pub fn score(
    title: &str,
    incident: &Incident,
    reference: &[Reference],
    checks: Vec<Check>,
    lab: LabStatus,
) -> Score {
    let checks_passed = checks.iter().filter(|c| c.passed).count();
    Score {
        scenario: title.to_owned(),
        reported_at: incident.marks.get("reported").map(|m| m.at),
        marks: mark_scores(incident, reference),
        checks_total: checks.len(),
        checks_passed,
        checks,
        lab,
        speed: speed(incident),
    }
}

fn client() -> reqwest::Client {
    let _ = rustls::crypto::ring::default_provider().install_default();
    reqwest::Client::new()
}

fn basic(user: &str, password: &str) -> String {
    let raw = format!("{user}:{password}");
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(raw)
    )
}

/// Ask the lab, over HTTP, whether containment, rotation, evidence and notice really happened.
pub async fn check_lab(lab: &Lab, index: &str) -> Vec<Check> {
    let http = client();
    let urls = lab.urls().clone();
    let creds = lab.credentials().clone();
    let mut checks = Vec::new();

    let outside = http.get(format!("{}/{index}/_count", urls.es)).send().await;
    checks.push(match outside {
        Ok(r) => {
            let status = r.status().as_u16();
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            let kind = body
                .pointer("/error/type")
                .and_then(|v| v.as_str())
                .unwrap_or("");
            Check {
                name: CHECK_UNREADABLE.into(),
                passed: status != 200,
                detail: format!("anonymous GET /{index}/_count → {status} {kind}")
                    .trim_end()
                    .to_owned(),
            }
        }
        Err(e) => Check {
            name: CHECK_UNREADABLE.into(),
            passed: false,
            detail: format!("the lab did not answer: {e}"),
        },
    });

    let responder = basic(&creds.oauth_client_id, &creds.oauth_client_secret);
    let mut details = Vec::new();
    let mut all_dead = true;
    for (client_id, _) in THIRD_PARTY_CLIENTS {
        let sample = lab.sample_seeded_tokens(client_id, TOKEN_SAMPLE);
        let mut inactive = 0;
        for token in &sample {
            let answer = http
                .post(format!("{}/oauth/introspect", urls.auth))
                .header("authorization", &responder)
                .form(&[("token", token.as_str())])
                .send()
                .await;
            let active = match answer {
                Ok(r) => r
                    .json::<serde_json::Value>()
                    .await
                    .ok()
                    .and_then(|v| v["active"].as_bool()),
                Err(_) => None,
            };
            if active == Some(false) {
                inactive += 1;
            }
        }
        all_dead &= inactive == sample.len();
        details.push(format!("{client_id} {inactive}/{} inactive", sample.len()));
    }
    checks.push(Check {
        name: CHECK_REVOKED.into(),
        passed: all_dead,
        detail: format!("introspected a sample: {}", details.join(", ")),
    });

    let status = lab.status();
    let snapshot = status
        .snapshots
        .iter()
        .find(|s| s.state == "SUCCESS" && s.indices.iter().any(|i| i == index));
    checks.push(Check {
        name: CHECK_EVIDENCE.into(),
        passed: snapshot.is_some(),
        detail: snapshot.map_or_else(
            || format!("no SUCCESS snapshot of `{index}`"),
            |s| format!("{}/{} SUCCESS", s.repository, s.name),
        ),
    });

    let posts = http.get(format!("{}/forum/posts", urls.comms)).send().await;
    let listed: serde_json::Value = match posts {
        Ok(r) => r.json().await.unwrap_or_default(),
        Err(_) => serde_json::Value::Null,
    };
    let first = listed.pointer("/posts/0");
    let published = match first.and_then(|p| p["url"].as_str()) {
        Some(url) => http.get(url).send().await.is_ok_and(|r| r.status() == 200),
        None => false,
    };
    checks.push(Check {
        name: CHECK_NOTICE.into(),
        passed: published,
        detail: first.and_then(|p| p["title"].as_str()).map_or_else(
            || "no post on the forum".to_owned(),
            |t| format!("\"{t}\" is public"),
        ),
    });
    checks
}

/// `+1h05m`, `+39m`, `+12s`, `-3m`.
pub fn format_offset(ms: i64) -> String {
    let sign = if ms < 0 { '-' } else { '+' };
    let secs = ms.unsigned_abs() / 1000;
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{sign}{h}h{m:02}m")
    } else if m > 0 {
        format!("{sign}{m}m{s:02}s")
    } else {
        format!("{sign}{s}s")
    }
}

impl Score {
    /// The score as the terminal shows it at the end of a drill.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "DRILL SCORE: {}", self.scenario);
        if !is_real_time(&self.speed) {
            let _ = writeln!(
                out,
                "times in scenario time: the team's wall-clock times × {} (--speed)",
                self.speed
            );
        }
        let _ = writeln!(
            out,
            "{:<20} {:>10} {:>10}",
            "mark (after report)", "team", "reference"
        );
        for m in &self.marks {
            let team = m.team_ms.map_or_else(|| "—".to_owned(), format_offset);
            let reference = m.reference_ms.map_or_else(|| "—".to_owned(), format_offset);
            let _ = writeln!(out, "{:<20} {team:>10} {reference:>10}", m.mark);
        }
        let _ = writeln!(
            out,
            "lab checks: {}/{} passed",
            self.checks_passed, self.checks_total
        );
        for c in &self.checks {
            let glyph = if c.passed { "✓" } else { "✗" };
            let _ = writeln!(out, "  {glyph} {}: {}", c.name, c.detail);
        }
        let _ = writeln!(out, "lab state:");
        for (label, value) in self.lab.panel_lines() {
            let _ = writeln!(out, "  {label:<22} {value}");
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::{Event, Kind};
    use std::time::Duration;

    fn mark(seq: u64, name: &str, at: &str) -> Event {
        Event {
            seq,
            at: at.parse().unwrap(),
            mono_ms: 0,
            actor: "t".into(),
            kind: Kind::Mark,
            step: None,
            data: crate::journal::event::raw_data(&serde_json::json!({ "name": name, "at": at })),
            prev: String::new(),
            hash: String::new(),
        }
    }

    #[test]
    fn marks_are_measured_from_the_report_beside_the_reference() {
        let incident = Incident::replay([
            mark(1, "reported", "2026-01-01T10:00:00Z"),
            mark(2, "aware", "2026-01-01T10:05:00Z"),
            mark(3, "contained", "2026-01-01T10:12:30Z"),
        ]);
        let reference = [Reference {
            mark: "aware".into(),
            after: Duration::from_mins(39),
            note: Some("real case".into()),
        }];
        let scores = mark_scores(&incident, &reference);
        let aware = scores.iter().find(|m| m.mark == "aware").unwrap();
        assert_eq!(aware.team_ms, Some(300_000));
        assert_eq!(aware.reference_ms, Some(39 * 60_000));
        assert_eq!(aware.note.as_deref(), Some("real case"));
        let contained = scores.iter().find(|m| m.mark == "contained").unwrap();
        assert_eq!(contained.team_ms, Some(750_000));
        assert_eq!(contained.reference_ms, None);
        let rotated = scores.iter().find(|m| m.mark == "rotated").unwrap();
        assert_eq!(rotated.team_ms, None, "a mark never set has no time");
        assert_eq!(scores.len(), SCORED_MARKS.len());
    }

    fn lab() -> LabStatus {
        LabStatus {
            indices: Vec::new(),
            snapshots: Vec::new(),
            active_tokens: std::collections::BTreeMap::new(),
            invalidated_api_keys: Vec::new(),
            forum_posts: Vec::new(),
            chat_messages: 0,
        }
    }

    #[test]
    fn at_speed_n_the_team_is_timed_in_scenario_time_and_the_score_says_so() {
        let opened = Event {
            kind: Kind::IncidentOpened,
            data: serde_json::json!({ "drill": true, "speed": 10.0 }).into(),
            ..mark(1, "x", "2026-01-01T09:59:00Z")
        };
        let incident = Incident::replay([
            opened,
            mark(2, "reported", "2026-01-01T10:00:00Z"),
            mark(3, "aware", "2026-01-01T10:03:54Z"),
        ]);
        assert!((speed(&incident) - 10.0).abs() < f64::EPSILON);
        let reference = [Reference {
            mark: "aware".into(),
            after: Duration::from_mins(39),
            note: None,
        }];
        let scored = score("t", &incident, &reference, Vec::new(), lab());
        let aware = scored.marks.iter().find(|m| m.mark == "aware").unwrap();
        // 3m54s of wall clock at ×10 is 39m of scenario time: level with the reference.
        assert_eq!(aware.team_ms, Some(39 * 60_000));
        let text = scored.render_text();
        assert!(
            text.contains("times in scenario time: the team's wall-clock times × 10 (--speed)"),
            "{text}"
        );
        assert!(
            text.contains("aware                   +39m00s    +39m00s"),
            "{text}"
        );
        assert_eq!(serde_json::to_value(&scored).unwrap()["speed"], 10.0);
    }

    #[test]
    fn a_facilitators_pause_and_speed_change_count_in_scenario_time() {
        let t = |s: &str| -> Timestamp { s.parse().unwrap() };
        // Opened at ×10, paused from the start, running at 10:10, paused 10:20-10:30, ×60
        // from 10:40.
        let changes = [
            (t("2026-01-01T10:00:00Z"), false, 10.0),
            (t("2026-01-01T10:10:00Z"), true, 10.0),
            (t("2026-01-01T10:20:00Z"), false, 10.0),
            (t("2026-01-01T10:30:00Z"), true, 10.0),
            (t("2026-01-01T10:40:00Z"), true, 60.0),
        ];
        let at = |s| scenario_ms(t("2026-01-01T10:00:00Z"), t(s), 10.0, &changes);
        assert_eq!(at("2026-01-01T10:10:00Z"), 0, "paused until started");
        assert_eq!(at("2026-01-01T10:11:00Z"), 600_000);
        assert_eq!(
            at("2026-01-01T10:25:00Z"),
            6_000_000,
            "the pause does not count"
        );
        assert_eq!(
            at("2026-01-01T10:41:00Z"),
            6_000_000 + 6_000_000 + 3_600_000
        );
        assert_eq!(
            scenario_ms(
                t("2026-01-01T10:11:00Z"),
                t("2026-01-01T10:00:00Z"),
                10.0,
                &changes
            ),
            -600_000
        );
        // Without clock events: wall clock × speed, as before.
        assert_eq!(
            scenario_ms(
                t("2026-01-01T10:00:00Z"),
                t("2026-01-01T10:01:00Z"),
                10.0,
                &[]
            ),
            600_000
        );
    }

    fn clock(seq: u64, paused: bool, at: &str) -> Event {
        Event {
            kind: Kind::DrillClock,
            data: crate::journal::event::raw_data(&serde_json::json!({
                "paused": paused, "speed": 1.0, "scenario_ms": 0, "at": at
            })),
            ..mark(seq, "", at)
        }
    }

    #[test]
    fn a_paused_clock_is_scored_from_state_alone() {
        // Reported at 10:00, paused 10:01 to 10:05, contained at 10:10: 6 minutes of scenario
        // time, whether the incident kept its events or only its state (as the facilitator
        // and the board fold a team's chain).
        let events = [
            mark(1, "reported", "2026-01-01T10:00:00Z"),
            clock(2, true, "2026-01-01T10:01:00Z"),
            clock(3, false, "2026-01-01T10:05:00Z"),
            mark(4, "contained", "2026-01-01T10:10:00Z"),
        ];
        let mut state_only = Incident::keeping(crate::incident::Keep::State);
        for event in events.clone() {
            state_only.apply(event);
        }
        assert!(state_only.events.is_empty());
        let contained = |incident: &Incident| {
            mark_scores(incident, &[])
                .into_iter()
                .find(|m| m.mark == "contained")
                .and_then(|m| m.team_ms)
        };
        assert_eq!(contained(&state_only), Some(360_000));
        assert_eq!(contained(&Incident::replay(events)), Some(360_000));
        // What a checkpoint saves carries the clock too.
        let saved: Incident =
            serde_json::from_str(&serde_json::to_string(&state_only).unwrap()).unwrap();
        assert_eq!(contained(&saved), Some(360_000));
    }

    #[test]
    fn a_real_time_drill_scores_as_before() {
        let incident = Incident::replay([mark(1, "reported", "2026-01-01T10:00:00Z")]);
        let scored = score("t", &incident, &[], Vec::new(), lab());
        assert!(!scored.render_text().contains("scenario time"));
        assert!(
            serde_json::to_value(&scored)
                .unwrap()
                .get("speed")
                .is_none()
        );
    }

    #[test]
    fn without_a_report_mark_nothing_is_timed() {
        let incident = Incident::replay([mark(1, "aware", "2026-01-01T10:05:00Z")]);
        assert!(
            mark_scores(&incident, &[])
                .iter()
                .all(|m| m.team_ms.is_none())
        );
    }

    #[test]
    fn offsets_read_like_a_clock() {
        assert_eq!(format_offset(39 * 60_000), "+39m00s");
        assert_eq!(format_offset(6 * 3_600_000 + 39 * 60_000), "+6h39m");
        assert_eq!(format_offset(12_000), "+12s");
        assert_eq!(format_offset(-180_000), "-3m00s");
    }
}
