//! Signals: facts computed about an event before rules read them.
//!
//! * [`features`] — streaming velocity features (`count`, `sum`, `distinct`, `first_seen`)
//!   over sliding windows keyed by any event field, with bounded memory per key. Pure:
//!   `(state, event) → (state', values)`, time from the event only.
//! * [`digest_map`] — the digest-keyed map feature state is kept in, split into shards so a
//!   snapshot can take one shard at a time.
//! * [`SignalProvider`] — the seam later signal sources plug into (shared indicator hits,
//!   message and link analysis, model scores). A provider declares typed `signals.*` names and
//!   fills their values for each event.

pub mod digest_map;
pub mod features;

pub use features::{FeatureDef, FeatureKind, FeatureState, KeyPart, KeyState, Op, Window, plan};

use domain::Event;
use rules::Type;

/// A source of `signals.*` values. Providers are part of a decision snapshot, so they must be
/// cheap to call on the hot path and must not block on IO; anything slow belongs in a
/// background task that refreshes data the provider reads.
pub trait SignalProvider: Send + Sync {
    /// The signals this provider fills, as `(name without the "signals." prefix, type)`.
    /// Types are [`Type::Int`] or [`Type::Bool`].
    fn declare(&self) -> Vec<(String, Type)>;

    /// Writes this provider's values for `event` into `out`, one per declared signal, in
    /// declaration order. Entries left `None` read as absent (booleans as `false`).
    fn provide(&self, event: &Event, out: &mut [Option<i64>]);
}
