//! What a citizen is told about a case, kept apart from what staff write to each other.
//!
//! Staff notes and reasons (`note`, `reason` on an action) are internal, always. A citizen
//! sees only two kinds of text:
//! - a fixed, honest wording of the case's state ([`wording`]), derived from the state at
//!   read time, so it never claims more than the loop has done (a case waiting to be
//!   screened is "已提交，等待受理", not "已受理");
//! - the replies staff wrote *for* the citizen (答复市民, [`PublicReply`]), an explicit
//!   separate field of an action, and, for a case that is not taken up, one of a short list
//!   of public reason categories ([`PublicReason`]) instead of the operator's own words.
//!
//! Nothing here reads a note: there is no code path from an internal text to a public one.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::model::string_enum;
use crate::workflow::CaseState;

string_enum!(
    /// Why a case was not taken up, as the citizen is told (the operator's own reason stays
    /// internal).
    PublicReason {
        /// 重复反映: the problem is already being handled under another case.
        Duplicate = "duplicate",
        /// 经现场核实，未发现所反映的问题.
        NotFoundOnSite = "not_found_on_site",
        /// 不属于城市管理事项.
        NotUrbanManagement = "not_urban_management",
        /// 不在本区管辖范围.
        OutsideDistrict = "outside_district",
        /// 信息不全，无法核实.
        InsufficientInformation = "insufficient_information",
        /// 不符合受理条件 (no more specific category applies).
        Other = "other",
    }
);

impl PublicReason {
    pub fn zh(self) -> &'static str {
        match self {
            PublicReason::Duplicate => "重复反映，已并入其他案件处理",
            PublicReason::NotFoundOnSite => "经现场核实，未发现所反映的问题",
            PublicReason::NotUrbanManagement => "不属于城市管理事项",
            PublicReason::OutsideDistrict => "不在本区管辖范围",
            PublicReason::InsufficientInformation => "信息不全，无法核实",
            PublicReason::Other => "不符合受理条件",
        }
    }

    pub fn en(self) -> &'static str {
        match self {
            PublicReason::Duplicate => "a duplicate, handled under another case",
            PublicReason::NotFoundOnSite => "the problem was not found on site",
            PublicReason::NotUrbanManagement => "not an urban-management matter",
            PublicReason::OutsideDistrict => "outside the district",
            PublicReason::InsufficientInformation => "too little information to verify",
            PublicReason::Other => "does not meet the conditions for a case",
        }
    }
}

/// A reply staff wrote for the citizen (答复市民), with the time of the action.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PublicReply {
    pub at: DateTime<Utc>,
    pub text: String,
}

/// The longest public reply accepted, in characters.
pub const MAX_PUBLIC_REPLY_CHARS: usize = 500;

/// The language of a public wording.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicLang {
    Zh,
    En,
}

/// The facts a state wording may mention, already formatted for the reader.
#[derive(Debug, Clone, Copy, Default)]
pub struct WordingFacts<'a> {
    /// The unit handling the case, once it is dispatched.
    pub unit: Option<&'a str>,
    /// When handling is expected to be done, formatted in the district's zone.
    pub expected: Option<&'a str>,
    /// Why the case was not taken up (voided cases).
    pub reason: Option<PublicReason>,
}

