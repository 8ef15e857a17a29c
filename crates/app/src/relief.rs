//! The statutory relief workflow's calendar and deadlines: payment suspension and refund under
//! the Telecommunications Financial Fraud Act (전기통신금융사기 피해 방지 및 피해금 환급에 관한
//! 특별법), and the return of mistaken transfers (착오송금 반환지원, run by the Korea Deposit
//! Insurance Corporation). Pure code: no IO and no clock. Every time is epoch milliseconds passed
//! in; dates are Korean dates (KST, UTC+9, which has had no daylight saving since 1988).
//!
//! **Calendar.** [`Calendar::korea`] holds the days banks close besides weekends for 2024-2027
//! (`data/kr_holidays.toml`, embedded; its header documents the format and how each date was
//! checked). [`Calendar::parse`] reads another list in the same format, and
//! [`Calendar::overlay`] adds it, so operators can supply next year or a temporary holiday.
//! Asking about a year the calendar does not cover is a [`MissingYear`] error, never a guess.
//!
//! **Deadlines.** Each is the last millisecond (23:59:59.999 KST) of a Korean date:
//!
//! - *Written request* (phone requests only): the 3rd business day after the day of the phone
//!   request. The Act: a request made by phone is followed in writing within 3 business days.
//! - *Notice to the account holder*: the [`ReliefRules::holder_notice_business_days`]th
//!   business day after the request (1). The Act says "without delay" and gives no number, so
//!   this is house policy.
//! - *End of the objection period*: D + 2 months − 1 day, D the KST date the FSS notice
//!   started; see [`objection_period_end`] for the month-end rule.
//! - *Refund decision*: E + 14 days, E the KST date the claim was extinguished. The Act: within
//!   14 days; the day of extinguishment is not counted (Civil Code Art. 157).
//! - *Recipient's answer* (mistaken transfer): the
//!   [`ReliefRules::recipient_response_business_days`]th business day after the return
//!   request (10). No statutory window: house policy, see [`ReliefRules`].
//! - *Application for return support*: transfer date + 12 months − 1 day; the programme takes
//!   applications within one year of the transfer.
//!
//! **States.** A fraud case runs `suspended` → `notice_published` → `extinguished` →
//! `refund_decided` → `paid`; an objection by the account holder up to the end of the
//! objection period ends it in `objected`, and a withdrawal (or the bank lifting the
//! suspension) before extinguishment ends it in `withdrawn`. A mistaken transfer runs
//! `return_requested` → `returned`, or → `refused` (or no answer in the window) → `escalated`
//! → `returned` or `unrecovered`. Each `record_*` method checks the state, the order of times
//! and the windows, and changes nothing when it returns an error.

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::collections::BTreeMap;
use std::fmt;
use std::sync::OnceLock;

/// Business days within which a request made by phone must be followed in writing.
pub const WRITTEN_REQUEST_BUSINESS_DAYS: u32 = 3;
/// Length of the claim-extinguishment notice (채권소멸절차 개시 공고), months.
pub const OBJECTION_PERIOD_MONTHS: u32 = 2;
/// Calendar days after extinguishment within which the refund is decided.
pub const REFUND_DECISION_DAYS: i64 = 14;

const HOUR_MS: i64 = 3_600_000;
const DAY_MS: i64 = 86_400_000;
const KST_OFFSET_HOURS: i64 = 9;

/// The embedded list of Korean bank closing days, 2024-2027.
const KR_HOLIDAYS: &str = include_str!("../data/kr_holidays.toml");

// ---------------------------------------------------------------------------------------------
// Date

/// A Korean calendar date (proleptic Gregorian, 0001-01-01 ..= 9999-12-31). Orders
/// chronologically; serialises as `"YYYY-MM-DD"`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date {
    year: i32,
    month: u32,
    day: u32,
}

