//! Changes one node makes that the other nodes must apply: the store holds each one already
//! (it is the system of record and a starting node reads everything from it), and a message
//! carries what the other nodes' in-memory state needs to follow without a full reload. The
//! application knows no message bus: it emits [`Change`]s on a channel and applies the ones
//! another node sent ([`crate::App::apply_change`]); the binary carries them over NATS.

use domain::AffiliateId;
use serde::{Deserialize, Serialize};

/// One change, as sent between nodes (JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "change", rename_all = "snake_case")]
pub enum Change {
    /// A ruleset was published or rolled back: load the affiliate's active version.
    Ruleset {
        /// Whose.
        affiliate: AffiliateId,
    },
    /// Indicator reports as now stored (one row per digest and reporting affiliate): replace
    /// those contributions. Digests are keyed pseudonyms, never raw values.
    Registry {
        /// The stored rows.
        rows: Vec<Report>,
    },
    /// A subject's self-protection, as now stored.
    Protection {
        /// Whose subject.
        affiliate: AffiliateId,
        /// The subject.
        subject: String,
        /// The stored settings (JSON).
        settings: String,
    },
    /// A prevention campaign was created or changed: load it from the store.
    Campaign {
        /// Its id.
        id: String,
    },
    /// An API key was revoked: forget it.
    KeyRevoked {
        /// Whose key.
        affiliate: AffiliateId,
        /// The key's name (`key:` and its prefix).
        name: String,
    },
}

/// One stored indicator report, as a change carries it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Report {
    /// HMAC-SHA-256 digest under the group key, hex.
    pub digest: String,
    /// Indicator kind.
    pub kind: String,
    /// The reporting affiliate.
    pub affiliate: AffiliateId,
    /// Typology.
    pub typology: String,
    /// `reported`, `confirmed` or `cleared`.
    pub status: String,
    /// Reports by this affiliate.
    pub reports: i64,
    /// First report, ms.
    pub first_ms: i64,
    /// Latest report or status change, ms.
    pub last_ms: i64,
}

impl Report {
    /// The change's form of a stored row.
    pub fn from_row(r: &store::IndicatorReport) -> Report {
        Report {
            digest: crate::hex(&r.digest),
            kind: r.kind.clone(),
            affiliate: r.affiliate.clone(),
            typology: r.typology.clone(),
            status: r.status.clone(),
            reports: r.reports,
            first_ms: r.first_ms,
            last_ms: r.last_ms,
        }
    }

    /// The stored row again; `None` when the digest is not 64 hex digits.
    pub fn to_row(&self) -> Option<store::IndicatorReport> {
        if self.digest.len() != 64 || !self.digest.is_ascii() {
            return None;
        }
        let mut digest = [0u8; 32];
        for (i, d) in digest.iter_mut().enumerate() {
            *d = u8::from_str_radix(&self.digest[2 * i..2 * i + 2], 16).ok()?;
        }
        Some(store::IndicatorReport {
            digest,
            kind: self.kind.clone(),
            affiliate: self.affiliate.clone(),
            typology: self.typology.clone(),
            status: self.status.clone(),
            reports: self.reports,
            first_ms: self.first_ms,
            last_ms: self.last_ms,
        })
    }
}

/// Where a node's changes go (to the other nodes); nowhere for a node alone.
pub type Sink = tokio::sync::mpsc::UnboundedSender<Change>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_row_survives_the_trip() {
        let row = store::IndicatorReport {
            digest: [0xab; 32],
            kind: "account".into(),
            affiliate: AffiliateId("bank".into()),
            typology: "mule".into(),
            status: "confirmed".into(),
            reports: 3,
            first_ms: 1,
            last_ms: 2,
        };
        let change = Change::Registry { rows: vec![Report::from_row(&row)] };
        let json = serde_json::to_string(&change).unwrap();
        assert!(json.starts_with(r#"{"change":"registry","rows":[{"digest":"abab"#), "{json}");
        let back: Change = serde_json::from_str(&json).unwrap();
        let Change::Registry { rows } = back else { panic!("{back:?}") };
        assert_eq!(rows[0].to_row(), Some(row));
        assert_eq!(Report { digest: "zz".into(), ..rows[0].clone() }.to_row(), None);
    }
}
