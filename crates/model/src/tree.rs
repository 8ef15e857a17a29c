//! One regression tree as a flat array of nodes. A split sends `x` left when `x < threshold`
//! and a missing value (NaN) to the side it learned for missing values (`default_left`); the
//! children of a split are adjacent (`right = left + 1`). An internal node's value is the
//! cover-weighted mean of its leaves (its expectation over the training rows), which the
//! explanations use.
//!
//! Scoring walks a second copy of the nodes, 16 bytes each, in a form without branches: a
//! leaf points to itself, so a row takes exactly `depth` steps in every tree; and a missing
//! value reads as `-inf` at a split whose missing values go left and as `+inf` at one whose
//! missing values go right, so one comparison `v < threshold` picks the child every time.

use crate::{ModelError, err};

const LEAF: u32 = 1 << 30;
const DEFAULT_LEFT: u32 = 1 << 31;
const FEATURE: u32 = LEAF - 1;

/// Deepest tree accepted (training allows 1..=16; a loaded file up to this).
pub(crate) const MAX_DEPTH: usize = 32;

/// A node: a split or a leaf.
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C)]
pub struct Node {
    /// Split: `x < threshold` goes left. Leaf: `-inf`, so every row goes "right" to itself.
    threshold: f32,
    /// Feature index, plus the leaf and default-left flags.
    bits: u32,
    /// Split: the left child (the right one follows it). Leaf: its own index minus one.
    left: u32,
    /// Leaf: the value added to the margin. Split: the node's expectation.
    value: f32,
}

impl Node {
    /// A split on `feature` sending `x < threshold` to `left` and the rest to `left + 1`, and a
    /// missing value to the left when `default_left`. Its value is computed by [`Tree::new`].
    pub fn split(feature: usize, threshold: f32, default_left: bool, left: usize) -> Node {
        let flag = if default_left { DEFAULT_LEFT } else { 0 };
        Node { threshold, bits: (feature as u32 & FEATURE) | flag, left: left as u32, value: 0.0 }
    }

    /// A leaf adding `value` to the margin.
    pub fn leaf(value: f32) -> Node {
        Node { threshold: f32::NEG_INFINITY, bits: LEAF, left: 0, value }
    }

    /// Whether this is a leaf.
    pub fn is_leaf(&self) -> bool {
        self.bits & LEAF != 0
    }

    /// The split feature (`None` for a leaf).
    pub fn feature(&self) -> Option<usize> {
        (!self.is_leaf()).then_some((self.bits & FEATURE) as usize)
    }

    /// The split threshold: `x < threshold` goes left (`None` for a leaf).
    pub fn threshold(&self) -> Option<f32> {
        (!self.is_leaf()).then_some(self.threshold)
    }

    /// Whether a missing value goes left.
    pub fn default_left(&self) -> bool {
        self.bits & DEFAULT_LEFT != 0
    }

    /// The left and right children (`None` for a leaf).
    pub fn children(&self) -> Option<(usize, usize)> {
        (!self.is_leaf()).then_some((self.left as usize, self.left as usize + 1))
    }

    /// A leaf's value, or a split's expectation (cover-weighted mean of its leaves).
    pub fn value(&self) -> f32 {
        self.value
    }

    /// The child `x` goes to (for a split).
    fn next(&self, x: &[f32]) -> usize {
        let v = x.get((self.bits & FEATURE) as usize).copied().unwrap_or(f32::NAN);
        let left = (v < self.threshold) | (v.is_nan() & self.default_left());
        self.left as usize + usize::from(!left)
    }

    /// The scoring form of node `i` (see the module documentation).
    fn step(&self, i: usize) -> Step {
        if self.is_leaf() {
            Step::leaf(i as u32, self.value)
        } else {
            let slot = (self.bits & FEATURE) | if self.default_left() { SLOT_LEFT } else { 0 };
            Step { key: self.threshold, slot, base: self.left, value: self.value }
        }
    }
}

