//! Support for benchmarking ansim's decision core against general expression engines.
//!
//! * [`to_zen`] and [`to_cel`] translate a rule from ansim's syntax tree ([`rules::syntax`]) to
//!   zen-expression and CEL source text, so the same rules can run on the same events in all
//!   three engines.
//! * [`ContextBuilder`] turns an [`Event`] plus its feature slot values into the nested JSON
//!   document those engines evaluate against, with the field paths of [`rules::schema::fields`]
//!   (`transfer.counterparty.account_key`, `device.rooted`, ...) and `features.<name>`. Binding
//!   an event is part of the real cost of those engines, so the benchmarks build it per event.
//! * [`replay_slots`] computes the feature values of a replay exactly as `engine::decide_at`
//!   does, so every engine sees the same inputs; [`load_events`] and [`repo_path`] read the
//!   fixtures.
//!
//! Semantics are kept aligned where that is cheap and honest: ansim reads an absent boolean as
//! `false`, so the context binds absent booleans as `false`; absent numbers and text are left
//! out (zen sees `null`, CEL sees a missing key, and both fail a comparison with them, as ansim
//! does). An evaluation error in zen or CEL counts as `false`.

use domain::Event;
use engine::Snapshot;
use rules::schema::{Getter, Schema, Type, fields};
use rules::syntax::{BinOp, Expr, ExprKind, UnOp};
use serde_json::{Map, Value};
use signals::FeatureState;
use std::fmt;
use std::path::{Path, PathBuf};

/// The target language of a translation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dialect {
    /// zen-expression (GoRules): `and`/`or`/`not`, functions such as `contains(x, y)`.
    Zen,
    /// Common Expression Language, as the `cel` crate reads it: `&&`, `x.contains(y)`.
    Cel,
}

/// A construct the target language cannot express faithfully.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Untranslatable(pub String);

impl fmt::Display for Untranslatable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for Untranslatable {}

/// Translates a rule expression to zen-expression source.
pub fn to_zen(e: &Expr) -> Result<String, Untranslatable> {
    let mut out = String::new();
    emit(e, Dialect::Zen, &mut out)?;
    Ok(out)
}

/// Translates a rule expression to CEL source.
pub fn to_cel(e: &Expr) -> Result<String, Untranslatable> {
    let mut out = String::new();
    emit(e, Dialect::Cel, &mut out)?;
    Ok(out)
}

/// Parses ansim rule text and translates it to `dialect`.
pub fn translate(src: &str, dialect: Dialect) -> Result<String, Untranslatable> {
    let e = rules::syntax::parse(src).map_err(|d| Untranslatable(format!("does not parse: {}", d.message)))?;
    match dialect {
        Dialect::Zen => to_zen(&e),
        Dialect::Cel => to_cel(&e),
    }
}

fn atomic(e: &Expr) -> bool {
    !matches!(e.kind, ExprKind::Unary(..) | ExprKind::Binary(..))
}

/// Writes `e`, in parentheses unless it is atomic (a literal, path, list or call), so the
/// target's own precedence rules never matter.
fn emit_operand(e: &Expr, d: Dialect, out: &mut String) -> Result<(), Untranslatable> {
    if atomic(e) {
        emit(e, d, out)
    } else {
        out.push('(');
        emit(e, d, out)?;
        out.push(')');
        Ok(())
    }
}

fn emit_str(s: &str, d: Dialect, out: &mut String) -> Result<(), Untranslatable> {
    match d {
        Dialect::Cel => {
            out.push('"');
            for c in s.chars() {
                match c {
                    '\\' => out.push_str("\\\\"),
                    '"' => out.push_str("\\\""),
                    '\n' => out.push_str("\\n"),
                    '\r' => out.push_str("\\r"),
                    '\t' => out.push_str("\\t"),
                    c => out.push(c),
                }
            }
            out.push('"');
        }
        Dialect::Zen => {
            // zen string literals have no escapes: the text runs to the next quote of the same kind.
            let q = if !s.contains('\'') {
                '\''
            } else if !s.contains('"') {
                '"'
            } else {
                return Err(Untranslatable(format!("zen cannot write text holding both quote kinds: {s:?}")));
            };
            out.push(q);
            out.push_str(s);
            out.push(q);
        }
    }
    Ok(())
}

