//! Training data: a dense row-major matrix of `f32` features (NaN = missing), boolean labels
//! (`true` = fraud) and optional per-row weights.

use crate::{ModelError, err};

/// A labelled data set. Row `i` is `values[i * features.len()..(i + 1) * features.len()]`.
/// Values are finite numbers or `f32::NAN` for missing; infinities are refused by
/// [`Dataset::validate`] (at scoring time they are ordinary values).
#[derive(Debug, Clone, PartialEq)]
pub struct Dataset {
    /// Number of rows.
    pub rows: usize,
    /// Feature names, one per column; the model keeps them and scoring expects this order.
    pub features: Vec<String>,
    /// Row-major values, `rows * features.len()` of them.
    pub values: Vec<f32>,
    /// One label per row: `true` for the positive class (fraud).
    pub labels: Vec<bool>,
    /// Optional non-negative weight per row (a row of weight 0 is ignored by training).
    pub weights: Option<Vec<f32>>,
}

impl Dataset {
    /// A checked data set without weights; the row count is `labels.len()`.
    pub fn new(features: Vec<String>, values: Vec<f32>, labels: Vec<bool>) -> Result<Dataset, ModelError> {
        let d = Dataset { rows: labels.len(), features, values, labels, weights: None };
        d.validate()?;
        Ok(d)
    }

    /// The same data with a weight per row.
    pub fn with_weights(mut self, weights: Vec<f32>) -> Result<Dataset, ModelError> {
        self.weights = Some(weights);
        self.validate()?;
        Ok(self)
    }

    /// Checks the shape and the values: at least one row and one feature, unique non-empty
    /// feature names, `rows * features` values each finite or NaN, one label per row, weights
    /// finite and non-negative.
    pub fn validate(&self) -> Result<(), ModelError> {
        let nf = self.features.len();
        if nf == 0 {
            return err("the data set has no features");
        }
        if nf >= 1 << 30 {
            return err(format!("{nf} features are too many"));
        }
        if self.rows == 0 {
            return err("the data set has no rows");
        }
        if self.rows > u32::MAX as usize {
            return err(format!("{} rows are too many (at most {})", self.rows, u32::MAX));
        }
        for (i, name) in self.features.iter().enumerate() {
            if name.is_empty() {
                return err(format!("feature {i} has no name"));
            }
            if self.features[..i].contains(name) {
                return err(format!("feature `{name}` appears twice"));
            }
        }
        if self.rows.checked_mul(nf) != Some(self.values.len()) {
            return err(format!("{} values for {} rows of {nf} features", self.values.len(), self.rows));
        }
        if self.labels.len() != self.rows {
            return err(format!("{} labels for {} rows", self.labels.len(), self.rows));
        }
        if let Some(i) = self.values.iter().position(|v| v.is_infinite()) {
            return err(format!(
                "row {} feature `{}` is infinite (use a finite value, or NaN for missing)",
                i / nf,
                self.features[i % nf]
            ));
        }
        if let Some(w) = &self.weights {
            if w.len() != self.rows {
                return err(format!("{} weights for {} rows", w.len(), self.rows));
            }
            if let Some(i) = w.iter().position(|w| !w.is_finite() || *w < 0.0) {
                return err(format!("row {i} has weight {}, not a finite non-negative number", w[i]));
            }
        }
        Ok(())
    }

    /// Row `i` (panics when out of range).
    pub fn row(&self, i: usize) -> &[f32] {
        let nf = self.features.len();
        &self.values[i * nf..(i + 1) * nf]
    }

    /// The weight of row `i` (1 without weights).
    pub fn weight(&self, i: usize) -> f32 {
        self.weights.as_ref().map_or(1.0, |w| w[i])
    }

    /// The rows at `indices`, in that order (for train and held-out splits).
    pub fn subset(&self, indices: &[usize]) -> Dataset {
        let mut values = Vec::with_capacity(indices.len() * self.features.len());
        for &i in indices {
            values.extend_from_slice(self.row(i));
        }
        Dataset {
            rows: indices.len(),
            features: self.features.clone(),
            values,
            labels: indices.iter().map(|&i| self.labels[i]).collect(),
            weights: self.weights.as_ref().map(|w| indices.iter().map(|&i| w[i]).collect()),
        }
    }

    /// Number of positive rows.
    pub fn positives(&self) -> usize {
        self.labels.iter().filter(|&&y| y).count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(n: usize) -> Vec<String> {
        (0..n).map(|i| format!("f{i}")).collect()
    }

    #[test]
    fn shapes_are_checked() {
        assert!(Dataset::new(names(2), vec![1.0, 2.0, 3.0, f32::NAN], vec![true, false]).is_ok());
        assert!(Dataset::new(names(2), vec![1.0, 2.0, 3.0], vec![true, false]).unwrap_err().0.contains("3 values"));
        assert!(Dataset::new(names(1), vec![f32::INFINITY], vec![true]).unwrap_err().0.contains("infinite"));
        assert!(Dataset::new(vec!["a".into(), "a".into()], vec![0.0; 2], vec![true]).unwrap_err().0.contains("twice"));
        assert!(Dataset::new(names(1), vec![], vec![]).is_err());
        let d = Dataset::new(names(1), vec![1.0, 2.0], vec![true, false]).unwrap();
        assert!(d.clone().with_weights(vec![1.0]).is_err());
        assert!(d.clone().with_weights(vec![1.0, -1.0]).is_err());
        let w = d.with_weights(vec![2.0, 0.5]).unwrap();
        let s = w.subset(&[1]);
        assert_eq!((s.rows, s.values.clone(), s.labels.clone(), s.weight(0)), (1, vec![2.0], vec![false], 0.5));
    }
}
