//! `stanch verify`.

use std::process::ExitCode;

pub fn run(args: &super::VerifyArgs) -> anyhow::Result<ExitCode> {
    let _ = args;
    anyhow::bail!("`stanch verify` is not built yet")
}
