//! The HTTP API end to end: the real server on port 0 over a temporary store, driven by a real
//! HTTP client. Decisions and idempotency, authentication and tenant isolation, rejected input
//! (which stores nothing), batches, rulesets (validate, publish, rollback, and publishing under
//! concurrent traffic), restart with state intact, metrics, the OpenAPI document and the live
//! page.

use ansim_http::{Options, Server};
use app::{App, AppConfig, Scope};
use axum::body::Bytes;
use axum::http::{Method, Request, StatusCode, header};
use domain::AffiliateId;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::{Value, json};
use std::collections::HashSet;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// The velocity ruleset (transfers per subject; the third in an hour is held) with a reason that
/// needs escaping, plus `counted`, which always matches, so every decision carries the count as
/// evidence.
fn rules(name: &str) -> String {
    let velocity = include_str!("../../../test_data/rulesets/velocity.toml")
        .replace("name = \"pay\"", &format!("name = \"{name}\""))
        .replace(
            "reason = { ko = \"송금이 많습니다.\", en = \"Many transfers.\" }",
            "reason = { ko = \"한 시간에 송금이 많습니다 <b>\", en = \"Many transfers <fast> & soon.\" }",
        );
    format!(
        "{velocity}\n[[rule]]\nid = \"counted\"\nwhen = \"features.transfers_1h >= 1\"\nverdict = \"allow\"\nscore = 0\n\
         reason = {{ ko = \"송금을 셉니다.\", en = \"Counted.\" }}\n"
    )
}

fn aff(s: &str) -> AffiliateId {
    AffiliateId(s.into())
}

fn transfer(id: &str, subject: &str, minute: u32) -> String {
    json!({
        "id": id, "kind": "transfer", "at": format!("2026-11-26T10:{minute:02}:00+09:00"),
        "subject": { "id": subject },
        "transfer": { "amount": 10000, "counterparty": { "bank": "088", "account": "110-123-456789" } }
    })
    .to_string()
}

struct Resp {
    status: StatusCode,
    content_type: String,
    body: Bytes,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_slice(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.body)))
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// Asserts a problem+json response with `status` and returns it.
    fn problem(&self, status: u16) -> Value {
        assert_eq!(self.status.as_u16(), status, "{}", self.text());
        assert_eq!(self.content_type, "application/problem+json", "{}", self.text());
        let p = self.json();
        assert_eq!(p["status"], status);
        assert!(p["type"].as_str().is_some_and(|t| t.starts_with("urn:ansim:problem:")), "{p}");
        assert!(p["title"].is_string() && p["detail"].is_string(), "{p}");
        p
    }
}

