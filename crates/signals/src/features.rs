//! Streaming velocity features over sliding windows.
//!
//! A feature counts (`count`), adds up (`sum`), counts different values (`distinct`) or asks
//! "is this value new?" (`first_seen`) over the last `window` of events that share a key
//! (subject, device, counterparty, IP, or several fields together), optionally only for
//! events that pass a `where` filter written in the rule language.
//!
//! **Resolution.** Each window is cut into 60 buckets (at least 1 s each): a 1 h window has
//! 1 min buckets, 24 h has 24 min, 30 d has 12 h. A window is "the bucket of the event and the
//! 59 before it", so an event up to one bucket older than the window may still count; nothing
//! inside the window is ever missed. Counts and sums are otherwise exact.
//!
//! **Order.** Time is the event's own. A feature is updated before it is read, so `count`,
//! `sum` and `distinct` include the event itself when it passes the filter; `first_seen` is read
//! before the event's value is recorded. An event older than its key's newest event is *late*:
//! within the lateness tolerance (default 10 min) it lands in its own bucket and sees the window
//! ending at its own time (later events excluded); beyond the tolerance it is treated as if it
//! happened at the tolerance edge, so state stays bounded. For `distinct` and `first_seen` a
//! late event treats values seen after it as already seen.
//!
//! **Memory.** Keys are stored as 64-bit xxh3 digests (never the raw value). Per key a
//! window feature keeps at most 60 + lateness buckets (16 bytes each) and a set feature at most
//! [`MAX_SET`] values (8 bytes each: a 32-bit value digest and its bucket; least recently seen
//! evicted first); buckets that can no
//! longer be read are pruned on update, and keys idle for longer than window + tolerance are
//! evicted in a sweep each time the table's clock (its newest bucket) passes another quarter of
//! that horizon. All state is plain data (serde), so it can be snapshotted or
//! moved to an external store.

use crate::digest_map::DigestMap;
use domain::Event;
use rules::compile::Compiled;
use rules::schema::{Ctx, Getter};
use serde::{Deserialize, Serialize};
use xxhash_rust::xxh3::{Xxh3, xxh3_64_with_seed};

/// Most values a `distinct` or `first_seen` feature remembers per key. `distinct` is exact up
/// to this many values in the window and saturates there.
pub const MAX_SET: usize = 64;
/// Buckets per window.
pub const BUCKETS: i64 = 60;
/// Shortest window, 1 minute.
pub const MIN_WINDOW_MS: i64 = 60_000;
/// Longest window for `count`, `sum` and `distinct`, 30 days.
pub const MAX_WINDOW_MS: i64 = 30 * 86_400_000;
/// Longest window for `first_seen`, 400 days ("a payee not used this year").
pub const MAX_FIRST_SEEN_WINDOW_MS: i64 = 400 * 86_400_000;

/// What a feature computes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FeatureKind {
    /// Events in the window.
    Count,
    /// Sum of an integer field (e.g. `event.amount`) in the window.
    Sum,
    /// Different values of a field in the window (saturates at [`MAX_SET`]).
    Distinct,
    /// Whether the event's value was not seen for this key within the window (a boolean).
    FirstSeen,
}

impl FeatureKind {
    /// Every kind.
    pub const ALL: [FeatureKind; 4] =
        [FeatureKind::Count, FeatureKind::Sum, FeatureKind::Distinct, FeatureKind::FirstSeen];

    /// The name written in rulesets.
    pub fn as_str(self) -> &'static str {
        match self {
            FeatureKind::Count => "count",
            FeatureKind::Sum => "sum",
            FeatureKind::Distinct => "distinct",
            FeatureKind::FirstSeen => "first_seen",
        }
    }

    /// Parses the ruleset name.
    pub fn parse(s: &str) -> Option<FeatureKind> {
        FeatureKind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether it needs a `value` field.
    pub fn needs_value(self) -> bool {
        !matches!(self, FeatureKind::Count)
    }

    /// The rule-language type of the feature's value.
    pub fn value_type(self) -> rules::Type {
        match self {
            FeatureKind::FirstSeen => rules::Type::Bool,
            _ => rules::Type::Int,
        }
    }
}

/// A window length with its bucket resolution.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    /// Window length in ms.
    pub ms: i64,
}

