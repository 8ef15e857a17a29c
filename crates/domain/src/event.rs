//! Events an affiliate asks ansim about, and their JSON form.
//!
//! The JSON is flat and readable: `kind` names the event, and a member of the same name carries
//! the kind's body (`"kind": "transfer", "transfer": {...}`). Parsing validates as it goes:
//! unknown members are rejected (a typo is an error, not a silently missing signal), bank
//! accounts are normalised to digits, and every error names the JSON path of the bad field.

use crate::{Krw, Timestamp};
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use std::fmt;
use std::net::IpAddr;

macro_rules! string_id {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
        #[cfg_attr(feature = "openapi", schema(min_length = 1, max_length = 128, pattern = "^[^\\x00-\\x1F\\x7F-\\x9F]+$"))]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl $name {
            /// The id as text.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }
    };
}

string_id!(
    /// The caller's id for an event; a repeated id is the same event (idempotency).
    EventId
);
string_id!(
    /// An affiliate (tenant): `pay`, `bank`, `messenger`, ...
    AffiliateId
);
string_id!(
    /// The protected user, as the affiliate's own pseudonymous id.
    SubjectId
);

/// The kinds of event, in the order used by the rule schema.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Login,
    Transfer,
    Payment,
    LoanApplication,
    AccountChange,
    Message,
    Contact,
    DeviceScan,
}

impl EventKind {
    /// Every kind, for schemas and diagnostics.
    pub const ALL: [EventKind; 8] = [
        EventKind::Login,
        EventKind::Transfer,
        EventKind::Payment,
        EventKind::LoanApplication,
        EventKind::AccountChange,
        EventKind::Message,
        EventKind::Contact,
        EventKind::DeviceScan,
    ];

    /// The wire name, which is also the name of the body member.
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Login => "login",
            EventKind::Transfer => "transfer",
            EventKind::Payment => "payment",
            EventKind::LoanApplication => "loan_application",
            EventKind::AccountChange => "account_change",
            EventKind::Message => "message",
            EventKind::Contact => "contact",
            EventKind::DeviceScan => "device_scan",
        }
    }
}

/// Where the user acted.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    App,
    Web,
    OpenChat,
    Chat,
    Atm,
    Branch,
    Phone,
    Api,
}

impl Channel {
    /// Every channel, for schemas and diagnostics.
    pub const ALL: [Channel; 8] = [
        Channel::App,
        Channel::Web,
        Channel::OpenChat,
        Channel::Chat,
        Channel::Atm,
        Channel::Branch,
        Channel::Phone,
        Channel::Api,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::App => "app",
            Channel::Web => "web",
            Channel::OpenChat => "open_chat",
            Channel::Chat => "chat",
            Channel::Atm => "atm",
            Channel::Branch => "branch",
            Channel::Phone => "phone",
            Channel::Api => "api",
        }
    }
}

/// The protected user as the affiliate describes them.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subject {
    /// The affiliate's pseudonymous user id.
    pub id: SubjectId,
    /// Age band such as `20s` or `60s`; older users are targeted by impersonation scams.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub age_band: Option<String>,
    /// Days since the user's account at this affiliate was opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_age_days: Option<i64>,
}

/// The device the user acts from, as the affiliate's app reports it.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Device {
    /// Stable device id.
    pub id: String,
    /// First time this subject uses this device.
    #[serde(default)]
    pub new_for_subject: bool,
    /// A remote-control app (e.g. TeamViewer, AnyDesk) is installed or running.
    #[serde(default)]
    pub remote_control_app: bool,
    /// A known malicious app (fake police app, spyware) is installed.
    #[serde(default)]
    pub malicious_app: bool,
    /// The OS is rooted or jailbroken.
    #[serde(default)]
    pub rooted: bool,
    /// Runs in an emulator.
    #[serde(default)]
    pub emulator: bool,
    /// Days since the phone's USIM was replaced, when known (SIM swap).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub usim_changed_days: Option<i64>,
}

