//! Ruleset files (TOML) → compiled [`Snapshot`]s, with every problem reported as a located
//! [`Diagnostic`], and the [`SnapshotCell`] that swaps snapshots atomically.
//!
//! A ruleset file has one `[ruleset]` header, any number of `[[feature]]` tables and any
//! number of `[[rule]]` tables; `test_data/rulesets/sample.toml` is a complete example.
//! Compilation reports every error it can find in one pass, sorted by position.

use domain::{Confirm, Event, Verdict};
use rules::diag::nearest;
use rules::schema::{Schema, Type};
use rules::{Compiled, Diagnostic};
use serde::Deserialize;
use signals::SignalProvider;
use signals::features::{
    FeatureDef, FeatureKind, KeyPart, MAX_FIRST_SEEN_WINDOW_MS, MAX_WINDOW_MS, MIN_WINDOW_MS, Window,
};
use std::collections::HashSet;
use std::ops::Range;
use std::sync::{Arc, RwLock};
use toml::Spanned;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    ruleset: Spanned<RawHeader>,
    #[serde(default)]
    feature: Vec<Spanned<RawFeature>>,
    #[serde(default)]
    rule: Vec<Spanned<RawRule>>,
    #[serde(default)]
    model: Option<Spanned<RawModel>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawModel {
    inputs: Vec<Spanned<String>>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHeader {
    name: Spanned<String>,
    version: Spanned<i64>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    lateness: Option<Spanned<String>>,
    #[serde(default)]
    default_hold_minutes: Option<Spanned<i64>>,
    #[serde(default)]
    thresholds: Option<RawThresholds>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawThresholds {
    warn: Option<Spanned<i64>>,
    hold: Option<Spanned<i64>>,
    block: Option<Spanned<i64>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeature {
    name: Spanned<String>,
    kind: Spanned<String>,
    key: Spanned<toml::Value>,
    #[serde(default)]
    read_key: Option<Spanned<toml::Value>>,
    #[serde(default)]
    value: Option<Spanned<String>>,
    window: Spanned<String>,
    #[serde(default, rename = "where")]
    filter: Option<Spanned<String>>,
    #[serde(default)]
    description: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRule {
    id: Spanned<String>,
    #[serde(default)]
    description: Option<String>,
    when: Spanned<String>,
    verdict: Spanned<String>,
    #[serde(default)]
    score: Option<Spanned<i64>>,
    reason: Spanned<RawText>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    hold_minutes: Option<Spanned<i64>>,
    #[serde(default)]
    confirm: Option<RawText>,
    #[serde(default = "yes")]
    enabled: bool,
    #[serde(default)]
    shadow: bool,
}

fn yes() -> bool {
    true
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawText {
    ko: String,
    en: String,
}

/// Score thresholds that raise the combined verdict: a decision whose summed score reaches
/// `hold` is at least `hold`, and so on. `None` disables a level.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Thresholds {
    /// Score from which the verdict is at least `warn`.
    pub warn: Option<u8>,
    /// Score from which the verdict is at least `hold`.
    pub hold: Option<u8>,
    /// Score from which the verdict is `block`.
    pub block: Option<u8>,
}

impl Thresholds {
    /// The verdict a score alone earns.
    pub fn verdict(&self, score: u8) -> Verdict {
        let reached = |t: Option<u8>| t.is_some_and(|t| score >= t);
        if reached(self.block) {
            Verdict::Block
        } else if reached(self.hold) {
            Verdict::Hold
        } else if reached(self.warn) {
            Verdict::Warn
        } else {
            Verdict::Allow
        }
    }
}

/// A rule ready to evaluate.
#[derive(Debug)]
pub struct CompiledRule {
    /// Stable id, shown with every decision it contributes to.
    pub id: Arc<str>,
    /// What it is for, for analysts.
    pub description: Option<String>,
    /// The `when` source text.
    pub when: String,
    /// The compiled condition.
    pub cond: Compiled,
    /// Its verdict when it matches.
    pub verdict: Verdict,
    /// Its score contribution, -100..=100.
    pub score: i32,
    /// Reason in Korean.
    pub ko: Arc<str>,
    /// Reason in English.
    pub en: Arc<str>,
    /// Typology tags.
    pub tags: Arc<[Arc<str>]>,
    /// For `hold`: minutes to delay (else the ruleset default).
    pub hold_minutes: Option<u32>,
    /// For `warn`: the confirm dialog, if different from the reason.
    pub confirm: Option<Confirm>,
    /// Disabled rules are checked and compiled but never evaluated.
    pub enabled: bool,
    /// Shadow rules are evaluated and recorded with the decision but never change its verdict
    /// or score: how a rule is tried on live traffic before it acts.
    pub shadow: bool,
}

/// The transaction model's inputs: expressions in the rule language (numbers, or conditions
/// read as 1/0), compiled once. Training and serving turn an event into the model's vector
/// with this same code ([`Snapshot::model_vector`]), so they cannot drift apart.
pub struct ModelInputs {
    /// Each input's source text: the model's feature names.
    pub names: Vec<String>,
    /// The compiled inputs.
    pub values: Vec<rules::CompiledValue>,
}

/// A compiled, immutable ruleset: what [`crate::decide`] reads. Cheap to share (`Arc`).
pub struct Snapshot {
    /// Ruleset name (usually the affiliate, or `group`).
    pub name: String,
    /// Version number, increasing with each publish.
    pub version: u32,
    /// `name@vN`, stamped on every decision.
    pub label: Arc<str>,
    /// What the ruleset is for.
    pub description: Option<String>,
    /// Rules in file order.
    pub rules: Vec<CompiledRule>,
    /// Features in file order; feature `i` is slot `i`.
    pub features: Vec<FeatureDef>,
    /// Signal providers and the slot range each fills, after the features.
    pub providers: Vec<(Arc<dyn SignalProvider>, Range<usize>)>,
    /// The schema rules were checked against (slot names and types).
    pub schema: Schema,
    /// Score thresholds.
    pub thresholds: Thresholds,
    /// Hold duration when a holding rule names none.
    pub default_hold_minutes: u32,
    /// The source text it was compiled from.
    pub source: String,
    /// The `[model]` inputs, when the ruleset declares them.
    pub model_inputs: Option<ModelInputs>,
    /// The transaction model, attached by the caller ([`Snapshot::attach_model`]).
    pub model: Option<Arc<model::Gbdt>>,
    /// The slot of `model.score` (the calibrated probability, per mille).
    pub model_slot: usize,
    /// The slots of `signals.counterparty_reported` and `signals.counterparty_confirmed`: the
    /// registry's word on the recipient, which the decision's shield shows.
    pub registry_slots: (usize, usize),
}

impl std::fmt::Debug for Snapshot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Snapshot")
            .field("label", &self.label)
            .field("rules", &self.rules.len())
            .field("features", &self.features.len())
            .finish()
    }
}

/// Signals every ruleset may read, filled by the group's indicator registry where it runs
/// (`app`): how often, and how firmly, the event's counterparty, device or IP was reported by
/// any affiliate.
pub const STANDARD_SIGNALS: &[(&str, Type)] = &[
    ("counterparty_reported", Type::Bool),
    ("counterparty_confirmed", Type::Bool),
    ("counterparty_reports", Type::Int),
    ("counterparty_affiliates", Type::Int),
    ("device_reported", Type::Bool),
    ("ip_reported", Type::Bool),
    ("url_reported", Type::Bool),
];

/// Default lateness tolerance for out-of-order events.
pub const DEFAULT_LATENESS_MS: i64 = 10 * 60_000;

/// Maps every byte offset of a TOML string's decoded value (`0..=value.len()`) to its byte
/// offset in the file, following escapes and line-ending backslashes in basic strings, so a
/// diagnostic inside `when = "kind == \"x\""` points at the right column. `None` when the
/// token cannot be followed; the caller then falls back to the start of the token.
fn value_offsets(src: &str, span: &Range<usize>, value: &str) -> Option<Vec<usize>> {
    let raw = src.get(span.clone())?;
    let (delim, basic) = [("\"\"\"", true), ("'''", false), ("\"", true), ("'", false)]
        .into_iter()
        .find(|(d, _)| raw.len() >= 2 * d.len() && raw.starts_with(d) && raw.ends_with(d))?;
    let mut start = span.start + delim.len();
    let mut body = &raw[delim.len()..raw.len() - delim.len()];
    if delim.len() == 3
        && let Some(r) = body.strip_prefix("\r\n").or_else(|| body.strip_prefix('\n'))
    {
        start += body.len() - r.len();
        body = r;
    }
    let mut map = Vec::with_capacity(value.len() + 1);
    let mut chars = body.char_indices().peekable();
    while let Some((i, c)) = chars.next() {
        let at = start + i;
        if !(basic && c == '\\') {
            map.extend((0..c.len_utf8()).map(|k| at + k));
            continue;
        }
        let decoded = match chars.next()?.1 {
            'b' | 't' | 'n' | 'f' | 'r' | '"' | '\\' | 'e' => 1,
            e @ ('u' | 'U' | 'x') => {
                let digits = match e {
                    'u' => 4,
                    'U' => 8,
                    _ => 2,
                };
                let hex: String = (0..digits).map(|_| chars.next().map(|(_, h)| h)).collect::<Option<_>>()?;
                char::from_u32(u32::from_str_radix(&hex, 16).ok()?)?.len_utf8()
            }
            w if w.is_whitespace() => {
                // A line-ending backslash: the newline and the whitespace after it vanish.
                while chars.next_if(|(_, c)| c.is_whitespace()).is_some() {}
                0
            }
            _ => return None,
        };
        map.extend(std::iter::repeat_n(at, decoded));
    }
    map.push(start + body.len());
    (map.len() == value.len() + 1).then_some(map)
}

struct Ctx<'a> {
    src: &'a str,
    diags: Vec<Diagnostic>,
}

impl Ctx<'_> {
    fn err(&mut self, item: Option<&str>, d: Diagnostic) {
        let mut d = d.locate(self.src);
        d.item = item.map(str::to_string);
        self.diags.push(d);
    }

    fn at(&mut self, item: Option<&str>, code: &'static str, span: Range<usize>, msg: impl Into<String>) {
        self.err(item, Diagnostic::new(code, span, msg));
    }

    /// Compiles an expression embedded in the file at `spanned`.
    fn value(&mut self, item: &str, spanned: &Spanned<String>, schema: &Schema) -> Option<rules::CompiledValue> {
        let (span, text) = (spanned.span(), spanned.get_ref());
        let checked = rules::syntax::parse(text).and_then(|e| {
            let t = rules::check(&e, schema)?;
            rules::compile_value(&t).ok_or_else(|| {
                Diagnostic::new(
                    "model-input-text",
                    e.span.clone(),
                    "a model input must be a number or true/false, not text",
                )
                .suggest("compare it, e.g. `event.channel == 'atm'`")
            })
        });
        match checked {
            Ok(v) => Some(v),
            Err(d) => {
                let d = match value_offsets(self.src, &span, text) {
                    Some(map) => {
                        let at = |i: usize| map[i.min(text.len())];
                        Diagnostic { span: at(d.span.start)..at(d.span.end), ..d }
                    }
                    None => d.shift(span.start),
                };
                self.err(Some(item), d);
                None
            }
        }
    }

    fn condition(&mut self, item: &str, spanned: &Spanned<String>, schema: &Schema) -> Option<Compiled> {
        let (span, value) = (spanned.span(), spanned.get_ref());
        match rules::compile_condition(value, schema) {
            Ok(c) => Some(c),
            Err(d) => {
                let d = match value_offsets(self.src, &span, value) {
                    Some(map) => {
                        let at = |i: usize| map[i.min(value.len())];
                        let start = at(d.span.start);
                        let end = at(d.span.end);
                        Diagnostic { span: start..end, ..d }
                    }
                    None => d.shift(span.start),
                };
                self.err(Some(item), d);
                None
            }
        }
    }
}

fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-')
        && s.len() <= 64
}

impl Snapshot {
    /// Compiles a ruleset file with no signal providers.
    pub fn compile(src: &str) -> Result<Snapshot, Vec<Diagnostic>> {
        Snapshot::compile_with(src, Vec::new())
    }

    /// Compiles a ruleset file; rules may read the `signals.*` the providers declare.
    pub fn compile_with(src: &str, providers: Vec<Arc<dyn SignalProvider>>) -> Result<Snapshot, Vec<Diagnostic>> {
        let raw: RawFile = match toml::from_str(src) {
            Ok(r) => r,
            Err(e) => {
                let span = e.span().unwrap_or(0..0);
                let msg = e.message().trim().to_string();
                let d = Diagnostic::new("invalid-toml", span, msg.clone());
                let d = match msg.strip_prefix("unknown field `").and_then(|m| m.split('`').next()) {
                    Some(_) if msg.contains("expected one of") => {
                        d.suggest("check the spelling against the allowed keys listed above")
                    }
                    _ => d,
                };
                return Err(vec![d.locate(src)]);
            }
        };
        let mut cx = Ctx { src, diags: Vec::new() };
        let header = raw.ruleset.into_inner();
        let name = header.name.get_ref().clone();
        if !valid_name(&name) {
            cx.at(
                None,
                "invalid-name",
                header.name.span(),
                format!("ruleset name {name:?} must be lowercase letters, digits, `-` or `_`"),
            );
        }
        let version = match u32::try_from(*header.version.get_ref()) {
            Ok(v) if v >= 1 => v,
            _ => {
                cx.at(None, "invalid-version", header.version.span(), "version must be a whole number from 1");
                1
            }
        };
        let lateness_ms = match &header.lateness {
            None => DEFAULT_LATENESS_MS,
            Some(l) => match Window::parse(l.get_ref()) {
                Ok(w) if w.ms <= 86_400_000 => w.ms,
                Ok(_) => {
                    cx.at(None, "invalid-window", l.span(), "lateness tolerance must be at most 1d");
                    DEFAULT_LATENESS_MS
                }
                Err(e) => {
                    cx.at(None, "invalid-window", l.span(), e);
                    DEFAULT_LATENESS_MS
                }
            },
        };
        let default_hold_minutes = match &header.default_hold_minutes {
            None => 30,
            Some(h) => match u32::try_from(*h.get_ref()) {
                Ok(m) if (1..=10_080).contains(&m) => m,
                _ => {
                    cx.at(None, "invalid-hold", h.span(), "hold minutes must be 1 to 10080 (one week)");
                    30
                }
            },
        };
        let mut thresholds = Thresholds::default();
        if let Some(t) = &header.thresholds {
            let mut last: Option<u8> = None;
            for (slot, raw) in
                [(&mut thresholds.warn, &t.warn), (&mut thresholds.hold, &t.hold), (&mut thresholds.block, &t.block)]
            {
                let Some(raw) = raw else { continue };
                match u8::try_from(*raw.get_ref()) {
                    Ok(v) if (1..=100).contains(&v) && last.is_none_or(|l| v > l) => {
                        *slot = Some(v);
                        last = Some(v);
                    }
                    _ => cx.at(
                        None,
                        "invalid-threshold",
                        raw.span(),
                        "thresholds must be 1 to 100 and increase from warn to hold to block",
                    ),
                }
            }
        }

        // Filters read the event only (features are what they feed; signals come later).
        let filter_schema = Schema::new();
        let mut features = Vec::new();
        let mut schema = Schema::new();
        let mut feature_names = HashSet::new();
        for f in raw.feature {
            let f = f.into_inner();
            let fname = f.name.get_ref().clone();
            let item = format!("feature `{fname}`");
            if !valid_name(&fname) || fname.contains('-') {
                cx.at(
                    Some(&item),
                    "invalid-name",
                    f.name.span(),
                    format!("feature name {fname:?} must be lowercase letters, digits and `_`"),
                );
            }
            if !feature_names.insert(fname.clone()) {
                cx.at(Some(&item), "duplicate-feature", f.name.span(), format!("feature `{fname}` is declared twice"));
                continue;
            }
            let kind = match FeatureKind::parse(f.kind.get_ref()) {
                Some(k) => k,
                None => {
                    let mut d = Diagnostic::new(
                        "unknown-feature-kind",
                        f.kind.span(),
                        format!(
                            "unknown feature kind {:?}; the kinds are count, sum, distinct, first_seen",
                            f.kind.get_ref()
                        ),
                    );
                    if let Some(n) = nearest(f.kind.get_ref(), FeatureKind::ALL.map(FeatureKind::as_str)) {
                        d = d.suggest(format!("did you mean \"{n}\"?"));
                    }
                    cx.err(Some(&item), d);
                    // Declare the slot anyway so rules reading it get no second error.
                    schema.declare(format!("features.{fname}"), Type::Int);
                    continue;
                }
            };
            schema.declare(format!("features.{fname}"), kind.value_type());
            let mut ok = true;
            let window = match Window::parse(f.window.get_ref()) {
                Ok(w) => {
                    let max = if kind == FeatureKind::FirstSeen { MAX_FIRST_SEEN_WINDOW_MS } else { MAX_WINDOW_MS };
                    if w.ms < MIN_WINDOW_MS || w.ms > max {
                        cx.at(
                            Some(&item),
                            "invalid-window",
                            f.window.span(),
                            format!(
                                "window must be from 1m to {} for {}",
                                if kind == FeatureKind::FirstSeen { "400d" } else { "30d" },
                                kind.as_str()
                            ),
                        );
                        ok = false;
                    }
                    w
                }
                Err(e) => {
                    cx.at(Some(&item), "invalid-window", f.window.span(), e);
                    ok = false;
                    Window { ms: MIN_WINDOW_MS }
                }
            };
            let key = key_parts(&mut cx, &item, &f.key, &mut ok);
            let read_key = f.read_key.as_ref().map(|rk| key_parts(&mut cx, &item, rk, &mut ok));
            let value = match (&f.value, kind.needs_value()) {
                (None, true) => {
                    cx.at(
                        Some(&item),
                        "missing-value",
                        f.kind.span(),
                        format!("a {} feature needs `value = \"<field>\"`", kind.as_str()),
                    );
                    ok = false;
                    None
                }
                (Some(v), false) => {
                    cx.at(
                        Some(&item),
                        "unexpected-value",
                        v.span(),
                        "a count feature counts events and takes no `value`; use `sum` to add up a field",
                    );
                    ok = false;
                    None
                }
                (None, false) => None,
                (Some(v), true) => match field_part(v.get_ref()) {
                    Ok(part) if kind == FeatureKind::Sum && part.getter.ty() != Type::Int => {
                        cx.at(
                            Some(&item),
                            "value-type",
                            v.span(),
                            format!("`sum` adds numbers, but `{}` is {}", part.path, part.getter.ty().name()),
                        );
                        ok = false;
                        None
                    }
                    Ok(part) => Some(part),
                    Err(d) => {
                        cx.err(Some(&item), d.relocate(v.span()));
                        ok = false;
                        None
                    }
                },
            };
            let filter = match &f.filter {
                None => None,
                Some(w) if w.get_ref().contains("features.") => {
                    cx.at(
                        Some(&item),
                        "filter-reads-feature",
                        w.span(),
                        "a feature's `where` filter cannot read features; it decides which events the feature counts",
                    );
                    ok = false;
                    None
                }
                Some(w) => match cx.condition(&item, w, &filter_schema) {
                    Some(c) => Some(c),
                    None => {
                        ok = false;
                        None
                    }
                },
            };
            let _ = f.description;
            if ok {
                features.push(FeatureDef {
                    name: fname,
                    kind,
                    key,
                    read_key,
                    value,
                    window,
                    filter,
                    filter_src: f.filter.map(Spanned::into_inner),
                    lateness_ms,
                    fingerprint_cache: std::sync::OnceLock::new(),
                });
            }
        }
        let features_ok = features.len() == schema.slots.len();

        let mut provider_slots = Vec::new();
        for p in providers {
            let start = schema.slots.len();
            for (name, ty) in p.declare() {
                schema.declare(format!("signals.{name}"), ty);
            }
            let end = schema.slots.len();
            provider_slots.push((p, start..end));
        }
        // The group registry's signals are part of the language: a ruleset that reads them
        // compiles everywhere; without a provider (pure replays, tests) they read as absent.
        for (name, ty) in STANDARD_SIGNALS {
            let full = format!("signals.{name}");
            if schema.slot(&full).is_none() {
                schema.declare(full, *ty);
            }
        }

        let registry_slots = (
            schema.slot("signals.counterparty_reported").map_or(usize::MAX, |(i, _)| i),
            schema.slot("signals.counterparty_confirmed").map_or(usize::MAX, |(i, _)| i),
        );
        // The model's score is part of the language too: per mille, absent without a model.
        let model_slot = schema.slots.len();
        schema.declare("model.score".to_string(), Type::Int);
        let model_inputs = match raw.model {
            None => None,
            Some(m) => {
                let m = m.into_inner();
                let _ = m.description;
                let mut names = Vec::new();
                let mut values = Vec::new();
                for (i, input) in m.inputs.iter().enumerate() {
                    let item = format!("model input {}", i + 1);
                    if input.get_ref().contains("model.score") {
                        cx.at(
                            Some(&item),
                            "model-input-cycle",
                            input.span(),
                            "a model input cannot read the model's own score",
                        );
                        continue;
                    }
                    if let Some(v) = cx.value(&item, input, &schema) {
                        names.push(input.get_ref().clone());
                        values.push(v);
                    }
                }
                Some(ModelInputs { names, values })
            }
        };

        let mut rules = Vec::new();
        let mut ids = HashSet::new();
        for r in raw.rule {
            let r = r.into_inner();
            let id = r.id.get_ref().clone();
            let item = format!("rule `{id}`");
            if !valid_name(&id) {
                cx.at(
                    Some(&item),
                    "invalid-name",
                    r.id.span(),
                    format!("rule id {id:?} must be lowercase letters, digits, `-` or `_`"),
                );
            }
            if !ids.insert(id.clone()) {
                cx.at(Some(&item), "duplicate-rule", r.id.span(), format!("rule id `{id}` is used twice"));
            }
            let verdict = match Verdict::parse(r.verdict.get_ref()) {
                Some(v) => v,
                None => {
                    let mut d = Diagnostic::new(
                        "unknown-verdict",
                        r.verdict.span(),
                        format!("unknown verdict {:?}; the verdicts are allow, warn, hold, block", r.verdict.get_ref()),
                    );
                    if let Some(n) = nearest(r.verdict.get_ref(), Verdict::ALL.map(Verdict::as_str)) {
                        d = d.suggest(format!("did you mean \"{n}\"?"));
                    }
                    cx.err(Some(&item), d);
                    Verdict::Allow
                }
            };
            let score = match &r.score {
                None => 0,
                Some(s) => match i32::try_from(*s.get_ref()) {
                    Ok(v) if (-100..=100).contains(&v) => v,
                    _ => {
                        cx.at(
                            Some(&item),
                            "score-out-of-range",
                            s.span(),
                            format!("score {} is outside -100..=100", s.get_ref()),
                        );
                        0
                    }
                },
            };
            let reason = r.reason.get_ref();
            if reason.ko.trim().is_empty() || reason.en.trim().is_empty() {
                cx.at(
                    Some(&item),
                    "empty-reason",
                    r.reason.span(),
                    "a rule needs a reason in both Korean (ko) and English (en): users see it",
                );
            }
            let hold_minutes = match &r.hold_minutes {
                None => None,
                Some(h) if verdict != Verdict::Hold => {
                    cx.at(
                        Some(&item),
                        "invalid-hold",
                        h.span(),
                        format!("hold_minutes only applies to `hold` rules, this one is `{verdict}`"),
                    );
                    None
                }
                Some(h) => match u32::try_from(*h.get_ref()) {
                    Ok(m) if (1..=10_080).contains(&m) => Some(m),
                    _ => {
                        cx.at(Some(&item), "invalid-hold", h.span(), "hold minutes must be 1 to 10080 (one week)");
                        None
                    }
                },
            };
            let cond = if features_ok || !r.when.get_ref().contains("features.") {
                cx.condition(&item, &r.when, &schema)
            } else {
                // A broken feature was already reported; checking rules against a partial
                // schema would add misleading "unknown feature" errors.
                None
            };
            if let Some(cond) = cond {
                rules.push(CompiledRule {
                    id: Arc::from(id.as_str()),
                    description: r.description,
                    when: r.when.get_ref().clone(),
                    cond,
                    verdict,
                    score,
                    ko: Arc::from(reason.ko.as_str()),
                    en: Arc::from(reason.en.as_str()),
                    tags: r.tags.iter().map(|t| Arc::from(t.as_str())).collect(),
                    hold_minutes,
                    confirm: r.confirm.map(|c| Confirm { ko: c.ko, en: c.en }),
                    enabled: r.enabled,
                    shadow: r.shadow,
                });
            }
        }
        if !cx.diags.is_empty() {
            let mut d = cx.diags;
            d.sort_by_key(|d| d.span.start);
            return Err(d);
        }
        Ok(Snapshot {
            label: Arc::from(format!("{name}@v{version}").as_str()),
            name,
            version,
            description: header.description,
            rules,
            features,
            providers: provider_slots,
            schema,
            thresholds,
            default_hold_minutes,
            source: src.to_string(),
            model_inputs,
            model: None,
            model_slot,
            registry_slots,
        })
    }

