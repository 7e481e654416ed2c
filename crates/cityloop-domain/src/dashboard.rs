//! The leaders' view (领导驾驶舱): which windows its figures cover and how dated facts are
//! counted into them. Pure: the store reads the facts of the windows, this module decides.
//!
//! - **Today** is local midnight to now; it is compared with **yesterday up to the same
//!   time of day** (a morning is not compared with a whole day).
//! - **This month** is the first of the month to now; it is compared with the **previous
//!   month up to the same elapsed time** (cut at that month's end when it is shorter).
//! - **The trend** is the last 30 local days, today included (today so far).
//! - **This week** (top problems) starts on Monday at local midnight.
//! - The on-time rate (按期结案率) is the share of the window's closures whose case was
//!   closed on time by the evaluation's definition (every stage within its working-time
//!   limit, `evaluation::metric::CLOSED_ON_TIME`); closures whose case has no such fact
//!   (no street) are left out of the rate.

use chrono::{DateTime, Datelike, Days, Duration, Months, NaiveDate, TimeZone, Utc};
use chrono_tz::Tz;

/// Days in the trend.
pub const TREND_DAYS: u32 = 30;

/// A half-open interval of instants `[start, end)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Span {
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
}

impl Span {
    pub fn contains(&self, t: DateTime<Utc>) -> bool {
        self.start <= t && t < self.end
    }
}

/// The windows of one dashboard request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Windows {
    pub now: DateTime<Utc>,
    pub today: Span,
    pub yesterday: Span,
    pub month: Span,
    pub prev_month: Span,
    /// Monday 00:00 local of this week to now.
    pub week: Span,
    /// The trend's days (local date and span), oldest first; the last is today so far.
    pub days: Vec<(NaiveDate, Span)>,
}

/// Local midnight of `d` in `tz` (the first instant of the day where a zone skips midnight).
fn midnight(tz: Tz, d: NaiveDate) -> DateTime<Utc> {
    let naive = d.and_hms_opt(0, 0, 0).unwrap_or_default();
    match tz.from_local_datetime(&naive) {
        chrono::LocalResult::Single(t) => t.with_timezone(&Utc),
        chrono::LocalResult::Ambiguous(t, _) => t.with_timezone(&Utc),
        chrono::LocalResult::None => tz
            .from_local_datetime(&(naive + Duration::hours(1)))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
            .unwrap_or_else(|| Utc.from_utc_datetime(&naive)),
    }
}

impl Windows {
    /// The windows at `now` in the district's zone.
    pub fn at(tz: Tz, now: DateTime<Utc>) -> Windows {
        let today_d = now.with_timezone(&tz).date_naive();
        let day = |d: NaiveDate| {
            let start = midnight(tz, d);
            let end = midnight(tz, d + Days::new(1)).min(now.max(start));
            Span { start, end }
        };
        let today = Span {
            start: midnight(tz, today_d),
            end: now,
        };
        let elapsed = now - today.start;
        let y_start = midnight(tz, today_d - Days::new(1));
        let yesterday = Span {
            start: y_start,
            end: (y_start + elapsed).min(today.start),
        };
        let first = today_d.with_day(1).unwrap_or(today_d);
        let month = Span {
            start: midnight(tz, first),
            end: now,
        };
        let prev_first = first - Months::new(1);
        let pm_start = midnight(tz, prev_first);
        let prev_month = Span {
            start: pm_start,
            end: (pm_start + (now - month.start)).min(month.start),
        };
        let monday = today_d - Days::new(u64::from(today_d.weekday().num_days_from_monday()));
        let week = Span {
            start: midnight(tz, monday),
            end: now,
        };
        let days = (0..TREND_DAYS)
            .rev()
            .map(|back| {
                let d = today_d - Days::new(u64::from(back));
                (d, day(d))
            })
            .collect();
        Windows {
            now,
            today,
            yesterday,
            month,
            prev_month,
            week,
            days,
        }
    }

    /// The earliest instant any window needs.
    pub fn from(&self) -> DateTime<Utc> {
        let trend = self.days.first().map_or(self.now, |(_, s)| s.start);
        trend.min(self.prev_month.start).min(self.week.start)
    }
}

/// One dated fact the dashboard counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fact {
    Reported,
    /// A `register` event.
    Registered,
    /// A `close` event, with the case's on-time fact (None: unknown).
    Closed {
        on_time: Option<bool>,
    },
    /// A failed check (返工) or an unsatisfied call-back that sent the case back (重办).
    Rework,
}

/// Counts of one window.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub reported: u64,
    pub registered: u64,
    pub closed: u64,
    /// Closures whose on-time fact is known, and of those the ones on time.
    pub closed_known: u64,
    pub closed_on_time: u64,
    pub rework: u64,
}

impl Counts {
    fn add(&mut self, f: Fact) {
        match f {
            Fact::Reported => self.reported += 1,
            Fact::Registered => self.registered += 1,
            Fact::Closed { on_time } => {
                self.closed += 1;
                if let Some(ok) = on_time {
                    self.closed_known += 1;
                    self.closed_on_time += u64::from(ok);
                }
            }
            Fact::Rework => self.rework += 1,
        }
    }

    /// 按期结案率 in 0..=1; None without a closure whose on-time fact is known.
    pub fn on_time_rate(&self) -> Option<f64> {
        (self.closed_known > 0).then(|| self.closed_on_time as f64 / self.closed_known as f64)
    }
}

