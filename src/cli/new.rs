//! `stanch new NAME [-o FILE]`: write a commented starter runbook (default `NAME.toml` in the
//! current directory, never over an existing file) that passes `stanch check` as written: one
//! step of each kind a responder meets first (a read with evidence, a destructive write with
//! typed confirmation, a poll until it holds, a manual checklist), each comment saying what
//! to change.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context as _, bail};

use super::exit;

/// The starter runbook; `{id}` is replaced by the runbook's id.
const STARTER: &str = r#"# {id}: a stanch runbook. Replace every TODO, then:
#   stanch check {id}.toml          validate (caret diagnostics with file:line:col)
#   stanch run {id}.toml            open an incident and follow it in the terminal UI
# Format: README "Runbook format". Editors with a TOML language server (Taplo, Even Better
# TOML) complete and check this file with stanch's schema/runbook.schema.json.

[runbook]
id = "{id}"                          # journalled with every incident; letters, digits, - and _
title = "TODO: what is exposed, in one line"
severity = "SEV2"                    # free text
summary = "TODO: when to use this runbook and what it achieves."

# Inputs are asked for when the incident opens (or given with --set name=value).
[inputs.base_url]
prompt = "Base URL of the exposed service"
default = "http://127.0.0.1:9200"

[inputs.index]
prompt = "Exposed index"

# Secrets come from exactly one place: env = "VAR", file = "path" (mode 0600) or prompt = true.
# They reach requests only, and are masked in everything stanch writes.
[secrets.api_key]
env = "STANCH_API_KEY"

# A named endpoint the steps call.
[targets.service]
url = "{{ inputs.base_url }}"
headers = { Authorization = "ApiKey {{ secrets.api_key }}" }
timeout = "10s"

# Confirm: read-only, so it runs without asking. The body is kept as evidence (SHA-256 and
# custody record in the journal) and the count is captured for later steps and the notices.
[[steps]]
id = "count-exposed"
phase = "confirm"
title = "Count the exposed records"
notes = "How many records can anyone read right now? Keep the answer as evidence."
http = { target = "service", method = "GET", path = "/{{ inputs.index }}/_count" }
expect = ["response.status == 200"]
capture = { exposed_docs = "response.json.count" }
evidence = true

# Contain: destructive, so the responder must type the confirmation text to run it. Success
# sets the `contained` time mark the post-mortem and the notices use.
[[steps]]
id = "close-index"
phase = "contain"
title = "Close the exposed index"
needs = ["count-exposed"]
confirm = "{{ inputs.index }}"
mark = "contained"
http = { target = "service", method = "POST", path = "/{{ inputs.index }}/_close" }
expect = ["response.json.acknowledged"]

# Verify: poll until the index is really closed (or give up after a minute).
[[steps]]
id = "verify-closed"
phase = "contain"
title = "Check that reads are refused"
needs = ["close-index"]
http = { target = "service", method = "GET", path = "/{{ inputs.index }}/_count" }
expect = ["response.status == 400"]
retry = { every = "2s", within = "1m" }

# Notify: a checklist for a human; the journal records who ticked what, when.
[[steps]]
id = "tell-legal"
phase = "notify"
title = "Tell legal counsel"
needs = ["count-exposed"]
manual = [
  "Legal counsel informed of {{ inputs.index }}",
  "Notification deadline noted (GDPR Art. 33: 72 hours from awareness)",
]
"#;

/// The starter runbook for `id`.
pub fn starter(id: &str) -> String {
    STARTER.replace("{id}", id)
}

/// Whether `name` can be a runbook id (and a file name): letters, digits, `-` and `_`.
fn valid_id(name: &str) -> bool {
    !name.is_empty()
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
}

pub fn run(args: &super::NewArgs) -> anyhow::Result<ExitCode> {
    if !valid_id(&args.name) {
        bail!(
            "`{}` cannot be a runbook id: use letters, digits, '-' and '_' only",
            args.name
        );
    }
    let path = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.toml", args.name)));
    let mut file = std::fs::File::create_new(&path).with_context(|| {
        format!(
            "cannot create {} (stanch new never overwrites a file)",
            path.display()
        )
    })?;
    file.write_all(starter(&args.name).as_bytes())
        .with_context(|| format!("writing {}", path.display()))?;
    println!(
        "wrote {0}: replace its TODOs, then `stanch check {0}`",
        path.display()
    );
    Ok(exit::code(exit::SUCCESS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_starter_passes_check_as_written() {
        let text = starter("my-runbook");
        let problems = crate::runbook::check_source("my-runbook.toml", &text);
        assert!(
            problems.is_empty(),
            "{}",
            crate::runbook::render_diagnostics("my-runbook.toml", &text, &problems)
        );
        let parsed = crate::runbook::parse(&text).unwrap();
        assert_eq!(parsed.runbook.id(), "my-runbook");
    }

    #[test]
    fn ids_that_are_not_file_safe_are_refused() {
        for bad in ["", "../x", "a b", "a/b", "é"] {
            assert!(!valid_id(bad), "{bad}");
        }
        assert!(valid_id("es-exposure_2"));
    }
}
