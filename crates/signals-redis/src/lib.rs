//! Streaming features shared by several ansim nodes, kept in Redis.
//!
//! The in-memory [`signals::FeatureState`] is right for one process; several nodes deciding
//! for one affiliate must count into one state, or a scammer's ten transfers split over two
//! nodes look like five each. [`RedisFeatures::observe`] takes one event's [`signals::Op`]s
//! (what each feature updates and reads, computed in the node) and runs them on the state in
//! Redis as if no other node ran at the same time:
//!
//! 1. one pipelined round trip claims the event id (`SET NX`, when asked) and reads the
//!    state of every key the event touches;
//! 2. the node runs the ops on that state with [`signals::Op::run`], the very code the
//!    in-memory state runs (one algorithm, not a port of it), and answers;
//! 3. one compare-and-set call (`cas.lua`) writes each changed key back only if it still
//!    holds the version read, and checks that the keys only read did not change. A key
//!    another node changed meanwhile comes back with its current value; the node runs that
//!    key's ops again from it and tries again (the other keys are written and stay so:
//!    a key's state depends on its own ops only).
//!
//! Concurrent calls of one node share both round trips (each event still in its turn), so
//! under load two round trips serve many decisions. Redis only stores, compares and returns
//! bytes: a few microseconds per key, where a script that walked the windows itself spent
//! most of Redis's time per decision in Lua (BENCHMARKS §11).
//!
//! If another node holds the claim, nothing is counted and the caller learns who has it, so
//! one event sent to two nodes at once is counted once.
//!
//! Keys: `ansim:f3:<affiliate>:<key digest>`, one per entity, holding every feature's state
//! for that key (digests, never the raw value; `f3`: this state format, so a later format
//! never misreads it), and `ansim:h2:<affiliate>:p:<pair>` / `…:s:<subject>` for the payee
//! history. Each feature's state in an entity expires after its window, lateness and one
//! bucket have passed since its last update, as a key of its own would, and the key with the
//! longest-lived of them. Expiry runs on the nodes' clocks, eviction in memory on event time;
//! for live traffic the two agree. One case differs by design: an event later than the
//! lateness tolerance, for a key idle longer than window plus tolerance. Memory may already
//! have evicted the key and counts the event afresh in its own bucket; Redis still holds the
//! key and, as documented for late events, places the event at the tolerance edge of the
//! key's newest event.

use redis::aio::ConnectionManager;
use signals::KeyState;
use signals::Op;
use signals::features::{Bucket, SetKey, WindowKey};
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// The compare-and-set script, loaded once per connection and then called by its digest.
const CAS: &str = include_str!("cas.lua");

/// A transfer's payee history, recorded in the same call as its features (several nodes must
/// see one history, or a subject's daily cap to undesignated accounts would count per node).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct History {
    /// Digest of (subject, payee), when the transfer has a payee.
    pub pair: Option<u64>,
    /// Digest of the subject.
    pub subject: u64,
    /// The event's time, ms.
    pub at_ms: i64,
    /// Its Korea-time day.
    pub day: i64,
    /// Won this transfer adds to the day's spending to undesignated accounts (0: not counted).
    pub spend: i64,
    /// How long an unused payee is remembered, ms.
    pub forget_ms: i64,
}

/// What the history held before this transfer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Seen {
    /// The subject's first payment to this payee, ms (none: a new payee).
    pub first_ms: Option<i64>,
    /// Won spent today to undesignated accounts before this transfer.
    pub spent: i64,
}

/// How long one call may take before it counts as failed (Redis on the same network answers
/// in well under a millisecond; a slower answer is a Redis in trouble).
pub const TIMEOUT: Duration = Duration::from_millis(500);

/// What one call found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Observed {
    /// The event was counted (and its id claimed, when asked): one answer per op, `None`
    /// where the feature has no value for this event; and the payee history before it, when
    /// asked.
    Counted(Vec<Option<i64>>, Option<Seen>),
    /// Another call holds the claim on this event id; its claim value. Nothing was counted.
    Claimed(String),
}