impl Window {
    /// Parses `30s`, `10m`, `1h`, `7d`, `2w` (a number and one unit).
    pub fn parse(s: &str) -> Result<Window, String> {
        let s = s.trim();
        let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
        let (num, unit) = s.split_at(split);
        let n: i64 = num.parse().map_err(|_| format!("`{s}` is not a duration; write e.g. 10m, 1h, 7d"))?;
        let unit_ms = match unit {
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "d" => 86_400_000,
            "w" => 7 * 86_400_000,
            "" => return Err(format!("`{s}` has no unit; write e.g. {n}m, {n}h or {n}d")),
            _ => return Err(format!("unknown unit `{unit}` in `{s}`; the units are s, m, h, d, w")),
        };
        n.checked_mul(unit_ms).map(|ms| Window { ms }).ok_or_else(|| format!("`{s}` is too long"))
    }

    /// Bucket width in ms: the window over [`BUCKETS`], at least one second.
    pub fn resolution_ms(self) -> i64 {
        (self.ms / BUCKETS).max(1_000)
    }

    /// Buckets per window.
    pub fn buckets(self) -> u32 {
        let r = self.resolution_ms();
        u32::try_from((self.ms + r - 1) / r).unwrap_or(u32::MAX)
    }
}

/// One field of a key or value, by path.
#[derive(Clone)]
pub struct KeyPart {
    /// The field path, e.g. `subject.id`.
    pub path: String,
    /// Its getter.
    pub getter: Getter,
}

impl std::fmt::Debug for KeyPart {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.path)
    }
}

/// A declared feature, ready to run.
#[derive(Debug)]
pub struct FeatureDef {
    /// Name, read in rules as `features.<name>`.
    pub name: String,
    /// What it computes.
    pub kind: FeatureKind,
    /// The fields whose values together form the key.
    pub key: Vec<KeyPart>,
    /// When set, the feature is *read* under this key instead: e.g. updated for money going
    /// into an account (`counterparty.account_key`) and read for money going out of it
    /// (`transfer.source.account_key`). Updates still use `key`.
    pub read_key: Option<Vec<KeyPart>>,
    /// The field summed, or whose distinct values are counted or remembered.
    pub value: Option<KeyPart>,
    /// Window length.
    pub window: Window,
    /// Only events passing this condition update the feature.
    pub filter: Option<Compiled>,
    /// The filter's source text (part of the fingerprint).
    pub filter_src: Option<String>,
    /// How late an event may be and still land in its own bucket.
    pub lateness_ms: i64,
    /// Cache of [`FeatureDef::fingerprint`]; start it as `OnceLock::new()`.
    pub fingerprint_cache: std::sync::OnceLock<u64>,
}

/// Folds one field's value into a running digest with one-shot xxh3 (no streaming state to
/// set up per event). The type tag and the running digest seed each step, so `["a", "bc"]`
/// and `["ab", "c"]`, or the text "1" and the number 1, never collide by construction.
fn hash_part(acc: u64, part: &KeyPart, event: &Event) -> Option<u64> {
    Some(match part.getter {
        Getter::Str(g) => xxh3_64_with_seed(g(event)?.as_bytes(), acc ^ 0x5354_5200),
        Getter::Int(g) => xxh3_64_with_seed(&g(event)?.to_le_bytes(), acc ^ 0x494e_5400),
        Getter::Bool(g) => xxh3_64_with_seed(&[u8::from(g(event)?)], acc ^ 0x424f_4f4c),
    })
}

impl FeatureDef {
    /// A digest of everything that gives the state its meaning; state carries over a ruleset
    /// change only to a feature with the same fingerprint.
    pub fn fingerprint(&self) -> u64 {
        *self.fingerprint_cache.get_or_init(|| self.compute_fingerprint())
    }

    fn compute_fingerprint(&self) -> u64 {
        let mut h = Xxh3::new();
        let mut put = |s: &str| {
            h.update(&(s.len() as u64).to_le_bytes());
            h.update(s.as_bytes());
        };
        put(&self.name);
        put(self.kind.as_str());
        for k in &self.key {
            put(&k.path);
        }
        for k in self.read_key.iter().flatten() {
            put(&k.path);
        }
        put(self.value.as_ref().map_or("", |v| v.path.as_str()));
        put(self.filter_src.as_deref().unwrap_or(""));
        h.update(&self.window.ms.to_le_bytes());
        h.update(&self.lateness_ms.to_le_bytes());
        h.digest()
    }

    /// The digest of the event's key, or `None` when a key field is absent.
    pub fn key_of(&self, event: &Event) -> Option<u64> {
        key_digest(&self.key, event)
    }

