//! Synthetic data for the integration tests: small, seeded, and with a known answer.

#![allow(dead_code)]

use model::{Dataset, Rng};

/// `n` rows of `features` uniform values in `[0, 1)`, labelled by `label(row)`; a label is
/// flipped with probability `noise`. Returns the data and the clean labels.
pub fn uniform(
    n: usize,
    features: usize,
    noise: f64,
    seed: u64,
    label: impl Fn(&[f32]) -> bool,
) -> (Dataset, Vec<bool>) {
    let mut rng = Rng::new(seed);
    let (mut values, mut labels, mut clean) = (Vec::new(), Vec::new(), Vec::new());
    for _ in 0..n {
        let row: Vec<f32> = (0..features).map(|_| rng.next_f64() as f32).collect();
        let y = label(&row);
        clean.push(y);
        labels.push(y ^ (rng.next_f64() < noise));
        values.extend(row);
    }
    let names = (0..features).map(|i| format!("x{i}")).collect();
    (Dataset::new(names, values, labels).expect("well formed"), clean)
}

/// Rows whose label is drawn with probability `sigmoid(3 x0 + 2 x1 - 3.5)`: a problem where
/// probabilities, not just rankings, can be checked.
pub fn probabilistic(n: usize, seed: u64) -> Dataset {
    let mut rng = Rng::new(seed);
    let (mut values, mut labels) = (Vec::new(), Vec::new());
    for _ in 0..n {
        let row: Vec<f32> = (0..3).map(|_| rng.next_f64() as f32).collect();
        let z = 3.0 * f64::from(row[0]) + 2.0 * f64::from(row[1]) - 3.5;
        labels.push(rng.next_f64() < 1.0 / (1.0 + (-z).exp()));
        values.extend(row);
    }
    Dataset::new(vec!["x0".into(), "x1".into(), "x2".into()], values, labels).expect("well formed")
}

/// The margins of every row.
pub fn margins(m: &model::Gbdt, d: &Dataset) -> Vec<f32> {
    m.margins(d).expect("same features")
}
