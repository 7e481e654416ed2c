//! Time limits as district data: a table of rules keyed by (category, area grade,
//! urgency, stage). National per-category limits are not public (standard doc §5), so
//! the table is configuration, never code; the demo ships a documented default table.
//!
//! Lookup picks the most specific matching rule: an exact category beats the wildcard,
//! a named grade beats any grade, a named urgency beats any urgency.

use serde::{Deserialize, Serialize};

use crate::calendar::TimeLimit;
use crate::model::{string_enum, AreaGrade, CategoryCode, Priority};
use crate::workflow::CaseState;

string_enum!(
    /// The timed step of the loop a case is in. Each has its own deadline clock.
    Stage {
        /// 受理: from report to accept.
        Accept = "accept",
        /// 核实: on-site confirmation of a public report.
        Verify = "verify",
        /// 立案: registration.
        Register = "register",
        /// 派遣: dispatch to a unit.
        Dispatch = "dispatch",
        /// 处置: handling, from dispatch to report back.
        Handle = "handle",
        /// 核查: on-site check of the result.
        Check = "check",
        /// 回访: calling the reporter back (public and hotline cases).
        Callback = "callback",
        /// 结案: closing.
        Close = "close",
    }
);

impl Stage {
    /// The stage a state is timed by; terminal states have none.
    pub fn of(state: CaseState) -> Option<Stage> {
        Some(match state {
            CaseState::Received => Stage::Accept,
            CaseState::ToVerify => Stage::Verify,
            CaseState::ToRegister => Stage::Register,
            CaseState::ToDispatch => Stage::Dispatch,
            CaseState::Handling | CaseState::ExtensionPending | CaseState::Suspended => {
                Stage::Handle
            }
            CaseState::ToCheck => Stage::Check,
            CaseState::ToCallback => Stage::Callback,
            CaseState::ToClose => Stage::Close,
            CaseState::Closed | CaseState::Voided => return None,
        })
    }

    pub fn zh(self) -> &'static str {
        match self {
            Stage::Accept => "受理",
            Stage::Verify => "核实",
            Stage::Register => "立案",
            Stage::Dispatch => "派遣",
            Stage::Handle => "处置",
            Stage::Check => "核查",
            Stage::Callback => "回访",
            Stage::Close => "结案",
        }
    }
}

/// One row of the limit table. `None` in a key column is a wildcard.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitRule {
    /// A category, or `None` for every category.
    pub category: Option<CategoryCode>,
    pub grade: Option<AreaGrade>,
    pub priority: Option<Priority>,
    pub stage: Stage,
    pub limit: TimeLimit,
    /// Where the value comes from, or why it was chosen (shown to admins).
    pub source: String,
}

impl LimitRule {
    /// The wildcard rule of its stage (all categories, any grade, any urgency).
    pub fn is_default(&self) -> bool {
        self.category.is_none() && self.grade.is_none() && self.priority.is_none()
    }

    /// The call-back (回访) default a table without one gets: 3 working days, an invented
    /// default (no official call-back limit is cited).
    pub fn callback_default() -> LimitRule {
        LimitRule {
            category: None,
            grade: None,
            priority: None,
            stage: Stage::Callback,
            limit: TimeLimit {
                amount: 3,
                unit: crate::calendar::LimitUnit::WorkingDays,
            },
            source: "[invented default] call-back (回访) of a public or hotline reporter; \
                     no official call-back limit is cited"
                .into(),
        }
    }
}

/// A limit table with a default for every stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LimitTable {
    rules: Vec<LimitRule>,
}

/// A limit table that cannot answer every lookup.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LimitTableError {
    #[error("no default (all categories, any grade, any urgency) limit for stage {0}")]
    MissingDefault(Stage),
    #[error("two rules with the same key: category {category:?}, grade {grade:?}, priority {priority:?}, stage {stage}")]
    Duplicate {
        category: Option<CategoryCode>,
        grade: Option<AreaGrade>,
        priority: Option<Priority>,
        stage: Stage,
    },
}

impl LimitTable {
    /// Builds a table; every stage needs a wildcard default so every lookup has an answer,
    /// and no key may appear twice (the answer would depend on row order).
    pub fn new(mut rules: Vec<LimitRule>) -> Result<Self, LimitTableError> {
        // Tables written before the call-back stage existed load with its default.
        if !rules
            .iter()
            .any(|r| r.stage == Stage::Callback && r.is_default())
        {
            rules.push(LimitRule::callback_default());
        }
        for &stage in Stage::ALL {
            let has_default = rules.iter().any(|r| r.stage == stage && r.is_default());
            if !has_default {
                return Err(LimitTableError::MissingDefault(stage));
            }
        }
        for (i, a) in rules.iter().enumerate() {
            if rules[..i].iter().any(|b| {
                a.stage == b.stage
                    && a.category == b.category
                    && a.grade == b.grade
                    && a.priority == b.priority
            }) {
                return Err(LimitTableError::Duplicate {
                    category: a.category.clone(),
                    grade: a.grade,
                    priority: a.priority,
                    stage: a.stage,
                });
            }
        }
        Ok(Self { rules })
    }

