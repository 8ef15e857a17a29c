//! Webhook delivery of follow-up actions over real HTTP on 127.0.0.1: a failed delivery is
//! retried with backoff and then delivered once; an affiliate without a webhook ends in the
//! dead letters; unreachable and silent endpoints fail fast; the demo receiver verifies
//! signatures and records each action once; signing, verification and the backoff schedule.
//! Time is passed in to `deliver_due`: nothing sleeps for a backoff.

use ansim_http::webhook::{self, Deliverer, Envelope, Receiver, Settings};
use app::{App, AppConfig};
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Request, StatusCode, header};
use axum::routing::post;
use domain::{AffiliateId, Timestamp};
use http_body_util::BodyExt;
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use store::ActionRow;

const SECRET: &str = "whsec_test";

fn open() -> (tempfile::TempDir, Arc<App>) {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(AppConfig::new(dir.path())).unwrap();
    (dir, app)
}

/// Queues action `id` for `affiliate`, due at once, as confirming a case does.
fn queue_action(app: &App, id: &str, affiliate: &str, created_ms: i64) {
    let action = ActionRow {
        id: id.into(),
        affiliate: AffiliateId(affiliate.into()),
        kind: "hold_account".into(),
        payload: json!({ "bank": "088", "account": "110123456789", "case": 1 }).to_string(),
        created_ms,
        attempts: 0,
        next_ms: created_ms,
        delivered_ms: None,
        dead_ms: None,
        last_error: None,
    };
    store::in_transaction(app.store().as_ref(), |tx| tx.queue_actions(std::slice::from_ref(&action))).unwrap();
}

fn action(app: &App, id: &str) -> ActionRow {
    app.store().action(id).unwrap().unwrap()
}

async fn serve(router: Router) -> SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    addr
}

/// One request the flaky receiver got.
#[derive(Debug, Clone)]
struct Hit {
    id: String,
    content_type: String,
    body: Value,
    signature_ok: bool,
    status: u16,
}

/// Answers 500 to the first delivery and 200 afterwards, and checks each signature with
/// `webhook::verify` (401 if it does not verify).
async fn flaky(State(hits): State<Arc<Mutex<Vec<Hit>>>>, headers: HeaderMap, body: Bytes) -> StatusCode {
    let h = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
    let ts: i64 = h(webhook::HEADER_TIMESTAMP).parse().unwrap_or(0);
    let signature_ok =
        webhook::verify(SECRET, ts, &body, &h(webhook::HEADER_SIGNATURE), app::now_ms(), webhook::DEFAULT_TOLERANCE_MS)
            .is_ok();
    let mut hits = hits.lock().unwrap();
    let status = if !signature_ok {
        StatusCode::UNAUTHORIZED
    } else if hits.is_empty() {
        StatusCode::INTERNAL_SERVER_ERROR
    } else {
        StatusCode::OK
    };
    hits.push(Hit {
        id: h(webhook::HEADER_ACTION_ID),
        content_type: h("content-type"),
        body: serde_json::from_slice(&body).unwrap_or(Value::Null),
        signature_ok,
        status: status.as_u16(),
    });
    status
}

