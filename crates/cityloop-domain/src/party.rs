//! Parties (当事人): the person or organisation responsible for a problem, the
//! 统一社会信用代码 of an organisation (GB 32100-2015, with its check character), and the
//! repeat-offender rule (黑名单: N penalties or M episodes within a sliding period).
//!
//! What a party did is not here: penalties are enforcement records (`enforce.rs`) and
//! episodes are the cases that name the party; this module only counts their dates.
//! Who may read a person's id number is the privacy table (`privacy.rs`,
//! `PersonalField::PartyIdNumber`). Pure: no I/O, `now` is an argument.

use chrono::{DateTime, Duration, Utc};
use serde::{Deserialize, Serialize};

use crate::model::string_enum;

string_enum!(
    /// Whether a party is a natural person or an organisation (法人或者其他组织).
    PartyKind {
        /// 自然人: identified by an id number, kept masked to all but enforcement.
        Person = "person",
        /// 法人或者其他组织 (a shop, a contractor, a site operator): identified by its
        /// 统一社会信用代码.
        Organisation = "organisation",
    }
);

impl PartyKind {
    /// The Chinese name shown in the console.
    pub fn zh(self) -> &'static str {
        match self {
            PartyKind::Person => "自然人",
            PartyKind::Organisation => "单位",
        }
    }
}

/// The code's character set (GB 32100-2015 §4: digits and capital letters without I, O,
/// S, V, Z); a character's value is its index.
const CODE_CHARS: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";

/// The weights of positions 1–17 (3^(i−1) mod 31).
const WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// A 统一社会信用代码 whose 18th character is its GB 32100 check character.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct CreditCode(String);

/// Why a credit code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CreditCodeError {
    /// Not 18 characters.
    #[error("a 统一社会信用代码 has 18 characters, this one has {0}")]
    Length(usize),
    /// A character outside the code's set (I, O, S, V, Z, lower case, others).
    #[error(
        "character {position} ({found:?}) is not allowed: only 0-9 and A-Y without I, O, S, V"
    )]
    Character { position: usize, found: char },
    /// The 18th character is not the one the first 17 give.
    #[error("check character is {found} but the first 17 characters give {expected}")]
    Check { expected: char, found: char },
}

impl CreditCode {
    /// Parses a code: surrounding spaces are dropped and letters upper-cased (codes are
    /// printed in capitals; a lower-case copy is the same code), then the set and the
    /// check character are checked.
    pub fn parse(s: &str) -> Result<CreditCode, CreditCodeError> {
        let code: String = s.trim().to_ascii_uppercase();
        let chars: Vec<char> = code.chars().collect();
        if chars.len() != 18 {
            return Err(CreditCodeError::Length(chars.len()));
        }
        for (i, &c) in chars.iter().enumerate() {
            if value(c).is_none() {
                return Err(CreditCodeError::Character {
                    position: i + 1,
                    found: c,
                });
            }
        }
        let expected = check_char(&code[..17]).ok_or(CreditCodeError::Length(chars.len()))?;
        if chars[17] != expected {
            return Err(CreditCodeError::Check {
                expected,
                found: chars[17],
            });
        }
        Ok(CreditCode(code))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for CreditCode {
    type Error = CreditCodeError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        CreditCode::parse(&s)
    }
}

impl From<CreditCode> for String {
    fn from(c: CreditCode) -> String {
        c.0
    }
}

impl std::fmt::Display for CreditCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

fn value(c: char) -> Option<u32> {
    let b = u8::try_from(c).ok()?;
    CODE_CHARS
        .iter()
        .position(|&x| x == b)
        .and_then(|i| u32::try_from(i).ok())
}

/// The check character of the first 17 characters (GB 32100-2015 §5:
/// C18 = 31 − (Σ Ci·Wi mod 31), 31 written as 0). `None` when `first17` is not 17
/// characters of the set.
pub fn check_char(first17: &str) -> Option<char> {
    let chars: Vec<char> = first17.chars().collect();
    if chars.len() != 17 {
        return None;
    }
    let mut sum = 0u32;
    for (c, w) in chars.iter().zip(WEIGHTS) {
        sum += value(*c)? * w;
    }
    let c18 = (31 - sum % 31) % 31;
    CODE_CHARS.get(c18 as usize).map(|&b| char::from(b))
}

/// The district's repeat-offender rule (setting `repeat_offender`): a party is flagged
/// (列入黑名单) while, within the last `period_days` days, it has at least `penalties`
/// penalty decisions or at least `episodes` cases naming it. A threshold of 0 is off.
///
/// No law fixes these numbers: [`RepeatRule::default`] is an invented default a district
/// must set for itself, and the console says so.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RepeatRule {
    /// Length of the sliding period, in natural days (1–3660).
    pub period_days: u32,
    /// Penalty decisions within the period that flag a party (0: not counted).
    pub penalties: u32,
    /// Cases (episodes) within the period that flag a party (0: not counted).
    pub episodes: u32,
}

