//! Stage-1 message and link analysis throughput, printed as a table (a plain `main`):
//! `cargo bench -p ansim-bench --bench messages`.
//!
//! The corpus is every message of the Korean suite (`test_data/messages/korean.toml`: scams
//! with links and evasion tricks, and ordinary messages) and the English SMS sample
//! (`test_data/datasets/sms-spam.sample.tsv`). Each stage is timed over the whole corpus in
//! interleaved rounds on one thread, and the median round gives nanoseconds per message and
//! messages per second per core:
//!
//! * `baseline: regex rules` — the four regular expressions the sample ruleset used on message
//!   text before stage-1 analysis existed (institution, family, smishing keywords, look-alike
//!   links), run with the `regex` crate: what a regex-rule filter costs on the same text;
//! * `normalise` — NFKC, invisible characters, look-alikes, compact form;
//! * `typology detectors` — normalise plus the Aho–Corasick phrase pass;
//! * `text model` — normalise, structural evidence, features and the linear model (links
//!   are the next stage's);
//! * `links` — extraction and inspection of every link;
//! * `full analysis` — `Analyzer::message`, everything a decision runs.
//!
//! Ratios are against the regex baseline measured in the same run.

use bench::{percentile, repo_path};
use detect::{Analyzer, evidence, links, normalize, text, typology};
use std::hint::black_box;
use std::time::Instant;

const ROUNDS: usize = 30;
const TARGET_PER_SEC: f64 = 100_000.0;

fn corpus() -> Vec<String> {
    let suite: toml::Table =
        toml::from_str(&std::fs::read_to_string(repo_path("test_data/messages/korean.toml")).expect("suite"))
            .expect("suite parses");
    let mut out: Vec<String> = suite["message"]
        .as_array()
        .expect("messages")
        .iter()
        .filter_map(|m| m["text"].as_str().map(str::to_string))
        .collect();
    let sms = std::fs::read_to_string(repo_path("test_data/datasets/sms-spam.sample.tsv")).expect("sms sample");
    out.extend(sms.lines().skip(1).filter_map(|l| l.split_once('\t').map(|(_, t)| t.to_string())));
    out
}

fn main() {
    let messages = corpus();
    let analyzer = Analyzer::builtin();
    let old_rules: Vec<regex::Regex> = [
        r"(검찰|지검|검사|수사관|금융감독원|금감원|경찰청|경찰서|사이버수사대)(?s:.){0,60}(계좌|안전|이체|조사|범죄|연루)",
        r"(엄마|아빠|딸|아들|이모|삼촌)[^.!?]{0,30}(폰|액정|핸드폰|휴대폰)[^.!?]{0,20}(고장|깨|수리|분실)",
        r"택배|배송|부고|청첩장|모바일 ?초대장|과태료|범칙금|쿠폰|환급|지원금|건강검진",
        r"(?i)https?://[^\s/]*(kakao|naver|toss|kbstar|shinhan|woori|hana|nh|coupang)[^\s/]*\.(xyz|top|info|click|shop|site|online|live|icu)",
    ]
    .iter()
    .map(|r| regex::Regex::new(r).expect("regex"))
    .collect();
    let model = text::builtin();
    let url_model = links::builtin();
    let brands = links::Brands::builtin();

    type Stage<'a> = (&'a str, Box<dyn Fn(&str) -> u64 + 'a>);
    let stages: Vec<Stage> = vec![
        ("baseline: regex rules", Box::new(|m: &str| old_rules.iter().filter(|r| r.is_match(m)).count() as u64)),
        ("normalise", Box::new(|m: &str| normalize::normalize(m).compact.len() as u64)),
        (
            "typology detectors",
            Box::new(|m: &str| {
                let n = normalize::normalize(m);
                typology::detect(&n.compact, typology::Hooks::default()).score as u64
            }),
        ),
        (
            "text model",
            Box::new(|m: &str| {
                // Links are left to the links stage: the model's link features see none here.
                let norm = normalize::normalize(m);
                let evidence = evidence::scan(&norm);
                let p = text::Prepared { norm, links: Vec::new(), evidence, detection: Default::default() };
                (model.probability(&text::features(&p, m, model.bits, model.feature_set)) * 100.0) as u64
            }),
        ),
        (
            "links",
            Box::new(|m: &str| {
                links::extract(m).iter().map(|l| u64::from(links::inspect(l, &brands, &url_model).risk)).sum()
            }),
        ),
        ("full analysis", Box::new(|m: &str| u64::from(analyzer.message(m, None, &[]).risk))),
    ];
    let mut rounds: Vec<Vec<u64>> = vec![Vec::with_capacity(ROUNDS); stages.len()];
    for _ in 0..ROUNDS {
        for (i, (_, f)) in stages.iter().enumerate() {
            let t = Instant::now();
            let mut sink = 0u64;
            for m in &messages {
                sink = sink.wrapping_add(f(black_box(m)));
            }
            black_box(sink);
            rounds[i].push(t.elapsed().as_nanos() as u64);
        }
    }
    let n = messages.len() as f64;
    let median = |v: &mut Vec<u64>| {
        v.sort_unstable();
        percentile(v, 50.0) as f64
    };
    let base = median(&mut rounds[0].clone()) / n;
    println!("{} messages ({} rounds, median round, one thread)\n", messages.len(), ROUNDS);
    println!("{:<24} {:>12} {:>16} {:>14}", "stage", "ns/message", "messages/s/core", "vs baseline");
    for (i, (name, _)) in stages.iter().enumerate() {
        let per = median(&mut rounds[i]) / n;
        println!("{name:<24} {per:>12.0} {:>16.0} {:>13.2}x", 1e9 / per, per / base);
    }
    let full = median(&mut rounds[stages.len() - 1]) / n;
    let rate = 1e9 / full;
    println!(
        "\nfull analysis: {rate:.0} messages/s per core against a budget of {TARGET_PER_SEC:.0}: {}",
        if rate >= TARGET_PER_SEC { "within budget" } else { "OVER BUDGET" }
    );
}
