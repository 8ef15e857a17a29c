//! The schema rules are checked against: every event field a rule may read, with its type and
//! a typed getter, plus the slots (`features.*`, `signals.*`) a ruleset declares.
//!
//! Getters are plain function pointers over [`Event`]: binding an event to a rule costs nothing,
//! because the event struct *is* the context. A field that does not apply to the event (the
//! amount of a login) reads as absent.

use domain::{ChangeKind, Channel, Counterparty, Event, EventBody, EventKind};
use std::sync::OnceLock;

/// A value type in the rule language.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Type {
    Int,
    Bool,
    Str,
}

impl Type {
    /// The name used in diagnostics.
    pub fn name(self) -> &'static str {
        match self {
            Type::Int => "number",
            Type::Bool => "true/false",
            Type::Str => "text",
        }
    }
}

/// Reads an integer field (money in won, counts, days, hours).
pub type IntGetter = fn(&Event) -> Option<i64>;
/// Reads a boolean field; absent reads as `false` in conditions.
pub type BoolGetter = fn(&Event) -> Option<bool>;
/// Reads a text field without copying it.
pub type StrGetter = fn(&Event) -> Option<&str>;

/// A typed getter.
#[derive(Clone, Copy)]
pub enum Getter {
    Int(IntGetter),
    Bool(BoolGetter),
    Str(StrGetter),
}

impl Getter {
    /// The type the getter returns.
    pub fn ty(self) -> Type {
        match self {
            Getter::Int(_) => Type::Int,
            Getter::Bool(_) => Type::Bool,
            Getter::Str(_) => Type::Str,
        }
    }
}

/// One event field that rules can read.
pub struct Field {
    /// Dotted path as written in rules.
    pub path: &'static str,
    /// How to read it.
    pub getter: Getter,
    /// For enumerated text fields, the allowed values (checked in comparisons).
    pub values: &'static [&'static str],
    /// One line for analysts.
    pub doc: &'static str,
}

impl std::fmt::Debug for Field {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path, self.getter.ty().name())
    }
}

/// A named value computed outside the event (a streaming feature or a signal), read from the
/// slot array by index. Booleans are stored as 0/1.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slot {
    /// Full name as written in rules: `features.transfers_1h`, `signals.counterparty_reported`.
    pub name: String,
    /// Int or Bool.
    pub ty: Type,
}

/// Everything a rule may name: the built-in event fields and the declared slots.
#[derive(Debug, Clone, Default)]
pub struct Schema {
    /// Declared slots; a slot's index in this list is its index in [`Ctx::slots`].
    pub slots: Vec<Slot>,
}

/// What a compiled rule reads: the event and the slot values computed for it.
#[derive(Clone)]
pub struct Ctx<'a> {
    /// The event being decided.
    pub event: &'a Event,
    /// Feature and signal values, indexed as in [`Schema::slots`]; `None` when absent.
    pub slots: &'a [Option<i64>],
    /// Raised when an arithmetic operation overflowed (its value is then absent, as the
    /// language says); the engine reads and lowers it after each rule.
    overflow: std::cell::Cell<bool>,
}

impl<'a> Ctx<'a> {
    /// A context over `event` and `slots`.
    pub fn new(event: &'a Event, slots: &'a [Option<i64>]) -> Ctx<'a> {
        Ctx { event, slots, overflow: std::cell::Cell::new(false) }
    }

    /// Whether an operation overflowed since the last [`Ctx::take_overflow`].
    pub fn overflowed(&self) -> bool {
        self.overflow.get()
    }

    /// Whether an operation overflowed, lowering the flag.
    pub fn take_overflow(&self) -> bool {
        self.overflow.replace(false)
    }

    /// Records an overflow; returns the absent value it produced.
    #[cold]
    pub fn overflowed_now(&self) -> Option<i64> {
        self.overflow.set(true);
        None
    }
}

pub use domain::AGE_BANDS;

impl Schema {
    /// A schema with the built-in fields and no slots.
    pub fn new() -> Self {
        Schema::default()
    }

    /// Declares a slot and returns its index. Names must start with `features.` or `signals.`.
    pub fn declare(&mut self, name: impl Into<String>, ty: Type) -> usize {
        self.slots.push(Slot { name: name.into(), ty });
        self.slots.len() - 1
    }

    /// The built-in field at `path`.
    pub fn field(&self, path: &str) -> Option<&'static Field> {
        fields().iter().find(|f| f.path == path)
    }

    /// The slot named `name`, with its index.
    pub fn slot(&self, name: &str) -> Option<(usize, &Slot)> {
        self.slots.iter().enumerate().find(|(_, s)| s.name == name)
    }

    /// Every name a rule may use, for suggestions.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        fields().iter().map(|f| f.path).chain(self.slots.iter().map(|s| s.name.as_str()))
    }
}