/// In a slot, the flag "missing values go left" (they read as `-inf`).
pub(crate) const SLOT_LEFT: u32 = 1 << 31;

/// A row as scoring reads it: the value in a slot (a feature, and where missing values go),
/// with a missing value already turned into `-inf` or `+inf`.
pub(crate) trait Row {
    fn at(&self, slot: u32) -> f32;
}

/// A row as given: slots are `feature | SLOT_LEFT?`, a value past the end is missing.
impl Row for [f32] {
    #[inline(always)]
    fn at(&self, slot: u32) -> f32 {
        let v = self.get((slot & FEATURE) as usize).copied().unwrap_or(f32::NAN);
        if !v.is_nan() {
            v
        } else if slot & SLOT_LEFT != 0 {
            f32::NEG_INFINITY
        } else {
            f32::INFINITY
        }
    }
}

/// A row prepared by the forest: `N / 2` values with NaN read as `+inf`, then the same with NaN
/// read as `-inf`; slots are `feature + (N / 2 if missing values go left)`. The masked index
/// needs no bounds check.
impl<const N: usize> Row for [f32; N] {
    #[inline(always)]
    fn at(&self, slot: u32) -> f32 {
        self[slot as usize & (N - 1)]
    }
}

/// A node as scoring walks it: the next node is `base + (row.at(slot) >= key)` (never NaN).
#[derive(Debug, Clone, Copy, PartialEq)]
#[repr(C, align(16))]
pub(crate) struct Step {
    key: f32,
    slot: u32,
    base: u32,
    pub(crate) value: f32,
}

impl Step {
    #[inline(always)]
    pub(crate) fn next<R: Row + ?Sized>(&self, x: &R) -> u32 {
        self.base.wrapping_add(u32::from(x.at(self.slot) >= self.key))
    }

    /// A leaf at `index` adding `value`: `v >= -inf` holds for every `v` a row reads (NaN is
    /// never read), so it leads "right", to itself.
    pub(crate) fn leaf(index: u32, value: f32) -> Step {
        Step { key: f32::NEG_INFINITY, slot: 0, base: index.wrapping_sub(1), value }
    }

    /// The same node for a forest: child indices moved by `offset` (a leaf still points to
    /// itself), and the slot in the prepared row of `half` values per side (or kept as is
    /// when `half` is 0).
    pub(crate) fn compiled(self, offset: u32, half: u32) -> Step {
        let slot = if half == 0 || self.slot & SLOT_LEFT == 0 { self.slot } else { (self.slot & FEATURE) + half };
        Step { base: self.base.wrapping_add(offset), slot, ..self }
    }

    /// The feature read (0 for a leaf).
    pub(crate) fn feature(&self) -> u32 {
        self.slot & FEATURE
    }
}

/// A regression tree: nodes (root first, children after their parent), and per node its cover
/// (sum of training hessians reaching it) and its split gain (0 for leaves).
#[derive(Debug, Clone, PartialEq)]
pub struct Tree {
    nodes: Vec<Node>,
    steps: Vec<Step>,
    cover: Vec<f32>,
    gain: Vec<f32>,
    depth: u32,
}