    /// The digest of the key the feature is read under for `event`.
    pub fn read_key_of(&self, event: &Event) -> Option<u64> {
        key_digest(self.read_key.as_ref().unwrap_or(&self.key), event)
    }
}

/// Digest of a key's field values; values of different parts cannot run together because
/// each is tagged with its type and length.
fn key_digest(parts: &[KeyPart], event: &Event) -> Option<u64> {
    parts.iter().try_fold(0x616e_7369_6d00, |acc, part| hash_part(acc, part, event))
}

impl FeatureDef {
    /// A 32-bit digest of the event's value: with at most [`MAX_SET`] values per key, two
    /// different values collide with probability below 10^-6 per key, and halving the entry
    /// keeps a remembered payee at 8 bytes.
    fn value_hash(&self, event: &Event) -> Option<u32> {
        hash_part(0x7661_6c75_6500, self.value.as_ref()?, event).map(|h| (h ^ (h >> 32)) as u32)
    }

    fn value_int(&self, event: &Event) -> Option<i64> {
        match self.value.as_ref()?.getter {
            Getter::Int(g) => g(event),
            _ => None,
        }
    }

    fn bucket_of(&self, at_ms: i64) -> u32 {
        u32::try_from(at_ms.max(0) / self.window.resolution_ms()).unwrap_or(u32::MAX)
    }

    fn late_buckets(&self) -> u32 {
        let r = self.window.resolution_ms();
        u32::try_from((self.lateness_ms.max(0) + r - 1) / r).unwrap_or(u32::MAX)
    }
}

/// One bucket of a window feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bucket {
    /// Bucket number: event ms / resolution.
    pub id: u32,
    /// Events counted or amount summed in the bucket.
    pub v: i64,
}

/// Per-key state of a `count` or `sum` feature.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowKey {
    /// Newest bucket seen for this key.
    pub newest: u32,
    /// Non-empty buckets, oldest first.
    pub buckets: Vec<Bucket>,
}

/// A value remembered by a `distinct` or `first_seen` feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Seen {
    /// 32-bit xxh3 digest of the value.
    pub value: u32,
    /// Bucket it was last seen in.
    pub bucket: u32,
}

/// Per-key state of a `distinct` or `first_seen` feature.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct SetKey {
    /// Newest bucket seen for this key.
    pub newest: u32,
    /// Values seen, at most [`MAX_SET`].
    pub values: Vec<Seen>,
}

/// The state of one feature: every key's buckets or values.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum Table {
    /// `count` and `sum`.
    Window(DigestMap<WindowKey>),
    /// `distinct` and `first_seen`.
    Set(DigestMap<SetKey>),
}

/// State of one feature plus bookkeeping for eviction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FeatureTable {
    /// The definition this state belongs to ([`FeatureDef::fingerprint`]).
    pub fingerprint: u64,
    /// Newest bucket seen by any key: the clock for idle eviction.
    pub watermark: u32,
    /// Updates since the last idle sweep (sweeps come on the clock: [`FeatureTable::watermark`]).
    pub since_sweep: u64,
    /// Keys and their state.
    pub table: Table,
}

/// Shard of a [`FeatureState`], serialised in place ([`FeatureState::shard_ref`]). Its form is
/// the derived one of `FeatureState`, `FeatureTable` and `Table` (a test holds them equal).
pub struct StateShard<'a> {
    state: &'a FeatureState,
    shard: usize,
}

impl Serialize for StateShard<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeSeq, SerializeStruct};
        struct Tables<'a>(&'a StateShard<'a>);
        struct One<'a>(&'a FeatureTable, usize);
        impl Serialize for Tables<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut q = s.serialize_seq(Some(self.0.state.tables.len()))?;
                for t in &self.0.state.tables {
                    q.serialize_element(&One(t, self.0.shard))?;
                }
                q.end()
            }
        }
        impl Serialize for One<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let One(t, i) = *self;
                let mut f = s.serialize_struct("FeatureTable", 4)?;
                f.serialize_field("fingerprint", &t.fingerprint)?;
                f.serialize_field("watermark", &t.watermark)?;
                f.serialize_field("since_sweep", &0u64)?;
                match &t.table {
                    Table::Window(m) => f.serialize_field("table", &Variant(0, "Window", m.shard_ref(i)))?,
                    Table::Set(m) => f.serialize_field("table", &Variant(1, "Set", m.shard_ref(i)))?,
                }
                f.end()
            }
        }
        struct Variant<T>(u32, &'static str, T);
        impl<T: Serialize> Serialize for Variant<T> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_newtype_variant("Table", self.0, self.1, &self.2)
            }
        }
        let mut st = s.serialize_struct("FeatureState", 1)?;
        st.serialize_field("tables", &Tables(self))?;
        st.end()
    }
}

