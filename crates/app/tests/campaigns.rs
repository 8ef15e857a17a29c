//! Prevention campaigns through the application: a segment in the rule language checked
//! against each serving affiliate's ruleset, users enrolled once from the decisions that show
//! them in it, a keyed hold-out, notices to the treated users' affiliate only, outcomes from the
//! reports an affiliate files for its own users, enrolment that survives a restart, and a stop.

use app::campaigns::{CampaignForm, Notice};
use app::cases::{ReportForm, ReportKind, ReportedIndicator, Reporter};
use app::{App, AppConfig, AppError, Principal, Scope};
use domain::{AffiliateId, Event, Krw};
use std::sync::Arc;

/// Counts each subject's transfers in an hour (`features.transfers_1h`).
const RULES: &str = include_str!("../../../test_data/rulesets/velocity.toml");

fn aff(s: &str) -> AffiliateId {
    AffiliateId(s.into())
}

fn group() -> Principal {
    Principal { affiliate: aff(app::GROUP), scopes: vec![Scope::RulesWrite], name: "key:ak_group1".into() }
}

fn transfer(id: &str, affiliate: &str, subject: &str, band: &str, at: &str) -> Event {
    Event::from_json(
        &format!(
            r#"{{"id":"{id}","affiliate":"{affiliate}","kind":"transfer","at":"{at}","subject":{{"id":"{subject}","age_band":"{band}"}},
               "transfer":{{"amount":10000,"counterparty":{{"bank":"088","account":"110123456789"}}}}}}"#
        ),
        None,
    )
    .unwrap()
}

fn open(dir: &std::path::Path) -> Arc<App> {
    let app = App::open(AppConfig::new(dir)).unwrap();
    app.ensure_affiliate(&aff("pay"), "Pay", RULES).unwrap();
    app.ensure_affiliate(&aff("bank"), "Bank", &RULES.replace("\"pay\"", "\"bank\"")).unwrap();
    app
}

fn form(id: &str) -> CampaignForm {
    CampaignForm {
        id: id.into(),
        name: "60대 송금 안내".into(),
        // Users in their sixties on their second transfer within the hour.
        segment: r#"subject.age_band == "60s" && features.transfers_1h >= 2"#.into(),
        affiliates: vec!["pay".into()],
        ko: Notice {
            title: "송금 전 확인하세요".into(), body: "검찰·금융기관은 송금을 요구하지 않습니다.".into()
        },
        en: Notice {
            title: "Check before you send".into(),
            body: "No prosecutor or bank asks you to move money.".into(),
        },
        starts_at: "2026-11-26T00:00:00+09:00".into(),
        ends_at: "2026-11-27T00:00:00+09:00".into(),
        holdout_per_mille: 500,
        follow_up_days: 30,
    }
}

fn report(subject: Option<&str>, won: i64) -> ReportForm {
    ReportForm {
        kind: ReportKind::VoicePhishing,
        description: "검찰이라며 안전계좌로 옮기라고 해서 보냈습니다".into(),
        amount: Some(Krw(won)),
        transferred_at: None,
        contact_ongoing: false,
        age: Some(64),
        indicators: vec![ReportedIndicator { kind: "account".into(), value: "004 111-222-333".into() }],
        contact: None,
        subject: subject.map(str::to_string),
    }
}

fn field_of(e: AppError) -> String {
    match e {
        AppError::Invalid { field, .. } => field,
        other => format!("not a field error: {other:?}"),
    }
}

