//! The outbox's consumer: side effects written in the same transaction as the decisions that
//! caused them, turned into work on the node leading `outbox` — a hold or block decision into
//! case work (`case.open`), a user seen in a campaign's segment into an enrolment
//! (`campaign.enroll`).

use crate::{App, AppError, now_ms};

impl App {
    /// Handles up to `limit` waiting side effects, oldest first, and marks them done. Returns
    /// how many were handled (0 on a node that does not lead `outbox`).
    pub fn process_outbox(&self, limit: usize) -> Result<usize, AppError> {
        // One node turns decisions into cases, or two would open the same case twice.
        if !self.store.lead("outbox")? {
            return Ok(0);
        }
        let items = self.store.outbox_pending(limit)?;
        let mut done = Vec::with_capacity(items.len());
        let mut seen = Vec::new();
        for item in &items {
            match item.topic.as_str() {
                "case.open" => self.case_from_decision(&item.affiliate, &item.payload)?,
                // Enrolled together below, in one unit of work.
                crate::campaigns::ENROL_TOPIC => seen.push((item.affiliate.clone(), item.payload.clone())),
                _ => {}
            }
            done.push(item.id);
        }
        self.enrol(&seen)?;
        self.store.outbox_done(&done, now_ms())?;
        Ok(done.len())
    }
}