fn emit_args(args: &[Expr], d: Dialect, out: &mut String) -> Result<(), Untranslatable> {
    for (i, a) in args.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        emit(a, d, out)?;
    }
    Ok(())
}

fn emit(e: &Expr, d: Dialect, out: &mut String) -> Result<(), Untranslatable> {
    match &e.kind {
        ExprKind::Decimal(_) => return Err(Untranslatable("a probability threshold (model.score)".into())),
        ExprKind::Int(n) => {
            if *n < 0 {
                out.push_str(&format!("({n})"));
            } else {
                out.push_str(&n.to_string());
            }
        }
        ExprKind::Str(s) => emit_str(s, d, out)?,
        ExprKind::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        ExprKind::List(items) => {
            out.push('[');
            emit_args(items, d, out)?;
            out.push(']');
        }
        ExprKind::Path(segs) => out.push_str(&segs.join(".")),
        ExprKind::Unary(op, x) => {
            out.push_str(match (op, d) {
                (UnOp::Not, Dialect::Zen) => "not ",
                (UnOp::Not, Dialect::Cel) => "!",
                (UnOp::Neg, _) => "-",
            });
            emit_operand(x, d, out)?;
        }
        ExprKind::Binary(op, a, b) => {
            let sym = match (op, d) {
                (BinOp::And, Dialect::Zen) => "and",
                (BinOp::Or, Dialect::Zen) => "or",
                (BinOp::Div, Dialect::Zen) => {
                    // zen numbers are decimals; ansim divides integers, truncating.
                    out.push_str("trunc(");
                    emit_operand(a, d, out)?;
                    out.push_str(" / ");
                    emit_operand(b, d, out)?;
                    out.push(')');
                    return Ok(());
                }
                (op, _) => op.symbol(),
            };
            emit_operand(a, d, out)?;
            out.push(' ');
            out.push_str(sym);
            out.push(' ');
            emit_operand(b, d, out)?;
        }
        ExprKind::Method { receiver, name, args, .. } => {
            let (zen, cel) = match name.as_str() {
                "contains" => ("contains", "contains"),
                "starts_with" => ("startsWith", "startsWith"),
                "ends_with" => ("endsWith", "endsWith"),
                "matches" => ("matches", "matches"),
                other => return Err(Untranslatable(format!("unknown method `.{other}()`"))),
            };
            match d {
                Dialect::Zen => {
                    out.push_str(zen);
                    out.push('(');
                    emit(receiver, d, out)?;
                    out.push_str(", ");
                    emit_args(args, d, out)?;
                    out.push(')');
                }
                Dialect::Cel => {
                    emit_operand(receiver, d, out)?;
                    out.push('.');
                    out.push_str(cel);
                    out.push('(');
                    emit_args(args, d, out)?;
                    out.push(')');
                }
            }
        }
        ExprKind::Call { name, args } => match (name.as_str(), d, args.as_slice()) {
            ("has", _, [arg]) => {
                let ExprKind::Path(segs) = &arg.kind else {
                    return Err(Untranslatable("`has()` takes a field path".into()));
                };
                match d {
                    // A missing member reads as null in zen.
                    Dialect::Zen => out.push_str(&format!("({} != null)", segs.join("."))),
                    Dialect::Cel if segs.len() >= 2 => out.push_str(&format!("has({})", segs.join("."))),
                    Dialect::Cel => {
                        return Err(Untranslatable("CEL's `has()` needs a field selection such as `a.b`".into()));
                    }
                }
            }
            ("len", Dialect::Zen, [x]) => {
                out.push_str("len(");
                emit(x, d, out)?;
                out.push(')');
            }
            ("len", Dialect::Cel, [x]) => {
                out.push_str("size(");
                emit(x, d, out)?;
                out.push(')');
            }
            ("abs", Dialect::Zen, [x]) => {
                out.push_str("abs(");
                emit(x, d, out)?;
                out.push(')');
            }
            ("min" | "max", Dialect::Zen, [x, y]) => {
                out.push_str(name);
                out.push_str("([");
                emit(x, d, out)?;
                out.push_str(", ");
                emit(y, d, out)?;
                out.push_str("])");
            }
            ("abs", Dialect::Cel, [x]) => {
                let mut s = String::new();
                emit_operand(x, d, &mut s)?;
                out.push_str(&format!("({s} < 0 ? -{s} : {s})"));
            }
            ("min" | "max", Dialect::Cel, [x, y]) => {
                let (mut a, mut b) = (String::new(), String::new());
                emit_operand(x, d, &mut a)?;
                emit_operand(y, d, &mut b)?;
                let cmp = if name == "min" { "<=" } else { ">=" };
                out.push_str(&format!("({a} {cmp} {b} ? {a} : {b})"));
            }
            _ => return Err(Untranslatable(format!("unsupported call `{name}()` with {} arguments", args.len()))),
        },
    }
    Ok(())
}

