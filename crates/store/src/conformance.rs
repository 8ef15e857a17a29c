//! The conformance suite every [`Store`] backend must pass, written against the trait only.
//! A backend's test calls [`run_all`] with a fresh, empty store.

use crate::{ApiKey, Committed, EventRecord, Scope, Store, StoreError, Write, in_transaction};
use domain::{AffiliateId, CaseOutcome, CaseState};

fn aff(s: &str) -> AffiliateId {
    AffiliateId(s.to_string())
}

/// The tag the suite's writes give `event_id` (any digest of it will do).
pub fn tag(event_id: &str) -> u64 {
    event_id.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The record a store holds for the suite's write of `event_id` once it is numbered `seq`.
pub fn record(seq: i64, event_id: &str) -> EventRecord {
    EventRecord {
        seq,
        event_id: event_id.to_string(),
        decision_id: crate::decision_id(seq, tag(event_id)),
        at_ms: 1_795_600_000_000 + (tag(event_id) % 1000) as i64,
        kind: "transfer".into(),
        verdict: "allow".into(),
        score: 0,
        ruleset: "t@v1".into(),
        event_json: format!("{{\"id\":\"{event_id}\"}}"),
        decision_json: "{}".into(),
        decided_ms: 1_795_600_000_000,
    }
}

/// A write of event `id`; its sequence number and decision id are left for the store.
pub fn write(a: &AffiliateId, id: &str) -> Write {
    let record = EventRecord { seq: 0, decision_id: String::new(), ..record(0, id) };
    Write { affiliate: a.clone(), tag: tag(id), record, outbox: vec![], trend: None, clusters: vec![], rules: vec![] }
}

/// The outcome of the suite's write of `id` stored as `seq`.
pub fn stored(seq: i64, id: &str) -> Committed {
    Committed::Stored { seq, decision_id: crate::decision_id(seq, tag(id)) }
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
    reports_and_cases(s);
    a_failed_unit_of_work_leaves_nothing(s);
    concurrent_units_of_work_serialise(s);
    rulesets_publish_in_units_of_work(s);
    actions_and_webhooks(s);
    trend_rollup(s);
    cluster_rollup(s);
    rule_rollup(s);
    campaigns(s);
    people_and_sessions(s);
    desk(s);
}

/// The indicator rollup adds sightings as decisions and reports apart, per affiliate and day;
/// a commit leaves it alone (its caller adds the stored writes' sightings, see
/// [`crate::cluster_deltas`]).
fn cluster_rollup(s: &dyn Store) {
    let (a, b) = (aff("cluster-a"), aff("cluster-b"));
    let key = |day: i64, kind: &str, value: &str| crate::ClusterKey { day, kind: kind.into(), value: value.into() };
    let mule = key(30_000, "account", "ab12");
    let family = key(30_000, "domain", "cj-delivery#.xyz");
    let w = |aff: &AffiliateId, id: &str, keys: Vec<crate::ClusterKey>| Write { clusters: keys, ..write(aff, id) };
    // A repeat (stored before, or twice in one batch) adds nothing.
    let writes = [w(&a, "c1", vec![mule.clone(), family.clone()]), w(&a, "c2", vec![mule.clone()])];
    let out = s.commit(&writes).unwrap();
    assert!(s.cluster_days(30_000, 30_000).unwrap().is_empty(), "a commit writes no sighting");
    s.add_sightings(&crate::cluster_deltas(&writes, &out)).unwrap();
    let writes = [w(&a, "c1", vec![mule.clone()]), w(&a, "c3", vec![mule.clone()]), w(&a, "c3", vec![mule.clone()])];
    let out = s.commit(&writes).unwrap();
    s.add_sightings(&crate::cluster_deltas(&writes, &out)).unwrap();
    let writes = [w(&b, "c1", vec![mule.clone()]), w(&b, "c9", vec![key(30_002, "account", "ab12")])];
    let out = s.commit(&writes).unwrap();
    s.add_sightings(&crate::cluster_deltas(&writes, &out)).unwrap();
    in_transaction(s, |tx| tx.count_reported(&b, &[mule.clone(), mule.clone(), key(30_001, "phone", "cd34")])).unwrap();
    let got: Vec<(String, i64, String, String, i64, i64)> = s
        .cluster_days(30_000, 30_001)
        .unwrap()
        .into_iter()
        .map(|r| (r.affiliate.0, r.key.day, r.key.kind, r.key.value, r.decisions, r.reports))
        .collect();
    let row = |a: &str, day: i64, kind: &str, value: &str, d: i64, r: i64| {
        (a.to_string(), day, kind.to_string(), value.to_string(), d, r)
    };
    assert_eq!(
        got,
        vec![
            row("cluster-a", 30_000, "account", "ab12", 3, 0),
            row("cluster-b", 30_000, "account", "ab12", 1, 2),
            row("cluster-a", 30_000, "domain", "cj-delivery#.xyz", 1, 0),
            row("cluster-b", 30_001, "phone", "cd34", 0, 1),
        ],
        "by day, kind, value and affiliate; repeats once; the day after the range left out"
    );
}

/// The rule rollup counts each stored write's rules once (a repeat adds nothing), on its
/// event's Korea-time day, per affiliate.
fn rule_rollup(s: &dyn Store) {
    let (a, b) = (aff("rule-a"), aff("rule-b"));
    let w = |aff: &AffiliateId, id: &str, day: i64, rules: &[&str]| {
        let mut x = write(aff, id);
        // 20:00 Korea time of `day`: 11:00 UTC.
        x.record.at_ms = day * 86_400_000 + 11 * 3_600_000;
        x.rules = rules.iter().map(|r| r.to_string()).collect();
        x
    };
    s.commit(&[w(&a, "r1", 40_000, &["mule", "new-payee"]), w(&a, "r2", 40_000, &["mule"])]).unwrap();
    s.commit(&[w(&a, "r1", 40_000, &["mule"]), w(&a, "r3", 40_001, &["mule"]), w(&b, "r1", 40_000, &["mule"])])
        .unwrap();
    let got: Vec<(String, i64, String, i64)> =
        s.rule_days(40_000, 40_001).unwrap().into_iter().map(|r| (r.affiliate.0, r.day, r.rule, r.hits)).collect();
    let row = |a: &str, day: i64, rule: &str, hits: i64| (a.to_string(), day, rule.to_string(), hits);
    assert_eq!(
        got,
        vec![
            row("rule-a", 40_000, "mule", 2),
            row("rule-b", 40_000, "mule", 1),
            row("rule-a", 40_000, "new-payee", 1),
            row("rule-a", 40_001, "mule", 1),
        ],
        "by day, rule and affiliate; a repeat once"
    );
    assert_eq!(s.rule_days(40_001, 40_001).unwrap().len(), 1);
}

fn trend_rollup(s: &dyn Store) {
    let (a, b) = (aff("trend-a"), aff("trend-b"));
    let key = |day: i64, verdict: &str| crate::TrendKey {
        day,
        kind: "transfer".into(),
        verdict: verdict.into(),
        typology: "impersonation".into(),
        age_band: "60s".into(),
        amount_band: "1m_10m".into(),
    };
    let w = |aff: &AffiliateId, id: &str, day: i64, verdict: &str, amount: i64| Write {
        trend: Some((key(day, verdict), amount)),
        ..write(aff, id)
    };
    s.commit(&[
        w(&a, "t1", 20_000, "hold", 1_000_000),
        w(&a, "t2", 20_000, "hold", 2_000_000),
        w(&a, "t3", 20_001, "allow", 5),
    ])
    .unwrap();
    // A repeat (stored before, or twice in one batch) counts once; another affiliate apart.
    s.commit(&[w(&a, "t1", 20_000, "hold", 1_000_000), w(&a, "t4", 20_000, "hold", 7), w(&a, "t4", 20_000, "hold", 7)])
        .unwrap();
    s.commit(&[w(&b, "t1", 20_000, "hold", 3)]).unwrap();
    let got: Vec<(String, i64, String, i64, i64)> = s
        .trend_days(Some(&a), 20_000, 20_001)
        .unwrap()
        .into_iter()
        .map(|r| (r.affiliate.0, r.key.day, r.key.verdict, r.decisions, r.amount))
        .collect();
    assert_eq!(
        got,
        vec![("trend-a".into(), 20_000, "hold".into(), 3, 3_000_007), ("trend-a".into(), 20_001, "allow".into(), 1, 5)],
        "decisions and amounts per cell, repeats once"
    );
    assert_eq!(s.trend_days(Some(&a), 20_001, 20_001).unwrap().len(), 1, "days outside the range are left out");
    let all = s.trend_days(None, 20_000, 20_000).unwrap();
    assert_eq!(all.iter().map(|r| r.decisions).sum::<i64>(), 4, "every affiliate together");
    assert_eq!(all.iter().find(|r| r.affiliate == b).map(|r| r.amount), Some(3));
    assert_eq!(all[0].key, key(20_000, "hold"));
}

fn new_case(priority: i64, at: i64) -> crate::CaseRow {
    crate::CaseRow {
        id: 0,
        state: CaseState::New,
        outcome: None,
        priority,
        assignee: None,
        typology: Some("impersonation".into()),
        money_at_risk: 1_000_000,
        reporting: vec!["public".into()],
        holding: vec![],
        linked_case: None,
        opened_ms: at,
        updated_ms: at,
        sla_due_ms: at + 1_000,
        first_action_ms: None,
        closed_ms: None,
        body: "{\"version\":1}".into(),
    }
}

fn report(receipt: &str, case_id: i64, at: i64) -> crate::ReportRow {
    crate::ReportRow {
        receipt: receipt.into(),
        secret_hash: [1; 32],
        source: "public".into(),
        kind: "voice_phishing".into(),
        case_id,
        priority: 10,
        body: "{}".into(),
        created_ms: at,
        subject: None,
        amount: 0,
    }
}

fn entry(action: &str, at: i64, case_id: Option<i64>) -> crate::AuditEntry {
    crate::AuditEntry { at_ms: at, actor: "test".into(), case_id, action: action.into(), detail: "{}".into() }
}

/// Files a report: the case linked to `digests` or a new one (the policy lives in the
/// application; this is the smallest caller the repositories need).
fn file(s: &dyn Store, receipt: &str, digests: &[[u8; 32]], priority: i64, at: i64) -> (i64, bool) {
    in_transaction(s, |tx| {
        let linked = tx.cases_linked(digests)?;
        let (id, new) = match linked.first() {
            Some(c) => {
                let mut c = c.clone();
                let expected = c.updated_ms;
                c.priority = c.priority.max(priority);
                c.updated_ms = at;
                tx.update_case(&c, expected)?;
                (c.id, false)
            }
            None => (tx.insert_case(&new_case(priority, at))?, true),
        };
        tx.link(id, digests)?;
        tx.insert_report(&report(receipt, id, at))?;
        tx.append_audit(&[entry("report.filed", at, Some(id))])?;
        Ok((id, new))
    })
    .unwrap()
}

fn reports_and_cases(s: &dyn Store) {
    let (a, b, c) = ([1u8; 32], [2u8; 32], [3u8; 32]);
    let (case1, new1) = file(s, "R1", &[a], 10, 100);
    assert!(new1);
    let (case2, new2) = file(s, "R2", &[b, a], 50, 200);
    assert_eq!((case2, new2), (case1, false), "a report naming a known indicator joins its case");
    let (case3, _) = file(s, "R3", &[b], 5, 300);
    assert_eq!(case3, case1, "indicators linked by the second report join too");
    let (other, new4) = file(s, "R4", &[c], 20, 400);
    assert!(new4 && other != case1);
    let dup = in_transaction(s, |tx| tx.insert_report(&report("R4", other, 401)));
    assert!(matches!(dup, Err(StoreError::Conflict(_))), "receipt numbers are unique: {dup:?}");

    let case = s.case(case1).unwrap().unwrap();
    assert_eq!((case.state, case.priority), (CaseState::New, 50), "the case takes its highest priority");
    assert_eq!(
        (case.typology.as_deref(), case.money_at_risk, case.reporting.as_slice()),
        (Some("impersonation"), 1_000_000, ["public".to_string()].as_slice()),
        "the typed columns round-trip"
    );
    let receipts: Vec<String> = s.case_reports(case1).unwrap().into_iter().map(|r| r.receipt).collect();
    assert_eq!(receipts, ["R1", "R2", "R3"]);
    assert_eq!(s.report("R4").unwrap().unwrap().case_id, other);
    assert!(s.report("nope").unwrap().is_none());
    let queue: Vec<i64> = s.open_cases(10).unwrap().into_iter().map(|c| c.id).collect();
    assert_eq!(queue, [case1, other], "the queue orders by priority");
    let opened = |from, to| s.cases_opened(from, to).unwrap().into_iter().map(|c| c.id).collect::<Vec<_>>();
    assert_eq!(opened(0, 1_000), [case1, other], "cases by when they were opened");
    assert_eq!(opened(101, 1_000), [other]);
    assert_eq!(opened(0, 100), Vec::<i64>::new(), "the end is not included");

    let mut changed = case.clone();
    changed.state = CaseState::Closed;
    changed.outcome = Some(CaseOutcome::ConfirmedFraud);
    changed.holding = vec!["bank".into()];
    changed.closed_ms = Some(500);
    changed.updated_ms = 500;
    in_transaction(s, |tx| {
        tx.update_case(&changed, case.updated_ms)?;
        tx.append_audit(&[entry("case.closed", 500, Some(case1))])
    })
    .unwrap();
    let stale = in_transaction(s, |tx| tx.update_case(&changed, case.updated_ms));
    assert!(matches!(stale, Err(StoreError::Conflict(_))), "a stale update is refused");
    assert_eq!(s.case(case1).unwrap().unwrap(), changed, "every column is stored");
    assert_eq!(s.open_cases(10).unwrap().len(), 1);
    // Linking moves a digest: after a closed case, a new case takes its indicators over.
    let next = in_transaction(s, |tx| {
        let id = tx.insert_case(&crate::CaseRow { linked_case: Some(case1), ..new_case(1, 600) })?;
        tx.link(id, &[a])?;
        Ok(id)
    })
    .unwrap();
    let linked: Vec<i64> = in_transaction(s, |tx| tx.cases_linked(&[a, b])).unwrap().iter().map(|c| c.id).collect();
    assert_eq!(linked, [case1, next], "b stays with the closed case, a moved to the new one");

    let log = s.audit_log().unwrap();
    assert_eq!(log.len(), 5);
    assert_eq!(log[0].entry.case_id, Some(case1));
    assert_eq!(crate::verify_audit(&log), Ok(5));
    let mut forged = log.clone();
    forged[2].entry.detail = "{\"edited\":true}".into();
    assert_eq!(crate::verify_audit(&forged).unwrap_err().0, 3);
}

/// A unit of work that fails half-way leaves nothing: not the case it inserted, not the
/// report, the audit rows, the registry rows or the actions it wrote before the failure.
fn a_failed_unit_of_work_leaves_nothing(s: &dyn Store) {
    let (cases, audit, reports) =
        (s.open_cases(1_000).unwrap().len(), s.audit_log().unwrap().len(), s.all_reports().unwrap().len());
    let bank = aff("bank");
    let r = in_transaction(s, |tx| -> crate::Result<()> {
        let id = tx.insert_case(&new_case(99, 700))?;
        tx.link(id, &[[42; 32]])?;
        tx.insert_report(&report("R-half", id, 700))?;
        tx.append_audit(&[entry("report.filed", 700, Some(id))])?;
        let row = crate::IndicatorReport {
            digest: [42; 32],
            kind: "account".into(),
            affiliate: bank.clone(),
            typology: "mule".into(),
            status: "reported".into(),
            reports: 1,
            first_ms: 700,
            last_ms: 700,
        };
        tx.upsert_reports(&bank, &[row])?;
        tx.publish(&aff("half"), 1, "src", 700)?;
        tx.insert_campaign(&campaign("half", 700))?;
        tx.enroll(&member("half", "bank", "u1", false, 700))?;
        // The use case fails after every write: a duplicate receipt.
        tx.insert_report(&report("R-half", id, 701))
    });
    assert!(r.is_err());
    assert_eq!(s.open_cases(1_000).unwrap().len(), cases, "no case");
    assert!(s.report("R-half").unwrap().is_none(), "no report");
    assert_eq!(s.audit_log().unwrap().len(), audit, "no audit row");
    assert_eq!(s.all_reports().unwrap().len(), reports, "no registry row");
    assert_eq!(s.active_ruleset(&aff("half")).unwrap(), None, "no ruleset");
    assert!(s.campaigns().unwrap().iter().all(|c| c.id != "half"), "no campaign");
    assert!(s.campaign_subjects("half", &bank).unwrap().is_empty(), "no member");
    assert!(in_transaction(s, |tx| tx.cases_linked(&[[42; 32]])).unwrap().is_empty(), "no link");
    // An error the work itself returns rolls back the same way.
    let r: crate::Result<()> = in_transaction(s, |tx| {
        tx.insert_case(&new_case(98, 800))?;
        Err(StoreError::Aborted)
    });
    assert!(matches!(r, Err(StoreError::Aborted)));
    assert_eq!(s.open_cases(1_000).unwrap().len(), cases);
}

/// Units of work on several threads at once are serialised: each read-modify-write of a
/// counter in a case row sees the one before it, so none is lost.
fn concurrent_units_of_work_serialise(s: &dyn Store) {
    let id = in_transaction(s, |tx| tx.insert_case(&new_case(0, 900))).unwrap();
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                for _ in 0..25 {
                    in_transaction(s, |tx| {
                        let mut c = tx.case(id)?.ok_or_else(|| StoreError::NotFound("case".into()))?;
                        let expected = c.updated_ms;
                        c.money_at_risk += 1;
                        c.updated_ms += 1;
                        tx.update_case(&c, expected)
                    })
                    .unwrap();
                }
            });
        }
    });
    assert_eq!(s.case(id).unwrap().unwrap().money_at_risk, 1_000_000 + 200);
}

