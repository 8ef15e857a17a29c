//! Property tests: scoring never panics and agrees, bit for bit, with a plain reading of the
//! trees (`x < threshold` goes left, NaN goes the learned way) on arbitrary rows — NaN,
//! infinities, subnormals, rows too short or too long — for models reading up to 32, up to 256
//! and more than 256 features (the three ways rows are read); explanations add up to the
//! margin; and a damaged file never makes loading panic.

mod common;

use model::{Gbdt, Node, Params, Rng, Tree, train};
use proptest::prelude::*;
use std::sync::OnceLock;

/// A random tree over `features` features, up to `depth` deep, with thresholds that include
/// `+inf` and values that collide with the inputs.
fn random_tree(rng: &mut Rng, features: usize, depth: usize) -> Tree {
    let thresholds = [-1.0, -0.0, 0.0, 0.25, 0.5, 1.0, 1e30, f32::MIN, f32::MAX, f32::INFINITY];
    let mut nodes = vec![Node::leaf(0.0)];
    let mut todo = vec![(0usize, depth)];
    while let Some((i, d)) = todo.pop() {
        if d == 0 || rng.below(5) == 0 {
            nodes[i] = Node::leaf((rng.next_f64() as f32 - 0.5) * 2.0);
        } else {
            let l = nodes.len();
            nodes.extend([Node::leaf(0.0), Node::leaf(0.0)]);
            let t = thresholds[rng.below(thresholds.len())];
            nodes[i] = Node::split(rng.below(features), t, rng.below(2) == 0, l);
            todo.extend([(l, d - 1), (l + 1, d - 1)]);
        }
    }
    let n = nodes.len();
    let cover = (0..n).map(|_| 0.5 + rng.next_f64() as f32).collect();
    Tree::new(nodes, cover, vec![0.0; n]).expect("a well-formed random tree")
}

fn random_model(features: usize, trees: usize, seed: u64) -> Gbdt {
    let mut rng = Rng::new(seed);
    let t = (0..trees)
        .map(|_| {
            let depth = 1 + rng.below(7);
            random_tree(&mut rng, features, depth)
        })
        .collect();
    Gbdt::new((0..features).map(|i| format!("f{i}")).collect(), 0.25, t).unwrap()
}

/// The margin by the plain reading of the public nodes, one tree after another.
fn reference(m: &Gbdt, x: &[f32]) -> f32 {
    let mut sum = m.base_margin;
    for t in &m.trees {
        let mut i = 0;
        while let Some(f) = t.nodes()[i].feature() {
            let n = t.nodes()[i];
            let v = x.get(f).copied().unwrap_or(f32::NAN);
            let left = if v.is_nan() { n.default_left() } else { v < n.threshold().unwrap() };
            let (l, r) = n.children().unwrap();
            i = if left { l } else { r };
        }
        sum += t.nodes()[i].value();
    }
    sum
}

fn models() -> &'static [Gbdt] {
    static MODELS: OnceLock<Vec<Gbdt>> = OnceLock::new();
    MODELS.get_or_init(|| {
        // 35 trees: two groups of 16 walked side by side and 3 walked alone.
        let mut v = vec![random_model(3, 35, 1), random_model(40, 35, 2), random_model(300, 35, 3)];
        let (mut d, _) = common::uniform(500, 4, 0.05, 4, |x| x[0] > 0.5 || x[3] < 0.1);
        for r in (0..d.rows).step_by(6) {
            d.values[r * 4 + (r % 4)] = f32::NAN;
        }
        v.push(train(&d, &Params { trees: 30, max_depth: 5, ..Params::default() }).unwrap());
        v
    })
}

fn value() -> impl Strategy<Value = f32> {
    prop_oneof![
        4 => -2.0f32..2.0,
        1 => Just(f32::NAN),
        1 => Just(f32::INFINITY),
        1 => Just(f32::NEG_INFINITY),
        1 => Just(0.0f32),
        1 => Just(-0.0f32),
        1 => Just(0.5f32),
        1 => Just(f32::MAX),
        1 => Just(f32::MIN_POSITIVE / 4.0),
        1 => any::<f32>(),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 200, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn scoring_agrees_with_the_plain_reading(which in 0usize..4, row in prop::collection::vec(value(), 0..320)) {
        let m = &models()[which];
        let margin = m.margin(&row);
        prop_assert_eq!(margin.to_bits(), reference(m, &row).to_bits());
        prop_assert!(margin.is_finite());
        let p = m.probability(&row);
        prop_assert!((0.0..=1.0).contains(&p));
        // A short row is the row padded with NaN; a long one is the row cut to the features.
        let n = m.features.len();
        let mut fitted = row.clone();
        fitted.resize(n, f32::NAN);
        prop_assert_eq!(margin.to_bits(), m.margin(&fitted).to_bits());
        for t in &m.trees {
            prop_assert_eq!(t.predict(&row).to_bits(), t.nodes()[t.leaf_index(&row)].value().to_bits());
        }
    }

    #[test]
    fn explanations_add_up(which in 0usize..4, row in prop::collection::vec(value(), 0..320)) {
        let m = &models()[which];
        let margin = m.margin(&row);
        for c in [m.contributions(&row), m.shap_values(&row)] {
            prop_assert_eq!(c.len(), m.features.len() + 1);
            let sum: f64 = c.iter().map(|&v| f64::from(v)).sum();
            prop_assert!((sum - f64::from(margin)).abs() < 1e-3 * (1.0 + f64::from(margin).abs()), "{} vs {}", sum, margin);
        }
    }

    #[test]
    fn loading_never_panics(edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..4), reseal in any::<bool>(), cut in any::<prop::sample::Index>()) {
        let mut b = models()[3].to_bytes();
        for (at, v) in edits {
            let i = at.index(b.len() - 8);
            b[i] = v;
        }
        if reseal {
            let n = b.len() - 8;
            let sum = xxhash_rust::xxh3::xxh3_64(&b[..n]);
            b[n..].copy_from_slice(&sum.to_le_bytes());
        }
        if let Ok(m) = Gbdt::from_bytes(&b) {
            // Whatever loads scores without panicking.
            let _ = m.margin(&[0.5, f32::NAN, 0.1, 0.9]);
            let _ = m.shap_values(&[0.5, f32::NAN]);
        }
        let _ = Gbdt::from_bytes(&b[..cut.index(b.len())]);
    }
}
