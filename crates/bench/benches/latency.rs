//! Latency, throughput and feature-state memory of `engine::decide`, printed as tables (a plain
//! `main`, no criterion): `cargo bench -p ansim-bench --bench latency`.
//!
//! 1. Replays the events fixture through `decide` several times, a fresh `DecideState` per
//!    pass, timing every call with `Instant`, and prints p50, p90, p99, p99.9 and max; the same
//!    for `decide_at` (no assembly of the `Decision`), in interleaved passes.
//! 2. Replay throughput on one core: whole passes timed without per-call timers.
//! 3. Feature-state memory per active key and feature (`FeatureState::memory`) after a replay
//!    of the fixture and after 1,000,000 simulated events (`sim`), once with a
//!    large population (many light keys) and once with the simulator's default small one
//!    (few heavy keys), each also timed per call, and what taking one snapshot part of that
//!    state costs (one shard serialised in place, against a copy, against every key walked).
//!
//! Set `ANSIM_BENCH_EVENTS` to change the size of the simulated runs.

use bench::{EVENTS, RULESET, bytes_per_key, load_events, load_snapshot, percentile, repo_path};
use domain::Event;
use engine::{DecideState, Snapshot, decide, decide_at};
use signals::digest_map::{SHARDS, shard_of};
use signals::features::{SetKey, Table, WindowKey};
use sim::{SimConfig, Simulator};
use std::hint::black_box;
use std::mem::size_of;
use std::time::Instant;

const PASSES: usize = 20;
const P99_TARGET_NS: u64 = 20_000;
const BYTES_PER_KEY_TARGET: f64 = 200.0;

fn pass_fail(ok: bool) -> &'static str {
    if ok { "PASS" } else { "FAIL" }
}

/// Per-call latencies of one pass with a fresh state, in ns.
fn timed_pass(snap: &Snapshot, events: &[Event], full: bool, out: &mut Vec<u64>) {
    let mut st = DecideState::new();
    for e in events {
        let t = Instant::now();
        if full {
            black_box(decide(snap, &mut st, black_box(e)));
        } else {
            black_box(decide_at(snap, &mut st, black_box(e)));
        }
        out.push(t.elapsed().as_nanos() as u64);
    }
}

fn print_latency(label: &str, samples: &mut [u64]) {
    samples.sort_unstable();
    let mean = samples.iter().sum::<u64>() as f64 / samples.len().max(1) as f64;
    println!(
        "| {label} | {} | {:.0} | {} | {} | {} | {} | {} |",
        samples.len(),
        mean,
        percentile(samples, 50.0),
        percentile(samples, 90.0),
        percentile(samples, 99.0),
        percentile(samples, 99.9),
        samples.last().copied().unwrap_or(0)
    );
}

fn latency_header() {
    println!("| run | calls | mean ns | p50 ns | p90 ns | p99 ns | p99.9 ns | max ns |");
    println!("|---|---:|---:|---:|---:|---:|---:|---:|");
}

/// Prints bytes per active key for every feature and returns (max, mean across features).
/// Bytes of hash-map slots that hold no key, per feature (capacity left behind by evicted
/// keys, or headroom after growth), counted as `FeatureState::memory` counts a slot.
fn slack_bytes(state: &DecideState) -> Vec<usize> {
    state
        .features
        .tables
        .iter()
        .map(|t| match &t.table {
            Table::Window(m) => (m.capacity() - m.len()) * (size_of::<(u64, WindowKey)>() + 1),
            Table::Set(m) => (m.capacity() - m.len()) * (size_of::<(u64, SetKey)>() + 1),
        })
        .collect()
}

