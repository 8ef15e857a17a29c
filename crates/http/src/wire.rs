//! The wire format: every JSON shape the HTTP API and the CLI read or write, with its OpenAPI
//! schema. Only this crate knows these types. They are converted by hand from the domain and
//! application types, so a change in the core cannot silently change the API: it stops
//! compiling here instead.
//!
//! The one exception is the event a client sends: it is read by `domain::Event::from_json`,
//! which defines and validates that shape once for the server, the fixtures and the simulator.
//! [`EventRequest`] only describes it for the OpenAPI document.

use app::{Decided, RulesetInfo};
use domain::{Decision, Evidence, Guidance, MatchedRule, Shield, Verdict};
use rules::Diagnostic;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// What the affiliate should do: `block > hold > warn > allow`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum VerdictBody {
    /// Go ahead.
    Allow,
    /// Go ahead after the user confirms a warning.
    Warn,
    /// Delay or send to review.
    Hold,
    /// Do not go ahead.
    Block,
}

impl From<Verdict> for VerdictBody {
    fn from(v: Verdict) -> Self {
        match v {
            Verdict::Allow => VerdictBody::Allow,
            Verdict::Warn => VerdictBody::Warn,
            Verdict::Hold => VerdictBody::Hold,
            Verdict::Block => VerdictBody::Block,
        }
    }
}

/// Colour of the recipient shield the app shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ShieldBody {
    /// Blue: nothing known against it.
    Safe,
    /// Yellow: look twice.
    Caution,
    /// Red: fraud indicators.
    Danger,
}

impl From<Shield> for ShieldBody {
    fn from(s: Shield) -> Self {
        match s {
            Shield::Safe => ShieldBody::Safe,
            Shield::Caution => ShieldBody::Caution,
            Shield::Danger => ShieldBody::Danger,
        }
    }
}

/// A rule that matched, with the reason to show the user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ReasonBody {
    /// The rule's id.
    pub rule: String,
    /// Reason in Korean.
    pub ko: String,
    /// Reason in English.
    pub en: String,
    /// The rule's own verdict.
    pub verdict: VerdictBody,
    /// The rule's score contribution (negative for allow-list rules).
    pub score: i32,
    /// Typology tags such as `impersonation` or `mule`.
    pub tags: Vec<String>,
}

impl From<&MatchedRule> for ReasonBody {
    fn from(r: &MatchedRule) -> Self {
        ReasonBody {
            rule: r.rule.to_string(),
            ko: r.ko.to_string(),
            en: r.en.to_string(),
            verdict: r.verdict.into(),
            score: r.score,
            tags: r.tags.iter().map(|t| t.to_string()).collect(),
        }
    }
}

/// Confirm-dialog text for a `warn`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ConfirmBody {
    /// Korean text.
    pub ko: String,
    /// English text.
    pub en: String,
}

/// What the affiliate's app should show.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct GuidanceBody {
    /// Shield colour.
    pub shield: ShieldBody,
    /// For `hold`: minutes to delay before the action may go ahead.
    pub hold_minutes: Option<u32>,
    /// For `warn`: the confirm dialog's text.
    pub confirm: Option<ConfirmBody>,
}

impl From<&Guidance> for GuidanceBody {
    fn from(g: &Guidance) -> Self {
        GuidanceBody {
            shield: g.shield.into(),
            hold_minutes: g.hold_minutes,
            confirm: g.confirm.as_ref().map(|c| ConfirmBody { ko: c.ko.clone(), en: c.en.clone() }),
        }
    }
}

/// A feature or signal value a matched rule read.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct EvidenceBody {
    /// `features.transfers_1h`, `event.amount`, ...
    pub name: String,
    /// The value the rule saw (`null` when absent).
    pub value: serde_json::Value,
}

impl From<&Evidence> for EvidenceBody {
    fn from(e: &Evidence) -> Self {
        EvidenceBody { name: e.name.to_string(), value: e.value.clone() }
    }
}

