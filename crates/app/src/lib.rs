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
pub mod campaigns;
pub mod cases;
pub mod changes;
pub mod clusters;
mod delivery;
pub mod desk;
pub mod effect;
pub mod health;
mod keys;
mod lookups;
mod metrics;
mod outbox;
pub mod people;
pub mod protection;
pub mod registry;
pub mod relief;
mod repeat;
pub mod report;
mod rulesets;
pub mod spikes;
mod tenant;
pub mod trends;
mod writer;

pub use domain::hex;
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
    /// Save a feature-state snapshot after this many decisions per affiliate (in 16 parts, one
    /// every sixteenth of them: `tenant::SNAPSHOT_PARTS`).
    pub snapshot_every: u64,
    /// ... and the whole state at most once per this interval (a part per sixteenth of it).
    /// Taking a part holds the affiliate's decisions while that part is serialised: a whole
    /// 3 MB state (25,000 active keys) took 20-70 ms under load, a part takes a sixteenth. A restart
    /// after a crash replays at most this long of traffic or `snapshot_every` decisions,
    /// whichever is more.
    pub snapshot_min_interval: std::time::Duration,
    /// Most writes committed in one transaction.
    pub max_batch: usize,
    /// Most writes waiting for the writer; past it decisions are refused as busy (`503`).
    pub max_queued: usize,
    /// Allow webhooks to loopback, link-local and private addresses (a receiver on the same
    /// host or network, as in the demo); off by default.
    pub allow_private_webhooks: bool,
    /// How far behind the server clock an event time may be, ms: older events are refused
    /// (a year-0001 time would otherwise be counted, and replayed, forever).
    pub max_event_age_ms: i64,
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
    /// The group key's file, shared by every node; it must exist (`None`: `group.key` in
    /// `data_dir`, made on first start).
    pub group_key_file: Option<PathBuf>,
}

