//! Trains the built-in message model (`crates/detect/models/messages.bin`) from the SMS Spam
//! Collection, reports stratified 5-fold cross-validation (mean, min and max per fold) and the
//! false-positive rate on Korean ordinary chat, and writes the model trained on all rows.
//!
//! `cargo run --release -p ansim-detect --example train_messages -- [write] [key=value ...]`
//! (keys: bits, epochs, lr, l2, balance, seed; reps: repeats of the CV with other fold seeds;
//! threshold: a fixed one instead of the inner-CV choice). Without `write` it only reports;
//! `bench` times featurizing and scoring with the built-in model instead.

use std::time::Instant;

use detect::linear::{Features, TrainConfig};
use detect::metrics::{self, Metrics};
use detect::normalize::normalize;
use detect::text;

const SMS: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/sms-spam-collection/sms-spam-collection.train.tsv");
const KOREAN: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/korean-chatbot-benign/korean-chatbot-benign.train.csv");
const OUT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/messages.bin");

/// `Label<TAB>SMS` rows, split on the first tab.
fn read_sms(path: &str) -> Vec<(String, bool)> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    text.lines()
        .skip(1)
        .filter_map(|l| l.split_once('\t'))
        .map(|(label, sms)| (sms.to_string(), label.trim() == "spam"))
        .collect()
}

/// The first column of a CSV file with a header (RFC 4180 quoting).
fn read_first_column(path: &str) -> Vec<String> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let mut rows = Vec::new();
    let (mut field, mut col, mut quoted) = (String::new(), 0, false);
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' if quoted && chars.peek() == Some(&'"') => {
                chars.next();
                field.push('"');
            }
            '"' => quoted = !quoted,
            ',' if !quoted => {
                if col == 0 {
                    rows.push(std::mem::take(&mut field));
                }
                field.clear();
                col += 1;
            }
            '\n' if !quoted => {
                if col == 0 {
                    rows.push(std::mem::take(&mut field));
                }
                field.clear();
                col = 0;
            }
            '\r' if !quoted => {}
            c => {
                if col == 0 {
                    field.push(c);
                }
            }
        }
    }
    if col == 0 && !field.is_empty() {
        rows.push(field);
    }
    rows.remove(0);
    rows
}

struct Setup {
    cfg: TrainConfig,
    write: bool,
    threshold: Option<f64>,
    reps: u64,
    bench: bool,
}

fn parse_args() -> Setup {
    let mut s = Setup { cfg: text::train_config(), write: false, threshold: None, reps: 1, bench: false };
    for a in std::env::args().skip(1) {
        if a == "write" {
            s.write = true;
            continue;
        }
        if a == "bench" {
            s.bench = true;
            continue;
        }
        let (k, v) = a.split_once('=').unwrap_or_else(|| panic!("expected key=value, got {a}"));
        let f = || v.parse::<f32>().unwrap_or_else(|_| panic!("{a}: not a number"));
        let b = || v == "1" || v == "true";
        match k {
            "bits" => s.cfg.bits = v.parse().expect("bits"),
            "epochs" => s.cfg.epochs = v.parse().expect("epochs"),
            "lr" => s.cfg.learning_rate = f(),
            "l2" => s.cfg.l2 = f(),
            "balance" => s.cfg.balance = b(),
            "seed" => s.cfg.seed = v.parse().expect("seed"),
            "reps" => s.reps = v.parse().expect("reps"),
            "threshold" => s.threshold = Some(f64::from(f())),
            _ => panic!("unknown key {k}"),
        }
    }
    s
}

fn summary(name: &str, v: &[f64]) -> String {
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let min = v.iter().cloned().fold(f64::INFINITY, f64::min);
    let max = v.iter().cloned().fold(f64::NEG_INFINITY, f64::max);
    format!("{name} {mean:.4} [{min:.4}, {max:.4}]")
}

/// Time per message of normalisation, features and scoring with the built-in model.
fn bench() {
    let msgs = [
        "WINNER!! As a valued network customer you have been selected to receive a £900 prize reward!",
        "Hey, are we still meeting for lunch tomorrow? I can pick you up around noon if that works ok",
        "고객님 택배가 주소 불일치로 보관 중입니다. 아래 링크에서 주소를 수정해 주세요 감사합니다 확인 부탁",
    ];
    let m = text::builtin_ref();
    for raw in msgs {
        let n = normalize(raw);
        let iters = 200_000;
        let t = Instant::now();
        let mut acc = 0.0;
        for _ in 0..iters {
            acc += m.probability(&text::features(std::hint::black_box(&n), raw, m.bits));
        }
        let feat = t.elapsed().as_nanos() as f64 / f64::from(iters);
        let t = Instant::now();
        for _ in 0..iters {
            acc += text::probability(m, std::hint::black_box(raw));
        }
        let all = t.elapsed().as_nanos() as f64 / f64::from(iters);
        println!(
            "{} chars, {} features: features+score {feat:.0} ns, with normalise {all:.0} ns ({acc:.1})",
            raw.chars().count(),
            text::features(&n, raw, m.bits).len()
        );
    }
}

