//! Prevention campaigns: a notice sent before harm to the users most at risk, with its effect
//! measured, not guessed.
//!
//! A campaign names its segment in the rule language (`subject.age_band == "60s" &&
//! features.stranger_contacts_7d >= 1`), checked against each serving affiliate's active
//! ruleset, so it reads the same event fields, features and signals rules do. While it runs,
//! every decision of a serving affiliate evaluates the segment on the event and the values the
//! decision computed; a user seen in the segment for the first time is enrolled (an outbox
//! entry written with the decision, so nothing is enrolled for an event that was not stored).
//! Enrolment happens off the decision path, on the node leading `outbox`: the keyed hold-out
//! ([`crate::effect::in_control`]) puts the user in the control arm (sent nothing) or the
//! treated arm, whose affiliate is sent a `campaign.notice` action with the Korean and
//! English content. A user is enrolled once per campaign and affiliate (the store's key), so
//! several nodes, retries and restarts send one notice.
//!
//! The effect compares the two arms: fraud reports the affiliate filed for its own members
//! (`subject` on a report) from their enrolment to the end of the follow-up window, per
//! 10,000 users, with Newcombe's interval, and the won those reports lost per 10,000 users with
//! a normal interval for the difference of two means.

use crate::access::{Action, authorize};
use crate::cases::invalid;
use crate::effect::{Arm, Effect, effect, in_control};
use crate::{App, AppError, GROUP, Principal, now_ms};
use domain::{AffiliateId, Timestamp};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;
use store::{ActionRow, CampaignRow, MemberRow, Store};

/// The outbox topic of a user seen in a campaign's segment.
pub(crate) const ENROL_TOPIC: &str = "campaign.enroll";

/// The action kind a treated user's affiliate receives.
pub const NOTICE_KIND: &str = "campaign.notice";

/// The format of a stored campaign body.
const VERSION: u32 = 1;

/// A notice in one language.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Notice {
    /// Headline (at most 100 characters, no HTML).
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 100))]
    pub title: String,
    /// Text (at most 1,000 characters, no HTML).
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 1000))]
    pub body: String,
}

/// A campaign as its author writes it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CampaignForm {
    /// Its id: lower-case letters, digits and `-`, 1–64 characters, unique.
    #[cfg_attr(feature = "openapi", schema(pattern = "^[a-z0-9][a-z0-9-]{0,63}$"))]
    pub id: String,
    /// A name people read (at most 200 characters).
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 200))]
    pub name: String,
    /// Who it is for: a condition in the rule language over the event, `features.*` and
    /// `signals.*` of each serving affiliate's active ruleset.
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 4000))]
    pub segment: String,
    /// The affiliates whose users it reaches. An affiliate's key names only itself (or
    /// leaves it empty); the group's may name any (empty: every affiliate with a ruleset).
    #[serde(default)]
    pub affiliates: Vec<String>,
    /// The notice in Korean.
    pub ko: Notice,
    /// The notice in English.
    pub en: Notice,
    /// Enrolment starts (RFC 3339 with an offset, or a Korea-time `2026-12-01 09:00`).
    pub starts_at: String,
    /// Enrolment ends (exclusive; at most 366 days after the start).
    pub ends_at: String,
    /// The hold-out control's share of the segment, per mille (10–500; default 100).
    #[serde(default = "default_holdout")]
    #[cfg_attr(feature = "openapi", schema(minimum = 10, maximum = 500))]
    pub holdout_per_mille: u32,
    /// Days after the end during which members' fraud reports still count (default 30).
    #[serde(default = "default_follow_up")]
    #[cfg_attr(feature = "openapi", schema(maximum = 365))]
    pub follow_up_days: u32,
}

fn default_holdout() -> u32 {
    100
}

fn default_follow_up() -> u32 {
    30
}

