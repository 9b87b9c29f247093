//! `stanch list`.

use std::process::ExitCode;

pub fn run() -> anyhow::Result<ExitCode> {
    anyhow::bail!("`stanch list` is not built yet")
}
