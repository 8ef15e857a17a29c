//! Prevention campaigns end to end over HTTP: created with `POST /v1/campaigns` (a bad
//! segment refused by name with its position, a taken id a conflict), users enrolled from the
//! events posted to `POST /v1/events`, the arms and effect in `GET /v1/campaigns/{id}`, an
//! affiliate seeing only the campaigns reaching its users, and a stop.

mod common;

use ansim_http::Options;
use app::{App, AppConfig, Scope};
use axum::body::Bytes;
use axum::http::{Method, Request, StatusCode};
use domain::AffiliateId;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};

struct Http {
    addr: std::net::SocketAddr,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Http {
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

/// Counts each subject's transfers in an hour.
const RULES: &str = r#"
[ruleset]
name = "NAME"
version = 1

[[feature]]
name = "transfers_1h"
kind = "count"
key = ["subject.id"]
window = "1h"
where = "event.kind == 'transfer'"

[[rule]]
id = "big"
when = "transfer.amount >= 100_000_000"
verdict = "hold"
score = 60
reason = { ko = "큰 금액", en = "Large amount" }
"#;

fn campaign(id: &str, segment: &str) -> String {
    json!({
        "id": id,
        "name": "고령층 송금 주의",
        "segment": segment,
        "affiliates": ["pay"],
        "ko": { "title": "송금 전 확인하세요", "body": "수사기관은 송금을 요구하지 않습니다." },
        "en": { "title": "Check before you send", "body": "No investigator asks you to move money." },
        "starts_at": "2026-11-20T00:00:00+09:00",
        "ends_at": "2026-11-28 00:00",
        "holdout_per_mille": 200
    })
    .to_string()
}

fn transfer(id: &str, subject: &str, band: &str) -> String {
    json!({
        "id": id, "kind": "transfer", "at": "2026-11-26T10:00:00+09:00",
        "subject": { "id": subject, "age_band": band },
        "transfer": { "amount": 10_000, "counterparty": { "bank": "088", "account": "110000000001" } }
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_campaign_enrols_its_segment_and_shows_its_arms() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(AppConfig::new(dir.path())).unwrap();
    for a in ["pay", "bank", "group"] {
        app.ensure_affiliate(&AffiliateId(a.into()), a, &RULES.replace("NAME", a)).unwrap();
    }
    let pay = app.create_key(&AffiliateId("pay".into()), &[Scope::Decide]).unwrap();
    let bank = app.create_key(&AffiliateId("bank".into()), &[Scope::Admin]).unwrap();
    let group = app.create_key(&AffiliateId("group".into()), &[Scope::RulesWrite]).unwrap();
    let (addr, _stop) = common::serve(&app, Options::default()).await;
    let h = Http { addr, client: Client::builder(TokioExecutor::new()).build_http() };

    // A typo in the segment: refused, naming the field, the position and the name.
    let (status, v) = h.call(Method::POST, "/v1/campaigns", &group, campaign("c1", "subject.age_bnd == \"60s\"")).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["field"], "segment");
    assert!(v["detail"].as_str().unwrap().contains("1:1"), "{v}");
    // A key that may only decide cannot run one; an affiliate cannot reach another's users.
    let seg = "subject.age_band == \"60s\" && features.transfers_1h >= 1";
    let (status, _) = h.call(Method::POST, "/v1/campaigns", &pay, campaign("c1", seg)).await;
    assert_eq!(status, StatusCode::FORBIDDEN);
    let (status, v) = h.call(Method::POST, "/v1/campaigns", &bank, campaign("c1", seg)).await;
    assert_eq!((status, v["field"].as_str()), (StatusCode::BAD_REQUEST, Some("affiliates[0]")), "{v}");

    let (status, v) = h.call(Method::POST, "/v1/campaigns", &group, campaign("c1", seg)).await;
    assert_eq!(status, StatusCode::CREATED, "{v}");
    assert_eq!(
        (v["status"].as_str(), v["ends_at"].as_str()),
        (Some("following_up"), Some("2026-11-28T00:00:00.000+09:00"))
    );
    let (status, _) = h.call(Method::POST, "/v1/campaigns", &group, campaign("c1", seg)).await;
    assert_eq!(status, StatusCode::CONFLICT);

    // 100 users in their sixties and 50 younger, each one transfer.
    for u in 0..150 {
        let band = if u < 100 { "60s" } else { "40s" };
        let (status, v) =
            h.call(Method::POST, "/v1/events", &pay, transfer(&format!("e{u}"), &format!("u{u}"), band)).await;
        assert_eq!(status, StatusCode::OK, "{v}");
    }
    while app.process_outbox(1_000).unwrap() > 0 {}
    let (status, v) = h.call(Method::GET, "/v1/campaigns/c1", &group, String::new()).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    let (t, c) = (v["effect"]["treated"]["users"].as_u64().unwrap(), v["effect"]["control"]["users"].as_u64().unwrap());
    assert_eq!(t + c, 100, "{v}");
    assert!((5..=40).contains(&c), "a fifth held out: {c}");
    assert_eq!(v["effect"]["by_affiliate"], json!([{ "affiliate": "pay", "treated": t, "control": c }]));
    assert_eq!(v["effect"]["reports"]["difference"], json!(0.0), "no reports yet: {v}");

    // Bank's key sees no campaign of pay's; the group's sees it in the list.
    let (_, v) = h.call(Method::GET, "/v1/campaigns", &bank, String::new()).await;
    assert_eq!(v["campaigns"], json!([]));
    let (status, _) = h.call(Method::GET, "/v1/campaigns/c1", &bank, String::new()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (_, v) = h.call(Method::GET, "/v1/campaigns", &group, String::new()).await;
    assert_eq!(v["campaigns"][0]["id"], "c1");

    let (status, v) = h.call(Method::POST, "/v1/campaigns/c1/stop", &group, String::new()).await;
    assert_eq!(status, StatusCode::OK, "{v}");
    assert!(v["stopped_at"].is_string(), "{v}");
    let (status, _) = h.call(Method::POST, "/v1/campaigns/nope/stop", &group, String::new()).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