/// Day number (days since 1970-01-01) of a valid date (H. Hinnant's `days_from_civil`).
const fn days_from_civil(year: i32, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year as i64 - 1 } else { year as i64 };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = if month > 2 { month as i64 - 3 } else { month as i64 + 9 };
    let doy = (153 * mp + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// The date of a day number (H. Hinnant's `civil_from_days`).
const fn civil_from_days(days: i64) -> (i32, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + if month <= 2 { 1 } else { 0 };
    (year as i32, month, day)
}

const MIN_DAYS: i64 = days_from_civil(1, 1, 1);
const MAX_DAYS: i64 = days_from_civil(9999, 12, 31);

fn is_leap(year: i32) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

/// Days in a month (1..=12) of a year.
fn days_in_month(year: i32, month: u32) -> u32 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

impl Date {
    /// The earliest date this type holds, 0001-01-01.
    pub const MIN: Date = Date { year: 1, month: 1, day: 1 };
    /// The latest date this type holds, 9999-12-31.
    pub const MAX: Date = Date { year: 9999, month: 12, day: 31 };

    /// A date, or an error saying why `year-month-day` is not one.
    pub fn new(year: i32, month: u32, day: u32) -> Result<Date, String> {
        if !(1..=9999).contains(&year) {
            return Err(format!("year {year} is outside 1..=9999"));
        }
        if !(1..=12).contains(&month) {
            return Err(format!("month {month} is outside 1..=12"));
        }
        if day == 0 || day > days_in_month(year, month) {
            return Err(format!("{year:04}-{month:02} has no day {day}"));
        }
        Ok(Date { year, month, day })
    }

    /// Parses `YYYY-MM-DD` (exactly that shape).
    pub fn parse(s: &str) -> Result<Date, String> {
        let b = s.as_bytes();
        let shape = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter().enumerate().all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        if !shape {
            return Err(format!("{s:?} is not a date YYYY-MM-DD"));
        }
        let num = |r: std::ops::Range<usize>| b[r].iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
        Date::new(num(0..4) as i32, num(5..7), num(8..10))
    }

    /// The year.
    pub fn year(self) -> i32 {
        self.year
    }

    /// The month, 1..=12.
    pub fn month(self) -> u32 {
        self.month
    }

    /// The day of the month, 1..=31.
    pub fn day(self) -> u32 {
        self.day
    }

    fn days(self) -> i64 {
        days_from_civil(self.year, self.month, self.day)
    }

    fn from_days(days: i64) -> Date {
        let (year, month, day) = civil_from_days(days.clamp(MIN_DAYS, MAX_DAYS));
        Date { year, month, day }
    }

    /// The Korean (KST) date of an instant. Instants outside the years 1..=9999 give
    /// [`Date::MIN`] or [`Date::MAX`].
    pub fn from_ms(ms: i64) -> Date {
        // Hours first, so adding the offset cannot overflow.
        Date::from_days((ms.div_euclid(HOUR_MS) + KST_OFFSET_HOURS).div_euclid(24))
    }

    /// The first millisecond of this date in KST (00:00:00.000+09:00).
    pub fn start_ms(self) -> i64 {
        self.days() * DAY_MS - KST_OFFSET_HOURS * HOUR_MS
    }

    /// The last millisecond of this date in KST (23:59:59.999+09:00).
    pub fn end_ms(self) -> i64 {
        self.start_ms() + DAY_MS - 1
    }

    /// Day of the week, 0 = Monday ..= 6 = Sunday.
    pub fn weekday(self) -> u32 {
        // 1970-01-01 was a Thursday (3 when Monday is 0).
        (self.days() + 3).rem_euclid(7) as u32
    }

    /// Saturday or Sunday.
    pub fn is_weekend(self) -> bool {
        self.weekday() >= 5
    }

    /// The date `n` days later (earlier when negative), stopping at [`Date::MIN`] and
    /// [`Date::MAX`].
    pub fn add_days(self, n: i64) -> Date {
        Date::from_days(self.days().saturating_add(n))
    }

    /// The same day `n` months later (earlier when negative); a day the target month lacks is
    /// clamped to its last day (01-31 + 1 month = 02-28 or 02-29). Stops at [`Date::MIN`] and
    /// [`Date::MAX`].
    pub fn add_months(self, n: i32) -> Date {
        let index = i64::from(self.year) * 12 + i64::from(self.month) - 1 + i64::from(n);
        let year = index.div_euclid(12);
        if year < 1 {
            return Date::MIN;
        }
        if year > 9999 {
            return Date::MAX;
        }
        let (year, month) = (year as i32, index.rem_euclid(12) as u32 + 1);
        Date { year, month, day: self.day.min(days_in_month(year, month)) }
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl std::str::FromStr for Date {
    type Err = String;

    fn from_str(s: &str) -> Result<Date, String> {
        Date::parse(s)
    }
}

impl Serialize for Date {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Date {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Date, D::Error> {
        let s = String::deserialize(d)?;
        Date::parse(&s).map_err(serde::de::Error::custom)
    }
}

// ---------------------------------------------------------------------------------------------
// Calendar

/// A question about a year the calendar has no holiday list for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MissingYear(pub i32);

impl fmt::Display for MissingYear {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "the business-day calendar has no holiday list for {}; add that year's holidays \
             (Calendar::parse, Calendar::overlay) before computing deadlines that reach it",
            self.0
        )
    }
}

impl std::error::Error for MissingYear {}

/// Korean business days (영업일): not a Saturday, not a Sunday, not a listed holiday, in a
/// covered year. Built from the format documented at the top of `data/kr_holidays.toml`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Calendar {
    /// Covered years, each with its non-business days and their names.
    years: BTreeMap<i32, BTreeMap<Date, String>>,
}

impl Calendar {
    /// The embedded Korean calendar, 2024-2027 (parsed once).
    pub fn korea() -> &'static Calendar {
        static KOREA: OnceLock<Calendar> = OnceLock::new();
        KOREA.get_or_init(|| match Calendar::parse(KR_HOLIDAYS) {
            Ok(c) => c,
            // The unit test `embedded_list_parses` keeps this unreachable.
            Err(e) => panic!("data/kr_holidays.toml: {e}"),
        })
    }

    /// Reads a holiday list (TOML): `[YYYY]` tables, each with `MM-DD = "name"` entries. An
    /// error names the line (`line 7: ...`).
    pub fn parse(text: &str) -> Result<Calendar, String> {
        use toml::Spanned;
        type Days = BTreeMap<Spanned<String>, Spanned<toml::Value>>;
        let line = |offset: usize| text[..offset.min(text.len())].matches('\n').count() + 1;
        let syntax = |e: toml::de::Error| {
            let n = e.span().map_or(1, |s| line(s.start));
            format!(
                "line {n}: not a holiday list (`[YYYY]` headers, then `MM-DD = \"name\"` lines with a double-quoted \
                 name): {}",
                e.message().trim_end()
            )
        };
        // First the shape (every top-level entry a year table), then the days with their lines.
        let top: BTreeMap<Spanned<String>, Spanned<toml::Value>> = toml::from_str(text).map_err(syntax)?;
        for (key, value) in &top {
            let n = line(key.span().start);
            if !value.get_ref().is_table() {
                return Err(format!("line {n}: `{}` comes before any `[YYYY]` year header", key.get_ref()));
            }
        }
        let raw: BTreeMap<Spanned<String>, Days> = toml::from_str(text).map_err(syntax)?;
        let mut years: BTreeMap<i32, BTreeMap<Date, String>> = BTreeMap::new();
        for (header, days) in raw {
            let n = line(header.span().start);
            let key = header.get_ref();
            let year = Some(key.as_str())
                .filter(|y| y.len() == 4 && y.bytes().all(|c| c.is_ascii_digit()))
                .and_then(|y| y.parse::<i32>().ok())
                .filter(|y| *y >= 1)
                .ok_or_else(|| format!("line {n}: a year header is `[YYYY]`, found `[{key}]`"))?;
            let list = years.entry(year).or_default();
            for (day, name) in days {
                let n = line(day.span().start);
                let date = month_day(year, day.get_ref()).map_err(|why| format!("line {n}: {why}"))?;
                let name = name.get_ref().as_str().filter(|s| !s.trim().is_empty()).ok_or_else(|| {
                    format!(
                        "line {n}: the name must be a non-empty \"double-quoted\" string, found `{:?}`",
                        name.get_ref()
                    )
                })?;
                list.insert(date, name.to_string());
            }
        }
        if years.is_empty() {
            return Err("the holiday list has no `[YYYY]` year header, so it covers no year".into());
        }
        Ok(Calendar { years })
    }

    /// Adds `other`'s years; a year both cover takes `other`'s list whole (an operator's list
    /// corrects the embedded one, e.g. with a newly designated temporary holiday).
    pub fn overlay(&mut self, other: Calendar) {
        self.years.extend(other.years);
    }

    /// The covered years, ascending.
    pub fn years(&self) -> impl Iterator<Item = i32> + '_ {
        self.years.keys().copied()
    }

    /// Whether the calendar has a holiday list for `year`.
    pub fn covers(&self, year: i32) -> bool {
        self.years.contains_key(&year)
    }

    /// The listed non-business days of a covered year, ascending, with their names.
    pub fn holidays(&self, year: i32) -> Result<impl Iterator<Item = (Date, &str)> + '_, MissingYear> {
        let days = self.years.get(&year).ok_or(MissingYear(year))?;
        Ok(days.iter().map(|(d, name)| (*d, name.as_str())))
    }

    /// The holiday's name when `date` is a listed holiday (weekends are not named).
    pub fn holiday(&self, date: Date) -> Result<Option<&str>, MissingYear> {
        let days = self.years.get(&date.year()).ok_or(MissingYear(date.year()))?;
        Ok(days.get(&date).map(String::as_str))
    }

    /// Whether banks are open on `date`. An error when its year is not covered, even for a
    /// weekend, so a missing list is noticed at once.
    pub fn is_business_day(&self, date: Date) -> Result<bool, MissingYear> {
        Ok(self.holiday(date)?.is_none() && !date.is_weekend())
    }

    /// The `n`th business day after `date` (`date` itself is not counted: 1 is the next
    /// business day); `n = 0` gives `date`. An error names the first uncovered year reached.
    pub fn add_business_days(&self, date: Date, n: u32) -> Result<Date, MissingYear> {
        let mut d = date;
        let mut left = n;
        while left > 0 {
            let next = d.add_days(1);
            if next == d {
                // Date::MAX: the next business day would be in year 10000.
                return Err(MissingYear(d.year() + 1));
            }
            d = next;
            if self.is_business_day(d)? {
                left -= 1;
            }
        }
        Ok(d)
    }
}