/// A stored campaign.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Campaign {
    /// Body format.
    pub version: u32,
    /// Id.
    pub id: String,
    /// Name.
    pub name: String,
    /// The segment's condition.
    pub segment: String,
    /// Serving affiliates.
    pub affiliates: Vec<AffiliateId>,
    /// Korean notice.
    pub ko: Notice,
    /// English notice.
    pub en: Notice,
    /// Enrolment starts, ms.
    pub starts_ms: i64,
    /// Enrolment ends (exclusive), ms.
    pub ends_ms: i64,
    /// Control share, per mille.
    pub holdout_per_mille: u32,
    /// Follow-up days after the end.
    pub follow_up_days: u32,
    /// Who created it (the audit actor).
    pub created_by: String,
    /// Stopped early at, ms.
    #[serde(default)]
    pub stopped_ms: Option<i64>,
}

impl Campaign {
    /// Whether a user seen by an event of time `at_ms` is enrolled: the event is within the
    /// schedule and the campaign was not stopped (a stop is made at the server's time, so
    /// every decision after it is refused, even of an event dated before it).
    pub fn enrols_at(&self, at_ms: i64) -> bool {
        self.stopped_ms.is_none() && at_ms >= self.starts_ms && at_ms < self.ends_ms
    }

    /// When enrolment ends: the schedule's end or the stop, whichever is first.
    pub fn enrolment_end(&self) -> i64 {
        self.stopped_ms.map_or(self.ends_ms, |s| s.min(self.ends_ms))
    }

    /// The end (exclusive) of the window in which members' reports count.
    pub fn outcome_end(&self) -> i64 {
        self.enrolment_end() + i64::from(self.follow_up_days) * 86_400_000
    }

    fn parse(row: &CampaignRow) -> Result<Campaign, store::StoreError> {
        let c: Campaign = serde_json::from_str(&row.body)
            .map_err(|e| store::StoreError::Corrupt(format!("campaign {} is unreadable: {e}", row.id)))?;
        if c.version != VERSION {
            return Err(store::StoreError::Corrupt(format!(
                "campaign {} has body version {}, this program reads {VERSION}",
                row.id, c.version
            )));
        }
        Ok(c)
    }
}

/// Every campaign in `store`, by id.
pub fn stored(store: &dyn Store) -> Result<Vec<Campaign>, store::StoreError> {
    store.campaigns()?.iter().map(Campaign::parse).collect()
}

/// A campaign's arms and outcomes, from `store`.
pub fn measure(store: &dyn Store, c: &Campaign) -> Result<CampaignEffect, store::StoreError> {
    let mut e = CampaignEffect::default();
    let mut by: BTreeMap<AffiliateId, (u64, u64)> = BTreeMap::new();
    for arm in store.campaign_arms(&c.id)? {
        let users = u64::try_from(arm.users).unwrap_or(0);
        let slot = by.entry(arm.affiliate).or_default();
        if arm.control {
            e.control.users += users;
            slot.1 += users;
        } else {
            e.treated.users += users;
            slot.0 += users;
        }
    }
    for o in store.campaign_outcomes(&c.id, c.outcome_end())? {
        let arm = if o.control { &mut e.control } else { &mut e.treated };
        arm.reported += 1;
        arm.won += o.won;
        arm.won_squares += (o.won as f64).powi(2);
    }
    e.by_affiliate = by.into_iter().map(|(a, (t, c))| (a, t, c)).collect();
    e.reports = effect(
        Arm { users: e.treated.users, outcomes: e.treated.reported },
        Arm { users: e.control.users, outcomes: e.control.reported },
    );
    e.losses = loss_effect(&e.treated, &e.control);
    Ok(e)
}

/// A campaign as the API shows it: what was asked, where it stands, and its effect so far.
#[derive(Debug, Clone, PartialEq)]
pub struct CampaignView {
    /// The campaign.
    pub campaign: Campaign,
    /// `scheduled`, `running`, `following_up` (enrolment over, outcomes still counting),
    /// `stopped` or `finished`.
    pub status: &'static str,
    /// Per serving affiliate: why the segment does not compile against its active ruleset
    /// now (it enrols nobody there until it does).
    pub problems: Vec<(AffiliateId, String)>,
    /// The measured effect.
    pub effect: CampaignEffect,
}