/// Memory used by one feature's state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FeatureMemory {
    /// Feature name.
    pub name: String,
    /// Keys held.
    pub keys: usize,
    /// Bytes held by the map and every key's vector (allocator overhead not counted).
    pub bytes: usize,
}

/// The state of every feature of a snapshot. Plain data: clone it, serialise it, restore it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct FeatureState {
    /// One table per feature, in the order of the snapshot's definitions.
    pub tables: Vec<FeatureTable>,
}

impl FeatureTable {
    fn new(def: &FeatureDef) -> Self {
        let table = match def.kind {
            FeatureKind::Count | FeatureKind::Sum => Table::Window(DigestMap::default()),
            FeatureKind::Distinct | FeatureKind::FirstSeen => Table::Set(DigestMap::default()),
        };
        FeatureTable { fingerprint: def.fingerprint(), watermark: 0, since_sweep: 0, table }
    }

    /// Keys held.
    pub fn len(&self) -> usize {
        match &self.table {
            Table::Window(m) => m.len(),
            Table::Set(m) => m.len(),
        }
    }

    /// Whether no key is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl FeatureState {
    /// Empty state for `defs`.
    pub fn new(defs: &[FeatureDef]) -> Self {
        FeatureState { tables: defs.iter().map(FeatureTable::new).collect() }
    }

    /// Re-targets this state at new definitions (a published ruleset): tables whose feature is
    /// unchanged (same fingerprint) carry over, new or changed features start empty.
    pub fn adopt(&mut self, defs: &[FeatureDef]) {
        let mut old: Vec<Option<FeatureTable>> = self.tables.drain(..).map(Some).collect();
        self.tables = defs
            .iter()
            .map(|d| {
                let fp = d.fingerprint();
                old.iter_mut()
                    .find(|t| t.as_ref().is_some_and(|t| t.fingerprint == fp))
                    .and_then(Option::take)
                    .unwrap_or_else(|| FeatureTable::new(d))
            })
            .collect();
    }

    /// A copy holding only the keys `keep` accepts, with every table's bookkeeping: one part
    /// of a snapshot taken in parts ([`FeatureState::merge`] puts parts together again).
    /// Every key is visited; [`FeatureState::shard`] copies one shard without visiting the rest.
    pub fn part(&self, keep: impl Fn(u64) -> bool) -> FeatureState {
        self.copy_tables(|m| m.filter(&keep), |m| m.filter(&keep))
    }

    /// A copy holding only the keys of shard `i` ([`crate::digest_map::shard_of`]), with every
    /// table's bookkeeping: [`FeatureState::part`] for that shard, visiting only its keys.
    pub fn shard(&self, i: usize) -> FeatureState {
        self.copy_tables(|m| m.shard(i), |m| m.shard(i))
    }