/// Where the request came from on the network.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct IpInfo {
    /// The client address, in canonical text form (validated and normalised when parsed).
    pub addr: String,
    /// ISO 3166-1 alpha-2 country, as the affiliate's geolocation says.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// A VPN, proxy or Tor exit.
    #[serde(default)]
    pub proxy: bool,
}

/// The other party of a transfer, payment, message or contact.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Counterparty {
    /// Three-digit Korean bank code (`088` Shinhan, `004` KB, ...).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank: Option<String>,
    /// Account number, normalised to digits when parsed (hyphens and spaces removed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// Phone number as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// Messenger profile id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile: Option<String>,
    /// Display name: masked for accounts (`김**`), as shown for messenger profiles
    /// (`국민은행 고객센터`), which is what impersonation detection compares.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// The counterparty is in the subject's friend list or contacts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_friend: Option<bool>,
    /// A foreign phone number or an account registered abroad.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub foreign: Option<bool>,
    /// Days since the counterparty's messenger account or bank account was opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account_age_days: Option<i64>,
    /// ISO 3166-1 alpha-2 country of the phone number or account, when known (`KR`, `PH`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub country: Option<String>,
    /// Days since the profile's name or photo last changed, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub profile_changed_days: Option<i64>,
    /// `bank:digits`, the one key by which an account is counted and shared; derived from
    /// `bank` and `account` when parsed, never sent.
    #[serde(skip)]
    pub account_key: Option<String>,
}

/// Sign-in to the affiliate's service.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    /// `password`, `biometric`, `certificate`, `sms_otp`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Whether the credentials were accepted.
    #[serde(default = "yes")]
    pub success: bool,
    /// Failed attempts just before this one.
    #[serde(default)]
    pub failed_attempts: i64,
}

fn yes() -> bool {
    true
}

/// Money leaving the subject's account.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Transfer {
    /// Amount in won; must be positive.
    pub amount: Krw,
    /// Only `KRW` is accepted.
    #[serde(default = "krw")]
    pub currency: String,
    /// Who receives the money.
    pub counterparty: Counterparty,
    /// The subject's own account the money leaves (bank and account), when the affiliate
    /// holds it: lets money flowing *into* an account be matched with money flowing *out*.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<Counterparty>,
    /// Balance before the transfer, for drain detection.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance_before: Option<Krw>,
    /// Balance after the transfer as the affiliate's ledger reports it (when left out,
    /// rules read `balance_before - amount`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance_after: Option<Krw>,
    /// The payee account's balance before, when the affiliate holds that account too (a
    /// transfer inside one bank or pay app): a mule's empty account filling up is a signal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payee_balance_before: Option<Krw>,
    /// The payee account's balance after, when the affiliate holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payee_balance_after: Option<Krw>,
    /// To another account of the same subject.
    #[serde(default)]
    pub own_account: bool,
    /// Free-text memo shown to the recipient.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub memo: Option<String>,
}

fn krw() -> String {
    "KRW".into()
}

/// A merchant in a payment.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Merchant {
    /// Merchant id at the payments app.
    pub id: String,
    /// Category such as `gift_card`, `crypto`, `game`, `grocery`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub category: Option<String>,
    /// Display name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
}

/// A purchase or a pay-app remittance.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Payment {
    /// Amount in won; must be positive.
    pub amount: Krw,
    /// Only `KRW` is accepted.
    #[serde(default = "krw")]
    pub currency: String,
    /// Where the money goes.
    pub merchant: Merchant,
    /// `card`, `account`, `points`, `gift_card`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub method: Option<String>,
    /// Balance before the payment, when the affiliate holds it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub balance_before: Option<Krw>,
}

