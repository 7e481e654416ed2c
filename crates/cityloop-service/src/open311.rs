//! The public intake and read side behind the Open311 GeoReport v2 API
//! (shared/docs/open311-georeport-v2.md): client API keys, the service catalogue with
//! its questions (attributes), idempotent public reports, and the public view of a case.
//!
//! Nothing here knows JSON or XML; `cityloop-http` renders these types. What the public
//! sees of a case is decided here and only here: the reporter's contact details (name,
//! e-mail, phone, device and account ids) are stored with the case but never leave
//! through these functions.
//!
//! Decisions the standard leaves open, fixed here:
//! - `service_code` is the 5-digit GB/T 47678.5 matter code; only active categories are
//!   services, all `realtime` (a POST returns the case number at once, never a token);
//! - a token (`tokens/{token}`) is the case's internal id, so a client holding one from
//!   the staff API can resolve it to the public number;
//! - `open`/`closed` come from the workflow state (`closed` and `voided` are closed);
//! - `status_notes` is the fixed citizen wording of the state
//!   (`cityloop_domain::public::wording`) plus the latest reply staff wrote for the
//!   citizen (答复市民); staff notes and reasons never appear; `agency_responsible` names
//!   the unit only once the case is dispatched to it;
//! - cases from the 12345 hotline, petitions (信访) and leaders' assignments (领导交办)
//!   carry citizens' narratives or internal directives and are not published;
//! - a report located only by `address_string` is stored at the point (0, 0), which
//!   routing treats as outside the district (the command centre locates it), and is
//!   shown without `lat`/`long`;
//! - the attribute answers are written as the note of the case's first event (the staff
//!   timeline shows them); the case view has no field for them.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, SubsecRound, TimeZone, Utc};
use cityloop_domain::case::{Case, Contact, MAX_ADDRESS_CHARS, MAX_DESCRIPTION_CHARS};
use cityloop_domain::ids::{CaseId, UnitId};
use cityloop_domain::limits::Stage;
use cityloop_domain::model::{
    Actor, Category, CategoryCode, CategoryKind, CodeStandard, Priority, Source,
};
use cityloop_domain::public::{self, PublicLang, WordingFacts};
use cityloop_domain::workflow::CaseState;
use cityloop_store::{Cursor, PublicCaseFilter, PublicStart, StoreError};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};

use crate::auth::hex;
use crate::cases::ReportInput;
use crate::{ServiceError, Services};

/// Idempotency scope prefix: `open311:<client name>`.
pub const SCOPE_PREFIX: &str = "open311:";
/// The spec's window for `GET requests` without dates, and the longest date span allowed.
pub const WINDOW_DAYS: i64 = 90;
/// The spec's cap on one `GET requests` answer (also the largest `page_size`).
pub const MAX_REQUESTS: u32 = 1000;
/// Reporter fields (names, e-mail, phone, ids) longer than this are refused.
pub const MAX_CONTACT_CHARS: usize = 256;
/// A `media_url` longer than this is refused.
pub const MAX_MEDIA_URL_CHARS: usize = 2048;
/// How many `media_url` values one report may carry.
pub const MAX_MEDIA_URLS: usize = 10;
/// An `Idempotency-Key` is 1 to this many visible ASCII characters.
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 255;
/// A client name (`cityloop apikey add --name`) is 1 to this many characters.
pub const MAX_CLIENT_NAME_CHARS: usize = 100;
/// Stamp of the service catalogue's shape (attributes); bump when definitions change.
pub const CHANGESET: &str = "2026-05-01T00:00:00+08:00";
/// The deepest row a `page`/`page_size` request may start at (`(page - 1) × page_size`);
/// deeper pages are read with the keyset `cursor` (each `GET requests` answer names the
/// next one), which costs the same at any depth.
pub const MAX_OFFSET: u64 = 100_000;

/// The language of names, notices and error texts: Chinese unless the client asks for
/// English.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Lang {
    #[default]
    Zh,
    En,
}

impl Lang {
    /// Picks the text for this language.
    pub fn pick<'a>(self, zh: &'a str, en: &'a str) -> &'a str {
        match self {
            Lang::Zh => zh,
            Lang::En => en,
        }
    }
}

fn invalid(field: &str, lang: Lang, zh: &str, en: &str) -> ServiceError {
    ServiceError::invalid(field, lang.pick(zh, en))
}

/// One service (request type) of the catalogue.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicService {
    pub service_code: String,
    pub service_name: String,
    pub description: String,
    /// True when the service has a definition with attributes to fetch.
    pub metadata: bool,
    /// Always `realtime`: a POST returns the case number at once.
    pub kind: &'static str,
    pub keywords: String,
    pub group: String,
}

/// The datatype of an attribute, as the spec names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Datatype {
    String,
    Number,
    Datetime,
    Text,
    SingleValueList,
    MultiValueList,
}

impl Datatype {
    pub fn as_str(self) -> &'static str {
        match self {
            Datatype::String => "string",
            Datatype::Number => "number",
            Datatype::Datetime => "datetime",
            Datatype::Text => "text",
            Datatype::SingleValueList => "singlevaluelist",
            Datatype::MultiValueList => "multivaluelist",
        }
    }
}

/// A question of a service definition.
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute {
    /// False: informational only, nothing to answer.
    pub variable: bool,
    pub code: String,
    pub datatype: Datatype,
    pub required: bool,
    pub datatype_description: String,
    pub order: u32,
    pub description: String,
    /// `(key, name)`: `key` is what is posted, `name` what is shown.
    pub values: Vec<(String, String)>,
}

/// A service definition: the questions of one service.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceDefinition {
    pub service_code: String,
    pub attributes: Vec<Attribute>,
}

/// A report as an Open311 client posts it, already decoded from the wire.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PublicReport {
    pub service_code: String,
    pub lat: Option<f64>,
    pub long: Option<f64>,
    pub address_string: Option<String>,
    pub address_id: Option<String>,
    /// `attribute[CODE]` answers; list attributes may carry several values.
    pub attributes: BTreeMap<String, Vec<String>>,
    pub description: Option<String>,
    pub media_urls: Vec<String>,
    pub email: Option<String>,
    pub device_id: Option<String>,
    pub account_id: Option<String>,
    pub first_name: Option<String>,
    pub last_name: Option<String>,
    pub phone: Option<String>,
}