/// Feature state in one Redis server.
#[derive(Clone)]
pub struct RedisFeatures {
    conn: ConnectionManager,
    cas: redis::Script,
    address: String,
    /// Calls waiting for the next batch, and whether a task is sending batches.
    queue: Arc<Mutex<(Vec<Request>, bool)>>,
}

/// A service address without its credentials, for messages and logs (`redis://…@host:6379`).
/// The last `@` ends them, since a password may hold one.
pub fn without_credentials(url: &str) -> String {
    match url.rsplit_once('@') {
        Some((head, host)) => format!("{}://…@{host}", head.split("://").next().unwrap_or("")),
        None => url.to_string(),
    }
}

impl RedisFeatures {
    /// Connects to `url` (`redis://host:port/db`); the error names the address.
    pub async fn connect(url: &str) -> Result<RedisFeatures, String> {
        let address = without_credentials(url);
        let client = redis::Client::open(url).map_err(|e| format!("Redis at {address}: {e}"))?;
        let config = redis::aio::ConnectionManagerConfig::new()
            .set_connection_timeout(Some(Duration::from_secs(2)))
            .set_response_timeout(Some(TIMEOUT))
            .set_number_of_retries(1);
        let conn = call(ConnectionManager::new_with_config(client, config))
            .await
            .map_err(|e| format!("Redis at {address} is unreachable: {e}"))?;
        let me = RedisFeatures { conn, cas: redis::Script::new(CAS), address, queue: Arc::default() };
        me.ping().await?;
        Ok(me)
    }

    /// The address, password hidden.
    pub fn address(&self) -> &str {
        &self.address
    }

    /// Round trip to the server.
    pub async fn ping(&self) -> Result<Duration, String> {
        let t = std::time::Instant::now();
        let mut c = self.conn.clone();
        let _: String = call(redis::cmd("PING").query_async(&mut c))
            .await
            .map_err(|e| format!("Redis at {} does not answer: {e}", self.address))?;
        Ok(t.elapsed())
    }

    /// Runs `ops` (from [`signals::plan`]) for one event of `affiliate`, as if alone. With
    /// `claim = Some((key, value, lifetime))` the event id is claimed first; with `history`
    /// the transfer's payee history is read and recorded too.
    ///
    /// Calls made while another is in flight wait and go together in the next batch (each
    /// event still in its turn, in the order they came): under load two round trips serve
    /// many decisions, and a lone call waits for nobody.
    pub async fn observe(
        &self,
        affiliate: &str,
        ops: &[Op],
        claim: Option<(&str, &str, Duration)>,
        history: Option<&History>,
    ) -> Result<Observed, String> {
        let (tx, rx) = oneshot::channel();
        let request = Request {
            affiliate: affiliate.to_string(),
            ops: ops.to_vec(),
            claim: claim.map(|(k, v, life)| (k.to_string(), v.to_string(), life)),
            history: history.copied(),
            answer: tx,
        };
        let start = {
            let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.0.push(request);
            !std::mem::replace(&mut q.1, true)
        };
        if start {
            let me = self.clone();
            tokio::spawn(async move { me.run_batches().await });
        }
        rx.await.map_err(|_| format!("Redis at {}: the call was dropped", self.address))?
    }

    /// Sends what is queued, a batch at a time, until nothing is.
    async fn run_batches(&self) {
        loop {
            let batch: Vec<Request> = {
                let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
                if q.0.is_empty() {
                    q.1 = false;
                    return;
                }
                let n = q.0.len().min(MAX_BATCH);
                q.0.drain(..n).collect()
            };
            match self.run_batch(&batch).await {
                Ok(answers) => {
                    for (r, a) in batch.into_iter().zip(answers) {
                        let _ = r.answer.send(Ok(a));
                    }
                }
                Err(e) => {
                    for r in batch {
                        let _ = r.answer.send(Err(e.clone()));
                    }
                }
            }
        }
    }

