//! Training behaviour: learning a known rule, missing values, determinism, weights, and the
//! explanations (path attribution and TreeSHAP) adding up to the margin.

mod common;

use common::{margins, uniform};
use model::{Dataset, Gbdt, Params, roc_auc, train};

fn rule(x: &[f32]) -> bool {
    x[0] > 0.5 && x[1] < 0.3
}

fn small() -> Params {
    Params { trees: 60, max_depth: 4, learning_rate: 0.2, ..Params::default() }
}

#[test]
fn learns_an_interaction_through_label_noise() {
    let (fit, _) = uniform(3000, 5, 0.05, 1, rule);
    let (test, clean) = uniform(2000, 5, 0.05, 2, rule);
    let model = train(&fit, &small()).unwrap();
    let m = margins(&model, &test);
    // Against the noisy labels the best possible AUC is about 0.88; against the rule, 1.
    let noisy = roc_auc(&m, &test.labels).unwrap();
    let exact = roc_auc(&m, &clean).unwrap();
    assert!(noisy > 0.85, "AUC against noisy labels {noisy}");
    assert!(exact > 0.98, "AUC against the rule {exact}");
    assert!(model.probability(&[0.9, 0.1, 0.5, 0.5, 0.5]) > 0.7);
    assert!(model.probability(&[0.1, 0.1, 0.5, 0.5, 0.5]) < 0.2);
    // The two features of the rule carry most of the gain (the rest is fitted noise).
    let imp = model.importance();
    let noise = imp[2..].iter().copied().fold(0.0, f64::max);
    assert!(imp[0] > 5.0 * noise && imp[1] > 5.0 * noise, "{imp:?}");
    assert!(model.meta.contains("3000 rows") && model.meta.contains("trees=60"), "{}", model.meta);
}

#[test]
fn missing_values_learn_their_own_direction() {
    // A missing x0 means fraud; otherwise x1 > 0.8 does.
    let (mut d, _) = uniform(2000, 3, 0.0, 3, |x| x[1] > 0.8);
    for r in 0..d.rows {
        if r % 7 == 0 {
            d.values[r * 3] = f32::NAN;
            d.labels[r] = true;
        }
    }
    let model = train(&d, &small()).unwrap();
    let missing = model.probability(&[f32::NAN, 0.2, 0.5]);
    let present = model.probability(&[0.5, 0.2, 0.5]);
    assert!(missing > 0.9 && present < 0.1, "missing {missing}, present {present}");
    // A short row reads as missing at the end, so a row without x0..x2 at all is "missing x0".
    assert_eq!(model.margin(&[]), model.margin(&[f32::NAN, f32::NAN, f32::NAN]));
    // Missing x1 was never seen: it follows the heavier side of each split on x1 (x1 <= 0.8).
    assert!(model.probability(&[0.5, f32::NAN, 0.5]) < 0.1);
    let s = model.trees.iter().flat_map(|t| t.nodes()).filter(|n| n.feature() == Some(0)).count();
    assert!(s > 0, "x0 is used");
}

#[test]
fn training_is_deterministic_and_the_seed_matters_only_with_subsampling() {
    let (d, _) = uniform(800, 4, 0.1, 4, rule);
    let sub = Params { trees: 20, max_depth: 3, subsample: 0.7, colsample: 0.75, seed: 1, ..Params::default() };
    let a = train(&d, &sub).unwrap().to_bytes();
    assert_eq!(a, train(&d, &sub).unwrap().to_bytes());
    let b = train(&d, &Params { seed: 2, ..sub.clone() }).unwrap();
    let a = Gbdt::from_bytes(&a).unwrap();
    assert_ne!(a.trees, b.trees);
    let full = Params { trees: 20, max_depth: 3, seed: 1, ..Params::default() };
    assert_eq!(train(&d, &full).unwrap().trees, train(&d, &Params { seed: 99, ..full }).unwrap().trees);
}

