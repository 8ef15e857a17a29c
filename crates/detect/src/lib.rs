//! Stage-1 detectors: analyse a message (typology detectors with their phrases, structural
//! evidence, a text model, the links in it) and the other party of a message or contact (globe,
//! stranger and fake warnings), and attach the result to the event so rules and features read
//! it.
//!
//! Pure: no IO, no clock. Models are plain data ([`linear::LinearModel`]) that the caller
//! loads; the built-in ones are compiled in.

pub mod evidence;
pub mod linear;
pub mod links;
pub mod metrics;
pub mod normalize;
pub mod profile;
pub mod text;
pub mod typology;

use domain::{Analysis, Contact, Counterparty, Event, EventBody, Message, WarningKind, WarningLevel};
use linear::{LinearModel, ModelError, ModelKind};
use std::sync::Arc;

/// Link risk from which a link counts as suspicious for the typology detectors (a protected
/// brand's own domain stays below it).
pub const SUSPICIOUS_LINK: u8 = 25;

/// Link risk from which a link on its own makes a message a scam.
pub const STRONG_LINK: u8 = 60;

/// Risk from which a message counts as a scam (`ansim eval`, the sample ruleset's rules).
pub const RISK_THRESHOLD: u8 = 50;

/// How far below [`RISK_THRESHOLD`] a text model's risk may be and still flag a message when a
/// structural sign or a typology phrase corroborates it.
pub const CORROBORATION_BAND: u8 = 5;

/// The detectors with their models: built once, shared by every decision.
#[derive(Debug, Clone)]
pub struct Analyzer {
    messages: LinearModel,
    urls: LinearModel,
    brands: links::Brands,
}

impl Analyzer {
    /// The built-in models and brand list.
    pub fn builtin() -> Analyzer {
        Analyzer { messages: text::builtin(), urls: links::builtin(), brands: links::builtin_brands_ref().clone() }
    }

    /// Other models (from `ansim train`) or brands; refuses a model of the wrong kind or one
    /// trained with another featurizer.
    pub fn new(messages: LinearModel, urls: LinearModel, brands: links::Brands) -> Result<Analyzer, ModelError> {
        check(&messages, ModelKind::Messages, text::FEATURE_SET, text::compatible)?;
        check(&urls, ModelKind::Urls, links::FEATURE_SET, |f| f == links::FEATURE_SET)?;
        Ok(Analyzer { messages, urls, brands })
    }

    /// The message model.
    pub fn message_model(&self) -> &LinearModel {
        &self.messages
    }

    /// The URL model.
    pub fn url_model(&self) -> &LinearModel {
        &self.urls
    }