/// The answer to a public report.
#[derive(Debug, Clone, PartialEq)]
pub struct Receipt {
    /// The case number.
    pub service_request_id: String,
    pub service_notice: String,
    pub expected_datetime: Option<DateTime<FixedOffset>>,
    /// The query code (查询码) that opens the citizen's case page (see [`crate::track`]).
    pub query_code: Option<String>,
    /// True when the report repeated an earlier one (same idempotency key): nothing new
    /// was created and this is the earlier case.
    pub replayed: bool,
}

/// A case's state as the public is told it (see [`Services::public_state`]).
pub(crate) struct PublicState {
    pub unit: Option<String>,
    pub expected: Option<DateTime<FixedOffset>>,
    pub expected_text: Option<String>,
    pub wording: String,
}

/// `open` or `closed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PublicStatus {
    Open,
    Closed,
}

impl PublicStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PublicStatus::Open => "open",
            PublicStatus::Closed => "closed",
        }
    }

    pub fn of(state: CaseState) -> Self {
        if state.is_open() {
            PublicStatus::Open
        } else {
            PublicStatus::Closed
        }
    }
}

/// What the public sees of a case. Times are in the district's zone, whole seconds.
#[derive(Debug, Clone, PartialEq)]
pub struct PublicRequest {
    pub service_request_id: String,
    pub status: PublicStatus,
    pub status_notes: Option<String>,
    pub service_name: String,
    pub service_code: String,
    pub description: Option<String>,
    pub agency_responsible: Option<String>,
    pub service_notice: Option<String>,
    pub requested_datetime: DateTime<FixedOffset>,
    pub updated_datetime: DateTime<FixedOffset>,
    pub expected_datetime: Option<DateTime<FixedOffset>>,
    pub address: Option<String>,
    pub lat: Option<f64>,
    pub long: Option<f64>,
    pub media_url: Option<String>,
}

/// A `GET requests` query, decoded from the wire.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RequestQuery {
    /// Case numbers; when present every other filter is ignored.
    pub ids: Vec<String>,
    pub service_codes: Vec<String>,
    /// Empty: any status.
    pub statuses: Vec<PublicStatus>,
    pub start_date: Option<DateTime<Utc>>,
    pub end_date: Option<DateTime<Utc>>,
    pub updated_after: Option<DateTime<Utc>>,
    pub updated_before: Option<DateTime<Utc>>,
    /// From 1.
    pub page: u32,
    pub page_size: u32,
    /// Start after this keyset position instead of at `page` (a `next_cursor`).
    pub cursor: Option<Cursor>,
}

/// One page of `GET requests`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct PublicPage {
    pub requests: Vec<PublicRequest>,
    /// Where the next page starts, when this one is full (absent on the last page).
    pub next_cursor: Option<Cursor>,
}

/// The service discovery facts the district supplies.
#[derive(Debug, Clone, PartialEq)]
pub struct Discovery {
    pub changeset: String,
    pub contact: String,
    pub key_service: String,
}

/// Whether a case of this source is published through Open311.
pub fn is_published(source: Source) -> bool {
    !matches!(
        source,
        Source::Hotline12345 | Source::Petition | Source::Leader
    )
}

/// Whether an id from a URL is of the shape ids have (`[A-Za-z0-9_-]`, 1 to 64 chars).
pub fn is_id_shaped(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// A fresh random API key and its SHA-256 hash (what the store keeps).
pub fn new_api_key() -> (String, String) {
    let mut raw = [0u8; 24];
    OsRng.fill_bytes(&mut raw);
    let key = format!("c311_{}", hex(&raw));
    let hash = key_hash(&key);
    (key, hash)
}

pub(crate) fn key_hash(key: &str) -> String {
    hex(&Sha256::digest(key.as_bytes()))
}

fn is_manhole_cover(c: &Category) -> bool {
    c.name_zh.contains("井盖")
}

/// The questions of a category's service definition.
fn attributes_of(c: &Category, lang: Lang) -> Vec<Attribute> {
    let mut out = Vec::new();
    let mut order = 0;
    let mut next = || {
        order += 1;
        order
    };
    if is_manhole_cover(c) {
        out.push(Attribute {
            variable: true,
            code: "cover_state".into(),
            datatype: Datatype::SingleValueList,
            required: true,
            datatype_description: lang.pick("请选择一项", "choose one").into(),
            order: next(),
            description: lang
                .pick(
                    "井盖是丢失、破损还是移位？",
                    "Is the cover missing, broken or displaced?",
                )
                .into(),
            values: vec![
                ("missing".into(), lang.pick("丢失", "missing").into()),
                ("broken".into(), lang.pick("破损", "broken").into()),
                ("displaced".into(), lang.pick("移位", "displaced").into()),
            ],
        });
    }
    out.push(Attribute {
        variable: true,
        code: "severity".into(),
        datatype: Datatype::SingleValueList,
        required: false,
        datatype_description: lang.pick("可不填", "optional").into(),
        order: next(),
        description: lang
            .pick("问题有多严重？", "How serious is the problem?")
            .into(),
        values: vec![
            ("minor".into(), lang.pick("轻微", "minor").into()),
            ("serious".into(), lang.pick("较重", "serious").into()),
            (
                "urgent".into(),
                lang.pick(
                    "紧急（影响安全或通行）",
                    "urgent (safety or traffic at risk)",
                )
                .into(),
            ),
        ],
    });
    if is_manhole_cover(c) {
        out.push(Attribute {
            variable: false,
            code: "safety_notice".into(),
            datatype: Datatype::Text,
            required: false,
            datatype_description: String::new(),
            order: next(),
            description: lang
                .pick(
                    "如有人员坠落或车辆受损等紧急情况，请立即拨打 110 或 120。",
                    "If someone has fallen in or a vehicle is damaged, call 110 or 120 at once.",
                )
                .into(),
            values: Vec::new(),
        });
    }
    out
}

/// The active intake category with this service code.
fn find_service<'a>(
    categories: &'a HashMap<CategoryCode, Category>,
    code: &str,
) -> Option<&'a Category> {
    let key = CategoryCode::parse_service_code(code).ok()?;
    categories.get(&key).filter(|c| c.active)
}

