//! The `stanch` binary: parse arguments, start logging, dispatch to one command.
//! Everything of substance lives in the library (`stanch::cli::*`).

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = stanch::cli::Cli::parse();
    match stanch::cli::dispatch(cli) {
        Ok(code) => code,
        Err(err) => {
            // `{:#}` prints the whole context chain on one line: what failed, and why.
            // Errors quote journal text, file names and server answers: escaped.
            eprintln!(
                "stanch: error: {}",
                stanch::text::escape(&format!("{err:#}"))
            );
            ExitCode::FAILURE
        }
    }
}
