//! The yearly financial-safety report's figures, computed from the daily trend rollup the
//! store keeps (never from a scan of events), for every affiliate of the group together: the
//! year's decisions, warnings, holds and blocks and the won they stopped, month by month; the
//! typology mix against the year before; who was protected by age band; the channels (event
//! kinds); each affiliate's share; and the waves the spike detector finds in the year. Each
//! figure carries the rollup query it came from, for the report's appendix. Rendering is the
//! caller's (`ansim report yearly`).

pub use crate::trends::Totals;
use crate::trends::{civil, days_from_civil};
use std::collections::BTreeMap;
use store::Store;

/// The national figures the report sets the group's beside, from a cited data file
/// (`data/kr_fraud_national.toml`: the police's and the FSS's published voice-phishing
/// figures, each row with its source).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
pub struct National {
    /// The police's yearly figures.
    pub police: Vec<PoliceYear>,
    /// The FSS's yearly relief figures.
    pub fss: Vec<FssYear>,
}

/// One year of the police's voice-phishing figures.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PoliceYear {
    /// The year.
    pub year: i32,
    /// Cases.
    pub cases: i64,
    /// Damage, 억원.
    pub damage_eok: i64,
    /// Part of the year only (`January–October`), when the year was not over.
    pub partial: Option<String>,
    /// Where the figures were published.
    pub source: String,
}

/// One year of the FSS's relief figures.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FssYear {
    /// The year.
    pub year: i32,
    /// Damage reported for relief, 억원.
    pub damage_eok: i64,
    /// Victims.
    pub victims: i64,
    /// Refunded, 억원.
    pub refunded_eok: Option<i64>,
    /// Where the figures were published.
    pub source: String,
}

/// The cited national figures, built in.
pub fn national() -> National {
    match toml::from_str(include_str!("../data/kr_fraud_national.toml")) {
        Ok(n) => n,
        Err(e) => panic!("data/kr_fraud_national.toml: {e}"),
    }
}

/// Rapid intake and follow-up: the cases opened in the year (victims' reports and held or
/// blocked decisions) and how fast they were acted on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Intake {
    /// Cases opened.
    pub cases: i64,
    /// Cases opened per month, January first.
    pub per_month: Vec<i64>,
    /// Decided as fraud (their indicators confirmed for every affiliate).
    pub confirmed: i64,
    /// Closed by the time of the report.
    pub closed: i64,
    /// Won at risk across them.
    pub money_at_risk: i64,
    /// With a first action taken.
    pub acted: i64,
    /// First action by its deadline.
    pub sla_met: i64,
    /// Median minutes from opening to the first action (none acted: `None`).
    pub median_first_action_minutes: Option<i64>,
    /// Follow-up actions fanned out: the affiliates holding accounts or profiles, summed over
    /// cases.
    pub fanned_out: i64,
    /// Cases by typology, most first.
    pub typologies: Vec<(String, i64)>,
    /// Cases whose statutory relief started (payment suspension, or a mistaken transfer's
    /// return request).
    pub relief_started: i64,
    /// Fraud cases whose refunds were decided.
    pub refunds_decided: i64,
    /// Won their victims claimed.
    pub refund_claimed: i64,
    /// Won refunded to them (pro rata from the extinguished balances).
    pub refunded: i64,
    /// Cases whose refunds were paid out.
    pub refunds_paid: i64,
}

/// How many of the year's most matched rules the report lists.
pub const TOP_RULES: usize = 10;

/// How many of the year's campaigns by indicator the report lists.
pub const TOP_CLUSTERS: usize = 10;

/// One indicator's sightings over the year.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YearCluster {
    /// `account`, `phone`, `profile`, `device`, `domain` or `phrase`.
    pub kind: String,
    /// Keyed digest (hex) or text.
    pub value: String,
    /// First and last Korea-time day seen in the year.
    pub first_day: i64,
    /// Last day.
    pub last_day: i64,
    /// Protective decisions carrying it.
    pub decisions: i64,
    /// Reports naming it.
    pub reports: i64,
    /// Affiliates that saw it.
    pub affiliates: usize,
}

