//! Quality metrics of scores against labels (`true` = positive), and stratified splits for
//! held-out evaluation and cross-validation. Scores are margins or probabilities (any
//! increasing scale; higher means more likely positive); a score at or above a threshold is a
//! positive call. Equal scores form one group: no metric depends on the order of ties.
//! Scores are compared with `total_cmp`, so a NaN score ranks above every number. This is the
//! workspace's one home of these measures: the stage-1 analyzers' `detect::metrics` builds on it.
//! Every function panics when `scores` and `labels` differ in length.

use crate::rng::Rng;

/// Groups of equal scores, highest first: `(score, positives, negatives)`. Scores are `f32`
/// (tree margins, probabilities) or `f64` (the message and link analyzers' risks); an `f32`
/// widens to `f64` exactly, so both rank the same.
fn groups<S: Copy + Into<f64>>(scores: &[S], labels: &[bool]) -> Vec<(f64, usize, usize)> {
    assert_eq!(scores.len(), labels.len(), "one label per score");
    let mut order: Vec<usize> = (0..scores.len()).collect();
    order.sort_by(|&a, &b| scores[b].into().total_cmp(&scores[a].into()));
    let mut out: Vec<(f64, usize, usize)> = Vec::new();
    for i in order {
        let (s, y) = (scores[i].into(), labels[i]);
        match out.last_mut() {
            Some(g) if g.0.total_cmp(&s).is_eq() => {
                if y {
                    g.1 += 1
                } else {
                    g.2 += 1
                }
            }
            _ => out.push((s, usize::from(y), usize::from(!y))),
        }
    }
    out
}

fn class_counts(labels: &[bool]) -> (usize, usize) {
    let pos = labels.iter().filter(|&&y| y).count();
    (pos, labels.len() - pos)
}

/// Area under the ROC curve: the chance a random positive scores above a random negative,
/// ties counting half. `None` without both classes.
pub fn roc_auc<S: Copy + Into<f64>>(scores: &[S], labels: &[bool]) -> Option<f64> {
    let (pos, neg) = class_counts(labels);
    let g = groups(scores, labels);
    if pos == 0 || neg == 0 {
        return None;
    }
    let (mut negs_below, mut u) = (neg as f64, 0.0);
    for (_, p, n) in g {
        negs_below -= n as f64;
        u += p as f64 * (negs_below + n as f64 / 2.0);
    }
    Some(u / (pos as f64 * neg as f64))
}

/// Average precision (the step-wise area under the precision–recall curve): the mean, over
/// recall steps, of the precision at each threshold; a group of equal scores is one step.
/// `None` without positives.
pub fn pr_auc<S: Copy + Into<f64>>(scores: &[S], labels: &[bool]) -> Option<f64> {
    let (pos, _) = class_counts(labels);
    let g = groups(scores, labels);
    if pos == 0 {
        return None;
    }
    let (mut tp, mut seen, mut ap) = (0.0, 0.0, 0.0);
    for (_, p, n) in g {
        tp += p as f64;
        seen += (p + n) as f64;
        ap += (p as f64 / pos as f64) * (tp / seen);
    }
    Some(ap)
}

/// The operating point with the highest recall whose false-positive rate on the negatives is
/// at most `max_fpr`: `(recall, threshold)`, calling `score >= threshold` positive. The
/// threshold is a score present in the data (the highest one reaching that recall, so the
/// fewest false positives); when even the top group of scores has too many negatives, the
/// recall is 0 and the threshold lies just above the highest score. `None` without both classes.
pub fn recall_at_fpr(scores: &[f32], labels: &[bool], max_fpr: f64) -> Option<(f64, f32)> {
    let (pos, neg) = class_counts(labels);
    let g = groups(scores, labels);
    if pos == 0 || neg == 0 {
        return None;
    }
    // Scores came in as `f32`, so narrowing a group's score back is exact.
    let top = g.first().map_or(f32::INFINITY, |g| g.0 as f32);
    let mut best = (0.0, top.next_up());
    let (mut tp, mut fp) = (0usize, 0usize);
    for (s, p, n) in g {
        tp += p;
        fp += n;
        if fp as f64 > max_fpr * neg as f64 {
            break;
        }
        let recall = tp as f64 / pos as f64;
        if recall > best.0 {
            best = (recall, s as f32);
        }
    }
    Some(best)
}

