//! The vocabulary of the safety table's cases: the states a case moves through and the
//! outcomes it closes with. A case only moves forward; which moves are legal is decided here,
//! once, so the store keeps a typed state and no caller compares positions in a list.

use std::fmt;

/// Where a case stands, in the order it moves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum CaseState {
    /// Filed, not yet looked at.
    New,
    /// An analyst has looked at it and set its priority.
    Triaged,
    /// Being worked.
    Investigating,
    /// Follow-up actions were taken (fraud confirmed, indicators flagged).
    ActionTaken,
    /// The statutory relief steps are under way.
    Relief,
    /// Done; a new report about its indicators opens a new case linked to it.
    Closed,
}

impl CaseState {
    /// Every state, in order.
    pub const ALL: [CaseState; 6] = [
        CaseState::New,
        CaseState::Triaged,
        CaseState::Investigating,
        CaseState::ActionTaken,
        CaseState::Relief,
        CaseState::Closed,
    ];

    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseState::New => "new",
            CaseState::Triaged => "triaged",
            CaseState::Investigating => "investigating",
            CaseState::ActionTaken => "action_taken",
            CaseState::Relief => "relief",
            CaseState::Closed => "closed",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<CaseState> {
        CaseState::ALL.into_iter().find(|x| x.as_str() == s)
    }

    /// Whether a case may move from `self` to `to`: forward only, never out of `closed`.
    pub fn can_move_to(self, to: CaseState) -> bool {
        self != CaseState::Closed && to > self
    }

    /// Whether reports still join it.
    pub fn is_open(self) -> bool {
        self != CaseState::Closed
    }
}

impl fmt::Display for CaseState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How a case was decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CaseOutcome {
    /// Fraud: its indicators are confirmed for every affiliate.
    ConfirmedFraud,
    /// Not fraud.
    NotFraud,
    /// The same as another case.
    Duplicate,
}

impl CaseOutcome {
    /// Every outcome.
    pub const ALL: [CaseOutcome; 3] = [CaseOutcome::ConfirmedFraud, CaseOutcome::NotFraud, CaseOutcome::Duplicate];

    /// The wire and storage name.
    pub fn as_str(self) -> &'static str {
        match self {
            CaseOutcome::ConfirmedFraud => "confirmed_fraud",
            CaseOutcome::NotFraud => "not_fraud",
            CaseOutcome::Duplicate => "duplicate",
        }
    }

    /// Parses a name.
    pub fn parse(s: &str) -> Option<CaseOutcome> {
        CaseOutcome::ALL.into_iter().find(|x| x.as_str() == s)
    }
}

impl fmt::Display for CaseOutcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cases_move_forward_only_and_names_round_trip() {
        for (i, a) in CaseState::ALL.into_iter().enumerate() {
            assert_eq!(CaseState::parse(a.as_str()), Some(a));
            for (j, b) in CaseState::ALL.into_iter().enumerate() {
                assert_eq!(a.can_move_to(b), j > i && a != CaseState::Closed, "{a} → {b}");
            }
        }
        assert!(!CaseState::Closed.is_open() && CaseState::Relief.is_open());
        assert_eq!(CaseState::parse("done"), None);
        for o in CaseOutcome::ALL {
            assert_eq!(CaseOutcome::parse(o.as_str()), Some(o));
        }
    }
}
