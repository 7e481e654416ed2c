//! The citizen's case page (`GET /api/v1/public/cases/{ref}`): a case found by its query
//! code (查询码, printed on the receipt) or its full number, told in citizen words — the
//! state's fixed wording, the unit and expected time, each step with its time and any
//! reply written for the citizen, the report's photos and the handler's photos after the
//! fix (their public copies, metadata removed).
//!
//! Access follows what the reference proves:
//! - the **full number** opens only a published case (what Open311 already shows anyone);
//! - the **query code** is a capability (see `cityloop_domain::track`): it also opens a
//!   12345 hotline case, whose caller got the code by message. Petition (信访) and leader
//!   (领导交办) cases have no citizen page at all.
//!
//! The code's key is a random secret in the settings (`query_code_key`), made once at
//! server start; a code is never stored.

use chrono::{DateTime, FixedOffset};
use cityloop_domain::case::{Case, Event, FollowUp, STILL_NOT_FIXED_DAYS};
use cityloop_domain::ids::CaseNumber;
use cityloop_domain::model::{Actor, Source};
use cityloop_domain::public::PublicLang;
use cityloop_domain::track;
use cityloop_domain::workflow::{Action, CaseState, Command, Satisfaction};
use cityloop_store::{AdminOp, AuditEntry, StoreError};
use rand_core::{OsRng, RngCore};
use serde::{Deserialize, Serialize};

use crate::auth::hex;
use crate::cases::ReportInput;
use crate::open311::{has_point, is_published, Lang, PublicState, PublicStatus};
use crate::{reference, ServiceError, Services};

/// Settings key of the query-code secret.
pub const SETTING: &str = "query_code_key";
/// The longest reference (a code or a number) looked up, in characters.
pub const MAX_REF_CHARS: usize = 64;
/// The longest comment a reporter writes with their rating (the workflow's reason limit).
pub const MAX_COMMENT_CHARS: usize = cityloop_domain::workflow::MAX_REASON_CHARS;

#[derive(Debug, Clone, Serialize, Deserialize)]
struct CodeKey {
    /// 32 random bytes, hex.
    key: String,
}

/// One step of the case page.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct StepView {
    /// In the district's zone.
    pub at: DateTime<FixedOffset>,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reply: Option<String>,
    /// Photo URLs of this step (`/media/{id}` for our own photos).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub photos: Vec<String>,
}

/// The citizen's case page.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct PublicCase {
    pub number: String,
    /// The query code, only when the page was opened with it (a number never reveals it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query_code: Option<String>,
    /// `open` or `closed`.
    pub status: &'static str,
    /// The state in fixed citizen wording.
    pub status_text: String,
    pub service_name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expected_datetime: Option<DateTime<FixedOffset>>,
    pub requested_datetime: DateTime<FixedOffset>,
    pub updated_datetime: DateTime<FixedOffset>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub lat: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub long: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    /// Oldest first.
    pub steps: Vec<StepView>,
    /// The report's photos.
    pub before_photos: Vec<String>,
    /// The handler's photos after the fix (from the latest report-back).
    pub after_photos: Vec<String>,
    /// The page was opened with the query code and the case waits for its call-back
    /// (回访): the reporter may rate it (`POST /api/v1/public/cases/{code}/rating`).
    pub can_rate: bool,
    /// The page was opened with the query code and the case was closed at most 30 days ago:
    /// the reporter may say it is still not fixed
    /// (`POST /api/v1/public/cases/{code}/still-not-fixed`), which opens a linked new case.
    pub can_follow_up: bool,
    /// The closed case this one follows up ("still not fixed"), by number.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub follows: Option<String>,
}

/// A reporter's comment on the case page (rating, "still not fixed"): trimmed, empty as
/// none, at most [`MAX_COMMENT_CHARS`], refused in the page's language.
fn public_comment(comment: Option<&str>, lang: Lang) -> Result<Option<&str>, ServiceError> {
    let comment = comment.map(str::trim).filter(|c| !c.is_empty());
    if comment.is_some_and(|c| c.chars().count() > MAX_COMMENT_CHARS) {
        return Err(ServiceError::Invalid {
            field: "comment".into(),
            message: match lang {
                Lang::Zh => format!("意见请不要超过 {MAX_COMMENT_CHARS} 个字"),
                Lang::En => format!("at most {MAX_COMMENT_CHARS} characters"),
            },
        });
    }
    Ok(comment)
}

/// Whether a case of this source has a citizen page reached by its code.
fn has_page(source: Source) -> bool {
    is_published(source) || source == Source::Hotline12345
}

