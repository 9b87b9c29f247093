//! Private files: the one place that decides the modes of stanch's data and how its files are
//! opened, so incident data is never readable by another local user and never written (or
//! read) through a symbolic link someone planted.
//!
//! The rules, for every directory and file under the data dir:
//!
//! | what | mode |
//! | --- | --- |
//! | data dir, `incidents/`, each incident dir, `drafts/`, `evidence/`, `logs/` | 0700 |
//! | journal, `journal.head`, `journal.idx`, `lock`, quarantined tails, drafts, the log | 0600 |
//! | evidence files | 0400 |
//!
//! Modes are set explicitly after creation, so the umask never loosens them. Files are opened
//! with `O_NOFOLLOW` (a link in the last component is an error, reported as such, not
//! `ELOOP`); directories are checked with `symlink_metadata` before use. Whole-file writes go
//! to a fresh temporary (create-new) and are renamed into place ([`write_atomic`]) or linked
//! under a name that must not exist yet ([`write_new`]). An existing file or directory whose
//! mode is looser than its rule is tightened and reported as a [`Tightened`], which callers
//! log and show (this module prints nothing).
//!
//! This module knows paths and modes only: not incidents, journals or the terminal.

use std::fs::{File, OpenOptions, Permissions};
use std::io::{self, Read, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Directories: owner only.
pub const DIR_MODE: u32 = 0o700;
/// Files stanch writes (journal, head, lock, drafts, log): owner read/write.
pub const FILE_MODE: u32 = 0o600;
/// Evidence: owner read only (it is never rewritten).
pub const EVIDENCE_MODE: u32 = 0o400;

/// Flags on every open: never follow a link in the last component, never leak the
/// descriptor into a child (the editor).
const OPEN_FLAGS: i32 = libc::O_NOFOLLOW | libc::O_CLOEXEC;

/// A file or directory whose mode was looser than its rule and has been tightened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tightened {
    pub path: PathBuf,
    pub from: u32,
    pub to: u32,
}

impl std::fmt::Display for Tightened {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} was readable by others (mode {:04o}); tightened to {:04o}",
            self.path.display(),
            self.from,
            self.to
        )
    }
}

/// The error for a link where stanch expects its own file or directory.
fn symlink_error(path: &Path) -> io::Error {
    io::Error::other(format!(
        "{} is a symbolic link; stanch never reads or writes incident data through a link (remove it)",
        path.display()
    ))
}

/// Turn `ELOOP` from an `O_NOFOLLOW` open into a sentence naming the link.
fn explain(path: &Path, err: io::Error) -> io::Error {
    if err.raw_os_error() == Some(libc::ELOOP) {
        symlink_error(path)
    } else {
        err
    }
}

/// Set `mode` on an open file if its permission bits differ from it in a way that grants
/// more than `mode` does.
fn tighten_open(file: &File, path: &Path, mode: u32) -> io::Result<Option<Tightened>> {
    let from = file.metadata()?.mode() & 0o7777;
    if from & !mode == 0 {
        return Ok(None);
    }
    file.set_permissions(Permissions::from_mode(mode))?;
    Ok(Some(Tightened {
        path: path.to_path_buf(),
        from,
        to: mode,
    }))
}

/// Make sure `path` is a real directory (not a link) with mode 0700: create it (and missing
/// parents, 0700 too) or tighten it.
pub fn ensure_dir(path: &Path) -> io::Result<Option<Tightened>> {
    match std::fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_symlink() => Err(symlink_error(path)),
        Ok(meta) if !meta.is_dir() => Err(io::Error::other(format!(
            "{} is not a directory",
            path.display()
        ))),
        Ok(meta) => {
            let from = meta.mode() & 0o7777;
            if from & !DIR_MODE == 0 {
                return Ok(None);
            }
            std::fs::set_permissions(path, Permissions::from_mode(DIR_MODE))?;
            Ok(Some(Tightened {
                path: path.to_path_buf(),
                from,
                to: DIR_MODE,
            }))
        }
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            std::fs::DirBuilder::new()
                .recursive(true)
                .mode(DIR_MODE)
                .create(path)?;
            // The umask can only remove bits; set the mode anyway so an odd umask (0o277)
            // cannot lock the owner out.
            std::fs::set_permissions(path, Permissions::from_mode(DIR_MODE))?;
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// [`ensure_dir`] for a root the user chose (the data dir): a link there is the user's own
/// configuration, so it is resolved once and the directory it names is checked.
pub fn ensure_root(path: &Path) -> io::Result<Option<Tightened>> {
    match std::fs::canonicalize(path) {
        Ok(real) => ensure_dir(&real),
        Err(e) if e.kind() == io::ErrorKind::NotFound => ensure_dir(path),
        Err(e) => Err(e),
    }
}

/// Tighten an existing file to `mode` (no-op for anything that is not a regular file: links
/// are refused where they are used, not here).
pub fn tighten(path: &Path, mode: u32) -> io::Result<Option<Tightened>> {
    let meta = std::fs::symlink_metadata(path)?;
    if !meta.is_file() {
        return Ok(None);
    }
    let from = meta.mode() & 0o7777;
    if from & !mode == 0 {
        return Ok(None);
    }
    std::fs::set_permissions(path, Permissions::from_mode(mode))?;
    Ok(Some(Tightened {
        path: path.to_path_buf(),
        from,
        to: mode,
    }))
}

/// Tighten every directory to 0700 and every regular file to `mode` directly inside `dir`
/// (not recursive). A missing `dir` is fine.
pub fn tighten_entries(dir: &Path, mode: u32) -> io::Result<Vec<Tightened>> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(e),
    };
    let mut tightened = Vec::new();
    for entry in entries {
        let entry = entry?;
        let path = entry.path();
        let kind = entry.file_type()?;
        let done = if kind.is_dir() {
            ensure_dir(&path)?
        } else if kind.is_file() {
            tighten(&path, mode)?
        } else {
            None
        };
        tightened.extend(done);
    }
    Ok(tightened)
}

