//! Type-checking and name resolution: [`Expr`] → [`Typed`], a tree whose every node has a
//! static type and whose every field reference is a typed getter or a slot index.
//!
//! All the analyst's mistakes that can be found before run time are found here, each as a
//! [`Diagnostic`] naming the spot and, where one fits, the fix.

use crate::diag::{Diagnostic, nearest};
use crate::schema::{BoolGetter, Getter, IntGetter, Schema, StrGetter, Type};
use crate::syntax::{BinOp, Expr, ExprKind, UnOp};
use regex::Regex;
use std::ops::Range;

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cmp {
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
}

impl Cmp {
    /// Applies the comparison.
    #[inline]
    pub fn test<T: Ord + ?Sized>(self, a: &T, b: &T) -> bool {
        match self {
            Cmp::Eq => a == b,
            Cmp::Ne => a != b,
            Cmp::Lt => a < b,
            Cmp::Le => a <= b,
            Cmp::Gt => a > b,
            Cmp::Ge => a >= b,
        }
    }
}

/// An integer operator; every one is checked: overflow and division by zero give absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Arith {
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl Arith {
    /// Applies the operator, `None` on overflow or division by zero.
    #[inline]
    pub fn apply(self, a: i64, b: i64) -> Option<i64> {
        match self {
            Arith::Add => a.checked_add(b),
            Arith::Sub => a.checked_sub(b),
            Arith::Mul => a.checked_mul(b),
            Arith::Div => a.checked_div(b),
            Arith::Rem => a.checked_rem(b),
        }
    }
}

/// A text test with a second text operand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StrTest {
    Contains,
    StartsWith,
    EndsWith,
}

impl StrTest {
    /// Applies the test.
    #[inline]
    pub fn test(self, hay: &str, needle: &str) -> bool {
        match self {
            StrTest::Contains => hay.contains(needle),
            StrTest::StartsWith => hay.starts_with(needle),
            StrTest::EndsWith => hay.ends_with(needle),
        }
    }
}

/// A boolean expression.
#[derive(Debug, Clone)]
pub enum B {
    Const(bool),
    Field(&'static str, BoolGetter),
    Slot(usize),
    Not(Box<B>),
    And(Vec<B>),
    Or(Vec<B>),
    CmpInt(Cmp, I, I),
    CmpStr(Cmp, S, S),
    CmpBool(Cmp, Box<B>, Box<B>),
    InInt(I, Vec<i64>),
    InStr(S, Vec<String>),
    StrTest(StrTest, S, S),
    Matches(S, Regex),
    /// `has(path)`: the field or slot is present.
    Has(Presence),
}

/// What `has()` looks at.
#[derive(Debug, Clone)]
pub enum Presence {
    Field(&'static str, GetterDebug),
    Slot(usize),
}

/// A getter with a `Debug` impl, for `has()`.
#[derive(Clone, Copy)]
pub struct GetterDebug(pub Getter);

impl std::fmt::Debug for GetterDebug {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.0.ty().name())
    }
}

