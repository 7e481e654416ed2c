//! The nouns of urban management: categories (with their code standard), units,
//! people and roles, case sources and priorities. Plain data with parsing at the edge.

use serde::{Deserialize, Serialize};

use crate::ids::{PersonId, UnitId};

/// Generates a closed string enum with `as_str`, `FromStr`, `ALL` and serde in snake_case.
macro_rules! string_enum {
    ($(#[$m:meta])* $name:ident { $($(#[$vm:meta])* $variant:ident = $s:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, ::serde::Serialize, ::serde::Deserialize)]
        pub enum $name {
            $($(#[$vm])* #[serde(rename = $s)] $variant),+
        }

        // Written out rather than derived: the derive does not see a `rename` that
        // arrives through this macro and documented the Rust variant names (`Accept`)
        // instead of the wire names (`accept`).
        impl ::utoipa::PartialSchema for $name {
            fn schema() -> ::utoipa::openapi::RefOr<::utoipa::openapi::schema::Schema> {
                ::utoipa::openapi::schema::ObjectBuilder::new()
                    .schema_type(::utoipa::openapi::schema::Type::String)
                    .enum_values(Some([$($s),+]))
                    .into()
            }
        }

        impl ::utoipa::ToSchema for $name {}

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: &'static [$name] = &[$($name::$variant),+];

            /// The wire name (snake_case, fixed by design.md §7).
            pub fn as_str(self) -> &'static str {
                match self { $($name::$variant => $s),+ }
            }
        }

        impl ::std::str::FromStr for $name {
            type Err = $crate::model::UnknownValue;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                match s { $($s => Ok($name::$variant),)+ _ => Err($crate::model::UnknownValue {
                    kind: stringify!($name),
                    value: s.chars().take(64).collect(),
                    allowed: &[$($s),+],
                }) }
            }
        }

        impl ::std::fmt::Display for $name {
            fn fmt(&self, f: &mut ::std::fmt::Formatter<'_>) -> ::std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}
pub(crate) use string_enum;

/// A string that is not one of an enum's wire names.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown {kind} {value:?} (allowed: {})", allowed.join(", "))]
pub struct UnknownValue {
    pub kind: &'static str,
    pub value: String,
    pub allowed: &'static [&'static str],
}

string_enum!(
    /// The code generation a category code belongs to (urban-management-standard.md §1, §3).
    CodeStandard {
        /// CJ/T 214-2007 (2+2 digit codes), still used by most deployed systems.
        CjT214 = "cjt214",
        /// GB/T 47678.5-2026 (2+3 digit codes).
        Gb47678 = "gb47678",
    }
);

impl CodeStandard {
    /// The code length this standard uses.
    pub fn code_len(self) -> usize {
        match self {
            CodeStandard::CjT214 => 4,
            CodeStandard::Gb47678 => 5,
        }
    }

    /// The human name of the standard.
    pub fn title(self) -> &'static str {
        match self {
            CodeStandard::CjT214 => "CJ/T 214-2007",
            CodeStandard::Gb47678 => "GB/T 47678.5-2026",
        }
    }
}

string_enum!(
    /// Component (部件), legacy event (事件) or new-standard matter (事项).
    CategoryKind {
        Component = "component",
        Event = "event",
        Matter = "matter",
    }
);

impl CategoryKind {
    pub fn from_zh(s: &str) -> Option<Self> {
        match s {
            "部件" => Some(CategoryKind::Component),
            "事件" => Some(CategoryKind::Event),
            "事项" => Some(CategoryKind::Matter),
            _ => None,
        }
    }

    pub fn zh(self) -> &'static str {
        match self {
            CategoryKind::Component => "部件",
            CategoryKind::Event => "事件",
            CategoryKind::Matter => "事项",
        }
    }
}

/// A category code checked against its standard: all digits, 4 digits for CJ/T 214 and
/// 5 for GB/T 47678.5. The code is the class code only, never an instance id.
///
/// The kind is part of the key because codes repeat across kinds: legacy component 0101
/// is 上水井盖 while legacy event 0101 is 私搭乱建, and GB/T 47678.5 component 01001
/// (供水井盖) shares its code with matter 01001 (供水井盖异常).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct CategoryCode {
    pub standard: CodeStandard,
    pub kind: CategoryKind,
    pub code: String,
}

/// A category code that does not fit its standard.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("category code {code:?} is not a {len}-digit {standard} code")]
pub struct BadCategoryCode {
    pub code: String,
    pub standard: &'static str,
    pub len: usize,
}

