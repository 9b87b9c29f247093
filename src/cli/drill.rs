//! `stanch drill`.

use std::process::ExitCode;

pub fn run(args: &super::DrillArgs) -> anyhow::Result<ExitCode> {
    let _ = args;
    anyhow::bail!("`stanch drill` is not built yet")
}
