//! The road chief's patrol clock (巡查频次): which patrols a level owes, on the district's
//! working-day calendar, and whether the current one is done, due or overdue.
//!
//! The frequencies are the standard's (§7: 二级路长 daily, 一级路长 weekly, 总路长 every half
//! month, [`RoadChiefLevel::patrol_every_days`]). How they meet weekends and holidays is
//! cityloop's reading [U], written down here because no source fixes it:
//! - **daily**: one patrol per *working day* (weekends and holidays owe none; a 调休 make-up
//!   Saturday owes one). The window of a working day starts the day after the previous
//!   working day, so a patrol on a Sunday or a holiday counts for the next working day.
//! - **weekly**: one per ISO week (Monday–Sunday) that has a working day.
//! - **half-monthly**: one per 1st–15th and per 16th–end of month.
//!
//! Every local day belongs to at most one window, so a patrol meets at most one; a window
//! falls in a period when its due day (last day) does. Pure: the caller passes "today".

use chrono::{Datelike, Duration, NaiveDate};
use serde::Serialize;

use crate::calendar::WorkCalendar;
use crate::evaluation::PatrolFigures;
use crate::model::RoadChiefLevel;

/// How far back or ahead a window is searched for (a holiday run is never this long).
const MAX_SEARCH_DAYS: i64 = 40;

/// A patrol window: the local days `from..=due`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Window {
    pub from: NaiveDate,
    pub due: NaiveDate,
}

impl Window {
    pub fn contains(&self, d: NaiveDate) -> bool {
        self.from <= d && d <= self.due
    }
}

/// Where a road chief stands for the current window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PatrolStatus {
    /// The current window has a patrol (or owes none).
    Done,
    /// The current window has none yet, and the previous one was met.
    Due,
    /// The previous window passed without a patrol, and the current one has none yet.
    Overdue,
}

impl PatrolStatus {
    pub fn zh(self) -> &'static str {
        match self {
            PatrolStatus::Done => "已巡查",
            PatrolStatus::Due => "待巡查",
            PatrolStatus::Overdue => "超期未巡",
        }
    }
}

/// The window containing local day `d`, or None when `d` is in no window (a week without
/// working days, or a calendar without working days near `d`).
pub fn window_of(level: RoadChiefLevel, cal: &WorkCalendar, d: NaiveDate) -> Option<Window> {
    match level {
        RoadChiefLevel::Second => {
            let due = (0..MAX_SEARCH_DAYS)
                .map(|k| d + Duration::days(k))
                .find(|x| cal.is_working_day(*x))?;
            let prev = (1..MAX_SEARCH_DAYS)
                .map(|k| due - Duration::days(k))
                .find(|x| cal.is_working_day(*x))
                .unwrap_or(due - Duration::days(MAX_SEARCH_DAYS));
            Some(Window {
                from: prev + Duration::days(1),
                due,
            })
        }
        RoadChiefLevel::First => {
            let from = d - Duration::days(i64::from(d.weekday().num_days_from_monday()));
            let due = from + Duration::days(6);
            (0..7)
                .any(|k| cal.is_working_day(from + Duration::days(k)))
                .then_some(Window { from, due })
        }
        RoadChiefLevel::District => {
            let (y, m) = (d.year(), d.month());
            let first = NaiveDate::from_ymd_opt(y, m, 1)?;
            let next = if m == 12 {
                NaiveDate::from_ymd_opt(y + 1, 1, 1)?
            } else {
                NaiveDate::from_ymd_opt(y, m + 1, 1)?
            };
            Some(if d.day() <= 15 {
                Window {
                    from: first,
                    due: first + Duration::days(14),
                }
            } else {
                Window {
                    from: first + Duration::days(15),
                    due: next - Duration::days(1),
                }
            })
        }
    }
}

