//! The sensor intake's HTTP side (issue 19): the device intake `POST /api/v1/telemetry`
//! (device-authenticated, at most 64 KiB), the admin API for sites, devices, CSV import,
//! alarm rules and intake counters (`/api/v1/admin/sensor-*`, audited), and a case's
//! sensor log (`GET /api/v1/cases/{id}/sensor-log`), and what every staff role reads of
//! sensors: sites (`/api/v1/sensors/sites`, one site's page), devices by health
//! (`/api/v1/sensors/devices`) and a device's or site's readings in buckets
//! (`/api/v1/sensors/series`, limits in `cityloop_service::sensors::series`). Handlers
//! only extract and map; the checks and the rules are in `cityloop_service::sensors`.

use axum::body::{Body, Bytes};
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Utc};
use cityloop_domain::sensor::{Device, DropReason, RuleSet, Site, SiteKind};
use cityloop_service::sensors::series::{DeviceHealth, SeriesRequest};
use cityloop_service::sensors::{
    Accepted, Channel, DeviceInput, Dropped, IngestError, NewDevice, SiteInput, MAX_PAYLOAD_BYTES,
};
use cityloop_store::SensorLogRow;
use serde::{Deserialize, Serialize};

use crate::admin::Admin;
use crate::error::{ApiError, ErrorBody};
use crate::extract::{ApiJson, ApiQuery, Staff};
use crate::AppState;

pub fn routes() -> Router<AppState> {
    Router::new()
        .route(
            "/api/v1/telemetry",
            post(telemetry).layer(DefaultBodyLimit::disable()),
        )
        .route("/api/v1/admin/sensor-sites", get(sites).post(put_site))
        .route(
            "/api/v1/admin/sensor-devices",
            get(devices).post(put_device),
        )
        .route("/api/v1/admin/sensor-import", post(import_csv))
        .route("/api/v1/admin/sensor-rules", get(rules).put(put_rules))
        .route("/api/v1/admin/sensor-intake", get(intake))
        .route("/api/v1/cases/{id}/sensor-log", get(case_log))
        .route("/api/v1/sensors/series", get(series))
        .route("/api/v1/sensors/sites", get(site_list))
        .route("/api/v1/sensors/sites/{id}", get(site_page))
        .route("/api/v1/sensors/devices", get(device_health))
}

/// A site as an admin enters it.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SiteRequest {
    /// 1 to 64 characters of `A-Z a-z 0-9 - _`.
    pub id: String,
    pub kind: SiteKind,
    pub name: String,
    /// WGS84.
    pub lon: f64,
    pub lat: f64,
    pub street: Option<String>,
    pub responsible_party: Option<String>,
    pub unit_code: Option<String>,
    pub permit: Option<String>,
    pub contractor: Option<String>,
    /// Demo data (演示).
    #[serde(default)]
    pub demo: bool,
}

/// A device as an admin enters it. Registering answers its secret once.
#[derive(Debug, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DeviceRequest {
    /// 1 to 64 characters of `A-Z a-z 0-9 - _`: the `<device>` of its topic.
    pub id: String,
    pub site_id: String,
    /// The `<district>` of its topic (the district's code unless given).
    pub district: Option<String>,
    /// 扬尘监测仪, 水质探头, …
    pub kind: String,
    /// Metric names (pm10, pm2_5, noise, cod, nh3_n, ph, battery, signal).
    pub metrics: Vec<String>,
    pub mqtt_username: Option<String>,
}

/// A device just registered or re-keyed: the secret is shown only here.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct NewDeviceDto {
    pub device: Device,
    /// Sent as `Authorization: Bearer <device id>:<secret>` to `POST /api/v1/telemetry`.
    pub secret: String,
    /// The MQTT topic it publishes on.
    pub topic: String,
}

impl From<NewDevice> for NewDeviceDto {
    fn from(n: NewDevice) -> Self {
        NewDeviceDto {
            device: n.device,
            secret: n.secret,
            topic: n.topic,
        }
    }
}

