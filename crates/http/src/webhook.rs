//! Signed webhook delivery of follow-up actions to affiliates, and a demo receiver.
//!
//! # The delivery contract
//!
//! A case change queues follow-up actions (`hold_account`, `sanction_profile`,
//! `notify_victim`, ...) for an affiliate in the same transaction (`Store::save_case`). The
//! [`Deliverer`] sends each one to the affiliate's webhook (`Store::put_webhook`: a URL and a
//! signing secret) as
//!
//! ```text
//! POST <url>
//! Content-Type: application/json
//! X-Ansim-Action-Id: act_...            the idempotency key
//! X-Ansim-Timestamp: 1764121445000      unix ms at which this attempt was signed
//! X-Ansim-Signature: v1=<64 hex>        lowercase hex HMAC-SHA-256(secret, "<timestamp>.<body>")
//!
//! {"id":"act_...","affiliate":"bank","kind":"hold_account",
//!  "created_at":"2026-11-26T10:00:00.000+09:00","payload":{...}}
//! ```
//!
//! - **At least once, idempotent by id.** An action is sent until a `2xx` answers it, and can
//!   arrive more than once (a lost acknowledgement, a restart between sending and recording).
//!   A receiver must treat a repeated `X-Ansim-Action-Id` as the same action: act once, answer
//!   `2xx` again.
//! - **Verify before parsing.** Recompute the HMAC over the timestamp header, a `.` and the raw
//!   body bytes as received, compare in constant time, and refuse a timestamp more than a few
//!   minutes from your clock (replay protection). [`verify`] does all of it; [`sign`] is the
//!   sending side. Every attempt is signed afresh with ansim's clock. To rotate a secret, a
//!   receiver may accept either of two while the new one is rolled out (`verify` also accepts a
//!   comma-separated list of `v1=` values).
//! - **Retries.** Any `2xx` acknowledges. Any other status, no answer within the request timeout
//!   (5 s) or a connection failure is a failed attempt, and so is an affiliate with no webhook
//!   configured (so configuring one in time still delivers). A failed attempt is retried after
//!   1 s, 2 s, 4 s, ... doubling up to 10 min, each shortened by up to a quarter by a jitter
//!   derived from the action id and attempt ([`Settings::backoff_ms`]: deterministic, and it
//!   spreads retries of actions that failed together). After `max_attempts` (8) failed attempts
//!   the action is dead-lettered (`Store::dead_actions`) and never sent again.
//! - **Order and concurrency.** One affiliate's due actions are sent one at a time, oldest due
//!   first; different affiliates are served concurrently, a few at a time. Retries reorder, so
//!   receivers must not rely on order. When an affiliate's webhook times out or refuses the
//!   connection, the rest of its due actions in that round are not sent and count as failed
//!   attempts with that error: one round waits for at most one timeout per affiliate, and one
//!   affiliate's dead endpoint neither stalls the others nor clogs the due queue.
//! - **Plain HTTP.** The client speaks HTTP/1.1 without TLS (the tree has no TLS connector): an
//!   `https://` webhook fails every attempt with a message saying so. Reach HTTPS receivers
//!   through a TLS-originating egress proxy; a TLS connector is future work.
//!
//! Store calls are blocking (SQLite) and run on blocking threads. A store error is logged and
//! leaves the action due, to be tried again next round; nothing here panics.
//!
//! [`Receiver`] is a receiver for the demo and the tests: it verifies signatures, records each
//! action id once, and lists what arrived at `GET /demo/webhooks`.

use app::App;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Request, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use domain::{AffiliateId, Timestamp};
use hmac::{Hmac, KeyInit, Mac};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::{TokioExecutor, TokioTimer};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::Sha256;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use store::{ActionOutcome, ActionRow};
use tokio::sync::{Semaphore, watch};
use tokio::task::JoinSet;

/// The idempotency key header: the action's id.
pub const HEADER_ACTION_ID: &str = "x-ansim-action-id";
/// The signing time header: unix milliseconds.
pub const HEADER_TIMESTAMP: &str = "x-ansim-timestamp";
/// The signature header: `v1=<lowercase hex HMAC-SHA-256>`.
pub const HEADER_SIGNATURE: &str = "x-ansim-signature";
/// How far a signature's timestamp may be from the receiver's clock by default: 5 minutes.
pub const DEFAULT_TOLERANCE_MS: i64 = 5 * 60 * 1_000;

