//! The runbook data model, exactly as the file is written (see DESIGN.md "Runbook format").
//!
//! Values a diagnostic may need to point at are wrapped in [`Spanned`] (byte range in the
//! source). Accessors hide the spans from code that only wants the value.

use std::time::Duration;

use indexmap::IndexMap;
use serde::Deserialize;
pub use toml::Spanned;

/// A whole runbook file.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Runbook {
    pub runbook: Meta,
    /// Asked for when the incident opens (or given with `--set k=v`), in file order.
    #[serde(default)]
    pub inputs: IndexMap<String, Input>,
    #[serde(default)]
    pub secrets: IndexMap<String, SecretSpec>,
    #[serde(default)]
    pub targets: IndexMap<String, Target>,
    #[serde(default)]
    pub steps: Vec<Step>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Meta {
    pub id: Spanned<String>,
    pub title: String,
    #[serde(default)]
    pub severity: Option<String>,
    #[serde(default)]
    pub summary: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Input {
    pub prompt: String,
    #[serde(default)]
    pub default: Option<String>,
}

/// Where a secret comes from. Exactly one of the three must be set (checked by `validate`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SecretSpec {
    #[serde(default)]
    pub env: Option<String>,
    /// Path to a file that must have mode 0600 (relative to the runbook file).
    #[serde(default)]
    pub file: Option<Spanned<String>>,
    /// Ask with hidden input when the incident opens.
    #[serde(default)]
    pub prompt: Option<bool>,
}

/// A named HTTP endpoint: base URL, default headers, auth, TLS, timeout.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// Template for the base URL.
    pub url: Spanned<String>,
    #[serde(default)]
    pub headers: IndexMap<String, Spanned<String>>,
    #[serde(default)]
    pub auth: Option<Auth>,
    /// e.g. "10s"; default 30s.
    #[serde(default)]
    pub timeout: Option<Spanned<String>>,
    /// PEM file with extra CA certificates (relative to the runbook file).
    #[serde(default)]
    pub ca: Option<Spanned<String>>,
    /// PEM file with client certificate and key, for mTLS (relative to the runbook file).
    #[serde(default)]
    pub client_cert: Option<Spanned<String>>,
    /// Skip TLS verification. Allowed, but warned about loudly in the UI and the journal.
    #[serde(default)]
    pub insecure: bool,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    #[serde(default)]
    pub bearer: Option<Spanned<String>>,
    #[serde(default)]
    pub basic: Option<BasicAuth>,
    /// AWS Signature Version 4 on every request (see `engine::sigv4`).
    #[serde(default)]
    pub aws_sigv4: Option<Spanned<AwsSigV4>>,
}

/// `auth = { aws_sigv4 = { region, service, access_key?, secret_key?, session_token? } }`.
/// Every value is a template. A missing key pair is read from `AWS_ACCESS_KEY_ID` /
/// `AWS_SECRET_ACCESS_KEY` (and `AWS_SESSION_TOKEN`) when the request is prepared.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AwsSigV4 {
    pub region: Spanned<String>,
    pub service: Spanned<String>,
    #[serde(default)]
    pub access_key: Option<Spanned<String>>,
    #[serde(default)]
    pub secret_key: Option<Spanned<String>>,
    #[serde(default)]
    pub session_token: Option<Spanned<String>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BasicAuth {
    pub user: Spanned<String>,
    pub password: Spanned<String>,
}

