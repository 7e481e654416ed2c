//! Which years the working calendar covers: one State Council holiday notice per year.
//!
//! Public holidays and 调休 make-up working days in mainland China are fixed year by year
//! by a notice of the General Office of the State Council (国务院办公厅关于…年部分节假日安排
//! 的通知), usually published in November for the following year. A calendar *covers* a year
//! when that year's notice is loaded as a [`YearNotice`]. In a year without one the
//! calendar still answers, on weekends only, and deadlines that reach into such a year are
//! marked (see [`super::StageClock::deadline_weekends_only`]) so nobody mistakes them for
//! exact ones.
//!
//! This module holds the notice document, its validation ([`YearNotice::validate`], one
//! [`NoticeError`] per rule, each naming the offending field) and the coverage report
//! ([`Coverage`]) that `/healthz`, the admin console and the scheduler's daily log line show.
//! Like the rest of the domain it reads no clock: "today" is always an argument.

use std::fmt;

use chrono::{Datelike, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use super::HolidayRange;

/// Days before the end of coverage from which the calendar warns (and every day after).
pub const COVERAGE_WARNING_DAYS: i64 = 60;
/// The earliest year a notice may be for.
pub const MIN_NOTICE_YEAR: i32 = 2000;
/// The latest year a notice may be for.
pub const MAX_NOTICE_YEAR: i32 = 2099;
/// Most holiday ranges in one notice (the notices since 2008 have seven).
pub const MAX_NOTICE_HOLIDAYS: usize = 32;
/// Most make-up working days in one notice.
pub const MAX_NOTICE_MAKEUP_DAYS: usize = 32;
/// Longest citation of a notice, in characters.
pub const MAX_NOTICE_SOURCE_CHARS: usize = 1000;
/// Longest holiday name, in characters.
pub const MAX_HOLIDAY_NAME_CHARS: usize = 50;
/// Most year notices one calendar holds.
pub const MAX_CALENDAR_YEARS: usize = 100;

/// One year's State Council public-holiday notice as a JSON document: what an administrator
/// loads (`POST /api/v1/admin/calendar/years`, `cityloop calendar load`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct YearNotice {
    /// The calendar year the notice arranges, e.g. `2027`.
    pub year: i32,
    /// The notice cited: its title (which names the year), issuer, date, document number
    /// (文号) when published, and where it was published.
    pub source: String,
    /// The runs of days off (放假), each inside `year`, none overlapping another.
    pub holidays: Vec<HolidayRange>,
    /// The 调休 make-up working days (上班), each a weekend day inside `year`, no duplicates.
    pub makeup_workdays: Vec<NaiveDate>,
}

