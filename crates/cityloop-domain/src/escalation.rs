//! When a case's deadline light escalates (design.md §4): yellow (80% of the limit used)
//! warns the handling side, red (overdue) goes up to the road chiefs and the supervisor.
//! Pure: the caller stores which escalations already fired, keyed by the clock instance,
//! so each fires once per stage clock, across restarts.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::calendar::{Light, WorkCalendar};
use crate::case::Case;

/// An escalation level.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Level {
    Yellow,
    Red,
}

impl Level {
    pub fn as_str(self) -> &'static str {
        match self {
            Level::Yellow => "yellow",
            Level::Red => "red",
        }
    }
}

/// Identifies one stage clock of a case: a new clock (a new stage, a re-dispatch, a
/// rework) escalates afresh; the same clock never twice.
pub fn clock_key(case: &Case) -> Option<String> {
    case.clock.as_ref().map(|c| {
        format!(
            "{}:{}",
            case.stage().map(|s| s.as_str()).unwrap_or("none"),
            c.started_at.timestamp_micros()
        )
    })
}

/// The levels that are due now (both when a case went red without a yellow warning).
/// A suspended case's clock is stopped, so it does not escalate.
pub fn due(case: &Case, cal: &WorkCalendar, now: DateTime<Utc>) -> Vec<Level> {
    let Some(clock) = &case.clock else {
        return Vec::new();
    };
    if clock.is_paused() {
        return Vec::new();
    }
    match clock.light(cal, now) {
        Light::Green => Vec::new(),
        Light::Yellow => vec![Level::Yellow],
        Light::Red => vec![Level::Yellow, Level::Red],
    }
}
