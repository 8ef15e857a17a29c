//! The model file: a saved model loads and scores identically, bit for bit; a damaged,
//! truncated, foreign or structurally invalid file is refused with a reason.

mod common;

use common::uniform;
use model::{Calibration, Gbdt, Node, Params, Tree, fit_platt, train};
use xxhash_rust::xxh3::xxh3_64;

fn model() -> Gbdt {
    let (mut d, _) = uniform(600, 4, 0.05, 21, |x| x[0] > 0.5 && x[1] < 0.3);
    for r in (0..d.rows).step_by(9) {
        d.values[r * 4 + 2] = f32::NAN;
    }
    let mut m = train(&d, &Params { trees: 25, max_depth: 4, ..Params::default() }).unwrap();
    let margins = m.margins(&d).unwrap();
    m.calibration = fit_platt(&margins, &d.labels);
    m.meta = "unit test — 한국어 meta".into();
    m.metrics = vec![("roc_auc".into(), 0.97), ("recall_at_1pct_fpr".into(), 0.61)];
    m
}

/// Rewrites the checksum so that a deliberate change reaches the structural checks.
fn reseal(mut b: Vec<u8>) -> Vec<u8> {
    let n = b.len() - 8;
    let sum = xxh3_64(&b[..n]);
    b[n..].copy_from_slice(&sum.to_le_bytes());
    b
}

#[test]
fn a_saved_model_scores_identically() {
    let m = model();
    let bytes = m.to_bytes();
    assert_eq!(&bytes[..8], b"ANSIMGB\0");
    let loaded = Gbdt::from_bytes(&bytes).unwrap();
    assert_eq!(loaded, m);
    assert_eq!(loaded.to_bytes(), bytes);
    assert_eq!(loaded.metric("roc_auc"), Some(0.97));
    assert!(matches!(loaded.calibration, Calibration::Platt { .. }));
    let (test, _) = uniform(300, 4, 0.0, 22, |_| false);
    for r in 0..test.rows {
        let mut x = test.row(r).to_vec();
        x[r % 4] = if r % 3 == 0 { f32::NAN } else { x[r % 4] };
        assert_eq!(loaded.margin(&x).to_bits(), m.margin(&x).to_bits());
        assert_eq!(loaded.probability(&x).to_bits(), m.probability(&x).to_bits());
        assert_eq!(loaded.contributions(&x), m.contributions(&x));
    }
}

#[test]
fn damaged_truncated_and_foreign_files_are_refused() {
    let bytes = model().to_bytes();
    for at in (8..bytes.len()).step_by(97) {
        let mut bad = bytes.clone();
        bad[at] ^= 0x10;
        let e = Gbdt::from_bytes(&bad).unwrap_err().to_string();
        assert!(e.contains("damaged") || e.contains("format"), "byte {at}: {e}");
    }
    for len in [0, 7, 8, 12, 20, bytes.len() / 2, bytes.len() - 1] {
        assert!(Gbdt::from_bytes(&bytes[..len]).is_err(), "truncated to {len}");
    }
    let e = Gbdt::from_bytes(b"ANSIMLM\0 a linear model, not trees").unwrap_err();
    assert!(e.to_string().contains("wrong magic"), "{e}");
    let mut trailing = bytes[..bytes.len() - 8].to_vec();
    trailing.push(0);
    trailing.extend_from_slice(&[0; 8]);
    assert!(Gbdt::from_bytes(&reseal(trailing)).unwrap_err().0.contains("trailing"));
}

#[test]
fn another_format_version_is_named() {
    let mut b = model().to_bytes();
    b[8..12].copy_from_slice(&2u32.to_le_bytes());
    let e = Gbdt::from_bytes(&reseal(b)).unwrap_err().to_string();
    assert!(e.contains("format 2 is not supported") && e.contains("reads format 1"), "{e}");
}

#[test]
fn well_sealed_but_invalid_models_are_refused() {
    // A model with one feature and one tree: a split on feature 0 and two leaves.
    let tree = Tree::new(
        vec![Node::split(0, 0.5, true, 1), Node::leaf(-1.0), Node::leaf(1.0)],
        vec![2.0, 1.0, 1.0],
        vec![3.0, 0.0, 0.0],
    )
    .unwrap();
    let m = Gbdt::new(vec!["x".into()], 0.0, vec![tree.clone()]).unwrap();
    assert_eq!((m.margin(&[0.0]), m.margin(&[1.0]), m.margin(&[f32::NAN])), (-1.0, 1.0, -1.0));
    let good = m.to_bytes();
    assert_eq!(Gbdt::from_bytes(&good).unwrap(), m);
    // The first node starts after: magic 8, format 4, count 4, name 4 + 1, margin 4,
    // calibration 1, meta 4, metrics 4, trees 4, nodes 4.
    let node = 8 + 4 + 4 + 5 + 4 + 1 + 4 + 4 + 4 + 4;
    let patch = |at: usize, v: u32| {
        let mut b = good[..good.len()].to_vec();
        b[at..at + 4].copy_from_slice(&v.to_le_bytes());
        Gbdt::from_bytes(&reseal(b)).unwrap_err().to_string()
    };
    assert!(patch(node, 1).contains("feature 1 of 1"), "{}", patch(node, 1));
    assert!(patch(node + 8, 0).contains("children"), "{}", patch(node + 8, 0));
    assert!(patch(node + 4, f32::NAN.to_bits()).contains("threshold"));
    assert!(patch(node + 16, 0).contains("cover"), "{}", patch(node + 16, 0));
    assert!(patch(8 + 4, u32::MAX).contains("truncated"));
    assert!(Gbdt::new(vec![], 0.0, vec![tree.clone()]).unwrap_err().0.contains("feature 0 of 0"));
    assert!(Gbdt::new(vec!["x".into()], f32::NAN, vec![tree]).is_err());
}