/// Why a [`YearNotice`] was rejected. [`NoticeError::field`] names the offending field of
/// the document (`holidays[2].end`, `makeup_workdays[0]`, `source`, …).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NoticeError {
    /// The year is outside [`MIN_NOTICE_YEAR`]–[`MAX_NOTICE_YEAR`].
    #[error("year {0} is outside {min}–{max}", min = MIN_NOTICE_YEAR, max = MAX_NOTICE_YEAR)]
    YearOutOfRange(i32),
    /// The source does not cite the notice: blank, or without the year it arranges.
    #[error("must cite the notice and name the year {year} (e.g. 国务院办公厅关于{year}年部分节假日安排的通知, its date and 文号)")]
    SourceMissing {
        /// The notice's year.
        year: i32,
    },
    /// The citation is longer than [`MAX_NOTICE_SOURCE_CHARS`].
    #[error("is longer than {} characters", MAX_NOTICE_SOURCE_CHARS)]
    SourceTooLong,
    /// The notice lists no holiday at all.
    #[error("the notice lists no holiday")]
    NoHolidays,
    /// More than [`MAX_NOTICE_HOLIDAYS`] holiday ranges.
    #[error("more than {} holiday ranges", MAX_NOTICE_HOLIDAYS)]
    TooManyHolidays,
    /// More than [`MAX_NOTICE_MAKEUP_DAYS`] make-up days.
    #[error("more than {} make-up working days", MAX_NOTICE_MAKEUP_DAYS)]
    TooManyMakeupDays,
    /// A holiday without a Chinese name.
    #[error("holiday {index} has no Chinese name (name_zh)")]
    UnnamedHoliday {
        /// Its position in `holidays`.
        index: usize,
    },
    /// A holiday name longer than [`MAX_HOLIDAY_NAME_CHARS`].
    #[error(
        "holiday {index}: {name_field} is longer than {} characters",
        MAX_HOLIDAY_NAME_CHARS
    )]
    NameTooLong {
        /// Its position in `holidays`.
        index: usize,
        /// `name_zh` or `name_en`.
        name_field: &'static str,
    },
    /// A holiday range ends before it starts.
    #[error("holiday {name:?} ends ({end}) before it starts ({start})")]
    HolidayEndsBeforeStart {
        /// Its position in `holidays`.
        index: usize,
        /// Its Chinese name.
        name: String,
        /// First day.
        start: NaiveDate,
        /// Last day.
        end: NaiveDate,
    },
    /// A holiday's first or last day is not in the notice's year.
    #[error("holiday {name:?}: {date} is not in {year}")]
    HolidayOutsideYear {
        /// Its position in `holidays`.
        index: usize,
        /// `start` or `end`.
        end_field: &'static str,
        /// Its Chinese name.
        name: String,
        /// The offending day.
        date: NaiveDate,
        /// The notice's year.
        year: i32,
    },
    /// Two holiday ranges share a day.
    #[error("holidays {first:?} and {second:?} overlap on {date}")]
    OverlappingHolidays {
        /// Position in `holidays` of the range that starts later.
        index: usize,
        /// The earlier range's Chinese name.
        first: String,
        /// The later range's Chinese name.
        second: String,
        /// The first shared day.
        date: NaiveDate,
    },
    /// A make-up day is not in the notice's year.
    #[error("make-up working day {date} is not in {year}")]
    MakeupOutsideYear {
        /// Its position in `makeup_workdays`.
        index: usize,
        /// The day.
        date: NaiveDate,
        /// The notice's year.
        year: i32,
    },
    /// A make-up day is listed more than once.
    #[error("make-up working day {date} is listed twice")]
    DuplicateMakeupDay {
        /// Position in `makeup_workdays` of the repetition.
        index: usize,
        /// The day.
        date: NaiveDate,
    },
    /// A make-up day falls on a day that is a working day anyway.
    #[error("make-up working day {date} is a {weekday}, not a weekend day")]
    MakeupNotWeekend {
        /// Its position in `makeup_workdays`.
        index: usize,
        /// The day.
        date: NaiveDate,
        /// Its day of the week.
        weekday: Weekday,
    },
    /// A make-up day is also inside a holiday range.
    #[error("{date} is both a make-up working day and inside the holiday {name:?}")]
    MakeupIsHoliday {
        /// Its position in `makeup_workdays`.
        index: usize,
        /// The day.
        date: NaiveDate,
        /// The holiday's Chinese name.
        name: String,
    },
}

impl NoticeError {
    /// The offending field inside the notice document, as a dotted/indexed path.
    pub fn field(&self) -> String {
        match self {
            NoticeError::YearOutOfRange(_) => "year".into(),
            NoticeError::SourceMissing { .. } | NoticeError::SourceTooLong => "source".into(),
            NoticeError::NoHolidays | NoticeError::TooManyHolidays => "holidays".into(),
            NoticeError::TooManyMakeupDays => "makeup_workdays".into(),
            NoticeError::UnnamedHoliday { index } => format!("holidays[{index}].name_zh"),
            NoticeError::NameTooLong { index, name_field } => {
                format!("holidays[{index}].{name_field}")
            }
            NoticeError::HolidayEndsBeforeStart { index, .. } => format!("holidays[{index}].end"),
            NoticeError::HolidayOutsideYear {
                index, end_field, ..
            } => format!("holidays[{index}].{end_field}"),
            NoticeError::OverlappingHolidays { index, .. } => format!("holidays[{index}].start"),
            NoticeError::MakeupOutsideYear { index, .. }
            | NoticeError::DuplicateMakeupDay { index, .. }
            | NoticeError::MakeupNotWeekend { index, .. }
            | NoticeError::MakeupIsHoliday { index, .. } => format!("makeup_workdays[{index}]"),
        }
    }
}

