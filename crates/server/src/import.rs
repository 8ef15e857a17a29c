//! Reading indicator lists for bulk import: CSV with `kind,value,typology[,status]` per line,
//! an optional header, quoted fields with `""` escapes, blank lines and `#` comments skipped.
//! Every problem is reported with its line number.

use app::registry::Status;
use indicators::IndicatorKind;

/// One parsed row: kind, raw value, typology, status.
pub type Row = (IndicatorKind, String, String, Status);

/// Splits one CSV line into fields; `None` when a quote is left open.
fn fields(line: &str) -> Option<Vec<String>> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    while let Some(c) = chars.next() {
        match (c, quoted) {
            ('"', false) if cur.trim().is_empty() => {
                cur.clear();
                quoted = true;
            }
            ('"', true) if chars.peek() == Some(&'"') => {
                chars.next();
                cur.push('"');
            }
            ('"', true) => quoted = false,
            (',', false) => out.push(std::mem::take(&mut cur).trim().to_string()),
            (c, _) => cur.push(c),
        }
    }
    if quoted {
        return None;
    }
    out.push(cur.trim().to_string());
    Some(out)
}

/// Parses a whole file: the rows, the 1-based line number of each row, and the bad lines as
/// `(line, message)`.
pub fn parse_csv(text: &str) -> (Vec<Row>, Vec<usize>, Vec<(usize, String)>) {
    let (mut rows, mut lines, mut bad) = (Vec::new(), Vec::new(), Vec::new());
    for (i, raw) in text.lines().enumerate() {
        let n = i + 1;
        let line = raw.trim_start_matches('\u{feff}').trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let Some(f) = fields(line) else {
            bad.push((n, "a quoted field is not closed".to_string()));
            continue;
        };
        if rows.is_empty() && bad.is_empty() && f.first().is_some_and(|k| k.eq_ignore_ascii_case("kind")) {
            continue; // header
        }
        if !(3..=4).contains(&f.len()) {
            bad.push((n, format!("expected kind,value,typology[,status], got {} field(s)", f.len())));
            continue;
        }
        let Some(kind) = IndicatorKind::parse(&f[0].to_ascii_lowercase()) else {
            bad.push((
                n,
                format!("unknown kind {:?}; use phone, account, url, domain, profile, device, ip or wallet", f[0]),
            ));
            continue;
        };
        let status = match f.get(3).map(|s| s.to_ascii_lowercase()) {
            None => Status::Reported,
            Some(s) if s.is_empty() => Status::Reported,
            Some(s) => match Status::parse(&s) {
                Some(st) => st,
                None => {
                    bad.push((n, format!("unknown status {s:?}; use reported, confirmed or cleared")));
                    continue;
                }
            },
        };
        rows.push((kind, f[1].clone(), f[2].clone(), status));
        lines.push(n);
    }
    (rows, lines, bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rows_and_names_bad_lines() {
        let text = "kind,value,typology,status\n\
                    phone,010-1234-5678,impersonation\n\
                    # a comment\n\
                    \n\
                    account,\"088 110-123-456789\",mule,confirmed\n\
                    url,\"https://a.xyz/x?q=1,2\",smishing\n\
                    iban,DE00,mule\n\
                    phone,010,spam,maybe\n\
                    phone,\"unclosed,spam\n\
                    phone,only-two\n";
        let (rows, lines, bad) = parse_csv(text);
        assert_eq!(rows.len(), 3);
        assert_eq!(lines, vec![2, 5, 6]);
        assert_eq!(rows[1], (IndicatorKind::Account, "088 110-123-456789".into(), "mule".into(), Status::Confirmed));
        assert_eq!(rows[2].1, "https://a.xyz/x?q=1,2", "quoted commas stay in the field");
        let bad_lines: Vec<usize> = bad.iter().map(|b| b.0).collect();
        assert_eq!(bad_lines, vec![7, 8, 9, 10]);
        assert!(bad[0].1.contains("unknown kind"));
    }
}
