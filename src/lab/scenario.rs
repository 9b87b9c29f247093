//! Drill scenarios (`runbooks/drills/*.toml`): which runbook, how its inputs and secrets map
//! onto the lab, the starting facts, the reference case's marks, and timed injects.
//!
//! ```toml
//! [scenario]
//! title = "…"
//! runbook = "../elasticsearch-exposure.toml"   # relative to this file
//! seed = 2019                                  # optional; the lab's seed
//!
//! [inputs]                                     # runbook input → template over `lab.*`
//! es_url = "{{ lab.es_url }}"
//! [secrets]                                    # runbook secret → template over `lab.*`
//! es_api_key = "{{ lab.es_api_key }}"
//!
//! [[facts]]                                    # journalled as `fact` (and `mark`) at start
//! text = "Report received"
//! occurred_at = "+0m"                          # offset from drill start, or RFC 3339
//! mark = "reported"
//!
//! [[reference]]                                # the real case, as offsets from `reported`
//! mark = "aware"
//! after = "39m"
//!
//! [lab]                                        # optional: what the lab models
//! es_version = "7.4.2"                         # default 7.4.2 (the reference case)
//! security = "off"                             # off (default) | on
//! path_repo = ""                               # the nodes' path.repo; "" = empty (refuses fs repos)
//! reopen_after_close = "0s"                    # an outsider reopens the index once, this long
//!                                              # after containment is first verified from
//!                                              # outside (security off only)
//!
//! [[injects]]
//! at = "+14m"                                  # scenario time; `--speed N` divides it
//! title = "…"
//! body = "…"
//! role = "comms"                               # optional, team drills: for this role only
//! ```
//!
//! Parsing keeps spans; [`check`] reports every problem as `file:line:col` with a caret
//! (`scenario/diagnostics.rs`). This module does not start the lab or touch the journal: the
//! drill command does, with what [`Scenario::resolve`] returns.

mod diagnostics;

use std::path::{Path, PathBuf};
use std::time::Duration;

use indexmap::IndexMap;
use jiff::{SignedDuration, Timestamp};
use serde::Deserialize;
use toml::Spanned;

pub use diagnostics::Problem;

use crate::runbook::{MARKS, parse_duration};

/// Names a scenario template may use after `lab.`.
pub const LAB_VARIABLES: &[&str] = &[
    "es_url",
    "auth_url",
    "issuer",
    "comms_url",
    "forum_url",
    "status_webhook_url",
    "es_api_key",
    "es_api_key_id",
    "oauth_client_id",
    "oauth_client_secret",
    "alexa_client_secret",
    "google_client_secret",
    "ifttt_client_secret",
    "forum_token",
    "es_version",
    "security",
];

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    pub scenario: Meta,
    #[serde(default)]
    pub inputs: IndexMap<String, Spanned<String>>,
    #[serde(default)]
    pub secrets: IndexMap<String, Spanned<String>>,
    #[serde(default)]
    pub facts: Vec<FactSpec>,
    #[serde(default)]
    pub reference: Vec<ReferenceMark>,
    #[serde(default)]
    pub injects: Vec<InjectSpec>,
    #[serde(default)]
    pub lab: LabSpec,
}

/// What the lab models for this scenario (`[lab]`); every field is optional.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LabSpec {
    #[serde(default)]
    pub es_version: Option<Spanned<String>>,
    #[serde(default)]
    pub security: Option<Spanned<String>>,
    /// `""` is an empty `path.repo` (a real install's default).
    #[serde(default)]
    pub path_repo: Option<String>,
    #[serde(default)]
    pub reopen_after_close: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    pub title: String,
    #[serde(default)]
    pub summary: Option<String>,
    /// Runbook to drill, relative to the scenario file.
    #[serde(default)]
    pub runbook: Option<Spanned<String>>,
    #[serde(default)]
    pub seed: Option<u64>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FactSpec {
    pub text: String,
    /// `+14m` / `-22d17h21m` from drill start, or an RFC 3339 time.
    pub occurred_at: Spanned<String>,
    /// Also set this mark at `occurred_at`.
    #[serde(default)]
    pub mark: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReferenceMark {
    pub mark: Spanned<String>,
    /// Time after the `reported` mark in the real case (`39m`, `6h39m`).
    pub after: Spanned<String>,
    #[serde(default)]
    pub note: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InjectSpec {
    pub at: Spanned<String>,
    pub title: String,
    pub body: String,
    /// Team drills: for this role in each team (default: the whole team).
    #[serde(default)]
    pub role: Option<Spanned<String>>,
}

/// A scenario read from disk.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub scenario: Scenario,
    pub path: PathBuf,
    pub source: String,
}

#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    #[error("cannot read scenario {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
    /// Rendered problems (caret snippets with file:line:col).
    #[error("{rendered}")]
    Invalid { rendered: String, count: usize },
    #[error("scenario template `{template}` for `{name}`: {message}")]
    Template {
        name: String,
        template: String,
        message: String,
    },
}