/// What one arm saw.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct ArmOutcome {
    /// Users enrolled.
    pub users: u64,
    /// Users with at least one fraud report in the window.
    pub reported: u64,
    /// Won their reports lost.
    pub won: i64,
    /// Sum over users of the square of each one's won (for the interval of the mean).
    won_squares: f64,
}

impl ArmOutcome {
    /// Won lost per 10,000 users.
    pub fn won_per_10k(&self) -> f64 {
        if self.users == 0 { 0.0 } else { self.won as f64 / self.users as f64 * 1e4 }
    }
}

/// Treated against control.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct CampaignEffect {
    /// The treated arm (sent the notice).
    pub treated: ArmOutcome,
    /// The hold-out control (sent nothing).
    pub control: ArmOutcome,
    /// Users with a fraud report per 10,000, treated minus control, with the 95 % interval;
    /// `None` while an arm is empty.
    pub reports: Option<Effect>,
    /// Won lost per 10,000 users, treated minus control, with the 95 % interval.
    pub losses: Option<Effect>,
    /// Per affiliate: users in (treated, control).
    pub by_affiliate: Vec<(AffiliateId, u64, u64)>,
}

/// The difference of two means of per-user losses, per 10,000 users, with a normal 95 %
/// interval (Welch's standard error): losses are sums over many users, most of them zero.
fn loss_effect(t: &ArmOutcome, c: &ArmOutcome) -> Option<Effect> {
    if t.users < 2 || c.users < 2 {
        return None;
    }
    let var = |a: &ArmOutcome| {
        let n = a.users as f64;
        let mean = a.won as f64 / n;
        ((a.won_squares - n * mean * mean) / (n - 1.0)).max(0.0) / n
    };
    let (mt, mc) = (t.won as f64 / t.users as f64, c.won as f64 / c.users as f64);
    let se = (var(t) + var(c)).sqrt();
    const Z: f64 = 1.959_963_984_540_054;
    let d = mt - mc;
    Some(Effect {
        treated: mt * 1e4,
        control: mc * 1e4,
        difference: d * 1e4,
        low: (d - Z * se) * 1e4,
        high: (d + Z * se) * 1e4,
    })
}

/// Whether an id is acceptable.
fn valid_id(id: &str) -> bool {
    let b = id.as_bytes();
    (1..=64).contains(&b.len())
        && b[0] != b'-'
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
}

fn parse_time(field: &str, text: &str) -> Result<i64, AppError> {
    Timestamp::parse_rfc3339(text)
        .or_else(|_| Timestamp::parse_kst_local(text))
        .map(Timestamp::millis)
        .map_err(|_| invalid(field, "a time such as 2026-12-01T09:00:00+09:00 or 2026-12-01 09:00 (Korea time)"))
}

fn check_notice(field: &str, n: &Notice) -> Result<(), AppError> {
    if n.title.trim().is_empty() {
        return Err(invalid(&format!("{field}.title"), "must not be empty"));
    }
    if n.body.trim().is_empty() {
        return Err(invalid(&format!("{field}.body"), "must not be empty"));
    }
    crate::cases::check_text(&format!("{field}.title"), &n.title, 100)?;
    crate::cases::check_text(&format!("{field}.body"), &n.body, 1_000)
}

/// One campaign as a tenant enrols into it: the segment compiled against the ruleset now
/// active there, and the digests of the users already enrolled (or about to be).
pub(crate) struct Enrolling {
    pub(crate) campaign: Arc<Campaign>,
    /// The ruleset label the segment was compiled for, and the result.
    compiled: Option<(Arc<str>, Result<rules::Compiled, String>)>,
    /// xxh3 of each enrolled subject id: a miss means a new user for this campaign.
    pub(crate) members: HashSet<u64>,
}

impl Enrolling {
    pub(crate) fn new(campaign: Arc<Campaign>, members: impl IntoIterator<Item = String>) -> Enrolling {
        Enrolling { campaign, compiled: None, members: members.into_iter().map(|s| subject_digest(&s)).collect() }
    }

