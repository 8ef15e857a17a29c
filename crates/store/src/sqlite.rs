//! The embedded backend: one SQLite file in WAL mode with `synchronous = FULL`, so a commit
//! that returned survives `kill -9` and power loss. One connection writes (callers batch their
//! writes into one transaction: group commit); a few connections read concurrently.
//!
//! SQLite was chosen over pure-Rust KV stores because the data is relational (events by id,
//! by decision, by sequence; rulesets by version), it has a proven WAL with group-commit
//! friendly transactions, and the same schema maps one-to-one onto PostgreSQL later.

use crate::columns::{ACTION_COLS, CAMPAIGN_COLS, CASE_COLS, EVENT_COLS, REPORT_COLS};
use crate::desk::{Desk, prefix_end};
use crate::people::{People, PersonRow, SessionRow};
use crate::{
    ActionOutcome, ActionRepo, ActionRow, Affiliate, ApiKey, ArmSize, AuditEntry, AuditRepo, AuditRow, CampaignRepo,
    CampaignRow, CaseRepo, CaseRow, Committed, EventRecord, IndicatorReport, MemberOutcome, MemberRow, OutboxItem,
    RegistryRepo, ReportRow, Result, RulesetRepo, RulesetVersion, Scope, Store, StoreError, Tx, Write, audit_hash,
};
use domain::{AffiliateId, CaseOutcome, CaseState};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Migrations, applied in order; `PRAGMA user_version` records how many ran.
const MIGRATIONS: &[&str] = &[
    include_str!("../migrations/sqlite/0001_init.sql"),
    include_str!("../migrations/sqlite/0002_indicators.sql"),
    include_str!("../migrations/sqlite/0003_protection.sql"),
    include_str!("../migrations/sqlite/0004_cases.sql"),
    include_str!("../migrations/sqlite/0005_typed_cases.sql"),
    include_str!("../migrations/sqlite/0006_trends.sql"),
    include_str!("../migrations/sqlite/0007_campaigns.sql"),
    include_str!("../migrations/sqlite/0008_clusters.sql"),
    include_str!("../migrations/sqlite/0009_rules.sql"),
    include_str!("../migrations/sqlite/0010_people.sql"),
    include_str!("../migrations/sqlite/0011_snapshot_parts.sql"),
];

/// Readers kept open for concurrent reads.
const READERS: usize = 4;

/// The embedded SQLite store.
pub struct SqliteStore {
    writer: Mutex<Connection>,
    readers: Vec<Mutex<Connection>>,
    /// Tells the checkpoint thread to stop; set on drop.
    stop: Arc<AtomicBool>,
    checkpointer: Option<std::thread::JoinHandle<()>>,
    /// The last sequence number stored per affiliate, learnt once and kept up to date by
    /// `commit` (the only writer of events; the data directory's lock keeps other processes
    /// out). Reading `max(seq)` in every commit cost a statement SQLite prepared again each
    /// time (its plan depends on the bound affiliate), 2 % of a server's CPU under load.
    last_seq: Mutex<std::collections::HashMap<AffiliateId, i64>>,
}

impl Drop for SqliteStore {
    /// Stops the checkpoint thread, then folds the whole WAL into the database file so a
    /// closed store is one self-contained file.
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(h) = self.checkpointer.take() {
            let _ = h.join();
        }
        let _ = lock(&self.writer).query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |_| Ok(()));
    }
}

fn backend(e: rusqlite::Error) -> StoreError {
    match &e {
        rusqlite::Error::FromSqlConversionFailure(..) => StoreError::Corrupt(e.to_string()),
        rusqlite::Error::SqliteFailure(f, msg) if f.code == rusqlite::ErrorCode::ConstraintViolation => {
            StoreError::Conflict(msg.clone().unwrap_or_else(|| e.to_string()))
        }
        _ => StoreError::Backend(e.to_string()),
    }
}

/// An immediate transaction begun and ended by cached statements; rolled back when dropped
/// uncommitted.
struct Immediate<'c> {
    c: &'c Connection,
    done: bool,
}

impl<'c> Immediate<'c> {
    fn begin(c: &'c Connection) -> Result<Immediate<'c>> {
        c.prepare_cached("BEGIN IMMEDIATE").and_then(|mut s| s.execute([])).map_err(backend)?;
        Ok(Immediate { c, done: false })
    }

    fn commit(mut self) -> Result<()> {
        self.c.prepare_cached("COMMIT").and_then(|mut s| s.execute([])).map_err(backend)?;
        self.done = true;
        Ok(())
    }
}

impl std::ops::Deref for Immediate<'_> {
    type Target = Connection;

    fn deref(&self) -> &Connection {
        self.c
    }
}

impl Drop for Immediate<'_> {
    fn drop(&mut self) {
        if !self.done {
            // A failed write or commit: undo it (this fails only if SQLite already rolled back).
            let _ = self.c.prepare_cached("ROLLBACK").and_then(|mut s| s.execute([]));
        }
    }
}

fn lock(m: &Mutex<Connection>) -> MutexGuard<'_, Connection> {
    // A panic while holding a connection leaves SQLite consistent (the transaction rolls
    // back when dropped), so a poisoned lock is safe to reuse.
    m.lock().unwrap_or_else(|p| p.into_inner())
}

fn open(path: &Path) -> Result<Connection> {
    let c = Connection::open(path).map_err(backend)?;
    // 16 KiB pages hold several events with their decisions (about 2 KiB each) without
    // overflow pages; it only takes effect when the file is created, before WAL is enabled.
    c.pragma_update(None, "page_size", 16_384).map_err(backend)?;
    c.pragma_update(None, "journal_mode", "WAL").map_err(backend)?;
    c.pragma_update(None, "synchronous", "FULL").map_err(backend)?;
    // 64 MiB of page cache per connection keeps the id index's hot pages in memory; fewer,
    // larger checkpoints keep the writer's commits short.
    c.pragma_update(None, "cache_size", -65_536).map_err(backend)?;
    c.pragma_update(None, "temp_store", "MEMORY").map_err(backend)?;
    // A background thread copies the WAL into the database file (see `checkpointer`), so the
    // checkpoint a commit runs once the WAL passes 16 MiB has little left to copy; it is what
    // lets the WAL start over while writes never stop.
    c.pragma_update(None, "wal_autocheckpoint", 1_024).map_err(backend)?;
    c.pragma_update(None, "journal_size_limit", 64 * 1024 * 1024).map_err(backend)?;
    c.pragma_update(None, "foreign_keys", "ON").map_err(backend)?;
    c.busy_timeout(std::time::Duration::from_secs(10)).map_err(backend)?;
    // The writer runs the commit's statements and every unit of work's, more than rusqlite's
    // default cache of 16 holds.
    c.set_prepared_statement_cache_capacity(256);
    Ok(c)
}

impl SqliteStore {
    /// The schema version the file is at (migrations applied).
    pub fn schema_version(&self) -> Result<i64> {
        self.read().pragma_query_value(None, "user_version", |r| r.get(0)).map_err(backend)
    }

    /// Opens (creating if needed) the store file at `path` and runs pending migrations.
    pub fn open(path: &Path) -> Result<SqliteStore> {
        let mut w = open(path)?;
        migrate(&mut w)?;
        let readers = (0..READERS).map(|_| open(path).map(Mutex::new)).collect::<Result<Vec<_>>>()?;
        let stop = Arc::new(AtomicBool::new(false));
        let checkpointer = checkpointer(open(path)?, Arc::clone(&stop));
        Ok(SqliteStore { writer: Mutex::new(w), readers, stop, checkpointer, last_seq: Mutex::default() })
    }

    fn read(&self) -> MutexGuard<'_, Connection> {
        // Take a free reader if one is free, else wait for the first.
        for r in &self.readers {
            if let Ok(g) = r.try_lock() {
                return g;
            }
        }
        lock(&self.readers[0])
    }
}