type HmacSha256 = Hmac<Sha256>;

fn mac(secret: &str, timestamp_ms: i64, body: &[u8]) -> HmacSha256 {
    let mut m = HmacSha256::new_from_slice(secret.as_bytes()).expect("HMAC takes keys of any length");
    m.update(timestamp_ms.to_string().as_bytes());
    m.update(b".");
    m.update(body);
    m
}

/// The `X-Ansim-Signature` value for `body` sent at `timestamp_ms`:
/// `v1=` and the lowercase hex HMAC-SHA-256 of `"<timestamp_ms>.<body>"` under `secret`.
pub fn sign(secret: &str, timestamp_ms: i64, body: &[u8]) -> String {
    let tag = mac(secret, timestamp_ms, body).finalize().into_bytes();
    let mut s = String::with_capacity(3 + 2 * tag.len());
    s.push_str("v1=");
    domain::push_hex(&mut s, &tag);
    s
}

fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if s.is_empty() || !s.len().is_multiple_of(2) {
        return None;
    }
    s.as_bytes().chunks(2).map(|p| Some((nibble(p[0])? << 4) | nibble(p[1])?)).collect()
}

/// Checks a delivery: `signature` (the `X-Ansim-Signature` value; a comma-separated list of
/// `v1=` values is accepted, for secret rotation) must be [`sign`] of `body` at `timestamp_ms`
/// under `secret`, compared in constant time, and `timestamp_ms` must be within `tolerance_ms`
/// of `now_ms` either way (a replayed old delivery is refused). `body` is the raw bytes as
/// received.
pub fn verify(
    secret: &str,
    timestamp_ms: i64,
    body: &[u8],
    signature: &str,
    now_ms: i64,
    tolerance_ms: i64,
) -> Result<(), &'static str> {
    if now_ms.abs_diff(timestamp_ms) > tolerance_ms.max(0).unsigned_abs() {
        return Err("timestamp outside the tolerance: stale or replayed delivery");
    }
    let expected = mac(secret, timestamp_ms, body);
    let mut well_formed = false;
    for part in signature.split(',').map(str::trim) {
        let Some(tag) = part.strip_prefix("v1=").and_then(unhex) else { continue };
        well_formed = true;
        if expected.clone().verify_slice(&tag).is_ok() {
            return Ok(());
        }
    }
    Err(if well_formed { "signature does not match" } else { "signature is not of the form v1=<hex>" })
}

/// The JSON body of a delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Envelope {
    /// The action id (also in `X-Ansim-Action-Id`).
    pub id: String,
    /// The affiliate it is for.
    pub affiliate: String,
    /// `hold_account`, `sanction_profile`, `notify_victim`, ...
    pub kind: String,
    /// When the action was created, RFC 3339 in KST.
    pub created_at: String,
    /// The action's details.
    pub payload: Value,
}

impl Envelope {
    /// The envelope of a stored action. A payload that is not JSON (never written by ansim)
    /// is sent as a JSON string rather than not at all.
    pub fn of(action: &ActionRow) -> Envelope {
        Envelope {
            id: action.id.clone(),
            affiliate: action.affiliate.to_string(),
            kind: action.kind.clone(),
            created_at: Timestamp(action.created_ms).to_kst_rfc3339(),
            payload: serde_json::from_str(&action.payload).unwrap_or_else(|_| Value::String(action.payload.clone())),
        }
    }
}

/// How the [`Deliverer`] behaves.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Failed attempts after which an action is dead-lettered.
    pub max_attempts: i64,
    /// Wait after the first failed attempt, ms; it doubles with every further one.
    pub base_backoff_ms: i64,
    /// The longest wait between attempts, ms.
    pub max_backoff_ms: i64,
    /// Longest wait for a webhook's response (connecting included).
    pub request_timeout: Duration,
    /// Most actions taken from the store per round.
    pub batch: usize,
    /// Most affiliates served at once.
    pub concurrency: usize,
    /// Pause between rounds in [`Deliverer::run`].
    pub interval: Duration,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            max_attempts: 8,
            base_backoff_ms: 1_000,
            max_backoff_ms: 10 * 60 * 1_000,
            request_timeout: Duration::from_secs(5),
            batch: 100,
            concurrency: 4,
            interval: Duration::from_millis(250),
        }
    }
}

