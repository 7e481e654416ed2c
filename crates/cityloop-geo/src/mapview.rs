//! Map layers for drawing: the territory's features as GeoJSON by bounding box and zoom.
//!
//! A [`MapLayers`] is built once from a validated [`Territory`] and is immutable afterwards.
//! Every feature is serialised at build time, once per simplification level
//! ([`LEVELS`]: Ramer–Douglas–Peucker from `geo`, with a tolerance of half a screen pixel
//! at that zoom; above the last level the full geometry), so a query is an R-tree lookup
//! and a concatenation of ready fragments.
//!
//! # Rules of a view
//! * `zoom` is a web-map zoom level, `MIN_ZOOM..=MAX_ZOOM`.
//! * `bbox` is `[west, south, east, north]` in WGS84 degrees: longitudes in −180..180,
//!   latitudes in −90..90, west < east and south < north, and neither side longer than
//!   [`MAX_SPAN_PX`] screen pixels at the zoom (so a request never covers more than a few
//!   screens' worth of features).
//! * Layers appear from a zoom where they are legible ([`MapLayer::min_zoom`]: grids only
//!   from [`GRIDS_FROM`]); below [`FULL_DETAIL_FROM`], a feature smaller than one pixel is
//!   left out, and below [`ROADS_DETAIL_FROM`] a road segment shorter than
//!   [`SMALL_ROAD_PX`] pixels.
//! * At most [`MAX_FEATURES`] features are returned; beyond them the view is `truncated`.
//!
//! This module does no I/O and knows nothing about HTTP or cases.

use geo::{BoundingRect, Coord, LineString, MultiPolygon, Polygon, Simplify};
use rstar::{RTree, RTreeObject, AABB};
use serde::Serialize;

use crate::territory::Territory;

/// Lowest zoom level accepted.
pub const MIN_ZOOM: u8 = 0;
/// Highest zoom level accepted.
pub const MAX_ZOOM: u8 = 22;
/// Largest side of a view's bounding box, in 256-pixel-tile screen pixels at its zoom.
pub const MAX_SPAN_PX: f64 = 4096.0;
/// Communities are served from this zoom.
pub const COMMUNITIES_FROM: u8 = 12;
/// Road segments are served from this zoom (below [`ROADS_DETAIL_FROM`] only those at least
/// [`SMALL_ROAD_PX`] pixels long).
pub const ROADS_FROM: u8 = 11;
/// From this zoom every road segment of at least a pixel is served.
pub const ROADS_DETAIL_FROM: u8 = 14;
/// Below [`ROADS_DETAIL_FROM`], shorter segments are left out.
pub const SMALL_ROAD_PX: f64 = 3.0;
/// Unit grids are served from this zoom (a 100 m grid is about 20 px wide there).
pub const GRIDS_FROM: u8 = 15;
/// From this zoom every feature in the box is served, however small.
pub const FULL_DETAIL_FROM: u8 = 16;
/// Most features in one answer.
pub const MAX_FEATURES: usize = 20_000;
/// Zoom levels with their own simplified geometry. A request uses the first level at or
/// above its zoom; above the last one, the full geometry.
pub const LEVELS: [u8; 4] = [10, 12, 14, 16];

/// Degrees of longitude per screen pixel at `zoom` (256-pixel tiles).
pub fn degrees_per_pixel(zoom: u8) -> f64 {
    360.0 / (256.0 * f64::from(1u32 << zoom.min(30)))
}

/// The drawable layers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MapLayer {
    /// The district outline.
    District,
    /// Street offices.
    Streets,
    /// Communities.
    Communities,
    /// Unit grids.
    Grids,
    /// Road segments.
    Roads,
}

impl MapLayer {
    /// Every layer, in drawing order (bottom first).
    pub const ALL: [MapLayer; 5] = [
        MapLayer::Streets,
        MapLayer::Communities,
        MapLayer::Grids,
        MapLayer::District,
        MapLayer::Roads,
    ];

