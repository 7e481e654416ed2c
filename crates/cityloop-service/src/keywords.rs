//! Everyday words for the public page's category search (data/category-keywords.csv):
//! "垃圾" finds 暴露垃圾 and 垃圾站（箱）满溢, "摆摊" finds 占道经营. Each word lists the
//! fragments of category names it finds; a category's Open311 `keywords` are its own
//! names plus every word one of whose fragments its Chinese name contains. The list is
//! cityloop's own invented default, labelled so in the file.

use std::sync::OnceLock;

/// The shipped list.
pub const EVERYDAY_CSV: &str = include_str!("../../../data/category-keywords.csv");

/// The problems the public page offers first, with their icon names (web/js/icons.js),
/// by category name: cityloop's invented default (everyday street problems chosen by hand,
/// not measured), until the district configures its own list.
pub const TOP_DEFAULT: [(&str, &str); 12] = [
    ("暴露垃圾", "trash"),
    ("垃圾站（箱）满溢", "bin"),
    ("道路破损", "road"),
    ("不明井盖异常", "manhole"),
    ("路灯异常", "lamp"),
    ("占道经营", "stall"),
    ("机动车乱停放", "car"),
    ("共享单车乱象", "bike"),
    ("非法小广告", "poster"),
    ("噪声扰民", "noise"),
    ("油烟污染", "smoke"),
    ("工地扬尘", "dust"),
];

/// One everyday word and the name fragments it finds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    pub word: String,
    pub finds: Vec<String>,
}

/// Parses the list: `#` comment lines, a `word,finds` header, then one word per line.
pub fn parse(text: &str) -> Result<Vec<Word>, String> {
    let mut out = Vec::new();
    let mut header = false;
    for (i, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        if !header {
            if line != "word,finds" {
                return Err(format!("line {}: expected the header word,finds", i + 1));
            }
            header = true;
            continue;
        }
        let (word, finds) = line
            .split_once(',')
            .ok_or_else(|| format!("line {}: expected word,finds", i + 1))?;
        let finds: Vec<String> = finds
            .split('|')
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .map(str::to_owned)
            .collect();
        if word.trim().is_empty() || finds.is_empty() {
            return Err(format!("line {}: a word and at least one fragment", i + 1));
        }
        out.push(Word {
            word: word.trim().to_owned(),
            finds,
        });
    }
    Ok(out)
}

fn shipped() -> &'static [Word] {
    static WORDS: OnceLock<Vec<Word>> = OnceLock::new();
    // The shipped file is checked by the tests below; a broken one yields no words.
    WORDS.get_or_init(|| parse(EVERYDAY_CSV).unwrap_or_default())
}

/// The everyday words that find a category by its Chinese name.
pub fn words_for(name_zh: &str) -> Vec<&'static str> {
    shipped()
        .iter()
        .filter(|w| w.finds.iter().any(|f| name_zh.contains(f.as_str())))
        .map(|w| w.word.as_str())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::reference::{parse_categories, CATEGORIES_CSV};

    #[test]
    fn the_shipped_list_parses_and_every_fragment_finds_an_intake_category() {
        let words = parse(EVERYDAY_CSV).expect("the shipped list parses");
        assert!(words.len() >= 40, "{} words", words.len());
        let names: Vec<String> = parse_categories(CATEGORIES_CSV)
            .expect("categories")
            .into_iter()
            .filter(|c| c.active)
            .map(|c| c.name_zh)
            .collect();
        for w in &words {
            for f in &w.finds {
                assert!(
                    names.iter().any(|n| n.contains(f.as_str())),
                    "{}: fragment {f} finds no intake category",
                    w.word
                );
            }
        }
    }

    #[test]
    fn everyday_words_find_the_categories_a_citizen_means() {
        assert!(words_for("暴露垃圾").contains(&"垃圾"));
        assert!(words_for("垃圾站（箱）满溢").contains(&"垃圾"));
        assert!(words_for("占道经营").contains(&"摆摊"));
        assert!(words_for("噪声扰民").contains(&"噪音"));
        assert!(words_for("不明井盖异常").contains(&"井盖"));
        assert!(words_for("雕塑异常").is_empty());
    }

    #[test]
    fn every_default_top_problem_is_an_intake_category() {
        let names: Vec<String> = parse_categories(CATEGORIES_CSV)
            .expect("categories")
            .into_iter()
            .filter(|c| c.active)
            .map(|c| c.name_zh)
            .collect();
        for (name, _) in TOP_DEFAULT {
            assert!(
                names.iter().any(|n| n == name),
                "{name} is not an intake category"
            );
        }
    }

    #[test]
    fn a_malformed_list_is_refused_with_its_line() {
        assert!(parse("word,finds\n垃圾\n").unwrap_err().contains("line 2"));
        assert!(parse("words\n").unwrap_err().contains("header"));
        assert!(parse("word,finds\n垃圾,\n").is_err());
    }
}