impl Settings {
    /// The wait after failed attempt number `attempt` (1 for the first) of action `action_id`:
    /// `base_backoff_ms · 2^(attempt-1)`, at most `max_backoff_ms`, less a jitter of up to a
    /// quarter of it that depends only on the id and the attempt.
    pub fn backoff_ms(&self, action_id: &str, attempt: i64) -> i64 {
        let cap = self.max_backoff_ms.max(1);
        let doublings = attempt.saturating_sub(1).clamp(0, 40) as u32;
        let full = self.base_backoff_ms.max(1).checked_mul(1i64 << doublings).map_or(cap, |d| d.min(cap));
        let spread = (full / 4) as u64 + 1;
        full - (jitter_seed(action_id, attempt) % spread) as i64
    }
}

/// FNV-1a over the id and the attempt number.
fn jitter_seed(action_id: &str, attempt: i64) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in action_id.as_bytes().iter().chain(&attempt.to_le_bytes()) {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// What one round of [`Deliverer::deliver_due`] did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryReport {
    /// Due actions handled (sent, or failed without sending: no webhook, endpoint down).
    pub attempted: usize,
    /// Acknowledged by a `2xx` and recorded.
    pub delivered: usize,
    /// Failed and recorded with a next attempt.
    pub retried: usize,
    /// Failed for the last time and recorded as dead letters.
    pub dead: usize,
    /// Store calls (or delivery tasks) that failed; the actions concerned stay due.
    pub store_errors: usize,
}

impl DeliveryReport {
    fn add(&mut self, o: &DeliveryReport) {
        self.attempted += o.attempted;
        self.delivered += o.delivered;
        self.retried += o.retried;
        self.dead += o.dead;
        self.store_errors += o.store_errors;
    }
}

/// Why an attempt failed.
enum Failure {
    /// No answer or no connection: the endpoint is down, skip the affiliate's other actions.
    Unreachable(String),
    /// Anything else (a non-2xx status, a bad URL).
    Other(String),
}

/// Sends due follow-up actions to the affiliates' webhooks; see the module documentation for
/// the contract. Cheap to share: run one per process.
pub struct Deliverer {
    inner: Arc<Inner>,
}

struct Inner {
    app: Arc<App>,
    client: Client<HttpConnector, String>,
    settings: Settings,
}

impl Deliverer {
    /// A deliverer over `app`'s store with the default [`Settings`].
    pub fn new(app: Arc<App>) -> Deliverer {
        Deliverer::with_settings(app, Settings::default())
    }

    /// A deliverer with `settings`.
    pub fn with_settings(app: Arc<App>, settings: Settings) -> Deliverer {
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(settings.request_timeout));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_timer(TokioTimer::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Deliverer { inner: Arc::new(Inner { app, client, settings }) }
    }

    /// Its settings.
    pub fn settings(&self) -> &Settings {
        &self.inner.settings
    }

    /// One round: takes up to `batch` actions due at `now_ms` and attempts each once, then
    /// records the outcome at `now_ms` (delivered, retry with backoff, or dead). Affiliates
    /// are served concurrently, at most `concurrency` at a time. Never panics; store errors
    /// are logged and counted, and leave the actions due.
    pub async fn deliver_due(&self, now_ms: i64) -> DeliveryReport {
        let inner = &self.inner;
        let limit = inner.settings.batch.max(1);
        let due = match inner.store(move |s| s.actions_due(now_ms, limit)).await {
            Ok(due) => due,
            Err(e) => {
                tracing::error!(error = %e, "webhook delivery: cannot read due actions");
                return DeliveryReport { store_errors: 1, ..DeliveryReport::default() };
            }
        };
        // Group by affiliate, keeping each group in due order.
        let mut groups: Vec<(AffiliateId, Vec<ActionRow>)> = Vec::new();
        let mut index: HashMap<AffiliateId, usize> = HashMap::new();
        for a in due {
            match index.get(&a.affiliate) {
                Some(&i) => groups[i].1.push(a),
                None => {
                    index.insert(a.affiliate.clone(), groups.len());
                    groups.push((a.affiliate.clone(), vec![a]));
                }
            }
        }
        let permits = Arc::new(Semaphore::new(inner.settings.concurrency.max(1)));
        let mut tasks = JoinSet::new();
        for (affiliate, actions) in groups {
            let Ok(permit) = Arc::clone(&permits).acquire_owned().await else { break };
            let inner = Arc::clone(inner);
            tasks.spawn(async move {
                let _permit = permit;
                inner.deliver_affiliate(affiliate, actions, now_ms).await
            });
        }
        let mut report = DeliveryReport::default();
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok(r) => report.add(&r),
                Err(e) => {
                    tracing::error!(error = %e, "webhook delivery task failed; its actions stay due");
                    report.store_errors += 1;
                }
            }
        }
        report
    }

    /// Runs a round every `interval` (by the server clock) until `stop` turns true or its
    /// sender is dropped. A round in progress is finished first (at most about one request
    /// timeout per affiliate).
    pub async fn run(self: Arc<Self>, mut stop: watch::Receiver<bool>) {
        loop {
            if *stop.borrow() {
                break;
            }
            let r = self.deliver_due(app::now_ms()).await;
            if r != DeliveryReport::default() {
                tracing::debug!(?r, "webhook delivery round");
            }
            tokio::select! {
                _ = tokio::time::sleep(self.inner.settings.interval) => {}
                _ = stop.wait_for(|s| *s) => break,
            }
        }
    }
}

