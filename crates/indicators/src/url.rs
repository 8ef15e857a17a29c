//! Normalising URLs and domains, parsed by hand (no `url` crate: the rules below are all we
//! need, and they must be stable across dependency upgrades because digests depend on them).
//!
//! A URL indicator is `host[:port][/path]`:
//! - scheme dropped (`http`, `https`, and the defanged `hxxp`, `hxxps`; a bare `host/path` or
//!   `//host/path` is accepted; other schemes are rejected);
//! - user info dropped (`https://kakao.com@evil.xyz/` is `evil.xyz`);
//! - host lowercased, full-width characters folded, a trailing dot dropped, defanged `[.]` and
//!   `(.)` read as `.`; `www.` is kept (it may be another site; the `domain` kind merges them);
//!   internationalised labels become punycode (`xn--…`) by RFC 3492, lowercased first but not
//!   NFC-normalised (labels with combining marks are rejected rather than silently split);
//!   IPv4 hosts canonical, IPv6 hosts canonical in brackets;
//! - ports 80 and 443 dropped whatever the scheme (the scheme is dropped too), others kept;
//! - path: `\` read as `/`, percent-escapes of unreserved characters decoded, other escapes
//!   upper-cased, characters outside the URL set percent-encoded (UTF-8), `.` and `..` segments
//!   resolved, trailing slashes removed; its case is kept;
//! - query and fragment dropped (phishing kits put per-victim ids there).

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::text::fold_width;

/// A parsed web address.
struct Parsed {
    /// Normalised host: a domain name, an IPv4 address or a bracketed IPv6 address.
    host: String,
    /// True when the host is an IP address.
    is_ip: bool,
    /// A non-default port.
    port: Option<u16>,
    /// Normalised path, empty or starting with `/`.
    path: String,
}

pub(crate) fn url(raw: &str) -> Result<String, String> {
    let p = parse(raw)?;
    let mut out = p.host;
    if let Some(port) = p.port {
        out.push(':');
        out.push_str(&port.to_string());
    }
    out.push_str(&p.path);
    Ok(out)
}

pub(crate) fn domain(raw: &str) -> Result<String, String> {
    let p = parse(raw)?;
    if p.is_ip {
        return Err(format!("{} is an IP address, which has no domain; use the kind `ip`", p.host));
    }
    registrable(&p.host)
        .ok_or_else(|| format!("{} has no registrable domain: it is a public suffix or a single label", p.host))
}

/// The registrable domain of a normalised URL value.
pub(crate) fn registrable_of_normalised(value: &str) -> Option<String> {
    let authority = value.split('/').next().unwrap_or(value);
    if authority.starts_with('[') {
        return None;
    }
    let host = authority.split(':').next().unwrap_or(authority);
    if host.parse::<Ipv4Addr>().is_ok() {
        return None;
    }
    registrable(host)
}

fn registrable(host: &str) -> Option<String> {
    psl::domain_str(host).map(str::to_string)
}

fn is_scheme(s: &str) -> bool {
    let mut bytes = s.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || matches!(b, b'+' | b'-' | b'.'))
}