/// Copies committed WAL frames into the database file every 200 ms with PASSIVE checkpoints,
/// which never block the writer or readers. The writer's own small checkpoint then completes
/// the copy, its next transaction starts the WAL over, and `journal_size_limit` trims the file. The
/// thread holds only its own connection and stops if a checkpoint fails (the file is gone).
fn checkpointer(c: Connection, stop: Arc<AtomicBool>) -> Option<std::thread::JoinHandle<()>> {
    std::thread::Builder::new()
        .name("ansim-checkpoint".into())
        .spawn(move || {
            let mut tick = 0u64;
            while !stop.load(Ordering::Relaxed) {
                // A short sleep so dropping the store is quick; checkpoint every 200 ms.
                std::thread::sleep(std::time::Duration::from_millis(50));
                tick += 1;
                if tick.is_multiple_of(4) {
                    let _ = c.query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
            }
        })
        // Without the thread the writer's own checkpoints still bound the WAL.
        .ok()
}

fn migrate(c: &mut Connection) -> Result<()> {
    let done: i64 = c.pragma_query_value(None, "user_version", |r| r.get(0)).map_err(backend)?;
    let done = usize::try_from(done).unwrap_or(0);
    if done > MIGRATIONS.len() {
        return Err(StoreError::Backend(format!(
            "the store has schema version {done}, newer than this program's {}; upgrade ansim",
            MIGRATIONS.len()
        )));
    }
    for (i, sql) in MIGRATIONS.iter().enumerate().skip(done) {
        let tx = c.transaction().map_err(backend)?;
        tx.execute_batch(sql).map_err(backend)?;
        tx.pragma_update(None, "user_version", (i + 1) as i64).map_err(backend)?;
        tx.commit().map_err(backend)?;
    }
    Ok(())
}

fn event_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<EventRecord> {
    Ok(EventRecord {
        seq: r.get(0)?,
        event_id: r.get(1)?,
        decision_id: r.get(2)?,
        at_ms: r.get(3)?,
        kind: r.get(4)?,
        verdict: r.get(5)?,
        score: r.get(6)?,
        ruleset: r.get(7)?,
        event_json: r.get(8)?,
        decision_json: r.get(9)?,
        decided_ms: r.get(10)?,
    })
}

fn scopes_text(s: &[Scope]) -> String {
    s.iter().map(|x| x.as_str()).collect::<Vec<_>>().join(" ")
}

fn ruleset_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<RulesetVersion> {
    Ok(RulesetVersion {
        version: r.get(0)?,
        source: r.get(1)?,
        published_ms: r.get(2)?,
        active: r.get::<_, i64>(3)? != 0,
    })
}

fn report_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<IndicatorReport> {
    let digest: Vec<u8> = r.get(0)?;
    let mut d = [0u8; 32];
    if digest.len() == 32 {
        d.copy_from_slice(&digest);
    }
    Ok(IndicatorReport {
        digest: d,
        kind: r.get(1)?,
        affiliate: AffiliateId(r.get(2)?),
        typology: r.get(3)?,
        status: r.get(4)?,
        reports: r.get(5)?,
        first_ms: r.get(6)?,
        last_ms: r.get(7)?,
    })
}

fn report_row_of(r: &rusqlite::Row<'_>) -> rusqlite::Result<ReportRow> {
    let h: Vec<u8> = r.get(1)?;
    let mut secret_hash = [0u8; 32];
    if h.len() == 32 {
        secret_hash.copy_from_slice(&h);
    }
    Ok(ReportRow {
        receipt: r.get(0)?,
        secret_hash,
        source: r.get(2)?,
        kind: r.get(3)?,
        case_id: r.get(4)?,
        priority: r.get(5)?,
        body: r.get(6)?,
        created_ms: r.get(7)?,
        subject: r.get(8)?,
        amount: r.get(9)?,
    })
}

/// Adds counts to the indicator rollup: as decisions (`decisions`) or as reports.
fn add_clusters(c: &Connection, cells: &[(AffiliateId, crate::ClusterKey, i64)], decisions: bool) -> Result<()> {
    if cells.is_empty() {
        return Ok(());
    }
    let mut st = c
        .prepare_cached(
            "INSERT INTO cluster_day (day, kind, value, affiliate, decisions, reports) VALUES (?1, ?2, ?3, ?4, ?5, ?6)
             ON CONFLICT (day, kind, value, affiliate)
             DO UPDATE SET decisions = decisions + excluded.decisions, reports = reports + excluded.reports",
        )
        .map_err(backend)?;
    for (a, k, n) in cells {
        let (d, r) = if decisions { (*n, 0) } else { (0, *n) };
        st.execute(params![k.day, k.kind, k.value, a.as_str(), d, r]).map_err(backend)?;
    }
    Ok(())
}

fn campaign_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CampaignRow> {
    Ok(CampaignRow { id: r.get(0)?, body: r.get(1)?, created_ms: r.get(2)?, updated_ms: r.get(3)? })
}

/// A column that cannot be read as its type: reported, never defaulted.
fn corrupt(col: usize, what: String) -> rusqlite::Error {
    rusqlite::Error::FromSqlConversionFailure(col, rusqlite::types::Type::Text, what.into())
}

fn list(col: usize, text: String) -> rusqlite::Result<Vec<String>> {
    serde_json::from_str(&text).map_err(|e| corrupt(col, format!("not a JSON list of names: {e}")))
}

fn case_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<CaseRow> {
    let state: String = r.get(1)?;
    let outcome: Option<String> = r.get(2)?;
    Ok(CaseRow {
        id: r.get(0)?,
        state: CaseState::parse(&state).ok_or_else(|| corrupt(1, format!("unknown case state {state:?}")))?,
        outcome: match outcome {
            None => None,
            Some(o) => Some(CaseOutcome::parse(&o).ok_or_else(|| corrupt(2, format!("unknown outcome {o:?}")))?),
        },
        priority: r.get(3)?,
        assignee: r.get(4)?,
        typology: r.get(5)?,
        money_at_risk: r.get(6)?,
        reporting: list(7, r.get(7)?)?,
        holding: list(8, r.get(8)?)?,
        linked_case: r.get(9)?,
        opened_ms: r.get(10)?,
        updated_ms: r.get(11)?,
        sla_due_ms: r.get(12)?,
        first_action_ms: r.get(13)?,
        closed_ms: r.get(14)?,
        body: r.get(15)?,
    })
}

/// A case's writable columns, in the order both the insert and the update name them.
fn with_case_values<T>(c: &CaseRow, f: impl FnOnce(&[&dyn rusqlite::ToSql]) -> T) -> T {
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

fn json_list(v: &[String]) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| "[]".into())
}

fn action_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<ActionRow> {
    Ok(ActionRow {
        id: r.get(0)?,
        affiliate: AffiliateId(r.get(1)?),
        kind: r.get(2)?,
        payload: r.get(3)?,
        created_ms: r.get(4)?,
        attempts: r.get(5)?,
        next_ms: r.get(6)?,
        delivered_ms: r.get(7)?,
        dead_ms: r.get(8)?,
        last_error: r.get(9)?,
    })
}