/// When a fact happened: relative to drill start, or a fixed time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    Offset(SignedDuration),
    At(Timestamp),
}

impl When {
    pub fn at(self, start: Timestamp) -> Timestamp {
        match self {
            When::Offset(d) => start.checked_add(d).unwrap_or(start),
            When::At(t) => t,
        }
    }
}

/// `+14m`, `-22d17h21m`, `0m` (a signed duration), or an RFC 3339 timestamp.
pub fn parse_when(text: &str) -> Result<When, String> {
    if let Ok(t) = text.parse::<Timestamp>() {
        return Ok(When::At(t));
    }
    parse_offset(text).map(When::Offset)
}

/// A signed offset: `+14m`, `-2h`, `30s`.
pub fn parse_offset(text: &str) -> Result<SignedDuration, String> {
    let text = text.trim();
    let (negative, rest) = match text.as_bytes().first() {
        Some(b'-') => (true, &text[1..]),
        Some(b'+') => (false, &text[1..]),
        _ => (false, text),
    };
    let d = parse_duration(rest)?;
    let d = SignedDuration::try_from(d).map_err(|_| format!("`{text}` is too long"))?;
    Ok(if negative { -d } else { d })
}

/// A timed inject, ready to schedule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inject {
    /// Scenario time after drill start (not yet divided by `--speed`).
    pub after: Duration,
    /// As written (`+14m`), for the journal's `inject` event.
    pub offset: String,
    pub title: String,
    pub body: String,
    /// Team drills: the role it is for (`None`: the whole team).
    pub role: Option<String>,
}

/// A starting fact, resolved against the drill's start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fact {
    pub text: String,
    pub occurred_at: Timestamp,
    pub mark: Option<String>,
}

/// The reference case's time for a mark, after `reported`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    pub mark: String,
    pub after: Duration,
    pub note: Option<String>,
}

/// Read and check a scenario. Every problem is reported at once.
pub fn load(path: &Path) -> Result<Loaded, ScenarioError> {
    let source = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let name = path.display().to_string();
    let problems = check_source(path, &source);
    if !problems.is_empty() {
        return Err(ScenarioError::Invalid {
            rendered: diagnostics::render(&name, &source, &problems),
            count: problems.len(),
        });
    }
    let scenario = toml::from_str(&source).map_err(|e| ScenarioError::Invalid {
        rendered: format!("{name}: {e}"),
        count: 1,
    })?;
    Ok(Loaded {
        scenario,
        path: path.to_path_buf(),
        source,
    })
}

/// Check a scenario file for `stanch check`: the rendered report, empty when it is fine.
pub fn check(path: &Path) -> Result<String, ScenarioError> {
    let source = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io {
        path: path.to_path_buf(),
        source,
    })?;
    let problems = check_source(path, &source);
    Ok(diagnostics::render(
        &path.display().to_string(),
        &source,
        &problems,
    ))
}

/// Whether a TOML file is a drill scenario (it has a top-level `[scenario]` table) rather than
/// a runbook: `stanch check` uses this to pick the checker.
pub fn is_scenario_file(path: &Path) -> bool {
    std::fs::read_to_string(path).is_ok_and(|text| {
        // Only a file with a line that could start a `scenario` table or key is parsed to make
        // sure: a runbook (the usual case) is not parsed twice by `stanch check`.
        let maybe = text.lines().map(str::trim_start).any(|line| {
            [
                "[scenario",
                "[[scenario",
                "scenario",
                "\"scenario\"",
                "'scenario'",
            ]
            .iter()
            .any(|start| line.starts_with(start))
        });
        maybe
            && text
                .parse::<toml::Table>()
                .is_ok_and(|table| table.contains_key("scenario"))
    })
}

/// Every problem in a scenario's text. `path` locates the runbook it names.
pub fn check_source(path: &Path, source: &str) -> Vec<Problem> {
    let scenario: Scenario = match toml::from_str(source) {
        Ok(s) => s,
        Err(e) => {
            let span = e.span().unwrap_or(0..0);
            return vec![Problem::new(e.message().trim(), span, None)];
        }
    };
    diagnostics::validate(path, &scenario)
}

