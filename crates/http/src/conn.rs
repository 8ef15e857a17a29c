//! The listener: accepts TCP connections and serves HTTP/1.1 on each, with the limits an
//! exposed service needs so that idle or half-open sockets cannot starve it.
//!
//! - **Header-read timeout**: a connection whose next request's headers have not all arrived
//!   within [`Limits::header_read_timeout`] is closed (hyper's own timer, which runs from the
//!   accept and again after each response, so it also ends silent and idle keep-alive sockets).
//! - **Idle timeout**: a connection with no request in progress for [`Limits::idle_timeout`]
//!   — one that never sent anything, one stuck in half-sent headers, or a keep-alive
//!   connection left open — is closed by a reaper that looks once a second.
//! - **Connection cap**: at most [`Limits::max_connections`] open at once. At the cap, a new
//!   connection closes the connection that has been idle longest (as nginx reuses keep-alive
//!   connections when it runs out), so an attacker's idle sockets make room for real
//!   clients; only when every open connection is in the middle of a request is the new one
//!   refused. Either is logged (at most once every ten seconds, with counts) and counted in
//!   `/metrics` (`ansim_http_connections_open`, `ansim_http_connections_closed_total`).
//!
//! Shutdown stops accepting, lets requests in flight finish, and closes idle connections.

use axum::extract::ConnectInfo;
use hyper_util::rt::{TokioIo, TokioTimer};
use std::collections::HashMap;
use std::future::Future;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::task::{AbortHandle, JoinSet};

/// Connection limits.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Most connections open at once.
    pub max_connections: usize,
    /// Close a connection with no request in progress after this long.
    pub idle_timeout: Duration,
    /// Close a connection whose request headers take longer than this.
    pub header_read_timeout: Duration,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_connections: 4_096,
            idle_timeout: Duration::from_secs(60),
            header_read_timeout: Duration::from_secs(10),
        }
    }
}

/// Connection counters for `/metrics`.
#[derive(Debug, Default)]
pub struct ConnMetrics {
    /// Open now.
    pub open: AtomicU64,
    /// Accepted since start.
    pub accepted: AtomicU64,
    /// Closed by the idle or the header-read timeout.
    pub closed_idle: AtomicU64,
    /// Closed to make room for a new connection at the cap.
    pub closed_cap: AtomicU64,
    /// New connections refused at the cap (every open one was busy).
    pub refused: AtomicU64,
}

/// One open connection, as the reaper and the cap see it.
struct Conn {
    /// Requests in progress (0 or 1 on HTTP/1.1).
    busy: AtomicU64,
    /// Last request start or end (or the accept), ms since the listener started.
    last: AtomicU64,
}

/// The open connections, by number.
/// A connection's entry: its activity, its task, and the one-shot that asks it to finish
/// gracefully at shutdown (its own channel: polling a shared watch on every wake-up of every
/// connection took a lock shared by all of them, measurably on the request path).
struct Entry {
    conn: Arc<Conn>,
    abort: AbortHandle,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
}

struct Table {
    start: Instant,
    conns: Mutex<HashMap<u64, Entry>>,
    metrics: Arc<ConnMetrics>,
    /// When the cap was last logged, ms since start (0: never).
    logged: AtomicU64,
}

impl Table {
    fn now(&self) -> u64 {
        self.start.elapsed().as_millis() as u64
    }

    fn set_open(&self, n: usize) {
        self.metrics.open.store(n as u64, Relaxed);
    }

    /// Makes room for one more connection: `true` when there is room (possibly after closing
    /// the connection idle longest), `false` when every open connection is busy.
    fn make_room(&self, max: usize) -> bool {
        let mut conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        if conns.len() < max {
            return true;
        }
        let victim = conns
            .iter()
            .filter(|(_, e)| e.conn.busy.load(Relaxed) == 0)
            .min_by_key(|(_, e)| e.conn.last.load(Relaxed))
            .map(|(&id, _)| id);
        let room = match victim.and_then(|id| conns.remove(&id)) {
            Some(e) => {
                e.abort.abort();
                self.metrics.closed_cap.fetch_add(1, Relaxed);
                true
            }
            None => {
                self.metrics.refused.fetch_add(1, Relaxed);
                false
            }
        };
        self.set_open(conns.len());
        drop(conns);
        self.log_cap(max);
        room
    }

    fn log_cap(&self, max: usize) {
        let now = self.now().max(1);
        let last = self.logged.load(Relaxed);
        if (last == 0 || now.saturating_sub(last) >= 10_000)
            && self.logged.compare_exchange(last, now, Relaxed, Relaxed).is_ok()
        {
            tracing::warn!(
                max_connections = max,
                closed_idle_for_room = self.metrics.closed_cap.load(Relaxed),
                refused = self.metrics.refused.load(Relaxed),
                "connection cap reached: closing the longest-idle connections (refusing new ones when all are busy)"
            );
        }
    }

