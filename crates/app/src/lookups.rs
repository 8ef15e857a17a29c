//! Event-id lookups in the store, batched: every decision on a node of several asks the store
//! whether its id was decided before (any node may have decided it), and one query per
//! decision cost a round trip and a blocking-thread hop each. Callers queue their id; one
//! blocking task answers everything queued with one [`store::Store::events_by_ids`] call, and
//! what arrives meanwhile goes in the next — like the writer's group commit, the batch grows
//! with the load and a lone lookup waits for nobody.

use domain::AffiliateId;
use std::sync::{Arc, Mutex};
use store::{EventRecord, Store, StoreError};
use tokio::sync::oneshot;

type Answer = oneshot::Sender<Result<Option<EventRecord>, StoreError>>;
/// An id waiting to be looked up, and where its answer goes.
type Waiting = (AffiliateId, String, Answer);

/// Ids waiting to be looked up, and whether a task is answering them.
#[derive(Default)]
pub(crate) struct Lookups {
    queue: Mutex<(Vec<Waiting>, bool)>,
}

/// Most ids in one query.
const MAX_BATCH: usize = 512;

impl Lookups {
    /// The stored event with this id, if any.
    pub(crate) async fn get(
        self: &Arc<Self>,
        store: &Arc<dyn Store>,
        a: &AffiliateId,
        event_id: &str,
    ) -> Result<Option<EventRecord>, StoreError> {
        let (tx, rx) = oneshot::channel();
        let start = {
            let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
            q.0.push((a.clone(), event_id.to_string(), tx));
            !std::mem::replace(&mut q.1, true)
        };
        if start {
            let (me, store) = (Arc::clone(self), Arc::clone(store));
            tokio::task::spawn_blocking(move || me.answer(&*store));
        }
        rx.await.map_err(|_| StoreError::Backend("the event-id lookup stopped".into()))?
    }

    /// Answers batches until the queue is empty.
    fn answer(&self, store: &dyn Store) {
        loop {
            let batch: Vec<_> = {
                let mut q = self.queue.lock().unwrap_or_else(|p| p.into_inner());
                if q.0.is_empty() {
                    q.1 = false;
                    return;
                }
                let n = q.0.len().min(MAX_BATCH);
                q.0.drain(..n).collect()
            };
            let ids: Vec<(AffiliateId, String)> = batch.iter().map(|(a, id, _)| (a.clone(), id.clone())).collect();
            // A panic answers this batch with an error instead of stalling every later lookup.
            let found = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| store.events_by_ids(&ids)))
                .unwrap_or_else(|_| Err(StoreError::Backend("the event-id lookup failed".into())));
            match found {
                Ok(found) => {
                    for ((_, _, tx), r) in batch.into_iter().zip(found) {
                        let _ = tx.send(Ok(r));
                    }
                }
                Err(e) => {
                    for (_, _, tx) in batch {
                        let _ = tx.send(Err(StoreError::Backend(e.to_string())));
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use store::conformance::write;

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn concurrent_lookups_each_get_their_own_answer() {
        let dir = tempfile::tempdir().unwrap();
        let store: Arc<dyn Store> = Arc::new(store::sqlite::SqliteStore::open(&dir.path().join("s.db")).unwrap());
        let (pay, bank) = (AffiliateId("pay".into()), AffiliateId("bank".into()));
        store.commit(&(0..100).map(|i| write(&pay, &format!("e{i}"))).collect::<Vec<_>>()).unwrap();
        let lookups = Arc::new(Lookups::default());
        let mut asks = Vec::new();
        for i in 0..300 {
            let (l, s, pay, bank) = (Arc::clone(&lookups), Arc::clone(&store), pay.clone(), bank.clone());
            // Even: pay's ids e0..e149 (e0..e99 stored as seq 1..100); odd: bank's, none stored.
            asks.push(tokio::spawn(async move {
                let a = if i % 2 == 0 { pay } else { bank };
                let id = format!("e{}", i / 2);
                (i, l.get(&s, &a, &id).await.unwrap().map(|r| (r.seq, r.event_id)))
            }));
        }
        for ask in asks {
            let (i, got) = ask.await.unwrap();
            let want = (i % 2 == 0 && i / 2 < 100).then(|| (i64::from(i / 2 + 1), format!("e{}", i / 2)));
            assert_eq!(got, want, "lookup {i}");
        }
        // The answering task sends the last answers, then finds the queue empty and stops:
        // it may still be between the two when the last answer arrives here.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while lookups.queue.lock().unwrap().1 && std::time::Instant::now() < deadline {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        assert!(!lookups.queue.lock().unwrap().1, "no task is left answering an empty queue");
    }
}
