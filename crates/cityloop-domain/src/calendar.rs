//! The district's working-time calendar and the per-stage deadline clock.
//!
//! Time limits in digital urban management are written in 工作时 (working hours) and
//! 工作日 (working days), and a few urgent classes run on natural clock time
//! (urban-management-standard.md §5, design.md §3). This module turns such limits into
//! instants:
//!
//! - [`CalendarSpec`] is the editable data (daily working periods, weekend days, time zone,
//!   one [`YearNotice`] per covered year with its public holidays and 调休 make-up working
//!   days, and the district's own extra days). The default calendar, covering 2026, is
//!   embedded from `data/calendar/cn-2026.json`.
//! - [`coverage`]: which years the calendar covers, the notice document and its validation,
//!   and the coverage report ([`Coverage`]) behind the 60-day warning. Years without a
//!   notice run on weekends only, and [`StageClock::deadline_weekends_only`] says so.
//! - [`WorkCalendar`] is a validated spec. It answers "is this a working instant?", adds
//!   working time to an instant ([`WorkCalendar::add_working`]) and measures working time
//!   between two instants ([`WorkCalendar::working_between`]).
//! - [`TimeLimit`] is a limit as the tables write it ("4工作时", "2工作日").
//! - [`StageClock`] is the deadline clock of one workflow stage: start, pause (挂账),
//!   resume, extend (延期), elapsed time, deadline and the green/yellow/red light.
//!
//! All instants are UTC. Working periods are wall-clock times in the calendar's zone and are
//! converted through `chrono-tz`, so the module is also right for zones with daylight saving
//! time, except for a working period that itself straddles a DST transition.
//!
//! What this module deliberately does not do: it reads no clock and no files at run time,
//! it does not know categories or the limit table (see `limits`), and it does not record
//! clock segments for audit (the case's events do that).

use std::collections::{BTreeSet, HashSet};
use std::fmt;

use chrono::{
    DateTime, Datelike, Days, Duration, LocalResult, NaiveDate, NaiveDateTime, Offset, TimeZone,
    Utc, Weekday,
};
use serde::{Deserialize, Deserializer, Serialize, Serializer};

pub use chrono_tz::Tz;

pub mod coverage;

pub use coverage::{Coverage, CoverageWarning, NoticeError, YearNotice};

/// Whether a clock runs on working time or on natural clock time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeMode {
    /// Only the calendar's working periods count (工作时 / 工作日).
    Working,
    /// Every second counts (natural hours and days, used for urgent classes).
    Clock,
}

/// The deadline light of a running stage.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Light {
    /// Less than 80% of the allowed time used.
    Green,
    /// From 80% up to and including 100% of the allowed time used.
    Yellow,
    /// More than the allowed time used: the stage is overdue.
    Red,
}

/// Why a calendar or a time limit was rejected.
#[derive(Debug, thiserror::Error)]
pub enum CalendarError {
    /// The calendar JSON does not have the shape of a [`CalendarSpec`].
    #[error("invalid calendar json: {0}")]
    Json(#[from] serde_json::Error),
    /// The time zone is not an IANA name known to chrono-tz.
    #[error("unknown time zone {0:?}")]
    UnknownTimezone(String),
    /// A time of day is not `HH:MM` or `HH:MM:SS` between 00:00 and 24:00.
    #[error("invalid time of day {0:?}, expected HH:MM between 00:00 and 24:00")]
    BadTimeOfDay(String),
    /// The calendar has no working periods at all.
    #[error("the calendar has no working periods")]
    NoPeriods,
    /// A working period ends at or before its start.
    #[error("working period {start}-{end} ends at or before its start")]
    EmptyPeriod {
        /// Start of the period.
        start: TimeOfDay,
        /// End of the period.
        end: TimeOfDay,
    },
    /// Two working periods overlap.
    #[error("working periods {first} and {second} overlap")]
    OverlappingPeriods {
        /// The earlier period, as `HH:MM-HH:MM`.
        first: String,
        /// The later period, as `HH:MM-HH:MM`.
        second: String,
    },
    /// Every day of the week is a weekend day, so there would be no working days.
    #[error("every weekday is a weekend day: the calendar has no working days")]
    NoWorkingWeekday,
    /// A holiday range ends before it starts.
    #[error("holiday {name:?} ends ({end}) before it starts ({start})")]
    BadHolidayRange {
        /// The holiday's name.
        name: String,
        /// First day of the range.
        start: NaiveDate,
        /// Last day of the range.
        end: NaiveDate,
    },
    /// A holiday range is longer than a year, which is certainly a data error.
    #[error("holiday {name:?} spans {days} days, more than {max}")]
    HolidayRangeTooLong {
        /// The holiday's name.
        name: String,
        /// Its length in days.
        days: i64,
        /// The longest accepted range.
        max: i64,
    },
    /// A date is both a holiday and a make-up working day.
    #[error("{0} is both a holiday and a make-up working day")]
    ConflictingDay(NaiveDate),
    /// A time limit string could not be parsed.
    #[error("invalid time limit {0:?}, expected e.g. 4工作时, 2工作日, 24小时 or 3自然日")]
    BadTimeLimit(String),
    /// A year's notice breaks a rule (see [`YearNotice::validate`]).
    #[error("notice for {year}: {error}")]
    Notice {
        /// Its position in `years`.
        index: usize,
        /// The year it is for.
        year: i32,
        /// The broken rule.
        error: NoticeError,
    },
    /// Two notices for the same year.
    #[error("the notice for {year} is listed twice")]
    DuplicateYear {
        /// Position in `years` of the repetition.
        index: usize,
        /// The year.
        year: i32,
    },
    /// More than [`coverage::MAX_CALENDAR_YEARS`] notices.
    #[error("more than {} year notices", coverage::MAX_CALENDAR_YEARS)]
    TooManyYears,
}

impl CalendarError {
    /// The field of the calendar document the error is about (`periods`, `weekend`,
    /// `years[1].holidays[2].end`, …), for a 422 that names it.
    pub fn field(&self) -> String {
        match self {
            CalendarError::Json(_) => "calendar".into(),
            CalendarError::UnknownTimezone(_) => "timezone".into(),
            CalendarError::BadTimeOfDay(_)
            | CalendarError::NoPeriods
            | CalendarError::EmptyPeriod { .. }
            | CalendarError::OverlappingPeriods { .. } => "periods".into(),
            CalendarError::NoWorkingWeekday => "weekend".into(),
            CalendarError::BadHolidayRange { .. } | CalendarError::HolidayRangeTooLong { .. } => {
                "holidays".into()
            }
            CalendarError::ConflictingDay(_) => "makeup_workdays".into(),
            CalendarError::BadTimeLimit(_) => "limit".into(),
            CalendarError::Notice { index, error, .. } => {
                format!("years[{index}].{}", error.field())
            }
            CalendarError::DuplicateYear { index, .. } => format!("years[{index}].year"),
            CalendarError::TooManyYears => "years".into(),
        }
    }
}

/// A wall-clock time of day, `00:00` to `24:00` inclusive, stored as seconds since midnight.
///
/// Serialized as `"HH:MM"` (or `"HH:MM:SS"` when it has seconds). `24:00` is accepted so a
/// period can run to the end of the day.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TimeOfDay(u32);

/// One daily working period in the calendar's time zone, e.g. `08:30`–`12:00`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Period {
    /// When the period starts (inclusive).
    pub start: TimeOfDay,
    /// When the period ends (exclusive for [`WorkCalendar::is_working_instant`]).
    pub end: TimeOfDay,
}

/// A named run of public-holiday days off, both ends inclusive.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct HolidayRange {
    /// Chinese name, e.g. `国庆节`.
    pub name_zh: String,
    /// English name, e.g. `National Day` (may be left empty).
    #[serde(default)]
    pub name_en: String,
    /// First day off.
    pub start: NaiveDate,
    /// Last day off.
    pub end: NaiveDate,
}

/// The serde shape of a calendar data file, editable by administrators.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CalendarSpec {
    /// Human-readable name of the calendar.
    pub name: String,
    /// IANA time zone of the district, e.g. `Asia/Shanghai`.
    pub timezone: String,
    /// Daily working periods in local wall-clock time.
    pub periods: Vec<Period>,
    /// Where the periods come from (they are a configurable default, not a national rule).
    #[serde(default)]
    pub periods_note: String,
    /// Days of the week that are normally off, e.g. `["Sat", "Sun"]`.
    pub weekend: Vec<Weekday>,
    /// The district's own days off beyond the State Council notices (any year, e.g. a local
    /// holiday); they do not make a year covered.
    #[serde(default)]
    pub holidays: Vec<HolidayRange>,
    /// The district's own make-up working days beyond the notices.
    #[serde(default)]
    pub makeup_workdays: Vec<NaiveDate>,
    /// Where the periods and the district's own days come from.
    #[serde(default)]
    pub source: String,
    /// The State Council notices loaded, one per year: exactly the years the calendar
    /// covers. Other years run on weekends only.
    #[serde(default)]
    pub years: Vec<YearNotice>,
}

/// A validated working-time calendar.
///
/// Build it with [`WorkCalendar::from_spec`], [`WorkCalendar::from_json`] or
/// [`WorkCalendar::china_2026`]. Validation guarantees at least one working period and at
/// least one working weekday, so working-time additions always terminate.
#[derive(Debug, Clone)]
pub struct WorkCalendar {
    spec: CalendarSpec,
    tz: Tz,
    /// Sorted, non-overlapping, merged periods as seconds since local midnight.
    periods: Vec<(u32, u32)>,
    /// Weekend flag per weekday, indexed by `num_days_from_monday`.
    weekend: [bool; 7],
    holidays: HashSet<NaiveDate>,
    makeup: HashSet<NaiveDate>,
    /// Holidays and make-up days together: outside them every week looks the same.
    special: BTreeSet<NaiveDate>,
    /// The years with a loaded notice.
    covered: BTreeSet<i32>,
    day_len: Duration,
    week_len: Duration,
}