/// Checks the answers against the definition; returns them as `question=answer` lines
/// for the staff timeline.
fn check_attributes(
    defs: &[Attribute],
    answers: &BTreeMap<String, Vec<String>>,
    lang: Lang,
) -> Result<Vec<String>, ServiceError> {
    let mut lines = Vec::new();
    for a in defs.iter().filter(|a| a.variable) {
        let field = format!("attribute[{}]", a.code);
        let given: Vec<&str> = answers
            .get(&a.code)
            .map(|v| {
                v.iter()
                    .map(|s| s.trim())
                    .filter(|s| !s.is_empty())
                    .collect()
            })
            .unwrap_or_default();
        if given.is_empty() {
            if a.required {
                return Err(ServiceError::invalid(
                    field,
                    format!("{}{}", lang.pick("必填：", "is required: "), a.description),
                ));
            }
            continue;
        }
        if a.datatype != Datatype::MultiValueList && given.len() > 1 {
            return Err(invalid(
                &field,
                lang,
                "只能有一个值",
                "takes a single value",
            ));
        }
        let mut shown = Vec::new();
        for g in &given {
            match a.datatype {
                Datatype::SingleValueList | Datatype::MultiValueList => {
                    let Some((_, name)) = a.values.iter().find(|(k, _)| k == g) else {
                        let keys: Vec<&str> = a.values.iter().map(|(k, _)| k.as_str()).collect();
                        return Err(ServiceError::invalid(
                            field,
                            format!(
                                "{}{}",
                                lang.pick("取值须为以下之一：", "must be one of: "),
                                keys.join(", ")
                            ),
                        ));
                    };
                    shown.push(format!("{name}（{g}）"));
                }
                Datatype::Number => {
                    if !g.parse::<f64>().is_ok_and(f64::is_finite) {
                        return Err(invalid(&field, lang, "须为数字", "must be a number"));
                    }
                    shown.push((*g).to_owned());
                }
                Datatype::Datetime => {
                    if DateTime::parse_from_rfc3339(g).is_err() {
                        return Err(invalid(
                            &field,
                            lang,
                            "须为带时区的 ISO 8601 时间",
                            "must be an ISO 8601 date-time with a zone",
                        ));
                    }
                    shown.push((*g).to_owned());
                }
                Datatype::String | Datatype::Text => {
                    if g.chars().count() > MAX_DESCRIPTION_CHARS {
                        return Err(invalid(&field, lang, "过长", "is too long"));
                    }
                    shown.push((*g).to_owned());
                }
            }
        }
        // The timeline is for staff: always in Chinese.
        lines.push(format!("{}：{}", a.code, shown.join("、")));
    }
    Ok(lines)
}

fn check_text(
    field: &str,
    v: &Option<String>,
    max: usize,
    lang: Lang,
) -> Result<Option<String>, ServiceError> {
    let v = v
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    if v.as_deref().is_some_and(|s| s.chars().count() > max) {
        return Err(ServiceError::invalid(
            field,
            format!(
                "{}{max}{}",
                lang.pick("不能超过 ", "is longer than "),
                lang.pick(" 个字符", " characters")
            ),
        ));
    }
    Ok(v)
}

fn check_media_url(u: &str, lang: Lang) -> Result<(), ServiceError> {
    let lower = u.to_ascii_lowercase();
    let rest = lower
        .strip_prefix("https://")
        .or_else(|| lower.strip_prefix("http://"));
    let host_ok = rest.is_some_and(|r| {
        r.split(['/', '?', '#'])
            .next()
            .is_some_and(|h| !h.is_empty())
    });
    if !host_ok || u.chars().any(|c| c.is_whitespace() || c.is_control()) {
        return Err(invalid(
            "media_url",
            lang,
            "须为 http:// 或 https:// 网址",
            "must be an http:// or https:// URL",
        ));
    }
    if u.len() > MAX_MEDIA_URL_CHARS {
        return Err(invalid("media_url", lang, "网址过长", "is too long"));
    }
    Ok(())
}

/// Whether a stored case has a real point (address-only reports sit at (0, 0)).
pub(crate) fn has_point(case: &Case) -> bool {
    !(case.location.lat == 0.0 && case.location.lon == 0.0)
}

/// A person's name from Open311's two fields, in the order the script writes it.
fn full_name(first: Option<String>, last: Option<String>) -> Option<String> {
    match (first, last) {
        (Some(f), Some(l)) => {
            let cjk = |s: &str| s.chars().any(|c| ('\u{4e00}'..='\u{9fff}').contains(&c));
            Some(if cjk(&f) || cjk(&l) {
                format!("{l}{f}")
            } else {
                format!("{f} {l}")
            })
        }
        (f, l) => f.or(l),
    }
}

impl Services {
    // ---- API keys ----

    /// Issues a new API key for a client application and returns it in plain text, the
    /// only time it is ever shown; the store keeps its SHA-256 hash.
    pub async fn add_api_key(&self, name: &str) -> Result<String, ServiceError> {
        let (key, _) = new_api_key();
        self.register_api_key(name, &key).await?;
        Ok(key)
    }

    /// Stores a key chosen by the caller (the demo's well-known key).
    pub(crate) async fn register_api_key(&self, name: &str, key: &str) -> Result<(), ServiceError> {
        let name = name.trim();
        if name.is_empty() || name.chars().count() > MAX_CLIENT_NAME_CHARS {
            return Err(ServiceError::invalid(
                "name",
                format!("1 to {MAX_CLIENT_NAME_CHARS} characters"),
            ));
        }
        self.store
            .add_api_key(&key_hash(key), name, self.now())
            .await?;
        tracing::info!(client = %name, "open311 api key added");
        Ok(())
    }