    /// Attaches a trained model: its feature names must be this ruleset's `[model]` inputs, in
    /// order (a model trained for other inputs would read the wrong values).
    pub fn attach_model(&mut self, m: Arc<model::Gbdt>) -> Result<(), String> {
        let Some(inputs) = &self.model_inputs else {
            return Err("the ruleset has no [model] section to feed the model".into());
        };
        if inputs.names != m.features {
            return Err(format!(
                "the model was trained on inputs {:?} but the ruleset declares {:?}",
                m.features, inputs.names
            ));
        }
        self.model = Some(m);
        Ok(())
    }

    /// The model's input vector for `event` with the feature and signal values in `slots`.
    pub fn model_vector(&self, event: &Event, slots: &[Option<i64>], out: &mut Vec<f32>) {
        out.clear();
        if let Some(inputs) = &self.model_inputs {
            let ctx = rules::Ctx::new(event, slots);
            out.extend(inputs.values.iter().map(|v| v.eval_f32(&ctx)));
        }
    }

    /// Number of slots (features then signals) a decision fills.
    pub fn slot_count(&self) -> usize {
        self.schema.slots.len()
    }
}

trait Relocate {
    fn relocate(self, span: Range<usize>) -> Self;
}

impl Relocate for Diagnostic {
    /// Places a diagnostic raised on a bare path at the TOML value that holds it.
    fn relocate(mut self, span: Range<usize>) -> Self {
        self.span = span;
        self
    }
}

