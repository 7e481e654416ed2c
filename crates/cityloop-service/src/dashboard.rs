//! The leaders' view (领导驾驶舱): `GET /api/v1/dashboard`'s figures. The windows and the
//! counting are `cityloop_domain::dashboard`; the rows come from the store's indexed reads
//! (`cityloop_store::DashboardStore`); this module joins them with names (categories,
//! units, streets) and the demo marker. Only a reader of the whole district sees it (the
//! figures are district totals); league tables and the map come from their own endpoints.

use chrono::{DateTime, NaiveDate, Utc};
use cityloop_domain::dashboard::{tally, Counts, Fact, Windows};
use cityloop_domain::model::{Actor, CategoryKind};
use cityloop_domain::workflow::ReadScope;
use cityloop_store::DashboardQuery;
use serde::Serialize;

use crate::{ServiceError, Services};

/// Overdue cases listed (invented default).
pub const OVERDUE_LISTED: u32 = 10;

/// One figure and the same period before.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, PartialEq)]
pub struct Figure {
    pub value: u64,
    pub previous: u64,
}

/// A rate (0..1) and the same period before; null without closures to rate.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, PartialEq)]
pub struct Rate {
    pub value: Option<f64>,
    pub previous: Option<f64>,
    /// Closures rated (the denominator), now and before.
    pub closed: u64,
    pub previous_closed: u64,
}

/// The figures of one period (today, or this month).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, PartialEq)]
pub struct Period {
    pub start: DateTime<Utc>,
    /// Start of the same period before (yesterday, last month) and where it is cut.
    pub previous_start: DateTime<Utc>,
    pub previous_end: DateTime<Utc>,
    pub reported: Figure,
    pub registered: Figure,
    pub closed: Figure,
    pub on_time_rate: Rate,
    /// Failed checks (返工) and unsatisfied call-backs sent back (重办).
    pub rework: Figure,
}

/// Open cases past their deadline now.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, PartialEq)]
pub struct Overdue {
    /// Open cases (not suspended) past their deadline now.
    pub count: i64,
    /// Of them, the ones whose deadline passed today.
    pub since_today: i64,
    /// The most overdue first.
    pub cases: Vec<OverdueCase>,
}

#[derive(Debug, Clone, Serialize, utoipa::ToSchema, PartialEq)]
pub struct OverdueCase {
    pub id: String,
    pub number: String,
    pub state: String,
    pub category: String,
    pub category_name: String,
    pub unit_name: Option<String>,
    pub street_name: Option<String>,
    pub deadline: DateTime<Utc>,
    /// Clock time past the deadline, in seconds.
    pub late_secs: i64,
}

/// One trend day.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, PartialEq)]
pub struct TrendDay {
    #[schema(value_type = String, format = Date)]
    pub day: NaiveDate,
    pub reported: u64,
    pub closed: u64,
}

/// A count under a key (category code with its name, or a source).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, PartialEq)]
pub struct Share {
    pub key: String,
    pub name: String,
    pub count: i64,
}

/// The leaders' view.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema, PartialEq)]
pub struct Dashboard {
    pub generated_at: DateTime<Utc>,
    pub timezone: String,
    pub today: Period,
    pub month: Period,
    pub overdue: Overdue,
    /// The last 30 local days, oldest first, today (so far) last.
    pub trend: Vec<TrendDay>,
    /// Top 10 problems reported this week (since Monday), by category.
    pub week_start: DateTime<Utc>,
    pub categories_week: Vec<Share>,
    /// Reports this month by source group: `public` (citizens, media, petitions),
    /// `hotline` (12345), `inspector` (inspectors, road chiefs, patrols, leaders), `sensor`
    /// (sensors and video).
    pub sources_month: Vec<Share>,
    /// The generated demo history's record (演示数据) when there is one.
    #[schema(value_type = Option<Object>)]
    pub demo: Option<serde_json::Value>,
}

fn figure(now: &Counts, before: &Counts, f: impl Fn(&Counts) -> u64) -> Figure {
    Figure {
        value: f(now),
        previous: f(before),
    }
}

fn period(
    now: &Counts,
    before: &Counts,
    w: (DateTime<Utc>, DateTime<Utc>, DateTime<Utc>),
) -> Period {
    Period {
        start: w.0,
        previous_start: w.1,
        previous_end: w.2,
        reported: figure(now, before, |c| c.reported),
        registered: figure(now, before, |c| c.registered),
        closed: figure(now, before, |c| c.closed),
        on_time_rate: Rate {
            value: now.on_time_rate(),
            previous: before.on_time_rate(),
            closed: now.closed_known,
            previous_closed: before.closed_known,
        },
        rework: figure(now, before, |c| c.rework),
    }
}