    /// The client name behind an API key; a missing, unknown or revoked key is refused.
    pub async fn check_api_key(
        &self,
        key: Option<&str>,
        lang: Lang,
    ) -> Result<String, ServiceError> {
        let key = key
            .map(str::trim)
            .filter(|k| !k.is_empty())
            .ok_or_else(|| {
                ServiceError::Forbidden(
                    lang.pick(
                        "缺少 api_key，无法创建请求",
                        "api_key is missing; it is required to create a request",
                    )
                    .into(),
                )
            })?;
        let unknown = || {
            ServiceError::Forbidden(
                lang.pick("api_key 无效，无法创建请求", "api_key is not valid")
                    .into(),
            )
        };
        if key.len() > 256 {
            return Err(unknown());
        }
        self.store
            .api_key(&key_hash(key))
            .await?
            .ok_or_else(unknown)
    }

    // ---- jurisdiction, discovery, times ----

    /// Whether `id` names this installation's jurisdiction (the district code).
    pub fn is_jurisdiction(&self, id: &str) -> bool {
        id.trim() == self.district.code
    }

    /// The discovery document's district facts.
    pub async fn open311_discovery(&self, lang: Lang) -> Result<Discovery, ServiceError> {
        let centre = self
            .cached()
            .units
            .iter()
            .find(|u| u.code == self.district.default_unit_code)
            .map(|u| u.name.clone())
            .unwrap_or_default();
        Ok(Discovery {
            changeset: CHANGESET.into(),
            contact: format!("{} {}", self.district.name, centre).trim().to_owned(),
            key_service: lang
                .pick(
                    "api_key 由平台管理员签发（cityloop apikey add --name 应用名称）；请联系区数字化城市管理监督指挥中心申请。",
                    "API keys are issued by the platform administrator (cityloop apikey add --name APP); ask the district's digital urban-management command centre.",
                )
                .into(),
        })
    }

    /// An instant in the district's zone, whole seconds.
    pub fn local_time(&self, t: DateTime<Utc>) -> DateTime<FixedOffset> {
        t.trunc_subsecs(0)
            .with_timezone(&self.calendar().tz())
            .fixed_offset()
    }

    /// Midnight of a local date in the district's zone.
    pub fn local_midnight(&self, d: NaiveDate) -> Option<DateTime<Utc>> {
        self.calendar()
            .tz()
            .from_local_datetime(&d.and_hms_opt(0, 0, 0)?)
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    }

    // ---- services ----

    /// The service list: the district's active categories, by code.
    pub async fn public_services(&self, lang: Lang) -> Result<Vec<PublicService>, ServiceError> {
        let cache = self.cached();
        let mut cats: Vec<&Category> = cache.categories.values().filter(|c| c.active).collect();
        cats.sort_by(|a, b| a.code.cmp(&b.code));
        Ok(cats
            .iter()
            .map(|c| {
                let (name, group) = match lang {
                    Lang::Zh => (&c.name_zh, &c.major_name_zh),
                    Lang::En => (&c.name_en, &c.major_name_en),
                };
                PublicService {
                    service_code: c.code.code.clone(),
                    service_name: name.clone(),
                    description: match lang {
                        Lang::Zh => format!("{group}：{name}（GB/T 47678.5 事项 {}）", c.code.code),
                        Lang::En => {
                            format!("{group}: {name} (GB/T 47678.5 matter {})", c.code.code)
                        }
                    },
                    metadata: !attributes_of(c, lang).is_empty(),
                    kind: "realtime",
                    keywords: {
                        let mut k = vec![c.name_zh.as_str(), c.major_name_zh.as_str()];
                        k.extend(crate::keywords::words_for(&c.name_zh));
                        k.join(",")
                    },
                    group: group.clone(),
                }
            })
            .collect())
    }

    /// The problems the public page offers first: the default list's categories that are
    /// active here, as (service code, icon name).
    pub fn top_services(&self) -> Vec<(String, &'static str)> {
        let cache = self.cached();
        crate::keywords::TOP_DEFAULT
            .iter()
            .filter_map(|(name, icon)| {
                cache
                    .categories
                    .values()
                    .filter(|c| c.active && c.name_zh == *name)
                    .min_by(|a, b| a.code.cmp(&b.code))
                    .map(|c| (c.code.code.clone(), *icon))
            })
            .collect()
    }

    /// One service's definition; an unknown code is not found.
    pub async fn public_service_definition(
        &self,
        code: &str,
        lang: Lang,
    ) -> Result<ServiceDefinition, ServiceError> {
        let cache = self.cached();
        let cats = &cache.categories;
        let c = find_service(cats, code).ok_or_else(|| unknown_service(code, lang))?;
        Ok(ServiceDefinition {
            service_code: c.code.code.clone(),
            attributes: attributes_of(c, lang),
        })
    }

    // ---- intake ----