/// A time limit as tables write it: "4工作时", "2工作日", "24小时".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TimeLimit {
    /// How many units.
    pub amount: u32,
    /// Which unit.
    pub unit: LimitUnit,
}

/// The unit of a [`TimeLimit`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LimitUnit {
    /// 工作时: hours of working time.
    WorkingHours,
    /// 工作日: working days, each as long as the calendar's working day.
    WorkingDays,
    /// 小时: natural clock hours.
    ClockHours,
    /// 自然日: natural days of 24 clock hours.
    NaturalDays,
}

/// The deadline clock of one workflow stage of a case.
///
/// Plain data, stored on the case view. All amounts are whole seconds in the clock's
/// [`TimeMode`]: in working mode `paused_secs` is working time spent suspended.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StageClock {
    /// Working time or clock time.
    pub mode: TimeMode,
    /// When the stage started.
    pub started_at: DateTime<Utc>,
    /// The stage's time limit.
    pub limit_secs: i64,
    /// Approved extensions (延期), added to the limit.
    pub extension_secs: i64,
    /// Time (in the clock's mode) spent suspended in finished pauses.
    pub paused_secs: i64,
    /// Start of the current pause (挂账), if the clock is paused now.
    pub paused_since: Option<DateTime<Utc>>,
}

const CHINA_2026_JSON: &str = include_str!("../data/calendar/cn-2026.json");
const MAX_HOLIDAY_RANGE_DAYS: i64 = 366;
const NANOS_PER_SEC: i128 = 1_000_000_000;

impl TimeOfDay {
    /// Builds a time of day from hours, minutes and seconds; `None` when out of range.
    pub fn from_hms(hour: u32, minute: u32, second: u32) -> Option<Self> {
        let valid =
            (hour < 24 && minute < 60 && second < 60) || (hour == 24 && minute == 0 && second == 0);
        valid.then_some(TimeOfDay(hour * 3600 + minute * 60 + second))
    }

    /// Seconds since local midnight (0 to 86 400).
    pub fn seconds_from_midnight(self) -> u32 {
        self.0
    }

    /// Parses `HH:MM` or `HH:MM:SS` (hours may have one digit).
    pub fn parse(s: &str) -> Result<Self, CalendarError> {
        let bad = || CalendarError::BadTimeOfDay(s.to_owned());
        let parts: Vec<&str> = s.trim().split(':').collect();
        if !(2..=3).contains(&parts.len()) {
            return Err(bad());
        }
        let mut nums = [0u32; 3];
        for (i, part) in parts.iter().enumerate() {
            let len_ok = if i == 0 {
                (1..=2).contains(&part.len())
            } else {
                part.len() == 2
            };
            if !len_ok || !part.bytes().all(|b| b.is_ascii_digit()) {
                return Err(bad());
            }
            nums[i] = part.parse().map_err(|_| bad())?;
        }
        TimeOfDay::from_hms(nums[0], nums[1], nums[2]).ok_or_else(bad)
    }
}

impl fmt::Display for TimeOfDay {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (h, m, s) = (self.0 / 3600, self.0 / 60 % 60, self.0 % 60);
        if s == 0 {
            write!(f, "{h:02}:{m:02}")
        } else {
            write!(f, "{h:02}:{m:02}:{s:02}")
        }
    }
}

impl Serialize for TimeOfDay {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TimeOfDay {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = String::deserialize(deserializer)?;
        TimeOfDay::parse(&s).map_err(serde::de::Error::custom)
    }
}

impl Period {
    /// The period's nominal length.
    pub fn length(&self) -> Duration {
        Duration::seconds(i64::from(self.end.0) - i64::from(self.start.0))
    }
}

impl fmt::Display for Period {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

impl WorkCalendar {
    /// Validates a spec: known time zone, at least one period, no empty or overlapping
    /// periods, at least one working weekday, every year notice valid
    /// ([`YearNotice::validate`]) and at most one per year, sane ranges for the district's
    /// own holidays, and no date that is both a holiday and a make-up day. Touching periods
    /// are merged. A spec from before year notices existed is upgraded first
    /// ([`CalendarSpec::upgrade_legacy`]).
    pub fn from_spec(spec: &CalendarSpec) -> Result<Self, CalendarError> {
        let upgraded = spec.clone().upgrade_legacy();
        let spec = &upgraded;
        let tz: Tz = spec
            .timezone
            .parse()
            .map_err(|_| CalendarError::UnknownTimezone(spec.timezone.clone()))?;

        if spec.periods.is_empty() {
            return Err(CalendarError::NoPeriods);
        }
        let mut sorted = spec.periods.clone();
        sorted.sort_by_key(|p| (p.start, p.end));
        if let Some(p) = sorted.iter().find(|p| p.end <= p.start) {
            return Err(CalendarError::EmptyPeriod {
                start: p.start,
                end: p.end,
            });
        }
        let mut periods: Vec<(u32, u32)> = Vec::with_capacity(sorted.len());
        for pair in sorted.windows(2) {
            if pair[1].start < pair[0].end {
                return Err(CalendarError::OverlappingPeriods {
                    first: pair[0].to_string(),
                    second: pair[1].to_string(),
                });
            }
        }
        for p in &sorted {
            match periods.last_mut() {
                Some(last) if last.1 == p.start.0 => last.1 = p.end.0,
                _ => periods.push((p.start.0, p.end.0)),
            }
        }

        let mut weekend = [false; 7];
        for day in &spec.weekend {
            weekend[day.num_days_from_monday() as usize] = true;
        }
        let working_weekdays = weekend.iter().filter(|off| !**off).count();
        if working_weekdays == 0 {
            return Err(CalendarError::NoWorkingWeekday);
        }

        if spec.years.len() > coverage::MAX_CALENDAR_YEARS {
            return Err(CalendarError::TooManyYears);
        }
        let mut covered = BTreeSet::new();
        for (index, notice) in spec.years.iter().enumerate() {
            notice
                .validate(&spec.weekend)
                .map_err(|error| CalendarError::Notice {
                    index,
                    year: notice.year,
                    error,
                })?;
            if !covered.insert(notice.year) {
                return Err(CalendarError::DuplicateYear {
                    index,
                    year: notice.year,
                });
            }
        }

        let mut holidays = HashSet::new();
        for n in &spec.years {
            for h in &n.holidays {
                holidays.extend(h.start.iter_days().take_while(|d| *d <= h.end));
            }
        }
        for h in &spec.holidays {
            if h.end < h.start {
                return Err(CalendarError::BadHolidayRange {
                    name: h.name_en.clone(),
                    start: h.start,
                    end: h.end,
                });
            }
            let days = (h.end - h.start).num_days() + 1;
            if days > MAX_HOLIDAY_RANGE_DAYS {
                return Err(CalendarError::HolidayRangeTooLong {
                    name: h.name_en.clone(),
                    days,
                    max: MAX_HOLIDAY_RANGE_DAYS,
                });
            }
            holidays.extend(h.start.iter_days().take_while(|d| *d <= h.end));
        }
        let makeup: HashSet<NaiveDate> = spec
            .years
            .iter()
            .flat_map(|n| n.makeup_workdays.iter())
            .chain(&spec.makeup_workdays)
            .copied()
            .collect();
        let mut special: BTreeSet<NaiveDate> = holidays.iter().copied().collect();
        for d in &makeup {
            if holidays.contains(d) {
                return Err(CalendarError::ConflictingDay(*d));
            }
            special.insert(*d);
        }

        let day_secs: u32 = periods.iter().map(|(s, e)| e - s).sum();
        let day_len = Duration::seconds(i64::from(day_secs));
        // At most 7 × 86 400 seconds, far below any overflow.
        let week_len = Duration::seconds(i64::from(day_secs) * working_weekdays as i64);

        Ok(WorkCalendar {
            spec: spec.clone(),
            tz,
            periods,
            weekend,
            holidays,
            makeup,
            special,
            covered,
            day_len,
            week_len,
        })
    }

    /// Parses and validates a calendar data file.
    pub fn from_json(s: &str) -> Result<Self, CalendarError> {
        let spec: CalendarSpec = serde_json::from_str(s)?;
        WorkCalendar::from_spec(&spec)
    }

    /// The embedded 2026 mainland China calendar (State Council holiday arrangement,
    /// default periods 08:30–12:00 and 13:30–17:30, Asia/Shanghai).
    pub fn china_2026() -> Self {
        // The embedded file is checked by a unit test; should it ever fail to load, fall back
        // to the same periods with plain weekends rather than panicking.
        WorkCalendar::from_json(CHINA_2026_JSON).unwrap_or_else(|_| fallback_calendar())
    }

    /// The spec this calendar was built from (upgraded, see [`CalendarSpec::upgrade_legacy`]).
    pub fn spec(&self) -> &CalendarSpec {
        &self.spec
    }

    /// The years with a loaded State Council notice, ascending.
    pub fn covered_years(&self) -> impl Iterator<Item = i32> + '_ {
        self.covered.iter().copied()
    }

    /// Whether `year` has a loaded notice (its holidays and make-up days are known).
    pub fn covers(&self, year: i32) -> bool {
        self.covered.contains(&year)
    }

    /// The coverage report as of local day `today`.
    pub fn coverage(&self, today: NaiveDate) -> Coverage {
        Coverage::of(self.covered_years(), today)
    }

    /// The coverage report as of instant `now` (its local day in the calendar's zone).
    pub fn coverage_at(&self, now: DateTime<Utc>) -> Coverage {
        self.coverage(self.local_date(now))
    }

