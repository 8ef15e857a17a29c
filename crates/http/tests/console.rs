//! The console's security over real HTTP: login with a double-submitted token, a fresh
//! hardened session cookie (no fixation), lockout with back-off, CSRF on every form (missing or
//! wrong: 403 and nothing changed), roles (403) and affiliates (another's people and cases
//! invisible), passwords never stored or logged in clear, and the work itself — confirming a
//! case from the console flags its account for every affiliate, queues the holder's action and
//! names the person in the audit log.

mod common;

use ansim_http::Options;
use app::cases::{ReportForm, ReportKind, ReportedIndicator, Reporter};
use app::people::{Actor, Role};
use app::{App, AppConfig};
use axum::body::Bytes;
use axum::http::{Method, Request, StatusCode, header};
use domain::AffiliateId;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A client that keeps cookies, like a browser on one origin.
struct Browser {
    addr: std::net::SocketAddr,
    client: Client<HttpConnector, Full<Bytes>>,
    cookies: BTreeMap<String, String>,
}

struct Page {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: String,
}

impl Page {
    /// The value of the first hidden `csrf` field.
    fn csrf(&self) -> String {
        let at = self.body.find("name=\"csrf\" value=\"").expect("a csrf field") + 19;
        self.body[at..].split('"').next().unwrap().to_string()
    }

    fn set_cookies(&self) -> Vec<String> {
        self.headers.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_string()).collect()
    }

    fn location(&self) -> &str {
        self.headers.get(header::LOCATION).map(|v| v.to_str().unwrap()).unwrap_or("")
    }
}

impl Browser {
    fn new(addr: std::net::SocketAddr) -> Browser {
        Browser { addr, client: Client::builder(TokioExecutor::new()).build_http(), cookies: BTreeMap::new() }
    }

    async fn send(&mut self, method: Method, path: &str, form: Option<&[(&str, &str)]>) -> Page {
        let cookie: Vec<String> = self.cookies.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let body = form
            .map(|f| f.iter().map(|(k, v)| format!("{}={}", enc(k), enc(v))).collect::<Vec<_>>().join("&"))
            .unwrap_or_default();
        let req = Request::builder()
            .method(method)
            .uri(format!("http://{}{path}", self.addr))
            .header("cookie", cookie.join("; "))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(body)))
            .unwrap();
        let res = self.client.request(req).await.expect("request");
        let (status, headers) = (res.status(), res.headers().clone());
        for v in headers.get_all(header::SET_COOKIE) {
            let v = v.to_str().unwrap();
            let (kv, attrs) = v.split_once(';').unwrap_or((v, ""));
            let (k, val) = kv.split_once('=').unwrap();
            if val.is_empty() || attrs.contains("Max-Age=0") {
                self.cookies.remove(k);
            } else {
                self.cookies.insert(k.into(), val.into());
            }
        }
        let body = String::from_utf8(res.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
        Page { status, headers, body }
    }

    async fn get(&mut self, path: &str) -> Page {
        self.send(Method::GET, path, None).await
    }

    async fn post(&mut self, path: &str, form: &[(&str, &str)]) -> Page {
        self.send(Method::POST, path, Some(form)).await
    }

    async fn login(&mut self, user: &str, password: &str) -> Page {
        let form = self.get("/console/login").await;
        let csrf = form.csrf();
        self.post(
            "/console/login",
            &[("csrf", &csrf), ("next", "/console"), ("username", user), ("password", password)],
        )
        .await
    }
}

fn enc(s: &str) -> String {
    s.bytes().map(|b| if b.is_ascii_alphanumeric() { (b as char).to_string() } else { format!("%{b:02X}") }).collect()
}

const RULES: &str = "[ruleset]\nname = \"NAME\"\nversion = 1\n\n[[rule]]\nid = \"big\"\nwhen = \"transfer.amount >= 100_000_000\"\nverdict = \"hold\"\nscore = 60\nreason = { ko = \"큰 금액\", en = \"Large amount\" }\n";

struct World {
    _dir: tempfile::TempDir,
    app: Arc<App>,
    addr: std::net::SocketAddr,
    _stop: tokio::sync::oneshot::Sender<()>,
}

const PASSWORD: &str = "a long password 1";

async fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(AppConfig::new(dir.path())).unwrap();
    for a in ["pay", "bank", "group"] {
        app.ensure_affiliate(&AffiliateId(a.into()), a, &RULES.replace("NAME", a)).unwrap();
    }
    // The bank holds its own accounts: confirmed fraud on one sends it a hold action.
    let bank_admin = app::Principal {
        affiliate: AffiliateId("group".into()),
        scopes: vec![app::Scope::Admin],
        name: "setup".into(),
    };
    app.grant_holdings(&bank_admin, &AffiliateId("bank".into()), &["bank:088".into()]).unwrap();
    for (name, a, role) in [
        ("analyst", "group", Role::Analyst),
        ("root", "group", Role::GroupAdmin),
        ("bank.admin", "bank", Role::AffiliateAdmin),
        ("bank.analyst", "bank", Role::Analyst),
        ("pay.analyst", "pay", Role::Analyst),
    ] {
        app.add_person(Actor::Operator, name, &AffiliateId(a.into()), role, PASSWORD).unwrap();
    }
    let (addr, stop) = common::serve(&app, Options::default()).await;
    World { _dir: dir, app, addr, _stop: stop }
}

fn victim_report(app: &App, account: &str, amount: i64) -> i64 {
    let form = ReportForm {
        kind: ReportKind::parse("voice_phishing").unwrap(),
        description: "검찰 수사관이라며 안전계좌로 옮기라고 했습니다.".into(),
        amount: Some(domain::Krw(amount)),
        transferred_at: None,
        contact_ongoing: true,
        age: Some(67),
        indicators: vec![ReportedIndicator { kind: "account".into(), value: account.into() }],
        contact: None,
        subject: None,
    };
    app.file_report(&Reporter::Public { ip: "127.0.0.1".into() }, form).unwrap().case_id
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn login_issues_a_fresh_hardened_session_and_locks_out() {
    let w = world().await;
    let mut b = Browser::new(w.addr);
    // Not logged in: to the login form, then back.
    let p = b.get("/console/cases").await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(p.location(), "/console/login?next=/console/cases");

    // The login form without its double-submitted token: refused, no session.
    let p = b.post("/console/login", &[("username", "analyst"), ("password", PASSWORD)]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert!(!b.cookies.contains_key("ansim_session"));

    // A session id planted before login is never adopted.
    b.cookies.insert("ansim_session".into(), "cs_planted0000000000000000000000".into());
    let p = b.login("analyst", PASSWORD).await;
    assert_eq!((p.status, p.location()), (StatusCode::SEE_OTHER, "/console"), "{}", p.body);
    let session = p.set_cookies().into_iter().find(|c| c.starts_with("ansim_session=")).expect("a session cookie");
    for flag in ["HttpOnly", "Secure", "SameSite=Strict", "Path=/console"] {
        assert!(session.contains(flag), "{flag} missing: {session}");
    }
    let token = b.cookies["ansim_session"].clone();
    assert!(token.starts_with("cs_") && token != "cs_planted0000000000000000000000");
    let p = b.get("/console").await;
    assert_eq!(p.status, StatusCode::OK);
    assert!(p.body.contains("analyst"));
    for h in [header::CONTENT_SECURITY_POLICY, header::X_FRAME_OPTIONS, header::CACHE_CONTROL] {
        assert!(p.headers.contains_key(&h), "{h} missing");
    }
    let mut planted = Browser::new(w.addr);
    planted.cookies.insert("ansim_session".into(), "cs_planted0000000000000000000000".into());
    assert_eq!(planted.get("/console").await.status, StatusCode::SEE_OTHER, "the planted id is no session");

    // Logout ends the session on the server, not only in the browser.
    let csrf = b.get("/console").await.csrf();
    b.post("/console/logout", &[("csrf", &csrf)]).await;
    let mut replay = Browser::new(w.addr);
    replay.cookies.insert("ansim_session".into(), token);
    assert_eq!(replay.get("/console").await.status, StatusCode::SEE_OTHER);

    // Five wrong passwords lock the person out, with the time to wait; the right one waits too.
    let mut b = Browser::new(w.addr);
    for _ in 0..4 {
        assert_eq!(b.login("bank.analyst", "not the password").await.status, StatusCode::UNAUTHORIZED);
    }
    let p = b.login("bank.analyst", "not the password").await;
    assert_eq!(p.status, StatusCode::TOO_MANY_REQUESTS);
    assert!(p.headers.contains_key(header::RETRY_AFTER));
    assert_eq!(b.login("bank.analyst", PASSWORD).await.status, StatusCode::TOO_MANY_REQUESTS);
    // An unknown name is answered like a wrong password.
    let p = b.login("nobody", PASSWORD).await;
    assert_eq!(p.status, StatusCode::UNAUTHORIZED);

    // Passwords are in no stored byte and no audit entry.
    let log = w.app.store().audit_log().unwrap();
    assert!(log.iter().any(|r| r.entry.action == "console.login" && r.entry.actor == "group/analyst"));
    assert!(log.iter().all(|r| !r.entry.detail.contains(PASSWORD) && !r.entry.detail.contains("not the password")));
    w.app.store().checkpoint().unwrap();
    for entry in std::fs::read_dir(w._dir.path()).unwrap() {
        let bytes = std::fs::read(entry.unwrap().path()).unwrap_or_default();
        assert!(!bytes.windows(PASSWORD.len()).any(|x| x == PASSWORD.as_bytes()), "a password in clear on disk");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_form_without_the_session_token_changes_nothing() {
    let w = world().await;
    let case = victim_report(&w.app, "088-110-123456", 3_000_000);
    let mut b = Browser::new(w.addr);
    b.login("analyst", PASSWORD).await;
    let page = b.get(&format!("/console/cases/{case}")).await;
    let csrf = page.csrf();
    let path = format!("/console/cases/{case}");
    for bad in [None, Some("0".repeat(64)), Some(format!("{}x", &csrf[1..]))] {
        let mut form = vec![("outcome", "confirmed_fraud"), ("note", "forged")];
        if let Some(t) = &bad {
            form.push(("csrf", t));
        }
        assert_eq!(b.post(&path, &form).await.status, StatusCode::FORBIDDEN, "{bad:?}");
    }
    let (row, _) = w.app.case_detail(&w.app.all_people().unwrap()[0].principal(), case).unwrap();
    assert_eq!((row.outcome, row.assignee), (None, None), "nothing changed");
    assert!(!row.body.contains("forged"));
    let before = w.app.active_ruleset(&AffiliateId("group".into())).unwrap().version;
    let p = b.post("/console/rules/publish", &[("source", &RULES.replace("NAME", "group"))]).await;
    assert_eq!(p.status, StatusCode::FORBIDDEN);
    assert_eq!(w.app.active_ruleset(&AffiliateId("group".into())).unwrap().version, before);

    // With the token the same change goes through, under the person's name.
    let p = b.post(&path, &[("csrf", &csrf), ("outcome", "confirmed_fraud")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    let page = b.get(&path).await;
    assert!(page.body.contains("confirmed_fraud"), "{}", page.body);
    assert!(page.body.contains("hold_account"), "the holder's action is listed: {}", page.body);
    let shield = b.get("/console/indicators?kind=account&value=088-110-123456").await;
    assert!(shield.body.contains("data-level=\"danger\""), "{}", shield.body);
    let log = w.app.store().audit_log().unwrap();
    assert!(log.iter().any(|r| r.entry.action == "case.confirmed" && r.entry.actor == "group/analyst"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn roles_and_affiliates_bound_what_a_person_sees() {
    let w = world().await;
    let case = victim_report(&w.app, "088-110-999999", 1_000_000);
    // An affiliate's analyst works no group case and manages nobody.
    let mut b = Browser::new(w.addr);
    b.login("bank.analyst", PASSWORD).await;
    assert_eq!(b.get("/console/cases").await.status, StatusCode::FORBIDDEN);
    assert_eq!(b.get(&format!("/console/cases/{case}")).await.status, StatusCode::FORBIDDEN);
    assert_eq!(b.get("/console/people").await.status, StatusCode::FORBIDDEN);
    assert_eq!(b.get("/console/rules").await.status, StatusCode::OK);
    let nav = b.get("/console").await.body;
    assert!(!nav.contains("href=\"/console/cases\"") && !nav.contains("href=\"/console/people\""), "{nav}");

    // An affiliate's admin sees its own people only; another affiliate's person is not found.
    let mut b = Browser::new(w.addr);
    b.login("bank.admin", PASSWORD).await;
    let page = b.get("/console/people").await;
    assert_eq!(page.status, StatusCode::OK);
    assert!(page.body.contains("bank.analyst") && !page.body.contains("pay.analyst"), "{}", page.body);
    let csrf = page.csrf();
    let p = b.post("/console/people/state", &[("csrf", &csrf), ("username", "pay.analyst"), ("disabled", "1")]).await;
    assert_eq!(p.status, StatusCode::NOT_FOUND);
    assert!(!w.app.all_people().unwrap().iter().any(|p| p.disabled));
    // Nor can it make anyone a group admin.
    let p = b
        .post(
            "/console/people/add",
            &[
                ("csrf", &csrf),
                ("username", "sneaky"),
                ("affiliate", "group"),
                ("role", "group_admin"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert!(p.status == StatusCode::FORBIDDEN || p.status == StatusCode::NOT_FOUND, "{}", p.status);
    // Its own analyst it can disable: their sessions end at once.
    let mut victim = Browser::new(w.addr);
    victim.login("bank.analyst", PASSWORD).await;
    assert_eq!(victim.get("/console").await.status, StatusCode::OK);
    let p = b.post("/console/people/state", &[("csrf", &csrf), ("username", "bank.analyst"), ("disabled", "1")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(victim.get("/console").await.status, StatusCode::SEE_OTHER);
    let log = w.app.store().audit_log().unwrap();
    assert!(log.iter().any(|r| r.entry.action == "person.disabled" && r.entry.actor == "bank/bank.admin"));
}

/// The rules page shows what the affiliate's shadow rules would have done, and only its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_rules_page_shows_the_affiliate_s_shadow_results() {
    let w = world().await;
    let shadow = "\n[[rule]]\nid = \"trial-block\"\nwhen = \"event.kind == 'transfer'\"\nverdict = \"block\"\nshadow = true\nreason = { ko = \"시험\", en = \"Trial\" }\n";
    for a in ["bank", "pay"] {
        let src = format!("{}{}", RULES.replace("NAME", a), shadow.replace("trial-block", &format!("trial-{a}")));
        w.app.publish(&AffiliateId(a.into()), Some(&src)).unwrap();
    }
    // Three of the bank's transfers and one of the pay's.
    for (i, a) in ["bank", "bank", "bank", "pay"].into_iter().enumerate() {
        let a = AffiliateId(a.into());
        let e = domain::Event::from_json(
            &format!(
                r#"{{"id":"t{i}","kind":"transfer","at":"2026-11-26T10:00:00+09:00","subject":{{"id":"u1"}},"transfer":{{"amount":10000,"counterparty":{{"bank":"088","account":"110000000001"}}}}}}"#
            ),
            Some(&a),
        )
        .unwrap();
        let d = w.app.decide(&a, e).await.unwrap();
        assert_ne!(d.decision.verdict, domain::Verdict::Block, "a shadow rule never acts");
    }
    assert!(w.app.metrics().shadow_hits().iter().any(|((a, r), n)| a == "pay" && r == "trial-pay" && *n == 1));
    let mut b = Browser::new(w.addr);
    b.login("bank.admin", PASSWORD).await;
    let page = b.get("/console/rules").await.body;
    let at = page.find("<code>trial-bank</code>").expect("the bank's shadow rule is listed");
    assert!(page[at..].starts_with("<code>trial-bank</code></td><td>3</td>"), "{}", &page[at..at + 60]);
    assert!(!page.contains("trial-pay"), "another affiliate's shadow rule is not shown");
}

/// The second factor over HTTP: turned on from the account page with a code of the offered
/// secret, then required at login (without the code: refused), and reset by an admin.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_factor_is_turned_on_from_the_account_page_and_required_at_login() {
    use app::people::totp;
    let w = world().await;
    let mut b = Browser::new(w.addr);
    b.login("bank.analyst", PASSWORD).await;
    let page = b.get("/console/account").await;
    let at = page.body.find("id=\"totp-secret\">").expect("a secret offered") + 17;
    let secret = page.body[at..].split('<').next().unwrap().to_string();
    let key = totp::decode(&secret).unwrap();
    let code = |step_offset: i64| format!("{:06}", totp::code(&key, app::now_ms() / totp::STEP_MS + step_offset));
    let csrf = page.csrf();
    let p = b.post("/console/account/totp", &[("csrf", &csrf), ("secret", &secret), ("code", "12345")]).await;
    assert_eq!(p.status, StatusCode::BAD_REQUEST, "a malformed code is refused");
    let p = b.post("/console/account/totp", &[("csrf", &csrf), ("secret", &secret), ("code", &code(0))]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);
    assert!(b.get("/console/account").await.body.contains("id=\"totp-state\""));

    // Password alone: refused. Password and the next step's code (the current one was used to
    // confirm): in.
    let mut other = Browser::new(w.addr);
    assert_eq!(other.login("bank.analyst", PASSWORD).await.status, StatusCode::UNAUTHORIZED);
    let form = other.get("/console/login").await;
    let csrf = form.csrf();
    let p = other
        .post(
            "/console/login",
            &[
                ("csrf", &csrf),
                ("next", "/console"),
                ("username", "bank.analyst"),
                ("password", PASSWORD),
                ("code", &code(1)),
            ],
        )
        .await;
    assert_eq!(p.status, StatusCode::SEE_OTHER, "{}", p.body);

    // The bank's admin resets it; the password alone works again.
    let mut admin = Browser::new(w.addr);
    admin.login("bank.admin", PASSWORD).await;
    let csrf = admin.get("/console/people").await.csrf();
    let p = admin.post("/console/people/totp-reset", &[("csrf", &csrf), ("username", "bank.analyst")]).await;
    assert_eq!(p.status, StatusCode::SEE_OTHER);
    assert_eq!(Browser::new(w.addr).login("bank.analyst", PASSWORD).await.status, StatusCode::SEE_OTHER);
}
