//! ansim's value types: events an affiliate asks about, money, ids, time and decisions.
//!
//! This crate does no IO and never reads the clock: every time comes from an event. The event
//! JSON accepted by the API is defined here once ([`Event::from_json`]) and validated while it is
//! parsed, so a bad request names the bad field and nothing downstream sees an invalid event.

mod analysis;
mod case;
mod decision;
mod event;
mod hex;
mod money;
pub mod strict;
mod time;

pub use analysis::{Analysis, Link, Typology, Warning, WarningKind, WarningLevel};
pub use case::{CaseOutcome, CaseState};
pub use decision::{Confirm, Decision, Evidence, Guidance, MatchedRule, Shield, Verdict};
pub use event::{
    AGE_BANDS, AccountChange, AffiliateId, ChangeKind, Channel, Contact, Counterparty, Device, DeviceScan, Event,
    EventBody, EventError, EventId, EventKind, IpInfo, LoanApplication, Login, MAX_ID_LEN, Merchant, Message, Payment,
    Subject, SubjectId, Transfer,
};
pub use hex::{hex, push_hex};
pub use money::{Krw, MAX_KRW};
pub use time::{Timestamp, TimestampError};
