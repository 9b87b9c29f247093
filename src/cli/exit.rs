//! Exit codes: the one table `main`, every command, `--help`, the man page and the README's
//! "Exit codes" section use; and what a reader that stops early (`| head`) means.
//!
//! | code | meaning |
//! | --- | --- |
//! | 0 | success (or the reader of standard output stopped early: see below) |
//! | 1 | failure: the command ran and the answer is no (a step failed or waits for a human in `run --headless` / `drill --auto`, `check` found problems, `verify` found damage), or an error stopped it (message on stderr) |
//! | 2 | usage: unknown command, flag or value (clap's own code) |
//! | 130 | aborted by the responder at the set-up form; nothing was opened or changed |
//!
//! A broken pipe on standard output is not a failure of the command: `run --headless` and
//! `drill --auto` write through [`QuietPipe`] and run to the end, exiting with their verdict;
//! `check` and `verify` do the same with theirs; every other command (export, list, man,
//! completions) ends quietly with 0 (see [`is_broken_pipe`], used by `main`).

use std::io::{self, Write};
use std::process::ExitCode;

/// The command did what was asked and the answer is yes.
pub const SUCCESS: u8 = 0;
/// The answer is no (see the table above), or an error stopped the command.
pub const FAILURE: u8 = 1;
/// Bad arguments: clap exits with this itself.
pub const USAGE: u8 = 2;
/// The responder aborted the set-up form (Esc / Ctrl-C): 128 + SIGINT, as shells report it.
pub const ABORTED: u8 = 130;

/// The table for `--help` and the man page (clap's `after_long_help`).
pub const HELP: &str = "\
Exit status:
  0    success (also when the reader of standard output stops early, e.g. `| head`)
  1    failure: a step failed or waits for a human (run --headless, drill --auto),
       check found problems, verify found damage, or an error (message on stderr)
  2    usage: unknown command, flag or value
  130  aborted by the responder at the set-up form; nothing was opened";

/// `ExitCode` for one of the constants above.
pub fn code(code: u8) -> ExitCode {
    ExitCode::from(code)
}

/// `SUCCESS` when `ok`, else `FAILURE`: a command's verdict.
pub fn verdict(ok: bool) -> ExitCode {
    code(if ok { SUCCESS } else { FAILURE })
}

/// Whether an error (anywhere in its chain) is standard output closed by its reader.
pub fn is_broken_pipe(err: &anyhow::Error) -> bool {
    err.chain().any(|cause| {
        cause
            .downcast_ref::<io::Error>()
            .is_some_and(|e| e.kind() == io::ErrorKind::BrokenPipe)
    })
}

/// A writer that turns a broken pipe into silence: once the reader has gone, further output
/// is dropped and the command carries on to its verdict.
pub struct QuietPipe<W> {
    inner: W,
    closed: bool,
}

impl<W: Write> QuietPipe<W> {
    pub fn new(inner: W) -> Self {
        Self {
            inner,
            closed: false,
        }
    }

    fn quiet(&mut self, result: io::Result<usize>, len: usize) -> io::Result<usize> {
        match result {
            Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {
                self.closed = true;
                Ok(len)
            }
            other => other,
        }
    }
}

impl<W: Write> Write for QuietPipe<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if self.closed {
            return Ok(buf.len());
        }
        let result = self.inner.write(buf);
        self.quiet(result, buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        if self.closed {
            return Ok(());
        }
        let result = self.inner.flush().map(|()| 0);
        self.quiet(result, 0).map(|_| ())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A reader that went away after `room` bytes.
    struct Closing {
        room: usize,
        got: Vec<u8>,
    }

    impl Write for Closing {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            if self.got.len() + buf.len() > self.room {
                return Err(io::ErrorKind::BrokenPipe.into());
            }
            self.got.extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn a_broken_pipe_is_silence_and_other_errors_are_not() {
        let mut out = QuietPipe::new(Closing {
            room: 6,
            got: Vec::new(),
        });
        writeln!(out, "line1").unwrap();
        writeln!(out, "line2").unwrap();
        writeln!(out, "line3").unwrap();
        out.flush().unwrap();
        assert_eq!(out.inner.got, b"line1\n");
        assert!(out.closed);

        let err = anyhow::Error::from(io::Error::from(io::ErrorKind::BrokenPipe))
            .context("writing the export");
        assert!(is_broken_pipe(&err));
        assert!(!is_broken_pipe(&anyhow::anyhow!("disk full")));
    }
}
