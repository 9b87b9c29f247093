//! Hex and SHA-256, the way stanch writes every hash. A leaf: it imports nothing from the
//! crate, so the runbook, template, journal and engine layers can all use it.

use sha2::{Digest, Sha256};

/// Lowercase hex of bytes (hashes everywhere in stanch are written this way).
pub fn hex(bytes: &[u8]) -> String {
    // A table, not `write!("{b:02x}")` per byte: the formatter showed in profiles of long
    // foreach runs (every event's chain hash, every response body's digest).
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    out
}

/// SHA-256 of bytes, lowercase hex.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex(&Sha256::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex_is_lowercase_two_digits_per_byte() {
        assert_eq!(hex(&[0x00, 0x0f, 0xa0, 0xff]), "000fa0ff");
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
    }
}
