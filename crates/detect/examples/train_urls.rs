//! Trains the built-in URL model (`models/urls.bin`) from the web-phishing-urls CSV (only its
//! `url` column and its `status` label), after reporting stratified 5-fold cross-validation.
//!
//! ```text
//! cargo run --release -p ansim-detect --example train_urls -- \
//!     [--csv PATH] [--bits 18] [--epochs 12] [--lr 0.2] [--l2 1e-6] [--seed 7] [--fold-seed 42] \
//!     [--cv-only] [--out PATH]
//! cargo run --release -p ansim-detect --example train_urls -- --score URL...
//! cargo run --release -p ansim-detect --example train_urls -- --message TEXT...
//! cargo run --release -p ansim-detect --example train_urls -- --bench
//! ```
//!
//! `--score` prints the built-in model's probability and the full link judgement of each URL;
//! `--message TEXT...` prints the links found in each text and their judgement; `--bench`
//! times extraction and inspection of typical messages.
//!
//! Without `--csv` it reads `../shared/data/web-phishing-urls/web-phishing-urls.train.csv`
//! relative to the repository root; without `--out` it writes `crates/detect/models/urls.bin`.

use std::process::ExitCode;
use std::time::Instant;

use detect::linear::TrainConfig;
use detect::{links, metrics};

const DEFAULT_CSV: &str =
    concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data/web-phishing-urls/web-phishing-urls.train.csv");
const DEFAULT_OUT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/models/urls.bin");
const FOLDS: usize = 5;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("train_urls: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let mut csv = DEFAULT_CSV.to_string();
    let mut out = DEFAULT_OUT.to_string();
    let mut cfg = TrainConfig { bits: 18, epochs: 12, learning_rate: 0.2, l2: 1e-6, seed: 7, balance: true };
    let mut cv_only = false;
    let mut fold_seed = 42u64;
    let mut args = std::env::args().skip(1);
    let all: Vec<String> = std::env::args().skip(1).collect();
    if all.first().map(String::as_str) == Some("--score") {
        let model = links::builtin_ref();
        for url in &all[1..] {
            let p = links::url_probability(model, url).unwrap_or(f32::NAN);
            let link = links::RawLink { text: url.clone(), obfuscated: false };
            println!("{p:.3} {url} {:?}", links::inspect(&link, links::builtin_brands_ref(), model));
        }
        return Ok(());
    }
    if all.first().map(String::as_str) == Some("--bench") {
        bench();
        return Ok(());
    }
    if all.first().map(String::as_str) == Some("--message") {
        for text in &all[1..] {
            println!("{text:?}");
            for link in links::extract(text) {
                println!(
                    "  {link:?} -> {:?}",
                    links::inspect(&link, links::builtin_brands_ref(), links::builtin_ref())
                );
            }
        }
        return Ok(());
    }
    while let Some(a) = args.next() {
        let mut val = || args.next().ok_or_else(|| format!("{a} needs a value"));
        match a.as_str() {
            "--csv" => csv = val()?,
            "--out" => out = val()?,
            "--bits" => cfg.bits = val()?.parse().map_err(|e| format!("--bits: {e}"))?,
            "--epochs" => cfg.epochs = val()?.parse().map_err(|e| format!("--epochs: {e}"))?,
            "--lr" => cfg.learning_rate = val()?.parse().map_err(|e| format!("--lr: {e}"))?,
            "--l2" => cfg.l2 = val()?.parse().map_err(|e| format!("--l2: {e}"))?,
            "--seed" => cfg.seed = val()?.parse().map_err(|e| format!("--seed: {e}"))?,
            "--fold-seed" => fold_seed = val()?.parse().map_err(|e| format!("--fold-seed: {e}"))?,
            "--cv-only" => cv_only = true,
            other => return Err(format!("unknown argument {other}")),
        }
    }
    let text = std::fs::read_to_string(&csv).map_err(|e| format!("{csv}: {e}"))?;
    let samples = links::samples_from_csv(&text)?;
    let pos = samples.iter().filter(|s| s.1).count();
    println!("{} samples ({pos} phishing) from {}", samples.len(), file_name(&csv));

    let t = Instant::now();
    let cv = links::cross_validate(&samples, &cfg, FOLDS, fold_seed);
    let mean = cv.mean_accuracy();
    let min = cv.fold_accuracy.iter().copied().fold(f64::INFINITY, f64::min);
    let max = cv.fold_accuracy.iter().copied().fold(0.0, f64::max);
    let sd = (cv.fold_accuracy.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / cv.fold_accuracy.len() as f64).sqrt();
    println!(
        "cv {FOLDS}-fold: bits {} epochs {} lr {} l2 {}: \
         accuracy mean {mean:.4} sd {sd:.4} min {min:.4} max {max:.4} ({:.1}s)",
        cfg.bits,
        cfg.epochs,
        cfg.learning_rate,
        cfg.l2,
        t.elapsed().as_secs_f64()
    );
    println!("folds: {:?}", cv.fold_accuracy.iter().map(|a| format!("{a:.4}")).collect::<Vec<_>>());
    let at_half = metrics::evaluate(&cv.scores, 0.5);
    println!("out-of-fold at 0.5: {}", at_half.to_json());
    let best = metrics::best_f1_threshold(&cv.scores);
    println!("out-of-fold at best-F1 threshold {best:.3}: {}", metrics::evaluate(&cv.scores, best).to_json());
    if cv_only {
        return Ok(());
    }

    let mut model = links::train(&samples, &cfg);
    // The threshold stays at 0.5 unless the out-of-fold best-F1 threshold is clearly better.
    let best_acc = metrics::evaluate(&cv.scores, best).accuracy.unwrap_or(0.0);
    let threshold = if best_acc > at_half.accuracy.unwrap_or(0.0) + 0.002 { best } else { 0.5 };
    model.threshold = threshold as f32;
    model.meta = format!(
        "{}; trained on {} ({} rows, url column only); {FOLDS}-fold cv accuracy {mean:.4} \
         (min {min:.4}, max {max:.4}), roc_auc {:.4}; threshold {threshold:.3}",
        model.meta,
        file_name(&csv),
        samples.len(),
        at_half.roc_auc.unwrap_or(0.0)
    );
    let bytes = model.to_bytes();
    std::fs::write(&out, &bytes).map_err(|e| format!("{out}: {e}"))?;
    println!("wrote {} ({} bytes): {}", file_name(&out), bytes.len(), model.meta);
    Ok(())
}

