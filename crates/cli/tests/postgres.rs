//! `ansim` on PostgreSQL: with `store = "postgres://…"` (here `ANSIM_STORE`) the commands and
//! the server keep everything in the database, not in the data directory. An affiliate and a key
//! made by the command line decide over HTTP; after a restart the same event id is the stored
//! decision (idempotency held by the database). Needs `ANSIM_TEST_POSTGRES`, which `.ci/run`
//! sets; skipped with a printed reason without it. Each run uses a schema of its own.

use std::io::{BufRead, Read, Write};
use std::process::{Command, Output};

fn run(args: &[&str], store: &str) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ansim")).args(args).env("ANSIM_STORE", store).output().unwrap()
}

fn post_event(addr: &str, key: &str, id: &str, at: &str) -> String {
    let body = format!(
        r#"{{"id":"{id}","kind":"transfer","at":"{at}","subject":{{"id":"u1"}},"transfer":{{"amount":50000,"counterparty":{{"bank":"088","account":"110123456789"}}}}}}"#
    );
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

fn serve(data: &str, store: &str) -> (std::process::Child, String) {
    let mut server = Command::new(env!("CARGO_BIN_EXE_ansim"))
        .args(["serve", "--listen", "127.0.0.1:0", "--data", data])
        .env("ANSIM_STORE", store)
        .env("ANSIM_LOG", "warn")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufReader::new(server.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let addr = line.trim().strip_prefix("listening on http://").expect("the server says where it listens").to_string();
    (server, addr)
}

#[test]
fn a_node_on_postgres_keeps_its_record_in_the_database() {
    let Ok(url) = std::env::var("ANSIM_TEST_POSTGRES") else {
        eprintln!(
            "skipping: ANSIM_TEST_POSTGRES is not set (a PostgreSQL address such as postgres://postgres@127.0.0.1:5432/test)"
        );
        return;
    };
    let schema = format!("ansim_serve_{}", std::process::id());
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("the test server answers");
    admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let store = format!("{url}{sep}options=-c%20search_path%3D{schema}");

    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let data_s = data.to_str().unwrap();
    assert!(run(&["affiliates", "add", "pay", "--data", data_s], &store).status.success());
    let key = String::from_utf8(run(&["keys", "create", "--data", data_s, "--affiliate", "pay"], &store).stdout)
        .unwrap()
        .trim()
        .to_string();
    assert!(key.starts_with("ak_"), "{key}");
    assert!(!data.join("ansim.db").exists(), "nothing went to the embedded store");
    let keys_in_db: i64 = admin.query_one(&format!("SELECT COUNT(*) FROM {schema}.api_key"), &[]).unwrap().get(0);
    assert_eq!(keys_in_db, 1);

    let at = domain::Timestamp(app::now_ms()).to_kst_rfc3339();
    let (mut server, addr) = serve(data_s, &store);
    let first = post_event(&addr, &key, "pg-1", &at);
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(first.starts_with("HTTP/1.1 200") && !first.contains("\"duplicate\":true"), "{first}");

    let (mut server, addr) = serve(data_s, &store);
    let again = post_event(&addr, &key, "pg-1", &at);
    server.kill().unwrap();
    server.wait().unwrap();
    assert!(again.starts_with("HTTP/1.1 200") && again.contains("\"duplicate\":true"), "{again}");
    let events: i64 = admin.query_one(&format!("SELECT COUNT(*) FROM {schema}.event"), &[]).unwrap().get(0);
    assert_eq!(events, 1);
    admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).unwrap();
}

#[test]
fn a_store_that_is_not_postgres_is_refused_by_name() {
    let dir = tempfile::tempdir().unwrap();
    let o = run(&["affiliates", "add", "pay", "--data", dir.path().to_str().unwrap()], "mysql://h/db");
    assert!(!o.status.success());
    let e = String::from_utf8_lossy(&o.stderr);
    assert!(e.contains("store") && e.contains("mysql://h/db"), "{e}");
}

#[test]
fn migrate_prepares_an_empty_database_once() {
    let Ok(url) = std::env::var("ANSIM_TEST_POSTGRES") else {
        eprintln!("skipping: ANSIM_TEST_POSTGRES is not set");
        return;
    };
    let schema = format!("ansim_migrate_{}", std::process::id());
    let mut admin = postgres::Client::connect(&url, postgres::NoTls).expect("the test server answers");
    admin.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE; CREATE SCHEMA {schema}")).unwrap();
    let sep = if url.contains('?') { '&' } else { '?' };
    let store = format!("{url}{sep}options=-c%20search_path%3D{schema}");
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().to_str().unwrap();
    for _ in 0..2 {
        let o = run(&["migrate", "--data", data], &store);
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        let out = String::from_utf8_lossy(&o.stdout);
        let version = format!("PostgreSQL store at schema version {}", store_postgres::SCHEMA_VERSION);
        assert!(out.contains(&version), "{out}");
    }
    let tables: i64 = admin
        .query_one("SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = $1", &[&schema])
        .unwrap()
        .get(0);
    assert!(tables >= 10, "the schema's tables exist: {tables}");
    assert!(!dir.path().join("ansim.db").exists(), "nothing went to the embedded store");
    admin.batch_execute(&format!("DROP SCHEMA {schema} CASCADE")).unwrap();
}
