//! Gradient-boosted trees (`model` crate): training time and per-row scoring latency, printed
//! as a table (a plain `main`): `cargo bench -p ansim-bench --bench gbdt`.
//!
//! The data is synthetic and transaction-like: 45,000 rows of 20 features (amounts, counts,
//! hours, account ages, flags, a few noise columns, about 8% missing values in three of them)
//! with a fraud label drawn from a non-linear risk function (about 4% positives). Training uses
//! 36,000 rows with the default settings (300 trees, depth 6, 256 bins) on one thread; the rest
//! is held out for the AUC and for scoring. Scoring is timed row by row (median and p99 of
//! single calls, which include about 20 ns of clock reading) and over the whole held-out set
//! in rounds (the median round divided by the rows: the cost without the clock).

use bench::percentile;
use model::{Dataset, Params, Rng, fit_platt, recall_at_fpr, roc_auc, train};
use std::hint::black_box;
use std::time::Instant;

const ROWS: usize = 45_000;
const TRAIN: usize = 36_000;
const FEATURES: usize = 20;
const ROUNDS: usize = 30;
const BUDGET_NS: f64 = 5_000.0;

fn normal(rng: &mut Rng) -> f64 {
    // Box–Muller.
    let (u, v) = (rng.next_f64().max(1e-12), rng.next_f64());
    (-2.0 * u.ln()).sqrt() * (std::f64::consts::TAU * v).cos()
}