impl Inner {
    /// Runs an application call that touches the store on a blocking thread.
    async fn store<T: Send + 'static>(
        &self,
        f: impl FnOnce(&App) -> Result<T, app::AppError> + Send + 'static,
    ) -> Result<T, String> {
        let app = Arc::clone(&self.app);
        match tokio::task::spawn_blocking(move || f(&app)).await {
            Ok(Ok(v)) => Ok(v),
            Ok(Err(e)) => Err(e.to_string()),
            Err(e) => Err(format!("store task failed: {e}")),
        }
    }

    /// Attempts `actions` (all of `affiliate`, in due order) one after the other.
    async fn deliver_affiliate(&self, affiliate: AffiliateId, actions: Vec<ActionRow>, now_ms: i64) -> DeliveryReport {
        let mut report = DeliveryReport::default();
        let a = affiliate.clone();
        let hook = match self.store(move |s| s.webhook(&a)).await {
            Ok(h) => h,
            Err(e) => {
                tracing::error!(%affiliate, error = %e, "webhook delivery: cannot read the webhook; actions stay due");
                report.store_errors += 1;
                return report;
            }
        };
        let mut unreachable: Option<String> = None;
        for action in actions {
            let result = match (&hook, &unreachable) {
                (None, _) => Err(format!("no webhook configured for {affiliate}")),
                (Some(_), Some(e)) => Err(format!("not sent: the webhook failed earlier in this round ({e})")),
                (Some((url, secret)), None) => match self.post(url, secret, &action).await {
                    Ok(()) => Ok(()),
                    Err(Failure::Unreachable(e)) => {
                        unreachable = Some(e.clone());
                        Err(e)
                    }
                    Err(Failure::Other(e)) => Err(e),
                },
            };
            report.attempted += 1;
            let attempt = action.attempts.saturating_add(1);
            let outcome = match result {
                Ok(()) => ActionOutcome::Delivered,
                Err(error) if attempt >= self.settings.max_attempts.max(1) => ActionOutcome::Dead { error },
                Err(error) => ActionOutcome::Retry {
                    next_ms: now_ms.saturating_add(self.settings.backoff_ms(&action.id, attempt)),
                    error,
                },
            };
            match &outcome {
                ActionOutcome::Delivered => {
                    tracing::debug!(action = %action.id, %affiliate, attempt, "action delivered")
                }
                ActionOutcome::Retry { next_ms, error } => {
                    tracing::warn!(action = %action.id, %affiliate, attempt, next_ms, %error, "action delivery failed; will retry")
                }
                ActionOutcome::Dead { error } => {
                    tracing::error!(action = %action.id, %affiliate, attempt, %error, "action delivery failed for the last time; dead-lettered")
                }
            }
            let id = action.id.clone();
            let recorded = outcome.clone();
            match self.store(move |s| s.action_attempted(&id, recorded, now_ms)).await {
                Ok(()) => {
                    let m = self.app.metrics();
                    match outcome {
                        ActionOutcome::Delivered => {
                            report.delivered += 1;
                            m.actions_delivered.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                        ActionOutcome::Retry { .. } => report.retried += 1,
                        ActionOutcome::Dead { .. } => {
                            report.dead += 1;
                            m.actions_dead.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        }
                    }
                }
                Err(e) => {
                    tracing::error!(action = %action.id, error = %e, "webhook delivery: cannot record the attempt; the action stays due");
                    report.store_errors += 1;
                }
            }
        }
        report
    }

    /// Sends one action to `url`, signed with `secret`.
    async fn post(&self, url: &str, secret: &str, action: &ActionRow) -> Result<(), Failure> {
        if url.get(..8).is_some_and(|s| s.eq_ignore_ascii_case("https://")) {
            return Err(Failure::Other(format!(
                "{url}: https webhooks are not supported (ansim sends plain HTTP; use a TLS-originating proxy)"
            )));
        }
        let body = serde_json::to_string(&Envelope::of(action))
            .map_err(|e| Failure::Other(format!("cannot encode the action: {e}")))?;
        let timestamp = app::now_ms();
        let signature = sign(secret, timestamp, body.as_bytes());
        let request = Request::post(url)
            .header(header::CONTENT_TYPE, "application/json")
            .header(header::USER_AGENT, concat!("ansim-webhook/", env!("CARGO_PKG_VERSION")))
            .header(HEADER_ACTION_ID, action.id.as_str())
            .header(HEADER_TIMESTAMP, timestamp.to_string())
            .header(HEADER_SIGNATURE, signature)
            .body(body)
            .map_err(|e| Failure::Other(format!("cannot make a request to {url}: {e}")))?;
        let timeout = self.settings.request_timeout;
        match tokio::time::timeout(timeout, self.client.request(request)).await {
            Err(_) => Err(Failure::Unreachable(format!("{url}: no answer within {} ms", timeout.as_millis()))),
            Ok(Err(e)) => Err(Failure::Unreachable(format!("{url}: {}", error_chain(&e)))),
            Ok(Ok(response)) if response.status().is_success() => Ok(()),
            Ok(Ok(response)) => Err(Failure::Other(format!("{url}: HTTP {}", response.status()))),
        }
    }
}