/// One step of the runbook. Exactly one of `http`, `manual`, `draft` is set (see [`Step::action`]).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Step {
    pub id: Spanned<String>,
    /// confirm, contain, preserve, eradicate, notify, recover, review (free text; shown as lanes).
    pub phase: String,
    #[serde(default)]
    pub title: Option<String>,
    /// Markdown shown beside the step.
    #[serde(default)]
    pub notes: Option<String>,
    #[serde(default)]
    pub needs: Vec<Spanned<String>>,
    /// Destructive: the rendered text must be typed exactly before the step runs.
    #[serde(default)]
    pub confirm: Option<Spanned<String>>,
    /// Named time mark set when the step succeeds (see [`MARKS`]).
    #[serde(default)]
    pub mark: Option<Spanned<String>>,
    /// Bare expression; the step is skipped (reason recorded) when it is false.
    #[serde(default)]
    pub when: Option<Spanned<String>>,
    #[serde(default)]
    pub http: Option<Spanned<Http>>,
    #[serde(default)]
    pub manual: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub draft: Option<Spanned<Draft>>,
    /// Bare expressions that must all be true.
    #[serde(default)]
    pub expect: Vec<Spanned<String>>,
    /// name → bare expression, stored into `vars.<name>`.
    #[serde(default)]
    pub capture: IndexMap<String, Spanned<String>>,
    /// Keep the response body as evidence (content-addressed file + custody record).
    #[serde(default)]
    pub evidence: bool,
    #[serde(default)]
    pub retry: Option<Spanned<Retry>>,
    /// Bare expression yielding a list; one request per item (`item` in templates).
    #[serde(default)]
    pub foreach: Option<Spanned<String>>,
    /// Parallel requests for `foreach` (default 8).
    #[serde(default)]
    pub concurrency: Option<Spanned<u32>>,
    /// Follow a list API's continuation token page by page (see `engine::paginate`).
    #[serde(default)]
    pub paginate: Option<Spanned<Paginate>>,
}

/// `paginate = { next = "<expression>", param = "Marker", max_pages = 100 }`: after each page,
/// `next` (read against `response`) gives the token for the following page, sent as `param`;
/// none, false or an empty string ends the listing.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Paginate {
    pub next: Spanned<String>,
    pub param: Spanned<String>,
    /// Default [`DEFAULT_MAX_PAGES`].
    #[serde(default)]
    pub max_pages: Option<Spanned<u32>>,
}