/// Create `path` (which must not exist, not even as a dangling link) for writing, mode
/// `FILE_MODE`.
pub fn create_new(path: &Path) -> io::Result<File> {
    let file = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .custom_flags(OPEN_FLAGS)
        .open(path)
        .map_err(|e| explain(path, e))?;
    file.set_permissions(Permissions::from_mode(FILE_MODE))?;
    Ok(file)
}

/// Open with `options` plus mode `FILE_MODE` (for a new file) and the no-follow flags;
/// tighten an existing file that is looser.
fn open_private(path: &Path, options: &mut OpenOptions) -> io::Result<(File, Option<Tightened>)> {
    let file = options
        .mode(FILE_MODE)
        .custom_flags(OPEN_FLAGS)
        .open(path)
        .map_err(|e| explain(path, e))?;
    let tightened = tighten_open(&file, path, FILE_MODE)?;
    Ok((file, tightened))
}

/// Open an existing file for appending (the journal).
pub fn open_append(path: &Path) -> io::Result<(File, Option<Tightened>)> {
    open_private(path, OpenOptions::new().append(true))
}

/// Open (creating if missing, never truncating) a file for reading and writing (the lock,
/// the head).
pub fn open_or_create(path: &Path) -> io::Result<(File, Option<Tightened>)> {
    open_private(
        path,
        OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false),
    )
}

/// Open (creating if missing) a file for appending (the log).
pub fn open_append_or_create(path: &Path) -> io::Result<(File, Option<Tightened>)> {
    open_private(path, OpenOptions::new().append(true).create(true))
}

/// Open a file for reading, never through a link.
pub fn open_read(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(OPEN_FLAGS)
        .open(path)
        .map_err(|e| explain(path, e))
}

/// Read a whole file, never through a link (a link planted in place of a draft must not put
/// an outside file into an export).
pub fn read(path: &Path) -> io::Result<Vec<u8>> {
    let mut bytes = Vec::new();
    open_read(path)?.read_to_end(&mut bytes)?;
    Ok(bytes)
}

/// The parent of `path`, which must be a real directory (not a link).
fn real_parent(path: &Path) -> io::Result<&Path> {
    let parent = path
        .parent()
        .ok_or_else(|| io::Error::other(format!("{} has no parent", path.display())))?;
    let meta = std::fs::symlink_metadata(parent)?;
    if meta.file_type().is_symlink() {
        return Err(symlink_error(parent));
    }
    Ok(parent)
}

/// Distinguishes the temporary files of concurrent writes in this process.
static TMP_SEQ: AtomicU64 = AtomicU64::new(0);

/// Write `bytes` to a new temporary file beside `path` (create-new, `O_NOFOLLOW`), sync it
/// and set `mode`; returns its path. The caller moves it into place or removes it.
fn write_temp(path: &Path, bytes: &[u8], mode: u32) -> io::Result<PathBuf> {
    write_temp_with(path, mode, |file| file.write_all(bytes))
}

