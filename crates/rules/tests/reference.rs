//! Differential property test: random well-typed expressions over every kind of field
//! (numbers that may be absent, true/false, text, enumerated text, feature slots), with every
//! operator, evaluated on random events with random optional parts and extreme values. For
//! every expression that passes `check`, the compiled closures must agree with the reference
//! interpreter: `Compiled::eval(..) == (reference::eval(..) == Value::Bool(true))`.

use domain::Event;
use proptest::prelude::*;
use proptest::sample::select;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use rules::reference::{self, Value};
use rules::{Ctx, Schema, Type};
use serde_json::{Value as Json, json};
use std::cell::Cell;

const INT_FIELDS: &[&str] = &[
    "transfer.amount",
    "transfer.balance_before",
    "transfer.balance_after",
    "event.amount",
    "event.hour",
    "event.weekday",
    "subject.account_age_days",
    "counterparty.account_age_days",
    "device.usim_changed_days",
    "login.failed_attempts",
    "payment.amount",
    "contact.mutual_friends",
    "features.n",
    "features.k",
];
const BOOL_FIELDS: &[&str] = &[
    "device.rooted",
    "device.remote_control_app",
    "ip.proxy",
    "ip.foreign",
    "transfer.own_account",
    "counterparty.is_friend",
    "counterparty.foreign",
    "login.success",
    "message.has_attachment",
    "features.b",
];
const STR_FIELDS: &[&str] = &[
    "transfer.memo",
    "counterparty.bank",
    "counterparty.account_key",
    "counterparty.phone",
    "message.text",
    "login.method",
    "ip.country",
    "payment.merchant.category",
];
/// Enumerated fields with their values; comparing one with a literal outside the list is a
/// check error, so the generator compares them with known values only.
const ENUMS: &[(&str, &[&str])] = &[
    ("event.kind", &["transfer", "login", "payment", "message", "account_change", "contact"]),
    ("event.channel", &["app", "web", "open_chat", "atm"]),
    ("subject.age_band", &["20s", "60s", "70s"]),
    ("account_change.change", &["password", "limit_increase", "protection_off"]),
];
const TEXTS: &[&str] = &["", "a", "088", "004:1234567", "refund", "대출", "KR", "password", "gift_card", "http"];
const PATTERNS: &[&str] = &["^a", "[0-9]+", "refund|loan", "^$", ".", "대출", "^0[0-9]{2}:"];
/// Numbers with a taste for the edges, so overflow and sign handling are exercised.
const INTS: &[i64] = &[0, 1, -1, 2, 3, 7, 10, 100, 1_000_000, i64::MAX, i64::MAX - 1, -i64::MAX, i64::MIN];

fn int_lit() -> impl Strategy<Value = String> {
    // `i64::MIN` cannot be written as a literal (its magnitude does not fit), so it becomes an
    // expression that computes it.
    prop_oneof![select(INTS), -1000i64..1000].prop_map(|n| match n {
        i64::MIN => "(-9223372036854775807 - 1)".to_string(),
        n => n.to_string(),
    })
}

fn text_lit() -> impl Strategy<Value = String> {
    select(TEXTS).prop_map(|s| format!("'{s}'"))
}

fn text_expr() -> BoxedStrategy<String> {
    prop_oneof![
        3 => text_lit(),
        4 => select(STR_FIELDS).prop_map(String::from),
        1 => select(ENUMS).prop_map(|(f, _)| f.to_string()),
    ]
    .boxed()
}

fn int_expr() -> BoxedStrategy<String> {
    let leaf = prop_oneof![int_lit(), select(INT_FIELDS).prop_map(String::from)];
    leaf.prop_recursive(3, 12, 2, |inner| {
        prop_oneof![
            4 => (inner.clone(), select(&["+", "-", "*", "/", "%"][..]), inner.clone())
                .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            1 => inner.clone().prop_map(|a| format!("-{a}")),
            1 => inner.clone().prop_map(|a| format!("-({a})")),
            1 => (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("min({a}, {b})")),
            1 => (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("max({a}, {b})")),
            1 => inner.clone().prop_map(|a| format!("abs({a})")),
            1 => text_expr().prop_map(|s| format!("len({s})")),
        ]
    })
    .boxed()
}