impl AppConfig {
    /// Defaults for `data_dir`.
    pub fn new(data_dir: impl Into<PathBuf>) -> Self {
        AppConfig {
            data_dir: data_dir.into(),
            snapshot_every: 50_000,
            snapshot_min_interval: std::time::Duration::from_secs(16),
            max_batch: 1_024,
            max_queued: 65_536,
            max_event_age_ms: DEFAULT_MAX_EVENT_AGE_MS,
            allow_private_webhooks: false,
            cooling_off_ms: DEFAULT_COOLING_OFF_MS,
            messages_model: None,
            urls_model: None,
            brands: None,
            transactions_model: None,
            sla_base_minutes: 60,
            group_key_file: None,
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

/// The default horizon for event times: 400 days back (a year of history and some slack).
pub const DEFAULT_MAX_EVENT_AGE_MS: i64 = 400 * 86_400_000;

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
    /// Principals of keys seen, with when the store last confirmed each (ms).
    keys: RwLock<HashMap<[u8; 32], (Principal, i64)>>,
    metrics: Arc<Metrics>,
    config: AppConfig,
    /// What this node shares with the others beyond the store (several nodes), if anything.
    pub(crate) shared: Option<Shared>,
    /// Where this node's changes go for the others (several nodes only).
    changes: std::sync::OnceLock<changes::Sink>,
    /// The dependencies' latest answers.
    health: health::Health,
    /// Event-id lookups in the store, batched.
    lookups: Arc<lookups::Lookups>,
    /// Every prevention campaign, by id (tenants hold the ones reaching their users).
    campaigns: RwLock<Vec<Arc<campaigns::Campaign>>>,
    /// Waves and emerging indicators per scope, judged on whole days, kept a minute for the
    /// console's pages.
    day_judged: desk::DayJudged,
}

/// What a node shares with the other nodes beyond the store.
#[derive(Clone)]
pub struct Shared {
    /// Streaming features and event-id claims, in Redis.
    pub features: signals_redis::RedisFeatures,
    /// This node's name (in claims: who is deciding an event).
    pub node: String,
}

/// How long a node's claim on an event id lasts: far longer than a decision and its commit
/// take, far shorter than a client's patience. A repeat after it is found in the store.
const CLAIM_LIFE: std::time::Duration = std::time::Duration::from_secs(60);

/// How long a repeat waits for the node that claimed its id to commit.
const CLAIM_WAIT: std::time::Duration = std::time::Duration::from_secs(3);

/// xxh3 of `a`, a NUL and `b`, streamed: the value of `xxh3_64(format!("{a}\0{b}"))` without
/// the string built (a decision's tag, protection's subject-and-payee digest; both per decision).
pub(crate) fn xxh3_pair(a: &str, b: &str) -> u64 {
    let mut h = xxhash_rust::xxh3::Xxh3::new();
    h.update(a.as_bytes());
    h.update(b"\0");
    h.update(b.as_bytes());
    h.digest()
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
        data_dir(&config)?;
        let store: Arc<dyn Store> = Arc::new(store::sqlite::SqliteStore::open(&config.data_dir.join("ansim.db"))?);
        App::on_data_dir(store, config, None)
    }

    /// Starts on `store` (for example PostgreSQL), keeping the group key in `config.data_dir`.
    pub fn open_on(store: Arc<dyn Store>, config: AppConfig) -> Result<Arc<App>, AppError> {
        App::open_node(store, config, None)
    }

    /// Starts one of several nodes on a shared `store`, with `shared` features (alone with
    /// `None`, as [`App::open_on`]).
    pub fn open_node(store: Arc<dyn Store>, config: AppConfig, shared: Option<Shared>) -> Result<Arc<App>, AppError> {
        data_dir(&config)?;
        App::on_data_dir(store, config, shared)
    }

    /// Starts on `store` with the group key of the (existing) data directory or the shared file.
    fn on_data_dir(store: Arc<dyn Store>, config: AppConfig, shared: Option<Shared>) -> Result<Arc<App>, AppError> {
        let key = match &config.group_key_file {
            Some(file) => shared_group_key(file)?,
            None => group_key(&config.data_dir)?,
        };
        App::node(store, key, config, shared)
    }

    /// Starts on an already opened store.
    pub fn with_store(
        store: Arc<dyn Store>,
        group_key: indicators::GroupKey,
        config: AppConfig,
    ) -> Result<Arc<App>, AppError> {
        App::node(store, group_key, config, None)
    }

    /// Starts one of several nodes: on a shared store, with `shared` features (or alone with
    /// `None`, as [`App::with_store`]).
    pub fn node(
        store: Arc<dyn Store>,
        group_key: indicators::GroupKey,
        config: AppConfig,
        shared: Option<Shared>,
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
            shared,
            changes: std::sync::OnceLock::new(),
            health: health::Health::default(),
            lookups: Arc::default(),
            campaigns: RwLock::new(Vec::new()),
            day_judged: desk::DayJudged::default(),
        };
        *app.campaigns.write().unwrap_or_else(|p| p.into_inner()) = app.load_campaigns()?;
        for a in app.store.affiliates()? {
            app.load_tenant(&a.id)?;
        }
        Ok(Arc::new(app))
    }

    /// Sends this node's changes (rulesets, indicator reports, protection, revoked keys) to
    /// `sink` from now on, for the other nodes.
    pub fn send_changes_to(&self, sink: changes::Sink) {
        self.registry.send_changes_to(sink.clone());
        let _ = self.changes.set(sink);
    }

    /// Tells the other nodes about a committed change (nothing without any).
    pub(crate) fn emit(&self, change: changes::Change) {
        if let Some(sink) = self.changes.get() {
            let _ = sink.send(change);
        }
    }

