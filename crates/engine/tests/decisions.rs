//! Data-driven decision tests: every `test_data/decisions/*.toml` scenario runs its events
//! through `decide` in order (features accumulate) and checks each step's verdict, score,
//! matched rules in order, shield, hold minutes, confirm text and evidence.

mod common;

use engine::{DecideState, Snapshot, decide};
use serde_json::Value;

fn check(path: &std::path::Path) -> usize {
    let sc = common::Scenario::load(path);
    let name = &sc.name;
    let snap = Snapshot::compile(&sc.ruleset).unwrap_or_else(|d| panic!("{name}: {d:?}"));
    let mut state = DecideState::new();
    for (i, step) in sc.steps.iter().enumerate() {
        let event = sc.event(i);
        let d = decide(&snap, &mut state, &event);
        assert_eq!(d.event_id, event.id);
        assert_eq!(&*d.ruleset, &*snap.label);
        let json = serde_json::to_value(&d).unwrap();
        let Some(expect) = step.get("expect").and_then(Value::as_object) else { continue };
        let ctx = || format!("{name}, step {i}: {}", serde_json::to_string_pretty(&json).unwrap());
        for (k, want) in expect {
            let got = match k.as_str() {
                "verdict" => json["verdict"].clone(),
                "score" => json["score"].clone(),
                "rules" => Value::from(d.reasons.iter().map(|r| r.rule.to_string()).collect::<Vec<_>>()),
                "rules_include" => {
                    let ids: Vec<&str> = d.reasons.iter().map(|r| &*r.rule).collect();
                    for w in want.as_array().unwrap() {
                        assert!(ids.contains(&w.as_str().unwrap()), "missing rule {w}: {}", ctx());
                    }
                    continue;
                }
                "shield" => json["guidance"]["shield"].clone(),
                "hold_minutes" => json["guidance"]["hold_minutes"].clone(),
                "confirm_en" => json["guidance"]["confirm"]["en"].clone(),
                "evidence" => {
                    Value::from(d.evidence.iter().map(|e| format!("{}={}", e.name, e.value)).collect::<Vec<_>>())
                }
                other => panic!("{name}: unknown expectation {other}"),
            };
            assert_eq!(&got, want, "{k} in {}", ctx());
        }
    }
    sc.steps.len()
}

#[test]
fn decision_scenarios() {
    let files = common::fixtures("decisions", "toml");
    assert!(files.len() >= 3);
    let steps: usize = files.iter().map(|f| check(f)).sum();
    assert!(steps >= 20);
}

#[test]
fn verdict_precedence_is_block_hold_warn_allow() {
    use domain::Verdict::*;
    assert!(Block > Hold && Hold > Warn && Warn > Allow);
    assert_eq!([Warn, Block, Allow, Hold].into_iter().max(), Some(Block));
}
