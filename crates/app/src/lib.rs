//! ansim's use cases, below HTTP and above storage: decide on events durably (group commit,
//! idempotency, feature state that survives restarts), publish and roll back rulesets, issue
//! and check API keys. The server binary calls these; tests call them directly.
//!
//! One event, end to end: [`App::decide`] takes the affiliate's lock, answers a repeated event
//! id from the store, otherwise runs `engine::decide` on the active snapshot, assigns the next
//! sequence number and hands the write to the writer thread *while still holding the lock* (so
//! the writer sees each affiliate's events in sequence order), then awaits the commit. Only a
//! committed decision is returned. The writer batches every write waiting into one transaction
//! (one fsync for many requests).

pub mod access;
pub mod cases;
mod keys;
mod metrics;
pub mod protection;
pub mod registry;
pub mod relief;
mod tenant;
mod writer;

pub use keys::{generate_key, hash_key};
pub use metrics::Metrics;
pub use store::{Scope, Store};

use domain::{AffiliateId, Decision, Event};
use engine::Snapshot;
use rules::Diagnostic;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, RwLock};
use tenant::Tenant;

/// Settings of the application layer.
#[derive(Debug, Clone)]
pub struct AppConfig {
    /// Directory holding the store file (`ansim.db`).
    pub data_dir: PathBuf,
    /// Save a feature-state snapshot after this many decisions per affiliate.
    pub snapshot_every: u64,
    /// Most writes committed in one transaction.
    pub max_batch: usize,
    /// Most writes waiting for the writer; past it decisions are refused as busy (`503`).
    pub max_queued: usize,
    /// How long a user's loosening of their self-protection waits before it applies, ms.
    pub cooling_off_ms: i64,
    /// A message model from `ansim train messages` (the built-in one when `None`).
    pub messages_model: Option<PathBuf>,
    /// A URL model from `ansim train urls` (the built-in one when `None`).
    pub urls_model: Option<PathBuf>,
    /// A protected-brand list (the built-in one when `None`).
    pub brands: Option<PathBuf>,
    /// A transaction model from `ansim train transactions`, scored by rulesets that declare
    /// its `[model]` inputs.
    pub transactions_model: Option<PathBuf>,
    /// Minutes to a case's first action at normal priority (urgent: a quarter, low: four times).
    pub sla_base_minutes: i64,
}

impl AppConfig {
    /// Defaults for `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        AppConfig {
            data_dir: data_dir.into(),
            snapshot_every: 50_000,
            max_batch: 1_024,
            max_queued: 65_536,
            cooling_off_ms: DEFAULT_COOLING_OFF_MS,
            messages_model: None,
            urls_model: None,
            brands: None,
            transactions_model: None,
            sla_base_minutes: 60,
        }
    }
}

/// Why a use case failed. The server maps each variant to one HTTP status, once.
#[derive(Debug, Clone, thiserror::Error)]
pub enum AppError {
    /// No or unknown API key.
    #[error("missing or invalid API key")]
    Unauthorized,
    /// The key lacks a scope.
    #[error("this API key lacks the `{0}` scope")]
    Forbidden(&'static str),
    /// Nothing with that id for this affiliate.
    #[error("{0} not found")]
    NotFound(String),
    /// Bad input: `field` names what is wrong.
    #[error("{field}: {message}")]
    Invalid {
        /// JSON path or parameter name.
        field: String,
        /// What is wrong with it.
        message: String,
    },
    /// A ruleset that does not compile.
    #[error("the ruleset has {} error(s)", .0.len())]
    Rules(Vec<Diagnostic>),
    /// A state conflict (e.g. publishing an old version number).
    #[error("conflict: {0}")]
    Conflict(String),
    /// Storage failed; the request may be retried with the same event id.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Too much is waiting (the writer's queue is full, or the affiliate is recovering): retry
    /// after a moment with the same event id.
    #[error("busy: {0}; retry with the same event id")]
    Overloaded(&'static str),
}

impl From<store::StoreError> for AppError {
    fn from(e: store::StoreError) -> Self {
        match e {
            store::StoreError::NotFound(w) => AppError::NotFound(w),
            store::StoreError::Conflict(w) => AppError::Conflict(w),
            store::StoreError::Backend(w) => AppError::Unavailable(w),
            e @ (store::StoreError::Corrupt(_) | store::StoreError::Aborted) => AppError::Unavailable(e.to_string()),
        }
    }
}

/// The default cooling-off before a loosened self-protection applies: 24 hours.
pub const DEFAULT_COOLING_OFF_MS: i64 = 24 * 3_600_000;

/// A held transfer the user cancelled.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cancelled {
    /// The held decision.
    pub decision_id: String,
    /// When the cancel was recorded, ms.
    pub cancelled_ms: i64,
}

/// Who is calling: resolved from an API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Principal {
    /// The affiliate the key belongs to; every call it makes is scoped to it.
    pub affiliate: AffiliateId,
    /// What it may do.
    pub scopes: Vec<Scope>,
    /// Who it is, for the audit log: `key:` and the key's prefix for an API key (a person's
    /// user name once people log in). Never a name taken from a request body.
    pub name: String,
}