/// One leaf of the context document: where it goes and how to read it.
enum Leaf {
    Field { section: usize, rest: Vec<&'static str>, getter: Getter },
    Slot { section: usize, name: String, ty: Type, index: usize },
}

/// Builds the JSON document a general engine evaluates a rule against, for any event.
///
/// The document has one member per top-level name of the schema (`event`, `subject`,
/// `device`, `ip`, `counterparty`, `transfer`, `payment`, ..., `features`, `signals` when
/// declared), each always an object, nested along the field paths. The layout is computed
/// once from [`rules::schema::fields`] and the snapshot's slots; building a document calls
/// every getter once.
pub struct ContextBuilder {
    sections: Vec<&'static str>,
    slot_sections: Vec<String>,
    leaves: Vec<Leaf>,
}

impl ContextBuilder {
    /// The layout for the built-in fields and the slots of `schema`.
    pub fn new(schema: &Schema) -> Self {
        let mut sections: Vec<&'static str> = Vec::new();
        let mut leaves = Vec::new();
        for f in fields() {
            let mut segs = f.path.split('.');
            let top = segs.next().unwrap_or(f.path);
            let section = match sections.iter().position(|s| *s == top) {
                Some(i) => i,
                None => {
                    sections.push(top);
                    sections.len() - 1
                }
            };
            leaves.push(Leaf::Field { section, rest: segs.collect(), getter: f.getter });
        }
        let mut slot_sections: Vec<String> = Vec::new();
        for (index, slot) in schema.slots.iter().enumerate() {
            let (top, name) = slot.name.split_once('.').unwrap_or(("features", slot.name.as_str()));
            let section = match slot_sections.iter().position(|s| s == top) {
                Some(i) => sections.len() + i,
                None => {
                    slot_sections.push(top.to_string());
                    sections.len() + slot_sections.len() - 1
                }
            };
            leaves.push(Leaf::Slot { section, name: name.to_string(), ty: slot.ty, index });
        }
        ContextBuilder { sections, slot_sections, leaves }
    }

    /// The top-level names of every document, in order.
    pub fn sections(&self) -> impl Iterator<Item = &str> {
        self.sections.iter().copied().chain(self.slot_sections.iter().map(String::as_str))
    }

    /// The document for `event` with the slot values `slots` (indexed as the schema's slots).
    pub fn json(&self, event: &Event, slots: &[Option<i64>]) -> Value {
        let n = self.sections.len() + self.slot_sections.len();
        let mut tops: Vec<Map<String, Value>> = (0..n).map(|_| Map::new()).collect();
        for leaf in &self.leaves {
            match leaf {
                Leaf::Field { section, rest, getter } => {
                    let value = match *getter {
                        Getter::Int(g) => g(event).map(Value::from),
                        Getter::Str(g) => g(event).map(Value::from),
                        // ansim reads an absent boolean as false; bind it so.
                        Getter::Bool(g) => Some(Value::Bool(g(event).unwrap_or(false))),
                    };
                    if let Some(v) = value {
                        insert(&mut tops[*section], rest, v);
                    }
                }
                Leaf::Slot { section, name, ty, index } => {
                    let v = slots.get(*index).copied().flatten();
                    let value = match (ty, v) {
                        (Type::Bool, v) => Some(Value::Bool(v.is_some_and(|v| v != 0))),
                        (_, Some(v)) => Some(Value::from(v)),
                        (_, None) => None,
                    };
                    if let Some(v) = value {
                        tops[*section].insert(name.clone(), v);
                    }
                }
            }
        }
        let names = self.sections.iter().map(|s| s.to_string()).chain(self.slot_sections.iter().cloned());
        Value::Object(names.zip(tops.into_iter().map(Value::Object)).collect())
    }
}

fn insert(map: &mut Map<String, Value>, path: &[&str], v: Value) {
    match path {
        [] => {}
        [last] => {
            map.insert((*last).to_string(), v);
        }
        [first, rest @ ..] => {
            let child = map.entry((*first).to_string()).or_insert_with(|| Value::Object(Map::new()));
            if let Value::Object(m) = child {
                insert(m, rest, v);
            }
        }
    }
}

/// A path relative to the repository root.
pub fn repo_path(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..").join(rel)
}

/// The events fixture the benchmarks replay.
pub const EVENTS: &str = "test_data/events/sample.jsonl";
/// The ruleset the benchmarks decide with.
pub const RULESET: &str = "test_data/rulesets/sample.toml";

/// Reads a JSONL file of events (blank lines skipped).
pub fn load_events(path: &Path) -> Result<Vec<Event>, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(n, l)| Event::from_json(l, None).map_err(|e| format!("{}:{}: {e}", path.display(), n + 1)))
        .collect()
}

