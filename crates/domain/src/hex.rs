//! Lowercase hex of bytes, two digits each, from one table: indicator digests, keys, tokens,
//! decision ids and webhook signatures are all written this way (some on the decision path,
//! where a `format!` per byte showed in profiles).

const DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Appends `bytes` to `out` as lowercase hex.
pub fn push_hex(out: &mut String, bytes: &[u8]) {
    out.reserve(bytes.len() * 2);
    for b in bytes {
        out.push(char::from(DIGITS[usize::from(b >> 4)]));
        out.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
}

/// `bytes` as lowercase hex.
pub fn hex(bytes: &[u8]) -> String {
    let mut s = String::with_capacity(bytes.len() * 2);
    push_hex(&mut s, bytes);
    s
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_writes_two_lowercase_digits_a_byte() {
        let bytes: Vec<u8> = (0..=255).collect();
        let slow: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(super::hex(&bytes), slow);
        assert_eq!(super::hex(&[]), "");
        let mut s = String::from("v1=");
        super::push_hex(&mut s, &[0x0f, 0xa0]);
        assert_eq!(s, "v1=0fa0");
    }
}