    /// One batch: claim and read, run every op in the node, write back what changed.
    async fn run_batch(&self, batch: &[Request]) -> Result<Vec<Observed>, String> {
        let now = now_ms();
        let mut work = Work::default();
        for (e, r) in batch.iter().enumerate() {
            work.plan(e, r);
        }
        // 1. Claims and the state of every key, in one pipelined round trip.
        let mut pipe = redis::pipe();
        for r in batch {
            if let Some((key, value, life)) = &r.claim {
                // NX with GET (Redis 7): nil when this call set it, else who holds it.
                pipe.cmd("SET").arg(key).arg(value).arg("NX").arg("PX").arg(life.as_millis().max(1) as u64).arg("GET");
            }
        }
        if !work.cells.is_empty() {
            pipe.cmd("MGET").arg(work.cells.iter().map(|c| c.key.as_str()).collect::<Vec<_>>());
        }
        let mut c = self.conn.clone();
        let replies: Vec<redis::Value> =
            call(pipe.query_async(&mut c)).await.map_err(|e| format!("Redis at {}: {e}", self.address))?;
        let mut replies = replies.into_iter();
        let mut claimed: Vec<Option<String>> = vec![None; batch.len()];
        for (e, r) in batch.iter().enumerate() {
            if r.claim.is_some() {
                match replies.next() {
                    Some(redis::Value::Nil) => {}
                    Some(redis::Value::BulkString(b)) => claimed[e] = Some(String::from_utf8_lossy(&b).into_owned()),
                    other => return Err(self.unexpected("a claim", &other)),
                }
            }
        }
        if !work.cells.is_empty() {
            let values = match replies.next() {
                Some(redis::Value::Array(v)) if v.len() == work.cells.len() => v,
                other => return Err(self.unexpected("the states read", &other)),
            };
            self.load(&mut work.cells, values, now)?;
        }
        // 2. Every op in the node, event by event; 3. what changed written back, and again
        // for the keys another node changed meanwhile.
        let skip: Vec<bool> = claimed.iter().map(Option::is_some).collect();
        let mut answers: Vec<Vec<Option<i64>>> = batch.iter().map(|r| vec![None; r.ops.len()]).collect();
        let mut seen: Vec<Option<Seen>> =
            batch.iter().map(|r| r.history.map(|_| Seen { first_ms: None, spent: 0 })).collect();
        // The keys an event that counts has a step on.
        let todo: Vec<usize> =
            (0..work.cells.len()).filter(|&i| work.cells[i].steps.iter().any(|s| !skip[s.event()])).collect();
        self.settle(&mut work.cells, todo, now, |cell, _| cell.run(batch, &skip, now, &mut answers, &mut seen)).await?;
        Ok(batch
            .iter()
            .enumerate()
            .map(|(e, _)| match claimed[e].take() {
                Some(by) => Observed::Claimed(by),
                None => Observed::Counted(std::mem::take(&mut answers[e]), seen[e]),
            })
            .collect())
    }

    /// Writes cells `which` back (or checks them) with the compare-and-set script: the cells
    /// another node changed since they were read, with their current value.
    async fn compare_and_set(
        &self,
        cells: &[Cell],
        which: &[usize],
        now: i64,
    ) -> Result<Vec<(usize, Option<Vec<u8>>)>, String> {
        let mut inv = self.cas.prepare_invoke();
        for &i in which {
            let cell = &cells[i];
            inv.key(cell.key.as_str());
            match cell.save(now) {
                Save::Check => inv.arg(&cell.token[..]).arg("").arg(0),
                Save::Write(bytes, life) => inv.arg(&cell.token[..]).arg(bytes).arg(life),
                Save::Delete => inv.arg(&cell.token[..]).arg("").arg(-1),
            };
        }
        let mut c = self.conn.clone();
        let reply: Vec<redis::Value> =
            call(inv.invoke_async(&mut c)).await.map_err(|e| format!("Redis at {}: {e}", self.address))?;
        let mut out = Vec::with_capacity(reply.len() / 2);
        let mut it = reply.into_iter();
        while let Some(index) = it.next() {
            let i = match index {
                redis::Value::Int(n) if n >= 1 && (n as usize) <= which.len() => which[n as usize - 1],
                other => return Err(self.unexpected("the compare-and-set", &Some(other))),
            };
            let value = value_bytes(it.next().unwrap_or(redis::Value::Nil))
                .map_err(|v| self.unexpected("the compare-and-set", &Some(v)))?;
            out.push((i, value));
        }
        Ok(out)
    }