/// A stored photo reference as the public may fetch it: an attachment id becomes its
/// public copy `/media/{id}`; an outside http(s) link (an Open311 `media_url`) stays as it
/// is; anything else is left out.
fn public_photo(reference: &str) -> Option<String> {
    if let Ok(id) = uuid::Uuid::parse_str(reference) {
        return Some(format!("/media/{id}"));
    }
    let lower = reference.to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with("/media/"))
        .then(|| reference.to_owned())
}

impl Services {
    /// Makes the query-code secret when there is none; called at server start.
    pub async fn ensure_query_code_key(&self) -> Result<(), ServiceError> {
        if reference::get_setting::<CodeKey>(&*self.store, SETTING)
            .await?
            .is_some()
        {
            return Ok(());
        }
        let mut bytes = [0u8; 32];
        OsRng.fill_bytes(&mut bytes);
        let key = CodeKey { key: hex(&bytes) };
        let audit = AuditEntry {
            id: uuid::Uuid::now_v7(),
            at: self.now(),
            actor_id: None,
            entity: SETTING.into(),
            entity_id: SETTING.into(),
            action: "create".into(),
            before: None,
            after: None,
        };
        let value = serde_json::to_value(&key).map_err(|e| ServiceError::Internal(e.into()))?;
        self.store
            .admin_apply(
                &[AdminOp::PutSetting {
                    key: SETTING.into(),
                    value,
                }],
                &audit,
            )
            .await?;
        tracing::info!("query-code key made");
        Ok(())
    }

    pub(crate) async fn query_code_key(&self) -> Result<Vec<u8>, ServiceError> {
        let stored = match reference::get_setting::<CodeKey>(&*self.store, SETTING).await? {
            Some(k) => k,
            None => {
                self.ensure_query_code_key().await?;
                reference::get_setting::<CodeKey>(&*self.store, SETTING)
                    .await?
                    .ok_or_else(|| ServiceError::NotConfigured("no query-code key".into()))?
            }
        };
        cityloop_domain::chain::from_hex(&stored.key)
            .map(|k| k.to_vec())
            .ok_or_else(|| {
                ServiceError::NotConfigured(format!("setting {SETTING}: not 32 bytes of hex"))
            })
    }

    /// The query code of a case number (`None` for a number the code cannot carry).
    pub async fn query_code(&self, number: &CaseNumber) -> Result<Option<String>, ServiceError> {
        let key = self.query_code_key().await?;
        Ok(track::encode(number, &self.district.code, &key))
    }

    /// The query code staff may read to the caller: only for a case that has a citizen page.
    pub async fn staff_query_code(&self, case: &Case) -> Result<Option<String>, ServiceError> {
        if !has_page(case.source) {
            return Ok(None);
        }
        self.query_code(&case.number).await
    }

    /// The case page for a query code or a full case number; anything else (a wrong code,
    /// an unpublished case by number, a source without a citizen page) is not found, with
    /// the same answer, so a guess learns nothing.
    pub async fn public_case(
        &self,
        reference: &str,
        lang: Lang,
    ) -> Result<PublicCase, ServiceError> {
        let reference = reference.trim();
        let not_found = || {
            ServiceError::NotFound(match lang {
                Lang::Zh => "没有找到这个查询码或案件编号对应的案件，请核对后重新输入".into(),
                Lang::En => "no case has this query code or number; please check it".into(),
            })
        };
        if reference.is_empty() || reference.chars().count() > MAX_REF_CHARS {
            return Err(ServiceError::Invalid {
                field: "ref".into(),
                message: match lang {
                    Lang::Zh => format!("请输入查询码或案件编号（不超过 {MAX_REF_CHARS} 个字符）"),
                    Lang::En => format!(
                        "enter a query code or a case number (at most {MAX_REF_CHARS} characters)"
                    ),
                },
            });
        }
        let (number, by_code) = if track::looks_like_code(reference) {
            let key = self.query_code_key().await?;
            match track::decode(reference, &self.district.code, &key) {
                Some(n) => (n, true),
                None => return Err(not_found()),
            }
        } else {
            (CaseNumber(reference.to_owned()), false)
        };
        let case = match self.store.get_case_by_number(number.as_str()).await {
            Ok(c) => c,
            Err(StoreError::NotFound(_)) => return Err(not_found()),
            Err(e) => return Err(e.into()),
        };
        let allowed = if by_code {
            has_page(case.source)
        } else {
            is_published(case.source)
        };
        if !allowed {
            return Err(not_found());
        }
        let events = self.store.events(case.id).await?;
        let code = if by_code {
            self.query_code(&case.number).await?
        } else {
            None
        };
        self.page_of(&case, &events, code, lang).await
    }

