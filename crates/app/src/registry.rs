//! The safety table's indicator registry: what every affiliate reported about phone numbers,
//! accounts, profiles, devices and IPs, held as HMAC digests under the group key and never as
//! raw values. Reports are written through to the store and kept in memory, so a report at one
//! affiliate is read by every affiliate's next decision (as `signals.counterparty_*`) and by
//! the shield.
//!
//! Scores decay: an affiliate's standing report weighs √(its report count, at most 10), times 3
//! when confirmed, and halves every 90 days; a cleared report weighs nothing. Shield: `danger`
//! when confirmed by any affiliate or the score is at least 1.5 (two affiliates, or one that
//! reported it three times, recently), `caution` from 0.25, otherwise `safe`.

use crate::AppError;
use domain::{AffiliateId, Event};
use indicators::{GroupKey, IndicatorKind};
use rules::Type;
use signals::SignalProvider;
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, RwLock};
use store::{IndicatorReport, Store};

/// Half-life of a report's weight.
const HALF_LIFE_MS: f64 = 90.0 * 86_400_000.0;

/// A report's standing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    /// Reported, not yet confirmed.
    Reported,
    /// Confirmed fraud by the reporting affiliate.
    Confirmed,
    /// Cleared: a mistake or resolved; weighs nothing.
    Cleared,
}

impl Status {
    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Reported => "reported",
            Status::Confirmed => "confirmed",
            Status::Cleared => "cleared",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Status> {
        [Status::Reported, Status::Confirmed, Status::Cleared].into_iter().find(|x| x.as_str() == s)
    }

    fn weight(self) -> f64 {
        match self {
            Status::Reported => 1.0,
            Status::Confirmed => 3.0,
            Status::Cleared => 0.0,
        }
    }
}

/// Shield colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Level {
    /// Nothing known against it.
    Safe,
    /// Reported recently.
    Caution,
    /// Confirmed, or reported by several.
    Danger,
}

impl Level {
    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Safe => "safe",
            Level::Caution => "caution",
            Level::Danger => "danger",
        }
    }
}

/// What the registry says about one indicator: aggregates only, never who reported it.
#[derive(Debug, Clone, PartialEq)]
pub struct Aggregate {
    /// Reports by all affiliates (not counting cleared ones).
    pub reports: i64,
    /// Affiliates with a standing (not cleared) report.
    pub affiliates: i64,
    /// Confirmed by at least one affiliate.
    pub confirmed: bool,
    /// Latest report, ms (0 when never reported).
    pub last_ms: i64,
    /// Typologies reported, sorted.
    pub typologies: Vec<String>,
    /// Decayed score.
    pub score: f64,
    /// Shield colour.
    pub level: Level,
}

#[derive(Debug, Clone)]
struct Contribution {
    affiliate: AffiliateId,
    typology: String,
    status: Status,
    reports: i64,
    first_ms: i64,
    last_ms: i64,
}

/// One affiliate's contribution to an indicator, as the console shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct ContributionView {
    /// The reporting affiliate.
    pub affiliate: AffiliateId,
    /// Its typology.
    pub typology: String,
    /// Reported, confirmed or cleared.
    pub status: Status,
    /// Its reports.
    pub reports: i64,
    /// First report, ms.
    pub first_ms: i64,
    /// Latest report, ms.
    pub last_ms: i64,
}

/// An indicator's kind and every affiliate's contribution to it, by digest.
type Entries = HashMap<[u8; 32], (IndicatorKind, Vec<Contribution>)>;

/// The typologies an indicator may be reported with: every affiliate counts and trends by
/// them, so a misspelt one (`mulle`) would silently start a category of its own.
pub const TYPOLOGIES: &[&str] = &[
    "impersonation",
    "messenger-phishing",
    "smishing",
    "phishing",
    "investment",
    "romance",
    "loan",
    "account-takeover",
    "mistaken-transfer",
    "mule",
    "spam",
    "fraud",
];

