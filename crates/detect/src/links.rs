//! Link analysis: finding URLs in text even when obfuscated, and judging each one (shorteners,
//! raw IPs, punycode and look-alikes of protected brands, risky TLDs, APKs, a URL model).
//! (Being written: placeholder bodies.)

use crate::linear::{Features, LinearModel, ModelKind, TrainConfig};

/// Version of [`url_features`]; a model trained with another version is refused.
pub const FEATURE_SET: u32 = 0;

/// Protected brands: their genuine registrable domains and the names look-alikes imitate.
#[derive(Debug, Clone, Default)]
pub struct Brands {}

impl Brands {
    /// The built-in list: the group's services and Korean public institutions.
    pub fn builtin() -> Brands {
        Brands {}
    }
}

/// A link as found in text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLink {
    /// The link text after de-obfuscation (`hxxp` → `http`, `[.]` → `.`).
    pub text: String,
    /// It was obfuscated in the message.
    pub obfuscated: bool,
}

/// Every link in `text`, in order.
pub fn extract(_text: &str) -> Vec<RawLink> {
    Vec::new()
}

/// Hashed features of a URL string.
pub fn url_features(_url: &str, _bits: u8) -> Features {
    Vec::new()
}

/// Judges one link.
pub fn inspect(link: &RawLink, _brands: &Brands, _model: &LinearModel) -> domain::Link {
    domain::Link { url: link.text.clone(), domain: None, risk: 0, flags: Vec::new(), brand: None }
}

/// The built-in URL model.
pub fn builtin() -> LinearModel {
    LinearModel {
        kind: ModelKind::Urls,
        feature_set: FEATURE_SET,
        bits: 8,
        weights: vec![0.0; 256],
        bias: -4.0,
        threshold: 0.5,
        meta: String::new(),
    }
}

/// Trains a URL model on `(url, is_phishing)` samples.
pub fn train(_samples: &[(String, bool)], _cfg: &TrainConfig) -> LinearModel {
    builtin()
}