    /// The segment compiled for `snap` (compiled again when another ruleset is active).
    pub(crate) fn segment(&mut self, snap: &engine::Snapshot) -> Option<&rules::Compiled> {
        if self.compiled.as_ref().is_none_or(|(label, _)| *label != snap.label) {
            let c = rules::compile_condition(&self.campaign.segment, &snap.schema).map_err(|d| d.to_string());
            self.compiled = Some((Arc::clone(&snap.label), c));
        }
        self.compiled.as_ref().and_then(|(_, c)| c.as_ref().ok())
    }
}

/// The digest a tenant remembers an enrolled subject by.
pub(crate) fn subject_digest(subject: &str) -> u64 {
    xxhash_rust::xxh3::xxh3_64(subject.as_bytes())
}

/// The outbox payload of a user seen in a segment.
pub(crate) fn enrol_payload(campaign: &str, subject: &str, at_ms: i64) -> String {
    serde_json::json!({ "campaign": campaign, "subject": subject, "at_ms": at_ms }).to_string()
}

impl App {
    /// Every stored campaign.
    pub(crate) fn load_campaigns(&self) -> Result<Vec<Arc<Campaign>>, AppError> {
        Ok(stored(&*self.store)?.into_iter().map(Arc::new).collect())
    }

    /// The campaigns reaching `a`'s users, each with the subjects already enrolled there.
    pub(crate) fn enrolling_for(&self, a: &AffiliateId) -> Result<Vec<Enrolling>, AppError> {
        let mut out = Vec::new();
        for c in self.campaigns.read().unwrap_or_else(|p| p.into_inner()).iter() {
            if c.affiliates.contains(a) {
                out.push(Enrolling::new(Arc::clone(c), self.store.campaign_subjects(&c.id, a)?));
            }
        }
        Ok(out)
    }

    /// Creates a campaign. Its segment must compile against every serving affiliate's active
    /// ruleset; an id already used is a conflict.
    pub fn create_campaign(&self, p: &Principal, form: CampaignForm) -> Result<CampaignView, AppError> {
        authorize(p, Action::RunCampaigns)?;
        if !valid_id(&form.id) {
            return Err(invalid("id", "1 to 64 lower-case letters, digits and '-', not starting with '-'"));
        }
        if form.name.trim().is_empty() {
            return Err(invalid("name", "must not be empty"));
        }
        crate::cases::check_text("name", &form.name, 200)?;
        if form.segment.trim().is_empty() {
            return Err(invalid("segment", "a condition in the rule language, e.g. subject.age_band == \"60s\""));
        }
        if form.segment.len() > 4_000 {
            return Err(invalid("segment", "at most 4,000 bytes"));
        }
        check_notice("ko", &form.ko)?;
        check_notice("en", &form.en)?;
        let starts_ms = parse_time("starts_at", &form.starts_at)?;
        let ends_ms = parse_time("ends_at", &form.ends_at)?;
        if ends_ms <= starts_ms {
            return Err(invalid("ends_at", "must be after starts_at"));
        }
        if ends_ms - starts_ms > 366 * 86_400_000 {
            return Err(invalid("ends_at", "at most 366 days after starts_at"));
        }
        if !(10..=500).contains(&form.holdout_per_mille) {
            return Err(invalid(
                "holdout_per_mille",
                "between 10 and 500: a control group is how the effect is measured",
            ));
        }
        if form.follow_up_days > 365 {
            return Err(invalid("follow_up_days", "at most 365"));
        }
        let group = p.affiliate.as_str() == GROUP;
        let mut affiliates: Vec<AffiliateId> = Vec::new();
        for (i, a) in form.affiliates.iter().enumerate() {
            let a = AffiliateId(a.clone());
            if !group && a != p.affiliate {
                return Err(invalid(&format!("affiliates[{i}]"), "an affiliate's key reaches only its own users"));
            }
            if a.as_str() == GROUP {
                return Err(invalid(&format!("affiliates[{i}]"), "the group has no users of its own"));
            }
            if !affiliates.contains(&a) {
                affiliates.push(a);
            }
        }
        if affiliates.is_empty() {
            if group {
                affiliates =
                    self.store.affiliates()?.into_iter().map(|a| a.id).filter(|a| a.as_str() != GROUP).collect();
            } else {
                affiliates.push(p.affiliate.clone());
            }
        }
        // The segment must mean something wherever it runs.
        let mut tenants = Vec::new();
        for (i, a) in affiliates.iter().enumerate() {
            let t = self
                .tenant(a)
                .map_err(|_| invalid(&format!("affiliates[{i}]"), format!("{a} has no active ruleset")))?;
            let snap = t.rules();
            if let Err(d) = rules::compile_condition(&form.segment, &snap.schema) {
                // Located in the segment (line:column), with the code and any suggestion.
                return Err(invalid(
                    "segment",
                    format!("{} (in {a}'s ruleset {})", d.locate(&form.segment), snap.label),
                ));
            }
            tenants.push(t);
        }
        let now = now_ms();
        let campaign = Campaign {
            version: VERSION,
            id: form.id.clone(),
            name: form.name,
            segment: form.segment,
            affiliates,
            ko: form.ko,
            en: form.en,
            starts_ms,
            ends_ms,
            holdout_per_mille: form.holdout_per_mille,
            follow_up_days: form.follow_up_days,
            created_by: p.actor(),
            stopped_ms: None,
        };
        let body = serde_json::to_string(&campaign).map_err(|e| AppError::Unavailable(e.to_string()))?;
        let row = CampaignRow { id: campaign.id.clone(), body, created_ms: now, updated_ms: now };
        let audit = store::AuditEntry {
            at_ms: now,
            actor: p.actor(),
            case_id: None,
            action: "campaign.created".into(),
            detail: serde_json::json!({ "campaign": campaign.id, "affiliates": campaign.affiliates }).to_string(),
        };
        self.unit_of_work(|tx| {
            if !tx.insert_campaign(&row)? {
                return Err(AppError::Conflict(format!("campaign {} exists", row.id)));
            }
            Ok(tx.append_audit(std::slice::from_ref(&audit))?)
        })?;
        let campaign = Arc::new(campaign);
        self.adopt_campaign(Arc::clone(&campaign))?;
        self.emit(crate::changes::Change::Campaign { id: campaign.id.clone() });
        self.campaign_view(&campaign)
    }

