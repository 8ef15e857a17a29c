//! Quantile binning, computed once before training: each feature's values are cut into at most
//! 255 bins of about equal row counts (fewer when the feature has fewer distinct values), and
//! the whole matrix becomes one byte per value, column-major. Code [`MISSING`] marks NaN.
//!
//! A value `v` falls in bin `b` = the number of cuts `<= v`, so "bin `<= b`" is exactly
//! "`v < cuts[b]`": a split found on bins is the same split on raw values at scoring time.

use crate::data::Dataset;

/// The bin code of a missing value.
pub(crate) const MISSING: u8 = 255;

/// The binned training matrix.
pub(crate) struct Binned {
    /// Number of rows.
    pub rows: usize,
    /// Per feature, the cut points (strictly increasing); value bins are `0..=cuts.len()`.
    pub cuts: Vec<Vec<f32>>,
    /// Column-major bin codes: feature `f`, row `r` at `f * rows + r`.
    pub codes: Vec<u8>,
}

impl Binned {
    /// Bins `data` with at most `value_bins` (2..=255) bins per feature.
    pub fn new(data: &Dataset, value_bins: usize) -> Binned {
        let (n, nf) = (data.rows, data.features.len());
        let mut cuts = Vec::with_capacity(nf);
        let mut codes = vec![0u8; n * nf];
        let mut column = Vec::with_capacity(n);
        for f in 0..nf {
            column.clear();
            column.extend((0..n).map(|r| data.values[r * nf + f]).filter(|v| !v.is_nan()));
            column.sort_unstable_by(f32::total_cmp);
            let c = quantile_cuts(&column, value_bins);
            for (r, code) in codes[f * n..(f + 1) * n].iter_mut().enumerate() {
                *code = bin_of(&c, data.values[r * nf + f]);
            }
            cuts.push(c);
        }
        Binned { rows: n, cuts, codes }
    }

    /// The bin codes of feature `f`, one per row.
    pub fn column(&self, f: usize) -> &[u8] {
        &self.codes[f * self.rows..(f + 1) * self.rows]
    }
}

/// The bin code of `v` given a feature's cuts.
pub(crate) fn bin_of(cuts: &[f32], v: f32) -> u8 {
    if v.is_nan() { MISSING } else { cuts.partition_point(|&c| c <= v) as u8 }
}

/// A cut between two consecutive distinct values `a < b`: their midpoint when it lies in
/// `(a, b]`, else `b`.
fn midpoint(a: f32, b: f32) -> f32 {
    let m = ((f64::from(a) + f64::from(b)) / 2.0) as f32;
    if m > a && m <= b { m } else { b }
}

/// Cuts for sorted non-NaN values: one between every pair of distinct values when there are at
/// most `max_bins` of them, otherwise greedy quantiles: a bin closes once it holds its share of
/// the remaining rows, and a value heavy enough to fill a bin alone gets a bin of its own.
fn quantile_cuts(sorted: &[f32], max_bins: usize) -> Vec<f32> {
    let mut distinct: Vec<(f32, usize)> = Vec::new();
    for &v in sorted {
        match distinct.last_mut() {
            Some((last, count)) if *last == v => *count += 1,
            _ => distinct.push((v, 1)),
        }
    }
    if distinct.len() <= max_bins {
        return distinct.windows(2).map(|w| midpoint(w[0].0, w[1].0)).collect();
    }
    let mut cuts = Vec::with_capacity(max_bins - 1);
    let (mut remaining, mut bins_left, mut acc) = (sorted.len() as f64, max_bins as f64, 0.0);
    for w in distinct.windows(2) {
        acc += w[0].1 as f64;
        let share = remaining / bins_left;
        if acc >= share || w[1].1 as f64 >= share {
            cuts.push(midpoint(w[0].0, w[1].0));
            remaining -= acc;
            acc = 0.0;
            bins_left -= 1.0;
            if bins_left <= 1.0 {
                break;
            }
        }
    }
    cuts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn few_distinct_values_get_a_bin_each() {
        let c = quantile_cuts(&[0.0, 0.0, 1.0, 1.0, 3.0], 255);
        assert_eq!(c, vec![0.5, 2.0]);
        assert_eq!([0.0, 0.4, 0.5, 1.0, 2.0, 3.0, 99.0].map(|v| bin_of(&c, v)), [0, 0, 1, 1, 2, 2, 2]);
        assert_eq!(bin_of(&c, f32::NAN), MISSING);
        assert!(quantile_cuts(&[], 255).is_empty());
        assert!(quantile_cuts(&[7.0; 10], 255).is_empty());
    }

    #[test]
    fn many_values_are_cut_at_quantiles() {
        let v: Vec<f32> = (0..10_000).map(|i| i as f32).collect();
        let c = quantile_cuts(&v, 10);
        assert_eq!(c.len(), 9);
        let mut counts = [0usize; 10];
        for &x in &v {
            counts[bin_of(&c, x) as usize] += 1;
        }
        assert!(counts.iter().all(|&k| (900..=1100).contains(&k)), "{counts:?}");
        // A heavy value (90% zeros) gets its own bin and the rest are still cut.
        let mut z = vec![0.0f32; 9000];
        z.extend((1..=1000).map(|i| i as f32));
        let c = quantile_cuts(&z, 10);
        assert_eq!(bin_of(&c, 0.0), 0);
        assert_eq!(bin_of(&c, 1.0), 1);
        assert!(c.len() >= 5 && c.len() <= 9, "{c:?}");
        assert!(c.windows(2).all(|w| w[0] < w[1]));
    }

    #[test]
    fn adjacent_floats_still_separate() {
        let a = 1.0f32;
        let b = f32::from_bits(a.to_bits() + 1);
        let c = quantile_cuts(&[a, b], 255);
        assert_eq!((bin_of(&c, a), bin_of(&c, b)), (0, 1));
    }
}