impl Tree {
    /// A checked tree. Every split's children must come after it and be reached from exactly
    /// one parent; values, thresholds and gains must be finite (thresholds may be `+inf`),
    /// covers finite and positive. Split values are recomputed as the cover-weighted means of
    /// their children.
    pub fn new(mut nodes: Vec<Node>, cover: Vec<f32>, gain: Vec<f32>) -> Result<Tree, ModelError> {
        let n = nodes.len();
        if n == 0 || n >= (u32::MAX / 2) as usize {
            return err(format!("a tree of {n} nodes"));
        }
        if cover.len() != n || gain.len() != n {
            return err(format!("{n} nodes with {} covers and {} gains", cover.len(), gain.len()));
        }
        let mut parents = vec![0u8; n];
        let mut depth = vec![0u32; n];
        for i in 0..n {
            if !(cover[i].is_finite() && cover[i] > 0.0 && gain[i].is_finite()) {
                return err(format!("node {i} has cover {} and gain {}", cover[i], gain[i]));
            }
            let node = &mut nodes[i];
            if node.is_leaf() {
                if !node.value.is_finite() {
                    return err(format!("leaf {i} has value {}", node.value));
                }
                *node = Node::leaf(node.value);
                continue;
            }
            let l = node.left as usize;
            if l <= i || l + 1 >= n {
                return err(format!("node {i} has children {l} and {} in a tree of {n} nodes", l + 1));
            }
            if node.threshold.is_nan() || node.threshold == f32::NEG_INFINITY {
                return err(format!("node {i} has threshold {}", node.threshold));
            }
            for c in [l, l + 1] {
                parents[c] += 1;
                depth[c] = depth[i] + 1;
                if parents[c] > 1 {
                    return err(format!("node {c} has two parents"));
                }
                if depth[c] as usize > MAX_DEPTH {
                    return err(format!("the tree is deeper than {MAX_DEPTH}"));
                }
            }
        }
        if let Some(orphan) = (1..n).find(|&i| parents[i] == 0) {
            return err(format!("node {orphan} is not reachable from the root"));
        }
        for i in (0..n).rev() {
            if let Some((l, r)) = nodes[i].children() {
                let (cl, cr) = (f64::from(cover[l]), f64::from(cover[r]));
                let mean = (cl * f64::from(nodes[l].value) + cr * f64::from(nodes[r].value)) / (cl + cr);
                nodes[i].value = mean as f32;
            }
        }
        let depth = depth.into_iter().max().unwrap_or(0);
        let steps = nodes.iter().enumerate().map(|(i, n)| n.step(i)).collect();
        Ok(Tree { nodes, steps, cover, gain, depth })
    }

    /// The nodes, root first.
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// Per node, the sum of training hessians that reached it.
    pub fn cover(&self) -> &[f32] {
        &self.cover
    }

    /// Per node, the loss reduction of its split (0 for leaves).
    pub fn gain(&self) -> &[f32] {
        &self.gain
    }

    /// The longest root-to-leaf path (0 for a single leaf).
    pub fn depth(&self) -> usize {
        self.depth as usize
    }

    /// The index of the leaf `x` reaches. A feature index beyond `x` reads as missing.
    #[inline]
    pub fn leaf_index(&self, x: &[f32]) -> usize {
        let steps = self.steps.as_slice();
        let mut i = 0;
        for _ in 0..self.depth {
            i = steps[i].next(x) as usize;
        }
        i
    }

    /// The scoring form of the nodes.
    pub(crate) fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// The value of the leaf `x` reaches.
    #[inline]
    pub fn predict(&self, x: &[f32]) -> f32 {
        self.steps[self.leaf_index(x)].value
    }

    /// Path attribution (Saabas): along the path of `x`, each split's change of expectation
    /// goes to its feature. Returns the root's expectation; `root + sum(out) = predict(x)`.
    pub(crate) fn add_path_contributions(&self, x: &[f32], out: &mut [f64]) -> f64 {
        let mut i = 0;
        while let Some(f) = self.nodes[i].feature() {
            let next = self.nodes[i].next(x);
            if let Some(slot) = out.get_mut(f) {
                *slot += f64::from(self.nodes[next].value) - f64::from(self.nodes[i].value);
            }
            i = next;
        }
        f64::from(self.nodes[0].value)
    }

    /// Path-dependent TreeSHAP (Lundberg et al. 2018, algorithm 2): exact Shapley values of
    /// the tree's output where an absent feature averages over both children by cover. Returns
    /// the root's expectation; `root + sum(out) = predict(x)`.
    pub(crate) fn add_shap_values(&self, x: &[f32], out: &mut [f64], path: &mut Vec<PathElement>) -> f64 {
        let d = self.depth as usize + 2;
        path.clear();
        path.resize(d * (d + 1) / 2 + 1, PathElement::default());
        self.shap_recurse(x, out, path, 0, 0, 0, 1.0, 1.0, -1);
        f64::from(self.nodes[0].value)
    }