#[test]
fn bad_campaigns_name_the_field_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path());
    let bank_admin = Principal { affiliate: aff("bank"), scopes: vec![Scope::Admin], name: "key:ak_bank1".into() };
    let cases: Vec<(Principal, CampaignForm, &str)> = vec![
        (group(), CampaignForm { id: "Bad Id".into(), ..form("x") }, "id"),
        (group(), CampaignForm { name: " ".into(), ..form("x") }, "name"),
        (group(), CampaignForm { segment: "".into(), ..form("x") }, "segment"),
        (group(), CampaignForm { ko: Notice { title: "<b>x</b>".into(), body: "b".into() }, ..form("x") }, "ko.title"),
        (group(), CampaignForm { en: Notice { title: "t".into(), body: " ".into() }, ..form("x") }, "en.body"),
        (group(), CampaignForm { starts_at: "tomorrow".into(), ..form("x") }, "starts_at"),
        (group(), CampaignForm { ends_at: "2026-11-25T00:00:00+09:00".into(), ..form("x") }, "ends_at"),
        (group(), CampaignForm { holdout_per_mille: 0, ..form("x") }, "holdout_per_mille"),
        (group(), CampaignForm { affiliates: vec!["nobody".into()], ..form("x") }, "affiliates[0]"),
        (bank_admin.clone(), form("x"), "affiliates[0]"),
    ];
    for (p, f, field) in cases {
        assert_eq!(field_of(app.create_campaign(&p, f).unwrap_err()), field);
    }
    // A segment that names what the ruleset does not have is located, like a rule's error.
    let e = app
        .create_campaign(&group(), CampaignForm { segment: "features.transfers_7d >= 1".into(), ..form("x") })
        .unwrap_err();
    let AppError::Invalid { field, message } = e else { panic!("{e:?}") };
    assert_eq!(field, "segment");
    assert!(message.starts_with("1:1: ") && message.contains("transfers_7d"), "{message}");
    // A key that may only decide cannot run campaigns.
    let decider = Principal { affiliate: aff("pay"), scopes: vec![Scope::Decide], name: "key:ak_pay1".into() };
    assert!(matches!(app.create_campaign(&decider, form("x")), Err(AppError::Forbidden(_))));
    assert!(app.campaigns(&group()).unwrap().is_empty(), "nothing stored");
    // An affiliate's admin runs one for its own users; the id is then taken.
    let own = CampaignForm { affiliates: vec![], ..form("bank-own") };
    let made = app.create_campaign(&bank_admin, own.clone()).unwrap();
    assert_eq!(made.campaign.affiliates, [aff("bank")]);
    assert!(matches!(app.create_campaign(&group(), own), Err(AppError::Conflict(_))));
    // It sees its own campaign, not the others'.
    app.create_campaign(&group(), form("pay-only")).unwrap();
    let seen: Vec<String> = app.campaigns(&bank_admin).unwrap().into_iter().map(|v| v.campaign.id).collect();
    assert_eq!(seen, ["bank-own"]);
    assert!(matches!(app.campaign(&bank_admin, "pay-only"), Err(AppError::NotFound(_))));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_in_the_segment_are_enrolled_once_and_their_reports_are_the_outcome() {
    let dir = tempfile::tempdir().unwrap();
    let pay = aff("pay");
    {
        let app = open(dir.path());
        app.create_campaign(&group(), form("elders")).unwrap();
        // 200 users: the even ones in their sixties; each makes two transfers in the hour,
        // and one more the next hour. Bank's users never count: the campaign is pay's.
        for u in 0..200 {
            let band = if u % 2 == 0 { "60s" } else { "30s" };
            for (k, at) in ["2026-11-26T10:00:00+09:00", "2026-11-26T10:05:00+09:00", "2026-11-26T11:30:00+09:00"]
                .iter()
                .enumerate()
            {
                app.decide(&pay, transfer(&format!("p{u}-{k}"), "pay", &format!("u{u}"), band, at)).await.unwrap();
                app.decide(&aff("bank"), transfer(&format!("b{u}-{k}"), "bank", &format!("u{u}"), band, at))
                    .await
                    .unwrap();
            }
        }
        // In the segment, but before the campaign starts.
        for k in 0..2 {
            let e = transfer(&format!("early-{k}"), "pay", "early", "60s", "2026-11-25T23:50:00+09:00");
            app.decide(&pay, e).await.unwrap();
        }
        while app.process_outbox(1_000).unwrap() > 0 {}
        let v = app.campaign(&group(), "elders").unwrap();
        let (t, c) = (v.effect.treated.users, v.effect.control.users);
        assert_eq!(t + c, 100, "every user in their sixties once, nobody else");
        assert!((30..=70).contains(&c), "a half hold-out: {c} of 100 in control");
        assert_eq!(v.effect.by_affiliate, [(pay.clone(), t, c)]);
        assert!(v.problems.is_empty(), "{:?}", v.problems);

        // One notice per treated user, to pay, in both languages; none for the controls.
        let notices: Vec<_> = app
            .store()
            .actions_due(i64::MAX, 10_000)
            .unwrap()
            .into_iter()
            .filter(|a| a.kind == app::campaigns::NOTICE_KIND)
            .collect();
        assert_eq!(notices.len() as u64, t);
        assert!(notices.iter().all(|a| a.affiliate == pay));
        let payload: serde_json::Value = serde_json::from_str(&notices[0].payload).unwrap();
        assert_eq!(payload["ko"]["title"], "송금 전 확인하세요");
        assert_eq!(payload["en"]["title"], "Check before you send");
        let subjects: std::collections::HashSet<String> = notices
            .iter()
            .map(|a| serde_json::from_str::<serde_json::Value>(&a.payload).unwrap()["subject"].to_string())
            .collect();
        assert_eq!(subjects.len() as u64, t, "one notice per user");

        // Reports pay files for its users: two treated and three controls were defrauded.
        let members = app.store().campaign_subjects("elders", &pay).unwrap();
        let control = |s: &str| app::effect::in_control("elders", &format!("pay\0{s}"), 500);
        let treated: Vec<&String> = members.iter().filter(|s| !control(s)).take(2).collect();
        let controls: Vec<&String> = members.iter().filter(|s| control(s)).take(3).collect();
        for s in treated.iter().chain(&controls) {
            app.file_report(&Reporter::Affiliate(pay.clone()), report(Some(s), 1_000_000)).unwrap();
        }
        // Not outcomes: a report without a user, one for a user outside the campaign, and
        // another affiliate's report about a user of the same id.
        app.file_report(&Reporter::Affiliate(pay.clone()), report(None, 5)).unwrap();
        app.file_report(&Reporter::Affiliate(pay.clone()), report(Some("u1"), 5)).unwrap();
        app.file_report(&Reporter::Affiliate(aff("bank")), report(Some(treated[0]), 5)).unwrap();
        // A public report names no user.
        let e = app.file_report(&Reporter::Public { ip: "198.51.100.7".into() }, report(Some("u0"), 5)).unwrap_err();
        assert_eq!(field_of(e), "subject");

        let e = app.campaign(&group(), "elders").unwrap().effect;
        assert_eq!((e.treated.reported, e.control.reported), (2, 3));
        assert_eq!((e.treated.won, e.control.won), (2_000_000, 3_000_000));
        let r = e.reports.unwrap();
        assert!((r.treated - 2.0 / t as f64 * 1e4).abs() < 1e-6 && (r.control - 3.0 / c as f64 * 1e4).abs() < 1e-6);
        assert!(r.low < r.difference && r.difference < r.high);
        let l = e.losses.unwrap();
        assert!((l.difference - (2e6 / t as f64 - 3e6 / c as f64) * 1e4).abs() < 1.0, "{l:?}");

        // Stopped: a new user in the segment is no longer enrolled.
        app.stop_campaign(&group(), "elders").unwrap();
        for k in 0..2 {
            let e = transfer(&format!("late-{k}"), "pay", "late", "60s", "2026-11-26T15:00:00+09:00");
            app.decide(&pay, e).await.unwrap();
        }
        while app.process_outbox(1_000).unwrap() > 0 {}
        let after = app.campaign(&group(), "elders").unwrap();
        assert_eq!(after.effect.treated.users + after.effect.control.users, 100);
        assert!(after.campaign.stopped_ms.is_some());
    }
    // After a restart the campaign and who is enrolled come back from the store: an enrolled
    // user's next event in the segment writes no enrolment at all.
    let app = open(dir.path());
    let v = app.campaign(&group(), "elders").unwrap();
    assert!(v.campaign.stopped_ms.is_some());
    let fresh = CampaignForm { id: "again".into(), ..form("again") };
    app.create_campaign(&group(), fresh).unwrap();
    for k in 0..2 {
        app.decide(&pay, transfer(&format!("again-{k}"), "pay", "u0", "60s", "2026-11-26T20:00:00+09:00"))
            .await
            .unwrap();
    }
    while app.process_outbox(1_000).unwrap() > 0 {}
    assert_eq!(app.store().campaign_subjects("again", &pay).unwrap(), ["u0"]);
    drop(app);
    let app = open(dir.path());
    app.decide(&pay, transfer("again-2", "pay", "u0", "60s", "2026-11-26T20:10:00+09:00")).await.unwrap();
    let pending = app.store().outbox_pending(100).unwrap();
    assert!(!pending.iter().any(|o| o.topic == "campaign.enroll"), "u0 is known to be enrolled: {pending:?}");
}