/// ansim's answer about one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DecisionBody {
    /// The decision's id, for `GET /v1/decisions/{id}`.
    pub decision_id: String,
    /// The event decided on.
    pub event_id: String,
    /// The combined verdict.
    pub verdict: VerdictBody,
    /// Risk score 0..=100.
    pub score: u8,
    /// Matched rules, strongest verdict first.
    pub reasons: Vec<ReasonBody>,
    /// What the app should show.
    pub guidance: GuidanceBody,
    /// The ruleset version that decided, as `name@vN`.
    pub ruleset: String,
    /// The feature values the matched rules read.
    pub evidence: Vec<EvidenceBody>,
    /// True when this event id was decided before and this is the stored decision (always
    /// false when read back with `GET /v1/decisions/{id}`).
    pub duplicate: bool,
    /// For messages and contacts: what stage-1 analysis found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<AnalysisBody>,
    /// Shadow rules that matched: recorded, never acted on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shadow: Vec<String>,
}

impl DecisionBody {
    /// The wire form of a stored or new decision.
    pub fn new(decision_id: &str, d: &Decision, duplicate: bool) -> Self {
        let o = OutcomeBody::from(d);
        DecisionBody {
            decision_id: decision_id.to_string(),
            event_id: o.event_id,
            verdict: o.verdict,
            score: o.score,
            reasons: o.reasons,
            guidance: o.guidance,
            ruleset: o.ruleset,
            evidence: o.evidence,
            duplicate,
            analysis: o.analysis,
            shadow: o.shadow,
        }
    }
}

impl From<&Decided> for DecisionBody {
    fn from(d: &Decided) -> Self {
        DecisionBody::new(&d.decision_id, &d.decision, d.duplicate)
    }
}

/// A decision without storage: one line of `ansim replay`'s output.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct OutcomeBody {
    /// The event decided on.
    pub event_id: String,
    /// The combined verdict.
    pub verdict: VerdictBody,
    /// Risk score 0..=100.
    pub score: u8,
    /// Matched rules, strongest verdict first.
    pub reasons: Vec<ReasonBody>,
    /// What the app should show.
    pub guidance: GuidanceBody,
    /// The ruleset version that decided.
    pub ruleset: String,
    /// The feature values the matched rules read.
    pub evidence: Vec<EvidenceBody>,
    /// For messages and contacts: what stage-1 analysis found.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<AnalysisBody>,
    /// Shadow rules that matched: recorded, never acted on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shadow: Vec<String>,
}

impl From<&Decision> for OutcomeBody {
    fn from(d: &Decision) -> Self {
        OutcomeBody {
            event_id: d.event_id.to_string(),
            verdict: d.verdict.into(),
            score: d.score,
            reasons: d.reasons.iter().map(ReasonBody::from).collect(),
            guidance: (&d.guidance).into(),
            ruleset: d.ruleset.to_string(),
            evidence: d.evidence.iter().map(EvidenceBody::from).collect(),
            analysis: d.analysis.as_deref().map(AnalysisBody::from),
            shadow: d.shadow.iter().map(|s| s.to_string()).collect(),
        }
    }
}