    /// Takes a citizen's report from an Open311 client: checks it against the service's
    /// definition, then creates the case (source `public`) on the same path as every
    /// other report (routing, number, deadline).
    ///
    /// Idempotent per client: with an `Idempotency-Key` (or, without one, a key derived
    /// from `device_id`, description, the location rounded to about 10 m, the service and
    /// the minute), a repeat returns the first case instead of creating another.
    pub async fn report_public(
        &self,
        client: &str,
        r: PublicReport,
        idempotency_key: Option<&str>,
        lang: Lang,
    ) -> Result<Receipt, ServiceError> {
        let code = r.service_code.trim();
        if code.is_empty() {
            return Err(invalid(
                "service_code",
                lang,
                "缺少 service_code",
                "service_code is required",
            ));
        }
        let cache = self.cached();
        let categories = &cache.categories;
        let category = find_service(categories, code).ok_or_else(|| unknown_service(code, lang))?;

        let address = check_text("address_string", &r.address_string, MAX_ADDRESS_CHARS, lang)?;
        let (lat, lon) = match (r.lat, r.long) {
            (Some(lat), Some(lon)) => {
                if !(lat.is_finite() && (-90.0..=90.0).contains(&lat)) {
                    return Err(invalid(
                        "lat",
                        lang,
                        "须为 -90 到 90 之间的数",
                        "must be a number from -90 to 90",
                    ));
                }
                if !(lon.is_finite() && (-180.0..=180.0).contains(&lon)) {
                    return Err(invalid(
                        "long",
                        lang,
                        "须为 -180 到 180 之间的数",
                        "must be a number from -180 to 180",
                    ));
                }
                (lat, lon)
            }
            (Some(_), None) | (None, Some(_)) => {
                return Err(invalid(
                    "lat",
                    lang,
                    "lat 和 long 须同时提供",
                    "lat and long must be given together",
                ))
            }
            (None, None) if address.is_some() => (0.0, 0.0),
            (None, None)
                if r.address_id
                    .as_deref()
                    .is_some_and(|a| !a.trim().is_empty()) =>
            {
                return Err(invalid(
                    "address_id",
                    lang,
                    "本区没有地址库，无法识别 address_id；请提供 lat 和 long 或 address_string",
                    "this district has no address register; send lat and long or address_string",
                ))
            }
            (None, None) => {
                return Err(invalid(
                    "location",
                    lang,
                    "缺少位置：需要 lat 和 long、address_string 或 address_id",
                    "no location: send lat and long, address_string or address_id",
                ))
            }
        };
        let description = check_text("description", &r.description, MAX_DESCRIPTION_CHARS, lang)?;
        let mut media = Vec::new();
        for u in r
            .media_urls
            .iter()
            .map(|u| u.trim())
            .filter(|u| !u.is_empty())
        {
            check_media_url(u, lang)?;
            media.push(u.to_owned());
        }
        if media.len() > MAX_MEDIA_URLS {
            return Err(ServiceError::invalid(
                "media_url",
                format!("{} {MAX_MEDIA_URLS}", lang.pick("最多", "at most")),
            ));
        }
        let c = |f: &str, v: &Option<String>| check_text(f, v, MAX_CONTACT_CHARS, lang);
        let reporter = Contact {
            name: full_name(
                c("first_name", &r.first_name)?,
                c("last_name", &r.last_name)?,
            ),
            email: c("email", &r.email)?,
            phone: c("phone", &r.phone)?,
            device_id: c("device_id", &r.device_id)?,
            account_id: c("account_id", &r.account_id)?,
            ..Contact::default()
        };
        let answers = check_attributes(&attributes_of(category, Lang::Zh), &r.attributes, lang)?;
        let key = match idempotency_key.map(str::trim).filter(|k| !k.is_empty()) {
            Some(k) => {
                let ok =
                    k.len() <= MAX_IDEMPOTENCY_KEY_CHARS && k.bytes().all(|b| b.is_ascii_graphic());
                if !ok {
                    return Err(ServiceError::invalid(
                        "Idempotency-Key",
                        format!(
                            "{MAX_IDEMPOTENCY_KEY_CHARS} {}",
                            lang.pick(
                                "个以内的可见 ASCII 字符",
                                "visible ASCII characters at most"
                            )
                        ),
                    ));
                }
                Some(format!("key:{k}"))
            }
            None => reporter.device_id.as_ref().map(|d| {
                let minute = self.now().timestamp().div_euclid(60);
                let basis = format!(
                    "{d}\n{}\n{}\n{:.4}\n{:.4}\n{}\n{minute}",
                    code,
                    description.as_deref().unwrap_or(""),
                    lat,
                    lon,
                    address.as_deref().unwrap_or(""),
                );
                format!("auto:{}", hex(&Sha256::digest(basis.as_bytes())))
            }),
        };

        let input = ReportInput {
            source: Source::Public,
            priority: Priority::Normal,
            category: category.code.clone(),
            area_grade: None,
            description: description.unwrap_or_else(|| category.name_zh.clone()),
            lon,
            lat,
            address,
            reporter,
            media,
            external_ref: Some(format!("{SCOPE_PREFIX}{client}")),
        };
        let (mut case, mut event) = self.prepare_report(&Actor::public(), input, None).await?;
        let mut note = format!("Open311 客户端：{client}");
        for line in answers {
            note.push('；');
            note.push_str(&line);
        }
        event.note = Some(note);
        let deadline = case.deadline(&self.calendar());
        let prefix = self.number_prefix(&case);
        let scope = format!("{SCOPE_PREFIX}{client}");
        let idem = key.as_deref().map(|k| (scope.as_str(), k));
        // With a key (given or derived) a dropped connection is retried: the key, stored in
        // the case's own transaction, makes a repeat answer the first case (crate::retry).
        let mut retry = crate::retry::Retry::new(self.write_retry);
        let first = loop {
            match self
                .store
                .create_numbered_case(&prefix, &mut case, deadline, &mut event, idem)
                .await
            {
                Err(e) if idem.is_some() && retry.again(&e).await => continue,
                other => break other?,
            }
        };
        let (case, replayed) = match first {
            None => (case, false),
            Some(id) => (self.store.get_case(id).await?, true),
        };
        if replayed {
            tracing::info!(case.number = %case.number, client = %client, "open311 report repeated; answered with the first case");
        } else {
            tracing::info!(case.id = %case.id, case.number = %case.number, client = %client, "open311 report");
            self.publish(&case, None, &event).await;
        }
        let expected = self.expected_handled_by(&case);
        let when = expected.map(|t| self.local_time(t));
        // The receipt says what has happened: the report is in, nobody has screened it yet.
        let query_code = self.query_code(&case.number).await?;
        let code_zh = query_code
            .as_deref()
            .map(|c| format!("，查询码 {c}"))
            .unwrap_or_default();
        let code_en = query_code
            .as_deref()
            .map(|c| format!(" (query code {c})"))
            .unwrap_or_default();
        let service_notice = match (lang, when) {
            (Lang::Zh, Some(t)) => format!(
                "已提交，编号 {}{code_zh}，等待受理。受理后将安排处置单位，预计 {} 前处理完毕（按工作时间估算）。",
                case.number,
                t.format("%Y年%m月%d日 %H:%M")
            ),
            (Lang::Zh, None) => format!("已提交，编号 {}{code_zh}，等待受理。", case.number),
            (Lang::En, Some(t)) => format!(
                "Submitted as {}{code_en}, waiting to be screened. Once accepted it goes to a handling unit; expected to be handled by {} (estimated on working time).",
                case.number,
                t.format("%Y-%m-%d %H:%M")
            ),
            (Lang::En, None) => format!("Submitted as {}{code_en}, waiting to be screened.", case.number),
        };
        Ok(Receipt {
            service_request_id: case.number.0.clone(),
            service_notice,
            expected_datetime: when,
            query_code,
            replayed,
        })
    }

