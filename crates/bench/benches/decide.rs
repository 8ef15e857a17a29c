//! Criterion benchmarks of the decision path and of rule evaluation, ansim against
//! zen-expression and CEL, over the events fixture (`test_data/events/sample.jsonl`) and the
//! sample ruleset (`test_data/rulesets/sample.toml`).
//!
//! * `decide/*`: a replay of the whole fixture through `engine::decide` (and `decide_at`) with
//!   a fresh `DecideState` per pass; throughput is per event.
//! * `rules/*`: every rule on one event per iteration, cycling through the fixture, with the
//!   feature values precomputed; criterion's time is per event (all rules) and its throughput
//!   is in rules per second. zen and CEL bind the event (JSON document → their value model)
//!   inside the timed loop, because that is what they cost per event; the `*_eval_only`
//!   variants bind just before the timer starts.
//! * `rules_no_regex/*`: the same without the rules that call `.matches()`: zen and CEL
//!   compile the regular expression on every call, ansim compiles it with the ruleset.
//! * `bind/*`: building the per-event context alone.
//!
//! After criterion, a summary measures the same work in interleaved rounds (so the ratios come
//! from the same moments of a noisy machine), checks how many rule results agree with ansim's,
//! and states the targets as pass or fail.

use bench::{ContextBuilder, Dialect, EVENTS, RULESET, load_events, load_snapshot, replay_slots, repo_path, translate};
use cel::common::types::{CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString};
use cel::common::value::Val;
use criterion::{BatchSize, Criterion, Throughput};
use domain::Event;
use engine::{DecideState, Snapshot, decide, decide_at};
use rules::schema::Ctx;
use serde_json::Value;
use std::collections::HashMap;
use std::hint::black_box;
use std::sync::Arc;
use std::time::{Duration, Instant};
use zen_expression::Variable;
use zen_expression::expression::Standard;
use zen_expression::vm::VM;

type ZenExpr = zen_expression::Expression<Standard>;

/// Everything the benchmarks read, prepared once.
struct World {
    snap: Snapshot,
    events: Vec<Event>,
    slots: Vec<Vec<Option<i64>>>,
    builder: ContextBuilder,
    zen: Vec<Option<ZenExpr>>,
    cel: Vec<Option<cel::Program>>,
    /// Enabled rules, by index.
    all: Vec<usize>,
    /// Enabled rules that do not call `.matches()`.
    no_regex: Vec<usize>,
}

impl World {
    fn load() -> World {
        let snap = load_snapshot(&repo_path(RULESET)).unwrap_or_else(|e| panic!("{e}"));
        let events = load_events(&repo_path(EVENTS)).unwrap_or_else(|e| panic!("{e}"));
        assert!(!events.is_empty(), "the events fixture is empty");
        let slots = replay_slots(&snap, &events);
        let builder = ContextBuilder::new(&snap.schema);
        let mut zen = Vec::new();
        let mut cel = Vec::new();
        for r in &snap.rules {
            zen.push(match translate(&r.when, Dialect::Zen) {
                Ok(src) => match zen_expression::compile_expression(&src) {
                    Ok(e) => Some(e),
                    Err(e) => {
                        eprintln!("zen cannot compile rule {}: {e}", r.id);
                        None
                    }
                },
                Err(e) => {
                    eprintln!("rule {} has no zen translation: {e}", r.id);
                    None
                }
            });
            cel.push(match translate(&r.when, Dialect::Cel) {
                Ok(src) => match cel::Program::compile(&src) {
                    Ok(p) => Some(p),
                    Err(e) => {
                        eprintln!("cel cannot compile rule {}: {e}", r.id);
                        None
                    }
                },
                Err(e) => {
                    eprintln!("rule {} has no CEL translation: {e}", r.id);
                    None
                }
            });
        }
        let all: Vec<usize> = (0..snap.rules.len()).filter(|&i| snap.rules[i].enabled).collect();
        let no_regex = all.iter().copied().filter(|&i| !snap.rules[i].when.contains(".matches(")).collect();
        World { snap, events, slots, builder, zen, cel, all, no_regex }
    }

