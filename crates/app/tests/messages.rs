//! Stage-1 analysis on the decision path with the sample ruleset: a scam message is analysed
//! and warned about, a transfer to a new payee within the hour after it is held, a link an
//! affiliate reported is blocked at every other affiliate, a stranger copying a friend's name
//! gets the fake warning, and replay after a restart counts the same scam messages.

use app::registry::Status;
use app::{App, AppConfig};
use domain::{AffiliateId, Event, Timestamp, Typology, Verdict, WarningKind, WarningLevel};
use indicators::IndicatorKind;

const RULES: &str = include_str!("../../../test_data/rulesets/sample.toml");

fn aff(s: &str) -> AffiliateId {
    AffiliateId(s.into())
}

fn open(dir: &std::path::Path) -> std::sync::Arc<App> {
    let app = App::open(AppConfig::new(dir)).unwrap();
    for a in ["messenger", "pay", "bank"] {
        app.ensure_affiliate(&aff(a), a, &RULES.replace("name = \"group\"", &format!("name = \"{a}\""))).unwrap();
    }
    app
}

/// Yesterday 14:00 KST plus `offset_min` minutes: daytime (night rules stay quiet) and in the
/// past (the clock check stays quiet).
fn at(offset_min: i64) -> String {
    const DAY: i64 = 86_400_000;
    const KST: i64 = 9 * 3_600_000;
    let today_kst = (app::now_ms() + KST).div_euclid(DAY) * DAY - KST;
    Timestamp(today_kst - DAY + 14 * 3_600_000 + offset_min * 60_000).to_kst_rfc3339()
}

fn message(id: &str, affiliate: &str, when: &str, sender: &str, text: &str) -> Event {
    let body = serde_json::json!({
        "id": id, "affiliate": affiliate, "kind": "message", "at": when, "channel": "chat",
        "subject": { "id": "u1", "age_band": "60s" },
        "message": { "sender": serde_json::from_str::<serde_json::Value>(sender).unwrap(), "text": text }
    });
    Event::from_json(&body.to_string(), None).unwrap()
}

fn transfer(id: &str, affiliate: &str, when: &str, amount: i64, account: &str) -> Event {
    let body = serde_json::json!({
        "id": id, "affiliate": affiliate, "kind": "transfer", "at": when, "channel": "app",
        "subject": { "id": "u1", "age_band": "60s" },
        "transfer": { "amount": amount, "counterparty": { "bank": "004", "account": account } }
    });
    Event::from_json(&body.to_string(), None).unwrap()
}