/// Appends audit entries at the end of the chain, inside the caller's transaction.
fn append_audit(tx: &Connection, entries: &[AuditEntry]) -> Result<()> {
    let last: Option<(i64, Vec<u8>)> = tx
        .query_row("SELECT seq, hash FROM audit ORDER BY seq DESC LIMIT 1", [], |r| Ok((r.get(0)?, r.get(1)?)))
        .optional()
        .map_err(backend)?;
    let (mut seq, mut prev) = last.unwrap_or((0, vec![0u8; 32]));
    let mut st = tx
        .prepare_cached(
            "INSERT INTO audit (seq, at_ms, actor, case_id, action, detail, prev, hash) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )
        .map_err(backend)?;
    for e in entries {
        seq += 1;
        let hash = audit_hash(&prev, seq, e);
        st.execute(params![seq, e.at_ms, e.actor, e.case_id, e.action, e.detail, prev, &hash[..]]).map_err(backend)?;
        prev = hash.to_vec();
    }
    Ok(())
}

fn insert_actions(tx: &Connection, actions: &[ActionRow]) -> Result<()> {
    let mut st = tx
        .prepare_cached(
            "INSERT INTO action (id, affiliate, kind, payload, created_ms, attempts, next_ms) VALUES (?1, ?2, ?3, ?4, ?5, 0, ?6)
             ON CONFLICT (id) DO NOTHING",
        )
        .map_err(backend)?;
    for a in actions {
        st.execute(params![a.id, a.affiliate.as_str(), a.kind, a.payload, a.created_ms, a.next_ms]).map_err(backend)?;
    }
    Ok(())
}

impl Store for SqliteStore {
    fn transaction(&self, work: &mut dyn FnMut(&mut dyn Tx) -> Result<()>) -> Result<()> {
        let mut c = lock(&self.writer);
        // IMMEDIATE takes SQLite's write lock at the start, so the unit of work reads what it
        // then writes without another writer in between (another process included).
        let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate).map_err(backend)?;
        work(&mut SqliteTx(&tx))?;
        tx.commit().map_err(backend)
    }

    fn upsert_affiliate(&self, a: &AffiliateId, name: &str, now_ms: i64) -> Result<()> {
        lock(&self.writer)
            .execute(
                "INSERT INTO affiliate (id, name, created_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (id) DO UPDATE SET name = excluded.name",
                params![a.as_str(), name, now_ms],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn affiliates(&self) -> Result<Vec<Affiliate>> {
        let c = self.read();
        let mut st = c.prepare_cached("SELECT id, name FROM affiliate ORDER BY id").map_err(backend)?;
        let rows = st
            .query_map([], |r| Ok(Affiliate { id: AffiliateId(r.get(0)?), name: r.get(1)? }))
            .map_err(backend)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(backend)?;
        Ok(rows)
    }

    fn insert_key(&self, a: &AffiliateId, key: &ApiKey, now_ms: i64) -> Result<()> {
        if &key.affiliate != a {
            return Err(StoreError::Conflict("a key can only be stored for its own affiliate".into()));
        }
        lock(&self.writer)
            .execute(
                "INSERT INTO api_key (hash, prefix, affiliate, scopes, created_ms, revoked) VALUES (?1, ?2, ?3, ?4, ?5, ?6)",
                params![&key.hash[..], key.prefix, a.as_str(), scopes_text(&key.scopes), now_ms, key.revoked as i64],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn key_by_hash(&self, hash: &[u8; 32]) -> Result<Option<ApiKey>> {
        let c = self.read();
        let mut st = c
            .prepare_cached("SELECT prefix, affiliate, scopes, revoked FROM api_key WHERE hash = ?1")
            .map_err(backend)?;
        st.query_row(params![&hash[..]], |r| {
            let scopes: String = r.get(2)?;
            Ok(ApiKey {
                hash: *hash,
                prefix: r.get(0)?,
                affiliate: AffiliateId(r.get(1)?),
                scopes: scopes.split_whitespace().filter_map(Scope::parse).collect(),
                revoked: r.get::<_, i64>(3)? != 0,
            })
        })
        .optional()
        .map_err(backend)
    }

    fn keys(&self, a: &AffiliateId) -> Result<Vec<ApiKey>> {
        let c = self.read();
        let mut st = c
            .prepare_cached(
                "SELECT hash, prefix, scopes, revoked FROM api_key WHERE affiliate = ?1 ORDER BY created_ms, prefix",
            )
            .map_err(backend)?;
        let rows = st
            .query_map(params![a.as_str()], |r| {
                let hash: Vec<u8> = r.get(0)?;
                let scopes: String = r.get(2)?;
                Ok(ApiKey {
                    hash: hash.try_into().map_err(|_| corrupt(0, "a key hash is not 32 bytes".into()))?,
                    prefix: r.get(1)?,
                    affiliate: a.clone(),
                    scopes: scopes.split_whitespace().filter_map(Scope::parse).collect(),
                    revoked: r.get::<_, i64>(3)? != 0,
                })
            })
            .map_err(backend)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(backend)?;
        Ok(rows)
    }

    fn revoke_key(&self, a: &AffiliateId, prefix: &str) -> Result<usize> {
        let mut c = lock(&self.writer);
        let tx = c.transaction().map_err(backend)?;
        let n: i64 = tx
            .query_row(
                "SELECT COUNT(*) FROM api_key WHERE affiliate = ?1 AND prefix = ?2",
                params![a.as_str(), prefix],
                |r| r.get(0),
            )
            .map_err(backend)?;
        if n == 1 {
            tx.execute(
                "UPDATE api_key SET revoked = 1 WHERE affiliate = ?1 AND prefix = ?2",
                params![a.as_str(), prefix],
            )
            .map_err(backend)?;
        }
        tx.commit().map_err(backend)?;
        Ok(n as usize)
    }

    fn commit(&self, writes: &[Write]) -> Result<Vec<Committed>> {
        let c = lock(&self.writer);
        // Immediate: the transaction reads (the last number) before it writes, and a deferred
        // one that must upgrade after another connection wrote fails at once with "database is
        // locked" instead of waiting its turn. Begun and committed by cached statements: a
        // `Transaction` prepares both again every time (2 % of a server's CPU under load).
        let tx = Immediate::begin(&c)?;
        let mut out = Vec::with_capacity(writes.len());
        // The next number per affiliate of this batch (most batches hold one affiliate).
        let mut next: Vec<(&AffiliateId, i64)> = Vec::new();
        {
            // `DO NOTHING` on the event id: a repeat is answered with the stored row below.
            let mut ev = tx
                .prepare_cached(
                    "INSERT INTO event (affiliate, seq, event_id, decision_id, at_ms, kind, verdict, score, ruleset,
                     event_json, decision_json, decided_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12)
                     ON CONFLICT (affiliate, event_id) DO NOTHING",
                )
                .map_err(backend)?;
            let mut ob = tx
                .prepare_cached("INSERT INTO outbox (affiliate, topic, payload, created_ms) VALUES (?1, ?2, ?3, ?4)")
                .map_err(backend)?;
            let mut last =
                tx.prepare_cached("SELECT coalesce(max(seq), 0) FROM event WHERE affiliate = ?1").map_err(backend)?;
            let mut stored = tx
                .prepare_cached(&format!("SELECT {EVENT_COLS} FROM event WHERE affiliate = ?1 AND event_id = ?2"))
                .map_err(backend)?;
            for w in writes {
                let a = &w.affiliate;
                let slot = match next.iter().position(|(x, _)| *x == a) {
                    Some(i) => i,
                    None => {
                        let known = self.last_seq.lock().unwrap_or_else(|p| p.into_inner()).get(a).copied();
                        let n: i64 = match known {
                            Some(n) => n,
                            None => last.query_row(params![a.as_str()], |r| r.get(0)).map_err(backend)?,
                        };
                        next.push((a, n + 1));
                        next.len() - 1
                    }
                };
                let seq = next[slot].1;
                let decision_id = crate::decision_id(seq, w.tag);
                let r = &w.record;
                let n = ev
                    .execute(params![
                        a.as_str(),
                        seq,
                        r.event_id,
                        decision_id,
                        r.at_ms,
                        r.kind,
                        r.verdict,
                        r.score,
                        r.ruleset,
                        r.event_json,
                        r.decision_json,
                        r.decided_ms
                    ])
                    .map_err(backend)?;
                if n == 0 {
                    let row = stored.query_row(params![a.as_str(), r.event_id], event_row).map_err(backend)?;
                    out.push(Committed::Duplicate(Box::new(row)));
                    continue;
                }
                next[slot].1 += 1;
                for (topic, payload) in &w.outbox {
                    ob.execute(params![a.as_str(), topic, payload, r.decided_ms]).map_err(backend)?;
                }
                out.push(Committed::Stored { seq, decision_id });
            }
            let mut trend = tx
                .prepare_cached(
                    "INSERT INTO trend_day (affiliate, day, kind, verdict, typology, age_band, amount_band, decisions, amount)
                     VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)
                     ON CONFLICT (affiliate, day, kind, verdict, typology, age_band, amount_band)
                     DO UPDATE SET decisions = decisions + excluded.decisions, amount = amount + excluded.amount",
                )
                .map_err(backend)?;
            for (a, k, n, amount) in crate::trend_deltas(writes, &out) {
                trend
                    .execute(params![
                        a.as_str(),
                        k.day,
                        k.kind,
                        k.verdict,
                        k.typology,
                        k.age_band,
                        k.amount_band,
                        n,
                        amount
                    ])
                    .map_err(backend)?;
            }
            let mut rules = tx
                .prepare_cached(
                    "INSERT INTO rule_day (day, rule, affiliate, hits) VALUES (?1, ?2, ?3, ?4)
                     ON CONFLICT (day, rule, affiliate) DO UPDATE SET hits = hits + excluded.hits",
                )
                .map_err(backend)?;
            for (a, day, rule, n) in crate::rule_deltas(writes, &out) {
                rules.execute(params![day, rule, a.as_str(), n]).map_err(backend)?;
            }
        }
        // Learnt only once the batch is durable: a failed commit leaves the numbers as stored.
        tx.commit()?;
        let mut known = self.last_seq.lock().unwrap_or_else(|p| p.into_inner());
        for (a, n) in next {
            known.insert(a.clone(), n - 1);
        }
        Ok(out)
    }

    fn rule_days(&self, from_day: i64, to_day: i64) -> Result<Vec<crate::RuleRow>> {
        let c = self.read();
        let mut st = c
            .prepare_cached(
                "SELECT affiliate, day, rule, hits FROM rule_day WHERE day BETWEEN ?1 AND ?2 ORDER BY day, rule, affiliate",
            )
            .map_err(backend)?;
        let rows = st
            .query_map(params![from_day, to_day], |r| {
                Ok(crate::RuleRow {
                    affiliate: AffiliateId(r.get(0)?),
                    day: r.get(1)?,
                    rule: r.get(2)?,
                    hits: r.get(3)?,
                })
            })
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
    }

    fn add_sightings(&self, cells: &[(AffiliateId, crate::ClusterKey, i64)]) -> Result<()> {
        let mut c = lock(&self.writer);
        let tx = c.transaction().map_err(backend)?;
        add_clusters(&tx, cells, true)?;
        tx.commit().map_err(backend)
    }

    fn cluster_days(&self, from_day: i64, to_day: i64) -> Result<Vec<crate::ClusterRow>> {
        let c = self.read();
        let mut st = c
            .prepare_cached(
                "SELECT affiliate, day, kind, value, decisions, reports FROM cluster_day
                 WHERE day BETWEEN ?1 AND ?2 ORDER BY day, kind, value, affiliate",
            )
            .map_err(backend)?;
        let rows = st
            .query_map(params![from_day, to_day], |r| {
                Ok(crate::ClusterRow {
                    affiliate: AffiliateId(r.get(0)?),
                    key: crate::ClusterKey { day: r.get(1)?, kind: r.get(2)?, value: r.get(3)? },
                    decisions: r.get(4)?,
                    reports: r.get(5)?,
                })
            })
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
    }

    fn trend_days(&self, a: Option<&AffiliateId>, from_day: i64, to_day: i64) -> Result<Vec<crate::TrendRow>> {
        let c = self.read();
        let mut st = c
            .prepare_cached(
                "SELECT affiliate, day, kind, verdict, typology, age_band, amount_band, decisions, amount FROM trend_day
                 WHERE day BETWEEN ?1 AND ?2 AND (?3 IS NULL OR affiliate = ?3)
                 ORDER BY day, affiliate, kind, verdict, typology, age_band, amount_band",
            )
            .map_err(backend)?;
        let rows = st
            .query_map(params![from_day, to_day, a.map(|a| a.as_str())], |r| {
                Ok(crate::TrendRow {
                    affiliate: AffiliateId(r.get(0)?),
                    key: crate::TrendKey {
                        day: r.get(1)?,
                        kind: r.get(2)?,
                        verdict: r.get(3)?,
                        typology: r.get(4)?,
                        age_band: r.get(5)?,
                        amount_band: r.get(6)?,
                    },
                    decisions: r.get(7)?,
                    amount: r.get(8)?,
                })
            })
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
    }

    fn event_by_id(&self, a: &AffiliateId, event_id: &str) -> Result<Option<EventRecord>> {
        let c = self.read();
        let mut st = c
            .prepare_cached(&format!("SELECT {EVENT_COLS} FROM event WHERE affiliate = ?1 AND event_id = ?2"))
            .map_err(backend)?;
        st.query_row(params![a.as_str(), event_id], event_row).optional().map_err(backend)
    }

    fn event_by_seq(&self, a: &AffiliateId, seq: i64) -> Result<Option<EventRecord>> {
        let c = self.read();
        let mut st = c
            .prepare_cached(&format!("SELECT {EVENT_COLS} FROM event WHERE affiliate = ?1 AND seq = ?2"))
            .map_err(backend)?;
        st.query_row(params![a.as_str(), seq], event_row).optional().map_err(backend)
    }

    fn events_after(&self, a: &AffiliateId, after: i64, limit: usize) -> Result<Vec<EventRecord>> {
        let c = self.read();
        let mut st = c
            .prepare_cached(&format!(
                "SELECT {EVENT_COLS} FROM event WHERE affiliate = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3"
            ))
            .map_err(backend)?;
        let rows = st
            .query_map(params![a.as_str(), after, limit as i64], event_row)
            .map_err(backend)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(backend)?;
        Ok(rows)
    }

    fn event_ids(&self, a: &AffiliateId, after: i64, limit: usize) -> Result<Vec<(i64, String)>> {
        let c = self.read();
        let mut st = c
            .prepare_cached("SELECT seq, event_id FROM event WHERE affiliate = ?1 AND seq > ?2 ORDER BY seq LIMIT ?3")
            .map_err(backend)?;
        let rows = st
            .query_map(params![a.as_str(), after, limit as i64], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(backend)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(backend)?;
        Ok(rows)
    }

    fn last_seq(&self, a: &AffiliateId) -> Result<i64> {
        let c = self.read();
        c.query_row("SELECT COALESCE(MAX(seq), 0) FROM event WHERE affiliate = ?1", params![a.as_str()], |r| r.get(0))
            .map_err(backend)
    }

    fn event_count(&self, a: &AffiliateId) -> Result<i64> {
        let c = self.read();
        c.query_row("SELECT COUNT(*) FROM event WHERE affiliate = ?1", params![a.as_str()], |r| r.get(0))
            .map_err(backend)
    }

    fn put_draft(&self, a: &AffiliateId, source: &str, now_ms: i64) -> Result<()> {
        lock(&self.writer)
            .execute(
                "INSERT INTO ruleset_draft (affiliate, source, updated_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (affiliate) DO UPDATE SET source = excluded.source, updated_ms = excluded.updated_ms",
                params![a.as_str(), source, now_ms],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn draft(&self, a: &AffiliateId) -> Result<Option<String>> {
        let c = self.read();
        c.query_row("SELECT source FROM ruleset_draft WHERE affiliate = ?1", params![a.as_str()], |r| r.get(0))
            .optional()
            .map_err(backend)
    }

    fn activate(&self, a: &AffiliateId, version: i64) -> Result<()> {
        let mut c = lock(&self.writer);
        let tx = c.transaction().map_err(backend)?;
        let exists: Option<i64> = tx
            .query_row(
                "SELECT version FROM ruleset WHERE affiliate = ?1 AND version = ?2",
                params![a.as_str(), version],
                |r| r.get(0),
            )
            .optional()
            .map_err(backend)?;
        if exists.is_none() {
            return Err(StoreError::NotFound(format!("ruleset version {version}")));
        }
        tx.execute("UPDATE ruleset SET active = (version = ?2) WHERE affiliate = ?1", params![a.as_str(), version])
            .map_err(backend)?;
        tx.commit().map_err(backend)
    }

    fn active_ruleset(&self, a: &AffiliateId) -> Result<Option<RulesetVersion>> {
        let c = self.read();
        c.query_row(
            "SELECT version, source, published_ms, active FROM ruleset WHERE affiliate = ?1 AND active = 1",
            params![a.as_str()],
            ruleset_row,
        )
        .optional()
        .map_err(backend)
    }

    fn ruleset_history(&self, a: &AffiliateId) -> Result<Vec<RulesetVersion>> {
        let c = self.read();
        let mut st = c
            .prepare_cached(
                "SELECT version, source, published_ms, active FROM ruleset WHERE affiliate = ?1 ORDER BY version DESC",
            )
            .map_err(backend)?;
        let rows = st
            .query_map(params![a.as_str()], ruleset_row)
            .map_err(backend)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(backend)?;
        Ok(rows)
    }

    fn save_snapshot(&self, a: &AffiliateId, part: u32, seq: i64, state: &[u8], now_ms: i64) -> Result<()> {
        lock(&self.writer)
            .prepare_cached(
                "INSERT INTO feature_snapshot_part (affiliate, part, seq, state, saved_ms) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT (affiliate, part) DO UPDATE SET seq = excluded.seq, state = excluded.state, saved_ms = excluded.saved_ms",
            )
            .and_then(|mut st| st.execute(params![a.as_str(), part, seq, state, now_ms]))
            .map_err(backend)?;
        Ok(())
    }

    fn load_snapshot(&self, a: &AffiliateId) -> Result<Vec<crate::SnapshotPart>> {
        let c = self.read();
        let mut out: Vec<crate::SnapshotPart> = c
            .query_row("SELECT seq, state FROM feature_snapshot WHERE affiliate = ?1", params![a.as_str()], |r| {
                Ok(crate::SnapshotPart { part: None, seq: r.get(0)?, state: r.get(1)? })
            })
            .optional()
            .map_err(backend)?
            .into_iter()
            .collect();
        let mut st = c
            .prepare_cached("SELECT part, seq, state FROM feature_snapshot_part WHERE affiliate = ?1 ORDER BY part")
            .map_err(backend)?;
        let rows = st
            .query_map(params![a.as_str()], |r| {
                Ok(crate::SnapshotPart { part: Some(r.get(0)?), seq: r.get(1)?, state: r.get(2)? })
            })
            .map_err(backend)?;
        for r in rows {
            out.push(r.map_err(backend)?);
        }
        Ok(out)
    }

    fn upsert_report(&self, a: &AffiliateId, r: &IndicatorReport) -> Result<()> {
        self.upsert_reports(a, std::slice::from_ref(r))
    }

    fn upsert_reports(&self, a: &AffiliateId, reports: &[IndicatorReport]) -> Result<()> {
        crate::in_transaction(self, |tx| tx.upsert_reports(a, reports))
    }

    fn all_reports(&self) -> Result<Vec<IndicatorReport>> {
        let c = self.read();
        let mut st = c
            .prepare_cached(
                "SELECT digest, kind, affiliate, typology, status, reports, first_ms, last_ms FROM indicator_report",
            )
            .map_err(backend)?;
        let rows =
            st.query_map([], report_row).map_err(backend)?.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)?;
        Ok(rows)
    }

    fn put_protection(&self, a: &AffiliateId, subject: &str, settings: &str, now_ms: i64) -> Result<()> {
        lock(&self.writer)
            .execute(
                "INSERT INTO protection (affiliate, subject, settings, updated_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (affiliate, subject) DO UPDATE SET settings = excluded.settings,
                   updated_ms = excluded.updated_ms",
                params![a.as_str(), subject, settings, now_ms],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn protections(&self, a: &AffiliateId) -> Result<Vec<(String, String)>> {
        let c = self.read();
        let mut st = c
            .prepare_cached("SELECT subject, settings FROM protection WHERE affiliate = ?1 ORDER BY subject")
            .map_err(backend)?;
        let rows = st
            .query_map(params![a.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(backend)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(backend)?;
        Ok(rows)
    }

    fn cancel_hold(&self, a: &AffiliateId, seq: i64, now_ms: i64) -> Result<bool> {
        let n = lock(&self.writer)
            .execute(
                "INSERT INTO hold_cancel (affiliate, seq, cancelled_ms) VALUES (?1, ?2, ?3)
                 ON CONFLICT (affiliate, seq) DO NOTHING",
                params![a.as_str(), seq, now_ms],
            )
            .map_err(backend)?;
        Ok(n == 1)
    }

    fn cancelled_holds(&self, a: &AffiliateId) -> Result<Vec<(i64, i64)>> {
        let c = self.read();
        let mut st = c
            .prepare_cached("SELECT seq, cancelled_ms FROM hold_cancel WHERE affiliate = ?1 ORDER BY seq")
            .map_err(backend)?;
        let rows = st
            .query_map(params![a.as_str()], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(backend)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(backend)?;
        Ok(rows)
    }

    fn report(&self, receipt: &str) -> Result<Option<ReportRow>> {
        let c = self.read();
        c.query_row(&format!("SELECT {REPORT_COLS} FROM report WHERE receipt = ?1"), params![receipt], report_row_of)
            .optional()
            .map_err(backend)
    }

    fn case_reports(&self, case_id: i64) -> Result<Vec<ReportRow>> {
        case_reports(&self.read(), case_id)
    }

    fn case(&self, id: i64) -> Result<Option<CaseRow>> {
        let c = self.read();
        c.query_row(&format!("SELECT {CASE_COLS} FROM fraud_case WHERE id = ?1"), params![id], case_row)
            .optional()
            .map_err(backend)
    }

    fn open_cases(&self, limit: usize) -> Result<Vec<CaseRow>> {
        let c = self.read();
        let mut st = c
            .prepare_cached(&format!(
                "SELECT {CASE_COLS} FROM fraud_case WHERE state != 'closed' ORDER BY priority DESC, opened_ms, id LIMIT ?1"
            ))
            .map_err(backend)?;
        let rows = st
            .query_map(params![limit as i64], case_row)
            .map_err(backend)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(backend)?;
        Ok(rows)
    }

    fn cases_opened(&self, from_ms: i64, to_ms: i64) -> Result<Vec<CaseRow>> {
        let c = self.read();
        let mut st = c
            .prepare_cached(&format!(
                "SELECT {CASE_COLS} FROM fraud_case WHERE opened_ms >= ?1 AND opened_ms < ?2 ORDER BY opened_ms, id"
            ))
            .map_err(backend)?;
        let rows = st
            .query_map(params![from_ms, to_ms], case_row)
            .map_err(backend)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(backend)?;
        Ok(rows)
    }

    fn audit_log(&self) -> Result<Vec<AuditRow>> {
        let c = self.read();
        let mut st = c
            .prepare_cached("SELECT seq, at_ms, actor, case_id, action, detail, prev, hash FROM audit ORDER BY seq")
            .map_err(backend)?;
        let rows = st
            .query_map([], |r| {
                Ok(AuditRow {
                    seq: r.get(0)?,
                    entry: AuditEntry {
                        at_ms: r.get(1)?,
                        actor: r.get(2)?,
                        case_id: r.get(3)?,
                        action: r.get(4)?,
                        detail: r.get(5)?,
                    },
                    prev: r.get(6)?,
                    hash: r.get(7)?,
                })
            })
            .map_err(backend)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(backend)?;
        Ok(rows)
    }

    fn actions_due(&self, now_ms: i64, limit: usize) -> Result<Vec<ActionRow>> {
        let c = self.read();
        let mut st = c
            .prepare_cached(&format!(
                "SELECT {ACTION_COLS} FROM action WHERE delivered_ms IS NULL AND dead_ms IS NULL AND next_ms <= ?1
                 ORDER BY next_ms, id LIMIT ?2"
            ))
            .map_err(backend)?;
        let rows = st
            .query_map(params![now_ms, limit as i64], action_row)
            .map_err(backend)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(backend)?;
        Ok(rows)
    }

    fn action_attempted(&self, id: &str, outcome: ActionOutcome, now_ms: i64) -> Result<()> {
        let c = lock(&self.writer);
        let n = match outcome {
            ActionOutcome::Delivered => c.execute(
                "UPDATE action SET attempts = attempts + 1, delivered_ms = ?2, last_error = NULL WHERE id = ?1",
                params![id, now_ms],
            ),
            ActionOutcome::Retry { next_ms, error } => c.execute(
                "UPDATE action SET attempts = attempts + 1, next_ms = ?2, last_error = ?3 WHERE id = ?1",
                params![id, next_ms, error],
            ),
            ActionOutcome::Dead { error } => c.execute(
                "UPDATE action SET attempts = attempts + 1, dead_ms = ?2, last_error = ?3 WHERE id = ?1",
                params![id, now_ms, error],
            ),
        }
        .map_err(backend)?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("action {id}")));
        }
        Ok(())
    }

    fn dead_actions(&self, limit: usize) -> Result<Vec<ActionRow>> {
        let c = self.read();
        let mut st = c
            .prepare_cached(&format!(
                "SELECT {ACTION_COLS} FROM action WHERE dead_ms IS NOT NULL ORDER BY dead_ms DESC, id LIMIT ?1"
            ))
            .map_err(backend)?;
        let rows = st
            .query_map(params![limit as i64], action_row)
            .map_err(backend)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(backend)?;
        Ok(rows)
    }

    fn action(&self, id: &str) -> Result<Option<ActionRow>> {
        let c = self.read();
        c.query_row(&format!("SELECT {ACTION_COLS} FROM action WHERE id = ?1"), params![id], action_row)
            .optional()
            .map_err(backend)
    }

    fn put_webhook(&self, a: &AffiliateId, url: &str, secret: &str, now_ms: i64) -> Result<()> {
        lock(&self.writer)
            .execute(
                "INSERT INTO webhook (affiliate, url, secret, updated_ms) VALUES (?1, ?2, ?3, ?4)
                 ON CONFLICT (affiliate) DO UPDATE SET url = excluded.url, secret = excluded.secret,
                   updated_ms = excluded.updated_ms",
                params![a.as_str(), url, secret, now_ms],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn webhook(&self, a: &AffiliateId) -> Result<Option<(String, String)>> {
        let c = self.read();
        c.query_row("SELECT url, secret FROM webhook WHERE affiliate = ?1", params![a.as_str()], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })
        .optional()
        .map_err(backend)
    }

    fn set_holdings(&self, a: &AffiliateId, keys: &[String]) -> Result<()> {
        let mut c = lock(&self.writer);
        let tx = c.transaction().map_err(backend)?;
        tx.execute("DELETE FROM holder WHERE affiliate = ?1", params![a.as_str()]).map_err(backend)?;
        for k in keys {
            let other: Option<String> = tx
                .query_row("SELECT affiliate FROM holder WHERE key = ?1", params![k], |r| r.get(0))
                .optional()
                .map_err(backend)?;
            if let Some(o) = other {
                return Err(StoreError::Conflict(format!("{k} is held by {o}")));
            }
            tx.execute("INSERT INTO holder (key, affiliate) VALUES (?1, ?2)", params![k, a.as_str()])
                .map_err(backend)?;
        }
        tx.commit().map_err(backend)
    }

    fn holder(&self, key: &str) -> Result<Option<AffiliateId>> {
        holder(&self.read(), key)
    }

    fn holdings(&self, a: &AffiliateId) -> Result<Vec<String>> {
        let c = self.read();
        let mut st = c.prepare_cached("SELECT key FROM holder WHERE affiliate = ?1 ORDER BY key").map_err(backend)?;
        let rows = st
            .query_map(params![a.as_str()], |r| r.get(0))
            .map_err(backend)?
            .collect::<rusqlite::Result<Vec<String>>>()
            .map_err(backend)?;
        Ok(rows)
    }

    fn checkpoint(&self) -> Result<()> {
        let busy: i64 =
            lock(&self.writer).query_row("PRAGMA wal_checkpoint(TRUNCATE)", [], |r| r.get(0)).map_err(backend)?;
        if busy != 0 {
            return Err(StoreError::Backend("the write-ahead log is in use; checkpoint incomplete".into()));
        }
        Ok(())
    }

    fn outbox_pending(&self, limit: usize) -> Result<Vec<OutboxItem>> {
        let c = self.read();
        let mut st = c
            .prepare_cached(
                "SELECT id, affiliate, topic, payload FROM outbox WHERE delivered_ms IS NULL ORDER BY id LIMIT ?1",
            )
            .map_err(backend)?;
        let rows = st
            .query_map(params![limit as i64], |r| {
                Ok(OutboxItem {
                    id: r.get(0)?,
                    affiliate: AffiliateId(r.get(1)?),
                    topic: r.get(2)?,
                    payload: r.get(3)?,
                })
            })
            .map_err(backend)?
            .collect::<rusqlite::Result<Vec<_>>>()
            .map_err(backend)?;
        Ok(rows)
    }

    fn outbox_done(&self, ids: &[i64], now_ms: i64) -> Result<()> {
        let mut c = lock(&self.writer);
        let tx = c.transaction().map_err(backend)?;
        {
            let mut st = tx.prepare_cached("UPDATE outbox SET delivered_ms = ?2 WHERE id = ?1").map_err(backend)?;
            for id in ids {
                st.execute(params![id, now_ms]).map_err(backend)?;
            }
        }
        tx.commit().map_err(backend)
    }

    fn campaigns(&self) -> Result<Vec<CampaignRow>> {
        let c = self.read();
        let mut st = c.prepare_cached(&format!("SELECT {CAMPAIGN_COLS} FROM campaign ORDER BY id")).map_err(backend)?;
        let rows = st.query_map([], campaign_row).map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
    }

    fn campaign_subjects(&self, campaign: &str, a: &AffiliateId) -> Result<Vec<String>> {
        let c = self.read();
        let mut st = c
            .prepare_cached("SELECT subject FROM campaign_member WHERE campaign = ?1 AND affiliate = ?2")
            .map_err(backend)?;
        let rows = st.query_map(params![campaign, a.as_str()], |r| r.get(0)).map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
    }

    fn campaign_arms(&self, campaign: &str) -> Result<Vec<ArmSize>> {
        let c = self.read();
        let mut st = c
            .prepare_cached(
                "SELECT affiliate, control, COUNT(*) FROM campaign_member WHERE campaign = ?1
                 GROUP BY affiliate, control ORDER BY affiliate, control",
            )
            .map_err(backend)?;
        let rows = st
            .query_map(params![campaign], |r| {
                Ok(ArmSize { affiliate: AffiliateId(r.get(0)?), control: r.get::<_, i64>(1)? != 0, users: r.get(2)? })
            })
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
    }

    fn campaign_outcomes(&self, campaign: &str, until_ms: i64) -> Result<Vec<MemberOutcome>> {
        let c = self.read();
        let mut st = c.prepare_cached(&crate::columns::campaign_outcomes("?1", "?2")).map_err(backend)?;
        let rows = st
            .query_map(params![campaign, until_ms], |r| {
                Ok(MemberOutcome {
                    affiliate: AffiliateId(r.get(0)?),
                    subject: r.get(1)?,
                    control: r.get::<_, i64>(2)? != 0,
                    reports: r.get(3)?,
                    won: r.get(4)?,
                })
            })
            .map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
    }
}

/// A unit of work on the writer connection, inside its transaction.
struct SqliteTx<'a>(&'a Connection);

impl CaseRepo for SqliteTx<'_> {
    fn case(&mut self, id: i64) -> Result<Option<CaseRow>> {
        self.0
            .query_row(&format!("SELECT {CASE_COLS} FROM fraud_case WHERE id = ?1"), params![id], case_row)
            .optional()
            .map_err(backend)
    }

    fn cases_linked(&mut self, digests: &[[u8; 32]]) -> Result<Vec<CaseRow>> {
        let mut ids: Vec<i64> = Vec::new();
        {
            let mut st =
                self.0.prepare_cached("SELECT case_id FROM case_indicator WHERE digest = ?1").map_err(backend)?;
            for d in digests {
                if let Some(id) = st.query_row(params![&d[..]], |r| r.get::<_, i64>(0)).optional().map_err(backend)? {
                    ids.push(id);
                }
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
        with_case_values(c, |v| {
            self.0.execute(
                "INSERT INTO fraud_case (state, outcome, priority, assignee, typology, money_at_risk, reporting, holding,
                   linked_case, opened_ms, updated_ms, sla_due_ms, first_action_ms, closed_ms, body)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13, ?14, ?15)",
                v,
            )
        })
        .map_err(backend)?;
        Ok(self.0.last_insert_rowid())
    }

    fn update_case(&mut self, c: &CaseRow, expected_updated_ms: i64) -> Result<()> {
        let n = with_case_values(c, |v| {
            let mut all = v.to_vec();
            all.extend([&c.id as &dyn rusqlite::ToSql, &expected_updated_ms]);
            self.0.execute(
                "UPDATE fraud_case SET state = ?1, outcome = ?2, priority = ?3, assignee = ?4, typology = ?5,
                   money_at_risk = ?6, reporting = ?7, holding = ?8, linked_case = ?9, opened_ms = ?10,
                   updated_ms = ?11, sla_due_ms = ?12, first_action_ms = ?13, closed_ms = ?14, body = ?15
                 WHERE id = ?16 AND updated_ms = ?17",
                &all[..],
            )
        })
        .map_err(backend)?;
        if n != 1 {
            return Err(StoreError::Conflict(format!("case {} was changed meanwhile; reload it", c.id)));
        }
        Ok(())
    }

    fn link(&mut self, case_id: i64, digests: &[[u8; 32]]) -> Result<()> {
        let mut st = self
            .0
            .prepare_cached(
                "INSERT INTO case_indicator (digest, case_id) VALUES (?1, ?2)
                 ON CONFLICT (digest) DO UPDATE SET case_id = excluded.case_id",
            )
            .map_err(backend)?;
        for d in digests {
            st.execute(params![&d[..], case_id]).map_err(backend)?;
        }
        Ok(())
    }

    fn insert_report(&mut self, r: &ReportRow) -> Result<()> {
        self.0
            .execute(
                &format!("INSERT INTO report ({REPORT_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"),
                params![
                    r.receipt,
                    &r.secret_hash[..],
                    r.source,
                    r.kind,
                    r.case_id,
                    r.priority,
                    r.body,
                    r.created_ms,
                    r.subject,
                    r.amount
                ],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn case_reports(&mut self, case_id: i64) -> Result<Vec<ReportRow>> {
        case_reports(self.0, case_id)
    }

    fn count_reported(&mut self, a: &AffiliateId, keys: &[crate::ClusterKey]) -> Result<()> {
        let cells: Vec<_> = keys.iter().map(|k| (a.clone(), k.clone(), 1)).collect();
        add_clusters(self.0, &cells, false)
    }
}

impl AuditRepo for SqliteTx<'_> {
    fn append_audit(&mut self, entries: &[AuditEntry]) -> Result<()> {
        append_audit(self.0, entries)
    }
}

impl RegistryRepo for SqliteTx<'_> {
    fn upsert_reports(&mut self, a: &AffiliateId, reports: &[IndicatorReport]) -> Result<()> {
        if reports.iter().any(|r| &r.affiliate != a) {
            return Err(StoreError::Conflict("an affiliate can only write its own reports".into()));
        }
        let mut st = self
            .0
            .prepare_cached(
                "INSERT INTO indicator_report (digest, kind, affiliate, typology, status, reports, first_ms, last_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)
                 ON CONFLICT (digest, affiliate) DO UPDATE SET typology = excluded.typology,
                   status = excluded.status, reports = excluded.reports, last_ms = excluded.last_ms",
            )
            .map_err(backend)?;
        for r in reports {
            st.execute(params![
                &r.digest[..],
                r.kind,
                a.as_str(),
                r.typology,
                r.status,
                r.reports,
                r.first_ms,
                r.last_ms
            ])
            .map_err(backend)?;
        }
        Ok(())
    }
}

impl ActionRepo for SqliteTx<'_> {
    fn queue_actions(&mut self, actions: &[ActionRow]) -> Result<()> {
        insert_actions(self.0, actions)
    }

    fn holder(&mut self, key: &str) -> Result<Option<AffiliateId>> {
        holder(self.0, key)
    }
}

impl CampaignRepo for SqliteTx<'_> {
    fn insert_campaign(&mut self, c: &CampaignRow) -> Result<bool> {
        let n = self
            .0
            .execute(
                &format!("INSERT INTO campaign ({CAMPAIGN_COLS}) VALUES (?1, ?2, ?3, ?4) ON CONFLICT (id) DO NOTHING"),
                params![c.id, c.body, c.created_ms, c.updated_ms],
            )
            .map_err(backend)?;
        Ok(n == 1)
    }

    fn update_campaign(&mut self, id: &str, body: &str, updated_ms: i64) -> Result<()> {
        let n = self
            .0
            .execute("UPDATE campaign SET body = ?2, updated_ms = ?3 WHERE id = ?1", params![id, body, updated_ms])
            .map_err(backend)?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("campaign {id}")));
        }
        Ok(())
    }

    fn enroll(&mut self, m: &MemberRow) -> Result<bool> {
        let n = self
            .0
            .execute(
                "INSERT INTO campaign_member (campaign, affiliate, subject, control, enrolled_ms) VALUES (?1, ?2, ?3, ?4, ?5)
                 ON CONFLICT DO NOTHING",
                params![m.campaign, m.affiliate.as_str(), m.subject, i64::from(m.control), m.enrolled_ms],
            )
            .map_err(backend)?;
        Ok(n == 1)
    }
}