/// An error with its causes, `outer: inner: ...`.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cause = e.source();
    while let Some(c) = cause {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cause = c.source();
    }
    s
}

/// One action as the demo [`Receiver`] got it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Received {
    /// Whose webhook it arrived at.
    pub affiliate: String,
    /// The action id.
    pub id: String,
    /// The action kind.
    pub kind: String,
    /// When ansim created it, RFC 3339 in KST.
    pub created_at: String,
    /// When it first arrived, RFC 3339 in KST.
    pub received_at: String,
    /// When it first arrived, unix ms.
    pub received_ms: i64,
    /// How many verified deliveries of this id were answered `200` (1 unless repeated).
    pub deliveries: u32,
    /// The action's details.
    pub payload: Value,
}

/// A webhook receiver for the demo and the tests: `POST /demo/webhooks/{affiliate}` verifies
/// the signature with that affiliate's secret (`401` if it does not verify, `404` for an
/// affiliate it has no secret for), records each action id once (a repeat is answered `200`
/// and only counted), and `GET /demo/webhooks` lists what arrived. Clones share state.
#[derive(Clone)]
pub struct Receiver {
    inner: Arc<ReceiverInner>,
}

struct ReceiverInner {
    secrets: HashMap<String, String>,
    tolerance_ms: i64,
    fail_next: AtomicUsize,
    state: Mutex<ReceiverState>,
}

#[derive(Default)]
struct ReceiverState {
    received: Vec<Received>,
    seen: HashMap<(String, String), usize>,
    rejected: usize,
    failed_on_purpose: usize,
}

impl Receiver {
    /// A receiver that knows these `(affiliate, secret)` pairs.
    pub fn new<K: Into<String>, V: Into<String>>(secrets: impl IntoIterator<Item = (K, V)>) -> Receiver {
        Receiver {
            inner: Arc::new(ReceiverInner {
                secrets: secrets.into_iter().map(|(k, v)| (k.into(), v.into())).collect(),
                tolerance_ms: DEFAULT_TOLERANCE_MS,
                fail_next: AtomicUsize::new(0),
                state: Mutex::new(ReceiverState::default()),
            }),
        }
    }

    /// Answers `503` to the next `n` correctly signed deliveries without recording them, so the
    /// demo shows retries.
    pub fn fail_next(&self, n: usize) {
        self.inner.fail_next.store(n, Ordering::SeqCst);
    }

    /// What arrived, in order of first arrival.
    pub fn received(&self) -> Vec<Received> {
        self.state().received.clone()
    }

    /// Deliveries refused for a missing or bad signature or a stale timestamp.
    pub fn rejected(&self) -> usize {
        self.state().rejected
    }