impl Principal {
    /// The audit log's actor: `affiliate/name`.
    pub fn actor(&self) -> String {
        format!("{}/{}", self.affiliate, self.name)
    }
}

/// A committed decision.
#[derive(Debug, Clone)]
pub struct Decided {
    /// The decision's id (`dec_...`).
    pub decision_id: String,
    /// The decision.
    pub decision: Arc<Decision>,
    /// True when the event id was seen before and this is the stored decision.
    pub duplicate: bool,
}

/// A ruleset version as the API shows it.
#[derive(Debug, Clone)]
pub struct RulesetInfo {
    /// Version number.
    pub version: i64,
    /// `name@vN`.
    pub label: String,
    /// Source text.
    pub source: String,
    /// Rules in it.
    pub rules: usize,
    /// Features in it.
    pub features: usize,
    /// Publish time, ms.
    pub published_ms: i64,
    /// Whether it is active.
    pub active: bool,
}

/// The application: one per process.
pub struct App {
    store: Arc<dyn Store>,
    /// The group's indicator registry, shared by every affiliate's decisions.
    registry: Arc<registry::Registry>,
    /// Signal providers every snapshot is compiled with (the registry).
    providers: Vec<Arc<dyn signals::SignalProvider>>,
    tenants: RwLock<HashMap<AffiliateId, Arc<Tenant>>>,
    /// The stage-1 detectors (models and brands), swapped when a publish reloads them.
    analyzer: Detectors,
    /// Serialises publishes in this process, so versions are assigned in order; the version
    /// itself is assigned inside the publishing transaction.
    publishing: std::sync::Mutex<()>,
    /// The transaction model, attached to every snapshot whose `[model]` inputs it was
    /// trained on; reloaded on publish.
    tx_model: RwLock<Option<Arc<model::Gbdt>>>,
    writer: writer::Writer,
    keys: RwLock<HashMap<[u8; 32], Principal>>,
    metrics: Arc<Metrics>,
    config: AppConfig,
}

/// Milliseconds since the epoch by the server clock (for bookkeeping, never for decisions).
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

impl App {
    /// Opens the embedded store in `config.data_dir`, restores every affiliate (active ruleset,
    /// feature state from the latest snapshot plus replay of later events), and starts the
    /// writer.
    pub fn open(config: AppConfig) -> Result<Arc<App>, AppError> {
        std::fs::create_dir_all(&config.data_dir).map_err(|e| {
            AppError::Unavailable(format!("cannot create data directory {}: {e}", config.data_dir.display()))
        })?;
        let store: Arc<dyn Store> = Arc::new(store::sqlite::SqliteStore::open(&config.data_dir.join("ansim.db"))?);
        let key = group_key(&config.data_dir)?;
        App::with_store(store, key, config)
    }

    /// Starts on an already opened store.
    pub fn with_store(
        store: Arc<dyn Store>,
        group_key: indicators::GroupKey,
        config: AppConfig,
    ) -> Result<Arc<App>, AppError> {
        let registry = Arc::new(registry::Registry::load(group_key, store.as_ref())?);
        let providers: Vec<Arc<dyn signals::SignalProvider>> =
            vec![Arc::new(registry::RegistrySignals(Arc::clone(&registry)))];
        let analyzer = Arc::new(RwLock::new(Arc::new(load_analyzer(&config)?)));
        let metrics = Arc::new(Metrics::default());
        let writer =
            writer::Writer::start(Arc::clone(&store), config.max_batch, config.max_queued, Arc::clone(&metrics));
        let app = App {
            store,
            registry,
            providers,
            tenants: RwLock::new(HashMap::new()),
            analyzer,
            publishing: std::sync::Mutex::new(()),
            tx_model: RwLock::new(load_tx_model(&config)?),
            writer,
            keys: RwLock::new(HashMap::new()),
            metrics,
            config,
        };
        for a in app.store.affiliates()? {
            app.load_tenant(&a.id)?;
        }
        Ok(Arc::new(app))
    }