fn rulesets_publish_in_units_of_work(s: &dyn Store) {
    let a = aff("versions");
    for want in 1..=3 {
        let v = in_transaction(s, |tx| {
            let v = tx.latest_version(&a)? + 1;
            tx.publish(&a, v, &format!("v{v}"), v)?;
            Ok(v)
        })
        .unwrap();
        assert_eq!(v, want);
    }
    let again = in_transaction(s, |tx| tx.publish(&a, 3, "again", 9));
    assert!(again.is_err(), "a version number is used once");
    assert_eq!(s.active_ruleset(&a).unwrap().unwrap().source, "v3");
}

fn actions_and_webhooks(s: &dyn Store) {
    let bank = aff("bank");
    assert!(s.webhook(&bank).unwrap().is_none());
    s.put_webhook(&bank, "http://127.0.0.1:1/hook", "sec", 1).unwrap();
    assert_eq!(s.webhook(&bank).unwrap(), Some(("http://127.0.0.1:1/hook".to_string(), "sec".to_string())));
    let act = |id: &str, next: i64| crate::ActionRow {
        id: id.into(),
        affiliate: bank.clone(),
        kind: "hold_account".into(),
        payload: "{}".into(),
        created_ms: 10,
        attempts: 0,
        next_ms: next,
        delivered_ms: None,
        dead_ms: None,
        last_error: None,
    };
    in_transaction(s, |tx| tx.queue_actions(&[act("act_1", 10), act("act_2", 50), act("act_1", 99)])).unwrap();
    let due: Vec<String> = s.actions_due(20, 10).unwrap().into_iter().map(|a| a.id).collect();
    assert_eq!(due, ["act_1"], "only due actions, each id once");
    s.action_attempted("act_1", crate::ActionOutcome::Retry { next_ms: 60, error: "503".into() }, 20).unwrap();
    assert!(s.actions_due(59, 10).unwrap().iter().all(|a| a.id != "act_1"), "a retry waits for its time");
    let due: Vec<String> = s.actions_due(60, 10).unwrap().into_iter().map(|a| a.id).collect();
    assert_eq!(due, ["act_2", "act_1"]);
    s.action_attempted("act_1", crate::ActionOutcome::Delivered, 61).unwrap();
    s.action_attempted("act_2", crate::ActionOutcome::Dead { error: "gone".into() }, 62).unwrap();
    assert!(s.actions_due(1_000, 10).unwrap().is_empty());
    let a1 = s.action("act_1").unwrap().unwrap();
    assert_eq!((a1.attempts, a1.delivered_ms, a1.last_error), (2, Some(61), None));
    let dead = s.dead_actions(10).unwrap();
    assert_eq!((dead.len(), dead[0].last_error.as_deref()), (1, Some("gone")));
    assert!(matches!(s.action_attempted("nope", crate::ActionOutcome::Delivered, 1), Err(StoreError::NotFound(_))));

    s.set_holdings(&bank, &["bank:088".into(), "bank:004".into()]).unwrap();
    assert_eq!(s.holder("bank:088").unwrap(), Some(bank.clone()));
    assert!(matches!(s.set_holdings(&aff("pay"), &["bank:088".into()]), Err(StoreError::Conflict(_))));
    assert_eq!(s.holdings(&bank).unwrap(), ["bank:004", "bank:088"]);
    assert!(s.holdings(&aff("pay")).unwrap().is_empty());
    s.set_holdings(&bank, &["bank:004".into()]).unwrap();
    assert_eq!((s.holder("bank:088").unwrap(), s.holder("bank:004").unwrap()), (None, Some(bank)));
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
    assert_eq!(s.keys(&pay).unwrap(), vec![key.clone()]);
    assert!(s.keys(&bank).unwrap().is_empty(), "keys are listed per affiliate");
    assert_eq!(s.revoke_key(&bank, "ak_7").unwrap(), 0, "bank cannot revoke pay's key");
    assert!(!s.key_by_hash(&[7; 32]).unwrap().unwrap().revoked);
    assert_eq!(s.revoke_key(&pay, "ak_7").unwrap(), 1);
    assert!(s.key_by_hash(&[7; 32]).unwrap().unwrap().revoked);
}

