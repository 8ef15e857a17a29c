//! Event time: milliseconds since the Unix epoch (UTC), parsed from RFC 3339 with an offset.
//!
//! Korea has used UTC+09:00 without daylight saving since 1988, so the local (KST) hour and
//! weekday are plain arithmetic and need no time-zone database.

use std::fmt;

/// Milliseconds since 1970-01-01T00:00:00Z.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Timestamp(pub i64);

/// Why a timestamp string was rejected.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampError(pub String);

impl fmt::Display for TimestampError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

const KST_OFFSET_MS: i64 = 9 * 3_600_000;

impl Timestamp {
    /// Milliseconds since the epoch.
    pub fn millis(self) -> i64 {
        self.0
    }

    /// Hour of day in Korea Standard Time, 0..=23.
    pub fn kst_hour(self) -> i64 {
        (self.0 + KST_OFFSET_MS).div_euclid(3_600_000).rem_euclid(24)
    }

    /// Day of week in KST, 0 = Monday ..= 6 = Sunday.
    pub fn kst_weekday(self) -> i64 {
        // 1970-01-01 was a Thursday (3 when Monday is 0).
        ((self.0 + KST_OFFSET_MS).div_euclid(86_400_000) + 3).rem_euclid(7)
    }

    /// Parses RFC 3339 (`2026-11-26T02:14:05+09:00`, `...Z`, optional fraction up to
    /// nanoseconds, which is truncated to milliseconds). An offset is required: a local time
    /// without one is ambiguous and is rejected.
    pub fn parse_rfc3339(s: &str) -> Result<Timestamp, TimestampError> {
        let err = |why: &str| TimestampError(format!("invalid RFC 3339 time {s:?}: {why}"));
        let b = s.as_bytes();
        if b.len() < 20 {
            return Err(err("too short, expected e.g. 2026-11-26T02:14:05+09:00"));
        }
        let num = |from: usize, len: usize| -> Result<i64, TimestampError> {
            let part = b.get(from..from + len).ok_or_else(|| err("truncated"))?;
            if !part.iter().all(u8::is_ascii_digit) {
                return Err(err("expected digits"));
            }
            Ok(part.iter().fold(0i64, |n, d| n * 10 + i64::from(d - b'0')))
        };
        let sep = |at: usize, want: &[u8]| -> Result<(), TimestampError> {
            match b.get(at) {
                Some(c) if want.contains(c) => Ok(()),
                _ => Err(err("misplaced separator")),
            }
        };
        let year = num(0, 4)?;
        sep(4, b"-")?;
        let month = num(5, 2)?;
        sep(7, b"-")?;
        let day = num(8, 2)?;
        sep(10, b"Tt ")?;
        let hour = num(11, 2)?;
        sep(13, b":")?;
        let minute = num(14, 2)?;
        sep(16, b":")?;
        let second = num(17, 2)?;
        // A leap second (:60) is folded into the next second.
        let local = civil_seconds(year, month, day, hour, minute, second, 60).map_err(err)?;
        let mut i = 19;
        let mut millis = 0i64;
        if b.get(i) == Some(&b'.') {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                if i - start < 3 {
                    millis = millis * 10 + i64::from(b[i] - b'0');
                }
                i += 1;
            }
            let n = i - start;
            if n == 0 || n > 9 {
                return Err(err("fraction must have 1 to 9 digits"));
            }
            for _ in n..3 {
                millis *= 10;
            }
        }
        let offset_min = match b.get(i) {
            Some(b'Z' | b'z') if i + 1 == b.len() => 0,
            Some(&sign @ (b'+' | b'-')) if i + 6 == b.len() => {
                let oh = num(i + 1, 2)?;
                sep(i + 3, b":")?;
                let om = num(i + 4, 2)?;
                if oh > 23 || om > 59 {
                    return Err(err("offset out of range"));
                }
                let m = oh * 60 + om;
                if sign == b'-' { -m } else { m }
            }
            _ => return Err(err("expected an offset such as Z or +09:00 at the end")),
        };
        Ok(Timestamp((local - offset_min * 60) * 1_000 + millis))
    }

    /// Parses a time as a person in Korea writes it: a local KST wall-clock time such as
    /// `2026-12-06 13:30`, `2026.12.06 13:30:15`, `2026/12/06 오후 1:30`,
    /// `2026년 12월 6일 13시 30분` or the `2026-12-06T13:30` a `datetime-local` input sends;
    /// RFC 3339 with an offset is accepted too and keeps its own offset.
    pub fn parse_kst_local(s: &str) -> Result<Timestamp, TimestampError> {
        if let Ok(t) = Timestamp::parse_rfc3339(s.trim()) {
            return Ok(t);
        }
        let err = |why: &str| {
            TimestampError(format!("invalid time {s:?}: {why}; expected e.g. 2026-12-06 13:30 (Korea time)"))
        };
        let lower = s.to_lowercase();
        let pm = lower.contains("오후") || lower.contains("pm");
        let am = lower.contains("오전") || lower.contains("am");
        let mut parts = Vec::new();
        for run in lower.split(|c: char| !c.is_ascii_digit()).filter(|r| !r.is_empty()) {
            if run.len() > 4 {
                return Err(err("a number is too long"));
            }
            parts.push(run.parse::<i64>().map_err(|_| err("expected digits"))?);
        }
        let allowed = |c: char| {
            c.is_ascii_digit()
                || c.is_whitespace()
                || "-./:t년월일시분초,".contains(c)
                || ["오전", "오후", "am", "pm"].iter().any(|w| w.contains(c))
        };
        if let Some(c) = lower.chars().find(|&c| !allowed(c)) {
            return Err(err(&format!("unexpected {c:?}")));
        }
        if !(5..=6).contains(&parts.len()) || s.trim_start().chars().take_while(char::is_ascii_digit).count() != 4 {
            return Err(err("expected year, month, day, hour and minute"));
        }
        let (year, month, day, mut hour, minute) = (parts[0], parts[1], parts[2], parts[3], parts[4]);
        let second = parts.get(5).copied().unwrap_or(0);
        if pm && am {
            return Err(err("both morning and afternoon"));
        }
        if pm || am {
            if !(1..=12).contains(&hour) {
                return Err(err("a 12-hour clock hour must be 1 to 12"));
            }
            hour = match (pm, hour) {
                (true, 12) => 12,
                (true, h) => h + 12,
                (false, 12) => 0,
                (false, h) => h,
            };
        }
        let secs = civil_seconds(year, month, day, hour, minute, second, 59).map_err(err)?;
        Ok(Timestamp(secs * 1_000 - KST_OFFSET_MS))
    }

    /// Formats as a Korean reader's wall-clock time, to the minute: `2026-12-06 13:30`.
    pub fn to_kst_minutes(self) -> String {
        let t = self.to_kst_rfc3339();
        format!("{} {}", &t[..10], &t[11..16])
    }

    /// Formats as RFC 3339 in KST, the form Korean analysts read: `2026-11-26T02:14:05.000+09:00`.
    ///
    /// Every stored event and every decision answer carries one, so years 0–9999 are written
    /// digit by digit into a fixed buffer (a `format!` was 2 % of a decision's instructions);
    /// other years take the general path.
    pub fn to_kst_rfc3339(self) -> String {
        let (y, m, d, h, mi, s, ms) = self.kst_fields();
        if !(0..=9999).contains(&y) {
            return format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}+09:00");
        }
        let mut b = *b"0000-00-00T00:00:00.000+09:00";
        for (at, width, v) in [(0, 4, y), (5, 2, m), (8, 2, d), (11, 2, h), (14, 2, mi), (17, 2, s), (20, 3, ms)] {
            let mut v = v as u32;
            for i in (at..at + width).rev() {
                b[i] = b'0' + (v % 10) as u8;
                v /= 10;
            }
        }
        b.iter().map(|&c| char::from(c)).collect()
    }

    /// Year, month, day, hour, minute, second and millisecond of the instant in KST.
    fn kst_fields(self) -> (i64, i64, i64, i64, i64, i64, i64) {
        let local = self.0 + KST_OFFSET_MS;
        let days = local.div_euclid(86_400_000);
        let ms_of_day = local.rem_euclid(86_400_000);
        let (y, m, d) = civil_from_days(days);
        (y, m, d, ms_of_day / 3_600_000, ms_of_day / 60_000 % 60, ms_of_day / 1_000 % 60, ms_of_day % 1_000)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_kst_rfc3339())
    }
}

