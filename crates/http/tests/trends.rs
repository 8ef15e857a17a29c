//! Trends end to end over HTTP: decisions posted to `POST /v1/events` show up in
//! `GET /v1/trends` by day, week and month and by the dimensions asked for, counted once per
//! event id (a repeat does not count again); an affiliate sees only its own decisions, the
//! group's administrator sees every affiliate's; bad parameters are refused by name.

mod common;

use ansim_http::Options;
use app::{App, AppConfig, Scope};
use axum::body::Bytes;
use axum::http::{Method, Request, StatusCode};
use domain::{AffiliateId, Timestamp};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use std::sync::Arc;

struct Http {
    addr: std::net::SocketAddr,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Http {
    async fn page(&self, path: &str) -> (StatusCode, String) {
        let req = Request::builder().uri(format!("http://{}{path}", self.addr)).body(Full::new(Bytes::new())).unwrap();
        let res = self.client.request(req).await.expect("request");
        let status = res.status();
        (status, String::from_utf8_lossy(&res.into_body().collect().await.unwrap().to_bytes()).into_owned())
    }

    async fn call(&self, method: Method, path: &str, key: &str, body: String) -> (StatusCode, Value) {
        let req = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr))
            .header("authorization", format!("Bearer {key}"))
            .header("content-type", "application/json")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let res = self.client.request(req).await.expect("request");
        let status = res.status();
        let body = res.into_body().collect().await.unwrap().to_bytes();
        (status, serde_json::from_slice(&body).unwrap_or(Value::Null))
    }
}

/// A rule that holds transfers of a million won or more, tagged `impersonation`.
const RULES: &str = r#"
[ruleset]
name = "NAME"
version = 1

[[rule]]
id = "big"
when = "event.kind == 'transfer' && transfer.amount >= 1_000_000"
verdict = "hold"
score = 60
tags = ["impersonation"]
reason = { ko = "큰 금액", en = "Large amount" }
"#;

