//! Text normalisation that sees through the tricks scam messages use to slip past filters:
//! full-width and compatibility characters (NFKC), zero-width and other invisible characters,
//! emoji and symbol padding, Cyrillic and Greek look-alike letters inside Latin words, and
//! spaces or dots inside words ("검 찰 청", "안.전.계.좌"), which the compact form removes.

use unicode_normalization::UnicodeNormalization;

/// A message after normalisation.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Normalized {
    /// NFKC, lower case, invisible characters and emoji removed, look-alikes mapped to Latin,
    /// every run of whitespace one space. Readable: phrases are reported from it.
    pub text: String,
    /// `text` with only letters and digits: spacing and punctuation tricks vanish.
    pub compact: String,
}

/// Characters that render as nothing (or almost nothing) and are used to split words.
pub(crate) fn invisible(c: char) -> bool {
    matches!(c,
        '\u{00AD}' | '\u{034F}' | '\u{061C}' | '\u{115F}' | '\u{1160}' | '\u{17B4}' | '\u{17B5}'
        | '\u{180B}'..='\u{180F}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}'
        | '\u{2060}'..='\u{206F}' | '\u{3164}' | '\u{FE00}'..='\u{FE0F}' | '\u{FEFF}' | '\u{FFA0}'
        | '\u{E0000}'..='\u{E007F}' | '\u{E0100}'..='\u{E01EF}')
}

/// Emoji, pictographs, dingbats and other symbols used as padding.
fn pictograph(c: char) -> bool {
    matches!(c,
        '\u{2190}'..='\u{21FF}' | '\u{2300}'..='\u{23FF}' | '\u{2460}'..='\u{24FF}' | '\u{2500}'..='\u{27BF}'
        | '\u{2900}'..='\u{297F}' | '\u{2B00}'..='\u{2BFF}' | '\u{3200}'..='\u{32FF}'
        | '\u{1F000}'..='\u{1FAFF}')
}

/// Cyrillic and Greek letters that look like Latin ones, mapped to the Latin letter.
pub(crate) fn latin_lookalike(c: char) -> Option<char> {
    Some(match c {
        'а' | 'α' => 'a',
        'в' | 'β' => 'b',
        'с' | 'ϲ' => 'c',
        'ԁ' => 'd',
        'е' | 'ε' => 'e',
        'һ' => 'h',
        'і' | 'ι' | 'ı' => 'i',
        'ј' => 'j',
        'к' | 'κ' => 'k',
        'м' => 'm',
        'п' | 'η' => 'n',
        'о' | 'ο' | 'σ' => 'o',
        'р' | 'ρ' => 'p',
        'ԛ' => 'q',
        'ѕ' => 's',
        'т' | 'τ' => 't',
        'υ' | 'ս' => 'u',
        'ν' | 'ѵ' => 'v',
        'ԝ' | 'ω' => 'w',
        'х' | 'χ' => 'x',
        'у' | 'γ' => 'y',
        'ᴢ' => 'z',
        _ => return None,
    })
}

/// Normalises a message. Never fails; any input gives some output.
pub fn normalize(raw: &str) -> Normalized {
    // Most messages are already in NFKC (ASCII, precomposed Hangul): skip the decomposition
    // and recomposition then. Text of only ASCII and Hangul syllables is in NFKC (a character
    // that could combine with one of them is neither), so the table lookup of the quick check
    // runs only on messages with other characters.
    let quick = ascii_or_syllables(raw)
        || unicode_normalization::is_nfkc_quick(raw.chars()) == unicode_normalization::IsNormalized::Yes;
    if quick { fold_text(raw) } else { fold(raw.len(), raw.nfkc()) }
}

/// Whether `raw` holds only ASCII and Hangul syllables (U+AC00–U+D7A3), read by UTF-8 lead
/// bytes: `EB` and `EC` start syllables only, `EA` and `ED` are decoded.
fn ascii_or_syllables(raw: &str) -> bool {
    let b = raw.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            x if x < 0x80 => i += 1,
            0xEB | 0xEC => i += 3,
            0xEA | 0xED if raw[i..].chars().next().is_some_and(|c| ('\u{AC00}'..='\u{D7A3}').contains(&c)) => i += 3,
            _ => return false,
        }
    }
    true
}