fn is_leap(y: i64) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

fn days_in_month(y: i64, m: i64) -> i64 {
    match m {
        2 if is_leap(y) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Seconds since 1970-01-01T00:00:00 of a wall-clock date and time in no particular zone, or
/// which part is out of range. `max_second` is 60 where a leap second may be written.
fn civil_seconds(
    year: i64,
    month: i64,
    day: i64,
    hour: i64,
    minute: i64,
    second: i64,
    max_second: i64,
) -> Result<i64, &'static str> {
    if !(1..=12).contains(&month) {
        return Err("month out of range");
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err("day out of range");
    }
    if hour > 23 || minute > 59 || second > max_second {
        return Err("time of day out of range");
    }
    Ok(days_from_civil(year, month, day) * 86_400 + hour * 3_600 + minute * 60 + second)
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i64, m: i64, d: i64) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn civil_from_days(z: i64) -> (i64, i64, i64) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    (yoe + era * 400 + i64::from(m <= 2), m, d)
}

#[cfg(test)]
mod tests {
    use super::Timestamp;

    #[test]
    fn parses_offsets_and_fractions() {
        let t = Timestamp::parse_rfc3339("2026-11-26T02:14:05+09:00").unwrap();
        assert_eq!(t, Timestamp::parse_rfc3339("2026-11-25T17:14:05Z").unwrap());
        assert_eq!(t.0, 1_795_626_845_000);
        assert_eq!(t.kst_hour(), 2);
        assert_eq!(t.kst_weekday(), 3, "2026-11-26 is a Thursday");
        let f = Timestamp::parse_rfc3339("2026-11-25T17:14:05.123456789Z").unwrap();
        assert_eq!(f.0 - t.0, 123);
        let f = Timestamp::parse_rfc3339("2026-11-25T17:14:05.5-01:30").unwrap();
        assert_eq!(f.0 - t.0, 500 + 90 * 60_000);
        assert_eq!(t.to_kst_rfc3339(), "2026-11-26T02:14:05.000+09:00");
    }

