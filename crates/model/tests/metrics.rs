//! The metric helpers on hand-computed examples, and Platt calibration on data whose true
//! probabilities are known.

mod common;

use common::{margins, probabilistic};
use model::metrics::{log_loss, reliability};
use model::{
    Calibration, Params, fit_platt, pr_auc, precision_recall_f1, recall_at_fpr, roc_auc, stratified_folds,
    stratified_split, train,
};

const S: [f32; 5] = [0.9, 0.8, 0.7, 0.2, 0.1];
const Y: [bool; 5] = [true, false, true, false, true];

#[test]
fn auc_and_average_precision() {
    // Positives outrank negatives in 3 of 6 pairs.
    assert!((roc_auc(&S, &Y).unwrap() - 0.5).abs() < 1e-12);
    // AP = (1/3)(1/1) + (1/3)(2/3) + (1/3)(3/5).
    assert!((pr_auc(&S, &Y).unwrap() - (1.0 + 2.0 / 3.0 + 0.6) / 3.0).abs() < 1e-12);
    assert_eq!(roc_auc(&[0.1, 0.9], &[false, true]), Some(1.0));
    assert_eq!(roc_auc(&[0.5, 0.5], &[true, false]), Some(0.5));
    // A tie between one positive and one negative counts half: (1 + 0.5) / 2.
    assert_eq!(roc_auc(&[0.9, 0.5, 0.5], &[true, true, false]), Some(0.75));
    // Tied group of 2 at the top holding 1 positive: precision 1/2 for half the recall.
    assert_eq!(pr_auc(&[0.5, 0.5, 0.1], &[true, false, true]), Some(0.5 * 0.5 + 0.5 * (2.0 / 3.0)));
    assert_eq!(roc_auc(&[0.1, 0.2], &[false, false]), None);
    assert_eq!(pr_auc(&[0.1, 0.2], &[false, false]), None);
    assert_eq!(roc_auc::<f32>(&[], &[]), None);
}

#[test]
fn recall_at_a_false_positive_rate() {
    let s = [0.95, 0.9, 0.85, 0.8, 0.7, 0.6, 0.5, 0.4, 0.3, 0.2];
    let y = [true, true, false, true, false, true, false, false, false, false];
    // 6 negatives. FPR <= 0: the top two, recall 2/4 at threshold 0.9.
    assert_eq!(recall_at_fpr(&s, &y, 0.0), Some((0.5, 0.9)));
    // FPR <= 1/6: one negative allowed, recall 3/4 at 0.8.
    assert_eq!(recall_at_fpr(&s, &y, 1.0 / 6.0), Some((0.75, 0.8)));
    // FPR <= 0.4 (2 negatives): recall 1 at 0.6; lower thresholds add no recall.
    assert_eq!(recall_at_fpr(&s, &y, 0.4), Some((1.0, 0.6)));
    assert_eq!(recall_at_fpr(&s, &y, 1.0), Some((1.0, 0.6)));
    // Ties: a negative tied with the best positive cannot be separated from it.
    let (r, t) = recall_at_fpr(&[0.9, 0.9, 0.1], &[true, false, false], 0.0).unwrap();
    assert_eq!(r, 0.0);
    assert!(t > 0.9, "the threshold lies above every score: {t}");
    assert_eq!(recall_at_fpr(&[0.9, 0.9, 0.1], &[true, false, false], 0.5), Some((1.0, 0.9)));
    assert_eq!(recall_at_fpr(&[0.9], &[true], 0.1), None);
    // The threshold reproduces the recall and the FPR bound.
    let (r, t) = recall_at_fpr(&s, &y, 0.2).unwrap();
    let (_, recall, _) = precision_recall_f1(&s, &y, t);
    assert_eq!(recall, r);
}

