//! Trends: the daily rollup of decisions the store keeps as they commit (day × kind × verdict ×
//! typology × age band × amount band, with amounts), read back by day, week or month and by
//! whichever of those dimensions the caller asks for. Reading never scans events: a year is at
//! most 365 days of rollup cells.

use crate::{App, AppError, GROUP, Principal};
use domain::{Decision, Event};
use store::TrendKey;

/// Milliseconds in a day.
const DAY_MS: i64 = 86_400_000;
/// Korea's offset from UTC, ms (no daylight saving).
const KST_MS: i64 = 9 * 3_600_000;

/// The Korea-time day of a time, as days since 1970-01-01.
pub fn kst_day(at_ms: i64) -> i64 {
    (at_ms + KST_MS).div_euclid(DAY_MS)
}

/// The band an amount of won falls in.
pub fn amount_band(won: i64) -> &'static str {
    match won {
        ..100_000 => "under_100k",
        100_000..1_000_000 => "100k_1m",
        1_000_000..10_000_000 => "1m_10m",
        _ => "10m_plus",
    }
}

/// Where a decision counts in the rollup, and the won it moves (or would have).
pub(crate) fn key(event: &Event, decision: &Decision) -> (TrendKey, i64) {
    let typology = match decision.analysis.as_ref().and_then(|a| a.typology) {
        Some(t) => t.as_str().to_string(),
        None => decision.reasons.first().and_then(|r| r.tags.first()).map(|t| t.to_string()).unwrap_or_default(),
    };
    let amount = event.amount().map(|a| a.0);
    (
        TrendKey {
            day: kst_day(event.at.millis()),
            kind: event.kind().as_str().to_string(),
            verdict: decision.verdict.as_str().to_string(),
            typology,
            age_band: event.subject.age_band.clone().unwrap_or_default(),
            amount_band: amount.map(|a| amount_band(a).to_string()).unwrap_or_default(),
        },
        amount.unwrap_or(0).max(0),
    )
}

/// How periods are cut.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Period {
    /// One Korea-time day.
    Day,
    /// Monday to Sunday.
    Week,
    /// A calendar month.
    Month,
}

impl Period {
    /// Parses `day`, `week` or `month`.
    pub fn parse(s: &str) -> Option<Period> {
        match s {
            "day" => Some(Period::Day),
            "week" => Some(Period::Week),
            "month" => Some(Period::Month),
            _ => None,
        }
    }

    /// The first day of the period holding `day`.
    pub fn start(self, day: i64) -> i64 {
        match self {
            Period::Day => day,
            // 1970-01-01 was a Thursday: Monday is 3 days earlier.
            Period::Week => day - (day + 3).rem_euclid(7),
            Period::Month => {
                let (y, m, _) = civil(day);
                days_from_civil(y, m, 1)
            }
        }
    }
}

/// A dimension the rollup can be split by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Dim {
    /// The affiliate (the group's view only).
    Affiliate,
    /// Event kind.
    Kind,
    /// Verdict.
    Verdict,
    /// Scam typology.
    Typology,
    /// The subject's age band.
    AgeBand,
    /// The amount's band.
    AmountBand,
}

impl Dim {
    /// Parses a dimension's wire name.
    pub fn parse(s: &str) -> Option<Dim> {
        Some(match s {
            "affiliate" => Dim::Affiliate,
            "kind" => Dim::Kind,
            "verdict" => Dim::Verdict,
            "typology" => Dim::Typology,
            "age_band" => Dim::AgeBand,
            "amount_band" => Dim::AmountBand,
            _ => return None,
        })
    }

    /// Its wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Dim::Affiliate => "affiliate",
            Dim::Kind => "kind",
            Dim::Verdict => "verdict",
            Dim::Typology => "typology",
            Dim::AgeBand => "age_band",
            Dim::AmountBand => "amount_band",
        }
    }
}

/// Totals of a set of decisions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Decisions.
    pub decisions: i64,
    /// Warned (the user confirmed before going ahead).
    pub warned: i64,
    /// Held.
    pub held: i64,
    /// Blocked.
    pub blocked: i64,
    /// Won moved by all of them (or that would have been).
    pub amount: i64,
    /// Won held or blocked.
    pub stopped_amount: i64,
}