/// The registry: digests → per-affiliate contributions.
pub struct Registry {
    key: GroupKey,
    /// Read by every decision; written only for the moment a committed change is applied,
    /// never across a store write (which waits for fsync).
    entries: RwLock<Entries>,
    /// Serialises writers: read-modify-write of contributions, the store write, then the
    /// apply. Decisions never take it.
    writing: Mutex<()>,
    /// Where applied changes go for the other nodes (several nodes only).
    changes: std::sync::OnceLock<crate::changes::Sink>,
}

/// A change prepared from the registry's current contributions: the row to store in the
/// caller's transaction, and what to apply in memory once it committed.
#[derive(Debug, Clone)]
pub struct Pending {
    digest: [u8; 32],
    kind: IndicatorKind,
    contribs: Vec<Contribution>,
    /// The row to write.
    pub row: IndicatorReport,
}

/// Held while a registry change is prepared, stored and applied.
pub struct WriteGuard<'a>(#[allow(dead_code)] MutexGuard<'a, ()>);

fn aggregate(contribs: &[Contribution], now_ms: i64) -> Aggregate {
    let mut a = Aggregate {
        reports: 0,
        affiliates: 0,
        confirmed: false,
        last_ms: 0,
        typologies: Vec::new(),
        score: 0.0,
        level: Level::Safe,
    };
    for c in contribs.iter().filter(|c| c.status != Status::Cleared) {
        a.reports += c.reports;
        a.affiliates += 1;
        a.confirmed |= c.status == Status::Confirmed;
        a.last_ms = a.last_ms.max(c.last_ms);
        if !a.typologies.contains(&c.typology) {
            a.typologies.push(c.typology.clone());
        }
        let age = (now_ms - c.last_ms).max(0) as f64;
        a.score += c.status.weight() * (c.reports.min(10) as f64).sqrt() * 0.5f64.powf(age / HALF_LIFE_MS);
    }
    a.typologies.sort();
    a.level = if a.confirmed || a.score >= 1.5 {
        Level::Danger
    } else if a.score >= 0.25 {
        Level::Caution
    } else {
        Level::Safe
    };
    a
}

/// One affiliate's contribution to the registry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Totals {
    /// The reporting affiliate.
    pub affiliate: AffiliateId,
    /// Indicators it reported.
    pub indicators: i64,
    /// Of those, confirmed.
    pub confirmed: i64,
    /// Of those, cleared.
    pub cleared: i64,
    /// Reports in all.
    pub reports: i64,
}

/// Why an import wrote nothing.
#[derive(Debug)]
pub enum ImportError {
    /// These rows (0-based index, message) are invalid.
    Rows(Vec<(usize, String)>),
    /// The store refused the write.
    Store(AppError),
}

/// Applies one report or status change of `a` to an indicator's contributions; returns the new
/// contributions and the row to store.
fn apply(
    mut contribs: Vec<Contribution>,
    a: &AffiliateId,
    kind: IndicatorKind,
    digest: [u8; 32],
    typology: &str,
    status: Status,
    now_ms: i64,
) -> (Vec<Contribution>, IndicatorReport) {
    let mine = contribs.iter().position(|c| &c.affiliate == a);
    let mut c = match mine {
        Some(i) => contribs[i].clone(),
        None => Contribution {
            affiliate: a.clone(),
            typology: typology.to_string(),
            status,
            reports: 0,
            first_ms: now_ms,
            last_ms: now_ms,
        },
    };
    if status == Status::Reported {
        c.reports += 1;
        // A new report does not undo a confirmation, but it does revive a cleared one.
        if c.status == Status::Cleared {
            c.status = Status::Reported;
        }
    } else {
        c.status = status;
        c.reports = c.reports.max(1);
    }
    c.typology = typology.to_string();
    c.last_ms = now_ms;
    let row = IndicatorReport {
        digest,
        kind: kind.as_str().to_string(),
        affiliate: a.clone(),
        typology: c.typology.clone(),
        status: c.status.as_str().to_string(),
        reports: c.reports,
        first_ms: c.first_ms,
        last_ms: c.last_ms,
    };
    match mine {
        Some(i) => contribs[i] = c,
        None => contribs.push(c),
    }
    (contribs, row)
}