macro_rules! event_schema {
    ($(#[$doc:meta])* $name:ident, $kind:literal, $pattern:literal, $member:ident: $ty:ty) => {
        $(#[$doc])*
        #[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
        #[serde(deny_unknown_fields)]
        pub struct $name {
            /// Idempotency key, unique per affiliate: a repeated id returns the stored decision.
            /// Ids that sort in time order (a zero-padded timestamp or counter first, as in
            /// UUIDv7) are stored more cheaply than random ones (UUIDv4): their index entries
            /// fill the same pages.
            #[schema(min_length = 1, max_length = 128)]
            pub id: String,
            /// Optional; must equal the API key's affiliate.
            #[serde(default)]
            pub affiliate: Option<domain::AffiliateId>,
            #[doc = concat!("`", $kind, "`.")]
            #[schema(pattern = $pattern)]
            pub kind: String,
            /// RFC 3339 time with an offset, from the affiliate's clock; not in the future
            /// and within the server's event-age horizon.
            #[schema(format = DateTime)]
            pub at: String,
            /// The protected user.
            pub subject: domain::Subject,
            /// The device, when the event comes from an app or browser.
            #[serde(default)]
            pub device: Option<domain::Device>,
            /// The network origin.
            #[serde(default)]
            pub ip: Option<domain::IpInfo>,
            /// Where the user acted.
            #[serde(default)]
            pub channel: Option<domain::Channel>,
            #[doc = concat!("The body of a `", $kind, "`.")]
            pub $member: $ty,
        }
    };
}

event_schema!(
    /// A login attempt.
    LoginEvent, "login", "^login$", login: Option<domain::Login>
);
event_schema!(
    /// A transfer out of the subject's account.
    TransferEvent, "transfer", "^transfer$", transfer: domain::Transfer
);
event_schema!(
    /// A card or simple payment.
    PaymentEvent, "payment", "^payment$", payment: domain::Payment
);
event_schema!(
    /// A loan application.
    LoanApplicationEvent, "loan_application", "^loan_application$", loan_application: domain::LoanApplication
);
event_schema!(
    /// A change to the account (phone, password, device, limits, ...).
    AccountChangeEvent, "account_change", "^account_change$", account_change: domain::AccountChange
);
event_schema!(
    /// A message the subject received.
    MessageEvent, "message", "^message$", message: domain::Message
);
event_schema!(
    /// A stranger's first contact with the subject.
    ContactEvent, "contact", "^contact$", contact: domain::Contact
);
event_schema!(
    /// The result of a device scan.
    DeviceScanEvent, "device_scan", "^device_scan$", device_scan: Option<domain::DeviceScan>
);

/// One event to decide on, as `domain::Event::from_json` reads it: one of the kinds, where
/// `kind` names the member that carries the kind's body (`"kind": "transfer", "transfer":
/// {...}`). Unknown members are rejected. The affiliate comes from the API key; if given it
/// must match.
// A document type (the server reads events with `domain::Event::from_json`), never built on a
// request's path, so the size of its variants does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
#[schema(example = json!({
    "id": "evt_01J9", "kind": "transfer", "at": "2026-11-26T02:14:05+09:00",
    "subject": { "id": "u_8812", "age_band": "60s", "account_age_days": 2210 },
    "device": { "id": "d_77", "new_for_subject": true, "remote_control_app": true },
    "transfer": { "amount": 4800000, "currency": "KRW", "counterparty": { "bank": "088", "account": "110-123-456789", "name": "김**" },
                  "balance_before": 5100000 }
}))]
pub enum EventRequest {
    /// `login`.
    Login(LoginEvent),
    /// `transfer`.
    Transfer(TransferEvent),
    /// `payment`.
    Payment(PaymentEvent),
    /// `loan_application`.
    LoanApplication(LoanApplicationEvent),
    /// `account_change`.
    AccountChange(AccountChangeEvent),
    /// `message`.
    Message(MessageEvent),
    /// `contact`.
    Contact(ContactEvent),
    /// `device_scan`.
    DeviceScan(DeviceScanEvent),
}

/// Several events in one request, decided in order.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BatchRequest {
    /// At most the server's batch limit (1,000 by default).
    pub events: Vec<EventRequest>,
}

/// One result of a batch: a decision, or the problem with that event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum BatchItem {
    /// The event was decided.
    Decision(Box<DecisionBody>),
    /// The event was rejected (nothing was stored for it).
    Problem(Problem),
}

/// The results of a batch, one per event, in request order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct BatchResponse {
    /// A decision or a problem per event.
    pub results: Vec<BatchItem>,
}

/// An RFC 9457 problem: every error response of the API has this shape
/// (`application/problem+json`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:ansim:problem:invalid-request`, ...).
    #[serde(rename = "type")]
    pub kind: String,
    /// Short summary of the kind of problem.
    pub title: String,
    /// The HTTP status code.
    pub status: u16,
    /// What went wrong with this request.
    pub detail: String,
    /// For 400: the JSON path of the bad field (`transfer.amount`), or `.` for the document.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub field: Option<String>,
    /// For 422: what is wrong in the ruleset, with lines and columns.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub diagnostics: Option<Vec<DiagnosticBody>>,
    /// For a 400 on an uploaded file: every bad line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub errors: Option<Vec<LineError>>,
}

/// One problem in a ruleset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DiagnosticBody {
    /// Stable kebab-case code such as `unknown-field`.
    pub code: String,
    /// What is wrong, in one sentence.
    pub message: String,
    /// 1-based line in the ruleset text.
    pub line: usize,
    /// 1-based column (in characters).
    pub column: usize,
    /// A concrete fix, when one fits.
    pub suggestion: Option<String>,
    /// The rule or feature it belongs to, when known.
    pub item: Option<String>,
    /// The diagnostic rendered like a compiler error, with the source line and a caret.
    pub rendered: String,
}