fn parse(raw: &str) -> Result<Parsed, String> {
    let s = raw.trim();
    if s.is_empty() {
        return Err("is empty".into());
    }
    if let Some(c) = s.chars().find(|c| c.is_control() || c.is_whitespace()) {
        return Err(format!("contains {c:?}; a URL has no spaces or control characters"));
    }
    let rest = match s.split_once("://") {
        Some((scheme, rest)) if is_scheme(scheme) => match scheme.to_ascii_lowercase().as_str() {
            "http" | "https" | "hxxp" | "hxxps" => rest,
            other => return Err(format!("has the scheme {other:?}; only http and https addresses are indicators")),
        },
        _ => s.strip_prefix("//").unwrap_or(s),
    };
    let end = rest.find(['/', '\\', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let authority = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let authority = authority.replace("[.]", ".").replace("(.)", ".");
    let (host, port) = split_port(&authority)?;
    let (host, is_ip) = normalise_host(host)?;
    let path_end = tail.find(['?', '#']).unwrap_or(tail.len());
    Ok(Parsed { host, is_ip, port, path: normalise_path(&tail[..path_end]) })
}

/// Splits `host:port` (or `[v6]:port`); drops the default web ports.
fn split_port(authority: &str) -> Result<(&str, Option<u16>), String> {
    let (host, port) = if authority.starts_with('[') {
        let close = authority.find(']').ok_or("has an IPv6 host without its closing `]`")?;
        let (host, after) = authority.split_at(close + 1);
        match after.strip_prefix(':') {
            Some(port) => (host, port),
            None if after.is_empty() => (host, ""),
            None => return Err(format!("has {after:?} after the IPv6 host")),
        }
    } else {
        authority.rsplit_once(':').unwrap_or((authority, ""))
    };
    if port.is_empty() {
        return Ok((host, None));
    }
    if port.len() > 5 || !port.bytes().all(|b| b.is_ascii_digit()) {
        return Err(format!("has the port {port:?}; a port is a number up to 65535"));
    }
    match port.parse::<u16>() {
        Ok(80 | 443) => Ok((host, None)),
        Ok(p) => Ok((host, Some(p))),
        Err(_) => Err(format!("has the port {port}; a port is a number up to 65535")),
    }
}

/// Returns the normalised host and whether it is an IP address.
fn normalise_host(host: &str) -> Result<(String, bool), String> {
    if let Some(v6) = host.strip_prefix('[') {
        let v6 = v6.strip_suffix(']').unwrap_or(v6);
        let addr: Ipv6Addr = v6.parse().map_err(|_| format!("[{v6}] is not an IPv6 address"))?;
        return Ok(match addr.to_ipv4_mapped() {
            Some(v4) => (v4.to_string(), true),
            None => (format!("[{addr}]"), true),
        });
    }
    let mut lower = String::with_capacity(host.len());
    for c in host.chars().map(fold_width) {
        match c {
            '\u{3002}' | '\u{FF61}' => lower.push('.'),
            c => lower.extend(c.to_lowercase()),
        }
    }
    let lower = lower.strip_suffix('.').unwrap_or(&lower);
    if lower.is_empty() {
        return Err("has no host".into());
    }
    if lower.contains(':') {
        return Err("has an IPv6 host without brackets, or more than one `:`".into());
    }
    if let Ok(v4) = lower.parse::<Ipv4Addr>() {
        return Ok((v4.to_string(), true));
    }
    let mut out = String::with_capacity(lower.len());
    for label in lower.split('.') {
        if label.is_empty() {
            return Err(format!("has an empty label in the host {lower:?}"));
        }
        if !out.is_empty() {
            out.push('.');
        }
        if label.is_ascii() {
            if let Some(c) = label.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))) {
                return Err(format!("has {c:?} in the host; a host is letters, digits, `-`, `_` and `.`"));
            }
            out.push_str(label);
        } else {
            if let Some(c) = label.chars().find(|c| !(c.is_alphanumeric() || matches!(c, '-' | '_'))) {
                return Err(format!("has {c:?} in the host; a host is letters, digits, `-`, `_` and `.`"));
            }
            out.push_str("xn--");
            out.push_str(&punycode(label).ok_or("has a host label too long to encode")?);
        }
        if out.len() - out.rfind('.').map_or(0, |i| i + 1) > 63 {
            return Err("has a host label longer than 63 characters".into());
        }
    }
    if out.len() > 253 {
        return Err(format!("has a host of {} characters; at most 253 are allowed", out.len()));
    }
    if out.rsplit('.').next().is_some_and(|tld| tld.bytes().all(|b| b.is_ascii_digit())) {
        return Err(format!("{out} is neither an IPv4 address nor a domain name"));
    }
    Ok((out, false))
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Characters kept as they are in a path: unreserved, sub-delimiters, `:`, `@`, `/`.
fn path_char(b: u8) -> bool {
    unreserved(b)
        || matches!(b, b'!' | b'$' | b'&' | b'\'' | b'(' | b')' | b'*' | b'+' | b',' | b';' | b'=' | b':' | b'@' | b'/')
}

fn hex_val(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

fn normalise_path(path: &str) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = path.as_bytes();
    let mut decoded = String::with_capacity(path.len());
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%'
            && let (Some(hi), Some(lo)) =
                (bytes.get(i + 1).copied().and_then(hex_val), bytes.get(i + 2).copied().and_then(hex_val))
        {
            let v = hi * 16 + lo;
            if unreserved(v) {
                decoded.push(v as char);
            } else {
                decoded.push('%');
                decoded.push(HEX[usize::from(hi)] as char);
                decoded.push(HEX[usize::from(lo)] as char);
            }
            i += 3;
            continue;
        }
        match b {
            b'\\' => decoded.push('/'),
            b if path_char(b) => decoded.push(b as char),
            b => {
                decoded.push('%');
                decoded.push(HEX[usize::from(b >> 4)] as char);
                decoded.push(HEX[usize::from(b & 15)] as char);
            }
        }
        i += 1;
    }
    let mut segments: Vec<&str> = Vec::new();
    for seg in decoded.split('/').skip(1) {
        match seg {
            "." => {}
            ".." => {
                segments.pop();
            }
            s => segments.push(s),
        }
    }
    let mut out = String::with_capacity(decoded.len());
    for seg in segments {
        out.push('/');
        out.push_str(seg);
    }
    while out.ends_with('/') {
        out.pop();
    }
    out
}

// RFC 3492 parameters and the bias adaptation shared by encoding and decoding.
const BASE: u32 = 36;
const TMIN: u32 = 1;
const TMAX: u32 = 26;