/// Resolves a `key` or `read_key`: one field path or a list of them.
fn key_parts(cx: &mut Ctx<'_>, item: &str, raw: &Spanned<toml::Value>, ok: &mut bool) -> Vec<KeyPart> {
    let paths: Vec<String> = match raw.get_ref() {
        toml::Value::String(s) => vec![s.clone()],
        toml::Value::Array(items) if !items.is_empty() && items.iter().all(toml::Value::is_str) => {
            items.iter().filter_map(|v| v.as_str().map(str::to_string)).collect()
        }
        _ => {
            cx.at(
                Some(item),
                "invalid-key",
                raw.span(),
                "a key must be a field path or a list of field paths, e.g. \"subject.id\"",
            );
            *ok = false;
            return Vec::new();
        }
    };
    let mut parts = Vec::new();
    for p in paths {
        match field_part(&p) {
            Ok(part) => parts.push(part),
            Err(d) => {
                cx.err(Some(item), d.relocate(raw.span()));
                *ok = false;
            }
        }
    }
    parts
}

/// Resolves a key or value field path.
fn field_part(path: &str) -> Result<KeyPart, Diagnostic> {
    let schema = Schema::new();
    match schema.field(path) {
        Some(f) => Ok(KeyPart { path: f.path.to_string(), getter: f.getter }),
        None => {
            let d = Diagnostic::new("unknown-field", 0..0, format!("unknown field `{path}`"));
            let d = if path.starts_with("features.") || path.starts_with("signals.") {
                d.suggest("keys and values are event fields, such as subject.id or counterparty.account_key")
            } else {
                match nearest(path, schema.names()) {
                    Some(n) => d.suggest(format!("did you mean `{n}`?")),
                    None => d,
                }
            };
            Err(d)
        }
    }
}

