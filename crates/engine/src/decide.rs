//! `decide`: one event through a snapshot. Features update, signals fill, rules evaluate,
//! verdict and score combine, and the reasons and guidance a user sees are assembled.

use crate::ruleset::Snapshot;
use domain::{Confirm, Decision, Event, Evidence, Guidance, MatchedRule, Shield, Verdict};
use rules::schema::Ctx;
use signals::FeatureState;

/// Mutable state a decision needs: the feature state plus reusable scratch buffers, so the
/// hot path allocates only the decision it returns.
#[derive(Debug, Default)]
pub struct DecideState {
    /// Streaming feature state (plain data; snapshot it to persist).
    pub features: FeatureState,
    slots: Vec<Option<i64>>,
    matched: Vec<u32>,
    /// Shadow rules that matched the last event (recorded, never acted on).
    shadow: Vec<u32>,
    /// The model's input vector of the last event.
    inputs: Vec<f32>,
    /// `hold` and `block` rules that matched the last event because their arithmetic
    /// overflowed (fail closed); shown as evidence.
    overflowed: Vec<u32>,
}

impl DecideState {
    /// Empty state.
    pub fn new() -> Self {
        DecideState::default()
    }

    /// State restored from a saved feature state.
    pub fn from_features(features: FeatureState) -> Self {
        DecideState { features, ..DecideState::default() }
    }

    /// The slot values (features, signals, model score) the last event was decided on, in the
    /// snapshot's slot order: what a condition compiled against its schema reads.
    pub fn slots(&self) -> &[Option<i64>] {
        &self.slots
    }

    /// Indices (into the snapshot's rules) of the rules that matched the last event, shadow
    /// rules excluded.
    pub fn matched_rules(&self) -> &[u32] {
        &self.matched
    }

    /// Indices of the shadow rules that matched the last event.
    pub fn shadow_rules(&self) -> &[u32] {
        &self.shadow
    }
}

/// What matched for an event, before a [`Decision`] is assembled (for benchmarks and backtests
/// that only need the indices).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Matched {
    /// Combined verdict.
    pub verdict: Verdict,
    /// Combined score.
    pub score: u8,
    /// Rules that matched.
    pub rules: usize,
}

/// Decides on `event` with the rules of `snap`, updating `state`'s features.
pub fn decide(snap: &Snapshot, state: &mut DecideState, event: &Event) -> Decision {
    let m = decide_at(snap, state, event);
    assemble(snap, state, event, m)
}

/// [`decide`] with the features already counted elsewhere (a feature store shared by several
/// nodes): `features` holds one value per definition of `snap.features`, in order, and
/// `state.features` is neither read nor updated.
pub fn decide_with(snap: &Snapshot, state: &mut DecideState, event: &Event, features: &[Option<i64>]) -> Decision {
    let n = snap.slot_count();
    state.slots.clear();
    state.slots.resize(n, None);
    let nf = snap.features.len().min(features.len());
    state.slots[..nf].copy_from_slice(&features[..nf]);
    provide(snap, state, event);
    let m = evaluate(snap, state, event);
    assemble(snap, state, event, m)
}

/// Counts `event` in the features and fills the signal slots: everything a decision reads
/// before the model and the rules. Training replays events through this same function, so a
/// model sees online exactly what it was trained on. Returns the slots.
pub fn prepare<'a>(snap: &Snapshot, state: &'a mut DecideState, event: &Event) -> &'a [Option<i64>] {
    let n = snap.slot_count();
    state.slots.clear();
    state.slots.resize(n, None);
    let nf = snap.features.len();
    state.features.observe(&snap.features, event, &mut state.slots[..nf]);
    provide(snap, state, event);
    &state.slots
}

/// Fills the signal providers' slots.
fn provide(snap: &Snapshot, state: &mut DecideState, event: &Event) {
    for (p, range) in &snap.providers {
        p.provide(event, &mut state.slots[range.clone()]);
    }
}

/// The model's input vector for `event` after [`prepare`] (what training feeds the model).
pub fn model_inputs<'a>(snap: &Snapshot, state: &'a mut DecideState, event: &Event) -> &'a [f32] {
    let DecideState { slots, inputs, .. } = state;
    snap.model_vector(event, slots, inputs);
    inputs
}

/// Runs the features, signals, the model and the rules and returns only the combined outcome;
/// the matched rule indices stay in `state` for [`decide`] to assemble.
pub fn decide_at(snap: &Snapshot, state: &mut DecideState, event: &Event) -> Matched {
    prepare(snap, state, event);
    evaluate(snap, state, event)
}

/// The model and the rules over slots already filled.
fn evaluate(snap: &Snapshot, state: &mut DecideState, event: &Event) -> Matched {
    if let Some(m) = &snap.model {
        let DecideState { slots, inputs, .. } = &mut *state;
        snap.model_vector(event, slots, inputs);
        let p = m.probability(inputs);
        slots[snap.model_slot] = Some((f64::from(p) * 1000.0).round() as i64);
    }
    let ctx = Ctx::new(event, &state.slots);
    state.matched.clear();
    state.shadow.clear();
    state.overflowed.clear();
    let mut verdict = Verdict::Allow;
    let mut score: i32 = 0;
    for (i, r) in snap.rules.iter().enumerate() {
        let mut hit = r.enabled && r.cond.eval(&ctx);
        // Arithmetic that overflowed is an absent value, so its comparison is false; a rule
        // that holds or blocks must not be switched off by that: it fails closed.
        if ctx.overflowed() && ctx.take_overflow() && !hit && r.enabled && r.verdict >= Verdict::Hold {
            hit = true;
            state.overflowed.push(i as u32);
        }
        if hit {
            if r.shadow {
                state.shadow.push(i as u32);
                continue;
            }
            state.matched.push(i as u32);
            verdict = verdict.max(r.verdict);
            score += r.score;
        }
    }
    let score = score.clamp(0, 100) as u8;
    let verdict = verdict.max(snap.thresholds.verdict(score));
    Matched { verdict, score, rules: state.matched.len() }
}

