//! History import, the pure part: a mapping file's meaning (which column holds which case
//! field, how times are written and in which zone, which source statuses mean closed,
//! voided or open, which source categories are which cityloop categories, the coordinate
//! system, placeholder points), one source row turned into an [`ImportRow`] or a
//! [`Refusal`] naming the line, the column and the reason, and the compact synthesised
//! history an imported case gets ([`imported_history`]).
//!
//! No I/O: reading files, detecting encodings, converting coordinates (cityloop-geo) and
//! writing to the store happen in `cityloop-service::import`. Rows arrive here as text
//! fields; an xlsx date cell arrives as `YYYY-MM-DD HH:MM:SS`, which every time column
//! accepts besides the mapping's own formats.

use std::collections::{BTreeMap, HashMap};

use chrono::{DateTime, LocalResult, NaiveDateTime, TimeZone, Utc};
use serde::Deserialize;

use crate::calendar::WorkCalendar;
use crate::case::{
    stage_clock, Case, Contact, Ctx, Event, EventKind, ImportMark, Location, NewCase, ReportData,
    ReportError, Routing,
};
use crate::ids::{CaseId, CaseNumber};
use crate::limits::{LimitTable, Stage};
use crate::model::{Actor, AreaGrade, CategoryCode, Priority, Source};
use crate::public::PublicReason;
use crate::workflow::{Action, CaseState};

/// The longest external reference kept (longer ones are refused, not cut).
pub const MAX_EXTERNAL_REF_CHARS: usize = 64;
/// The time format every time column accepts besides the mapping's (xlsx date cells).
pub const CELL_TIME_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// A mapping file (TOML), as documented in docs/IMPORT.md.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Mapping {
    /// Short name, recorded on every imported case (`boston311`).
    pub name: String,
    /// The cityloop source the cases get; the external reference is unique per source.
    #[serde(default = "default_source")]
    pub source: Source,
    /// Prefix of the imported cases' numbers (`<prefix>-<external ref>`).
    #[serde(default = "default_number_prefix")]
    pub number_prefix: String,
    pub columns: Columns,
    pub time: TimeSpec,
    #[serde(default)]
    pub status: StatusMap,
    pub category: CategoryMap,
    #[serde(default)]
    pub coordinates: Coordinates,
    /// Values of the on-time column (`columns.on_time`).
    #[serde(default)]
    pub on_time: OnTimeMap,
    /// Values of the urgency column (`columns.urgency`) that mean urgent.
    #[serde(default)]
    pub urgent: Vec<String>,
}

fn default_source() -> Source {
    Source::Hotline12345
}

fn default_number_prefix() -> String {
    "IMP".into()
}

/// Column names (as in the file's header) for each case field.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Columns {
    pub external_ref: String,
    pub reported_at: String,
    /// The source status (see [`StatusMap`]); without it a row with a close time is
    /// closed and one without is open.
    pub status: Option<String>,
    pub category: String,
    /// Joined with ` / ` (empty cells left out) into the description.
    pub description: Vec<String>,
    pub closed_at: Option<String>,
    pub address: Option<String>,
    pub lat: Option<String>,
    pub lon: Option<String>,
    pub caller: Option<String>,
    pub phone: Option<String>,
    /// The source's own deadline.
    pub deadline: Option<String>,
    /// The source's own on-time flag (see [`OnTimeMap`]).
    pub on_time: Option<String>,
    pub urgency: Option<String>,
    /// The unit the source says handled the case (承办单位).
    pub unit: Option<String>,
    /// The source's handling result (办理结果): the close event's note.
    pub result: Option<String>,
    /// The source's satisfaction result (满意度).
    pub satisfaction: Option<String>,
}

/// How times are written: chrono `strftime` formats tried in order, and the zone they are in.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimeSpec {
    pub formats: Vec<String>,
    /// IANA zone name (`America/New_York`, `Asia/Shanghai`).
    pub zone: String,
}

/// Which source status values mean closed, voided or open (compared after trimming,
/// case-sensitively).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StatusMap {
    #[serde(default)]
    pub closed: Vec<String>,
    #[serde(default)]
    pub voided: Vec<String>,
    #[serde(default)]
    pub open: Vec<String>,
}