fn commits_are_atomic_and_idempotent(s: &dyn Store) {
    let pay = aff("pay");
    let out = s.commit(&[write(&pay, "e1"), write(&pay, "e2")]).unwrap();
    assert_eq!(out, vec![stored(1, "e1"), stored(2, "e2")], "the store numbers events in commit order");
    assert_eq!(s.event_count(&pay).unwrap(), 2);
    // An id already stored, and one repeated within the batch, are answered with what is
    // stored and not written again; the rest is written, with no gap in the numbers.
    let out = s.commit(&[write(&pay, "e3"), write(&pay, "e1"), write(&pay, "e3"), write(&pay, "e4")]).unwrap();
    assert_eq!(
        out,
        vec![
            stored(3, "e3"),
            Committed::Duplicate(Box::new(record(1, "e1"))),
            Committed::Duplicate(Box::new(record(3, "e3"))),
            stored(4, "e4"),
        ]
    );
    assert_eq!(s.event_count(&pay).unwrap(), 4);
    assert_eq!(s.event_by_id(&pay, "e2").unwrap(), Some(record(2, "e2")));
    assert_eq!(s.event_by_seq(&pay, 1).unwrap(), Some(record(1, "e1")));
    assert_eq!(s.last_seq(&pay).unwrap(), 4);
    // A repeat within a batch of ids none of which is stored answers as its first.
    let out = s.commit(&[write(&pay, "e5"), write(&pay, "e5"), write(&pay, "e6")]).unwrap();
    assert_eq!(out, vec![stored(5, "e5"), Committed::Duplicate(Box::new(record(5, "e5"))), stored(6, "e6")]);
    assert_eq!(s.last_seq(&pay).unwrap(), 6);
}

