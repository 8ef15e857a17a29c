//! A repeated event id, answered from what is stored: the same id with the same content gets
//! the stored decision (marked a duplicate); the same id with other content is a conflict, as
//! with a payment API's idempotency key.

use crate::{AppError, Decided};
use domain::{Decision, Event};
use std::sync::Arc;

/// A reused event id with other content: like a payment API's idempotency key, an id names
/// one event; answering with the first decision would hide that the second was never decided.
pub(crate) fn reused(event_id: &str, decision_id: &str) -> AppError {
    AppError::Conflict(format!(
        "event id {event_id:?} was already used for other content (decision {decision_id}); \
         send a new id for a new event"
    ))
}

/// The stored decision for a repeated id, or a conflict when the repeat's content differs.
pub(crate) fn repeat(r: &store::EventRecord, event_json: &str) -> Result<Decided, AppError> {
    // Compared in canonical form: the stored JSON is read back and written again, so spacing,
    // member order and later optional fields make no difference.
    let stored = Event::from_json(&r.event_json, None)
        .map(|e| e.to_json())
        .map_err(|e| AppError::Unavailable(format!("stored event {} is unreadable: {e}", r.event_id)))?;
    if stored != event_json {
        return Err(reused(&r.event_id, &r.decision_id));
    }
    decided_from_record(r)
}

fn decided_from_record(r: &store::EventRecord) -> Result<Decided, AppError> {
    let decision: Decision = serde_json::from_str(&r.decision_json)
        .map_err(|e| AppError::Unavailable(format!("stored decision {} is unreadable: {e}", r.decision_id)))?;
    Ok(Decided { decision_id: r.decision_id.clone(), decision: Arc::new(decision), duplicate: true })
}