    /// Computes cells `todo` (`compute(cell, index)`) and writes them back by compare-and-set,
    /// again for those another node changed meanwhile (from their new value), until none is
    /// left or [`TRIES`] rounds have passed.
    async fn settle(
        &self,
        cells: &mut [Cell],
        mut todo: Vec<usize>,
        now: i64,
        mut compute: impl FnMut(&mut Cell, usize),
    ) -> Result<(), String> {
        for _ in 0..TRIES {
            if todo.is_empty() {
                return Ok(());
            }
            for &i in &todo {
                compute(&mut cells[i], i);
            }
            let changed = self.compare_and_set(cells, &todo, now).await?;
            todo.clear();
            for (i, value) in changed {
                self.load_one(&mut cells[i], value, now)?;
                todo.push(i);
            }
        }
        if todo.is_empty() {
            Ok(())
        } else {
            Err(format!("Redis at {}: another node kept changing the same keys; retry", self.address))
        }
    }

    /// Takes `values` (an `MGET`'s answer) as the cells' current content.
    fn load(&self, cells: &mut [Cell], values: Vec<redis::Value>, now: i64) -> Result<(), String> {
        for (cell, v) in cells.iter_mut().zip(values) {
            let value = value_bytes(v).map_err(|v| self.unexpected("a state", &Some(v)))?;
            self.load_one(cell, value, now)?;
        }
        Ok(())
    }

    /// Takes `value` as the cell's current content; a state this node cannot read is named.
    fn load_one(&self, cell: &mut Cell, value: Option<Vec<u8>>, now: i64) -> Result<(), String> {
        cell.load(value, now).map_err(|why| format!("Redis at {} holds {}: {why}", self.address, cell.key))
    }

    fn unexpected(&self, what: &str, v: &Option<redis::Value>) -> String {
        format!("Redis at {} answered {what} unexpectedly: {v:?}", self.address)
    }

    /// Takes back what [`RedisFeatures::observe`] recorded for a transfer that was then
    /// blocked (or whose hold was cancelled): `seen` is what it found before. A payee first
    /// recorded by it is forgotten (or given its earlier first payment back); its spending
    /// leaves the day's sum.
    pub async fn undo(&self, affiliate: &str, h: &History, seen: &Seen) -> Result<(), String> {
        let now = now_ms();
        let mut cells = Vec::with_capacity(2);
        if let Some(pair) = h.pair {
            cells.push(Cell::new(key_name("h2", affiliate, "p:", pair), Kind::Pair));
        }
        if h.spend > 0 {
            cells.push(Cell::new(key_name("h2", affiliate, "s:", h.subject), Kind::Spend));
        }
        if cells.is_empty() {
            return Ok(());
        }
        let mut c = self.conn.clone();
        let keys: Vec<&str> = cells.iter().map(|c| c.key.as_str()).collect();
        let values: Vec<redis::Value> = call(redis::cmd("MGET").arg(keys).query_async(&mut c))
            .await
            .map_err(|e| format!("Redis at {}: {e}", self.address))?;
        self.load(&mut cells, values, now)?;
        let todo = (0..cells.len()).collect();
        self.settle(&mut cells, todo, now, |cell, _| cell.undo(h, seen)).await
    }
}

/// Most events in one batch.
const MAX_BATCH: usize = 64;
/// How often a batch writes back keys another node keeps changing before it gives up.
const TRIES: usize = 32;
/// How long a day's spending is kept, ms.
const SPEND_KEEP_MS: i64 = 2 * 86_400_000;

/// One event's call, waiting for a batch.
struct Request {
    affiliate: String,
    ops: Vec<Op>,
    claim: Option<(String, String, Duration)>,
    history: Option<History>,
    answer: oneshot::Sender<Result<Observed, String>>,
}

/// Milliseconds since the epoch by this node's clock (state expiry only).
fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_millis() as i64)
}

/// `ansim:<format>:<affiliate>:<what><digest>`.
fn key_name(format: &str, affiliate: &str, what: &str, digest: u64) -> String {
    let mut k = String::with_capacity(16 + affiliate.len() + what.len() + 16);
    k.push_str("ansim:");
    k.push_str(format);
    k.push(':');
    k.push_str(affiliate);
    k.push(':');
    k.push_str(what);
    use std::fmt::Write;
    let _ = write!(k, "{digest:016x}");
    k
}

