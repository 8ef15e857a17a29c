//! The measured effect of a prevention campaign: users of the segment are split at random
//! into a treated group (who got the notice) and a hold-out control (who did not), and the
//! effect is the difference in fraud outcomes per 10,000 users between them, with a 95 %
//! confidence interval — measured, not guessed. The interval is Newcombe's hybrid score
//! interval for a difference of two proportions (method 10), which keeps its coverage for the
//! rare outcomes fraud is (a few per 10,000) where the textbook Wald interval does not.
//! Assignment is a keyed hash of campaign and subject, so a user stays in one arm on every
//! node and every run.

/// Which arm a subject of the segment is in: the control when the hash of (campaign,
/// subject) falls below the hold-out share (per mille).
pub fn in_control(campaign: &str, subject: &str, holdout_per_mille: u32) -> bool {
    let h = xxhash_rust::xxh3::xxh3_64(format!("{campaign}\0{subject}").as_bytes());
    (h % 1000) < u64::from(holdout_per_mille.min(1000))
}

/// An arm's size and how many of its users had the outcome (a fraud report, a loss).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Arm {
    /// Users.
    pub users: u64,
    /// Users with the outcome.
    pub outcomes: u64,
}

/// The effect: outcomes per 10,000 users in each arm and their difference (treated minus
/// control; negative is fewer frauds among the treated) with its 95 % interval.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Effect {
    /// Per 10,000 treated users.
    pub treated: f64,
    /// Per 10,000 control users.
    pub control: f64,
    /// Treated minus control, per 10,000.
    pub difference: f64,
    /// Lower end of the 95 % interval of the difference, per 10,000.
    pub low: f64,
    /// Upper end.
    pub high: f64,
}

/// Wilson's score interval for one proportion at z.
fn wilson(outcomes: u64, users: u64, z: f64) -> (f64, f64) {
    if users == 0 {
        return (0.0, 1.0);
    }
    let n = users as f64;
    let p = outcomes as f64 / n;
    let centre = p + z * z / (2.0 * n);
    let spread = z * (p * (1.0 - p) / n + z * z / (4.0 * n * n)).sqrt();
    let d = 1.0 + z * z / n;
    (((centre - spread) / d).max(0.0), ((centre + spread) / d).min(1.0))
}

/// The campaign's effect; `None` while an arm has no users.
pub fn effect(treated: Arm, control: Arm) -> Option<Effect> {
    if treated.users == 0 || control.users == 0 {
        return None;
    }
    const Z: f64 = 1.959_963_984_540_054;
    let p1 = treated.outcomes as f64 / treated.users as f64;
    let p2 = control.outcomes as f64 / control.users as f64;
    let (l1, u1) = wilson(treated.outcomes, treated.users, Z);
    let (l2, u2) = wilson(control.outcomes, control.users, Z);
    let d = p1 - p2;
    let low = d - ((p1 - l1).powi(2) + (u2 - p2).powi(2)).sqrt();
    let high = d + ((u1 - p1).powi(2) + (p2 - l2).powi(2)).sqrt();
    Some(Effect { treated: p1 * 1e4, control: p2 * 1e4, difference: d * 1e4, low: low * 1e4, high: high * 1e4 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::spikes::synthetic::Rng;

    #[test]
    fn the_arms_split_as_asked_and_stay_put() {
        let control = (0..100_000).filter(|i| in_control("c1", &format!("u{i}"), 100)).count();
        assert!((9_500..10_500).contains(&control), "{control} of 100,000 in a 10 % hold-out");
        assert_eq!(in_control("c1", "u7", 100), in_control("c1", "u7", 100));
        assert!((0..1_000).all(|i| !in_control("c1", &format!("u{i}"), 0)));
        assert!((0..1_000).all(|i| in_control("c1", &format!("u{i}"), 1_000)));
    }

    #[test]
    fn worked_example() {
        // 40 of 90,000 treated and 8 of 10,000 controls: 4.44 and 8.0 per 10,000.
        let e = effect(Arm { users: 90_000, outcomes: 40 }, Arm { users: 10_000, outcomes: 8 }).unwrap();
        assert!((e.treated - 4.444).abs() < 0.01 && (e.control - 8.0).abs() < 1e-9);
        assert!((e.difference + 3.556).abs() < 0.01);
        assert!(e.low < e.difference && e.difference < e.high);
        assert!(e.low < -5.0 && e.high > 0.0, "too few controls to be sure: {e:?}");
        assert_eq!(effect(Arm { users: 0, outcomes: 0 }, Arm { users: 5, outcomes: 0 }), None);
    }

    /// Simulated campaigns with a known effect: the interval holds the true difference in
    /// about 95 % of them, and a real effect with a large enough hold-out is seen as one.
    #[test]
    fn the_interval_recovers_an_injected_effect() {
        let mut rng = Rng(0x5eed_cafe);
        // A segment of 100,000 users split half and half; fraud among controls 12 per 10,000,
        // among the treated 7 per 10,000: the true effect is -5 per 10,000.
        let (users, holdout, p_control, p_treated) = (100_000u64, 500u32, 12e-4, 7e-4);
        let arms: Vec<bool> = (0..users).map(|i| in_control("effect", &format!("u{i}"), holdout)).collect();
        let (mut covered, mut significant, runs) = (0, 0, 200);
        for _ in 0..runs {
            let (mut t, mut c) = (Arm { users: 0, outcomes: 0 }, Arm { users: 0, outcomes: 0 });
            for &control in &arms {
                let (arm, p) = if control { (&mut c, p_control) } else { (&mut t, p_treated) };
                arm.users += 1;
                if rng.unit() < p {
                    arm.outcomes += 1;
                }
            }
            let e = effect(t, c).unwrap();
            if e.low <= -5.0 && -5.0 <= e.high {
                covered += 1;
            }
            if e.high < 0.0 {
                significant += 1;
            }
        }
        let coverage = f64::from(covered) / f64::from(runs);
        eprintln!("coverage of the true effect {coverage:.3}; effect seen in {significant} of {runs} campaigns");
        assert!((0.91..=0.99).contains(&coverage), "coverage {coverage}");
        assert!(significant > runs / 2, "a 5-in-10,000 effect on 200,000 users is usually seen: {significant}");
    }
}
