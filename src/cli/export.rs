//! `stanch export`.

use std::process::ExitCode;

pub fn run(args: &super::ExportArgs) -> anyhow::Result<ExitCode> {
    let _ = args;
    anyhow::bail!("`stanch export` is not built yet")
}
