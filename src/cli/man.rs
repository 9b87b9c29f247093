//! `stanch man [--dir DIR]`: the roff man page, generated from the clap definitions (every
//! command, flag and the exit status table). On stdout `stanch.1`; with `--dir`, `stanch.1`
//! and one `stanch-<command>.1` per command, written into DIR.

use std::io::Write;
use std::process::ExitCode;

use anyhow::Context as _;
use clap::CommandFactory as _;

use super::exit;

/// The man page of `stanch` itself (section 1).
pub fn page() -> anyhow::Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(super::Cli::command())
        .render(&mut out)
        .context("rendering the man page")?;
    Ok(out)
}

pub fn run(args: &super::ManArgs) -> anyhow::Result<ExitCode> {
    if let Some(dir) = &args.dir {
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        clap_mangen::generate_to(super::Cli::command(), dir)
            .with_context(|| format!("writing man pages into {}", dir.display()))?;
        eprintln!("stanch: wrote the man pages into {}", dir.display());
    } else {
        let mut stdout = std::io::stdout().lock();
        stdout.write_all(&page()?)?;
        stdout.flush()?;
    }
    Ok(exit::code(exit::SUCCESS))
}
