//! The OpenAPI 3.1 document of the staff API, generated from the handlers' `#[utoipa::path]`
//! annotations and the DTOs' `ToSchema` derives, served at `GET /api/v1/openapi.json`.
//!
//! A new handler is listed in [`ApiDoc`]'s `paths(...)`; `tests/openapi.rs` requests every
//! documented operation (it must be routed) and validates the document.
//!
//! The answers that come from the shared edge rather than from one handler are added to
//! every operation they can occur on by [`WireStatuses`], so the document says every
//! status the server can answer: 400/413 where a body is read, 415/422 where it is JSON,
//! 422 where a query is, 400 where a path parameter is decoded, and 408/414/431 everywhere. The public Open311 endpoints
//! follow their own standard (docs/open311-georeport-v2.md) and are not repeated here.

use axum::Json;
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi};

use crate::error::{ErrorBody, ErrorDetail};
use crate::routes;

/// The document. `paths` lists every handler; schemas reachable from them are collected
/// automatically, the rest are named in `components`.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "cityloop staff API",
        description = "Cases, workflow actions, routing and reference data for the people who run the urban-management loop. Errors use one envelope: {\"error\": {\"code\", \"message\", \"field\"}}. Authenticate with `POST /api/v1/auth/login` and send `Authorization: Bearer <token>`.",
        license(name = "Apache-2.0")
    ),
    paths(
        routes::healthz,
        routes::public_config,
        routes::login,
        routes::logout,
        routes::me,
        routes::my_notifications,
        crate::inbox::inbox,
        crate::inbox::unread,
        crate::inbox::read_one,
        crate::inbox::read_all,
        crate::inbox::ticket,
        crate::inbox::stream,
        routes::route_point,
        routes::categories,
        routes::units,
        routes::list_cases,
        routes::create_case,
        routes::get_case,
        routes::act,
        routes::bulk_act,
        routes::reveal_phone,
        crate::search::search,
        crate::search::by_number,
        crate::export::export,
        crate::attachments::upload_staff,
        crate::attachments::original,
        crate::attachments::upload_public,
        crate::attachments::public_copy,
        crate::webhooks::list,
        crate::webhooks::create,
        crate::webhooks::read,
        crate::webhooks::update,
        crate::webhooks::remove,
        crate::webhooks::deliveries,
        crate::webhooks::redeliver,
        crate::hotline::hotline_receive,
        crate::hotline::hotline_urge,
        crate::hotline::hotline_withdraw,
        crate::hotline::hotline_supplement,
        crate::hotline::hotline_read_settings,
        crate::hotline::hotline_put_settings,
        crate::hotline::hotline_case_view,
        crate::hotline::hotline_progress,
        crate::rankings::rankings,
        crate::rankings::ranking_cases,
        crate::rankings::grid_heat,
        crate::rankings::record_patrol,
        crate::maps::layers,
        crate::maps::search,
        crate::maps::reverse,
        crate::maps::clusters,
        crate::maps::config,
        crate::dashboard::dashboard,
        crate::maps::put_tiles,
        document,
        crate::admin::roles,
        crate::admin::list_units,
        crate::admin::get_unit,
        crate::admin::create_unit,
        crate::admin::update_unit,
        crate::admin::deactivate_unit,
        crate::admin::list_people,
        crate::admin::get_person,
        crate::admin::create_person,
        crate::admin::update_person,
        crate::admin::deactivate_person,
        crate::admin::reset_password,
        crate::admin::list_road_chiefs,
        crate::admin::road_chief_history,
        crate::admin::assign_road_chief,
        crate::admin::end_road_chief,
        crate::admin::list_limits,
        crate::admin::put_limit,
        crate::admin::delete_limit,
        crate::admin::list_assign_rules,
        crate::admin::put_assign_rule,
        crate::admin::delete_assign_rule,
        crate::admin::get_calendar,
        crate::admin::put_calendar,
        crate::calendar::list_years,
        crate::calendar::load_year,
        crate::calendar::remove_year,
        crate::admin::list_api_keys,
        crate::admin::create_api_key,
        crate::admin::revoke_api_key,
        crate::admin::rotate_public_page_key,
        crate::admin::audit,
        crate::admin::get_privacy,
        crate::admin::put_privacy,
        crate::integrity::status,
        crate::integrity::verify_now,
        crate::track::public_case,
        crate::track::rate_case,
        crate::track::still_not_fixed,
        crate::messages::get_settings,
        crate::messages::put_settings,
        crate::messages::outbox,
        crate::messages::health,
        crate::messages::resend,
        crate::messages::request_code,
        crate::messages::my_cases,
        crate::sensors::telemetry,
        crate::sensors::sites,
        crate::sensors::put_site,
        crate::sensors::devices,
        crate::sensors::put_device,
        crate::sensors::import_csv,
        crate::sensors::rules,
        crate::sensors::put_rules,
        crate::sensors::intake,
        crate::sensors::case_log,
        crate::sensors::series,
        crate::sensors::site_list,
        crate::sensors::site_page,
        crate::sensors::device_health,
        crate::enforce::create_party,
        crate::enforce::search_parties,
        crate::enforce::party_page,
        crate::enforce::set_case_party,
        crate::enforce::case_enforcement,
        crate::enforce::record_step,
        crate::enforce::law_articles,
        crate::enforce::put_law_articles,
        crate::enforce::put_repeat_rule,
        crate::patrols::start_patrol,
        crate::patrols::get_patrol,
        crate::patrols::upload_points,
        crate::patrols::end_patrol,
        crate::patrols::road_chief_gaps,
        crate::patrols::my_roads,
        crate::patrols::bulk_assign,
    ),
    components(schemas(ErrorBody, ErrorDetail)),
    modifiers(&BearerAuth, &WireStatuses),
    tags(
        (name = "auth", description = "Login, logout, the caller, their inbox of notices and the live stream"),
        (name = "cases", description = "Intake, listing, detail with timeline, workflow actions"),
        (name = "territory", description = "Routing a point to its owners"),
        (name = "maps", description = "Territory layers by view, address search, reverse geocoding, clusters of open cases, the tile source"),
        (name = "reference", description = "Categories and units"),
        (name = "attachments", description = "Photo upload (checked by content) and download"),
        (name = "evaluation", description = "Rankings (综合评价), drill-down to cases, road-chief patrols"),
        (name = "system", description = "Health and this document"),
        (name = "messages", description = "Messages to citizens (admin): SMS and e-mail channels, templates, the outbox with each message's status"),
        (name = "webhooks", description = "Signed outgoing webhooks (admin): subscriptions, delivery log, dead letters"),
        (name = "enforcement", description = "Parties (当事人), enforcement records (执法记录) on cases, the law-article table, the repeat-offender list (黑名单)"),
        (name = "admin", description = "Units, people, roles, road chiefs, time limits, routing rules, calendar, API keys, audit log (admin role only)"),
        (name = "hotline", description = "The 12345 bridge: the platform's signed work orders and follow-ups (催办, 撤单, 补充材料), the bridge's settings (admin), a hotline case's log and calls back to the platform"),
        (name = "sensors", description = "Sensor intake (污染防治联动): device telemetry, sites, devices, alarm rules, a case's sensor log"),
    )
)]
pub struct ApiDoc;