fn kind_names() -> &'static [&'static str] {
    static N: OnceLock<Vec<&'static str>> = OnceLock::new();
    N.get_or_init(|| EventKind::ALL.iter().map(|k| k.as_str()).collect())
}

fn channel_names() -> &'static [&'static str] {
    static N: OnceLock<Vec<&'static str>> = OnceLock::new();
    N.get_or_init(|| Channel::ALL.iter().map(|k| k.as_str()).collect())
}

fn typology_names() -> &'static [&'static str] {
    static N: OnceLock<Vec<&'static str>> = OnceLock::new();
    N.get_or_init(|| domain::Typology::ALL.iter().map(|t| t.as_str()).collect())
}

fn analysis(e: &Event) -> Option<&domain::Analysis> {
    e.analysis.as_deref()
}

fn change_names() -> &'static [&'static str] {
    static N: OnceLock<Vec<&'static str>> = OnceLock::new();
    N.get_or_init(|| ChangeKind::ALL.iter().map(|k| k.as_str()).collect())
}

macro_rules! field {
    ($out:ident, Int, $path:expr, $doc:expr, |$e:ident| $body:expr) => {{
        fn get($e: &Event) -> Option<i64> {
            $body
        }
        $out.push(Field { path: $path, getter: Getter::Int(get), values: &[], doc: $doc });
    }};
    ($out:ident, Bool, $path:expr, $doc:expr, |$e:ident| $body:expr) => {{
        fn get($e: &Event) -> Option<bool> {
            $body
        }
        $out.push(Field { path: $path, getter: Getter::Bool(get), values: &[], doc: $doc });
    }};
    ($out:ident, Str, $path:expr, $doc:expr, |$e:ident| $body:expr) => {
        field!($out, Str, $path, $doc, &[], |$e| $body)
    };
    ($out:ident, Str, $path:expr, $doc:expr, $values:expr, |$e:ident| $body:expr) => {{
        fn get($e: &Event) -> Option<&str> {
            $body
        }
        $out.push(Field { path: $path, getter: Getter::Str(get), values: $values, doc: $doc });
    }};
}

macro_rules! counterparty_fields {
    ($out:ident, $prefix:literal, $sel:path) => {{
        field!($out, Str, concat!($prefix, ".bank"), "three-digit bank code", |e| $sel(e)?.bank.as_deref());
        field!($out, Str, concat!($prefix, ".account"), "account number, digits only", |e| $sel(e)?.account.as_deref());
        field!($out, Str, concat!($prefix, ".account_key"), "bank:account, the key for counting an account", |e| $sel(
            e
        )?
        .account_key
        .as_deref());
        field!($out, Str, concat!($prefix, ".phone"), "phone number", |e| $sel(e)?.phone.as_deref());
        field!($out, Str, concat!($prefix, ".profile"), "messenger profile id", |e| $sel(e)?.profile.as_deref());
        field!($out, Str, concat!($prefix, ".name"), "masked display name", |e| $sel(e)?.name.as_deref());
        field!($out, Bool, concat!($prefix, ".is_friend"), "in the subject's friends or contacts", |e| $sel(e)?
            .is_friend);
        field!($out, Bool, concat!($prefix, ".foreign"), "foreign number or account", |e| $sel(e)?.foreign);
        field!($out, Int, concat!($prefix, ".account_age_days"), "days since the counterparty's account opened", |e| {
            $sel(e)?.account_age_days
        });
        field!($out, Str, concat!($prefix, ".country"), "ISO country of the number or account", |e| $sel(e)?
            .country
            .as_deref());
        field!(
            $out,
            Int,
            concat!($prefix, ".profile_changed_days"),
            "days since the profile's name or photo changed",
            |e| { $sel(e)?.profile_changed_days }
        );
    }};
}

fn any_counterparty(e: &Event) -> Option<&Counterparty> {
    e.counterparty()
}
fn transfer_counterparty(e: &Event) -> Option<&Counterparty> {
    match &e.body {
        EventBody::Transfer(t) => Some(&t.counterparty),
        _ => None,
    }
}
fn transfer_source(e: &Event) -> Option<&Counterparty> {
    match &e.body {
        EventBody::Transfer(t) => t.source.as_ref(),
        _ => None,
    }
}
fn message_sender(e: &Event) -> Option<&Counterparty> {
    match &e.body {
        EventBody::Message(m) => Some(&m.sender),
        _ => None,
    }
}
fn contact_counterparty(e: &Event) -> Option<&Counterparty> {
    match &e.body {
        EventBody::Contact(c) => Some(&c.counterparty),
        _ => None,
    }
}

macro_rules! body {
    ($e:ident, $variant:ident) => {
        match &$e.body {
            EventBody::$variant(b) => b,
            _ => return None,
        }
    };
}