    /// The store (for tools and tests).
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.store
    }

    /// Decision and commit counters.
    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    fn load_tenant(&self, a: &AffiliateId) -> Result<Option<Arc<Tenant>>, AppError> {
        let Some(active) = self.store.active_ruleset(a)? else { return Ok(None) };
        let snap = self.compile(&active.source)?;
        let t = Arc::new(Tenant::recover(a.clone(), snap, self.store.as_ref(), Arc::clone(&self.analyzer))?);
        self.tenants.write().unwrap_or_else(|p| p.into_inner()).insert(a.clone(), Arc::clone(&t));
        Ok(Some(t))
    }

    fn tenant(&self, a: &AffiliateId) -> Result<Arc<Tenant>, AppError> {
        if let Some(t) = self.tenants.read().unwrap_or_else(|p| p.into_inner()).get(a) {
            return Ok(Arc::clone(t));
        }
        self.load_tenant(a)?.ok_or_else(|| AppError::NotFound(format!("an active ruleset for affiliate {a}")))
    }

    /// Affiliates known to the store.
    pub fn affiliates(&self) -> Result<Vec<store::Affiliate>, AppError> {
        Ok(self.store.affiliates()?)
    }

    /// Creates the affiliate if needed and, if it has no active ruleset, publishes `ruleset`.
    pub fn ensure_affiliate(&self, a: &AffiliateId, name: &str, ruleset: &str) -> Result<(), AppError> {
        self.store.upsert_affiliate(a, name, now_ms())?;
        if self.store.active_ruleset(a)?.is_none() {
            self.publish(a, Some(ruleset))?;
        }
        Ok(())
    }

    /// Issues a new API key for `a` with `scopes`; returns the key text (shown once).
    pub fn create_key(&self, a: &AffiliateId, scopes: &[Scope]) -> Result<String, AppError> {
        if scopes.is_empty() {
            return Err(AppError::Invalid { field: "scopes".into(), message: "at least one scope is needed".into() });
        }
        let key = generate_key();
        let hash = hash_key(&key);
        let row = store::ApiKey {
            hash,
            prefix: key.chars().take(8).collect(),
            affiliate: a.clone(),
            scopes: scopes.to_vec(),
            revoked: false,
        };
        self.store.insert_key(a, &row, now_ms())?;
        Ok(key)
    }

    /// The principal of a key seen before, from memory: never touches the store, so callers
    /// on an async executor use it first and go to [`App::authenticate`] on a blocking thread
    /// only on a miss.
    pub fn cached_principal(&self, key: &str) -> Option<Principal> {
        self.keys.read().unwrap_or_else(|p| p.into_inner()).get(&hash_key(key)).cloned()
    }

    /// Resolves a bearer key to its principal (cached after the first lookup). Reads the store
    /// on a miss: call it on a blocking thread.
    pub fn authenticate(&self, key: &str) -> Result<Principal, AppError> {
        if key.is_empty() || key.len() > 200 {
            return Err(AppError::Unauthorized);
        }
        let hash = hash_key(key);
        if let Some(p) = self.keys.read().unwrap_or_else(|p| p.into_inner()).get(&hash) {
            return Ok(p.clone());
        }
        let row = self.store.key_by_hash(&hash)?.ok_or(AppError::Unauthorized)?;
        if row.revoked {
            return Err(AppError::Unauthorized);
        }
        let p = Principal { affiliate: row.affiliate, scopes: row.scopes, name: format!("key:{}", row.prefix) };
        self.keys.write().unwrap_or_else(|p| p.into_inner()).insert(hash, p.clone());
        Ok(p)
    }

    /// Decides on one event durably. A repeated event id returns the stored decision and does
    /// not count in features again; a repeated id with other content is a conflict.
    pub async fn decide(self: &Arc<Self>, a: &AffiliateId, event: Event) -> Result<Decided, AppError> {
        self.ready(a).await?;
        let step = self.start(a, event, false);
        self.finish(a, step).await
    }

    /// Decides on several events, in order, each durably; one result per event.
    pub async fn decide_batch(self: &Arc<Self>, a: &AffiliateId, events: Vec<Event>) -> Vec<Result<Decided, AppError>> {
        if let Err(e) = self.ready(a).await {
            return events.iter().map(|_| Err(e.clone())).collect();
        }
        // Every event is decided (in order) before any commit is awaited, so the whole batch
        // shares the writer's next transactions.
        let started: Vec<_> = events.into_iter().map(|e| self.start(a, e, false)).collect();
        let mut out = Vec::with_capacity(started.len());
        for s in started {
            out.push(self.finish(a, s).await);
        }
        out
    }

    /// Loads the affiliate's state if this process has not yet (an affiliate added while it
    /// runs): recovery reads and replays the store, so it runs on a blocking thread.
    async fn ready(self: &Arc<Self>, a: &AffiliateId) -> Result<(), AppError> {
        if self.tenants.read().unwrap_or_else(|p| p.into_inner()).contains_key(a) {
            return Ok(());
        }
        let (app, a) = (Arc::clone(self), a.clone());
        tokio::task::spawn_blocking(move || app.tenant(&a).map(|_| ()))
            .await
            .map_err(|e| AppError::Unavailable(e.to_string()))?
    }

    /// Awaits a decision's commit, or answers a repeated id from the store (read on a blocking
    /// thread, never under the affiliate's lock).
    async fn finish(
        self: &Arc<Self>,
        a: &AffiliateId,
        step: Result<tenant::Step, AppError>,
    ) -> Result<Decided, AppError> {
        match step? {
            tenant::Step::Wait(rx) => rx.await.map_err(|_| AppError::Unavailable("the writer stopped".into()))?,
            tenant::Step::Stored { event, event_json } => {
                let (store, aff, id) = (Arc::clone(&self.store), a.clone(), event.id.0.clone());
                let found = tokio::task::spawn_blocking(move || store.event_by_id(&aff, &id))
                    .await
                    .map_err(|e| AppError::Unavailable(e.to_string()))??;
                match found {
                    Some(r) => {
                        self.metrics.duplicates.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        tenant::repeat(&r, &event_json)
                    }
                    // Only the digest was known: a new id after all.
                    None => match self.start(a, *event, true)? {
                        tenant::Step::Wait(rx) => {
                            rx.await.map_err(|_| AppError::Unavailable("the writer stopped".into()))?
                        }
                        tenant::Step::Stored { .. } => Err(AppError::Unavailable("event id lookup looped".into())),
                    },
                }
            }
        }
    }

    /// Checks an event against the caller and the clock, analyses a message or contact,
    /// decides on it, and queues its write.
    fn start(&self, a: &AffiliateId, mut event: Event, checked: bool) -> Result<tenant::Step, AppError> {
        check_clock(&event)?;
        current(&self.analyzer).enrich(&mut event);
        if &event.affiliate != a {
            return Err(AppError::Invalid {
                field: "affiliate".into(),
                message: format!("the event is for {:?} but the key belongs to {a:?}", event.affiliate.as_str()),
            });
        }
        self.tenant(a)?.decide(event, checked, &self.writer, &self.config, &self.metrics)
    }

    /// The stored decision with this decision id, as `(decision JSON, event JSON)`.
    pub fn decision(&self, a: &AffiliateId, decision_id: &str) -> Result<store::EventRecord, AppError> {
        let not_found = || AppError::NotFound(format!("decision {decision_id}"));
        // `dec_<seq hex>_<tag>`: the sequence number finds the row, the whole id must match.
        let seq = decision_id
            .strip_prefix("dec_")
            .and_then(|r| r.split('_').next())
            .and_then(|s| i64::from_str_radix(s, 16).ok())
            .ok_or_else(not_found)?;
        match self.store.event_by_seq(a, seq)? {
            Some(r) if r.decision_id == decision_id => Ok(r),
            _ => Err(not_found()),
        }
    }

    /// Checks a ruleset without publishing it.
    pub fn validate(&self, source: &str) -> Vec<Diagnostic> {
        match Snapshot::compile_with(source, self.providers.clone()) {
            Ok(_) => Vec::new(),
            Err(d) => d,
        }
    }

    fn info(v: &store::RulesetVersion) -> RulesetInfo {
        let (label, rules, features) = match Snapshot::compile_with(&v.source, Vec::new()) {
            Ok(s) => (s.label.to_string(), s.rules.len(), s.features.len()),
            Err(_) => (format!("v{}", v.version), 0, 0),
        };
        RulesetInfo {
            version: v.version,
            label,
            source: v.source.clone(),
            rules,
            features,
            published_ms: v.published_ms,
            active: v.active,
        }
    }

    /// The active ruleset.
    pub fn active_ruleset(&self, a: &AffiliateId) -> Result<RulesetInfo, AppError> {
        let v = self.store.active_ruleset(a)?.ok_or_else(|| AppError::NotFound("an active ruleset".into()))?;
        Ok(App::info(&v))
    }

    /// Every published version, newest first.
    pub fn ruleset_history(&self, a: &AffiliateId) -> Result<Vec<RulesetInfo>, AppError> {
        Ok(self.store.ruleset_history(a)?.iter().map(App::info).collect())
    }

    /// Saves a draft (any text; it is checked on validate and publish).
    pub fn put_draft(&self, a: &AffiliateId, source: &str) -> Result<(), AppError> {
        Ok(self.store.put_draft(a, source, now_ms())?)
    }

    /// The saved draft.
    pub fn draft(&self, a: &AffiliateId) -> Result<Option<String>, AppError> {
        Ok(self.store.draft(a)?)
    }

    /// Compiles and publishes `source` (or the saved draft when `None`) as the next version,
    /// then swaps it in atomically. A ruleset that does not compile is returned as
    /// [`AppError::Rules`] and changes nothing. The version number in the file is replaced by
    /// the next number in this affiliate's history.
    pub fn publish(&self, a: &AffiliateId, source: Option<&str>) -> Result<RulesetInfo, AppError> {
        let source = match source {
            Some(s) => s.to_string(),
            None => self.store.draft(a)?.ok_or_else(|| AppError::NotFound("a draft to publish".into()))?,
        };
        // Models are (re)loaded on publish too: a retrained model goes live with the rules
        // written for it, or the publish fails and nothing changes.
        let analyzer = load_analyzer(&self.config)?;
        let tx = load_tx_model(&self.config)?;
        // One publish at a time here; across processes the transaction below is the arbiter:
        // it reads the latest version and inserts the next one atomically, and a version that
        // another node took meanwhile is a conflict, never a second ruleset under one number.
        let _one = self.publishing.lock().unwrap_or_else(|p| p.into_inner());
        let next = self.store.ruleset_history(a)?.first().map_or(1, |v| v.version + 1);
        let source = with_version(&source, next);
        let snap = self.compile_with_model(&source, tx.clone())?;
        self.unit_of_work(|t| {
            let latest = t.latest_version(a)?;
            if latest + 1 != next {
                return Err(AppError::Conflict(format!(
                    "version {next} was published meanwhile (latest is {latest}); publish again"
                )));
            }
            Ok(t.publish(a, next, &source, now_ms())?)
        })?;
        *self.analyzer.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(analyzer);
        *self.tx_model.write().unwrap_or_else(|p| p.into_inner()) = tx;
        self.install(a, snap)?;
        self.active_ruleset(a)
    }

    /// Makes an earlier version active again.
    pub fn rollback(&self, a: &AffiliateId, version: i64) -> Result<RulesetInfo, AppError> {
        let hist = self.store.ruleset_history(a)?;
        let v = hist
            .iter()
            .find(|v| v.version == version)
            .ok_or_else(|| AppError::NotFound(format!("ruleset version {version}")))?;
        let snap = self.compile(&v.source)?;
        self.store.activate(a, version)?;
        self.install(a, snap)?;
        self.active_ruleset(a)
    }

    fn install(&self, a: &AffiliateId, snap: Snapshot) -> Result<(), AppError> {
        let existing = self.tenants.read().unwrap_or_else(|p| p.into_inner()).get(a).cloned();
        match existing {
            Some(t) => t.rules.swap(Arc::new(snap)),
            None => {
                let t = Arc::new(Tenant::recover(a.clone(), snap, self.store.as_ref(), Arc::clone(&self.analyzer))?);
                self.tenants.write().unwrap_or_else(|p| p.into_inner()).insert(a.clone(), t);
            }
        }
        Ok(())
    }

    /// Replays the last `limit` stored events of `a` through the active ruleset and the saved
    /// draft, each with fresh feature state, and reports what the draft would change.
    pub fn backtest_draft(&self, a: &AffiliateId, limit: usize) -> Result<engine::backtest::BacktestReport, AppError> {
        let draft_src = self.store.draft(a)?.ok_or_else(|| AppError::NotFound("a draft to backtest".into()))?;
        let draft = self.compile(&draft_src)?;
        let active_src =
            self.store.active_ruleset(a)?.ok_or_else(|| AppError::NotFound("an active ruleset".into()))?.source;
        let active = self.compile(&active_src)?;
        let analyzer = self.analyzer();
        let mut bt = engine::backtest::Backtest::new();
        let mut after = (self.store.last_seq(a)? - limit.min(1_000_000) as i64).max(0);
        loop {
            let page = self.store.events_after(a, after, 10_000)?;
            for r in &page {
                if let Ok(mut e) = Event::from_json(&r.event_json, None) {
                    analyzer.enrich(&mut e);
                    bt.step(&active, &draft, &e, None);
                }
                after = r.seq;
            }
            if page.len() < 10_000 {
                break;
            }
        }
        Ok(bt.report)
    }

    /// Feature values for `event` as the state stands, without counting it: `(name, value)`.
    pub fn peek_features(&self, a: &AffiliateId, event: &Event) -> Result<Vec<(String, Option<i64>)>, AppError> {
        let t = self.tenant(a)?;
        let snap = t.rules.load();
        let values = t.peek(event);
        Ok(snap.features.iter().map(|f| f.name.clone()).zip(values).collect())
    }

    fn compile(&self, source: &str) -> Result<Snapshot, AppError> {
        let m = self.tx_model.read().unwrap_or_else(|p| p.into_inner()).clone();
        self.compile_with_model(source, m)
    }

    /// Compiles `source` and attaches `m` when the ruleset declares `[model]` inputs.
    fn compile_with_model(&self, source: &str, m: Option<Arc<model::Gbdt>>) -> Result<Snapshot, AppError> {
        let mut snap = Snapshot::compile_with(source, self.providers.clone()).map_err(AppError::Rules)?;
        if let (Some(m), Some(_)) = (m, &snap.model_inputs) {
            snap.attach_model(m).map_err(|message| AppError::Invalid { field: "model".into(), message })?;
        }
        Ok(snap)
    }

    /// Records affiliate `a`'s report on an indicator (`status` Reported), or confirms or
    /// clears its own report. Visible to every affiliate's next decision.
    pub fn report_indicator(
        &self,
        a: &AffiliateId,
        kind: indicators::IndicatorKind,
        raw: &str,
        typology: &str,
        status: registry::Status,
    ) -> Result<registry::Aggregate, AppError> {
        self.registry.record(self.store.as_ref(), a, kind, raw, typology, status, now_ms())
    }

    /// Imports many reports of `a` at once (a CSV of known fraud numbers, say): all rows are
    /// checked first; if any is bad nothing is written and the bad rows come back with their
    /// index; otherwise all are written in one transaction. Returns the indicators touched.
    pub fn import_indicators(
        &self,
        a: &AffiliateId,
        rows: &[(indicators::IndicatorKind, String, String, registry::Status)],
    ) -> Result<usize, registry::ImportError> {
        self.registry.import(self.store.as_ref(), a, rows, now_ms())
    }

    /// Checks one report row without writing it (typology and value).
    pub fn validate_indicator(
        &self,
        kind: indicators::IndicatorKind,
        raw: &str,
        typology: &str,
    ) -> Result<(), AppError> {
        self.registry.check(kind, raw, typology)
    }

    /// Per-affiliate registry totals, for the safety table only: the caller must be the group
    /// ([`GROUP`]) with the `admin` scope.
    pub fn registry_totals(&self, p: &Principal) -> Result<Vec<registry::Totals>, AppError> {
        access::authorize(p, access::Action::GroupAdmin)?;
        Ok(self.registry.totals())
    }

    /// What the registry says about an indicator now: aggregates only.
    pub fn shield(&self, kind: indicators::IndicatorKind, raw: &str) -> Result<registry::Aggregate, AppError> {
        self.registry.shield(kind, raw, now_ms())
    }

    /// Subject `subject`'s self-protection at affiliate `a` (all off when never set).
    pub fn protection(&self, a: &AffiliateId, subject: &str) -> Result<protection::Protection, AppError> {
        check_subject(subject)?;
        Ok(self.tenant(a)?.protection(subject))
    }

    /// Sets subject `subject`'s self-protection at affiliate `a`: stricter parts apply to the
    /// very next decision, looser ones after the cooling-off (see [`protection`]).
    pub fn set_protection(
        &self,
        a: &AffiliateId,
        subject: &str,
        settings: protection::Settings,
    ) -> Result<protection::Protection, AppError> {
        check_subject(subject)?;
        let settings = settings.validated().map_err(|e| AppError::Invalid { field: e.field, message: e.message })?;
        self.tenant(a)?.set_protection(subject, settings, self.store.as_ref(), now_ms(), self.config.cooling_off_ms)
    }

    /// Records that the user cancelled a held transfer before its hold ran out. Only a
    /// committed `hold` decision on a transfer can be cancelled, once, and only while held.
    pub fn cancel_hold(&self, a: &AffiliateId, decision_id: &str) -> Result<Cancelled, AppError> {
        let r = self.decision(a, decision_id)?;
        let conflict = |m: String| AppError::Conflict(m);
        if r.verdict != "hold" || r.kind != "transfer" {
            return Err(conflict(format!(
                "only a held transfer can be cancelled; {decision_id} is a {} on a {}",
                r.verdict, r.kind
            )));
        }
        let decision: domain::Decision = serde_json::from_str(&r.decision_json)
            .map_err(|e| AppError::Unavailable(format!("stored decision {decision_id} is unreadable: {e}")))?;
        let until = r.at_ms + i64::from(decision.guidance.hold_minutes.unwrap_or(0)) * 60_000;
        let now = now_ms();
        if now >= until {
            return Err(conflict(format!(
                "the hold ended at {}; the transfer is no longer held",
                domain::Timestamp(until).to_kst_rfc3339()
            )));
        }
        if !self.store.cancel_hold(a, r.seq, now)? {
            return Err(conflict(format!("{decision_id} was already cancelled")));
        }
        let event = Event::from_json(&r.event_json, None)
            .map_err(|e| AppError::Unavailable(format!("stored event {} is unreadable: {e}", r.event_id)))?;
        self.tenant(a)?.cancelled(&event);
        self.metrics.holds_cancelled.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Ok(Cancelled { decision_id: decision_id.to_string(), cancelled_ms: now })
    }

    /// The stage-1 detectors in use.
    pub fn analyzer(&self) -> Arc<detect::Analyzer> {
        current(&self.analyzer)
    }

    /// The active snapshot of `a` (for tools: replay, the live page).
    pub fn snapshot(&self, a: &AffiliateId) -> Result<Arc<Snapshot>, AppError> {
        Ok(self.tenant(a)?.rules.load())
    }

    /// Saves every affiliate's feature state and waits for the writer to commit everything
    /// queued. Call before exit; a crash without it loses nothing, it only makes the next
    /// start replay more events.
    pub fn shutdown(&self) {
        let tenants: Vec<Arc<Tenant>> =
            self.tenants.read().unwrap_or_else(|p| p.into_inner()).values().cloned().collect();
        for t in tenants {
            t.snapshot_now(&self.writer);
        }
        self.writer.flush();
    }
}

