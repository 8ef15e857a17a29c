//! The PostgreSQL backend of [`store::Store`]: the system of record when several ansim nodes
//! share one database. It passes the same conformance suite as the embedded SQLite backend.
//!
//! What several nodes need from it, and how it is given:
//! - idempotency across nodes by the database's unique index on `(affiliate, event_id)`, not
//!   by any node's memory: the second node's commit of the same event id is a `Conflict`;
//! - units of work at `SERIALIZABLE` isolation, retried on a serialisation failure, so two
//!   nodes filing reports about the same indicator or appending to the audit chain never see
//!   each other's half-done writes;
//! - a commit is acknowledged only after PostgreSQL committed it (group commit is the caller's
//!   batch in one transaction, as with the embedded backend);
//! - migrations run under an advisory lock, so nodes starting together migrate once.
//!
//! The client is the synchronous `postgres` crate: the [`Store`] trait is synchronous and its
//! callers already run it on blocking threads. Connections are pooled: opened on demand, at
//! most [`POOL`], and a caller past that waits for one to come back. The decision path's
//! statements are prepared once per connection and kept with it (a statement sent as text is
//! parsed and planned by the server every time, and costs a second round trip); a commit
//! writes its batch of events with one statement, and [`Store::events_by_ids`] looks a batch
//! of ids up with one.

use domain::{AffiliateId, CaseOutcome, CaseState};
use postgres::types::ToSql;
use postgres::{Client, NoTls, Row, Statement};
use std::collections::HashMap;
use std::sync::Mutex;
use store::columns::{ACTION_COLS, CAMPAIGN_COLS, CASE_COLS, EVENT_COLS, REPORT_COLS};
use store::desk::Desk;
use store::{
    ActionOutcome, ActionRepo, ActionRow, Affiliate, ApiKey, ArmSize, AuditEntry, AuditRepo, AuditRow, CampaignRepo,
    CampaignRow, CaseRepo, CaseRow, Committed, EventRecord, IndicatorReport, MemberOutcome, MemberRow, OutboxItem,
    RegistryRepo, ReportRow, Result, RulesetRepo, RulesetVersion, Scope, Store, StoreError, Tx, Write, audit_hash,
};
use store::{People, PersonRow, SessionRow};

/// Migrations, applied in order; the `ansim_schema` table records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/0001_init.sql"),
    include_str!("../migrations/0002_event_seq.sql"),
    include_str!("../migrations/0003_trends.sql"),
    include_str!("../migrations/0004_campaigns.sql"),
    include_str!("../migrations/0005_clusters.sql"),
    include_str!("../migrations/0006_rules.sql"),
    include_str!("../migrations/0007_people.sql"),
    include_str!("../migrations/0008_snapshot_parts.sql"),
];

/// Most connections a store opens (the writer, decision-path reads, units of work); a caller
/// past it waits for one to come back instead of opening another, since opening a PostgreSQL
/// connection costs milliseconds and the server's own limit is shared by every node.
pub const POOL: usize = 16;

/// The schema version this program's migrations bring a database to.
pub const SCHEMA_VERSION: usize = MIGRATIONS.len();

/// How long a caller waits for a connection when all [`POOL`] are busy.
const POOL_WAIT: std::time::Duration = std::time::Duration::from_secs(10);

/// How often a unit of work is tried when PostgreSQL reports a serialisation failure; between
/// tries it waits a little longer each time, with jitter, so contenders fall out of step.
const TRIES: usize = 64;

/// Advances an affiliate's event counter by $2 and answers its new value, locking its row
/// until the commit ends.
const ADVANCE_SEQ: &str = "INSERT INTO event_seq (affiliate, last) VALUES ($1, $2)
     ON CONFLICT (affiliate) DO UPDATE SET last = event_seq.last + $2 RETURNING last";
/// One stored event by id.
const EVENT_BY_ID: &str =
    "SELECT seq, event_id, decision_id, at_ms, kind, verdict, score, ruleset, event_json, decision_json, decided_ms
     FROM event WHERE affiliate = $1 AND event_id = $2";
/// Stored events whose affiliate is one of $1 and whose id is one of $2, with the affiliate
/// last; the caller keeps the (affiliate, id) pairs it asked for. One index scan over both
/// lists: the same question as a join with the pairs cost PostgreSQL four times the planning
/// (0.39 against 0.08 ms on a 200,000-row table; statements are planned on every call).
const EVENTS_BY_IDS: &str =
    "SELECT seq, event_id, decision_id, at_ms, kind, verdict, score, ruleset, event_json, decision_json, decided_ms,
     affiliate FROM event
     WHERE affiliate = ANY($1::text[]) AND event_id = ANY($2::text[])";
/// How many columns [`EVENT_COLS`] names (the affiliate follows them in [`EVENTS_BY_IDS`]).
const EVENT_FIELDS: usize = 11;
/// A batch of events, one array per column.
const INSERT_EVENTS: &str = "INSERT INTO event (affiliate, seq, event_id, decision_id, at_ms, kind, verdict, score,
     ruleset, event_json, decision_json, decided_ms)
     SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::bigint[], $6::text[], $7::text[],
     $8::bigint[], $9::text[], $10::text[], $11::text[], $12::bigint[])";
/// Adds a batch of cells to the daily trend rollup, one array per column (each cell once).
const ADD_TRENDS: &str = "INSERT INTO trend_day (affiliate, day, kind, verdict, typology, age_band, amount_band,
     decisions, amount)
     SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[],
     $8::bigint[], $9::bigint[])
     ON CONFLICT (affiliate, day, kind, verdict, typology, age_band, amount_band)
     DO UPDATE SET decisions = trend_day.decisions + excluded.decisions, amount = trend_day.amount + excluded.amount";
/// Adds a batch of cells to the rule rollup, one array per column (each cell once).
const ADD_RULES: &str = "INSERT INTO rule_day (day, rule, affiliate, hits)
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::bigint[])
     ON CONFLICT (day, rule, affiliate) DO UPDATE SET hits = rule_day.hits + excluded.hits";
/// Adds a batch of cells to the indicator rollup, one array per column (each cell once).
const ADD_CLUSTERS: &str = "INSERT INTO cluster_day (day, kind, value, affiliate, decisions, reports)
     SELECT * FROM unnest($1::bigint[], $2::text[], $3::text[], $4::text[], $5::bigint[], $6::bigint[])
     ON CONFLICT (day, kind, value, affiliate)
     DO UPDATE SET decisions = cluster_day.decisions + excluded.decisions, reports = cluster_day.reports + excluded.reports";
/// A batch of outbox items, one array per column.
const INSERT_OUTBOX: &str = "INSERT INTO outbox (affiliate, topic, payload, created_ms)
     SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[])";

/// A whole commit in one statement, so in one round trip and one implicit transaction: the
/// affiliates' counters advanced by their number of new events ($1, $2, in affiliate order, so
/// two commits cannot wait for each other's rows), the events inserted with their numbers
/// counted back from the new counter (`back`: 0 for an affiliate's last event of the batch)
/// and their decision ids made from those numbers as [`store::decision_id`] makes them
/// (`dec_` + the number in hex + `_` + the tag in hex, which the caller sends), and the outbox
/// and the daily rollups written. The counter rows stay locked only while PostgreSQL runs it
/// and flushes the commit, never across a round trip to the node.
const COMMIT_AT_ONCE: &str = "WITH s AS (
       INSERT INTO event_seq (affiliate, last) SELECT * FROM unnest($1::text[], $2::bigint[])
       ON CONFLICT (affiliate) DO UPDATE SET last = event_seq.last + excluded.last
       RETURNING affiliate, last
     ), e AS (
       INSERT INTO event (affiliate, seq, event_id, decision_id, at_ms, kind, verdict, score, ruleset, event_json,
         decision_json, decided_ms)
       SELECT r.affiliate, s.last - r.back, r.event_id, 'dec_' || to_hex(s.last - r.back) || r.tag, r.at_ms, r.kind,
         r.verdict, r.score, r.ruleset, r.event_json, r.decision_json, r.decided_ms
       FROM unnest($3::text[], $4::bigint[], $5::text[], $6::text[], $7::bigint[], $8::text[], $9::text[],
         $10::bigint[], $11::text[], $12::text[], $13::text[], $14::bigint[])
         AS r(affiliate, back, event_id, tag, at_ms, kind, verdict, score, ruleset, event_json, decision_json,
           decided_ms)
       JOIN s USING (affiliate)
     ), o AS (
       INSERT INTO outbox (affiliate, topic, payload, created_ms)
       SELECT * FROM unnest($15::text[], $16::text[], $17::text[], $18::bigint[])
     ), t AS (
       INSERT INTO trend_day (affiliate, day, kind, verdict, typology, age_band, amount_band, decisions, amount)
       SELECT * FROM unnest($19::text[], $20::bigint[], $21::text[], $22::text[], $23::text[], $24::text[],
         $25::text[], $26::bigint[], $27::bigint[])
       ON CONFLICT (affiliate, day, kind, verdict, typology, age_band, amount_band)
       DO UPDATE SET decisions = trend_day.decisions + excluded.decisions, amount = trend_day.amount + excluded.amount
     ), u AS (
       INSERT INTO rule_day (day, rule, affiliate, hits)
       SELECT * FROM unnest($28::bigint[], $29::text[], $30::text[], $31::bigint[])
       ON CONFLICT (day, rule, affiliate) DO UPDATE SET hits = rule_day.hits + excluded.hits
     )
     SELECT affiliate, last FROM s";

/// The distinct affiliates and the distinct ids of (affiliate, id) pairs: the arguments of
/// [`EVENTS_BY_IDS`].
fn id_lists<'a>(pairs: impl Iterator<Item = (&'a str, &'a str)>) -> (Vec<&'a str>, Vec<&'a str>) {
    let (mut affs, mut ids): (Vec<&str>, Vec<&str>) = pairs.unzip();
    for v in [&mut affs, &mut ids] {
        v.sort_unstable();
        v.dedup();
    }
    (affs, ids)
}

