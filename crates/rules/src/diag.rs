//! Diagnostics: every error in a rule or ruleset is one of these, with a stable code, a span,
//! a message and, where one fits, a suggestion. Nothing in the rule pipeline panics on input.

use std::fmt;
use std::ops::Range;

/// A problem found in a rule, an expression or a ruleset file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    /// Stable kebab-case code, e.g. `unknown-field`; tests and tooling match on it.
    pub code: &'static str,
    /// What is wrong, in one sentence.
    pub message: String,
    /// Byte range in the text the diagnostic was raised on (an expression, or a whole file
    /// once [`Diagnostic::shift`] placed it there).
    pub span: Range<usize>,
    /// A concrete fix, such as the nearest known field name.
    pub suggestion: Option<String>,
    /// 1-based line and column of `span.start` in the file, once located.
    pub line_col: Option<(usize, usize)>,
    /// The rule or feature the diagnostic belongs to, when known.
    pub item: Option<String>,
}

impl Diagnostic {
    /// A diagnostic at `span` with no suggestion.
    pub fn new(code: &'static str, span: Range<usize>, message: impl Into<String>) -> Self {
        Diagnostic { code, message: message.into(), span, suggestion: None, line_col: None, item: None }
    }

    /// Adds a suggestion.
    pub fn suggest(mut self, s: impl Into<String>) -> Self {
        self.suggestion = Some(s.into());
        self
    }

    /// Moves the span by `offset` bytes, for an expression embedded at `offset` in a file.
    pub fn shift(mut self, offset: usize) -> Self {
        self.span = self.span.start + offset..self.span.end + offset;
        self
    }

    /// Records the line and column of the span's start within `text`.
    pub fn locate(mut self, text: &str) -> Self {
        self.line_col = Some(line_col(text, self.span.start));
        self
    }

    /// Renders the diagnostic like a compiler does: the message, the location, the source
    /// line with a caret under the span, and the suggestion.
    pub fn render(&self, file: &str, text: &str) -> String {
        let (line, col) = self.line_col.unwrap_or_else(|| line_col(text, self.span.start));
        let mut out = format!("error[{}]: {}\n  --> {file}:{line}:{col}\n", self.code, self.message);
        if let Some(item) = &self.item {
            out.push_str(&format!("   = in {item}\n"));
        }
        if let Some(src) = text.lines().nth(line - 1) {
            let width =
                text.get(self.span.clone()).map(|s| s.lines().next().unwrap_or("").chars().count()).unwrap_or(1).max(1);
            let pad: String = src.chars().take(col - 1).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
            out.push_str(&format!("   |\n   | {src}\n   | {pad}{}\n", "^".repeat(width)));
        }
        if let Some(s) = &self.suggestion {
            out.push_str(&format!("   = help: {s}\n"));
        }
        out
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some((l, c)) = self.line_col {
            write!(f, "{l}:{c}: ")?;
        }
        write!(f, "{} [{}]", self.message, self.code)?;
        if let Some(s) = &self.suggestion {
            write!(f, " (help: {s})")?;
        }
        Ok(())
    }
}

impl std::error::Error for Diagnostic {}

/// 1-based line and column (in characters) of byte `offset` in `text`.
pub fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    (line, col)
}

/// The candidate nearest to `word` by edit distance, if it is near enough to be a typo.
pub fn nearest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<&'a str> {
    let limit = (word.chars().count() / 3).max(2);
    candidates
        .into_iter()
        .map(|c| (edit_distance(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, c)| (*d, c.len()))
        .map(|(_, c)| c)
}

/// Levenshtein distance over characters.
pub fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut prev: Vec<usize> = (0..=b.len()).collect();
    let mut cur = vec![0; b.len() + 1];
    for (i, ca) in a.chars().enumerate() {
        cur[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cost = usize::from(ca != *cb);
            cur[j + 1] = (prev[j] + cost).min(prev[j + 1] + 1).min(cur[j] + 1);
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    prev[b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locates_lines_and_columns() {
        let text = "ab\ncdé\nf";
        assert_eq!(line_col(text, 0), (1, 1));
        assert_eq!(line_col(text, 3), (2, 1));
        assert_eq!(line_col(text, 6), (2, 3), "inside a multibyte char rounds down");
        assert_eq!(line_col(text, 7), (2, 4));
        assert_eq!(line_col(text, 8), (3, 1));
        assert_eq!(line_col(text, 99), (3, 2));
    }

    #[test]
    fn suggests_near_words_only() {
        let c = ["transfer.amount", "transfer.memo", "event.amount"];
        assert_eq!(nearest("transfer.amout", c), Some("transfer.amount"));
        assert_eq!(nearest("event.amont", c), Some("event.amount"));
        assert_eq!(nearest("completely.else", c), None);
        assert_eq!(edit_distance("kitten", "sitting"), 3);
    }
}
