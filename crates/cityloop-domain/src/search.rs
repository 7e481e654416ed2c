//! Case search, the pure part: the text a case is indexed under, how a query is cut
//! into the same tokens, and the normalised keys (digits of a case number or a phone,
//! read backwards so that "the last digits" is a prefix).
//!
//! Chinese is written without spaces, so a case's free text (description, address, road
//! name, notes) is indexed as overlapping two-character words (bigrams): 井盖破损 →
//! 井盖 盖破 破损. A query is cut the same way; every bigram of the query must be in the
//! case, consecutively (SQLite: an FTS5 phrase) or as a substring recheck (PostgreSQL).
//! A two-character word such as 井盖 or 占道 is one bigram and so one index lookup. Runs
//! of letters and digits (Latin, numbers) are whole lower-case words.

use chrono::{DateTime, Duration, Utc};

use crate::calendar::{StageClock, WorkCalendar};

/// The longest text query, in characters (documented in docs/API-DESIGN.md).
pub const MAX_QUERY_CHARS: usize = 50;
/// The most tokens a text query may produce (a query is a conjunction of them).
pub const MAX_QUERY_TOKENS: usize = 24;
/// The fewest digits a number-tail search takes ("the last digits" of a case number).
pub const MIN_NUMBER_DIGITS: usize = 3;
/// Phone search: the last four digits or a whole number (at most this many digits).
pub const PHONE_TAIL_DIGITS: usize = 4;
pub const MAX_PHONE_DIGITS: usize = 20;

/// Whether `c` is written without spaces between words (Han, kana, Hangul syllables).
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x3040..=0x30FF      // Hiragana, Katakana
        | 0x3400..=0x4DBF    // CJK Extension A
        | 0x4E00..=0x9FFF    // CJK Unified Ideographs
        | 0xAC00..=0xD7AF    // Hangul syllables
        | 0xF900..=0xFAFF    // CJK Compatibility Ideographs
        | 0x20000..=0x3FFFF) // Extensions B and later
}

/// One run of a text: a stretch of CJK characters or one Latin/digit word.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Run {
    Cjk(Vec<char>),
    Word(String),
}

fn runs(text: &str) -> Vec<Run> {
    let mut out = Vec::new();
    let mut cjk: Vec<char> = Vec::new();
    let mut word = String::new();
    let flush = |cjk: &mut Vec<char>, word: &mut String, out: &mut Vec<Run>| {
        if !cjk.is_empty() {
            out.push(Run::Cjk(std::mem::take(cjk)));
        }
        if !word.is_empty() {
            out.push(Run::Word(std::mem::take(word)));
        }
    };
    for c in text.chars() {
        if is_cjk(c) {
            if !word.is_empty() {
                flush(&mut cjk, &mut word, &mut out);
            }
            cjk.push(c);
        } else if c.is_alphanumeric() {
            if !cjk.is_empty() {
                flush(&mut cjk, &mut word, &mut out);
            }
            word.extend(c.to_lowercase());
        } else {
            flush(&mut cjk, &mut word, &mut out);
        }
    }
    flush(&mut cjk, &mut word, &mut out);
    out
}

fn run_tokens(run: &Run) -> Vec<String> {
    match run {
        Run::Word(w) => vec![w.clone()],
        Run::Cjk(cs) if cs.len() == 1 => vec![cs[0].to_string()],
        Run::Cjk(cs) => cs.windows(2).map(|w| w.iter().collect()).collect(),
    }
}

/// The text a case is indexed under: the tokens of every part, space-separated, in
/// order (so consecutive bigrams of a run are consecutive tokens and a query's bigrams
/// form a phrase).
pub fn index_text<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    runs_of(parts)
        .iter()
        .flat_map(run_tokens)
        .collect::<Vec<_>>()
        .join(" ")
}

/// The distinct tokens of [`index_text`] (PostgreSQL keeps them as a `text[]` under a GIN
/// index).
pub fn index_tokens<'a>(parts: impl IntoIterator<Item = &'a str>) -> Vec<String> {
    let mut out: Vec<String> = runs_of(parts).iter().flat_map(run_tokens).collect();
    out.sort();
    out.dedup();
    out
}

fn runs_of<'a>(parts: impl IntoIterator<Item = &'a str>) -> Vec<Run> {
    parts.into_iter().flat_map(runs).collect()
}