#[tokio::test]
async fn a_failed_delivery_is_retried_with_backoff_then_delivered_once() {
    let (_dir, app) = open();
    let hits: Arc<Mutex<Vec<Hit>>> = Arc::default();
    let addr = serve(Router::new().route("/hook", post(flaky)).with_state(Arc::clone(&hits))).await;
    let bank = AffiliateId("bank".into());
    app.store().put_webhook(&bank, &format!("http://{addr}/hook"), SECRET, 1).unwrap();
    let now = app::now_ms();
    let created = now - 1_000;
    queue_action(&app, "act_retry", "bank", created);
    let d = Deliverer::new(Arc::clone(&app));

    let r1 = d.deliver_due(now).await;
    assert_eq!((r1.attempted, r1.retried, r1.delivered, r1.store_errors), (1, 1, 0, 0), "{r1:?}");
    let a = action(&app, "act_retry");
    assert_eq!(a.attempts, 1);
    assert!((now + 750..=now + 1_000).contains(&a.next_ms), "first retry after 0.75..1 s: {}", a.next_ms - now);
    assert!(a.last_error.as_deref().is_some_and(|e| e.contains("500")), "{:?}", a.last_error);
    assert_eq!((a.delivered_ms, a.dead_ms), (None, None));

    let early = d.deliver_due(a.next_ms - 1).await;
    assert_eq!(early.attempted, 0, "a retry waits for its time");

    let r2 = d.deliver_due(a.next_ms).await;
    assert_eq!((r2.attempted, r2.delivered, r2.retried), (1, 1, 0), "{r2:?}");
    let done = action(&app, "act_retry");
    assert_eq!((done.attempts, done.delivered_ms, done.last_error), (2, Some(a.next_ms), None));

    let r3 = d.deliver_due(now + 3_600_000).await;
    assert_eq!(r3, webhook::DeliveryReport::default(), "a delivered action is not sent again");

    let hits = hits.lock().unwrap().clone();
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(hits.iter().all(|h| h.id == "act_retry" && h.signature_ok), "{hits:?}");
    assert_eq!(hits.iter().map(|h| h.status).collect::<Vec<_>>(), [500, 200]);
    assert_eq!(hits.iter().filter(|h| h.status == 200).count(), 1, "accepted exactly once");
    assert_eq!(hits[0].content_type, "application/json");
    let body = &hits[1].body;
    assert_eq!(body["id"], "act_retry");
    assert_eq!(body["affiliate"], "bank");
    assert_eq!(body["kind"], "hold_account");
    assert_eq!(body["created_at"], Timestamp(created).to_kst_rfc3339());
    assert!(body["created_at"].as_str().unwrap().ends_with("+09:00"));
    assert_eq!(body["payload"]["account"], "110123456789", "the payload is an object: {body}");
    app.shutdown();
}

#[tokio::test]
async fn an_action_without_a_webhook_is_dead_lettered_after_max_attempts() {
    let (_dir, app) = open();
    let now = app::now_ms();
    queue_action(&app, "act_nohook", "pay", now);
    let d = Deliverer::new(Arc::clone(&app));
    let max = d.settings().max_attempts;
    assert_eq!(max, 8);
    let mut t = now;
    for attempt in 1..max {
        let r = d.deliver_due(t).await;
        assert_eq!((r.attempted, r.retried, r.dead), (1, 1, 0), "attempt {attempt}: {r:?}");
        let a = action(&app, "act_nohook");
        assert_eq!(a.attempts, attempt);
        assert_eq!(a.last_error.as_deref(), Some("no webhook configured for pay"));
        let full = 1_000 << (attempt - 1);
        assert!((full * 3 / 4..=full).contains(&(a.next_ms - t)), "attempt {attempt}: waits {}", a.next_ms - t);
        assert!(a.dead_ms.is_none());
        t = a.next_ms;
    }
    let r = d.deliver_due(t).await;
    assert_eq!((r.attempted, r.retried, r.dead), (1, 0, 1), "{r:?}");
    let a = action(&app, "act_nohook");
    assert_eq!((a.attempts, a.dead_ms), (max, Some(t)));
    let dead = app.store().dead_actions(10).unwrap();
    assert_eq!(dead.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(), ["act_nohook"]);
    assert_eq!(dead[0].last_error.as_deref(), Some("no webhook configured for pay"));
    assert_eq!(d.deliver_due(t + 86_400_000).await.attempted, 0, "a dead letter is not sent again");
    app.shutdown();
}

