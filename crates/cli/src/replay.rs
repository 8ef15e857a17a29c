//! `ansim replay`: events (JSONL) through a ruleset in process, with no server and no store,
//! to decisions (JSONL, one [`OutcomeBody`] per line). Each affiliate gets its own feature
//! state, as on the server. A progress bar runs on stderr; a summary (verdict mix, top rules,
//! throughput) follows.

use ansim_http::wire::OutcomeBody;
use domain::{Event, Verdict};
use engine::{Replay, Snapshot};
use indicatif::{ProgressBar, ProgressStyle};
use std::collections::HashMap;
use std::fmt::Write as _;
use std::io::{BufRead, BufReader, BufWriter, Write};
use std::path::Path;
use std::time::{Duration, Instant};

/// What a replay found.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    /// Events decided.
    pub events: u64,
    /// Decisions per verdict, in precedence order.
    pub verdicts: [(Verdict, u64); 4],
    /// Hits per rule, most first.
    pub top_rules: Vec<(String, u64)>,
    /// Time spent deciding (not reading or writing).
    pub decide_time: Duration,
    /// Time of the whole run.
    pub wall_time: Duration,
}

impl Summary {
    /// The summary as a small table.
    pub fn render(&self, ruleset: &str) -> String {
        let mut s = String::new();
        let n = self.events.max(1) as f64;
        let _ = writeln!(s, "{} events decided by {ruleset}\n", self.events);
        let _ = writeln!(s, "{:<8} {:>10} {:>7}", "verdict", "events", "share");
        for (v, c) in self.verdicts {
            let _ = writeln!(s, "{:<8} {c:>10} {:>6.2}%", v.as_str(), c as f64 * 100.0 / n);
        }
        if !self.top_rules.is_empty() {
            let _ = writeln!(s, "\n{:<44} {:>8}", "top rules", "hits");
            for (r, c) in self.top_rules.iter().take(10) {
                let _ = writeln!(s, "{r:<44} {c:>8}");
            }
        }
        let decide = self.decide_time.as_secs_f64().max(1e-9);
        let wall = self.wall_time.as_secs_f64().max(1e-9);
        let _ = writeln!(
            s,
            "\n{:.0} events/s deciding ({:.2} µs each), {:.0} events/s end to end with JSON in and out",
            self.events as f64 / decide,
            decide * 1e6 / n,
            self.events as f64 / wall
        );
        s
    }
}

/// Compiles `rules_text` or returns its rendered diagnostics.
pub fn compile(rules_text: &str, rules_name: &str) -> Result<Snapshot, String> {
    Snapshot::compile(rules_text).map_err(|diags| {
        let mut s = String::new();
        for d in &diags {
            s.push_str(&d.render(rules_name, rules_text));
        }
        let _ = write!(s, "{}: {} error(s)", rules_name, diags.len());
        s
    })
}

/// Replays `events` through `snap`, writing one decision per line to `out`.
pub fn run(snap: &Snapshot, events: &Path, out: &mut dyn Write, progress: bool) -> Result<Summary, String> {
    let started = Instant::now();
    let file = std::fs::File::open(events).map_err(|e| format!("cannot read {}: {e}", events.display()))?;
    let len = file.metadata().map(|m| m.len()).unwrap_or(0);
    let bar = if progress { ProgressBar::new(len) } else { ProgressBar::hidden() };
    bar.set_style(
        ProgressStyle::with_template("{spinner} {bar:40} {bytes}/{total_bytes} {per_sec} {msg}")
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
    );
    let mut reader = BufReader::new(file);
    let mut out = BufWriter::new(out);
    let analyzer = detect::Analyzer::builtin();
    let mut replay = Replay::new();
    let mut summary = Summary {
        events: 0,
        verdicts: Verdict::ALL.map(|v| (v, 0)),
        top_rules: Vec::new(),
        decide_time: Duration::ZERO,
        wall_time: Duration::ZERO,
    };
    let mut hits: HashMap<String, u64> = HashMap::new();
    let mut line = String::new();
    let mut n = 0usize;
    let mut unread = 0u64;
    loop {
        line.clear();
        let read = reader.read_line(&mut line).map_err(|e| format!("{}: {e}", events.display()))?;
        if read == 0 {
            break;
        }
        n += 1;
        unread += read as u64;
        if n == 1 && line.starts_with(crate::BOM) {
            line.drain(..crate::BOM.len_utf8());
        }
        if line.trim().is_empty() {
            continue;
        }
        let mut event = Event::from_json(&line, None).map_err(|e| format!("{}:{n}: {e}", events.display()))?;
        let t = Instant::now();
        analyzer.enrich(&mut event);
        let d = replay.decide(snap, &event);
        summary.decide_time += t.elapsed();
        summary.events += 1;
        let i = Verdict::ALL.iter().position(|v| *v == d.verdict).unwrap_or(0);
        summary.verdicts[i].1 += 1;
        for r in &d.reasons {
            *hits.entry(r.rule.to_string()).or_default() += 1;
        }
        serde_json::to_writer(&mut out, &OutcomeBody::from(&d)).map_err(|e| format!("cannot write: {e}"))?;
        out.write_all(b"\n").map_err(|e| format!("cannot write: {e}"))?;
        if unread >= 64 * 1024 {
            bar.inc(unread);
            unread = 0;
        }
    }
    out.flush().map_err(|e| format!("cannot write: {e}"))?;
    bar.finish_and_clear();
    let mut top: Vec<(String, u64)> = hits.into_iter().collect();
    top.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    summary.top_rules = top;
    summary.wall_time = started.elapsed();
    Ok(summary)
}