impl Registry {
    /// Loads every stored report.
    pub fn load(key: GroupKey, store: &dyn Store) -> Result<Registry, AppError> {
        let mut entries = Entries::new();
        for r in store.all_reports()? {
            let (Some(kind), Some(status)) = (IndicatorKind::parse(&r.kind), Status::parse(&r.status)) else {
                continue;
            };
            entries.entry(r.digest).or_insert_with(|| (kind, Vec::new())).1.push(Contribution {
                affiliate: r.affiliate,
                typology: r.typology,
                status,
                reports: r.reports,
                first_ms: r.first_ms,
                last_ms: r.last_ms,
            });
        }
        Ok(Registry { key, entries: RwLock::new(entries), writing: Mutex::new(()), changes: Default::default() })
    }

    /// The digest of a raw indicator, after normalisation; the error names what is wrong.
    pub fn digest(&self, kind: IndicatorKind, raw: &str) -> Result<[u8; 32], AppError> {
        let ind = indicators::normalise(kind, raw)
            .map_err(|e| AppError::Invalid { field: "value".into(), message: e.to_string() })?;
        Ok(indicators::digest(&self.key, &ind).0)
    }

    /// Checks a report row without writing it.
    pub fn check(&self, kind: IndicatorKind, raw: &str, typology: &str) -> Result<(), AppError> {
        self.validate(kind, raw, typology).map(|_| ())
    }

    /// Checks one row of a report or import: the typology and the raw value.
    fn validate(&self, kind: IndicatorKind, raw: &str, typology: &str) -> Result<[u8; 32], AppError> {
        if !TYPOLOGIES.contains(&typology) {
            let shown: String = typology.chars().take(40).collect();
            return Err(AppError::Invalid {
                field: "typology".into(),
                message: format!("unknown typology {shown:?}; use one of {}", TYPOLOGIES.join(", ")),
            });
        }
        self.digest(kind, raw)
    }