/// [`COMMIT_AT_ONCE`] for `writes`, taking every id not repeated within the batch as new: a
/// stored one fails the statement on the unique index (and nothing is written).
fn commit_at_once(p: &mut Pooled, writes: &[Write]) -> std::result::Result<Vec<Committed>, postgres::Error> {
    let st = p.prepared(COMMIT_AT_ONCE)?;
    let (_, first) = first_occurrences(writes);
    // New events per affiliate, in affiliate order.
    let mut counts: Vec<(&str, i64)> = Vec::new();
    for (i, w) in writes.iter().enumerate() {
        if first[i] == i {
            match counts.iter_mut().find(|(a, _)| *a == w.affiliate.as_str()) {
                Some(c) => c.1 += 1,
                None => counts.push((w.affiliate.as_str(), 1)),
            }
        }
    }
    counts.sort_unstable();
    // Each new event's place counted back from its affiliate's last of the batch.
    let mut left: Vec<i64> = counts.iter().map(|c| c.1).collect();
    let mut back_of: Vec<i64> = vec![0; writes.len()];
    let mut back: Vec<i64> = Vec::with_capacity(writes.len());
    let mut rows = EventColumns::default();
    let mut tags: Vec<String> = Vec::with_capacity(writes.len());
    let mut ob = OutboxColumns::default();
    // Outcomes as far as they are known before the numbers are: each new write stored.
    let mut out: Vec<Committed> = Vec::with_capacity(writes.len());
    for (i, w) in writes.iter().enumerate() {
        if first[i] != i {
            out.push(Committed::Duplicate(Box::new(w.record.clone())));
            continue;
        }
        let slot = counts.iter().position(|c| c.0 == w.affiliate.as_str()).unwrap_or_default();
        left[slot] -= 1;
        back_of[i] = left[slot];
        back.push(left[slot]);
        let mut tag = String::with_capacity(17);
        tag.push('_');
        domain::push_hex(&mut tag, &w.tag.to_be_bytes());
        tags.push(tag);
        rows.push(w, 0, "");
        ob.push(w);
        out.push(Committed::Stored { seq: 0, decision_id: String::new() });
    }
    let rollups = Rollups::of(writes, &out);
    let (trend, rules) = (rollups.trend(), rollups.rules());
    let (count_affs, count_n): (Vec<&str>, Vec<i64>) = counts.iter().copied().unzip();
    let last: Vec<(String, i64)> = p
        .client
        .query(
            &st,
            &[&count_affs as Param<'_>, &count_n, &rows.affiliate, &back, &rows.event_id, &tags]
                .into_iter()
                .chain(rows.record_params())
                .chain(ob.params())
                .chain(trend.params())
                .chain(rules.params())
                .collect::<Vec<_>>(),
        )?
        .iter()
        .map(|r| (r.get(0), r.get(1)))
        .collect();
    // The numbers: each affiliate's new last, counted back; a repeat within the batch
    // answers with its first's.
    for (i, w) in writes.iter().enumerate() {
        out[i] = if first[i] == i {
            let newest = last.iter().find(|l| l.0 == w.affiliate.as_str()).map_or(0, |l| l.1);
            let seq = newest - back_of[i];
            Committed::Stored { seq, decision_id: store::decision_id(seq, w.tag) }
        } else {
            repeat_of(&out[first[i]], &writes[first[i]].record)
        };
    }
    Ok(out)
}

/// Where each (affiliate, event id) of a batch first occurs, and each write's first
/// occurrence (itself unless it repeats an id earlier in the batch).
fn first_occurrences(writes: &[Write]) -> (HashMap<(&str, &str), usize>, Vec<usize>) {
    let mut first_of: HashMap<(&str, &str), usize> = HashMap::with_capacity(writes.len());
    let first = writes
        .iter()
        .enumerate()
        .map(|(i, w)| *first_of.entry((w.affiliate.as_str(), w.record.event_id.as_str())).or_insert(i))
        .collect();
    (first_of, first)
}

/// The answer to a write repeating, within its batch, the id of an earlier one (`first`,
/// answered `first_out`): what the first was stored as.
fn repeat_of(first_out: &Committed, first: &EventRecord) -> Committed {
    let (seq, decision_id) = match first_out {
        Committed::Stored { seq, decision_id } => (*seq, decision_id.clone()),
        Committed::Duplicate(old) => (old.seq, old.decision_id.clone()),
    };
    Committed::Duplicate(Box::new(EventRecord { seq, decision_id, ..first.clone() }))
}

/// A batch's outbox items as [`INSERT_OUTBOX`]'s arrays (and the same in [`COMMIT_AT_ONCE`]).
#[derive(Default)]
struct OutboxColumns<'a> {
    affiliate: Vec<&'a str>,
    topic: Vec<&'a str>,
    payload: Vec<&'a str>,
    created_ms: Vec<i64>,
}

impl<'a> OutboxColumns<'a> {
    /// Adds a stored write's items.
    fn push(&mut self, w: &'a Write) {
        for (topic, payload) in &w.outbox {
            self.affiliate.push(w.affiliate.as_str());
            self.topic.push(topic);
            self.payload.push(payload);
            self.created_ms.push(w.record.decided_ms);
        }
    }

    fn params(&self) -> [Param<'_>; 4] {
        [&self.affiliate, &self.topic, &self.payload, &self.created_ms]
    }
}

/// A parameter of a statement.
type Param<'a> = &'a (dyn postgres::types::ToSql + Sync);

/// A commit's additions to the daily rollups ([`ADD_TRENDS`], [`ADD_RULES`], and the same in
/// [`COMMIT_AT_ONCE`]): each cell once.
struct Rollups {
    cells: Vec<(AffiliateId, store::TrendKey, i64, i64)>,
    hits: Vec<(AffiliateId, i64, String, i64)>,
}

/// The trend cells as the statements' arrays, in their order.
struct TrendColumns<'a> {
    affiliate: Vec<&'a str>,
    day: Vec<i64>,
    kind: Vec<&'a str>,
    verdict: Vec<&'a str>,
    typology: Vec<&'a str>,
    age_band: Vec<&'a str>,
    amount_band: Vec<&'a str>,
    decisions: Vec<i64>,
    amount: Vec<i64>,
}

/// The rule hits as the statements' arrays, in their order.
struct RuleColumns<'a> {
    day: Vec<i64>,
    rule: Vec<&'a str>,
    affiliate: Vec<&'a str>,
    hits: Vec<i64>,
}

impl Rollups {
    /// What the stored ones among `writes` (by `out`) add.
    fn of(writes: &[Write], out: &[Committed]) -> Rollups {
        Rollups { cells: store::trend_deltas(writes, out), hits: store::rule_deltas(writes, out) }
    }

    fn trend(&self) -> TrendColumns<'_> {
        let col = |f: fn(&store::TrendKey) -> &str| self.cells.iter().map(|c| f(&c.1)).collect::<Vec<&str>>();
        TrendColumns {
            affiliate: self.cells.iter().map(|c| c.0.as_str()).collect(),
            day: self.cells.iter().map(|c| c.1.day).collect(),
            kind: col(|k| &k.kind),
            verdict: col(|k| &k.verdict),
            typology: col(|k| &k.typology),
            age_band: col(|k| &k.age_band),
            amount_band: col(|k| &k.amount_band),
            decisions: self.cells.iter().map(|c| c.2).collect(),
            amount: self.cells.iter().map(|c| c.3).collect(),
        }
    }

    fn rules(&self) -> RuleColumns<'_> {
        RuleColumns {
            day: self.hits.iter().map(|h| h.1).collect(),
            rule: self.hits.iter().map(|h| h.2.as_str()).collect(),
            affiliate: self.hits.iter().map(|h| h.0.as_str()).collect(),
            hits: self.hits.iter().map(|h| h.3).collect(),
        }
    }
}

impl TrendColumns<'_> {
    fn params(&self) -> [Param<'_>; 9] {
        [
            &self.affiliate,
            &self.day,
            &self.kind,
            &self.verdict,
            &self.typology,
            &self.age_band,
            &self.amount_band,
            &self.decisions,
            &self.amount,
        ]
    }
}

impl RuleColumns<'_> {
    fn params(&self) -> [Param<'_>; 4] {
        [&self.day, &self.rule, &self.affiliate, &self.hits]
    }
}

/// A batch of events to insert, column by column.
#[derive(Default)]
struct EventColumns<'a> {
    affiliate: Vec<&'a str>,
    seq: Vec<i64>,
    event_id: Vec<&'a str>,
    decision_id: Vec<String>,
    at_ms: Vec<i64>,
    kind: Vec<&'a str>,
    verdict: Vec<&'a str>,
    score: Vec<i64>,
    ruleset: Vec<&'a str>,
    event_json: Vec<&'a str>,
    decision_json: Vec<&'a str>,
    decided_ms: Vec<i64>,
}

impl<'a> EventColumns<'a> {
    /// The columns after the number and the decision id, in the statements' order.
    fn record_params(&self) -> [Param<'_>; 8] {
        [
            &self.at_ms,
            &self.kind,
            &self.verdict,
            &self.score,
            &self.ruleset,
            &self.event_json,
            &self.decision_json,
            &self.decided_ms,
        ]
    }

    fn push(&mut self, w: &'a Write, seq: i64, decision_id: &str) {
        let r = &w.record;
        self.affiliate.push(w.affiliate.as_str());
        self.seq.push(seq);
        self.event_id.push(&r.event_id);
        self.decision_id.push(decision_id.to_string());
        self.at_ms.push(r.at_ms);
        self.kind.push(&r.kind);
        self.verdict.push(&r.verdict);
        self.score.push(r.score);
        self.ruleset.push(&r.ruleset);
        self.event_json.push(&r.event_json);
        self.decision_json.push(&r.decision_json);
        self.decided_ms.push(r.decided_ms);
    }
}

/// A store in a PostgreSQL database.
pub struct PgStore {
    config: postgres::Config,
    /// Connections not in use, and how many are open in all (idle or lent).
    idle: Mutex<(Vec<Pooled>, usize)>,
    /// Signalled when a connection comes back.
    returned: std::sync::Condvar,
    /// Sessions holding a role's advisory lock ([`Store::lead`]): the lock lives as long as the
    /// session, so a node that dies releases it and another node takes the role over.
    leading: Mutex<Vec<(String, Client)>>,
    /// The connection commits run their one statement on ([`COMMIT_AT_ONCE`]), opened on
    /// first use. Its statements keep one plan per connection, unlike the pool's: a commit's
    /// plan (inserts from arrays, upserts on their keys) does not depend on how big the tables
    /// are, and planning it anew cost PostgreSQL 0.7-0.8 ms of every 1.3 ms commit.
    committer: Mutex<Option<Pooled>>,
}

fn backend(e: postgres::Error) -> StoreError {
    backend_ref(&e)
}

fn is_retryable(e: &postgres::Error) -> bool {
    e.code().is_some_and(|c| {
        *c == postgres::error::SqlState::T_R_SERIALIZATION_FAILURE
            || *c == postgres::error::SqlState::T_R_DEADLOCK_DETECTED
    })
}

/// A pooled connection and the statements prepared on it.
struct Pooled {
    client: Client,
    prepared: HashMap<&'static str, Statement>,
}

