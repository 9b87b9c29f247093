//! Secrets: where they come from (env, 0600 file, hidden prompt) and how they are kept out of
//! everything that leaves the process.
//!
//! Redaction is layered: by type ([`secrecy::SecretString`] never serializes), by header name
//! ([`is_sensitive_header`]), and by value ([`Redactor`] scrubs every loaded secret in every
//! form a server can echo, see [`forms`], from any text or JSON value before it is journalled,
//! exported, logged or drawn). A value shorter than [`MIN_SECRET_LEN`] bytes is refused at
//! load with [`SecretError::TooShort`], naming the secret: masking it would rewrite ordinary
//! text.
//!
//! This module reads secret values and hands them only to the engine (which puts them in the
//! request it sends). It must never log, print or journal a value itself.

use std::path::{Path, PathBuf};

use indexmap::IndexMap;
use secrecy::{ExposeSecret, SecretString};

use crate::runbook::{Loaded, SecretSpec};

mod redact;

pub use redact::{MASK, MIN_SECRET_LEN, Redactor, forms, is_sensitive_header};

/// Why a secret could not be loaded. Messages name the secret and say what to do; they never
/// contain a value.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("secret `{name}`: environment variable {var} is not set; export it before running")]
    EnvNotSet { name: String, var: String },
    #[error("secret `{name}`: cannot read {}: {source}", path.display())]
    FileRead {
        name: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error(
        "secret `{name}`: {} has mode {mode:04o}, readable by others; a secret file must be \
         private to its owner: run `chmod 600 {}`",
        path.display(),
        path.display()
    )]
    FilePermissions {
        name: String,
        path: PathBuf,
        mode: u32,
    },
    #[error("secret `{name}` is asked for with a hidden prompt, and none was answered{}", headless_hint(*headless))]
    NotAnswered { name: String, headless: bool },
    #[error("secret `{name}` has no source: give it `env`, `file` or `prompt = true`")]
    NoSource { name: String },
    #[error(
        "secret `{name}` is {len} bytes long; stanch needs at least {MIN_SECRET_LEN}: a shorter \
         value would be masked inside ordinary words and numbers everywhere it is shown"
    )]
    TooShort { name: String, len: usize },
}

fn headless_hint(headless: bool) -> &'static str {
    if headless {
        " (headless runs cannot prompt: give the secret `env = \"VAR\"` or a 0600 `file`)"
    } else {
        ""
    }
}

/// The loaded secret values of one runbook, by name. Not `Clone` and not `Serialize`: the
/// engine shares one behind an `Arc`.
#[derive(Default)]
pub struct Secrets {
    values: IndexMap<String, SecretString>,
    /// Secrets that could not be loaded, with the reason; a step that needs one fails with it.
    unavailable: IndexMap<String, String>,
}

