//! Self-protection through the application: delayed transfer holds large transfers to new
//! payees (and a split "opening" transfer does not make a payee known), designated accounts
//! cap everything else per day, the loan lock blocks loans, loosening waits out the
//! cooling-off, a held transfer can be cancelled once while held, and all of it survives a
//! restart. A ruleset with no transfer rules shows that protection does not depend on rules.

use app::protection::{Account, DelayedTransfer, DesignatedAccounts, Settings};
use app::{App, AppConfig, AppError};
use domain::{AffiliateId, Event, Krw, Timestamp, Verdict};
use std::sync::Arc;

const PLAIN: &str = r#"
[ruleset]
name = "plain"
version = 1

[[rule]]
id = "huge-transfer"
when = "event.kind == 'transfer' && transfer.amount >= 900_000_000"
verdict = "warn"
score = 10
reason = { ko = "아주 큰 금액입니다.", en = "A very large amount." }
"#;

const HOUR: i64 = 3_600_000;

fn bank() -> AffiliateId {
    AffiliateId("bank".into())
}

fn open(dir: &std::path::Path, cooling_off_ms: i64) -> Arc<App> {
    let mut cfg = AppConfig::new(dir);
    cfg.cooling_off_ms = cooling_off_ms;
    let app = App::open(cfg).unwrap();
    app.ensure_affiliate(&bank(), "bank", PLAIN).unwrap();
    app
}

fn at(offset_ms: i64) -> String {
    Timestamp(app::now_ms() + offset_ms).to_kst_rfc3339()
}

fn transfer(id: &str, subject: &str, when: &str, amount: i64, account: &str) -> Event {
    Event::from_json(
        &format!(
            r#"{{"id":"{id}","affiliate":"bank","kind":"transfer","at":"{when}","channel":"app",
               "subject":{{"id":"{subject}"}},
               "transfer":{{"amount":{amount},"counterparty":{{"bank":"004","account":"{account}"}}}}}}"#
        ),
        None,
    )
    .unwrap()
}

fn loan(id: &str, subject: &str, when: &str) -> Event {
    Event::from_json(
        &format!(
            r#"{{"id":"{id}","affiliate":"bank","kind":"loan_application","at":"{when}","channel":"app",
               "subject":{{"id":"{subject}"}},"loan_application":{{"amount":30000000}}}}"#
        ),
        None,
    )
    .unwrap()
}

fn delayed(threshold: i64, hours: u32) -> Settings {
    Settings { delayed_transfer: Some(DelayedTransfer { threshold: Krw(threshold), hours }), ..Settings::default() }
}

