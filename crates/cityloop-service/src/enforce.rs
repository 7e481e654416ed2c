//! Parties and enforcement records (issue 20), as use cases: create and find parties,
//! name a case's party, record a step of an enforcement record, and read a case's or a
//! party's enforcement with the repeat-offender flag (黑名单).
//!
//! The rules are in the domain: the procedure and its clocks in
//! `cityloop_domain::enforce`, the credit code and the flag in `cityloop_domain::party`,
//! who sees an id number in `cityloop_domain::privacy` (applied here through
//! `shape_party_id`, the one table). This module looks up what they need (the record's
//! steps, the party, the law-article table, the district's rule) and stores the result.
//!
//! Settings: `law_articles` (the district's table; without it, the shipped starter set
//! `data/law-articles.csv`, every row cited and marked 未核实 where unchecked) and
//! `repeat_offender` (a [`RepeatRule`]; without it the invented default, flagged as such).

use chrono::{DateTime, Utc};
use cityloop_domain::enforce::{
    clocks, decide, next_kinds, FineRange, LawArticle, LimitClock, Record, Step, StepContext,
    StepKind, MAX_AMOUNT_YUAN,
};
use cityloop_domain::ids::CaseId;
use cityloop_domain::model::{Actor, Role};
use cityloop_domain::party::{CreditCode, Flag, PartyKind, RepeatRule};
use cityloop_domain::privacy::shape_party_id;
use cityloop_store::{CasePartyLink, EnforcementStepRow, PartyRow};
use serde::Serialize;
use uuid::Uuid;

use crate::reference::get_setting;
use crate::{ServiceError, Services};

/// Settings key of the district's law-article table.
pub const LAW_ARTICLES: &str = "law_articles";
/// Settings key of the district's repeat-offender rule.
pub const REPEAT_RULE: &str = "repeat_offender";
/// The shipped starter set of law articles (see `data/NOTICE.md`).
pub const LAW_ARTICLES_CSV: &str = include_str!("../../../data/law-articles.csv");

const MAX_NAME: usize = 100;
const MAX_ID_NUMBER: usize = 32;
const MAX_ADDRESS: usize = 200;

/// A new party as submitted.
#[derive(Debug, Clone, Default)]
pub struct NewParty {
    pub kind: Option<PartyKind>,
    pub name: Option<String>,
    pub credit_code: Option<String>,
    pub id_number: Option<String>,
    pub address: Option<String>,
}

/// A party as one reader may see it: the id number shaped by the privacy table.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PartyView {
    pub id: Uuid,
    pub kind: PartyKind,
    pub name: String,
    pub credit_code: Option<String>,
    /// Full to enforcement officers, masked (`****1234`) to everyone else.
    pub id_number: Option<String>,
    pub address: Option<String>,
    pub created_at: DateTime<Utc>,
}

/// One enforcement record with its clocks and the steps that may follow.
#[derive(Debug, Clone, Serialize)]
pub struct RecordView {
    pub id: Uuid,
    pub case_id: CaseId,
    pub party_id: Uuid,
    pub record: Record,
    pub clocks: Vec<LimitClock>,
    pub next: Vec<StepKind>,
}

/// A party's repeat-offender status, with the rule in force and whether that rule is
/// the invented default (no district setting).
#[derive(Debug, Clone, Serialize)]
pub struct FlagView {
    pub flag: Option<Flag>,
    pub rule: RepeatRule,
    pub rule_is_default: bool,
}

/// A case's enforcement: its party (if named), the party's flag, its records.
#[derive(Debug, Clone, Serialize)]
pub struct CaseEnforcement {
    pub party: Option<PartyView>,
    pub flag: Option<FlagView>,
    pub records: Vec<RecordView>,
}

/// A party's page: the party, its flag, its cases and its records over time.
#[derive(Debug, Clone, Serialize)]
pub struct PartyPage {
    pub party: PartyView,
    pub flag: FlagView,
    /// Cases naming the party (id, reported at), oldest first.
    pub cases: Vec<(CaseId, DateTime<Utc>)>,
    pub records: Vec<RecordView>,
}

