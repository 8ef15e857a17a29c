//! The message classifier: features of a message for the hashed linear model, the built-in
//! model, and training.
//!
//! Features of the normalised text: character n-grams (2–5 characters) inside each word with
//! start and end markers, whole words, word bigrams and symbol characters; for Hangul, the
//! syllable n-grams that span a space (so "급해서 그러는데" and "급해서그러는데" share their
//! n-grams, whatever the spacing) and, as an option, jamo trigrams (so a misspelt "보안카트"
//! still shares most of its features with "보안카드"). Then shape indicators (digit runs such as
//! a phone or premium number, a money amount, shouting in capitals, exclamation marks, length
//! and digit-ratio buckets), the structural evidence of [`crate::evidence`] (sender tags,
//! call-back numbers, link placeholders, requests), and the judgement of each link by the link
//! inspector (its risk bucket and flags). The words of a link are not lexical features: what a
//! link says is the link inspector's to judge, so an ordinary message with an ordinary link
//! reads as ordinary. Every feature is signed-hashed (features colliding in one weight cancel
//! on average instead of adding up) and the vector is scaled to unit length. Hashing runs over
//! the characters directly (a rolling hash per word): no string is allocated per n-gram.
//!
//! Languages: the lexical features are hashed in the namespace of the message's main script
//! (Latin, Hangul or other); the shape indicators, signs and link findings twice, once shared
//! by all scripts and once in the script's namespace; and each script has its own prior weight (an unnormalised feature
//! at a reserved index). [`train`] moves the learned bias into the priors of the scripts the
//! training data had, and sets the bias to [`UNSEEN_SCRIPT_BIAS`]: a message in a script the
//! model never saw starts from a low prior instead of from the border between the classes.
//!
//! Training ([`train`]) featurizes through [`prepare`], the same function the analyzer calls,
//! so training and serving cannot skew.

use std::sync::OnceLock;

use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::evidence::Evidence;
use crate::linear::{self, Features, LinearModel, ModelKind, TrainConfig};
use crate::links::{self, Brands};
use crate::normalize::{Normalized, normalize};
use crate::typology;

/// Version of [`features`] (the low 16 bits of a model's `feature_set`); a model trained with
/// another version is refused. Version 3: every indicator also has a key in its script's
/// namespace.
pub const FEATURE_SET: u32 = 3;

/// Option of feature sets 2 and 3 (a bit of the high half of `feature_set`): jamo trigrams of Hangul
/// words.
pub const OPT_JAMO: u32 = 1 << 16;

/// Option of feature sets 2 and 3: Hangul syllable n-grams across spaces.
pub const OPT_CROSS: u32 = 1 << 17;

/// The options a model trained by `ansim train messages` uses.
pub const DEFAULT_OPTIONS: u32 = OPT_CROSS;

/// Whether a model's `feature_set` can be computed by this build.
pub fn compatible(feature_set: u32) -> bool {
    feature_set & 0xFFFF == FEATURE_SET && feature_set & !(0xFFFF | OPT_JAMO | OPT_CROSS) == 0
}

/// The bias of a model trained by [`train`]: the prior (log-odds) of a message in a script the
/// training data had no message in. Each script seen in training keeps its learned prior.
pub const UNSEEN_SCRIPT_BIAS: f32 = -6.0;

/// Indices `0..RESERVED` hold the prior of each script ([`Script`]); hashed features avoid them.
const RESERVED: u32 = 4;

/// Smallest n-gram, in characters (word markers count as characters).
const MIN_N: usize = 2;
/// Largest n-gram.
const MAX_N: usize = 5;
/// Largest n-gram of a word that starts with a Hangul syllable (markers count).
const MAX_N_HANGUL: usize = 4;

// Seeds of the feature families.
const SEED_CHAR: u64 = 0x6368_6172_6e67_7261;
const SEED_WORD: u64 = 0x776f_7264_756e_6931;
const SEED_BIGRAM: u64 = 0x776f_7264_6269_6732;
const SEED_SYMBOL: u64 = 0x7379_6d62_6f6c_7331;
const SEED_IND: u64 = 0x696e_6469_6361_7431;
const SEED_JAMO: u64 = 0x6a61_6d6f_6e67_7233;
const SEED_IND_SCRIPT: u64 = 0x696e_6473_6372_7074;

// Word markers for the character n-grams: outside the Unicode range, so no character equals them.
const START: u64 = 0x11_0001;
const END: u64 = 0x11_0002;

const MUL: u64 = 0x9E37_79B9_7F4A_7C15;

/// One step of the rolling n-gram hash.
#[inline]
fn mix(h: u64, x: u64) -> u64 {
    (h ^ x).wrapping_mul(MUL).rotate_left(31)
}

/// Final avalanche (murmur3 fmix64), so the index bits and the sign bit are well spread.
#[inline]
fn finish(mut h: u64) -> u64 {
    h ^= h >> 33;
    h = h.wrapping_mul(0xff51_afd7_ed55_8ccd);
    h ^= h >> 33;
    h = h.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    h ^= h >> 33;
    h
}

