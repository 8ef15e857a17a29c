//! People: analysts and administrators who log in to the console. A person belongs to one
//! affiliate and has one role; a role maps to the same scopes an API key has, so every use case
//! authorises a person exactly as it authorises a key, through [`crate::access::authorize`],
//! and the audit log names the person (`affiliate/username`).
//!
//! Passwords are stored only as argon2id PHC strings. A login draws a new session token (so a
//! session id chosen by anyone else is never adopted: no fixation) and a CSRF token; only the
//! session token's SHA-256 is stored. Failed logins lock the person out with a doubling
//! back-off; sessions end after [`IDLE_MS`] unused or [`ABSOLUTE_MS`] after login, on logout,
//! on a password change and when the person is disabled.

use crate::access::{Action, authorize};
use crate::{App, AppError, GROUP, Principal, hash_key, now_ms};
use argon2::password_hash::{PasswordHasher, PasswordVerifier};
use domain::AffiliateId;
use store::{PersonRow, Scope, SessionRow};

/// A session unused this long ends (30 minutes).
pub const IDLE_MS: i64 = 30 * 60_000;
/// A session ends this long after login however it is used (12 hours).
pub const ABSOLUTE_MS: i64 = 12 * 3_600_000;
/// Failed logins allowed before the person is locked out.
pub const FREE_FAILURES: i64 = 5;
/// The first lockout (30 s); each further failure doubles it, up to [`MAX_LOCK_MS`].
pub const FIRST_LOCK_MS: i64 = 30_000;
/// The longest lockout (one hour).
pub const MAX_LOCK_MS: i64 = 3_600_000;
/// Shortest password accepted.
pub const MIN_PASSWORD: usize = 10;
/// A used session's last-seen time is written at most this often.
const TOUCH_EVERY_MS: i64 = 60_000;

/// What a person may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Works cases (in the group), reads and edits the affiliate's rules, looks up indicators.
    Analyst,
    /// Everything an affiliate may do, and its people, keys and webhook.
    AffiliateAdmin,
    /// The group's administrator: every affiliate's people, registry totals, dead letters.
    GroupAdmin,
}

impl Role {
    /// Every role.
    pub const ALL: [Role; 3] = [Role::Analyst, Role::AffiliateAdmin, Role::GroupAdmin];

    /// The stored name.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Analyst => "analyst",
            Role::AffiliateAdmin => "affiliate_admin",
            Role::GroupAdmin => "group_admin",
        }
    }

    /// Parses a stored name.
    pub fn parse(s: &str) -> Option<Role> {
        Role::ALL.into_iter().find(|r| r.as_str() == s)
    }

    /// (Korean, English) names for pages.
    pub fn labels(self) -> (&'static str, &'static str) {
        match self {
            Role::Analyst => ("분석가", "Analyst"),
            Role::AffiliateAdmin => ("계열사 관리자", "Affiliate admin"),
            Role::GroupAdmin => ("그룹 관리자", "Group admin"),
        }
    }

    /// The scopes the role holds (the same scopes API keys hold).
    pub fn scopes(self) -> Vec<Scope> {
        match self {
            Role::Analyst => vec![Scope::Decide, Scope::RulesWrite, Scope::Cases],
            Role::AffiliateAdmin | Role::GroupAdmin => vec![Scope::Admin, Scope::Cases],
        }
    }
}

/// A person as pages show them (never the password hash).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Person {
    /// Login name.
    pub username: String,
    /// Their affiliate.
    pub affiliate: AffiliateId,
    /// Their role.
    pub role: Role,
    /// Disabled: cannot log in.
    pub disabled: bool,
    /// Failed logins since the last success.
    pub failed_logins: i64,
    /// Locked out until, ms (0: not locked).
    pub locked_until_ms: i64,
    /// The TOTP second factor is on.
    pub totp: bool,
    /// Added, ms.
    pub created_ms: i64,
}

impl Person {
    fn of(row: &PersonRow) -> Result<Person, AppError> {
        let role = Role::parse(&row.role).ok_or_else(|| {
            AppError::Unavailable(format!("person {} has an unknown role {}", row.username, row.role))
        })?;
        Ok(Person {
            username: row.username.clone(),
            affiliate: row.affiliate.clone(),
            role,
            disabled: row.disabled,
            failed_logins: row.failed_logins,
            locked_until_ms: row.locked_until_ms,
            totp: row.totp_secret.is_some(),
            created_ms: row.created_ms,
        })
    }