/// A device with its health, as the devices page lists it (never its secret).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeviceDto {
    pub device: Device,
    pub last_seen_at: Option<DateTime<Utc>>,
    /// The last battery (%) and signal (dBm) it reported, when it reports them.
    #[schema(value_type = Option<Object>)]
    pub last_status: Option<serde_json::Value>,
    /// Its open 设备离线 case, while there is one.
    pub offline_case_id: Option<String>,
}

/// What an accepted payload did.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct AcceptedDto {
    pub device: String,
    /// Cases opened by episodes that began with this reading.
    pub opened: Vec<String>,
    pub reopened: Vec<String>,
    pub cleared: Vec<String>,
    /// The 设备离线 case on which the device's return was recorded.
    pub back_online: Option<String>,
}

impl From<Accepted> for AcceptedDto {
    fn from(a: Accepted) -> Self {
        let ids =
            |v: Vec<cityloop_domain::ids::CaseId>| v.into_iter().map(|c| c.to_string()).collect();
        AcceptedDto {
            device: a.device,
            opened: ids(a.opened),
            reopened: ids(a.reopened),
            cleared: ids(a.cleared),
            back_online: a.back_online.map(|c| c.to_string()),
        }
    }
}

/// The intake's state: broker, accepted payloads, drops by reason.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct IntakeDto {
    /// `ok`, or `degraded` while the configured MQTT broker is away.
    pub status: String,
    /// `disabled`, `connecting`, `connected` or `down`.
    pub broker: String,
    pub last_error: Option<String>,
    pub accepted: u64,
    /// Dropped payloads by reason since start.
    pub dropped: std::collections::BTreeMap<String, u64>,
}

fn dropped_error(d: Dropped) -> ApiError {
    let (status, code) = match d.reason {
        DropReason::TooLarge => (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large"),
        DropReason::UnknownDevice | DropReason::BadCredentials => {
            (StatusCode::UNAUTHORIZED, "unauthorized")
        }
        _ => (StatusCode::UNPROCESSABLE_ENTITY, "invalid_field"),
    };
    let mut e = ApiError::new(
        status,
        code,
        format!("{} ({}): {}", d.field, d.reason, d.detail),
    );
    e.field = Some(d.field);
    e
}

/// `Authorization: Bearer <device id>:<secret>`.
fn device_credentials(headers: &HeaderMap) -> Result<(String, String), ApiError> {
    let unauthorized = || {
        let mut e = ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "Authorization: Bearer <device id>:<secret> is required",
        );
        e.field = Some("Authorization".into());
        e
    };
    let v = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(unauthorized)?;
    let (device, secret) = v.split_once(':').ok_or_else(unauthorized)?;
    Ok((device.to_owned(), secret.to_owned()))
}

#[utoipa::path(post, path = "/api/v1/telemetry", tag = "sensors",
    request_body(content = Object, description = "`{\"device\": \"D1\", \"at\": \"2026-12-01T08:00:00Z\", \"metrics\": {\"pm10\": {\"value\": 180.5, \"unit\": \"ug/m3\"}}}`, at most 65536 bytes"),
    security(("bearer" = [])),
    responses((status = 202, description = "Accepted and evaluated", body = AcceptedDto),
              (status = 401, description = "No, unknown or wrong device credentials", body = ErrorBody),
              (status = 413, description = "Over 65536 bytes", body = ErrorBody),
              (status = 422, description = "Not JSON, bad shape, unknown metric, wrong unit, NaN or out of range, device time too far off; `field` names it", body = ErrorBody)))]
