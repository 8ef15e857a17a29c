//! Normalising the indicators that are short text: phone numbers, bank accounts, profiles and
//! devices, IP addresses and wallets. Each function returns the normalised value or a message
//! saying what is wrong; none panics.

use std::net::IpAddr;

/// Folds full-width ASCII (U+FF01–U+FF5E) and the ideographic space to plain ASCII, as NFKC
/// would, and the dash look-alikes (U+2010–U+2015, U+2212) to `-`. Korean input methods produce
/// full-width digits and signs.
pub(crate) fn fold_width(c: char) -> char {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
        '\u{3000}' => ' ',
        '\u{2010}'..='\u{2015}' | '\u{2212}' => '-',
        _ => c,
    }
}

fn folded(raw: &str) -> String {
    raw.chars().map(fold_width).collect()
}

/// Phone numbers to E.164 (`+` and digits).
///
/// Accepted spellings: separators ` `, `-`, `.`, `/`, `(`, `)`; an optional `tel:` prefix;
/// full-width characters. Then:
/// - `+CC…` or `00CC…`: international. For `+82` a trunk `0` after the country code is dropped,
///   written `(0)` or not (`+82 (0)10 …`, `+82 010 …`); `(0)` is dropped for any country.
/// - `82…` without `+`: Korean (no national number starts with 8).
/// - `0…`: Korean national number, the trunk `0` dropped.
/// - `15xx-xxxx`, `16xx-xxxx`, `18xx-xxxx`: Korean representative numbers (`+8215881234`).
///
/// Korean numbers are checked against the numbering plan (mobile `010` and the legacy
/// `011`/`016`–`019`, Seoul `02`, the area codes `031`–`064`, `070`, `050x`, `060`, `080`); a
/// foreign number needs 7 to 15 digits with its country code. Only `00` is read as an
/// international prefix: the Korean carrier prefixes (`001`, `002`, `00700`, …) are ambiguous
/// with country codes and are not stripped.
pub(crate) fn phone(raw: &str) -> Result<String, String> {
    let s = folded(raw);
    let mut s = s.trim();
    if s.len() >= 4 && s.is_char_boundary(4) && s[..4].eq_ignore_ascii_case("tel:") {
        s = s[4..].trim_start();
    }
    if s.is_empty() {
        return Err("is empty".into());
    }
    let chars: Vec<char> = s.chars().collect();
    let mut digits = String::new();
    let mut plus = false;
    let mut trunk_in_parens = None;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        match c {
            '0'..='9' => digits.push(c),
            '+' if digits.is_empty() && !plus => plus = true,
            '+' => return Err("has `+` after the start; only the country code may follow a leading `+`".into()),
            '(' if chars.get(i + 1) == Some(&'0') && chars.get(i + 2) == Some(&')') => {
                trunk_in_parens = Some(digits.len());
                digits.push('0');
                i += 2;
            }
            ' ' | '-' | '.' | '/' | '(' | ')' => {}
            c if c.is_whitespace() => {}
            c if c.is_alphabetic() => {
                return Err(format!("contains the letter {c:?}; a phone number is digits only"));
            }
            c => return Err(format!("contains {c:?}; a phone number is digits, spaces, `-`, `.`, `(`, `)`")),
        }
        i += 1;
    }
    if digits.is_empty() {
        return Err("has no digits".into());
    }
    let international = if plus {
        Some(digits.as_str())
    } else if let Some(rest) = digits.strip_prefix("00") {
        trunk_in_parens = trunk_in_parens.and_then(|p| p.checked_sub(2));
        Some(rest)
    } else {
        None
    };
    if let Some(intl) = international {
        // `(0)` marks the trunk prefix, which an international number leaves out.
        let mut intl = intl.to_string();
        if let Some(p) = trunk_in_parens
            && p < intl.len()
        {
            intl.remove(p);
        }
        if let Some(national) = intl.strip_prefix("82") {
            return korean(national.strip_prefix('0').unwrap_or(national));
        }
        if intl.starts_with('0') {
            return Err("a country code never starts with 0".into());
        }
        if !(7..=15).contains(&intl.len()) {
            return Err(format!(
                "has {} digits with the country code; an international number has 7 to 15",
                intl.len()
            ));
        }
        return Ok(format!("+{intl}"));
    }
    if let Some(national) = digits.strip_prefix("82") {
        return korean(national.strip_prefix('0').unwrap_or(national));
    }
    if let Some(national) = digits.strip_prefix('0') {
        return korean(national);
    }
    if digits.starts_with("15") || digits.starts_with("16") || digits.starts_with("18") {
        return korean(&digits);
    }
    Err("is neither a Korean number (it would start with 0, 82 or 15/16/18) nor international (`+` or `00` and the \
         country code)"
        .into())
}