    /// The principal the person acts as.
    pub fn principal(&self) -> Principal {
        Principal { affiliate: self.affiliate.clone(), scopes: self.role.scopes(), name: self.username.clone() }
    }
}

/// A live console session.
#[derive(Debug, Clone)]
pub struct Session {
    /// Who.
    pub person: Person,
    /// The token every form of this session carries.
    pub csrf: String,
    /// When the person logged in, ms.
    pub created_ms: i64,
}

impl Session {
    /// The principal the session acts as.
    pub fn principal(&self) -> Principal {
        self.person.principal()
    }
}

/// A successful login: the session token for the cookie (shown once) and the session.
#[derive(Debug, Clone)]
pub struct LoggedIn {
    /// The cookie's value; only its SHA-256 is stored.
    pub token: String,
    /// The session.
    pub session: Session,
}

/// Why a login was refused.
#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    /// Unknown user, wrong password or disabled person (one answer for all three, so a login
    /// form does not tell which user names exist).
    #[error("wrong user name or password")]
    Wrong,
    /// Too many failures: no password is checked before `until_ms`.
    #[error("locked after repeated failures; try again later")]
    Locked {
        /// When the lock ends, ms.
        until_ms: i64,
    },
    /// Storage failed.
    #[error(transparent)]
    App(#[from] AppError),
}

impl From<store::StoreError> for LoginError {
    fn from(e: store::StoreError) -> Self {
        LoginError::App(e.into())
    }
}

/// The lock after `failed` consecutive failures, from `now`: none for the first
/// [`FREE_FAILURES`], then [`FIRST_LOCK_MS`] doubling per failure up to [`MAX_LOCK_MS`].
pub fn lock_until(failed: i64, now: i64) -> i64 {
    if failed < FREE_FAILURES {
        return 0;
    }
    let doublings = (failed - FREE_FAILURES).min(20) as u32;
    now + (FIRST_LOCK_MS << doublings).min(MAX_LOCK_MS)
}

/// `n` random bytes as lowercase hex.
pub(crate) fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    // The OS random source failing is not recoverable for tokens.
    getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
    crate::hex(&bytes)
}

/// A new random password (20 hex digits, 80 bits) for people added without one.
pub fn new_password() -> String {
    random_hex(10)
}

/// The argon2id PHC string of `password` with a fresh random salt.
pub fn hash_password(password: &str) -> String {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).expect("the operating system's random source is unavailable");
    argon2::Argon2::default()
        .hash_password_with_salt(password.as_bytes(), &salt)
        .expect("argon2 with default parameters and a 16-byte salt")
        .to_string()
}

/// Whether `password` matches the PHC string `hash` (false for a malformed hash).
pub fn verify_password(password: &str, hash: &str) -> bool {
    argon2::Argon2::default().verify_password(password.as_bytes(), hash).is_ok()
}

/// Constant-time equality of two tokens.
pub fn same_token(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn check_username(name: &str) -> Result<(), AppError> {
    let ok = (3..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"._-".contains(&b));
    if ok {
        Ok(())
    } else {
        Err(AppError::Invalid {
            field: "username".into(),
            message: "3 to 64 characters: lowercase letters, digits, '.', '_' or '-'".into(),
        })
    }
}

fn check_password(password: &str) -> Result<(), AppError> {
    let n = password.chars().count();
    if n < MIN_PASSWORD || password.len() > 1024 {
        return Err(AppError::Invalid {
            field: "password".into(),
            message: format!("at least {MIN_PASSWORD} characters (and at most 1,024 bytes)"),
        });
    }
    Ok(())
}

/// Who changes people: a person or key of the console, or the operator at the command line.
#[derive(Debug, Clone, Copy)]
pub enum Actor<'a> {
    /// The operator with the data directory (`ansim users ...`).
    Operator,
    /// Someone logged in or holding a key: needs the admin scope, and an affiliate's admin
    /// reaches only its own people.
    Principal(&'a Principal),
}

impl Actor<'_> {
    fn name(self) -> String {
        match self {
            Actor::Operator => "operator/cli".into(),
            Actor::Principal(p) => p.actor(),
        }
    }

    /// Allowed to manage the people of `a`.
    fn may_manage(self, a: &AffiliateId) -> Result<(), AppError> {
        let Actor::Principal(p) = self else { return Ok(()) };
        authorize(p, Action::ManagePeople)?;
        if p.affiliate.as_str() != GROUP && &p.affiliate != a {
            // Another affiliate's people are invisible, not forbidden.
            return Err(AppError::NotFound("person".into()));
        }
        Ok(())
    }
}

