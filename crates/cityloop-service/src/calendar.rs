//! The working calendar's coverage and its year notices: how far the holiday data
//! reaches (for `/healthz`, the admin console and the scheduler's daily log line) and the
//! loading of next year's State Council notice by an admin (API) or an operator (CLI).
//!
//! A notice is validated on its own ([`YearNotice::validate`]) and then as part of the
//! whole calendar, written with one audit row in one store transaction, and the cached
//! calendar is reloaded, so deadlines computed from then on use the new year's holidays
//! and lose their "weekends only" mark. Writes of the calendar document are serialized
//! within the process (two loads at once cannot lose one another's year).

use cityloop_domain::calendar::{Coverage, YearNotice};
use cityloop_domain::model::Person;
use cityloop_domain::workflow::CaseState;
use cityloop_store::{AdminOp, AuditEntry, CaseFilter, Cursor, Page};
use serde::Serialize;

use crate::admin::require_admin;
use crate::{keys, ServiceError, Services};

/// Open cases whose stored deadline is rewritten per store transaction.
const REFRESH_PAGE: u32 = 500;

/// Serializes read-modify-write changes of the calendar document in this process.
static CALENDAR_WRITES: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// The loaded notices and the coverage they give.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct CalendarYears {
    /// As of the district's current local day.
    pub coverage: Coverage,
    /// The loaded notices, by year.
    pub years: Vec<YearNotice>,
}

/// When the scheduler logs the coverage warning: at its first pass and then once per local
/// day, for as long as there is a warning (from 60 days before coverage ends, every day after).
#[derive(Debug, Default)]
pub struct CoverageLog {
    last_day: Option<chrono::NaiveDate>,
}

impl CoverageLog {
    /// Whether to log `c` now; remembers the day either way.
    pub fn due(&mut self, c: &Coverage) -> bool {
        if self.last_day == Some(c.today) {
            return false;
        }
        self.last_day = Some(c.today);
        c.warning.is_some()
    }
}

/// The outcome of loading one notice.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct LoadedYear {
    /// The notice's year.
    pub year: i32,
    /// Whether it replaced a notice loaded before for the same year.
    pub replaced: bool,
    /// The coverage now.
    pub coverage: Coverage,
    /// Open cases whose stored deadline was recomputed on the new calendar.
    pub deadlines_refreshed: u64,
}

impl Services {
    /// How far the calendar's holiday data reaches, as of the district's local day now.
    pub fn calendar_coverage(&self) -> Coverage {
        self.calendar().coverage_at(self.now())
    }

    /// Admin: the loaded year notices and the coverage.
    pub fn admin_calendar_years(&self, actor: &Person) -> Result<CalendarYears, ServiceError> {
        require_admin(actor)?;
        let cal = self.calendar();
        let mut years = cal.spec().years.clone();
        years.sort_by_key(|n| n.year);
        Ok(CalendarYears {
            coverage: cal.coverage_at(self.now()),
            years,
        })
    }

    /// Admin: loads one year's notice, adding it or replacing the one for the same year.
    pub async fn admin_load_calendar_year(
        &self,
        actor: &Person,
        notice: YearNotice,
    ) -> Result<LoadedYear, ServiceError> {
        require_admin(actor)?;
        self.load_calendar_year(Some(actor), notice).await
    }

    /// Loads one year's notice; `actor` is None for the command line (`cityloop calendar
    /// load`), which is audited as the system. Errors name the field of the notice.
    pub async fn load_calendar_year(
        &self,
        actor: Option<&Person>,
        notice: YearNotice,
    ) -> Result<LoadedYear, ServiceError> {
        let _guard = CALENDAR_WRITES.lock().await;
        let current = self.calendar().spec().clone();
        notice
            .validate(&current.weekend)
            .map_err(|e| ServiceError::invalid(e.field(), e.to_string()))?;
        let mut next = current.clone();
        let before = next.years.iter().position(|n| n.year == notice.year);
        let previous = match before {
            Some(i) => Some(std::mem::replace(&mut next.years[i], notice.clone())),
            None => {
                next.years.push(notice.clone());
                None
            }
        };
        next.years.sort_by_key(|n| n.year);
        // The notice is valid on its own; what is left is how it fits the district's own
        // days (a district make-up day on one of its holidays) and the number of years.
        cityloop_domain::calendar::WorkCalendar::from_spec(&next).map_err(|e| {
            ServiceError::invalid(
                match e {
                    cityloop_domain::calendar::CalendarError::TooManyYears => "year".to_owned(),
                    _ => e.field(),
                },
                e.to_string(),
            )
        })?;
        let action = if previous.is_some() {
            "replace_year"
        } else {
            "load_year"
        };
        self.commit_calendar(
            actor,
            &next,
            notice.year,
            action,
            previous.as_ref().map(to_json).transpose()?,
            Some(to_json(&notice)?),
        )
        .await?;
        let deadlines_refreshed = self.refresh_open_deadlines().await?;
        let coverage = self.calendar_coverage();
        tracing::info!(
            year = notice.year,
            replaced = previous.is_some(),
            coverage_end = ?coverage.coverage_end,
            "calendar year notice loaded"
        );
        Ok(LoadedYear {
            year: notice.year,
            replaced: previous.is_some(),
            coverage,
            deadlines_refreshed,
        })
    }

