//! `stanch resume`.

use std::process::ExitCode;

pub fn run(args: &super::ResumeArgs) -> anyhow::Result<ExitCode> {
    let _ = args;
    anyhow::bail!("`stanch resume` is not built yet")
}
