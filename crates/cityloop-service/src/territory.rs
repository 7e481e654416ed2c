//! The district's territory in the service layer: layers are stored as GeoJSON documents
//! in the database (`territory import` writes them after validation), loaded into the
//! pure routing engine at start-up, and consulted for every new case.

use std::collections::HashMap;
use std::sync::Arc;

use cityloop_domain::case::Routing;
use cityloop_geo::layers::{export_territory, territory_from_geojson, LayerTexts};
use cityloop_geo::router::{Route, Router};
use cityloop_geo::territory::{Territory, ValidationError};
use cityloop_store::Store;

use crate::ServiceError;

/// Layer names in the store.
pub const LAYERS: [&str; 6] = [
    "district",
    "neighbours",
    "streets",
    "communities",
    "grids",
    "roads",
];

/// The routing engine behind the service's [`Locate`] hook.
pub struct GeoLocator {
    router: Router,
    segment_ids: Vec<String>,
    /// Each segment's name, street and line (我的路段 draws them).
    segments: HashMap<String, SegmentInfo>,
    street_names: HashMap<String, String>,
    /// (kind, id, name) of every street, community, grid and segment, for rankings.
    objects: Vec<(&'static str, String, String)>,
    schematic: bool,
    /// The drawable layers by view (the layer API).
    map: cityloop_geo::mapview::MapLayers,
    /// Address search and reverse geocoding.
    geocoder: cityloop_geo::geocode::Geocoder,
}

fn territory_objects(t: &Territory) -> Vec<(&'static str, String, String)> {
    let mut v = Vec::new();
    v.extend(
        t.streets()
            .iter()
            .map(|s| ("street", s.code.clone(), s.name.clone())),
    );
    v.extend(
        t.communities()
            .iter()
            .map(|c| ("community", c.code.clone(), c.name.clone())),
    );
    v.extend(
        t.grids()
            .iter()
            .map(|g| ("grid", g.code.clone(), g.code.clone())),
    );
    v.extend(t.segments().iter().map(|s| {
        (
            "segment",
            s.id.clone(),
            format!("{} ({})", s.road_name, s.id),
        )
    }));
    v
}

impl GeoLocator {
    pub fn new(t: &Territory) -> Self {
        let schematic = t.streets().iter().any(|s| s.schematic)
            || t.segments().iter().any(|s| s.schematic)
            || t.grids().iter().any(|g| g.schematic);
        Self {
            segment_ids: t.segments().iter().map(|s| s.id.clone()).collect(),
            segments: t
                .segments()
                .iter()
                .map(|s| {
                    (
                        s.id.clone(),
                        SegmentInfo {
                            road_name: s.road_name.clone(),
                            street_code: s.street_code.clone(),
                            line: s.geometry.0.iter().map(|c| [c.x, c.y]).collect(),
                        },
                    )
                })
                .collect(),
            router: Router::new(t),
            street_names: t
                .streets()
                .iter()
                .map(|s| (s.code.clone(), s.name.clone()))
                .collect(),
            objects: territory_objects(t),
            schematic,
            map: cityloop_geo::mapview::MapLayers::new(t),
            geocoder: cityloop_geo::geocode::Geocoder::new(t),
        }
    }

    /// The drawable layers.
    pub fn map(&self) -> &cityloop_geo::mapview::MapLayers {
        &self.map
    }

    /// The address search and reverse-geocoding index.
    pub fn geocoder(&self) -> &cityloop_geo::geocode::Geocoder {
        &self.geocoder
    }

    /// The territory's extent: the district outline's, else every layer's.
    pub fn extent(&self) -> Option<[f64; 4]> {
        self.map.extent()
    }

    /// Every (id, name) of one kind: `street`, `community`, `grid` or `segment`.
    pub fn objects(&self, kind: &str) -> impl Iterator<Item = (&str, &str)> + '_ {
        let kind = kind.to_owned();
        self.objects
            .iter()
            .filter(move |(k, _, _)| *k == kind)
            .map(|(_, id, name)| (id.as_str(), name.as_str()))
    }

    /// The full routing answer (for the route API).
    pub fn route(&self, lon: f64, lat: f64) -> Route {
        self.router.route(lon, lat)
    }