/// An integer expression; evaluates to `None` when absent.
#[derive(Debug, Clone)]
pub enum I {
    Const(i64),
    Field(&'static str, IntGetter),
    Slot(usize),
    Neg(Box<I>),
    Arith(Arith, Box<I>, Box<I>),
    Min(Box<I>, Box<I>),
    Max(Box<I>, Box<I>),
    Abs(Box<I>),
    /// Length of a text in characters.
    Len(S),
}

/// A text expression; evaluates to `None` when absent.
#[derive(Debug, Clone)]
pub enum S {
    Const(String),
    Field(&'static str, StrGetter),
}

/// A checked expression of one of the three types.
#[derive(Debug, Clone)]
pub enum Typed {
    Bool(B),
    Int(I),
    Str(S),
}

impl Typed {
    /// The static type.
    pub fn ty(&self) -> Type {
        match self {
            Typed::Bool(_) => Type::Bool,
            Typed::Int(_) => Type::Int,
            Typed::Str(_) => Type::Str,
        }
    }
}

/// Checks a condition: the expression must be boolean.
pub fn check_condition(e: &Expr, schema: &Schema) -> Result<B, Diagnostic> {
    match check(e, schema)? {
        Typed::Bool(b) => Ok(b),
        t => Err(Diagnostic::new(
            "not-a-condition",
            e.span.clone(),
            format!("a condition must be true or false, but this is {}", t.ty().name()),
        )
        .suggest(match t.ty() {
            Type::Int => "compare it, e.g. `... >= 1`",
            _ => "compare it, e.g. `... == 'value'`",
        })),
    }
}

/// Checks any expression and resolves its names.
pub fn check(e: &Expr, schema: &Schema) -> Result<Typed, Diagnostic> {
    Checker { schema }.expr(e)
}

struct Checker<'s> {
    schema: &'s Schema,
}

const METHODS: [&str; 4] = ["contains", "starts_with", "ends_with", "matches"];
const FUNCTIONS: [&str; 5] = ["has", "min", "max", "abs", "len"];

fn type_error(span: Range<usize>, message: String) -> Diagnostic {
    Diagnostic::new("type-mismatch", span, message)
}

impl Checker<'_> {
    fn expr(&self, e: &Expr) -> Result<Typed, Diagnostic> {
        Ok(match &e.kind {
            ExprKind::Int(n) => Typed::Int(I::Const(*n)),
            ExprKind::Decimal(_) => {
                return Err(Diagnostic::new(
                    "decimal-number",
                    e.span.clone(),
                    "a decimal number only compares with a probability such as `model.score`; other numbers are whole",
                )
                .suggest("e.g. `model.score >= 0.9`, or write a whole number"));
            }
            ExprKind::Str(s) => Typed::Str(S::Const(s.clone())),
            ExprKind::Bool(b) => Typed::Bool(B::Const(*b)),
            ExprKind::List(_) => {
                return Err(Diagnostic::new("list-not-allowed", e.span.clone(), "a list can only stand after `in`")
                    .suggest("write `x in [a, b]`"));
            }
            ExprKind::Path(segs) => self.path(segs, e.span.clone())?,
            ExprKind::Unary(UnOp::Not, x) => Typed::Bool(B::Not(Box::new(self.boolean(x, "`!`")?))),
            ExprKind::Unary(UnOp::Neg, x) => Typed::Int(I::Neg(Box::new(self.int(x, "`-`")?))),
            ExprKind::Binary(op, a, b) => self.binary(*op, a, b, e.span.clone())?,
            ExprKind::Method { receiver, name, name_span, args } => {
                self.method(receiver, name, name_span.clone(), args, e.span.clone())?
            }
            ExprKind::Call { name, args } => self.call(name, args, e.span.clone())?,
        })
    }

    fn path(&self, segs: &[String], span: Range<usize>) -> Result<Typed, Diagnostic> {
        let path = segs.join(".");
        if let Some(f) = self.schema.field(&path) {
            return Ok(match f.getter {
                Getter::Int(g) => Typed::Int(I::Field(f.path, g)),
                Getter::Bool(g) => Typed::Bool(B::Field(f.path, g)),
                Getter::Str(g) => Typed::Str(S::Field(f.path, g)),
            });
        }
        if let Some((idx, slot)) = self.schema.slot(&path) {
            return Ok(match slot.ty {
                Type::Bool => Typed::Bool(B::Slot(idx)),
                _ => Typed::Int(I::Slot(idx)),
            });
        }
        let (code, what) = match segs[0].as_str() {
            "features" => ("unknown-feature", "feature"),
            "signals" => ("unknown-signal", "signal"),
            _ => ("unknown-field", "field"),
        };
        let prefix = format!("{path}.");
        let children: Vec<&str> = self.schema.names().filter(|n| n.starts_with(&prefix)).collect();
        if !children.is_empty() {
            let list: Vec<&str> = children.iter().take(6).map(|c| &c[prefix.len()..]).collect();
            return Err(Diagnostic::new("not-a-value", span, format!("`{path}` is a group of fields, not a value"))
                .suggest(format!("pick one of its fields: {}", list.join(", "))));
        }
        let d = Diagnostic::new(code, span, format!("unknown {what} `{path}`"));
        Err(match nearest(&path, self.schema.names()) {
            Some(n) => d.suggest(format!("did you mean `{n}`?")),
            None if code == "unknown-feature" => d.suggest("declare it in a [[feature]] table of the ruleset"),
            None => d,
        })
    }