/// The counts of every window.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Tally {
    pub today: Counts,
    pub yesterday: Counts,
    pub month: Counts,
    pub prev_month: Counts,
    /// Per trend day (same order as [`Windows::days`]).
    pub days: Vec<Counts>,
}

/// Counts dated facts into the windows.
pub fn tally(w: &Windows, facts: impl IntoIterator<Item = (DateTime<Utc>, Fact)>) -> Tally {
    let mut t = Tally {
        today: Counts::default(),
        yesterday: Counts::default(),
        month: Counts::default(),
        prev_month: Counts::default(),
        days: vec![Counts::default(); w.days.len()],
    };
    let first = w.days.first().map(|(_, s)| s.start);
    for (at, f) in facts {
        for (span, c) in [
            (w.today, &mut t.today),
            (w.yesterday, &mut t.yesterday),
            (w.month, &mut t.month),
            (w.prev_month, &mut t.prev_month),
        ] {
            if span.contains(at) {
                c.add(f);
            }
        }
        if first.is_some_and(|s| at >= s) {
            // Days are consecutive: find the one holding `at` (the list is short).
            if let Some(i) = w.days.iter().position(|(_, s)| s.contains(at)) {
                t.days[i].add(f);
            }
        }
    }
    t
}

#[cfg(test)]
mod tests {
    use super::*;

    fn utc(s: &str) -> DateTime<Utc> {
        DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
    }

    const SH: Tz = chrono_tz::Asia::Shanghai;

    #[test]
    fn today_is_compared_with_yesterday_up_to_the_same_time_of_day() {
        // 09:30 in Shanghai on 1 Dec 2026.
        let w = Windows::at(SH, utc("2026-12-01T01:30:00Z"));
        assert_eq!(w.today.start, utc("2026-11-30T16:00:00Z"));
        assert_eq!(w.yesterday.start, utc("2026-11-29T16:00:00Z"));
        assert_eq!(w.yesterday.end, utc("2026-11-30T01:30:00Z"));
    }

    #[test]
    fn this_month_is_compared_with_the_previous_month_cut_at_its_end() {
        // 31 March 12:00 local: the previous month (February) has 28 days, so its window
        // ends at 1 March 00:00.
        let w = Windows::at(SH, utc("2026-03-31T04:00:00Z"));
        assert_eq!(w.month.start, utc("2026-02-28T16:00:00Z"));
        assert_eq!(w.prev_month.start, utc("2026-01-31T16:00:00Z"));
        assert_eq!(w.prev_month.end, w.month.start);
        // 10 March: previous month up to 10 February at the same time.
        let w = Windows::at(SH, utc("2026-03-10T04:00:00Z"));
        assert_eq!(w.prev_month.end, utc("2026-02-10T04:00:00Z"));
    }

    #[test]
    fn the_week_starts_on_monday_and_the_trend_has_thirty_days_ending_today() {
        // Tuesday 1 Dec 2026.
        let w = Windows::at(SH, utc("2026-12-01T01:30:00Z"));
        assert_eq!(w.week.start, utc("2026-11-29T16:00:00Z"));
        assert_eq!(w.days.len(), 30);
        assert_eq!(w.days[29].0, NaiveDate::from_ymd_opt(2026, 12, 1).unwrap());
        assert_eq!(w.days[29].1.end, w.now);
        assert_eq!(w.days[0].0, NaiveDate::from_ymd_opt(2026, 11, 2).unwrap());
        assert!(w.from() <= w.prev_month.start && w.from() <= w.days[0].1.start);
    }

    #[test]
    fn facts_count_in_every_window_they_fall_in_and_the_rate_leaves_unknowns_out() {
        let now = utc("2026-12-01T01:30:00Z");
        let w = Windows::at(SH, now);
        let facts = [
            (utc("2026-12-01T00:00:00Z"), Fact::Reported),
            (
                utc("2026-12-01T00:10:00Z"),
                Fact::Closed {
                    on_time: Some(true),
                },
            ),
            (
                utc("2026-12-01T00:20:00Z"),
                Fact::Closed {
                    on_time: Some(false),
                },
            ),
            (utc("2026-12-01T00:30:00Z"), Fact::Closed { on_time: None }),
            // Yesterday 09:00 local: inside yesterday's window; 10:00 is after it.
            (utc("2026-11-30T01:00:00Z"), Fact::Registered),
            (utc("2026-11-30T02:00:00Z"), Fact::Registered),
            (utc("2026-11-15T02:00:00Z"), Fact::Rework),
            // After now: nowhere.
            (utc("2026-12-01T02:00:00Z"), Fact::Reported),
        ];
        let t = tally(&w, facts);
        assert_eq!(t.today.reported, 1);
        assert_eq!(t.today.closed, 3);
        assert_eq!(t.today.on_time_rate(), Some(0.5));
        assert_eq!(t.yesterday.registered, 1);
        assert_eq!(t.month.closed, 3);
        assert_eq!(t.month.registered, 0, "30 Nov is last month");
        // The previous month's window is 1 Nov 00:00..09:30 local: 30 Nov and 15 Nov are
        // after it.
        assert_eq!(t.prev_month.registered, 0);
        assert_eq!(t.prev_month.rework, 0);
        assert_eq!(t.days[29].closed, 3);
        assert_eq!(t.days[28].registered, 2);
        assert_eq!(t.days[13].rework, 1);
        assert_eq!(Counts::default().on_time_rate(), None);
    }
}