fn adapt(delta: u32, points: u32, first: bool) -> u32 {
    let mut delta = if first { delta / 700 } else { delta / 2 };
    delta += delta / points;
    let mut k = 0;
    while delta > ((BASE - TMIN) * TMAX) / 2 {
        delta /= BASE - TMIN;
        k += BASE;
    }
    k + (BASE - TMIN + 1) * delta / (delta + 38)
}

/// The digit threshold at position `k` under `bias`.
fn threshold(k: u32, bias: u32) -> u32 {
    if k <= bias {
        TMIN
    } else if k >= bias + TMAX {
        TMAX
    } else {
        k - bias
    }
}

/// Decodes an RFC 3492 punycode label (without `xn--`); `None` when it is not valid.
pub(crate) fn punycode_decode(input: &str) -> Option<String> {
    if !input.is_ascii() || input.len() > 63 {
        return None;
    }
    let (basic, encoded) = match input.rfind('-') {
        Some(i) => (&input[..i], &input[i + 1..]),
        None => ("", input),
    };
    let mut out: Vec<char> = basic.chars().collect();
    let (mut n, mut i, mut bias) = (128u32, 0u32, 72u32);
    let mut bytes = encoded.bytes().peekable();
    while bytes.peek().is_some() {
        let old_i = i;
        let mut w = 1u32;
        let mut k = BASE;
        loop {
            let b = bytes.next()?;
            let digit = match b {
                b'a'..=b'z' => u32::from(b - b'a'),
                b'A'..=b'Z' => u32::from(b - b'A'),
                b'0'..=b'9' => u32::from(b - b'0') + 26,
                _ => return None,
            };
            i = i.checked_add(digit.checked_mul(w)?)?;
            let t = threshold(k, bias);
            if digit < t {
                break;
            }
            w = w.checked_mul(BASE - t)?;
            k += BASE;
        }
        let len = out.len() as u32 + 1;
        bias = adapt(i - old_i, len, old_i == 0);
        n = n.checked_add(i / len)?;
        i %= len;
        out.insert(i as usize, char::from_u32(n)?);
        i += 1;
    }
    Some(out.into_iter().collect())
}

/// RFC 3492 punycode of one label (without the `xn--` prefix). `None` on overflow, which a
/// label within the input bound cannot reach in practice.
fn punycode(label: &str) -> Option<String> {
    fn digit(d: u32) -> char {
        // d < 36 by construction.
        char::from(if d < 26 { b'a' + d as u8 } else { b'0' + (d - 26) as u8 })
    }
    let input: Vec<u32> = label.chars().map(u32::from).collect();
    let mut out: String = label.chars().filter(char::is_ascii).collect();
    let basic = out.len() as u32;
    if basic > 0 {
        out.push('-');
    }
    let (mut n, mut delta, mut bias, mut handled) = (128u32, 0u32, 72u32, basic);
    let total = input.len() as u32;
    while handled < total {
        let m = input.iter().copied().filter(|&c| c >= n).min()?;
        delta = delta.checked_add((m - n).checked_mul(handled + 1)?)?;
        n = m;
        for &c in &input {
            if c < n {
                delta = delta.checked_add(1)?;
            }
            if c == n {
                let mut q = delta;
                let mut k = BASE;
                loop {
                    let t = threshold(k, bias);
                    if q < t {
                        break;
                    }
                    out.push(digit(t + (q - t) % (BASE - t)));
                    q = (q - t) / (BASE - t);
                    k += BASE;
                }
                out.push(digit(q));
                bias = adapt(delta, handled + 1, handled == basic);
                delta = 0;
                handled += 1;
            }
        }
        delta = delta.checked_add(1)?;
        n = n.checked_add(1)?;
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn punycode_matches_rfc_examples() {
        assert_eq!(punycode("münchen").as_deref(), Some("mnchen-3ya"));
        assert_eq!(punycode("bücher").as_deref(), Some("bcher-kva"));
        for label in ["münchen", "bücher", "카카오뱅크", "kakаo"] {
            let encoded = punycode(label).unwrap();
            assert_eq!(punycode_decode(&encoded).as_deref(), Some(label), "round trip of {label}");
        }
        assert_eq!(punycode("한국").as_deref(), Some("3e0b707e"));
        assert_eq!(punycode("例え").as_deref(), Some("r8jz45g"));
    }

    #[test]
    fn paths() {
        assert_eq!(normalise_path(""), "");
        assert_eq!(normalise_path("/"), "");
        assert_eq!(normalise_path("/a/./b/../c/"), "/a/c");
        assert_eq!(normalise_path("/%7euser/%2f%zz"), "/~user/%2F%25zz");
        assert_eq!(normalise_path("/설치"), "/%EC%84%A4%EC%B9%98");
    }
}