fn bool_atom() -> BoxedStrategy<String> {
    let cmp = select(&["==", "!=", "<", "<=", ">", ">="][..]);
    let eq = select(&["==", "!="][..]);
    prop_oneof![
        1 => any::<bool>().prop_map(|b| b.to_string()),
        3 => select(BOOL_FIELDS).prop_map(String::from),
        6 => (int_expr(), cmp, int_expr()).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
        3 => (text_expr(), eq.clone(), text_expr()).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
        3 => (select(ENUMS), eq.clone(), any::<prop::sample::Index>(), any::<bool>()).prop_map(|((f, vals), op, i, flip)| {
            let v = vals[i.index(vals.len())];
            if flip { format!("('{v}' {op} {f})") } else { format!("({f} {op} '{v}')") }
        }),
        2 => (select(ENUMS), prop::collection::vec(any::<prop::sample::Index>(), 1..4))
            .prop_map(|((f, vals), is)| {
                let items: Vec<String> = is.iter().map(|i| format!("'{}'", vals[i.index(vals.len())])).collect();
                format!("({f} in [{}])", items.join(", "))
            }),
        2 => (int_expr(), prop::collection::vec(int_lit(), 1..12))
            .prop_map(|(a, items)| format!("({a} in [{}])", items.join(", "))),
        2 => (text_expr(), prop::collection::vec(text_lit(), 1..12))
            .prop_map(|(a, items)| format!("({a} in [{}])", items.join(", "))),
        3 => (text_expr(), select(&["contains", "starts_with", "ends_with"][..]), text_expr())
            .prop_map(|(h, m, n)| format!("{h}.{m}({n})")),
        1 => (text_expr(), select(PATTERNS)).prop_map(|(h, p)| format!("{h}.matches('{p}')")),
        2 => select([INT_FIELDS, BOOL_FIELDS, STR_FIELDS, &["event.kind", "event.channel", "subject.age_band"]].concat())
            .prop_map(|f| format!("has({f})")),
        1 => (select(BOOL_FIELDS), eq, select(BOOL_FIELDS)).prop_map(|(a, op, b)| format!("({a} {op} {b})")),
    ]
    .boxed()
}

fn bool_expr() -> BoxedStrategy<String> {
    bool_atom()
        .prop_recursive(3, 16, 3, |inner| {
            prop_oneof![
                2 => (inner.clone(), select(&["&&", "||"][..]), inner.clone())
                    .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
                1 => inner.clone().prop_map(|a| format!("!{a}")),
                1 => (inner.clone(), select(&["==", "!="][..]), inner.clone())
                    .prop_map(|(a, op, b)| format!("({a} {op} {b})")),
            ]
        })
        .boxed()
}

/// Reads random choices from a vector of dice; once the dice run out every choice is the
/// first option, so shrinking the dice towards zero shrinks the event towards a simple one.
struct Dice<'a>(&'a [u64], Cell<usize>);

impl Dice<'_> {
    fn roll(&self) -> u64 {
        let i = self.1.get();
        self.1.set(i + 1);
        self.0.get(i).copied().unwrap_or(0)
    }
    fn pick<T: Copy>(&self, xs: &[T]) -> T {
        xs[(self.roll() % xs.len() as u64) as usize]
    }
    fn chance(&self, percent: u64) -> bool {
        self.roll() % 100 < percent
    }
    fn maybe(&self, percent: u64, v: Json) -> Json {
        if self.chance(percent) { v } else { Json::Null }
    }
    fn int(&self) -> i64 {
        if self.chance(70) { self.pick(INTS) } else { self.roll() as i64 }
    }
    /// A positive amount an event may carry (events bound money at `domain::MAX_KRW`; the
    /// extremes of arithmetic are reached through the slots).
    fn amount(&self) -> i64 {
        (self.int().unsigned_abs().clamp(1, domain::MAX_KRW as u64)) as i64
    }
    /// A balance an event may carry.
    fn money(&self) -> i64 {
        self.int().clamp(-domain::MAX_KRW, domain::MAX_KRW)
    }
}

fn strip_nulls(v: &mut Json) {
    if let Json::Object(m) = v {
        m.retain(|_, x| !x.is_null());
        m.values_mut().for_each(strip_nulls);
    }
}