impl App {
    /// Adds a person with a password; refuses a taken user name, an unknown affiliate, a group
    /// admin outside the group and a short password.
    pub fn add_person(
        &self,
        actor: Actor<'_>,
        username: &str,
        affiliate: &AffiliateId,
        role: Role,
        password: &str,
    ) -> Result<Person, AppError> {
        actor.may_manage(affiliate)?;
        check_username(username)?;
        check_password(password)?;
        if role == Role::GroupAdmin && affiliate.as_str() != GROUP {
            return Err(AppError::Invalid {
                field: "role".into(),
                message: format!("group_admin belongs to the affiliate `{GROUP}`"),
            });
        }
        if let Actor::Principal(p) = actor
            && role == Role::GroupAdmin
            && p.affiliate.as_str() != GROUP
        {
            return Err(AppError::Forbidden("admin of the group"));
        }
        if !self.store.affiliates()?.iter().any(|a| &a.id == affiliate) {
            return Err(AppError::Invalid {
                field: "affiliate".into(),
                message: format!("no affiliate `{affiliate}`"),
            });
        }
        let now = now_ms();
        let row = PersonRow {
            username: username.to_string(),
            affiliate: affiliate.clone(),
            role: role.as_str().into(),
            password_hash: hash_password(password),
            disabled: false,
            failed_logins: 0,
            locked_until_ms: 0,
            totp_secret: None,
            totp_step: 0,
            created_ms: now,
            updated_ms: now,
        };
        if !self.store.insert_person(&row)? {
            return Err(AppError::Conflict(format!("the user name {username} is taken")));
        }
        self.audit_as(
            &actor.name(),
            "person.added",
            format!("{{\"username\":\"{username}\",\"affiliate\":\"{affiliate}\",\"role\":\"{}\"}}", role.as_str()),
        )?;
        Person::of(&row)
    }

    fn person_row(&self, actor: Actor<'_>, username: &str) -> Result<PersonRow, AppError> {
        let row = self.store.person(username)?.ok_or_else(|| AppError::NotFound(format!("person {username}")))?;
        actor.may_manage(&row.affiliate).map_err(|e| match e {
            AppError::NotFound(_) => AppError::NotFound(format!("person {username}")),
            e => e,
        })?;
        Ok(row)
    }

    /// Sets a new password; every session of the person ends.
    pub fn set_password(&self, actor: Actor<'_>, username: &str, password: &str) -> Result<(), AppError> {
        let mut row = self.person_row(actor, username)?;
        check_password(password)?;
        row.password_hash = hash_password(password);
        row.updated_ms = now_ms();
        self.store.update_person(&row)?;
        self.store.login_succeeded(username)?;
        let ended = self.store.delete_sessions(username)?;
        self.audit_as(
            &actor.name(),
            "person.password",
            format!("{{\"username\":\"{username}\",\"sessions_ended\":{ended}}}"),
        )
    }

    /// Disables (or enables) a person; disabling ends every session.
    pub fn set_disabled(&self, actor: Actor<'_>, username: &str, disabled: bool) -> Result<(), AppError> {
        let mut row = self.person_row(actor, username)?;
        row.disabled = disabled;
        row.updated_ms = now_ms();
        self.store.update_person(&row)?;
        let ended = if disabled { self.store.delete_sessions(username)? } else { 0 };
        let action = if disabled { "person.disabled" } else { "person.enabled" };
        self.audit_as(&actor.name(), action, format!("{{\"username\":\"{username}\",\"sessions_ended\":{ended}}}"))
    }

    /// The people the caller manages: an affiliate admin its affiliate's, the group's admin all.
    pub fn people(&self, p: &Principal) -> Result<Vec<Person>, AppError> {
        authorize(p, Action::ManagePeople)?;
        let scope = (p.affiliate.as_str() != GROUP).then_some(&p.affiliate);
        self.store.people(scope)?.iter().map(Person::of).collect()
    }

