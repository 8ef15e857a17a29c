//! Training: gradient boosting with logistic loss on quantile histograms. Each round computes
//! the gradient and hessian of every row, grows one tree depth-first to `max_depth` choosing
//! at each node the split (and the side for missing values) with the best second-order gain,
//! and adds the tree's leaves times the learning rate to the margins. A node's histogram is
//! built only for the smaller child of a split; the larger child's is the parent's minus it.
//!
//! Deterministic: no hashing, no threads, a fixed order of every floating-point sum, and one
//! seeded generator for row and column subsampling.

use crate::bins::{Binned, MISSING};
use crate::data::Dataset;
use crate::gbdt::Gbdt;
use crate::rng::Rng;
use crate::tree::{Node, Tree};
use crate::{ModelError, err};

/// Training settings; [`Params::default`] gives the usual starting point.
#[derive(Debug, Clone, PartialEq)]
pub struct Params {
    /// Boosting rounds (trees). Default 300.
    pub trees: usize,
    /// Deepest split level (1..=16). Default 6.
    pub max_depth: usize,
    /// Shrinkage applied to every leaf (0, 1]. Default 0.1.
    pub learning_rate: f64,
    /// Least hessian sum in a child. Default 1.0.
    pub min_child_weight: f64,
    /// L2 penalty on leaf values. Default 1.0.
    pub lambda: f64,
    /// Least loss reduction for a split (XGBoost's `gamma`). Default 0.
    pub gamma: f64,
    /// Share of rows drawn (without replacement, per row) for each tree, (0, 1]. Default 1.
    pub subsample: f64,
    /// Share of features drawn for each tree, (0, 1]. Default 1.
    pub colsample: f64,
    /// Bins per feature, counting the one for missing values (3..=256). Default 256.
    pub max_bins: usize,
    /// Seed of the subsampling; without subsampling the result does not depend on it.
    pub seed: u64,
    /// Weight of every positive row relative to a negative one (for rare fraud, e.g.
    /// negatives / positives). `None` is 1. The base margin and the raw probabilities shift
    /// with it; calibrate on held-out data to get probabilities back.
    pub scale_pos_weight: Option<f64>,
}

impl Default for Params {
    fn default() -> Self {
        Params {
            trees: 300,
            max_depth: 6,
            learning_rate: 0.1,
            min_child_weight: 1.0,
            lambda: 1.0,
            gamma: 0.0,
            subsample: 1.0,
            colsample: 1.0,
            max_bins: 256,
            seed: 0,
            scale_pos_weight: None,
        }
    }
}

impl Params {
    /// Checks every setting is in range.
    pub fn validate(&self) -> Result<(), ModelError> {
        let unit = |x: f64| x > 0.0 && x <= 1.0;
        if !(1..=16).contains(&self.max_depth) {
            return err(format!("max_depth {} is outside 1..=16", self.max_depth));
        }
        if !unit(self.learning_rate) {
            return err(format!("learning_rate {} is outside (0, 1]", self.learning_rate));
        }
        if !(self.min_child_weight.is_finite() && self.min_child_weight >= 0.0) {
            return err(format!("min_child_weight {} is not a non-negative number", self.min_child_weight));
        }
        if !(self.lambda.is_finite() && self.lambda >= 0.0) {
            return err(format!("lambda {} is not a non-negative number", self.lambda));
        }
        if !(self.gamma.is_finite() && self.gamma >= 0.0) {
            return err(format!("gamma {} is not a non-negative number", self.gamma));
        }
        if !unit(self.subsample) {
            return err(format!("subsample {} is outside (0, 1]", self.subsample));
        }
        if !unit(self.colsample) {
            return err(format!("colsample {} is outside (0, 1]", self.colsample));
        }
        if !(3..=256).contains(&self.max_bins) {
            return err(format!("max_bins {} is outside 3..=256", self.max_bins));
        }
        if let Some(w) = self.scale_pos_weight
            && !(w.is_finite() && w > 0.0)
        {
            return err(format!("scale_pos_weight {w} is not a positive number"));
        }
        Ok(())
    }

