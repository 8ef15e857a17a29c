//! The decision use case against a real embedded store: durability, idempotency (sequential
//! and concurrent), restart with feature state intact (snapshot + replay), publish and
//! rollback, and isolation between affiliates.

use app::{App, AppConfig, AppError, Scope};
use domain::{AffiliateId, Event, Verdict};
use signals::digest_map::SHARDS;
use std::sync::Arc;

/// Counts each subject's transfers in an hour and holds the third.
const RULES: &str = include_str!("../../../test_data/rulesets/velocity.toml");

fn aff(s: &str) -> AffiliateId {
    AffiliateId(s.into())
}

fn transfer(id: &str, affiliate: &str, minute: u32) -> Event {
    Event::from_json(
        &format!(
            r#"{{"id":"{id}","affiliate":"{affiliate}","kind":"transfer","at":"2026-11-26T10:{minute:02}:00+09:00","subject":{{"id":"u1"}},
               "transfer":{{"amount":10000,"counterparty":{{"bank":"088","account":"110123456789"}}}}}}"#
        ),
        None,
    )
    .unwrap()
}

fn open(dir: &std::path::Path, snapshot_every: u64) -> Arc<App> {
    let mut cfg = AppConfig::new(dir);
    cfg.snapshot_every = snapshot_every;
    let app = App::open(cfg).unwrap();
    app.ensure_affiliate(&aff("pay"), "Pay", RULES).unwrap();
    app.ensure_affiliate(&aff("bank"), "Bank", &RULES.replace("\"pay\"", "\"bank\"")).unwrap();
    app
}

fn count(app: &App, a: &str, minute: u32) -> Option<i64> {
    app.peek_features(&aff(a), &transfer("peek", a, minute)).unwrap()[0].1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_are_durable_idempotent_and_survive_restart() {
    let dir = tempfile::tempdir().unwrap();
    let pay = aff("pay");
    {
        let app = open(dir.path(), 2);
        let d1 = app.decide(&pay, transfer("e1", "pay", 0)).await.unwrap();
        assert!(!d1.duplicate);
        let again = app.decide(&pay, transfer("e1", "pay", 0)).await.unwrap();
        assert!(again.duplicate, "a repeated id returns the stored decision");
        assert_eq!(again.decision_id, d1.decision_id);
        assert_eq!(app.store().event_count(&pay).unwrap(), 1);
        app.decide(&pay, transfer("e2", "pay", 1)).await.unwrap();
        let d3 = app.decide(&pay, transfer("e3", "pay", 2)).await.unwrap();
        assert_eq!(d3.decision.verdict, Verdict::Hold, "three transfers, duplicates not counted");
        assert_eq!(count(&app, "pay", 3), Some(3));
        // Two more after the last snapshot (every 2 decisions), then a crash: no shutdown.
        app.decide(&pay, transfer("e4", "pay", 3)).await.unwrap();
        app.decide(&pay, transfer("e5", "pay", 4)).await.unwrap();
        app.decide(&pay, transfer("e6", "pay", 5)).await.unwrap();
    }
    let app = open(dir.path(), 2);
    assert_eq!(count(&app, "pay", 6), Some(6), "snapshot plus replay restores the counts");
    let again = app.decide(&pay, transfer("e6", "pay", 5)).await.unwrap();
    assert!(again.duplicate, "idempotency survives a restart");
    let d = app.decision(&pay, &again.decision_id).unwrap();
    assert_eq!(d.event_id, "e6");
    let d7 = app.decide(&pay, transfer("e7", "pay", 6)).await.unwrap();
    assert_eq!(d7.decision.evidence[0].value, serde_json::json!(7));
    assert_eq!(app.store().event_count(&pay).unwrap(), 7);
}

/// A snapshot is taken in parts (one per shard of the state), one every `1 / SHARDS` of
/// `snapshot_every` decisions but at most one per `1 / SHARDS` of `snapshot_min_interval`:
/// each holds the affiliate's decisions while its part of the state is serialised.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn snapshot_parts_are_paced_by_count_and_time() {
    for (interval, want) in [
        (std::time::Duration::ZERO, vec![(0, 2), (1, 4), (2, 6)]),
        (std::time::Duration::from_secs(3600), vec![(0, 2)]),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut cfg = AppConfig::new(dir.path());
        // One part every two decisions.
        cfg.snapshot_every = 2 * SHARDS as u64;
        cfg.snapshot_min_interval = interval;
        let app = App::open(cfg).unwrap();
        app.ensure_affiliate(&aff("pay"), "Pay", RULES).unwrap();
        let pay = aff("pay");
        for i in 0..6 {
            app.decide(&pay, transfer(&format!("e{i}"), "pay", i)).await.unwrap();
        }
        // The writer takes jobs in order and saves a batch's parts after answering its
        // writes: once a write queued after that answer is answered, every part queued before
        // the first is saved.
        app.decide(&pay, transfer("e6", "pay", 6)).await.unwrap();
        app.decide(&pay, transfer("e7", "pay", 7)).await.unwrap();
        let parts: Vec<_> = app
            .store()
            .load_snapshot(&pay)
            .unwrap()
            .iter()
            .map(|p| (p.part.unwrap(), p.seq))
            .filter(|&(_, seq)| seq <= 6)
            .collect();
        assert_eq!(parts, want, "(part, after decision) with {interval:?} between whole snapshots");
    }
}

