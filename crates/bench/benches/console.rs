//! Server time of every console page with a large store: 1,000,000 decisions over the last
//! year (with their trend, rule and indicator rollups), 100,000 cases with their reports (a
//! fifth of them open), dead letters and people, seeded through the store's own batch writes;
//! then every page is requested over loopback HTTP by a logged-in group administrator, one
//! request at a time, and p50/p99/max are printed, ending with a JSON line.
//!
//! `cargo bench -p ansim-bench --bench console` (sizes: `ANSIM_BENCH_DECISIONS`,
//! `ANSIM_BENCH_CASES`, `ANSIM_BENCH_REQUESTS`).

use app::cases::{CaseBody, ReportForm, ReportKind, ReportedIndicator};
use app::people::{Actor, Role};
use app::{App, AppConfig};
use axum::body::Bytes;
use axum::http::{Request, header};
use domain::{AffiliateId, CaseState};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use std::sync::Arc;
use std::time::{Duration, Instant};
use store::{CaseRow, ClusterKey, EventRecord, ReportRow, TrendKey, Write, in_transaction};

const RULES: &str = include_str!("../../../test_data/rulesets/sample.toml");
const PASSWORD: &str = "bench password 1";

/// The path of a page's `i`th request.
type PathOf = Box<dyn Fn(usize) -> String>;