    /// Applies a change another node made (the store holds it already). Reads the store, so
    /// call it off the async executor.
    pub fn apply_change(&self, change: &changes::Change) -> Result<(), AppError> {
        use changes::Change as C;
        match change {
            C::Ruleset { affiliate } => {
                let Some(active) = self.store.active_ruleset(affiliate)? else { return Ok(()) };
                let snap = self.compile(&active.source)?;
                self.install(affiliate, snap)
            }
            C::Registry { rows } => {
                let rows: Vec<store::IndicatorReport> = rows.iter().filter_map(changes::Report::to_row).collect();
                self.registry.absorb(&rows);
                Ok(())
            }
            C::Protection { affiliate, subject, settings } => {
                let p: protection::Protection = serde_json::from_str(settings)
                    .map_err(|e| AppError::Invalid { field: "settings".into(), message: e.to_string() })?;
                self.tenant(affiliate)?.adopt_protection(subject, p);
                Ok(())
            }
            C::Campaign { id } => self.reload_campaign(id),
            C::KeyRevoked { affiliate, name } => {
                self.keys
                    .write()
                    .unwrap_or_else(|p| p.into_inner())
                    .retain(|_, (k, _)| !(&k.affiliate == affiliate && &k.name == name));
                Ok(())
            }
        }
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
        let t = self.recover_tenant(a, snap)?;
        self.tenants.write().unwrap_or_else(|p| p.into_inner()).insert(a.clone(), Arc::clone(&t));
        Ok(Some(t))
    }

    /// An affiliate's live state rebuilt from the store, deciding with `snap`.
    pub(crate) fn recover_tenant(&self, a: &AffiliateId, snap: engine::Snapshot) -> Result<Arc<Tenant>, AppError> {
        let shared = self.shared.is_some();
        let t = Tenant::recover(
            a.clone(),
            snap,
            self.store.as_ref(),
            Arc::clone(&self.analyzer),
            Arc::clone(&self.registry),
            shared,
        )?;
        for e in self.enrolling_for(a)? {
            t.adopt_campaign(e);
        }
        Ok(Arc::new(t))
    }

    fn tenant(&self, a: &AffiliateId) -> Result<Arc<Tenant>, AppError> {
        if let Some(t) = self.tenants.read().unwrap_or_else(|p| p.into_inner()).get(a) {
            return Ok(Arc::clone(t));
        }
        self.load_tenant(a)?.ok_or_else(|| AppError::NotFound(format!("an active ruleset for affiliate {a}")))
    }

    /// Decides on one event durably. A repeated event id returns the stored decision and does
    /// not count in features again; a repeated id with other content is a conflict.
    pub async fn decide(self: &Arc<Self>, a: &AffiliateId, event: Event) -> Result<Decided, AppError> {
        self.ready(a).await?;
        if let Some(shared) = &self.shared {
            return self.decide_shared(a, event, shared).await;
        }
        let step = self.start(a, event, false);
        self.finish(a, step).await
    }

    /// Decides as one of several nodes: the event id is looked up in the store (any node may
    /// have decided it), then claimed and counted in the shared features in one round trip,
    /// then decided here and committed. An id another node is deciding right now is answered
    /// with that node's decision once it is committed.
    async fn decide_shared(
        self: &Arc<Self>,
        a: &AffiliateId,
        event: Event,
        shared: &Shared,
    ) -> Result<Decided, AppError> {
        let event = self.admit(a, event)?;
        let tenant = self.tenant(a)?;
        let event_json = event.to_json();
        let content = xxhash_rust::xxh3::xxh3_64(event_json.as_bytes());
        if let Some(step) = tenant.join_pending(event.id.as_str(), content, &self.metrics) {
            return self.finish(a, step).await;
        }
        if let Some(answer) = self.stored_repeat(a, event.id.as_str(), &event_json).await {
            return answer;
        }
        let snap = tenant.rules();
        let ops = signals::plan(&snap.features, &event);
        let claim_key = format!("ansim:id:{a}:{}", event.id);
        let content_tag = format!("{content:016x}");
        let claim = format!("{content_tag} {}", shared.node);
        let history = tenant.shared_history(&event);
        let t = std::time::Instant::now();
        let observed =
            shared.features.observe(a.as_str(), &ops, Some((&claim_key, &claim, CLAIM_LIFE)), history.as_ref()).await;
        self.metrics.dependencies.redis.record(t.elapsed(), observed.is_ok());
        let step = match &observed {
            Ok(signals_redis::Observed::Counted(values, seen)) => {
                let step = tenant.decide(
                    event,
                    tenant::Counting::Given(&snap, values, *seen),
                    &self.writer,
                    &self.config,
                    &self.metrics,
                );
                let decided = self.finish(a, step).await;
                // A blocked transfer paid nobody: take it back out of the shared history.
                if let (Ok(d), Some(h), Some(seen)) = (&decided, &history, seen)
                    && d.decision.verdict == domain::Verdict::Block
                {
                    let t = std::time::Instant::now();
                    let undone = shared.features.undo(a.as_str(), h, seen).await;
                    self.metrics.dependencies.redis.record(t.elapsed(), undone.is_ok());
                }
                return decided;
            }
            Ok(signals_redis::Observed::Claimed(by)) => {
                let same = by.split(' ').next() == Some(content_tag.as_str());
                return self.claimed_elsewhere(a, event.id.as_str(), &event_json, same).await;
            }
            Err(why) => {
                self.metrics.degraded.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                tenant.decide(event, tenant::Counting::Degraded(why), &self.writer, &self.config, &self.metrics)
            }
        };
        self.finish(a, step).await
    }

