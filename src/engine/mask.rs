//! The engine's redactor, which grows: besides every loaded secret it learns *derived* secrets,
//! values rendered from a template that reads `secrets.*` (`user:password` behind a Basic
//! header, `base64(id:key)` behind an ES `ApiKey` header, a token inside a URL).
//!
//! A server that echoes a request header back would otherwise put a decodable credential into
//! evidence or captures. Learned values are installed on the journal before the event that
//! could carry them is appended. This module only masks; it never reads a secret source.

use std::sync::{Mutex, RwLock};

use secrecy::{ExposeSecret, SecretString};

use crate::journal::Journal;
use crate::secret::{MIN_SECRET_LEN, Redactor, Secrets};

pub struct Mask {
    journal: Journal,
    learned: Mutex<Vec<SecretString>>,
    current: RwLock<Redactor>,
}

impl Mask {
    /// Start from the loaded secrets and install that redactor on the journal.
    pub fn new(secrets: &Secrets, journal: Journal) -> Self {
        let redactor = secrets.redactor();
        journal.set_redactor(redactor.clone());
        Self {
            journal,
            learned: Mutex::new(Vec::new()),
            current: RwLock::new(redactor),
        }
    }

    /// The redactor as of now (cheap clone).
    pub fn redactor(&self) -> Redactor {
        self.current.read().map(|r| r.clone()).unwrap_or_default()
    }

    /// Treat these rendered values as secrets from now on (journal included).
    pub fn learn(&self, secrets: &Secrets, values: &[String]) {
        if values.is_empty() {
            return;
        }
        let Ok(mut learned) = self.learned.lock() else {
            return;
        };
        let mut changed = false;
        for value in values {
            // Short values would mask ordinary words everywhere (see `MIN_SECRET_LEN`); a
            // short piece of a secret reveals little.
            if value.len() >= MIN_SECRET_LEN && !learned.iter().any(|l| l.expose_secret() == value)
            {
                learned.push(SecretString::from(value.clone()));
                changed = true;
            }
        }
        if !changed {
            return;
        }
        let redactor = Redactor::new(
            secrets
                .names()
                .filter_map(|n| secrets.expose(n))
                .chain(learned.iter().map(ExposeSecret::expose_secret)),
        );
        self.journal.set_redactor(redactor.clone());
        if let Ok(mut current) = self.current.write() {
            *current = redactor;
        }
    }
}