impl CategoryCode {
    pub fn parse(
        standard: CodeStandard,
        kind: CategoryKind,
        code: &str,
    ) -> Result<Self, BadCategoryCode> {
        let kind_ok = match standard {
            CodeStandard::CjT214 => kind != CategoryKind::Matter,
            CodeStandard::Gb47678 => kind != CategoryKind::Event,
        };
        let ok = kind_ok
            && code.len() == standard.code_len()
            && code.bytes().all(|b| b.is_ascii_digit());
        if !ok {
            return Err(BadCategoryCode {
                code: code.chars().take(32).collect(),
                standard: standard.title(),
                len: standard.code_len(),
            });
        }
        Ok(Self {
            standard,
            kind,
            code: code.to_owned(),
        })
    }

    /// The code citizens' apps use (the Open311 `service_code`): the intake catalogue is
    /// the GB/T 47678.5 matter list (事项), whose 5-digit codes are unique.
    pub fn parse_service_code(code: &str) -> Result<Self, BadCategoryCode> {
        Self::parse(CodeStandard::Gb47678, CategoryKind::Matter, code)
    }

    /// The major class (first two digits).
    pub fn major(&self) -> &str {
        &self.code[..2]
    }
}

impl std::fmt::Display for CategoryCode {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}/{}", self.standard, self.kind, self.code)
    }
}

/// A category of problem: a row of the district's category table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Category {
    pub code: CategoryCode,
    pub major_name_zh: String,
    pub major_name_en: String,
    pub name_zh: String,
    pub name_en: String,
    /// The department type that handles it by default (district configuration).
    pub default_unit_type: String,
    /// False for rows kept only for history (e.g. retired codes).
    pub active: bool,
}

string_enum!(
    /// Department (条, a professional department) or street office (块, territorial).
    UnitKind {
        Department = "department",
        Street = "street",
        Command = "command",
    }
);

/// A handling unit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unit {
    pub id: UnitId,
    pub code: String,
    pub name: String,
    pub kind: UnitKind,
    /// For a street office, its 9-digit street code; for a department, its type key
    /// (e.g. `城管局环卫`) matched against a category's `default_unit_type`.
    pub type_key: String,
    /// False once an admin deactivated it: it keeps its history but routing no longer
    /// picks it for new cases.
    #[serde(default = "yes")]
    pub active: bool,
}

fn yes() -> bool {
    true
}

string_enum!(
    /// What a person may do (design.md §1). A person has exactly one role.
    Role {
        Admin = "admin",
        Operator = "operator",
        Dispatcher = "dispatcher",
        Inspector = "inspector",
        Supervisor = "supervisor",
        Handler = "handler",
        RoadChief = "road_chief",
        /// 城管执法: an enforcement officer, scoped to their unit's cases; records
        /// enforcement steps and reads a person's id number in full.
        Enforcer = "enforcer",
    }
);

impl Role {
    pub fn zh(self) -> &'static str {
        match self {
            Role::Admin => "管理员",
            Role::Operator => "受理员",
            Role::Dispatcher => "派遣员",
            Role::Inspector => "监督员",
            Role::Supervisor => "值班长",
            Role::Handler => "处置人员",
            Role::RoadChief => "路长",
            Role::Enforcer => "城管执法",
        }
    }
}

/// A person with an account.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Person {
    pub id: PersonId,
    pub username: String,
    pub display_name: String,
    pub role: Role,
    /// Handlers belong to a unit; other roles may.
    pub unit_id: Option<UnitId>,
    pub active: bool,
}

/// Who performs an action: enough to check role and scope without I/O.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Actor {
    pub person_id: Option<PersonId>,
    pub role: ActorRole,
    pub unit_id: Option<UnitId>,
}

/// A staff role, or the system itself (scheduler, sensor bridge, public intake).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ActorRole {
    Staff(Role),
    System,
    Public,
}

impl Actor {
    pub fn staff(person: &Person) -> Self {
        Self {
            person_id: Some(person.id),
            role: ActorRole::Staff(person.role),
            unit_id: person.unit_id,
        }
    }

    pub fn system() -> Self {
        Self {
            person_id: None,
            role: ActorRole::System,
            unit_id: None,
        }
    }

    pub fn public() -> Self {
        Self {
            person_id: None,
            role: ActorRole::Public,
            unit_id: None,
        }
    }

    pub fn staff_role(&self) -> Option<Role> {
        match self.role {
            ActorRole::Staff(r) => Some(r),
            _ => None,
        }
    }
}

