//! Which unit handles a case (条块结合、以块为主, design.md §5): from the category's
//! default department type and the street office the point lies in. Pure: the caller
//! passes the district's units.
//!
//! Order: an admin rule for (category, street) wins; a department type naming the street
//! office (街道办事处) or an asset owner (权属单位) goes to the territorial street office;
//! otherwise the department whose type key matches; otherwise the street office
//! (territory leads); otherwise the district's default intake unit.

use serde::{Deserialize, Serialize};

use crate::ids::UnitId;
use crate::model::{CategoryCode, Unit, UnitKind};

/// An admin override: cases of this category in this street go to this unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AssignRule {
    pub category: CategoryCode,
    /// A 9-digit street code, or `None` for the whole district.
    pub street_code: Option<String>,
    pub unit_id: UnitId,
}

/// Why a unit was chosen (kept on the case for explainability).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AssignReason {
    AdminRule,
    Department,
    Territory,
    DefaultUnit,
}

/// Picks the handling unit.
pub fn assign_unit(
    category: &CategoryCode,
    default_unit_type: &str,
    street_code: Option<&str>,
    units: &[Unit],
    rules: &[AssignRule],
    default_unit: UnitId,
) -> (UnitId, AssignReason) {
    // A rule naming a deactivated (or unknown) unit no longer applies.
    let live = |r: &&AssignRule| units.iter().any(|u| u.id == r.unit_id && u.active);
    let specific = rules
        .iter()
        .filter(live)
        .filter(|r| &r.category == category)
        .find(|r| r.street_code.as_deref() == street_code && street_code.is_some())
        .or_else(|| {
            rules
                .iter()
                .filter(live)
                .find(|r| &r.category == category && r.street_code.is_none())
        });
    if let Some(r) = specific {
        return (r.unit_id, AssignReason::AdminRule);
    }
    let street_unit = street_code.and_then(|code| {
        units
            .iter()
            .find(|u| u.kind == UnitKind::Street && u.active && u.type_key == code)
    });
    let first = default_unit_type
        .split('/')
        .next()
        .unwrap_or("")
        .split(['(', '（'])
        .next()
        .unwrap_or("")
        .trim();
    let territorial = first.is_empty()
        || first.contains("街道")
        || first.contains("权属")
        || first.starts_with("按");
    if !territorial {
        let mut depts: Vec<&Unit> = units
            .iter()
            .filter(|u| u.kind == UnitKind::Department && u.active)
            .collect();
        depts.sort_by(|a, b| a.code.cmp(&b.code));
        let hit = depts
            .iter()
            .find(|u| u.type_key == first)
            .or_else(|| depts.iter().find(|u| u.type_key.starts_with(first)))
            .or_else(|| {
                depts
                    .iter()
                    .find(|u| first.starts_with(u.type_key.as_str()))
            });
        if let Some(u) = hit {
            return (u.id, AssignReason::Department);
        }
    }
    match street_unit {
        Some(u) => (u.id, AssignReason::Territory),
        None => (default_unit, AssignReason::DefaultUnit),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn unit(code: &str, kind: UnitKind, key: &str) -> Unit {
        Unit {
            id: UnitId::new_v7(),
            code: code.into(),
            name: code.into(),
            kind,
            type_key: key.into(),
            active: true,
        }
    }

    fn setup() -> (Vec<Unit>, UnitId) {
        let units = vec![
            unit("HW", UnitKind::Department, "城管局环卫"),
            unit("SZ", UnitKind::Department, "城管局市政"),
            unit("ZF", UnitKind::Department, "城管执法"),
            unit("ST010", UnitKind::Street, "410103010"),
        ];
        (units, UnitId::new_v7())
    }

    fn code(c: &str) -> CategoryCode {
        CategoryCode::parse_service_code(c).unwrap()
    }

    #[test]
    fn a_department_type_goes_to_its_department() {
        let (units, def) = setup();
        let (u, why) = assign_unit(
            &code("06010"),
            "城管局环卫/街道办事处",
            Some("410103010"),
            &units,
            &[],
            def,
        );
        assert_eq!((u, why), (units[0].id, AssignReason::Department));
        let (u, _) = assign_unit(
            &code("06001"),
            "城管执法(综合行政执法)/街道办事处",
            None,
            &units,
            &[],
            def,
        );
        assert_eq!(u, units[2].id);
    }

    #[test]
    fn territory_leads_when_no_department_fits_or_the_owner_is_territorial() {
        let (units, def) = setup();
        let (u, why) = assign_unit(
            &code("01001"),
            "权属单位",
            Some("410103010"),
            &units,
            &[],
            def,
        );
        assert_eq!((u, why), (units[3].id, AssignReason::Territory));
        let (u, why) = assign_unit(
            &code("01001"),
            "园林绿化",
            Some("410103010"),
            &units,
            &[],
            def,
        );
        assert_eq!((u, why), (units[3].id, AssignReason::Territory));
    }

    #[test]
    fn a_deactivated_unit_is_never_picked_and_its_rules_stop_applying() {
        let (mut units, def) = setup();
        let rules = vec![AssignRule {
            category: code("06010"),
            street_code: None,
            unit_id: units[1].id,
        }];
        units[1].active = false;
        units[0].active = false;
        let got = assign_unit(
            &code("06010"),
            "城管局环卫",
            Some("410103010"),
            &units,
            &rules,
            def,
        );
        assert_eq!(got, (units[3].id, AssignReason::Territory));
    }

    #[test]
    fn outside_every_street_with_no_department_goes_to_the_default_unit() {
        let (units, def) = setup();
        assert_eq!(
            assign_unit(&code("01001"), "权属单位", None, &units, &[], def),
            (def, AssignReason::DefaultUnit)
        );
    }

    #[test]
    fn an_admin_rule_for_the_street_beats_the_district_rule_and_the_default() {
        let (units, def) = setup();
        let rules = vec![
            AssignRule {
                category: code("06010"),
                street_code: None,
                unit_id: units[1].id,
            },
            AssignRule {
                category: code("06010"),
                street_code: Some("410103010".into()),
                unit_id: units[2].id,
            },
        ];
        let got = assign_unit(
            &code("06010"),
            "城管局环卫",
            Some("410103010"),
            &units,
            &rules,
            def,
        );
        assert_eq!(got, (units[2].id, AssignReason::AdminRule));
        let got = assign_unit(
            &code("06010"),
            "城管局环卫",
            Some("410103001"),
            &units,
            &rules,
            def,
        );
        assert_eq!(got, (units[1].id, AssignReason::AdminRule));
    }
}