fn tenants_are_isolated(s: &dyn Store) {
    let (pay, bank) = (aff("pay"), aff("bank"));
    // The same event id at another affiliate is another event.
    s.commit(&[write(&bank, "e1")]).unwrap();
    assert_eq!(s.event_count(&bank).unwrap(), 1);
    assert_eq!(s.event_by_id(&bank, "e2").unwrap(), None, "bank cannot read pay's e2");
    assert_eq!(s.event_by_seq(&bank, 2).unwrap(), None, "nor by sequence number");
    let ids = [
        (pay.clone(), "e2".to_string()),
        (bank.clone(), "e2".into()),
        (bank.clone(), "e1".into()),
        (pay.clone(), "none".into()),
    ];
    let found: Vec<Option<(i64, String)>> =
        s.events_by_ids(&ids).unwrap().into_iter().map(|r| r.map(|r| (r.seq, r.event_id))).collect();
    assert_eq!(
        found,
        vec![Some((2, "e2".into())), None, Some((1, "e1".into())), None],
        "a batch lookup answers per pair"
    );
    assert_eq!(s.events_after(&bank, 0, 10).unwrap().len(), 1);
    assert_eq!(s.last_seq(&aff("nobody")).unwrap(), 0);
    s.put_draft(&pay, "pay draft", 1).unwrap();
    assert_eq!(s.draft(&bank).unwrap(), None);
}

