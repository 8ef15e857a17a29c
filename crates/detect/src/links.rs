//! Link analysis: finding URLs in message text even when obfuscated, and judging each one
//! (shorteners, raw IPs, punycode and look-alikes of protected brands, risky TLDs, APKs, a
//! hashed URL model).
//!
//! - [`extract`] de-obfuscates the text (full-width letters, zero-width characters, `hxxp`,
//!   `[.]`, `(.)`, `[dot]`, spaces around dots) and finds links with a scheme, `www.` links and
//!   bare domains with a known TLD, while leaving ordinary text alone (`3.5%`, `1.2.3`, `e.g.`,
//!   `Mr.Kim`, `10.30`, e-mail addresses).
//! - [`inspect`] normalises a link as a `url` indicator, finds its registrable domain, raises
//!   flags and combines them with the URL model into a risk (see [`inspect`] for the scoring).
//! - [`Brands`] is the protected-brand list (`data/brands.txt`, or the server's own list through
//!   [`Brands::parse`]) with precomputed skeletons for look-alike matching.
//! - [`url_features`] turns a URL string into hashed features for the linear model; [`train`]
//!   and [`cross_validate`] fit and assess a model; [`builtin`] is the compiled-in one
//!   (`models/urls.bin`, trained by `examples/train_urls.rs`).

use std::collections::HashMap;
use std::sync::OnceLock;

use aho_corasick::{AhoCorasick, AhoCorasickBuilder, MatchKind};
use indicators::IndicatorKind;
use xxhash_rust::xxh3::xxh3_64_with_seed;

use crate::linear::{self, Features, LinearModel, ModelKind, TrainConfig};
use crate::metrics;

/// Version of [`url_features`]; a model trained with another version is refused.
pub const FEATURE_SET: u32 = 1;

/// At most this many links are taken from one message.
pub const MAX_LINKS: usize = 20;

/// A link's text is cut to this many bytes (the `indicators` input bound).
pub const MAX_LINK_BYTES: usize = indicators::MAX_INPUT_BYTES;

// ---------------------------------------------------------------------------------------------
// Embedded lists
// ---------------------------------------------------------------------------------------------

/// Country-code TLDs in use (ISO 3166 plus `eu`, `su`, `ac`, `uk`).
const CC_TLDS: &str = "\
    ac ad ae af ag ai al am ao aq ar as at au aw ax az ba bb bd be bf bg bh bi bj bm bn bo br bs bt bw by bz ca cc \
    cd cf cg ch ci ck cl cm cn co cr cu cv cw cx cy cz de dj dk dm do dz ec ee eg er es et eu fi fj fk fm fo fr ga \
    gd ge gf gg gh gi gl gm gn gp gq gr gs gt gu gw gy hk hm hn hr ht hu id ie il im in io iq ir is it je jm jo jp \
    ke kg kh ki km kn kp kr kw ky kz la lb lc li lk lr ls lt lu lv ly ma mc md me mg mh mk ml mm mn mo mp mq mr ms \
    mt mu mv mw mx my mz na nc ne nf ng ni nl no np nr nu nz om pa pe pf pg ph pk pl pm pn pr ps pt pw py qa re ro \
    rs ru rw sa sb sc sd se sg sh si sk sl sm sn so sr ss st su sv sx sy sz tc td tf tg th tj tk tl tm tn to tr tt \
    tv tw tz ua ug uk us uy uz va vc ve vg vi vn vu wf ws ye yt za zm zw";

/// Generic TLDs accepted for bare domains (no scheme): the legacy ones and the new ones seen in
/// real traffic, abused ones included. With a scheme any alphabetic TLD is accepted; this list
/// only decides whether `word.word` in running text is a domain (`Mr.Kim` is not, although
/// `.kim` exists).
const GENERIC_TLDS: &str = "\
    com net org edu gov mil int info biz name pro mobi asia tel travel jobs aero coop cat museum app dev page xyz \
    top icu cyou shop buzz click live online site rest fun cfd sbs monster work support store tech space website \
    life world today one cloud digital email network services news blog games club vip link ltd group company \
    business solutions bid win loan date review trade party science racing download stream men lol bar best center \
    city host press fit fyi gdn guru help ink lat love market media money ninja pics pink plus quest red run sale \
    show social software studio team tips tools town uno video wang wiki zone cam bond beauty hair skin mom xin \
    ren kr finance bank pay events agency global systems technology academy art design photo photos land rocks \
    directory email exchange cash credit loans insure delivery express parts country stream casino bet poker game \
    icu";

/// TLDs that are also common words or file extensions: a bare domain with one of them needs a
/// path, a `www.` or to be a known shortener (`so.it` in chat is not a link, `me2.do/x` is).
const WORDLIKE_TLDS: &str = "am as at be by do id in is it me my no so to us md py rs sh pl lol";

/// TLDs that are cheap, loosely policed and over-represented in phishing.
const RISKY_TLDS: &str = "\
    xyz top icu cyou shop buzz click live online site rest fun cfd sbs monster tk ml ga cf gq work support cam \
    bond quest lol bar uno gdn loan win bid date review trade party racing download stream men science country vip \
    xin ren wang lat beauty hair skin mom zip mov kim pw cc";

/// Ordinary words (as skeletons) one edit away from a brand word: never fuzzy look-alikes.
const ORDINARY_WORDS: &str = "never nave navel naves saver raver paver waver caver haver samsun shlhan";

/// URL shorteners: the link hides where it goes. Matched on the registrable domain or host.
const SHORTENERS: &str = "\
    bit.ly bitly.com j.mp goo.gl tinyurl.com t.co han.gl me2.do vo.la url.kr buly.kr c11.kr naver.me ow.ly is.gd \
    v.gd cutt.ly rebrand.ly shorturl.at t.ly s.id bit.do lrl.kr zrr.kr asq.kr buff.ly tiny.cc rb.gy kutt.it \
    qrco.de bl.ink lnkd.in gg.gg dub.sh clck.ru u.to x.gd adf.ly shorte.st ouo.io short.gy tinyurl.kr abit.ly";

/// A whitespace-separated list, sorted for binary search.
fn sorted(list: &'static str) -> Vec<&'static str> {
    let mut v: Vec<&'static str> = list.split_whitespace().collect();
    v.sort_unstable();
    v.dedup();
    v
}

struct Lists {
    bare_tlds: Vec<&'static str>,
    wordlike: Vec<&'static str>,
    risky: Vec<&'static str>,
    shorteners: Vec<&'static str>,
    ordinary: Vec<&'static str>,
}

fn lists() -> &'static Lists {
    static LISTS: OnceLock<Lists> = OnceLock::new();
    LISTS.get_or_init(|| {
        let mut bare = sorted(CC_TLDS);
        bare.extend(GENERIC_TLDS.split_whitespace());
        bare.sort_unstable();
        bare.dedup();
        Lists {
            bare_tlds: bare,
            wordlike: sorted(WORDLIKE_TLDS),
            risky: sorted(RISKY_TLDS),
            shorteners: sorted(SHORTENERS),
            ordinary: sorted(ORDINARY_WORDS),
        }
    })
}

fn in_list(list: &[&str], s: &str) -> bool {
    list.binary_search(&s).is_ok()
}

/// `s` lowercased into `buf` (ASCII only), for list look-ups without allocating.
fn lower_into<'a>(s: &str, buf: &'a mut [u8; 16]) -> Option<&'a str> {
    if s.len() > buf.len() || !s.is_ascii() {
        return None;
    }
    for (d, b) in buf.iter_mut().zip(s.bytes()) {
        *d = b.to_ascii_lowercase();
    }
    std::str::from_utf8(&buf[..s.len()]).ok()
}

fn is_shortener(host: &str, registrable: Option<&str>) -> bool {
    let l = lists();
    let host = host.strip_prefix("www.").unwrap_or(host);
    in_list(&l.shorteners, host) || registrable.is_some_and(|r| in_list(&l.shorteners, r))
}

// ---------------------------------------------------------------------------------------------
// Brands
// ---------------------------------------------------------------------------------------------

/// The built-in brand list (format documented at its top).
pub const BRANDS_TXT: &str = include_str!("../data/brands.txt");

/// A word look-alikes imitate, folded to its skeleton.
#[derive(Debug, Clone)]
struct Word {
    skeleton: String,
    brand: usize,
    /// Matched only when a label (or a hyphen-separated part of one) equals it.
    exact_only: bool,
}

/// Protected brands: their genuine registrable domains and the names look-alikes imitate.
///
/// Built by [`Brands::parse`] (format: `data/brands.txt`); skeletons and an Aho–Corasick
/// automaton over them are precomputed so judging a link costs a pass over its labels.
#[derive(Debug, Clone, Default)]
pub struct Brands {
    names: Vec<String>,
    /// Genuine domain → brand index, sorted by domain.
    genuine: Vec<(String, usize)>,
    words: Vec<Word>,
    /// Over `words[i].skeleton`, pattern id = word index.
    matcher: Option<AhoCorasick>,
}

