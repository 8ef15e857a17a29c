//! What a backtest found, on the wire: the draft backtest endpoint's body and the last line of
//! `ansim backtest` ([`engine::backtest`] replays the events; this only shows the report).

use engine::backtest::{BacktestReport, Confusion};
use serde::Serialize;
use std::collections::HashMap;
use utoipa::ToSchema;

/// A backtest's result on the wire (the CLI's last line and the API's body).
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct BacktestBody {
    /// Events replayed.
    pub events: u64,
    /// Held or blocked by the draft, not by the active ruleset.
    pub newly_stopped: u64,
    /// Held or blocked by the active ruleset, let through by the draft.
    pub newly_allowed: u64,
    /// `"active→draft"` verdict pairs with their counts.
    pub transitions: HashMap<String, u64>,
    /// Rules behind changed verdicts: `{rule, side: "draft" | "active" | "changed", events}`.
    pub by_rule: Vec<RuleDiff>,
    /// Precision and recall of "hold or block" against labels, when there were labels.
    pub active: Option<Quality>,
    /// The draft's.
    pub draft: Option<Quality>,
    /// Events per second through both rulesets.
    pub events_per_second: f64,
}

/// One rule's part in the diff.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct RuleDiff {
    /// Rule id.
    pub rule: String,
    /// Matched only under `draft`, only under `active`, or `changed` in the draft.
    pub side: String,
    /// Changed events it matched.
    pub events: u64,
}

/// Labelled quality.
#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Quality {
    /// Of stopped events, the share that were fraud.
    pub precision: Option<f64>,
    /// Of fraud events, the share stopped.
    pub recall: Option<f64>,
    /// Fraud stopped.
    pub tp: u64,
    /// Good events stopped.
    pub fp: u64,
    /// Fraud let through.
    pub fn_: u64,
}

fn quality(c: &Confusion) -> Option<Quality> {
    (!c.is_empty()).then(|| Quality { precision: c.precision(), recall: c.recall(), tp: c.tp, fp: c.fp, fn_: c.fn_ })
}

impl From<&BacktestReport> for BacktestBody {
    fn from(r: &BacktestReport) -> Self {
        let mut by_rule: Vec<RuleDiff> = r
            .by_rule
            .iter()
            .map(|((rule, side), n)| RuleDiff { rule: rule.clone(), side: side.to_string(), events: *n })
            .collect();
        by_rule.sort_by(|a, b| b.events.cmp(&a.events).then(a.rule.cmp(&b.rule)));
        BacktestBody {
            events: r.events,
            newly_stopped: r.newly_stopped,
            newly_allowed: r.newly_allowed,
            transitions: r.transitions.iter().map(|((a, b), n)| (format!("{a}→{b}"), *n)).collect(),
            by_rule,
            active: quality(&r.active),
            draft: quality(&r.draft),
            events_per_second: if r.decide_ns == 0 { 0.0 } else { r.events as f64 * 1e9 / r.decide_ns as f64 },
        }
    }
}