    /// Shard `i` of this state, to serialise as [`FeatureState::shard`]`(i)` is, byte for byte,
    /// without copying it: what a snapshot part takes while decisions wait is one pass over
    /// the shard into one buffer, not a copy of every key.
    pub fn shard_ref(&self, i: usize) -> StateShard<'_> {
        StateShard { state: self, shard: i }
    }

    fn copy_tables(
        &self,
        window: impl Fn(&DigestMap<WindowKey>) -> DigestMap<WindowKey>,
        set: impl Fn(&DigestMap<SetKey>) -> DigestMap<SetKey>,
    ) -> FeatureState {
        let tables = self
            .tables
            .iter()
            .map(|t| FeatureTable {
                fingerprint: t.fingerprint,
                watermark: t.watermark,
                since_sweep: 0,
                table: match &t.table {
                    Table::Window(m) => Table::Window(window(m)),
                    Table::Set(m) => Table::Set(set(m)),
                },
            })
            .collect();
        FeatureState { tables }
    }

    /// Adds the keys of `other` (a part holding keys this one does not): tables are matched by
    /// their feature's fingerprint, and a table only `other` has is added. A table's clock
    /// (watermark) becomes the earlier one, the part's a replay starts from: a replay moves it
    /// on as the events first did ([`FeatureState::observe_where`]), and a clock ahead of the
    /// replay would evict keys before their later events are replayed.
    pub fn merge(&mut self, other: FeatureState) {
        for t in other.tables {
            match self.tables.iter_mut().find(|x| x.fingerprint == t.fingerprint) {
                Some(x) => {
                    x.watermark = x.watermark.min(t.watermark);
                    match (&mut x.table, t.table) {
                        (Table::Window(a), Table::Window(b)) => a.extend(b),
                        (Table::Set(a), Table::Set(b)) => a.extend(b),
                        // The same fingerprint is the same kind of feature.
                        _ => {}
                    }
                }
                None => self.tables.push(t),
            }
        }
    }

    /// Whether this state was made for exactly `defs`.
    pub fn matches(&self, defs: &[FeatureDef]) -> bool {
        self.tables.len() == defs.len() && self.tables.iter().zip(defs).all(|(t, d)| t.fingerprint == d.fingerprint())
    }

    /// Updates every feature with `event` and writes each feature's value for it into `out`
    /// (one slot per definition; bools as 0/1, `None` when the key is absent).
    ///
    /// The state must belong to `defs` ([`FeatureState::new`] or [`FeatureState::adopt`]);
    /// otherwise it is adopted first.
    pub fn observe(&mut self, defs: &[FeatureDef], event: &Event, out: &mut [Option<i64>]) {
        self.observe_where(defs, event, out, |_| true);
    }

    /// [`FeatureState::observe`], updating only the keys `update` accepts (the others are
    /// read): a replay onto parts of a snapshot taken at different events updates each key only
    /// with the events its part does not hold yet.
    pub fn observe_where(
        &mut self,
        defs: &[FeatureDef],
        event: &Event,
        out: &mut [Option<i64>],
        update: impl Fn(u64) -> bool,
    ) {
        if !self.matches(defs) {
            self.adopt(defs);
        }
        let ctx = Ctx::new(event, &[]);
        for ((def, table), slot) in defs.iter().zip(&mut self.tables).zip(out.iter_mut()) {
            let pass = def.filter.as_ref().is_none_or(|f| f.eval(&ctx));
            let key = def.key_of(event);
            let b0 = def.bucket_of(event.at.millis());
            if pass && key.is_some() {
                // The table's clock moves with every counted event, whether this key is updated
                // or not, and idle keys are swept against it.
                tick(def, table, b0, &update);
            }
            *slot = if def.read_key.is_none() {
                key.and_then(|k| observe_one(def, table, event, k, b0, pass && update(k)))
            } else {
                if let (true, Some(k)) = (pass, key)
                    && update(k)
                {
                    observe_one(def, table, event, k, b0, true);
                }
                def.read_key_of(event).and_then(|k| observe_one(def, table, event, k, b0, false))
            };
        }
    }

    /// Reads every feature for `event` without changing any state (what-if, explanations).
    pub fn peek(&self, defs: &[FeatureDef], event: &Event, out: &mut [Option<i64>]) {
        for ((def, table), slot) in defs.iter().zip(&self.tables).zip(out.iter_mut()) {
            *slot = def.read_key_of(event).and_then(|key| {
                // Copy only this key's state, then read it as a non-updating observe.
                let mut t = FeatureTable {
                    fingerprint: table.fingerprint,
                    watermark: table.watermark,
                    since_sweep: 0,
                    table: match &table.table {
                        Table::Window(m) => Table::Window(m.get(&key).map(|s| (key, s.clone())).into_iter().collect()),
                        Table::Set(m) => Table::Set(m.get(&key).map(|s| (key, s.clone())).into_iter().collect()),
                    },
                };
                observe_one(def, &mut t, event, key, def.bucket_of(event.at.millis()), false)
            });
        }
    }

    /// Drops every key whose newest event is older than its window plus tolerance, as of
    /// each table's watermark. Runs by itself as a table's clock passes each quarter of that
    /// horizon; callable any time.
    pub fn evict_idle(&mut self, defs: &[FeatureDef]) {
        for (def, table) in defs.iter().zip(&mut self.tables) {
            sweep(def, table);
        }
    }

    /// Memory held per feature.
    pub fn memory(&self, defs: &[FeatureDef]) -> Vec<FeatureMemory> {
        use std::mem::size_of;
        defs.iter()
            .zip(&self.tables)
            .map(|(d, t)| {
                let (keys, bytes) = match &t.table {
                    Table::Window(m) => (
                        m.len(),
                        m.capacity() * (size_of::<(u64, WindowKey)>() + 1)
                            + m.values().map(|k| k.buckets.capacity() * size_of::<Bucket>()).sum::<usize>(),
                    ),
                    Table::Set(m) => (
                        m.len(),
                        m.capacity() * (size_of::<(u64, SetKey)>() + 1)
                            + m.values().map(|k| k.values.capacity() * size_of::<Seen>()).sum::<usize>(),
                    ),
                };
                FeatureMemory { name: d.name.clone(), keys, bytes }
            })
            .collect()
    }
}

