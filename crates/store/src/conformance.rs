//! The conformance suite every [`Store`] backend must pass, written against the trait only.
//! A backend's test calls [`run_all`] with a fresh, empty store.

use crate::{ApiKey, EventRecord, Scope, Store, StoreError, Write};
use domain::AffiliateId;

fn aff(s: &str) -> AffiliateId {
    AffiliateId(s.to_string())
}

/// A sample event record for tests.
pub fn record(seq: i64, event_id: &str) -> EventRecord {
    EventRecord {
        seq,
        event_id: event_id.to_string(),
        decision_id: format!("dec_{event_id}"),
        at_ms: 1_795_600_000_000 + seq,
        kind: "transfer".into(),
        verdict: "allow".into(),
        score: 0,
        ruleset: "t@v1".into(),
        event_json: format!("{{\"id\":\"{event_id}\"}}"),
        decision_json: "{}".into(),
        decided_ms: 1_795_600_000_000,
    }
}

fn write(a: &AffiliateId, seq: i64, id: &str) -> Write {
    Write { affiliate: a.clone(), record: record(seq, id), outbox: vec![] }
}

/// Runs every check; panics with a message naming the broken promise.
pub fn run_all(s: &dyn Store) {
    affiliates_and_keys(s);
    commits_are_atomic_and_idempotent(s);
    tenants_are_isolated(s);
    replay_order(s);
    rulesets(s);
    snapshots(s);
    outbox(s);
    indicator_reports(s);
    protection(s);
}

fn protection(s: &dyn Store) {
    let (pay, bank) = (aff("pay"), aff("bank"));
    s.put_protection(&bank, "u1", "{\"loan_lock\":true}", 1).unwrap();
    s.put_protection(&bank, "u0", "{}", 1).unwrap();
    s.put_protection(&bank, "u1", "{\"loan_lock\":false}", 2).unwrap();
    assert_eq!(
        s.protections(&bank).unwrap(),
        vec![("u0".to_string(), "{}".to_string()), ("u1".to_string(), "{\"loan_lock\":false}".to_string())],
        "protection settings are replaced per subject"
    );
    assert!(s.protections(&pay).unwrap().is_empty(), "protection settings are per affiliate");
    assert!(s.cancel_hold(&bank, 7, 100).unwrap(), "a first cancel is recorded");
    assert!(!s.cancel_hold(&bank, 7, 200).unwrap(), "a second cancel of the same hold is refused");
    assert!(s.cancel_hold(&bank, 3, 300).unwrap());
    assert_eq!(
        s.cancelled_holds(&bank).unwrap(),
        vec![(3, 300), (7, 100)],
        "cancels come back by seq, first time kept"
    );
    assert!(s.cancelled_holds(&pay).unwrap().is_empty(), "cancels are per affiliate");
}

fn indicator_reports(s: &dyn Store) {
    let (pay, bank) = (aff("pay"), aff("bank"));
    let r = crate::IndicatorReport {
        digest: [9; 32],
        kind: "account".into(),
        affiliate: bank.clone(),
        typology: "mule".into(),
        status: "reported".into(),
        reports: 1,
        first_ms: 10,
        last_ms: 10,
    };
    s.upsert_report(&bank, &r).unwrap();
    s.upsert_report(
        &bank,
        &crate::IndicatorReport { status: "confirmed".into(), reports: 2, last_ms: 20, ..r.clone() },
    )
    .unwrap();
    s.upsert_report(&pay, &crate::IndicatorReport { affiliate: pay.clone(), ..r.clone() }).unwrap();
    assert!(s.upsert_report(&pay, &r).is_err(), "pay cannot write bank's report");
    // A batch is all or none: one foreign row fails it, and its own rows are not written.
    let own = crate::IndicatorReport { digest: [7; 32], affiliate: pay.clone(), ..r.clone() };
    assert!(s.upsert_reports(&pay, &[own.clone(), r.clone()]).is_err());
    assert!(s.all_reports().unwrap().iter().all(|x| x.digest != [7; 32]), "nothing half-imported");
    let mut all = s.all_reports().unwrap();
    all.sort_by(|a, b| a.affiliate.cmp(&b.affiliate));
    assert_eq!(all.len(), 2);
    assert_eq!((all[0].affiliate.as_str(), all[0].status.as_str(), all[0].reports), ("bank", "confirmed", 2));
    assert_eq!((all[0].first_ms, all[0].last_ms), (10, 20), "first seen is kept");
    assert_eq!(all[1].affiliate.as_str(), "pay");
}

fn affiliates_and_keys(s: &dyn Store) {
    let (pay, bank) = (aff("pay"), aff("bank"));
    s.upsert_affiliate(&pay, "Pay", 1).unwrap();
    s.upsert_affiliate(&bank, "Bank", 1).unwrap();
    s.upsert_affiliate(&pay, "Pay app", 2).unwrap();
    let all = s.affiliates().unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all.iter().find(|a| a.id == pay).unwrap().name, "Pay app", "upsert renames");
    let key = ApiKey {
        hash: [7; 32],
        prefix: "ak_7".into(),
        affiliate: pay.clone(),
        scopes: vec![Scope::Decide, Scope::RulesWrite],
        revoked: false,
    };
    s.insert_key(&pay, &key, 3).unwrap();
    assert_eq!(s.key_by_hash(&[7; 32]).unwrap(), Some(key.clone()));
    assert_eq!(s.key_by_hash(&[8; 32]).unwrap(), None);
    assert!(s.insert_key(&bank, &key, 3).is_err(), "a key is stored only under its own affiliate");
}

