//! [`verify`]: re-check an incident after the fact, the way an auditor would: the hash chain
//! (and `journal.head`), then every `evidence.captured` file's SHA-256 and size, and every
//! checkpoint file the chain names against its `checkpoint` event (an absent one is no fault:
//! checkpoints are a cache; a file no event names is never read, so it is not checked).
//!
//! Read-only and lock-free: it can run while the incident is open elsewhere. It reports; it
//! never repairs (a torn tail is noted, and left for the next writer's open to quarantine).
//!
//! The journal is streamed ([`stream_lines`](super::stream::stream_lines)), hashing as it
//! reads: memory stays bounded by one batch of lines whatever the journal's size, and a line
//! as the writer wrote it is checked in place (its own bytes hashed, no event built); only the
//! evidence records are parsed and kept, to check their files once the chain has been read.

use std::collections::BTreeSet;
use std::fmt;
use std::io::Read;
use std::path::{Component, Path, PathBuf};

use sha2::{Digest, Sha256};

use super::checkpoint::Fallback;
use super::event::{Event, Kind, hex};
use super::payload::{EvidenceCaptured, Payload};
use super::replay::Broken;
use super::writer::{JOURNAL_FILE, JournalError};

/// What is wrong with one evidence file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum EvidenceFault {
    #[error("file is missing")]
    Missing,
    #[error("cannot read the file: {0}")]
    Unreadable(String),
    #[error("the recorded path is not inside the incident's evidence directory")]
    BadPath,
    #[error("SHA-256 is {actual}, the journal recorded {expected}")]
    Sha256 { expected: String, actual: String },
    #[error("size is {actual} bytes, the journal recorded {expected}")]
    Bytes { expected: u64, actual: u64 },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EvidenceProblem {
    /// Seq of the `evidence.captured` event.
    pub seq: u64,
    pub file: String,
    pub fault: EvidenceFault,
}

/// The verdict on one incident directory.
#[derive(Debug, Clone, Default)]
pub struct VerifyReport {
    /// Good events (all of them when the chain holds; those before the damage otherwise).
    pub events: u64,
    pub last_seq: u64,
    pub last_hash: String,
    /// Distinct evidence files checked.
    pub evidence_files: usize,
    /// The first bad event, if the chain is damaged.
    pub broken: Option<Broken>,
    pub evidence: Vec<EvidenceProblem>,
    /// Bytes of an unrecovered torn tail (a crash mid-write; not a fault in recorded history).
    pub torn_bytes: u64,
    /// Checkpoint files present and matching the `checkpoint` event that names them.
    pub checkpoint_files: usize,
    /// Checkpoint files that are not what their event recorded (a reader falls back to a
    /// full replay, but a changed file is still a changed file).
    pub checkpoints: Vec<CheckpointProblem>,
}

/// A checkpoint file that does not match its `checkpoint` event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckpointProblem {
    /// Seq of the `checkpoint` event.
    pub seq: u64,
    pub file: String,
    pub fault: Fallback,
}

impl VerifyReport {
    pub fn is_ok(&self) -> bool {
        self.broken.is_none() && self.evidence.is_empty() && self.checkpoints.is_empty()
    }
}

impl fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(broken) = &self.broken {
            writeln!(
                f,
                "DAMAGED: first bad event is seq {} (line {}): {}",
                broken.seq, broken.line, broken.fault
            )?;
            match self.last_seq {
                0 => writeln!(
                    f,
                    "  no event before it; nothing in the journal can be trusted"
                )?,
                1 => writeln!(f, "  event 1 is intact; nothing after it can be trusted")?,
                last => writeln!(
                    f,
                    "  events 1..{last} are intact; nothing after them can be trusted"
                )?,
            }
        }
        for problem in &self.evidence {
            writeln!(
                f,
                "EVIDENCE: {} (seq {}): {}",
                problem.file, problem.seq, problem.fault
            )?;
        }
        for problem in &self.checkpoints {
            writeln!(
                f,
                "CHECKPOINT: {} (seq {}): {}",
                problem.file, problem.seq, problem.fault
            )?;
        }
        if self.is_ok() {
            writeln!(
                f,
                "ok: {} events, last seq {} hash {}…, {} evidence files",
                self.events,
                self.last_seq,
                self.last_hash.get(..12).unwrap_or(&self.last_hash),
                self.evidence_files
            )?;
        }
        if self.checkpoint_files > 0 && self.is_ok() {
            writeln!(
                f,
                "checkpoints: {} file(s) match the events that recorded them",
                self.checkpoint_files
            )?;
        }
        if self.torn_bytes > 0 {
            writeln!(
                f,
                "note: {} bytes of a torn last line after seq {} (a crash mid-write; never acknowledged); the next open moves them to journal.torn-*",
                self.torn_bytes, self.last_seq
            )?;
        }
        Ok(())
    }
}