impl Brands {
    /// The built-in list: the group's services, Korean public institutions, big banks,
    /// carriers and couriers (`data/brands.txt`).
    pub fn builtin() -> Brands {
        builtin_brands().clone()
    }

    /// Parses a brand list; errors name the line. Format (one brand a line, `#` comments):
    /// `name token...` where a token with a dot is a genuine registrable domain and a token
    /// without one is a word look-alikes imitate; the name is a word too; a leading `=` marks a
    /// word matched only exactly (no containment, no edit distance).
    pub fn parse(text: &str) -> Result<Brands, String> {
        let mut names: Vec<String> = Vec::new();
        let mut genuine: Vec<(String, usize)> = Vec::new();
        let mut word_ix: HashMap<String, usize> = HashMap::new();
        let mut words: Vec<Word> = Vec::new();
        for (n, line) in text.lines().enumerate() {
            let line_no = n + 1;
            let line = line.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let mut tokens = line.split_whitespace();
            let first = tokens.next().unwrap_or("");
            let (name_exact, name) = match first.strip_prefix('=') {
                Some(n) => (true, n),
                None => (false, first),
            };
            if !valid_word(name) {
                return Err(format!(
                    "line {line_no}: brand name {name:?} must be 2 to 63 lowercase letters, digits or `-`"
                ));
            }
            if names.iter().any(|x| x == name) {
                return Err(format!("line {line_no}: brand {name:?} is listed twice"));
            }
            let brand = names.len();
            names.push(name.to_string());
            let mut add_word = |w: &str, exact: bool| {
                let skeleton = joined_skeleton(w);
                if skeleton.len() < 2 {
                    return;
                }
                match word_ix.get(&skeleton) {
                    Some(&i) if words[i].brand == brand => words[i].exact_only |= exact,
                    Some(_) => {}
                    None => {
                        word_ix.insert(skeleton.clone(), words.len());
                        words.push(Word { skeleton, brand, exact_only: exact });
                    }
                }
            };
            add_word(name, name_exact);
            let mut domains = 0;
            for tok in tokens {
                if tok.contains('.') {
                    let d = tok.to_ascii_lowercase();
                    if !valid_domain(&d) {
                        return Err(format!(
                            "line {line_no}: {tok:?} is not a domain name (letters, digits, `-`, dots)"
                        ));
                    }
                    if let Some((_, b)) = genuine.iter().find(|(g, _)| *g == d) {
                        return Err(format!("line {line_no}: domain {d} is already listed for {}", names[*b]));
                    }
                    genuine.push((d, brand));
                    domains += 1;
                } else {
                    let (exact, w) = match tok.strip_prefix('=') {
                        Some(w) => (true, w),
                        None => (false, tok),
                    };
                    if !valid_word(w) {
                        return Err(format!(
                            "line {line_no}: word {tok:?} must be 2 to 63 lowercase letters, digits or `-` \
                             (domains have a dot)"
                        ));
                    }
                    add_word(w, exact);
                }
            }
            if domains == 0 {
                return Err(format!("line {line_no}: brand {name:?} has no genuine domain"));
            }
        }
        genuine.sort();
        let matcher = if words.is_empty() {
            None
        } else {
            let built = AhoCorasickBuilder::new()
                .match_kind(MatchKind::Standard)
                .build(words.iter().map(|w| w.skeleton.as_bytes()))
                .map_err(|e| format!("cannot build the brand matcher: {e}"))?;
            Some(built)
        };
        Ok(Brands { names, genuine, words, matcher })
    }

    /// The brand names, in file order.
    pub fn names(&self) -> impl Iterator<Item = &str> {
        self.names.iter().map(String::as_str)
    }

    /// Number of brands.
    pub fn len(&self) -> usize {
        self.names.len()
    }

    /// No brands at all.
    pub fn is_empty(&self) -> bool {
        self.names.is_empty()
    }

    /// The brand whose genuine domain `host` is or is under (`www.kakaobank.com` → `kakaobank`).
    pub fn genuine_brand(&self, host: &str) -> Option<&str> {
        let host = host.strip_suffix('.').unwrap_or(host);
        let mut rest = host;
        loop {
            if let Ok(i) = self.genuine.binary_search_by(|(d, _)| d.as_str().cmp(rest)) {
                return Some(&self.names[self.genuine[i].1]);
            }
            match rest.split_once('.') {
                Some((_, r)) if r.contains('.') => rest = r,
                _ => return None,
            }
        }
    }

    /// The brand that `host` imitates, if any. `suffix` is its public suffix (`com`, `co.kr`),
    /// whose labels are not compared. A genuine host imitates nothing.
    pub fn lookalike(&self, host: &str, suffix: &str) -> Option<&str> {
        if self.genuine_brand(host).is_some() {
            return None;
        }
        self.imitated(host, suffix)
    }

    /// [`Brands::lookalike`] for a host already known not to be genuine.
    fn imitated(&self, host: &str, suffix: &str) -> Option<&str> {
        let matcher = self.matcher.as_ref()?;
        let owned = host.strip_suffix(suffix).and_then(|h| h.strip_suffix('.')).unwrap_or(host);
        // Best match: exact or contained first (longest word wins), then edit distance.
        let mut best: Option<(usize, usize)> = None; // (word length, word index)
        let mut fuzzy: Option<(usize, usize)> = None; // (distance, word index)
        let mut sk = String::with_capacity(64);
        let mut joined = String::with_capacity(64);
        let last_label = owned.rsplit('.').next().unwrap_or(owned);
        for raw_label in owned.split('.').filter(|l| !l.is_empty() && *l != "www") {
            // Short words (`kb`, `nh`) equal a whole label only in the registrable one:
            // `kb.juniper.net` is a knowledge base, `kb.xyz` imitates KB.
            let registrable_label = std::ptr::eq(raw_label, last_label);
            let decoded;
            let label = match raw_label.strip_prefix("xn--").and_then(punycode_decode) {
                Some(d) => {
                    decoded = d;
                    decoded.as_str()
                }
                None => raw_label,
            };
            skeleton_into(label, &mut sk);
            joined.clear();
            joined.extend(sk.chars().filter(|c| *c != '-'));
            if joined.is_empty() {
                continue;
            }
            // Containment and whole-label equality on the joined skeleton.
            for m in matcher.find_overlapping_iter(joined.as_str()) {
                let w = &self.words[m.pattern().as_usize()];
                let whole = m.start() == 0 && m.end() == joined.len() && (registrable_label || w.skeleton.len() >= 4);
                if whole || (!w.exact_only && w.skeleton.len() >= 5) {
                    consider(&mut best, w.skeleton.len(), m.pattern().as_usize());
                }
            }
            // Hyphen-separated parts equal to a word (`kb-card`, `nh-bank`).
            if sk.contains('-') {
                for m in matcher.find_overlapping_iter(sk.as_str()) {
                    let before = m.start() == 0 || sk.as_bytes()[m.start() - 1] == b'-';
                    let after = m.end() == sk.len() || sk.as_bytes()[m.end()] == b'-';
                    if before && after {
                        consider(&mut best, self.words[m.pattern().as_usize()].skeleton.len(), m.pattern().as_usize());
                    }
                }
            }
            if best.is_some() {
                continue;
            }
            // Edit distance against the fuzzy words, on the whole label and on its parts.
            let parts = sk.split('-').filter(|p| p.len() >= 4 && p.len() < joined.len());
            for cand in std::iter::once(joined.as_str()).chain(parts) {
                if in_list(&lists().ordinary, cand) {
                    continue;
                }
                for (i, w) in self.words.iter().enumerate() {
                    // Typos keep the first letter; requiring it keeps `logistics` from
                    // imitating `cjlogistics`.
                    if w.exact_only || w.skeleton.len() < 5 || w.skeleton.as_bytes()[0] != cand.as_bytes()[0] {
                        continue;
                    }
                    let k = if w.skeleton.len() >= 10 { 2 } else { 1 };
                    if cand.len().abs_diff(w.skeleton.len()) > k {
                        continue;
                    }
                    if let Some(d) = bounded_distance(cand.as_bytes(), w.skeleton.as_bytes(), k)
                        && fuzzy.is_none_or(|(fd, _)| d < fd)
                    {
                        fuzzy = Some((d, i));
                    }
                }
            }
        }
        let idx = best.map(|(_, i)| i).or(fuzzy.map(|(_, i)| i))?;
        Some(&self.names[self.words[idx].brand])
    }
}

