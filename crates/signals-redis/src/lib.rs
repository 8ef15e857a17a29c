//! Streaming features shared by several ansim nodes, kept in Redis.
//!
//! The in-memory [`signals::FeatureState`] is right for one process; several nodes deciding
//! for one affiliate must count into one state, or a scammer's ten transfers split over two
//! nodes look like five each. [`RedisFeatures::observe`] sends one event's [`signals::Op`]s
//! (what each feature updates and reads, computed in the node) to a Lua script that runs them
//! atomically in Redis: at most one round trip per decision, however many features (calls
//! of concurrent decisions share one), and no other node's update can fall between this
//! event's update and its read. The script is a line-by-
//! line port of the in-memory algorithm (same buckets, same lateness, same bounded sets), and
//! the tests run the repository's feature scenarios and a random stream through both.
//!
//! The same call can first claim the event id (`SET NX` with a lifetime): if another node
//! holds the claim, nothing is counted and the caller learns who has it, so one event sent to
//! two nodes at once is counted once.
//!
//! Keys: `ansim:f2:<affiliate>:<key digest>`, one per entity, holding every feature's state
//! for that key (`f2`: the state's format, MessagePack, so a later format never misreads this
//! one; digests, never the raw value); each feature's state in it expires after its window,
//! lateness and one bucket have passed since its last update, as a key of its own would, and
//! the key with the longest-lived of them. One key per entity rather than per feature: a decision touches a
//! few keys instead of a dozen, and Redis's time per decision fell accordingly. Expiry runs
//! on Redis's clock, eviction in memory on event time; for live traffic the two agree. One
//! case differs by design: an event later than the lateness tolerance, for a key idle longer
//! than window plus tolerance. Memory may already have evicted the key and counts the event
//! afresh in its own bucket; Redis still holds the key and, as documented for late events,
//! places the event at the tolerance edge of the key's newest event.

use redis::aio::ConnectionManager;
use signals::{FeatureKind, Op};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::oneshot;

