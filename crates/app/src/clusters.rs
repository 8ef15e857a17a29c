//! Emerging campaigns by indicator: one mule account collecting from many victims, one phone
//! number behind many calls, a family of look-alike delivery domains, one phrase in many texts.
//!
//! Each protective decision (warn, hold or block — or a message the analysis flags) counts its
//! indicators in the daily indicator rollup once committed (the writer adds them every few
//! seconds): the counterparty's account, phone
//! and profile and the device, as keyed digests under the group key (never raw personal data),
//! and a message's link domains by family (digits folded, so `cj-delivery12.xyz` and
//! `cj-delivery7.xyz` are one family) and its strongest typology phrase, as text. A person's
//! report counts the indicators it names the same way. An indicator is an emerging campaign
//! when it was seen at least [`MIN_COUNT`] times in the last days and far more than in the four
//! weeks before: an alert with the counts, first and last day, and the affiliates that saw it.

use crate::registry::Registry;
use crate::{App, AppError, GROUP, Principal};
use domain::{Decision, Event, Verdict};
use indicators::IndicatorKind;
use std::collections::BTreeMap;
use store::ClusterKey;

/// Sightings (decisions and reports) in the window from which an indicator can be an alert.
pub const MIN_COUNT: i64 = 5;

/// How many times the rate of the four weeks before the window must be exceeded.
pub const SURGE: f64 = 3.0;

/// Days of history an alert is judged against.
const BASELINE_DAYS: i64 = 28;

/// A link domain's family: its registrable domain with every run of digits folded to `#`.
pub fn family(domain: &str) -> String {
    let mut out = String::with_capacity(domain.len());
    let mut in_digits = false;
    for c in domain.chars() {
        if c.is_ascii_digit() {
            if !in_digits {
                out.push('#');
            }
            in_digits = true;
        } else {
            out.push(c);
            in_digits = false;
        }
    }
    out
}

/// The indicators a decision counts in the rollup: none unless it protected someone (warned,
/// held, blocked) or flagged a message.
pub(crate) fn of_decision(event: &Event, decision: &Decision, registry: &Registry) -> Vec<ClusterKey> {
    let flagged = event.analysis.as_ref().is_some_and(|a| a.risk >= detect::RISK_THRESHOLD);
    if decision.verdict < Verdict::Warn && !flagged {
        return Vec::new();
    }
    let day = crate::trends::kst_day(event.at.millis());
    let mut out = Vec::new();
    let mut digest = |kind: IndicatorKind, raw: &str| {
        if let Ok(d) = registry.digest(kind, raw) {
            out.push(ClusterKey { day, kind: kind.as_str().into(), value: crate::hex(&d) });
        }
    };
    if let Some(cp) = event.counterparty() {
        if let Some(a) = &cp.account_key {
            digest(IndicatorKind::Account, a);
        }
        if let Some(p) = &cp.phone {
            digest(IndicatorKind::Phone, p);
        }
        if let Some(p) = &cp.profile {
            digest(IndicatorKind::Profile, p);
        }
    }
    if let Some(d) = &event.device {
        digest(IndicatorKind::Device, &d.id);
    }
    if let Some(a) = &event.analysis {
        for l in &a.links {
            if let Some(d) = &l.domain {
                let f = family(d);
                if !out.iter().any(|k| k.kind == "domain" && k.value == f) {
                    out.push(ClusterKey { day, kind: "domain".into(), value: f });
                }
            }
        }
        if let Some(p) = a.phrases.first() {
            out.push(ClusterKey { day, kind: "phrase".into(), value: p.clone() });
        }
    }
    out
}

/// The indicators a person's report names, on the day it was filed: digests, and a link's or
/// domain's family.
pub(crate) fn of_report(indicators: &[(IndicatorKind, String)], digests: &[[u8; 32]], day: i64) -> Vec<ClusterKey> {
    indicators
        .iter()
        .zip(digests)
        .map(|((kind, value), d)| match kind {
            IndicatorKind::Url | IndicatorKind::Domain => {
                let domain = indicators::normalise(IndicatorKind::Domain, value)
                    .map(|i| i.value().to_string())
                    .unwrap_or_else(|_| value.clone());
                ClusterKey { day, kind: "domain".into(), value: family(&domain) }
            }
            k => ClusterKey { day, kind: k.as_str().into(), value: crate::hex(d) },
        })
        .collect()
}