/// Verify the journal and evidence of the incident in `dir`.
pub fn verify(dir: &Path) -> Result<VerifyReport, JournalError> {
    let path = dir.join(JOURNAL_FILE);
    let mut evidence = Vec::new();
    let mut checkpoints = Vec::new();
    let streamed = super::stream::stream_lines(dir, |line| {
        if line.kind == Kind::EvidenceCaptured {
            evidence.push((line.seq, line.event()));
        } else if line.kind == Kind::Checkpoint {
            // A line that linked into the chain parses; one that ever did not is skipped here
            // and named by the chain check itself.
            if let Ok(event) = line.event() {
                checkpoints.push(event);
            }
        }
    })
    .map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            JournalError::Missing(dir.to_path_buf())
        } else {
            JournalError::Io { path, source: e }
        }
    })?;
    let mut report = VerifyReport {
        events: streamed.events,
        last_seq: streamed.last_seq,
        last_hash: streamed.last_hash,
        torn_bytes: streamed.torn_bytes,
        broken: streamed.broken,
        ..VerifyReport::default()
    };
    let mut checked = BTreeSet::new();
    for (seq, event) in evidence {
        // A line that linked into the chain parses; were it ever not so, it is reported.
        let (file, fault) = match &event {
            Ok(event) => check_evidence(dir, event),
            Err(fault) => (
                String::new(),
                Some(EvidenceFault::Unreadable(fault.to_string())),
            ),
        };
        checked.insert(file.clone());
        if let Some(fault) = fault {
            report.evidence.push(EvidenceProblem { seq, file, fault });
        }
    }
    report.evidence_files = checked.len();
    for event in &checkpoints {
        match super::checkpoint::check(dir, event) {
            Some((file, fault)) => report.checkpoints.push(CheckpointProblem {
                seq: event.seq,
                file,
                fault,
            }),
            None if super::checkpoint::present(dir, event) => report.checkpoint_files += 1,
            None => {}
        }
    }
    Ok(report)
}

/// The evidence file an event names (`data.file`, else `evidence/<sha256>`) and what, if
/// anything, is wrong with it.
fn check_evidence(dir: &Path, event: &Event) -> (String, Option<EvidenceFault>) {
    let record = match event.payload() {
        Ok(Payload::EvidenceCaptured(record)) => record,
        Ok(_) => EvidenceCaptured::default(),
        Err(e) => {
            return (
                String::new(),
                Some(EvidenceFault::Unreadable(e.to_string())),
            );
        }
    };
    let expected_sha = record.sha256;
    let file = if record.file.is_empty() {
        format!("evidence/{expected_sha}")
    } else {
        record.file
    };
    let relative = PathBuf::from(&file);
    let inside = !file.is_empty()
        && relative
            .components()
            .all(|c| matches!(c, Component::Normal(_)));
    if !inside {
        return (file, Some(EvidenceFault::BadPath));
    }
    let (actual_sha, actual_bytes) = match sha256_file(&dir.join(&relative)) {
        Ok(found) => found,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return (file, Some(EvidenceFault::Missing));
        }
        Err(e) => return (file, Some(EvidenceFault::Unreadable(e.to_string()))),
    };
    if actual_sha != expected_sha {
        return (
            file,
            Some(EvidenceFault::Sha256 {
                expected: expected_sha,
                actual: actual_sha,
            }),
        );
    }
    let fault = (record.bytes != actual_bytes).then_some(EvidenceFault::Bytes {
        expected: record.bytes,
        actual: actual_bytes,
    });
    (file, fault)
}

/// SHA-256 and size of a file, streamed (evidence can be large).
fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 64 * 1024];
    let mut total = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
    Ok((hex(&hasher.finalize()), total))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journal::event::sha256_hex;
    use crate::journal::{Journal, NewEvent};

    /// An incident with one evidence event per `(file, sha256, bytes)`.
    fn incident(evidence: &[(&str, &str, u64)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap();
        let journal = Journal::create(dir.path(), "alice").unwrap();
        for (file, sha, bytes) in evidence {
            journal
                .append_blocking(NewEvent::for_step(
                    Kind::EvidenceCaptured,
                    "probe",
                    serde_json::json!({ "file": file, "sha256": sha, "bytes": bytes }),
                ))
                .unwrap();
        }
        dir
    }

    #[test]
    fn evidence_faults_are_each_named() {
        let body = b"cluster state";
        let sha = sha256_hex(body);
        let good = format!("evidence/{sha}");
        let dir = incident(&[
            (&good, &sha, 13),
            (&good, &sha, 13), // the same file captured twice counts once
            ("evidence/missing", &sha, 13),
            ("../outside", &sha, 13),
            (&good, &"0".repeat(64), 13),
            (&good, &sha, 99),
        ]);
        std::fs::create_dir_all(dir.path().join("evidence")).unwrap();
        std::fs::write(dir.path().join(&good), body).unwrap();

        let report = verify(dir.path()).unwrap();
        let faults: Vec<(u64, &EvidenceFault)> =
            report.evidence.iter().map(|p| (p.seq, &p.fault)).collect();
        assert_eq!(
            faults,
            [
                (3, &EvidenceFault::Missing),
                (4, &EvidenceFault::BadPath),
                (
                    5,
                    &EvidenceFault::Sha256 {
                        expected: "0".repeat(64),
                        actual: sha.clone()
                    }
                ),
                (
                    6,
                    &EvidenceFault::Bytes {
                        expected: 99,
                        actual: 13
                    }
                ),
            ]
        );
        assert_eq!(report.evidence_files, 3);
        assert!(!report.is_ok());
        assert!(report.broken.is_none());
        assert!(
            report
                .to_string()
                .starts_with("EVIDENCE: evidence/missing (seq 3): file is missing\n")
        );
    }

    #[test]
    fn torn_tail_is_noted_but_not_a_failure() {
        let dir = incident(&[]);
        let path = dir.path().join(JOURNAL_FILE);
        let mut bytes = std::fs::read(&path).unwrap();
        bytes.extend_from_slice(b"{\"seq\":1,");
        std::fs::write(&path, bytes).unwrap();
        let report = verify(dir.path()).unwrap();
        assert!(report.is_ok());
        assert_eq!(report.torn_bytes, 9);
        assert!(
            report
                .to_string()
                .contains("note: 9 bytes of a torn last line after seq 0")
        );
    }
}
