//! The feature conformance suite on Redis: every `test_data/features` scenario gives the same
//! answers from Redis as its expectations and as the in-memory state, a long random
//! stream (late events, more values than a set keeps, filters, read keys) gives the same answer
//! for every event and feature, a claimed event id is counted once, and two nodes counting one
//! key at the same time lose no update. Needs a server:
//! `ANSIM_TEST_REDIS` (for example `redis://127.0.0.1:6379`, which `.ci/run` sets); skipped with
//! a printed reason without it.

#[path = "../../engine/tests/common/mod.rs"]
mod common;

use domain::Event;
use engine::Snapshot;
use signals::FeatureState;
use signals_redis::{Observed, RedisFeatures};
use std::time::Duration;

async fn server(test: &str) -> Option<RedisFeatures> {
    let Ok(url) = std::env::var("ANSIM_TEST_REDIS") else {
        eprintln!("skipping {test}: ANSIM_TEST_REDIS is not set (a Redis address such as redis://127.0.0.1:6379)");
        return None;
    };
    Some(RedisFeatures::connect(&url).await.expect("the test server answers"))
}

/// An affiliate name no other run uses, so runs never see each other's state.
fn fresh_affiliate(test: &str) -> String {
    let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos();
    format!("t{test}{}{}", std::process::id(), n % 1_000_000_000)
}

/// Deletes the affiliate's keys (windows of 30 days would otherwise stay that long).
async fn clean(affiliate: &str) {
    let url = std::env::var("ANSIM_TEST_REDIS").unwrap();
    let mut c = redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.unwrap();
    let keys: Vec<String> = redis::cmd("KEYS").arg(format!("ansim:*:{affiliate}:*")).query_async(&mut c).await.unwrap();
    if !keys.is_empty() {
        let _: () = redis::cmd("DEL").arg(keys).query_async(&mut c).await.unwrap();
    }
}

/// A `count` op of feature `fingerprint` on key `key`, in bucket 100 of a 10-bucket window.
fn count_op(fingerprint: u64, key: u64, keep_ms: i64) -> signals::Op {
    signals::Op {
        kind: signals::FeatureKind::Count,
        fingerprint,
        update: Some(key),
        read: None,
        answer_from_update: true,
        bucket: 100,
        buckets: 10,
        late: 0,
        add: Some(1),
        value: None,
        keep_ms,
    }
}

async fn counted(r: &RedisFeatures, affiliate: &str, snap: &Snapshot, event: &Event) -> Vec<Option<i64>> {
    match r.observe(affiliate, &signals::plan(&snap.features, event), None, None).await.unwrap() {
        Observed::Counted(v, _) => v,
        other => panic!("no claim was asked for, got {other:?}"),
    }
}

#[tokio::test]
async fn redis_answers_every_feature_scenario() {
    let Some(r) = server("redis_answers_every_feature_scenario").await else { return };
    let files = common::fixtures("features", "toml");
    assert!(files.len() >= 5, "expected the feature scenarios in test_data/features");
    for path in files {
        let sc = common::Scenario::load(&path);
        let snap = Snapshot::compile(&sc.ruleset).unwrap();
        let affiliate = fresh_affiliate("scenario");
        let mut memory = FeatureState::new(&snap.features);
        for i in 0..sc.steps.len() {
            let event = sc.event(i);
            let mut want = vec![None; snap.features.len()];
            memory.observe(&snap.features, &event, &mut want);
            let got = counted(&r, &affiliate, &snap, &event).await;
            assert_eq!(got, want, "{}, step {i}: Redis and memory differ", sc.name);
            for (feature, expect) in sc.steps[i]["expect"].as_object().unwrap() {
                let idx = snap.features.iter().position(|f| &f.name == feature).unwrap();
                let shown = match (got[idx], snap.features[idx].kind) {
                    (None, _) => serde_json::Value::from("absent"),
                    (Some(v), signals::FeatureKind::FirstSeen) => serde_json::Value::Bool(v != 0),
                    (Some(v), _) => serde_json::Value::from(v),
                };
                assert_eq!(&shown, expect, "{}, step {i}: feature {feature}", sc.name);
            }
        }
        clean(&affiliate).await;
    }
}

