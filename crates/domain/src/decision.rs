//! A decision: the verdict, its score, the rules that fired with reasons a user can read, and
//! what the affiliate's app should show.

use crate::EventId;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::sync::Arc;

/// What the affiliate should do. The order is the precedence: `block > hold > warn > allow`,
/// so the verdict of several matched rules is their maximum.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Go ahead.
    Allow,
    /// Go ahead after the user confirms a warning.
    Warn,
    /// Delay or send to review before it goes ahead.
    Hold,
    /// Do not go ahead.
    Block,
}

impl Verdict {
    /// Every verdict, in precedence order.
    pub const ALL: [Verdict; 4] = [Verdict::Allow, Verdict::Warn, Verdict::Hold, Verdict::Block];

    /// The wire name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Allow => "allow",
            Verdict::Warn => "warn",
            Verdict::Hold => "hold",
            Verdict::Block => "block",
        }
    }

    /// Parses a wire name.
    pub fn parse(s: &str) -> Option<Verdict> {
        Verdict::ALL.into_iter().find(|v| v.as_str() == s)
    }
}

impl fmt::Display for Verdict {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The colour of the recipient shield shown at amount entry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Shield {
    /// Blue: nothing known against it.
    Safe,
    /// Yellow: look twice.
    Caution,
    /// Red: fraud indicators.
    Danger,
}

/// A rule that matched, with its reason in Korean and English.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MatchedRule {
    /// The rule's id.
    pub rule: Arc<str>,
    /// The rule's own verdict.
    pub verdict: Verdict,
    /// The rule's score contribution (may be negative for allow-list rules).
    pub score: i32,
    /// Reason in Korean, for the user.
    pub ko: Arc<str>,
    /// Reason in English.
    pub en: Arc<str>,
    /// Typology tags (`impersonation`, `mule`, ...).
    #[serde(default, skip_serializing_if = "<[_]>::is_empty")]
    pub tags: Arc<[Arc<str>]>,
}

/// A feature or signal value that a matched rule read: the evidence behind a reason.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Evidence {
    /// `features.transfers_1h`, `event.amount`, ...
    pub name: Arc<str>,
    /// The value the rule saw, as JSON (`null` when absent).
    pub value: serde_json::Value,
}

/// What the affiliate's app should show the user.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Guidance {
    /// Shield colour for the recipient or the action.
    pub shield: Shield,
    /// For `hold`: how long to delay before the action may go ahead.
    pub hold_minutes: Option<u32>,
    /// For `warn`: the text of the confirm dialog ("stop / continue anyway").
    pub confirm: Option<Confirm>,
}

/// Confirm-dialog text in both languages.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Confirm {
    /// Korean text.
    pub ko: String,
    /// English text.
    pub en: String,
}

/// ansim's answer about one event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Decision {
    /// The event decided on.
    pub event_id: EventId,
    /// The combined verdict.
    pub verdict: Verdict,
    /// Risk score 0..=100: the sum of matched rule scores, clamped.
    pub score: u8,
    /// Matched rules, strongest verdict first, then by score.
    pub reasons: Vec<MatchedRule>,
    /// What the app should show.
    pub guidance: Guidance,
    /// The ruleset that decided, as `name@vN`.
    pub ruleset: Arc<str>,
    /// The feature and signal values the matched rules read.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub evidence: Vec<Evidence>,
    /// For messages and contacts: what stage-1 analysis found (risk, typology, phrases, links,
    /// warnings).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<Arc<crate::Analysis>>,
    /// Shadow rules that matched: recorded and counted, never acted on.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shadow: Vec<Arc<str>>,
}

impl Decision {
    /// Adds a reason that does not come from the ruleset (a user's own protection setting)
    /// and raises the verdict to at least its verdict. The guidance follows the new verdict:
    /// a hold lasts the longest hold asked for, a confirm dialog only goes with `warn`. The
    /// shield describes the recipient and so stays as the rules left it.
    pub fn impose(&mut self, reason: MatchedRule, hold_minutes: Option<u32>) {
        let verdict = self.verdict.max(reason.verdict);
        let at = self.reasons.iter().position(|r| r.verdict < reason.verdict).unwrap_or(self.reasons.len());
        if let (Verdict::Hold, Some(m), Verdict::Hold) = (reason.verdict, hold_minutes, verdict) {
            let now = if self.verdict == Verdict::Hold { self.guidance.hold_minutes.unwrap_or(0) } else { 0 };
            self.guidance.hold_minutes = Some(now.max(m));
        }
        self.reasons.insert(at, reason);
        if verdict != Verdict::Hold {
            self.guidance.hold_minutes = None;
        }
        if verdict != Verdict::Warn {
            self.guidance.confirm = None;
        }
        self.verdict = verdict;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decision(verdict: Verdict, hold: Option<u32>) -> Decision {
        Decision {
            event_id: EventId("e".into()),
            verdict,
            score: 0,
            reasons: Vec::new(),
            guidance: Guidance {
                shield: Shield::Safe,
                hold_minutes: hold,
                confirm: (verdict == Verdict::Warn).then(|| Confirm { ko: "계속?".into(), en: "Continue?".into() }),
            },
            ruleset: "t@v1".into(),
            evidence: Vec::new(),
            analysis: None,
            shadow: Vec::new(),
        }
    }

    fn reason(id: &str, verdict: Verdict) -> MatchedRule {
        MatchedRule { rule: id.into(), verdict, score: 0, ko: "".into(), en: "".into(), tags: Arc::from(Vec::new()) }
    }

    #[test]
    fn impose_raises_the_verdict_and_keeps_the_longest_hold() {
        let mut d = decision(Verdict::Warn, None);
        d.reasons.push(reason("rule.warn", Verdict::Warn));
        d.impose(reason("protection.delayed_transfer", Verdict::Hold), Some(180));
        assert_eq!(d.verdict, Verdict::Hold);
        assert_eq!(d.guidance.hold_minutes, Some(180));
        assert_eq!(d.guidance.confirm, None, "a hold shows no confirm dialog");
        assert_eq!(d.reasons[0].rule.as_ref(), "protection.delayed_transfer", "the strongest reason comes first");
        assert_eq!(d.guidance.shield, Shield::Safe, "the shield still describes the recipient");

        let mut d = decision(Verdict::Hold, Some(1_440));
        d.impose(reason("protection.delayed_transfer", Verdict::Hold), Some(180));
        assert_eq!(d.guidance.hold_minutes, Some(1_440), "the rules' longer hold stays");

        let mut d = decision(Verdict::Hold, Some(60));
        d.impose(reason("protection.designated_accounts", Verdict::Block), None);
        assert_eq!((d.verdict, d.guidance.hold_minutes), (Verdict::Block, None));

        let mut d = decision(Verdict::Block, None);
        d.reasons.push(reason("rule.block", Verdict::Block));
        d.impose(reason("protection.delayed_transfer", Verdict::Hold), Some(180));
        assert_eq!((d.verdict, d.guidance.hold_minutes), (Verdict::Block, None), "a block is never softened");
        assert_eq!(d.reasons[1].rule.as_ref(), "protection.delayed_transfer");
    }
}
