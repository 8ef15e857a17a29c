//! Compilation of a checked tree into nested closures.
//!
//! Each node becomes one boxed closure specialised for its static type, so evaluation never
//! matches on a value's type and never allocates. The shapes analysts write most — a field or
//! a feature compared with a constant — become a single closure that calls the getter and
//! compares, with the operator chosen at compile time.

use crate::check::{Arith, B, Cmp, I, Presence, S, StrTest};
use crate::schema::{Ctx, Getter, StrGetter};

type BoolFn = Box<dyn Fn(&Ctx<'_>) -> bool + Send + Sync>;
type IntFn = Box<dyn Fn(&Ctx<'_>) -> Option<i64> + Send + Sync>;

/// A compiled condition, ready to evaluate against any number of events.
pub struct Compiled {
    root: BoolFn,
    slots: Vec<usize>,
    fields: Vec<&'static str>,
}

impl std::fmt::Debug for Compiled {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Compiled").field("slots", &self.slots).field("fields", &self.fields).finish()
    }
}

impl Compiled {
    /// Evaluates the condition. Never allocates, never panics.
    #[inline]
    pub fn eval(&self, ctx: &Ctx<'_>) -> bool {
        (self.root)(ctx)
    }

    /// Slot indices the condition reads, sorted and unique: the evidence to show with it.
    pub fn slots(&self) -> &[usize] {
        &self.slots
    }

    /// Event fields the condition reads, sorted and unique.
    pub fn fields(&self) -> &[&'static str] {
        &self.fields
    }
}

/// A compiled number or condition read as a number: a model input.
pub struct CompiledValue {
    root: ValueFn,
    slots: Vec<usize>,
}

enum ValueFn {
    Bool(BoolFn),
    Int(IntFn),
}

impl std::fmt::Debug for CompiledValue {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("CompiledValue").field("slots", &self.slots).finish()
    }
}

impl CompiledValue {
    /// The value as a model reads it: a number as itself, true/false as 1/0, absent as NaN.
    #[inline]
    pub fn eval_f32(&self, ctx: &Ctx<'_>) -> f32 {
        match &self.root {
            ValueFn::Bool(f) => f32::from(u8::from(f(ctx))),
            ValueFn::Int(f) => f(ctx).map_or(f32::NAN, |v| v as f32),
        }
    }

    /// Slot indices it reads, sorted and unique.
    pub fn slots(&self) -> &[usize] {
        &self.slots
    }
}

/// Compiles a checked number or condition as a model input; text has no numeric value (`None`).
pub fn compile_value(t: &crate::check::Typed) -> Option<CompiledValue> {
    let mut slots = Vec::new();
    let mut fields = Vec::new();
    let root = match t {
        crate::check::Typed::Bool(b) => {
            collect_b(b, &mut slots, &mut fields);
            ValueFn::Bool(bool_fn(b))
        }
        crate::check::Typed::Int(i) => {
            collect_i(i, &mut slots, &mut fields);
            ValueFn::Int(int_fn(i))
        }
        crate::check::Typed::Str(_) => return None,
    };
    slots.sort_unstable();
    slots.dedup();
    Some(CompiledValue { root, slots })
}

/// Compiles a checked condition.
pub fn compile(b: &B) -> Compiled {
    let mut slots = Vec::new();
    let mut fields = Vec::new();
    collect_b(b, &mut slots, &mut fields);
    slots.sort_unstable();
    slots.dedup();
    fields.sort_unstable();
    fields.dedup();
    Compiled { root: bool_fn(b), slots, fields }
}

fn collect_b(b: &B, slots: &mut Vec<usize>, fields: &mut Vec<&'static str>) {
    match b {
        B::Const(_) => {}
        B::Field(p, _) => fields.push(p),
        B::Slot(i) => slots.push(*i),
        B::Not(x) => collect_b(x, slots, fields),
        B::And(xs) | B::Or(xs) => xs.iter().for_each(|x| collect_b(x, slots, fields)),
        B::CmpInt(_, x, y) => {
            collect_i(x, slots, fields);
            collect_i(y, slots, fields);
        }
        B::CmpStr(_, x, y) | B::StrTest(_, x, y) => {
            collect_s(x, fields);
            collect_s(y, fields);
        }
        B::CmpBool(_, x, y) => {
            collect_b(x, slots, fields);
            collect_b(y, slots, fields);
        }
        B::InInt(x, _) => collect_i(x, slots, fields),
        B::InStr(x, _) | B::Matches(x, _) => collect_s(x, fields),
        B::Has(Presence::Field(p, _)) => fields.push(p),
        B::Has(Presence::Slot(i)) => slots.push(*i),
    }
}

fn collect_i(i: &I, slots: &mut Vec<usize>, fields: &mut Vec<&'static str>) {
    match i {
        I::Const(_) => {}
        I::Field(p, _) => fields.push(p),
        I::Slot(s) => slots.push(*s),
        I::Neg(x) | I::Abs(x) => collect_i(x, slots, fields),
        I::Arith(_, x, y) | I::Min(x, y) | I::Max(x, y) => {
            collect_i(x, slots, fields);
            collect_i(y, slots, fields);
        }
        I::Len(s) => collect_s(s, fields),
    }
}

