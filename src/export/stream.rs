//! Streaming replay for `stanch export`: read the journal line by line into a
//! [`report::Builder`], so a 100,000-event incident exports in memory proportional to the
//! report, not to the journal (`journal::read` holds the file's bytes and every event at once).
//!
//! The checks are `journal::replay`'s own (`check_line`, `is_torn`), applied as lines arrive: each line must be
//! an event with the next `seq`, the previous event's hash as `prev`, and a `hash` matching its
//! content; `journal.head` must not be ahead of (or disagree with) the file. A torn tail (an
//! unterminated last line, or NUL/blank lines from a zeroed block) is left out, as a reader of
//! a live incident must; anything else is damage, reported as [`ExportError::Broken`] with the
//! same [`Broken`] value `stanch verify` shows. This module never writes.

use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use super::{ExportError, Report, Sources, report};
use crate::journal::event::GENESIS;
use crate::journal::replay::{check_line, is_torn, read_head};
use crate::journal::writer::JOURNAL_FILE;
use crate::journal::{Broken, Fault};

/// Replay the journal in `incident_dir` line by line into a [`Report`].
/// Line buffer capacity kept between lines; a larger one is freed once its line is parsed.
const LINE_KEPT: usize = 1 << 20;

pub fn build_from_journal(incident_dir: &Path) -> Result<Report, ExportError> {
    let path = incident_dir.join(JOURNAL_FILE);
    let io = |source| ExportError::Io {
        path: path.clone(),
        source,
    };
    let broken = |broken| ExportError::Broken {
        path: path.clone(),
        broken,
    };
    // Head first: a live writer only moves it forward after syncing more journal.
    let head = read_head(incident_dir);
    let mut reader = BufReader::new(std::fs::File::open(&path).map_err(io)?);
    let mut builder = report::Builder::default();
    let (mut last_seq, mut last_hash) = (0_u64, GENESIS.to_owned());
    let mut line = Vec::with_capacity(1024);
    let mut number = 0_usize;
    loop {
        line.clear();
        if reader.read_until(b'\n', &mut line).map_err(io)? == 0 {
            break;
        }
        number += 1;
        let Some(content) = line.strip_suffix(b"\n") else {
            break; // an unterminated last line was never acknowledged
        };
        let checked = check_line(content, last_seq + 1, &last_hash);
        if checked.is_ok() && line.capacity() > LINE_KEPT {
            // One huge line (a large capture) must not stay allocated beside its event.
            line = Vec::with_capacity(1024);
        }
        match checked {
            Ok(event) => {
                if let Some(head) = &head
                    && head.seq == event.seq
                    && head.hash != event.hash
                {
                    return Err(broken(Broken {
                        seq: event.seq,
                        line: number,
                        fault: Fault::HeadMismatch,
                    }));
                }
                last_seq = event.seq;
                last_hash.clone_from(&event.hash);
                builder.push(event);
            }
            Err(fault) => {
                let mut rest = line.clone();
                reader.read_to_end(&mut rest).map_err(io)?;
                if is_torn(&rest) {
                    break;
                }
                return Err(broken(Broken {
                    seq: last_seq + 1,
                    line: number,
                    fault,
                }));
            }
        }
    }
    if let Some(head) = head.filter(|h| h.seq > last_seq) {
        return Err(broken(Broken {
            seq: last_seq + 1,
            line: number + 1,
            fault: Fault::Truncated {
                last: last_seq,
                head: head.seq,
            },
        }));
    }
    let sources = Sources::read(incident_dir, builder.incident());
    Ok(builder.finish(&sources))
}