    /// The settings on one line, for a model's `meta`.
    pub fn describe(&self) -> String {
        format!(
            "trees={} max_depth={} learning_rate={} min_child_weight={} lambda={} gamma={} subsample={} colsample={} max_bins={} seed={} scale_pos_weight={}",
            self.trees,
            self.max_depth,
            self.learning_rate,
            self.min_child_weight,
            self.lambda,
            self.gamma,
            self.subsample,
            self.colsample,
            self.max_bins,
            self.seed,
            self.scale_pos_weight.unwrap_or(1.0)
        )
    }
}

/// Trains a model on `data`. The result has [`Calibration::Identity`](crate::Calibration::Identity), no metrics, and a
/// `meta` line describing the data and the settings; the caller fits calibration and records
/// metrics on held-out data.
pub fn train(data: &Dataset, params: &Params) -> Result<Gbdt, ModelError> {
    fit(data, params, None).map(|(model, _, _)| model)
}

/// [`train`] with early stopping: after each round the (weighted) log loss on `validation`
/// is measured, training stops once `patience` rounds in a row fail to improve on the best,
/// and the model keeps the trees up to the best round (at least one). Returns the model and
/// the validation loss after each round trained (index `k`: after `k + 1` trees). The loss
/// weighs positives by `scale_pos_weight`, as training does. Deterministic like [`train`].
pub fn train_with_validation(
    data: &Dataset,
    validation: &Dataset,
    params: &Params,
    patience: usize,
) -> Result<(Gbdt, Vec<f64>), ModelError> {
    validation.validate()?;
    if validation.features != data.features {
        return err("the validation data's features are not the training data's");
    }
    fit(data, params, Some((validation, patience.max(1)))).map(|(model, _, losses)| (model, losses))
}

/// Weighted mean log loss of margins.
fn log_loss(margins: &[f32], labels: &[bool], weights: &[f64]) -> f64 {
    let (mut sum, mut total) = (0.0, 0.0);
    for ((&m, &y), &w) in margins.iter().zip(labels).zip(weights) {
        let z = f64::from(m);
        // -log sigmoid(z) for a positive, -log(1 - sigmoid(z)) for a negative.
        let softplus = |z: f64| if z > 0.0 { z + (-z).exp().ln_1p() } else { z.exp().ln_1p() };
        sum += w * if y { softplus(-z) } else { softplus(z) };
        total += w;
    }
    if total > 0.0 { sum / total } else { 0.0 }
}

