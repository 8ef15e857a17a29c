//! Delivery: the affiliates' webhooks and what they hold, the follow-up actions due for
//! delivery and what each attempt came to, and the dead letters. The HTTP side's deliverer
//! signs and sends; it reads and records only through these.

use crate::access::{Action, authorize};
use crate::cases::invalid;
use crate::{App, AppError, Principal, now_ms};
use domain::AffiliateId;
use store::{ActionOutcome, ActionRow};

impl App {
    /// Sets the caller's webhook and what it holds (`bank:088`, `profile`, `phone`), so
    /// follow-up actions reach it.
    pub fn set_webhook(&self, a: &AffiliateId, url: &str, secret: &str, holds: &[String]) -> Result<(), AppError> {
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() > 500 {
            return Err(invalid("url", "an http:// or https:// address of at most 500 characters"));
        }
        if secret.len() < 16 || secret.len() > 200 {
            return Err(invalid("secret", "16 to 200 characters"));
        }
        for (i, h) in holds.iter().enumerate() {
            let ok = h == "profile"
                || h == "phone"
                || h.strip_prefix("bank:").is_some_and(|b| b.len() == 3 && b.bytes().all(|c| c.is_ascii_digit()));
            if !ok {
                return Err(invalid(
                    &format!("holds[{i}]"),
                    "`bank:` and a three-digit bank code, `profile` or `phone`",
                ));
            }
        }
        self.store.put_webhook(a, url, secret, now_ms())?;
        Ok(self.store.set_holdings(a, holds)?)
    }

    /// Actions given up on, for the group's admins.
    pub fn dead_actions(&self, p: &Principal) -> Result<Vec<ActionRow>, AppError> {
        authorize(p, Action::GroupAdmin)?;
        Ok(self.store.dead_actions(500)?)
    }

    /// An affiliate's webhook: `(url, secret)`.
    pub fn webhook(&self, a: &AffiliateId) -> Result<Option<(String, String)>, AppError> {
        Ok(self.store.webhook(a)?)
    }

    /// Actions due for delivery at `now_ms`, oldest first.
    pub fn actions_due(&self, now_ms: i64, limit: usize) -> Result<Vec<ActionRow>, AppError> {
        Ok(self.store.actions_due(now_ms, limit)?)
    }

    /// Records a delivery attempt.
    pub fn action_attempted(&self, id: &str, outcome: ActionOutcome, now_ms: i64) -> Result<(), AppError> {
        Ok(self.store.action_attempted(id, outcome, now_ms)?)
    }
}
