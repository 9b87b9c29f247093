//! Where stanch keeps things: the data dir (`STANCH_DATA_DIR` or the platform's), incident
//! dirs, the config file and the log file. Names only: how they are created, their modes and
//! how they are opened are [`crate::private`]'s.

use std::path::PathBuf;

/// Environment variable that overrides the data directory (tests always set it).
pub const DATA_DIR_ENV: &str = "STANCH_DATA_DIR";

#[derive(Debug, thiserror::Error)]
pub enum PathsError {
    #[error("no home directory to put stanch's data in; set {DATA_DIR_ENV}")]
    NoHome,
}

/// `$STANCH_DATA_DIR`, else `~/.local/share/stanch` (platform equivalent).
pub fn data_dir() -> Result<PathBuf, PathsError> {
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir));
    }
    directories::ProjectDirs::from("", "", "stanch")
        .map(|d| d.data_dir().to_path_buf())
        .ok_or(PathsError::NoHome)
}

/// `<data>/incidents`.
pub fn incidents_dir() -> Result<PathBuf, PathsError> {
    Ok(data_dir()?.join("incidents"))
}

/// `<data>/incidents/<id>`.
pub fn incident_dir(id: &str) -> Result<PathBuf, PathsError> {
    Ok(incidents_dir()?.join(id))
}

/// `config.toml` in the platform config dir (under the data dir when it is overridden, so
/// tests never read the developer's real config).
pub fn config_file() -> Result<PathBuf, PathsError> {
    if let Some(dir) = std::env::var_os(DATA_DIR_ENV).filter(|d| !d.is_empty()) {
        return Ok(PathBuf::from(dir).join("config.toml"));
    }
    directories::ProjectDirs::from("", "", "stanch")
        .map(|d| d.config_dir().join("config.toml"))
        .ok_or(PathsError::NoHome)
}

/// `<data>/logs`: `tracing` writes here, never to the terminal.
pub fn log_dir() -> Result<PathBuf, PathsError> {
    Ok(data_dir()?.join("logs"))
}
