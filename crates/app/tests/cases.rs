//! The report channel and cases through the application: triage priority, one case for many
//! simultaneous reports on one account, validation naming fields, reporters seeing only their
//! own report, confirmation flagging the registry and queuing actions for the holders, the
//! state machine, and the audit chain catching an edit made by SQL.

use app::cases::{Change, ReportForm, ReportKind, ReportedIndicator, Reporter};
use app::registry::Level;
use app::{App, AppConfig, AppError, Principal, Scope};
use domain::{AffiliateId, Krw, Timestamp};
use indicators::IndicatorKind;
use std::sync::Arc;

fn aff(s: &str) -> AffiliateId {
    AffiliateId(s.into())
}

fn form(account: &str, amount: i64, minutes_ago: i64, age: Option<u8>) -> ReportForm {
    ReportForm {
        kind: ReportKind::VoicePhishing,
        description: "검찰이라며 안전계좌로 옮기라고 해서 보냈습니다".into(),
        amount: Some(Krw(amount)),
        transferred_at: Some(Timestamp(app::now_ms() - minutes_ago * 60_000).to_kst_rfc3339()),
        contact_ongoing: false,
        age,
        indicators: vec![ReportedIndicator { kind: "account".into(), value: account.into() }],
        contact: Some("010-0000-0000".into()),
        subject: None,
    }
}

fn analyst() -> Principal {
    Principal { affiliate: aff(app::GROUP), scopes: vec![Scope::Cases], name: "key:ak_test1".into() }
}

fn public() -> Reporter {
    Reporter::Public { ip: "198.51.100.7".into() }
}

#[test]
fn triage_orders_the_queue_and_reporters_see_only_their_own_report() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(AppConfig::new(dir.path())).unwrap();
    let small = app.file_report(&public(), form("004 111-222-333", 50_000, 3 * 24 * 60, None)).unwrap();
    let urgent = app.file_report(&public(), form("088 222-333-444", 30_000_000, 10, Some(71))).unwrap();
    assert!(urgent.priority > small.priority, "{} vs {}", urgent.priority, small.priority);
    assert_eq!(urgent.priority, 40 + 30 + 15, "money, minutes and age");
    assert!(urgent.new_case && small.new_case && urgent.case_id != small.case_id);
    let queue = app.case_queue(&analyst(), 10).unwrap();
    assert_eq!(queue.iter().map(|c| c.id).collect::<Vec<_>>(), [urgent.case_id, small.case_id]);
    assert!(
        queue[0].sla_due_ms - queue[0].opened_ms < queue[1].sla_due_ms - queue[1].opened_ms,
        "urgent SLA is shorter"
    );

    // The receipt and secret show the report; a wrong secret looks like an unknown receipt.
    let (r, case) = app.report_status(&urgent.receipt, Some(&urgent.secret), None).unwrap();
    assert_eq!((r.case_id, case.state.as_str()), (urgent.case_id, "new"));
    assert!(matches!(app.report_status(&urgent.receipt, Some(&small.secret), None), Err(AppError::NotFound(_))));
    assert!(matches!(app.report_status(&urgent.receipt, None, Some(&aff("bank"))), Err(AppError::NotFound(_))));

    // Indicators reach the registry as reports.
    assert_eq!(app.shield(IndicatorKind::Account, "088:222333444").unwrap().level, Level::Caution);

    // Cases are the group's: an affiliate key cannot read them.
    let bank =
        Principal { affiliate: aff("bank"), scopes: vec![Scope::Admin, Scope::Cases], name: "key:ak_bank1".into() };
    assert!(matches!(app.case_queue(&bank, 10), Err(AppError::Forbidden(_))));
}