fn consider(best: &mut Option<(usize, usize)>, len: usize, idx: usize) {
    if best.is_none_or(|(l, _)| len > l) {
        *best = Some((len, idx));
    }
}

fn valid_word(w: &str) -> bool {
    (2..=63).contains(&w.len()) && w.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn valid_domain(d: &str) -> bool {
    d.len() <= 253
        && d.split('.').count() >= 2
        && d.split('.').all(|l| {
            (1..=63).contains(&l.len()) && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        })
}

fn builtin_brands() -> &'static Brands {
    static BRANDS: OnceLock<Brands> = OnceLock::new();
    // The embedded list is checked by the tests; a broken edit degrades to no brands.
    BRANDS.get_or_init(|| Brands::parse(BRANDS_TXT).unwrap_or_default())
}

/// The built-in brand list without copying it.
pub fn builtin_brands_ref() -> &'static Brands {
    builtin_brands()
}

/// Cyrillic and Greek letters that look like Latin ones: the text normaliser's table, plus
/// three more that only matter inside a host name (`ь` for `b`, `ё`, `ї`).
fn latin_lookalike(c: char) -> Option<char> {
    crate::normalize::latin_lookalike(c).or(match c {
        'ь' => Some('b'),
        'ё' => Some('e'),
        'ї' => Some('i'),
        _ => None,
    })
}

/// Folds a label to its skeleton: lower case, Cyrillic and Greek look-alikes to Latin, digits
/// to the letters they pass for (`0`→`o`, `1`→`l`, `3`→`e`, `4`→`a`, `5`→`s`, `7`→`t`, `8`→`b`),
/// `i` and `l` together, `rn`→`m`, `vv`→`w`, `_`→`-`. Other characters are kept.
fn skeleton_into(label: &str, out: &mut String) {
    out.clear();
    for c in label.chars() {
        let c = if c.is_ascii() { c.to_ascii_lowercase() } else { c.to_lowercase().next().unwrap_or(c) };
        let c = latin_lookalike(c).unwrap_or(c);
        let c = match c {
            '0' => 'o',
            '1' | 'i' | '|' => 'l',
            '3' => 'e',
            '4' => 'a',
            '5' => 's',
            '7' => 't',
            '8' => 'b',
            '_' => '-',
            c => c,
        };
        match (out.as_bytes().last(), c) {
            (Some(b'r'), 'n') => {
                out.pop();
                out.push('m');
            }
            (Some(b'v'), 'v') => {
                out.pop();
                out.push('w');
            }
            _ => out.push(c),
        }
    }
}

fn joined_skeleton(w: &str) -> String {
    let mut s = String::new();
    skeleton_into(w, &mut s);
    s.retain(|c| c != '-');
    s
}

/// Optimal-string-alignment distance (a swap of neighbours counts one) if it is at most `k`.
fn bounded_distance(a: &[u8], b: &[u8], k: usize) -> Option<usize> {
    const N: usize = 64;
    if a.len() >= N || b.len() >= N || a.len().abs_diff(b.len()) > k {
        return None;
    }
    let mut prev2 = [0usize; N];
    let mut prev: [usize; N] = [0; N];
    let mut cur = [0usize; N];
    for (j, p) in prev.iter_mut().enumerate().take(b.len() + 1) {
        *p = j;
    }
    for i in 1..=a.len() {
        cur[0] = i;
        let mut row_min = cur[0];
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut v = (prev[j] + 1).min(cur[j - 1] + 1).min(prev[j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                v = v.min(prev2[j - 2] + 1);
            }
            cur[j] = v;
            row_min = row_min.min(v);
        }
        if row_min > k {
            return None;
        }
        prev2 = prev;
        prev = cur;
    }
    let d = prev[b.len()];
    (d <= k).then_some(d)
}

/// Decodes an RFC 3492 punycode label (the indicator normaliser's decoder).
pub use indicators::punycode_decode;

// ---------------------------------------------------------------------------------------------
// Extraction
// ---------------------------------------------------------------------------------------------

/// A link as found in text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawLink {
    /// The link text after de-obfuscation (`hxxp` → `http`, `[.]` → `.`).
    pub text: String,
    /// It was obfuscated in the message.
    pub obfuscated: bool,
}

/// Full-width and other stand-ins for ASCII characters of URLs.
fn fold_ascii(c: char) -> Option<char> {
    match c {
        '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0),
        '\u{3002}' | '\u{FF61}' | '\u{FE52}' | '\u{2024}' | '\u{00B7}' | '\u{2219}' | '\u{22C5}' | '\u{30FB}'
        | '\u{FF65}' => Some('.'),
        '\u{2215}' | '\u{2044}' => Some('/'),
        '\u{FE55}' => Some(':'),
        _ => None,
    }
}

fn horizontal_space(c: char) -> bool {
    matches!(c, ' ' | '\t' | '\u{00A0}' | '\u{3000}' | '\u{2000}'..='\u{200A}' | '\u{202F}' | '\u{205F}')
}

/// Text that may hold a link at all: it has some kind of dot.
fn may_hold_link(raw: &str) -> bool {
    let b = raw.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'.' => return true,
            b'd' | b'D' if b.len() - i >= 3 && b[i + 1] | 0x20 == b'o' && b[i + 2] | 0x20 == b't' => return true,
            // Middle dot U+00B7 (C2 B7).
            0xC2 if b.get(i + 1) == Some(&0xB7) => return true,
            // U+FF0E, U+FF61, U+FF65 (EF BC 8E, EF BD A1, EF BD A5), U+FE52 (EF B9 92), U+3002 (E3 80 82),
            // U+30FB (E3 83 BB), U+2024 (E2 80 A4), U+2219 (E2 88 99), U+22C5 (E2 8B 85).
            0xEF | 0xE3 | 0xE2 if b.len() - i >= 3 => {
                if matches!(
                    (b[i], b[i + 1], b[i + 2]),
                    (0xEF, 0xBC, 0x8E)
                        | (0xEF, 0xBD, 0xA1)
                        | (0xEF, 0xBD, 0xA5)
                        | (0xEF, 0xB9, 0x92)
                        | (0xE3, 0x80, 0x82)
                        | (0xE3, 0x83, 0xBB)
                        | (0xE2, 0x80, 0xA4)
                        | (0xE2, 0x88, 0x99)
                        | (0xE2, 0x8B, 0x85)
                ) {
                    return true;
                }
            }
            _ => {}
        }
        i += 1;
    }
    false
}

fn starts_with_ci(hay: &[u8], needle: &[u8]) -> bool {
    hay.len() >= needle.len() && hay.iter().zip(needle).all(|(a, b)| a.to_ascii_lowercase() == *b)
}

/// Defanged spellings read back: `[.]`, `(.)`, `{.}`, `[dot]`, `(dot)`, `{dot}`, `[:]`, `[://]`,
/// `[/]`, with optional spaces inside the brackets.
fn defang(b: &[u8]) -> Option<(&'static str, usize)> {
    let close = match b.first()? {
        b'[' => b']',
        b'(' => b')',
        b'{' => b'}',
        _ => return None,
    };
    let mut i = 1;
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    let (rep, len) = if b.get(i) == Some(&b'.') {
        (".", 1)
    } else if starts_with_ci(&b[i..], b"dot") {
        (".", 3)
    } else if close == b']' && starts_with_ci(&b[i..], b"://") {
        ("://", 3)
    } else if close == b']' && b.get(i) == Some(&b':') {
        (":", 1)
    } else if close == b']' && b.get(i) == Some(&b'/') {
        ("/", 1)
    } else {
        return None;
    };
    i += len;
    while b.get(i) == Some(&b' ') {
        i += 1;
    }
    (b.get(i) == Some(&close)).then_some((rep, i + 1))
}

/// The message with obfuscation undone, and which bytes of it were changed.
struct Cleaned {
    text: String,
    touched: Vec<bool>,
}

impl Cleaned {
    fn push(&mut self, c: char, touched: bool) {
        self.text.push(c);
        self.touched.extend(std::iter::repeat_n(touched, c.len_utf8()));
    }

    fn last_char(&self) -> Option<char> {
        self.text.chars().next_back()
    }

    /// Emits a dot; spaces before it are dropped when a word precedes them (`kakao . com`).
    fn push_dot(&mut self, touched: bool) -> bool {
        let trimmed = self.text.trim_end_matches([' ', '\t']);
        let spaces = self.text.len() - trimmed.len();
        if spaces > 0 && trimmed.chars().next_back().is_some_and(|c| c.is_ascii_alphanumeric() || c == '-') {
            let keep = trimmed.len();
            self.text.truncate(keep);
            self.touched.truncate(keep);
            self.push('.', true);
            return true;
        }
        self.push('.', touched);
        false
    }
}