    fn ctx(&self, i: usize) -> Ctx<'_> {
        Ctx::new(&self.events[i], &self.slots[i])
    }

    fn doc(&self, i: usize) -> Value {
        self.builder.json(&self.events[i], &self.slots[i])
    }
}

fn ours(w: &World, i: usize, rules: &[usize]) -> usize {
    let ctx = w.ctx(i);
    rules.iter().filter(|&&r| w.snap.rules[r].cond.eval(&ctx)).count()
}

fn zen_bind(w: &World, i: usize) -> Variable {
    Variable::from(w.doc(i))
}

fn zen_one(w: &World, vm: &mut VM, var: &Variable, r: usize) -> Result<bool, String> {
    match &w.zen[r] {
        None => Err("untranslated".into()),
        Some(e) => match e.evaluate_with(var.clone(), vm) {
            Ok(Variable::Bool(b)) => Ok(b),
            Ok(other) => Err(format!("not a boolean: {other:?}")),
            Err(e) => Err(e.to_string()),
        },
    }
}

fn zen_eval(w: &World, vm: &mut VM, var: &Variable, rules: &[usize]) -> usize {
    rules.iter().filter(|&&r| zen_one(w, vm, var, r) == Ok(true)).count()
}

fn json_to_cel(v: &Value) -> cel::Value {
    match v {
        Value::Null => cel::Value::Null,
        Value::Bool(b) => cel::Value::Bool(*b),
        Value::Number(n) => n.as_i64().map_or_else(|| cel::Value::Float(n.as_f64().unwrap_or(0.0)), cel::Value::Int),
        Value::String(s) => cel::Value::String(Arc::new(s.clone())),
        Value::Array(a) => cel::Value::List(Arc::new(a.iter().map(json_to_cel).collect())),
        Value::Object(m) => {
            cel::Value::from(m.iter().map(|(k, v)| (k.clone(), json_to_cel(v))).collect::<HashMap<_, _>>())
        }
    }
}

/// A JSON value as a CEL value that borrows its text from the document.
fn json_to_val(v: &Value) -> Box<dyn Val + '_> {
    match v {
        Value::Null => Box::new(CelNull),
        Value::Bool(b) => Box::new(CelBool::from(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => Box::new(CelInt::from(i)),
            None => Box::new(CelDouble::from(n.as_f64().unwrap_or(0.0))),
        },
        Value::String(s) => Box::new(CelString::from(s.as_str())),
        Value::Array(a) => Box::new(CelList::from(a.iter().map(json_to_val).collect::<Vec<_>>())),
        Value::Object(m) => Box::new(CelMap::from(
            m.iter()
                .map(|(k, v)| (CelMapKey::String(CelString::from(k.as_str())), json_to_val(v)))
                .collect::<HashMap<_, _>>(),
        )),
    }
}

/// Binds one event's document as variables `event`, `subject`, ..., `features` in a scope
/// over `base` (which holds CEL's standard functions). The values are built directly as CEL
/// `Val`s borrowing the document's text: the cheapest public binding path of the `cel` crate.
fn cel_bind<'a>(base: &'a cel::Context<'a, 'a>, doc: &'a Value) -> cel::Context<'a, 'a> {
    let mut cx = base.new_inner_scope();
    if let Value::Object(m) = doc {
        for (k, v) in m {
            cx.add_variable_as_val(k.as_str(), json_to_val(v));
        }
    }
    cx
}

/// The documented binding path, `add_variable_from_value` with owned `cel::Value`s, which
/// the crate converts once more into its `Val` tree; measured for reference.
fn cel_bind_value<'a>(base: &'a cel::Context<'a, 'a>, doc: &Value) -> cel::Context<'a, 'a> {
    let mut cx = base.new_inner_scope();
    if let Value::Object(m) = doc {
        for (k, v) in m {
            cx.add_variable_from_value(k.as_str(), json_to_cel(v));
        }
    }
    cx
}

