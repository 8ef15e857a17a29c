//! In-process throughput of durable decisions: N concurrent tasks send the sample events
//! through `App::decide` (group commit to the embedded store) and the run prints decisions/s
//! and commit batch sizes. `cargo run --release -p ansim-app --example throughput -- [TASKS] [EVENTS]`.

use app::{App, AppConfig};
use std::sync::Arc;
use std::sync::atomic::Ordering::Relaxed;
use std::time::Instant;

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    let args: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let tasks = args.first().copied().unwrap_or(64);
    let total = args.get(1).copied().unwrap_or(60_000);
    let dir = std::env::temp_dir().join(format!("ansim-throughput-{}", std::process::id()));
    let app = App::open(AppConfig::new(&dir)).expect("open");
    let rules = include_str!("../../../test_data/rulesets/sample.toml");
    // A year back: simulated time advances with every event and the app refuses events stamped
    // more than an hour ahead of its clock.
    let start = domain::Timestamp(app::now_ms() - 365 * 86_400_000);
    let mut sim = sim::Simulator::new(sim::SimConfig { start, ..Default::default() });
    let mut events = Vec::with_capacity(total);
    for a in sim::AFFILIATES {
        app.ensure_affiliate(&domain::AffiliateId(a.to_string()), a, rules).expect("affiliate");
    }
    for _ in 0..total {
        events.push(sim.next_event().event);
    }
    let events = Arc::new(events);
    let t = Instant::now();
    let mut handles = Vec::new();
    for k in 0..tasks {
        let (app, events) = (Arc::clone(&app), Arc::clone(&events));
        handles.push(tokio::spawn(async move {
            let mut i = k;
            while i < events.len() {
                let e = events[i].clone();
                let a = e.affiliate.clone();
                app.decide(&a, e).await.expect("decide");
                i += tasks;
            }
        }));
    }
    for h in handles {
        h.await.expect("task");
    }
    let secs = t.elapsed().as_secs_f64();
    let m = app.metrics();
    let (commits, writes) = (m.commits.load(Relaxed), m.committed_writes.load(Relaxed));
    println!(
        "{total} durable decisions with {tasks} concurrent tasks in {secs:.2} s: {:.0}/s; {commits} commits, {:.1} writes per commit",
        total as f64 / secs,
        writes as f64 / commits.max(1) as f64
    );
    app.shutdown();
    drop(app);
    let _ = std::fs::remove_dir_all(&dir);
}