/// Whether [`clean`] would change anything (most messages need no cleaning).
fn needs_cleaning(raw: &str) -> bool {
    let b = raw.as_bytes();
    for (i, c) in raw.char_indices() {
        let hit = match c {
            '[' | '(' | '{' => defang(&b[i..]).is_some(),
            'h' | 'H' => starts_with_ci(&b[i..], b"hxxp"),
            't' | 'T' => starts_with_ci(&b[i..], b"ttp://") || starts_with_ci(&b[i..], b"ttps://"),
            ' ' | '\t' => b.get(i + 1) == Some(&b'.'),
            c if c.is_ascii() || ('\u{AC00}'..='\u{D7A3}').contains(&c) => false,
            c => crate::normalize::invisible(c) || fold_ascii(c).is_some() || horizontal_space(c),
        };
        if hit {
            return true;
        }
    }
    false
}

fn clean(raw: &str) -> Cleaned {
    let mut out = Cleaned { text: String::with_capacity(raw.len()), touched: Vec::with_capacity(raw.len()) };
    let b = raw.as_bytes();
    let mut i = 0;
    let mut pending = false; // an invisible character was dropped before the next character
    let mut joined = false; // the last dot was joined over spaces: drop spaces after it too
    let mut held = 0usize; // spaces held back after a joined dot
    while i < b.len() {
        let Some(c) = raw[i..].chars().next() else { break };
        let len = c.len_utf8();
        if crate::normalize::invisible(c) {
            pending = true;
            i += len;
            continue;
        }
        // Middle dots stand for a dot only between letters, never across spaces (`a · b`).
        let middle_dot = matches!(c, '\u{00B7}' | '\u{2219}' | '\u{22C5}' | '\u{30FB}' | '\u{FF65}');
        let (c, mapped) = match fold_ascii(c) {
            Some(m) => (m, true),
            None => (c, false),
        };
        if horizontal_space(c) {
            if joined {
                held += 1;
            } else {
                out.push(' ', false);
            }
            i += len;
            continue;
        }
        if joined {
            // Spaces after a joined dot are dropped only before a word.
            if !c.is_ascii_alphanumeric() {
                for _ in 0..held {
                    out.push(' ', false);
                }
            }
            joined = false;
            held = 0;
        }
        let prev_alnum = || out.last_char().is_some_and(|p| p.is_alphanumeric());
        if !mapped
            && matches!(c, '[' | '(' | '{')
            && let Some((rep, used)) = defang(&b[i..])
        {
            if rep == "." {
                joined = out.push_dot(true);
            } else {
                for r in rep.chars() {
                    out.push(r, true);
                }
            }
            pending = false;
            i += used;
            continue;
        }
        if !mapped && (c == 'h' || c == 'H') && starts_with_ci(&b[i..], b"hxxp") && !prev_alnum() {
            for r in "http".chars() {
                out.push(r, true);
            }
            pending = false;
            i += 4;
            continue;
        }
        if !mapped
            && (c == 't' || c == 'T')
            && (starts_with_ci(&b[i..], b"ttp://") || starts_with_ci(&b[i..], b"ttps://"))
            && !out.last_char().is_some_and(char::is_alphabetic)
        {
            out.push('h', true);
        }
        if c == '.' && !middle_dot {
            joined = out.push_dot(mapped || pending);
        } else {
            out.push(c, mapped || pending);
        }
        pending = false;
        i += len;
    }
    out
}

/// A character of a host label in running text: ASCII letters and digits, `-`, `_`, and the
/// Cyrillic and Greek letters look-alike hosts mix in.
fn label_char(c: char) -> bool {
    // Every look-alike letter lies below U+2000 (Greek, Cyrillic, Armenian, phonetic letters).
    c.is_ascii_alphanumeric()
        || c == '-'
        || c == '_'
        || (!c.is_ascii() && c < '\u{2000}' && latin_lookalike(c).is_some())
}

/// Hangul, kana and CJK: end a host when they follow ASCII in one label (`kakao.com입니다`).
fn east_asian(c: char) -> bool {
    matches!(c,
        '\u{1100}'..='\u{11FF}' | '\u{3040}'..='\u{30FF}' | '\u{3130}'..='\u{318F}' | '\u{3400}'..='\u{9FFF}'
        | '\u{AC00}'..='\u{D7AF}' | '\u{F900}'..='\u{FAFF}')
}

/// ASCII characters allowed in a path, query or fragment as found in text.
fn url_byte(b: u8) -> bool {
    b > 0x20 && b < 0x7F && !matches!(b, b'<' | b'>' | b'"' | b'\\' | b'^' | b'`' | b'{' | b'|' | b'}')
}

/// Whether a link may start right after `prev` (the previous two characters).
fn start_boundary(prev: Option<char>, prev2: Option<char>) -> bool {
    match prev {
        None => true,
        Some('.') => prev2 == Some('.'), // after an ellipsis
        Some(c) if c.is_ascii() => {
            !(c.is_ascii_alphanumeric()
                || matches!(c, '-' | '_' | '@' | '/' | '\\' | '%' | '&' | '=' | '?' | '#' | '+' | '~'))
        }
        Some(c) => !label_char(c),
    }
}

/// End of the path, query and fragment starting at `i` (at `/`, `?` or `#`).
fn path_end(s: &str, mut i: usize) -> usize {
    let b = s.as_bytes();
    while i < b.len() && url_byte(b[i]) {
        i += 1;
    }
    i
}

/// Drops trailing punctuation that belongs to the sentence, not the link.
fn trim_trailing(s: &str, start: usize, mut end: usize) -> usize {
    let b = s.as_bytes();
    // Unbalanced closing brackets are the sentence's: `(see https://x.com/a)`.
    let count = |x: u8| b[start..end].iter().filter(|&&y| y == x).count();
    let (open_paren, mut close_paren) = (count(b'('), count(b')'));
    let (open_square, mut close_square) = (count(b'['), count(b']'));
    while end > start {
        let strip = match b[end - 1] {
            b'.' | b',' | b';' | b':' | b'!' | b'?' | b'\'' | b'"' | b'*' => true,
            b')' if close_paren > open_paren => {
                close_paren -= 1;
                true
            }
            b']' if close_square > open_square => {
                close_square -= 1;
                true
            }
            _ => false,
        };
        if !strip {
            break;
        }
        end -= 1;
    }
    end
}

fn ipv4(host: &str) -> bool {
    let mut n = 0;
    for part in host.split('.') {
        n += 1;
        if part.is_empty()
            || part.len() > 3
            || !part.bytes().all(|b| b.is_ascii_digit())
            || part.parse::<u16>().map_or(true, |v| v > 255)
        {
            return false;
        }
    }
    n == 4
}

/// A host in running text (no scheme): ASCII-ish labels and a known TLD.
fn bare_host_ok(host: &str, has_path: bool) -> bool {
    if host.len() > 253 || !host.contains('.') {
        return false;
    }
    if host.split('.').any(|l| l.is_empty() || l.len() > 63) {
        return false;
    }
    if ipv4(host) {
        return has_path;
    }
    let tld = host.rsplit('.').next().unwrap_or("");
    if !tld.bytes().all(|b| b.is_ascii_alphabetic()) {
        return false;
    }
    // `Mr.Kim`, `Thanks.Me`: a capitalised word after a dot is prose.
    let upper = tld.bytes().filter(u8::is_ascii_uppercase).count();
    if upper > 0 && upper < tld.len() {
        return false;
    }
    let mut buf = [0u8; 16];
    let Some(tld) = lower_into(tld, &mut buf) else { return false };
    let l = lists();
    if !in_list(&l.bare_tlds, tld) {
        return false;
    }
    if in_list(&l.wordlike, tld) && !has_path {
        let lower = host.to_ascii_lowercase();
        let two = lower.rsplitn(3, '.').take(2).collect::<Vec<_>>();
        let last_two = if two.len() == 2 { format!("{}.{}", two[1], two[0]) } else { lower.clone() };
        return lower.starts_with("www.") || in_list(&l.shorteners, &last_two);
    }
    true
}

/// A host after a scheme: an IP address or labels ending in an alphabetic (or punycode) TLD.
fn scheme_host_ok(host: &str) -> bool {
    if host.is_empty() || host.len() > 253 {
        return false;
    }
    if host.starts_with('[') {
        return host.ends_with(']') && host.len() > 2;
    }
    let host = host.strip_suffix('.').unwrap_or(host);
    if ipv4(host) {
        return true;
    }
    if !host.contains('.') || host.split('.').any(|l| l.is_empty() || l.chars().count() > 63) {
        return false;
    }
    let tld = host.rsplit('.').next().unwrap_or("");
    (tld.chars().count() >= 2 && tld.chars().all(char::is_alphabetic))
        || (tld.len() > 4 && starts_with_ci(tld.as_bytes(), b"xn--"))
}

