//! Several teams of one exercise, side by side: each team's [`Score`] (the single-team scorer's
//! own result, never recomputed here) and its injects acknowledged, as one ranked table.
//!
//! ```text
//! rank │ team │ contained │ closed │ evidence │ revoked │ notice │ checks │ acked injects
//! ```
//!
//! The ranking rule, here and nowhere else: more live lab checks passed first; then the
//! earlier containment (a team that never marked `contained` comes after every one that did);
//! then more injects acknowledged; then the team name, so equal teams keep a stable order.
//! Plain data in, text / Markdown / JSON out; the caller escapes text for its terminal.

use std::cmp::Ordering;
use std::fmt::Write as _;

use serde::Serialize;

use super::score::{
    CHECK_EVIDENCE, CHECK_NOTICE, CHECK_REVOKED, CHECK_UNREADABLE, Score, format_offset,
};
use crate::incident::Incident;

/// One team's line.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub rank: usize,
    pub team: String,
    pub incident: String,
    /// Scenario time from the report to the `contained` mark, in milliseconds.
    pub contained_ms: Option<i64>,
    /// Live checks by name (absent: the team was not scored).
    pub unreadable: Option<bool>,
    pub evidence: Option<bool>,
    pub revoked: Option<bool>,
    pub notice: Option<bool>,
    pub checks_passed: usize,
    pub checks_total: usize,
    pub injects: usize,
    pub injects_acknowledged: usize,
    /// The team's whole score, as the single-team scorer made it.
    pub score: Option<Score>,
}

impl Row {
    /// A team's line from its incident (injects and acknowledgements) and its score, if any.
    pub fn new(team: &str, incident: &Incident, score: Option<Score>) -> Self {
        let check = |name: &str| {
            score
                .as_ref()
                .and_then(|s| s.checks.iter().find(|c| c.name == name))
                .map(|c| c.passed)
        };
        Self {
            rank: 0,
            team: team.to_owned(),
            incident: incident.id.clone(),
            contained_ms: score.as_ref().and_then(|s| {
                s.marks
                    .iter()
                    .find(|m| m.mark == "contained")
                    .and_then(|m| m.team_ms)
            }),
            unreadable: check(CHECK_UNREADABLE),
            evidence: check(CHECK_EVIDENCE),
            revoked: check(CHECK_REVOKED),
            notice: check(CHECK_NOTICE),
            checks_passed: score.as_ref().map_or(0, |s| s.checks_passed),
            checks_total: score.as_ref().map_or(0, |s| s.checks_total),
            injects: incident.injects.len(),
            injects_acknowledged: incident
                .injects
                .iter()
                .filter(|i| !i.acknowledged_by.is_empty())
                .count(),
            score,
        }
    }
}

/// The exercise's table, ranked.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Board {
    pub exercise: String,
    pub scenario: String,
    pub teams: Vec<Row>,
}