/// The data, and each row's true risk (the log-odds its label was drawn with).
fn synthetic(rows: usize, seed: u64) -> (Dataset, Vec<f32>) {
    let mut rng = Rng::new(seed);
    let names: Vec<String> = [
        "amount_log",
        "amount_vs_median",
        "payee_new",
        "payee_age_days",
        "hour",
        "transfers_1h",
        "transfers_24h",
        "device_age_days",
        "device_rooted",
        "remote_app",
        "call_active",
        "account_age_days",
        "balance_ratio",
        "failed_logins_24h",
        "geo_distance_km",
        "message_risk",
        "noise_a",
        "noise_b",
        "noise_c",
        "noise_d",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    let mut values = Vec::with_capacity(rows * FEATURES);
    let mut labels = Vec::with_capacity(rows);
    let mut risks = Vec::with_capacity(rows);
    for _ in 0..rows {
        let amount = 10.0 + 1.5 * normal(&mut rng);
        let ratio = (normal(&mut rng) * 0.8).exp();
        let payee_new = f64::from(rng.next_f64() < 0.15);
        let payee_age = if payee_new > 0.0 { 0.0 } else { (rng.next_f64() * 2000.0).floor() };
        let hour = (rng.next_f64() * 24.0).floor();
        let t1 = (-rng.next_f64().max(1e-9).ln() * 0.7).floor();
        let t24 = t1 + (-rng.next_f64().max(1e-9).ln() * 3.0).floor();
        let device_age = (-rng.next_f64().max(1e-9).ln() * 300.0).floor();
        let rooted = f64::from(rng.next_f64() < 0.03);
        let remote = f64::from(rng.next_f64() < 0.05);
        let call = f64::from(rng.next_f64() < 0.1);
        let account_age = (rng.next_f64() * 5000.0).floor();
        let balance = rng.next_f64();
        let failed = (-rng.next_f64().max(1e-9).ln() * 0.3).floor();
        let geo = (-rng.next_f64().max(1e-9).ln() * 50.0).floor();
        let msg = rng.next_f64().powi(3);
        let noise: Vec<f64> = (0..4).map(|_| normal(&mut rng)).collect();
        let risk = -5.2
            + 1.2 * payee_new * f64::from(ratio > 2.0)
            + 1.5 * remote * call
            + 0.8 * f64::from(!(6.0..23.0).contains(&hour))
            + 0.6 * t1.min(4.0)
            + 1.0 * rooted
            + 0.9 * f64::from(device_age < 3.0)
            + 2.0 * msg
            + 0.7 * (amount - 10.0).max(0.0)
            + 0.8 * balance * f64::from(balance > 0.8)
            + 0.4 * failed.min(3.0)
            - 0.5 * f64::from(account_age > 3000.0);
        labels.push(rng.next_f64() < 1.0 / (1.0 + (-risk).exp()));
        risks.push(risk as f32);
        let mut row = vec![
            amount,
            ratio,
            payee_new,
            payee_age,
            hour,
            t1,
            t24,
            device_age,
            rooted,
            remote,
            call,
            account_age,
            balance,
            failed,
            geo,
            msg,
            noise[0],
            noise[1],
            noise[2],
            noise[3],
        ];
        for f in [3, 7, 15] {
            if rng.next_f64() < 0.08 {
                row[f] = f64::NAN;
            }
        }
        values.extend(row.into_iter().map(|v| v as f32));
    }
    (Dataset::new(names, values, labels).expect("synthetic data is well formed"), risks)
}

fn main() {
    let (data, risks) = synthetic(ROWS, 7);
    let train_idx: Vec<usize> = (0..TRAIN).collect();
    let test_idx: Vec<usize> = (TRAIN..ROWS).collect();
    let (fit_set, held) = (data.subset(&train_idx), data.subset(&test_idx));
    let params = Params::default();
    let t = Instant::now();
    let mut model = train(&fit_set, &params).expect("training");
    let train_s = t.elapsed().as_secs_f64();
    let nodes: usize = model.trees.iter().map(|t| t.nodes().len()).sum();
    let margins = model.margins(&held).expect("same features");
    model.calibration = fit_platt(&margins, &held.labels);
    let auc = roc_auc(&margins, &held.labels).unwrap_or(f64::NAN);
    // The best any model can do: ranking by the true risk the labels were drawn with.
    let oracle = roc_auc(&risks[TRAIN..], &held.labels).unwrap_or(f64::NAN);
    let (recall, _) = recall_at_fpr(&margins, &held.labels, 0.01).unwrap_or((f64::NAN, 0.0));
    let bytes = model.to_bytes();
    println!(
        "training: {} rows x {} features ({} positive), {} trees depth {}: {:.2} s on one thread",
        fit_set.rows,
        FEATURES,
        fit_set.positives(),
        params.trees,
        params.max_depth,
        train_s
    );
    println!(
        "model: {nodes} nodes, {} KiB artefact; held-out ({} rows, {} positive): ROC AUC {auc:.4} (true risk: {oracle:.4}), recall at 1% FPR {recall:.3}\n",
        bytes.len() / 1024,
        held.rows,
        held.positives()
    );

    let rows: Vec<&[f32]> = (0..held.rows).map(|r| held.row(r)).collect();
    // Batch rounds: the whole held-out set per round.
    type Op<'a> = (&'a str, Box<dyn Fn(&[f32]) -> f32 + 'a>);
    let ops: Vec<Op> = vec![
        ("margin", Box::new(|x: &[f32]| model.margin(x))),
        ("probability (Platt)", Box::new(|x: &[f32]| model.probability(x))),
        ("contributions (Saabas)", Box::new(|x: &[f32]| model.contributions(x)[0])),
        ("shap_values (TreeSHAP)", Box::new(|x: &[f32]| model.shap_values(x)[0])),
    ];
    println!("{:<24} {:>14} {:>12} {:>12} {:>14}", "operation", "ns/row (batch)", "median ns", "p99 ns", "rows/s/core");
    for (name, f) in &ops {
        let heavy = name.starts_with("shap");
        let rounds = if heavy { 3 } else { ROUNDS };
        let mut batch = Vec::with_capacity(rounds);
        let mut single = Vec::with_capacity(rounds * rows.len());
        for _ in 0..rounds {
            let t = Instant::now();
            let mut sink = 0f32;
            for x in &rows {
                sink += f(black_box(x));
            }
            black_box(sink);
            batch.push(t.elapsed().as_nanos() as u64);
            for x in &rows {
                let t = Instant::now();
                black_box(f(black_box(x)));
                single.push(t.elapsed().as_nanos() as u64);
            }
        }
        batch.sort_unstable();
        single.sort_unstable();
        let per = percentile(&batch, 50.0) as f64 / rows.len() as f64;
        println!(
            "{name:<24} {per:>14.0} {:>12} {:>12} {:>14.0}",
            percentile(&single, 50.0),
            percentile(&single, 99.0),
            1e9 / per
        );
    }
    let t = Instant::now();
    let loaded = model::Gbdt::from_bytes(&bytes).expect("round trip");
    let load_ms = t.elapsed().as_secs_f64() * 1e3;
    assert_eq!(loaded.margin(rows[0]).to_bits(), model.margin(rows[0]).to_bits());
    let mut margin_rounds: Vec<u64> = (0..ROUNDS)
        .map(|_| {
            let t = Instant::now();
            black_box(rows.iter().map(|x| model.margin(black_box(x))).sum::<f32>());
            t.elapsed().as_nanos() as u64
        })
        .collect();
    margin_rounds.sort_unstable();
    let per = percentile(&margin_rounds, 50.0) as f64 / rows.len() as f64;
    println!("\nartefact load: {load_ms:.2} ms");
    println!(
        "margin: {per:.0} ns per row against a budget of {BUDGET_NS:.0} ns: {}",
        if per <= BUDGET_NS { "within budget" } else { "OVER BUDGET" }
    );
}