    /// Every person of every affiliate (the operator's list at the command line).
    pub fn all_people(&self) -> Result<Vec<Person>, AppError> {
        self.store.people(None)?.iter().map(Person::of).collect()
    }

    /// Logs a person in at `now`: a new session with fresh tokens, or why not. Every outcome
    /// is in the audit log.
    ///
    /// A person with a second factor must also give the one-time code of the current 30-second
    /// step (or the one before or after, for clock drift); each code works once. A wrong or
    /// missing code counts as a failed login, like a wrong password.
    pub fn login(&self, username: &str, password: &str, code: Option<&str>, now: i64) -> Result<LoggedIn, LoginError> {
        let row = if username.len() <= 64 { self.store.person(username)? } else { None };
        let Some(row) = row.filter(|r| !r.disabled) else {
            // The same work as a real check, so timing does not tell which names exist.
            let _ = verify_password(password, DUMMY_HASH);
            self.audit_as("public", "console.login_failed", format!("{{\"known\":false,\"len\":{}}}", username.len()))?;
            return Err(LoginError::Wrong);
        };
        let actor = format!("{}/{}", row.affiliate, row.username);
        if row.locked_until_ms > now {
            self.audit_as(&actor, "console.login_locked", format!("{{\"until_ms\":{}}}", row.locked_until_ms))?;
            return Err(LoginError::Locked { until_ms: row.locked_until_ms });
        }
        let second = match &row.totp_secret {
            None => true,
            Some(secret) => match code.and_then(|c| totp::matching_step(secret, c, now)) {
                Some(step) => self.store.use_totp_step(username, step)?,
                None => false,
            },
        };
        if !verify_password(password, &row.password_hash) || !second {
            let failed = self.store.login_failed(username, &|n| lock_until(n, now))?;
            let until = lock_until(failed, now);
            self.audit_as(
                &actor,
                "console.login_failed",
                format!("{{\"failed\":{failed},\"locked_until_ms\":{until}}}"),
            )?;
            return Err(if until > now { LoginError::Locked { until_ms: until } } else { LoginError::Wrong });
        }
        self.store.login_succeeded(username)?;
        let token = format!("cs_{}", random_hex(32));
        let session = SessionRow {
            token_hash: hash_key(&token),
            username: row.username.clone(),
            csrf: random_hex(32),
            created_ms: now,
            seen_ms: now,
        };
        self.store.insert_session(&session)?;
        self.audit_as(&actor, "console.login", "{}".into())?;
        let mut person = Person::of(&row)?;
        person.failed_logins = 0;
        person.locked_until_ms = 0;
        Ok(LoggedIn { token, session: Session { person, csrf: session.csrf, created_ms: now } })
    }

    /// The live session of this cookie token at `now`, or `None` (unknown, expired, ended,
    /// or its person disabled; an expired one is deleted).
    pub fn console_session(&self, token: &str, now: i64) -> Result<Option<Session>, AppError> {
        if !token.starts_with("cs_") || token.len() > 80 {
            return Ok(None);
        }
        let hash = hash_key(token);
        let Some(s) = self.store.session(&hash)? else { return Ok(None) };
        let person = self.store.person(&s.username)?;
        let live = now - s.created_ms < ABSOLUTE_MS && now - s.seen_ms < IDLE_MS;
        let Some(person) = person.filter(|p| !p.disabled && live) else {
            self.store.delete_session(&hash)?;
            return Ok(None);
        };
        if now - s.seen_ms >= TOUCH_EVERY_MS {
            self.store.touch_session(&hash, now)?;
        }
        Ok(Some(Session { person: Person::of(&person)?, csrf: s.csrf, created_ms: s.created_ms }))
    }

    /// Ends the session of this token.
    pub fn logout(&self, token: &str) -> Result<(), AppError> {
        let hash = hash_key(token);
        if let Some(s) = self.store.session(&hash)? {
            self.store.delete_session(&hash)?;
            let actor = match self.store.person(&s.username)? {
                Some(p) => format!("{}/{}", p.affiliate, p.username),
                None => s.username,
            };
            self.audit_as(&actor, "console.logout", "{}".into())?;
        }
        Ok(())
    }

