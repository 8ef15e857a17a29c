//! Quality metrics of a binary classifier, as `ansim eval` prints them: precision, recall, F1,
//! accuracy and false-positive rate at a threshold, plus ROC AUC and PR AUC (average
//! precision) over the scores, and stratified folds for cross-validation. The rankings, folds
//! and random generator come from `model::metrics`, the workspace's one home of them. A metric
//! that is undefined on the data (recall without positives) is `None`, printed as JSON `null`.

/// Metrics of scores against labels.
#[derive(Debug, Clone, PartialEq)]
pub struct Metrics {
    /// Samples.
    pub n: usize,
    /// True positives.
    pub tp: usize,
    /// False positives.
    pub fp: usize,
    /// True negatives.
    pub tn: usize,
    /// False negatives.
    pub fn_: usize,
    /// tp / (tp + fp).
    pub precision: Option<f64>,
    /// tp / (tp + fn).
    pub recall: Option<f64>,
    /// Harmonic mean of precision and recall.
    pub f1: Option<f64>,
    /// (tp + tn) / n.
    pub accuracy: Option<f64>,
    /// Area under the ROC curve (ties count half).
    pub roc_auc: Option<f64>,
    /// Average precision (area under the precision–recall curve, step-wise).
    pub pr_auc: Option<f64>,
    /// fp / (fp + tn): on benign-only data, the false-alarm rate.
    pub false_positive_rate: Option<f64>,
}

fn ratio(a: usize, b: usize) -> Option<f64> {
    (b > 0).then(|| a as f64 / b as f64)
}

/// Evaluates `(score, is_positive)` pairs; a score at or above `threshold` is a positive call.
pub fn evaluate(scored: &[(f64, bool)], threshold: f64) -> Metrics {
    let (mut tp, mut fp, mut tn, mut fn_) = (0, 0, 0, 0);
    for &(s, y) in scored {
        match (s >= threshold, y) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, false) => tn += 1,
            (false, true) => fn_ += 1,
        }
    }
    let (scores, labels): (Vec<f64>, Vec<bool>) = scored.iter().copied().unzip();
    let precision = ratio(tp, tp + fp);
    let recall = ratio(tp, tp + fn_);
    let f1 = match (precision, recall) {
        (Some(p), Some(r)) if p + r > 0.0 => Some(2.0 * p * r / (p + r)),
        (Some(_), Some(_)) => Some(0.0),
        _ => None,
    };
    Metrics {
        n: scored.len(),
        tp,
        fp,
        tn,
        fn_,
        precision,
        recall,
        f1,
        accuracy: ratio(tp + tn, scored.len()),
        roc_auc: model::metrics::roc_auc(&scores, &labels),
        pr_auc: model::metrics::pr_auc(&scores, &labels),
        false_positive_rate: ratio(fp, fp + tn),
    }
}

impl Metrics {
    /// One JSON object: `n`, `precision`, `recall`, `f1`, `accuracy`, `roc_auc`, `pr_auc`,
    /// `false_positive_rate` (undefined ones `null`), then the confusion counts.
    pub fn to_json(&self) -> String {
        let f = |x: Option<f64>| x.map_or("null".to_string(), |v| format!("{v:.4}"));
        format!(
            "{{\"n\":{},\"precision\":{},\"recall\":{},\"f1\":{},\"accuracy\":{},\"roc_auc\":{},\"pr_auc\":{},\"false_positive_rate\":{},\"tp\":{},\"fp\":{},\"tn\":{},\"fn\":{}}}",
            self.n,
            f(self.precision),
            f(self.recall),
            f(self.f1),
            f(self.accuracy),
            f(self.roc_auc),
            f(self.pr_auc),
            f(self.false_positive_rate),
            self.tp,
            self.fp,
            self.tn,
            self.fn_
        )
    }
}

/// Stratified folds for cross-validation: the one implementation in `model`.
pub use model::metrics::stratified_folds;

/// The threshold that maximises F1 on `scored` (ties: the higher threshold).
pub fn best_f1_threshold(scored: &[(f64, bool)]) -> f64 {
    let mut v = scored.to_vec();
    v.sort_by(|a, b| b.0.total_cmp(&a.0));
    let pos = scored.iter().filter(|s| s.1).count() as f64;
    let (mut tp, mut fp) = (0.0, 0.0);
    let (mut best, mut best_t) = (-1.0, 0.5);
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j < v.len() && v[j].0 == v[i].0 {
            if v[j].1 {
                tp += 1.0;
            } else {
                fp += 1.0;
            }
            j += 1;
        }
        let f1 = if tp > 0.0 { 2.0 * tp / (2.0 * tp + fp + (pos - tp)) } else { 0.0 };
        if f1 > best {
            best = f1;
            best_t = v[i].0;
        }
        i = j;
    }
    best_t
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_ratios() {
        let s = [(0.9, true), (0.8, false), (0.7, true), (0.2, false), (0.1, true)];
        let m = evaluate(&s, 0.5);
        assert_eq!((m.tp, m.fp, m.tn, m.fn_), (2, 1, 1, 1));
        assert_eq!(m.precision, Some(2.0 / 3.0));
        assert_eq!(m.recall, Some(2.0 / 3.0));
        assert_eq!(m.false_positive_rate, Some(0.5));
        // Positives outrank negatives in 3 of 6 pairs.
        assert!((m.roc_auc.unwrap() - 3.0 / 6.0).abs() < 1e-12);
        // AP = (1/3)(1/1) + (1/3)(2/3) + (1/3)(3/5).
        assert!((m.pr_auc.unwrap() - (1.0 + 2.0 / 3.0 + 0.6) / 3.0).abs() < 1e-12);
    }

    #[test]
    fn ties_and_undefined_metrics() {
        let tie = [(0.5, true), (0.5, false)];
        assert_eq!(evaluate(&tie, 0.9).roc_auc, Some(0.5));
        let benign = [(0.1, false), (0.7, false)];
        let m = evaluate(&benign, 0.5);
        assert_eq!((m.recall, m.roc_auc, m.pr_auc, m.false_positive_rate), (None, None, None, Some(0.5)));
        assert!(m.to_json().contains("\"recall\":null"), "{}", m.to_json());
        assert!(m.to_json().starts_with("{\"n\":2,"));
    }

    #[test]
    fn folds_are_stratified() {
        let labels: Vec<bool> = (0..100).map(|i| i < 20).collect();
        let f = stratified_folds(&labels, 5, 1);
        for k in 0..5 {
            let pos = (0..100).filter(|&i| f[i] == k && labels[i]).count();
            let all = (0..100).filter(|&i| f[i] == k).count();
            assert_eq!((pos, all), (4, 20));
        }
    }

    #[test]
    fn best_threshold_separates() {
        let s = [(0.9, true), (0.8, true), (0.3, false), (0.2, false)];
        assert_eq!(best_f1_threshold(&s), 0.8);
    }
}