/// Declares the bearer-token scheme the paths refer to as `bearer`.
struct BearerAuth;

impl Modify for BearerAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A token from POST /api/v1/auth/login (12 h, revocable)",
                    ))
                    .build(),
            ),
        );
    }
}

/// Adds the statuses the edge answers (see the module comment) to each operation that
/// does not document them itself, with the error envelope as their body.
struct WireStatuses;

impl Modify for WireStatuses {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::path::ParameterIn;
        use utoipa::openapi::{ContentBuilder, Ref, ResponseBuilder};
        let error = |description: &str| {
            ResponseBuilder::new()
                .description(description)
                .content(
                    "application/json",
                    ContentBuilder::new()
                        .schema(Some(Ref::from_schema_name("ErrorBody")))
                        .build(),
                )
                .build()
        };
        for item in openapi.paths.paths.values_mut() {
            let shared = item.parameters.clone().unwrap_or_default();
            for op in [
                &mut item.get,
                &mut item.post,
                &mut item.put,
                &mut item.patch,
                &mut item.delete,
            ]
            .into_iter()
            .flatten()
            {
                let params: Vec<_> = shared
                    .iter()
                    .chain(op.parameters.iter().flatten())
                    .map(|p| p.parameter_in.clone())
                    .collect();
                let body = op.request_body.as_ref();
                let json_body = body.is_some_and(|b| b.content.contains_key("application/json"));
                let mut add = |status: u16, description: &str| {
                    op.responses
                        .responses
                        .entry(status.to_string())
                        .or_insert_with(|| error(description).into());
                };
                if body.is_some() {
                    add(
                        400,
                        "The body cannot be read: not JSON, or a broken multipart stream (`bad_json`, `bad_body`)",
                    );
                }
                if json_body {
                    add(415, "The body is not `application/json`");
                    add(
                        422,
                        "A field is missing or invalid (also a NUL character in any string), named in `field`",
                    );
                }
                if body.is_some() {
                    add(413, "The body is over its size limit");
                }
                if params.contains(&ParameterIn::Query) {
                    add(
                        422,
                        "A query parameter is invalid, unknown, not UTF-8 or holds a NUL, named in `field`",
                    );
                }
                if params.contains(&ParameterIn::Path) {
                    add(
                        400,
                        "The path does not decode to UTF-8 text without NUL (`field`: `path`)",
                    );
                }
                add(408, "The request took longer than 30 s");
                add(414, "The request URI is longer than 8 KiB");
                add(431, "The request headers are larger than 32 KiB");
            }
        }
    }
}