/// Everything the yearly report shows, with where each part came from.
#[derive(Debug, Clone, PartialEq)]
pub struct YearFigures {
    /// The year.
    pub year: i32,
    /// The year's totals.
    pub total: Totals,
    /// The year before's totals (zero when there is no data).
    pub previous: Totals,
    /// Per month, January first.
    pub months: Vec<Totals>,
    /// Warned, held or blocked decisions by typology this year and the year before (typology
    /// `""`: no typology), most this year first.
    pub typologies: Vec<(String, i64, i64)>,
    /// Warned, held or blocked decisions by the subject's age band (`""`: not given).
    pub age_bands: Vec<(String, Totals)>,
    /// By event kind (the channel a decision came through).
    pub kinds: Vec<(String, Totals)>,
    /// By affiliate.
    pub affiliates: Vec<(String, Totals)>,
    /// Waves found in the year, in time order.
    pub waves: Vec<crate::trends::TrendAlert>,
    /// The year's largest campaigns by indicator (a mule account, a phone, a link-domain
    /// family, a phrase), most sightings first, at most [`TOP_CLUSTERS`].
    pub clusters: Vec<YearCluster>,
    /// Cases and how fast they were acted on.
    pub intake: Intake,
    /// The rules that matched most decisions in the year: id, decisions, affiliates; at most
    /// [`TOP_RULES`], most first.
    pub rules: Vec<(String, i64, usize)>,
    /// The built-in detectors' models: name and what each was trained on and measured at
    /// (the model file's own description).
    pub models: Vec<(&'static str, String)>,
    /// Prevention campaigns that enrolled during the year, with their measured effect.
    pub campaigns: Vec<(crate::campaigns::Campaign, crate::campaigns::CampaignEffect)>,
    /// National figures of the years up to this one, with their sources.
    pub national: National,
    /// For each figure of the report, the rollup query behind it.
    pub sources: Vec<(&'static str, String)>,
}

/// The first Korea-time day of `year` and of the year after.
fn bounds(year: i32) -> (i64, i64) {
    (days_from_civil(i64::from(year), 1, 1), days_from_civil(i64::from(year) + 1, 1, 1))
}

/// Computes the report's figures for `year` from `store`'s rollup.
pub fn year_figures(store: &dyn Store, year: i32) -> Result<YearFigures, store::StoreError> {
    let (start, end) = bounds(year);
    let (prev_start, _) = bounds(year - 1);
    // The waves need eight weeks of history before the year's first day.
    let rows = store.trend_days(None, prev_start.min(start - 56), end - 1)?;
    let (mut total, mut previous) = (Totals::default(), Totals::default());
    let mut months = vec![Totals::default(); 12];
    let mut typologies: BTreeMap<String, (i64, i64)> = BTreeMap::new();
    let mut age_bands: BTreeMap<String, Totals> = BTreeMap::new();
    let mut kinds: BTreeMap<String, Totals> = BTreeMap::new();
    let mut affiliates: BTreeMap<String, Totals> = BTreeMap::new();
    let protective = |v: &str| matches!(v, "warn" | "hold" | "block");
    for r in &rows {
        let day = r.key.day;
        if (prev_start..start).contains(&day) {
            previous.add(r);
            if protective(&r.key.verdict) {
                typologies.entry(r.key.typology.clone()).or_default().1 += r.decisions;
            }
            continue;
        }
        if !(start..end).contains(&day) {
            continue;
        }
        total.add(r);
        months[(civil(day).1 - 1) as usize].add(r);
        kinds.entry(r.key.kind.clone()).or_default().add(r);
        affiliates.entry(r.affiliate.0.clone()).or_default().add(r);
        if protective(&r.key.verdict) {
            typologies.entry(r.key.typology.clone()).or_default().0 += r.decisions;
            age_bands.entry(r.key.age_band.clone()).or_default().add(r);
        }
    }
    // The year's waves, judged against the eight weeks before each day.
    let mut waves = crate::trends::waves(&rows, start - 56, end - 1, start);
    waves.sort_by(|a, b| a.first_day.cmp(&b.first_day).then(a.typology.cmp(&b.typology)));
    let mut typologies: Vec<(String, i64, i64)> = typologies.into_iter().map(|(t, (n, p))| (t, n, p)).collect();
    typologies.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    // Cases opened in the year (Korea time).
    let ms = |day: i64| day * 86_400_000 - 9 * 3_600_000;
    let cases = store.cases_opened(ms(start), ms(end))?;
    let mut intake = Intake { per_month: vec![0; 12], ..Intake::default() };
    let mut waits = Vec::new();
    let mut by_typology: BTreeMap<String, i64> = BTreeMap::new();
    for c in &cases {
        intake.cases += 1;
        intake.per_month[(civil(crate::trends::kst_day(c.opened_ms)).1 - 1) as usize] += 1;
        intake.confirmed += i64::from(c.outcome == Some(domain::CaseOutcome::ConfirmedFraud));
        intake.closed += i64::from(c.closed_ms.is_some());
        intake.money_at_risk = intake.money_at_risk.saturating_add(c.money_at_risk);
        intake.fanned_out += c.holding.len() as i64;
        if let Some(first) = c.first_action_ms {
            intake.acted += 1;
            intake.sla_met += i64::from(first <= c.sla_due_ms);
            waits.push((first - c.opened_ms).max(0) / 60_000);
        }
        *by_typology.entry(c.typology.clone().unwrap_or_default()).or_default() += 1;
        let body =
            crate::cases::CaseBody::parse(c.id, &c.body).map_err(|e| store::StoreError::Corrupt(e.to_string()))?;
        if let Some(relief) = &body.relief {
            intake.relief_started += 1;
            intake.refunds_paid += i64::from(relief.recorded().paid_ms.is_some());
            if let Some(refund) = relief.refund() {
                intake.refunds_decided += 1;
                for share in &refund.shares {
                    intake.refund_claimed = intake.refund_claimed.saturating_add(share.claimed_won);
                    intake.refunded = intake.refunded.saturating_add(share.refund_won);
                }
            }
        }
    }
    waits.sort_unstable();
    intake.median_first_action_minutes = waits.get(waits.len() / 2).copied();
    intake.typologies = by_typology.into_iter().collect();
    intake.typologies.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    // The year's most matched rules.
    let mut hits: BTreeMap<String, (i64, std::collections::BTreeSet<String>)> = BTreeMap::new();
    for r in store.rule_days(start, end - 1)? {
        let h = hits.entry(r.rule).or_default();
        h.0 += r.hits;
        h.1.insert(r.affiliate.0);
    }
    let mut rules: Vec<(String, i64, usize)> = hits.into_iter().map(|(r, (n, a))| (r, n, a.len())).collect();
    rules.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    rules.truncate(TOP_RULES);
    // The year's largest campaigns by indicator.
    let mut by: BTreeMap<(String, String), (YearCluster, std::collections::BTreeSet<String>)> = BTreeMap::new();
    for r in store.cluster_days(start, end - 1)? {
        let (c, affs) = by.entry((r.key.kind.clone(), r.key.value.clone())).or_insert_with(|| {
            let c = YearCluster {
                kind: r.key.kind.clone(),
                value: r.key.value.clone(),
                first_day: r.key.day,
                last_day: r.key.day,
                decisions: 0,
                reports: 0,
                affiliates: 0,
            };
            (c, Default::default())
        });
        c.first_day = c.first_day.min(r.key.day);
        c.last_day = c.last_day.max(r.key.day);
        c.decisions += r.decisions;
        c.reports += r.reports;
        affs.insert(r.affiliate.0);
    }
    let mut clusters: Vec<YearCluster> =
        by.into_values().map(|(c, affs)| YearCluster { affiliates: affs.len(), ..c }).collect();
    clusters.sort_by(|a, b| {
        (b.decisions + b.reports).cmp(&(a.decisions + a.reports)).then(a.kind.cmp(&b.kind)).then(a.value.cmp(&b.value))
    });
    clusters.truncate(TOP_CLUSTERS);
    // Campaigns whose enrolment overlapped the year.
    let mut campaigns = Vec::new();
    for c in crate::campaigns::stored(store)? {
        if c.starts_ms < ms(end) && c.enrolment_end() > ms(start) {
            let e = crate::campaigns::measure(store, &c)?;
            campaigns.push((c, e));
        }
    }
    let range = |from: i64, to: i64| format!("day BETWEEN {from} AND {to}");
    let this = range(start, end - 1);
    let sources = vec![
        ("total", format!("SELECT verdict, SUM(decisions), SUM(amount) FROM trend_day WHERE {this} GROUP BY verdict")),
        (
            "previous",
            format!(
                "SELECT verdict, SUM(decisions), SUM(amount) FROM trend_day WHERE {} GROUP BY verdict",
                range(prev_start, start - 1)
            ),
        ),
        (
            "months",
            format!(
                "SELECT month(day), verdict, SUM(decisions), SUM(amount) FROM trend_day WHERE {this} GROUP BY 1, 2"
            ),
        ),
        (
            "typologies",
            format!(
                "SELECT typology, SUM(decisions) FROM trend_day WHERE verdict IN ('warn', 'hold', 'block') AND ({this} OR {}) GROUP BY year(day), typology",
                range(prev_start, start - 1)
            ),
        ),
        (
            "age_bands",
            format!(
                "SELECT age_band, verdict, SUM(decisions), SUM(amount) FROM trend_day WHERE verdict IN ('warn', 'hold', 'block') AND {this} GROUP BY 1, 2"
            ),
        ),
        (
            "kinds",
            format!("SELECT kind, verdict, SUM(decisions), SUM(amount) FROM trend_day WHERE {this} GROUP BY 1, 2"),
        ),
        (
            "affiliates",
            format!("SELECT affiliate, verdict, SUM(decisions), SUM(amount) FROM trend_day WHERE {this} GROUP BY 1, 2"),
        ),
        (
            "intake",
            format!(
                "SELECT * FROM fraud_case WHERE opened_ms >= {} AND opened_ms < {} (relief and refunds: each case's body, relief.recorded and relief.refund.shares)",
                ms(start),
                ms(end)
            ),
        ),
        (
            "rules",
            format!(
                "SELECT rule, SUM(hits), COUNT(DISTINCT affiliate) FROM rule_day WHERE {this} GROUP BY 1 ORDER BY 2 DESC LIMIT {TOP_RULES}"
            ),
        ),
        (
            "models",
            "the description each built-in model file carries (crates/detect/models/*.bin; its training command in crates/detect/models/README.md)".into(),
        ),
        (
            "clusters",
            format!(
                "SELECT kind, value, MIN(day), MAX(day), SUM(decisions), SUM(reports), COUNT(DISTINCT affiliate) FROM cluster_day WHERE {this} GROUP BY 1, 2 ORDER BY SUM(decisions) + SUM(reports) DESC LIMIT {TOP_CLUSTERS}"
            ),
        ),
        (
            "campaigns",
            format!(
                "campaigns with starts_ms < {} and enrolment ending after {}; arms: SELECT affiliate, control, COUNT(*) FROM campaign_member WHERE campaign = :id GROUP BY 1, 2; outcomes up to the end of follow-up: {}",
                ms(end),
                ms(start),
                store::columns::campaign_outcomes(":id", ":outcome_end")
                    .split_whitespace()
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        ),
        (
            "waves",
            format!(
                "spike detection (crate app, module spikes, default parameters) on SELECT kind, typology, day, SUM(decisions) FROM trend_day WHERE typology <> '' AND {} GROUP BY 1, 2, 3",
                range(start - 56, end - 1)
            ),
        ),
    ];
    Ok(YearFigures {
        year,
        total,
        previous,
        months,
        typologies,
        age_bands: age_bands.into_iter().collect(),
        kinds: kinds.into_iter().collect(),
        affiliates: affiliates.into_iter().collect(),
        waves,
        rules,
        models: vec![
            ("messages", detect::text::builtin_ref().meta.clone()),
            ("urls", detect::links::builtin_ref().meta.clone()),
        ],
        clusters,
        intake,
        campaigns,
        national: {
            let n = national();
            National {
                police: n.police.into_iter().filter(|p| p.year <= year).collect(),
                fss: n.fss.into_iter().filter(|f| f.year <= year).collect(),
            }
        },
        sources,
    })
}

impl crate::App {
    /// The yearly report's figures for `year`, from this application's store.
    pub fn year_figures(&self, year: i32) -> Result<YearFigures, crate::AppError> {
        // The writer adds indicator sightings every few seconds: take the latest in.
        self.writer.flush();
        Ok(year_figures(&*self.store, year)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trends::parse_day;
    use domain::AffiliateId;
    use store::{TrendKey, Write};

    /// A stored case body, with a relief workflow or none.
    fn body(relief: Option<crate::relief::Relief>) -> String {
        serde_json::to_string(&crate::cases::CaseBody {
            version: crate::cases::CaseBody::VERSION,
            indicators: vec![],
            kinds: vec![],
            notes: vec![],
            relief,
        })
        .unwrap()
    }

    /// Commits `n` decisions of one cell at `affiliate`, each moving `amount` won.
    fn put(
        s: &dyn Store,
        affiliate: &str,
        day: &str,
        verdict: &str,
        typology: &str,
        age: &str,
        (n, amount): (usize, i64),
    ) {
        let key = TrendKey {
            day: parse_day(day).unwrap(),
            kind: if typology == "parcel_smishing" { "message" } else { "transfer" }.into(),
            verdict: verdict.into(),
            typology: typology.into(),
            age_band: age.into(),
            amount_band: String::new(),
        };
        let a = AffiliateId(affiliate.into());
        let writes: Vec<Write> = (0..n)
            .map(|i| Write {
                trend: Some((key.clone(), amount)),
                ..store::conformance::write(&a, &format!("{day}-{verdict}-{typology}-{age}-{i}"))
            })
            .collect();
        s.commit(&writes).unwrap();
    }

    /// A fixture year whose figures were worked out by hand.
    #[test]
    fn a_fixture_year_gives_the_figures_worked_out_by_hand() {
        let dir = tempfile::tempdir().unwrap();
        let s = store::sqlite::SqliteStore::open(&dir.path().join("s.db")).unwrap();
        // 2025 (the year before): 4 holds of impersonation, 10 allows.
        put(&s, "bank", "2025-06-01", "hold", "impersonation", "60s", (4, 1_000_000));
        put(&s, "bank", "2025-06-01", "allow", "", "30s", (10, 50_000));
        // 2026: January — 3 blocks of impersonation (60s) at the bank, 2 million won each;
        // 20 allows at pay. March — 5 warnings of parcel smishing (20s) at the messenger.
        // December 31 — 1 hold (70s), 7 million won.
        put(&s, "bank", "2026-01-15", "block", "impersonation", "60s", (3, 2_000_000));
        put(&s, "pay", "2026-01-20", "allow", "", "", (20, 10_000));
        put(&s, "messenger", "2026-03-03", "warn", "parcel_smishing", "20s", (5, 0));
        put(&s, "bank", "2026-12-31", "hold", "impersonation", "70s", (1, 7_000_000));
        // 2027 is outside the year.
        put(&s, "bank", "2027-01-01", "block", "impersonation", "60s", (9, 1));
        // Rules: "big" matched two decisions at the bank and one at pay, "small" one; one of
        // the year before.
        let ruled = |a: &str, id: &str, day: &str, rules: &[&str]| {
            let mut w = store::conformance::write(&AffiliateId(a.into()), id);
            w.record.at_ms = parse_day(day).unwrap() * 86_400_000;
            w.rules = rules.iter().map(|r| r.to_string()).collect();
            w
        };
        s.commit(&[
            ruled("bank", "h1", "2026-04-01", &["big"]),
            ruled("bank", "h2", "2026-04-02", &["big", "small"]),
            ruled("pay", "h3", "2026-04-02", &["big"]),
            ruled("pay", "h0", "2025-04-02", &["small"]),
        ])
        .unwrap();
        // Indicators: one mule account at two affiliates (and once the year before), one
        // link-domain family, and a report naming the account.
        let sighting = |day: &str, kind: &str, value: &str| store::ClusterKey {
            day: parse_day(day).unwrap(),
            kind: kind.into(),
            value: value.into(),
        };
        let seen = |a: &str, id: &str, keys: Vec<store::ClusterKey>| Write {
            clusters: keys,
            ..store::conformance::write(&AffiliateId(a.into()), id)
        };
        let writes = [
            seen("bank", "k0", vec![sighting("2025-12-31", "account", "ab")]),
            seen("bank", "k1", vec![sighting("2026-02-01", "account", "ab")]),
            seen(
                "pay",
                "k2",
                vec![sighting("2026-02-03", "account", "ab"), sighting("2026-02-03", "domain", "cj#.xyz")],
            ),
        ];
        let out = s.commit(&writes).unwrap();
        s.add_sightings(&store::cluster_deltas(&writes, &out)).unwrap();
        store::in_transaction(&s, |tx| {
            tx.count_reported(&AffiliateId("pay".into()), &[sighting("2026-02-04", "account", "ab")])
        })
        .unwrap();

        // Cases: one confirmed and acted on in 30 minutes (deadline 60), one not fraud acted on
        // in 90 (late), one still waiting; one of the year before.
        let at = |d: &str, hm: &str| domain::Timestamp::parse_rfc3339(&format!("{d}T{hm}:00+09:00")).unwrap().0;
        let case = |opened: i64,
                    first: Option<i64>,
                    outcome: Option<domain::CaseOutcome>,
                    holding: &[&str],
                    money: i64,
                    typology: Option<&str>| {
            store::CaseRow {
                id: 0,
                state: if outcome.is_some() { domain::CaseState::Closed } else { domain::CaseState::New },
                outcome,
                priority: 50,
                assignee: None,
                typology: typology.map(str::to_string),
                money_at_risk: money,
                reporting: vec!["public".into()],
                holding: holding.iter().map(|h| h.to_string()).collect(),
                linked_case: None,
                opened_ms: opened,
                updated_ms: opened,
                sla_due_ms: opened + 60 * 60_000,
                first_action_ms: first.map(|m| opened + m * 60_000),
                closed_ms: outcome.map(|_| opened + 3_600_000),
                body: body(None),
            }
        };
        // The confirmed case's relief: suspension in writing, the notice, extinguishment two
        // months on, and 3,000,000 won of the claimed 5,000,000 refunded and paid.
        let mut relief = crate::relief::Relief::fraud(at("2026-03-01", "10:30"), crate::relief::Channel::Writing);
        relief.record_notice(at("2026-03-02", "10:00")).unwrap();
        relief.record_extinguished(at("2026-05-06", "10:00")).unwrap();
        relief.record_refund_decision(at("2026-05-10", "10:00"), 3_000_000, &[("R1".into(), 5_000_000)]).unwrap();
        relief.record_payout(at("2026-05-11", "10:00")).unwrap();
        let confirmed = store::CaseRow {
            body: body(Some(relief)),
            ..case(
                at("2026-03-01", "10:00"),
                Some(30),
                Some(domain::CaseOutcome::ConfirmedFraud),
                &["bank", "messenger"],
                5_000_000,
                Some("impersonation"),
            )
        };
        for c in [
            confirmed,
            case(
                at("2026-03-15", "10:00"),
                Some(90),
                Some(domain::CaseOutcome::NotFraud),
                &[],
                1_000_000,
                Some("smishing"),
            ),
            case(at("2026-11-20", "10:00"), None, None, &[], 0, None),
            case(at("2025-12-31", "23:00"), Some(5), None, &[], 9, None),
        ] {
            store::in_transaction(&s, |tx| tx.insert_case(&c)).unwrap();
        }
        let f = year_figures(&s, 2026).unwrap();
        let mut per_month = vec![0; 12];
        per_month[2] = 2;
        per_month[10] = 1;
        assert_eq!(
            f.intake,
            Intake {
                cases: 3,
                per_month,
                confirmed: 1,
                closed: 2,
                money_at_risk: 6_000_000,
                acted: 2,
                sla_met: 1,
                median_first_action_minutes: Some(90),
                fanned_out: 2,
                typologies: vec![("".into(), 1), ("impersonation".into(), 1), ("smishing".into(), 1)],
                relief_started: 1,
                refunds_decided: 1,
                refund_claimed: 5_000_000,
                refunded: 3_000_000,
                refunds_paid: 1,
            }
        );
        let t = |decisions, warned, held, blocked, amount, stopped_amount| Totals {
            decisions,
            warned,
            held,
            blocked,
            amount,
            stopped_amount,
        };
        // 3 + 20 + 5 + 1 = 29 decisions; 6,000,000 + 200,000 + 0 + 7,000,000 won; stopped
        // 6,000,000 + 7,000,000.
        assert_eq!(f.total, t(29, 5, 1, 3, 13_200_000, 13_000_000));
        assert_eq!(f.previous, t(14, 0, 4, 0, 4_500_000, 4_000_000));
        assert_eq!(f.months[0], t(23, 0, 0, 3, 6_200_000, 6_000_000));
        assert_eq!(f.months[2], t(5, 5, 0, 0, 0, 0));
        assert_eq!(f.months[11], t(1, 0, 1, 0, 7_000_000, 7_000_000));
        assert_eq!(f.months.iter().map(|m| m.decisions).sum::<i64>(), 29);
        assert_eq!(
            f.typologies,
            vec![("parcel_smishing".to_string(), 5, 0), ("impersonation".to_string(), 4, 4)],
            "protective decisions by typology, this year and the year before"
        );
        assert_eq!(
            f.age_bands,
            vec![
                ("20s".to_string(), t(5, 5, 0, 0, 0, 0)),
                ("60s".to_string(), t(3, 0, 0, 3, 6_000_000, 6_000_000)),
                ("70s".to_string(), t(1, 0, 1, 0, 7_000_000, 7_000_000)),
            ]
        );
        assert_eq!(
            f.kinds.iter().map(|(k, v)| (k.as_str(), v.decisions)).collect::<Vec<_>>(),
            vec![("message", 5), ("transfer", 24)]
        );
        assert_eq!(
            f.affiliates.iter().map(|(a, v)| (a.as_str(), v.protected())).collect::<Vec<_>>(),
            vec![("bank", 4), ("messenger", 5), ("pay", 0)]
        );
        assert!(f.waves.is_empty(), "single days with no history make no wave: {:?}", f.waves);
        let cluster = |kind: &str, value: &str, first: &str, last: &str, decisions, reports, affiliates| YearCluster {
            kind: kind.into(),
            value: value.into(),
            first_day: parse_day(first).unwrap(),
            last_day: parse_day(last).unwrap(),
            decisions,
            reports,
            affiliates,
        };
        assert_eq!(
            f.clusters,
            vec![
                cluster("account", "ab", "2026-02-01", "2026-02-04", 2, 1, 2),
                cluster("domain", "cj#.xyz", "2026-02-03", "2026-02-03", 1, 0, 1),
            ]
        );
        assert_eq!(f.sources.len(), 13, "every figure names its query");
        assert_eq!(f.rules, vec![("big".to_string(), 3, 2), ("small".to_string(), 1, 1)]);
        assert!(f.models.iter().any(|(name, meta)| *name == "urls" && meta.contains("cv accuracy")), "{:?}", f.models);
    }

    /// Campaigns of the year with their arms and outcomes, worked out by hand.
    #[test]
    fn the_year_s_campaigns_come_with_the_effect_worked_out_by_hand() {
        let dir = tempfile::tempdir().unwrap();
        let s = store::sqlite::SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let at = |d: &str| domain::Timestamp::parse_rfc3339(&format!("{d}T00:00:00+09:00")).unwrap().0;
        let campaign = |id: &str, from: &str, to: &str| crate::campaigns::Campaign {
            version: 1,
            id: id.into(),
            name: format!("campaign {id}"),
            segment: "true".into(),
            affiliates: vec![AffiliateId("bank".into())],
            ko: crate::campaigns::Notice { title: "t".into(), body: "b".into() },
            en: crate::campaigns::Notice { title: "t".into(), body: "b".into() },
            starts_ms: at(from),
            ends_ms: at(to),
            holdout_per_mille: 500,
            follow_up_days: 30,
            created_by: "group/key:test".into(),
            stopped_ms: None,
        };
        // One in the spring, one of the year before (not listed), one spanning new year.
        let cs = [
            campaign("spring", "2026-03-01", "2026-04-01"),
            campaign("old", "2025-03-01", "2025-04-01"),
            campaign("newyear", "2025-12-15", "2026-01-15"),
        ];
        let bank = AffiliateId("bank".into());
        store::in_transaction(&s, |tx| {
            for c in &cs {
                let row = store::CampaignRow {
                    id: c.id.clone(),
                    body: serde_json::to_string(c).unwrap(),
                    created_ms: c.starts_ms,
                    updated_ms: c.starts_ms,
                };
                tx.insert_campaign(&row)?;
            }
            // Spring: 8 treated (t0..t7) and 4 controls (c0..c3), enrolled on March 2nd.
            for (prefix, n, control) in [("t", 8, false), ("c", 4, true)] {
                for i in 0..n {
                    tx.enroll(&store::MemberRow {
                        campaign: "spring".into(),
                        affiliate: bank.clone(),
                        subject: format!("{prefix}{i}"),
                        control,
                        enrolled_ms: at("2026-03-02"),
                    })?;
                }
            }
            let case = tx.insert_case(&store::CaseRow {
                id: 0,
                state: domain::CaseState::New,
                outcome: None,
                priority: 1,
                assignee: None,
                typology: None,
                money_at_risk: 0,
                reporting: vec![],
                holding: vec![],
                linked_case: None,
                opened_ms: at("2026-03-10"),
                updated_ms: at("2026-03-10"),
                sla_due_ms: at("2026-03-11"),
                first_action_ms: None,
                closed_ms: None,
                body: body(None),
            })?;
            // One treated user lost 1,000,000 won in two reports; two controls lost 3,000,000
            // each; a control's report after the follow-up (May 1st + 30 days) does not count.
            let report = |receipt: &str, subject: &str, day: &str, amount: i64| store::ReportRow {
                receipt: receipt.into(),
                secret_hash: [0; 32],
                source: "bank".into(),
                kind: "voice_phishing".into(),
                case_id: case,
                priority: 1,
                body: "{}".into(),
                created_ms: at(day),
                subject: Some(subject.into()),
                amount,
            };
            tx.insert_report(&report("r1", "t0", "2026-03-10", 400_000))?;
            tx.insert_report(&report("r2", "t0", "2026-03-20", 600_000))?;
            tx.insert_report(&report("r3", "c0", "2026-03-10", 3_000_000))?;
            tx.insert_report(&report("r4", "c1", "2026-04-20", 3_000_000))?;
            tx.insert_report(&report("r5", "c2", "2026-06-01", 3_000_000))
        })
        .unwrap();
        let f = year_figures(&s, 2026).unwrap();
        let ids: Vec<&str> = f.campaigns.iter().map(|(c, _)| c.id.as_str()).collect();
        assert_eq!(ids, ["newyear", "spring"]);
        let e = &f.campaigns[1].1;
        assert_eq!((e.treated.users, e.treated.reported, e.treated.won), (8, 1, 1_000_000));
        assert_eq!((e.control.users, e.control.reported, e.control.won), (4, 2, 6_000_000));
        // Reported users per 10,000: 1/8 = 1,250 against 2/4 = 5,000.
        let r = e.reports.unwrap();
        assert!((r.treated - 1_250.0).abs() < 1e-9 && (r.control - 5_000.0).abs() < 1e-9);
        assert!((r.difference + 3_750.0).abs() < 1e-9 && r.low < r.difference && r.high > r.difference);
        // Won per 10,000 users: 1,000,000/8·1e4 = 1.25e9 against 6,000,000/4·1e4 = 1.5e10.
        let l = e.losses.unwrap();
        assert!((l.treated - 1.25e9).abs() < 1.0 && (l.control - 1.5e10).abs() < 1.0);
        // Welch: treated per-user losses {1e6, 0 ×7}: variance (1e12 − 8·125,000²)/7/8;
        // control {3e6, 3e6, 0, 0}: (1.8e13 − 4·1.5e6²)/3/4.
        let se = ((1e12 - 8.0 * 125_000f64.powi(2)) / 7.0 / 8.0 + (1.8e13 - 4.0 * 1.5e6f64.powi(2)) / 3.0 / 4.0).sqrt();
        assert!((l.high - l.difference - 1.959_963_984_540_054 * se * 1e4).abs() < 1.0, "{l:?}");
        assert!(f.sources.iter().any(|(name, q)| *name == "campaigns" && q.contains("campaign_member")));
    }

    #[test]
    fn the_national_figures_are_cited() {
        let n = national();
        assert!(n.police.len() >= 4 && !n.fss.is_empty());
        assert!(
            n.police.iter().all(|p| p.source.starts_with("http")) && n.fss.iter().all(|f| f.source.starts_with("http"))
        );
        let y2024 = n.police.iter().find(|p| p.year == 2024).unwrap();
        assert_eq!((y2024.cases, y2024.damage_eok), (20_839, 8_545));
    }

    /// The first weeks of a store are no history: a series starting from nothing is not a wave.
    #[test]
    fn the_start_of_the_record_is_not_a_wave() {
        let dir = tempfile::tempdir().unwrap();
        let s = store::sqlite::SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let first = parse_day("2026-03-01").unwrap();
        for d in 0..60 {
            put(
                &s,
                "messenger",
                &crate::trends::day_text(first + d),
                "warn",
                "parcel_smishing",
                "",
                (30 + (d % 5) as usize, 0),
            );
        }
        assert_eq!(year_figures(&s, 2026).unwrap().waves, vec![]);
    }

    /// Waves are found in the year's daily series.
    #[test]
    fn a_wave_in_the_year_is_listed() {
        let dir = tempfile::tempdir().unwrap();
        let s = store::sqlite::SqliteStore::open(&dir.path().join("s.db")).unwrap();
        // From November of the year before, with four busy days in the middle of March 2026.
        let first = parse_day("2025-11-01").unwrap();
        for d in 0..240 {
            let day = crate::trends::day_text(first + d);
            let n = if (130..134).contains(&d) { 120 } else { 30 + (d % 5) as usize };
            put(&s, "messenger", &day, "warn", "parcel_smishing", "", (n, 0));
        }
        let f = year_figures(&s, 2026).unwrap();
        assert_eq!(f.waves.len(), 1, "{:?}", f.waves);
        assert_eq!(crate::trends::day_text(f.waves[0].first_day), crate::trends::day_text(first + 130));
        assert_eq!(f.waves[0].count, 480);
    }
}