    /// Closes connections idle longer than `timeout`.
    fn reap(&self, timeout: Duration) {
        let now = self.now();
        let limit = timeout.as_millis() as u64;
        let mut conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        let before = conns.len();
        conns.retain(|_, e| {
            let idle = e.conn.busy.load(Relaxed) == 0 && now.saturating_sub(e.conn.last.load(Relaxed)) > limit;
            if idle {
                e.abort.abort();
            }
            !idle
        });
        let closed = before - conns.len();
        self.set_open(conns.len());
        drop(conns);
        if closed > 0 {
            self.metrics.closed_idle.fetch_add(closed as u64, Relaxed);
            tracing::debug!(closed, "closed idle connections");
        }
    }

    fn remove(&self, id: u64) {
        let mut conns = self.conns.lock().unwrap_or_else(|p| p.into_inner());
        conns.remove(&id);
        self.set_open(conns.len());
    }
}

/// Removes its connection from the table when the connection's task ends or is aborted.
struct Leave(Arc<Table>, u64);

impl Drop for Leave {
    fn drop(&mut self) {
        self.0.remove(self.1);
    }
}

/// Marks a request in progress on its connection until dropped.
struct Busy(Arc<Table>, Arc<Conn>);

impl Busy {
    fn start(table: &Arc<Table>, conn: &Arc<Conn>) -> Busy {
        conn.busy.fetch_add(1, Relaxed);
        conn.last.store(table.now(), Relaxed);
        Busy(Arc::clone(table), Arc::clone(conn))
    }
}

impl Drop for Busy {
    fn drop(&mut self) {
        self.1.last.store(self.0.now(), Relaxed);
        self.1.busy.fetch_sub(1, Relaxed);
    }
}

/// Serves `router` on `listener` with `limits` until `shutdown` completes, then lets requests
/// in flight finish and returns. Every request carries the peer address as
/// `ConnectInfo<SocketAddr>`.
pub async fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    limits: Limits,
    metrics: Arc<ConnMetrics>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let table = Arc::new(Table {
        start: Instant::now(),
        conns: Mutex::new(HashMap::new()),
        metrics,
        logged: AtomicU64::new(0),
    });
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let reaper = {
        let (table, mut stop) = (Arc::clone(&table), stop_rx.clone());
        let every = (limits.idle_timeout / 4).clamp(Duration::from_millis(50), Duration::from_secs(1));
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            while crate::next_tick(&mut tick, &mut stop).await {
                table.reap(limits.idle_timeout);
            }
        })
    };
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new()).header_read_timeout(limits.header_read_timeout).keep_alive(true);
    let mut tasks = JoinSet::new();
    let mut next_id = 0u64;
    tokio::pin!(shutdown);
    loop {
        let (stream, addr) = tokio::select! {
            _ = &mut shutdown => break,
            r = listener.accept() => match r {
                Ok(x) => x,
                Err(e) => {
                    // Out of file descriptors or a connection reset before accept: wait a
                    // moment rather than spin, and keep serving the connections we have.
                    tracing::warn!(error = %e, "accept failed");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        while tasks.try_join_next().is_some() {}
        if !table.make_room(limits.max_connections.max(1)) {
            drop(stream);
            continue;
        }
        table.metrics.accepted.fetch_add(1, Relaxed);
        let _ = stream.set_nodelay(true);
        let id = next_id;
        next_id += 1;
        let conn = Arc::new(Conn { busy: AtomicU64::new(0), last: AtomicU64::new(table.now()) });
        let service = {
            let (table, conn, router) = (Arc::clone(&table), Arc::clone(&conn), router.clone());
            hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                let busy = Busy::start(&table, &conn);
                req.extensions_mut().insert(ConnectInfo(addr));
                let router = router.clone();
                async move {
                    let res = tower::ServiceExt::oneshot(router, req).await;
                    drop(busy);
                    res
                }
            })
        };
        let served = http.serve_connection(TokioIo::new(stream), service);
        let leave = Leave(Arc::clone(&table), id);
        let (stop_tx_one, mut stop) = tokio::sync::oneshot::channel::<()>();
        let metrics = Arc::clone(&table.metrics);
        // Hold the table's lock while registering so the reaper never sees a task without
        // its entry.
        let mut conns = table.conns.lock().unwrap_or_else(|p| p.into_inner());
        let abort = tasks.spawn(async move {
            let _leave = leave;
            tokio::pin!(served);
            tokio::select! {
                r = &mut served => match r {
                    // hyper's header timer: headers not complete in time, which on a new or
                    // keep-alive connection is also how an idle one usually ends.
                    Err(e) if e.is_timeout() => {
                        metrics.closed_idle.fetch_add(1, Relaxed);
                    }
                    Err(e) => tracing::debug!(error = %e, "connection ended with an error"),
                    Ok(()) => {}
                },
                _ = &mut stop => {
                    served.as_mut().graceful_shutdown();
                    let _ = served.await;
                }
            }
        });
        conns.insert(id, Entry { conn, abort, stop: Some(stop_tx_one) });
        table.set_open(conns.len());
    }
    drop(listener);
    let _ = stop_tx.send(true);
    for e in table.conns.lock().unwrap_or_else(|p| p.into_inner()).values_mut() {
        if let Some(stop) = e.stop.take() {
            let _ = stop.send(());
        }
    }
    let _ = reaper.await;
    while tasks.join_next().await.is_some() {}
    Ok(())
}
