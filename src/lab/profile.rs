//! Which Elasticsearch the lab pretends to be: a version and a security mode, fixed for the
//! lab's life (a real cluster changes neither without a config change and a full restart).
//!
//! Every version-dependent behaviour asks [`EsVersion::at_least`] with the version that
//! introduced it, named once here as a [`Feature`] with its source; handlers never compare
//! version numbers themselves.
//!
//! | profile        | what it is                                                                     |
//! |----------------|--------------------------------------------------------------------------------|
//! | `7.4.2` / off  | the reference case: basic licence, security off, nothing authenticated         |
//! | `7.10.2` / on  | security on, anonymous access enabled with a read role (how such clusters leak) |
//! | `8.15.0` / on  | 8.x: security on by default; the same anonymous read role                      |
//!
//! Any version from 7.0.0 to 8.x parses; the three above are the ones tested.

use std::fmt;
use std::str::FromStr;

/// An Elasticsearch version `major.minor.patch`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EsVersion {
    pub major: u16,
    pub minor: u16,
    pub patch: u16,
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileError {
    #[error("`{0}` is not an Elasticsearch version: write it as 7.4.2, 7.10.2 or 8.15.0")]
    Version(String),
    #[error("the lab models Elasticsearch 7.0.0 to 8.x, not {0}")]
    Unsupported(EsVersion),
    #[error("`{0}` is not a security mode: use `off` or `on`")]
    Security(String),
}

impl EsVersion {
    pub const fn new(major: u16, minor: u16, patch: u16) -> Self {
        Self {
            major,
            minor,
            patch,
        }
    }

    pub fn at_least(self, feature: Feature) -> bool {
        self >= feature.since()
    }

    /// `Version.id` as Elasticsearch writes it (`7040299` for 7.4.2).
    pub fn id(self) -> u32 {
        u32::from(self.major) * 1_000_000
            + u32::from(self.minor) * 10_000
            + u32::from(self.patch) * 100
            + 99
    }

    /// The Lucene version each release line shipped with (`GET /` reports it).
    pub fn lucene(self) -> &'static str {
        match (self.major, self.minor) {
            (7, 0..=2) => "8.0.0",
            (7, 3..=4) => "8.2.0",
            (7, 5..=6) => "8.4.0",
            (7, 7..=9) => "8.6.2",
            (7, 10..=12) => "8.7.0",
            (7, _) => "8.11.1",
            (8, 0..=6) => "9.0.0",
            (8, 7..=9) => "9.6.0",
            _ => "9.11.1",
        }
    }

    /// `minimum_wire_compatibility_version` in `GET /`.
    pub fn minimum_wire(self) -> &'static str {
        if self.major >= 8 { "7.17.0" } else { "6.8.0" }
    }

    /// `minimum_index_compatibility_version` in `GET /`.
    pub fn minimum_index(self) -> &'static str {
        if self.major >= 8 {
            "7.0.0"
        } else {
            "6.0.0-beta1"
        }
    }
}

impl fmt::Display for EsVersion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}.{}", self.major, self.minor, self.patch)
    }
}

impl FromStr for EsVersion {
    type Err = ProfileError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ProfileError::Version(s.to_owned());
        let mut parts = s.trim().split('.');
        let mut next = || -> Result<u16, ProfileError> {
            parts.next().ok_or_else(bad)?.parse().map_err(|_| bad())
        };
        let version = Self::new(next()?, next()?, next()?);
        if parts.next().is_some() {
            return Err(bad());
        }
        if !(7..=8).contains(&version.major) {
            return Err(ProfileError::Unsupported(version));
        }
        Ok(version)
    }
}

/// Whether the cluster authenticates requests (`xpack.security.enabled`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Security {
    /// Basic licence without security (7.x default): nothing is authenticated, any
    /// `Authorization` header is ignored, `/_security/*` answers 500.
    Off,
    /// Security on, with anonymous access granted a read role on every index: the exposure
    /// is that role, and admin calls need the responder's API key.
    On,
}

