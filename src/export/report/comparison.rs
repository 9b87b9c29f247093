//! A drill's times beside the reference case's: read from the journalled `drill.score` (its
//! `marks`: the team's and the reference's time after `reported`, per mark), one row per mark.
//!
//! The score is data from the journal, read through a typed view that ignores fields it does
//! not know, so a score from a newer lab still compares. No score, no rows.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::time::human_duration;

#[derive(Debug, Clone, Serialize)]
pub struct ComparisonRow {
    pub mark: String,
    /// The team's time after `reported`, in milliseconds.
    pub team_ms: Option<i64>,
    /// The reference case's time after `reported`, in milliseconds.
    pub reference_ms: Option<i64>,
    /// `faster by 12m`, `slower by 2h 5m`, `same`; `None` unless both are known.
    pub difference: Option<String>,
    /// What happened at this point in the reference case.
    pub note: Option<String>,
}

impl ComparisonRow {
    pub fn team_text(&self) -> String {
        after_text(self.team_ms)
    }

    pub fn reference_text(&self) -> String {
        after_text(self.reference_ms)
    }
}

/// `+39m` after the report, or a dash.
fn after_text(ms: Option<i64>) -> String {
    ms.map_or_else(
        || "—".to_owned(),
        |ms| format!("+{}", human_duration(ms / 1000)),
    )
}

#[derive(Deserialize)]
struct ScoreView {
    #[serde(default)]
    marks: Vec<MarkView>,
}

#[derive(Deserialize)]
struct MarkView {
    mark: String,
    team_ms: Option<i64>,
    reference_ms: Option<i64>,
    note: Option<String>,
}

pub fn rows(score: Option<&Value>) -> Vec<ComparisonRow> {
    let Some(view) = score.and_then(|s| ScoreView::deserialize(s).ok()) else {
        return Vec::new();
    };
    view.marks
        .into_iter()
        .map(|m| ComparisonRow {
            difference: m.team_ms.zip(m.reference_ms).map(|(team, reference)| {
                let seconds = (team - reference) / 1000;
                match seconds {
                    0 => "same".to_owned(),
                    s if s < 0 => format!("faster by {}", human_duration(-s)),
                    s => format!("slower by {}", human_duration(s)),
                }
            }),
            mark: m.mark,
            team_ms: m.team_ms,
            reference_ms: m.reference_ms,
            note: m.note,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn marks_compare_side_by_side_and_unknown_fields_are_ignored() {
        let score = json!({"scenario": "x", "speed": 10, "marks": [
            {"mark": "aware", "team_ms": 120_000, "reference_ms": 2_340_000, "note": "n"},
            {"mark": "rotated", "team_ms": 30_000_000, "reference_ms": 23_940_000, "note": null},
            {"mark": "resolved", "team_ms": null, "reference_ms": null, "note": null},
        ]});
        let got: Vec<_> = rows(Some(&score))
            .into_iter()
            .map(|r| (r.team_text(), r.reference_text(), r.difference))
            .collect();
        assert_eq!(
            got,
            [
                ("+2m".into(), "+39m".into(), Some("faster by 37m".into())),
                (
                    "+8h 20m".into(),
                    "+6h 39m".into(),
                    Some("slower by 1h 41m".into())
                ),
                ("—".into(), "—".into(), None),
            ]
        );
        assert!(rows(Some(&json!({"checks": {}}))).is_empty());
        assert!(rows(None).is_empty());
    }
}
