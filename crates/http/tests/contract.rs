//! The published contract against the running server: every operation of `/openapi.json` is
//! probed the way careless clients and attackers call it (no key, a bad key, a key without the
//! scope, an empty body, a positional array, the wrong content type, an oversized path number,
//! bad query values), and every status that comes back must be one the document lists for that
//! operation, never a 5xx, and every error must be a problem that names the bad parameter
//! without echoing Rust type names or long inputs back.

use ansim_http::{Options, Server};
use app::{App, AppConfig, Scope};
use axum::body::Bytes;
use axum::http::{Method, Request, StatusCode, header};
use domain::AffiliateId;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use serde_json::Value;
use std::net::SocketAddr;
use std::sync::Arc;

struct Resp {
    status: StatusCode,
    content_type: String,
    body: String,
}

impl Resp {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or(Value::Null)
    }
}

struct Http {
    addr: SocketAddr,
    client: Client<HttpConnector, Full<Bytes>>,
}

impl Http {
    async fn call(&self, method: &Method, path: &str, headers: &[(&str, &str)], body: impl Into<Bytes>) -> Resp {
        let mut req = Request::builder().method(method.clone()).uri(format!("http://{}{path}", self.addr));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let res = self.client.request(req.body(Full::new(body.into())).unwrap()).await.expect("request");
        let status = res.status();
        let content_type =
            res.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("").to_string();
        let body = String::from_utf8_lossy(&res.into_body().collect().await.unwrap().to_bytes()).into_owned();
        Resp { status, content_type, body }
    }
}

const RULES: &str = "[ruleset]\nname = \"NAME\"\nversion = 1\n";