    /// The digit-by-digit writer gives what the general formatter gives, at every field's
    /// edges and across eras (instants from an LCG over ±400 years around 1970 and beyond).
    #[test]
    fn kst_text_is_the_general_formatters_text() {
        let general = |t: Timestamp| {
            let (y, m, d, h, mi, s, ms) = t.kst_fields();
            format!("{y:04}-{m:02}-{d:02}T{h:02}:{mi:02}:{s:02}.{ms:03}+09:00")
        };
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut cases = vec![
            0,
            -1,
            -62_135_596_800_000,
            -62_167_219_200_001,
            253_402_300_799_999,
            253_402_300_800_000,
            1_795_626_845_123,
        ];
        for _ in 0..100_000 {
            x = x.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1_442_695_040_888_963_407);
            cases.push((x >> 11) as i64 % 30_000_000_000_000 - 15_000_000_000_000);
            cases.push((x >> 3) as i64 % 400_000_000_000_000);
        }
        for ms in cases {
            let t = Timestamp(ms);
            assert_eq!(t.to_kst_rfc3339(), general(t), "{ms}");
        }
    }

    #[test]
    fn round_trips_across_eras() {
        for ms in [-62_135_596_800_000i64, -1, 0, 951_782_400_000, 4_102_444_800_123] {
            let t = Timestamp(ms);
            assert_eq!(Timestamp::parse_rfc3339(&t.to_kst_rfc3339()), Ok(t));
        }
    }

    #[test]
    fn rejects_bad_input_with_reason() {
        for bad in [
            "",
            "2026-11-26",
            "2026-11-26T02:14:05",
            "2026-13-01T00:00:00Z",
            "2026-02-29T00:00:00Z",
            "2026-11-26T24:00:00Z",
            "2026-11-26T02:14:05+9:00",
            "2026-11-26T02:14:05.Z",
            "2026-11-26T02:14:05Zjunk",
            "２026-11-26T02:14:05Z",
        ] {
            let e = Timestamp::parse_rfc3339(bad).unwrap_err();
            assert!(e.0.contains("invalid RFC 3339"), "{bad}: {e}");
        }
        assert!(Timestamp::parse_rfc3339("2024-02-29T00:00:00Z").is_ok());
    }

    #[test]
    fn parses_what_a_person_in_korea_writes() {
        let want = Timestamp::parse_rfc3339("2026-12-06T13:30:00+09:00").unwrap();
        for ok in [
            "2026-12-06 13:30",
            " 2026-12-06T13:30 ",
            "2026.12.06 13:30:00",
            "2026/12/6 오후 1:30",
            "2026-12-06 1:30 PM",
            "2026년 12월 6일 13시 30분",
            "2026-12-06T04:30:00Z",
        ] {
            assert_eq!(Timestamp::parse_kst_local(ok), Ok(want), "{ok}");
        }
        assert_eq!(
            Timestamp::parse_kst_local("2026-12-06 오전 12:05").unwrap(),
            Timestamp::parse_rfc3339("2026-12-06T00:05:00+09:00").unwrap()
        );
        assert_eq!(want.to_kst_minutes(), "2026-12-06 13:30");
        for bad in [
            "",
            "yesterday",
            "2026-12-06",
            "26-12-06 13:30",
            "2026-02-30 10:00",
            "2026-12-06 25:00",
            "2026-12-06 오후 13:30",
            "2026-12-06 13:30 +1",
        ] {
            let e = Timestamp::parse_kst_local(bad).unwrap_err();
            assert!(e.0.contains("2026-12-06 13:30"), "{bad}: {e}");
        }
    }
}