pub(crate) async fn telemetry(
    State(st): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<(StatusCode, Json<AcceptedDto>), ApiError> {
    let (device, secret) = device_credentials(&headers)?;
    let bytes: Bytes = match axum::body::to_bytes(body, MAX_PAYLOAD_BYTES + 1).await {
        Ok(b) => b,
        // Over the limit: the intake counts and refuses it by its size.
        Err(_) => Bytes::from(vec![b' '; MAX_PAYLOAD_BYTES + 1]),
    };
    let ch = Channel::Http {
        device: &device,
        secret: &secret,
    };
    match st.svc.ingest(ch, &bytes).await {
        Ok(a) => Ok((StatusCode::ACCEPTED, Json(a.into()))),
        Err(IngestError::Dropped(d)) => Err(dropped_error(d)),
        Err(IngestError::Service(e)) => Err(e.into()),
    }
}

#[utoipa::path(get, path = "/api/v1/admin/sensor-sites", security(("bearer" = [])), tag = "sensors",
    responses((status = 200, body = Vec<Site>), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn sites(
    State(st): State<AppState>,
    Admin(p): Admin,
) -> Result<Json<Vec<Site>>, ApiError> {
    Ok(Json(st.svc.admin_sites(&p).await?))
}

#[utoipa::path(post, path = "/api/v1/admin/sensor-sites", security(("bearer" = [])), tag = "sensors", request_body = SiteRequest,
    responses((status = 200, description = "Created or replaced (audited)", body = Site), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody),
              (status = 422, description = "A field is invalid, named in `field`", body = ErrorBody)))]
pub(crate) async fn put_site(
    State(st): State<AppState>,
    Admin(p): Admin,
    ApiJson(r): ApiJson<SiteRequest>,
) -> Result<Json<Site>, ApiError> {
    let input = SiteInput {
        id: r.id,
        kind: r.kind,
        name: r.name,
        lon: r.lon,
        lat: r.lat,
        street: r.street,
        responsible_party: r.responsible_party,
        unit_code: r.unit_code,
        permit: r.permit,
        contractor: r.contractor,
        demo: r.demo,
    };
    Ok(Json(st.svc.admin_put_site(&p, input).await?))
}

#[utoipa::path(get, path = "/api/v1/admin/sensor-devices", security(("bearer" = [])), tag = "sensors",
    responses((status = 200, description = "Devices by last seen (never seen first)", body = Vec<DeviceDto>), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn devices(
    State(st): State<AppState>,
    Admin(p): Admin,
) -> Result<Json<Vec<DeviceDto>>, ApiError> {
    let rows = st.svc.admin_devices(&p).await?;
    Ok(Json(
        rows.into_iter()
            .map(|r| DeviceDto {
                device: r.device,
                last_seen_at: r.last_seen_at,
                last_status: r.last_status,
                offline_case_id: r.offline_case_id.map(|c| c.to_string()),
            })
            .collect(),
    ))
}

#[utoipa::path(post, path = "/api/v1/admin/sensor-devices", security(("bearer" = [])), tag = "sensors", request_body = DeviceRequest,
    responses((status = 201, description = "Registered (or replaced) with a new secret, shown once (audited without it)", body = NewDeviceDto), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody),
              (status = 422, description = "A field is invalid (unknown site, metric), named in `field`", body = ErrorBody)))]
pub(crate) async fn put_device(
    State(st): State<AppState>,
    Admin(p): Admin,
    ApiJson(r): ApiJson<DeviceRequest>,
) -> Result<(StatusCode, Json<NewDeviceDto>), ApiError> {
    let input = DeviceInput {
        id: r.id,
        site_id: r.site_id,
        district: r.district,
        kind: r.kind,
        metrics: r.metrics,
        mqtt_username: r.mqtt_username,
    };
    let d = st.svc.admin_put_device(&p, input).await?;
    Ok((StatusCode::CREATED, Json(d.into())))
}

#[utoipa::path(post, path = "/api/v1/admin/sensor-import", security(("bearer" = [])), tag = "sensors",
    request_body(content = String, content_type = "text/csv", description = "Header `site_id,site_kind,site_name,lon,lat,street,responsible_party,unit_code,permit,contractor,device_id,device_kind,metrics` (metrics separated by `;`); one row per device"),
    responses((status = 201, description = "Every site and device written (each audited); the new devices with their secrets", body = Vec<NewDeviceDto>), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody),
              (status = 422, description = "A row is invalid; `field` names `csv.line<N>.<column>`, nothing was written", body = ErrorBody)))]