#[test]
fn bad_reports_name_the_field_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(AppConfig::new(dir.path())).unwrap();
    let cases = [
        (
            ReportForm { description: "<script>alert(1)</script>".into(), ..form("004:123456789", 1, 1, None) },
            "description",
        ),
        (ReportForm { description: "x".repeat(2_001), ..form("004:123456789", 1, 1, None) }, "description"),
        (ReportForm { description: " ".into(), ..form("004:123456789", 1, 1, None) }, "description"),
        (ReportForm { amount: Some(Krw(-5)), ..form("004:123456789", 1, 1, None) }, "amount"),
        (ReportForm { age: Some(200), ..form("004:123456789", 1, 1, None) }, "age"),
        (
            ReportForm { transferred_at: Some("yesterday".into()), ..form("004:123456789", 1, 1, None) },
            "transferred_at",
        ),
        (form("not an account", 1, 1, None), "indicators[0].value"),
        (
            ReportForm {
                indicators: vec![ReportedIndicator { kind: "iban".into(), value: "x".into() }],
                ..form("004:123456789", 1, 1, None)
            },
            "indicators[0].kind",
        ),
        (
            ReportForm { contact: Some("<img src=x onerror=alert(1)>".into()), ..form("004:123456789", 1, 1, None) },
            "contact",
        ),
    ];
    for (f, field) in cases {
        match app.file_report(&public(), f) {
            Err(AppError::Invalid { field: got, .. }) => assert_eq!(got, field),
            other => panic!("{field}: {other:?}"),
        }
    }
    assert!(app.case_queue(&analyst(), 10).unwrap().is_empty());
    assert_eq!(app.verify_audit().unwrap(), Ok(0));
}

#[test]
fn fifty_simultaneous_reports_on_one_account_make_one_case() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(AppConfig::new(dir.path())).unwrap();
    let spellings = ["089 123-456789", "089 123456789", "089:123456789", "089:123-456-789"];
    let barrier = Arc::new(std::sync::Barrier::new(50));
    let handles: Vec<_> = (0..50)
        .map(|i| {
            let (app, barrier) = (Arc::clone(&app), Arc::clone(&barrier));
            let account = if i % 4 == 3 { "089:123456789" } else { spellings[i % 4] };
            std::thread::spawn(move || {
                barrier.wait();
                app.file_report(&public(), form(account, 100_000 * (i as i64 + 1), 5, None)).unwrap()
            })
        })
        .collect();
    let filed: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let cases: std::collections::BTreeSet<i64> = filed.iter().map(|f| f.case_id).collect();
    assert_eq!(cases.len(), 1, "one case: {cases:?}");
    assert_eq!(filed.iter().filter(|f| f.new_case).count(), 1);
    let (case, reports) = app.case_detail(&analyst(), *cases.first().unwrap()).unwrap();
    assert_eq!(reports.len(), 50);
    assert_eq!(case.priority, filed.iter().map(|f| f.priority).max().unwrap());
    let receipts: std::collections::BTreeSet<&str> = filed.iter().map(|f| f.receipt.as_str()).collect();
    assert_eq!(receipts.len(), 50, "receipts are unique");
    assert_eq!(app.verify_audit().unwrap(), Ok(50 + 49), "one entry per report, one per join");
}