/// A loan request (a favourite of account-takeover fraud).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoanApplication {
    /// Requested amount in won; must be positive.
    pub amount: Krw,
    /// `credit`, `card_loan`, `mortgage`, ...
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub product: Option<String>,
    /// Non-face-to-face application (app or web), the usual path of fraud.
    #[serde(default = "yes")]
    pub remote: bool,
}

/// What changed on the account.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ChangeKind {
    PhoneNumber,
    Password,
    DeviceRegistration,
    LimitIncrease,
    DesignatedAccount,
    OtpReissue,
    Address,
    Email,
    ProtectionOff,
}

impl ChangeKind {
    /// Every change kind, for schemas and diagnostics.
    pub const ALL: [ChangeKind; 9] = [
        ChangeKind::PhoneNumber,
        ChangeKind::Password,
        ChangeKind::DeviceRegistration,
        ChangeKind::LimitIncrease,
        ChangeKind::DesignatedAccount,
        ChangeKind::OtpReissue,
        ChangeKind::Address,
        ChangeKind::Email,
        ChangeKind::ProtectionOff,
    ];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::PhoneNumber => "phone_number",
            ChangeKind::Password => "password",
            ChangeKind::DeviceRegistration => "device_registration",
            ChangeKind::LimitIncrease => "limit_increase",
            ChangeKind::DesignatedAccount => "designated_account",
            ChangeKind::OtpReissue => "otp_reissue",
            ChangeKind::Address => "address",
            ChangeKind::Email => "email",
            ChangeKind::ProtectionOff => "protection_off",
        }
    }
}

/// A change to the subject's account settings or credentials.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountChange {
    /// What changed.
    pub change: ChangeKind,
}

/// A message received by the subject (SMS, messenger chat).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Message {
    /// Who sent it.
    pub sender: Counterparty,
    /// The text as received.
    pub text: String,
    /// Carries an attachment such as an APK or an image of an ID card.
    #[serde(default)]
    pub has_attachment: bool,
    /// Display names of the subject's friends that the messenger found close to the sender's
    /// name, for impersonation checks (at most 50; the full friend list is never needed).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub friend_names: Vec<String>,
}

/// A stranger's first contact (friend request, first chat, call).
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Contact {
    /// Who reached out.
    pub counterparty: Counterparty,
    /// Friends the two have in common.
    #[serde(default)]
    pub mutual_friends: i64,
    /// Display names of the subject's friends close to the stranger's name (at most 50).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub friend_names: Vec<String>,
}

/// The result of an on-device scan for dangerous apps.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeviceScan {
    /// Package names found that matter (remote-control, spyware, fake institution apps).
    #[serde(default)]
    pub apps: Vec<String>,
    /// A remote-control app is present.
    #[serde(default)]
    pub remote_control_app: bool,
    /// A known malicious app is present.
    #[serde(default)]
    pub malicious_app: bool,
}

/// The kind-specific part of an event. Not boxed: an event is built once per request and
/// read by every rule, so one inline allocation beats a pointer chase per field read.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)]
pub enum EventBody {
    Login(Login),
    Transfer(Transfer),
    Payment(Payment),
    LoanApplication(LoanApplication),
    AccountChange(AccountChange),
    Message(Message),
    Contact(Contact),
    DeviceScan(DeviceScan),
}

/// Something an affiliate asks ansim to decide on.
#[derive(Debug, Clone, PartialEq)]
pub struct Event {
    /// Idempotency key, unique per affiliate.
    pub id: EventId,
    /// The affiliate that asks. Set from the API key by the server, or given in fixtures.
    pub affiliate: AffiliateId,
    /// When it happened, from the affiliate's clock; the only time the core ever uses.
    pub at: Timestamp,
    /// The protected user.
    pub subject: Subject,
    /// The device, when the event comes from an app or browser.
    pub device: Option<Device>,
    /// The network origin.
    pub ip: Option<IpInfo>,
    /// Where the user acted.
    pub channel: Option<Channel>,
    /// What happened.
    pub body: EventBody,
    /// Stage-1 analysis of a message or contact, filled in by `detect` before features and
    /// rules run; derived, never sent.
    pub analysis: Option<std::sync::Arc<crate::Analysis>>,
}