    /// Takes the writers' lock: prepare, store and apply a change while holding it.
    pub fn write_lock(&self) -> WriteGuard<'_> {
        WriteGuard(self.writing.lock().unwrap_or_else(|p| p.into_inner()))
    }

    /// Checks rows of `a` and prepares their changes from the current contributions (several
    /// rows on one indicator chain); an error names the bad rows by index. Nothing changes
    /// until [`Registry::apply`].
    pub fn prepare(
        &self,
        _writing: &WriteGuard<'_>,
        a: &AffiliateId,
        rows: &[(IndicatorKind, &str, &str, Status)],
        now_ms: i64,
    ) -> Result<Vec<Pending>, Vec<(usize, AppError)>> {
        let mut digests = Vec::with_capacity(rows.len());
        let mut bad = Vec::new();
        for (i, (kind, raw, typology, _)) in rows.iter().enumerate() {
            match self.validate(*kind, raw, typology) {
                Ok(d) => digests.push(d),
                Err(e) => bad.push((i, e)),
            }
        }
        if !bad.is_empty() {
            return Err(bad);
        }
        let map = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let mut out: Vec<Pending> = Vec::with_capacity(rows.len());
        for ((kind, _, typology, status), digest) in rows.iter().zip(digests) {
            let current = match out.iter().position(|p| p.digest == digest) {
                Some(i) => out.remove(i).contribs,
                None => map.get(&digest).map(|e| e.1.clone()).unwrap_or_default(),
            };
            let (contribs, row) = apply(current, a, *kind, digest, typology, *status, now_ms);
            out.push(Pending { digest, kind: *kind, contribs, row });
        }
        Ok(out)
    }

    /// Applies committed changes: every decision from now on sees them (and, with several
    /// nodes, every other node's shortly after).
    pub fn apply(&self, _writing: &WriteGuard<'_>, pending: Vec<Pending>) {
        if let Some(sink) = self.changes.get() {
            let rows = pending.iter().map(|p| crate::changes::Report::from_row(&p.row)).collect();
            let _ = sink.send(crate::changes::Change::Registry { rows });
        }
        let mut map = self.entries.write().unwrap_or_else(|p| p.into_inner());
        for p in pending {
            map.insert(p.digest, (p.kind, p.contribs));
        }
    }

    /// Sends every applied change to `sink` from now on.
    pub(crate) fn send_changes_to(&self, sink: crate::changes::Sink) {
        let _ = self.changes.set(sink);
    }

    /// Takes in rows another node stored: each replaces that affiliate's contribution to its
    /// indicator (rows are states, not increments, so a repeated message changes nothing).
    pub(crate) fn absorb(&self, rows: &[IndicatorReport]) {
        let _writing = self.write_lock();
        let mut map = self.entries.write().unwrap_or_else(|p| p.into_inner());
        for r in rows {
            let (Some(kind), Some(status)) = (IndicatorKind::parse(&r.kind), Status::parse(&r.status)) else {
                continue;
            };
            let c = Contribution {
                affiliate: r.affiliate.clone(),
                typology: r.typology.clone(),
                status,
                reports: r.reports,
                first_ms: r.first_ms,
                last_ms: r.last_ms,
            };
            let entry = map.entry(r.digest).or_insert_with(|| (kind, Vec::new()));
            match entry.1.iter().position(|x| x.affiliate == r.affiliate) {
                Some(i) => entry.1[i] = c,
                None => entry.1.push(c),
            }
        }
    }

    /// Records `a`'s report (or a status change) on an indicator and returns the new aggregate.
    #[allow(clippy::too_many_arguments)]
    pub fn record(
        &self,
        store: &dyn Store,
        a: &AffiliateId,
        kind: IndicatorKind,
        raw: &str,
        typology: &str,
        status: Status,
        now_ms: i64,
    ) -> Result<Aggregate, AppError> {
        let w = self.write_lock();
        let mut pending =
            self.prepare(&w, a, &[(kind, raw, typology, status)], now_ms).map_err(|mut bad| bad.remove(0).1)?;
        store.upsert_reports(a, &[pending[0].row.clone()])?;
        let agg = aggregate(&pending[0].contribs, now_ms);
        self.apply(&w, std::mem::take(&mut pending));
        Ok(agg)
    }

    /// Imports many rows of `a`: all are checked first; if any is bad nothing is written and
    /// the bad rows come back by index; otherwise they are written in one transaction.
    pub fn import(
        &self,
        store: &dyn Store,
        a: &AffiliateId,
        rows: &[(IndicatorKind, String, String, Status)],
        now_ms: i64,
    ) -> Result<usize, ImportError> {
        let w = self.write_lock();
        let borrowed: Vec<(IndicatorKind, &str, &str, Status)> =
            rows.iter().map(|(k, v, t, s)| (*k, v.as_str(), t.as_str(), *s)).collect();
        let pending = self
            .prepare(&w, a, &borrowed, now_ms)
            .map_err(|bad| ImportError::Rows(bad.into_iter().map(|(i, e)| (i, e.to_string())).collect()))?;
        let reports: Vec<IndicatorReport> = pending.iter().map(|p| p.row.clone()).collect();
        store.upsert_reports(a, &reports).map_err(|e| ImportError::Store(AppError::from(e)))?;
        let n = pending.len();
        self.apply(&w, pending);
        Ok(n)
    }

    /// Per-affiliate totals for the safety table, sorted by affiliate. Counts only; no
    /// indicator is named.
    pub fn totals(&self) -> Vec<Totals> {
        let map = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let mut by: HashMap<AffiliateId, (i64, i64, i64, i64)> = HashMap::new();
        for (_, contribs) in map.values() {
            for c in contribs {
                let t = by.entry(c.affiliate.clone()).or_default();
                t.0 += 1;
                t.1 += i64::from(c.status == Status::Confirmed);
                t.2 += i64::from(c.status == Status::Cleared);
                t.3 += c.reports;
            }
        }
        let mut v: Vec<Totals> = by
            .into_iter()
            .map(|(affiliate, (indicators, confirmed, cleared, reports))| Totals {
                affiliate,
                indicators,
                confirmed,
                cleared,
                reports,
            })
            .collect();
        v.sort_by(|a, b| a.affiliate.cmp(&b.affiliate));
        v
    }

    /// Every affiliate's contribution to a raw indicator, by affiliate (group-internal: the
    /// console shows an affiliate only its own).
    pub fn contributions(&self, kind: IndicatorKind, raw: &str) -> Result<Vec<ContributionView>, AppError> {
        let digest = self.digest(kind, raw)?;
        let map = self.entries.read().unwrap_or_else(|p| p.into_inner());
        let mut v: Vec<ContributionView> = map
            .get(&digest)
            .map_or(&[][..], |e| &e.1[..])
            .iter()
            .map(|c| ContributionView {
                affiliate: c.affiliate.clone(),
                typology: c.typology.clone(),
                status: c.status,
                reports: c.reports,
                first_ms: c.first_ms,
                last_ms: c.last_ms,
            })
            .collect();
        v.sort_by(|a, b| a.affiliate.cmp(&b.affiliate));
        Ok(v)
    }

    /// What the registry says about a digest at `now_ms`.
    pub fn lookup(&self, digest: &[u8; 32], now_ms: i64) -> Aggregate {
        let map = self.entries.read().unwrap_or_else(|p| p.into_inner());
        aggregate(map.get(digest).map_or(&[][..], |e| &e.1[..]), now_ms)
    }

    /// What the registry says about a raw indicator.
    pub fn shield(&self, kind: IndicatorKind, raw: &str, now_ms: i64) -> Result<Aggregate, AppError> {
        Ok(self.lookup(&self.digest(kind, raw)?, now_ms))
    }

    fn lookup_opt(&self, kind: IndicatorKind, value: Option<&str>, now_ms: i64) -> Option<Aggregate> {
        let v = value?;
        let ind = indicators::normalise(kind, v).ok()?;
        Some(self.lookup(&indicators::digest(&self.key, &ind).0, now_ms))
    }
}