impl RulesetRepo for SqliteTx<'_> {
    fn latest_version(&mut self, a: &AffiliateId) -> Result<i64> {
        self.0
            .query_row("SELECT COALESCE(MAX(version), 0) FROM ruleset WHERE affiliate = ?1", params![a.as_str()], |r| {
                r.get(0)
            })
            .map_err(backend)
    }

    fn publish(&mut self, a: &AffiliateId, version: i64, source: &str, now_ms: i64) -> Result<()> {
        self.0
            .execute("UPDATE ruleset SET active = 0 WHERE affiliate = ?1 AND active = 1", params![a.as_str()])
            .map_err(backend)?;
        self.0
            .execute(
                "INSERT INTO ruleset (affiliate, version, source, published_ms, active) VALUES (?1, ?2, ?3, ?4, 1)",
                params![a.as_str(), version, source, now_ms],
            )
            .map_err(backend)?;
        Ok(())
    }
}

fn case_reports(c: &Connection, case_id: i64) -> Result<Vec<ReportRow>> {
    let mut st = c
        .prepare_cached(&format!("SELECT {REPORT_COLS} FROM report WHERE case_id = ?1 ORDER BY created_ms, receipt"))
        .map_err(backend)?;
    let rows = st
        .query_map(params![case_id], report_row_of)
        .map_err(backend)?
        .collect::<rusqlite::Result<Vec<_>>>()
        .map_err(backend)?;
    Ok(rows)
}