/// Checks a Korean national significant number (without the trunk `0`) and returns it in
/// E.164.
fn korean(nsn: &str) -> Result<String, String> {
    let n = nsn.len();
    let two = nsn.get(..2).unwrap_or(nsn);
    let (what, lengths): (&str, &[usize]) = match two {
        "10" => ("mobile (010)", &[10]),
        "15" => ("representative (15xx, 16xx, 18xx)", &[8]),
        "16" | "18" if n == 8 => ("representative (15xx, 16xx, 18xx)", &[8]),
        "11" | "16" | "17" | "18" | "19" => ("mobile (011, 016-019)", &[9, 10]),
        _ if nsn.starts_with('2') => ("Seoul (02)", &[8, 9]),
        "31" | "32" | "33" | "41" | "42" | "43" | "44" | "51" | "52" | "53" | "54" | "55" | "61" | "62" | "63"
        | "64" => ("regional", &[9, 10]),
        "70" => ("internet phone (070)", &[10]),
        "50" => ("personal (050x)", &[10, 11]),
        "60" | "80" => ("service (060, 080)", &[9, 10]),
        _ => return Err(format!("+82 {nsn} does not start with a Korean area, mobile or service code")),
    };
    if !lengths.contains(&n) {
        let want: Vec<String> = lengths.iter().map(|l| l.to_string()).collect();
        return Err(format!(
            "a Korean {what} number has {} digits after the leading 0 or +82, got {n}",
            want.join(" or ")
        ));
    }
    Ok(format!("+82{nsn}"))
}

/// `bank:account` or `bank account` (the first `:` or whitespace separates them).
pub(crate) fn account_text(raw: &str) -> Result<String, String> {
    let s = folded(raw);
    let s = s.trim();
    let (bank, number) = match s.split_once(':').or_else(|| s.split_once(char::is_whitespace)) {
        Some(parts) => parts,
        // `004-123-45-678901`: a bank code joined to the account by a hyphen. Bank codes begin
        // with a zero (`004`, `088`, `090`), so a hyphenated account without one (`110-123-
        // 456789`) is not mistaken for a code and an account.
        None => s
            .split_once('-')
            .filter(|(b, _)| b.len() == 3 && b.starts_with('0'))
            .ok_or("needs the bank code first, as `088:110-123-456789`, `088 110-123-456789` or `004-123-45-678901`")?,
    };
    account(bank, number)
}

/// A three-digit bank code and 6 to 20 account digits; hyphens and spaces in the account are
/// dropped, as `domain::Counterparty::account_key` does.
pub(crate) fn account(bank: &str, account: &str) -> Result<String, String> {
    let bank = folded(bank);
    let bank = bank.trim();
    if bank.len() != 3 || !bank.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("the bank code must be three digits such as \"088\", got {bank:?}"));
    }
    let digits: String = folded(account).chars().filter(|c| *c != '-' && !c.is_whitespace()).collect();
    if !digits.bytes().all(|b| b.is_ascii_digit()) {
        return Err("the account number must be digits (hyphens and spaces allowed)".into());
    }
    if !(6..=20).contains(&digits.len()) {
        return Err(format!("the account number must have 6 to 20 digits, got {}", digits.len()));
    }
    // `bank:digits`, joined without the formatting machinery (once per transfer decided).
    let mut out = String::with_capacity(bank.len() + 1 + digits.len());
    out.push_str(bank);
    out.push(':');
    out.push_str(&digits);
    Ok(out)
}