/// Source category values → cityloop service codes (GB/T 47678.5 matter codes, `06010`).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CategoryMap {
    #[serde(default)]
    pub map: BTreeMap<String, String>,
    /// The code for a value not in `map`; without it such a row is refused.
    pub fallback: Option<String>,
}

/// The coordinate system of the file and its placeholder points.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Coordinates {
    #[serde(default)]
    pub system: Crs,
    /// `[lat, lon]` points that mean "no location" (Boston's City Hall default): a row
    /// there is imported with its location flagged unknown.
    #[serde(default)]
    pub unknown: Vec<[f64; 2]>,
}

/// The coordinate systems a file may use (converted to WGS84 by the service).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Crs {
    #[default]
    Wgs84,
    Gcj02,
}

/// Values of the on-time column.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OnTimeMap {
    #[serde(default)]
    pub on_time: Vec<String>,
    #[serde(default)]
    pub overdue: Vec<String>,
}

/// What the source says about a case's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ImportStatus {
    Open,
    Closed,
    Voided,
}

impl ImportStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ImportStatus::Open => "open",
            ImportStatus::Closed => "closed",
            ImportStatus::Voided => "voided",
        }
    }
}

/// A mapping that cannot be used (bad zone, unknown category code, a column the file lacks).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("mapping {field}: {problem}")]
pub struct MappingError {
    pub field: String,
    pub problem: String,
}

/// A refused row: its line in the file (the header is line 1), the column, the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {column}: {reason}")]
pub struct Refusal {
    pub line: u64,
    pub column: String,
    pub reason: String,
}

/// One accepted source row, mapped to case fields (the point still in the file's system).
#[derive(Debug, Clone, PartialEq)]
pub struct ImportRow {
    pub line: u64,
    pub external_ref: String,
    pub reported_at: DateTime<Utc>,
    pub closed_at: Option<DateTime<Utc>>,
    pub status: ImportStatus,
    pub category: CategoryCode,
    pub description: String,
    pub address: Option<String>,
    /// `(lon, lat)` in [`Coordinates::system`]; None when missing or a placeholder.
    pub point: Option<(f64, f64)>,
    pub location_unknown: bool,
    pub reporter: Contact,
    pub priority: Priority,
    pub source_deadline: Option<DateTime<Utc>>,
    pub source_on_time: Option<bool>,
    pub source_unit: Option<String>,
    pub result: Option<String>,
    pub satisfaction: Option<String>,
}

/// A mapping checked and bound to one file's header: column indexes, parsed zone and codes.
#[derive(Debug, Clone)]
pub struct Bound {
    mapping: Mapping,
    zone: chrono_tz::Tz,
    categories: HashMap<String, CategoryCode>,
    fallback: Option<CategoryCode>,
    cols: BoundColumns,
}

#[derive(Debug, Clone)]
struct BoundColumns {
    external_ref: usize,
    reported_at: usize,
    status: Option<usize>,
    category: usize,
    description: Vec<usize>,
    closed_at: Option<usize>,
    address: Option<usize>,
    lat: Option<usize>,
    lon: Option<usize>,
    caller: Option<usize>,
    phone: Option<usize>,
    deadline: Option<usize>,
    on_time: Option<usize>,
    urgency: Option<usize>,
    unit: Option<usize>,
    result: Option<usize>,
    satisfaction: Option<usize>,
}