fn rank_order(a: &Row, b: &Row) -> Ordering {
    b.checks_passed
        .cmp(&a.checks_passed)
        .then_with(|| match (a.contained_ms, b.contained_ms) {
            (Some(x), Some(y)) => x.cmp(&y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        })
        .then_with(|| b.injects_acknowledged.cmp(&a.injects_acknowledged))
        .then_with(|| a.team.cmp(&b.team))
}

impl Board {
    pub fn new(exercise: &str, scenario: &str, mut teams: Vec<Row>) -> Self {
        teams.sort_by(rank_order);
        for (i, row) in teams.iter_mut().enumerate() {
            row.rank = i + 1;
        }
        Self {
            exercise: exercise.to_owned(),
            scenario: scenario.to_owned(),
            teams,
        }
    }

    fn cells(row: &Row) -> [String; 9] {
        let yes_no = |v: Option<bool>| match v {
            Some(true) => "✓".to_owned(),
            Some(false) => "✗".to_owned(),
            None => "—".to_owned(),
        };
        [
            row.rank.to_string(),
            row.team.clone(),
            row.contained_ms
                .map_or_else(|| "—".to_owned(), format_offset),
            yes_no(row.unreadable),
            yes_no(row.evidence),
            yes_no(row.revoked),
            yes_no(row.notice),
            format!("{}/{}", row.checks_passed, row.checks_total),
            format!("{}/{}", row.injects_acknowledged, row.injects),
        ]
    }

    const HEADER: [&'static str; 9] = [
        "rank",
        "team",
        "contained",
        "closed",
        "evidence",
        "revoked",
        "notice",
        "checks",
        "injects acked",
    ];

    /// For the facilitator's terminal: aligned columns.
    pub fn render_text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "EXERCISE {} · {}", self.exercise, self.scenario);
        let rows: Vec<[String; 9]> = self.teams.iter().map(Self::cells).collect();
        let widths: Vec<usize> = (0..9)
            .map(|c| {
                rows.iter()
                    .map(|r| r[c].chars().count())
                    .chain([Self::HEADER[c].len()])
                    .max()
                    .unwrap_or(0)
            })
            .collect();
        let line = |cells: &[&str]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .map(|(cell, w)| format!("{cell}{}", " ".repeat(w - cell.chars().count())))
                .collect();
            padded.join("  ").trim_end().to_owned()
        };
        let _ = writeln!(out, "{}", line(&Self::HEADER));
        for row in &rows {
            let cells: Vec<&str> = row.iter().map(String::as_str).collect();
            let _ = writeln!(out, "{}", line(&cells));
        }
        let _ = writeln!(
            out,
            "contained: scenario time after the report; closed/evidence/revoked/notice: live lab checks"
        );
        out
    }

    /// A Markdown table (for a debrief).
    pub fn render_markdown(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "## Exercise {}: {}\n",
            crate::export::markdown::escape(&self.exercise),
            crate::export::markdown::escape(&self.scenario)
        );
        let _ = writeln!(out, "| {} |", Self::HEADER.join(" | "));
        let _ = writeln!(out, "|{}", "---|".repeat(Self::HEADER.len()));
        for row in &self.teams {
            let cells = Self::cells(row).map(|c| crate::export::markdown::escape(&c));
            let _ = writeln!(out, "| {} |", cells.join(" | "));
        }
        out
    }

    pub fn to_json(&self) -> String {
        // Plain data with string keys: serializing cannot fail.
        serde_json::to_string_pretty(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lab::score::{Check, MarkScore};
    use crate::lab::status::LabStatus;

    fn score(contained_ms: Option<i64>, passed: [bool; 4]) -> Score {
        let names = [
            CHECK_UNREADABLE,
            CHECK_REVOKED,
            CHECK_EVIDENCE,
            CHECK_NOTICE,
        ];
        let checks: Vec<Check> = names
            .iter()
            .zip(passed)
            .map(|(name, passed)| Check {
                name: (*name).to_owned(),
                passed,
                detail: String::new(),
            })
            .collect();
        Score {
            scenario: "s".into(),
            reported_at: None,
            marks: vec![MarkScore {
                mark: "contained".into(),
                team_ms: contained_ms,
                reference_ms: None,
                note: None,
            }],
            checks_passed: passed.iter().filter(|p| **p).count(),
            checks_total: 4,
            checks,
            lab: LabStatus {
                indices: Vec::new(),
                snapshots: Vec::new(),
                active_tokens: std::collections::BTreeMap::new(),
                invalidated_api_keys: Vec::new(),
                forum_posts: Vec::new(),
                chat_messages: 0,
            },
            speed: 1.0,
        }
    }

    fn row(team: &str, score: Option<Score>) -> Row {
        let mut incident = Incident::default();
        incident.id = format!("EX-{team}");
        Row::new(team, &incident, score)
    }

    #[test]
    fn checks_rank_first_then_the_faster_containment_then_the_name() {
        let board = Board::new(
            "EX",
            "s",
            vec![
                row(
                    "amber",
                    Some(score(Some(600_000), [true, false, false, false])),
                ),
                row(
                    "blue",
                    Some(score(Some(900_000), [true, true, false, false])),
                ),
                row(
                    "red",
                    Some(score(Some(300_000), [true, true, false, false])),
                ),
                row("green", Some(score(None, [true, true, false, false]))),
                row("unscored", None),
            ],
        );
        let order: Vec<(usize, &str)> = board
            .teams
            .iter()
            .map(|r| (r.rank, r.team.as_str()))
            .collect();
        assert_eq!(
            order,
            [
                (1, "red"),
                (2, "blue"),
                (3, "green"),
                (4, "amber"),
                (5, "unscored")
            ]
        );
        let text = board.render_text();
        assert!(text.contains("rank  team"), "{text}");
        assert!(
            text.contains(
                "1     red       +5m00s     ✓       ✗         ✓        ✗       2/4     0/0"
            ),
            "{text}"
        );
        assert!(text.contains("5     unscored  —          —"), "{text}");
        let md = board.render_markdown();
        let hostile = Board::new("EX", "t|<b>`x`", Vec::new()).render_markdown();
        assert!(
            hostile.starts_with("## Exercise EX: t\\|\\<b\\>\\`x\\`\n"),
            "{hostile}"
        );
        assert!(
            md.contains("| 1 | red | +5m00s | ✓ | ✗ | ✓ | ✗ | 2/4 | 0/0 |"),
            "{md}"
        );
        let json: serde_json::Value = serde_json::from_str(&board.to_json()).unwrap();
        assert_eq!(json["teams"][0]["team"], "red");
        assert_eq!(json["teams"][0]["contained_ms"], 300_000);
        assert_eq!(json["teams"][4]["score"], serde_json::Value::Null);
    }
}