/// A random valid event as JSON: any kind, random optional parts, values from the edges.
fn event_json(d: &Dice<'_>) -> String {
    let kind = d.pick(&[
        "transfer",
        "login",
        "payment",
        "message",
        "account_change",
        "contact",
        "device_scan",
        "loan_application",
    ]);
    let at = d.pick(&["2026-11-26T02:14:05+09:00", "2026-11-29T23:59:59+09:00", "1970-01-01T00:00:00Z"]);
    let text = |d: &Dice<'_>| json!(d.pick(&["refund", "대출 상환", "http://bit.ly/x 택배", "", "a", "088"]));
    let counterparty = |d: &Dice<'_>| {
        let account = d.chance(60);
        json!({
            "bank": if account { json!(d.pick(&["088", "004"])) } else { Json::Null },
            "account": if account { json!(d.pick(&["110-123-456789", "1234567"])) } else { Json::Null },
            "phone": if account { d.maybe(50, json!("010-1234-5678")) } else { json!("+855-12-345") },
            "is_friend": d.maybe(50, json!(d.chance(50))),
            "foreign": d.maybe(50, json!(d.chance(50))),
            "account_age_days": d.maybe(50, json!(d.int())),
        })
    };
    let body = match kind {
        "transfer" => json!({
            "amount": d.amount(),
            "balance_before": d.maybe(60, json!(d.money())),
            "own_account": d.chance(20),
            "memo": d.maybe(50, text(d)),
            "counterparty": counterparty(d),
        }),
        "login" => json!({
            "method": d.maybe(50, json!(d.pick(&["password", "biometric"]))),
            "success": d.chance(50),
            "failed_attempts": d.int(),
        }),
        "payment" => json!({
            "amount": d.amount(),
            "merchant": { "id": "m1", "category": d.maybe(50, json!(d.pick(&["gift_card", "crypto"]))) },
            "method": d.maybe(50, json!("card")),
            "balance_before": d.maybe(50, json!(d.money())),
        }),
        "message" => json!({ "sender": counterparty(d), "text": text(d), "has_attachment": d.chance(50) }),
        "account_change" => json!({ "change": d.pick(&["password", "limit_increase", "protection_off", "email"]) }),
        "contact" => {
            json!({ "counterparty": { "profile": "p1", "is_friend": d.maybe(50, json!(false)) }, "mutual_friends": d.int() })
        }
        "device_scan" => json!({ "apps": ["com.x"], "remote_control_app": d.chance(50) }),
        _ => json!({ "amount": d.amount(), "product": d.maybe(50, json!("credit")), "remote": d.chance(50) }),
    };
    let mut e = json!({
        "id": "e1",
        "affiliate": "pay",
        "kind": kind,
        "at": at,
        "channel": d.maybe(50, json!(d.pick(&["app", "web", "atm"]))),
        "subject": {
            "id": "u1",
            "age_band": d.maybe(50, json!(d.pick(&["20s", "60s", "70s"]))),
            "account_age_days": d.maybe(50, json!(d.int())),
        },
        "device": d.maybe(60, json!({
            "id": "d1",
            "rooted": d.chance(50),
            "remote_control_app": d.chance(50),
            "usim_changed_days": d.maybe(50, json!(d.int())),
        })),
        "ip": d.maybe(60, json!({
            "addr": "203.0.113.7",
            "country": d.maybe(70, json!(d.pick(&["KR", "CN"]))),
            "proxy": d.chance(30),
        })),
    });
    e[kind] = body;
    strip_nulls(&mut e);
    e.to_string()
}

fn schema() -> Schema {
    let mut s = Schema::new();
    s.declare("features.n", Type::Int);
    s.declare("features.b", Type::Bool);
    s.declare("features.k", Type::Int);
    s
}

