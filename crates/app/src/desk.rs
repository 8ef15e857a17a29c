//! The analyst's desk: what the console reads beside the API's use cases — the report inbox,
//! a case's follow-up actions and their deliveries, an indicator's contributions, and putting a
//! dead letter back in the delivery queue. Each is authorised like the API's calls.

use crate::access::{Action, authorize};
use crate::registry::{Aggregate, ContributionView};
use crate::{App, AppError, GROUP, Principal, now_ms};
use domain::AffiliateId;
use indicators::IndicatorKind;
use std::collections::HashMap;
use store::{ActionRow, AuditEntry, ReportRow};

/// An indicator as the lookup page shows it.
#[derive(Debug, Clone)]
pub struct IndicatorView {
    /// The shield now.
    pub aggregate: Aggregate,
    /// Contributions: every affiliate's for the group, the caller's own for an affiliate.
    pub contributions: Vec<ContributionView>,
}

impl App {
    /// The newest reports (the safety table's inbox), newest first.
    pub fn report_inbox(&self, p: &Principal, limit: usize) -> Result<Vec<ReportRow>, AppError> {
        authorize(p, Action::WorkCases)?;
        Ok(self.store.recent_reports(limit.min(500))?)
    }

    /// How many cases are open.
    pub fn open_case_count(&self, p: &Principal) -> Result<i64, AppError> {
        authorize(p, Action::WorkCases)?;
        Ok(self.store.open_case_count()?)
    }

    /// The follow-up actions a case queued, with their delivery state, by id.
    pub fn case_actions(&self, p: &Principal, case_id: i64) -> Result<Vec<ActionRow>, AppError> {
        authorize(p, Action::WorkCases)?;
        Ok(self.store.actions_with_prefix(&format!("act_{case_id}_"), 500)?)
    }

    /// An indicator's shield and the contributions the caller may see.
    pub fn indicator_view(&self, p: &Principal, kind: IndicatorKind, raw: &str) -> Result<IndicatorView, AppError> {
        authorize(p, Action::Report)
            .or_else(|_| authorize(p, Action::WorkCases))
            .or_else(|_| authorize(p, Action::ReadRules))?;
        let aggregate = self.shield(kind, raw)?;
        let mut contributions = self.registry.contributions(kind, raw)?;
        if p.affiliate.as_str() != GROUP {
            contributions.retain(|c| c.affiliate == p.affiliate);
        }
        Ok(IndicatorView { aggregate, contributions })
    }

    /// Puts a dead letter back in the delivery queue (the group's admins), in the audit log.
    pub fn redeliver(&self, p: &Principal, id: &str) -> Result<(), AppError> {
        authorize(p, Action::GroupAdmin)?;
        let now = now_ms();
        if !self.store.requeue_action(id, now)? {
            return Err(AppError::NotFound(format!("dead letter {id}")));
        }
        self.audit(p, "action.redelivered", serde_json::json!({ "action": id }).to_string())
    }
}

/// The console's dashboard: the caller's affiliate, or every affiliate for the group's people.
#[derive(Debug, Clone, Default)]
pub struct Dashboard {
    /// Today (Korea time) so far.
    pub today: crate::trends::Totals,
    /// The last [`Dashboard::DAYS`] days, oldest first: (day, totals).
    pub days: Vec<(i64, crate::trends::Totals)>,
    /// Rules that matched most over those days: (rule, hits), most first.
    pub top_rules: Vec<(String, i64)>,
    /// Overdue case work (the group's case workers only).
    pub alerts: Vec<crate::cases::Alert>,
    /// Open cases (the group's case workers only).
    pub open_cases: usize,
    /// Waves in the trends over the last week.
    pub waves: Vec<crate::trends::TrendAlert>,
    /// Dead letters (the group's admins only).
    pub dead_letters: usize,
}

/// Overdue cases the dashboard reads (it shows "1,000+" past that).
pub const DASHBOARD_ATTENTION: usize = 1_000;

impl Dashboard {
    /// Days the dashboard looks back over.
    pub const DAYS: i64 = 14;
}

/// Day-judged results (waves, emerging indicators) per scope and day, each kept for a
/// minute: they change with whole days, and every console page view would otherwise read two
/// months of rollup.
#[derive(Default)]
pub(crate) struct DayJudged {
    waves: Kept<Vec<crate::trends::TrendAlert>>,
    clusters: Kept<Vec<crate::clusters::ClusterAlert>>,
}

/// Results by (scope: an affiliate or the group, Korea-time day), with when each was computed.
type Kept<V> = std::sync::Mutex<HashMap<(Option<AffiliateId>, i64), (i64, V)>>;

/// How long a day-judged result is reused, ms.
const DAY_JUDGED_MS: i64 = 60_000;