impl Mapping {
    /// Checks the mapping on its own (zone, codes, statuses) and against `header`: every
    /// named column must be in it. `known` says whether a category exists in the district.
    pub fn bind(
        self,
        header: &[String],
        known: &dyn Fn(&CategoryCode) -> bool,
    ) -> Result<Bound, MappingError> {
        let bad = |field: &str, problem: String| MappingError {
            field: field.to_owned(),
            problem,
        };
        let zone: chrono_tz::Tz = self.time.zone.parse().map_err(|_| {
            bad(
                "time.zone",
                format!("unknown time zone {:?}", self.time.zone),
            )
        })?;
        if self.time.formats.is_empty() {
            return Err(bad("time.formats", "names no format".into()));
        }
        if self.columns.status.is_some()
            && self.status.closed.is_empty()
            && self.status.voided.is_empty()
            && self.status.open.is_empty()
        {
            return Err(bad("status", "names no status value".into()));
        }
        if self.number_prefix.is_empty()
            || !self
                .number_prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric())
        {
            return Err(bad("number_prefix", "must be letters and digits".into()));
        }
        let code = |field: String, c: &str| {
            let code =
                CategoryCode::parse_service_code(c).map_err(|e| bad(&field, e.to_string()))?;
            if !known(&code) {
                return Err(bad(
                    &field,
                    format!("category {c} is not in the district's list"),
                ));
            }
            Ok(code)
        };
        let mut categories = HashMap::new();
        for (from, to) in &self.category.map {
            categories.insert(
                from.trim().to_owned(),
                code(format!("category.map.{from:?}"), to)?,
            );
        }
        let fallback = match &self.category.fallback {
            Some(c) => Some(code("category.fallback".into(), c)?),
            None => None,
        };
        let index: HashMap<&str, usize> = header
            .iter()
            .enumerate()
            .map(|(i, h)| (h.trim_start_matches('\u{feff}').trim(), i))
            .collect();
        let mut missing = Vec::new();
        let mut need = |name: &str| match index.get(name.trim()) {
            Some(i) => Some(*i),
            None => {
                missing.push(name.to_owned());
                None
            }
        };
        let c = &self.columns;
        // Every column is looked up (so the error lists all that are missing); the
        // unwraps below run only when none is.
        let closed_at = c.closed_at.as_deref().map(&mut need);
        let address = c.address.as_deref().map(&mut need);
        let lat = c.lat.as_deref().map(&mut need);
        let lon = c.lon.as_deref().map(&mut need);
        let caller = c.caller.as_deref().map(&mut need);
        let phone = c.phone.as_deref().map(&mut need);
        let deadline = c.deadline.as_deref().map(&mut need);
        let on_time = c.on_time.as_deref().map(&mut need);
        let urgency = c.urgency.as_deref().map(&mut need);
        let unit = c.unit.as_deref().map(&mut need);
        let result = c.result.as_deref().map(&mut need);
        let satisfaction = c.satisfaction.as_deref().map(&mut need);
        let status = c.status.as_deref().map(&mut need);
        let external_ref = need(&c.external_ref);
        let reported_at = need(&c.reported_at);
        let category = need(&c.category);
        let description: Vec<Option<usize>> = c.description.iter().map(|d| need(d)).collect();
        if !missing.is_empty() {
            return Err(bad(
                "columns",
                format!("the file has no column {}", missing.join(", ")),
            ));
        }
        let found = |o: Option<usize>| o.unwrap_or(usize::MAX);
        let flat = |o: Option<Option<usize>>| o.map(found);
        let cols = BoundColumns {
            external_ref: found(external_ref),
            reported_at: found(reported_at),
            status: flat(status),
            category: found(category),
            description: description.into_iter().map(found).collect(),
            closed_at: flat(closed_at),
            address: flat(address),
            lat: flat(lat),
            lon: flat(lon),
            caller: flat(caller),
            phone: flat(phone),
            deadline: flat(deadline),
            on_time: flat(on_time),
            urgency: flat(urgency),
            unit: flat(unit),
            result: flat(result),
            satisfaction: flat(satisfaction),
        };
        if c.description.is_empty() {
            return Err(bad("columns.description", "names no column".into()));
        }
        if c.lat.is_some() != c.lon.is_some() {
            return Err(bad(
                "columns",
                "lat and lon are named together or not at all".into(),
            ));
        }
        Ok(Bound {
            mapping: self,
            zone,
            categories,
            fallback,
            cols,
        })
    }
}

impl Bound {
    pub fn mapping(&self) -> &Mapping {
        &self.mapping
    }