pub(crate) async fn import_csv(
    State(st): State<AppState>,
    Admin(p): Admin,
    body: String,
) -> Result<(StatusCode, Json<Vec<NewDeviceDto>>), ApiError> {
    let out = st.svc.admin_import_sensors_csv(&p, &body).await?;
    Ok((
        StatusCode::CREATED,
        Json(out.into_iter().map(Into::into).collect()),
    ))
}

#[utoipa::path(get, path = "/api/v1/admin/sensor-rules", security(("bearer" = [])), tag = "sensors",
    responses((status = 200, description = "The alarm rules in force (RuleSet JSON, see data/demo/sensor_rules.json)", body = Object), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn rules(State(st): State<AppState>, Admin(_): Admin) -> Json<serde_json::Value> {
    Json(serde_json::to_value(&*st.svc.sensors.rules()).unwrap_or_default())
}

#[utoipa::path(put, path = "/api/v1/admin/sensor-rules", security(("bearer" = [])), tag = "sensors",
    request_body(content = Object, description = "A RuleSet: `rules`, `overrides`, `offline_after_secs`, `offline_category`"),
    responses((status = 204, description = "Replaced (audited)"), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody),
              (status = 422, description = "A rule cannot work; `field` names `rules.<id>.<field>`", body = ErrorBody)))]
pub(crate) async fn put_rules(
    State(st): State<AppState>,
    Admin(p): Admin,
    ApiJson(r): ApiJson<RuleSet>,
) -> Result<StatusCode, ApiError> {
    st.svc.admin_put_sensor_rules(&p, r).await?;
    Ok(StatusCode::NO_CONTENT)
}

#[utoipa::path(get, path = "/api/v1/admin/sensor-intake", security(("bearer" = [])), tag = "sensors",
    responses((status = 200, body = IntakeDto), (status = 401, body = ErrorBody), (status = 403, description = "Not an admin", body = ErrorBody)))]
pub(crate) async fn intake(State(st): State<AppState>, Admin(_): Admin) -> Json<IntakeDto> {
    let h = st.svc.sensors.health();
    Json(IntakeDto {
        status: h.status.into(),
        broker: serde_json::to_value(&h.broker)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default(),
        last_error: h.last_error,
        accepted: h.accepted,
        dropped: h.dropped,
    })
}

#[utoipa::path(get, path = "/api/v1/cases/{id}/sensor-log", security(("bearer" = [])), tag = "sensors",
    params(("id" = String, Path, description = "Case id")),
    responses((status = 200, description = "What sensors recorded on the case (opened, reopened, cleared, offline, online) with the episode's peak, mean and duration", body = Vec<SensorLogRow>),
              (status = 401, body = ErrorBody), (status = 404, description = "No such case, or not readable by the caller", body = ErrorBody)))]
pub(crate) async fn case_log(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Json<Vec<SensorLogRow>>, ApiError> {
    let id = cityloop_domain::ids::CaseId::parse(&id)
        .map_err(|_| ApiError::not_found(format!("case {id:?} not found")))?;
    // The reader's scope is checked by reading the case first.
    st.svc.case_detail(&staff.actor, id).await?;
    Ok(Json(st.svc.case_sensor_log(id).await?))
}

// ---- what staff read: series, sites, devices ----

/// `GET /api/v1/sensors/series`: exactly one of `device` and `site`.
#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
#[serde(deny_unknown_fields)]
pub struct SeriesParams {
    /// A device's readings.
    pub device: Option<String>,
    /// Every device's readings of a site, summed per bucket.
    pub site: Option<String>,
    /// pm10, pm2_5, noise, cod, nh3_n, ph, battery, signal.
    pub metric: String,
    /// RFC 3339; floored to the minute; buckets start here.
    pub from: DateTime<Utc>,
    /// RFC 3339, exclusive; ceiled to the minute. At most 400 days after `from`.
    pub to: DateTime<Utc>,
    /// Bucket size in seconds: a multiple of 60, at most 31 days; at most 1440 buckets.
    #[param(minimum = 60, maximum = 2678400)]
    pub bucket: i64,
}

/// A rule's thresholds as the chart draws them.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct ThresholdDto {
    pub rule_id: String,
    pub name_zh: String,
    /// The rolling mean's window.
    pub window_secs: i64,
    /// An episode opens when the rolling mean stays over this for `open_hold_secs`.
    pub open_above: f64,
    pub open_hold_secs: i64,
    /// It clears when the rolling mean stays under this for `clear_hold_secs`.
    pub clear_below: f64,
    pub clear_hold_secs: i64,
    /// The category of the case it opens.
    #[schema(value_type = Object)]
    pub category: cityloop_domain::model::CategoryCode,
    /// Where the thresholds come from (or "invented default").
    pub provenance: String,
}

