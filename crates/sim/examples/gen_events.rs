//! Writes simulated traffic as JSON lines: `N` events (default 3000) from the default
//! [`SimConfig`] (seed 7) to stdout, one event JSON per line, exactly as `Event::from_json`
//! accepts it. With a second argument, also writes the labels there, one
//! `{"id":...,"scenario":...}` per line in the same order. An optional third argument sets the
//! seed.
//!
//! ```text
//! cargo run -p ansim-sim --example gen_events -- 3000 test_data/events/sample.labels.jsonl \
//!     > test_data/events/sample.jsonl
//! ```

use sim::{SimConfig, Simulator};
use std::io::{BufWriter, Write};
use std::process::ExitCode;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("gen_events: {e}");
            eprintln!("usage: gen_events [N] [LABELS_PATH] [SEED]");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let n: usize = match args.first() {
        Some(a) => a.parse().map_err(|_| format!("N must be a number of events, got {a:?}"))?,
        None => 3000,
    };
    let labels_path = args.get(1);
    let mut cfg = SimConfig::default();
    if let Some(a) = args.get(2) {
        cfg.seed = a.parse().map_err(|_| format!("SEED must be an unsigned integer, got {a:?}"))?;
    }
    let mut labels = match labels_path {
        Some(path) => {
            let file = std::fs::File::create(path).map_err(|e| format!("cannot create {path}: {e}"))?;
            Some(BufWriter::new(file))
        }
        None => None,
    };
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    for l in Simulator::new(cfg).take(n) {
        writeln!(out, "{}", l.event.to_json()).map_err(|e| format!("stdout: {e}"))?;
        if let Some(w) = &mut labels {
            writeln!(w, "{}", l.label_json()).map_err(|e| format!("labels: {e}"))?;
        }
    }
    out.flush().map_err(|e| format!("stdout: {e}"))?;
    if let Some(w) = &mut labels {
        w.flush().map_err(|e| format!("labels: {e}"))?;
    }
    Ok(())
}