    /// Maps one row (`fields` in header order) at `line`, or says why it is refused.
    pub fn map_row(&self, line: u64, fields: &[&str]) -> Result<ImportRow, Refusal> {
        let m = &self.mapping;
        let c = &self.cols;
        let refuse = |col: &str, reason: String| Refusal {
            line,
            column: col.to_owned(),
            reason,
        };
        let get = |i: usize| fields.get(i).map_or("", |s| s.trim());
        let opt = |i: Option<usize>| i.map(get).filter(|s| !s.is_empty());
        let required = |i: usize, col: &str| {
            let v = get(i);
            if v.is_empty() {
                Err(refuse(col, "is empty".into()))
            } else {
                Ok(v)
            }
        };
        let time = |v: &str, col: &str| self.parse_time(v).map_err(|r| refuse(col, r));
        let mc = &m.columns;

        let external_ref = required(c.external_ref, &mc.external_ref)?;
        if external_ref.chars().count() > MAX_EXTERNAL_REF_CHARS {
            return Err(refuse(
                &mc.external_ref,
                format!("is longer than {MAX_EXTERNAL_REF_CHARS} characters"),
            ));
        }
        let reported_at = time(required(c.reported_at, &mc.reported_at)?, &mc.reported_at)?;
        let status = match (c.status, mc.status.as_deref()) {
            (Some(i), Some(col)) => {
                let text = required(i, col)?;
                if m.status.closed.iter().any(|s| s == text) {
                    ImportStatus::Closed
                } else if m.status.voided.iter().any(|s| s == text) {
                    ImportStatus::Voided
                } else if m.status.open.iter().any(|s| s == text) {
                    ImportStatus::Open
                } else {
                    return Err(refuse(col, format!("unknown status {text:?}")));
                }
            }
            _ if opt(c.closed_at).is_some() => ImportStatus::Closed,
            _ => ImportStatus::Open,
        };
        let cat_text = required(c.category, &mc.category)?;
        let category = match self.categories.get(cat_text).or(self.fallback.as_ref()) {
            Some(code) => code.clone(),
            None => {
                return Err(refuse(
                    &mc.category,
                    format!("unknown category {cat_text:?}"),
                ))
            }
        };
        let description = c
            .description
            .iter()
            .map(|i| get(*i))
            .filter(|s| !s.is_empty())
            .collect::<Vec<_>>()
            .join(" / ");
        if description.is_empty() {
            return Err(refuse(&mc.description.join("+"), "is empty".into()));
        }
        if description.chars().count() > crate::case::MAX_DESCRIPTION_CHARS {
            return Err(refuse(
                &mc.description.join("+"),
                "is longer than 4000 characters".into(),
            ));
        }
        let closed_at = match (c.closed_at, mc.closed_at.as_deref()) {
            (Some(i), Some(col)) => match opt(Some(i)) {
                Some(v) => Some(time(v, col)?),
                None => None,
            },
            _ => None,
        };
        let closed_at = match status {
            ImportStatus::Closed => {
                let col = mc.closed_at.as_deref().unwrap_or("closed_at");
                let at = closed_at.ok_or_else(|| refuse(col, "is empty on a closed row".into()))?;
                if at < reported_at {
                    return Err(refuse(col, "is before the report time".into()));
                }
                Some(at)
            }
            ImportStatus::Voided => closed_at.filter(|at| *at >= reported_at),
            ImportStatus::Open => None,
        };
        let (point, location_unknown) = self.point(line, fields)?;
        let address = opt(c.address).map(str::to_owned);
        if address
            .as_deref()
            .is_some_and(|a| a.chars().count() > crate::case::MAX_ADDRESS_CHARS)
        {
            let col = mc.address.as_deref().unwrap_or("address");
            return Err(refuse(col, "is longer than 500 characters".into()));
        }
        let source_deadline = match (opt(c.deadline), mc.deadline.as_deref()) {
            (Some(v), Some(col)) => Some(time(v, col)?),
            _ => None,
        };
        let source_on_time = match (opt(c.on_time), mc.on_time.as_deref()) {
            (Some(v), Some(col)) => {
                if m.on_time.on_time.iter().any(|s| s == v) {
                    Some(true)
                } else if m.on_time.overdue.iter().any(|s| s == v) {
                    Some(false)
                } else {
                    return Err(refuse(col, format!("unknown on-time value {v:?}")));
                }
            }
            _ => None,
        };
        let priority = match opt(c.urgency) {
            Some(v) if m.urgent.iter().any(|u| u == v) => Priority::Urgent,
            _ => Priority::Normal,
        };
        let reporter = Contact {
            name: opt(c.caller).map(str::to_owned),
            phone: opt(c.phone).map(str::to_owned),
            contacted_at: (m.source == Source::Hotline12345).then_some(reported_at),
            ..Contact::default()
        };
        Ok(ImportRow {
            line,
            external_ref: external_ref.to_owned(),
            reported_at,
            closed_at,
            status,
            category,
            description,
            address,
            point,
            location_unknown,
            reporter,
            priority,
            source_deadline,
            source_on_time,
            source_unit: opt(c.unit).map(str::to_owned),
            result: opt(c.result).map(str::to_owned),
            satisfaction: opt(c.satisfaction).map(str::to_owned),
        })
    }

