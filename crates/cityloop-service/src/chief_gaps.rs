//! No segment without its chiefs (issue 21, item 3): the admin's list of road-chief gaps —
//! segments missing a chief at some level, people deactivated while still holding segments,
//! and chiefs holding more segments than the district limit (setting `road_chief_limits`,
//! an invented default). Read-only; assignments change through the admin API as before.

use std::collections::{BTreeMap, HashMap};

use cityloop_domain::ids::PersonId;
use cityloop_domain::model::{Person, RoadChiefLevel};
use serde::{Deserialize, Serialize};

use crate::admin::require_admin;
use crate::{ServiceError, Services};

/// Settings key of the district's road-chief limits.
pub const LIMITS_SETTING: &str = "road_chief_limits";

/// The district's limits on road chiefs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ChiefLimits {
    /// Most segments one person may hold (all levels together). Invented default: 60.
    pub max_segments_per_chief: u32,
}

impl Default for ChiefLimits {
    fn default() -> Self {
        ChiefLimits {
            max_segments_per_chief: 60,
        }
    }
}

/// A segment without a chief at some levels.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MissingChief {
    pub segment_id: String,
    /// `district`, `first`, `second`.
    pub missing_levels: Vec<String>,
}

/// A person who holds segments but cannot act (deactivated or gone).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct InactiveHolder {
    pub person_id: String,
    pub person_name: String,
    /// `segment_id:level` of every assignment they still hold.
    pub assignments: Vec<String>,
}

/// A chief over the limit.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct OverLimit {
    pub person_id: String,
    pub person_name: String,
    pub segments: u32,
}

/// The gaps.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ChiefGaps {
    pub limits: ChiefLimits,
    /// Segments of the territory, in id order, missing a chief at some level.
    pub missing: Vec<MissingChief>,
    pub inactive_holders: Vec<InactiveHolder>,
    pub over_limit: Vec<OverLimit>,
}

impl Services {
    /// The road-chief gaps (admins only). Unlike `road_chief_gaps` (the escalation check),
    /// an assignment held by a deactivated person leaves its level missing.
    pub async fn admin_road_chief_gaps(&self, actor: &Person) -> Result<ChiefGaps, ServiceError> {
        require_admin(actor)?;
        let limits = crate::reference::get_setting::<ChiefLimits>(&*self.store, LIMITS_SETTING)
            .await?
            .unwrap_or_default();
        let people: HashMap<PersonId, Person> = self
            .store
            .list_people()
            .await?
            .into_iter()
            .map(|p| (p.id, p))
            .collect();
        let rows = self.store.road_chiefs(None).await?;
        let mut held: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        let mut by_person: BTreeMap<PersonId, Vec<String>> = BTreeMap::new();
        for a in &rows {
            let active = people.get(&a.person_id).is_some_and(|p| p.active);
            if active {
                held.entry(a.segment_id.as_str())
                    .or_default()
                    .push(a.level.as_str());
            }
            by_person
                .entry(a.person_id)
                .or_default()
                .push(format!("{}:{}", a.segment_id, a.level));
        }
        let levels = [
            RoadChiefLevel::District,
            RoadChiefLevel::First,
            RoadChiefLevel::Second,
        ];
        let mut missing = Vec::new();
        if let Some(t) = &self.territory {
            let mut ids: Vec<&String> = t.segment_ids().iter().collect();
            ids.sort();
            for id in ids {
                let have = held.get(id.as_str()).map(Vec::as_slice).unwrap_or(&[]);
                let lacking: Vec<String> = levels
                    .iter()
                    .filter(|l| !have.contains(&l.as_str()))
                    .map(|l| l.as_str().to_owned())
                    .collect();
                if !lacking.is_empty() {
                    missing.push(MissingChief {
                        segment_id: id.clone(),
                        missing_levels: lacking,
                    });
                }
            }
        }
        let name = |id: &PersonId| {
            people
                .get(id)
                .map_or_else(|| id.to_string(), |p| p.display_name.clone())
        };
        let mut inactive_holders = Vec::new();
        let mut over_limit = Vec::new();
        for (pid, assignments) in by_person {
            if !people.get(&pid).is_some_and(|p| p.active) {
                inactive_holders.push(InactiveHolder {
                    person_id: pid.to_string(),
                    person_name: name(&pid),
                    assignments,
                });
            } else if assignments.len() > limits.max_segments_per_chief as usize {
                over_limit.push(OverLimit {
                    person_id: pid.to_string(),
                    person_name: name(&pid),
                    segments: assignments.len() as u32,
                });
            }
        }
        Ok(ChiefGaps {
            limits,
            missing,
            inactive_holders,
            over_limit,
        })
    }
}