/// [`write_temp`] of what `write` writes to the file.
fn write_temp_with(
    path: &Path,
    mode: u32,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<PathBuf> {
    let parent = real_parent(path)?;
    let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("file");
    let tmp = parent.join(format!(
        ".{name}.tmp-{}-{}",
        std::process::id(),
        TMP_SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = create_new(&tmp)?;
        write(&mut file)?;
        file.sync_all()?;
        file.set_permissions(Permissions::from_mode(mode))
    })();
    match written {
        Ok(()) => Ok(tmp),
        Err(e) => {
            // Best effort: the error that matters is the one returned.
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}

/// Replace `path` with `bytes` atomically (fresh temporary, then rename): a link at `path` is
/// replaced, never written through, and a reader never sees half a file.
pub fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    write_atomic_with(path, mode, |file| file.write_all(bytes))
}

/// [`write_atomic`] of what `write` writes (a large file streamed, never held whole).
pub fn write_atomic_with(
    path: &Path,
    mode: u32,
    write: impl FnOnce(&mut File) -> io::Result<()>,
) -> io::Result<()> {
    let tmp = write_temp_with(path, mode, write)?;
    std::fs::rename(&tmp, path).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

/// What [`write_new`] found at the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteNew {
    /// The file was created with the bytes.
    Created,
    /// Something already had that name; it was left untouched (the caller checks it).
    Existed,
}

/// Create `path` with `bytes` and `mode`, complete or not at all, only if nothing has that
/// name yet (the temporary is hard-linked to it, which never replaces anything).
pub fn write_new(path: &Path, bytes: &[u8], mode: u32) -> io::Result<WriteNew> {
    let tmp = write_temp(path, bytes, mode)?;
    let linked = std::fs::hard_link(&tmp, path);
    let _ = std::fs::remove_file(&tmp);
    match linked {
        Ok(()) => Ok(WriteNew::Created),
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => Ok(WriteNew::Existed),
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn mode(path: &Path) -> u32 {
        std::fs::symlink_metadata(path).unwrap().mode() & 0o7777
    }

    #[test]
    fn new_dirs_and_files_are_private_and_looser_ones_are_tightened() {
        let tmp = tempfile::tempdir().unwrap();
        let dir = tmp.path().join("a/b");
        assert_eq!(ensure_dir(&dir).unwrap(), None);
        assert_eq!(mode(&dir), DIR_MODE);
        assert_eq!(mode(&tmp.path().join("a")), DIR_MODE);
        std::fs::set_permissions(&dir, Permissions::from_mode(0o755)).unwrap();
        let tightened = ensure_dir(&dir).unwrap().unwrap();
        assert_eq!((tightened.from, tightened.to), (0o755, 0o700));
        assert_eq!(mode(&dir), DIR_MODE);

        let file = dir.join("f");
        drop(create_new(&file).unwrap());
        assert_eq!(mode(&file), FILE_MODE);
        std::fs::set_permissions(&file, Permissions::from_mode(0o644)).unwrap();
        let (_, tightened) = open_append(&file).unwrap();
        assert_eq!(tightened.unwrap().from, 0o644);
        assert_eq!(mode(&file), FILE_MODE);
    }

    #[test]
    fn links_are_refused_by_name_and_never_followed() {
        let tmp = tempfile::tempdir().unwrap();
        let outside = tmp.path().join("outside");
        std::fs::write(&outside, "precious").unwrap();
        let link = tmp.path().join("link");
        symlink(&outside, &link).unwrap();
        for err in [
            open_append(&link).unwrap_err(),
            open_or_create(&link).unwrap_err(),
            read(&link).unwrap_err(),
            create_new(&link).unwrap_err(),
            ensure_dir(&link).unwrap_err(),
        ] {
            let text = err.to_string();
            assert!(
                text.contains("is a symbolic link") || err.kind() == io::ErrorKind::AlreadyExists,
                "{text}"
            );
        }
        // Replacing the link puts a file in its place; the target is untouched.
        write_atomic(&link, b"mine", FILE_MODE).unwrap();
        assert_eq!(std::fs::read(&outside).unwrap(), b"precious");
        assert_eq!(std::fs::read(&link).unwrap(), b"mine");
        assert!(
            !std::fs::symlink_metadata(&link)
                .unwrap()
                .file_type()
                .is_symlink()
        );
        // A linked parent directory is refused too.
        let linked_dir = tmp.path().join("dir-link");
        symlink(tmp.path(), &linked_dir).unwrap();
        let err = write_atomic(&linked_dir.join("x"), b"x", FILE_MODE).unwrap_err();
        assert!(err.to_string().contains("is a symbolic link"), "{err}");
    }

    #[test]
    fn write_new_never_replaces_and_leaves_no_temporary() {
        let tmp = tempfile::tempdir().unwrap();
        let path = tmp.path().join("e");
        assert_eq!(
            write_new(&path, b"one", EVIDENCE_MODE).unwrap(),
            WriteNew::Created
        );
        assert_eq!(mode(&path), EVIDENCE_MODE);
        assert_eq!(
            write_new(&path, b"two", EVIDENCE_MODE).unwrap(),
            WriteNew::Existed
        );
        assert_eq!(std::fs::read(&path).unwrap(), b"one");
        // A dangling link under the name is not written through either.
        let link = tmp.path().join("l");
        symlink(tmp.path().join("target"), &link).unwrap();
        assert_eq!(
            write_new(&link, b"x", EVIDENCE_MODE).unwrap(),
            WriteNew::Existed
        );
        assert!(!tmp.path().join("target").exists());
        assert_eq!(std::fs::read_dir(tmp.path()).unwrap().count(), 2);
    }
}