    fn point(&self, line: u64, fields: &[&str]) -> Result<(Option<(f64, f64)>, bool), Refusal> {
        let (Some(li), Some(oi)) = (self.cols.lat, self.cols.lon) else {
            return Ok((None, true));
        };
        let mc = &self.mapping.columns;
        let get = |i: usize| fields.get(i).map_or("", |s| s.trim());
        let (lat_s, lon_s) = (get(li), get(oi));
        if lat_s.is_empty() && lon_s.is_empty() {
            return Ok((None, true));
        }
        let num = |s: &str, col: &Option<String>, lo: f64, hi: f64| {
            let col = col.as_deref().unwrap_or_default();
            match s.parse::<f64>() {
                Ok(v) if v.is_finite() && (lo..=hi).contains(&v) => Ok(v),
                Ok(_) => Err(Refusal {
                    line,
                    column: col.to_owned(),
                    reason: format!("{s:?} is out of range ({lo} to {hi})"),
                }),
                Err(_) => Err(Refusal {
                    line,
                    column: col.to_owned(),
                    reason: format!("{s:?} is not a number"),
                }),
            }
        };
        let lat = num(lat_s, &mc.lat, -90.0, 90.0)?;
        let lon = num(lon_s, &mc.lon, -180.0, 180.0)?;
        let placeholder = self
            .mapping
            .coordinates
            .unknown
            .iter()
            .any(|[plat, plon]| (plat - lat).abs() < 1e-9 && (plon - lon).abs() < 1e-9);
        if placeholder {
            return Ok((None, true));
        }
        Ok((Some((lon, lat)), false))
    }

    /// A local time in the mapping's zone (or an xlsx cell's ISO form), in UTC.
    pub fn parse_time(&self, v: &str) -> Result<DateTime<Utc>, String> {
        let formats = self.mapping.time.formats.iter().map(String::as_str);
        let naive = formats
            .chain(std::iter::once(CELL_TIME_FORMAT))
            .find_map(|f| NaiveDateTime::parse_from_str(v, f).ok())
            .ok_or_else(|| {
                format!(
                    "{v:?} is not a time in the format {}",
                    self.mapping.time.formats.join(" or ")
                )
            })?;
        match self.zone.from_local_datetime(&naive) {
            LocalResult::Single(t) => Ok(t.with_timezone(&Utc)),
            // The repeated hour when clocks go back: the first of the two instants.
            LocalResult::Ambiguous(first, _) => Ok(first.with_timezone(&Utc)),
            LocalResult::None => Err(format!(
                "{v:?} does not exist in {} (clocks went forward)",
                self.mapping.time.zone
            )),
        }
    }
}

/// The case number of an imported row: `<district>-<prefix>-<external ref>` (never one
/// of the live sequence's `<district>-<date>-<seq>`).
pub fn import_number(district_code: &str, prefix: &str, external_ref: &str) -> CaseNumber {
    CaseNumber(format!("{district_code}-{prefix}-{external_ref}"))
}

/// Where an imported case is and what the routing said, decided by the service.
#[derive(Debug, Clone)]
pub struct Placement {
    pub location: Location,
    pub routing: Routing,
}

