//! ansim's storage: one [`Store`] trait that every backend implements, with the tenant
//! (affiliate) a typed argument of every call that reads or writes tenant data, so no call can
//! read across affiliates. [`sqlite::SqliteStore`] is the embedded default (one file, WAL,
//! durable commits); [`conformance`] is the suite every backend must pass.
//!
//! Every use case that writes more than one thing does it in one unit of work:
//! [`Store::transaction`] runs a closure over a [`Tx`], the transaction handle, whose
//! repositories ([`CaseRepo`], [`AuditRepo`], [`RegistryRepo`], [`ActionRepo`],
//! [`RulesetRepo`]) write into the same transaction; it commits when the closure returns `Ok`
//! and leaves nothing behind otherwise. Business rules (which case a report joins) live in the
//! application, above this trait, so a second backend implements storage, not policy.
//!
//! The trait is synchronous, and that is a choice: the embedded backend is a library call
//! (SQLite has no async API worth the name), a closure holding a transaction cannot be an
//! `async` closure without boxing every repository call, and a PostgreSQL backend runs the
//! same closures on blocking threads with a synchronous client (and may re-run one on a
//! serialisation failure, which is why the work is an `FnMut`). The application calls the
//! store on its writer thread or on blocking threads, never on the async executor.

pub mod conformance;
pub mod desk;
pub mod people;
pub mod sqlite;

pub use desk::Desk;
pub use people::{People, PersonRow, SessionRow};

use domain::{AffiliateId, CaseOutcome, CaseState};

/// A storage error. Backends map their own errors into these.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The backend failed (IO, corruption, lock): not the caller's fault.
    #[error("storage backend: {0}")]
    Backend(String),
    /// A uniqueness rule was broken (same event id twice in one batch, version exists, ...).
    #[error("conflict: {0}")]
    Conflict(String),
    /// A row the call refers to does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// A stored row cannot be read (an unknown state, a body of an unknown version): it is
    /// reported, never replaced by a default and written back.
    #[error("unreadable record: {0}")]
    Corrupt(String),
    /// The unit of work returned an error of its own; everything it wrote was rolled back.
    #[error("the transaction was rolled back")]
    Aborted,
}

/// Result of a store call.
pub type Result<T> = std::result::Result<T, StoreError>;

/// What an API key may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Scope {
    /// Send events and read decisions.
    Decide,
    /// Edit, validate, publish and roll back rulesets.
    RulesWrite,
    /// Manage keys and affiliates.
    Admin,
    /// Work the safety table's cases (keys of the group affiliate).
    Cases,
}

impl Scope {
    /// Every scope.
    pub const ALL: [Scope; 4] = [Scope::Decide, Scope::RulesWrite, Scope::Admin, Scope::Cases];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::Decide => "decide",
            Scope::RulesWrite => "rules:write",
            Scope::Admin => "admin",
            Scope::Cases => "cases",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Scope> {
        Scope::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

/// An affiliate (tenant).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Affiliate {
    /// Its id, used in URLs and data.
    pub id: AffiliateId,
    /// Display name.
    pub name: String,
}

/// A stored API key (never the key itself).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiKey {
    /// SHA-256 of the key.
    pub hash: [u8; 32],
    /// The key's first characters, to recognise it in listings.
    pub prefix: String,
    /// Whose key it is.
    pub affiliate: AffiliateId,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// Revoked keys authenticate nothing.
    pub revoked: bool,
}

/// One decided event, as committed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRecord {
    /// The affiliate's sequence number of the event (1, 2, ...), the replay order.
    pub seq: i64,
    /// The caller's event id (idempotency key).
    pub event_id: String,
    /// The decision's id.
    pub decision_id: String,
    /// Event time, ms.
    pub at_ms: i64,
    /// Event kind.
    pub kind: String,
    /// Verdict name.
    pub verdict: String,
    /// Score.
    pub score: i64,
    /// Ruleset label that decided.
    pub ruleset: String,
    /// The event as JSON.
    pub event_json: String,
    /// The decision as JSON.
    pub decision_json: String,
    /// When it was decided (server clock), ms.
    pub decided_ms: i64,
}

/// A side effect to deliver after commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxItem {
    /// Assigned by the store.
    pub id: i64,
    /// Whose it is.
    pub affiliate: AffiliateId,
    /// What kind of effect: `case.open`, `webhook`, ...
    pub topic: String,
    /// JSON payload.
    pub payload: String,
}

