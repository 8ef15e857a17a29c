//! The safety table through the application: a report at one affiliate reaches every other
//! affiliate's very next decision, confirmations and clearing change the shield, the stored
//! registry holds no raw value, and reports survive a restart.

use app::registry::{Level, Status};
use app::{App, AppConfig};
use domain::{AffiliateId, Event, Verdict};
use indicators::IndicatorKind;

const RULES: &str = include_str!("../../../test_data/rulesets/sample.toml");

fn aff(s: &str) -> AffiliateId {
    AffiliateId(s.into())
}

fn transfer(id: &str, affiliate: &str, channel: &str, account: &str) -> Event {
    Event::from_json(
        &format!(
            r#"{{"id":"{id}","affiliate":"{affiliate}","kind":"transfer","at":"2026-11-26T14:00:00+09:00","channel":"{channel}",
               "subject":{{"id":"u1","age_band":"30s"}},
               "transfer":{{"amount":90000,"counterparty":{{"bank":"089","account":"{account}"}}}}}}"#
        ),
        None,
    )
    .unwrap()
}

fn open(dir: &std::path::Path) -> std::sync::Arc<App> {
    let app = App::open(AppConfig::new(dir)).unwrap();
    for a in ["bank", "pay"] {
        app.ensure_affiliate(&aff(a), a, &RULES.replace("name = \"group\"", &format!("name = \"{a}\""))).unwrap();
    }
    app
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_report_at_the_bank_holds_the_next_transfer_at_pay() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path());
    let (bank, pay) = (aff("bank"), aff("pay"));
    let mule = "100-200-300400";

    let before = app.decide(&pay, transfer("t1", "pay", "app", mule)).await.unwrap();
    assert_eq!(before.decision.verdict, Verdict::Allow, "{:?}", before.decision.reasons);
    assert_eq!(app.shield(IndicatorKind::Account, "089:100200300400").unwrap().level, Level::Safe);

    // The bank reports the account, spelled its own way.
    let agg =
        app.report_indicator(&bank, IndicatorKind::Account, "089 100200300400", "mule", Status::Reported).unwrap();
    assert_eq!((agg.reports, agg.affiliates, agg.confirmed, agg.level), (1, 1, false, Level::Caution));

    // Pay's very next transfer to it is held; an open-chat one is blocked.
    let d = app.decide(&pay, transfer("t2", "pay", "app", mule)).await.unwrap();
    assert_eq!(d.decision.verdict, Verdict::Hold);
    assert!(d.decision.reasons.iter().any(|r| &*r.rule == "counterparty-reported"));
    let d = app.decide(&pay, transfer("t3", "pay", "open_chat", mule)).await.unwrap();
    assert_eq!(d.decision.verdict, Verdict::Block);
    assert!(d.decision.reasons.iter().any(|r| &*r.rule == "open-chat-reported-recipient"));

    // Confirmation turns the shield red and blocks plain transfers too.
    let agg =
        app.report_indicator(&bank, IndicatorKind::Account, "089 100-200-300400", "mule", Status::Confirmed).unwrap();
    assert_eq!((agg.confirmed, agg.level), (true, Level::Danger));
    let d = app.decide(&pay, transfer("t4", "pay", "app", mule)).await.unwrap();
    assert_eq!(d.decision.verdict, Verdict::Block);
    assert!(d.decision.reasons.iter().any(|r| &*r.rule == "counterparty-confirmed-fraud"));

    // Clearing the only report brings it back to safe.
    let agg = app.report_indicator(&bank, IndicatorKind::Account, "089:100200300400", "mule", Status::Cleared).unwrap();
    assert_eq!(agg.level, Level::Safe);
    let d = app.decide(&pay, transfer("t5", "pay", "app", mule)).await.unwrap();
    assert_eq!(d.decision.verdict, Verdict::Allow, "{:?}", d.decision.reasons);

    // Bad input names the field; typologies are a closed vocabulary of words.
    assert!(app.report_indicator(&bank, IndicatorKind::Phone, "not a phone", "mule", Status::Reported).is_err());
    assert!(
        app.report_indicator(&bank, IndicatorKind::Account, "089:100200300400", "Mule Ring!", Status::Reported)
            .is_err()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_registry_stores_no_raw_value_and_survives_restart() {
    let dir = tempfile::tempdir().unwrap();
    let raw_phone = "010-9876-5432";
    {
        let app = open(dir.path());
        app.report_indicator(&aff("bank"), IndicatorKind::Phone, raw_phone, "impersonation", Status::Reported).unwrap();
        app.report_indicator(&aff("pay"), IndicatorKind::Phone, "+82 10 9876 5432", "impersonation", Status::Reported)
            .unwrap();
        let agg = app.shield(IndicatorKind::Phone, "01098765432").unwrap();
        assert_eq!((agg.reports, agg.affiliates), (2, 2), "every spelling is one indicator");
        app.shutdown();
    }
    // Scan the whole store file for any spelling of the raw number.
    let bytes = std::fs::read(dir.path().join("ansim.db")).unwrap();
    for needle in ["01098765432", "010-9876-5432", "821098765432", "9876-5432", "98765432"] {
        assert!(
            !bytes.windows(needle.len()).any(|w| w == needle.as_bytes()),
            "the raw value {needle} is stored somewhere"
        );
    }
    let app = open(dir.path());
    let agg = app.shield(IndicatorKind::Phone, raw_phone).unwrap();
    assert_eq!((agg.reports, agg.affiliates, agg.level), (2, 2, Level::Danger));
    assert_eq!(agg.typologies, vec!["impersonation".to_string()]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_affiliate_changes_only_its_own_report_and_sees_only_aggregates() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path());
    let (bank, pay) = (aff("bank"), aff("pay"));
    let mule = "089:555666777888";
    app.report_indicator(&bank, IndicatorKind::Account, mule, "mule", Status::Confirmed).unwrap();

    // Pay "clearing" the account clears only pay's own (new) row: the bank's confirmation stands.
    let agg = app.report_indicator(&pay, IndicatorKind::Account, mule, "mule", Status::Cleared).unwrap();
    assert_eq!((agg.confirmed, agg.level, agg.affiliates), (true, Level::Danger, 1), "{agg:?}");
    let d = app.decide(&pay, transfer("iso1", "pay", "app", "555-666-777888")).await.unwrap();
    assert_eq!(d.decision.verdict, Verdict::Block, "{:?}", d.decision.reasons);

    // The bank clears its own report: now nothing stands.
    let agg = app.report_indicator(&bank, IndicatorKind::Account, mule, "mule", Status::Cleared).unwrap();
    assert_eq!((agg.confirmed, agg.level, agg.affiliates), (false, Level::Safe, 0), "{agg:?}");

    // What an affiliate gets back never names who reported: the aggregate's debug form holds
    // counts, flags, times and typologies only.
    let text = format!("{:?}", app.shield(IndicatorKind::Account, mule).unwrap());
    assert!(!text.contains("bank") && !text.contains("pay"), "{text}");

    // Per-affiliate totals are for the group's admins only, never for an affiliate's admin.
    let bank_admin =
        app::Principal { affiliate: bank.clone(), scopes: vec![app::Scope::Admin], name: "key:ak_t".into() };
    assert!(matches!(app.registry_totals(&bank_admin), Err(app::AppError::Forbidden(_))));
    let group_user =
        app::Principal { affiliate: aff(app::GROUP), scopes: vec![app::Scope::Decide], name: "key:ak_t".into() };
    assert!(matches!(app.registry_totals(&group_user), Err(app::AppError::Forbidden(_))));
    let group_admin =
        app::Principal { affiliate: aff(app::GROUP), scopes: vec![app::Scope::Admin], name: "key:ak_t".into() };
    let totals = app.registry_totals(&group_admin).unwrap();
    assert_eq!(totals.iter().map(|t| t.affiliate.as_str()).collect::<Vec<_>>(), ["bank", "pay"]);
}
