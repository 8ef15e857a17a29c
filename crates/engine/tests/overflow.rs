//! Arithmetic in rules never wraps, and an overflow never quietly switches a rule off: money
//! fields are bounded when an event is read, and an overflow in a `hold` or `block` rule's
//! condition counts as a hit (fail closed), recorded as evidence; in a `warn` or `allow` rule it
//! stays a non-match. Regression: `transfer.amount * 100` overflowed at amount = balance =
//! 92,233,720,368,547,759 and the verdict dropped from block 90 to warn 20.

use engine::{DecideState, Snapshot, decide};

const RULES: &str = r#"
[ruleset]
name = "pay"
version = 1

[[rule]]
id = "drain"
when = "transfer.amount * transfer.balance_before >= 1"
verdict = "block"
score = 90
reason = { ko = "잔액을 모두 보냅니다.", en = "Sends the whole balance." }

[[rule]]
id = "large"
when = "transfer.amount * transfer.amount >= 1"
verdict = "warn"
score = 20
reason = { ko = "큰 금액", en = "Large amount" }
"#;

fn transfer(amount: i64, balance: i64) -> Result<domain::Event, domain::EventError> {
    domain::Event::from_json(
        &format!(
            r#"{{"id":"o","affiliate":"pay","kind":"transfer","at":"2026-11-26T10:00:00+09:00","subject":{{"id":"u1"}},
               "transfer":{{"amount":{amount},"balance_before":{balance},"counterparty":{{"bank":"088","account":"110123456789"}}}}}}"#
        ),
        None,
    )
}

#[test]
fn money_beyond_any_balance_is_refused_when_read() {
    let e = transfer(92_233_720_368_547_759, 92_233_720_368_547_759).unwrap_err();
    assert_eq!(e.field, "transfer.amount", "{e}");
    assert!(e.message.contains("at most"), "{e}");
    let e = transfer(1_000, 92_233_720_368_547_759).unwrap_err();
    assert_eq!(e.field, "transfer.balance_before", "{e}");
    assert!(transfer(domain::MAX_KRW, domain::MAX_KRW).is_ok(), "the bound itself is accepted");
}

#[test]
fn an_overflow_in_a_block_rule_counts_as_a_hit_and_says_so() {
    let snap = Snapshot::compile(RULES).unwrap();
    // Within bounds, the product of two large amounts still overflows i64.
    let e = transfer(domain::MAX_KRW, domain::MAX_KRW).unwrap();
    let d = decide(&snap, &mut DecideState::new(), &e);
    assert_eq!(d.verdict, domain::Verdict::Block, "{d:?}");
    let rules: Vec<&str> = d.reasons.iter().map(|r| &*r.rule).collect();
    assert_eq!(rules, ["drain"], "the warn rule's overflow is a non-match: {d:?}");
    assert!(
        d.evidence.iter().any(|e| &*e.name == "arithmetic overflow" && e.value == serde_json::json!("drain")),
        "{:?}",
        d.evidence
    );
    // Without overflow both rules decide as written.
    let d = decide(&snap, &mut DecideState::new(), &transfer(3, 5).unwrap());
    assert_eq!(d.reasons.len(), 2);
    assert!(d.evidence.iter().all(|e| &*e.name != "arithmetic overflow"));
}