/// What one committed write holds: an event with its decision and its side effects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    /// Whose event.
    pub affiliate: AffiliateId,
    /// A digest of the affiliate and the event id: the second half of the decision id, which
    /// makes it unique across affiliates and not guessable from the sequence number alone.
    pub tag: u64,
    /// The event and decision. Its `seq` and `decision_id` are assigned by the store when it
    /// commits (whatever they hold here is ignored): several nodes write one affiliate's
    /// events, so only the store can number them.
    pub record: EventRecord,
    /// Side effects, as `(topic, payload)`; written only with a stored event.
    pub outbox: Vec<(String, String)>,
    /// Where the decision counts in the trend rollups, and the amount it moves (won, 0 when
    /// none); counted only with a stored event.
    pub trend: Option<(TrendKey, i64)>,
    /// The indicators of a protective decision (its counterparty's account and phone, the
    /// device, a message's link domain family and phrase), for the indicator rollup that finds
    /// emerging campaigns. [`Store::commit`] does not write them: the caller adds those of the
    /// stored writes ([`cluster_deltas`]) with [`Store::add_sightings`], batched over seconds,
    /// since random keys written in every commit would double its log.
    pub clusters: Vec<ClusterKey>,
    /// The rules that matched (and any reason the user's own protection added), counted in
    /// the daily rule rollup on the event's Korea-time day; counted only with a stored event.
    pub rules: Vec<String>,
}

/// One cell of the daily rule rollup: how often one rule matched one affiliate's decisions on
/// one Korea-time day.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleRow {
    /// Whose decisions.
    pub affiliate: AffiliateId,
    /// Korea-time day.
    pub day: i64,
    /// The rule's id.
    pub rule: String,
    /// Decisions it matched.
    pub hits: i64,
}

/// The rule rollup's increments for the writes of a commit that were stored, one per
/// (affiliate, day, rule), in that order; the day is the event's in Korea time.
pub fn rule_deltas(writes: &[Write], outcomes: &[Committed]) -> Vec<(AffiliateId, i64, String, i64)> {
    let mut cells: std::collections::BTreeMap<(&AffiliateId, i64, &str), i64> = Default::default();
    for (w, o) in writes.iter().zip(outcomes) {
        if matches!(o, Committed::Stored { .. }) {
            let day = (w.record.at_ms + 9 * 3_600_000).div_euclid(86_400_000);
            for r in &w.rules {
                *cells.entry((&w.affiliate, day, r.as_str())).or_default() += 1;
            }
        }
    }
    cells.into_iter().map(|((a, d, r), n)| (a.clone(), d, r.to_string(), n)).collect()
}

/// A cell of the daily indicator rollup: how often one indicator (a keyed digest for personal
/// ones, the text itself for a domain family or a phrase) was seen in one affiliate's
/// protective decisions and reports on one Korea-time day.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ClusterKey {
    /// Korea-time day: days since 1970-01-01 in KST.
    pub day: i64,
    /// `account`, `phone`, `device`, `domain` (a family of link domains) or `phrase`.
    pub kind: String,
    /// The indicator's HMAC digest (hex) under the group key, or the family or phrase text.
    pub value: String,
}

/// One cell of the indicator rollup with its counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClusterRow {
    /// Whose decisions and reports.
    pub affiliate: AffiliateId,
    /// The cell.
    pub key: ClusterKey,
    /// Protective decisions that carried the indicator.
    pub decisions: i64,
    /// Reports that named it.
    pub reports: i64,
}

/// The indicator rollup's increments for the writes of a commit that were stored, one per
/// cell, in cell order.
pub fn cluster_deltas(writes: &[Write], outcomes: &[Committed]) -> Vec<(AffiliateId, ClusterKey, i64)> {
    let mut cells: std::collections::BTreeMap<(&AffiliateId, &ClusterKey), i64> = Default::default();
    for (w, o) in writes.iter().zip(outcomes) {
        if matches!(o, Committed::Stored { .. }) {
            for k in &w.clusters {
                *cells.entry((&w.affiliate, k)).or_default() += 1;
            }
        }
    }
    cells.into_iter().map(|((a, k), n)| (a.clone(), k.clone(), n)).collect()
}

/// A cell of the daily trend rollup: decisions of one Korea-time day with the same kind,
/// verdict, typology, age band and amount band. The rollup is kept up to date as decisions
/// commit, in the same transaction, so trends never scan events.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct TrendKey {
    /// Korea-time day: days since 1970-01-01 in KST.
    pub day: i64,
    /// Event kind (`transfer`, `message`, ...).
    pub kind: String,
    /// Verdict name.
    pub verdict: String,
    /// Scam typology (stage-1's, or the first tag of the first rule that matched; empty: none).
    pub typology: String,
    /// The subject's age band (`60s`; empty: not given).
    pub age_band: String,
    /// The amount's band (`under_100k`, `100k_1m`, `1m_10m`, `10m_plus`; empty: no amount).
    pub amount_band: String,
}

/// One cell of the daily trend rollup with its totals.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrendRow {
    /// Whose decisions.
    pub affiliate: AffiliateId,
    /// The cell.
    pub key: TrendKey,
    /// Decisions in it.
    pub decisions: i64,
    /// Won they moved (or would have: held and blocked amounts count too).
    pub amount: i64,
}