impl Totals {
    /// Adds a rollup cell.
    pub(crate) fn add(&mut self, r: &store::TrendRow) {
        self.decisions += r.decisions;
        self.amount = self.amount.saturating_add(r.amount);
        match r.key.verdict.as_str() {
            "warn" => self.warned += r.decisions,
            "hold" => {
                self.held += r.decisions;
                self.stopped_amount = self.stopped_amount.saturating_add(r.amount);
            }
            "block" => {
                self.blocked += r.decisions;
                self.stopped_amount = self.stopped_amount.saturating_add(r.amount);
            }
            _ => {}
        }
    }

    /// Warned, held or blocked.
    pub fn protected(&self) -> i64 {
        self.warned + self.held + self.blocked
    }

    /// Held or blocked.
    pub fn stopped(&self) -> i64 {
        self.held + self.blocked
    }
}

/// One point of a trend: a period, the values of the dimensions asked for, and the totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Point {
    /// The period's first Korea-time day.
    pub period_start: i64,
    /// The value of each dimension asked for, in the order asked.
    pub values: Vec<String>,
    /// Its decisions.
    pub totals: Totals,
}

impl App {
    /// Decisions of Korea-time days `from_day..=to_day` by `period` and `dims`, in period
    /// order: the caller's own affiliate, or every affiliate for the group's administrators.
    pub fn trends(
        &self,
        p: &Principal,
        from_day: i64,
        to_day: i64,
        period: Period,
        dims: &[Dim],
    ) -> Result<Vec<Point>, AppError> {
        crate::access::authorize(p, crate::access::Action::ReadRules)?;
        if to_day < from_day {
            return Err(AppError::Invalid {
                field: "to".into(),
                message: format!("{} is before from ({})", day_text(to_day), day_text(from_day)),
            });
        }
        if to_day - from_day > 3_660 {
            return Err(AppError::Invalid { field: "to".into(), message: "at most ten years after from".into() });
        }
        let group = p.affiliate.as_str() == GROUP && p.scopes.contains(&crate::Scope::Admin);
        if dims.contains(&Dim::Affiliate) && !group {
            return Err(AppError::Forbidden("admin of the group (trends by affiliate)"));
        }
        let rows = self.store.trend_days(if group { None } else { Some(&p.affiliate) }, from_day, to_day)?;
        let mut points: std::collections::BTreeMap<(i64, Vec<String>), Point> = Default::default();
        for r in rows {
            let values: Vec<String> = dims
                .iter()
                .map(|d| match d {
                    Dim::Affiliate => r.affiliate.0.clone(),
                    Dim::Kind => r.key.kind.clone(),
                    Dim::Verdict => r.key.verdict.clone(),
                    Dim::Typology => r.key.typology.clone(),
                    Dim::AgeBand => r.key.age_band.clone(),
                    Dim::AmountBand => r.key.amount_band.clone(),
                })
                .collect();
            let start = period.start(r.key.day);
            points
                .entry((start, values.clone()))
                .or_insert(Point { period_start: start, values, totals: Totals::default() })
                .totals
                .add(&r);
        }
        Ok(points.into_values().collect())
    }
}