    /// The layer's name in requests and answers.
    pub fn as_str(self) -> &'static str {
        match self {
            MapLayer::District => "district",
            MapLayer::Streets => "streets",
            MapLayer::Communities => "communities",
            MapLayer::Grids => "grids",
            MapLayer::Roads => "roads",
        }
    }

    /// Parses a layer name.
    pub fn parse(s: &str) -> Option<MapLayer> {
        MapLayer::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// The lowest zoom at which the layer is served.
    pub fn min_zoom(self) -> u8 {
        match self {
            MapLayer::District | MapLayer::Streets => MIN_ZOOM,
            MapLayer::Communities => COMMUNITIES_FROM,
            MapLayer::Roads => ROADS_FROM,
            MapLayer::Grids => GRIDS_FROM,
        }
    }
}

/// Why a view was refused; [`ViewError::field`] names the request field.
#[derive(Clone, Debug, PartialEq, thiserror::Error)]
pub enum ViewError {
    /// The bounding box is malformed, out of range, inverted or too large.
    #[error("{0}")]
    Bbox(String),
    /// The zoom is out of range.
    #[error("{0}")]
    Zoom(String),
}

impl ViewError {
    /// The request field at fault.
    pub fn field(&self) -> &'static str {
        match self {
            ViewError::Bbox(_) => "bbox",
            ViewError::Zoom(_) => "zoom",
        }
    }
}

/// A checked view: bounding box and zoom.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ViewBox {
    /// `[west, south, east, north]`, WGS84.
    pub bbox: [f64; 4],
    /// Zoom level.
    pub zoom: u8,
}

impl ViewBox {
    /// Checks a view against the rules of the module documentation.
    pub fn new(bbox: [f64; 4], zoom: i64) -> Result<ViewBox, ViewError> {
        if !(i64::from(MIN_ZOOM)..=i64::from(MAX_ZOOM)).contains(&zoom) {
            return Err(ViewError::Zoom(format!(
                "zoom {zoom} is out of range {MIN_ZOOM}–{MAX_ZOOM}"
            )));
        }
        let zoom = zoom as u8;
        let [w, s, e, n] = bbox;
        if bbox.iter().any(|v| !v.is_finite()) {
            return Err(ViewError::Bbox("coordinates must be finite numbers".into()));
        }
        if !(-180.0..=180.0).contains(&w) || !(-180.0..=180.0).contains(&e) {
            return Err(ViewError::Bbox(
                "longitudes must lie between -180 and 180".into(),
            ));
        }
        if !(-90.0..=90.0).contains(&s) || !(-90.0..=90.0).contains(&n) {
            return Err(ViewError::Bbox(
                "latitudes must lie between -90 and 90".into(),
            ));
        }
        if w >= e || s >= n {
            return Err(ViewError::Bbox(
                "the box is inverted or empty: expected west,south,east,north with west < east and south < north".into(),
            ));
        }
        let max = MAX_SPAN_PX * degrees_per_pixel(zoom);
        if e - w > max || n - s > max {
            return Err(ViewError::Bbox(format!(
                "the box is too large for zoom {zoom}: each side may span at most {max:.6}°"
            )));
        }
        Ok(ViewBox { bbox, zoom })
    }

    /// Parses `west,south,east,north`.
    pub fn parse_bbox(s: &str) -> Result<[f64; 4], ViewError> {
        let parts: Vec<&str> = s.split(',').map(str::trim).collect();
        let bad = || {
            ViewError::Bbox(format!(
                "{s:?} is not west,south,east,north (four numbers separated by commas)"
            ))
        };
        let [w, so, e, n]: [&str; 4] = parts.try_into().map_err(|_| bad())?;
        let num = |v: &str| v.parse::<f64>().map_err(|_| bad());
        Ok([num(w)?, num(so)?, num(e)?, num(n)?])
    }
}