/// Feeds the registry into decisions as the standard `signals.*` (see `engine::STANDARD_SIGNALS`).
pub struct RegistrySignals(pub Arc<Registry>);

impl SignalProvider for RegistrySignals {
    fn declare(&self) -> Vec<(String, Type)> {
        engine::STANDARD_SIGNALS.iter().map(|(n, t)| (n.to_string(), *t)).collect()
    }

    fn provide(&self, event: &Event, out: &mut [Option<i64>]) {
        let now = event.at.millis();
        let r = &self.0;
        // The counterparty's strongest indicator: its account, phone or messenger profile.
        let mut best: Option<Aggregate> = None;
        if let Some(c) = event.counterparty() {
            for (kind, v) in [
                (IndicatorKind::Account, c.account_key.as_deref()),
                (IndicatorKind::Phone, c.phone.as_deref()),
                (IndicatorKind::Profile, c.profile.as_deref()),
            ] {
                if let Some(a) = r.lookup_opt(kind, v, now)
                    && best.as_ref().is_none_or(|b| a.score > b.score || (a.confirmed && !b.confirmed))
                {
                    best = Some(a);
                }
            }
        }
        for (slot, (name, _)) in out.iter_mut().zip(engine::STANDARD_SIGNALS) {
            *slot = match *name {
                "counterparty_reported" => best.as_ref().map(|a| i64::from(a.level != Level::Safe)),
                "counterparty_confirmed" => best.as_ref().map(|a| i64::from(a.confirmed)),
                "counterparty_reports" => best.as_ref().map(|a| a.reports),
                "counterparty_affiliates" => best.as_ref().map(|a| a.affiliates),
                "device_reported" => r
                    .lookup_opt(IndicatorKind::Device, event.device.as_ref().map(|d| d.id.as_str()), now)
                    .map(|a| i64::from(a.level != Level::Safe)),
                "ip_reported" => r
                    .lookup_opt(IndicatorKind::Ip, event.ip.as_ref().map(|i| i.addr.as_str()), now)
                    .map(|a| i64::from(a.level != Level::Safe)),
                // Any link of a message whose URL or registrable domain is reported.
                "url_reported" => event.analysis.as_ref().filter(|a| !a.links.is_empty()).map(|a| {
                    i64::from(a.links.iter().any(|l| {
                        let hit =
                            |kind, v: Option<&str>| r.lookup_opt(kind, v, now).is_some_and(|x| x.level != Level::Safe);
                        hit(IndicatorKind::Url, Some(&l.url)) || hit(IndicatorKind::Domain, l.domain.as_deref())
                    }))
                }),
                _ => None,
            };
        }
    }
}

