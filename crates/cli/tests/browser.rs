//! The live page in a real browser: the demo's setup and traffic run against the server on
//! port 0, Debian's headless Chromium loads `/` twice, and the rendered DOM must show live,
//! growing numbers and held or blocked events with their Korean reasons. Skipped, with the
//! reason printed, where no Chromium is installed (`.ci/run` installs it; set
//! `ANSIM_CHROMIUM` to use another binary).

use ansim_http::{Options, Server};
use app::{App, AppConfig};
use std::path::PathBuf;
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

mod cdp;

use cdp::chromium;

/// The DOM after Chromium loaded and rendered `url`.
fn dump_dom(browser: &PathBuf, url: &str, profile: &std::path::Path) -> String {
    let out = Command::new(browser)
        .args(cdp::FLAGS)
        .arg("--virtual-time-budget=1000")
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(url)
        .output()
        .expect("chromium runs");
    assert!(out.status.success(), "chromium failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The number right before " decisions</" ... as rendered: "N decisions" in the summary line.
fn decisions_shown(dom: &str) -> u64 {
    let text: String = {
        let mut t = String::new();
        let mut in_tag = false;
        for c in dom.chars() {
            match c {
                '<' => in_tag = true,
                '>' => {
                    in_tag = false;
                    t.push(' ');
                }
                c if !in_tag => t.push(c),
                _ => {}
            }
        }
        t
    };
    let words: Vec<&str> = text.split_whitespace().collect();
    words
        .windows(2)
        .find(|w| w[1] == "decisions" && w[0].chars().all(|c| c.is_ascii_digit() || c == ','))
        .and_then(|w| w[0].replace(',', "").parse().ok())
        .unwrap_or_else(|| panic!("no decision count on the page: {text}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn live_page_renders_live_data_in_chromium() {
    let Some(browser) = chromium() else {
        eprintln!("skipping the browser test: no chromium found (apt-get install chromium, or set ANSIM_CHROMIUM)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(AppConfig::new(dir.path().join("data"))).unwrap();
    ansim::demo::setup(&app, &dir.path().join("data")).unwrap();
    let server = Server::new(Arc::clone(&app), Options { live_page: true, ..Options::default() });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/", listener.local_addr().unwrap());
    let (stop_http, rx) = tokio::sync::oneshot::channel::<()>();
    let http = tokio::spawn(ansim_http::serve(Arc::clone(&server), listener, async move {
        let _ = rx.await;
    }));
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let traffic = tokio::spawn(ansim::demo::traffic(Arc::clone(&server), 500.0, 11, stop_rx));
    while app.metrics().decisions.load(Ordering::Relaxed) < 300 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let profile = dir.path().join("chromium");
    let first = {
        let (b, u, p) = (browser.clone(), url.clone(), profile.clone());
        tokio::task::spawn_blocking(move || dump_dom(&b, &u, &p)).await.unwrap()
    };
    tokio::time::sleep(Duration::from_millis(1_500)).await;
    let second = {
        let (b, u, p) = (browser.clone(), url.clone(), profile.clone());
        tokio::task::spawn_blocking(move || dump_dom(&b, &u, &p)).await.unwrap()
    };
    let _ = stop.send(true);
    let _ = traffic.await;
    let _ = stop_http.send(());
    let _ = http.await;

    assert!(first.contains("http-equiv=\"refresh\""), "the page refreshes itself");
    for dom in [&first, &second] {
        assert!(dom.contains("allow") && dom.contains("block"), "verdict mix shown");
        assert!(dom.contains("decisions/s"), "rate shown");
    }
    let (a, b) = (decisions_shown(&first), decisions_shown(&second));
    assert!(a >= 300 && b > a, "the numbers are live: {a} then {b}");
    assert!(second.chars().any(|c| ('가'..='힣').contains(&c)), "Korean reasons rendered");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn report_form_and_status_page_render_without_javascript_in_chromium() {
    let Some(browser) = chromium() else {
        eprintln!("skipping the browser test: no chromium found (apt-get install chromium, or set ANSIM_CHROMIUM)");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(AppConfig::new(dir.path().join("data"))).unwrap();
    let form = app::cases::ReportForm {
        kind: app::cases::ReportKind::MessengerPhishing,
        description: "엄마라며 상품권을 사 달라고 했어요".into(),
        amount: Some(domain::Krw(300_000)),
        transferred_at: None,
        contact_ongoing: true,
        age: Some(68),
        indicators: vec![],
        contact: None,
        subject: None,
    };
    let filed = app.file_report(&app::cases::Reporter::Public { ip: "192.0.2.9".into() }, form).unwrap();
    let server = Server::new(Arc::clone(&app), Options::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    // The reporter's part of the status check, as a person does it: the status form is filled
    // in and submitted (a POST, so the secret stays out of the address). This helper page, served
    // beside the API for the test only, fills it in and submits it the way a click would.
    let fill = format!(
        "<!doctype html><form method=\"post\" action=\"/report/status?lang=en\">\
         <input name=\"receipt\" value=\"{}\"><input name=\"secret\" value=\"{}\"></form>\
         <script>document.forms[0].submit()</script>",
        filed.receipt, filed.secret
    );
    let helper = axum::Router::new().route(
        "/test/check-status",
        axum::routing::get(move || {
            let fill = fill.clone();
            async move { axum::response::Html(fill) }
        }),
    );
    let task = tokio::spawn(ansim_http::serve_with(server, listener, Some(helper), async move {
        let _ = rx.await;
    }));
    let profile = dir.path().join("profile");
    let (b, p) = (browser.clone(), profile.clone());
    let ko = tokio::task::spawn_blocking(move || dump_dom(&b, &format!("http://{addr}/report"), &p)).await.unwrap();
    assert!(ko.contains("사기 피해 신고") && ko.contains("name=\"description\""), "{ko}");
    assert_eq!(ko.matches("<option").count(), 7, "one option per report kind");
    let (b, p) = (browser.clone(), profile.clone());
    let en =
        tokio::task::spawn_blocking(move || dump_dom(&b, &format!("http://{addr}/report?lang=en"), &p)).await.unwrap();
    assert!(en.contains("Report fraud") && en.contains("lang=\"en\""), "{en}");
    let url = format!("http://{addr}/test/check-status");
    let status = tokio::task::spawn_blocking(move || dump_dom(&browser, &url, &profile)).await.unwrap();
    assert!(status.contains("id=\"status\"") && status.contains("Received"), "{status}");
    assert!(status.contains("(Korea time)"), "{status}");
    assert!(status.contains(&filed.receipt));
    let _ = stop.send(());
    task.await.unwrap().unwrap();
}
