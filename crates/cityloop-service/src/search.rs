//! Case search for staff (issue 15): checks every value of a search (each refusal names
//! its field), applies the reader's scope (`ReadScope`: a handler their unit's cases, a
//! road chief of a street that street's), runs the store's one bounded query and shapes
//! every row for the reader (`privacy.rs`: a phone may be matched, never shown beyond the
//! policy). Also resolves a case number to its case.

use chrono::{DateTime, Utc};
use cityloop_domain::calendar::Light;
use cityloop_domain::case::Case;
use cityloop_domain::ids::{PersonId, UnitId};
use cityloop_domain::model::{Actor, Source};
use cityloop_domain::privacy::{Access, PersonalField};
use cityloop_domain::search as text;
use cityloop_domain::workflow::{CaseState, ReadScope};
use cityloop_store::search::{
    major_code_of, CaseSearch, SearchCursor, SearchPage, SearchSort, MAX_SEARCH_PAGE,
};

use crate::cases::CaseDetail;
use crate::{ServiceError, Services};

/// The default page of a search.
pub const DEFAULT_SEARCH_PAGE: u32 = 50;
/// The longest filter value (street, grid, unit, category, 工单号 …), in characters.
pub const MAX_FILTER_CHARS: usize = 64;
/// The most states one search may name.
pub const MAX_STATES: usize = 16;

/// A search as the API receives it: every value still text (except times and the
/// overdue flag, which the query string decodes). Each is checked by
/// [`Services::search_cases`], which names the field it refuses.
#[derive(Debug, Clone, Default)]
pub struct SearchRequest {
    pub number: Option<String>,
    pub external_ref: Option<String>,
    pub phone: Option<String>,
    pub q: Option<String>,
    pub created_from: Option<DateTime<Utc>>,
    pub created_to: Option<DateTime<Utc>>,
    /// Comma-separated states.
    pub state: Option<String>,
    pub street: Option<String>,
    pub community: Option<String>,
    pub grid: Option<String>,
    pub unit: Option<String>,
    pub source: Option<String>,
    pub category: Option<String>,
    /// `<kind>:<two digits>`, e.g. `component:01` (部件 公用设施).
    pub major: Option<String>,
    pub light: Option<String>,
    pub overdue: Option<bool>,
    pub road_chief: Option<String>,
    /// `reported` (default), `deadline` or `overdue`.
    pub sort: Option<String>,
    pub cursor: Option<String>,
    pub limit: Option<u32>,
}

fn bounded(field: &str, v: &Option<String>) -> Result<Option<String>, ServiceError> {
    match v.as_deref().map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) if s.chars().count() > MAX_FILTER_CHARS => Err(ServiceError::invalid(
            field,
            format!("at most {MAX_FILTER_CHARS} characters"),
        )),
        Some(s) => Ok(Some(s.to_owned())),
    }
}

fn parse_sort(s: &str) -> Result<SearchSort, ServiceError> {
    match s {
        "reported" => Ok(SearchSort::Reported),
        "deadline" => Ok(SearchSort::Deadline),
        "overdue" => Ok(SearchSort::Overdue),
        other => Err(ServiceError::invalid(
            "sort",
            format!(
                "unknown sort {:?}; one of reported, deadline, overdue",
                other.chars().take(32).collect::<String>()
            ),
        )),
    }
}

fn parse_light(s: &str) -> Result<Light, ServiceError> {
    match s {
        "green" => Ok(Light::Green),
        "yellow" => Ok(Light::Yellow),
        "red" => Ok(Light::Red),
        other => Err(ServiceError::invalid(
            "light",
            format!(
                "unknown light {:?}; one of green, yellow, red",
                other.chars().take(32).collect::<String>()
            ),
        )),
    }
}

