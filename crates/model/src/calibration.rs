//! Calibration of margins into probabilities. Boosted trees rank well, but their raw
//! `sigmoid(margin)` is often over-confident (and shifted when classes were re-weighted), so
//! the caller fits Platt scaling on held-out margins: `p = sigmoid(a * margin + b)`.

use crate::sigmoid;

/// How a margin becomes a probability.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Calibration {
    /// `sigmoid(margin)`.
    Identity,
    /// `sigmoid(a * margin + b)`.
    Platt {
        /// Slope.
        a: f32,
        /// Intercept.
        b: f32,
    },
}

impl Calibration {
    /// The probability for `margin`.
    #[inline]
    pub fn apply(&self, margin: f32) -> f32 {
        match *self {
            Calibration::Identity => sigmoid(margin),
            Calibration::Platt { a, b } => sigmoid(a * margin + b),
        }
    }
}

/// Fits Platt scaling on held-out `margins` and their labels by Newton's method on the log
/// loss, with Platt's smoothed targets (`(N+ + 1) / (N+ + 2)` for positives, `1 / (N- + 2)`
/// for negatives) so a separable held-out set does not drive the slope to infinity.
/// Deterministic. Non-finite margins are skipped; without both classes it returns
/// [`Calibration::Identity`]. Panics when the slices differ in length.
pub fn fit_platt(margins: &[f32], labels: &[bool]) -> Calibration {
    assert_eq!(margins.len(), labels.len(), "one label per margin");
    let data: Vec<(f64, bool)> =
        margins.iter().zip(labels).filter(|(m, _)| m.is_finite()).map(|(&m, &y)| (f64::from(m), y)).collect();
    let pos = data.iter().filter(|d| d.1).count() as f64;
    let neg = data.len() as f64 - pos;
    if pos == 0.0 || neg == 0.0 {
        return Calibration::Identity;
    }
    let (hi, lo) = ((pos + 1.0) / (pos + 2.0), 1.0 / (neg + 2.0));
    let target = |y: bool| if y { hi } else { lo };
    // Log loss of sigmoid(a m + b) against the targets, computed stably.
    let loss = |a: f64, b: f64| -> f64 {
        data.iter()
            .map(|&(m, y)| {
                let z = a * m + b;
                let t = target(y);
                // -(t ln s(z) + (1-t) ln(1 - s(z))) = softplus(z) - t z
                let softplus = if z > 0.0 { z + (-z).exp().ln_1p() } else { z.exp().ln_1p() };
                softplus - t * z
            })
            .sum()
    };
    let (mut a, mut b) = (1.0f64, 0.0f64);
    let mut current = loss(a, b);
    for _ in 0..100 {
        let (mut ga, mut gb, mut haa, mut hab, mut hbb) = (0.0, 0.0, 0.0, 0.0, 0.0);
        for &(m, y) in &data {
            let z = a * m + b;
            let p = 1.0 / (1.0 + (-z).exp());
            let d = p - target(y);
            let w = (p * (1.0 - p)).max(1e-12);
            ga += d * m;
            gb += d;
            haa += w * m * m;
            hab += w * m;
            hbb += w;
        }
        // A small ridge keeps the 2x2 system solvable when all margins are equal.
        let (haa, hbb) = (haa + 1e-9, hbb + 1e-9);
        let det = haa * hbb - hab * hab;
        if det <= 0.0 || !det.is_finite() {
            break;
        }
        let da = (hbb * ga - hab * gb) / det;
        let db = (haa * gb - hab * ga) / det;
        // Backtracking: halve the Newton step until the loss does not increase.
        let mut step = 1.0;
        let mut improved = false;
        while step > 1e-10 {
            let (na, nb) = (a - step * da, b - step * db);
            let l = loss(na, nb);
            if l <= current {
                improved = l < current;
                a = na;
                b = nb;
                current = l;
                break;
            }
            step /= 2.0;
        }
        if !improved || (da.abs() + db.abs()) * step < 1e-10 {
            break;
        }
    }
    Calibration::Platt { a: a as f32, b: b as f32 }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn degenerate_inputs_give_identity() {
        assert_eq!(fit_platt(&[], &[]), Calibration::Identity);
        assert_eq!(fit_platt(&[1.0, 2.0], &[true, true]), Calibration::Identity);
        assert_eq!(fit_platt(&[f32::NAN, 2.0], &[false, true]), Calibration::Identity);
        assert_eq!(Calibration::Identity.apply(0.0), 0.5);
        assert_eq!(Calibration::Platt { a: 2.0, b: -1.0 }.apply(0.5), 0.5);
    }

    #[test]
    fn recovers_a_known_slope_and_intercept() {
        // Margins m on a grid; the true probability is sigmoid(0.5 m - 1). With many rows per
        // grid point and labels in the exact proportion, the fit finds (0.5, -1).
        let (mut m, mut y) = (Vec::new(), Vec::new());
        for k in -20..=20 {
            let margin = k as f32 * 0.5;
            let p = 1.0 / (1.0 + (-(0.5 * f64::from(margin) - 1.0)).exp());
            let ones = (p * 1000.0).round() as usize;
            for i in 0..1000 {
                m.push(margin);
                y.push(i < ones);
            }
        }
        let Calibration::Platt { a, b } = fit_platt(&m, &y) else { panic!("expected Platt") };
        assert!((a - 0.5).abs() < 0.01 && (b + 1.0).abs() < 0.01, "a={a} b={b}");
        assert_eq!(fit_platt(&m, &y), fit_platt(&m, &y));
    }

    #[test]
    fn separable_data_stays_finite() {
        let c = fit_platt(&[-3.0, -2.0, 2.0, 3.0], &[false, false, true, true]);
        let Calibration::Platt { a, b } = c else { panic!("expected Platt") };
        assert!(a.is_finite() && b.is_finite() && a > 0.0);
        assert!(c.apply(3.0) < 1.0 && c.apply(3.0) > 0.5);
    }
}
