//! The trees of a model compiled for scoring: every tree's scoring nodes in one array (padded
//! to a power of two, so a masked index needs no bounds check), walked sixteen trees at a time
//! over a prepared copy of the row (see [`Row`]: missing values already read as `-inf` or
//! `+inf`, and no bounds checks). The walks of different trees are independent chains of
//! loads; interleaving them lets the processor overlap them instead of finishing one tree's
//! dependent steps before starting the next. Leaf values are still added in tree order, so the
//! margin is the same, bit for bit, as adding each tree's prediction in turn.

use crate::ModelError;
use crate::tree::{Row, Step, Tree};
use std::ops::Deref;

/// The trees of a model, in order, with their compiled form. Reads as a slice of [`Tree`]
/// (through `Deref`); changes go through [`Trees::new`] and [`Trees::truncate`], which keep
/// the compiled form in step.
#[derive(Clone, Default)]
pub struct Trees {
    trees: Vec<Tree>,
    forest: Forest,
}

impl Trees {
    /// The trees, compiled for scoring (at most 2^30 nodes in all).
    pub fn new(trees: Vec<Tree>) -> Result<Trees, ModelError> {
        let nodes: usize = trees.iter().map(|t| t.nodes().len()).sum();
        if nodes > 1 << 30 {
            return Err(ModelError(format!("{nodes} nodes are too many for one model")));
        }
        let forest = Forest::new(&trees);
        Ok(Trees { trees, forest })
    }

    /// Keeps the first `n` trees.
    pub fn truncate(&mut self, n: usize) {
        if n < self.trees.len() {
            self.trees.truncate(n);
            self.forest = Forest::new(&self.trees);
        }
    }

    /// The trees, taken out.
    pub fn into_vec(self) -> Vec<Tree> {
        self.trees
    }

    pub(crate) fn forest(&self) -> &Forest {
        &self.forest
    }
}

impl Deref for Trees {
    type Target = [Tree];
    fn deref(&self) -> &[Tree] {
        &self.trees
    }
}

impl<'a> IntoIterator for &'a Trees {
    type Item = &'a Tree;
    type IntoIter = std::slice::Iter<'a, Tree>;
    fn into_iter(self) -> Self::IntoIter {
        self.trees.iter()
    }
}

/// Equal when the trees are (the compiled form follows from them).
impl PartialEq for Trees {
    fn eq(&self, other: &Trees) -> bool {
        self.trees == other.trees
    }
}

/// The trees (the compiled form is left out).
impl std::fmt::Debug for Trees {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(&self.trees).finish()
    }
}

/// Trees walked side by side (16 measured fastest; 8 and 32 are both slower).
const LANES: usize = 16;

/// A compiled ensemble.
#[derive(Debug, Clone, Default)]
pub(crate) struct Forest {
    /// All trees' scoring nodes, with absolute child indices; length a power of two.
    steps: Vec<Step>,
    /// Each tree's root.
    roots: Vec<u32>,
    /// Each tree's depth.
    depths: Vec<u32>,
    /// Per group of `LANES` trees, the deepest of them.
    group_depths: Vec<u32>,
    /// Values per side of the prepared row (a power of two above every feature read), or 0
    /// to read the row as given (models reading features beyond 256).
    half: usize,
}

impl Forest {
    pub fn new(trees: &[Tree]) -> Forest {
        let mut steps = Vec::new();
        let (mut roots, mut depths) = (Vec::new(), Vec::new());
        let span = trees.iter().flat_map(|t| t.steps()).map(|s| s.feature() as usize + 1).max().unwrap_or(1);
        let half = match span {
            0..=32 => 32,
            33..=256 => 256,
            _ => 0,
        };
        for t in trees {
            let offset = steps.len() as u32;
            roots.push(offset);
            depths.push(t.depth() as u32);
            steps.extend(t.steps().iter().map(|s| s.compiled(offset, half as u32)));
        }
        let padded = steps.len().max(1).next_power_of_two();
        while steps.len() < padded {
            steps.push(Step::leaf(steps.len() as u32, 0.0));
        }
        let group_depths = depths.chunks(LANES).map(|c| c.iter().copied().max().unwrap_or(0)).collect();
        Forest { steps, roots, depths, group_depths, half }
    }

    /// `init` plus every tree's leaf for `x`.
    #[inline]
    pub fn add(&self, x: &[f32], init: f32) -> f32 {
        match self.half {
            32 => self.walk(&prepare::<64>(x), init),
            256 => self.walk(&prepare::<512>(x), init),
            _ => self.walk(x, init),
        }
    }

    #[inline(always)]
    fn walk<R: Row + ?Sized>(&self, x: &R, init: f32) -> f32 {
        let mask = self.steps.len() - 1;
        let steps = &self.steps[..mask + 1];
        let mut m = init;
        let groups = self.roots.chunks_exact(LANES);
        let rest = groups.remainder();
        for (roots, &depth) in groups.zip(&self.group_depths) {
            let mut at = [0u32; LANES];
            at.copy_from_slice(roots);
            for _ in 0..depth {
                for i in &mut at {
                    *i = steps[*i as usize & mask].next(x);
                }
            }
            for &i in &at {
                m += steps[i as usize & mask].value;
            }
        }
        let first = self.roots.len() - rest.len();
        for (&root, &depth) in rest.iter().zip(&self.depths[first..]) {
            let mut i = root;
            for _ in 0..depth {
                i = steps[i as usize & mask].next(x);
            }
            m += steps[i as usize & mask].value;
        }
        m
    }
}

/// The prepared row: `x` with missing values (NaN, or past its end) as `+inf` in the first
/// half of `N` values, and as `-inf` in the second.
#[inline(always)]
fn prepare<const N: usize>(x: &[f32]) -> [f32; N] {
    let mut buf = [f32::INFINITY; N];
    let half = N / 2;
    buf[half..].fill(f32::NEG_INFINITY);
    for (i, &v) in x.iter().take(half).enumerate() {
        if !v.is_nan() {
            buf[i] = v;
            buf[half + i] = v;
        }
    }
    buf
}