/// The trend rollup's increments for the writes of a commit that were stored (a repeat counts
/// once, with its first decision), one per cell, in cell order.
pub fn trend_deltas(writes: &[Write], outcomes: &[Committed]) -> Vec<(AffiliateId, TrendKey, i64, i64)> {
    let mut cells: std::collections::BTreeMap<(&AffiliateId, &TrendKey), (i64, i64)> = Default::default();
    for (w, o) in writes.iter().zip(outcomes) {
        if let (Some((key, amount)), Committed::Stored { .. }) = (&w.trend, o) {
            let c = cells.entry((&w.affiliate, key)).or_default();
            c.0 += 1;
            c.1 = c.1.saturating_add(*amount);
        }
    }
    cells.into_iter().map(|((a, k), (n, amount))| (a.clone(), k.clone(), n, amount)).collect()
}

/// What became of one [`Write`] in a commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Committed {
    /// Stored as the affiliate's event `seq`, with this decision id ([`decision_id`]).
    Stored {
        /// The affiliate's sequence number given to the event.
        seq: i64,
        /// The decision's id.
        decision_id: String,
    },
    /// The affiliate already has an event with this id (committed earlier, by another node,
    /// or earlier in the same batch): nothing was written; this is the stored one.
    Duplicate(Box<EventRecord>),
}

/// The id of the decision stored as event `seq` with `tag` ([`Write::tag`]): the sequence
/// number finds the row, the tag must match.
pub fn decision_id(seq: i64, tag: u64) -> String {
    // `dec_{seq:x}_{tag:016x}`, written without the formatting machinery (one per decision).
    if seq < 0 {
        // Never stored (numbers start at 1); kept exact all the same.
        return format!("dec_{seq:x}_{tag:016x}");
    }
    let mut out = String::with_capacity(4 + 16 + 1 + 16);
    out.push_str("dec_");
    domain::push_hex(&mut out, &seq.to_be_bytes());
    // `{seq:x}` has no leading zeros (and one digit for 0).
    let zeros = out[4..].bytes().take(15).take_while(|&b| b == b'0').count();
    out.drain(4..4 + zeros);
    out.push('_');
    domain::push_hex(&mut out, &tag.to_be_bytes());
    out
}

/// The sequence number in a decision id made by [`decision_id`].
pub fn decision_seq(decision_id: &str) -> Option<i64> {
    let (seq, tag) = decision_id.strip_prefix("dec_")?.split_once('_')?;
    if tag.len() != 16 || !tag.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    i64::from_str_radix(seq, 16).ok().filter(|s| *s > 0)
}

/// One affiliate's report on one indicator, as the registry stores it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IndicatorReport {
    /// HMAC-SHA-256 digest of the normalised indicator under the group key.
    pub digest: [u8; 32],
    /// Indicator kind (`account`, `phone`, ...).
    pub kind: String,
    /// The reporting affiliate.
    pub affiliate: AffiliateId,
    /// Latest typology (`impersonation`, `mule`, ...).
    pub typology: String,
    /// `reported`, `confirmed` or `cleared`.
    pub status: String,
    /// How many times this affiliate reported it.
    pub reports: i64,
    /// First report, ms.
    pub first_ms: i64,
    /// Latest report or status change, ms.
    pub last_ms: i64,
}

/// A published ruleset version.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RulesetVersion {
    /// Version number.
    pub version: i64,
    /// Source text.
    pub source: String,
    /// When it was published, ms.
    pub published_ms: i64,
    /// Whether it is the active one.
    pub active: bool,
}

/// A stored report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReportRow {
    /// Receipt number.
    pub receipt: String,
    /// SHA-256 of the reporter's secret.
    pub secret_hash: [u8; 32],
    /// `public` or the reporting affiliate.
    pub source: String,
    /// Report kind.
    pub kind: String,
    /// The case it joined.
    pub case_id: i64,
    /// Triage priority.
    pub priority: i64,
    /// The report as JSON.
    pub body: String,
    /// Filed at, ms.
    pub created_ms: i64,
    /// The reporting affiliate's own user the report is about (its subject id), when an
    /// affiliate filed it for that user: how a campaign's outcomes are counted.
    pub subject: Option<String>,
    /// Won lost or at risk, as reported (0 when not given).
    pub amount: i64,
}

/// A stored prevention campaign: its id and the body only `app` reads (segment, content,
/// schedule, hold-out share, status).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CampaignRow {
    /// The campaign's id (chosen by its author, unique).
    pub id: String,
    /// A versioned JSON body.
    pub body: String,
    /// Created at, ms.
    pub created_ms: i64,
    /// Last change, ms.
    pub updated_ms: i64,
}

/// One user enrolled in a campaign: the first time one of the affiliate's events showed the
/// user in the campaign's segment, and the arm the keyed hold-out put them in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberRow {
    /// The campaign.
    pub campaign: String,
    /// The affiliate that serves the user.
    pub affiliate: AffiliateId,
    /// The affiliate's subject id.
    pub subject: String,
    /// In the hold-out control (sent nothing) rather than treated.
    pub control: bool,
    /// Enrolled at, ms.
    pub enrolled_ms: i64,
}

