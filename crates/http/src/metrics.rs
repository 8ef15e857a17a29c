//! `/metrics`: open, accepted and server-closed connections, request counts by route, method and status, request latency histograms by route
//! and method, and the application's decision and commit counters, in the Prometheus text
//! exposition format (version 0.0.4). Written by hand: a few maps behind one mutex cost less
//! than a metrics framework, and the output format is small and stable.

use app::Metrics;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::Response;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::Ordering::Relaxed;
use std::sync::{Arc, Mutex};
use std::time::Instant;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 14] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];

#[derive(Default)]
struct Histogram {
    /// Observations at or below each bound (not cumulative; summed when rendered).
    counts: [u64; BUCKETS.len()],
    /// Observations above the last bound.
    over: u64,
    sum: f64,
}

impl Histogram {
    fn observe(&mut self, secs: f64) {
        match BUCKETS.iter().position(|b| secs <= *b) {
            Some(i) => self.counts[i] += 1,
            None => self.over += 1,
        }
        self.sum += secs;
    }
}

#[derive(Default)]
struct Inner {
    /// (route, method, status) → requests.
    requests: BTreeMap<(String, String, u16), u64>,
    /// (route, method) → latency.
    latency: BTreeMap<(String, String), Histogram>,
}

/// HTTP request counters. The route is the matched route template (`/v1/decisions/{id}`),
/// never the raw path, so the number of series stays bounded.
#[derive(Default)]
pub struct HttpMetrics {
    inner: Mutex<Inner>,
}

impl HttpMetrics {
    fn observe(&self, route: &str, method: &str, status: u16, secs: f64) {
        let mut g = self.inner.lock().unwrap_or_else(|p| p.into_inner());
        *g.requests.entry((route.to_string(), method.to_string(), status)).or_default() += 1;
        g.latency.entry((route.to_string(), method.to_string())).or_default().observe(secs);
    }
}

/// Middleware: counts and times every request.
pub async fn track(State(m): State<Arc<HttpMetrics>>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map_or("unmatched", |p| p.as_str()).to_string();
    let method = req.method().as_str().to_string();
    let start = Instant::now();
    let res = next.run(req).await;
    m.observe(&route, &method, res.status().as_u16(), start.elapsed().as_secs_f64());
    res
}

/// Escapes a label value.
fn label(v: &str) -> String {
    v.replace('\\', "\\\\").replace('"', "\\\"").replace('\n', "\\n")
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}\n# TYPE {name} {kind}");
}