/// One emerging campaign: an indicator seen far more in the last days than before.
#[derive(Debug, Clone, PartialEq)]
pub struct ClusterAlert {
    /// `account`, `phone`, `profile`, `device`, `domain` or `phrase`.
    pub kind: String,
    /// The digest (hex) of an account, phone, profile or device; the family or phrase text.
    pub value: String,
    /// First day seen in the window and the four weeks before (Korea time, days since 1970).
    pub first_day: i64,
    /// Last day seen.
    pub last_day: i64,
    /// Protective decisions in the window.
    pub decisions: i64,
    /// Reports in the window.
    pub reports: i64,
    /// Sightings in the four weeks before the window.
    pub before: i64,
    /// Sightings per affiliate in the window, most first.
    pub affiliates: Vec<(String, i64)>,
}

/// The emerging campaigns among `rows` in the `days` days up to `to_day`, judged against the
/// [`BASELINE_DAYS`] before them; most sightings first.
pub fn alerts(rows: &[store::ClusterRow], to_day: i64, days: i64) -> Vec<ClusterAlert> {
    let from = to_day - days + 1;
    struct Acc {
        first: i64,
        last: i64,
        decisions: i64,
        reports: i64,
        before: i64,
        affiliates: BTreeMap<String, i64>,
    }
    let mut by: BTreeMap<(&str, &str), Acc> = BTreeMap::new();
    for r in rows {
        if r.key.day > to_day || r.key.day < from - BASELINE_DAYS {
            continue;
        }
        let a = by.entry((r.key.kind.as_str(), r.key.value.as_str())).or_insert(Acc {
            first: r.key.day,
            last: r.key.day,
            decisions: 0,
            reports: 0,
            before: 0,
            affiliates: BTreeMap::new(),
        });
        a.first = a.first.min(r.key.day);
        a.last = a.last.max(r.key.day);
        if r.key.day >= from {
            a.decisions += r.decisions;
            a.reports += r.reports;
            *a.affiliates.entry(r.affiliate.0.clone()).or_default() += r.decisions + r.reports;
        } else {
            a.before += r.decisions + r.reports;
        }
    }
    let mut out: Vec<ClusterAlert> = by
        .into_iter()
        .filter(|(_, a)| {
            let now = a.decisions + a.reports;
            let expected = a.before as f64 * days as f64 / BASELINE_DAYS as f64;
            now >= MIN_COUNT && now as f64 >= SURGE * expected + MIN_COUNT as f64 && a.last >= from
        })
        .map(|((kind, value), a)| {
            let mut affiliates: Vec<(String, i64)> = a.affiliates.into_iter().collect();
            affiliates.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
            ClusterAlert {
                kind: kind.to_string(),
                value: value.to_string(),
                first_day: a.first,
                last_day: a.last,
                decisions: a.decisions,
                reports: a.reports,
                before: a.before,
                affiliates,
            }
        })
        .collect();
    out.sort_by(|a, b| {
        (b.decisions + b.reports).cmp(&(a.decisions + a.reports)).then(a.kind.cmp(&b.kind)).then(a.value.cmp(&b.value))
    });
    out
}

impl App {
    /// Queues a `trend.cluster` action for every affiliate with a webhook, for each emerging
    /// campaign by indicator seen yesterday or today (Korea time): its kind, digest or text,
    /// first and last day and totals — which affiliates saw it is the group's to read. One
    /// action id per cluster and affiliate, so running it again adds nothing; with several
    /// nodes the one leading `trends` does it. Returns the actions queued or already queued.
    pub fn announce_clusters(&self, now_ms: i64) -> Result<usize, AppError> {
        if !self.store.lead("trends")? {
            return Ok(0);
        }
        let today = crate::trends::kst_day(now_ms);
        self.writer.flush();
        let rows = self.store.cluster_days(today - 7 + 1 - BASELINE_DAYS, today)?;
        let clusters: Vec<ClusterAlert> =
            alerts(&rows, today, 7).into_iter().filter(|c| c.last_day >= today - 1).collect();
        if clusters.is_empty() {
            return Ok(0);
        }
        let subscribers = self.subscribers()?;
        let mut actions = Vec::new();
        for c in &clusters {
            let payload = serde_json::json!({
                "kind": c.kind,
                "value": c.value,
                "first_seen": crate::trends::day_text(c.first_day),
                "last_seen": crate::trends::day_text(c.last_day),
                "decisions": c.decisions,
                "reports": c.reports,
                "affiliates": c.affiliates.len(),
            })
            .to_string();
            for a in &subscribers {
                let tag =
                    xxhash_rust::xxh3::xxh3_64(format!("{a}\0{}\0{}\0{}", c.kind, c.value, c.first_day).as_bytes());
                actions.push(store::ActionRow::queued(
                    format!("act_cluster_{tag:016x}"),
                    a.clone(),
                    "trend.cluster",
                    payload.clone(),
                    now_ms,
                ));
            }
        }
        store::in_transaction(&*self.store, |tx| tx.queue_actions(&actions))?;
        Ok(actions.len())
    }

