//! Reference data: the category table and the default time-limit table shipped in
//! `data/` (embedded at build time), and typed access to settings documents.

use std::sync::Arc;

use cityloop_domain::calendar::{CalendarSpec, TimeLimit, WorkCalendar};
use cityloop_domain::limits::{LimitRule, LimitTable, Stage};
use cityloop_domain::model::{
    AreaGrade, Category, CategoryCode, CategoryKind, CodeStandard, Priority,
};
use cityloop_store::Store;
use serde::de::DeserializeOwned;

use crate::{keys, ServiceError};

/// The shipped category table (see data/NOTICE.md for its origin).
pub const CATEGORIES_CSV: &str = include_str!("../../../data/categories.csv");
/// The demo district's default limit table (each row cites its source).
pub const DEMO_LIMITS_CSV: &str = include_str!("../../../data/demo/time_limits.csv");

/// Reference data every intake needs, cached in memory.
#[derive(Debug)]
pub struct Cache {
    pub categories: std::collections::HashMap<CategoryCode, Category>,
    pub units: Vec<cityloop_domain::model::Unit>,
    pub assign_rules: Vec<cityloop_domain::assign::AssignRule>,
    pub calendar: Arc<WorkCalendar>,
    pub limits: Arc<LimitTable>,
    /// The district's changes to the privacy policy (settings document `privacy`).
    pub privacy: cityloop_domain::privacy::PrivacySettings,
    /// The maps' tile source (settings document `map_tiles`); none: the territory is the base.
    pub tiles: Option<cityloop_geo::tiles::TileSource>,
}

/// Settings key of the admin's assignment rules (category × street → unit).
pub const ASSIGN_RULES: &str = "assign_rules";

impl Cache {
    /// Nothing loaded yet: the shipped calendar and limit table, no units.
    pub fn defaults() -> Result<Self, ServiceError> {
        Ok(Self {
            categories: Default::default(),
            units: Vec::new(),
            assign_rules: Vec::new(),
            calendar: Arc::new(WorkCalendar::china_2026()),
            limits: Arc::new(default_limits()?),
            privacy: Default::default(),
            tiles: None,
        })
    }

    pub async fn load(store: &dyn Store) -> Result<Self, ServiceError> {
        let calendar = match get_setting::<CalendarSpec>(store, keys::CALENDAR).await? {
            Some(spec) => WorkCalendar::from_spec(&spec)
                .map_err(|e| ServiceError::NotConfigured(format!("stored calendar: {e}")))?,
            None => WorkCalendar::china_2026(),
        };
        let limits = match get_setting::<Vec<LimitRule>>(store, keys::LIMITS).await? {
            Some(rules) => LimitTable::new(rules)
                .map_err(|e| ServiceError::NotConfigured(format!("stored limit table: {e}")))?,
            None => default_limits()?,
        };
        Ok(Self {
            calendar: Arc::new(calendar),
            limits: Arc::new(limits),
            categories: store
                .list_categories()
                .await?
                .into_iter()
                .map(|c| (c.code.clone(), c))
                .collect(),
            units: store.list_units().await?,
            assign_rules: get_setting(store, ASSIGN_RULES).await?.unwrap_or_default(),
            privacy: get_setting(store, crate::privacy::SETTING)
                .await?
                .unwrap_or_default(),
            tiles: get_setting::<Option<cityloop_geo::tiles::TileSource>>(
                store,
                crate::maps::TILES_SETTING,
            )
            .await?
            .flatten(),
        })
    }
}

/// Reads a typed settings document.
pub async fn get_setting<T: DeserializeOwned>(
    store: &dyn Store,
    key: &str,
) -> Result<Option<T>, ServiceError> {
    match store.get_setting(key).await? {
        None => Ok(None),
        Some(v) => serde_json::from_value(v)
            .map(Some)
            .map_err(|e| ServiceError::NotConfigured(format!("setting {key}: {e}"))),
    }
}

fn standard_of(s: &str) -> Option<CodeStandard> {
    if s.starts_with("CJ/T 214") {
        Some(CodeStandard::CjT214)
    } else if s.starts_with("GB/T 47678.5") {
        Some(CodeStandard::Gb47678)
    } else {
        None
    }
}

