//! Which unit handles a case (条块结合、以块为主, design.md §5): from the category's
//! default department type and the street office the point lies in. Pure: the caller
//! passes the district's units.
//!
//! Order: an admin rule for (category, street) wins; a department type naming the street
//! office (街道办事处) or an asset owner (权属单位) goes to the territorial street office;
//! otherwise the department whose type key equals one of the listed alternatives, in
//! order; otherwise the one department whose type an alternative names in part (an
//! ambiguous part such as a bare 城管局 picks none); otherwise the street office
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
    // The department type lists alternatives in order (`城管局/城管执法`); each is cut at
    // a parenthesis (`城管执法(广告)` → `城管执法`).
    let alternatives: Vec<&str> = default_unit_type
        .split('/')
        .map(|a| a.split(['(', '（']).next().unwrap_or("").trim())
        .collect();
    let territorial =
        |a: &str| a.is_empty() || a.contains("街道") || a.contains("权属") || a.starts_with("按");
    // Alternatives up to the first territorial one: past it, the street office leads.
    let named: Vec<&str> = alternatives
        .iter()
        .copied()
        .take_while(|a| !territorial(a))
        .collect();
    let mut depts: Vec<&Unit> = units
        .iter()
        .filter(|u| u.kind == UnitKind::Department && u.active)
        .collect();
    depts.sort_by(|a, b| a.code.cmp(&b.code));
    // An exact type wins in the listed order; then a type one alternative names only in
    // part (`城管局路灯` for `城管局路灯管理所`), but only when exactly one department fits:
    // a bare `城管局` fits 市政, 环卫 and 路灯 alike and picks none of them.
    let exact = named
        .iter()
        .find_map(|a| depts.iter().copied().find(|u| u.type_key == *a));
    let partial = || {
        named.iter().find_map(|a| {
            let mut fits = depts
                .iter()
                .copied()
                .filter(|u| u.type_key.starts_with(a) || a.starts_with(u.type_key.as_str()));
            match (fits.next(), fits.next()) {
                (Some(u), None) => Some(u),
                _ => None,
            }
        })
    };
    if let Some(u) = exact.or_else(partial) {
        return (u.id, AssignReason::Department);
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
    fn an_ambiguous_bare_bureau_falls_to_the_next_alternative_and_a_unique_part_fits() {
        let (units, def) = setup();
        // 城管局 fits 环卫 and 市政 alike: the listed 城管执法 handles it (06011 积存垃圾渣土).
        let (u, why) = assign_unit(
            &code("06011"),
            "城管局/城管执法",
            Some("410103010"),
            &units,
            &[],
            def,
        );
        assert_eq!((u, why), (units[2].id, AssignReason::Department));
        // With no other alternative, the street office leads rather than a guess.
        let (u, why) = assign_unit(
            &code("06011"),
            "城管局(兜底)/街道办事处",
            Some("410103010"),
            &units,
            &[],
            def,
        );
        assert_eq!((u, why), (units[3].id, AssignReason::Territory));
        // A part that names one department only still finds it.
        let (u, why) = assign_unit(&code("06010"), "城管局环", None, &units, &[], def);
        assert_eq!((u, why), (units[0].id, AssignReason::Department));
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
