//! Parser robustness: arbitrary strings, and strings built from the language's own tokens,
//! go through `syntax::parse` and `compile_condition` without a panic, and every error carries
//! a span inside the input that starts and ends on character boundaries. Whatever compiles
//! also evaluates without a panic.

use domain::Event;
use proptest::prelude::*;
use proptest::sample::select;
use rules::{Ctx, Diagnostic, Schema, Type};
use std::sync::OnceLock;

/// Tokens of the language, near-misses of them, and characters it rejects.
const TOKENS: &[&str] = &[
    "transfer",
    ".",
    "amount",
    "memo",
    "balance_before",
    "counterparty",
    "bank",
    "event",
    "kind",
    "channel",
    "features",
    "n",
    "b",
    "signals",
    "x",
    "device",
    "rooted",
    "&&",
    "||",
    "!",
    "==",
    "!=",
    "<",
    "<=",
    ">",
    ">=",
    "in",
    "+",
    "-",
    "*",
    "/",
    "%",
    "(",
    ")",
    "[",
    "]",
    ",",
    "'a'",
    "\"b\"",
    "'transfer'",
    "'",
    "\"",
    "'\\d+'",
    "'\\",
    "1",
    "0",
    "-1",
    "1_000",
    "1__0",
    "1_",
    "9223372036854775807",
    "9223372036854775808",
    "99999999999999999999",
    "true",
    "false",
    "has",
    "min",
    "max",
    "abs",
    "len",
    "contains",
    "starts_with",
    "startsWith",
    "matches",
    "'(('",
    "'[0-9]+'",
    "''",
    " ",
    "\t",
    "\n",
    "\\",
    "=",
    "&",
    "|",
    "?",
    "é",
    "한",
    "‘",
    "\u{0}",
    "and",
    "or",
    "not",
    "transfer.amount",
    "event.kind",
    "transfer.memo",
    "features.n",
    "features.b",
    "event.hour",
];

fn schema() -> &'static Schema {
    static S: OnceLock<Schema> = OnceLock::new();
    S.get_or_init(|| {
        let mut s = Schema::new();
        s.declare("features.n", Type::Int);
        s.declare("features.b", Type::Bool);
        s
    })
}

fn event() -> &'static Event {
    static E: OnceLock<Event> = OnceLock::new();
    E.get_or_init(|| {
        Event::from_json(
            r#"{"id":"e1","affiliate":"pay","kind":"transfer","at":"2026-11-26T02:14:05+09:00",
                "subject":{"id":"u1"},"transfer":{"amount":4800000,"memo":"refund",
                "counterparty":{"bank":"088","account":"110-123-456789"}}}"#,
            None,
        )
        .expect("valid event")
    })
}

fn assert_span_ok(src: &str, d: &Diagnostic) {
    assert!(
        d.span.start <= d.span.end && d.span.end <= src.len(),
        "span {:?} of [{}] outside 0..{} for {src:?}",
        d.span,
        d.code,
        src.len()
    );
    assert!(
        src.is_char_boundary(d.span.start) && src.is_char_boundary(d.span.end),
        "span {:?} of [{}] splits a character in {src:?}",
        d.span,
        d.code
    );
    assert!(!d.code.is_empty() && !d.message.is_empty());
    // Rendering must not panic either, wherever the span is.
    let _ = d.render("input", src);
}

/// Runs the whole pipeline on `src` and checks every error.
fn exercise(src: &str) {
    match rules::syntax::parse(src) {
        Ok(e) => assert!(e.span.end <= src.len(), "expression span {:?} outside {src:?}", e.span),
        Err(d) => assert_span_ok(src, &d),
    }
    match rules::compile_condition(src, schema()) {
        Ok(c) => {
            let slots = [Some(3), None];
            let _ = c.eval(&Ctx::new(event(), &slots));
        }
        Err(d) => assert_span_ok(src, &d),
    }
}

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec((select(TOKENS), prop::bool::weighted(0.3)), 0..40).prop_map(|ts| {
        ts.into_iter().fold(String::new(), |mut s, (t, space)| {
            s.push_str(t);
            if space {
                s.push(' ');
            }
            s
        })
    })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2048, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_text_never_panics(src in any::<String>()) {
        exercise(&src);
    }

    #[test]
    fn token_soup_never_panics(src in token_soup()) {
        exercise(&src);
    }

    #[test]
    fn mangled_valid_rules_never_panic(
        cut in any::<prop::sample::Index>(),
        insert in select(TOKENS),
        base in select(&[
            "transfer.amount >= 1_000_000 && device.rooted",
            "event.kind in ['transfer', 'payment'] || !(features.n > 3)",
            "transfer.memo.matches('^[0-9]+$') && has(transfer.balance_before)",
            "min(transfer.amount, features.n * 2) % 7 != -1",
        ][..]),
    ) {
        // Insert a token at a random character boundary of a rule that compiles.
        let at = base.char_indices().map(|(i, _)| i).chain([base.len()]).nth(cut.index(base.len() + 1)).unwrap_or(0);
        let src = format!("{}{insert}{}", &base[..at], &base[at..]);
        exercise(&src);
    }
}

#[test]
fn pathological_inputs_are_errors_not_crashes() {
    let cases = [
        "(".repeat(10_000),
        ")".repeat(10_000),
        "!".repeat(10_000),
        "-".repeat(10_000),
        "[".repeat(10_000),
        "a.".repeat(5_000),
        "f(".repeat(5_000),
        "x".repeat(rules::syntax::MAX_EXPR_LEN + 1),
        "'".repeat(3),
        "\"\\".to_string(),
        "é".repeat(100),
    ];
    for src in &cases {
        exercise(src);
        assert!(rules::syntax::parse(src).is_err(), "{src:.40} parsed");
    }
}

/// Regression: a long flat chain such as `1 + 1 + ... + 1` or `a || b || ...` used to build a
/// tree as deep as the chain is long, and checking it overflowed the stack (an abort, not a
/// panic) at about 150 links in a debug build. Arithmetic chains now count towards the depth
/// limit, and runs of `&&` / `||` become balanced trees, so both are safe on a 2 MiB test thread.
#[test]
fn long_chains_do_not_overflow_the_stack() {
    let long_sum = format!("{}1 > 0", "1 + ".repeat(3000));
    let err = rules::compile_condition(&long_sum, schema()).expect_err("3000 links are too deep");
    assert_eq!(err.code, "too-deep");
    assert_span_ok(&long_sum, &err);
    let sum_62 = format!("{}1 > 0", "features.n + ".repeat(62));
    let ctx = Ctx::new(event(), &[Some(3), None]);
    assert!(rules::compile_condition(&sum_62, schema()).expect("62 links are fine").eval(&ctx));

    let n = 800;
    let long_or = format!("{}features.n == 3", "features.n == 1 || ".repeat(n));
    let long_and = format!("{}features.n == 1", "features.n > 0 && ".repeat(n));
    assert!(long_or.len() <= rules::syntax::MAX_EXPR_LEN);
    for (src, want) in [(&long_or, true), (&long_and, false)] {
        let expr = rules::syntax::parse(src).expect("a long flat chain parses");
        assert_eq!(expr.span, 0..src.len());
        let compiled = rules::compile_condition(src, schema()).expect("a long flat chain compiles");
        assert_eq!(compiled.eval(&ctx), want);
        assert_eq!(rules::reference::eval(&expr, schema(), &ctx), rules::reference::Value::Bool(want));
    }
}