    /// Stops a campaign's enrolment now (members stay; their outcomes keep counting through
    /// the follow-up window).
    pub fn stop_campaign(&self, p: &Principal, id: &str) -> Result<CampaignView, AppError> {
        authorize(p, Action::RunCampaigns)?;
        let current = self.visible_campaign(p, id)?;
        if p.affiliate.as_str() != GROUP && current.affiliates.iter().any(|a| a != &p.affiliate) {
            return Err(AppError::Forbidden("admin of the group (the campaign reaches other affiliates)"));
        }
        let now = now_ms();
        let mut stopped = (*current).clone();
        if stopped.stopped_ms.is_none() {
            stopped.stopped_ms = Some(now);
            let body = serde_json::to_string(&stopped).map_err(|e| AppError::Unavailable(e.to_string()))?;
            let audit = store::AuditEntry {
                at_ms: now,
                actor: p.actor(),
                case_id: None,
                action: "campaign.stopped".into(),
                detail: serde_json::json!({ "campaign": id }).to_string(),
            };
            self.unit_of_work(|tx| {
                tx.update_campaign(id, &body, now)?;
                Ok(tx.append_audit(std::slice::from_ref(&audit))?)
            })?;
            self.adopt_campaign(Arc::new(stopped.clone()))?;
            self.emit(crate::changes::Change::Campaign { id: id.to_string() });
        }
        self.campaign_view(&stopped)
    }

    /// Makes a stored campaign (new or changed) live in this process: every serving tenant
    /// enrols into it from its next decision.
    pub(crate) fn adopt_campaign(&self, c: Arc<Campaign>) -> Result<(), AppError> {
        {
            let mut all = self.campaigns.write().unwrap_or_else(|p| p.into_inner());
            all.retain(|x| x.id != c.id);
            all.push(Arc::clone(&c));
            all.sort_by(|a, b| a.id.cmp(&b.id));
        }
        for a in &c.affiliates {
            if let Ok(t) = self.tenant(a) {
                let members = self.store.campaign_subjects(&c.id, a)?;
                t.adopt_campaign(Enrolling::new(Arc::clone(&c), members));
            }
        }
        Ok(())
    }