/// The main script of a message: its lexical features live in the script's namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Script {
    /// Latin letters (or no letters at all).
    Latin = 0,
    /// Hangul.
    Hangul = 1,
    /// Any other script (Han, Kana, Cyrillic, …).
    Other = 2,
}

impl Script {
    /// The script with the most letters in `text`, links and addresses left out (a Korean
    /// message with a long link is still Korean). A Hangul syllable block counts as two
    /// letters; ties, and text without letters, go to Latin.
    pub fn of(text: &str) -> Script {
        Script::of_words(text.split_whitespace().filter(|t| !link_like(t)))
    }

    /// The script of the words of a text that are not links.
    fn of_words<'a>(words: impl Iterator<Item = &'a str>) -> Script {
        let (mut latin, mut hangul, mut other) = (0usize, 0usize, 0usize);
        for token in words {
            for c in token.chars() {
                if c.is_ascii() {
                    latin += usize::from(c.is_ascii_alphabetic());
                } else if ('\u{00C0}'..='\u{024F}').contains(&c) {
                    latin += 1;
                } else if ('\u{AC00}'..='\u{D7A3}').contains(&c) {
                    hangul += 2;
                } else if matches!(c, '\u{1100}'..='\u{11FF}' | '\u{3130}'..='\u{318F}') {
                    hangul += 1;
                } else if c.is_alphabetic() {
                    other += 1;
                }
            }
        }
        if hangul > latin && hangul >= other {
            Script::Hangul
        } else if other > latin && other > hangul {
            Script::Other
        } else {
            Script::Latin
        }
    }
}

/// A token that looks like a link, a domain or an address: `://`, `www.`, `@`, `[.]`, or a dot
/// or slash right after ASCII letters or digits and followed by an ASCII letter (`kakao.com`,
/// `t.ly/x`; not `3.5%` or `1.2.3`).
fn link_like(token: &str) -> bool {
    // Every sign of a link holds a `.`, a `/` or an `@`.
    let b = token.as_bytes();
    // Fast path: no character a link needs.
    if !b.iter().any(|&c| matches!(c, b'.' | b'/' | b'@')) {
        return false;
    }
    let at = |i: usize| b.get(i).copied().unwrap_or(0);
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'@' => return true,
            b'/' if i > 0 && b[i - 1] == b':' && at(i + 1) == b'/' => return true,
            b'.' if i >= 3 && &b[i - 3..i] == b"www" => return true,
            b'.' if i > 0 && b[i - 1] == b'[' && at(i + 1) == b']' => return true,
            _ => {}
        }
        if matches!(c, b'.' | b'/')
            && i > 0
            && i + 1 < b.len()
            && b[i - 1].is_ascii_alphanumeric()
            && b[i + 1].is_ascii_alphabetic()
        {
            return true;
        }
    }
    false
}

/// Collects hashed feature keys: the index, with the sign in the top bit.
struct Sink {
    mask: u64,
    /// Mixed into every lexical hash: the namespace of the message's script.
    ns: u64,
    keys: Vec<u32>,
}

impl Sink {
    #[inline]
    fn key(&mut self, h: u64) {
        let h = finish(h);
        let mut idx = (h & self.mask) as u32;
        if idx < RESERVED {
            idx += RESERVED;
        }
        self.keys.push(idx | (((h >> 63) as u32) << 31));
    }

    /// A lexical feature (n-gram, word, symbol).
    #[inline]
    fn lexical(&mut self, h: u64) {
        self.key(h ^ self.ns);
    }

    /// A shape indicator (a length bucket, a digit run, a structural sign, a link finding):
    /// one key shared by all scripts and one in the namespace of the message's script, so an
    /// indicator learns what it means everywhere and what it means in this script (a short
    /// message or a long digit run says something else in Korean texts than in English SMS).
    fn indicator(&mut self, name: &[u8]) {
        let h = xxh3_64_with_seed(name, SEED_IND);
        self.key(h);
        self.key(h ^ self.ns ^ SEED_IND_SCRIPT);
    }
}

/// A message made ready for the model: normalised, its links found and judged, its
/// structural evidence found, the typology detectors run. The analyzer and training both
/// start here.
#[derive(Debug, Clone, PartialEq)]
pub struct Prepared {
    /// The normalised text.
    pub norm: Normalized,
    /// Every link, judged by the link inspector.
    pub links: Vec<domain::Link>,
    /// The structural signs.
    pub evidence: Evidence,
    /// What the typology detectors found.
    pub detection: typology::Detection,
}

/// Normalises `raw`, finds and judges its links with `brands` and the URL model `urls`, finds
/// its structural evidence and runs the typology detectors.
pub fn prepare(raw: &str, brands: &Brands, urls: &LinearModel) -> Prepared {
    let norm = normalize(raw);
    let links: Vec<domain::Link> = links::extract(raw).iter().map(|l| links::inspect(l, brands, urls)).collect();
    let suspicious = links.iter().any(|l| l.risk >= crate::SUSPICIOUS_LINK);
    // An APK link, or a bare `name.apk` file the link finder does not count as a web link.
    let apk = links.iter().any(|l| l.flags.iter().any(|f| f == "apk"))
        || occurrences(&norm.text, b".apk")
            .any(|i| norm.text[i + 4..].chars().next().is_none_or(|c| !c.is_alphanumeric()));
    let (evidence, detection) = typology::analyse(&norm, suspicious, apk);
    Prepared { norm, links, evidence, detection }
}

