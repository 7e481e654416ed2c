//! The case list as a spreadsheet (issue 15 item 6): any filter of the staff search,
//! read page by page ([`ExportPages`], one search page of [`MAX_SEARCH_PAGE`] rows at a
//! time, each within the search's own time limit), so the HTTP layer can stream CSV or
//! build an xlsx in constant memory without ever holding the whole list.
//!
//! Rows are the reader's: the search applies their read scope and the privacy policy
//! shapes each case (a masked phone stays masked). At most [`EXPORT_MAX_ROWS`] rows are
//! written; a longer list ends with a last line saying it was cut there
//! ([`truncated_note`]); a smaller cap may be asked for (`max_rows`), so nobody mistakes a partial file for a whole one.

use chrono::{DateTime, Utc};
use cityloop_domain::calendar::Light;
use cityloop_domain::case::Case;
use cityloop_store::search::MAX_SEARCH_PAGE;

use crate::search::SearchRequest;
use crate::{ServiceError, Services};

/// Most rows one export writes. Invented default (the 100,000-row case).
pub const EXPORT_MAX_ROWS: usize = 100_000;

/// The Chinese column headers, in order.
pub const EXPORT_HEADERS: &[&str] = &[
    "案件编号",
    "状态",
    "来源",
    "问题类别",
    "问题描述",
    "地址",
    "街道",
    "社区",
    "网格",
    "道路",
    "处置单位",
    "上报时间",
    "当前阶段时限",
    "时限状态",
    "12345工单号",
    "上报人",
    "联系电话",
];

/// The last line of an export cut at `max` rows.
pub fn truncated_note(max: usize) -> String {
    format!("已达导出上限 {max} 行，其余案件未导出，请缩小筛选条件后分批导出")
}

/// Reads an export's cases page by page.
pub struct ExportPages<'a> {
    svc: &'a Services,
    actor: cityloop_domain::model::Actor,
    req: SearchRequest,
    done: bool,
    /// Rows handed out so far.
    pub rows: usize,
    /// Rows this export writes at most (≤ [`EXPORT_MAX_ROWS`]).
    pub max: usize,
    /// More rows matched than [`EXPORT_MAX_ROWS`].
    pub truncated: bool,
}

impl Services {
    /// Starts an export of the search `req` (its `cursor` and `limit` are the export's
    /// own). The filters are checked at once, so a bad one is refused before anything is
    /// sent.
    pub async fn export_pages(
        &self,
        actor: &cityloop_domain::model::Actor,
        mut req: SearchRequest,
        max_rows: Option<usize>,
    ) -> Result<ExportPages<'_>, ServiceError> {
        let max = max_rows.unwrap_or(EXPORT_MAX_ROWS);
        if max == 0 || max > EXPORT_MAX_ROWS {
            return Err(ServiceError::invalid(
                "max_rows",
                format!("must be from 1 to {EXPORT_MAX_ROWS}"),
            ));
        }
        req.cursor = None;
        req.limit = Some(MAX_SEARCH_PAGE);
        // Checks every value (and the scope) the way the search does.
        self.search_of(actor, &req)?;
        Ok(ExportPages {
            svc: self,
            actor: actor.clone(),
            req,
            done: false,
            rows: 0,
            max,
            truncated: false,
        })
    }

    /// One export row (the columns of [`EXPORT_HEADERS`]), times in the district's zone.
    pub fn export_row(&self, c: &Case, names: &ExportNames, now: DateTime<Utc>) -> Vec<String> {
        let cal = self.calendar();
        let local = |t: DateTime<Utc>| {
            t.with_timezone(&cal.tz())
                .format("%Y-%m-%d %H:%M")
                .to_string()
        };
        let light = match c.light(&cal, now) {
            Some(Light::Green) => "正常",
            Some(Light::Yellow) => "黄灯预警",
            Some(Light::Red) => "红灯超期",
            None => "",
        };
        let r = &c.routing;
        vec![
            c.number.to_string(),
            c.state.zh().to_owned(),
            c.source.zh().to_owned(),
            names.category(c),
            c.description.clone(),
            c.location.address.clone().unwrap_or_default(),
            r.street_name.clone().unwrap_or_default(),
            r.community_code.clone().unwrap_or_default(),
            r.grid_code.clone().unwrap_or_default(),
            r.road_name.clone().unwrap_or_default(),
            c.unit_id.map(|u| names.unit(u)).unwrap_or_default(),
            local(c.created_at),
            c.deadline(&cal).map(local).unwrap_or_default(),
            light.to_owned(),
            c.external_ref.clone().unwrap_or_default(),
            c.reporter.name.clone().unwrap_or_default(),
            c.reporter.phone.clone().unwrap_or_default(),
        ]
    }

    /// Names of units and categories for export rows.
    pub async fn export_names(&self) -> Result<ExportNames, ServiceError> {
        let units = self.store.list_units().await?;
        let cats = self.categories().await?;
        Ok(ExportNames {
            units: units.into_iter().map(|u| (u.id, u.name)).collect(),
            categories: cats.into_iter().map(|(k, c)| (k, c.name_zh)).collect(),
        })
    }
}

/// Unit and category names by id.
pub struct ExportNames {
    units: std::collections::HashMap<cityloop_domain::ids::UnitId, String>,
    categories: std::collections::HashMap<cityloop_domain::model::CategoryCode, String>,
}

impl ExportNames {
    fn unit(&self, id: cityloop_domain::ids::UnitId) -> String {
        self.units
            .get(&id)
            .cloned()
            .unwrap_or_else(|| id.to_string())
    }

    fn category(&self, c: &Case) -> String {
        self.categories
            .get(&c.category)
            .cloned()
            .unwrap_or_else(|| c.category.code.clone())
    }
}

impl ExportPages<'_> {
    /// The next page of cases (`None` when the list or the row limit is reached).
    pub async fn next_page(&mut self) -> Result<Option<Vec<Case>>, ServiceError> {
        if self.done {
            return Ok(None);
        }
        let page = self.svc.search_cases(&self.actor, &self.req).await?;
        let mut cases = page.cases;
        let room = self.max - self.rows;
        if cases.len() > room {
            cases.truncate(room);
            self.truncated = true;
            self.done = true;
        }
        self.rows += cases.len();
        match page.next {
            Some(next) if !self.done => self.req.cursor = Some(next.to_token()),
            Some(_) => {}
            None => self.done = true,
        }
        if self.rows == self.max && !self.done {
            // Exactly at the limit: one more page says whether anything is left.
            let probe = SearchRequest {
                limit: Some(1),
                ..self.req.clone()
            };
            self.truncated = !self
                .svc
                .search_cases(&self.actor, &probe)
                .await?
                .cases
                .is_empty();
            self.done = true;
        }
        if cases.is_empty() {
            return Ok(None);
        }
        Ok(Some(cases))
    }
}
