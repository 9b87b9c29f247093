//! `stanch run`.

use std::process::ExitCode;

pub fn run(args: &super::RunArgs) -> anyhow::Result<ExitCode> {
    if args.headless {
        return super::headless::run(args);
    }
    let _ = args;
    anyhow::bail!("`stanch run` is not built yet")
}