    /// Ends every session of the session's person (logout everywhere); returns how many.
    pub fn logout_everywhere(&self, s: &Session) -> Result<usize, AppError> {
        let n = self.store.delete_sessions(&s.person.username)?;
        self.audit_as(&s.principal().actor(), "console.logout_everywhere", format!("{{\"sessions\":{n}}}"))?;
        Ok(n)
    }
}

/// Time-based one-time passwords (RFC 6238: HMAC-SHA1, 30-second steps, six digits), the
/// console's optional second factor, and the base32 its secrets are shown in.
pub mod totp {
    use hmac::{Hmac, KeyInit, Mac};

    /// One step, ms.
    pub const STEP_MS: i64 = 30_000;
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

    /// The six-digit code of `secret` at time step `step`.
    pub fn code(secret: &[u8], step: i64) -> u32 {
        let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(secret).expect("HMAC takes a key of any length");
        mac.update(&step.to_be_bytes());
        let h = mac.finalize().into_bytes();
        let at = usize::from(h[h.len() - 1] & 0x0f);
        let bin = u32::from_be_bytes([h[at] & 0x7f, h[at + 1], h[at + 2], h[at + 3]]);
        bin % 1_000_000
    }

    /// The step (now, or one either side) whose code `typed` is, for a base32 `secret`.
    pub fn matching_step(secret: &str, typed: &str, now_ms: i64) -> Option<i64> {
        let key = decode(secret)?;
        let typed: String = typed.chars().filter(|c| !c.is_whitespace()).collect();
        if typed.len() != 6 || !typed.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let typed: u32 = typed.parse().ok()?;
        let now = now_ms.div_euclid(STEP_MS);
        [now, now - 1, now + 1].into_iter().find(|s| code(&key, *s) == typed)
    }

    /// RFC 4648 base32 without padding.
    pub fn encode(bytes: &[u8]) -> String {
        let (mut out, mut acc, mut bits) = (String::new(), 0u32, 0);
        for &b in bytes {
            acc = (acc << 8) | u32::from(b);
            bits += 8;
            while bits >= 5 {
                bits -= 5;
                out.push(ALPHABET[((acc >> bits) & 31) as usize] as char);
            }
        }
        if bits > 0 {
            out.push(ALPHABET[((acc << (5 - bits)) & 31) as usize] as char);
        }
        out
    }

    /// Reads base32 (any case, spaces and padding ignored); `None` on another character.
    pub fn decode(text: &str) -> Option<Vec<u8>> {
        let (mut out, mut acc, mut bits) = (Vec::new(), 0u32, 0);
        for c in text.bytes().filter(|c| !c.is_ascii_whitespace() && *c != b'=') {
            let v = ALPHABET.iter().position(|a| *a == c.to_ascii_uppercase())? as u32;
            acc = (acc << 5) | v;
            bits += 5;
            if bits >= 8 {
                bits -= 8;
                out.push((acc >> bits) as u8);
            }
        }
        (!out.is_empty()).then_some(out)
    }
}

/// A new second factor to confirm: the secret in base32 and the `otpauth://` address an
/// authenticator app reads.
#[derive(Debug, Clone)]
pub struct TotpOffer {
    /// Base32 secret (also typed by hand).
    pub secret: String,
    /// `otpauth://totp/ansim:NAME?secret=...&issuer=ansim`.
    pub uri: String,
}

impl App {
    /// A fresh secret for the session's person to add to an authenticator app; nothing is
    /// stored until [`App::enable_totp`] confirms a code of it.
    pub fn offer_totp(&self, s: &Session) -> TotpOffer {
        let mut bytes = [0u8; 20];
        getrandom::fill(&mut bytes).expect("the operating system's random source is unavailable");
        let secret = totp::encode(&bytes);
        let uri = format!("otpauth://totp/ansim:{0}?secret={secret}&issuer=ansim", s.person.username);
        TotpOffer { secret, uri }
    }

    /// Turns on the second factor with `secret` once `code` shows the person's app has it.
    pub fn enable_totp(&self, s: &Session, secret: &str, code: &str, now: i64) -> Result<(), AppError> {
        let step = totp::matching_step(secret, code, now).ok_or_else(|| AppError::Invalid {
            field: "code".into(),
            message: "not the code of this secret now".into(),
        })?;
        let mut row = self.person_row(Actor::Operator, &s.person.username)?;
        row.totp_secret = Some(secret.trim().to_ascii_uppercase());
        row.updated_ms = now;
        self.store.update_person(&row)?;
        self.store.use_totp_step(&row.username, step)?;
        self.audit_as(&s.principal().actor(), "person.totp_enabled", "{}".into())
    }

