//! The writer thread: the one place that writes events. It takes every job waiting in its
//! queue, commits all their writes in one transaction (group commit: one fsync for many
//! requests), then answers each request. Snapshots are saved after the events they cover.

use crate::tenant::Tenant;
use crate::{AppError, Decided, Metrics};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::mpsc;
use store::Store;
use tokio::sync::oneshot;

// Writes are the common job; boxing them would add an allocation per decision.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Job {
    /// An event and its decision to commit; `reply` gets the outcome.
    Write {
        write: store::Write,
        decided: Decided,
        tenant: Arc<Tenant>,
        reply: oneshot::Sender<Result<Decided, AppError>>,
    },
    /// A feature-state snapshot taken after event `seq`.
    Snapshot { affiliate: domain::AffiliateId, seq: i64, state: Vec<u8> },
    /// Answered once everything queued before it is committed.
    Flush(mpsc::Sender<()>),
}

/// Handle to the writer thread.
pub(crate) struct Writer {
    tx: mpsc::Sender<Job>,
}

impl Writer {
    pub(crate) fn start(store: Arc<dyn Store>, max_batch: usize, metrics: Arc<Metrics>) -> Writer {
        let (tx, rx) = mpsc::channel::<Job>();
        std::thread::Builder::new()
            .name("ansim-writer".into())
            .spawn(move || run(rx, store.as_ref(), max_batch.max(1), &metrics))
            .expect("cannot start the writer thread");
        Writer { tx }
    }

    /// Queues a job. Fails only if the writer thread is gone.
    pub(crate) fn send(&self, job: Job) -> Result<(), AppError> {
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

fn run(rx: mpsc::Receiver<Job>, store: &dyn Store, max_batch: usize, metrics: &Metrics) {
    while let Ok(first) = rx.recv() {
        let mut jobs = vec![first];
        while jobs.len() < max_batch {
            match rx.try_recv() {
                Ok(j) => jobs.push(j),
                Err(_) => break,
            }
        }
        let mut writes = Vec::new();
        let mut replies = Vec::new();
        let mut snapshots = Vec::new();
        let mut flushes = Vec::new();
        for j in jobs {
            match j {
                Job::Write { write, decided, tenant, reply } => {
                    writes.push(write);
                    replies.push((decided, tenant, reply));
                }
                Job::Snapshot { affiliate, seq, state } => snapshots.push((affiliate, seq, state)),
                Job::Flush(tx) => flushes.push(tx),
            }
        }
        let result = if writes.is_empty() { Ok(()) } else { store.commit(&writes) };
        match &result {
            Ok(()) => {
                if !writes.is_empty() {
                    metrics.commits.fetch_add(1, Relaxed);
                    metrics.committed_writes.fetch_add(writes.len() as u64, Relaxed);
                }
                for (a, seq, state) in snapshots {
                    if store.save_snapshot(&a, seq, &state, crate::now_ms()).is_ok() {
                        metrics.snapshots.fetch_add(1, Relaxed);
                    }
                }
            }
            Err(_) => {
                metrics.commit_errors.fetch_add(1, Relaxed);
            }
        }
        for ((decided, tenant, reply), w) in replies.into_iter().zip(&writes) {
            let outcome = match &result {
                Ok(()) => Ok(decided),
                Err(e) => Err(AppError::Unavailable(e.to_string())),
            };
            tenant.settled(&w.record.event_id, &outcome);
            let _ = reply.send(outcome);
        }
        for f in flushes {
            let _ = f.send(());
        }
    }
}