/// Why an event JSON was rejected: the JSON path of the bad field and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventError {
    /// JSON path such as `transfer.counterparty.account`, or `.` for the whole document.
    pub field: String,
    /// A sentence saying what is wrong.
    pub message: String,
}

impl fmt::Display for EventError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.field, self.message)
    }
}

impl std::error::Error for EventError {}

fn field_err(field: &str, message: impl Into<String>) -> EventError {
    EventError { field: field.into(), message: message.into() }
}

/// The JSON shape of an event; turned into [`Event`] by validation.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct EventWire {
    id: EventId,
    #[serde(default)]
    affiliate: Option<AffiliateId>,
    kind: EventKind,
    at: String,
    subject: Subject,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    device: Option<Device>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    ip: Option<IpInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    channel: Option<Channel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    login: Option<Login>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    transfer: Option<Transfer>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    payment: Option<Payment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    loan_application: Option<LoanApplication>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    account_change: Option<AccountChange>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    message: Option<Message>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    contact: Option<Contact>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    device_scan: Option<DeviceScan>,
}

/// The age bands a subject may have.
pub const AGE_BANDS: &[&str] = &["10s", "20s", "30s", "40s", "50s", "60s", "70s", "80s", "90s"];

/// Longest id, name or free text accepted, in bytes; longer input is an error, not truncated.
/// Longest id (event, subject, device, ...) accepted, in characters (as JSON Schema's
/// `maxLength` counts them).
pub const MAX_ID_LEN: usize = 128;
const MAX_TEXT_LEN: usize = 16 * 1024;

impl Event {
    /// The event's kind.
    pub fn kind(&self) -> EventKind {
        match &self.body {
            EventBody::Login(_) => EventKind::Login,
            EventBody::Transfer(_) => EventKind::Transfer,
            EventBody::Payment(_) => EventKind::Payment,
            EventBody::LoanApplication(_) => EventKind::LoanApplication,
            EventBody::AccountChange(_) => EventKind::AccountChange,
            EventBody::Message(_) => EventKind::Message,
            EventBody::Contact(_) => EventKind::Contact,
            EventBody::DeviceScan(_) => EventKind::DeviceScan,
        }
    }

    /// The amount of money at stake: transfer, payment or loan amount.
    pub fn amount(&self) -> Option<Krw> {
        match &self.body {
            EventBody::Transfer(t) => Some(t.amount),
            EventBody::Payment(p) => Some(p.amount),
            EventBody::LoanApplication(l) => Some(l.amount),
            _ => None,
        }
    }

    /// The other party, whatever the kind: payee, message sender or contacting stranger.
    pub fn counterparty(&self) -> Option<&Counterparty> {
        match &self.body {
            EventBody::Transfer(t) => Some(&t.counterparty),
            EventBody::Message(m) => Some(&m.sender),
            EventBody::Contact(c) => Some(&c.counterparty),
            _ => None,
        }
    }

    /// Parses and validates one event from JSON. `affiliate` fills in the affiliate when the
    /// JSON has none (the server passes the API key's affiliate; a JSON one must then match).
    pub fn from_json(json: &str, affiliate: Option<&AffiliateId>) -> Result<Event, EventError> {
        // The common case parses at full speed; only a failure is parsed again with path
        // tracking, to name the field.
        // Objects only, at every depth (see `strict`).
        let mut de = serde_json::Deserializer::from_str(json);
        if let Ok(wire) = EventWire::deserialize(crate::strict::Strict(&mut de))
            && de.end().is_ok()
        {
            return wire.validate(affiliate);
        }
        let wire: EventWire =
            crate::strict::from_json(json.as_bytes()).map_err(|(field, message)| EventError { field, message })?;
        wire.validate(affiliate)
    }