    /// The routes: `POST /demo/webhooks/{affiliate}` and `GET /demo/webhooks`.
    pub fn router(self) -> Router {
        Router::new()
            .route("/demo/webhooks", get(list))
            .route("/demo/webhooks/{affiliate}", post(receive))
            .with_state(self)
    }

    fn state(&self) -> std::sync::MutexGuard<'_, ReceiverState> {
        self.inner.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Handles one delivery to `affiliate`'s webhook arriving at `now_ms`.
    fn accept(&self, affiliate: &str, headers: &HeaderMap, body: &[u8], now_ms: i64) -> (StatusCode, Value) {
        let refuse = |status: StatusCode, why: &str| (status, json!({ "error": why }));
        let Some(secret) = self.inner.secrets.get(affiliate) else {
            return refuse(StatusCode::NOT_FOUND, "no webhook secret for this affiliate");
        };
        let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
        let timestamp = header(HEADER_TIMESTAMP).and_then(|v| v.trim().parse::<i64>().ok());
        let checked = match (timestamp, header(HEADER_SIGNATURE)) {
            (Some(ts), Some(sig)) => verify(secret, ts, body, sig, now_ms, self.inner.tolerance_ms),
            _ => Err("missing or malformed X-Ansim-Timestamp or X-Ansim-Signature"),
        };
        if let Err(why) = checked {
            self.state().rejected += 1;
            return refuse(StatusCode::UNAUTHORIZED, why);
        }
        let envelope: Envelope = match serde_json::from_slice(body) {
            Ok(e) => e,
            Err(_) => return refuse(StatusCode::BAD_REQUEST, "the body is not an action envelope"),
        };
        if envelope.affiliate != affiliate || header(HEADER_ACTION_ID) != Some(envelope.id.as_str()) {
            return refuse(StatusCode::BAD_REQUEST, "X-Ansim-Action-Id or the affiliate does not match the body");
        }
        if self.inner.fail_next.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_ok() {
            self.state().failed_on_purpose += 1;
            return refuse(StatusCode::SERVICE_UNAVAILABLE, "failing on purpose to show retries");
        }
        let mut st = self.state();
        let key = (affiliate.to_string(), envelope.id.clone());
        if let Some(&i) = st.seen.get(&key) {
            st.received[i].deliveries += 1;
            return (StatusCode::OK, json!({ "id": envelope.id, "duplicate": true }));
        }
        let i = st.received.len();
        st.seen.insert(key, i);
        st.received.push(Received {
            affiliate: envelope.affiliate,
            id: envelope.id.clone(),
            kind: envelope.kind,
            created_at: envelope.created_at,
            received_at: Timestamp(now_ms).to_kst_rfc3339(),
            received_ms: now_ms,
            deliveries: 1,
            payload: envelope.payload,
        });
        (StatusCode::OK, json!({ "id": envelope.id, "duplicate": false }))
    }
}

async fn receive(
    State(r): State<Receiver>,
    Path(affiliate): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (status, body) = r.accept(&affiliate, &headers, &body, app::now_ms());
    (status, Json(body)).into_response()
}

async fn list(State(r): State<Receiver>) -> Json<Value> {
    let st = r.state();
    Json(json!({
        "received": st.received,
        "rejected": st.rejected,
        "failed_on_purpose": st.failed_on_purpose,
    }))
}

/// Points the webhooks of `affiliates` at a demo [`Receiver`] served under `base_url`
/// (`http://127.0.0.1:8080`, no trailing slash) with a fresh secret each, and returns the
/// receiver that knows the secrets. Serve `receiver.router()` at `base_url` and run a
/// [`Deliverer`] to see actions arrive. Blocking (store writes).
pub fn demo_setup(app: &App, base_url: &str, affiliates: &[&str]) -> Result<Receiver, String> {
    let base = base_url.trim_end_matches('/');
    let now = app::now_ms();
    let mut secrets = Vec::new();
    for &a in affiliates {
        let secret = format!("whsec_{}", app::generate_key().trim_start_matches("ak_"));
        let url = format!("{base}/demo/webhooks/{a}");
        app.store()
            .put_webhook(&AffiliateId(a.into()), &url, &secret, now)
            .map_err(|e| format!("webhook for {a}: {e}"))?;
        secrets.push((a.to_string(), secret));
    }
    Ok(Receiver::new(secrets))
}