    /// When the problem should be handled if every stage still ahead up to handling uses
    /// its full limit: the current stage's deadline plus the limits of the later stages
    /// (verification only for sources that need it), on the district calendar. None once
    /// handling is done (check, close) or the case is terminal.
    pub fn expected_handled_by(&self, case: &Case) -> Option<DateTime<Utc>> {
        let current = case.stage()?;
        let mut order = vec![Stage::Accept];
        if case.source.needs_verification() {
            order.push(Stage::Verify);
        }
        order.extend([Stage::Register, Stage::Dispatch, Stage::Handle]);
        let pos = order.iter().position(|s| *s == current)?;
        let live = self.cached();
        let (calendar, limits) = (&live.calendar, &live.limits);
        let mut t = case.deadline(calendar)?;
        for &stage in &order[pos + 1..] {
            let rule = limits.lookup(&case.category, case.area_grade, case.priority, stage);
            t = calendar.add(rule.limit.mode(), t, rule.limit.duration(calendar));
        }
        // A limit table with absurd limits saturates; such a date is no estimate.
        (t.year() < 10_000).then_some(t)
    }

    // ---- reads ----

    pub(crate) async fn unit_names(&self) -> Result<HashMap<UnitId, String>, ServiceError> {
        Ok(self
            .cached()
            .units
            .iter()
            .map(|u| (u.id, u.name.clone()))
            .collect())
    }

    /// The masters of the merged cases among `cases` (see [`Services::master_of`]), by the
    /// merged case's id.
    async fn masters(&self, cases: &[Case]) -> Result<HashMap<CaseId, Case>, ServiceError> {
        let mut out = HashMap::new();
        for c in cases.iter().filter(|c| c.merged_into.is_some()) {
            if let Some(m) = self.master_of(c).await? {
                out.insert(c.id, m);
            }
        }
        Ok(out)
    }

    fn public_view(
        &self,
        case: &Case,
        master: Option<&Case>,
        categories: &HashMap<CategoryCode, Category>,
        units: &HashMap<UnitId, String>,
        lang: Lang,
    ) -> PublicRequest {
        // A merged request (合并) answers with its master's status and says which case
        // carries it (design.md §5: the citizen is told which case now carries the report).
        if let Some(m) = master {
            let mut view = self.public_view(m, None, categories, units, lang);
            let carried = match lang {
                Lang::Zh => format!("重复反映，已并入案件 {} 一并处理。", m.number),
                Lang::En => format!("A duplicate, handled under case {}. ", m.number),
            };
            view.status_notes = Some(carried + view.status_notes.as_deref().unwrap_or(""));
            let own = self.public_view(case, None, categories, units, lang);
            return PublicRequest {
                status: view.status,
                status_notes: view.status_notes,
                agency_responsible: view.agency_responsible,
                service_notice: view.service_notice,
                expected_datetime: view.expected_datetime,
                updated_datetime: own.updated_datetime.max(view.updated_datetime),
                ..own
            };
        }
        let status = PublicStatus::of(case.state);
        let service_name = categories
            .get(&case.category)
            .map(|c| match lang {
                Lang::Zh => c.name_zh.clone(),
                Lang::En => c.name_en.clone(),
            })
            .unwrap_or_else(|| case.category.code.clone());
        // Only a dispatched case names its unit: before dispatch the routed unit is a
        // suggestion an operator may still change.
        let PublicState {
            unit: agency,
            expected,
            expected_text,
            wording: mut status_notes,
        } = self.public_state(case, units, lang);
        if let Some(reply) = case.public_replies.last() {
            status_notes.push_str(lang.pick("。答复：", ". Reply: "));
            status_notes.push_str(&reply.text);
        }
        let status_notes = Some(status_notes);
        let service_notice = match (&agency, &expected_text, case.state) {
            (
                Some(a),
                Some(t),
                CaseState::Handling | CaseState::ExtensionPending | CaseState::Suspended,
            ) => Some(match lang {
                Lang::Zh => format!("由{a}处置，预计 {t} 前处理完毕"),
                Lang::En => format!("{a} handles it; expected by {t}"),
            }),
            _ => None,
        };
        let point = has_point(case);
        PublicRequest {
            service_request_id: case.number.0.clone(),
            status,
            status_notes,
            service_name,
            service_code: case.category.code.clone(),
            description: Some(case.description.clone()).filter(|d| !d.is_empty()),
            agency_responsible: agency,
            service_notice,
            requested_datetime: self.local_time(case.created_at),
            updated_datetime: self.local_time(case.updated_at),
            expected_datetime: expected,
            address: case.location.address.clone(),
            lat: point.then_some(case.location.lat),
            long: point.then_some(case.location.lon),
            media_url: case
                .media
                .iter()
                .find(|m| {
                    let m = m.to_ascii_lowercase();
                    m.starts_with("http://") || m.starts_with("https://")
                })
                .cloned(),
        }
    }