    /// Whether any local day from `a`'s to `b`'s lies in a year without a notice, i.e.
    /// working time between them was counted on weekends only.
    pub fn weekends_only_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> bool {
        let (from, to) = (
            self.local_date(a.min(b)).year(),
            self.local_date(a.max(b)).year(),
        );
        // Short-circuits at the first uncovered year, so at most MAX_CALENDAR_YEARS + 1 steps.
        (from..=to).any(|y| !self.covers(y))
    }

    /// The calendar's time zone.
    pub fn tz(&self) -> Tz {
        self.tz
    }

    /// Whether `d` (a local date) is a working day: make-up days override the weekend,
    /// holidays override weekdays. Dates outside the holiday data follow the weekend only.
    pub fn is_working_day(&self, d: NaiveDate) -> bool {
        if self.makeup.contains(&d) {
            return true;
        }
        if self.holidays.contains(&d) {
            return false;
        }
        !self.weekend[d.weekday().num_days_from_monday() as usize]
    }

    /// Whether `t` falls inside a working period of a working day (period start inclusive,
    /// period end exclusive).
    pub fn is_working_instant(&self, t: DateTime<Utc>) -> bool {
        let d = self.local_date(t);
        self.is_working_day(d) && self.day_segments(d).any(|(s, e)| s <= t && t < e)
    }

    /// The nominal length of one working day: the sum of the periods (7.5 hours for the
    /// default calendar). "N working days" limits are N times this.
    pub fn working_day_length(&self) -> Duration {
        self.day_len
    }

    /// The instant when `amount` of working time has elapsed after `start`.
    ///
    /// If `start` is in non-working time, counting begins at the next period start. When
    /// the amount is used up exactly at a period's end, that period end is returned (never
    /// a later period start). A zero or negative amount returns `start` unchanged. Results
    /// beyond chrono's range saturate at `DateTime::<Utc>::MAX_UTC`.
    ///
    /// Runs in time proportional to the number of days that hold holidays or make-up days
    /// in the span, not to the amount: plain weeks are skipped in one step.
    pub fn add_working(&self, start: DateTime<Utc>, amount: Duration) -> DateTime<Utc> {
        if amount <= Duration::zero() {
            return start;
        }
        let mut remaining = amount;
        let first = self.local_date(start);
        if let Some(t) = self.consume_day(first, start, &mut remaining) {
            return t;
        }
        let Some(mut day) = first.succ_opt() else {
            return DateTime::<Utc>::MAX_UTC;
        };
        loop {
            let weeks = self.plain_weeks_from(day).min(self.weeks_within(remaining));
            if weeks > 0 {
                let Some(next) = add_weeks(day, weeks) else {
                    return DateTime::<Utc>::MAX_UTC;
                };
                day = next;
                remaining =
                    from_nanos(to_nanos(remaining) - to_nanos(self.week_len) * i128::from(weeks));
            }
            if let Some(t) = self.consume_day(day, start, &mut remaining) {
                return t;
            }
            match day.succ_opt() {
                Some(next) => day = next,
                None => return DateTime::<Utc>::MAX_UTC,
            }
        }
    }

    /// The working time between `a` and `b`; zero if `b <= a`.
    ///
    /// The inverse of [`WorkCalendar::add_working`]:
    /// `working_between(s, add_working(s, d)) == d` for any positive `d` in range.
    pub fn working_between(&self, a: DateTime<Utc>, b: DateTime<Utc>) -> Duration {
        if b <= a {
            return Duration::zero();
        }
        let last = self.local_date(b);
        let mut day = self.local_date(a);
        let mut total: i128 = 0;
        loop {
            total += to_nanos(self.working_in_day(day, a, b));
            if day >= last {
                break;
            }
            let Some(mut next) = day.succ_opt() else {
                break;
            };
            // Days strictly between the first and the last are whole days: skip plain weeks.
            let whole_days_left = (last - next).num_days();
            let weeks = self.plain_weeks_from(next).min(whole_days_left / 7);
            if weeks > 0 {
                if let Some(after) = add_weeks(next, weeks) {
                    total += to_nanos(self.week_len) * i128::from(weeks);
                    next = after;
                }
            }
            day = next;
        }
        from_nanos(total)
    }

    /// Adds `amount` in the given mode: working time, or plain addition in clock mode
    /// (saturating at chrono's range).
    pub fn add(&self, mode: TimeMode, start: DateTime<Utc>, amount: Duration) -> DateTime<Utc> {
        match mode {
            TimeMode::Working => self.add_working(start, amount),
            TimeMode::Clock => {
                start
                    .checked_add_signed(amount)
                    .unwrap_or(if amount > Duration::zero() {
                        DateTime::<Utc>::MAX_UTC
                    } else {
                        DateTime::<Utc>::MIN_UTC
                    })
            }
        }
    }

    /// The time between `a` and `b` in the given mode; zero if `b <= a`.
    pub fn between(&self, mode: TimeMode, a: DateTime<Utc>, b: DateTime<Utc>) -> Duration {
        match mode {
            TimeMode::Working => self.working_between(a, b),
            TimeMode::Clock if b <= a => Duration::zero(),
            TimeMode::Clock => b - a,
        }
    }

    /// The local date of an instant in the calendar's zone.
    fn local_date(&self, t: DateTime<Utc>) -> NaiveDate {
        let utc = t.naive_utc();
        let offset = self
            .tz
            .offset_from_utc_datetime(&utc)
            .fix()
            .local_minus_utc();
        utc.checked_add_signed(Duration::seconds(i64::from(offset)))
            .unwrap_or(utc)
            .date()
    }

    /// The UTC instant of a local wall-clock time. Ambiguous times (DST fall-back) take the
    /// earlier instant; nonexistent times (DST gap) are shifted later by the gap's length.
    fn local_to_utc(&self, local: NaiveDateTime) -> DateTime<Utc> {
        let offset = match self.tz.offset_from_local_datetime(&local) {
            LocalResult::Single(o) | LocalResult::Ambiguous(o, _) => o.fix().local_minus_utc(),
            LocalResult::None => {
                let before = local.checked_sub_signed(Duration::days(1)).unwrap_or(local);
                self.tz
                    .offset_from_utc_datetime(&before)
                    .fix()
                    .local_minus_utc()
            }
        };
        match local.checked_sub_signed(Duration::seconds(i64::from(offset))) {
            Some(utc) => utc.and_utc(),
            None if offset > 0 => DateTime::<Utc>::MIN_UTC,
            None => DateTime::<Utc>::MAX_UTC,
        }
    }

    /// The working periods of local date `d` as UTC intervals (ignores whether `d` is a
    /// working day).
    fn day_segments(
        &self,
        d: NaiveDate,
    ) -> impl Iterator<Item = (DateTime<Utc>, DateTime<Utc>)> + '_ {
        let midnight = d.and_time(chrono::NaiveTime::MIN);
        self.periods.iter().filter_map(move |&(s, e)| {
            let at = |secs: u32| {
                midnight
                    .checked_add_signed(Duration::seconds(i64::from(secs)))
                    .map(|local| self.local_to_utc(local))
                    .unwrap_or(DateTime::<Utc>::MAX_UTC)
            };
            let (start, end) = (at(s), at(e));
            (start < end).then_some((start, end))
        })
    }

    /// Working time of local date `d` that lies inside `[lo, hi]`.
    fn working_in_day(&self, d: NaiveDate, lo: DateTime<Utc>, hi: DateTime<Utc>) -> Duration {
        if !self.is_working_day(d) {
            return Duration::zero();
        }
        self.day_segments(d)
            .map(|(s, e)| {
                let (from, to) = (s.max(lo), e.min(hi));
                if to > from {
                    to - from
                } else {
                    Duration::zero()
                }
            })
            .fold(Duration::zero(), |acc, x| acc + x)
    }

    /// Consumes the working time of local date `d` after `from`; returns the landing instant
    /// once `remaining` is used up.
    fn consume_day(
        &self,
        d: NaiveDate,
        from: DateTime<Utc>,
        remaining: &mut Duration,
    ) -> Option<DateTime<Utc>> {
        if !self.is_working_day(d) {
            return None;
        }
        for (s, e) in self.day_segments(d) {
            let s = s.max(from);
            if e <= s {
                continue;
            }
            let available = e - s;
            if *remaining <= available {
                return Some(s.checked_add_signed(*remaining).unwrap_or(e));
            }
            *remaining -= available;
        }
        None
    }

    /// How many whole weeks from `day` contain no holiday and no make-up day.
    fn plain_weeks_from(&self, day: NaiveDate) -> i64 {
        match self.special.range(day..).next() {
            Some(next_special) => (*next_special - day).num_days() / 7,
            None => i64::MAX / 7,
        }
    }

    /// How many plain weeks fit in `remaining` while leaving a positive remainder, so the
    /// landing instant is still found by the day-by-day walk.
    fn weeks_within(&self, remaining: Duration) -> i64 {
        let week = to_nanos(self.week_len);
        if week <= 0 {
            return 0;
        }
        let weeks = (to_nanos(remaining) - 1) / week;
        i64::try_from(weeks.max(0)).unwrap_or(i64::MAX)
    }
}

impl TimeLimit {
    /// Working units run on [`TimeMode::Working`], natural units on [`TimeMode::Clock`].
    pub fn mode(&self) -> TimeMode {
        match self.unit {
            LimitUnit::WorkingHours | LimitUnit::WorkingDays => TimeMode::Working,
            LimitUnit::ClockHours | LimitUnit::NaturalDays => TimeMode::Clock,
        }
    }