    /// The JSON form accepted by [`Event::from_json`].
    pub fn to_json(&self) -> String {
        serde_json::to_string(&EventWireRef::from(self)).expect("event JSON is always serialisable")
    }
}

impl Serialize for Event {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        EventWireRef::from(self).serialize(s)
    }
}

/// [`EventWire`] borrowed from an event, for writing it: the same members in the same order,
/// without copying the event first (every decided event is written to the store this way).
#[derive(Serialize)]
struct EventWireRef<'a> {
    id: &'a EventId,
    affiliate: Option<&'a AffiliateId>,
    kind: EventKind,
    at: String,
    subject: &'a Subject,
    #[serde(skip_serializing_if = "Option::is_none")]
    device: Option<&'a Device>,
    #[serde(skip_serializing_if = "Option::is_none")]
    ip: Option<&'a IpInfo>,
    #[serde(skip_serializing_if = "Option::is_none")]
    channel: Option<Channel>,
    #[serde(skip_serializing_if = "Option::is_none")]
    login: Option<&'a Login>,
    #[serde(skip_serializing_if = "Option::is_none")]
    transfer: Option<&'a Transfer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    payment: Option<&'a Payment>,
    #[serde(skip_serializing_if = "Option::is_none")]
    loan_application: Option<&'a LoanApplication>,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_change: Option<&'a AccountChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    message: Option<&'a Message>,
    #[serde(skip_serializing_if = "Option::is_none")]
    contact: Option<&'a Contact>,
    #[serde(skip_serializing_if = "Option::is_none")]
    device_scan: Option<&'a DeviceScan>,
}

impl<'a> From<&'a Event> for EventWireRef<'a> {
    fn from(e: &'a Event) -> Self {
        let mut w = EventWireRef {
            id: &e.id,
            affiliate: Some(&e.affiliate),
            kind: e.kind(),
            at: e.at.to_kst_rfc3339(),
            subject: &e.subject,
            device: e.device.as_ref(),
            ip: e.ip.as_ref(),
            channel: e.channel,
            login: None,
            transfer: None,
            payment: None,
            loan_application: None,
            account_change: None,
            message: None,
            contact: None,
            device_scan: None,
        };
        match &e.body {
            EventBody::Login(b) => w.login = Some(b),
            EventBody::Transfer(b) => w.transfer = Some(b),
            EventBody::Payment(b) => w.payment = Some(b),
            EventBody::LoanApplication(b) => w.loan_application = Some(b),
            EventBody::AccountChange(b) => w.account_change = Some(b),
            EventBody::Message(b) => w.message = Some(b),
            EventBody::Contact(b) => w.contact = Some(b),
            EventBody::DeviceScan(b) => w.device_scan = Some(b),
        }
        w
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let wire = EventWire::deserialize(d)?;
        wire.validate(None).map_err(serde::de::Error::custom)
    }
}

fn check_id(field: &str, value: &str) -> Result<(), EventError> {
    if value.is_empty() {
        return Err(field_err(field, "must not be empty"));
    }
    if value.chars().count() > MAX_ID_LEN {
        return Err(field_err(field, format!("longer than {MAX_ID_LEN} characters")));
    }
    if value.chars().any(char::is_control) {
        return Err(field_err(field, "must not contain control characters"));
    }
    Ok(())
}

fn check_amount(field: &str, amount: Krw, currency: Option<&str>) -> Result<(), EventError> {
    if amount.0 <= 0 {
        return Err(field_err(field, format!("must be a positive number of won, got {}", amount.0)));
    }
    check_money(field, Some(amount))?;
    if let Some(c) = currency
        && c != "KRW"
    {
        let cur = field.replace("amount", "currency");
        return Err(field_err(&cur, format!("only KRW is supported, got {c:?}")));
    }
    Ok(())
}

