//! The writer thread: the one place that writes events. It takes every job waiting in its
//! queue, commits all their writes in one transaction (group commit: one fsync for many
//! requests), then answers each request. Snapshots are saved after the events they cover.
//!
//! The queue is bounded: past `capacity` waiting writes a decision is refused before it is
//! made ([`Writer::has_room`]), so a store slower than the traffic costs a `503` with
//! `Retry-After`, never unbounded memory. After a failed commit the writer rebuilds the
//! affected affiliates' state from the store on its own thread, off the async executor.
//!
//! The stored writes' indicator sightings (emerging campaigns, `crate::clusters`) are summed
//! here and handed to the store every [`SIGHTINGS_EVERY`] (and on a flush or a stop), in
//! transactions of their own: their keys are random digests, and writing them in every commit
//! doubled the bytes each commit logged. A crash loses at most that many seconds of
//! sightings, never a decision. Once due they are written [`SIGHTINGS_CHUNK`] cells at a
//! time, one chunk between two commits: ten seconds of a node's sightings are tens of
//! thousands of cells, and writing them in one statement held every commit behind it for a
//! fifth of a second (two nodes' p99 was ten times the budget).

use crate::{AppError, Decided, Metrics};
use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc;
use store::Store;
use tokio::sync::oneshot;

/// How often summed sightings go to the store.
pub(crate) const SIGHTINGS_EVERY: std::time::Duration = std::time::Duration::from_secs(10);

/// Most distinct sighting cells kept before they go to the store early.
const SIGHTINGS_MAX: usize = 100_000;

/// Most cells written between two commits once sightings are due: a few milliseconds of a
/// store's time, so no commit waits long behind them.
pub(crate) const SIGHTINGS_CHUNK: usize = 256;

/// How long to wait after the store refused sightings before trying again.
const SIGHTINGS_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// Sightings of stored writes not yet in the store.
#[derive(Default)]
struct Sightings {
    /// Summed since they were last handed on.
    cells: std::collections::BTreeMap<(domain::AffiliateId, store::ClusterKey), i64>,
    /// When the first of `cells` came.
    since: Option<std::time::Instant>,
    /// Due and waiting to be written, a chunk at a time, in key order (so two nodes adding
    /// the same cells lock their rows in the same order).
    due: std::collections::VecDeque<(domain::AffiliateId, store::ClusterKey, i64)>,
    /// When the store last refused a chunk.
    failed: Option<std::time::Instant>,
}

impl Sightings {
    fn add(&mut self, writes: &[store::Write], outcomes: &[store::Committed]) {
        for (a, k, n) in store::cluster_deltas(writes, outcomes) {
            *self.cells.entry((a, k)).or_default() += n;
        }
        if !self.cells.is_empty() && self.since.is_none() {
            self.since = Some(std::time::Instant::now());
        }
    }

    /// How long the writer may wait for a job before a chunk is due (zero while chunks wait).
    fn due_in(&self) -> Option<std::time::Duration> {
        if let Some(t) = self.failed {
            return Some(SIGHTINGS_RETRY.saturating_sub(t.elapsed()));
        }
        if !self.due.is_empty() {
            return Some(std::time::Duration::ZERO);
        }
        self.since.map(|t| SIGHTINGS_EVERY.saturating_sub(t.elapsed()))
    }

