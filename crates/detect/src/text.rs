//! The message classifier: features of a message's text for the hashed linear model, the
//! built-in model, and training.
//!
//! Features of the normalised text: character n-grams (2–5) inside each word with start and
//! end markers, word unigrams and bigrams, plus a few shape indicators (a link, a long digit
//! run such as a phone or premium number, a currency amount, shouting in capitals, many
//! exclamation marks, length and digit-ratio buckets). Counts are damped (`1 + ln tf`), each
//! feature is signed-hashed (colliding features cancel on average instead of adding up) and
//! the vector is scaled to unit length. Hashing runs over the characters directly: no string
//! is allocated per n-gram.
//!
//! Text the model never saw in training (Korean, for the built-in English model) has weights
//! of zero on its n-grams, so it scores near the (negative) bias.

use std::sync::OnceLock;

use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::linear::{self, Features, LinearModel, ModelKind, TrainConfig};
use crate::normalize::{Normalized, normalize};

/// Version of [`features`]; a model trained with another version is refused.
pub const FEATURE_SET: u32 = 1;

/// Knobs of the featurizer (for experiments; [`features`] uses [`Opts::DEFAULT`]).
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Opts {
    pub min_n: usize,
    pub max_n: usize,
    pub digits_as_zero: bool,
    pub words: bool,
    pub bigrams: bool,
    pub symbols: bool,
    pub indicators: bool,
    pub signed: bool,
    pub sublinear: bool,
    pub w_char: f32,
    pub w_word: f32,
    pub w_ind: f32,
    pub namespace: bool,
    pub ns_indicators: bool,
    pub prior: bool,
}

impl Opts {
    /// The settings of [`features`].
    pub const DEFAULT: Opts = Opts {
        min_n: 2,
        max_n: 5,
        digits_as_zero: false,
        words: true,
        bigrams: true,
        symbols: true,
        indicators: true,
        signed: true,
        sublinear: true,
        w_char: 1.0,
        w_word: 1.0,
        w_ind: 1.0,
        namespace: true,
        ns_indicators: false,
        prior: true,
    };
}

// Seeds of the feature families.
const SEED_CHAR: u64 = 0x6368_6172_6e67_7261;
const SEED_WORD: u64 = 0x776f_7264_756e_6931;
const SEED_BIGRAM: u64 = 0x776f_7264_6269_6732;
const SEED_SYMBOL: u64 = 0x7379_6d62_6f6c_7331;
const SEED_IND: u64 = 0x696e_6469_6361_7431;

// Word markers for the character n-grams: outside the Unicode range, so no character equals them.
const START: u64 = 0x11_0001;
const END: u64 = 0x11_0002;

/// Indices `0..RESERVED` hold the prior of each script (see [`script`]); hashed features avoid them.
const RESERVED: u32 = 4;

/// The bias of a model trained by [`train`]: the prior of a script the training data had no
/// message in. Each script seen in training keeps its own prior in its reserved weight.
pub const UNSEEN_SCRIPT_BIAS: f32 = -6.0;

const MUL: u64 = 0x9E37_79B9_7F4A_7C15;

/// One step of the rolling n-gram hash.
#[inline]
fn mix(h: u64, x: u64) -> u64 {
    (h ^ x).wrapping_mul(MUL).rotate_left(31)
}