/// Compiles a ruleset file.
pub fn load_snapshot(path: &Path) -> Result<Snapshot, String> {
    let src = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    Snapshot::compile(&src)
        .map_err(|diags| diags.iter().map(|d| d.render(&path.display().to_string(), &src)).collect::<Vec<_>>().join(""))
}

/// The slot values of every event of a replay in order, computed as `engine::decide_at`
/// computes them: a fresh feature state observes each event, then the signal providers fill
/// their slots.
pub fn replay_slots(snap: &Snapshot, events: &[Event]) -> Vec<Vec<Option<i64>>> {
    let mut state = FeatureState::new(&snap.features);
    let nf = snap.features.len();
    events
        .iter()
        .map(|e| {
            let mut slots = vec![None; snap.slot_count()];
            state.observe(&snap.features, e, &mut slots[..nf]);
            for (p, range) in &snap.providers {
                p.provide(e, &mut slots[range.clone()]);
            }
            slots
        })
        .collect()
}

/// Bytes of feature state per active key, one entry per feature that holds any key:
/// `(feature name, keys, bytes, bytes per key)`.
pub fn bytes_per_key(state: &FeatureState, snap: &Snapshot) -> Vec<(String, usize, usize, f64)> {
    state
        .memory(&snap.features)
        .into_iter()
        .filter(|m| m.keys > 0)
        .map(|m| {
            let per = m.bytes as f64 / m.keys as f64;
            (m.name, m.keys, m.bytes, per)
        })
        .collect()
}

/// Percentile `p` (0..=100) of sorted samples, nearest rank.
pub fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    // The small slack keeps 99.9% of 1000 at rank 999 despite binary fractions.
    let rank = (p * sorted.len() as f64 / 100.0 - 1e-9).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

#[cfg(test)]
mod tests {
    use super::*;
    use rules::schema::Ctx;

    const SAMPLE: &str = include_str!("../../../test_data/rulesets/sample.toml");

    fn zen(src: &str) -> String {
        translate(src, Dialect::Zen).unwrap()
    }

    fn cel(src: &str) -> String {
        translate(src, Dialect::Cel).unwrap()
    }

    #[test]
    fn operators_and_paths() {
        // Runs of `&&`/`||` are written with parentheses: the parser may shape them either way.
        let src = "(event.kind == 'transfer' && (device.rooted || !device.emulator)) && transfer.amount * 100 >= transfer.balance_before * 90";
        assert_eq!(
            zen(src),
            "((event.kind == 'transfer') and (device.rooted or (not device.emulator))) and ((transfer.amount * 100) >= (transfer.balance_before * 90))"
        );
        assert_eq!(
            cel(src),
            "((event.kind == \"transfer\") && (device.rooted || (!device.emulator))) && ((transfer.amount * 100) >= (transfer.balance_before * 90))"
        );
        assert_eq!(zen("a.b - 1 - -2 < 3 % 2"), "((a.b - 1) - (-2)) < (3 % 2)");
        assert_eq!(zen("a.b / 2 == 1"), "(trunc(a.b / 2)) == 1");
        assert_eq!(cel("a.b / 2 == 1"), "(a.b / 2) == 1");
        assert_eq!(zen("!(a.b > 5)"), "not (a.b > 5)");
    }