/// A connection taken from the pool, returned to it when dropped (unless it broke).
struct Conn<'a> {
    store: &'a PgStore,
    client: Option<Pooled>,
}

impl Pooled {
    /// `sql` prepared on this connection: by the server the first time, from the connection's
    /// own list after that.
    fn prepared(&mut self, sql: &'static str) -> std::result::Result<Statement, postgres::Error> {
        if let Some(st) = self.prepared.get(sql) {
            return Ok(st.clone());
        }
        let st = self.client.prepare(sql)?;
        self.prepared.insert(sql, st.clone());
        Ok(st)
    }
}

impl Conn<'_> {
    /// `sql` prepared on this connection (see [`Pooled::prepared`]).
    fn prepared(&mut self, sql: &'static str) -> std::result::Result<Statement, postgres::Error> {
        self.client.as_mut().expect("a pooled connection is present until dropped").prepared(sql)
    }
}

impl std::ops::Deref for Conn<'_> {
    type Target = Client;
    fn deref(&self) -> &Client {
        &self.client.as_ref().expect("a pooled connection is present until dropped").client
    }
}

impl std::ops::DerefMut for Conn<'_> {
    fn deref_mut(&mut self) -> &mut Client {
        &mut self.client.as_mut().expect("a pooled connection is present until dropped").client
    }
}

impl Drop for Conn<'_> {
    fn drop(&mut self) {
        if let Some(c) = self.client.take() {
            let mut pool = self.store.idle.lock().unwrap_or_else(|p| p.into_inner());
            if c.client.is_closed() {
                pool.1 = pool.1.saturating_sub(1);
            } else {
                pool.0.push(c);
            }
            self.store.returned.notify_one();
        }
    }
}

impl PgStore {
    /// [`commit_at_once`] on the committer connection (opened, or opened again after it
    /// broke, here).
    fn commit_at_once(&self, writes: &[Write]) -> std::result::Result<Vec<Committed>, postgres::Error> {
        let mut slot = self.committer.lock().unwrap_or_else(|p| p.into_inner());
        let p = match slot.take() {
            Some(p) if !p.client.is_closed() => slot.insert(p),
            _ => {
                let mut client = self.config.connect(NoTls)?;
                client.batch_execute("SET plan_cache_mode = force_generic_plan")?;
                slot.insert(Pooled { client, prepared: HashMap::new() })
            }
        };
        commit_at_once(p, writes)
    }

    /// Connects to `url` (`postgres://user@host:port/db`) and runs pending migrations. An
    /// unreachable server is an error that names the address.
    pub fn open(url: &str) -> Result<PgStore> {
        let config: postgres::Config =
            url.parse().map_err(|e| StoreError::Backend(format!("invalid PostgreSQL address {url:?}: {e}")))?;
        PgStore::with_config(config)
    }

    /// The schema version the database is at (migrations applied).
    pub fn schema_version(&self) -> Result<i64> {
        let row = self.conn()?.query_one("SELECT COALESCE(MAX(version), 0) FROM ansim_schema", &[]).map_err(backend)?;
        Ok(row.get(0))
    }

    /// Connects with a prepared configuration (for example one whose `options` set the
    /// `search_path` to a schema of its own) and runs pending migrations.
    pub fn with_config(config: postgres::Config) -> Result<PgStore> {
        let s = PgStore {
            config,
            idle: Mutex::new((Vec::new(), 0)),
            returned: std::sync::Condvar::new(),
            leading: Mutex::new(Vec::new()),
            committer: Mutex::new(None),
        };
        s.migrate()?;
        Ok(s)
    }