    /// Writes one chunk of what is due (everything, with `all`); cells become due when their
    /// time has come, when there are many, or with `all`. A chunk the store refuses is kept
    /// and tried again after [`SIGHTINGS_RETRY`].
    fn flush(&mut self, store: &dyn Store, all: bool) {
        let full = self.cells.len() >= SIGHTINGS_MAX;
        if all || full || self.since.is_some_and(|t| t.elapsed() >= SIGHTINGS_EVERY) {
            self.due.extend(std::mem::take(&mut self.cells).into_iter().map(|((a, k), n)| (a, k, n)));
            self.since = None;
        }
        if self.failed.is_some_and(|t| t.elapsed() < SIGHTINGS_RETRY) && !all {
            return;
        }
        self.failed = None;
        while !self.due.is_empty() {
            let n = self.due.len().min(SIGHTINGS_CHUNK);
            let chunk: Vec<_> = self.due.range(..n).cloned().collect();
            if store.add_sightings(&chunk).is_err() {
                // The store is failing: its commits fail too and say so; these wait.
                self.failed = Some(std::time::Instant::now());
                return;
            }
            self.due.drain(..n);
            if !all {
                return;
            }
        }
    }
}

/// What the writer tells whoever queued a write (an affiliate's live state).
pub(crate) trait Settle: Send + Sync {
    /// The write of `event_id` committed, or failed.
    fn settled(&self, event_id: &str, outcome: &Result<Decided, AppError>);
    /// A commit failed: rebuild from what the store holds.
    fn rebuild(&self, store: &dyn Store);
}

// Writes are the common job; boxing them would add an allocation per decision.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Job {
    /// An event and its decision to commit; `reply` gets the outcome.
    Write {
        write: store::Write,
        decided: Decided,
        tenant: Arc<dyn Settle>,
        reply: oneshot::Sender<Result<Decided, AppError>>,
    },
    /// A feature-state snapshot taken after the affiliate's last write queued before it; the
    /// writer saves it with that write's sequence number, after answering the writes committed
    /// with it. `state` is the part, serialised (postcard).
    Snapshot { affiliate: domain::AffiliateId, part: u32, state: Vec<u8> },
    /// Answered once everything queued before it is committed.
    Flush(mpsc::Sender<()>),
}

/// Handle to the writer thread.
pub(crate) struct Writer {
    tx: mpsc::Sender<Job>,
    /// Writes queued and not yet taken by the writer.
    queued: Arc<AtomicUsize>,
    /// Most writes that may wait.
    capacity: usize,
}

impl Writer {
    pub(crate) fn start(store: Arc<dyn Store>, max_batch: usize, capacity: usize, metrics: Arc<Metrics>) -> Writer {
        let (tx, rx) = mpsc::channel::<Job>();
        let queued = Arc::new(AtomicUsize::new(0));
        let taken = Arc::clone(&queued);
        std::thread::Builder::new()
            .name("ansim-writer".into())
            .spawn(move || run(rx, store.as_ref(), max_batch.max(1), &taken, &metrics))
            .expect("cannot start the writer thread");
        Writer { tx, queued, capacity: capacity.max(1) }
    }

    /// `Ok` while fewer than `capacity` writes wait; checked before a decision is made, so a
    /// refused event changes no state.
    pub(crate) fn has_room(&self) -> Result<(), AppError> {
        if self.queued.load(Relaxed) >= self.capacity {
            return Err(AppError::Overloaded("the write queue is full"));
        }
        Ok(())
    }

    /// Queues a job. Fails only if the writer thread is gone.
    pub(crate) fn send(&self, job: Job) -> Result<(), AppError> {
        if matches!(job, Job::Write { .. }) {
            self.queued.fetch_add(1, Relaxed);
        }
        self.tx.send(job).map_err(|_| AppError::Unavailable("the writer stopped".into()))
    }

    /// Waits until everything queued so far is committed.
    pub(crate) fn flush(&self) {
        let (tx, rx) = mpsc::channel();
        if self.send(Job::Flush(tx)).is_ok() {
            let _ = rx.recv();
        }
    }
}