/// (year, month, day) of a day number (days since 1970-01-01), proleptic Gregorian.
pub fn civil(day: i64) -> (i64, u32, u32) {
    // H. Hinnant's civil_from_days.
    let z = day + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1_460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// The day number of (year, month, day), proleptic Gregorian.
pub fn days_from_civil(y: i64, m: u32, d: u32) -> i64 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(m);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

/// `YYYY-MM-DD` of a day number.
pub fn day_text(day: i64) -> String {
    let (y, m, d) = civil(day);
    format!("{y:04}-{m:02}-{d:02}")
}

/// The day number of `YYYY-MM-DD`, or `None` when it is not a real date.
pub fn parse_day(s: &str) -> Option<i64> {
    let mut it = s.splitn(3, '-');
    let y: i64 = it.next()?.parse().ok()?;
    let m: u32 = it.next()?.parse().ok()?;
    let d: u32 = it.next()?.parse().ok()?;
    if s.len() != 10 || !(1..=12).contains(&m) || d == 0 {
        return None;
    }
    let day = days_from_civil(y, m, d);
    (civil(day) == (y, m, d)).then_some(day)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn days_weeks_and_months() {
        assert_eq!(parse_day("1970-01-01"), Some(0));
        assert_eq!(parse_day("2026-12-07"), Some(20_794));
        assert_eq!(day_text(20_794), "2026-12-07");
        assert_eq!(parse_day("2026-02-29"), None, "2026 is not a leap year");
        assert_eq!(parse_day("2024-02-29").map(day_text).as_deref(), Some("2024-02-29"));
        assert_eq!(parse_day("2026-13-01"), None);
        assert_eq!(parse_day("2026-1-01"), None);
        // 2026-12-07 is a Monday; the 13th a Sunday of the same week.
        assert_eq!(Period::Week.start(parse_day("2026-12-13").unwrap()), 20_794);
        assert_eq!(Period::Week.start(20_794), 20_794);
        assert_eq!(Period::Week.start(20_793), 20_787, "Sunday belongs to the week before");
        assert_eq!(day_text(Period::Month.start(20_794)), "2026-12-01");
        assert_eq!(day_text(Period::Month.start(parse_day("2024-03-01").unwrap() - 1)), "2024-02-01");
    }

    #[test]
    fn a_korean_day_starts_at_midnight_in_seoul() {
        // 2026-12-06T15:00:00Z is 2026-12-07 00:00 in Seoul.
        let t = 1_796_569_200_000;
        assert_eq!(day_text(kst_day(t)), "2026-12-07");
        assert_eq!(day_text(kst_day(t - 1)), "2026-12-06");
    }

    #[test]
    fn amount_bands() {
        assert_eq!(amount_band(99_999), "under_100k");
        assert_eq!(amount_band(100_000), "100k_1m");
        assert_eq!(amount_band(9_999_999), "1m_10m");
        assert_eq!(amount_band(10_000_000), "10m_plus");
    }
}

/// A spike in one series of decisions (one event kind and typology), from the daily rollup.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendAlert {
    /// Event kind.
    pub kind: String,
    /// Typology.
    pub typology: String,
    /// First alerting Korea-time day (the day it was detected).
    pub first_day: i64,
    /// Last alerting day.
    pub last_day: i64,
    /// Decisions on the alerting days.
    pub count: i64,
    /// Decisions expected on them.
    pub expected: f64,
    /// The highest day's standard deviations above expectation.
    pub peak_z: f64,
    /// Decisions on the alerting days per affiliate, most first.
    pub affiliates: Vec<(String, i64)>,
}

impl App {
    /// Spikes whose first day falls in the `days` Korea-time days up to `to_day`, in the series
    /// of decisions of each event kind and typology (the caller's own, or every affiliate's for
    /// the group's administrators), judged against the eight weeks before (see
    /// [`crate::spikes`]). Most recent first.
    pub fn trend_alerts(&self, p: &Principal, to_day: i64, days: i64) -> Result<Vec<TrendAlert>, AppError> {
        crate::access::authorize(p, crate::access::Action::ReadRules)?;
        if !(1..=366).contains(&days) {
            return Err(AppError::Invalid { field: "days".into(), message: "between 1 and 366".into() });
        }
        let group = p.affiliate.as_str() == GROUP && p.scopes.contains(&crate::Scope::Admin);
        self.alerts_in(if group { None } else { Some(&p.affiliate) }, to_day, days)
    }