    fn conn(&self) -> Result<Conn<'_>> {
        let deadline = std::time::Instant::now() + POOL_WAIT;
        let mut pool = self.idle.lock().unwrap_or_else(|p| p.into_inner());
        loop {
            match pool.0.pop() {
                Some(c) if !c.client.is_closed() => return Ok(Conn { store: self, client: Some(c) }),
                Some(_) => pool.1 = pool.1.saturating_sub(1),
                None if pool.1 < POOL => break,
                None => {
                    let left = deadline.saturating_duration_since(std::time::Instant::now());
                    if left.is_zero() {
                        return Err(StoreError::Backend(format!(
                            "all {POOL} PostgreSQL connections stayed busy for {} s",
                            POOL_WAIT.as_secs()
                        )));
                    }
                    pool = self.returned.wait_timeout(pool, left).unwrap_or_else(|p| p.into_inner()).0;
                }
            }
        }
        // Room for one more: open it without holding the lock.
        pool.1 += 1;
        drop(pool);
        // Prepared statements are planned for their arguments every time: a plan cached while
        // a table was still small would scan it whole forever after (seen: lookups turned into
        // sequential scans of the event table as it grew).
        let connected = self.config.connect(NoTls).and_then(|mut client| {
            client.batch_execute("SET plan_cache_mode = force_custom_plan")?;
            Ok(client)
        });
        match connected {
            Ok(client) => Ok(Conn { store: self, client: Some(Pooled { client, prepared: HashMap::new() }) }),
            Err(e) => {
                let mut pool = self.idle.lock().unwrap_or_else(|p| p.into_inner());
                pool.1 = pool.1.saturating_sub(1);
                self.returned.notify_one();
                let hosts: Vec<String> = self.config.get_hosts().iter().map(|h| format!("{h:?}")).collect();
                Err(StoreError::Backend(format!("cannot connect to PostgreSQL at {}: {e}", hosts.join(", "))))
            }
        }
    }

    fn migrate(&self) -> Result<()> {
        let mut c = self.conn()?;
        let mut tx = c.transaction().map_err(backend)?;
        // One node migrates; the others wait here and then find nothing left to do.
        tx.execute("SELECT pg_advisory_xact_lock(7262696)", &[]).map_err(backend)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS ansim_schema (version BIGINT NOT NULL)").map_err(backend)?;
        let done: i64 =
            tx.query_one("SELECT COALESCE(MAX(version), 0) FROM ansim_schema", &[]).map_err(backend)?.get(0);
        let done = usize::try_from(done).unwrap_or(0);
        if done > MIGRATIONS.len() {
            return Err(StoreError::Backend(format!(
                "the store has schema version {done}, newer than this program's {}; upgrade ansim",
                MIGRATIONS.len()
            )));
        }
        for (i, sql) in MIGRATIONS.iter().enumerate().skip(done) {
            tx.batch_execute(sql).map_err(backend)?;
            tx.execute("INSERT INTO ansim_schema (version) VALUES ($1)", &[&((i + 1) as i64)]).map_err(backend)?;
        }
        tx.commit().map_err(backend)
    }

    /// Runs `f` in one transaction at `isolation`, retrying on a serialisation failure.
    fn in_tx<T>(
        &self,
        serializable: bool,
        f: impl FnMut(&mut postgres::Transaction<'_>) -> std::result::Result<T, TxError>,
    ) -> Result<T> {
        let mut c = self.conn()?;
        self.run_tx(&mut c, serializable, f)
    }

    /// [`PgStore::in_tx`] on a connection the caller holds (with statements it prepared).
    fn run_tx<T>(
        &self,
        c: &mut Conn<'_>,
        serializable: bool,
        mut f: impl FnMut(&mut postgres::Transaction<'_>) -> std::result::Result<T, TxError>,
    ) -> Result<T> {
        for attempt in 1..=TRIES {
            let level = if serializable {
                postgres::IsolationLevel::Serializable
            } else {
                postgres::IsolationLevel::ReadCommitted
            };
            let mut tx = c.build_transaction().isolation_level(level).start().map_err(backend)?;
            let r = f(&mut tx);
            let r = match r {
                Ok(v) => tx.commit().map(|()| v).map_err(TxError::Pg),
                Err(e) => Err(e),
            };
            match r {
                Ok(v) => return Ok(v),
                Err(TxError::Pg(e)) if is_retryable(&e) && attempt < TRIES => {
                    let jitter = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .map_or(0, |d| u64::from(d.subsec_nanos()) % 1_000);
                    let wait = (attempt as u64 * 500).min(20_000) + jitter * (attempt as u64).min(20);
                    std::thread::sleep(std::time::Duration::from_micros(wait));
                    continue;
                }
                Err(TxError::Pg(e)) => return Err(backend(e)),
                Err(TxError::Store(e)) => return Err(e),
            }
        }
        Err(StoreError::Backend("the transaction kept conflicting with others; retry".into()))
    }
}

/// Why a unit of work stopped: PostgreSQL (maybe retryable) or the work itself.
enum TxError {
    Pg(postgres::Error),
    Store(StoreError),
}

impl From<postgres::Error> for TxError {
    fn from(e: postgres::Error) -> Self {
        TxError::Pg(e)
    }
}

impl From<StoreError> for TxError {
    fn from(e: StoreError) -> Self {
        TxError::Store(e)
    }
}

fn event_row(r: &Row) -> EventRecord {
    EventRecord {
        seq: r.get(0),
        event_id: r.get(1),
        decision_id: r.get(2),
        at_ms: r.get(3),
        kind: r.get(4),
        verdict: r.get(5),
        score: r.get(6),
        ruleset: r.get(7),
        event_json: r.get(8),
        decision_json: r.get(9),
        decided_ms: r.get(10),
    }
}

fn scopes_text(s: &[Scope]) -> String {
    s.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(" ")
}

fn ruleset_row(r: &Row) -> RulesetVersion {
    RulesetVersion { version: r.get(0), source: r.get(1), published_ms: r.get(2), active: r.get::<_, i64>(3) != 0 }
}

fn bytes32(v: Vec<u8>, what: &str) -> Result<[u8; 32]> {
    v.try_into().map_err(|_| StoreError::Corrupt(format!("{what} is not 32 bytes")))
}

fn report_row(r: &Row) -> Result<IndicatorReport> {
    Ok(IndicatorReport {
        digest: bytes32(r.get(0), "an indicator digest")?,
        kind: r.get(1),
        affiliate: AffiliateId(r.get(2)),
        typology: r.get(3),
        status: r.get(4),
        reports: r.get(5),
        first_ms: r.get(6),
        last_ms: r.get(7),
    })
}

fn report_row_of(r: &Row) -> Result<ReportRow> {
    Ok(ReportRow {
        receipt: r.get(0),
        secret_hash: bytes32(r.get(1), "a report's secret hash")?,
        source: r.get(2),
        kind: r.get(3),
        case_id: r.get(4),
        priority: r.get(5),
        body: r.get(6),
        created_ms: r.get(7),
        subject: r.get(8),
        amount: r.get(9),
    })
}

/// The indicator rollup's columns for [`ADD_CLUSTERS`]: counts as decisions or as reports.
#[allow(clippy::type_complexity)]
fn cluster_columns(
    cells: &[(AffiliateId, store::ClusterKey, i64)],
    decisions: bool,
) -> (Vec<i64>, Vec<&str>, Vec<&str>, Vec<&str>, Vec<i64>, Vec<i64>) {
    let days = cells.iter().map(|c| c.1.day).collect();
    let kinds = cells.iter().map(|c| c.1.kind.as_str()).collect();
    let values = cells.iter().map(|c| c.1.value.as_str()).collect();
    let affs = cells.iter().map(|c| c.0.as_str()).collect();
    let counts: Vec<i64> = cells.iter().map(|c| c.2).collect();
    let zero = vec![0; cells.len()];
    if decisions { (days, kinds, values, affs, counts, zero) } else { (days, kinds, values, affs, zero, counts) }
}

fn campaign_row(r: &Row) -> CampaignRow {
    CampaignRow { id: r.get(0), body: r.get(1), created_ms: r.get(2), updated_ms: r.get(3) }
}

fn list(text: String) -> Result<Vec<String>> {
    serde_json::from_str(&text).map_err(|e| StoreError::Corrupt(format!("not a JSON list of names: {e}")))
}

fn case_row(r: &Row) -> Result<CaseRow> {
    let state: String = r.get(1);
    let outcome: Option<String> = r.get(2);
    Ok(CaseRow {
        id: r.get(0),
        state: CaseState::parse(&state).ok_or_else(|| StoreError::Corrupt(format!("unknown case state {state:?}")))?,
        outcome: match outcome {
            None => None,
            Some(o) => {
                Some(CaseOutcome::parse(&o).ok_or_else(|| StoreError::Corrupt(format!("unknown outcome {o:?}")))?)
            }
        },
        priority: r.get(3),
        assignee: r.get(4),
        typology: r.get(5),
        money_at_risk: r.get(6),
        reporting: list(r.get(7))?,
        holding: list(r.get(8))?,
        linked_case: r.get(9),
        opened_ms: r.get(10),
        updated_ms: r.get(11),
        sla_due_ms: r.get(12),
        first_action_ms: r.get(13),
        closed_ms: r.get(14),
        body: r.get(15),
    })
}

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

/// A case's writable columns, in the order both the insert and the update name them.
fn with_case_values<T>(c: &CaseRow, f: impl FnOnce(&[&(dyn ToSql + Sync)]) -> T) -> T {
    let (state, outcome) = (c.state.as_str(), c.outcome.map(CaseOutcome::as_str));
    let (reporting, holding) = (json_list(&c.reporting), json_list(&c.holding));
    f(&[
        &state,
        &outcome,
        &c.priority,
        &c.assignee,
        &c.typology,
        &c.money_at_risk,
        &reporting,
        &holding,
        &c.linked_case,
        &c.opened_ms,
        &c.updated_ms,
        &c.sla_due_ms,
        &c.first_action_ms,
        &c.closed_ms,
        &c.body,
    ])
}

fn action_row(r: &Row) -> ActionRow {
    ActionRow {
        id: r.get(0),
        affiliate: AffiliateId(r.get(1)),
        kind: r.get(2),
        payload: r.get(3),
        created_ms: r.get(4),
        attempts: r.get(5),
        next_ms: r.get(6),
        delivered_ms: r.get(7),
        dead_ms: r.get(8),
        last_error: r.get(9),
    }
}

fn limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

impl Store for PgStore {
    fn transaction(&self, work: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()> {
        self.in_tx(true, |tx| {
            let mut t = PgTx { tx, failed: None };
            let r = work(&mut t);
            // A PostgreSQL error inside the work is kept whole, so a serialisation failure
            // retries the unit rather than surfacing as a backend error.
            if let Some(e) = t.failed.take() {
                return Err(TxError::Pg(e));
            }
            r.map_err(TxError::Store)
        })
    }

    fn upsert_affiliate(&self, a: &AffiliateId, name: &str, now_ms: i64) -> Result<()> {
        self.conn()?
            .execute(
                "INSERT INTO affiliate (id, name, created_ms) VALUES ($1, $2, $3)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name",
                &[&a.as_str(), &name, &now_ms],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn affiliates(&self) -> Result<Vec<Affiliate>> {
        let rows = self.conn()?.query("SELECT id, name FROM affiliate ORDER BY id", &[]).map_err(backend)?;
        Ok(rows.iter().map(|r| Affiliate { id: AffiliateId(r.get(0)), name: r.get(1) }).collect())
    }

    fn insert_key(&self, a: &AffiliateId, key: &ApiKey, now_ms: i64) -> Result<()> {
        if &key.affiliate != a {
            return Err(StoreError::Conflict("a key can only be stored for its own affiliate".into()));
        }
        self.conn()?
            .execute(
                "INSERT INTO api_key (hash, prefix, affiliate, scopes, created_ms, revoked) VALUES ($1, $2, $3, $4, $5, $6)",
                &[&&key.hash[..], &key.prefix, &a.as_str(), &scopes_text(&key.scopes), &now_ms, &i64::from(key.revoked)],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn key_by_hash(&self, hash: &[u8; 32]) -> Result<Option<ApiKey>> {
        let row = self
            .conn()?
            .query_opt("SELECT prefix, affiliate, scopes, revoked FROM api_key WHERE hash = $1", &[&&hash[..]])
            .map_err(backend)?;
        Ok(row.map(|r| {
            let scopes: String = r.get(2);
            ApiKey {
                hash: *hash,
                prefix: r.get(0),
                affiliate: AffiliateId(r.get(1)),
                scopes: scopes.split_whitespace().filter_map(Scope::parse).collect(),
                revoked: r.get::<_, i64>(3) != 0,
            }
        }))
    }

    fn keys(&self, a: &AffiliateId) -> Result<Vec<ApiKey>> {
        let rows = self
            .conn()?
            .query(
                "SELECT hash, prefix, scopes, revoked FROM api_key WHERE affiliate = $1 ORDER BY created_ms, prefix",
                &[&a.as_str()],
            )
            .map_err(backend)?;
        rows.iter()
            .map(|r| {
                let scopes: String = r.get(2);
                Ok(ApiKey {
                    hash: bytes32(r.get(0), "a key hash")?,
                    prefix: r.get(1),
                    affiliate: a.clone(),
                    scopes: scopes.split_whitespace().filter_map(Scope::parse).collect(),
                    revoked: r.get::<_, i64>(3) != 0,
                })
            })
            .collect()
    }

    fn revoke_key(&self, a: &AffiliateId, prefix: &str) -> Result<usize> {
        self.in_tx(false, |tx| {
            let n: i64 = tx
                .query_one(
                    "SELECT COUNT(*) FROM api_key WHERE affiliate = $1 AND prefix = $2",
                    &[&a.as_str(), &prefix],
                )?
                .get(0);
            if n == 1 {
                tx.execute(
                    "UPDATE api_key SET revoked = 1 WHERE affiliate = $1 AND prefix = $2",
                    &[&a.as_str(), &prefix],
                )?;
            }
            Ok(usize::try_from(n).unwrap_or(0))
        })
    }

    fn lead(&self, role: &str) -> Result<bool> {
        let mut leading = self.leading.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = leading.iter().position(|(r, _)| r == role) {
            if leading[i].1.simple_query("SELECT 1").is_ok() {
                return Ok(true);
            }
            // The session is gone, and its lock with it: try again below.
            leading.swap_remove(i);
        }
        let mut c = self.config.connect(NoTls).map_err(backend)?;
        // Advisory locks belong to the database: the key names the schema too, so groups (or
        // test runs) in schemas of one database lead each on their own.
        let got: bool = c
            .query_one(
                "SELECT pg_try_advisory_lock(hashtextextended(current_schema() || '/ansim/' || $1, 7262696))",
                &[&role],
            )
            .map_err(backend)?
            .get(0);
        if got {
            leading.push((role.to_string(), c));
        }
        Ok(got)
    }

    fn commit(&self, writes: &[Write]) -> Result<Vec<Committed>> {
        // Read committed. An affiliate's counter row is locked from the moment it is advanced
        // to the end of the commit, which orders the commits of one affiliate (across nodes)
        // and makes replay order commit order; that lock is the one thing two nodes wait for,
        // so it is held briefly. The common case is one statement ([`COMMIT_AT_ONCE`]): the
        // ids are not looked up first, since callers looked them up before deciding (and,
        // with several nodes, claimed them), so a stored one is rare.
        let mut locked_lookup = match self.commit_at_once(writes) {
            Ok(out) => return Ok(out),
            // An id was stored after all (by another node, or earlier): done again below
            // with the lookup under the lock.
            Err(e) if e.code() == Some(&postgres::error::SqlState::UNIQUE_VIOLATION) => true,
            // Anything else (a conflict to retry, a connection lost) is met again, and dealt
            // with, below.
            Err(_) => false,
        };
        let mut c = self.conn()?;
        let advance = c.prepared(ADVANCE_SEQ).map_err(backend)?;
        let stored = c.prepared(EVENTS_BY_IDS).map_err(backend)?;
        let insert = c.prepared(INSERT_EVENTS).map_err(backend)?;
        let outbox = c.prepared(INSERT_OUTBOX).map_err(backend)?;
        let trend = c.prepared(ADD_TRENDS).map_err(backend)?;
        let rules = c.prepared(ADD_RULES).map_err(backend)?;
        // Otherwise a transaction of several statements. Should an id be stored all the same
        // (by another node, or earlier), the insert failed on the unique index and the batch
        // is done again with the lookup under the lock, where no other commit can store an id
        // of these affiliates.
        loop {
            let r = self.run_tx(&mut c, false, |tx| {
                // Counters are taken in affiliate order, so two batches of several affiliates
                // cannot wait for each other's locks.
                let mut affiliates: Vec<&AffiliateId> = writes.iter().map(|w| &w.affiliate).collect();
                affiliates.sort();
                affiliates.dedup();
                if locked_lookup {
                    for a in &affiliates {
                        tx.execute(&advance, &[&a.as_str(), &0i64])?;
                    }
                }
                let (first_of, first) = first_occurrences(writes);
                // Ids stored before (by another node, or earlier), by the first write naming
                // them: looked for only once an insert has found one.
                let mut before: HashMap<usize, EventRecord> = HashMap::new();
                if locked_lookup {
                    let (affs, ids) =
                        id_lists(writes.iter().map(|w| (w.affiliate.as_str(), w.record.event_id.as_str())));
                    for row in tx.query(&stored, &[&affs, &ids])? {
                        let r = event_row(&row);
                        let affiliate: &str = row.get(EVENT_FIELDS);
                        if let Some(&i) = first_of.get(&(affiliate, r.event_id.as_str())) {
                            before.insert(i, r);
                        }
                    }
                }
                // Which writes are new (not stored, not repeating an earlier one of the batch).
                let new: Vec<bool> = (0..writes.len()).map(|i| first[i] == i && !before.contains_key(&i)).collect();
                let mut next = Vec::with_capacity(affiliates.len());
                for a in affiliates {
                    let n = writes.iter().zip(&new).filter(|(w, new)| **new && &w.affiliate == a).count() as i64;
                    if n > 0 {
                        let last: i64 = tx.query_one(&advance, &[&a.as_str(), &n])?.get(0);
                        next.push((a, last - n + 1));
                    }
                }
                let mut rows = EventColumns::default();
                let mut ob = OutboxColumns::default();
                let mut out: Vec<Committed> = Vec::with_capacity(writes.len());
                for (i, w) in writes.iter().enumerate() {
                    if !new[i] {
                        if let Some(old) = before.get(&first[i]) {
                            out.push(Committed::Duplicate(Box::new(old.clone())));
                            continue;
                        }
                        // The same id twice in one batch: the second repeats the first.
                        out.push(repeat_of(&out[first[i]], &writes[first[i]].record));
                        continue;
                    }
                    let slot = next.iter().position(|(a, _)| *a == &w.affiliate).unwrap_or_default();
                    let seq = next[slot].1;
                    next[slot].1 += 1;
                    let decision_id = store::decision_id(seq, w.tag);
                    rows.push(w, seq, &decision_id);
                    ob.push(w);
                    out.push(Committed::Stored { seq, decision_id });
                }
                if !rows.seq.is_empty() {
                    let head: [Param<'_>; 4] = [&rows.affiliate, &rows.seq, &rows.event_id, &rows.decision_id];
                    tx.execute(&insert, &head.into_iter().chain(rows.record_params()).collect::<Vec<_>>())?;
                }
                if !ob.affiliate.is_empty() {
                    tx.execute(&outbox, &ob.params())?;
                }
                let rollups = Rollups::of(writes, &out);
                if !rollups.cells.is_empty() {
                    tx.execute(&trend, &rollups.trend().params())?;
                }
                if !rollups.hits.is_empty() {
                    tx.execute(&rules, &rollups.rules().params())?;
                }
                Ok(out)
            });
            match r {
                Err(StoreError::Conflict(_)) if !locked_lookup => {
                    locked_lookup = true;
                }
                r => return r,
            }
        }
    }

    fn event_by_id(&self, a: &AffiliateId, event_id: &str) -> Result<Option<EventRecord>> {
        let mut c = self.conn()?;
        let st = c.prepared(EVENT_BY_ID).map_err(backend)?;
        let row = c.query_opt(&st, &[&a.as_str(), &event_id]).map_err(backend)?;
        Ok(row.as_ref().map(event_row))
    }

    fn trend_days(&self, a: Option<&AffiliateId>, from_day: i64, to_day: i64) -> Result<Vec<store::TrendRow>> {
        let rows = self
            .conn()?
            .query(
                "SELECT affiliate, day, kind, verdict, typology, age_band, amount_band, decisions, amount FROM trend_day
                 WHERE day BETWEEN $1 AND $2 AND ($3::text IS NULL OR affiliate = $3)
                 ORDER BY day, affiliate, kind, verdict, typology, age_band, amount_band",
                &[&from_day, &to_day, &a.map(|a| a.as_str())],
            )
            .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|r| store::TrendRow {
                affiliate: AffiliateId(r.get(0)),
                key: store::TrendKey {
                    day: r.get(1),
                    kind: r.get(2),
                    verdict: r.get(3),
                    typology: r.get(4),
                    age_band: r.get(5),
                    amount_band: r.get(6),
                },
                decisions: r.get(7),
                amount: r.get(8),
            })
            .collect())
    }

    fn events_by_ids(&self, ids: &[(AffiliateId, String)]) -> Result<Vec<Option<EventRecord>>> {
        let mut c = self.conn()?;
        let st = c.prepared(EVENTS_BY_IDS).map_err(backend)?;
        let (affs, keys) = id_lists(ids.iter().map(|(a, id)| (a.as_str(), id.as_str())));
        let mut found: HashMap<(String, String), EventRecord> = HashMap::new();
        for row in c.query(&st, &[&affs, &keys]).map_err(backend)? {
            let r = event_row(&row);
            found.insert((row.get(EVENT_FIELDS), r.event_id.clone()), r);
        }
        Ok(ids.iter().map(|(a, id)| found.get(&(a.as_str().to_string(), id.clone())).cloned()).collect())
    }

    fn event_by_seq(&self, a: &AffiliateId, seq: i64) -> Result<Option<EventRecord>> {
        let row = self
            .conn()?
            .query_opt(
                &format!("SELECT {EVENT_COLS} FROM event WHERE affiliate = $1 AND seq = $2"),
                &[&a.as_str(), &seq],
            )
            .map_err(backend)?;
        Ok(row.as_ref().map(event_row))
    }

    fn events_after(&self, a: &AffiliateId, after: i64, n: usize) -> Result<Vec<EventRecord>> {
        let rows = self
            .conn()?
            .query(
                &format!("SELECT {EVENT_COLS} FROM event WHERE affiliate = $1 AND seq > $2 ORDER BY seq LIMIT $3"),
                &[&a.as_str(), &after, &limit(n)],
            )
            .map_err(backend)?;
        Ok(rows.iter().map(event_row).collect())
    }

    fn event_ids(&self, a: &AffiliateId, after: i64, n: usize) -> Result<Vec<(i64, String)>> {
        let rows = self
            .conn()?
            .query(
                "SELECT seq, event_id FROM event WHERE affiliate = $1 AND seq > $2 ORDER BY seq LIMIT $3",
                &[&a.as_str(), &after, &limit(n)],
            )
            .map_err(backend)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn last_seq(&self, a: &AffiliateId) -> Result<i64> {
        Ok(self
            .conn()?
            .query_one("SELECT COALESCE(MAX(seq), 0)::BIGINT FROM event WHERE affiliate = $1", &[&a.as_str()])
            .map_err(backend)?
            .get(0))
    }

    fn event_count(&self, a: &AffiliateId) -> Result<i64> {
        Ok(self
            .conn()?
            .query_one("SELECT COUNT(*) FROM event WHERE affiliate = $1", &[&a.as_str()])
            .map_err(backend)?
            .get(0))
    }

    fn put_draft(&self, a: &AffiliateId, source: &str, now_ms: i64) -> Result<()> {
        self.conn()?
            .execute(
                "INSERT INTO ruleset_draft (affiliate, source, updated_ms) VALUES ($1, $2, $3)
                 ON CONFLICT (affiliate) DO UPDATE SET source = excluded.source, updated_ms = excluded.updated_ms",
                &[&a.as_str(), &source, &now_ms],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn draft(&self, a: &AffiliateId) -> Result<Option<String>> {
        let row = self
            .conn()?
            .query_opt("SELECT source FROM ruleset_draft WHERE affiliate = $1", &[&a.as_str()])
            .map_err(backend)?;
        Ok(row.map(|r| r.get(0)))
    }

    fn activate(&self, a: &AffiliateId, version: i64) -> Result<()> {
        self.in_tx(false, |tx| {
            let exists = tx.query_opt(
                "SELECT version FROM ruleset WHERE affiliate = $1 AND version = $2",
                &[&a.as_str(), &version],
            )?;
            if exists.is_none() {
                return Err(StoreError::NotFound(format!("ruleset version {version}")).into());
            }
            tx.execute(
                "UPDATE ruleset SET active = CASE WHEN version = $2 THEN 1 ELSE 0 END WHERE affiliate = $1",
                &[&a.as_str(), &version],
            )?;
            Ok(())
        })
    }

    fn active_ruleset(&self, a: &AffiliateId) -> Result<Option<RulesetVersion>> {
        let row = self
            .conn()?
            .query_opt(
                "SELECT version, source, published_ms, active FROM ruleset WHERE affiliate = $1 AND active = 1",
                &[&a.as_str()],
            )
            .map_err(backend)?;
        Ok(row.as_ref().map(ruleset_row))
    }

    fn ruleset_history(&self, a: &AffiliateId) -> Result<Vec<RulesetVersion>> {
        let rows = self
            .conn()?
            .query(
                "SELECT version, source, published_ms, active FROM ruleset WHERE affiliate = $1 ORDER BY version DESC",
                &[&a.as_str()],
            )
            .map_err(backend)?;
        Ok(rows.iter().map(ruleset_row).collect())
    }

    fn save_snapshot(&self, a: &AffiliateId, part: u32, seq: i64, state: &[u8], now_ms: i64) -> Result<()> {
        self.conn()?
            .execute(
                "INSERT INTO feature_snapshot_part (affiliate, part, seq, state, saved_ms) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (affiliate, part) DO UPDATE SET seq = excluded.seq, state = excluded.state, saved_ms = excluded.saved_ms",
                &[&a.as_str(), &i64::from(part), &seq, &state, &now_ms],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn load_snapshot(&self, a: &AffiliateId) -> Result<Vec<store::SnapshotPart>> {
        let mut c = self.conn()?;
        let whole = c
            .query_opt("SELECT seq, state FROM feature_snapshot WHERE affiliate = $1", &[&a.as_str()])
            .map_err(backend)?;
        let mut out: Vec<store::SnapshotPart> =
            whole.map(|r| store::SnapshotPart { part: None, seq: r.get(0), state: r.get(1) }).into_iter().collect();
        let rows = c
            .query(
                "SELECT part, seq, state FROM feature_snapshot_part WHERE affiliate = $1 ORDER BY part",
                &[&a.as_str()],
            )
            .map_err(backend)?;
        for r in &rows {
            let part: i64 = r.get(0);
            let part = u32::try_from(part)
                .map_err(|_| StoreError::Backend(format!("snapshot part {part} of {} is out of range", a.as_str())))?;
            out.push(store::SnapshotPart { part: Some(part), seq: r.get(1), state: r.get(2) });
        }
        Ok(out)
    }

    fn upsert_report(&self, a: &AffiliateId, r: &IndicatorReport) -> Result<()> {
        self.upsert_reports(a, std::slice::from_ref(r))
    }

    fn upsert_reports(&self, a: &AffiliateId, reports: &[IndicatorReport]) -> Result<()> {
        store::in_transaction(self, |tx| tx.upsert_reports(a, reports))
    }

    fn all_reports(&self) -> Result<Vec<IndicatorReport>> {
        let rows = self
            .conn()?
            .query(
                "SELECT digest, kind, affiliate, typology, status, reports, first_ms, last_ms FROM indicator_report",
                &[],
            )
            .map_err(backend)?;
        rows.iter().map(report_row).collect()
    }

    fn put_protection(&self, a: &AffiliateId, subject: &str, settings: &str, now_ms: i64) -> Result<()> {
        self.conn()?
            .execute(
                "INSERT INTO protection (affiliate, subject, settings, updated_ms) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (affiliate, subject) DO UPDATE SET settings = excluded.settings,
                   updated_ms = excluded.updated_ms",
                &[&a.as_str(), &subject, &settings, &now_ms],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn protections(&self, a: &AffiliateId) -> Result<Vec<(String, String)>> {
        let rows = self
            .conn()?
            .query("SELECT subject, settings FROM protection WHERE affiliate = $1 ORDER BY subject", &[&a.as_str()])
            .map_err(backend)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn cancel_hold(&self, a: &AffiliateId, seq: i64, now_ms: i64) -> Result<bool> {
        let n = self
            .conn()?
            .execute(
                "INSERT INTO hold_cancel (affiliate, seq, cancelled_ms) VALUES ($1, $2, $3)
                 ON CONFLICT (affiliate, seq) DO NOTHING",
                &[&a.as_str(), &seq, &now_ms],
            )
            .map_err(backend)?;
        Ok(n == 1)
    }

    fn cancelled_holds(&self, a: &AffiliateId) -> Result<Vec<(i64, i64)>> {
        let rows = self
            .conn()?
            .query("SELECT seq, cancelled_ms FROM hold_cancel WHERE affiliate = $1 ORDER BY seq", &[&a.as_str()])
            .map_err(backend)?;
        Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
    }

    fn report(&self, receipt: &str) -> Result<Option<ReportRow>> {
        let row = self
            .conn()?
            .query_opt(&format!("SELECT {REPORT_COLS} FROM report WHERE receipt = $1"), &[&receipt])
            .map_err(backend)?;
        row.as_ref().map(report_row_of).transpose()
    }

    fn case_reports(&self, case_id: i64) -> Result<Vec<ReportRow>> {
        let rows = self
            .conn()?
            .query(
                &format!("SELECT {REPORT_COLS} FROM report WHERE case_id = $1 ORDER BY created_ms, receipt"),
                &[&case_id],
            )
            .map_err(backend)?;
        rows.iter().map(report_row_of).collect()
    }

    fn case(&self, id: i64) -> Result<Option<CaseRow>> {
        let row = self
            .conn()?
            .query_opt(&format!("SELECT {CASE_COLS} FROM fraud_case WHERE id = $1"), &[&id])
            .map_err(backend)?;
        row.as_ref().map(case_row).transpose()
    }

    fn open_cases(&self, n: usize) -> Result<Vec<CaseRow>> {
        let rows = self
            .conn()?
            .query(
                &format!(
                    "SELECT {CASE_COLS} FROM fraud_case WHERE state != 'closed' ORDER BY priority DESC, opened_ms, id LIMIT $1"
                ),
                &[&limit(n)],
            )
            .map_err(backend)?;
        rows.iter().map(case_row).collect()
    }

    fn cases_opened(&self, from_ms: i64, to_ms: i64) -> Result<Vec<CaseRow>> {
        let rows = self
            .conn()?
            .query(
                &format!(
                    "SELECT {CASE_COLS} FROM fraud_case WHERE opened_ms >= $1 AND opened_ms < $2 ORDER BY opened_ms, id"
                ),
                &[&from_ms, &to_ms],
            )
            .map_err(backend)?;
        rows.iter().map(case_row).collect()
    }

    fn audit_log(&self) -> Result<Vec<AuditRow>> {
        let rows = self
            .conn()?
            .query("SELECT seq, at_ms, actor, case_id, action, detail, prev, hash FROM audit ORDER BY seq", &[])
            .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|r| AuditRow {
                seq: r.get(0),
                entry: AuditEntry {
                    at_ms: r.get(1),
                    actor: r.get(2),
                    case_id: r.get(3),
                    action: r.get(4),
                    detail: r.get(5),
                },
                prev: r.get(6),
                hash: r.get(7),
            })
            .collect())
    }

    fn actions_due(&self, now_ms: i64, n: usize) -> Result<Vec<ActionRow>> {
        let rows = self
            .conn()?
            .query(
                &format!(
                    "SELECT {ACTION_COLS} FROM action WHERE delivered_ms IS NULL AND dead_ms IS NULL AND next_ms <= $1
                     ORDER BY next_ms, id LIMIT $2"
                ),
                &[&now_ms, &limit(n)],
            )
            .map_err(backend)?;
        Ok(rows.iter().map(action_row).collect())
    }

    fn action_attempted(&self, id: &str, outcome: ActionOutcome, now_ms: i64) -> Result<()> {
        let mut c = self.conn()?;
        let n = match outcome {
            ActionOutcome::Delivered => c.execute(
                "UPDATE action SET attempts = attempts + 1, delivered_ms = $2, last_error = NULL WHERE id = $1",
                &[&id, &now_ms],
            ),
            ActionOutcome::Retry { next_ms, error } => c.execute(
                "UPDATE action SET attempts = attempts + 1, next_ms = $2, last_error = $3 WHERE id = $1",
                &[&id, &next_ms, &error],
            ),
            ActionOutcome::Dead { error } => c.execute(
                "UPDATE action SET attempts = attempts + 1, dead_ms = $2, last_error = $3 WHERE id = $1",
                &[&id, &now_ms, &error],
            ),
        }
        .map_err(backend)?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("action {id}")));
        }
        Ok(())
    }

    fn dead_actions(&self, n: usize) -> Result<Vec<ActionRow>> {
        let rows = self
            .conn()?
            .query(
                &format!(
                    "SELECT {ACTION_COLS} FROM action WHERE dead_ms IS NOT NULL ORDER BY dead_ms DESC, id LIMIT $1"
                ),
                &[&limit(n)],
            )
            .map_err(backend)?;
        Ok(rows.iter().map(action_row).collect())
    }

    fn action(&self, id: &str) -> Result<Option<ActionRow>> {
        let row = self
            .conn()?
            .query_opt(&format!("SELECT {ACTION_COLS} FROM action WHERE id = $1"), &[&id])
            .map_err(backend)?;
        Ok(row.as_ref().map(action_row))
    }

    fn put_webhook(&self, a: &AffiliateId, url: &str, secret: &str, now_ms: i64) -> Result<()> {
        self.conn()?
            .execute(
                "INSERT INTO webhook (affiliate, url, secret, updated_ms) VALUES ($1, $2, $3, $4)
                 ON CONFLICT (affiliate) DO UPDATE SET url = excluded.url, secret = excluded.secret,
                   updated_ms = excluded.updated_ms",
                &[&a.as_str(), &url, &secret, &now_ms],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn webhook(&self, a: &AffiliateId) -> Result<Option<(String, String)>> {
        let row = self
            .conn()?
            .query_opt("SELECT url, secret FROM webhook WHERE affiliate = $1", &[&a.as_str()])
            .map_err(backend)?;
        Ok(row.map(|r| (r.get(0), r.get(1))))
    }

    fn set_holdings(&self, a: &AffiliateId, keys: &[String]) -> Result<()> {
        self.in_tx(true, |tx| {
            tx.execute("DELETE FROM holder WHERE affiliate = $1", &[&a.as_str()])?;
            for k in keys {
                if let Some(o) = tx.query_opt("SELECT affiliate FROM holder WHERE key = $1", &[k])? {
                    let o: String = o.get(0);
                    return Err(StoreError::Conflict(format!("{k} is held by {o}")).into());
                }
                tx.execute("INSERT INTO holder (key, affiliate) VALUES ($1, $2)", &[k, &a.as_str()])?;
            }
            Ok(())
        })
    }

    fn holder(&self, key: &str) -> Result<Option<AffiliateId>> {
        let row = self.conn()?.query_opt("SELECT affiliate FROM holder WHERE key = $1", &[&key]).map_err(backend)?;
        Ok(row.map(|r| AffiliateId(r.get(0))))
    }

    fn holdings(&self, a: &AffiliateId) -> Result<Vec<String>> {
        let rows = self
            .conn()?
            .query("SELECT key FROM holder WHERE affiliate = $1 ORDER BY key", &[&a.as_str()])
            .map_err(backend)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    /// PostgreSQL keeps its own write-ahead log and checkpoints; a committed transaction is
    /// already durable, so there is nothing to fold in.
    fn checkpoint(&self) -> Result<()> {
        Ok(())
    }

    fn outbox_pending(&self, n: usize) -> Result<Vec<OutboxItem>> {
        let rows = self
            .conn()?
            .query(
                "SELECT id, affiliate, topic, payload FROM outbox WHERE delivered_ms IS NULL ORDER BY id LIMIT $1",
                &[&limit(n)],
            )
            .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|r| OutboxItem { id: r.get(0), affiliate: AffiliateId(r.get(1)), topic: r.get(2), payload: r.get(3) })
            .collect())
    }

    fn outbox_done(&self, ids: &[i64], now_ms: i64) -> Result<()> {
        self.in_tx(false, |tx| {
            let st = tx.prepare("UPDATE outbox SET delivered_ms = $2 WHERE id = $1")?;
            for id in ids {
                tx.execute(&st, &[id, &now_ms])?;
            }
            Ok(())
        })
    }

    fn rule_days(&self, from_day: i64, to_day: i64) -> Result<Vec<store::RuleRow>> {
        let rows = self
            .conn()?
            .query(
                "SELECT affiliate, day, rule, hits FROM rule_day WHERE day BETWEEN $1 AND $2 ORDER BY day, rule, affiliate",
                &[&from_day, &to_day],
            )
            .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|r| store::RuleRow { affiliate: AffiliateId(r.get(0)), day: r.get(1), rule: r.get(2), hits: r.get(3) })
            .collect())
    }

    fn add_sightings(&self, cells: &[(AffiliateId, store::ClusterKey, i64)]) -> Result<()> {
        if cells.is_empty() {
            return Ok(());
        }
        let (days, kinds, values, affs, n, zero) = cluster_columns(cells, true);
        self.conn()?.execute(ADD_CLUSTERS, &[&days, &kinds, &values, &affs, &n, &zero]).map_err(backend)?;
        Ok(())
    }

    fn cluster_days(&self, from_day: i64, to_day: i64) -> Result<Vec<store::ClusterRow>> {
        let rows = self
            .conn()?
            .query(
                "SELECT affiliate, day, kind, value, decisions, reports FROM cluster_day
                 WHERE day BETWEEN $1 AND $2 ORDER BY day, kind, value, affiliate",
                &[&from_day, &to_day],
            )
            .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|r| store::ClusterRow {
                affiliate: AffiliateId(r.get(0)),
                key: store::ClusterKey { day: r.get(1), kind: r.get(2), value: r.get(3) },
                decisions: r.get(4),
                reports: r.get(5),
            })
            .collect())
    }

    fn campaigns(&self) -> Result<Vec<CampaignRow>> {
        let rows =
            self.conn()?.query(&format!("SELECT {CAMPAIGN_COLS} FROM campaign ORDER BY id"), &[]).map_err(backend)?;
        Ok(rows.iter().map(campaign_row).collect())
    }

    fn campaign_subjects(&self, campaign: &str, a: &AffiliateId) -> Result<Vec<String>> {
        let rows = self
            .conn()?
            .query(
                "SELECT subject FROM campaign_member WHERE campaign = $1 AND affiliate = $2",
                &[&campaign, &a.as_str()],
            )
            .map_err(backend)?;
        Ok(rows.iter().map(|r| r.get(0)).collect())
    }

    fn campaign_arms(&self, campaign: &str) -> Result<Vec<ArmSize>> {
        let rows = self
            .conn()?
            .query(
                "SELECT affiliate, control, COUNT(*) FROM campaign_member WHERE campaign = $1
                 GROUP BY affiliate, control ORDER BY affiliate, control",
                &[&campaign],
            )
            .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|r| ArmSize { affiliate: AffiliateId(r.get(0)), control: r.get::<_, i16>(1) != 0, users: r.get(2) })
            .collect())
    }

    fn campaign_outcomes(&self, campaign: &str, until_ms: i64) -> Result<Vec<MemberOutcome>> {
        let rows = self
            .conn()?
            .query(&store::columns::campaign_outcomes("$1", "$2"), &[&campaign, &until_ms])
            .map_err(backend)?;
        Ok(rows
            .iter()
            .map(|r| MemberOutcome {
                affiliate: AffiliateId(r.get(0)),
                subject: r.get(1),
                control: r.get::<_, i16>(2) != 0,
                reports: r.get(3),
                won: r.get(4),
            })
            .collect())
    }
}

/// A unit of work inside a PostgreSQL transaction. The repositories' methods return the
/// store's errors; a PostgreSQL error is also kept in `failed`, so that the unit can be retried
/// whole when it was a serialisation failure.
struct PgTx<'a, 'b> {
    tx: &'a mut postgres::Transaction<'b>,
    failed: Option<postgres::Error>,
}

impl PgTx<'_, '_> {
    fn pg<T>(&mut self, r: std::result::Result<T, postgres::Error>) -> Result<T> {
        r.map_err(|e| {
            let s = backend_ref(&e);
            self.failed.get_or_insert(e);
            s
        })
    }
}

fn backend_ref(e: &postgres::Error) -> StoreError {
    // The driver's own text for a server error is only "db error"; the server's says what.
    let text = match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    };
    match e.code() {
        Some(c) if *c == postgres::error::SqlState::UNIQUE_VIOLATION => StoreError::Conflict(text),
        _ => StoreError::Backend(text),
    }
}

impl CaseRepo for PgTx<'_, '_> {
    fn case(&mut self, id: i64) -> Result<Option<CaseRow>> {
        let r = self.tx.query_opt(&format!("SELECT {CASE_COLS} FROM fraud_case WHERE id = $1"), &[&id]);
        self.pg(r)?.as_ref().map(case_row).transpose()
    }

    fn cases_linked(&mut self, digests: &[[u8; 32]]) -> Result<Vec<CaseRow>> {
        let mut ids: Vec<i64> = Vec::new();
        for d in digests {
            let r = self.tx.query_opt("SELECT case_id FROM case_indicator WHERE digest = $1", &[&&d[..]]);
            if let Some(row) = self.pg(r)? {
                ids.push(row.get(0));
            }
        }
        ids.sort_unstable();
        ids.dedup();
        let mut out = Vec::with_capacity(ids.len());
        for id in ids {
            out.extend(self.case(id)?);
        }
        Ok(out)
    }

    fn insert_case(&mut self, c: &CaseRow) -> Result<i64> {
        let r = with_case_values(c, |v| {
            self.tx.query_one(
                "INSERT INTO fraud_case (state, outcome, priority, assignee, typology, money_at_risk, reporting, holding,
                   linked_case, opened_ms, updated_ms, sla_due_ms, first_action_ms, closed_ms, body)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15) RETURNING id",
                v,
            )
        });
        Ok(self.pg(r)?.get(0))
    }

    fn update_case(&mut self, c: &CaseRow, expected_updated_ms: i64) -> Result<()> {
        let r = with_case_values(c, |v| {
            let mut all = v.to_vec();
            all.extend([&c.id as &(dyn ToSql + Sync), &expected_updated_ms]);
            self.tx.execute(
                "UPDATE fraud_case SET state = $1, outcome = $2, priority = $3, assignee = $4, typology = $5,
                   money_at_risk = $6, reporting = $7, holding = $8, linked_case = $9, opened_ms = $10,
                   updated_ms = $11, sla_due_ms = $12, first_action_ms = $13, closed_ms = $14, body = $15
                 WHERE id = $16 AND updated_ms = $17",
                &all,
            )
        });
        if self.pg(r)? != 1 {
            return Err(StoreError::Conflict(format!("case {} was changed meanwhile; reload it", c.id)));
        }
        Ok(())
    }

    fn link(&mut self, case_id: i64, digests: &[[u8; 32]]) -> Result<()> {
        for d in digests {
            let r = self.tx.execute(
                "INSERT INTO case_indicator (digest, case_id) VALUES ($1, $2)
                 ON CONFLICT (digest) DO UPDATE SET case_id = excluded.case_id",
                &[&&d[..], &case_id],
            );
            self.pg(r)?;
        }
        Ok(())
    }

    fn insert_report(&mut self, r: &ReportRow) -> Result<()> {
        let res = self.tx.execute(
            &format!("INSERT INTO report ({REPORT_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"),
            &[
                &r.receipt,
                &&r.secret_hash[..],
                &r.source,
                &r.kind,
                &r.case_id,
                &r.priority,
                &r.body,
                &r.created_ms,
                &r.subject,
                &r.amount,
            ],
        );
        self.pg(res)?;
        Ok(())
    }

    fn case_reports(&mut self, case_id: i64) -> Result<Vec<ReportRow>> {
        let r = self.tx.query(
            &format!("SELECT {REPORT_COLS} FROM report WHERE case_id = $1 ORDER BY created_ms, receipt"),
            &[&case_id],
        );
        self.pg(r)?.iter().map(report_row_of).collect()
    }

    fn count_reported(&mut self, a: &AffiliateId, keys: &[store::ClusterKey]) -> Result<()> {
        // One row per cell: the same indicator named twice counts twice.
        let mut cells: std::collections::BTreeMap<&store::ClusterKey, i64> = Default::default();
        for k in keys {
            *cells.entry(k).or_default() += 1;
        }
        let cells: Vec<_> = cells.into_iter().map(|(k, n)| (a.clone(), k.clone(), n)).collect();
        if cells.is_empty() {
            return Ok(());
        }
        let (days, kinds, values, affs, zero, n) = cluster_columns(&cells, false);
        let r = self.tx.execute(ADD_CLUSTERS, &[&days, &kinds, &values, &affs, &zero, &n]);
        self.pg(r)?;
        Ok(())
    }
}