/// Parses the category table. GB/T 47678.5 matters (事项) are the active intake
/// catalogue; the other rows are kept for legacy data and code mapping.
pub fn parse_categories(csv_text: &str) -> Result<Vec<Category>, ServiceError> {
    let mut rdr = csv::Reader::from_reader(csv_text.as_bytes());
    let mut out = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec = rec
            .map_err(|e| ServiceError::invalid(format!("categories line {line}"), e.to_string()))?;
        let get = |n: usize| rec.get(n).unwrap_or("").trim().to_owned();
        let bad = |m: &str| ServiceError::invalid(format!("categories line {line}"), m.to_owned());
        let standard = standard_of(&get(0)).ok_or_else(|| bad("unknown standard"))?;
        let kind = CategoryKind::from_zh(&get(1)).ok_or_else(|| bad("unknown kind"))?;
        let code = CategoryCode::parse(standard, kind, &get(8)).map_err(|e| bad(&e.to_string()))?;
        let active = standard == CodeStandard::Gb47678 && kind == CategoryKind::Matter;
        out.push(Category {
            code,
            major_name_zh: get(3),
            major_name_en: get(4),
            name_zh: get(6),
            name_en: get(7),
            default_unit_type: get(9),
            active,
        });
    }
    Ok(out)
}

/// Parses a limit table CSV: `standard,kind,code,area_grade,priority,stage,limit,source`;
/// empty key cells are wildcards.
pub fn parse_limits(csv_text: &str) -> Result<LimitTable, ServiceError> {
    let mut rdr = csv::Reader::from_reader(csv_text.as_bytes());
    let mut rules = Vec::new();
    for (i, rec) in rdr.records().enumerate() {
        let line = i + 2;
        let rec =
            rec.map_err(|e| ServiceError::invalid(format!("limits line {line}"), e.to_string()))?;
        let get = |n: usize| rec.get(n).unwrap_or("").trim().to_owned();
        let bad = |m: String| ServiceError::invalid(format!("limits line {line}"), m);
        let category = if get(2).is_empty() {
            None
        } else {
            let standard: CodeStandard = get(0)
                .parse()
                .map_err(|e: cityloop_domain::model::UnknownValue| bad(e.to_string()))?;
            let kind: CategoryKind = get(1)
                .parse()
                .map_err(|e: cityloop_domain::model::UnknownValue| bad(e.to_string()))?;
            Some(CategoryCode::parse(standard, kind, &get(2)).map_err(|e| bad(e.to_string()))?)
        };
        let grade = opt_parse::<AreaGrade>(&get(3)).map_err(bad)?;
        let priority = opt_parse::<Priority>(&get(4)).map_err(bad)?;
        let stage: Stage = get(5)
            .parse()
            .map_err(|e: cityloop_domain::model::UnknownValue| bad(e.to_string()))?;
        let limit = TimeLimit::parse_zh(&get(6)).map_err(|e| bad(e.to_string()))?;
        rules.push(LimitRule {
            category,
            grade,
            priority,
            stage,
            limit,
            source: get(7),
        });
    }
    LimitTable::new(rules).map_err(|e| ServiceError::invalid("limits", e.to_string()))
}

fn opt_parse<T: std::str::FromStr<Err = cityloop_domain::model::UnknownValue>>(
    s: &str,
) -> Result<Option<T>, String> {
    if s.is_empty() {
        Ok(None)
    } else {
        s.parse()
            .map(Some)
            .map_err(|e: cityloop_domain::model::UnknownValue| e.to_string())
    }
}

/// The demo limit table.
pub fn default_limits() -> Result<LimitTable, ServiceError> {
    parse_limits(DEMO_LIMITS_CSV)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_category_table_parses_with_both_generations() {
        let cats = parse_categories(CATEGORIES_CSV).unwrap();
        assert_eq!(cats.len(), 540);
        let active = cats.iter().filter(|c| c.active).count();
        assert_eq!(
            active, 250,
            "the GB/T 47678.5 matter list is the intake catalogue"
        );
        assert!(cats.iter().any(|c| c.code.standard == CodeStandard::CjT214));
        let dust = cats
            .iter()
            .find(|c| c.code.code == "08004" && c.active)
            .unwrap();
        assert_eq!(dust.name_zh, "工地扬尘");
    }

    #[test]
    fn the_demo_limit_table_parses_and_uses_published_values() {
        let t = default_limits().unwrap();
        let garbage = CategoryCode::parse_service_code("06010").unwrap();
        let r = t.lookup(&garbage, AreaGrade::A, Priority::Normal, Stage::Handle);
        assert_eq!(r.limit.to_string(), "4工作时");
        let other = CategoryCode::parse_service_code("08004").unwrap();
        let r = t.lookup(&other, AreaGrade::A, Priority::Normal, Stage::Handle);
        assert!(r.source.contains("[invented default]"));
    }

    #[test]
    fn a_bad_limit_row_names_its_line() {
        let csv = "standard,kind,code,area_grade,priority,stage,limit,source\n,,,,,accept,soon,x\n";
        let e = parse_limits(csv).unwrap_err();
        assert!(e.to_string().contains("line 2"), "{e}");
    }
}