fn print_memory(title: &str, state: &DecideState, snap: &Snapshot, per_feature: bool) -> (f64, f64) {
    let rows = bytes_per_key(&state.features, snap);
    let slack: std::collections::HashMap<&str, usize> =
        snap.features.iter().map(|f| f.name.as_str()).zip(slack_bytes(state)).collect();
    let total_bytes: usize = rows.iter().map(|r| r.2).sum();
    let total_keys: usize = rows.iter().map(|r| r.1).sum();
    println!(
        "{title}: {} features hold keys, {total_keys} keys, {:.1} MiB",
        rows.len(),
        total_bytes as f64 / 1048576.0
    );
    if per_feature {
        println!();
        println!("| feature | keys | bytes | bytes/key | of which empty map slots, bytes/key |");
        println!("|---|---:|---:|---:|---:|");
        for (name, keys, bytes, per) in &rows {
            let empty = slack.get(name.as_str()).copied().unwrap_or(0) as f64 / *keys as f64;
            println!("| {name} | {keys} | {bytes} | {per:.0} | {empty:.0} |");
        }
        println!();
    }
    let max = rows.iter().map(|r| r.3).fold(0.0, f64::max);
    let mean = rows.iter().map(|r| r.3).sum::<f64>() / rows.len().max(1) as f64;
    let heaviest = rows.iter().max_by(|a, b| a.3.total_cmp(&b.3)).map_or("-", |r| r.0.as_str());
    println!(
        "bytes per active key: max {max:.0} ({heaviest}), mean across features {mean:.0}, overall {:.0} (all bytes / all keys)",
        total_bytes as f64 / total_keys.max(1) as f64
    );
    (max, mean)
}

/// Per table: (map capacity, updates since the last idle sweep).
fn marks(st: &DecideState, out: &mut Vec<(usize, u64)>) {
    out.clear();
    out.extend(st.features.tables.iter().map(|t| {
        let cap = match &t.table {
            Table::Window(m) => m.capacity(),
            Table::Set(m) => m.capacity(),
        };
        (cap, t.since_sweep)
    }));
}

/// Calls slower than [`SLOW_NS`], by what happened inside them.
#[derive(Default)]
struct Slow {
    calls: usize,
    grew: usize,
    swept: usize,
    other: usize,
    other_max: u64,
}

const SLOW_NS: u64 = 100_000;

/// Decides `n` simulated events, timing each call; returns the state, the latencies, the wall
/// time, the simulated days and the slow calls explained.
fn simulated(snap: &Snapshot, cfg: SimConfig, n: usize) -> (DecideState, Vec<u64>, f64, f64, Slow) {
    let mut st = DecideState::new();
    let mut lat = Vec::with_capacity(n);
    let mut sim = Simulator::new(cfg);
    let mut first = i64::MAX;
    let mut last = i64::MIN;
    let (mut before, mut after) = (Vec::new(), Vec::new());
    let mut slow = Slow::default();
    let t0 = Instant::now();
    for _ in 0..n {
        let e = sim.next_event().event;
        first = first.min(e.at.millis());
        last = last.max(e.at.millis());
        marks(&st, &mut before);
        let t = Instant::now();
        black_box(decide(snap, &mut st, &e));
        let ns = t.elapsed().as_nanos() as u64;
        lat.push(ns);
        if ns > SLOW_NS {
            marks(&st, &mut after);
            slow.calls += 1;
            // A table created on the first call has no "before".
            let grew = after.iter().enumerate().any(|(i, a)| before.get(i).is_none_or(|b| a.0 > b.0));
            let swept = after.iter().zip(&before).any(|(a, b)| a.1 < b.1);
            if grew {
                slow.grew += 1;
            } else if swept {
                slow.swept += 1;
            } else {
                slow.other += 1;
                slow.other_max = slow.other_max.max(ns);
            }
        }
    }
    let wall = t0.elapsed().as_secs_f64();
    let days = (last - first) as f64 / 86_400_000.0;
    (st, lat, wall, days, slow)
}

