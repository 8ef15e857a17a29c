//! Several `ansim serve` nodes on one PostgreSQL, one Redis and one NATS, as behind a load
//! balancer: transfers of one subject spread over two nodes add up in the velocity features;
//! the same event id sent to both nodes at once is decided once and both answer with that
//! decision; many events sent to both at once are numbered 1..n by the store with no gap or
//! repeat; a fraud confirmed on one node blocks on the other; a ruleset published on one node
//! decides on the other; a campaign created on one node enrols the users the other sees. Needs
//! `ANSIM_TEST_POSTGRES`, `ANSIM_TEST_REDIS` and `ANSIM_TEST_NATS` (which `.ci/run` sets);
//! skipped with a printed reason without them. Each run uses a schema and an affiliate of its
//! own.

use std::io::{BufRead, Read, Write};
use std::process::{Child, Command, Output, Stdio};

struct Cluster {
    schema: String,
    url: String,
    store: String,
    redis: String,
    nats: String,
    affiliate: String,
    key: String,
    dir: tempfile::TempDir,
    nodes: Vec<(Child, String)>,
}

fn ansim(args: &[&str], c: &Cluster) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ansim")).args(args).env("ANSIM_STORE", &c.store).output().unwrap()
}

impl Cluster {
    /// A fresh schema and affiliate with a key, or `None` (reason printed) without services.
    fn new(test: &str) -> Option<Cluster> {
        let (Ok(url), Ok(redis), Ok(nats)) =
            (std::env::var("ANSIM_TEST_POSTGRES"), std::env::var("ANSIM_TEST_REDIS"), std::env::var("ANSIM_TEST_NATS"))
        else {
            eprintln!(
                "skipping {test}: ANSIM_TEST_POSTGRES, ANSIM_TEST_REDIS and ANSIM_TEST_NATS are not all set (addresses \
                 such as postgres://postgres@127.0.0.1:5432/test, redis://127.0.0.1:6379, nats://127.0.0.1:4222)"
            );
            return None;
        };
        let n = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_nanos() % 1_000_000_000;
        let schema = format!("ansim_nodes_{test}_{}_{n}", std::process::id());
        let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("the test server answers");
        admin.batch_execute(&format!("CREATE SCHEMA {schema}")).unwrap();
        let sep = if url.contains('?') { '&' } else { '?' };
        let store = format!("{url}{sep}options=-c%20search_path%3D{schema}");
        let mut c = Cluster {
            schema,
            url,
            store,
            redis,
            nats,
            affiliate: format!("pay{}{n}", std::process::id()),
            key: String::new(),
            dir: tempfile::tempdir().unwrap(),
            nodes: Vec::new(),
        };
        let first = c.data(0);
        let o = ansim(&["affiliates", "add", &c.affiliate, "--data", &first], &c);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let o = ansim(
            &[
                "keys",
                "create",
                "--data",
                &first,
                "--affiliate",
                &c.affiliate,
                "--scope",
                "decide",
                "--scope",
                "rules:write",
            ],
            &c,
        );
        c.key = String::from_utf8(o.stdout).unwrap().trim().to_string();
        assert!(c.key.starts_with("ak_"), "{}", c.key);
        Some(c)
    }

    /// Node `i`'s own data directory (its lock); the group key is the first node's file.
    fn data(&self, i: usize) -> String {
        self.dir.path().join(format!("node{i}")).to_str().unwrap().to_string()
    }

    fn start(&mut self, n: usize) {
        let key_file = std::path::Path::new(&self.data(0)).join("group.key");
        for i in 0..n {
            let mut child = Command::new(env!("CARGO_BIN_EXE_ansim"))
                .args(["serve", "--listen", "127.0.0.1:0", "--data", &self.data(i)])
                .env("ANSIM_STORE", &self.store)
                .env("ANSIM_REDIS", &self.redis)
                .env("ANSIM_NATS", &self.nats)
                .env("ANSIM_GROUP_KEY_FILE", &key_file)
                .env("ANSIM_LOG", "warn")
                .stdout(Stdio::piped())
                .stderr(Stdio::inherit())
                .spawn()
                .unwrap();
            let mut line = String::new();
            std::io::BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
            let addr = line.trim().strip_prefix("listening on http://").expect("the node says where it listens");
            self.nodes.push((child, addr.to_string()));
        }
    }

