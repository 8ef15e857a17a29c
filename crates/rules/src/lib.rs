//! ansim's rule language: an analyst writes `transfer.amount >= 1_000_000 &&
//! device.remote_control_app`; this crate parses it ([`syntax`]), type-checks it against the
//! event [`schema`] and the declared feature and signal slots ([`check`]), and compiles it to a
//! tree of closures over typed getters ([`compile`]) that evaluates without allocating and
//! without inspecting value types at run time.
//!
//! Semantics in one paragraph: values are integers (i64, money in won), booleans and text.
//! A field that does not apply to the event is *absent*. Arithmetic with an absent value or an
//! overflow or a division by zero gives absent; any comparison, `in` or text test with an absent
//! value is `false`; an absent boolean field or slot reads as `false`; `has(x)` tests presence.
//! So `!(x > 5)` is true when `x` is absent, and `x <= 5` is false: write what you mean.

// Diagnostics are rich (message, suggestion, location) and only built on the cold compile
// path, never while evaluating; boxing them would buy nothing.
#![allow(clippy::result_large_err)]

pub mod check;
pub mod compile;
pub mod diag;
pub mod reference;
pub mod schema;
pub mod syntax;

pub use check::{Typed, check};
pub use compile::{Compiled, CompiledValue, compile, compile_value};
pub use diag::Diagnostic;
pub use schema::{Ctx, Schema, Type};

/// Parses, checks and compiles a boolean condition in one step.
pub fn compile_condition(src: &str, schema: &Schema) -> Result<Compiled, Diagnostic> {
    let expr = syntax::parse(src)?;
    let typed = check::check_condition(&expr, schema)?;
    Ok(compile::compile(&typed))
}