#[tokio::test]
async fn unreachable_and_silent_webhooks_fail_fast_and_are_retried() {
    let (_dir, app) = open();
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    // A server that accepts connections and never answers.
    let silent = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let silent_addr = silent.local_addr().unwrap();
    tokio::spawn(async move {
        let mut held = Vec::new();
        while let Ok((s, _)) = silent.accept().await {
            held.push(s);
        }
    });
    let store = app.store();
    store.put_webhook(&AffiliateId("pay".into()), &format!("http://{closed}/hook"), SECRET, 1).unwrap();
    store.put_webhook(&AffiliateId("bank".into()), &format!("http://{silent_addr}/hook"), SECRET, 1).unwrap();
    store.put_webhook(&AffiliateId("securities".into()), "https://example.invalid/hook", SECRET, 1).unwrap();
    let now = app::now_ms();
    queue_action(&app, "act_b1", "bank", now - 3);
    queue_action(&app, "act_b2", "bank", now - 2);
    queue_action(&app, "act_p1", "pay", now - 1);
    queue_action(&app, "act_s1", "securities", now - 1);
    let settings = Settings { request_timeout: Duration::from_millis(200), ..Settings::default() };
    let d = Deliverer::with_settings(Arc::clone(&app), settings);
    let started = Instant::now();
    let r = d.deliver_due(now).await;
    assert!(started.elapsed() < Duration::from_secs(2), "one timeout per affiliate: {:?}", started.elapsed());
    assert_eq!((r.attempted, r.retried, r.delivered, r.dead, r.store_errors), (4, 4, 0, 0, 0), "{r:?}");
    let err = |id: &str| action(&app, id).last_error.unwrap_or_default();
    assert!(err("act_b1").contains("no answer within 200 ms"), "{}", err("act_b1"));
    assert!(err("act_b2").starts_with("not sent"), "the rest of a silent affiliate waits: {}", err("act_b2"));
    assert!(err("act_p1").contains(&closed.to_string()), "{}", err("act_p1"));
    assert!(err("act_s1").contains("https"), "{}", err("act_s1"));
    for id in ["act_b1", "act_b2", "act_p1", "act_s1"] {
        let a = action(&app, id);
        assert_eq!(a.attempts, 1);
        assert!(a.next_ms > now, "{id} is scheduled for later");
    }
    app.shutdown();
}

#[tokio::test]
async fn the_demo_receiver_gets_actions_through_retries() {
    let (_dir, app) = open();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let receiver = webhook::demo_setup(&app, &format!("http://{addr}/"), &["bank", "pay"]).unwrap();
    let router = receiver.clone().router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    let (url, secret) = app.store().webhook(&AffiliateId("bank".into())).unwrap().unwrap();
    assert_eq!(url, format!("http://{addr}/demo/webhooks/bank"));
    assert!(secret.starts_with("whsec_") && secret.len() > 40, "{secret}");

    receiver.fail_next(1);
    let now = app::now_ms();
    queue_action(&app, "act_demo", "bank", now);
    let d = Deliverer::new(Arc::clone(&app));
    assert_eq!(d.deliver_due(now).await.retried, 1);
    assert!(receiver.received().is_empty(), "a delivery failed on purpose is not recorded");
    let next = action(&app, "act_demo").next_ms;
    assert_eq!(d.deliver_due(next).await.delivered, 1);
    let got = receiver.received();
    assert_eq!(got.len(), 1);
    assert_eq!(
        (got[0].affiliate.as_str(), got[0].id.as_str(), got[0].kind.as_str()),
        ("bank", "act_demo", "hold_account")
    );
    assert_eq!((got[0].deliveries, &got[0].payload["bank"]), (1, &json!("088")));
    assert_eq!(receiver.rejected(), 0);
    app.shutdown();
}