/// Where `needle` (ASCII, no prefix of it also a suffix, so occurrences never overlap) occurs
/// in `text`: the positions `str::match_indices` gives, found by a byte search for its first
/// byte instead of a substring searcher set up per call.
fn occurrences<'a>(text: &'a str, needle: &'a [u8]) -> impl Iterator<Item = usize> + 'a {
    let h = text.as_bytes();
    memchr::memchr_iter(needle[0], h).filter(move |&i| h[i..].starts_with(needle))
}

/// A Hangul syllable block.
#[inline]
fn hangul(c: u64) -> bool {
    (0xAC00..=0xD7A3).contains(&c)
}

/// Hashed features of a prepared message (`raw` is the text as received) for a model of
/// `feature_set` (its options) in `2^bits` weights: the unit-length hashed part, then the
/// script's prior `(script as u32, 1.0)`. `bits` below 3 count as 3.
pub fn features(p: &Prepared, raw: &str, bits: u8, feature_set: u32) -> Features {
    let (keys, script) = hashed(p, raw, bits, feature_set);
    let mut f = finalize(&keys);
    // The prior of the script, outside the unit-length part.
    f.push((script as u32, 1.0));
    f
}

/// The probability that a prepared message is a scam under `model`: the same number as
/// `model.probability(&features(p, raw, model.bits, model.feature_set))`, bit for bit (the same
/// products summed in the same order), without building the feature vector.
pub fn probability_prepared(model: &LinearModel, p: &Prepared, raw: &str) -> f32 {
    let (keys, script) = hashed(p, raw, model.bits, model.feature_set);
    let v = 1.0 / (keys.len().max(1) as f32).sqrt();
    let mut m = model.bias;
    for &key in &keys {
        let x = if key >> 31 == 1 { -v } else { v };
        if let Some(w) = model.weights.get((key & 0x7FFF_FFFF) as usize) {
            m += w * x;
        }
    }
    if let Some(w) = model.weights.get(script as usize) {
        m += w * 1.0;
    }
    crate::linear::sigmoid(m)
}

/// The hashed feature keys of a prepared message (index, sign in the top bit) and its script.
fn hashed(p: &Prepared, raw: &str, bits: u8, feature_set: u32) -> (Vec<u32>, Script) {
    let text = p.norm.text.as_str();
    // The normalised text's words are separated by single spaces; each is judged a link or not
    // once, for the script and for the features.
    let mut tokens: Vec<(&str, bool)> = Vec::with_capacity(text.bytes().filter(|&c| c == b' ').count() + 1);
    tokens.extend(text.split(' ').map(|t| (t, link_like(t))));
    let script = Script::of_words(tokens.iter().filter(|&&(t, link)| !link && !t.is_empty()).map(|&(t, _)| t));
    let mut sink = Sink {
        mask: (1u64 << bits.clamp(3, 30)) - 1,
        ns: (script as u64).wrapping_mul(MUL),
        // At most four n-grams a character, a few keys a word (itself, a bigram, n-grams
        // across the space, a symbol), and the indicators, signs and link findings.
        keys: Vec::with_capacity(text.len() * 6 + 64 + 8 * p.links.len()),
    };
    let mut w = Words {
        codes: Vec::with_capacity(32),
        prev: None,
        tail: [0; 2],
        tail_len: 0,
        jamo: feature_set & OPT_JAMO != 0,
        cross: feature_set & OPT_CROSS != 0,
    };
    // The text without its links, for the shape indicators.
    let mut plain = String::with_capacity(text.len());
    for &(token, link) in &tokens {
        if link {
            // The link inspector judges links; their words are not the message's words.
            w.prev = None;
            w.tail_len = 0;
            continue;
        }
        if !plain.is_empty() {
            plain.push(' ');
        }
        plain.push_str(token);
        // Words are maximal runs of letters and digits; other characters are symbols. A word's
        // characters go into `w.codes` as they are read (decoded once).
        let mut start: Option<usize> = None;
        for (i, c) in token.char_indices() {
            if is_word_char(c) {
                if start.is_none() {
                    start = Some(i);
                    w.codes.clear();
                    w.codes.push(START);
                }
                w.codes.push(u64::from(c));
                continue;
            }
            if let Some(s) = start.take() {
                w.word(&mut sink, &token[s..i]);
            }
            sink.lexical(mix(SEED_SYMBOL, u64::from(c)));
        }
        if let Some(s) = start {
            w.word(&mut sink, &token[s..]);
        }
    }
    indicators(&mut sink, &plain, raw);
    for sign in p.evidence.signs() {
        sink.indicator(sign.name().as_bytes());
    }
    for l in &p.links {
        // A link below the suspicious level adds nothing: an ordinary link is ordinary.
        if l.risk >= crate::SUSPICIOUS_LINK {
            sink.indicator(if l.risk >= crate::STRONG_LINK { b"link-high" } else { b"link-mid" });
        }
        for f in &l.flags {
            match f.as_str() {
                "shortener" => sink.indicator(b"link-shortener"),
                "lookalike" => sink.indicator(b"link-lookalike"),
                "apk" => sink.indicator(b"link-apk"),
                "raw_ip" => sink.indicator(b"link-raw-ip"),
                "obfuscated" => sink.indicator(b"link-obfuscated"),
                _ => {}
            }
        }
    }
    (sink.keys, script)
}