fn replay_order(s: &dyn Store) {
    let a = aff("replay");
    let writes: Vec<Write> = (1..=50).rev().map(|i| write(&a, &format!("r{i}"))).collect();
    let out = s.commit(&writes).unwrap();
    let page1 = s.events_after(&a, 0, 20).unwrap();
    let page2 = s.events_after(&a, 20, 100).unwrap();
    let got: Vec<(i64, String)> = page1.iter().chain(&page2).map(|r| (r.seq, r.event_id.clone())).collect();
    let want: Vec<(i64, String)> = (1..=50).map(|s| (s, format!("r{}", 51 - s))).collect();
    assert_eq!(got, want, "events come back in commit order, paged");
    // The decision ids answered and stored are `decision_id`'s, numbers of two hex digits too.
    let answered: Vec<Committed> = (1..=50).map(|s| stored(s, &format!("r{}", 51 - s))).collect();
    assert_eq!(out, answered, "a commit answers each event's number and decision id");
    let read: Vec<String> = page1.iter().chain(&page2).map(|r| r.decision_id.clone()).collect();
    let want: Vec<String> = (1..=50).map(|s| crate::decision_id(s, tag(&format!("r{}", 51 - s)))).collect();
    assert_eq!(read, want, "the stored decision ids are the answered ones");
    let ids = s.event_ids(&a, 45, 100).unwrap();
    assert_eq!(ids, (46..=50).map(|i| (i, format!("r{}", 51 - i))).collect::<Vec<_>>());
}