    /// The reporter's answer to the call-back (回访) on the case page: 满意, 基本满意 or 不满意
    /// with what is still wrong. Only by the query code (the receipt's capability; a
    /// published number is known to anyone), only while the case waits for its call-back
    /// (409 otherwise: one answer per round), and 不满意 sends it back to handling (重办).
    pub async fn rate_case(
        &self,
        reference: &str,
        satisfaction: Satisfaction,
        comment: Option<&str>,
        lang: Lang,
    ) -> Result<PublicCase, ServiceError> {
        if satisfaction == Satisfaction::Unreached {
            return Err(ServiceError::Invalid {
                field: "satisfaction".into(),
                message: match lang {
                    Lang::Zh => "请选择满意、基本满意或不满意".into(),
                    Lang::En => "choose satisfied, basically satisfied or unsatisfied".into(),
                },
            });
        }
        let comment = public_comment(comment, lang)?;
        if satisfaction == Satisfaction::Unsatisfied && comment.is_none() {
            return Err(ServiceError::Invalid {
                field: "comment".into(),
                message: match lang {
                    Lang::Zh => "请说明哪里还没有解决，以便重新处理".into(),
                    Lang::En => "say what is still wrong so that it can be handled again".into(),
                },
            });
        }
        let case = self.case_by_code(reference, lang).await?;
        if case.state != CaseState::ToCallback {
            return Err(ServiceError::Conflict(match lang {
                Lang::Zh => "这件事现在不在回访阶段，暂时不能评价".into(),
                Lang::En => "this case is not waiting for your rating now".into(),
            }));
        }
        let (note, reason) = match satisfaction {
            Satisfaction::Unsatisfied => (None, comment.map(str::to_owned)),
            _ => (comment.map(str::to_owned), None),
        };
        let cmd = Command {
            note,
            reason,
            satisfaction: Some(satisfaction),
            ..Command::default()
        };
        let case = self
            .act(
                &Actor::public(),
                case.id,
                Action::Callback,
                cmd,
                Some(case.version),
            )
            .await?;
        let events = self.store.events(case.id).await?;
        let code = self.query_code(&case.number).await?;
        self.page_of(&case, &events, code, lang).await
    }

    /// "Still not fixed" (仍未解决) after closing, by the reporter with the receipt's code,
    /// within [`STILL_NOT_FIXED_DAYS`] of the close: a new public case at the same place and
    /// of the same category, linked to the closed one and suggested to the unit that closed
    /// it; the closed case itself never changes (design.md §4). A second press answers the
    /// same new case (the link is the idempotency key). Answers the new case's page, with
    /// its own query code.
    pub async fn still_not_fixed(
        &self,
        reference: &str,
        comment: Option<&str>,
        lang: Lang,
    ) -> Result<PublicCase, ServiceError> {
        let zh = lang == Lang::Zh;
        let Some(comment) = public_comment(comment, lang)? else {
            return Err(ServiceError::Invalid {
                field: "comment".into(),
                message: if zh {
                    "请说明问题现在是什么样子".into()
                } else {
                    "say what the problem looks like now".into()
                },
            });
        };
        let case = self.case_by_code(reference, lang).await?;
        let follows = FollowUp::of(&case, self.now()).ok_or_else(|| {
            ServiceError::Conflict(match (case.state == CaseState::Closed, zh) {
                (true, true) => format!(
                    "这件事办结已超过 {STILL_NOT_FIXED_DAYS} 天，请作为新问题重新反映"
                ),
                (true, false) => format!(
                    "this case was closed more than {STILL_NOT_FIXED_DAYS} days ago; please report it as a new problem"
                ),
                (false, true) => "这件事还没有办结，办理结果出来后再告诉我们".into(),
                (false, false) => "this case is not closed yet".into(),
            })
        })?;
        let input = ReportInput {
            source: Source::Public,
            priority: case.priority,
            category: case.category.clone(),
            area_grade: Some(case.area_grade),
            description: format!(
                "{}{comment}",
                if zh {
                    format!("【办结后反映仍未解决，原案件 {}】", case.number)
                } else {
                    format!("[Still not fixed after case {} was closed] ", case.number)
                }
            ),
            lon: case.location.lon,
            lat: case.location.lat,
            address: case.location.address.clone(),
            reporter: case.reporter.clone(),
            media: Vec::new(),
            external_ref: None,
        };
        let key = format!("still-not-fixed:{}", case.number);
        let (new, _) = self
            .report_follow_up(&Actor::public(), input, Some(&key), Some(follows))
            .await?;
        let events = self.store.events(new.id).await?;
        let code = self.query_code(&new.number).await?;
        self.page_of(&new, &events, code, lang).await
    }