    fn boolean(&self, e: &Expr, ctx: &str) -> Result<B, Diagnostic> {
        match self.expr(e)? {
            Typed::Bool(b) => Ok(b),
            t => Err(Diagnostic::new(
                "not-boolean",
                e.span.clone(),
                format!("{ctx} needs true/false, but this is {}", t.ty().name()),
            )
            .suggest("compare it first, e.g. `x > 0` or `x == 'value'`")),
        }
    }

    fn int(&self, e: &Expr, ctx: &str) -> Result<I, Diagnostic> {
        match self.expr(e)? {
            Typed::Int(i) => Ok(i),
            t => Err(Diagnostic::new(
                "not-a-number",
                e.span.clone(),
                format!("{ctx} needs a number, but this is {}", t.ty().name()),
            )),
        }
    }

    fn text(&self, e: &Expr, ctx: &str) -> Result<S, Diagnostic> {
        match self.expr(e)? {
            Typed::Str(s) => Ok(s),
            t => Err(Diagnostic::new(
                "not-text",
                e.span.clone(),
                format!("{ctx} needs text, but this is {}", t.ty().name()),
            )),
        }
    }

    /// For `field == 'literal'` on an enumerated field, checks the literal is a known value.
    fn check_enum(&self, field: &Expr, lit: &Expr) -> Result<(), Diagnostic> {
        let (ExprKind::Path(segs), ExprKind::Str(value)) = (&field.kind, &lit.kind) else {
            return Ok(());
        };
        let Some(f) = self.schema.field(&segs.join(".")) else { return Ok(()) };
        if f.values.is_empty() || f.values.contains(&value.as_str()) {
            return Ok(());
        }
        let d = Diagnostic::new(
            "unknown-value",
            lit.span.clone(),
            format!("`{}` is never {value:?}; its values are {}", f.path, f.values.join(", ")),
        );
        Err(match nearest(value, f.values.iter().copied()) {
            Some(n) => d.suggest(format!("did you mean '{n}'?")),
            None => d,
        })
    }

