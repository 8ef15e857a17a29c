//! Fuzz target: bytes → UTF-8 → `Snapshot::compile`. Crashes on any panic and on a diagnostic
//! whose span lies outside the file or is located at the wrong line and column; a ruleset that
//! compiles is run on a few events so features and decisions are exercised too.
#![no_main]

use domain::Event;
use libfuzzer_sys::fuzz_target;
use rules::diag::line_col;
use std::sync::OnceLock;

fn events() -> &'static [Event] {
    static E: OnceLock<Vec<Event>> = OnceLock::new();
    E.get_or_init(|| {
        [
            r#"{"id":"e1","affiliate":"pay","kind":"transfer","at":"2026-11-26T02:14:05+09:00",
                "subject":{"id":"u1","age_band":"60s"},"device":{"id":"d1","remote_control_app":true},
                "transfer":{"amount":4800000,"balance_before":5000000,"memo":"refund",
                  "counterparty":{"bank":"088","account":"110-123-456789"}}}"#,
            r#"{"id":"e2","affiliate":"pay","kind":"transfer","at":"2026-11-26T02:20:00+09:00",
                "subject":{"id":"u1"},"transfer":{"amount":9223372036854775807,
                  "counterparty":{"bank":"004","account":"123456789"}}}"#,
            r#"{"id":"e3","affiliate":"pay","kind":"login","at":"2026-11-26T03:00:00+09:00",
                "subject":{"id":"u1"},"login":{"success":false,"failed_attempts":3}}"#,
        ]
        .iter()
        .map(|j| Event::from_json(j, None).expect("fixture event"))
        .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(src) = std::str::from_utf8(data) else { return };
    match engine::Snapshot::compile(src) {
        Ok(snap) => {
            let mut state = engine::DecideState::new();
            for e in events() {
                let _ = engine::decide(&snap, &mut state, e);
            }
        }
        Err(diags) => {
            assert!(!diags.is_empty(), "compile failed without a diagnostic");
            for d in &diags {
                assert!(
                    d.span.start <= d.span.end && d.span.end <= src.len(),
                    "[{}] span {:?} outside 0..{}",
                    d.code,
                    d.span,
                    src.len()
                );
                assert!(
                    src.is_char_boundary(d.span.start) && src.is_char_boundary(d.span.end),
                    "[{}] span splits a char",
                    d.code
                );
                assert_eq!(d.line_col, Some(line_col(src, d.span.start)), "[{}] located wrongly", d.code);
                let _ = d.render("fuzz.toml", src);
            }
        }
    }
});
