//! `cityloop demo`: loads the demo district 二七区 into an empty store — district profile,
//! calendar, limit table, categories, units and one account per role (password `demo`).
//! Only this module creates accounts with a known password.

use cityloop_domain::assign::AssignRule;
use cityloop_domain::calendar::WorkCalendar;
use cityloop_domain::ids::UnitId;
use cityloop_domain::model::{CategoryCode, Role, Unit, UnitKind};

use crate::auth::{hash_password, NewUser};
use crate::reference::{parse_categories, CATEGORIES_CSV};
use crate::{keys, District, ServiceError, Services};

/// The demo password of every demo account.
pub const DEMO_PASSWORD: &str = "demo";
/// The demo Open311 API key.
pub const DEMO_API_KEY: &str = "demo-key";

/// Demo departments (条): code, name, type key matched against category department types.
/// The names are typical of a Chinese district; they are demo data, not Erqi's roster.
pub const DEMO_DEPARTMENTS: &[(&str, &str, &str)] = &[
    ("sz", "区城管局市政管理所", "城管局市政"),
    ("hw", "区城管局环卫中心", "城管局环卫"),
    ("ld", "区城管局路灯管理所", "城管局路灯管理所"),
    ("zf", "区城市管理综合执法大队", "城管执法"),
    ("yl", "区园林绿化中心", "园林绿化"),
    ("zj", "区住房和城乡建设局", "住建局"),
    ("jj", "交警二七大队", "交警"),
    ("sw", "区水务局", "水务"),
    ("hb", "区生态环境分局", "生态环境"),
];

/// The demo district's own routing choices (data/demo/assign_rules.csv: category, demo
/// department code, why), loaded as district-wide assignment rules an admin sees and may
/// change. The reference categories stay as published; where their department type is a
/// bare 城管局 (市政, 环卫 or 路灯 alike) the published alternative (城管执法) handles a
/// case unless a rule here says otherwise. Demo choices, not Erqi's published roster.
pub const DEMO_ASSIGN_RULES_CSV: &str = include_str!("../../../data/demo/assign_rules.csv");

/// The default intake unit's code.
pub const COMMAND_CENTER: &str = "zhzx";

/// Loads the demo district unless the store already has a district. Returns true when it
/// loaded, false when the store was already set up (reopening keeps its data).
pub async fn load_demo(
    store: &std::sync::Arc<dyn cityloop_store::Store>,
) -> Result<bool, ServiceError> {
    if store.get_setting(keys::DISTRICT).await?.is_some() {
        return Ok(false);
    }
    let district = District {
        code: "410103".into(),
        name: "二七区".into(),
        name_en: "Erqi District, Zhengzhou".into(),
        timezone: "Asia/Shanghai".into(),
        default_unit_code: COMMAND_CENTER.into(),
    };
    let cal = WorkCalendar::china_2026();
    store
        .put_setting(keys::CALENDAR, &to_json(cal.spec())?)
        .await?;
    let limits = crate::reference::default_limits()?;
    store
        .put_setting(keys::LIMITS, &to_json(limits.rules())?)
        .await?;
    for c in parse_categories(CATEGORIES_CSV)? {
        store.upsert_category(&c).await?;
    }
    let mut units = vec![Unit {
        id: UnitId::new_v7(),
        code: COMMAND_CENTER.into(),
        name: "区数字化城市管理监督指挥中心".into(),
        kind: UnitKind::Command,
        type_key: "指挥中心".into(),
        active: true,
    }];
    for (code, name, key) in DEMO_DEPARTMENTS {
        units.push(Unit {
            id: UnitId::new_v7(),
            code: (*code).into(),
            name: (*name).into(),
            kind: UnitKind::Department,
            type_key: (*key).into(),
            active: true,
        });
    }
    // One street-office unit per street of the territory (official names and codes).
    let territory = crate::territory::import(&**store, &crate::territory::demo_layers()?)
        .await
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("demo territory: {e}")))?;
    for street in territory.streets() {
        let suffix = street.code.get(6..).unwrap_or(&street.code);
        units.push(Unit {
            id: UnitId::new_v7(),
            code: format!("jd{suffix}"),
            name: format!("{}办事处", street.name).replace("镇办事处", "镇人民政府"),
            kind: UnitKind::Street,
            type_key: street.code.clone(),
            active: true,
        });
    }
    for u in &units {
        store.upsert_unit(u).await?;
    }
    let mut rules = Vec::new();
    for line in DEMO_ASSIGN_RULES_CSV.lines().skip(1) {
        let mut cols = line.splitn(3, ',');
        let (Some(category), Some(dept)) = (cols.next(), cols.next()) else {
            continue;
        };
        let bad =
            |what: String| ServiceError::Internal(anyhow::anyhow!("demo assign rule: {what}"));
        let unit = units
            .iter()
            .find(|u| u.code == dept)
            .ok_or_else(|| bad(format!("no demo unit {dept}")))?;
        let category = CategoryCode::parse_service_code(category)
            .map_err(|e| bad(format!("{category}: {e}")))?;
        rules.push(AssignRule {
            category,
            street_code: None,
            unit_id: unit.id,
        });
    }
    store
        .put_setting(crate::reference::ASSIGN_RULES, &to_json(&rules)?)
        .await?;
    // The district profile goes last: its presence marks a completely loaded demo.
    let svc = Services::for_loading(store.clone(), district.clone())?;
    let hash = hash_password(DEMO_PASSWORD)?;
    let mut users: Vec<NewUser> = [
        (Role::Admin, "admin", "管理员（演示）"),
        (Role::Operator, "operator", "受理员（演示）"),
        (Role::Dispatcher, "dispatcher", "派遣员（演示）"),
        (Role::Inspector, "inspector", "监督员（演示）"),
        (Role::Supervisor, "supervisor", "值班长（演示）"),
    ]
    .into_iter()
    .map(|(role, name, display)| NewUser {
        username: name.into(),
        display_name: display.into(),
        role,
        unit_id: if role == Role::Supervisor {
            Some(units[0].id)
        } else {
            None
        },
        password: DEMO_PASSWORD.into(),
    })
    .collect();
    for u in units.iter().filter(|u| u.kind != UnitKind::Command) {
        users.push(NewUser {
            username: format!("handler-{}", u.code),
            display_name: format!("{}处置员（演示）", u.name),
            role: Role::Handler,
            unit_id: Some(u.id),
            password: DEMO_PASSWORD.into(),
        });
    }
    // An enforcement officer (城管执法) of the enforcement brigade (issue 20).
    if let Some(zf) = units.iter().find(|u| u.code == "zf") {
        users.push(NewUser {
            username: "enforcer-zf".into(),
            display_name: "执法队员（演示）".into(),
            role: Role::Enforcer,
            unit_id: Some(zf.id),
            password: DEMO_PASSWORD.into(),
        });
    }
    users.push(NewUser {
        username: "roadchief-district".into(),
        display_name: "总路长（演示）".into(),
        role: Role::RoadChief,
        unit_id: None,
        password: DEMO_PASSWORD.into(),
    });
    for u in units.iter().filter(|u| u.kind == UnitKind::Street) {
        for level in [1, 2] {
            users.push(NewUser {
                username: format!("roadchief{level}-{}", u.code),
                display_name: format!(
                    "{}{}级路长（演示）",
                    u.name,
                    if level == 1 { "一" } else { "二" }
                ),
                role: Role::RoadChief,
                unit_id: Some(u.id),
                password: DEMO_PASSWORD.into(),
            });
        }
    }
    let mut people = Vec::new();
    for u in users {
        people.push(svc.add_user_with_hash(u, &hash).await?);
    }
    assign_demo_road_chiefs(store, &territory, &units, &people).await?;
    crate::open311::register_demo_key(&svc).await?;
    crate::sensors::demo::load_demo_sensors(store.as_ref(), chrono::Utc::now()).await?;
    store
        .put_setting(keys::DISTRICT, &to_json(&district)?)
        .await?;
    Ok(true)
}

