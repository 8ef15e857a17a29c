//! Lexer and parser for rule expressions: text → [`Expr`] tree with byte spans.
//!
//! The grammar is CEL-like, from loosest to tightest binding:
//! `||`, `&&`, comparisons and `in` (non-associative), `+ -`, `* / %`, unary `! -`, then
//! postfix `.method(args)`, then primaries: literals (`12`, `1_000_000`, `'text'`, `"text"`,
//! `true`, `false`), lists `[a, b]`, field paths `transfer.counterparty.bank`, calls `has(x)`,
//! and parentheses. Parsing never panics: nesting depth and length are bounded, and every
//! problem is a [`Diagnostic`].

use crate::diag::Diagnostic;
use std::ops::Range;

/// Longest expression accepted, in bytes.
pub const MAX_EXPR_LEN: usize = 16 * 1024;
/// Deepest nesting accepted (parentheses, lists, unary operators).
pub const MAX_DEPTH: usize = 64;

/// A binary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BinOp {
    Or,
    And,
    Eq,
    Ne,
    Lt,
    Le,
    Gt,
    Ge,
    In,
    Add,
    Sub,
    Mul,
    Div,
    Rem,
}

impl BinOp {
    /// The operator as written.
    pub fn symbol(self) -> &'static str {
        match self {
            BinOp::Or => "||",
            BinOp::And => "&&",
            BinOp::Eq => "==",
            BinOp::Ne => "!=",
            BinOp::Lt => "<",
            BinOp::Le => "<=",
            BinOp::Gt => ">",
            BinOp::Ge => ">=",
            BinOp::In => "in",
            BinOp::Add => "+",
            BinOp::Sub => "-",
            BinOp::Mul => "*",
            BinOp::Div => "/",
            BinOp::Rem => "%",
        }
    }

    fn binding(self) -> u8 {
        match self {
            BinOp::Or => 1,
            BinOp::And => 2,
            BinOp::Eq | BinOp::Ne | BinOp::Lt | BinOp::Le | BinOp::Gt | BinOp::Ge | BinOp::In => 3,
            BinOp::Add | BinOp::Sub => 4,
            BinOp::Mul | BinOp::Div | BinOp::Rem => 5,
        }
    }
}

/// A unary operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UnOp {
    Not,
    Neg,
}

/// An expression node with its byte span in the source.
#[derive(Debug, Clone, PartialEq)]
pub struct Expr {
    /// What the node is.
    pub kind: ExprKind,
    /// Where it is in the expression text.
    pub span: Range<usize>,
}

