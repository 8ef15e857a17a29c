//! API keys: 32 random bytes shown once as `ak_` + hex; only their SHA-256 is stored. A key
//! has 256 bits of entropy, so a fast hash is enough (no password stretching needed).

use domain::hex;
use sha2::{Digest, Sha256};

/// A new random API key.
pub fn generate_key() -> String {
    let mut bytes = [0u8; 32];
    // The OS random source failing is not recoverable for key generation.
    getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
    format!("ak_{}", hex(&bytes))
}

/// The stored form of a key.
pub fn hash_key(key: &str) -> [u8; 32] {
    Sha256::digest(key.as_bytes()).into()
}

#[cfg(test)]
mod tests {
    #[test]
    fn keys_are_unique_and_hash_stably() {
        let (a, b) = (super::generate_key(), super::generate_key());
        assert_ne!(a, b);
        assert!(a.starts_with("ak_") && a.len() == 67);
        assert_eq!(super::hash_key(&a), super::hash_key(&a));
        assert_ne!(super::hash_key(&a), super::hash_key(&b));
    }
}