/// [`train`], also returning the final training margins (equal, bit for bit, to
/// [`Gbdt::margin`] of each row, when no rounds were dropped by early stopping) and the
/// validation losses per round.
pub(crate) fn fit(
    data: &Dataset,
    params: &Params,
    watch: Option<(&Dataset, usize)>,
) -> Result<(Gbdt, Vec<f32>, Vec<f64>), ModelError> {
    data.validate()?;
    params.validate()?;
    let (n, nf) = (data.rows, data.features.len());
    let spw = params.scale_pos_weight.unwrap_or(1.0);
    let weight: Vec<f64> = (0..n).map(|r| f64::from(data.weight(r)) * if data.labels[r] { spw } else { 1.0 }).collect();
    let total: f64 = weight.iter().sum();
    let positive: f64 = (0..n).filter(|&r| data.labels[r]).map(|r| weight[r]).sum();
    if !(total > 0.0 && total.is_finite()) {
        return err("every row has weight 0");
    }
    let rate = (positive / total).clamp(1e-6, 1.0 - 1e-6);
    let base_margin = (rate / (1.0 - rate)).ln() as f32;

    let binned = Binned::new(data, params.max_bins - 1);
    let mut grower = Grower::new(&binned, params);
    let mut margin = vec![base_margin; n];
    let mut gh = vec![[0f32; 2]; n];
    let mut rng = Rng::new(params.seed);
    let mut sample: Vec<u32> = Vec::with_capacity(n);
    let mut in_sample = vec![false; n];
    let mut features: Vec<usize> = (0..nf).collect();
    let mut trees = Vec::with_capacity(params.trees);
    let (mut losses, mut best) = (Vec::new(), (f64::INFINITY, 0usize));
    let mut watched = watch.map(|(v, patience)| {
        let w: Vec<f64> = (0..v.rows).map(|r| f64::from(v.weight(r)) * if v.labels[r] { spw } else { 1.0 }).collect();
        (v, patience, w, vec![base_margin; v.rows])
    });
    for round in 0..params.trees {
        for r in 0..n {
            let p = 1.0 / (1.0 + (-f64::from(margin[r])).exp());
            let y = if data.labels[r] { 1.0 } else { 0.0 };
            gh[r] = [((p - y) * weight[r]) as f32, ((p * (1.0 - p)).max(1e-16) * weight[r]) as f32];
        }
        sample.clear();
        for (r, &w) in weight.iter().enumerate() {
            if w > 0.0 && (params.subsample >= 1.0 || rng.next_f64() < params.subsample) {
                sample.push(r as u32);
            }
        }
        features.clear();
        features.extend(0..nf);
        if params.colsample < 1.0 {
            let k = ((params.colsample * nf as f64).ceil() as usize).clamp(1, nf);
            for i in 0..k {
                let j = i + rng.below(nf - i);
                features.swap(i, j);
            }
            features.truncate(k);
            features.sort_unstable();
        }
        let tree = grower.grow(&gh, &features, &sample)?;
        // Rows of the sample sit in their leaf's range of the grower's partition; the
        // partition follows the same comparisons as scoring, so this is `tree.predict(row)`.
        for &(id, start, end) in &grower.leaves {
            let v = tree.nodes()[id].value();
            for &r in &grower.rows[start..end] {
                margin[r as usize] += v;
            }
        }
        if sample.len() < n {
            in_sample.fill(false);
            for &r in &sample {
                in_sample[r as usize] = true;
            }
            for r in (0..n).filter(|&r| !in_sample[r]) {
                margin[r] += tree.predict(data.row(r));
            }
        }
        trees.push(tree);
        if let Some((v, patience, weights, vm)) = &mut watched {
            let tree = &trees[round];
            for (r, m) in vm.iter_mut().enumerate() {
                *m += tree.predict(v.row(r));
            }
            let loss = log_loss(vm, &v.labels, weights);
            losses.push(loss);
            if loss < best.0 {
                best = (loss, round + 1);
            } else if round + 1 - best.1 >= *patience {
                break;
            }
        }
    }
    let mut meta = format!(
        "gbdt: {n} rows ({} positive), {nf} features; {}",
        data.labels.iter().filter(|&&y| y).count(),
        params.describe()
    );
    if let Some((v, patience, _, _)) = &watched {
        let kept = best.1.max(1);
        trees.truncate(kept);
        meta.push_str(&format!(
            "; early stopping on {} rows (patience {patience}): {kept} of {} trees kept, validation log loss {:.5}",
            v.rows,
            losses.len(),
            best.0
        ));
    }
    let mut model = Gbdt::new(data.features.clone(), base_margin, trees)?;
    model.meta = meta;
    Ok((model, margin, losses))
}

/// Per bin, the sums of gradients and hessians; 256 bins per feature, the last for missing.
type Hist = Vec<[f64; 2]>;

const BINS: usize = 256;

/// A split to try: left sums, right sums, threshold, whether missing values go left.
type Candidate = ([f64; 2], [f64; 2], f32, bool);

