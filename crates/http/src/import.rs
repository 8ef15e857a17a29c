//! Reading indicator lists for bulk import: CSV with `kind,value,typology[,status]` per line,
//! an optional header, quoted fields with `""` escapes, blank lines and `#` comments skipped.
//! Every problem is reported with its line number. [`import`] is the one import path, for the
//! CLI and `POST /v1/indicators:import` alike: all rows are checked first, and a file with any
//! bad row imports nothing.

use app::registry::Status;
use app::{App, AppError};
use domain::AffiliateId;
use indicators::IndicatorKind;

/// Why an import wrote nothing.
#[derive(Debug)]
pub enum ImportError {
    /// Bad rows: `(1-based line, message)`, in line order.
    Lines(Vec<(usize, String)>),
    /// The store or the affiliate.
    App(AppError),
}

/// What an import wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Imported {
    /// Rows read.
    pub rows: usize,
    /// Distinct indicators touched.
    pub indicators: usize,
}

/// Parses `text`, checks every row (kind, value, typology, status) and imports all rows for
/// `a` in one transaction, or none.
pub fn import(app: &App, a: &AffiliateId, text: &str) -> Result<Imported, ImportError> {
    let (rows, lines, mut bad) = parse_csv(text);
    for (i, (kind, value, typology, _)) in rows.iter().enumerate() {
        if let Err(e) = app.validate_indicator(*kind, value, typology) {
            bad.push((lines[i], e.to_string()));
        }
    }
    if rows.is_empty() && bad.is_empty() {
        bad.push((1, "no rows: expected kind,value,typology[,status] per line".into()));
    }
    if !bad.is_empty() {
        bad.sort();
        return Err(ImportError::Lines(bad));
    }
    let n = app.import_indicators(a, &rows).map_err(|e| match e {
        app::registry::ImportError::Rows(r) => {
            ImportError::Lines(r.into_iter().map(|(i, m)| (lines.get(i).copied().unwrap_or(0), m)).collect())
        }
        app::registry::ImportError::Store(e) => ImportError::App(e),
    })?;
    Ok(Imported { rows: rows.len(), indicators: n })
}

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
