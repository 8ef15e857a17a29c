//! The decision engine, pure: a ruleset file (TOML) is compiled once into an immutable
//! [`Snapshot`] (rules as closures, features as definitions, signal providers), and
//! [`decide`] runs one event through it: features update, signals fill, rules evaluate, the
//! verdict and score combine, reasons and guidance assemble.
//!
//! Snapshots are swapped atomically in a [`SnapshotCell`]; a ruleset that does not compile is
//! returned as diagnostics and never replaces the active one.

// Diagnostics are rich and built only on the cold compile path; see the same note in `rules`.
#![allow(clippy::result_large_err)]

pub mod backtest;
mod decide;
pub mod replay;
mod ruleset;

pub use decide::{DecideState, Matched, decide, decide_at, decide_with, model_inputs, prepare};
pub use replay::Replay;
pub use ruleset::{CompiledRule, ModelInputs, STANDARD_SIGNALS, Snapshot, SnapshotCell, Thresholds};
