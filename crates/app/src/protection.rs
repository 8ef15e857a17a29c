//! Self-protection a user turns on at an affiliate, enforced on every decision whatever the
//! ruleset says: delayed transfer (large transfers to new payees are held for hours and can be
//! cancelled), designated accounts only (other payees capped per day) and a loan lock.
//!
//! Tightening takes effect at once; loosening (a higher threshold, a shorter delay, another
//! payee, a lifted lock) waits out a cooling-off period, so a fraudster holding the victim's
//! phone cannot switch protection off and drain the account in the same minute.
//!
//! A payee is *new* until the subject's first transfer to it that was not blocked is
//! [`NEW_PAYEE_MS`] old: splitting a drain into a small "opening" transfer and a large one
//! does not make the payee known. Payee history covers every subject (so protection turned on
//! today knows last month's payees), lives in the tenant's feature snapshot and is rebuilt by
//! replay like the features are.

use domain::{Counterparty, Decision, Event, EventBody, Krw, MatchedRule, Timestamp, Verdict};
use serde::{Deserialize, Serialize};
use signals::digest_map::{DigestMap, ShardRef};
use std::collections::HashMap;
use std::sync::Arc;
use xxhash_rust::xxh3::xxh3_64;

/// How long a payee stays new after the first transfer to it.
pub const NEW_PAYEE_MS: i64 = 72 * 3_600_000;
/// A payee unused this long is forgotten (and is new again).
const FORGET_MS: i64 = 400 * 86_400_000;
/// Sweep forgotten payees after this many new entries.
const SWEEP_EVERY: u64 = 65_536;
/// Most designated accounts per subject.
pub const MAX_DESIGNATED: usize = 20;
/// Longest delay a user may choose, hours.
pub const MAX_DELAY_HOURS: u32 = 72;

/// Delayed transfer: transfers of `threshold` won or more to a new payee are held `hours`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DelayedTransfer {
    /// Smallest amount that is delayed, won.
    pub threshold: Krw,
    /// How long it is held, hours (1 to 72).
    pub hours: u32,
}

/// Designated accounts only: transfers to other accounts total at most `daily_cap` per KST day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DesignatedAccounts {
    /// The accounts, each `{"bank": "088", "account": "110-123-456789"}`; stored normalised.
    pub accounts: Vec<Account>,
    /// Won per day that may go to any other account (0 = none).
    pub daily_cap: Krw,
}

/// A bank account as the user designates it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Account {
    /// Three-digit bank code.
    pub bank: String,
    /// Account number; hyphens and spaces are removed when saved.
    pub account: String,
}

impl DesignatedAccounts {
    /// Whether the account key `bank:digits` is one of them (no allocation: it runs on every
    /// transfer of a subject who designated accounts).
    fn holds(&self, key: &str) -> bool {
        key.split_once(':')
            .is_some_and(|(bank, account)| self.accounts.iter().any(|a| a.bank == bank && a.account == account))
    }
}

/// What a user asked for. Absent parts are off.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    /// Delayed transfer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delayed_transfer: Option<DelayedTransfer>,
    /// Designated accounts only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub designated_accounts: Option<DesignatedAccounts>,
    /// Loan applications are blocked.
    #[serde(default)]
    pub loan_lock: bool,
}

/// A loosening that waits for its cooling-off period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pending {
    /// The settings that will apply.
    pub settings: Settings,
    /// From when (event time), ms.
    pub effective_ms: i64,
}

/// A subject's protection: what applies now and what will apply after the cooling-off.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct Protection {
    /// Settings in force.
    pub active: Settings,
    /// A loosening not yet in force.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pending: Option<Pending>,
    /// Last change, ms (0 when never set).
    pub updated_ms: i64,
}