#[test]
fn confirming_flags_the_registry_queues_actions_and_the_audit_catches_edits() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = AppConfig::new(dir.path());
    config.allow_private_webhooks = true;
    let app = App::open(config).unwrap();
    let admin = |a: &str| Principal { affiliate: aff(a), scopes: vec![Scope::Admin], name: "key:ak_adm".into() };
    let group = admin(app::GROUP);
    for a in ["bank", "messenger", "pay"] {
        app.ensure_affiliate(&aff(a), a, &format!("[ruleset]\nname = \"{a}\"\nversion = 1\n")).unwrap();
    }
    app.set_webhook(&admin("bank"), "http://127.0.0.1:9/hook", "0123456789abcdef").unwrap();
    app.set_webhook(&admin("messenger"), "http://127.0.0.1:9/m", "0123456789abcdef").unwrap();
    app.grant_holdings(&group, &aff("bank"), &["bank:088".into()]).unwrap();
    app.grant_holdings(&group, &aff("messenger"), &["profile".into()]).unwrap();
    assert!(matches!(app.grant_holdings(&group, &aff("pay"), &["bank:088".into()]), Err(AppError::Conflict(_))));
    assert!(matches!(
        app.grant_holdings(&admin("pay"), &aff("pay"), &["bank:089".into()]),
        Err(AppError::Forbidden(_))
    ));
    let mut f = form("088 555-666-777", 5_000_000, 20, None);
    f.indicators.push(ReportedIndicator { kind: "profile".into(), value: "kp_fraudster01".into() });
    let filed = app.file_report(&Reporter::Affiliate(aff("pay")), f).unwrap();
    let id = filed.case_id;

    let bad = app.change_case(&analyst(), id, Change { state: Some("closed".into()), ..Change::default() });
    assert!(matches!(bad, Err(AppError::Invalid { field, .. }) if field == "outcome"));
    app.change_case(
        &analyst(),
        id,
        Change { state: Some("investigating".into()), assignee: Some("kim".into()), ..Change::default() },
    )
    .unwrap();
    let back = app.change_case(&analyst(), id, Change { state: Some("triaged".into()), ..Change::default() });
    assert!(matches!(back, Err(AppError::Conflict(_))), "no going back");
    let row = app
        .change_case(
            &analyst(),
            id,
            Change { outcome: Some("confirmed_fraud".into()), note: Some("확인됨".into()), ..Change::default() },
        )
        .unwrap();
    assert_eq!((row.state.as_str(), row.outcome.map(|o| o.as_str())), ("action_taken", Some("confirmed_fraud")));
    assert_eq!(row.holding, ["bank", "messenger"], "the holders are a column of the case");
    assert!(row.first_action_ms.is_some());

    // Every affiliate now sees danger; the holders have actions queued, the filer a notice.
    assert_eq!(app.shield(IndicatorKind::Account, "088:555666777").unwrap().level, Level::Danger);
    assert_eq!(app.shield(IndicatorKind::Profile, "kp_fraudster01").unwrap().level, Level::Danger);
    let due = app.store().actions_due(i64::MAX, 10).unwrap();
    let mut got: Vec<(String, String)> = due.iter().map(|a| (a.affiliate.to_string(), a.kind.clone())).collect();
    got.sort();
    assert_eq!(
        got,
        [
            ("bank".to_string(), "hold_account".to_string()),
            ("messenger".to_string(), "sanction_profile".to_string()),
            ("pay".to_string(), "notify_victim".to_string())
        ]
    );

    // The audit chain holds until a row is edited behind the application's back.
    let n = app.verify_audit().unwrap().unwrap();
    assert!(n >= 6, "{n}");
    drop(app);
    let db = rusqlite_edit(dir.path());
    assert!(db.is_ok(), "{db:?}");
    let app = App::open(AppConfig::new(dir.path())).unwrap();
    let (seq, why) = app.verify_audit().unwrap().unwrap_err();
    assert_eq!(seq, 3, "{why}");
}

/// Edits the third audit row with SQL, as an insider might.
fn rusqlite_edit(dir: &std::path::Path) -> Result<(), String> {
    let c = rusqlite::Connection::open(dir.join("ansim.db")).map_err(|e| e.to_string())?;
    c.execute("UPDATE audit SET detail = '{\"note\":\"edited\"}' WHERE seq = 3", []).map_err(|e| e.to_string())?;
    Ok(())
}

#[test]
fn overdue_first_actions_and_relief_deadlines_raise_alerts() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = AppConfig::new(dir.path());
    cfg.sla_base_minutes = 0;
    let app = App::open(cfg).unwrap();
    let slow = app.file_report(&public(), form("004 777-000-111", 10_000, 3 * 24 * 60, None)).unwrap();
    let later = app::now_ms() + 1;
    let alerts = app.alerts(&analyst(), later).unwrap();
    assert_eq!(
        alerts.iter().map(|a| (a.case_id, a.what.as_str())).collect::<Vec<_>>(),
        [(slow.case_id, "first_action")]
    );

    // Relief started by phone a week ago: the written request (3 business days) is overdue.
    let step = app::cases::ReliefStep::Suspension {
        channel: app::relief::Channel::Phone,
        at: Some(Timestamp(app::now_ms() - 7 * 86_400_000).to_kst_rfc3339()),
    };
    app.change_case(&analyst(), slow.case_id, Change { relief: Some(step), ..Change::default() }).unwrap();
    let alerts = app.alerts(&analyst(), app::now_ms()).unwrap();
    assert!(alerts.iter().any(|a| a.case_id == slow.case_id && a.what == "written_request"), "{alerts:?}");
    assert!(alerts.iter().all(|a| a.what != "first_action"), "recording relief was the first action: {alerts:?}");
}