fn cel_one(w: &World, cx: &cel::Context<'_, '_>, r: usize) -> Result<bool, String> {
    match &w.cel[r] {
        None => Err("untranslated".into()),
        Some(p) => match p.execute(cx) {
            Ok(cel::Value::Bool(b)) => Ok(b),
            Ok(other) => Err(format!("not a boolean: {other:?}")),
            Err(e) => Err(e.to_string()),
        },
    }
}

fn cel_eval(w: &World, cx: &cel::Context<'_, '_>, rules: &[usize]) -> usize {
    rules.iter().filter(|&&r| cel_one(w, cx, r) == Ok(true)).count()
}

/// Cycles through the fixture, one event per call.
struct Cycle {
    next: usize,
    len: usize,
}

impl Cycle {
    fn new(len: usize) -> Cycle {
        Cycle { next: 0, len }
    }

    fn step(&mut self) -> usize {
        let i = self.next;
        self.next = (i + 1) % self.len;
        i
    }
}

fn criterion_benches(c: &mut Criterion, w: &World) {
    let n = w.events.len();
    let mut g = c.benchmark_group("decide");
    g.throughput(Throughput::Elements(n as u64));
    g.sample_size(20).warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(8));
    g.bench_function("full", |b| {
        b.iter_batched_ref(
            DecideState::new,
            |st| {
                for e in &w.events {
                    black_box(decide(&w.snap, st, black_box(e)));
                }
            },
            BatchSize::PerIteration,
        );
    });
    g.bench_function("decide_at", |b| {
        b.iter_batched_ref(
            DecideState::new,
            |st| {
                for e in &w.events {
                    black_box(decide_at(&w.snap, st, black_box(e)));
                }
            },
            BatchSize::PerIteration,
        );
    });
    g.finish();

    for (group, rules) in [("rules", &w.all), ("rules_no_regex", &w.no_regex)] {
        let mut g = c.benchmark_group(group);
        g.throughput(Throughput::Elements(rules.len() as u64));
        g.warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(5));
        g.bench_function("ansim", |b| {
            let mut cy = Cycle::new(n);
            b.iter(|| ours(w, black_box(cy.step()), rules));
        });
        g.bench_function("zen", |b| {
            let mut cy = Cycle::new(n);
            let mut vm = VM::new();
            b.iter(|| {
                let var = zen_bind(w, black_box(cy.step()));
                zen_eval(w, &mut vm, &var, rules)
            });
        });
        g.bench_function("cel", |b| {
            let mut cy = Cycle::new(n);
            let base = cel::Context::default();
            b.iter(|| {
                let doc = w.doc(black_box(cy.step()));
                let cx = cel_bind(&base, &doc);
                cel_eval(w, &cx, rules)
            });
        });
        if group == "rules" {
            // The context is built outside the timer but just before the evaluation, so it is
            // as warm in cache as it is in real use.
            g.bench_function("zen_eval_only", |b| {
                let mut cy = Cycle::new(n);
                let mut vm = VM::new();
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let var = zen_bind(w, cy.step());
                        let t = Instant::now();
                        black_box(zen_eval(w, &mut vm, &var, rules));
                        total += t.elapsed();
                    }
                    total
                });
            });
            g.bench_function("cel_eval_only", |b| {
                let mut cy = Cycle::new(n);
                let base = cel::Context::default();
                b.iter_custom(|iters| {
                    let mut total = Duration::ZERO;
                    for _ in 0..iters {
                        let doc = w.doc(cy.step());
                        let cx = cel_bind(&base, &doc);
                        let t = Instant::now();
                        black_box(cel_eval(w, &cx, rules));
                        total += t.elapsed();
                    }
                    total
                });
            });
        }
        g.finish();
    }

    let mut g = c.benchmark_group("bind");
    g.throughput(Throughput::Elements(1));
    g.warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(4));
    g.bench_function("json", |b| {
        let mut cy = Cycle::new(n);
        b.iter(|| w.doc(black_box(cy.step())));
    });
    g.bench_function("zen", |b| {
        let mut cy = Cycle::new(n);
        b.iter(|| zen_bind(w, black_box(cy.step())));
    });
    g.bench_function("cel", |b| {
        let mut cy = Cycle::new(n);
        let base = cel::Context::default();
        b.iter(|| {
            let doc = w.doc(black_box(cy.step()));
            let cx = cel_bind(&base, &doc);
            drop(black_box(cx));
        });
    });
    g.finish();
}