#[tokio::test]
async fn run_delivers_in_the_background_until_stopped() {
    let (_dir, app) = open();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let receiver = webhook::demo_setup(&app, &format!("http://{addr}"), &["bank"]).unwrap();
    let router = receiver.clone().router();
    tokio::spawn(async move {
        let _ = axum::serve(listener, router).await;
    });
    queue_action(&app, "act_bg", "bank", app::now_ms());
    let settings = Settings { interval: Duration::from_millis(20), ..Settings::default() };
    let d = Arc::new(Deliverer::with_settings(Arc::clone(&app), settings));
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let worker = tokio::spawn(Arc::clone(&d).run(stopped));
    let started = Instant::now();
    while receiver.received().is_empty() {
        assert!(started.elapsed() < Duration::from_secs(3), "the worker delivers on its own");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    stop.send(true).unwrap();
    tokio::time::timeout(Duration::from_secs(2), worker).await.expect("the worker stops").unwrap();
    assert!(action(&app, "act_bg").delivered_ms.is_some());
    app.shutdown();
}

/// A tiny HTTP client: status and JSON body.
async fn call(addr: SocketAddr, method: Method, path: &str, headers: &[(&str, String)], body: &str) -> (u16, Value) {
    let client: Client<HttpConnector, String> = Client::builder(TokioExecutor::new()).build_http();
    let mut req = Request::builder().method(method).uri(format!("http://{addr}{path}"));
    for (k, v) in headers {
        req = req.header(*k, v);
    }
    let resp = client.request(req.header(header::CONTENT_TYPE, "application/json").body(body.to_string()).unwrap());
    let resp = resp.await.unwrap();
    let status = resp.status().as_u16();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

fn signed(id: &str, secret: &str, ts: i64, body: &str) -> Vec<(&'static str, String)> {
    vec![
        (webhook::HEADER_ACTION_ID, id.to_string()),
        (webhook::HEADER_TIMESTAMP, ts.to_string()),
        (webhook::HEADER_SIGNATURE, webhook::sign(secret, ts, body.as_bytes())),
    ]
}

#[tokio::test]
async fn the_receiver_refuses_bad_signatures_and_records_each_action_once() {
    let receiver = Receiver::new([("bank", SECRET)]);
    let addr = serve(receiver.clone().router()).await;
    let envelope = Envelope {
        id: "act_r".into(),
        affiliate: "bank".into(),
        kind: "notify_victim".into(),
        created_at: Timestamp(0).to_kst_rfc3339(),
        payload: json!({ "case": 7 }),
    };
    let body = serde_json::to_string(&envelope).unwrap();
    let now = app::now_ms();
    let path = "/demo/webhooks/bank";

    let wrong_secret = signed("act_r", "not-the-secret", now, &body);
    assert_eq!(call(addr, Method::POST, path, &wrong_secret, &body).await.0, 401);
    let tampered = body.replace("notify_victim", "hold_account");
    assert_eq!(call(addr, Method::POST, path, &signed("act_r", SECRET, now, &body), &tampered).await.0, 401);
    let stale = signed("act_r", SECRET, now - webhook::DEFAULT_TOLERANCE_MS - 60_000, &body);
    let (status, err) = call(addr, Method::POST, path, &stale, &body).await;
    assert_eq!(status, 401);
    assert!(err["error"].as_str().unwrap().contains("tolerance"), "{err}");
    assert_eq!(call(addr, Method::POST, path, &[], &body).await.0, 401, "no signature");
    assert_eq!(receiver.rejected(), 4);
    assert!(receiver.received().is_empty(), "nothing refused is recorded");
    let other = signed("act_r", SECRET, now, &body);
    assert_eq!(call(addr, Method::POST, "/demo/webhooks/nobody", &other, &body).await.0, 404);

    let ok = signed("act_r", SECRET, now, &body);
    let (status, first) = call(addr, Method::POST, path, &ok, &body).await;
    assert_eq!((status, &first["duplicate"]), (200, &json!(false)));
    let again = signed("act_r", SECRET, now + 1_000, &body);
    let (status, second) = call(addr, Method::POST, path, &again, &body).await;
    assert_eq!((status, &second["duplicate"]), (200, &json!(true)), "a repeat is acknowledged");
    let got = receiver.received();
    assert_eq!(got.len(), 1, "a repeated id is recorded once");
    assert_eq!((got[0].id.as_str(), got[0].kind.as_str(), got[0].deliveries), ("act_r", "notify_victim", 2));

    let (status, listing) = call(addr, Method::GET, "/demo/webhooks", &[], "").await;
    assert_eq!(status, 200);
    assert_eq!(listing["rejected"], 4);
    let items = listing["received"].as_array().unwrap();
    assert_eq!(items.len(), 1, "{listing}");
    assert_eq!(
        (&items[0]["affiliate"], &items[0]["id"], &items[0]["kind"], &items[0]["deliveries"]),
        (&json!("bank"), &json!("act_r"), &json!("notify_victim"), &json!(2))
    );
    assert!(items[0]["received_at"].as_str().unwrap().ends_with("+09:00"), "{listing}");
}

#[test]
fn sign_and_verify() {
    let body = br#"{"id":"act_1"}"#;
    let ts = 1_764_121_445_000;
    let sig = webhook::sign(SECRET, ts, body);
    // HMAC-SHA-256("whsec_test", "1764121445000.{\"id\":\"act_1\"}"), computed independently.
    assert_eq!(sig, "v1=9c83ac9a0475f31421e707256ba457ffbc6c8a6994823b85cc8a79740aa27c29");
    let tol = webhook::DEFAULT_TOLERANCE_MS;
    assert_eq!(webhook::verify(SECRET, ts, body, &sig, ts, tol), Ok(()));
    assert_eq!(webhook::verify(SECRET, ts, body, &sig, ts + tol, tol), Ok(()), "the tolerance is inclusive");
    assert_eq!(webhook::verify(SECRET, ts, body, &sig.to_uppercase().replacen("V1=", "v1=", 1), ts, tol), Ok(()));
    let mismatch = Err("signature does not match");
    assert_eq!(webhook::verify(SECRET, ts, br#"{"id":"act_2"}"#, &sig, ts, tol), mismatch, "tampered body");
    assert_eq!(webhook::verify(SECRET, ts + 1, body, &sig, ts, tol), mismatch, "tampered timestamp");
    assert_eq!(webhook::verify("other", ts, body, &sig, ts, tol), mismatch, "another secret");
    assert_eq!(webhook::verify(SECRET, ts, body, &sig[..sig.len() - 2], ts, tol), mismatch, "truncated");
    for malformed in ["", "v1=", "v1=zz", "v2=00", &sig[3..]] {
        assert_eq!(webhook::verify(SECRET, ts, body, malformed, ts, tol), Err("signature is not of the form v1=<hex>"));
    }
    let rotated = format!("v1={}, {sig}", "0".repeat(64));
    assert_eq!(webhook::verify(SECRET, ts, body, &rotated, ts, tol), Ok(()), "any of several signatures");
    let stale = webhook::verify(SECRET, ts, body, &sig, ts + tol + 1, tol);
    assert!(stale.is_err_and(|e| e.contains("tolerance")), "a stale timestamp is refused");
    assert!(webhook::verify(SECRET, ts, body, &sig, ts - tol - 1, tol).is_err(), "so is one from the future");
    assert!(webhook::verify(SECRET, ts, body, &sig, i64::MIN, tol).is_err(), "no overflow");
}

#[test]
fn backoff_doubles_to_the_cap_with_deterministic_jitter() {
    let s = Settings::default();
    let mut waits = Vec::new();
    for attempt in 1..=14 {
        let full = (1_000i64 << (attempt - 1)).min(600_000);
        let w = s.backoff_ms("act_x", attempt);
        assert!((full * 3 / 4..=full).contains(&w), "attempt {attempt}: {w} not in 0.75..1 of {full}");
        assert_eq!(w, s.backoff_ms("act_x", attempt), "deterministic");
        waits.push(w);
    }
    assert!(waits[10..].iter().all(|w| (450_000..=600_000).contains(w)), "capped at 10 min: {waits:?}");
    let spread: std::collections::HashSet<i64> = (0..50).map(|i| s.backoff_ms(&format!("act_{i}"), 6)).collect();
    assert!(spread.len() > 10, "jitter spreads actions that failed together: {spread:?}");
}
