//! Stage 3: the 24-hour report channel and the safety table's cases. A report (from a victim
//! without a key, or from an affiliate) is validated, triaged (money at risk, minutes since the
//! transfer, ongoing contact, age) and joins the case of any indicator it names, or opens one,
//! under one lock so simultaneous reports on one account make one case. Its indicators are
//! reported to the registry. A report about an indicator whose case is closed opens a new case
//! linked to the closed one (the closed case stays as it was decided). Analysts move a case
//! forward through `new → triaged → investigating → action_taken → relief → closed`
//! ([`CaseState`]); confirming fraud flags the indicators as confirmed for every affiliate and
//! queues follow-up actions for the affiliates that hold them. Each use case is one unit of
//! work: the case, the report, the registry rows, the actions and the audit entries commit
//! together or not at all.

use crate::access::{Action, authorize};
use crate::registry::Status;
use crate::{AppError, GROUP, Principal, now_ms};
use domain::{AffiliateId, CaseOutcome, CaseState, Krw, Timestamp};
use indicators::IndicatorKind;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use store::{ActionRow, AuditEntry, CaseRow, ReportRow, Tx};

/// What happened to the reporter.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReportKind {
    /// A call from someone posing as an institution or a relative.
    VoicePhishing,
    /// A messenger chat from someone posing as family or a friend.
    MessengerPhishing,
    /// A text with a link or an app.
    Smishing,
    /// An investment "leading room" or fake trading app.
    InvestmentScam,
    /// A romance scam.
    RomanceScam,
    /// Someone else used the reporter's account.
    AccountTakeover,
    /// Money sent to the wrong account by mistake (착오송금).
    MistakenTransfer,
}

impl ReportKind {
    /// Every kind.
    pub const ALL: [ReportKind; 7] = [
        ReportKind::VoicePhishing,
        ReportKind::MessengerPhishing,
        ReportKind::Smishing,
        ReportKind::InvestmentScam,
        ReportKind::RomanceScam,
        ReportKind::AccountTakeover,
        ReportKind::MistakenTransfer,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ReportKind::VoicePhishing => "voice_phishing",
            ReportKind::MessengerPhishing => "messenger_phishing",
            ReportKind::Smishing => "smishing",
            ReportKind::InvestmentScam => "investment_scam",
            ReportKind::RomanceScam => "romance_scam",
            ReportKind::AccountTakeover => "account_takeover",
            ReportKind::MistakenTransfer => "mistaken_transfer",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<ReportKind> {
        ReportKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Korean and English labels (the report form).
    pub fn labels(self) -> (&'static str, &'static str) {
        match self {
            ReportKind::VoicePhishing => ("보이스피싱 (전화 사기)", "Voice phishing"),
            ReportKind::MessengerPhishing => ("메신저 피싱 (가족·지인 사칭)", "Messenger phishing"),
            ReportKind::Smishing => ("스미싱 (문자 링크·앱)", "Smishing"),
            ReportKind::InvestmentScam => ("투자 사기 (리딩방)", "Investment scam"),
            ReportKind::RomanceScam => ("로맨스 스캠", "Romance scam"),
            ReportKind::AccountTakeover => ("계정·계좌 도용", "Account takeover"),
            ReportKind::MistakenTransfer => ("착오송금", "Mistaken transfer"),
        }
    }

    /// The registry typology its indicators are reported with.
    fn typology(self) -> &'static str {
        match self {
            ReportKind::VoicePhishing => "impersonation",
            ReportKind::MessengerPhishing => "messenger-phishing",
            ReportKind::Smishing => "smishing",
            ReportKind::InvestmentScam => "investment",
            ReportKind::RomanceScam => "romance",
            ReportKind::AccountTakeover => "account-takeover",
            ReportKind::MistakenTransfer => "mistaken-transfer",
        }
    }
}

/// One indicator named in a report.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReportedIndicator {
    /// `account`, `phone`, `url`, `profile`, ...
    #[cfg_attr(feature = "openapi", schema(pattern = "^(phone|account|url|domain|profile|device|ip|wallet)$"))]
    pub kind: String,
    /// As the reporter wrote it; normalised when filed.
    #[cfg_attr(feature = "openapi", schema(min_length = 1))]
    pub value: String,
}

/// A report as filed (the form or the API).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReportForm {
    /// What happened.
    pub kind: ReportKind,
    /// In the reporter's words (at most 2,000 characters, no HTML).
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 2000))]
    pub description: String,
    /// Won lost or at risk.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(value_type = Option<i64>, minimum = 0, maximum = 1_000_000_000_000_i64))]
    pub amount: Option<Krw>,
    /// When the money left: a Korea-time wall clock (`2026-12-06 13:30`) or RFC 3339 with an offset.
    #[serde(default)]
    pub transferred_at: Option<String>,
    /// The fraudster is still in contact (on the phone, in the chat).
    #[serde(default)]
    pub contact_ongoing: bool,
    /// The victim's age, if given.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(minimum = 0, maximum = 120))]
    pub age: Option<u8>,
    /// The fraud account, phone, URL, profile ... (at most 10).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_items = 10))]
    pub indicators: Vec<ReportedIndicator>,
    /// How to reach the reporter (phone or e-mail, at most 100 characters).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 100))]
    pub contact: Option<String>,
    /// The filing affiliate's own user the report is about (the `subject.id` its events
    /// carry), so the report counts as that user's outcome in prevention campaigns. Only an
    /// affiliate names one; a public report must leave it out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128))]
    pub subject: Option<String>,
}