/// Precision, recall and F1 when `score >= threshold` is a positive call. An undefined ratio
/// (no positive calls, no positives) is 0.
pub fn precision_recall_f1(scores: &[f32], labels: &[bool], threshold: f32) -> (f64, f64, f64) {
    assert_eq!(scores.len(), labels.len(), "one label per score");
    let (mut tp, mut fp, mut fn_) = (0usize, 0usize, 0usize);
    for (&s, &y) in scores.iter().zip(labels) {
        match (s >= threshold, y) {
            (true, true) => tp += 1,
            (true, false) => fp += 1,
            (false, true) => fn_ += 1,
            (false, false) => {}
        }
    }
    let ratio = |a: usize, b: usize| if b == 0 { 0.0 } else { a as f64 / b as f64 };
    let (precision, recall) = (ratio(tp, tp + fp), ratio(tp, tp + fn_));
    let f1 = if precision + recall > 0.0 { 2.0 * precision * recall / (precision + recall) } else { 0.0 };
    (precision, recall, f1)
}

/// Mean log loss of probabilities (clamped to `[1e-7, 1 - 1e-7]`); `None` when empty.
pub fn log_loss(probabilities: &[f32], labels: &[bool]) -> Option<f64> {
    assert_eq!(probabilities.len(), labels.len(), "one label per probability");
    if labels.is_empty() {
        return None;
    }
    let sum: f64 = probabilities
        .iter()
        .zip(labels)
        .map(|(&p, &y)| {
            let p = f64::from(p).clamp(1e-7, 1.0 - 1e-7);
            -if y { p.ln() } else { (1.0 - p).ln() }
        })
        .sum();
    Some(sum / labels.len() as f64)
}

/// A reliability table: probabilities cut into `bins` equal-width bins over `[0, 1]`; per
/// non-empty bin, `(mean predicted, observed positive rate, rows)`.
pub fn reliability(probabilities: &[f32], labels: &[bool], bins: usize) -> Vec<(f64, f64, usize)> {
    assert_eq!(probabilities.len(), labels.len(), "one label per probability");
    let bins = bins.max(1);
    let mut acc = vec![(0.0, 0usize, 0usize); bins];
    for (&p, &y) in probabilities.iter().zip(labels) {
        let p = f64::from(p).clamp(0.0, 1.0);
        let b = ((p * bins as f64) as usize).min(bins - 1);
        acc[b].0 += p;
        acc[b].1 += usize::from(y);
        acc[b].2 += 1;
    }
    acc.into_iter().filter(|a| a.2 > 0).map(|(s, pos, n)| (s / n as f64, pos as f64 / n as f64, n)).collect()
}

/// Splits row indices in two, stratified by label: about `fraction` of each class goes to the
/// second (held-out) part, chosen by `seed`. Both parts are in ascending order.
pub fn stratified_split(labels: &[bool], fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let fraction = if fraction.is_nan() { 0.0 } else { fraction.clamp(0.0, 1.0) };
    let mut rng = Rng::new(seed);
    let (mut keep, mut held) = (Vec::new(), Vec::new());
    for class in [true, false] {
        let mut idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        rng.shuffle(&mut idx);
        let k = (fraction * idx.len() as f64).round() as usize;
        held.extend_from_slice(&idx[..k]);
        keep.extend_from_slice(&idx[k..]);
    }
    keep.sort_unstable();
    held.sort_unstable();
    (keep, held)
}

/// Assigns each row to one of `k` folds (at least 2), stratified by label: each fold gets its
/// share of positives and of negatives, and fold sizes differ by at most one. Shuffled by
/// `seed`.
pub fn stratified_folds(labels: &[bool], k: usize, seed: u64) -> Vec<usize> {
    let k = k.max(2);
    let mut fold = vec![0; labels.len()];
    let mut rng = Rng::new(seed);
    // Counting on across classes keeps the totals balanced as well as each class.
    let mut next = 0;
    for class in [true, false] {
        let mut idx: Vec<usize> = (0..labels.len()).filter(|&i| labels[i] == class).collect();
        rng.shuffle(&mut idx);
        for i in idx {
            fold[i] = next % k;
            next += 1;
        }
    }
    fold
}
