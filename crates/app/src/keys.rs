//! API keys: 32 random bytes shown once as `ak_` + hex; only their SHA-256 is stored. A key
//! has 256 bits of entropy, so a fast hash is enough (no password stretching needed).

use sha2::{Digest, Sha256};

/// A new random API key.
pub fn generate_key() -> String {
    let mut bytes = [0u8; 32];
    // The OS random source failing is not recoverable for key generation.
    getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
    format!("ak_{}", hex(&bytes))
}

/// Bytes as lowercase hex, two digits each (a table, not `format!` per byte: indicator
/// digests are written this way on the decision path).
pub fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

/// The stored form of a key.
pub fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_writes_two_lowercase_digits_a_byte() {
        let bytes: Vec<u8> = (0..=255).collect();
        let slow: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(super::hex(&bytes), slow);
        assert_eq!(super::hex(&[]), "");
    }

    #[test]
    fn keys_are_unique_and_hash_stably() {
        let (a, b) = (super::generate_key(), super::generate_key());
        assert_ne!(a, b);
        assert!(a.starts_with("ak_") && a.len() == 67);
        assert_eq!(super::hash_key(&a), super::hash_key(&a));
        assert_ne!(super::hash_key(&a), super::hash_key(&b));
    }
}