/// Bad settings: `field` is the JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SettingsError {
    /// JSON path of the bad value.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl Settings {
    /// Checks ranges and normalises designated accounts (digits only, sorted, no repeats).
    pub fn validated(mut self) -> Result<Settings, SettingsError> {
        let err = |field: &str, message: String| SettingsError { field: field.into(), message };
        if let Some(d) = &self.delayed_transfer {
            if !(1..=domain::MAX_KRW).contains(&d.threshold.won()) {
                return Err(err(
                    "delayed_transfer.threshold",
                    format!("must be 1 to {} won, got {}", domain::MAX_KRW, d.threshold.0),
                ));
            }
            if !(1..=MAX_DELAY_HOURS).contains(&d.hours) {
                return Err(err("delayed_transfer.hours", format!("must be 1 to {MAX_DELAY_HOURS}, got {}", d.hours)));
            }
        }
        if let Some(d) = &mut self.designated_accounts {
            if !(0..=domain::MAX_KRW).contains(&d.daily_cap.won()) {
                return Err(err(
                    "designated_accounts.daily_cap",
                    format!("must be 0 to {} won, got {}", domain::MAX_KRW, d.daily_cap.0),
                ));
            }
            if d.accounts.is_empty() || d.accounts.len() > MAX_DESIGNATED {
                return Err(err(
                    "designated_accounts.accounts",
                    format!("must list 1 to {MAX_DESIGNATED} accounts, got {}", d.accounts.len()),
                ));
            }
            for (i, a) in d.accounts.iter_mut().enumerate() {
                let n = indicators::normalise_account(&a.bank, &a.account)
                    .map_err(|e| err(&format!("designated_accounts.accounts[{i}]"), e.message))?;
                let (bank, digits) = n.value().split_once(':').unwrap_or(("", n.value()));
                *a = Account { bank: bank.to_string(), account: digits.to_string() };
            }
            d.accounts.sort();
            d.accounts.dedup();
        }
        Ok(self)
    }

    fn delay_no_looser(old: &Option<DelayedTransfer>, new: &Option<DelayedTransfer>) -> bool {
        match (old, new) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(o), Some(n)) => n.threshold <= o.threshold && n.hours >= o.hours,
        }
    }

    fn designated_no_looser(old: &Option<DesignatedAccounts>, new: &Option<DesignatedAccounts>) -> bool {
        match (old, new) {
            (None, _) => true,
            (Some(_), None) => false,
            (Some(o), Some(n)) => n.daily_cap <= o.daily_cap && n.accounts.iter().all(|a| o.accounts.contains(a)),
        }
    }
}

impl Protection {
    /// The settings in force at `at_ms` (event time).
    pub fn effective(&self, at_ms: i64) -> &Settings {
        match &self.pending {
            Some(p) if p.effective_ms <= at_ms => &p.settings,
            _ => &self.active,
        }
    }

    /// The protection after the user asks for `new` at `now_ms`: each part that is at least as
    /// strict applies at once; if any part is looser, all of `new` applies after `cooling_off_ms`.
    /// Asking again for what is in force drops a pending loosening.
    pub fn change(&self, new: Settings, now_ms: i64, cooling_off_ms: i64) -> Protection {
        let base = self.effective(now_ms).clone();
        let active = Settings {
            delayed_transfer: if Settings::delay_no_looser(&base.delayed_transfer, &new.delayed_transfer) {
                new.delayed_transfer.clone()
            } else {
                base.delayed_transfer.clone()
            },
            designated_accounts: if Settings::designated_no_looser(&base.designated_accounts, &new.designated_accounts)
            {
                new.designated_accounts.clone()
            } else {
                base.designated_accounts.clone()
            },
            loan_lock: new.loan_lock || base.loan_lock,
        };
        let pending = (active != new).then(|| Pending { settings: new, effective_ms: now_ms + cooling_off_ms });
        Protection { active, pending, updated_ms: now_ms }
    }
}

/// The key a payee is remembered by: the account, else the phone, else the messenger profile.
fn payee_key(c: &Counterparty) -> Option<String> {
    if let Some(k) = &c.account_key {
        Some(k.clone())
    } else if let Some(p) = &c.phone {
        Some(format!("phone:{p}"))
    } else {
        c.profile.as_ref().map(|p| format!("profile:{p}"))
    }
}

fn pair(subject: &str, payee: &str) -> u64 {
    crate::xxh3_pair(subject, payee)
}

fn kst_day(ms: i64) -> i64 {
    (ms + 9 * 3_600_000).div_euclid(86_400_000)
}