/// The kinds of expression node.
#[derive(Debug, Clone, PartialEq)]
pub enum ExprKind {
    Int(i64),
    /// A decimal number such as `0.9`, in thousandths (900): only a probability (`model.score`)
    /// compares with one.
    Decimal(i64),
    Str(String),
    Bool(bool),
    List(Vec<Expr>),
    /// A dotted path such as `features.transfers_1h`, as its segments.
    Path(Vec<String>),
    Unary(UnOp, Box<Expr>),
    Binary(BinOp, Box<Expr>, Box<Expr>),
    /// `receiver.name(args)`.
    Method {
        receiver: Box<Expr>,
        name: String,
        name_span: Range<usize>,
        args: Vec<Expr>,
    },
    /// `name(args)`.
    Call {
        name: String,
        args: Vec<Expr>,
    },
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Int(i64),
    /// A decimal number, in thousandths.
    Decimal(i64),
    Str(String),
    Punct(&'static str),
    Eof,
}

struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

const PUNCTS: [&str; 21] =
    ["&&", "||", "==", "!=", "<=", ">=", "<", ">", "!", "+", "-", "*", "/", "%", "(", ")", "[", "]", ",", ".", "?"];

impl<'a> Lexer<'a> {
    fn next(&mut self) -> Result<(Tok, Range<usize>), Diagnostic> {
        let bytes = self.src.as_bytes();
        while self.pos < bytes.len() && (bytes[self.pos] as char).is_ascii_whitespace() {
            self.pos += 1;
        }
        let start = self.pos;
        let Some(c) = self.src[self.pos..].chars().next() else {
            return Ok((Tok::Eof, start..start));
        };
        if c.is_ascii_alphabetic() || c == '_' {
            let end = self.src[start..]
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                .map_or(self.src.len(), |n| start + n);
            self.pos = end;
            return Ok((Tok::Ident(self.src[start..end].to_string()), start..end));
        }
        if c.is_ascii_digit() {
            let end = self.src[start..]
                .find(|ch: char| !(ch.is_ascii_alphanumeric() || ch == '_'))
                .map_or(self.src.len(), |n| start + n);
            // `0.9`: a decimal, kept in thousandths (probabilities compare with these).
            let rest = &self.src[end..];
            if rest.starts_with('.') && rest[1..].starts_with(|ch: char| ch.is_ascii_digit()) {
                let frac_end = rest[1..].find(|ch: char| !ch.is_ascii_alphanumeric()).map_or(rest.len(), |n| n + 1);
                let (int, frac) = (&self.src[start..end], &rest[1..frac_end]);
                let full = start..end + frac_end;
                self.pos = end + frac_end;
                let ok = int.bytes().all(|b| b.is_ascii_digit())
                    && frac.bytes().all(|b| b.is_ascii_digit())
                    && frac.len() <= 3
                    && int.len() <= 12;
                if !ok {
                    return Err(Diagnostic::new(
                        "invalid-number",
                        full,
                        format!("`{}` is not a number", &self.src[start..end + frac_end]),
                    )
                    .suggest("a decimal has at most three digits after the point, e.g. 0.95"));
                }
                let whole: i64 = int.parse().unwrap_or(0);
                let thousandths: i64 = format!("{frac:0<3}").parse().unwrap_or(0);
                return Ok((Tok::Decimal(whole * 1000 + thousandths), full));
            }
            self.pos = end;
            let text = &self.src[start..end];
            let digits: String = text.chars().filter(|ch| *ch != '_').collect();
            if text.ends_with('_') || text.contains("__") || !digits.bytes().all(|b| b.is_ascii_digit()) {
                return Err(Diagnostic::new("invalid-number", start..end, format!("`{text}` is not a number"))
                    .suggest("write whole numbers with optional `_` between digits, e.g. 1_000_000"));
            }
            return match digits.parse::<i64>() {
                Ok(n) => Ok((Tok::Int(n), start..end)),
                Err(_) => Err(Diagnostic::new(
                    "number-too-large",
                    start..end,
                    format!("`{text}` does not fit in a 64-bit integer"),
                )),
            };
        }
        if c == '\'' || c == '"' {
            return self.string(c);
        }
        for p in PUNCTS {
            if self.src[start..].starts_with(p) {
                self.pos += p.len();
                if p == "?" {
                    break;
                }
                return Ok((Tok::Punct(p), start..self.pos));
            }
        }
        let end = start + c.len_utf8();
        let d = Diagnostic::new("unexpected-character", start..end, format!("unexpected character `{c}`"));
        Err(match c {
            '=' => d.suggest("use `==` to compare"),
            '&' => d.suggest("use `&&` for \"and\""),
            '|' => d.suggest("use `||` for \"or\""),
            '‘' | '’' | '“' | '”' => d.suggest("use straight quotes ' or \" around text"),
            _ => d,
        })
    }

    fn string(&mut self, quote: char) -> Result<(Tok, Range<usize>), Diagnostic> {
        let start = self.pos;
        self.pos += 1;
        let mut out = String::new();
        let mut chars = self.src[self.pos..].char_indices();
        while let Some((i, ch)) = chars.next() {
            match ch {
                c if c == quote => {
                    self.pos += i + 1;
                    return Ok((Tok::Str(out), start..self.pos));
                }
                '\\' => {
                    let Some((_, esc)) = chars.next() else { break };
                    match esc {
                        'n' => out.push('\n'),
                        't' => out.push('\t'),
                        '\\' => out.push('\\'),
                        '\'' => out.push('\''),
                        '"' => out.push('"'),
                        // Any other backslash is kept, so regexes read naturally: '\d+', 'www\.'.
                        other => {
                            out.push('\\');
                            out.push(other);
                        }
                    }
                }
                '\n' => break,
                c => out.push(c),
            }
        }
        Err(Diagnostic::new("unterminated-string", start..self.src.len().min(start + 1), "text is not closed")
            .suggest(format!("add the closing {quote}")))
    }
}

/// Parses one expression. Errors come back as diagnostics with spans in `src`.
pub fn parse(src: &str) -> Result<Expr, Diagnostic> {
    if src.len() > MAX_EXPR_LEN {
        return Err(Diagnostic::new(
            "expression-too-long",
            0..0,
            format!("expression is {} bytes; the limit is {MAX_EXPR_LEN}", src.len()),
        ));
    }
    let mut p = Parser { lexer: Lexer { src, pos: 0 }, tok: Tok::Eof, span: 0..0, depth: 0 };
    p.bump()?;
    if p.tok == Tok::Eof {
        return Err(Diagnostic::new("empty-expression", 0..src.len(), "the expression is empty")
            .suggest("write a condition such as `event.kind == 'transfer'`, or `true`"));
    }
    let e = p.expr(0)?;
    if p.tok != Tok::Eof {
        return Err(p.unexpected("an operator such as `&&` or the end of the expression"));
    }
    Ok(e)
}

struct Parser<'a> {
    lexer: Lexer<'a>,
    tok: Tok,
    span: Range<usize>,
    depth: usize,
}