/// The script of a feature vector (its reserved prior, the last entry).
fn script_of(f: &[(u32, f32)]) -> u32 {
    f.last().map_or(0, |&(s, _)| s)
}

/// A letter or digit (fast paths for ASCII and Hangul syllables).
#[inline]
fn is_word_char(c: char) -> bool {
    if c.is_ascii() { c.is_ascii_alphanumeric() } else { ('\u{AC00}'..='\u{D7A3}').contains(&c) || c.is_alphanumeric() }
}

/// The word-level state of one message's featurizing.
struct Words {
    /// The current word's characters with start and end markers.
    codes: Vec<u64>,
    /// The hash of the previous word (for word bigrams).
    prev: Option<u64>,
    /// The last two Hangul syllables of the previous word (most recent last), for n-grams
    /// across a space.
    tail: [u64; 2],
    tail_len: usize,
    jamo: bool,
    cross: bool,
}

impl Words {
    /// The features of one word: its character n-grams, itself, the bigram with the word before
    /// it, and for Hangul the n-grams across the space before it and its jamo trigrams.
    /// `self.codes` holds the start marker and the word's characters.
    fn word(&mut self, sink: &mut Sink, word: &str) {
        let codes = &mut self.codes;
        codes.push(END);
        let len = codes.len();
        // A Hangul syllable carries two or three letters: its n-grams stop at MAX_N_HANGUL.
        let max_n = if codes.get(1).is_some_and(|&c| hangul(c)) { MAX_N_HANGUL } else { MAX_N };
        for i in 0..len {
            let mut h = SEED_CHAR;
            for (k, &c) in codes[i..len.min(i + max_n)].iter().enumerate() {
                h = mix(h, c);
                if k + 1 >= MIN_N {
                    sink.lexical(h);
                }
            }
        }
        let h = xxh3_64_with_seed(word.as_bytes(), SEED_WORD);
        sink.lexical(h);
        if let Some(p) = self.prev {
            sink.lexical(mix(mix(SEED_BIGRAM, p), h));
        }
        self.prev = Some(h);
        let body = &codes[1..len - 1];
        if self.cross && body.first().is_some_and(|&c| hangul(c)) && self.tail_len > 0 {
            // Syllable n-grams spanning the space, hashed as if the space were not there:
            // (last | first), (last two | first), (last | first two).
            let t = &self.tail[2 - self.tail_len..];
            let heads = body.len().min(2);
            for a in 1..=t.len() {
                for b in 1..=heads {
                    if a + b > 3 {
                        continue;
                    }
                    let mut h = SEED_CHAR;
                    for &c in t[t.len() - a..].iter().chain(&body[..b]) {
                        h = mix(h, c);
                    }
                    sink.lexical(h);
                }
            }
        }
        if self.jamo && body.iter().any(|&c| hangul(c)) {
            let mut window = [START, START, START];
            let mut push = |j: u64, sink: &mut Sink| {
                window = [window[1], window[2], j];
                if window[0] != START || window[1] != START {
                    sink.lexical(mix(mix(mix(SEED_JAMO, window[0]), window[1]), window[2]));
                }
            };
            for &c in body {
                if hangul(c) {
                    let s = c - 0xAC00;
                    push(0x1100 + s / 588, sink);
                    push(0x1161 + (s % 588) / 28, sink);
                    if s % 28 > 0 {
                        push(0x11A7 + s % 28, sink);
                    }
                } else {
                    push(c, sink);
                }
            }
            push(END, sink);
        }
        // Remember the word's last Hangul syllables (a word ending in anything else breaks
        // the chain).
        match body.last() {
            Some(&c) if hangul(c) => {
                let n = body.len().min(2);
                let last = &body[body.len() - n..];
                if last.iter().all(|&c| hangul(c)) {
                    self.tail = if n == 2 { [last[0], last[1]] } else { [0, last[0]] };
                    self.tail_len = n;
                } else {
                    self.tail = [0, c];
                    self.tail_len = 1;
                }
            }
            _ => self.tail_len = 0,
        }
    }
}

/// The keys as `(index, ±1)` scaled to unit length (a repeated feature adds up in the dot
/// product, so counts stay raw).
fn finalize(keys: &[u32]) -> Features {
    let v = 1.0 / (keys.len().max(1) as f32).sqrt();
    keys.iter().map(|&key| (key & 0x7FFF_FFFF, if key >> 31 == 1 { -v } else { v })).collect()
}