/// Who files.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reporter {
    /// A victim or witness without a key, from this address.
    Public {
        /// Client address (for the audit log).
        ip: String,
    },
    /// An affiliate with its key.
    Affiliate(AffiliateId),
}

impl Reporter {
    fn source(&self) -> String {
        match self {
            Reporter::Public { .. } => "public".into(),
            Reporter::Affiliate(a) => a.to_string(),
        }
    }
}

/// What the reporter gets back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Filed {
    /// Receipt number.
    pub receipt: String,
    /// The secret that, with the receipt, shows the report's progress (shown once).
    pub secret: String,
    /// Triage priority 0..=100.
    pub priority: i64,
    /// The case it joined.
    pub case_id: i64,
    /// Whether that case is new.
    pub new_case: bool,
}

/// A case's stored body: what only the application reads (the queryable facts are columns of
/// [`CaseRow`]). Versioned: a body this program cannot read is an error, never a default.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CaseBody {
    /// The body's format version (1: before it was written; 2: money at risk moved to a column).
    #[serde(default = "first_version")]
    pub version: u32,
    /// Normalised indicators of the case.
    pub indicators: Vec<ReportedIndicator>,
    /// Report kinds seen.
    pub kinds: Vec<ReportKind>,
    /// Analysts' notes.
    pub notes: Vec<Note>,
    /// The statutory relief workflow, once started.
    #[serde(default)]
    pub relief: Option<crate::relief::Relief>,
}

fn first_version() -> u32 {
    1
}

impl CaseBody {
    /// The version this program writes.
    pub const VERSION: u32 = 2;

    /// Reads case `id`'s stored body; an unreadable one is an error naming the case, and the
    /// stored text is left as it is.
    pub fn parse(id: i64, text: &str) -> Result<CaseBody, AppError> {
        let body: CaseBody = serde_json::from_str(text).map_err(|e| {
            AppError::Unavailable(format!("case {id}: its stored body cannot be read ({e}); it was left as it is"))
        })?;
        if body.version > CaseBody::VERSION {
            return Err(AppError::Unavailable(format!(
                "case {id}: its body has version {}, newer than this program's {}; upgrade ansim",
                body.version,
                CaseBody::VERSION
            )));
        }
        Ok(body)
    }

    fn to_text(&self) -> Result<String, AppError> {
        serde_json::to_string(&CaseBody { version: CaseBody::VERSION, ..self.clone() })
            .map_err(|e| AppError::Unavailable(e.to_string()))
    }
}

/// A relief step an analyst records; `at` is RFC 3339 (now when left out).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum ReliefStep {
    /// Payment suspension (지급정지) requested at the bank, by phone or in writing: starts the
    /// fraud path.
    Suspension {
        /// `phone` (a written request must follow within 3 business days) or `writing`.
        channel: crate::relief::Channel,
        /// When.
        #[serde(default)]
        at: Option<String>,
    },
    /// A mistaken transfer (착오송금): starts the return path.
    MistakenTransfer {
        /// When the money was sent.
        transferred_at: String,
        /// Won sent.
        amount: i64,
        /// When the return was requested.
        #[serde(default)]
        at: Option<String>,
    },
    /// The written request after a phone request.
    WrittenRequest {
        /// When.
        #[serde(default)]
        at: Option<String>,
    },
    /// The bank notified the account holder.
    HolderNotice {
        /// When.
        #[serde(default)]
        at: Option<String>,
    },
    /// The FSS posted the claim-extinguishment notice (채권소멸 공고): two months to object.
    Notice {
        /// When.
        #[serde(default)]
        at: Option<String>,
    },
    /// The account holder objected within the period.
    Objection {
        /// When.
        #[serde(default)]
        at: Option<String>,
    },
    /// The claim was extinguished after the period.
    Extinguished {
        /// When.
        #[serde(default)]
        at: Option<String>,
    },
    /// The refund was decided: `available` won split pro rata among the case's victims.
    RefundDecision {
        /// Won left in the account.
        available: i64,
        /// When.
        #[serde(default)]
        at: Option<String>,
    },
    /// The refunds were paid.
    Payout {
        /// When.
        #[serde(default)]
        at: Option<String>,
    },
    /// The victim withdrew the request.
    Withdrawal {
        /// When.
        #[serde(default)]
        at: Option<String>,
    },
    /// Mistaken transfer: the recipient refused (or did not answer).
    Refusal {
        /// When.
        #[serde(default)]
        at: Option<String>,
    },
    /// Mistaken transfer: escalated to the public return-support programme.
    Escalation {
        /// When.
        #[serde(default)]
        at: Option<String>,
    },
    /// Mistaken transfer: the money came back.
    Returned {
        /// When.
        #[serde(default)]
        at: Option<String>,
    },
    /// Mistaken transfer: not recovered.
    Unrecovered {
        /// When.
        #[serde(default)]
        at: Option<String>,
    },
}

