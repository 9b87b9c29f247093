//! The real binary, run as a user runs it.

use std::path::Path;
use std::process::{Command, Output};

/// `stanch` with its data under `data` (each caller adds its own environment).
pub fn stanch(data: &Path) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_stanch"));
    command.env("STANCH_DATA_DIR", data);
    command
}

/// Run `command` to its end; its output, after it succeeded (else the test fails naming the
/// command and what it wrote to stderr).
pub fn succeeded(command: &mut Command) -> Output {
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{command:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}
