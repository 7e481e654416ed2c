//! The deadline scheduler's use case: find cases whose light turned yellow or red and
//! notify the people responsible, each escalation exactly once per stage clock — the
//! store records it in the same transaction as the notifications, so a restart or a
//! second scheduler never fires it again.
//!
//! Yellow warns whoever must act in the current stage (the handling unit's handlers
//! while handling; operators, inspectors or dispatchers in the earlier stages). Red goes
//! up: to the supervisors and to the road chief one level above the segment's 二级 road
//! chief (its 一级 road chief; the street office's road chiefs when the case is on no
//! segment).

use cityloop_domain::case::Case;
use cityloop_domain::escalation::{clock_key, due, Level};
use cityloop_domain::inbox::NoticeKind;
use cityloop_domain::limits::Stage;
use cityloop_domain::model::{Person, RoadChiefLevel, Role, UnitKind};
use cityloop_domain::workflow::CaseState;
use cityloop_store::{CaseFilter, Cursor, Notification, Page};

use std::sync::Arc;

use crate::live::LiveMsg;
use crate::{ServiceError, Services};

/// Open cases scanned per page.
const SCAN_PAGE: u32 = 500;

impl Services {
    /// One scheduler pass. Returns how many escalations fired.
    pub async fn escalate_due(&self) -> Result<usize, ServiceError> {
        let now = self.now();
        let people = self.store.list_people().await?;
        let open: Vec<String> = CaseState::ALL
            .iter()
            .filter(|s| !s.is_terminal())
            .map(|s| s.as_str().to_owned())
            .collect();
        let filter = CaseFilter {
            states: open,
            ..CaseFilter::default()
        };
        let mut page = Page {
            after: None,
            limit: SCAN_PAGE,
        };
        let mut fired = 0;
        loop {
            let cases = self.store.list_cases(&filter, &page).await?;
            let Some(last) = cases.last() else { break };
            page.after = Some(Cursor {
                created_at: last.created_at,
                id: last.id,
            });
            for case in &cases {
                let Some(key) = clock_key(case) else { continue };
                for level in due(case, &self.calendar(), now) {
                    let notes = self
                        .recipients(case, level, &people)
                        .await?
                        .into_iter()
                        .map(|p| Notification {
                            id: uuid::Uuid::now_v7(),
                            person_id: p.id,
                            case_id: Some(case.id),
                            kind: match level {
                                Level::Yellow => NoticeKind::DeadlineYellow,
                                Level::Red => NoticeKind::DeadlineRed,
                            }
                            .as_str()
                            .to_owned(),
                            message: message(case, level),
                            created_at: now,
                            read_at: None,
                            event_seq: None,
                        });
                    let notes: Vec<Notification> = notes.collect();
                    if self
                        .store
                        .fire_escalation(case.id, &key, level.as_str(), now, &notes)
                        .await?
                    {
                        tracing::info!(case.id = %case.id, case.number = %case.number, level = level.as_str(), recipients = notes.len(), "deadline escalation");
                        fired += 1;
                        // The light changed: live streams hear the case and each notice.
                        self.live.send(LiveMsg::Case {
                            case: Arc::new(case.clone()),
                            unit_before: case.unit_id,
                        });
                        for n in notes {
                            self.live.send(LiveMsg::Notice(Arc::new(n)));
                        }
                    }
                }
            }
        }
        Ok(fired)
    }

    async fn recipients<'p>(
        &self,
        case: &Case,
        level: Level,
        people: &'p [Person],
    ) -> Result<Vec<&'p Person>, ServiceError> {
        let active = people.iter().filter(|p| p.active);
        match level {
            Level::Yellow => {
                let role = match case.stage() {
                    Some(Stage::Accept | Stage::Register | Stage::Callback | Stage::Close) => {
                        Role::Operator
                    }
                    Some(Stage::Verify | Stage::Check) => Role::Inspector,
                    Some(Stage::Dispatch) => Role::Dispatcher,
                    Some(Stage::Handle) => Role::Handler,
                    None => return Ok(Vec::new()),
                };
                Ok(active
                    .filter(|p| {
                        p.role == role && (role != Role::Handler || p.unit_id == case.unit_id)
                    })
                    .collect())
            }
            Level::Red => {
                if let Some(seg) = &case.routing.segment_id {
                    let above = RoadChiefLevel::Second
                        .above()
                        .map(|l| l.as_str())
                        .unwrap_or("first");
                    let chiefs = self.store.road_chiefs(Some(seg)).await?;
                    let up: Vec<_> = chiefs
                        .iter()
                        .filter(|a| a.level == above)
                        .map(|a| a.person_id)
                        .collect();
                    if !up.is_empty() {
                        return Ok(active
                            .filter(|p| p.role == Role::Supervisor || up.contains(&p.id))
                            .collect());
                    }
                }
                let cache = self.cached();
                let street_unit = case.routing.street_code.as_deref().and_then(|code| {
                    cache
                        .units
                        .iter()
                        .find(|u| u.kind == UnitKind::Street && u.type_key == code)
                        .map(|u| u.id)
                });
                Ok(active
                    .filter(|p| {
                        p.role == Role::Supervisor
                            || (p.role == Role::RoadChief
                                && street_unit.is_some()
                                && p.unit_id == street_unit)
                    })
                    .collect())
            }
        }
    }
}

fn message(case: &Case, level: Level) -> String {
    let stage = case.stage().map(|s| s.zh()).unwrap_or("");
    match level {
        Level::Yellow => format!("案件 {} {}时限已用去八成，请尽快办理", case.number, stage),
        Level::Red => format!("案件 {} {}已超期，请督办", case.number, stage),
    }
}