    /// The limit as a duration in its mode: working days are
    /// `amount × cal.working_day_length()`, natural days are 24 clock hours each.
    pub fn duration(&self, cal: &WorkCalendar) -> Duration {
        let amount = i64::from(self.amount);
        match self.unit {
            LimitUnit::WorkingHours | LimitUnit::ClockHours => Duration::hours(amount),
            LimitUnit::WorkingDays => {
                from_nanos(to_nanos(cal.working_day_length()) * i128::from(amount))
            }
            LimitUnit::NaturalDays => Duration::days(amount),
        }
    }

    /// Parses a limit as Chinese tables write it: `4工作时`, `4个工作小时`, `2工作日`,
    /// `3个工作日`, `24小时`, `3自然日`. Spaces around the number are allowed, full-width
    /// digits are accepted. Bare `天` is rejected as ambiguous.
    pub fn parse_zh(s: &str) -> Result<TimeLimit, CalendarError> {
        let bad = || CalendarError::BadTimeLimit(s.to_owned());
        let text = s.trim();
        let digits_end = text
            .char_indices()
            .find(|(_, c)| digit_value(*c).is_none())
            .map_or(text.len(), |(i, _)| i);
        let (number, rest) = text.split_at(digits_end);
        if number.is_empty() {
            return Err(bad());
        }
        let mut amount: u32 = 0;
        for c in number.chars() {
            let digit = digit_value(c).ok_or_else(bad)?;
            amount = amount
                .checked_mul(10)
                .and_then(|a| a.checked_add(digit))
                .ok_or_else(bad)?;
        }
        let unit_text = rest.trim();
        let unit_text = unit_text.strip_prefix('个').unwrap_or(unit_text);
        let unit = match unit_text {
            "工作时" | "工作小时" => LimitUnit::WorkingHours,
            "工作日" => LimitUnit::WorkingDays,
            "小时" | "自然小时" => LimitUnit::ClockHours,
            "自然日" => LimitUnit::NaturalDays,
            _ => return Err(bad()),
        };
        Ok(TimeLimit { amount, unit })
    }
}

impl fmt::Display for TimeLimit {
    /// Formats the canonical Chinese form that [`TimeLimit::parse_zh`] reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.unit {
            LimitUnit::WorkingHours => "工作时",
            LimitUnit::WorkingDays => "工作日",
            LimitUnit::ClockHours => "小时",
            LimitUnit::NaturalDays => "自然日",
        };
        write!(f, "{}{}", self.amount, unit)
    }
}

impl StageClock {
    /// Starts a clock at `started_at` with `limit` (whole seconds; negative limits count as 0).
    pub fn start(mode: TimeMode, started_at: DateTime<Utc>, limit: Duration) -> Self {
        StageClock {
            mode,
            started_at,
            limit_secs: limit.num_seconds().max(0),
            extension_secs: 0,
            paused_secs: 0,
            paused_since: None,
        }
    }

    /// Whether the clock is paused now.
    pub fn is_paused(&self) -> bool {
        self.paused_since.is_some()
    }

    /// Pauses the clock (挂账). Idempotent: pausing a paused clock keeps the first pause.
    pub fn pause(&mut self, at: DateTime<Utc>) {
        if self.paused_since.is_none() {
            self.paused_since = Some(at);
        }
    }

    /// Resumes a paused clock, adding the paused span (in the clock's mode) to
    /// `paused_secs`. Does nothing when the clock is running.
    pub fn resume(&mut self, cal: &WorkCalendar, at: DateTime<Utc>) {
        if let Some(since) = self.paused_since.take() {
            let span = cal.between(self.mode, since, at).num_seconds();
            self.paused_secs = self.paused_secs.saturating_add(span);
        }
    }

    /// Extends the limit (an approved 延期).
    pub fn extend(&mut self, by: Duration) {
        self.extension_secs = self.extension_secs.saturating_add(by.num_seconds());
    }

    /// The time allowed in total: limit plus extensions.
    pub fn allowed(&self) -> Duration {
        secs(self.limit_secs.saturating_add(self.extension_secs))
    }

    /// Time used so far, in the clock's mode, excluding paused time. Frozen while paused.
    pub fn elapsed(&self, cal: &WorkCalendar, now: DateTime<Utc>) -> Duration {
        let until = match self.paused_since {
            Some(since) => since.min(now),
            None => now,
        };
        let gross = cal.between(self.mode, self.started_at, until);
        let net = gross - secs(self.paused_secs.max(0)).min(gross);
        net.max(Duration::zero())
    }

    /// The deadline: `started_at` plus limit, extensions and finished pauses, in the clock's
    /// mode. While paused, this is the deadline as of the pause (the current pause is not
    /// counted until it ends).
    pub fn deadline(&self, cal: &WorkCalendar) -> DateTime<Utc> {
        let total = self
            .limit_secs
            .saturating_add(self.extension_secs)
            .saturating_add(self.paused_secs);
        cal.add(self.mode, self.started_at, secs(total))
    }

    /// Green below 80% of the allowed time, yellow from 80% to 100% inclusive, red above
    /// 100%. With nothing allowed, any elapsed time is red.
    pub fn light(&self, cal: &WorkCalendar, now: DateTime<Utc>) -> Light {
        let used = to_nanos(self.elapsed(cal, now));
        let allowed = to_nanos(self.allowed());
        if used * 5 < allowed * 4 {
            Light::Green
        } else if used <= allowed {
            Light::Yellow
        } else {
            Light::Red
        }
    }

    /// Whether more time has been used than allowed (the red light). In working mode a
    /// stage is not overdue before working time past its deadline has elapsed.
    pub fn is_overdue(&self, cal: &WorkCalendar, now: DateTime<Utc>) -> bool {
        self.light(cal, now) == Light::Red
    }

    /// Whether the deadline was computed on weekends only because the working time from
    /// the start to the deadline reaches into a year without a loaded notice (holidays and
    /// 调休 days unknown). Always false on natural clock time. Derived from the current
    /// calendar, so it clears once the year's notice is loaded.
    pub fn deadline_weekends_only(&self, cal: &WorkCalendar) -> bool {
        self.mode == TimeMode::Working
            && cal.weekends_only_between(self.started_at, self.deadline(cal))
    }
}

impl CalendarSpec {
    /// Upgrades a calendar stored before year notices existed: when `years` is empty and
    /// the district's own days contain every holiday and make-up day of the embedded 2026
    /// notice, those days move into that notice (so the calendar covers 2026, as it did).
    /// Anything else is left as it is: such a calendar covers no year until a notice is
    /// loaded. Idempotent.
    pub fn upgrade_legacy(mut self) -> Self {
        if !self.years.is_empty() {
            return self;
        }
        let Some(notice) = serde_json::from_str::<CalendarSpec>(CHINA_2026_JSON)
            .ok()
            .and_then(|s| s.years.into_iter().next())
        else {
            return self;
        };
        let contains_all = notice.holidays.iter().all(|h| self.holidays.contains(h))
            && notice
                .makeup_workdays
                .iter()
                .all(|d| self.makeup_workdays.contains(d));
        if !contains_all {
            return self;
        }
        self.holidays.retain(|h| !notice.holidays.contains(h));
        self.makeup_workdays
            .retain(|d| !notice.makeup_workdays.contains(d));
        self.years.push(notice);
        self
    }
}

/// The embedded calendar's periods with plain Saturday/Sunday weekends.
fn fallback_calendar() -> WorkCalendar {
    let periods = vec![
        (8 * 3600 + 1800, 12 * 3600),
        (13 * 3600 + 1800, 17 * 3600 + 1800),
    ];
    let day_secs: u32 = periods.iter().map(|(s, e)| e - s).sum();
    let mut weekend = [false; 7];
    weekend[5] = true;
    weekend[6] = true;
    WorkCalendar {
        spec: CalendarSpec {
            name: "fallback (weekends only)".to_owned(),
            timezone: "Asia/Shanghai".to_owned(),
            periods: periods
                .iter()
                .map(|&(s, e)| Period {
                    start: TimeOfDay(s),
                    end: TimeOfDay(e),
                })
                .collect(),
            periods_note: String::new(),
            weekend: vec![Weekday::Sat, Weekday::Sun],
            holidays: Vec::new(),
            makeup_workdays: Vec::new(),
            source: String::new(),
            years: Vec::new(),
        },
        tz: chrono_tz::Asia::Shanghai,
        periods,
        weekend,
        holidays: HashSet::new(),
        makeup: HashSet::new(),
        special: BTreeSet::new(),
        covered: BTreeSet::new(),
        day_len: Duration::seconds(i64::from(day_secs)),
        week_len: Duration::seconds(i64::from(day_secs) * 5),
    }
}

/// `d + 7 × weeks` days, `None` beyond chrono's range.
fn add_weeks(d: NaiveDate, weeks: i64) -> Option<NaiveDate> {
    let days = u64::try_from(weeks).ok()?.checked_mul(7)?;
    d.checked_add_days(Days::new(days))
}

/// Whole seconds as a duration, saturating at chrono's bounds.
fn secs(n: i64) -> Duration {
    Duration::try_seconds(n).unwrap_or(if n > 0 { Duration::MAX } else { Duration::MIN })
}

fn to_nanos(d: Duration) -> i128 {
    i128::from(d.num_seconds()) * NANOS_PER_SEC + i128::from(d.subsec_nanos())
}

/// Nanoseconds as a duration, saturating at chrono's bounds.
fn from_nanos(n: i128) -> Duration {
    let whole = n.div_euclid(NANOS_PER_SEC);
    let frac = n.rem_euclid(NANOS_PER_SEC);
    match (i64::try_from(whole), i64::try_from(frac)) {
        (Ok(s), Ok(ns)) => Duration::try_seconds(s)
            .and_then(|d| d.checked_add(&Duration::nanoseconds(ns)))
            .unwrap_or(if n > 0 { Duration::MAX } else { Duration::MIN }),
        _ if n > 0 => Duration::MAX,
        _ => Duration::MIN,
    }
}

