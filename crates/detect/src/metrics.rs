//! Quality metrics of a binary classifier, as `ansim eval` prints them: precision, recall, F1,
//! accuracy and false-positive rate at a threshold, plus ROC AUC and PR AUC (average
//! precision) over the scores, and stratified or grouped folds for cross-validation. A metric
//! that is undefined on the data (recall without positives) is `None`, printed as JSON `null`.

use model::Rng;

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

/// Sorted by score, highest first.
fn ranked(scored: &[(f64, bool)]) -> Vec<(f64, bool)> {
    let mut v = scored.to_vec();
    v.sort_by(|a, b| b.0.total_cmp(&a.0));
    v
}

/// Assigns each sample to one of `k` folds so that every sample of one group lands in the
/// same fold (`groups[i]` is sample `i`'s group), balancing positives and negatives across
/// folds: groups are shuffled by `seed`, then taken largest first, each into the fold where it
/// adds least to the larger of its share of positives and its share of negatives.
pub fn grouped_folds(labels: &[bool], groups: &[usize], k: usize, seed: u64) -> Vec<usize> {
    let k = k.max(2);
    let n_groups = groups.iter().copied().max().map_or(0, |m| m + 1);
    let mut counts = vec![(0usize, 0usize); n_groups];
    for (&g, &y) in groups.iter().zip(labels) {
        if y {
            counts[g].0 += 1;
        } else {
            counts[g].1 += 1;
        }
    }
    let (pos, neg) = counts.iter().fold((0, 0), |a, c| (a.0 + c.0, a.1 + c.1));
    let mut order: Vec<usize> = (0..n_groups).filter(|&g| counts[g] != (0, 0)).collect();
    Rng::new(seed).shuffle(&mut order);
    order.sort_by_key(|&g| std::cmp::Reverse(counts[g].0 + counts[g].1));
    let mut load = vec![(0usize, 0usize); k];
    let mut fold_of = vec![0usize; n_groups];
    let share = |(p, n): (usize, usize)| {
        let a = if pos > 0 { p as f64 / pos as f64 } else { 0.0 };
        let b = if neg > 0 { n as f64 / neg as f64 } else { 0.0 };
        a.max(b) + (a + b) * 1e-3
    };
    for g in order {
        let (p, n) = counts[g];
        let f = (0..k)
            .min_by(|&a, &b| share((load[a].0 + p, load[a].1 + n)).total_cmp(&share((load[b].0 + p, load[b].1 + n))))
            .unwrap_or(0);
        load[f].0 += p;
        load[f].1 += n;
        fold_of[g] = f;
    }
    groups.iter().map(|&g| fold_of[g]).collect()
}

/// The best recall at a false-positive rate of at most `max_fpr`, over every threshold of
/// `scored`, with that threshold; `None` without positives or negatives.
pub fn recall_at_fpr(scored: &[(f64, bool)], max_fpr: f64) -> Option<(f64, f64)> {
    let pos = scored.iter().filter(|s| s.1).count();
    let neg = scored.len() - pos;
    if pos == 0 || neg == 0 {
        return None;
    }
    let v = ranked(scored);
    let (mut tp, mut fp) = (0usize, 0usize);
    let mut best = (0.0, f64::INFINITY);
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j < v.len() && v[j].0 == v[i].0 {
            if v[j].1 {
                tp += 1;
            } else {
                fp += 1;
            }
            j += 1;
        }
        if fp as f64 / neg as f64 > max_fpr {
            break;
        }
        best = (tp as f64 / pos as f64, v[i].0);
        i = j;
    }
    Some(best)
}

/// The threshold that maximises F1 on `scored` with each sample counting `weights[i]` (ties:
/// the higher threshold).
pub fn best_weighted_f1_threshold(scored: &[(f64, bool)], weights: &[f32]) -> f64 {
    let mut v: Vec<(f64, bool, f64)> = scored.iter().zip(weights).map(|(&(s, y), &w)| (s, y, f64::from(w))).collect();
    v.sort_by(|a, b| b.0.total_cmp(&a.0));
    let pos: f64 = v.iter().filter(|s| s.1).map(|s| s.2).sum();
    let (mut tp, mut fp) = (0.0, 0.0);
    let (mut best, mut best_t) = (-1.0, 0.5);
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j < v.len() && v[j].0 == v[i].0 {
            if v[j].1 {
                tp += v[j].2;
            } else {
                fp += v[j].2;
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

/// The lowest threshold at which the false-positive rate of `scored`, each sample counting
/// `weights[i]`, is at most `max_fpr` (1.0 when even the highest score is over it).
pub fn weighted_fpr_threshold(scored: &[(f64, bool)], weights: &[f32], max_fpr: f64) -> f64 {
    let mut v: Vec<(f64, bool, f64)> = scored.iter().zip(weights).map(|(&(s, y), &w)| (s, y, f64::from(w))).collect();
    v.sort_by(|a, b| b.0.total_cmp(&a.0));
    let neg: f64 = v.iter().filter(|s| !s.1).map(|s| s.2).sum();
    let mut fp = 0.0;
    let mut best = 1.0;
    let mut i = 0;
    while i < v.len() {
        let mut j = i;
        while j < v.len() && v[j].0 == v[i].0 {
            if !v[j].1 {
                fp += v[j].2;
            }
            j += 1;
        }
        if neg > 0.0 && fp / neg > max_fpr {
            break;
        }
        best = v[i].0;
        i = j;
    }
    best
}

/// The threshold that maximises F1 on `scored` (ties: the higher threshold).
pub fn best_f1_threshold(scored: &[(f64, bool)]) -> f64 {
    let v = ranked(scored);
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
    fn grouped_folds_keep_groups_together_and_balance() {
        // 40 groups of 1 to 4 samples, a third of them positive.
        let mut labels = Vec::new();
        let mut groups = Vec::new();
        for g in 0..40 {
            for _ in 0..(g % 4 + 1) {
                labels.push(g % 3 == 0);
                groups.push(g);
            }
        }
        let f = grouped_folds(&labels, &groups, 5, 7);
        for i in 0..labels.len() {
            for j in 0..labels.len() {
                if groups[i] == groups[j] {
                    assert_eq!(f[i], f[j]);
                }
            }
        }
        let pos = labels.iter().filter(|&&y| y).count();
        for k in 0..5 {
            let p = (0..labels.len()).filter(|&i| f[i] == k && labels[i]).count();
            assert!(p * 5 >= pos / 2 && p * 5 <= pos * 2, "fold {k}: {p} of {pos} positives");
        }
        assert_eq!(f, grouped_folds(&labels, &groups, 5, 7), "deterministic for a seed");
    }

    #[test]
    fn recall_at_a_false_positive_rate() {
        let s = [(0.9, true), (0.8, false), (0.7, true), (0.6, true), (0.2, false), (0.1, true)];
        assert_eq!(recall_at_fpr(&s, 0.0), Some((0.25, 0.9)));
        assert_eq!(recall_at_fpr(&s, 0.5), Some((0.75, 0.6)));
        assert_eq!(recall_at_fpr(&[(0.5, true)], 0.1), None);
    }

    #[test]
    fn best_threshold_separates() {
        let s = [(0.9, true), (0.8, true), (0.3, false), (0.2, false)];
        assert_eq!(best_f1_threshold(&s), 0.8);
    }
}
