//! `ansim backtest`: replay a JSONL file of events through the active ruleset (the sample one
//! without `--active`) and a draft ([`engine::backtest`]), with a progress bar, and show what
//! the draft would change, by verdict and by rule, with precision and recall where events are
//! labelled. The last line is the report as JSON ([`ansim_http::backtest::BacktestBody`]).

use ansim_http::backtest::BacktestBody;
use engine::Snapshot;
use engine::backtest::Backtest;
use std::collections::HashMap;
use std::io::{BufRead, BufReader, IsTerminal};
use std::path::Path;

fn compile(path: &Path) -> Result<Snapshot, String> {
    let src = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Snapshot::compile(&src).map_err(|d| {
        let rendered: Vec<String> = d.iter().map(|x| x.render(&path.display().to_string(), &src)).collect();
        format!("{} does not compile:\n{}", path.display(), rendered.join("\n"))
    })
}

/// Labels: a JSONL file of `{"id": ..., "scenario": "normal" | <scam story>}` (the
/// simulator's) or `{"id": ..., "fraud": true | false}`.
fn labels(path: &Path) -> Result<HashMap<String, bool>, String> {
    let f = std::fs::File::open(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let mut out = HashMap::new();
    for (i, line) in BufReader::new(f).lines().enumerate() {
        let line = line.map_err(|e| format!("{}: {e}", path.display()))?;
        if line.trim().is_empty() {
            continue;
        }
        let v: serde_json::Value =
            serde_json::from_str(&line).map_err(|e| format!("{}:{}: {e}", path.display(), i + 1))?;
        let id = v["id"].as_str().ok_or_else(|| format!("{}:{}: no \"id\"", path.display(), i + 1))?;
        let fraud = match (&v["fraud"], v["scenario"].as_str()) {
            (serde_json::Value::Bool(b), _) => *b,
            (_, Some(s)) => s != "normal",
            _ => return Err(format!("{}:{}: needs \"fraud\" or \"scenario\"", path.display(), i + 1)),
        };
        out.insert(id.to_string(), fraud);
    }
    Ok(out)
}

/// `ansim backtest`: the draft against the active ruleset (the sample one without `--active`)
/// on a JSONL file of events, with a progress bar; prints a table and, last, one JSON line.
pub fn run(
    draft: &Path,
    events: &Path,
    active: Option<&Path>,
    label_file: Option<&Path>,
) -> Result<BacktestBody, String> {
    let draft_snap = compile(draft)?;
    let active_snap = match active {
        Some(p) => compile(p)?,
        None => Snapshot::compile(crate::demo::SAMPLE_RULESET)
            .map_err(|_| "the sample ruleset does not compile".to_string())?,
    };
    let labels = match label_file {
        Some(p) => Some(labels(p)?),
        None => None,
    };
    let file = std::fs::File::open(events).map_err(|e| format!("cannot read {}: {e}", events.display()))?;
    let size = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = if std::io::stderr().is_terminal() {
        indicatif::ProgressBar::new(size)
    } else {
        indicatif::ProgressBar::hidden()
    };
    let analyzer = detect::Analyzer::builtin();
    let mut bt = Backtest::new();
    let mut reader = BufReader::new(file);
    let mut line = String::new();
    let mut n = 0usize;
    loop {
        line.clear();
        let read = reader.read_line(&mut line).map_err(|e| format!("{}: {e}", events.display()))?;
        if read == 0 {
            break;
        }
        n += 1;
        bar.inc(read as u64);
        if line.trim().is_empty() {
            continue;
        }
        let mut e = domain::Event::from_json(&line, None).map_err(|e| format!("{}:{n}: {e}", events.display()))?;
        analyzer.enrich(&mut e);
        let fraud = labels.as_ref().and_then(|l| l.get(e.id.as_str()).copied());
        bt.step(&active_snap, &draft_snap, &e, fraud);
    }
    bar.finish_and_clear();
    let body = BacktestBody::from(&bt.report);
    println!("{} events: {} active → {} draft", body.events, active_snap.label, draft_snap.label);
    println!("  newly held or blocked  {:>8}", body.newly_stopped);
    println!("  newly let through      {:>8}", body.newly_allowed);
    let mut t: Vec<_> = body.transitions.iter().filter(|(k, _)| !k.starts_with("allow→allow")).collect();
    t.sort();
    for (k, v) in t {
        println!("  {k:<22} {v:>8}");
    }
    for r in body.by_rule.iter().take(15) {
        println!("  rule {:<40} {:<7} {:>8}", r.rule, r.side, r.events);
    }
    for (name, q) in [("active", &body.active), ("draft", &body.draft)] {
        if let Some(q) = q {
            let f = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{:.2}%", v * 100.0));
            println!("  {name:<7} precision {}  recall {}", f(q.precision), f(q.recall));
        }
    }
    println!("{}", serde_json::to_string(&body).unwrap_or_default());
    Ok(body)
}