impl Default for RepeatRule {
    /// Invented default (not from any law or standard): 3 penalties or 5 cases in 180 days.
    fn default() -> Self {
        RepeatRule {
            period_days: 180,
            penalties: 3,
            episodes: 5,
        }
    }
}

/// The longest period a rule may have (ten years).
pub const MAX_PERIOD_DAYS: u32 = 3660;

/// A rule that cannot be used, naming its field.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {problem}")]
pub struct RuleError {
    pub field: &'static str,
    pub problem: String,
}

impl RepeatRule {
    /// A period of 1–3660 days, and at least one threshold on.
    pub fn validate(&self) -> Result<(), RuleError> {
        if self.period_days == 0 || self.period_days > MAX_PERIOD_DAYS {
            return Err(RuleError {
                field: "period_days",
                problem: format!("must be 1 to {MAX_PERIOD_DAYS}"),
            });
        }
        if self.penalties == 0 && self.episodes == 0 {
            return Err(RuleError {
                field: "penalties",
                problem: "penalties and episodes are both 0: the rule would never flag".into(),
            });
        }
        Ok(())
    }

    /// Whether the party is flagged at `now`, given the instants of its penalty decisions
    /// and of its cases (any order). The window is `(now − period, now]`; a flag expires
    /// when, without new penalties or cases, the count would fall below the threshold:
    /// at the oldest of the most recent `threshold` instants plus the period. When both
    /// counts reach their thresholds, both reasons are given and the later expiry counts.
    pub fn flag(
        &self,
        penalties: &[DateTime<Utc>],
        episodes: &[DateTime<Utc>],
        now: DateTime<Utc>,
    ) -> Option<Flag> {
        let period = Duration::days(i64::from(self.period_days));
        let from = now - period;
        let mut reasons = Vec::new();
        for (what, times, threshold) in [
            (FlagReason::Penalties, penalties, self.penalties),
            (FlagReason::Episodes, episodes, self.episodes),
        ] {
            if threshold == 0 {
                continue;
            }
            let mut inside: Vec<DateTime<Utc>> = times
                .iter()
                .copied()
                .filter(|t| *t > from && *t <= now)
                .collect();
            let n = threshold as usize;
            if inside.len() < n {
                continue;
            }
            inside.sort();
            let oldest_needed = inside[inside.len() - n];
            reasons.push(FlagHit {
                reason: what,
                count: u32::try_from(inside.len()).unwrap_or(u32::MAX),
                threshold,
                expires_at: oldest_needed + period,
            });
        }
        let expires_at = reasons.iter().map(|r| r.expires_at).max()?;
        Some(Flag {
            rule: *self,
            hits: reasons,
            expires_at,
        })
    }
}

string_enum!(
    /// Which count put a party on the list.
    FlagReason {
        /// Penalty decisions within the period.
        Penalties = "penalties",
        /// Cases naming the party within the period.
        Episodes = "episodes",
    }
);

/// One count that reached its threshold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct FlagHit {
    pub reason: FlagReason,
    /// How many within the period.
    pub count: u32,
    /// The rule's threshold.
    pub threshold: u32,
    /// When this count falls below the threshold unless something new happens.
    pub expires_at: DateTime<Utc>,
}

/// A flagged party (黑名单): the rule, the counts that put it there, and when it expires.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct Flag {
    pub rule: RepeatRule,
    pub hits: Vec<FlagHit>,
    pub expires_at: DateTime<Utc>,
}

#[cfg(test)]
mod tests {
    use chrono::TimeZone;

    use super::*;

    // Published codes of well-known companies, as printed on their business licences
    // and public registry pages (recalled, not fetched here); each also passes the check
    // computed below, which a mistyped code does with probability 1/31.
    const PUBLISHED: &[&str] = &[
        "914403001922038216", // 华为技术有限公司
        "91440300708461136T", // 深圳市腾讯计算机系统有限公司
        "91330100799655058B", // 阿里巴巴（中国）有限公司
    ];

    #[test]
    fn published_credit_codes_pass_their_check_character() {
        for code in PUBLISHED {
            assert_eq!(CreditCode::parse(code).unwrap().as_str(), *code);
        }
    }

