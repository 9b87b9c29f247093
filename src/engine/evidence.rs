//! Evidence: a response body kept as `<incident>/evidence/<sha256>` (content-addressed,
//! read-only) and the custody record journalled as `evidence.captured`.
//!
//! Every secret form the [`Redactor`] knows is masked at the byte level, whether or not the body
//! is UTF-8 (a server echoing a credential back): the custody record then says `redacted: true`
//! and keeps the `original_sha256`.
//!
//! Masking, hashing and all file I/O run on tokio's blocking pool (`spawn_blocking`), never on
//! the runtime thread: headless runs use a current-thread runtime, where a slow disk or a
//! 16 MiB body would stall every request in flight. A panic there comes back as an
//! `io::Error`; a caller that stops waiting does not stop a write already started.
//!
//! The file is created new (mode 0400, never through a link, see [`crate::private`]): written
//! to a temporary name unique to the write, synced and linked under its hash name only if
//! nothing has that name yet, so a crash never leaves a half-written file under a hash name
//! and two concurrent captures never share a temporary file. A file already under the name is
//! not trusted by its name: it is read back and must hash to it, else the capture fails (a
//! planted or damaged file is never recorded as evidence). The same content captured twice
//! is one file and two custody records. This module does not decide what is evidence.

use std::borrow::Cow;
use std::io;
use std::path::Path;

use crate::journal::payload::EvidenceCaptured;

use crate::journal::event::sha256_hex;
use crate::private::{self, WriteNew};
use crate::secret::Redactor;

pub const EVIDENCE_DIR: &str = "evidence";

/// Who and what, for the custody record.
pub struct Custody<'a> {
    pub method: &'a str,
    /// Already redacted.
    pub url: &'a str,
    pub by: &'a str,
    pub tool_version: &'a str,
    pub remote_addr: Option<String>,
}

/// Store `raw` (a body, shared with the blocking task rather than copied for it) and return
/// the `evidence.captured` data.
pub async fn store(
    incident_dir: &Path,
    raw: impl AsRef<[u8]> + Send + 'static,
    custody: &Custody<'_>,
    redactor: &Redactor,
) -> Result<EvidenceCaptured, io::Error> {
    let dir = incident_dir.join(EVIDENCE_DIR);
    let redactor = redactor.clone();
    let kept = off_runtime(move || keep(&dir, raw.as_ref(), &redactor)).await?;
    let now = jiff::Timestamp::now();
    let captured_at = now.round(jiff::Unit::Millisecond).unwrap_or(now);
    Ok(EvidenceCaptured {
        file: format!("{EVIDENCE_DIR}/{}", kept.sha256),
        sha256: kept.sha256,
        bytes: kept.bytes as u64,
        method: custody.method.to_owned(),
        url: custody.url.to_owned(),
        captured_at: Some(captured_at),
        by: Some(custody.by.to_owned()),
        tool_version: custody.tool_version.to_owned(),
        remote_addr: custody.remote_addr.clone(),
        redacted: kept.original_sha256.is_some(),
        original_sha256: kept.original_sha256,
    })
}

/// What [`keep`] stored.
struct Kept {
    sha256: String,
    bytes: usize,
    /// Set when the stored body is the masked form of the original.
    original_sha256: Option<String>,
}

/// Run `work` on the blocking pool; a panic there becomes an `io::Error`.
async fn off_runtime<T: Send + 'static>(
    work: impl FnOnce() -> io::Result<T> + Send + 'static,
) -> io::Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .unwrap_or_else(|e| Err(io::Error::other(format!("the evidence writer failed: {e}"))))
}

/// Mask, hash and write (blocking).
fn keep(dir: &Path, raw: &[u8], redactor: &Redactor) -> io::Result<Kept> {
    let body = redactor.redact_bytes(raw);
    let masked = matches!(&body, Cow::Owned(masked) if masked.as_slice() != raw);
    let sha = sha256_hex(&body);
    private::ensure_dir(dir)?;
    let path = dir.join(&sha);
    if private::write_new(&path, &body, private::EVIDENCE_MODE)? == WriteNew::Existed {
        check_existing(&path, &sha)?;
    }
    Ok(Kept {
        bytes: body.len(),
        original_sha256: masked.then(|| sha256_hex(raw)),
        sha256: sha,
    })
}