    /// Applies another node's new or changed campaign.
    pub(crate) fn reload_campaign(&self, id: &str) -> Result<(), AppError> {
        match self.store.campaigns()?.iter().find(|c| c.id == id) {
            Some(row) => self.adopt_campaign(Arc::new(Campaign::parse(row)?)),
            None => Ok(()),
        }
    }

    fn visible_campaign(&self, p: &Principal, id: &str) -> Result<Arc<Campaign>, AppError> {
        let all = self.campaigns.read().unwrap_or_else(|p| p.into_inner());
        all.iter()
            .find(|c| c.id == id && (p.affiliate.as_str() == GROUP || c.affiliates.contains(&p.affiliate)))
            .cloned()
            .ok_or_else(|| AppError::NotFound(format!("campaign {id}")))
    }

    /// The campaigns `p` may see (the group's keys: all; an affiliate's: those reaching its
    /// users), with their status and effect so far.
    pub fn campaigns(&self, p: &Principal) -> Result<Vec<CampaignView>, AppError> {
        authorize(p, Action::ReadRules)?;
        let all: Vec<Arc<Campaign>> = self.campaigns.read().unwrap_or_else(|p| p.into_inner()).clone();
        all.iter()
            .filter(|c| p.affiliate.as_str() == GROUP || c.affiliates.contains(&p.affiliate))
            .map(|c| self.campaign_view(c))
            .collect()
    }

    /// One campaign with its status and effect.
    pub fn campaign(&self, p: &Principal, id: &str) -> Result<CampaignView, AppError> {
        authorize(p, Action::ReadRules)?;
        let c = self.visible_campaign(p, id)?;
        self.campaign_view(&c)
    }

    fn campaign_view(&self, c: &Campaign) -> Result<CampaignView, AppError> {
        let now = now_ms();
        let status = if now < c.starts_ms {
            "scheduled"
        } else if now < c.enrolment_end() {
            "running"
        } else if now < c.outcome_end() {
            if c.enrolment_end() < c.ends_ms { "stopped" } else { "following_up" }
        } else {
            "finished"
        };
        let mut problems = Vec::new();
        for a in &c.affiliates {
            match self.tenant(a) {
                Ok(t) => {
                    if let Err(d) = rules::compile_condition(&c.segment, &t.rules().schema) {
                        problems.push((a.clone(), d.to_string()));
                    }
                }
                Err(_) => problems.push((a.clone(), "no active ruleset".into())),
            }
        }
        Ok(CampaignView { campaign: c.clone(), status, problems, effect: self.campaign_effect(c)? })
    }

    /// The campaign's arms and outcomes from the store.
    pub fn campaign_effect(&self, c: &Campaign) -> Result<CampaignEffect, AppError> {
        Ok(measure(&*self.store, c)?)
    }