/// An analyst's note.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Note {
    /// When, ms.
    pub at_ms: i64,
    /// Who.
    pub author: String,
    /// What.
    pub text: String,
}

/// Cases that may need attention read for [`App::alerts`], most overdue first.
pub const ATTENTION_READ: usize = 5_000;

/// Something overdue on a case.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Alert {
    /// The case.
    pub case_id: i64,
    /// `first_action` (the SLA) or a relief step (`written_request`, `refund_decision`, ...).
    pub what: String,
    /// When it was due, ms.
    pub due_ms: i64,
}

/// A change an analyst asks for.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(min_properties = 1))]
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Change {
    /// The next state (forward only; `closed` needs an outcome).
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(pattern = "^(triaged|investigating|action_taken|relief|closed)$"))]
    pub state: Option<String>,
    /// `confirmed_fraud`, `not_fraud` or `duplicate`.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(pattern = "^(confirmed_fraud|not_fraud|duplicate)$"))]
    pub outcome: Option<String>,
    /// Assign to this analyst.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 64))]
    pub assignee: Option<String>,
    /// A note to add.
    #[serde(default)]
    #[cfg_attr(feature = "openapi", schema(max_length = 4000))]
    pub note: Option<String>,
    /// A relief step to record.
    #[serde(default)]
    pub relief: Option<ReliefStep>,
}

fn when(at: &Option<String>, now: i64) -> Result<i64, AppError> {
    match at {
        None => Ok(now),
        Some(t) => Ok(Timestamp::parse_rfc3339(t).map_err(|e| invalid("relief.at", e.to_string()))?.millis()),
    }
}

/// Applies a relief step to the case body; returns the audit detail.
fn apply_relief(
    body: &mut CaseBody,
    step: &ReliefStep,
    claims: &[(String, i64)],
    now: i64,
) -> Result<String, AppError> {
    use crate::relief::{Calendar, Relief};
    let bad = |e: crate::relief::ReliefError| AppError::Conflict(format!("relief: {e}"));
    let cal = Calendar::korea();
    let name = serde_json::to_value(step).ok().and_then(|v| v["step"].as_str().map(str::to_string)).unwrap_or_default();
    match step {
        ReliefStep::Suspension { channel, at } => {
            if body.relief.is_some() {
                return Err(AppError::Conflict("relief has already started for this case".into()));
            }
            body.relief = Some(Relief::fraud(when(at, now)?, *channel));
        }
        ReliefStep::MistakenTransfer { transferred_at, amount, at } => {
            if body.relief.is_some() {
                return Err(AppError::Conflict("relief has already started for this case".into()));
            }
            let t = Timestamp::parse_rfc3339(transferred_at)
                .map_err(|e| invalid("relief.transferred_at", e.to_string()))?;
            body.relief = Some(Relief::mistaken_transfer(t.millis(), *amount, when(at, now)?).map_err(bad)?);
        }
        other => {
            let r = body
                .relief
                .as_mut()
                .ok_or_else(|| AppError::Conflict("start relief with a suspension first".into()))?;
            // Work on a copy: a failed step leaves the case as it was.
            let mut next = r.clone();
            match other {
                ReliefStep::WrittenRequest { at } => next.record_written_request(when(at, now)?),
                ReliefStep::HolderNotice { at } => next.record_holder_notice(when(at, now)?),
                ReliefStep::Notice { at } => next.record_notice(when(at, now)?),
                ReliefStep::Objection { at } => next.record_objection(when(at, now)?),
                ReliefStep::Extinguished { at } => next.record_extinguished(when(at, now)?),
                ReliefStep::RefundDecision { available, at } => {
                    next.record_refund_decision(when(at, now)?, *available, claims).map(|_| ())
                }
                ReliefStep::Payout { at } => next.record_payout(when(at, now)?),
                ReliefStep::Withdrawal { at } => next.record_withdrawal(when(at, now)?),
                ReliefStep::Refusal { at } => next.record_refusal(when(at, now)?),
                ReliefStep::Escalation { at } => next.record_escalation(when(at, now)?, cal),
                ReliefStep::Returned { at } => next.record_returned(when(at, now)?),
                ReliefStep::Unrecovered { at } => next.record_unrecovered(when(at, now)?),
                ReliefStep::Suspension { .. } | ReliefStep::MistakenTransfer { .. } => Ok(()),
            }
            .map_err(bad)?;
            *r = next;
        }
    }
    let state = body.relief.as_ref().map_or("", |r| r.state().as_str());
    Ok(format!("{{\"step\":\"{name}\",\"state\":\"{state}\"}}"))
}

/// Priority 0..=100: money at risk (up to 40), minutes since the transfer (up to 30: money
/// still in the fraud account can be frozen), ongoing contact (15), age 65 or more (15).
pub fn priority(form: &ReportForm, transferred_ms: Option<i64>, now: i64) -> i64 {
    let money = match form.amount.map_or(0, |a| a.won()) {
        a if a >= 10_000_000 => 40,
        a if a >= 1_000_000 => 30,
        a if a >= 100_000 => 20,
        a if a > 0 => 10,
        _ => 0,
    };
    let minutes = transferred_ms.map(|t| (now - t).max(0) / 60_000);
    let recency = match minutes {
        Some(m) if m <= 30 => 30,
        Some(m) if m <= 120 => 20,
        Some(m) if m <= 24 * 60 => 10,
        Some(_) => 0,
        None => 5,
    };
    let contact = if form.contact_ongoing { 15 } else { 0 };
    let age = if form.age.is_some_and(|a| a >= 65) { 15 } else { 0 };
    money + recency + contact + age
}