fn rules(d: &app::Decided) -> Vec<&str> {
    d.decision.reasons.iter().map(|r| &*r.rule).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delayed_transfer_holds_large_transfers_to_new_payees_only() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path(), 24 * HOUR);
    // A payee paid four days ago is known.
    let d = app.decide(&bank(), transfer("old", "u1", &at(-96 * HOUR), 50_000, "111-222-333")).await.unwrap();
    assert_eq!(d.decision.verdict, Verdict::Allow);

    let p = app.set_protection(&bank(), "u1", delayed(1_000_000, 3)).unwrap();
    assert_eq!(p.pending, None, "turning protection on is immediate");

    let d = app.decide(&bank(), transfer("t1", "u1", &at(0), 2_000_000, "999-888-777")).await.unwrap();
    assert_eq!(d.decision.verdict, Verdict::Hold, "{:?}", rules(&d));
    assert_eq!(rules(&d), ["protection.delayed_transfer"]);
    assert_eq!(d.decision.guidance.hold_minutes, Some(180));
    assert!(d.decision.reasons[0].ko.contains("3시간"), "{}", d.decision.reasons[0].ko);

    // Below the threshold, to a known payee, or for another subject: not held.
    let d = app.decide(&bank(), transfer("t2", "u1", &at(0), 999_999, "555-444-333")).await.unwrap();
    assert_eq!(d.decision.verdict, Verdict::Allow);
    let d = app.decide(&bank(), transfer("t3", "u1", &at(0), 5_000_000, "111222333")).await.unwrap();
    assert_eq!(d.decision.verdict, Verdict::Allow, "a payee first paid 4 days ago is known: {:?}", rules(&d));
    let d = app.decide(&bank(), transfer("t4", "u2", &at(0), 5_000_000, "999888777")).await.unwrap();
    assert_eq!(d.decision.verdict, Verdict::Allow, "u2 has no protection");

    // A small opening transfer does not make the payee known: t2's payee stays new for 72 h.
    let d = app.decide(&bank(), transfer("t5", "u1", &at(0), 3_000_000, "555444333")).await.unwrap();
    assert_eq!(d.decision.verdict, Verdict::Hold, "split transfers are still held");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn designated_accounts_cap_other_payees_per_day() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path(), 24 * HOUR);
    let s = Settings {
        designated_accounts: Some(DesignatedAccounts {
            accounts: vec![Account { bank: "004".into(), account: "123-456-789".into() }],
            daily_cap: Krw(1_000_000),
        }),
        ..Settings::default()
    };
    let p = app.set_protection(&bank(), "u1", s).unwrap();
    assert_eq!(p.active.designated_accounts.unwrap().accounts[0].account, "123456789", "stored normalised");

    let d = app.decide(&bank(), transfer("d1", "u1", &at(0), 50_000_000, "123456789")).await.unwrap();
    assert_eq!(d.decision.verdict, Verdict::Allow, "any amount to a designated account");
    let d = app.decide(&bank(), transfer("d2", "u1", &at(0), 700_000, "700000001")).await.unwrap();
    assert_eq!(d.decision.verdict, Verdict::Allow, "within the cap");
    let d = app.decide(&bank(), transfer("d3", "u1", &at(0), 400_000, "700000002")).await.unwrap();
    assert_eq!(d.decision.verdict, Verdict::Block, "700,000 + 400,000 passes the 1,000,000 cap");
    assert_eq!(rules(&d), ["protection.designated_accounts"]);
    assert!(d.decision.reasons[0].ko.contains("300,000원"), "says what is left: {}", d.decision.reasons[0].ko);
    let d = app.decide(&bank(), transfer("d4", "u1", &at(0), 300_000, "700000002")).await.unwrap();
    assert_eq!(d.decision.verdict, Verdict::Allow, "a blocked transfer does not use the cap");
    let d = app.decide(&bank(), transfer("d5", "u1", &at(0), 1, "700000003")).await.unwrap();
    assert_eq!(d.decision.verdict, Verdict::Block, "the cap is used up");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn loan_lock_blocks_until_lifted_and_the_cooling_off_passes() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path(), HOUR / 2);
    let d = app.decide(&bank(), loan("l0", "u1", &at(0))).await.unwrap();
    assert_eq!(d.decision.verdict, Verdict::Allow);

    app.set_protection(&bank(), "u1", Settings { loan_lock: true, ..Settings::default() }).unwrap();
    let d = app.decide(&bank(), loan("l1", "u1", &at(0))).await.unwrap();
    assert_eq!(d.decision.verdict, Verdict::Block);
    assert_eq!(rules(&d), ["protection.loan_lock"]);

    // Lifting waits 30 minutes (this test's cooling-off).
    let p = app.set_protection(&bank(), "u1", Settings::default()).unwrap();
    assert!(p.active.loan_lock, "still locked");
    let pending = p.pending.clone().unwrap();
    assert!(!pending.settings.loan_lock);
    let d = app.decide(&bank(), loan("l2", "u1", &at(0))).await.unwrap();
    assert_eq!(d.decision.verdict, Verdict::Block, "blocked during the cooling-off");
    let d = app.decide(&bank(), loan("l3", "u1", &at(40 * 60_000))).await.unwrap();
    assert_eq!(d.decision.verdict, Verdict::Allow, "lifted after it: {:?}", rules(&d));

    // Protection is per affiliate and per subject.
    assert_eq!(app.protection(&bank(), "u2").unwrap(), Default::default());
    assert_eq!(app.protection(&bank(), "u1").unwrap(), p);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_transfer_is_cancelled_once_while_held() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path(), 24 * HOUR);
    app.set_protection(&bank(), "u1", delayed(1_000_000, 3)).unwrap();
    let held = app.decide(&bank(), transfer("c1", "u1", &at(-HOUR), 2_000_000, "999888777")).await.unwrap();
    assert_eq!(held.decision.verdict, Verdict::Hold);
    let ok = app.decide(&bank(), transfer("c2", "u1", &at(0), 10_000, "101010101")).await.unwrap();

    let c = app.cancel_hold(&bank(), &held.decision_id).unwrap();
    assert_eq!(c.decision_id, held.decision_id);
    let again = app.cancel_hold(&bank(), &held.decision_id);
    assert!(matches!(&again, Err(AppError::Conflict(m)) if m.contains("already")), "{again:?}");
    let allowed = app.cancel_hold(&bank(), &ok.decision_id);
    assert!(matches!(&allowed, Err(AppError::Conflict(m)) if m.contains("only a held")), "{allowed:?}");
    let other = app.cancel_hold(&AffiliateId("pay".into()), &held.decision_id);
    assert!(matches!(&other, Err(AppError::NotFound(_))), "another affiliate cannot see it: {other:?}");

    // A hold that ran out cannot be cancelled any more.
    let old = app.decide(&bank(), transfer("c3", "u1", &at(-4 * HOUR), 2_000_000, "313131313")).await.unwrap();
    assert_eq!(old.decision.verdict, Verdict::Hold);
    let late = app.cancel_hold(&bank(), &old.decision_id);
    assert!(matches!(&late, Err(AppError::Conflict(m)) if m.contains("ended")), "{late:?}");
    assert_eq!(app.metrics().holds_cancelled.load(std::sync::atomic::Ordering::Relaxed), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protection_and_payee_history_survive_restarts() {
    let dir = tempfile::tempdir().unwrap();
    let held = {
        let app = open(dir.path(), 24 * HOUR);
        app.set_protection(&bank(), "u1", delayed(1_000_000, 3)).unwrap();
        app.decide(&bank(), transfer("k1", "u1", &at(-96 * HOUR), 10_000, "121212121")).await.unwrap();
        let held = app.decide(&bank(), transfer("h1", "u1", &at(-HOUR), 2_000_000, "999888777")).await.unwrap();
        app.cancel_hold(&bank(), &held.decision_id).unwrap();
        held
        // Dropped without `shutdown`: the next start replays every event.
    };
    for (round, snapshot) in [("replayed", false), ("from the snapshot", true)] {
        let app = open(dir.path(), 24 * HOUR);
        assert_eq!(app.protection(&bank(), "u1").unwrap().active, delayed(1_000_000, 3), "{round}");
        let d = app.decide(&bank(), transfer(&format!("k-{snapshot}"), "u1", &at(0), 2_000_000, "121212121")).await;
        assert_eq!(d.unwrap().decision.verdict, Verdict::Allow, "{round}: the payee paid 4 days ago is known");
        let d = app.decide(&bank(), transfer(&format!("x-{snapshot}"), "u1", &at(0), 2_000_000, "999888777")).await;
        assert_eq!(d.unwrap().decision.verdict, Verdict::Hold, "{round}: still protected");
        assert!(matches!(app.cancel_hold(&bank(), &held.decision_id), Err(AppError::Conflict(_))), "{round}");
        app.shutdown();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_settings_name_the_field_and_change_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path(), 24 * HOUR);
    app.set_protection(&bank(), "u1", delayed(1_000_000, 3)).unwrap();
    let e = app.set_protection(&bank(), "u1", delayed(1_000_000, 0)).unwrap_err();
    assert!(matches!(&e, AppError::Invalid { field, .. } if field == "delayed_transfer.hours"), "{e:?}");
    assert_eq!(app.protection(&bank(), "u1").unwrap().active, delayed(1_000_000, 3));
    let e = app.set_protection(&bank(), "", delayed(1, 3)).unwrap_err();
    assert!(matches!(&e, AppError::Invalid { field, .. } if field == "subject"), "{e:?}");
}