/// A link starting with `http://` or `https://` at `start`; returns its end.
fn scheme_link(s: &str, start: usize) -> Option<usize> {
    /// User info, host and port together are never longer than this.
    const MAX_AUTHORITY: usize = 320;
    let b = s.as_bytes();
    let auth_start = start + if starts_with_ci(&b[start..], b"https://") { 8 } else { 7 };
    let mut j = auth_start;
    let mut label_ascii = false;
    while j < b.len() {
        if j - auth_start > MAX_AUTHORITY {
            return None;
        }
        let Some(c) = s[j..].chars().next() else { break };
        if c.is_ascii() {
            let ok = c.is_ascii_alphanumeric() || "-._~!$&'()*+,;=:@[]%".contains(c);
            if !ok {
                break;
            }
            if matches!(c, '.' | '@' | ':') {
                label_ascii = false;
            } else if c.is_ascii_alphanumeric() {
                label_ascii = true;
            }
        } else if !c.is_alphanumeric() || (east_asian(c) && label_ascii) {
            break;
        }
        j += c.len_utf8();
    }
    // The host is checked before the path is read, so a failed candidate costs little.
    let has_path = j < b.len() && matches!(b[j], b'/' | b'?' | b'#');
    let auth_end = if has_path { j } else { trim_trailing(s, auth_start, j) };
    let authority = &s[auth_start..auth_end];
    let hostport = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let host = if hostport.starts_with('[') {
        hostport.find(']').map_or(hostport, |e| &hostport[..=e])
    } else {
        match hostport.rsplit_once(':') {
            Some((h, p)) if p.bytes().all(|b| b.is_ascii_digit()) => h,
            _ => hostport,
        }
    };
    if !scheme_host_ok(host) {
        return None;
    }
    if !has_path {
        return Some(auth_end);
    }
    Some(trim_trailing(s, start, path_end(s, j)).max(auth_end))
}

/// Outcome of reading a bare candidate.
enum Bare {
    Link(usize),
    /// Not a link; continue scanning at this offset.
    Skip(usize),
}

/// A bare link (`kakao-event.xyz/abc`, `www.x.com`, `1.2.3.4/admin`) whose host run is
/// `start..run_end`.
fn bare_link(s: &str, start: usize, run_end: usize) -> Bare {
    let b = s.as_bytes();
    let host_end = start + s[start..run_end].trim_end_matches(['.', '-', '_']).len();
    let host = &s[start..host_end];
    if !host.contains('.') {
        return Bare::Skip(run_end);
    }
    let mut end = host_end;
    // `name@host`: an e-mail address, unless a path follows (`kakao.com@evil.xyz/login`).
    if host_end == run_end && b.get(end) == Some(&b'@') {
        let after = end + 1;
        let mut k = after;
        while k < b.len() {
            let Some(c) = s[k..].chars().next() else { break };
            if !(label_char(c) || c == '.') {
                break;
            }
            k += c.len_utf8();
        }
        let k_host = after + s[after..k].trim_end_matches(['.', '-', '_']).len();
        if k_host == k && b.get(k) == Some(&b'/') && bare_host_ok(&s[after..k_host], true) {
            let e = trim_trailing(s, start, path_end(s, k));
            return Bare::Link(e);
        }
        return Bare::Skip(k.max(after));
    }
    let mut has_port = false;
    if host_end == run_end && b.get(end) == Some(&b':') {
        let digits = b[end + 1..].iter().take_while(|x| x.is_ascii_digit()).count();
        let next = b.get(end + 1 + digits).copied();
        if (1..=5).contains(&digits) && !next.is_some_and(|x| x.is_ascii_alphanumeric() || x >= 0x80) {
            end += 1 + digits;
            has_port = true;
        }
    }
    let has_path = (end == run_end || has_port)
        && match b.get(end) {
            Some(b'/') => true,
            Some(b'?' | b'#') => b.get(end + 1).is_some_and(|&x| x.is_ascii_alphanumeric()),
            _ => false,
        };
    // The host is checked before the path is read, so a failed candidate costs little.
    if !bare_host_ok(host, has_path || has_port) {
        return Bare::Skip(run_end);
    }
    if has_path {
        end = path_end(s, end);
    }
    Bare::Link(trim_trailing(s, start, end).max(host_end))
}

/// Every link in `text`, in order (duplicates once, at most [`MAX_LINKS`]).
pub fn extract(text: &str) -> Vec<RawLink> {
    let mut links: Vec<RawLink> = Vec::new();
    if !may_hold_link(text) {
        return links;
    }
    let cleaned =
        if needs_cleaning(text) { clean(text) } else { Cleaned { text: text.to_string(), touched: Vec::new() } };
    let s = cleaned.text.as_str();
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() && links.len() < MAX_LINKS {
        // Skip to the next host character. A lead byte from 0xE2 up starts a character from
        // U+2000 up, never a host character (see `label_char`): no decoding needed for Hangul.
        let x = b[i];
        if x < 0x80 {
            if !(x.is_ascii_alphanumeric() || x == b'-' || x == b'_') {
                i += 1;
                continue;
            }
        } else if x >= 0xE2 {
            i += if x >= 0xF0 { 4 } else { 3 };
            continue;
        }
        let Some(c) = s[i..].chars().next() else { break };
        if !label_char(c) {
            i += c.len_utf8();
            continue;
        }
        // The run of host characters from here.
        let mut run_end = i;
        let mut dot = false;
        while run_end < b.len() {
            let y = b[run_end];
            if y < 0x80 {
                // ASCII: a label character or a dot (not an ellipsis), without decoding.
                if y == b'.' {
                    if b.get(run_end + 1) == Some(&b'.') {
                        break;
                    }
                    dot = true;
                } else if !(y.is_ascii_alphanumeric() || y == b'-' || y == b'_') {
                    break;
                }
                run_end += 1;
                continue;
            }
            let Some(r) = s[run_end..].chars().next() else { break };
            if !label_char(r) {
                break;
            }
            run_end += r.len_utf8();
        }
        let scheme = starts_with_ci(&b[i..], b"http://") || starts_with_ci(&b[i..], b"https://");
        if !dot && !scheme {
            // A word without a dot is no bare domain (`bare_link` skips it whatever the boundary).
            i = run_end.max(i + c.len_utf8());
            continue;
        }
        // The two characters before it, for the boundary.
        let mut before = s[..i].chars().rev();
        let (prev, prev2) = (before.next(), before.next());
        // A scheme may follow any punctuation (`url=http://…`); a bare domain may not.
        let boundary = start_boundary(prev, prev2) || (scheme && !prev.is_some_and(|p| p.is_ascii_alphanumeric()));
        let next = if !boundary {
            run_end
        } else if scheme {
            match scheme_link(s, i) {
                Some(end) => {
                    push_link(&mut links, &cleaned, i, end);
                    end
                }
                None => run_end,
            }
        } else {
            match bare_link(s, i, run_end) {
                Bare::Link(end) => {
                    push_link(&mut links, &cleaned, i, end);
                    end
                }
                Bare::Skip(end) => end,
            }
        };
        i = next.max(i + c.len_utf8());
    }
    links
}

fn push_link(links: &mut Vec<RawLink>, cleaned: &Cleaned, start: usize, end: usize) {
    let s = &cleaned.text;
    let mut cut = end.min(start + MAX_LINK_BYTES);
    while !s.is_char_boundary(cut) {
        cut -= 1;
    }
    let text = &s[start..cut];
    if text.is_empty() || links.iter().any(|l| l.text == text) {
        return;
    }
    let obfuscated = cleaned.touched.get(start..end).is_some_and(|t| t.iter().any(|&t| t));
    links.push(RawLink { text: text.to_string(), obfuscated });
}

// ---------------------------------------------------------------------------------------------
// Inspection
// ---------------------------------------------------------------------------------------------

/// Points (0..=100) each finding adds to a link's risk; combined as independent evidence:
/// `risk = 100 · (1 − Π(1 − pointsᵢ/100))`.
mod points {
    pub const LOOKALIKE: f32 = 85.0;
    pub const APK: f32 = 80.0;
    pub const RAW_IP: f32 = 70.0;
    pub const AT_SIGN: f32 = 70.0;
    pub const PUNYCODE: f32 = 55.0;
    pub const SHORTENER: f32 = 45.0;
    pub const RISKY_TLD: f32 = 35.0;
    pub const OBFUSCATED: f32 = 35.0;
    pub const PORT: f32 = 30.0;
    pub const DEEP_SUBDOMAINS: f32 = 30.0;
    pub const UNPARSABLE: f32 = 30.0;
    /// The URL model adds `MODEL · probability`.
    pub const MODEL: f32 = 70.0;
    /// A genuine brand domain is capped here (a genuine shortener at `SHORTENER`).
    pub const GENUINE_CAP: f32 = 10.0;
}

