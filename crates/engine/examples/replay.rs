//! Replays events (JSONL) through a ruleset and prints the decisions that are not a plain
//! `allow`, then a summary: verdict mix, top rules, throughput and, when a labels file sits
//! beside the events (`<name>.labels.jsonl`), how each simulated scenario was decided.
//!
//! `cargo run --release --example replay [-- EVENTS.jsonl [RULESET.toml]]`; the defaults are
//! the fixtures in `test_data/`.

use engine::{DecideState, Snapshot, decide};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::time::Instant;

fn repo_file(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(rel)
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| {
        eprintln!("cannot read {}: {e}", path.display());
        std::process::exit(2);
    })
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let events_path = args.first().map(PathBuf::from).unwrap_or_else(|| repo_file("test_data/events/sample.jsonl"));
    let rules_path = args.get(1).map(PathBuf::from).unwrap_or_else(|| repo_file("test_data/rulesets/sample.toml"));
    let rules_text = read(&rules_path);
    let snap = match Snapshot::compile(&rules_text) {
        Ok(s) => s,
        Err(diags) => {
            for d in &diags {
                eprint!("{}", d.render(&rules_path.display().to_string(), &rules_text));
            }
            std::process::exit(1);
        }
    };
    let text = read(&events_path);
    let mut events = Vec::new();
    for (n, line) in text.lines().enumerate().filter(|(_, l)| !l.trim().is_empty()) {
        match domain::Event::from_json(line, None) {
            Ok(e) => events.push(e),
            Err(e) => {
                eprintln!("{}:{}: {e}", events_path.display(), n + 1);
                std::process::exit(1);
            }
        }
    }
    let labels: HashMap<String, String> = {
        let p = events_path.with_extension("labels.jsonl");
        std::fs::read_to_string(p)
            .map(|t| {
                t.lines()
                    .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
                    .filter_map(|v| Some((v["id"].as_str()?.to_string(), v["scenario"].as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default()
    };

    println!(
        "ruleset {} ({} rules, {} features); {} events from {}",
        snap.label,
        snap.rules.len(),
        snap.features.len(),
        events.len(),
        events_path.display()
    );
    let mut state = DecideState::new();
    let mut decisions = Vec::with_capacity(events.len());
    let t = Instant::now();
    for e in &events {
        decisions.push(decide(&snap, &mut state, e));
    }
    let elapsed = t.elapsed();

    let mut verdicts: BTreeMap<domain::Verdict, usize> = BTreeMap::new();
    let mut rule_hits: HashMap<&str, usize> = HashMap::new();
    let mut by_scenario: BTreeMap<&str, BTreeMap<domain::Verdict, usize>> = BTreeMap::new();
    // Per rule: hits on events of a scam story, hits on normal events.
    let mut per_rule: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for (e, d) in events.iter().zip(&decisions) {
        *verdicts.entry(d.verdict).or_default() += 1;
        for r in &d.reasons {
            *rule_hits.entry(&r.rule).or_default() += 1;
        }
        let scenario = labels.get(e.id.as_str()).map_or("unlabelled", String::as_str);
        for r in &d.reasons {
            let hits = per_rule.entry(&r.rule).or_default();
            if scenario == "normal" { hits.1 += 1 } else { hits.0 += 1 }
        }
        *by_scenario.entry(scenario).or_default().entry(d.verdict).or_default() += 1;
        if d.verdict != domain::Verdict::Allow {
            let why: Vec<String> =
                d.reasons.iter().filter(|r| r.verdict != domain::Verdict::Allow).map(|r| r.ko.to_string()).collect();
            println!(
                "{} {:<16} {:<5} {:>3}  {}  {}",
                e.at,
                e.id,
                d.verdict,
                d.score,
                e.kind().as_str(),
                why.first().map_or("", String::as_str)
            );
        }
    }
    println!();
    println!("verdicts: {}", verdicts.iter().map(|(v, n)| format!("{v} {n}")).collect::<Vec<_>>().join(", "));
    let mut top: Vec<_> = rule_hits.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    println!("top rules: {}", top.iter().take(8).map(|(r, n)| format!("{r} {n}")).collect::<Vec<_>>().join(", "));
    if !labels.is_empty() {
        println!("\n{:<32} {:>6} {:>6} {:>6} {:>6}", "scenario", "allow", "warn", "hold", "block");
        for (s, m) in &by_scenario {
            let g = |v| m.get(&v).copied().unwrap_or(0);
            use domain::Verdict::*;
            println!("{s:<32} {:>6} {:>6} {:>6} {:>6}", g(Allow), g(Warn), g(Hold), g(Block));
        }
        println!("\n{:<40} {:>6} {:>6}", "rule (hits on scam-story / normal events)", "scam", "normal");
        let mut rows: Vec<_> = per_rule.into_iter().collect();
        rows.sort_by(|a, b| (b.1.0 + b.1.1).cmp(&(a.1.0 + a.1.1)).then(a.0.cmp(b.0)));
        for (rule, (scam, normal)) in rows {
            println!("{rule:<40} {scam:>6} {normal:>6}");
        }
    }
    let secs = elapsed.as_secs_f64().max(1e-9);
    println!(
        "\n{} decisions in {:.1} ms: {:.0} decisions/s, {:.2} µs each (one core, in process)",
        events.len(),
        secs * 1e3,
        events.len() as f64 / secs,
        secs * 1e6 / events.len().max(1) as f64
    );
}