/// The value of an ASCII or full-width decimal digit.
fn digit_value(c: char) -> Option<u32> {
    match c {
        '0'..='9' => Some(c as u32 - '0' as u32),
        '０'..='９' => Some(c as u32 - '０' as u32),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::Timelike;
    use proptest::prelude::*;

    fn cal() -> WorkCalendar {
        WorkCalendar::china_2026()
    }

    /// A Shanghai wall-clock time as a UTC instant.
    fn local(y: i32, m: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        chrono_tz::Asia::Shanghai
            .with_ymd_and_hms(y, m, d, h, mi, 0)
            .single()
            .expect("valid Shanghai time")
            .with_timezone(&Utc)
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).expect("valid date")
    }

    fn hours(h: i64) -> Duration {
        Duration::hours(h)
    }

    fn minutes(m: i64) -> Duration {
        Duration::minutes(m)
    }

    fn spec_json(periods: &str, weekend: &str, extra: &str) -> String {
        format!(
            r#"{{"name":"t","timezone":"Asia/Shanghai","periods":{periods},"weekend":{weekend},
                "holidays":[],"makeup_workdays":[],"source":"test"{extra}}}"#
        )
    }

    /// Whether `t` lies within `[period start, period end]` of a working day, computed from
    /// the spec independently of the calendar's own segment code.
    fn within_closed_period(cal: &WorkCalendar, t: DateTime<Utc>) -> bool {
        let local = t.with_timezone(&cal.tz());
        let secs = local.time().num_seconds_from_midnight();
        let has_nanos = local.time().nanosecond() > 0;
        cal.is_working_day(local.date_naive())
            && cal.spec().periods.iter().any(|p| {
                let (s, e) = (
                    p.start.seconds_from_midnight(),
                    p.end.seconds_from_midnight(),
                );
                s <= secs && (secs < e || (secs == e && !has_nanos))
            })
    }

    #[test]
    fn embedded_china_2026_file_parses_with_the_notice_data() {
        let parsed = WorkCalendar::from_json(CHINA_2026_JSON).expect("embedded calendar parses");
        let spec = parsed.spec();
        assert_eq!(spec.timezone, "Asia/Shanghai");
        assert_eq!(parsed.tz(), chrono_tz::Asia::Shanghai);
        assert_eq!(spec.years.len(), 1);
        let notice = &spec.years[0];
        assert_eq!(notice.year, 2026);
        assert_eq!(notice.holidays.len(), 7);
        assert_eq!(notice.makeup_workdays.len(), 6);
        assert!(notice.source.contains("关于2026年部分节假日安排的通知"));
        assert!(spec.holidays.is_empty() && spec.makeup_workdays.is_empty());
        assert!(spec.periods_note.contains("[U]"));
        assert!(notice
            .holidays
            .iter()
            .all(|h| !h.name_zh.is_empty() && !h.name_en.is_empty()));
        assert_eq!(parsed.covered_years().collect::<Vec<_>>(), vec![2026]);
        assert_eq!(parsed.working_day_length(), minutes(7 * 60 + 30));
        assert_eq!(cal().spec(), spec);
    }

    #[test]
    fn deadline_across_the_lunch_break_resumes_after_lunch() {
        let start = local(2026, 3, 16, 11, 0);
        assert_eq!(
            cal().add_working(start, hours(2)),
            local(2026, 3, 16, 14, 30)
        );
    }

    #[test]
    fn amount_used_up_at_a_period_end_returns_that_end_not_the_next_start() {
        let c = cal();
        assert_eq!(
            c.add_working(local(2026, 3, 16, 11, 0), hours(1)),
            local(2026, 3, 16, 12, 0)
        );
        // Friday 16:30 + 1h is Friday 17:30, not Monday 08:30.
        assert_eq!(
            c.add_working(local(2026, 3, 13, 16, 30), hours(1)),
            local(2026, 3, 13, 17, 30)
        );
    }

    #[test]
    fn deadline_across_a_weekend_resumes_on_monday() {
        // 2026-03-13 is a Friday.
        let start = local(2026, 3, 13, 16, 30);
        assert_eq!(
            cal().add_working(start, hours(4)),
            local(2026, 3, 16, 11, 30)
        );
    }

    #[test]
    fn national_day_week_2026_is_skipped_and_lands_on_thursday_oct_8() {
        let start = local(2026, 9, 30, 16, 0);
        // 1.5h on Sep 30, Oct 1-7 off, then 2.5h on Thursday Oct 8.
        assert_eq!(
            cal().add_working(start, hours(4)),
            local(2026, 10, 8, 11, 0)
        );
    }

    #[test]
    fn makeup_workdays_of_2026_are_working_days_even_on_weekends() {
        let c = cal();
        for d in [
            date(2026, 1, 4),
            date(2026, 2, 14),
            date(2026, 2, 28),
            date(2026, 5, 9),
            date(2026, 9, 20),
            date(2026, 10, 10),
        ] {
            assert!(c.is_working_day(d), "{d} is a make-up working day");
        }
        assert_eq!(date(2026, 9, 20).weekday(), Weekday::Sun);
        assert_eq!(date(2026, 10, 10).weekday(), Weekday::Sat);
        assert!(c.is_working_instant(local(2026, 10, 10, 9, 0)));
        // Friday Oct 9 17:00 + 1h runs into Saturday Oct 10 (make-up day).
        assert_eq!(
            c.add_working(local(2026, 10, 9, 17, 0), hours(1)),
            local(2026, 10, 10, 9, 0)
        );
        // An ordinary Saturday is still off.
        assert!(!c.is_working_day(date(2026, 3, 14)));
    }

    #[test]
    fn holidays_of_2026_are_days_off_even_on_weekdays() {
        let c = cal();
        for (start, end) in [
            (date(2026, 1, 1), date(2026, 1, 3)),
            (date(2026, 2, 15), date(2026, 2, 23)),
            (date(2026, 4, 4), date(2026, 4, 6)),
            (date(2026, 5, 1), date(2026, 5, 5)),
            (date(2026, 6, 19), date(2026, 6, 21)),
            (date(2026, 9, 25), date(2026, 9, 27)),
            (date(2026, 10, 1), date(2026, 10, 7)),
        ] {
            for d in start.iter_days().take_while(|d| *d <= end) {
                assert!(!c.is_working_day(d), "{d} is a holiday");
            }
        }
        assert!(c.is_working_day(date(2026, 10, 8)));
        assert!(c.is_working_day(date(2026, 2, 24)));
        assert!(!c.is_working_instant(local(2026, 10, 1, 9, 0)));
    }

    #[test]
    fn dates_outside_the_holiday_data_follow_weekends_only() {
        let c = cal();
        assert!(
            c.is_working_day(date(2027, 1, 1)),
            "no 2027 data: a Friday works"
        );
        assert!(
            c.is_working_day(date(2025, 10, 1)),
            "no 2025 data: a Wednesday works"
        );
        assert!(
            !c.is_working_day(date(2027, 1, 2)),
            "Saturdays are off in every year"
        );
        assert!(
            !c.is_working_day(date(2025, 12, 28)),
            "Sundays are off in every year"
        );
    }

    #[test]
    fn start_in_non_working_time_begins_counting_at_the_next_period() {
        let c = cal();
        // Saturday 03:00 + 1h: counting starts Monday 08:30.
        assert_eq!(
            c.add_working(local(2026, 3, 14, 3, 0), hours(1)),
            local(2026, 3, 16, 9, 30)
        );
        // During lunch.
        assert_eq!(
            c.add_working(local(2026, 3, 16, 12, 30), minutes(30)),
            local(2026, 3, 16, 14, 0)
        );
        // In the evening.
        assert_eq!(
            c.add_working(local(2026, 3, 16, 20, 0), minutes(30)),
            local(2026, 3, 17, 9, 0)
        );
        // Before the first period of a working day.
        assert_eq!(
            c.add_working(local(2026, 3, 16, 6, 0), minutes(30)),
            local(2026, 3, 16, 9, 0)
        );
    }

    #[test]
    fn working_instant_includes_period_start_and_excludes_period_end() {
        let c = cal();
        assert!(c.is_working_instant(local(2026, 3, 16, 8, 30)));
        assert!(!c.is_working_instant(local(2026, 3, 16, 12, 0)));
        assert!(!c.is_working_instant(local(2026, 3, 16, 8, 29)));
        assert!(c.is_working_instant(local(2026, 3, 16, 17, 29)));
        assert!(!c.is_working_instant(local(2026, 3, 16, 17, 30)));
    }

    #[test]
    fn zero_or_negative_amount_returns_start_unchanged() {
        let c = cal();
        let sat = local(2026, 3, 14, 3, 0);
        assert_eq!(c.add_working(sat, Duration::zero()), sat);
        assert_eq!(c.add_working(sat, hours(-3)), sat);
    }

    #[test]
    fn working_between_is_the_inverse_of_add_working() {
        let c = cal();
        let starts = [
            local(2026, 3, 16, 11, 0),
            local(2026, 3, 14, 3, 0),
            local(2026, 9, 30, 16, 0),
            local(2026, 2, 13, 17, 0),
            local(2025, 12, 31, 23, 59),
        ];
        for start in starts {
            for amount in [
                minutes(1),
                hours(1),
                hours(4),
                hours(30),
                hours(7 * 60 + 30),
            ] {
                let end = c.add_working(start, amount);
                assert_eq!(c.working_between(start, end), amount, "{start} + {amount}");
            }
        }
        assert_eq!(
            c.working_between(local(2026, 3, 16, 11, 0), local(2026, 3, 16, 14, 30)),
            hours(2)
        );
        assert_eq!(
            c.working_between(local(2026, 3, 16, 14, 0), local(2026, 3, 16, 10, 0)),
            Duration::zero()
        );
        assert_eq!(
            c.working_between(local(2026, 10, 1, 0, 0), local(2026, 10, 8, 0, 0)),
            Duration::zero()
        );
    }

    #[test]
    fn working_days_limit_is_a_multiple_of_the_working_day_length() {
        let c = cal();
        let two_days = TimeLimit::parse_zh("2工作日").expect("valid limit");
        assert_eq!(two_days.duration(&c), hours(15));
        // Monday 08:30 + 2 working days ends Tuesday 17:30.
        let end = c.add(
            two_days.mode(),
            local(2026, 3, 16, 8, 30),
            two_days.duration(&c),
        );
        assert_eq!(end, local(2026, 3, 17, 17, 30));
    }

    #[test]
    fn year_long_and_century_long_limits_are_computed_by_skipping_plain_weeks() {
        let c = cal();
        let start = local(2026, 1, 5, 8, 30);
        let working_days_2026 = date(2026, 1, 1)
            .iter_days()
            .take_while(|d| d.year() == 2026)
            .filter(|d| c.is_working_day(*d))
            .count();
        // 261 weekdays, minus 19 weekday holidays, plus 6 make-up days.
        assert_eq!(working_days_2026, 248);
        // From Monday Jan 5 (after the Jan 4 make-up day) 247 working days remain in 2026.
        let rest_of_year = c.working_day_length() * 247;
        let end = c.add_working(start, rest_of_year);
        assert_eq!(end, local(2026, 12, 31, 17, 30));
        assert_eq!(c.working_between(start, end), rest_of_year);
        // Three more run into 2027 (no holiday data yet): Fri Jan 1, Mon Jan 4, Tue Jan 5.
        let year = c.working_day_length() * 250;
        let end = c.add_working(start, year);
        assert_eq!(end, local(2027, 1, 5, 17, 30));
        assert_eq!(c.working_between(start, end), year);
        let century = c.working_day_length() * 26_000;
        let far = c.add_working(start, century);
        assert_eq!(c.working_between(start, far), century);
        assert!(within_closed_period(&c, far));
    }

    #[test]
    fn extreme_inputs_saturate_instead_of_panicking() {
        let c = cal();
        let max = DateTime::<Utc>::MAX_UTC;
        let min = DateTime::<Utc>::MIN_UTC;
        assert_eq!(c.add_working(local(2026, 3, 16, 9, 0), Duration::MAX), max);
        assert_eq!(c.add_working(min, Duration::MAX), max);
        assert_eq!(c.add_working(max, hours(1)), max);
        let _ = c.add_working(min, hours(1));
        assert!(c.working_between(min, max) > Duration::zero());
        let _ = c.is_working_instant(min);
        let _ = c.is_working_instant(max);
        assert_eq!(c.add(TimeMode::Clock, max, hours(1)), max);
        assert_eq!(c.add(TimeMode::Clock, min, hours(-1)), min);
        let mut clock =
            StageClock::start(TimeMode::Working, local(2026, 3, 16, 9, 0), Duration::MAX);
        clock.extend(Duration::MAX);
        assert_eq!(clock.deadline(&c), max);
        assert_eq!(clock.light(&c, max), Light::Green);
    }

    #[test]
    fn clock_mode_ignores_the_calendar() {
        let c = cal();
        let sat = local(2026, 10, 3, 3, 0);
        assert_eq!(
            c.add(TimeMode::Clock, sat, hours(24)),
            local(2026, 10, 4, 3, 0)
        );
        assert_eq!(
            c.between(TimeMode::Clock, sat, local(2026, 10, 4, 3, 0)),
            hours(24)
        );
        assert_eq!(
            c.between(TimeMode::Clock, local(2026, 10, 4, 3, 0), sat),
            Duration::zero()
        );
        assert_eq!(
            c.add(TimeMode::Working, sat, hours(1)),
            local(2026, 10, 8, 9, 30)
        );
        let limit = TimeLimit::parse_zh("24小时").expect("valid limit");
        assert_eq!(limit.mode(), TimeMode::Clock);
        assert_eq!(limit.duration(&c), hours(24));
    }

    #[test]
    fn touching_periods_are_merged_and_spec_round_trips_through_json() {
        let json = spec_json(
            r#"[{"start":"13:00","end":"18:00"},{"start":"09:00","end":"13:00"}]"#,
            r#"["Sat","Sun"]"#,
            "",
        );
        let c = WorkCalendar::from_json(&json).expect("touching periods are fine");
        assert_eq!(c.working_day_length(), hours(9));
        assert!(c.is_working_instant(local(2026, 3, 16, 13, 0)));
        let again = serde_json::to_string(c.spec()).expect("spec serializes");
        assert!(again.contains(r#""start":"13:00""#));
        let back = WorkCalendar::from_json(&again).expect("round trip");
        assert_eq!(back.spec(), c.spec());
        let all_day = spec_json(r#"[{"start":"00:00","end":"24:00"}]"#, "[]", "");
        let c24 = WorkCalendar::from_json(&all_day).expect("24h periods are fine");
        assert_eq!(
            c24.add_working(local(2026, 3, 14, 3, 0), hours(24)),
            local(2026, 3, 15, 3, 0)
        );
    }

    #[test]
    fn zones_with_daylight_saving_time_keep_wall_clock_periods() {
        let json = spec_json(
            r#"[{"start":"09:00","end":"17:00"}]"#,
            r#"["Sat","Sun"]"#,
            "",
        )
        .replace("Asia/Shanghai", "America/New_York");
        let c = WorkCalendar::from_json(&json).expect("valid calendar");
        let ny = |m: u32, d: u32, h: u32| {
            chrono_tz::America::New_York
                .with_ymd_and_hms(2026, m, d, h, 0, 0)
                .single()
                .expect("valid New York time")
                .with_timezone(&Utc)
        };
        // DST starts Sunday 2026-03-08 and ends Sunday 2026-11-01.
        assert_eq!(c.add_working(ny(3, 6, 16), hours(2)), ny(3, 9, 10));
        assert_eq!(c.add_working(ny(10, 30, 16), hours(2)), ny(11, 2, 10));
        assert!(c.is_working_instant(ny(3, 9, 9)));
        assert!(!c.is_working_instant(ny(3, 9, 8)));
        let start = ny(1, 5, 9);
        for days in [1, 10, 60, 100, 300] {
            let amount = hours(8) * days;
            let end = c.add_working(start, amount);
            assert_eq!(c.working_between(start, end), amount, "{days} days");
            assert_eq!(end.with_timezone(&chrono_tz::America::New_York).hour(), 17);
        }
    }

    #[test]
    fn invalid_specs_are_rejected_with_specific_errors() {
        let err = |json: String| WorkCalendar::from_json(&json).expect_err("must be rejected");
        let weekend = r#"["Sat","Sun"]"#;
        assert!(matches!(
            err(spec_json(
                r#"[{"start":"08:30","end":"12:00"},{"start":"11:00","end":"17:30"}]"#,
                weekend,
                ""
            )),
            CalendarError::OverlappingPeriods { .. }
        ));
        assert!(matches!(
            err(spec_json(
                r#"[{"start":"12:00","end":"12:00"}]"#,
                weekend,
                ""
            )),
            CalendarError::EmptyPeriod { .. }
        ));
        assert!(matches!(
            err(spec_json(
                r#"[{"start":"13:00","end":"12:00"}]"#,
                weekend,
                ""
            )),
            CalendarError::EmptyPeriod { .. }
        ));
        assert!(matches!(
            err(spec_json("[]", weekend, "")),
            CalendarError::NoPeriods
        ));
        assert!(matches!(
            err(spec_json(
                r#"[{"start":"08:30","end":"12:00"}]"#,
                r#"["Mon","Tue","Wed","Thu","Fri","Sat","Sun"]"#,
                ""
            )),
            CalendarError::NoWorkingWeekday
        ));
        assert!(matches!(
            err(spec_json(
                r#"[{"start":"25:00","end":"26:00"}]"#,
                weekend,
                ""
            )),
            CalendarError::Json(_)
        ));
        assert!(matches!(
            err(spec_json(
                r#"[{"start":"8.30","end":"12:00"}]"#,
                weekend,
                ""
            )),
            CalendarError::Json(_)
        ));
        assert!(matches!(
            err(spec_json(
                r#"[{"start":"08:30","end":"12:00"}]"#,
                weekend,
                r#","extra":1"#
            )),
            CalendarError::Json(_)
        ));
        assert!(matches!(
            err("{not json".to_owned()),
            CalendarError::Json(_)
        ));
        let json = spec_json(r#"[{"start":"08:30","end":"12:00"}]"#, weekend, "")
            .replace("Asia/Shanghai", "Mars/Olympus");
        assert!(matches!(err(json), CalendarError::UnknownTimezone(_)));

        let mut spec = cal().spec().clone();
        spec.makeup_workdays.push(date(2026, 10, 1));
        assert!(matches!(
            WorkCalendar::from_spec(&spec),
            Err(CalendarError::ConflictingDay(d)) if d == date(2026, 10, 1)
        ));
        let local_day = |end| HolidayRange {
            name_zh: "区庆".into(),
            name_en: "District day".into(),
            start: date(2026, 12, 1),
            end,
        };
        let mut spec = cal().spec().clone();
        spec.holidays.push(local_day(date(2025, 12, 1)));
        assert!(matches!(
            WorkCalendar::from_spec(&spec),
            Err(CalendarError::BadHolidayRange { .. })
        ));
        let mut spec = cal().spec().clone();
        spec.holidays.push(local_day(date(2030, 1, 1)));
        assert!(matches!(
            WorkCalendar::from_spec(&spec),
            Err(CalendarError::HolidayRangeTooLong { .. })
        ));
        let bad_date = CHINA_2026_JSON.replace("2026-10-10", "2026-02-30");
        assert!(matches!(
            WorkCalendar::from_json(&bad_date),
            Err(CalendarError::Json(_))
        ));
    }

    /// TEST FIXTURE, not official data: the embedded 2026 notice shifted by 53 weeks
    /// (371 days) so every day keeps its weekday and lands inside 2027. There is no 2027
    /// notice in this repository; this only gives tests a well-formed second year.
    fn fixture_2027() -> YearNotice {
        let shift = |d: NaiveDate| d + Days::new(371);
        let real = cal().spec().years[0].clone();
        YearNotice {
            year: 2027,
            source:
                "TEST FIXTURE (not an official notice): the 2026 notice shifted 53 weeks into 2027"
                    .into(),
            holidays: real
                .holidays
                .iter()
                .map(|h| HolidayRange {
                    start: shift(h.start),
                    end: shift(h.end),
                    ..h.clone()
                })
                .collect(),
            makeup_workdays: real.makeup_workdays.iter().copied().map(shift).collect(),
        }
    }

    fn cal_with_2027_fixture() -> WorkCalendar {
        let mut spec = cal().spec().clone();
        spec.years.push(fixture_2027());
        WorkCalendar::from_spec(&spec).expect("the fixture is a valid notice")
    }

    #[test]
    fn the_embedded_calendar_covers_2026_and_only_2026() {
        let c = cal();
        assert!(c.covers(2026));
        assert!(!c.covers(2025));
        assert!(!c.covers(2027));
        let with = cal_with_2027_fixture();
        assert_eq!(with.covered_years().collect::<Vec<_>>(), vec![2026, 2027]);
    }

    #[test]
    fn a_deadline_crossing_into_an_uncovered_2027_runs_on_weekends_only_and_is_marked() {
        let c = cal();
        // Thursday 2026-12-31 16:00 + 5 working days (37.5 h): 1.5 h on Dec 31, then
        // Fri Jan 1 (no 2027 notice: an ordinary Friday), Mon 4, Tue 5, Wed 6 and 6 h of
        // Thursday Jan 7.
        let clock = StageClock::start(
            TimeMode::Working,
            local(2026, 12, 31, 16, 0),
            minutes(5 * 450),
        );
        assert_eq!(clock.deadline(&c), local(2027, 1, 7, 16, 0));
        assert!(clock.deadline_weekends_only(&c));
        assert!(c.weekends_only_between(local(2026, 12, 31, 16, 0), local(2027, 1, 7, 16, 0)));
    }

    #[test]
    fn loading_the_2027_notice_recomputes_the_deadline_with_its_holidays_and_clears_the_mark() {
        let c = cal_with_2027_fixture();
        let clock = StageClock::start(
            TimeMode::Working,
            local(2026, 12, 31, 16, 0),
            minutes(5 * 450),
        );
        // The fixture's 元旦 is Jan 7-9 and Sunday Jan 10 a make-up day: the 6 h left after
        // Wednesday Jan 6 are worked on Sunday Jan 10.
        assert!(!c.is_working_day(date(2027, 1, 7)));
        assert!(c.is_working_day(date(2027, 1, 10)));
        assert_eq!(clock.deadline(&c), local(2027, 1, 10, 16, 0));
        assert!(!clock.deadline_weekends_only(&c));
    }

    #[test]
    fn deadlines_inside_a_covered_year_and_natural_time_deadlines_are_not_marked() {
        let c = cal();
        let inside = StageClock::start(TimeMode::Working, local(2026, 12, 28, 9, 0), hours(8));
        assert_eq!(inside.deadline(&c), local(2026, 12, 29, 9, 30));
        assert!(!inside.deadline_weekends_only(&c));
        let natural = StageClock::start(TimeMode::Clock, local(2026, 12, 31, 16, 0), hours(72));
        assert!(!natural.deadline_weekends_only(&c));
        // A clock that starts in an uncovered year is marked even if short.
        let before = StageClock::start(TimeMode::Working, local(2025, 12, 30, 9, 0), hours(1));
        assert!(before.deadline_weekends_only(&c));
    }

    #[test]
    fn coverage_is_reported_for_the_local_day_in_the_calendar_zone() {
        let c = cal();
        // 2026-12-31T16:30Z is already 1 January 2027 in Shanghai.
        let now = Utc
            .with_ymd_and_hms(2026, 12, 31, 16, 30, 0)
            .single()
            .expect("valid");
        let cov = c.coverage_at(now);
        assert_eq!(cov.today, date(2027, 1, 1));
        assert_eq!(cov.warning, Some(CoverageWarning::Uncovered { year: 2027 }));
        let cov = c.coverage_at(local(2026, 12, 1, 9, 0));
        assert_eq!(cov.days_left, Some(30));
        assert_eq!(
            cov.warning,
            Some(CoverageWarning::EndingSoon { next_year: 2027 })
        );
        assert_eq!(
            cal_with_2027_fixture()
                .coverage_at(local(2026, 12, 1, 9, 0))
                .warning,
            None
        );
    }

    #[test]
    fn a_spec_with_a_bad_or_repeated_notice_is_rejected_naming_the_field() {
        let mut spec = cal().spec().clone();
        spec.years.push(fixture_2027());
        spec.years[1].makeup_workdays.push(date(2027, 3, 3));
        let e = WorkCalendar::from_spec(&spec).expect_err("a Wednesday make-up day");
        assert!(
            matches!(
                e,
                CalendarError::Notice {
                    index: 1,
                    year: 2027,
                    ..
                }
            ),
            "{e}"
        );
        assert_eq!(e.field(), "years[1].makeup_workdays[6]");
        let mut spec = cal().spec().clone();
        spec.years.push(spec.years[0].clone());
        let e = WorkCalendar::from_spec(&spec).expect_err("two notices for 2026");
        assert_eq!(e.field(), "years[1].year");
        // A district make-up day on a notice holiday conflicts.
        let mut spec = cal().spec().clone();
        spec.makeup_workdays.push(date(2026, 10, 3));
        let e = WorkCalendar::from_spec(&spec).expect_err("conflict");
        assert_eq!(e.field(), "makeup_workdays");
    }

    #[test]
    fn a_calendar_stored_before_year_notices_is_upgraded_to_cover_2026() {
        let current = cal().spec().clone();
        let mut legacy = current.clone();
        let notice = legacy.years.remove(0);
        legacy.holidays = notice.holidays.clone();
        legacy.holidays.push(HolidayRange {
            name_zh: "区庆".into(),
            name_en: "District day".into(),
            start: date(2026, 12, 1),
            end: date(2026, 12, 1),
        });
        legacy.makeup_workdays = notice.makeup_workdays.clone();
        let mut json: serde_json::Value = serde_json::to_value(&legacy).expect("serializes");
        json.as_object_mut().expect("object").remove("years");
        let c = WorkCalendar::from_json(&json.to_string()).expect("a legacy document loads");
        assert!(c.covers(2026));
        assert_eq!(c.spec().years, vec![notice]);
        assert_eq!(
            c.spec().holidays.len(),
            1,
            "the district's own day stays its own"
        );
        assert!(!c.is_working_day(date(2026, 12, 1)));
        assert!(!c.is_working_day(date(2026, 10, 1)));
        assert_eq!(c.spec().clone().upgrade_legacy(), *c.spec(), "idempotent");
        // A legacy calendar with other holiday data keeps it but covers no year.
        let mut partial = legacy.clone();
        partial.holidays.remove(0);
        let c = WorkCalendar::from_spec(&partial).expect("loads");
        assert_eq!(c.covered_years().count(), 0);
        assert!(!c.is_working_day(date(2026, 10, 1)));
    }

    #[test]
    fn time_of_day_parses_hh_mm_and_24_00_only() {
        assert_eq!(
            TimeOfDay::parse("08:30")
                .map(|t| t.seconds_from_midnight())
                .ok(),
            Some(30_600)
        );
        assert_eq!(
            TimeOfDay::parse("8:30:15").map(|t| t.to_string()).ok(),
            Some("08:30:15".to_owned())
        );
        assert!(TimeOfDay::parse("24:00").is_ok());
        for bad in [
            "24:01",
            "12:60",
            "12",
            "12:3",
            "a:bc",
            "",
            "-1:00",
            "12:00:00:00",
        ] {
            assert!(TimeOfDay::parse(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn parse_zh_reads_the_limit_forms_used_in_the_standard() {
        let cases = [
            ("4工作时", 4, LimitUnit::WorkingHours),
            ("2工作时", 2, LimitUnit::WorkingHours),
            ("2工作日", 2, LimitUnit::WorkingDays),
            ("5工作日", 5, LimitUnit::WorkingDays),
            ("7工作日", 7, LimitUnit::WorkingDays),
            ("20工作日", 20, LimitUnit::WorkingDays),
            ("1个工作小时", 1, LimitUnit::WorkingHours),
            ("3个工作日", 3, LimitUnit::WorkingDays),
            ("24小时", 24, LimitUnit::ClockHours),
            ("3自然日", 3, LimitUnit::NaturalDays),
            (" 4 工作时 ", 4, LimitUnit::WorkingHours),
            ("４工作时", 4, LimitUnit::WorkingHours),
        ];
        for (text, amount, unit) in cases {
            assert_eq!(
                TimeLimit::parse_zh(text).ok(),
                Some(TimeLimit { amount, unit }),
                "{text:?}"
            );
        }
        assert_eq!(
            TimeLimit::parse_zh("20工作日").map(|l| l.mode()).ok(),
            Some(TimeMode::Working)
        );
    }

    #[test]
    fn parse_zh_rejects_garbage_with_an_error() {
        for bad in [
            "",
            "工作日",
            "4",
            "4工作周",
            "-1工作日",
            "abc",
            "4.5工作时",
            "3天",
            "两工作日",
            "99999999999工作日",
            "4工作时x",
        ] {
            assert!(
                matches!(
                    TimeLimit::parse_zh(bad),
                    Err(CalendarError::BadTimeLimit(_))
                ),
                "{bad:?} must be rejected"
            );
        }
    }

    #[test]
    fn time_limit_display_round_trips_through_parse_zh() {
        for unit in [
            LimitUnit::WorkingHours,
            LimitUnit::WorkingDays,
            LimitUnit::ClockHours,
            LimitUnit::NaturalDays,
        ] {
            let limit = TimeLimit { amount: 7, unit };
            assert_eq!(TimeLimit::parse_zh(&limit.to_string()).ok(), Some(limit));
        }
        let json = serde_json::to_string(&TimeLimit {
            amount: 2,
            unit: LimitUnit::WorkingDays,
        })
        .expect("serializes");
        assert_eq!(json, r#"{"amount":2,"unit":"working_days"}"#);
    }

    #[test]
    fn suspension_freezes_elapsed_and_moves_the_deadline_by_the_suspended_working_time() {
        let c = cal();
        // Monday 08:30, 4 working hours: deadline Monday 14:00.
        let mut clock = StageClock::start(TimeMode::Working, local(2026, 3, 16, 8, 30), hours(4));
        assert_eq!(clock.deadline(&c), local(2026, 3, 16, 14, 0));
        clock.pause(local(2026, 3, 16, 10, 30));
        assert!(clock.is_paused());
        assert_eq!(clock.elapsed(&c, local(2026, 3, 16, 16, 0)), hours(2));
        assert_eq!(clock.elapsed(&c, local(2026, 3, 20, 16, 0)), hours(2));
        assert!(!clock.is_overdue(&c, local(2026, 3, 20, 16, 0)));
        // Resume Tuesday 09:30: 1.5h + 4h + 1h = 6.5 working hours were suspended.
        clock.resume(&c, local(2026, 3, 17, 9, 30));
        assert!(!clock.is_paused());
        assert_eq!(clock.paused_secs, 6 * 3600 + 1800);
        assert_eq!(clock.deadline(&c), local(2026, 3, 17, 11, 30));
        assert_eq!(clock.elapsed(&c, local(2026, 3, 17, 10, 30)), hours(3));
    }

    #[test]
    fn pause_is_idempotent_and_resume_without_pause_does_nothing() {
        let c = cal();
        let mut clock = StageClock::start(TimeMode::Working, local(2026, 3, 16, 8, 30), hours(4));
        clock.resume(&c, local(2026, 3, 16, 9, 0));
        assert_eq!(clock.paused_secs, 0);
        clock.pause(local(2026, 3, 16, 9, 30));
        clock.pause(local(2026, 3, 16, 11, 0));
        assert_eq!(clock.paused_since, Some(local(2026, 3, 16, 9, 30)));
        clock.resume(&c, local(2026, 3, 16, 10, 30));
        assert_eq!(clock.paused_secs, 3600);
    }

    #[test]
    fn extension_moves_the_deadline() {
        let c = cal();
        let mut clock = StageClock::start(TimeMode::Working, local(2026, 3, 16, 8, 30), hours(4));
        assert!(clock.is_overdue(&c, local(2026, 3, 16, 15, 0)));
        clock.extend(TimeLimit::parse_zh("2工作日").expect("valid").duration(&c));
        // 4h + 15h = 19h: Monday 7.5h, Tuesday 7.5h, Wednesday 4h -> Wednesday 14:00.
        assert_eq!(clock.deadline(&c), local(2026, 3, 18, 14, 0));
        assert_eq!(clock.allowed(), hours(19));
        assert!(!clock.is_overdue(&c, local(2026, 3, 16, 15, 0)));
    }

    #[test]
    fn lights_turn_yellow_at_exactly_80_percent_and_red_only_after_100_percent() {
        let c = cal();
        let start = local(2026, 3, 16, 8, 30);
        let clock = StageClock::start(TimeMode::Working, start, hours(10));
        let at_80 = c.add_working(start, hours(8));
        assert_eq!(at_80, local(2026, 3, 17, 9, 0));
        let one_sec = Duration::seconds(1);
        assert_eq!(clock.light(&c, at_80 - one_sec), Light::Green);
        assert_eq!(clock.light(&c, at_80), Light::Yellow);
        let at_100 = clock.deadline(&c);
        assert_eq!(at_100, local(2026, 3, 17, 11, 0));
        assert_eq!(clock.light(&c, at_100), Light::Yellow);
        assert!(!clock.is_overdue(&c, at_100));
        assert_eq!(clock.light(&c, at_100 + one_sec), Light::Red);
        assert!(clock.is_overdue(&c, at_100 + one_sec));
    }

    #[test]
    fn working_clock_is_not_overdue_in_non_working_time_right_after_its_deadline() {
        let c = cal();
        // Friday 13:30 + 4h: deadline Friday 17:30.
        let clock = StageClock::start(TimeMode::Working, local(2026, 3, 13, 13, 30), hours(4));
        assert_eq!(clock.deadline(&c), local(2026, 3, 13, 17, 30));
        assert_eq!(clock.light(&c, local(2026, 3, 14, 10, 0)), Light::Yellow);
        assert!(clock.is_overdue(&c, local(2026, 3, 16, 8, 31)));
    }

    #[test]
    fn zero_limit_is_red_as_soon_as_time_elapses() {
        let c = cal();
        let start = local(2026, 3, 16, 9, 0);
        let clock = StageClock::start(TimeMode::Working, start, Duration::zero());
        assert_eq!(clock.deadline(&c), start);
        assert_eq!(clock.light(&c, start), Light::Yellow);
        assert_eq!(clock.light(&c, start + Duration::seconds(1)), Light::Red);
    }

    #[test]
    fn clock_mode_stage_clock_counts_nights_weekends_and_pauses_in_clock_time() {
        let c = cal();
        let sat = local(2026, 10, 3, 3, 0);
        let mut clock = StageClock::start(TimeMode::Clock, sat, hours(24));
        assert_eq!(clock.deadline(&c), local(2026, 10, 4, 3, 0));
        assert_eq!(
            clock.elapsed(&c, local(2026, 10, 3, 22, 12)),
            hours(19) + minutes(12)
        );
        assert_eq!(clock.light(&c, local(2026, 10, 3, 22, 12)), Light::Yellow);
        clock.pause(local(2026, 10, 3, 4, 0));
        clock.resume(&c, local(2026, 10, 3, 6, 0));
        assert_eq!(clock.deadline(&c), local(2026, 10, 4, 5, 0));
        assert_eq!(clock.elapsed(&c, local(2026, 10, 3, 7, 0)), hours(2));
    }

    #[test]
    fn stage_clock_round_trips_through_json() {
        let mut clock = StageClock::start(TimeMode::Working, local(2026, 3, 16, 8, 30), hours(4));
        clock.extend(hours(2));
        clock.pause(local(2026, 3, 16, 9, 0));
        let json = serde_json::to_string(&clock).expect("serializes");
        assert!(json.contains(r#""mode":"working""#));
        let back: StageClock = serde_json::from_str(&json).expect("deserializes");
        assert_eq!(back, clock);
    }

    /// Seconds from 2025-01-01T00:00Z to 2028-01-01T00:00Z.
    const SPAN_2025_2027: i64 = 3 * 365 * 86_400 + 86_400;
    /// 60 working days of 7.5 hours, in seconds.
    const SIXTY_WORKING_DAYS: i64 = 60 * 27_000;

    fn instant_2025_2027(offset_secs: i64) -> DateTime<Utc> {
        local(2025, 1, 1, 8, 0) + Duration::seconds(offset_secs)
    }

    proptest! {
        #[test]
        fn add_working_lands_in_working_time_is_monotonic_and_inverts(
            offset in 0..SPAN_2025_2027,
            a in 60..=SIXTY_WORKING_DAYS,
            b in 60..=SIXTY_WORKING_DAYS,
        ) {
            let c = cal();
            let start = instant_2025_2027(offset);
            let (lo, hi) = (Duration::seconds(a.min(b)), Duration::seconds(a.max(b)));
            let end_lo = c.add_working(start, lo);
            let end_hi = c.add_working(start, hi);
            prop_assert!(within_closed_period(&c, end_lo), "{start} + {lo} = {end_lo}");
            prop_assert!(within_closed_period(&c, end_hi), "{start} + {hi} = {end_hi}");
            prop_assert!(end_lo <= end_hi);
            prop_assert!(end_lo > start);
            prop_assert_eq!(c.working_between(start, end_lo), lo);
            prop_assert_eq!(c.working_between(start, end_hi), hi);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Compares with a minute-by-minute walk, the obviously correct slow version.
        #[test]
        fn add_working_matches_a_minute_by_minute_walk(
            offset_min in 0..(366 * 24 * 60i64),
            amount_min in 1..=(3 * 450i64),
        ) {
            let c = cal();
            let start = local(2026, 1, 1, 0, 0) + minutes(offset_min);
            let mut t = start;
            let mut left = amount_min;
            while left > 0 {
                if c.is_working_instant(t) {
                    left -= 1;
                }
                t += minutes(1);
            }
            prop_assert_eq!(c.add_working(start, minutes(amount_min)), t);
        }
    }
}