/// Parses the shipped CSV (or a district's copy) into articles, naming the row and the
/// column of a bad value.
pub fn parse_law_articles(text: &str) -> Result<Vec<LawArticle>, ServiceError> {
    let mut rd = csv::Reader::from_reader(text.as_bytes());
    let mut out = Vec::new();
    for (i, rec) in rd.records().enumerate() {
        let rec =
            rec.map_err(|e| ServiceError::invalid(format!("row {}", i + 2), e.to_string()))?;
        let col = |n: usize| rec.get(n).unwrap_or("").trim().to_owned();
        let row = i + 2;
        let num = |n: usize, name: &str| -> Result<Option<i64>, ServiceError> {
            let v = col(n);
            if v.is_empty() {
                return Ok(None);
            }
            v.parse()
                .map(Some)
                .map_err(|_| ServiceError::invalid(format!("row {row}: {name}"), "not a number"))
        };
        let range = |a: Option<i64>, b: Option<i64>, name: &str| match (a, b) {
            (Some(a), Some(b)) if a <= b => Ok(Some(FineRange {
                min_yuan: a,
                max_yuan: b,
            })),
            (None, None) => Ok(None),
            _ => Err(ServiceError::invalid(
                format!("row {row}: {name}"),
                "give both ends, the lower first",
            )),
        };
        out.push(LawArticle {
            code: col(0),
            law: col(1),
            article: col(2),
            forbids: col(3),
            warning: col(4) == "true",
            person_fine: range(
                num(5, "person_min_yuan")?,
                num(6, "person_max_yuan")?,
                "person",
            )?,
            org_fine: range(num(7, "org_min_yuan")?, num(8, "org_max_yuan")?, "org")?,
            source: col(9),
            status: col(10),
        });
    }
    validate_articles(&out)?;
    Ok(out)
}

/// Every article has a code (unique), a law, an article, a source and a status.
pub fn validate_articles(articles: &[LawArticle]) -> Result<(), ServiceError> {
    let mut seen = std::collections::BTreeSet::new();
    for (i, a) in articles.iter().enumerate() {
        for (field, v) in [
            ("code", &a.code),
            ("law", &a.law),
            ("article", &a.article),
            ("source", &a.source),
            ("status", &a.status),
        ] {
            if v.trim().is_empty() {
                return Err(ServiceError::invalid(
                    format!("articles[{i}].{field}"),
                    "required",
                ));
            }
        }
        for (field, r) in [("person_fine", a.person_fine), ("org_fine", a.org_fine)] {
            if let Some(r) = r {
                if r.min_yuan < 0 || r.min_yuan > r.max_yuan || r.max_yuan > MAX_AMOUNT_YUAN {
                    return Err(ServiceError::invalid(
                        format!("articles[{i}].{field}"),
                        format!("0 ≤ min_yuan ≤ max_yuan ≤ {MAX_AMOUNT_YUAN}"),
                    ));
                }
            }
        }
        if !seen.insert(a.code.as_str()) {
            return Err(ServiceError::invalid(
                format!("articles[{i}].code"),
                format!("{} is used twice", a.code),
            ));
        }
    }
    Ok(())
}

fn text(v: Option<&str>, field: &str, max: usize) -> Result<Option<String>, ServiceError> {
    match v.map(str::trim) {
        None | Some("") => Ok(None),
        Some(s) if s.chars().count() > max => Err(ServiceError::invalid(
            field,
            format!("at most {max} characters"),
        )),
        Some(s) => Ok(Some(s.to_owned())),
    }
}

fn staff(actor: &Actor, allowed: &[Role]) -> Result<Role, ServiceError> {
    match actor.staff_role() {
        Some(r) if allowed.contains(&r) => Ok(r),
        _ => Err(ServiceError::Forbidden(format!(
            "only {} may do this",
            allowed
                .iter()
                .map(|r| r.zh())
                .collect::<Vec<_>>()
                .join("、")
        ))),
    }
}

/// Roles that create parties and name a case's party.
const PARTY_WRITERS: &[Role] = &[
    Role::Enforcer,
    Role::Operator,
    Role::Dispatcher,
    Role::Supervisor,
];

impl Services {
    /// The district's law-article table, or the shipped starter set.
    pub async fn law_articles(&self) -> Result<Vec<LawArticle>, ServiceError> {
        match get_setting::<Vec<LawArticle>>(&*self.store, LAW_ARTICLES).await? {
            Some(a) => Ok(a),
            None => parse_law_articles(LAW_ARTICLES_CSV),
        }
    }

    /// The district's repeat-offender rule and whether it is the invented default.
    pub async fn repeat_rule(&self) -> Result<(RepeatRule, bool), ServiceError> {
        Ok(
            match get_setting::<RepeatRule>(&*self.store, REPEAT_RULE).await? {
                Some(r) => (r, false),
                None => (RepeatRule::default(), true),
            },
        )
    }

