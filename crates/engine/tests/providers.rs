//! The signal-provider seam: a provider declares typed `signals.*` names, rules read them,
//! `decide` fills them per event, and a rule naming an undeclared signal does not compile.

use domain::{Event, EventBody, Verdict};
use engine::{DecideState, Snapshot, decide};
use rules::Type;
use signals::SignalProvider;
use std::collections::HashSet;
use std::sync::Arc;

/// Stands in for the shared indicator registry of a later issue: accounts reported for fraud.
struct Reported(HashSet<String>);

impl SignalProvider for Reported {
    fn declare(&self) -> Vec<(String, Type)> {
        vec![("counterparty_reported".into(), Type::Bool), ("reports".into(), Type::Int)]
    }

    fn provide(&self, event: &Event, out: &mut [Option<i64>]) {
        if let EventBody::Transfer(t) = &event.body {
            let hit = t.counterparty.account_key.as_ref().is_some_and(|k| self.0.contains(k));
            out[0] = Some(i64::from(hit));
            out[1] = Some(if hit { 3 } else { 0 });
        }
    }
}

const RULES: &str = r#"
[ruleset]
name = "pay"
version = 7

[[feature]]
name = "transfers_1h"
kind = "count"
key = "subject.id"
window = "1h"

[[rule]]
id = "counterparty-reported"
when = "signals.counterparty_reported && signals.reports >= 2"
verdict = "hold"
score = 70
hold_minutes = 30
reason = { ko = "다른 서비스에서 사기 신고된 계좌입니다.", en = "This account was reported for fraud at another service." }
"#;

fn transfer(account: &str) -> Event {
    Event::from_json(
        &format!(
            r#"{{"id":"t","affiliate":"pay","kind":"transfer","at":"2026-11-26T10:00:00+09:00","subject":{{"id":"u1"}},
               "transfer":{{"amount":10000,"counterparty":{{"bank":"088","account":"{account}"}}}}}}"#
        ),
        None,
    )
    .unwrap()
}

#[test]
fn rules_read_provider_signals() {
    let provider: Arc<dyn SignalProvider> = Arc::new(Reported(["088:110123456789".to_string()].into()));
    let snap = Snapshot::compile_with(RULES, vec![provider]).unwrap();
    // One feature, the provider's two signals, then the standard registry signals it did not
    // declare itself (they read as absent), then the model's score.
    assert_eq!(snap.slot_count(), 1 + 2 + engine::STANDARD_SIGNALS.len() - 1 + 1);
    let mut state = DecideState::new();
    let d = decide(&snap, &mut state, &transfer("110-123-456789"));
    assert_eq!(d.verdict, Verdict::Hold);
    assert_eq!(d.guidance.hold_minutes, Some(30));
    let ev: Vec<String> = d.evidence.iter().map(|e| format!("{}={}", e.name, e.value)).collect();
    assert_eq!(ev, ["signals.counterparty_reported=true", "signals.reports=3"]);
    let d = decide(&snap, &mut state, &transfer("220-123-456789"));
    assert_eq!(d.verdict, Verdict::Allow);
}

#[test]
fn undeclared_signals_do_not_compile() {
    let diags = Snapshot::compile(RULES).unwrap_err();
    assert_eq!(diags[0].code, "unknown-signal");
}