impl From<cityloop_service::sensors::series::Threshold> for ThresholdDto {
    fn from(t: cityloop_service::sensors::series::Threshold) -> Self {
        ThresholdDto {
            rule_id: t.rule_id,
            name_zh: t.name_zh,
            window_secs: t.window_secs,
            open_above: t.open_above,
            open_hold_secs: t.open_hold_secs,
            clear_below: t.clear_below,
            clear_hold_secs: t.clear_hold_secs,
            category: t.category,
            provenance: t.provenance,
        }
    }
}

/// A series of per-minute aggregates in buckets.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SeriesDto {
    pub metric: String,
    pub unit: String,
    /// The range actually read (floored/ceiled to the minute).
    pub from: DateTime<Utc>,
    pub to: DateTime<Utc>,
    pub bucket_secs: i64,
    /// The site's rules on this metric, overrides applied.
    pub thresholds: Vec<ThresholdDto>,
    /// Buckets with readings, oldest first (`start` in Unix seconds).
    pub points: Vec<cityloop_store::SeriesPoint>,
}

#[utoipa::path(get, path = "/api/v1/sensors/series", security(("bearer" = [])), tag = "sensors",
    params(SeriesParams),
    responses((status = 200, description = "Count, min, max and mean per bucket, with the rules' open and clear thresholds", body = SeriesDto),
              (status = 422, description = "A parameter cannot be parsed or is out of bounds (range, bucket, metric, device/site), named in `field`", body = ErrorBody),
              (status = 401, body = ErrorBody), (status = 404, description = "No such device or site", body = ErrorBody)))]
pub(crate) async fn series(
    State(st): State<AppState>,
    staff: Staff,
    ApiQuery(q): ApiQuery<SeriesParams>,
) -> Result<Json<SeriesDto>, ApiError> {
    let s = st
        .svc
        .sensor_series(
            &staff.actor,
            SeriesRequest {
                device: q.device,
                site: q.site,
                metric: q.metric,
                from: q.from,
                to: q.to,
                bucket_secs: q.bucket,
            },
        )
        .await?;
    Ok(Json(SeriesDto {
        metric: s.metric,
        unit: s.unit.to_owned(),
        from: s.from,
        to: s.to,
        bucket_secs: s.bucket_secs,
        thresholds: s.thresholds.into_iter().map(Into::into).collect(),
        points: s.points,
    }))
}

/// A device with its health (never its secret).
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct DeviceHealthDto {
    pub device: Device,
    pub site_name: Option<String>,
    /// The site is demo data (演示).
    pub demo: bool,
    /// Silent longer than the rules' `offline_after_secs`, or with an open 设备离线 case.
    pub offline: bool,
    pub last_seen_at: Option<DateTime<Utc>>,
    /// The last battery (%) and signal (dBm) it reported, when it reports them.
    #[schema(value_type = Option<Object>)]
    pub last_status: Option<serde_json::Value>,
    pub offline_case_id: Option<String>,
}

impl From<DeviceHealth> for DeviceHealthDto {
    fn from(d: DeviceHealth) -> Self {
        DeviceHealthDto {
            device: d.row.device,
            site_name: d.site_name,
            demo: d.demo,
            offline: d.offline,
            last_seen_at: d.row.last_seen_at,
            last_status: d.row.last_status,
            offline_case_id: d.row.offline_case_id.map(|c| c.to_string()),
        }
    }
}