    #[allow(clippy::too_many_arguments)]
    fn shap_recurse(
        &self,
        x: &[f32],
        out: &mut [f64],
        path: &mut [PathElement],
        node: usize,
        parent_start: usize,
        mut depth: usize,
        zero: f64,
        one: f64,
        feature: i64,
    ) {
        let start = parent_start + depth + 1;
        path.copy_within(parent_start..parent_start + depth + 1, start);
        let p = &mut path[start..];
        extend_path(p, depth, zero, one, feature);
        let n = self.nodes[node];
        let Some(split) = n.feature() else {
            for i in 1..=depth {
                let w = unwound_path_sum(p, depth, i);
                let e = p[i];
                if let Some(slot) = out.get_mut(e.feature as usize) {
                    *slot += w * (e.one - e.zero) * f64::from(n.value);
                }
            }
            return;
        };
        let hot = n.next(x);
        let cold = if hot == n.left as usize { hot + 1 } else { hot - 1 };
        // The children's covers, not the node's: the fractions then add up to 1 exactly, as
        // the expectations of `Tree::new` are weighted.
        let (ch, cc) = (f64::from(self.cover[hot]), f64::from(self.cover[cold]));
        let (hot_zero, cold_zero) = (ch / (ch + cc), cc / (ch + cc));
        let (mut in_zero, mut in_one) = (1.0, 1.0);
        if let Some(k) = (0..=depth).find(|&k| p[k].feature == split as i64) {
            in_zero = p[k].zero;
            in_one = p[k].one;
            unwind_path(p, depth, k);
            depth -= 1;
        }
        self.shap_recurse(x, out, path, hot, start, depth + 1, hot_zero * in_zero, in_one, split as i64);
        self.shap_recurse(x, out, path, cold, start, depth + 1, cold_zero * in_zero, 0.0, split as i64);
    }
}

/// One feature on the TreeSHAP path: the fraction of cover and of `x`'s paths flowing through
/// it, and the permutation weight.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct PathElement {
    feature: i64,
    zero: f64,
    one: f64,
    weight: f64,
}

fn extend_path(p: &mut [PathElement], depth: usize, zero: f64, one: f64, feature: i64) {
    p[depth] = PathElement { feature, zero, one, weight: if depth == 0 { 1.0 } else { 0.0 } };
    let d1 = (depth + 1) as f64;
    for i in (0..depth).rev() {
        p[i + 1].weight += one * p[i].weight * (i + 1) as f64 / d1;
        p[i].weight = zero * p[i].weight * (depth - i) as f64 / d1;
    }
}

fn unwind_path(p: &mut [PathElement], depth: usize, index: usize) {
    let (one, zero) = (p[index].one, p[index].zero);
    let d1 = (depth + 1) as f64;
    let mut next_one = p[depth].weight;
    for i in (0..depth).rev() {
        if one != 0.0 {
            let tmp = p[i].weight;
            p[i].weight = next_one * d1 / ((i + 1) as f64 * one);
            next_one = tmp - p[i].weight * zero * (depth - i) as f64 / d1;
        } else {
            p[i].weight = p[i].weight * d1 / (zero * (depth - i) as f64);
        }
    }
    for i in index..depth {
        p[i] = PathElement { weight: p[i].weight, ..p[i + 1] };
    }
}