/// `MM-DD` in `year`.
fn month_day(year: i32, key: &str) -> Result<Date, String> {
    let b = key.as_bytes();
    let shape = b.len() == 5 && b[2] == b'-' && b.iter().enumerate().all(|(i, c)| i == 2 || c.is_ascii_digit());
    if !shape {
        return Err(format!("expected a date `MM-DD`, found `{key}`"));
    }
    let num = |r: std::ops::Range<usize>| b[r].iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
    Date::new(year, num(0..2), num(3..5)).map_err(|why| format!("`{key}` is not a date in {year}: {why}"))
}

// ---------------------------------------------------------------------------------------------
// Deadline arithmetic

/// Last day of a period of `months` months that starts on, and counts, `first`: the day before
/// the day numbered like `first` in the last month; when that month has no such day (the period
/// starts on the 29th-31st), the last day of the month (Civil Code Art. 160(3)).
/// 03-10 + 2 months → 05-09; 12-31 + 2 months → 02-28 (02-29 in a leap year).
pub fn months_period_end(first: Date, months: u32) -> Date {
    let months = i32::try_from(months).unwrap_or(i32::MAX);
    let same = first.add_months(months);
    if same.day() < first.day() { same } else { same.add_days(-1) }
}

/// The end (23:59:59.999 KST) of the objection period of a claim-extinguishment notice that
/// started at `notice_ms`.
///
/// The Act gives the period as two months from the notice date D. D is counted as the first
/// day (the notice is dated, and treated as published from the start of that day), so the
/// period ends at the end of D + 2 months − 1 day: a notice on 2026-03-10 ends on 2026-05-09.
/// When D + 2 months does not exist (D on the 29th-31st and a shorter month two months on), the
/// period ends on the last day of that month, as the Civil Code says, rather than a day before
/// the clamped date: 2026-12-31 ends on 2027-02-28, not 02-27.
pub fn objection_period_end(notice_ms: i64) -> i64 {
    months_period_end(Date::from_ms(notice_ms), OBJECTION_PERIOD_MONTHS).end_ms()
}

/// The end of the 3rd business day after the KST day of a phone request made at
/// `requested_ms`: when the written request is due.
pub fn written_request_due(requested_ms: i64, calendar: &Calendar) -> Result<i64, MissingYear> {
    Ok(calendar.add_business_days(Date::from_ms(requested_ms), WRITTEN_REQUEST_BUSINESS_DAYS)?.end_ms())
}

/// The end of the 14th calendar day after the KST day of extinguishment: when the refund
/// decision is due.
pub fn refund_decision_due(extinguished_ms: i64) -> i64 {
    Date::from_ms(extinguished_ms).add_days(REFUND_DECISION_DAYS).end_ms()
}

// ---------------------------------------------------------------------------------------------
// Pro-rata refund