    fn party_view(&self, actor: &Actor, p: PartyRow) -> PartyView {
        let role = actor.staff_role().unwrap_or(Role::RoadChief);
        PartyView {
            id: p.id,
            kind: p.kind,
            name: p.name,
            credit_code: p.credit_code,
            id_number: shape_party_id(p.id_number.as_deref(), role, &self.privacy_settings()),
            address: p.address,
            created_at: p.created_at,
        }
    }

    /// Creates a party: an organisation with a checked 统一社会信用代码, or a person with
    /// an optional id number.
    pub async fn create_party(
        &self,
        actor: &Actor,
        new: NewParty,
    ) -> Result<PartyView, ServiceError> {
        staff(actor, PARTY_WRITERS)?;
        let kind = new
            .kind
            .ok_or_else(|| ServiceError::invalid("kind", "required: person or organisation"))?;
        let name = text(new.name.as_deref(), "name", MAX_NAME)?
            .ok_or_else(|| ServiceError::invalid("name", "required"))?;
        let code = text(new.credit_code.as_deref(), "credit_code", 32)?;
        let id_number = text(new.id_number.as_deref(), "id_number", MAX_ID_NUMBER)?;
        let credit_code = match (kind, code) {
            (PartyKind::Organisation, Some(c)) => Some(
                CreditCode::parse(&c)
                    .map_err(|e| ServiceError::invalid("credit_code", e.to_string()))?
                    .to_string(),
            ),
            (PartyKind::Organisation, None) => {
                return Err(ServiceError::invalid(
                    "credit_code",
                    "required for an organisation: its 18-character 统一社会信用代码",
                ))
            }
            (PartyKind::Person, Some(_)) => {
                return Err(ServiceError::invalid(
                    "credit_code",
                    "a person has no 统一社会信用代码: give id_number instead",
                ))
            }
            (PartyKind::Person, None) => None,
        };
        if kind == PartyKind::Organisation && id_number.is_some() {
            return Err(ServiceError::invalid(
                "id_number",
                "an organisation is identified by its credit_code",
            ));
        }
        let row = PartyRow {
            id: Uuid::now_v7(),
            kind,
            name,
            credit_code,
            id_number,
            address: text(new.address.as_deref(), "address", MAX_ADDRESS)?,
            created_at: self.now(),
            created_by: actor.person_id,
        };
        self.store.create_party(&row).await.map_err(|e| match e {
            cityloop_store::StoreError::Conflict(_) => ServiceError::Duplicate {
                field: "credit_code".into(),
                message: "a party with this 统一社会信用代码 exists".into(),
            },
            e => e.into(),
        })?;
        Ok(self.party_view(actor, row))
    }

    /// Parties by name or credit-code prefix (staff).
    pub async fn search_parties(
        &self,
        actor: &Actor,
        q: &str,
        limit: u32,
    ) -> Result<Vec<PartyView>, ServiceError> {
        staff(actor, Role::ALL)?;
        let q = text(Some(q), "q", 64)?.ok_or_else(|| ServiceError::invalid("q", "required"))?;
        let rows = self.store.search_parties(&q, limit).await?;
        Ok(rows
            .into_iter()
            .map(|p| self.party_view(actor, p))
            .collect())
    }

    /// The flag of a party now.
    async fn flag_of(&self, party: Uuid) -> Result<FlagView, ServiceError> {
        let (rule, rule_is_default) = self.repeat_rule().await?;
        let episodes: Vec<DateTime<Utc>> = self
            .store
            .party_cases(party)
            .await?
            .into_iter()
            .map(|(_, at)| at)
            .collect();
        let records = fold_records(self.store.enforcement_steps_of_party(party).await?);
        let penalties: Vec<DateTime<Utc>> = records
            .iter()
            .filter(|(_, _, _, r)| r.is_penalty())
            .filter_map(|(_, _, _, r)| r.decided_at)
            .collect();
        Ok(FlagView {
            flag: rule.flag(&penalties, &episodes, self.now()),
            rule,
            rule_is_default,
        })
    }

    /// A party's page (staff).
    pub async fn party_page(&self, actor: &Actor, id: Uuid) -> Result<PartyPage, ServiceError> {
        staff(actor, Role::ALL)?;
        let p = self.store.get_party(id).await?;
        let flag = self.flag_of(id).await?;
        let cases = self.store.party_cases(id).await?;
        let records = self.record_views(fold_records(
            self.store.enforcement_steps_of_party(id).await?,
        ));
        Ok(PartyPage {
            party: self.party_view(actor, p),
            flag,
            cases,
            records,
        })
    }