/// The model's probability for `url`, or `None` when the model is not a URL model of this
/// feature set (a mismatched model is ignored rather than misread).
pub fn url_probability(model: &LinearModel, url: &str) -> Option<f32> {
    if model.kind != ModelKind::Urls || model.feature_set != FEATURE_SET || model.weights.len() != 1usize << model.bits
    {
        return None;
    }
    Some(model.probability(&url_features(url, model.bits)))
}

/// The host of a normalised `url` indicator value (`host[:port][/path]`) and whether it has a
/// port.
fn split_normalised(v: &str) -> (&str, bool) {
    let authority = v.split('/').next().unwrap_or(v);
    if authority.starts_with('[') {
        match authority.find(']') {
            Some(e) => (&authority[..=e], authority.len() > e + 1),
            None => (authority, false),
        }
    } else {
        match authority.rsplit_once(':') {
            Some((h, _)) => (h, true),
            None => (authority, false),
        }
    }
}

/// The authority of a link as written (after any scheme, before the path).
fn written_authority(text: &str) -> &str {
    let rest = match text.find("://") {
        Some(i) => &text[i + 3..],
        None => text.strip_prefix("//").unwrap_or(text),
    };
    rest.split(['/', '\\', '?', '#']).next().unwrap_or(rest)
}

/// Whether the link asks to download an Android package: a `.apk` path or an `apk` token.
fn apk_hint(text: &str) -> bool {
    text.split(|c: char| !c.is_ascii_alphanumeric()).any(|t| t.eq_ignore_ascii_case("apk"))
}

/// Judges one link.
///
/// Flags, in this order: `unparsable` (not a valid web address; judged on its text),
/// `shortener`, `raw_ip`, `punycode`, `lookalike` (with `brand`), `risky_tld`, `apk`,
/// `obfuscated`, `port`, `deep_subdomains` (4+ labels before the registrable domain),
/// `at_sign` (user info before the host: `kakao.com@evil.xyz`), `model` (URL model at or above
/// its threshold; not consulted for shorteners, whose path is an opaque key, and not raised
/// for genuine brand domains).
///
/// Risk: each flag carries points (lookalike 85, apk 80, raw_ip 70, at_sign 70, punycode 55,
/// shortener 45, risky_tld 35, obfuscated 35, port 30, deep_subdomains 30, unparsable 30) and
/// the model adds `70 · probability`; they combine as independent evidence,
/// `100 · (1 − Π(1 − points/100))`, so one strong finding gives a high risk, weak findings add
/// up and nothing exceeds 100. A genuine brand domain (or a subdomain of one) is capped at 10,
/// or at 45 if it is the brand's own shortener (`naver.me`): the model and the weak flags do
/// not override a domain we know.
pub fn inspect(link: &RawLink, brands: &Brands, model: &LinearModel) -> domain::Link {
    let text = link.text.as_str();
    let mut flags: Vec<String> = Vec::new();
    let mut pts: Vec<f32> = Vec::with_capacity(8);
    let mut flag = |name: &str, p: f32, flags: &mut Vec<String>| {
        flags.push(name.to_string());
        pts.push(p);
    };
    let normalised = indicators::normalise(IndicatorKind::Url, text);
    let (url, domain, brand, genuine, shortener) = match &normalised {
        Err(_) => {
            flag("unparsable", points::UNPARSABLE, &mut flags);
            if apk_hint(text) {
                flag("apk", points::APK, &mut flags);
            }
            if link.obfuscated {
                flag("obfuscated", points::OBFUSCATED, &mut flags);
            }
            if written_authority(text).contains('@') {
                flag("at_sign", points::AT_SIGN, &mut flags);
            }
            let mut cut = text.len().min(MAX_LINK_BYTES);
            while !text.is_char_boundary(cut) {
                cut -= 1;
            }
            (text[..cut].to_string(), None, None, false, false)
        }
        Ok(ind) => {
            let value = ind.value();
            let registrable = indicators::registrable_domain(ind);
            let (host, has_port) = split_normalised(value);
            let is_ip = host.starts_with('[') || ipv4(host);
            let shortener = is_shortener(host, registrable.as_deref());
            let genuine = brands.genuine_brand(host).is_some();
            let suffix = registrable.as_deref().and_then(|r| r.split_once('.')).map(|(_, s)| s);
            let brand = match suffix {
                Some(sfx) if !genuine && !is_ip => brands.imitated(host, sfx).map(str::to_string),
                _ => None,
            };
            if shortener {
                flag("shortener", points::SHORTENER, &mut flags);
            }
            if is_ip {
                flag("raw_ip", points::RAW_IP, &mut flags);
            }
            if host.split('.').any(|l| l.starts_with("xn--")) {
                flag("punycode", points::PUNYCODE, &mut flags);
            }
            if brand.is_some() {
                flag("lookalike", points::LOOKALIKE, &mut flags);
            }
            let tld = host.rsplit('.').next().unwrap_or("");
            if !is_ip && in_list(&lists().risky, tld) {
                flag("risky_tld", points::RISKY_TLD, &mut flags);
            }
            if apk_hint(text) {
                flag("apk", points::APK, &mut flags);
            }
            if link.obfuscated {
                flag("obfuscated", points::OBFUSCATED, &mut flags);
            }
            if has_port {
                flag("port", points::PORT, &mut flags);
            }
            if let Some(r) = &registrable {
                let sub = host.len().saturating_sub(r.len());
                let labels_before = host.get(..sub).map_or(0, |h| h.trim_end_matches('.').split('.').count());
                if sub > 0 && labels_before >= 4 {
                    flag("deep_subdomains", points::DEEP_SUBDOMAINS, &mut flags);
                }
            }
            if written_authority(text).contains('@') {
                flag("at_sign", points::AT_SIGN, &mut flags);
            }
            (value.to_string(), registrable, brand, genuine, shortener)
        }
    };
    // A shortener's path is an opaque key: the model would only repeat the shortener flag.
    let prob = if shortener { None } else { url_probability(model, text) };
    if let Some(p) = prob {
        if p >= model.threshold && !genuine {
            flags.push("model".to_string());
        }
        pts.push(points::MODEL * p);
    }
    let keep = pts.iter().fold(1.0f32, |acc, p| acc * (1.0 - (p / 100.0).clamp(0.0, 1.0)));
    let mut risk = 100.0 * (1.0 - keep);
    if genuine {
        risk = risk.min(if shortener { points::SHORTENER } else { points::GENUINE_CAP });
    }
    let risk = risk.round().clamp(0.0, 100.0) as u8;
    domain::Link { url, domain, risk, flags, brand }
}

// ---------------------------------------------------------------------------------------------
// URL model
// ---------------------------------------------------------------------------------------------

/// Feature families: each hashes with its own seed so equal bytes of two families differ.
mod family {
    pub const SCHEME: u64 = 1;
    pub const HOST_GRAM: u64 = 2;
    pub const PATH_GRAM: u64 = 3;
    pub const HOST_TOKEN: u64 = 4;
    pub const PATH_TOKEN: u64 = 5;
    pub const TLD: u64 = 6;
    pub const SLD: u64 = 7;
    pub const EXT: u64 = 8;
    pub const SHAPE: u64 = 9;
    pub const WORD: u64 = 10;
    pub const FIRST_LABEL: u64 = 11;
}

/// Words phishing URLs use to look official or urgent.
const SUSPICIOUS_WORDS: &str = "\
    login logon signin sign-in verify verif secure account update bank paypal webscr confirm ebay apple wallet \
    password passwd support billing lucky bonus free admin wp- includes alibaba amazon microsoft outlook office \
    dropbox docusign netflix invoice payment security unlock suspend recover auth session token cmd dispatch \
    mailbox webmail validation customer service client kakao naver toss apk download event gift coupon delivery \
    parcel refund";