/// Invisible characters that make two equal-looking names differ: zero-width space, joiners,
/// word joiner, byte-order mark, soft hyphen.
fn invisible(c: char) -> bool {
    matches!(c, '\u{200B}'..='\u{200D}' | '\u{2060}' | '\u{FEFF}' | '\u{00AD}')
}

/// Profiles and devices: invisible characters removed, trimmed, runs of whitespace collapsed to
/// one space. Case is kept: many messenger ids and device ids are case-sensitive, and folding
/// would merge distinct ones.
pub(crate) fn label(raw: &str) -> Result<String, String> {
    if let Some(c) = raw.chars().find(|c| c.is_control() && !c.is_whitespace()) {
        return Err(format!("contains the control character {c:?}"));
    }
    let cleaned: String = raw.chars().filter(|c| !invisible(*c)).collect();
    let value = cleaned.split_whitespace().collect::<Vec<_>>().join(" ");
    if value.is_empty() {
        return Err("is empty".into());
    }
    Ok(value)
}

/// IP addresses in `std`'s canonical text; IPv4-mapped IPv6 (`::ffff:1.2.3.4`) becomes IPv4.
/// Brackets around IPv6 are accepted. Octets with leading zeros, ports and zone ids are
/// rejected.
pub(crate) fn ip(raw: &str) -> Result<String, String> {
    let s = folded(raw);
    let s = s.trim();
    let inner = s.strip_prefix('[').and_then(|r| r.strip_suffix(']')).unwrap_or(s);
    let addr: IpAddr = inner.parse().map_err(|_| format!("{s:?} is not an IPv4 or IPv6 address"))?;
    let addr = match addr {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    Ok(addr.to_string())
}

const BECH32_PREFIXES: &[&str] = &["bc1", "tb1", "bcrt1", "ltc1", "tltc1"];

/// Wallets: `0x` + 40 hex digits (EVM) lowercased, dropping the EIP-55 checksum case; bech32
/// addresses with a known prefix (`bc1`, `tb1`, `bcrt1`, `ltc1`, `tltc1`) lowercased, and
/// rejected in mixed case as bech32 requires; all others (base58 and the rest) kept as written,
/// because their case is significant.
pub(crate) fn wallet(raw: &str) -> Result<String, String> {
    let s = folded(raw);
    let s = s.trim();
    if s.is_empty() {
        return Err("is empty".into());
    }
    if let Some(hex) = s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        if hex.len() != 40 || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err("an EVM address is 0x followed by 40 hex digits".into());
        }
        return Ok(format!("0x{}", hex.to_ascii_lowercase()));
    }
    if !s.bytes().all(|b| b.is_ascii_alphanumeric()) {
        return Err("a wallet address is letters and digits only".into());
    }
    let lower = s.to_ascii_lowercase();
    if BECH32_PREFIXES.iter().any(|p| lower.starts_with(p)) {
        if s.bytes().any(|b| b.is_ascii_uppercase()) && s.bytes().any(|b| b.is_ascii_lowercase()) {
            return Err("a bech32 address is all lowercase or all uppercase, not mixed".into());
        }
        if !(14..=90).contains(&s.len()) {
            return Err(format!("a bech32 address has 14 to 90 characters, got {}", s.len()));
        }
        return Ok(lower);
    }
    if !(20..=128).contains(&s.len()) {
        return Err(format!("a wallet address has 20 to 128 characters, got {}", s.len()));
    }
    Ok(s.to_string())
}