/// Shape indicators of the message: digit runs, money, capitals, exclamation marks, length
/// and digit ratio. `t` is the normalised text without its links (full-width forms folded,
/// lower case); capitals are read from the words of `raw` that are not links.
fn indicators(sink: &mut Sink, t: &str, raw: &str) {
    // Digit runs; a space or dash inside a number (after 3 digits) does not end it.
    let b = t.as_bytes();
    let (mut i, mut long_runs, mut digits) = (0, 0, 0);
    while i < b.len() {
        if !b[i].is_ascii_digit() {
            i += 1;
            continue;
        }
        let (mut d, mut first) = (0usize, [0u8; 2]);
        while i < b.len() {
            if b[i].is_ascii_digit() {
                if d < 2 {
                    first[d] = b[i];
                }
                d += 1;
                i += 1;
            } else if (b[i] == b' ' || b[i] == b'-') && d >= 3 && b.get(i + 1).is_some_and(u8::is_ascii_digit) {
                i += 1;
            } else {
                break;
            }
        }
        digits += d;
        if d >= 5 {
            long_runs += 1;
            sink.indicator(match d {
                5 => b"digits5",
                6..=9 => b"digits6-9",
                10..=11 => b"digits10-11",
                _ => b"digits12+",
            });
            if d >= 10 {
                match &first {
                    b"08" => sink.indicator(b"premium08"),
                    b"09" => sink.indicator(b"premium09"),
                    b"07" => sink.indicator(b"mobile07"),
                    _ => {}
                }
            }
        }
    }
    if long_runs >= 2 {
        sink.indicator(b"digit-runs2+");
    }
    // Money: a currency sign, and an amount (a number next to it, or "10000 won").
    let (mut currency, mut amount) = currency_signs(t);
    if !amount && has_won_amount(t) {
        (currency, amount) = (true, true);
    }
    if currency {
        sink.indicator(b"currency");
    }
    if amount {
        sink.indicator(b"amount");
    }
    // Capitals: the share of cased words written all in capitals (nothing without cased words).
    let (mut cased, mut caps) = (0usize, 0usize);
    for w in raw.split_whitespace() {
        let (mut up, mut low) = (0, 0);
        for c in w.chars() {
            if c.is_ascii() {
                up += usize::from(c.is_ascii_uppercase());
                low += usize::from(c.is_ascii_lowercase());
            } else if !('\u{AC00}'..='\u{D7A3}').contains(&c) {
                up += usize::from(c.is_uppercase());
                low += usize::from(c.is_lowercase());
            }
        }
        // A link's letters are not the message's (judged only for a word that would count).
        if up + low >= 2 && !link_like(w) {
            cased += 1;
            caps += usize::from(low == 0);
        }
    }
    if cased > 0 {
        let r = caps as f32 / cased as f32;
        sink.indicator(if caps == 0 {
            b"caps0"
        } else if r <= 0.2 {
            b"caps-low"
        } else if r <= 0.5 {
            b"caps-mid"
        } else {
            b"caps-high"
        });
    }
    match t.bytes().filter(|&c| c == b'!').count() {
        0 => {}
        1 => sink.indicator(b"bang1"),
        2..=3 => sink.indicator(b"bang2-3"),
        _ => sink.indicator(b"bang4+"),
    }
    let len = t.chars().count();
    sink.indicator(match len {
        0..20 => b"len<20",
        20..50 => b"len<50",
        50..100 => b"len<100",
        100..140 => b"len<140",
        _ => b"len140+",
    });
    if digits > 0 {
        let r = digits as f32 / len as f32;
        sink.indicator(if r <= 0.05 {
            b"digit-ratio-low"
        } else if r <= 0.15 {
            b"digit-ratio-mid"
        } else {
            b"digit-ratio-high"
        });
    }
}

/// `(a currency sign, a number next to it)` for the signs `$ £ ¥ € ₩` and `원` after a number,
/// found by their UTF-8 bytes without decoding the text.
fn currency_signs(t: &str) -> (bool, bool) {
    let (mut currency, mut amount) = (false, false);
    let tb = t.as_bytes();
    // `$`, then the lead bytes of `£ ¥` (C2), `€ ₩` (E2) and `원` (EC): never continuation bytes.
    for i in memchr::memchr3_iter(b'$', 0xC2, 0xE2, tb).chain(memchr::memchr_iter(0xEC, tb)) {
        let (len, won) = match &tb[i..] {
            [b'$', ..] => (1, false),
            [0xC2, 0xA3 | 0xA5, ..] => (2, false),
            [0xE2, 0x82, 0xAC | 0xA9, ..] => (3, false),
            [0xEC, 0x9B, 0x90, ..] => (3, true),
            _ => continue,
        };
        let before = tb[..i].last().is_some_and(u8::is_ascii_digit);
        let after = tb.get(i + len).is_some_and(u8::is_ascii_digit);
        // "원" is a currency only after a number (it is also a common syllable).
        if !won || before {
            currency = true;
            amount |= before || after;
        }
    }
    (currency, amount)
}