fn holder(c: &Connection, key: &str) -> Result<Option<AffiliateId>> {
    c.query_row("SELECT affiliate FROM holder WHERE key = ?1", params![key], |r| Ok(AffiliateId(r.get(0)?)))
        .optional()
        .map_err(backend)
}

const PERSON_COLS: &str =
    "username, affiliate, role, password_hash, disabled, failed_logins, locked_until_ms, created_ms,
     updated_ms, totp_secret, totp_step";

fn person_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<PersonRow> {
    Ok(PersonRow {
        username: r.get(0)?,
        affiliate: AffiliateId(r.get(1)?),
        role: r.get(2)?,
        password_hash: r.get(3)?,
        disabled: r.get::<_, i64>(4)? != 0,
        failed_logins: r.get(5)?,
        locked_until_ms: r.get(6)?,
        created_ms: r.get(7)?,
        updated_ms: r.get(8)?,
        totp_secret: r.get(9)?,
        totp_step: r.get(10)?,
    })
}

impl People for SqliteStore {
    fn insert_person(&self, p: &PersonRow) -> Result<bool> {
        let n = lock(&self.writer)
            .execute(
                &format!(
                    "INSERT INTO person ({PERSON_COLS}) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
                     ON CONFLICT (username) DO NOTHING"
                ),
                params![
                    p.username,
                    p.affiliate.as_str(),
                    p.role,
                    p.password_hash,
                    i64::from(p.disabled),
                    p.failed_logins,
                    p.locked_until_ms,
                    p.created_ms,
                    p.updated_ms,
                    p.totp_secret,
                    p.totp_step
                ],
            )
            .map_err(backend)?;
        Ok(n == 1)
    }