/// The size of one arm of a campaign at one affiliate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ArmSize {
    /// The affiliate.
    pub affiliate: AffiliateId,
    /// The hold-out control arm, or the treated one.
    pub control: bool,
    /// Users enrolled in it.
    pub users: i64,
}

/// A campaign member with a fraud outcome: reports their affiliate filed for them after they
/// were enrolled, and the won those reports lost.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberOutcome {
    /// The affiliate.
    pub affiliate: AffiliateId,
    /// The subject.
    pub subject: String,
    /// The member's arm.
    pub control: bool,
    /// Reports filed for them in the window.
    pub reports: i64,
    /// Won those reports name.
    pub won: i64,
}

/// A stored case: the typed columns that queries and reports read, and the body (notes,
/// indicators, relief) that only the application reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CaseRow {
    /// Case number (assigned on insert).
    pub id: i64,
    /// Where it stands.
    pub state: CaseState,
    /// How it was decided, once it was.
    pub outcome: Option<CaseOutcome>,
    /// Priority: the highest of its reports.
    pub priority: i64,
    /// The analyst working it.
    pub assignee: Option<String>,
    /// The registry typology of its first report (`impersonation`, `smishing`, ...).
    pub typology: Option<String>,
    /// Won at risk across its reports.
    pub money_at_risk: i64,
    /// Who reported: `public` and affiliate ids, in order of first report.
    pub reporting: Vec<String>,
    /// Affiliates that received follow-up actions for it (they hold its accounts or profiles).
    pub holding: Vec<String>,
    /// The closed case about the same indicators that this one follows, if any.
    pub linked_case: Option<i64>,
    /// Opened at, ms.
    pub opened_ms: i64,
    /// Last change, ms.
    pub updated_ms: i64,
    /// First action due, ms.
    pub sla_due_ms: i64,
    /// First action taken, ms.
    pub first_action_ms: Option<i64>,
    /// Closed at, ms.
    pub closed_ms: Option<i64>,
    /// Indicators, notes, relief: a versioned JSON body the application reads.
    pub body: String,
}

/// One audit entry to append.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditEntry {
    /// When, ms.
    pub at_ms: i64,
    /// Who (`public`, an affiliate, an analyst, `system`).
    pub actor: String,
    /// The case it concerns.
    pub case_id: Option<i64>,
    /// What happened (`report.filed`, `case.state`, ...).
    pub action: String,
    /// Details as JSON.
    pub detail: String,
}

/// A stored audit row with its chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRow {
    /// Position in the log, from 1.
    pub seq: i64,
    /// The entry.
    pub entry: AuditEntry,
    /// The previous row's hash (32 zero bytes for the first).
    pub prev: Vec<u8>,
    /// This row's hash.
    pub hash: Vec<u8>,
}

/// What a delivery attempt came to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ActionOutcome {
    /// The webhook acknowledged it.
    Delivered,
    /// It failed; try again at `next_ms`.
    Retry {
        /// Next attempt, ms.
        next_ms: i64,
        /// Why it failed.
        error: String,
    },
    /// It failed for the last time.
    Dead {
        /// Why it failed.
        error: String,
    },
}

/// A follow-up action for one affiliate's webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionRow {
    /// Idempotency id (`act_...`), sent with every delivery.
    pub id: String,
    /// The affiliate it is for.
    pub affiliate: AffiliateId,
    /// `hold_account`, `sanction_profile`, `notify_victim`, ...
    pub kind: String,
    /// JSON payload.
    pub payload: String,
    /// Created at, ms.
    pub created_ms: i64,
    /// Delivery attempts so far.
    pub attempts: i64,
    /// Next attempt at, ms.
    pub next_ms: i64,
    /// Delivered at, ms.
    pub delivered_ms: Option<i64>,
    /// Given up at, ms (dead letter).
    pub dead_ms: Option<i64>,
    /// The last failure.
    pub last_error: Option<String>,
}

impl ActionRow {
    /// A new action, due now: not yet attempted.
    pub fn queued(id: String, affiliate: AffiliateId, kind: &str, payload: String, now_ms: i64) -> ActionRow {
        ActionRow {
            id,
            affiliate,
            kind: kind.into(),
            payload,
            created_ms: now_ms,
            attempts: 0,
            next_ms: now_ms,
            delivered_ms: None,
            dead_ms: None,
            last_error: None,
        }
    }
}