impl AuditRepo for PgTx<'_, '_> {
    fn append_audit(&mut self, entries: &[AuditEntry]) -> Result<()> {
        let r = self.tx.query_opt("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", &[]);
        let (mut seq, mut prev): (i64, Vec<u8>) = match self.pg(r)? {
            Some(row) => (row.get(0), row.get(1)),
            None => (0, vec![0u8; 32]),
        };
        for e in entries {
            seq += 1;
            let hash = audit_hash(&prev, seq, e);
            let r = self.tx.execute(
                "INSERT INTO audit (seq, at_ms, actor, case_id, action, detail, prev, hash) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
                &[&seq, &e.at_ms, &e.actor, &e.case_id, &e.action, &e.detail, &prev, &&hash[..]],
            );
            self.pg(r)?;
            prev = hash.to_vec();
        }
        Ok(())
    }
}

impl RegistryRepo for PgTx<'_, '_> {
    fn upsert_reports(&mut self, a: &AffiliateId, reports: &[IndicatorReport]) -> Result<()> {
        if reports.iter().any(|r| &r.affiliate != a) {
            return Err(StoreError::Conflict("an affiliate can only write its own reports".into()));
        }
        for r in reports {
            let res = self.tx.execute(
                "INSERT INTO indicator_report (digest, kind, affiliate, typology, status, reports, first_ms, last_ms)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8)
                 ON CONFLICT (digest, affiliate) DO UPDATE SET typology = excluded.typology,
                   status = excluded.status, reports = excluded.reports, last_ms = excluded.last_ms",
                &[&&r.digest[..], &r.kind, &a.as_str(), &r.typology, &r.status, &r.reports, &r.first_ms, &r.last_ms],
            );
            self.pg(res)?;
        }
        Ok(())
    }
}

