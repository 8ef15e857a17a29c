//! The transaction model inside `decide`: the `[model]` inputs turn events into the vectors
//! the model is trained on (through `prepare` and `model_inputs`, the code `decide` runs), the
//! trained model is attached, `model.score` is its calibrated probability per mille, a rule
//! reads it, and the decision explains the score with the inputs that moved it most.

use domain::{Event, Verdict};
use engine::{DecideState, Snapshot, decide, model_inputs, prepare};
use std::sync::Arc;

const RULES: &str = r#"
[ruleset]
name = "m"
version = 1

[[feature]]
name = "sent_1h"
kind = "sum"
key = "subject.id"
value = "event.amount"
window = "1h"
where = "event.kind == 'transfer'"

[model]
inputs = ["event.amount", "transfer.balance_before", "transfer.amount == transfer.balance_before", "features.sent_1h"]

[[rule]]
id = "model-high"
when = "model.score >= 0.9"
verdict = "hold"
reason = { ko = "사기 거래와 비슷합니다", en = "Looks like fraud" }
"#;

fn transfer(i: usize, amount: i64, balance: i64) -> Event {
    Event::from_json(
        &format!(
            r#"{{"id":"e{i}","affiliate":"pay","kind":"transfer","at":"2026-11-26T10:{:02}:{:02}+09:00","subject":{{"id":"u{i}"}},
               "transfer":{{"amount":{amount},"balance_before":{balance},"counterparty":{{"bank":"004","account":"123456789"}}}}}}"#,
            (i / 60) % 60,
            i % 60
        ),
        None,
    )
    .unwrap()
}

/// Fraud drains the whole balance; ordinary transfers leave some.
fn sample(i: usize) -> (Event, bool) {
    let fraud = i.is_multiple_of(5);
    let balance = 100_000 + (i as i64 * 7_919) % 5_000_000;
    let amount = if fraud { balance } else { (balance / 3).max(1) };
    (transfer(i, amount, balance), fraud)
}

#[test]
fn decide_scores_with_the_model_it_was_trained_with_and_explains_it() {
    let mut snap = Snapshot::compile(RULES).unwrap();
    let names = snap.model_inputs.as_ref().unwrap().names.clone();
    assert_eq!(names.len(), 4);

    // Training vectors through the same pipeline decide runs.
    let mut state = DecideState::new();
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for i in 0..2_000 {
        let (e, fraud) = sample(i);
        prepare(&snap, &mut state, &e);
        x.extend_from_slice(model_inputs(&snap, &mut state, &e));
        y.push(fraud);
    }
    let data = model::Dataset::new(names.clone(), x, y).unwrap();
    let params = model::Params { trees: 30, seed: 3, ..model::Params::default() };
    let gbdt = model::train(&data, &params).unwrap();

    // A model trained for other inputs is refused.
    let mut wrong = gbdt.clone();
    wrong.features.reverse();
    assert!(snap.attach_model(Arc::new(wrong)).is_err());
    snap.attach_model(Arc::new(gbdt)).unwrap();

    let mut state = DecideState::new();
    let drained = decide(&snap, &mut state, &transfer(90_001, 2_345_678, 2_345_678));
    assert_eq!(drained.verdict, Verdict::Hold, "{drained:?}");
    let score = drained.evidence.iter().find(|e| &*e.name == "model.score").unwrap().value.as_i64().unwrap();
    assert!(score >= 900, "{score}");
    let explained: Vec<&str> =
        drained.evidence.iter().filter(|e| e.name.starts_with("model: ")).map(|e| &*e.name).collect();
    assert!(
        explained.contains(&"model: transfer.amount == transfer.balance_before"),
        "the drain input explains the score: {explained:?}"
    );
    let ordinary = decide(&snap, &mut state, &transfer(90_002, 100_000, 2_000_000));
    assert_eq!(ordinary.verdict, Verdict::Allow, "{ordinary:?}");
}
