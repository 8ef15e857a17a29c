//! The report channel and cases end to end over HTTP: a victim reports without a key, the case
//! is triaged, an analyst of the group confirms it, every affiliate's shield turns red and the
//! holding affiliate's webhook gets a signed hold action exactly once even though its first
//! delivery fails. Plus the abuse cases of a public endpoint (oversized, malformed and scripted
//! input, floods, other reporters' data) and the form that works without JavaScript.

use ansim_http::{Options, Server};
use app::{App, AppConfig, Scope};
use axum::body::Bytes;
use axum::http::{Method, Request, StatusCode, header};
use domain::{AffiliateId, Timestamp};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::Arc;

struct Resp {
    status: StatusCode,
    content_type: String,
    retry_after: Option<String>,
    body: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }
}

struct Http {
    addr: SocketAddr,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Http {
    async fn call(&self, method: Method, path: &str, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Resp {
        let mut req = Request::builder().method(method).uri(format!("http://{}{path}", self.addr));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = self.client.request(req.body(Full::new(body.into())).unwrap()).await.expect("request");
        let status = res.status();
        let content_type =
            res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let retry_after = res.headers().get(header::RETRY_AFTER).and_then(|v| v.to_str().ok()).map(str::to_string);
        let body = String::from_utf8_lossy(&res.into_body().collect().await.unwrap().to_bytes()).into_owned();
        Resp { status, content_type, retry_after, body }
    }
}

fn aff(s: &str) -> AffiliateId {
    AffiliateId(s.into())
}

const RULES: &str = "[ruleset]\nname = \"NAME\"\nversion = 1\n";

/// The bank's webhook secret (the receiver beside the API verifies with it).
const BANK_SECRET: &str = "bank-webhook-secret-01";

async fn start(
    dir: &std::path::Path,
) -> (Http, Arc<App>, ansim_http::webhook::Receiver, tokio::sync::oneshot::Sender<()>) {
    // The receiver runs beside the API on loopback, which the operator allows here.
    let mut config = AppConfig::new(dir);
    config.allow_private_webhooks = true;
    let app = App::open(config).unwrap();
    let server = Server::new(Arc::clone(&app), Options::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let receiver = ansim_http::webhook::Receiver::new([("bank", BANK_SECRET)]);
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(ansim_http::serve_with(server, listener, Some(receiver.clone().router()), async move {
        let _ = rx.await;
    }));
    (Http { addr, client: Client::builder(TokioExecutor::new()).build_http() }, app, receiver, stop)
}

fn report(account: &str, amount: i64, minutes_ago: i64, age: u8) -> String {
    json!({
        "kind": "voice_phishing",
        "description": "검찰 수사관이라며 안전계좌로 옮기라고 해서 보냈어요",
        "amount": amount,
        "transferred_at": Timestamp(app::now_ms() - minutes_ago * 60_000).to_kst_rfc3339(),
        "age": age,
        "indicators": [{ "kind": "account", "value": account }],
        "contact": "010-0000-1234"
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_victims_report_becomes_a_confirmed_case_seen_by_every_affiliate() {
    let dir = tempfile::tempdir().unwrap();
    let (h, app, receiver, _stop) = start(dir.path()).await;
    for a in ["bank", "pay", "group"] {
        app.ensure_affiliate(&aff(a), a, &RULES.replace("NAME", a)).unwrap();
    }
    let pay = app.create_key(&aff("pay"), &[Scope::Decide]).unwrap();
    let analyst = app.create_key(&aff("group"), &[Scope::Cases]).unwrap();
    let bank_admin = app.create_key(&aff("bank"), &[Scope::Admin]).unwrap();
    let auth = |k: &str| format!("Bearer {k}");

    // A victim reports at night without a key.
    let r = h
        .call(
            Method::POST,
            "/v1/reports",
            &[("content-type", "application/json")],
            report("090 3333-01-555555", 4_800_000, 12, 71),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let receipt = r.json();
    let (no, secret) =
        (receipt["receipt"].as_str().unwrap().to_string(), receipt["secret"].as_str().unwrap().to_string());
    assert_eq!(receipt["priority"], 30 + 30 + 15, "{receipt}");

    // Only the reporter sees it.
    let mine = h.call(Method::GET, &format!("/v1/reports/{no}"), &[("x-report-secret", &secret)], "").await;
    assert_eq!((mine.status, mine.json()["status"].as_str()), (StatusCode::OK, Some("received")), "{}", mine.body);
    let wrong = h.call(Method::GET, &format!("/v1/reports/{no}"), &[("x-report-secret", "WRONGSECRET00000")], "").await;
    assert_eq!(wrong.status, StatusCode::NOT_FOUND);
    let other = h.call(Method::GET, &format!("/v1/reports/{no}"), &[("authorization", &auth(&pay))], "").await;
    assert_eq!(other.status, StatusCode::NOT_FOUND, "an affiliate sees only the reports it filed");

    // The group grants the bank bank code 090; the bank registers its webhook.
    let group_admin = app.create_key(&aff("group"), &[Scope::Admin]).unwrap();
    let grant = json!({ "holds": ["bank:090"] }).to_string();
    let g = h.call(Method::PUT, "/v1/holdings/bank", &[("authorization", &auth(&group_admin))], grant).await;
    assert_eq!(g.status, StatusCode::OK, "{}", g.body);
    let url = format!("http://{}/demo/webhooks/bank", h.addr);
    let hook = json!({ "url": url, "secret": BANK_SECRET });
    let w = h.call(Method::PUT, "/v1/webhook", &[("authorization", &auth(&bank_admin))], hook.to_string()).await;
    assert_eq!(w.status, StatusCode::NO_CONTENT, "{}", w.body);

    // The analyst sees it first in the queue and confirms it.
    let q = h.call(Method::GET, "/v1/cases", &[("authorization", &auth(&analyst))], "").await.json();
    let case = &q["cases"][0];
    assert_eq!((case["priority"].as_i64(), case["state"].as_str()), (Some(75), Some("new")), "{q}");
    let id = case["id"].as_i64().unwrap();
    let denied = h.call(Method::GET, "/v1/cases", &[("authorization", &auth(&pay))], "").await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    let confirm = json!({ "outcome": "confirmed_fraud", "assignee": "kim", "note": "계좌 확인" });
    let c = h
        .call(Method::POST, &format!("/v1/cases/{id}"), &[("authorization", &auth(&analyst))], confirm.to_string())
        .await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.body);
    assert_eq!(c.json()["state"], "action_taken");

    // Every affiliate's shield is red for the account, in any spelling.
    let shield = json!({ "indicators": [{ "kind": "account", "value": "090:3333-01-555555" }] }).to_string();
    let s = h.call(Method::POST, "/v1/shield", &[("authorization", &auth(&pay))], shield).await.json();
    assert_eq!(s["results"][0]["shield"], "danger", "{s}");

    // The reporter sees the progress; the bank has a hold action queued.
    let mine = h.call(Method::GET, &format!("/v1/reports/{no}"), &[("x-report-secret", &secret)], "").await.json();
    assert_eq!((mine["status"].as_str(), mine["outcome"].as_str()), (Some("action_taken"), Some("confirmed_fraud")));
    let due = app.store().actions_due(i64::MAX, 10).unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!((due[0].affiliate.as_str(), due[0].kind.as_str()), ("bank", "hold_account"));

    // The bank's webhook fails the first delivery; the retry lands; the action arrives once,
    // signed (the receiver verifies every delivery with the bank's secret).
    receiver.fail_next(1);
    let deliverer = ansim_http::webhook::Deliverer::new(Arc::clone(&app));
    let now = app::now_ms();
    let first = deliverer.deliver_due(now).await;
    assert_eq!((first.delivered, first.retried), (0, 1), "{first:?}");
    assert!(receiver.received().is_empty());
    let second = deliverer.deliver_due(now + 60_000).await;
    assert_eq!(second.delivered, 1, "{second:?}");
    let third = deliverer.deliver_due(now + 3_600_000).await;
    assert_eq!(third.attempted, 0, "delivered actions are not sent again");
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].kind.as_str(), got[0].deliveries, got[0].payload["value"].as_str()),
        ("hold_account", 1, Some("090:333301555555"))
    );

    // Relief: a phone request for payment suspension on Wednesday 2026-09-23; Chuseok (09-24 to
    // 09-26) and the weekend push the written request to the third business day, Wednesday
    // 09-30. The FSS notice of Monday 2026-10-05 runs two months, to Friday 12-04; the claim is
    // extinguished on 12-07, and the refund decision is due 14 days later, Monday 12-21.
    let step = |body: Value| {
        let (http, key) = (&h, auth(&analyst));
        async move {
            http.call(Method::POST, &format!("/v1/cases/{id}"), &[("authorization", &key)], body.to_string()).await
        }
    };
    let r = step(json!({ "relief": { "step": "suspension", "channel": "phone", "at": "2026-09-23T15:00:00+09:00" } }))
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let relief = &r.json()["relief"];
    assert_eq!(relief["state"], "suspended", "{relief}");
    let due = |v: &Value, step: &str| {
        v["deadlines"]
            .as_array()
            .unwrap()
            .iter()
            .find(|d| d["step"] == step)
            .map(|d| d["due"].as_str().unwrap().to_string())
    };
    assert_eq!(due(relief, "written_request").as_deref(), Some("2026-09-30T23:59:59.999+09:00"), "{relief}");
    let early = step(json!({ "relief": { "step": "extinguished", "at": "2026-10-01T10:00:00+09:00" } })).await;
    assert_eq!(early.status, StatusCode::CONFLICT, "out of order: {}", early.body);
    step(json!({ "relief": { "step": "written_request", "at": "2026-09-25T10:00:00+09:00" } })).await;
    let r = step(json!({ "relief": { "step": "notice", "at": "2026-10-05T09:00:00+09:00" } })).await.json();
    assert_eq!(due(&r["relief"], "objection_period").as_deref(), Some("2026-12-04T23:59:59.999+09:00"), "{r}");
    let r = step(json!({ "relief": { "step": "extinguished", "at": "2026-12-07T09:00:00+09:00" } })).await.json();
    assert_eq!(due(&r["relief"], "refund_decision").as_deref(), Some("2026-12-21T23:59:59.999+09:00"), "{r}");
    let r = step(
        json!({ "relief": { "step": "refund_decision", "available": 3_000_000, "at": "2026-12-10T09:00:00+09:00" } }),
    )
    .await
    .json();
    let shares = r["relief"]["refund"]["shares"].as_array().unwrap();
    assert_eq!((shares.len(), shares[0]["refund_won"].as_i64()), (1, Some(3_000_000)), "{r}");
    assert_eq!(r["state"], "relief");

    // The payout was never recorded: the refund decision is done, so nothing is overdue on
    // the relief path yet; a second case without any action shows up once its SLA passes.
    let alerts = h.call(Method::GET, "/v1/alerts", &[("authorization", &auth(&analyst))], "").await;
    assert_eq!(alerts.status, StatusCode::OK, "{}", alerts.body);
    assert!(alerts.json()["alerts"].as_array().unwrap().iter().all(|a| a["case_id"] != id), "{}", alerts.body);
    let denied = h.call(Method::GET, "/v1/alerts", &[("authorization", &auth(&pay))], "").await;
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_public_endpoint_refuses_abuse() {
    let dir = tempfile::tempdir().unwrap();
    let (h, _app, _receiver, _stop) = start(dir.path()).await;
    let json_ct = [("content-type", "application/json")];
    let big = json!({ "kind": "smishing", "description": "x".repeat(70_000) }).to_string();
    let r = h.call(Method::POST, "/v1/reports", &json_ct, big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE, "{}", r.body);
    let r = h.call(Method::POST, "/v1/reports", &json_ct, "{\"kind\": \"smishing\", ").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    assert_eq!(r.content_type, "application/problem+json");
    let r = h
        .call(
            Method::POST,
            "/v1/reports",
            &json_ct,
            json!({ "kind": "smishing", "description": "x", "evil": 1 }).to_string(),
        )
        .await;
    assert!(r.status == StatusCode::BAD_REQUEST && r.body.contains("evil"), "{}", r.body);
    let xss = json!({ "kind": "smishing", "description": "<script>alert(1)</script>" }).to_string();
    let r = h.call(Method::POST, "/v1/reports", &json_ct, xss).await;
    assert_eq!((r.status, r.json()["field"].as_str()), (StatusCode::BAD_REQUEST, Some("description")), "{}", r.body);
    let r = h
        .call(Method::POST, "/v1/reports", &[("authorization", "Bearer ak_nope")], report("004 123456789", 1, 1, 30))
        .await;
    assert_eq!(r.status, StatusCode::UNAUTHORIZED, "a bad key is not silently public");

    // A flood from one address is cut off after the per-address budget. The limit applies
    // before validation (a flood of garbage is cut off too), so the scripted report above spent
    // one unit; the malformed bodies never reached it.
    let mut statuses = Vec::new();
    for i in 0..12 {
        let body = json!({ "kind": "smishing", "description": format!("문자 링크를 눌렀어요 {i}"), "contact": format!("user{i}@example.com") });
        statuses.push(h.call(Method::POST, "/v1/reports", &json_ct, body.to_string()).await.status);
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == StatusCode::OK).count(),
        ansim_http::reports::PER_IP - 1,
        "{statuses:?}"
    );
    assert_eq!(statuses.last(), Some(&StatusCode::TOO_MANY_REQUESTS));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_form_works_without_javascript_and_escapes_what_it_echoes() {
    let dir = tempfile::tempdir().unwrap();
    let (h, _app, _receiver, _stop) = start(dir.path()).await;
    let page = h.call(Method::GET, "/report", &[], "").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(
        page.body.contains("<form method=\"post\" action=\"/report\"") && !page.body.contains("<script"),
        "{}",
        page.body
    );
    assert!(page.body.contains("사기 피해 신고"));
    assert!(h.call(Method::GET, "/report?lang=en", &[], "").await.body.contains("Report fraud"));

    // A bad field comes back named, with the input escaped.
    let form = [("content-type", "application/x-www-form-urlencoded")];
    let bad = "kind=smishing&description=%3Cscript%3Ealert(1)%3C%2Fscript%3E&account=&amount=";
    let r = h.call(Method::POST, "/report", &form, bad).await;
    assert_eq!(r.status, StatusCode::OK);
    assert!(r.body.contains("class=\"err\"") && r.body.contains("description"), "{}", r.body);
    assert!(!r.body.contains("<script>alert"), "echoed input is escaped: {}", r.body);
    assert!(r.body.contains("&lt;script&gt;"));

    let good = "kind=messenger_phishing&description=%EC%97%84%EB%A7%88%EB%9D%BC%EA%B3%A0+%ED%96%88%EC%96%B4%EC%9A%94&amount=300%2C000&account=088+110-123-456789&contact_ongoing=on";
    let r = h.call(Method::POST, "/report", &form, good).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let grab = |id: &str| {
        let start = r.body.find(&format!("id=\"{id}\">")).unwrap() + id.len() + 6;
        r.body[start..].split('<').next().unwrap().to_string()
    };
    let (receipt, secret) = (grab("receipt"), grab("secret"));
    let status = h.call(Method::POST, "/report/status", &form, format!("receipt={receipt}&secret={secret}")).await;
    assert!(status.body.contains("id=\"status\"") && status.body.contains("접수됨"), "{}", status.body);
    let wrong = h.call(Method::POST, "/report/status", &form, format!("receipt={receipt}&secret=NOPE")).await;
    assert!(wrong.body.contains("class=\"err\"") && !wrong.body.contains("id=\"status\""));
}

/// Regression: any affiliate's admin could claim bank codes it does not operate (and the 409
/// named who held what). Holdings are granted by the group's admin only, an affiliate sees only
/// its own, and webhook URLs to loopback, link-local and private addresses are refused unless
/// the operator allows them (server-side request forgery).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holdings_are_granted_by_the_group_and_webhooks_refuse_private_addresses() {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(AppConfig::new(dir.path())).unwrap();
    for a in ["bank", "pay", "group"] {
        app.ensure_affiliate(&aff(a), a, &RULES.replace("NAME", a)).unwrap();
    }
    let bank = app.create_key(&aff("bank"), &[Scope::Admin]).unwrap();
    let pay = app.create_key(&aff("pay"), &[Scope::Admin]).unwrap();
    let group = app.create_key(&aff("group"), &[Scope::Admin]).unwrap();
    let server = Server::new(Arc::clone(&app), Options::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(ansim_http::serve(server, listener, std::future::pending()));
    let h = Http { addr, client: Client::builder(TokioExecutor::new()).build_http() };
    let auth = |k: &str| format!("Bearer {k}");
    let put = |path: &'static str, key: String, body: Value| {
        let h = &h;
        async move { h.call(Method::PUT, path, &[("authorization", &format!("Bearer {key}"))], body.to_string()).await }
    };

    // An affiliate cannot claim holdings, through its webhook or directly.
    let claim =
        json!({ "url": "https://hooks.pay.example/ansim", "secret": "0123456789abcdef", "holds": ["bank:088"] });
    let r = put("/v1/webhook", pay.clone(), claim).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    assert!(r.json()["field"].as_str().unwrap().contains("holds"), "{}", r.body);
    let r = put("/v1/holdings/pay", pay.clone(), json!({ "holds": ["bank:088"] })).await;
    assert_eq!(r.status, StatusCode::FORBIDDEN, "{}", r.body);

    // The group grants; a second claim on the same code is a conflict.
    let r = put("/v1/holdings/bank", group.clone(), json!({ "holds": ["bank:088", "bank:004"] })).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let r = put("/v1/holdings/pay", group.clone(), json!({ "holds": ["bank:088"] })).await;
    assert_eq!(r.status, StatusCode::CONFLICT, "{}", r.body);
    let mine = h.call(Method::GET, "/v1/holdings", &[("authorization", &auth(&bank))], "").await.json();
    assert_eq!(mine["holds"], json!(["bank:004", "bank:088"]), "{mine}");
    let theirs = h.call(Method::GET, "/v1/holdings", &[("authorization", &auth(&pay))], "").await.json();
    assert_eq!(theirs["holds"], json!([]), "an affiliate sees only its own: {theirs}");

    // Webhooks: public addresses only, unless the operator allows private ones.
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://10.1.2.3/hook",
        "http://192.168.0.10/hook",
        "http://172.16.5.5/hook",
        "http://169.254.169.254/latest/meta-data",
        "http://[::1]/hook",
        "http://[fd00::1]/hook",
        "http://0.0.0.0/hook",
    ] {
        let r = put("/v1/webhook", bank.clone(), json!({ "url": url, "secret": "0123456789abcdef" })).await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{url}: {}", r.body);
        assert_eq!(r.json()["field"], "url", "{url}: {}", r.body);
    }
    let ok = json!({ "url": "https://hooks.bank.example/ansim", "secret": "0123456789abcdef" });
    assert_eq!(put("/v1/webhook", bank.clone(), ok).await.status, StatusCode::NO_CONTENT);
}

/// Regression: 429s said nothing of when to come back, `+82 10-4444-0000` dodged the limit that
/// `010-4444-0000` had spent, the status form put the secret in the URL, the form wanted RFC 3339
/// and answered in developer English (`amount: a whole number`), and statuses read `action_taken`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_report_channel_speaks_to_people_and_is_hard_to_dodge() {
    let dir = tempfile::tempdir().unwrap();
    let (h, _app, _receiver, _stop) = start(dir.path()).await;
    let json_ct = [("content-type", "application/json")];
    let form = [("content-type", "application/x-www-form-urlencoded")];

    // Errors in the page's language, naming the field by its label.
    let r = h.call(Method::POST, "/report", &form, "kind=smishing&description=x&amount=abc").await;
    assert!(r.body.contains("보낸 금액") && r.body.contains("숫자"), "{}", r.body);
    assert!(!r.body.contains("whole number") && !r.body.contains("amount:"), "{}", r.body);
    let r =
        h.call(Method::POST, "/report?lang=en", &form, "kind=smishing&description=x&transferred_at=yesterday").await;
    assert!(r.body.contains("When you sent it") && r.body.contains("2026-12-06 13:30"), "{}", r.body);
    assert!(!r.body.contains("RFC 3339") && !r.body.contains("transferred_at:"), "{}", r.body);
    let r = h.call(Method::POST, "/report", &form, "kind=smishing&description=x&phone=call+me").await;
    assert!(r.body.contains("사기범 전화번호") && !r.body.contains("indicators["), "{}", r.body);

    // A natural local time, on the form and on the API.
    let r = h
        .call(
            Method::POST,
            "/report",
            &form,
            "kind=smishing&description=%EB%AC%B8%EC%9E%90&transferred_at=2025-12-06+13%3A30",
        )
        .await;
    assert!(r.body.contains("id=\"receipt\""), "{}", r.body);
    let grab = |body: &str, id: &str| {
        let start = body.find(&format!("id=\"{id}\">")).unwrap() + id.len() + 6;
        body[start..].split('<').next().unwrap().to_string()
    };
    let (receipt, secret) = (grab(&r.body, "receipt"), grab(&r.body, "secret"));
    let r = h
        .call(
            Method::POST,
            "/v1/reports",
            &json_ct,
            json!({ "kind": "smishing", "description": "문자", "transferred_at": "2025-12-06 13:30" }).to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);

    // The status form posts its secret; a secret in the URL is not looked at.
    let page = h.call(Method::GET, "/report/status", &[], "").await;
    assert!(page.body.contains("<form method=\"post\" action=\"/report/status\""), "{}", page.body);
    let leaked = h.call(Method::GET, &format!("/report/status?receipt={receipt}&secret={secret}"), &[], "").await;
    assert!(!leaked.body.contains("id=\"status\""), "{}", leaked.body);
    let shown = h.call(Method::POST, "/report/status", &form, format!("receipt={receipt}&secret={secret}")).await;
    assert!(shown.body.contains("id=\"status\"") && shown.body.contains("접수됨"), "{}", shown.body);
    assert!(!shown.body.contains("received") && !shown.body.contains("+09:00"), "{}", shown.body);
    let en = h.call(Method::POST, "/report/status?lang=en", &form, format!("receipt={receipt}&secret={secret}")).await;
    assert!(en.body.contains("Received") && en.body.contains("(Korea time)"), "{}", en.body);

    // The per-contact limit sees one phone in its every spelling, and a 429 says when to return.
    let spellings = ["010-4444-0000", "01044440000", "010 4444 0000", "+82 10-4444-0000", "+82-10-4444-0000"];
    let mut last = None;
    for (i, c) in spellings.iter().chain(["+82 (0)10 4444 0000"].iter()).enumerate() {
        let body = json!({ "kind": "smishing", "description": format!("링크 {i}"), "contact": c });
        last = Some(h.call(Method::POST, "/v1/reports", &json_ct, body.to_string()).await);
        if i < ansim_http::reports::PER_CONTACT {
            assert_eq!(last.as_ref().unwrap().status, StatusCode::OK, "{c}");
        }
    }
    let last = last.unwrap();
    assert_eq!(last.status, StatusCode::TOO_MANY_REQUESTS, "{}", last.body);
    let wait: u64 = last.retry_after.as_deref().expect("Retry-After").parse().expect("seconds");
    assert!((1..=3_600).contains(&wait), "{wait}");

    // The form's 429 is a page in its language, with the same header.
    let r =
        h.call(Method::POST, "/report?lang=en", &form, "kind=smishing&description=x&contact=%2B82+10+4444+0000").await;
    assert_eq!(r.status, StatusCode::TOO_MANY_REQUESTS, "{}", r.body);
    assert!(r.content_type.starts_with("text/html") && r.body.contains("112"), "{}", r.body);
    assert!(r.retry_after.is_some());
}