fn commits_are_atomic_and_idempotent(s: &dyn Store) {
    let pay = aff("pay");
    s.commit(&[write(&pay, 1, "e1"), write(&pay, 2, "e2")]).unwrap();
    assert_eq!(s.event_count(&pay).unwrap(), 2);
    // A batch with a duplicate event id fails whole: e3 is not stored either.
    let err = s.commit(&[write(&pay, 3, "e3"), write(&pay, 4, "e1")]).unwrap_err();
    assert!(matches!(err, StoreError::Conflict(_)), "{err:?}");
    assert_eq!(s.event_count(&pay).unwrap(), 2);
    assert_eq!(s.event_by_id(&pay, "e3").unwrap(), None);
    assert_eq!(s.event_by_id(&pay, "e2").unwrap(), Some(record(2, "e2")));
    assert_eq!(s.event_by_seq(&pay, 1).unwrap(), Some(record(1, "e1")));
    assert_eq!(s.last_seq(&pay).unwrap(), 2);
}

fn tenants_are_isolated(s: &dyn Store) {
    let (pay, bank) = (aff("pay"), aff("bank"));
    // The same event id at another affiliate is another event.
    s.commit(&[write(&bank, 1, "e1")]).unwrap();
    assert_eq!(s.event_count(&bank).unwrap(), 1);
    assert_eq!(s.event_by_id(&bank, "e2").unwrap(), None, "bank cannot read pay's e2");
    assert_eq!(s.event_by_seq(&bank, 2).unwrap(), None, "nor by sequence number");
    assert_eq!(s.events_after(&bank, 0, 10).unwrap().len(), 1);
    assert_eq!(s.last_seq(&aff("nobody")).unwrap(), 0);
    s.put_draft(&pay, "pay draft", 1).unwrap();
    assert_eq!(s.draft(&bank).unwrap(), None);
}

fn replay_order(s: &dyn Store) {
    let a = aff("replay");
    let writes: Vec<Write> = (1..=50).rev().map(|i| write(&a, i, &format!("r{i}"))).collect();
    s.commit(&writes).unwrap();
    let page1 = s.events_after(&a, 0, 20).unwrap();
    let page2 = s.events_after(&a, 20, 100).unwrap();
    let seqs: Vec<i64> = page1.iter().chain(&page2).map(|r| r.seq).collect();
    assert_eq!(seqs, (1..=50).collect::<Vec<_>>(), "events come back in sequence order, paged");
    let ids = s.event_ids(&a, 45, 100).unwrap();
    assert_eq!(ids, (46..=50).map(|i| (i, format!("r{i}"))).collect::<Vec<_>>());
}

fn rulesets(s: &dyn Store) {
    let a = aff("rules");
    assert_eq!(s.active_ruleset(&a).unwrap(), None);
    s.put_draft(&a, "v1 source", 1).unwrap();
    s.put_draft(&a, "v2 draft", 2).unwrap();
    assert_eq!(s.draft(&a).unwrap().as_deref(), Some("v2 draft"));
    s.publish(&a, 1, "v1 source", 10).unwrap();
    s.publish(&a, 2, "v2 source", 20).unwrap();
    assert!(s.publish(&a, 2, "again", 30).is_err(), "a version number is used once");
    let active = s.active_ruleset(&a).unwrap().unwrap();
    assert_eq!((active.version, active.source.as_str(), active.active), (2, "v2 source", true));
    let hist = s.ruleset_history(&a).unwrap();
    assert_eq!(hist.iter().map(|r| (r.version, r.active)).collect::<Vec<_>>(), vec![(2, true), (1, false)]);
    s.activate(&a, 1).unwrap();
    assert_eq!(s.active_ruleset(&a).unwrap().unwrap().version, 1);
    assert!(matches!(s.activate(&a, 9), Err(StoreError::NotFound(_))));
    assert_eq!(s.active_ruleset(&a).unwrap().unwrap().version, 1, "a failed rollback changes nothing");
    assert_eq!(s.active_ruleset(&aff("pay")).unwrap(), None, "rulesets are per affiliate");
}

fn snapshots(s: &dyn Store) {
    let a = aff("snap");
    assert_eq!(s.load_snapshot(&a).unwrap(), None);
    s.save_snapshot(&a, 10, b"state-10", 1).unwrap();
    s.save_snapshot(&a, 20, b"state-20", 2).unwrap();
    assert_eq!(s.load_snapshot(&a).unwrap(), Some((20, b"state-20".to_vec())));
    assert_eq!(s.load_snapshot(&aff("pay")).unwrap(), None);
}

fn outbox(s: &dyn Store) {
    let a = aff("out");
    let mut w = write(&a, 1, "o1");
    w.outbox = vec![("case.open".into(), "{\"e\":1}".into()), ("webhook".into(), "{}".into())];
    s.commit(&[w]).unwrap();
    let pending = s.outbox_pending(10).unwrap();
    let mine: Vec<_> = pending.iter().filter(|o| o.affiliate == a).collect();
    assert_eq!(mine.len(), 2);
    assert_eq!(mine[0].topic, "case.open");
    s.outbox_done(&[mine[0].id], 5).unwrap();
    let left: Vec<_> = s.outbox_pending(10).unwrap().into_iter().filter(|o| o.affiliate == a).collect();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].topic, "webhook");
}