string_enum!(
    /// A road chief's level (路长制, standard doc §7): 总路长 for the district, 一级 for the
    /// leader overseeing a street office, 二级 set up by the street office.
    RoadChiefLevel {
        District = "district",
        First = "first",
        Second = "second",
    }
);

impl RoadChiefLevel {
    pub fn zh(self) -> &'static str {
        match self {
            RoadChiefLevel::District => "总路长",
            RoadChiefLevel::First => "一级路长",
            RoadChiefLevel::Second => "二级路长",
        }
    }

    /// The level an overdue case escalates to from this one (二级 → 一级 → 总路长).
    pub fn above(self) -> Option<RoadChiefLevel> {
        match self {
            RoadChiefLevel::Second => Some(RoadChiefLevel::First),
            RoadChiefLevel::First => Some(RoadChiefLevel::District),
            RoadChiefLevel::District => None,
        }
    }

    /// Required patrol frequency in days (二级 daily, 一级 weekly, 总路长 half-monthly).
    pub fn patrol_every_days(self) -> u32 {
        match self {
            RoadChiefLevel::Second => 1,
            RoadChiefLevel::First => 7,
            RoadChiefLevel::District => 15,
        }
    }
}

string_enum!(
    /// Where a case came from (urban-management-standard.md §4 "Case sources").
    /// Evaluation treats public-sourced cases differently (监督举报率, 漏报).
    Source {
        Inspector = "inspector",
        Public = "public",
        Hotline12345 = "hotline_12345",
        RoadChief = "road_chief",
        Sensor = "sensor",
        Video = "video",
        Leader = "leader",
        Media = "media",
        Petition = "petition",
        Patrol = "patrol",
    }
);

impl Source {
    /// Public and hotline reports (and machine detections) need an on-site confirmation
    /// (核实) by an inspector before registration; staff reports go straight to registration.
    pub fn needs_verification(self) -> bool {
        matches!(
            self,
            Source::Public
                | Source::Hotline12345
                | Source::Sensor
                | Source::Video
                | Source::Media
                | Source::Petition
        )
    }

    /// Public and hotline cases get a satisfaction call-back (回访) after the on-site check
    /// and before closing (design.md §4), when the reporter left a way to be reached.
    pub fn needs_callback(self) -> bool {
        matches!(self, Source::Public | Source::Hotline12345)
    }

    pub fn zh(self) -> &'static str {
        match self {
            Source::Inspector => "监督员上报",
            Source::Public => "公众举报",
            Source::Hotline12345 => "12345热线转办",
            Source::RoadChief => "路长上报",
            Source::Sensor => "传感器告警",
            Source::Video => "视频智能识别",
            Source::Leader => "领导交办",
            Source::Media => "媒体曝光",
            Source::Petition => "信访",
            Source::Patrol => "执法巡查",
        }
    }
}

string_enum!(
    /// Urgency of a case: urgent classes may run on clock time and shorter limits.
    Priority {
        Normal = "normal",
        Urgent = "urgent",
    }
);

string_enum!(
    /// Area grade of the place (A = core area, shortest limits), as egova-style tables key limits.
    AreaGrade {
        A = "A",
        B = "B",
        C = "C",
    }
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn category_code_length_follows_its_standard() {
        use CategoryKind::*;
        assert!(CategoryCode::parse(CodeStandard::CjT214, Component, "0101").is_ok());
        assert!(CategoryCode::parse(CodeStandard::CjT214, Event, "01001").is_err());
        assert!(CategoryCode::parse(CodeStandard::CjT214, Matter, "0101").is_err());
        assert!(CategoryCode::parse(CodeStandard::Gb47678, Matter, "06010").is_ok());
        assert!(CategoryCode::parse(CodeStandard::Gb47678, Matter, "06a10").is_err());
        assert_eq!(
            CategoryCode::parse_service_code("08004").unwrap().standard,
            CodeStandard::Gb47678
        );
        assert!(CategoryCode::parse_service_code("0102").is_err());
    }

    #[test]
    fn wire_names_round_trip_and_unknowns_list_allowed_values() {
        for r in Role::ALL {
            assert_eq!(r.as_str().parse::<Role>().unwrap(), *r);
        }
        let e = "boss".parse::<Role>().unwrap_err();
        assert!(e.to_string().contains("dispatcher"));
    }

    #[test]
    fn public_and_hotline_reports_need_verification_staff_reports_do_not() {
        assert!(Source::Public.needs_verification());
        assert!(Source::Hotline12345.needs_verification());
        assert!(!Source::Inspector.needs_verification());
        assert!(!Source::RoadChief.needs_verification());
    }
}