    pub fn rules(&self) -> &[LimitRule] {
        &self.rules
    }

    /// The most specific rule for the key.
    pub fn lookup(
        &self,
        category: &CategoryCode,
        grade: AreaGrade,
        priority: Priority,
        stage: Stage,
    ) -> &LimitRule {
        let mut best: Option<(u8, &LimitRule)> = None;
        for r in &self.rules {
            if r.stage != stage {
                continue;
            }
            let cat_ok = r.category.as_ref().is_none_or(|c| c == category);
            let grade_ok = r.grade.is_none_or(|g| g == grade);
            let prio_ok = r.priority.is_none_or(|p| p == priority);
            if !(cat_ok && grade_ok && prio_ok) {
                continue;
            }
            let score = 4 * u8::from(r.category.is_some())
                + 2 * u8::from(r.grade.is_some())
                + u8::from(r.priority.is_some());
            if best.is_none_or(|(s, _)| score > s) {
                best = Some((score, r));
            }
        }
        match best {
            Some((_, r)) => r,
            // `new` guarantees a default for every stage.
            None => &self.rules[0],
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::LimitUnit;

    fn code(c: &str) -> CategoryCode {
        CategoryCode::parse_service_code(c).unwrap()
    }

    fn rule(cat: Option<&str>, prio: Option<Priority>, stage: Stage, h: u32) -> LimitRule {
        LimitRule {
            category: cat.map(code),
            grade: None,
            priority: prio,
            stage,
            limit: TimeLimit {
                amount: h,
                unit: LimitUnit::WorkingHours,
            },
            source: "test".into(),
        }
    }

    fn defaults() -> Vec<LimitRule> {
        Stage::ALL.iter().map(|&s| rule(None, None, s, 1)).collect()
    }

    #[test]
    fn a_table_without_a_default_for_a_stage_is_rejected() {
        let mut rules = defaults();
        rules.retain(|r| r.stage != Stage::Check);
        assert_eq!(
            LimitTable::new(rules),
            Err(LimitTableError::MissingDefault(Stage::Check))
        );
    }

    #[test]
    fn a_table_from_before_the_callback_stage_loads_with_the_invented_callback_default() {
        let mut rules = defaults();
        rules.retain(|r| r.stage != Stage::Callback);
        let t = LimitTable::new(rules).unwrap();
        let r = t.lookup(
            &code("06010"),
            AreaGrade::A,
            Priority::Normal,
            Stage::Callback,
        );
        assert_eq!(r.limit.amount, 3);
        assert_eq!(r.limit.unit, LimitUnit::WorkingDays);
        assert!(r.source.starts_with("[invented default]"));
        // A table with its own call-back default keeps it.
        let t = LimitTable::new(defaults()).unwrap();
        let r = t.lookup(
            &code("06010"),
            AreaGrade::A,
            Priority::Normal,
            Stage::Callback,
        );
        assert_eq!(r.limit.amount, 1);
    }

    #[test]
    fn the_most_specific_rule_wins() {
        let mut rules = defaults();
        rules.push(rule(Some("06010"), None, Stage::Handle, 4));
        rules.push(rule(
            Some("06010"),
            Some(Priority::Urgent),
            Stage::Handle,
            2,
        ));
        rules.push(rule(None, Some(Priority::Urgent), Stage::Handle, 3));
        let t = LimitTable::new(rules).unwrap();
        let h = |c, p| {
            t.lookup(&code(c), AreaGrade::A, p, Stage::Handle)
                .limit
                .amount
        };
        assert_eq!(h("06010", Priority::Normal), 4);
        assert_eq!(h("06010", Priority::Urgent), 2);
        assert_eq!(h("06099", Priority::Urgent), 3);
        assert_eq!(h("06099", Priority::Normal), 1);
    }

    #[test]
    fn duplicate_keys_are_rejected() {
        let mut rules = defaults();
        rules.push(rule(Some("06010"), None, Stage::Handle, 4));
        rules.push(rule(Some("06010"), None, Stage::Handle, 5));
        assert!(matches!(
            LimitTable::new(rules),
            Err(LimitTableError::Duplicate { .. })
        ));
    }

    #[test]
    fn every_live_state_has_a_stage() {
        for &s in CaseState::ALL {
            assert_eq!(Stage::of(s).is_none(), s.is_terminal());
        }
    }
}