#[derive(Clone)]
struct Http {
    addr: SocketAddr,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Http {
    async fn call(&self, method: Method, path: &str, key: Option<&str>, body: impl Into<Bytes>) -> Resp {
        let mut req = Request::builder().method(method).uri(format!("http://{}{path}", self.addr));
        if let Some(k) = key {
            req = req.header(header::AUTHORIZATION, format!("Bearer {k}"));
        }
        let res = self.client.request(req.body(Full::new(body.into())).unwrap()).await.expect("request failed");
        let status = res.status();
        let content_type =
            res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let body = res.into_body().collect().await.expect("body").to_bytes();
        Resp { status, content_type, body }
    }

    async fn get(&self, path: &str, key: Option<&str>) -> Resp {
        self.call(Method::GET, path, key, Bytes::new()).await
    }

    async fn post(&self, path: &str, key: Option<&str>, body: impl Into<Bytes>) -> Resp {
        self.call(Method::POST, path, key, body).await
    }
}

/// A running server over a store in `dir`.
struct Harness {
    http: Http,
    app: Arc<App>,
    server: Arc<Server>,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

struct Keys {
    /// `pay`, scope `decide`.
    pay: String,
    /// `pay`, scopes `decide` and `rules:write`.
    pay_rules: String,
    /// `bank`, scope `decide`.
    bank: String,
}

fn open(dir: &Path) -> Arc<App> {
    App::open(AppConfig::new(dir)).unwrap()
}

/// Opens the store with the affiliates `pay` and `bank` and issues keys.
fn setup(dir: &Path) -> (Arc<App>, Keys) {
    let app = open(dir);
    app.ensure_affiliate(&aff("pay"), "Pay", &rules("pay")).unwrap();
    app.ensure_affiliate(&aff("bank"), "Bank", &rules("bank")).unwrap();
    let keys = Keys {
        pay: app.create_key(&aff("pay"), &[Scope::Decide]).unwrap(),
        pay_rules: app.create_key(&aff("pay"), &[Scope::Decide, Scope::RulesWrite]).unwrap(),
        bank: app.create_key(&aff("bank"), &[Scope::Decide]).unwrap(),
    };
    (app, keys)
}

async fn start(app: Arc<App>) -> Harness {
    let options = Options { max_batch_events: 5, live_page: true, ..Options::default() };
    let server = Server::new(Arc::clone(&app), options);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, rx) = oneshot::channel::<()>();
    let task = tokio::spawn(ansim_http::serve(Arc::clone(&server), listener, async move {
        let _ = rx.await;
    }));
    let client = Client::builder(TokioExecutor::new()).build_http();
    Harness { http: Http { addr, client }, app, server, stop, task }
}

impl Harness {
    /// Graceful stop; returns the app once the server let go of it.
    async fn stop(self) -> Arc<App> {
        let _ = self.stop.send(());
        self.task.await.unwrap().unwrap();
        self.app
    }
}

/// A key of the group (the safety table) with the `admin` scope.
fn group_admin(app: &App) -> String {
    app.ensure_affiliate(&aff(app::GROUP), "Safety table", &rules(app::GROUP)).unwrap();
    app.create_key(&aff(app::GROUP), &[Scope::Admin]).unwrap()
}

fn events(app: &App, a: &str) -> i64 {
    app.store().event_count(&aff(a)).unwrap()
}

fn counted(d: &Value) -> i64 {
    d["evidence"]
        .as_array()
        .and_then(|e| e.iter().find(|x| x["name"] == "features.transfers_1h"))
        .and_then(|x| x["value"].as_i64())
        .unwrap_or_else(|| panic!("no count in {d}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn decides_idempotently_and_reads_decisions_back() {
    let dir = tempfile::tempdir().unwrap();
    let (app, k) = setup(dir.path());
    let h = start(app).await;
    let r = h.http.post("/v1/events", Some(&k.pay), transfer("e1", "u1", 0)).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let d = r.json();
    for field in
        ["decision_id", "event_id", "verdict", "score", "reasons", "guidance", "ruleset", "evidence", "duplicate"]
    {
        assert!(d.get(field).is_some(), "{field} missing in {d}");
    }
    assert_eq!(d["event_id"], "e1");
    assert_eq!(d["verdict"], "allow");
    assert_eq!(d["ruleset"], "pay@v1");
    assert_eq!(d["duplicate"], false);
    assert_eq!(
        d["reasons"][0],
        json!({"rule": "counted", "ko": "송금을 셉니다.", "en": "Counted.", "verdict": "allow", "score": 0, "tags": []})
    );
    // An allowed transfer to an unreported account is `safe`, whatever rule matched on the way.
    assert_eq!(d["guidance"], json!({"shield": "safe", "hold_minutes": null, "confirm": null}));

    let again = h.http.post("/v1/events", Some(&k.pay), transfer("e1", "u1", 0)).await.json();
    assert_eq!(again["decision_id"], d["decision_id"]);
    assert_eq!(again["duplicate"], true);
    assert_eq!(events(&h.app, "pay"), 1, "a repeated id is stored once");
    h.http.post("/v1/events", Some(&k.pay), transfer("e2", "u1", 1)).await;
    let third = h.http.post("/v1/events", Some(&k.pay), transfer("e3", "u1", 2)).await.json();
    assert_eq!((third["verdict"].as_str(), counted(&third)), (Some("hold"), 3), "the duplicate counted once: {third}");
    assert_eq!(third["guidance"]["shield"], "danger");

    let id = d["decision_id"].as_str().unwrap();
    let read = h.http.get(&format!("/v1/decisions/{id}"), Some(&k.pay)).await;
    assert_eq!(read.status, StatusCode::OK, "{}", read.text());
    assert_eq!(read.json()["event_id"], "e1");
    assert_eq!(read.json()["reasons"], d["reasons"]);
    h.http.get("/v1/decisions/dec_nothing", Some(&k.pay)).await.problem(404);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_scopes_and_tenants_are_enforced() {
    let dir = tempfile::tempdir().unwrap();
    let (app, k) = setup(dir.path());
    let h = start(app).await;
    let r = h.http.post("/v1/events", None, transfer("a1", "u1", 0)).await;
    r.problem(401);
    h.http.post("/v1/events", Some("ak_0000"), transfer("a1", "u1", 0)).await.problem(401);
    h.http.get("/v1/rulesets/active", Some("not a key")).await.problem(401);
    let p = h.http.post("/v1/rulesets/publish", Some(&k.pay), rules("pay")).await.problem(403);
    assert!(p["detail"].as_str().unwrap().contains("rules:write"), "{p}");
    h.http.post("/v1/rulesets/rollback", Some(&k.pay), r#"{"version":1}"#).await.problem(403);
    let active = h.http.get("/v1/rulesets/active", Some(&k.pay)).await;
    assert_eq!(active.status, StatusCode::OK, "reads are allowed with `decide`: {}", active.text());
    assert_eq!(events(&h.app, "pay"), 0);

    // Tenant isolation: bank cannot read pay's decision, nor send an event as pay.
    let d = h.http.post("/v1/events", Some(&k.pay), transfer("a1", "u1", 0)).await.json();
    let id = d["decision_id"].as_str().unwrap();
    h.http.get(&format!("/v1/decisions/{id}"), Some(&k.bank)).await.problem(404);
    let mut as_pay: Value = serde_json::from_str(&transfer("a2", "u1", 0)).unwrap();
    as_pay["affiliate"] = json!("pay");
    let p = h.http.post("/v1/events", Some(&k.bank), as_pay.to_string()).await.problem(400);
    assert_eq!(p["field"], "affiliate");
    // The same event id at another affiliate is another event.
    let b = h.http.post("/v1/events", Some(&k.bank), transfer("a1", "u1", 0)).await.json();
    assert_eq!(b["duplicate"], false);
    assert_eq!(b["ruleset"], "bank@v1");
    assert_eq!(counted(&b), 1, "features are per affiliate");
    assert_eq!((events(&h.app, "pay"), events(&h.app, "bank")), (1, 1));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rejected_events_name_the_field_and_store_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (app, k) = setup(dir.path());
    let h = start(app).await;
    let good: Value = serde_json::from_str(&transfer("r1", "u1", 0)).unwrap();
    let mut missing = good.clone();
    missing["transfer"].as_object_mut().unwrap().remove("amount");
    let mut missing_top = good.clone();
    missing_top.as_object_mut().unwrap().remove("at");
    let mut wrong_type = good.clone();
    wrong_type["transfer"]["amount"] = json!("10000");
    let mut unknown = good.clone();
    unknown["transfer"]["amuont"] = json!(1);
    let mut bad_value = good.clone();
    bad_value["transfer"]["counterparty"]["account"] = json!("12");
    let cases: [(&str, Vec<u8>, &str); 7] = [
        ("malformed JSON", b"{\"id\": \"r1\",".to_vec(), "."),
        ("not UTF-8", vec![b'{', 0xff, b'}'], "."),
        ("missing field", missing.to_string().into_bytes(), "transfer.amount"),
        ("missing top-level field", missing_top.to_string().into_bytes(), "at"),
        ("wrong type", wrong_type.to_string().into_bytes(), "transfer.amount"),
        ("unknown field", unknown.to_string().into_bytes(), "transfer.amuont"),
        ("invalid value", bad_value.to_string().into_bytes(), "transfer.counterparty.account"),
    ];
    for (what, body, field) in cases {
        let p = h.http.post("/v1/events", Some(&k.pay), body).await.problem(400);
        assert_eq!(p["field"], field, "{what}: {p}");
        assert!(p["detail"].as_str().unwrap().starts_with(field), "{what}: {p}");
    }
    let mut big = good.clone();
    big["transfer"]["memo"] = json!("가".repeat(400_000));
    let p = h.http.post("/v1/events", Some(&k.pay), big.to_string()).await.problem(413);
    assert_eq!(p["type"], "urn:ansim:problem:too-large");
    assert_eq!(events(&h.app, "pay"), 0, "nothing is stored for a rejected request");
    assert_eq!(h.app.metrics().decisions.load(Ordering::Relaxed), 0);

    // Routing and methods answer in the same format.
    h.http.get("/v1/nothing", Some(&k.pay)).await.problem(404);
    h.http.call(Method::DELETE, "/v1/events", Some(&k.pay), Bytes::new()).await.problem(405);
    assert_eq!(h.http.get("/healthz", None).await.json()["status"], "ok");
    assert_eq!(h.http.get("/readyz", None).await.json(), json!({"status": "ready", "affiliates": 2}));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn batches_decide_each_event_in_order() {
    let dir = tempfile::tempdir().unwrap();
    let (app, k) = setup(dir.path());
    let h = start(app).await;
    let ev = |id: &str, minute| serde_json::from_str::<Value>(&transfer(id, "u1", minute)).unwrap();
    let mut bad = ev("b2", 1);
    bad["transfer"]["amount"] = json!(-5);
    let body = json!({ "events": [ev("b1", 0), bad, ev("b3", 2), ev("b1", 0), ev("b4", 3)] });
    let r = h.http.post("/v1/events:batch", Some(&k.pay), body.to_string()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let results = r.json()["results"].as_array().unwrap().clone();
    assert_eq!(results.len(), 5);
    assert_eq!((results[0]["event_id"].as_str(), counted(&results[0])), (Some("b1"), 1));
    assert_eq!((results[1]["status"].as_u64(), results[1]["field"].as_str()), (Some(400), Some("transfer.amount")));
    assert_eq!(counted(&results[2]), 2, "the rejected event was not counted");
    assert_eq!(results[3]["decision_id"], results[0]["decision_id"], "a repeated id in one batch");
    assert_eq!(results[3]["duplicate"], true);
    assert_eq!((counted(&results[4]), results[4]["verdict"].as_str()), (3, Some("hold")));
    assert_eq!(events(&h.app, "pay"), 3);

    let six = json!({ "events": (0..6).map(|i| ev(&format!("s{i}"), 5)).collect::<Vec<_>>() });
    let p = h.http.post("/v1/events:batch", Some(&k.pay), six.to_string()).await.problem(400);
    assert_eq!(p["field"], "events");
    let p = h.http.post("/v1/events:batch", Some(&k.pay), r#"{"evnts": []}"#).await.problem(400);
    assert_eq!(p["field"], "evnts");
    h.http.post("/v1/events:batch", Some(&k.pay), "[").await.problem(400);
    assert_eq!(events(&h.app, "pay"), 3);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rulesets_validate_publish_draft_and_roll_back() {
    let dir = tempfile::tempdir().unwrap();
    let (app, k) = setup(dir.path());
    let h = start(app).await;
    let key = Some(k.pay_rules.as_str());
    let broken = rules("pay").replace("features.transfers_1h >= 3", "features.transfers_1hh >= 3");
    let v = h.http.post("/v1/rulesets/validate", key, broken.clone()).await.json();
    assert_eq!(v["valid"], false);
    let d = &v["diagnostics"][0];
    assert_eq!(d["code"], "unknown-feature", "{d}");
    let line = broken.lines().position(|l| l.contains("transfers_1hh")).unwrap() + 1;
    assert_eq!(d["line"], line, "{d}");
    assert!(d["column"].as_u64().unwrap() > 1, "{d}");
    assert!(d["suggestion"].as_str().is_some_and(|s| s.contains("transfers_1h")), "{d}");
    assert!(d["rendered"].as_str().unwrap().contains('^'), "{d}");
    let ok = h.http.post("/v1/rulesets/validate", Some(&k.pay), rules("pay")).await.json();
    assert_eq!(ok, json!({"valid": true, "diagnostics": []}));

    let p = h.http.post("/v1/rulesets/publish", key, broken.clone()).await.problem(422);
    assert_eq!(p["diagnostics"][0]["line"], line);
    assert_eq!(h.http.get("/v1/rulesets/active", key).await.json()["version"], 1, "a broken ruleset changes nothing");

    let v2 = h.http.post("/v1/rulesets/publish", key, rules("pay").replace(">= 3", ">= 2")).await;
    assert_eq!(v2.status, StatusCode::OK, "{}", v2.text());
    assert_eq!((v2.json()["version"].as_i64(), v2.json()["label"].as_str()), (Some(2), Some("pay@v2")));
    h.http.post("/v1/events", key, transfer("p1", "u1", 0)).await;
    let d = h.http.post("/v1/events", key, transfer("p2", "u1", 1)).await.json();
    assert_eq!((d["verdict"].as_str(), d["ruleset"].as_str()), (Some("hold"), Some("pay@v2")));

    // Draft: save (with its validation), read back, publish with an empty body.
    let saved = h.http.call(Method::PUT, "/v1/rulesets/draft", key, broken.clone()).await.json();
    assert_eq!(saved["valid"], false);
    let draft = h.http.get("/v1/rulesets/draft", Some(&k.pay)).await;
    assert_eq!(draft.text(), broken);
    h.http.post("/v1/rulesets/publish", key, "").await.problem(422);
    h.http.call(Method::PUT, "/v1/rulesets/draft", key, rules("pay").replace(">= 3", ">= 4")).await;
    let v3 = h.http.post("/v1/rulesets/publish", key, "").await.json();
    assert_eq!(v3["label"], "pay@v3");
    h.http.call(Method::PUT, "/v1/rulesets/draft", Some(&k.pay), "x").await.problem(403);

    let hist = h.http.get("/v1/rulesets", Some(&k.pay)).await.json();
    let versions: Vec<i64> =
        hist["versions"].as_array().unwrap().iter().map(|v| v["version"].as_i64().unwrap()).collect();
    assert_eq!(versions, [3, 2, 1]);
    let back = h.http.post("/v1/rulesets/rollback", key, r#"{"version": 1}"#).await.json();
    assert_eq!((back["label"].as_str(), back["active"].as_bool()), (Some("pay@v1"), Some(true)));
    let d = h.http.post("/v1/events", key, transfer("p3", "u1", 2)).await.json();
    assert_eq!(d["ruleset"], "pay@v1");
    h.http.post("/v1/rulesets/rollback", key, r#"{"version": 99}"#).await.problem(404);
    let p = h.http.post("/v1/rulesets/rollback", key, r#"{}"#).await.problem(400);
    assert_eq!(p["field"], "version");
    // Bank's rulesets are its own.
    assert_eq!(h.http.get("/v1/rulesets", Some(&k.bank)).await.json()["versions"].as_array().unwrap().len(), 1);
    h.stop().await;
}

/// Version `n` of the `conc` ruleset: its marker rule `m{n}` matches every event.
fn marked(n: u32) -> String {
    format!(
        "[ruleset]\nname = \"conc\"\nversion = {n}\n\n[[rule]]\nid = \"m{n}\"\nwhen = \"event.kind == 'transfer'\"\n\
         verdict = \"allow\"\nscore = {n}\nreason = {{ ko = \"버전 {n}\", en = \"version {n}\" }}\n"
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publishing_under_traffic_never_mixes_versions() {
    let dir = tempfile::tempdir().unwrap();
    let (app, _) = setup(dir.path());
    app.ensure_affiliate(&aff("conc"), "Conc", &marked(1)).unwrap();
    let key = app.create_key(&aff("conc"), &[Scope::Decide, Scope::RulesWrite]).unwrap();
    let h = start(app).await;
    let done = Arc::new(AtomicBool::new(false));
    // Two clients post continuously while rulesets are published and rolled back.
    let posters: Vec<JoinHandle<Vec<Value>>> = ["c", "d"]
        .into_iter()
        .map(|prefix| {
            let (http, key, done) = (h.http.clone(), key.clone(), Arc::clone(&done));
            tokio::spawn(async move {
                let mut seen = Vec::new();
                let mut i = 0;
                while !done.load(Ordering::Relaxed) || i < 10 {
                    let e = transfer(&format!("{prefix}{i}"), &format!("u{}", i % 7), 0);
                    let r = http.post("/v1/events", Some(&key), e).await;
                    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
                    seen.push(r.json());
                    i += 1;
                }
                seen
            })
        })
        .collect();
    let mut labels: HashSet<String> = HashSet::from(["conc@v1".to_string()]);
    for n in 2..=6 {
        let r = h.http.post("/v1/rulesets/publish", Some(&key), marked(n)).await;
        assert_eq!(r.status, StatusCode::OK, "{}", r.text());
        labels.insert(r.json()["label"].as_str().unwrap().to_string());
        tokio::time::sleep(std::time::Duration::from_millis(15)).await;
    }
    let r = h.http.post("/v1/rulesets/rollback", Some(&key), r#"{"version": 3}"#).await;
    assert_eq!(r.json()["label"], "conc@v3");
    tokio::time::sleep(std::time::Duration::from_millis(15)).await;
    done.store(true, Ordering::Relaxed);
    let mut seen = Vec::new();
    for p in posters {
        seen.push(p.await.unwrap());
    }
    assert_eq!(labels.len(), 6);
    let mut used = HashSet::new();
    for d in seen.iter().flatten() {
        let label = d["ruleset"].as_str().unwrap();
        assert!(labels.contains(label), "unknown ruleset {label}");
        let version = label.trim_start_matches("conc@v");
        let markers: Vec<&str> = d["reasons"].as_array().unwrap().iter().map(|r| r["rule"].as_str().unwrap()).collect();
        assert_eq!(markers, [format!("m{version}")], "decided by exactly one version: {d}");
        assert_eq!(d["score"].as_u64(), version.parse().ok(), "{d}");
        used.insert(label.to_string());
    }
    assert!(used.contains("conc@v3") && used.len() >= 3, "traffic ran across versions: {used:?}");
    for s in &seen {
        assert_eq!(s.last().unwrap()["ruleset"], "conc@v3", "the last decisions came after the rollback");
    }
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_features_idempotency_and_keys() {
    let dir = tempfile::tempdir().unwrap();
    let (app, k) = setup(dir.path());
    let h = start(app).await;
    let mut first = Vec::new();
    for (i, id) in ["k1", "k2", "k3"].iter().enumerate() {
        first.push(h.http.post("/v1/events", Some(&k.pay), transfer(id, "u9", i as u32)).await.json());
    }
    assert_eq!(counted(&first[2]), 3);
    let app = h.stop().await;
    app.shutdown();
    drop(app);

    let h = start(open(dir.path())).await;
    let again = h.http.post("/v1/events", Some(&k.pay), transfer("k2", "u9", 1)).await.json();
    assert_eq!((again["duplicate"].as_bool(), &again["decision_id"]), (Some(true), &first[1]["decision_id"]));
    let next = h.http.post("/v1/events", Some(&k.pay), transfer("k4", "u9", 3)).await.json();
    assert_eq!(counted(&next), 4, "the velocity feature continues counting after a restart");
    assert_eq!(next["verdict"], "hold");
    assert_eq!(events(&h.app, "pay"), 4);
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_openapi_and_live_page() {
    let dir = tempfile::tempdir().unwrap();
    let (app, k) = setup(dir.path());
    let h = start(app).await;
    for (i, id) in ["m1", "m2", "m3"].iter().enumerate() {
        h.http.post("/v1/events", Some(&k.pay), transfer(id, "u1", i as u32)).await;
    }
    h.http.post("/v1/events", None, "{}").await;

    // Per-rule hit counts are the group's business: no key, or an affiliate's key, is refused.
    h.http.get("/metrics", None).await.problem(401);
    h.http.get("/metrics", Some(&k.pay_rules)).await.problem(403);
    let m = h.http.get("/metrics", Some(&group_admin(&h.app))).await;
    assert!(m.content_type.starts_with("text/plain"), "{}", m.content_type);
    let m = m.text();
    for line in [
        "ansim_http_requests_total{route=\"/v1/events\",method=\"POST\",status=\"200\"} 3",
        "ansim_http_requests_total{route=\"/v1/events\",method=\"POST\",status=\"401\"} 1",
        "ansim_http_requests_total{route=\"/metrics\",method=\"GET\",status=\"401\"} 1",
        "ansim_http_request_duration_seconds_count{route=\"/v1/events\",method=\"POST\"} 4",
        "ansim_http_request_duration_seconds_bucket{route=\"/v1/events\",method=\"POST\",le=\"+Inf\"} 4",
        "ansim_decisions_total 3",
        "ansim_verdicts_total{verdict=\"allow\"} 2",
        "ansim_verdicts_total{verdict=\"hold\"} 1",
        "ansim_rule_hits_total{rule=\"counted\"} 3",
        "ansim_rule_hits_total{rule=\"velocity\"} 1",
        "# TYPE ansim_commits_total counter",
    ] {
        assert!(m.lines().any(|l| l == line), "missing {line:?} in\n{m}");
    }

    let doc = h.http.get("/openapi.json", None).await.json();
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."));
    let paths = doc["paths"].as_object().unwrap();
    for p in [
        "/v1/events",
        "/v1/events:batch",
        "/v1/decisions/{id}",
        "/v1/rulesets",
        "/v1/rulesets/active",
        "/v1/rulesets/draft",
        "/v1/rulesets/validate",
        "/v1/rulesets/publish",
        "/v1/rulesets/rollback",
        "/healthz",
        "/readyz",
        "/metrics",
    ] {
        assert!(paths.contains_key(p), "{p} not documented");
    }
    assert!(doc["components"]["schemas"]["DecisionBody"].is_object());
    assert!(doc["components"]["schemas"]["Problem"].is_object());

    let page = h.http.get("/", None).await;
    assert!(page.content_type.starts_with("text/html"), "{}", page.content_type);
    let html = page.text();
    assert!(html.contains("<span id=\"total\">3</span> decisions"), "{html}");
    assert!(html.contains("<td class=\"hold\">hold</td><td class=\"n\">1</td>"), "{html}");
    assert!(html.contains("Many transfers &lt;fast&gt; &amp; soon."), "reasons are escaped: {html}");
    assert!(html.contains("한 시간에 송금이 많습니다 &lt;b&gt;"), "{html}");
    assert!(html.contains("10,000원"), "{html}");
    assert!(!html.contains("<fast>"));
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_keys_and_traffic_feed_the_live_page() {
    let dir = tempfile::tempdir().unwrap();
    let app = open(dir.path());
    let keys = ansim::demo::setup(&app, dir.path()).unwrap();
    let written: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("demo-keys.json")).unwrap()).unwrap();
    assert_eq!(written.as_object().unwrap().len(), 6, "five affiliates and the safety table: {written}");
    assert_eq!(written["pay"], keys["pay"].as_str());
    assert!(written["group"].is_string());
    let h = start(app).await;
    let (stop, rx) = tokio::sync::watch::channel(false);
    let traffic = tokio::spawn(ansim::demo::traffic(Arc::clone(&h.server), 400.0, 7, rx));
    for _ in 0..200 {
        if h.app.metrics().decisions.load(Ordering::Relaxed) >= 40 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(25)).await;
    }
    stop.send(true).unwrap();
    let sent = traffic.await.unwrap();
    assert!(sent >= 40, "sent {sent}");
    let decided = h.app.metrics().decisions.load(Ordering::Relaxed);
    assert_eq!(decided, sent, "every event sent was decided before the generator returned");
    let html = h.http.get("/", None).await.text();
    assert!(html.contains(&format!("<span id=\"total\">{sent}</span>")), "{html}");
    let d = h.http.post("/v1/events", Some(&keys["pay"]), transfer("demo-1", "u1", 0)).await.json();
    assert_eq!(d["ruleset"], "pay@v1", "the sample ruleset, named after the affiliate");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reports_reach_other_affiliates_and_the_shield() {
    let dir = tempfile::tempdir().unwrap();
    let (app, k) = setup(dir.path());
    let with_registry = format!(
        "{}\n[[rule]]\nid = \"reported\"\nwhen = \"signals.counterparty_reported\"\nverdict = \"hold\"\nscore = 50\nreason = {{ ko = \"신고된 계좌\", en = \"Reported account\" }}\n",
        rules("pay")
    );
    app.publish(&aff("pay"), Some(&with_registry)).unwrap();
    let h = start(app).await;
    let shield_body = json!({ "indicators": [{ "kind": "account", "value": "088 110-123-456789" }] }).to_string();

    let s = h.http.post("/v1/shield", Some(&k.pay), shield_body.clone()).await.json();
    assert_eq!(s["results"][0]["shield"], "safe", "{s}");
    let d = h.http.post("/v1/events", Some(&k.pay), transfer("r1", "u1", 0)).await.json();
    assert_eq!(d["verdict"], "allow", "{d}");
    assert_eq!(d["guidance"]["shield"], "safe", "{d}");

    // The bank reports the account, spelled its own way; the answer holds aggregates only.
    let r = h
        .http
        .post(
            "/v1/indicators:report",
            Some(&k.bank),
            json!({ "kind": "account", "value": "088:110123456789", "typology": "mule" }).to_string(),
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = r.json();
    assert_eq!(
        (r["shield"].as_str(), r["reports"].as_i64(), r["affiliates"].as_i64()),
        (Some("caution"), Some(1), Some(1))
    );
    assert!(!r.to_string().contains("bank"), "a shield never names the reporting affiliate: {r}");

    // Pay's very next transfer to it is held.
    let d = h.http.post("/v1/events", Some(&k.pay), transfer("r2", "u1", 1)).await.json();
    assert_eq!(d["verdict"], "hold", "{d}");
    assert!(d["reasons"].as_array().unwrap().iter().any(|r| r["rule"] == "reported"), "{d}");
    let s = h.http.post("/v1/shield", Some(&k.pay), shield_body).await.json();
    assert_eq!(
        (s["results"][0]["shield"].as_str(), &s["results"][0]["typologies"]),
        (Some("caution"), &json!(["mule"]))
    );
    assert!(s["results"][0]["ko"].as_str().is_some_and(|t| !t.is_empty()));

    // Confirming needs rules:write; bad kinds and values are named; no key is 401.
    let confirm = json!({ "kind": "account", "value": "088:110123456789", "typology": "mule", "status": "confirmed" });
    h.http.post("/v1/indicators:report", Some(&k.bank), confirm.to_string()).await.problem(403);
    let ok = h.http.post("/v1/indicators:report", Some(&k.pay_rules), confirm.to_string()).await.json();
    assert_eq!(
        (ok["shield"].as_str(), ok["confirmed"].as_bool(), ok["affiliates"].as_i64()),
        (Some("danger"), Some(true), Some(2))
    );
    let p = h
        .http
        .post(
            "/v1/indicators:report",
            Some(&k.pay),
            json!({ "kind": "iban", "value": "x", "typology": "mule" }).to_string(),
        )
        .await
        .problem(400);
    assert_eq!(p["field"], "kind");
    let p = h
        .http
        .post("/v1/shield", Some(&k.pay), json!({ "indicators": [{ "kind": "phone", "value": "hello" }] }).to_string())
        .await
        .problem(400);
    assert_eq!(p["field"], "indicators[0].value");
    h.http.post("/v1/shield", None, "{}").await.problem(401);

    // Per-affiliate totals are for the group's admins only.
    h.http.get("/v1/registry/totals", Some(&k.pay_rules)).await.problem(403);
    h.app.ensure_affiliate(&aff("group"), "Safety table", &rules("group")).unwrap();
    let group_user = h.app.create_key(&aff("group"), &[Scope::Decide]).unwrap();
    h.http.get("/v1/registry/totals", Some(&group_user)).await.problem(403);
    let group_admin = h.app.create_key(&aff("group"), &[Scope::Admin]).unwrap();
    let t = h.http.get("/v1/registry/totals", Some(&group_admin)).await.json();
    assert_eq!(
        t["affiliates"],
        json!([
            { "affiliate": "bank", "indicators": 1, "confirmed": 0, "cleared": 0, "reports": 1 },
            { "affiliate": "pay", "indicators": 1, "confirmed": 1, "cleared": 0, "reports": 1 },
        ]),
        "{t}"
    );
}

fn big_transfer(id: &str, subject: &str, amount: i64, account: &str) -> String {
    json!({
        "id": id, "kind": "transfer", "at": domain::Timestamp(app::now_ms()).to_kst_rfc3339(),
        "subject": { "id": subject },
        "transfer": { "amount": amount, "counterparty": { "bank": "004", "account": account } }
    })
    .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn self_protection_is_set_enforced_cancelled_and_kept_per_affiliate() {
    let dir = tempfile::tempdir().unwrap();
    let (app, k) = setup(dir.path());
    let h = start(app).await;
    let put = |key: Option<String>, body: Value| {
        let http = h.http.clone();
        async move { http.call(Method::PUT, "/v1/subjects/u9/protection", key.as_deref(), body.to_string()).await }
    };
    let on = json!({ "delayed_transfer": { "threshold": 1_000_000, "hours": 3 }, "loan_lock": true });
    let r = put(Some(k.bank.clone()), on.clone()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let r = r.json();
    assert_eq!(r["active"], on, "{r}");
    assert_eq!(r["pending"], Value::Null, "turning protection on applies at once");

    // Pay has its own subjects: bank's settings are invisible there and do not apply.
    let other = h.http.get("/v1/subjects/u9/protection", Some(&k.pay)).await.json();
    assert_eq!((other["active"].clone(), other["updated_at"].clone()), (json!({ "loan_lock": false }), Value::Null));
    let d = h.http.post("/v1/events", Some(&k.pay), big_transfer("p1", "u9", 2_000_000, "777-666-555")).await.json();
    assert_eq!(d["verdict"], "allow", "{d}");

    // At the bank the next large transfer to a new payee is held three hours.
    let d = h.http.post("/v1/events", Some(&k.bank), big_transfer("b1", "u9", 2_000_000, "777-666-555")).await.json();
    assert_eq!((d["verdict"].as_str(), d["guidance"]["hold_minutes"].as_i64()), (Some("hold"), Some(180)), "{d}");
    assert_eq!(d["reasons"][0]["rule"], "protection.delayed_transfer", "{d}");
    let id = d["decision_id"].as_str().unwrap();

    // The user cancels it: once, and only at the bank.
    h.http.post(&format!("/v1/decisions/{id}/cancel"), Some(&k.pay), "").await.problem(404);
    let c = h.http.post(&format!("/v1/decisions/{id}/cancel"), Some(&k.bank), "").await;
    assert_eq!(c.status, StatusCode::OK, "{}", c.text());
    assert_eq!(c.json()["decision_id"], id);
    let p = h.http.post(&format!("/v1/decisions/{id}/cancel"), Some(&k.bank), "").await.problem(409);
    assert!(p["detail"].as_str().unwrap().contains("already"), "{p}");

    // Bad settings are named and change nothing; no key is 401.
    let p = put(Some(k.bank.clone()), json!({ "delayed_transfer": { "threshold": 1, "hours": 0 } })).await.problem(400);
    assert_eq!(p["field"], "delayed_transfer.hours", "{p}");
    let p = put(Some(k.bank.clone()), json!({ "loan_lok": true })).await.problem(400);
    assert!(p["detail"].as_str().unwrap().contains("loan_lok"), "{p}");
    put(None, on.clone()).await.problem(401);
    let now = h.http.get("/v1/subjects/u9/protection", Some(&k.bank)).await.json();
    assert_eq!(now["active"], on);

    // Switching off waits for the cooling-off: still on, with the change pending.
    let r = put(Some(k.bank.clone()), json!({})).await.json();
    assert_eq!(r["active"], on, "{r}");
    assert_eq!(r["pending"]["settings"], json!({ "loan_lock": false }), "{r}");
    assert!(r["pending"]["effective_at"].as_str().is_some_and(|t| t.ends_with("+09:00")), "{r}");
    let d = h.http.post("/v1/events", Some(&k.bank), big_transfer("b2", "u9", 5_000_000, "111-000-111")).await.json();
    assert_eq!(d["verdict"], "hold", "{d}");

    let doc = h.http.get("/openapi.json", None).await.json();
    assert!(doc["paths"]["/v1/subjects/{id}/protection"]["put"].is_object());
    assert!(doc["paths"]["/v1/decisions/{id}/cancel"]["post"].is_object());
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn messages_are_analysed_on_request_and_in_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let (app, k) = setup(dir.path());
    let h = start(app).await;
    let scam = "엄마 나 폰 액정 깨져서 수리 맡겼어 이 번호로 문자줘. 신분증 사진 좀 보내줄래?";
    let body = json!({ "text": scam, "sender": { "is_friend": false, "name": "엄마" } }).to_string();
    let a = h.http.post("/v1/messages:analyze", Some(&k.pay), body).await;
    assert_eq!(a.status, StatusCode::OK, "{}", a.text());
    let a = a.json();
    assert_eq!(a["typology"], "family_impersonation", "{a}");
    assert!(a["risk"].as_u64().unwrap() >= 50, "{a}");
    assert!(a["phrases"].as_array().unwrap().iter().any(|p| p == "신분증 사진"), "{a}");
    assert!(a["warnings"].as_array().unwrap().iter().any(|w| w["kind"] == "fake" && w["level"] == "danger"), "{a}");
    assert!(a["guidance"]["ko"].as_str().is_some_and(|t| !t.is_empty()), "{a}");

    let ok =
        h.http.post("/v1/messages:analyze", Some(&k.pay), json!({ "text": "내일 점심 같이 먹자" }).to_string()).await;
    let ok = ok.json();
    assert!(ok["risk"].as_u64().unwrap() < 50 && ok["typology"].is_null(), "{ok}");

    // Bad input is named; no key is 401.
    let p = h.http.post("/v1/messages:analyze", Some(&k.pay), json!({ "txt": "x" }).to_string()).await.problem(400);
    assert!(p["detail"].as_str().unwrap().contains("txt"), "{p}");
    let long = json!({ "text": "가".repeat(10_001) }).to_string();
    assert_eq!(h.http.post("/v1/messages:analyze", Some(&k.pay), long).await.problem(400)["field"], "text");
    let p = h
        .http
        .post("/v1/messages:analyze", Some(&k.pay), json!({ "text": "x", "sender": { "is_frend": true } }).to_string())
        .await
        .problem(400);
    assert_eq!(p["field"], "sender.is_frend", "the unknown member is named: {p}");
    h.http.post("/v1/messages:analyze", None, json!({ "text": "x" }).to_string()).await.problem(401);

    // A message event's decision carries the same analysis.
    let event = json!({
        "id": "msg-1", "kind": "message", "at": "2026-11-26T10:00:00+09:00", "subject": { "id": "u7" },
        "message": { "sender": { "is_friend": false, "name": "엄마" }, "text": scam }
    });
    let d = h.http.post("/v1/events", Some(&k.pay), event.to_string()).await;
    assert_eq!(d.status, StatusCode::OK, "{}", d.text());
    let d = d.json();
    assert_eq!(d["analysis"]["typology"], "family_impersonation", "{d}");
    let id = d["decision_id"].as_str().unwrap();
    let back = h.http.get(&format!("/v1/decisions/{id}"), Some(&k.pay)).await.json();
    assert_eq!(back["analysis"], d["analysis"], "stored with the decision");
    h.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn shadow_rules_are_recorded_and_drafts_are_backtested_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let (app, k) = setup(dir.path());
    // The active ruleset carries a shadow rule that would block every transfer.
    let with_shadow = format!(
        "{}\n[[rule]]\nid = \"try-block\"\nwhen = \"event.kind == 'transfer'\"\nverdict = \"block\"\nshadow = true\nreason = {{ ko = \"시험\", en = \"Trial\" }}\n",
        rules("pay")
    );
    app.publish(&aff("pay"), Some(&with_shadow)).unwrap();
    let h = start(app).await;
    for i in 0..4 {
        let d = h.http.post("/v1/events", Some(&k.pay_rules), transfer(&format!("s{i}"), "u1", i)).await.json();
        assert_eq!(d["shadow"], json!(["try-block"]), "{d}");
        assert_ne!(d["verdict"], "block", "a shadow rule never acts: {d}");
    }
    let m = h.http.get("/metrics", Some(&group_admin(&h.app))).await.text();
    assert!(m.contains("ansim_shadow_hits_total{affiliate=\"pay\",rule=\"try-block\"} 4"), "{m}");

    // A draft without the velocity hold: the stored events replay through both.
    let draft = with_shadow.replace("verdict = \"hold\"\nscore = 40", "verdict = \"warn\"\nscore = 40");
    assert_ne!(draft, with_shadow);
    let r = h.http.call(Method::PUT, "/v1/rulesets/draft", Some(&k.pay_rules), draft).await;
    assert!(r.status.is_success(), "{}", r.text());
    h.http.post("/v1/rulesets/draft/backtest", Some(&k.pay), "").await.problem(403);
    let b = h.http.post("/v1/rulesets/draft/backtest", Some(&k.pay_rules), "").await;
    assert_eq!(b.status, StatusCode::OK, "{}", b.text());
    let b = b.json();
    assert_eq!(
        (b["events"].as_u64(), b["newly_allowed"].as_u64()),
        (Some(4), Some(2)),
        "the 3rd and 4th transfers: {b}"
    );
    assert_eq!(
        (b["by_rule"][0]["rule"].as_str(), b["by_rule"][0]["side"].as_str()),
        (Some("velocity"), Some("changed")),
        "{b}"
    );
    h.stop().await;
}

/// Regression: a reused event id with other content returned the first decision with 200;
/// like a payment API's idempotency key it is a conflict, while the same content stays a
/// harmless repeat.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reused_event_id_with_other_content_is_a_conflict() {
    let dir = tempfile::tempdir().unwrap();
    let (app, k) = setup(dir.path());
    let h = start(app).await;
    let first = h.http.post("/v1/events", Some(&k.pay), transfer("same-id", "u1", 0)).await;
    assert_eq!(first.status, StatusCode::OK, "{}", first.text());
    let again = h.http.post("/v1/events", Some(&k.pay), transfer("same-id", "u1", 0)).await.json();
    assert_eq!((again["duplicate"].as_bool(), &again["decision_id"]), (Some(true), &first.json()["decision_id"]));
    // The same JSON with other spacing and member order is the same event.
    let reordered = json!({
        "transfer": { "counterparty": { "account": "110-123-456789", "bank": "088" }, "amount": 10000 },
        "subject": { "id": "u1" }, "at": "2026-11-26T10:00:00+09:00", "kind": "transfer", "id": "same-id"
    });
    let r = h.http.post("/v1/events", Some(&k.pay), serde_json::to_string_pretty(&reordered).unwrap()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    let other = h.http.post("/v1/events", Some(&k.pay), transfer("same-id", "u2", 5)).await.problem(409);
    let detail = other["detail"].as_str().unwrap();
    assert!(detail.contains("same-id") && detail.contains("other content"), "{other}");
    assert_eq!(events(&h.app, "pay"), 1, "the conflicting event is not stored");
    h.stop().await;
}

/// Regression: the shield of an allowed decision followed any matched rule; it follows the
/// verdict and the registry: a reported recipient is `caution` even when the rules allow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_decision_shield_follows_the_verdict_and_the_registry() {
    let dir = tempfile::tempdir().unwrap();
    let (app, k) = setup(dir.path());
    let h = start(app).await;
    let d = h.http.post("/v1/events", Some(&k.pay), transfer("s1", "u1", 0)).await.json();
    assert_eq!((d["verdict"].as_str(), d["guidance"]["shield"].as_str()), (Some("allow"), Some("safe")), "{d}");
    let report = json!({ "kind": "account", "value": "088:110123456789", "typology": "mule" }).to_string();
    assert_eq!(h.http.post("/v1/indicators:report", Some(&k.bank), report).await.status, StatusCode::OK);
    let d = h.http.post("/v1/events", Some(&k.pay), transfer("s2", "u2", 1)).await.json();
    assert_eq!((d["verdict"].as_str(), d["guidance"]["shield"].as_str()), (Some("allow"), Some("caution")), "{d}");
    h.stop().await;
}

/// Regression: `/v1/shield` refused the common spelling of a bank code and account joined by
/// hyphens.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_shield_reads_an_account_written_with_hyphens_only() {
    let dir = tempfile::tempdir().unwrap();
    let (app, k) = setup(dir.path());
    let h = start(app).await;
    let report = json!({ "kind": "account", "value": "004 12345678901", "typology": "mule" }).to_string();
    assert_eq!(h.http.post("/v1/indicators:report", Some(&k.bank), report).await.status, StatusCode::OK);
    let body = json!({ "indicators": [{ "kind": "account", "value": "004-123-45-678901" }] }).to_string();
    let r = h.http.post("/v1/shield", Some(&k.pay), body).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["results"][0]["shield"], "caution", "{}", r.text());
    h.stop().await;
}

/// Regression: reports could only be imported by the CLI, which a running server never saw.
/// `POST /v1/indicators:import` takes the same CSV, refuses bad rows by line (unknown
/// typologies too) and imports nothing then; a good file reaches the very next decision.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn indicators_are_imported_in_bulk_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let (app, k) = setup(dir.path());
    let h = start(app).await;
    let bad = "kind,value,typology\nphone,010-1234-5678,impersonation\naccount,088 110-123-456789,pyramid-ring\n";
    let p = h.http.post("/v1/indicators:import", Some(&k.bank), bad).await.problem(400);
    let errors = p["errors"].as_array().unwrap_or_else(|| panic!("errors listed: {p}"));
    assert_eq!(errors.len(), 1, "{p}");
    assert_eq!(errors[0]["line"], 3, "{p}");
    assert!(errors[0]["message"].as_str().unwrap().contains("pyramid-ring"), "{p}");
    let shield = json!({ "indicators": [{ "kind": "phone", "value": "010-1234-5678" }] }).to_string();
    let s = h.http.post("/v1/shield", Some(&k.pay), shield.clone()).await.json();
    assert_eq!(s["results"][0]["shield"], "safe", "nothing was imported: {s}");

    let good = "kind,value,typology\nphone,010-1234-5678,impersonation\naccount,088 110-123-456789,mule\n";
    let r = h.http.post("/v1/indicators:import", Some(&k.bank), good).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!((r.json()["rows"].as_i64(), r.json()["indicators"].as_i64()), (Some(2), Some(2)), "{}", r.text());
    let s = h.http.post("/v1/shield", Some(&k.pay), shield).await.json();
    assert_eq!(s["results"][0]["shield"], "caution", "{s}");
    h.http.post("/v1/indicators:import", None, good).await.problem(401);
    h.stop().await;
}

/// A full write queue answers `503` with `Retry-After` and a problem body; what was accepted
/// is stored, what was refused is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_busy_server_says_when_to_retry() {
    let dir = tempfile::tempdir().unwrap();
    let mut cfg = AppConfig::new(dir.path());
    cfg.max_batch = 1;
    cfg.max_queued = 1;
    let app = App::open(cfg).unwrap();
    app.ensure_affiliate(&aff("pay"), "Pay", &rules("pay")).unwrap();
    let key = app.create_key(&aff("pay"), &[Scope::Decide]).unwrap();
    let h = start(app).await;
    let calls: Vec<_> = (0..200)
        .map(|i| {
            let (http, key) = (h.http.clone(), key.clone());
            tokio::spawn(async move {
                let mut req = Request::builder()
                    .method(Method::POST)
                    .uri(format!("http://{}/v1/events", http.addr))
                    .header(header::AUTHORIZATION, format!("Bearer {key}"));
                req = req.header(header::CONTENT_TYPE, "application/json");
                let body = Full::new(Bytes::from(transfer(&format!("b{i}"), "u1", (i % 60) as u32)));
                let res = http.client.request(req.body(body).unwrap()).await.unwrap();
                let retry = res.headers().get(header::RETRY_AFTER).map(|v| v.to_str().unwrap().to_string());
                (res.status(), retry)
            })
        })
        .collect();
    let (mut ok, mut busy) = (0i64, 0);
    for c in calls {
        match c.await.unwrap() {
            (StatusCode::OK, _) => ok += 1,
            (StatusCode::SERVICE_UNAVAILABLE, retry) => {
                assert_eq!(retry.as_deref(), Some("1"));
                busy += 1;
            }
            (s, _) => panic!("unexpected {s}"),
        }
    }
    assert!(busy > 0 && ok > 0, "{ok} ok, {busy} busy");
    assert_eq!(events(&h.app, "pay"), ok);
    h.stop().await;
}

/// Regression: event times had no lower bound (year 0001 was accepted and counted). Times
/// older than the configured horizon are refused, naming `at`, and nothing is stored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn events_older_than_the_horizon_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (app, k) = setup(dir.path());
    let h = start(app).await;
    let ancient = transfer("old-1", "u1", 0).replace("2026-11-26T10:00:00+09:00", "0001-01-01T00:00:00+09:00");
    let p = h.http.post("/v1/events", Some(&k.pay), ancient).await.problem(400);
    assert_eq!(p["field"], "at", "{p}");
    assert!(p["detail"].as_str().unwrap().contains("older than"), "{p}");
    let two_years = transfer("old-2", "u1", 0).replace("2026-11-26", "2024-11-26");
    h.http.post("/v1/events", Some(&k.pay), two_years).await.problem(400);
    assert_eq!(events(&h.app, "pay"), 0);
    let recent = h.http.post("/v1/events", Some(&k.pay), transfer("new-1", "u1", 0)).await;
    assert_eq!(recent.status, StatusCode::OK, "{}", recent.text());
    h.stop().await;
}

/// An affiliate's admin lists its own keys and revokes one over the API; the revoked key is
/// refused from the next request on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_listed_and_revoked_over_http() {
    let dir = tempfile::tempdir().unwrap();
    let (app, k) = setup(dir.path());
    let admin = app.create_key(&aff("pay"), &[Scope::Admin]).unwrap();
    let h = start(app).await;
    h.http.get("/v1/keys", Some(&k.pay)).await.problem(403);
    let list = h.http.get("/v1/keys", Some(&admin)).await.json();
    let keys = list["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 3, "pay's three keys, not bank's: {list}");
    assert!(!list.to_string().contains(&k.pay), "a key is never shown again");
    let prefix: String = k.pay.chars().take(8).collect();
    let r = h.http.call(Method::DELETE, &format!("/v1/keys/{prefix}"), Some(&admin), Bytes::new()).await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.text());
    assert_eq!(r.json()["revoked"], true);
    h.http.post("/v1/events", Some(&k.pay), transfer("after-revoke", "u1", 0)).await.problem(401);
    let bank_prefix: String = k.bank.chars().take(8).collect();
    h.http.call(Method::DELETE, &format!("/v1/keys/{bank_prefix}"), Some(&admin), Bytes::new()).await.problem(404);
    h.stop().await;
}