/// Parts saved after different events restore exactly the state that was live: each key is
/// replayed only with the events its own part does not hold.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_snapshot_in_parts_restores_every_count_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let open = || {
        let mut cfg = AppConfig::new(dir.path());
        // One part after every decision, whatever the time.
        cfg.snapshot_every = SHARDS as u64;
        cfg.snapshot_min_interval = std::time::Duration::ZERO;
        let app = App::open(cfg).unwrap();
        app.ensure_affiliate(&aff("pay"), "Pay", RULES).unwrap();
        app
    };
    let by = |id: &str, subject: usize, minute: u32| {
        Event::from_json(
            &format!(
                r#"{{"id":"{id}","affiliate":"pay","kind":"transfer","at":"2026-11-26T10:{minute:02}:00+09:00","subject":{{"id":"s{subject}"}},
                   "transfer":{{"amount":10000,"counterparty":{{"bank":"088","account":"1101234{subject:05}"}}}}}}"#
            ),
            None,
        )
        .unwrap()
    };
    let pay = aff("pay");
    let peek = |app: &App| -> Vec<Vec<(String, Option<i64>)>> {
        (0..24).map(|s| app.peek_features(&pay, &by("peek", s, 59)).unwrap()).collect()
    };
    let live = {
        let app = open();
        // 24 subjects over the parts, several transfers each, parts saved in between.
        for i in 0..120u32 {
            let s = (i as usize * 7) % 24;
            app.decide(&pay, by(&format!("e{i}"), s, i / 3)).await.unwrap();
        }
        let live = peek(&app);
        assert!(
            app.store()
                .load_snapshot(&pay)
                .unwrap()
                .iter()
                .map(|p| p.seq)
                .collect::<std::collections::HashSet<_>>()
                .len()
                > 1,
            "parts cover different events"
        );
        live
        // Dropped without shutdown: a crash.
    };
    let app = open();
    assert_eq!(peek(&app), live, "every subject's features as they were");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_duplicates_count_once() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path(), 1000);
    let pay = aff("pay");
    let mut handles = Vec::new();
    for i in 0..64 {
        let app = Arc::clone(&app);
        let pay = pay.clone();
        handles.push(tokio::spawn(async move { app.decide(&pay, transfer(&format!("d{}", i % 8), "pay", 0)).await }));
    }
    let mut fresh = 0;
    let mut ids = std::collections::HashSet::new();
    for h in handles {
        let d = h.await.unwrap().unwrap();
        fresh += usize::from(!d.duplicate);
        ids.insert(d.decision_id);
    }
    assert_eq!(fresh, 8, "each of the 8 ids decided once");
    assert_eq!(ids.len(), 8, "every duplicate got its original's decision id");
    assert_eq!(app.store().event_count(&pay).unwrap(), 8);
    assert_eq!(count(&app, "pay", 1), Some(8));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn affiliates_are_isolated() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path(), 1000);
    let (pay, bank) = (aff("pay"), aff("bank"));
    let d = app.decide(&pay, transfer("x1", "pay", 0)).await.unwrap();
    // The same id at another affiliate is another event; features are per affiliate.
    let b = app.decide(&bank, transfer("x1", "bank", 0)).await.unwrap();
    assert!(!b.duplicate);
    assert!(
        matches!(app.decision(&bank, &d.decision_id), Err(AppError::NotFound(_))),
        "bank cannot read pay's decision"
    );
    let err = app.decide(&bank, transfer("x2", "pay", 0)).await.unwrap_err();
    assert!(matches!(err, AppError::Invalid { ref field, .. } if field == "affiliate"), "{err:?}");
    // An event stamped far in the future is refused before it can age every key out.
    let mut future = transfer("x3", "bank", 0);
    future.at = domain::Timestamp(app::now_ms() + 2 * app::MAX_FUTURE_MS);
    let err = app.decide(&bank, future).await.unwrap_err();
    assert!(matches!(err, AppError::Invalid { ref field, .. } if field == "at"), "{err:?}");
    assert_eq!(app.store().event_count(&bank).unwrap(), 1, "nothing stored for it");
    assert_eq!(count(&app, "bank", 1), Some(1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_validate_rollback_and_keys() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path(), 1000);
    let pay = aff("pay");
    assert_eq!(app.active_ruleset(&pay).unwrap().version, 1);
    let broken = RULES.replace(">= 3", ">= 'three'");
    let Err(AppError::Rules(d)) = app.publish(&pay, Some(&broken)) else { panic!("broken ruleset published") };
    assert_eq!(d[0].code, "type-mismatch");
    assert_eq!(app.active_ruleset(&pay).unwrap().version, 1);
    let v2 = app.publish(&pay, Some(&RULES.replace(">= 3", ">= 2"))).unwrap();
    assert_eq!((v2.version, v2.label.as_str()), (2, "pay@v2"), "the version is the next in history");
    app.decide(&pay, transfer("k1", "pay", 0)).await.unwrap();
    let d = app.decide(&pay, transfer("k2", "pay", 1)).await.unwrap();
    assert_eq!(d.decision.verdict, Verdict::Hold);
    assert_eq!(&*d.decision.ruleset, "pay@v2");
    let back = app.rollback(&pay, 1).unwrap();
    assert!(back.active && back.version == 1);
    let d = app.decide(&pay, transfer("k3", "pay", 2)).await.unwrap();
    assert_eq!(&*d.decision.ruleset, "pay@v1");
    assert_eq!(app.ruleset_history(&pay).unwrap().len(), 2);
    app.put_draft(&pay, "not toml at all").unwrap();
    assert!(matches!(app.publish(&pay, None), Err(AppError::Rules(_))));

    let key = app.create_key(&pay, &[Scope::Decide]).unwrap();
    let p = app.authenticate(&key).unwrap();
    assert_eq!(p.affiliate, pay);
    assert!(app::access::authorize(&p, app::access::Action::Decide).is_ok());
    let denied = app::access::authorize(&p, app::access::Action::EditRules);
    assert!(matches!(denied, Err(AppError::Forbidden("rules:write"))));
    assert!(matches!(app.authenticate("ak_wrong"), Err(AppError::Unauthorized)));
}

