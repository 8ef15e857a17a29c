//! The analyst console in a real browser: Debian's headless Chromium, driven over the DevTools
//! protocol (see `cdp`), against a server holding the demo's affiliates, people and a few
//! thousand decisions of its simulated traffic. Flows: a lockout after repeated failures; a
//! victim's report through the public form that then shows in the inbox and at the top of the
//! queue; the analyst confirming it, after which the account is `danger` in the lookup and the
//! holding affiliate's action is listed; a rule with an error, its diagnostic at the right line
//! and column as you type; backtest, publish, the diff, rollback; a person without the role
//! refused. Every page is captured in Korean and English and checked with axe-core (no serious
//! or critical violation). Screenshots go to `CARGO_TARGET_TMPDIR/console-screenshots`.
//!
//! Skipped, with the reason printed, where no Chromium is installed (`.ci/run` installs it);
//! the accessibility check needs axe-core (`npm ci --prefix .ci`, which `.ci/run` does, or
//! `ANSIM_AXE` naming `axe.min.js`) and is skipped alone without it.

mod cdp;

use ansim_http::{Options, Server};
use app::{App, AppConfig};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

fn axe_source() -> Option<String> {
    let path = std::env::var("ANSIM_AXE").map(PathBuf::from).unwrap_or_else(|_| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../.ci/node_modules/axe-core/axe.min.js")
    });
    std::fs::read_to_string(path).ok()
}

/// The 1-based line and column of the first `needle` in `text`.
fn place(text: &str, needle: &str) -> (usize, usize) {
    let at = text.find(needle).expect("needle in text");
    let before = &text[..at];
    (before.matches('\n').count() + 1, before.rsplit('\n').next().unwrap().chars().count() + 1)
}

