//! No segment without its chiefs (issue 21, item 3): the admin's list of road-chief gaps —
//! segments missing a chief at some level, people deactivated while still holding segments,
//! and chiefs holding more segments than the district limit (setting `road_chief_limits`,
//! an invented default). Assignments change one at a time through the admin API, or in
//! bulk here ([`Services::admin_bulk_assign_road_chiefs`]: a road by name, a street, or a
//! list of segments → one person at one level), with history kept as a single assignment
//! keeps it (the previous holder's row is closed, not overwritten) and one audit row.

use std::collections::{BTreeMap, HashMap};

use cityloop_domain::ids::PersonId;
use cityloop_domain::model::{Person, RoadChiefLevel, Role};
use cityloop_store::{AdminOp, StoreError};
use serde::{Deserialize, Serialize};

use crate::admin::require_admin;
use crate::{ServiceError, Services};

/// Settings key of the district's road-chief limits.
pub const LIMITS_SETTING: &str = "road_chief_limits";

/// The district's limits on road chiefs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ChiefLimits {
    /// Most segments one person may hold as 一级 and 二级 road chief together (the 总路长
    /// holds every segment of the district by design and is not counted). Invented
    /// default: 60.
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
    /// Segments held as 一级 or 二级 road chief.
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
            } else {
                let district = format!(":{}", RoadChiefLevel::District.as_str());
                let street_levels = assignments
                    .iter()
                    .filter(|a| !a.ends_with(&district))
                    .count();
                if street_levels > limits.max_segments_per_chief as usize {
                    over_limit.push(OverLimit {
                        person_id: pid.to_string(),
                        person_name: name(&pid),
                        segments: street_levels as u32,
                    });
                }
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

/// Most segments one bulk assignment may change.
pub const MAX_BULK_SEGMENTS: usize = 2_000;

/// Which segments a bulk assignment covers: exactly one of the three.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct BulkTarget {
    /// Every segment of the road with this exact name.
    pub road_name: Option<String>,
    /// Every segment of the street office with this 9-digit code.
    pub street: Option<String>,
    /// These segments.
    pub segment_ids: Option<Vec<String>>,
}

/// What a bulk assignment did.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BulkAssigned {
    pub level: String,
    pub person_id: String,
    /// Segments now held by the person at the level (the previous holder's row closed).
    pub assigned: Vec<String>,
    /// Segments the person already held at the level (nothing written).
    pub unchanged: Vec<String>,
}

impl Services {
    /// Assigns one person at one level to every segment of the target, in one transaction
    /// with one audit row.
    pub async fn admin_bulk_assign_road_chiefs(
        &self,
        actor: &Person,
        target: &BulkTarget,
        level: RoadChiefLevel,
        person: PersonId,
    ) -> Result<BulkAssigned, ServiceError> {
        require_admin(actor)?;
        let Some(t) = &self.territory else {
            return Err(ServiceError::NotConfigured(
                "no territory is loaded: there are no road segments".into(),
            ));
        };
        let trimmed = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let road = trimmed(&target.road_name);
        let street = trimmed(&target.street);
        let given = [
            road.is_some(),
            street.is_some(),
            target.segment_ids.is_some(),
        ]
        .iter()
        .filter(|x| **x)
        .count();
        if given != 1 {
            return Err(ServiceError::invalid(
                "target",
                "give exactly one of road_name, street, segment_ids",
            ));
        }
        let mut segments: Vec<String> = if let Some(name) = &road {
            let v: Vec<String> = t
                .segment_infos()
                .filter(|(_, i)| i.road_name == *name)
                .map(|(id, _)| id.to_owned())
                .collect();
            if v.is_empty() {
                return Err(ServiceError::invalid(
                    "road_name",
                    format!(
                        "no road segment is named {:?}",
                        name.chars().take(64).collect::<String>()
                    ),
                ));
            }
            v
        } else if let Some(code) = &street {
            if t.street_name(code).is_none() {
                return Err(ServiceError::invalid(
                    "street",
                    format!(
                        "no street office with code {:?}",
                        code.chars().take(16).collect::<String>()
                    ),
                ));
            }
            let v: Vec<String> = t
                .segment_infos()
                .filter(|(_, i)| i.street_code.as_deref() == Some(code.as_str()))
                .map(|(id, _)| id.to_owned())
                .collect();
            if v.is_empty() {
                return Err(ServiceError::invalid(
                    "street",
                    "the street office has no road segment",
                ));
            }
            v
        } else {
            let ids = target.segment_ids.as_deref().unwrap_or(&[]);
            if ids.is_empty() {
                return Err(ServiceError::invalid(
                    "segment_ids",
                    "give at least one segment id",
                ));
            }
            if ids.len() > MAX_BULK_SEGMENTS {
                return Err(ServiceError::invalid(
                    "segment_ids",
                    format!("at most {MAX_BULK_SEGMENTS} segments at once"),
                ));
            }
            for (i, id) in ids.iter().enumerate() {
                if t.segment(id.trim()).is_none() {
                    return Err(ServiceError::invalid(
                        format!("segment_ids[{i}]"),
                        format!(
                            "no road segment {:?} in the territory",
                            id.chars().take(64).collect::<String>()
                        ),
                    ));
                }
            }
            ids.iter().map(|s| s.trim().to_owned()).collect()
        };
        segments.sort();
        segments.dedup();
        if segments.len() > MAX_BULK_SEGMENTS {
            return Err(ServiceError::invalid(
                "target",
                format!(
                    "{} segments: at most {MAX_BULK_SEGMENTS} at once",
                    segments.len()
                ),
            ));
        }
        let chief = match self.store.person(person).await {
            Ok(p) => p,
            Err(StoreError::NotFound(_)) => {
                return Err(ServiceError::invalid(
                    "person_id",
                    format!("no person with id {person}"),
                ))
            }
            Err(e) => return Err(e.into()),
        };
        if chief.role != Role::RoadChief || !chief.active {
            return Err(ServiceError::invalid(
                "person_id",
                "must be an active person with the role road_chief",
            ));
        }
        let current = self.store.road_chiefs(None).await?;
        let mut assigned = Vec::new();
        let mut unchanged = Vec::new();
        let mut before = Vec::new();
        let mut ops = Vec::new();
        for seg in segments {
            let holder = current
                .iter()
                .find(|a| a.segment_id == seg && a.level == level.as_str());
            if holder.is_some_and(|a| a.person_id == person) {
                unchanged.push(seg);
                continue;
            }
            if let Some(h) = holder {
                before.push(serde_json::json!({
                    "segment_id": h.segment_id, "level": h.level, "person_id": h.person_id,
                }));
            }
            ops.push(AdminOp::AssignRoadChief {
                segment_id: seg.clone(),
                level: level.as_str().to_owned(),
                person,
            });
            assigned.push(seg);
        }
        if !ops.is_empty() {
            let after = serde_json::json!({
                "segments": assigned, "level": level.as_str(), "person_id": person,
            });
            self.admin_commit(
                actor,
                ops,
                "road_chief",
                format!("bulk/{}", level.as_str()),
                "assign_bulk",
                Some(serde_json::Value::Array(before)),
                Some(after),
            )
            .await?;
        }
        Ok(BulkAssigned {
            level: level.as_str().to_owned(),
            person_id: person.to_string(),
            assigned,
            unchanged,
        })
    }
}
