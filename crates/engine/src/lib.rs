//! The decision engine, pure: a ruleset file (TOML) is compiled once into an immutable
//! [`Snapshot`] (rules as closures, features as definitions, signal providers), and
//! [`decide`] runs one event through it: features update, signals fill, rules evaluate, the
//! verdict and score combine, reasons and guidance assemble.
//!
//! Snapshots are swapped atomically in a [`SnapshotCell`]; a ruleset that does not compile is
//! returned as diagnostics and never replaces the active one.

mod decide;
mod ruleset;
pub mod simulate;

pub use decide::{decide, decide_at, DecideState, Matched};
pub use ruleset::{CompiledRule, Snapshot, SnapshotCell, Thresholds};