const RULESET: &str = r#"
[ruleset]
name = "t"
version = 1

[[feature]]
name = "tx_10m"
kind = "count"
key = "subject.id"
window = "10m"

[[feature]]
name = "amount_1h"
kind = "sum"
key = "subject.id"
value = "event.amount"
window = "1h"
where = "event.amount >= 50000"

[[feature]]
name = "payees_1d"
kind = "distinct"
key = "subject.id"
value = "counterparty.account_key"
window = "1d"

[[feature]]
name = "new_payee_30d"
kind = "first_seen"
key = "subject.id"
value = "counterparty.account_key"
window = "30d"

[[feature]]
name = "inflow_senders_1h"
kind = "distinct"
key = "counterparty.account_key"
read_key = "transfer.source.account_key"
value = "subject.id"
window = "1h"
"#;

/// A small deterministic generator (xorshift), so a failure repeats.
struct Rng(u64);
impl Rng {
    fn next(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

fn transfer(i: u64, rng: &mut Rng, at_ms: i64) -> Event {
    let subject = rng.next(6);
    // Subject 0 pays a new account every time: more values than a set keeps.
    let account = if subject == 0 { 1_000 + i } else { rng.next(200) };
    let source = if rng.next(3) == 0 {
        format!(r#","source":{{"bank":"004","account":"{:010}"}}"#, rng.next(90))
    } else {
        String::new()
    };
    let amount = [1_000, 30_000, 50_000, 700_000, 2_000_000][rng.next(5) as usize];
    let at = domain::Timestamp(at_ms).to_kst_rfc3339();
    Event::from_json(
        &format!(
            r#"{{"id":"e{i}","affiliate":"bank","kind":"transfer","at":"{at}","subject":{{"id":"s{subject}"}},
               "transfer":{{"amount":{amount},"counterparty":{{"bank":"004","account":"{account:010}"}}{source}}}}}"#
        ),
        None,
    )
    .unwrap()
}

#[tokio::test]
async fn redis_and_memory_agree_on_a_random_stream() {
    let Some(r) = server("redis_and_memory_agree_on_a_random_stream").await else { return };
    let snap = Snapshot::compile(RULESET).unwrap();
    let affiliate = fresh_affiliate("stream");
    let mut memory = FeatureState::new(&snap.features);
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut clock: i64 = 1_795_600_000_000;
    for i in 0..2_500u64 {
        // Mostly forward by up to 3 minutes; sometimes up to 8 minutes late (within the
        // tolerance; later events are the scenarios' part, on keys that are not idle: see the
        // crate's documentation for the one case where the two stores may differ).
        clock += rng.next(180_000) as i64;
        let at = if rng.next(6) == 0 { clock - rng.next(8 * 60_000) as i64 } else { clock };
        let event = transfer(i, &mut rng, at);
        let mut want = vec![None; snap.features.len()];
        memory.observe(&snap.features, &event, &mut want);
        let got = counted(&r, &affiliate, &snap, &event).await;
        assert_eq!(got, want, "event {i} at {at}: Redis and memory differ");
    }
    clean(&affiliate).await;
}

#[tokio::test]
async fn a_claimed_event_is_counted_once() {
    let Some(r) = server("a_claimed_event_is_counted_once").await else { return };
    let snap = Snapshot::compile(RULESET).unwrap();
    let affiliate = fresh_affiliate("claim");
    let event = transfer(1, &mut Rng(7), 1_795_600_000_000);
    let ops = signals::plan(&snap.features, &event);
    let claim = format!("ansim:id:{affiliate}:e1");
    let life = Duration::from_secs(30);
    let (a, b) = tokio::join!(
        r.observe(&affiliate, &ops, Some((&claim, "node-a", life)), None),
        r.observe(&affiliate, &ops, Some((&claim, "node-b", life)), None)
    );
    let (a, b) = (a.unwrap(), b.unwrap());
    let (winner, loser) = match (&a, &b) {
        (Observed::Counted(..), Observed::Claimed(by)) => ("node-a", by.as_str()),
        (Observed::Claimed(by), Observed::Counted(..)) => ("node-b", by.as_str()),
        _ => panic!("exactly one call may count the event: {a:?} {b:?}"),
    };
    assert_eq!(winner, loser, "the loser learns who holds the claim");
    let Observed::Counted(v, _) = (if matches!(a, Observed::Counted(..)) { a } else { b }) else { unreachable!() };
    assert_eq!(v[0], Some(1), "counted once");
    let mut c = redis::Client::open(std::env::var("ANSIM_TEST_REDIS").unwrap())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let ttl: i64 = redis::cmd("PTTL").arg(&claim).query_async(&mut c).await.unwrap();
    assert!(ttl > 0 && ttl <= 30_000, "the claim expires: {ttl}");
    let _: () = redis::cmd("DEL").arg(&claim).query_async(&mut c).await.unwrap();
    clean(&affiliate).await;
}

#[tokio::test]
async fn an_unreachable_redis_is_named() {
    let Err(e) = RedisFeatures::connect("redis://127.0.0.1:1/").await else { panic!("port 1 has no Redis") };
    assert!(e.contains("127.0.0.1:1"), "{e}");
}

/// The payee history: the first payment and the day's spending come back as they stood before
/// the transfer, the transfer is recorded, and undoing a blocked transfer takes it back.
#[tokio::test]
async fn payee_history_is_read_recorded_and_undone() {
    let Some(r) = server("payee_history_is_read_recorded_and_undone").await else { return };
    let affiliate = fresh_affiliate("history");
    let day = 20_000;
    let h = |at_ms, spend| signals_redis::History { pair: Some(42), subject: 7, at_ms, day, spend, forget_ms: 60_000 };
    let seen = |o: Observed| match o {
        Observed::Counted(_, Some(s)) => s,
        other => panic!("{other:?}"),
    };
    let first = seen(r.observe(&affiliate, &[], None, Some(&h(1_000, 600))).await.unwrap());
    assert_eq!(first, signals_redis::Seen { first_ms: None, spent: 0 }, "a new payee, nothing spent");
    let second = seen(r.observe(&affiliate, &[], None, Some(&h(2_000, 300))).await.unwrap());
    assert_eq!(second, signals_redis::Seen { first_ms: Some(1_000), spent: 600 });
    // The second is blocked: its 300 leave the day's sum, the payee stays known from the first.
    r.undo(&affiliate, &h(2_000, 300), &second).await.unwrap();
    let third = seen(r.observe(&affiliate, &[], None, Some(&h(3_000, 0))).await.unwrap());
    assert_eq!(third, signals_redis::Seen { first_ms: Some(1_000), spent: 600 });
    // A payee first recorded by a blocked transfer is forgotten.
    let new = |at_ms| signals_redis::History { pair: Some(43), ..h(at_ms, 0) };
    let s = seen(r.observe(&affiliate, &[], None, Some(&new(4_000))).await.unwrap());
    r.undo(&affiliate, &new(4_000), &s).await.unwrap();
    let again = seen(r.observe(&affiliate, &[], None, Some(&new(5_000))).await.unwrap());
    assert_eq!(again.first_ms, None, "still new");
    clean(&affiliate).await;
}

/// Features of one key share one Redis key, yet each one's state expires on its own: a state
/// not updated for its keep time is gone (as a key of its own would be), while the other
/// features' states of the same key stay, and the key lives as long as the longest.
#[tokio::test]
async fn each_feature_of_one_key_expires_on_its_own() {
    let Some(r) = server("each_feature_of_one_key_expires_on_its_own").await else { return };
    let affiliate = fresh_affiliate("expiry");
    let op = |fingerprint: u64, keep_ms: i64| count_op(fingerprint, 42, keep_ms);
    let (short, long) = (op(0x1111_0000_0000_0000, 150), op(0x2222_0000_0000_0000, 60_000));
    let count = |v: Observed| match v {
        Observed::Counted(v, _) => v,
        other => panic!("no claim was asked for, got {other:?}"),
    };
    assert_eq!(count(r.observe(&affiliate, &[short, long], None, None).await.unwrap()), vec![Some(1), Some(1)]);
    assert_eq!(count(r.observe(&affiliate, &[short, long], None, None).await.unwrap()), vec![Some(2), Some(2)]);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        count(r.observe(&affiliate, &[short, long], None, None).await.unwrap()),
        vec![Some(1), Some(3)],
        "the short-lived state expired, the long-lived one stayed"
    );
    let mut c = redis::Client::open(std::env::var("ANSIM_TEST_REDIS").unwrap())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let ttl: i64 =
        redis::cmd("PTTL").arg(format!("ansim:f3:{affiliate}:{:016x}", 42)).query_async(&mut c).await.unwrap();
    assert!(ttl > 50_000 && ttl <= 60_000, "the key lives as long as its longest-lived feature: {ttl}");
    clean(&affiliate).await;
}