impl std::fmt::Debug for Secrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Names only: the values must not reach a log even through `{:?}`.
        f.debug_struct("Secrets")
            .field("names", &self.values.keys().collect::<Vec<_>>())
            .field("unavailable", &self.unavailable.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Secrets {
    /// Load every secret the runbook declares: env, then the 0600 file, then `prompt(name, why)`
    /// for prompt-only secrets and env variables that are not set. The first failure wins.
    pub fn load(
        rb: &Loaded,
        prompt: &mut dyn FnMut(&str, &str) -> Option<String>,
    ) -> Result<Self, SecretError> {
        let mut secrets = Self::default();
        for (name, spec) in &rb.runbook.secrets {
            let value = match read_source(name, spec, rb.base_dir()) {
                Ok(value) => value,
                Err(Unread::Ask { why, err }) => match prompt(name, &why) {
                    Some(answer) if !answer.is_empty() => check_len(name, answer)?,
                    _ => return Err(err),
                },
                Err(Unread::Refused(err)) => return Err(err),
            };
            secrets
                .values
                .insert(name.clone(), SecretString::from(value));
        }
        Ok(secrets)
    }

    /// Load what can be loaded without asking anyone (headless runs). Secrets that cannot be
    /// loaded are remembered with the reason; steps that use them fail with it, the others run.
    pub fn load_noninteractive(rb: &Loaded) -> Self {
        let mut secrets = Self::default();
        for (name, spec) in &rb.runbook.secrets {
            match read_source(name, spec, rb.base_dir()) {
                Ok(value) => {
                    secrets
                        .values
                        .insert(name.clone(), SecretString::from(value));
                }
                Err(Unread::Ask { err, .. } | Unread::Refused(err)) => {
                    let err = match err {
                        SecretError::NotAnswered { name, .. } => SecretError::NotAnswered {
                            name,
                            headless: true,
                        },
                        other => other,
                    };
                    secrets.unavailable.insert(name.clone(), err.to_string());
                }
            }
        }
        secrets
    }

    /// Secrets given directly (drills, the TUI's setup form, tests). A value shorter than
    /// [`MIN_SECRET_LEN`] is not loaded: it is unavailable with the reason, so a step that uses
    /// it fails saying so.
    pub fn from_values(values: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut secrets = Self::default();
        for (name, value) in values {
            match check_len(&name, value) {
                Ok(value) => {
                    secrets.values.insert(name, SecretString::from(value));
                }
                Err(err) => {
                    secrets.unavailable.insert(name, err.to_string());
                }
            }
        }
        secrets
    }

    /// Secrets the UI must ask for: prompt-only ones and those whose env variable is not set
    /// (and that have no file).
    pub fn missing(rb: &Loaded) -> Vec<String> {
        rb.runbook
            .secrets
            .iter()
            .filter(|(name, spec)| {
                matches!(
                    read_source(name, spec, rb.base_dir()),
                    Err(Unread::Ask { .. })
                )
            })
            .map(|(name, _)| name.clone())
            .collect()
    }

    /// A redactor for every loaded value and its encodings.
    pub fn redactor(&self) -> Redactor {
        Redactor::new(self.values.values().map(ExposeSecret::expose_secret))
    }

    /// The raw value, for the engine to put into a request. Never print it.
    pub fn expose(&self, name: &str) -> Option<&str> {
        self.values.get(name).map(ExposeSecret::expose_secret)
    }

    /// Why a declared secret is not available (headless loads only).
    pub fn unavailable(&self, name: &str) -> Option<&str> {
        self.unavailable.get(name).map(String::as_str)
    }

    /// Every secret that could not be loaded, with the reason.
    pub fn unavailable_all(&self) -> impl Iterator<Item = (&str, &str)> {
        self.unavailable
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Names of the loaded secrets.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.values.keys().map(String::as_str)
    }
}

/// Why a source gave no value: `Ask` may still be answered by a prompt, `Refused` may not.
enum Unread {
    Ask { why: String, err: SecretError },
    Refused(SecretError),
}

/// The value, unless it is too short to be masked without masking ordinary text with it.
fn check_len(name: &str, value: String) -> Result<String, SecretError> {
    if value.len() < MIN_SECRET_LEN {
        return Err(SecretError::TooShort {
            name: name.to_owned(),
            len: value.len(),
        });
    }
    Ok(value)
}

fn read_source(name: &str, spec: &SecretSpec, base: &Path) -> Result<String, Unread> {
    if let Some(var) = &spec.env {
        return match std::env::var(var) {
            Ok(value) if !value.is_empty() => check_len(name, value).map_err(Unread::Refused),
            _ => Err(Unread::Ask {
                why: format!("environment variable {var} is not set"),
                err: SecretError::EnvNotSet {
                    name: name.to_owned(),
                    var: var.clone(),
                },
            }),
        };
    }
    if let Some(file) = &spec.file {
        return read_file(name, &base.join(file.get_ref()))
            .and_then(|value| check_len(name, value))
            .map_err(Unread::Refused);
    }
    if spec.prompt == Some(true) {
        return Err(Unread::Ask {
            why: "hidden input".to_owned(),
            err: SecretError::NotAnswered {
                name: name.to_owned(),
                headless: false,
            },
        });
    }
    Err(Unread::Refused(SecretError::NoSource {
        name: name.to_owned(),
    }))
}

/// Read a secret file, refusing one that group or others may read: a leaked key file is the
/// kind of exposure this tool exists to clean up.
fn read_file(name: &str, path: &Path) -> Result<String, SecretError> {
    let io_err = |source| SecretError::FileRead {
        name: name.to_owned(),
        path: path.to_path_buf(),
        source,
    };
    let meta = std::fs::metadata(path).map_err(io_err)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = meta.permissions().mode() & 0o777;
        if mode & 0o077 != 0 {
            return Err(SecretError::FilePermissions {
                name: name.to_owned(),
                path: path.to_path_buf(),
                mode,
            });
        }
    }
    let _ = meta;
    let text = std::fs::read_to_string(path).map_err(io_err)?;
    // Editors and `echo` add a final newline that is never part of the secret.
    Ok(text.trim_end_matches(['\n', '\r']).to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loaded(secrets_toml: &str) -> (tempfile::TempDir, Loaded) {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rb.toml");
        std::fs::write(
            &path,
            format!("[runbook]\nid = \"t\"\ntitle = \"t\"\n{secrets_toml}"),
        )
        .unwrap();
        let rb = crate::runbook::load(&path).unwrap();
        (dir, rb)
    }

    fn write_mode(path: &Path, text: &str, mode: u32) {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::write(path, text).unwrap();
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).unwrap();
    }

    #[test]
    fn env_secret_loads_without_asking_and_feeds_the_redactor() {
        // PATH is set (and long) in every test environment; tests may not set variables
        // (unsafe in 2024).
        let home = std::env::var("PATH").unwrap();
        let (_d, rb) = loaded("[secrets.k]\nenv = \"PATH\"\n");
        let mut asked = false;
        let s = Secrets::load(&rb, &mut |_, _| {
            asked = true;
            None
        })
        .unwrap();
        assert!(!asked);
        assert_eq!(s.expose("k"), Some(home.as_str()));
        assert!(Secrets::missing(&rb).is_empty());
        assert!(!s.redactor().redact(&format!("x{home}x")).contains(&home));
    }

    #[test]
    fn unset_env_secret_is_asked_for_and_without_an_answer_names_the_variable() {
        let (_d, rb) = loaded("[secrets.k]\nenv = \"STANCH_TEST_UNSET_VAR_Q\"\n");
        assert_eq!(Secrets::missing(&rb), ["k"]);
        let mut asked = Vec::new();
        let s = Secrets::load(&rb, &mut |name, why| {
            asked.push((name.to_owned(), why.to_owned()));
            Some("typed-value".into())
        })
        .unwrap();
        assert_eq!(s.expose("k"), Some("typed-value"));
        assert_eq!(asked[0].0, "k");
        assert!(asked[0].1.contains("STANCH_TEST_UNSET_VAR_Q"), "{asked:?}");
        let err = Secrets::load(&rb, &mut |_, _| None).unwrap_err();
        assert_eq!(
            err.to_string(),
            "secret `k`: environment variable STANCH_TEST_UNSET_VAR_Q is not set; export it before running"
        );
        let headless = Secrets::load_noninteractive(&rb);
        assert!(headless.expose("k").is_none());
        assert!(
            headless
                .unavailable("k")
                .unwrap()
                .contains("STANCH_TEST_UNSET_VAR_Q")
        );
    }

    #[test]
    fn a_0600_file_loads_without_its_trailing_newline() {
        let (dir, rb) = loaded("[secrets.k]\nfile = \"key.txt\"\n");
        write_mode(&dir.path().join("key.txt"), "file-secret\n", 0o600);
        let s = Secrets::load(&rb, &mut |_, _| None).unwrap();
        assert_eq!(s.expose("k"), Some("file-secret"));
    }

    #[test]
    fn a_file_readable_by_others_is_refused_with_the_reason_and_the_fix() {
        let (dir, rb) = loaded("[secrets.k]\nfile = \"key.txt\"\n");
        let path = dir.path().join("key.txt");
        write_mode(&path, "file-secret", 0o644);
        let mut asked = false;
        let err = Secrets::load(&rb, &mut |_, _| {
            asked = true;
            Some("x".into())
        })
        .unwrap_err();
        assert!(
            !asked,
            "a refused file is not silently replaced by a prompt"
        );
        let text = err.to_string();
        assert!(text.contains("mode 0644"), "{text}");
        assert!(text.contains("readable by others"), "{text}");
        assert!(
            text.contains(&format!("chmod 600 {}", path.display())),
            "{text}"
        );
        assert!(!text.contains("file-secret"));
    }

    #[test]
    fn prompt_only_secret_uses_the_callback_and_is_an_error_headless() {
        let (_d, rb) = loaded("[secrets.k]\nprompt = true\n");
        assert_eq!(Secrets::missing(&rb), ["k"]);
        let s = Secrets::load(&rb, &mut |name, _| Some(format!("{name}-typed-value"))).unwrap();
        assert_eq!(s.expose("k"), Some("k-typed-value"));
        let headless = Secrets::load_noninteractive(&rb);
        assert!(
            headless
                .unavailable("k")
                .unwrap()
                .contains("headless runs cannot prompt")
        );
    }

    #[test]
    fn a_secret_shorter_than_the_minimum_is_refused_by_name_wherever_it_comes_from() {
        let expected = "secret `k` is 7 bytes long; stanch needs at least 8: a shorter value \
                        would be masked inside ordinary words and numbers everywhere it is shown";
        let (dir, rb) = loaded("[secrets.k]\nfile = \"key.txt\"\n");
        write_mode(&dir.path().join("key.txt"), "abcdefg\n", 0o600);
        let err = Secrets::load(&rb, &mut |_, _| None).unwrap_err();
        assert_eq!(err.to_string(), expected);
        assert_eq!(
            Secrets::load_noninteractive(&rb).unavailable("k"),
            Some(expected)
        );
        let (_d, rb) = loaded("[secrets.k]\nprompt = true\n");
        let err = Secrets::load(&rb, &mut |_, _| Some("abcdefg".into())).unwrap_err();
        assert_eq!(err.to_string(), expected);
        let given = Secrets::from_values([("k".to_owned(), "abcdefg".to_owned())]);
        assert!(given.expose("k").is_none());
        assert_eq!(given.unavailable("k"), Some(expected));
        assert!(given.redactor().is_empty());
    }

    #[test]
    fn debug_output_names_secrets_but_never_shows_values() {
        let s = Secrets::from_values([("api".to_owned(), "v4lue-xyz".to_owned())]);
        let shown = format!("{s:?}");
        assert!(shown.contains("api"));
        assert!(!shown.contains("v4lue-xyz"));
    }
}