fn close(app: &App, id: i64) {
    let done = Change { outcome: Some("confirmed_fraud".into()), state: Some("closed".into()), ..Change::default() };
    app.change_case(&analyst(), id, done).unwrap();
}

/// Regression: a report about an account whose case was closed joined the closed case and
/// never reached the queue. It opens a new case, linked to the closed one, which stays as it
/// was decided.
#[test]
fn a_report_about_a_closed_case_opens_a_new_case_linked_to_it() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(AppConfig::new(dir.path())).unwrap();
    let first = app.file_report(&public(), form("088 555-000-111", 2_000_000, 30, None)).unwrap();
    close(&app, first.case_id);
    let closed = app.case_detail(&analyst(), first.case_id).unwrap();
    assert_eq!(closed.0.state, domain::CaseState::Closed);
    assert!(closed.0.closed_ms.is_some());

    let again = app.file_report(&Reporter::Affiliate(aff("pay")), form("088-555-000-111", 700_000, 5, None)).unwrap();
    assert!(again.new_case && again.case_id != first.case_id, "{again:?}");
    let (case, reports) = app.case_detail(&analyst(), again.case_id).unwrap();
    assert_eq!(case.linked_case, Some(first.case_id));
    assert_eq!((case.money_at_risk, case.reporting.as_slice()), (700_000, ["pay".to_string()].as_slice()));
    assert_eq!(reports.len(), 1);
    let queue: Vec<i64> = app.case_queue(&analyst(), 10).unwrap().iter().map(|c| c.id).collect();
    assert_eq!(queue, [again.case_id], "the new case is in the queue");
    let (old, old_reports) = app.case_detail(&analyst(), first.case_id).unwrap();
    assert_eq!((old, old_reports.len()), (closed.0, 1), "the closed case is untouched");
    // The next report joins the new case, not the closed one.
    let third = app.file_report(&public(), form("088 555000111", 100_000, 5, None)).unwrap();
    assert_eq!((third.case_id, third.new_case), (again.case_id, false));
    let (case, _) = app.case_detail(&analyst(), again.case_id).unwrap();
    assert_eq!(
        (case.money_at_risk, case.reporting.as_slice()),
        (800_000, ["pay".to_string(), "public".to_string()].as_slice())
    );
}

/// Regression: a case body that failed to parse was replaced by an empty one and saved back.
/// It is an error naming the case, and the stored text is left as it is.
#[test]
fn an_unreadable_case_body_is_an_error_and_is_left_as_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(AppConfig::new(dir.path())).unwrap();
    let filed = app.file_report(&public(), form("088 999-000-111", 2_000_000, 30, None)).unwrap();
    let audit = app.verify_audit().unwrap().unwrap();
    let db = rusqlite::Connection::open(dir.path().join("ansim.db")).unwrap();
    db.execute("UPDATE fraud_case SET body = '{\"indicators\": 7}' WHERE id = ?1", [filed.case_id]).unwrap();
    let err = app.change_case(&analyst(), filed.case_id, Change { note: Some("look".into()), ..Change::default() });
    assert!(matches!(&err, Err(AppError::Unavailable(m)) if m.contains(&format!("case {}", filed.case_id))), "{err:?}");
    // A report joining it fails whole too: no report, no audit row, no registry change.
    let join = app.file_report(&public(), form("088 999-000-111", 10_000, 5, None));
    assert!(matches!(join, Err(AppError::Unavailable(_))), "{join:?}");
    let body: String =
        db.query_row("SELECT body FROM fraud_case WHERE id = ?1", [filed.case_id], |r| r.get(0)).unwrap();
    assert_eq!(body, "{\"indicators\": 7}", "never overwritten");
    let reports: i64 = db.query_row("SELECT COUNT(*) FROM report", [], |r| r.get(0)).unwrap();
    assert_eq!(reports, 1);
    assert_eq!(app.verify_audit().unwrap().unwrap(), audit, "no audit row was added");
    assert_eq!(app.shield(IndicatorKind::Account, "088:999000111").unwrap().reports, 1, "one report in the registry");
}