/// A file already named `sha`: it must be a regular file with exactly that content.
fn check_existing(path: &Path, sha: &str) -> io::Result<()> {
    let found = sha256_hex(&private::read(path)?);
    if found == sha {
        // Kept, but never looser than evidence should be (an older stanch left 0444).
        private::tighten(path, private::EVIDENCE_MODE)?;
        Ok(())
    } else {
        Err(io::Error::other(format!(
            "{} already exists with other content (SHA-256 {found}); it is not this evidence, and stanch will not trust a file by its name: move it aside and re-run the step",
            path.display()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::MASK;
    use std::os::unix::fs::PermissionsExt as _;

    fn custody() -> Custody<'static> {
        Custody {
            method: "GET",
            url: "http://h/x",
            by: "alice",
            tool_version: "stanch test",
            remote_addr: None,
        }
    }

    fn contains(haystack: &[u8], needle: &[u8]) -> bool {
        haystack.windows(needle.len()).any(|w| w == needle)
    }

    #[tokio::test]
    async fn stores_read_only_content_addressed_file_with_custody() {
        let dir = tempfile::tempdir().unwrap();
        let custody = Custody {
            remote_addr: Some("127.0.0.1:9".into()),
            ..custody()
        };
        let data = serde_json::to_value(
            store(dir.path(), b"hello", &custody, &Redactor::default())
                .await
                .unwrap(),
        )
        .unwrap();
        let sha = sha256_hex(b"hello");
        assert_eq!(data["sha256"], sha.as_str());
        assert_eq!(data["bytes"], 5);
        assert_eq!(data["by"], "alice");
        assert_eq!(data["remote_addr"], "127.0.0.1:9");
        let path = dir.path().join("evidence").join(&sha);
        assert_eq!(std::fs::read(&path).unwrap(), b"hello");
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o400, "evidence is owner-read-only");
        let dir_mode = std::fs::metadata(dir.path().join(EVIDENCE_DIR))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(dir_mode & 0o777, 0o700);
        // A second capture of the same bytes keeps the one file.
        store(dir.path(), b"hello", &custody, &Redactor::default())
            .await
            .unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path().join("evidence"))
                .unwrap()
                .count(),
            1
        );
    }

    #[tokio::test]
    async fn a_body_echoing_a_secret_is_stored_masked_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let raw = br#"{"authorization":"ApiKey hunter2-key"}"#;
        let data = serde_json::to_value(
            store(dir.path(), raw, &custody(), &Redactor::new(["hunter2-key"]))
                .await
                .unwrap(),
        )
        .unwrap();
        assert_eq!(data["redacted"], true);
        assert_eq!(data["original_sha256"], sha256_hex(raw));
        let stored =
            std::fs::read_to_string(dir.path().join(data["file"].as_str().unwrap())).unwrap();
        assert!(!stored.contains("hunter2"), "{stored}");
        assert_eq!(
            sha256_hex(stored.as_bytes()),
            data["sha256"].as_str().unwrap()
        );
    }

    #[tokio::test]
    async fn a_body_that_is_not_utf8_echoing_a_secret_is_stored_masked() {
        use base64::Engine as _;
        let secret = "hunter2/+key";
        let b64 = base64::engine::general_purpose::STANDARD.encode(secret);
        let url_encoded = "hunter2%2F%2Bkey";
        // The raw value at the very start and the very end, its encodings between bytes that
        // are not UTF-8.
        let raw = [
            secret.as_bytes(),
            &[0xff, 0xfe],
            b64.as_bytes(),
            &[0x80],
            url_encoded.as_bytes(),
            &[0xc3, 0x28],
            secret.as_bytes(),
        ]
        .concat();
        assert!(std::str::from_utf8(&raw).is_err());
        let dir = tempfile::tempdir().unwrap();
        let data = serde_json::to_value(
            store(
                dir.path(),
                raw.clone(),
                &custody(),
                &Redactor::new([secret]),
            )
            .await
            .unwrap(),
        )
        .unwrap();
        assert_eq!(data["redacted"], true);
        assert_eq!(data["original_sha256"], sha256_hex(&raw));
        let stored = std::fs::read(dir.path().join(data["file"].as_str().unwrap())).unwrap();
        for form in [secret, b64.as_str(), url_encoded] {
            assert!(
                !contains(&stored, form.as_bytes()),
                "{form} left in the file"
            );
        }
        let m = MASK.as_bytes();
        assert_eq!(
            stored,
            [m, &[0xff, 0xfe], m, &[0x80], m, &[0xc3, 0x28], m].concat()
        );
        assert_eq!(sha256_hex(&stored), data["sha256"].as_str().unwrap());
        assert_eq!(data["bytes"], stored.len());
    }

    #[tokio::test]
    async fn a_body_without_secrets_is_stored_byte_identical_and_not_marked() {
        let dir = tempfile::tempdir().unwrap();
        let raw = [0xff, 0xfe, b'h', b'u', b'n', 0x00, 0x80, b'k', b'e', b'y'];
        let data = serde_json::to_value(
            store(
                dir.path(),
                raw.to_vec(),
                &custody(),
                &Redactor::new(["hunter2-key"]),
            )
            .await
            .unwrap(),
        )
        .unwrap();
        assert_eq!(data["sha256"], sha256_hex(&raw));
        assert_eq!(data["bytes"], raw.len());
        assert!(data.get("redacted").is_none(), "{data}");
        assert!(data.get("original_sha256").is_none(), "{data}");
        let stored = std::fs::read(dir.path().join(data["file"].as_str().unwrap())).unwrap();
        assert_eq!(stored, raw);
    }

    #[tokio::test]
    async fn concurrent_captures_of_the_same_body_share_one_file() {
        let dir = tempfile::tempdir().unwrap();
        let custody = custody();
        let redactor = Redactor::new(["hunter2-key"]);
        let raw = b"same body, hunter2-key".repeat(1000);
        let stores = (0..8).map(|_| store(dir.path(), raw.clone(), &custody, &redactor));
        let records = futures_util::future::join_all(stores).await;
        for record in &records {
            assert_eq!(
                record.as_ref().unwrap().sha256,
                records[0].as_ref().unwrap().sha256
            );
        }
        let names: Vec<_> = std::fs::read_dir(dir.path().join("evidence"))
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 1, "no temporary file left behind: {names:?}");
    }

    #[tokio::test]
    async fn a_pre_planted_file_under_the_hash_name_is_refused_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let evidence = dir.path().join(EVIDENCE_DIR);
        std::fs::create_dir(&evidence).unwrap();
        let sha = sha256_hex(b"the real body");
        // Another user (or a tampered copy) put other bytes under the name first.
        std::fs::write(evidence.join(&sha), b"forged").unwrap();
        let err = store(
            dir.path(),
            b"the real body",
            &custody(),
            &Redactor::default(),
        )
        .await
        .unwrap_err();
        let text = err.to_string();
        assert!(text.contains("already exists with other content"), "{text}");
        assert_eq!(std::fs::read(evidence.join(&sha)).unwrap(), b"forged");
        // A link under the name is refused too, and its target is never read as evidence.
        let outside = dir.path().join("outside");
        std::fs::write(&outside, b"the real body").unwrap();
        std::fs::remove_file(evidence.join(&sha)).unwrap();
        std::os::unix::fs::symlink(&outside, evidence.join(&sha)).unwrap();
        let err = store(
            dir.path(),
            b"the real body",
            &custody(),
            &Redactor::default(),
        )
        .await
        .unwrap_err();
        assert!(err.to_string().contains("symbolic link"), "{err}");
        // The same content already there (an earlier capture, mode 0444 from an older
        // stanch) is kept and made 0400.
        std::fs::remove_file(evidence.join(&sha)).unwrap();
        std::fs::write(evidence.join(&sha), b"the real body").unwrap();
        std::fs::set_permissions(evidence.join(&sha), std::fs::Permissions::from_mode(0o444))
            .unwrap();
        let data = store(
            dir.path(),
            b"the real body",
            &custody(),
            &Redactor::default(),
        )
        .await
        .unwrap();
        assert_eq!(data.sha256, sha);
        let mode = std::fs::metadata(evidence.join(&sha))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o400);
    }

    #[tokio::test]
    async fn a_panic_in_the_blocking_task_is_an_io_error() {
        let err = off_runtime(|| -> io::Result<()> { panic!("disk on fire") })
            .await
            .unwrap_err();
        assert_eq!(err.kind(), io::ErrorKind::Other);
        assert!(err.to_string().contains("panicked"), "{err}");
    }
}