impl App {
    /// Runs `work` as one unit of work: everything it writes through the [`store::Tx`] commits
    /// together when it returns `Ok`, and nothing remains when it returns an error, which is
    /// handed back as it was.
    pub(crate) fn unit_of_work<T>(
        &self,
        mut work: impl FnMut(&mut dyn store::Tx) -> Result<T, AppError>,
    ) -> Result<T, AppError> {
        let mut failed: Option<AppError> = None;
        let r = store::in_transaction(self.store.as_ref(), |tx| match work(tx) {
            Ok(v) => Ok(v),
            Err(e) => {
                failed = Some(e);
                Err(store::StoreError::Aborted)
            }
        });
        match (r, failed) {
            (Ok(v), _) => Ok(v),
            (Err(_), Some(e)) => Err(e),
            (Err(e), None) => Err(e.into()),
        }
    }
}

/// The reserved affiliate id of the safety table (the group). Its `admin` keys see registry
/// totals per affiliate; like any affiliate it never sees another affiliate's events.
pub const GROUP: &str = "group";

/// How far ahead of the server clock an event time may be (affiliates' clocks drift).
pub const MAX_FUTURE_MS: i64 = 3_600_000;

/// Refuses event times far in the future: the feature clock follows event time, so one event
/// stamped years ahead would age every key of its affiliate out of its windows at once.
fn check_clock(e: &Event) -> Result<(), AppError> {
    let limit = now_ms() + MAX_FUTURE_MS;
    if e.at.millis() > limit {
        return Err(AppError::Invalid {
            field: "at".into(),
            message: format!(
                "{} is more than an hour ahead of the server clock ({})",
                e.at,
                domain::Timestamp(now_ms())
            ),
        });
    }
    Ok(())
}