/// Splits `available` won among `claims` in proportion to each claim, in whole won, returning
/// `(victim, refund)` in the order given. Pays `min(available, sum of claims)` exactly, never
/// more than a claim: everyone gets the floor of their exact share, then the won left over go
/// one each to the largest fractional remainders, ties to the earlier claim. A negative
/// `available` or claim counts as zero.
pub fn pro_rata<V: Clone>(available: i64, claims: &[(V, i64)]) -> Vec<(V, i64)> {
    let claimed: Vec<i128> = claims.iter().map(|(_, c)| i128::from((*c).max(0))).collect();
    let total: i128 = claimed.iter().sum();
    let pay = i128::from(available.max(0)).min(total);
    if total == 0 {
        return claims.iter().map(|(v, _)| (v.clone(), 0)).collect();
    }
    // Each share is at most its claim (pay <= total), so it fits in i64.
    let mut shares: Vec<i128> = claimed.iter().map(|c| c * pay / total).collect();
    let mut left = pay - shares.iter().sum::<i128>();
    // The remainders sum to `left * total` and each is below `total`, so at least `left` of
    // them are positive: the won handed out below go only to shares still under their claim.
    let mut order: Vec<usize> = (0..claims.len()).collect();
    order.sort_by(|a, b| (claimed[*b] * pay % total).cmp(&(claimed[*a] * pay % total)).then(a.cmp(b)));
    for i in order {
        if left == 0 {
            break;
        }
        shares[i] += 1;
        left -= 1;
    }
    claims.iter().zip(shares).map(|((v, _), s)| (v.clone(), s as i64)).collect()
}

// ---------------------------------------------------------------------------------------------
// Relief state machine

/// How a payment suspension was requested.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    /// By phone (or in person, orally): the written request must follow within 3 business days.
    Phone,
    /// In writing: nothing more to file.
    Writing,
}

/// Which procedure a case follows, with what it was opened with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum ReliefKind {
    /// Telecommunications financial fraud: suspension, notice, extinguishment, pro-rata refund.
    Fraud {
        /// How the suspension was requested.
        channel: Channel,
    },
    /// Money sent to the wrong account by mistake: return request, then the KDIC programme.
    MistakenTransfer {
        /// When the money was sent, ms.
        transferred_ms: i64,
        /// How much, won.
        amount_won: i64,
    },
}

/// Where a case stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReliefState {
    /// Fraud: payments from the account are suspended (지급정지).
    Suspended,
    /// Fraud: the FSS claim-extinguishment notice (채권소멸절차 개시 공고) is running.
    NoticePublished,
    /// Fraud: the account holder objected; the process stopped (final).
    Objected,
    /// Fraud: the period ended without objection and the holder's claim is extinguished.
    Extinguished,
    /// Fraud: the refunds are decided.
    RefundDecided,
    /// Fraud: the refunds are paid (final).
    Paid,
    /// Fraud: ended before extinguishment without a refund: the victim withdrew, or the bank
    /// lifted the suspension (e.g. the written request never came) (final).
    Withdrawn,
    /// Mistaken transfer: the recipient was asked to return the money.
    ReturnRequested,
    /// Mistaken transfer: the recipient refused.
    Refused,
    /// Mistaken transfer: the sender applied to the KDIC return-support programme.
    Escalated,
    /// Mistaken transfer: the money came back (final).
    Returned,
    /// Mistaken transfer: the programme could not recover it (final).
    Unrecovered,
}

impl ReliefState {
    /// The state's name as serialised, e.g. `notice_published`.
    pub fn as_str(self) -> &'static str {
        match self {
            ReliefState::Suspended => "suspended",
            ReliefState::NoticePublished => "notice_published",
            ReliefState::Objected => "objected",
            ReliefState::Extinguished => "extinguished",
            ReliefState::RefundDecided => "refund_decided",
            ReliefState::Paid => "paid",
            ReliefState::Withdrawn => "withdrawn",
            ReliefState::ReturnRequested => "return_requested",
            ReliefState::Refused => "refused",
            ReliefState::Escalated => "escalated",
            ReliefState::Returned => "returned",
            ReliefState::Unrecovered => "unrecovered",
        }
    }

    /// Whether nothing more can happen.
    pub fn is_final(self) -> bool {
        matches!(
            self,
            ReliefState::Objected
                | ReliefState::Paid
                | ReliefState::Withdrawn
                | ReliefState::Returned
                | ReliefState::Unrecovered
        )
    }
}

impl fmt::Display for ReliefState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A step that has a deadline.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// The written request following a phone request (3 business days).
    WrittenRequest,
    /// The bank's notice to the account holder (house policy, the Act says "without delay").
    HolderNotice,
    /// The end of the objection period; once past, the extinguishment is due to be recorded.
    ObjectionPeriod,
    /// The refund decision (14 days after extinguishment).
    RefundDecision,
    /// The recipient's answer to a return request (house policy).
    RecipientResponse,
    /// The last day to apply to the KDIC return-support programme (one year from the transfer).
    ReturnSupportApplication,
}

impl Step {
    /// The step's name as serialised, e.g. `written_request`.
    pub fn as_str(self) -> &'static str {
        match self {
            Step::WrittenRequest => "written_request",
            Step::HolderNotice => "holder_notice",
            Step::ObjectionPeriod => "objection_period",
            Step::RefundDecision => "refund_decision",
            Step::RecipientResponse => "recipient_response",
            Step::ReturnSupportApplication => "return_support_application",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An open step and when it is due (the last millisecond allowed, inclusive).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Deadline {
    /// What is due.
    pub step: Step,
    /// Due by this instant, ms (23:59:59.999 KST of the due date).
    pub due_ms: i64,
}

/// Numbers that are policy rather than statute, fixed per case when it opens (so a case keeps
/// the rules it started under). Defaults:
///
/// - `holder_notice_business_days` 1: the Act asks the bank to notify the account holder
///   "without delay"; alerting after one business day keeps that honest.
/// - `recipient_response_business_days` 10: no law gives the recipient of a mistaken transfer
///   a window to answer; two weeks of business days gives one who is away a fair chance, and
///   leaves the sender most of the year the programme allows to apply.
/// - `return_support_min_won` 50,000, `return_support_max_won` 50,000,000 and
///   `return_support_months` 12: the KDIC programme's limits since 2023-01-01 (transfers of
///   50 thousand to 50 million won, applied for within one year of the transfer). The KDIC
///   sets them by its own regulation; pass newer ones with [`Relief::with_rules`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ReliefRules {
    /// Business days after the suspension by which the account holder is notified.
    pub holder_notice_business_days: u32,
    /// Business days after the return request by which the recipient answers.
    pub recipient_response_business_days: u32,
    /// Smallest transfer the return-support programme takes, won.
    pub return_support_min_won: i64,
    /// Largest transfer the return-support programme takes, won.
    pub return_support_max_won: i64,
    /// Months after the transfer (the transfer day counted) to apply to the programme.
    pub return_support_months: u32,
}

impl Default for ReliefRules {
    fn default() -> Self {
        ReliefRules {
            holder_notice_business_days: 1,
            recipient_response_business_days: 10,
            return_support_min_won: 50_000,
            return_support_max_won: 50_000_000,
            return_support_months: 12,
        }
    }
}

/// When each step happened, ms; `None` until recorded.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    /// Fraud: the written request came in (the request time itself for a written request).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub written_ms: Option<i64>,
    /// Fraud: the bank notified the account holder.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub holder_notified_ms: Option<i64>,
    /// Fraud: the FSS claim-extinguishment notice started.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub notice_ms: Option<i64>,
    /// Fraud: the account holder objected.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub objected_ms: Option<i64>,
    /// Fraud: the claim was extinguished.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extinguished_ms: Option<i64>,
    /// Fraud: the refunds were decided.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refund_decided_ms: Option<i64>,
    /// Fraud: the refunds were paid.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub paid_ms: Option<i64>,
    /// Fraud: the case was withdrawn or the suspension lifted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub withdrawn_ms: Option<i64>,
    /// Mistaken transfer: the recipient refused.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub refused_ms: Option<i64>,
    /// Mistaken transfer: the sender applied to the return-support programme.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub escalated_ms: Option<i64>,
    /// Mistaken transfer: the money came back.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub returned_ms: Option<i64>,
    /// Mistaken transfer: the programme could not recover it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unrecovered_ms: Option<i64>,
}