fn env(name: &str, default: usize) -> usize {
    std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn seed(app: &Arc<App>, decisions: usize, cases: usize) {
    let store = app.store();
    let affiliates = ["messenger", "pay", "bank", "securities", "insurance"];
    let now = app::now_ms();
    let today = app::trends::kst_day(now);
    // One real decision's JSON as the template of every stored one (its size is realistic).
    let template = {
        let e = domain::Event::from_json(
            r#"{"id":"tpl","kind":"transfer","at":"2026-11-26T02:14:05+09:00","subject":{"id":"u1","age_band":"60s"},
                "device":{"id":"d1","new_for_subject":true,"remote_control_app":true},
                "transfer":{"amount":4800000,"counterparty":{"bank":"088","account":"110-123-456789"},"balance_before":5100000}}"#,
            Some(&AffiliateId("bank".into())),
        )
        .unwrap();
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let d = rt.block_on(app.decide(&AffiliateId("bank".into()), e)).unwrap();
        let rec = store.event_by_id(&AffiliateId("bank".into()), "tpl").unwrap().unwrap();
        drop(d);
        rec
    };
    let mut rng = model::Rng::new(7);
    let verdicts = [("allow", 900), ("warn", 50), ("hold", 30), ("block", 20)];
    let rules = [
        "scam-message",
        "own-account-transfer",
        "balance-drain-new-payee",
        "stranger-contact-elderly",
        "dangerous-link",
    ];
    let started = Instant::now();
    let mut batch = Vec::with_capacity(2_000);
    let mut sightings = Vec::new();
    for i in 0..decisions {
        let a = AffiliateId(affiliates[i % affiliates.len()].into());
        let at = now - rng.below(365 * 86_400_000) as i64;
        let day = app::trends::kst_day(at);
        let mut pick = rng.below(1000);
        let verdict = verdicts
            .iter()
            .find(|(_, w)| {
                if pick < *w {
                    true
                } else {
                    pick -= w;
                    false
                }
            })
            .map_or("allow", |v| v.0);
        let amount = (rng.below(5_000) * 1_000) as i64;
        let id = format!("b{i}");
        let record = EventRecord {
            event_id: id.clone(),
            at_ms: at,
            verdict: verdict.into(),
            score: if verdict == "allow" { 0 } else { 60 },
            ..template.clone()
        };
        let protective = verdict != "allow";
        let key = |kind: &str, value: String| ClusterKey { day, kind: kind.into(), value };
        let clusters = if protective {
            vec![
                key("account", format!("{:016x}", rng.below(20_000))),
                key("phone", format!("{:016x}", rng.below(20_000))),
            ]
        } else {
            Vec::new()
        };
        batch.push(Write {
            affiliate: a.clone(),
            tag: rng.next_u64(),
            record,
            outbox: Vec::new(),
            trend: Some((
                TrendKey {
                    day,
                    kind: "transfer".into(),
                    verdict: verdict.into(),
                    typology: if protective { "impersonation".into() } else { String::new() },
                    age_band: ["20s", "30s", "40s", "50s", "60s"][(i / 7) % 5].into(),
                    amount_band: app::trends::amount_band(amount).into(),
                },
                amount,
            )),
            clusters,
            rules: if protective { vec![rules[(i / 3) % rules.len()].into()] } else { Vec::new() },
        });
        if batch.len() == 2_000 || i + 1 == decisions {
            let out = store.commit(&batch).unwrap();
            sightings.extend(store::cluster_deltas(&batch, &out));
            if sightings.len() > 50_000 {
                store.add_sightings(&sightings).unwrap();
                sightings.clear();
            }
            batch.clear();
        }
    }
    store.add_sightings(&sightings).unwrap();
    eprintln!("seeded {decisions} decisions in {:.1} s", started.elapsed().as_secs_f64());

    let started = Instant::now();
    let mut id = 0;
    while id < cases {
        let n = (cases - id).min(1_000);
        in_transaction(store.as_ref(), |tx| {
            for k in 0..n {
                let opened = now - rng.below(365 * 86_400_000) as i64;
                let open = rng.below(5) == 0;
                let state = if open {
                    [CaseState::New, CaseState::Triaged, CaseState::Investigating][k % 3]
                } else {
                    CaseState::Closed
                };
                let account = format!("090-{:04}-{:06}", rng.below(10_000), rng.below(1_000_000));
                let body = CaseBody {
                    version: CaseBody::VERSION,
                    indicators: vec![ReportedIndicator { kind: "account".into(), value: account.clone() }],
                    kinds: vec![ReportKind::VoicePhishing],
                    notes: Vec::new(),
                    relief: None,
                };
                let amount = (rng.below(50_000) * 1_000) as i64;
                let case_id = tx.insert_case(&CaseRow {
                    id: 0,
                    state,
                    outcome: (!open).then_some(domain::CaseOutcome::ConfirmedFraud),
                    priority: rng.below(100) as i64,
                    assignee: None,
                    typology: Some("impersonation".into()),
                    money_at_risk: amount,
                    reporting: vec!["public".into()],
                    holding: Vec::new(),
                    linked_case: None,
                    opened_ms: opened,
                    updated_ms: opened,
                    sla_due_ms: opened + 3_600_000,
                    // A quarter of the open cases wait past their due time for a first action.
                    first_action_ms: (!open || rng.below(4) != 0).then_some(opened + 600_000),
                    closed_ms: (!open).then_some(opened + 86_400_000),
                    body: serde_json::to_string(&body).unwrap(),
                })?;
                let form = ReportForm {
                    kind: ReportKind::VoicePhishing,
                    description: "기관을 사칭한 전화를 받고 안내받은 계좌로 송금했습니다.".into(),
                    amount: Some(domain::Krw(amount)),
                    transferred_at: None,
                    contact_ongoing: false,
                    age: Some(60),
                    indicators: body.indicators.clone(),
                    contact: None,
                    subject: None,
                };
                tx.insert_report(&ReportRow {
                    receipt: format!("R{case_id:09}"),
                    secret_hash: [0; 32],
                    source: "public".into(),
                    kind: "voice_phishing".into(),
                    case_id,
                    priority: 50,
                    body: serde_json::to_string(&form).unwrap(),
                    created_ms: opened,
                    subject: None,
                    amount,
                })?;
            }
            Ok(())
        })
        .unwrap();
        id += n;
    }
    let dead: Vec<store::ActionRow> = (0..300)
        .map(|i| {
            store::ActionRow::queued(
                format!("act_{i}_dead"),
                AffiliateId("bank".into()),
                "hold_account",
                "{}".into(),
                now,
            )
        })
        .collect();
    in_transaction(store.as_ref(), |tx| tx.queue_actions(&dead)).unwrap();
    for a in &dead {
        store.action_attempted(&a.id, store::ActionOutcome::Dead { error: "410 Gone".into() }, now).unwrap();
    }
    eprintln!("seeded {cases} cases in {:.1} s (today is day {today})", started.elapsed().as_secs_f64());
}