/// A balance or amount within ±[`MAX_KRW`](crate::MAX_KRW) (an overdraft may be negative).
fn check_money(field: &str, value: Option<Krw>) -> Result<(), EventError> {
    match value {
        Some(v) if v.0.unsigned_abs() > crate::MAX_KRW.unsigned_abs() => {
            Err(field_err(field, format!("must be at most {} won in size, got {}", crate::MAX_KRW, v.0)))
        }
        _ => Ok(()),
    }
}

fn normalise_counterparty(field: &str, c: &mut Counterparty) -> Result<(), EventError> {
    if let Some(bank) = &c.bank
        && (bank.len() != 3 || !bank.bytes().all(|b| b.is_ascii_digit()))
    {
        return Err(field_err(
            &format!("{field}.bank"),
            format!("must be a three-digit bank code such as \"088\", got {bank:?}"),
        ));
    }
    if let Some(account) = &mut c.account {
        let digits: String = account.chars().filter(|ch| !matches!(ch, '-' | ' ')).collect();
        if !(6..=20).contains(&digits.len()) || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(field_err(
                &format!("{field}.account"),
                format!("must be 6 to 20 digits (hyphens and spaces allowed), got {account:?}"),
            ));
        }
        *account = digits;
        let bank = c.bank.as_deref().unwrap_or("");
        let mut key = String::with_capacity(bank.len() + 1 + account.len());
        key.push_str(bank);
        key.push(':');
        key.push_str(account);
        c.account_key = Some(key);
    }
    for (name, value) in [("phone", &c.phone), ("profile", &c.profile), ("name", &c.name)] {
        if let Some(v) = value {
            check_id(&format!("{field}.{name}"), v)?;
        }
    }
    Ok(())
}