    /// Turns a person's second factor off (a lost phone): the operator, or an admin over them.
    pub fn reset_totp(&self, actor: Actor<'_>, username: &str) -> Result<(), AppError> {
        let mut row = self.person_row(actor, username)?;
        row.totp_secret = None;
        row.updated_ms = now_ms();
        self.store.update_person(&row)?;
        self.audit_as(&actor.name(), "person.totp_reset", format!("{{\"username\":\"{username}\"}}"))
    }
}

/// A valid argon2id hash of a random password, checked against when the user name is unknown.
const DUMMY_HASH: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$ZHVtbXlzYWx0ZHVtbXk$0VkQz3m2oUuVdIbx4r4bQ1b9oN7oS5hGJm0rQ9m7n2c";

#[cfg(test)]
mod tests {
    use super::*;
    use crate::AppConfig;

    fn app() -> (tempfile::TempDir, std::sync::Arc<App>) {
        let dir = tempfile::tempdir().unwrap();
        let app = App::open(AppConfig::new(dir.path().join("data"))).unwrap();
        for a in ["group", "bank", "pay"] {
            app.ensure_affiliate(&AffiliateId(a.into()), a, &format!("[ruleset]\nname = \"{a}\"\nversion = 1\n"))
                .unwrap();
        }
        (dir, app)
    }

    #[test]
    fn lock_doubles_after_the_free_failures_and_is_capped() {
        assert_eq!(lock_until(4, 1_000), 0);
        assert_eq!(lock_until(5, 1_000), 31_000);
        assert_eq!(lock_until(6, 1_000), 61_000);
        assert_eq!(lock_until(60, 1_000), 1_000 + MAX_LOCK_MS);
    }

    #[test]
    fn passwords_are_stored_as_argon2id_and_verified() {
        let h = hash_password("correct horse battery");
        assert!(h.starts_with("$argon2id$"), "{h}");
        assert!(verify_password("correct horse battery", &h));
        assert!(!verify_password("correct horse batterx", &h));
        assert_ne!(h, hash_password("correct horse battery"), "a fresh salt each time");
        assert!(!verify_password("anything", DUMMY_HASH));
    }

    #[test]
    fn login_issues_fresh_tokens_and_locks_out_after_repeated_failures() {
        let (_d, app) = app();
        let bank = AffiliateId("bank".into());
        app.add_person(Actor::Operator, "kim.analyst", &bank, Role::Analyst, "a long password 1").unwrap();
        let stored = app.store.person("kim.analyst").unwrap().unwrap();
        assert!(!stored.password_hash.contains("a long password"), "never in clear");

        let t0 = 1_800_000_000_000;
        let a = app.login("kim.analyst", "a long password 1", None, t0).unwrap();
        let b = app.login("kim.analyst", "a long password 1", None, t0).unwrap();
        assert_ne!(a.token, b.token, "each login draws a new session token");
        assert_ne!(a.session.csrf, b.session.csrf);
        let s = app.console_session(&a.token, t0 + 1_000).unwrap().unwrap();
        assert_eq!(s.principal().actor(), "bank/kim.analyst");
        assert_eq!(app.console_session("cs_forged", t0).unwrap().map(|s| s.csrf), None);

        for _ in 0..4 {
            assert!(matches!(app.login("kim.analyst", "wrong password", None, t0), Err(LoginError::Wrong)));
        }
        assert!(
            matches!(app.login("kim.analyst", "wrong password", None, t0), Err(LoginError::Locked { until_ms }) if until_ms == t0 + 30_000)
        );
        // Locked: even the right password is not checked until the lock ends.
        assert!(matches!(
            app.login("kim.analyst", "a long password 1", None, t0 + 29_000),
            Err(LoginError::Locked { .. })
        ));
        assert!(app.login("kim.analyst", "a long password 1", None, t0 + 30_001).is_ok());
        // An unknown name gets the same answer as a wrong password.
        assert!(matches!(app.login("nobody", "a long password 1", None, t0), Err(LoginError::Wrong)));
        let log = app.store.audit_log().unwrap();
        assert!(log.iter().any(|r| r.entry.action == "console.login_locked" && r.entry.actor == "bank/kim.analyst"));
        assert!(log.iter().all(|r| !r.entry.detail.contains("password 1")), "passwords never reach the log");
    }