/// What protection remembers from past transfers; part of the tenant snapshot.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub(crate) struct History {
    /// `(subject, payee)` digest → (first, last) transfer time, ms.
    payees: DigestMap<(i64, i64)>,
    /// Subject digest → (KST day, won sent that day to non-designated accounts).
    spent: DigestMap<(i64, i64)>,
    added: u64,
}

/// What a decision needs to know of a subject's past transfers: kept here (one process) or in
/// the store the nodes share ([`SharedSeen`]).
pub(crate) trait PastTransfers {
    /// Whether the payee was first paid less than [`NEW_PAYEE_MS`] before `at_ms` (or never).
    fn is_new_payee(&self, subject: &str, payee: Option<&str>, at_ms: i64) -> bool;
    /// Won sent on `at_ms`'s Korea-time day to undesignated accounts.
    fn spent_on(&self, subject: &str, at_ms: i64) -> i64;
}

impl PastTransfers for History {
    fn is_new_payee(&self, subject: &str, payee: Option<&str>, at_ms: i64) -> bool {
        History::is_new_payee(self, subject, payee, at_ms)
    }
    fn spent_on(&self, subject: &str, at_ms: i64) -> i64 {
        History::spent_on(self, subject, at_ms)
    }
}

/// One transfer's past as the shared store answered it (for this subject and payee only).
pub(crate) struct SharedSeen(pub(crate) signals_redis::Seen);

impl PastTransfers for SharedSeen {
    fn is_new_payee(&self, _: &str, payee: Option<&str>, at_ms: i64) -> bool {
        payee.is_none() || self.0.first_ms.is_none_or(|first| at_ms - first < NEW_PAYEE_MS)
    }
    fn spent_on(&self, _: &str, _: i64) -> i64 {
        self.0.spent
    }
}

impl History {
    fn is_new_payee(&self, subject: &str, payee: Option<&str>, at_ms: i64) -> bool {
        match payee.and_then(|p| self.payees.get(&pair(subject, p))) {
            Some(&(first, _)) => at_ms - first < NEW_PAYEE_MS,
            None => true,
        }
    }

    fn spent_on(&self, subject: &str, at_ms: i64) -> i64 {
        match self.spent.get(&xxh3_64(subject.as_bytes())) {
            Some(&(day, sum)) if day == kst_day(at_ms) => sum,
            _ => 0,
        }
    }

    /// A copy holding only the subjects' and pairs' digests `keep` accepts (one part of a
    /// snapshot taken in parts).
    pub(crate) fn part(&self, keep: impl Fn(u64) -> bool) -> History {
        History { payees: self.payees.filter(&keep), spent: self.spent.filter(&keep), added: 0 }
    }

    /// A copy of shard `i` alone ([`signals::digest_map::shard_of`]), visiting only its entries:
    /// what a part serialised in place is held equal to.
    #[cfg(test)]
    pub(crate) fn shard(&self, i: usize) -> History {
        History { payees: self.payees.shard(i), spent: self.spent.shard(i), added: 0 }
    }

    /// Shard `i`, to serialise as [`History::shard`]`(i)` is, byte for byte, without copying it.
    pub(crate) fn shard_ref(&self, i: usize) -> impl Serialize + '_ {
        #[derive(Serialize)]
        #[serde(rename = "History")]
        struct Shard<'a> {
            payees: ShardRef<'a, (i64, i64)>,
            spent: ShardRef<'a, (i64, i64)>,
            added: u64,
        }
        Shard { payees: self.payees.shard_ref(i), spent: self.spent.shard_ref(i), added: 0 }
    }

    /// Adds the entries of another part.
    pub(crate) fn merge(&mut self, other: History) {
        self.payees.extend(other.payees);
        self.spent.extend(other.spent);
    }

    /// Forgets the payee a cancelled transfer introduced (if that transfer was the first).
    fn cancel(&mut self, e: &Event) {
        if let EventBody::Transfer(t) = &e.body
            && let Some(p) = payee_key(&t.counterparty)
        {
            let k = pair(e.subject.id.as_str(), &p);
            if self.payees.get(&k).is_some_and(|&(first, _)| first == e.at.millis()) {
                self.payees.remove(&k);
            }
        }
    }
}

/// Every subject's protection at one affiliate, with the history it needs.
#[derive(Debug, Default)]
pub(crate) struct Guard {
    pub(crate) settings: HashMap<String, Protection>,
    pub(crate) history: History,
}