/// One victim's part of a refund decision.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Share {
    /// The victim.
    pub victim: String,
    /// What they claimed, won.
    pub claimed_won: i64,
    /// What they are refunded, won.
    pub refund_won: i64,
}

/// The refund decision: what the extinguished account held, and each victim's share.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundDecision {
    /// Won available for refunds (the extinguished balance).
    pub available_won: i64,
    /// Each victim's share, in the order the claims were given.
    pub shares: Vec<Share>,
}

/// Why a step was not recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReliefError {
    /// The step does not follow from the case's state (a refund before extinguishment, a
    /// second objection, a fraud step on a mistaken transfer).
    OutOfOrder {
        /// The step attempted.
        step: &'static str,
        /// The state the case is in.
        state: ReliefState,
    },
    /// The step's time is before the step it follows.
    BeforePrevious {
        /// The step attempted.
        step: &'static str,
        /// Its time, ms.
        at_ms: i64,
        /// The earliest time allowed, ms.
        previous_ms: i64,
    },
    /// The step came outside its window (an objection after the period, an extinguishment
    /// before it ends, an application after the programme's deadline).
    OutsideWindow {
        /// The step attempted.
        step: &'static str,
        /// What the window is.
        reason: String,
    },
    /// Bad input (a negative amount, no claims).
    Invalid(String),
    /// A deadline needs business days of a year the calendar does not cover.
    MissingYear(i32),
}

impl fmt::Display for ReliefError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReliefError::OutOfOrder { step, state } => write!(f, "cannot record {step} while the case is {state}"),
            ReliefError::BeforePrevious { step, at_ms, previous_ms } => {
                write!(f, "{step} at {at_ms} ms is before the step it follows ({previous_ms} ms)")
            }
            ReliefError::OutsideWindow { step, reason } => write!(f, "{step}: {reason}"),
            ReliefError::Invalid(why) => f.write_str(why),
            ReliefError::MissingYear(year) => MissingYear(*year).fmt(f),
        }
    }
}

impl std::error::Error for ReliefError {}

impl From<MissingYear> for ReliefError {
    fn from(e: MissingYear) -> Self {
        ReliefError::MissingYear(e.0)
    }
}

/// One relief case: what it is, where it stands and when each step happened. Record steps
/// with the `record_*` methods; read deadlines with [`Relief::deadlines`] and alerts with
/// [`Relief::overdue`]. Stored as JSON through serde.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Relief {
    #[serde(flatten)]
    kind: ReliefKind,
    state: ReliefState,
    /// Fraud: the suspension request. Mistaken transfer: the return request.
    requested_ms: i64,
    #[serde(default)]
    recorded: Recorded,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    refund: Option<RefundDecision>,
    #[serde(default)]
    rules: ReliefRules,
}

/// `Err(BeforePrevious)` when `at` is before `previous`.
fn not_before(step: &'static str, at_ms: i64, previous_ms: i64) -> Result<(), ReliefError> {
    if at_ms < previous_ms { Err(ReliefError::BeforePrevious { step, at_ms, previous_ms }) } else { Ok(()) }
}

/// A KST timestamp for messages: `2026-09-30 23:59:59.999 KST`.
fn kst(ms: i64) -> String {
    let in_day = (ms + KST_OFFSET_HOURS * HOUR_MS).rem_euclid(DAY_MS);
    let (h, m, s, milli) = (in_day / HOUR_MS, in_day / 60_000 % 60, in_day / 1_000 % 60, in_day % 1_000);
    format!("{} {h:02}:{m:02}:{s:02}.{milli:03} KST", Date::from_ms(ms))
}

impl Relief {
    /// A fraud case: payment suspension requested at `requested_ms` through `channel`, under
    /// the default [`ReliefRules`].
    pub fn fraud(requested_ms: i64, channel: Channel) -> Relief {
        let written_ms = (channel == Channel::Writing).then_some(requested_ms);
        Relief {
            kind: ReliefKind::Fraud { channel },
            state: ReliefState::Suspended,
            requested_ms,
            recorded: Recorded { written_ms, ..Recorded::default() },
            refund: None,
            rules: ReliefRules::default(),
        }
    }

