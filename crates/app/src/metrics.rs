//! Counters of the decision path, read by the server's `/metrics` and the live page.

use domain::{Decision, Verdict};
use std::collections::HashMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Decision and commit counters. Cheap to update from many threads.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Decisions made (not counting duplicates).
    pub decisions: AtomicU64,
    /// Decisions by verdict, in `Verdict::ALL` order.
    pub verdicts: [AtomicU64; 4],
    /// Repeated event ids answered from the store.
    pub duplicates: AtomicU64,
    /// Transactions committed by the writer.
    pub commits: AtomicU64,
    /// Writes committed.
    pub committed_writes: AtomicU64,
    /// Transactions that failed.
    pub commit_errors: AtomicU64,
    /// Feature-state snapshots saved.
    pub snapshots: AtomicU64,
    /// Held transfers the user cancelled.
    pub holds_cancelled: AtomicU64,
    /// Reports filed (people and affiliates; not decision-made case work).
    pub reports_filed: AtomicU64,
    /// Cases opened.
    pub cases_opened: AtomicU64,
    /// Cases confirmed as fraud.
    pub cases_confirmed: AtomicU64,
    /// Follow-up actions delivered to webhooks.
    pub actions_delivered: AtomicU64,
    /// Follow-up actions given up on.
    pub actions_dead: AtomicU64,
    /// Calls to each outside service, their total time and their failures.
    pub dependencies: Dependencies,
    /// Decisions made in a degraded mode (a shared service unreachable).
    pub degraded: AtomicU64,
    rule_hits: Mutex<HashMap<String, u64>>,
    /// Would-be hits per (affiliate, shadow rule).
    shadow_hits: Mutex<HashMap<(String, String), u64>>,
}

/// One outside service's calls: how many, how long in all (µs), how many failed.
#[derive(Debug, Default)]
pub struct Calls {
    /// Calls made.
    pub count: AtomicU64,
    /// Their total duration, µs.
    pub micros: AtomicU64,
    /// Calls that failed.
    pub errors: AtomicU64,
}

impl Calls {
    /// Records one call that took `took` and succeeded or not.
    pub fn record(&self, took: std::time::Duration, ok: bool) {
        self.count.fetch_add(1, Relaxed);
        self.micros.fetch_add(u64::try_from(took.as_micros()).unwrap_or(u64::MAX), Relaxed);
        if !ok {
            self.errors.fetch_add(1, Relaxed);
        }
    }
}

/// Calls to the services a node depends on.
#[derive(Debug, Default)]
pub struct Dependencies {
    /// The store's group commits (SQLite or PostgreSQL).
    pub store_commit: Calls,
    /// The store's reads on the decision path (a repeated id, another node's decision).
    pub store_read: Calls,
    /// Shared features and event-id claims in Redis.
    pub redis: Calls,
}

impl Metrics {
    pub(crate) fn record(&self, affiliate: &domain::AffiliateId, d: &Decision) {
        self.decisions.fetch_add(1, Relaxed);
        let i = Verdict::ALL.iter().position(|v| *v == d.verdict).unwrap_or(0);
        self.verdicts[i].fetch_add(1, Relaxed);
        if !d.reasons.is_empty() {
            let mut hits = self.rule_hits.lock().unwrap_or_else(|p| p.into_inner());
            for r in &d.reasons {
                match hits.get_mut(&*r.rule) {
                    Some(n) => *n += 1,
                    None => {
                        hits.insert(r.rule.to_string(), 1);
                    }
                }
            }
        }
        if !d.shadow.is_empty() {
            let mut hits = self.shadow_hits.lock().unwrap_or_else(|p| p.into_inner());
            for r in &d.shadow {
                *hits.entry((affiliate.to_string(), r.to_string())).or_default() += 1;
            }
        }
    }

    /// Would-be hits per affiliate and shadow rule id, sorted (never acted on), in this
    /// process since it started.
    pub fn shadow_hits(&self) -> Vec<((String, String), u64)> {
        let mut v: Vec<_> =
            self.shadow_hits.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(k, n)| (k.clone(), *n)).collect();
        v.sort();
        v
    }

    /// Decisions per verdict.
    pub fn verdict_counts(&self) -> [(Verdict, u64); 4] {
        Verdict::ALL.map(|v| (v, self.verdicts[Verdict::ALL.iter().position(|x| *x == v).unwrap_or(0)].load(Relaxed)))
    }

    /// Hits per rule id, sorted by id.
    pub fn rule_hits(&self) -> Vec<(String, u64)> {
        let mut v: Vec<_> =
            self.rule_hits.lock().unwrap_or_else(|p| p.into_inner()).iter().map(|(k, n)| (k.clone(), *n)).collect();
        v.sort();
        v
    }
}