fn rulesets(s: &dyn Store) {
    let a = aff("rules");
    assert_eq!(s.active_ruleset(&a).unwrap(), None);
    s.put_draft(&a, "v1 source", 1).unwrap();
    s.put_draft(&a, "v2 draft", 2).unwrap();
    assert_eq!(s.draft(&a).unwrap().as_deref(), Some("v2 draft"));
    in_transaction(s, |tx| tx.publish(&a, 1, "v1 source", 10)).unwrap();
    in_transaction(s, |tx| tx.publish(&a, 2, "v2 source", 20)).unwrap();
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
    assert!(s.load_snapshot(&a).unwrap().is_empty());
    s.save_snapshot(&a, 3, 10, b"part-3-at-10", 1).unwrap();
    s.save_snapshot(&a, 0, 12, b"part-0-at-12", 2).unwrap();
    s.save_snapshot(&a, 3, 20, b"part-3-at-20", 3).unwrap();
    let part = |p, seq, st: &[u8]| crate::SnapshotPart { part: Some(p), seq, state: st.to_vec() };
    assert_eq!(
        s.load_snapshot(&a).unwrap(),
        vec![part(0, 12, b"part-0-at-12"), part(3, 20, b"part-3-at-20")],
        "each part's latest, by part"
    );
    assert!(s.load_snapshot(&aff("pay")).unwrap().is_empty(), "snapshots are per affiliate");
}

fn outbox(s: &dyn Store) {
    let a = aff("out");
    let mut w = write(&a, "o1");
    w.outbox = vec![("case.open".into(), "{\"e\":1}".into()), ("webhook".into(), "{}".into())];
    // The repeat's side effects are not written: they belong to the stored event.
    let repeat = w.clone();
    s.commit(&[w, repeat]).unwrap();
    let pending = s.outbox_pending(10).unwrap();
    let mine: Vec<_> = pending.iter().filter(|o| o.affiliate == a).collect();
    assert_eq!(mine.len(), 2);
    assert_eq!(mine[0].topic, "case.open");
    s.outbox_done(&[mine[0].id], 5).unwrap();
    let left: Vec<_> = s.outbox_pending(10).unwrap().into_iter().filter(|o| o.affiliate == a).collect();
    assert_eq!(left.len(), 1);
    assert_eq!(left[0].topic, "webhook");
}

fn campaign(id: &str, at: i64) -> crate::CampaignRow {
    crate::CampaignRow { id: id.into(), body: format!("{{\"v\":{at}}}"), created_ms: at, updated_ms: at }
}

fn member(campaign: &str, affiliate: &str, subject: &str, control: bool, at: i64) -> crate::MemberRow {
    crate::MemberRow {
        campaign: campaign.into(),
        affiliate: aff(affiliate),
        subject: subject.into(),
        control,
        enrolled_ms: at,
    }
}

/// Campaigns are stored once per id and then changed by update; a member is enrolled once per campaign and
/// affiliate (the first arm and time stand); arms are counted per affiliate; and a member's
/// outcomes are the reports their own affiliate filed for them from enrolment to the end of
/// the window — not another affiliate's report about a subject of the same name, not a
/// report from before enrolment, not a public report.
fn campaigns(s: &dyn Store) {
    let inserted = in_transaction(s, |tx| {
        Ok([tx.insert_campaign(&campaign("c-b", 1_000))?, tx.insert_campaign(&campaign("c-a", 1_000))?])
    })
    .unwrap();
    assert_eq!(inserted, [true, true]);
    let mut changed = campaign("c-a", 1_000);
    changed.body = "{\"v\":2}".into();
    changed.updated_ms = 2_000;
    // An id taken is not overwritten by an insert; an update changes body and time only.
    assert!(!in_transaction(s, |tx| tx.insert_campaign(&campaign("c-a", 1_500))).unwrap());
    in_transaction(s, |tx| tx.update_campaign(&changed.id, &changed.body, changed.updated_ms)).unwrap();
    let missing = in_transaction(s, |tx| tx.update_campaign("c-none", "{}", 1));
    assert!(matches!(missing, Err(StoreError::NotFound(_))), "{missing:?}");
    let rows = s.campaigns().unwrap();
    let ours: Vec<_> = rows.iter().filter(|c| c.id.starts_with("c-")).collect();
    assert_eq!(ours.len(), 2, "{rows:?}");
    assert_eq!((ours[0].id.as_str(), ours[0].body.as_str()), ("c-a", "{\"v\":2}"), "replaced, in id order");
    assert_eq!((ours[0].created_ms, ours[0].updated_ms), (1_000, 2_000));

    let enrolled = in_transaction(s, |tx| {
        Ok([
            tx.enroll(&member("c-a", "bank", "u1", false, 1_000))?,
            tx.enroll(&member("c-a", "bank", "u2", true, 1_000))?,
            tx.enroll(&member("c-a", "bank", "u3", false, 5_000))?,
            tx.enroll(&member("c-a", "pay", "u1", true, 1_000))?,
            // Again, with another arm: the first enrolment stands.
            tx.enroll(&member("c-a", "bank", "u1", true, 9_000))?,
            tx.enroll(&member("c-b", "bank", "u1", true, 1_000))?,
        ])
    })
    .unwrap();
    assert_eq!(enrolled, [true, true, true, true, false, true]);
    let mut subjects = s.campaign_subjects("c-a", &aff("bank")).unwrap();
    subjects.sort();
    assert_eq!(subjects, ["u1", "u2", "u3"]);
    let arms = s.campaign_arms("c-a").unwrap();
    let size = |a: &str, control: bool| {
        arms.iter().find(|r| r.affiliate.as_str() == a && r.control == control).map(|r| r.users)
    };
    assert_eq!(
        (size("bank", false), size("bank", true), size("pay", true), size("pay", false)),
        (Some(2), Some(1), Some(1), None)
    );

    let case = in_transaction(s, |tx| tx.insert_case(&new_case(10, 1_000))).unwrap();
    let filed = |receipt: &str, source: &str, subject: Option<&str>, at: i64, amount: i64| crate::ReportRow {
        source: source.into(),
        subject: subject.map(str::to_string),
        amount,
        ..report(receipt, case, at)
    };
    in_transaction(s, |tx| {
        tx.insert_report(&filed("CR-1", "bank", Some("u1"), 2_000, 500_000))?;
        tx.insert_report(&filed("CR-2", "bank", Some("u1"), 3_000, 250_000))?;
        // Before u3 was enrolled, and after the window: not outcomes.
        tx.insert_report(&filed("CR-3", "bank", Some("u3"), 4_000, 1))?;
        tx.insert_report(&filed("CR-4", "bank", Some("u3"), 20_000, 1))?;
        // Another affiliate's user of the same name, and a public report.
        tx.insert_report(&filed("CR-5", "card", Some("u2"), 2_000, 1))?;
        tx.insert_report(&filed("CR-6", "public", None, 2_000, 1))?;
        tx.insert_report(&filed("CR-7", "pay", Some("u1"), 6_000, 70_000))
    })
    .unwrap();
    let stored = s.report("CR-1").unwrap().unwrap();
    assert_eq!((stored.subject.as_deref(), stored.amount), (Some("u1"), 500_000), "subject and amount read back");
    assert_eq!(s.report("CR-6").unwrap().unwrap().subject, None);
    let outcomes = s.campaign_outcomes("c-a", 10_000).unwrap();
    let seen: Vec<_> =
        outcomes.iter().map(|o| (o.affiliate.as_str(), o.subject.as_str(), o.control, o.reports, o.won)).collect();
    assert_eq!(seen, [("bank", "u1", false, 2, 750_000), ("pay", "u1", true, 1, 70_000)]);
    assert!(s.campaign_outcomes("c-b", 10_000).unwrap().iter().all(|o| o.subject == "u1" && o.reports == 2));
    assert!(s.campaign_outcomes("c-a", 2_500).unwrap().iter().all(|o| o.reports == 1), "the window's end is exclusive");
}

