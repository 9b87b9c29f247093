//! The lab's secrets, derived from the seed so that a drill, a test and `stanch lab --seed S`
//! agree without exchanging anything.
//!
//! These are drill secrets, but they travel the same road as real ones (into
//! `secret::Secrets`, through the redactor), so `Debug` masks them: printing them is a
//! deliberate act (`stanch lab`), never an accident in a log line.

use base64::Engine as _;

use super::records::{hex_token, mix};

/// Client id the responder authenticates as on the OAuth server (revoke, introspect, admin).
pub const RESPONDER_CLIENT: &str = "stanch-responder";

/// Name of the Elasticsearch API key the responder uses (invalidating it locks you out).
pub const RESPONDER_API_KEY_NAME: &str = "stanch-responder";

/// The third-party integrations whose tokens leaked, with how many grants each holds. Every
/// grant has one refresh token and one access token.
pub const THIRD_PARTY_CLIENTS: &[(&str, u32)] = &[
    ("alexa-skill", 1500),
    ("google-assistant", 150),
    ("ifttt", 100),
];

/// Everything a responder (or a drill scenario) needs to talk to the lab.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// `Authorization: ApiKey <es_api_key>` (base64 of `id:key`, as Elasticsearch issues them).
    pub es_api_key: String,
    /// The id half of `es_api_key` (what `DELETE /_security/api_key` takes in `ids`).
    pub es_api_key_id: String,
    pub oauth_client_id: String,
    pub oauth_client_secret: String,
    pub forum_token: String,
    /// Client secrets of the third-party integrations (client id, secret), for drills that
    /// exercise the token endpoint as the integration would.
    pub clients: Vec<(String, String)>,
}

impl Credentials {
    pub fn from_seed(seed: u64) -> Self {
        let es_api_key_id = api_key_id(seed, 0);
        let key = hex_token(seed, 0xE5, 1, 22);
        let es_api_key =
            base64::engine::general_purpose::STANDARD.encode(format!("{es_api_key_id}:{key}"));
        let clients = THIRD_PARTY_CLIENTS
            .iter()
            .zip(1u64..)
            .map(|((id, _), n)| ((*id).to_owned(), hex_token(seed, 0xC1, n, 32)))
            .collect();
        Self {
            es_api_key,
            es_api_key_id,
            oauth_client_id: RESPONDER_CLIENT.to_owned(),
            oauth_client_secret: hex_token(seed, 0xC1, 0, 32),
            forum_token: format!("forum_{}", hex_token(seed, 0xF0, 0, 32)),
            clients,
        }
    }

    /// Every secret value, for building a redactor.
    pub fn values(&self) -> Vec<&str> {
        let mut values = vec![
            self.es_api_key.as_str(),
            self.oauth_client_secret.as_str(),
            self.forum_token.as_str(),
        ];
        values.extend(self.clients.iter().map(|(_, s)| s.as_str()));
        values
    }

    /// The secret of an OAuth client (responder or integration).
    pub fn client_secret(&self, client_id: &str) -> Option<&str> {
        if client_id == self.oauth_client_id {
            return Some(&self.oauth_client_secret);
        }
        self.clients
            .iter()
            .find(|(id, _)| id == client_id)
            .map(|(_, s)| s.as_str())
    }
}

/// Id of the n-th Elasticsearch API key (0 is the responder's).
pub fn api_key_id(seed: u64, n: u64) -> String {
    // Real ids are 20 URL-safe characters; so are these.
    let a = mix(seed, 0xA1, n);
    let b = mix(seed, 0xA2, n);
    let mut bytes = a.to_be_bytes().to_vec();
    bytes.extend_from_slice(&b.to_be_bytes()[..7]);
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field("es_api_key", &crate::secret::MASK)
            .field("es_api_key_id", &self.es_api_key_id)
            .field("oauth_client_id", &self.oauth_client_id)
            .field("oauth_client_secret", &crate::secret::MASK)
            .field("forum_token", &crate::secret::MASK)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn credentials_are_deterministic_per_seed_and_differ_between_seeds() {
        assert_eq!(Credentials::from_seed(7), Credentials::from_seed(7));
        assert_ne!(
            Credentials::from_seed(7).es_api_key,
            Credentials::from_seed(8).es_api_key
        );
    }

    #[test]
    fn api_key_decodes_to_id_and_key() {
        let c = Credentials::from_seed(2019);
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(&c.es_api_key)
            .unwrap();
        let text = String::from_utf8(decoded).unwrap();
        assert!(text.starts_with(&format!("{}:", c.es_api_key_id)), "{text}");
        assert_eq!(c.es_api_key_id.len(), 20);
    }

    #[test]
    fn debug_masks_every_secret() {
        let c = Credentials::from_seed(1);
        let shown = format!("{c:?}");
        for secret in c.values() {
            assert!(!shown.contains(secret), "{shown}");
        }
    }
}