impl Parser<'_> {
    fn bump(&mut self) -> Result<(), Diagnostic> {
        let (t, s) = self.lexer.next()?;
        self.tok = t;
        self.span = s;
        Ok(())
    }

    fn unexpected(&self, wanted: &str) -> Diagnostic {
        let found = match &self.tok {
            Tok::Eof => "the end of the expression".to_string(),
            Tok::Ident(s) => format!("`{s}`"),
            Tok::Int(n) => format!("`{n}`"),
            Tok::Decimal(n) => format!("`{}.{:03}`", n / 1000, n % 1000),
            Tok::Str(s) => format!("text {s:?}"),
            Tok::Punct(p) => format!("`{p}`"),
        };
        let d = Diagnostic::new("unexpected-token", self.span.clone(), format!("expected {wanted}, found {found}"));
        match &self.tok {
            Tok::Ident(w) if w == "and" => d.suggest("use `&&` for \"and\""),
            Tok::Ident(w) if w == "or" => d.suggest("use `||` for \"or\""),
            Tok::Ident(w) if w == "not" => d.suggest("use `!` for \"not\""),
            _ => d,
        }
    }

    fn enter(&mut self) -> Result<(), Diagnostic> {
        self.depth += 1;
        if self.depth > MAX_DEPTH {
            return Err(Diagnostic::new(
                "too-deep",
                self.span.clone(),
                format!("the expression nests more than {MAX_DEPTH} levels deep"),
            )
            .suggest("split it into several rules or features"));
        }
        Ok(())
    }

    fn binop(&self) -> Option<BinOp> {
        Some(match &self.tok {
            Tok::Punct("||") => BinOp::Or,
            Tok::Punct("&&") => BinOp::And,
            Tok::Punct("==") => BinOp::Eq,
            Tok::Punct("!=") => BinOp::Ne,
            Tok::Punct("<") => BinOp::Lt,
            Tok::Punct("<=") => BinOp::Le,
            Tok::Punct(">") => BinOp::Gt,
            Tok::Punct(">=") => BinOp::Ge,
            Tok::Ident(w) if w == "in" => BinOp::In,
            Tok::Punct("+") => BinOp::Add,
            Tok::Punct("-") => BinOp::Sub,
            Tok::Punct("*") => BinOp::Mul,
            Tok::Punct("/") => BinOp::Div,
            Tok::Punct("%") => BinOp::Rem,
            _ => return None,
        })
    }

    /// Precedence climbing: parses operators binding tighter than `min`.
    fn expr(&mut self, min: u8) -> Result<Expr, Diagnostic> {
        self.enter()?;
        let entered = self.depth;
        let mut lhs = self.unary()?;
        while let Some(op) = self.binop() {
            let bp = op.binding();
            if bp <= min {
                break;
            }
            self.bump()?;
            let rhs = self.expr(bp)?;
            if matches!(op, BinOp::And | BinOp::Or) {
                // A run of `||` (or `&&`) becomes a balanced tree, so a long list of
                // alternatives does not make the tree, and every recursive pass over it, deep.
                let mut items = vec![lhs, rhs];
                while self.binop() == Some(op) {
                    self.bump()?;
                    items.push(self.expr(bp)?);
                }
                lhs = balanced(op, items);
                continue;
            }
            if bp == 3 && self.binop().is_some_and(|o| o.binding() == 3) {
                let d = Diagnostic::new(
                    "chained-comparison",
                    self.span.clone(),
                    format!(
                        "comparisons cannot be chained: `{}` after `{}`",
                        self.binop().map_or("", BinOp::symbol),
                        op.symbol()
                    ),
                )
                .suggest("join two comparisons with `&&`, e.g. `a >= 1 && a <= 9`");
                return Err(d);
            }
            let span = lhs.span.start..rhs.span.end;
            lhs = Expr { kind: ExprKind::Binary(op, Box::new(lhs), Box::new(rhs)), span };
            // Each link of an arithmetic chain such as `a + b + c` nests the tree one level
            // deeper, so it counts towards the depth limit like a parenthesis does.
            self.enter()?;
        }
        self.depth = entered - 1;
        Ok(lhs)
    }

    fn unary(&mut self) -> Result<Expr, Diagnostic> {
        let op = match self.tok {
            Tok::Punct("!") => UnOp::Not,
            Tok::Punct("-") => UnOp::Neg,
            _ => return self.postfix(),
        };
        let start = self.span.start;
        self.bump()?;
        self.enter()?;
        let inner = self.unary()?;
        self.depth -= 1;
        // Fold `-5` into a literal so that i64::MIN is writable and lists of negatives are constant.
        if let (UnOp::Neg, ExprKind::Int(n)) = (op, &inner.kind) {
            return Ok(Expr { kind: ExprKind::Int(n.wrapping_neg()), span: start..inner.span.end });
        }
        let span = start..inner.span.end;
        Ok(Expr { kind: ExprKind::Unary(op, Box::new(inner)), span })
    }

    fn postfix(&mut self) -> Result<Expr, Diagnostic> {
        let mut e = self.primary()?;
        while self.tok == Tok::Punct(".") {
            self.bump()?;
            let Tok::Ident(name) = self.tok.clone() else {
                return Err(self.unexpected("a method name after `.`"));
            };
            let name_span = self.span.clone();
            self.bump()?;
            if self.tok != Tok::Punct("(") {
                return Err(Diagnostic::new(
                    "unexpected-token",
                    name_span,
                    format!("`.{name}` must be a method call such as `.{name}(...)`"),
                )
                .suggest("field paths start with a name such as `transfer.amount`; methods need parentheses"));
            }
            let args = self.args()?;
            // The current token is the closing `)`, which belongs to the call.
            let span = e.span.start..self.span.end;
            e = Expr { kind: ExprKind::Method { receiver: Box::new(e), name, name_span, args }, span };
            self.bump()?;
        }
        Ok(e)
    }

    /// Parses `(a, b, ...)` with the current token at `(`; leaves the token at `)`.
    fn args(&mut self) -> Result<Vec<Expr>, Diagnostic> {
        let open = self.span.clone();
        self.bump()?;
        let mut args = Vec::new();
        while self.tok != Tok::Punct(")") {
            if self.tok == Tok::Eof {
                return Err(Diagnostic::new("unclosed-delimiter", open, "this `(` is never closed").suggest("add `)`"));
            }
            args.push(self.expr(0)?);
            match self.tok {
                Tok::Punct(",") => self.bump()?,
                Tok::Punct(")") => {}
                Tok::Eof => {
                    return Err(
                        Diagnostic::new("unclosed-delimiter", open, "this `(` is never closed").suggest("add `)`")
                    );
                }
                _ => return Err(self.unexpected("`,` or `)`")),
            }
        }
        Ok(args)
    }

    fn primary(&mut self) -> Result<Expr, Diagnostic> {
        let span = self.span.clone();
        match self.tok.clone() {
            Tok::Int(n) => {
                self.bump()?;
                Ok(Expr { kind: ExprKind::Int(n), span })
            }
            Tok::Decimal(n) => {
                self.bump()?;
                Ok(Expr { kind: ExprKind::Decimal(n), span })
            }
            Tok::Str(s) => {
                self.bump()?;
                Ok(Expr { kind: ExprKind::Str(s), span })
            }
            Tok::Ident(w) if w == "true" || w == "false" => {
                self.bump()?;
                Ok(Expr { kind: ExprKind::Bool(w == "true"), span })
            }
            Tok::Ident(w) => {
                self.bump()?;
                if self.tok == Tok::Punct("(") {
                    let args = self.args()?;
                    let end = self.span.end;
                    self.bump()?;
                    return Ok(Expr { kind: ExprKind::Call { name: w, args }, span: span.start..end });
                }
                let mut segs = vec![w];
                let mut end = span.end;
                // A path continues while `.name` is not followed by `(` (that is a method).
                while self.tok == Tok::Punct(".") {
                    let save_pos = self.lexer.pos;
                    let dot = self.span.clone();
                    self.bump()?;
                    let Tok::Ident(seg) = self.tok.clone() else {
                        return Err(self.unexpected("a field name after `.`"));
                    };
                    let seg_span = self.span.clone();
                    self.bump()?;
                    if self.tok == Tok::Punct("(") {
                        // Rewind: `.seg(` is a method call on the path so far.
                        self.lexer.pos = save_pos;
                        self.tok = Tok::Punct(".");
                        self.span = dot;
                        break;
                    }
                    segs.push(seg);
                    end = seg_span.end;
                }
                Ok(Expr { kind: ExprKind::Path(segs), span: span.start..end })
            }
            Tok::Punct("(") => {
                self.bump()?;
                let inner = self.expr(0)?;
                if self.tok != Tok::Punct(")") {
                    if self.tok == Tok::Eof {
                        return Err(
                            Diagnostic::new("unclosed-delimiter", span, "this `(` is never closed").suggest("add `)`")
                        );
                    }
                    return Err(self.unexpected("`)`"));
                }
                let end = self.span.end;
                self.bump()?;
                Ok(Expr { kind: inner.kind, span: span.start..end })
            }
            Tok::Punct("[") => {
                self.bump()?;
                let mut items = Vec::new();
                while self.tok != Tok::Punct("]") {
                    if self.tok == Tok::Eof {
                        return Err(
                            Diagnostic::new("unclosed-delimiter", span, "this `[` is never closed").suggest("add `]`")
                        );
                    }
                    items.push(self.expr(0)?);
                    match self.tok {
                        Tok::Punct(",") => self.bump()?,
                        Tok::Punct("]") => {}
                        Tok::Eof => {
                            return Err(Diagnostic::new("unclosed-delimiter", span, "this `[` is never closed")
                                .suggest("add `]`"));
                        }
                        _ => return Err(self.unexpected("`,` or `]`")),
                    }
                }
                let end = self.span.end;
                self.bump()?;
                Ok(Expr { kind: ExprKind::List(items), span: span.start..end })
            }
            _ => Err(self.unexpected("a value, a field or `(`")),
        }
    }
}

