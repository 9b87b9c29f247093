//! `stanch completions bash|zsh|fish|powershell`: the shell completion script for every
//! command and flag, generated from the clap definitions (so it never drifts), on stdout.

use std::io::Write;
use std::process::ExitCode;

use clap::{CommandFactory as _, ValueEnum};
use clap_complete::Shell as Generator;

use super::exit;

/// The shells stanch writes completions for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Shell {
    Bash,
    Zsh,
    Fish,
    Powershell,
}

impl Shell {
    fn generator(self) -> Generator {
        match self {
            Shell::Bash => Generator::Bash,
            Shell::Zsh => Generator::Zsh,
            Shell::Fish => Generator::Fish,
            Shell::Powershell => Generator::PowerShell,
        }
    }
}

/// The completion script for `shell`.
pub fn script(shell: Shell) -> Vec<u8> {
    let mut command = super::Cli::command();
    let mut out = Vec::new();
    clap_complete::generate(shell.generator(), &mut command, "stanch", &mut out);
    out
}

pub fn run(args: &super::CompletionsArgs) -> anyhow::Result<ExitCode> {
    let mut stdout = std::io::stdout().lock();
    stdout.write_all(&script(args.shell))?;
    stdout.flush()?;
    Ok(exit::code(exit::SUCCESS))
}