/// Minutes to the first action for a priority: urgent cases get a quarter of the base, low
/// ones four times it.
pub fn sla_minutes(priority: i64, base_minutes: i64) -> i64 {
    match priority {
        p if p >= 70 => (base_minutes / 4).max(1),
        p if p >= 40 => base_minutes,
        _ => base_minutes * 4,
    }
}

pub(crate) fn invalid(field: &str, message: impl Into<String>) -> AppError {
    AppError::Invalid { field: field.into(), message: message.into() }
}

/// Text a person wrote: bounded, no control characters but line breaks, no HTML markup.
pub(crate) fn check_text(field: &str, text: &str, max: usize) -> Result<(), AppError> {
    if text.chars().count() > max {
        return Err(invalid(field, format!("at most {max} characters")));
    }
    if text.chars().any(|c| c.is_control() && c != '\n' && c != '\r' && c != '\t') {
        return Err(invalid(field, "must not contain control characters"));
    }
    let lower = text.to_lowercase();
    let tag = lower
        .as_bytes()
        .windows(2)
        .any(|w| w[0] == b'<' && (w[1].is_ascii_alphabetic() || w[1] == b'/' || w[1] == b'!'));
    if tag || lower.contains("javascript:") {
        return Err(invalid(field, "must not contain HTML or script"));
    }
    Ok(())
}

fn random_text(n: usize) -> String {
    // Crockford base32 without easily confused letters.
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let mut bytes = vec![0u8; n];
    getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
    bytes.iter().map(|b| ALPHABET[usize::from(b & 31)] as char).collect()
}

/// The stored form of a report secret.
pub fn hash_secret(secret: &str) -> [u8; 32] {
    Sha256::digest(secret.as_bytes()).into()
}

/// A validated report with its normalised indicators and their digests.
pub(crate) struct Checked {
    pub form: ReportForm,
    pub transferred_ms: Option<i64>,
    pub indicators: Vec<(IndicatorKind, String)>,
    pub digests: Vec<[u8; 32]>,
}

/// Validates a report; every error names its field.
pub(crate) fn check(form: ReportForm, registry: &crate::registry::Registry, now: i64) -> Result<Checked, AppError> {
    if form.description.trim().is_empty() {
        return Err(invalid("description", "tell us briefly what happened"));
    }
    check_text("description", &form.description, 2_000)?;
    if let Some(c) = &form.contact {
        check_text("contact", c, 100)?;
    }
    if let Some(s) = &form.subject {
        if s.is_empty() || s.chars().count() > 128 {
            return Err(invalid("subject", "a subject id of 1 to 128 characters"));
        }
        check_text("subject", s, 128)?;
    }
    if let Some(a) = form.amount
        && !(0..=1_000_000_000_000).contains(&a.won())
    {
        return Err(invalid("amount", "must be 0 to 1,000,000,000,000 won"));
    }
    if form.age.is_some_and(|a| a > 120) {
        return Err(invalid("age", "must be 0 to 120"));
    }
    let transferred_ms = match &form.transferred_at {
        None => None,
        Some(t) => {
            let ts = Timestamp::parse_kst_local(t).map_err(|e| invalid("transferred_at", e.to_string()))?;
            if ts.millis() > now + crate::MAX_FUTURE_MS {
                return Err(invalid("transferred_at", "is in the future"));
            }
            Some(ts.millis())
        }
    };
    if form.indicators.len() > 10 {
        return Err(invalid("indicators", format!("at most 10, got {}", form.indicators.len())));
    }
    let mut indicators = Vec::new();
    let mut digests = Vec::new();
    for (i, ind) in form.indicators.iter().enumerate() {
        let kind = IndicatorKind::parse(&ind.kind)
            .ok_or_else(|| invalid(&format!("indicators[{i}].kind"), format!("unknown kind {:?}", ind.kind)))?;
        let n = indicators::normalise(kind, &ind.value)
            .map_err(|e| invalid(&format!("indicators[{i}].value"), e.message))?;
        let digest = registry.digest(kind, n.value())?;
        if !digests.contains(&digest) {
            digests.push(digest);
            indicators.push((kind, n.value().to_string()));
        }
    }
    Ok(Checked { form, transferred_ms, indicators, digests })
}