fn person(name: &str, a: &str) -> crate::PersonRow {
    crate::PersonRow {
        username: name.into(),
        affiliate: aff(a),
        role: "analyst".into(),
        password_hash: "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into(),
        disabled: false,
        failed_logins: 0,
        locked_until_ms: 0,
        created_ms: 1_000,
        updated_ms: 1_000,
        totp_secret: None,
        totp_step: 0,
    }
}

/// People: a user name is taken once, an update changes role, hash and state but not the
/// login counters, failures count atomically with the lock the caller computes, a success
/// clears them, and people are listed per affiliate. Sessions are found by token hash, touched
/// forward only, and ended one by one or all of a person's at once.
fn people_and_sessions(s: &dyn Store) {
    assert!(s.insert_person(&person("p-kim", "people-bank")).unwrap());
    assert!(s.insert_person(&person("p-lee", "people-pay")).unwrap());
    assert!(!s.insert_person(&person("p-kim", "people-pay")).unwrap(), "a user name is taken once");
    assert_eq!(s.person("p-kim").unwrap().unwrap().affiliate, aff("people-bank"));
    assert_eq!(s.person("p-none").unwrap(), None);

    let lock = |failed: i64| if failed >= 3 { 10_000 * failed } else { 0 };
    assert_eq!(s.login_failed("p-kim", &lock).unwrap(), 1);
    assert_eq!(s.login_failed("p-kim", &lock).unwrap(), 2);
    assert_eq!(s.person("p-kim").unwrap().unwrap().locked_until_ms, 0);
    assert_eq!(s.login_failed("p-kim", &lock).unwrap(), 3);
    let kim = s.person("p-kim").unwrap().unwrap();
    assert_eq!((kim.failed_logins, kim.locked_until_ms), (3, 30_000));
    assert_eq!(s.login_failed("p-none", &lock).unwrap(), 0, "no such person: nothing counted");

    let mut changed = kim.clone();
    changed.role = "affiliate_admin".into();
    changed.password_hash = "$argon2id$new".into();
    changed.disabled = true;
    changed.updated_ms = 2_000;
    s.update_person(&changed).unwrap();
    let got = s.person("p-kim").unwrap().unwrap();
    assert_eq!(
        (got.role.as_str(), got.password_hash.as_str(), got.disabled),
        ("affiliate_admin", "$argon2id$new", true)
    );
    assert_eq!((got.failed_logins, got.locked_until_ms, got.created_ms, got.updated_ms), (3, 30_000, 1_000, 2_000));
    s.login_succeeded("p-kim").unwrap();
    let got = s.person("p-kim").unwrap().unwrap();
    assert_eq!((got.failed_logins, got.locked_until_ms), (0, 0));
    let missing = s.update_person(&person("p-none", "people-bank"));
    assert!(matches!(missing, Err(StoreError::NotFound(_))), "{missing:?}");

    let names = |a: Option<&AffiliateId>| -> Vec<String> {
        s.people(a).unwrap().into_iter().map(|p| p.username).filter(|n| n.starts_with("p-")).collect()
    };
    assert_eq!(names(Some(&aff("people-bank"))), ["p-kim"]);
    assert_eq!(names(None), ["p-kim", "p-lee"]);

    let session = |n: u8, who: &str| crate::SessionRow {
        token_hash: [n; 32],
        username: who.into(),
        csrf: format!("csrf-{n}"),
        created_ms: 5_000,
        seen_ms: 5_000,
    };
    for (n, who) in [(1, "p-kim"), (2, "p-kim"), (3, "p-lee")] {
        s.insert_session(&session(n, who)).unwrap();
    }
    assert!(s.insert_session(&session(1, "p-lee")).is_err(), "a token hash is one session");
    assert_eq!(s.session(&[1; 32]).unwrap(), Some(session(1, "p-kim")));
    s.touch_session(&[1; 32], 9_000).unwrap();
    s.touch_session(&[1; 32], 7_000).unwrap();
    assert_eq!(s.session(&[1; 32]).unwrap().unwrap().seen_ms, 9_000, "touched forward only");
    s.delete_session(&[3; 32]).unwrap();
    assert_eq!(s.session(&[3; 32]).unwrap(), None);
    assert_eq!(s.delete_sessions("p-kim").unwrap(), 2);
    assert_eq!((s.session(&[1; 32]).unwrap(), s.session(&[2; 32]).unwrap()), (None, None));
}