/// One feature in a view.
#[derive(Clone, Copy, Debug)]
pub struct ViewFeature<'a> {
    /// Its layer.
    pub layer: MapLayer,
    /// The GeoJSON Feature, serialised.
    pub json: &'a str,
    /// The road segment's id (roads only).
    pub segment_id: Option<&'a str>,
}

/// The features of a view, in drawing order.
#[derive(Clone, Debug, Default)]
pub struct View<'a> {
    /// Features, layer by layer in [`MapLayer::ALL`] order.
    pub features: Vec<ViewFeature<'a>>,
    /// True when [`MAX_FEATURES`] cut the answer short.
    pub truncated: bool,
}

struct Item {
    env: AABB<[f64; 2]>,
    idx: usize,
}

impl RTreeObject for Item {
    type Envelope = AABB<[f64; 2]>;
    fn envelope(&self) -> Self::Envelope {
        self.env
    }
}

struct Feature {
    /// One fragment per entry of [`LEVELS`], then the full geometry.
    json: Vec<String>,
    /// Envelope diagonal, degrees (to leave out sub-pixel features).
    size: f64,
    segment_id: Option<String>,
}

struct LayerIndex {
    layer: MapLayer,
    tree: RTree<Item>,
    features: Vec<Feature>,
}

impl LayerIndex {
    fn new(layer: MapLayer, items: Vec<(Option<geo::Rect>, Feature)>) -> LayerIndex {
        let mut features = Vec::with_capacity(items.len());
        let mut entries = Vec::with_capacity(items.len());
        for (rect, f) in items {
            let Some(r) = rect else { continue };
            entries.push(Item {
                env: AABB::from_corners([r.min().x, r.min().y], [r.max().x, r.max().y]),
                idx: features.len(),
            });
            features.push(f);
        }
        LayerIndex {
            layer,
            tree: RTree::bulk_load(entries),
            features,
        }
    }
}

/// The territory's drawable layers with their spatial indexes.
pub struct MapLayers {
    layers: Vec<LayerIndex>,
    fingerprint: u64,
    extent: Option<[f64; 4]>,
}

impl std::fmt::Debug for MapLayers {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MapLayers")
            .field("fingerprint", &self.fingerprint)
            .finish_non_exhaustive()
    }
}

fn level_index(zoom: u8) -> usize {
    LEVELS
        .iter()
        .position(|l| *l >= zoom)
        .unwrap_or(LEVELS.len())
}

fn tolerance(level: usize) -> Option<f64> {
    LEVELS.get(level).map(|z| degrees_per_pixel(*z) * 0.5)
}

fn esc(s: &str) -> String {
    serde_json::to_string(s).unwrap_or_else(|_| "\"\"".to_owned())
}

fn push_coord(out: &mut String, c: Coord) {
    use std::fmt::Write;
    let _ = write!(out, "[{:.6},{:.6}]", c.x, c.y);
}

fn push_line(out: &mut String, l: &LineString) {
    out.push('[');
    for (i, c) in l.0.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        push_coord(out, *c);
    }
    out.push(']');
}

fn polygon_json(mp: &MultiPolygon) -> String {
    let mut out = String::from("{\"type\":\"MultiPolygon\",\"coordinates\":[");
    for (i, p) in mp.0.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('[');
        push_line(&mut out, p.exterior());
        for r in p.interiors() {
            out.push(',');
            push_line(&mut out, r);
        }
        out.push(']');
    }
    out.push_str("]}");
    out
}

fn line_json(l: &LineString) -> String {
    let mut out = String::from("{\"type\":\"LineString\",\"coordinates\":");
    push_line(&mut out, l);
    out.push('}');
    out
}

/// RDP simplification that never degenerates a ring: a polygon whose exterior would fall
/// below four positions keeps its original geometry; degenerate holes are dropped.
fn simplify_area(mp: &MultiPolygon, eps: f64) -> MultiPolygon {
    MultiPolygon(
        mp.0.iter()
            .map(|p| {
                let s = p.simplify(&eps);
                if s.exterior().0.len() < 4 {
                    return p.clone();
                }
                let holes = s
                    .interiors()
                    .iter()
                    .filter(|r| r.0.len() >= 4)
                    .cloned()
                    .collect();
                Polygon::new(s.exterior().clone(), holes)
            })
            .collect(),
    )
}