impl Services {
    /// Checks `req` and turns it into the store's search, within `actor`'s scope.
    pub fn search_of(
        &self,
        actor: &Actor,
        req: &SearchRequest,
    ) -> Result<CaseSearch, ServiceError> {
        let role = actor
            .staff_role()
            .ok_or_else(|| ServiceError::Forbidden("staff only".into()))?;
        let cache = self.cached();
        let limit = req.limit.unwrap_or(DEFAULT_SEARCH_PAGE);
        if limit == 0 || limit > MAX_SEARCH_PAGE {
            return Err(ServiceError::invalid(
                "limit",
                format!("1 to {MAX_SEARCH_PAGE}"),
            ));
        }
        fn invalid(field: &'static str) -> impl Fn(text::SearchValueError) -> ServiceError {
            move |e| ServiceError::invalid(field, e.0)
        }
        let mut s = CaseSearch {
            now: self.now(),
            limit,
            created_from: req.created_from,
            created_to: req.created_to,
            overdue: req.overdue,
            ..CaseSearch::default()
        };
        if let (Some(a), Some(b)) = (req.created_from, req.created_to) {
            if a >= b {
                return Err(ServiceError::invalid(
                    "created_to",
                    "must be after created_from",
                ));
            }
        }
        if let Some(n) = req.number.as_deref().filter(|n| !n.trim().is_empty()) {
            s.number_rev = Some(text::number_query(n).map_err(invalid("number"))?);
        }
        s.external_ref = bounded("external_ref", &req.external_ref)?;
        if let Some(p) = req.phone.as_deref().filter(|p| !p.trim().is_empty()) {
            if self
                .cached()
                .privacy
                .access(role, PersonalField::ReporterPhone)
                == Access::Hidden
            {
                return Err(ServiceError::Forbidden(
                    "your role does not see reporters' phone numbers, so it cannot search by them"
                        .into(),
                ));
            }
            s.phone_rev = Some(text::phone_query(p).map_err(invalid("phone"))?);
        }
        if let Some(q) = req.q.as_deref().filter(|q| !q.trim().is_empty()) {
            s.text = Some(text::text_query(q).map_err(invalid("q"))?);
        }
        if let Some(states) = bounded(
            "state",
            &req.state
                .as_ref()
                .map(|v| v.chars().take(MAX_FILTER_CHARS * 4).collect()),
        )? {
            for st in states.split(',').map(str::trim).filter(|x| !x.is_empty()) {
                let state: CaseState =
                    st.parse()
                        .map_err(|e: cityloop_domain::model::UnknownValue| {
                            ServiceError::invalid("state", e.to_string())
                        })?;
                s.states.push(state.as_str().to_owned());
            }
            if s.states.len() > MAX_STATES {
                return Err(ServiceError::invalid(
                    "state",
                    format!("at most {MAX_STATES} states"),
                ));
            }
        }
        let geo = self.territory.clone();
        let known =
            |kind: &str, field: &str, v: Option<String>| -> Result<Option<String>, ServiceError> {
                let Some(v) = v else { return Ok(None) };
                if !v.chars().all(|c| c.is_ascii_digit()) {
                    return Err(ServiceError::invalid(
                        field,
                        format!("a {kind} code (digits)"),
                    ));
                }
                if let Some(g) = &geo {
                    if !g.objects(kind).any(|(id, _)| id == v) {
                        return Err(ServiceError::invalid(
                            field,
                            format!("no {kind} {v} in the district"),
                        ));
                    }
                }
                Ok(Some(v))
            };
        s.street_code = known("street", "street", bounded("street", &req.street)?)?;
        s.community_code = known(
            "community",
            "community",
            bounded("community", &req.community)?,
        )?;
        s.grid_code = known("grid", "grid", bounded("grid", &req.grid)?)?;
        if let Some(u) = bounded("unit", &req.unit)? {
            let id =
                UnitId::parse(&u).map_err(|_| ServiceError::invalid("unit", "not a unit id"))?;
            if !cache.units.iter().any(|x| x.id == id) {
                return Err(ServiceError::invalid("unit", format!("no unit {id}")));
            }
            s.unit_id = Some(id);
        }
        if let Some(src) = bounded("source", &req.source)? {
            let src: Source = src
                .parse()
                .map_err(|e: cityloop_domain::model::UnknownValue| {
                    ServiceError::invalid("source", e.to_string())
                })?;
            s.source = Some(src.as_str().to_owned());
        }
        if let Some(c) = bounded("category", &req.category)? {
            if !cache.categories.keys().any(|k| k.code == c) {
                return Err(ServiceError::invalid(
                    "category",
                    format!("no category {c}"),
                ));
            }
            s.category_code = Some(c);
        }
        if let Some(m) = bounded("major", &req.major)? {
            if !cache.categories.keys().any(|k| major_code_of(k) == m) {
                return Err(ServiceError::invalid(
                    "major",
                    format!("no major class {m}; <kind>:<two digits>, e.g. component:01"),
                ));
            }
            s.major_code = Some(m);
        }
        s.light = req
            .light
            .as_deref()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(parse_light)
            .transpose()?;
        if let Some(p) = bounded("road_chief", &req.road_chief)? {
            s.road_chief = Some(
                PersonId::parse(&p)
                    .map_err(|_| ServiceError::invalid("road_chief", "not a person id"))?,
            );
        }
        s.sort = req
            .sort
            .as_deref()
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(parse_sort)
            .transpose()?
            .unwrap_or_default();
        if let Some(c) = bounded("cursor", &req.cursor)? {
            let cur = SearchCursor::from_token(&c)
                .filter(|c| c.deadline.is_some() == (s.sort != SearchSort::Reported))
                .ok_or_else(|| {
                    ServiceError::invalid(
                        "cursor",
                        "not a cursor from a previous page of this order",
                    )
                })?;
            s.after = Some(cur);
        }
        match self.read_scope(actor)? {
            ReadScope::All => {}
            ReadScope::Nothing => {
                return Err(ServiceError::Forbidden("handler without a unit".into()))
            }
            ReadScope::Unit(unit) => {
                if s.unit_id.is_some_and(|u| u != unit) {
                    return Err(ServiceError::Forbidden(
                        "handlers see only their own unit's cases".into(),
                    ));
                }
                s.unit_id = Some(unit);
            }
            ReadScope::Street(street) => {
                if s.street_code.as_ref().is_some_and(|x| *x != street) {
                    return Err(ServiceError::Forbidden(
                        "road chiefs see only their own street's cases".into(),
                    ));
                }
                s.street_code = Some(street);
            }
        }
        Ok(s)
    }

    /// One page of a search, every row shaped for the reader.
    pub async fn search_cases(
        &self,
        actor: &Actor,
        req: &SearchRequest,
    ) -> Result<SearchPage, ServiceError> {
        let search = self.search_of(actor, req)?;
        let mut page = self.store.search_cases(&search).await?;
        for c in &mut page.cases {
            self.shape_case(actor, c);
        }
        Ok(page)
    }

    /// The case with this number (whole, as printed), if `actor` may read it.
    pub async fn case_by_number(
        &self,
        actor: &Actor,
        number: &str,
    ) -> Result<CaseDetail, ServiceError> {
        let number = number.trim();
        if number.is_empty()
            || number.chars().count() > MAX_FILTER_CHARS
            || !number
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-')
        {
            return Err(ServiceError::invalid(
                "number",
                "a case number such as 410103-20261126-0001",
            ));
        }
        let case: Case = self.store.get_case_by_number(number).await?;
        self.check_can_see(actor, &case)?;
        let events = self.store.events(case.id).await?;
        Ok(self.detail(actor, case, events))
    }
}