    #[test]
    fn sessions_expire_idle_and_absolute_and_end_on_logout_password_and_disable() {
        let (_d, app) = app();
        let bank = AffiliateId("bank".into());
        app.add_person(Actor::Operator, "lee", &bank, Role::Analyst, "a long password 2").unwrap();
        let t0 = 1_800_000_000_000;
        let login = |t| app.login("lee", "a long password 2", None, t).unwrap().token;

        let idle = login(t0);
        assert!(app.console_session(&idle, t0 + IDLE_MS - 1).unwrap().is_some());
        assert!(app.console_session(&idle, t0 + 2 * IDLE_MS - 2).unwrap().is_some(), "use keeps it alive");
        assert!(app.console_session(&idle, t0 + 3 * IDLE_MS).unwrap().is_none(), "idle too long");

        let busy = login(t0);
        let mut t = t0;
        while t < t0 + ABSOLUTE_MS - IDLE_MS {
            t += IDLE_MS / 2;
            assert!(app.console_session(&busy, t).unwrap().is_some());
        }
        assert!(app.console_session(&busy, t0 + ABSOLUTE_MS).unwrap().is_none(), "absolute expiry");

        let (one, two) = (login(t0), login(t0));
        app.logout(&one).unwrap();
        assert!(app.console_session(&one, t0).unwrap().is_none());
        assert!(app.console_session(&two, t0).unwrap().is_some());
        let s = app.console_session(&two, t0).unwrap().unwrap();
        let three = login(t0);
        assert_eq!(app.logout_everywhere(&s).unwrap(), 2);
        assert!(app.console_session(&three, t0).unwrap().is_none());

        let four = login(t0);
        app.set_password(Actor::Operator, "lee", "another long one").unwrap();
        assert!(app.console_session(&four, t0).unwrap().is_none(), "a new password ends sessions");
        let five = app.login("lee", "another long one", None, t0).unwrap().token;
        app.set_disabled(Actor::Operator, "lee", true).unwrap();
        assert!(app.console_session(&five, t0).unwrap().is_none());
        assert!(matches!(app.login("lee", "another long one", None, t0), Err(LoginError::Wrong)));
    }

    #[test]
    fn admins_manage_their_own_affiliate_s_people_only() {
        let (_d, app) = app();
        let (bank, pay, group) = (AffiliateId("bank".into()), AffiliateId("pay".into()), AffiliateId("group".into()));
        let bank_admin =
            app.add_person(Actor::Operator, "bank.admin", &bank, Role::AffiliateAdmin, "a long password 3").unwrap();
        let analyst =
            app.add_person(Actor::Operator, "bank.analyst", &bank, Role::Analyst, "a long password 4").unwrap();
        app.add_person(Actor::Operator, "pay.analyst", &pay, Role::Analyst, "a long password 5").unwrap();
        let root = app.add_person(Actor::Operator, "root", &group, Role::GroupAdmin, "a long password 6").unwrap();

        let by = |p: &Person| p.principal();
        let names = |p: &Principal| app.people(p).unwrap().into_iter().map(|x| x.username).collect::<Vec<_>>();
        assert_eq!(names(&by(&bank_admin)), ["bank.admin", "bank.analyst"]);
        assert_eq!(names(&by(&root)).len(), 4);
        assert!(matches!(app.people(&by(&analyst)), Err(AppError::Forbidden(_))));
        let other = app.set_disabled(Actor::Principal(&by(&bank_admin)), "pay.analyst", true);
        assert!(matches!(other, Err(AppError::NotFound(_))), "another affiliate's people are invisible: {other:?}");
        let escalate = app.add_person(
            Actor::Principal(&by(&bank_admin)),
            "x.admin",
            &group,
            Role::GroupAdmin,
            "a long password 7",
        );
        assert!(escalate.is_err());
        let wrong = app.add_person(Actor::Operator, "y", &bank, Role::GroupAdmin, "a long password 8");
        assert!(matches!(wrong, Err(AppError::Invalid { ref field, .. }) if field == "username"), "{wrong:?}");
        let wrong = app.add_person(Actor::Operator, "yy.z", &bank, Role::GroupAdmin, "a long password 8");
        assert!(matches!(wrong, Err(AppError::Invalid { ref field, .. }) if field == "role"), "{wrong:?}");
        let short = app.add_person(Actor::Operator, "zz.z", &bank, Role::Analyst, "short");
        assert!(matches!(short, Err(AppError::Invalid { ref field, .. }) if field == "password"), "{short:?}");
        app.set_disabled(Actor::Principal(&by(&root)), "pay.analyst", true).unwrap();
        let log = app.store.audit_log().unwrap();
        assert!(log.iter().any(|r| r.entry.action == "person.disabled" && r.entry.actor == "group/root"));
    }
}