    #[test]
    fn lists_methods_and_has() {
        let src = "(subject.age_band in ['60s', '70s'] && has(transfer.balance_before)) && features.new_payee";
        assert_eq!(
            zen(src),
            "((subject.age_band in ['60s', '70s']) and (transfer.balance_before != null)) and features.new_payee"
        );
        assert_eq!(
            cel(src),
            "((subject.age_band in [\"60s\", \"70s\"]) && has(transfer.balance_before)) && features.new_payee"
        );
        let src = "(transfer.memo.contains('x') || transfer.memo.starts_with('y')) || (transfer.memo.ends_with('z') || message.text.matches('(?i)www\\.'))";
        assert_eq!(
            zen(src),
            "(contains(transfer.memo, 'x') or startsWith(transfer.memo, 'y')) or (endsWith(transfer.memo, 'z') or matches(message.text, '(?i)www\\.'))"
        );
        assert_eq!(
            cel(src),
            "(transfer.memo.contains(\"x\") || transfer.memo.startsWith(\"y\")) || (transfer.memo.endsWith(\"z\") || message.text.matches(\"(?i)www\\\\.\"))"
        );
    }

    #[test]
    fn quotes_and_limits() {
        assert_eq!(zen("a.b == \"it's\""), "a.b == \"it's\"");
        assert_eq!(cel("a.b == \"it's\""), "a.b == \"it's\"");
        assert!(translate("a.b == 'both \\' and \"'", Dialect::Zen).is_err());
        assert_eq!(cel("a.b == 'both \\' and \"'"), "a.b == \"both ' and \\\"\"");
        assert!(translate("has(a)", Dialect::Cel).is_err());
        assert_eq!(zen("has(a)"), "(a != null)");
        assert_eq!(cel("abs(a.b) > max(1, a.c)"), "(a.b < 0 ? -a.b : a.b) > (1 >= a.c ? 1 : a.c)");
        assert_eq!(zen("abs(a.b) > max(1, a.c) && len(a.d) > 0"), "(abs(a.b) > max([1, a.c])) and (len(a.d) > 0)");
    }

    #[test]
    fn every_sample_rule_translates() {
        let snap = Snapshot::compile(SAMPLE).unwrap();
        assert!(snap.rules.len() >= 50, "the sample ruleset has about 60 rules");
        for r in &snap.rules {
            let z = translate(&r.when, Dialect::Zen).unwrap_or_else(|e| panic!("{}: {e}", r.id));
            let c = translate(&r.when, Dialect::Cel).unwrap_or_else(|e| panic!("{}: {e}", r.id));
            zen_expression::compile_expression(&z).unwrap_or_else(|e| panic!("{}: zen: {e}\n{z}", r.id));
            cel::Program::compile(&c).unwrap_or_else(|e| panic!("{}: cel: {e}\n{c}", r.id));
        }
    }

    fn event(json: &str) -> Event {
        Event::from_json(json, None).unwrap()
    }