/// The SHA-256 chain hash of an audit row.
pub fn audit_hash(prev: &[u8], seq: i64, e: &AuditEntry) -> [u8; 32] {
    use sha2::{Digest, Sha256};
    let mut h = Sha256::new();
    let field = |h: &mut Sha256, b: &[u8]| {
        h.update((b.len() as u64).to_le_bytes());
        h.update(b);
    };
    field(&mut h, prev);
    field(&mut h, &seq.to_le_bytes());
    field(&mut h, &e.at_ms.to_le_bytes());
    field(&mut h, e.actor.as_bytes());
    field(&mut h, &e.case_id.unwrap_or(-1).to_le_bytes());
    field(&mut h, e.action.as_bytes());
    field(&mut h, e.detail.as_bytes());
    h.finalize().into()
}

/// Checks the audit chain: every row's `prev` is the hash before it and its `hash` is what its
/// content hashes to. The first bad row is returned with why.
pub fn verify_audit(rows: &[AuditRow]) -> std::result::Result<usize, (i64, String)> {
    let mut prev = vec![0u8; 32];
    for (i, r) in rows.iter().enumerate() {
        if r.seq != i as i64 + 1 {
            return Err((r.seq, format!("expected row {} here: a row was removed or inserted", i + 1)));
        }
        if r.prev != prev {
            return Err((r.seq, "its link to the previous row is broken".into()));
        }
        if r.hash != audit_hash(&r.prev, r.seq, &r.entry) {
            return Err((r.seq, "its content does not match its hash: the row was edited".into()));
        }
        prev = r.hash.clone();
    }
    Ok(rows.len())
}

/// One stored part of an affiliate's feature-state snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotPart {
    /// Which keys it holds (`None`: all of them, a whole-state snapshot of an earlier version).
    pub part: Option<u32>,
    /// The last event it covers.
    pub seq: i64,
    /// The serialised state.
    pub state: Vec<u8>,
}

