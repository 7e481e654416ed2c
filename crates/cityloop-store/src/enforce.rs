//! Storage of parties and enforcement records (issue 20, migration 0020): `parties`,
//! `case_parties` (which party a case names, append-only, the latest row is current) and
//! `enforcement_steps` (one row per step of a record, append-only: triggers refuse UPDATE
//! and DELETE; a correction is a new row).
//!
//! The store checks nothing of the procedure: `cityloop_domain::enforce::decide` did. It
//! keeps the order: a step's `(record_id, seq)` is the primary key, so of two steps racing
//! for the same position exactly one is written and the other is a conflict.
//!
//! [`EnforceStore`] is a supertrait of [`Store`](crate::Store), implemented for both
//! backends by `sql_enforce!` from one body of portable SQL. Parties and steps are not
//! case events: they do not go through the case pipeline and do not change a case view.

use async_trait::async_trait;
use chrono::{DateTime, Utc};
use cityloop_domain::enforce::StepEvent;
use cityloop_domain::ids::{CaseId, PersonId, UnitId};
use cityloop_domain::party::PartyKind;
use uuid::Uuid;

use crate::Result;

/// A stored party. `id_number` is kept in full; readers get it shaped by the privacy
/// table (`cityloop-service/src/privacy.rs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartyRow {
    pub id: Uuid,
    pub kind: PartyKind,
    pub name: String,
    /// Organisations: the checked 统一社会信用代码 (unique).
    pub credit_code: Option<String>,
    /// People: the id number.
    pub id_number: Option<String>,
    pub address: Option<String>,
    pub created_at: DateTime<Utc>,
    pub created_by: Option<PersonId>,
}

/// A case naming a party (the `seq`-th link of the case; the highest is current).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CasePartyLink {
    pub case_id: CaseId,
    pub seq: u32,
    pub party_id: Uuid,
    pub at: DateTime<Utc>,
    pub by: Option<PersonId>,
}

/// A stored step of an enforcement record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnforcementStepRow {
    pub record_id: Uuid,
    pub case_id: CaseId,
    pub party_id: Uuid,
    /// The recording officer's unit.
    pub unit_id: Option<UnitId>,
    pub step: StepEvent,
    pub recorded_by: Option<PersonId>,
    pub recorded_at: DateTime<Utc>,
}

/// The longest page of a party search.
pub const MAX_PARTY_PAGE: u32 = 100;

/// Parties and enforcement records (both backends, `sql_enforce!`).
#[async_trait]
pub trait EnforceStore: Send + Sync {
    /// Inserts a party; a credit code already used is a conflict.
    async fn create_party(&self, p: &PartyRow) -> Result<()>;
    async fn get_party(&self, id: Uuid) -> Result<PartyRow>;
    /// Parties whose name contains `text` or whose credit code starts with it (upper
    /// case), by name, at most `limit` (≤ [`MAX_PARTY_PAGE`]).
    async fn search_parties(&self, text: &str, limit: u32) -> Result<Vec<PartyRow>>;
    /// Appends a case → party link; `seq` must be the next (else a conflict).
    async fn link_case_party(&self, link: &CasePartyLink) -> Result<()>;
    /// The current link of a case.
    async fn case_party(&self, case: CaseId) -> Result<Option<CasePartyLink>>;
    /// The cases whose current link names `party`, with their creation times, oldest
    /// first.
    async fn party_cases(&self, party: Uuid) -> Result<Vec<(CaseId, DateTime<Utc>)>>;
    /// Appends a step; `(record_id, seq)` taken is a conflict.
    async fn append_enforcement_step(&self, row: &EnforcementStepRow) -> Result<()>;
    /// Every step of the records of a case, by record then seq.
    async fn enforcement_steps_of_case(&self, case: CaseId) -> Result<Vec<EnforcementStepRow>>;
    /// Every step of the records against a party, by record then seq.
    async fn enforcement_steps_of_party(&self, party: Uuid) -> Result<Vec<EnforcementStepRow>>;
}

