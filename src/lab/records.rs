//! Synthetic documents, computed on demand: document `i` of an index is a pure function of
//! `(seed, index, i)`. Nothing is stored, which is how the lab serves 2.4 million customer
//! records in a few megabytes.
//!
//! The customer records look like the leaked ones (e-mail, camera nickname, WiFi SSID, Alexa
//! link token id, and health figures for a ~140-person beta group) but every e-mail is on a
//! domain reserved for examples (RFC 2606), so nothing here can reach a real person.

use serde::Serialize;

/// How many customer records the exposed index holds (as in the reference case).
pub const CUSTOMER_RECORDS: u64 = 2_400_000;

/// One in this many customers is in the beta test group with health data: 140 of 2.4 M.
const BETA_EVERY: u64 = 17_143;

/// SplitMix64 over (seed, stream, n): cheap, stateless, well mixed, and the same everywhere.
pub fn mix(seed: u64, stream: u64, n: u64) -> u64 {
    let mut z = seed
        .wrapping_mul(0x9E37_79B9_7F4A_7C15)
        .wrapping_add(stream.wrapping_mul(0xD1B5_4A32_D192_ED03))
        .wrapping_add(n.wrapping_mul(0x94D0_49BB_1331_11EB))
        .wrapping_add(0x2545_F491_4F6C_DD1D);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `len` lowercase hex characters drawn from (seed, stream, n).
pub fn hex_token(seed: u64, stream: u64, n: u64, len: usize) -> String {
    use std::fmt::Write;
    let mut out = String::with_capacity(len + 16);
    let mut k = 0;
    while out.len() < len {
        let _ = write!(
            out,
            "{:016x}",
            mix(seed, stream, n.wrapping_mul(8).wrapping_add(k))
        );
        k += 1;
    }
    out.truncate(len);
    out
}

fn pick<'a>(list: &[&'a str], r: u64) -> &'a str {
    // The lists are short constants, so the modulo fits in usize.
    list[usize::try_from(r % list.len() as u64).unwrap_or(0)]
}

const FIRST: &[&str] = &[
    "alex", "sam", "jordan", "taylor", "morgan", "casey", "riley", "jamie", "avery", "quinn",
    "maria", "wei", "aisha", "lukas", "sofia", "omar", "yuki", "noah", "emma", "ivan",
];
const LAST: &[&str] = &[
    "smith", "garcia", "chen", "muller", "rossi", "kim", "nguyen", "silva", "novak", "okafor",
    "larsen", "dubois", "tanaka", "haddad", "kowalski", "brown",
];
const DOMAINS: &[&str] = &["example.com", "example.net", "example.org"];
const CAMERAS: &[&str] = &[
    "Front Door",
    "Back Yard",
    "Baby Room",
    "Garage",
    "Living Room",
    "Driveway",
    "Kitchen",
    "Nursery",
    "Porch",
    "Office",
    "Dog Cam",
    "Side Gate",
    "Hallway",
    "Basement",
];
const SSIDS: &[&str] = &[
    "NETGEAR",
    "Linksys",
    "TP-Link",
    "HomeNet",
    "xfinitywifi",
    "ASUS",
    "FRITZ!Box",
    "MyWiFi",
    "Orbi",
    "eero",
];
const MODELS: &[&str] = &["cam-v2", "cam-v3", "pan-v1", "outdoor-v1", "doorbell-v1"];
const REGIONS: &[&str] = &["us-west", "us-east", "eu-central", "ap-northeast"];

/// Health figures of a beta tester (the special-category data in the leak).
#[derive(Debug, Serialize)]
pub struct Health {
    pub height_cm: u64,
    pub weight_kg: u64,
    pub birth_year: u64,
    pub resting_heart_rate: u64,
}

/// One leaked customer record.
#[derive(Debug, Serialize)]
pub struct Customer {
    pub customer_id: String,
    pub email: String,
    pub camera_nickname: String,
    pub wifi_ssid: String,
    pub alexa_token_id: String,
    pub device_model: &'static str,
    pub created_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health: Option<Health>,
}

/// Whether customer `i` belongs to the beta test group (which carries health data).
pub fn is_beta_tester(seed: u64, i: u64) -> bool {
    i % BETA_EVERY == seed % BETA_EVERY
}