impl ActionRepo for PgTx<'_, '_> {
    fn queue_actions(&mut self, actions: &[ActionRow]) -> Result<()> {
        for a in actions {
            let r = self.tx.execute(
                "INSERT INTO action (id, affiliate, kind, payload, created_ms, attempts, next_ms) VALUES ($1, $2, $3, $4, $5, 0, $6)
                 ON CONFLICT (id) DO NOTHING",
                &[&a.id, &a.affiliate.as_str(), &a.kind, &a.payload, &a.created_ms, &a.next_ms],
            );
            self.pg(r)?;
        }
        Ok(())
    }

    fn holder(&mut self, key: &str) -> Result<Option<AffiliateId>> {
        let r = self.tx.query_opt("SELECT affiliate FROM holder WHERE key = $1", &[&key]);
        Ok(self.pg(r)?.map(|row| AffiliateId(row.get(0))))
    }
}

impl CampaignRepo for PgTx<'_, '_> {
    fn insert_campaign(&mut self, c: &CampaignRow) -> Result<bool> {
        let r = self.tx.execute(
            &format!("INSERT INTO campaign ({CAMPAIGN_COLS}) VALUES ($1, $2, $3, $4) ON CONFLICT (id) DO NOTHING"),
            &[&c.id, &c.body, &c.created_ms, &c.updated_ms],
        );
        Ok(self.pg(r)? == 1)
    }