impl YearNotice {
    /// Checks every rule of a notice document against the calendar's weekend days: the
    /// year in range; a citation that names the year; at least one and at most
    /// [`MAX_NOTICE_HOLIDAYS`] holidays, each named, ordered (end ≥ start), inside the year
    /// and overlapping no other; make-up days inside the year, each listed once, each a
    /// weekend day and none inside a holiday. Returns the first broken rule.
    pub fn validate(&self, weekend: &[Weekday]) -> Result<(), NoticeError> {
        let year = self.year;
        if !(MIN_NOTICE_YEAR..=MAX_NOTICE_YEAR).contains(&year) {
            return Err(NoticeError::YearOutOfRange(year));
        }
        let source = self.source.trim();
        if source.is_empty() || !source.contains(&year.to_string()) {
            return Err(NoticeError::SourceMissing { year });
        }
        if self.source.chars().count() > MAX_NOTICE_SOURCE_CHARS {
            return Err(NoticeError::SourceTooLong);
        }
        if self.holidays.is_empty() {
            return Err(NoticeError::NoHolidays);
        }
        if self.holidays.len() > MAX_NOTICE_HOLIDAYS {
            return Err(NoticeError::TooManyHolidays);
        }
        if self.makeup_workdays.len() > MAX_NOTICE_MAKEUP_DAYS {
            return Err(NoticeError::TooManyMakeupDays);
        }
        for (index, h) in self.holidays.iter().enumerate() {
            if h.name_zh.trim().is_empty() {
                return Err(NoticeError::UnnamedHoliday { index });
            }
            for (name_field, name) in [("name_zh", &h.name_zh), ("name_en", &h.name_en)] {
                if name.chars().count() > MAX_HOLIDAY_NAME_CHARS {
                    return Err(NoticeError::NameTooLong { index, name_field });
                }
            }
            if h.end < h.start {
                return Err(NoticeError::HolidayEndsBeforeStart {
                    index,
                    name: h.name_zh.clone(),
                    start: h.start,
                    end: h.end,
                });
            }
            for (end_field, date) in [("start", h.start), ("end", h.end)] {
                if date.year() != year {
                    return Err(NoticeError::HolidayOutsideYear {
                        index,
                        end_field,
                        name: h.name_zh.clone(),
                        date,
                        year,
                    });
                }
            }
        }
        let mut by_start: Vec<(usize, &HolidayRange)> = self.holidays.iter().enumerate().collect();
        by_start.sort_by_key(|(i, h)| (h.start, h.end, *i));
        for pair in by_start.windows(2) {
            let ((_, a), (index, b)) = (pair[0], pair[1]);
            if b.start <= a.end {
                return Err(NoticeError::OverlappingHolidays {
                    index,
                    first: a.name_zh.clone(),
                    second: b.name_zh.clone(),
                    date: b.start,
                });
            }
        }
        for (index, &date) in self.makeup_workdays.iter().enumerate() {
            if date.year() != year {
                return Err(NoticeError::MakeupOutsideYear { index, date, year });
            }
            if self.makeup_workdays[..index].contains(&date) {
                return Err(NoticeError::DuplicateMakeupDay { index, date });
            }
            if !weekend.contains(&date.weekday()) {
                return Err(NoticeError::MakeupNotWeekend {
                    index,
                    date,
                    weekday: date.weekday(),
                });
            }
            if let Some(h) = self
                .holidays
                .iter()
                .find(|h| h.start <= date && date <= h.end)
            {
                return Err(NoticeError::MakeupIsHoliday {
                    index,
                    date,
                    name: h.name_zh.clone(),
                });
            }
        }
        Ok(())
    }
}

/// How far the calendar's holiday data reaches, as of one local day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Coverage {
    /// The years with a loaded notice, ascending.
    pub years: Vec<i32>,
    /// The local day this report is for.
    pub today: NaiveDate,
    /// The last covered day: 31 December of the last year of the unbroken run of covered
    /// years that contains today; when today's year is not covered, the end of the latest
    /// covered year before it (in the past). None when no earlier year is covered.
    pub coverage_end: Option<NaiveDate>,
    /// Days from today to `coverage_end` (negative once it has passed).
    pub days_left: Option<i64>,
    /// Set from [`COVERAGE_WARNING_DAYS`] days before the end of coverage, and every day after.
    pub warning: Option<CoverageWarning>,
}