/// Customer record `i` (0-based) for this seed.
pub fn customer(seed: u64, i: u64) -> Customer {
    let r = |stream| mix(seed, stream, i);
    let first = pick(FIRST, r(1));
    let last = pick(LAST, r(2));
    let camera = pick(CAMERAS, r(3));
    let owner = if r(4) % 3 == 0 {
        format!("{}'s {camera}", capitalize(first))
    } else {
        camera.to_owned()
    };
    let health = is_beta_tester(seed, i).then(|| Health {
        height_cm: 150 + r(10) % 45,
        weight_kg: 48 + r(11) % 60,
        birth_year: 1950 + r(12) % 52,
        resting_heart_rate: 52 + r(13) % 35,
    });
    // Accounts were created over the two years before the leak.
    let day = r(7) % 730;
    let created = jiff::civil::date(2017, 12, 1)
        .checked_add(jiff::Span::new().days(i64::try_from(day).unwrap_or(0)))
        .unwrap_or(jiff::civil::date(2017, 12, 1));
    Customer {
        customer_id: format!("c{:07}", i + 1),
        email: format!("{first}.{last}{}@{}", r(5) % 1000, pick(DOMAINS, r(6))),
        camera_nickname: owner,
        wifi_ssid: format!("{}-{:04X}", pick(SSIDS, r(8)), r(9) % 0x1_0000),
        alexa_token_id: format!("amzn1.lab.token.{}", hex_token(seed, 0xA7, i, 24)),
        device_model: pick(MODELS, r(14)),
        created_at: format!("{created}T00:00:00Z"),
        health,
    }
}

fn capitalize(word: &str) -> String {
    let mut chars = word.chars();
    chars
        .next()
        .map(|c| c.to_ascii_uppercase().to_string() + chars.as_str())
        .unwrap_or_default()
}

/// One hourly business-metric document (the indices the cluster was built for).
#[derive(Debug, Serialize)]
pub struct Metric {
    #[serde(rename = "@timestamp")]
    pub timestamp: String,
    pub device_model: &'static str,
    pub region: &'static str,
    pub activations: u64,
    pub failed_connection_rate: f64,
}

/// Metric document `i` of a metrics index (hourly, starting 2019-11-01).
pub fn metric(seed: u64, stream: u64, i: u64) -> Metric {
    let r = |k| mix(seed, stream.wrapping_mul(31).wrapping_add(k), i);
    let start = jiff::Timestamp::from_second(1_572_566_400).unwrap_or_default();
    let at = start
        .checked_add(jiff::SignedDuration::from_hours(
            i64::try_from(i).unwrap_or(0),
        ))
        .unwrap_or(start);
    #[allow(clippy::cast_precision_loss, reason = "a small number shown as a rate")]
    let rate = (r(3) % 500) as f64 / 10_000.0;
    Metric {
        timestamp: at.to_string(),
        device_model: pick(MODELS, r(1)),
        region: pick(REGIONS, r(2)),
        activations: r(4) % 900,
        failed_connection_rate: rate,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_seed_and_index_give_the_same_record() {
        let a = serde_json::to_string(&customer(2019, 123_456)).unwrap();
        let b = serde_json::to_string(&customer(2019, 123_456)).unwrap();
        let c = serde_json::to_string(&customer(2020, 123_456)).unwrap();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn every_email_is_on_a_reserved_example_domain() {
        for i in (0..CUSTOMER_RECORDS).step_by(9_973) {
            let email = customer(2019, i).email;
            let domain = email.rsplit('@').next().unwrap();
            assert!(DOMAINS.contains(&domain), "{email}");
        }
    }

    #[test]
    fn the_beta_group_has_about_140_people_with_health_data() {
        let beta = (0..CUSTOMER_RECORDS)
            .filter(|&i| is_beta_tester(2019, i))
            .count();
        assert!((139..=141).contains(&beta), "{beta}");
        let with_health = (0..CUSTOMER_RECORDS)
            .step_by(1)
            .filter(|&i| is_beta_tester(2019, i))
            .take(3)
            .all(|i| customer(2019, i).health.is_some());
        assert!(with_health);
        assert!(customer(2019, (2019 % BETA_EVERY) + 1).health.is_none());
    }

    #[test]
    fn hex_tokens_have_the_asked_length() {
        assert_eq!(hex_token(1, 2, 3, 40).len(), 40);
        assert_eq!(hex_token(1, 2, 3, 7).len(), 7);
    }
}