/// Holds the active snapshot of one ruleset and swaps it atomically on publish.
///
/// Readers take an `Arc` clone under a read lock held for a few nanoseconds; a publish
/// compiles outside the lock and only then swaps, so a decision never waits on compilation
/// and a broken ruleset never becomes active.
pub struct SnapshotCell {
    active: RwLock<Arc<Snapshot>>,
}

impl SnapshotCell {
    /// Starts with `snapshot` active.
    pub fn new(snapshot: Snapshot) -> Self {
        SnapshotCell { active: RwLock::new(Arc::new(snapshot)) }
    }

    /// The active snapshot.
    pub fn load(&self) -> Arc<Snapshot> {
        match self.active.read() {
            Ok(g) => Arc::clone(&g),
            Err(poisoned) => Arc::clone(&poisoned.into_inner()),
        }
    }

    /// Compiles `src` and, only if it compiles, makes it active. Returns the new snapshot or
    /// the diagnostics, leaving the active snapshot untouched.
    pub fn publish(
        &self,
        src: &str,
        providers: Vec<Arc<dyn SignalProvider>>,
    ) -> Result<Arc<Snapshot>, Vec<Diagnostic>> {
        let snap = Arc::new(Snapshot::compile_with(src, providers)?);
        self.swap(Arc::clone(&snap));
        Ok(snap)
    }

    /// Makes an already compiled snapshot active (rollback to a kept snapshot).
    pub fn swap(&self, snap: Arc<Snapshot>) {
        match self.active.write() {
            Ok(mut g) => *g = snap,
            Err(poisoned) => *poisoned.into_inner() = snap,
        }
    }
}