/// Regression: the audit log's actor was taken from the request body (`assignee`); it is the
/// authenticated principal.
#[test]
fn the_audit_log_names_the_principal_not_a_name_from_the_request() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(AppConfig::new(dir.path())).unwrap();
    let filed = app.file_report(&public(), form("088 123-000-111", 2_000_000, 30, None)).unwrap();
    let change = Change { assignee: Some("someone-else".into()), note: Some("mine".into()), ..Change::default() };
    let row = app.change_case(&analyst(), filed.case_id, change).unwrap();
    assert_eq!(row.assignee.as_deref(), Some("someone-else"), "the assignee is data");
    let log = app.store().audit_log().unwrap();
    let changes: Vec<&str> =
        log.iter().filter(|r| r.entry.action.starts_with("case.")).map(|r| r.entry.actor.as_str()).collect();
    assert_eq!(changes, ["group/key:ak_test1", "group/key:ak_test1"], "{log:?}");
    let body = app::cases::CaseBody::parse(row.id, &row.body).unwrap();
    assert_eq!(body.notes[0].author, "group/key:ak_test1");
}

/// Regression (found by schemathesis): `http://` with no host was stored as a webhook, and the
/// secret's length was counted in bytes, so 15 Korean characters passed as "16 to 200 characters".
#[test]
fn a_webhook_needs_a_host_and_a_secret_of_16_characters() {
    let dir = tempfile::tempdir().unwrap();
    let mut config = AppConfig::new(dir.path());
    config.allow_private_webhooks = true;
    let app = App::open(config).unwrap();
    app.ensure_affiliate(&aff("bank"), "bank", "[ruleset]\nname = \"bank\"\nversion = 1\n").unwrap();
    let admin = Principal { affiliate: aff("bank"), scopes: vec![Scope::Admin], name: "key:ak_adm".into() };
    for url in ["http://", "https://", "http:///hook", "http://:80/x", "http://user@/x"] {
        match app.set_webhook(&admin, url, "0123456789abcdef") {
            Err(AppError::Invalid { field, .. }) => assert_eq!(field, "url", "{url}"),
            other => panic!("{url}: {other:?}"),
        }
    }
    match app.set_webhook(&admin, "https://hooks.example.com/a", &"가".repeat(15)) {
        Err(AppError::Invalid { field, .. }) => assert_eq!(field, "secret"),
        other => panic!("{other:?}"),
    }
    app.set_webhook(&admin, "https://hooks.example.com/a", &"가".repeat(16)).unwrap();
}

/// A hold decision's case is opened at the time of the event it held, not when the outbox was
/// drained: a backlog (or a seeded history) keeps its cases in the months they happened.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_held_event_opens_its_case_at_the_event_s_time() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(AppConfig::new(dir.path())).unwrap();
    let pay = aff("pay");
    app.ensure_affiliate(&pay, "Pay", include_str!("../../../test_data/rulesets/velocity.toml")).unwrap();
    // Three transfers in an hour, ten days ago: the third is held.
    let at = app::now_ms() - 10 * 86_400_000;
    let mut held = None;
    for i in 0..3 {
        let t = Timestamp(at + i * 60_000).to_kst_rfc3339();
        let e = domain::Event::from_json(
            &format!(
                r#"{{"id":"h{i}","affiliate":"pay","kind":"transfer","at":"{t}","subject":{{"id":"u1"}},
                   "transfer":{{"amount":10000,"counterparty":{{"bank":"088","account":"110123456789"}}}}}}"#
            ),
            None,
        )
        .unwrap();
        let d = app.decide(&pay, e).await.unwrap();
        if d.decision.verdict == domain::Verdict::Hold {
            held = Some(at + i * 60_000);
        }
    }
    let held = held.expect("the third transfer is held");
    while app.process_outbox(100).unwrap() > 0 {}
    let cases = app.store().cases_opened(0, i64::MAX).unwrap();
    assert_eq!(cases.len(), 1, "{cases:?}");
    assert_eq!(cases[0].opened_ms, held, "opened when the transfer was held");
}