impl DiagnosticBody {
    /// The wire form of `d`, raised on `source`.
    pub fn new(d: &Diagnostic, source: &str) -> Self {
        let (line, column) = d.line_col.unwrap_or_else(|| rules::diag::line_col(source, d.span.start));
        DiagnosticBody {
            code: d.code.to_string(),
            message: d.message.clone(),
            line,
            column,
            suggestion: d.suggestion.clone(),
            item: d.item.clone(),
            rendered: d.render("ruleset.toml", source),
        }
    }

    /// Every diagnostic of one ruleset text.
    pub fn all(diags: &[Diagnostic], source: &str) -> Vec<DiagnosticBody> {
        diags.iter().map(|d| DiagnosticBody::new(d, source)).collect()
    }
}

/// The outcome of checking a ruleset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ValidationBody {
    /// True when the ruleset compiles.
    pub valid: bool,
    /// Every problem found, all at once.
    pub diagnostics: Vec<DiagnosticBody>,
}

/// A published ruleset version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RulesetBody {
    /// Version number, 1, 2, ... per affiliate.
    pub version: i64,
    /// `name@vN`, as decisions name it.
    pub label: String,
    /// Number of rules.
    pub rules: usize,
    /// Number of streaming features.
    pub features: usize,
    /// When it was published, ms since the epoch.
    pub published_ms: i64,
    /// Whether it is the active version.
    pub active: bool,
    /// The TOML source (left out of listings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
}

impl RulesetBody {
    /// The wire form, with or without its source text.
    pub fn new(r: &RulesetInfo, with_source: bool) -> Self {
        RulesetBody {
            version: r.version,
            label: r.label.clone(),
            rules: r.rules,
            features: r.features,
            published_ms: r.published_ms,
            active: r.active,
            source: with_source.then(|| r.source.clone()),
        }
    }
}

/// Every published version of the affiliate's ruleset.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RulesetHistory {
    /// Newest first.
    pub versions: Vec<RulesetBody>,
}

/// One indicator as an app knows it: its kind and its value in any common spelling.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct IndicatorRef {
    /// `phone`, `account`, `url`, `domain`, `profile`, `device`, `ip` or `wallet`.
    #[schema(pattern = "^(phone|account|url|domain|profile|device|ip|wallet)$")]
    pub kind: String,
    /// The raw value (`010-1234-5678`, `088 110-123-456789`, ...); normalised by ansim.
    #[schema(min_length = 1)]
    pub value: String,
}

/// A report on an indicator by the caller's affiliate, or its confirmation or clearing.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportRequest {
    /// Indicator kind: `phone`, `account`, `url`, `domain`, `profile`, `device`, `ip` or `wallet`.
    #[schema(pattern = "^(phone|account|url|domain|profile|device|ip|wallet)$")]
    pub kind: String,
    /// Raw value.
    #[schema(min_length = 1)]
    pub value: String,
    /// Typology such as `mule`, `impersonation`, `smishing`.
    #[schema(min_length = 1, max_length = 64)]
    pub typology: String,
    /// `reported` (default; scope `decide`), `confirmed` or `cleared` (scope `rules:write`).
    #[serde(default)]
    #[schema(pattern = "^(reported|confirmed|cleared)$")]
    pub status: Option<String>,
}

/// What a bulk import wrote.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ImportResponse {
    /// Rows read.
    pub rows: usize,
    /// Distinct indicators touched.
    pub indicators: usize,
}

/// One bad line of an uploaded file.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LineError {
    /// 1-based line number.
    pub line: usize,
    /// What is wrong with it.
    pub message: String,
}

/// Indicators to show a shield for (at most 100).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ShieldRequest {
    /// The indicators, e.g. the recipient's account and phone.
    pub indicators: Vec<IndicatorRef>,
}

