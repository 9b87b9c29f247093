//! Evidence: a response body kept as `<incident>/evidence/<sha256>` (content-addressed,
//! read-only) and the custody record journalled as `evidence.captured`.
//!
//! The file is written to a temporary name, synced, made read-only and renamed into place, so a
//! crash never leaves a half-written file under a hash name. The same content captured twice
//! is one file and two custody records. This module does not decide what is evidence.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::journal::event::sha256_hex;

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
    body: &[u8],
    custody: &Custody<'_>,
) -> Result<serde_json::Value, std::io::Error> {
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
        let data = store(dir.path(), b"hello", &custody).unwrap();
        let sha = sha256_hex(b"hello");
        assert_eq!(data["sha256"], sha.as_str());
        assert_eq!(data["bytes"], 5);
        assert_eq!(data["by"], "alice");
        let path = dir.path().join("evidence").join(&sha);
        assert_eq!(std::fs::read(&path).unwrap(), b"hello");
        assert!(std::fs::metadata(&path).unwrap().permissions().readonly());
        // A second capture of the same bytes keeps the one file.
        store(dir.path(), b"hello", &custody).unwrap();
        assert_eq!(
            std::fs::read_dir(dir.path().join("evidence"))
                .unwrap()
                .count(),
            1
        );
    }
}