fn assemble(snap: &Snapshot, state: &DecideState, event: &Event, m: Matched) -> Decision {
    let mut matched: Vec<&crate::CompiledRule> = state.matched.iter().map(|&i| &snap.rules[i as usize]).collect();
    matched.sort_by(|a, b| b.verdict.cmp(&a.verdict).then(b.score.cmp(&a.score)));
    let reasons: Vec<MatchedRule> = matched
        .iter()
        .map(|r| MatchedRule {
            rule: r.id.clone(),
            verdict: r.verdict,
            score: r.score,
            ko: r.ko.clone(),
            en: r.en.clone(),
            tags: r.tags.clone(),
        })
        .collect();
    // The shield describes the recipient: the verdict and the registry's word on it, never a
    // rule that matched on the way to an allow (a counting rule, an own-account transfer).
    let by_verdict = match m.verdict {
        Verdict::Allow => Shield::Safe,
        Verdict::Warn => Shield::Caution,
        Verdict::Hold | Verdict::Block => Shield::Danger,
    };
    let slot = |i: usize| state.slots.get(i).copied().flatten().is_some_and(|v| v != 0);
    let by_registry = if slot(snap.registry_slots.1) {
        Shield::Danger
    } else if slot(snap.registry_slots.0) {
        Shield::Caution
    } else {
        Shield::Safe
    };
    let shield = by_verdict.max(by_registry);
    let hold_minutes = (m.verdict == Verdict::Hold).then(|| {
        matched
            .iter()
            .filter(|r| r.verdict == Verdict::Hold)
            .filter_map(|r| r.hold_minutes)
            .max()
            .unwrap_or(snap.default_hold_minutes)
    });
    let confirm = (m.verdict == Verdict::Warn).then(|| {
        // The strongest warning speaks; an explicit dialog text wins over the reason.
        let top = matched.iter().find(|r| r.verdict == Verdict::Warn).or(matched.first());
        match top {
            Some(r) => r.confirm.clone().unwrap_or_else(|| Confirm {
                ko: format!("{} 그래도 계속하시겠습니까?", r.ko),
                en: format!("{} Do you still want to continue?", r.en),
            }),
            None => Confirm {
                ko: "위험 신호가 여러 개 확인되었습니다. 그래도 계속하시겠습니까?".into(),
                en: "Several risk signals were found. Do you still want to continue?".into(),
            },
        }
    });
    let mut slots: Vec<usize> = matched.iter().flat_map(|r| r.cond.slots().iter().copied()).collect();
    slots.sort_unstable();
    slots.dedup();
    let reads_model = slots.contains(&snap.model_slot);
    let mut evidence: Vec<Evidence> = slots
        .into_iter()
        .map(|i| {
            let slot = &snap.schema.slots[i];
            let v = state.slots.get(i).copied().flatten();
            let value = match (slot.ty, v) {
                (_, None) => serde_json::Value::Null,
                (rules::Type::Bool, Some(v)) => serde_json::Value::Bool(v != 0),
                (_, Some(v)) => serde_json::Value::from(v),
            };
            Evidence { name: slot.name.as_str().into(), value }
        })
        .collect();
    // A rule that read the model's score shows why: the inputs that moved the score most,
    // each with its contribution to the margin (path attribution).
    if let (true, Some(m), Some(inputs)) = (reads_model, &snap.model, &snap.model_inputs) {
        let contributions = m.contributions(&state.inputs);
        let mut top: Vec<(usize, f32)> =
            contributions.iter().copied().take(inputs.names.len()).enumerate().filter(|(_, c)| *c != 0.0).collect();
        top.sort_by(|a, b| b.1.abs().total_cmp(&a.1.abs()));
        for (i, c) in top.into_iter().take(5) {
            evidence.push(Evidence {
                name: format!("model: {}", inputs.names[i]).into(),
                value: serde_json::json!({ "value": state.inputs.get(i).copied().filter(|v| v.is_finite()), "contribution": (f64::from(c) * 1000.0).round() / 1000.0 }),
            });
        }
    }
    for &i in &state.overflowed {
        evidence.push(Evidence {
            name: "arithmetic overflow".into(),
            value: serde_json::Value::from(&*snap.rules[i as usize].id),
        });
    }
    let shadow = state.shadow.iter().map(|&i| snap.rules[i as usize].id.clone()).collect();
    Decision {
        event_id: event.id.clone(),
        verdict: m.verdict,
        score: m.score,
        reasons,
        guidance: Guidance { shield, hold_minutes, confirm },
        ruleset: snap.label.clone(),
        evidence,
        analysis: event.analysis.clone(),
        shadow,
    }
}
