//! Indicators: the things that can be reported and shared across the group (phone numbers, bank
//! accounts, URLs, domains, messenger profiles, devices, IP addresses, wallets), their one
//! normalised spelling, and the keyed digest under which affiliates share them.
//!
//! An indicator leaves an affiliate only as a [`Digest`]: HMAC-SHA-256 under the group's secret
//! [`GroupKey`] of the kind tag, a zero byte and the normalised value. [`normalise`] maps every
//! spelling of one indicator (`010-1234-5678`, `+82 10 1234 5678`, `＋８２…`) to one value
//! (`+821012345678`), so every spelling yields one digest. Once the digest is taken the raw value
//! is never needed again: matching, counting and sharing all work on digests, and without the
//! key a digest cannot be turned back into a value or checked against a guessed one.
//!
//! An [`Indicator`] can only be made by [`normalise`] (or [`normalise_account`]), so a digest is
//! always taken over a normalised value. Normalising never panics and returns an
//! [`IndicatorError`] naming the problem; the normalised value normalises to itself.
//!
//! This crate is pure: no IO, no clock, no threads, no async.

mod text;
mod url;

use std::fmt;
use std::str::FromStr;

use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The longest raw input accepted, in bytes. Real indicators are far shorter; the bound keeps
/// hostile input cheap to reject.
pub const MAX_INPUT_BYTES: usize = 2048;

/// What an indicator is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum IndicatorKind {
    /// A phone number, normalised to E.164 (`+821012345678`).
    Phone,
    /// A bank account, normalised to `bank:digits` (`088:110123456789`).
    Account,
    /// A web address, normalised to lowercase host and path without scheme, query or fragment.
    Url,
    /// A registrable domain (`kakao-secure.co.kr`).
    Domain,
    /// A messenger or social-network profile id or name.
    Profile,
    /// A device identifier.
    Device,
    /// An IPv4 or IPv6 address.
    Ip,
    /// A cryptocurrency wallet address.
    Wallet,
}

impl IndicatorKind {
    /// Every kind, in declaration order.
    pub const ALL: [IndicatorKind; 8] = [
        IndicatorKind::Phone,
        IndicatorKind::Account,
        IndicatorKind::Url,
        IndicatorKind::Domain,
        IndicatorKind::Profile,
        IndicatorKind::Device,
        IndicatorKind::Ip,
        IndicatorKind::Wallet,
    ];

    /// The kind's stable tag; it is also the prefix hashed into every digest.
    pub const fn as_str(self) -> &'static str {
        match self {
            IndicatorKind::Phone => "phone",
            IndicatorKind::Account => "account",
            IndicatorKind::Url => "url",
            IndicatorKind::Domain => "domain",
            IndicatorKind::Profile => "profile",
            IndicatorKind::Device => "device",
            IndicatorKind::Ip => "ip",
            IndicatorKind::Wallet => "wallet",
        }
    }

    /// The kind with this tag (exact, lowercase), if any.
    pub fn parse(tag: &str) -> Option<IndicatorKind> {
        IndicatorKind::ALL.into_iter().find(|k| k.as_str() == tag)
    }
}

impl fmt::Display for IndicatorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A normalised indicator. Made only by [`normalise`] and [`normalise_account`], so its value is
/// always the one canonical spelling.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Indicator {
    kind: IndicatorKind,
    value: String,
}

impl Indicator {
    /// What the indicator is.
    pub fn kind(&self) -> IndicatorKind {
        self.kind
    }

    /// The normalised value (`+821012345678`, `088:110123456789`, `kakao-secure.xyz/install`).
    pub fn value(&self) -> &str {
        &self.value
    }
}

/// Why a raw value is not a valid indicator of its kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndicatorError {
    /// The kind the value was read as.
    pub kind: IndicatorKind,
    /// What is wrong, in words a person can act on.
    pub message: String,
}

impl fmt::Display for IndicatorError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: {}", self.kind, self.message)
    }
}

impl std::error::Error for IndicatorError {}

/// Normalises `raw` as an indicator of `kind`. Input longer than [`MAX_INPUT_BYTES`] is
/// rejected. The exact rules are documented beside their code (`text.rs`, `url.rs`); in short:
///
/// - `phone`: E.164. Korean numbers in any common spelling (`010-1234-5678`, `+82 (0)10 …`,
///   `82-10-…`, full-width digits), landlines, `070`, representative numbers (`1588-1234` →
///   `+8215881234`); foreign numbers need `+` or `00`.
/// - `account`: `bank:digits` from `088:110-123-456789` or `088 110-123-456789`.
/// - `url`: lowercase host (IDN as punycode), non-default port and path; no scheme, query,
///   fragment, user info or trailing slash. `www.` is kept.
/// - `domain`: the registrable domain of a host or URL (public suffix list).
/// - `profile`, `device`: trimmed, inner whitespace collapsed, invisible characters removed,
///   case kept.
/// - `ip`: canonical text; IPv4-mapped IPv6 becomes IPv4.
/// - `wallet`: `0x` addresses lowercased, bech32 (`bc1…`) lowercased, others kept as written.
pub fn normalise(kind: IndicatorKind, raw: &str) -> Result<Indicator, IndicatorError> {
    let err = |message: String| IndicatorError { kind, message };
    if raw.len() > MAX_INPUT_BYTES {
        return Err(err(format!("is {} bytes long; at most {MAX_INPUT_BYTES} are accepted", raw.len())));
    }
    let value = match kind {
        IndicatorKind::Phone => text::phone(raw),
        IndicatorKind::Account => text::account_text(raw),
        IndicatorKind::Url => url::url(raw),
        IndicatorKind::Domain => url::domain(raw),
        IndicatorKind::Profile | IndicatorKind::Device => text::label(raw),
        IndicatorKind::Ip => text::ip(raw),
        IndicatorKind::Wallet => text::wallet(raw),
    }
    .map_err(err)?;
    Ok(Indicator { kind, value })
}

