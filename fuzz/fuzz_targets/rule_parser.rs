//! Fuzz target: bytes → UTF-8 → `syntax::parse` → `check` → `compile` → evaluation on fixed
//! events. Crashes on any panic, on an error span outside the input, and on any disagreement
//! between the compiled closures and the reference interpreter.
#![no_main]

use domain::Event;
use libfuzzer_sys::fuzz_target;
use rules::reference::{self, Value};
use rules::{Ctx, Diagnostic, Schema, Type};
use std::sync::OnceLock;

struct Fixture {
    schema: Schema,
    events: Vec<Event>,
}

fn fixture() -> &'static Fixture {
    static F: OnceLock<Fixture> = OnceLock::new();
    F.get_or_init(|| {
        let mut schema = Schema::new();
        schema.declare("features.n", Type::Int);
        schema.declare("features.b", Type::Bool);
        schema.declare("signals.reported", Type::Bool);
        let events = [
            r#"{"id":"e1","affiliate":"pay","kind":"transfer","at":"2026-11-26T02:14:05+09:00","channel":"app",
                "subject":{"id":"u1","age_band":"60s","account_age_days":1200},
                "device":{"id":"d1","remote_control_app":true},"ip":{"addr":"203.0.113.7","country":"KR"},
                "transfer":{"amount":9223372036854775807,"balance_before":5000000,"memo":"대출 refund",
                  "counterparty":{"bank":"088","account":"110-123-456789","is_friend":false}}}"#,
            r#"{"id":"e2","affiliate":"pay","kind":"login","at":"2026-11-26T23:00:00+09:00",
                "subject":{"id":"u2"},"login":{"method":"password","success":false,"failed_attempts":0}}"#,
        ];
        let events = events.iter().map(|j| Event::from_json(j, None).expect("fixture event")).collect();
        Fixture { schema, events }
    })
}

fn check_span(src: &str, d: &Diagnostic) {
    assert!(
        d.span.start <= d.span.end && d.span.end <= src.len(),
        "[{}] span {:?} outside 0..{}",
        d.code,
        d.span,
        src.len()
    );
    assert!(src.is_char_boundary(d.span.start) && src.is_char_boundary(d.span.end), "[{}] span splits a char", d.code);
    let _ = d.render("fuzz", src);
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    let f = fixture();
    let expr = match rules::syntax::parse(src) {
        Ok(e) => e,
        Err(d) => return check_span(src, &d),
    };
    let typed = match rules::check::check_condition(&expr, &f.schema) {
        Ok(b) => b,
        Err(d) => return check_span(src, &d),
    };
    let compiled = rules::compile(&typed);
    for event in &f.events {
        for slots in [[Some(0), Some(1), None], [Some(i64::MIN), None, Some(0)]] {
            let ctx = Ctx::new(event, &slots);
            let got = compiled.eval(&ctx);
            let want = reference::eval(&expr, &f.schema, &ctx) == Value::Bool(true);
            assert_eq!(got, want, "compiled and reference disagree on {src:?}");
        }
    }
});