fn run(rx: mpsc::Receiver<Job>, store: &dyn Store, max_batch: usize, queued: &AtomicUsize, metrics: &Metrics) {
    // Each affiliate's last committed sequence number, for the snapshots.
    let mut last_seq: HashMap<domain::AffiliateId, i64> = HashMap::new();
    let mut sightings = Sightings::default();
    loop {
        let first = match sightings.due_in() {
            Some(wait) => match rx.recv_timeout(wait) {
                Ok(j) => j,
                Err(mpsc::RecvTimeoutError::Timeout) => {
                    sightings.flush(store, false);
                    continue;
                }
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            },
            None => match rx.recv() {
                Ok(j) => j,
                Err(_) => break,
            },
        };
        let mut jobs = vec![first];
        while jobs.len() < max_batch {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let taken = jobs.iter().filter(|j| matches!(j, Job::Write { .. })).count();
        queued.fetch_sub(taken, Relaxed);
        let mut writes = Vec::new();
        let mut replies = Vec::new();
        // A snapshot part follows the writes queued before it: `(affiliate, writes before it,
        // part, state)`.
        let mut snapshots = Vec::new();
        let mut flushes = Vec::new();
        for j in jobs {
            match j {
                Job::Write { write, decided, tenant, reply } => {
                    writes.push(write);
                    replies.push((decided, tenant, reply));
                }
                Job::Snapshot { affiliate, part, state } => snapshots.push((affiliate, writes.len(), part, state)),
                Job::Flush(tx) => flushes.push(tx),
            }
        }
        for (a, _, _, _) in &snapshots {
            if !last_seq.contains_key(a)
                && let Ok(n) = store.last_seq(a)
            {
                last_seq.insert(a.clone(), n);
            }
        }
        let mut numbered = Vec::new();
        let result = if writes.is_empty() {
            Ok(Vec::new())
        } else {
            let t = std::time::Instant::now();
            let r = store.commit(&writes);
            metrics.dependencies.store_commit.record(t.elapsed(), r.is_ok());
            r
        };
        match &result {
            Ok(outcomes) => {
                if !writes.is_empty() {
                    metrics.commits.fetch_add(1, Relaxed);
                    metrics.committed_writes.fetch_add(writes.len() as u64, Relaxed);
                }
                sightings.add(&writes, outcomes);
                // Walk the writes in order, numbering each snapshot with the last write queued
                // before it; they are saved once the writes are answered.
                let mut pending = snapshots.into_iter().peekable();
                for i in 0..=writes.len() {
                    while let Some((a, _, part, state)) = pending.next_if(|(_, before, _, _)| *before == i) {
                        if let Some(&seq) = last_seq.get(&a)
                            && seq > 0
                        {
                            numbered.push((a, part, seq, state));
                        }
                    }
                    if let (Some(w), Some(store::Committed::Stored { seq, .. })) = (writes.get(i), outcomes.get(i)) {
                        last_seq.insert(w.affiliate.clone(), *seq);
                    }
                }
            }
            Err(_) => {
                metrics.commit_errors.fetch_add(1, Relaxed);
            }
        }
        let mut failed: Vec<Arc<dyn Settle>> = Vec::new();
        for (i, ((mut decided, tenant, reply), w)) in replies.into_iter().zip(&writes).enumerate() {
            let outcome = match &result {
                Ok(outcomes) => match &outcomes[i] {
                    store::Committed::Stored { decision_id, .. } => {
                        decided.decision_id.clone_from(decision_id);
                        Ok(decided)
                    }
                    // Another node stored this id first (or this batch held it twice): the
                    // stored decision is the answer, if the content is the same.
                    store::Committed::Duplicate(r) => crate::repeat::repeat(r, &w.record.event_json),
                },
                Err(e) => Err(AppError::Unavailable(e.to_string())),
            };
            tenant.settled(&w.record.event_id, &outcome);
            let _ = reply.send(outcome);
            if result.is_err() && !failed.iter().any(|t| Arc::ptr_eq(t, &tenant)) {
                failed.push(tenant);
            }
        }
        for t in failed {
            t.rebuild(store);
        }
        // Snapshot parts, after the answers: writing one (a few hundred KB and its own commit)
        // holds no request.
        for (a, part, seq, state) in numbered {
            if store.save_snapshot(&a, part, seq, &state, crate::now_ms()).is_ok() {
                metrics.snapshots.fetch_add(1, Relaxed);
            }
        }
        // A flush means "everything so far is in the store": sightings too.
        sightings.flush(store, !flushes.is_empty());
        for f in flushes {
            let _ = f.send(());
        }
    }
    sightings.flush(store, true);
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::AffiliateId;

    /// Sightings of stored writes are summed and reach the store when due or asked for, not
    /// with every commit; a repeat's sightings are not counted.
    #[test]
    fn sightings_are_summed_and_added_when_due() {
        let dir = tempfile::tempdir().unwrap();
        let s = store::sqlite::SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let a = AffiliateId("pay".into());
        let mule = store::ClusterKey { day: 20_000, kind: "account".into(), value: "ab".into() };
        let w = |id: &str| store::Write { clusters: vec![mule.clone()], ..store::conformance::write(&a, id) };
        let mut sightings = Sightings::default();
        for ids in [["e1", "e2"], ["e2", "e3"]] {
            let writes = [w(ids[0]), w(ids[1])];
            let out = s.commit(&writes).unwrap();
            sightings.add(&writes, &out);
        }
        sightings.flush(&s, false);
        assert!(s.cluster_days(20_000, 20_000).unwrap().is_empty(), "not due yet");
        assert!(sightings.due_in().is_some_and(|d| d <= SIGHTINGS_EVERY));
        sightings.flush(&s, true);
        let rows = s.cluster_days(20_000, 20_000).unwrap();
        assert_eq!(rows.iter().map(|r| r.decisions).collect::<Vec<_>>(), [3], "e1, e2, e3 once each");
        assert_eq!(sightings.due_in(), None, "nothing left");
    }

    /// Due sightings go to the store a chunk at a time, one chunk per call between commits,
    /// so no commit waits behind ten seconds of them; a flush still writes them all.
    #[test]
    fn due_sightings_are_written_a_chunk_at_a_time() {
        let dir = tempfile::tempdir().unwrap();
        let s = store::sqlite::SqliteStore::open(&dir.path().join("s.db")).unwrap();
        let a = AffiliateId("pay".into());
        let cell = |i: usize| store::ClusterKey { day: 20_000, kind: "account".into(), value: format!("{i:04}") };
        let stored = || s.cluster_days(20_000, 20_000).unwrap().len();
        let mut sightings = Sightings::default();
        let many = SIGHTINGS_CHUNK * 2 + 10;
        let writes: Vec<_> = (0..many)
            .map(|i| store::Write { clusters: vec![cell(i)], ..store::conformance::write(&a, &format!("e{i}")) })
            .collect();
        let out = s.commit(&writes).unwrap();
        sightings.add(&writes, &out);
        // Ten seconds have passed since the first of them.
        sightings.since = Some(std::time::Instant::now() - SIGHTINGS_EVERY);
        sightings.flush(&s, false);
        assert_eq!(stored(), SIGHTINGS_CHUNK, "one chunk");
        assert_eq!(sightings.due_in(), Some(std::time::Duration::ZERO), "the rest is due at once");
        sightings.flush(&s, false);
        assert_eq!(stored(), SIGHTINGS_CHUNK * 2, "the next chunk");
        // A new sighting of a cell still waiting is summed on top of it, not lost.
        let again = [store::Write { clusters: vec![cell(many - 1)], ..store::conformance::write(&a, "again") }];
        let out = s.commit(&again).unwrap();
        sightings.add(&again, &out);
        sightings.flush(&s, true);
        let rows = s.cluster_days(20_000, 20_000).unwrap();
        assert_eq!(rows.len(), many, "every cell once");
        assert_eq!(rows.iter().map(|r| r.decisions).sum::<i64>(), many as i64 + 1);
        assert_eq!(sightings.due_in(), None, "nothing left");
    }
}
