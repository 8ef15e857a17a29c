//! Money as integer Korean won. KRW has no minor unit in practice, so one unit is one won.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The largest amount or balance an event may carry: 1,000조 won (10^15), above any account's
/// balance. Bounding money where it is read keeps rule arithmetic on it far from overflow
/// (`transfer.amount * 1000` fits with room to spare).
pub const MAX_KRW: i64 = 1_000_000_000_000_000;

/// An amount in Korean won. Never a float: sums and comparisons are exact.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[cfg_attr(feature = "openapi", schema(minimum = -1_000_000_000_000_000_i64, maximum = 1_000_000_000_000_000_i64))]
#[serde(transparent)]
pub struct Krw(pub i64);

impl Krw {
    /// The amount as a plain integer of won.
    pub fn won(self) -> i64 {
        self.0
    }
}

impl fmt::Display for Krw {
    /// Formats with thousands separators, as Korean apps show it: `4,800,000원`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let digits = self.0.unsigned_abs().to_string();
        if self.0 < 0 {
            f.write_str("-")?;
        }
        for (i, c) in digits.chars().enumerate() {
            if i > 0 && (digits.len() - i).is_multiple_of(3) {
                f.write_str(",")?;
            }
            write!(f, "{c}")?;
        }
        f.write_str("원")
    }
}

#[cfg(test)]
mod tests {
    use super::Krw;

    #[test]
    fn displays_with_separators() {
        assert_eq!(Krw(4_800_000).to_string(), "4,800,000원");
        assert_eq!(Krw(999).to_string(), "999원");
        assert_eq!(Krw(-1_000).to_string(), "-1,000원");
        assert_eq!(Krw(0).to_string(), "0원");
    }
}