/// The suspicious words and a matcher over them (pattern id = index).
fn suspicious_words() -> &'static (Vec<&'static str>, AhoCorasick) {
    static WORDS: OnceLock<(Vec<&'static str>, AhoCorasick)> = OnceLock::new();
    WORDS.get_or_init(|| {
        let words: Vec<&'static str> = SUSPICIOUS_WORDS.split_whitespace().take(128).collect();
        let matcher = AhoCorasickBuilder::new()
            .match_kind(MatchKind::Standard)
            .build(&words)
            .expect("a few short fixed patterns always build");
        (words, matcher)
    })
}

struct Hasher {
    bits: u8,
    out: Features,
}

impl Hasher {
    fn add(&mut self, fam: u64, bytes: &[u8], v: f32) {
        let h = xxh3_64_with_seed(bytes, fam);
        self.out.push(((h & ((1u64 << self.bits) - 1)) as u32, v));
    }

    fn num(&mut self, fam: u64, tag: u8, n: usize, v: f32) {
        let n = n.min(u32::MAX as usize) as u32;
        let mut b = [0u8; 5];
        b[0] = tag;
        b[1..].copy_from_slice(&n.to_le_bytes());
        self.add(fam, &b, v);
    }

    /// Character `min..=max`-grams (`max` ≤ 7): each gram's bytes packed into a `u64` with
    /// its length, then mixed (cheaper than hashing every window as a byte string).
    fn grams(&mut self, fam: u64, s: &[u8], min: usize, max: usize) {
        let mask = (1u64 << self.bits) - 1;
        let seed = fam.wrapping_mul(0x9E37_79B9_7F4A_7C15);
        for start in 0..s.len() {
            let mut packed = 0u64;
            for (n, &b) in s[start..].iter().take(max.min(7)).enumerate() {
                packed = packed << 8 | u64::from(b);
                if n + 1 >= min {
                    let x = mix(packed ^ seed ^ ((n as u64 + 1) << 56));
                    self.out.push(((x & mask) as u32, 1.0));
                }
            }
        }
    }
}

/// The MurmurHash3 64-bit finaliser.
fn mix(mut x: u64) -> u64 {
    x ^= x >> 33;
    x = x.wrapping_mul(0xFF51_AFD7_ED55_8CCD);
    x ^= x >> 33;
    x = x.wrapping_mul(0xC4CE_B9FE_1A85_EC53);
    x ^ (x >> 33)
}

/// A count in buckets that grow with the count.
fn bucket(n: usize) -> usize {
    match n {
        0..=4 => n,
        5..=7 => 5,
        8..=11 => 6,
        12..=17 => 7,
        18..=26 => 8,
        27..=40 => 9,
        41..=60 => 10,
        61..=90 => 11,
        91..=140 => 12,
        _ => 13,
    }
}

/// The parts of a URL string as written.
struct UrlParts<'a> {
    scheme: &'a str,
    host: &'a str,
    port: bool,
    at: bool,
    path: &'a str,
    query: &'a str,
}

fn url_parts(url: &str) -> UrlParts<'_> {
    let (scheme, rest) = match url.find("://") {
        Some(i) if i <= 8 => (&url[..i], &url[i + 3..]),
        _ => ("", url),
    };
    let end = rest.find(['/', '?', '#', '\\']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    let (at, hostport) = match authority.rsplit_once('@') {
        Some((_, h)) => (true, h),
        None => (false, authority),
    };
    let (host, port) = match hostport.rsplit_once(':') {
        Some((h, p)) if !h.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => (h, !p.is_empty()),
        _ => (hostport, false),
    };
    let tail = tail.split('#').next().unwrap_or(tail);
    let (path, query) = tail.split_once('?').unwrap_or((tail, ""));
    UrlParts { scheme, host, port, at, path, query }
}

/// Hashed features of a URL string (version [`FEATURE_SET`]): character 3–5-grams of the host
/// and of the path and query (with start and end markers), host and path tokens, the TLD, the
/// label before it and the first label, and bucketed shape features (lengths, dots, hyphens,
/// digits, subdomains, path depth, query parameters, scheme, raw IP, port, `@`, `//` in the
/// path, a TLD or `http` inside the path, suspicious words). The vector is L2-normalised.
pub fn url_features(url: &str, bits: u8) -> Features {
    let bits = bits.clamp(1, 31);
    let mut h = Hasher { bits, out: Vec::with_capacity(256) };
    let mut cut = url.trim().len().min(400);
    let url = url.trim();
    while !url.is_char_boundary(cut) {
        cut -= 1;
    }
    let full_len = url.len();
    let url = &url[..cut];
    let mut lower_buf = [0u8; 400];
    let lower = &mut lower_buf[..url.len()];
    lower.copy_from_slice(url.as_bytes());
    lower.make_ascii_lowercase();
    let lower_str = std::str::from_utf8(lower).unwrap_or("");
    let p = url_parts(lower_str);

    // Without a scheme a link is read as `http://` (what a browser does).
    let scheme = match p.scheme {
        "https" => 1,
        "http" | "" => 2,
        _ => 3,
    };
    h.num(family::SCHEME, 0, scheme, 1.0);
    let host = p.host.trim_end_matches('.');
    let is_ip = ipv4(host) || host.starts_with('[');

    // Host n-grams with markers.
    let mut buf = [0u8; 260];
    let hb = host.as_bytes();
    let hl = hb.len().min(256);
    buf[0] = b'^';
    buf[1..=hl].copy_from_slice(&hb[..hl]);
    buf[hl + 1] = b'$';
    h.grams(family::HOST_GRAM, &buf[..hl + 2], 3, 5);

    // Path and query n-grams (first 200 bytes) with a start marker.
    // `p.path` borrows from `lower_str`: its offset there (kept in bounds whatever happens).
    let pq_start = (p.path.as_ptr() as usize).saturating_sub(lower_str.as_ptr() as usize).min(lower.len());
    let pq_len = p.path.len() + if p.query.is_empty() { 0 } else { 1 + p.query.len() };
    let pq_end = (pq_start + pq_len).min(lower.len());
    let pq = &lower[pq_start..pq_end];
    let pl = pq.len().min(200);
    let mut pbuf = [0u8; 202];
    pbuf[0] = b'^';
    pbuf[1..=pl].copy_from_slice(&pq[..pl]);
    let mut plen = pl + 1;
    if pl == pq.len() {
        pbuf[plen] = b'$';
        plen += 1;
    }
    h.grams(family::PATH_GRAM, &pbuf[..plen], 3, 5);

    // Host tokens and labels.
    let labels: Vec<&str> = host.split('.').filter(|l| !l.is_empty()).collect();
    for t in host.split(|c: char| !c.is_ascii_alphanumeric()).filter(|t| !t.is_empty()) {
        h.add(family::HOST_TOKEN, t.as_bytes(), 1.0);
    }
    let tld = if is_ip { "<ip>" } else { labels.last().copied().unwrap_or("") };
    h.add(family::TLD, tld.as_bytes(), 1.0);
    // The label that names the site: before the TLD, or before `co.kr`-like second levels.
    let n = labels.len();
    let sld_ix = if n >= 3
        && matches!(labels[n - 2], "co" | "com" | "net" | "org" | "ac" | "go" | "gov" | "edu" | "or" | "ne")
    {
        n - 3
    } else {
        n.saturating_sub(2)
    };
    if !is_ip && n >= 2 {
        h.add(family::SLD, labels[sld_ix].as_bytes(), 1.0);
        h.add(family::FIRST_LABEL, labels[0].as_bytes(), 1.0);
    }
    let subdomains = if is_ip { 0 } else { sld_ix };
    let www = labels.first() == Some(&"www");

    // Path tokens, with shapes for long ones.
    let mut longest_path_token = 0;
    let mut path_tokens = 0;
    for t in pq.split(|c| !c.is_ascii_alphanumeric()).filter(|t| !t.is_empty()) {
        path_tokens += 1;
        longest_path_token = longest_path_token.max(t.len());
        if t.len() <= 20 {
            h.add(family::PATH_TOKEN, t, 1.0);
        }
        if t.len() >= 8 {
            let digits = t.iter().filter(|b| b.is_ascii_digit()).count();
            let hex = t.iter().all(u8::is_ascii_hexdigit);
            h.num(family::SHAPE, 40, usize::from(hex) * 2 + usize::from(digits > 0), 1.0);
        }
        if path_tokens > 60 {
            break;
        }
    }
    let last_seg = p.path.rsplit('/').next().unwrap_or("");
    let ext = match last_seg.rsplit_once('.') {
        Some((_, e)) if !e.is_empty() && e.len() <= 5 && e.bytes().all(|b| b.is_ascii_alphanumeric()) => e,
        _ if last_seg.is_empty() => "<none>",
        _ => "<noext>",
    };
    h.add(family::EXT, ext.as_bytes(), 1.0);

    // Shape features.
    let digits_host = host.bytes().filter(u8::is_ascii_digit).count();
    let digits_url = url.bytes().filter(u8::is_ascii_digit).count();
    let hyphens_host = host.bytes().filter(|&b| b == b'-').count();
    let depth = p.path.split('/').filter(|s| !s.is_empty()).count();
    let params = if p.query.is_empty() { 0 } else { p.query.split('&').count() };
    let upper = url.as_bytes()[pq_start..pq_end].iter().filter(|b| b.is_ascii_uppercase()).count();
    let shape: [(u8, usize); 17] = [
        (1, bucket(full_len)),
        (2, bucket(host.len())),
        (3, bucket(p.path.len())),
        (4, bucket(p.query.len())),
        (5, host.bytes().filter(|&b| b == b'.').count().min(8)),
        (6, hyphens_host.min(6)),
        (7, bucket(digits_host)),
        (8, bucket(digits_url)),
        (9, subdomains.min(6)),
        (10, depth.min(10)),
        (11, params.min(8)),
        (12, usize::from(is_ip)),
        (13, usize::from(p.port)),
        (14, usize::from(p.at || lower_str.contains('@'))),
        (15, usize::from(p.path.contains("//"))),
        (16, usize::from(www)),
        (17, bucket(upper)),
    ];
    for (tag, v) in shape {
        h.num(family::SHAPE, tag, v, 1.0);
    }
    h.num(family::SHAPE, 18, bucket(longest_path_token), 1.0);
    h.num(family::SHAPE, 19, scheme * 16 + bucket(p.path.len()), 1.0);
    h.num(family::SHAPE, 20, scheme * 16 + usize::from(www) * 4 + subdomains.min(3), 1.0);
    let pq_str = std::str::from_utf8(pq).unwrap_or("");
    let tld_in_path = [".com", ".net", ".org", ".php", ".html"].iter().filter(|t| pq_str.contains(*t)).count();
    h.num(family::SHAPE, 21, usize::from(pq_str.contains(".com") || pq_str.contains(".net")), 1.0);
    h.num(family::SHAPE, 22, usize::from(pq_str.contains("http")), 1.0);
    h.num(family::SHAPE, 23, tld_in_path, 1.0);
    let com_in_sub = labels.len() > 2 && labels[..labels.len() - 1].iter().any(|l| matches!(*l, "com" | "net" | "org"));
    h.num(family::SHAPE, 24, usize::from(com_in_sub || host.contains(".com-") || host.contains("-com.")), 1.0);
    h.num(family::SHAPE, 25, usize::from(host.contains("xn--")), 1.0);
    h.num(family::SHAPE, 26, bucket(labels.iter().map(|l| l.len()).max().unwrap_or(0)), 1.0);
    let (suspicious, matcher) = suspicious_words();
    let mut seen = 0u128;
    for m in matcher.find_overlapping_iter(lower_str) {
        seen |= 1u128 << (m.pattern().as_usize() % 128);
    }
    let mut words = 0;
    for (i, w) in suspicious.iter().enumerate() {
        if seen & (1u128 << (i % 128)) != 0 {
            h.add(family::WORD, w.as_bytes(), 1.0);
            words += 1;
        }
    }
    h.num(family::SHAPE, 27, words.min(5), 1.0);

    let mut out = h.out;
    linear::l2_normalise(&mut out);
    out
}