/// The desk: reports newest first, a case's actions by id prefix (an `_` in the prefix is a
/// character, not a wildcard; `act_1_` does not take `act_10_...`), and a dead letter back in
/// the queue, only once and only if dead.
fn desk(s: &dyn Store) {
    let before = s.recent_reports(1_000).unwrap().len();
    let report = |receipt: &str, at: i64| crate::ReportRow {
        receipt: receipt.into(),
        secret_hash: [0; 32],
        source: "public".into(),
        kind: "other".into(),
        case_id: 0,
        priority: 1,
        body: "{}".into(),
        created_ms: at,
        subject: None,
        amount: 0,
    };
    let case = |state: CaseState, due: i64, first: Option<i64>| crate::CaseRow {
        id: 0,
        state,
        outcome: None,
        priority: 1,
        assignee: None,
        typology: None,
        money_at_risk: 0,
        reporting: vec![],
        holding: vec![],
        linked_case: None,
        opened_ms: 1,
        updated_ms: 1,
        sla_due_ms: due,
        first_action_ms: first,
        closed_ms: None,
        body: "{}".into(),
    };
    in_transaction(s, |tx| {
        let case = tx.insert_case(&case(CaseState::New, 2, Some(1)))?;
        for (r, at) in [("desk-1", 4_000_000_000_000), ("desk-2", 4_000_000_000_002), ("desk-3", 4_000_000_000_001)] {
            tx.insert_report(&crate::ReportRow { case_id: case, ..report(r, at) })?;
        }
        Ok(())
    })
    .unwrap();
    let newest: Vec<String> = s.recent_reports(2).unwrap().into_iter().map(|r| r.receipt).collect();
    assert_eq!(newest, ["desk-2", "desk-3"]);
    assert_eq!(s.recent_reports(1_000).unwrap().len(), before + 3);

    let action = |id: &str| crate::ActionRow::queued(id.into(), aff("desk-bank"), "hold_account", "{}".into(), 1_000);
    in_transaction(s, |tx| {
        tx.queue_actions(&[action("act_1_b"), action("act_1_a"), action("act_10_a"), action("act_1xa")])
    })
    .unwrap();
    let ids: Vec<String> = s.actions_with_prefix("act_1_", 10).unwrap().into_iter().map(|a| a.id).collect();
    assert_eq!(ids, ["act_1_a", "act_1_b"]);
    assert_eq!(s.actions_with_prefix("act_1_", 1).unwrap().len(), 1);

    assert!(!s.requeue_action("act_1_a", 5_000).unwrap(), "not dead: nothing to requeue");
    s.action_attempted("act_1_a", crate::ActionOutcome::Dead { error: "gone".into() }, 2_000).unwrap();
    assert!(s.requeue_action("act_1_a", 5_000).unwrap());
    assert!(!s.requeue_action("act_1_a", 5_000).unwrap());
    let a = s.action("act_1_a").unwrap().unwrap();
    assert_eq!((a.dead_ms, a.attempts, a.next_ms), (None, 0, 5_000));
    assert!(s.actions_due(5_000, 100).unwrap().iter().any(|x| x.id == "act_1_a"));
    let dead = s.dead_action_count().unwrap();
    s.action_attempted("act_1_b", crate::ActionOutcome::Dead { error: "gone".into() }, 2_000).unwrap();
    assert_eq!(s.dead_action_count().unwrap(), dead + 1);
    assert_eq!(s.open_case_count().unwrap(), s.open_cases(1_000_000).unwrap().len() as i64);

    // Attention: open cases without a first action past due, and cases in relief.
    let ids = in_transaction(s, |tx| {
        Ok([
            tx.insert_case(&case(CaseState::New, 9_000_000_000_000, None))?,
            tx.insert_case(&case(CaseState::New, 9_000_000_000_500, Some(5)))?,
            tx.insert_case(&case(CaseState::Relief, 9_000_000_000_300, Some(5)))?,
            tx.insert_case(&case(CaseState::Closed, 9_000_000_000_100, None))?,
            tx.insert_case(&case(CaseState::Triaged, 9_000_000_000_900, None))?,
        ])
    })
    .unwrap();
    let got: Vec<i64> = s
        .attention_cases(9_000_000_000_800, 1_000_000)
        .unwrap()
        .into_iter()
        .map(|c| c.id)
        .filter(|id| ids.contains(id))
        .collect();
    assert_eq!(got, [ids[0], ids[2]], "overdue without a first action, and in relief, most overdue first");
}