/// How often each engine's answers agree with ansim's, and which rules disagree.
struct Agreement {
    total: usize,
    zen_agree: usize,
    zen_errors: usize,
    cel_agree: usize,
    cel_errors: usize,
    fired: usize,
    /// (rule id, zen disagreements, cel disagreements, a sample error)
    by_rule: Vec<(String, usize, usize, String)>,
    /// Errors by engine and message, most frequent first.
    errors: Vec<(String, usize)>,
}

fn agreement(w: &World) -> Agreement {
    let base = cel::Context::default();
    let mut vm = VM::new();
    let mut a = Agreement {
        total: 0,
        zen_agree: 0,
        zen_errors: 0,
        cel_agree: 0,
        cel_errors: 0,
        fired: 0,
        by_rule: Vec::new(),
        errors: Vec::new(),
    };
    let mut errors: HashMap<String, usize> = HashMap::new();
    let mut by_rule: Vec<(usize, usize, String)> = vec![(0, 0, String::new()); w.snap.rules.len()];
    for i in 0..w.events.len() {
        let ctx = w.ctx(i);
        let var = zen_bind(w, i);
        let doc = w.doc(i);
        let cx = cel_bind(&base, &doc);
        for &r in &w.all {
            let ours = w.snap.rules[r].cond.eval(&ctx);
            a.total += 1;
            a.fired += usize::from(ours);
            let z = zen_one(w, &mut vm, &var, r);
            let c = cel_one(w, &cx, r);
            for (res, agree, n_errors, dis) in
                [(&z, &mut a.zen_agree, &mut a.zen_errors, 0), (&c, &mut a.cel_agree, &mut a.cel_errors, 1)]
            {
                if let Err(e) = res {
                    *n_errors += 1;
                    let engine = if dis == 0 { "zen" } else { "cel" };
                    *errors.entry(format!("{engine}: {}", e.chars().take(90).collect::<String>())).or_default() += 1;
                    if by_rule[r].2.is_empty() {
                        by_rule[r].2 = e.clone();
                    }
                }
                if *res.as_ref().unwrap_or(&false) == ours {
                    *agree += 1;
                } else if dis == 0 {
                    by_rule[r].0 += 1;
                } else {
                    by_rule[r].1 += 1;
                }
            }
        }
    }
    a.by_rule = by_rule
        .into_iter()
        .enumerate()
        .filter(|(_, (z, c, _))| *z + *c > 0)
        .map(|(r, (z, c, e))| (w.snap.rules[r].id.to_string(), z, c, e))
        .collect();
    a.errors = errors.into_iter().collect();
    a.errors.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    a
}

/// Median of per-round timings, in ns per unit.
fn median(xs: &mut [f64]) -> f64 {
    xs.sort_by(f64::total_cmp);
    xs[xs.len() / 2]
}

fn pct(n: usize, d: usize) -> f64 {
    100.0 * n as f64 / d.max(1) as f64
}