#[cfg(test)]
mod totp_tests {
    use super::*;
    use crate::AppConfig;

    #[test]
    fn codes_follow_rfc_6238() {
        // RFC 6238 appendix B, SHA-1: the eight-digit codes' last six digits.
        let key = b"12345678901234567890";
        for (t, eight) in
            [(59, 94_287_082), (1_111_111_109, 7_081_804), (1_234_567_890, 89_005_924), (2_000_000_000, 69_279_037)]
        {
            assert_eq!(totp::code(key, t / 30), eight % 1_000_000, "t = {t}");
        }
        assert_eq!(totp::encode(key), "GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ");
        assert_eq!(totp::decode("gezdgnbvgy3tqojqgezdgnbvgy3tqojq").unwrap(), key);
        assert_eq!(totp::decode("not base32!"), None);
    }

    #[test]
    fn a_second_factor_is_confirmed_then_required_and_each_code_works_once() {
        let dir = tempfile::tempdir().unwrap();
        let app = App::open(AppConfig::new(dir.path().join("data"))).unwrap();
        let bank = AffiliateId("bank".into());
        app.ensure_affiliate(&bank, "bank", "[ruleset]\nname = \"bank\"\nversion = 1\n").unwrap();
        app.add_person(Actor::Operator, "choi", &bank, Role::Analyst, "a long password 9").unwrap();
        let t0 = 1_800_000_000_000;
        let s = app.login("choi", "a long password 9", None, t0).unwrap().session;
        let offer = app.offer_totp(&s);
        assert!(offer.uri.starts_with("otpauth://totp/ansim:choi?secret="), "{}", offer.uri);
        let key = totp::decode(&offer.secret).unwrap();
        let code_at = |ms: i64| format!("{:06}", totp::code(&key, ms / totp::STEP_MS));
        let wrong = app.enable_totp(&s, &offer.secret, "000000", t0);
        assert!(
            matches!(wrong, Err(AppError::Invalid { ref field, .. }) if field == "code") || code_at(t0) == "000000"
        );
        app.enable_totp(&s, &offer.secret, &code_at(t0), t0).unwrap();

        // The password alone no longer logs in; the code of the step used to confirm does not
        // either (used once); the next step's code does, once.
        let t1 = t0 + totp::STEP_MS;
        assert!(matches!(app.login("choi", "a long password 9", None, t1), Err(LoginError::Wrong)));
        assert!(matches!(app.login("choi", "a long password 9", Some(&code_at(t0)), t0), Err(LoginError::Wrong)));
        assert!(app.login("choi", "a long password 9", Some(&code_at(t1)), t1).is_ok());
        assert!(matches!(app.login("choi", "a long password 9", Some(&code_at(t1)), t1), Err(LoginError::Wrong)));
        assert!(matches!(
            app.login("choi", "wrong password 9", Some(&code_at(t1 + totp::STEP_MS)), t1),
            Err(LoginError::Wrong)
        ));
        // Since the one success: the reused code and the wrong password.
        assert_eq!(app.store.person("choi").unwrap().unwrap().failed_logins, 2, "a reused code counts as a failure");

        app.reset_totp(Actor::Operator, "choi").unwrap();
        assert!(app.login("choi", "a long password 9", None, t1 + 10 * totp::STEP_MS).is_ok());
        let log = app.store.audit_log().unwrap();
        assert!(log.iter().any(|r| r.entry.action == "person.totp_enabled" && r.entry.actor == "bank/choi"));
        assert!(log.iter().all(|r| !r.entry.detail.contains(&offer.secret)), "the secret is not logged");
    }
}