/// The whole exposition.
pub fn render(http: &HttpMetrics, conns: &crate::conn::ConnMetrics, app: &Metrics) -> String {
    let mut out = String::with_capacity(4096);
    header(&mut out, "ansim_http_connections_open", "gauge", "TCP connections open now.");
    let _ = writeln!(out, "ansim_http_connections_open {}", conns.open.load(Relaxed));
    header(&mut out, "ansim_http_connections_accepted_total", "counter", "TCP connections accepted.");
    let _ = writeln!(out, "ansim_http_connections_accepted_total {}", conns.accepted.load(Relaxed));
    header(
        &mut out,
        "ansim_http_connections_closed_total",
        "counter",
        "Connections closed by the server: timeout (idle, or headers not complete in time), or idle longest when the cap was reached; refused: new connections at the cap while every open one was busy.",
    );
    for (reason, n) in [
        ("timeout", conns.closed_idle.load(Relaxed)),
        ("cap", conns.closed_cap.load(Relaxed)),
        ("refused", conns.refused.load(Relaxed)),
    ] {
        let _ = writeln!(out, "ansim_http_connections_closed_total{{reason=\"{reason}\"}} {n}");
    }
    {
        let g = http.inner.lock().unwrap_or_else(|p| p.into_inner());
        header(&mut out, "ansim_http_requests_total", "counter", "HTTP requests by route, method and status.");
        for ((route, method, status), n) in &g.requests {
            let _ = writeln!(
                out,
                "ansim_http_requests_total{{route=\"{}\",method=\"{method}\",status=\"{status}\"}} {n}",
                label(route)
            );
        }
        header(
            &mut out,
            "ansim_http_request_duration_seconds",
            "histogram",
            "HTTP request latency by route and method.",
        );
        for ((route, method), h) in &g.latency {
            let l = format!("route=\"{}\",method=\"{method}\"", label(route));
            let mut cum = 0;
            for (b, n) in BUCKETS.iter().zip(h.counts) {
                cum += n;
                let _ = writeln!(out, "ansim_http_request_duration_seconds_bucket{{{l},le=\"{b}\"}} {cum}");
            }
            cum += h.over;
            let _ = writeln!(out, "ansim_http_request_duration_seconds_bucket{{{l},le=\"+Inf\"}} {cum}");
            let _ = writeln!(out, "ansim_http_request_duration_seconds_sum{{{l}}} {}", h.sum);
            let _ = writeln!(out, "ansim_http_request_duration_seconds_count{{{l}}} {cum}");
        }
    }
    header(&mut out, "ansim_decisions_total", "counter", "Decisions made (repeated event ids not counted).");
    let _ = writeln!(out, "ansim_decisions_total {}", app.decisions.load(Relaxed));
    header(&mut out, "ansim_verdicts_total", "counter", "Decisions by verdict.");
    for (v, n) in app.verdict_counts() {
        let _ = writeln!(out, "ansim_verdicts_total{{verdict=\"{v}\"}} {n}");
    }
    header(&mut out, "ansim_duplicates_total", "counter", "Repeated event ids answered from the store.");
    let _ = writeln!(out, "ansim_duplicates_total {}", app.duplicates.load(Relaxed));
    header(&mut out, "ansim_rule_hits_total", "counter", "Times each rule matched.");
    for (rule, n) in app.rule_hits() {
        let _ = writeln!(out, "ansim_rule_hits_total{{rule=\"{}\"}} {n}", label(&rule));
    }
    header(
        &mut out,
        "ansim_shadow_hits_total",
        "counter",
        "Times each shadow rule would have matched (never acted on).",
    );
    for ((affiliate, rule), n) in app.shadow_hits() {
        let _ = writeln!(
            out,
            "ansim_shadow_hits_total{{affiliate=\"{}\",rule=\"{}\"}} {n}",
            label(&affiliate),
            label(&rule)
        );
    }
    for (name, help, v) in [
        ("ansim_commits_total", "Store transactions committed (group commits).", &app.commits),
        ("ansim_committed_writes_total", "Events committed.", &app.committed_writes),
        ("ansim_commit_errors_total", "Store transactions that failed.", &app.commit_errors),
        ("ansim_snapshots_total", "Feature-state snapshots saved.", &app.snapshots),
    ] {
        header(&mut out, name, "counter", help);
        let _ = writeln!(out, "{name} {}", v.load(Relaxed));
    }
    header(
        &mut out,
        "ansim_degraded_decisions_total",
        "counter",
        "Decisions made while a shared service was unreachable.",
    );
    let _ = writeln!(out, "ansim_degraded_decisions_total {}", app.degraded.load(Relaxed));
    let deps = &app.dependencies;
    let calls = [("store_commit", &deps.store_commit), ("store_read", &deps.store_read), ("redis", &deps.redis)];
    header(&mut out, "ansim_dependency_calls_total", "counter", "Calls to a dependency on the decision path.");
    for (d, c) in calls {
        let _ = writeln!(out, "ansim_dependency_calls_total{{dependency=\"{d}\"}} {}", c.count.load(Relaxed));
    }
    header(
        &mut out,
        "ansim_dependency_seconds_total",
        "counter",
        "Time spent in those calls (divide by the calls for the mean).",
    );
    for (d, c) in calls {
        let secs = c.micros.load(Relaxed) as f64 / 1e6;
        let _ = writeln!(out, "ansim_dependency_seconds_total{{dependency=\"{d}\"}} {secs}");
    }
    header(&mut out, "ansim_dependency_errors_total", "counter", "Calls to a dependency that failed.");
    for (d, c) in calls {
        let _ = writeln!(out, "ansim_dependency_errors_total{{dependency=\"{d}\"}} {}", c.errors.load(Relaxed));
    }
    out
}
