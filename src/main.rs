//! The `stanch` binary: parse arguments, start logging, dispatch to one command.
//! Everything of substance lives in the library (`stanch::cli::*`).

use std::process::ExitCode;

use clap::Parser;

use stanch::cli::exit;

fn main() -> ExitCode {
    let cli = stanch::cli::Cli::parse();
    match stanch::cli::dispatch(cli) {
        Ok(code) => code,
        // `stanch list | head`: the reader had enough; that is not a failure.
        Err(err) if exit::is_broken_pipe(&err) => exit::code(exit::SUCCESS),
        Err(err) => {
            // `{:#}` prints the whole context chain on one line: what failed, and why.
            // Errors quote journal text, file names and server answers: escaped.
            eprintln!(
                "stanch: error: {}",
                stanch::text::escape(&format!("{err:#}"))
            );
            exit::code(exit::FAILURE)
        }
    }
}