/// Storage for everything ansim keeps. Every method that touches tenant data takes the
/// affiliate; implementations must filter by it in the query itself.
pub trait Store: People + Desk + Send + Sync {
    /// Runs `work` in one transaction: it commits if `work` returns `Ok`, and nothing `work`
    /// wrote remains otherwise. Transactions are serialisable: two units of work never see each
    /// other's half-done writes. A backend may run `work` again after a serialisation failure.
    fn transaction(&self, work: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()>;

    /// Creates or renames an affiliate.
    fn upsert_affiliate(&self, a: &AffiliateId, name: &str, now_ms: i64) -> Result<()>;
    /// All affiliates.
    fn affiliates(&self) -> Result<Vec<Affiliate>>;
    /// Stores a new API key for `a`.
    fn insert_key(&self, a: &AffiliateId, key: &ApiKey, now_ms: i64) -> Result<()>;
    /// The key with this hash: how a request finds its tenant, so not tenant-scoped.
    fn key_by_hash(&self, hash: &[u8; 32]) -> Result<Option<ApiKey>>;
    /// `a`'s keys (hashes and prefixes, never a key), oldest first.
    fn keys(&self, a: &AffiliateId) -> Result<Vec<ApiKey>>;
    /// Revokes `a`'s key with this prefix; returns how many keys of `a` have it (nothing is
    /// revoked unless exactly one does).
    fn revoke_key(&self, a: &AffiliateId, prefix: &str) -> Result<usize>;

    /// Whether this process does the work of `role` (`outbox`, `delivery`) now: with several
    /// nodes on one store exactly one does, and another takes over when it dies. A store only
    /// one process opens leads always.
    fn lead(&self, role: &str) -> Result<bool> {
        let _ = role;
        Ok(true)
    }

    /// Commits many writes in one transaction (group commit): all or none. Each new event gets
    /// its affiliate's next sequence number, in the order of `writes`, and numbers are never
    /// shared or reordered however many nodes commit at once (replay order is commit order).
    /// An event id the affiliate already has is not written again: its outcome is
    /// [`Committed::Duplicate`] with the stored record. One outcome per write, in order.
    fn commit(&self, writes: &[Write]) -> Result<Vec<Committed>>;
    /// The stored event with this event id.
    fn event_by_id(&self, a: &AffiliateId, event_id: &str) -> Result<Option<EventRecord>>;
    /// The daily trend rollup for Korea-time days `from_day..=to_day`, of one affiliate or
    /// (`None`) of every affiliate, in day order.
    fn trend_days(&self, a: Option<&AffiliateId>, from_day: i64, to_day: i64) -> Result<Vec<TrendRow>>;
    /// The stored events with these (affiliate, event id) pairs, one answer per pair in order:
    /// a backend on a server answers the whole list in one round trip.
    fn events_by_ids(&self, ids: &[(AffiliateId, String)]) -> Result<Vec<Option<EventRecord>>> {
        ids.iter().map(|(a, id)| self.event_by_id(a, id)).collect()
    }
    /// The stored event with this sequence number.
    fn event_by_seq(&self, a: &AffiliateId, seq: i64) -> Result<Option<EventRecord>>;
    /// Events with `seq > after`, in order, at most `limit`.
    fn events_after(&self, a: &AffiliateId, after: i64, limit: usize) -> Result<Vec<EventRecord>>;
    /// `(seq, event id)` of events with `seq > after`, in order, at most `limit` (cheap: no JSON).
    fn event_ids(&self, a: &AffiliateId, after: i64, limit: usize) -> Result<Vec<(i64, String)>>;
    /// The highest sequence number stored for `a` (0 when none).
    fn last_seq(&self, a: &AffiliateId) -> Result<i64>;
    /// Events stored for `a`.
    fn event_count(&self, a: &AffiliateId) -> Result<i64>;

    /// Saves the ruleset draft.
    fn put_draft(&self, a: &AffiliateId, source: &str, now_ms: i64) -> Result<()>;
    /// The ruleset draft.
    fn draft(&self, a: &AffiliateId) -> Result<Option<String>>;
    /// Makes an existing version the active one (rollback).
    fn activate(&self, a: &AffiliateId, version: i64) -> Result<()>;
    /// The active version.
    fn active_ruleset(&self, a: &AffiliateId) -> Result<Option<RulesetVersion>>;
    /// Every version, newest first.
    fn ruleset_history(&self, a: &AffiliateId) -> Result<Vec<RulesetVersion>>;

    /// Saves one part of a feature-state snapshot (the keys whose digest falls in `part`),
    /// taken after event `seq`; it replaces the part saved before.
    fn save_snapshot(&self, a: &AffiliateId, part: u32, seq: i64, state: &[u8], now_ms: i64) -> Result<()>;
    /// Every saved part, by part number; first a whole-state snapshot an earlier version saved
    /// (`part` `None`), if there is one.
    fn load_snapshot(&self, a: &AffiliateId) -> Result<Vec<SnapshotPart>>;

    /// Creates or replaces `a`'s report on one indicator digest. Only the reporting affiliate
    /// writes its row; the registry is the one place where affiliates' data meets, and it
    /// holds digests, counts, statuses and typologies only.
    fn upsert_report(&self, a: &AffiliateId, report: &IndicatorReport) -> Result<()>;
    /// Writes many of `a`'s report rows in one transaction: all or none (bulk import).
    fn upsert_reports(&self, a: &AffiliateId, reports: &[IndicatorReport]) -> Result<()>;
    /// Every report row, to build the in-memory registry at start (group-internal).
    fn all_reports(&self) -> Result<Vec<IndicatorReport>>;

    /// Creates or replaces the self-protection settings (JSON) of `a`'s subject `subject`.
    fn put_protection(&self, a: &AffiliateId, subject: &str, settings: &str, now_ms: i64) -> Result<()>;
    /// Every subject of `a` with protection settings: `(subject, settings JSON)`.
    fn protections(&self, a: &AffiliateId) -> Result<Vec<(String, String)>>;
    /// Records that the user cancelled the held event `seq`; `false` if it already was.
    fn cancel_hold(&self, a: &AffiliateId, seq: i64, now_ms: i64) -> Result<bool>;
    /// Every cancelled hold of `a`: `(seq, cancelled ms)`, by seq.
    fn cancelled_holds(&self, a: &AffiliateId) -> Result<Vec<(i64, i64)>>;

    /// The report with this receipt number.
    fn report(&self, receipt: &str) -> Result<Option<ReportRow>>;
    /// The reports of a case, oldest first.
    fn case_reports(&self, case_id: i64) -> Result<Vec<ReportRow>>;
    /// One case.
    fn case(&self, id: i64) -> Result<Option<CaseRow>>;
    /// Cases not closed, highest priority first, then oldest first (the queue).
    fn open_cases(&self, limit: usize) -> Result<Vec<CaseRow>>;
    /// Cases opened at `from_ms` or later and before `to_ms`, oldest first (reports).
    fn cases_opened(&self, from_ms: i64, to_ms: i64) -> Result<Vec<CaseRow>>;
    /// The whole audit log, in order.
    fn audit_log(&self) -> Result<Vec<AuditRow>>;
    /// Actions due for delivery at `now_ms`, oldest first.
    fn actions_due(&self, now_ms: i64, limit: usize) -> Result<Vec<ActionRow>>;
    /// Records a delivery attempt: delivered, or failed with the next attempt time, or dead.
    fn action_attempted(&self, id: &str, outcome: ActionOutcome, now_ms: i64) -> Result<()>;
    /// Actions given up on (dead letters), newest first.
    fn dead_actions(&self, limit: usize) -> Result<Vec<ActionRow>>;
    /// One action.
    fn action(&self, id: &str) -> Result<Option<ActionRow>>;
    /// Sets an affiliate's webhook URL and signing secret.
    fn put_webhook(&self, a: &AffiliateId, url: &str, secret: &str, now_ms: i64) -> Result<()>;
    /// An affiliate's webhook: `(url, secret)`.
    fn webhook(&self, a: &AffiliateId) -> Result<Option<(String, String)>>;
    /// Replaces what `a` holds (`bank:088`, `profile`, ...); a key another affiliate holds is a
    /// `Conflict` and changes nothing.
    fn set_holdings(&self, a: &AffiliateId, keys: &[String]) -> Result<()>;
    /// The affiliate holding `key`.
    fn holder(&self, key: &str) -> Result<Option<AffiliateId>>;
    /// What `a` holds, sorted.
    fn holdings(&self, a: &AffiliateId) -> Result<Vec<String>>;

    /// Makes everything committed durable in the main store and drops any log of it (the
    /// embedded backend folds its write-ahead log into the file and truncates it). Called on a
    /// clean stop; harmless at any time.
    fn checkpoint(&self) -> Result<()>;

    /// Undelivered side effects, oldest first (all tenants: the delivery worker is internal).
    fn outbox_pending(&self, limit: usize) -> Result<Vec<OutboxItem>>;
    /// Marks side effects delivered.
    fn outbox_done(&self, ids: &[i64], now_ms: i64) -> Result<()>;

    /// The indicator rollup's cells of every affiliate from `from_day` to `to_day` (Korea-time
    /// days, inclusive), by day, kind, value, affiliate.
    fn cluster_days(&self, from_day: i64, to_day: i64) -> Result<Vec<ClusterRow>>;
    /// The rule rollup's cells of every affiliate from `from_day` to `to_day` (inclusive), by
    /// day, rule, affiliate.
    fn rule_days(&self, from_day: i64, to_day: i64) -> Result<Vec<RuleRow>>;
    /// Adds protective decisions' sightings to the indicator rollup (one transaction).
    fn add_sightings(&self, cells: &[(AffiliateId, ClusterKey, i64)]) -> Result<()>;

    /// Every campaign, by id.
    fn campaigns(&self) -> Result<Vec<CampaignRow>>;
    /// The subjects `a` has enrolled in `campaign`, in no order.
    fn campaign_subjects(&self, campaign: &str, a: &AffiliateId) -> Result<Vec<String>>;
    /// How many users each affiliate's arms of `campaign` hold, by affiliate then arm.
    fn campaign_arms(&self, campaign: &str) -> Result<Vec<ArmSize>>;
    /// The members of `campaign` that a report filed by their own affiliate names as its user,
    /// filed from their enrolment up to `until_ms` (exclusive), with the reports' count and
    /// won; by affiliate then subject.
    fn campaign_outcomes(&self, campaign: &str, until_ms: i64) -> Result<Vec<MemberOutcome>>;
}

/// Cases and the reports that join them, inside a unit of work.
pub trait CaseRepo {
    /// One case.
    fn case(&mut self, id: i64) -> Result<Option<CaseRow>>;
    /// The cases any of `digests` is linked to, oldest first, each once.
    fn cases_linked(&mut self, digests: &[[u8; 32]]) -> Result<Vec<CaseRow>>;
    /// Inserts a case (its `id` is ignored); returns the id it was given.
    fn insert_case(&mut self, case: &CaseRow) -> Result<i64>;
    /// Saves a changed case. `expected_updated_ms` must match the stored row, else
    /// [`StoreError::Conflict`]: someone changed it meanwhile.
    fn update_case(&mut self, case: &CaseRow, expected_updated_ms: i64) -> Result<()>;
    /// Links indicator digests to a case; a digest already linked elsewhere moves to it.
    fn link(&mut self, case_id: i64, digests: &[[u8; 32]]) -> Result<()>;
    /// Stores a report (receipt numbers are unique).
    fn insert_report(&mut self, report: &ReportRow) -> Result<()>;
    /// The reports of a case, oldest first.
    fn case_reports(&mut self, case_id: i64) -> Result<Vec<ReportRow>>;
    /// Counts a report of `a`'s naming these indicators in the indicator rollup.
    fn count_reported(&mut self, a: &AffiliateId, keys: &[ClusterKey]) -> Result<()>;
}

/// The hash-chained audit log, inside a unit of work.
pub trait AuditRepo {
    /// Appends entries at the end of the chain.
    fn append_audit(&mut self, entries: &[AuditEntry]) -> Result<()>;
}

/// The group's indicator registry, inside a unit of work.
pub trait RegistryRepo {
    /// Creates or replaces `a`'s report rows; every row must be `a`'s own.
    fn upsert_reports(&mut self, a: &AffiliateId, reports: &[IndicatorReport]) -> Result<()>;
}

/// Follow-up actions for the affiliates' webhooks, inside a unit of work.
pub trait ActionRepo {
    /// Queues actions; an id already queued is kept as it is (idempotent).
    fn queue_actions(&mut self, actions: &[ActionRow]) -> Result<()>;
    /// The affiliate holding `key` (`bank:088`, `profile`, ...).
    fn holder(&mut self, key: &str) -> Result<Option<AffiliateId>>;
}

/// Prevention campaigns and their members, inside a unit of work.
pub trait CampaignRepo {
    /// Stores a new campaign; `false` when one with its id exists (nothing is changed).
    fn insert_campaign(&mut self, c: &CampaignRow) -> Result<bool>;
    /// Saves a changed campaign's body and update time ([`StoreError::NotFound`] when none
    /// has its id); its creation time stays.
    fn update_campaign(&mut self, id: &str, body: &str, updated_ms: i64) -> Result<()>;
    /// Enrols a member; `false` when the subject was already enrolled in the campaign at that
    /// affiliate (the stored arm and time stand).
    fn enroll(&mut self, m: &MemberRow) -> Result<bool>;
}

/// Ruleset versions, inside a unit of work.
pub trait RulesetRepo {
    /// The highest version of `a` (0 when none).
    fn latest_version(&mut self, a: &AffiliateId) -> Result<i64>;
    /// Adds version `version` and makes it the only active one.
    fn publish(&mut self, a: &AffiliateId, version: i64, source: &str, now_ms: i64) -> Result<()>;
}

/// The transaction handle a unit of work writes through: one repository per aggregate.
pub trait Tx: CaseRepo + AuditRepo + RegistryRepo + ActionRepo + RulesetRepo + CampaignRepo {}

impl<T: CaseRepo + AuditRepo + RegistryRepo + ActionRepo + RulesetRepo + CampaignRepo> Tx for T {}

/// Runs `work` in one transaction of `store` and returns what it returned.
pub fn in_transaction<T>(store: &dyn Store, mut work: impl FnMut(&mut dyn Tx) -> Result<T>) -> Result<T> {
    let mut out = None;
    store.transaction(&mut |tx| {
        out = Some(work(tx)?);
        Ok(())
    })?;
    out.ok_or(StoreError::Aborted)
}

/// The column lists every backend reads its rows in, so the row mappings of all backends agree
/// on positions (each schema names the same columns).
pub mod columns {
    /// An event record's columns.
    pub const EVENT_COLS: &str =
        "seq, event_id, decision_id, at_ms, kind, verdict, score, ruleset, event_json, decision_json, decided_ms";
    /// A report's columns.
    pub const REPORT_COLS: &str =
        "receipt, secret_hash, source, kind, case_id, priority, body, created_ms, subject, amount";
    /// A campaign's columns.
    pub const CAMPAIGN_COLS: &str = "id, body, created_ms, updated_ms";