/// The actions a confirmed case sends, with ids that make a repeat harmless.
fn follow_ups(
    tx: &mut dyn Tx,
    id: i64,
    body: &CaseBody,
    reports: &[ReportRow],
    now: i64,
) -> Result<Vec<ActionRow>, AppError> {
    let mut out = Vec::new();
    let mut push = |affiliate: AffiliateId, kind: &str, target: &str, payload: serde_json::Value| {
        let tag = xxhash_rust::xxh3::xxh3_64(format!("{affiliate}\0{kind}\0{target}").as_bytes());
        out.push(ActionRow::queued(format!("act_{id}_{tag:016x}"), affiliate, kind, payload.to_string(), now));
    };
    for ind in &body.indicators {
        let (key, kind) = match ind.kind.as_str() {
            "account" => (format!("bank:{}", ind.value.split(':').next().unwrap_or("")), "hold_account"),
            "profile" => ("profile".to_string(), "sanction_profile"),
            "phone" => ("phone".to_string(), "block_phone"),
            _ => continue,
        };
        if let Some(holder) = tx.holder(&key)? {
            let payload = serde_json::json!({ "case_id": id, "indicator": ind.kind, "value": ind.value });
            push(holder, kind, &ind.value, payload);
        }
    }
    for r in reports {
        if r.source != "public" {
            let payload = serde_json::json!({ "case_id": id, "receipt": r.receipt, "outcome": "confirmed_fraud" });
            push(AffiliateId(r.source.clone()), "notify_victim", &r.receipt, payload);
        }
    }
    Ok(out)
}

impl crate::App {
    /// Files a report: validates it, triages it, joins or opens its case (one case per
    /// indicator, also under simultaneous reports), reports its indicators to the registry and
    /// logs it. Returns the receipt and the secret (shown once).
    pub fn file_report(&self, reporter: &Reporter, form: ReportForm) -> Result<Filed, AppError> {
        self.file(reporter, form, true, now_ms())
    }

    /// Files a report as received at `at_ms` (a report history being imported, or a
    /// simulated year being seeded): its receipt, case, registry rows and audit entries carry
    /// that time, as if it had been filed then.
    pub fn file_report_at(&self, reporter: &Reporter, form: ReportForm, at_ms: i64) -> Result<Filed, AppError> {
        self.file(reporter, form, true, at_ms)
    }

