//! The transaction model inside `decide`, and backtest throughput, printed as tables (a plain
//! `main`): `cargo bench -p ansim-bench --bench txmodel`.
//!
//! 1. Trains a 300-tree, depth-6 model on the `[model]` inputs of
//!    `test_data/rulesets/transactions.toml` over 20,000 synthetic transfers (a fifth of them
//!    drain the balance, the fraud pattern of PaySim), through `engine::prepare` and
//!    `engine::model_inputs`, the pipeline `decide` runs.
//! 2. Times `decide` per call on 20,000 other transfers with the model attached and without
//!    it (the same ruleset: the rules reading `model.score` then see nothing), in interleaved
//!    passes, and prints p50, p99 and what the model adds.
//! 3. Backtest, rules alone: the feature and signal slots of the events fixture are computed
//!    once, then every rule of the active and a draft ruleset (the sample ruleset twice) is
//!    evaluated per event; events per second on one core.

use bench::{EVENTS, load_events, percentile, repo_path};
use domain::Event;
use engine::{DecideState, Snapshot, decide, model_inputs, prepare};
use std::hint::black_box;
use std::sync::Arc;
use std::time::Instant;

const PASSES: usize = 10;
const ADDED_P99_TARGET_NS: u64 = 5_000;
const BACKTEST_TARGET: f64 = 1_000_000.0;

fn transfer(i: usize, amount: i64, balance: i64) -> Event {
    let (h, m, s) = ((i / 3_600) % 24, (i / 60) % 60, i % 60);
    Event::from_json(
        &format!(
            r#"{{"id":"t{i}","affiliate":"pay","kind":"transfer","at":"2026-11-{:02}T{h:02}:{m:02}:{s:02}+09:00","channel":"app",
               "subject":{{"id":"u{}"}},"transfer":{{"amount":{amount},"balance_before":{balance},
               "counterparty":{{"bank":"004","account":"{:09}"}}}}}}"#,
            1 + (i / 86_400) % 28,
            i % 5_000,
            100_000 + i % 3_000
        ),
        None,
    )
    .expect("valid event")
}

fn sample(i: usize) -> (Event, bool) {
    let fraud = i.is_multiple_of(5);
    let balance = 10_000 + (i as i64 * 7_919) % 9_000_000;
    let amount = if fraud { balance } else { ((balance * (1 + (i as i64 % 7))) / 10).max(1) };
    (transfer(i, amount, balance), fraud)
}

fn main() {
    let src = std::fs::read_to_string(repo_path("test_data/rulesets/transactions.toml")).expect("ruleset");
    let plain = Snapshot::compile(&src).expect("compiles");
    let names = plain.model_inputs.as_ref().expect("[model]").names.clone();

    let t = Instant::now();
    let mut state = DecideState::new();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for i in 0..20_000 {
        let (e, fraud) = sample(i);
        prepare(&plain, &mut state, &e);
        x.extend_from_slice(model_inputs(&plain, &mut state, &e));
        y.push(fraud);
    }
    let data = model::Dataset::new(names, x, y).expect("dataset");
    let gbdt = model::train(&data, &model::Params { trees: 300, max_depth: 6, seed: 1, ..model::Params::default() })
        .expect("trains");
    println!("trained {} trees on 20,000 rows in {:.2} s\n", gbdt.trees.len(), t.elapsed().as_secs_f64());
    let mut scored = Snapshot::compile(&src).expect("compiles");
    scored.attach_model(Arc::new(gbdt)).expect("inputs match");

    let events: Vec<Event> = (100_000..120_000).map(|i| sample(i).0).collect();
    let (mut with, mut without) = (Vec::new(), Vec::new());
    for _ in 0..PASSES {
        for (snap, out) in [(&scored, &mut with), (&plain, &mut without)] {
            let mut st = DecideState::new();
            for e in &events {
                let t = Instant::now();
                black_box(decide(snap, &mut st, black_box(e)));
                out.push(t.elapsed().as_nanos() as u64);
            }
        }
    }
    with.sort_unstable();
    without.sort_unstable();
    let (p50w, p99w, p50o, p99o) =
        (percentile(&with, 50.0), percentile(&with, 99.0), percentile(&without, 50.0), percentile(&without, 99.0));
    println!("| decide on transfers | calls | p50 ns | p99 ns |");
    println!("|---|---:|---:|---:|");
    println!("| without the model | {} | {p50o} | {p99o} |", without.len());
    println!("| with a 300-tree model | {} | {p50w} | {p99w} |", with.len());
    let added = p99w.saturating_sub(p99o);
    println!(
        "\nthe model adds {} ns at p50 and {added} ns at p99 (target ≤ {ADDED_P99_TARGET_NS} ns): {}\n",
        p50w.saturating_sub(p50o),
        if added <= ADDED_P99_TARGET_NS { "PASS" } else { "FAIL" }
    );

    // Backtest, rules alone.
    let sample_src = std::fs::read_to_string(repo_path("test_data/rulesets/sample.toml")).expect("sample ruleset");
    let (active, draft) =
        (Snapshot::compile(&sample_src).expect("compiles"), Snapshot::compile(&sample_src).expect("compiles"));
    let fixture = load_events(&repo_path(EVENTS)).expect("events fixture");
    let mut st = DecideState::new();
    let slots: Vec<Vec<Option<i64>>> = fixture.iter().map(|e| prepare(&active, &mut st, e).to_vec()).collect();
    let mut rounds = Vec::new();
    for _ in 0..50 {
        let t = Instant::now();
        let mut hits = 0usize;
        for (e, s) in fixture.iter().zip(&slots) {
            let ctx = rules::Ctx::new(e, s);
            for snap in [&active, &draft] {
                hits += snap.rules.iter().filter(|r| r.enabled && r.cond.eval(&ctx)).count();
            }
        }
        black_box(hits);
        rounds.push(t.elapsed().as_nanos() as u64);
    }
    rounds.sort_unstable();
    let per_event = percentile(&rounds, 50.0) as f64 / fixture.len() as f64;
    let rate = 1e9 / per_event;
    println!(
        "backtest, rules alone: {} events × 2 rulesets of {} rules: {per_event:.0} ns/event, {rate:.0} events/s per core (target ≥ {BACKTEST_TARGET:.0}): {}",
        fixture.len(),
        active.rules.len(),
        if rate >= BACKTEST_TARGET { "PASS" } else { "FAIL" }
    );
}