impl EventWire {
    fn validate(self, affiliate: Option<&AffiliateId>) -> Result<Event, EventError> {
        check_id("id", self.id.as_str())?;
        let affiliate = match (self.affiliate, affiliate) {
            (Some(a), Some(given)) if &a != given => {
                return Err(field_err("affiliate", format!("is {a:?} but the request is authenticated as {given:?}")));
            }
            (Some(a), _) => a,
            (None, Some(given)) => given.clone(),
            (None, None) => return Err(field_err("affiliate", "missing field `affiliate`")),
        };
        check_id("affiliate", affiliate.as_str())?;
        let at = Timestamp::parse_rfc3339(&self.at).map_err(|e| field_err("at", e.0))?;
        check_id("subject.id", self.subject.id.as_str())?;
        if let Some(band) = &self.subject.age_band
            && !AGE_BANDS.contains(&band.as_str())
        {
            return Err(field_err(
                "subject.age_band",
                format!("must be one of {}, got {band:?}", AGE_BANDS.join(", ")),
            ));
        }
        if let Some(d) = &self.device {
            check_id("device.id", &d.id)?;
        }
        let mut ip = self.ip;
        if let Some(ip) = &mut ip {
            let addr: IpAddr = ip
                .addr
                .trim()
                .parse()
                .map_err(|_| field_err("ip.addr", format!("not an IPv4 or IPv6 address: {:?}", ip.addr)))?;
            ip.addr = addr.to_string();
            if let Some(country) = &mut ip.country {
                if country.len() != 2 || !country.bytes().all(|b| b.is_ascii_alphabetic()) {
                    return Err(field_err(
                        "ip.country",
                        format!("must be a two-letter ISO country code, got {country:?}"),
                    ));
                }
                country.make_ascii_uppercase();
            }
        }
        let kind = self.kind;
        let present: Vec<&str> = [
            ("login", self.login.is_some()),
            ("transfer", self.transfer.is_some()),
            ("payment", self.payment.is_some()),
            ("loan_application", self.loan_application.is_some()),
            ("account_change", self.account_change.is_some()),
            ("message", self.message.is_some()),
            ("contact", self.contact.is_some()),
            ("device_scan", self.device_scan.is_some()),
        ]
        .into_iter()
        .filter_map(|(n, p)| p.then_some(n))
        .collect();
        if let Some(other) = present.iter().find(|n| **n != kind.as_str()) {
            return Err(field_err(other, format!("does not belong to an event of kind {:?}", kind.as_str())));
        }
        let missing = || {
            field_err(
                kind.as_str(),
                format!("missing: an event of kind {:?} needs a {:?} member", kind.as_str(), kind.as_str()),
            )
        };
        let body = match kind {
            EventKind::Login => EventBody::Login(self.login.unwrap_or_default()),
            EventKind::Transfer => {
                let mut t = self.transfer.ok_or_else(missing)?;
                check_amount("transfer.amount", t.amount, Some(&t.currency))?;
                for (name, v) in [
                    ("transfer.balance_before", t.balance_before),
                    ("transfer.balance_after", t.balance_after),
                    ("transfer.payee_balance_before", t.payee_balance_before),
                    ("transfer.payee_balance_after", t.payee_balance_after),
                ] {
                    check_money(name, v)?;
                }
                normalise_counterparty("transfer.counterparty", &mut t.counterparty)?;
                if let Some(src) = &mut t.source {
                    normalise_counterparty("transfer.source", src)?;
                }
                if t.counterparty.account.is_none() && t.counterparty.phone.is_none() {
                    return Err(field_err("transfer.counterparty", "needs an account (with bank) or a phone number"));
                }
                EventBody::Transfer(t)
            }
            EventKind::Payment => {
                let p = self.payment.ok_or_else(missing)?;
                check_amount("payment.amount", p.amount, Some(&p.currency))?;
                check_money("payment.balance_before", p.balance_before)?;
                check_id("payment.merchant.id", &p.merchant.id)?;
                EventBody::Payment(p)
            }
            EventKind::LoanApplication => {
                let l = self.loan_application.ok_or_else(missing)?;
                check_amount("loan_application.amount", l.amount, None)?;
                EventBody::LoanApplication(l)
            }
            EventKind::AccountChange => EventBody::AccountChange(self.account_change.ok_or_else(missing)?),
            EventKind::Message => {
                let mut m = self.message.ok_or_else(missing)?;
                normalise_counterparty("message.sender", &mut m.sender)?;
                if m.text.len() > MAX_TEXT_LEN {
                    return Err(field_err("message.text", format!("longer than {MAX_TEXT_LEN} bytes")));
                }
                EventBody::Message(m)
            }
            EventKind::Contact => {
                let mut c = self.contact.ok_or_else(missing)?;
                normalise_counterparty("contact.counterparty", &mut c.counterparty)?;
                EventBody::Contact(c)
            }
            EventKind::DeviceScan => EventBody::DeviceScan(self.device_scan.unwrap_or_default()),
        };
        Ok(Event {
            id: self.id,
            affiliate,
            at,
            subject: self.subject,
            device: self.device,
            ip,
            channel: self.channel,
            body,
            analysis: None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Events are written through the borrowed wire form exactly as the owned one writes the
    /// same content, for every kind of event in the fixture (3,000 events of all eight kinds).
    #[test]
    fn the_borrowed_wire_form_writes_what_the_owned_one_wrote() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../test_data/events/sample.jsonl");
        let text = std::fs::read_to_string(path).expect("the events fixture");
        let mut kinds = std::collections::BTreeSet::new();
        for line in text.lines() {
            let e = Event::from_json(line, None).expect("a fixture event");
            kinds.insert(e.kind().as_str());
            // What the owned wire form writes for the same content: its members, order and
            // omissions are the contract's.
            let json = e.to_json();
            let wire: EventWire = serde_json::from_str(&json).expect("the wire form reads it");
            assert_eq!(json, serde_json::to_string(&wire).expect("owned"));
            assert_eq!(serde_json::to_string(&e).expect("borrowed"), json);
        }
        assert_eq!(kinds.len(), 8, "{kinds:?}");
    }
}