/// A reply's value as bytes (`None`: the key is absent), or the reply when it is neither.
fn value_bytes(v: redis::Value) -> Result<Option<Vec<u8>>, redis::Value> {
    match v {
        redis::Value::Nil => Ok(None),
        redis::Value::BulkString(b) => Ok(Some(b)),
        other => Err(other),
    }
}

/// A fresh version token: no two writes of any node share one (a random start per process,
/// then a counter, mixed).
fn token() -> [u8; 8] {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    static SEED: std::sync::OnceLock<u64> = std::sync::OnceLock::new();
    let seed = *SEED.get_or_init(|| {
        use std::hash::{BuildHasher, Hasher};
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write_u128(std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos()));
        h.write_u32(std::process::id());
        h.finish()
    });
    // splitmix64 of seed + n: distinct inputs give distinct outputs.
    let mut z = seed.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed).wrapping_mul(0x9e37_79b9_7f4a_7c15));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)).to_le_bytes()
}

/// What a Redis key holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    /// Every feature's state for one entity.
    Entity,
    /// A subject's first and last payment to one payee.
    Pair,
    /// A subject's spending to undesignated accounts on one day.
    Spend,
}

/// One application of an event's work to one key, in the batch's order.
#[derive(Debug, Clone, Copy)]
enum Step {
    /// Op `op` of event `event` updates this key (its answer too, when the op says so).
    Update { event: usize, op: usize },
    /// Op `op` of event `event` reads this key: its answer.
    Read { event: usize, op: usize },
    /// Event `event`'s transfer reads and records its payee (`Pair`) or spending (`Spend`).
    History { event: usize },
}

impl Step {
    /// The event the step belongs to.
    fn event(self) -> usize {
        match self {
            Step::Update { event, .. } | Step::Read { event, .. } | Step::History { event } => event,
        }
    }
}

/// One Redis key of a batch: its state as read (and as the batch leaves it).
struct Cell {
    key: String,
    kind: Kind,
    /// The version read (empty: absent).
    token: Vec<u8>,
    /// Entity: each feature's state with its fingerprint and expiry (ms).
    features: Vec<(u64, i64, KeyState)>,
    /// Pair: (first, last) payment ms; Spend: (day, won).
    pair: Option<(i64, i64)>,
    /// The batch's steps on this key, in order.
    steps: Vec<Step>,
    /// Whether the batch changed it; for the payee history, how long it lives after.
    changed: bool,
    life: i64,
    /// An undo left nothing to keep.
    gone: bool,
}

/// What [`Cell::save`] asks the compare-and-set to do.
enum Save {
    Check,
    Write(Vec<u8>, i64),
    Delete,
}

impl Cell {
    fn new(key: String, kind: Kind) -> Cell {
        Cell {
            key,
            kind,
            token: Vec::new(),
            features: Vec::new(),
            pair: None,
            steps: Vec::new(),
            changed: false,
            life: 0,
            gone: false,
        }
    }

    /// Takes `value` as the key's current content (features expired by `now` dropped).
    fn load(&mut self, value: Option<Vec<u8>>, now: i64) -> Result<(), String> {
        self.features.clear();
        self.pair = None;
        self.token.clear();
        let Some(v) = value else { return Ok(()) };
        let mut r = Reader { b: &v, at: 0 };
        self.token.extend_from_slice(r.take(8)?);
        match self.kind {
            Kind::Entity => {
                let n = r.u16()?;
                for _ in 0..n {
                    let (slot, expires, tag, newest, len) = (r.u64()?, r.i64()?, r.u8()?, r.u32()?, r.u16()?);
                    let state = match tag {
                        0 => KeyState::Window(WindowKey {
                            newest,
                            buckets: (0..len)
                                .map(|_| Ok(Bucket { id: r.u32()?, v: r.i64()? }))
                                .collect::<Result<_, String>>()?,
                        }),
                        1 => KeyState::Set(SetKey {
                            newest,
                            values: (0..len)
                                .map(|_| Ok(signals::features::Seen { value: r.u32()?, bucket: r.u32()? }))
                                .collect::<Result<_, String>>()?,
                        }),
                        t => return Err(format!("a feature state of unknown kind {t}")),
                    };
                    if expires > now {
                        self.features.push((slot, expires, state));
                    }
                }
            }
            Kind::Pair | Kind::Spend => self.pair = Some((r.i64()?, r.i64()?)),
        }
        if r.at != v.len() {
            return Err(format!("{} bytes after the state", v.len() - r.at));
        }
        Ok(())
    }