/// The script, loaded once per connection and then called by its digest.
const SCRIPT: &str = include_str!("features.lua");
/// Undoes a blocked transfer's payee history.
const UNDO: &str = include_str!("undo.lua");

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
    script: redis::Script,
    undo: redis::Script,
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
        let me = RedisFeatures {
            conn,
            script: redis::Script::new(SCRIPT),
            undo: redis::Script::new(UNDO),
            address,
            queue: Arc::default(),
        };
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

    /// Runs `ops` (from [`signals::plan`]) for one event of `affiliate`, atomically. With
    /// `claim = Some((key, value, lifetime))` the event id is claimed first; with `history`
    /// the transfer's payee history is read and recorded too.
    ///
    /// Calls made while another is in flight wait and go together in the next script call
    /// (each event still atomic, in the order they came): under load one round trip and one
    /// wake-up of Redis serve many decisions, and a lone call waits for nobody.
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

    /// Sends what is queued, a batch per call, until nothing is.
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
            match self.call_batch(&batch).await {
                Ok(answers) => {
                    for (r, a) in batch.into_iter().zip(answers) {
                        let _ = r.answer.send(a);
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

    /// One script call for `batch`: an answer per event, or why the call failed.
    async fn call_batch(&self, batch: &[Request]) -> Result<Vec<Result<Observed, String>>, String> {
        let mut inv = self.script.prepare_invoke();
        // One key per entity (affiliate and key digest): every feature's state for it lives
        // there; events of one batch share them.
        let mut keys: HashMap<String, usize> = HashMap::new();
        let mut key = |inv: &mut redis::ScriptInvocation<'_>, name: String| -> i64 {
            let n = keys.len();
            *keys.entry(name).or_insert_with_key(|name| {
                inv.key(name);
                n + 1
            }) as i64
        };
        for r in batch {
            let affiliate = &r.affiliate;
            // Every number in one MessagePack array: the script decodes it in C, where
            // hundreds of string arguments each parsed in Lua cost more than the features.
            let mut nums: Vec<i64> = Vec::with_capacity(3 + r.ops.len() * 11 + 7);
            nums.push(r.ops.len() as i64);
            match &r.claim {
                Some((k, _, life)) => {
                    nums.push(life.as_millis().max(1) as i64);
                    nums.push(key(&mut inv, k.clone()));
                }
                None => nums.extend([0, 0]),
            }
            for op in &r.ops {
                let upd = op.update.map_or(0, |k| key(&mut inv, format!("ansim:f2:{affiliate}:{k:016x}")));
                let rd = op.read.map_or(0, |k| key(&mut inv, format!("ansim:f2:{affiliate}:{k:016x}")));
                let kind = match op.kind {
                    FeatureKind::Count => 1,
                    FeatureKind::Sum => 2,
                    FeatureKind::Distinct => 3,
                    FeatureKind::FirstSeen => 4,
                };
                let flags = i64::from(op.answer_from_update)
                    | if op.add.is_some() { 2 } else { 0 }
                    | if op.value.is_some() { 4 } else { 0 };
                nums.extend([
                    kind,
                    upd,
                    rd,
                    flags,
                    i64::from(op.bucket),
                    i64::from(op.buckets),
                    i64::from(op.late),
                    op.add.unwrap_or(0),
                    op.value.map_or(0, i64::from),
                    op.keep_ms.max(1),
                    // The feature's slot in the entity: 52 bits, exact as a Lua number.
                    (op.fingerprint >> 12) as i64,
                ]);
            }
            match &r.history {
                Some(h) => {
                    let pair = h.pair.map_or(0, |p| key(&mut inv, format!("ansim:h1:{affiliate}:p:{p:016x}")));
                    let spending = key(&mut inv, format!("ansim:h1:{affiliate}:s:{:016x}", h.subject));
                    nums.extend([1, pair, spending, h.at_ms, h.day, h.spend, h.forget_ms.max(1)]);
                }
                None => nums.push(0),
            }
            inv.arg(r.claim.as_ref().map_or("", |(_, value, _)| value.as_str())).arg(msgpack_ints(&nums));
        }
        let mut c = self.conn.clone();
        let reply: Vec<redis::Value> =
            call(inv.invoke_async(&mut c)).await.map_err(|e| format!("Redis at {}: {e}", self.address))?;
        if reply.len() != batch.len() {
            return Err(format!(
                "Redis at {} answered {} of {} events of the feature script",
                self.address,
                reply.len(),
                batch.len()
            ));
        }
        Ok(batch.iter().zip(&reply).map(|(r, v)| self.answer(r, v)).collect())
    }

    /// One event's answer from the script's reply.
    fn answer(&self, r: &Request, v: &redis::Value) -> Result<Observed, String> {
        let unexpected = || format!("Redis at {} answered the feature script unexpectedly: {v:?}", self.address);
        let redis::Value::Array(reply) = v else { return Err(unexpected()) };
        let int = |v: &redis::Value| -> Result<Option<i64>, String> {
            match v {
                redis::Value::Nil => Ok(None),
                redis::Value::Int(i) => Ok(Some(*i)),
                _ => Err(unexpected()),
            }
        };
        let n = r.ops.len();
        match reply.first() {
            Some(redis::Value::Int(1)) if reply.len() == n + 1 + if r.history.is_some() { 2 } else { 0 } => {
                let seen = match r.history {
                    Some(_) => {
                        Some(Seen { first_ms: int(&reply[n + 1])?, spent: int(&reply[n + 2])?.ok_or_else(unexpected)? })
                    }
                    None => None,
                };
                let out = reply[1..=n].iter().map(int).collect::<Result<Vec<_>, _>>()?;
                Ok(Observed::Counted(out, seen))
            }
            Some(redis::Value::Int(0)) => Ok(Observed::Claimed(match reply.get(1) {
                Some(redis::Value::BulkString(b)) => String::from_utf8_lossy(b).into_owned(),
                _ => String::new(),
            })),
            _ => Err(unexpected()),
        }
    }
}

/// Most events in one script call (a longer call would hold Redis, which runs one script at
/// a time, for longer).
const MAX_BATCH: usize = 64;

/// One event's call, waiting for a batch.
struct Request {
    affiliate: String,
    ops: Vec<Op>,
    claim: Option<(String, String, Duration)>,
    history: Option<History>,
    answer: oneshot::Sender<Result<Observed, String>>,
}

/// `nums` as one MessagePack array of integers (the script's `cmsgpack.unpack` reads it).
fn msgpack_ints(nums: &[i64]) -> Vec<u8> {
    let mut out = Vec::with_capacity(5 + nums.len() * 9);
    match u32::try_from(nums.len()) {
        Ok(n) if n < 16 => out.push(0x90 | n as u8),
        Ok(n) if n <= 0xffff => {
            out.push(0xdc);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        }
        _ => {
            out.push(0xdd);
            out.extend_from_slice(&(nums.len() as u32).to_be_bytes());
        }
    }
    for &v in nums {
        if (0..128).contains(&v) {
            out.push(v as u8);
        } else if v >= 0 {
            out.push(0xcf);
            out.extend_from_slice(&(v as u64).to_be_bytes());
        } else if v >= -32 {
            out.push(v as i8 as u8);
        } else {
            out.push(0xd3);
            out.extend_from_slice(&v.to_be_bytes());
        }
    }
    out
}

impl RedisFeatures {
    /// Takes back what [`RedisFeatures::observe`] recorded for a transfer that was then
    /// blocked (or whose hold was cancelled): `seen` is what it found before.
    pub async fn undo(&self, affiliate: &str, h: &History, seen: &Seen) -> Result<(), String> {
        let mut inv = self.undo.prepare_invoke();
        inv.key(match h.pair {
            Some(p) => format!("ansim:h1:{affiliate}:p:{p:016x}"),
            None => format!("ansim:h1:{affiliate}:p:none"),
        });
        inv.key(format!("ansim:h1:{affiliate}:s:{:016x}", h.subject));
        inv.arg(h.at_ms)
            .arg(seen.first_ms.map_or(String::new(), |f| f.to_string()))
            .arg(h.day)
            .arg(h.spend)
            .arg(h.forget_ms.max(1));
        let mut c = self.conn.clone();
        let _: i64 = call(inv.invoke_async(&mut c)).await.map_err(|e| format!("Redis at {}: {e}", self.address))?;
        Ok(())
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
