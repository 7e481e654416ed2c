//! The maps' use cases: territory layers by view (from the territory in the database, the
//! one `cityloop territory import` loaded), address search and reverse geocoding from the
//! same territory, and server-side clustering of open cases.
//!
//! Geometry work is done by the pure `cityloop-geo` indexes built when the territory loads
//! (`GeoLocator`); this module adds the road chiefs (staff only), the read scope of the
//! caller for clusters, and the limits (docs/API-DESIGN.md, "Maps").

use cityloop_domain::model::Actor;
use cityloop_domain::workflow::{CaseState, ReadScope};
use cityloop_geo::geocode::{Place, RoadPlace, MAX_QUERY_CHARS, MAX_RESULTS};
use cityloop_geo::mapview::{degrees_per_pixel, MapLayer, ViewBox};
use cityloop_geo::AreaRef;
use serde::Serialize;

use crate::{ServiceError, Services};

/// Settings key of the tile source.
pub const TILES_SETTING: &str = "map_tiles";

/// What every map needs before it draws: the tile source (none: the territory is the base
/// map), the territory's extent and whether it is schematic.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct MapConfig {
    pub tiles: Option<cityloop_geo::tiles::TileSource>,
    /// `[west, south, east, north]`, WGS84.
    pub extent: Option<[f64; 4]>,
    /// The territory data is schematic (示意数据).
    pub schematic: bool,
}

/// Size of a cluster cell, in screen pixels at the requested zoom.
pub const CLUSTER_CELL_PX: f64 = 64.0;

/// A layer answer: the GeoJSON text and its entity tag.
#[derive(Debug, Clone)]
pub struct LayerAnswer {
    /// A GeoJSON FeatureCollection.
    pub body: String,
    /// A strong entity tag of the body (quoted).
    pub etag: String,
}

/// Reverse geocoding: where a point is, in words.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ReverseAnswer {
    /// The WGS84 point (after coordinate conversion).
    pub lon: f64,
    pub lat: f64,
    pub district: Option<AreaRef>,
    /// When the point is outside the district: the neighbouring district it is in.
    pub neighbour_district: Option<AreaRef>,
    pub street: Option<AreaRef>,
    pub community: Option<AreaRef>,
    /// The nearest named road and its crossing roads on either side.
    pub road: Option<RoadPlace>,
    /// The place in Chinese, e.g. `二七区 · 福华街街道 · 大学路（陇海路—航海路段）附近`.
    pub label: String,
    pub outside_district: bool,
}

/// One cluster of open cases: a grid cell of [`CLUSTER_CELL_PX`] pixels.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ClusterDto {
    /// Cases in the cell.
    pub count: u64,
    /// Of them, past their deadline.
    pub overdue: u64,
    /// The cases' mean position (where to draw the cluster).
    pub lon: f64,
    pub lat: f64,
    /// The cell, `[west, south, east, north]` (click to zoom there).
    pub bbox: [f64; 4],
    /// The case, when the cell holds exactly one.
    pub case_id: Option<String>,
}

/// Clusters of one view.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ClustersAnswer {
    pub zoom: u8,
    pub bbox: [f64; 4],
    /// Cell size in degrees: longitude, latitude.
    pub cell: [f64; 2],
    /// Sum of the clusters' counts: every open case in the box the caller may read.
    pub total: u64,
    /// Largest count of one cluster (for the heat scale).
    pub max: u64,
    pub clusters: Vec<ClusterDto>,
}