    /// Enrols the users the outbox names (on the node leading `outbox`): each user's arm from
    /// the keyed hold-out, and for the treated a notice to their affiliate, in one unit of
    /// work; a user enrolled before is left as they are. Returns how many were new.
    pub(crate) fn enrol(&self, items: &[(AffiliateId, String)]) -> Result<usize, AppError> {
        #[derive(Deserialize)]
        struct Seen {
            campaign: String,
            subject: String,
            at_ms: i64,
        }
        let campaigns = self.campaigns.read().unwrap_or_else(|p| p.into_inner()).clone();
        let mut todo = Vec::new();
        for (a, payload) in items {
            // A payload this program cannot read was written by no version of it: skip it
            // rather than stop the outbox behind it.
            let Ok(s) = serde_json::from_str::<Seen>(payload) else { continue };
            let Some(c) = campaigns.iter().find(|c| c.id == s.campaign) else { continue };
            let control = in_control(&c.id, &format!("{a}\0{}", s.subject), c.holdout_per_mille);
            let member = MemberRow {
                campaign: c.id.clone(),
                affiliate: a.clone(),
                subject: s.subject.clone(),
                control,
                enrolled_ms: s.at_ms,
            };
            let notice = (!control).then(|| {
                let tag = xxhash_rust::xxh3::xxh3_64(format!("{}\0{a}\0{}", c.id, s.subject).as_bytes());
                let now = now_ms();
                ActionRow::queued(
                    format!("act_campaign_{tag:016x}"),
                    a.clone(),
                    NOTICE_KIND,
                    serde_json::json!({
                        "campaign": c.id,
                        "subject": s.subject,
                        "ko": c.ko,
                        "en": c.en,
                    })
                    .to_string(),
                    now,
                )
            });
            todo.push((member, notice));
        }
        if todo.is_empty() {
            return Ok(0);
        }
        let new = self.unit_of_work(|tx| {
            let mut new = 0;
            for (m, notice) in &todo {
                if tx.enroll(m)? {
                    new += 1;
                    if let Some(n) = notice {
                        tx.queue_actions(std::slice::from_ref(n))?;
                    }
                }
            }
            Ok(new)
        })?;
        Ok(new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        for ok in ["a", "winter-2026", "c1", &"x".repeat(64)] {
            assert!(valid_id(ok), "{ok}");
        }
        for bad in ["", "-a", "A", "a b", "가", "a_b", &"x".repeat(65)] {
            assert!(!valid_id(bad), "{bad}");
        }
    }

    #[test]
    fn the_windows_follow_the_schedule_and_the_stop() {
        let mut c = Campaign {
            version: VERSION,
            id: "c".into(),
            name: "n".into(),
            segment: "true".into(),
            affiliates: vec![],
            ko: Notice { title: "t".into(), body: "b".into() },
            en: Notice { title: "t".into(), body: "b".into() },
            starts_ms: 1_000,
            ends_ms: 2_000,
            holdout_per_mille: 100,
            follow_up_days: 1,
            created_by: "x".into(),
            stopped_ms: None,
        };
        assert!(!c.enrols_at(999) && c.enrols_at(1_000) && c.enrols_at(1_999) && !c.enrols_at(2_000));
        assert_eq!(c.outcome_end(), 2_000 + 86_400_000);
        c.stopped_ms = Some(1_500);
        assert!(!c.enrols_at(1_499) && !c.enrols_at(1_500), "stopped: nobody from now on");
        assert_eq!(c.outcome_end(), 1_500 + 86_400_000);
        // A stop after the end changes nothing.
        c.stopped_ms = Some(5_000);
        assert_eq!(c.enrolment_end(), 2_000);
    }

    #[test]
    fn the_loss_interval_is_a_welch_interval() {
        // Treated: 1,000 users, two lost 1,000,000 each; control: 1,000 users, six lost
        // 1,000,000 each. Means 2,000 and 6,000 won per user.
        let arm = |users: u64, losers: u64| ArmOutcome {
            users,
            reported: losers,
            won: losers as i64 * 1_000_000,
            won_squares: losers as f64 * 1e12,
        };
        let e = loss_effect(&arm(1_000, 2), &arm(1_000, 6)).unwrap();
        assert!((e.treated - 2e7).abs() < 1.0 && (e.control - 6e7).abs() < 1.0);
        assert!((e.difference + 4e7).abs() < 1.0);
        // Variances of the means: p(1-p)·1e12·n/(n-1)/n for p = 0.002 and 0.006.
        let v = |p: f64| p * (1.0 - p) * 1e12 * 1_000.0 / 999.0 / 1_000.0;
        let se = (v(0.002) + v(0.006)).sqrt() * 1e4;
        assert!((e.high - e.difference - 1.959_964 * se).abs() < 1e3, "{e:?}");
        assert!(e.low < e.difference && e.difference < e.high);
        assert_eq!(loss_effect(&arm(1, 0), &arm(10, 1)), None);
    }
}