    fn addr(&self, i: usize) -> &str {
        &self.nodes[i].1
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (child, _) in &mut self.nodes {
            let _ = child.kill();
            let _ = child.wait();
        }
        if let Ok(mut admin) = postgres::Client::connect(&self.url, postgres::NoTls) {
            let _ = admin.batch_execute(&format!("DROP SCHEMA {} CASCADE", self.schema));
        }
        // The run's feature state and claims (windows of months would otherwise stay that long).
        if let Ok(client) = redis::Client::open(self.redis.as_str())
            && let Ok(mut conn) = client.get_connection()
        {
            let keys: Vec<String> =
                redis::cmd("KEYS").arg(format!("ansim:*:{}:*", self.affiliate)).query(&mut conn).unwrap_or_default();
            if !keys.is_empty() {
                let _: redis::RedisResult<()> = redis::cmd("DEL").arg(keys).query(&mut conn);
            }
        }
    }
}

/// Posts one event; the status line and body.
fn post(addr: &str, key: &str, body: &str) -> String {
    request(addr, key, "/v1/events", "application/json", body)
}

/// One POST request; the whole response.
fn request(addr: &str, key: &str, path: &str, content_type: &str, body: &str) -> String {
    send(addr, key, "POST", path, content_type, body)
}

/// One request; the whole response.
fn send(addr: &str, key: &str, method: &str, path: &str, content_type: &str, body: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn transfer(id: &str, subject: &str) -> String {
    transfer_to(id, subject, 10_000, "110123456789")
}

fn transfer_to(id: &str, subject: &str, amount: i64, account: &str) -> String {
    transfer_at(id, subject, amount, account, app::now_ms())
}

fn transfer_at(id: &str, subject: &str, amount: i64, account: &str, at_ms: i64) -> String {
    let at = domain::Timestamp(at_ms).to_kst_rfc3339();
    format!(
        r#"{{"id":"{id}","kind":"transfer","at":"{at}","subject":{{"id":"{subject}"}},"transfer":{{"amount":{amount},"counterparty":{{"bank":"088","account":"{account}"}}}}}}"#
    )
}

#[test]
fn a_fraud_confirmed_on_one_node_blocks_on_the_other() {
    let Some(mut c) = Cluster::new("registry") else { return };
    c.start(2);
    let account = "3333-44-555555";
    let before = post(c.addr(1), &c.key, &transfer_to("r0", "payer", 10_000, account));
    assert!(before.starts_with("HTTP/1.1 200") && !before.contains("counterparty-confirmed-fraud"), "{before}");
    let report = format!(r#"{{"kind":"account","value":"088-{account}","typology":"mule","status":"confirmed"}}"#);
    let r = request(c.addr(0), &c.key, "/v1/indicators:report", "application/json", &report);
    assert!(r.starts_with("HTTP/1.1 200") && r.contains("danger"), "{r}");
    let reported = std::time::Instant::now();
    let shield = format!(r#"{{"indicators":[{{"kind":"account","value":"088-{account}"}}]}}"#);
    let seen = loop {
        let s = request(c.addr(1), &c.key, "/v1/shield", "application/json", &shield);
        if s.contains("\"danger\"") {
            break reported.elapsed();
        }
        assert!(reported.elapsed() < std::time::Duration::from_secs(5), "node B never saw the report: {s}");
        std::thread::sleep(std::time::Duration::from_millis(2));
    };
    eprintln!("a confirmation on node A was danger on node B's shield after {seen:?}");
    assert!(seen < std::time::Duration::from_millis(100), "within 100 ms: {seen:?}");
    let after = post(c.addr(1), &c.key, &transfer_to("r1", "payer", 10_000, account));
    assert!(after.contains("counterparty-confirmed-fraud") && after.contains("\"block\""), "{after}");
}

#[test]
fn a_ruleset_published_on_one_node_decides_on_the_other() {
    let Some(mut c) = Cluster::new("ruleset") else { return };
    c.start(2);
    let sample = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../test_data/rulesets/sample.toml"),
    )
    .unwrap();
    let rule = "\n[[rule]]\nid = \"odd-amount\"\nwhen = \"event.kind == 'transfer' && event.amount == 7777\"\n\
                verdict = \"block\"\nscore = 90\nreason = { ko = \"시험 규칙\", en = \"A test rule.\" }\n";
    let before = post(c.addr(1), &c.key, &transfer_to("p0", "s", 7_777, "110123456789"));
    assert!(!before.contains("odd-amount"), "{before}");
    let published = request(c.addr(0), &c.key, "/v1/rulesets/publish", "application/toml", &format!("{sample}{rule}"));
    assert!(published.starts_with("HTTP/1.1 200"), "{published}");
    let started = std::time::Instant::now();
    loop {
        let after = post(
            c.addr(1),
            &c.key,
            &transfer_to(&format!("p-{}", started.elapsed().as_micros()), "s", 7_777, "110123456789"),
        );
        if after.contains("odd-amount") {
            assert!(after.contains("\"block\""), "{after}");
            break;
        }
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "node B never took the new ruleset: {after}");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
}

fn decision_id(response: &str) -> String {
    let body = &response[response.find("\r\n\r\n").expect("a body") + 4..];
    let v: serde_json::Value = serde_json::from_str(body).unwrap_or_else(|e| panic!("{e}: {response}"));
    v["decision_id"].as_str().unwrap_or_else(|| panic!("no decision id: {response}")).to_string()
}

#[test]
fn velocity_counts_add_up_across_nodes() {
    let Some(mut c) = Cluster::new("velocity") else { return };
    c.start(2);
    // The sample ruleset warns from the sixth transfer of a subject within an hour.
    let mut answers = Vec::new();
    for i in 0..6 {
        let r = post(c.addr(i % 2), &c.key, &transfer(&format!("v{i}"), "spread-out"));
        assert!(r.starts_with("HTTP/1.1 200"), "{r}");
        answers.push(r);
    }
    assert!(!answers[4].contains("transfer-velocity-1h"), "five transfers are not many: {}", answers[4]);
    assert!(
        answers[5].contains("transfer-velocity-1h") && answers[5].contains("\"features.transfers_1h\""),
        "the sixth, three on each node, is counted as the sixth: {}",
        answers[5]
    );
}

#[test]
fn one_event_sent_to_both_nodes_at_once_is_decided_once() {
    let Some(mut c) = Cluster::new("same_id") else { return };
    c.start(2);
    for round in 0..20 {
        let body = transfer(&format!("twice-{round}"), &format!("s{round}"));
        let (a, b) = std::thread::scope(|t| {
            let a = t.spawn(|| post(c.addr(0), &c.key, &body));
            let b = t.spawn(|| post(c.addr(1), &c.key, &body));
            (a.join().unwrap(), b.join().unwrap())
        });
        assert!(a.starts_with("HTTP/1.1 200") && b.starts_with("HTTP/1.1 200"), "round {round}:\n{a}\n{b}");
        assert_eq!(decision_id(&a), decision_id(&b), "round {round}: both nodes answer with one decision");
        let fresh = [&a, &b].iter().filter(|r| !r.contains("\"duplicate\":true")).count();
        assert_eq!(fresh, 1, "round {round}: exactly one node decided it:\n{a}\n{b}");
    }
    let mut admin = postgres::Client::connect(&c.url, postgres::NoTls).unwrap();
    let stored: i64 = admin.query_one(&format!("SELECT COUNT(*) FROM {}.event", c.schema), &[]).unwrap().get(0);
    assert_eq!(stored, 20, "each event stored once");
}

#[test]
fn events_sent_to_both_nodes_are_numbered_without_gaps() {
    let Some(mut c) = Cluster::new("numbering") else { return };
    c.start(2);
    std::thread::scope(|t| {
        for w in 0..8 {
            let c = &c;
            t.spawn(move || {
                for i in 0..25 {
                    let r = post(c.addr(w % 2), &c.key, &transfer(&format!("n{w}-{i}"), &format!("s{w}")));
                    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
                }
            });
        }
    });
    let mut admin = postgres::Client::connect(&c.url, postgres::NoTls).unwrap();
    let seqs: Vec<i64> = admin
        .query(&format!("SELECT seq FROM {}.event ORDER BY seq", c.schema), &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    assert_eq!(seqs, (1..=200).collect::<Vec<i64>>());
}

#[test]
fn an_unreachable_redis_stops_the_start_with_its_address() {
    let Some(c) = Cluster::new("unreachable") else { return };
    let o = Command::new(env!("CARGO_BIN_EXE_ansim"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data", &c.data(1)])
        .env("ANSIM_STORE", &c.store)
        .env("ANSIM_REDIS", "redis://127.0.0.1:1")
        .output()
        .unwrap();
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("Redis") && e.contains("127.0.0.1:1"), "{e}");
}

/// A private server process of the machine's own (`redis-server`), on `port` or a free one,
/// for tests that stop it; `None` (reason printed) where the program is not installed.
fn private_server(program: &str, port: Option<u16>, args: &dyn Fn(u16) -> Vec<String>) -> Option<(Child, u16)> {
    let port = port.unwrap_or_else(|| std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port());
    let child = match Command::new(program).args(args(port)).stdout(Stdio::null()).stderr(Stdio::null()).spawn() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("skipping: cannot start {program} ({e}); the test stops a server of its own");
            return None;
        }
    };
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(std::time::Instant::now() < deadline, "{program} did not start on port {port}");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    Some((child, port))
}

fn redis_args(port: u16) -> Vec<String> {
    ["--port", &port.to_string(), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        .iter()
        .map(|s| s.to_string())
        .collect()
}

fn get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

/// Polls `/healthz` until `want` appears in it (the dependencies are asked every second).
fn health_says(addr: &str, want: &str) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let h = get(addr, "/healthz");
        if h.contains(want) {
            return h;
        }
        assert!(std::time::Instant::now() < deadline, "/healthz never said {want}: {h}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn a_node_whose_redis_dies_holds_money_and_keeps_serving() {
    let Some(mut c) = Cluster::new("redis_dies") else { return };
    let Some((mut redis, port)) = private_server("redis-server", None, &redis_args) else { return };
    c.redis = format!("redis://127.0.0.1:{port}");
    c.start(1);
    let ok = post(c.addr(0), &c.key, &transfer("d0", "calm"));
    assert!(ok.starts_with("HTTP/1.1 200") && ok.contains("\"allow\""), "{ok}");
    health_says(c.addr(0), r#""name":"redis","status":"ok""#);

    redis.kill().unwrap();
    redis.wait().unwrap();
    for i in 1..=5 {
        let r = post(c.addr(0), &c.key, &transfer(&format!("d{i}"), "calm"));
        assert!(r.starts_with("HTTP/1.1 200"), "the node keeps answering: {r}");
        assert!(
            r.contains("\"hold\"") && r.contains("degraded.shared_features"),
            "money movement is held, and says why: {r}"
        );
    }
    let h = health_says(c.addr(0), r#""name":"redis","status":"down""#);
    assert!(h.contains(r#""status":"degraded""#), "{h}");

    // Back: decisions count again (the connection comes back by itself).
    let (mut again, _) = private_server("redis-server", Some(port), &redis_args).expect("restarts");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let r = post(c.addr(0), &c.key, &transfer(&format!("back-{}", deadline.elapsed().as_nanos()), "calm"));
        if !r.contains("degraded.shared_features") {
            assert!(r.starts_with("HTTP/1.1 200"), "{r}");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "never left the degraded mode: {r}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = again.kill();
    let _ = again.wait();
}

#[test]
fn a_node_killed_under_load_loses_no_acknowledged_decision() {
    let Some(mut c) = Cluster::new("kill9") else { return };
    c.start(2);
    let acknowledged = std::sync::Mutex::new(Vec::<String>::new());
    let b_after_kill = std::sync::atomic::AtomicUsize::new(0);
    let killed = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|t| {
        for w in 0..6 {
            let (c, acknowledged, killed, b_after_kill) = (&c, &acknowledged, &killed, &b_after_kill);
            t.spawn(move || {
                for i in 0..150 {
                    let node = (w + i) % 2;
                    if node == 0 && killed.load(std::sync::atomic::Ordering::SeqCst) {
                        continue;
                    }
                    let id = format!("k{w}-{i}");
                    // A connection to a killed node fails or gets no answer: not acknowledged.
                    let Ok(mut s) = std::net::TcpStream::connect(c.addr(node)) else { continue };
                    let body = transfer(&id, &format!("s{w}"));
                    let sent = write!(
                        s,
                        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                        c.key,
                        body.len()
                    );
                    let mut out = String::new();
                    if sent.is_ok() && s.read_to_string(&mut out).is_ok() && out.starts_with("HTTP/1.1 200") {
                        acknowledged.lock().unwrap().push(id);
                        if node == 1 && killed.load(std::sync::atomic::Ordering::SeqCst) {
                            b_after_kill.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                        }
                    }
                }
            });
        }
        std::thread::sleep(std::time::Duration::from_millis(700));
        // SIGKILL: no chance to flush anything.
        let node_a = &c.nodes[0].0;
        let _ = Command::new("kill").args(["-9", &node_a.id().to_string()]).status();
        killed.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let acknowledged = acknowledged.into_inner().unwrap();
    assert!(b_after_kill.load(std::sync::atomic::Ordering::SeqCst) > 50, "node B kept serving after A died");
    let mut admin = postgres::Client::connect(&c.url, postgres::NoTls).unwrap();
    let stored: std::collections::HashSet<String> = admin
        .query(&format!("SELECT event_id FROM {}.event", c.schema), &[])
        .unwrap()
        .iter()
        .map(|r| r.get(0))
        .collect();
    let lost: Vec<&String> = acknowledged.iter().filter(|id| !stored.contains(*id)).collect();
    assert!(lost.is_empty(), "{} of {} acknowledged decisions were lost: {lost:?}", lost.len(), acknowledged.len());
    eprintln!(
        "{} acknowledged, all stored; node B answered {} after the kill",
        acknowledged.len(),
        b_after_kill.into_inner()
    );
}

#[test]
fn a_node_whose_nats_dies_keeps_deciding_and_catches_up() {
    let Some(mut c) = Cluster::new("nats_dies") else { return };
    let store = tempfile::tempdir().unwrap();
    let sd = store.path().to_str().unwrap().to_string();
    let nats_args = |port: u16| -> Vec<String> {
        ["-a", "127.0.0.1", "-p", &port.to_string(), "-js", "-sd", &sd].iter().map(|s| s.to_string()).collect()
    };
    let Some((mut nats, port)) = private_server("nats-server", None, &nats_args) else { return };
    c.nats = format!("nats://127.0.0.1:{port}");
    c.start(2);
    health_says(c.addr(0), r#""name":"nats","status":"ok""#);
    nats.kill().unwrap();
    nats.wait().unwrap();
    let r = post(c.addr(0), &c.key, &transfer("n1", "calm"));
    assert!(r.starts_with("HTTP/1.1 200") && r.contains("\"allow\""), "decisions do not need NATS: {r}");
    health_says(c.addr(0), r#""name":"nats","status":"down""#);
    // A confirmation made while NATS is down is stored, and reaches node B once it is back.
    let account = "4444-55-666666";
    let report = format!(r#"{{"kind":"account","value":"088-{account}","typology":"mule","status":"confirmed"}}"#);
    let r = request(c.addr(0), &c.key, "/v1/indicators:report", "application/json", &report);
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let (mut back, _) = private_server("nats-server", Some(port), &nats_args).expect("restarts");
    let shield = format!(r#"{{"indicators":[{{"kind":"account","value":"088-{account}"}}]}}"#);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let s = request(c.addr(1), &c.key, "/v1/shield", "application/json", &shield);
        if s.contains("\"danger\"") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "node B never learnt of the confirmation: {s}");
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let _ = back.kill();
    let _ = back.wait();
}

/// Self-protection reads one payee history whichever node decides: a payee paid four days ago
/// through node A is known on node B (no delayed-transfer hold), and the day's cap to
/// undesignated accounts counts transfers made through both nodes.
#[test]
fn protection_sees_one_payee_history_across_nodes() {
    let Some(mut c) = Cluster::new("protection") else { return };
    c.start(2);
    let settings = r#"{"delayed_transfer":{"threshold":500000,"hours":3},"designated_accounts":{"accounts":[{"bank":"004","account":"111222333"}],"daily_cap":1000000}}"#;
    let r = send(c.addr(0), &c.key, "PUT", "/v1/subjects/guarded/protection", "application/json", settings);
    assert!(r.starts_with("HTTP/1.1 200"), "{r}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let r = send(c.addr(1), &c.key, "GET", "/v1/subjects/guarded/protection", "application/json", "");
        if r.contains("daily_cap") {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "node B never learnt the protection: {r}");
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    let payee = "110123456789";
    let four_days_ago = app::now_ms() - 96 * 3_600_000;
    let old = post(c.addr(0), &c.key, &transfer_at("h0", "guarded", 10_000, payee, four_days_ago));
    assert!(old.starts_with("HTTP/1.1 200") && !old.contains("protection."), "{old}");
    let known = post(c.addr(1), &c.key, &transfer_to("h1", "guarded", 600_000, payee));
    assert!(known.starts_with("HTTP/1.1 200"), "{known}");
    assert!(!known.contains("protection.delayed_transfer"), "the payee paid through node A is known on B: {known}");
    assert!(!known.contains("protection.designated_accounts"), "600,000 of 1,000,000: {known}");
    let over = post(c.addr(0), &c.key, &transfer_to("h2", "guarded", 600_000, payee));
    assert!(
        over.contains("protection.designated_accounts") && over.contains("\"block\""),
        "600,000 through B and 600,000 through A pass the day's cap: {over}"
    );
    // The blocked transfer took nothing of the day's cap: 400,000 are still left.
    let rest = post(c.addr(1), &c.key, &transfer_to("h3", "guarded", 400_000, payee));
    assert!(!rest.contains("protection.designated_accounts"), "{rest}");
}

#[test]
fn a_campaign_created_on_one_node_enrols_from_the_other() {
    let Some(mut c) = Cluster::new("campaign") else { return };
    c.start(2);
    let now = app::now_ms();
    let body = serde_json::json!({
        "id": "nodes", "name": "송금 전 확인", "segment": "event.kind == 'transfer'",
        "ko": { "title": "송금 전 확인", "body": "보내기 전에 확인하세요." },
        "en": { "title": "Check first", "body": "Check before you send." },
        "starts_at": domain::Timestamp(now - 3_600_000).to_kst_rfc3339(),
        "ends_at": domain::Timestamp(now + 3_600_000).to_kst_rfc3339(),
        "holdout_per_mille": 100
    });
    let made = request(c.addr(0), &c.key, "/v1/campaigns", "application/json", &body.to_string());
    assert!(made.starts_with("HTTP/1.1 201"), "{made}");
    let users = || {
        let v = send(c.addr(0), &c.key, "GET", "/v1/campaigns/nodes", "application/json", "");
        let json: serde_json::Value = serde_json::from_str(&v[v.find("\r\n\r\n").unwrap() + 4..]).unwrap();
        json["effect"]["treated"]["users"].as_u64().unwrap() + json["effect"]["control"]["users"].as_u64().unwrap()
    };
    // Node B learns of the campaign from node A (over NATS, within moments); it enrols from
    // its next decision after that.
    let started = std::time::Instant::now();
    while !send(c.addr(1), &c.key, "GET", "/v1/campaigns/nodes", "application/json", "").starts_with("HTTP/1.1 200") {
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "node B never learnt of the campaign");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    // Users seen only by node B are enrolled (by whichever node leads the outbox).
    for i in 0..5 {
        let sent = post(c.addr(1), &c.key, &transfer(&format!("cb-{i}"), &format!("s{i}")));
        assert!(sent.starts_with("HTTP/1.1 200"), "{sent}");
    }
    while users() < 5 {
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "node B never enrolled: {}", users());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // The same users seen by node A too, and a new one: each user once.
    for i in 0..6 {
        let sent = post(c.addr(0), &c.key, &transfer(&format!("ca-{i}"), &format!("s{i}")));
        assert!(sent.starts_with("HTTP/1.1 200"), "{sent}");
    }
    while users() < 6 {
        assert!(started.elapsed() < std::time::Duration::from_secs(10), "node A never enrolled s5: {}", users());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(1_200));
    assert_eq!(users(), 6, "nobody enrolled twice");
}