/// The compact history of an imported case: `reported` at the source's report time;
/// for a closed row `register` at the same time and `close` at the source's close time
/// (with the source's result as its note); for a voided row `void`. An open row stays
/// `received`, its accept clock started at `now` (the import), so old open cases do not
/// arrive already overdue. Every event is by the system; the events' clocks are computed
/// with the district's calendar and limits at their own times.
#[allow(clippy::too_many_arguments)]
pub fn imported_history(
    id: CaseId,
    number: CaseNumber,
    source: Source,
    row: &ImportRow,
    place: Placement,
    mark: ImportMark,
    calendar: &WorkCalendar,
    limits: &LimitTable,
    now: DateTime<Utc>,
) -> Result<(Case, Vec<Event>), ReportError> {
    let new = NewCase {
        source,
        priority: row.priority,
        category: row.category.clone(),
        area_grade: AreaGrade::B,
        description: row.description.clone(),
        location: place.location,
        routing: place.routing,
        reporter: row.reporter.clone(),
        media: Vec::new(),
        external_ref: Some(row.external_ref.clone()),
        follows: None,
    };
    new.validate()?;
    let ctx = |at| Ctx {
        now: at,
        calendar,
        limits,
    };
    let clock = |stage, at| stage_clock(&row.category, AreaGrade::B, row.priority, stage, ctx(at));
    let accept_from = if row.status == ImportStatus::Open {
        now
    } else {
        row.reported_at
    };
    let actor = Actor::system();
    let base = |seq, at, kind, from: Option<CaseState>, to| Event {
        case_id: id,
        seq,
        at,
        kind,
        actor: actor.clone(),
        from_state: from,
        to_state: to,
        note: None,
        reason: None,
        unit_id: None,
        extension: None,
        attachments: Vec::new(),
        category: None,
        clock_after: None,
        public_note: None,
        public_reply: None,
        public_reason: None,
        satisfaction: None,
        previous_category: None,
        priority: None,
        routed_unit: None,
        previous_unit: None,
        merge_into: None,
        assists_after: None,
        report: None,
    };
    let mut reported = base(
        1,
        row.reported_at,
        EventKind::REPORTED,
        None,
        CaseState::Received,
    );
    reported.clock_after = Some(clock(Stage::Accept, accept_from));
    reported.report = Some(Box::new(ReportData {
        number,
        case: new,
        imported: Some(mark),
    }));
    let mut events = vec![reported];
    match row.status {
        ImportStatus::Open => {}
        ImportStatus::Closed => {
            let closed_at = row.closed_at.unwrap_or(row.reported_at);
            let mut register = base(
                2,
                row.reported_at,
                EventKind::Act(Action::Register),
                Some(CaseState::Received),
                CaseState::ToDispatch,
            );
            register.note = Some("imported: registered in the source system".into());
            register.clock_after = Some(clock(Stage::Dispatch, row.reported_at));
            let mut close = base(
                3,
                closed_at,
                EventKind::Act(Action::Close),
                Some(CaseState::ToDispatch),
                CaseState::Closed,
            );
            close.note = Some(match &row.result {
                Some(r) => format!("imported: closed in the source system: {r}"),
                None => "imported: closed in the source system".into(),
            });
            events.push(register);
            events.push(close);
        }
        ImportStatus::Voided => {
            let mut void = base(
                2,
                row.closed_at.unwrap_or(row.reported_at),
                EventKind::Act(Action::Void),
                Some(CaseState::Received),
                CaseState::Voided,
            );
            void.reason = Some(match &row.result {
                Some(r) => format!("imported: voided in the source system: {r}"),
                None => "imported: voided in the source system".into(),
            });
            void.public_reason = Some(PublicReason::Other);
            events.push(void);
        }
    }
    let case = Case::from_events(&events).map_err(|e| ReportError {
        field: "history",
        problem: e.to_string(),
    })?;
    Ok((case, events))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOML_LIKE_HEADER: &[&str] = &[
        "id", "opened", "closed", "status", "type", "text", "lat", "lon", "ontime",
    ];

    fn mapping() -> Mapping {
        Mapping {
            name: "t".into(),
            source: Source::Hotline12345,
            number_prefix: "IMP".into(),
            columns: Columns {
                external_ref: "id".into(),
                reported_at: "opened".into(),
                status: Some("status".into()),
                category: "type".into(),
                description: vec!["text".into(), "type".into()],
                closed_at: Some("closed".into()),
                address: None,
                lat: Some("lat".into()),
                lon: Some("lon".into()),
                caller: None,
                phone: None,
                deadline: None,
                on_time: Some("ontime".into()),
                urgency: None,
                unit: None,
                result: None,
                satisfaction: None,
            },
            time: TimeSpec {
                formats: vec!["%m/%d/%Y %I:%M:%S %p".into()],
                zone: "America/New_York".into(),
            },
            status: StatusMap {
                closed: vec!["Closed".into()],
                voided: vec!["Void".into()],
                open: vec!["Open".into()],
            },
            category: CategoryMap {
                map: [("Lights".to_string(), "01037".to_string())].into(),
                fallback: None,
            },
            coordinates: Coordinates {
                system: Crs::Wgs84,
                unknown: vec![[42.3594, -71.0587]],
            },
            on_time: OnTimeMap {
                on_time: vec!["ONTIME".into()],
                overdue: vec!["OVERDUE".into()],
            },
            urgent: Vec::new(),
        }
    }

    fn header() -> Vec<String> {
        TOML_LIKE_HEADER.iter().map(|s| s.to_string()).collect()
    }

    fn bound() -> Bound {
        mapping().bind(&header(), &|_| true).unwrap()
    }

    fn row(fields: [&str; 9]) -> Result<ImportRow, Refusal> {
        bound().map_row(7, &fields)
    }

    const GOOD: [&str; 9] = [
        "A1",
        "01/01/2015 12:20:09 AM",
        "01/02/2015 09:08:42 AM",
        "Closed",
        "Lights",
        "dark lamp",
        "42.3574",
        "-71.0648",
        "ONTIME",
    ];

    #[test]
    fn a_good_row_maps_times_from_the_zone_to_utc_and_the_point_as_lon_lat() {
        let r = row(GOOD).unwrap();
        assert_eq!(r.reported_at.to_rfc3339(), "2015-01-01T05:20:09+00:00");
        assert_eq!(
            r.closed_at.unwrap().to_rfc3339(),
            "2015-01-02T14:08:42+00:00"
        );
        assert_eq!(r.status, ImportStatus::Closed);
        assert_eq!(r.category.code, "01037");
        assert_eq!(r.description, "dark lamp / Lights");
        assert_eq!(r.point, Some((-71.0648, 42.3574)));
        assert!(!r.location_unknown);
        assert_eq!(r.source_on_time, Some(true));
    }

    #[test]
    fn the_placeholder_point_is_imported_as_unknown_location() {
        let mut f = GOOD;
        f[6] = "42.3594";
        f[7] = "-71.0587";
        let r = row(f).unwrap();
        assert_eq!(r.point, None);
        assert!(r.location_unknown);
    }

    #[test]
    fn each_bad_value_is_refused_with_line_column_and_reason() {
        let cases: &[(usize, &str, &str, &str)] = &[
            (0, "", "id", "is empty"),
            (1, "2015-13-45", "opened", "is not a time in the format"),
            (3, "Pending", "status", "unknown status \"Pending\""),
            (4, "Potholes", "type", "unknown category \"Potholes\""),
            (6, "142.1", "lat", "out of range"),
            (7, "west", "lon", "is not a number"),
            (8, "LATE", "ontime", "unknown on-time value"),
            (2, "", "closed", "is empty on a closed row"),
            (
                2,
                "12/31/2014 09:00:00 AM",
                "closed",
                "before the report time",
            ),
        ];
        for (i, value, column, reason) in cases {
            let mut f = GOOD;
            f[*i] = value;
            let e = row(f).unwrap_err();
            assert_eq!(e.line, 7);
            assert_eq!(&e.column, column, "{value}");
            assert!(e.reason.contains(reason), "{value}: {}", e.reason);
        }
    }

    #[test]
    fn a_time_that_does_not_exist_in_the_zone_is_refused() {
        let mut f = GOOD;
        f[1] = "03/08/2015 02:30:00 AM";
        f[2] = "";
        f[3] = "Open";
        let e = row(f).unwrap_err();
        assert!(e.reason.contains("does not exist"), "{}", e.reason);
    }

    #[test]
    fn an_xlsx_cell_time_is_accepted_beside_the_mapping_formats() {
        let mut f = GOOD;
        f[1] = "2015-01-01 00:20:09";
        assert_eq!(
            row(f).unwrap().reported_at.to_rfc3339(),
            "2015-01-01T05:20:09+00:00"
        );
    }

    #[test]
    fn a_mapping_naming_a_missing_column_is_refused_naming_it() {
        let mut m = mapping();
        m.columns.address = Some("Location".into());
        let e = m.bind(&header(), &|_| true).unwrap_err();
        assert_eq!(e.field, "columns");
        assert!(e.problem.contains("Location"));
    }

    #[test]
    fn a_mapping_with_an_unknown_zone_or_category_is_refused() {
        let mut m = mapping();
        m.time.zone = "Mars/Olympus".into();
        assert_eq!(m.bind(&header(), &|_| true).unwrap_err().field, "time.zone");
        let e = mapping().bind(&header(), &|_| false).unwrap_err();
        assert!(e.field.starts_with("category.map"), "{e}");
    }

    #[test]
    fn the_fallback_category_takes_unmapped_values() {
        let mut m = mapping();
        m.category.fallback = Some("06010".into());
        let b = m.bind(&header(), &|_| true).unwrap();
        let mut f = GOOD;
        f[4] = "Potholes";
        assert_eq!(b.map_row(2, &f).unwrap().category.code, "06010");
    }

    fn test_limits() -> LimitTable {
        use crate::calendar::{LimitUnit, TimeLimit};
        use crate::limits::LimitRule;
        let rules = Stage::ALL
            .iter()
            .map(|&stage| LimitRule {
                category: None,
                grade: None,
                priority: None,
                stage,
                limit: TimeLimit {
                    amount: 1,
                    unit: LimitUnit::WorkingHours,
                },
                source: "test".into(),
            })
            .collect();
        LimitTable::new(rules).unwrap()
    }

    fn history(status: &str, closed: &str) -> (Case, Vec<Event>) {
        history_ranked(status, closed, false)
    }

    fn history_ranked(status: &str, closed: &str, ranked: bool) -> (Case, Vec<Event>) {
        let mut f = GOOD;
        f[3] = status;
        f[2] = closed;
        let r = row(f).unwrap();
        let cal = WorkCalendar::china_2026();
        let limits = test_limits();
        let mark = ImportMark {
            mapping: "t".into(),
            line: r.line,
            location_unknown: false,
            ranked,
            source_deadline: None,
            source_on_time: r.source_on_time,
            source_unit: None,
            satisfaction: None,
        };
        let place = Placement {
            location: Location {
                lon: -71.0,
                lat: 42.0,
                address: None,
            },
            routing: Routing {
                street_code: Some("410103001".into()),
                ..Routing::default()
            },
        };
        let now = Utc.with_ymd_and_hms(2026, 12, 1, 0, 0, 0).unwrap();
        imported_history(
            CaseId::new_v7(),
            import_number("410103", "IMP", &r.external_ref),
            Source::Hotline12345,
            &r,
            place,
            mark,
            &cal,
            &limits,
            now,
        )
        .unwrap()
    }

    #[test]
    fn a_closed_row_becomes_reported_registered_closed_at_the_source_times() {
        let (case, events) = history("Closed", GOOD[2]);
        let kinds: Vec<_> = events.iter().map(|e| e.kind.as_str()).collect();
        assert_eq!(kinds, ["reported", "register", "close"]);
        assert_eq!(case.state, CaseState::Closed);
        assert_eq!(case.created_at.to_rfc3339(), "2015-01-01T05:20:09+00:00");
        assert_eq!(
            case.closed_at.unwrap().to_rfc3339(),
            "2015-01-02T14:08:42+00:00"
        );
        assert_eq!(case.number.as_str(), "410103-IMP-A1");
        assert!(case.imported.is_some());
        assert_eq!(Case::from_events(&events).unwrap(), case);
    }

    #[test]
    fn an_open_row_stays_received_with_its_clock_from_the_import() {
        let (case, events) = history("Open", "");
        assert_eq!(events.len(), 1);
        assert_eq!(case.state, CaseState::Received);
        let started = case.clock.unwrap().started_at;
        assert_eq!(started.to_rfc3339(), "2026-12-01T00:00:00+00:00");
    }

    #[test]
    fn a_voided_row_is_voided_and_only_a_ranked_import_adds_counters() {
        let (case, _) = history("Void", "");
        assert_eq!(case.state, CaseState::Voided);
        let cal = WorkCalendar::china_2026();
        let (_, unranked) = history("Closed", GOOD[2]);
        assert!(crate::evaluation::counters_of(&unranked, &cal).is_empty());
        let (_, ranked) = history_ranked("Closed", GOOD[2], true);
        let counters = crate::evaluation::counters_of(&ranked, &cal);
        let metric = |m: &str| counters.iter().any(|c| c.key.metric == m && c.value == 1);
        assert!(metric("registered") && metric("closed"), "{counters:?}");
    }
}