fn file_name(path: &str) -> &str {
    path.rsplit(['/', '\\']).next().unwrap_or(path)
}

/// Times `extract` alone and `extract` + `inspect` on typical messages.
fn bench() {
    let messages = [
        "[Web발신] 고객님의 택배가 주소불명으로 보관중입니다. 주소 확인 cj-logis.top/a1B2",
        "엄마 나 폰 액정이 깨져서 수리 맡겼어 이 번호로 문자줘 https://bit.ly/3xYzAb",
        "[국민건강보험] 건강검진 결과 안내 http://nhis-or.kr.xyz/check?id=123 및 www.nhis.or.kr 확인",
        "오늘 저녁 7시에 만나요. 장소는 강남역 11번 출구 앞입니다. 늦으면 연락주세요!",
        "Your package is waiting. Confirm delivery at hxxps://parcel-track[.]xyz/confirm",
    ];
    let brands = links::builtin_brands_ref();
    let model = links::builtin_ref();
    let rounds = 200_000;
    let t = Instant::now();
    let mut n = 0;
    for i in 0..rounds {
        n += links::extract(messages[i % messages.len()]).len();
    }
    let per = t.elapsed().as_secs_f64() * 1e6 / rounds as f64;
    println!("extract: {per:.2} µs per message ({n} links)");
    let t = Instant::now();
    let mut risk = 0u64;
    for i in 0..rounds {
        for l in links::extract(messages[i % messages.len()]) {
            risk += u64::from(links::inspect(&l, brands, model).risk);
        }
    }
    let per = t.elapsed().as_secs_f64() * 1e6 / rounds as f64;
    println!("extract + inspect: {per:.2} µs per message (risk sum {risk})");
    let found: Vec<links::RawLink> = messages.iter().flat_map(|m| links::extract(m)).collect();
    let t = Instant::now();
    for i in 0..rounds {
        let l = &found[i % found.len()];
        let ind = indicators::normalise(indicators::IndicatorKind::Url, &l.text);
        std::hint::black_box(ind.as_ref().ok().and_then(indicators::registrable_domain));
    }
    println!(
        "  of which normalise + registrable domain: {:.2} µs per link",
        t.elapsed().as_secs_f64() * 1e6 / rounds as f64
    );
    let t = Instant::now();
    for i in 0..rounds {
        std::hint::black_box(links::url_probability(model, &found[i % found.len()].text));
    }
    println!("  of which url model: {:.2} µs per link", t.elapsed().as_secs_f64() * 1e6 / rounds as f64);
    for m in messages {
        let t = Instant::now();
        let rounds = 50_000;
        for _ in 0..rounds {
            for l in links::extract(m) {
                std::hint::black_box(links::inspect(&l, brands, model));
            }
        }
        println!("  {:.2} µs  {m}", t.elapsed().as_secs_f64() * 1e6 / rounds as f64);
    }
}
