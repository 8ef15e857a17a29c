//! A slow, obviously-correct reference interpreter over the *untyped* syntax tree, with
//! dynamically typed values. Tests evaluate every rule both ways on random events and require
//! the same answer, so the compiler's specialisations are checked against a second,
//! independent reading of the semantics (see the crate docs).
//!
//! Only call it on expressions that passed [`crate::check`].

use crate::schema::{Ctx, Getter, Schema, Type};
use crate::syntax::{BinOp, Expr, ExprKind, UnOp};

/// A dynamically typed value.
#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Int(i64),
    Bool(bool),
    Str(String),
    List(Vec<Value>),
    Absent,
}

impl Value {
    fn truthy(&self) -> bool {
        matches!(self, Value::Bool(true))
    }
}

/// Evaluates `e` against `ctx` and returns its value.
pub fn eval(e: &Expr, schema: &Schema, ctx: &Ctx<'_>) -> Value {
    match &e.kind {
        ExprKind::Int(n) => Value::Int(*n),
        // Only reachable beside `model.score` (the checker refuses it elsewhere): per mille.
        ExprKind::Decimal(n) => Value::Int(*n),
        ExprKind::Str(s) => Value::Str(s.clone()),
        ExprKind::Bool(b) => Value::Bool(*b),
        ExprKind::List(xs) => Value::List(xs.iter().map(|x| eval(x, schema, ctx)).collect()),
        ExprKind::Path(segs) => path(&segs.join("."), schema, ctx, false),
        ExprKind::Unary(UnOp::Not, x) => Value::Bool(!eval(x, schema, ctx).truthy()),
        ExprKind::Unary(UnOp::Neg, x) => match eval(x, schema, ctx) {
            Value::Int(n) => n.checked_neg().map_or(Value::Absent, Value::Int),
            _ => Value::Absent,
        },
        ExprKind::Binary(op, a, b) => {
            let va = eval(a, schema, ctx);
            match op {
                BinOp::And => return Value::Bool(va.truthy() && eval(b, schema, ctx).truthy()),
                BinOp::Or => return Value::Bool(va.truthy() || eval(b, schema, ctx).truthy()),
                _ => {}
            }
            let vb = eval(b, schema, ctx);
            binary(*op, va, vb)
        }
        ExprKind::Method { receiver, name, args, .. } => {
            let (Value::Str(h), Value::Str(n)) = (eval(receiver, schema, ctx), eval(&args[0], schema, ctx)) else {
                return Value::Bool(false);
            };
            Value::Bool(match name.as_str() {
                "contains" => h.contains(&n),
                "starts_with" => h.starts_with(&n),
                "ends_with" => h.ends_with(&n),
                "matches" => regex::Regex::new(&n).map(|r| r.is_match(&h)).unwrap_or(false),
                _ => false,
            })
        }
        ExprKind::Call { name, args } => match name.as_str() {
            "has" => match &args[0].kind {
                ExprKind::Path(segs) => Value::Bool(path(&segs.join("."), schema, ctx, true) != Value::Absent),
                _ => Value::Bool(false),
            },
            "len" => match eval(&args[0], schema, ctx) {
                Value::Str(s) => Value::Int(s.chars().count() as i64),
                _ => Value::Absent,
            },
            "abs" => match eval(&args[0], schema, ctx) {
                Value::Int(n) => n.checked_abs().map_or(Value::Absent, Value::Int),
                _ => Value::Absent,
            },
            "min" | "max" => match (eval(&args[0], schema, ctx), eval(&args[1], schema, ctx)) {
                (Value::Int(a), Value::Int(b)) => Value::Int(if name == "min" { a.min(b) } else { a.max(b) }),
                _ => Value::Absent,
            },
            _ => Value::Absent,
        },
    }
}

/// Reads a path. Absent booleans read as `false` unless `raw` (for `has()`).
fn path(name: &str, schema: &Schema, ctx: &Ctx<'_>, raw: bool) -> Value {
    if let Some(f) = schema.field(name) {
        return match f.getter {
            Getter::Int(g) => g(ctx.event).map_or(Value::Absent, Value::Int),
            Getter::Str(g) => g(ctx.event).map_or(Value::Absent, |s| Value::Str(s.to_string())),
            Getter::Bool(g) => match g(ctx.event) {
                Some(b) => Value::Bool(b),
                None if raw => Value::Absent,
                None => Value::Bool(false),
            },
        };
    }
    if let Some((i, slot)) = schema.slot(name) {
        let v = ctx.slots.get(i).copied().flatten();
        return match (slot.ty, v) {
            (Type::Bool, Some(v)) => Value::Bool(v != 0),
            (Type::Bool, None) if !raw => Value::Bool(false),
            (_, Some(v)) => Value::Int(v),
            (_, None) => Value::Absent,
        };
    }
    Value::Absent
}

fn binary(op: BinOp, a: Value, b: Value) -> Value {
    use Value::*;
    match op {
        BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => match (a, b) {
            (Int(x), Int(y)) => {
                let r = match op {
                    BinOp::Add => x.checked_add(y),
                    BinOp::Sub => x.checked_sub(y),
                    BinOp::Mul => x.checked_mul(y),
                    BinOp::Div => x.checked_div(y),
                    _ => x.checked_rem(y),
                };
                r.map_or(Absent, Int)
            }
            _ => Absent,
        },
        BinOp::In => match (a, b) {
            (Absent, _) => Bool(false),
            (x, List(items)) => Bool(items.contains(&x)),
            _ => Bool(false),
        },
        _ => {
            if a == Absent || b == Absent {
                return Bool(false);
            }
            let ord = match (&a, &b) {
                (Int(x), Int(y)) => x.cmp(y),
                (Str(x), Str(y)) => x.cmp(y),
                (Bool(x), Bool(y)) => x.cmp(y),
                _ => return Bool(false),
            };
            Bool(match op {
                BinOp::Eq => ord.is_eq(),
                BinOp::Ne => ord.is_ne(),
                BinOp::Lt => ord.is_lt(),
                BinOp::Le => ord.is_le(),
                BinOp::Gt => ord.is_gt(),
                _ => ord.is_ge(),
            })
        }
    }
}