#[test]
fn precision_recall_and_f1_at_a_threshold() {
    let (p, r, f) = precision_recall_f1(&S, &Y, 0.5);
    assert_eq!((p, r), (2.0 / 3.0, 2.0 / 3.0));
    assert!((f - 2.0 / 3.0).abs() < 1e-12);
    // At or above the threshold is positive.
    assert_eq!(precision_recall_f1(&S, &Y, 0.9), (1.0, 1.0 / 3.0, 0.5));
    assert_eq!(precision_recall_f1(&S, &Y, 2.0), (0.0, 0.0, 0.0));
    assert_eq!(precision_recall_f1(&[0.3], &[false], 0.1), (0.0, 0.0, 0.0));
}

#[test]
fn splits_and_folds_are_stratified() {
    let labels: Vec<bool> = (0..1000).map(|i| i % 10 == 0).collect();
    let (keep, held) = stratified_split(&labels, 0.2, 3);
    assert_eq!((keep.len(), held.len()), (800, 200));
    assert_eq!(held.iter().filter(|&&i| labels[i]).count(), 20);
    let mut all: Vec<usize> = keep.iter().chain(&held).copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..1000).collect::<Vec<_>>());
    assert!(held.windows(2).all(|w| w[0] < w[1]));
    assert_eq!(stratified_split(&labels, 0.2, 3), (keep.clone(), held.clone()));
    assert_ne!(stratified_split(&labels, 0.2, 4).1, held);
    assert_eq!(stratified_split(&labels, 0.0, 1).1.len(), 0);

    let labels: Vec<bool> = (0..103).map(|i| i < 21).collect();
    let folds = stratified_folds(&labels, 5, 1);
    for k in 0..5 {
        let all = folds.iter().filter(|&&f| f == k).count();
        let pos = (0..103).filter(|&i| folds[i] == k && labels[i]).count();
        assert!((20..=21).contains(&all) && (4..=5).contains(&pos), "fold {k}: {all} rows, {pos} positive");
    }
    assert_eq!(folds, stratified_folds(&labels, 5, 1));
}

#[test]
fn log_loss_and_reliability() {
    let l = log_loss(&[0.5, 0.5], &[true, false]).unwrap();
    assert!((l - std::f64::consts::LN_2).abs() < 1e-9);
    assert!(log_loss(&[1.0], &[false]).unwrap().is_finite());
    let table = reliability(&[0.05, 0.15, 0.12, 0.95], &[false, true, false, true], 10);
    assert_eq!(table.len(), 3);
    assert_eq!(table[1].2, 2);
    assert!((table[1].0 - 0.135).abs() < 1e-6 && table[1].1 == 0.5);
}

#[test]
fn platt_scaling_calibrates_a_reweighted_model() {
    // Positives weighted 8x: raw probabilities run far too high. Platt on a held-out set
    // brings a third set's predictions back to the observed rates.
    let (fit, cal, test) = (probabilistic(3000, 31), probabilistic(3000, 32), probabilistic(4000, 33));
    let params = Params { trees: 40, max_depth: 3, scale_pos_weight: Some(8.0), ..Params::default() };
    let mut m = train(&fit, &params).unwrap();
    let observed = test.positives() as f64 / test.rows as f64;
    let mean = |m: &model::Gbdt| m.probabilities(&test).unwrap().iter().map(|&p| f64::from(p)).sum::<f64>() / 4000.0;
    let raw = mean(&m);
    assert!(raw > observed + 0.15, "raw mean {raw} vs observed {observed}");
    m.calibration = fit_platt(&margins(&m, &cal), &cal.labels);
    assert!(matches!(m.calibration, Calibration::Platt { .. }));
    let calibrated = mean(&m);
    assert!((calibrated - observed).abs() < 0.02, "calibrated mean {calibrated} vs observed {observed}");
    let p = m.probabilities(&test).unwrap();
    for (pred, obs, n) in reliability(&p, &test.labels, 10) {
        if n >= 200 {
            assert!((pred - obs).abs() < 0.08, "bin of {n}: predicted {pred}, observed {obs}");
        }
    }
    assert!(log_loss(&p, &test.labels).unwrap() < 0.6);
}