fn summary(w: &World) {
    const ROUNDS: usize = 7;
    let n = w.events.len();
    let base = cel::Context::default();

    // Each measurement is one full pass over the fixture; ansim repeats its pass to last long
    // enough to time. Rounds interleave the engines so they share the machine's moods.
    let ours_reps = 20;
    // A pass returns the ns it measured itself (eval-only passes time the evaluation and not
    // the binding just before it), or `None` to be timed whole.
    type Pass<'a> = Box<dyn FnMut() -> Option<u128> + 'a>;
    let mut passes: Vec<(String, f64, Pass<'_>)> = Vec::new();
    let b = &base;
    for (set, rules) in [("", &w.all), ("/no_regex", &w.no_regex)] {
        let per = (n * rules.len()) as f64;
        passes.push((
            format!("ansim{set}"),
            per * ours_reps as f64,
            Box::new(move || {
                black_box((0..ours_reps).map(|_| (0..n).map(|i| ours(w, i, rules)).sum::<usize>()).sum::<usize>());
                None
            }),
        ));
        passes.push((
            format!("zen{set}"),
            per,
            Box::new(move || {
                let mut vm = VM::new();
                black_box((0..n).map(|i| zen_eval(w, &mut vm, &zen_bind(w, i), rules)).sum::<usize>());
                None
            }),
        ));
        passes.push((
            format!("cel{set}"),
            per,
            Box::new(move || {
                black_box(
                    (0..n)
                        .map(|i| {
                            let doc = w.doc(i);
                            cel_eval(w, &cel_bind(b, &doc), rules)
                        })
                        .sum::<usize>(),
                );
                None
            }),
        ));
        passes.push((
            format!("zen{set}/eval_only"),
            per,
            Box::new(move || {
                let mut vm = VM::new();
                let mut ns = 0;
                for i in 0..n {
                    let var = zen_bind(w, i);
                    let t = Instant::now();
                    black_box(zen_eval(w, &mut vm, &var, rules));
                    ns += t.elapsed().as_nanos();
                }
                Some(ns)
            }),
        ));
        passes.push((
            format!("cel{set}/eval_only"),
            per,
            Box::new(move || {
                let mut ns = 0;
                for i in 0..n {
                    let doc = w.doc(i);
                    let cx = cel_bind(b, &doc);
                    let t = Instant::now();
                    black_box(cel_eval(w, &cx, rules));
                    ns += t.elapsed().as_nanos();
                }
                Some(ns)
            }),
        ));
    }
    passes.push((
        "bind/json".into(),
        n as f64,
        Box::new(move || {
            black_box((0..n).map(|i| usize::from(w.doc(i).is_object())).sum::<usize>());
            None
        }),
    ));
    passes.push((
        "bind/zen".into(),
        n as f64,
        Box::new(move || {
            black_box((0..n).map(|i| usize::from(zen_bind(w, i).as_object().is_some())).sum::<usize>());
            None
        }),
    ));
    passes.push((
        "bind/cel".into(),
        n as f64,
        Box::new(move || {
            black_box(
                (0..n)
                    .map(|i| {
                        let doc = w.doc(i);
                        let cx = cel_bind(b, &doc);
                        usize::from(black_box(&cx).get_variable("event").is_some())
                    })
                    .sum::<usize>(),
            );
            None
        }),
    ));
    passes.push((
        "bind/cel_value".into(),
        n as f64,
        Box::new(move || {
            black_box(
                (0..n)
                    .map(|i| {
                        let cx = cel_bind_value(b, &w.doc(i));
                        usize::from(black_box(&cx).get_variable("event").is_some())
                    })
                    .sum::<usize>(),
            );
            None
        }),
    ));
    let mut times: Vec<Vec<f64>> = vec![Vec::new(); passes.len()];
    for _ in 0..ROUNDS {
        for (k, (_, units, f)) in passes.iter_mut().enumerate() {
            let t = Instant::now();
            let own = f();
            let ns = own.unwrap_or_else(|| t.elapsed().as_nanos());
            times[k].push(ns as f64 / *units);
        }
    }
    let m: HashMap<&str, f64> = passes.iter().map(|p| p.0.as_str()).zip(times.iter_mut().map(|t| median(t))).collect();
    let ag = agreement(w);

    let rules = w.all.len();
    let regex_rules = rules - w.no_regex.len();
    println!();
    println!(
        "== same-run summary: {n} events x {rules} rules, {} features; median of {ROUNDS} interleaved rounds ==",
        w.snap.features.len()
    );
    println!();
    println!(
        "| rules | engine | bind ns/event | eval ns/rule, context ready | ns/rule incl. bind | ansim faster, incl. bind | ansim faster, eval only |"
    );
    println!("|---|---|---:|---:|---:|---:|---:|");
    for (set, label) in
        [("", format!("all {rules}")), ("/no_regex", format!("{} without .matches()", w.no_regex.len()))]
    {
        let ours_ns = m[format!("ansim{set}").as_str()];
        println!("| {label} | ansim | 0 | {ours_ns:.1} | {ours_ns:.1} | 1x | 1x |");
        for e in ["zen", "cel"] {
            let bind = m[format!("bind/{e}").as_str()];
            let eval = m[format!("{e}{set}/eval_only").as_str()];
            let total = m[format!("{e}{set}").as_str()];
            println!(
                "| {label} | {e} | {bind:.0} | {eval:.0} | {total:.0} | {:.0}x | {:.0}x |",
                total / ours_ns,
                eval / ours_ns
            );
        }
    }
    println!(
        "(bind/json alone: {:.0} ns/event, shared by zen and cel; cel through add_variable_from_value instead: {:.0} ns/event)",
        m["bind/json"], m["bind/cel_value"]
    );
    println!("({regex_rules} rules call .matches(); zen and cel compile the pattern on every call)");
    println!();
    println!(
        "agreement with ansim over {} rule results ({} true): zen {} ({:.2}%, {} errors counted as false), cel {} ({:.2}%, {} errors counted as false)",
        ag.total,
        ag.fired,
        ag.zen_agree,
        pct(ag.zen_agree, ag.total),
        ag.zen_errors,
        ag.cel_agree,
        pct(ag.cel_agree, ag.total),
        ag.cel_errors
    );
    for (e, k) in ag.errors.iter().take(8) {
        println!("  {k:>6} x {e}");
    }
    for (id, z, c, e) in &ag.by_rule {
        println!("  disagreements on {id}: zen {z}, cel {c}; e.g. {e}");
    }
    println!();
    let pass = |ok: bool| if ok { "PASS" } else { "FAIL" };
    println!("targets:");
    let ours_ns = m["ansim"];
    let ours_nr = m["ansim/no_regex"];
    for (e, target) in [("zen", 15.0), ("cel", 40.0)] {
        let x = |k: &str| m[k];
        let worst = [
            x(e) / ours_ns,
            x(&format!("{e}/eval_only")) / ours_ns,
            x(&format!("{e}/no_regex")) / ours_nr,
            x(&format!("{e}/no_regex/eval_only")) / ours_nr,
        ]
        .into_iter()
        .fold(f64::INFINITY, f64::min);
        println!(
            "  rules >= {target}x faster than {e}: {:.0}x incl. bind, {:.0}x eval only; without regex rules {:.0}x incl. bind, {:.0}x eval only -> {} (least favourable {worst:.0}x: {})",
            x(e) / ours_ns,
            x(&format!("{e}/eval_only")) / ours_ns,
            x(&format!("{e}/no_regex")) / ours_nr,
            x(&format!("{e}/no_regex/eval_only")) / ours_nr,
            pass(x(e) / ours_ns >= target),
            pass(worst >= target)
        );
    }
    println!("  (decide per event: criterion's decide/* above; p99 and state bytes per key: the latency bench)");
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    // `cargo bench` passes `--bench`; `cargo test --benches` does not, and then criterion runs
    // each benchmark once as a test and the summary is skipped.
    let test_mode = !args.iter().any(|a| a == "--bench") || args.iter().any(|a| a == "--test" || a == "--list");
    let w = World::load();
    let mut c = Criterion::default().configure_from_args();
    criterion_benches(&mut c, &w);
    c.final_summary();
    if !test_mode {
        summary(&w);
    }
}