/// One feature's work for one event, for a feature store outside this process (shared by
/// several nodes): which key to update and which to read, in the state's own terms (bucket
/// numbers, value digests). Executing it as [`FeatureState::observe`] would gives the same
/// answer; the `signals-redis` crate runs it in Redis and is checked against this crate on the
/// same scenarios.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Op {
    /// What the feature computes.
    pub kind: FeatureKind,
    /// The definition's fingerprint: state belongs to it.
    pub fingerprint: u64,
    /// The key to update (the event passed the filter and has the key), if any.
    pub update: Option<u64>,
    /// The key to read afterwards without updating, if any.
    pub read: Option<u64>,
    /// Whether the answer is the update's own (no read key declared); otherwise it is the
    /// read's, and absent without one.
    pub answer_from_update: bool,
    /// The event's bucket.
    pub bucket: u32,
    /// Buckets per window.
    pub buckets: u32,
    /// Buckets of lateness tolerance.
    pub late: u32,
    /// What `count` or `sum` adds (absent: a `sum` whose field is missing only reads).
    pub add: Option<i64>,
    /// The digest of the value `distinct` and `first_seen` remember.
    pub value: Option<u32>,
    /// How long idle state must be kept: window plus tolerance plus one bucket, ms.
    pub keep_ms: i64,
}

impl FeatureDef {
    /// This feature's [`Op`] for `event`.
    pub fn op(&self, event: &Event, ctx: &Ctx<'_>) -> Op {
        let pass = self.filter.as_ref().is_none_or(|f| f.eval(ctx));
        let key = self.key_of(event);
        let (update, read, answer_from_update) = match (&self.read_key, pass) {
            (None, true) => (key, None, true),
            (None, false) => (None, key, false),
            (Some(_), pass) => (key.filter(|_| pass), self.read_key_of(event), false),
        };
        let (add, value) = match self.kind {
            FeatureKind::Count => (Some(1), None),
            FeatureKind::Sum => (self.value_int(event), None),
            FeatureKind::Distinct | FeatureKind::FirstSeen => (None, self.value_hash(event)),
        };
        Op {
            kind: self.kind,
            fingerprint: self.fingerprint(),
            update,
            read,
            answer_from_update,
            bucket: self.bucket_of(event.at.millis()),
            buckets: self.window.buckets(),
            late: self.late_buckets(),
            add,
            value,
            keep_ms: self.window.ms + self.lateness_ms.max(0) + self.window.resolution_ms(),
        }
    }
}

/// Every feature's [`Op`] for `event`, in definition order.
pub fn plan(defs: &[FeatureDef], event: &Event) -> Vec<Op> {
    let ctx = Ctx::new(event, &[]);
    defs.iter().map(|d| d.op(event, &ctx)).collect()
}

/// Buckets of event time between two idle sweeps of a table: a quarter of the horizon (window
/// plus tolerance), so an idle key is gone at most that long after it can no longer be read.
fn sweep_period(def: &FeatureDef) -> u32 {
    (def.window.buckets().saturating_add(def.late_buckets()) / 4).max(1)
}

/// Advances the table's clock to bucket `b0` and sweeps idle keys when it passes a multiple of
/// the sweep period. Sweeps fall on the clock, not on a count of updates, so counting the same
/// events again (a replay after a restart, whatever state it starts from) sweeps at the same
/// events; `sweepable` says which keys a sweep may evict (during a replay onto a snapshot
/// taken in parts, only those whose part is being replayed: the others already hold what the
/// sweeps did up to their part's event).
fn tick(def: &FeatureDef, t: &mut FeatureTable, b0: u32, sweepable: &impl Fn(u64) -> bool) {
    let before = t.watermark;
    t.watermark = t.watermark.max(b0);
    let p = sweep_period(def);
    if t.watermark / p != before / p {
        sweep_where(def, t, sweepable);
    }
}

fn sweep(def: &FeatureDef, t: &mut FeatureTable) {
    sweep_where(def, t, &|_| true);
}