impl Loaded {
    /// The runbook this scenario drills, if it names one.
    pub fn runbook_path(&self) -> Option<PathBuf> {
        let base = self.path.parent().unwrap_or_else(|| Path::new("."));
        self.scenario
            .scenario
            .runbook
            .as_ref()
            .map(|r| base.join(r.get_ref()))
    }

    /// Render the input and secret mappings against the lab's values (`lab.*`).
    pub fn resolve(&self, lab: &serde_json::Value) -> Result<Resolved, ScenarioError> {
        let templates = crate::template::Templates::new();
        let ctx = serde_json::json!({ "lab": lab });
        let render = |map: &IndexMap<String, Spanned<String>>| {
            map.iter()
                .map(|(name, t)| {
                    templates
                        .render(t.get_ref(), &ctx)
                        .map(|v| (name.clone(), v))
                        .map_err(|e| ScenarioError::Template {
                            name: name.clone(),
                            template: t.get_ref().clone(),
                            message: e.message,
                        })
                })
                .collect::<Result<Vec<_>, _>>()
        };
        Ok(Resolved {
            inputs: render(&self.scenario.inputs)?,
            secrets: render(&self.scenario.secrets)?,
        })
    }

    /// Starting facts against the drill's start time.
    pub fn facts(&self, start: Timestamp) -> Vec<Fact> {
        self.scenario
            .facts
            .iter()
            .filter_map(|f| {
                let when = parse_when(f.occurred_at.get_ref()).ok()?;
                Some(Fact {
                    text: f.text.clone(),
                    occurred_at: when.at(start),
                    mark: f.mark.as_ref().map(|m| m.get_ref().clone()),
                })
            })
            .collect()
    }

    /// Injects in time order.
    pub fn injects(&self) -> Vec<Inject> {
        let mut injects: Vec<Inject> = self
            .scenario
            .injects
            .iter()
            .filter_map(|i| {
                let d = parse_offset(i.at.get_ref()).ok()?;
                Some(Inject {
                    after: d.unsigned_abs(),
                    offset: i.at.get_ref().trim().to_owned(),
                    title: i.title.clone(),
                    body: i.body.clone(),
                    role: i.role.as_ref().map(|r| r.get_ref().clone()),
                })
            })
            .collect();
        injects.sort_by_key(|i| i.after);
        injects
    }

    /// The lab options this scenario asks for, over `base` (flags and defaults).
    pub fn lab_options(&self, base: &crate::lab::LabOptions) -> crate::lab::LabOptions {
        let spec = &self.scenario.lab;
        let mut options = base.clone();
        if let Some(v) = spec
            .es_version
            .as_ref()
            .and_then(|v| v.get_ref().parse().ok())
        {
            options.profile.version = v;
        }
        if let Some(s) = spec
            .security
            .as_ref()
            .and_then(|s| s.get_ref().parse().ok())
        {
            options.profile.security = s;
        }
        if let Some(p) = &spec.path_repo {
            options.path_repo = (!p.is_empty()).then(|| p.clone());
        }
        if let Some(d) = spec
            .reopen_after_close
            .as_ref()
            .and_then(|d| parse_duration(d.get_ref()).ok())
        {
            options.reopen_after_close = Some(d);
        }
        options
    }

    pub fn reference(&self) -> Vec<Reference> {
        self.scenario
            .reference
            .iter()
            .filter_map(|r| {
                Some(Reference {
                    mark: r.mark.get_ref().clone(),
                    after: parse_duration(r.after.get_ref()).ok()?,
                    note: r.note.clone(),
                })
            })
            .collect()
    }
}

/// Input and secret values for the runbook, rendered from the lab.
#[derive(Clone, PartialEq, Eq)]
pub struct Resolved {
    pub inputs: Vec<(String, String)>,
    /// Secret values: hand them to `secret::Secrets::from_values`, never print them.
    pub secrets: Vec<(String, String)>,
}

impl std::fmt::Debug for Resolved {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names: Vec<&str> = self.secrets.iter().map(|(n, _)| n.as_str()).collect();
        f.debug_struct("Resolved")
            .field("inputs", &self.inputs)
            .field("secrets", &names)
            .finish()
    }
}

/// Whether a mark name is one stanch knows.
pub fn is_mark(name: &str) -> bool {
    MARKS.contains(&name)
}