    /// What every public view says of a case's state: the unit (once dispatched), the
    /// expected time (district zone, and as words in `lang`) and the fixed wording.
    pub(crate) fn public_state(
        &self,
        case: &Case,
        units: &HashMap<UnitId, String>,
        lang: Lang,
    ) -> PublicState {
        let unit = case.unit_id.and_then(|u| units.get(&u).cloned());
        let expected = self.expected_handled_by(case).map(|t| self.local_time(t));
        let expected_text = expected.map(|t| match lang {
            Lang::Zh => t.format("%Y年%m月%d日 %H:%M").to_string(),
            Lang::En => t.format("%Y-%m-%d %H:%M").to_string(),
        });
        let public_lang = match lang {
            Lang::Zh => PublicLang::Zh,
            Lang::En => PublicLang::En,
        };
        let facts = WordingFacts {
            unit: unit.as_deref(),
            expected: expected_text.as_deref(),
            reason: case.public_reason,
        };
        let wording = public::wording(case.state, facts, public_lang);
        PublicState {
            unit,
            expected,
            expected_text,
            wording,
        }
    }

    /// One published case by number; anything else is not found.
    pub async fn public_request(
        &self,
        number: &str,
        lang: Lang,
    ) -> Result<PublicRequest, ServiceError> {
        let not_found = || unknown_request(number, lang);
        if !is_id_shaped(number) {
            return Err(not_found());
        }
        let case = match self.store.get_case_by_number(number).await {
            Ok(c) if is_published(c.source) => c,
            Ok(_) | Err(StoreError::NotFound(_)) => return Err(not_found()),
            Err(e) => return Err(e.into()),
        };
        let cache = self.cached();
        let cats = &cache.categories;
        let units = self.unit_names().await?;
        let master = self.master_of(&case).await?;
        Ok(self.public_view(&case, master.as_ref(), cats, &units, lang))
    }

    /// A token (a case's internal id) resolved to the case number.
    pub async fn public_token(&self, token: &str, lang: Lang) -> Result<String, ServiceError> {
        let not_found = || {
            ServiceError::NotFound(match lang {
                Lang::Zh => format!("没有令牌 {token}"),
                Lang::En => format!("no token {token}"),
            })
        };
        let id = CaseId::parse(token).map_err(|_| not_found())?;
        match self.store.get_case(id).await {
            Ok(c) if is_published(c.source) => Ok(c.number.0),
            Ok(_) | Err(StoreError::NotFound(_)) => Err(not_found()),
            Err(e) => Err(e.into()),
        }
    }