    /// What to send back: the new content with a new version, or a check that it is unchanged.
    fn save(&self, now: i64) -> Save {
        if self.gone {
            return Save::Delete;
        }
        if !self.changed {
            return Save::Check;
        }
        let mut out = Vec::with_capacity(64);
        out.extend_from_slice(&token());
        let life = match self.kind {
            Kind::Entity => {
                out.extend_from_slice(&(self.features.len() as u16).to_le_bytes());
                let mut last = now + 1;
                for (slot, expires, state) in &self.features {
                    last = last.max(*expires);
                    out.extend_from_slice(&slot.to_le_bytes());
                    out.extend_from_slice(&expires.to_le_bytes());
                    match state {
                        KeyState::Window(k) => {
                            out.push(0);
                            out.extend_from_slice(&k.newest.to_le_bytes());
                            out.extend_from_slice(&(k.buckets.len() as u16).to_le_bytes());
                            for b in &k.buckets {
                                out.extend_from_slice(&b.id.to_le_bytes());
                                out.extend_from_slice(&b.v.to_le_bytes());
                            }
                        }
                        KeyState::Set(k) => {
                            out.push(1);
                            out.extend_from_slice(&k.newest.to_le_bytes());
                            out.extend_from_slice(&(k.values.len() as u16).to_le_bytes());
                            for s in &k.values {
                                out.extend_from_slice(&s.value.to_le_bytes());
                                out.extend_from_slice(&s.bucket.to_le_bytes());
                            }
                        }
                    }
                }
                last - now
            }
            Kind::Pair | Kind::Spend => {
                let (a, b) = self.pair.unwrap_or_default();
                out.extend_from_slice(&a.to_le_bytes());
                out.extend_from_slice(&b.to_le_bytes());
                self.life
            }
        };
        Save::Write(out, life.max(1))
    }

    /// Runs the cell's steps of the events not skipped on its state as read, writing their
    /// answers.
    fn run(
        &mut self,
        batch: &[Request],
        skip: &[bool],
        now: i64,
        answers: &mut [Vec<Option<i64>>],
        seen: &mut [Option<Seen>],
    ) {
        self.changed = false;
        for step in &self.steps {
            let event = step.event();
            if skip[event] {
                continue;
            }
            let (update, o) = match *step {
                Step::Update { op, .. } => (true, op),
                Step::Read { op, .. } => (false, op),
                Step::History { .. } => {
                    let (Some(h), Some(s)) = (&batch[event].history, seen[event].as_mut()) else { continue };
                    match self.kind {
                        Kind::Pair => {
                            s.first_ms = self.pair.map(|p| p.0);
                            self.pair =
                                Some(self.pair.map_or((h.at_ms, h.at_ms), |(a, b)| (a.min(h.at_ms), b.max(h.at_ms))));
                            (self.changed, self.life) = (true, h.forget_ms.max(1));
                        }
                        _ => {
                            s.spent = self.pair.filter(|d| d.0 == h.day).map_or(0, |d| d.1);
                            if h.spend > 0 {
                                self.pair = Some((h.day, s.spent + h.spend));
                                (self.changed, self.life) = (true, SPEND_KEEP_MS);
                            }
                        }
                    }
                    continue;
                }
            };
            let op = &batch[event].ops[o];
            let at = self.features.iter().position(|f| f.0 == op.fingerprint);
            // The feature's state taken out (no copy), run, and put back.
            let mut state =
                at.map(|j| std::mem::replace(&mut self.features[j].2, KeyState::Window(WindowKey::default())));
            let (answer, wrote) = op.run(&mut state, update);
            if !update || op.answer_from_update {
                answers[event][o] = answer;
            }
            let expires = now + op.keep_ms.max(1);
            match (at, state) {
                (Some(j), Some(state)) => {
                    self.features[j].2 = state;
                    if wrote {
                        self.features[j].1 = expires;
                    }
                }
                (None, Some(state)) if wrote => self.features.push((op.fingerprint, expires, state)),
                _ => {}
            }
            self.changed |= wrote;
        }
    }