    #[test]
    fn a_hand_computed_check_character_is_the_one_the_standard_gives() {
        // Hand-computed: 91410103MA00000001 minus its last character.
        // Values: 9 1 4 1 0 1 0 3 M=21 A=10 0 0 0 0 0 0 0
        // Σ = 9·1 + 1·3 + 4·9 + 1·27 + 0·19 + 1·26 + 0·16 + 3·17 + 21·20 + 10·29
        //   = 9 + 3 + 36 + 27 + 0 + 26 + 0 + 51 + 420 + 290 = 862
        // 862 mod 31 = 862 − 27·31 = 862 − 837 = 25; 31 − 25 = 6 → '6'.
        assert_eq!(check_char("91410103MA0000000"), Some('6'));
        CreditCode::parse("91410103MA00000006").unwrap();
        // Hand-computed: seventeen zeros give Σ = 0, 31 − 0 = 31, written 0.
        assert_eq!(check_char("00000000000000000"), Some('0'));
        // Hand-computed: 1 then sixteen zeros: Σ = 1, 31 − 1 = 30 → 'Y'.
        assert_eq!(check_char("10000000000000000"), Some('Y'));
    }

    #[test]
    fn a_wrong_check_character_is_refused_naming_the_expected_one() {
        assert_eq!(
            CreditCode::parse("914403001922038217").unwrap_err(),
            CreditCodeError::Check {
                expected: '6',
                found: '7'
            }
        );
    }

    #[test]
    fn length_and_forbidden_letters_are_refused_and_lower_case_is_accepted() {
        assert_eq!(
            CreditCode::parse("91440300").unwrap_err(),
            CreditCodeError::Length(8)
        );
        assert_eq!(
            CreditCode::parse("9144030070846113OT").unwrap_err(),
            CreditCodeError::Character {
                position: 17,
                found: 'O'
            }
        );
        assert_eq!(
            CreditCode::parse(" 91440300708461136t ").unwrap().as_str(),
            "91440300708461136T"
        );
        assert!(matches!(
            CreditCode::parse("91440300708461136中"),
            Err(CreditCodeError::Character { position: 18, .. })
        ));
    }

    fn day(d: u32) -> DateTime<Utc> {
        // Days of March 2026 at noon UTC.
        Utc.with_ymd_and_hms(2026, 3, d, 12, 0, 0).unwrap()
    }

    #[test]
    fn three_penalties_in_the_period_flag_a_party_until_the_oldest_leaves_it() {
        let rule = RepeatRule {
            period_days: 10,
            penalties: 3,
            episodes: 0,
        };
        let p = [day(2), day(5), day(9)];
        // On the 9th: 3 inside (Feb 27 12:00, Mar 9 12:00] → flagged; the 2nd leaves the
        // window on the 12th, so the flag expires then.
        let f = rule.flag(&p, &[], day(9)).unwrap();
        assert_eq!(f.expires_at, day(12));
        assert_eq!(f.hits[0].count, 3);
        assert_eq!(f.hits[0].reason, FlagReason::Penalties);
        // On the 12th at noon the 2nd is exactly 10 days old: out of (Mar 2, Mar 12].
        assert_eq!(rule.flag(&p, &[], day(12)), None);
        // Two penalties only: not flagged.
        assert_eq!(rule.flag(&p[1..], &[], day(9)), None);
        // A penalty in the future of `now` does not count.
        assert_eq!(rule.flag(&p, &[], day(8)), None);
    }

    #[test]
    fn a_fourth_penalty_moves_the_expiry_to_the_second_oldest_plus_the_period() {
        let rule = RepeatRule {
            period_days: 10,
            penalties: 3,
            episodes: 0,
        };
        // 2, 5, 9, 10: the latest three are 5, 9, 10; the flag lasts until 5 + 10 = 15.
        let f = rule
            .flag(&[day(10), day(2), day(9), day(5)], &[], day(10))
            .unwrap();
        assert_eq!(f.hits[0].count, 4);
        assert_eq!(f.expires_at, day(15));
    }

    #[test]
    fn episodes_alone_can_flag_and_both_reasons_take_the_later_expiry() {
        let rule = RepeatRule {
            period_days: 10,
            penalties: 2,
            episodes: 3,
        };
        let e = [day(1), day(3), day(4), day(6)];
        // Episodes in (Feb 26, Mar 8]: all four; the latest three start at the 3rd → 13th.
        let f = rule.flag(&[], &e, day(8)).unwrap();
        assert_eq!(f.hits.len(), 1);
        assert_eq!(f.hits[0].reason, FlagReason::Episodes);
        assert_eq!(f.expires_at, day(13));
        // Penalties on the 6th and 7th: expire at 6 + 10 = 16, later than 13.
        let f = rule.flag(&[day(6), day(7)], &e, day(8)).unwrap();
        assert_eq!(f.hits.len(), 2);
        assert_eq!(f.expires_at, day(16));
    }

    #[test]
    fn a_rule_that_can_never_flag_is_refused_naming_the_field() {
        let r = RepeatRule {
            period_days: 30,
            penalties: 0,
            episodes: 0,
        };
        assert_eq!(r.validate().unwrap_err().field, "penalties");
        let r = RepeatRule {
            period_days: 0,
            ..RepeatRule::default()
        };
        assert_eq!(r.validate().unwrap_err().field, "period_days");
        RepeatRule::default().validate().unwrap();
    }
}