/// The citizen's wording of a state: what has happened, in the loop's own terms, never
/// more. Units and the expected time are mentioned only once the case is registered.
pub fn wording(state: CaseState, facts: WordingFacts<'_>, lang: PublicLang) -> String {
    use CaseState as S;
    let zh = lang == PublicLang::Zh;
    let handled_by = |registered: &str, registered_en: &str| -> String {
        match (facts.unit, facts.expected, zh) {
            (Some(u), Some(t), true) => format!("{registered}，由{u}处置，预计{t}前完成"),
            (Some(u), None, true) => format!("{registered}，由{u}处置"),
            (None, _, true) => format!("{registered}，正在安排处置单位"),
            (Some(u), Some(t), false) => {
                format!("{registered_en}; {u} handles it, expected by {t}")
            }
            (Some(u), None, false) => format!("{registered_en}; {u} handles it"),
            (None, _, false) => format!("{registered_en}; a handling unit is being assigned"),
        }
    };
    match (state, zh) {
        (S::Received, true) => "已提交，等待受理".into(),
        (S::Received, false) => "Submitted, waiting to be screened".into(),
        (S::ToVerify, true) => "已受理，正在核实".into(),
        (S::ToVerify, false) => "Accepted, being verified on site".into(),
        (S::ToRegister, true) => "已受理，等待立案".into(),
        (S::ToRegister, false) => "Accepted, waiting to be registered".into(),
        (S::ToDispatch, true) => "已立案，正在安排处置单位".into(),
        (S::ToDispatch, false) => "Registered; a handling unit is being assigned".into(),
        (S::Handling | S::ExtensionPending, _) => handled_by("已立案", "Registered"),
        (S::Suspended, true) => match facts.unit {
            Some(u) => format!("已立案，由{u}处置，暂缓处理中"),
            None => "已立案，暂缓处理中".into(),
        },
        (S::Suspended, false) => match facts.unit {
            Some(u) => format!("Registered; {u} handles it, on hold for now"),
            None => "Registered, on hold for now".into(),
        },
        (S::ToCheck, true) => "处理完毕，待核查".into(),
        (S::ToCheck, false) => "Handled, waiting for the on-site check".into(),
        (S::ToCallback, true) => "已核查，处理到位，等待回访".into(),
        (S::ToCallback, false) => "Checked on site: fixed; the reporter will be called back".into(),
        (S::ToClose, true) => "已核查，即将办结".into(),
        (S::ToClose, false) => "Checked on site, about to be closed".into(),
        (S::Closed, true) => "已办结".into(),
        (S::Closed, false) => "Closed".into(),
        (S::Voided, true) => format!(
            "不予受理：{}",
            facts.reason.unwrap_or(PublicReason::Other).zh()
        ),
        (S::Voided, false) => format!(
            "Not taken up: {}",
            facts.reason.unwrap_or(PublicReason::Other).en()
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn zh(state: CaseState, facts: WordingFacts<'_>) -> String {
        wording(state, facts, PublicLang::Zh)
    }

    #[test]
    fn a_case_waiting_to_be_screened_is_not_called_accepted() {
        let facts = WordingFacts {
            unit: Some("环卫中心"),
            expected: Some("12月3日 17:30"),
            reason: None,
        };
        assert_eq!(zh(CaseState::Received, facts), "已提交，等待受理");
        assert_eq!(zh(CaseState::ToVerify, facts), "已受理，正在核实");
        // Before dispatch the unit is only a suggestion: it is not named.
        assert_eq!(zh(CaseState::ToDispatch, facts), "已立案，正在安排处置单位");
    }

    #[test]
    fn a_handled_case_names_its_unit_and_expected_time() {
        let facts = WordingFacts {
            unit: Some("环卫中心"),
            expected: Some("2026年12月03日 17:30"),
            reason: None,
        };
        assert_eq!(
            zh(CaseState::Handling, facts),
            "已立案，由环卫中心处置，预计2026年12月03日 17:30前完成"
        );
        assert_eq!(zh(CaseState::ToCheck, facts), "处理完毕，待核查");
        assert_eq!(zh(CaseState::Closed, facts), "已办结");
    }

    #[test]
    fn a_voided_case_shows_only_its_public_reason_category() {
        let facts = WordingFacts {
            reason: Some(PublicReason::Duplicate),
            ..WordingFacts::default()
        };
        assert_eq!(
            zh(CaseState::Voided, facts),
            "不予受理：重复反映，已并入其他案件处理"
        );
        assert_eq!(
            zh(CaseState::Voided, WordingFacts::default()),
            "不予受理：不符合受理条件"
        );
    }

    #[test]
    fn every_state_has_a_wording_in_both_languages() {
        for &s in CaseState::ALL {
            assert!(!zh(s, WordingFacts::default()).is_empty());
            let en = wording(s, WordingFacts::default(), PublicLang::En);
            assert!(en.is_ascii(), "{s}: {en}");
        }
    }
}