fn cached<V: Clone>(
    map: &Kept<V>,
    key: (Option<AffiliateId>, i64),
    now: i64,
    compute: impl FnOnce() -> Result<V, AppError>,
) -> Result<V, AppError> {
    if let Some((at, v)) = map.lock().unwrap_or_else(|p| p.into_inner()).get(&key)
        && now - at < DAY_JUDGED_MS
    {
        return Ok(v.clone());
    }
    let v = compute()?;
    let mut m = map.lock().unwrap_or_else(|p| p.into_inner());
    m.retain(|_, (at, _)| now - *at < DAY_JUDGED_MS);
    m.insert(key, (now, v.clone()));
    Ok(v)
}

impl App {
    /// Decisions per Korea-time day over the last [`Dashboard::DAYS`] days up to `now`,
    /// oldest first: the caller's affiliate, or every affiliate for the group's people.
    pub fn daily(&self, p: &Principal, now: i64) -> Result<Vec<(i64, crate::trends::Totals)>, AppError> {
        authorize(p, Action::ReadRules).or_else(|_| authorize(p, Action::WorkCases))?;
        let group = p.affiliate.as_str() == GROUP;
        let to = crate::trends::kst_day(now);
        let from = to - Dashboard::DAYS + 1;
        let mut by_day: std::collections::BTreeMap<i64, crate::trends::Totals> =
            (from..=to).map(|x| (x, Default::default())).collect();
        for r in self.store.trend_days(if group { None } else { Some(&p.affiliate) }, from, to)? {
            by_day.entry(r.key.day).or_default().add(&r);
        }
        Ok(by_day.into_iter().collect())
    }

    /// Emerging indicators of the last week for the console, reused for a minute (see
    /// [`App::cluster_alerts`]).
    pub fn recent_clusters(&self, p: &Principal, now: i64) -> Result<Vec<crate::clusters::ClusterAlert>, AppError> {
        authorize(p, Action::ReadRules).or_else(|_| authorize(p, Action::WorkCases))?;
        let group = p.affiliate.as_str() == GROUP;
        let day = crate::trends::kst_day(now);
        // The group's people read as its administrators do: every affiliate's indicators.
        let reader = if group { Principal { scopes: vec![store::Scope::Admin], ..p.clone() } } else { p.clone() };
        let scope = (!group).then(|| p.affiliate.clone());
        cached(&self.day_judged.clusters, (scope, day), now, || self.cluster_alerts(&reader, day, 7))
    }

    /// The dashboard at `now`.
    pub fn dashboard(&self, p: &Principal, now: i64) -> Result<Dashboard, AppError> {
        authorize(p, Action::ReadRules).or_else(|_| authorize(p, Action::WorkCases))?;
        let group = p.affiliate.as_str() == GROUP;
        let to = crate::trends::kst_day(now);
        let from = to - Dashboard::DAYS + 1;
        let mut d = Dashboard { days: self.daily(p, now)?, ..Dashboard::default() };
        d.today = d.days.last().map(|x| x.1).unwrap_or_default();
        let mut rules: std::collections::HashMap<String, i64> = Default::default();
        for r in self.store.rule_days(from, to)? {
            if group || r.affiliate == p.affiliate {
                *rules.entry(r.rule).or_default() += r.hits;
            }
        }
        d.top_rules = rules.into_iter().collect();
        d.top_rules.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        d.top_rules.truncate(10);
        if authorize(p, Action::WorkCases).is_ok() {
            d.alerts = self.attention(p, now, DASHBOARD_ATTENTION)?.0;
            d.open_cases = self.store.open_case_count()? as usize;
        }
        let scope = (!group).then(|| p.affiliate.clone());
        d.waves = cached(&self.day_judged.waves, (scope.clone(), to), now, || self.alerts_in(scope.as_ref(), to, 7))?;
        if authorize(p, Action::GroupAdmin).is_ok() {
            d.dead_letters = self.store.dead_action_count()? as usize;
        }
        Ok(d)
    }
}

impl App {
    /// Appends one entry to the audit log under the caller (what the console does beyond the
    /// use cases that audit themselves: rulesets, indicator status, keys).
    pub fn audit(&self, p: &Principal, action: &str, detail: String) -> Result<(), AppError> {
        self.audit_as(&p.actor(), action, detail)
    }

    /// Appends one entry to the audit log under `actor` (`public`, `operator/cli`, a person).
    pub(crate) fn audit_as(&self, actor: &str, action: &str, detail: String) -> Result<(), AppError> {
        let entry =
            AuditEntry { at_ms: now_ms(), actor: actor.to_string(), case_id: None, action: action.into(), detail };
        self.unit_of_work(|tx| Ok(tx.append_audit(std::slice::from_ref(&entry))?))
    }
}