    /// A mistaken transfer of `amount_won` sent at `transferred_ms`, whose return the sender's
    /// bank asked of the recipient at `requested_ms`.
    pub fn mistaken_transfer(transferred_ms: i64, amount_won: i64, requested_ms: i64) -> Result<Relief, ReliefError> {
        if amount_won <= 0 {
            return Err(ReliefError::Invalid(format!("a mistaken transfer of {amount_won} won: must be positive")));
        }
        not_before("return request", requested_ms, transferred_ms)?;
        Ok(Relief {
            kind: ReliefKind::MistakenTransfer { transferred_ms, amount_won },
            state: ReliefState::ReturnRequested,
            requested_ms,
            recorded: Recorded::default(),
            refund: None,
            rules: ReliefRules::default(),
        })
    }

    /// The same case under other rules (set when the case opens).
    pub fn with_rules(mut self, rules: ReliefRules) -> Relief {
        self.rules = rules;
        self
    }

    /// The procedure and what the case was opened with.
    pub fn kind(&self) -> &ReliefKind {
        &self.kind
    }

    /// Where the case stands.
    pub fn state(&self) -> ReliefState {
        self.state
    }

    /// When the suspension (fraud) or the return (mistaken transfer) was requested, ms.
    pub fn requested_ms(&self) -> i64 {
        self.requested_ms
    }

    /// When each later step happened.
    pub fn recorded(&self) -> &Recorded {
        &self.recorded
    }

    /// The refund decision, once made.
    pub fn refund(&self) -> Option<&RefundDecision> {
        self.refund.as_ref()
    }

    /// The policy numbers this case runs under.
    pub fn rules(&self) -> &ReliefRules {
        &self.rules
    }

    /// The end of the objection period, once the notice has started.
    pub fn objection_period_end_ms(&self) -> Option<i64> {
        self.recorded.notice_ms.map(objection_period_end)
    }

    fn expect(&self, step: &'static str, allowed: &[ReliefState]) -> Result<(), ReliefError> {
        if allowed.contains(&self.state) { Ok(()) } else { Err(ReliefError::OutOfOrder { step, state: self.state }) }
    }

    /// Fraud: the written request following a phone request arrived at `at_ms` (late is
    /// accepted and closes the deadline; [`Relief::overdue`] will have flagged it meanwhile).
    pub fn record_written_request(&mut self, at_ms: i64) -> Result<(), ReliefError> {
        const STEP: &str = "written request";
        self.expect(STEP, &[ReliefState::Suspended])?;
        if self.recorded.written_ms.is_some() {
            return Err(ReliefError::OutOfOrder { step: STEP, state: self.state });
        }
        not_before(STEP, at_ms, self.requested_ms)?;
        self.recorded.written_ms = Some(at_ms);
        Ok(())
    }

    /// Fraud: the bank notified the account holder at `at_ms` (once, before extinguishment).
    pub fn record_holder_notice(&mut self, at_ms: i64) -> Result<(), ReliefError> {
        const STEP: &str = "holder notice";
        self.expect(STEP, &[ReliefState::Suspended, ReliefState::NoticePublished])?;
        if self.recorded.holder_notified_ms.is_some() {
            return Err(ReliefError::OutOfOrder { step: STEP, state: self.state });
        }
        not_before(STEP, at_ms, self.requested_ms)?;
        self.recorded.holder_notified_ms = Some(at_ms);
        Ok(())
    }

    /// Fraud: the FSS claim-extinguishment notice started at `at_ms`. Needs the written
    /// request: the bank asks for the notice on a written request only.
    pub fn record_notice(&mut self, at_ms: i64) -> Result<(), ReliefError> {
        const STEP: &str = "claim-extinguishment notice";
        self.expect(STEP, &[ReliefState::Suspended])?;
        let Some(written_ms) = self.recorded.written_ms else {
            return Err(ReliefError::OutOfOrder { step: STEP, state: self.state });
        };
        not_before(STEP, at_ms, written_ms.max(self.requested_ms))?;
        self.recorded.notice_ms = Some(at_ms);
        self.state = ReliefState::NoticePublished;
        Ok(())
    }

    /// Fraud: the account holder objected at `at_ms`, which stops the process (`objected`).
    /// Accepted from the suspension until the end of the objection period.
    pub fn record_objection(&mut self, at_ms: i64) -> Result<(), ReliefError> {
        const STEP: &str = "objection";
        self.expect(STEP, &[ReliefState::Suspended, ReliefState::NoticePublished])?;
        not_before(STEP, at_ms, self.requested_ms)?;
        if let Some(end) = self.objection_period_end_ms()
            && at_ms > end
        {
            return Err(ReliefError::OutsideWindow {
                step: STEP,
                reason: format!("the objection period ended at {}", kst(end)),
            });
        }
        self.recorded.objected_ms = Some(at_ms);
        self.state = ReliefState::Objected;
        Ok(())
    }

    /// Fraud: the objection period ended without objection and the claim was extinguished at
    /// `at_ms`, which must be after the period.
    pub fn record_extinguished(&mut self, at_ms: i64) -> Result<(), ReliefError> {
        const STEP: &str = "extinguishment";
        self.expect(STEP, &[ReliefState::NoticePublished])?;
        let end = self.objection_period_end_ms().unwrap_or(i64::MAX);
        if at_ms <= end {
            return Err(ReliefError::OutsideWindow {
                step: STEP,
                reason: format!("the objection period runs until {}", kst(end)),
            });
        }
        self.recorded.extinguished_ms = Some(at_ms);
        self.state = ReliefState::Extinguished;
        Ok(())
    }

    /// Fraud: the refunds were decided at `at_ms`: `available_won` (the extinguished balance)
    /// split [`pro_rata`] among `claims` (victim, claimed won). Returns the shares.
    pub fn record_refund_decision(
        &mut self,
        at_ms: i64,
        available_won: i64,
        claims: &[(String, i64)],
    ) -> Result<&[Share], ReliefError> {
        const STEP: &str = "refund decision";
        self.expect(STEP, &[ReliefState::Extinguished])?;
        not_before(STEP, at_ms, self.recorded.extinguished_ms.unwrap_or(i64::MIN))?;
        if available_won < 0 {
            return Err(ReliefError::Invalid(format!("{available_won} won available: must not be negative")));
        }
        if claims.is_empty() {
            return Err(ReliefError::Invalid("a refund decision needs at least one claim".into()));
        }
        if let Some((victim, c)) = claims.iter().find(|(_, c)| *c <= 0) {
            return Err(ReliefError::Invalid(format!("{victim} claims {c} won: a claim must be positive")));
        }
        let shares = pro_rata(available_won, claims)
            .into_iter()
            .zip(claims)
            .map(|((victim, refund_won), (_, claimed_won))| Share { victim, claimed_won: *claimed_won, refund_won })
            .collect();
        self.recorded.refund_decided_ms = Some(at_ms);
        self.state = ReliefState::RefundDecided;
        let decision = self.refund.insert(RefundDecision { available_won, shares });
        Ok(&decision.shares)
    }