macro_rules! sql_enforce {
    ($store:ty, $db:ty) => {
        mod enforce_sql {
            use async_trait::async_trait;
            use chrono::{DateTime, Utc};
            use cityloop_domain::ids::{CaseId, PersonId, UnitId};
            use sqlx::Row;
            use uuid::Uuid;

            use crate::enforce::{
                CasePartyLink, EnforceStore, EnforcementStepRow, PartyRow, MAX_PARTY_PAGE,
            };
            use crate::{Result, StoreError};
            #[allow(unused_imports)]
            use super::*;

            fn uuid(s: &str) -> Result<Uuid> {
                s.parse()
                    .map_err(|e| StoreError::Corrupt(format!("bad id {s:?}: {e}")))
            }

            fn person(s: Option<String>) -> Result<Option<PersonId>> {
                s.map(|s| PersonId::parse(&s).map_err(|e| StoreError::Corrupt(e.to_string())))
                    .transpose()
            }

            fn party_row(r: &<$db as sqlx::Database>::Row) -> Result<PartyRow> {
                let kind: String = r.try_get("kind")?;
                Ok(PartyRow {
                    id: uuid(&r.try_get::<String, _>("id")?)?,
                    kind: kind
                        .parse()
                        .map_err(|e| StoreError::Corrupt(format!("party kind: {e}")))?,
                    name: r.try_get("name")?,
                    credit_code: r.try_get("credit_code")?,
                    id_number: r.try_get("id_number")?,
                    address: r.try_get("address")?,
                    created_at: r.try_get("created_at")?,
                    created_by: person(r.try_get("created_by")?)?,
                })
            }

            fn step_row(r: &<$db as sqlx::Database>::Row) -> Result<EnforcementStepRow> {
                let body: String = r.try_get("body")?;
                let unit: Option<String> = r.try_get("unit_id")?;
                Ok(EnforcementStepRow {
                    record_id: uuid(&r.try_get::<String, _>("record_id")?)?,
                    case_id: CaseId(uuid(&r.try_get::<String, _>("case_id")?)?),
                    party_id: uuid(&r.try_get::<String, _>("party_id")?)?,
                    unit_id: unit.map(|u| uuid(&u).map(UnitId)).transpose()?,
                    step: serde_json::from_str(&body)?,
                    recorded_by: person(r.try_get("recorded_by")?)?,
                    recorded_at: r.try_get("recorded_at")?,
                })
            }

            const PARTY_COLS: &str =
                "id, kind, name, credit_code, id_number, address, created_at, created_by";
            const STEP_COLS: &str = "record_id, seq, case_id, party_id, unit_id, kind, at, body, recorded_by, recorded_at";

            #[async_trait]
            impl EnforceStore for $store {
                async fn create_party(&self, p: &PartyRow) -> Result<()> {
                    sqlx::query(&format!(
                        "INSERT INTO parties ({PARTY_COLS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)"
                    ))
                    .bind(p.id.to_string())
                    .bind(p.kind.as_str())
                    .bind(&p.name)
                    .bind(&p.credit_code)
                    .bind(&p.id_number)
                    .bind(&p.address)
                    .bind(p.created_at)
                    .bind(p.created_by.map(|x| x.to_string()))
                    .execute(&self.writer)
                    .await?;
                    Ok(())
                }

                async fn get_party(&self, id: Uuid) -> Result<PartyRow> {
                    let r = sqlx::query(&format!("SELECT {PARTY_COLS} FROM parties WHERE id = $1"))
                        .bind(id.to_string())
                        .fetch_optional(&self.reader)
                        .await?
                        .ok_or_else(|| StoreError::NotFound(format!("party {id}")))?;
                    party_row(&r)
                }

                async fn search_parties(&self, text: &str, limit: u32) -> Result<Vec<PartyRow>> {
                    let escaped = text
                        .replace('\\', "\\\\")
                        .replace('%', "\\%")
                        .replace('_', "\\_");
                    let rows = sqlx::query(&format!(
                        "SELECT {PARTY_COLS} FROM parties
                         WHERE name LIKE $1 ESCAPE '\\' OR credit_code LIKE $2 ESCAPE '\\'
                         ORDER BY name, id LIMIT $3"
                    ))
                    .bind(format!("%{escaped}%"))
                    .bind(format!("{}%", escaped.to_uppercase()))
                    .bind(i64::from(limit.clamp(1, MAX_PARTY_PAGE)))
                    .fetch_all(&self.reader)
                    .await?;
                    rows.iter().map(party_row).collect()
                }

                async fn link_case_party(&self, l: &CasePartyLink) -> Result<()> {
                    sqlx::query(
                        "INSERT INTO case_parties (case_id, seq, party_id, at, by_person)
                         VALUES ($1, $2, $3, $4, $5)",
                    )
                    .bind(l.case_id.to_string())
                    .bind(i64::from(l.seq))
                    .bind(l.party_id.to_string())
                    .bind(l.at)
                    .bind(l.by.map(|x| x.to_string()))
                    .execute(&self.writer)
                    .await?;
                    Ok(())
                }

                async fn case_party(&self, case: CaseId) -> Result<Option<CasePartyLink>> {
                    let r = sqlx::query(
                        "SELECT case_id, seq, party_id, at, by_person FROM case_parties
                         WHERE case_id = $1 ORDER BY seq DESC LIMIT 1",
                    )
                    .bind(case.to_string())
                    .fetch_optional(&self.reader)
                    .await?;
                    let Some(r) = r else { return Ok(None) };
                    let seq: i64 = r.try_get("seq")?;
                    Ok(Some(CasePartyLink {
                        case_id: case,
                        seq: u32::try_from(seq)
                            .map_err(|_| StoreError::Corrupt(format!("link seq {seq}")))?,
                        party_id: uuid(&r.try_get::<String, _>("party_id")?)?,
                        at: r.try_get("at")?,
                        by: person(r.try_get("by_person")?)?,
                    }))
                }

                async fn party_cases(&self, party: Uuid) -> Result<Vec<(CaseId, DateTime<Utc>)>> {
                    let rows = sqlx::query(
                        "SELECT l.case_id AS case_id, c.created_at AS created_at
                         FROM case_parties l JOIN cases c ON c.id = l.case_id
                         WHERE l.party_id = $1
                           AND l.seq = (SELECT MAX(x.seq) FROM case_parties x WHERE x.case_id = l.case_id)
                         ORDER BY c.created_at, c.id",
                    )
                    .bind(party.to_string())
                    .fetch_all(&self.reader)
                    .await?;
                    rows.iter()
                        .map(|r| {
                            Ok((
                                CaseId(uuid(&r.try_get::<String, _>("case_id")?)?),
                                r.try_get("created_at")?,
                            ))
                        })
                        .collect()
                }

                async fn append_enforcement_step(&self, row: &EnforcementStepRow) -> Result<()> {
                    sqlx::query(&format!(
                        "INSERT INTO enforcement_steps ({STEP_COLS})
                         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
                    ))
                    .bind(row.record_id.to_string())
                    .bind(i64::from(row.step.seq))
                    .bind(row.case_id.to_string())
                    .bind(row.party_id.to_string())
                    .bind(row.unit_id.map(|u| u.to_string()))
                    .bind(row.step.kind.as_str())
                    .bind(row.step.at)
                    .bind(serde_json::to_string(&row.step)?)
                    .bind(row.recorded_by.map(|x| x.to_string()))
                    .bind(row.recorded_at)
                    .execute(&self.writer)
                    .await?;
                    Ok(())
                }

                async fn enforcement_steps_of_case(
                    &self,
                    case: CaseId,
                ) -> Result<Vec<EnforcementStepRow>> {
                    let rows = sqlx::query(&format!(
                        "SELECT {STEP_COLS} FROM enforcement_steps WHERE case_id = $1
                         ORDER BY record_id, seq"
                    ))
                    .bind(case.to_string())
                    .fetch_all(&self.reader)
                    .await?;
                    rows.iter().map(step_row).collect()
                }

                async fn enforcement_steps_of_party(
                    &self,
                    party: Uuid,
                ) -> Result<Vec<EnforcementStepRow>> {
                    let rows = sqlx::query(&format!(
                        "SELECT {STEP_COLS} FROM enforcement_steps WHERE party_id = $1
                         ORDER BY record_id, seq"
                    ))
                    .bind(party.to_string())
                    .fetch_all(&self.reader)
                    .await?;
                    rows.iter().map(step_row).collect()
                }
            }
        }
    };
}
pub(crate) use sql_enforce;