/// Publishes at the same moment each get their own version, in order, and each version holds
/// the source that was published under it.
#[test]
fn simultaneous_publishes_take_distinct_versions() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path(), 1000);
    let pay = aff("pay");
    let published: Vec<(i64, String)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..8)
            .map(|i| {
                let app = &app;
                let pay = &pay;
                s.spawn(move || {
                    let src = RULES.replace(">= 3", &format!(">= {}", i + 3));
                    let v = app.publish(pay, Some(&src)).unwrap();
                    (v.version, format!(">= {}", i + 3))
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let mut versions: Vec<i64> = published.iter().map(|p| p.0).collect();
    versions.sort_unstable();
    assert_eq!(versions, (2..=9).collect::<Vec<_>>());
    let history = app.ruleset_history(&pay).unwrap();
    for (v, marker) in &published {
        let h = history.iter().find(|h| h.version == *v).unwrap();
        assert!(h.source.contains(marker.as_str()), "version {v} holds what was published under it");
    }
}

/// The writer's queue is bounded: when more writes wait than `max_queued`, decisions are
/// refused as busy before they are made, so a refused event is neither stored nor counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_write_queue_refuses_decisions_without_counting_them() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = AppConfig::new(dir.path());
    cfg.max_batch = 1;
    cfg.max_queued = 2;
    let app = App::open(cfg).unwrap();
    app.ensure_affiliate(&aff("pay"), "Pay", RULES).unwrap();
    let tasks: Vec<_> = (0..300)
        .map(|i| {
            let app = Arc::clone(&app);
            tokio::spawn(async move { app.decide(&aff("pay"), transfer(&format!("q{i}"), "pay", 0)).await })
        })
        .collect();
    let (mut ok, mut busy) = (0i64, 0i64);
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => ok += 1,
            Err(AppError::Overloaded(_)) => busy += 1,
            Err(e) => panic!("{e}"),
        }
    }
    assert!(busy > 0, "one writer committing one write at a time falls behind 300 at once");
    assert!(ok > 0);
    assert_eq!(app.store().event_count(&aff("pay")).unwrap(), ok, "every accepted event is stored");
    assert_eq!(count(&app, "pay", 0), Some(ok), "refused events were not counted");
}