/// Joins `items` (at least one) with `op` as a balanced tree, keeping their order, which is
/// also their evaluation order.
fn balanced(op: BinOp, mut items: Vec<Expr>) -> Expr {
    if items.len() > 1 {
        let right = balanced(op, items.split_off(items.len().div_ceil(2)));
        let left = balanced(op, items);
        let span = left.span.start..right.span.end;
        return Expr { kind: ExprKind::Binary(op, Box::new(left), Box::new(right)), span };
    }
    // Never empty; the fallback is the operator's identity (`true` for `&&`, `false` for `||`).
    items.pop().unwrap_or(Expr { kind: ExprKind::Bool(op == BinOp::And), span: 0..0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn show(e: &Expr) -> String {
        match &e.kind {
            ExprKind::Int(n) => n.to_string(),
            ExprKind::Decimal(n) => format!("{}.{:03}", n / 1000, n % 1000),
            ExprKind::Str(s) => format!("{s:?}"),
            ExprKind::Bool(b) => b.to_string(),
            ExprKind::List(xs) => format!("[{}]", xs.iter().map(show).collect::<Vec<_>>().join(", ")),
            ExprKind::Path(p) => p.join("."),
            ExprKind::Unary(op, x) => format!("({}{})", if *op == UnOp::Not { "!" } else { "-" }, show(x)),
            ExprKind::Binary(op, a, b) => format!("({} {} {})", show(a), op.symbol(), show(b)),
            ExprKind::Method { receiver, name, args, .. } => {
                format!("{}.{name}({})", show(receiver), args.iter().map(show).collect::<Vec<_>>().join(", "))
            }
            ExprKind::Call { name, args } => {
                format!("{name}({})", args.iter().map(show).collect::<Vec<_>>().join(", "))
            }
        }
    }

    #[test]
    fn precedence_and_paths() {
        let cases = [
            ("a || b && c", "(a || (b && c))"),
            ("!a.b && c == 1 + 2 * 3", "((!a.b) && (c == (1 + (2 * 3))))"),
            ("x.y.contains('z') || -5 < n", "(x.y.contains(\"z\") || (-5 < n))"),
            ("k in ['a', \"b\"]", "(k in [\"a\", \"b\"])"),
            ("has(device.id) && 1_000_000 <= t.amount", "(has(device.id) && (1000000 <= t.amount))"),
            ("a - b - c", "((a - b) - c)"),
            ("(a || b) && c", "((a || b) && c)"),
            ("-5 in [-1, 2]", "(-5 in [-1, 2])"),
        ];
        for (src, want) in cases {
            assert_eq!(show(&parse(src).unwrap()), want, "{src}");
        }
    }

    #[test]
    fn spans_cover_source() {
        let e = parse("  transfer.amount >= 10 ").unwrap();
        assert_eq!(e.span, 2..23);
    }

    #[test]
    fn depth_is_bounded() {
        let deep = "(".repeat(100) + "1" + &")".repeat(100);
        assert_eq!(parse(&deep).unwrap_err().code, "too-deep");
        let nots = "!".repeat(100) + "a";
        assert_eq!(parse(&nots).unwrap_err().code, "too-deep");
    }
}
