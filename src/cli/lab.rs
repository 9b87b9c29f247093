//! `stanch lab`.

use std::process::ExitCode;

pub fn run(args: &super::LabArgs) -> anyhow::Result<ExitCode> {
    let _ = args;
    anyhow::bail!("`stanch lab` is not built yet")
}