/// What the group's registry says about one indicator: aggregates, never who reported it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ShieldEntry {
    /// Indicator kind.
    pub kind: String,
    /// `safe` (blue), `caution` or `danger` (red).
    pub shield: String,
    /// Standing reports across the group.
    pub reports: i64,
    /// Affiliates with a standing report.
    pub affiliates: i64,
    /// Confirmed as fraud by an affiliate.
    pub confirmed: bool,
    /// Latest report, RFC 3339 in KST.
    pub last_reported: Option<String>,
    /// Typologies reported.
    pub typologies: Vec<String>,
    /// What the app shows, in Korean.
    pub ko: String,
    /// What the app shows, in English.
    pub en: String,
}

impl ShieldEntry {
    /// Builds the entry from the registry's aggregate.
    pub fn new(kind: &str, a: &app::registry::Aggregate) -> ShieldEntry {
        use app::registry::Level;
        let (ko, en) = match a.level {
            Level::Safe => ("사기 신고 이력이 없습니다.", "No fraud reports."),
            Level::Caution => (
                "최근 사기 신고가 있었습니다. 보내기 전에 받는 사람을 꼭 확인하세요.",
                "Recently reported for fraud. Check the recipient before you send money.",
            ),
            Level::Danger => (
                "사기로 확인되었거나 여러 곳에서 신고된 대상입니다. 돈을 보내지 마세요.",
                "Confirmed or repeatedly reported as fraud. Do not send money.",
            ),
        };
        ShieldEntry {
            kind: kind.to_string(),
            shield: a.level.as_str().to_string(),
            reports: a.reports,
            affiliates: a.affiliates,
            confirmed: a.confirmed,
            last_reported: (a.last_ms > 0).then(|| domain::Timestamp(a.last_ms).to_kst_rfc3339()),
            typologies: a.typologies.clone(),
            ko: ko.to_string(),
            en: en.to_string(),
        }
    }
}

/// An API key as listed: never the key itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct KeyBody {
    /// The key's first characters, to recognise it.
    pub prefix: String,
    /// What it may do.
    pub scopes: Vec<String>,
    /// Revoked keys authenticate nothing.
    pub revoked: bool,
}

impl From<&store::ApiKey> for KeyBody {
    fn from(k: &store::ApiKey) -> Self {
        KeyBody {
            prefix: k.prefix.clone(),
            scopes: k.scopes.iter().map(|s| s.as_str().into()).collect(),
            revoked: k.revoked,
        }
    }
}

/// An affiliate's keys.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct KeyList {
    /// Oldest first.
    pub keys: Vec<KeyBody>,
}

/// One shield per requested indicator, in order.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct ShieldResponse {
    /// The shields.
    pub results: Vec<ShieldEntry>,
}

/// One affiliate's contribution to the registry, for the safety table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AffiliateTotals {
    /// The affiliate.
    pub affiliate: String,
    /// Indicators it reported.
    pub indicators: i64,
    /// Of those, confirmed.
    pub confirmed: i64,
    /// Of those, cleared.
    pub cleared: i64,
    /// Reports in all (an indicator may be reported several times).
    pub reports: i64,
}

/// Registry totals per affiliate.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct RegistryTotals {
    /// One row per reporting affiliate, by id.
    pub affiliates: Vec<AffiliateTotals>,
}

/// Which version to make active again.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RollbackRequest {
    /// A version from the history.
    pub version: i64,
}

/// Liveness and readiness.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct HealthBody {
    /// `ok`, `degraded` (a dependency did not answer when last asked; the node still serves,
    /// see `dependencies`) or `ready`.
    pub status: String,
    /// Affiliates served (readiness only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affiliates: Option<usize>,
    /// Each dependency's latest answer (liveness only; asked every second in the background).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub dependencies: Vec<DependencyBody>,
}

/// A dependency's latest answer.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct DependencyBody {
    /// `store`, `redis` or `nats`.
    pub name: String,
    /// `ok` or `down`.
    pub status: String,
    /// Round trip, ms, when measured.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub latency_ms: Option<f64>,
    /// What went wrong.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// When it was asked (RFC 3339, Korea time).
    pub checked_at: String,
}