    fn binary(&self, op: BinOp, a: &Expr, b: &Expr, span: Range<usize>) -> Result<Typed, Diagnostic> {
        let cmp = match op {
            BinOp::And | BinOp::Or => {
                let ctx = format!("`{}`", op.symbol());
                let (x, y) = (self.boolean(a, &ctx)?, self.boolean(b, &ctx)?);
                // Flatten chains so `a && b && c` is one node.
                let mut items = Vec::new();
                for v in [x, y] {
                    match (op, v) {
                        (BinOp::And, B::And(vs)) | (BinOp::Or, B::Or(vs)) => items.extend(vs),
                        (_, v) => items.push(v),
                    }
                }
                return Ok(Typed::Bool(if op == BinOp::And { B::And(items) } else { B::Or(items) }));
            }
            BinOp::Add | BinOp::Sub | BinOp::Mul | BinOp::Div | BinOp::Rem => {
                let ctx = format!("`{}`", op.symbol());
                let (x, y) = (self.int(a, &ctx)?, self.int(b, &ctx)?);
                let ar = match op {
                    BinOp::Add => Arith::Add,
                    BinOp::Sub => Arith::Sub,
                    BinOp::Mul => Arith::Mul,
                    BinOp::Div => Arith::Div,
                    _ => Arith::Rem,
                };
                if matches!(ar, Arith::Div | Arith::Rem) && matches!(y, I::Const(0)) {
                    return Err(Diagnostic::new("division-by-zero", b.span.clone(), "division by zero"));
                }
                return Ok(Typed::Int(I::Arith(ar, Box::new(x), Box::new(y))));
            }
            BinOp::In => return self.membership(a, b),
            BinOp::Eq => Cmp::Eq,
            BinOp::Ne => Cmp::Ne,
            BinOp::Lt => Cmp::Lt,
            BinOp::Le => Cmp::Le,
            BinOp::Gt => Cmp::Gt,
            BinOp::Ge => Cmp::Ge,
        };
        // A probability (kept per mille) compares with a decimal: `model.score >= 0.9`.
        let probability =
            |e: &Expr| matches!(&e.kind, ExprKind::Path(p) if p.len() == 2 && p[0] == "model" && p[1] == "score");
        let thousandths = |e: &Expr, other: &Expr| match e.kind {
            ExprKind::Decimal(n) if probability(other) => Some(Typed::Int(I::Const(n))),
            _ => None,
        };
        let x = match thousandths(a, b) {
            Some(t) => t,
            None => self.expr(a)?,
        };
        let y = match thousandths(b, a) {
            Some(t) => t,
            None => self.expr(b)?,
        };
        let ordering = !matches!(cmp, Cmp::Eq | Cmp::Ne);
        Ok(Typed::Bool(match (x, y) {
            (Typed::Int(x), Typed::Int(y)) => B::CmpInt(cmp, x, y),
            (Typed::Str(x), Typed::Str(y)) => {
                if ordering {
                    return Err(type_error(span, format!("`{}` compares numbers, not text", op.symbol()))
                        .suggest("use `==`, `!=`, `in`, or a text method such as `.starts_with()`"));
                }
                self.check_enum(a, b)?;
                self.check_enum(b, a)?;
                B::CmpStr(cmp, x, y)
            }
            (Typed::Bool(x), Typed::Bool(y)) => {
                if ordering {
                    return Err(type_error(span, format!("`{}` compares numbers, not true/false", op.symbol())));
                }
                B::CmpBool(cmp, Box::new(x), Box::new(y))
            }
            (x, y) => {
                let d = type_error(
                    span,
                    format!("cannot compare {} with {} using `{}`", x.ty().name(), y.ty().name(), op.symbol()),
                );
                return Err(match (x.ty(), y.ty()) {
                    (Type::Int, Type::Str) | (Type::Str, Type::Int) => {
                        d.suggest("write numbers without quotes, e.g. 1000000, and text in quotes")
                    }
                    _ => d,
                });
            }
        }))
    }

    fn membership(&self, a: &Expr, b: &Expr) -> Result<Typed, Diagnostic> {
        let ExprKind::List(items) = &b.kind else {
            return Err(Diagnostic::new("in-needs-list", b.span.clone(), "`in` needs a list of values on its right")
                .suggest("write e.g. `x in ['a', 'b']`"));
        };
        if items.is_empty() {
            return Err(Diagnostic::new("empty-list", b.span.clone(), "the list is empty, so `in` is always false"));
        }
        match self.expr(a)? {
            Typed::Int(x) => {
                let mut vals = Vec::with_capacity(items.len());
                for it in items {
                    match it.kind {
                        ExprKind::Int(n) => vals.push(n),
                        _ => return Err(list_item_error(it, "number")),
                    }
                }
                vals.sort_unstable();
                vals.dedup();
                Ok(Typed::Bool(B::InInt(x, vals)))
            }
            Typed::Str(x) => {
                let mut vals = Vec::with_capacity(items.len());
                for it in items {
                    match &it.kind {
                        ExprKind::Str(s) => {
                            self.check_enum(a, it)?;
                            vals.push(s.clone());
                        }
                        _ => return Err(list_item_error(it, "text")),
                    }
                }
                vals.sort_unstable();
                vals.dedup();
                Ok(Typed::Bool(B::InStr(x, vals)))
            }
            Typed::Bool(_) => Err(type_error(a.span.clone(), "`in` needs a number or text on its left".into())),
        }
    }