    fn person(&self, username: &str) -> Result<Option<PersonRow>> {
        let c = self.read();
        let mut st =
            c.prepare_cached(&format!("SELECT {PERSON_COLS} FROM person WHERE username = ?1")).map_err(backend)?;
        st.query_row(params![username], person_row).optional().map_err(backend)
    }

    fn people(&self, a: Option<&AffiliateId>) -> Result<Vec<PersonRow>> {
        let c = self.read();
        let mut st = c
            .prepare_cached(&format!(
                "SELECT {PERSON_COLS} FROM person WHERE ?1 IS NULL OR affiliate = ?1 ORDER BY username"
            ))
            .map_err(backend)?;
        let rows = st.query_map(params![a.map(|a| a.as_str())], person_row).map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
    }

    fn update_person(&self, p: &PersonRow) -> Result<()> {
        let n = lock(&self.writer)
            .execute(
                "UPDATE person SET role = ?2, password_hash = ?3, disabled = ?4, updated_ms = ?5, totp_secret = ?6
                 WHERE username = ?1",
                params![p.username, p.role, p.password_hash, i64::from(p.disabled), p.updated_ms, p.totp_secret],
            )
            .map_err(backend)?;
        if n == 0 {
            return Err(StoreError::NotFound(format!("person {}", p.username)));
        }
        Ok(())
    }

