//! The analyst's desk: what the console reads beside the API's use cases — the report inbox,
//! a case's follow-up actions and their deliveries, an indicator's contributions, and putting a
//! dead letter back in the delivery queue. Each is authorised like the API's calls.

use crate::access::{Action, authorize};
use crate::registry::{Aggregate, ContributionView};
use crate::{App, AppError, GROUP, Principal, now_ms};
use indicators::IndicatorKind;
use store::{ActionRow, AuditEntry, ReportRow};

/// An indicator as the lookup page shows it.
#[derive(Debug, Clone)]
pub struct IndicatorView {
    /// The shield now.
    pub aggregate: Aggregate,
    /// Contributions: every affiliate's for the group, the caller's own for an affiliate.
    pub contributions: Vec<ContributionView>,
}

impl App {
    /// The newest reports (the safety table's inbox), newest first.
    pub fn report_inbox(&self, p: &Principal, limit: usize) -> Result<Vec<ReportRow>, AppError> {
        authorize(p, Action::WorkCases)?;
        Ok(self.store.recent_reports(limit.min(500))?)
    }

    /// The follow-up actions a case queued, with their delivery state, by id.
    pub fn case_actions(&self, p: &Principal, case_id: i64) -> Result<Vec<ActionRow>, AppError> {
        authorize(p, Action::WorkCases)?;
        Ok(self.store.actions_with_prefix(&format!("act_{case_id}_"), 500)?)
    }

    /// An indicator's shield and the contributions the caller may see.
    pub fn indicator_view(&self, p: &Principal, kind: IndicatorKind, raw: &str) -> Result<IndicatorView, AppError> {
        authorize(p, Action::Report)
            .or_else(|_| authorize(p, Action::WorkCases))
            .or_else(|_| authorize(p, Action::ReadRules))?;
        let aggregate = self.shield(kind, raw)?;
        let mut contributions = self.registry.contributions(kind, raw)?;
        if p.affiliate.as_str() != GROUP {
            contributions.retain(|c| c.affiliate == p.affiliate);
        }
        Ok(IndicatorView { aggregate, contributions })
    }

    /// Puts a dead letter back in the delivery queue (the group's admins), in the audit log.
    pub fn redeliver(&self, p: &Principal, id: &str) -> Result<(), AppError> {
        authorize(p, Action::GroupAdmin)?;
        let now = now_ms();
        if !self.store.requeue_action(id, now)? {
            return Err(AppError::NotFound(format!("dead letter {id}")));
        }
        let entry = AuditEntry {
            at_ms: now,
            actor: p.actor(),
            case_id: None,
            action: "action.redelivered".into(),
            detail: serde_json::json!({ "action": id }).to_string(),
        };
        self.unit_of_work(|tx| Ok(tx.append_audit(std::slice::from_ref(&entry))?))
    }
}