    /// The routing engine (trail matching uses its segment index).
    pub fn router(&self) -> &Router {
        &self.router
    }

    /// The ids of every road segment.
    pub fn segment_ids(&self) -> &[String] {
        &self.segment_ids
    }

    pub fn schematic(&self) -> bool {
        self.schematic
    }

    /// One segment's name, street and line.
    pub fn segment(&self, id: &str) -> Option<&SegmentInfo> {
        self.segments.get(id)
    }

    /// Every segment id with its name, street and line.
    pub fn segment_infos(&self) -> impl Iterator<Item = (&str, &SegmentInfo)> + '_ {
        self.segments.iter().map(|(k, v)| (k.as_str(), v))
    }

    /// A street office's name by its code.
    pub fn street_name(&self, code: &str) -> Option<&str> {
        self.street_names.get(code).map(String::as_str)
    }
}

/// What the road-chief screens need of a segment.
#[derive(Debug, Clone)]
pub struct SegmentInfo {
    pub road_name: String,
    pub street_code: Option<String>,
    /// The line, WGS84 `[lon, lat]`.
    pub line: Vec<[f64; 2]>,
}

impl GeoLocator {
    /// The territorial part of a case's routing.
    pub fn locate(&self, lon: f64, lat: f64) -> Routing {
        let r = self.router.route(lon, lat);
        let street_code = r.street.as_ref().map(|s| s.code.clone()).or_else(|| {
            r.segment
                .as_ref()
                .and_then(|s| s.street_code.clone())
                .filter(|_| !r.outside_district)
        });
        Routing {
            street_name: street_code
                .as_ref()
                .and_then(|c| self.street_names.get(c).cloned()),
            street_code,
            community_code: r.community.as_ref().map(|c| c.code.clone()),
            grid_code: r.grid_code.clone(),
            segment_id: r.segment.as_ref().map(|s| s.id.clone()),
            road_name: r.segment.as_ref().map(|s| s.road_name.clone()),
            segment_distance_m: r
                .segment
                .as_ref()
                .map(|s| (s.distance_m * 10.0).round() / 10.0),
            unit_id: None,
            outside_district: r.outside_district,
            schematic: r.schematic || self.schematic,
        }
    }
}

/// Parses and validates layer texts; every problem is reported with its feature id.
pub fn parse_layers(texts: &HashMap<String, String>) -> Result<Territory, Vec<ValidationError>> {
    let get = |k: &str| texts.get(k).map(String::as_str);
    territory_from_geojson(&LayerTexts {
        district: get("district"),
        neighbours: get("neighbours"),
        streets: get("streets"),
        communities: get("communities"),
        grids: get("grids"),
        roads: get("roads"),
    })
}

/// Loads the stored territory, if the district has one.
pub async fn load(store: &dyn Store) -> Result<Option<Arc<GeoLocator>>, ServiceError> {
    let mut texts = HashMap::new();
    for name in LAYERS {
        if let Some(t) = store.get_layer(name).await? {
            texts.insert(name.to_owned(), t);
        }
    }
    if texts.is_empty() {
        return Ok(None);
    }
    let t = parse_layers(&texts).map_err(|errs| {
        ServiceError::NotConfigured(format!(
            "the stored territory does not validate: {}",
            errs.iter()
                .take(3)
                .map(|e| e.to_string())
                .collect::<Vec<_>>()
                .join("; ")
        ))
    })?;
    Ok(Some(Arc::new(GeoLocator::new(&t))))
}

/// Validates layers and, only if all of them pass, stores them (replacing the old ones).
/// Nothing half-loads.
pub async fn import(
    store: &dyn Store,
    texts: &HashMap<String, String>,
) -> Result<Territory, ImportError> {
    for k in texts.keys() {
        if !LAYERS.contains(&k.as_str()) {
            return Err(ImportError::UnknownLayer(k.clone()));
        }
    }
    let t = parse_layers(texts).map_err(ImportError::Invalid)?;
    for (name, text) in texts {
        store
            .put_layer(name, text)
            .await
            .map_err(|e| ImportError::Store(e.into()))?;
    }
    Ok(t)
}