/// Every built-in field, in documentation order.
pub fn fields() -> &'static [Field] {
    static FIELDS: OnceLock<Vec<Field>> = OnceLock::new();
    FIELDS.get_or_init(|| {
        let mut f = Vec::new();
        field!(f, Str, "event.id", "the event's id", |e| Some(e.id.as_str()));
        field!(f, Str, "event.affiliate", "the affiliate that asks", |e| Some(e.affiliate.as_str()));
        f.push(Field {
            path: "event.kind",
            getter: Getter::Str(|e| Some(e.kind().as_str())),
            values: kind_names(),
            doc: "login, transfer, payment, ...",
        });
        f.push(Field {
            path: "event.channel",
            getter: Getter::Str(|e| e.channel.map(|c| c.as_str())),
            values: channel_names(),
            doc: "app, web, open_chat, ...",
        });
        field!(f, Int, "event.at", "event time, ms since the epoch", |e| Some(e.at.millis()));
        field!(f, Int, "event.hour", "hour of day in KST, 0-23", |e| Some(e.at.kst_hour()));
        field!(f, Int, "event.weekday", "day of week in KST, 0 = Monday", |e| Some(e.at.kst_weekday()));
        field!(f, Int, "event.amount", "won at stake: transfer, payment or loan amount", |e| e.amount().map(|a| a.0));
        field!(f, Str, "subject.id", "the protected user's id", |e| Some(e.subject.id.as_str()));
        field!(f, Str, "subject.age_band", "10s .. 90s", AGE_BANDS, |e| e.subject.age_band.as_deref());
        field!(f, Int, "subject.account_age_days", "days since the user's account opened", |e| e
            .subject
            .account_age_days);
        field!(f, Str, "device.id", "device id", |e| Some(e.device.as_ref()?.id.as_str()));
        field!(f, Bool, "device.new_for_subject", "first use of this device by the user", |e| Some(
            e.device.as_ref()?.new_for_subject
        ));
        field!(f, Bool, "device.remote_control_app", "a remote-control app is present", |e| Some(
            e.device.as_ref()?.remote_control_app
        ));
        field!(f, Bool, "device.malicious_app", "a known malicious app is present", |e| Some(
            e.device.as_ref()?.malicious_app
        ));
        field!(f, Bool, "device.rooted", "rooted or jailbroken", |e| Some(e.device.as_ref()?.rooted));
        field!(f, Bool, "device.emulator", "runs in an emulator", |e| Some(e.device.as_ref()?.emulator));
        field!(f, Int, "device.usim_changed_days", "days since the USIM was replaced", |e| e
            .device
            .as_ref()?
            .usim_changed_days);
        field!(f, Str, "ip.addr", "client IP address", |e| Some(e.ip.as_ref()?.addr.as_str()));
        field!(f, Str, "ip.country", "two-letter country of the IP", |e| e.ip.as_ref()?.country.as_deref());
        field!(f, Bool, "ip.foreign", "the IP is located outside Korea", |e| Some(
            e.ip.as_ref()?.country.as_deref()? != "KR"
        ));
        field!(f, Bool, "ip.proxy", "VPN, proxy or Tor", |e| Some(e.ip.as_ref()?.proxy));
        counterparty_fields!(f, "counterparty", any_counterparty);
        field!(f, Int, "transfer.amount", "won sent", |e| Some(body!(e, Transfer).amount.0));
        field!(f, Int, "transfer.balance_before", "balance before, won", |e| Some(
            body!(e, Transfer).balance_before?.0
        ));
        field!(f, Int, "transfer.balance_after", "balance after, won (as reported, else before minus amount)", |e| {
            let t = body!(e, Transfer);
            match t.balance_after {
                Some(k) => Some(k.0),
                None => t.balance_before?.0.checked_sub(t.amount.0),
            }
        });
        field!(f, Int, "transfer.payee_balance_before", "payee account's balance before, when held here", |e| {
            body!(e, Transfer).payee_balance_before.map(|k| k.0)
        });
        field!(f, Int, "transfer.payee_balance_after", "payee account's balance after, when held here", |e| {
            body!(e, Transfer).payee_balance_after.map(|k| k.0)
        });
        field!(f, Bool, "transfer.own_account", "to the user's own account", |e| Some(body!(e, Transfer).own_account));
        field!(f, Str, "transfer.memo", "memo shown to the recipient", |e| body!(e, Transfer).memo.as_deref());
        counterparty_fields!(f, "transfer.counterparty", transfer_counterparty);
        field!(f, Str, "transfer.source.bank", "bank code of the account the money leaves", |e| transfer_source(e)?
            .bank
            .as_deref());
        field!(f, Str, "transfer.source.account", "the account the money leaves, digits", |e| transfer_source(e)?
            .account
            .as_deref());
        field!(f, Str, "transfer.source.account_key", "bank:account of the account the money leaves", |e| {
            transfer_source(e)?.account_key.as_deref()
        });
        field!(f, Int, "payment.amount", "won paid", |e| Some(body!(e, Payment).amount.0));
        field!(f, Int, "payment.balance_before", "balance before, won", |e| Some(body!(e, Payment).balance_before?.0));
        field!(f, Str, "payment.merchant.id", "merchant id", |e| Some(body!(e, Payment).merchant.id.as_str()));
        field!(f, Str, "payment.merchant.category", "gift_card, crypto, game, ...", |e| body!(e, Payment)
            .merchant
            .category
            .as_deref());
        field!(f, Str, "payment.method", "card, account, points, ...", |e| body!(e, Payment).method.as_deref());
        field!(f, Int, "loan_application.amount", "won requested", |e| Some(body!(e, LoanApplication).amount.0));
        field!(f, Str, "loan_application.product", "credit, card_loan, ...", |e| body!(e, LoanApplication)
            .product
            .as_deref());
        field!(f, Bool, "loan_application.remote", "applied through app or web", |e| Some(
            body!(e, LoanApplication).remote
        ));
        f.push(Field {
            path: "account_change.change",
            getter: Getter::Str(|e| Some(body!(e, AccountChange).change.as_str())),
            values: change_names(),
            doc: "what changed",
        });
        field!(f, Str, "login.method", "password, biometric, certificate, ...", |e| body!(e, Login).method.as_deref());
        field!(f, Bool, "login.success", "credentials accepted", |e| Some(body!(e, Login).success));
        field!(f, Int, "login.failed_attempts", "failed attempts just before", |e| Some(
            body!(e, Login).failed_attempts
        ));
        field!(f, Str, "message.text", "the message text", |e| Some(body!(e, Message).text.as_str()));
        field!(f, Bool, "message.has_attachment", "carries an attachment", |e| Some(body!(e, Message).has_attachment));
        counterparty_fields!(f, "message.sender", message_sender);
        field!(f, Int, "contact.mutual_friends", "friends in common", |e| Some(body!(e, Contact).mutual_friends));
        counterparty_fields!(f, "contact.counterparty", contact_counterparty);
        field!(f, Int, "analysis.risk", "message or contact risk 0..100 from stage-1 analysis", |e| Some(i64::from(
            analysis(e)?.risk
        )));
        field!(f, Int, "analysis.model_score", "the text model's scam probability 0..100", |e| Some(i64::from(
            analysis(e)?.model_score
        )));
        f.push(Field {
            path: "analysis.typology",
            getter: Getter::Str(|e| analysis(e)?.typology.map(|t| t.as_str())),
            values: typology_names(),
            doc: "the message's scam typology, when one fired",
        });
        field!(f, Int, "analysis.links", "links found in the message", |e| i64::try_from(analysis(e)?.links.len())
            .ok());
        field!(f, Int, "analysis.link_risk", "the riskiest link's risk 0..100", |e| Some(i64::from(
            analysis(e)?.link_risk()
        )));
        field!(f, Bool, "analysis.apk_link", "a link to an Android app package", |e| Some(
            analysis(e)?.has_link_flag("apk")
        ));
        field!(f, Bool, "analysis.lookalike_link", "a link imitating a protected brand", |e| Some(
            analysis(e)?.has_link_flag("lookalike")
        ));
        field!(f, Int, "analysis.globe", "foreign-number warning: 0 none, 1 caution, 2 danger", |e| Some(
            analysis(e)?.warning_level(domain::WarningKind::Globe)
        ));
        field!(f, Int, "analysis.stranger", "stranger warning: 0 none, 1 caution, 2 danger", |e| Some(
            analysis(e)?.warning_level(domain::WarningKind::Stranger)
        ));
        field!(f, Int, "analysis.fake", "fake-profile warning: 0 none, 1 caution, 2 danger", |e| Some(
            analysis(e)?.warning_level(domain::WarningKind::Fake)
        ));
        field!(f, Bool, "device_scan.remote_control_app", "scan found a remote-control app", |e| Some(
            body!(e, DeviceScan).remote_control_app
        ));
        field!(f, Bool, "device_scan.malicious_app", "scan found a malicious app", |e| Some(
            body!(e, DeviceScan).malicious_app
        ));
        field!(f, Int, "device_scan.app_count", "dangerous apps found", |e| i64::try_from(
            body!(e, DeviceScan).apps.len()
        )
        .ok());
        f
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_unique_and_well_formed() {
        let mut seen = std::collections::HashSet::new();
        for f in fields() {
            assert!(seen.insert(f.path), "duplicate field {}", f.path);
            assert!(
                f.path.split('.').all(|s| !s.is_empty() && s.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')),
                "{}",
                f.path
            );
            assert!(!f.doc.is_empty());
        }
        assert!(fields().len() > 60);
    }
}