/// The windows whose due day is in `from..=to`, in order.
pub fn windows(
    level: RoadChiefLevel,
    cal: &WorkCalendar,
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<Window> {
    let mut out: Vec<Window> = Vec::new();
    let mut d = from;
    while d <= to {
        match window_of(level, cal, d) {
            Some(w) => {
                if w.due <= to && out.last() != Some(&w) {
                    out.push(w);
                }
                d = w.due + Duration::days(1);
            }
            None => d += Duration::days(1),
        }
    }
    out
}

/// Required and done patrols over `from..=to`: a window is done when one of `patrol_days`
/// (local days with a counted patrol) is in it.
pub fn figures(
    level: RoadChiefLevel,
    cal: &WorkCalendar,
    from: NaiveDate,
    to: NaiveDate,
    patrol_days: &[NaiveDate],
) -> PatrolFigures {
    let ws = windows(level, cal, from, to);
    let done = ws
        .iter()
        .filter(|w| patrol_days.iter().any(|d| w.contains(*d)))
        .count();
    PatrolFigures {
        required: ws.len() as i64,
        done: done as i64,
    }
}

/// The status on local day `today` given the local days with a counted patrol.
pub fn status(
    level: RoadChiefLevel,
    cal: &WorkCalendar,
    today: NaiveDate,
    patrol_days: &[NaiveDate],
) -> (PatrolStatus, Option<Window>) {
    let met = |w: &Window| patrol_days.iter().any(|d| w.contains(*d));
    let current = window_of(level, cal, today);
    if current.as_ref().is_none_or(met) {
        return (PatrolStatus::Done, current);
    }
    let start = current.map_or(today, |w| w.from);
    let previous = (1..MAX_SEARCH_DAYS)
        .map(|k| start - Duration::days(k))
        .find_map(|d| window_of(level, cal, d));
    match previous {
        Some(p) if !met(&p) => (PatrolStatus::Overdue, current),
        _ => (PatrolStatus::Due, current),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    // 2026 (State Council notice, cn-2026.json): 中秋节 Sep 25–27, 国庆节 Oct 1–7, make-up
    // working Saturday Oct 10.

    #[test]
    fn daily_owes_one_patrol_per_working_day_across_the_national_day_holiday() {
        let cal = WorkCalendar::china_2026();
        let ws = windows(
            RoadChiefLevel::Second,
            &cal,
            d("2026-09-28"),
            d("2026-10-11"),
        );
        let dues: Vec<String> = ws.iter().map(|w| w.due.to_string()).collect();
        // Sep 28–30, Oct 8, 9 and the make-up Saturday Oct 10; Oct 1–7 and Sunday Oct 11 owe none.
        assert_eq!(
            dues,
            [
                "2026-09-28",
                "2026-09-29",
                "2026-09-30",
                "2026-10-08",
                "2026-10-09",
                "2026-10-10"
            ]
        );
        // Monday Sep 28's window starts after Thursday Sep 24 (the holiday Sep 25–27 leads to it).
        assert_eq!(ws[0].from, d("2026-09-25"));
        assert_eq!(ws[3].from, d("2026-10-01"));
        // A patrol on the holiday Oct 3 counts for Oct 8.
        let f = figures(
            RoadChiefLevel::Second,
            &cal,
            d("2026-09-28"),
            d("2026-10-11"),
            &[
                d("2026-09-28"),
                d("2026-10-03"),
                d("2026-10-10"),
                d("2026-10-11"),
            ],
        );
        assert_eq!(
            f,
            PatrolFigures {
                required: 6,
                done: 3
            }
        );
    }

    #[test]
    fn weekly_and_half_monthly_windows() {
        let cal = WorkCalendar::china_2026();
        let f = figures(
            RoadChiefLevel::First,
            &cal,
            d("2026-09-28"),
            d("2026-10-11"),
            &[d("2026-10-03")],
        );
        // Weeks Sep 28–Oct 4 (met on the holiday) and Oct 5–11.
        assert_eq!(
            f,
            PatrolFigures {
                required: 2,
                done: 1
            }
        );
        let ws = windows(
            RoadChiefLevel::District,
            &cal,
            d("2026-10-01"),
            d("2026-10-31"),
        );
        assert_eq!(
            ws,
            [
                Window {
                    from: d("2026-10-01"),
                    due: d("2026-10-15")
                },
                Window {
                    from: d("2026-10-16"),
                    due: d("2026-10-31")
                }
            ]
        );
        // February 2026 has 28 days: the second half is the 16th–28th.
        assert_eq!(
            window_of(RoadChiefLevel::District, &cal, d("2026-02-20"))
                .unwrap()
                .due,
            d("2026-02-28")
        );
        // A period ending mid-window does not owe that window yet.
        assert_eq!(
            windows(
                RoadChiefLevel::First,
                &cal,
                d("2026-12-01"),
                d("2026-12-05")
            ),
            []
        );
    }

    #[test]
    fn status_is_done_due_or_overdue() {
        let cal = WorkCalendar::china_2026();
        let lvl = RoadChiefLevel::Second;
        let last = [d("2026-09-30")];
        assert_eq!(
            status(lvl, &cal, d("2026-09-30"), &last).0,
            PatrolStatus::Done
        );
        // On the holiday the next owed patrol is Oct 8's; Sep 30 was met.
        let (s, w) = status(lvl, &cal, d("2026-10-03"), &last);
        assert_eq!(s, PatrolStatus::Due);
        assert_eq!(w.unwrap().due, d("2026-10-08"));
        // Oct 8 passed without one.
        assert_eq!(
            status(lvl, &cal, d("2026-10-09"), &last).0,
            PatrolStatus::Overdue
        );
        // Weekly: met last week, not yet this week.
        assert_eq!(
            status(
                RoadChiefLevel::First,
                &cal,
                d("2026-10-06"),
                &[d("2026-10-03")]
            )
            .0,
            PatrolStatus::Due
        );
    }
}