/// `GET /api/v1/openapi.json`
#[utoipa::path(get, path = "/api/v1/openapi.json", tag = "system",
    responses((status = 200, description = "This OpenAPI 3.1 document", body = Object)))]
pub(crate) async fn document() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_refers_only_to_declared_schemas() {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("serialises");
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"]
            .as_object()
            .expect("components.schemas");
        let mut rest = text.as_str();
        let mut seen = 0;
        while let Some(i) = rest.find("#/components/schemas/") {
            rest = &rest[i + "#/components/schemas/".len()..];
            let name: String = rest.chars().take_while(|c| *c != '"').collect();
            assert!(schemas.contains_key(&name), "dangling $ref to {name}");
            seen += 1;
        }
        assert!(seen > 10, "expected the paths to refer to schemas");
    }

    #[test]
    fn enums_limits_and_edge_statuses_are_documented_as_the_wire_speaks() {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("serialises");
        let schemas = &doc["components"]["schemas"];
        let action = schemas["Action"]["enum"].as_array().expect("Action enum");
        assert!(action.contains(&"accept".into()), "{action:?}");
        assert!(!action.contains(&"Accept".into()), "{action:?}");
        let limit = doc["paths"]["/api/v1/cases"]["get"]["parameters"]
            .as_array()
            .and_then(|ps| ps.iter().find(|p| p["name"] == "limit"))
            .expect("limit parameter");
        assert_eq!(limit["schema"]["minimum"], 1, "{limit}");
        assert_eq!(limit["schema"]["maximum"], 200, "{limit}");
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for (method, op) in item.as_object().expect("item") {
                let codes = &op["responses"];
                for s in ["408", "414", "431"] {
                    assert!(codes[s].is_object(), "{method} {path} lacks {s}");
                }
                if op["requestBody"]["content"]["application/json"].is_object() {
                    for s in ["400", "413", "415", "422"] {
                        assert!(codes[s].is_object(), "{method} {path} lacks {s}");
                    }
                }
            }
        }
    }

    #[test]
    fn the_staff_endpoints_are_documented_with_their_errors() {
        let doc = serde_json::to_value(ApiDoc::openapi()).expect("serialises");
        let act = &doc["paths"]["/api/v1/cases/{id}/actions"]["post"];
        for status in ["200", "403", "404", "409", "422"] {
            assert!(
                act["responses"][status].is_object(),
                "actions lacks {status}"
            );
        }
        assert_eq!(
            doc["components"]["securitySchemes"]["bearer"]["scheme"],
            "bearer"
        );
    }
}