/// A chosen split.
struct Split {
    gain: f64,
    feature: usize,
    /// Value bins `<= bin` go left.
    bin: u8,
    threshold: f32,
    default_left: bool,
    left: [f64; 2],
    right: [f64; 2],
}

/// A node waiting to be split or made a leaf: its rows are `rows[start..end]`.
struct Pending {
    id: usize,
    start: usize,
    end: usize,
    sums: [f64; 2],
    depth: usize,
    /// `None` when the node cannot split (it is at the deepest level or too light).
    hist: Option<Hist>,
}

/// Grows trees, reusing its buffers from one round to the next.
struct Grower<'a> {
    binned: &'a Binned,
    params: &'a Params,
    rows: Vec<u32>,
    scratch: Vec<u32>,
    pool: Vec<Hist>,
    nodes: Vec<Node>,
    cover: Vec<f32>,
    gain: Vec<f32>,
    /// The leaves of the last tree: `(node, start, end)` in `rows`.
    leaves: Vec<(usize, usize, usize)>,
}

impl<'a> Grower<'a> {
    fn new(binned: &'a Binned, params: &'a Params) -> Grower<'a> {
        Grower {
            binned,
            params,
            rows: Vec::with_capacity(binned.rows),
            scratch: Vec::with_capacity(binned.rows),
            pool: Vec::new(),
            nodes: Vec::new(),
            cover: Vec::new(),
            gain: Vec::new(),
            leaves: Vec::new(),
        }
    }

    fn grow(&mut self, gh: &[[f32; 2]], features: &[usize], sample: &[u32]) -> Result<Tree, ModelError> {
        self.rows.clear();
        self.rows.extend_from_slice(sample);
        self.nodes.clear();
        self.cover.clear();
        self.gain.clear();
        self.leaves.clear();
        let mut sums = [0.0f64; 2];
        for &r in &self.rows {
            sums[0] += f64::from(gh[r as usize][0]);
            sums[1] += f64::from(gh[r as usize][1]);
        }
        self.push_pair_placeholder(1);
        let hist = self.can_split(sums, 0).then(|| {
            let mut h = self.take_hist();
            self.build(&mut h, 0, self.rows.len(), gh, features);
            h
        });
        let mut stack = vec![Pending { id: 0, start: 0, end: self.rows.len(), sums, depth: 0, hist }];
        while let Some(node) = stack.pop() {
            let split = node.hist.as_ref().and_then(|h| self.best_split(h, node.sums, features));
            let Some(s) = split else {
                self.nodes[node.id] = Node::leaf(self.leaf_value(node.sums));
                self.cover[node.id] = cover(node.sums[1]);
                self.leaves.push((node.id, node.start, node.end));
                if let Some(h) = node.hist {
                    self.pool.push(h);
                }
                continue;
            };
            let left = self.nodes.len();
            self.nodes[node.id] = Node::split(s.feature, s.threshold, s.default_left, left);
            self.cover[node.id] = cover(node.sums[1]);
            self.gain[node.id] = s.gain as f32;
            self.push_pair_placeholder(2);
            let mid = self.partition(node.start, node.end, &s);
            let depth = node.depth + 1;
            let (split_left, split_right) = (self.can_split(s.left, depth), self.can_split(s.right, depth));
            let mut parent = node.hist.expect("a split node has a histogram");
            let (mut lh, mut rh) = (None, None);
            if split_left || split_right {
                // Build the smaller child; the larger one is the parent minus it.
                let left_smaller = mid - node.start <= node.end - mid;
                let (start, end) = if left_smaller { (node.start, mid) } else { (mid, node.end) };
                let mut small = self.take_hist();
                self.build(&mut small, start, end, gh, features);
                for &f in features {
                    for (a, b) in parent[f * BINS..(f + 1) * BINS].iter_mut().zip(&small[f * BINS..(f + 1) * BINS]) {
                        a[0] -= b[0];
                        a[1] -= b[1];
                    }
                }
                if left_smaller {
                    (lh, rh) = (Some(small), Some(parent));
                } else {
                    (lh, rh) = (Some(parent), Some(small));
                }
                if !split_left {
                    self.pool.extend(lh.take());
                }
                if !split_right {
                    self.pool.extend(rh.take());
                }
            } else {
                self.pool.push(parent);
            }
            stack.push(Pending { id: left + 1, start: mid, end: node.end, sums: s.right, depth, hist: rh });
            stack.push(Pending { id: left, start: node.start, end: mid, sums: s.left, depth, hist: lh });
        }
        Tree::new(self.nodes.clone(), self.cover.clone(), self.gain.clone())
    }

    fn push_pair_placeholder(&mut self, k: usize) {
        for _ in 0..k {
            self.nodes.push(Node::leaf(0.0));
            self.cover.push(0.0);
            self.gain.push(0.0);
        }
    }

    /// Whether a node at `depth` with these sums may still split.
    fn can_split(&self, sums: [f64; 2], depth: usize) -> bool {
        depth < self.params.max_depth && sums[1] > 0.0 && sums[1] >= 2.0 * self.params.min_child_weight
    }

    fn leaf_value(&self, [g, h]: [f64; 2]) -> f32 {
        let v = -g / (h + self.params.lambda) * self.params.learning_rate;
        if v.is_finite() { v as f32 } else { 0.0 }
    }

    fn take_hist(&mut self) -> Hist {
        self.pool.pop().unwrap_or_else(|| vec![[0.0; 2]; self.binned.cuts.len() * BINS])
    }

    /// Sums the gradients and hessians of `rows[start..end]` per bin of every feature drawn.
    fn build(&self, hist: &mut Hist, start: usize, end: usize, gh: &[[f32; 2]], features: &[usize]) {
        let rows = &self.rows[start..end];
        for &f in features {
            let h: &mut [[f64; 2]; BINS] =
                (&mut hist[f * BINS..(f + 1) * BINS]).try_into().expect("a feature has 256 bins");
            h.fill([0.0; 2]);
            let col = self.binned.column(f);
            for &r in rows {
                let e = &mut h[col[r as usize] as usize];
                let [g, hh] = gh[r as usize];
                e[0] += f64::from(g);
                e[1] += f64::from(hh);
            }
        }
    }

    /// The split of best gain over the features drawn, if one beats `gamma`.
    fn best_split(&self, hist: &Hist, sums: [f64; 2], features: &[usize]) -> Option<Split> {
        let p = self.params;
        let [g, h] = sums;
        let score = |g: f64, h: f64| g * g / (h + p.lambda);
        let parent = score(g, h);
        let min_h = p.min_child_weight.max(h * 1e-12).max(f64::MIN_POSITIVE);
        let mut best: Option<Split> = None;
        let mut best_gain = p.gamma.max(1e-10 * (1.0 + parent));
        for &f in features {
            let hf = &hist[f * BINS..(f + 1) * BINS];
            let cuts = &self.binned.cuts[f];
            let nb = cuts.len() + 1;
            let [gm, hm] = hf[MISSING as usize];
            let (mut gl, mut hl) = (0.0, 0.0);
            for (b, &[gb, hb]) in hf[..nb].iter().enumerate() {
                gl += gb;
                hl += hb;
                if hb == 0.0 && b > 0 {
                    continue; // the same partition as the previous bin's
                }
                let mut candidates: [Option<Candidate>; 2] = [None, None];
                if b + 1 == nb {
                    if hm > 0.0 {
                        candidates[0] = Some(([gl, hl], [gm, hm], f32::INFINITY, false));
                    }
                } else {
                    candidates[0] = Some(([gl, hl], [g - gl, h - hl], cuts[b], false));
                    if hm > 0.0 {
                        candidates[1] = Some(([gl + gm, hl + hm], [g - gl - gm, h - hl - hm], cuts[b], true));
                    }
                }
                for (left, right, threshold, default_left) in candidates.into_iter().flatten() {
                    if left[1] < min_h || right[1] < min_h {
                        continue;
                    }
                    let gain = score(left[0], left[1]) + score(right[0], right[1]) - parent;
                    if gain > best_gain {
                        best_gain = gain;
                        // Without missing values here, NaN at scoring time follows the heavier side.
                        let default_left = if hm > 0.0 { default_left } else { left[1] >= right[1] };
                        best = Some(Split { gain, feature: f, bin: b as u8, threshold, default_left, left, right });
                    }
                }
            }
        }
        best
    }

    /// Stable partition of `rows[start..end]` by the split; returns where the right side starts.
    fn partition(&mut self, start: usize, end: usize, s: &Split) -> usize {
        let col = self.binned.column(s.feature);
        let missing_left = s.default_left;
        self.scratch.clear();
        let mut l = start;
        for k in start..end {
            let r = self.rows[k];
            let b = col[r as usize];
            let left = if b == MISSING { missing_left } else { b <= s.bin };
            if left {
                self.rows[l] = r;
                l += 1;
            } else {
                self.scratch.push(r);
            }
        }
        self.rows[l..end].copy_from_slice(&self.scratch);
        l
    }
}