fn sweep_where(def: &FeatureDef, t: &mut FeatureTable, sweepable: &impl Fn(u64) -> bool) {
    t.since_sweep = 0;
    let horizon = u64::from(def.window.buckets()) + u64::from(def.late_buckets());
    let wm = u64::from(t.watermark);
    let idle = |newest: u32| u64::from(newest) + horizon < wm;
    // After evicting, give back the map's spare room.
    match &mut t.table {
        Table::Window(m) => {
            m.retain(|key, k| !(idle(k.newest) && sweepable(*key)));
            m.shrink_spare();
        }
        Table::Set(m) => {
            m.retain(|key, k| !(idle(k.newest) && sweepable(*key)));
            m.shrink_spare();
        }
    }
}

/// Clamps a late bucket to the tolerance edge and advances the key's newest bucket.
fn place(newest: &mut u32, b: u32, late: u32, fresh: bool) -> u32 {
    if fresh {
        *newest = b;
        return b;
    }
    let b = b.max(newest.saturating_sub(late));
    *newest = (*newest).max(b);
    b
}

/// One feature on one key for `event`, whose bucket is `b0`: the update (`update`) or only the
/// read.
fn observe_one(def: &FeatureDef, t: &mut FeatureTable, event: &Event, key: u64, b0: u32, update: bool) -> Option<i64> {
    let nb = def.window.buckets();
    let late = def.late_buckets();
    if update {
        // The clock and the sweeps are the caller's (`tick`).
        t.since_sweep += 1;
    }
    match &mut t.table {
        Table::Window(m) => {
            let add = match def.kind {
                FeatureKind::Count => 1,
                _ => match def.value_int(event) {
                    Some(v) => v,
                    // Nothing to add: read only.
                    None => return read_window(m.get(&key), b0, nb, late),
                },
            };
            if !update {
                return read_window(m.get(&key), b0, nb, late);
            }
            let fresh = !m.contains_key(&key);
            Some(window_add(m.entry(key).or_default(), fresh, b0, nb, late, add))
        }
        Table::Set(m) => {
            let Some(v) = def.value_hash(event) else {
                // No value: distinct still reads, first_seen has nothing to judge.
                return match def.kind {
                    FeatureKind::Distinct => Some(m.get(&key).map_or(0, |k| set_count(k, b0, nb, late))),
                    _ => None,
                };
            };
            if !update {
                let k = m.get(&key);
                // Not recorded, so not counted: only what earlier events left.
                return Some(match def.kind {
                    FeatureKind::FirstSeen => i64::from(k.is_none_or(|k| !set_contains(k, v, b0, nb, late))),
                    _ => k.map_or(0, |k| set_count(k, b0, nb, late)),
                });
            }
            let fresh = !m.contains_key(&key);
            Some(set_add(m.entry(key).or_default(), def.kind, fresh, b0, nb, late, v))
        }
    }
}

/// Adds `add` to a window key's bucket for `b0` (a late bucket clamped to the tolerance edge),
/// drops the buckets no window can read any more, and answers the window's sum at the event.
/// The one update of `count` and `sum`, in memory and in a shared store alike.
fn window_add(k: &mut WindowKey, fresh: bool, b0: u32, nb: u32, late: u32, add: i64) -> i64 {
    let b = place(&mut k.newest, b0, late, fresh);
    let pos = k.buckets.iter().rposition(|x| x.id <= b);
    match pos {
        Some(i) if k.buckets[i].id == b => k.buckets[i].v = k.buckets[i].v.saturating_add(add),
        Some(i) => k.buckets.insert(i + 1, Bucket { id: b, v: add }),
        None => {
            // Most keys see one event: start with room for exactly one bucket.
            if k.buckets.capacity() == 0 {
                k.buckets.reserve_exact(1);
            }
            k.buckets.insert(0, Bucket { id: b, v: add })
        }
    }
    let floor = k.newest.saturating_sub(nb + late);
    let dead = k.buckets.iter().take_while(|x| x.id <= floor && floor > 0).count();
    k.buckets.drain(..dead);
    window_sum(&k.buckets, b, nb).unwrap_or(0)
}