/// Concurrent calls go to Redis together (one read and one compare-and-set for what queued
/// meanwhile), each event still counted in turn: 60 concurrent counts of one key, each claiming its
/// own id, see every count from 1 to 60 exactly once, and a repeated id in the same moment is
/// refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_calls_are_batched_yet_each_counted_in_turn() {
    let Some(r) = server("concurrent_calls_are_batched_yet_each_counted_in_turn").await else { return };
    let affiliate = fresh_affiliate("batch");
    let op = count_op(0x3333_0000_0000_0000, 7, 60_000);
    let mut calls = Vec::new();
    for i in 0..61 {
        let (r, affiliate) = (r.clone(), affiliate.clone());
        calls.push(tokio::spawn(async move {
            // Call 60 repeats call 0's id.
            let claim = format!("ansim:id:{affiliate}:e{}", i % 60);
            r.observe(&affiliate, &[op], Some((&claim, &format!("n{i}"), Duration::from_secs(30))), None).await
        }));
    }
    let (mut counts, mut refused) = (Vec::new(), 0);
    for c in calls {
        match c.await.unwrap().unwrap() {
            Observed::Counted(v, _) => counts.push(v[0].unwrap()),
            Observed::Claimed(_) => refused += 1,
        }
    }
    counts.sort();
    assert_eq!(counts, (1..=60).collect::<Vec<_>>(), "each count seen once");
    assert_eq!(refused, 1, "the repeated id is refused");
    clean(&affiliate).await;
}