    fn transfer(extra: &str) -> Event {
        event(&format!(
            r#"{{"id":"e1","affiliate":"bank","at":"2026-03-01T02:30:00+09:00","subject":{{"id":"u1","age_band":"70s","account_age_days":400}},
            "device":{{"id":"d1","remote_control_app":true}},"ip":{{"addr":"1.2.3.4","country":"KR"}},"channel":"app",
            "kind":"transfer","transfer":{{"amount":3000000,"balance_before":3100000,"counterparty":{{"bank":"088","account":"110-123-456789"}}{extra}}}}}"#
        ))
    }

    #[test]
    fn context_mirrors_schema_paths() {
        let snap = Snapshot::compile(SAMPLE).unwrap();
        let b = ContextBuilder::new(&snap.schema);
        let e = transfer(r#","memo":"안전계좌로 이체""#);
        let mut slots = vec![None; snap.slot_count()];
        slots[0] = Some(3);
        let doc = b.json(&e, &slots);
        assert_eq!(doc["transfer"]["counterparty"]["account_key"], "088:110123456789");
        assert_eq!(doc["counterparty"]["account_key"], "088:110123456789");
        assert_eq!(doc["transfer"]["amount"], 3_000_000);
        assert_eq!(doc["event"]["kind"], "transfer");
        assert_eq!(doc["event"]["hour"], 2);
        assert_eq!(doc["device"]["remote_control_app"], true);
        assert_eq!(doc["device"]["rooted"], false);
        assert_eq!(doc["login"]["success"], false, "absent booleans bind as false");
        assert!(doc["payment"].as_object().unwrap().is_empty(), "absent sections are empty objects");
        assert_eq!(doc["features"][&snap.features[0].name], 3);
        assert_eq!(doc["features"]["new_payee"], false);
        assert!(doc["features"].get("sent_24h").is_none(), "absent numbers are left out");
        let sections: Vec<&str> = b.sections().collect();
        assert!(sections.contains(&"features") && sections.contains(&"device_scan"));
    }

    fn json_to_cel(v: &Value) -> cel::Value {
        match v {
            Value::Null => cel::Value::Null,
            Value::Bool(b) => cel::Value::Bool(*b),
            Value::Number(n) => {
                n.as_i64().map_or_else(|| cel::Value::Float(n.as_f64().unwrap_or(0.0)), cel::Value::Int)
            }
            Value::String(s) => cel::Value::from(s.as_str()),
            Value::Array(a) => cel::Value::List(std::sync::Arc::new(a.iter().map(json_to_cel).collect())),
            Value::Object(m) => cel::Value::from(
                m.iter().map(|(k, v)| (k.clone(), json_to_cel(v))).collect::<std::collections::HashMap<_, _>>(),
            ),
        }
    }

    /// Every sample rule gives the same answer in ansim, zen and CEL on a handful of events.
    #[test]
    fn engines_agree_on_sample_rules() {
        let snap = Snapshot::compile(SAMPLE).unwrap();
        let b = ContextBuilder::new(&snap.schema);
        let events = vec![
            transfer(r#","memo":"안전계좌로 이체""#),
            transfer(r#","own_account":true"#),
            event(
                r#"{"id":"m1","affiliate":"messenger","at":"2026-03-01T12:00:00+09:00","subject":{"id":"u2"},"kind":"message",
                "message":{"sender":{"phone":"+82 10-1234-5678"},"text":"엄마 폰 액정이 깨져서 수리 맡겼어 https://kakao-help.xyz/a 택배","has_attachment":true}}"#,
            ),
            event(
                r#"{"id":"l1","affiliate":"bank","at":"2026-03-01T12:00:00+09:00","subject":{"id":"u3"},"device":{"id":"d9","new_for_subject":true,"emulator":true,"usim_changed_days":0},
                "ip":{"addr":"5.6.7.8","country":"VN","proxy":true},"kind":"login","login":{"success":false}}"#,
            ),
        ];
        let slots = replay_slots(&snap, &events);
        let zen: Vec<_> = snap
            .rules
            .iter()
            .map(|r| zen_expression::compile_expression(&translate(&r.when, Dialect::Zen).unwrap()).unwrap())
            .collect();
        let cel: Vec<_> = snap
            .rules
            .iter()
            .map(|r| cel::Program::compile(&translate(&r.when, Dialect::Cel).unwrap()).unwrap())
            .collect();
        let base = cel::Context::default();
        let mut vm = zen_expression::vm::VM::new();
        let mut hits = 0;
        for (e, s) in events.iter().zip(&slots) {
            let ctx = Ctx::new(e, s);
            let doc = b.json(e, s);
            let var = zen_expression::Variable::from(&doc);
            let mut cx = base.new_inner_scope();
            for (k, v) in doc.as_object().unwrap() {
                cx.add_variable_from_value(k.clone(), json_to_cel(v));
            }
            for (i, r) in snap.rules.iter().enumerate() {
                let ours = r.cond.eval(&ctx);
                hits += usize::from(ours);
                let z = zen[i].evaluate_with(var.clone(), &mut vm);
                assert_eq!(
                    z.as_ref().ok().and_then(|v| v.as_bool()).unwrap_or(false),
                    ours,
                    "zen {} on {}: {z:?}",
                    r.id,
                    e.id
                );
                let c = cel[i].execute(&cx);
                assert_eq!(matches!(c, Ok(cel::Value::Bool(true))), ours, "cel {} on {}: {c:?}", r.id, e.id);
            }
        }
        assert!(hits >= 10, "the events should fire a good number of rules, fired {hits}");
    }

    #[test]
    fn percentiles() {
        let v: Vec<u64> = (1..=1000).collect();
        assert_eq!(percentile(&v, 50.0), 500);
        assert_eq!(percentile(&v, 99.0), 990);
        assert_eq!(percentile(&v, 99.9), 999);
        assert_eq!(percentile(&v, 100.0), 1000);
        assert_eq!(percentile(&[], 50.0), 0);
    }
}