    fn login_failed(&self, username: &str, lock_until: &dyn Fn(i64) -> i64) -> Result<i64> {
        let mut c = lock(&self.writer);
        let tx = c.transaction().map_err(backend)?;
        let failed: Option<i64> = tx
            .query_row(
                "UPDATE person SET failed_logins = failed_logins + 1 WHERE username = ?1 RETURNING failed_logins",
                params![username],
                |r| r.get(0),
            )
            .optional()
            .map_err(backend)?;
        let Some(failed) = failed else { return Ok(0) };
        tx.execute("UPDATE person SET locked_until_ms = ?2 WHERE username = ?1", params![username, lock_until(failed)])
            .map_err(backend)?;
        tx.commit().map_err(backend)?;
        Ok(failed)
    }

    fn login_succeeded(&self, username: &str) -> Result<()> {
        lock(&self.writer)
            .execute("UPDATE person SET failed_logins = 0, locked_until_ms = 0 WHERE username = ?1", params![username])
            .map_err(backend)?;
        Ok(())
    }

    fn use_totp_step(&self, username: &str, step: i64) -> Result<bool> {
        let n = lock(&self.writer)
            .execute("UPDATE person SET totp_step = ?2 WHERE username = ?1 AND totp_step < ?2", params![username, step])
            .map_err(backend)?;
        Ok(n == 1)
    }

