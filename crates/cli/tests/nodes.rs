//! Several `ansim serve` nodes on one PostgreSQL and one Redis, as behind a load balancer:
//! transfers of one subject spread over two nodes add up in the velocity features; the same
//! event id sent to both nodes at once is decided once and both answer with that decision; many
//! events sent to both at once are numbered 1..n by the store with no gap or repeat. Needs
//! `ANSIM_TEST_POSTGRES` and `ANSIM_TEST_REDIS` (which `.ci/run` sets); skipped with a printed
//! reason without them. Each run uses a schema and an affiliate of its own.

use std::io::{BufRead, Read, Write};
use std::process::{Child, Command, Output, Stdio};

struct Cluster {
    schema: String,
    url: String,
    store: String,
    redis: String,
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
        let (Ok(url), Ok(redis)) = (std::env::var("ANSIM_TEST_POSTGRES"), std::env::var("ANSIM_TEST_REDIS")) else {
            eprintln!(
                "skipping {test}: ANSIM_TEST_POSTGRES and ANSIM_TEST_REDIS are not both set (addresses such as \
                 postgres://postgres@127.0.0.1:5432/test and redis://127.0.0.1:6379)"
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
            affiliate: format!("pay{}{n}", std::process::id()),
            key: String::new(),
            dir: tempfile::tempdir().unwrap(),
            nodes: Vec::new(),
        };
        let first = c.data(0);
        let o = ansim(&["affiliates", "add", &c.affiliate, "--data", &first], &c);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let o = ansim(&["keys", "create", "--data", &first, "--affiliate", &c.affiliate], &c);
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
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(
        s,
        "POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn transfer(id: &str, subject: &str) -> String {
    let at = domain::Timestamp(app::now_ms()).to_kst_rfc3339();
    format!(
        r#"{{"id":"{id}","kind":"transfer","at":"{at}","subject":{{"id":"{subject}"}},"transfer":{{"amount":10000,"counterparty":{{"bank":"088","account":"110123456789"}}}}}}"#
    )
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
