//! What the console reads and redoes beyond the API's own calls: the report inbox (newest
//! reports first), a case's follow-up actions (their ids start with `act_{case}_`) and putting a
//! dead letter back in the delivery queue. Group-internal reads, like the case queue: the
//! application decides who may call them.

use crate::{ActionRow, ReportRow, Result};

/// The analyst's desk.
pub trait Desk {
    /// The newest reports, newest first, at most `limit`.
    fn recent_reports(&self, limit: usize) -> Result<Vec<ReportRow>>;
    /// Actions whose id starts with `prefix`, by id, at most `limit`.
    fn actions_with_prefix(&self, prefix: &str, limit: usize) -> Result<Vec<ActionRow>>;
    /// Puts a dead letter back in the queue, due at `now_ms` with no attempts counted; `false`
    /// when no dead action has the id.
    fn requeue_action(&self, id: &str, now_ms: i64) -> Result<bool>;
    /// Open cases that may need attention at `now_ms`: no first action and past its due
    /// time, or in relief (whose steps have deadlines), most overdue first, at most `limit`.
    fn attention_cases(&self, now_ms: i64, limit: usize) -> Result<Vec<crate::CaseRow>>;
    /// How many cases are open (not closed).
    fn open_case_count(&self) -> Result<i64>;
    /// How many actions were given up on (dead letters).
    fn dead_action_count(&self) -> Result<i64>;
}

/// The smallest string greater than every string starting with `prefix` (its last byte
/// raised), for a range scan over an ordered key; `None` when there is no such bound.
pub fn prefix_end(prefix: &str) -> Option<String> {
    let mut b = prefix.as_bytes().to_vec();
    while let Some(last) = b.pop() {
        if last < 0x7f {
            b.push(last + 1);
            return String::from_utf8(b).ok();
        }
    }
    None
}