fn fnv(bytes: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in bytes {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h
}

/// The Chinese label of a place: area names and the road stretch, joined by ` · `.
pub fn zh_label(
    district: Option<&AreaRef>,
    street: Option<&AreaRef>,
    community: Option<&AreaRef>,
    road: Option<&RoadPlace>,
) -> String {
    let mut parts: Vec<String> = Vec::new();
    if let Some(d) = district {
        parts.push(d.name.clone());
    }
    if let Some(s) = street {
        parts.push(s.name.clone());
    }
    match road {
        Some(r) => parts.push(match (&r.from, &r.to) {
            (Some(a), Some(b)) => format!("{}（{a}—{b}段）附近", r.road),
            (Some(a), None) | (None, Some(a)) => format!("{}（{a}路口）附近", r.road),
            (None, None) => format!("{}附近", r.road),
        }),
        None => {
            if let Some(c) = community {
                parts.push(format!("{}附近", c.name));
            }
        }
    }
    parts.join(" · ")
}

impl Services {
    /// The maps' settings (public: the key of a browser tile source is public by nature).
    pub fn map_config(&self) -> MapConfig {
        MapConfig {
            tiles: self.cached().tiles.clone(),
            extent: self.territory.as_ref().and_then(|t| t.extent()),
            schematic: self.territory.as_ref().is_none_or(|t| t.schematic()),
        }
    }

    /// The origins the pages may load map tiles from (for the Content-Security-Policy).
    pub fn tile_origins(&self) -> Vec<String> {
        self.cached()
            .tiles
            .as_ref()
            .map(|t| t.origins())
            .unwrap_or_default()
    }

    /// Sets or (with `None`) removes the tile source (an admin change, audited).
    pub async fn admin_put_tiles(
        &self,
        actor: &cityloop_domain::model::Person,
        tiles: Option<cityloop_geo::tiles::TileSource>,
    ) -> Result<MapConfig, ServiceError> {
        crate::admin::require_admin(actor)?;
        if let Some(t) = &tiles {
            t.validate()
                .map_err(|e| ServiceError::invalid(e.field, e.problem))?;
        }
        let to_json = |v: &Option<cityloop_geo::tiles::TileSource>| {
            serde_json::to_value(v).map_err(|e| ServiceError::Internal(e.into()))
        };
        let before = to_json(&self.cached().tiles)?;
        let after = to_json(&tiles)?;
        // Removing the source stores null: the territory is the base map again.
        let op = cityloop_store::AdminOp::PutSetting {
            key: TILES_SETTING.to_owned(),
            value: after.clone(),
        };
        self.admin_commit(
            actor,
            vec![op],
            "map_tiles",
            TILES_SETTING.to_owned(),
            "update",
            Some(before),
            Some(after),
        )
        .await?;
        Ok(self.map_config())
    }

    /// The territory's features in a view, as GeoJSON. Road features carry their current
    /// road chiefs (`chiefs`: level and name) when `with_chiefs` (staff callers). A
    /// district without a territory answers an empty collection.
    pub async fn map_layers(
        &self,
        view: &ViewBox,
        layers: &[MapLayer],
        with_chiefs: bool,
    ) -> Result<LayerAnswer, ServiceError> {
        use std::fmt::Write;
        let mut chiefs: std::collections::HashMap<String, Vec<serde_json::Value>> =
            std::collections::HashMap::new();
        let wants_roads =
            layers.contains(&MapLayer::Roads) && view.zoom >= MapLayer::Roads.min_zoom();
        if with_chiefs && wants_roads && self.territory.is_some() {
            let people = self.store.list_people().await?;
            for a in self.store.road_chiefs(None).await? {
                let Ok(level) = a.level.parse::<cityloop_domain::model::RoadChiefLevel>() else {
                    continue;
                };
                if let Some(p) = people.iter().find(|p| p.id == a.person_id) {
                    chiefs.entry(a.segment_id.clone()).or_default().push(
                        serde_json::json!({"level": level.as_str(), "level_zh": level.zh(), "name": p.display_name}),
                    );
                }
            }
        }
        let mut body = String::with_capacity(64 * 1024);
        let [w, s, e, n] = view.bbox;
        let _ = write!(
            body,
            "{{\"type\":\"FeatureCollection\",\"bbox\":[{w},{s},{e},{n}],\"zoom\":{}",
            view.zoom
        );
        let mut truncated = false;
        body.push_str(",\"features\":[");
        if let Some(t) = &self.territory {
            let v = t.map().query(view, layers);
            truncated = v.truncated;
            for (i, f) in v.features.iter().enumerate() {
                if i > 0 {
                    body.push(',');
                }
                match f.segment_id.and_then(|id| chiefs.get(id)) {
                    Some(list) if f.json.ends_with("}}") => {
                        body.push_str(&f.json[..f.json.len() - 2]);
                        body.push_str(",\"chiefs\":");
                        body.push_str(
                            &serde_json::to_string(list)
                                .map_err(|e| ServiceError::Internal(e.into()))?,
                        );
                        body.push_str("}}");
                    }
                    _ => body.push_str(f.json),
                }
            }
        }
        let _ = write!(body, "],\"truncated\":{truncated}}}");
        let etag = format!("\"m{:016x}\"", fnv(body.as_bytes()));
        Ok(LayerAnswer { body, etag })
    }

    /// Address search over the territory (roads, intersections, streets, communities).
    pub fn search_places(&self, q: &str, limit: Option<u32>) -> Result<Vec<Place>, ServiceError> {
        let n = q.chars().count();
        if n > MAX_QUERY_CHARS {
            return Err(ServiceError::invalid(
                "q",
                format!("{n} characters; at most {MAX_QUERY_CHARS}"),
            ));
        }
        if q.trim().is_empty() {
            return Err(ServiceError::invalid("q", "is required"));
        }
        let limit = match limit {
            None => 8,
            Some(l) if (1..=MAX_RESULTS as u32).contains(&l) => l as usize,
            Some(l) => {
                return Err(ServiceError::invalid(
                    "limit",
                    format!("{l} is out of range 1–{MAX_RESULTS}"),
                ))
            }
        };
        Ok(self
            .territory
            .as_ref()
            .map(|t| t.geocoder().search(q, limit))
            .unwrap_or_default())
    }

    /// Reverse geocoding of a WGS84 point.
    pub fn reverse_geocode(&self, lon: f64, lat: f64) -> ReverseAnswer {
        let (route, road) = match &self.territory {
            Some(t) => (Some(t.route(lon, lat)), t.geocoder().reverse(lon, lat)),
            None => (None, None),
        };
        let district = route.as_ref().and_then(|r| r.district.clone());
        let neighbour = route.as_ref().and_then(|r| r.neighbour_district.clone());
        let street = route.as_ref().and_then(|r| r.street.clone());
        let community = route.as_ref().and_then(|r| r.community.clone());
        let label = zh_label(
            district.as_ref().or(neighbour.as_ref()),
            street.as_ref(),
            community.as_ref(),
            road.as_ref(),
        );
        ReverseAnswer {
            lon,
            lat,
            district,
            neighbour_district: neighbour,
            street,
            community,
            road,
            label,
            outside_district: route.as_ref().is_none_or(|r| r.outside_district),
        }
    }

    /// Open cases in a view that `actor` may read, aggregated into square cells of
    /// [`CLUSTER_CELL_PX`] pixels on a grid anchored at (−180°, −90°), so a cell keeps its
    /// place while the map pans. The counts sum to the open cases in the box.
    pub async fn case_clusters(
        &self,
        actor: &Actor,
        view: &ViewBox,
    ) -> Result<ClustersAnswer, ServiceError> {
        let mut filter = cityloop_store::ClusterFilter {
            states: CaseState::ALL
                .iter()
                .filter(|s| !s.is_terminal())
                .map(|s| s.as_str().to_owned())
                .collect(),
            bbox: view.bbox,
            ..Default::default()
        };
        match self.read_scope(actor)? {
            ReadScope::All => {}
            ReadScope::Nothing => {
                return Ok(ClustersAnswer {
                    zoom: view.zoom,
                    bbox: view.bbox,
                    cell: [0.0, 0.0],
                    total: 0,
                    max: 0,
                    clusters: Vec::new(),
                })
            }
            ReadScope::Unit(u) => filter.unit_id = Some(u),
            ReadScope::Street(s) => filter.street_code = Some(s),
        }
        let cell_lon = CLUSTER_CELL_PX * degrees_per_pixel(view.zoom);
        let mid = (view.bbox[1] + view.bbox[3]) / 2.0;
        let cell_lat = cell_lon * mid.to_radians().cos().max(0.05);
        filter.cell = [cell_lon, cell_lat];
        let cells = self.store.case_clusters(&filter, self.now()).await?;
        let mut total = 0;
        let mut max = 0;
        let clusters = cells
            .into_iter()
            .map(|c| {
                total += c.count;
                max = max.max(c.count);
                let x0 = c.gx as f64 * cell_lon - 180.0;
                let y0 = c.gy as f64 * cell_lat - 90.0;
                ClusterDto {
                    count: c.count,
                    overdue: c.overdue,
                    lon: c.lon,
                    lat: c.lat,
                    bbox: [x0, y0, x0 + cell_lon, y0 + cell_lat],
                    case_id: (c.count == 1).then_some(c.min_id),
                }
            })
            .collect();
        Ok(ClustersAnswer {
            zoom: view.zoom,
            bbox: view.bbox,
            cell: [cell_lon, cell_lat],
            total,
            max,
            clusters,
        })
    }
}