    /// The case of a query code (the reporter's proof): a number is refused, a wrong code
    /// or a case without a citizen page is not found.
    async fn case_by_code(&self, reference: &str, lang: Lang) -> Result<Case, ServiceError> {
        let reference = reference.trim();
        if !track::looks_like_code(reference) {
            return Err(ServiceError::Invalid {
                field: "reference".into(),
                message: match lang {
                    Lang::Zh => "请用回执上的查询码".into(),
                    Lang::En => "use the query code from your receipt".into(),
                },
            });
        }
        let key = self.query_code_key().await?;
        let not_found = || {
            ServiceError::NotFound(match lang {
                Lang::Zh => "没有找到这个查询码对应的案件，请核对后重新输入".into(),
                Lang::En => "no case has this query code; please check it".into(),
            })
        };
        let number = track::decode(reference, &self.district.code, &key).ok_or_else(not_found)?;
        let case = match self.store.get_case_by_number(number.as_str()).await {
            Ok(c) => c,
            Err(StoreError::NotFound(_)) => return Err(not_found()),
            Err(e) => return Err(e.into()),
        };
        if !has_page(case.source) {
            return Err(not_found());
        }
        Ok(case)
    }

    async fn page_of(
        &self,
        case: &Case,
        events: &[Event],
        query_code: Option<String>,
        lang: Lang,
    ) -> Result<PublicCase, ServiceError> {
        let units = self.unit_names().await?;
        let service_name = self
            .cached()
            .categories
            .get(&case.category)
            .map(|c| lang.pick(&c.name_zh, &c.name_en).to_owned())
            .unwrap_or_else(|| case.category.code.clone());
        let public_lang = match lang {
            Lang::Zh => PublicLang::Zh,
            Lang::En => PublicLang::En,
        };
        let PublicState {
            unit,
            expected,
            wording: status_text,
            ..
        } = self.public_state(case, &units, lang);
        let unit_of = |e: &Event| e.unit_id.and_then(|u| units.get(&u).cloned());
        let steps: Vec<StepView> = track::public_steps(events, &unit_of, public_lang)
            .into_iter()
            .map(|s| StepView {
                at: self.local_time(s.at),
                text: s.text,
                reply: s.reply,
                photos: s.photos.iter().filter_map(|p| public_photo(p)).collect(),
            })
            .collect();
        let before_photos = case.media.iter().filter_map(|p| public_photo(p)).collect();
        let after_photos = events
            .iter()
            .rev()
            .find(|e| {
                e.kind
                    == cityloop_domain::case::EventKind::Act(
                        cityloop_domain::workflow::Action::ReportBack,
                    )
            })
            .map(|e| {
                e.attachments
                    .iter()
                    .filter_map(|p| public_photo(p))
                    .collect()
            })
            .unwrap_or_default();
        let point = has_point(case);
        Ok(PublicCase {
            number: case.number.0.clone(),
            status: PublicStatus::of(case.state).as_str(),
            status_text,
            service_name,
            unit,
            expected_datetime: expected,
            requested_datetime: self.local_time(case.created_at),
            updated_datetime: self.local_time(case.updated_at),
            address: case.location.address.clone(),
            lat: point.then_some(case.location.lat),
            long: point.then_some(case.location.lon),
            description: Some(case.description.clone()).filter(|d| !d.is_empty()),
            can_rate: query_code.is_some() && case.state == CaseState::ToCallback,
            can_follow_up: query_code.is_some() && FollowUp::of(case, self.now()).is_some(),
            follows: case.follows.as_ref().map(|f| f.number.0.clone()),
            query_code,
            steps,
            before_photos,
            after_photos,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_our_attachments_and_web_links_become_public_photos() {
        let id = "0190f5a4-8f3a-7c1e-9d2b-3a4b5c6d7e8f";
        assert_eq!(public_photo(id).as_deref(), Some(&*format!("/media/{id}")));
        assert_eq!(
            public_photo("https://img.example.cn/a.jpg").as_deref(),
            Some("https://img.example.cn/a.jpg")
        );
        assert_eq!(public_photo("sha256:after"), None);
        assert_eq!(public_photo("javascript:alert(1)"), None);
    }

    #[test]
    fn petition_and_leader_cases_have_no_citizen_page() {
        assert!(has_page(Source::Public));
        assert!(has_page(Source::Hotline12345));
        assert!(!has_page(Source::Petition));
        assert!(!has_page(Source::Leader));
    }
}