#[test]
fn a_weight_of_two_is_close_to_a_duplicated_row() {
    let (mut d, _) = uniform(400, 3, 0.1, 5, rule);
    // On a grid of 64 values every distinct value gets its own bin, whatever the counts.
    d.values.iter_mut().for_each(|v| *v = (*v * 64.0).floor() / 64.0);
    let twice: Vec<usize> = (0..d.rows).chain(0..100).collect();
    let dup = d.subset(&twice);
    let w: Vec<f32> = (0..d.rows).map(|r| if r < 100 { 2.0 } else { 1.0 }).collect();
    let weighted = d.clone().with_weights(w).unwrap();
    let p = Params { trees: 10, max_depth: 3, ..Params::default() };
    // Sums are taken in another order, so scores agree up to rounding.
    let (a, b) = (train(&dup, &p).unwrap(), train(&weighted, &p).unwrap());
    let (ma, mb) = (margins(&a, &d), margins(&b, &d));
    let worst = ma.iter().zip(&mb).map(|(x, y)| (x - y).abs()).fold(0.0, f32::max);
    assert!(worst < 1e-4, "scores differ by up to {worst}");
    assert_eq!(a.base_margin, b.base_margin);
}

#[test]
fn scale_pos_weight_raises_the_base_margin() {
    let (d, _) = uniform(500, 2, 0.0, 6, rule);
    let plain = train(&d, &Params { trees: 1, ..Params::default() }).unwrap();
    let heavy = train(&d, &Params { trees: 1, scale_pos_weight: Some(5.0), ..Params::default() }).unwrap();
    let pos = d.positives() as f32;
    let neg = d.rows as f32 - pos;
    assert!((plain.base_margin - (pos / neg).ln()).abs() < 1e-5);
    assert!((heavy.base_margin - (5.0 * pos / neg).ln()).abs() < 1e-5);
}

#[test]
fn contributions_and_shap_values_add_up_to_the_margin() {
    let (d, _) = uniform(1500, 4, 0.05, 7, rule);
    let model = train(&d, &Params { trees: 40, max_depth: 5, ..Params::default() }).unwrap();
    let (test, _) = uniform(200, 4, 0.0, 8, rule);
    for r in 0..test.rows {
        let mut x = test.row(r).to_vec();
        if r % 5 == 0 {
            x[r % 4] = f32::NAN;
        }
        let m = model.margin(&x);
        for c in [model.contributions(&x), model.shap_values(&x)] {
            assert_eq!(c.len(), 5);
            let sum: f32 = c.iter().sum();
            assert!((sum - m).abs() < 1e-4 * (1.0 + m.abs()), "row {r}: {sum} vs {m}");
        }
        // Both share the bias: the base margin plus the trees' expectations.
        assert_eq!(model.contributions(&x)[4], model.shap_values(&x)[4]);
    }
    // The features of the rule explain a clear case; the others get much less.
    let c = model.shap_values(&[0.9, 0.1, 0.5, 0.5]);
    assert!(c[0].min(c[1]) > 2.0 * c[2].abs().max(c[3].abs()), "{c:?}");
}

/// The margin's expectation given the features in `set` (a bit mask), the others averaged
/// over both children by cover: the value function TreeSHAP's Shapley values are taken of.
fn conditional(model: &Gbdt, x: &[f32], set: u32) -> f64 {
    fn node(t: &model::Tree, i: usize, x: &[f32], set: u32) -> f64 {
        let n = t.nodes()[i];
        let Some(f) = n.feature() else { return f64::from(n.value()) };
        let (l, r) = n.children().unwrap();
        if set & (1 << f) != 0 {
            let v = x[f];
            let left = if v.is_nan() { n.default_left() } else { v < n.threshold().unwrap() };
            node(t, if left { l } else { r }, x, set)
        } else {
            let (cl, cr) = (f64::from(t.cover()[l]), f64::from(t.cover()[r]));
            (cl * node(t, l, x, set) + cr * node(t, r, x, set)) / (cl + cr)
        }
    }
    f64::from(model.base_margin) + model.trees.iter().map(|t| node(t, 0, x, set)).sum::<f64>()
}