/// Two nodes (two connections, each batching its own calls) counting one key at the same
/// time: each node reads, computes and writes back, and a write whose key the other node
/// changed meanwhile is computed again from the new state, so every count from 1 to 240 is
/// seen exactly once and none is lost.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_counting_one_key_lose_no_update() {
    let Some(a) = server("two_nodes_counting_one_key_lose_no_update").await else { return };
    let b = RedisFeatures::connect(&std::env::var("ANSIM_TEST_REDIS").unwrap()).await.unwrap();
    let affiliate = fresh_affiliate("race");
    let op = count_op(0x4444_0000_0000_0000, 9, 60_000);
    let mut calls = Vec::new();
    for i in 0..240 {
        let (r, affiliate) = (if i % 2 == 0 { a.clone() } else { b.clone() }, affiliate.clone());
        calls.push(tokio::spawn(async move { r.observe(&affiliate, &[op], None, None).await }));
    }
    let mut counts = Vec::new();
    for c in calls {
        match c.await.unwrap().unwrap() {
            Observed::Counted(v, _) => counts.push(v[0].unwrap()),
            other => panic!("no claim was asked for, got {other:?}"),
        }
    }
    counts.sort();
    assert_eq!(counts, (1..=240).collect::<Vec<_>>(), "each count seen once across both nodes");
    clean(&affiliate).await;
}