    /// Admin: removes the notice for `year` (e.g. one loaded by mistake); that year then
    /// runs on weekends only again.
    pub async fn admin_remove_calendar_year(
        &self,
        actor: &Person,
        year: i32,
    ) -> Result<Coverage, ServiceError> {
        require_admin(actor)?;
        let _guard = CALENDAR_WRITES.lock().await;
        let mut next = self.calendar().spec().clone();
        let i = next
            .years
            .iter()
            .position(|n| n.year == year)
            .ok_or_else(|| ServiceError::NotFound(format!("calendar notice for {year}")))?;
        let removed = next.years.remove(i);
        self.commit_calendar(
            Some(actor),
            &next,
            year,
            "remove_year",
            Some(to_json(&removed)?),
            None,
        )
        .await?;
        self.refresh_open_deadlines().await?;
        Ok(self.calendar_coverage())
    }

    /// Recomputes the stored deadline of every open case on the current calendar (after a
    /// calendar change), so the `overdue` list filter agrees with the deadlines shown.
    /// Returns how many were rewritten.
    pub async fn refresh_open_deadlines(&self) -> Result<u64, ServiceError> {
        let cal = self.calendar();
        let filter = CaseFilter {
            states: CaseState::ALL
                .iter()
                .filter(|s| !s.is_terminal())
                .map(|s| s.as_str().to_owned())
                .collect(),
            ..CaseFilter::default()
        };
        let mut page = Page {
            after: None,
            limit: REFRESH_PAGE,
        };
        let mut total = 0;
        loop {
            let cases = self.store.list_cases(&filter, &page).await?;
            let Some(last) = cases.last() else { break };
            page.after = Some(Cursor {
                created_at: last.created_at,
                id: last.id,
            });
            let rows: Vec<_> = cases
                .iter()
                .map(|c| (c.id, c.version, c.deadline(&cal)))
                .collect();
            total += self.store.refresh_deadlines(&rows).await?;
        }
        if total > 0 {
            tracing::info!(
                cases = total,
                "stored deadlines recomputed on the new calendar"
            );
        }
        Ok(total)
    }

    /// Writes the calendar document with its audit row in one transaction, then reloads
    /// the cached calendar.
    async fn commit_calendar(
        &self,
        actor: Option<&Person>,
        spec: &cityloop_domain::calendar::CalendarSpec,
        year: i32,
        action: &str,
        before: Option<serde_json::Value>,
        after: Option<serde_json::Value>,
    ) -> Result<(), ServiceError> {
        let audit = AuditEntry {
            id: uuid::Uuid::now_v7(),
            at: self.now(),
            actor_id: actor.map(|a| a.id),
            entity: "calendar".to_owned(),
            entity_id: year.to_string(),
            action: action.to_owned(),
            before,
            after,
        };
        let op = AdminOp::PutSetting {
            key: keys::CALENDAR.to_owned(),
            value: to_json(spec)?,
        };
        self.store.admin_apply(&[op], &audit).await?;
        tracing::info!(actor = ?actor.map(|a| a.id.to_string()), entity = "calendar", entity_id = %audit.entity_id, action, "admin change");
        self.reload_reference().await
    }
}

fn to_json<T: Serialize>(v: &T) -> Result<serde_json::Value, ServiceError> {
    serde_json::to_value(v).map_err(|e| ServiceError::Internal(e.into()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    fn day(m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, m, d).expect("valid date")
    }

    #[test]
    fn the_coverage_warning_is_logged_once_per_day_while_it_lasts() {
        let mut log = CoverageLog::default();
        let quiet = Coverage::of([2026], day(10, 1));
        assert!(!log.due(&quiet), "61+ days left: nothing to say");
        let soon = Coverage::of([2026], day(12, 1));
        assert!(log.due(&soon), "first pass of a day with a warning");
        assert!(!log.due(&soon), "not again the same day");
        assert!(
            log.due(&Coverage::of([2026], day(12, 2))),
            "the next day again"
        );
        let after = Coverage::of([2026], NaiveDate::from_ymd_opt(2027, 1, 5).expect("date"));
        assert!(log.due(&after), "and every day after coverage ended");
        assert!(!log.due(&Coverage::of(
            [2026, 2027],
            NaiveDate::from_ymd_opt(2027, 1, 6).expect("date")
        )));
    }
}
