//! The message classifier: features of a message's text for the hashed linear model, the
//! built-in model, and training. (Being written: placeholder bodies.)

use crate::linear::{Features, LinearModel, ModelKind, TrainConfig};
use crate::normalize::Normalized;

/// Version of [`features`]; a model trained with another version is refused.
pub const FEATURE_SET: u32 = 0;

/// Hashed features of a normalised message (`raw` is the text as received).
pub fn features(_n: &Normalized, _raw: &str, _bits: u8) -> Features {
    Vec::new()
}

/// The built-in message model.
pub fn builtin() -> LinearModel {
    LinearModel {
        kind: ModelKind::Messages,
        feature_set: FEATURE_SET,
        bits: 8,
        weights: vec![0.0; 256],
        bias: -4.0,
        threshold: 0.5,
        meta: String::new(),
    }
}

/// Trains a message model on `(text, is_scam)` samples.
pub fn train(_samples: &[(String, bool)], _cfg: &TrainConfig) -> LinearModel {
    builtin()
}
