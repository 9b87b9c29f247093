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
    // The report quotes journal text (kinds, file names): escaped for the terminal.
    let mut out = crate::text::Escaping::new(super::exit::QuietPipe::new(std::io::stdout().lock()));
    write!(out, "{}: {report}", args.id)?;
    out.flush()?;
    Ok(super::exit::verdict(report.is_ok()))
}