/// "10000 won" or "won 5000" (the word, next to a number).
fn has_won_amount(t: &str) -> bool {
    let b = t.as_bytes();
    occurrences(t, b"won").any(|i| {
        let whole =
            (i == 0 || !b[i - 1].is_ascii_alphanumeric()) && b.get(i + 3).is_none_or(|c| !c.is_ascii_alphanumeric());
        let digit_before = t[..i].trim_end().bytes().next_back().is_some_and(|c| c.is_ascii_digit());
        let digit_after = t[i + 3..].trim_start().bytes().next().is_some_and(|c| c.is_ascii_digit());
        whole && (digit_before || digit_after)
    })
}

static BUILTIN: OnceLock<LinearModel> = OnceLock::new();

/// The built-in message model, parsed once (`models/messages.bin`, written by `ansim train
/// messages`; `models/README.md` has the command).
pub fn builtin_ref() -> &'static LinearModel {
    BUILTIN.get_or_init(|| {
        let m = LinearModel::from_bytes(include_bytes!("../models/messages.bin"))
            .unwrap_or_else(|e| panic!("the built-in message model is invalid: {e}"));
        assert!(
            m.kind == ModelKind::Messages && compatible(m.feature_set),
            "the built-in message model was trained for another featurizer"
        );
        m
    })
}

/// The built-in message model.
pub fn builtin() -> LinearModel {
    builtin_ref().clone()
}

/// The probability that `raw` is a scam message under `model` alone (prepares with the
/// built-in brands and URL model, featurizes, scores). Compare it with `model.threshold`.
pub fn probability(model: &LinearModel, raw: &str) -> f32 {
    let p = prepare(raw, links::builtin_brands_ref(), links::builtin_ref());
    model.probability(&features(&p, raw, model.bits, model.feature_set))
}

/// The training settings of the built-in model.
pub fn train_config() -> TrainConfig {
    TrainConfig { bits: 18, epochs: 12, learning_rate: 0.1, l2: 0.01, seed: 7, balance: true }
}

/// Folds of the inner cross-validation that sets a trained model's threshold.
const THRESHOLD_FOLDS: usize = 5;

/// Features of every sample (prepared with `brands` and the URL model `urls`, as the analyzer
/// prepares a message), for [`fit`], [`train_features`] and [`out_of_fold`].
pub fn featurize(
    samples: &[(String, bool)],
    bits: u8,
    options: u32,
    brands: &Brands,
    urls: &LinearModel,
) -> Vec<(Features, bool)> {
    let fs = FEATURE_SET | options;
    samples.iter().map(|(t, y)| (features(&prepare(t, brands, urls), t, bits, fs), *y)).collect()
}

/// Trains a message model on `(text, is_scam)` samples with feature-set `options`
/// ([`OPT_CROSS`], [`OPT_JAMO`]); links are judged with `brands` and `urls`, which should be
/// the ones the analyzer will use. See [`fit`].
pub fn train(
    samples: &[(String, bool)],
    cfg: &TrainConfig,
    options: u32,
    brands: &Brands,
    urls: &LinearModel,
) -> LinearModel {
    fit(&featurize(samples, cfg.bits, options, brands, urls), FitOptions::default(), cfg, options)
}

/// How [`fit`] treats the samples besides their features and labels (all optional).
#[derive(Debug, Clone, Copy, Default)]
pub struct FitOptions<'a> {
    /// Each sample's share of the loss (`None`: all 1).
    pub weights: Option<&'a [f32]>,
    /// Groups kept in one fold by the inner cross-validation (a source's rows, repeated
    /// texts); `None`: stratified folds.
    pub groups: Option<&'a [usize]>,
    /// Samples from plain ordinary traffic (a file of chat with no labels), as opposed to
    /// labelled messages; they are held to [`ORDINARY_FPR`], the labelled ones to
    /// [`LOOKALIKE_FPR`].
    pub plain: Option<&'a [bool]>,
}

/// Training weights that give every script's labelled samples the same total weight (so a
/// few hundred Korean messages are not drowned by thousands of English ones), and a script's
/// plain ordinary samples (`plain[i]`) together the weight of its labelled ordinary ones (so a
/// large file of everyday chat teaches what ordinary talk is without outweighing the
/// look-alikes).
pub fn balanced_weights(data: &[(Features, bool)], plain: &[bool]) -> Vec<f32> {
    let n = RESERVED as usize;
    let (mut labelled, mut labelled_neg, mut plain_n) = (vec![0usize; n], vec![0usize; n], vec![0usize; n]);
    for (d, &p) in data.iter().zip(plain) {
        let s = (script_of(&d.0) as usize).min(n - 1);
        if p {
            plain_n[s] += 1;
        } else {
            labelled[s] += 1;
            labelled_neg[s] += usize::from(!d.1);
        }
    }
    let scripts = labelled.iter().filter(|&&c| c > 0).count().max(1);
    let total: usize = labelled.iter().sum();
    let per_script = total as f32 / scripts as f32;
    let w_labelled: Vec<f32> = labelled.iter().map(|&c| if c > 0 { per_script / c as f32 } else { 1.0 }).collect();
    data.iter()
        .zip(plain)
        .map(|(d, &p)| {
            let s = (script_of(&d.0) as usize).min(n - 1);
            if !p {
                w_labelled[s]
            } else if labelled_neg[s] > 0 {
                labelled_neg[s] as f32 * w_labelled[s] / plain_n[s] as f32
            } else {
                1.0
            }
        })
        .collect()
}