/// The safety table's use cases on the registry.
impl crate::App {
    /// Records affiliate `a`'s report on an indicator (`status` Reported), or confirms or
    /// clears its own report. Visible to every affiliate's next decision.
    pub fn report_indicator(
        &self,
        a: &AffiliateId,
        kind: IndicatorKind,
        raw: &str,
        typology: &str,
        status: crate::registry::Status,
    ) -> Result<crate::registry::Aggregate, AppError> {
        self.registry.record(self.store.as_ref(), a, kind, raw, typology, status, crate::now_ms())
    }

    /// Imports many reports of `a` at once (a CSV of known fraud numbers, say): all rows are
    /// checked first; if any is bad nothing is written and the bad rows come back with their
    /// index; otherwise all are written in one transaction. Returns the indicators touched.
    pub fn import_indicators(
        &self,
        a: &AffiliateId,
        rows: &[(IndicatorKind, String, String, crate::registry::Status)],
    ) -> Result<usize, crate::registry::ImportError> {
        self.registry.import(self.store.as_ref(), a, rows, crate::now_ms())
    }

    /// Checks one report row without writing it (typology and value).
    pub fn validate_indicator(&self, kind: IndicatorKind, raw: &str, typology: &str) -> Result<(), AppError> {
        self.registry.check(kind, raw, typology)
    }

    /// Per-affiliate registry totals, for the safety table only: the caller must be the group
    /// ([`GROUP`]) with the `admin` scope.
    pub fn registry_totals(&self, p: &crate::Principal) -> Result<Vec<crate::registry::Totals>, AppError> {
        crate::access::authorize(p, crate::access::Action::GroupAdmin)?;
        Ok(self.registry.totals())
    }

    /// What the registry says about an indicator now: aggregates only.
    pub fn shield(&self, kind: IndicatorKind, raw: &str) -> Result<crate::registry::Aggregate, AppError> {
        self.registry.shield(kind, raw, crate::now_ms())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DAY: i64 = 86_400_000;

    fn c(affiliate: &str, status: Status, reports: i64, last_ms: i64) -> Contribution {
        Contribution {
            affiliate: AffiliateId(affiliate.into()),
            typology: "mule".into(),
            status,
            reports,
            first_ms: last_ms,
            last_ms,
        }
    }

    #[test]
    fn scores_decay_and_levels_follow() {
        let now = 1_000 * DAY;
        // One fresh report: caution; after one half-life it weighs half; after a year, safe.
        let fresh = aggregate(&[c("bank", Status::Reported, 1, now)], now);
        assert_eq!((fresh.level, fresh.reports, fresh.affiliates), (Level::Caution, 1, 1));
        assert!((fresh.score - 1.0).abs() < 1e-9);
        let half = aggregate(&[c("bank", Status::Reported, 1, now - 90 * DAY)], now);
        assert!((half.score - 0.5).abs() < 1e-9, "{}", half.score);
        assert_eq!(aggregate(&[c("bank", Status::Reported, 1, now - 365 * DAY)], now).level, Level::Safe);
        // Two affiliates, or three reports by one, recently: danger.
        let two = aggregate(&[c("bank", Status::Reported, 1, now), c("pay", Status::Reported, 1, now)], now);
        assert_eq!((two.level, two.affiliates), (Level::Danger, 2));
        assert_eq!(aggregate(&[c("bank", Status::Reported, 3, now)], now).level, Level::Danger);
        // Confirmed is danger however old; cleared weighs nothing and is not counted.
        assert_eq!(aggregate(&[c("bank", Status::Confirmed, 1, now - 400 * DAY)], now).level, Level::Danger);
        let cleared = aggregate(&[c("bank", Status::Cleared, 5, now)], now);
        assert_eq!((cleared.level, cleared.reports, cleared.affiliates), (Level::Safe, 0, 0));
        // Repeated reports by one affiliate grow the weight, but only up to ten.
        let many = aggregate(&[c("bank", Status::Reported, 1_000, now)], now);
        assert!((many.score - 10f64.sqrt()).abs() < 1e-9);
    }
}