fn main() {
    // `cargo bench` passes `--bench`; a plain test run of the target does nothing.
    if !std::env::args().any(|a| a == "--bench") {
        return;
    }
    let decisions = env("ANSIM_BENCH_DECISIONS", 1_000_000);
    let cases = env("ANSIM_BENCH_CASES", 100_000);
    let requests = env("ANSIM_BENCH_REQUESTS", 300);
    let dir = tempfile::tempdir().unwrap();
    let app = App::open(AppConfig::new(dir.path())).unwrap();
    for a in ["messenger", "pay", "bank", "securities", "insurance", "group"] {
        app.ensure_affiliate(
            &AffiliateId(a.into()),
            a,
            &RULES.replacen("name = \"group\"", &format!("name = \"{a}\""), 1),
        )
        .unwrap();
    }
    app.add_person(Actor::Operator, "admin", &AffiliateId("group".into()), Role::GroupAdmin, PASSWORD).unwrap();
    for i in 0..100 {
        app.add_person(
            Actor::Operator,
            &format!("analyst{i:03}"),
            &AffiliateId("bank".into()),
            Role::Analyst,
            PASSWORD,
        )
        .unwrap();
    }
    seed(&app, decisions, cases);
    let token = app.login("admin", PASSWORD, None, app::now_ms()).unwrap().token;
    let case_ids: Vec<i64> = app.store().open_cases(2_000).unwrap().iter().map(|c| c.id).collect();

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let server = ansim_http::Server::new(Arc::clone(&app), ansim_http::Options::default());
        tokio::spawn(ansim_http::serve(server, listener, std::future::pending()));
        let client: Client<_, Full<Bytes>> = Client::builder(TokioExecutor::new()).build_http();
        let pages: Vec<(&str, PathOf)> = vec![
            ("login", Box::new(|_| "/console/login".into())),
            ("dashboard", Box::new(|_| "/console".into())),
            ("cases", Box::new(|_| "/console/cases".into())),
            ("case", Box::new(move |i| format!("/console/cases/{}", case_ids[i % case_ids.len()]))),
            ("inbox", Box::new(|_| "/console/inbox".into())),
            (
                "indicators",
                Box::new(|i| format!("/console/indicators?kind=account&value=090-{:04}-123456", i % 10_000)),
            ),
            ("rules", Box::new(|_| "/console/rules?diff=1".into())),
            ("protection", Box::new(|i| format!("/console/protection?affiliate=bank&subject=b_{:05}", i % 1_000))),
            ("trends", Box::new(|_| "/console/trends".into())),
            ("campaigns", Box::new(|_| "/console/campaigns".into())),
            ("deliveries", Box::new(|_| "/console/deliveries".into())),
            ("people", Box::new(|_| "/console/people".into())),
        ];
        println!("{:<12} {:>9} {:>9} {:>9} {:>9}", "page", "p50 ms", "p99 ms", "max ms", "bytes");
        let mut json = serde_json::Map::new();
        for (name, path) in &pages {
            let mut times = Vec::with_capacity(requests);
            let mut bytes = 0;
            for i in 0..requests + 10 {
                let req = Request::get(format!("http://{addr}{}", path(i)))
                    .header(header::COOKIE, format!("ansim_session={token}"))
                    .body(Full::new(Bytes::new()))
                    .unwrap();
                let t = Instant::now();
                let res = client.request(req).await.unwrap();
                let status = res.status();
                let body = res.into_body().collect().await.unwrap().to_bytes();
                let took = t.elapsed();
                assert!(status.is_success(), "{name}: {status}");
                // The first requests warm caches and connections.
                if i >= 10 {
                    times.push(took);
                    bytes = body.len();
                }
            }
            times.sort();
            let q = |p: f64| times[((times.len() as f64 * p).ceil() as usize).clamp(1, times.len()) - 1];
            let ms = |d: Duration| d.as_secs_f64() * 1e3;
            println!(
                "{name:<12} {:>9.2} {:>9.2} {:>9.2} {bytes:>9}",
                ms(q(0.5)),
                ms(q(0.99)),
                ms(*times.last().unwrap())
            );
            json.insert((*name).into(), serde_json::json!({"p50_ms": ms(q(0.5)), "p99_ms": ms(q(0.99))}));
        }
        println!(
            "{}",
            serde_json::json!({"decisions": decisions, "cases": cases, "requests": requests, "pages": json})
        );
    });
}