    fn insert_session(&self, s: &SessionRow) -> Result<()> {
        lock(&self.writer)
            .execute(
                "INSERT INTO console_session (token_hash, username, csrf, created_ms, seen_ms) VALUES (?1, ?2, ?3, ?4, ?5)",
                params![&s.token_hash[..], s.username, s.csrf, s.created_ms, s.seen_ms],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn session(&self, token_hash: &[u8; 32]) -> Result<Option<SessionRow>> {
        let c = self.read();
        let mut st = c
            .prepare_cached(
                "SELECT token_hash, username, csrf, created_ms, seen_ms FROM console_session WHERE token_hash = ?1",
            )
            .map_err(backend)?;
        st.query_row(params![&token_hash[..]], |r| {
            let h: Vec<u8> = r.get(0)?;
            Ok(SessionRow {
                token_hash: h.try_into().unwrap_or([0; 32]),
                username: r.get(1)?,
                csrf: r.get(2)?,
                created_ms: r.get(3)?,
                seen_ms: r.get(4)?,
            })
        })
        .optional()
        .map_err(backend)
    }

    fn touch_session(&self, token_hash: &[u8; 32], seen_ms: i64) -> Result<()> {
        lock(&self.writer)
            .execute(
                "UPDATE console_session SET seen_ms = MAX(seen_ms, ?2) WHERE token_hash = ?1",
                params![&token_hash[..], seen_ms],
            )
            .map_err(backend)?;
        Ok(())
    }

    fn delete_session(&self, token_hash: &[u8; 32]) -> Result<()> {
        lock(&self.writer)
            .execute("DELETE FROM console_session WHERE token_hash = ?1", params![&token_hash[..]])
            .map_err(backend)?;
        Ok(())
    }

    fn delete_sessions(&self, username: &str) -> Result<usize> {
        lock(&self.writer)
            .execute("DELETE FROM console_session WHERE username = ?1", params![username])
            .map_err(backend)
    }
}

impl Desk for SqliteStore {
    fn recent_reports(&self, limit: usize) -> Result<Vec<ReportRow>> {
        let c = self.read();
        let mut st = c
            .prepare_cached(&format!(
                "SELECT {REPORT_COLS} FROM report ORDER BY created_ms DESC, receipt DESC LIMIT ?1"
            ))
            .map_err(backend)?;
        let rows = st.query_map(params![limit as i64], report_row_of).map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
    }

    fn actions_with_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<ActionRow>> {
        let c = self.read();
        let end = prefix_end(prefix).unwrap_or_else(|| "\u{10ffff}".into());
        let mut st = c
            .prepare_cached(&format!(
                "SELECT {ACTION_COLS} FROM action WHERE id >= ?1 AND id < ?2 ORDER BY id LIMIT ?3"
            ))
            .map_err(backend)?;
        let rows = st.query_map(params![prefix, end, limit as i64], action_row).map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
    }

    fn requeue_action(&self, id: &str, now_ms: i64) -> Result<bool> {
        let n = lock(&self.writer)
            .execute(
                "UPDATE action SET dead_ms = NULL, attempts = 0, next_ms = ?2 WHERE id = ?1 AND dead_ms IS NOT NULL",
                params![id, now_ms],
            )
            .map_err(backend)?;
        Ok(n == 1)
    }

    fn attention_cases(&self, now_ms: i64, limit: usize) -> Result<Vec<CaseRow>> {
        let c = self.read();
        let mut st = c
            .prepare_cached(&format!(
                "SELECT {CASE_COLS} FROM fraud_case WHERE state <> 'closed' AND first_action_ms IS NULL AND sla_due_ms < ?1
                 UNION ALL SELECT {CASE_COLS} FROM fraud_case WHERE state = 'relief'
                 ORDER BY sla_due_ms, id LIMIT ?2"
            ))
            .map_err(backend)?;
        let rows = st.query_map(params![now_ms, limit as i64], case_row).map_err(backend)?;
        rows.collect::<rusqlite::Result<Vec<_>>>().map_err(backend)
    }

    fn open_case_count(&self) -> Result<i64> {
        self.read()
            .query_row("SELECT COUNT(*) FROM fraud_case WHERE state <> 'closed'", [], |r| r.get(0))
            .map_err(backend)
    }

    fn dead_action_count(&self) -> Result<i64> {
        self.read()
            .query_row("SELECT COUNT(*) FROM action WHERE dead_ms IS NOT NULL", [], |r| r.get(0))
            .map_err(backend)
    }
}