/// JavaScript for a string literal.
fn js(s: &str) -> String {
    Value::from(s).to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_console_works_in_chromium() {
    let Some(binary) = cdp::chromium() else {
        eprintln!(
            "skipping the console browser test: no chromium found (apt-get install chromium, or set ANSIM_CHROMIUM)"
        );
        return;
    };
    let axe = axe_source();
    if axe.is_none() {
        eprintln!(
            "the console browser test runs without its accessibility check: no axe-core (npm ci --prefix .ci, or set ANSIM_AXE)"
        );
    }
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let app = App::open(AppConfig::new(&data)).unwrap();
    ansim::demo::setup(&app, &data).unwrap();
    let users: Value = serde_json::from_slice(&std::fs::read(data.join("demo-users.json")).unwrap()).unwrap();
    let password = move |u: &str| users[u]["password"].as_str().unwrap().to_string();
    let server = Server::new(Arc::clone(&app), Options { live_page: true, ..Options::default() });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    ansim::demo::webhooks(&app, &base).unwrap();
    let (stop_http, rx) = tokio::sync::oneshot::channel::<()>();
    let http = tokio::spawn(ansim_http::serve(Arc::clone(&server), listener, async move {
        let _ = rx.await;
    }));
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let traffic = tokio::spawn(ansim::demo::traffic(Arc::clone(&server), 800.0, 7, stop_rx.clone()));
    let workers = tokio::spawn(ansim_http::workers(Arc::clone(&app), stop_rx));
    while app.metrics().decisions.load(Ordering::Relaxed) < 2_000 {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(true);
    let _ = traffic.await;
    let _ = workers.await;
    while app.process_outbox(1_000).unwrap() > 0 {}

    let shots = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("console-screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let profile = dir.path().join("chromium");
    let (base2, shots2) = (base.clone(), shots.clone());
    let app2 = Arc::clone(&app);
    let violations = tokio::task::spawn_blocking(move || {
        drive(&binary, &profile, &base2, &shots2, &app2, axe.as_deref(), &password)
    })
    .await
    .unwrap();
    let _ = stop_http.send(());
    let _ = http.await;
    assert!(violations.is_empty(), "serious or critical accessibility violations:\n{}", violations.join("\n"));
    let taken = std::fs::read_dir(&shots).unwrap().count();
    assert!(taken >= 24, "a screenshot of every page in both languages: {taken}");
}

/// The flows; returns the accessibility violations found on every page.
fn drive(
    binary: &std::path::Path,
    profile: &std::path::Path,
    base: &str,
    shots: &std::path::Path,
    app: &App,
    axe: Option<&str>,
    password: &dyn Fn(&str) -> String,
) -> Vec<String> {
    let mut b = cdp::Browser::start(binary, profile, 1280, 900);
    let mut violations = Vec::new();
    let mut check = |b: &mut cdp::Browser, name: &str| {
        b.screenshot(&shots.join(format!("{name}.png")));
        if let Some(src) = axe {
            violations.extend(b.axe(src).into_iter().map(|v| format!("{name}: {v}")));
        }
    };
    let login = |b: &mut cdp::Browser, user: &str, pass: &str| {
        b.open(&format!("{base}/console/login"));
        b.navigating(&format!(
            "document.getElementById('username').value = {}; document.getElementById('password').value = {}; document.querySelector('form button[type=submit]').click()",
            js(user),
            js(pass)
        ));
    };

    // Lockout: the fifth wrong password locks the person out, and the page says so.
    b.open(&format!("{base}/console/lang/ko?next=/console/login"));
    check(&mut b, "login.ko");
    for _ in 0..5 {
        login(&mut b, "bank.analyst", "not the password");
    }
    let text = b.text();
    assert!(text.contains("잠겼습니다"), "locked out: {text}");

    // A victim reports through the public form.
    b.open(&format!("{base}/report"));
    b.navigating(
        "document.getElementById('kind').value = 'voice_phishing';
         document.getElementById('description').value = '검찰 수사관을 사칭한 사람이 안전계좌로 옮기라고 해서 송금했습니다. 지금도 통화 중입니다.';
         document.getElementById('amount').value = '48000000';
         document.getElementById('account').value = '090 3333-44-555666';
         document.querySelector('[name=contact_ongoing]').checked = true;
         document.querySelector('form.box button[type=submit], form.box input[type=submit]').click()",
    );
    let receipt = b.eval("document.getElementById('receipt') && document.getElementById('receipt').textContent");
    let receipt = receipt.as_str().unwrap_or_else(|| panic!("a receipt: {}", b.text())).to_string();

    // The analyst sees it in the inbox and at the top of the queue, and confirms it.
    login(&mut b, "analyst", &password("analyst"));
    assert!(b.url().ends_with("/console"), "{}", b.url());
    check(&mut b, "dashboard.ko");
    b.open(&format!("{base}/console/inbox"));
    assert!(b.text().contains(&receipt), "the report in the inbox");
    check(&mut b, "inbox.ko");
    b.open(&format!("{base}/console/cases"));
    check(&mut b, "cases.ko");
    b.navigating("document.querySelector('a.case-link').click()");
    let text = b.text();
    assert!(text.contains(&receipt), "the top case is the victim's: {text}");
    let case_url = b.url();
    b.eval("window.confirm = () => true");
    b.navigating("document.getElementById('confirm-fraud').click()");
    let outcome = b.eval("document.getElementById('case-outcome').textContent");
    assert_eq!(outcome, Value::from("confirmed_fraud"));
    let actions = b.eval("document.getElementById('actions').innerText").as_str().unwrap_or_default().to_string();
    assert!(actions.contains("bank") && actions.contains("hold_account"), "the holder's action: {actions}");
    check(&mut b, "case.ko");
    b.navigating("document.querySelector('main table a[href^=\"/console/indicators\"]').click()");
    assert_eq!(b.eval("document.querySelector('#shield-level [data-level]').dataset.level"), Value::from("danger"));
    check(&mut b, "indicators.ko");

    // A rule with an error: the diagnostic as you type, at the error's line and column. The
    // bank's administrator edits the bank's rules (its events feed the backtest).
    login(&mut b, "bank.admin", &password("bank.admin"));
    b.open(&format!("{base}/console/rules"));
    check(&mut b, "rules.ko");
    let source = b.eval("document.getElementById('source').value").as_str().unwrap().to_string();
    let broken = source.replacen("transfer.amount", "transfer.amout", 1);
    let (line, column) = place(&broken, "transfer.amout");
    b.eval(&format!(
        "const s = document.getElementById('source'); s.value = {}; s.dispatchEvent(new Event('input'))",
        js(&broken)
    ));
    b.wait_for("document.querySelector('#diagnostics li.diagnostic') !== null");
    let at = b.eval("[+document.querySelector('#diagnostics li.diagnostic').dataset.line, +document.querySelector('#diagnostics li.diagnostic').dataset.column]");
    assert_eq!(at, serde_json::json!([line, column]), "the diagnostic where the typo is");
    // Without script, saving shows the same.
    b.navigating("document.querySelector('#rules-form button[type=submit]').click()");
    let at = b.eval("[+document.querySelector('#diagnostics li.diagnostic').dataset.line, +document.querySelector('#diagnostics li.diagnostic').dataset.column]");
    assert_eq!(at, serde_json::json!([line, column]));

    // Backtest a new rule, publish it, read the diff, roll back.
    let added = format!(
        "{source}\n[[rule]]\nid = \"console-large\"\nwhen = \"transfer.amount >= 3_000_000\"\nverdict = \"hold\"\nscore = 70\nreason = {{ ko = \"콘솔에서 추가한 고액 보류\", en = \"Large transfer hold added in the console\" }}\n"
    );
    b.eval(&format!("document.getElementById('source').value = {}", js(&added)));
    b.navigating("document.querySelector('button[formaction=\"/console/rules/backtest\"]').click()");
    let stopped =
        b.eval("document.getElementById('newly-stopped') && document.getElementById('newly-stopped').textContent");
    assert!(stopped.as_str().is_some_and(|n| n != "0"), "the backtest shows newly held events: {}", b.text());
    check(&mut b, "rules-backtest.ko");
    b.eval("window.confirm = () => true");
    b.navigating("document.querySelector('button[formaction=\"/console/rules/publish\"]').click()");
    let label = b.eval("document.getElementById('active-label').textContent").as_str().unwrap().to_string();
    assert!(label.ends_with("@v2"), "published: {label}");
    b.navigating("document.querySelector('a[href^=\"/console/rules?diff=2\"]').click()");
    let added_lines = b.eval("[...document.querySelectorAll('pre.diff .add')].map(e => e.textContent).join('\\n')");
    assert!(added_lines.as_str().unwrap().contains("console-large"), "the diff shows the new rule: {added_lines}");
    check(&mut b, "rules-diff.ko");
    b.eval("window.confirm = () => true");
    b.navigating("document.querySelector('form[action=\"/console/rules/rollback\"] button').click()");
    let label = b.eval("document.getElementById('active-label').textContent").as_str().unwrap().to_string();
    assert!(label.ends_with("@v1"), "rolled back: {label}");
    assert_eq!(app.active_ruleset(&domain::AffiliateId("bank".into())).unwrap().version, 1);
    login(&mut b, "admin", &password("admin"));

    // Every page in both languages, populated, checked for accessibility.
    let pages = [
        ("dashboard", "/console".to_string()),
        ("cases", "/console/cases".into()),
        ("case", case_url.trim_start_matches(base).to_string()),
        ("inbox", "/console/inbox".into()),
        ("indicators", "/console/indicators?kind=account&value=090%203333-44-555666".into()),
        ("rules", "/console/rules?diff=1#diff".into()),
        ("protection", "/console/protection?affiliate=bank&subject=b_00000".into()),
        ("trends", "/console/trends".into()),
        ("campaigns", "/console/campaigns".into()),
        ("deliveries", "/console/deliveries".into()),
        ("people", "/console/people".into()),
        ("account", "/console/account".into()),
    ];
    for lang in ["ko", "en"] {
        b.open(&format!("{base}/console/lang/{lang}?next=/console"));
        for (name, path) in &pages {
            b.open(&format!("{base}{path}"));
            let text = b.text();
            assert!(!text.contains("찾을 수 없습니다") && !text.contains("Not allowed"), "{name} ({lang}): {text}");
            check(&mut b, &format!("{name}.{lang}"));
        }
    }
    b.open(&format!("{base}/console"));
    assert!(b.text().contains("Dashboard"), "English after the switch");

    // A person without the role is refused.
    login(&mut b, "pay.analyst", &password("pay.analyst"));
    b.open(&format!("{base}/console/people"));
    assert!(b.text().contains("Not allowed"), "{}", b.text());
    check(&mut b, "forbidden.en");
    violations
}