#[utoipa::path(get, path = "/api/v1/sensors/devices", security(("bearer" = [])), tag = "sensors",
    responses((status = 200, description = "Devices: offline first (the longest silent first), then never seen, then by last seen, the latest first", body = Vec<DeviceHealthDto>),
              (status = 401, body = ErrorBody)))]
pub(crate) async fn device_health(
    State(st): State<AppState>,
    staff: Staff,
) -> Result<Json<Vec<DeviceHealthDto>>, ApiError> {
    let list = st.svc.sensor_device_health(&staff.actor).await?;
    Ok(Json(list.into_iter().map(Into::into).collect()))
}

/// A site in the sites list.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SiteSummaryDto {
    pub site: Site,
    pub devices: usize,
    pub offline: usize,
    pub last_seen_at: Option<DateTime<Utc>>,
}

#[utoipa::path(get, path = "/api/v1/sensors/sites", security(("bearer" = [])), tag = "sensors",
    responses((status = 200, description = "Every site with its devices' counts", body = Vec<SiteSummaryDto>), (status = 401, body = ErrorBody)))]
pub(crate) async fn site_list(
    State(st): State<AppState>,
    staff: Staff,
) -> Result<Json<Vec<SiteSummaryDto>>, ApiError> {
    let list = st.svc.sensor_site_list(&staff.actor).await?;
    Ok(Json(
        list.into_iter()
            .map(|s| SiteSummaryDto {
                site: s.site,
                devices: s.devices,
                offline: s.offline,
                last_seen_at: s.last_seen_at,
            })
            .collect(),
    ))
}

/// The thresholds on one metric at a site.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct MetricThresholdsDto {
    pub metric: String,
    pub unit: String,
    pub rules: Vec<ThresholdDto>,
}

/// A case sensors recorded on, with its sensor log.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SiteCaseDto {
    pub id: String,
    pub number: String,
    pub state: String,
    #[schema(value_type = Object)]
    pub category: cityloop_domain::model::CategoryCode,
    pub created_at: DateTime<Utc>,
    pub log: Vec<SensorLogRow>,
}

/// A site's page.
#[derive(Debug, Serialize, utoipa::ToSchema)]
pub struct SitePageDto {
    pub site: Site,
    pub devices: Vec<DeviceHealthDto>,
    pub thresholds: Vec<MetricThresholdsDto>,
    /// The cases the reader may see, the latest first (at most 50).
    pub cases: Vec<SiteCaseDto>,
}

#[utoipa::path(get, path = "/api/v1/sensors/sites/{id}", security(("bearer" = [])), tag = "sensors",
    params(("id" = String, Path, description = "Site id")),
    responses((status = 200, description = "The site, its devices, the thresholds on their metrics and its cases with their sensor logs", body = SitePageDto),
              (status = 401, body = ErrorBody), (status = 404, description = "No such site", body = ErrorBody)))]
pub(crate) async fn site_page(
    State(st): State<AppState>,
    staff: Staff,
    Path(id): Path<String>,
) -> Result<Json<SitePageDto>, ApiError> {
    let p = st.svc.sensor_site_page(&staff.actor, &id).await?;
    Ok(Json(SitePageDto {
        site: p.site,
        devices: p.devices.into_iter().map(Into::into).collect(),
        thresholds: p
            .thresholds
            .into_iter()
            .map(|(metric, rules)| MetricThresholdsDto {
                unit: cityloop_domain::sensor::metric(&metric)
                    .map_or("", |d| d.unit)
                    .to_owned(),
                metric,
                rules: rules.into_iter().map(Into::into).collect(),
            })
            .collect(),
        cases: p
            .cases
            .into_iter()
            .map(|c| SiteCaseDto {
                id: c.id.to_string(),
                number: c.number,
                state: c.state,
                category: c.category,
                created_at: c.created_at,
                log: c.log,
            })
            .collect(),
    }))
}
