//! ansim over HTTP: the API over [`app::App`] ([`api`]), its wire types ([`wire`]) and its one
//! error type ([`error::ApiError`]), the report channel and case API ([`reports`]), webhook
//! delivery of follow-up actions ([`webhook`]), the live page ([`live`]) and Prometheus metrics
//! ([`metrics`]). The command line (`ansim`, crate `cli`) starts it; nothing here parses
//! arguments or reads configuration files.
//!
//! Only this crate knows the wire format. Tests start the real server with [`serve`] on port 0
//! and talk to it over HTTP.

pub mod api;
pub mod backtest;
pub mod campaigns;
pub mod conn;
pub mod console;
pub mod contract;
pub mod error;
mod extract;
pub mod html;
pub mod import;
pub mod live;
pub mod metrics;
pub mod reports;
pub mod trends;
pub mod webhook;
pub mod wire;
pub mod yearly;

use app::{App, AppError, Decided};
use domain::{AffiliateId, Event};
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

/// How the HTTP server behaves.
#[derive(Debug, Clone)]
pub struct Options {
    /// Most events in one `POST /v1/events:batch`.
    pub max_batch_events: usize,
    /// A request taking longer is answered `408` (its decision, if any, still commits: retry
    /// with the same event id).
    pub request_timeout: Duration,
    /// Serve the live page at `/`. It shows recent held and blocked events of every affiliate,
    /// so it is for the demo and for operators, not for a network that affiliates reach.
    pub live_page: bool,
    /// Serve `/metrics` without a key (every affiliate's rule hits are in it): only where the
    /// listener is reached by the scraper alone. Otherwise it needs the group's admin key.
    pub open_metrics: bool,
    /// Connection cap and timeouts.
    pub limits: conn::Limits,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            max_batch_events: 1_000,
            request_timeout: Duration::from_secs(10),
            live_page: false,
            open_metrics: false,
            limits: conn::Limits::default(),
        }
    }
}

/// The server's shared state: the application plus what only the HTTP side keeps.
pub struct Server {
    /// The application.
    pub app: Arc<App>,
    /// Recent activity for the live page.
    pub live: live::Live,
    /// Request counters for `/metrics`.
    pub http: Arc<metrics::HttpMetrics>,
    /// Connection counters for `/metrics`.
    pub conns: Arc<conn::ConnMetrics>,
    /// Behaviour.
    pub options: Options,
    /// Rate limits of the public report channel.
    pub reports: reports::RateLimits,
}

impl Server {
    /// A server over `app`.
    pub fn new(app: Arc<App>, options: Options) -> Arc<Server> {
        Arc::new(Server {
            app,
            live: live::Live::default(),
            http: Arc::default(),
            conns: Arc::default(),
            options,
            reports: Default::default(),
        })
    }

    /// Decides on one event and records it for the live page.
    pub async fn decide(&self, affiliate: &AffiliateId, event: Event) -> Result<Decided, AppError> {
        let seen = live::Seen::of(&event);
        let d = self.app.decide(affiliate, event).await?;
        self.live.record(seen, &d);
        Ok(d)
    }

    /// Decides on several events in order and records them for the live page.
    pub async fn decide_batch(&self, affiliate: &AffiliateId, events: Vec<Event>) -> Vec<Result<Decided, AppError>> {
        let seen: Vec<live::Seen> = events.iter().map(live::Seen::of).collect();
        let out = self.app.decide_batch(affiliate, events).await;
        for (s, d) in seen.into_iter().zip(&out) {
            if let Ok(d) = d {
                self.live.record(s, d);
            }
        }
        out
    }
}

/// Serves the API on `listener` until `shutdown` completes, then finishes the requests in
/// flight and returns. The caller calls [`App::shutdown`] afterwards.
pub async fn serve(
    server: Arc<Server>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    serve_with(server, listener, None, shutdown).await
}

/// [`serve`] with more routes beside the API (the demo's webhook receiver).
pub async fn serve_with(
    server: Arc<Server>,
    listener: tokio::net::TcpListener,
    extra: Option<axum::Router>,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let mut router = api::router(&server);
    if let Some(r) = extra {
        router = router.merge(r);
    }
    // Every request carries the client address: it feeds the public channel's rate limits.
    conn::serve(listener, router, server.options.limits, Arc::clone(&server.conns), shutdown).await
}

/// The background work of a serving process until `stop` turns true: hold and block decisions
/// in the outbox become case work and users seen in a campaign's segment are enrolled (the
/// treated ones' notices become `campaign.notice` actions), new waves in the trends become
/// `trend.alert` actions and emerging campaigns by indicator `trend.cluster` actions, and
/// follow-up actions are delivered to the affiliates' webhooks. Returns when all have stopped.
pub async fn workers(app: Arc<App>, stop: tokio::sync::watch::Receiver<bool>) {
    let outbox = {
        let (app, mut stop) = (Arc::clone(&app), stop.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_millis(500));
            while next_tick(&mut tick, &mut stop).await {
                let a = Arc::clone(&app);
                match tokio::task::spawn_blocking(move || a.process_outbox(512)).await {
                    Ok(Err(e)) => tracing::warn!(error = %e, "outbox processing failed; will retry"),
                    Err(e) => tracing::warn!(error = %e, "outbox task failed"),
                    Ok(Ok(_)) => {}
                }
            }
        })
    };
    let probe = {
        let (app, mut stop) = (Arc::clone(&app), stop.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(1));
            while next_tick(&mut tick, &mut stop).await {
                app.probe_dependencies().await;
            }
        })
    };
    // New waves in the trends and emerging campaigns by indicator go out to the subscribed
    // affiliates; every few minutes, since both are judged on whole days and their actions
    // are idempotent.
    let waves = {
        let (app, mut stop) = (Arc::clone(&app), stop.clone());
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(Duration::from_secs(300));
            while next_tick(&mut tick, &mut stop).await {
                let a = Arc::clone(&app);
                let announce = move || {
                    let now = app::now_ms();
                    a.announce_trend_alerts(now)?;
                    a.announce_clusters(now)
                };
                match tokio::task::spawn_blocking(announce).await {
                    Ok(Err(e)) => tracing::warn!(error = %e, "announcing waves failed; will retry"),
                    Err(e) => tracing::warn!(error = %e, "wave announcement task failed"),
                    Ok(Ok(_)) => {}
                }
            }
        })
    };
    let deliver = tokio::spawn(Arc::new(webhook::Deliverer::new(app)).run(stop));
    let _ = outbox.await;
    let _ = probe.await;
    let _ = waves.await;
    let _ = deliver.await;
}

/// Resolves on Ctrl-C or, on Unix, SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// Waits for the next tick of a worker's interval; `false` once `stop` is set (then the
/// worker returns). Every periodic worker (outbox, demo analyst) loops on it.
pub async fn next_tick(tick: &mut tokio::time::Interval, stop: &mut tokio::sync::watch::Receiver<bool>) -> bool {
    tokio::select! {
        _ = tick.tick() => {}
        _ = stop.changed() => {}
    }
    !*stop.borrow()
}