fn main() {
    let s = parse_args();
    if s.bench {
        bench();
        return;
    }
    let sms = read_sms(SMS);
    let korean = read_first_column(KOREAN);
    let cfg = &s.cfg;
    let t0 = Instant::now();
    let kfeat: Vec<Features> = korean.iter().map(|t| text::features(&normalize(t), t, cfg.bits)).collect();
    let labels: Vec<bool> = sms.iter().map(|d| d.1).collect();

    // Outer stratified 5-fold CV of the whole procedure (`text::train` sets its threshold by an
    // inner 5-fold CV on the training part); `reps` repeats it with other fold seeds.
    let (mut per_fold, mut thresholds, mut kfpr, mut kmax) = (Vec::<Metrics>::new(), vec![], vec![], vec![]);
    for (rep, f) in (0..s.reps).flat_map(|r| (0..5).map(move |f| (r, f))) {
        let folds = metrics::stratified_folds(&labels, 5, 42 + rep);
        let part = |test: bool| -> Vec<(String, bool)> {
            sms.iter().zip(&folds).filter(|(_, g)| (**g == f) == test).map(|(d, _)| d.clone()).collect()
        };
        let m = text::train(&part(false), cfg);
        let t = s.threshold.unwrap_or(f64::from(m.threshold));
        let sc: Vec<(f64, bool)> = part(true).iter().map(|(x, y)| (f64::from(text::probability(&m, x)), *y)).collect();
        per_fold.push(metrics::evaluate(&sc, t));
        thresholds.push(t);
        let kp: Vec<f64> = kfeat.iter().map(|x| f64::from(m.probability(x))).collect();
        kfpr.push(kp.iter().filter(|p| **p >= t).count() as f64 / kp.len() as f64);
        kmax.push(kp.iter().cloned().fold(0.0, f64::max));
    }
    let col = |g: fn(&Metrics) -> Option<f64>| per_fold.iter().map(|m| g(m).unwrap_or(0.0)).collect::<Vec<_>>();
    let (f1, p, r, auc) = (col(|m| m.f1), col(|m| m.precision), col(|m| m.recall), col(|m| m.roc_auc));
    println!(
        "{} | {} | {} | {} | thr {} | korean fpr {} max p {} | {:.1}s",
        summary("F1", &f1),
        summary("P", &p),
        summary("R", &r),
        summary("AUC", &auc),
        summary("", &thresholds),
        summary("", &kfpr),
        summary("", &kmax),
        t0.elapsed().as_secs_f64()
    );

    if s.write {
        let mut m = text::train(&sms, cfg);
        let mean = |v: &[f64]| v.iter().sum::<f64>() / v.len() as f64;
        let min = |v: &[f64]| v.iter().cloned().fold(f64::INFINITY, f64::min);
        m.meta = format!(
            "{}; trained on sms-spam-collection.train.tsv; 5-fold CV: F1 {:.4} (min {:.4}), precision {:.4}, \
             recall {:.4}, ROC AUC {:.4}",
            m.meta,
            mean(&f1),
            min(&f1),
            mean(&p),
            mean(&r),
            mean(&auc)
        );
        let kp: Vec<f64> = kfeat.iter().map(|x| f64::from(m.probability(x))).collect();
        let fp = kp.iter().filter(|p| **p >= f64::from(m.threshold)).count();
        println!("final: bias {:.3}, threshold {:.3}, korean false positives {fp}/{}", m.bias, m.threshold, kp.len());
        let mut worst: Vec<(f64, &String)> = kp.iter().copied().zip(&korean).collect();
        worst.sort_by(|a, b| b.0.total_cmp(&a.0));
        for (p, t) in worst.iter().take(5) {
            println!("  korean {p:.4} {t}");
        }
        let bytes = m.to_bytes();
        std::fs::write(OUT, &bytes).unwrap_or_else(|e| panic!("{OUT}: {e}"));
        println!("wrote models/messages.bin ({} bytes): {}", bytes.len(), m.meta);
    }
}