/// What taking one snapshot part costs (the affiliate's decisions wait for it): serialising
/// one shard in place (what the tenant does), against copying the shard and against picking
/// the same keys by walking the whole state, interleaved, every part a few times.
fn print_parts(st: &DecideState) {
    let (mut shard, mut walk, mut ser, mut bytes) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..3 {
        for i in 0..SHARDS {
            let t = Instant::now();
            black_box(st.features.shard(i));
            shard.push(t.elapsed().as_nanos() as u64);
            let t = Instant::now();
            black_box(st.features.part(|k| shard_of(k) == i));
            walk.push(t.elapsed().as_nanos() as u64);
            let t = Instant::now();
            let b = postcard::to_stdvec(&st.features.shard_ref(i)).unwrap();
            ser.push(t.elapsed().as_nanos() as u64);
            bytes.push(b.len() as u64);
        }
    }
    let us = |v: &[u64]| {
        (v.iter().sum::<u64>() as f64 / v.len() as f64 / 1e3, v.iter().max().copied().unwrap_or(0) as f64 / 1e3)
    };
    let ((sm, sx), (wm, wx), (pm, px)) = (us(&shard), us(&walk), us(&ser));
    let kb = bytes.iter().sum::<u64>() as f64 / bytes.len() as f64 / 1e3;
    println!(
        "taking one of {SHARDS} snapshot parts ({kb:.0} KB serialised): serialising its shard in place mean {pm:.0} us (max {px:.0}); copying its shard mean {sm:.0} us (max {sx:.0}); walking every key for it mean {wm:.0} us (max {wx:.0})"
    );
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.iter().any(|a| a == "--list") {
        return;
    }
    // Without `--bench` (that is, under `cargo test --benches`) run a small smoke version.
    let quick = !args.iter().any(|a| a == "--bench") || args.iter().any(|a| a == "--test");
    let snap = load_snapshot(&repo_path(RULESET)).unwrap_or_else(|e| panic!("{e}"));
    let events = load_events(&repo_path(EVENTS)).unwrap_or_else(|e| panic!("{e}"));
    let n = events.len();
    let rules = snap.rules.iter().filter(|r| r.enabled).count();
    let features = snap.features.len();
    let passes = if quick { 1 } else { PASSES };
    println!("ruleset {} ({rules} rules, {features} features); {n} events from {EVENTS}", snap.label);

    // Timer overhead: two back-to-back Instant::now() calls.
    let mut overhead: Vec<u64> = (0..100_000)
        .map(|_| {
            let t = Instant::now();
            black_box(());
            t.elapsed().as_nanos() as u64
        })
        .collect();
    overhead.sort_unstable();
    println!(
        "timer overhead (Instant::now + elapsed): p50 {} ns, included in every sample below",
        percentile(&overhead, 50.0)
    );

    // Warm-up pass.
    let mut sink = Vec::new();
    timed_pass(&snap, &events, true, &mut sink);

    let mut full = Vec::with_capacity(passes * n);
    let mut at = Vec::with_capacity(passes * n);
    for _ in 0..passes {
        timed_pass(&snap, &events, true, &mut full);
        timed_pass(&snap, &events, false, &mut at);
    }
    println!();
    println!(
        "## per-call latency, fixture replayed {passes} times (fresh state per pass), decide and decide_at interleaved"
    );
    println!();
    latency_header();
    print_latency("decide", &mut full);
    print_latency("decide_at", &mut at);
    let mean_full = full.iter().sum::<u64>() as f64 / full.len() as f64;
    let mean_at = at.iter().sum::<u64>() as f64 / at.len() as f64;
    println!();
    println!(
        "per event: decide_at {mean_at:.0} ns, full decide {mean_full:.0} ns, assembly {:.0} ns ({:.0}% of decide)",
        mean_full - mean_at,
        100.0 * (mean_full - mean_at) / mean_full
    );

    // Throughput: whole passes, no per-call timer.
    let mut rates = Vec::new();
    for _ in 0..passes {
        let mut st = DecideState::new();
        let t = Instant::now();
        for e in &events {
            black_box(decide(&snap, &mut st, black_box(e)));
        }
        rates.push(n as f64 / t.elapsed().as_secs_f64());
    }
    rates.sort_by(f64::total_cmp);
    println!(
        "replay throughput, one core, whole passes: median {:.0} events/s (min {:.0}, max {:.0})",
        rates[rates.len() / 2],
        rates[0],
        rates[rates.len() - 1]
    );

    // Memory after one replay of the fixture.
    let mut st = DecideState::new();
    for e in &events {
        decide(&snap, &mut st, e);
    }
    println!();
    println!("## feature state after one replay of the fixture");
    println!();
    let (fx_max, fx_mean) = print_memory("fixture", &st, &snap, true);

    // Large simulated runs.
    let big: usize = std::env::var("ANSIM_BENCH_EVENTS").ok().and_then(|v| v.parse().ok()).unwrap_or(1_000_000);
    let big = if quick { 10_000 } else { big };
    let runs = [
        (
            "many subjects (20,000 per affiliate, 100,000 in all; 20,000 events per peak hour)",
            SimConfig { subjects: 20_000, peak_events_per_hour: 20_000, ..SimConfig::default() },
        ),
        ("simulator defaults (40 subjects per affiliate, 200 in all; 80 events per peak hour)", SimConfig::default()),
    ];
    let mut big_results = Vec::new();
    for (title, cfg) in runs {
        let (st, mut lat, wall, days, slow) = simulated(&snap, cfg, big);
        println!();
        println!("## {big} simulated events, {title}");
        println!();
        println!("simulated time span {days:.1} days; wall {wall:.1} s including generation");
        println!();
        latency_header();
        print_latency("decide", &mut lat);
        let p99 = percentile(&lat, 99.0);
        let mean = lat.iter().sum::<u64>() as f64 / lat.len() as f64;
        println!();
        println!("decide throughput, one core (sum of decide calls only): {:.0} events/s", 1e9 / mean);
        println!(
            "calls over {} us: {} ({:.3}%); {} grew a feature table (hash-map resize), {} ran the idle-key sweep, {} neither (not explained by the state: scheduling, page faults, other processes; max {} us)",
            SLOW_NS / 1000,
            slow.calls,
            100.0 * slow.calls as f64 / big as f64,
            slow.grew,
            slow.swept,
            slow.other,
            slow.other_max / 1000
        );
        println!();
        let (max, mean_b) = print_memory("state", &st, &snap, true);
        print_parts(&st);
        big_results.push((title, p99, max, mean_b));
    }

    let fixture_p99 = percentile(&full, 99.0);
    println!();
    if quick {
        println!("(smoke run without `--bench`: not a measurement, targets not judged)");
        return;
    }
    println!("## targets");
    println!();
    println!("| target | measured | result |");
    println!("|---|---|---|");
    println!(
        "| decide p99 <= 20 us with >= 50 rules and >= 20 features ({rules} rules, {features} features) | fixture replay p99 {} ns | {} |",
        fixture_p99,
        pass_fail(fixture_p99 <= P99_TARGET_NS && rules >= 50 && features >= 20)
    );
    for (title, p99, max, mean) in &big_results {
        let short = title.split(" (").next().unwrap_or(title);
        println!(
            "| decide p99 <= 20 us, {big} simulated events, {short} | p99 {p99} ns | {} |",
            pass_fail(*p99 <= P99_TARGET_NS)
        );
        println!(
            "| <= 200 bytes per active key per feature, {short} | mean {mean:.0} B/key, max {max:.0} B/key | mean {}, max {} |",
            pass_fail(*mean <= BYTES_PER_KEY_TARGET),
            pass_fail(*max <= BYTES_PER_KEY_TARGET)
        );
    }
    println!(
        "| <= 200 bytes per active key per feature, fixture | mean {fx_mean:.0} B/key, max {fx_max:.0} B/key | mean {}, max {} |",
        pass_fail(fx_mean <= BYTES_PER_KEY_TARGET),
        pass_fail(fx_max <= BYTES_PER_KEY_TARGET)
    );
}