/// Regression: a clean shutdown left the write-ahead log behind (17 MB after a demo); it is
/// checkpointed into the database and truncated, so a stopped store is one file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_clean_shutdown_leaves_no_write_ahead_log() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path(), 1000);
    for i in 0..200 {
        app.decide(&aff("pay"), transfer(&format!("w{i}"), "pay", (i % 60) as u32)).await.unwrap();
    }
    let wal = dir.path().join("ansim.db-wal");
    assert!(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0) > 0, "the log is in use while running");
    app.shutdown();
    assert_eq!(std::fs::metadata(&wal).map(|m| m.len()).unwrap_or(0), 0, "a stopped store leaves no log");
    drop(app);
    let app = open(dir.path(), 1000);
    assert_eq!(app.store().event_count(&aff("pay")).unwrap(), 200, "everything is in the database file");
}

/// Keys can be listed (never shown again, only their prefix and scopes) and revoked; a revoked
/// key authenticates nothing from the next request on, in this process at once.
#[test]
fn keys_are_listed_and_revoked() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path(), 1000);
    let pay = aff("pay");
    let admin_key = app.create_key(&pay, &[Scope::Admin]).unwrap();
    let admin = app.authenticate(&admin_key).unwrap();
    let decide_key = app.create_key(&pay, &[Scope::Decide]).unwrap();
    let bank_key = app.create_key(&aff("bank"), &[Scope::Decide]).unwrap();
    assert!(app.authenticate(&decide_key).is_ok());
    let listed = app.list_keys(&admin).unwrap();
    assert_eq!(listed.len(), 2, "only pay's keys: {listed:?}");
    assert!(listed.iter().all(|k| !k.revoked && k.affiliate == pay));
    let prefix = decide_key.chars().take(8).collect::<String>();
    assert!(listed.iter().any(|k| k.prefix == prefix && k.scopes == [Scope::Decide]));
    // A decide key may not manage keys; another affiliate's key is not found.
    let decider = app.authenticate(&decide_key).unwrap();
    assert!(matches!(app.list_keys(&decider), Err(AppError::Forbidden(_))));
    let bank_prefix = bank_key.chars().take(8).collect::<String>();
    assert!(matches!(app.revoke_key(&admin, &bank_prefix), Err(AppError::NotFound(_))));
    app.revoke_key(&admin, &prefix).unwrap();
    assert!(matches!(app.authenticate(&decide_key), Err(AppError::Unauthorized)));
    assert!(app.cached_principal(&decide_key).is_none(), "the cache forgot it");
    assert!(app.list_keys(&admin).unwrap().iter().any(|k| k.prefix == prefix && k.revoked));
    assert!(app.authenticate(&bank_key).is_ok(), "other keys still work");
}
