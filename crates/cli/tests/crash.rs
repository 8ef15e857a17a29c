//! Crash safety: a child `ansim serve` is killed with SIGKILL in the middle of a load; after a
//! restart every event whose decision the client received is in the store, and the recovered
//! feature state (latest snapshot plus replay) equals the state rebuilt from every stored
//! event from scratch.

use app::{App, AppConfig, Scope};
use domain::AffiliateId;
use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

const RULES: &str = include_str!("../../../test_data/rulesets/sample.toml");

#[test]
fn acknowledged_events_survive_sigkill() {
    let dir = tempfile::tempdir().unwrap();
    let affiliates = sim::AFFILIATES;
    // Set up affiliates and keys, then close the store before the server opens it.
    let keys: HashMap<String, String> = {
        let app = App::open(AppConfig::new(dir.path())).unwrap();
        affiliates
            .iter()
            .map(|a| {
                let id = AffiliateId(a.to_string());
                app.ensure_affiliate(&id, a, RULES).unwrap();
                (a.to_string(), app.create_key(&id, &[Scope::Decide]).unwrap())
            })
            .collect()
    };

    let mut child = Command::new(env!("CARGO_BIN_EXE_ansim"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data"])
        .arg(dir.path())
        // Snapshots every few hundred decisions, so recovery exercises snapshot plus replay.
        .env("ANSIM_SNAPSHOT_EVERY", "300")
        .env("ANSIM_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.trim().strip_prefix("listening on http://").unwrap_or_else(|| panic!("unexpected: {line:?}"));
    let addr: std::net::SocketAddr = addr.parse().unwrap();

    let requests = ansim::load::simulated_requests(&keys, 200_000, 7).unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let load = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || ansim::load::run(&[addr], requests, 16, Duration::from_secs(60), stop))
    };
    // Let it run under load for a while and until snapshots were saved for several affiliates
    // (so recovery exercises snapshot plus replay however busy the machine is), then kill it
    // without warning.
    let db =
        rusqlite::Connection::open_with_flags(dir.path().join("ansim.db"), rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY)
            .unwrap();
    let started = std::time::Instant::now();
    loop {
        std::thread::sleep(Duration::from_millis(100));
        let saved: i64 = db.query_row("SELECT COUNT(*) FROM feature_snapshot", [], |r| r.get(0)).unwrap_or(0);
        let busy_enough = saved >= 3 && started.elapsed() >= Duration::from_millis(2_500);
        if busy_enough || started.elapsed() > Duration::from_secs(40) {
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let report = load.join().unwrap();
    assert!(report.ok > 200, "the load never got going: {} ok, {} failed", report.ok, report.failed);
    assert!(report.failed > 0 || report.ok == 200_000, "the kill must interrupt the load");

    // Restart on the same directory.
    let app = App::open(AppConfig::new(dir.path())).unwrap();
    let store = app.store();
    let mut by_affiliate: HashMap<&str, usize> = HashMap::new();
    for id in &report.acknowledged {
        // Ids are `load7-N`; find the affiliate that stored it.
        let found = affiliates.iter().find(|a| store.event_by_id(&AffiliateId(a.to_string()), id).unwrap().is_some());
        let a = found.unwrap_or_else(|| panic!("acknowledged event {id} was lost"));
        *by_affiliate.entry(a).or_default() += 1;
    }
    let stored: i64 = affiliates.iter().map(|a| store.event_count(&AffiliateId(a.to_string())).unwrap()).sum();
    assert!(stored as usize >= report.acknowledged.len());
    assert!(stored as usize <= report.acknowledged.len() + 16 * 2 + 1024, "at most the in-flight ones more");

    let snapshotted =
        affiliates.iter().filter(|a| !store.load_snapshot(&AffiliateId(a.to_string())).unwrap().is_empty());
    assert!(snapshotted.count() >= 3, "recovery must have started from snapshots, not only replay");

    // Recovered features == features rebuilt from every stored event, for every affiliate.
    let analyzer = detect::Analyzer::builtin();
    for a in affiliates {
        let id = AffiliateId(a.to_string());
        let snap = app.snapshot(&id).unwrap();
        let mut fresh = signals::FeatureState::new(&snap.features);
        let mut slots = vec![None; snap.features.len()];
        let mut probes = Vec::new();
        let mut after = 0;
        let mut last = None;
        loop {
            let page = store.events_after(&id, after, 5_000).unwrap();
            for r in &page {
                let mut e = domain::Event::from_json(&r.event_json, None).unwrap();
                // Features may read a message's analysis: rebuild it as the app does.
                analyzer.enrich(&mut e);
                fresh.observe(&snap.features, &e, &mut slots);
                after = r.seq;
                if r.seq % 97 == 0 {
                    probes.push(e.clone());
                }
                last = Some(e);
            }
            if page.len() < 5_000 {
                break;
            }
        }
        // The last event too: an affiliate with little traffic may have fewer than 97.
        probes.extend(last);
        assert!(!probes.is_empty(), "{a}: nothing stored");
        for p in &probes {
            let recovered = app.peek_features(&id, p).unwrap();
            let mut want = vec![None; snap.features.len()];
            fresh.peek(&snap.features, p, &mut want);
            let got: Vec<Option<i64>> = recovered.iter().map(|(_, v)| *v).collect();
            assert_eq!(got, want, "{a}: recovered features differ for probe {}", p.id);
        }
    }
    eprintln!(
        "crash test: {} acknowledged before SIGKILL, {stored} stored, per affiliate {by_affiliate:?}",
        report.acknowledged.len()
    );
}