    /// Emerging campaigns by indicator in the `days` days up to `to_day`: an affiliate's keys
    /// see what its own decisions and reports show; the group's administrators every
    /// affiliate's, with which affiliates saw each.
    pub fn cluster_alerts(&self, p: &Principal, to_day: i64, days: i64) -> Result<Vec<ClusterAlert>, AppError> {
        crate::access::authorize(p, crate::access::Action::ReadRules)?;
        let group = p.affiliate.as_str() == GROUP && p.scopes.contains(&crate::Scope::Admin);
        let days = days.clamp(1, 31);
        // The writer adds sightings every few seconds: take the latest in.
        self.writer.flush();
        let mut rows = self.store.cluster_days(to_day - days + 1 - BASELINE_DAYS, to_day)?;
        if !group {
            rows.retain(|r| r.affiliate == p.affiliate);
        }
        Ok(alerts(&rows, to_day, days))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::AffiliateId;

    #[test]
    fn families_fold_digits() {
        assert_eq!(family("cj-delivery12.xyz"), "cj-delivery#.xyz");
        assert_eq!(family("cj-delivery7.xyz"), "cj-delivery#.xyz");
        assert_eq!(family("kakao.com"), "kakao.com");
        assert_eq!(family("a1b22c.top"), "a#b#c.top");
    }

    fn row(day: i64, kind: &str, value: &str, affiliate: &str, decisions: i64, reports: i64) -> store::ClusterRow {
        store::ClusterRow {
            affiliate: AffiliateId(affiliate.into()),
            key: ClusterKey { day, kind: kind.into(), value: value.into() },
            decisions,
            reports,
        }
    }

    #[test]
    fn a_new_indicator_seen_often_is_an_alert_and_a_steady_one_is_not() {
        let to = 1_000;
        let mut rows = vec![
            // A mule account new this week: 4 decisions at pay, 3 at bank, 2 reports.
            row(to - 2, "account", "mule", "pay", 4, 0),
            row(to - 1, "account", "mule", "bank", 3, 2),
            // Four sightings only: below the floor.
            row(to, "phone", "quiet", "pay", 4, 0),
            // A domain family seen at a steady 7 a week for five weeks: no surge.
            row(to, "domain", "steady#.xyz", "messenger", 7, 0),
        ];
        for w in 1..=4 {
            rows.push(row(to - 7 * w, "domain", "steady#.xyz", "messenger", 7, 0));
        }
        // Seen before the window only.
        rows.push(row(to - 20, "account", "old", "pay", 50, 0));
        let got = alerts(&rows, to, 7);
        assert_eq!(got.len(), 1, "{got:?}");
        let a = &got[0];
        assert_eq!((a.kind.as_str(), a.value.as_str()), ("account", "mule"));
        assert_eq!((a.first_day, a.last_day, a.decisions, a.reports, a.before), (to - 2, to - 1, 7, 2, 0));
        assert_eq!(a.affiliates, vec![("bank".to_string(), 5), ("pay".to_string(), 4)]);
        // The steady family surges when its week triples and more.
        rows.push(row(to, "domain", "steady#.xyz", "messenger", 20, 0));
        let got = alerts(&rows, to, 7);
        assert!(got.iter().any(|a| a.value == "steady#.xyz" && a.before == 28 && a.decisions == 27), "{got:?}");
    }
}