/// The dashboard's source group of a stored source.
pub fn source_group(source: &str) -> &'static str {
    match source {
        "public" | "media" | "petition" => "public",
        "hotline_12345" => "hotline",
        "sensor" | "video" => "sensor",
        _ => "inspector",
    }
}

impl Services {
    /// The leaders' view at the services' clock.
    pub async fn dashboard(&self, actor: &Actor) -> Result<Dashboard, ServiceError> {
        if self.read_scope(actor)? != ReadScope::All {
            return Err(ServiceError::Forbidden(
                "the leaders' view shows the whole district; this account reads only part of it"
                    .into(),
            ));
        }
        let cache = self.cached();
        let cal = cache.calendar.clone();
        let tz = cal.tz();
        let now = self.now();
        let w = Windows::at(tz, now);
        let rows = self
            .read_store()
            .dashboard_rows(
                &DashboardQuery {
                    from: w.from(),
                    now,
                    sources_from: w.month.start,
                    categories_from: w.week.start,
                    overdue_limit: OVERDUE_LISTED,
                },
                w.today.start,
            )
            .await?;
        let reported = rows
            .reported_us
            .iter()
            .filter_map(|us| DateTime::<Utc>::from_timestamp_micros(*us))
            .map(|t| (t, Fact::Reported));
        let events = rows.events.iter().filter_map(|e| {
            let f = match (e.kind.as_str(), e.to_state.as_str()) {
                ("register", _) => Fact::Registered,
                ("close", _) => Fact::Closed { on_time: e.on_time },
                ("check_fail", _) | ("callback", "handling") => Fact::Rework,
                _ => return None,
            };
            Some((e.at, f))
        });
        let t = tally(&w, reported.chain(events));
        let trend = w
            .days
            .iter()
            .zip(&t.days)
            .map(|((d, _), c)| TrendDay {
                day: *d,
                reported: c.reported,
                closed: c.closed,
            })
            .collect();
        let category_name = |code: &str| {
            // Case rows keep the code without its kind: events first, then matters,
            // then components (the codes overlap between kinds).
            cache
                .categories
                .iter()
                .filter(|(k, _)| k.code == code)
                .min_by_key(|(k, _)| match k.kind {
                    CategoryKind::Event => 0,
                    CategoryKind::Matter => 1,
                    CategoryKind::Component => 2,
                })
                .map(|(_, c)| c.name_zh.clone())
                .unwrap_or_else(|| code.to_owned())
        };
        let unit_name = |id: &Option<String>| {
            id.as_deref().and_then(|id| {
                cache
                    .units
                    .iter()
                    .find(|u| u.id.to_string() == id)
                    .map(|u| u.name.clone())
            })
        };
        let street_name = |code: &Option<String>| {
            let code = code.as_deref()?;
            let by_unit = cache
                .units
                .iter()
                .find(|u| u.type_key == code)
                .map(|u| u.name.trim_end_matches("办事处").to_owned());
            by_unit.or_else(|| Some(code.to_owned()))
        };
        let mut groups: Vec<Share> = ["public", "hotline", "inspector", "sensor"]
            .into_iter()
            .map(|k| Share {
                key: k.into(),
                name: match k {
                    "public" => "市民",
                    "hotline" => "12345热线",
                    "inspector" => "监督员",
                    _ => "传感与视频",
                }
                .into(),
                count: 0,
            })
            .collect();
        for (source, n) in &rows.sources {
            let g = source_group(source);
            if let Some(s) = groups.iter_mut().find(|s| s.key == g) {
                s.count += n;
            }
        }
        Ok(Dashboard {
            generated_at: now,
            timezone: tz.name().into(),
            today: period(
                &t.today,
                &t.yesterday,
                (w.today.start, w.yesterday.start, w.yesterday.end),
            ),
            month: period(
                &t.month,
                &t.prev_month,
                (w.month.start, w.prev_month.start, w.prev_month.end),
            ),
            overdue: Overdue {
                count: rows.overdue_count,
                since_today: rows.overdue_since_today,
                cases: rows
                    .overdue
                    .iter()
                    .map(|r| OverdueCase {
                        id: r.id.clone(),
                        number: r.number.clone(),
                        state: r.state.clone(),
                        category: r.category_code.clone(),
                        category_name: category_name(&r.category_code),
                        unit_name: unit_name(&r.unit_id),
                        street_name: street_name(&r.street_code),
                        deadline: r.deadline,
                        late_secs: (now - r.deadline).num_seconds().max(0),
                    })
                    .collect(),
            },
            trend,
            week_start: w.week.start,
            categories_week: rows
                .categories
                .iter()
                .map(|(code, n)| Share {
                    key: code.clone(),
                    name: category_name(code),
                    count: *n,
                })
                .collect(),
            sources_month: groups,
            demo: self.demo_history().await?,
        })
    }
}