    /// The answer to a repeat of a stored event id (its stored decision, or a conflict when
    /// the content differs), read on a blocking thread; `None` when the id is not stored.
    async fn stored_repeat(
        &self,
        a: &AffiliateId,
        event_id: &str,
        event_json: &str,
    ) -> Option<Result<Decided, AppError>> {
        let t = std::time::Instant::now();
        let found = self.lookups.get(&self.store, a, event_id).await;
        self.metrics.dependencies.store_read.record(t.elapsed(), found.is_ok());
        match found {
            Ok(Some(r)) => {
                self.metrics.duplicates.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                Some(repeat::repeat(&r, event_json))
            }
            Ok(None) => None,
            Err(e) => Some(Err(e.into())),
        }
    }

    /// Another node holds the claim on this event id: its decision, once committed. Other
    /// content under the same id is a conflict at once.
    async fn claimed_elsewhere(
        &self,
        a: &AffiliateId,
        event_id: &str,
        event_json: &str,
        same_content: bool,
    ) -> Result<Decided, AppError> {
        if !same_content {
            return Err(repeat::reused(event_id, "being decided on another node"));
        }
        let started = std::time::Instant::now();
        let mut wait = std::time::Duration::from_millis(2);
        loop {
            if let Some(answer) = self.stored_repeat(a, event_id, event_json).await {
                return answer;
            }
            if started.elapsed() >= CLAIM_WAIT {
                return Err(AppError::Overloaded("the same event id is being decided on another node"));
            }
            tokio::time::sleep(wait).await;
            wait = (wait * 2).min(std::time::Duration::from_millis(100));
        }
    }