    /// Takes a blocked transfer back out of the payee history (see [`RedisFeatures::undo`]).
    fn undo(&mut self, h: &History, seen: &Seen) {
        self.changed = false;
        self.gone = false;
        let Some((a, b)) = self.pair else { return };
        match self.kind {
            Kind::Pair if a == h.at_ms => match seen.first_ms {
                None => self.gone = true,
                Some(before) if before > h.at_ms => {
                    self.pair = Some((before, b));
                    (self.changed, self.life) = (true, h.forget_ms.max(1));
                }
                Some(_) => {}
            },
            Kind::Spend if a == h.day => {
                self.pair = Some((a, (b - h.spend).max(0)));
                (self.changed, self.life) = (true, SPEND_KEEP_MS);
            }
            _ => {}
        }
    }
}

/// A batch's keys and, per key, the steps to run on it.
#[derive(Default)]
struct Work {
    cells: Vec<Cell>,
    index: HashMap<String, usize>,
}

impl Work {
    fn cell(&mut self, key: String, kind: Kind) -> &mut Cell {
        let i = match self.index.get(&key) {
            Some(&i) => i,
            None => {
                let i = self.cells.len();
                self.index.insert(key.clone(), i);
                self.cells.push(Cell::new(key, kind));
                i
            }
        };
        &mut self.cells[i]
    }

    /// Event `e`'s steps, appended to its keys' lists.
    fn plan(&mut self, e: usize, r: &Request) {
        for (o, op) in r.ops.iter().enumerate() {
            if let Some(k) = op.update {
                self.cell(key_name("f3", &r.affiliate, "", k), Kind::Entity)
                    .steps
                    .push(Step::Update { event: e, op: o });
            }
            if let Some(k) = op.read {
                self.cell(key_name("f3", &r.affiliate, "", k), Kind::Entity).steps.push(Step::Read { event: e, op: o });
            }
        }
        if let Some(h) = &r.history {
            if let Some(pair) = h.pair {
                self.cell(key_name("h2", &r.affiliate, "p:", pair), Kind::Pair).steps.push(Step::History { event: e });
            }
            self.cell(key_name("h2", &r.affiliate, "s:", h.subject), Kind::Spend)
                .steps
                .push(Step::History { event: e });
        }
    }
}

/// Reads a stored state, little-endian.
struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], String> {
        let s = self.b.get(self.at..self.at + n).ok_or_else(|| format!("a state cut short at byte {}", self.at))?;
        self.at += n;
        Ok(s)
    }
    /// The next `N` bytes.
    fn array<const N: usize>(&mut self) -> Result<[u8; N], String> {
        let mut a = [0; N];
        a.copy_from_slice(self.take(N)?);
        Ok(a)
    }
    fn u8(&mut self) -> Result<u8, String> {
        Ok(self.take(1)?[0])
    }
    fn u16(&mut self) -> Result<u16, String> {
        self.array().map(u16::from_le_bytes)
    }
    fn u32(&mut self) -> Result<u32, String> {
        self.array().map(u32::from_le_bytes)
    }
    fn u64(&mut self) -> Result<u64, String> {
        self.array().map(u64::from_le_bytes)
    }
    fn i64(&mut self) -> Result<i64, String> {
        self.array().map(i64::from_le_bytes)
    }
}

/// A Redis call's outcome with its error as text (calls are bounded by the connection's
/// response timeout, [`TIMEOUT`]).
async fn call<T>(f: impl std::future::Future<Output = redis::RedisResult<T>>) -> Result<T, String> {
    f.await.map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    #[test]
    fn credentials_never_reach_a_message() {
        assert_eq!(super::without_credentials("redis://u:p@ss@h:6379/3"), "redis://…@h:6379/3");
        assert_eq!(super::without_credentials("nats://h:4222"), "nats://h:4222");
    }
}