fn unwound_path_sum(p: &[PathElement], depth: usize, index: usize) -> f64 {
    let (one, zero) = (p[index].one, p[index].zero);
    let d1 = (depth + 1) as f64;
    let mut next_one = p[depth].weight;
    let mut total = 0.0;
    for i in (0..depth).rev() {
        if one != 0.0 {
            let tmp = next_one * d1 / ((i + 1) as f64 * one);
            total += tmp;
            next_one = p[i].weight - tmp * zero * (depth - i) as f64 / d1;
        } else if zero != 0.0 {
            total += p[i].weight / zero / ((depth - i) as f64 / d1);
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    /// x0 < 1 ? (x1 < 5 ? 1 : 2) : 3, missing x0 goes right, missing x1 goes left.
    pub(crate) fn small() -> Tree {
        let nodes = vec![
            Node::split(0, 1.0, false, 1),
            Node::split(1, 5.0, true, 3),
            Node::leaf(3.0),
            Node::leaf(1.0),
            Node::leaf(2.0),
        ];
        Tree::new(nodes, vec![10.0, 6.0, 4.0, 3.0, 3.0], vec![5.0, 1.0, 0.0, 0.0, 0.0]).unwrap()
    }

    #[test]
    fn routes_rows_and_missing_values() {
        let t = small();
        assert_eq!(t.depth(), 2);
        assert_eq!(t.predict(&[0.0, 0.0]), 1.0);
        assert_eq!(t.predict(&[0.0, 5.0]), 2.0);
        assert_eq!(t.predict(&[1.0, 0.0]), 3.0);
        assert_eq!(t.predict(&[f32::NAN, 0.0]), 3.0);
        assert_eq!(t.predict(&[0.0, f32::NAN]), 1.0);
        assert_eq!(t.predict(&[0.0]), 1.0, "a short row reads missing");
        assert_eq!(t.predict(&[]), 3.0);
        assert_eq!(t.predict(&[f32::NEG_INFINITY, f32::INFINITY]), 2.0);
        // Expectations: (3*1 + 3*2) / 6 = 1.5, then (6*1.5 + 4*3) / 10 = 2.1.
        assert_eq!(t.nodes()[1].value(), 1.5);
        assert!((t.nodes()[0].value() - 2.1).abs() < 1e-6);
    }

    #[test]
    fn malformed_trees_are_refused() {
        let leaf = || Node::leaf(0.0);
        let one = |v: usize| vec![1.0; v];
        assert!(Tree::new(vec![], vec![], vec![]).is_err());
        assert!(Tree::new(vec![leaf()], one(1), one(1)).is_ok());
        assert!(Tree::new(vec![Node::split(0, 1.0, false, 0), leaf()], one(2), one(2)).is_err());
        assert!(Tree::new(vec![Node::split(0, 1.0, false, 1), leaf()], one(2), one(2)).is_err());
        assert!(Tree::new(vec![Node::split(0, f32::NAN, false, 1), leaf(), leaf()], one(3), one(3)).is_err());
        assert!(Tree::new(vec![leaf(), leaf()], one(2), one(2)).unwrap_err().0.contains("reachable"));
        assert!(Tree::new(vec![Node::leaf(f32::NAN)], one(1), one(1)).is_err());
        assert!(Tree::new(vec![leaf()], vec![0.0], one(1)).is_err());
        let shared = vec![Node::split(0, 1.0, false, 1), Node::split(0, 0.0, false, 1), leaf()];
        assert!(Tree::new(shared, one(3), one(3)).is_err());
    }

    #[test]
    fn attributions_sum_to_the_prediction() {
        let t = small();
        for x in [[0.0, 0.0], [0.0, 9.0], [4.0, 0.0], [f32::NAN, f32::NAN]] {
            let mut saabas = [0.0; 2];
            let mut shap = [0.0; 2];
            let b1 = t.add_path_contributions(&x, &mut saabas);
            let b2 = t.add_shap_values(&x, &mut shap, &mut Vec::new());
            let want = f64::from(t.predict(&x));
            assert!((b1 + saabas.iter().sum::<f64>() - want).abs() < 1e-6);
            assert!((b2 + shap.iter().sum::<f64>() - want).abs() < 1e-6, "{x:?} {shap:?}");
        }
    }
}
