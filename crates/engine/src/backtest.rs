//! Backtest: replay the same events through the active ruleset and a draft, each with its own
//! feature state per affiliate (the same [`Replay`] as `ansim replay`), and report what would change: verdict transitions, events newly held or
//! blocked and newly let through, the rules responsible, and precision and recall of
//! "hold or block" against labels where they exist. Pure; callers bring the events (a file, or
//! an affiliate's stored events) and show progress.

use crate::replay::Replay;
use crate::ruleset::Snapshot;
use domain::{Event, Verdict};
use std::collections::BTreeMap;

/// The running comparison.
#[derive(Debug, Default)]
pub struct Backtest {
    base: Replay,
    draft: Replay,
    /// Result so far.
    pub report: BacktestReport,
}

/// What a draft would change.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BacktestReport {
    /// Events replayed.
    pub events: u64,
    /// `(active verdict, draft verdict)` → events.
    pub transitions: BTreeMap<(Verdict, Verdict), u64>,
    /// Events the draft holds or blocks that the active ruleset did not.
    pub newly_stopped: u64,
    /// Events the active ruleset held or blocked that the draft lets through.
    pub newly_allowed: u64,
    /// For events whose verdict changed: rules that matched only under the draft (`draft`),
    /// only under the active ruleset (`active`), or under both with another verdict or score
    /// (`changed`) → events.
    pub by_rule: BTreeMap<(String, &'static str), u64>,
    /// Labelled outcomes of "hold or block" under the active ruleset, then the draft.
    pub active: Confusion,
    /// The draft's.
    pub draft: Confusion,
    /// Time spent deciding (both rulesets), ns.
    pub decide_ns: u64,
}

/// Counts against labels.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Confusion {
    /// Fraud stopped.
    pub tp: u64,
    /// Good events stopped.
    pub fp: u64,
    /// Good events let through.
    pub tn: u64,
    /// Fraud let through.
    pub fn_: u64,
}

impl Confusion {
    fn add(&mut self, stopped: bool, fraud: bool) {
        match (stopped, fraud) {
            (true, true) => self.tp += 1,
            (true, false) => self.fp += 1,
            (false, false) => self.tn += 1,
            (false, true) => self.fn_ += 1,
        }
    }

    /// tp / (tp + fp).
    pub fn precision(&self) -> Option<f64> {
        let d = self.tp + self.fp;
        (d > 0).then(|| self.tp as f64 / d as f64)
    }

    /// tp / (tp + fn).
    pub fn recall(&self) -> Option<f64> {
        let d = self.tp + self.fn_;
        (d > 0).then(|| self.tp as f64 / d as f64)
    }

    /// Whether any labelled event was seen.
    pub fn is_empty(&self) -> bool {
        self.tp + self.fp + self.tn + self.fn_ == 0
    }
}

fn stopped(v: Verdict) -> bool {
    v >= Verdict::Hold
}

impl Backtest {
    /// A fresh comparison (empty feature state for both rulesets).
    pub fn new() -> Backtest {
        Backtest::default()
    }

    /// Replays one event through both; `fraud` is its label when known.
    pub fn step(&mut self, base: &Snapshot, draft: &Snapshot, event: &Event, fraud: Option<bool>) {
        let t = std::time::Instant::now();
        let (a, a_state) = self.base.decide_at(base, event);
        // Disjoint fields: both states stay borrowed, nothing is copied for unchanged events.
        let a_rules = a_state.matched_rules();
        let (b, b_state) = self.draft.decide_at(draft, event);
        let b_rules = b_state.matched_rules();
        self.report.decide_ns += t.elapsed().as_nanos() as u64;
        let r = &mut self.report;
        r.events += 1;
        *r.transitions.entry((a.verdict, b.verdict)).or_default() += 1;
        if let Some(f) = fraud {
            r.active.add(stopped(a.verdict), f);
            r.draft.add(stopped(b.verdict), f);
        }
        if a.verdict == b.verdict {
            return;
        }
        match (stopped(a.verdict), stopped(b.verdict)) {
            (false, true) => r.newly_stopped += 1,
            (true, false) => r.newly_allowed += 1,
            _ => {}
        }
        let a_rules: Vec<&crate::CompiledRule> = a_rules.iter().map(|&i| &base.rules[i as usize]).collect();
        let b_rules: Vec<&crate::CompiledRule> = b_rules.iter().map(|&i| &draft.rules[i as usize]).collect();
        for b in &b_rules {
            match a_rules.iter().find(|a| a.id == b.id) {
                None => *r.by_rule.entry((b.id.to_string(), "draft")).or_default() += 1,
                // The same rule, edited: its verdict or score differs between the two.
                Some(a) if a.verdict != b.verdict || a.score != b.score => {
                    *r.by_rule.entry((b.id.to_string(), "changed")).or_default() += 1
                }
                Some(_) => {}
            }
        }
        for a in a_rules.iter().filter(|a| !b_rules.iter().any(|b| b.id == a.id)) {
            *r.by_rule.entry((a.id.to_string(), "active")).or_default() += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snap(extra: &str) -> Snapshot {
        Snapshot::compile(&format!(
            "[ruleset]\nname = \"t\"\nversion = 1\n\n[[rule]]\nid = \"big\"\nwhen = \"transfer.amount >= 1_000_000\"\nverdict = \"hold\"\nreason = {{ ko = \"큰 금액\", en = \"Large\" }}\n{extra}"
        ))
        .unwrap()
    }

    fn transfer(id: &str, amount: i64) -> Event {
        Event::from_json(
            &format!(
                r#"{{"id":"{id}","affiliate":"pay","kind":"transfer","at":"2026-11-26T10:00:00+09:00","subject":{{"id":"u1"}},
                   "transfer":{{"amount":{amount},"counterparty":{{"bank":"004","account":"123456789"}}}}}}"#
            ),
            None,
        )
        .unwrap()
    }

    #[test]
    fn counts_the_known_diff() {
        let base = snap("");
        let draft = snap(
            "\n[[rule]]\nid = \"medium\"\nwhen = \"transfer.amount >= 500_000\"\nverdict = \"block\"\nreason = { ko = \"중간\", en = \"Medium\" }\n",
        );
        let mut bt = Backtest::new();
        for (i, (amount, fraud)) in
            [(100, false), (600_000, true), (700_000, false), (2_000_000, true)].iter().enumerate()
        {
            bt.step(&base, &draft, &transfer(&format!("e{i}"), *amount), Some(*fraud));
        }
        let r = &bt.report;
        assert_eq!(r.events, 4);
        assert_eq!(r.newly_stopped, 2, "600k and 700k are newly blocked");
        assert_eq!(r.newly_allowed, 0);
        assert_eq!(r.transitions[&(Verdict::Allow, Verdict::Block)], 2);
        assert_eq!(r.transitions[&(Verdict::Hold, Verdict::Block)], 1);
        assert_eq!(r.by_rule[&("medium".to_string(), "draft")], 3);
        assert_eq!((r.active.tp, r.active.fp, r.active.fn_), (1, 0, 1));
        assert_eq!((r.draft.tp, r.draft.fp, r.draft.fn_), (2, 1, 0));
        assert_eq!(r.draft.recall(), Some(1.0));
        assert_eq!(r.active.precision(), Some(1.0));
    }
}