fn reason(rule: &str, verdict: Verdict, ko: String, en: String) -> MatchedRule {
    MatchedRule {
        rule: rule.into(),
        verdict,
        score: 0,
        ko: ko.into(),
        en: en.into(),
        tags: Arc::from(vec![Arc::<str>::from("self_protection")]),
    }
}

impl Guard {
    /// Loads stored settings: `(subject, JSON)` rows.
    pub(crate) fn load(rows: Vec<(String, String)>) -> Result<Guard, String> {
        let mut settings = HashMap::with_capacity(rows.len());
        for (subject, json) in rows {
            let p: Protection = serde_json::from_str(&json)
                .map_err(|e| format!("protection of subject {subject} is unreadable: {e}"))?;
            settings.insert(subject, p);
        }
        Ok(Guard { settings, history: History::default() })
    }

    /// Applies the subject's protection in force at the event's time to `d`.
    pub(crate) fn enforce(&self, e: &Event, d: &mut Decision) {
        self.enforce_on(e, d, &self.history);
    }

    /// What a transfer records in the shared payee history, if anything (what
    /// [`Guard::observe`] would record here).
    pub(crate) fn shared_history(&self, e: &Event) -> Option<signals_redis::History> {
        let EventBody::Transfer(t) = &e.body else { return None };
        if t.own_account {
            return None;
        }
        let at = e.at.millis();
        let subject = e.subject.id.as_str();
        let spend = match self.settings.get(subject).and_then(|p| p.effective(at).designated_accounts.as_ref()) {
            Some(da) if !t.counterparty.account_key.as_deref().is_some_and(|k| da.holds(k)) => t.amount.won(),
            _ => 0,
        };
        Some(signals_redis::History {
            pair: payee_key(&t.counterparty).map(|p| pair(subject, &p)),
            subject: xxh3_64(subject.as_bytes()),
            at_ms: at,
            day: kst_day(at),
            spend,
            forget_ms: FORGET_MS,
        })
    }

    /// [`Guard::enforce`] with the past from `past`.
    pub(crate) fn enforce_on(&self, e: &Event, d: &mut Decision, past: &dyn PastTransfers) {
        let Some(p) = self.settings.get(e.subject.id.as_str()) else { return };
        let at = e.at.millis();
        let s = p.effective(at);
        match &e.body {
            EventBody::LoanApplication(_) if s.loan_lock => d.impose(
                reason(
                    "protection.loan_lock",
                    Verdict::Block,
                    "대출 안심차단을 켜 두셨습니다. 차단을 해제하면 숙려 기간이 지난 뒤 대출을 신청할 수 있습니다.".into(),
                    "You turned on the loan lock. Once you lift it, loans can be applied for after the cooling-off period."
                        .into(),
                ),
                None,
            ),
            EventBody::Transfer(t) if !t.own_account => {
                let subject = e.subject.id.as_str();
                let payee = payee_key(&t.counterparty);
                if let Some(da) = &s.designated_accounts {
                    let designated = t.counterparty.account_key.as_deref().is_some_and(|k| da.holds(k));
                    let spent = past.spent_on(subject, at);
                    if !designated && spent + t.amount.won() > da.daily_cap.won() {
                        let left = Krw((da.daily_cap.won() - spent).max(0));
                        d.impose(
                            reason(
                                "protection.designated_accounts",
                                Verdict::Block,
                                format!(
                                    "지정계좌가 아닌 계좌로는 하루 {}까지만 보낼 수 있습니다 (오늘 남은 한도 {left}).",
                                    da.daily_cap
                                ),
                                format!(
                                    "Only {} a day may go to accounts you have not designated ({} left today).",
                                    da.daily_cap.0, left.0
                                ),
                            ),
                            None,
                        );
                    }
                }
                if let Some(dt) = &s.delayed_transfer
                    && t.amount >= dt.threshold
                    && past.is_new_payee(subject, payee.as_deref(), at)
                {
                    let until = Timestamp(at + i64::from(dt.hours) * 3_600_000).to_kst_rfc3339();
                    d.impose(
                        reason(
                            "protection.delayed_transfer",
                            Verdict::Hold,
                            format!(
                                "지연이체 서비스: 처음 보내는 계좌로 {} 이상 이체하면 {}시간 뒤({until})에 처리됩니다. 그 전에는 언제든 취소할 수 있습니다.",
                                dt.threshold, dt.hours
                            ),
                            format!(
                                "Delayed transfer: {} won or more to a new payee goes through after {} hours ({until}). You can cancel it until then.",
                                dt.threshold.0, dt.hours
                            ),
                        ),
                        Some(dt.hours * 60),
                    );
                }
            }
            _ => {}
        }
    }

