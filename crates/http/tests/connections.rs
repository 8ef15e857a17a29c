//! Connection exhaustion from outside: more idle and half-sent sockets than the connection cap
//! must not stop authenticated decisions or `/healthz`; idle sockets and sockets that never
//! finish their headers are closed after the timeouts; `/metrics` counts what was closed.
//! Plain TCP sockets, as an attacker would hold them.

use ansim_http::conn::Limits;
use ansim_http::{Options, Server};
use app::{App, AppConfig, Scope};
use domain::AffiliateId;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};

const RULES: &str = "[ruleset]\nname = \"pay\"\nversion = 1\n";

async fn start(dir: &std::path::Path, limits: Limits) -> (SocketAddr, Arc<App>, tokio::sync::oneshot::Sender<()>) {
    let app = App::open(AppConfig::new(dir)).unwrap();
    app.ensure_affiliate(&AffiliateId("pay".into()), "Pay", RULES).unwrap();
    app.ensure_affiliate(&AffiliateId("group".into()), "Group", &RULES.replace("pay", "group")).unwrap();
    let options = Options { limits, ..Options::default() };
    let server = Server::new(Arc::clone(&app), options);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (stop, rx) = tokio::sync::oneshot::channel::<()>();
    tokio::spawn(ansim_http::serve(server, listener, async move {
        let _ = rx.await;
    }));
    (addr, app, stop)
}

/// One request on a new connection (`Connection: close`), answered as (status, body).
fn request(addr: SocketAddr, method: &str, path: &str, key: Option<&str>, body: &str) -> (u16, String) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let auth = key.map(|k| format!("Authorization: Bearer {k}\r\n")).unwrap_or_default();
    write!(
        s,
        "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let status = out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    let body = out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default();
    (status, body)
}

fn event(i: usize) -> String {
    format!(
        r#"{{"id":"conn-{i}","kind":"transfer","at":"2026-11-26T02:14:05+09:00","subject":{{"id":"u_{i}"}},"transfer":{{"amount":10000,"counterparty":{{"bank":"088","account":"110123456789"}}}}}}"#
    )
}

/// True once the peer closes `s` within `within` (end of file or a reset; anything it sends
/// first, such as a 408, is read past); false when the socket is still open then.
fn closed_by_peer(s: &mut TcpStream, within: Duration) -> bool {
    let deadline = Instant::now() + within;
    let mut buf = [0u8; 512];
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return false;
        }
        s.set_read_timeout(Some(left)).unwrap();
        match s.read(&mut buf) {
            Ok(0) => return true,
            Ok(_) => continue,
            Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                return false;
            }
            Err(_) => return true,
        }
    }
}

fn metric(addr: SocketAddr, key: &str, line_start: &str) -> u64 {
    let (status, body) = request(addr, "GET", "/metrics", Some(key), "");
    assert_eq!(status, 200, "{body}");
    body.lines()
        .find(|l| l.starts_with(line_start))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {line_start} in /metrics"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_and_half_sent_sockets_beyond_the_cap_do_not_stop_decisions() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_connections: 32,
        idle_timeout: Duration::from_secs(30),
        header_read_timeout: Duration::from_secs(30),
    };
    let (addr, app, _stop) = start(dir.path(), limits).await;
    let pay = app.create_key(&AffiliateId("pay".into()), &[Scope::Decide]).unwrap();
    let admin = app.create_key(&AffiliateId("group".into()), &[Scope::Admin]).unwrap();
    tokio::task::spawn_blocking(move || {
        // Three times the cap: half send nothing, half stop in the middle of their headers.
        let mut held = Vec::new();
        for i in 0..96 {
            let mut s = TcpStream::connect(addr).unwrap();
            if i % 2 == 1 {
                s.write_all(b"POST /v1/events HTTP/1.1\r\nHost: x\r\nContent-Le").unwrap();
            }
            held.push(s);
        }
        std::thread::sleep(Duration::from_millis(200));
        for i in 0..20 {
            let (status, body) = request(addr, "POST", "/v1/events", Some(&pay), &event(i));
            assert_eq!(status, 200, "decision {i} with {} idle sockets held: {body}", held.len());
            assert!(body.contains("\"verdict\""), "{body}");
        }
        assert_eq!(request(addr, "GET", "/healthz", None, "").0, 200);
        assert!(metric(addr, &admin, "ansim_http_connections_open ") <= 32);
        assert!(metric(addr, &admin, "ansim_http_connections_closed_total{reason=\"cap\"} ") >= 64);
        // The earliest idle sockets were the ones closed to make room.
        let mut first = held.swap_remove(0);
        assert!(closed_by_peer(&mut first, Duration::from_secs(5)), "the longest-idle socket is still open");
    })
    .await
    .unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_sockets_and_slow_headers_are_closed_after_the_timeouts() {
    let dir = tempfile::tempdir().unwrap();
    let limits = Limits {
        max_connections: 1_000,
        idle_timeout: Duration::from_secs(1),
        header_read_timeout: Duration::from_secs(1),
    };
    let (addr, app, _stop) = start(dir.path(), limits).await;
    let admin = app.create_key(&AffiliateId("group".into()), &[Scope::Admin]).unwrap();
    tokio::task::spawn_blocking(move || {
        let start = Instant::now();
        let mut silent = TcpStream::connect(addr).unwrap();
        let mut half = TcpStream::connect(addr).unwrap();
        half.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ").unwrap();
        // A keep-alive client that made one request and then went quiet.
        let mut kept = TcpStream::connect(addr).unwrap();
        kept.write_all(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let mut buf = [0u8; 512];
        kept.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        assert!(kept.read(&mut buf).unwrap() > 0, "keep-alive request answered");
        for (name, s) in [("silent", &mut silent), ("half-sent headers", &mut half), ("idle keep-alive", &mut kept)] {
            assert!(closed_by_peer(s, Duration::from_secs(8)), "{name} socket still open after {:?}", start.elapsed());
        }
        assert!(start.elapsed() < Duration::from_secs(8));
        assert!(metric(addr, &admin, "ansim_http_connections_closed_total{reason=\"timeout\"} ") >= 3);
    })
    .await
    .unwrap();
}
