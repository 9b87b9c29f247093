//! Evidence: a response body kept as `<incident>/evidence/<sha256>` (content-addressed,
//! read-only) and the custody record journalled as `evidence.captured`.
//!
//! A body that contains a secret (a server echoing a credential back) is stored with the secret
//! masked: the custody record then says `redacted: true` and keeps the `original_sha256`.
//!
//! The file is written to a temporary name, synced, made read-only and renamed into place, so a
//! crash never leaves a half-written file under a hash name. The same content captured twice
//! is one file and two custody records. This module does not decide what is evidence.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::journal::event::sha256_hex;
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

/// Store `body` and return the `evidence.captured` data.
pub fn store(
    incident_dir: &Path,
    raw: &[u8],
    custody: &Custody<'_>,
    redactor: &Redactor,
) -> Result<serde_json::Value, std::io::Error> {
    let masked = std::str::from_utf8(raw)
        .ok()
        .map(|text| redactor.redact(text))
        .filter(|masked| masked.as_bytes() != raw);
    let body = masked.as_ref().map_or(raw, |m| m.as_bytes());
    let sha = sha256_hex(body);
    let dir = incident_dir.join(EVIDENCE_DIR);
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(&sha);
    if !path.exists() {
        write_read_only(&dir, &path, body)?;
    }
    let now = jiff::Timestamp::now();
    let captured_at = now.round(jiff::Unit::Millisecond).unwrap_or(now);
    let mut data = json!({
        "file": format!("{EVIDENCE_DIR}/{sha}"),
        "sha256": sha,
        "bytes": body.len(),
        "method": custody.method,
        "url": custody.url,
        "captured_at": captured_at.to_string(),
        "by": custody.by,
        "tool_version": custody.tool_version,
    });
    if masked.is_some() {
        data["redacted"] = true.into();
        data["original_sha256"] = sha256_hex(raw).into();
    }
    if let Some(addr) = &custody.remote_addr {
        data["remote_addr"] = addr.clone().into();
    }
    Ok(data)
}

fn write_read_only(dir: &Path, path: &PathBuf, body: &[u8]) -> Result<(), std::io::Error> {
    let tmp = dir.join(format!(
        ".tmp-{}-{}",
        std::process::id(),
        path.file_name().and_then(|n| n.to_str()).unwrap_or("x")
    ));
    let mut file = std::fs::File::create(&tmp)?;
    file.write_all(body)?;
    file.sync_all()?;
    let mut perms = file.metadata()?.permissions();
    perms.set_readonly(true);
    std::fs::set_permissions(&tmp, perms)?;
    drop(file);
    std::fs::rename(&tmp, path)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_read_only_content_addressed_file_with_custody() {
        let dir = tempfile::tempdir().unwrap();
        let custody = Custody {
            method: "GET",
            url: "http://h/x",
            by: "alice",
            tool_version: "stanch test",
            remote_addr: Some("127.0.0.1:9".into()),
        };
        let data = store(dir.path(), b"hello", &custody, &Redactor::default()).unwrap();
        let sha = sha256_hex(b"hello");
        assert_eq!(data["sha256"], sha.as_str());
        assert_eq!(data["bytes"], 5);
        assert_eq!(data["by"], "alice");
        let path = dir.path().join("evidence").join(&sha);
        assert_eq!(std::fs::read(&path).unwrap(), b"hello");
        assert!(std::fs::metadata(&path).unwrap().permissions().readonly());
        // A second capture of the same bytes keeps the one file.
        store(dir.path(), b"hello", &custody, &Redactor::default()).unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path().join("evidence"))
                .unwrap()
                .count(),
            1
        );
    }

    #[test]
    fn a_body_echoing_a_secret_is_stored_masked_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let custody = Custody {
            method: "GET",
            url: "http://h/x",
            by: "alice",
            tool_version: "stanch test",
            remote_addr: None,
        };
        let raw = br#"{"authorization":"ApiKey hunter2-key"}"#;
        let data = store(dir.path(), raw, &custody, &Redactor::new(["hunter2-key"])).unwrap();
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
}