fn collect_s(s: &S, fields: &mut Vec<&'static str>) {
    if let S::Field(p, _) = s {
        fields.push(p);
    }
}

/// Builds a closure comparing `$lhs` (an `Option<i64>` expression of `c`) with constant `$k`,
/// with the operator resolved here rather than on every evaluation.
macro_rules! cmp_const {
    ($op:expr, $k:expr, |$c:ident| $lhs:expr) => {{
        let k = $k;
        match $op {
            Cmp::Eq => Box::new(move |$c: &Ctx<'_>| $lhs == Some(k)) as BoolFn,
            Cmp::Ne => Box::new(move |$c: &Ctx<'_>| matches!($lhs, Some(v) if v != k)),
            Cmp::Lt => Box::new(move |$c: &Ctx<'_>| matches!($lhs, Some(v) if v < k)),
            Cmp::Le => Box::new(move |$c: &Ctx<'_>| matches!($lhs, Some(v) if v <= k)),
            Cmp::Gt => Box::new(move |$c: &Ctx<'_>| matches!($lhs, Some(v) if v > k)),
            Cmp::Ge => Box::new(move |$c: &Ctx<'_>| matches!($lhs, Some(v) if v >= k)),
        }
    }};
}

fn flip(op: Cmp) -> Cmp {
    match op {
        Cmp::Lt => Cmp::Gt,
        Cmp::Le => Cmp::Ge,
        Cmp::Gt => Cmp::Lt,
        Cmp::Ge => Cmp::Le,
        o => o,
    }
}

fn bool_fn(b: &B) -> BoolFn {
    match b {
        B::Const(v) => {
            let v = *v;
            Box::new(move |_| v)
        }
        B::Field(_, g) => {
            let g = *g;
            Box::new(move |c| g(c.event) == Some(true))
        }
        B::Slot(i) => {
            let i = *i;
            Box::new(move |c| matches!(c.slots.get(i), Some(Some(v)) if *v != 0))
        }
        B::Not(x) => {
            let x = bool_fn(x);
            Box::new(move |c| !x(c))
        }
        B::And(xs) => match xs.as_slice() {
            [a, b] => {
                let (a, b) = (bool_fn(a), bool_fn(b));
                Box::new(move |c| a(c) && b(c))
            }
            _ => {
                let fs: Vec<BoolFn> = xs.iter().map(bool_fn).collect();
                Box::new(move |c| fs.iter().all(|f| f(c)))
            }
        },
        B::Or(xs) => match xs.as_slice() {
            [a, b] => {
                let (a, b) = (bool_fn(a), bool_fn(b));
                Box::new(move |c| a(c) || b(c))
            }
            _ => {
                let fs: Vec<BoolFn> = xs.iter().map(bool_fn).collect();
                Box::new(move |c| fs.iter().any(|f| f(c)))
            }
        },
        B::CmpInt(op, x, y) => match (x, y) {
            (I::Field(_, g), I::Const(k)) => {
                let g = *g;
                cmp_const!(*op, *k, |c| g(c.event))
            }
            (I::Const(k), I::Field(_, g)) => {
                let g = *g;
                cmp_const!(flip(*op), *k, |c| g(c.event))
            }
            (I::Slot(i), I::Const(k)) => {
                let i = *i;
                cmp_const!(*op, *k, |c| c.slots.get(i).copied().flatten())
            }
            (I::Const(k), I::Slot(i)) => {
                let i = *i;
                cmp_const!(flip(*op), *k, |c| c.slots.get(i).copied().flatten())
            }
            _ => {
                let op = *op;
                let (x, y) = (int_fn(x), int_fn(y));
                Box::new(move |c| match (x(c), y(c)) {
                    (Some(a), Some(b)) => op.test(&a, &b),
                    _ => false,
                })
            }
        },
        B::CmpStr(op, x, y) => {
            let ne = *op == Cmp::Ne;
            match (x, y) {
                (S::Field(_, g), S::Const(k)) | (S::Const(k), S::Field(_, g)) => {
                    let (g, k) = (*g, k.clone());
                    Box::new(move |c| matches!(g(c.event), Some(v) if (v == k) != ne))
                }
                _ => {
                    let (x, y) = (str_fn(x), str_fn(y));
                    Box::new(move |c| matches!((x.get(c), y.get(c)), (Some(a), Some(b)) if (a == b) != ne))
                }
            }
        }
        B::CmpBool(op, x, y) => {
            let ne = *op == Cmp::Ne;
            let (x, y) = (bool_fn(x), bool_fn(y));
            Box::new(move |c| (x(c) == y(c)) != ne)
        }
        B::InInt(x, vals) => {
            let x = int_fn(x);
            let vals = vals.clone();
            if vals.len() <= 8 {
                Box::new(move |c| x(c).is_some_and(|v| vals.contains(&v)))
            } else {
                Box::new(move |c| x(c).is_some_and(|v| vals.binary_search(&v).is_ok()))
            }
        }
        B::InStr(x, vals) => {
            let x = str_fn(x);
            let vals = vals.clone();
            if vals.len() <= 8 {
                Box::new(move |c| x.get(c).is_some_and(|v| vals.iter().any(|k| k == v)))
            } else {
                Box::new(move |c| x.get(c).is_some_and(|v| vals.binary_search_by(|k| k.as_str().cmp(v)).is_ok()))
            }
        }
        B::StrTest(t, x, y) => {
            let t = *t;
            match y {
                S::Const(k) => {
                    let (x, k) = (str_fn(x), k.clone());
                    match t {
                        StrTest::Contains => Box::new(move |c| x.get(c).is_some_and(|h| h.contains(k.as_str()))),
                        StrTest::StartsWith => Box::new(move |c| x.get(c).is_some_and(|h| h.starts_with(k.as_str()))),
                        StrTest::EndsWith => Box::new(move |c| x.get(c).is_some_and(|h| h.ends_with(k.as_str()))),
                    }
                }
                _ => {
                    let (x, y) = (str_fn(x), str_fn(y));
                    Box::new(move |c| matches!((x.get(c), y.get(c)), (Some(h), Some(n)) if t.test(h, n)))
                }
            }
        }
        B::Matches(x, re) => {
            let (x, re) = (str_fn(x), re.clone());
            Box::new(move |c| x.get(c).is_some_and(|h| re.is_match(h)))
        }
        B::Has(p) => match p {
            Presence::Field(_, g) => match g.0 {
                Getter::Int(g) => Box::new(move |c| g(c.event).is_some()),
                Getter::Bool(g) => Box::new(move |c| g(c.event).is_some()),
                Getter::Str(g) => Box::new(move |c| g(c.event).is_some()),
            },
            Presence::Slot(i) => {
                let i = *i;
                Box::new(move |c| matches!(c.slots.get(i), Some(Some(_))))
            }
        },
    }
}

fn int_fn(i: &I) -> IntFn {
    match i {
        I::Const(k) => {
            let k = *k;
            Box::new(move |_| Some(k))
        }
        I::Field(_, g) => {
            let g = *g;
            Box::new(move |c| g(c.event))
        }
        I::Slot(s) => {
            let s = *s;
            Box::new(move |c| c.slots.get(s).copied().flatten())
        }
        // Every operation is checked: an overflow is an absent value and raises the context's
        // overflow flag (a division by zero is only absent).
        I::Neg(x) => {
            let x = int_fn(x);
            Box::new(move |c| x(c)?.checked_neg().or_else(|| c.overflowed_now()))
        }
        I::Abs(x) => {
            let x = int_fn(x);
            Box::new(move |c| x(c)?.checked_abs().or_else(|| c.overflowed_now()))
        }
        I::Arith(op, x, y) => {
            let op = *op;
            match y.as_ref() {
                I::Const(k) => {
                    let (x, k) = (int_fn(x), *k);
                    match op {
                        Arith::Mul => Box::new(move |c| x(c)?.checked_mul(k).or_else(|| c.overflowed_now())),
                        Arith::Add => Box::new(move |c| x(c)?.checked_add(k).or_else(|| c.overflowed_now())),
                        _ => Box::new(move |c| checked(c, op, x(c)?, k)),
                    }
                }
                _ => {
                    let (x, y) = (int_fn(x), int_fn(y));
                    Box::new(move |c| checked(c, op, x(c)?, y(c)?))
                }
            }
        }
        I::Min(x, y) => {
            let (x, y) = (int_fn(x), int_fn(y));
            Box::new(move |c| Some(x(c)?.min(y(c)?)))
        }
        I::Max(x, y) => {
            let (x, y) = (int_fn(x), int_fn(y));
            Box::new(move |c| Some(x(c)?.max(y(c)?)))
        }
        I::Len(s) => {
            let s = str_fn(s);
            Box::new(move |c| s.get(c).and_then(|t| i64::try_from(t.chars().count()).ok()))
        }
    }
}

/// A text operand: a constant owned by the closure, or a getter borrowing from the event.
/// Text is only ever consumed (compared, searched), never produced, so no closure has to
/// return a borrow of its own constant.
enum StrOp {
    Const(Box<str>),
    Get(StrGetter),
}

impl StrOp {
    #[inline]
    fn get<'a>(&'a self, c: &Ctx<'a>) -> Option<&'a str> {
        match self {
            StrOp::Const(k) => Some(k),
            StrOp::Get(g) => g(c.event),
        }
    }
}

fn str_fn(s: &S) -> StrOp {
    match s {
        S::Const(k) => StrOp::Const(k.clone().into_boxed_str()),
        S::Field(_, g) => StrOp::Get(*g),
    }
}

/// `a op b`, raising the overflow flag when it overflows (not for a division by zero).
#[inline]
fn checked(c: &Ctx<'_>, op: Arith, a: i64, b: i64) -> Option<i64> {
    match op.apply(a, b) {
        None if !(matches!(op, Arith::Div | Arith::Rem) && b == 0) => c.overflowed_now(),
        v => v,
    }
}