fn rules(d: &app::Decided) -> Vec<&str> {
    d.decision.reasons.iter().map(|r| &*r.rule).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scam_message_warns_and_holds_the_transfer_that_follows() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path());
    let bank = aff("bank");
    let warm = app.decide(&bank, transfer("t0", "bank", &at(-30), 500_000, "700700700")).await.unwrap();
    assert_eq!(warm.decision.verdict, Verdict::Allow, "{:?}", rules(&warm));

    let text = "[서울중앙지검] 고객님 명의 계좌가 범죄에 연루되어 안 전 계 좌로 이체가 필요합니다. 확인 hxxps://spo-case[.]top/view";
    let d = app
        .decide(&bank, message("m1", "bank", &at(-10), r#"{"phone":"010-0000-1182","is_friend":false}"#, text))
        .await;
    let d = d.unwrap();
    let a = d.decision.analysis.as_ref().expect("messages carry their analysis");
    assert!(a.risk >= 50, "{a:?}");
    assert_eq!(a.typology, Some(Typology::InstitutionImpersonation));
    assert!(a.phrases.iter().any(|p| p == "안전계좌"), "{:?}", a.phrases);
    assert_eq!(a.links.len(), 1, "{:?}", a.links);
    assert!(a.guidance.is_some());
    assert!(rules(&d).contains(&"scam-message"), "{:?}", rules(&d));
    assert!(d.decision.verdict >= Verdict::Warn);

    // Within the hour, money to a first-time payee is held; the warm-up payee is not new.
    let t = app.decide(&bank, transfer("t1", "bank", &at(0), 3_000_000, "123123123")).await.unwrap();
    assert!(rules(&t).contains(&"transfer-after-scam-message"), "{:?}", rules(&t));
    assert!(t.decision.verdict >= Verdict::Hold, "{:?}", rules(&t));

    // The same state after a restart: replay analyses the stored message again.
    app.shutdown();
    drop(app);
    let app = open(dir.path());
    let t = app.decide(&bank, transfer("t2", "bank", &at(1), 3_000_000, "456456456")).await.unwrap();
    assert!(rules(&t).contains(&"transfer-after-scam-message"), "{:?}", rules(&t));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reported_link_is_blocked_at_every_affiliate() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path());
    let messenger = aff("messenger");
    let text = "택배 주소 확인 부탁드려요 parcel-check-kr.com/a1";
    let before = app.decide(&messenger, message("l1", "messenger", &at(0), r#"{"is_friend":true}"#, text));
    let before = before.await.unwrap();
    assert!(!rules(&before).contains(&"reported-link"), "{:?}", rules(&before));

    app.report_indicator(&aff("bank"), IndicatorKind::Domain, "parcel-check-kr.com", "phishing", Status::Confirmed)
        .unwrap();
    let after = app.decide(&messenger, message("l2", "messenger", &at(0), r#"{"is_friend":true}"#, text));
    let after = after.await.unwrap();
    assert!(rules(&after).contains(&"reported-link"), "{:?}", rules(&after));
    assert_eq!(after.decision.verdict, Verdict::Block);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordinary_messages_pass_and_fake_friends_are_named() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path());
    let messenger = aff("messenger");
    let m = app.decide(
        &messenger,
        message("o1", "messenger", &at(0), r#"{"is_friend":true,"name":"엄마"}"#, "오늘 저녁 뭐 먹을까? 일찍 와"),
    );
    let m = m.await.unwrap();
    assert_eq!(m.decision.verdict, Verdict::Allow, "{:?}", rules(&m));
    assert!(m.decision.analysis.as_ref().is_some_and(|a| a.risk < 50 && a.warnings.is_empty()));

    let body = serde_json::json!({
        "id": "c1", "affiliate": "messenger", "kind": "contact", "at": at(0), "channel": "chat",
        "subject": { "id": "u1" },
        "contact": { "counterparty": { "name": "김민수(새폰)", "is_friend": false, "account_age_days": 1 },
                     "mutual_friends": 0, "friend_names": ["김민수"] }
    });
    let e = Event::from_json(&body.to_string(), None).unwrap();
    let c = app.decide(&aff("messenger"), e).await.unwrap();
    let a = c.decision.analysis.as_ref().unwrap();
    let fake = a.warnings.iter().find(|w| w.kind == WarningKind::Fake).expect("a fake warning");
    assert_eq!(fake.level, WarningLevel::Danger);
    assert!(rules(&c).contains(&"fake-profile"), "{:?}", rules(&c));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn models_load_at_start_and_reload_on_publish_or_the_publish_fails() {
    let dir = tempfile::tempdir().unwrap();
    let model = dir.path().join("messages.model");
    let mut m = detect::text::builtin();
    m.meta = "a copy of the built-in model".into();
    std::fs::write(&model, m.to_bytes()).unwrap();
    let mut cfg = AppConfig::new(dir.path());
    cfg.messages_model = Some(model.clone());
    let app = App::open(cfg.clone()).unwrap();
    assert_eq!(app.analyzer().message_model().meta, "a copy of the built-in model");
    app.ensure_affiliate(&aff("messenger"), "messenger", &RULES.replace("name = \"group\"", "name = \"messenger\""))
        .unwrap();

    // A damaged model file fails the publish and changes nothing.
    std::fs::write(&model, b"garbage").unwrap();
    let e = app.publish(&aff("messenger"), Some(RULES)).unwrap_err();
    assert!(
        matches!(&e, app::AppError::Invalid { field, message } if field == "models" && message.contains("not an ansim model")),
        "{e:?}"
    );
    assert_eq!(app.active_ruleset(&aff("messenger")).unwrap().version, 1);
    assert_eq!(app.analyzer().message_model().meta, "a copy of the built-in model");

    // A retrained model goes live with the next publish.
    m.meta = "retrained".into();
    std::fs::write(&model, m.to_bytes()).unwrap();
    assert_eq!(app.publish(&aff("messenger"), Some(RULES)).unwrap().version, 2);
    assert_eq!(app.analyzer().message_model().meta, "retrained");

    // A model of the wrong kind is refused at start with a clear reason.
    std::fs::write(&model, detect::links::builtin().to_bytes()).unwrap();
    drop(app);
    let e = App::open(cfg).err().expect("a URL model is not a message model");
    assert!(e.to_string().contains("urls model"), "{e}");
}