    fn update_campaign(&mut self, id: &str, body: &str, updated_ms: i64) -> Result<()> {
        let r =
            self.tx.execute("UPDATE campaign SET body = $2, updated_ms = $3 WHERE id = $1", &[&id, &body, &updated_ms]);
        if self.pg(r)? == 0 {
            return Err(StoreError::NotFound(format!("campaign {id}")));
        }
        Ok(())
    }

    fn enroll(&mut self, m: &MemberRow) -> Result<bool> {
        let r = self.tx.execute(
            "INSERT INTO campaign_member (campaign, affiliate, subject, control, enrolled_ms) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT DO NOTHING",
            &[&m.campaign, &m.affiliate.as_str(), &m.subject, &i16::from(m.control), &m.enrolled_ms],
        );
        Ok(self.pg(r)? == 1)
    }
}

impl RulesetRepo for PgTx<'_, '_> {
    fn latest_version(&mut self, a: &AffiliateId) -> Result<i64> {
        let r = self
            .tx
            .query_one("SELECT COALESCE(MAX(version), 0)::BIGINT FROM ruleset WHERE affiliate = $1", &[&a.as_str()]);
        Ok(self.pg(r)?.get(0))
    }

    fn publish(&mut self, a: &AffiliateId, version: i64, source: &str, now_ms: i64) -> Result<()> {
        let r = self.tx.execute("UPDATE ruleset SET active = 0 WHERE affiliate = $1 AND active = 1", &[&a.as_str()]);
        self.pg(r)?;
        let r = self.tx.execute(
            "INSERT INTO ruleset (affiliate, version, source, published_ms, active) VALUES ($1, $2, $3, $4, 1)",
            &[&a.as_str(), &version, &source, &now_ms],
        );
        self.pg(r)?;
        Ok(())
    }
}