/// Every demo road segment gets one road chief per level: the district's 总路长, and the
/// 一级 / 二级 road chiefs of the street office the segment lies in.
async fn assign_demo_road_chiefs(
    store: &std::sync::Arc<dyn cityloop_store::Store>,
    territory: &cityloop_geo::territory::Territory,
    units: &[Unit],
    people: &[cityloop_domain::model::Person],
) -> Result<(), ServiceError> {
    use cityloop_domain::model::RoadChiefLevel;
    let by_name = |name: &str| people.iter().find(|p| p.username == name).map(|p| p.id);
    let district = by_name("roadchief-district")
        .ok_or_else(|| ServiceError::Internal(anyhow::anyhow!("no district road chief")))?;
    let mut rows = Vec::new();
    for seg in territory.segments() {
        rows.push((
            seg.id.clone(),
            RoadChiefLevel::District.as_str().to_owned(),
            district,
        ));
        let unit = seg.street_code.as_deref().and_then(|code| {
            units
                .iter()
                .find(|u| u.kind == UnitKind::Street && u.type_key == code)
        });
        if let Some(u) = unit {
            for (level, prefix) in [
                (RoadChiefLevel::First, "roadchief1"),
                (RoadChiefLevel::Second, "roadchief2"),
            ] {
                if let Some(p) = by_name(&format!("{prefix}-{}", u.code)) {
                    rows.push((seg.id.clone(), level.as_str().to_owned(), p));
                }
            }
        }
    }
    store
        .assign_road_chiefs(
            &rows,
            chrono::SubsecRound::trunc_subsecs(chrono::Utc::now(), 6),
        )
        .await?;
    Ok(())
}

fn to_json<T: serde::Serialize + ?Sized>(v: &T) -> Result<serde_json::Value, ServiceError> {
    serde_json::to_value(v).map_err(|e| ServiceError::Internal(e.into()))
}

impl Services {
    /// Services over a store that is still being set up (no district profile yet).
    fn for_loading(
        store: std::sync::Arc<dyn cityloop_store::Store>,
        district: District,
    ) -> Result<Self, ServiceError> {
        Ok(Self {
            reference: std::sync::Arc::new(std::sync::RwLock::new(std::sync::Arc::new(
                crate::reference::Cache::defaults()?,
            ))),
            store,
            district: std::sync::Arc::new(district),
            auth: Default::default(),
            rate: Default::default(),
            live: Default::default(),
            webhook_allow_private: false,
            territory: None,
            media: std::sync::Arc::new(crate::attachments::Media::new(
                crate::attachments::DEFAULT_DIR_NAME.into(),
            )),
            grid_shapes: Default::default(),
            write_retry: crate::retry::DEFAULT_WRITE_RETRY,
            reads: None,
            clock: std::sync::Arc::new(chrono::Utc::now),
            sensors: Default::default(),
        })
    }
}