/// The plain form of a searchable text: lower case, runs separated by one space (the
/// substring a query's run is rechecked against).
pub fn plain_text<'a>(parts: impl IntoIterator<Item = &'a str>) -> String {
    let mut out = String::new();
    for run in runs_of(parts) {
        if !out.is_empty() {
            out.push(' ');
        }
        match run {
            Run::Word(w) => out.push_str(&w),
            Run::Cjk(cs) => out.extend(cs),
        }
    }
    out
}

/// A text query, cut like the index.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TextQuery {
    /// One phrase per run of the query: its tokens, which must appear consecutively.
    pub phrases: Vec<Vec<String>>,
    /// Each run in its plain form (for a substring recheck).
    pub runs: Vec<String>,
}

impl TextQuery {
    /// Every distinct token of the query.
    pub fn tokens(&self) -> Vec<String> {
        let mut t: Vec<String> = self.phrases.iter().flatten().cloned().collect();
        t.sort();
        t.dedup();
        t
    }

    /// The FTS5 MATCH expression: each phrase quoted, all of them required. Tokens hold
    /// only letters and digits, so no quoting inside a phrase is needed.
    pub fn fts5(&self) -> String {
        self.phrases
            .iter()
            .map(|p| format!("\"{}\"", p.join(" ")))
            .collect::<Vec<_>>()
            .join(" AND ")
    }
}

/// Why a search value was refused (the caller names the field).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SearchValueError(pub String);

/// Parses a free-text query: at most [`MAX_QUERY_CHARS`] characters, and at least one
/// two-character Chinese word or one Latin/digit word (a single Chinese character would
/// need an index of every character; it is refused rather than scanned).
pub fn text_query(q: &str) -> Result<TextQuery, SearchValueError> {
    let n = q.chars().count();
    if n > MAX_QUERY_CHARS {
        return Err(SearchValueError(format!(
            "at most {MAX_QUERY_CHARS} characters (got {n})"
        )));
    }
    let mut phrases = Vec::new();
    let mut plain = Vec::new();
    for run in runs(q) {
        match &run {
            Run::Cjk(cs) if cs.len() < 2 => continue,
            Run::Cjk(cs) => plain.push(cs.iter().collect()),
            Run::Word(w) => plain.push(w.clone()),
        }
        phrases.push(run_tokens(&run));
    }
    if phrases.is_empty() {
        return Err(SearchValueError(
            "give at least two Chinese characters (such as 井盖) or one word or number".into(),
        ));
    }
    let query = TextQuery {
        phrases,
        runs: plain,
    };
    if query.tokens().len() > MAX_QUERY_TOKENS {
        return Err(SearchValueError(format!(
            "too many words: at most {MAX_QUERY_TOKENS} two-character pieces"
        )));
    }
    Ok(query)
}

/// The digits of `s`, in order.
pub fn digits(s: &str) -> String {
    s.chars().filter(char::is_ascii_digit).collect()
}

/// The digits of `s`, last first: "the last digits" of a number become a prefix, which a
/// B-tree index seeks to.
pub fn reversed_digits(s: &str) -> String {
    s.chars().rev().filter(char::is_ascii_digit).collect()
}

/// A case-number search: the whole number or its last digits. Letters, digits and
/// dashes only; at least [`MIN_NUMBER_DIGITS`] digits. Returns the reversed digits.
pub fn number_query(s: &str) -> Result<String, SearchValueError> {
    let s = s.trim();
    if s.chars().count() > MAX_QUERY_CHARS {
        return Err(SearchValueError(format!(
            "at most {MAX_QUERY_CHARS} characters"
        )));
    }
    if !s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == ' ')
    {
        return Err(SearchValueError(
            "a case number or its last digits (digits and dashes)".into(),
        ));
    }
    let rev = reversed_digits(s);
    if rev.len() < MIN_NUMBER_DIGITS {
        return Err(SearchValueError(format!(
            "at least {MIN_NUMBER_DIGITS} digits of the case number"
        )));
    }
    Ok(rev)
}

