//! placeholder
use std::process::ExitCode;
pub fn auto(_: &super::super::DrillArgs) -> anyhow::Result<ExitCode> { anyhow::bail!("x") }
pub fn interactive(_: &super::super::DrillArgs) -> anyhow::Result<ExitCode> { anyhow::bail!("x") }