/// Records value `v` in a set key at `b0` (least recently seen value forgotten when full) and
/// answers `first_seen` (1 when `v` was not seen in the window before) or `distinct` (values
/// in the window). The one update of both, in memory and in a shared store alike.
fn set_add(k: &mut SetKey, kind: FeatureKind, fresh: bool, b0: u32, nb: u32, late: u32, v: u32) -> i64 {
    let b = place(&mut k.newest, b0, late, fresh);
    let first = !k.values.iter().any(|s| s.value == v && s.bucket + nb > b);
    match k.values.iter_mut().find(|s| s.value == v) {
        Some(s) => s.bucket = s.bucket.max(b),
        None => {
            if k.values.len() >= MAX_SET {
                // Forget the value seen least recently.
                if let Some(i) = (0..k.values.len()).min_by_key(|&i| k.values[i].bucket) {
                    k.values.swap_remove(i);
                }
            }
            if k.values.capacity() == 0 {
                k.values.reserve_exact(1);
            }
            k.values.push(Seen { value: v, bucket: b });
        }
    }
    let floor = k.newest.saturating_sub(nb + late);
    k.values.retain(|s| s.bucket > floor || floor == 0);
    match kind {
        FeatureKind::FirstSeen => i64::from(first),
        _ => k.values.iter().filter(|s| s.bucket + nb > b).count() as i64,
    }
}

/// One key's state of one feature, as a store outside this process keeps it (a shared store
/// holds each key's state apart and runs [`Op::run`] on it).
#[derive(Debug, Clone, PartialEq)]
pub enum KeyState {
    /// `count` and `sum`.
    Window(WindowKey),
    /// `distinct` and `first_seen`.
    Set(SetKey),
}

impl Op {
    /// Runs this op's update (`update`) or its read on one key's state (`None`: the key has
    /// none), exactly as [`FeatureState::observe`] runs the feature on that key: the answer,
    /// and whether the state changed (and must be kept). A state of the other family (which a
    /// fingerprint rules out) counts as none.
    pub fn run(&self, state: &mut Option<KeyState>, update: bool) -> (Option<i64>, bool) {
        let (b0, nb, late) = (self.bucket, self.buckets, self.late);
        match self.kind {
            FeatureKind::Count | FeatureKind::Sum => {
                let current = match state {
                    Some(KeyState::Window(k)) => Some(&*k),
                    _ => None,
                };
                let add = match self.add {
                    Some(add) if update => add,
                    _ => return (read_window(current, b0, nb, late), false),
                };
                let fresh = current.is_none();
                if fresh {
                    *state = Some(KeyState::Window(WindowKey::default()));
                }
                let Some(KeyState::Window(k)) = state else { unreachable!("a window state was just made") };
                (Some(window_add(k, fresh, b0, nb, late, add)), true)
            }
            FeatureKind::Distinct | FeatureKind::FirstSeen => {
                let current = match state {
                    Some(KeyState::Set(k)) => Some(&*k),
                    _ => None,
                };
                let Some(v) = self.value else {
                    return match self.kind {
                        FeatureKind::Distinct => (Some(current.map_or(0, |k| set_count(k, b0, nb, late))), false),
                        _ => (None, false),
                    };
                };
                if !update {
                    return (
                        Some(match self.kind {
                            FeatureKind::FirstSeen => {
                                i64::from(current.is_none_or(|k| !set_contains(k, v, b0, nb, late)))
                            }
                            _ => current.map_or(0, |k| set_count(k, b0, nb, late)),
                        }),
                        false,
                    );
                }
                let fresh = current.is_none();
                if fresh {
                    *state = Some(KeyState::Set(SetKey::default()));
                }
                let Some(KeyState::Set(k)) = state else { unreachable!("a set state was just made") };
                (Some(set_add(k, self.kind, fresh, b0, nb, late, v)), true)
            }
        }
    }
}

fn window_sum(buckets: &[Bucket], b: u32, nb: u32) -> Option<i64> {
    Some(buckets.iter().filter(|x| x.id <= b && x.id + nb > b).fold(0i64, |s, x| s.saturating_add(x.v)))
}

fn read_window(k: Option<&WindowKey>, b0: u32, nb: u32, late: u32) -> Option<i64> {
    match k {
        None => Some(0),
        Some(k) => window_sum(&k.buckets, b0.max(k.newest.saturating_sub(late)), nb),
    }
}

fn set_contains(k: &SetKey, v: u32, b0: u32, nb: u32, late: u32) -> bool {
    let b = b0.max(k.newest.saturating_sub(late));
    k.values.iter().any(|s| s.value == v && s.bucket + nb > b)
}

fn set_count(k: &SetKey, b0: u32, nb: u32, late: u32) -> i64 {
    let b = b0.max(k.newest.saturating_sub(late));
    k.values.iter().filter(|s| s.bucket + nb > b).count() as i64
}