    /// Remembers a decided event: payees of transfers that were not blocked, and the day's
    /// spending to non-designated accounts of subjects who designated some.
    pub(crate) fn observe(&mut self, e: &Event, verdict: Verdict) {
        self.observe_where(e, verdict, |_| true);
    }

    /// [`Guard::observe`], recording only under the digests `update` accepts (a replay onto a
    /// snapshot taken in parts).
    pub(crate) fn observe_where(&mut self, e: &Event, verdict: Verdict, update: impl Fn(u64) -> bool) {
        let EventBody::Transfer(t) = &e.body else { return };
        if t.own_account || verdict == Verdict::Block {
            return;
        }
        let at = e.at.millis();
        let subject = e.subject.id.as_str();
        if let Some(k) = payee_key(&t.counterparty).map(|p| pair(subject, &p))
            && update(k)
        {
            let h = &mut self.history;
            let entry = h.payees.entry(k).or_insert_with(|| {
                h.added += 1;
                (at, at)
            });
            entry.0 = entry.0.min(at);
            entry.1 = entry.1.max(at);
            if h.added >= SWEEP_EVERY {
                h.added = 0;
                h.payees.retain(|_, &mut (_, last)| at - last < FORGET_MS);
            }
        }
        let Some(da) = self.settings.get(subject).and_then(|p| p.effective(at).designated_accounts.as_ref()) else {
            return;
        };
        if t.counterparty.account_key.as_deref().is_some_and(|k| da.holds(k)) {
            return;
        }
        let day = kst_day(at);
        let who = xxh3_64(subject.as_bytes());
        if !update(who) {
            return;
        }
        let slot = self.history.spent.entry(who).or_insert((day, 0));
        if slot.0 != day {
            *slot = (day, 0);
        }
        slot.1 += t.amount.won();
    }

    /// Forgets what a cancelled held transfer taught.
    pub(crate) fn cancel(&mut self, e: &Event) {
        self.history.cancel(e);
    }
}

/// Self-protection use cases.
impl crate::App {
    /// Subject `subject`'s self-protection at affiliate `a` (all off when never set).
    pub fn protection(&self, a: &domain::AffiliateId, subject: &str) -> Result<Protection, crate::AppError> {
        crate::check_subject(subject)?;
        Ok(self.tenant(a)?.protection(subject))
    }

    /// Sets subject `subject`'s self-protection at affiliate `a`: stricter parts apply to the
    /// very next decision, looser ones after the cooling-off (see [`protection`]).
    pub fn set_protection(
        &self,
        a: &domain::AffiliateId,
        subject: &str,
        settings: Settings,
    ) -> Result<Protection, crate::AppError> {
        crate::check_subject(subject)?;
        let settings =
            settings.validated().map_err(|e| crate::AppError::Invalid { field: e.field, message: e.message })?;
        let p = self.tenant(a)?.set_protection(
            subject,
            settings,
            self.store.as_ref(),
            crate::now_ms(),
            self.config.cooling_off_ms,
        )?;
        if let Ok(settings) = serde_json::to_string(&p) {
            self.emit(crate::changes::Change::Protection {
                affiliate: a.clone(),
                subject: subject.to_string(),
                settings,
            });
        }
        Ok(p)
    }

