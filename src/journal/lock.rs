//! The one-writer rule: an exclusive `flock` on `<incident>/lock`, held for as long as a
//! [`Journal`](super::Journal) is open, with the holder's pid, user, host and start time
//! written inside so a second writer can be told who has the incident.
//!
//! This module only takes and describes the lock; it never reads or writes the journal. The
//! lock file is left behind when the holder exits (its contents then describe the last holder);
//! the kernel drops the `flock` itself when the holder's process dies, even on SIGKILL. The
//! lock file is private (0600) and never opened through a link (see [`crate::private`]).
//!
//! The lock is std's `File::try_lock` (stable since Rust 1.89) rather than fs4 or fd-lock:
//! the same `flock` semantics with one dependency fewer.

use std::fs::{File, TryLockError};
use std::io::{Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

/// File name of the lock inside the incident directory.
pub const LOCK_FILE: &str = "lock";

/// How long a busy lock is retried before its holder is reported.
const GRACE: Duration = Duration::from_millis(300);

/// Who holds (or last held) an incident's lock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Holder {
    pub pid: u32,
    pub user: String,
    pub host: String,
    pub since: Timestamp,
}

impl Holder {
    fn current(actor: &str) -> Self {
        let now = Timestamp::now();
        Self {
            pid: std::process::id(),
            user: std::env::var("USER")
                .ok()
                .filter(|u| !u.is_empty())
                .unwrap_or_else(|| actor.to_owned()),
            host: hostname(),
            since: now.round(jiff::Unit::Second).unwrap_or(now),
        }
    }
}

impl std::fmt::Display for Holder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}@{} (pid {}) since {}",
            self.user, self.host, self.pid, self.since
        )
    }
}

/// The machine's name, for the holder record; `unknown-host` when it cannot be read.
fn hostname() -> String {
    std::env::var("HOSTNAME")
        .ok()
        .or_else(|| std::fs::read_to_string("/proc/sys/kernel/hostname").ok())
        .or_else(|| std::fs::read_to_string("/etc/hostname").ok())
        .map(|h| h.trim().to_owned())
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".to_owned())
}

#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process (or another open handle in this one) writes this incident.
    #[error("incident {dir} is already open for writing by {holder}; close it there first")]
    Held { dir: PathBuf, holder: String },
    #[error("cannot lock {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// A held lock; released when dropped (or when the process dies).
#[derive(Debug)]
pub struct Lock {
    // Never read: holding the open file is what holds the flock.
    _file: File,
    holder: Holder,
}

impl Lock {
    /// Take the exclusive lock on `dir` for `actor`, or say who has it.
    pub fn acquire(dir: &Path, actor: &str) -> Result<Self, LockError> {
        let path = dir.join(LOCK_FILE);
        let io = |source| LockError::Io {
            path: path.clone(),
            source,
        };
        // No truncate: the file must keep the current holder's record until we own the lock.
        // Never through a link, mode 0600 (see `private`).
        let (mut file, tightened) = crate::private::open_or_create(&path).map_err(io)?;
        if let Some(tightened) = tightened {
            tracing::warn!("{tightened}");
        }
        // A lock that was just released can still look held for a moment: a sibling thread's
        // fork+exec briefly duplicates every descriptor, the flock with them. So a busy lock
        // is retried for a short grace period before its holder is reported.
        let deadline = Instant::now() + GRACE;
        loop {
            match file.try_lock() {
                Ok(()) => break,
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(10));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(LockError::Held {
                        dir: dir.to_path_buf(),
                        holder: describe(&mut file),
                    });
                }
                Err(TryLockError::Error(e)) => return Err(io(e)),
            }
        }
        let holder = Holder::current(actor);
        let mut record = serde_json::to_vec(&holder).unwrap_or_default();
        record.push(b'\n');
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        file.write_all(&record).map_err(io)?;
        Ok(Self {
            _file: file,
            holder,
        })
    }

    pub fn holder(&self) -> &Holder {
        &self.holder
    }
}

/// The holder record in a lock file, if it can be read (a holder that crashed between
/// locking and writing its record leaves none).
fn read_holder(file: &mut File) -> Option<Holder> {
    let mut text = String::new();
    file.read_to_string(&mut text).ok()?;
    serde_json::from_str(text.trim()).ok()
}

fn describe(file: &mut File) -> String {
    read_holder(file).map_or_else(
        || "another process (holder record unreadable)".to_owned(),
        |h| h.to_string(),
    )
}

/// Who holds `dir`'s lock right now, if anyone, in short (`alice@host pid 4242`, for
/// `stanch list`). Takes a shared lock for an instant to find out, so it never blocks and
/// never disturbs the holder.
pub fn holder_of(dir: &Path) -> Option<String> {
    let mut file = crate::private::open_read(&dir.join(LOCK_FILE)).ok()?;
    match file.try_lock_shared() {
        Ok(()) => {
            let _ = file.unlock();
            None
        }
        Err(TryLockError::WouldBlock) => Some(read_holder(&mut file).map_or_else(
            || "another process".to_owned(),
            |h| format!("{}@{} pid {}", h.user, h.host, h.pid),
        )),
        Err(TryLockError::Error(_)) => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn second_lock_names_the_first_holder() {
        let dir = tempfile::tempdir().unwrap();
        let first = Lock::acquire(dir.path(), "alice").unwrap();
        let err = Lock::acquire(dir.path(), "bob").unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains(&format!("(pid {})", std::process::id())),
            "{text}"
        );
        assert!(text.contains(&first.holder().host), "{text}");
        let h = first.holder();
        assert_eq!(
            holder_of(dir.path()),
            Some(format!("{}@{} pid {}", h.user, h.host, h.pid))
        );
    }

    #[test]
    fn lock_is_free_again_after_drop() {
        let dir = tempfile::tempdir().unwrap();
        drop(Lock::acquire(dir.path(), "alice").unwrap());
        assert_eq!(holder_of(dir.path()), None);
        Lock::acquire(dir.path(), "bob").unwrap();
    }
}