/// Largest out-of-fold false-positive rate the threshold allows on labelled ordinary messages
/// (look-alikes of scams: card approvals, obituaries, notices).
pub const LOOKALIKE_FPR: f64 = 0.05;

/// Largest out-of-fold false-positive rate the threshold allows on plain ordinary traffic.
pub const ORDINARY_FPR: f64 = 0.001;

/// The threshold with the best F1 on the labelled samples of `idx` among those whose
/// false-positive rate is at most [`LOOKALIKE_FPR`] on labelled and [`ORDINARY_FPR`] on plain
/// negatives (the highest score when none is).
fn constrained_threshold(scored: &[(f64, bool)], plain: &[bool], idx: &[usize]) -> f64 {
    let mut v: Vec<usize> = idx.to_vec();
    v.sort_by(|&a, &b| scored[b].0.total_cmp(&scored[a].0));
    let pos = v.iter().filter(|&&i| scored[i].1).count() as f64;
    let neg = v.iter().filter(|&&i| !scored[i].1 && !plain[i]).count() as f64;
    let neg_plain = v.iter().filter(|&&i| !scored[i].1 && plain[i]).count() as f64;
    let (mut tp, mut fp, mut fp_plain) = (0.0, 0.0, 0.0);
    let (mut best, mut best_t) = (-1.0, v.first().map_or(0.5, |&i| scored[i].0));
    let mut k = 0;
    while k < v.len() {
        let t = scored[v[k]].0;
        while k < v.len() && scored[v[k]].0 == t {
            let i = v[k];
            match (scored[i].1, plain[i]) {
                (true, _) => tp += 1.0,
                (false, false) => fp += 1.0,
                (false, true) => fp_plain += 1.0,
            }
            k += 1;
        }
        let over = (neg > 0.0 && fp / neg > LOOKALIKE_FPR) || (neg_plain > 0.0 && fp_plain / neg_plain > ORDINARY_FPR);
        if over {
            break;
        }
        let f1 = if tp > 0.0 { 2.0 * tp / (2.0 * tp + fp + (pos - tp)) } else { 0.0 };
        if f1 > best {
            best = f1;
            best_t = t;
        }
    }
    best_t
}

/// Trains on features already computed (with `options`).
///
/// The decision threshold comes from out-of-fold scores of a 5-fold cross-validation on the
/// same samples (so training costs six fits; folds grouped by `o.groups` when given), one per
/// script: for each script with at least 5 samples of each class, the threshold with the best F1
/// among those whose out-of-fold false-positive rate stays within [`LOOKALIKE_FPR`] on labelled
/// ordinary messages and [`ORDINARY_FPR`] on plain ordinary traffic. The Latin threshold (or,
/// without Latin samples, the overall one) becomes the model's threshold; another script's
/// threshold is folded into its prior weight, so one threshold serves every script. 0.5 when a
/// class has fewer than 5 samples. Nothing held out by the caller is seen.
pub fn fit(data: &[(Features, bool)], o: FitOptions, cfg: &TrainConfig, options: u32) -> LinearModel {
    let pos = data.iter().filter(|d| d.1).count();
    let mut shifts = [0.0f32; RESERVED as usize];
    let mut chosen = Vec::new();
    let threshold = if pos.min(data.len() - pos) >= THRESHOLD_FOLDS {
        let oof = out_of_fold(data, o.weights, o.groups, cfg, options, THRESHOLD_FOLDS, cfg.seed);
        let scored: Vec<(f64, bool)> = oof.iter().zip(data).map(|((_, p), d)| (*p, d.1)).collect();
        let no_plain = vec![false; data.len()];
        let plain = o.plain.unwrap_or(&no_plain);
        let all: Vec<usize> = (0..data.len()).collect();
        let overall = constrained_threshold(&scored, plain, &all).clamp(0.02, 0.98);
        let mut per = [None; RESERVED as usize];
        for s in [Script::Latin, Script::Hangul, Script::Other] {
            let idx: Vec<usize> = all.iter().copied().filter(|&i| script_of(&data[i].0) == s as u32).collect();
            let p = idx.iter().filter(|&&i| data[i].1).count();
            if p.min(idx.len() - p) >= THRESHOLD_FOLDS {
                per[s as usize] = Some(constrained_threshold(&scored, plain, &idx).clamp(0.02, 0.98));
            }
        }
        let base = per[Script::Latin as usize].unwrap_or(overall);
        let logit = |p: f64| (p / (1.0 - p)).ln();
        for s in [Script::Latin, Script::Hangul, Script::Other] {
            if let Some(t) = per[s as usize] {
                shifts[s as usize] = (logit(base) - logit(t)) as f32;
                chosen.push(format!("{s:?} {t:.3}"));
            }
        }
        base as f32
    } else {
        0.5
    };
    let mut m = train_features(data, o.weights, cfg, options);
    m.threshold = threshold;
    for (s, shift) in shifts.iter().enumerate() {
        if let Some(w) = m.weights.get_mut(s) {
            *w += shift;
        }
    }
    m.meta = format!(
        "messages: {} samples ({pos} scam), feature set {FEATURE_SET} options {:#x}, bits {}, epochs {}, lr {}, \
         l2 {}, balanced {}, weighted {}, threshold {threshold:.3} (per script: {}; best F1 of an inner \
         {THRESHOLD_FOLDS}-fold CV within {LOOKALIKE_FPR} look-alike and {ORDINARY_FPR} ordinary FPR)",
        data.len(),
        options >> 16,
        cfg.bits,
        cfg.epochs,
        cfg.learning_rate,
        cfg.l2,
        cfg.balance,
        o.weights.is_some(),
        chosen.join(", ")
    );
    m
}