    /// Names the party a case is against. Returns the case's enforcement, whose `flag`
    /// marks a flagged party for the operator.
    pub async fn set_case_party(
        &self,
        actor: &Actor,
        case_id: CaseId,
        party_id: Uuid,
    ) -> Result<CaseEnforcement, ServiceError> {
        staff(actor, PARTY_WRITERS)?;
        let case = self.store.get_case(case_id).await?;
        self.check_can_see(actor, &case)?;
        self.store
            .get_party(party_id)
            .await
            .map_err(|_| ServiceError::invalid("party_id", "no such party"))?;
        let current = self.store.case_party(case_id).await?;
        if current.as_ref().is_some_and(|l| l.party_id == party_id) {
            return self.case_enforcement(actor, case_id).await;
        }
        let link = CasePartyLink {
            case_id,
            seq: current.map_or(1, |l| l.seq + 1),
            party_id,
            at: self.now(),
            by: actor.person_id,
        };
        self.store.link_case_party(&link).await?;
        self.case_enforcement(actor, case_id).await
    }

    /// A case's party, its flag and the case's records (staff who may see the case).
    pub async fn case_enforcement(
        &self,
        actor: &Actor,
        case_id: CaseId,
    ) -> Result<CaseEnforcement, ServiceError> {
        let case = self.store.get_case(case_id).await?;
        self.check_can_see(actor, &case)?;
        let (party, flag) = match self.store.case_party(case_id).await? {
            Some(l) => {
                let p = self.store.get_party(l.party_id).await?;
                (
                    Some(self.party_view(actor, p)),
                    Some(self.flag_of(l.party_id).await?),
                )
            }
            None => (None, None),
        };
        let records = self.record_views(fold_records(
            self.store.enforcement_steps_of_case(case_id).await?,
        ));
        Ok(CaseEnforcement {
            party,
            flag,
            records,
        })
    }

    fn record_views(&self, records: Vec<(Uuid, CaseId, Uuid, Record)>) -> Vec<RecordView> {
        let cal = self.calendar();
        let now = self.now();
        records
            .into_iter()
            .map(|(id, case_id, party_id, record)| RecordView {
                id,
                case_id,
                party_id,
                clocks: clocks(&record, &cal, now),
                next: next_kinds(Some(&record), record.state),
                record,
            })
            .collect()
    }

    /// Records one step: `record: None` opens a record (`file` or `on_the_spot`) against
    /// the case's party; otherwise the step follows the record's last one. Enforcement
    /// officers only, on cases of their unit.
    pub async fn record_step(
        &self,
        actor: &Actor,
        case_id: CaseId,
        record: Option<Uuid>,
        step: Step,
    ) -> Result<RecordView, ServiceError> {
        staff(actor, &[Role::Enforcer])?;
        let case = self.store.get_case(case_id).await?;
        self.check_can_see(actor, &case)?;
        let link = self.store.case_party(case_id).await?.ok_or_else(|| {
            ServiceError::invalid(
                "party_id",
                "name the case's party before recording enforcement",
            )
        })?;
        let party = self.store.get_party(link.party_id).await?;
        let (record_id, party_id, existing) = match record {
            None => (Uuid::now_v7(), party.id, None),
            Some(id) => {
                let steps: Vec<EnforcementStepRow> = self
                    .store
                    .enforcement_steps_of_case(case_id)
                    .await?
                    .into_iter()
                    .filter(|s| s.record_id == id)
                    .collect();
                let Some(first) = steps.first() else {
                    return Err(ServiceError::NotFound(format!("enforcement record {id}")));
                };
                let party_id = first.party_id;
                let events: Vec<_> = steps.into_iter().map(|s| s.step).collect();
                (id, party_id, Record::from_steps(&events))
            }
        };
        let record_party = if party_id == party.id {
            party
        } else {
            self.store.get_party(party_id).await?
        };
        let articles = self.law_articles().await?;
        // A correction's amount is checked against the article of the step it corrects.
        let article_code = match (step.kind, step.corrects, existing.as_ref()) {
            (Some(StepKind::Correct), Some(seq), Some(r)) => r
                .steps
                .iter()
                .find(|s| s.seq == seq)
                .and_then(|s| s.article.clone()),
            _ => step.article.clone(),
        };
        let article = article_code
            .as_deref()
            .and_then(|c| articles.iter().find(|a| a.code == c));
        if step.article.is_some() && article.is_none() && step.kind != Some(StepKind::Correct) {
            return Err(ServiceError::invalid(
                "article",
                "not a code of the district's law-article table",
            ));
        }
        let cal = self.calendar();
        let ctx = StepContext {
            now: self.now(),
            cal: &cal,
            party: record_party.kind,
            article,
        };
        let ev = decide(existing.as_ref(), &step, &ctx).map_err(|e| {
            if e.out_of_order {
                ServiceError::OutOfOrder {
                    field: e.field.into(),
                    message: e.problem,
                }
            } else {
                ServiceError::invalid(e.field, e.problem)
            }
        })?;
        self.store
            .append_enforcement_step(&EnforcementStepRow {
                record_id,
                case_id,
                party_id,
                unit_id: actor.unit_id,
                step: ev.clone(),
                recorded_by: actor.person_id,
                recorded_at: self.now(),
            })
            .await?;
        let record = match existing {
            Some(mut r) => {
                r.apply(&ev);
                r
            }
            None => Record::from_steps(std::slice::from_ref(&ev))
                .ok_or_else(|| ServiceError::Internal(anyhow::anyhow!("record did not open")))?,
        };
        Ok(self
            .record_views(vec![(record_id, case_id, party_id, record)])
            .remove(0))
    }

