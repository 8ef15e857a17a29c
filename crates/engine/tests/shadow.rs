//! Shadow rules: evaluated on every event and recorded with the decision, never changing its
//! verdict, score, reasons or guidance, whatever they say.

use domain::{Event, Verdict};
use engine::{DecideState, Snapshot, decide};

const RULES: &str = r#"
[ruleset]
name = "t"
version = 1

[ruleset.thresholds]
hold = 50

[[rule]]
id = "large"
when = "transfer.amount >= 1_000_000"
verdict = "warn"
score = 20
reason = { ko = "큰 금액", en = "Large amount" }

[[rule]]
id = "try-block-everything"
when = "transfer.amount >= 1"
verdict = "block"
score = 100
shadow = true
reason = { ko = "시험 중", en = "Being tried" }
"#;

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
fn shadow_rules_are_recorded_and_never_change_a_verdict() {
    let with = Snapshot::compile(RULES).unwrap();
    let without = Snapshot::compile(&RULES.replace("shadow = true\n", "enabled = false\n")).unwrap();
    for (i, amount) in [5, 999_999, 1_000_000, 50_000_000].into_iter().enumerate() {
        let e = transfer(&format!("e{i}"), amount);
        let a = decide(&with, &mut DecideState::new(), &e);
        let b = decide(&without, &mut DecideState::new(), &e);
        assert_eq!(a.shadow.iter().map(|s| &**s).collect::<Vec<_>>(), ["try-block-everything"]);
        assert!(b.shadow.is_empty());
        assert_eq!((a.verdict, a.score, &a.reasons, &a.guidance), (b.verdict, b.score, &b.reasons, &b.guidance));
        assert!(a.verdict < Verdict::Block, "the shadow block never acts");
    }
}