    /// Fraud: the refunds were paid at `at_ms`.
    pub fn record_payout(&mut self, at_ms: i64) -> Result<(), ReliefError> {
        const STEP: &str = "payout";
        self.expect(STEP, &[ReliefState::RefundDecided])?;
        not_before(STEP, at_ms, self.recorded.refund_decided_ms.unwrap_or(i64::MIN))?;
        self.recorded.paid_ms = Some(at_ms);
        self.state = ReliefState::Paid;
        Ok(())
    }

    /// Fraud: the victim withdrew, or the bank lifted the suspension, at `at_ms` (before
    /// extinguishment only).
    pub fn record_withdrawal(&mut self, at_ms: i64) -> Result<(), ReliefError> {
        const STEP: &str = "withdrawal";
        self.expect(STEP, &[ReliefState::Suspended, ReliefState::NoticePublished])?;
        not_before(STEP, at_ms, self.requested_ms)?;
        self.recorded.withdrawn_ms = Some(at_ms);
        self.state = ReliefState::Withdrawn;
        Ok(())
    }

    /// Mistaken transfer: the recipient refused (or could not be reached and the bank closed
    /// the request) at `at_ms`.
    pub fn record_refusal(&mut self, at_ms: i64) -> Result<(), ReliefError> {
        const STEP: &str = "refusal";
        self.expect(STEP, &[ReliefState::ReturnRequested])?;
        not_before(STEP, at_ms, self.requested_ms)?;
        self.recorded.refused_ms = Some(at_ms);
        self.state = ReliefState::Refused;
        Ok(())
    }

    /// Mistaken transfer: the money came back at `at_ms`, from the recipient or through the
    /// programme.
    pub fn record_returned(&mut self, at_ms: i64) -> Result<(), ReliefError> {
        const STEP: &str = "return";
        self.expect(STEP, &[ReliefState::ReturnRequested, ReliefState::Refused, ReliefState::Escalated])?;
        not_before(STEP, at_ms, self.last_mistaken_step_ms())?;
        self.recorded.returned_ms = Some(at_ms);
        self.state = ReliefState::Returned;
        Ok(())
    }

    /// Mistaken transfer: the sender applied to the KDIC return-support programme at `at_ms`.
    /// Allowed after a refusal, or once the recipient's answer window has passed without an
    /// answer; only for amounts the programme takes, and by its application deadline.
    pub fn record_escalation(&mut self, at_ms: i64, calendar: &Calendar) -> Result<(), ReliefError> {
        const STEP: &str = "escalation";
        self.expect(STEP, &[ReliefState::ReturnRequested, ReliefState::Refused])?;
        let ReliefKind::MistakenTransfer { amount_won, .. } = self.kind else {
            return Err(ReliefError::OutOfOrder { step: STEP, state: self.state });
        };
        not_before(STEP, at_ms, self.last_mistaken_step_ms())?;
        if self.state == ReliefState::ReturnRequested {
            let due = self.recipient_response_due(calendar)?;
            if at_ms <= due {
                return Err(ReliefError::OutsideWindow {
                    step: STEP,
                    reason: format!("the recipient has until {} to answer; record a refusal first", kst(due)),
                });
            }
        }
        let (min, max) = (self.rules.return_support_min_won, self.rules.return_support_max_won);
        if !(min..=max).contains(&amount_won) {
            return Err(ReliefError::OutsideWindow {
                step: STEP,
                reason: format!("the programme takes transfers of {min} to {max} won, not {amount_won}"),
            });
        }
        if let Some(due) = self.application_due()
            && at_ms > due
        {
            return Err(ReliefError::OutsideWindow {
                step: STEP,
                reason: format!("applications closed at {}", kst(due)),
            });
        }
        self.recorded.escalated_ms = Some(at_ms);
        self.state = ReliefState::Escalated;
        Ok(())
    }

    /// Mistaken transfer: the programme could not recover the money (recorded at `at_ms`).
    pub fn record_unrecovered(&mut self, at_ms: i64) -> Result<(), ReliefError> {
        const STEP: &str = "unrecovered";
        self.expect(STEP, &[ReliefState::Escalated])?;
        not_before(STEP, at_ms, self.last_mistaken_step_ms())?;
        self.recorded.unrecovered_ms = Some(at_ms);
        self.state = ReliefState::Unrecovered;
        Ok(())
    }

    fn last_mistaken_step_ms(&self) -> i64 {
        let r = &self.recorded;
        [Some(self.requested_ms), r.refused_ms, r.escalated_ms].into_iter().flatten().max().unwrap_or(i64::MIN)
    }

    fn recipient_response_due(&self, calendar: &Calendar) -> Result<i64, MissingYear> {
        let date = Date::from_ms(self.requested_ms);
        Ok(calendar.add_business_days(date, self.rules.recipient_response_business_days)?.end_ms())
    }

    /// The programme's application deadline, when the amount is one it takes.
    fn application_due(&self) -> Option<i64> {
        let ReliefKind::MistakenTransfer { transferred_ms, amount_won } = self.kind else { return None };
        let eligible = (self.rules.return_support_min_won..=self.rules.return_support_max_won).contains(&amount_won);
        eligible.then(|| months_period_end(Date::from_ms(transferred_ms), self.rules.return_support_months).end_ms())
    }

