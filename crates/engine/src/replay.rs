//! Replaying events outside the server: one feature state per affiliate, as the server keeps
//! it, so `ansim replay`, `ansim backtest` and the draft backtest endpoint decide a file of
//! events exactly as the live service would have, whatever affiliates it mixes.

use crate::decide::{DecideState, Matched, decide, decide_at};
use crate::ruleset::Snapshot;
use domain::{AffiliateId, Decision, Event};
use std::collections::HashMap;

/// Feature state per affiliate. Pure: callers bring the events.
#[derive(Debug, Default)]
pub struct Replay {
    states: HashMap<AffiliateId, DecideState>,
}

impl Replay {
    /// Empty state for every affiliate.
    pub fn new() -> Replay {
        Replay::default()
    }

    /// The state of `event`'s affiliate, created empty on its first event.
    pub fn state(&mut self, event: &Event) -> &mut DecideState {
        // Look up first: the common case (a known affiliate) clones no id.
        if !self.states.contains_key(&event.affiliate) {
            self.states.insert(event.affiliate.clone(), DecideState::new());
        }
        self.states.get_mut(&event.affiliate).expect("inserted above")
    }

    /// Decides `event` with `snap` in its affiliate's state.
    pub fn decide(&mut self, snap: &Snapshot, event: &Event) -> Decision {
        decide(snap, self.state(event), event)
    }

    /// The outcome only, with the matched rules left in the returned state.
    pub fn decide_at(&mut self, snap: &Snapshot, event: &Event) -> (Matched, &DecideState) {
        let state = self.state(event);
        let m = decide_at(snap, state, event);
        (m, state)
    }
}