fn area_feature(layer: MapLayer, props: &str, mp: &MultiPolygon) -> (Option<geo::Rect>, Feature) {
    let rect = mp.bounding_rect();
    let json = (0..=LEVELS.len())
        .map(|lv| {
            let geom = match tolerance(lv) {
                Some(eps) => polygon_json(&simplify_area(mp, eps)),
                None => polygon_json(mp),
            };
            format!(
                "{{\"type\":\"Feature\",\"geometry\":{geom},\"properties\":{{\"layer\":\"{}\",{props}}}}}",
                layer.as_str()
            )
        })
        .collect();
    (
        rect,
        Feature {
            json,
            size: rect.map_or(0.0, |r| r.width().hypot(r.height())),
            segment_id: None,
        },
    )
}

fn fnv(h: &mut u64, bytes: &[u8]) {
    for b in bytes {
        *h ^= u64::from(*b);
        *h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
}

impl MapLayers {
    /// Serialises and indexes every feature of `t`.
    pub fn new(t: &Territory) -> MapLayers {
        let district = t
            .district()
            .map(|d| {
                vec![area_feature(
                    MapLayer::District,
                    &format!(
                        "\"code\":{},\"name\":{},\"schematic\":{}",
                        esc(&d.code),
                        esc(&d.name),
                        d.schematic
                    ),
                    &d.geometry,
                )]
            })
            .unwrap_or_default();
        let streets = t
            .streets()
            .iter()
            .map(|s| {
                area_feature(
                    MapLayer::Streets,
                    &format!(
                        "\"code\":{},\"name\":{},\"schematic\":{}",
                        esc(&s.code),
                        esc(&s.name),
                        s.schematic
                    ),
                    &s.geometry,
                )
            })
            .collect();
        let communities = t
            .communities()
            .iter()
            .map(|c| {
                area_feature(
                    MapLayer::Communities,
                    &format!(
                        "\"code\":{},\"name\":{},\"street_code\":{},\"schematic\":{}",
                        esc(&c.code),
                        esc(&c.name),
                        esc(c.code.get(..9).unwrap_or("")),
                        c.schematic
                    ),
                    &c.geometry,
                )
            })
            .collect();
        let grids = t
            .grids()
            .iter()
            .map(|g| {
                area_feature(
                    MapLayer::Grids,
                    &format!(
                        "\"code\":{},\"community_code\":{},\"schematic\":{}",
                        esc(&g.code),
                        esc(g.code.get(..12).unwrap_or("")),
                        g.schematic
                    ),
                    &g.geometry,
                )
            })
            .collect();
        let roads = t
            .segments()
            .iter()
            .map(|s| {
                let rect = s.geometry.bounding_rect();
                let props = format!(
                    "\"layer\":\"roads\",\"id\":{},\"name\":{},\"street_code\":{},\"schematic\":{}",
                    esc(&s.id),
                    esc(&s.road_name),
                    s.street_code.as_deref().map_or("null".to_owned(), esc),
                    s.schematic
                );
                let json = (0..=LEVELS.len())
                    .map(|lv| {
                        let geom = match tolerance(lv) {
                            Some(eps) => line_json(&s.geometry.simplify(&eps)),
                            None => line_json(&s.geometry),
                        };
                        format!(
                            "{{\"type\":\"Feature\",\"geometry\":{geom},\"properties\":{{{props}}}}}"
                        )
                    })
                    .collect();
                (
                    rect,
                    Feature {
                        json,
                        size: rect.map_or(0.0, |r| r.width().hypot(r.height())),
                        segment_id: Some(s.id.clone()),
                    },
                )
            })
            .collect();
        let layers: Vec<LayerIndex> = vec![
            LayerIndex::new(MapLayer::Streets, streets),
            LayerIndex::new(MapLayer::Communities, communities),
            LayerIndex::new(MapLayer::Grids, grids),
            LayerIndex::new(MapLayer::District, district),
            LayerIndex::new(MapLayer::Roads, roads),
        ];
        let mut fingerprint: u64 = 0xcbf2_9ce4_8422_2325;
        for l in &layers {
            for f in &l.features {
                if let Some(full) = f.json.last() {
                    fnv(&mut fingerprint, full.as_bytes());
                }
            }
        }
        let extent = t
            .district()
            .and_then(|d| d.geometry.bounding_rect())
            .map(|r| [r.min().x, r.min().y, r.max().x, r.max().y])
            .or_else(|| {
                layers
                    .iter()
                    .flat_map(|l| l.tree.iter())
                    .fold(None, |acc, it| {
                        let (lo, hi) = (it.env.lower(), it.env.upper());
                        Some(match acc {
                            None => [lo[0], lo[1], hi[0], hi[1]],
                            Some([a, b, c, d]) => {
                                [a.min(lo[0]), b.min(lo[1]), c.max(hi[0]), d.max(hi[1])]
                            }
                        })
                    })
            });
        MapLayers {
            layers,
            fingerprint,
            extent,
        }
    }

    /// A hash of every feature's full geometry and properties: it changes when the
    /// territory does (the basis of the layer API's entity tags).
    pub fn fingerprint(&self) -> u64 {
        self.fingerprint
    }

    /// `[west, south, east, north]` of the district outline, else of every feature.
    pub fn extent(&self) -> Option<[f64; 4]> {
        self.extent
    }

    /// The features of `layers` in the view, in drawing order (see the module rules).
    pub fn query(&self, view: &ViewBox, layers: &[MapLayer]) -> View<'_> {
        let [w, s, e, n] = view.bbox;
        let env = AABB::from_corners([w, s], [e, n]);
        let level = level_index(view.zoom);
        let px = degrees_per_pixel(view.zoom);
        let min_size = if view.zoom >= FULL_DETAIL_FROM {
            0.0
        } else {
            px
        };
        let mut out = View::default();
        for li in &self.layers {
            if !layers.contains(&li.layer) || view.zoom < li.layer.min_zoom() {
                continue;
            }
            let min = match li.layer {
                MapLayer::District | MapLayer::Streets => 0.0,
                MapLayer::Roads if view.zoom < ROADS_DETAIL_FROM => px * SMALL_ROAD_PX,
                _ => min_size,
            };
            let mut hits: Vec<usize> = li
                .tree
                .locate_in_envelope_intersecting(&env)
                .map(|it| it.idx)
                .filter(|i| li.features[*i].size >= min)
                .collect();
            // Features are stored in code (id) order: keep answers stable.
            hits.sort_unstable();
            for i in hits {
                if out.features.len() >= MAX_FEATURES {
                    out.truncated = true;
                    return out;
                }
                let f = &li.features[i];
                out.features.push(ViewFeature {
                    layer: li.layer,
                    json: &f.json[level],
                    segment_id: f.segment_id.as_deref(),
                });
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::territory::{RoadSegment, StreetOffice, TerritoryLayers};
    use geo::{polygon, LineString};

    fn territory() -> Territory {
        let street = StreetOffice {
            code: "410103001".into(),
            name: "示例街道".into(),
            geometry: MultiPolygon(vec![polygon![
                (x: 113.60, y: 34.70), (x: 113.70, y: 34.70), (x: 113.70, y: 34.80),
                (x: 113.60, y: 34.80), (x: 113.60, y: 34.70)
            ]]),
            schematic: true,
        };
        let seg = |id: &str, name: &str, a: (f64, f64), b: (f64, f64)| RoadSegment {
            id: id.into(),
            road_name: name.into(),
            geometry: LineString::from(vec![a, b]),
            street_code: None,
            schematic: false,
        };
        Territory::new(TerritoryLayers {
            streets: vec![street],
            segments: vec![
                seg("a", "大学路", (113.65, 34.71), (113.65, 34.79)),
                seg("b", "陇海路", (113.61, 34.75), (113.69, 34.75)),
                seg("c", "小巷", (113.6101, 34.7101), (113.6102, 34.7101)),
            ],
            ..Default::default()
        })
        .expect("valid")
    }

    #[test]
    fn views_are_checked_and_name_the_field() {
        assert_eq!(
            ViewBox::new([1.0, 1.0, 2.0, 2.0], 23).unwrap_err().field(),
            "zoom"
        );
        for bad in [
            [2.0, 1.0, 1.0, 2.0],
            [1.0, 2.0, 2.0, 1.0],
            [-181.0, 1.0, 2.0, 2.0],
            [1.0, -91.0, 2.0, 2.0],
            [f64::NAN, 1.0, 2.0, 2.0],
        ] {
            assert_eq!(
                ViewBox::new(bad, 10).unwrap_err().field(),
                "bbox",
                "{bad:?}"
            );
        }
        // 4096 px at zoom 14 is about 0.35°.
        assert!(ViewBox::new([113.0, 34.0, 113.3, 34.3], 14).is_ok());
        let e = ViewBox::new([113.0, 34.0, 113.5, 34.3], 14).unwrap_err();
        assert!(e.to_string().contains("too large"), "{e}");
        assert!(ViewBox::parse_bbox("1,2,3").is_err());
        assert_eq!(
            ViewBox::parse_bbox("1, 2,3,4").unwrap(),
            [1.0, 2.0, 3.0, 4.0]
        );
    }

    #[test]
    fn layers_appear_by_zoom_and_small_features_wait_for_detail() {
        let m = MapLayers::new(&territory());
        let all = MapLayer::ALL;
        let far = m.query(&ViewBox::new([113.5, 34.6, 113.8, 34.9], 10).unwrap(), &all);
        assert!(far.features.iter().all(|f| f.layer == MapLayer::Streets));
        let mid = m.query(&ViewBox::new([113.6, 34.7, 113.7, 34.8], 13).unwrap(), &all);
        let roads: Vec<_> = mid.features.iter().filter_map(|f| f.segment_id).collect();
        assert_eq!(
            roads,
            ["a", "b"],
            "the 9 m lane is under a pixel at zoom 13"
        );
        let close = m.query(
            &ViewBox::new([113.6, 34.7, 113.62, 34.72], 17).unwrap(),
            &all,
        );
        let roads: Vec<_> = close.features.iter().filter_map(|f| f.segment_id).collect();
        assert_eq!(roads, ["c"]);
        let f: serde_json::Value = serde_json::from_str(close.features[1].json).unwrap();
        assert_eq!(f["properties"]["name"], "小巷");
        assert_eq!(f["geometry"]["type"], "LineString");
        let only = m.query(
            &ViewBox::new([113.6, 34.7, 113.7, 34.8], 13).unwrap(),
            &[MapLayer::Roads],
        );
        assert!(only.features.iter().all(|f| f.layer == MapLayer::Roads));
    }

    #[test]
    fn simplification_keeps_rings_closed_and_valid() {
        let wiggly: Vec<(f64, f64)> = (0..=400)
            .map(|i| {
                let a = f64::from(i) / 400.0 * std::f64::consts::TAU;
                (113.6 + 0.05 * a.cos(), 34.7 + 0.05 * a.sin())
            })
            .collect();
        let mp = MultiPolygon(vec![Polygon::new(LineString::from(wiggly), vec![])]);
        let s = simplify_area(&mp, degrees_per_pixel(10) * 0.5);
        let ring = &s.0[0].exterior().0;
        assert!(ring.len() >= 4 && ring.len() < 200, "{}", ring.len());
        assert_eq!(ring.first(), ring.last());
    }
}