    fn method(
        &self,
        receiver: &Expr,
        name: &str,
        name_span: Range<usize>,
        args: &[Expr],
        span: Range<usize>,
    ) -> Result<Typed, Diagnostic> {
        let test = match name {
            "contains" => StrTest::Contains,
            "starts_with" => StrTest::StartsWith,
            "ends_with" => StrTest::EndsWith,
            "matches" => StrTest::Contains,
            _ => {
                let d = Diagnostic::new("unknown-method", name_span, format!("unknown method `.{name}()`"));
                let alias = match name {
                    "startsWith" => Some("starts_with"),
                    "endsWith" => Some("ends_with"),
                    "includes" => Some("contains"),
                    _ => nearest(name, METHODS),
                };
                return Err(match alias {
                    Some(n) => d.suggest(format!("did you mean `.{n}()`?")),
                    None => {
                        d.suggest(format!("the text methods are {}", METHODS.map(|m| format!(".{m}()")).join(", ")))
                    }
                });
            }
        };
        if args.len() != 1 {
            return Err(Diagnostic::new(
                "wrong-arguments",
                span,
                format!("`.{name}()` takes one argument, got {}", args.len()),
            ));
        }
        let hay = self.text(receiver, &format!("`.{name}()`"))?;
        if name == "matches" {
            let ExprKind::Str(pattern) = &args[0].kind else {
                return Err(Diagnostic::new(
                    "regex-not-literal",
                    args[0].span.clone(),
                    "`.matches()` needs a literal pattern in quotes, so it is compiled once",
                ));
            };
            let re = regex::RegexBuilder::new(pattern).size_limit(1 << 20).build().map_err(|e| {
                let msg = e.to_string();
                let last = msg.lines().rev().find(|l| !l.trim().is_empty()).unwrap_or("").trim();
                let last = last.strip_prefix("error: ").unwrap_or(last);
                Diagnostic::new("invalid-regex", args[0].span.clone(), format!("invalid regular expression: {last}"))
            })?;
            return Ok(Typed::Bool(B::Matches(hay, re)));
        }
        let needle = self.text(&args[0], &format!("`.{name}()`"))?;
        Ok(Typed::Bool(B::StrTest(test, hay, needle)))
    }

    fn call(&self, name: &str, args: &[Expr], span: Range<usize>) -> Result<Typed, Diagnostic> {
        let arity = match name {
            "has" | "abs" | "len" => 1,
            "min" | "max" => 2,
            _ => {
                let d = Diagnostic::new("unknown-function", span, format!("unknown function `{name}()`"));
                return Err(match nearest(name, FUNCTIONS) {
                    Some(n) => d.suggest(format!("did you mean `{n}()`?")),
                    None => d.suggest(format!("the functions are {}", FUNCTIONS.map(|f| format!("{f}()")).join(", "))),
                });
            }
        };
        if args.len() != arity {
            return Err(Diagnostic::new(
                "wrong-arguments",
                span,
                format!("`{name}()` takes {arity} argument{}, got {}", if arity == 1 { "" } else { "s" }, args.len()),
            ));
        }
        Ok(match name {
            "has" => {
                let ExprKind::Path(segs) = &args[0].kind else {
                    return Err(Diagnostic::new("has-needs-field", args[0].span.clone(), "`has()` takes a field name")
                        .suggest("e.g. `has(transfer.balance_before)`"));
                };
                let path = segs.join(".");
                if let Some(f) = self.schema.field(&path) {
                    Typed::Bool(B::Has(Presence::Field(f.path, GetterDebug(f.getter))))
                } else if let Some((idx, _)) = self.schema.slot(&path) {
                    Typed::Bool(B::Has(Presence::Slot(idx)))
                } else {
                    // Reuse the unknown-name diagnostics of paths.
                    return Err(match self.path(segs, args[0].span.clone()) {
                        Err(d) => d,
                        Ok(_) => Diagnostic::new("has-needs-field", args[0].span.clone(), "`has()` takes a field name"),
                    });
                }
            }
            "abs" => Typed::Int(I::Abs(Box::new(self.int(&args[0], "`abs()`")?))),
            "len" => Typed::Int(I::Len(self.text(&args[0], "`len()`")?)),
            _ => {
                let (x, y) = (self.int(&args[0], &format!("`{name}()`"))?, self.int(&args[1], &format!("`{name}()`"))?);
                if name == "min" {
                    Typed::Int(I::Min(Box::new(x), Box::new(y)))
                } else {
                    Typed::Int(I::Max(Box::new(x), Box::new(y)))
                }
            }
        })
    }
}

fn list_item_error(it: &Expr, want: &str) -> Diagnostic {
    Diagnostic::new("list-item", it.span.clone(), format!("every item of this list must be a {want} written out"))
        .suggest("lists hold literal values of one type, e.g. [1, 2] or ['a', 'b']")
}
