//! Access: affiliates, API keys and the principals they resolve to, and who may do what — one
//! table from each action to what it needs (a scope, and for the safety table's work, the
//! group), and one [`authorize`] that every handler and use case calls, so a permission is
//! decided in one place and can be read in one place.

use crate::{App, AppError, GROUP, Principal, generate_key, hash_key, now_ms};
use domain::AffiliateId;
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
    /// List and revoke the affiliate's API keys.
    ManageKeys,
    /// Work the safety table's cases: the queue, a case, changes, alerts.
    WorkCases,
    /// Create and stop prevention campaigns (an affiliate's for its own users, the group's
    /// for any affiliate's).
    RunCampaigns,
    /// Per-affiliate registry totals and dead letters: the group's administrators only.
    GroupAdmin,
    /// Add, disable and reset the passwords of the affiliate's people (the group's admins:
    /// every affiliate's).
    ManagePeople,
}

impl Action {
    /// The scopes any of which allows the action (`admin` allows everything an affiliate may
    /// do), and whether it is the group's alone.
    fn needs(self) -> (&'static [Scope], bool) {
        match self {
            Action::Decide | Action::Report | Action::Protection => (&[Scope::Decide], false),
            Action::ReadRules => (&[Scope::Decide, Scope::RulesWrite], false),
            Action::ConfirmIndicator | Action::EditRules | Action::RunCampaigns => (&[Scope::RulesWrite], false),
            Action::ManageWebhook | Action::ManageKeys | Action::ManagePeople => (&[Scope::Admin], false),
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

impl App {
    /// Affiliates known to the store.
    pub fn affiliates(&self) -> Result<Vec<store::Affiliate>, AppError> {
        Ok(self.store.affiliates()?)
    }

    /// Creates the affiliate if needed and, if it has no active ruleset, publishes `ruleset`.
    pub fn ensure_affiliate(&self, a: &AffiliateId, name: &str, ruleset: &str) -> Result<(), AppError> {
        self.store.upsert_affiliate(a, name, now_ms())?;
        if self.store.active_ruleset(a)?.is_none() {
            self.publish(a, Some(ruleset))?;
        }
        Ok(())
    }

    /// Issues a new API key for `a` with `scopes`; returns the key text (shown once).
    pub fn create_key(&self, a: &AffiliateId, scopes: &[Scope]) -> Result<String, AppError> {
        if scopes.is_empty() {
            return Err(AppError::Invalid { field: "scopes".into(), message: "at least one scope is needed".into() });
        }
        let key = generate_key();
        let hash = hash_key(&key);
        let row = store::ApiKey {
            hash,
            prefix: key.chars().take(8).collect(),
            affiliate: a.clone(),
            scopes: scopes.to_vec(),
            revoked: false,
        };
        self.store.insert_key(a, &row, now_ms())?;
        Ok(key)
    }

    /// The principal of a key seen in the last second, from memory: never touches the store,
    /// so callers on an async executor use it first and go to [`App::authenticate`] on a
    /// blocking thread on a miss. An entry older than [`KEY_RECHECK_MS`] counts as a miss, so a
    /// key revoked by another process (the CLI, another node) stops working within a second.
    pub fn cached_principal(&self, key: &str) -> Option<Principal> {
        let keys = self.keys.read().unwrap_or_else(|p| p.into_inner());
        let (p, checked) = keys.get(&hash_key(key))?;
        (now_ms() - checked < KEY_RECHECK_MS).then(|| p.clone())
    }

    /// Resolves a bearer key to its principal, from the cache or, on a miss or a stale entry,
    /// from the store: call it on a blocking thread.
    pub fn authenticate(&self, key: &str) -> Result<Principal, AppError> {
        if key.is_empty() || key.len() > 200 {
            return Err(AppError::Unauthorized);
        }
        if let Some(p) = self.cached_principal(key) {
            return Ok(p);
        }
        let hash = hash_key(key);
        let row = match self.store.key_by_hash(&hash)? {
            Some(row) if !row.revoked => row,
            _ => {
                self.keys.write().unwrap_or_else(|p| p.into_inner()).remove(&hash);
                return Err(AppError::Unauthorized);
            }
        };
        let p = Principal { affiliate: row.affiliate, scopes: row.scopes, name: format!("key:{}", row.prefix) };
        self.keys.write().unwrap_or_else(|p| p.into_inner()).insert(hash, (p.clone(), now_ms()));
        Ok(p)
    }

    /// The caller's affiliate's keys: prefixes, scopes and whether revoked (never a key).
    pub fn list_keys(&self, p: &Principal) -> Result<Vec<store::ApiKey>, AppError> {
        authorize(p, Action::ManageKeys)?;
        Ok(self.store.keys(&p.affiliate)?)
    }

    /// Revokes the caller's affiliate's key with this prefix: refused from the next request
    /// on here, within a second elsewhere.
    pub fn revoke_key(&self, p: &Principal, prefix: &str) -> Result<(), AppError> {
        authorize(p, Action::ManageKeys)?;
        match self.store.revoke_key(&p.affiliate, prefix)? {
            0 => return Err(AppError::NotFound(format!("key {prefix}"))),
            1 => {}
            n => return Err(AppError::Conflict(format!("{n} keys start with {prefix}; revoke from the key list"))),
        }
        let name = format!("key:{prefix}");
        self.keys
            .write()
            .unwrap_or_else(|p| p.into_inner())
            .retain(|_, (k, _)| !(k.affiliate == p.affiliate && k.name == name));
        self.emit(crate::changes::Change::KeyRevoked { affiliate: p.affiliate.clone(), name });
        Ok(())
    }
}

/// How long a cached key is trusted before the store is asked again, ms.
pub const KEY_RECHECK_MS: i64 = 1_000;

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