impl Security {
    pub fn enabled(self) -> bool {
        self == Security::On
    }
}

impl fmt::Display for Security {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.enabled() { "on" } else { "off" })
    }
}

impl FromStr for Security {
    type Err = ProfileError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim() {
            "off" | "false" => Ok(Security::Off),
            "on" | "true" => Ok(Security::On),
            other => Err(ProfileError::Security(other.to_owned())),
        }
    }
}

/// Behaviours that appeared in a given release, each with where that is written down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Feature {
    /// `PUT /{index}/_block/{block}`: PR #58094, API docs "Added in 7.9.0".
    AddIndexBlock,
    /// More than one snapshot at a time; before, a second is 503
    /// `concurrent_snapshot_execution_exception` (`SnapshotsService`; 7.9 release notes).
    ConcurrentSnapshots,
    /// `DELETE /_security/api_key` takes `ids` (PRs #63224, #63320); before: `id`, `name`,
    /// `realm_name`, `username`.
    InvalidateApiKeyIds,
    /// `GET /_security/api_key` without a parameter lists every key (7.8 API docs); before,
    /// it is a 400 (7.4 API docs: one of `id`, `name`, `realm_name`, `username` is required).
    GetAllApiKeys,
    /// `X-elastic-product: Elasticsearch` on every response (7.14 client product check).
    ProductHeader,
    /// Search hits no longer carry `_type` (types removed in 8.0).
    TypelessHits,
}

impl Feature {
    pub const fn since(self) -> EsVersion {
        match self {
            Feature::AddIndexBlock | Feature::ConcurrentSnapshots => EsVersion::new(7, 9, 0),
            Feature::InvalidateApiKeyIds => EsVersion::new(7, 10, 0),
            // The 7.4 API docs require a parameter; the 7.8 docs list every key without one.
            // Which release between changed it is not pinned; no tested profile falls there.
            Feature::GetAllApiKeys => EsVersion::new(7, 8, 0),
            Feature::ProductHeader => EsVersion::new(7, 14, 0),
            Feature::TypelessHits => EsVersion::new(8, 0, 0),
        }
    }
}

/// A lab profile: what the cluster is, for the lab's whole life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Profile {
    pub version: EsVersion,
    pub security: Security,
}

/// The reference case's cluster.
pub const REFERENCE: Profile = Profile {
    version: EsVersion::new(7, 4, 2),
    security: Security::Off,
};

impl Default for Profile {
    fn default() -> Self {
        REFERENCE
    }
}

impl fmt::Display for Profile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Elasticsearch {}, security {}",
            self.version, self.security
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_parse_compare_and_gate_features() {
        let v742: EsVersion = "7.4.2".parse().unwrap();
        let v7102: EsVersion = "7.10.2".parse().unwrap();
        assert!(
            v742 < v7102,
            "7.10 is after 7.4, not before as text would sort"
        );
        assert!(!v742.at_least(Feature::AddIndexBlock));
        assert!(v7102.at_least(Feature::AddIndexBlock));
        assert!(v7102.at_least(Feature::InvalidateApiKeyIds));
        assert_eq!(v742.id(), 7_040_299);
        assert_eq!(v742.to_string(), "7.4.2");
    }

    #[test]
    fn bad_versions_and_modes_say_what_to_write() {
        assert_eq!(
            "7.4".parse::<EsVersion>().unwrap_err().to_string(),
            "`7.4` is not an Elasticsearch version: write it as 7.4.2, 7.10.2 or 8.15.0"
        );
        assert!(matches!(
            "6.8.0".parse::<EsVersion>(),
            Err(ProfileError::Unsupported(_))
        ));
        assert!("maybe".parse::<Security>().is_err());
        assert_eq!("on".parse::<Security>().unwrap(), Security::On);
    }
}