/// Delayed transfer: transfers of `threshold` won or more to a payee first paid less than 72
/// hours ago are held `hours` hours, and the user can cancel them meanwhile.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DelayedTransferBody {
    /// Smallest amount delayed, won (at least 1).
    #[schema(minimum = 1, maximum = 1_000_000_000_000_000_i64)]
    pub threshold: i64,
    /// Hours held (1 to 72).
    #[schema(minimum = 1, maximum = 72)]
    pub hours: u32,
}

/// A bank account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AccountBody {
    /// Three-digit bank code (`088`).
    #[schema(pattern = "^[0-9]{3}$")]
    pub bank: String,
    /// Account number, 6 to 20 digits; hyphens and spaces are removed.
    #[schema(pattern = "^[0-9](?:[ -]?[0-9]){5,19}$")]
    pub account: String,
}

/// Designated accounts only: any other payee gets at most `daily_cap` won per KST day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DesignatedAccountsBody {
    /// 1 to 20 accounts.
    #[schema(min_items = 1, max_items = 20)]
    pub accounts: Vec<AccountBody>,
    /// Won per day to accounts not listed (0 = none).
    #[schema(minimum = 0, maximum = 1_000_000_000_000_000_i64)]
    pub daily_cap: i64,
}

/// Self-protection settings; a part left out is off.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProtectionSettings {
    /// Delayed transfer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delayed_transfer: Option<DelayedTransferBody>,
    /// Designated accounts only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub designated_accounts: Option<DesignatedAccountsBody>,
    /// Block loan applications.
    #[serde(default)]
    pub loan_lock: bool,
}

impl From<ProtectionSettings> for app::protection::Settings {
    fn from(s: ProtectionSettings) -> Self {
        use app::protection as p;
        p::Settings {
            delayed_transfer: s
                .delayed_transfer
                .map(|d| p::DelayedTransfer { threshold: domain::Krw(d.threshold), hours: d.hours }),
            designated_accounts: s.designated_accounts.map(|d| p::DesignatedAccounts {
                accounts: d.accounts.into_iter().map(|a| p::Account { bank: a.bank, account: a.account }).collect(),
                daily_cap: domain::Krw(d.daily_cap),
            }),
            loan_lock: s.loan_lock,
        }
    }
}

impl From<&app::protection::Settings> for ProtectionSettings {
    fn from(s: &app::protection::Settings) -> Self {
        ProtectionSettings {
            delayed_transfer: s
                .delayed_transfer
                .as_ref()
                .map(|d| DelayedTransferBody { threshold: d.threshold.won(), hours: d.hours }),
            designated_accounts: s.designated_accounts.as_ref().map(|d| DesignatedAccountsBody {
                accounts: d
                    .accounts
                    .iter()
                    .map(|a| AccountBody { bank: a.bank.clone(), account: a.account.clone() })
                    .collect(),
                daily_cap: d.daily_cap.won(),
            }),
            loan_lock: s.loan_lock,
        }
    }
}

/// A loosening waiting for its cooling-off period.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct PendingProtection {
    /// What will apply.
    pub settings: ProtectionSettings,
    /// From when (event time), RFC 3339 in KST.
    pub effective_at: String,
}

/// A subject's self-protection: what applies now and what will after the cooling-off.
/// Tightening applies to the very next decision; loosening waits.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct ProtectionBody {
    /// The subject (the affiliate's user id).
    pub subject: String,
    /// In force now.
    pub active: ProtectionSettings,
    /// A loosening not yet in force.
    pub pending: Option<PendingProtection>,
    /// Last change, RFC 3339 in KST; `null` if never set.
    pub updated_at: Option<String>,
}

impl ProtectionBody {
    /// Builds the body from the application's record.
    pub fn new(subject: &str, p: &app::protection::Protection) -> ProtectionBody {
        ProtectionBody {
            subject: subject.to_string(),
            active: (&p.active).into(),
            pending: p.pending.as_ref().map(|x| PendingProtection {
                settings: (&x.settings).into(),
                effective_at: domain::Timestamp(x.effective_ms).to_kst_rfc3339(),
            }),
            updated_at: (p.updated_ms > 0).then(|| domain::Timestamp(p.updated_ms).to_kst_rfc3339()),
        }
    }
}

/// A held transfer the user cancelled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct CancelBody {
    /// The held decision.
    pub decision_id: String,
    /// When the cancel was recorded, RFC 3339 in KST.
    pub cancelled_at: String,
}