const PERSON_COLS: &str =
    "username, affiliate, role, password_hash, disabled, failed_logins, locked_until_ms, created_ms,
     updated_ms, totp_secret, totp_step";

fn person_row(r: &Row) -> PersonRow {
    PersonRow {
        username: r.get(0),
        affiliate: AffiliateId(r.get(1)),
        role: r.get(2),
        password_hash: r.get(3),
        disabled: r.get(4),
        failed_logins: r.get(5),
        locked_until_ms: r.get(6),
        created_ms: r.get(7),
        updated_ms: r.get(8),
        totp_secret: r.get(9),
        totp_step: r.get(10),
    }
}

impl People for PgStore {
    fn insert_person(&self, p: &PersonRow) -> Result<bool> {
        let n = self
            .conn()?
            .execute(
                &format!(
                    "INSERT INTO person ({PERSON_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)
                     ON CONFLICT (username) DO NOTHING"
                ),
                &[
                    &p.username,
                    &p.affiliate.as_str(),
                    &p.role,
                    &p.password_hash,
                    &p.disabled,
                    &p.failed_logins,
                    &p.locked_until_ms,
                    &p.created_ms,
                    &p.updated_ms,
                    &p.totp_secret,
                    &p.totp_step,
                ],
            )
            .map_err(backend)?;
        Ok(n == 1)
    }

    fn person(&self, username: &str) -> Result<Option<PersonRow>> {
        let row = self
            .conn()?
            .query_opt(&format!("SELECT {PERSON_COLS} FROM person WHERE username = $1"), &[&username])
            .map_err(backend)?;
        Ok(row.as_ref().map(person_row))
    }

    fn people(&self, a: Option<&AffiliateId>) -> Result<Vec<PersonRow>> {
        let a = a.map(|a| a.as_str().to_string());
        let rows = self
            .conn()?
            .query(
                &format!("SELECT {PERSON_COLS} FROM person WHERE $1::TEXT IS NULL OR affiliate = $1 ORDER BY username"),
                &[&a],
            )
            .map_err(backend)?;
        Ok(rows.iter().map(person_row).collect())
    }

    fn update_person(&self, p: &PersonRow) -> Result<()> {
        let n = self
            .conn()?
            .execute(
                "UPDATE person SET role = $2, password_hash = $3, disabled = $4, updated_ms = $5, totp_secret = $6
                 WHERE username = $1",
                &[&p.username, &p.role, &p.password_hash, &p.disabled, &p.updated_ms, &p.totp_secret],
            )
            .map_err(backend)?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("person {}", p.username)));
        }
        Ok(())
    }

    fn login_failed(&self, username: &str, lock_until: &dyn Fn(i64) -> i64) -> Result<i64> {
        self.in_tx(false, |tx| {
            let Some(row) = tx.query_opt(
                "UPDATE person SET failed_logins = failed_logins + 1 WHERE username = $1 RETURNING failed_logins",
                &[&username],
            )?
            else {
                return Ok(0);
            };
            let failed: i64 = row.get(0);
            tx.execute(
                "UPDATE person SET locked_until_ms = $2 WHERE username = $1",
                &[&username, &lock_until(failed)],
            )?;
            Ok(failed)
        })
    }

    fn login_succeeded(&self, username: &str) -> Result<()> {
        self.conn()?
            .execute("UPDATE person SET failed_logins = 0, locked_until_ms = 0 WHERE username = $1", &[&username])
            .map_err(backend)?;
        Ok(())
    }

    fn use_totp_step(&self, username: &str, step: i64) -> Result<bool> {
        let n = self
            .conn()?
            .execute("UPDATE person SET totp_step = $2 WHERE username = $1 AND totp_step < $2", &[&username, &step])
            .map_err(backend)?;
        Ok(n == 1)
    }

    fn insert_session(&self, s: &SessionRow) -> Result<()> {
        self.conn()?
            .execute(
                "INSERT INTO console_session (token_hash, username, csrf, created_ms, seen_ms) VALUES ($1, $2, $3, $4, $5)",
                &[&&s.token_hash[..], &s.username, &s.csrf, &s.created_ms, &s.seen_ms],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn session(&self, token_hash: &[u8; 32]) -> Result<Option<SessionRow>> {
        let row = self
            .conn()?
            .query_opt(
                "SELECT token_hash, username, csrf, created_ms, seen_ms FROM console_session WHERE token_hash = $1",
                &[&&token_hash[..]],
            )
            .map_err(backend)?;
        Ok(row.map(|r| {
            let h: Vec<u8> = r.get(0);
            SessionRow {
                token_hash: h.try_into().unwrap_or([0; 32]),
                username: r.get(1),
                csrf: r.get(2),
                created_ms: r.get(3),
                seen_ms: r.get(4),
            }
        }))
    }

    fn touch_session(&self, token_hash: &[u8; 32], seen_ms: i64) -> Result<()> {
        self.conn()?
            .execute(
                "UPDATE console_session SET seen_ms = GREATEST(seen_ms, $2) WHERE token_hash = $1",
                &[&&token_hash[..], &seen_ms],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn delete_session(&self, token_hash: &[u8; 32]) -> Result<()> {
        self.conn()?
            .execute("DELETE FROM console_session WHERE token_hash = $1", &[&&token_hash[..]])
            .map_err(backend)?;
        Ok(())
    }

    fn delete_sessions(&self, username: &str) -> Result<usize> {
        let n =
            self.conn()?.execute("DELETE FROM console_session WHERE username = $1", &[&username]).map_err(backend)?;
        Ok(n as usize)
    }
}

impl Desk for PgStore {
    fn recent_reports(&self, n: usize) -> Result<Vec<ReportRow>> {
        let rows = self
            .conn()?
            .query(
                &format!("SELECT {REPORT_COLS} FROM report ORDER BY created_ms DESC, receipt DESC LIMIT $1"),
                &[&limit(n)],
            )
            .map_err(backend)?;
        rows.iter().map(report_row_of).collect()
    }

    fn actions_with_prefix(&self, prefix: &str, n: usize) -> Result<Vec<ActionRow>> {
        // LIKE with the prefix escaped: byte-wise whatever the database's collation (a range
        // over `id` would follow a locale's order). It uses the key's index under the C
        // collation; under another it scans the action table.
        let pattern: String = prefix
            .chars()
            .flat_map(|c| if matches!(c, '%' | '_' | '\\') { vec!['\\', c] } else { vec![c] })
            .chain(['%'])
            .collect();
        let rows = self
            .conn()?
            .query(
                &format!(
                    "SELECT {ACTION_COLS} FROM action WHERE id LIKE $1 ESCAPE '\\' ORDER BY id COLLATE \"C\" LIMIT $2"
                ),
                &[&pattern, &limit(n)],
            )
            .map_err(backend)?;
        Ok(rows.iter().map(action_row).collect())
    }

    fn requeue_action(&self, id: &str, now_ms: i64) -> Result<bool> {
        let n = self
            .conn()?
            .execute(
                "UPDATE action SET dead_ms = NULL, attempts = 0, next_ms = $2 WHERE id = $1 AND dead_ms IS NOT NULL",
                &[&id, &now_ms],
            )
            .map_err(backend)?;
        Ok(n == 1)
    }

    fn attention_cases(&self, now_ms: i64, n: usize) -> Result<Vec<CaseRow>> {
        let rows = self
            .conn()?
            .query(
                &format!(
                    "SELECT {CASE_COLS} FROM fraud_case WHERE state <> 'closed' AND first_action_ms IS NULL AND sla_due_ms < $1
                     UNION ALL SELECT {CASE_COLS} FROM fraud_case WHERE state = 'relief'
                     ORDER BY sla_due_ms, id LIMIT $2"
                ),
                &[&now_ms, &limit(n)],
            )
            .map_err(backend)?;
        rows.iter().map(case_row).collect()
    }

    fn open_case_count(&self) -> Result<i64> {
        let row =
            self.conn()?.query_one("SELECT COUNT(*) FROM fraud_case WHERE state <> 'closed'", &[]).map_err(backend)?;
        Ok(row.get(0))
    }

    fn dead_action_count(&self) -> Result<i64> {
        let row =
            self.conn()?.query_one("SELECT COUNT(*) FROM action WHERE dead_ms IS NOT NULL", &[]).map_err(backend)?;
        Ok(row.get(0))
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn event_statements_read_the_shared_columns() {
        // `event_row` reads the columns in the order `EVENT_COLS` names them.
        assert!(super::EVENT_BY_ID.contains(super::EVENT_COLS));
        assert!(super::EVENTS_BY_IDS.contains(&format!("{},\n     affiliate FROM", super::EVENT_COLS)));
        assert_eq!(super::EVENT_COLS.split(", ").count(), super::EVENT_FIELDS);
    }
}