/// What the coverage warning is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(tag = "code", rename_all = "snake_case")]
pub enum CoverageWarning {
    /// Coverage ends within [`COVERAGE_WARNING_DAYS`] days: load `next_year`'s notice.
    EndingSoon {
        /// The first year without a notice.
        next_year: i32,
    },
    /// Today is in a year without a notice: deadlines run on weekends only.
    Uncovered {
        /// Today's year.
        year: i32,
    },
}

impl fmt::Display for CoverageWarning {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoverageWarning::EndingSoon { next_year } => write!(
                f,
                "the working calendar has no public-holiday notice for {next_year}: load the State Council notice for {next_year} before 1 January, or deadlines in {next_year} are computed on weekends only"
            ),
            CoverageWarning::Uncovered { year } => write!(
                f,
                "the working calendar has no public-holiday notice for {year}: deadlines in {year} are computed on weekends only (marked on each case); load the State Council notice for {year}"
            ),
        }
    }
}

impl Coverage {
    /// The coverage report for local day `today` given the covered years (any order).
    pub fn of(years: impl IntoIterator<Item = i32>, today: NaiveDate) -> Coverage {
        let mut years: Vec<i32> = years.into_iter().collect();
        years.sort_unstable();
        years.dedup();
        let this_year = today.year();
        let (coverage_end, warning) = if years.binary_search(&this_year).is_ok() {
            let mut last = this_year;
            while years.binary_search(&(last + 1)).is_ok() {
                last += 1;
            }
            let end = last_day_of(last);
            let days_left = end.map(|e| (e - today).num_days());
            let warning = days_left.filter(|d| *d <= COVERAGE_WARNING_DAYS).map(|_| {
                CoverageWarning::EndingSoon {
                    next_year: last + 1,
                }
            });
            (end, warning)
        } else {
            let earlier = years.iter().rev().find(|y| **y < this_year).copied();
            (
                earlier.and_then(last_day_of),
                Some(CoverageWarning::Uncovered { year: this_year }),
            )
        };
        Coverage {
            days_left: coverage_end.map(|e| (e - today).num_days()),
            years,
            today,
            coverage_end,
            warning,
        }
    }
}

/// 31 December of `year`, None beyond chrono's range.
fn last_day_of(year: i32) -> Option<NaiveDate> {
    NaiveDate::from_ymd_opt(year, 12, 31)
}

#[cfg(test)]
mod tests {
    use super::*;

    const WEEKEND: [Weekday; 2] = [Weekday::Sat, Weekday::Sun];

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn holiday(name: &str, start: NaiveDate, end: NaiveDate) -> HolidayRange {
        HolidayRange {
            name_zh: name.to_owned(),
            name_en: String::new(),
            start,
            end,
        }
    }

    /// TEST FIXTURE, not official data: a notice shaped like the real ones (the 2026
    /// notice's 元旦 and 国庆节 lines shifted by 53 weeks into 2027, weekdays preserved).
    fn fixture_2027() -> YearNotice {
        YearNotice {
            year: 2027,
            source: "TEST FIXTURE (not an official notice): 2026 notice shifted to 2027".into(),
            holidays: vec![
                holiday("元旦", date(2027, 1, 7), date(2027, 1, 9)),
                holiday("国庆节", date(2027, 10, 7), date(2027, 10, 13)),
            ],
            // 2026-01-04 (Sun) and 2026-10-10 (Sat) shifted by 371 days.
            makeup_workdays: vec![date(2027, 1, 10), date(2027, 10, 16)],
        }
    }

    fn rejected(n: &YearNotice) -> NoticeError {
        n.validate(&WEEKEND).expect_err("must be rejected")
    }

    #[test]
    fn a_well_formed_notice_passes() {
        assert_eq!(fixture_2027().validate(&WEEKEND), Ok(()));
    }

    #[test]
    fn year_outside_the_accepted_range_is_rejected_naming_year() {
        let mut n = fixture_2027();
        n.year = 1999;
        let e = rejected(&n);
        assert_eq!(e, NoticeError::YearOutOfRange(1999));
        assert_eq!(e.field(), "year");
        n.year = 2100;
        assert_eq!(rejected(&n), NoticeError::YearOutOfRange(2100));
    }

