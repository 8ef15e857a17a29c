//! Delivery: the affiliates' webhooks and what they hold, the follow-up actions due for
//! delivery and what each attempt came to, and the dead letters. The HTTP side's deliverer
//! signs and sends; it reads and records only through these.

use crate::access::{Action, authorize};
use crate::cases::invalid;
use crate::{App, AppError, Principal, now_ms};
use domain::AffiliateId;
use store::{ActionOutcome, ActionRow};

impl App {
    /// Sets the caller's webhook and its signing secret, so follow-up actions reach it. The
    /// address must be public (not loopback, link-local, private or unspecified) unless the
    /// operator allows private webhooks: a key must not turn the server into a client of the
    /// operator's internal network.
    pub fn set_webhook(&self, p: &Principal, url: &str, secret: &str) -> Result<(), AppError> {
        authorize(p, Action::ManageWebhook)?;
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() > 500 || host_of(url).is_empty() {
            return Err(invalid("url", "an http:// or https:// address with a host, of at most 500 characters"));
        }
        if !self.config.allow_private_webhooks
            && let Some(why) = private_host(url)
        {
            return Err(invalid("url", format!("{why}: webhooks go to public addresses only")));
        }
        if !(16..=200).contains(&secret.chars().count()) {
            return Err(invalid("secret", "16 to 200 characters"));
        }
        Ok(self.store.put_webhook(&p.affiliate, url, secret, now_ms())?)
    }

    /// Grants affiliate `a` what it holds (`bank:088`, `profile`, `phone`), replacing what it
    /// held: the group's administrators only, since holdings decide who receives whose hold
    /// actions. A key another affiliate holds is a conflict and changes nothing. Returns what
    /// `a` holds now, sorted, as stored.
    pub fn grant_holdings(&self, p: &Principal, a: &AffiliateId, holds: &[String]) -> Result<Vec<String>, AppError> {
        authorize(p, Action::GroupAdmin)?;
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
        if !self.store.affiliates()?.iter().any(|x| &x.id == a) {
            return Err(AppError::NotFound(format!("affiliate {a}")));
        }
        self.store.set_holdings(a, holds)?;
        Ok(self.store.holdings(a)?)
    }

    /// What the caller's affiliate holds, sorted.
    pub fn holdings(&self, p: &Principal) -> Result<Vec<String>, AppError> {
        authorize(p, Action::ManageWebhook)?;
        Ok(self.store.holdings(&p.affiliate)?)
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
        // One node delivers, or an affiliate would receive each action once per node.
        if !self.store.lead("delivery")? {
            return Ok(Vec::new());
        }
        Ok(self.store.actions_due(now_ms, limit)?)
    }

    /// Records a delivery attempt.
    pub fn action_attempted(&self, id: &str, outcome: ActionOutcome, now_ms: i64) -> Result<(), AppError> {
        Ok(self.store.action_attempted(id, outcome, now_ms)?)
    }
}

/// Why `url`'s host is not a public address, if it is not: loopback, link-local, private,
/// shared (carrier-grade NAT), unspecified, or a `localhost` name. Host names are judged by
/// name only; the deliverer connects to what they resolve to.
/// The host of an `http(s)://` address, lower case, without port, brackets or a final dot.
fn host_of(url: &str) -> String {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match host_port.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => host_port.split(':').next().unwrap_or(""),
    }
    .trim_end_matches('.')
    .to_ascii_lowercase()
}

fn private_host(url: &str) -> Option<String> {
    let host = host_of(url);
    if host == "localhost" || host.ends_with(".localhost") {
        return Some(format!("{host} is this machine"));
    }
    let ip: std::net::IpAddr = host.parse().ok()?;
    let private = match ip {
        std::net::IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || (a == 100 && (64..128).contains(&b))
        }
        std::net::IpAddr::V6(v6) => {
            let first = v6.segments()[0];
            v6.is_loopback()
                || v6.is_unspecified()
                || (first & 0xfe00) == 0xfc00
                || (first & 0xffc0) == 0xfe80
                || v6.to_ipv4_mapped().is_some_and(|v4| v4.is_loopback() || v4.is_private() || v4.is_link_local())
        }
    };
    private.then(|| format!("{ip} is not a public address"))
}

impl App {
    /// The affiliates with a webhook (the group's safety table excluded): who receives
    /// alerts of new waves and emerging campaigns.
    pub(crate) fn subscribers(&self) -> Result<Vec<domain::AffiliateId>, AppError> {
        let mut out = Vec::new();
        for a in self.store.affiliates()? {
            if a.id.as_str() != crate::GROUP && self.store.webhook(&a.id)?.is_some() {
                out.push(a.id);
            }
        }
        Ok(out)
    }
}
