//! Who may do what: one table from each action to what it needs (a scope, and for the safety
//! table's work, the group), and one [`authorize`] that every handler and use case calls, so a
//! permission is decided in one place and can be read in one place.

use crate::{AppError, GROUP, Principal};
use store::Scope;

/// Something a caller asks to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Send events, read their decisions, cancel a held transfer, analyse a message.
    Decide,
    /// Read shields and report an indicator.
    Report,
    /// Confirm or clear one's own report on an indicator, or import confirmed rows.
    ConfirmIndicator,
    /// Read subjects' self-protection and change it on their behalf.
    Protection,
    /// Read the active ruleset, its history and the draft.
    ReadRules,
    /// Save, validate, backtest, publish and roll back rulesets.
    EditRules,
    /// Register the affiliate's webhook and what it holds.
    ManageWebhook,
    /// Work the safety table's cases: the queue, a case, changes, alerts.
    WorkCases,
    /// Per-affiliate registry totals and dead letters: the group's administrators only.
    GroupAdmin,
}

impl Action {
    /// The scopes any of which allows the action (`admin` allows everything an affiliate may
    /// do), and whether it is the group's alone.
    fn needs(self) -> (&'static [Scope], bool) {
        match self {
            Action::Decide | Action::Report | Action::Protection => (&[Scope::Decide], false),
            Action::ReadRules => (&[Scope::Decide, Scope::RulesWrite], false),
            Action::ConfirmIndicator | Action::EditRules => (&[Scope::RulesWrite], false),
            Action::ManageWebhook => (&[Scope::Admin], false),
            Action::WorkCases => (&[Scope::Cases], true),
            Action::GroupAdmin => (&[Scope::Admin], true),
        }
    }
}

/// `Ok` if `p` may do `action`; otherwise [`AppError::Forbidden`] naming what is missing.
pub fn authorize(p: &Principal, action: Action) -> Result<(), AppError> {
    let (scopes, group_only) = action.needs();
    if group_only && p.affiliate.as_str() != GROUP {
        return Err(AppError::Forbidden(match action {
            Action::WorkCases => "cases (of the group)",
            _ => "admin of the group",
        }));
    }
    if scopes.iter().any(|s| p.scopes.contains(s)) || p.scopes.contains(&Scope::Admin) {
        return Ok(());
    }
    Err(AppError::Forbidden(match action {
        Action::GroupAdmin => "admin of the group",
        Action::WorkCases => "cases (of the group)",
        _ => scopes[scopes.len() - 1].as_str(),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::AffiliateId;

    fn p(affiliate: &str, scopes: &[Scope]) -> Principal {
        Principal { affiliate: AffiliateId(affiliate.into()), scopes: scopes.to_vec(), name: "key:t".into() }
    }

    #[test]
    fn the_table_holds() {
        use Action::*;
        let decide = p("pay", &[Scope::Decide]);
        let rules = p("pay", &[Scope::RulesWrite]);
        let admin = p("pay", &[Scope::Admin]);
        let group_cases = p(GROUP, &[Scope::Cases]);
        let group_user = p(GROUP, &[Scope::Decide]);
        let group_admin = p(GROUP, &[Scope::Admin]);
        let cases = [
            (&decide, Decide, true),
            (&decide, ReadRules, true),
            (&decide, EditRules, false),
            (&decide, ConfirmIndicator, false),
            (&decide, ManageWebhook, false),
            (&rules, ReadRules, true),
            (&rules, Decide, false),
            (&rules, ConfirmIndicator, true),
            (&admin, EditRules, true),
            (&admin, ManageWebhook, true),
            (&admin, WorkCases, false),
            (&admin, GroupAdmin, false),
            (&group_cases, WorkCases, true),
            (&group_cases, GroupAdmin, false),
            (&group_user, WorkCases, false),
            (&group_user, GroupAdmin, false),
            (&group_admin, WorkCases, true),
            (&group_admin, GroupAdmin, true),
        ];
        for (who, action, allowed) in cases {
            assert_eq!(authorize(who, action).is_ok(), allowed, "{who:?} {action:?}");
        }
        assert!(matches!(authorize(&decide, EditRules), Err(AppError::Forbidden("rules:write"))));
        assert!(matches!(authorize(&admin, GroupAdmin), Err(AppError::Forbidden("admin of the group"))));
    }
}