    #[test]
    fn a_source_that_is_blank_or_does_not_name_the_year_is_rejected() {
        let mut n = fixture_2027();
        n.source = "   ".into();
        assert_eq!(rejected(&n), NoticeError::SourceMissing { year: 2027 });
        n.source = "国务院办公厅关于2026年部分节假日安排的通知".into();
        let e = rejected(&n);
        assert_eq!(e, NoticeError::SourceMissing { year: 2027 });
        assert_eq!(e.field(), "source");
        n.source = format!("2027 {}", "x".repeat(MAX_NOTICE_SOURCE_CHARS));
        assert_eq!(rejected(&n), NoticeError::SourceTooLong);
    }

    #[test]
    fn a_notice_without_holidays_or_with_too_many_entries_is_rejected() {
        let mut n = fixture_2027();
        n.holidays.clear();
        assert_eq!(rejected(&n).field(), "holidays");
        let mut n = fixture_2027();
        n.holidays = (0..=MAX_NOTICE_HOLIDAYS as u32)
            .map(|i| holiday("日", date(2027, 3, 1 + i % 28), date(2027, 3, 1 + i % 28)))
            .collect();
        assert_eq!(rejected(&n), NoticeError::TooManyHolidays);
        let mut n = fixture_2027();
        n.makeup_workdays = vec![date(2027, 3, 6); MAX_NOTICE_MAKEUP_DAYS + 1];
        assert_eq!(rejected(&n), NoticeError::TooManyMakeupDays);
    }

    #[test]
    fn holidays_without_a_chinese_name_or_with_overlong_names_are_rejected() {
        let mut n = fixture_2027();
        n.holidays[1].name_zh = " ".into();
        let e = rejected(&n);
        assert_eq!(e, NoticeError::UnnamedHoliday { index: 1 });
        assert_eq!(e.field(), "holidays[1].name_zh");
        let mut n = fixture_2027();
        n.holidays[0].name_en = "y".repeat(MAX_HOLIDAY_NAME_CHARS + 1);
        assert_eq!(rejected(&n).field(), "holidays[0].name_en");
    }

    #[test]
    fn a_holiday_ending_before_it_starts_is_rejected_naming_its_end() {
        let mut n = fixture_2027();
        n.holidays[1].end = date(2027, 10, 6);
        let e = rejected(&n);
        assert!(matches!(
            e,
            NoticeError::HolidayEndsBeforeStart { index: 1, .. }
        ));
        assert_eq!(e.field(), "holidays[1].end");
    }

    #[test]
    fn holidays_reaching_outside_the_year_are_rejected() {
        let mut n = fixture_2027();
        n.holidays[0].start = date(2026, 12, 31);
        let e = rejected(&n);
        assert_eq!(e.field(), "holidays[0].start");
        assert!(e.to_string().contains("2026-12-31 is not in 2027"), "{e}");
        let mut n = fixture_2027();
        n.holidays[1].end = date(2028, 1, 1);
        assert_eq!(rejected(&n).field(), "holidays[1].end");
    }

    #[test]
    fn overlapping_holidays_are_rejected_naming_the_later_one() {
        let mut n = fixture_2027();
        n.holidays
            .insert(0, holiday("中秋节", date(2027, 10, 13), date(2027, 10, 15)));
        let e = rejected(&n);
        assert_eq!(
            e,
            NoticeError::OverlappingHolidays {
                index: 0,
                first: "国庆节".into(),
                second: "中秋节".into(),
                date: date(2027, 10, 13),
            }
        );
        assert_eq!(e.field(), "holidays[0].start");
        // A range lying wholly inside another overlaps too.
        let mut n = fixture_2027();
        n.holidays
            .push(holiday("重复", date(2027, 10, 8), date(2027, 10, 8)));
        assert_eq!(rejected(&n).field(), "holidays[2].start");
    }