#[test]
fn compiled_closures_agree_with_the_reference_interpreter() {
    let schema = schema();
    let int_slot = || prop_oneof![Just(None), select(INTS).prop_map(Some), (-3i64..3).prop_map(Some)];
    let bool_slot = prop_oneof![Just(None), Just(Some(0)), Just(Some(1))];
    let strategy = (
        prop::collection::vec(any::<u64>(), 48),
        (int_slot(), bool_slot, int_slot()).prop_map(|(n, b, k)| vec![n, b, k]),
        prop::collection::vec(bool_expr(), 1..6),
    );
    let checked = Cell::new(0usize);
    let total = Cell::new(0usize);
    let (trues, falses) = (Cell::new(0usize), Cell::new(0usize));
    let mut runner = TestRunner::new(Config { cases: 512, failure_persistence: None, ..Config::default() });
    let result = runner.run(&strategy, |(dice, slots, exprs)| {
        let json = event_json(&Dice(&dice, Cell::new(0)));
        let event = Event::from_json(&json, None).map_err(|e| TestCaseError::fail(format!("bad event {json}: {e}")))?;
        let ctx = Ctx::new(&event, &slots);
        for src in &exprs {
            total.set(total.get() + 1);
            let expr =
                rules::syntax::parse(src).map_err(|d| TestCaseError::fail(format!("`{src}` does not parse: {d}")))?;
            let Ok(b) = rules::check::check_condition(&expr, &schema) else { continue };
            checked.set(checked.get() + 1);
            let compiled = rules::compile(&b).eval(&ctx);
            let reference = reference::eval(&expr, &schema, &ctx);
            prop_assert_eq!(
                compiled,
                reference == Value::Bool(true),
                "`{}` on {} with slots {:?}: reference gave {:?}",
                src,
                json,
                slots,
                reference
            );
            if compiled { trues.set(trues.get() + 1) } else { falses.set(falses.get() + 1) }
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
    eprintln!("{} of {} expressions checked; {} true, {} false", checked.get(), total.get(), trues.get(), falses.get());
    // The generator is only useful if most of what it writes type-checks and both outcomes occur.
    assert!(
        checked.get() * 10 >= total.get() * 7,
        "only {} of {} expressions passed check",
        checked.get(),
        total.get()
    );
    assert!(
        trues.get() * 10 >= checked.get() && falses.get() * 10 >= checked.get(),
        "true {} false {}",
        trues.get(),
        falses.get()
    );
}

/// No input makes rule arithmetic wrap: for any slot values, `a * b + c` and `a - b * c` are
/// either the exact result (computed in 128 bits) or absent with the overflow flag raised;
/// a division by zero is absent without it.
#[test]
fn arithmetic_never_wraps() {
    use proptest::prelude::*;
    let mut s = Schema::new();
    s.declare("features.a", Type::Int);
    s.declare("features.b", Type::Int);
    s.declare("features.c", Type::Int);
    // Each: the text, then its intermediate product and its result, exactly.
    type Exact = fn(i128, i128, i128) -> (i128, i128);
    let exprs: [(&str, Exact); 2] = [
        ("features.a * features.b + features.c >= 0", |a, b, c| (a * b, a * b + c)),
        ("features.a - features.b * features.c >= 0", |a, b, c| (b * c, a - b * c)),
    ];
    let compiled: Vec<_> = exprs.iter().map(|(e, _)| rules::compile_condition(e, &s).unwrap()).collect();
    let event = Event::from_json(
        r#"{"id":"x","affiliate":"a","kind":"login","at":"2026-11-26T10:00:00+09:00","subject":{"id":"u"}}"#,
        None,
    )
    .unwrap();
    let mut runner = proptest::test_runner::TestRunner::new(proptest::test_runner::Config::with_cases(2_000));
    let edge = prop_oneof![Just(i64::MAX), Just(i64::MIN), Just(-1i64), Just(0i64), any::<i64>(), -1_000i64..1_000];
    runner
        .run(&(edge.clone(), edge.clone(), edge), |(a, b, c)| {
            let slots = [Some(a), Some(b), Some(c)];
            for ((_, exact), cond) in exprs.iter().zip(&compiled) {
                let ctx = Ctx::new(&event, &slots);
                let got = cond.eval(&ctx);
                let (step, want) = exact(a.into(), b.into(), c.into());
                // The intermediate product may overflow even when the result would fit.
                if i64::try_from(step).is_ok() && i64::try_from(want).is_ok() {
                    prop_assert_eq!(got, want >= 0);
                    prop_assert!(!ctx.overflowed());
                } else {
                    prop_assert!(!got, "an overflowing comparison is not a match");
                    prop_assert!(ctx.overflowed(), "{a} {b} {c}: the overflow is reported");
                }
            }
            let zero = [Some(a), Some(0), Some(c)];
            let ctx = Ctx::new(&event, &zero);
            let div = rules::compile_condition("features.a / features.b >= 0", &s).unwrap();
            prop_assert!(!div.eval(&ctx) && !ctx.overflowed(), "division by zero is absent, not overflow");
            Ok(())
        })
        .unwrap();
}