/// A phone search: the last four digits or the whole number, optionally written with
/// spaces, dashes, parentheses or a leading `+`. Returns the reversed digits (a suffix of
/// the stored number's digits matches, so 13812345678 also finds +86 138 1234 5678).
pub fn phone_query(s: &str) -> Result<String, SearchValueError> {
    let s = s.trim();
    let bad = || {
        SearchValueError(format!(
            "not a phone number: the last {PHONE_TAIL_DIGITS} digits or the whole number"
        ))
    };
    let shape_ok = s.chars().enumerate().all(|(i, c)| {
        c.is_ascii_digit() || matches!(c, ' ' | '-' | '(' | ')') || (c == '+' && i == 0)
    });
    if !shape_ok || s.chars().count() > MAX_PHONE_DIGITS + 8 {
        return Err(bad());
    }
    let rev = reversed_digits(s);
    match rev.len() {
        PHONE_TAIL_DIGITS => Ok(rev),
        n if (7..=MAX_PHONE_DIGITS).contains(&n) => Ok(rev),
        _ => Err(bad()),
    }
}

/// The exclusive upper bound of a prefix range over digit strings: every string that
/// starts with `prefix` and continues with digits sorts (bytewise) at or after `prefix`
/// and before `prefix` + `:` (the character after `9`).
pub fn prefix_upper(prefix: &str) -> String {
    format!("{prefix}:")
}

/// The instant a running clock's light turns yellow (80% of the allowed time used), for
/// the light filter; None while the clock is paused (its light is frozen).
pub fn yellow_at(clock: &StageClock, cal: &WorkCalendar) -> Option<DateTime<Utc>> {
    if clock.is_paused() {
        return None;
    }
    let allowed = clock.limit_secs.saturating_add(clock.extension_secs).max(0);
    // used * 5 >= allowed * 4: the first whole second at or past 80%.
    let yellow = (allowed.saturating_mul(4) + 4) / 5;
    let total = yellow.saturating_add(clock.paused_secs.max(0));
    Some(cal.add(clock.mode, clock.started_at, Duration::seconds(total)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn chinese_text_is_indexed_as_bigrams_and_words() {
        assert_eq!(index_text(["井盖破损"]), "井盖 盖破 破损");
        assert_eq!(index_text(["大学路 No.12 井", "x"]), "大学 学路 no 12 井 x");
        assert_eq!(
            index_tokens(["占道经营", "占道"]),
            vec!["占道".to_string(), "经营".into(), "道经".into()]
        );
        assert_eq!(plain_text(["井盖，破损", "ABC"]), "井盖 破损 abc");
    }

    #[test]
    fn a_two_character_word_is_one_token() {
        let q = text_query("井盖").unwrap();
        assert_eq!(q.phrases, vec![vec!["井盖".to_string()]]);
        assert_eq!(q.fts5(), "\"井盖\"");
        let q = text_query("井盖破损 占道").unwrap();
        assert_eq!(q.fts5(), "\"井盖 盖破 破损\" AND \"占道\"");
        assert_eq!(q.runs, vec!["井盖破损".to_string(), "占道".into()]);
    }

    #[test]
    fn queries_out_of_bounds_are_refused() {
        assert!(text_query("井").is_err());
        assert!(text_query("  ，。 ").is_err());
        assert!(text_query(&"井".repeat(MAX_QUERY_CHARS + 1)).is_err());
        assert!(text_query(&"井盖".repeat(MAX_QUERY_CHARS / 2)).is_ok());
        assert!(text_query("a b c d e f g h i j k l m n o p q r s t u v w x y z").is_err());
    }

    #[test]
    fn number_and_phone_keys_are_reversed_digits() {
        assert_eq!(
            number_query("410103-20261126-0042").unwrap(),
            "240062116202301014"
        );
        assert_eq!(number_query("0042").unwrap(), "2400");
        assert!(number_query("42").is_err());
        assert!(number_query("井盖").is_err());
        assert_eq!(phone_query("5678").unwrap(), "8765");
        assert_eq!(phone_query("138 1234-5678").unwrap(), "87654321831");
        assert_eq!(phone_query("+86 13812345678").unwrap(), "8765432183168");
        for bad in ["56789", "12", "abc1", "138x1234567", "1+38", ""] {
            assert!(phone_query(bad).is_err(), "{bad}");
        }
        assert!("8765432183168".starts_with(&phone_query("13812345678").unwrap()));
        let up = prefix_upper("8765");
        assert!("87659" < up.as_str() && "8765" < up.as_str() && "8766" > up.as_str());
    }
}