    #[test]
    fn make_up_days_outside_the_year_are_rejected() {
        let mut n = fixture_2027();
        n.makeup_workdays.push(date(2026, 12, 26));
        let e = rejected(&n);
        assert_eq!(
            e,
            NoticeError::MakeupOutsideYear {
                index: 2,
                date: date(2026, 12, 26),
                year: 2027
            }
        );
        assert_eq!(e.field(), "makeup_workdays[2]");
    }

    #[test]
    fn duplicate_make_up_days_are_rejected_naming_the_repetition() {
        let mut n = fixture_2027();
        n.makeup_workdays.push(date(2027, 1, 10));
        let e = rejected(&n);
        assert_eq!(
            e,
            NoticeError::DuplicateMakeupDay {
                index: 2,
                date: date(2027, 1, 10)
            }
        );
        assert_eq!(e.field(), "makeup_workdays[2]");
    }

    #[test]
    fn make_up_days_on_working_weekdays_are_rejected() {
        let mut n = fixture_2027();
        // 2027-01-11 is a Monday.
        n.makeup_workdays[0] = date(2027, 1, 11);
        let e = rejected(&n);
        assert_eq!(
            e,
            NoticeError::MakeupNotWeekend {
                index: 0,
                date: date(2027, 1, 11),
                weekday: Weekday::Mon
            }
        );
        // The rule follows the calendar's weekend: with Sunday as the only weekend day a
        // Saturday make-up day is refused as well.
        assert!(matches!(
            fixture_2027().validate(&[Weekday::Sun]),
            Err(NoticeError::MakeupNotWeekend { index: 1, .. })
        ));
    }

    #[test]
    fn a_make_up_day_inside_a_holiday_is_rejected() {
        let mut n = fixture_2027();
        // 2027-10-09 is a Saturday inside the shifted 国庆节.
        n.makeup_workdays[1] = date(2027, 10, 9);
        let e = rejected(&n);
        assert!(matches!(e, NoticeError::MakeupIsHoliday { index: 1, .. }));
        assert_eq!(e.field(), "makeup_workdays[1]");
    }

    #[test]
    fn coverage_warns_from_sixty_days_before_its_end() {
        let c = Coverage::of([2026], date(2026, 11, 1));
        assert_eq!(c.coverage_end, Some(date(2026, 12, 31)));
        assert_eq!(c.days_left, Some(60));
        assert_eq!(
            c.warning,
            Some(CoverageWarning::EndingSoon { next_year: 2027 })
        );
        let c = Coverage::of([2026], date(2026, 10, 31));
        assert_eq!(c.days_left, Some(61));
        assert_eq!(c.warning, None);
        let c = Coverage::of([2026], date(2026, 12, 31));
        assert_eq!(c.days_left, Some(0));
        assert!(c.warning.is_some());
    }

    #[test]
    fn coverage_after_its_end_warns_every_day_with_the_past_end() {
        let c = Coverage::of([2026], date(2027, 1, 1));
        assert_eq!(c.coverage_end, Some(date(2026, 12, 31)));
        assert_eq!(c.days_left, Some(-1));
        assert_eq!(c.warning, Some(CoverageWarning::Uncovered { year: 2027 }));
        let c = Coverage::of([2026], date(2027, 6, 30));
        assert_eq!(c.warning, Some(CoverageWarning::Uncovered { year: 2027 }));
        assert!(c
            .warning
            .map(|w| w.to_string())
            .is_some_and(|s| s.contains("weekends only")));
        let c = Coverage::of(Vec::new(), date(2026, 12, 1));
        assert_eq!((c.coverage_end, c.days_left), (None, None));
        assert_eq!(c.warning, Some(CoverageWarning::Uncovered { year: 2026 }));
    }

    #[test]
    fn coverage_runs_through_consecutive_years_and_stops_at_a_gap() {
        let c = Coverage::of([2028, 2026, 2027], date(2026, 12, 1));
        assert_eq!(c.years, vec![2026, 2027, 2028]);
        assert_eq!(c.coverage_end, Some(date(2028, 12, 31)));
        assert_eq!(c.warning, None);
        let c = Coverage::of([2026, 2028], date(2026, 12, 1));
        assert_eq!(c.coverage_end, Some(date(2026, 12, 31)));
        assert_eq!(
            c.warning,
            Some(CoverageWarning::EndingSoon { next_year: 2027 })
        );
    }
}