/// Final avalanche (murmur3 fmix64), so the low bits and the sign bit are well spread.
#[inline]
fn finish(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

/// Collects hashed feature keys with their family weight; a key is the index with the sign in
/// the top bit.
struct Sink {
    mask: u64,
    signed: bool,
    /// Mixed into every lexical hash: the message's main script.
    ns: u64,
    /// Mixed into every indicator hash.
    ns_ind: u64,
    keys: Vec<(u32, f32)>,
}

impl Sink {
    #[inline]
    fn push(&mut self, h: u64, w: f32) {
        let h = finish(h ^ self.ns);
        let mut idx = (h & self.mask) as u32;
        if idx < RESERVED {
            idx += RESERVED;
        }
        let neg = self.signed && (h >> 63) == 1;
        self.keys.push((idx | (u32::from(neg) << 31), w));
    }

    fn indicator(&mut self, name: &[u8], w: f32) {
        let (ns, ind) = (self.ns, self.ns_ind);
        self.ns = ind;
        self.push(xxh3_64_with_seed(name, SEED_IND), w);
        self.ns = ns;
    }
}

/// Hashed features of a normalised message (`raw` is the text as received).
pub fn features(n: &Normalized, raw: &str, bits: u8) -> Features {
    features_with(&Opts::DEFAULT, n, raw, bits)
}

/// [`features`] with explicit settings.
#[doc(hidden)]
pub fn features_with(o: &Opts, n: &Normalized, raw: &str, bits: u8) -> Features {
    let bits = bits.clamp(1, 30);
    let text = n.text.as_str();
    let sc = script(text);
    let ns = if o.namespace { u64::from(sc).wrapping_mul(MUL) } else { 0 };
    let mut sink = Sink {
        mask: (1u64 << bits.max(3)) - 1,
        signed: o.signed,
        ns,
        ns_ind: if o.ns_indicators { ns } else { 0 },
        keys: Vec::with_capacity(n.text.len() * 4 + 16),
    };

    // Words: maximal runs of letters and digits; other non-space characters are symbols.
    let mut codes: Vec<u64> = Vec::with_capacity(64);
    let mut prev_word: Option<u64> = None;
    let mut start: Option<usize> = None;
    let flush = |sink: &mut Sink, codes: &mut Vec<u64>, word: &str, prev: &mut Option<u64>| {
        if o.w_char > 0.0 {
            char_ngrams(sink, codes, word, o);
        }
        let h = xxh3_64_with_seed(word.as_bytes(), SEED_WORD);
        if o.words {
            sink.push(h, o.w_word);
        }
        if o.bigrams
            && let Some(p) = *prev
        {
            sink.push(mix(mix(SEED_BIGRAM, p), h), o.w_word);
        }
        *prev = Some(h);
    };
    for (i, c) in text.char_indices() {
        if c.is_alphanumeric() {
            if start.is_none() {
                start = Some(i);
            }
            continue;
        }
        if let Some(s) = start.take() {
            flush(&mut sink, &mut codes, &text[s..i], &mut prev_word);
        }
        if o.symbols && !c.is_whitespace() {
            sink.push(mix(SEED_SYMBOL, u64::from(c)), o.w_word);
        }
    }
    if let Some(s) = start {
        flush(&mut sink, &mut codes, &text[s..], &mut prev_word);
    }
    if o.indicators {
        indicators(&mut sink, n, raw, o.w_ind);
    }
    let mut f = finalize(sink.keys, o.sublinear);
    if o.prior {
        f.push((sc, 1.0));
    }
    f
}

/// The namespace of the message's main script: 0 for Latin (or no letters), another
/// constant when most letters are Hangul, or of some other script.
fn script(text: &str) -> u32 {
    let (mut latin, mut hangul, mut other) = (0usize, 0usize, 0usize);
    for c in text.chars() {
        if c.is_ascii_alphabetic() || ('\u{00C0}'..='\u{024F}').contains(&c) {
            latin += 1;
        } else if matches!(c, '\u{AC00}'..='\u{D7A3}' | '\u{1100}'..='\u{11FF}' | '\u{3130}'..='\u{318F}') {
            hangul += 1;
        } else if c.is_alphabetic() {
            other += 1;
        }
    }
    if hangul > latin && hangul >= other {
        1
    } else if other > latin && other > hangul {
        2
    } else {
        0
    }
}

/// Character n-grams of one word with start and end markers.
fn char_ngrams(sink: &mut Sink, codes: &mut Vec<u64>, word: &str, o: &Opts) {
    codes.clear();
    codes.push(START);
    codes.extend(
        word.chars().map(|c| if o.digits_as_zero && c.is_ascii_digit() { u64::from('0') } else { u64::from(c) }),
    );
    codes.push(END);
    let len = codes.len();
    for i in 0..len {
        let mut h = SEED_CHAR;
        for (k, &c) in codes[i..len.min(i + o.max_n)].iter().enumerate() {
            h = mix(h, c);
            if k + 1 >= o.min_n {
                sink.push(h, o.w_char);
            }
        }
    }
}

/// Merges repeated keys into `(index, ±weight·(1 + ln count))` and scales to unit length.
fn finalize(mut keys: Vec<(u32, f32)>, sublinear: bool) -> Features {
    keys.sort_unstable_by_key(|k| k.0);
    let mut out: Features = Vec::with_capacity(keys.len());
    let mut i = 0;
    while i < keys.len() {
        let key = keys[i].0;
        let mut j = i;
        let mut sum = 0.0;
        while j < keys.len() && keys[j].0 == key {
            sum += keys[j].1;
            j += 1;
        }
        let count = (j - i) as f32;
        // Damped count, keeping the family weight (`sum / count` for one family).
        let v = if sublinear { (sum / count) * (1.0 + count.ln()) } else { sum };
        let idx = key & 0x7FFF_FFFF;
        out.push((idx, if key >> 31 == 1 { -v } else { v }));
        i = j;
    }
    linear::l2_normalise(&mut out);
    out
}

/// Shape indicators of the message: links, long digit runs, money, capitals, exclamation
/// marks, length and digit ratio.
fn indicators(sink: &mut Sink, n: &Normalized, raw: &str, w: f32) {
    let t = n.text.as_str();
    if t.contains("://") || t.contains("www.") || has_domain(t) {
        sink.indicator(b"url", w);
    }
    // Digit runs (a space or dash inside a number does not end it).
    let bytes = t.as_bytes();
    let mut i = 0;
    let (mut long_runs, mut digits) = (0usize, 0usize);
    while i < bytes.len() {
        if !bytes[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let mut d = 0;
        let mut first = [0u8; 2];
        while i < bytes.len() {
            if bytes[i].is_ascii_digit() {
                if d < 2 {
                    first[d] = bytes[i];
                }
                d += 1;
                i += 1;
            } else if (bytes[i] == b' ' || bytes[i] == b'-')
                && i + 1 < bytes.len()
                && bytes[i + 1].is_ascii_digit()
                && d >= 3
            {
                i += 1;
            } else {
                break;
            }
        }
        digits += d;
        if d >= 5 {
            long_runs += 1;
            let name: &[u8] = match d {
                5 => b"digits5",
                6..=9 => b"digits6-9",
                10..=11 => b"digits10-11",
                _ => b"digits12+",
            };
            sink.indicator(name, w);
            if d >= 10 && &first == b"08" {
                sink.indicator(b"premium08", w);
            } else if d >= 10 && &first == b"09" {
                sink.indicator(b"premium09", w);
            } else if d >= 10 && &first == b"07" {
                sink.indicator(b"mobile07", w);
            }
        }
    }
    if long_runs >= 2 {
        sink.indicator(b"digit-runs2+", w);
    }
    // Money: a currency symbol, and an amount next to it.
    let mut currency = false;
    let mut amount = false;
    let chars: Vec<char> = t.chars().collect();
    for (k, &c) in chars.iter().enumerate() {
        let sym = matches!(c, '£' | '$' | '€' | '₩' | '¥');
        let won = c == '원' && k > 0 && chars[k - 1].is_ascii_digit();
        if sym || won {
            currency = true;
            let before = k > 0 && chars[k - 1].is_ascii_digit();
            let after = chars.get(k + 1).is_some_and(|c| c.is_ascii_digit());
            amount |= before || after;
        }
    }
    if !amount && has_won_amount(t) {
        currency = true;
        amount = true;
    }
    if currency {
        sink.indicator(b"currency", w);
    }
    if amount {
        sink.indicator(b"amount", w);
    }
    // Capitals: the share of cased words written all in capitals (none if no cased words).
    let (mut cased, mut caps) = (0usize, 0usize);
    for word in raw.split_whitespace() {
        let letters = word.chars().filter(|c| c.is_alphabetic());
        let (mut up, mut low) = (0, 0);
        for c in letters {
            if c.is_uppercase() {
                up += 1;
            } else if c.is_lowercase() {
                low += 1;
            }
        }
        if up + low >= 2 {
            cased += 1;
            if low == 0 {
                caps += 1;
            }
        }
    }
    if cased > 0 {
        let r = caps as f32 / cased as f32;
        sink.indicator(
            match r {
                r if r == 0.0 => b"caps0",
                r if r <= 0.2 => b"caps-low",
                r if r <= 0.5 => b"caps-mid",
                _ => b"caps-high",
            },
            w,
        );
    }
    let bangs = t.matches('!').count();
    if bangs > 0 {
        sink.indicator(
            match bangs {
                1 => b"bang1",
                2..=3 => b"bang2-3",
                _ => b"bang4+",
            },
            w,
        );
    }
    let len = chars.len();
    sink.indicator(
        match len {
            0..20 => b"len<20",
            20..50 => b"len<50",
            50..100 => b"len<100",
            100..140 => b"len<140",
            _ => b"len140+",
        },
        w,
    );
    if len > 0 && digits > 0 {
        let r = digits as f32 / len as f32;
        sink.indicator(
            match r {
                r if r <= 0.05 => b"digit-ratio-low",
                r if r <= 0.15 => b"digit-ratio-mid",
                _ => b"digit-ratio-high",
            },
            w,
        );
    }
}

/// A domain-like token: letters, a dot, then a common top-level domain.
fn has_domain(t: &str) -> bool {
    const TLDS: [&str; 10] = [".com", ".net", ".org", ".co.uk", ".biz", ".info", ".ly", ".kr", ".me", ".io"];
    TLDS.iter().any(|tld| {
        t.match_indices(tld).any(|(i, _)| {
            let before = t[..i].chars().next_back().is_some_and(|c| c.is_ascii_alphanumeric());
            let after = t[i + tld.len()..].chars().next().is_none_or(|c| !c.is_alphanumeric());
            before && after
        })
    })
}

/// "10000 won" or "won 5000".
fn has_won_amount(t: &str) -> bool {
    t.match_indices("won").any(|(i, _)| {
        let b = t.as_bytes();
        let before_word = i == 0 || !b[i - 1].is_ascii_alphanumeric();
        let after_word = i + 3 >= b.len() || !b[i + 3].is_ascii_alphanumeric();
        let digit_before = t[..i].trim_end().bytes().next_back().is_some_and(|c| c.is_ascii_digit());
        let digit_after = t[i + 3..].trim_start().bytes().next().is_some_and(|c| c.is_ascii_digit());
        before_word && after_word && (digit_before || digit_after)
    })
}

static BUILTIN: OnceLock<LinearModel> = OnceLock::new();

/// The built-in message model, parsed once.
pub fn builtin_ref() -> &'static LinearModel {
    BUILTIN.get_or_init(|| {
        let m = LinearModel::from_bytes(include_bytes!("../models/messages.bin"))
            .unwrap_or_else(|e| panic!("the built-in message model is invalid: {e}"));
        assert!(
            m.kind == ModelKind::Messages && m.feature_set == FEATURE_SET,
            "the built-in message model was trained for another featurizer"
        );
        m
    })
}

/// The built-in message model.
pub fn builtin() -> LinearModel {
    builtin_ref().clone()
}

/// The probability that `raw` is a scam message under `model`.
pub fn probability(model: &LinearModel, raw: &str) -> f32 {
    let n = normalize(raw);
    model.probability(&features(&n, raw, model.bits))
}

/// Trains a message model on `(text, is_scam)` samples. The threshold is 0.5; tune it on
/// held-out scores (see [`out_of_fold_scores`]).
pub fn train(samples: &[(String, bool)], cfg: &TrainConfig) -> LinearModel {
    train_features(&featurize(samples, cfg.bits), cfg)
}

/// [`train`] over features already computed. The learned bias moves into the prior weight of
/// each script present in the data, and the bias becomes [`UNSEEN_SCRIPT_BIAS`]: scores of
/// messages in a seen script do not change, and a message in a script the model never saw
/// (Korean, for a model trained on English) starts from a low prior instead of from the
/// border between the classes.
pub fn train_features(data: &[(Features, bool)], cfg: &TrainConfig) -> LinearModel {
    let mut m = linear::train(ModelKind::Messages, FEATURE_SET, data, cfg);
    let shift = m.bias - UNSEEN_SCRIPT_BIAS;
    for s in 0..RESERVED.min(m.weights.len() as u32) {
        if data.iter().any(|(f, _)| f.iter().any(|&(i, _)| i == s)) {
            m.weights[s as usize] += shift;
        }
    }
    m.bias = UNSEEN_SCRIPT_BIAS;
    m
}

/// Features of every sample.
pub fn featurize(samples: &[(String, bool)], bits: u8) -> Vec<(Features, bool)> {
    samples.iter().map(|(t, y)| (features(&normalize(t), t, bits), *y)).collect()
}

/// Cross-validation: `(fold, out-of-fold probability)` of every sample over `k` stratified
/// folds (each sample scored by the model trained on the other folds).
pub fn out_of_fold_scores(samples: &[(String, bool)], cfg: &TrainConfig, k: usize, seed: u64) -> Vec<(usize, f64)> {
    let data = featurize(samples, cfg.bits);
    out_of_fold(&data, cfg, k, seed)
}

/// [`out_of_fold_scores`] over features already computed.
pub fn out_of_fold(data: &[(Features, bool)], cfg: &TrainConfig, k: usize, seed: u64) -> Vec<(usize, f64)> {
    let labels: Vec<bool> = data.iter().map(|d| d.1).collect();
    let folds = crate::metrics::stratified_folds(&labels, k, seed);
    let k = folds.iter().max().map_or(0, |m| m + 1);
    let mut out = vec![(0, 0.0); data.len()];
    for f in 0..k {
        let train: Vec<(Features, bool)> =
            data.iter().zip(&folds).filter(|(_, g)| **g != f).map(|(d, _)| d.clone()).collect();
        let m = train_features(&train, cfg);
        for (i, d) in data.iter().enumerate() {
            if folds[i] == f {
                out[i] = (f, f64::from(m.probability(&d.0)));
            }
        }
    }
    out
}