    /// Analyses a message's text and, when known, its sender.
    ///
    /// The risk is the strongest of three judgements, each placed on one scale whose decision
    /// threshold is [`RISK_THRESHOLD`]: the text model (its probability, with the model's own
    /// threshold — chosen on out-of-fold scores when it was trained — mapped to 50), the
    /// typology detectors (a hooked typology of score 4 is 60, each point more 10), and the
    /// riskiest link (a clearly bad link on its own; a shortener or an unknown domain stays
    /// below 50). Two of them at once add 10; a model risk within [`CORROBORATION_BAND`] of the
    /// threshold adds 10 when a reported sign or a typology phrase backs it; and a danger
    /// warning about the sender adds 15.
    pub fn message(&self, raw: &str, sender: Option<&Counterparty>, friend_names: &[String]) -> Analysis {
        let prepared = text::prepare(raw, &self.brands, &self.urls);
        let links = &prepared.links;
        let detection = &prepared.detection;
        let p = text::probability_prepared(&self.messages, &prepared, raw);
        let model_score = (p * 100.0).round().clamp(0.0, 100.0) as u8;
        // The model speaks from its own threshold up: its threshold maps to the risk threshold.
        let t = self.messages.threshold.clamp(0.01, 0.99);
        let model_risk = if p >= t {
            RISK_THRESHOLD as f32 + (p - t) / (1.0 - t) * (100 - RISK_THRESHOLD) as f32
        } else {
            p / t * (RISK_THRESHOLD - 1) as f32
        }
        .round() as u8;
        let text_risk = typology::risk(detection.score);
        // A link alone flags a message only when it is clearly bad (a look-alike, an APK, a raw
        // IP, a risky domain the URL model agrees on); a shortener, an unknown domain or the URL
        // model's doubt alone stays below the threshold and only strengthens what the text says.
        // The URL model alone (a path that merely looks random) is not clearly bad: an ordinary
        // shared photo or document link would be flagged on its say-so.
        let link_risk = links
            .iter()
            .map(|l| {
                let structural = l.flags.iter().any(|f| f != "model");
                if l.risk >= STRONG_LINK && structural { l.risk } else { l.risk.min(RISK_THRESHOLD - 5) }
            })
            .max()
            .unwrap_or(0);
        let warnings = sender.map(|c| profile::warnings(c, None, friend_names)).unwrap_or_default();
        let mut risk = text_risk.max(model_risk).max(link_risk);
        // Two independent signs together are stronger than either.
        let strong = [text_risk, model_risk, link_risk].iter().filter(|&&r| r >= RISK_THRESHOLD).count();
        if strong >= 2 {
            risk = risk.saturating_add(10);
        }
        // A model just short of its threshold, corroborated by something a reason can name (a
        // reported structural sign, or a phrase of weight 2 or more), is a scam: chat that the
        // model barely doubts rarely carries either. A sum in dollars or pounds is no
        // corroboration: it is foreign only to Korean billing, and ordinary in English.
        let corroborated = detection.leaning.is_some()
            || prepared.evidence.signs().any(|s| s.reported() && s != evidence::Sign::ForeignAmount);
        if risk < RISK_THRESHOLD && model_risk.saturating_add(CORROBORATION_BAND) >= RISK_THRESHOLD && corroborated {
            risk = risk.saturating_add(10);
        }
        // A risky message from someone posing as a friend or an institution.
        if risk >= 30 && warnings.iter().any(|w| w.level == WarningLevel::Danger) {
            risk = risk.saturating_add(15);
        }
        let risk = risk.min(100);
        let flagged = risk >= RISK_THRESHOLD;
        // A message the model flagged is named after the typology its phrases lean to; spam
        // when none.
        let typology = detection.typology.or_else(|| {
            (flagged && model_risk >= RISK_THRESHOLD).then(|| detection.leaning.unwrap_or(domain::Typology::Spam))
        });
        let guidance = flagged.then(|| match typology {
            Some(t) => t.guidance(),
            None => domain::Confirm {
                ko: "위험한 링크가 포함된 메시지입니다. 링크를 누르거나 앱을 설치하지 마세요.".into(),
                en: "This message carries a dangerous link. Do not open it or install an app.".into(),
            },
        });
        let evidence = prepared.evidence.signs().filter(|s| s.reported()).map(|s| s.name().to_string()).collect();
        Analysis {
            risk,
            model_score,
            typology,
            phrases: detection.phrases.iter().map(|p| p.to_string()).collect(),
            evidence,
            links: prepared.links,
            warnings,
            guidance,
        }
    }

    /// Analyses a stranger's first contact: the warnings, and a risk from them.
    pub fn contact(&self, c: &Contact) -> Analysis {
        let warnings = profile::warnings(&c.counterparty, Some(c.mutual_friends), &c.friend_names);
        let level = |k| warnings.iter().filter(|w| w.kind == k).map(|w| w.level).max();
        let mut risk: u8 = 0;
        for (k, caution, danger) in
            [(WarningKind::Fake, 40, 75), (WarningKind::Stranger, 15, 45), (WarningKind::Globe, 20, 40)]
        {
            risk = risk.max(match level(k) {
                Some(WarningLevel::Danger) => danger,
                Some(WarningLevel::Caution) => caution,
                None => 0,
            });
        }
        let dangers = warnings.iter().filter(|w| w.level == WarningLevel::Danger).count() as u8;
        let risk = risk.saturating_add(dangers.saturating_sub(1) * 10).min(100);
        let guidance = warnings
            .iter()
            .max_by_key(|w| w.level)
            .filter(|w| w.level == WarningLevel::Danger)
            .map(|w| domain::Confirm { ko: w.ko.clone(), en: w.en.clone() });
        Analysis { risk, warnings, guidance, ..Analysis::default() }
    }

    /// Attaches the analysis of a message or contact event to it (other kinds are left alone).
    pub fn enrich(&self, e: &mut Event) {
        let a = match &e.body {
            EventBody::Message(Message { sender, text, friend_names, .. }) => {
                self.message(text, Some(sender), friend_names)
            }
            EventBody::Contact(c) => self.contact(c),
            _ => return,
        };
        e.analysis = Some(Arc::new(a));
    }
}

impl Default for Analyzer {
    fn default() -> Self {
        Analyzer::builtin()
    }
}

fn check(m: &LinearModel, kind: ModelKind, feature_set: u32, ok: fn(u32) -> bool) -> Result<(), ModelError> {
    if m.kind != kind {
        return Err(ModelError(format!(
            "a {} model was given where a {} model is needed",
            m.kind.as_str(),
            kind.as_str()
        )));
    }
    if !ok(m.feature_set) {
        return Err(ModelError(format!(
            "the {} model was trained with feature set {}, this build computes feature set {feature_set}; retrain it",
            kind.as_str(),
            m.feature_set & 0xFFFF
        )));
    }
    Ok(())
}
