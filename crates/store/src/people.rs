//! People who log in to the console and their sessions: the rows and the [`People`] trait every
//! backend implements beside [`crate::Store`]. Passwords are stored only as the PHC string of
//! their argon2id hash and session tokens only as their SHA-256; what a role may do, lockout and
//! expiry are the application's policy, not the store's.

use crate::Result;
use domain::AffiliateId;

/// A person who logs in to the console.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PersonRow {
    /// The login name, unique across the group.
    pub username: String,
    /// The affiliate the person works for; everything they see is scoped to it.
    pub affiliate: AffiliateId,
    /// `analyst`, `affiliate_admin` or `group_admin`.
    pub role: String,
    /// The password's argon2id hash as a PHC string (never the password).
    pub password_hash: String,
    /// A disabled person cannot log in and has no session.
    pub disabled: bool,
    /// Failed logins since the last successful one.
    pub failed_logins: i64,
    /// No login is tried before this time, ms (0: not locked).
    pub locked_until_ms: i64,
    /// The base32 secret of the person's TOTP second factor, once they turned it on.
    pub totp_secret: Option<String>,
    /// The last TOTP time step a login used (a code is accepted once).
    pub totp_step: i64,
    /// When the person was added, ms.
    pub created_ms: i64,
    /// When role, password or state last changed, ms.
    pub updated_ms: i64,
}

/// A console session.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SessionRow {
    /// SHA-256 of the session cookie's token.
    pub token_hash: [u8; 32],
    /// Whose session it is.
    pub username: String,
    /// The token every form of the session must carry.
    pub csrf: String,
    /// When the person logged in, ms (absolute expiry counts from here).
    pub created_ms: i64,
    /// When the session was last used, ms (idle expiry counts from here).
    pub seen_ms: i64,
}

/// People and sessions.
pub trait People {
    /// Adds a person; `false` when the user name is taken (nothing changes).
    fn insert_person(&self, p: &PersonRow) -> Result<bool>;
    /// The person with this user name.
    fn person(&self, username: &str) -> Result<Option<PersonRow>>;
    /// The people of one affiliate, or (`None`) of every affiliate, by user name.
    fn people(&self, a: Option<&AffiliateId>) -> Result<Vec<PersonRow>>;
    /// Saves role, password hash, disabled, TOTP secret and update time
    /// ([`crate::StoreError::NotFound`] when no person has the name). Login counters and the
    /// last TOTP step are left as they are.
    fn update_person(&self, p: &PersonRow) -> Result<()>;
    /// Counts a failed login atomically and locks the person until `lock(failed)` ms (0: no
    /// lock), where `failed` is the new count; returns it (0 when no person has the name).
    fn login_failed(&self, username: &str, lock: &dyn Fn(i64) -> i64) -> Result<i64>;
    /// A successful login: the failure count and the lock are cleared.
    fn login_succeeded(&self, username: &str) -> Result<()>;
    /// Records that a login used TOTP time step `step`, atomically: `false` (nothing changed)
    /// when that step or a later one was used already, so one code works once.
    fn use_totp_step(&self, username: &str, step: i64) -> Result<bool>;

    /// Stores a new session.
    fn insert_session(&self, s: &SessionRow) -> Result<()>;
    /// The session with this token hash.
    fn session(&self, token_hash: &[u8; 32]) -> Result<Option<SessionRow>>;
    /// Records that the session was used at `seen_ms`.
    fn touch_session(&self, token_hash: &[u8; 32], seen_ms: i64) -> Result<()>;
    /// Ends one session.
    fn delete_session(&self, token_hash: &[u8; 32]) -> Result<()>;
    /// Ends every session of a person; returns how many there were.
    fn delete_sessions(&self, username: &str) -> Result<usize>;
}