/// The stored layers as GeoJSON texts, re-serialised from the validated model.
pub async fn export(store: &dyn Store) -> Result<HashMap<String, String>, ServiceError> {
    let mut texts = HashMap::new();
    for name in LAYERS {
        if let Some(t) = store.get_layer(name).await? {
            texts.insert(name.to_owned(), t);
        }
    }
    let t = parse_layers(&texts)
        .map_err(|e| ServiceError::NotConfigured(format!("{} invalid features", e.len())))?;
    let ex = export_territory(&t);
    let mut out = HashMap::new();
    if let Some(d) = ex.district {
        out.insert("district".to_owned(), d);
    }
    out.insert("neighbours".to_owned(), ex.neighbours);
    out.insert("streets".to_owned(), ex.streets);
    out.insert("communities".to_owned(), ex.communities);
    out.insert("grids".to_owned(), ex.grids);
    out.insert("roads".to_owned(), ex.roads);
    Ok(out)
}

/// Why an import was refused.
#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error(
        "unknown layer {0:?} (layers: district, neighbours, streets, communities, grids, roads)"
    )]
    UnknownLayer(String),
    #[error("{} problem(s) in the layers", .0.len())]
    Invalid(Vec<ValidationError>),
    #[error(transparent)]
    Store(ServiceError),
}

