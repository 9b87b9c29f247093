//! `stanch verify ID`: re-check an incident's hash chain and evidence files; print the
//! verdict and exit 1 on any problem (so scripts and CI can rely on it). With `--team`, the
//! local mirror is synced (every link verified on the way) and then verified the same way.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context;

pub fn run(args: &super::VerifyArgs) -> anyhow::Result<ExitCode> {
    if let Some(url) = super::team::url(&args.team) {
        super::team::sync_incident(&url, &args.id)?;
    }
    let dir = crate::paths::incident_dir(&args.id)?;
    if !dir.join(crate::journal::writer::JOURNAL_FILE).is_file() {
        anyhow::bail!(
            "no incident `{}` in {} (see `stanch list`)",
            args.id,
            crate::paths::incidents_dir()?.display()
        );
    }
    let report =
        crate::journal::verify(&dir).with_context(|| format!("verifying incident {}", args.id))?;
    let mut out = std::io::stdout().lock();
    write!(out, "{}: {report}", args.id)?;
    Ok(if report.is_ok() {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}