    /// Decides on several events, in order, each durably; one result per event.
    pub async fn decide_batch(self: &Arc<Self>, a: &AffiliateId, events: Vec<Event>) -> Vec<Result<Decided, AppError>> {
        if let Err(e) = self.ready(a).await {
            return events.iter().map(|_| Err(e.clone())).collect();
        }
        if let Some(shared) = &self.shared {
            // In order, each counted in the shared features before the next.
            let mut out = Vec::with_capacity(events.len());
            for e in events {
                out.push(self.decide_shared(a, e, shared).await);
            }
            return out;
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
                match self.stored_repeat(a, event.id.as_str(), &event_json).await {
                    Some(answer) => answer,
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
    fn start(&self, a: &AffiliateId, event: Event, checked: bool) -> Result<tenant::Step, AppError> {
        let event = self.admit(a, event)?;
        self.tenant(a)?.decide(event, tenant::Counting::Here { checked }, &self.writer, &self.config, &self.metrics)
    }

    /// Checks an event against the caller and the clock and analyses a message or contact.
    fn admit(&self, a: &AffiliateId, mut event: Event) -> Result<Event, AppError> {
        check_clock(&event, self.config.max_event_age_ms)?;
        current(&self.analyzer).enrich(&mut event);
        if &event.affiliate != a {
            return Err(AppError::Invalid {
                field: "affiliate".into(),
                message: format!("the event is for {:?} but the key belongs to {a:?}", event.affiliate.as_str()),
            });
        }
        Ok(event)
    }

    /// The stored decision with this decision id, as `(decision JSON, event JSON)`.
    pub fn decision(&self, a: &AffiliateId, decision_id: &str) -> Result<store::EventRecord, AppError> {
        let not_found = || AppError::NotFound(format!("decision {decision_id}"));
        // The sequence number finds the row, the whole id must match.
        let seq = store::decision_seq(decision_id).ok_or_else(not_found)?;
        match self.store.event_by_seq(a, seq)? {
            Some(r) if r.decision_id == decision_id => Ok(r),
            _ => Err(not_found()),
        }
    }

    /// Feature values for `event` as this process's state stands, without counting it:
    /// `(name, value)`. A node whose features are shared counts none itself.
    pub fn peek_features(&self, a: &AffiliateId, event: &Event) -> Result<Vec<(String, Option<i64>)>, AppError> {
        if self.shared.is_some() {
            return Err(AppError::Unavailable("this node's features are counted in the shared store".into()));
        }
        let t = self.tenant(a)?;
        let snap = t.rules.load();
        let values = t.peek(event);
        Ok(snap.features.iter().map(|f| f.name.clone()).zip(values).collect())
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
        // Fold the write-ahead log into the database: a stopped store is one file.
        if let Err(e) = self.store.checkpoint() {
            eprintln!("ansim: checkpoint on shutdown failed: {e}");
        }
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

/// Refuses event times far in the future (the feature clock follows event time, so one event
/// stamped years ahead would age every key of its affiliate out of its windows at once) and
/// older than the horizon.
fn check_clock(e: &Event, max_age_ms: i64) -> Result<(), AppError> {
    let now = now_ms();
    let bad = |message: String| AppError::Invalid { field: "at".into(), message };
    if e.at.millis() > now + MAX_FUTURE_MS {
        return Err(bad(format!(
            "{} is more than an hour ahead of the server clock ({})",
            e.at,
            domain::Timestamp(now)
        )));
    }
    if e.at.millis() < now.saturating_sub(max_age_ms) {
        return Err(bad(format!(
            "{} is older than the {} days this server accepts (before {})",
            e.at,
            max_age_ms / 86_400_000,
            domain::Timestamp(now.saturating_sub(max_age_ms))
        )));
    }
    Ok(())
}

/// Creates the data directory if it is missing.
fn data_dir(config: &AppConfig) -> Result<(), AppError> {
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|e| AppError::Unavailable(format!("cannot create data directory {}: {e}", config.data_dir.display())))
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

/// The group key from a file every node shares. Never made here: nodes that each made their
/// own would digest the same account differently and never see each other's reports.
fn shared_group_key(path: &std::path::Path) -> Result<indicators::GroupKey, AppError> {
    let bad =
        |e: String| AppError::Invalid { field: "group_key_file".into(), message: format!("{}: {e}", path.display()) };
    let hex = std::fs::read_to_string(path)
        .map_err(|e| bad(format!("{e}; every node reads the same key: copy the first node's data/group.key there")))?;
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
    if subject.is_empty() || subject.chars().count() > domain::MAX_ID_LEN || subject.chars().any(char::is_control) {
        return Err(AppError::Invalid {
            field: "subject".into(),
            message: format!("must be 1 to {} characters without control characters", domain::MAX_ID_LEN),
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

    /// Decision tags and payee digests are stored (in decision ids and snapshots): the streamed
    /// digest is the one of the joined text they were made from before.
    #[test]
    fn a_streamed_pair_digest_is_the_joined_texts() {
        let long = "e".repeat(300);
        for (a, b) in [("pay", "w-1-1"), ("bank", ""), ("", "x"), ("messenger", long.as_str())] {
            assert_eq!(super::xxh3_pair(a, b), xxhash_rust::xxh3::xxh3_64(format!("{a}\0{b}").as_bytes()), "{a}");
        }
    }
}