/// The URL model artefact compiled into the binary.
const BUILTIN_MODEL: &[u8] = include_bytes!("../models/urls.bin");

/// The built-in URL model, parsed once.
pub fn builtin_ref() -> &'static LinearModel {
    static MODEL: OnceLock<LinearModel> = OnceLock::new();
    MODEL.get_or_init(|| {
        // The artefact is checked by the tests; a damaged one degrades to a neutral model.
        LinearModel::from_bytes(BUILTIN_MODEL)
            .ok()
            .filter(|m| m.kind == ModelKind::Urls && m.feature_set == FEATURE_SET)
            .unwrap_or_else(neutral)
    })
}

fn neutral() -> LinearModel {
    LinearModel {
        kind: ModelKind::Urls,
        feature_set: FEATURE_SET,
        bits: 8,
        weights: vec![0.0; 256],
        bias: -4.0,
        threshold: 0.5,
        meta: String::new(),
    }
}

/// The built-in URL model.
pub fn builtin() -> LinearModel {
    builtin_ref().clone()
}

/// Trains a URL model on `(url, is_phishing)` samples (threshold 0.5; [`cross_validate`] gives
/// out-of-fold scores to tune it).
pub fn train(samples: &[(String, bool)], cfg: &TrainConfig) -> LinearModel {
    let data: Vec<(Features, bool)> = samples.iter().map(|(u, y)| (url_features(u, cfg.bits), *y)).collect();
    let mut m = linear::train(ModelKind::Urls, FEATURE_SET, &data, cfg);
    let pos = samples.iter().filter(|s| s.1).count();
    m.meta = format!(
        "urls: {} samples ({pos} phishing), feature set {FEATURE_SET}, bits {}, epochs {}, lr {}, l2 {}",
        samples.len(),
        cfg.bits,
        cfg.epochs,
        cfg.learning_rate,
        cfg.l2
    );
    m
}

/// Result of [`cross_validate`].
#[derive(Debug, Clone, PartialEq)]
pub struct CrossValidation {
    /// Accuracy of each fold at the 0.5 threshold.
    pub fold_accuracy: Vec<f64>,
    /// Out-of-fold `(probability, is_phishing)` for every sample, in sample order.
    pub scores: Vec<(f64, bool)>,
}

impl CrossValidation {
    /// Mean fold accuracy.
    pub fn mean_accuracy(&self) -> f64 {
        self.fold_accuracy.iter().sum::<f64>() / self.fold_accuracy.len().max(1) as f64
    }
}

/// Stratified `k`-fold cross-validation of [`train`] with `cfg` (folds shuffled by `seed`).
pub fn cross_validate(samples: &[(String, bool)], cfg: &TrainConfig, k: usize, seed: u64) -> CrossValidation {
    let data: Vec<(Features, bool)> = samples.iter().map(|(u, y)| (url_features(u, cfg.bits), *y)).collect();
    let labels: Vec<bool> = samples.iter().map(|s| s.1).collect();
    let folds = metrics::stratified_folds(&labels, k, seed);
    let k = k.max(2);
    let mut scores = vec![(0.0, false); samples.len()];
    let mut fold_accuracy = Vec::with_capacity(k);
    for f in 0..k {
        let train_set: Vec<(Features, bool)> =
            data.iter().zip(&folds).filter(|(_, fold)| **fold != f).map(|(d, _)| d.clone()).collect();
        let m = linear::train(ModelKind::Urls, FEATURE_SET, &train_set, cfg);
        let mut scored = Vec::new();
        for (i, (x, y)) in data.iter().enumerate() {
            if folds[i] == f {
                let p = f64::from(m.probability(x));
                scores[i] = (p, *y);
                scored.push((p, *y));
            }
        }
        fold_accuracy.push(metrics::evaluate(&scored, 0.5).accuracy.unwrap_or(0.0));
    }
    CrossValidation { fold_accuracy, scores }
}

/// Reads `(url, is_phishing)` samples from CSV text whose first column is the URL and whose
/// last column is the label (`phishing`/`legitimate`, `1`/`0`, `true`/`false`, `bad`/`good`);
/// a header line is skipped. Quoted fields (with `""` escapes) are handled. Errors name the
/// line.
pub fn samples_from_csv(text: &str) -> Result<Vec<(String, bool)>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim_end_matches('\r');
        if line.trim().is_empty() {
            continue;
        }
        let fields = split_csv_line(line).map_err(|e| format!("line {}: {e}", n + 1))?;
        let (Some(url), Some(label)) = (fields.first(), fields.last()) else { continue };
        let y = match label.trim().to_ascii_lowercase().as_str() {
            "phishing" | "1" | "true" | "bad" | "malicious" | "scam" => true,
            "legitimate" | "0" | "false" | "good" | "benign" => false,
            _ if n == 0 => continue,
            other => return Err(format!("line {}: label {other:?} is neither phishing nor legitimate", n + 1)),
        };
        if fields.len() < 2 {
            return Err(format!("line {}: needs a URL column and a label column", n + 1));
        }
        out.push((url.clone(), y));
    }
    Ok(out)
}

fn split_csv_line(line: &str) -> Result<Vec<String>, String> {
    let mut fields = Vec::new();
    let mut cur = String::new();
    let mut chars = line.chars().peekable();
    let mut quoted = false;
    let mut at_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    cur.push('"');
                    chars.next();
                } else {
                    quoted = false;
                }
            } else {
                cur.push(c);
            }
            continue;
        }
        match c {
            '"' if at_start => {
                quoted = true;
                at_start = false;
            }
            ',' => {
                fields.push(std::mem::take(&mut cur));
                at_start = true;
            }
            c => {
                cur.push(c);
                at_start = false;
            }
        }
    }
    if quoted {
        return Err("a quoted field is not closed".into());
    }
    fields.push(cur);
    Ok(fields)
}

#[cfg(test)]
mod tests {
    /// `label_char` skips the look-alike table from U+2000 up: no look-alike may live there.
    #[test]
    fn every_lookalike_lies_below_u2000() {
        let above = ('\u{2000}'..=char::MAX).filter(|&c| super::latin_lookalike(c).is_some()).count();
        assert_eq!(above, 0);
    }
}