/// Normalises a bank account given as separate bank code and account number, as
/// `domain::Counterparty::account_key` does: `("088", "110-123-456789")` → `088:110123456789`.
pub fn normalise_account(bank: &str, account: &str) -> Result<Indicator, IndicatorError> {
    let kind = IndicatorKind::Account;
    if bank.len() + account.len() > MAX_INPUT_BYTES {
        return Err(IndicatorError { kind, message: format!("is longer than {MAX_INPUT_BYTES} bytes") });
    }
    let value = text::account(bank, account).map_err(|message| IndicatorError { kind, message })?;
    Ok(Indicator { kind, value })
}

/// Decodes an RFC 3492 punycode label (without the `xn--` prefix); `None` when it is not valid
/// punycode. The inverse of the encoding `normalise` applies to internationalised hosts.
pub fn punycode_decode(label: &str) -> Option<String> {
    url::punycode_decode(label)
}

/// The registrable domain (public suffix plus one label) of a `url` or `domain` indicator:
/// `kakao-secure.co.kr/x` → `kakao-secure.co.kr`, `a.b.example.com` → `example.com`. `None` for
/// other kinds, IP hosts and hosts that are themselves a public suffix. Private suffixes count
/// (`evil.github.io` stays `evil.github.io`), so one user's site on a shared host does not
/// implicate the host.
pub fn registrable_domain(indicator: &Indicator) -> Option<String> {
    match indicator.kind {
        IndicatorKind::Domain => Some(indicator.value.clone()),
        IndicatorKind::Url => url::registrable_of_normalised(&indicator.value),
        _ => None,
    }
}

/// Error reading a hex key or digest. It never repeats the input, which may be a secret.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HexError(pub &'static str);

impl fmt::Display for HexError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for HexError {}

fn hex32(s: &str, what: &'static str) -> Result<[u8; 32], HexError> {
    let s = s.trim().as_bytes();
    if s.len() != 64 {
        return Err(HexError(what));
    }
    let mut out = [0u8; 32];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        let hi = (pair[0] as char).to_digit(16).ok_or(HexError(what))?;
        let lo = (pair[1] as char).to_digit(16).ok_or(HexError(what))?;
        out[i] = (hi * 16 + lo) as u8;
    }
    Ok(out)
}

/// The group's secret: 32 bytes shared by the affiliates and nobody else. Its `Debug` never
/// shows the key, and it has no `Display`.
#[derive(Clone, PartialEq, Eq)]
pub struct GroupKey([u8; 32]);

impl GroupKey {
    /// The key from its 32 bytes.
    pub const fn from_bytes(bytes: [u8; 32]) -> GroupKey {
        GroupKey(bytes)
    }

    /// The key from 64 hex digits (either case; surrounding whitespace ignored).
    pub fn from_hex(hex: &str) -> Result<GroupKey, HexError> {
        hex32(hex, "a group key is 64 hex digits (32 bytes)").map(GroupKey)
    }
}

impl fmt::Debug for GroupKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("GroupKey(<redacted>)")
    }
}

/// The keyed digest of an indicator: what affiliates store, match and share. Written as 64
/// lowercase hex digits.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// The digest's bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for b in self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl FromStr for Digest {
    type Err = HexError;

    fn from_str(s: &str) -> Result<Digest, HexError> {
        hex32(s, "a digest is 64 hex digits (32 bytes)").map(Digest)
    }
}

/// The indicator's digest under the group key: HMAC-SHA-256(key, kind tag || 0x00 || value).
///
/// The kind tag keeps equal text of different kinds apart (a device id that happens to equal a
/// profile name gets another digest); the zero byte separates tag and value, and no tag contains
/// it. Every spelling of one indicator normalises to one value and so yields one digest.
pub fn digest(key: &GroupKey, indicator: &Indicator) -> Digest {
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = Hmac::<Sha256>::new_from_slice(&key.0).expect("HMAC takes keys of any length");
    mac.update(indicator.kind.as_str().as_bytes());
    mac.update(&[0]);
    mac.update(indicator.value.as_bytes());
    Digest(mac.finalize().into_bytes().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_round_trip() {
        for k in IndicatorKind::ALL {
            assert_eq!(IndicatorKind::parse(k.as_str()), Some(k));
        }
        assert_eq!(IndicatorKind::parse("Phone"), None);
    }

    #[test]
    fn key_debug_hides_the_key() {
        let key = GroupKey::from_hex(&"ab".repeat(32)).unwrap();
        let shown = format!("{key:?}");
        assert!(!shown.to_lowercase().contains("ab"), "{shown}");
        let err = GroupKey::from_hex("secret-but-short").unwrap_err().to_string();
        assert!(!err.contains("secret"), "{err}");
    }

    #[test]
    fn digest_hex_round_trips() {
        let d = Digest([0x5a; 32]);
        assert_eq!(d.to_string().parse::<Digest>(), Ok(d));
        assert!("zz".parse::<Digest>().is_err());
        assert!("5A".repeat(32).parse::<Digest>().is_ok());
    }
}