/// The demo district's layers (embedded; see data/demo/erqi/NOTICE.md).
pub fn demo_layers() -> Result<HashMap<String, String>, ServiceError> {
    use cityloop_geo::demo::*;
    let grids = cityloop_geo::layers::gunzip_to_string(ERQI_GRIDS_GZ, "demo grids")
        .map_err(|e| ServiceError::Internal(anyhow::anyhow!("{e}")))?;
    Ok([
        ("district", ERQI_DISTRICT.to_owned()),
        ("neighbours", ZHENGZHOU_DISTRICTS.to_owned()),
        ("streets", ERQI_STREETS.to_owned()),
        ("communities", ERQI_COMMUNITIES.to_owned()),
        ("grids", grids),
        ("roads", ERQI_ROADS.to_owned()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect())
}

impl crate::Services {
    /// The current road chiefs of a segment, by level (总路长, 一级, 二级).
    pub async fn road_chiefs_of(&self, segment: &str) -> Result<Vec<RoadChiefRef>, ServiceError> {
        use cityloop_domain::model::RoadChiefLevel;
        let people = self.store.list_people().await?;
        let mut out: Vec<RoadChiefRef> = self
            .store
            .road_chiefs(Some(segment))
            .await?
            .into_iter()
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
            .collect();
        out.sort_by_key(|r| match r.level.as_str() {
            "district" => 0,
            "first" => 1,
            _ => 2,
        });
        Ok(out)
    }

    /// Road segments of the loaded territory that lack a current road chief at some level
    /// (路长制: every segment has exactly one accountable person per level).
    pub async fn road_chief_gaps(&self) -> Result<Vec<(String, Vec<&'static str>)>, ServiceError> {
        use cityloop_domain::model::RoadChiefLevel;
        let Some(t) = &self.territory else {
            return Ok(Vec::new());
        };
        let current = self.store.road_chiefs(None).await?;
        let mut gaps = Vec::new();
        for seg in t.segment_ids() {
            let missing: Vec<&'static str> = RoadChiefLevel::ALL
                .iter()
                .filter(|l| {
                    !current
                        .iter()
                        .any(|a| a.segment_id == *seg && a.level == l.as_str())
                })
                .map(|l| l.as_str())
                .collect();
            if !missing.is_empty() {
                gaps.push((seg.clone(), missing));
            }
        }
        Ok(gaps)
    }
}

/// Radius within which an open case of the same category is a possible duplicate.
pub const DUPLICATE_RADIUS_M: f64 = 30.0;

/// The answer of the route API.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct RouteAnswer {
    /// The WGS84 point that was routed (after coordinate conversion).
    pub lon: f64,
    pub lat: f64,
    pub district: Option<cityloop_geo::AreaRef>,
    /// When the point is outside the district: the Zhengzhou district it is in, if any.
    pub neighbour_district: Option<cityloop_geo::AreaRef>,
    pub street: Option<cityloop_geo::AreaRef>,
    pub community: Option<cityloop_geo::AreaRef>,
    pub grid_code: Option<String>,
    pub segment: Option<cityloop_geo::SegmentHit>,
    pub road_chiefs: Vec<RoadChiefRef>,
    pub unit: Option<UnitAnswer>,
    pub possible_duplicates: Vec<DuplicateRef>,
    pub outside_district: bool,
    /// The territory data is schematic (示意数据).
    pub schematic: bool,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct RoadChiefRef {
    pub level: String,
    pub level_zh: &'static str,
    pub id: cityloop_domain::ids::PersonId,
    pub name: String,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct UnitAnswer {
    pub id: cityloop_domain::ids::UnitId,
    pub name: String,
    /// True when the point is outside the district and the district's default intake
    /// unit takes the case.
    pub default_intake: bool,
}

#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct DuplicateRef {
    pub id: cityloop_domain::ids::CaseId,
    pub number: String,
    pub state: String,
    pub distance_m: f64,
}

impl crate::Services {
    /// Routes a WGS84 point for a category: territory, segment, road chiefs, handling
    /// unit and possible duplicates.
    pub async fn route_point(
        &self,
        lon: f64,
        lat: f64,
        category: &cityloop_domain::model::CategoryCode,
    ) -> Result<RouteAnswer, ServiceError> {
        let cache = self.cached();
        let cat = cache.categories.get(category).ok_or_else(|| {
            ServiceError::invalid("service_code", format!("unknown category {category}"))
        })?;
        let routing = self
            .route(category, &cat.default_unit_type, lon, lat)
            .await?;
        let full = self.territory.as_ref().map(|t| t.route(lon, lat));
        let road_chiefs = match &routing.segment_id {
            Some(seg) => self.road_chiefs_of(seg).await?,
            None => Vec::new(),
        };
        let unit = routing.unit_id.and_then(|id| {
            cache.units.iter().find(|u| u.id == id).map(|u| UnitAnswer {
                id,
                name: u.name.clone(),
                default_intake: u.code == self.district.default_unit_code,
            })
        });
        let possible_duplicates = self.duplicates_near(lon, lat, category).await?;
        Ok(RouteAnswer {
            lon,
            lat,
            district: full.as_ref().and_then(|r| r.district.clone()),
            neighbour_district: full.as_ref().and_then(|r| r.neighbour_district.clone()),
            street: full.as_ref().and_then(|r| r.street.clone()),
            community: full.as_ref().and_then(|r| r.community.clone()),
            grid_code: routing.grid_code.clone(),
            segment: full.as_ref().and_then(|r| r.segment.clone()),
            road_chiefs,
            unit,
            possible_duplicates,
            outside_district: routing.outside_district,
            schematic: routing.schematic,
        })
    }

    /// Open cases of the same category within [`DUPLICATE_RADIUS_M`].
    pub async fn duplicates_near(
        &self,
        lon: f64,
        lat: f64,
        category: &cityloop_domain::model::CategoryCode,
    ) -> Result<Vec<DuplicateRef>, ServiceError> {
        let dlat = DUPLICATE_RADIUS_M / 111_320.0;
        let dlon = DUPLICATE_RADIUS_M / (111_320.0 * lat.to_radians().cos().max(0.01));
        let filter = cityloop_store::CaseFilter {
            states: cityloop_domain::workflow::CaseState::ALL
                .iter()
                .filter(|s| !s.is_terminal())
                .map(|s| s.as_str().to_owned())
                .collect(),
            category_code: Some(category.code.clone()),
            bbox: Some([lon - dlon, lat - dlat, lon + dlon, lat + dlat]),
            ..Default::default()
        };
        let near = self
            .store
            .list_cases(
                &filter,
                &cityloop_store::Page {
                    after: None,
                    limit: 100,
                },
            )
            .await?;
        let mut out: Vec<DuplicateRef> = near
            .into_iter()
            .filter(|c| &c.category == category)
            .map(|c| DuplicateRef {
                distance_m: cityloop_geo::metric::distance_m(
                    (lon, lat),
                    (c.location.lon, c.location.lat),
                ),
                id: c.id,
                number: c.number.to_string(),
                state: c.state.as_str().to_owned(),
            })
            .filter(|d| d.distance_m <= DUPLICATE_RADIUS_M)
            .collect();
        out.sort_by(|a, b| a.distance_m.total_cmp(&b.distance_m));
        Ok(out)
    }
}