    /// `GET requests`: by numbers, or by filters within the spec's window, newest
    /// first, one page of at most [`MAX_REQUESTS`].
    ///
    /// Windows: both dates → that span (at most 90 days); a lone `start_date` → the 90
    /// days after it; a lone `end_date` → the 90 days before it; no dates and no
    /// `updated_*` filter → the last 90 days. `end_date` and `updated_before` are
    /// inclusive and exclusive respectively as their names say.
    pub async fn public_requests(
        &self,
        q: RequestQuery,
        lang: Lang,
    ) -> Result<PublicPage, ServiceError> {
        let page_size = q.page_size.clamp(1, MAX_REQUESTS);
        let page = q.page.max(1);
        let offset = u64::from(page - 1) * u64::from(page_size);
        if q.cursor.is_none() && offset > MAX_OFFSET {
            return Err(ServiceError::invalid(
                "page",
                match lang {
                    Lang::Zh => format!(
                        "(page - 1) × page_size 不能超过 {MAX_OFFSET}；更深的页请用上一页给出的 cursor"
                    ),
                    Lang::En => format!(
                        "(page - 1) × page_size may not exceed {MAX_OFFSET}; read deeper pages with the cursor the previous page names"
                    ),
                },
            ));
        }
        let cache = self.cached();
        let cats = &cache.categories;
        let units = self.unit_names().await?;
        if !q.ids.is_empty() {
            let mut seen = HashSet::new();
            let mut cases = Vec::new();
            for id in q.ids.iter().filter(|id| seen.insert(id.as_str())) {
                if !is_id_shaped(id) {
                    continue;
                }
                match self.store.get_case_by_number(id).await {
                    Ok(c) if is_published(c.source) => cases.push(c),
                    Ok(_) | Err(StoreError::NotFound(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
            cases.sort_by_key(|c| std::cmp::Reverse((c.created_at, c.id)));
            let masters = self.masters(&cases).await?;
            let requests = cases
                .iter()
                .filter(|c| {
                    q.cursor
                        .as_ref()
                        .is_none_or(|k| (c.created_at, c.id) < (k.created_at, k.id))
                })
                .skip(if q.cursor.is_some() {
                    0
                } else {
                    offset as usize
                })
                .take(page_size as usize)
                .map(|c| self.public_view(c, masters.get(&c.id), cats, &units, lang))
                .collect();
            return Ok(PublicPage {
                requests,
                next_cursor: None,
            });
        }
        let window = Duration::days(WINDOW_DAYS);
        let (from, to) = match (q.start_date, q.end_date) {
            (Some(s), Some(e)) => {
                if e < s {
                    return Err(invalid(
                        "end_date",
                        lang,
                        "不能早于 start_date",
                        "is before start_date",
                    ));
                }
                if e - s > window {
                    return Err(invalid(
                        "end_date",
                        lang,
                        "start_date 与 end_date 相差不能超过 90 天",
                        "start_date and end_date may not be more than 90 days apart",
                    ));
                }
                (Some(s), Some(e))
            }
            (Some(s), None) => (Some(s), s.checked_add_signed(window)),
            (None, Some(e)) => (e.checked_sub_signed(window), Some(e)),
            (None, None) if q.updated_after.is_none() && q.updated_before.is_none() => {
                let now = self.now();
                (now.checked_sub_signed(window), None)
            }
            (None, None) => (None, None),
        };
        let micro = Duration::microseconds(1);
        let statuses: Vec<String> = match q.statuses.as_slice() {
            [PublicStatus::Open] => CaseState::ALL
                .iter()
                .filter(|s| s.is_open())
                .map(|s| s.as_str().to_owned())
                .collect(),
            [PublicStatus::Closed] => CaseState::ALL
                .iter()
                .filter(|s| !s.is_open())
                .map(|s| s.as_str().to_owned())
                .collect(),
            _ => Vec::new(),
        };
        let mut codes: Vec<String> = q.service_codes.clone();
        codes.sort();
        codes.dedup();
        let filter = PublicCaseFilter {
            service_codes: codes,
            states: statuses,
            created_from: from,
            created_to: to.and_then(|t| t.checked_add_signed(micro)),
            updated_from: q.updated_after.and_then(|t| t.checked_add_signed(micro)),
            updated_to: q.updated_before,
        };
        let start = match q.cursor {
            Some(c) => PublicStart::After(c),
            None => PublicStart::Offset(offset),
        };
        let cases = self
            .store
            .list_public_cases(&filter, &start, page_size)
            .await?;
        let next_cursor = (cases.len() == page_size as usize)
            .then(|| {
                cases.last().map(|c| Cursor {
                    created_at: c.created_at,
                    id: c.id,
                })
            })
            .flatten();
        let masters = self.masters(&cases).await?;
        Ok(PublicPage {
            requests: cases
                .iter()
                .map(|c| self.public_view(c, masters.get(&c.id), cats, &units, lang))
                .collect(),
            next_cursor,
        })
    }
}

/// Whether a case's category is of the kind its `service_code` can name (a component or
/// legacy event code could coincide with a matter code in the store's code column).
pub fn is_service_kind(code: &CategoryCode) -> bool {
    code.standard != CodeStandard::Gb47678 || code.kind == CategoryKind::Matter
}

/// The unit handling the case, or the one routing suggested before dispatch.
fn unknown_service(code: &str, lang: Lang) -> ServiceError {
    let code: String = code.chars().take(32).collect();
    ServiceError::NotFound(match lang {
        Lang::Zh => format!("没有服务代码 {code}（service_code 为 GB/T 47678.5 事项的 5 位代码）"),
        Lang::En => {
            format!("no service with service_code {code} (5-digit GB/T 47678.5 matter codes)")
        }
    })
}

fn unknown_request(id: &str, lang: Lang) -> ServiceError {
    let id: String = id.chars().take(64).collect();
    ServiceError::NotFound(match lang {
        Lang::Zh => format!("没有编号为 {id} 的请求"),
        Lang::En => format!("no request {id}"),
    })
}

/// Registers the demo's well-known Open311 key for the demo client (called by the demo
/// loader only).
pub(crate) async fn register_demo_key(svc: &Services) -> Result<(), ServiceError> {
    svc.register_api_key("演示客户端 demo client", crate::demo::DEMO_API_KEY)
        .await
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cat(name: &str) -> Category {
        Category {
            code: CategoryCode::parse_service_code("01001").unwrap(),
            major_name_zh: "市政公用设施类".into(),
            major_name_en: "municipal".into(),
            name_zh: name.into(),
            name_en: "x".into(),
            default_unit_type: String::new(),
            active: true,
        }
    }

    #[test]
    fn manhole_covers_ask_a_required_question_others_an_optional_severity() {
        let a = attributes_of(&cat("供水井盖异常"), Lang::Zh);
        assert_eq!(a[0].code, "cover_state");
        assert!(a[0].required);
        let names: Vec<&str> = a[0].values.iter().map(|(_, n)| n.as_str()).collect();
        assert_eq!(names, ["丢失", "破损", "移位"]);
        let orders: Vec<u32> = a.iter().map(|x| x.order).collect();
        assert_eq!(orders, [1, 2, 3]);
        let b = attributes_of(&cat("暴露垃圾"), Lang::En);
        assert_eq!(b.len(), 1);
        assert_eq!(b[0].code, "severity");
        assert!(!b[0].required);
    }

    #[test]
    fn answers_are_checked_against_the_definition() {
        let defs = attributes_of(&cat("供水井盖异常"), Lang::Zh);
        let mut answers = BTreeMap::new();
        assert!(matches!(
            check_attributes(&defs, &answers, Lang::Zh),
            Err(ServiceError::Invalid { field, .. }) if field == "attribute[cover_state]"
        ));
        answers.insert("cover_state".to_owned(), vec!["gone".to_owned()]);
        assert!(check_attributes(&defs, &answers, Lang::Zh).is_err());
        answers.insert(
            "cover_state".to_owned(),
            vec!["missing".to_owned(), "broken".to_owned()],
        );
        assert!(check_attributes(&defs, &answers, Lang::Zh).is_err());
        answers.insert("cover_state".to_owned(), vec!["missing".to_owned()]);
        answers.insert("unknown".to_owned(), vec!["ignored".to_owned()]);
        let lines = check_attributes(&defs, &answers, Lang::Zh).unwrap();
        assert_eq!(lines, ["cover_state：丢失（missing）"]);
    }

    #[test]
    fn media_urls_must_be_http_or_https() {
        assert!(check_media_url("https://img.example.cn/p/1.jpg", Lang::Zh).is_ok());
        assert!(check_media_url("HTTP://img.example.cn", Lang::Zh).is_ok());
        for bad in [
            "ftp://x/y",
            "javascript:alert(1)",
            "https://",
            "/local/path",
            "https://a b",
        ] {
            assert!(check_media_url(bad, Lang::Zh).is_err(), "{bad}");
        }
    }

    #[test]
    fn names_follow_the_script_order_and_ids_have_a_fixed_shape() {
        assert_eq!(
            full_name(Some("伟".into()), Some("张".into())).unwrap(),
            "张伟"
        );
        assert_eq!(
            full_name(Some("Ann".into()), Some("Lee".into())).unwrap(),
            "Ann Lee"
        );
        assert_eq!(full_name(None, Some("Lee".into())).unwrap(), "Lee");
        assert!(is_id_shaped("410103-20261126-0001"));
        assert!(!is_id_shaped("../etc"));
        assert!(!is_id_shaped(""));
    }

    #[test]
    fn the_hotline_petitions_and_leaders_are_not_published() {
        assert!(is_published(Source::Public));
        assert!(is_published(Source::Inspector));
        assert!(!is_published(Source::Hotline12345));
        assert!(!is_published(Source::Petition));
        assert!(!is_published(Source::Leader));
    }
}