    /// The steps still open and when each is due, earliest first. An error when a deadline
    /// needs business days of a year the calendar does not cover.
    pub fn deadlines(&self, calendar: &Calendar) -> Result<Vec<Deadline>, ReliefError> {
        let mut out = Vec::new();
        let r = &self.recorded;
        let requested_date = Date::from_ms(self.requested_ms);
        match self.state {
            ReliefState::Suspended | ReliefState::NoticePublished => {
                if r.written_ms.is_none() {
                    let due_ms = written_request_due(self.requested_ms, calendar)?;
                    out.push(Deadline { step: Step::WrittenRequest, due_ms });
                }
                if r.holder_notified_ms.is_none() {
                    let due = calendar.add_business_days(requested_date, self.rules.holder_notice_business_days)?;
                    out.push(Deadline { step: Step::HolderNotice, due_ms: due.end_ms() });
                }
                if let Some(due_ms) = self.objection_period_end_ms() {
                    out.push(Deadline { step: Step::ObjectionPeriod, due_ms });
                }
            }
            ReliefState::Extinguished => {
                if let Some(at) = r.extinguished_ms {
                    out.push(Deadline { step: Step::RefundDecision, due_ms: refund_decision_due(at) });
                }
            }
            ReliefState::ReturnRequested | ReliefState::Refused => {
                if self.state == ReliefState::ReturnRequested {
                    let due_ms = self.recipient_response_due(calendar)?;
                    out.push(Deadline { step: Step::RecipientResponse, due_ms });
                }
                if let Some(due_ms) = self.application_due() {
                    out.push(Deadline { step: Step::ReturnSupportApplication, due_ms });
                }
            }
            ReliefState::Objected
            | ReliefState::RefundDecided
            | ReliefState::Paid
            | ReliefState::Withdrawn
            | ReliefState::Escalated
            | ReliefState::Returned
            | ReliefState::Unrecovered => {}
        }
        out.sort_by_key(|d| (d.due_ms, d.step.as_str()));
        Ok(out)
    }

    /// The open steps whose deadline has passed at `now_ms` (due strictly before it), for
    /// alerts. A passed [`Step::ObjectionPeriod`] means the extinguishment is due to be
    /// recorded; a passed [`Step::ReturnSupportApplication`] means the sender can no longer
    /// apply.
    pub fn overdue(&self, now_ms: i64, calendar: &Calendar) -> Result<Vec<Deadline>, ReliefError> {
        Ok(self.deadlines(calendar)?.into_iter().filter(|d| d.due_ms < now_ms).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date(s: &str) -> Date {
        Date::parse(s).unwrap()
    }

    #[test]
    fn embedded_list_parses() {
        let cal = Calendar::korea();
        assert_eq!(cal.years().collect::<Vec<_>>(), vec![2024, 2025, 2026, 2027]);
        // 2026: 16 weekday closures (with 12-31, the exchange's 17 non-trading days).
        let weekdays = cal.holidays(2026).unwrap().filter(|(d, _)| !d.is_weekend()).count();
        assert_eq!(weekdays, 16);
    }

    #[test]
    fn civil_round_trip() {
        for days in [MIN_DAYS, -1, 0, 1, 19_000, 20_000, 60_000, MAX_DAYS] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days, "{y}-{m}-{d}");
        }
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(Date::MIN.days(), MIN_DAYS);
    }

    #[test]
    fn weekdays_and_kst() {
        // 2026-09-23 is a Wednesday, 2026-09-26 a Saturday.
        assert_eq!(date("2026-09-23").weekday(), 2);
        assert!(date("2026-09-26").is_weekend());
        // 2026-09-22T15:00:00Z is 2026-09-23T00:00:00+09:00.
        let midnight = 1_790_089_200_000;
        assert_eq!(date("2026-09-23").start_ms(), midnight);
        assert_eq!(Date::from_ms(midnight), date("2026-09-23"));
        assert_eq!(Date::from_ms(midnight - 1), date("2026-09-22"));
        assert_eq!(date("2026-09-22").end_ms(), midnight - 1);
        assert_eq!(Date::from_ms(i64::MAX), Date::MAX);
        assert_eq!(Date::from_ms(i64::MIN), Date::MIN);
        assert_eq!(kst(midnight - 1), "2026-09-22 23:59:59.999 KST");
    }

    #[test]
    fn month_arithmetic_clamps() {
        assert_eq!(date("2026-01-31").add_months(1), date("2026-02-28"));
        assert_eq!(date("2028-01-31").add_months(1), date("2028-02-29"));
        assert_eq!(date("2026-03-31").add_months(-1), date("2026-02-28"));
        assert_eq!(date("2026-12-15").add_months(14), date("2028-02-15"));
        assert_eq!(date("9999-12-01").add_months(1), Date::MAX);
        assert_eq!(Date::MAX.add_days(5), Date::MAX);
        assert_eq!(months_period_end(date("2026-03-10"), 2), date("2026-05-09"));
        assert_eq!(months_period_end(date("2026-12-31"), 2), date("2027-02-28"));
        assert_eq!(months_period_end(date("2027-12-30"), 2), date("2028-02-29"));
        assert_eq!(months_period_end(date("2026-12-28"), 2), date("2027-02-27"));
    }

    #[test]
    fn pro_rata_remainders_go_to_largest_then_earliest() {
        // 100 among 1:1:1 -> 33.33 each; one won left, ties -> the first.
        assert_eq!(pro_rata(100, &[("a", 100), ("b", 100), ("c", 100)]), vec![("a", 34), ("b", 33), ("c", 33)]);
        // 5 among 1:2:3 (total 6): exact 0.83, 1.67, 2.50 -> floors 0, 1, 2; remainders
        // 5, 4, 3 (of 6) -> the two won left go to a and b.
        assert_eq!(pro_rata(5, &[("a", 1), ("b", 2), ("c", 3)]), vec![("a", 1), ("b", 2), ("c", 2)]);
        assert_eq!(pro_rata(0, &[("a", 5)]), vec![("a", 0)]);
        assert_eq!(pro_rata::<&str>(5, &[]), vec![]);
    }
}