/// One logistic regression over features already computed, without tuning the threshold
/// (0.5) or writing `meta`. The learned bias moves into the prior weight of each script present
/// in the data and the bias becomes [`UNSEEN_SCRIPT_BIAS`]: scores of messages in a seen script
/// do not change.
pub fn train_features(
    data: &[(Features, bool)],
    weights: Option<&[f32]>,
    cfg: &TrainConfig,
    options: u32,
) -> LinearModel {
    let mut m = linear::train_weighted(ModelKind::Messages, FEATURE_SET | options, data, weights, cfg);
    let shift = m.bias - UNSEEN_SCRIPT_BIAS;
    for s in [Script::Latin, Script::Hangul, Script::Other] {
        let s = s as u32;
        if (s as usize) < m.weights.len() && data.iter().any(|(f, _)| script_of(f) == s) {
            m.weights[s as usize] += shift;
        }
    }
    m.bias = UNSEEN_SCRIPT_BIAS;
    m
}

/// Cross-validation over `k` folds (stratified, or grouped by `groups` so that one group's
/// samples share a fold; shuffled by `seed`): for every sample, its fold and its probability
/// under the model trained (with the same weights) on the other folds.
pub fn out_of_fold(
    data: &[(Features, bool)],
    weights: Option<&[f32]>,
    groups: Option<&[usize]>,
    cfg: &TrainConfig,
    options: u32,
    k: usize,
    seed: u64,
) -> Vec<(usize, f64)> {
    let labels: Vec<bool> = data.iter().map(|d| d.1).collect();
    let folds = match groups {
        Some(g) => crate::metrics::grouped_folds(&labels, g, k, seed),
        None => crate::metrics::stratified_folds(&labels, k, seed),
    };
    let mut out = vec![(0, 0.0); data.len()];
    for f in 0..k.max(2) {
        let keep: Vec<usize> = (0..data.len()).filter(|&i| folds[i] != f).collect();
        let train: Vec<(Features, bool)> = keep.iter().map(|&i| data[i].clone()).collect();
        let w: Option<Vec<f32>> = weights.map(|ws| keep.iter().map(|&i| ws[i]).collect());
        let m = train_features(&train, w.as_deref(), cfg, options);
        for (i, d) in data.iter().enumerate() {
            if folds[i] == f {
                out[i] = (f, f64::from(m.probability(&d.0)));
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::{currency_signs, occurrences};
    use proptest::prelude::*;

    /// The character-by-character reading the byte search replaced.
    fn currency_signs_by_chars(t: &str) -> (bool, bool) {
        let (mut currency, mut amount) = (false, false);
        for (i, c) in t.char_indices() {
            if matches!(c, '£' | '$' | '€' | '₩' | '¥' | '원') {
                let before = t[..i].bytes().next_back().is_some_and(|c| c.is_ascii_digit());
                let after = t.as_bytes().get(i + c.len_utf8()).is_some_and(u8::is_ascii_digit);
                if c != '원' || before {
                    currency = true;
                    amount |= before || after;
                }
            }
        }
        (currency, amount)
    }

    proptest! {
        #[test]
        fn currency_signs_read_by_bytes_as_by_characters(t in "[0-9a-z 원월£$€₩¥¢©ª«¬®¯₫₭웬웹윈]{0,24}") {
            prop_assert_eq!(currency_signs(&t), currency_signs_by_chars(&t));
        }

        #[test]
        fn currency_signs_never_differ_on_any_text(t in any::<String>()) {
            prop_assert_eq!(currency_signs(&t), currency_signs_by_chars(&t));
        }
    }

    /// The byte search finds what `str::match_indices` finds.
    #[test]
    fn occurrences_are_the_match_indices() {
        for t in [
            "",
            "won",
            "10000 won wonwon",
            "a.apk.apk b.apkx 설치.apk 링크.apk",
            "w wo won. 원 won원won",
            "..apk...apk",
        ] {
            for needle in [".apk", "won"] {
                let want: Vec<usize> = t.match_indices(needle).map(|(i, _)| i).collect();
                let got: Vec<usize> = occurrences(t, needle.as_bytes()).collect();
                assert_eq!(got, want, "{needle:?} in {t:?}");
            }
        }
    }
}