/// The group key under which indicators are digested: `group.key` (hex) in the data directory,
/// created with 32 random bytes on first start. Every node of a group must share it.
fn group_key(dir: &std::path::Path) -> Result<indicators::GroupKey, AppError> {
    let path = dir.join("group.key");
    let bad = |e: String| AppError::Unavailable(format!("{}: {e}", path.display()));
    let hex = match std::fs::read_to_string(&path) {
        Ok(h) => h,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            let hex = generate_key().trim_start_matches("ak_").to_string();
            std::fs::write(&path, &hex).map_err(|e| bad(e.to_string()))?;
            hex
        }
        Err(e) => return Err(bad(e.to_string())),
    };
    indicators::GroupKey::from_hex(hex.trim()).map_err(|e| bad(format!("not a 64-digit hex key: {e:?}")))
}

/// The shared, swappable stage-1 detectors.
pub(crate) type Detectors = Arc<RwLock<Arc<detect::Analyzer>>>;

/// The detectors in use now.
pub(crate) fn current(d: &Detectors) -> Arc<detect::Analyzer> {
    Arc::clone(&d.read().unwrap_or_else(|p| p.into_inner()))
}

/// Loads the configured models and brand list (built-in ones where none is configured).
pub fn load_analyzer(config: &AppConfig) -> Result<detect::Analyzer, AppError> {
    let bad = |path: &std::path::Path, e: String| AppError::Invalid {
        field: "models".into(),
        message: format!("{}: {e}", path.display()),
    };
    let model = |path: &Option<PathBuf>, builtin: fn() -> detect::linear::LinearModel| match path {
        None => Ok(builtin()),
        Some(p) => {
            let bytes = std::fs::read(p).map_err(|e| bad(p, e.to_string()))?;
            detect::linear::LinearModel::from_bytes(&bytes).map_err(|e| bad(p, e.0))
        }
    };
    let messages = model(&config.messages_model, detect::text::builtin)?;
    let urls = model(&config.urls_model, detect::links::builtin)?;
    let brands = match &config.brands {
        None => detect::links::Brands::builtin(),
        Some(p) => {
            let text = std::fs::read_to_string(p).map_err(|e| bad(p, e.to_string()))?;
            detect::links::Brands::parse(&text).map_err(|e| bad(p, e))?
        }
    };
    detect::Analyzer::new(messages, urls, brands)
        .map_err(|e| AppError::Invalid { field: "models".into(), message: e.0 })
}