async fn start(dir: &std::path::Path) -> (Http, Arc<App>, tokio::sync::oneshot::Sender<()>) {
    let app = App::open(AppConfig::new(dir)).unwrap();
    for a in ["bank", "pay", "group"] {
        app.ensure_affiliate(&AffiliateId(a.into()), a, &RULES.replace("NAME", a)).unwrap();
    }
    let server = Server::new(Arc::clone(&app), Options::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(ansim_http::serve_with(server, listener, None, async move {
        let _ = rx.await;
    }));
    (Http { addr, client: Client::builder(TokioExecutor::new()).build_http() }, app, stop)
}

/// One probe: what it tries, the path, the headers and the body.
type Probe = (String, String, Vec<(String, String)>, String);

/// A problem's detail says what is wrong in a client's terms.
fn check_problem(what: &str, r: &Resp) {
    if r.content_type.starts_with("text/html") {
        return;
    }
    assert_eq!(r.content_type, "application/problem+json", "{what}: {}", r.body);
    let p = r.json();
    let detail = p["detail"].as_str().unwrap_or_default();
    assert!(detail.len() <= 400, "{what}: a {}-byte detail echoes input: {detail:.200}", detail.len());
    assert!(p["field"].as_str().is_none_or(|f| f.len() <= 120), "{what}: field {:.200}", p["field"]);
    for leak in ["struct ", "Some(", "None", "EventWire", "the request was rejected", "Failed to"] {
        assert!(!detail.contains(leak), "{what}: detail {detail:?} shows {leak:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_status_the_server_returns_is_documented() {
    let dir = tempfile::tempdir().unwrap();
    let (h, app, _stop) = start(dir.path()).await;
    let bank = app.create_key(&AffiliateId("bank".into()), &Scope::ALL).unwrap();
    let narrow = app.create_key(&AffiliateId("pay".into()), &[Scope::Decide]).unwrap();
    let group = app.create_key(&AffiliateId("group".into()), &[Scope::Cases, Scope::Admin]).unwrap();
    let doc = h.call(&Method::GET, "/openapi.json", &[], "").await.json();
    let paths = doc["paths"].as_object().expect("paths");
    let mut probes = 0;
    let mut undocumented = Vec::new();
    for (template, ops) in paths {
        for (method, op) in ops.as_object().unwrap() {
            let Ok(method) = method.to_uppercase().parse::<Method>() else { continue };
            let documented: Vec<String> = op["responses"].as_object().unwrap().keys().cloned().collect();
            let secured = op.get("security").is_some();
            let json_body = op["requestBody"]["content"].get("application/json").is_some();
            let has_body = op.get("requestBody").is_some();
            let params = op["parameters"].as_array().cloned().unwrap_or_default();
            let fill = |with: &str| {
                let mut p = template.clone();
                for param in params.iter().filter(|p| p["in"] == "path") {
                    p = p.replace(&format!("{{{}}}", param["name"].as_str().unwrap()), with);
                }
                p
            };
            let ok_path = fill("1");
            let key = |k: &str| format!("Bearer {k}");
            let mut calls: Vec<Probe> = Vec::new();
            let with = |k: &str, extra: &[(&str, &str)]| {
                let mut v = vec![("authorization".to_string(), key(k))];
                v.extend(extra.iter().map(|(a, b)| (a.to_string(), b.to_string())));
                v
            };
            let json = [("content-type", "application/json")];
            if secured {
                calls.push(("no key".into(), ok_path.clone(), vec![], String::new()));
                calls.push(("bad key".into(), ok_path.clone(), with("ak_nope", &json), "{}".into()));
                calls.push(("narrow key".into(), ok_path.clone(), with(&narrow, &json), "{}".into()));
                calls.push(("group key".into(), ok_path.clone(), with(&group, &json), "{}".into()));
            }
            let k = if secured { bank.as_str() } else { "" };
            let auth = |extra: &[(&str, &str)]| {
                if secured {
                    with(k, extra)
                } else {
                    extra.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect()
                }
            };
            if has_body {
                calls.push(("empty body".into(), ok_path.clone(), auth(&json), String::new()));
            }
            if json_body {
                calls.push(("positional array".into(), ok_path.clone(), auth(&json), "[null,null]".into()));
                calls.push((
                    "form content type".into(),
                    ok_path.clone(),
                    auth(&[("content-type", "application/x-www-form-urlencoded")]),
                    "{}".into(),
                ));
                calls.push((
                    "long unknown member".into(),
                    ok_path.clone(),
                    auth(&json),
                    format!("{{\"{}\": 1}}", "x".repeat(10_000)),
                ));
            }
            if params.iter().any(|p| p["in"] == "path") {
                calls.push(("huge path number".into(), fill("99999999999999999999"), auth(&json), "{}".into()));
                calls.push(("long path value".into(), fill(&"x".repeat(5_000)), auth(&json), "{}".into()));
            }
            for p in params.iter().filter(|p| p["in"] == "query") {
                let name = p["name"].as_str().unwrap();
                for bad in ["abc", "-1"] {
                    calls.push((format!("?{name}={bad}"), format!("{ok_path}?{name}={bad}"), auth(&json), "{}".into()));
                }
            }
            for (what, path, headers, body) in calls {
                let hs: Vec<(&str, &str)> = headers.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
                let r = h.call(&method, &path, &hs, body).await;
                probes += 1;
                let what = format!("{method} {template} ({what})");
                assert!(!r.status.is_server_error(), "{what}: {} {}", r.status, r.body);
                let code = r.status.as_u16().to_string();
                if !documented.contains(&code) && !documented.iter().any(|d| d == "default") {
                    undocumented.push(format!("{what}: {code} {:.160}", r.body));
                }
                if r.status.is_client_error() {
                    check_problem(&what, &r);
                }
            }
        }
    }
    assert!(probes > 100, "{probes} probes");
    assert!(undocumented.is_empty(), "{} undocumented statuses:\n{}", undocumented.len(), undocumented.join("\n"));
}

/// Regression: bodies and parameters the server took or answered vaguely.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_bodies_and_parameters_are_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let (h, app, _stop) = start(dir.path()).await;
    let bank = format!("Bearer {}", app.create_key(&AffiliateId("bank".into()), &Scope::ALL).unwrap());
    let group = format!("Bearer {}", app.create_key(&AffiliateId("group".into()), &[Scope::Cases]).unwrap());
    let json = ("content-type", "application/json");

    // A positional array is not an object: self-protection is not silently reset.
    let r = h.call(&Method::PUT, "/v1/subjects/0/protection", &[("authorization", &bank), json], "[null,null]").await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST, "{}", r.body);
    let r = h
        .call(
            &Method::POST,
            "/v1/messages:analyze",
            &[("authorization", &bank), json],
            r#"{"text":"hi","sender":[null,null]}"#,
        )
        .await;
    assert_eq!((r.status, r.json()["field"].as_str()), (StatusCode::BAD_REQUEST, Some("sender")), "{}", r.body);

    // An empty body where one is needed.
    for (m, path) in
        [(Method::POST, "/v1/rulesets/validate"), (Method::PUT, "/v1/rulesets/draft"), (Method::POST, "/v1/events")]
    {
        let r = h.call(&m, path, &[("authorization", &bank)], "").await;
        assert_eq!(r.status, StatusCode::BAD_REQUEST, "{m} {path}: {}", r.body);
        assert!(r.json()["detail"].as_str().unwrap().contains("empty"), "{m} {path}: {}", r.body);
    }

    // The wrong content type on a JSON endpoint.
    let r =
        h.call(&Method::POST, "/v1/events", &[("authorization", &bank), ("content-type", "text/plain")], "{}").await;
    assert_eq!(r.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{}", r.body);
    assert!(r.json()["detail"].as_str().unwrap().contains("application/json"), "{}", r.body);

    // Query and path errors name the parameter.
    for q in ["abc", "-1"] {
        let r = h.call(&Method::GET, &format!("/v1/cases?limit={q}"), &[("authorization", &group)], "").await;
        assert_eq!((r.status, r.json()["field"].as_str()), (StatusCode::BAD_REQUEST, Some("limit")), "{}", r.body);
    }
    let r = h.call(&Method::GET, "/v1/cases/99999999999999999999", &[("authorization", &group)], "").await;
    assert_eq!((r.status, r.json()["field"].as_str()), (StatusCode::BAD_REQUEST, Some("id")), "{}", r.body);

    // A 413 states the limit.
    let big = format!("{{\"id\":\"{}\"}}", "x".repeat(1_100_000));
    let r = h.call(&Method::POST, "/v1/events", &[("authorization", &bank), json], big).await;
    assert_eq!(r.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(r.json()["detail"].as_str().unwrap().contains("1 MiB"), "{}", r.body);

    // Long input is not echoed back.
    let long = format!(
        r#"{{"id":"e1","kind":"{}","at":"2026-11-26T02:14:05+09:00","subject":{{"id":"u"}}}}"#,
        "k".repeat(10_000)
    );
    let r = h.call(&Method::POST, "/v1/events", &[("authorization", &bank), json], long).await;
    assert_eq!(r.status, StatusCode::BAD_REQUEST);
    check_problem("long kind", &r);
}

/// Regression (found by schemathesis): `?limit=` beyond the documented range was clamped or
/// refused as "number too large to fit in target type"; it is refused by name with the range.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn limits_outside_their_documented_range_are_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (h, app, _stop) = start(dir.path()).await;
    let group = format!("Bearer {}", app.create_key(&AffiliateId("group".into()), &[Scope::Cases]).unwrap());
    for q in ["0", "1001", "1576955098406167697416616148992"] {
        let r = h.call(&Method::GET, &format!("/v1/cases?limit={q}"), &[("authorization", &group)], "").await;
        assert_eq!((r.status, r.json()["field"].as_str()), (StatusCode::BAD_REQUEST, Some("limit")), "{q}: {}", r.body);
    }
    let ok = h.call(&Method::GET, "/v1/cases?limit=1000", &[("authorization", &group)], "").await;
    assert_eq!(ok.status, StatusCode::OK, "{}", ok.body);
}

/// Regression: a batch answers each event with its own problem, and those problems skipped the
/// scrubbing every other error gets, so a 10,000-character member came back whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_item_s_problem_is_scrubbed_too() {
    let dir = tempfile::tempdir().unwrap();
    let (h, app, _stop) = start(dir.path()).await;
    let bank = format!("Bearer {}", app.create_key(&AffiliateId("bank".into()), &Scope::ALL).unwrap());
    let long = format!(
        r#"{{"events":[{{"id":"e1","kind":"{}","at":"2026-11-26T02:14:05+09:00","subject":{{"id":"u"}}}}]}}"#,
        "k".repeat(10_000)
    );
    let r = h
        .call(
            &Method::POST,
            "/v1/events:batch",
            &[("authorization", &bank), ("content-type", "application/json")],
            long,
        )
        .await;
    assert_eq!(r.status, StatusCode::OK, "{}", r.body);
    let item = &r.json()["results"][0];
    let detail = item["detail"].as_str().unwrap();
    assert_eq!(item["status"], 400, "{item}");
    assert!(detail.len() <= 400 && !detail.contains(&"k".repeat(100)), "{detail:.200}");
}
