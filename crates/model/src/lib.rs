//! Gradient-boosted decision trees for binary classification (fraud or not), in pure Rust:
//! histogram-based training with logistic loss and second-order gains ([`train`]), scoring of
//! one row in about a microsecond ([`Gbdt::margin`], [`Gbdt::probability`]), explanations of a
//! score as per-feature contributions ([`Gbdt::contributions`], [`Gbdt::shap_values`]), Platt
//! calibration on held-out scores ([`fit_platt`]), a checksummed versioned artefact
//! ([`Gbdt::to_bytes`], [`Gbdt::from_bytes`]) and the metrics a caller evaluates a model with
//! ([`metrics`]).
//!
//! Pure: no IO, no clock, no threads. Training is deterministic for a seed: the same data and
//! parameters give the same trees, bit for bit, on every run and machine.
//!
//! ```
//! use model::{Dataset, Params, train};
//!
//! let rows: Vec<[f32; 2]> = (0..400).map(|i| [(i % 20) as f32, (i / 20) as f32]).collect();
//! let labels: Vec<bool> = rows.iter().map(|r| r[0] > 12.0 && r[1] < 6.0).collect();
//! let data = Dataset::new(vec!["amount".into(), "age".into()], rows.concat(), labels).unwrap();
//! let model = train(&data, &Params { trees: 20, ..Params::default() }).unwrap();
//! assert!(model.probability(&[15.0, 2.0]) > 0.5);
//! assert!(model.probability(&[3.0, 2.0]) < 0.5);
//! let loaded = model::Gbdt::from_bytes(&model.to_bytes()).unwrap();
//! assert_eq!(loaded.margin(&[15.0, f32::NAN]), model.margin(&[15.0, f32::NAN]));
//! ```

mod artefact;
mod bins;
mod calibration;
mod data;
mod forest;
mod gbdt;
pub mod metrics;
mod rng;
mod train;
mod tree;

pub use calibration::{Calibration, fit_platt};
pub use data::Dataset;
pub use forest::Trees;
pub use gbdt::Gbdt;
pub use metrics::{
    log_loss, pr_auc, precision_recall_f1, recall_at_fpr, reliability, roc_auc, stratified_folds, stratified_split,
};
pub use rng::Rng;
pub use train::{Params, train, train_with_validation};
pub use tree::{Node, Tree};

/// Why data, parameters or a model file were refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelError(pub String);

impl std::fmt::Display for ModelError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ModelError {}

pub(crate) fn err<T>(message: impl Into<String>) -> Result<T, ModelError> {
    Err(ModelError(message.into()))
}

/// The logistic function in `f32`; saturates to 0 and 1 without producing NaN.
pub(crate) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}