fn transfer(id: &str, at: &str, amount: i64, age: &str) -> String {
    json!({
        "id": id, "kind": "transfer", "at": at,
        "subject": { "id": "u1", "age_band": age },
        "transfer": { "amount": amount, "counterparty": { "bank": "088", "account": "110000000001" } }
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decisions_show_up_in_trends_by_period_and_dimension() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(AppConfig::new(dir.path())).unwrap();
    for a in ["pay", "bank", "group"] {
        app.ensure_affiliate(&AffiliateId(a.into()), a, &RULES.replace("NAME", a)).unwrap();
    }
    let pay = app.create_key(&AffiliateId("pay".into()), &[Scope::Decide]).unwrap();
    let bank = app.create_key(&AffiliateId("bank".into()), &[Scope::Decide]).unwrap();
    let admin = app.create_key(&AffiliateId("group".into()), &[Scope::Admin]).unwrap();
    // The live page is on (as in the demo), and with it the yearly report page.
    let (addr, _stop) = common::serve(&app, Options { live_page: true, ..Options::default() }).await;
    let h = Http { addr, client: Client::builder(TokioExecutor::new()).build_http() };

    // Two Korean days on either side of a week's start: Sunday 2026-11-29 and Monday
    // 2026-11-30 (23:30 Korea time is 14:30 UTC, still the same Korean day).
    let now = Timestamp(app::now_ms());
    let day = |d: &str, hm: &str| format!("{d}T{hm}:00+09:00");
    assert!(now.to_kst_rfc3339().as_str() > "2026-11-30", "the test's days must be in the past");
    let posts = [
        (&pay, transfer("p1", &day("2026-11-29", "10:00"), 2_000_000, "60s")),
        (&pay, transfer("p2", &day("2026-11-29", "23:30"), 50_000, "60s")),
        (&pay, transfer("p3", &day("2026-11-30", "00:10"), 3_000_000, "20s")),
        (&pay, transfer("p3", &day("2026-11-30", "00:10"), 3_000_000, "20s")),
        (&bank, transfer("b1", &day("2026-11-30", "09:00"), 5_000_000, "60s")),
    ];
    for (key, body) in posts {
        let (status, v) = h.call(Method::POST, "/v1/events", key, body).await;
        assert_eq!(status, StatusCode::OK, "{v}");
    }
    let q = "/v1/trends?from=2026-11-29&to=2026-11-30";
    let (status, v) = h.call(Method::GET, q, &pay, String::new()).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let points: Vec<(String, String, i64, i64, i64)> = v["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["period"].as_str().unwrap().to_string(),
                p["values"]["verdict"].as_str().unwrap().to_string(),
                p["decisions"].as_i64().unwrap(),
                p["amount"].as_i64().unwrap(),
                p["stopped_amount"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        points,
        vec![
            ("2026-11-29".into(), "allow".into(), 1, 50_000, 0),
            ("2026-11-29".into(), "hold".into(), 1, 2_000_000, 2_000_000),
            ("2026-11-30".into(), "hold".into(), 1, 3_000_000, 3_000_000),
        ],
        "pay's own decisions by day and verdict, the repeat of p3 counted once, the bank's not at all"
    );
    // By week (Monday first): Sunday the 29th belongs to the week of the 23rd.
    let (_, v) = h.call(Method::GET, &format!("{q}&by=week&group=typology,age_band"), &pay, String::new()).await;
    let weeks: Vec<(String, String, String, i64)> = v["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["period"].as_str().unwrap().into(),
                p["values"]["typology"].as_str().unwrap().into(),
                p["values"]["age_band"].as_str().unwrap().into(),
                p["decisions"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        weeks,
        vec![
            ("2026-11-23".into(), "".into(), "60s".into(), 1),
            ("2026-11-23".into(), "impersonation".into(), "60s".into(), 1),
            ("2026-11-30".into(), "impersonation".into(), "20s".into(), 1),
        ]
    );
    // The group's administrator: every affiliate, by month and affiliate.
    let (status, v) = h.call(Method::GET, &format!("{q}&by=month&group=affiliate"), &admin, String::new()).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let months: Vec<(String, String, i64, i64)> = v["points"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            (
                p["period"].as_str().unwrap().into(),
                p["values"]["affiliate"].as_str().unwrap().into(),
                p["decisions"].as_i64().unwrap(),
                p["stopped"].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(months, vec![("2026-11-01".into(), "bank".into(), 1, 1), ("2026-11-01".into(), "pay".into(), 3, 2)]);
    // An affiliate may not split by affiliate; bad parameters are named.
    let (status, _) = h.call(Method::GET, &format!("{q}&group=affiliate"), &pay, String::new()).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    for (bad, field) in [
        ("/v1/trends?from=2026-02-30", "from"),
        ("/v1/trends?by=year", "by"),
        ("/v1/trends?group=colour", "group"),
        ("/v1/trends?group=", "group"),
        ("/v1/trends?group=kind,%20verdict", "group"),
        ("/v1/trends?from=2026-12-01&to=2026-11-01", "to"),
    ] {
        let (status, v) = h.call(Method::GET, bad, &pay, String::new()).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{bad}: {v}");
        assert!(v.to_string().contains(field), "{bad} names {field}: {v}");
    }
    // The yearly report, linked from the live page: every affiliate's 4 decisions of 2026,
    // 3 of them held (5,000,000 + 3,000,000 + 2,000,000 won).
    let (_, live) = h.page("/").await;
    assert!(live.contains("href=\"/yearly\""), "the live page links to the report");
    let (status, ko) = h.page("/yearly?year=2026").await;
    assert_eq!(status, StatusCode::OK);
    assert!(ko.contains("금융안전 연례 보고서 2026") && ko.contains("10,000,000"), "{ko}");
    let (_, en) = h.page("/yearly?year=2026&lang=en").await;
    assert!(en.contains("Financial safety report 2026") && en.contains("<svg"));
    let (status, _) = h.page("/yearly?lang=fr").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
}

/// A wave of parcel smishing in the last three days of a quiet quarter is one alert, dated on
/// its first day, with the affiliates that saw it; an affiliate sees only its own share.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wave_of_one_typology_raises_one_alert() {
    let dir = tempfile::tempdir().unwrap();
    let store = Arc::new(store::sqlite::SqliteStore::open(&dir.path().join("ansim.db")).unwrap());
    // Ninety days of history written as committed decisions would leave it: about 30 parcel
    // texts a day at "pay" (fewer at weekends), then 90, 110 and 100 on the last three days,
    // when "bank" saw 20 a day too.
    let to = app::trends::parse_day("2026-11-30").unwrap();
    let mut n = 0;
    for day in to - 89..=to {
        let weekday = (day + 3).rem_euclid(7);
        let quiet = if weekday >= 5 { 22 } else { 30 } + (day % 3);
        let wave = [90, 110, 100];
        let back = (to - day) as usize;
        let (pay, bank) = if back < 3 { (wave[2 - back], 20) } else { (quiet, 0) };
        for (affiliate, count) in [("pay", pay), ("bank", bank)] {
            let writes: Vec<store::Write> = (0..count)
                .map(|_| {
                    n += 1;
                    let mut w = store::conformance::write(&AffiliateId(affiliate.into()), &format!("m{n}"));
                    // A real message event: the app replays the stored events when it starts.
                    w.record.kind = "message".into();
                    w.record.at_ms = (day * 86_400 + 3 * 3_600) * 1_000;
                    w.record.event_json = json!({
                        "id": format!("m{n}"), "affiliate": affiliate, "kind": "message",
                        "at": Timestamp(w.record.at_ms).to_kst_rfc3339(),
                        "subject": { "id": "u1" },
                        "message": { "sender": { "phone": "010-0000-0000" }, "text": "배송 주소를 확인하세요" }
                    })
                    .to_string();
                    store::Write {
                        trend: Some((
                            store::TrendKey {
                                day,
                                kind: "message".into(),
                                verdict: "warn".into(),
                                typology: "parcel_smishing".into(),
                                age_band: String::new(),
                                amount_band: String::new(),
                            },
                            0,
                        )),
                        ..w
                    }
                })
                .collect();
            if !writes.is_empty() {
                store::Store::commit(&*store, &writes).unwrap();
            }
        }
    }
    // The bank subscribes to follow-up actions with a webhook; the others have none.
    store::Store::put_webhook(
        &*store,
        &AffiliateId("bank".into()),
        "https://bank.example/hook",
        "bank-secret-0123456",
        0,
    )
    .unwrap();
    let app = App::open_on(Arc::clone(&store) as Arc<dyn store::Store>, AppConfig::new(dir.path())).unwrap();
    for a in ["pay", "bank", "group"] {
        app.ensure_affiliate(&AffiliateId(a.into()), a, &RULES.replace("NAME", a)).unwrap();
    }
    let pay = app.create_key(&AffiliateId("pay".into()), &[Scope::Decide]).unwrap();
    let admin = app.create_key(&AffiliateId("group".into()), &[Scope::Admin]).unwrap();
    let (addr, _stop) = common::serve(&app, Options::default()).await;
    let h = Http { addr, client: Client::builder(TokioExecutor::new()).build_http() };

    let (status, v) = h.call(Method::GET, "/v1/trends/alerts?to=2026-11-30", &admin, String::new()).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let alerts = v["alerts"].as_array().unwrap();
    assert_eq!(alerts.len(), 1, "one wave, one alert: {v}");
    let a = &alerts[0];
    assert_eq!((a["kind"].as_str(), a["typology"].as_str()), (Some("message"), Some("parcel_smishing")));
    assert_eq!((a["first_seen"].as_str(), a["last_seen"].as_str()), (Some("2026-11-28"), Some("2026-11-30")));
    assert_eq!(a["count"].as_i64(), Some(360));
    assert!(a["expected"].as_f64().unwrap() < 120.0, "{a}");
    assert_eq!(a["affiliates"], json!([{ "affiliate": "pay", "count": 300 }, { "affiliate": "bank", "count": 60 }]));
    // The affiliate's own view: its share only. Before the wave, nothing.
    let (_, v) = h.call(Method::GET, "/v1/trends/alerts?to=2026-11-30", &pay, String::new()).await;
    assert_eq!(v["alerts"][0]["affiliates"], json!([{ "affiliate": "pay", "count": 300 }]), "{v}");
    let (_, v) = h.call(Method::GET, "/v1/trends/alerts?to=2026-11-27&days=30", &admin, String::new()).await;
    assert_eq!(v["alerts"], json!([]), "a quiet quarter raises nothing");
    // The wave goes out as a `trend.alert` action to the subscribed affiliate, once however
    // often the check runs.
    let noon = Timestamp::parse_rfc3339("2026-11-30T12:00:00+09:00").unwrap().0;
    assert_eq!(app.announce_trend_alerts(noon).unwrap(), 1);
    assert_eq!(app.announce_trend_alerts(noon + 600_000).unwrap(), 1);
    let queued: Vec<store::ActionRow> = store::Store::actions_due(&*store, noon + 3_600_000, 100)
        .unwrap()
        .into_iter()
        .filter(|a| a.kind == "trend.alert")
        .collect();
    assert_eq!(queued.len(), 1, "{queued:?}");
    assert_eq!(queued[0].affiliate.as_str(), "bank");
    let payload: Value = serde_json::from_str(&queued[0].payload).unwrap();
    assert_eq!(
        (payload["typology"].as_str(), payload["first_seen"].as_str()),
        (Some("parcel_smishing"), Some("2026-11-28"))
    );
    // A week later the wave is old news: nothing new to announce.
    assert_eq!(app.announce_trend_alerts(noon + 7 * 86_400_000).unwrap(), 0);
    let (status, v) = h.call(Method::GET, "/v1/trends/alerts?days=0", &admin, String::new()).await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(v.to_string().contains("days"), "{v}");
}

/// One mule account collecting from many subjects at two affiliates, and named in a victim's
/// report, is an emerging campaign in `GET /v1/trends/clusters`: counted once per protective
/// decision (allowed transfers to it do not count), under its keyed digest, never the account
/// number; an affiliate sees its own sightings only, and a `trend.cluster` action goes to the
/// subscribed affiliate once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mule_account_seen_by_two_affiliates_is_an_emerging_campaign() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(AppConfig::new(dir.path())).unwrap();
    for a in ["pay", "bank", "group"] {
        app.ensure_affiliate(&AffiliateId(a.into()), a, &RULES.replace("NAME", a)).unwrap();
    }
    let pay = app.create_key(&AffiliateId("pay".into()), &[Scope::Decide]).unwrap();
    let bank = app.create_key(&AffiliateId("bank".into()), &[Scope::Decide]).unwrap();
    let admin = app.create_key(&AffiliateId("group".into()), &[Scope::Admin]).unwrap();
    store::Store::put_webhook(
        &**app.store(),
        &AffiliateId("bank".into()),
        "https://bank.example/hook",
        "0123456789abcdef0123",
        0,
    )
    .unwrap();
    let (addr, _stop) = common::serve(&app, Options::default()).await;
    let h = Http { addr, client: Client::builder(TokioExecutor::new()).build_http() };
    let now = Timestamp(app::now_ms() - 60_000).to_kst_rfc3339();
    let send = |id: String, subject: usize, amount: i64| {
        json!({
            "id": id, "kind": "transfer", "at": now, "subject": { "id": format!("u{subject}") },
            "transfer": { "amount": amount, "counterparty": { "bank": "088", "account": "110-999-000001" } }
        })
        .to_string()
    };
    // Held (a million or more): 4 at pay, 3 at bank, each from another subject; allowed
    // transfers to the same account do not count.
    for i in 0..4 {
        let (status, v) = h.call(Method::POST, "/v1/events", &pay, send(format!("p{i}"), i, 2_000_000)).await;
        assert_eq!((status, v["verdict"].as_str()), (StatusCode::OK, Some("hold")), "{v}");
        h.call(Method::POST, "/v1/events", &pay, send(format!("small{i}"), i, 10_000)).await;
    }
    for i in 0..3 {
        h.call(Method::POST, "/v1/events", &bank, send(format!("b{i}"), 10 + i, 3_000_000)).await;
    }
    // A victim reports it through the bank.
    let report = json!({
        "kind": "voice_phishing", "description": "검찰 사칭 전화를 받고 송금했습니다", "amount": 2_000_000,
        "indicators": [{ "kind": "account", "value": "088 110-999-000001" }]
    });
    let (status, v) = h.call(Method::POST, "/v1/reports", &bank, report.to_string()).await;
    assert_eq!(status, StatusCode::OK, "{v}");

    let (status, v) = h.call(Method::GET, "/v1/trends/clusters", &admin, String::new()).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let accounts: Vec<&Value> = v["clusters"].as_array().unwrap().iter().filter(|c| c["kind"] == "account").collect();
    assert_eq!(accounts.len(), 1, "{v}");
    let c = accounts[0];
    assert_eq!(
        (c["decisions"].as_i64(), c["reports"].as_i64(), c["before"].as_i64()),
        (Some(7), Some(1), Some(0)),
        "{c}"
    );
    assert_eq!(c["affiliates"], json!([{ "affiliate": "bank", "count": 4 }, { "affiliate": "pay", "count": 4 }]));
    let digest = c["value"].as_str().unwrap();
    assert!(digest.len() == 64 && digest.bytes().all(|b| b.is_ascii_hexdigit()), "a digest, not the number: {digest}");
    assert!(!v.to_string().contains("110999000001"), "no raw account anywhere: {v}");
    // Each affiliate alone saw fewer than the floor of five: pay 4 decisions, bank 3 and a report.
    let (_, mine) = h.call(Method::GET, "/v1/trends/clusters", &pay, String::new()).await;
    assert_eq!(
        mine["clusters"].as_array().map(|a| a.iter().filter(|c| c["kind"] == "account").count()),
        Some(0),
        "{mine}"
    );
    let (_, mine) = h.call(Method::GET, "/v1/trends/clusters", &bank, String::new()).await;
    assert_eq!(mine["clusters"], json!([]), "bank's 3 decisions and 1 report: below the floor: {mine}");
    let (status, bad) = h.call(Method::GET, "/v1/trends/clusters?days=40", &admin, String::new()).await;
    assert_eq!((status, bad["field"].as_str()), (StatusCode::BAD_REQUEST, Some("days")));

    // The subscribed bank gets one `trend.cluster` action, however often the worker runs.
    let noon = app::now_ms();
    app.announce_clusters(noon).unwrap();
    app.announce_clusters(noon + 60_000).unwrap();
    let actions: Vec<_> =
        app.store().actions_due(i64::MAX, 100).unwrap().into_iter().filter(|a| a.kind == "trend.cluster").collect();
    assert!(!actions.is_empty() && actions.iter().all(|a| a.affiliate.as_str() == "bank"), "{actions:?}");
    let ids: std::collections::HashSet<&str> = actions.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids.len(), actions.len(), "one action per cluster");
    assert!(actions.iter().any(|a| a.payload.contains(digest)));
}