#[test]
fn shap_values_are_the_exact_shapley_values() {
    let (d, _) = uniform(600, 4, 0.1, 9, |x| x[0] + x[1] * x[2] > 0.6);
    let model = train(&d, &Params { trees: 8, max_depth: 4, learning_rate: 0.3, ..Params::default() }).unwrap();
    let m = 4u32;
    let fact = |k: u32| (1..=k).map(f64::from).product::<f64>();
    for x in [[0.2f32, 0.7, 0.9, 0.1], [0.8, f32::NAN, 0.3, 0.6], [0.5, 0.5, 0.5, 0.5]] {
        let shap = model.shap_values(&x);
        for i in 0..m {
            let mut phi = 0.0;
            for set in 0..(1u32 << m) {
                if set & (1 << i) != 0 {
                    continue;
                }
                let s = set.count_ones();
                let w = fact(s) * fact(m - s - 1) / fact(m);
                phi += w * (conditional(&model, &x, set | (1 << i)) - conditional(&model, &x, set));
            }
            assert!(
                (phi - f64::from(shap[i as usize])).abs() < 1e-5,
                "x {x:?} feature {i}: {phi} vs {}",
                shap[i as usize]
            );
        }
        assert!((conditional(&model, &x, 0) - f64::from(shap[4])).abs() < 1e-5);
    }
}

#[test]
fn truncating_keeps_the_first_trees() {
    let (d, _) = uniform(300, 2, 0.0, 10, rule);
    let model = train(&d, &Params { trees: 12, max_depth: 2, ..Params::default() }).unwrap();
    let mut short = model.clone();
    short.truncate(5);
    assert_eq!(&short.trees[..], &model.trees[..5]);
    let x = [0.7, 0.2];
    let by_hand = model.trees[..5].iter().fold(model.base_margin, |m, t| m + t.predict(&x));
    assert_eq!(short.margin(&x), by_hand);
    assert_eq!(Gbdt::from_bytes(&short.to_bytes()).unwrap(), short);
}

#[test]
fn data_with_other_features_is_refused() {
    let (d, _) = uniform(100, 2, 0.0, 11, rule);
    let model = train(&d, &Params { trees: 2, ..Params::default() }).unwrap();
    let other = Dataset::new(vec!["x1".into(), "x0".into()], d.values.clone(), d.labels.clone()).unwrap();
    assert!(model.margins(&other).unwrap_err().to_string().contains("not the model's"));
    assert_eq!(model.probabilities(&d).unwrap().len(), 100);
}

#[test]
fn early_stopping_keeps_the_best_round() {
    let (fit, _) = uniform(1500, 4, 0.15, 12, rule);
    let (valid, _) = uniform(1000, 4, 0.15, 13, rule);
    let p = Params { trees: 150, max_depth: 6, learning_rate: 0.3, ..Params::default() };
    let (model, losses) = model::train_with_validation(&fit, &valid, &p, 10).unwrap();
    assert!(losses.len() < 150, "noisy labels overfit long before 150 rounds of depth 6");
    let best = losses.iter().copied().enumerate().min_by(|a, b| a.1.total_cmp(&b.1)).unwrap().0;
    assert_eq!(model.trees.len(), best + 1);
    assert_eq!(losses.len(), best + 1 + 10);
    assert!(model.meta.contains("early stopping"), "{}", model.meta);
    // The kept trees are the first trees of the full training, and the loss is what it says.
    let full = train(&fit, &p).unwrap();
    assert_eq!(&model.trees[..], &full.trees[..best + 1]);
    let m = margins(&model, &valid);
    let loss =
        model::metrics::log_loss(&m.iter().map(|&z| 1.0 / (1.0 + (-z).exp())).collect::<Vec<_>>(), &valid.labels);
    assert!((loss.unwrap() - losses[best]).abs() < 1e-5);
    let other =
        Dataset::new(vec!["a".into(), "b".into(), "c".into(), "d".into()], valid.values.clone(), valid.labels.clone())
            .unwrap();
    assert!(model::train_with_validation(&fit, &other, &p, 10).is_err());
}