/// Loads the configured transaction model (none by default).
fn load_tx_model(config: &AppConfig) -> Result<Option<Arc<model::Gbdt>>, AppError> {
    let Some(p) = &config.transactions_model else { return Ok(None) };
    let bad = |e: String| AppError::Invalid { field: "model".into(), message: format!("{}: {e}", p.display()) };
    let bytes = std::fs::read(p).map_err(|e| bad(e.to_string()))?;
    Ok(Some(Arc::new(model::Gbdt::from_bytes(&bytes).map_err(|e| bad(e.to_string()))?)))
}

/// Subject ids in paths: the same rule as in events.
fn check_subject(subject: &str) -> Result<(), AppError> {
    if subject.is_empty() || subject.len() > domain::MAX_ID_LEN || subject.chars().any(char::is_control) {
        return Err(AppError::Invalid {
            field: "subject".into(),
            message: format!("must be 1 to {} bytes without control characters", domain::MAX_ID_LEN),
        });
    }
    Ok(())
}

/// Replaces the `version = N` line of the `[ruleset]` header with `version`.
fn with_version(source: &str, version: i64) -> String {
    let mut out = String::with_capacity(source.len() + 8);
    let mut in_header = false;
    let mut done = false;
    for line in source.split_inclusive('\n') {
        let t = line.trim_start();
        if t.starts_with('[') {
            in_header = t.starts_with("[ruleset]");
        }
        if in_header && !done && t.starts_with("version") && t[7..].trim_start().starts_with('=') {
            let nl = if line.ends_with("\r\n") {
                "\r\n"
            } else if line.ends_with('\n') {
                "\n"
            } else {
                ""
            };
            out.push_str(&format!("version = {version}{nl}"));
            done = true;
        } else {
            out.push_str(line);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn version_line_is_replaced_in_the_header_only() {
        let src = "[ruleset]\nname = \"x\"\nversion = 3 # old\n\n[[rule]]\nversion = 1\n";
        assert_eq!(super::with_version(src, 7), "[ruleset]\nname = \"x\"\nversion = 7\n\n[[rule]]\nversion = 1\n");
    }
}
