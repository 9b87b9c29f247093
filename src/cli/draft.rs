//! `stanch draft`.

use std::process::ExitCode;

pub fn run(args: &super::DraftArgs) -> anyhow::Result<ExitCode> {
    let _ = args;
    anyhow::bail!("`stanch draft` is not built yet")
}