    /// Files a report; `share` reports its indicators to the registry (a person's report does,
    /// a rule's hold does not: the registry must not learn from the rules' own guesses).
    fn file(&self, reporter: &Reporter, form: ReportForm, share: bool, now: i64) -> Result<Filed, AppError> {
        let c = check(form, &self.registry, now)?;
        let priority = priority(&c.form, c.transferred_ms, now);
        let secret = random_text(16);
        // `R…` for a person's report, `D…` for case work a hold or block decision opened.
        let prefix = if share { 'R' } else { 'D' };
        let receipt =
            format!("{prefix}{}-{}", &Timestamp(now).to_kst_rfc3339()[2..10].replace('-', ""), random_text(8));
        let report_body = serde_json::to_string(&c.form).map_err(|e| AppError::Unavailable(e.to_string()))?;
        let indicators: Vec<ReportedIndicator> =
            c.indicators.iter().map(|(k, v)| ReportedIndicator { kind: k.as_str().into(), value: v.clone() }).collect();
        let source = reporter.source();
        let actor = match reporter {
            Reporter::Public { ip } => format!("public {ip}"),
            Reporter::Affiliate(a) => a.to_string(),
        };
        let reporting = match reporter {
            Reporter::Public { .. } => AffiliateId(GROUP.into()),
            Reporter::Affiliate(a) => a.clone(),
        };
        let amount = c.form.amount.map_or(0, |a| a.won());
        if c.form.subject.is_some() && !matches!(reporter, Reporter::Affiliate(_)) {
            return Err(invalid("subject", "only an affiliate names its own user; leave it out of a public report"));
        }
        // A rule's hold is no one's claim of fraud: it names no user's outcome, nor an emerging
        // campaign's sighting (the decision counted that already).
        let subject = if share { c.form.subject.clone() } else { None };
        let sightings = if share {
            crate::clusters::of_report(&c.indicators, &c.digests, crate::trends::kst_day(now))
        } else {
            Vec::new()
        };
        let typology = c.form.kind.typology();
        // The registry's writers wait for this report; decisions do not.
        let writing = self.registry.write_lock();
        let rows: Vec<(IndicatorKind, &str, &str, Status)> = if share {
            c.indicators.iter().map(|(k, v)| (*k, v.as_str(), typology, Status::Reported)).collect()
        } else {
            Vec::new()
        };
        let pending = self.registry.prepare(&writing, &reporting, &rows, now).map_err(|mut bad| bad.remove(0).1)?;
        let (case_id, new_case) = self.unit_of_work(|tx| {
            let linked = tx.cases_linked(&c.digests)?;
            let open = linked.iter().filter(|x| x.state.is_open()).min_by_key(|x| x.id);
            let mut audit = vec![AuditEntry {
                at_ms: now,
                actor: actor.clone(),
                case_id: None,
                action: "report.filed".into(),
                detail: format!(
                    "{{\"receipt\":\"{receipt}\",\"kind\":\"{}\",\"priority\":{priority},\"indicators\":{}}}",
                    c.form.kind.as_str(),
                    c.indicators.len()
                ),
            }];
            let (id, fresh) = match open {
                Some(case) => {
                    let mut row = case.clone();
                    let mut body = CaseBody::parse(row.id, &row.body)?;
                    for i in &indicators {
                        if !body.indicators.contains(i) {
                            body.indicators.push(i.clone());
                        }
                    }
                    if !body.kinds.contains(&c.form.kind) {
                        body.kinds.push(c.form.kind);
                    }
                    if !row.reporting.contains(&source) {
                        row.reporting.push(source.clone());
                    }
                    let expected = row.updated_ms;
                    row.money_at_risk += amount;
                    row.priority = row.priority.max(priority);
                    row.updated_ms = now.max(expected + 1);
                    row.body = body.to_text()?;
                    tx.update_case(&row, expected)?;
                    audit.push(AuditEntry {
                        at_ms: now,
                        actor: actor.clone(),
                        case_id: Some(row.id),
                        action: "case.joined".into(),
                        detail: format!("{{\"priority\":{}}}", row.priority),
                    });
                    (row.id, false)
                }
                None => {
                    // Every linked case is closed: a new case, linked to the latest of them.
                    let previous = linked.iter().map(|x| x.id).max();
                    let body = CaseBody {
                        version: CaseBody::VERSION,
                        indicators: indicators.clone(),
                        kinds: vec![c.form.kind],
                        notes: Vec::new(),
                        relief: None,
                    };
                    let row = CaseRow {
                        id: 0,
                        state: CaseState::New,
                        outcome: None,
                        priority,
                        assignee: None,
                        typology: Some(typology.to_string()),
                        money_at_risk: amount,
                        reporting: vec![source.clone()],
                        holding: Vec::new(),
                        linked_case: previous,
                        opened_ms: now,
                        updated_ms: now,
                        sla_due_ms: now + sla_minutes(priority, self.config.sla_base_minutes) * 60_000,
                        first_action_ms: None,
                        closed_ms: None,
                        body: body.to_text()?,
                    };
                    let id = tx.insert_case(&row)?;
                    if let Some(p) = previous {
                        audit.push(AuditEntry {
                            at_ms: now,
                            actor: actor.clone(),
                            case_id: Some(id),
                            action: "case.follows".into(),
                            detail: format!("{{\"closed_case\":{p}}}"),
                        });
                    }
                    (id, true)
                }
            };
            audit[0].case_id = Some(id);
            tx.link(id, &c.digests)?;
            tx.insert_report(&ReportRow {
                receipt: receipt.clone(),
                secret_hash: hash_secret(&secret),
                source: source.clone(),
                kind: c.form.kind.as_str().into(),
                case_id: id,
                priority,
                body: report_body.clone(),
                created_ms: now,
                subject: subject.clone(),
                amount,
            })?;
            tx.append_audit(&audit)?;
            tx.count_reported(&reporting, &sightings)?;
            let rows: Vec<store::IndicatorReport> = pending.iter().map(|p| p.row.clone()).collect();
            if !rows.is_empty() {
                tx.upsert_reports(&reporting, &rows)?;
            }
            Ok((id, fresh))
        })?;
        self.registry.apply(&writing, pending);
        drop(writing);
        let m = &self.metrics;
        if share {
            m.reports_filed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        if new_case {
            m.cases_opened.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        Ok(Filed { receipt, secret, priority, case_id, new_case })
    }

    /// A report's progress, for its reporter only: the public needs the secret; an affiliate
    /// sees the reports it filed.
    pub fn report_status(
        &self,
        receipt: &str,
        secret: Option<&str>,
        affiliate: Option<&AffiliateId>,
    ) -> Result<(store::ReportRow, CaseRow), AppError> {
        let not_found = || AppError::NotFound(format!("report {receipt}"));
        let r = self.store.report(receipt)?.ok_or_else(not_found)?;
        let allowed = match (secret, affiliate) {
            (Some(s), _) => hash_secret(s) == r.secret_hash,
            (None, Some(a)) => r.source == a.as_str(),
            (None, None) => false,
        };
        // Wrong secret and unknown receipt look the same: nothing about other reports leaks.
        if !allowed {
            return Err(not_found());
        }
        let case = self.store.case(r.case_id)?.ok_or_else(not_found)?;
        Ok((r, case))
    }

    /// The case queue: open cases, highest priority first.
    pub fn case_queue(&self, p: &Principal, limit: usize) -> Result<Vec<CaseRow>, AppError> {
        authorize(p, Action::WorkCases)?;
        Ok(self.store.open_cases(limit.clamp(1, 1_000))?)
    }

    /// One case with its reports.
    pub fn case_detail(&self, p: &Principal, id: i64) -> Result<(CaseRow, Vec<store::ReportRow>), AppError> {
        authorize(p, Action::WorkCases)?;
        let c = self.store.case(id)?.ok_or_else(|| AppError::NotFound(format!("case {id}")))?;
        Ok((c, self.store.case_reports(id)?))
    }

    /// Applies an analyst's change, in one unit of work. Confirming fraud flags every indicator
    /// of the case as confirmed in the registry and queues follow-up actions: hold each fraud
    /// account at the affiliate holding its bank, sanction profiles at the messenger, notify the
    /// victims at the affiliates that filed their reports. The audit log names the principal
    /// who made the change, never a name taken from the request.
    pub fn change_case(&self, p: &Principal, id: i64, change: Change) -> Result<CaseRow, AppError> {
        authorize(p, Action::WorkCases)?;
        let actor = p.actor();
        let to_state = match &change.state {
            None => None,
            Some(s) => Some(CaseState::parse(s).ok_or_else(|| {
                invalid("state", format!("one of {}", CaseState::ALL.map(CaseState::as_str).join(", ")))
            })?),
        };
        let outcome = match &change.outcome {
            None => None,
            Some(o) => Some(CaseOutcome::parse(o).ok_or_else(|| {
                invalid("outcome", format!("one of {}", CaseOutcome::ALL.map(CaseOutcome::as_str).join(", ")))
            })?),
        };
        if let Some(a) = &change.assignee {
            check_text("assignee", a, 64)?;
        }
        if let Some(n) = &change.note {
            check_text("note", n, 4_000)?;
        }
        let now = now_ms();
        let group = AffiliateId(GROUP.into());
        // Held from reading the registry's contributions to applying the confirmation.
        let writing = self.registry.write_lock();
        let mut pending = Vec::new();
        let mut confirmed = false;
        let row = self.unit_of_work(|tx| {
            pending.clear();
            let mut row = tx.case(id)?.ok_or_else(|| AppError::NotFound(format!("case {id}")))?;
            let expected = row.updated_ms;
            let mut body = CaseBody::parse(id, &row.body)?;
            let mut audit = Vec::new();
            let mut log = |action: &str, detail: String| {
                audit.push(AuditEntry {
                    at_ms: now,
                    actor: actor.clone(),
                    case_id: Some(id),
                    action: action.into(),
                    detail,
                })
            };
            if !row.state.is_open() {
                return Err(AppError::Conflict(format!("case {id} is closed")));
            }
            if let Some(o) = outcome
                && row.outcome == Some(CaseOutcome::ConfirmedFraud)
                && o != CaseOutcome::ConfirmedFraud
            {
                return Err(AppError::Conflict("a confirmed case cannot be un-confirmed; close it".into()));
            }
            if let Some(to) = to_state {
                if !row.state.can_move_to(to) {
                    return Err(AppError::Conflict(format!("case {id} is {}; it cannot go back to {to}", row.state)));
                }
                if to == CaseState::Closed && outcome.is_none() && row.outcome.is_none() {
                    return Err(invalid("outcome", "closing a case needs an outcome"));
                }
                log("case.state", format!("{{\"from\":\"{}\",\"to\":\"{to}\"}}", row.state));
                row.state = to;
                if to == CaseState::Closed {
                    row.closed_ms = Some(now);
                }
            }
            if let Some(a) = &change.assignee {
                log("case.assigned", format!("{{\"assignee\":{}}}", serde_json::Value::from(a.as_str())));
                row.assignee = Some(a.clone());
            }
            if let Some(n) = &change.note {
                body.notes.push(Note { at_ms: now, author: actor.clone(), text: n.clone() });
                log("case.note", format!("{{\"chars\":{}}}", n.chars().count()));
            }
            let reports = tx.case_reports(id)?;
            if let Some(step) = &change.relief {
                // Victims of the same account share the refund pro rata by what they lost.
                let claims: Vec<(String, i64)> = reports
                    .iter()
                    .filter_map(|r| {
                        let f: ReportForm = serde_json::from_str(&r.body).ok()?;
                        let won = f.amount.map_or(0, |a| a.won());
                        // Reports a rule's hold made (`D…`) are not victims' claims.
                        (won > 0 && !r.receipt.starts_with('D')).then_some((r.receipt.clone(), won))
                    })
                    .collect();
                let detail = apply_relief(&mut body, step, &claims, now)?;
                log("case.relief", detail);
                if row.state < CaseState::Relief {
                    row.state = CaseState::Relief;
                }
            }
            let confirming =
                outcome == Some(CaseOutcome::ConfirmedFraud) && row.outcome != Some(CaseOutcome::ConfirmedFraud);
            confirmed = confirming;
            if let Some(o) = outcome {
                log("case.outcome", format!("{{\"outcome\":\"{o}\"}}"));
                row.outcome = Some(o);
            }
            let mut actions = Vec::new();
            if confirming {
                if row.state < CaseState::ActionTaken {
                    row.state = CaseState::ActionTaken;
                }
                actions = follow_ups(tx, id, &body, &reports, now)?;
                for a in &actions {
                    if a.kind != "notify_victim" && !row.holding.iter().any(|h| h == a.affiliate.as_str()) {
                        row.holding.push(a.affiliate.to_string());
                    }
                }
                log(
                    "case.confirmed",
                    format!("{{\"indicators\":{},\"actions\":{}}}", body.indicators.len(), actions.len()),
                );
                let typology = body.kinds.first().map_or("fraud", |k| k.typology());
                let rows: Vec<(IndicatorKind, &str, &str, Status)> = body
                    .indicators
                    .iter()
                    .filter_map(|i| {
                        Some((IndicatorKind::parse(&i.kind)?, i.value.as_str(), typology, Status::Confirmed))
                    })
                    .collect();
                pending = self.registry.prepare(&writing, &group, &rows, now).map_err(|mut bad| bad.remove(0).1)?;
                let stored: Vec<store::IndicatorReport> = pending.iter().map(|p| p.row.clone()).collect();
                tx.upsert_reports(&group, &stored)?;
            }
            if audit.is_empty() {
                return Err(invalid(".", "nothing to change"));
            }
            if row.first_action_ms.is_none() {
                row.first_action_ms = Some(now);
            }
            row.updated_ms = now.max(expected + 1);
            row.body = body.to_text()?;
            tx.update_case(&row, expected)?;
            tx.append_audit(&audit)?;
            tx.queue_actions(&actions)?;
            Ok(row)
        })?;
        if confirmed {
            self.metrics.cases_confirmed.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
        self.registry.apply(&writing, std::mem::take(&mut pending));
        Ok(row)
    }

    /// What is overdue across open cases: a first action past its SLA, and relief deadlines
    /// that passed (written request, holder notice, refund decision, ...).
    pub fn alerts(&self, p: &Principal, now: i64) -> Result<Vec<Alert>, AppError> {
        Ok(self.attention(p, now, ATTENTION_READ)?.0)
    }

    /// [`App::alerts`] over the `limit` most overdue cases that may need attention, with
    /// those cases (the console's queue shows them first).
    pub fn attention(&self, p: &Principal, now: i64, limit: usize) -> Result<(Vec<Alert>, Vec<CaseRow>), AppError> {
        authorize(p, Action::WorkCases)?;
        let cal = crate::relief::Calendar::korea();
        let mut out = Vec::new();
        let cases = self.store.attention_cases(now, limit)?;
        for c in &cases {
            if c.first_action_ms.is_none() && now > c.sla_due_ms {
                out.push(Alert { case_id: c.id, what: "first_action".into(), due_ms: c.sla_due_ms });
            }
            // Relief moves a case to the relief state (and only closing moves it on), so no
            // other open case has relief deadlines: only those bodies are read.
            if c.state != CaseState::Relief {
                continue;
            }
            let body = CaseBody::parse(c.id, &c.body)?;
            if let Some(r) = &body.relief {
                match r.overdue(now, cal) {
                    Ok(list) => out.extend(list.into_iter().map(|d| Alert {
                        case_id: c.id,
                        what: d.step.as_str().into(),
                        due_ms: d.due_ms,
                    })),
                    // A deadline the calendar cannot compute (no holidays for that year) is an
                    // alert in itself: someone must load next year's calendar.
                    Err(e) => out.push(Alert { case_id: c.id, what: format!("calendar: {e}"), due_ms: now }),
                }
            }
        }
        out.sort_by_key(|a| (a.due_ms, a.case_id));
        Ok((out, cases))
    }

    /// Checks the audit log's hash chain: the number of rows, or the first bad row and why.
    pub fn verify_audit(&self) -> Result<Result<usize, (i64, String)>, AppError> {
        Ok(store::verify_audit(&self.store.audit_log()?))
    }

    /// Opens or joins the case of a hold or block decision from the outbox: the decision's
    /// counterparty account, phone or profile joins (or opens) a case, as a report from the
    /// affiliate that decided.
    pub(crate) fn case_from_decision(&self, a: &AffiliateId, payload: &str) -> Result<(), AppError> {
        let v: serde_json::Value = serde_json::from_str(payload).unwrap_or_default();
        // Written by event id; outboxes from before the store numbered events name the decision.
        let rec = match (v["event_id"].as_str(), v["decision_id"].as_str()) {
            (Some(id), _) => self.store.event_by_id(a, id)?,
            (None, Some(d)) => self.decision(a, d).ok(),
            (None, None) => None,
        };
        let Some(rec) = rec else { return Ok(()) };
        let decision_id = rec.decision_id.as_str();
        let Ok(event) = domain::Event::from_json(&rec.event_json, None) else { return Ok(()) };
        let Some(cp) = event.counterparty() else { return Ok(()) };
        let mut inds = Vec::new();
        if let Some(k) = &cp.account_key {
            inds.push(ReportedIndicator { kind: "account".into(), value: k.clone() });
        }
        if let Some(p) = &cp.phone {
            inds.push(ReportedIndicator { kind: "phone".into(), value: p.clone() });
        }
        if let Some(p) = &cp.profile {
            inds.push(ReportedIndicator { kind: "profile".into(), value: p.clone() });
        }
        // Only indicators that normalise: an odd phone spelling must not stop the outbox.
        inds.retain(|i| IndicatorKind::parse(&i.kind).is_some_and(|k| indicators::normalise(k, &i.value).is_ok()));
        if inds.is_empty() {
            return Ok(());
        }
        let amount = match &event.body {
            domain::EventBody::Transfer(t) => Some(t.amount),
            _ => None,
        };
        let kind = match &event.body {
            domain::EventBody::Message(_) | domain::EventBody::Contact(_) => ReportKind::MessengerPhishing,
            _ => ReportKind::VoicePhishing,
        };
        let form = ReportForm {
            kind,
            description: format!("{} decision {decision_id} ({})", rec.verdict, rec.kind),
            amount,
            transferred_at: None,
            contact_ongoing: false,
            age: None,
            indicators: inds,
            contact: None,
            subject: None,
        };
        // Opened when the event was held, not when the outbox was drained: a backlog (or a
        // seeded history) keeps its cases in the months they happened. Never in the future.
        self.file(&Reporter::Affiliate(a.clone()), form, false, rec.at_ms.min(now_ms())).map(|_| ())
    }
}