/// Pages a `paginate` step follows when it does not say.
pub const DEFAULT_MAX_PAGES: u32 = 100;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Http {
    pub target: Spanned<String>,
    pub method: Spanned<String>,
    pub path: Spanned<String>,
    #[serde(default)]
    pub query: IndexMap<String, Spanned<String>>,
    #[serde(default)]
    pub headers: IndexMap<String, Spanned<String>>,
    /// JSON body; string values are templates, rendered one by one.
    #[serde(default)]
    pub json: Option<toml::Value>,
    /// XML body (`application/xml`), written from a table (see `engine::xml`): string values
    /// are templates, `"@name"` keys are attributes, arrays repeat the element.
    #[serde(default)]
    pub xml: Option<toml::Table>,
    /// Form body (`application/x-www-form-urlencoded`); values are templates.
    #[serde(default)]
    pub form: IndexMap<String, Spanned<String>>,
    /// Cap on the response body (e.g. "16MiB"); default 16 MiB.
    #[serde(default)]
    pub max_body: Option<Spanned<String>>,
    /// A step without `expect` passes on 2xx only; this lets it pass on 3xx too (stanch never
    /// follows a redirect, so a 3xx means the request was not carried out where it was sent).
    #[serde(default)]
    pub allow_redirect_status: Option<Spanned<bool>>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Draft {
    /// MiniJinja template file, relative to the runbook file.
    pub template: Spanned<String>,
    /// File name inside the incident's `drafts/`.
    pub output: Spanned<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retry {
    pub every: Spanned<String>,
    pub within: Spanned<String>,
}

/// The marks a step or a responder may set, in the order the post-mortem reads them.
pub const MARKS: &[&str] = &[
    "exposure_began",
    "reported",
    "aware",
    "contained",
    "evidence_preserved",
    "rotated",
    "notified",
    "resolved",
];

/// What a step does, with the spans stripped.
#[derive(Debug, Clone, Copy)]
pub enum Action<'a> {
    Http(&'a Http),
    Manual(&'a [String]),
    Draft(&'a Draft),
}

impl Runbook {
    pub fn id(&self) -> &str {
        self.runbook.id.get_ref()
    }

    pub fn step(&self, id: &str) -> Option<&Step> {
        self.steps.iter().find(|s| s.id() == id)
    }

    /// Phases in first-appearance order (the order lanes and sections are shown in).
    pub fn phases(&self) -> Vec<&str> {
        let mut phases: Vec<&str> = Vec::new();
        for step in &self.steps {
            if !phases.contains(&step.phase.as_str()) {
                phases.push(&step.phase);
            }
        }
        phases
    }
}

impl Step {
    pub fn id(&self) -> &str {
        self.id.get_ref()
    }

    /// Title, falling back to the id.
    pub fn title(&self) -> &str {
        self.title.as_deref().unwrap_or_else(|| self.id())
    }

    pub fn needs(&self) -> impl Iterator<Item = &str> {
        self.needs.iter().map(|n| n.get_ref().as_str())
    }

    pub fn is_destructive(&self) -> bool {
        self.confirm.is_some()
    }

    /// The step's one action. `None` only for a runbook that failed validation
    /// (zero actions); with two, the first in the order http, manual, draft wins.
    pub fn action(&self) -> Option<Action<'_>> {
        if let Some(http) = &self.http {
            Some(Action::Http(http.get_ref()))
        } else if let Some(manual) = &self.manual {
            Some(Action::Manual(manual.get_ref()))
        } else {
            self.draft.as_ref().map(|d| Action::Draft(d.get_ref()))
        }
    }
}

/// Parse a duration as runbooks write them: `500ms`, `2s`, `1m`, `1h30m`, `1d`.
/// Returns a human sentence on error (the caller adds the span).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    if text.is_empty() {
        return Err("empty duration; write e.g. \"2s\", \"1m\" or \"500ms\"".into());
    }
    let mut total = Duration::ZERO;
    let mut rest = text;
    while !rest.is_empty() {
        let digits = rest
            .find(|c: char| !c.is_ascii_digit())
            .unwrap_or(rest.len());
        if digits == 0 {
            return Err(format!(
                "`{text}` is not a duration; write e.g. \"2s\", \"1m\" or \"500ms\""
            ));
        }
        let number: u64 = rest[..digits]
            .parse()
            .map_err(|_| format!("`{text}`: number too large"))?;
        rest = &rest[digits..];
        let unit_len = rest
            .find(|c: char| c.is_ascii_digit())
            .unwrap_or(rest.len());
        let unit = &rest[..unit_len];
        rest = &rest[unit_len..];
        let part = match unit {
            "ms" => Duration::from_millis(number),
            "s" => Duration::from_secs(number),
            "m" => Duration::from_secs(number.saturating_mul(60)),
            "h" => Duration::from_secs(number.saturating_mul(3600)),
            "d" => Duration::from_secs(number.saturating_mul(86_400)),
            "" => return Err(format!("`{text}` has no unit; write e.g. \"{number}s\"")),
            other => {
                return Err(format!(
                    "`{text}`: unknown unit `{other}` (use ms, s, m, h or d)"
                ));
            }
        };
        total = total.saturating_add(part);
    }
    Ok(total)
}

/// Parse a byte size: `16MiB`, `512KiB`, `1GiB`, `1000` (bytes), also `MB`/`KB`.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let text = text.trim();
    let digits = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let number: u64 = text[..digits]
        .parse()
        .map_err(|_| format!("`{text}` is not a size; write e.g. \"16MiB\""))?;
    let factor: u64 = match text[digits..].trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        "KB" | "kB" => 1_000,
        "MB" => 1_000_000,
        "GB" => 1_000_000_000,
        other => {
            return Err(format!(
                "`{text}`: unknown unit `{other}` (use B, KiB, MiB, GiB)"
            ));
        }
    };
    number
        .checked_mul(factor)
        .ok_or_else(|| format!("`{text}` is too large"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse_like_runbooks_write_them() {
        assert_eq!(parse_duration("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_duration("1m"), Ok(Duration::from_mins(1)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_mins(90)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert!(parse_duration("2").unwrap_err().contains("no unit"));
        assert!(parse_duration("2 weeks").is_err());
        assert!(parse_duration("").is_err());
        assert!(parse_duration("s").is_err());
    }

    #[test]
    fn sizes_parse() {
        assert_eq!(parse_size("16MiB"), Ok(16 << 20));
        assert_eq!(parse_size("1000"), Ok(1000));
        assert!(parse_size("16 furlongs").is_err());
    }
}