/// One link found in a message.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct LinkBody {
    /// The link, de-obfuscated and normalised (`host/path`).
    pub url: String,
    /// Its registrable domain.
    pub domain: Option<String>,
    /// Risk 0..=100.
    pub risk: u8,
    /// Why: `shortener`, `raw_ip`, `punycode`, `lookalike`, `risky_tld`, `apk`, `obfuscated`, `model`, ...
    pub flags: Vec<String>,
    /// The protected brand a look-alike imitates.
    pub brand: Option<String>,
}

/// A warning about the other party: `globe` (foreign number), `stranger` (not a friend, new
/// account) or `fake` (copies a friend's, family member's or institution's name).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct WarningBody {
    /// `globe`, `stranger` or `fake`.
    pub kind: String,
    /// `caution` or `danger`.
    pub level: String,
    /// What the app shows, in Korean.
    pub ko: String,
    /// What the app shows, in English.
    pub en: String,
}

/// Stage-1 analysis of a message or contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct AnalysisBody {
    /// Risk 0..=100 (50 or more: a scam).
    pub risk: u8,
    /// The text model's scam probability 0..=100.
    pub model_score: u8,
    /// `institution_impersonation`, `family_impersonation`, `loan_fraud`, `parcel_smishing`,
    /// `obituary_smishing`, `wedding_smishing`, `fine_smishing`, `coupon_smishing`,
    /// `investment_leading`, `romance`, `credential_request`, `spam`, `payment_approval`,
    /// `government_support`, `health_check` or `account_security`.
    pub typology: Option<String>,
    /// The phrases that fired.
    pub phrases: Vec<String>,
    /// Structural evidence that fired, whatever the wording: `foreign_sender_tag`,
    /// `web_sender_tag`, `callback_number`, `link_placeholder`, `amount`, `approval_code`,
    /// `disown_prompt`, `id_photo_request`, `card_photo_request`, `credential_ask`,
    /// `app_install`, `remote_control`, `cannot_call`, `broken_phone`, `text_me`,
    /// `gift_card`, `eligibility`.
    #[serde(default)]
    pub evidence: Vec<String>,
    /// The links found.
    pub links: Vec<LinkBody>,
    /// Warnings about the sender.
    pub warnings: Vec<WarningBody>,
    /// What to tell the user, when the risk is high.
    pub guidance: Option<ConfirmBody>,
}

impl From<&domain::Analysis> for AnalysisBody {
    fn from(a: &domain::Analysis) -> Self {
        AnalysisBody {
            risk: a.risk,
            model_score: a.model_score,
            typology: a.typology.map(|t| t.as_str().to_string()),
            phrases: a.phrases.clone(),
            evidence: a.evidence.clone(),
            links: a
                .links
                .iter()
                .map(|l| LinkBody {
                    url: l.url.clone(),
                    domain: l.domain.clone(),
                    risk: l.risk,
                    flags: l.flags.clone(),
                    brand: l.brand.clone(),
                })
                .collect(),
            warnings: a
                .warnings
                .iter()
                .map(|w| WarningBody {
                    kind: match w.kind {
                        domain::WarningKind::Globe => "globe",
                        domain::WarningKind::Stranger => "stranger",
                        domain::WarningKind::Fake => "fake",
                    }
                    .into(),
                    level: match w.level {
                        domain::WarningLevel::Caution => "caution",
                        domain::WarningLevel::Danger => "danger",
                    }
                    .into(),
                    ko: w.ko.clone(),
                    en: w.en.clone(),
                })
                .collect(),
            guidance: a.guidance.as_ref().map(|c| ConfirmBody { ko: c.ko.clone(), en: c.en.clone() }),
        }
    }
}

/// A message to analyse without deciding on an event (e.g. before showing it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AnalyzeRequest {
    /// The message text (at most 10,000 characters).
    #[schema(max_length = 10000)]
    pub text: String,
    /// The sender, as in a message event (`is_friend`, `phone`, `name`, `country`, ...).
    #[serde(default)]
    pub sender: Option<domain::Counterparty>,
    /// Names of the user's friends close to the sender's name (at most 50).
    #[serde(default)]
    #[schema(max_items = 50)]
    pub friend_names: Vec<String>,
}
