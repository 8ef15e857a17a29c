//! Operator coverage, data-driven: every `[[case]]` of `test_data/rules/expressions.toml` is
//! evaluated with the compiled closures and with the reference interpreter, and both must give
//! the case's `expect`. The test also requires the table to use every operator and function of
//! the language, so a new operator cannot go untested.

use domain::Event;
use rules::reference::{self, Value};
use rules::syntax::{self, BinOp, Expr, ExprKind, UnOp};
use rules::{Ctx, Schema, Type};
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

const TABLE: &str = "test_data/rules/expressions.toml";

/// The schema the cases are checked against: the built-in fields plus two feature slots.
fn schema() -> Schema {
    let mut s = Schema::new();
    assert_eq!(s.declare("features.n", Type::Int), 0);
    assert_eq!(s.declare("features.b", Type::Bool), 1);
    s
}

/// One row of the table.
struct Case {
    expr: String,
    event: String,
    slots: Vec<Option<i64>>,
    expect: bool,
}

fn load() -> (BTreeMap<String, Event>, Vec<Case>) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..").join(TABLE);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let doc: toml::Table = toml::from_str(&text).unwrap_or_else(|e| panic!("{TABLE}: {e}"));
    let tables = |key: &str| -> Vec<toml::Table> {
        doc.get(key)
            .and_then(toml::Value::as_array)
            .unwrap_or_else(|| panic!("{TABLE} has no [[{key}]]"))
            .iter()
            .map(|v| v.as_table().unwrap_or_else(|| panic!("[[{key}]] must be tables")).clone())
            .collect()
    };
    let text_of = |t: &toml::Table, key: &str| -> String {
        t.get(key).and_then(toml::Value::as_str).unwrap_or_else(|| panic!("missing text `{key}` in {t:?}")).to_string()
    };

    let mut events = BTreeMap::new();
    for t in tables("event") {
        let (name, json) = (text_of(&t, "name"), text_of(&t, "json"));
        let event = Event::from_json(&json, None).unwrap_or_else(|e| panic!("event `{name}`: {e}"));
        assert!(events.insert(name.clone(), event).is_none(), "event `{name}` defined twice");
    }

    let mut cases = Vec::new();
    for t in tables("case") {
        let mut slots = vec![None, None];
        if let Some(f) = t.get("features") {
            let f = f.as_table().expect("`features` is a table");
            for (k, v) in f {
                match (k.as_str(), v) {
                    ("n", toml::Value::Integer(n)) => slots[0] = Some(*n),
                    ("b", toml::Value::Boolean(b)) => slots[1] = Some(i64::from(*b)),
                    _ => panic!("unknown feature value {k} = {v:?} (features are n: number, b: true/false)"),
                }
            }
        }
        cases.push(Case {
            expr: text_of(&t, "expr"),
            event: text_of(&t, "event"),
            slots,
            expect: t.get("expect").and_then(toml::Value::as_bool).expect("`expect` is true or false"),
        });
    }
    (events, cases)
}

/// Evaluates one case both ways; `Err` says what differs.
fn check(case: &Case, events: &BTreeMap<String, Event>, schema: &Schema) -> Result<(), String> {
    let inline;
    let event = if case.event.trim_start().starts_with('{') {
        inline = Event::from_json(&case.event, None).map_err(|e| format!("inline event: {e}"))?;
        &inline
    } else {
        events.get(&case.event).ok_or_else(|| format!("no event named `{}`", case.event))?
    };
    let ctx = Ctx::new(event, &case.slots);
    let compiled = rules::compile_condition(&case.expr, schema).map_err(|d| format!("does not compile: {d}"))?;
    let expr = syntax::parse(&case.expr).map_err(|d| format!("does not parse: {d}"))?;
    let by_closure = compiled.eval(&ctx);
    let by_reference = reference::eval(&expr, schema, &ctx);
    if by_closure != case.expect || by_reference != Value::Bool(case.expect) {
        return Err(format!("expected {}, compiled gave {by_closure}, reference gave {by_reference:?}", case.expect));
    }
    Ok(())
}

/// Every operator, method and function name used in `e`.
fn collect_ops(e: &Expr, out: &mut BTreeSet<String>) {
    match &e.kind {
        ExprKind::Int(_) | ExprKind::Decimal(_) | ExprKind::Str(_) | ExprKind::Bool(_) | ExprKind::Path(_) => {}
        ExprKind::List(xs) => xs.iter().for_each(|x| collect_ops(x, out)),
        ExprKind::Unary(op, x) => {
            out.insert(if *op == UnOp::Not { "!" } else { "unary -" }.to_string());
            collect_ops(x, out);
        }
        ExprKind::Binary(op, a, b) => {
            let kind = match (op, &b.kind) {
                (BinOp::In, ExprKind::List(xs)) if matches!(xs.first().map(|x| &x.kind), Some(ExprKind::Str(_))) => {
                    "in text".to_string()
                }
                (BinOp::In, _) => "in number".to_string(),
                _ => op.symbol().to_string(),
            };
            out.insert(kind);
            collect_ops(a, out);
            collect_ops(b, out);
        }
        ExprKind::Method { receiver, name, args, .. } => {
            out.insert(format!(".{name}()"));
            collect_ops(receiver, out);
            args.iter().for_each(|x| collect_ops(x, out));
        }
        ExprKind::Call { name, args } => {
            out.insert(format!("{name}()"));
            args.iter().for_each(|x| collect_ops(x, out));
        }
    }
}

#[test]
fn every_case_gives_its_expected_value_both_ways() {
    let (events, cases) = load();
    let schema = schema();
    assert!(cases.len() >= 100, "the table has only {} cases", cases.len());

    let mut failures = Vec::new();
    let mut used = BTreeSet::new();
    let mut outcomes = [0usize; 2];
    for (i, case) in cases.iter().enumerate() {
        if let Err(e) = check(case, &events, &schema) {
            failures.push(format!("case {} `{}` on {}: {e}", i + 1, case.expr, case.event));
        }
        if let Ok(expr) = syntax::parse(&case.expr) {
            collect_ops(&expr, &mut used);
        }
        outcomes[usize::from(case.expect)] += 1;
    }
    assert!(failures.is_empty(), "{} of {} cases failed:\n{}", failures.len(), cases.len(), failures.join("\n"));

    let all = [
        "&&",
        "||",
        "!",
        "==",
        "!=",
        "<",
        "<=",
        ">",
        ">=",
        "in number",
        "in text",
        "+",
        "-",
        "*",
        "/",
        "%",
        "unary -",
        ".contains()",
        ".starts_with()",
        ".ends_with()",
        ".matches()",
        "has()",
        "min()",
        "max()",
        "abs()",
        "len()",
    ];
    let missing: Vec<&str> = all.iter().copied().filter(|op| !used.contains(*op)).collect();
    assert!(missing.is_empty(), "operators with no case in {TABLE}: {missing:?}");
    assert!(outcomes[0] >= 30 && outcomes[1] >= 30, "want plenty of both outcomes, got {outcomes:?} (false, true)");
}

#[test]
fn the_checker_rejects_what_the_table_must_not_contain() {
    // Guard against a table case that only passes because the checker accepted nonsense:
    // these are near-misses of table cases and must not compile.
    let schema = schema();
    for bad in [
        "features.n",
        "features.b > 1",
        "features.m > 1",
        "transfer.amount / 0 > 1",
        "transfer.memo < 'b'",
        "event.kind == 'transfers'",
        "subject.age_band in ['60s', 70]",
    ] {
        assert!(rules::compile_condition(bad, &schema).is_err(), "`{bad}` compiled");
    }
}