/// [`fold`] of `raw`'s own characters, with ASCII and Hangul syllables copied by their bytes
/// instead of decoded and encoded again (the same output: a property test holds the two alike).
fn fold_text(raw: &str) -> Normalized {
    let b = raw.as_bytes();
    let mut text = String::with_capacity(raw.len());
    let mut compact = String::with_capacity(raw.len());
    let mut space = true;
    let mut i = 0;
    while i < b.len() {
        let x = b[i];
        if x < 0x80 {
            if matches!(x, b' ' | b'\t'..=b'\r') {
                if !space {
                    text.push(' ');
                    space = true;
                }
            } else {
                let l = x.to_ascii_lowercase();
                text.push(char::from(l));
                if l.is_ascii_alphanumeric() {
                    compact.push(char::from(l));
                }
                space = false;
            }
            i += 1;
            continue;
        }
        let Some(c) = raw[i..].chars().next() else { break };
        let n = c.len_utf8();
        if ('\u{AC00}'..='\u{D7A3}').contains(&c) {
            text.push_str(&raw[i..i + n]);
            compact.push_str(&raw[i..i + n]);
            space = false;
        } else {
            fold_other(c, &mut text, &mut compact, &mut space);
        }
        i += n;
    }
    if text.ends_with(' ') {
        text.pop();
    }
    Normalized { text, compact }
}

/// One character that is neither ASCII nor a Hangul syllable, folded into `text` and `compact`.
#[inline]
fn fold_other(c: char, text: &mut String, compact: &mut String, space: &mut bool) {
    if invisible(c) || pictograph(c) {
        return;
    }
    if c.is_whitespace() {
        if !*space {
            text.push(' ');
            *space = true;
        }
        return;
    }
    let c = latin_lookalike(c).unwrap_or(c);
    for l in c.to_lowercase() {
        text.push(l);
        if l.is_alphanumeric() {
            compact.push(l);
        }
    }
    *space = false;
}

/// The normalised text and compact form of `chars` (in NFKC).
fn fold(len: usize, chars: impl Iterator<Item = char>) -> Normalized {
    let mut text = String::with_capacity(len);
    let mut compact = String::with_capacity(len);
    let mut space = true;
    for c in chars {
        // Fast paths: ASCII and Hangul syllables (most of every message).
        if c.is_ascii() {
            if matches!(c, ' ' | '\t'..='\r') {
                if !space {
                    text.push(' ');
                    space = true;
                }
                continue;
            }
            let l = c.to_ascii_lowercase();
            text.push(l);
            if l.is_ascii_alphanumeric() {
                compact.push(l);
            }
            space = false;
            continue;
        }
        if ('\u{AC00}'..='\u{D7A3}').contains(&c) {
            text.push(c);
            compact.push(c);
            space = false;
            continue;
        }
        fold_other(c, &mut text, &mut compact, &mut space);
    }
    if text.ends_with(' ') {
        text.pop();
    }
    Normalized { text, compact }
}

#[cfg(test)]
mod tests {
    use super::normalize;

    /// The fast path (ASCII and Hangul syllables, no NFKC table) gives what NFKC would.
    #[test]
    fn fast_path_agrees_with_nfkc() {
        use unicode_normalization::UnicodeNormalization;
        let s = "Hello\u{0B}World  안녕하세요\t계좌 123 ABC.com\r\n끝";
        assert_eq!(normalize(s), super::fold(s.len(), s.nfkc()));
        assert_eq!(normalize(s).text, "hello world 안녕하세요 계좌 123 abc.com 끝");
    }

    proptest::proptest! {
        /// Copying ASCII and syllables by their bytes folds exactly as decoding every character.
        #[test]
        fn folding_by_bytes_is_folding_by_characters(s in proptest::prelude::any::<String>()) {
            proptest::prop_assert_eq!(super::fold_text(&s), super::fold(s.len(), s.chars()));
            let quick = s.chars().all(|c| c.is_ascii() || ('\u{AC00}'..='\u{D7A3}').contains(&c));
            proptest::prop_assert_eq!(super::ascii_or_syllables(&s), quick);
        }

        #[test]
        fn folding_message_like_text_by_bytes(s in "[a-zA-Z0-9 \t\n가-힣ꀀ-꿿퀀-ퟻㄱ-ㆎ.!?·…＊🎁\u{200B}А-яΑ-ω]{0,60}") {
            proptest::prop_assert_eq!(super::fold_text(&s), super::fold(s.len(), s.chars()));
            let quick = s.chars().all(|c| c.is_ascii() || ('\u{AC00}'..='\u{D7A3}').contains(&c));
            proptest::prop_assert_eq!(super::ascii_or_syllables(&s), quick);
        }
    }

    #[test]
    fn sees_through_evasion() {
        let n = normalize("검 찰 청\u{200B}입니다 🎁✨ ＫＡＫＡＯ kаkао  안.전.계.좌");
        assert_eq!(n.text, "검 찰 청입니다 kakao kakao 안.전.계.좌");
        assert_eq!(n.compact, "검찰청입니다kakaokakao안전계좌");
        assert_eq!(normalize("").text, "");
        assert_eq!(normalize(" \u{200B} ").compact, "");
    }
}