/// A node's cover as stored: positive even when the hessians underflow `f32`.
fn cover(h: f64) -> f32 {
    (h as f32).max(f32::MIN_POSITIVE)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(n: usize, seed: u64) -> Dataset {
        let mut rng = Rng::new(seed);
        let mut values = Vec::new();
        let mut labels = Vec::new();
        for _ in 0..n {
            let x: Vec<f32> = (0..4).map(|_| rng.next_f64() as f32).collect();
            let miss = rng.next_f64() < 0.1;
            labels.push((x[0] > 0.5 && x[1] < 0.3) || miss);
            values.extend([if miss { f32::NAN } else { x[0] }, x[1], x[2], x[3]]);
        }
        Dataset::new((0..4).map(|i| format!("x{i}")).collect(), values, labels).unwrap()
    }

    #[test]
    fn training_margins_equal_scoring_margins() {
        let d = data(600, 1);
        for params in [
            Params { trees: 15, max_depth: 4, ..Params::default() },
            Params { trees: 15, max_depth: 3, subsample: 0.6, colsample: 0.5, seed: 9, ..Params::default() },
        ] {
            let (model, margins, _) = fit(&d, &params, None).unwrap();
            for (r, m) in margins.iter().enumerate() {
                assert_eq!(model.margin(d.row(r)).to_bits(), m.to_bits(), "row {r}");
            }
        }
    }

    #[test]
    fn bad_settings_are_refused() {
        let d = data(50, 2);
        for p in [
            Params { max_depth: 0, ..Params::default() },
            Params { learning_rate: 0.0, ..Params::default() },
            Params { subsample: 1.5, ..Params::default() },
            Params { colsample: f64::NAN, ..Params::default() },
            Params { max_bins: 2, ..Params::default() },
            Params { scale_pos_weight: Some(-1.0), ..Params::default() },
            Params { lambda: -1.0, ..Params::default() },
        ] {
            assert!(train(&d, &p).is_err(), "{p:?}");
        }
        let zero = d.clone().with_weights(vec![0.0; 50]).unwrap();
        assert!(train(&zero, &Params { trees: 1, ..Params::default() }).unwrap_err().0.contains("weight 0"));
    }

    #[test]
    fn single_class_and_constant_features_give_leaves() {
        let d = Dataset::new(vec!["c".into()], vec![1.0; 20], vec![false; 20]).unwrap();
        let m = train(&d, &Params { trees: 3, ..Params::default() }).unwrap();
        assert!(m.trees.iter().all(|t| t.nodes().len() == 1));
        assert!(m.probability(&[1.0]) < 1e-3);
    }
}
