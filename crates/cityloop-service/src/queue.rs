//! Queue context: what a row of a work list shows beyond the case itself, for the
//! decision at hand: the road chiefs of the case's road segment and the open cases of the
//! same category nearby (possible duplicates, as the route API finds them). Bounded: one
//! page of at most [`MAX_CONTEXT_ROWS`] cases, two reference reads, and one bounded
//! nearby query per open case.

use cityloop_domain::case::Case;
use cityloop_domain::model::RoadChiefLevel;

use crate::territory::{DuplicateRef, RoadChiefRef};
use crate::ServiceError;

/// A page asked for with context has at most this many cases (`GET /api/v1/cases?context=true`).
pub const MAX_CONTEXT_ROWS: usize = 50;

/// The context of one case in a work list.
#[derive(Debug, Clone, Default)]
pub struct QueueContext {
    /// The road chiefs of the case's segment, district level first.
    pub road_chiefs: Vec<RoadChiefRef>,
    /// Other open cases of the same category nearby, nearest first (none for a closed or
    /// voided case).
    pub duplicates: Vec<DuplicateRef>,
}

impl crate::Services {
    /// The context of each case of a page, in the same order.
    pub async fn queue_context(&self, cases: &[Case]) -> Result<Vec<QueueContext>, ServiceError> {
        if cases.len() > MAX_CONTEXT_ROWS {
            return Err(ServiceError::invalid(
                "limit",
                format!("at most {MAX_CONTEXT_ROWS} with context=true"),
            ));
        }
        let people = self.store.list_people().await?;
        let assignments = self.store.road_chiefs(None).await?;
        let mut out = Vec::with_capacity(cases.len());
        for c in cases {
            let mut road_chiefs: Vec<RoadChiefRef> = match &c.routing.segment_id {
                Some(seg) => assignments
                    .iter()
                    .filter(|a| &a.segment_id == seg)
                    .filter_map(|a| {
                        let level: RoadChiefLevel = a.level.parse().ok()?;
                        let p = people.iter().find(|p| p.id == a.person_id)?;
                        Some(RoadChiefRef {
                            level: level.as_str().to_owned(),
                            level_zh: level.zh(),
                            id: p.id,
                            name: p.display_name.clone(),
                        })
                    })
                    .collect(),
                None => Vec::new(),
            };
            road_chiefs.sort_by_key(|r| match r.level.as_str() {
                "district" => 0,
                "first" => 1,
                _ => 2,
            });
            let duplicates = if c.state.is_terminal() {
                Vec::new()
            } else {
                self.duplicates_near(c.location.lon, c.location.lat, &c.category)
                    .await?
                    .into_iter()
                    .filter(|d| d.id != c.id)
                    .collect()
            };
            out.push(QueueContext {
                road_chiefs,
                duplicates,
            });
        }
        Ok(out)
    }
}