    /// Replaces the district's law-article table (admin; audited).
    pub async fn admin_put_law_articles(
        &self,
        actor: &cityloop_domain::model::Person,
        articles: Vec<LawArticle>,
    ) -> Result<Vec<LawArticle>, ServiceError> {
        crate::admin::require_admin(actor)?;
        validate_articles(&articles)?;
        let before = self.law_articles().await?;
        self.put_setting_audited(actor, LAW_ARTICLES, &before, &articles)
            .await?;
        Ok(articles)
    }

    /// Replaces the district's repeat-offender rule (admin; audited).
    pub async fn admin_put_repeat_rule(
        &self,
        actor: &cityloop_domain::model::Person,
        rule: RepeatRule,
    ) -> Result<RepeatRule, ServiceError> {
        crate::admin::require_admin(actor)?;
        rule.validate()
            .map_err(|e| ServiceError::invalid(e.field, e.problem))?;
        let (before, _) = self.repeat_rule().await?;
        self.put_setting_audited(actor, REPEAT_RULE, &before, &rule)
            .await?;
        Ok(rule)
    }
}

impl Services {
    /// Writes a settings document and its audit row (whose `before`/`after` are objects:
    /// a list is wrapped as `{"items": [...]}`).
    async fn put_setting_audited<T: Serialize>(
        &self,
        actor: &cityloop_domain::model::Person,
        key: &str,
        before: &T,
        after: &T,
    ) -> Result<(), ServiceError> {
        let json = |v: &T| serde_json::to_value(v).map_err(|e| ServiceError::Internal(e.into()));
        let audited = |v: serde_json::Value| match v {
            serde_json::Value::Object(_) => v,
            other => serde_json::json!({ "items": other }),
        };
        let value = json(after)?;
        self.admin_commit(
            actor,
            vec![cityloop_store::AdminOp::PutSetting {
                key: key.to_owned(),
                value: value.clone(),
            }],
            "setting",
            key.to_owned(),
            "update",
            Some(audited(json(before)?)),
            Some(audited(value)),
        )
        .await
    }
}

/// Groups stored steps into records (the store returns them by record, then seq).
fn fold_records(rows: Vec<EnforcementStepRow>) -> Vec<(Uuid, CaseId, Uuid, Record)> {
    let mut out = Vec::new();
    let mut i = 0;
    while i < rows.len() {
        let id = rows[i].record_id;
        let j = rows[i..]
            .iter()
            .position(|r| r.record_id != id)
            .map_or(rows.len(), |k| i + k);
        let steps: Vec<_> = rows[i..j].iter().map(|r| r.step.clone()).collect();
        if let Some(r) = Record::from_steps(&steps) {
            out.push((id, rows[i].case_id, rows[i].party_id, r));
        }
        i = j;
    }
    out.sort_by_key(|(_, _, _, r)| r.filed_at);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_shipped_law_articles_parse_and_each_cites_a_source() {
        let a = parse_law_articles(LAW_ARTICLES_CSV).unwrap();
        assert!(a.len() >= 5);
        for row in &a {
            assert!(!row.source.is_empty(), "{}", row.code);
            assert!(
                row.status == "verified" || row.status == cityloop_domain::enforce::UNVERIFIED,
                "{}: {}",
                row.code,
                row.status
            );
        }
        // The national regulation leaves fine limits to the provinces: warning only.
        let csr = a.iter().find(|r| r.code == "csr-34-1").unwrap();
        assert_eq!((csr.person_fine, csr.org_fine), (None, None));
        assert!(csr.warning);
    }
}