    /// Queues a `trend.alert` action for every affiliate with a webhook, for each wave in the
    /// group's decisions still going on (alerting yesterday or today, Korea time, and first
    /// seen in the last week), so prevention content can go out while it is still rising.
    /// Idempotent: one action id per wave and affiliate, so
    /// running it again (every few minutes, on any node) adds nothing; with several nodes the
    /// one leading `trends` does it. Returns the actions queued or already queued.
    pub fn announce_trend_alerts(&self, now_ms: i64) -> Result<usize, AppError> {
        if !self.store.lead("trends")? {
            return Ok(0);
        }
        let today = kst_day(now_ms);
        let alerts: Vec<TrendAlert> =
            self.alerts_in(None, today, 7)?.into_iter().filter(|a| a.last_day >= today - 1).collect();
        if alerts.is_empty() {
            return Ok(0);
        }
        let subscribers = self.subscribers()?;
        let mut actions = Vec::new();
        for al in &alerts {
            let payload = serde_json::json!({
                "kind": al.kind,
                "typology": al.typology,
                "first_seen": day_text(al.first_day),
                "last_seen": day_text(al.last_day),
                "count": al.count,
                "expected": (al.expected * 10.0).round() / 10.0,
                "affiliates": al.affiliates.iter().map(|(a, n)| serde_json::json!({"affiliate": a, "count": n})).collect::<Vec<_>>(),
            })
            .to_string();
            for a in &subscribers {
                let tag = xxhash_rust::xxh3::xxh3_64(
                    format!("{a}\0{}\0{}\0{}", al.kind, al.typology, al.first_day).as_bytes(),
                );
                actions.push(store::ActionRow::queued(
                    format!("act_trend_{tag:016x}"),
                    a.clone(),
                    "trend.alert",
                    payload.clone(),
                    now_ms,
                ));
            }
        }
        store::in_transaction(&*self.store, |tx| tx.queue_actions(&actions))?;
        Ok(actions.len())
    }

    /// Spikes first seen in the `days` days up to `to_day` in one affiliate's series or
    /// (`None`) the group's.
    pub(crate) fn alerts_in(
        &self,
        scope: Option<&domain::AffiliateId>,
        to_day: i64,
        days: i64,
    ) -> Result<Vec<TrendAlert>, AppError> {
        let from_day = to_day - days + 1 - 56;
        let rows = self.store.trend_days(scope, from_day, to_day)?;
        let mut out = waves(&rows, from_day, to_day, to_day - days + 1);
        out.sort_by(|x, y| y.first_day.cmp(&x.first_day).then(y.count.cmp(&x.count)));
        Ok(out)
    }
}

/// The waves in `rows` (the rollup of days `from_day..=to_day`) whose first day is
/// `judged_from` or later, in each (kind, typology) series, with the affiliates that saw them.
/// Days before the first decision in `rows` are no history, not quiet days: a series is judged
/// only once four weeks of decisions are behind it.
pub(crate) fn waves(rows: &[store::TrendRow], from_day: i64, to_day: i64, judged_from: i64) -> Vec<TrendAlert> {
    let len = (to_day - from_day + 1).max(0) as usize;
    // Series by (kind, typology): the counts per day, and per affiliate per day.
    type Series = (Vec<i64>, std::collections::BTreeMap<String, Vec<i64>>);
    let mut series: std::collections::BTreeMap<(String, String), Series> = Default::default();
    let inside = |r: &&store::TrendRow| (from_day..=to_day).contains(&r.key.day);
    for r in rows.iter().filter(inside).filter(|r| !r.key.typology.is_empty()) {
        let s = series
            .entry((r.key.kind.clone(), r.key.typology.clone()))
            .or_insert_with(|| (vec![0; len], Default::default()));
        let i = (r.key.day - from_day) as usize;
        s.0[i] += r.decisions;
        s.1.entry(r.affiliate.0.clone()).or_insert_with(|| vec![0; len])[i] += r.decisions;
    }
    // 1970-01-01 was a Thursday (weekday 3, Monday = 0).
    let weekday0 = (from_day + 3).rem_euclid(7) as usize;
    let first_data = rows.iter().filter(inside).map(|r| r.key.day).min().unwrap_or(to_day);
    let judged_from = judged_from.max(first_data + crate::spikes::WARMUP as i64);
    let mut out = Vec::new();
    for ((kind, typology), (counts, by_affiliate)) in series {
        for a in crate::spikes::alerts(&counts, weekday0, &crate::spikes::Params::default()) {
            if from_day + (a.first as i64) < judged_from {
                continue;
            }
            let mut affiliates: Vec<(String, i64)> = by_affiliate
                .iter()
                .map(|(name, c)| (name.clone(), c[a.first..=a.last].iter().sum()))
                .filter(|(_, n)| *n > 0)
                .collect();
            affiliates.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
            out.push(TrendAlert {
                kind: kind.clone(),
                typology: typology.clone(),
                first_day: from_day + a.first as i64,
                last_day: from_day + a.last as i64,
                count: a.count,
                expected: a.expected,
                peak_z: a.peak_z,
                affiliates,
            });
        }
    }
    out
}