    /// A campaign's members with reports their affiliate filed for them after enrolment, in
    /// the backend's placeholders for the campaign and the end of the window (both backends
    /// run this one text).
    pub fn campaign_outcomes(campaign: &str, until_ms: &str) -> String {
        format!(
            "SELECT m.affiliate, m.subject, m.control, COUNT(*), CAST(SUM(r.amount) AS BIGINT)
             FROM campaign_member m
             JOIN report r ON r.source = m.affiliate AND r.subject = m.subject
             WHERE m.campaign = {campaign} AND r.created_ms >= m.enrolled_ms AND r.created_ms < {until_ms}
             GROUP BY m.affiliate, m.subject, m.control ORDER BY m.affiliate, m.subject"
        )
    }
    /// A case's columns.
    pub const CASE_COLS: &str = "id, state, outcome, priority, assignee, typology, money_at_risk, reporting, holding, \
     linked_case, opened_ms, updated_ms, sla_due_ms, first_action_ms, closed_ms, body";
    /// A follow-up action's columns.
    pub const ACTION_COLS: &str =
        "id, affiliate, kind, payload, created_ms, attempts, next_ms, delivered_ms, dead_ms, last_error";
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The hand-written id is the formatted one, for every width of sequence number and tag.
    #[test]
    fn decision_ids_are_the_formatted_text() {
        let mut x: u64 = 0x2545_f491_4f6c_dd1d;
        let mut cases = vec![(0i64, 0u64), (1, 1), (15, 16), (16, u64::MAX), (i64::MAX, 0xf), (-1, 7)];
        for _ in 0..20_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            cases.push(((x >> (x % 63)) as i64, x.rotate_left(17) >> (x % 61)));
        }
        for (seq, tag) in cases {
            assert_eq!(decision_id(seq, tag), format!("dec_{seq:x}_{tag:016x}"), "{seq} {tag}");
        }
    }

    #[test]
    fn decision_ids_give_back_their_sequence_number() {
        let id = decision_id(0x2a, 0xdead_beef);
        assert_eq!(id, "dec_2a_00000000deadbeef");
        assert_eq!(decision_seq(&id), Some(42));
        for bad in [
            "dec_2a",
            "dec__00000000deadbeef",
            "dec_0_00000000deadbeef",
            "dec_zz_00000000deadbeef",
            "dec_2a_beef",
            "x_2a_00000000deadbeef",
        ] {
            assert_eq!(decision_seq(bad), None, "{bad}");
        }
    }
}