    /// Records that the user cancelled a held transfer before its hold ran out. Only a
    /// committed `hold` decision on a transfer can be cancelled, once, and only while held.
    pub fn cancel_hold(&self, a: &domain::AffiliateId, decision_id: &str) -> Result<crate::Cancelled, crate::AppError> {
        let r = self.decision(a, decision_id)?;
        let conflict = |m: String| crate::AppError::Conflict(m);
        if r.verdict != "hold" || r.kind != "transfer" {
            return Err(conflict(format!(
                "only a held transfer can be cancelled; {decision_id} is a {} on a {}",
                r.verdict, r.kind
            )));
        }
        let decision: domain::Decision = serde_json::from_str(&r.decision_json)
            .map_err(|e| crate::AppError::Unavailable(format!("stored decision {decision_id} is unreadable: {e}")))?;
        let until = r.at_ms + i64::from(decision.guidance.hold_minutes.unwrap_or(0)) * 60_000;
        let now = crate::now_ms();
        if now >= until {
            return Err(conflict(format!(
                "the hold ended at {}; the transfer is no longer held",
                domain::Timestamp(until).to_kst_rfc3339()
            )));
        }
        if !self.store.cancel_hold(a, r.seq, now)? {
            return Err(conflict(format!("{decision_id} was already cancelled")));
        }
        let event = domain::Event::from_json(&r.event_json, None)
            .map_err(|e| crate::AppError::Unavailable(format!("stored event {} is unreadable: {e}", r.event_id)))?;
        let tenant = self.tenant(a)?;
        tenant.cancelled(&event);
        // With several nodes the payee history is shared: forget the payee there too, if this
        // transfer is what made it known (its spending stays counted, as here).
        if let (Some(shared), Some(h), Ok(rt)) =
            (&self.shared, tenant.shared_history(&event), tokio::runtime::Handle::try_current())
        {
            let (features, a) = (shared.features.clone(), a.to_string());
            let h = signals_redis::History { spend: 0, ..h };
            rt.spawn(async move {
                let _ = features.undo(&a, &h, &signals_redis::Seen { first_ms: None, spent: 0 }).await;
            });
        }
        self.metrics.holds_cancelled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(crate::Cancelled { decision_id: decision_id.to_string(), cancelled_ms: now })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dt(threshold: i64, hours: u32) -> Option<DelayedTransfer> {
        Some(DelayedTransfer { threshold: Krw(threshold), hours })
    }

    /// Regression (found by schemathesis): a daily cap or threshold above any balance was stored.
    #[test]
    fn money_in_settings_is_bounded() {
        let too_big = Krw(domain::MAX_KRW + 1);
        let cap = Settings {
            designated_accounts: Some(DesignatedAccounts {
                accounts: vec![Account { bank: "088".into(), account: "110123456789".into() }],
                daily_cap: too_big,
            }),
            ..Settings::default()
        };
        assert_eq!(cap.validated().unwrap_err().field, "designated_accounts.daily_cap");
        let threshold = Settings { delayed_transfer: dt(too_big.0, 3), ..Settings::default() };
        assert_eq!(threshold.validated().unwrap_err().field, "delayed_transfer.threshold");
    }

    #[test]
    fn tightening_is_immediate_and_loosening_waits() {
        let p = Protection::default();
        let on = Settings { delayed_transfer: dt(1_000_000, 3), loan_lock: true, ..Settings::default() };
        let p = p.change(on.clone(), 1_000, 60_000);
        assert_eq!(p.active, on);
        assert_eq!(p.pending, None);

        let off = Settings::default();
        let p2 = p.change(off.clone(), 2_000, 60_000);
        assert_eq!(p2.active, on, "switching off waits for the cooling-off");
        assert_eq!(p2.pending, Some(Pending { settings: off.clone(), effective_ms: 62_000 }));
        assert_eq!(p2.effective(61_999), &on);
        assert_eq!(p2.effective(62_000), &off);

        let p3 = p2.change(on.clone(), 3_000, 60_000);
        assert_eq!((p3.active.clone(), p3.pending.clone()), (on.clone(), None), "asking again cancels the loosening");

        // A lower threshold applies at once; a shorter delay at the same time is a loosening.
        let p4 = p.change(Settings { delayed_transfer: dt(500_000, 3), ..on.clone() }, 4_000, 60_000);
        assert_eq!(p4.active.delayed_transfer, dt(500_000, 3));
        assert_eq!(p4.pending, None);
        let p5 = p.change(Settings { delayed_transfer: dt(500_000, 1), ..on.clone() }, 4_000, 60_000);
        assert_eq!(p5.active.delayed_transfer, dt(1_000_000, 3));
        assert_eq!(p5.pending.map(|p| p.settings.delayed_transfer), Some(dt(500_000, 1)));
    }

    fn event(id: &str, subject: &str, at_ms: i64, amount: i64, account: &str) -> Event {
        Event::from_json(
            &format!(
                r#"{{"id":"{id}","affiliate":"bank","kind":"transfer","at":"{}","subject":{{"id":"{subject}"}},
                   "transfer":{{"amount":{amount},"counterparty":{{"bank":"004","account":"{account}"}}}}}}"#,
                Timestamp(at_ms)
            ),
            None,
        )
        .unwrap()
    }

    #[test]
    fn payees_become_known_72_hours_after_the_first_unblocked_transfer() {
        let mut g = Guard::default();
        let t0 = 1_800_000_000_000;
        let first = event("a", "u1", t0, 10_000, "123456789");
        g.observe(&first, Verdict::Hold);
        g.observe(&event("b", "u1", t0 + 1_000, 10_000, "123456789"), Verdict::Allow);
        g.observe(&event("c", "u1", t0, 10_000, "555555555"), Verdict::Block);
        let known = |g: &Guard, account: &str, at| !g.history.is_new_payee("u1", Some(&format!("004:{account}")), at);
        assert!(!known(&g, "123456789", t0 + NEW_PAYEE_MS - 1));
        assert!(known(&g, "123456789", t0 + NEW_PAYEE_MS));
        assert!(!known(&g, "555555555", t0 + NEW_PAYEE_MS), "a blocked transfer teaches nothing");
        assert!(g.history.is_new_payee("u2", Some("004:123456789"), t0 + NEW_PAYEE_MS), "payees are per subject");

        // Cancelling a later transfer keeps the payee; cancelling the first forgets it.
        g.cancel(&event("b", "u1", t0 + 1_000, 10_000, "123456789"));
        assert!(known(&g, "123456789", t0 + NEW_PAYEE_MS));
        g.cancel(&first);
        assert!(!known(&g, "123456789", t0 + NEW_PAYEE_MS * 10));
    }

    /// A snapshot part of the history, serialised in place, is the bytes of its copy.
    #[test]
    fn a_history_shard_serialised_in_place_is_its_copy() {
        let mut h = History::default();
        for i in 0..400u64 {
            h.payees.insert(xxh3_64(&i.to_le_bytes()), (i as i64, 2 * i as i64));
            h.spent.insert(xxh3_64(&(i + 1_000).to_le_bytes()), (20_000, 10 * i as i64));
        }
        h.added = 7;
        for i in 0..signals::digest_map::SHARDS {
            let copy = h.shard(i);
            assert!(copy.payees.len() < 400);
            assert_eq!(postcard::to_stdvec(&h.shard_ref(i)).unwrap(), postcard::to_stdvec(&copy).unwrap(), "shard {i}");
        }
    }

    #[test]
    fn validation_names_the_field_and_normalises_accounts() {
        let bad = Settings { delayed_transfer: dt(0, 3), ..Settings::default() }.validated().unwrap_err();
        assert_eq!(bad.field, "delayed_transfer.threshold");
        let bad = Settings { delayed_transfer: dt(10, 73), ..Settings::default() }.validated().unwrap_err();
        assert_eq!(bad.field, "delayed_transfer.hours");
        let acc = |b: &str, a: &str| Account { bank: b.into(), account: a.into() };
        let s = Settings {
            designated_accounts: Some(DesignatedAccounts {
                accounts: vec![acc("088", "110-123 456789"), acc("004", "123456789012"), acc("088", "110123456789")],
                daily_cap: Krw(0),
            }),
            ..Settings::default()
        }
        .validated()
        .unwrap();
        assert_eq!(
            s.designated_accounts.unwrap().accounts,
            vec![acc("004", "123456789012"), acc("088", "110123456789")],
            "digits only, sorted, no repeats"
        );
        let bad = Settings {
            designated_accounts: Some(DesignatedAccounts { accounts: vec![acc("88", "1234567")], daily_cap: Krw(0) }),
            ..Settings::default()
        }
        .validated()
        .unwrap_err();
        assert_eq!(bad.field, "designated_accounts.accounts[0]");
    }
}
